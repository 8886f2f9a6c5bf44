"""Calibrated confidence: temperature scaling fitted on held-out data, and its measure (ECE).

A classifier's raw probabilities are rarely honest: a TF-IDF logistic regression trained with
little regularisation says 0.6 where it is right 95 % of the time, or 0.99 where it is right
80 % of the time. Policies compare confidences with thresholds ("auto-approve at 0.85"), so a
confidence must mean what it says: of the items given 0.85, about 85 % are right.

Temperature scaling (Guo et al., 2017) divides the logits by one number ``T`` fitted on
held-out data by minimising the negative log-likelihood. It never changes which class wins
(accuracy is untouched), only how sure the model says it is; one parameter cannot overfit a
few hundred held-out items the way per-bin methods can.

The API, for any skill that produces a confidence:

- :func:`expected_calibration_error` — ECE over equal-width bins (10 by default): the mean gap
  between confidence and accuracy, weighted by how many items fall in each bin;
- :func:`fit_temperature` / :func:`softmax` — multi-class: logits of held-out items and the
  index of their true class in, ``T`` out;
- :func:`fit_confidence_calibration` — when a skill has only one confidence per item (a draft,
  a summary) and knows afterwards whether it was right (approved unedited, say): Platt scaling,
  ``σ(logit(p) / T + bias)`` fitted by maximum likelihood, returned as a :class:`Calibration`
  whose :meth:`Calibration.apply` maps a raw confidence to a calibrated one;
- :func:`calibrate_on_holdout` — the honest report: ``T`` fitted on the whole held-out split
  for use, and the "after" ECE measured by cross-fitting (``T`` fitted on one half, measured on
  the other, and back) so the figure is not scored on the data it was fitted to.

:class:`Calibration` serialises to a small JSON dict, stored next to the model it belongs to.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

DEFAULT_BINS = 10
_LOG_T_RANGE = (math.log(0.02), math.log(50.0))
_EPS = 1e-12


def expected_calibration_error(
    confidences: Sequence[float] | np.ndarray, correct: Sequence[bool] | np.ndarray, *, bins: int = DEFAULT_BINS
) -> float:
    """ECE: Σ_b (n_b / n) · |accuracy_b − mean confidence_b| over ``bins`` equal-width bins of (0, 1].

    0 is perfectly calibrated; an empty input gives 0.
    """
    conf = np.asarray(confidences, dtype=np.float64)
    hit = np.asarray(correct, dtype=np.float64)
    if conf.shape != hit.shape:
        raise ValueError("confidences and correct differ in length")
    if conf.size == 0:
        return 0.0
    if bins < 1:
        raise ValueError("bins must be at least 1")
    # Bin b holds (b/bins, (b+1)/bins]; a confidence of exactly 0 goes to the first bin.
    which = np.clip(np.ceil(conf * bins).astype(int) - 1, 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        count = int(mask.sum())
        if count:
            total += count * abs(float(hit[mask].mean()) - float(conf[mask].mean()))
    return total / conf.size


def softmax(logits: Sequence[Sequence[float]] | np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature`` (a 1-D input is one row)."""
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    result: np.ndarray = e / e.sum(axis=-1, keepdims=True)
    return result


def _golden_min(fn: Any, low: float, high: float, *, iterations: int = 60) -> float:
    """Minimum of a unimodal function on [low, high] by golden-section search."""
    ratio = (math.sqrt(5) - 1) / 2
    a, b = low, high
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = fn(c), fn(d)
    for _ in range(iterations):
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = fn(c)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = fn(d)
    return (a + b) / 2


