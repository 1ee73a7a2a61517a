"""Measured skill of the rules: detection of known spreads and false alarms on synthetic scenarios."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecast.alarms.assess import AlarmHistory, WarningResult, alarm_history, panel_fatalities
from forecast.alarms.config import ALERT, WARNING, WATCH, WarningConfig
from forecast.errors import ForecastError, InputError
from forecast.geo.gazetteer import Gazetteer
from forecast.panel import PanelData, periods_per_year
from forecast.spread import (
    gazetteer_for,
)


# ------------------------------------------------------------------- skill
def detection_scores(
    history: AlarmHistory,
    truth: pd.DataFrame,
    *,
    start: Any = None,
    horizons: Sequence[int] = (4, 8, 12),
    gazetteer: Gazetteer | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Detection delays of true spread and false alarms elsewhere, per rule and per level.

    Parameters
    ----------
    history
        :func:`alarm_history` of a scenario.
    truth
        ``unit_id, onset`` of the units that spread (``Scenario.truth``).
    start
        First period counted for false alarms (default: the first period).
    horizons
        Detection windows in periods.
    gazetteer
        Adjacency used to group false alarms (default: the units' country).

    Returns
    -------
    detections
        One row per (target, alarm): ``unit_id, onset, alarm, delay`` (periods
        from the onset week to the first alarm at or after it, 0 = in the
        onset week; NaN if none before the data end), ``observed`` (periods
        observed from the onset on) and ``detected_<h>`` (an alarm within
        ``h`` periods, i.e. delay < h; NaN when fewer than ``h`` were observed).
    false_alarms
        One row per (alarm, group): ``alarm_periods`` (periods with the alarm)
        and ``alarm_episodes`` (runs of consecutive alarm periods) over
        ``unit_periods`` / ``unit_years`` in units that never spread and are
        not in the stronghold; ``group`` is ``stronghold_neighbour``,
        ``next_to_spread`` (borders a unit that spread) or ``other``.

    Notes
    -----
    The alarms are each rule firing (named by the rule) and the combined
    level at ``watch``, ``warning`` and ``alert`` or above (named by the level).
    """
    periods_per_year = 12.0 if history.freq == "MS" else 52.0
    start = pd.Timestamp(start) if start is not None else history.ds[0]
    alarms = {name: rule.fired for name, rule in history.rules.items()}
    for code, level_name in ((WATCH, "watch"), (WARNING, "warning"), (ALERT, "alert")):
        alarms[level_name] = history.level >= code
    spread_units = set(truth["unit_id"])
    rows = []
    for target in truth.itertuples(index=False):
        if target.unit_id not in history.units:
            continue
        i = history.units.index(target.unit_id)
        after = np.flatnonzero(history.ds >= target.onset)
        if not len(after):
            continue
        observed = len(after)
        for name, fired in alarms.items():
            hits = np.flatnonzero(fired[i, after])
            delay = float(hits[0]) if len(hits) else np.nan
            row = {"unit_id": target.unit_id, "onset": target.onset, "alarm": name, "delay": delay, "observed": observed}
            for h in horizons:
                row[f"detected_{h}"] = (float(delay < h) if np.isfinite(delay) else 0.0) if observed >= h else np.nan
            rows.append(row)
    detections = pd.DataFrame(
        rows, columns=["unit_id", "onset", "alarm", "delay", "observed", *(f"detected_{h}" for h in horizons)]
    )
    try:
        gaz = gazetteer_for(history.units, gazetteer)
        border = {u: set(gaz.neighbours(u)) for u in history.units}
    except ForecastError:
        border = {u: set() for u in history.units}
    near_stronghold = set().union(*(border[u] for u in history.stronghold)) if history.stronghold else set()
    near_spread = set().union(*(border[u] for u in spread_units if u in border)) if spread_units else set()
    groups: dict[str, list[int]] = {"stronghold_neighbour": [], "next_to_spread": [], "other": []}
    for i, unit in enumerate(history.units):
        if unit in spread_units or unit in history.stronghold:
            continue
        group = "stronghold_neighbour" if unit in near_stronghold else "next_to_spread" if unit in near_spread else "other"
        groups[group].append(i)
    counted = np.flatnonzero(history.ds >= start)
    fa_rows = []
    for name, fired in alarms.items():
        for group, members in groups.items():
            block = fired[np.ix_(members, counted)]
            fa_rows.append({
                "alarm": name,
                "group": group,
                "alarm_periods": int(block.sum()),
                "alarm_episodes": _episodes(block),
                "unit_periods": len(members) * len(counted),
                "unit_years": len(members) * len(counted) / periods_per_year,
            })
    return detections, pd.DataFrame(fa_rows)


