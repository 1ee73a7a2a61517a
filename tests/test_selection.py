"""The report's forecaster chosen by a recent backtest: log-score stacking and the choice itself."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from forecast.evaluation.selection import choose_forecaster, stacking_weights


def _score_table(log_scores: dict[str, np.ndarray]) -> pd.DataFrame:
    n = len(next(iter(log_scores.values())))
    rows = [
        pd.DataFrame({"model": m, "unit_id": "u", "cutoff": 0, "ds": np.arange(n), "step": 1, "log_score": v})
        for m, v in log_scores.items()
    ]
    return pd.concat(rows, ignore_index=True)


def test_stacking_recovers_the_mixture_the_outcomes_came_from():
    # Outcomes from 0.3 * Poisson(2) + 0.7 * Poisson(8): the stacking weights are the
    # mixture's, up to sampling error (sd about 0.005 with 20,000 outcomes; margin 0.03).
    rng = np.random.default_rng(11)
    n = 20_000
    y = np.where(rng.random(n) < 0.3, rng.poisson(2, n), rng.poisson(8, n))
    table = _score_table({"low": -stats.poisson.logpmf(y, 2), "high": -stats.poisson.logpmf(y, 8)})
    weights = stacking_weights(table)
    assert weights["low"] == pytest.approx(0.3, abs=0.03)
    assert weights["high"] == pytest.approx(0.7, abs=0.03)
    assert sum(weights.values()) == pytest.approx(1.0)


def test_stacking_gives_everything_to_a_model_that_is_always_more_likely():
    table = _score_table({"a": -np.log([0.5, 0.4, 0.6]), "b": -np.log([0.1, 0.1, 0.2])})
    weights = stacking_weights(table)
    assert weights["a"] > 0.999


def test_the_choice_favours_the_true_model_on_data_simulated_from_it():
    # Stationary Poisson rates per unit: hist_mean is the true model; last and zero are not.
    ds = pd.date_range("2018-01-01", periods=200, freq="W-MON")
    rng = np.random.default_rng(5)
    rates = rng.uniform(1, 6, 30)
    y = rng.poisson(np.repeat(rates, len(ds)))
    panel = pd.DataFrame({"unit_id": np.repeat([f"U{i:02d}" for i in range(30)], len(ds)), "ds": np.tile(ds, 30), "y": y})
    choice = choose_forecaster(panel, ["hist_mean", "last", "zero"], horizon=2, origins=6, n_draws=400, seed=3)
    assert choice.weights["hist_mean"] > 0.8, choice.table
    assert choice.weights["zero"] < 0.1
    assert choice.best_baseline == "hist_mean"
    assert "stacked ensemble" in choice.reason() and "hist_mean" in choice.reason()
    best = choose_forecaster(panel, ["hist_mean", "last"], horizon=2, origins=6, n_draws=400, seed=3, method="best")
    assert best.spec == "hist_mean" and best.weights == {"zero": 0.0, "hist_mean": 1.0, "last": 0.0}


def test_every_province_at_warning_gets_a_fan_that_keeps_its_recent_activity():
    # The default report (config/default.yaml) must not contradict its own alarms: each
    # province at warning or above gets a fan chart, and the reported forecaster's step-1
    # mean is at least half the province's mean of the last 4 periods. The predictive mean
    # of the stacked mixture is sum_m w_m mean_m, from the members' exact step-1 means
    # (no draw noise). Measured: ratios 0.56-0.62 for Kandahar, Kunduz, Parwan, Kabul.
    from forecast.alarms import WarningConfig, alert_table, evaluate_warnings
    from forecast.defaults import default_models
    from forecast.evaluation.selection import report_forecaster
    from forecast.models.registry import forecast_panel
    from forecast.report.notebook import open_report
    from forecast.report.tables import fan_chart_units, forecast_table
    from forecast.runner.params import load_config

    config = load_config("config/default.yaml").values
    report = open_report(
        config["source"], config["events_path"], country=config["country"], freq=config["freq"],
        as_of=config["as_of"], synthetic=config["synthetic"], show=False,
    )
    data = report.data
    result = evaluate_warnings(
        data.panel, data.last_day, config["stronghold"], WarningConfig.for_freq(config["freq"]), report.gazetteer
    )
    alerts = alert_table(result)
    warned = alerts.loc[alerts["level"].isin(["warning", "alert"]), "unit_id"].tolist()
    assert {"AF-PAR", "AF-KAB", "AF-KDZ", "AF-KAN"} <= set(warned)

    models = config["models"] or default_models(data.freq)  # null: the candidates of the frequency
    forecaster = report_forecaster(
        data.panel, models, config["horizon"], selection=config["selection"], seed=config["seed"],
        neighbours=data.neighbours, freq=data.freq,
    )
    assert forecaster.choice is not None and len(forecaster.choice.members) > 1
    forecasts = forecast_panel(
        data.panel, forecaster.models, config["horizon"], n_draws=200, seed=config["seed"],
        neighbours=data.neighbours, progress=False,
    )
    step1 = forecasts.summary().query("step == 1").pivot(index="unit_id", columns="model", values="mean")
    mixture = sum(weight * step1[model] for model, weight in forecaster.choice.members.items())
    recent = data.panel.pivot(index="ds", columns="unit_id", values="y").iloc[-4:].mean()
    ratio = mixture[warned] / recent[warned].where(recent[warned] > 0)
    assert (mixture[warned] >= 0.5 * recent[warned]).all(), ratio.round(2).to_dict()

    reported = forecasts.models[-1]
    charted = fan_chart_units(forecast_table(forecasts, reported, report.gazetteer), alerts, top=8)
    assert set(warned) <= set(charted)


def test_the_report_table_marks_baselines_and_puts_the_largest_weight_first():
    ds = pd.date_range("2019-01-07", periods=100, freq="W-MON")
    rng = np.random.default_rng(3)
    panel = pd.DataFrame({"unit_id": np.repeat(list("ABCD"), 100), "ds": np.tile(ds, 4), "y": rng.poisson(2, 400)})
    table = choose_forecaster(panel, ["hist_mean", "last", "glm_poisson"], horizon=2, n_draws=100).display_table()
    assert list(table.columns) == ["model", "kind", "weight", "crps", "log_score", "coverage90", "skill"]
    assert table["weight"].is_monotonic_decreasing and table["weight"].sum() == pytest.approx(1.0)
    assert dict(zip(table["model"], table["kind"], strict=True)) == {
        "hist_mean": "baseline", "last": "baseline", "zero": "baseline", "glm_poisson": ""}
