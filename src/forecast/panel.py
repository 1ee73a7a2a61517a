"""Events or counts -> complete long panel ``unit_id, ds, y`` and fatalities (best, low, high).

The panel has one row for every unit of the country and every period between
``start`` and ``end`` (zeros are rows), at an explicit frequency:

- ``W-MON``: weeks starting on Monday; ``ds`` is that Monday.
- ``MS``: calendar months; ``ds`` is the first day of the month.

Imprecise dates never leak into a finer panel as a fake day. An event whose
``date_precision`` is coarser than the panel period (a month-precision event in
a weekly panel, a year-precision event in any panel) is left out of the counts
and counted in ``panel.attrs["dropped"]["imprecise_date"]``; the sidecar and the
ingest summary report that number, so an analyst sees how much was set aside.
Week-precision events (UCDP ``date_prec`` 2-3, ACLED ``time_precision`` 2) are
placed in the week of their recorded (start) date.

A count table (``unit_id, ds, y[, fatalities_best]``, see
:mod:`forecast.data.counts`) is accepted wherever events are: its periods must
be the panel's (monthly counts cannot be split into weeks, nor weekly counts
cut at month ends), and its rows are zero-filled onto the same grid.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from forecast.checks import date, frequency
from forecast.errors import EmptyDataError, InputError, ParameterError
from forecast.schema import PANEL, validate

Frequency = Literal["W-MON", "MS"]

#: An as-of date this long after the last event is refused: the gap would count as zero attacks.
MAX_GAP_AFTER_DATA = pd.Timedelta(days=365)

#: Finest panel frequency each date precision can go into.
_PRECISION_RANK = {"day": 0, "week": 1, "month": 2, "year": 3}
_FREQUENCY_RANK = {"W-MON": 1, "MS": 2}

#: Columns of a canonical count table (the panel's own names; no ``event_id``).
COUNT_COLUMNS: list[str] = ["unit_id", "ds", "y", "fatalities_best"]
#: The panel's fatality columns: best estimate and the reported range's ends, summed per unit and period.
FATALITY_COLUMNS: list[str] = ["fatalities_best", "fatalities_low", "fatalities_high"]

#: Frequency names people read, for messages.
FREQUENCY_WORDS = {"MS": "monthly", "W-MON": "weekly"}
#: One period of each frequency, in words ("the week of ...", "expected next month").
PERIOD_WORDS = {"MS": "month", "W-MON": "week"}


def period_word(freq: str) -> str:
    """A period of ``freq`` in words: ``month`` or ``week``.

    Examples
    --------
    >>> period_word("MS"), period_word("W-MON")
    ('month', 'week')
    """
    return PERIOD_WORDS.get(freq, "week")


def period_name(ds: Any, freq: str, article: bool = True) -> str:
    """A period as a reader names it: ``the week of 2021-10-04`` (``week of ...`` without the article), ``October 2021``.

    Examples
    --------
    >>> period_name(pd.Timestamp("2021-10-04"), "W-MON"), period_name(pd.Timestamp("2021-10-01"), "MS")
    ('the week of 2021-10-04', 'October 2021')
    """
    ds = pd.Timestamp(ds)
    if freq == "MS":
        return f"{ds:%B %Y}"
    return f"{'the ' if article else ''}{period_word(freq)} of {ds:%Y-%m-%d}"


def plural(n: float, noun: str, many: str | None = None) -> str:
    """``n`` with its noun in the right number: ``1 event``, ``3 events``, ``2 watches``.

    Examples
    --------
    >>> plural(1, "event"), plural(3, "event"), plural(2, "watch"), plural(0, "alert")
    ('1 event', '3 events', '2 watches', '0 alerts')
    """
    if n == 1:
        return f"{n:g} {noun}"
    return f"{n:g} {many or (noun + 'es' if noun.endswith(('ch', 'sh', 's', 'x')) else noun + 's')}"


def is_count_table(frame: pd.DataFrame) -> bool:
    """Is ``frame`` a count table (``unit_id, ds, y``) rather than canonical events?

    Examples
    --------
    >>> is_count_table(pd.DataFrame(columns=COUNT_COLUMNS)), is_count_table(pd.DataFrame(columns=["event_id", "date"]))
    (True, False)
    """
    return {"unit_id", "ds", "y"} <= set(frame.columns) and "event_id" not in frame.columns


def dated_finely_enough(precision: pd.Series, freq: str) -> pd.Series:
    """Which events' date precision fits a ``freq`` panel (a month-precision event fits no weekly panel).

    Examples
    --------
    >>> dated_finely_enough(pd.Series(["day", "month"]), "W-MON").tolist()
    [True, False]
    """
    return precision.map(_PRECISION_RANK) <= _FREQUENCY_RANK[freq]


def period_start(dates: pd.Series | pd.DatetimeIndex, freq: str) -> pd.Series:
    """Label each date with the start of its period (the Monday, or the 1st of the month).

    Examples
    --------
    >>> period_start(pd.Series(pd.to_datetime(["2021-10-08", "2021-10-31"])), "W-MON").dt.strftime("%F").tolist()
    ['2021-10-04', '2021-10-25']
    >>> period_start(pd.Series(pd.to_datetime(["2021-10-08"])), "MS").dt.strftime("%F").tolist()
    ['2021-10-01']
    """
    frequency(freq)
    dates = pd.Series(pd.to_datetime(dates)).dt.normalize()
    if freq == "W-MON":
        return dates - pd.to_timedelta(dates.dt.day_of_week, unit="D")
    return dates.dt.to_period("M").dt.start_time


def period_range(start, end, freq: str) -> pd.DatetimeIndex:
    """All period labels from the period containing ``start`` to the one containing ``end``."""
    first, last = period_start(pd.Series(pd.to_datetime([start, end])), freq)
    if last < first:
        raise ParameterError(f"panel end {pd.Timestamp(end):%F} is before its start {pd.Timestamp(start):%F}")
    return pd.date_range(first, last, freq=freq if freq == "MS" else "W-MON")


def events_country(events: pd.DataFrame) -> str:
    """The ISO3 code of the one country ``events`` come from; an error naming the choice otherwise.

    Examples
    --------
    >>> events_country(pd.DataFrame({"country_iso3": ["AFG", "AFG"]}))
    'AFG'
    """
    countries = sorted(pd.Series(events.get("country_iso3", pd.Series(dtype=object))).dropna().unique())
    if len(countries) != 1:
        found = ", ".join(countries) if countries else "none"
        raise ParameterError(
            f"the events come from {len(countries)} countries ({found}); name the panel's country, "
            "e.g. country='AFG' (--country AFG), or all of them in one panel (--country AFG,PAK)"
        )
    return str(countries[0])


def build_panel(
    events: pd.DataFrame,
    *,
    freq: str = "W-MON",
    start=None,
    end=None,
    units: list[str] | None = None,
    country: str | None = None,
) -> pd.DataFrame:
    """Count events per unit and period into a complete long panel.

    Parameters
    ----------
    events
        Canonical events (:data:`forecast.schema.EVENTS`), or a count table
        (:data:`COUNT_COLUMNS`, as read by :mod:`forecast.data.counts`) whose
        periods are ``freq``'s.
    freq
        ``"W-MON"`` (weeks starting Monday) or ``"MS"`` (months).
    start, end
        First and last dates covered; default the first and last event. Events
        outside are left out (counted in ``attrs["dropped"]["outside_range"]``).
    units
        Unit ids the panel covers; default every unit of ``country``'s gazetteer,
        so provinces without events are present as zeros.
    country
        ISO3 code whose gazetteer supplies the units (and whose events are kept);
        None: the one country the events are from (several countries need it
        named: the library assumes none).

    Returns
    -------
    pandas.DataFrame
        ``unit_id, ds, y, fatalities_best, fatalities_low, fatalities_high`` sorted by unit and period, with
        ``attrs`` ``freq``, ``start``, ``end`` and ``dropped`` (reason -> events).

    Examples
    --------
    >>> from forecast.data.synthetic import generate_scenario
    >>> panel = build_panel(generate_scenario(seed=1).events, freq="MS")
    >>> panel["unit_id"].nunique(), panel.groupby("unit_id").size().nunique()
    (34, 1)
    """
    frequency(freq)
    if is_count_table(events):
        return _panel_from_counts(events, freq=freq, start=start, end=end, units=units, country=country)
    if country is None and units is None:
        country = events_country(events)
    if units is None:
        from forecast.geo.gazetteer import Gazetteer

        units = Gazetteer.load(country).unit_ids
    if not units:
        raise ParameterError("a panel needs at least one unit")

    dropped: dict[str, int] = {}
    kept = events
    if country is not None and len(kept):
        in_country = kept["country_iso3"].isin(str(country).split(","))  # "AFG,PAK": several countries
        dropped["other_country"] = int((~in_country).sum())
        kept = kept[in_country]
    unlocated = kept["admin1_code"].isna() | ~kept["admin1_code"].isin(units)
    dropped["unlocated"] = int(unlocated.sum())
    kept = kept[~unlocated]
    too_coarse = ~dated_finely_enough(kept["date_precision"], freq)
    dropped["imprecise_date"] = int(too_coarse.sum())
    kept = kept[~too_coarse]

    if start is None or end is None:
        if kept.empty:
            raise EmptyDataError(
                "no located events to build a panel from; give explicit start and end dates "
                "or check the actor/country filters"
            )
    start = date(start, "start") if start is not None else kept["date"].min()
    end = date(end, "end") if end is not None else kept["date"].max()
    periods = period_range(start, end, freq)
    # The grid covers whole periods, but events are kept only within [start, end]
    # themselves, as documented: a start on a Wednesday drops Monday's events.
    in_range = (
        (kept["date"] >= max(periods[0], start.normalize()))
        & (kept["date"] < min(period_end(periods[-1], freq), end.normalize() + pd.Timedelta(days=1)))
    )
    dropped["outside_range"] = int((~in_range).sum())
    kept = kept[in_range]

    grid = pd.MultiIndex.from_product([sorted(units), periods], names=["unit_id", "ds"])
    best = kept["fatalities_best"]
    counts = (
        kept.assign(
            ds=period_start(kept["date"], freq).to_numpy(),
            # An event without a reported range counts its best estimate at both ends.
            fatalities_low=kept["fatalities_low"].fillna(best) if "fatalities_low" in kept else best,
            fatalities_high=kept["fatalities_high"].fillna(best) if "fatalities_high" in kept else best,
        )
        .groupby(["admin1_code", "ds"])
        .agg(y=("event_id", "size"), fatalities_best=("fatalities_best", "sum"),
             fatalities_low=("fatalities_low", "sum"), fatalities_high=("fatalities_high", "sum"))
        .rename_axis(["unit_id", "ds"])
        .reindex(grid, fill_value=0)
        .reset_index()
    )
    counts["unit_id"] = counts["unit_id"].astype(str)
    counts["y"] = counts["y"].astype(np.int64)
    for column in FATALITY_COLUMNS:
        counts[column] = counts[column].astype(float)
    panel = validate(counts, PANEL)
    panel.attrs.update(
        freq=freq,
        start=f"{periods[0]:%F}",
        end=f"{periods[-1]:%F}",
        dropped=dropped,
    )
    return panel


def check_count_frequency(counts: pd.DataFrame, freq: str) -> str:
    """The frequency of a count table's periods; a :class:`ParameterError` when it is not ``freq``."""
    found = counts.attrs.get("freq")
    if found is None and counts["ds"].nunique() > 1:
        found = infer_freq(pd.DatetimeIndex(np.sort(pd.to_datetime(counts["ds"]).unique())))
    if found is not None and found != freq:
        have, want = FREQUENCY_WORDS.get(found, found), FREQUENCY_WORDS.get(freq, freq)
        raise ParameterError(
            f"the count table is {have} ({found}) but the panel is {want} ({freq}): {have} counts cannot make a "
            f"{want} panel; build a {have} panel (freq={found}, -p freq={found})"
        )
    return freq


