"""Benchmark the endemic-epidemic (hhh4) model on the shared surveillance data.

Fits the measles reference model (compared with R's ``surveillance::hhh4``)
and the influenza power-law model (140 districts x 416 weeks, maxlag 5, three
harmonics, negative binomial), times them, and writes the figures into the
``spread`` section of ``bench/RESULTS.md`` (between ``<!-- spread:start -->``
and ``<!-- spread:end -->``), leaving the rest of the file alone.

Usage::

    python bench/bench_spread.py [--data ../shared/data/surveillance] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from _common import RESULTS, SURVEILLANCE, write_section

from forecast.models.endemic_epidemic import (
    EndemicEpidemic,
    EndemicEpidemicConfig,
    EndemicEpidemicFit,
    SurveillanceData,
    read_surveillance_csvs,
)

R_TERM_NAMES = {"end.sin(2 * pi * t/52)": "end.sin1", "end.cos(2 * pi * t/52)": "end.cos1"}
#: Wall time of R's hhh4 on the influenza model as reported in the issue (seconds).
R_INFLUENZA_SECONDS = 2.8

MEASLES = EndemicEpidemicConfig(
    trend=True, harmonics=1, season_period=52, weights="adjacency", family="negbin1"
)
INFLUENZA = EndemicEpidemicConfig(
    trend=True, harmonics=3, season_period=52, weights="powerlaw", maxlag=5, family="negbin1"
)


def load(folder: Path, name: str) -> SurveillanceData:
    """Read one data set of the surveillance export."""
    return read_surveillance_csvs(
        folder / f"{name}_counts.csv",
        folder / f"{name}_neighbourhood.csv",
        folder / f"{name}_population.csv",
    )


def timed_fits(
    config: EndemicEpidemicConfig, data: SurveillanceData, repeats: int
) -> tuple[EndemicEpidemicFit, list[float]]:
    """Fit ``repeats`` times (after one warm-up fit) and return the last fit and the wall times."""
    EndemicEpidemic(config).fit(
        data.counts, data.neighbourhood, data.population
    )  # warm caches and imports
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        fit = EndemicEpidemic(config).fit(data.counts, data.neighbourhood, data.population)
        seconds.append(time.perf_counter() - started)
    return fit, seconds


def params_table(fit: EndemicEpidemicFit, reference: pd.DataFrame | None = None) -> list[str]:
    """Markdown table of estimates and standard errors (and R's, when given)."""
    if reference is None:
        lines = ["| term | estimate | std. error |", "|---|---:|---:|"]
        for term, value in fit.params.items():
            lines.append(f"| `{term}` | {value:.6f} | {fit.std_errors[term]:.6f} |")
        return lines
    lines = [
        "| term | estimate | R estimate | abs. diff | std. error | R std. error | rel. diff |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for term in reference.index:
        ours, theirs = fit.params[term], reference.loc[term, "estimate"]
        se, r_se = fit.std_errors[term], reference.loc[term, "std_error"]
        lines.append(
            f"| `{term}` | {ours:.6f} | {theirs:.6f} | {abs(ours - theirs):.1e} | {se:.6f} | {r_se:.6f} | "
            f"{abs(se / r_se - 1):.1e} |"
        )
    return lines


def section(folder: Path, repeats: int) -> str:
    """Run both benchmarks and return the Markdown section (its markers are added by :func:`write_section`)."""
    measles = load(folder, "measlesWeserEms")
    measles_fit, measles_seconds = timed_fits(MEASLES, measles, repeats)
    reference = pd.read_csv(folder / "reference_measles_hhh4_coef.csv")
    reference["term"] = reference["term"].replace(R_TERM_NAMES)
    reference = reference.set_index("term")
    summary = pd.read_csv(
        folder / "reference_measles_hhh4_summary.csv", header=None, index_col=0
    ).iloc[:, 0]
    loglik_diff = measles_fit.loglik - summary["loglik"]
    coef_diff = (measles_fit.params[reference.index] - reference["estimate"]).abs().max()
    se_diff = (measles_fit.std_errors[reference.index] / reference["std_error"] - 1).abs().max()

    started = time.perf_counter()
    influenza = load(folder, "fluBYBW")
    read_seconds = time.perf_counter() - started
    flu_fit, flu_seconds = timed_fits(INFLUENZA, influenza, repeats)

    lines = [
        "## Spread: endemic-epidemic model (hhh4)",
        "",
        f"Written by `bench/bench_spread.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
        f"Python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs, "
        f"{platform.machine()}. Times are wall-clock seconds of `EndemicEpidemic(config).fit(...)` "
        f"(panel validation included), best and median of {repeats} runs after a warm-up.",
        "",
        "### Measles, Weser-Ems (17 districts x 104 weeks): reference check against R",
        "",
        "Model: NegBin1, endemic `~ 1 + t + sin/cos(2 pi t/52)` with population offset, "
        "`ar ~ 1`, `ne ~ 1` with first-order adjacency weights.",
        "",
        f"- log-likelihood: {measles_fit.loglik:.6f} (R: {summary['loglik']:.6f}; difference {loglik_diff:.1e})",
        f"- largest coefficient difference: {coef_diff:.1e}; largest relative std. error difference: {se_diff:.1e}",
        f"- fit time: best {min(measles_seconds):.3f} s, median {statistics.median(measles_seconds):.3f} s "
        f"(R hhh4: {summary['fit_seconds']:.3f} s); {measles_fit.n_iter} iterations",
        "",
        *params_table(measles_fit, reference),
        "",
        "### Influenza, Bavaria and Baden-Württemberg (140 districts x 416 weeks)",
        "",
        "Model: NegBin1 (shared psi), endemic `~ 1 + t + 3 harmonics (period 52)` with population offset, "
        "`ar ~ 1`, `ne ~ 1` with power-law weights in adjacency order (maxlag 5, normalised per source, "
        "decay `neweights.d` estimated).",
        "",
        f"- log-likelihood: {flu_fit.loglik:.4f} over {flu_fit.n_obs} observations; "
        f"converged: {flu_fit.converged}; {flu_fit.n_iter} iterations",
        f"- fit time: best {min(flu_seconds):.3f} s, median {statistics.median(flu_seconds):.3f} s "
        f"(target: well under 1.4 s; R hhh4 about {R_INFLUENZA_SECONDS} s); reading the CSVs: {read_seconds:.3f} s",
        "",
        *params_table(flu_fit),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=SURVEILLANCE, help="folder of the surveillance CSVs"
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed fits per model")
    parser.add_argument("--output", type=Path, default=RESULTS, help="Markdown file to update")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(
            f"{args.data}: surveillance data not found; pass --data or set FORECAST_SHARED_DATA",
            file=sys.stderr,
        )
        return 2
    text = section(args.data, max(1, args.repeats))
    path = write_section("spread", text, args.output)
    print(text)
    print(f"\nwritten to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