def fit_temperature(logits: Sequence[Sequence[float]] | np.ndarray, labels: Sequence[int] | np.ndarray) -> float:
    """The temperature ``T`` minimising the mean negative log-likelihood of ``labels`` under
    ``softmax(logits / T)`` (``labels[i]`` is the column of item ``i``'s true class).

    The NLL is convex in ``1/T``, so a golden-section search over ``log T`` in [0.02, 50] finds it.
    """
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels, dtype=int)
    if z.ndim != 2 or z.shape[0] != y.shape[0]:
        raise ValueError("logits must be (items × classes) with one label per item")
    if z.shape[0] == 0:
        return 1.0
    z = z - z.max(axis=1, keepdims=True)
    true = z[np.arange(len(y)), y]

    def nll(log_t: float) -> float:
        s = z / math.exp(log_t)
        return float(np.mean(np.log(np.exp(s).sum(axis=1)) - true / math.exp(log_t)))

    return math.exp(_golden_min(nll, *_LOG_T_RANGE))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    result: np.ndarray = np.log(p) - np.log1p(-p)
    return result


def _platt(confidences: np.ndarray, correct: np.ndarray) -> tuple[float, float]:
    """``(T, bias)`` of ``σ(logit(p) / T + bias)`` by damped Newton steps on the log-likelihood
    (a tiny ridge towards the identity keeps it finite when the outcomes are separable)."""
    z = _logit(confidences)
    y = correct.astype(np.float64)
    x = np.column_stack([z, np.ones_like(z)])
    prior = np.array([1.0, 0.0])
    ridge = 1e-3

    def loss(w: np.ndarray) -> float:
        s = x @ w
        return float(np.sum(np.logaddexp(0.0, s) - y * s) + 0.5 * ridge * np.sum((w - prior) ** 2))

    w = prior.copy()
    current = loss(w)
    for _ in range(100):
        p = 0.5 * (1.0 + np.tanh(0.5 * (x @ w)))  # σ without overflow
        gradient = x.T @ (p - y) + ridge * (w - prior)
        hessian = (x * (p * (1 - p))[:, None]).T @ x + ridge * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        size = 1.0
        while size > 1e-6 and loss(w - size * step) > current:
            size /= 2
        if size <= 1e-6:
            break
        w = w - size * step
        previous, current = current, loss(w)
        if previous - current < 1e-10:
            break
    slope = float(w[0]) if w[0] > 1e-3 else 1e-3  # a calibration never reverses the order
    return 1.0 / slope, float(w[1])


@dataclass(frozen=True)
class Calibration:
    """A fitted temperature, where it came from and what it achieved. ``method="none"`` is identity."""

    method: str = "none"  # "temperature" (multi-class logits), "platt" (one confidence) or "none"
    temperature: float = 1.0
    bias: float = 0.0  # "platt" only
    fitted_on: int = 0
    ece_before: float | None = None
    ece_after: float | None = None
    bins: int = DEFAULT_BINS

    @property
    def active(self) -> bool:
        return self.method != "none" and (self.temperature != 1.0 or self.bias != 0.0)

    def scale(self, logits: np.ndarray) -> np.ndarray:
        """Multi-class logits divided by the temperature (unchanged when identity)."""
        return logits / self.temperature if self.active else logits

    def apply(self, confidence: float) -> float:
        """A raw single confidence in [0, 1] → the calibrated one: ``σ(logit(p) / T + bias)``."""
        if not self.active:
            return float(confidence)
        z = float(_logit(np.asarray([confidence], dtype=np.float64))[0]) / self.temperature + self.bias
        return 1.0 / (1.0 + math.exp(-z))

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "temperature": self.temperature,
            "bias": self.bias,
            "fitted_on": self.fitted_on,
            "ece_before": self.ece_before,
            "ece_after": self.ece_after,
            "bins": self.bins,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Calibration:
        if not data:
            return IDENTITY
        method = str(data.get("method") or "none")
        if method not in {"temperature", "platt", "none"}:
            raise ValueError(f"Unknown calibration method {method!r}")
        temperature = float(data.get("temperature") or 1.0)
        if not (temperature > 0 and math.isfinite(temperature)):
            raise ValueError(f"Invalid temperature {temperature!r}")
        return cls(
            method,
            temperature,
            float(data.get("bias") or 0.0),
            int(data.get("fitted_on") or 0),
            None if data.get("ece_before") is None else float(data["ece_before"]),
            None if data.get("ece_after") is None else float(data["ece_after"]),
            int(data.get("bins") or DEFAULT_BINS),
        )