def _panel_from_counts(
    counts: pd.DataFrame, *, freq: str, start: Any, end: Any, units: list[str] | None, country: str | None
) -> pd.DataFrame:
    """:func:`build_panel` for a count table: the same grid, attrs and drop counts (in events)."""
    check_count_frequency(counts, freq)
    country = country or counts.attrs.get("country")
    if units is None:
        if country is None:
            raise ParameterError("a count table names no country; name the panel's country, e.g. country='AFG'")
        from forecast.geo.gazetteer import Gazetteer

        units = Gazetteer.load(country).unit_ids
    if not units:
        raise ParameterError("a panel needs at least one unit")
    kept = counts.assign(ds=pd.to_datetime(counts["ds"]))
    if "fatalities_best" not in kept.columns:
        kept["fatalities_best"] = 0.0
    for column in ("fatalities_low", "fatalities_high"):
        kept[column] = kept[column].fillna(kept["fatalities_best"]) if column in kept else kept["fatalities_best"]
    off_grid = period_start(kept["ds"], freq).to_numpy() != kept["ds"].to_numpy()
    if off_grid.any():
        first = kept.loc[off_grid, "ds"].iloc[0]
        raise InputError(f"count period {first:%F} is not the start of a {freq} period; label each count with "
                         "its period's start", column="ds", row=int(np.flatnonzero(off_grid)[0]) + 1)
    unlocated = ~kept["unit_id"].isin(units)
    dropped = {"other_country": 0, "unlocated": int(kept.loc[unlocated, "y"].sum()), "imprecise_date": 0}
    kept = kept[~unlocated]
    if (start is None or end is None) and kept.empty:
        raise EmptyDataError("no counts in the panel's units to build a panel from; give explicit start and "
                             "end dates or check the units")
    start = date(start, "start") if start is not None else kept["ds"].min()
    end = date(end, "end") if end is not None else kept["ds"].max()
    periods = period_range(start, end, freq)
    in_range = kept["ds"].isin(periods)
    dropped["outside_range"] = int(kept.loc[~in_range, "y"].sum())
    kept = kept[in_range]
    grid = pd.MultiIndex.from_product([sorted(units), periods], names=["unit_id", "ds"])
    panel = (
        kept.groupby(["unit_id", "ds"])[["y", *FATALITY_COLUMNS]].sum()
        .reindex(grid, fill_value=0)
        .reset_index()
    )
    panel["unit_id"] = panel["unit_id"].astype(str)
    panel["y"] = panel["y"].astype(np.int64)
    for column in FATALITY_COLUMNS:
        panel[column] = panel[column].astype(float)
    panel = validate(panel, PANEL)
    # pandas carries the count table's attrs along; the panel's are exactly an event panel's.
    panel.attrs = {"freq": freq, "start": f"{periods[0]:%F}", "end": f"{periods[-1]:%F}", "dropped": dropped}
    return panel


