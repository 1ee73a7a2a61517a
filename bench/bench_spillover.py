"""Measure spillover specifications against the known truth of synthetic worlds.

The synthetic process (:mod:`forecast.data.synthetic`) adds to each spread
target, from its onset on, ``import_strength`` times the stronghold's count the
week before, however far the target is; provinces bordering the stronghold get
``neighbour_coupling`` times it. :meth:`forecast.data.synthetic.Scenario.imported`
gives that true imported mean per unit and week, so the true imported share of
each unit over the last ``RECENT`` weeks is known exactly (imported / mu).

For each specification of :func:`forecast.spread.spillover_share` and each
world, the bench compares the estimated share over the same weeks with the
truth: mean absolute error for the spread targets, for the far targets (the
embedded scenario's Kunduz, Kandahar, Parwan, Kabul and Kunar; the generator's
targets of class ``far``) and for the other units; how often the 90 % interval
holds the truth; the largest share given to a unit not bordering the
stronghold on worlds without spread; and the fit time. Worlds: the embedded
scenario over several seeds, the ``endemic`` generator of
:mod:`forecast.data.generators` (random strongholds, far targets) and its
``null_endemic`` worlds; and, for the imports invented far from the stronghold
only (no truth of shares there), the null worlds of the other generators
(``null_hawkes``, ``null_endemic_thinned``, ``null_hawkes_thinned``).

Writes the ``spillover`` section of ``bench/RESULTS.md`` (between
``<!-- spillover:start -->`` and ``<!-- spillover:end -->``).

Usage::

    OPENBLAS_NUM_THREADS=1 python bench/bench_spillover.py [--seeds 6] [--quick]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from _common import write_section  # noqa: E402

from forecast.data.generators import generate_world  # noqa: E402
from forecast.data.synthetic import ScenarioConfig, generate_scenario  # noqa: E402
from forecast.geo.gazetteer import Gazetteer  # noqa: E402
from forecast.spread.spillover import DEFAULT_SPILLOVER_SPEC, SPILLOVER_SPECS, spillover_share  # noqa: E402

#: Weeks over which shares are compared (spillover_share's default recent window).
RECENT = 4
#: The embedded scenario's far targets (and Kunar, its one target bordering Nangarhar).
FAR_DEFAULT = ("Kunduz", "Kandahar", "Parwan", "Kabul", "Kunar")


def world_scenarios(kind: str, seeds: list[int]) -> list[tuple[str, Any, list[str]]]:
    """``(label, scenario, far target ids)`` for one family of worlds."""
    gaz = Gazetteer.load("AFG")
    out = []
    for seed in seeds:
        if kind == "synthetic":
            scenario = generate_scenario(seed=seed)
            far = [gaz.resolve(name) for name in FAR_DEFAULT]
        else:
            world = generate_world(kind, seed)
            scenario = generate_scenario(ScenarioConfig(**world.params["endemic"]))
            far = [u for u, c in world.params["target_classes"].items() if c == "far"]
        out.append((f"{kind}:{seed}", scenario, far))
    return out


def score(spec: str, scenario: Any, far: list[str]) -> dict[str, float]:
    """Errors, coverage and fit time of one specification on one scenario."""
    panel = scenario.counts[["unit_id", "ds", "y"]]
    imported = scenario.imported()
    weeks = np.sort(panel["ds"].unique())[-RECENT:]
    window = imported[imported["ds"].isin(weeks)].groupby("unit_id")[["imported", "mu"]].sum()
    truth = window["imported"] / window["mu"]
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = spillover_share(panel, scenario.stronghold, spec=spec)
    seconds = time.perf_counter() - started
    if not result.available:
        return {"seconds": seconds, "available": 0.0}
    units = result.units.set_index("unit_id")
    true = truth.reindex(units.index)
    error = (units["share"] - true).abs()
    covered = (units["share_lo"] - 1e-9 <= true) & (true <= units["share_hi"] + 1e-9)
    targets = units.index.isin(scenario.truth["unit_id"])
    far_mask = units.index.isin(far)
    gaz = Gazetteer.load(scenario.config.country)
    adjacency = pd.DataFrame(gaz.adjacency_matrix(), index=gaz.unit_ids, columns=gaz.unit_ids)
    bordering = adjacency[scenario.stronghold].sum(axis=1) > 0
    not_bordering = ~bordering.reindex(units.index).to_numpy()
    return {
        "available": 1.0,
        "seconds": seconds,
        "target_mae": float(error[targets].mean()) if targets.any() else np.nan,
        "far_mae": float(error[far_mask].mean()) if far_mask.any() else np.nan,
        "other_mae": float(error[~targets].mean()),
        "target_coverage": float(covered[targets].mean()) if targets.any() else np.nan,
        "far_coverage": float(covered[far_mask].mean()) if far_mask.any() else np.nan,
        "other_coverage": float(covered[~targets].mean()),
        "max_share_not_bordering_non_target": float(units["share"][~targets & not_bordering].max()),
    }


#: Null worlds of the other generators: no truth of shares, but nothing far from the stronghold is imported.
OTHER_NULLS = ("null_hawkes", "null_endemic_thinned", "null_hawkes_thinned")


def invented(spec: str, world: Any, gaz: Gazetteer) -> float:
    """The largest share a null world's unit more than FAR_KM from the stronghold is given."""
    from forecast.data.generators import FAR_KM
    from forecast.spread.context import haversine_km

    panel = world.panel("W-MON", gaz)[["unit_id", "ds", "y"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = spillover_share(panel, world.stronghold, gazetteer=gaz, spec=spec)
    if not result.available:
        return np.nan
    units = gaz.units.set_index("unit_id")
    table = result.units.set_index("unit_id")
    source = units.loc[world.stronghold[0]]
    km = haversine_km(source["latitude"], source["longitude"],
                      units.loc[table.index, "latitude"].to_numpy(), units.loc[table.index, "longitude"].to_numpy())
    return float(table["share"][km > FAR_KM].max())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=6, help="worlds per family (default 6)")
    parser.add_argument("--quick", action="store_true", help="two worlds per family; writes nothing")
    args = parser.parse_args(argv)
    n = 2 if args.quick else int(args.seeds)
    families = {
        "synthetic": [20211, *range(1, n)],
        "endemic": list(range(1, n + 1)),
        "null_endemic": list(range(1, n + 1)),
    }
    rows = []
    started = time.perf_counter()
    for family, seeds in families.items():
        for label, scenario, far in world_scenarios(family, seeds):
            for spec in SPILLOVER_SPECS:
                rows.append({"family": family, "world": label, "spec": spec, **score(spec, scenario, far)})
                print(rows[-1], flush=True)
    gaz = Gazetteer.load("AFG")
    nulls = []
    for generator in OTHER_NULLS:
        for seed in families["null_endemic"]:
            world = generate_world(generator, seed, gazetteer=gaz)
            for spec in SPILLOVER_SPECS:
                nulls.append({"generator": generator, "spec": spec, "max_far": invented(spec, world, gaz)})
    invented_table = pd.DataFrame(nulls).pivot_table(index="spec", columns="generator", values="max_far", sort=False)
    print(invented_table.round(3).to_string())
    table = pd.DataFrame(rows)
    summary = table.groupby(["family", "spec"], sort=False).mean(numeric_only=True)
    print(summary.round(3).to_string())
    if args.quick:
        return 0
    lines = [
        "## Spillover: imported shares against the known truth (`bench/bench_spillover.py`)",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()} ({platform.python_version()}), "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}, {time.perf_counter() - started:.0f} s. "
        f"Share of each unit's expected attacks over the last {RECENT} weeks imported from the stronghold, "
        "estimated by `spillover_share(spec=...)`, against the truth of the simulated process "
        "(`Scenario.imported()`: imported / mu). Worlds: the embedded scenario (seeds "
        f"{families['synthetic']}; far targets {', '.join(FAR_DEFAULT)}), the `endemic` generator (seeds "
        f"{families['endemic']}: random strongholds, targets by distance class; far = class `far`, > 400 km) "
        f"and `null_endemic` (same seeds, no spread). MAE: mean absolute error of the share; coverage: share "
        "of units whose 90 % interval holds the truth; max far share: the largest share given to a "
        "non-target not bordering the stronghold (imports invented); means over worlds.",
        "",
        "| worlds | specification | MAE targets | MAE far targets | MAE other units | coverage targets | "
        "coverage far | coverage other | max far share (non-target) | fit (s) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def cell(value: float, fmt: str = "{:.3f}") -> str:
        return "n/a" if not np.isfinite(value) else fmt.format(value)

    for (family, spec), row in summary.iterrows():
        lines.append(
            f"| {family} | `{spec}`{' *' if spec == DEFAULT_SPILLOVER_SPEC else ''} | {cell(row['target_mae'])} | {cell(row['far_mae'])} | {cell(row['other_mae'])} | "
            f"{cell(row['target_coverage'], '{:.0%}')} | {cell(row['far_coverage'], '{:.0%}')} | "
            f"{cell(row['other_coverage'], '{:.0%}')} | {cell(row['max_share_not_bordering_non_target'])} | "
            f"{row['seconds']:.2f} |"
        )
    lines += [
        "",
        f"Null worlds of the other generators (seeds {families['null_endemic']}, weekly): mean over worlds of "
        "the largest share given to a unit more than 400 km from the stronghold (the spatial kernel of the "
        "Hawkes worlds makes true imports that far negligible).",
        "",
        "| specification | " + " | ".join(f"`{g}`" for g in invented_table.columns) + " |",
        "|---|" + "---:|" * len(invented_table.columns),
        *(f"| `{spec}`{' *' if spec == DEFAULT_SPILLOVER_SPEC else ''} | "
          + " | ".join(cell(v) for v in row) + " |" for spec, row in invented_table.iterrows()),
    ]
    lines += [
        "",
        f"The default of `spillover_share` is `{DEFAULT_SPILLOVER_SPEC}` (marked *): against the earlier "
        "default `contiguous` it has a lower MAE for the targets in every family, a lower MAE for the other "
        "units on the generator and null worlds (about equal on the embedded scenario) and invents no "
        "imports on null worlds. On worlds with spread, a non-target far from the stronghold but busy "
        "(5+ events in 13 weeks, e.g. next to a target) can still be given a share (the max far share "
        "column). Its intervals still cover the truth for only about 60-70 % of the "
        "targets (the parameter uncertainty behind them leaves out that the coupling is a constant over "
        "a window in which the targets' onsets fall).",
        "",
        *(f"- `{name}`: {spec.description}" for name, spec in SPILLOVER_SPECS.items()),
    ]
    write_section("spillover", "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