def _episodes(fired: np.ndarray) -> int:
    """Number of runs of consecutive alarm periods (onsets of alarms)."""
    if fired.size == 0:
        return 0
    padded = np.hstack([np.zeros((fired.shape[0], 1), dtype=bool), fired])
    return int((padded[:, 1:] & ~padded[:, :-1]).sum())


def summarise_skill(
    detections: pd.DataFrame,
    false_alarms: pd.DataFrame,
    horizons: Sequence[int] = (4, 8, 12),
) -> pd.DataFrame:
    """Per alarm: detection within each horizon, median delay, false alarms per unit-year.

    Returns
    -------
    pandas.DataFrame
        ``alarm, targets, detected_<h>`` (fractions of targets observed that
        long), ``median_delay`` (periods; undetected targets count as
        infinitely late, so it is NaN when fewer than half are ever
        detected), ``false_alarms_per_unit_year`` (alarm periods),
        ``false_episodes_per_unit_year`` (alarm onsets) and
        ``false_alarms_<group>`` per unit-year for each group of
        :func:`detection_scores`.
    """
    rows = []
    for alarm, fa in false_alarms.groupby("alarm", sort=False):
        group = detections[detections["alarm"] == alarm]
        row: dict[str, Any] = {"alarm": alarm, "targets": int(len(group))}
        for h in horizons:
            row[f"detected_{h}"] = float(group[f"detected_{h}"].mean()) if len(group) else np.nan
        delays = group["delay"].fillna(np.inf).to_numpy()
        median = float(np.median(delays)) if len(delays) else np.nan
        row["median_delay"] = median if np.isfinite(median) else np.nan
        years = fa["unit_years"].sum()
        row["false_alarms_per_unit_year"] = float(fa["alarm_periods"].sum() / years) if years else np.nan
        row["false_episodes_per_unit_year"] = float(fa["alarm_episodes"].sum() / years) if years else np.nan
        for name, part in fa.groupby("group", sort=False):
            part_years = part["unit_years"].sum()
            row[f"false_alarms_{name}"] = float(part["alarm_periods"].sum() / part_years) if part_years else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def skill_scenarios(
    seeds: Iterable[int],
    *,
    targets: int = 3,
    onsets: tuple[str, str] = ("2019-07-01", "2021-09-27"),
    start: str = "2017-01-02",
    end: str = "2021-12-27",
    **scenario_options: Any,
) -> Iterable[Any]:
    """Synthetic scenarios with known spread for measuring alarm skill.

    For each seed, ``targets`` provinces outside the stronghold are drawn at
    random, each with an onset week drawn uniformly between ``onsets``
    (late enough that 12 weeks after it are observed), and
    :func:`forecast.data.synthetic.generate_scenario` simulates ``start`` to
    ``end`` with those onsets. ``targets=0`` gives scenarios without spread.

    Parameters
    ----------
    seeds
        One scenario per seed (the draw of targets and onsets uses it too).
    targets, onsets, start, end
        The design.
    **scenario_options
        Other :class:`forecast.data.synthetic.ScenarioConfig` fields, e.g.
        ``spread_rate=0.4, import_strength=0.1`` (the defaults).

    Yields
    ------
    forecast.data.synthetic.Scenario
    """
    from forecast.data.synthetic import SCENARIO_COUNTRY, ScenarioConfig, generate_scenario

    gazetteer = Gazetteer.load(SCENARIO_COUNTRY)
    stronghold_names = scenario_options.get("stronghold", ScenarioConfig().stronghold)
    stronghold = {gazetteer.resolve(n) for n in stronghold_names}
    candidates = [u for u in gazetteer.unit_ids if u not in stronghold]
    weeks = pd.date_range(onsets[0], onsets[1], freq="W-MON")
    for seed in seeds:
        rng = np.random.default_rng([int(seed), 20211])
        chosen = rng.choice(candidates, size=targets, replace=False) if targets else []
        when = rng.choice(weeks.to_numpy(), size=targets) if targets else []
        spread = {gazetteer.name_of(u): f"{pd.Timestamp(w):%F}" for u, w in zip(chosen, when, strict=True)}
        yield generate_scenario(seed=int(seed), start=start, end=end, spread=spread, **scenario_options)


