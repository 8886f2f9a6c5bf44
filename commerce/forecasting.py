"""Demand forecasts and reorder advice for one product: pure functions, no Django.

A product's demand is a series of per-period quantities (weekly by default), oldest first.

1. :func:`classify_demand` sorts the series into Syntetos–Boylan classes by ADI (periods per
   period with demand) and CV² (squared coefficient of variation of the non-zero sizes):
   smooth, erratic, intermittent or lumpy. The class decides which candidates are tried:
   level/trend/season models for smooth and erratic demand, the Croston family for the others.
2. :func:`backtest` scores candidates by rolling-origin evaluation (refit at each origin,
   forecast the next few periods, compare) and :func:`forecast_demand` keeps the one with the
   lowest MAE. MASE is reported against the seasonal naive forecast, or the naive one when the
   history is shorter than two seasons, so that "below 1" means "better than the obvious rule".
3. :func:`reorder_advice` turns the forecast and its backtest error into safety stock, a
   reorder point, a projected stock-out date, a suggested order quantity and an alert level with
   its reason in plain words.

Exponential smoothing (simple, Holt damped trend, Holt–Winters) comes from statsmodels. The
intermittent-demand methods are written here because no well-kept library offers them with a
stable API; they follow the published formulas:

- Croston (1972): smooth the non-zero sizes ``z`` and the intervals ``p`` between them, only in
  periods with demand; the forecast per period is ``z / p``.
- SBA, Syntetos & Boylan (2005): Croston's forecast times ``(1 - alpha / 2)``, which removes
  its upward bias.
- TSB, Teunter, Syntetos & Babai (2011): smooth the demand probability ``d`` in every period
  (towards 1 with demand, towards 0 without) and the size ``z`` only in periods with demand;
  the forecast is ``d * z``, so it decays while no demand comes (obsolescence).

All three start from the first period with demand: ``z`` is its size, and the interval (Croston,
SBA) is its 1-based position, whose reciprocal is TSB's starting probability.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.stats import norm
from statsmodels.tsa.holtwinters import ExponentialSmoothing

Series = Sequence[float] | npt.NDArray[Any]
Array = npt.NDArray[np.float64]

ADI_CUTOFF = 1.32
"""Syntetos–Boylan (2005) cut-off on the average inter-demand interval."""
CV2_CUTOFF = 0.49
"""Syntetos–Boylan (2005) cut-off on the squared coefficient of variation of demand sizes."""

MIN_TRAIN = 8
"""The shortest history a backtest origin is fitted on."""
MOVING_AVERAGE_WINDOW = 6
SEASONALITY_ACF = 0.3
"""Lag-m autocorrelation of the differenced series above which seasonal models are tried."""


class DemandClass(StrEnum):
    SMOOTH = "smooth"
    ERRATIC = "erratic"
    INTERMITTENT = "intermittent"
    LUMPY = "lumpy"
    NONE = "none"
    """No demand at all in the history."""


class AlertLevel(StrEnum):
    ORDER_NOW = "order now"
    REORDER_SOON = "reorder soon"
    OK = "ok"


@dataclass(frozen=True)
class DemandProfile:
    """How a demand series behaves: its Syntetos–Boylan class and the two figures behind it."""

    demand_class: DemandClass
    adi: float | None
    """Periods per period with demand (``None`` when there was no demand)."""
    cv2: float | None
    """Squared coefficient of variation of the non-zero demand sizes."""
    periods: int
    demand_periods: int


@dataclass(frozen=True)
class CandidateScore:
    """One candidate's rolling-origin backtest."""

    model: str
    mae: float
    mase: float | None
    """``None`` when the scale is zero (a constant history)."""
    rmse: float
    origins: int


@dataclass(frozen=True)
class DemandForecast:
    """The chosen model's forecast for the next ``len(values)`` periods and its error."""

    model: str
    values: tuple[float, ...]
    sigma: float
    """Root mean squared backtest error per period of the chosen model."""
    profile: DemandProfile
    scores: tuple[CandidateScore, ...]
    """Every candidate's backtest, best first; empty when the history was too short."""

    @property
    def label(self) -> str:
        return MODELS[self.model].label if self.model in MODELS else "no demand"

    @property
    def backtested(self) -> bool:
        return bool(self.scores)

    @property
    def mase(self) -> float | None:
        return self.scores[0].mase if self.scores else None

    def demand_between(self, start: float, end: float) -> float:
        """Expected demand from ``start`` to ``end`` periods ahead (fractions allowed).

        Beyond the forecast horizon the last forecast value is carried forward.
        """
        return _demand_between(self.values, start, end)


