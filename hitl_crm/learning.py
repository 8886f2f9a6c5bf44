"""Logistic regression stored as JSON: fit with scikit-learn, score and explain with numpy alone.

The apps' scores (lead conversion, churn, propensity) are all an L2-regularised logistic
regression over a design matrix the app builds from its own data. This module is the model
part they share; how rows become columns (one-hot, scaling, bins) stays with each app.

A fitted model is two things — the coefficients and the intercept — and is stored as JSON
(:meth:`LogisticModel.to_dict`), never as a pickle: loading a stored model runs no code, an admin
can read what it learned, and scikit-learn is needed only to fit::

    {"model_format": 1, "coef": [0.41, -1.2, …], "intercept": -0.73}

``model_format`` is the version of this layout. :meth:`LogisticModel.from_dict` reads documents
written without it (the first layout) and refuses a newer one rather than guess.

Explaining a score: the per-column terms ``coef · x`` plus the intercept add up exactly to the
logit, so the terms summed over the columns of one feature (its ``groups``) are that feature's
push on the log-odds (:meth:`LogisticModel.contributions`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

MODEL_FORMAT = 1
LOGIT_CLIP = 40.0


class ModelFormatError(ValueError):
    """A stored model this code cannot read (missing keys, wrong shapes, a newer format)."""


@dataclass(frozen=True)
class LogisticModel:
    """A fitted binary logistic regression: ``p = 1 / (1 + exp(-(x · coef + intercept)))``."""

    coef: tuple[float, ...]
    intercept: float

    @classmethod
    def fit(
        cls,
        x: np.ndarray,
        y: np.ndarray,
        *,
        c: float = 1.0,
        sample_weight: np.ndarray | None = None,
        max_iter: int = 5000,
    ) -> LogisticModel:
        """Fit scikit-learn's L2 ``LogisticRegression`` (``C=c``, lbfgs) on ``x``/``y``."""
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=c, max_iter=max_iter)
        model.fit(np.asarray(x, dtype=float), np.asarray(y), sample_weight=sample_weight)
        return cls(tuple(float(v) for v in model.coef_[0]), float(model.intercept_[0]))

    @property
    def width(self) -> int:
        """The number of columns the model expects."""
        return len(self.coef)

    def _coef(self) -> np.ndarray:
        return np.asarray(self.coef, dtype=float)

    def logit(self, x: np.ndarray) -> np.ndarray:
        """The log-odds of every row of ``x``."""
        return np.asarray(x, dtype=float) @ self._coef() + self.intercept

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """The probability of the positive class for every row of ``x``."""
        z = np.clip(self.logit(x), -LOGIT_CLIP, LOGIT_CLIP)
        return 1.0 / (1.0 + np.exp(-z))

    def contributions(self, x: np.ndarray, groups: Sequence[Sequence[int]] | None = None) -> np.ndarray:
        """Each row's push on the log-odds: per column, or summed over each group of columns.

        Without ``groups`` the result has one column per model column; with them, one per group
        (``groups[j]`` lists the columns of feature ``j``). Over a full partition of the columns,
        every row sums to ``logit − intercept``.
        """
        x = np.asarray(x, dtype=float)
        weighted = x * self._coef() if x.shape[1] else np.zeros((x.shape[0], 0))
        if groups is None:
            return weighted
        if not groups or x.shape[0] == 0:
            return np.zeros((x.shape[0], len(groups)))
        runs = _contiguous_runs(groups, self.width)
        if runs is None:
            return np.stack([weighted[:, list(g)].sum(axis=1) for g in groups], axis=1)
        starts, filled = runs
        out = np.zeros((x.shape[0], len(groups)))
        if filled.any():
            out[:, filled] = np.add.reduceat(weighted, starts[filled], axis=1)
        return out

    def to_dict(self) -> dict[str, Any]:
        """The JSON document to store (plain lists and floats)."""
        return {"model_format": MODEL_FORMAT, "coef": list(self.coef), "intercept": self.intercept}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LogisticModel:
        """A model from :meth:`to_dict`'s document (extra keys are the app's and are ignored)."""
        version = data.get("model_format", 1)
        if not isinstance(version, int) or version > MODEL_FORMAT:
            raise ModelFormatError(f"Model format {version!r} is newer than this code reads ({MODEL_FORMAT}).")
        try:
            coef = tuple(float(v) for v in data["coef"])
            intercept = float(data["intercept"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFormatError(f"Not a stored logistic model: {exc}") from None
        if not all(np.isfinite(coef)) or not np.isfinite(intercept):
            raise ModelFormatError("Not a stored logistic model: coefficients must be finite numbers.")
        return cls(coef, intercept)


def _contiguous_runs(groups: Sequence[Sequence[int]], width: int) -> tuple[np.ndarray, np.ndarray] | None:
    """When the groups cut ``0 … width-1`` into consecutive runs (some may be empty): each group's
    first column and whether it has any (so one ``reduceat`` sums them all)."""
    expected = 0
    starts, filled = [], []
    for group in groups:
        cols = list(group)
        if cols != list(range(expected, expected + len(cols))):
            return None
        starts.append(expected)
        filled.append(bool(cols))
        expected += len(cols)
    if expected != width:
        return None
    return np.asarray(starts, dtype=np.int64), np.asarray(filled, dtype=bool)


def roc_auc(y: np.ndarray, scores: np.ndarray) -> float | None:
    """ROC AUC of ``scores`` against the 0/1 labels ``y``; ``None`` when only one class is present."""
    if len(set(np.asarray(y).tolist())) < 2:
        return None
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, scores))


def stratified_split(y: np.ndarray, *, holdout: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices split into train and hold-out, per class (same seed, same rows)."""
    rng = np.random.default_rng(seed)
    y = np.asarray(y)
    train, test = [], []
    for label in (0, 1):
        idx = np.flatnonzero(y == label)
        rng.shuffle(idx)
        cut = int(round(len(idx) * holdout))
        cut = min(max(cut, 1), len(idx) - 1) if len(idx) > 1 else 0
        test.append(idx[:cut])
        train.append(idx[cut:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def choose_c(x: np.ndarray, y: np.ndarray, cs: Sequence[float], *, folds: int = 5, seed: int = 0) -> float:
    """The L2 strength among ``cs`` with the best mean cross-validated ROC AUC (ties: the stronger).

    Small data needs strong regularisation, large data little; the folds are stratified and
    never more than the smaller class has rows.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(y)
    k = max(2, min(folds, int(y.sum()), int(len(y) - y.sum())))
    splits = list(StratifiedKFold(k, shuffle=True, random_state=seed).split(x, y))
    best, best_auc = cs[0], -1.0
    for c in cs:
        aucs = []
        for train, test in splits:
            model = LogisticRegression(C=c, max_iter=5000).fit(x[train], y[train])
            aucs.append(roc_auc_score(y[test], model.decision_function(x[test])))
        if np.mean(aucs) > best_auc + 1e-4:
            best, best_auc = c, float(np.mean(aucs))
    return best
