"""A bare ``ensemble`` in a model list: the mixture of the other models, fitted once."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecast.errors import ParameterError
from forecast.models import (
    Ensemble,
    HistoricalMean,
    NegBinGLM,
    PanelData,
    forecast_panel,
    make_model,
)
from forecast.models.registry import expand_ensembles


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    y = np.random.default_rng(3).negative_binomial(2, 0.3, size=(3, 150))
    return PanelData.from_counts(y, units=["AF-KAB", "AF-NAN", "AF-KNR"], start="2018-01-01").to_frame()


@pytest.fixture(scope="module")
def forecasts(panel):
    return forecast_panel(panel, ["hist_mean", "glm_negbin", "ensemble"], 8, n_draws=1000, seed=4, progress=False)


def test_bare_ensemble_is_the_equal_weight_mixture_of_the_other_models(forecasts):
    assert forecasts.models == ["hist_mean", "glm_negbin", "ensemble"]
    frames = {m: forecasts.select(forecasts.index["model"] == m) for m in forecasts.models}
    ensemble, hist, glm = frames["ensemble"], frames["hist_mean"], frames["glm_negbin"]
    pd.testing.assert_frame_equal(
        ensemble.index[["unit_id", "ds", "step"]], hist.index[["unit_id", "ds", "step"]]
    )
    expected = (hist.mean() + glm.mean()) / 2
    # Monte-Carlo error of a 1,000-draw mean of the mixture, per row.
    standard_error = ensemble.draws.std(axis=1) / np.sqrt(ensemble.n_draws)
    assert np.all(np.abs(ensemble.mean() - expected) <= 4 * standard_error), (ensemble.mean() - expected)
    assert abs(ensemble.mean().mean() / expected.mean() - 1) < 0.02
    assert forecasts.meta["models"][-1] == "ensemble(members=['hist_mean', 'glm_negbin'])"


def test_bare_ensemble_draws_are_reproducible_and_equal_the_explicit_ensemble(panel, forecasts):
    again = forecast_panel(panel, ["hist_mean", "glm_negbin", "ensemble"], 8, n_draws=1000, seed=4, progress=False)
    np.testing.assert_array_equal(again.draws, forecasts.draws)
    other_seed = forecast_panel(panel, ["hist_mean", "glm_negbin", "ensemble"], 8, n_draws=1000, seed=5, progress=False)
    assert not np.array_equal(other_seed.draws, forecasts.draws)
    # Reusing the listed models' forecasts gives exactly what the ensemble on its own gives.
    alone = make_model("ensemble(members=['hist_mean', 'glm_negbin'])").fit(panel).predict(8, n_draws=1000, seed=4)
    mixed = forecasts.select(forecasts.index["model"] == "ensemble")
    np.testing.assert_array_equal(alone.draws, mixed.draws)


def test_members_are_fitted_and_forecast_once(panel, monkeypatch):
    calls: list[str] = []
    for cls in (HistoricalMean, NegBinGLM):
        for method in ("fit", "predict"):
            original = getattr(cls, method)

            def counted(self, *args, _original=original, _name=f"{cls.__name__}.{method}", **kwargs):
                calls.append(_name)
                return _original(self, *args, **kwargs)

            monkeypatch.setattr(cls, method, counted)
    models = ["hist_mean", "glm_negbin", "ensemble", "ensemble(members=['hist_mean', 'glm_negbin'], alias='explicit')"]
    ff = forecast_panel(panel, models, 2, n_draws=50, progress=False)
    assert ff.models == ["hist_mean", "glm_negbin", "ensemble", "explicit"]
    assert sorted(calls) == ["HistoricalMean.fit", "HistoricalMean.predict", "NegBinGLM.fit", "NegBinGLM.predict"]
    # A member that is not in the list (other options) is the ensemble's own and fitted by it.
    calls.clear()
    forecast_panel(panel, ["hist_mean", "ensemble(members=['hist_mean(window=8)', 'zero'])"], 2, n_draws=50, progress=False)
    assert sorted(calls) == ["HistoricalMean.fit", "HistoricalMean.fit", "HistoricalMean.predict", "HistoricalMean.predict"]


def test_bare_ensemble_takes_weights_and_skips_other_ensembles(panel):
    models = ["zero", "last", "ensemble(members=['zero', 'last'], alias='pair')", "ensemble(weights={'zero': 3, 'last': 1})"]
    expanded = expand_ensembles(models)
    assert str(expanded[-1]) == "ensemble(members=['zero', 'last'], weights={'zero': 3, 'last': 1})"
    assert expanded[:3] == models[:3]
    ff = forecast_panel(panel, models, 1, n_draws=1000, progress=False)
    weighted = ff.select(ff.index["model"] == "ensemble")
    last = panel.groupby("unit_id")["y"].last().reindex(weighted.index["unit_id"]).to_numpy()
    # P(Y = 0) = 3/4 (from `zero`) + 1/4 * P(Poisson(last) = 0).
    np.testing.assert_allclose((weighted.draws == 0).mean(axis=1), 0.75 + 0.25 * np.exp(-last), atol=0.02)
    # A bare ensemble object is expanded too, keeping its alias.
    objects = expand_ensembles([HistoricalMean(), Ensemble(alias="mix")])
    assert isinstance(objects[1], Ensemble) and objects[1].alias == "mix" and objects[1].models_[0] is objects[0]


@pytest.mark.parametrize(
    "models",
    [
        ["ensemble"],
        "ensemble",
        ["ensemble(members=['zero', 'last'], alias='pair')", "ensemble"],
    ],
)
def test_bare_ensemble_without_other_models_names_the_fix(panel, models):
    with pytest.raises(ParameterError, match=r"bare 'ensemble'.*\['hist_mean', 'glm_negbin', 'ensemble'\]"):
        forecast_panel(panel, models, 2, progress=False)


def test_bare_ensemble_on_its_own_cannot_be_fitted(panel):
    bare = make_model("ensemble")
    assert isinstance(bare, Ensemble) and bare.bare
    with pytest.raises(ParameterError, match=r"no members.*ensemble\(members="):
        bare.fit(panel)
    with pytest.raises(ParameterError, match="unknown \\['x'\\]"):
        forecast_panel(panel, ["zero", "last", "ensemble(weights={'zero': 1, 'x': 1})"], 1, progress=False)
    with pytest.raises(ParameterError, match="members must be a non-empty list"):
        Ensemble(members="zero")
