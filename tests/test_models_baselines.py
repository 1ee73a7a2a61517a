"""Baselines: their exact properties, the panel checks every model relies on, seeding."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecast.errors import EmptyDataError, InputError, ModelError, ParameterError
from forecast.models import (
    Bootstrap,
    HistoricalMean,
    LastObserved,
    PanelData,
    SeasonalNaive,
    Zero,
    forecast_panel,
)


@pytest.fixture(scope="module")
def weekly_panel() -> pd.DataFrame:
    """Three units, 120 weeks, varied levels (one unit all zeros)."""
    rng = np.random.default_rng(11)
    y = np.vstack([rng.poisson(6.0, 120), rng.negative_binomial(2, 0.4, 120), np.zeros(120, dtype=int)])
    return PanelData.from_counts(y, units=["AF-KBL", "AF-NAN", "AF-BAM"]).to_frame()


def test_zero_model_has_all_draws_zero(weekly_panel):
    ff = Zero().fit(weekly_panel).predict(5, n_draws=300)
    assert ff.draws.shape == (15, 300)
    assert ff.draws.max() == 0
    assert np.all(ff.mean() == 0)
    assert np.all(ff.exceedance(1) == 0)


def test_last_observed_is_poisson_around_last_value(weekly_panel):
    data = PanelData.from_panel(weekly_panel)
    ff = LastObserved().fit(weekly_panel).predict(3, n_draws=20_000, seed=4)
    last = np.repeat(data.y[:, -1], 3).astype(float)
    np.testing.assert_array_equal(ff.index["dist_mu"].to_numpy(), last)
    assert (ff.index["family"] == "poisson").all()
    np.testing.assert_allclose(ff.draws.mean(axis=1), last, atol=0.1)
    np.testing.assert_allclose(ff.draws.var(axis=1), last, rtol=0.1, atol=0.1)


def test_seasonal_naive_mean_is_value_one_season_back():
    y = np.tile(np.arange(12) * 2, 4)[None, :]  # four identical years of monthly counts 0..22
    panel = PanelData.from_counts(y, start="2018-01-01", freq="MS").to_frame()
    model = SeasonalNaive().fit(panel)
    assert model.season_ == 12  # default from the monthly frequency
    ff = model.predict(15, n_draws=10_000, seed=2)
    expected = y[0, -12:][np.arange(15) % 12].astype(float)
    np.testing.assert_array_equal(ff.index["dist_mu"].to_numpy(), expected)
    np.testing.assert_allclose(ff.draws.mean(axis=1), expected, atol=0.15)


def test_seasonal_naive_weekly_default_and_short_series_fallback():
    short = PanelData.from_counts(np.array([[1, 2, 3, 4, 5]])).to_frame()
    model = SeasonalNaive().fit(short)
    assert model.season_ == 52
    ff = model.predict(2, n_draws=100)
    assert ff.index["fallback"].tolist() == ["only 5 periods, fewer than one season (52): used last"] * 2
    assert ff.index["dist_mu"].tolist() == [5.0, 5.0]


def test_bootstrap_draws_come_from_last_window(weekly_panel):
    data = PanelData.from_panel(weekly_panel)
    ff = Bootstrap(window=12).fit(weekly_panel).predict(4, n_draws=2000, seed=9)
    for row, unit in enumerate(data.units):
        pool = set(data.y[row, -12:].tolist())
        drawn = set(ff.draws[ff.index["unit_id"] == unit].ravel().tolist())
        assert drawn <= pool
        if len(pool) > 1:
            assert len(drawn) > 1
    assert "family" not in ff.index  # an empirical distribution: draws only


def test_hist_mean_fits_negative_binomial_by_moments(weekly_panel):
    data = PanelData.from_panel(weekly_panel)
    ff = HistoricalMean(window=52).fit(weekly_panel).predict(2, n_draws=50_000, seed=1)
    for row, unit in enumerate(data.units):
        window = data.y[row, -52:]
        rows = ff.index["unit_id"] == unit
        mean, var = window.mean(), window.var(ddof=1)
        np.testing.assert_allclose(ff.index.loc[rows, "dist_mu"], mean)
        if var > mean > 0:
            assert (ff.index.loc[rows, "family"] == "negbin").all()
            np.testing.assert_allclose(ff.index.loc[rows, "dist_size"], mean**2 / (var - mean))
            np.testing.assert_allclose(ff.draws[rows.to_numpy()].var(axis=1), var, rtol=0.08)
        else:
            assert (ff.index.loc[rows, "family"] == "poisson").all()
        np.testing.assert_allclose(ff.draws[rows.to_numpy()].mean(axis=1), mean, atol=0.05 * mean + 0.01)


def test_summary_reports_mean_quantiles_and_exceedance(weekly_panel):
    summary = forecast_panel(weekly_panel, "last", 2, n_draws=1000, progress=False).summary(
        levels=(0.05, 0.5, 0.95), exceed=(1, 5)
    )
    assert {"mean", "q05", "q50", "q95", "p_ge_1", "p_ge_5"} <= set(summary.columns)
    assert (summary["q05"] <= summary["q50"]).all() and (summary["q50"] <= summary["q95"]).all()
    assert (summary["p_ge_5"] <= summary["p_ge_1"]).all()


def test_draws_are_seeded_and_keyed_by_unit(weekly_panel):
    first = Bootstrap().fit(weekly_panel).predict(3, n_draws=50, seed=5)
    again = Bootstrap().fit(weekly_panel).predict(3, n_draws=50, seed=5)
    other = Bootstrap().fit(weekly_panel).predict(3, n_draws=50, seed=6)
    np.testing.assert_array_equal(first.draws, again.draws)
    assert not np.array_equal(first.draws, other.draws)
    # A unit's draws do not depend on which other units are in the panel.
    alone = Bootstrap().fit(weekly_panel[weekly_panel["unit_id"] == "AF-NAN"]).predict(3, n_draws=50, seed=5)
    np.testing.assert_array_equal(alone.draws, first.draws[first.index["unit_id"] == "AF-NAN"])


def test_forecast_dates_continue_the_panel(weekly_panel):
    ff = Zero().fit(weekly_panel).predict(3)
    last = pd.to_datetime(weekly_panel["ds"]).max()
    assert ff.index["ds"].iloc[:3].tolist() == [last + pd.Timedelta(weeks=k) for k in (1, 2, 3)]
    assert ff.index["step"].iloc[:3].tolist() == [1, 2, 3]


# ------------------------------------------------------------ bad input
def test_empty_panel_is_a_clear_error():
    empty = pd.DataFrame({"unit_id": pd.Series(dtype=str), "ds": pd.Series(dtype="datetime64[ns]"), "y": []})
    with pytest.raises(EmptyDataError, match="panel is empty"):
        forecast_panel(empty, "zero", 1, progress=False)


def test_one_period_panel_is_a_clear_error():
    one = pd.DataFrame({"unit_id": ["A", "B"], "ds": pd.to_datetime(["2021-10-04"] * 2), "y": [1, 0]})
    with pytest.raises(InputError, match="single period"):
        forecast_panel(one, "last", 1, progress=False)


def test_nan_counts_name_unit_and_date(weekly_panel):
    bad = weekly_panel.copy()
    bad["y"] = bad["y"].astype(float)
    bad.loc[130, "y"] = np.nan
    with pytest.raises(InputError, match=r"NaN.*'AF-NAN'.*fill with 0") as info:
        forecast_panel(bad, "zero", 1, progress=False)
    assert info.value.column == "y" and info.value.row == 131


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.assign(y=p["y"] - 50), "non-negative integers"),
        (lambda p: p.assign(y=p["y"] + 0.5), "non-negative integers"),
        (lambda p: p.drop(columns="y"), "lacks columns"),
        (lambda p: p.drop(index=[5]), "lacks 1 period"),
        (lambda p: pd.concat([p, p.iloc[[0]]]), "duplicate"),
        (lambda p: p[p["ds"] != p["ds"].unique()[3]], "not regular"),
    ],
)
def test_malformed_panels_raise_input_errors(weekly_panel, change, message):
    with pytest.raises(InputError, match=message):
        PanelData.from_panel(change(weekly_panel))


def test_two_periods_are_enough_to_know_the_frequency():
    two = PanelData.from_panel(PanelData.from_counts(np.array([[1, 2]]), start="2021-03-01", freq="MS").to_frame())
    assert two.freq == "MS"
    ff = LastObserved().fit(two.to_frame()).predict(1)
    assert ff.index["ds"].tolist() == [pd.Timestamp("2021-05-01")]


def test_predict_before_fit_and_bad_options():
    with pytest.raises(ModelError, match="before predict"):
        Zero().predict(1)
    with pytest.raises(ParameterError, match="window"):
        Bootstrap(window=0)
    with pytest.raises(ParameterError, match="horizon"):
        Zero().fit(PanelData.from_counts(np.array([[1, 2, 3]])).to_frame()).predict(0)