@dataclass(frozen=True)
class StockPosition:
    """A product's stock and replenishment terms, in the same units and periods as its demand."""

    on_hand: float
    """May be negative when there are back orders."""
    on_order: float
    lead_time_periods: float
    service_level: float
    """Target probability of not running out during a lead time, strictly between 0 and 1."""
    min_order_quantity: float = 0
    order_multiple: int = 1
    review_periods: float = 1
    """Periods of demand an order should cover beyond the lead time."""

    def __post_init__(self) -> None:
        _require_finite("on hand", self.on_hand)
        _require_finite("on order", self.on_order)
        _require_finite("lead time", self.lead_time_periods)
        _require_finite("service level", self.service_level)
        _require_finite("minimum order quantity", self.min_order_quantity)
        _require_finite("review period", self.review_periods)
        if self.on_order < 0:
            raise ValueError(f"on order must not be negative (got {self.on_order})")
        if self.lead_time_periods < 0:
            raise ValueError(f"lead time must not be negative (got {self.lead_time_periods})")
        if not 0 < self.service_level < 1:
            raise ValueError(f"service level must be between 0 and 1, exclusive (got {self.service_level})")
        if self.min_order_quantity < 0:
            raise ValueError(f"minimum order quantity must not be negative (got {self.min_order_quantity})")
        if self.order_multiple < 1:
            raise ValueError(f"order multiple must be at least 1 (got {self.order_multiple})")
        if self.review_periods <= 0:
            raise ValueError(f"review period must be positive (got {self.review_periods})")

    @property
    def position(self) -> float:
        """Inventory position: on hand plus on order."""
        return self.on_hand + self.on_order


@dataclass(frozen=True)
class ReorderAdvice:
    alert: AlertLevel
    reason: str
    safety_stock: float
    lead_time_demand: float
    reorder_point: float
    inventory_position: float
    stockout_date: date | None
    """When on hand plus on order runs out at the forecast rate; ``None`` if it never does."""
    suggested_quantity: int
    """What to order now (0 when the alert is "ok"); at least the minimum order otherwise."""


# --- input checks -------------------------------------------------------------------------


def _require_finite(name: str, value: float) -> None:
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number (got {value})")


