"""Model specs by name, the forecast_panel loop, the ensemble, and the never-negative property."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecast.errors import ParameterError
from forecast.models import (
    Ensemble,
    HistoricalMean,
    ModelSpec,
    NegBinGLM,
    PanelData,
    available_models,
    forecast_panel,
    make_model,
    model_options,
    parse_model_list,
    weights_from_scores,
)
from forecast.models.ensemble import mixture_counts


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    y = rng.negative_binomial(2, 0.3, size=(3, 150))
    return PanelData.from_counts(y, units=["AF-KAB", "AF-NAN", "AF-KNR"], start="2018-01-01").to_frame()


# --------------------------------------------------------------- parsing
def test_spec_parsing_and_round_trip():
    spec = ModelSpec.parse("glm_negbin(trend=True, season=52, ar=2)")
    assert spec == ModelSpec("glm_negbin", {"trend": True, "season": 52, "ar": 2})
    assert ModelSpec.parse(str(spec)) == spec
    assert ModelSpec.parse("  zero ") == ModelSpec("zero", {})
    model = make_model(spec)
    assert isinstance(model, NegBinGLM) and (model.trend, model.season, model.ar) == (True, 52, 2)
    nested = make_model("ensemble(members=['zero', 'hist_mean(window=4)'], weights={'zero': 1, 'hist_mean': 3})")
    assert isinstance(nested, Ensemble) and nested.weights_ == {"zero": 0.25, "hist_mean": 0.75}


def test_unknown_model_lists_available_names():
    with pytest.raises(ParameterError, match="unknown model 'glm_nb'") as info:
        make_model("glm_nb(season=52)")
    for name in ("zero", "last", "hist_mean", "bootstrap", "seasonal_naive", "glm_poisson", "glm_negbin", "prophet", "ensemble"):
        assert name in str(info.value)
    assert set(available_models()) >= {"glm_negbin", "prophet", "ensemble"}


def test_unknown_option_lists_valid_options():
    with pytest.raises(ParameterError, match=r"no option 'sesaon'; valid options: trend, season, harmonics, ar"):
        make_model("glm_negbin(sesaon=52)")
    assert model_options("bootstrap") == {"window": 12, "alias": "bootstrap"}


@pytest.mark.parametrize(
    "text",
    [
        "glm_negbin(52)",  # positional
        "glm_negbin(season=__import__('os').getcwd())",  # not a literal: never evaluated
        "glm_negbin(**opts)",
        "glm_negbin(",
        "1 + 2",
        "",
        "zero(alias='')",
    ],
)
def test_malformed_specs_are_parameter_errors(text):
    with pytest.raises(ParameterError):
        make_model(text)


def test_model_list_splits_at_top_level_commas_only():
    text = "zero, ensemble(members=['last', 'hist_mean'], weights={'last': 1, 'hist_mean': 2}),glm_negbin(ar=2)"
    assert parse_model_list(text) == [
        "zero",
        "ensemble(members=['last', 'hist_mean'], weights={'last': 1, 'hist_mean': 2})",
        "glm_negbin(ar=2)",
    ]
    with pytest.raises(ParameterError):
        parse_model_list("zero,,last")


# ------------------------------------------------------------ the loop
def test_forecast_panel_stacks_models_in_long_format(panel, capsys):
    ff = forecast_panel(panel, "zero,last,bootstrap(window=6)", horizon=4, n_draws=250, seed=1, progress=False)
    assert ff.models == ["zero", "last", "bootstrap"]
    assert len(ff.index) == 3 * 3 * 4 and ff.n_draws == 250
    assert list(ff.index.columns[:4]) == ["unit_id", "ds", "step", "model"]
    assert ff.meta["horizon"] == 4 and ff.meta["freq"] == "W-MON"
    assert capsys.readouterr().err == ""  # progress=False: no bar


def test_forecast_panel_progress_bar_can_be_shown(panel, capsys):
    forecast_panel(panel, "zero", horizon=1, n_draws=10, progress=True)
    assert "fit zero" in capsys.readouterr().err


def test_as_of_truncates_before_forecasting(panel):
    as_of = "2019-06-30"  # a Sunday: the week starting 2019-06-24 is complete
    ff = forecast_panel(panel, "last", horizon=2, as_of=as_of, n_draws=50, progress=False)
    assert ff.index["ds"].min() == pd.Timestamp("2019-07-01")
    wide = panel.pivot(index="ds", columns="unit_id", values="y")
    expected = wide.loc["2019-06-24"].reindex(ff.index["unit_id"]).to_numpy(dtype=float)
    np.testing.assert_array_equal(ff.index["dist_mu"].to_numpy(), expected)
    with pytest.raises(ParameterError, match="as_of 2000-01-01 is before the data"):
        forecast_panel(panel, "last", horizon=2, as_of="2000-01-01", progress=False)


def test_duplicate_aliases_and_bad_arguments(panel):
    with pytest.raises(ParameterError, match="alias"):
        forecast_panel(panel, ["glm_negbin", "glm_negbin(ar=2)"], horizon=1, progress=False)
    ff = forecast_panel(panel, ["hist_mean", "hist_mean(window=8, alias='hist_mean8')"], 1, n_draws=20, progress=False)
    assert ff.models == ["hist_mean", "hist_mean8"]
    with pytest.raises(ParameterError, match="horizon"):
        forecast_panel(panel, "zero", horizon=0, progress=False)
    with pytest.raises(ParameterError, match="n_draws"):
        forecast_panel(panel, "zero", horizon=1, n_draws=0, progress=False)
    with pytest.raises(ParameterError, match="no models"):
        forecast_panel(panel, [], horizon=1, progress=False)


def test_forecasts_round_trip_through_parquet(panel, tmp_path):
    ff = forecast_panel(panel, "glm_negbin(ar=1),bootstrap", horizon=3, n_draws=100, progress=False)
    back = type(ff).read_parquet(ff.to_parquet(tmp_path / "forecasts.parquet"))
    np.testing.assert_array_equal(back.draws, ff.draws)
    np.testing.assert_allclose(back.mean(), ff.mean())


# ------------------------------------------------------------- ensemble
def test_ensemble_with_weight_one_and_zero_is_the_first_member(panel):
    alone = make_model("glm_negbin(ar=1)").fit(panel).predict(3, n_draws=400, seed=7)
    mixed = Ensemble(members=[make_model("glm_negbin(ar=1)"), make_model("zero")], weights={"glm_negbin": 1, "zero": 0})
    ff = mixed.fit(panel).predict(3, n_draws=400, seed=7)
    np.testing.assert_array_equal(np.sort(ff.draws, axis=1), np.sort(alone.draws, axis=1))
    assert ff.models == ["ensemble"]
    assert mixed.models_[1].__dict__.get("data_") is None  # a zero-weight member is not even fitted


def test_ensemble_mixes_in_proportion_to_weights(panel):
    ff = Ensemble(members=[make_model("zero"), make_model("last")], weights={"zero": 3, "last": 1}).fit(panel).predict(2, n_draws=1000)
    last = panel.groupby("unit_id")["y"].last()
    for row, unit in enumerate(ff.index["unit_id"]):
        if last[unit] >= 8:  # a Poisson(>=8) draw is almost never 0, so zeros come from `zero`
            assert abs((ff.draws[row] == 0).mean() - 0.75) < 0.01
    assert mixture_counts([1, 2, 3, 4], 1000).tolist() == [100, 200, 300, 400]
    assert mixture_counts([1, 1, 1], 100).sum() == 100


def test_ensemble_equal_weights_by_default_and_records_member_fallbacks():
    y = np.vstack([np.zeros(80, dtype=np.int64), np.random.default_rng(1).poisson(5, 80)])
    panel = PanelData.from_counts(y, units=["quiet", "busy"]).to_frame()
    ens = Ensemble(members=[make_model("glm_poisson"), make_model("bootstrap")])
    assert ens.weights_ == {"glm_poisson": 0.5, "bootstrap": 0.5}
    ff = ens.fit(panel).predict(2, n_draws=100)
    assert ff.index.loc[ff.index["unit_id"] == "quiet", "fallback"].iloc[0] == (
        "glm_poisson (weight 0.50): all zeros in fit window: used hist_mean(window=52)"
    )
    assert ff.index.loc[ff.index["unit_id"] == "busy", "fallback"].isna().all()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"members": []}, "members"),
        ({"members": ["zero", "zero"]}, "distinct aliases"),
        ({"members": ["zero", "last"], "weights": {"zero": 1}}, "missing"),
        ({"members": ["zero", "last"], "weights": {"zero": 1, "last": 1, "x": 1}}, "unknown"),
        ({"members": ["zero", "last"], "weights": {"zero": 0, "last": 0}}, "not all zero"),
        ({"members": ["zero", "last"], "weights": {"zero": -1, "last": 2}}, "non-negative"),
    ],
)
def test_ensemble_option_errors(options, message):
    with pytest.raises(ParameterError, match=message):
        Ensemble(**{**options, "members": [make_model(m) for m in options["members"]]})
    with pytest.raises(ParameterError, match=message):  # the same through the registry
        ModelSpec("ensemble", options).build()


def test_ensemble_members_must_be_models_not_names():
    with pytest.raises(ParameterError, match="ensemble members must be models"):
        Ensemble(members=["zero", "last"])


def test_weights_from_scores_favour_lower_scores():
    scores = pd.DataFrame({"model": ["a", "a", "b", "b"], "crps": [1.0, 1.0, 3.0, 1.0], "cutoff": [1, 2, 1, 2]})
    weights = weights_from_scores(scores)
    assert weights == pytest.approx({"a": 2 / 3, "b": 1 / 3})
    assert weights_from_scores({"a": 1.0, "b": 5.0}, power=0) == {"a": 0.5, "b": 0.5}
    ens = Ensemble(members=[make_model("zero"), make_model("last")], weights=weights_from_scores({"zero": 2.0, "last": 1.0}))
    assert ens.weights_["last"] == pytest.approx(2 / 3)


# ---------------------------------------------------- property: counts
COUNT_MODELS = ["zero", "last", "hist_mean", "bootstrap", "seasonal_naive(season=4)", "glm_negbin(season=4, harmonics=1)", "glm_poisson(ar=2, season=0)"]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    counts=st.lists(
        st.lists(st.integers(min_value=0, max_value=400), min_size=30, max_size=30),
        min_size=1,
        max_size=3,
    ),
    horizon=st.integers(min_value=1, max_value=6),
    seed=st.integers(min_value=0, max_value=2**31),
)
def test_forecasts_are_never_negative_or_nan(counts, horizon, seed):
    panel = PanelData.from_counts(np.array(counts)).to_frame()
    ff = forecast_panel(panel, COUNT_MODELS, horizon, n_draws=50, seed=seed, progress=False)
    assert ff.draws.dtype == np.int64 and ff.draws.min() >= 0
    summary = ff.summary()
    assert np.isfinite(summary[["mean", "q05", "q50", "q95", "p_ge_1"]].to_numpy()).all()
    assert (summary["mean"] >= 0).all()


def test_endemic_epidemic_by_name_with_given_neighbours():
    rng = np.random.default_rng(2)
    y = rng.poisson(3.0, size=(3, 120))
    panel = PanelData.from_counts(y, units=["A", "B", "C"]).to_frame()
    spec = "endemic_epidemic(trend=False, harmonics=0, family='poisson', alias='hhh4')"
    ff = forecast_panel(panel, [spec, "hist_mean"], 3, n_draws=200, progress=False,
                        neighbours={"A": ["B"], "B": ["A", "C"], "C": ["B"]})
    assert ff.models == ["hhh4", "hist_mean"]
    hhh4 = ff.select(ff.index["model"] == "hhh4")
    assert len(hhh4.index) == 9 and hhh4.draws.min() >= 0
    np.testing.assert_allclose(hhh4.mean().mean(), 3.0, rtol=0.25)
    with pytest.raises(ParameterError, match="weights"):
        make_model("endemic_epidemic(weights='inverse')")


def test_endemic_epidemic_auto_overdispersion_gives_busy_units_their_own_psi():
    # A busy unit (mean 20, NB size 2) beside two sparse ones (mean 0.5, NB size 0.25): "auto" gives
    # the busy one a psi of its own, the sparse ones share one, and the likelihood gains far more than
    # the one extra parameter buys by chance (twice the gain exceeds chi2(1)'s 10 with probability 0.002).
    rng = np.random.default_rng(4)
    busy = rng.negative_binomial(2.0, 2.0 / 22.0, 240)
    y = np.vstack([busy, rng.negative_binomial(0.25, 0.25 / 0.75, (2, 240))])
    panel = PanelData.from_counts(y, units=["A", "B", "C"]).to_frame()
    neighbours = {"A": ["B"], "B": ["A", "C"], "C": ["B"]}
    spec = "endemic_epidemic(trend=False, harmonics=0, overdispersion='auto', min_unit_events=200)"
    model = make_model(spec).fit(panel, neighbours=neighbours)
    psi = model.model_.fitted_.params.filter(like="overdisp")
    assert list(psi.index) == ["overdisp", "overdisp.A"]
    shared = make_model("endemic_epidemic(trend=False, harmonics=0)").fit(panel, neighbours=neighbours)
    assert model.model_.fitted_.loglik > shared.model_.fitted_.loglik + 5
    with pytest.raises(ParameterError, match="overdispersion"):
        make_model("endemic_epidemic(overdispersion='group')")


def test_make_model_accepts_instances():
    model = HistoricalMean(window=3)
    assert make_model(model) is model
    with pytest.raises(ParameterError):
        make_model(42)


# ------------------------------------------- the contract, for every registered model
@pytest.fixture(scope="module")
def contract_panel() -> pd.DataFrame:
    y = np.random.default_rng(11).negative_binomial(3, 0.4, size=(3, 120))
    return PanelData.from_counts(y, units=["A", "B", "C"], start="2019-01-07").to_frame()


@pytest.mark.parametrize("name", available_models())
def test_every_registered_model_keeps_the_forecast_contract(name, contract_panel):
    """Whatever is added to the registry is checked here without editing this test."""
    neighbours = {"A": ["B"], "B": ["A", "C"], "C": ["B"]}
    models = ["zero", "last", "ensemble"] if name == "ensemble" else [name]
    first = forecast_panel(contract_panel, models, 3, n_draws=50, seed=5, neighbours=neighbours, progress=False)
    again = forecast_panel(contract_panel, models, 3, n_draws=50, seed=5, neighbours=neighbours, progress=False)
    ff = first.select(first.index["model"] == name)
    assert len(ff.index) == 3 * 3 and ff.draws.shape == (9, 50)
    assert ff.draws.dtype == np.int64 and ff.draws.min() >= 0
    last = pd.Timestamp(contract_panel["ds"].max())
    assert sorted(ff.index["ds"].unique()) == list(pd.date_range(last, periods=4, freq="W-MON")[1:])
    assert sorted(ff.index["step"].unique()) == [1, 2, 3]
    np.testing.assert_array_equal(first.draws, again.draws)  # the seed decides the draws
    summary = ff.summary()
    assert np.isfinite(summary[["mean", "q05", "q50", "q95", "p_ge_1"]].to_numpy()).all()
    # A model's spec rebuilds the same model.
    model = make_model(name)
    assert make_model(model.spec()) == model


def test_forecast_panel_can_leave_out_a_failing_model_and_its_ensembles():
    """A scheduled report must not die because one candidate cannot fit the data."""
    from forecast.errors import ForecastError

    ds = pd.date_range("2021-01-04", periods=20, freq="W-MON")
    panel = pd.DataFrame({"unit_id": np.repeat(["AF-KAB", "AF-PAR"], 20), "ds": np.tile(ds, 2), "y": 0})
    models = ["hist_mean", "endemic_epidemic", "ensemble"]
    neighbours = {"AF-KAB": ["AF-PAR"], "AF-PAR": ["AF-KAB"]}
    with pytest.raises(ForecastError, match="nothing to fit"):
        forecast_panel(panel, models, 2, n_draws=20, progress=False, neighbours=neighbours)
    frame = forecast_panel(panel, models, 2, n_draws=20, progress=False, neighbours=neighbours, skip_failures=True)
    assert frame.models == ["hist_mean"]
    assert set(frame.meta["failures"]) == {"endemic_epidemic", "ensemble"}
    assert "nothing to fit" in frame.meta["failures"]["endemic_epidemic"]
    assert "endemic_epidemic" in frame.meta["failures"]["ensemble"]


def test_a_specs_alias_is_the_alias_of_the_model_it_builds():
    from forecast.models.registry import MODELS, ModelSpec

    for name in MODELS:
        if name != "ensemble":
            assert ModelSpec.parse(name).alias == make_model(name).alias, name
    spec = "hist_mean(window=4, alias='recent_mean')"
    assert ModelSpec.parse(spec).alias == make_model(spec).alias == "recent_mean"
