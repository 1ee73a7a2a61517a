"""Alarms with memory: per-unit warning episodes and the group-level expansion alarm.

Rules raise alarms in a period; an analyst needs to know since when a
province has been flagged and whether it is still hot. An **episode** opens
in the first period a unit is raised to warning or above, stays open while
further warnings follow within ``follow_up_months`` of each other, and ends
``follow_up_months`` after the last one. Its status at a period is

- ``new``: opened in the last ``recent_periods``;
- ``ongoing``: opened earlier, a warning was raised in the last ``recent_periods``;
- ``cooling``: open, but no warning in the last ``recent_periods`` (the unit
  keeps the highest level of its episode until the episode ends);
- ``ended``: the episode closed in the last ``recent_periods``.

Everything is computed from the raised levels period by period, which use
data known at each period only, so the history replays exactly: the
episodes as of any past date are those :func:`evaluate_warnings` would have
shown then.

The **group-level expansion** alarm looks at the whole group: how many
provinces were newly struck (new ground, :class:`~forecast.alarms.NewGround`)
in the last ``expansion_months``, compared with the most the group struck in
any such window of its own history, with the share of attacks outside the
stronghold and their mean distance from it beside.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from forecast.alarms.config import NONE, WARNING, WarningConfig, months_as_periods

#: Episode states, in the order reports list them.
EPISODE_STATES: tuple[str, ...] = ("new", "ongoing", "cooling", "ended")


@dataclass
class Episodes:
    """Warning episodes of every unit at every period.

    Attributes
    ----------
    units, ds
        Rows and columns of the arrays.
    onset
        ``(units, periods)``: period index where the episode open at that
        period began (for ``ended``: the one that just closed), -1 if none.
    last_raised
        Period index of the episode's latest warning, -1 if none.
    peak
        Highest level raised during the episode so far.
    status
        ``(units, periods)`` of ``""`` or one of :data:`EPISODE_STATES`.
    hold
        Follow-up window in periods.
    """

    units: list[str]
    ds: pd.DatetimeIndex
    onset: np.ndarray
    last_raised: np.ndarray
    peak: np.ndarray
    status: np.ndarray
    hold: int
    freq: str = "W-MON"

    @property
    def open(self) -> np.ndarray:
        """``(units, periods)`` bool: an episode is open (new, ongoing or cooling)."""
        return np.isin(self.status, ("new", "ongoing", "cooling"))

    def held_level(self, raised: np.ndarray) -> np.ndarray:
        """The raised levels with every open episode held at its peak so far (warning or above)."""
        return np.where(self.open, np.maximum(raised, self.peak), raised)

    def table(self, t: int = -1) -> pd.DataFrame:
        """One row per unit with an episode at period ``t`` (open or just ended).

        Columns ``unit_id, status, onset, last_warning, held_until, peak``
        (dates are period starts; ``held_until`` is the last period the
        warning is held if nothing new is raised).
        """
        t = t % len(self.ds)
        rows = []
        for i, unit in enumerate(self.units):
            status = self.status[i, t]
            if not status:
                continue
            last = int(self.last_raised[i, t])
            held_until = self.ds[last] + to_offset(self.freq) * (self.hold - 1)
            rows.append({
                "unit_id": unit,
                "status": status,
                "onset": self.ds[int(self.onset[i, t])],
                "last_warning": self.ds[last],
                "held_until": pd.Timestamp(held_until),
                "peak": int(self.peak[i, t]),
            })
        return pd.DataFrame(rows, columns=["unit_id", "status", "onset", "last_warning", "held_until", "peak"])


def alarm_episodes(
    raised: np.ndarray, units: list[str], ds: pd.DatetimeIndex, freq: str, config: WarningConfig
) -> Episodes:
    """Warning episodes from the levels raised in each period.

    Parameters
    ----------
    raised
        ``(units, periods)`` levels raised in each period from data known
        then (0 none .. 3 alert), e.g. :func:`forecast.alarms.combine_levels`
        of the rules' full-history levels.
    units, ds, freq
        Rows, columns and frequency of ``raised``.
    config
        ``follow_up_months`` (the hold) and ``recent_periods`` (new/ongoing/ended).

    Examples
    --------
    >>> ds = pd.date_range("2021-01-04", periods=30, freq="W-MON")
    >>> raised = np.zeros((1, 30), dtype=int)
    >>> raised[0, [5, 9]] = 2
    >>> e = alarm_episodes(raised, ["AF-KDZ"], ds, "W-MON", WarningConfig())
    >>> [e.status[0, t] for t in (5, 9, 14, 21, 22, 23)]
    ['new', 'ongoing', 'cooling', 'cooling', 'ended', 'ended']
    """
    hold = months_as_periods(config.follow_up_months, freq)
    r = config.recent_periods
    raised = np.asarray(raised)
    n_units, n_periods = raised.shape
    onset = np.full((n_units, n_periods), -1, dtype=np.int64)
    last_raised = np.full((n_units, n_periods), -1, dtype=np.int64)
    peak = np.zeros((n_units, n_periods), dtype=np.int64)
    status = np.full((n_units, n_periods), "", dtype=object)
    for i in range(n_units):
        start = last = -1
        top = NONE
        for t in range(n_periods):
            if raised[i, t] >= WARNING:
                if start < 0 or t - last >= hold:
                    start, top = t, NONE
                last = t
                top = max(top, int(raised[i, t]))
            if start < 0:
                continue
            onset[i, t], last_raised[i, t], peak[i, t] = start, last, top
            if t - last < hold:
                status[i, t] = "new" if t - start < r else "ongoing" if t - last < r else "cooling"
            elif t - last < hold + r:
                status[i, t] = "ended"
    return Episodes(units=list(units), ds=ds, onset=onset, last_raised=last_raised, peak=peak, status=status,
                    hold=hold, freq=freq)


# ------------------------------------------------------- group expansion
@dataclass
class GroupExpansion:
    """The group-level expansion alarm as of a period.

    Attributes
    ----------
    raised
        True when at least ``expansion_min_units`` provinces were newly
        struck in the window and more than in any earlier window.
    level
        ``"alert"`` when raised, else ``"none"``.
    window_start, window_end
        First and last period of the window (period starts).
    newly_struck
        ``unit_id, name, onset`` of the provinces newly struck in the window.
    history_max
        Most provinces newly struck in any earlier window of the same length
        (None when the data hold no earlier window).
    share_outside, share_outside_before
        Share of events outside the stronghold in the window and in the
        year before it.
    mean_distance_km, mean_distance_km_before
        Mean distance of those events from the stronghold.
    headline
        One sentence for the top of a report.
    """

    raised: bool
    window_start: pd.Timestamp
    window_end: pd.Timestamp
    newly_struck: pd.DataFrame
    history_max: int | None
    share_outside: float
    share_outside_before: float
    mean_distance_km: float
    mean_distance_km_before: float
    headline: str
    months: int = 3
    notes: list[str] = field(default_factory=list)

    @property
    def level(self) -> str:
        return "alert" if self.raised else "none"

    def to_dict(self) -> dict[str, Any]:
        """JSON-simple form (the ``group`` entry of ``forecast warn --json``)."""
        def number(value: float) -> float | None:
            return None if value is None or not np.isfinite(value) else round(float(value), 6)

        return {
            "raised": bool(self.raised),
            "level": self.level,
            "headline": self.headline,
            "window_months": int(self.months),
            "window_start": f"{self.window_start:%F}",
            "window_end": f"{self.window_end:%F}",
            "newly_struck": [
                {"unit_id": r.unit_id, "name": r.name, "onset": f"{r.onset:%F}"}
                for r in self.newly_struck.itertuples(index=False)
            ],
            "history_max": self.history_max,
            "share_outside": number(self.share_outside),
            "share_outside_before": number(self.share_outside_before),
            "mean_distance_km": number(self.mean_distance_km),
            "mean_distance_km_before": number(self.mean_distance_km_before),
        }


def newly_struck_counts(new_ground_onsets: np.ndarray, window: int) -> np.ndarray:
    """Per period, units whose new-ground episode began in the ``window`` periods ending there.

    ``new_ground_onsets`` is ``(units, periods)`` bool (stronghold rows False).
    """
    per_period = np.asarray(new_ground_onsets, dtype=np.int64).sum(axis=0)
    cumulative = np.concatenate([[0], np.cumsum(per_period)])
    t = np.arange(len(per_period))
    return cumulative[t + 1] - cumulative[np.maximum(t + 1 - window, 0)]


def expansion_raised(counts: np.ndarray, window: int, first_judged: int, min_units: int) -> np.ndarray:
    """Per period: the group expansion alarm from :func:`newly_struck_counts`, using data known then.

    Raised at ``t`` when ``counts[t] >= min_units`` and it exceeds every
    count of the windows judged before the current one began (periods
    ``first_judged`` to ``t - window``); with no such window, the minimum alone.

    Examples
    --------
    >>> expansion_raised(np.array([0, 1, 1, 0, 2, 3, 2]), window=2, first_judged=0, min_units=2).tolist()
    [False, False, False, False, True, True, False]
    """
    counts = np.asarray(counts)
    n = len(counts)
    raised = np.zeros(n, dtype=bool)
    best = -1  # running maximum of counts[first_judged : t - window + 1]
    for t in range(n):
        end = t - window  # last period of the windows that ended before this one began
        if end >= first_judged:
            best = max(best, int(counts[end]))
        raised[t] = counts[t] >= min_units and counts[t] > best
    return raised


def group_expansion(
    new_ground_onsets: np.ndarray,
    units: list[str],
    ds: pd.DatetimeIndex,
    freq: str,
    config: WarningConfig,
    *,
    stronghold_label: str,
    names: Any = None,
    indicators: pd.DataFrame | None = None,
    first_judged: int = 0,
) -> GroupExpansion:
    """The group-level expansion alarm at the last period.

    Parameters
    ----------
    new_ground_onsets
        ``(units, periods)`` bool: a new-ground episode began in the unit at
        the period (outside the stronghold; from data known then).
    units, ds, freq
        Rows, columns and frequency.
    config
        ``expansion_months`` and ``expansion_min_units``.
    stronghold_label
        Named in the headline ("outside Nangarhar").
    names
        Unit id -> display name (default: the id).
    indicators
        :func:`forecast.spread.spread_indicators` per period (``ds``,
        ``events``, ``events_outside``, ``mean_distance_km``): the share
        outside and the distance in the window and the year before.
    first_judged
        First period at which new ground could be judged (the rule needs a
        year of data before), so earlier windows do not count as history.
    """
    names = names or (lambda u: u)
    window = months_as_periods(config.expansion_months, freq)
    counts = newly_struck_counts(new_ground_onsets, window)
    t = len(ds) - 1
    first = max(t - window + 1, 0)
    earlier = counts[first_judged : max(first, first_judged)]
    # Windows ending before the current one starts (they may overlap each other, not it).
    history_max = int(earlier.max()) if len(earlier) else None
    hit_rows, hit_cols = np.nonzero(np.asarray(new_ground_onsets)[:, first:])
    struck = pd.DataFrame({
        "unit_id": [units[i] for i in hit_rows],
        "name": [names(units[i]) for i in hit_rows],
        "onset": ds[first + hit_cols],
    }, columns=["unit_id", "name", "onset"]).sort_values(["onset", "name"], kind="stable").reset_index(drop=True)
    count = len(struck)

    share = share_before = distance = distance_before = np.nan
    if indicators is not None and len(indicators):
        table = indicators.set_index("ds").reindex(ds)
        now = table.iloc[first : t + 1]
        year = months_as_periods(12, freq)
        before = table.iloc[max(first - year, 0) : first]
        share = _share(now)
        share_before = _share(before)
        distance = _weighted_distance(now)
        distance_before = _weighted_distance(before)

    raised = bool(expansion_raised(counts, window, first_judged, config.expansion_min_units)[t])
    word = "province" if count == 1 else "provinces"
    months = sorted({f"{d:%B %Y}" for d in struck["onset"]})
    when = f"in {months[0]}" if len(months) == 1 else f"in the {config.expansion_months} months to {ds[t]:%B %Y}"
    listed = ", ".join(struck["name"])
    history = (
        "no earlier window to compare" if history_max is None
        else f"at most {history_max} in any earlier {config.expansion_months}-month window"
    )
    context = []
    if np.isfinite(share):
        before_text = f", {share_before:.0%} in the year before" if np.isfinite(share_before) else ""
        context.append(f"{share:.0%} of attacks outside the stronghold{before_text}")
    if np.isfinite(distance):
        before_text = f" ({distance_before:.0f} km before)" if np.isfinite(distance_before) else ""
        context.append(f"mean distance {distance:.0f} km{before_text}")
    tail = ("; " + "; ".join(context)) if context else ""
    if t < first_judged:
        headline = (
            f"new ground cannot be judged yet: the data start {ds[0]:%Y-%m-%d} and a first attack counts as new "
            f"only after a year of data{tail}"
        )
    elif count:
        headline = f"{count} {word} newly struck outside {stronghold_label} {when} ({listed}; {history}){tail}"
    else:
        headline = (
            f"no province newly struck outside {stronghold_label} in the last {config.expansion_months} months"
            f" ({history}){tail}"
        )
    headline = ("Group expansion alarm: " if raised else "No group expansion alarm: ") + headline
    return GroupExpansion(
        raised=bool(raised), window_start=ds[first], window_end=ds[t], newly_struck=struck,
        history_max=history_max, share_outside=share, share_outside_before=share_before,
        mean_distance_km=distance, mean_distance_km_before=distance_before, headline=headline,
        months=config.expansion_months,
    )


def _share(rows: pd.DataFrame) -> float:
    total = rows["events"].sum() if "events" in rows else 0
    return float(rows["events_outside"].sum() / total) if total else np.nan


def _weighted_distance(rows: pd.DataFrame) -> float:
    """Mean distance over the periods, weighted by their events outside the stronghold."""
    if "mean_distance_km" not in rows:
        return np.nan
    weights = rows["events_outside"].to_numpy(dtype=float)
    values = rows["mean_distance_km"].to_numpy(dtype=float)
    ok = np.isfinite(values) & (weights > 0)
    return float(np.average(values[ok], weights=weights[ok])) if ok.any() else np.nan