def period_end(period, freq: str):
    """Exclusive end of the period(s) labelled ``period`` (a Timestamp or a Series).

    Examples
    --------
    >>> f"{period_end(pd.Timestamp('2021-12-20'), 'W-MON'):%F}", f"{period_end(pd.Timestamp('2021-12-01'), 'MS'):%F}"
    ('2021-12-27', '2022-01-01')
    """
    if freq == "MS":
        if isinstance(period, pd.Series):
            return (period.dt.to_period("M") + 1).dt.start_time
        return period + pd.offsets.MonthBegin(1)
    return period + pd.Timedelta(days=7)


def last_complete_period(as_of: Any, freq: str) -> pd.Timestamp:
    """Start of the last period that has ended by ``as_of`` (inclusive): what an as-of run judges.

    The period containing ``as_of`` counts only when ``as_of`` is its last day.

    Examples
    --------
    >>> f"{last_complete_period('2021-12-27', 'MS'):%F}", f"{last_complete_period('2021-12-31', 'MS'):%F}"
    ('2021-11-01', '2021-12-01')
    >>> f"{last_complete_period('2021-12-27', 'W-MON'):%F}", f"{last_complete_period('2022-01-02', 'W-MON'):%F}"
    ('2021-12-20', '2021-12-27')
    """
    next_day = pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1)
    current = period_start(pd.DatetimeIndex([next_day]), freq)[0]
    return current - pd.offsets.MonthBegin(1) if freq == "MS" else current - pd.Timedelta(days=7)


