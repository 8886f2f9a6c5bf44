"""Intent classification: TF-IDF + logistic regression, or transparent keyword rules.

Training uses scikit-learn (imported only when training). The fitted model is stored as
JSON numbers in :class:`hitl_crm.ai.models.TrainedModel` and served with NumPy, so a
prediction costs well under a millisecond and no pickle is ever loaded.

Before the business has labelled any messages, :data:`RULES` decide. They are plain
keyword lists a person can read, and the output says ``"method": "rules"``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hitl_crm.ai.nlp.tfidf import Featurizer

PARAMS_FORMAT = 1

#: Cold-start rules: intent -> (category, keyword patterns). Order breaks ties.
RULES: dict[str, tuple[str, tuple[str, ...]]] = {
    "cancel_order": ("order", (r"cancel\w* (?:my |the |this )?order", r"don'?t want (?:the|my) order")),
    "change_order": ("order", (r"change (?:my |the )?order", r"add (?:an? )?item", r"remove (?:an? )?item")),
    "track_order": (
        "order",
        (
            r"where(?:'s| is) my (?:order|package|parcel)",
            r"track\w*",
            r"has(?:n'?t| not) (?:arrived|shipped)",
            r"\blate\b",
            r"still waiting",
            r"delivery status",
            r"not (?:yet )?(?:arrived|delivered)",
        ),
    ),
    "get_refund": ("refund", (r"refund", r"money back", r"reimburse")),
    "return_item": ("refund", (r"\breturn\w*", r"send (?:it|this) back", r"exchange")),
    "damaged_item": (
        "order",
        (r"broken", r"damaged", r"defective", r"cracked", r"doesn'?t work", r"stopped working", r"faulty"),
    ),
    "payment_issue": (
        "payment",
        (
            r"charged twice",
            r"double charged",
            r"payment (?:failed|declined|issue|problem)",
            r"card (?:was )?declined",
            r"overcharged",
            r"wrong amount",
        ),
    ),
    "check_invoice": ("invoice", (r"invoice", r"receipt", r"\bbill\b")),
    "change_shipping_address": ("shipping", (r"(?:change|update|wrong) (?:my |the )?(?:shipping |delivery )?address",)),
    "account_access": (
        "account",
        (r"password", r"log ?in", r"sign ?in", r"locked out", r"can'?t access", r"two.factor", r"2fa"),
    ),
    "cancel_subscription": (
        "account",
        (r"cancel\w* (?:my )?(?:subscription|membership|plan|account)", r"close my account", r"unsubscribe"),
    ),
    "complaint": ("feedback", (r"complain\w*", r"terrible", r"unacceptable", r"worst", r"disappoint\w*", r"rude")),
    "product_question": (
        "product",
        (
            r"does (?:it|the|this)",
            r"is (?:it|the|this) compatible",
            r"how (?:do|does) (?:i|it|the)",
            r"what size",
            r"in stock",
            r"available",
        ),
    ),
    "pricing": ("sales", (r"price", r"pricing", r"quote", r"how much", r"discount", r"cost")),
    "contact_human_agent": (
        "contact",
        (r"speak (?:to|with) (?:a |an )?(?:human|person|agent|manager)", r"real person"),
    ),
    "feedback": ("feedback", (r"thank you so much", r"love (?:it|the)", r"great (?:service|job)", r"review")),
}
_COMPILED = {
    intent: (category, [re.compile(p, re.IGNORECASE) for p in pats]) for intent, (category, pats) in RULES.items()
}
FALLBACK_INTENT = "other"


@dataclass(frozen=True)
class IntentPrediction:
    intent: str
    confidence: float
    category: str
    method: str  # "model" or "rules"
    model: str  # model label ("intent-v3") or "rules"
    alternatives: list[dict[str, Any]] = field(default_factory=list)
    matched: list[str] = field(default_factory=list)


def predict_with_rules(text: str) -> IntentPrediction:
    """Count keyword hits per intent; confidence is the winner's share of all hits, damped when hits are few."""
    hits: dict[str, list[str]] = {}
    for intent, (_category, patterns) in _COMPILED.items():
        found = [m.group(0) for p in patterns if (m := p.search(text))]
        if found:
            hits[intent] = found
    if not hits:
        return IntentPrediction(FALLBACK_INTENT, 0.2, "", "rules", "rules")
    order = list(RULES)
    ranked = sorted(hits, key=lambda intent: (-len(hits[intent]), order.index(intent)))
    total = sum(len(v) for v in hits.values())
    best = ranked[0]
    share = len(hits[best]) / total
    confidence = round(min(0.85, share * (1 - 0.5 ** (len(hits[best]) + 1))), 3)
    alternatives = [{"intent": i, "p": round(len(hits[i]) / total, 3)} for i in ranked[:3]]
    return IntentPrediction(best, confidence, RULES[best][0], "rules", "rules", alternatives, hits[best])


