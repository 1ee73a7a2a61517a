"""Benchmark the count models: fit+predict time per series, interval coverage, CRPS.

Data: the synthetic default scenario (:func:`forecast.data.dataset.load_dataset`,
``source="synthetic"``): 34 provinces, weekly, 2014-2021 (8 years).

- **Time**: wall-clock seconds of ``fit(panel)`` + ``predict(4, n_draws=1000)``
  on the whole panel, divided by the 34 series (best of ``--repeats`` runs for
  models that take under 5 s, one run otherwise; imports warmed up first).
- **Calibration**: forecasts from rolling origins every 8 weeks over the last
  year of data (``as_of``), steps 1-4: share of observed counts inside the
  closed interval ``[q05, q95]`` (at least 90 % for a calibrated discrete
  forecast, more for small counts), the share whose randomised PIT falls in the
  central 90 % (exactly 90 % when calibrated), mean CRPS from the draws, and the
  share of unit-steps on a fallback. "Active" units are those with at least one
  event in the evaluation year.

The figures go into the ``models`` section of ``bench/RESULTS.md`` (between
``<!-- models:start -->`` and ``<!-- models:end -->``), leaving the rest alone.

Usage::

    python bench/bench_models.py [--draws 1000] [--repeats 3] [--output bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import scoringrules as sr
from _common import RESULTS, write_section

from forecast.data.dataset import load_dataset
from forecast.models import forecast_panel, make_model

MODELS = [
    "zero",
    "last",
    "hist_mean",
    "bootstrap",
    "seasonal_naive",
    "glm_poisson",
    "glm_negbin",
    "prophet",
    "ensemble(members=['glm_negbin', 'hist_mean'])",
    # The spread model, one joint fit; the scenario's structure: own-province rates, yearly cycle.
    "endemic_epidemic(trend=False, unit_intercepts=True)",
]
HORIZON = 4


def time_models(panel: pd.DataFrame, n_draws: int, repeats: int, neighbours: dict) -> pd.DataFrame:
    """Seconds per series of fit + predict for every model on the whole panel."""
    make_model("prophet").fit(panel[panel["unit_id"] == "AF-NAN"])  # warm up prophet's imports and Stan
    n_series = panel["unit_id"].nunique()
    rows = []
    for spec in MODELS:
        times: list[float] = []
        while not times or (len(times) < repeats and sum(times) < 5.0):
            model = make_model(spec)
            started = time.perf_counter()
            model.fit(panel, freq="W-MON", neighbours=neighbours)
            forecast = model.predict(HORIZON, n_draws=n_draws, seed=0)
            times.append(time.perf_counter() - started)
        fallbacks = forecast.index.drop_duplicates("unit_id")["fallback"].notna().sum() if "fallback" in forecast.index else 0
        rows.append(
            {
                "model": model.alias,
                "spec": spec,
                "seconds_per_series": min(times) / n_series,
                "total_seconds": min(times),
                "runs": len(times),
                "units_on_fallback": int(fallbacks),
                "min_draw": int(forecast.draws.min()),
            }
        )
        print(f"  {spec}: {min(times) / n_series * 1000:.1f} ms per series", file=sys.stderr)
    return pd.DataFrame(rows)


def calibration(panel: pd.DataFrame, n_draws: int, neighbours: dict) -> tuple[pd.DataFrame, list[pd.Timestamp]]:
    """Coverage, PIT coverage and CRPS from rolling origins over the last year."""
    periods = pd.DatetimeIndex(sorted(panel["ds"].unique()))
    # Origins: the Sunday closing a week, every 8 weeks, with HORIZON weeks left to score.
    origins = [periods[-HORIZON - 1 - 8 * k] + pd.Timedelta(days=6) for k in range(6)][::-1]
    truth = panel.set_index(["unit_id", "ds"])["y"]
    evaluation = panel[panel["ds"] > origins[0]]
    active = set(evaluation.loc[evaluation["y"] > 0, "unit_id"])
    rng = np.random.default_rng(0)
    rows = []
    for spec in MODELS:
        parts = []
        for origin in origins:
            ff = forecast_panel(panel, spec, HORIZON, as_of=origin, n_draws=n_draws, seed=1, progress=False,
                                neighbours=neighbours)
            observed = truth.reindex(pd.MultiIndex.from_frame(ff.index[["unit_id", "ds"]])).to_numpy()
            q05, q95 = ff.quantiles((0.05, 0.95)).T
            below = (ff.draws < observed[:, None]).mean(axis=1)
            at_most = (ff.draws <= observed[:, None]).mean(axis=1)
            pit = below + rng.random(len(observed)) * (at_most - below)
            parts.append(
                pd.DataFrame(
                    {
                        "unit_id": ff.index["unit_id"],
                        "inside": (observed >= q05) & (observed <= q95),
                        "pit_inside": (pit >= 0.05) & (pit <= 0.95),
                        "crps": sr.crps_ensemble(observed.astype(float), ff.draws.astype(float)),
                        "fallback": ff.index["fallback"].notna() if "fallback" in ff.index else False,
                        "min_draw": ff.draws.min(axis=1),
                    }
                )
            )
        scored = pd.concat(parts, ignore_index=True)
        on = scored[scored["unit_id"].isin(active)]
        rows.append(
            {
                "model": make_model(spec).alias,
                "unit_steps": len(scored),
                "coverage": scored["inside"].mean(),
                "pit_coverage": scored["pit_inside"].mean(),
                "crps": scored["crps"].mean(),
                "active_unit_steps": len(on),
                "active_coverage": on["inside"].mean(),
                "active_pit_coverage": on["pit_inside"].mean(),
                "active_crps": on["crps"].mean(),
                "fallback_share": scored["fallback"].mean(),
                "min_draw": int(scored["min_draw"].min()),
            }
        )
        print(f"  {spec}: coverage {rows[-1]['coverage']:.3f}", file=sys.stderr)
    return pd.DataFrame(rows), origins


def render(timing: pd.DataFrame, scores: pd.DataFrame, origins: list[pd.Timestamp], n_draws: int, panel: pd.DataFrame) -> str:
    """The Markdown section (its markers are added by :func:`write_section`)."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    env = f"Python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs, {platform.machine()}"
    if hasattr(os, "getloadavg"):  # times stretch on a shared machine: say how busy it was
        env += f", load average {os.getloadavg()[0]:.1f} at the end"
    n_units, n_weeks = panel["unit_id"].nunique(), panel["ds"].nunique()
    lines = [
        "## Models: time per series and calibration on the synthetic default",
        "",
        f"Written by `bench/bench_models.py` on {now}; {env}. Data: synthetic default scenario "
        f"({n_units} provinces x {n_weeks} weeks, {panel['ds'].min():%Y-%m-%d} to {panel['ds'].max():%Y-%m-%d}, "
        f"{int(panel['y'].sum())} events; most provinces see well under one event a month).",
        "",
        f"### Fit + predict time (horizon {HORIZON}, {n_draws} draws)",
        "",
        "| model | ms per series | total s | runs | units on fallback |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in timing.itertuples():
        lines.append(
            f"| `{row.spec}` | {row.seconds_per_series * 1000:.1f} | {row.total_seconds:.2f} | {row.runs} | {row.units_on_fallback} |"
        )
    lines += [
        "",
        f"### 90 % interval coverage and CRPS ({len(origins)} origins every 8 weeks, "
        f"{origins[0]:%Y-%m-%d} to {origins[-1]:%Y-%m-%d}, steps 1-{HORIZON})",
        "",
        "`[q05, q95]`: observed count inside the closed interval (a discrete forecast covers at least 90 % there); "
        "PIT: randomised PIT inside the central 90 % (90 % when calibrated). Active: units with an event in the "
        "evaluation year.",
        "",
        "| model | unit-steps | [q05, q95] | PIT 90 % | CRPS | active unit-steps | active [q05, q95] | active PIT 90 % | active CRPS | on fallback | min draw |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in scores.itertuples():
        lines.append(
            f"| `{row.model}` | {row.unit_steps} | {row.coverage:.3f} | {row.pit_coverage:.3f} | {row.crps:.3f} | "
            f"{row.active_unit_steps} | {row.active_coverage:.3f} | {row.active_pit_coverage:.3f} | {row.active_crps:.3f} | "
            f"{row.fallback_share:.1%} | {row.min_draw} |"
        )
    prophet = scores[scores["model"] == "prophet"]
    if len(prophet):
        p = prophet.iloc[0]
        lines += [
            "",
            f"prophet: every draw is a non-negative count (smallest draw {p.min_draw}); 90 % interval coverage "
            f"{p.coverage:.1%} over {p.unit_steps} unit-steps ({p.active_coverage:.1%} on active units; "
            f"randomised-PIT coverage {p.pit_coverage:.1%}).",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=1000, help="predictive draws per unit and step")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per fast model")
    parser.add_argument("--output", type=Path, default=RESULTS, help="Markdown file to update")
    args = parser.parse_args(argv)

    data = load_dataset("synthetic", freq="W-MON")
    panel = data.panel
    print("timing fit + predict ...", file=sys.stderr)
    timing = time_models(panel, args.draws, args.repeats, data.neighbours)
    print("rolling-origin calibration ...", file=sys.stderr)
    scores, origins = calibration(panel, args.draws, data.neighbours)
    text = render(timing, scores, origins, args.draws, panel)
    write_section("models", text, args.output)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
