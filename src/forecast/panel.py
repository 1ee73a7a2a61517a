"""Events -> complete long panel ``unit_id, ds, y, fatalities_best``.

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
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from forecast.checks import frequency
from forecast.errors import EmptyDataError, ParameterError
from forecast.schema import PANEL, validate

Frequency = Literal["W-MON", "MS"]

#: Finest panel frequency each date precision can go into.
_PRECISION_RANK = {"day": 0, "week": 1, "month": 2, "year": 3}
_FREQUENCY_RANK = {"W-MON": 1, "MS": 2}


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


def build_panel(
    events: pd.DataFrame,
    *,
    freq: str = "W-MON",
    start=None,
    end=None,
    units: list[str] | None = None,
    country: str | None = "AFG",
) -> pd.DataFrame:
    """Count events per unit and period into a complete long panel.

    Parameters
    ----------
    events
        Canonical events (:data:`forecast.schema.EVENTS`).
    freq
        ``"W-MON"`` (weeks starting Monday) or ``"MS"`` (months).
    start, end
        First and last dates covered; default the first and last event. Events
        outside are left out (counted in ``attrs["dropped"]["outside_range"]``).
    units
        Unit ids the panel covers; default every unit of ``country``'s gazetteer,
        so provinces without events are present as zeros.
    country
        ISO3 code whose gazetteer supplies the units (and whose events are kept).

    Returns
    -------
    pandas.DataFrame
        ``unit_id, ds, y, fatalities_best`` sorted by unit and period, with
        ``attrs`` ``freq``, ``start``, ``end`` and ``dropped`` (reason -> events).

    Examples
    --------
    >>> from forecast.synthetic import generate_scenario
    >>> panel = build_panel(generate_scenario(seed=1).events, freq="MS")
    >>> panel["unit_id"].nunique(), panel.groupby("unit_id").size().nunique()
    (34, 1)
    """
    frequency(freq)
    if units is None:
        from forecast.gazetteer import Gazetteer

        units = Gazetteer.load(country or "AFG").unit_ids
    if not units:
        raise ParameterError("a panel needs at least one unit")

    dropped: dict[str, int] = {}
    kept = events
    if country is not None and len(kept):
        in_country = kept["country_iso3"] == country
        dropped["other_country"] = int((~in_country).sum())
        kept = kept[in_country]
    unlocated = kept["admin1_code"].isna() | ~kept["admin1_code"].isin(units)
    dropped["unlocated"] = int(unlocated.sum())
    kept = kept[~unlocated]
    precision_rank = kept["date_precision"].map(_PRECISION_RANK)
    too_coarse = precision_rank > _FREQUENCY_RANK[freq]
    dropped["imprecise_date"] = int(too_coarse.sum())
    kept = kept[~too_coarse]

    if start is None or end is None:
        if kept.empty:
            raise EmptyDataError(
                "no located events to build a panel from; give explicit start and end dates "
                "or check the actor/country filters"
            )
    start = pd.Timestamp(start) if start is not None else kept["date"].min()
    end = pd.Timestamp(end) if end is not None else kept["date"].max()
    periods = period_range(start, end, freq)
    # The grid covers whole periods, but events are kept only within [start, end]
    # themselves, as documented: a start on a Wednesday drops Monday's events.
    in_range = (
        (kept["date"] >= max(periods[0], start.normalize()))
        & (kept["date"] < min(_period_end(periods[-1], freq), end.normalize() + pd.Timedelta(days=1)))
    )
    dropped["outside_range"] = int((~in_range).sum())
    kept = kept[in_range]

    grid = pd.MultiIndex.from_product([sorted(units), periods], names=["unit_id", "ds"])
    counts = (
        kept.assign(ds=period_start(kept["date"], freq).to_numpy())
        .groupby(["admin1_code", "ds"])
        .agg(y=("event_id", "size"), fatalities_best=("fatalities_best", "sum"))
        .rename_axis(["unit_id", "ds"])
        .reindex(grid, fill_value=0)
        .reset_index()
    )
    counts["unit_id"] = counts["unit_id"].astype(str)
    counts["y"] = counts["y"].astype(np.int64)
    counts["fatalities_best"] = counts["fatalities_best"].astype(float)
    panel = validate(counts, PANEL)
    panel.attrs.update(
        freq=freq,
        start=f"{periods[0]:%F}",
        end=f"{periods[-1]:%F}",
        dropped=dropped,
    )
    return panel


def _period_end(period, freq: str):
    """Exclusive end of the period(s) labelled ``period`` (a Timestamp or a Series)."""
    if freq == "MS":
        if isinstance(period, pd.Series):
            return (period.dt.to_period("M") + 1).dt.start_time
        return period + pd.offsets.MonthBegin(1)
    return period + pd.Timedelta(days=7)


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
    complete = _period_end(panel["ds"], freq) <= as_of + pd.Timedelta(days=1)
    out = panel[complete].reset_index(drop=True)
    out.attrs = dict(panel.attrs)
    return out
