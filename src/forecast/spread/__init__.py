"""Where a group is and how far it reaches: stronghold, spread indicators, spillover share.

Three questions, one function each, results as attributes (as in esda):

- :func:`find_stronghold`: which units hold the group? The smallest set of
  units holding at least half (``share``) of its events in a baseline window of
  ``window`` periods ending at the as-of date, or the units the analyst names.
- :func:`spread_indicators`: how spread out is the activity, period by period?
  Active units, events and share outside the stronghold, newly active units,
  mean and standard distance of events from the stronghold (km), concentration
  (Herfindahl-Hirschman index and entropy).
- :func:`spillover_share`: how much of each unit's expected count does the
  endemic-epidemic model (:mod:`forecast.models.endemic_epidemic`) attribute
  to the stronghold's recent attacks, with an interval from the uncertainty of
  its estimates?

Examples
--------
>>> from forecast.data.synthetic import generate_scenario
>>> from forecast.panel import build_panel
>>> from forecast.spread import find_stronghold, spread_indicators
>>> scenario = generate_scenario(seed=3, start="2020-01-06", end="2021-12-27")
>>> panel = build_panel(scenario.events, start="2020-01-06", end="2021-12-27")
>>> stronghold = find_stronghold(panel, "2021-06-01")
>>> stronghold.names, stronghold.share > 0.5
(['Nangarhar'], True)
>>> table = spread_indicators(panel, stronghold)
>>> list(table.columns)[:4]
['ds', 'events', 'active_units', 'events_outside']
"""

from __future__ import annotations

from forecast.exports import lazy_exports

#: Public name -> the module of this package that defines it (imported on first use).
_EXPORTS: dict[str, str] = {
    "DEFAULT_SPILLOVER_SPEC": "forecast.spread.spillover",
    "EARTH_RADIUS_KM": "forecast.spread.context",
    "INDICATOR_COLUMNS": "forecast.spread.indicators",
    "MIN_STRONGHOLD_EVENTS": "forecast.spread.stronghold",
    "SPILLOVER_COLUMNS": "forecast.spread.spillover",
    "SPILLOVER_SPECS": "forecast.spread.spillover",
    "Spillover": "forecast.spread.spillover",
    "SpilloverSpec": "forecast.spread.spillover",
    "Stronghold": "forecast.spread.stronghold",
    "attribution_table": "forecast.spread.spillover",
    "default_spillover_config": "forecast.spread.spillover",
    "find_stronghold": "forecast.spread.stronghold",
    "gazetteer_for": "forecast.spread.context",
    "haversine_km": "forecast.spread.context",
    "panel_bounds": "forecast.spread.context",
    "quiet_before": "forecast.spread.context",
    "spillover_share": "forecast.spread.spillover",
    "spread_indicators": "forecast.spread.indicators",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
