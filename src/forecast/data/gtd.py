"""Global Terrorism Database (GTD) CSV or XLSX -> canonical events.

The GTD publishes its CSV in Latin-1 (ISO-8859-1), so a CSV that is not UTF-8
is read as Latin-1 (and a note says so). ISIS-K appears as
``gname`` = "Khorasan Chapter of the Islamic State".

Mapping to the canonical table:

* ``event_id`` = ``"gtd:" + eventid``;
* ``date`` from ``iyear``/``imonth``/``iday``: ``iday`` 0 (unknown day) ->
  the 1st of the month, precision "month"; ``imonth`` 0 -> 1 January,
  precision "year"; a day with a note in ``approxdate`` (the day is a best
  guess within a stated range) -> precision "week";
* ``country_iso3`` from ``country_txt``; ``admin1`` from ``provstate``
  ("Unknown" counts as missing); no ``admin2_name`` (the GTD has cities, not
  districts);
* ``actor`` = ``gname``; ``actor_raw`` = "gname | gsubname";
  ``event_type`` = ``attacktype1_txt``;
* fatalities: best and high = ``nkill`` (which includes perpetrators), low =
  ``nkill - nkillter`` (victims only, at least 0) when ``nkillter`` is given;
* coordinates with ``specificity`` 5 (place unknown) do not place an event.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from forecast.data.ingest import (
    IngestResult,
    ProviderFormat,
    check_event_dates,
    check_unique_ids,
    clean_text,
    countries_iso3,
    first_row,
    ingest,
    join_names,
    parse_fatalities,
    parse_numbers,
    staged_frame,
)
from forecast.errors import InputError

SOURCE = "gtd"

REQUIRED_COLUMNS: tuple[str, ...] = (
    "eventid", "iyear", "imonth", "iday", "country_txt", "provstate",
    "latitude", "longitude", "attacktype1_txt", "gname", "nkill",
)

#: Columns used when present (not every GTD extract has them).
OPTIONAL_COLUMNS: tuple[str, ...] = ("approxdate", "specificity", "gsubname", "nkillter")

#: Columns the actor regex is searched in (``gsubname`` when present).
ACTOR_COLUMNS: tuple[str, ...] = ("gname", "gsubname")

#: ``specificity`` meaning "the place is unknown": the coordinates are not the event's.
UNKNOWN_PLACE_SPECIFICITY = 5


def _optional(raw: pd.DataFrame, column: str) -> pd.Series:
    """A column that not every GTD extract has; missing values when absent."""
    if column in raw.columns:
        return raw[column]
    return pd.Series(None, index=raw.index, dtype=object)


def _dates(raw: pd.DataFrame, path: str) -> tuple[pd.Series, pd.Series, int]:
    """Dates and precisions from iyear/imonth/iday; also how many were approximate."""
    year = parse_numbers(raw["iyear"], path=path, column="iyear", minimum=1900, maximum=2100, integer=True)
    if year.isna().any():
        raise InputError("iyear is empty; every event needs a year", path=path, row=first_row(year.isna()), column="iyear")
    # 0 is the GTD's code for "unknown"; an empty cell means the same.
    month = parse_numbers(raw["imonth"], path=path, column="imonth", minimum=0, maximum=12, integer=True).fillna(0)
    day = parse_numbers(raw["iday"], path=path, column="iday", minimum=0, maximum=31, integer=True).fillna(0)
    day = day.where(month > 0, 0)
    date = pd.to_datetime(
        pd.DataFrame({"year": year, "month": month.clip(lower=1), "day": day.clip(lower=1)}).astype(int),
        errors="coerce",
    )
    bad = date.isna()
    if bad.any():
        row = first_row(bad)
        i = row - 1
        raise InputError(
            f"{int(year[i])}-{int(month[i]):02d}-{int(day[i]):02d} is not a calendar date; "
            "fix iyear/imonth/iday (0 means unknown)",
            path=path,
            row=row,
            column="iday",
        )
    precision = pd.Series("day", index=raw.index, dtype=object)
    precision[day == 0] = "month"
    precision[month == 0] = "year"
    approximate = clean_text(_optional(raw, "approxdate")).notna() & precision.eq("day")
    precision[approximate] = "week"
    return check_event_dates(date, path=path, column="iyear"), precision, int(approximate.sum())


def stage(raw: pd.DataFrame, path: str) -> tuple[pd.DataFrame, list[str]]:
    """Turn a GTD table (strings) into the staged columns of :mod:`.common`."""
    # XLSX stores the ID as a number; a float rendering ("201701010001.0") is the same ID.
    ids = clean_text(raw["eventid"])
    if ids.isna().any():
        raise InputError("eventid is empty; every GTD row has one", path=path, row=first_row(ids.isna()), column="eventid")
    ids = ids.astype(str).str.replace(r"\.0+$", "", regex=True)
    check_unique_ids(ids, path=path, column="eventid")

    date, precision, approximate = _dates(raw, path)
    notes = []
    if approximate:
        notes.append(f"{approximate} GTD event(s) have an approximate date (approxdate); given week precision")

    specificity = parse_numbers(_optional(raw, "specificity"), path=path, column="specificity", minimum=1, maximum=5)
    province = clean_text(raw["provstate"])
    province = province.map(lambda name: None if name is None or name.lower() == "unknown" else name)
    nkill = parse_fatalities(raw["nkill"], path=path, column="nkill")
    nkillter = parse_fatalities(_optional(raw, "nkillter"), path=path, column="nkillter")
    low = (nkill - nkillter).clip(lower=0).where(nkillter.notna(), nkill)
    country_found = clean_text(raw["country_txt"])
    gname = clean_text(raw["gname"])
    staged = staged_frame(
        raw.index,
        event_id="gtd:" + ids.astype(str),
        source=SOURCE,
        date=date,
        date_precision=precision,
        country_iso3=countries_iso3(country_found),
        country_found=country_found,
        admin1=province,
        latitude=parse_numbers(raw["latitude"], path=path, column="latitude", minimum=-90, maximum=90),
        longitude=parse_numbers(raw["longitude"], path=path, column="longitude", minimum=-180, maximum=180),
        point_usable=~specificity.eq(UNKNOWN_PLACE_SPECIFICITY),
        actor_primary=gname,
        actor_raw=join_names(gname, clean_text(_optional(raw, "gsubname"))),
        event_type=clean_text(raw["attacktype1_txt"]),
        fatalities_low=low,
        fatalities_best=nkill,
        fatalities_high=nkill,
    )
    return staged, notes


FORMAT = ProviderFormat(
    source=SOURCE,
    required=REQUIRED_COLUMNS,
    actor_columns=ACTOR_COLUMNS,
    admin1_column="provstate",
    country_column="country_txt",
    stage=stage,
    latin1_fallback=True,
    columns_hint="give the GTD CSV or XLSX with its original header",
    usecols=REQUIRED_COLUMNS + OPTIONAL_COLUMNS,
)


def read_gtd(path: str | Path, **options: Any) -> IngestResult:
    """Read a GTD CSV (Latin-1 or UTF-8) or XLSX into canonical events.

    Parameters
    ----------
    path
        ``globalterrorismdb_*.csv`` or ``.xlsx``.
    **options
        ``country``, ``actor``, ``start``, ``end``, ``unmatched``, ``gazetteer``,
        ``boundaries``, ``aliases``: see :func:`forecast.data.read_events`.
    """
    return ingest(FORMAT, path, **options)
