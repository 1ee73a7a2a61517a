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
from forecast.defaults import MODELS  # noqa: E402
from forecast.evaluation.backtest import (  # noqa: E402
    backtest,
    rolling_origins,
    score_forecasts,
    summarise_scores,
)
from forecast.evaluation.selection import choose_forecaster  # noqa: E402
from forecast.models.registry import BASELINES, ModelSpec, forecast_panel  # noqa: E402
from forecast.panel import period_start  # noqa: E402

HORIZON = 3
EVERY = 3
SEED = 20211
BREAK = "2021-09-01"
#: Baselines (the best of them at each world is the bar); ``recent_mean`` is a baseline under an alias.
BASELINE_SPECS = ("zero", "last", "hist_mean", "bootstrap", "seasonal_naive", "hist_mean(window=4, alias='recent_mean')")
#: The endemic-epidemic settings the search kept (see the RESULTS.md text for the ones it dropped).
EE_RECENT = "endemic_epidemic(trend=False, halflife_months=12, lags=4, alias='ee_notrend_hl12')"
EE_RECENT_OWN_PSI = ("endemic_epidemic(trend=False, halflife_months=12, lags=4, overdispersion='auto', "
                     "min_unit_events=30, alias='ee_notrend_hl12_psi')")
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
    "default": tuple(MODELS),
    "proposed": ("hist_mean", "hist_mean(window=4, alias='recent_mean')", "ingarch", EE_RECENT, EE_RECENT_OWN_PSI),
}
#: Other ways of choosing from the proposed candidates, scored with ``--stack proposed_best,...``.
STACKS["proposed_best"] = STACKS["proposed_12"] = STACKS["proposed"]
#: name -> (method of choose_forecaster, origins it backtests); default log-score stacking over 6.
VARIANTS: dict[str, tuple[str, int]] = {"proposed_best": ("best", 6), "proposed_12": ("stack", 12)}


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


def alias_of(spec: str) -> str:
    """A spec's alias (the name in the score tables)."""
    return ModelSpec.parse(spec).alias


def evaluate(panel: pd.DataFrame, neighbours: dict, specs: list[str], stacks: dict[str, tuple[str, ...]],
             n_origins: int, draws: int) -> dict:
    """Every spec and every stacked set at the same ``n_origins`` origins."""
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
    parser.add_argument("--stack", default="default,proposed",
                        help="comma-separated stacked forecasters to score: default, proposed, proposed_best "
                             "(the lowest-CRPS candidate), proposed_12 (stacking over 12 origins)")
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
        "(0.05, 0.95) (0.90 when calibrated). `stacked: default` is what a report does with the "
        "default candidates (`forecast.defaults.MODELS`): log-score stacking over its 6 latest origins, "
        "chosen again at each evaluation origin from the data up to it; `stacked: proposed` the same over "
        f"{', '.join(f'`{alias_of(c)}`' for c in STACKS['proposed'])}.",
        "",
    ]
    stack_labels = [f"stacked: {name}" for name in stacks]
    overview = [
        "| world | best baseline | best of ours | skill | coverage90 | "
        + "".join(f"{label}: skill | coverage90 | " for label in stack_labels),
        "|---|---|---|---:|---:|" + "---:|---:|" * len(stack_labels),
    ]
    details: list[str] = []
    for key in args.worlds.split(","):
        title, make, stacked_too = WORLDS[key]
        panel, neighbours = make()
        result = evaluate(panel, neighbours, specs, stacks if stacked_too else {}, args.origins, args.draws)
        if len(result["failures"]):
            print(f"{key}: failures\n{result['failures'].drop_duplicates('model').to_string()}", flush=True)
        summary = result["summary"]
        flags = {m: is_baseline.get(m, False) for m in summary.index}
        baselines = [m for m in summary.index if flags[m]]
        best_baseline = summary.loc[baselines, "crps"].idxmin()
        bar = summary.loc[best_baseline, "crps"]
        summary["skill"] = 1 - summary["crps"] / bar
        summary = summary.sort_values("crps")
        ours = [m for m in summary.index if not flags[m]]
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
                f"| {model} | {'yes' if flags[model] else ''} | {row['crps']:.4f} | {row['skill']:+.1%} | {steps} | "
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
