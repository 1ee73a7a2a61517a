"""Rolling-origin backtest and its scores (forecast.evaluation.backtest)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
import scoringrules as sr
from scipy import stats

from forecast.distributions import draw_counts
from forecast.errors import InputError, ModelError, ParameterError
from forecast.evaluation.backtest import (
    LOG_SCORE_FLOOR,
    backtest,
    ensemble_weights,
    rolling_origins,
    score_forecasts,
    skill_scores,
    with_baselines,
)
from forecast.models.frame import ForecastFrame
from forecast.models.registry import make_model

BASELINES = ["zero", "last", "hist_mean", "bootstrap", "seasonal_naive"]
DAY = pd.Timestamp("2021-01-04")


def one_row(draws, y, **extra) -> pd.Series:
    """Score a single forecast row with the given draws against outcome ``y``."""
    ff = ForecastFrame.from_draws(
        ["A"], [DAY], [1], np.atleast_2d(draws), model="m", **{k: [v] for k, v in extra.items()}
    )
    observed = pd.DataFrame({"unit_id": ["A"], "ds": [DAY], "y": [y]})
    return score_forecasts(ff, observed, seed=1).iloc[0]


# --------------------------------------------------------------- scoring
def test_sample_scores_equal_scoringrules_and_hand_values():
    draws = np.array([0, 1, 2, 3])
    row = one_row(draws, 2)
    # CRPS of the fair estimator by hand: E|X - 2| = 1, E|X - X'| over distinct pairs = 20 / 12.
    assert row["crps"] == pytest.approx(1 - 0.5 * 20 / 12)
    assert row["crps"] == pytest.approx(float(sr.crps_ensemble(2.0, draws.astype(float), estimator="fair")))
    assert row["log_score"] == pytest.approx(-np.log(0.25))
    assert (row["q05"], row["q50"], row["q95"]) == (0.0, 1.0, 3.0)
    assert row["ae_median"] == 1.0
    assert 0.5 <= row["pit"] <= 0.75  # U(F(1), F(2)) = U(0.5, 0.75)
    assert not row["exact"]

    outside = one_row(draws, 5)
    # 90 % interval [0, 3], y = 5 above it: width 3 + (2 / 0.1) * 2.
    assert outside["is90"] == pytest.approx(3 + 20 * 2)
    assert outside["is90"] == pytest.approx(float(sr.interval_score(5.0, 0.0, 3.0, 0.1)))
    assert not outside["covered90"] and outside["pit"] == 1.0
    assert outside["log_score"] == pytest.approx(-np.log(LOG_SCORE_FLOOR))


def test_exact_rows_use_closed_forms():
    draws = np.zeros((1, 10))  # deliberately wrong draws: exact rows must not use them
    poisson = one_row(draws, 0, family="poisson", dist_mu=1.5, dist_size=np.nan)
    assert poisson["exact"]
    assert poisson["crps"] == pytest.approx(float(sr.crps_poisson(0.0, 1.5)))
    assert poisson["log_score"] == pytest.approx(1.5)  # -log(e^-1.5)
    assert poisson["pit"] <= np.exp(-1.5)
    assert poisson["q95"] == stats.poisson.ppf(0.95, 1.5)

    negbin = one_row(draws, 4, family="negbin", dist_mu=3.0, dist_size=2.0)
    assert negbin["crps"] == pytest.approx(float(sr.crps_negbinom(4.0, 2.0, mu=3.0)))
    assert negbin["log_score"] == pytest.approx(float(sr.logs_negbinom(4.0, 2.0, mu=3.0)))
    dist = stats.nbinom(2.0, 2.0 / 5.0)
    assert dist.cdf(3) <= negbin["pit"] <= dist.cdf(4)
    assert negbin["mean"] == 3.0


def test_negbin_log_score_is_right_for_sizes_below_one():
    # scoringrules 0.10's logs_negbinom returns inf here; the backtest must not.
    row = one_row(np.zeros((1, 5)), 1, family="negbin", dist_mu=1.0, dist_size=0.1)
    assert row["log_score"] == pytest.approx(-stats.nbinom.logpmf(1, 0.1, 0.1 / 1.1))


def test_exact_crps_falls_back_to_draws_where_the_closed_form_overflows():
    draws = np.random.default_rng(0).poisson(400, size=(1, 2000))
    row = one_row(draws, 420, family="poisson", dist_mu=400.0, dist_size=np.nan)
    k = np.arange(0, 1000)
    numeric = np.sum((stats.poisson.cdf(k, 400) - (k >= 420)) ** 2)
    assert np.isfinite(row["crps"]) and row["crps"] == pytest.approx(numeric, rel=0.1)
    assert row["log_score"] == pytest.approx(-stats.poisson.logpmf(420, 400))


def test_zero_forecast_gets_a_finite_log_score():
    row = one_row(np.zeros((1, 4)), 3, family="poisson", dist_mu=0.0, dist_size=np.nan)
    assert row["crps"] == 3.0
    assert row["log_score"] == pytest.approx(-np.log(LOG_SCORE_FLOOR))


def test_rows_without_outcome_are_left_out():
    ff = ForecastFrame.from_draws(["A", "A"], [DAY, DAY + pd.Timedelta(days=7)], [1, 2],
                                  np.ones((2, 3)), model="m")
    observed = pd.DataFrame({"unit_id": ["A"], "ds": [DAY], "y": [1]})
    assert score_forecasts(ff, observed)["step"].tolist() == [1]


# ------------------------------------------------------------- a known truth
@dataclass
class TrueModel:
    """Oracle forecaster: the exact predictive distribution of the simulated process."""

    mu: pd.DataFrame  # unit_id, ds, mu
    size: float
    alias: str = "truth"

    def fit(self, panel: pd.DataFrame, freq: str | None = None) -> TrueModel:
        self.last_ds_ = pd.to_datetime(panel["ds"]).max()
        self.units_ = sorted(panel["unit_id"].unique())
        self.freq_ = freq
        return self

    def predict(self, h: int, n_draws: int = 1000, seed: int = 0) -> ForecastFrame:
        future = pd.date_range(self.last_ds_, periods=h + 1, freq=self.freq_)[1:]
        grid = pd.DataFrame([(u, d, s + 1) for u in self.units_ for s, d in enumerate(future)],
                            columns=["unit_id", "ds", "step"])
        mu = grid.merge(self.mu, on=["unit_id", "ds"], how="left")["mu"].to_numpy()
        draws = draw_counts(np.repeat(mu[:, None], n_draws, axis=1), self.size, np.random.default_rng(seed))
        return ForecastFrame.from_draws(grid["unit_id"], grid["ds"], grid["step"], draws, self.alias,
                                        family=["negbin"] * len(grid), dist_mu=mu,
                                        dist_size=np.full(len(grid), self.size))


@pytest.fixture(scope="module")
def known_process() -> tuple[pd.DataFrame, TrueModel]:
    """Seasonal negative-binomial counts with known means (no feedback: every step is exact)."""
    rng = np.random.default_rng(42)
    n_units, n_weeks, size = 16, 160, 4.0
    ds = pd.date_range("2018-01-01", periods=n_weeks, freq="W-MON")
    base = rng.uniform(6, 40, n_units)
    phase = rng.uniform(0, 2 * np.pi, n_units)
    t = np.arange(n_weeks)
    mu = base[:, None] * np.exp(0.7 * np.sin(2 * np.pi * t / 52 + phase[:, None]) + 0.004 * t)
    y = draw_counts(mu, size, rng)
    units = [f"U{i:02d}" for i in range(n_units)]
    frame = pd.DataFrame({"unit_id": np.repeat(units, n_weeks), "ds": np.tile(ds, n_units), "y": y.ravel(),
                          "mu": mu.ravel()})
    return frame[["unit_id", "ds", "y"]], TrueModel(frame[["unit_id", "ds", "mu"]], size)


@pytest.fixture(scope="module")
def known_backtest(known_process):
    panel, truth = known_process
    return backtest(panel, [truth, *BASELINES], horizon=4, start="2019-01-07", every=3,
                    n_draws=400, seed=5, progress=False)


def test_true_model_has_lower_crps_than_every_baseline(known_backtest):
    crps = known_backtest.summary()["crps"]
    assert crps.idxmin() == "truth"
    for baseline in BASELINES:
        assert crps["truth"] < crps[baseline], crps.round(3).to_dict()
    skill = known_backtest.skill()
    assert (skill.loc["truth"] > 0).all()


def test_true_model_is_calibrated(known_backtest):
    truth = known_backtest.scores[known_backtest.scores["model"] == "truth"]
    assert len(truth) > 800
    assert 0.85 <= truth["covered90"].mean() <= 0.95
    assert 0.42 <= truth["covered50"].mean() <= 0.62
    # Randomised PIT of the true distribution is uniform.
    assert stats.kstest(truth["pit"], "uniform").pvalue > 0.01


def test_table_layout_and_summaries(known_backtest):
    result = known_backtest
    scores = result.scores
    assert scores.columns[:6].tolist() == ["unit_id", "cutoff", "ds", "step", "model", "y"]
    assert not scores.duplicated(["unit_id", "cutoff", "step", "model"]).any()
    n_rows = 16 * 4 * len(result.cutoffs)
    assert scores.groupby("model").size().eq(n_rows).all()
    # ds is the cutoff plus `step` weeks.
    assert (scores["ds"] - scores["cutoff"]).eq(pd.to_timedelta(scores["step"] * 7, unit="D")).all()
    assert result.by_horizon().index.get_level_values("step").unique().tolist() == [1, 2, 3, 4]
    assert len(result.by_unit()) == 16 * 6
    assert {"crps", "mis90", "coverage90", "n"} <= set(result.summary().columns)
    best = result.best_models()
    assert len(best) == 16 and (best["best_model"] == "truth").mean() > 0.8
    observed = scores[scores["model"] == "truth"].drop_duplicates(["unit_id", "ds"]).groupby("unit_id")["y"].sum()
    assert best.set_index("unit_id")["events"].equals(observed.loc[best["unit_id"]].astype(int).rename("events"))
    card = result.scorecard()
    assert {"skill_vs_zero", "skill_vs_hist_mean"} <= set(card.columns)
    assert set(result.seconds) == {"truth", *BASELINES}
    pit = result.pit_histogram(bins=5)
    assert pit.shape == (5, 6) and np.allclose(pit.sum(), 1)


def test_skill_is_one_minus_the_score_ratio(known_backtest):
    scores = known_backtest.scores
    mean = scores.groupby("model")["crps"].mean()
    skill = skill_scores(scores, ["hist_mean", "zero"])
    assert skill.loc["truth", "skill_crps_vs_hist_mean"] == pytest.approx(1 - mean["truth"] / mean["hist_mean"])
    per_step = skill_scores(scores, ["hist_mean"], by=["model", "step"])
    assert len(per_step) == 6 * 4
    with pytest.raises(ParameterError, match="not in the score table"):
        skill_scores(scores, ["prophet"])


def test_ensemble_weights_feed_the_ensemble(known_backtest):
    weights = known_backtest.ensemble_weights(["hist_mean", "seasonal_naive", "last"])
    assert list(weights) == ["hist_mean", "seasonal_naive", "last"]
    assert sum(weights.values()) == pytest.approx(1)
    mean = known_backtest.summary()["crps"]
    assert max(weights, key=weights.get) == mean[list(weights)].idxmin()
    softmax = ensemble_weights(known_backtest.scores, models=["hist_mean", "zero"], method="softmax")
    assert softmax["hist_mean"] > 0.99
    spec = known_backtest.ensemble_spec(["hist_mean", "seasonal_naive", "last"])
    ensemble = make_model(spec)
    assert ensemble.weights_ == pytest.approx(weights, abs=1e-4)  # the spec carries 4 decimals


def test_ensemble_weights_need_every_member():
    with pytest.raises(ParameterError, match="no scores for model"):
        ensemble_weights({"a": 1.0}, models=["a", "b"])
    with pytest.raises(ParameterError, match="method"):
        ensemble_weights({"a": 1.0}, method="stacking")


# -------------------------------------------------------------- mechanics
@pytest.fixture(scope="module")
def small_panel() -> pd.DataFrame:
    ds = pd.date_range("2020-01-06", periods=40, freq="W-MON")
    rng = np.random.default_rng(3)
    units = ["A", "B", "C"]
    y = rng.negative_binomial(2, 0.3, size=(3, 40))
    return pd.DataFrame({"unit_id": np.repeat(units, 40), "ds": np.tile(ds, 3), "y": y.ravel()})


def test_same_seed_same_table(small_panel):
    run = dict(horizon=3, start="2020-05-04", every=5, n_draws=100, progress=False)
    first = backtest(small_panel, "hist_mean,bootstrap,glm_poisson(harmonics=0)", seed=7, **run)
    second = backtest(small_panel, "hist_mean,bootstrap,glm_poisson(harmonics=0)", seed=7, **run)
    pd.testing.assert_frame_equal(first.scores, second.scores)
    other = backtest(small_panel, "hist_mean,bootstrap,glm_poisson(harmonics=0)", seed=8, **run)
    assert not np.allclose(first.scores["pit"], other.scores["pit"])


@dataclass
class Spy:
    """Records the last period of every training panel it is fitted on."""

    alias: str = "spy"
    seen: ClassVar[list] = []

    def fit(self, panel: pd.DataFrame, freq: str | None = None) -> Spy:
        Spy.seen.append(pd.to_datetime(panel["ds"]).max())
        self.inner_ = make_model("last").fit(panel, freq=freq)
        return self

    def predict(self, h: int, n_draws: int = 1000, seed: int = 0) -> ForecastFrame:
        return self.inner_.predict(h, n_draws=n_draws, seed=seed)


def test_models_never_see_past_the_cutoff(small_panel):
    Spy.seen.clear()
    result = backtest(small_panel, [Spy()], horizon=2, start="2020-03-02", every=7, n_draws=10, progress=False)
    assert Spy.seen == list(result.cutoffs)
    assert (result.scores["ds"] > result.scores["cutoff"]).all()


@dataclass
class Flaky:
    """Fails at the first cutoff of the test below."""

    alias: str = "flaky"
    fail_on: ClassVar[pd.Timestamp] = pd.Timestamp("2020-03-02")

    def fit(self, panel: pd.DataFrame, freq: str | None = None) -> Flaky:
        if pd.to_datetime(panel["ds"]).max() == self.fail_on:
            raise ModelError("did not converge")
        self.inner_ = make_model("hist_mean").fit(panel, freq=freq)
        return self

    def predict(self, h: int, n_draws: int = 1000, seed: int = 0) -> ForecastFrame:
        return self.inner_.predict(h, n_draws=n_draws, seed=seed)


def test_a_failing_model_is_recorded_not_fatal(small_panel):
    result = backtest(small_panel, ["hist_mean", Flaky()], horizon=2, start="2020-03-02", every=7,
                      n_draws=10, progress=False)
    assert result.failures[["model", "cutoff"]].values.tolist() == [["flaky", pd.Timestamp("2020-03-02")]]
    assert "did not converge" in result.failures["error"].iloc[0]
    counts = result.scores.groupby("model").size()
    assert counts["hist_mean"] == counts["flaky"] + 3 * 2
    # Skill compares on the forecasts both made, so the missing origin does not count.
    assert np.isfinite(result.skill(["hist_mean"]).loc["flaky"]).all()


def test_rolling_origins():
    ds = pd.date_range("2021-01-04", periods=20, freq="W-MON")
    cutoffs = rolling_origins(ds, 4, start="2021-01-01", end="2030-01-01", every=5)
    assert cutoffs[0] == ds[1]  # two periods to fit on at least
    assert cutoffs[-1] <= ds[-5]  # the whole horizon is observed
    assert rolling_origins(ds, 4).tolist() == ds[10:16].tolist()
    with pytest.raises(ParameterError, match="no forecast origin"):
        rolling_origins(ds, 4, start="2030-01-01", end="2031-01-01")
    with pytest.raises(ParameterError, match="before its start"):
        rolling_origins(ds, 4, start="2021-03-01", end="2021-02-01")
    with pytest.raises(InputError, match="needs at least"):
        rolling_origins(ds[:4], 4)
    with pytest.raises(ParameterError, match="every"):
        rolling_origins(ds, 4, every=0)


def test_bad_models_fail_before_any_origin(small_panel):
    with pytest.raises(ParameterError, match="did you mean 'glm_negbin'"):
        backtest(small_panel, "hist_mean,glm_nebgin", horizon=2, progress=False)
    with pytest.raises(ParameterError, match="several models are called"):
        backtest(small_panel, "last,last", horizon=2, progress=False)
    assert with_baselines(["last", "hist_mean"]) == ["zero", "last", "hist_mean"]


def test_forecasts_kept_on_request(small_panel):
    result = backtest(small_panel, "last", horizon=2, start="2020-06-01", every=10, n_draws=20,
                      progress=False, keep_forecasts=True)
    assert result.forecasts is not None and result.forecasts.n_draws == 20
    assert len(result.forecasts.index) == len(result.scores)
    assert set(result.forecasts.index["cutoff"]) == set(result.cutoffs)


def test_monthly_panel_and_parquet(tmp_path):
    ds = pd.date_range("2018-01-01", periods=30, freq="MS")
    panel = pd.DataFrame({"unit_id": "A", "ds": ds, "y": np.arange(30) % 7})
    panel.attrs["freq"] = "MS"
    result = backtest(panel, "last,seasonal_naive", horizon=2, start="2019-06-01", every=4, n_draws=50,
                      progress=False)
    assert result.settings["freq"] == "MS"
    steps = result.scores[result.scores["step"] == 2]
    assert ((steps["ds"].dt.year * 12 + steps["ds"].dt.month)
            - (steps["cutoff"].dt.year * 12 + steps["cutoff"].dt.month)).eq(2).all()
    path = result.to_parquet(tmp_path / "scores.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(path), result.scores, check_dtype=False)
    meta = json.loads((tmp_path / "scores.parquet.meta.json").read_text())
    assert meta["kind"] == "backtest_scores" and meta["models"] == ["last", "seasonal_naive"]


def test_spread_model_runs_in_the_backtest(small_panel):
    from forecast.models.endemic_epidemic import EndemicEpidemic, EndemicEpidemicConfig

    borders = pd.DataFrame({"from": ["A", "B"], "to": ["B", "C"]})
    config = EndemicEpidemicConfig(trend=False, harmonics=0, family="negbin1")
    model = EndemicEpidemic(config, neighbourhood=borders)
    result = backtest(small_panel, ["hist_mean", model], horizon=2, start="2020-06-01", every=10,
                      n_draws=100, progress=False)
    spread = result.scores[result.scores["model"] == "endemic_epidemic"]
    assert len(spread) == len(result.scores) / 2 and result.failures.empty
    # Step 1 carries the exact conditional distribution; later steps are simulated.
    assert spread.loc[spread["step"] == 1, "exact"].all() and not spread.loc[spread["step"] == 2, "exact"].any()


@pytest.mark.slow
def test_processes_give_the_same_table(small_panel):
    run = dict(horizon=2, start="2020-05-04", every=6, n_draws=50, seed=3, progress=False)
    here = backtest(small_panel, "hist_mean,bootstrap", **run)
    there = backtest(small_panel, "hist_mean,bootstrap", executor="processes", workers=2, **run)
    pd.testing.assert_frame_equal(here.scores, there.scores)


# ------------------------------------------------------------------- CLI
@pytest.mark.slow
def test_cli_backtest_json(tmp_path, capsys):
    from forecast.cli import main

    out = tmp_path / "scores.parquet"
    code = main(["backtest", "--source", "synthetic", "--freq", "MS", "--horizon", "2", "--models", "last",
                 "--start", "2020-06-01", "--end", "2021-06-01", "--every", "6", "--n-draws", "50",
                 "--no-progress", "--json", "--out", str(out)])
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["cutoffs"] == ["2020-06-01", "2020-12-01", "2021-06-01"]
    assert list(payload["models"]) == ["zero", "hist_mean", "last"]
    keys = {"crps", "log_score", "mis90", "coverage50", "coverage90", "skill_vs_zero", "skill_vs_hist_mean"}
    assert keys <= set(payload["models"]["last"])
    assert payload["models"]["hist_mean"]["skill_vs_hist_mean"] == 0.0
    assert len(pd.read_parquet(out)) == 3 * 34 * 2 * 3


def test_cli_backtest_out_dir_streams_the_score_table_it_writes(tmp_path, capsys):
    from forecast.cli import main
    from forecast.evaluation.backtest import read_backtest_scores

    out, folder = tmp_path / "scores.parquet", tmp_path / "runs" / "bt"
    code = main(["backtest", "--source", "synthetic", "--freq", "MS", "--horizon", "2", "--models", "last",
                 "--start", "2021-01-01", "--end", "2021-06-01", "--every", "5", "--n-draws", "30",
                 "--no-progress", "--out", str(out), "--out-dir", str(folder)])
    assert code == 0, capsys.readouterr().err
    streamed = read_backtest_scores(folder)
    assert len(streamed) == 2 * 34 * 2 * 3  # cutoffs x provinces x steps x (zero, hist_mean, last)
    pd.testing.assert_frame_equal(streamed, pd.read_parquet(out).astype({"fallback": object}), check_dtype=False)
    # A second run into the same folder is refused before anything runs, and leaves it as it was.
    files = sorted(p.relative_to(folder) for p in folder.rglob("*"))
    code = main(["backtest", "--source", "synthetic", "--models", "last", "--out-dir", str(folder)])
    assert code == 2 and "is not an empty folder" in capsys.readouterr().err
    assert sorted(p.relative_to(folder) for p in folder.rglob("*")) == files


def test_a_failed_backtest_leaves_no_out_dir(tmp_path, small_panel):
    class Broken:
        alias = "broken"

        def fit(self, panel, **_):
            raise RuntimeError("a bug, not a model failure")

        def predict(self, h, **_):  # pragma: no cover - fit fails first
            raise AssertionError

    with pytest.raises(RuntimeError, match="a bug"):
        backtest(small_panel, ["hist_mean", Broken()], horizon=2, out_dir=tmp_path / "new" / "bt", progress=False)
    assert not (tmp_path / "new").exists()


def test_cli_backtest_bad_model_is_one_line(capsys):
    from forecast.cli import main

    # The run parameter's YAML list is read the same as the comma list.
    for models in ("last,glm_nebgin", "[last, glm_nebgin]"):
        code = main(["backtest", "--source", "synthetic", "--models", models])
        assert code == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: unknown model 'glm_nebgin'") and "\n" not in err


def test_bare_ensemble_combines_the_other_listed_models_not_the_added_baselines():
    from forecast.evaluation.backtest import backtest, with_baselines

    ds = pd.date_range("2020-01-06", periods=40, freq="W-MON")
    rng = np.random.default_rng(3)
    panel = pd.DataFrame({"unit_id": np.repeat(["A", "B"], 40), "ds": np.tile(ds, 2), "y": rng.poisson(2, 80)})
    result = backtest(panel, with_baselines(["last", "hist_mean", "ensemble"]), 2,
                      start=ds[30], every=4, n_draws=50, seed=1, progress=False)
    assert result.models == ["zero", "last", "hist_mean", "ensemble"]
    assert "members=['last', 'hist_mean']" in result.specs["ensemble"]
    assert result.failures.empty


def test_partial_backtest_reaches_the_latest_data_and_min_train_moves_the_start():
    ds = pd.date_range("2021-01-04", periods=30, freq="W-MON")
    rng = np.random.default_rng(4)
    panel = pd.DataFrame({"unit_id": np.repeat(["A", "B"], 30), "ds": np.tile(ds, 2), "y": rng.poisson(2, 60)})
    full = backtest(panel, ["hist_mean"], 4, start=ds[0], every=1, n_draws=50, progress=False, min_train=10)
    assert full.cutoffs[0] == ds[9] and full.cutoffs[-1] == ds[-5]
    recent = backtest(panel, ["hist_mean"], 4, start=ds[20], every=1, n_draws=50, progress=False, partial=True)
    assert recent.cutoffs[-1] == ds[-2]
    steps = recent.scores.groupby("cutoff")["step"].max()
    # Cutoff ds[-2] has one observed step, ds[-3] two, ds[-4] three; earlier ones all four.
    assert steps.loc[ds[-2]] == 1 and steps.loc[ds[-3]] == 2 and steps.loc[ds[-4]] == 3 and steps.loc[ds[-5]] == 4
    assert recent.scores["y"].notna().all()


def test_combinable_models_leave_out_zero_and_those_that_failed():
    ds = pd.date_range("2021-01-04", periods=30, freq="W-MON")
    y = np.zeros(60, int)
    y[:30] = np.random.default_rng(2).poisson(2, 30)  # AF-KAB has events, AF-PAR none
    panel = pd.DataFrame({"unit_id": np.repeat(["AF-KAB", "AF-PAR"], 30), "ds": np.tile(ds, 2), "y": y})
    result = backtest(panel, ["zero", "hist_mean", "last", "endemic_epidemic(unit_intercepts=True)"], 2,
                      start=ds[20], every=4, n_draws=50, progress=False,
                      neighbours={"AF-KAB": ["AF-PAR"], "AF-PAR": ["AF-KAB"]})
    assert set(result.failures["model"]) == {"endemic_epidemic"}  # no intercept for a unit without events
    assert result.combinable() == ["hist_mean", "last"]


def test_stacking_weights_from_a_backtest_are_the_reports(known_backtest):
    """One way of stacking: the backtest page's weights are forecast.evaluation.selection's."""
    from forecast.evaluation.selection import stacking_weights

    members = known_backtest.combinable()
    weights = known_backtest.ensemble_weights(members, method="stack")
    assert weights == stacking_weights(known_backtest.scores, members)
    assert sum(weights.values()) == pytest.approx(1.0)
    spec = known_backtest.ensemble_spec(members, method="stack")
    assert spec.startswith("ensemble(members=") and all(len(f"{w}".split(".")[-1]) <= 4 for w in make_model(spec).weights.values())
