"""Levels with reasons: every rule over the history, combined per unit and period, and the result as of a date."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from forecast.alarms.config import (
    ALERT,
    NONE,
    RULES,
    WARNING,
    WATCH,
    WarningConfig,
    months_as_periods,
)
from forecast.alarms.episodes import (
    Episodes,
    GroupExpansion,
    alarm_episodes,
    expansion_raised,
    group_expansion,
    newly_struck_counts,
)
from forecast.alarms.expected import InControl, _rolling_sum
from forecast.alarms.hotspots import HotSpots
from forecast.alarms.rules import (
    AlarmRule,
    Cusum,
    Emergence,
    Exceedance,
    ImportedRisk,
    NewGround,
)
from forecast.errors import EmptyDataError, ParameterError
from forecast.geo.gazetteer import Gazetteer
from forecast.panel import PanelData, period_name, period_word, plural
from forecast.schema import ALARMS, ALERT_LEVELS, validate
from forecast.spread import (
    Spillover,
    Stronghold,
    find_stronghold,
    gazetteer_for,
    panel_bounds,
    spillover_share,
    spread_indicators,
)


# ------------------------------------------------------------ combination
def combine_levels(
    levels: Mapping[str, np.ndarray],
    fired: Mapping[str, np.ndarray],
    config: WarningConfig,
) -> np.ndarray:
    """Level (0 none .. 3 alert) from each family's own level and firing.

    warning: a family of ``config.warning_rules`` fired; alert: a warning and
    at least ``config.alert_families`` families at watch or above; watch: any
    family at watch or above. Arrays broadcast (one period, or all).
    """
    shape = np.broadcast_shapes(*(np.shape(v) for v in levels.values()))
    families = np.zeros(shape, dtype=np.int64)
    strong = np.zeros(shape, dtype=bool)
    for name, level in levels.items():
        families += np.asarray(level) >= WATCH
        if name in config.warning_rules:
            strong |= np.asarray(fired[name], dtype=bool)
    combined = np.select(
        [strong & (families >= config.alert_families), strong, families >= 1],
        [ALERT, WARNING, WATCH],
        default=NONE,
    )
    # New ground sets its own floor (warning, or alert for mass casualties / a second attack).
    if "new_ground" in levels:
        combined = np.maximum(combined, np.asarray(levels["new_ground"]))
    return combined


@dataclass
class AlarmHistory:
    """Every rule and the combined level for every unit and period, each from data known then.

    Attributes
    ----------
    units, ds
        Rows and columns of the arrays.
    rules
        Rule family -> :class:`AlarmRule`.
    level
        ``(units, periods)`` int, 0 none .. 3 alert (stronghold units: 0):
        the level an assessment at that period shows, open episodes held at
        warning (see :mod:`forecast.alarms.episodes`).
    stronghold
        Stronghold unit ids (no levels).
    raised
        The levels raised in each period, before episodes hold them.
    episodes
        The :class:`~forecast.alarms.episodes.Episodes`.
    thin
        ``(periods,)`` bool: the rate-based rules stood aside (thin data).
    group
        ``(periods,)`` bool: the group expansion alarm was raised (None
        without the new-ground rule).
    """

    units: list[str]
    ds: pd.DatetimeIndex
    rules: dict[str, AlarmRule]
    level: np.ndarray
    stronghold: list[str]
    freq: str = "W-MON"
    raised: np.ndarray | None = None
    episodes: Episodes | None = None
    thin: np.ndarray | None = None
    group: np.ndarray | None = None

    def series(self, held: bool = True) -> pd.DataFrame:
        """Long table ``unit_id, ds, level`` and one ``fired`` column per rule.

        ``held=False`` gives the levels raised in each period (before the
        episodes hold them), e.g. to mark when warnings were raised.
        """
        n_units, n_periods = self.level.shape
        level = self.level if held or self.raised is None else self.raised
        out = pd.DataFrame({
            "unit_id": pd.Series(np.repeat(self.units, n_periods), dtype=object),
            "ds": np.tile(self.ds.to_numpy(), n_units),
            "level": pd.Categorical.from_codes(level.ravel(), categories=ALERT_LEVELS, ordered=True),
        })
        for name, rule in self.rules.items():
            out[name] = rule.fired.ravel()
        return out


def alarm_history(
    panel: pd.DataFrame | PanelData,
    stronghold: Stronghold | Sequence[str],
    config: WarningConfig | None = None,
    gazetteer: Gazetteer | None = None,
    rules: Sequence[str] | None = None,
    imported_every: int | None = None,
    imported_from: Any = None,
    fatalities: np.ndarray | None = None,
) -> AlarmHistory:
    """All rules at every period in one vectorised pass (for skill evaluation).

    Nothing peeks: the in-control forecasts, the quiet stretches, the CUSUM
    and the hot-spot bins at period ``t`` use counts up to ``t`` only.

    Parameters
    ----------
    panel
        Long panel (or :class:`PanelData`).
    stronghold
        Its units get no level.
    config
        Thresholds (default: :meth:`WarningConfig.for_freq`).
    gazetteer
        Adjacency for the hot spots and the spread model.
    rules
        Families to evaluate (default: new ground when ``config.new_ground``,
        emergence, exceedance, CUSUM and hot spots).
    imported_every
        With ``"imported"`` in ``rules``: refit the spread model every this
        many periods (on data up to then) and hold its verdict until the next
        refit. Slow (a fit per refit); None leaves the family out.
    imported_from
        First date refitted for ``"imported"`` (default: as early as the data allow).
    fatalities
        ``(units, periods)`` fatalities (best estimate) for the new-ground
        rule's mass-casualty test; default: the panel's ``fatalities_best``
        column when it has one, else none.

    Examples
    --------
    >>> from forecast.data.synthetic import generate_scenario
    >>> s = generate_scenario(seed=4, start="2019-01-07", end="2021-12-27", spread={"Kunduz": "2021-06-07"})
    >>> h = alarm_history(s.counts[["unit_id", "ds", "y"]], s.stronghold, rules=("cusum",))
    >>> kdz = h.units.index("AF-KDZ")
    >>> first = h.ds[(h.level[kdz] >= 2) & (h.ds >= "2021-06-07")][0]
    >>> (first - pd.Timestamp("2021-06-07")).days // 7 <= 8
    True
    """
    data = panel if isinstance(panel, PanelData) else PanelData.from_panel(panel)
    config = config or WarningConfig.for_freq(_panel_freq(data.freq))
    if rules is None:
        rules = (("new_ground",) if config.new_ground else ()) + ("emergence", "exceedance", "cusum", "hotspot")
    if fatalities is None and isinstance(panel, pd.DataFrame):
        fatalities = panel_fatalities(panel, data)
    strong_ids = list(stronghold.unit_ids) if isinstance(stronghold, Stronghold) else list(stronghold)
    unknown = [r for r in rules if r not in RULES]
    if unknown:
        raise ParameterError(f"unknown rule families {unknown}; choose from {list(RULES)}")
    built: dict[str, AlarmRule] = {}
    forecast = InControl.fit(data, config, strong_ids, gazetteer) if {"exceedance", "cusum"} & set(rules) else None
    if "new_ground" in rules:
        built["new_ground"] = NewGround(data, config, fatalities,
                                        fatality_range=fatality_range(panel, data) if isinstance(panel, pd.DataFrame) else None)
    if "emergence" in rules:
        built["emergence"] = Emergence(data, config)
    if "exceedance" in rules:
        built["exceedance"] = Exceedance(data, config, forecast)
    if "cusum" in rules:
        built["cusum"] = Cusum(data, config, forecast)
    if "hotspot" in rules:
        built["hotspot"] = HotSpots(data, config, strong_ids, gazetteer)
    if "imported" in rules and imported_every:
        built["imported"] = _imported_history(data, config, strong_ids, gazetteer, int(imported_every), imported_from)
    if not built:
        raise ParameterError("no rule family to evaluate")
    freq = _panel_freq(data.freq)
    thin = _stand_aside(built, data, config)
    raised = combine_levels(
        {k: r.level for k, r in built.items()}, {k: r.fired for k, r in built.items()}, config
    )
    raised[np.isin(data.units, strong_ids)] = NONE
    episodes = alarm_episodes(raised, list(data.units), data.ds, freq, config)
    group = None
    if "new_ground" in built:
        rule = built["new_ground"]
        window = months_as_periods(config.expansion_months, freq)
        onsets = rule.onsets & ~np.isin(data.units, strong_ids)[:, None]
        group = expansion_raised(newly_struck_counts(onsets, window), window, rule.first_judged,
                                 config.expansion_min_units)
    return AlarmHistory(
        units=list(data.units), ds=data.ds, rules=built, level=episodes.held_level(raised), stronghold=strong_ids,
        freq=freq, raised=raised, episodes=episodes, thin=thin, group=group,
    )


def panel_fatalities(panel: pd.DataFrame, data: PanelData, column: str = "fatalities_best") -> np.ndarray | None:
    """A panel fatality column as a ``(units, periods)`` array aligned with ``data`` (None without it).

    ``column``: ``fatalities_best`` (the mass-casualty test's) or an end of the reported range,
    ``fatalities_low`` / ``fatalities_high`` (the reasons quote them).
    """
    if column not in panel.columns:
        return None
    wide = panel.pivot_table(index="unit_id", columns="ds", values=column, aggfunc="sum")
    return wide.reindex(index=data.units, columns=data.ds).fillna(0.0).to_numpy()


def fatality_range(panel: pd.DataFrame, data: PanelData) -> tuple[np.ndarray, np.ndarray] | None:
    """The panel's reported fatality range (low, high) per unit and period, None when it has none."""
    low, high = (panel_fatalities(panel, data, column) for column in ("fatalities_low", "fatalities_high"))
    return None if low is None or high is None else (low, high)


def thin_periods(data: PanelData, config: WarningConfig) -> np.ndarray:
    """Per period: True where the data are too thin for the rate-based rules.

    The whole panel's events per period, averaged over the
    ``dynamics_periods`` ending at the period, below
    ``config.min_events_per_period``.
    """
    total = data.y.sum(axis=0).astype(float)
    window = config.dynamics_periods
    cumulative = np.concatenate([[0.0], np.cumsum(total)])
    t = np.arange(len(total))
    first = np.maximum(t + 1 - window, 0)
    mean = (cumulative[t + 1] - cumulative[first]) / (t + 1 - first)
    return mean < config.min_events_per_period


#: Rules that compare counts with an expected rate (they stand aside on thin data).
RATE_RULES: tuple[str, ...] = ("exceedance", "cusum")


def _stand_aside(rules: Mapping[str, AlarmRule], data: PanelData, config: WarningConfig) -> np.ndarray:
    """Silence the rate-based rules in thin periods (edits the rules); returns the thin periods."""
    thin = thin_periods(data, config)
    for name in RATE_RULES:
        if name in rules:
            rule = rules[name]
            rule.fired = rule.fired & ~thin[None, :]
            rule.level = np.where(thin[None, :], NONE, rule.level)
    return thin


def _imported_history(
    data: PanelData, config: WarningConfig, strong_ids: list[str], gazetteer, every: int, first: Any = None
) -> AlarmRule:
    """Imported-risk verdicts refitted every ``every`` periods and held in between."""
    panel = pd.DataFrame({
        "unit_id": np.repeat(data.units, data.n_periods),
        "ds": np.tile(data.ds.to_numpy(), len(data.units)),
        "y": data.y.ravel(),
    })
    panel.attrs["freq"] = _panel_freq(data.freq)
    template: ImportedRisk | None = None
    fired = np.zeros(data.y.shape, dtype=bool)
    statistic = np.full(data.y.shape, np.nan)
    start = max(config.recent_periods + config.min_baseline_periods, 1)
    if first is not None:
        start = max(start, int(np.searchsorted(data.ds, pd.Timestamp(first))))
    for t in range(start, data.n_periods, every):
        known = panel[panel["ds"] <= data.ds[t]]
        result = spillover_share(
            known, strong_ids, fit_periods=config.spillover_periods, recent_periods=config.recent_periods,
            baseline_periods=config.baseline_periods, gazetteer=gazetteer, n_draws=50,
        )
        sub = PanelData(units=data.units, ds=data.ds[: t + 1], freq=data.freq, y=data.y[:, : t + 1])
        rule = ImportedRisk(sub, config, result, "the stronghold")
        fired[:, t : t + every] = rule.fired[:, -1:]
        statistic[:, t : t + every] = rule.statistic[:, -1:]
        template = rule
    if template is None:
        template = ImportedRisk(data, config, Spillover.unavailable("too short"), "the stronghold")
    template.ds = data.ds
    template.fired, template.statistic = fired, statistic
    template.level = np.where(fired, WATCH, NONE)
    return template


def _panel_freq(freq: str) -> str:
    """``W-MON`` or ``MS`` for the frequency strings pandas infers (``W-MON``, ``MS``, ``<MonthBegin>``)."""
    return "MS" if str(freq).upper().startswith("M") else "W-MON"


# ---------------------------------------------------------------- results
@dataclass
class WarningResult:
    """Alert levels per unit as of a date, with the stronghold and spread indicators.

    Attributes
    ----------
    units
        One row per unit outside the stronghold, validated with
        :data:`forecast.schema.ALARMS`: ``unit_id, name, level`` (ordered
        categorical), ``rules`` (list of the families at watch or above),
        ``reason`` (plain language), ``recent_events``. Sorted by level, then name.
    stronghold
        The :class:`~forecast.spread.Stronghold`.
    indicators
        :func:`forecast.spread.spread_indicators` per period (one period per row).
    recent
        The same indicators pooled over the last ``recent_periods`` (a dict).
    rule_table
        Every rule for every unit at the last period: ``unit_id, rule, fired,
        level, statistic, threshold, detail``.
    spillover
        The :class:`~forecast.spread.Spillover` used by the imported-risk rule (or None).
    as_of, freq, last_period
        The as-of date, the panel frequency and the last complete period judged.
    config
        The thresholds used.
    notes
        Caveats for readers (rules skipped, stronghold without events, ...).
    episodes
        :meth:`~forecast.alarms.episodes.Episodes.table` at the last period:
        every unit with an open (or just ended) warning episode.
    group
        The :class:`~forecast.alarms.episodes.GroupExpansion` alarm (None
        when the new-ground rule is off).
    stale
        :func:`staleness` when the data end more than a period before
        ``as_of`` (the alarms then judge the known periods only), else None.
    """

    units: pd.DataFrame
    stronghold: Stronghold
    indicators: pd.DataFrame
    recent: dict[str, Any]
    rule_table: pd.DataFrame
    spillover: Spillover | None
    as_of: pd.Timestamp
    freq: str
    last_period: pd.Timestamp
    config: WarningConfig
    notes: list[str] = field(default_factory=list)
    rules_evaluated: list[str] = field(default_factory=list)
    episodes: pd.DataFrame | None = None
    group: GroupExpansion | None = None
    stale: dict[str, Any] | None = None

    @property
    def headlines(self) -> list[str]:
        """What a reader must see first, whatever the unit levels: stale data, a raised group expansion alarm."""
        lines = []
        if self.stale is not None:
            lines.append(self.stale["message"])
        if self.group is not None and self.group.raised:
            lines.append(self.group.headline)
        return lines

    def to_dict(self) -> dict[str, Any]:
        """The ``forecast warn --json`` document (schema: ``forecast/schemas/warn.schema.json``)."""
        from forecast import __version__

        details = {
            (row.unit_id, row.rule): row for row in self.rule_table.itertuples(index=False)
        }
        units = []
        for row in self.units.itertuples(index=False):
            rules = []
            for name in row.rules:
                rule = details[(row.unit_id, name)]
                rules.append({
                    "rule": name,
                    "level": rule.level,
                    "fired": bool(rule.fired),
                    "statistic": _clean(rule.statistic),
                    "threshold": _clean(rule.threshold),
                    "detail": rule.detail,
                })
            units.append({
                "unit_id": row.unit_id,
                "name": row.name,
                "level": str(row.level),
                "rules": rules,
                "reason": row.reason,
                "recent_events": int(row.recent_events),
                "episode": (
                    {"status": row.episode, "since": f"{row.since:%F}"} if row.episode else None
                ),
            })
        by_period = self.indicators.tail(self.config.recent_periods)
        return {
            "as_of": f"{self.as_of:%F}",
            "freq": self.freq,
            "last_period": f"{self.last_period:%F}",
            "stronghold": self.stronghold.to_records(),
            "stronghold_share": _clean(self.stronghold.share),
            "stronghold_window": {
                "start": f"{self.stronghold.start:%F}",
                "end": f"{self.stronghold.end:%F}",
                "periods": self.stronghold.window,
                "given": self.stronghold.given,
            },
            "indicators": {
                **{k: _clean(v) for k, v in self.recent.items()},
                "by_period": [
                    {k: (f"{v:%F}" if k == "ds" else _clean(v)) for k, v in rec.items()}
                    | {"new_units": int(rec["new_units"]) if _finite(rec["new_units"]) else None}
                    for rec in by_period.to_dict("records")
                ],
            },
            "units": units,
            "episodes": [
                {
                    "unit_id": e.unit_id, "status": e.status, "onset": f"{e.onset:%F}",
                    "last_warning": f"{e.last_warning:%F}", "held_until": f"{e.held_until:%F}",
                    "peak_level": ALERT_LEVELS[int(e.peak)],
                }
                for e in (self.episodes if self.episodes is not None else pd.DataFrame()).itertuples(index=False)
            ],
            "group": self.group.to_dict() if self.group is not None else None,
            "stale": None if self.stale is None else {
                "data_end": f"{self.stale['data_end']:%F}",
                "last_period": f"{self.stale['last_period']:%F}",
                "periods_behind": int(self.stale["periods_behind"]),
                "message": self.stale["message"],
            },
            "rules_evaluated": list(self.rules_evaluated),
            "notes": list(self.notes),
            "config": self.config.to_dict(),
            "version": __version__,
        }

    def to_json(self, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)

    def to_text(self, all_units: bool = False) -> str:
        """A readable summary: the stronghold, the spread indicators and a table of flagged units."""
        word = period_word(self.freq)
        r = self.config.recent_periods
        lines = [f"Early warning as of {self.as_of:%F} ({self.freq}; last complete {word} starts {self.last_period:%F})"]
        if self.stale is not None:
            lines.append(self.stale["message"])
        if self.group is not None:
            lines.append(self.group.headline)
        share = self.stronghold.share
        share_text = "no events" if not math.isfinite(share) else f"{share:.0%} of events"
        lines.append(
            f"Stronghold ({'given' if self.stronghold.given else 'found'}): {self.stronghold.label()}: {share_text} "
            f"from {self.stronghold.start:%F} to {self.stronghold.end:%F}"
        )
        rec = self.recent
        lines.append(
            f"Last {plural(r, word) if r != 1 else word}: {plural(rec['events'], 'event')}, "
            f"{rec['events_outside']} outside the stronghold"
            + (f" ({rec['share_outside']:.0%})" if _finite(rec["share_outside"]) else "")
            + f", {plural(rec['active_units'], 'active unit')}, {_fmt(rec['new_units'])} newly active"
            + (f", mean distance {rec['mean_distance_km']:.0f} km" if _finite(rec["mean_distance_km"]) else "")
        )
        for note in self.notes:
            if self.stale is None or note != self.stale["message"]:
                lines.append(f"Note: {note}")
        shown = self.units if all_units else self.units[self.units["level"] != "none"]
        lines.append("")
        if shown.empty:
            lines.append("No unit outside the stronghold is flagged.")
        else:
            width = max(len(n) for n in shown["name"])
            lines.append(f"{'level':8}  {'unit':{width}}  reason")
            for row in shown.itertuples(index=False):
                lines.append(f"{str(row.level):8}  {row.name:{width}}  {row.reason}")
        rest = len(self.units) - len(shown)
        if rest:
            lines.append(f"({rest} other units: none)")
        return "\n".join(lines)


def _clean(value: Any) -> Any:
    """JSON-simple scalar: NaN/inf -> None, numpy -> Python."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, float):
        return round(value, 6)
    return value


def _finite(value: Any) -> bool:
    return value is not None and isinstance(value, int | float | np.number) and math.isfinite(float(value))


def _fmt(value: Any) -> str:
    return str(int(value)) if _finite(value) else "n/a"


def evaluate_warnings(
    panel: pd.DataFrame,
    as_of: Any,
    stronghold: Stronghold | str | Sequence[str] | None = None,
    config: WarningConfig | None = None,
    gazetteer: Gazetteer | None = None,
    forecasts: Any = None,
    *,
    spillover: bool = True,
) -> WarningResult:
    """Alert level and reason for every unit outside the stronghold, as of a date.

    Parameters
    ----------
    panel
        Long panel ``unit_id, ds, y`` (:func:`forecast.panel.build_panel`);
        periods not complete at ``as_of`` are ignored.
    as_of
        The date of the assessment.
    stronghold
        A :class:`~forecast.spread.Stronghold`, unit names/codes (list or
        comma-separated), or None / ``"auto"`` to find it
        (:func:`~forecast.spread.find_stronghold` with the config's window and share).
    config
        Thresholds (default: :meth:`WarningConfig.for_freq` of the panel).
    gazetteer
        Names, adjacency and centroids (default: the units' country).
    forecasts
        Optional :class:`~forecast.models.frame.ForecastFrame` for the
        exceedance rule (see :class:`Exceedance`).
    spillover
        With ``config.imported_risk`` (off by default): fit the spread model
        for the imported-risk rule (about a second); False skips the rule and
        says so in the notes.

    Returns
    -------
    WarningResult

    Raises
    ------
    ParameterError
        Fewer than two units; ``as_of`` before the data (both dates named);
        an unknown stronghold name.
    EmptyDataError
        ``stronghold="auto"`` and no events in the baseline window.
    """
    data_end = panel.attrs.get("data_end")
    known, as_of = panel_bounds(panel, as_of)
    freq = _panel_freq(panel.attrs.get("freq") or PanelData.from_panel(known).freq)
    stale = staleness(as_of, data_end, freq)
    if stale is not None:
        # Periods after the data end are unknown, not quiet: judge the known ones only.
        known = known[known["ds"] <= stale["last_period"]].reset_index(drop=True)
    if known["ds"].nunique() < 2:
        raise ParameterError(
            f"only one complete period ({pd.Timestamp(known['ds'].min()):%F}) is known at {as_of:%F}; "
            "the alarm rules need a history: choose a later as-of date"
        )
    config = config or WarningConfig.for_freq(freq)
    data = PanelData.from_panel(known, freq=freq)
    gaz = gazetteer_for(data.units, gazetteer)
    if not isinstance(stronghold, Stronghold):
        stronghold = find_stronghold(
            known, as_of, window=config.stronghold_window, share=config.stronghold_share,
            given=stronghold, gazetteer=gaz,
        )
    notes: list[str] = []
    if stale is not None:
        notes.append(stale["message"])
    if stronghold.note:
        notes.append(stronghold.note)
    strong_ids = list(stronghold.unit_ids)
    r = config.recent_periods
    word = period_word(freq)
    needed = config.guard_periods + config.min_baseline_periods
    if data.n_periods <= needed:
        notes.append(
            f"only {data.n_periods} {word}s of data: exceedance and CUSUM need more than {needed} "
            "and stay silent until then"
        )

    def name_of(unit: str) -> str:
        return gaz.name_of(unit) if unit in gaz.unit_ids else unit

    forecast = InControl.fit(data, config, strong_ids, gaz)
    rules: dict[str, AlarmRule] = {}
    if config.new_ground:
        rules["new_ground"] = NewGround(data, config, panel_fatalities(known, data), name_of,
                                        fatality_range=fatality_range(known, data))
        if data.n_periods <= rules["new_ground"].first_judged:
            notes.append(
                f"the data start {data.ds[0]:%F}: a first attack counts as new ground only after a year of data "
                f"(from {data.ds[0] + pd.DateOffset(years=1):%F}), so new ground and the group expansion alarm "
                "cannot be judged yet; give a longer history"
            )
    rules |= {
        "emergence": Emergence(data, config),
        "exceedance": Exceedance(data, config, forecast, forecasts),
        "cusum": Cusum(data, config, forecast),
    }
    thin = _stand_aside(rules, data, config)
    if thin[-1]:
        per_period = data.y[:, -config.dynamics_periods :].sum() / min(config.dynamics_periods, data.n_periods)
        notes.append(
            f"the data are thin ({per_period:.2g} events per {word} over the last "
            f"{min(config.dynamics_periods, data.n_periods)} {word}s, under {config.min_events_per_period:g}): "
            "the rate-based rules (exceedance, CUSUM) stand aside; new ground and emergence judge alone"
        )
    # Episodes from the levels raised in each period by the rules with a full history.
    raised = combine_levels({k: v.level for k, v in rules.items()}, {k: v.fired for k, v in rules.items()}, config)
    raised[np.isin(data.units, strong_ids)] = NONE
    episodes = alarm_episodes(raised, list(data.units), data.ds, freq, config)
    # Hot spots are a state, not an event: classify the last period only.
    rules["hotspot"] = HotSpots(data, config, strong_ids, gaz, periods=[data.n_periods - 1])
    spill = None
    if config.imported_risk and spillover:
        spill = spillover_share(
            known, stronghold, fit_periods=config.spillover_periods, recent_periods=r,
            baseline_periods=config.baseline_periods, gazetteer=gaz,
        )
        if not spill.available:
            notes.append(f"imported-risk rule skipped: {spill.note}")
    elif config.imported_risk:
        notes.append("imported-risk rule skipped: the spread model was not fitted (spillover=False)")
    imported = ImportedRisk(data, config, spill or Spillover.unavailable("not fitted"), stronghold.label())
    if spill is not None and spill.available:
        rules["imported"] = imported

    # As of the date: the alarms raised in the last r periods, and the episodes they belong to.
    tables = {name: rule.table(-1, window=r) for name, rule in rules.items()}
    recent_events = _rolling_sum(data.y, r)[:, -1]
    _hold_episodes(tables, rules, episodes, config, freq)
    levels = {name: table["level"].map(ALERT_LEVELS.index).to_numpy() for name, table in tables.items()}
    fired = {name: table["fired"].to_numpy() for name, table in tables.items()}
    level = combine_levels(levels, fired, config)
    level = np.where(episodes.open[:, -1], np.maximum(level, episodes.peak[:, -1]), level)
    rule_table = pd.concat(tables.values(), ignore_index=True)
    episode_table = episodes.table(-1).set_index("unit_id")
    rows = []
    for i, unit in enumerate(data.units):
        if unit in strong_ids:
            continue
        flagged = [name for name in RULES if name in levels and levels[name][i] >= WATCH]
        details = [tables[name]["detail"].iloc[i] for name in flagged]
        reason = _reason(details, "imported" in flagged, imported, i, recent_events[i], r, word, config)
        status, since = "", pd.NaT
        if unit in episode_table.index:
            episode = episode_table.loc[unit]
            status, since = str(episode["status"]), pd.Timestamp(episode["onset"])
            if status != "ended":
                reason += f" [flagged since {period_name(since, freq)}, {status}]"
        rows.append({
            "unit_id": unit,
            "name": name_of(unit),
            "level": ALERT_LEVELS[int(level[i])],
            "rules": flagged,
            "reason": reason,
            "recent_events": int(recent_events[i]),
            "episode": status,
            "since": since,
        })
    columns = ["unit_id", "name", "level", "rules", "reason", "recent_events", "episode", "since"]
    units = pd.DataFrame(rows, columns=columns)
    units["since"] = pd.to_datetime(units["since"])
    units["level"] = pd.Categorical(units["level"], categories=ALERT_LEVELS, ordered=True)
    units = units.sort_values(["level", "name"], ascending=[False, True], kind="stable").reset_index(drop=True)
    units = validate(units, ALARMS)
    rule_table = rule_table[~rule_table["unit_id"].isin(strong_ids)].reset_index(drop=True)

    indicators = spread_indicators(known, stronghold, gaz, quiet_periods=config.quiet_periods)
    pooled = spread_indicators(known, stronghold, gaz, quiet_periods=config.quiet_periods, window=r).iloc[-1]
    recent = {"window_periods": r, **{k: pooled[k] for k in pooled.index if k != "ds"}}
    for key in ("events", "active_units", "events_outside", "new_units"):
        recent[key] = int(recent[key]) if _finite(recent[key]) else None
    group = None
    if "new_ground" in rules:
        onsets = rules["new_ground"].onsets & ~np.isin(data.units, strong_ids)[:, None]
        group = group_expansion(
            onsets, list(data.units), data.ds, freq, config, stronghold_label=stronghold.label(),
            names=name_of, indicators=indicators, first_judged=rules["new_ground"].first_judged,
        )
    return WarningResult(
        units=units,
        stronghold=stronghold,
        indicators=indicators,
        recent=recent,
        rule_table=rule_table,
        spillover=spill,
        as_of=as_of,
        freq=freq,
        last_period=data.ds[-1],
        config=config,
        notes=notes,
        rules_evaluated=list(rules),
        episodes=episode_table.reset_index(),
        group=group,
        stale=stale,
    )


def staleness(as_of: pd.Timestamp, data_end: Any, freq: str) -> dict[str, Any] | None:
    """Whether the data end more than one period before ``as_of``, and what to tell readers.

    Returns None when the data are current (or their end is unknown), else
    ``data_end``, ``as_of``, ``last_period`` (start of the period holding the
    last day of data: the last one judged), ``periods_behind`` and ``message``.

    Examples
    --------
    >>> staleness(pd.Timestamp("2021-11-30"), pd.Timestamp("2021-11-27"), "W-MON") is None
    True
    >>> staleness(pd.Timestamp("2021-11-30"), pd.Timestamp("2021-09-15"), "W-MON")["periods_behind"]
    10
    """
    if data_end is None or pd.isna(data_end):
        return None
    data_end = pd.Timestamp(data_end)
    step = pd.DateOffset(months=1) if freq == "MS" else pd.Timedelta(days=7)
    if as_of <= data_end + step:
        return None
    last_period = pd.Period(data_end, freq="M" if freq == "MS" else "W-SUN").start_time
    word = period_word(freq)
    if freq == "MS":
        behind = (as_of.year - data_end.year) * 12 + as_of.month - data_end.month
    else:
        behind = int((as_of - data_end).days // 7)
    message = (
        f"STALE DATA: the last event is dated {data_end:%F}, {behind} {word}{'' if behind == 1 else 's'} before "
        f"the as-of date {as_of:%F}; the alarms judge the {word}s up to {period_name(last_period, freq)} only "
        "(later ones are unknown, not quiet): update the data, or judge as of the data's end "
        "(forecast run -p as_of=null; warn without --as-of)"
    )
    return {"data_end": data_end, "as_of": as_of, "last_period": last_period, "periods_behind": behind,
            "message": message}


def _hold_episodes(
    tables: dict[str, pd.DataFrame],
    rules: Mapping[str, AlarmRule],
    episodes: Episodes,
    config: WarningConfig,
    freq: str,
) -> None:
    """Explain the units whose episode holds a warning no rule raised in the recent window (edits ``tables``).

    The latest warning of the episode (from the warning families or new
    ground) is carried into the table at watch, with its period, so the reason
    says what raised it and since when it has been held.
    """
    names = [n for n in ("new_ground", *config.warning_rules) if n in rules]
    if not names:
        return
    cooling = np.flatnonzero(episodes.status[:, -1] == "cooling")
    if not len(cooling):
        return
    held_until = episodes.table(-1).set_index("unit_id")["held_until"]
    earlier = {n: rules[n].table(-1, window=episodes.hold) for n in names}
    for i in cooling:
        candidates = [
            (earlier[n].loc[i, "period"], n) for n in names if earlier[n].loc[i, "level"] in ("warning", "alert")
        ]
        if not candidates:
            continue
        period, name = max(candidates)
        table = tables[name]
        until = held_until[episodes.units[i]]
        table.loc[i, ["level", "fired", "period"]] = ["watch", False, period]
        table.loc[i, "statistic"] = earlier[name].loc[i, "statistic"]
        raised_level = earlier[name].loc[i, "level"]  # alert or warning: what the held level is
        table.loc[i, "detail"] = (
            f"{raised_level} raised in {period_name(period, freq)}: {earlier[name].loc[i, 'detail']}; "
            f"held until {period_name(until, freq)} unless a new one is raised"
        )


def _reason(
    details: list[str],
    imported_fired: bool,
    imported: ImportedRisk,
    i: int,
    recent_events: float,
    r: int,
    word: str,
    config: WarningConfig,
) -> str:
    """Join the flagged rules' fragments; add the imported share whenever it is notable."""
    parts = list(details)
    share = imported.statistic[i, -1]
    if parts and not imported_fired and np.isfinite(share) and share >= config.imported_min_share:
        parts.append(imported.fragment(i))
    if not parts:
        n = int(recent_events)
        return f"{n} attack{'' if n == 1 else 's'} in the last {r} {word}s; no rule fired"
    return "; ".join(parts)


# ------------------------------------------------------------ from events
def warn_events(
    events: pd.DataFrame,
    as_of: Any,
    *,
    freq: str = "W-MON",
    stronghold: str | Sequence[str] | None = "auto",
    country: str | None = None,
    config: WarningConfig | None = None,
    spillover: bool = True,
) -> WarningResult:
    """:func:`evaluate_warnings` for canonical events: what ``forecast warn`` runs.

    Events after ``as_of`` are ignored; the panel runs from the first event
    (or the start of the stronghold window, if earlier) to ``as_of`` over
    every unit of the country.

    Raises
    ------
    EmptyDataError
        No events.
    ParameterError
        ``as_of`` before the first event or more than a year after the last
        (both dates named; see :func:`forecast.panel.panel_as_of`), an
        unknown frequency or stronghold name.
    """
    from forecast.checks import date, frequency
    from forecast.panel import panel_as_of

    frequency(freq)
    as_of = date(as_of, "--as-of")
    if events.empty:
        raise EmptyDataError("no events to assess; check the file, --actor and --country")
    iso3 = country or str(events["country_iso3"].mode().iloc[0])
    gazetteer = Gazetteer.load(iso3)
    _, panel, notes = panel_as_of(events, freq=freq, as_of=as_of, country=gazetteer.country_iso3)
    result = evaluate_warnings(
        panel, as_of, stronghold, config or WarningConfig.for_freq(freq), gazetteer, spillover=spillover
    )
    result.notes.extend(notes)
    return result


def warn_schema() -> dict[str, Any]:
    """The JSON Schema of ``forecast warn --json`` (``forecast/schemas/warn.schema.json``)."""
    text = resources.files("forecast").joinpath("schemas", "warn.schema.json").read_text(encoding="utf-8")
    return json.loads(text)
