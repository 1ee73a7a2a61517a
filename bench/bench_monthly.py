"""Skill on real-shaped monthly data: horizon 3, 21 rolling origins, worlds with a structural break and real counts.

The maintainers check issue 14's target ("the best of the project's models
>= 10 % lower CRPS than the best baseline, 90 % coverage between 0.85 and
0.97") on province-month Afghan conflict counts, 2017-2024, rolling origin,
horizon 3, 21 origins, series that drop by 80 % after August 2021. This bench
repeats that design on data we have:

- the synthetic default scenario (:mod:`forecast.data.synthetic`), monthly,
  2014-2021;
- ``endemic`` and ``hawkes`` worlds (:mod:`forecast.data.generators`),
  monthly 2017-2024, without a break;
- ``endemic_thinned`` and ``hawkes`` worlds, 2017-2024, with a structural
  break: from 2021-09-01 every event is kept with probability 0.2
  (``WorldDesign(break_date=..., break_keep=0.2)``);
- real counts the project did not simulate: influenza in 140 districts of
  Bavaria and Baden-Württemberg, 2001-2008, from R's ``surveillance``
  (``/work/shared/data/surveillance``), weekly counts summed into the month
  their week starts in (96 months).

At each of 21 origins (every 3 months, the last 3 months before the end and
earlier; expanding window) every model and baseline is fitted on the data up
to the origin and scored on the 3 months that follow. Each ``--stack`` set is
also turned into the report's forecaster at every origin
(:func:`forecast.evaluation.selection.choose_forecaster`: log-score stacking
over its own latest origins, from the data up to the origin only) and scored
the same way.

Writes the ``monthly`` section of ``bench/RESULTS.md``.

Usage::

    python bench/bench_monthly.py [--origins 21] [--draws 200] [--worlds a,b] [--no-write]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one BLAS thread: see bench_one_step.py

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import UTC, datetime  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from _common import RESULTS, SURVEILLANCE, write_section  # noqa: E402

from forecast.data.dataset import load_dataset  # noqa: E402
from forecast.data.generators import WorldDesign, generate_world  # noqa: E402
from forecast.data.synthetic import Scenario, ScenarioConfig, generate_scenario  # noqa: E402
from forecast.defaults import MODELS, MONTHLY_MODELS  # noqa: E402
from forecast.evaluation.backtest import (  # noqa: E402
    backtest,
    rolling_origins,
    score_forecasts,
    summarise_scores,
)
from forecast.evaluation.selection import choose_forecaster  # noqa: E402
from forecast.models.frame import ForecastFrame  # noqa: E402
from forecast.models.registry import BASELINES, ModelSpec, forecast_panel  # noqa: E402
from forecast.panel import period_start  # noqa: E402

HORIZON = 3
EVERY = 3
SEED = 20211
BREAK = "2021-09-01"
#: Baselines (the best of them at each world is the bar); ``recent_mean`` is a baseline under an alias.
BASELINE_SPECS = ("zero", "last", "hist_mean", "bootstrap", "seasonal_naive", "hist_mean(window=4, alias='recent_mean')")
#: The endemic-epidemic settings the search kept, now monthly default candidates (``endemic_flat``,
#: ``endemic_flat_psi``; the RESULTS.md text names the ones it dropped).
EE_RECENT, EE_RECENT_OWN_PSI = MONTHLY_MODELS[3], MONTHLY_MODELS[4]
#: The project's models scored on every world (the search of issue 14's candidates).
MODEL_SPECS = (
    "glm_negbin",
    "ingarch",
    "ingarch(neighbours=True, alias='ingarch_ne')",
    "endemic_epidemic(lags=4)",
    "endemic_epidemic(halflife_months=12, lags=4, alias='endemic_recent')",
    EE_RECENT,
    EE_RECENT_OWN_PSI,
    f"ensemble(members=['ingarch', \"{EE_RECENT}\", \"{EE_RECENT_OWN_PSI}\"], alias='mix_ingarch_ee')",
)
#: Candidate sets turned into the report's stacked forecaster (name -> specs).
STACKS: dict[str, tuple[str, ...]] = {
    "monthly": MONTHLY_MODELS,  # what a monthly report does (forecast.defaults.default_models("MS"))
    "weekly": MODELS,  # the weekly candidates, the monthly default before this bench
}
#: Other ways of choosing from the monthly candidates, scored with ``--stack monthly_best,...``.
STACKS["monthly_best"] = STACKS["monthly_12"] = STACKS["monthly"]
#: name -> (method of choose_forecaster, origins it backtests); default log-score stacking over 6.
VARIANTS: dict[str, tuple[str, int]] = {"monthly_best": ("best", 6), "monthly_12": ("stack", 12)}


def _afg_neighbours() -> dict[str, list[str]]:
    return load_dataset("synthetic").neighbours


def _world(generator: str, seed: int, broken: bool) -> Callable[[], tuple[pd.DataFrame, dict]]:
    def make() -> tuple[pd.DataFrame, dict]:
        design = WorldDesign(end="2024-12-31", break_date=BREAK if broken else None, break_keep=0.2)
        world = generate_world(generator, seed, design)
        return world.panel("MS")[["unit_id", "ds", "y"]], _afg_neighbours()
    return make


def _synthetic() -> tuple[pd.DataFrame, dict]:
    data = load_dataset("synthetic", freq="MS")
    return data.panel[["unit_id", "ds", "y"]], data.neighbours


def influenza_monthly() -> tuple[pd.DataFrame, dict]:
    """fluBYBW weekly counts summed into the month each week starts in; first-order neighbours."""
    counts = pd.read_csv(SURVEILLANCE / "fluBYBW_counts.csv", dtype={"unit_id": str}, parse_dates=["ds"])
    counts["ds"] = period_start(counts["ds"], "MS")
    panel = counts.groupby(["unit_id", "ds"], as_index=False)["y"].sum()
    borders = pd.read_csv(SURVEILLANCE / "fluBYBW_neighbourhood.csv", dtype={"from": str, "to": str})
    first = borders[borders["order"] == 1]
    neighbours = {u: sorted(g["to"]) for u, g in first.groupby("from")}
    return panel, neighbours


#: key -> (title, panel and neighbours, whether the stacked forecasters are scored too). On influenza
#: (140 districts) an endemic-epidemic fit takes about 3 s, so the 21 x 6 x 5 fits of a stacked
#: forecaster would take half an hour: its models are scored, not its stacks.
WORLDS: dict[str, tuple[str, Callable[[], tuple[pd.DataFrame, dict]], bool]] = {
    "synthetic": ("synthetic default scenario, monthly 2014-2021", _synthetic, True),
    "endemic": ("endemic (seed 0), monthly 2017-2024, no break", _world("endemic", 0, False), True),
    "hawkes": ("hawkes (seed 0), monthly 2017-2024, no break", _world("hawkes", 0, False), True),
    "endemic_thinned_break": ("endemic_thinned (seed 1), monthly 2017-2024, level -80 % from 2021-09",
                              _world("endemic_thinned", 1, True), True),
    "hawkes_break": ("hawkes (seed 2), monthly 2017-2024, level -80 % from 2021-09", _world("hawkes", 2, True), True),
    "influenza": ("influenza, 140 districts of Bavaria and Baden-Württemberg, 2001-2008, weeks summed to months",
                  influenza_monthly, False),
}


def _endemic_scenario(seed: int) -> Callable[[], Scenario]:
    def make() -> Scenario:
        world = generate_world("endemic", seed, WorldDesign(end="2024-12-31"))
        return generate_scenario(ScenarioConfig(**world.params["endemic"]))
    return make


#: key -> the scenario behind a world without a break (its true process; see :func:`oracle_forecasts`).
ORACLE_SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "synthetic": generate_scenario,  # load_dataset("synthetic") is generate_scenario() with the defaults
    "endemic": _endemic_scenario(0),
}


#: The two oracles' names in the tables, ``boundary_known`` False then True.
ORACLES = ("oracle_weeks_before", "oracle")


def oracle_forecasts(scenario: Scenario, cutoffs: pd.DatetimeIndex, draws: int, *, boundary_known: bool,
                     seed: int = SEED) -> ForecastFrame:
    """The monthly forecasts of someone who knows the scenario's process: parameters and onsets so far.

    At each cutoff the weekly process is continued from the counts of a week
    (:meth:`Scenario.simulate_ahead`) and every simulated week's count split
    over the months its days fall in (events are uniform over a week's days,
    so a Binomial split is exact). With ``boundary_known=False`` the paths
    start from the last week that ends before the first forecast month, and
    the week straddling it is simulated too: the oracle ignores the days of
    it already observed (a little less than the data tell). With ``True`` the
    straddling week is known whole, including its days in the forecast month
    (a little more than the data tell). The two bracket what the true
    process allows; no model fitted to the counts does better in expectation.
    Spread that begins after the start week is not foreseen (it is news to any
    forecaster): those provinces continue as they were.
    """
    rng = np.random.default_rng([seed, 7])
    units = scenario.counts["unit_id"].unique()
    events = scenario.events
    frames = []
    for cutoff in cutoffs:
        months = pd.date_range(cutoff, periods=HORIZON + 1, freq="MS")[1:]
        first, last_day = months[0], months[-1] + pd.offsets.MonthEnd(0)
        straddling = first - pd.Timedelta(days=first.weekday())  # Monday of the week holding the 1st
        start = straddling if boundary_known and straddling < first else straddling - pd.Timedelta(weeks=1)
        n_weeks = (last_day - pd.Timedelta(days=last_day.weekday()) - start).days // 7
        paths = scenario.simulate_ahead(start, n_weeks, n_paths=draws, seed=int(rng.integers(2**31)),
                                        future_onsets=False)
        monthly = np.zeros((draws, HORIZON, len(units)), dtype=np.int64)
        if start == straddling:  # its days in the first month happened: count them
            known = events[(events["date"] >= first) & (events["date"] < straddling + pd.Timedelta(weeks=1))]
            monthly[:, 0] += known["admin1_code"].value_counts().reindex(units, fill_value=0).to_numpy()
        for week in range(n_weeks):
            days = start + pd.Timedelta(weeks=week + 1) + pd.to_timedelta(np.arange(7), unit="D")
            month_of_day = np.searchsorted(months, days, side="right") - 1  # -1: before the first month
            month_of_day[days > last_day] = HORIZON
            remaining = paths[:, week]
            for month in np.unique(month_of_day):
                share = np.mean(month_of_day[month_of_day >= month] == month)
                taken = rng.binomial(remaining, share)
                remaining = remaining - taken
                if 0 <= month < HORIZON:
                    monthly[:, month] += taken
        steps, unit_index = np.meshgrid(np.arange(HORIZON), np.arange(len(units)), indexing="ij")
        frames.append(ForecastFrame.from_draws(
            units[unit_index.ravel()], months[steps.ravel()], steps.ravel() + 1,
            monthly.reshape(draws, -1).T, model=ORACLES[boundary_known],
            cutoff=[cutoff] * steps.size))
    return ForecastFrame.concat(frames)


def alias_of(spec: str) -> str:
    """A spec's alias (the name in the score tables)."""
    return ModelSpec.parse(spec).alias