@dataclass
class SkillEvaluation:
    """Alarm skill over a set of scenarios.

    Attributes
    ----------
    summary
        :func:`summarise_skill` over all scenarios.
    detections, false_alarms
        The pooled tables of :func:`detection_scores`.
    attacks_per_month
        Median attacks per month (4.35 weeks) in the spread targets during the
        8 weeks from their onset: the strength of the spread that was detected.
    group
        The group expansion alarm (with the new-ground rule): ``detected``,
        the share of spread scenarios where it was raised within 8 weeks (2
        months) of the first onset, and ``false_per_year``, its onsets per
        year in scenarios without spread (from ``start``); NaN where no such
        scenario was evaluated.
    """

    summary: pd.DataFrame
    detections: pd.DataFrame
    false_alarms: pd.DataFrame
    attacks_per_month: float
    group: dict[str, float] = field(default_factory=dict)


def evaluate_alarm_skill(
    scenarios: Iterable[Any],
    config: WarningConfig | None = None,
    *,
    rules: Sequence[str] | None = None,
    start: Any = "2019-01-07",
    imported_every: int | None = None,
    freq: str = "W-MON",
    horizons: Sequence[int] | None = None,
) -> SkillEvaluation:
    """Run :func:`alarm_history` and :func:`detection_scores` on each scenario and pool the results.

    Parameters
    ----------
    scenarios
        :class:`forecast.data.synthetic.Scenario` objects (e.g. from
        :func:`skill_scenarios`) or :class:`forecast.data.generators.World`
        objects (:func:`forecast.data.generators.generate_worlds`): anything
        with ``truth`` and ``stronghold`` and either ``counts`` (a weekly
        panel) or ``panel(freq)``.
    config
        Thresholds (default :meth:`WarningConfig.for_freq` of ``freq``).
    rules, imported_every
        Passed to :func:`alarm_history` (default rules: new ground when the
        config has it, emergence, exceedance, CUSUM). The level at warning or
        above depends only on the warning families and new ground, so leaving
        out ``hotspot`` and ``imported`` (slow) does not change it.
    start
        First period counted for false alarms (leave the in-control baseline
        time to fill).
    freq
        Panel frequency (``W-MON`` or ``MS``; a monthly panel needs ``panel(freq)``).
    horizons
        Detection windows in periods (default 4, 8, 12 weeks or 1, 2, 3 months).

    Examples
    --------
    >>> result = evaluate_alarm_skill(skill_scenarios([1], targets=1))
    >>> sorted(result.summary["alarm"])
    ['alert', 'cusum', 'emergence', 'exceedance', 'new_ground', 'warning', 'watch']
    """
    from forecast.data.synthetic import SCENARIO_COUNTRY

    config = config or WarningConfig.for_freq(freq)
    if rules is None:
        rules = (("new_ground",) if config.new_ground else ()) + ("emergence", "exceedance", "cusum")
    horizons = tuple(horizons or ((1, 2, 3) if freq == "MS" else (4, 8, 12)))
    gazetteer = Gazetteer.load(SCENARIO_COUNTRY)  # the skill scenarios are synthetic
    detections, false_alarms, strength = [], [], []
    group_hits: list[bool] = []
    group_false: list[tuple[int, int]] = []
    for scenario in scenarios:
        panel = scenario.panel(freq) if hasattr(scenario, "panel") else scenario.counts
        if freq == "MS" and not hasattr(scenario, "panel"):
            raise ForecastError("a monthly skill evaluation needs scenarios with panel(freq) (generators.World)")
        stronghold = scenario.stronghold
        seed = scenario.seed if hasattr(scenario, "seed") else scenario.config.seed
        truth = scenario.truth[["unit_id", "onset"]].copy()
        # The onset's own period is period 0 of the detection delay.
        truth["onset"] = pd.to_datetime(truth["onset"]).dt.to_period("M" if freq == "MS" else "W-SUN").dt.start_time
        data = PanelData.from_panel(panel[["unit_id", "ds", "y"]], freq=freq)
        fatalities = panel_fatalities(panel, data)
        history = alarm_history(
            data, stronghold, config, gazetteer, rules=rules, imported_every=imported_every, imported_from=start,
            fatalities=fatalities,
        )
        found, false = detection_scores(history, truth, start=start, horizons=horizons, gazetteer=gazetteer)
        if history.group is not None:
            if len(truth):
                first = int(np.searchsorted(history.ds, truth["onset"].min()))
                group_hits.append(bool(history.group[first : first + horizons[1]].any()))
            else:
                counted = history.group[history.ds >= pd.Timestamp(start)]
                onsets = int(np.sum(counted[1:] & ~counted[:-1]) + (counted[:1].sum() if len(counted) else 0))
                group_false.append((onsets, len(counted)))
        detections.append(found.assign(seed=seed))
        false_alarms.append(false.assign(seed=seed))
        per_month = 1.0 if freq == "MS" else 52.0 / 12.0
        window = horizons[1]
        for target in truth.itertuples(index=False):
            row = data.units.index(target.unit_id)
            strength.append(data.y[row, data.ds >= target.onset][:window].sum() * per_month / window)
    detections_all = pd.concat(detections, ignore_index=True)
    false_all = pd.concat(false_alarms, ignore_index=True)
    return SkillEvaluation(
        summary=summarise_skill(detections_all, false_all, horizons),
        detections=detections_all,
        false_alarms=false_all,
        attacks_per_month=float(np.median(strength)) if strength else math.nan,
        group={
            "detected": float(np.mean(group_hits)) if group_hits else math.nan,
            "false_per_year": (
                sum(n for n, _ in group_false) / (sum(p for _, p in group_false) / periods_per_year(freq))
                if group_false and sum(p for _, p in group_false) else math.nan
            ),
        },
    )