def to_wide(panel: pd.DataFrame, value: str = "y") -> pd.DataFrame:
    """Panel as a ``ds`` x ``unit_id`` table of ``value`` (the layout count models want)."""
    return panel.pivot(index="ds", columns="unit_id", values=value).sort_index()


def truncate(panel: pd.DataFrame, as_of) -> pd.DataFrame:
    """Rows with ``ds`` on or before ``as_of``'s period: what was known at that date.

    A period is kept only if it has ended by ``as_of`` (the period containing
    ``as_of`` itself is incomplete and dropped), so a forecast made "as of" a
    date never sees counts it could not have had.
    """
    freq = panel.attrs.get("freq", "W-MON")
    as_of = pd.Timestamp(as_of)
    complete = period_end(panel["ds"], freq) <= as_of + pd.Timedelta(days=1)
    out = panel[complete].reset_index(drop=True)
    out.attrs = dict(panel.attrs)
    return out


def cut(panel: pd.DataFrame, as_of: Any, name: str = "as_of") -> tuple[pd.DataFrame, pd.Timestamp]:
    """The one as-of cut of a built panel: the periods complete by ``as_of`` (see :func:`truncate`).

    Returns the rows and ``as_of`` as a timestamp. Raises :class:`ParameterError`
    naming both dates when no period is complete by then (the as-of date is the
    mistake, not the data).

    Examples
    --------
    >>> panel = pd.DataFrame({"unit_id": "A", "ds": pd.date_range("2021-10-04", periods=3, freq="W-MON"), "y": 1})
    >>> known, when = cut(panel, "2021-10-17")
    >>> known["ds"].dt.strftime("%F").tolist(), f"{when:%F}"
    (['2021-10-04', '2021-10-11'], '2021-10-17')
    """
    when = date(as_of, name)
    frame = panel.assign(ds=pd.to_datetime(panel["ds"]))
    frame.attrs = dict(panel.attrs)
    known = truncate(frame, when)
    if known.empty:
        first = frame["ds"].min()
        raise ParameterError(
            f"{name} {when:%F} is before the data: no period is complete by then and the first starts "
            f"{first:%F}; choose a later {name}"
        )
    return known, when


