"""The report's forecaster, chosen by a recent backtest, scored out of sample on several worlds.

What a default run does (:func:`forecast.evaluation.selection.choose_forecaster`
on the candidates of ``config/default.yaml``, log-score stacking over the 6
latest origins before the run's as-of date) is repeated at each of several
evaluation origins, with only the data up to that origin; the stacked forecaster
is then scored on what followed, next to every candidate and baseline scored at
the same origins. Worlds:

- the synthetic default scenario (:mod:`forecast.data.synthetic`, an
  endemic-epidemic count process), weekly and monthly;
- ``hawkes``: a spatial self-exciting point process in continuous time
  (:mod:`forecast.data.generators`), a different structure;
- ``endemic_thinned`` and ``hawkes_thinned``: dense worlds of either kind with
  only 5-20 % of events reported, kept with probability rising with fatalities.

Writes the ``selection`` section of ``bench/RESULTS.md``.

Usage::

    python bench/bench_selection.py [--origins 6] [--draws 200]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # see bench_one_step.py

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from _common import REPO, RESULTS, write_section  # noqa: E402

from forecast.data.dataset import load_dataset  # noqa: E402
from forecast.data.generators import generate_world  # noqa: E402
from forecast.evaluation.backtest import (  # noqa: E402
    backtest,
    rolling_origins,
    score_forecasts,
    summarise_scores,
)
from forecast.evaluation.selection import choose_forecaster, report_forecaster  # noqa: E402
from forecast.models.registry import BASELINES, ModelSpec, forecast_panel  # noqa: E402
from forecast.runner.params import load_config  # noqa: E402

#: Baselines scored beside the candidates (the best of them is the bar to beat).
EXTRA_BASELINES = ("zero", "last", "bootstrap", "seasonal_naive")


def worlds() -> dict[str, tuple[pd.DataFrame, str]]:
    """Panel and frequency of each world (all over the Afghan provinces)."""
    weekly = load_dataset("synthetic", freq="W-MON")
    monthly = load_dataset("synthetic", freq="MS")
    out = {
        "synthetic default, weekly": (weekly.panel[["unit_id", "ds", "y"]], "W-MON"),
        "synthetic default, monthly": (monthly.panel[["unit_id", "ds", "y"]], "MS"),
    }
    for generator in ("hawkes", "endemic_thinned", "hawkes_thinned"):
        world = generate_world(generator, 0)
        out[f"{generator} (seed 0), weekly"] = (world.panel("W-MON")[["unit_id", "ds", "y"]], "W-MON")
    return out


def evaluate(
    panel: pd.DataFrame, freq: str, candidates: list[str], horizon: int, n_origins: int, draws: int, seed: int,
    neighbours: dict[str, list[str]],
) -> dict:
    """Candidates, baselines and the chosen forecaster at the same ``n_origins`` origins."""
    ds = pd.DatetimeIndex(sorted(panel["ds"].unique()))
    every = 13 if freq == "W-MON" else 3
    cutoffs = rolling_origins(ds, horizon, start=ds[1], every=1)[::-1][::every][:n_origins][::-1]
    names = list(dict.fromkeys(["hist_mean", *EXTRA_BASELINES, *candidates]))
    plain = backtest(panel, names, horizon, start=cutoffs[0], end=cutoffs[-1], every=every, n_draws=draws,
                     seed=seed, freq=freq, progress=False, neighbours=neighbours)
    chosen_scores, choices, seconds = [], [], []
    for cutoff in plain.cutoffs:
        known = panel[panel["ds"] <= cutoff]
        started = time.perf_counter()
        choice = choose_forecaster(known, candidates, horizon, n_draws=draws, seed=seed, freq=freq, neighbours=neighbours)
        seconds.append(time.perf_counter() - started)
        forecasts = forecast_panel(
            known, [choice.spec], horizon, n_draws=draws, seed=seed, freq=freq, progress=False, neighbours=neighbours
        )
        scored = score_forecasts(forecasts, panel, seed=seed)
        scored["model"], scored["cutoff"] = "chosen (stacked)", cutoff
        chosen_scores.append(scored)
        choices.append(choice)
    scores = pd.concat([plain.scores, *chosen_scores], ignore_index=True)
    summary = summarise_scores(scores, "model")
    return {"summary": summary, "choices": choices, "cutoffs": plain.cutoffs, "failures": plain.failures,
            "choose_seconds": float(np.median(seconds))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--origins", type=int, default=6, help="evaluation origins per world")
    parser.add_argument("--draws", type=int, default=200, help="predictive draws per forecast")
    args = parser.parse_args(argv)
    config = load_config(REPO / "config" / "default.yaml").values
    candidates = [m for m in config["models"] if m != "ensemble"]
    horizon, seed = int(config["horizon"]), int(config["seed"])
    lines = [
        "## Selection: the report's stacked forecaster, out of sample",
        "",
        f"Written by `bench/bench_selection.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs. Candidates (config/default.yaml): "
        f"{', '.join(f'`{c}`' for c in candidates)}; horizon {horizon}, {args.draws} draws. At each of "
        f"{args.origins} evaluation origins (every 13 weeks or 3 months, the last {horizon} periods before the "
        "end and earlier) the report's choice is made again from the data up to that origin (log-score "
        "stacking over its own 6 latest origins) and scored on what followed, beside every candidate and "
        "baseline at the same origins. Skill: `1 - CRPS / CRPS of the best baseline` (baselines: "
        f"{', '.join(sorted(set(EXTRA_BASELINES) | {'hist_mean'}))} and the `hist_mean` variants). "
        "coverage90: share of outcomes inside the central 90 % interval.",
        "",
    ]
    neighbours = load_dataset("synthetic").neighbours
    for label, (panel, freq) in worlds().items():
        started = time.perf_counter()
        result = evaluate(panel, freq, candidates, horizon, args.origins, args.draws, seed, neighbours)
        if len(result["failures"]):
            print(f"{label}: failures\n{result['failures'].drop_duplicates('model').to_string()}", flush=True)
        summary = result["summary"]
        is_baseline = {m: m in BASELINES for m in summary.index}
        for spec in candidates:  # a baseline under an alias (recent_mean) is still a baseline
            parsed = ModelSpec.parse(spec)
            is_baseline[parsed.alias] = parsed.name in BASELINES
        is_baseline["chosen (stacked)"] = False
        baselines = [m for m in summary.index if is_baseline[m]]
        best_baseline = summary.loc[baselines, "crps"].idxmin()
        summary["skill"] = 1 - summary["crps"] / summary.loc[best_baseline, "crps"]
        summary = summary.sort_values("crps")
        ours = summary[[not is_baseline[m] for m in summary.index]]
        best = ours.index[0]
        last = result["choices"][-1]
        weights = ", ".join(f"{m} {w:.2f}" for m, w in sorted(last.members.items(), key=lambda kv: -kv[1]))
        lines += [
            f"### {label}",
            "",
            f"Evaluation origins {result['cutoffs'][0]:%Y-%m-%d} to {result['cutoffs'][-1]:%Y-%m-%d}; "
            f"{time.perf_counter() - started:.0f} s in all, a choice takes {result['choose_seconds']:.1f} s (median). "
            f"Best baseline: `{best_baseline}` (CRPS {summary.loc[best_baseline, 'crps']:.4f}); best of ours: "
            f"`{best}` ({summary.loc[best, 'skill']:+.1%}, coverage90 {summary.loc[best, 'coverage90']:.2f}); "
            f"the stacked choice: {summary.loc['chosen (stacked)', 'skill']:+.1%}. Weights chosen at the last "
            f"origin: {weights}.",
            "",
            "| model | baseline | CRPS | skill | log score | coverage90 |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for model, row in summary.iterrows():
            lines.append(
                f"| {model} | {'yes' if is_baseline[model] else ''} | {row['crps']:.4f} | {row['skill']:+.1%} | "
                f"{row['log_score']:.4f} | {row['coverage90']:.3f} |"
            )
        lines.append("")
        print(f"{label}: best baseline {best_baseline}, best {best} {summary.loc[best, 'skill']:+.1%}, "
              f"stacked {summary.loc['chosen (stacked)', 'skill']:+.1%}", flush=True)
    # What the default report itself shows (config/default.yaml, as of its as_of).
    data = load_dataset("synthetic", freq=config["freq"], as_of=config["as_of"], synthetic=config["synthetic"])
    forecaster = report_forecaster(data.panel, config["models"], horizon, selection=config["selection"], seed=seed,
                                   neighbours=data.neighbours, freq=data.freq)
    lines += [
        f"### What the default run chooses (config/default.yaml, as of {config['as_of']})",
        "",
        forecaster.note,
        "",
    ]
    lines.append("Command: `python bench/bench_selection.py`.")
    path = write_section("selection", "\n".join(lines), RESULTS)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