def evaluate(panel: pd.DataFrame, neighbours: dict, specs: list[str], stacks: dict[str, tuple[str, ...]],
             n_origins: int, draws: int, oracle: Scenario | None = None) -> dict:
    """Every spec and every stacked set at the same ``n_origins`` origins, and the oracles of ``oracle``."""
    ds = pd.DatetimeIndex(sorted(panel["ds"].unique()))
    cutoffs = rolling_origins(ds, HORIZON, start=ds[1], every=1)[::-1][::EVERY][:n_origins][::-1]
    started = time.perf_counter()
    plain = backtest(panel, specs, HORIZON, start=cutoffs[0], end=cutoffs[-1], every=EVERY, n_draws=draws,
                     seed=SEED, freq="MS", progress=False, neighbours=neighbours)
    plain_seconds = time.perf_counter() - started
    scores = [plain.scores]
    weights: dict[str, dict[str, float]] = {}
    stack_seconds: dict[str, float] = {}
    for name, candidates in stacks.items():
        label = f"stacked: {name}"
        method, origins = VARIANTS.get(name, ("stack", 6))
        started = time.perf_counter()
        for cutoff in plain.cutoffs:
            known = panel[panel["ds"] <= cutoff]
            choice = choose_forecaster(known, list(candidates), HORIZON, n_draws=draws, seed=SEED, freq="MS",
                                       neighbours=neighbours, method=method, origins=origins)
            forecasts = forecast_panel(known, [choice.spec], HORIZON, n_draws=draws, seed=SEED, freq="MS",
                                       progress=False, neighbours=neighbours)
            scored = score_forecasts(forecasts, panel, seed=SEED)
            scored["model"], scored["cutoff"] = label, cutoff
            scores.append(scored)
            weights[label] = choice.members
        stack_seconds[label] = time.perf_counter() - started
    if oracle is not None:
        for boundary_known in (False, True):
            forecasts = oracle_forecasts(oracle, plain.cutoffs, draws, boundary_known=boundary_known)
            scores.append(score_forecasts(forecasts, panel, seed=SEED))
    table = pd.concat(scores, ignore_index=True)
    summary = summarise_scores(table, "model")
    inside = table["pit"].between(0.05, 0.95, inclusive="neither")
    summary["pit90"] = inside.groupby(table["model"]).mean().reindex(summary.index)
    return {"summary": summary, "by_step": summarise_scores(table, ["model", "step"]),
            "cutoffs": plain.cutoffs, "failures": plain.failures, "weights": weights,
            "plain_seconds": plain_seconds, "stack_seconds": stack_seconds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--origins", type=int, default=21, help="evaluation origins per world")
    parser.add_argument("--draws", type=int, default=200, help="predictive draws per forecast")
    parser.add_argument("--worlds", default=",".join(WORLDS), help=f"comma-separated subset of {', '.join(WORLDS)}")
    parser.add_argument("--models", default=None, help="'|'-separated model specs (default: the search list)")
    parser.add_argument("--no-stack", action="store_true", help="score the models only, no stacked forecaster")
    parser.add_argument("--stack", default="monthly,weekly",
                        help="comma-separated stacked forecasters to score: monthly (a monthly report's), weekly "
                             "(over the weekly candidates), monthly_best (the lowest-CRPS candidate), monthly_12 "
                             "(stacking over 12 origins)")
    parser.add_argument("--no-oracle", action="store_true", help="do not score the oracles (worlds without a break)")
    parser.add_argument("--no-write", action="store_true", help="print, do not write RESULTS.md")
    parser.add_argument("--section", default="monthly", help="the RESULTS.md section written (default monthly)")
    args = parser.parse_args(argv)
    models = args.models.split("|") if args.models else list(MODEL_SPECS)
    specs = list(dict.fromkeys([*BASELINE_SPECS, *models]))
    stacks = {} if args.no_stack else {name: STACKS[name] for name in args.stack.split(",")}
    is_baseline = {alias_of(s): ModelSpec.parse(s).name in BASELINES for s in specs}
    lines = [
        f"## Monthly, horizon 3, {args.origins} origins: the maintainers' design on {', '.join(args.worlds.split(','))}",
        "",
        f"Written by `bench/bench_monthly.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; Python "
        f"{platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs, one BLAS thread; "
        f"{args.draws} draws. Rolling origin, expanding window: {args.origins} origins every {EVERY} months "
        f"(the last {HORIZON} months before the end and earlier), horizon {HORIZON}; every model fitted at "
        "each origin on the data up to it. Skill: `1 - CRPS / CRPS of the best baseline` of the world "
        f"(baselines: {', '.join(alias_of(s) for s in BASELINE_SPECS)}). coverage90: share of outcomes inside "
        "the central 90 % interval (target 0.85-0.97; for counts it covers at least 90 % of the mass, so a "
        "calibrated forecast of sparse counts lies above 0.90); PIT90: share of randomised PIT values inside "
        "(0.05, 0.95) (0.90 when calibrated). `stacked: monthly` is what a monthly report does with its "
        "default candidates (`forecast.defaults.MONTHLY_MODELS`: "
        f"{', '.join(f'`{alias_of(c)}`' for c in STACKS['monthly'])}): log-score stacking over its 6 latest "
        "origins, chosen again at each evaluation origin from the data up to it; `stacked: weekly` the same "
        "over the weekly candidates (`forecast.defaults.MODELS`, the monthly default before this bench: "
        f"{', '.join(f'`{alias_of(c)}`' for c in STACKS['weekly'])}). *Oracle* (worlds without a break: "
        f"{', '.join(ORACLE_SCENARIOS)}): forecasts from the world's true weekly process, its parameters and "
        "spread onsets up to the origin (later onsets are news to any forecaster), continued by simulation from the last week that ends before the forecast months "
        "(`oracle_weeks_before`: ignores the first days of the straddling week, a little less than the data "
        "tell) or from the straddling week known whole (`oracle`: a little more); the overview shows the two as "
        "a range. No model fitted to the counts beats the true process in expectation, so this is the skill "
        "the world allows.",
        "",
    ]
    stack_labels = [f"stacked: {name}" for name in stacks]
    overview = [
        "| world | best baseline | best of ours | skill | coverage90 | "
        + "".join(f"{label}: skill | coverage90 | " for label in stack_labels) + "oracle: skill |",
        "|---|---|---|---:|---:|" + "---:|---:|" * len(stack_labels) + "---:|",
    ]
    details: list[str] = []
    for key in args.worlds.split(","):
        title, make, stacked_too = WORLDS[key]
        panel, neighbours = make()
        oracle = ORACLE_SCENARIOS[key]() if key in ORACLE_SCENARIOS and not args.no_oracle else None
        result = evaluate(panel, neighbours, specs, stacks if stacked_too else {}, args.origins, args.draws, oracle)
        if len(result["failures"]):
            print(f"{key}: failures\n{result['failures'].drop_duplicates('model').to_string()}", flush=True)
        summary = result["summary"]
        flags = {m: is_baseline.get(m, False) for m in summary.index}
        baselines = [m for m in summary.index if flags[m]]
        best_baseline = summary.loc[baselines, "crps"].idxmin()
        bar = summary.loc[best_baseline, "crps"]
        summary["skill"] = 1 - summary["crps"] / bar
        summary = summary.sort_values("crps")
        ours = [m for m in summary.index if not flags[m] and m not in ORACLES]
        best = ours[0]
        by_step = result["by_step"]["crps"].unstack("step")
        step_skill = 1 - by_step / by_step.loc[best_baseline]
        units = panel["unit_id"].nunique()
        months = panel["ds"].nunique()
        mean = panel.groupby("ds")["y"].sum().mean() / units
        overview.append(
            f"| {key} | `{best_baseline}` | `{best}` | {summary.loc[best, 'skill']:+.1%} | "
            f"{summary.loc[best, 'coverage90']:.3f} | "
            + "".join(f"{summary.loc[label, 'skill']:+.1%} | {summary.loc[label, 'coverage90']:.3f} | "
                      if label in summary.index else "not run | | " for label in stack_labels)
            + (" to ".join(f"{summary.loc[m, 'skill']:+.1%}" for m in ORACLES) if oracle is not None else "")
            + " |"
        )
        details += [
            f"### {key}: {title}",
            "",
            f"{units} units x {months} months, {mean:.2f} counts per unit-month; origins "
            f"{result['cutoffs'][0]:%Y-%m} to {result['cutoffs'][-1]:%Y-%m}; models {result['plain_seconds']:.0f} s"
            + "".join(f", {k} {v:.0f} s" for k, v in result["stack_seconds"].items())
            + f". Best baseline `{best_baseline}` (CRPS {bar:.4f})."
            + "".join(f" Weights of `{k}` at the last origin: "
                      + ", ".join(f"{m} {w:.2f}" for m, w in sorted(v.items(), key=lambda kv: -kv[1])) + "."
                      for k, v in result["weights"].items()),
            "",
            "| model | baseline | CRPS | skill | skill step 1 / 2 / 3 | log score | coverage90 | PIT90 |",
            "|---|---|---:|---:|---|---:|---:|---:|",
        ]
        for model, row in summary.iterrows():
            steps = " / ".join(f"{step_skill.loc[model, s]:+.0%}" for s in sorted(step_skill.columns))
            details.append(
                f"| {model} | {'yes' if flags[model] else 'oracle' if model in ORACLES else ''} | {row['crps']:.4f} | {row['skill']:+.1%} | {steps} | "
                f"{row['log_score']:.4f} | {row['coverage90']:.3f} | {row['pit90']:.3f} |"
            )
        details.append("")
        print(f"{key}: best baseline {best_baseline}, best {best} {summary.loc[best, 'skill']:+.1%} "
              f"(cov {summary.loc[best, 'coverage90']:.3f})", flush=True)
        print(summary[["crps", "skill", "log_score", "coverage90", "pit90"]].to_string(), flush=True)
    lines += [*overview, "", *details]
    lines.append(f"Command: `python bench/bench_monthly.py --origins {args.origins} --draws {args.draws} "
                 f"--worlds {args.worlds} --stack {args.stack} --section {args.section}`.")
    if not args.no_write:
        print(f"wrote {write_section(args.section, chr(10).join(lines), RESULTS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