def panel_as_of(
    events: pd.DataFrame,
    *,
    freq: str,
    as_of: pd.Timestamp | None = None,
    start: Any = None,
    country: str | None = None,
    complete_until: pd.Timestamp | None = None,
    units: list[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Cut canonical events (or a count table) at the as-of date and count the complete periods into a panel.

    The one place where "what was known at ``as_of``" is decided:

    - ``as_of`` before the data start is an error naming both dates;
    - an ``as_of`` more than a year after the last event is refused (the gap
      would count as zero attacks), a shorter gap is returned as a note;
    - without ``as_of`` the data end at ``complete_until`` (a source known to
      be complete to a date, like the synthetic scenario) or else at the last
      event, and only periods complete by then enter the panel, so a
      half-observed last period never looks like a drop.

    A count table's rows are kept only for periods complete by the cut (a
    month's count is not known before the month ends); ``units`` is passed
    to :func:`build_panel` (e.g. the districts a workbook defines).

    Returns
    -------
    (events, panel, notes)
        Events (or counts) on or before the cut, the panel, and caveats for readers.
    """
    notes: list[str] = []
    counted = is_count_table(events)
    if counted:
        check_count_frequency(events, freq)
        events = events.assign(ds=pd.to_datetime(events["ds"]))
        events.attrs = dict(events.attrs)
    # A count speaks for its whole period: the data start on the first period's
    # first day and end on the last period's last day.
    dates = events["ds"] if counted else events["date"]
    if len(events):
        first_event = dates.min()
        last_event = period_end(dates.max(), freq) - pd.Timedelta(days=1) if counted else dates.max()
        data_start = date(start, "start") if start is not None else first_event
        if as_of is not None and as_of < data_start:
            raise ParameterError(
                f"as_of {as_of:%Y-%m-%d} is before the data start {data_start:%Y-%m-%d}; choose a later as_of"
            )
        if as_of is not None and complete_until is None and as_of - last_event > MAX_GAP_AFTER_DATA:
            raise ParameterError(
                f"as_of {as_of:%Y-%m-%d} is more than a year after the last event ({last_event:%Y-%m-%d}); "
                "the months between would count as zero attacks: choose an as_of within the data or add later events"
            )
        if as_of is not None and complete_until is None and as_of > last_event:
            notes.append(
                f"the last event is dated {last_event:%Y-%m-%d}, before the as-of date {as_of:%Y-%m-%d}: "
                "the panel counts the periods after it as zero attacks, and the early warning treats them as "
                "unknown; update the data, or set the as-of date to the data's end (-p as_of=null)"
            )
    cut = as_of if as_of is not None else complete_until
    if cut is None and len(events):
        cut = last_event
    end = None
    if cut is not None:
        kept = period_end(dates, freq) <= cut + pd.Timedelta(days=1) if counted else dates <= cut
        if as_of is not None and not kept.all():
            notes.append(_ignored_note(events[~kept.to_numpy()], counted, f"after the as-of date {as_of:%Y-%m-%d}",
                                       "set a later as-of date, or the data's end (-p as_of=null; no --as-of)"))
        attrs = dict(events.attrs)
        events = events[kept.to_numpy()].reset_index(drop=True)
        events.attrs = attrs
        end = cut
    if start is None and len(events):
        start = events["ds"].min() if counted else events["date"].min()
    panel = build_panel(events, freq=freq, start=start, end=end, country=country, units=units)
    if cut is not None:
        panel = truncate(panel, cut)
        # Events of a period not complete at the cut are known but not yet judged: say so, or a first
        # attack in a new province on the last days would vanish without a word.
        if len(panel) and not counted:
            complete_end = period_end(pd.Timestamp(panel["ds"].max()), freq)
            late = events[events["date"] >= complete_end]
            if len(late):
                week_end = period_end(complete_end, freq) - pd.Timedelta(days=1)
                notes.append(_ignored_note(
                    late, False,
                    f"in the {period_word(freq)} of {complete_end:%Y-%m-%d}, "
                    f"not complete at {pd.Timestamp(cut):%Y-%m-%d},",
                    f"to judge {{them}} now, set the as-of date to that period's end (--as-of {week_end:%Y-%m-%d}, "
                    f"-p as_of={week_end:%Y-%m-%d}): its remaining days then count as quiet",
                    verb="not judged yet",
                ))
    # The last day the data speak for: alarms judged later than a period after it call the data stale.
    data_end = complete_until
    if data_end is None and len(dates):
        data_end = last_event if cut is None else min(last_event, pd.Timestamp(cut))
    panel.attrs["data_end"] = None if data_end is None else pd.Timestamp(data_end)
    return events, panel, notes


def _ignored_note(rows: pd.DataFrame, counted: bool, where: str, fix: str, verb: str = "ignored") -> str:
    """One sentence on events (or counts) left out of a panel: how many, where, the deadliest, the fix."""
    if counted:
        n = int(rows["y"].sum())
        places = rows.loc[rows["y"] > 0, "unit_id"].astype(str)
    else:
        n = len(rows)
        places = rows["admin1_name"].fillna(rows["admin1_code"]).astype(str)
    shown = list(dict.fromkeys(places))
    listed = ", ".join(shown[:4]) + (f" and {len(shown) - 4} more" if len(shown) > 4 else "")
    dead = rows["fatalities_best"].max() if "fatalities_best" in rows and len(rows) else np.nan
    toll = f"; the deadliest killed {dead:,.0f}" if np.isfinite(dead) and dead > 0 else ""
    what, be, them = ("event", "is", "it") if n == 1 else ("events", "are", "them")
    return f"{n} {what} {where} {be} {verb} ({listed}{toll}); {fix.format(them=them)}"


def check_counts(y: pd.Series, unit_ids: pd.Series, ds: pd.Series) -> np.ndarray:
    """The counts of a long panel as floats, or an :class:`InputError` naming the first bad row.

    A count must be a number (a complete panel has 0 where nothing happened),
    at least 0 and whole. Every consumer of long panels (``PanelData``, the
    spread model) checks counts here.

    Examples
    --------
    >>> check_counts(pd.Series([0, 2]), pd.Series(["A", "A"]), pd.Series(pd.to_datetime(["2021-01-04", "2021-01-11"])))
    array([0., 2.])
    """
    values = pd.to_numeric(pd.Series(y), errors="coerce").to_numpy(dtype=float)
    units = pd.Series(unit_ids).to_numpy()
    dates = pd.Series(pd.to_datetime(ds)).reset_index(drop=True)
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{int(bad.sum())} count(s) are NaN or not numbers, the first for unit "
            f"{units[row]!r} at {dates.iloc[row].date()}; a complete panel has 0 "
            "where nothing happened: fill with 0 or rebuild with forecast.panel.build_panel",
            row=row + 1,
            column="y",
        )
    bad = (values < 0) | (values != np.round(values))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"counts must be non-negative integers; found {values[row]!r} for unit "
            f"{units[row]!r} at {dates.iloc[row].date()}",
            row=row + 1,
            column="y",
        )
    return values


# ------------------------------------------------- the panel as models see it
@dataclass(frozen=True)
class PanelData:
    """A validated panel as a dense ``units x periods`` count matrix.

    Build it with :meth:`from_panel`; models never see a malformed panel.

    Attributes
    ----------
    units
        Unit ids, sorted.
    ds
        The regular period starts, oldest first.
    freq
        Pandas frequency string of ``ds`` (``"W-MON"``, ``"MS"``, ...).
    y
        Counts, shape ``(len(units), len(ds))``, int64.
    """

    units: list[str]
    ds: pd.DatetimeIndex
    freq: str
    y: np.ndarray

    @classmethod
    def from_panel(cls, panel: pd.DataFrame, *, freq: str | None = None) -> PanelData:
        """Validate a long panel ``unit_id, ds, y`` and pivot it.

        Raises
        ------
        EmptyDataError
            The panel has no rows.
        InputError
            Missing columns, NaN / negative / fractional counts, duplicate rows,
            a single period, irregular dates or an incomplete unit.
        """
        if not isinstance(panel, pd.DataFrame):
            raise InputError(f"a panel must be a pandas DataFrame, got {type(panel).__name__}")
        missing = [c for c in ("unit_id", "ds", "y") if c not in panel.columns]
        if missing:
            raise InputError(
                f"panel lacks columns {missing} (has {list(panel.columns)}); "
                "build it with forecast.panel.build_panel"
            )
        if panel.empty:
            raise EmptyDataError(
                "the panel is empty: no unit has any period; check the country, actor and date "
                "filters used to build it"
            )
        ds = pd.to_datetime(panel["ds"], errors="coerce")
        if ds.isna().any():
            row = int(np.flatnonzero(ds.isna().to_numpy())[0])
            raise InputError(f"missing or unparsable date {panel['ds'].iloc[row]!r}", row=row + 1, column="ds")
        y = check_counts(panel["y"], panel["unit_id"], ds)
        frame = pd.DataFrame({"unit_id": panel["unit_id"].astype(str).to_numpy(), "ds": ds.to_numpy(), "y": y})
        duplicated = frame.duplicated(["unit_id", "ds"])
        if duplicated.any():
            first = frame[duplicated].iloc[0]
            raise InputError(
                f"{int(duplicated.sum())} duplicate unit_id x ds rows, e.g. {first['unit_id']!r} at "
                f"{first['ds'].date()}; a panel has one row per unit and period"
            )
        periods = pd.DatetimeIndex(np.sort(frame["ds"].unique()))
        if len(periods) < 2:
            raise InputError(
                f"the panel has a single period ({periods[0].date()}); models need at least 2 "
                "periods to fit and to know the frequency: build a longer panel"
            )
        freq = freq or panel.attrs.get("freq") or infer_freq(periods)
        expected = pd.date_range(periods[0], periods[-1], freq=freq)
        if len(expected) != len(periods) or not expected.equals(periods):
            gaps = expected.difference(periods)
            found = f"missing {gaps[0].date()}" if len(gaps) else f"{periods.difference(expected)[0].date()} is off-grid"
            raise InputError(
                f"panel dates are not regular at frequency {freq} ({found}); build the panel with "
                "forecast.panel.build_panel, which zero-fills every period",
                column="ds",
            )
        wide = frame.pivot(index="unit_id", columns="ds", values="y").reindex(columns=periods)
        incomplete = wide.isna().sum(axis=1)
        if incomplete.any():
            unit = incomplete[incomplete > 0].index[0]
            first = wide.columns[wide.loc[unit].isna().to_numpy()][0]
            raise InputError(
                f"unit {unit!r} lacks {int(incomplete[unit])} period(s) (first {first.date()}); "
                "the panel must be complete (zeros are rows)"
            )
        return cls(units=[str(u) for u in wide.index], ds=periods, freq=freq, y=wide.to_numpy(dtype=np.int64))

    @classmethod
    def from_counts(
        cls,
        y: np.ndarray,
        *,
        start: str = "2015-01-05",
        freq: str = "W-MON",
        units: Sequence[str] | None = None,
    ) -> PanelData:
        """Wrap a ``units x periods`` count matrix (e.g. a simulation) as panel data.

        Examples
        --------
        >>> data = PanelData.from_counts(np.array([[0, 1, 2], [3, 0, 0]]), start="2021-01-01", freq="MS")
        >>> data.to_frame().head(2).to_dict("list")["ds"]
        [Timestamp('2021-01-01 00:00:00'), Timestamp('2021-02-01 00:00:00')]
        """
        y = np.atleast_2d(np.asarray(y, dtype=np.int64))
        units = [f"U{i:03d}" for i in range(y.shape[0])] if units is None else [str(u) for u in units]
        return cls(units=units, ds=pd.date_range(start, periods=y.shape[1], freq=freq), freq=freq, y=y)

    def to_frame(self) -> pd.DataFrame:
        """The long panel ``unit_id, ds, y`` (unit-major order)."""
        return pd.DataFrame(
            {
                "unit_id": np.repeat(np.asarray(self.units, dtype=object), self.n_periods),
                "ds": np.tile(self.ds.to_numpy(), len(self.units)),
                "y": self.y.reshape(-1),
            }
        )

    @property
    def n_periods(self) -> int:
        """Number of periods."""
        return len(self.ds)

    def future_ds(self, h: int) -> pd.DatetimeIndex:
        """The ``h`` period starts after the last observed one."""
        return pd.date_range(self.ds[-1], periods=h + 1, freq=self.freq)[1:]



def infer_freq(periods: pd.DatetimeIndex) -> str:
    """Frequency of period starts: weekly or month-start by their steps (gaps allowed), else pandas'."""
    weeks = (periods[1:] - periods[:-1]) / pd.Timedelta(days=7)
    if np.all(weeks == np.round(weeks)) and np.median(weeks) == 1:
        return f"W-{periods[0].day_name()[:3].upper()}"
    if all(p.day == 1 for p in periods) and np.median(np.diff(periods.year * 12 + periods.month)) == 1:
        return "MS"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas 3 warns that infer_freq will return an offset
        freq = pd.infer_freq(periods) if len(periods) >= 3 else None
    if freq:
        return getattr(freq, "freqstr", freq)
    raise InputError(
        f"cannot tell the frequency of the panel dates ({periods[0].date()}, {periods[1].date()}, ...); "
        "pass freq='W-MON' or freq='MS'",
        column="ds",
    )


def default_season(freq: str) -> int | None:
    """Periods per seasonal cycle for a frequency: 52 weekly, 12 monthly, 4 quarterly.

    Examples
    --------
    >>> default_season("W-MON"), default_season("MS"), default_season("D")
    (52, 12, None)
    """
    offset = pd.tseries.frequencies.to_offset(freq)
    if isinstance(offset, pd.offsets.Week):
        return 52
    if isinstance(offset, pd.offsets.MonthBegin | pd.offsets.MonthEnd):
        return 12
    if isinstance(offset, pd.offsets.QuarterBegin | pd.offsets.QuarterEnd):
        return 4
    return None


def periods_per_year(freq: str) -> float:
    """Periods in a year (weeks: 52, months: 12, ...); 1.0 when the frequency has no year.

    Used to state trends per year, so coefficients read the same for any window.
    """
    season = default_season(freq)
    if season is not None:
        return float(season)
    if isinstance(pd.tseries.frequencies.to_offset(freq), pd.offsets.Day):
        return 365.25
    return 1.0
