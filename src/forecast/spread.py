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

import logging
import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from forecast.checks import date, whole_number
from forecast.errors import (
    ConvergenceError,
    EmptyDataError,
    ForecastError,
    InputError,
    ModelError,
    ParameterError,
)
from forecast.geo.gazetteer import Gazetteer
from forecast.panel import period_start, to_wide, truncate

logger = logging.getLogger(__name__)

__all__ = [
    "Spillover",
    "Stronghold",
    "find_stronghold",
    "gazetteer_for",
    "haversine_km",
    "panel_bounds",
    "quiet_before",
    "spillover_share",
    "spread_indicators",
]

#: Mean Earth radius (km) of the spherical distance.
EARTH_RADIUS_KM = 6371.0088


# ------------------------------------------------------------------ helpers
def haversine_km(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> np.ndarray:
    """Great-circle distance in km between points given in degrees (broadcasts).

    Examples
    --------
    >>> round(float(haversine_km(34.43, 70.45, 34.53, 69.17)))  # Jalalabad to Kabul
    118
    """
    lat1, lon1, lat2, lon2 = (np.radians(np.asarray(v, dtype=float)) for v in (lat1, lon1, lat2, lon2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def gazetteer_for(units: Iterable[str], gazetteer: Gazetteer | None = None) -> Gazetteer:
    """The gazetteer given, or the one of the country the ISO 3166-2 unit ids belong to.

    Unit ids look like ``AF-NAN``; their prefix is the country's alpha-2 code.
    """
    if gazetteer is not None:
        return gazetteer
    prefixes = {str(u).split("-")[0] for u in units}
    if len(prefixes) != 1:
        raise ParameterError(
            f"cannot tell the country of units with prefixes {sorted(prefixes)[:5]}; pass gazetteer=Gazetteer.load(...)"
        )
    return Gazetteer.load(prefixes.pop())


def _name_of(gazetteer: Gazetteer | None, unit: str) -> str:
    if gazetteer is None:
        return unit
    try:
        return gazetteer.name_of(unit)
    except ForecastError:
        return unit


def panel_bounds(panel: pd.DataFrame, as_of: Any = None) -> tuple[pd.DataFrame, pd.Timestamp]:
    """Check a panel for spread analysis and cut it at ``as_of``.

    Returns the rows known at ``as_of`` (complete periods, see
    :func:`forecast.panel.truncate`) and ``as_of`` as a timestamp (the panel's
    last period start when None).

    Raises
    ------
    InputError
        The panel lacks ``unit_id, ds, y``.
    EmptyDataError
        The panel has no rows.
    ParameterError
        Fewer than two units (spread is about several units), an unreadable
        ``as_of``, or ``as_of`` before the panel's first period (both dates named).
    """
    missing = [c for c in ("unit_id", "ds", "y") if c not in panel.columns]
    if missing:
        raise InputError(f"the panel lacks columns {missing}; build it with forecast.panel.build_panel")
    if panel.empty:
        raise EmptyDataError("the panel is empty; check the country, actor and date filters used to build it")
    n_units = panel["unit_id"].nunique()
    if n_units < 2:
        raise ParameterError(
            f"spread and early-warning analysis needs at least 2 units, the panel has {n_units} "
            f"({panel['unit_id'].iloc[0]}); build the panel over all of the country's units "
            "(forecast.panel.build_panel does so by default)"
        )
    first = pd.Timestamp(panel["ds"].min())
    if as_of is None:
        return panel, pd.Timestamp(panel["ds"].max())
    as_of = date(as_of, "as-of date")
    known = truncate(panel, as_of)
    if known.empty:
        raise ParameterError(
            f"as-of date {as_of:%F} is before the data: the first complete period starts {first:%F}; "
            "choose a later as-of date or give data that start earlier"
        )
    return known, as_of


def quiet_before(y: np.ndarray, lag: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Length of the run of quiet (zero) periods ending ``lag`` periods before each period.

    Parameters
    ----------
    y
        Counts, shape ``(units, periods)``.
    lag
        Periods skipped before the run is measured: with ``lag=4`` the run ends
        just before a 4-period window ``t-3 .. t``.

    Returns
    -------
    quiet, never
        ``quiet[i, t]``: number of consecutive zero periods ending at
        ``t - lag`` (0 if that period had events; -1 when ``t - lag`` is before
        the data). ``never[i, t]``: no event at all in periods ``<= t - lag``
        (and at least one such period exists).

    Examples
    --------
    >>> quiet, never = quiet_before(np.array([[1, 0, 0, 2, 0]]), lag=1)
    >>> quiet.tolist(), never.tolist()
    ([[-1, 0, 1, 2, 0]], [[False, False, False, False, False]])
    """
    y = np.asarray(y)
    n_units, n_periods = y.shape
    index = np.broadcast_to(np.arange(n_periods), y.shape)
    last_event = np.maximum.accumulate(np.where(y > 0, index, -1), axis=1)
    quiet_at = index - last_event  # zeros since the last event (t + 1 if none yet)
    never_at = last_event < 0
    quiet = np.full(y.shape, -1, dtype=np.int64)
    never = np.zeros(y.shape, dtype=bool)
    if lag < n_periods:
        quiet[:, lag:] = quiet_at[:, : n_periods - lag]
        never[:, lag:] = never_at[:, : n_periods - lag]
    return quiet, never


# --------------------------------------------------------------- stronghold
@dataclass(frozen=True)
class Stronghold:
    """The units where a group is concentrated.

    Attributes
    ----------
    unit_ids, names
        The stronghold's units (ISO 3166-2 codes and English names).
    share
        Fraction of all the group's events in the baseline window that fell in
        the stronghold (NaN when the window holds no event at all).
    window
        Length of the baseline window in periods.
    start, end
        First and last period start of the baseline window.
    events
        Events per stronghold unit in the baseline window.
    total_events
        Events in all units in the baseline window.
    given
        True when the analyst named the stronghold, False when it was found.
    note
        A caveat to show with the results (e.g. a named stronghold without
        events), or None.
    """

    unit_ids: list[str]
    names: list[str]
    share: float
    window: int
    start: pd.Timestamp
    end: pd.Timestamp
    events: dict[str, int] = field(default_factory=dict)
    total_events: int = 0
    given: bool = False
    note: str | None = None

    @property
    def unit_shares(self) -> dict[str, float]:
        """Each stronghold unit's share of all events in the window (NaN without events)."""
        total = self.total_events
        return {u: (self.events.get(u, 0) / total if total else math.nan) for u in self.unit_ids}

    @property
    def has_events(self) -> bool:
        """Whether the stronghold had any event in the baseline window."""
        return sum(self.events.values()) > 0

    def label(self) -> str:
        """The stronghold's names joined for sentences: ``"Nangarhar"``, ``"Nangarhar and Kunar"``."""
        if len(self.names) <= 2:
            return " and ".join(self.names)
        return ", ".join(self.names[:-1]) + " and " + self.names[-1]

    def to_records(self) -> list[dict[str, Any]]:
        """One JSON-simple dict per unit: ``unit_id, name, share, events``."""
        shares = self.unit_shares
        return [
            {
                "unit_id": u,
                "name": n,
                "share": None if math.isnan(shares[u]) else round(shares[u], 4),
                "events": int(self.events.get(u, 0)),
            }
            for u, n in zip(self.unit_ids, self.names, strict=True)
        ]


def find_stronghold(
    panel: pd.DataFrame,
    as_of: Any = None,
    window: int = 52,
    share: float = 0.5,
    given: str | Sequence[str] | None = None,
    gazetteer: Gazetteer | None = None,
) -> Stronghold:
    """The smallest set of units holding at least ``share`` of the events, or the units given.

    Parameters
    ----------
    panel
        Long panel ``unit_id, ds, y`` (:func:`forecast.panel.build_panel`).
    as_of
        The baseline window ends with the last period complete at this date
        (default: the panel's last period).
    window
        Baseline window length in periods (52 weeks; use 12 for months).
    share
        Fraction of the events the stronghold must hold (0.5: at least half).
    given
        Unit names or codes (a list, or one string with commas), or None /
        ``"auto"`` to find the stronghold from the data.
    gazetteer
        Resolves names; by default the one of the panel's country.

    Returns
    -------
    Stronghold

    Raises
    ------
    ParameterError
        Fewer than two units, ``as_of`` before the data, a bad ``window`` or
        ``share``, or a given name that is not a unit of the panel.
    EmptyDataError
        ``given`` is None/auto and the baseline window holds no event.

    Notes
    -----
    Sorting units by their events and taking them until the share is reached
    gives the smallest such set; ties are broken by unit id so the answer is
    reproducible. A *given* stronghold with no events in the window is not an
    error: the result carries a :attr:`Stronghold.note` and rules that compare
    with the stronghold have nothing to compare with.

    Examples
    --------
    >>> import pandas as pd
    >>> ds = pd.date_range("2021-01-04", periods=3, freq="W-MON")
    >>> panel = pd.DataFrame({"unit_id": ["AF-NAN"] * 3 + ["AF-KNR"] * 3 + ["AF-KAB"] * 3,
    ...                       "ds": list(ds) * 3, "y": [5, 4, 6, 1, 2, 0, 3, 0, 1]})
    >>> s = find_stronghold(panel, window=3)
    >>> s.unit_ids, round(s.share, 3)
    (['AF-NAN'], 0.682)
    >>> find_stronghold(panel, window=3, given="Kunar").unit_ids
    ['AF-KNR']
    """
    whole_number(window, "the stronghold window (periods)")
    if not 0 < share <= 1:
        raise ParameterError(f"the stronghold share must lie in (0, 1], got {share!r}")
    known, as_of = panel_bounds(panel, as_of)
    periods = np.sort(known["ds"].unique())[-int(window):]
    in_window = known[known["ds"].isin(periods)]
    counts = in_window.groupby("unit_id")["y"].sum().astype(int)
    units = sorted(known["unit_id"].astype(str).unique())
    counts = counts.reindex(units, fill_value=0)
    total = int(counts.sum())
    start, end = pd.Timestamp(periods[0]), pd.Timestamp(periods[-1])

    names_given = _given_names(given)
    if names_given:
        gaz = _maybe_gazetteer(units, gazetteer)
        chosen = [_resolve_unit(name, units, gaz) for name in names_given]
        chosen = list(dict.fromkeys(chosen))
        if len(chosen) == len(units):
            raise ParameterError(
                "the given stronghold covers every unit of the panel, leaving none to watch for spread; "
                "name fewer units or use --stronghold auto"
            )
        held = int(counts[chosen].sum())
        note = None
        if held == 0:
            note = (
                f"the given stronghold ({', '.join(_name_of(gaz, u) for u in chosen)}) had no events in the "
                f"baseline window {start:%F} to {end:%F}; distances and imported-risk shares refer to a "
                "stronghold that was quiet, and the other rules apply as usual"
            )
        return Stronghold(
            unit_ids=chosen,
            names=[_name_of(gaz, u) for u in chosen],
            share=held / total if total else math.nan,
            window=int(window),
            start=start,
            end=end,
            events={u: int(counts[u]) for u in chosen},
            total_events=total,
            given=True,
            note=note,
        )

    if total == 0:
        raise EmptyDataError(
            f"no events in the stronghold baseline window {start:%F} to {end:%F} ({window} periods before "
            f"{as_of:%F}), so no stronghold can be found; widen the window, move the as-of date or name "
            "the stronghold (--stronghold NAME)"
        )
    ranked = sorted(units, key=lambda u: (-counts[u], u))
    cumulative = np.cumsum([counts[u] for u in ranked]) / total
    size = int(np.searchsorted(cumulative, share - 1e-12) + 1)
    chosen = ranked[:size]
    gaz = _maybe_gazetteer(units, gazetteer)
    note = None
    tied = size < len(ranked) and counts[ranked[size]] == counts[chosen[-1]]
    if total < MIN_STRONGHOLD_EVENTS or tied:
        why = f"only {total} events in the baseline window" if total < MIN_STRONGHOLD_EVENTS else (
            f"{_name_of(gaz, ranked[size])} has as many events as {_name_of(gaz, chosen[-1])}"
        )
        note = f"the stronghold found from the data is uncertain ({why}); name it with --stronghold NAME if you know it"
    return Stronghold(
        unit_ids=chosen,
        names=[_name_of(gaz, u) for u in chosen],
        share=float(cumulative[size - 1]),
        window=int(window),
        start=start,
        end=end,
        events={u: int(counts[u]) for u in chosen},
        total_events=total,
        given=False,
        note=note,
    )


#: Fewer events than this in the baseline window make a found stronghold uncertain.
MIN_STRONGHOLD_EVENTS = 10


def _given_names(given: str | Sequence[str] | None) -> list[str]:
    if given is None:
        return []
    if isinstance(given, str):
        given = given.split(",")
    names = [str(n).strip() for n in given if str(n).strip()]
    if [n.lower() for n in names] == ["auto"]:
        return []
    return names


def _maybe_gazetteer(units: Sequence[str], gazetteer: Gazetteer | None) -> Gazetteer | None:
    try:
        return gazetteer_for(units, gazetteer)
    except ForecastError:
        return None


def _resolve_unit(name: str, units: Sequence[str], gazetteer: Gazetteer | None) -> str:
    if name in units:
        return name
    unit = gazetteer.resolve(name) if gazetteer is not None else None
    if unit is None or unit not in units:
        close = gazetteer.closest(name) if gazetteer is not None else []
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ParameterError(f"stronghold '{name}' is not a unit of the panel{hint}")
    return unit


# -------------------------------------------------------------- indicators
INDICATOR_COLUMNS = [
    "ds",
    "events",
    "active_units",
    "events_outside",
    "share_outside",
    "new_units",
    "mean_distance_km",
    "standard_distance_km",
    "hhi",
    "entropy",
]


def spread_indicators(
    data: pd.DataFrame,
    stronghold: Stronghold | Sequence[str],
    gazetteer: Gazetteer | None = None,
    freq: str | None = None,
    quiet_periods: int = 52,
    window: int = 1,
) -> pd.DataFrame:
    """How spread out the group's activity is, per period.

    Parameters
    ----------
    data
        A panel ``unit_id, ds, y`` or canonical events (with ``event_id``,
        ``date``, ``admin1_code``, ``latitude``, ``longitude``). From events the
        distances use each event's coordinates; from a panel, its unit's centroid.
    stronghold
        The stronghold (or its unit ids).
    gazetteer
        Centroids of the units (default: the country of the unit ids).
    freq
        Period of the table for events (``W-MON`` or ``MS``); a panel keeps its own.
    quiet_periods
        A unit is *new* in a period when it is active then and had no event in
        the ``quiet_periods`` periods before (or none at all on record).
    window
        Periods pooled in each row (rolling, ending at ``ds``): 1 gives the
        period itself, 4 the last four weeks.

    Returns
    -------
    pandas.DataFrame
        One row per period: ``ds``; ``events`` (all units); ``active_units``
        (units with at least one event); ``events_outside`` and
        ``share_outside`` (outside the stronghold; share NaN without events);
        ``new_units`` (NaN for the first row, which has no history);
        ``mean_distance_km`` and ``standard_distance_km`` (mean and root mean
        square distance of the events from the stronghold centroid, the
        stronghold units' centroids weighted by their baseline events);
        ``hhi`` (sum of squared unit shares of the events: 1 when all are in
        one unit, 1/n when spread evenly over n) and ``entropy`` (of the unit
        shares, in nats: 0 when all are in one unit). Concentration and
        distances are NaN in periods without events.

    Examples
    --------
    >>> import pandas as pd
    >>> ds = pd.date_range("2021-01-04", periods=3, freq="W-MON")
    >>> panel = pd.DataFrame({"unit_id": ["AF-NAN"] * 3 + ["AF-KNR"] * 3,
    ...                       "ds": list(ds) * 2, "y": [2, 2, 1, 0, 0, 1]})
    >>> t = spread_indicators(panel, ["AF-NAN"], quiet_periods=2)
    >>> t[["events", "active_units", "share_outside", "new_units", "hhi"]].to_dict("list")
    {'events': [2, 2, 2], 'active_units': [1, 1, 2], 'share_outside': [0.0, 0.0, 0.5], 'new_units': [nan, 0.0, 1.0], 'hhi': [1.0, 1.0, 0.5]}
    """
    whole_number(window, "window (periods)")
    strong_ids = list(stronghold.unit_ids) if isinstance(stronghold, Stronghold) else list(stronghold)
    from_events = "event_id" in data.columns and "date" in data.columns
    if from_events:
        freq = freq or "W-MON"
        events = data[data["admin1_code"].notna()].copy()
        if events.empty:
            raise EmptyDataError("no located events to compute spread indicators from")
        events["ds"] = period_start(events["date"], freq).to_numpy()
        gaz = gazetteer_for(list(events["admin1_code"].astype(str)) + strong_ids, gazetteer)
        units = gaz.unit_ids
        periods = pd.date_range(events["ds"].min(), events["ds"].max(), freq=freq)
        wide = (
            events.groupby(["ds", "admin1_code"]).size().unstack(fill_value=0)
            .reindex(index=periods, columns=units, fill_value=0)
        )
    else:
        panel, _ = panel_bounds(data)
        wide = to_wide(panel).fillna(0)
        units = [str(u) for u in wide.columns]
        gaz = gazetteer_for(units + strong_ids, gazetteer)
        periods = wide.index
    unknown = [u for u in strong_ids if u not in units]
    if unknown:
        raise ParameterError(f"stronghold units {unknown} are not in the data")

    y = wide.to_numpy(dtype=float).T  # (units, periods)
    pooled = _rolling_sum(y, window)
    inside = np.isin(units, strong_ids)
    events_total = pooled.sum(axis=0)
    outside = pooled[~inside].sum(axis=0)
    active = pooled > 0
    quiet, never = quiet_before(y, lag=window)
    history = quiet >= 0
    new = active & history & ((quiet >= quiet_periods) | never)
    new_units = np.where(history.any(axis=0), new.sum(axis=0), np.nan)

    shares = np.divide(pooled, events_total, out=np.zeros_like(pooled), where=events_total > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        hhi = np.where(events_total > 0, (shares**2).sum(axis=0), np.nan)
        entropy = np.where(events_total > 0, -(np.where(shares > 0, shares * np.log(shares), 0.0)).sum(axis=0), np.nan)

    centre = _stronghold_centre(stronghold, strong_ids, gaz)
    if from_events:
        lat = events["latitude"].to_numpy(dtype=float)
        lon = events["longitude"].to_numpy(dtype=float)
        # Events without coordinates are placed at their unit's centroid.
        centroids = gaz.units.set_index("unit_id")[["latitude", "longitude"]]
        fill = centroids.reindex(events["admin1_code"].astype(str))
        lat = np.where(np.isfinite(lat), lat, fill["latitude"].to_numpy(dtype=float))
        lon = np.where(np.isfinite(lon), lon, fill["longitude"].to_numpy(dtype=float))
        d = haversine_km(lat, lon, *centre)
        sums = (
            pd.DataFrame({"ds": events["ds"].to_numpy(), "d": d, "d2": d**2})
            .groupby("ds")[["d", "d2"]].sum().reindex(periods, fill_value=0.0)
        )
        d_sum = _rolling_sum(sums["d"].to_numpy()[None, :], window)[0]
        d2_sum = _rolling_sum(sums["d2"].to_numpy()[None, :], window)[0]
    else:
        coords = gaz.units.set_index("unit_id").loc[units, ["latitude", "longitude"]].to_numpy(dtype=float)
        d = haversine_km(coords[:, 0], coords[:, 1], *centre)
        d_sum = d @ pooled
        d2_sum = (d**2) @ pooled
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_distance = np.where(events_total > 0, d_sum / events_total, np.nan)
        standard_distance = np.where(events_total > 0, np.sqrt(d2_sum / events_total), np.nan)
        share_outside = np.where(events_total > 0, outside / events_total, np.nan)
    table = pd.DataFrame(
        {
            "ds": pd.DatetimeIndex(periods),
            "events": events_total.astype(np.int64),
            "active_units": active.sum(axis=0).astype(np.int64),
            "events_outside": outside.astype(np.int64),
            "share_outside": share_outside,
            "new_units": new_units,
            "mean_distance_km": mean_distance,
            "standard_distance_km": standard_distance,
            "hhi": hhi,
            "entropy": entropy,
        },
        columns=INDICATOR_COLUMNS,
    )
    table.attrs.update(window=int(window), quiet_periods=int(quiet_periods), stronghold=strong_ids)
    return table


def _rolling_sum(y: np.ndarray, window: int) -> np.ndarray:
    """Sum over the last ``window`` periods (fewer at the start), along axis 1."""
    if window == 1:
        return y.astype(float)
    cumulative = np.cumsum(y, axis=1, dtype=float)
    out = cumulative.copy()
    out[:, window:] = cumulative[:, window:] - cumulative[:, :-window]
    return out


def _stronghold_centre(stronghold: Stronghold | Sequence[str], unit_ids: list[str], gazetteer: Gazetteer) -> tuple[float, float]:
    """Centroid of the stronghold units, weighted by their baseline events (equal weights if none)."""
    coords = gazetteer.units.set_index("unit_id").loc[unit_ids, ["latitude", "longitude"]].to_numpy(dtype=float)
    weights = np.ones(len(unit_ids))
    if isinstance(stronghold, Stronghold) and stronghold.has_events:
        weights = np.array([stronghold.events.get(u, 0) for u in unit_ids], dtype=float)
    weights = weights / weights.sum()
    # Averaging degrees is fine here: stronghold units are neighbours, far from the antimeridian.
    return float(weights @ coords[:, 0]), float(weights @ coords[:, 1])


# --------------------------------------------------------------- spillover
SPILLOVER_COLUMNS = [
    "unit_id",
    "name",
    "share",
    "share_lo",
    "share_hi",
    "baseline_share",
    "imported",
    "expected",
]


@dataclass
class Spillover:
    """The share of each unit's expected count imported from the stronghold.

    Attributes
    ----------
    units
        One row per non-stronghold unit: ``unit_id, name``; ``share`` with its
        interval ``share_lo, share_hi`` (level :attr:`level`) over the recent
        window; ``baseline_share`` over the window before it; ``imported`` and
        ``expected`` counts over the recent window. Empty when not available.
    by_period
        ``unit_id, ds, imported, expected, share, share_lo, share_hi`` for every
        fitted period.
    available
        False when the spread model is missing or could not be fitted; then
        :attr:`note` says why.
    note
        Why the share is unavailable, or a caveat; None otherwise.
    fit
        The fitted model (:class:`~forecast.models.endemic_epidemic.EndemicEpidemicFit`) or None.
    level
        Coverage of the intervals.
    recent, baseline
        ``(first, last)`` period starts of the two windows compared.
    """

    units: pd.DataFrame
    by_period: pd.DataFrame
    available: bool
    note: str | None = None
    fit: Any = None
    level: float = 0.9
    recent: tuple[pd.Timestamp, pd.Timestamp] | None = None
    baseline: tuple[pd.Timestamp, pd.Timestamp] | None = None

    @classmethod
    def unavailable(cls, note: str) -> Spillover:
        """A result saying why there is no spillover share."""
        empty = pd.DataFrame({c: pd.Series(dtype=object if c in ("unit_id", "name") else float) for c in SPILLOVER_COLUMNS})
        return cls(units=empty, by_period=pd.DataFrame(), available=False, note=note)


def default_spillover_config() -> Any:
    """The endemic-epidemic configuration :func:`spillover_share` fits by default.

    Negative binomial; endemic part with a shared intercept, trend and one
    yearly harmonic; own-lag and neighbour parts with intercepts; neighbour
    weights a power law in the adjacency order (up to order 6, the decay
    estimated), so the stronghold can reach units beyond its borders as far as
    the data support it.
    """
    from forecast.models.endemic_epidemic import EndemicEpidemicConfig

    return EndemicEpidemicConfig(trend=True, harmonics=1, weights="powerlaw", maxlag=6, family="negbin1")


def spillover_share(
    panel: pd.DataFrame,
    stronghold: Stronghold | Sequence[str],
    as_of: Any = None,
    *,
    fit_periods: int = 104,
    recent_periods: int = 4,
    baseline_periods: int = 52,
    config: Any = None,
    gazetteer: Gazetteer | None = None,
    level: float = 0.9,
    n_draws: int = 200,
    seed: int = 0,
) -> Spillover:
    """Share of each unit's expected count that the spread model imports from the stronghold.

    Fits the endemic-epidemic model (:mod:`forecast.models.endemic_epidemic`)
    to the last ``fit_periods`` periods known at ``as_of`` and splits each
    unit's expected count with
    :meth:`~forecast.models.endemic_epidemic.EndemicEpidemicFit.attribution`.
    The imported part is the sum over stronghold units of
    ``phi * w_ji * Y_j,t-1``; its share is taken over the ``recent_periods``
    (imported / expected, both summed) and compared with the same share over
    the ``baseline_periods`` before them.

    Parameters
    ----------
    panel
        Long panel ``unit_id, ds, y``.
    stronghold
        The stronghold (or its unit ids).
    as_of
        Use only periods complete at this date (default: all).
    fit_periods, recent_periods, baseline_periods
        Window lengths in periods.
    config
        :class:`~forecast.models.endemic_epidemic.EndemicEpidemicConfig`;
        default :func:`default_spillover_config`.
    gazetteer
        Adjacency orders and population offsets (default: the panel's country).
    level, n_draws, seed
        Interval coverage, parameter draws behind it, and their seed.

    Returns
    -------
    Spillover
        With ``available=False`` and a ``note`` (never an exception) when the
        spread model cannot be imported or fitted, so that alarm rules that do
        not need it still run.

    Notes
    -----
    Per period, attribution gives quantiles of each source's share over
    parameter draws. The window's interval is the expected-count-weighted mean
    of the per-period quantiles, summed over stronghold units. It is exact when
    the per-period shares move together over the draws (they all rise with the
    neighbour coefficient and fall with the endemic and own-lag ones) and a
    close approximation otherwise.

    Examples
    --------
    >>> from forecast.data.synthetic import generate_scenario
    >>> s = generate_scenario(seed=5, start="2019-01-07", end="2021-12-27")
    >>> result = spillover_share(s.counts[["unit_id", "ds", "y"]], s.stronghold)
    >>> result.available, bool((result.units["share"] <= 1).all())
    (True, True)
    """
    strong_ids = list(stronghold.unit_ids) if isinstance(stronghold, Stronghold) else list(stronghold)
    known, _ = panel_bounds(panel, as_of)
    try:
        from forecast.models.endemic_epidemic import EndemicEpidemic
    except ImportError as exc:  # pragma: no cover - the model ships with the package
        return Spillover.unavailable(f"the spread model is not available ({exc}); imported risk was not assessed")
    periods = np.sort(known["ds"].unique())
    if len(periods) < recent_periods + 8:
        return Spillover.unavailable(
            f"only {len(periods)} periods of data; the spread model needs at least {recent_periods + 8}"
        )
    periods = periods[-int(fit_periods):]
    window = known[known["ds"].isin(periods)]
    units = sorted(window["unit_id"].astype(str).unique())
    try:
        gaz = gazetteer_for(units, gazetteer)
        neighbourhood = pd.DataFrame(gaz.adjacency_order(units), index=units, columns=units)
        population = gaz.population_fraction().reindex(units)
    except ForecastError as exc:
        return Spillover.unavailable(f"no adjacency for the units ({exc}); imported risk was not assessed")
    if not window.loc[window["unit_id"].isin(strong_ids), "y"].to_numpy()[:-1].any():
        return Spillover.unavailable(
            "the stronghold had no events in the spread model's window, so nothing can be imported from it"
        )
    decay_note = None
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            # Units without events give 0/0 shares inside the model; they are dropped below.
            warnings.simplefilter("ignore", RuntimeWarning)
            chosen = config or default_spillover_config()
            offsets = population if population.notna().all() else None
            try:
                fit = EndemicEpidemic(chosen).fit(window[["unit_id", "ds", "y"]], neighbourhood, offsets)
            except ConvergenceError:
                if chosen.family != "negbin1":
                    raise
                # On few events the overdispersion can run to 0 (the Poisson limit),
                # a boundary the optimiser approaches without reaching: fit that limit.
                chosen = replace(chosen, family="poisson")
                fit = EndemicEpidemic(chosen).fit(window[["unit_id", "ds", "y"]], neighbourhood, offsets)
                decay_note = "too few events to estimate overdispersion; the spread model is Poisson"
            if _decay_unidentified(fit):
                # The data only say "influence stops at the border": the decay runs to
                # infinity and its parameter draws swing between no reach and full reach,
                # which would make every interval [0, share]. First-order adjacency is
                # that limit, with well-defined uncertainty.
                fit = EndemicEpidemic(replace(chosen, weights="adjacency")).fit(
                    window[["unit_id", "ds", "y"]], neighbourhood, offsets
                )
                decay_note = "; ".join(filter(None, [decay_note, (
                    "the spread model could not estimate how influence decays beyond adjacent "
                    "provinces (the data show none), so it uses first-order adjacency"
                )]))
            components = fit.fitted_components()
            recent = pd.DatetimeIndex(periods[-int(recent_periods):])
            baseline = pd.DatetimeIndex(periods[-int(recent_periods + baseline_periods):-int(recent_periods)])
            baseline = baseline[baseline > pd.Timestamp(periods[0])]  # the first period has no lag
            attribution = fit.attribution(
                periods=list(baseline.append(recent)), n_draws=n_draws, level=level, seed=seed
            )
    except ForecastError as exc:
        return Spillover.unavailable(f"the spread model could not be fitted ({exc}); imported risk was not assessed")
    except (np.linalg.LinAlgError, ValueError) as exc:
        logger.warning("spread model failed: %s", exc)
        return Spillover.unavailable(f"the spread model failed ({exc}); imported risk was not assessed")

    from_stronghold = attribution[attribution["imported_from"].isin(strong_ids)]
    imported = (
        from_stronghold.assign(lo=lambda f: f["share_lo"].fillna(0.0), hi=lambda f: f["share_hi"].fillna(0.0))
        .groupby(["unit_id", "ds"])[["expected", "lo", "hi"]].sum()
    )
    by_period = components.set_index(["unit_id", "ds"])[["mu"]].join(imported, how="left").fillna(0.0)
    by_period = by_period.rename(columns={"mu": "expected", "expected": "imported", "lo": "share_lo", "hi": "share_hi"})
    by_period["share"] = np.divide(
        by_period["imported"], by_period["expected"],
        out=np.zeros(len(by_period)), where=by_period["expected"].to_numpy() > 0,
    )
    by_period = by_period.reset_index()
    by_period = by_period[~by_period["unit_id"].isin(strong_ids)]

    def pooled(frame: pd.DataFrame) -> pd.DataFrame:
        sums = frame.groupby("unit_id").apply(
            lambda g: pd.Series({
                "imported": g["imported"].sum(),
                "expected": g["expected"].sum(),
                "share_lo": np.average(g["share_lo"], weights=g["expected"]) if g["expected"].sum() > 0 else 0.0,
                "share_hi": np.average(g["share_hi"], weights=g["expected"]) if g["expected"].sum() > 0 else 0.0,
            }),
            include_groups=False,
        )
        sums["share"] = np.where(sums["expected"] > 0, sums["imported"] / sums["expected"].where(sums["expected"] > 0, 1), 0.0)
        return sums

    now = pooled(by_period[by_period["ds"].isin(recent)])
    before = pooled(by_period[by_period["ds"].isin(baseline)]) if len(baseline) else None
    table = now.reset_index()
    table["baseline_share"] = (
        before["share"].reindex(table["unit_id"]).to_numpy() if before is not None else np.nan
    )
    table["name"] = [_name_of(gaz, u) for u in table["unit_id"]]
    # Quantiles of an average over draws need not bracket the plug-in share; keep it inside.
    table["share_lo"] = np.minimum(table["share_lo"], table["share"])
    table["share_hi"] = np.maximum(table["share_hi"], table["share"])
    notes = [decay_note]
    if isinstance(stronghold, Stronghold) and not stronghold.has_events:
        notes.append(stronghold.note)
    note = "; ".join(n for n in notes if n) or None
    return Spillover(
        units=table[SPILLOVER_COLUMNS].reset_index(drop=True),
        by_period=by_period[["unit_id", "ds", "imported", "expected", "share", "share_lo", "share_hi"]],
        available=True,
        note=note,
        fit=fit,
        level=level,
        recent=(recent[0], recent[-1]),
        baseline=(baseline[0], baseline[-1]) if len(baseline) else None,
    )


def attribution_table(spillover: Spillover, stronghold: Stronghold, gazetteer: Gazetteer | None = None) -> pd.DataFrame:
    """Each unit's expected count over the recent window split into its parts, with a sentence.

    Parameters
    ----------
    spillover
        From :func:`spillover_share` (must be available).
    stronghold
        The stronghold whose imports are reported.
    gazetteer
        Unit names.

    Returns
    -------
    pandas.DataFrame
        One row per unit outside the stronghold, largest imported share first:
        ``unit_id, name, expected, endemic, autoregressive, neighbour`` (sums
        over the recent window; the three parts add up to ``expected``),
        ``imported`` (the part of ``neighbour`` from the stronghold), ``share,
        share_lo, share_hi`` and ``sentence`` ("38 % of Kunar's expected
        attacks in 2021-11-29 to 2021-12-20 are imported from Nangarhar
        (90 % interval 21-52 %)").
    """
    if not spillover.available or spillover.fit is None or spillover.recent is None:
        raise ModelError(f"no spillover attribution: {spillover.note or 'the spread model was not fitted'}")
    first, last = spillover.recent
    parts = spillover.fit.fitted_components()
    parts = parts[(parts["ds"] >= first) & (parts["ds"] <= last) & ~parts["unit_id"].isin(stronghold.unit_ids)]
    sums = parts.groupby("unit_id")[["mu", "endemic", "autoregressive", "neighbour"]].sum().rename(columns={"mu": "expected"})
    shares = spillover.units.set_index("unit_id")[["imported", "share", "share_lo", "share_hi"]]
    table = sums.join(shares, how="left").fillna(0.0).reset_index()
    names = _names_for(table["unit_id"], gazetteer)
    table.insert(1, "name", names)
    period = f"{first:%Y-%m-%d}" if first == last else f"{first:%Y-%m-%d} to {last:%Y-%m-%d}"
    table["sentence"] = [
        f"{100 * row.share:.0f} % of {row.name}'s expected attacks in {period} are imported from "
        f"{stronghold.label()} ({100 * spillover.level:.0f} % interval {100 * row.share_lo:.0f}-{100 * row.share_hi:.0f} %)"
        for row in table.itertuples()
    ]
    return table.sort_values(["share", "expected"], ascending=False).reset_index(drop=True)


def _names_for(unit_ids: pd.Series, gazetteer: Gazetteer | None) -> list[str]:
    try:
        gaz = gazetteer_for(list(unit_ids), gazetteer)
    except ForecastError:
        return list(unit_ids)
    return [_name_of(gaz, unit) for unit in unit_ids]


#: Above this standard error (or decay) the power-law decay is taken as unidentified.
_MAX_DECAY_SE = 5.0
_MAX_DECAY = 20.0


def _decay_unidentified(fit: Any) -> bool:
    """True when a power-law fit's decay ``neweights.d`` ran off to "adjacent only"."""
    params, errors = fit.params, fit.std_errors
    if "neweights.d" not in params:
        return False
    decay, error = float(params["neweights.d"]), float(errors["neweights.d"])
    return not (np.isfinite(error) and error < _MAX_DECAY_SE and decay < _MAX_DECAY)
