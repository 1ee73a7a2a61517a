"""Alarm rules and alert levels: which provinces should an analyst look at now, and why.

Six rule families look at each unit outside the stronghold. Each is one
class computing one statistic for every period from data known before it
(results as attributes, as in esda), so the same code answers "what fires as
of today?" (:func:`evaluate_warnings`) and "how well would the rules have
done?" (:func:`alarm_history`, :func:`detection_scores`).

===============  =================================================================  ==========
family           statistic and threshold                                            level
===============  =================================================================  ==========
``new_ground``   the first attack in a unit with none in ``new_ground_months``      warning
                 (or none on record after a year of data); ``mass_casualty``
                 killed or a second attack within ``new_ground_hold_months``
                 make it an alert
``exceedance``   ``P(Y >= y)`` for the period's events ``y`` under the in-control   warning
                 one-step forecast made before the period; fires below ``alpha``
``emergence``    events in the last ``recent_periods`` after ``quiet_periods``      warning
                 without any (or the first on record); fires at
                 ``emergence_events``, fewer events give a watch
``cusum``        Poisson/negative-binomial log-likelihood-ratio CUSUM against the   warning
                 in-control one-step forecast ``mu0``, tuned to an increase to
                 ``max(cusum_factor * mu0, mu0 + cusum_shift)``; fires at
                 ``cusum_h`` and restarts
``hotspot``      Getis-Ord Gi* z of the last ``recent_periods``' events (esda,      watch
                 analytical z, Benjamini-Hochberg FDR at ``hotspot_alpha``), bins
                 classified as in Emerging Hot Spot Analysis with a Mann-Kendall
                 trend; fires for ``hotspot_categories``
``imported``     share of the expected count the spread model imports from the      watch
                 stronghold (:func:`forecast.spread.spillover_share`); fires when
                 it rises to ``imported_share`` or by ``imported_factor``; off
                 unless ``imported_risk`` (no measured skill)
===============  =================================================================  ==========

The in-control forecast (:class:`InControl`) is what the unit would do if
nothing changed: its own mean (the ``hist_mean`` baseline of
:mod:`forecast.models.baselines` on the ``baseline_periods`` ending
``guard_periods`` before the period, plus ``prior_events`` so a unit quiet
for a year is not certain to stay quiet), moved by last period's own and
neighbouring events with coefficients shared by all units (a linear one-step
version of the endemic-epidemic model's autoregressive and neighbour parts,
refitted every ``dynamics_refit`` periods on data before them). Counting the
aftershocks of a single attack and the echo of the stronghold's surges as
"in control" is what keeps false alarms rare: most bursts in a quiet
province are one attack and its follow-ups.

Alarms are *raised* in a period (new events that cross a threshold, a CUSUM
signal); :func:`evaluate_warnings` reports, as of a date, the alarms raised
in the last ``recent_periods``. Levels (:data:`forecast.schema.ALERT_LEVELS`)
combine the families:

- **watch**: some family raised a flag that is not evidence of spread alone
  (a hot spot, a rising imported share, one or two events after a quiet year);
- **warning**: a family in ``warning_rules`` fired (exceedance, emergence or
  CUSUM: the unit's own counts departed from its in-control forecast);
- **alert**: a warning and at least ``alert_families`` families in total
  agree (e.g. a CUSUM signal in a unit whose imported share is rising).

A unit raised to warning opens an **episode** (:mod:`forecast.alarms.episodes`)
that holds its highest level for ``follow_up_months`` after the last warning,
with its onset and status (new, ongoing, cooling, ended); the group-level
**expansion** alarm counts the provinces newly struck in the last
``expansion_months`` against the group's own history. Rate-based rules stand
aside on thin data (``min_events_per_period``), and data that end more than a
period before the as-of date are called stale and judged up to their end.

The defaults were chosen from the evaluation in ``bench/bench_alarms.py``
(``bench/RESULTS.md``; figures in :func:`alarm_skill`).

Examples
--------
>>> from forecast.alarms import evaluate_warnings
>>> from forecast.data.synthetic import generate_scenario
>>> s = generate_scenario(seed=2, start="2019-01-07", end="2021-12-27", spread={"Kunduz": "2021-09-06"})
>>> result = evaluate_warnings(s.counts[["unit_id", "ds", "y"]], "2021-10-04", "Nangarhar", spillover=False)
>>> result.units.set_index("name").loc["Kunduz", "level"] in ("warning", "alert")
True
"""

from __future__ import annotations

from forecast.exports import lazy_exports

#: Public name -> the module of this package that defines it (imported on first use).
_EXPORTS: dict[str, str] = {
    "ALARM_SKILL_FILE": "forecast.alarms.skill",
    "ALERT": "forecast.alarms.config",
    "AlarmHistory": "forecast.alarms.assess",
    "AlarmRule": "forecast.alarms.rules",
    "Cusum": "forecast.alarms.rules",
    "Emergence": "forecast.alarms.rules",
    "Exceedance": "forecast.alarms.rules",
    "HOTSPOT_CATEGORIES": "forecast.alarms.config",
    "HotSpots": "forecast.alarms.hotspots",
    "ImportedRisk": "forecast.alarms.rules",
    "InControl": "forecast.alarms.expected",
    "NONE": "forecast.alarms.config",
    "RULES": "forecast.alarms.config",
    "RULE_LABELS": "forecast.alarms.skill",
    "SkillEvaluation": "forecast.alarms.skill",
    "WARNING": "forecast.alarms.config",
    "WATCH": "forecast.alarms.config",
    "WarningConfig": "forecast.alarms.config",
    "WarningResult": "forecast.alarms.assess",
    "alarm_history": "forecast.alarms.assess",
    "alarm_skill": "forecast.alarms.skill",
    "alert_table": "forecast.alarms.skill",
    "classify_hot_spots": "forecast.alarms.hotspots",
    "combine_levels": "forecast.alarms.assess",
    "detection_scores": "forecast.alarms.skill",
    "evaluate_alarm_skill": "forecast.alarms.skill",
    "evaluate_warnings": "forecast.alarms.assess",
    "episode_table": "forecast.alarms.skill",
    "generator_skill_table": "forecast.alarms.skill",
    "generator_targets_text": "forecast.alarms.skill",
    "alarm_episodes": "forecast.alarms.episodes",
    "group_expansion": "forecast.alarms.episodes",
    "Episodes": "forecast.alarms.episodes",
    "GroupExpansion": "forecast.alarms.episodes",
    "EPISODE_STATES": "forecast.alarms.episodes",
    "months_as_periods": "forecast.alarms.config",
    "staleness": "forecast.alarms.assess",
    "NewGround": "forecast.alarms.rules",
    "in_control": "forecast.alarms.expected",
    "mann_kendall": "forecast.alarms.hotspots",
    "skill_scenarios": "forecast.alarms.skill",
    "skill_table": "forecast.alarms.skill",
    "summarise_skill": "forecast.alarms.skill",
    "warn_events": "forecast.alarms.assess",
    "warn_schema": "forecast.alarms.assess",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