IDENTITY = Calibration()


def _halves(n: int, seed: int) -> tuple[list[int], list[int]]:
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return order[: n // 2], order[n // 2 :]


def calibrate_on_holdout(
    logits: Sequence[Sequence[float]] | np.ndarray,
    labels: Sequence[int] | np.ndarray,
    *,
    seed: int = 0,
    bins: int = DEFAULT_BINS,
) -> Calibration:
    """Temperature scaling of a multi-class model from its held-out logits, with an honest report.

    ``temperature`` is fitted on every held-out item (what is used at prediction time);
    ``ece_before`` is the ECE of the raw top-class confidence; ``ece_after`` is cross-fitted:
    each half of the held-out items is scored with the temperature fitted on the other half.
    """
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels, dtype=int)
    n = len(y)
    if n == 0:
        return IDENTITY
    raw = softmax(z)
    right = raw.argmax(axis=1) == y
    before = expected_calibration_error(raw.max(axis=1), right, bins=bins)
    temperature = fit_temperature(z, y)
    after_conf = np.empty(n)
    if n >= 4:
        a, b = _halves(n, seed)
        for fit_on, score_on in ((a, b), (b, a)):
            t = fit_temperature(z[fit_on], y[fit_on])
            after_conf[score_on] = softmax(z[score_on], t).max(axis=1)
    else:
        after_conf = softmax(z, temperature).max(axis=1)
    after = expected_calibration_error(after_conf, right, bins=bins)
    return Calibration("temperature", temperature, 0.0, n, round(before, 4), round(after, 4), bins)


def fit_confidence_calibration(
    confidences: Sequence[float] | np.ndarray,
    correct: Sequence[bool] | np.ndarray,
    *,
    seed: int = 0,
    bins: int = DEFAULT_BINS,
) -> Calibration:
    """Calibrate a skill that gives one confidence per item, from held-out outcomes.

    ``confidences[i]`` is what the skill said, ``correct[i]`` whether it turned out right (the
    draft was approved unedited, the label was kept …). Returns a :class:`Calibration`; call
    ``.apply(p)`` on new confidences and store ``.to_dict()`` with the skill's version. The
    report (``ece_before`` / cross-fitted ``ece_after``) is computed as in :func:`calibrate_on_holdout`.
    """
    conf = np.asarray(confidences, dtype=np.float64)
    hit = np.asarray(correct, dtype=bool)
    if conf.shape != hit.shape:
        raise ValueError("confidences and correct differ in length")
    n = conf.size
    if n == 0:
        return IDENTITY
    before = expected_calibration_error(conf, hit, bins=bins)

    def mapped(values: np.ndarray, t: float, bias: float) -> np.ndarray:
        result: np.ndarray = 1.0 / (1.0 + np.exp(-(_logit(values) / t + bias)))
        return result

    temperature, bias = _platt(conf, hit)
    after_conf = np.empty(n)
    if n >= 4:
        a, b = _halves(n, seed)
        for fit_on, score_on in ((a, b), (b, a)):
            after_conf[score_on] = mapped(conf[score_on], *_platt(conf[fit_on], hit[fit_on]))
    else:
        after_conf = mapped(conf, temperature, bias)
    after = expected_calibration_error(after_conf, hit, bins=bins)
    return Calibration("platt", temperature, bias, n, round(before, 4), round(after, 4), bins)


# --- one confidence per item: isotonic maps, reliability tables and cross-validated reports ------


