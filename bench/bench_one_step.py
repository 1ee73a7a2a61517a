"""Rolling one-step-ahead forecasts of the influenza data: R's hhh4, our refits, our extensions.

The benchmark of R's ``surveillance`` package: the power-law endemic-epidemic
model of the Bavaria/Baden-Württemberg influenza counts (140 districts x 416
weeks), refitted every week on the data up to that week and scored on the next
(``oneStepAhead(type = "rolling")``) over the last 53 weeks, with the ranked
probability score (RPS, which for counts equals the CRPS) and the log score.

Rows: the model refitted cold each week (default start values), the same with
warm starts (previous estimates) and the design built once; extensions of the
model (seasonal epidemic components, a distributed lag); baselines (zero, the
last count as a Poisson mean). When R with ``surveillance`` is installed
(``apt-get install r-cran-surveillance``), ``bench/r/influenza_one_step.R``
runs in the same session: its time, scores and the largest difference of its
predictive means from ours. Everything runs with one BLAS thread, as R's
reference BLAS does, so times compare like with like on a loaded machine.

Writes the ``one_step`` section of ``bench/RESULTS.md``.

Usage::

    python bench/bench_one_step.py [--weeks 53] [--no-r]
"""

from __future__ import annotations

import os

# One BLAS thread: set before numpy loads (OpenBLAS reads it once). Several threads
# on tall-skinny products gain nothing here and, on a loaded 2-core machine, cost 20x.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scoringrules as sr  # noqa: E402
from _common import REPO, RESULTS, SURVEILLANCE, write_section  # noqa: E402
from bench_spread import INFLUENZA, load  # noqa: E402
from scipy import stats  # noqa: E402

from forecast.models.endemic_epidemic import ComponentTerms, EndemicEpidemic  # noqa: E402

SEASONAL = dataclasses.replace(INFLUENZA, ar=ComponentTerms(harmonics=1), ne=ComponentTerms(harmonics=1))
REFERENCE_ROW = "hhh4 power law, warm refits"
#: Candidate weights u_1 of the two-week lag (u_1, 1 - u_1); chosen by the likelihood of the
#: first fit only (the data before the evaluated weeks), never by the scores.
LAG_GRID = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)


def chosen_lag(config, data, first_origin: int) -> tuple[float, float]:
    """The lag weights of ``LAG_GRID`` with the highest log-likelihood on periods up to ``first_origin``."""
    ds = sorted(data.counts["ds"].unique())
    history = data.counts[data.counts["ds"] <= ds[first_origin]]
    fits = {
        u: EndemicEpidemic(dataclasses.replace(config, lag_weights=(u, 1.0 - u))).fit(
            history, data.neighbourhood, data.population
        ).loglik
        for u in LAG_GRID
    }
    best = max(fits, key=fits.get)
    return (best, round(1.0 - best, 10))


def models(data, first_origin: int) -> dict:
    """Our models, by row label: (configuration, warm start)."""
    lag = chosen_lag(INFLUENZA, data, first_origin)
    seasonal_lag = chosen_lag(SEASONAL, data, first_origin)
    return {
        "hhh4 power law, cold refits": (INFLUENZA, False),
        REFERENCE_ROW: (INFLUENZA, True),
        "+ seasonal ar and ne (1 harmonic each)": (SEASONAL, True),
        f"+ distributed lag {lag}": (dataclasses.replace(INFLUENZA, lag_weights=lag), True),
        f"+ seasonal ar/ne and distributed lag {seasonal_lag}": (dataclasses.replace(SEASONAL, lag_weights=seasonal_lag), True),
    }


def scores(y: np.ndarray, mu: np.ndarray, size: np.ndarray | float) -> tuple[float, float]:
    """Mean RPS and log score of negative binomial (``size`` finite) or Poisson forecasts."""
    y = np.asarray(y, dtype=float)
    size = np.broadcast_to(np.asarray(size, dtype=float), y.shape)
    poisson = ~np.isfinite(size)
    rps = np.where(poisson, sr.crps_poisson(y, np.maximum(mu, 1e-12)), 0.0)
    logs = np.where(poisson, -stats.poisson.logpmf(y, np.maximum(mu, 1e-12)), 0.0)
    nb = ~poisson
    if nb.any():
        prob = size[nb] / (size[nb] + mu[nb])
        rps[nb] = sr.crps_negbinom(y[nb], size[nb], prob)
        logs[nb] = -stats.nbinom.logpmf(y[nb], size[nb], prob)
    return float(rps.mean()), float(logs.mean())


