"""Measure the skill of the alarm rules on synthetic scenarios with known spread.

For many seeds, :func:`forecast.alarms.skill_scenarios` draws three target
provinces and their onset weeks (mid-2019 to late 2021) and simulates the
synthetic process (:mod:`forecast.data.synthetic`) from 2017 to 2021. Every rule
and the combined level are computed for every week from data known then
(:func:`forecast.alarms.alarm_history`), and scored:

- detection: probability of an alarm within 4, 8 and 12 weeks of the true
  onset (the onset week counts as week 0), median delay in weeks;
- false alarms: weeks with an alarm per unit-year in provinces that never
  spread and are not the stronghold, from 2019 on (also counted as episodes,
  i.e. runs of consecutive alarm weeks, and split into the stronghold's
  neighbours, neighbours of a spreading province and the rest).

It also sweeps the main thresholds to show the trade-off, repeats the
evaluation for weaker and stronger spread, the embedded default scenario and
scenarios without spread, writes the figures into the ``alarms`` section of
``bench/RESULTS.md`` (between ``<!-- alarms:start -->`` and
``<!-- alarms:end -->``, leaving the rest alone) and the machine-readable
``src/forecast/alarm_skill.json`` that reports show next to each alert.

Usage::

    python bench/bench_alarms.py [--seeds 100] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from _common import REPO, RESULTS, write_section

from forecast import __version__
from forecast.alarms import (
    WARNING,
    WarningConfig,
    alarm_history,
    evaluate_alarm_skill,
    skill_scenarios,
)
from forecast.files import write_json_atomic

SKILL_JSON = REPO / "src" / "forecast" / "alarm_skill.json"

#: The design every figure refers to (see forecast.alarms.skill_scenarios).
DESIGN = {"targets": 3, "onsets": ("2019-07-01", "2021-09-27"), "start": "2017-01-02", "end": "2021-12-27"}
FALSE_ALARMS_FROM = "2019-01-07"
#: Spread strengths (synthetic parameters). "realistic" is the synthetic default.
STRENGTHS = {
    "weak": {"spread_rate": 0.2, "import_strength": 0.05},
    "realistic": {"spread_rate": 0.4, "import_strength": 0.1},
    "strong": {"spread_rate": 0.8, "import_strength": 0.2},
}
#: Threshold sweeps around the defaults (one knob at a time).
SWEEPS = {
    "cusum_h": [3.5, 4.0, 4.5, 5.0, 6.0, 8.0],
    "alpha": [0.0002, 0.001, 0.005],
    "emergence_events": [2, 3, 4],
    "new_ground_months": [12, 24, 36],
}
METRICS = ["detected_4", "detected_8", "detected_12", "median_delay", "false_alarms_per_unit_year",
           "false_episodes_per_unit_year"]
WARNING_RULES = ("new_ground", "emergence", "exceedance", "cusum")
#: Generators of forecast.data.generators the defaults are checked on (each with its null world).
GENERATOR_WORLDS = ("endemic", "hawkes", "endemic_thinned", "hawkes_thinned")
#: The targets of issue 15, per generator and frequency: detection within 8 weeks (2 months) at warning
#: or above, false warning and false alert episodes per province-year.
TARGETS = {"detected_8": 0.90, "false_warnings": 0.10, "false_alerts": 0.03}


def metrics(row: pd.Series) -> dict[str, Any]:
    """JSON-simple metrics of one row of a skill summary."""
    out: dict[str, Any] = {"targets": int(row["targets"])}
    for key in METRICS:
        value = row[key]
        out["median_delay_weeks" if key == "median_delay" else key] = None if pd.isna(value) else round(float(value), 4)
    out["false_alarms_by_group"] = {
        key.removeprefix("false_alarms_"): (None if pd.isna(row[key]) else round(float(row[key]), 4))
        for key in row.index if key.startswith("false_alarms_") and key != "false_alarms_per_unit_year"
    }
    return out


def no_spread_at_end(scenarios: list, config: WarningConfig) -> dict[str, Any]:
    """Share of no-spread scenarios without any warning in the last ``recent_periods`` (the as-of view)."""
    quiet = []
    for scenario in scenarios:
        history = alarm_history(scenario.counts, scenario.stronghold, config, rules=WARNING_RULES)
        recent = history.level[:, -config.recent_periods:]
        quiet.append(not (recent >= WARNING).any())
    return {"scenarios": len(quiet), "share_without_warning_at_end": round(float(np.mean(quiet)), 4)}


def table(rows: list[tuple[str, dict]], first: str) -> list[str]:
    """Markdown table of metric dicts."""
    lines = [
        f"| {first} | targets | within 4 wk | within 8 wk | within 12 wk | median delay (wk) | weeks flagged / unit-yr (false) | false alarms raised / unit-yr |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m in rows:
        def pct(key: str, m: dict = m) -> str:
            return "n/a" if m.get(key) is None else f"{m[key]:.0%}"

        delay = "n/a" if m.get("median_delay_weeks") is None else f"{m['median_delay_weeks']:g}"
        lines.append(
            f"| {name} | {m['targets']} | {pct('detected_4')} | {pct('detected_8')} | {pct('detected_12')} | {delay} | "
            f"{m['false_alarms_per_unit_year']:.3f} | {m['false_episodes_per_unit_year']:.3f} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=100, help="scenarios per evaluation (default 100)")
    parser.add_argument("--quick", action="store_true", help="few seeds, for trying the script; writes nothing")
    args = parser.parse_args(argv)
    n_seeds = 8 if args.quick else args.seeds
    config = WarningConfig()
    started = time.perf_counter()
    timings: dict[str, float] = {}

    def timed(label: str, func, *a, **k):
        t0 = time.perf_counter()
        value = func(*a, **k)
        timings[label] = time.perf_counter() - t0
        print(f"{label}: {timings[label]:.1f} s", file=sys.stderr)
        return value

    seeds = range(n_seeds)
    realistic = timed("generate", lambda: list(skill_scenarios(seeds, **DESIGN, **STRENGTHS["realistic"])))
    main_eval = timed(
        "main", evaluate_alarm_skill, realistic, config,
        rules=(*WARNING_RULES, "hotspot"), start=FALSE_ALARMS_FROM,
    )
    summary = main_eval.summary.set_index("alarm")

    imported_seeds = range(min(4, n_seeds))
    imported_eval = timed(
        "imported", evaluate_alarm_skill, [realistic[i] for i in imported_seeds], config,
        rules=("emergence", "exceedance", "cusum", "imported"), start=FALSE_ALARMS_FROM, imported_every=8,
    )
    imported_summary = imported_eval.summary.set_index("alarm")

    sweep_rows = []
    for knob, values in SWEEPS.items():
        for value in values:
            result = evaluate_alarm_skill(realistic, replace(config, **{knob: value}), rules=WARNING_RULES,
                                          start=FALSE_ALARMS_FROM)
            row = result.summary.set_index("alarm").loc["warning"]
            sweep_rows.append({"knob": knob, "value": value, "default": getattr(config, knob) == value, **metrics(row)})

    strengths = []
    for label, options in STRENGTHS.items():
        if label == "realistic":
            result, attacks = main_eval, main_eval.attacks_per_month
        else:
            scenarios = list(skill_scenarios(range(n_seeds // 2 or 1), **DESIGN, **options))
            result = evaluate_alarm_skill(scenarios, config, rules=WARNING_RULES, start=FALSE_ALARMS_FROM)
            attacks = result.attacks_per_month
        strengths.append({
            "label": label, **options, "attacks_per_month": round(attacks, 2),
            "warning": metrics(result.summary.set_index("alarm").loc["warning"]),
        })

    from forecast.data.synthetic import DEFAULT_SPREAD, generate_scenario

    default_scenarios = [generate_scenario(seed=s, start="2018-01-01") for s in range(1, n_seeds // 2 + 2)]
    default_eval = evaluate_alarm_skill(default_scenarios, config, rules=WARNING_RULES, start=FALSE_ALARMS_FROM)
    by_target = (
        default_eval.detections[default_eval.detections["alarm"] == "warning"]
        .groupby("unit_id")[["detected_4", "detected_8", "detected_12"]].mean()
    )

    quiet_scenarios = list(skill_scenarios(range(n_seeds // 2 or 1), **{**DESIGN, "targets": 0}))
    quiet_eval = evaluate_alarm_skill(quiet_scenarios, config, rules=WARNING_RULES, start=FALSE_ALARMS_FROM)
    quiet_summary = quiet_eval.summary.set_index("alarm")
    no_spread = {
        **no_spread_at_end(quiet_scenarios, config),
        "false_warnings_per_unit_year": round(float(quiet_summary.loc["warning", "false_episodes_per_unit_year"]), 4),
        "false_alerts_per_unit_year": round(float(quiet_summary.loc["alert", "false_episodes_per_unit_year"]), 4),
    }
    generators = timed("generators", generator_skill, range(max(n_seeds // 5, 4)))
    sweep_seeds = range(max(n_seeds // 10, 4))
    background = {"seeds": f"0-{len(sweep_seeds) - 1}", "rows": timed("background sweep", background_sweep, sweep_seeds)}
    total = time.perf_counter() - started

    skill = {
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "package_version": __version__,
        "design": {
            "scenario": "forecast.alarms.skill_scenarios: random target provinces and onset weeks, "
                        "synthetic endemic-epidemic process (forecast.data.synthetic), stronghold Nangarhar",
            "seeds": f"0-{n_seeds - 1}",
            "targets_per_scenario": DESIGN["targets"],
            "onsets": list(DESIGN["onsets"]),
            "period": [DESIGN["start"], DESIGN["end"]],
            "false_alarms_from": FALSE_ALARMS_FROM,
            "detection": "alarm in the onset week or the h-1 weeks after it (delay < h)",
            "false_alarm": "a week with the alarm in a province that never spread and is not the stronghold",
        },
        "strength": {"label": "realistic", **STRENGTHS["realistic"],
                     "attacks_per_month": round(main_eval.attacks_per_month, 2),
                     "definition": "median attacks per month in a target during the 8 weeks from its onset"},
        "config": config.to_dict(),
        "levels": {level: metrics(summary.loc[level]) for level in ("watch", "warning", "alert")},
        "rules": {
            **{rule: metrics(summary.loc[rule]) for rule in ("new_ground", "emergence", "exceedance", "cusum", "hotspot")},
            "imported": {**metrics(imported_summary.loc["imported"]), "seeds": f"0-{len(imported_seeds) - 1}",
                         "note": "spread model refitted every 8 weeks on data up to then, verdict held in between"},
        },
        "notes": [
            "alert is measured without the imported-risk family (too slow to refit for every week of every seed)",
            "levels at warning or above depend only on the new-ground, exceedance, emergence and CUSUM families",
            "false episodes count the onsets of warning episodes (a warning is then held for follow_up_months)",
        ],
        "no_spread": no_spread,
        "strengths": strengths,
        "default_scenario": {
            "seeds": f"1-{len(default_scenarios)}",
            "spread": dict(DEFAULT_SPREAD),
            "warning": metrics(default_eval.summary.set_index("alarm").loc["warning"]),
            "detected_by_target": {
                unit: {k: round(float(v), 3) for k, v in row.items()} for unit, row in by_target.iterrows()
            },
        },
        "tradeoff": sweep_rows,
        "generators": generators,
        "background": background,
        "seconds": round(total, 1),
    }
    if args.quick:
        print(json.dumps(skill["levels"]["warning"], indent=2))
        return 0
    write_json_atomic(SKILL_JSON, skill)
    write_results(skill, total)
    print(f"wrote {SKILL_JSON.relative_to(REPO)} and the alarms section of {RESULTS.relative_to(REPO)} "
          f"({total:.0f} s)")
    return 0


def generator_skill(seeds: range) -> dict[str, Any]:
    """Default thresholds on each generator of :mod:`forecast.data.generators`, weekly and monthly.

    Detection on the spread worlds, false warning/alert episodes per
    province-year on the null worlds of the same generator, and whether the
    targets (:data:`TARGETS`) are met.
    """
    from forecast.data.generators import generate_worlds

    out: dict[str, Any] = {"seeds": f"0-{len(seeds) - 1}", "targets": TARGETS, "results": []}
    for freq in ("W-MON", "MS"):
        config = WarningConfig.for_freq(freq)
        horizon = "detected_2" if freq == "MS" else "detected_8"
        for generator in GENERATOR_WORLDS:
            spread_eval = evaluate_alarm_skill(generate_worlds(generator, seeds), config, freq=freq,
                                               start=FALSE_ALARMS_FROM)
            null_eval = evaluate_alarm_skill(generate_worlds(f"null_{generator}", seeds), config, freq=freq,
                                             start=FALSE_ALARMS_FROM)
            spread, null = spread_eval.summary.set_index("alarm"), null_eval.summary.set_index("alarm")
            row = {
                "generator": generator, "freq": freq, "targets": int(spread.loc["warning", "targets"]),
                "detected_8": round(float(spread.loc["warning", horizon]), 4),
                "false_warnings": round(float(null.loc["warning", "false_episodes_per_unit_year"]), 4),
                "false_alerts": round(float(null.loc["alert", "false_episodes_per_unit_year"]), 4),
                "new_ground_detected_8": round(float(spread.loc["new_ground", horizon]), 4),
                "new_ground_false": round(float(null.loc["new_ground", "false_episodes_per_unit_year"]), 4),
                "cusum_detected_8": round(float(spread.loc["cusum", horizon]), 4),
                "cusum_false": round(float(null.loc["cusum", "false_episodes_per_unit_year"]), 4),
            }
            row["group_detected_8"] = round(float(spread_eval.group["detected"]), 4)
            row["group_false_per_year"] = round(float(null_eval.group["false_per_year"]), 4)
            row["meets_targets"] = bool(
                row["detected_8"] >= TARGETS["detected_8"] and row["false_warnings"] <= TARGETS["false_warnings"]
                and row["false_alerts"] <= TARGETS["false_alerts"]
            )
            out["results"].append(row)
            print(f"  {freq} {generator}: {row}", file=sys.stderr)
    return out


#: Densities of the background sweep: multiples of the generators' event rates (background, stronghold, spread).
DENSITIES = (0.1, 0.3, 1.0, 3.0)


def background_sweep(seeds: range) -> list[dict[str, Any]]:
    """Weekly skill of the defaults as the worlds' event rates scale (``WorldDesign.density``).

    Shows where the false-warning target can and cannot be met with the new-ground rule the issue
    requires (a first attack after a quiet year warns at once): on a world without spread, such attacks
    happen at about ``lam * exp(-lam)`` per province-year for a background of ``lam`` attacks a year,
    more where rates differ between provinces or cluster in time.
    """
    from forecast.data.generators import WorldDesign, generate_worlds

    config = WarningConfig.for_freq("W-MON")
    rows = []
    for generator in ("endemic", "hawkes"):
        for density in DENSITIES:
            design = WorldDesign(density=density)
            null_worlds = list(generate_worlds(f"null_{generator}", seeds, design))
            background = []
            for world in null_worlds:
                panel = world.panel("W-MON")
                panel = panel[(panel["ds"] >= FALSE_ALARMS_FROM) & ~panel["unit_id"].isin(list(world.stronghold))]
                years = panel["ds"].nunique() * 7 / 365.25
                background.append(panel["y"].sum() / panel["unit_id"].nunique() / years)
            null = evaluate_alarm_skill(null_worlds, config, start=FALSE_ALARMS_FROM).summary.set_index("alarm")
            spread_worlds = list(generate_worlds(generator, seeds, design))
            spread = evaluate_alarm_skill(spread_worlds, config, start=FALSE_ALARMS_FROM).summary.set_index("alarm")
            # The ceiling of any rule: a target with no attack in its first 8 weeks cannot be seen.
            struck = []
            for world in spread_worlds:
                panel = world.panel("W-MON")
                for target in world.truth.itertuples(index=False):
                    window = ((panel["unit_id"] == target.unit_id) & (panel["ds"] >= target.onset)
                              & (panel["ds"] < pd.Timestamp(target.onset) + pd.Timedelta(weeks=8)))
                    struck.append(bool(panel.loc[window, "y"].sum() > 0))
            rate = float(np.mean(background))
            rows.append({
                "generator": generator, "density": density, "background_per_unit_year": round(rate, 3),
                "poisson_new_ground": round(rate * float(np.exp(-rate)), 3),
                "new_ground_false": round(float(null.loc["new_ground", "false_episodes_per_unit_year"]), 3),
                "cusum_false": round(float(null.loc["cusum", "false_episodes_per_unit_year"]), 3),
                "false_warnings": round(float(null.loc["warning", "false_episodes_per_unit_year"]), 3),
                "detected_8": round(float(spread.loc["warning", "detected_8"]), 3),
                "struck_8": round(float(np.mean(struck)), 3),
            })
            print(f"  background sweep: {rows[-1]}", file=sys.stderr)
    return rows


def background_lines(rows: list[dict[str, Any]], seeds: str) -> list[str]:
    """The RESULTS.md table of :func:`background_sweep`."""
    lines = [
        "### Why the false-warning target and new ground conflict: the worlds' event rates scaled",
        "",
        f"Weekly, seeds {seeds} per generator and density (`WorldDesign.density` multiplies the background, "
        "stronghold and spread rates). Background: attacks per province-year outside the stronghold on the null "
        "world, from 2019; `lam*exp(-lam)`: first attacks after a quiet year expected per province-year if "
        "those attacks were Poisson at one rate everywhere. False: episode onsets per province-year on the null "
        "world; detected: level >= warning within 8 weeks on the spread world of the same density; struck: "
        "targets with at least one attack in those 8 weeks (no rule can see more).",
        "",
        "| generator | density | background / prov-yr | lam*exp(-lam) | new ground false | CUSUM false | false warnings | detected | struck |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['generator']} | {r['density']:g} | {r['background_per_unit_year']:.2f} | {r['poisson_new_ground']:.3f} | "
        f"{r['new_ground_false']:.3f} | {r['cusum_false']:.3f} | {r['false_warnings']:.3f} | {r['detected_8']:.0%} | "
        f"{r['struck_8']:.0%} |"
        for r in rows
    ]
    lines += [
        "",
        "The issue asks that a first attack after a quiet year warn at once and that false warnings stay at or "
        "below 0.1 per province-year. New ground alone stays below 0.1 only where quiet provinces see about "
        "0.15 attacks a year or fewer (density 0.1), and there the spreads are thin too (most targets have no "
        "attack at all in their first 8 weeks, and the warnings catch nearly every one that has); at one or more "
        "background attacks a year it fires 0.3-0.4 times per province-year, and it stays there at higher "
        "density because rates differ between provinces and attacks cluster (the Poisson figure falls, the "
        "measured one does not). Both targets can hold together only on worlds whose quiet provinces are nearly "
        "silent; on the others a lower false-warning rate means giving up the warn-at-once rule. What a better "
        "rule could still gain is the gap between struck and detected at density 1 (about 15-20 points).",
    ]
    return lines


def generator_lines(generators: dict[str, Any]) -> list[str]:
    """The RESULTS.md table of :func:`generator_skill`."""
    targets = generators["targets"]
    lines = [
        "### Generators the thresholds were not tuned on",
        "",
        f"`forecast.data.generators`, seeds {generators['seeds']} per generator and frequency: random strongholds, "
        "targets that neighbour the stronghold, lie two or three borders away or more than 400 km away, real name "
        "variants; `*_thinned` keeps 5-20 % of a dense world's events, biased to deadly ones. Detection: level >= "
        "warning within 8 weeks (weekly) or 2 months (monthly) of the onset, on the spread worlds; false warnings "
        "and alerts: episode onsets per province-year on the same generator's null world, from 2019. Target: "
        f">= {targets['detected_8']:.0%} detected, <= {targets['false_warnings']} false warnings and "
        f"<= {targets['false_alerts']} false alerts per province-year.",
        "",
        "| generator | freq | targets | detected | false warnings / prov-yr | false alerts / prov-yr | new ground: detected / false | CUSUM: detected / false | group alarm: detected / false per yr | meets target |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in generators["results"]:
        lines.append(
            f"| {r['generator']} | {r['freq']} | {r['targets']} | {r['detected_8']:.0%} | {r['false_warnings']:.3f} | "
            f"{r['false_alerts']:.3f} | {r['new_ground_detected_8']:.0%} / {r['new_ground_false']:.3f} | "
            f"{r['cusum_detected_8']:.0%} / {r['cusum_false']:.3f} | "
            f"{r['group_detected_8']:.0%} / {r['group_false_per_year']:.2f} | {'yes' if r['meets_targets'] else 'no'} |"
        )
    return lines


def write_results(skill: dict[str, Any], seconds: float) -> None:
    """Replace the alarms section of bench/RESULTS.md (create the file or the section if missing)."""
    config = skill["config"]
    strength = skill["strength"]
    warning = skill["levels"]["warning"]
    lines = [
        "## Alarms: detection of spread on synthetic scenarios",
        "",
        f"Written by `bench/bench_alarms.py` on {skill['generated']}; Python {platform.python_version()}, "
        f"numpy {np.__version__}, {os.cpu_count()} CPUs; {seconds:.0f} s. The same figures are in "
        "`src/forecast/alarm_skill.json` (`forecast.alarms.alarm_skill()`), which reports show next to each alert.",
        "",
        f"Design: seeds {skill['design']['seeds']}, {skill['design']['targets_per_scenario']} random target provinces "
        f"per scenario with onset weeks drawn from {skill['design']['onsets'][0]} to {skill['design']['onsets'][1]}, "
        f"weekly synthetic process {skill['design']['period'][0]} to {skill['design']['period'][1]}, stronghold Nangarhar. "
        "Every alarm at week t uses data up to t only. Detection: an alarm in the onset week or the h-1 weeks after. "
        f"False alarms: weeks with the alarm in provinces that never spread (not the stronghold), from "
        f"{skill['design']['false_alarms_from']}, per unit-year; episodes count runs of consecutive alarm weeks once.",
        "",
        f"Realistic strength = the synthetic defaults `spread_rate={strength['spread_rate']}`, "
        f"`import_strength={strength['import_strength']}`: a target gains {strength['spread_rate']} attacks a week "
        f"(times the season) plus {strength['import_strength']} per stronghold attack the week before; the median "
        f"target saw {strength['attacks_per_month']:.1f} attacks a month in its first 8 weeks (compare: ISIS-K struck "
        "Kunduz and Kandahar a few times in October 2021).",
        "",
        "### Default thresholds, realistic strength",
        "",
        *table([(f"level >= {k}", skill["levels"][k]) for k in ("watch", "warning", "alert")]
               + [(f"rule `{k}`", v) for k, v in skill["rules"].items()], "alarm"),
        "",
        f"The imported-risk rule was measured on seeds {skill['rules']['imported']['seeds']} only, with the spread "
        "model refitted every 8 weeks; alert is measured without it. "
        "False warnings (level >= warning) per unit-year by group: "
        + ", ".join(f"{k.replace('_', ' ')} {v:.3f}" for k, v in warning["false_alarms_by_group"].items() if v is not None)
        + ".",
        "",
        *generator_lines(skill["generators"]),
        "",
        "The group alarm is judged on the whole world: detected when raised within 8 weeks (2 months) of the "
        "first onset (these worlds spread into 3 provinces at unrelated dates, not several in one month as ISIS-K "
        "did in October 2021, so it is rarely raised), false alarms are its onsets per world-year without spread.",
        "",
        "New ground fires on a province's first attack in `new_ground_months` (12). Every generator here gives "
        "the provinces outside the stronghold sporadic background attacks (about one a year), and a first attack "
        "after a quiet year then happens about 0.35 times per province-year without any spread: that is most of "
        "the false warnings above, and the trade-off table below shows what a longer quiet stretch buys. The "
        "rule stays on by default because on lists of notable attacks (the press account of ISIS-K in October "
        "2021, tests/test_alarms_new_ground.py) it is the only rule that sees a one-attack spread.",
        "",
        *background_lines(skill["background"]["rows"], skill["background"]["seeds"]),
        "",
        "### Trade-off (level >= warning; one threshold varied, the others at their defaults)",
        "",
        "| threshold | value | within 4 wk | within 8 wk | within 12 wk | median delay (wk) | false warnings / unit-yr |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in skill["tradeoff"]:
        mark = " (default)" if row["default"] else ""
        delay = "n/a" if row["median_delay_weeks"] is None else f"{row['median_delay_weeks']:g}"
        lines.append(
            f"| `{row['knob']}` | {row['value']:g}{mark} | {row['detected_4']:.0%} | {row['detected_8']:.0%} | "
            f"{row['detected_12']:.0%} | {delay} | {row['false_episodes_per_unit_year']:.3f} |"
        )
    lines += [
        "",
        "False warnings here and below are warnings raised (episode onsets) per unit-year; the weeks a flag is "
        "then held for `follow_up_months` are not counted again. The CUSUM threshold `cusum_h` sets the "
        "trade-off between the rate rules' detection and their false warnings: at 4.0 two attacks in consecutive "
        "weeks in a quiet province already signal (the first scores about 3.6, the second, expected as an "
        "aftershock by the in-control forecast, about 0.4). Exceedance (`alpha`) and emergence add almost no "
        "detection that the CUSUM does not already give; they serve as plain-language evidence in the reasons. "
        "Most false warnings at the defaults are new ground (first attacks after a quiet year), which "
        "`new_ground_months` trades against the one-attack spreads only that rule sees.",
        "",
        "The watch-level families are weak on these scenarios. Gi* hot spots rarely single out one province "
        "among 33 after FDR control. The imported-risk share has no detection skill here: the synthetic process "
        "imports into targets whatever their distance, while the fitted spread model (one neighbour coefficient, "
        "power-law weights) concentrates the stronghold's influence on its own neighbours, whose share then "
        "follows the stronghold's surges. Both only raise a watch, or turn a warning into an alert.",
        "",
        "### Strength of the spread (level >= warning)",
        "",
        "| strength | `spread_rate` | `import_strength` | attacks / month | within 4 wk | within 8 wk | within 12 wk | median delay (wk) | false warnings / unit-yr |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in skill["strengths"]:
        m = row["warning"]
        delay = "n/a" if m["median_delay_weeks"] is None else f"{m['median_delay_weeks']:g}"
        lines.append(
            f"| {row['label']} | {row['spread_rate']} | {row['import_strength']} | {row['attacks_per_month']:.1f} | "
            f"{m['detected_4']:.0%} | {m['detected_8']:.0%} | {m['detected_12']:.0%} | {delay} | "
            f"{m['false_episodes_per_unit_year']:.3f} |"
        )
    default = skill["default_scenario"]
    no_spread = skill["no_spread"]
    lines += [
        "",
        f"Embedded default scenario (five 2021 onsets: {', '.join(default['spread'])}; seeds {default['seeds']}): "
        f"{default['warning']['detected_4']:.0%} / {default['warning']['detected_8']:.0%} / "
        f"{default['warning']['detected_12']:.0%} detected within 4 / 8 / 12 weeks, "
        f"{default['warning']['false_episodes_per_unit_year']:.3f} false warnings per unit-year; by target within 8 weeks: "
        + ", ".join(f"{unit} {row['detected_8']:.0%}" for unit, row in default["detected_by_target"].items())
        + " (late-autumn onsets and provinces bordering the stronghold are the hard cases).",
        "",
        f"Without spread ({no_spread['scenarios']} scenarios): {no_spread['false_warnings_per_unit_year']:.3f} false "
        f"warnings and {no_spread['false_alerts_per_unit_year']:.3f} false alerts per unit-year; "
        f"{no_spread['share_without_warning_at_end']:.0%} of the scenarios show no province above watch as of "
        "their last week.",
        "",
        "Default thresholds: " + ", ".join(
            f"`{k}={v}`" for k, v in config.items()
            if k in ("alpha", "cusum_h", "cusum_shift", "cusum_factor", "emergence_events", "quiet_periods",
                     "recent_periods", "baseline_periods", "guard_periods", "prior_events", "hotspot_alpha",
                     "imported_share", "imported_factor")
        ) + ".",
    ]
    write_section("alarms", "\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
