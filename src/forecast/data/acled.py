"""ACLED export CSV -> canonical events.

ACLED's terms forbid redistributing its data: the reader only reads the
user's own export (under ``data/raw/``) and nothing of it is shipped.
ISIS-K appears as an actor named like "Islamic State (Afghanistan)".

Mapping to the canonical table:

* ``event_id`` = ``"acled:" + event_id_cnty``; ``date`` = ``event_date``
  (``YYYY-MM-DD``; older exports' "08 October 2021" is accepted too);
* ``date_precision`` from ``time_precision``: 1 day, 2 week, 3 month;
* ``country_iso3`` from the numeric ISO 3166-1 ``iso`` (4 = Afghanistan),
  else from ``country``;
* ``actor`` = ``actor1`` (``actor2`` when an actor filter matches only it);
  ``actor_raw`` = "actor1 | actor2";
* ``event_type`` = ``event_type``; ``admin1``/``admin2`` as given (spellings
  such as Hilmand or Urozgan are matched through the gazetteer);
* ``fatalities`` for low, best and high alike (ACLED gives one number).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from forecast.data.ingest import (
    IngestResult,
    ProviderFormat,
    check_unique_ids,
    clean_text,
    countries_iso3,
    first_row,
    ingest,
    join_names,
    parse_dates,
    parse_fatalities,
    parse_numbers,
    staged_frame,
)
from forecast.errors import InputError

SOURCE = "acled"

REQUIRED_COLUMNS: tuple[str, ...] = (
    "event_id_cnty", "event_date", "time_precision", "event_type", "actor1", "actor2",
    "iso", "country", "admin1", "admin2", "latitude", "longitude", "fatalities",
)

#: Columns the actor regex is searched in.
ACTOR_COLUMNS: tuple[str, ...] = ("actor1", "actor2", "assoc_actor_1", "assoc_actor_2")

DATE_PRECISION: dict[int, str] = {1: "day", 2: "week", 3: "month"}


def stage(raw: pd.DataFrame, path: str) -> tuple[pd.DataFrame, list[str]]:
    """Turn an ACLED export (strings) into the staged columns of :mod:`.common`."""
    ids = clean_text(raw["event_id_cnty"])
    if ids.isna().any():
        raise InputError(
            "event_id_cnty is empty; every ACLED row has one", path=path, row=first_row(ids.isna()), column="event_id_cnty"
        )
    check_unique_ids(ids, path=path, column="event_id_cnty")

    precision = parse_numbers(raw["time_precision"], path=path, column="time_precision", integer=True)
    bad = ~precision.isin(list(DATE_PRECISION))
    if bad.any():
        raise InputError(
            f"{raw['time_precision'][bad].iloc[0]!r} is not a time_precision; expected 1, 2 or 3",
            path=path,
            row=first_row(bad),
            column="time_precision",
        )

    country_found = clean_text(raw["country"])
    iso_numeric = parse_numbers(raw["iso"], path=path, column="iso", minimum=0, integer=True)
    iso_text = iso_numeric.map(lambda v: None if pd.isna(v) else str(int(v)))
    # The numeric code is unambiguous; the name is the fallback (e.g. Kosovo has no ISO number).
    iso3 = countries_iso3(iso_text)
    iso3 = iso3.where(iso3.notna(), countries_iso3(country_found))

    actor1, actor2 = clean_text(raw["actor1"]), clean_text(raw["actor2"])
    fatalities = parse_fatalities(raw["fatalities"], path=path, column="fatalities")
    admin1 = clean_text(raw["admin1"])
    staged = staged_frame(
        raw.index,
        event_id="acled:" + ids.astype(str),
        source=SOURCE,
        date=parse_dates(
            raw["event_date"], path=path, column="event_date", formats=("ISO8601", "%d %B %Y"),
            expected="YYYY-MM-DD",
        ),
        date_precision=precision.map(DATE_PRECISION),
        country_iso3=iso3,
        country_found=country_found,
        admin1=admin1,
        admin2_name=clean_text(raw["admin2"]),
        latitude=parse_numbers(raw["latitude"], path=path, column="latitude", minimum=-90, maximum=90),
        longitude=parse_numbers(raw["longitude"], path=path, column="longitude", minimum=-180, maximum=180),
        actor_primary=actor1,
        actor_secondary=actor2,
        actor_raw=join_names(actor1, actor2),
        event_type=clean_text(raw["event_type"]),
        fatalities_low=fatalities,
        fatalities_best=fatalities,
        fatalities_high=fatalities,
    )
    return staged, []


FORMAT = ProviderFormat(
    source=SOURCE,
    required=REQUIRED_COLUMNS,
    actor_columns=ACTOR_COLUMNS,
    admin1_column="admin1",
    country_column="country",
    stage=stage,
    columns_hint="give an ACLED export CSV with its original header",
    usecols=REQUIRED_COLUMNS + ACTOR_COLUMNS,
)


def read_acled(path: str | Path, **options: Any) -> IngestResult:
    """Read an ACLED export CSV into canonical events.

    Parameters
    ----------
    path
        The export CSV.
    **options
        ``country``, ``actor``, ``start``, ``end``, ``unmatched``, ``gazetteer``,
        ``boundaries``, ``aliases``: see :func:`forecast.data.read_events`.
    """
    return ingest(FORMAT, path, **options)