def _as_series(series: Series) -> Array:
    y = np.asarray(series, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError(f"demand series must be one-dimensional (got shape {y.shape})")
    if y.size == 0:
        raise ValueError("demand series is empty: need at least one period of history")
    if not np.all(np.isfinite(y)):
        raise ValueError("demand series contains missing or infinite values")
    if np.any(y < 0):
        raise ValueError("demand series contains negative quantities")
    return y


def _check_horizon(horizon: int) -> None:
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1 period (got {horizon})")


# --- classification -----------------------------------------------------------------------


def classify_demand(series: Series) -> DemandProfile:
    """Syntetos–Boylan class of a demand series.

    ADI is the number of periods divided by the number of periods with demand; CV² is
    ``(std / mean)²`` of the non-zero sizes. Smooth: ADI < 1.32 and CV² < 0.49; erratic:
    ADI < 1.32, CV² ≥ 0.49; intermittent: ADI ≥ 1.32, CV² < 0.49; lumpy: both at or above.
    """
    y = _as_series(series)
    sizes = y[y > 0]
    if sizes.size == 0:
        return DemandProfile(DemandClass.NONE, None, None, int(y.size), 0)
    adi = y.size / sizes.size
    cv2 = float((sizes.std() / sizes.mean()) ** 2)
    if adi < ADI_CUTOFF:
        demand_class = DemandClass.SMOOTH if cv2 < CV2_CUTOFF else DemandClass.ERRATIC
    else:
        demand_class = DemandClass.INTERMITTENT if cv2 < CV2_CUTOFF else DemandClass.LUMPY
    return DemandProfile(demand_class, float(adi), cv2, int(y.size), int(sizes.size))


def has_seasonality(series: Series, season_length: int) -> bool:
    """Two full seasons and a lag-``season_length`` autocorrelation of the differenced series ≥ 0.3.

    Differencing first keeps a trend from passing for a season.
    """
    y = _as_series(series)
    if season_length < 2 or y.size < 2 * season_length + 1:
        return False
    d = np.diff(y)
    d = d - d.mean()
    denominator = float(np.dot(d, d))
    if denominator == 0:
        return False
    return float(np.dot(d[season_length:], d[:-season_length])) / denominator >= SEASONALITY_ACF


# --- intermittent-demand methods ----------------------------------------------------------


def _croston_state(y: Array, alpha: float) -> tuple[float, float] | None:
    positions = np.flatnonzero(y > 0)
    if positions.size == 0:
        return None
    size = float(y[positions[0]])
    interval = float(positions[0] + 1)
    for previous, current in zip(positions[:-1], positions[1:], strict=True):
        size += alpha * (float(y[current]) - size)
        interval += alpha * (float(current - previous) - interval)
    return size, interval


def _check_smoothing(name: str, value: float) -> None:
    if not 0 < value <= 1:
        raise ValueError(f"{name} must be in (0, 1] (got {value})")


def croston(series: Series, *, alpha: float = 0.1) -> float:
    """Croston's (1972) demand per period: smoothed size over smoothed interval (0 without demand)."""
    _check_smoothing("alpha", alpha)
    state = _croston_state(_as_series(series), alpha)
    return 0.0 if state is None else state[0] / state[1]


def sba(series: Series, *, alpha: float = 0.1) -> float:
    """Syntetos–Boylan approximation (2005): Croston's forecast times ``1 - alpha / 2``."""
    return croston(series, alpha=alpha) * (1 - alpha / 2)


def tsb(series: Series, *, alpha: float = 0.1, beta: float = 0.1) -> float:
    """Teunter–Syntetos–Babai (2011): smoothed demand probability times smoothed size.

    ``alpha`` smooths the size (in periods with demand), ``beta`` the probability (every period).
    """
    _check_smoothing("alpha", alpha)
    _check_smoothing("beta", beta)
    y = _as_series(series)
    positions = np.flatnonzero(y > 0)
    if positions.size == 0:
        return 0.0
    first = int(positions[0])
    size = float(y[first])
    probability = 1 / (first + 1)
    for value in y[first + 1 :]:
        if value > 0:
            probability += beta * (1 - probability)
            size += alpha * (float(value) - size)
        else:
            probability += beta * (0 - probability)
    return probability * size


# --- candidate models ---------------------------------------------------------------------

Forecaster = Callable[[Array, int, int], Array]


@dataclass(frozen=True)
class Model:
    name: str
    label: str
    forecast: Forecaster
    """``(history, horizon, season_length) -> horizon values``."""
    min_history: Callable[[int], int]
    """The shortest history it can be fitted on, given the season length."""


def _flat(value: float, horizon: int) -> Array:
    return np.full(horizon, value, dtype=np.float64)


def _seasonal_naive(y: Array, horizon: int, m: int) -> Array:
    last_season = y[-m:]
    return np.resize(last_season, horizon).astype(np.float64)


def _moving_average(y: Array, horizon: int, m: int) -> Array:
    return _flat(float(y[-MOVING_AVERAGE_WINDOW:].mean()), horizon)


def _exponential_smoothing(y: Array, horizon: int, **kwargs: Any) -> Array:
    if np.ptp(y) == 0:  # nothing to smooth; the optimiser only warns on a constant series
        return _flat(float(y[-1]), horizon)
    with warnings.catch_warnings():
        # Convergence and "initialisation" warnings on short histories: the backtest judges the fit.
        warnings.simplefilter("ignore")
        fitted = ExponentialSmoothing(y, **kwargs).fit(use_brute=False)
        return np.asarray(fitted.forecast(horizon), dtype=np.float64)


def _ses(y: Array, horizon: int, m: int) -> Array:
    return _exponential_smoothing(y, horizon, initialization_method="estimated")


def _holt_damped(y: Array, horizon: int, m: int) -> Array:
    return _exponential_smoothing(y, horizon, trend="add", damped_trend=True, initialization_method="estimated")


def _holt_winters(y: Array, horizon: int, m: int) -> Array:
    # Heuristic initial values: estimating m seasonal starting values as well is ~50× slower.
    return _exponential_smoothing(
        y,
        horizon,
        trend="add",
        damped_trend=True,
        seasonal="add",
        seasonal_periods=m,
        initialization_method="heuristic",
    )


def _croston(y: Array, horizon: int, m: int) -> Array:
    return _flat(croston(y), horizon)


def _sba(y: Array, horizon: int, m: int) -> Array:
    return _flat(sba(y), horizon)


def _tsb(y: Array, horizon: int, m: int) -> Array:
    return _flat(tsb(y), horizon)


MODELS: dict[str, Model] = {
    model.name: model
    for model in (
        Model("seasonal_naive", "seasonal naive", _seasonal_naive, lambda m: m),
        Model("moving_average", f"{MOVING_AVERAGE_WINDOW}-period moving average", _moving_average, lambda m: 1),
        Model("ses", "simple exponential smoothing", _ses, lambda m: 4),
        Model("holt_damped", "Holt damped trend", _holt_damped, lambda m: 6),
        Model("holt_winters", "Holt–Winters (damped trend, additive season)", _holt_winters, lambda m: 2 * m + 2),
        Model("croston", "Croston", _croston, lambda m: 1),
        Model("sba", "Syntetos–Boylan (SBA)", _sba, lambda m: 1),
        Model("tsb", "Teunter–Syntetos–Babai (TSB)", _tsb, lambda m: 1),
    )
}
"""Every candidate, by name, in order of preference when two score the same."""

INTERMITTENT_MODELS = ("croston", "sba", "tsb")


def candidate_models(series: Series, *, season_length: int) -> tuple[str, ...]:
    """The candidates worth trying for this series, chosen by its demand class.

    Intermittent and lumpy demand get the Croston family only: under MAE a level model that
    forecasts close to zero would win without forecasting anything useful. Smooth and erratic
    demand get the moving average, simple and Holt damped exponential smoothing, the seasonal naive
    forecast when there is a full season, and Holt–Winters when the series shows a season.
    """
    profile = classify_demand(series)
    if profile.demand_class is DemandClass.NONE:
        return ()
    if profile.demand_class in (DemandClass.INTERMITTENT, DemandClass.LUMPY):
        return INTERMITTENT_MODELS
    names = ["moving_average", "ses", "holt_damped"]
    if profile.periods >= season_length >= 2:
        names.insert(0, "seasonal_naive")
    if has_seasonality(series, season_length):
        names.append("holt_winters")
    return tuple(names)


# --- backtest -----------------------------------------------------------------------------


def mase_scale(series: Series, *, season_length: int) -> float:
    """In-sample MAE of the seasonal naive forecast (the naive one below two seasons of history)."""
    y = _as_series(series)
    lag = season_length if season_length >= 2 and y.size >= 2 * season_length else 1
    if y.size <= lag:
        return 0.0
    return float(np.abs(y[lag:] - y[:-lag]).mean())


def _origins(n: int, horizon: int, max_origins: int) -> list[int]:
    """Non-overlapping test windows of ``horizon`` periods ending at the last period, oldest first."""
    origins = [n - horizon * (k + 1) for k in range(max_origins)]
    return sorted(o for o in origins if o >= MIN_TRAIN)


def backtest(
    series: Series,
    *,
    models: Sequence[str],
    season_length: int = 52,
    horizon: int = 4,
    max_origins: int = 6,
) -> list[CandidateScore]:
    """Rolling-origin backtest: refit each model at each origin, forecast ``horizon`` periods.

    Origins are spaced ``horizon`` apart so that the test windows tile the most recent
    ``horizon × max_origins`` periods; each is fitted on at least ``MIN_TRAIN`` periods. A model
    that needs more history than the earliest origin offers is left out, so that every score
    covers the same periods. Returns the scores best (lowest MAE) first; empty when the history
    is too short for one origin.
    """
    y = _as_series(series)
    _check_horizon(horizon)
    if max_origins < 1:
        raise ValueError(f"max_origins must be at least 1 (got {max_origins})")
    unknown = [name for name in models if name not in MODELS]
    if unknown:
        raise ValueError(f"unknown forecast models: {', '.join(unknown)}")
    origins = _origins(y.size, horizon, max_origins)
    if not origins:
        return []
    scale = mase_scale(y, season_length=season_length)
    scores = []
    for name in models:
        model = MODELS[name]
        if origins[0] < model.min_history(season_length):
            continue
        errors = np.concatenate(
            [y[o : o + horizon] - np.maximum(model.forecast(y[:o], horizon, season_length), 0) for o in origins]
        )
        mae = float(np.abs(errors).mean())
        scores.append(
            CandidateScore(
                model=name,
                mae=mae,
                mase=mae / scale if scale > 0 else None,
                rmse=float(np.sqrt(np.mean(errors**2))),
                origins=len(origins),
            )
        )
    order = list(models)
    scores.sort(key=lambda score: (score.mae, order.index(score.model)))
    return scores


def forecast_demand(
    series: Series,
    *,
    horizon: int = 26,
    season_length: int = 52,
    backtest_horizon: int = 4,
    max_origins: int = 6,
) -> DemandForecast:
    """Forecast ``horizon`` periods with the candidate that backtests best on this series.

    ``sigma`` is the chosen model's backtest RMSE per period. When the history is too short for a
    backtest, the moving average (SBA for intermittent demand) is used and ``sigma`` is the
    standard deviation of the history, so that safety stock still reflects how demand varies.
    """
    y = _as_series(series)
    _check_horizon(horizon)
    if season_length < 1:
        raise ValueError(f"season length must be at least 1 period (got {season_length})")
    profile = classify_demand(y)
    names = candidate_models(y, season_length=season_length)
    if not names:
        return DemandForecast("none", (0.0,) * horizon, 0.0, profile, ())
    scores = backtest(y, models=names, season_length=season_length, horizon=backtest_horizon, max_origins=max_origins)
    if scores:
        model, sigma = scores[0].model, scores[0].rmse
    else:
        model = "sba" if "sba" in names else "moving_average"
        sigma = float(y.std())
    values = np.maximum(MODELS[model].forecast(y, horizon, season_length), 0)
    return DemandForecast(model, tuple(float(v) for v in values), sigma, profile, tuple(scores))


# --- stock --------------------------------------------------------------------------------


def _demand_between(values: Sequence[float], start: float, end: float) -> float:
    if not values or end <= start:
        return 0.0
    total = 0.0
    last = len(values)
    for index, value in enumerate(values):
        overlap = min(end, index + 1) - max(start, index)
        if overlap > 0:
            total += overlap * value
    if end > last:
        total += (end - max(start, last)) * values[-1]
    return total


def safety_stock(*, sigma: float, lead_time_periods: float, service_level: float) -> float:
    """``z · σ · √L``: the buffer that covers forecast error over the lead time at this service level.

    ``z`` is the standard normal quantile of the service level; errors are taken as independent
    from period to period. Never negative (a service level below 50 % needs no buffer).
    """
    _require_finite("forecast error", sigma)
    if sigma < 0:
        raise ValueError(f"forecast error must not be negative (got {sigma})")
    if lead_time_periods < 0:
        raise ValueError(f"lead time must not be negative (got {lead_time_periods})")
    if not 0 < service_level < 1:
        raise ValueError(f"service level must be between 0 and 1, exclusive (got {service_level})")
    return max(0.0, float(norm.ppf(service_level)) * sigma * math.sqrt(lead_time_periods))


def projected_stockout(values: Sequence[float], *, stock: float, as_of: date, period_days: int = 7) -> date | None:
    """The day ``stock`` runs out at the forecast rate (the last value carried forward); else ``None``.

    Within a period demand is taken as even; the day is rounded down, so the warning is early
    rather than late.
    """
    if period_days < 1:
        raise ValueError(f"period length must be at least 1 day (got {period_days})")
    if stock <= 0:
        return as_of
    remaining = stock
    periods = 0.0
    for value in values:
        if value >= remaining:
            periods += remaining / value
            return as_of + timedelta(days=math.floor(periods * period_days))
        remaining -= value
        periods += 1
    if not values or values[-1] <= 0:
        return None
    periods += remaining / values[-1]
    return as_of + timedelta(days=math.floor(periods * period_days))


def _round_up(quantity: float, multiple: int) -> int:
    return int(math.ceil(quantity / multiple - 1e-9) * multiple)


def _fmt(quantity: float) -> str:
    if abs(quantity) >= 10 or quantity == round(quantity):
        return f"{round(quantity):,}"
    return f"{quantity:.1f}"


def _periods(count: float, name: str) -> str:
    return f"{_fmt(count)} {name}" if count == 1 else f"{_fmt(count)} {name}s"


def reorder_advice(
    forecast: DemandForecast,
    stock: StockPosition,
    *,
    as_of: date,
    period_days: int = 7,
    period_name: str = "week",
    soon_periods: float = 2,
) -> ReorderAdvice:
    """Safety stock, reorder point, stock-out date, order quantity and the alert for one product.

    - reorder point = expected demand over the lead time + safety stock;
    - "order now" when the inventory position (on hand + on order) is at or below it;
      "reorder soon" when the forecast takes it there within ``soon_periods``; else "ok";
    - an order brings the position up to the reorder point plus the demand of the review period
      after the lead time, and is at least the minimum order, in whole order multiples.
    """
    if soon_periods < 0:
        raise ValueError(f"soon_periods must not be negative (got {soon_periods})")
    lead_time = stock.lead_time_periods
    buffer = safety_stock(sigma=forecast.sigma, lead_time_periods=lead_time, service_level=stock.service_level)
    lead_time_demand = forecast.demand_between(0, lead_time)
    reorder_point = lead_time_demand + buffer
    position = stock.position
    stockout = projected_stockout(forecast.values, stock=position, as_of=as_of, period_days=period_days)

    if position <= reorder_point:
        alert = AlertLevel.ORDER_NOW
    elif position - forecast.demand_between(0, soon_periods) <= reorder_point:
        alert = AlertLevel.REORDER_SOON
    else:
        alert = AlertLevel.OK

    quantity = 0
    if alert is not AlertLevel.OK:
        order_up_to = reorder_point + forecast.demand_between(lead_time, lead_time + stock.review_periods)
        needed = max(order_up_to - position, stock.min_order_quantity, 1)
        quantity = _round_up(needed, stock.order_multiple)

    in_stock = f"{_fmt(position)} in stock ({_fmt(stock.on_hand)} on hand + {_fmt(stock.on_order)} on order)"
    rop = (
        f"the reorder point of {_fmt(reorder_point)}: {_fmt(lead_time_demand)} expected over the lead time "
        f"of {_periods(lead_time, period_name)} plus {_fmt(buffer)} safety stock "
        f"for a {stock.service_level:.0%} service level"
    )
    rate = forecast.demand_between(0, 1)
    basis = f"Forecast by {forecast.label}: about {_fmt(rate)} a {period_name}."
    runs_out = (
        f"At that rate it runs out around {stockout.day} {stockout:%b %Y}."
        if stockout is not None
        else "At that rate it does not run out."
    )
    if alert is AlertLevel.ORDER_NOW:
        head = f"Order now: {in_stock} is at or below {rop}."
    elif alert is AlertLevel.REORDER_SOON:
        head = f"Reorder soon: {in_stock} falls to {rop}, within {_periods(soon_periods, period_name)}."
    else:
        head = f"OK: {in_stock} is above {rop}."
    parts = [head, basis, runs_out]
    if quantity:
        minimum = f" (minimum order {_fmt(stock.min_order_quantity)})" if stock.min_order_quantity else ""
        parts.append(f"Suggested order: {quantity:,}{minimum}.")
    return ReorderAdvice(
        alert=alert,
        reason=" ".join(parts),
        safety_stock=buffer,
        lead_time_demand=lead_time_demand,
        reorder_point=reorder_point,
        inventory_position=position,
        stockout_date=stockout,
        suggested_quantity=quantity,
    )