@dataclass
class IntentModel:
    """A fitted TF-IDF + multinomial logistic regression, evaluated with NumPy."""

    featurizer: Featurizer
    classes: list[str]
    coef: np.ndarray  # (n_classes, n_features)
    intercept: np.ndarray  # (n_classes,)
    categories: dict[str, str]
    label: str = "intent"

    def proba(self, text: str) -> np.ndarray:
        indices, values = self.featurizer.vector(text)
        logits = self.coef[:, indices] @ values + self.intercept
        logits -= logits.max()
        exp = np.exp(logits)
        return exp / exp.sum()

    def predict(self, text: str) -> IntentPrediction:
        probs = self.proba(text)
        order = np.argsort(-probs)[:3]
        best = self.classes[int(order[0])]
        alternatives = [{"intent": self.classes[int(i)], "p": round(float(probs[i]), 4)} for i in order]
        return IntentPrediction(
            best, round(float(probs[order[0]]), 4), self.categories.get(best, ""), "model", self.label, alternatives
        )

    def to_params(self) -> dict[str, Any]:
        return {
            "format": PARAMS_FORMAT,
            "featurizer": self.featurizer.to_params(),
            "classes": self.classes,
            "coef": [[round(float(x), 5) for x in row] for row in self.coef],
            "intercept": [round(float(x), 6) for x in self.intercept],
            "categories": self.categories,
        }

    @classmethod
    def from_params(cls, params: dict[str, Any], *, label: str = "intent") -> IntentModel:
        if params.get("format") != PARAMS_FORMAT:
            raise ValueError(f"Unsupported intent model format {params.get('format')!r}")
        return cls(
            Featurizer.from_params(params["featurizer"]),
            list(params["classes"]),
            np.asarray(params["coef"], dtype=np.float64),
            np.asarray(params["intercept"], dtype=np.float64),
            dict(params.get("categories") or {}),
            label,
        )


def fit_intent_model(
    texts: Sequence[str], labels: Sequence[str], *, categories: Sequence[str] | None = None, c: float = 10.0
) -> IntentModel:
    """Fit the featurizer and a multinomial logistic regression (L2, ``C=c``) on labelled texts."""
    from sklearn.linear_model import LogisticRegression

    if len(texts) != len(labels):
        raise ValueError("texts and labels differ in length")
    if len(set(labels)) < 2:
        raise ValueError("At least two different intents are needed to train a classifier.")
    featurizer = Featurizer.fit(texts)
    matrix = featurizer.matrix(texts)
    clf = LogisticRegression(C=c, max_iter=2000)
    clf.fit(matrix, list(labels))
    classes = [str(x) for x in clf.classes_]
    coef = np.asarray(clf.coef_, dtype=np.float64)
    intercept = np.asarray(clf.intercept_, dtype=np.float64)
    if len(classes) == 2 and coef.shape[0] == 1:
        # Binary LR keeps one row; softmax over [-z/2, z/2] equals the sigmoid of z.
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    category_of: dict[str, str] = {}
    if categories is not None:
        votes: dict[str, dict[str, int]] = {}
        for label, category in zip(labels, categories, strict=True):
            if category:
                votes.setdefault(label, {}).setdefault(category, 0)
                votes[label][category] += 1
        category_of = {label: max(counts, key=lambda k: counts[k]) for label, counts in votes.items()}
    return IntentModel(featurizer, classes, coef, intercept, category_of)