@dataclass(frozen=True)
class IsotonicMap:
    """A monotone map from raw confidence to calibrated: linear between knots, flat outside them."""

    xs: tuple[float, ...]
    ys: tuple[float, ...]

    def apply(self, confidence: float) -> float:
        if not self.xs:
            return float(confidence)
        return float(np.interp(float(confidence), self.xs, self.ys))

    def to_dict(self) -> dict[str, Any]:
        return {"method": "isotonic", "xs": list(self.xs), "ys": list(self.ys)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IsotonicMap:
        xs = tuple(float(x) for x in data.get("xs") or [])
        ys = tuple(float(y) for y in data.get("ys") or [])
        if len(xs) != len(ys) or any(b < a for a, b in zip(xs, xs[1:], strict=False)):
            raise ValueError("An isotonic map needs as many ys as increasing xs.")
        if any(not 0.0 <= y <= 1.0 for y in ys) or any(b < a for a, b in zip(ys, ys[1:], strict=False)):
            raise ValueError("An isotonic map's ys must be probabilities in non-decreasing order.")
        return cls(xs, ys)


def _pool(blocks: list[list[float]]) -> list[list[float]]:
    """Pool-adjacent-violators over ``[Σ w·x, Σ w·y, Σ w]`` blocks in x order: merge neighbours
    until their means ``Σ w·y / Σ w`` never decrease."""
    pooled: list[list[float]] = []
    for block in blocks:
        pooled.append(list(block))
        while len(pooled) > 1 and pooled[-2][1] / pooled[-2][2] >= pooled[-1][1] / pooled[-1][2]:
            x, y, w = pooled.pop()
            pooled[-1][0] += x
            pooled[-1][1] += y
            pooled[-1][2] += w
    return pooled


def fit_isotonic(
    confidences: Sequence[float] | np.ndarray, correct: Sequence[bool] | np.ndarray, *, prior: float = 2.0
) -> IsotonicMap:
    """Isotonic regression of ``correct`` on ``confidences`` (pool-adjacent-violators).

    With few items a step held by one or two items says 0 or 1, so each pooled step's accuracy is
    shrunk towards the overall accuracy by ``prior`` pseudo-items, and the steps pooled again."""
    conf = np.asarray(confidences, dtype=np.float64)
    hit = np.asarray(correct, dtype=np.float64)
    if conf.size == 0:
        return IsotonicMap((), ())
    base = float(hit.mean())
    values = np.unique(conf)
    counts = [float((conf == v).sum()) for v in values]
    steps = _pool([[float(v) * c, float(hit[conf == v].sum()), c] for v, c in zip(values, counts, strict=True)])
    shrunk = _pool(
        [[x / w * (w + prior), y + prior * base, w + prior] for x, y, w in steps]  # x: the step's mean, re-weighted
    )
    return IsotonicMap(
        tuple(round(float(x / w), 6) for x, _, w in shrunk),
        tuple(round(min(1.0, max(0.0, float(y / w))), 6) for _, y, w in shrunk),
    )


def confidence_map(data: dict[str, Any] | None) -> Calibration | IsotonicMap:
    """A stored single-confidence map (``{"method": "isotonic", …}`` or a :class:`Calibration`
    dict) back as an object with ``.apply(p)``; nothing stored is the identity."""
    if data and data.get("method") == "isotonic":
        return IsotonicMap.from_dict(data)
    return Calibration.from_dict(data)


def reliability_table(
    confidences: Sequence[float] | np.ndarray, correct: Sequence[bool] | np.ndarray, *, bins: int = DEFAULT_BINS
) -> list[dict[str, Any]]:
    """Per equal-width bin of (0, 1] (the bins :func:`expected_calibration_error` uses): the bin's
    bounds, how many items fall in it, their mean confidence and their accuracy (None when empty)."""
    conf = np.asarray(confidences, dtype=np.float64)
    hit = np.asarray(correct, dtype=np.float64)
    which = np.clip(np.ceil(conf * bins).astype(int) - 1, 0, bins - 1) if conf.size else np.array([], dtype=int)
    rows = []
    for b in range(bins):
        mask = which == b
        count = int(mask.sum())
        rows.append(
            {
                "low": round(b / bins, 4),
                "high": round((b + 1) / bins, 4),
                "count": count,
                "confidence": round(float(conf[mask].mean()), 4) if count else None,
                "accuracy": round(float(hit[mask].mean()), 4) if count else None,
            }
        )
    return rows


def stratified_folds(correct: Sequence[bool] | np.ndarray, folds: int, seed: int) -> list[list[int]]:
    """``folds`` disjoint index lists, right and wrong items shuffled and dealt out separately so
    each fold holds about the same share of wrong items."""
    hit = np.asarray(correct, dtype=bool)
    result: list[list[int]] = [[] for _ in range(folds)]
    rng = random.Random(seed)
    dealt = 0
    for group in (np.flatnonzero(~hit).tolist(), np.flatnonzero(hit).tolist()):
        rng.shuffle(group)
        for index in group:
            result[dealt % folds].append(int(index))
            dealt += 1
    return result


def platt_map(confidences: Sequence[float] | np.ndarray, correct: Sequence[bool] | np.ndarray) -> Calibration:
    """Platt scaling (``σ(logit(p) / T + bias)``) fitted on every item, without a report."""
    conf = np.asarray(confidences, dtype=np.float64)
    if conf.size == 0:
        return IDENTITY
    temperature, bias = _platt(conf, np.asarray(correct, dtype=bool))
    return Calibration("platt", temperature, bias, int(conf.size))


@dataclass(frozen=True)
class CrossValidation:
    """ECE of a confidence before and after calibration, measured out of fold, over several seeds."""

    method: str
    folds: int
    seeds: tuple[int, ...]
    items: int
    ece_before: float
    ece_after: tuple[float, ...]  # one per seed
    out_of_fold: tuple[float, ...]  # the calibrated confidences of the first seed, in item order

    @property
    def after_mean(self) -> float:
        return float(np.mean(self.ece_after)) if self.ece_after else 0.0

    @property
    def after_sd(self) -> float:
        return float(np.std(self.ece_after, ddof=1)) if len(self.ece_after) > 1 else 0.0


def cross_validate_calibration(
    confidences: Sequence[float] | np.ndarray,
    correct: Sequence[bool] | np.ndarray,
    *,
    method: str = "platt",
    folds: int = 5,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    bins: int = DEFAULT_BINS,
    fixed: Sequence[bool] | np.ndarray | None = None,
) -> CrossValidation:
    """Stratified ``folds``-fold cross-validation of a calibration method (``"platt"`` or
    ``"isotonic"``): each item's calibrated confidence comes from a map fitted on the other folds,
    and the ECE of those out-of-fold confidences is computed once per seed.

    Items marked in ``fixed`` keep their raw confidence (a skill that does not calibrate them,
    such as a draft that answers nothing): they are left out of every fit but count in the ECE."""
    conf = np.asarray(confidences, dtype=np.float64)
    hit = np.asarray(correct, dtype=bool)
    keep = np.zeros(conf.shape, dtype=bool) if fixed is None else np.asarray(fixed, dtype=bool)
    if conf.shape != hit.shape or keep.shape != conf.shape:
        raise ValueError("confidences, correct and fixed differ in length")
    if method not in {"platt", "isotonic"}:
        raise ValueError(f"Unknown calibration method {method!r}")
    n = conf.size
    free = np.flatnonzero(~keep)
    folds = max(2, min(folds, free.size)) if free.size >= 2 else 1
    before = expected_calibration_error(conf, hit, bins=bins)
    afters: list[float] = []
    first: tuple[float, ...] = ()
    for seed in seeds:
        calibrated = conf.copy()
        if free.size >= 2:
            for fold in stratified_folds(hit[free], folds, seed):
                if not fold:
                    continue
                held = free[fold]
                train = np.setdiff1d(free, held)
                fitted: Calibration | IsotonicMap = (
                    platt_map(conf[train], hit[train]) if method == "platt" else fit_isotonic(conf[train], hit[train])
                )
                calibrated[held] = [fitted.apply(float(c)) for c in conf[held]]
        afters.append(round(expected_calibration_error(calibrated, hit, bins=bins), 4))
        if not first:
            first = tuple(round(float(c), 4) for c in calibrated)
    return CrossValidation(method, folds, tuple(seeds), n, round(before, 4), tuple(afters), first)
