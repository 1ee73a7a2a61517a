"""Benchmark the backtest: our models against peers and baselines on the same origins.

Every model, ours or a peer's, runs through :func:`forecast.evaluation.backtest.backtest`
on the same data, forecast origins, horizons and scores:

- **ours**: ``glm_negbin`` (defaults), the spread model
  (:class:`~forecast.models.endemic_epidemic.EndemicEpidemic`) and an
  ensemble of them with ``hist_mean``, weighted by
  :func:`forecast.evaluation.backtest.ensemble_weights` (softmax of CRPS skill) from a
  tuning backtest over the year *before* the evaluation origins;
- **peers**: prophet with its defaults on the raw counts (its own predictive
  samples, clipped at 0 and rounded), and statsforecast's AutoETS (season
  length of the frequency), CrostonOptimized and ADIDA (conformal intervals),
  whose 50 % and 90 % intervals are turned into count draws by a normal
  matched to them (see :class:`StatsForecastPeer`);
- **baselines**: the VIEWS-style ``zero, last, hist_mean, bootstrap, seasonal_naive``.

Data: the influenza counts in ``../shared/data/surveillance`` (140 districts,
weekly) and the synthetic default scenario (34 provinces), weekly and monthly.
Origins every 13 weeks (3 months) over the last two years, horizon 4.

The figures go into the ``backtest`` section of ``bench/RESULTS.md`` (between
``<!-- backtest:start -->`` and ``<!-- backtest:end -->``), leaving the rest
of the file alone. statsforecast is an optional dependency (the ``bench``
extra); without it the statsforecast peers are left out and the section says so.

Usage::

    python bench/bench_backtest.py [--data ../shared/data/surveillance] [--draws 200] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import numpy as np
import pandas as pd
from _common import RESULTS, SURVEILLANCE, write_section
from scipy import stats

from forecast.evaluation.backtest import (
    BASELINES,
    BacktestResult,
    backtest,
    ensemble_weights,
    score_forecasts,
)
from forecast.models.base import CountModel, Neighbours
from forecast.models.endemic_epidemic import (
    EndemicEpidemic,
    EndemicEpidemicConfig,
    read_surveillance_csvs,
)
from forecast.models.ensemble import Ensemble
from forecast.models.frame import ForecastFrame
from forecast.panel import default_season
from forecast.parallel import get_executor

HORIZON = 4
#: z-scores of the 75 % and 95 % normal quantiles: the half-widths of central 50 % and 90 % intervals.
Z50, Z90 = stats.norm.ppf(0.75), stats.norm.ppf(0.95)


# ------------------------------------------------------------------- peers
def normal_count_draws(mean: np.ndarray, lo: dict[int, np.ndarray], hi: dict[int, np.ndarray],
                       n_draws: int, rng: np.random.Generator) -> np.ndarray:
    """Count draws from point forecasts and central intervals: a matched normal, clipped and rounded.

    The standard deviation is the mean of the two implied by the 50 % and 90 %
    intervals (``width / (2 z)``); draws ``N(mean, sd)`` are clipped at 0 and
    rounded to the nearest count. This is how a user of a Gaussian forecaster
    would turn its output into a distribution of counts.
    """
    sd = 0.5 * ((hi[50] - lo[50]) / (2 * Z50) + (hi[90] - lo[90]) / (2 * Z90))
    sd = np.clip(np.nan_to_num(sd, nan=0.0), 0.0, None)
    noise = rng.standard_normal((len(mean), n_draws))
    return np.rint(np.clip(np.nan_to_num(mean)[:, None] + sd[:, None] * noise, 0, None)).astype(np.int64)


@dataclass
class StatsForecastPeer:
    """One statsforecast model behind the backtest's ``fit``/``predict`` interface.

    ``make`` builds the statsforecast model from the season length (periods per
    year of the panel's frequency); forecasts come with ``level=[50, 90]`` and
    become count draws by :func:`normal_count_draws`.
    """

    make: Any
    alias: str

    def fit(self, panel: pd.DataFrame, freq: str | None = None) -> Self:
        self.freq_ = freq
        self.frame_ = pd.DataFrame({"unique_id": panel["unit_id"].astype(str), "ds": pd.to_datetime(panel["ds"]),
                                    "y": panel["y"].astype(float)})
        return self

    def predict(self, h: int, n_draws: int = 1000, seed: int = 0) -> ForecastFrame:
        from statsforecast import StatsForecast

        model = self.make(default_season(self.freq_) or 1)
        name = repr(model)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fc = StatsForecast(models=[model], freq=self.freq_, n_jobs=1).forecast(df=self.frame_, h=h, level=[50, 90])
        fc = fc.sort_values(["unique_id", "ds"]).reset_index(drop=True)
        steps = fc.groupby("unique_id").cumcount() + 1
        lo = {level: fc[f"{name}-lo-{level}"].to_numpy() for level in (50, 90)}
        hi = {level: fc[f"{name}-hi-{level}"].to_numpy() for level in (50, 90)}
        draws = normal_count_draws(fc[name].to_numpy(), lo, hi, n_draws, np.random.default_rng(seed))
        return ForecastFrame.from_draws(fc["unique_id"], fc["ds"], steps, draws, self.alias)


def auto_ets(season: int) -> Any:
    from statsforecast.models import AutoETS

    return AutoETS(season_length=season)


def croston(season: int) -> Any:
    from statsforecast.models import CrostonOptimized
    from statsforecast.utils import ConformalIntervals

    return CrostonOptimized(prediction_intervals=ConformalIntervals(h=HORIZON, n_windows=2))


def adida(season: int) -> Any:
    from statsforecast.models import ADIDA
    from statsforecast.utils import ConformalIntervals

    return ADIDA(prediction_intervals=ConformalIntervals(h=HORIZON, n_windows=2))


@dataclass
class ProphetPeer:
    """Prophet as a user would pick it first: ``Prophet()`` on the raw counts.

    Draws are prophet's predictive samples (``uncertainty_samples = n_draws``)
    clipped at 0 and rounded.
    """

    alias: str = "prophet_default"

    def fit(self, panel: pd.DataFrame, freq: str | None = None) -> Self:
        from prophet import Prophet

        from forecast.models.prophet import quiet_prophet

        self.freq_ = freq
        self.models_ = {}
        for unit, series in panel.groupby("unit_id", sort=True):
            with quiet_prophet():
                self.models_[str(unit)] = Prophet().fit(
                    pd.DataFrame({"ds": pd.to_datetime(series["ds"]), "y": series["y"].astype(float)})
                )
        return self

    def predict(self, h: int, n_draws: int = 1000, seed: int = 0) -> ForecastFrame:
        from forecast.models.prophet import quiet_prophet

        units, ds, steps, draws = [], [], [], []
        np.random.seed(seed % 2**32)  # noqa: NPY002 - prophet samples from numpy's global generator
        for unit, model in self.models_.items():
            future = model.make_future_dataframe(periods=h, freq=self.freq_, include_history=False)
            model.uncertainty_samples = n_draws
            with quiet_prophet(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                samples = np.asarray(model.predictive_samples(future)["yhat"], dtype=float)
            draws.append(np.rint(np.clip(np.nan_to_num(samples), 0, None)).astype(np.int64))
            units += [unit] * h
            ds += list(future["ds"])
            steps += list(range(1, h + 1))
        return ForecastFrame.from_draws(units, ds, steps, np.vstack(draws), self.alias)


# -------------------------------------------------------------------- ours
@dataclass
class SpreadModel(CountModel):
    """The spread model as a :class:`CountModel` with its own neighbourhood and population.

    The registry's ``endemic_epidemic`` gives the same forecasts on the
    synthetic cases, but it has no population offset, which the influenza
    reference model needs; so every case builds this adapter, the neighbourhood
    (adjacency orders) and population fixed when it is built.
    """

    config: EndemicEpidemicConfig = field(default_factory=EndemicEpidemicConfig)
    neighbourhood: Any = None
    population: Any = None
    alias: str = "endemic_epidemic"

    def fit(self, panel: pd.DataFrame, *, neighbours: Neighbours | None = None, freq: str | None = None,
            progress: bool = False) -> Self:
        self.model_ = EndemicEpidemic(self.config, neighbourhood=self.neighbourhood, population=self.population)
        self.model_.fit(panel, freq=freq)
        self.data_ = True
        return self

    def predict(self, h: int, *, n_draws: int = 1000, seed: int = 0) -> ForecastFrame:
        frame = self.model_.predict(h, n_draws=n_draws, seed=seed)
        frame.index["model"] = self.alias
        return frame


# ------------------------------------------------------------------- data
@dataclass
class Case:
    """One data set of the benchmark and the spread model configured for it."""

    name: str
    panel: pd.DataFrame
    freq: str
    every: int
    spread: SpreadModel
    note: str
    truth: pd.DataFrame | None = None  # synthetic weekly: unit_id, ds, mu (the true one-step means)
    overdispersion: float = float("nan")


def influenza_case(folder: Path) -> Case:
    data = read_surveillance_csvs(folder / "fluBYBW_counts.csv", folder / "fluBYBW_neighbourhood.csv",
                                  folder / "fluBYBW_population.csv")
    # The reference model of bench_spread.py (hhh4 with power-law weights).
    config = EndemicEpidemicConfig(trend=True, harmonics=3, season_period=52, weights="powerlaw", maxlag=5)
    return Case("Influenza, Bavaria and Baden-Württemberg (140 districts, weekly)", data.counts, "W-MON", 13,
                SpreadModel(config, data.neighbourhood, data.population),
                "endemic `1 + t + 3 harmonics` with population offset, power-law weights (maxlag 5)")


def synthetic_case(freq: str) -> Case:
    from forecast.data.dataset import load_dataset
    from forecast.geo.gazetteer import Gazetteer

    dataset = load_dataset("synthetic", freq=freq)
    panel = dataset.panel
    units = sorted(panel["unit_id"].unique())
    orders = Gazetteer.load("AFG").adjacency_order(units)
    neighbourhood = pd.DataFrame(orders, index=units, columns=units)
    weekly = freq == "W-MON"
    # The scenario's own structure: own-province rates, yearly season, first-order neighbours.
    config = EndemicEpidemicConfig(trend=False, harmonics=1, season_period=52 if weekly else 12,
                                   unit_intercepts=True, weights="adjacency")
    label = "weekly" if weekly else "monthly"
    # The scenario is simulated weekly: its true means give the best possible one-step forecast.
    truth = dataset.scenario.counts[["unit_id", "ds", "mu"]] if weekly else None
    return Case(f"Synthetic default scenario (34 provinces, {label})", panel, freq, 13 if weekly else 3,
                SpreadModel(config, neighbourhood), "endemic with one intercept per province and 1 harmonic, "
                "first-order adjacency weights", truth, dataset.scenario.config.overdispersion)


def truth_line(case: Case, result: BacktestResult) -> list[str]:
    """How far the true process itself gets at step 1: the headroom any model has on this data."""
    if case.truth is None:
        return []
    step1 = result.scores[result.scores["step"] == 1]
    rows = step1.loc[step1["model"] == result.models[0], ["unit_id", "ds", "step"]]
    rows = rows.merge(case.truth, on=["unit_id", "ds"], how="left")
    size = 1 / case.overdispersion
    truth = ForecastFrame.from_draws(rows["unit_id"], rows["ds"], rows["step"], np.zeros((len(rows), 1)), "truth",
                                     family=["negbin"] * len(rows), dist_mu=rows["mu"],
                                     dist_size=np.full(len(rows), size))
    truth_crps = score_forecasts(truth, case.panel)["crps"].mean()
    by_model = step1.groupby("model")["crps"].mean()
    best_baseline = by_model[list(BASELINES)].idxmin()
    best = by_model.drop(list(BASELINES)).idxmin()
    return [
        f"Headroom: at step 1 the true process (its known means, negative binomial with psi = "
        f"{case.overdispersion:g}) scores CRPS {truth_crps:.4f}, "
        f"{1 - truth_crps / by_model[best_baseline]:.1%} below the best baseline at step 1 (`{best_baseline}`, "
        f"{by_model[best_baseline]:.4f}); the best non-baseline at step 1 is `{best}` ({by_model[best]:.4f}).",
        "",
    ]


def evaluation_window(panel: pd.DataFrame, freq: str, every: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The last two years of cutoffs (the last one has the whole horizon observed)."""
    ds = pd.DatetimeIndex(sorted(pd.to_datetime(panel["ds"]).unique()))
    per_year = default_season(freq)
    end = ds[-1 - HORIZON]
    start = ds[len(ds) - 1 - HORIZON - (2 * per_year // every - 1) * every]
    return start, end


# -------------------------------------------------------------------- run
def run_case(case: Case, draws: int, executor: Any, with_statsforecast: bool) -> tuple[BacktestResult, dict]:
    start, end = evaluation_window(case.panel, case.freq, case.every)
    per_year = default_season(case.freq)
    ds = pd.DatetimeIndex(sorted(pd.to_datetime(case.panel["ds"]).unique()))
    tune_end = ds[ds.get_loc(start) - case.every]
    tune_start = ds[ds.get_loc(start) - per_year]
    members = [case.spread, "glm_negbin", "hist_mean"]
    common = dict(horizon=HORIZON, every=case.every, n_draws=draws, executor=executor, freq=case.freq, progress=True)

    started = time.perf_counter()
    tuning = backtest(case.panel, members, start=tune_start, end=tune_end, seed=1, **common)
    weights = ensemble_weights(tuning.scores, "crps", models=[case.spread.alias, "glm_negbin", "hist_mean"],
                               method="softmax")
    tuning_seconds = time.perf_counter() - started
    ensemble = Ensemble(members=members, weights=weights, alias="ensemble")

    peers: list[Any] = [ProphetPeer()]
    if with_statsforecast:
        peers += [StatsForecastPeer(auto_ets, "AutoETS"), StatsForecastPeer(croston, "CrostonOptimized"),
                  StatsForecastPeer(adida, "ADIDA")]
    models = ["glm_negbin", case.spread, ensemble, *peers, *BASELINES]
    started = time.perf_counter()
    result = backtest(case.panel, models, start=start, end=end, seed=0, **common)
    info = {
        "weights": weights,
        "tuning_cutoffs": tuning.cutoffs,
        "tuning_seconds": tuning_seconds,
        "wall_seconds": time.perf_counter() - started,
        "peers": [p.alias for p in peers],
    }
    return result, info


def case_lines(case: Case, result: BacktestResult, info: dict) -> list[str]:
    ours = ["glm_negbin", case.spread.alias, "ensemble"]
    peers = info["peers"]
    summary = result.summary()
    kind = {m: "ours" if m in ours else "peer" if m in peers else "baseline" for m in result.models}
    best_baseline = summary.loc[list(BASELINES), "crps"].idxmin()
    skill = result.skill([best_baseline])
    table = [
        f"| model | kind | CRPS | skill vs {best_baseline} | log score | MIS90 | coverage 50 % | coverage 90 % | fit+predict s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for model in summary.sort_values("crps").index:
        row = summary.loc[model]
        table.append(
            f"| `{model}` | {kind[model]} | {row['crps']:.4f} | {skill.loc[model].iloc[0]:+.1%} | "
            f"{row['log_score']:.3f} | {row['mis90']:.3f} | {row['coverage50']:.3f} | {row['coverage90']:.3f} | "
            f"{result.seconds[model]:.1f} |"
        )
    best_ours = summary.loc[ours, "crps"].idxmin()
    best_peer = summary.loc[peers, "crps"].idxmin()

    def lower(other: str) -> str:
        return f"{1 - summary.loc[best_ours, 'crps'] / summary.loc[other, 'crps']:.1%}"

    cutoffs = result.cutoffs
    weights = ", ".join(f"`{k}` {v:.2f}" for k, v in info["weights"].items())
    failures = "none" if result.failures.empty else "; ".join(
        f"{r.model} at {r.cutoff:%Y-%m-%d}" for r in result.failures.itertuples())
    n_units = case.panel["unit_id"].nunique()
    return [
        f"### {case.name}",
        "",
        f"{len(cutoffs)} origins every {case.every} periods, cutoffs {cutoffs[0]:%Y-%m-%d} to {cutoffs[-1]:%Y-%m-%d}; "
        f"steps 1-{HORIZON}; {n_units} units, {int(summary['n'].iloc[0])} scored forecasts per model; "
        f"wall time of the run {info['wall_seconds']:.0f} s (ensemble tuning {info['tuning_seconds']:.0f} s). "
        f"Spread model: {case.note}. Ensemble weights (softmax of CRPS skill over "
        f"{len(info['tuning_cutoffs'])} tuning origins {info['tuning_cutoffs'][0]:%Y-%m-%d} to "
        f"{info['tuning_cutoffs'][-1]:%Y-%m-%d}): {weights}. Failures: {failures}.",
        "",
        *table,
        "",
        f"Best of ours: `{best_ours}`, CRPS {lower(best_peer)} lower than the best peer (`{best_peer}`) and "
        f"{lower(best_baseline)} lower than the best baseline (`{best_baseline}`); target: 10 %.",
        "",
        *truth_line(case, result),
    ]


def section(cases: list[tuple[Case, BacktestResult, dict]], draws: int, workers: int, command: str,
            statsforecast_version: str | None) -> str:
    peers_note = (
        f"statsforecast {statsforecast_version}" if statsforecast_version
        else "statsforecast not installed: its peers are missing (pip install 'forecast[bench]')"
    )
    lines = [
        "## Backtest: our models against peers and baselines",
        "",
        f"Written by `{command}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; Python {platform.python_version()}, "
        f"numpy {np.__version__}, pandas {pd.__version__}, {peers_note}, {os.cpu_count()} CPUs, "
        f"origins run on {workers} worker processes.",
        "",
        f"Rolling origin, expanding window, horizon {HORIZON}; {draws} predictive draws per unit and step; scores "
        "from `forecast.evaluation.backtest` (CRPS exact for Poisson/negative-binomial rows, else the fair sample estimate; "
        "log score floored at probability 1e-4; MIS90 the mean 90 % interval score). Lower is better except "
        "coverage; skill is `1 - CRPS / CRPS(best baseline)`. *fit+predict s* sums a model's fit and "
        "forecast time over the origins (scoring excluded).",
        "",
        "How peers become count distributions: prophet (defaults, raw counts) gives its own predictive "
        "samples, clipped at 0 and rounded. statsforecast's models give a point forecast and 50 %/90 % "
        "intervals (AutoETS its own, season length 52 weekly / 12 monthly; CrostonOptimized and ADIDA conformal, "
        "2 windows); draws are `round(max(0, N(point, sd)))` with `sd` the mean of the two interval-implied "
        "standard deviations (`width / (2 z)`).",
        "",
    ]
    for case, result, info in cases:
        lines += case_lines(case, result, info)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SURVEILLANCE, help="folder of the surveillance CSVs")
    parser.add_argument("--draws", type=int, default=200, help="predictive draws per unit and step")
    parser.add_argument("--workers", type=int, default=2, help="worker processes for the origins")
    parser.add_argument("--only", choices=["influenza", "weekly", "monthly"], action="append",
                        help="run only these data sets (repeatable)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="Markdown file to update")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"{args.data}: surveillance data not found; pass --data or set FORECAST_SHARED_DATA", file=sys.stderr)
        return 2
    try:
        import statsforecast

        statsforecast_version = statsforecast.__version__
    except ImportError:
        statsforecast_version = None
    chosen = args.only or ["influenza", "weekly", "monthly"]
    builders = {"influenza": lambda: influenza_case(args.data), "weekly": lambda: synthetic_case("W-MON"),
                "monthly": lambda: synthetic_case("MS")}
    cases = []
    with get_executor("processes", workers=args.workers) as executor:
        for name in chosen:
            case = builders[name]()
            print(f"{case.name} ...", file=sys.stderr)
            result, info = run_case(case, args.draws, executor, statsforecast_version is not None)
            cases.append((case, result, info))
    command = "python bench/bench_backtest.py " + " ".join(sys.argv[1:] if argv is None else argv)
    text = section(cases, args.draws, args.workers, command.strip(), statsforecast_version)
    path = write_section("backtest", text, args.output)
    print(text)
    print(f"\nwritten to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
