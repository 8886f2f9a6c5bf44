"""Demand forecasts and reorder advice: the published formulas by hand, model choice on series
with known generating processes, and the stock arithmetic a buyer relies on."""

from datetime import date
from functools import cache

import numpy as np
import pytest

from commerce.forecasting import (
    INTERMITTENT_MODELS,
    AlertLevel,
    DemandClass,
    DemandForecast,
    StockPosition,
    backtest,
    candidate_models,
    classify_demand,
    croston,
    forecast_demand,
    mase_scale,
    projected_stockout,
    reorder_advice,
    safety_stock,
    sba,
    tsb,
)

# --- synthetic series with known generating processes (fixed seeds) -----------------------
# Monthly-style series (season of 12) keep the statsmodels fits few and fast.
SEASON = 12
SEEDS = (0, 1, 2)


def trended(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(60)
    return np.maximum(20 + 3 * t + rng.normal(0, 4, t.size), 0)


def seasonal(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(60)
    return np.maximum(100 + 40 * np.sin(2 * np.pi * t / SEASON) + rng.normal(0, 5, t.size), 0)


def level(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).poisson(30, 60).astype(float)


def intermittent(seed: int) -> np.ndarray:
    # demand in 40 % of periods, sizes 1 + Poisson(5): ADI ≈ 2.5, CV² ≈ 0.14
    rng = np.random.default_rng(seed)
    return (rng.random(104) < 0.4) * (1 + rng.poisson(5, 104)).astype(float)


def lumpy(seed: int) -> np.ndarray:
    # demand in 30 % of periods, log-normal sizes (σ = 1.2, rounded up): ADI ≈ 3.3, CV² ≈ 1.5
    rng = np.random.default_rng(seed)
    return (rng.random(104) < 0.3) * np.ceil(rng.lognormal(1.5, 1.2, 104))


GENERATORS = {"trend": trended, "seasonal": seasonal, "level": level, "intermittent": intermittent, "lumpy": lumpy}


@cache
def chosen(kind: str, seed: int) -> DemandForecast:
    return forecast_demand(GENERATORS[kind](seed), season_length=SEASON, horizon=12)


# --- Croston, SBA and TSB against the formulas worked by hand -------------------------------

# periods:   1  2  3  4  5  6  7
DEMAND = [0, 3, 0, 0, 5, 0, 2]


def test_croston_by_hand():
    # alpha 0.2. First demand 3 in period 2: z = 3, p = 2.
    # period 5 (interval 3): z = 3 + 0.2·(5 - 3) = 3.4,    p = 2 + 0.2·(3 - 2) = 2.2
    # period 7 (interval 2): z = 3.4 + 0.2·(2 - 3.4) = 3.12, p = 2.2 + 0.2·(2 - 2.2) = 2.16
    assert croston(DEMAND, alpha=0.2) == pytest.approx(3.12 / 2.16)


def test_sba_removes_crostons_bias_by_one_minus_half_alpha():
    # Syntetos–Boylan (2005): Croston × (1 - 0.2 / 2) = 1.444… × 0.9 = 1.3
    assert sba(DEMAND, alpha=0.2) == pytest.approx(1.3)
    assert sba(DEMAND, alpha=0.1) == pytest.approx(croston(DEMAND, alpha=0.1) * 0.95)


def test_tsb_by_hand():
    # alpha 0.2 (size), beta 0.3 (probability). Period 2: z = 3, d = 1/2.
    # 3: d = 0.35   4: d = 0.245   5: d = 0.245 + 0.3·0.755 = 0.4715, z = 3.4
    # 6: d = 0.33005   7: d = 0.33005 + 0.3·0.66995 = 0.531035, z = 3.12
    assert tsb(DEMAND, alpha=0.2, beta=0.3) == pytest.approx(0.531035 * 3.12)


def test_tsb_decays_while_no_demand_comes_but_croston_does_not():
    quiet = [*DEMAND, 0, 0, 0, 0, 0]
    assert croston(quiet, alpha=0.2) == croston(DEMAND, alpha=0.2)
    assert tsb(quiet, alpha=0.2, beta=0.3) == pytest.approx(tsb(DEMAND, alpha=0.2, beta=0.3) * 0.7**5)


def test_intermittent_methods_forecast_nothing_without_demand():
    assert croston([0, 0, 0]) == sba([0, 0, 0]) == tsb([0, 0, 0]) == 0.0
    assert croston([0, 0, 4]) == pytest.approx(4 / 3)


# --- demand classes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("series", "expected", "adi", "cv2"),
    [
        ([5, 5, 5, 5], DemandClass.SMOOTH, 1.0, 0.0),
        ([1, 9, 1, 9], DemandClass.ERRATIC, 1.0, 0.64),  # mean 5, std 4
        ([0, 5, 0, 5, 0, 5], DemandClass.INTERMITTENT, 2.0, 0.0),
        ([0, 1, 0, 9, 0, 1, 0, 9], DemandClass.LUMPY, 2.0, 0.64),
    ],
)
def test_classify_demand_by_syntetos_boylan_cutoffs(series, expected, adi, cv2):
    profile = classify_demand(series)
    assert profile.demand_class is expected
    assert profile.adi == pytest.approx(adi)
    assert profile.cv2 == pytest.approx(cv2)


def test_no_demand_forecasts_zero_without_trying_models():
    forecast = forecast_demand([0, 0, 0, 0], horizon=3)
    assert forecast.profile.demand_class is DemandClass.NONE
    assert forecast.values == (0.0, 0.0, 0.0)
    assert not forecast.backtested


def test_intermittent_demand_tries_only_the_croston_family():
    assert candidate_models(intermittent(0), season_length=SEASON) == INTERMITTENT_MODELS
    smooth = candidate_models(seasonal(0), season_length=SEASON)
    assert not set(smooth) & set(INTERMITTENT_MODELS)
    assert "holt_winters" in smooth
    # a trend alone is not a season
    assert "holt_winters" not in candidate_models(trended(0), season_length=SEASON)


# --- model choice by rolling-origin backtest ------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_selector_picks_holt_damped_trend_on_a_trended_series(seed):
    assert chosen("trend", seed).model == "holt_damped"


@pytest.mark.parametrize("seed", SEEDS)
def test_selector_picks_a_seasonal_model_on_a_strongly_seasonal_series(seed):
    assert chosen("seasonal", seed).model in {"seasonal_naive", "holt_winters"}


@pytest.mark.parametrize("kind", ["intermittent", "lumpy"])
@pytest.mark.parametrize("seed", SEEDS)
def test_selector_picks_a_croston_family_model_on_intermittent_demand(kind, seed):
    forecast = chosen(kind, seed)
    assert forecast.profile.demand_class is DemandClass(kind)
    assert forecast.model in INTERMITTENT_MODELS


@pytest.mark.parametrize("kind", ["trend", "seasonal", "level"])
@pytest.mark.parametrize("seed", SEEDS)
def test_chosen_model_beats_the_seasonal_naive_scale(kind, seed):
    mase = chosen(kind, seed).mase
    assert mase is not None
    assert mase < 1


@pytest.mark.parametrize("kind", ["intermittent", "lumpy"])
def test_chosen_model_beats_the_seasonal_naive_scale_on_average_for_intermittent_demand(kind):
    # 24 test periods of intermittent demand make one series' MASE noisy; the class average is the figure.
    mases = [chosen(kind, seed).mase for seed in (*SEEDS, 3, 4, 5, 6, 7)]
    scored = [m for m in mases if m is not None]
    assert len(scored) == len(mases)
    assert float(np.mean(scored)) < 1


def test_backtest_scores_every_candidate_on_the_same_origins_best_first():
    scores = backtest(trended(0), models=["moving_average", "holt_damped"], season_length=SEASON, horizon=4)
    assert [s.model for s in scores] == ["holt_damped", "moving_average"]
    assert {s.origins for s in scores} == {6}
    assert scores[0].mase == pytest.approx(scores[0].mae / mase_scale(trended(0), season_length=SEASON))


def test_mase_scale_falls_back_to_naive_below_two_seasons():
    y = [1, 2, 3, 4, 5, 6]
    assert mase_scale(y, season_length=4) == pytest.approx(1.0)  # lag 1: every step changes by 1
    assert mase_scale([*y, 7, 8], season_length=4) == pytest.approx(4.0)  # lag 4 with two seasons


def test_short_history_still_gets_a_forecast_and_an_error_estimate():
    forecast = forecast_demand([4, 6, 5], horizon=2)
    assert not forecast.backtested
    assert forecast.model == "moving_average"
    assert forecast.values == pytest.approx((5.0, 5.0))
    assert forecast.sigma == pytest.approx(np.std([4, 6, 5]))


# --- safety stock, reorder point, stock-out and order quantity ------------------------------


def test_safety_stock_by_hand():
    # z(95 %) = 1.6449, σ = 10 per week, 4 weeks: 1.6449 · 10 · √4 = 32.90
    assert safety_stock(sigma=10, lead_time_periods=4, service_level=0.95) == pytest.approx(32.897, abs=1e-3)
    assert safety_stock(sigma=10, lead_time_periods=0, service_level=0.95) == 0


def test_safety_stock_grows_with_service_level_and_lead_time():
    by_level = [safety_stock(sigma=8, lead_time_periods=3, service_level=s) for s in (0.8, 0.9, 0.95, 0.99, 0.999)]
    by_lead_time = [safety_stock(sigma=8, lead_time_periods=lt, service_level=0.95) for lt in (0.5, 1, 2, 4, 8)]
    assert by_level == sorted(by_level)
    assert len(set(by_level)) == len(by_level)
    assert by_lead_time == sorted(by_lead_time)
    assert len(set(by_lead_time)) == len(by_lead_time)


def constant_forecast(rate: float = 10, sigma: float = 0) -> DemandForecast:
    profile = classify_demand([rate] * 20)
    return DemandForecast("moving_average", (float(rate),) * 12, sigma, profile, ())


def test_stockout_date_on_constant_demand():
    # given 10 a week forecast from a steady history, 80 on hand and 20 on order
    forecast = forecast_demand([10] * 20, horizon=12)
    assert forecast.values == pytest.approx((10.0,) * 12)
    assert forecast.sigma == 0
    stock = StockPosition(on_hand=80, on_order=20, lead_time_periods=3, service_level=0.95)

    # when
    advice = reorder_advice(forecast, stock, as_of=date(2025, 1, 6))

    # then 100 units last 10 weeks; the reorder point is 3 weeks of demand and nothing is due yet
    assert advice.stockout_date == date(2025, 3, 17)
    assert advice.reorder_point == pytest.approx(30)
    assert advice.alert is AlertLevel.OK
    assert advice.suggested_quantity == 0
    assert "runs out around 17 Mar 2025" in advice.reason


def test_stockout_beyond_the_horizon_carries_the_last_forecast_forward():
    # 12 weeks × 10 = 120, then 30 more at 10 a week: 15 weeks = 105 days
    assert projected_stockout((10.0,) * 12, stock=150, as_of=date(2025, 1, 1)) == date(2025, 4, 16)
    assert projected_stockout((2.5,), stock=5, as_of=date(2025, 1, 1), period_days=1) == date(2025, 1, 3)
    assert projected_stockout((0.0,) * 4, stock=5, as_of=date(2025, 1, 1)) is None
    assert projected_stockout((1.0,), stock=0, as_of=date(2025, 1, 1)) == date(2025, 1, 1)


def test_order_now_below_the_reorder_point_with_its_reason():
    # given 10 a week, σ 5, 4-week lead time, 95 %: safety stock 1.6449·5·2 = 16.4, reorder point 56.4
    stock = StockPosition(on_hand=30, on_order=10, lead_time_periods=4, service_level=0.95, min_order_quantity=25)

    # when
    advice = reorder_advice(constant_forecast(sigma=5), stock, as_of=date(2025, 1, 6))

    # then order up to 56.4 + one week (10) = 66.4 from 40: 27 units
    assert advice.alert is AlertLevel.ORDER_NOW
    assert advice.reorder_point == pytest.approx(56.45, abs=0.01)
    assert advice.suggested_quantity == 27
    assert advice.reason.startswith("Order now: 40 in stock (30 on hand + 10 on order)")
    assert "reorder point of 56" in advice.reason
    assert "over the lead time of 4 weeks" in advice.reason
    assert "95% service level" in advice.reason
    assert "Suggested order: 27 (minimum order 25)." in advice.reason


def test_reorder_soon_when_the_forecast_reaches_the_reorder_point_within_two_periods():
    stock = StockPosition(on_hand=45, on_order=0, lead_time_periods=3, service_level=0.9)
    advice = reorder_advice(constant_forecast(), stock, as_of=date(2025, 1, 6))
    assert advice.alert is AlertLevel.REORDER_SOON  # 45 - 2 weeks' 20 = 25 ≤ 30
    assert advice.reason.startswith("Reorder soon:")
    assert advice.suggested_quantity >= 1


@pytest.mark.parametrize("on_hand", [0, 10, 30, 45])
def test_suggested_order_respects_the_minimum_order_and_the_multiple(on_hand):
    stock = StockPosition(
        on_hand=on_hand, on_order=0, lead_time_periods=3, service_level=0.95, min_order_quantity=48, order_multiple=12
    )
    advice = reorder_advice(constant_forecast(sigma=4), stock, as_of=date(2025, 1, 6))
    assert advice.alert is not AlertLevel.OK
    assert advice.suggested_quantity >= 48
    assert advice.suggested_quantity % 12 == 0


# --- bad input ------------------------------------------------------------------------------


def test_empty_series_is_refused():
    with pytest.raises(ValueError, match="demand series is empty"):
        forecast_demand([])
    with pytest.raises(ValueError, match="demand series is empty"):
        classify_demand([])


@pytest.mark.parametrize(("series", "message"), [([3, -1, 2], "negative"), ([3, float("nan")], "missing")])
def test_impossible_demand_is_refused(series, message):
    with pytest.raises(ValueError, match=message):
        forecast_demand(series)


def test_negative_lead_time_is_refused():
    with pytest.raises(ValueError, match=r"lead time must not be negative \(got -1\)"):
        StockPosition(on_hand=10, on_order=0, lead_time_periods=-1, service_level=0.95)
    with pytest.raises(ValueError, match="lead time must not be negative"):
        safety_stock(sigma=1, lead_time_periods=-0.5, service_level=0.95)


@pytest.mark.parametrize("level", [0, 1, 1.5, -0.2])
def test_service_level_outside_zero_to_one_is_refused(level):
    with pytest.raises(ValueError, match="service level must be between 0 and 1, exclusive"):
        StockPosition(on_hand=10, on_order=0, lead_time_periods=2, service_level=level)
    with pytest.raises(ValueError, match="service level must be between 0 and 1, exclusive"):
        safety_stock(sigma=1, lead_time_periods=2, service_level=level)


def test_negative_minimum_order_is_refused():
    with pytest.raises(ValueError, match="minimum order quantity must not be negative"):
        StockPosition(on_hand=10, on_order=0, lead_time_periods=2, service_level=0.95, min_order_quantity=-5)