def run_r(weeks: int) -> dict | None:
    """R's oneStepAhead in this session; ``None`` when R or surveillance is missing."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return None
    check = subprocess.run([rscript, "-e", "library(surveillance)"], capture_output=True, text=True)
    if check.returncode != 0:
        return None
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        subprocess.run(
            [rscript, str(REPO / "bench" / "r" / "influenza_one_step.R"), folder, str(weeks)],
            check=True, capture_output=True, text=True,
        )
        wall = time.perf_counter() - started
        summary = pd.read_csv(Path(folder) / "summary.csv").iloc[0]
        predictions = pd.read_csv(Path(folder) / "predictions.csv", dtype={"unit_id": str})
    return {"summary": summary, "predictions": predictions, "wall": wall}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weeks", type=int, default=53, help="weeks predicted (the last ones)")
    parser.add_argument("--no-r", action="store_true", help="skip R even when it is installed")
    args = parser.parse_args(argv)
    if not (SURVEILLANCE / "fluBYBW_counts.csv").exists():
        print(f"skipped: no influenza data under {SURVEILLANCE} (set FORECAST_SHARED_DATA)")
        return 0
    data = load(SURVEILLANCE, "fluBYBW")
    wide = data.counts.pivot(index="ds", columns="unit_id", values="y")
    n = len(wide)
    start = n - 1 - args.weeks  # 0-based last period of the first fit
    rows, tables = [], {}
    ours = models(data, start)
    for label, (config, warm) in ours.items():
        EndemicEpidemic(config).fit(data.counts, data.neighbourhood, data.population)  # warm-up: imports, caches
        started = time.perf_counter()
        table = EndemicEpidemic(config).one_step_ahead(
            data.counts, data.neighbourhood, data.population, start=start, warm_start=warm
        )
        seconds = time.perf_counter() - started
        rps, logs = scores(table["y"].to_numpy(), table["mu"].to_numpy(), table["size"].to_numpy())
        iterations = int(table.groupby("origin")["n_iter"].first().sum())
        rows.append({"model": label, "rps": rps, "logs": logs, "seconds": seconds, "iterations": iterations})
        tables[label] = table
        print(f"{label}: RPS {rps:.4f}, log score {logs:.4f}, {seconds:.2f} s", flush=True)
    observed = wide.to_numpy()[-args.weeks :].ravel()
    last = wide.to_numpy()[-args.weeks - 1 : -1].ravel()
    rows.append({"model": "baseline: last count (Poisson)", **dict(zip(("rps", "logs"), scores(observed, last, np.inf), strict=True))})
    rows.append({"model": "baseline: zero", "rps": float(observed.mean()), "logs": np.nan})

    r = None if args.no_r else run_r(args.weeks)
    lines = [
        "## Influenza one-step-ahead: R's hhh4 benchmark",
        "",
        f"Written by `bench/bench_one_step.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; Python "
        f"{platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs, {platform.machine()}, "
        "one BLAS thread. Data: `fluBYBW` (140 districts x 416 weeks). Each of the last "
        f"{args.weeks} weeks is predicted by a fit to the weeks before it (R: `oneStepAhead(type = \"rolling\")`); "
        "scores are means over districts and weeks (RPS, which for counts is the CRPS; log score: "
        "negative log predictive probability). Model: NegBin1, endemic `1 + t + 3 harmonics` with population "
        "offset, `ar ~ 1`, `ne ~ 1` with power-law weights (maxlag 5). Times are wall-clock seconds of the "
        "whole rolling evaluation.",
        "",
    ]
    reference = next(row for row in rows if row["model"] == REFERENCE_ROW)
    if r is not None:
        summary = r["summary"]
        reference_table = tables[REFERENCE_ROW]
        theirs = r["predictions"]
        theirs["ds"] = wide.index[theirs["week"].to_numpy() - 1]
        merged = reference_table.merge(theirs, on=["unit_id", "ds"], suffixes=("", "_r"), validate="one_to_one")
        largest = float(np.max(np.abs(merged["mu"] - merged["mu_r"]) / np.maximum(merged["mu_r"], 1e-8)))
        rows.append({"model": f"R surveillance {summary['version']} hhh4 (oneStepAhead, warm)",
                     "rps": float(summary["rps"]), "logs": float(summary["logs"]), "seconds": float(summary["seconds"])})
        lines += [
            f"R in the same run: oneStepAhead {summary['seconds']:.1f} s ({summary['seconds'] / reference['seconds']:.0f}x our "
            f"warm refits, {summary['seconds'] / rows[0]['seconds']:.0f}x our cold refits); "
            f"RPS {summary['rps']:.6f} vs ours {reference['rps']:.6f} (difference {abs(summary['rps'] - reference['rps']):.1e}), "
            f"log score {summary['logs']:.6f} vs {reference['logs']:.6f} (difference {abs(summary['logs'] - reference['logs']):.1e}); "
            f"largest relative difference of a predictive mean: {largest:.1e} over {len(merged)} forecasts.",
            "",
        ]
    else:
        lines += ["R with surveillance was not found in this run (`apt-get install r-cran-surveillance`); no R row.", ""]
    lines += ["| model | RPS | log score | seconds | Newton/trust iterations |", "|---|---:|---:|---:|---:|"]
    for row in rows:
        seconds = f"{row['seconds']:.2f}" if np.isfinite(row.get("seconds", np.nan)) else ""
        iterations = str(row["iterations"]) if "iterations" in row else ""
        logs = f"{row['logs']:.4f}" if np.isfinite(row["logs"]) else ""
        lines.append(f"| {row['model']} | {row['rps']:.4f} | {logs} | {seconds} | {iterations} |")
    best = min((row for row in rows if row["model"] in ours), key=lambda row: row["rps"])
    lines += [
        "",
        f"Best of ours: {best['model']} (RPS {best['rps']:.4f}, {1 - best['rps'] / reference['rps']:.1%} below hhh4's). "
        "The extensions are options of `EndemicEpidemicConfig`: `ar`/`ne` as `ComponentTerms(harmonics=1)`, "
        f"`lag_weights=(u, 1 - u)` with `u` from {list(LAG_GRID)} by the log-likelihood of the first fit (weeks before "
        "the evaluated ones), so the scored weeks choose nothing.",
        "",
        "Command: `python bench/bench_one_step.py` (R joins when installed).",
    ]
    path = write_section("one_step", "\n".join(lines), RESULTS)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