#: Where the committed alarm-skill figures live (written by ``bench/bench_alarms.py``).
ALARM_SKILL_FILE = "alarm_skill.json"


def alarm_skill(path: str | Path | None = None) -> dict[str, Any]:
    """The measured skill of the default rules (from ``bench/bench_alarms.py``).

    Returns the committed ``forecast/alarm_skill.json``: per rule and for the
    combined level, the probability of detection within 4, 8 and 12 weeks of
    the true onset, the median delay, and false alarms per unit-year, plus the
    scenario settings and thresholds they were measured with. Reports show
    these figures next to each alert.

    Examples
    --------
    >>> skill = alarm_skill()
    >>> sorted(skill["levels"]["warning"])[:2]
    ['detected_12', 'detected_4']
    """
    if path is None:
        text = resources.files("forecast").joinpath(ALARM_SKILL_FILE).read_text(encoding="utf-8")
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot read the alarm-skill file ({exc.strerror})", path=path) from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"the alarm-skill file is not valid JSON ({exc.msg}); rerun bench/bench_alarms.py",
                         path=path or ALARM_SKILL_FILE) from exc


#: Plain names of the rule families for tables read by people.
RULE_LABELS = {
    "new_ground": "new ground (first attack in a year)",
    "exceedance": "forecast exceedance",
    "emergence": "emergence after quiet",
    "cusum": "sustained increase (CUSUM)",
    "hotspot": "emerging hot spot (Gi*)",
    "imported": "imported risk (spread model)",
}


def skill_table(skill: dict[str, Any] | None = None) -> pd.DataFrame:
    """The measured alarm skill as a table: one row per rule and per combined level.

    Parameters
    ----------
    skill
        As returned by :func:`alarm_skill` (default: the committed figures).

    Returns
    -------
    pandas.DataFrame
        ``alarm, detected_4, detected_8, detected_12`` (probability of detection
        within 4, 8, 12 weeks of the true onset), ``median_delay_weeks``,
        ``false_episodes_per_unit_year`` (false alarms raised, in provinces
        that never spread) and ``false_alarms_per_unit_year`` (weeks flagged,
        which counts the three months an episode holds its flag).

    Examples
    --------
    >>> table = skill_table()
    >>> table["alarm"].tolist()[:3]
    ['level watch', 'level warning or above', 'level alert']
    """
    skill = skill if skill is not None else alarm_skill()
    columns = ["detected_4", "detected_8", "detected_12", "median_delay_weeks", "false_episodes_per_unit_year",
               "false_alarms_per_unit_year"]
    rows = []
    for level, figures in skill.get("levels", {}).items():
        label = "level warning or above" if level == "warning" else f"level {level}"
        rows.append({"alarm": label, **{c: figures.get(c) for c in columns}})
    for rule, figures in skill.get("rules", {}).items():
        rows.append({"alarm": RULE_LABELS.get(rule, rule), **{c: figures.get(c) for c in columns}})
    return pd.DataFrame(rows, columns=["alarm", *columns])


