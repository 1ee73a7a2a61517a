"""Prophet, made count-aware: non-negative integer draws, quiet, seeded, with fallbacks."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from forecast.errors import ParameterError
from forecast.models import PanelData, forecast_panel, make_model

pytest.importorskip("prophet")


@pytest.fixture(scope="module")
def small_panel():
    """Two seasonal weekly series over three years and one all-zero series."""
    rng = np.random.default_rng(4)
    t = np.arange(156)
    seasonal = rng.poisson(np.exp(1.0 + 0.6 * np.sin(2 * np.pi * t / 52)), size=(2, 156))
    y = np.vstack([seasonal, np.zeros(156, dtype=np.int64)])
    return PanelData.from_counts(y, units=["AF-NAN", "AF-KNR", "AF-BAM"], start="2019-01-07").to_frame()


def test_prophet_forecasts_are_non_negative_counts_and_quiet(small_panel, capfd, caplog):
    with caplog.at_level(logging.DEBUG):
        ff = forecast_panel(small_panel, "prophet", horizon=6, n_draws=200, seed=1, progress=False)
    assert ff.draws.shape == (18, 200)
    assert ff.draws.dtype == np.int64 and ff.draws.min() >= 0
    summary = ff.summary()
    assert np.isfinite(summary["mean"]).all()
    busy = summary[summary["unit_id"] != "AF-BAM"]
    assert busy["mean"].between(0.5, 8).all()  # the series average about 3 a week
    assert busy["fallback"].isna().all()
    assert summary.loc[summary["unit_id"] == "AF-BAM", "fallback"].eq("all zeros in fit window: used hist_mean").all()
    # cmdstanpy's "Chain [1] start processing" chatter is silenced.
    captured = capfd.readouterr()
    assert "cmdstanpy" not in captured.err + captured.out
    assert not [r for r in caplog.records if r.name.startswith(("cmdstanpy", "prophet"))]


def test_prophet_is_reproducible_with_a_seed(small_panel):
    one = small_panel[small_panel["unit_id"] == "AF-NAN"]
    first = make_model("prophet(transform='log1p')").fit(one).predict(3, n_draws=100, seed=5)
    again = make_model("prophet(transform='log1p')").fit(one).predict(3, n_draws=100, seed=5)
    np.testing.assert_array_equal(first.draws, again.draws)
    state = np.random.get_state()[1][:5].copy()  # noqa: NPY002 - prophet's legacy global RNG
    make_model("prophet").fit(one).predict(2, n_draws=50, seed=1)
    np.testing.assert_array_equal(np.random.get_state()[1][:5], state)  # noqa: NPY002 - left as it was


def test_prophet_options_are_checked():
    with pytest.raises(ParameterError, match="transform"):
        make_model("prophet(transform='boxcox')")
    with pytest.raises(ParameterError, match="changepoint_prior_scale"):
        make_model("prophet(changepoint_prior_scale=-1)")


@pytest.mark.slow
def test_prophet_fits_in_worker_processes_give_the_same_forecasts(small_panel):
    """workers=2 fits the series in two processes (forecast.parallel) and changes no draw."""
    serial = forecast_panel(small_panel, "prophet", 3, n_draws=200, seed=5, progress=False)
    parallel = forecast_panel(small_panel, "prophet(workers=2)", 3, n_draws=200, seed=5, progress=False)
    np.testing.assert_array_equal(serial.draws, parallel.draws)
    assert serial.index.equals(parallel.index)  # fallbacks included: the all-zero series
    with pytest.raises(ParameterError, match="workers"):
        make_model("prophet(workers=0)")