def generator_skill_table(skill: dict[str, Any] | None = None) -> pd.DataFrame:
    """The default thresholds' skill on each calibration generator and frequency (``bench/bench_alarms.py``).

    Returns
    -------
    pandas.DataFrame
        ``generator, freq, detected_8`` (level >= warning within 8 weeks or
        2 months of the onset), ``false_warnings``, ``false_alerts`` (episode
        onsets per province-year on the generator's null world) and
        ``meets_targets``; empty when the skill file predates the generators.

    Examples
    --------
    >>> table = generator_skill_table()
    >>> sorted(set(table["freq"]))
    ['MS', 'W-MON']
    """
    skill = skill if skill is not None else alarm_skill()
    rows = skill.get("generators", {}).get("results", [])
    columns = ["generator", "freq", "detected_8", "false_warnings", "false_alerts", "meets_targets"]
    return pd.DataFrame([{c: row.get(c) for c in columns} for row in rows], columns=columns)


def generator_targets_text(skill: dict[str, Any] | None = None) -> str:
    """The targets ``meets_targets`` is judged against, and how many rows meet them, in a sentence.

    Examples
    --------
    >>> generator_targets_text().startswith("Target: at least 90 % of spreads at warning or above")
    True
    """
    skill = skill if skill is not None else alarm_skill()
    targets = skill.get("generators", {}).get("targets") or {}
    if not targets:
        return ""
    table = generator_skill_table(skill)
    met = int(table["meets_targets"].fillna(False).astype(bool).sum())
    return (
        f"Target: at least {100 * targets['detected_8']:.0f} % of spreads at warning or above within 8 weeks "
        f"(2 months), at most {targets['false_warnings']:g} false warnings and {targets['false_alerts']:g} false "
        f"alerts per province-year; {met} of {len(table)} generator and frequency rows meet it."
    )


def episode_table(result: WarningResult) -> pd.DataFrame:
    """The warning episodes of an assessment, for readers: one row per unit, newest onset first.

    Columns ``name, status, since, last_warning, held_until, peak_level``
    (dates as ``YYYY-MM-DD``, period starts).
    """
    columns = ["name", "status", "since", "last_warning", "held_until", "peak_level"]
    episodes = result.episodes
    if episodes is None or episodes.empty:
        return pd.DataFrame(columns=columns)
    names = result.units.set_index("unit_id")["name"]
    levels = ("none", "watch", "warning", "alert")
    table = pd.DataFrame({
        "name": episodes["unit_id"].map(names).fillna(episodes["unit_id"]),
        "status": episodes["status"],
        "since": episodes["onset"].dt.strftime("%Y-%m-%d"),
        "last_warning": episodes["last_warning"].dt.strftime("%Y-%m-%d"),
        "held_until": episodes["held_until"].dt.strftime("%Y-%m-%d"),
        "peak_level": [levels[int(v)] for v in episodes["peak"]],
    })
    return table.sort_values(["since", "name"], ascending=[False, True], kind="stable").reset_index(drop=True)


def alert_table(result: WarningResult, skill: dict[str, Any] | None = None) -> pd.DataFrame:
    """The alert table a report shows first: every unit with its level, reason and rule skill.

    Parameters
    ----------
    result
        From :func:`evaluate_warnings`.
    skill
        Measured skill (default :func:`alarm_skill`); each row's ``rule_skill``
        says, for the rules that fired, how often they caught a real spread
        within 8 weeks and how many false alarms they raise per province-year.

    Returns
    -------
    pandas.DataFrame
        ``name, level, reason, rules, rule_skill, recent_events, unit_id``,
        most severe first.
    """
    skill = skill if skill is not None else alarm_skill()
    figures = skill.get("rules", {})

    def describe(rules: Sequence[str]) -> str:
        parts = []
        for rule in rules:
            measured = figures.get(rule)
            if not measured:
                continue
            parts.append(
                f"{RULE_LABELS.get(rule, rule)}: detects {100 * (measured.get('detected_8') or 0):.0f} % "
                f"of spreads within 8 weeks, {measured.get('false_episodes_per_unit_year', float('nan')):.2f} "
                "false alarms per province-year"
            )
        return "; ".join(parts)

    table = result.units.copy()
    table["rule_skill"] = table["rules"].map(describe)
    table["rules"] = table["rules"].map(lambda rules: ", ".join(RULE_LABELS.get(r, r) for r in rules))
    table["level"] = table["level"].astype(str)
    columns = ["name", "level", "reason", "rules", "rule_skill", "recent_events", "unit_id"]
    return table[[c for c in columns if c in table.columns]].reset_index(drop=True)
