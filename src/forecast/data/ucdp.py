"""UCDP Georeferenced Event Dataset (GED) release CSV -> canonical events.

The GED (Sundberg & Melander 2013, Journal of Peace Research 50(4); CC BY 4.0;
cite the release's codebook too) has one row per event with the conflict
``dyad_name`` and its two sides. ISIS-K appears as the side ``IS`` in the
dyads "Government of Afghanistan - IS", "IS - Civilians" and "IS - Taleban".

Mapping to the canonical table:

* ``event_id`` = ``"ucdp:" + id``; ``date`` = ``date_start``;
* ``date_precision`` from ``date_prec``: 1 day, 2-3 week (within 2-6 days /
  within a week), 4 month, 5 year (or a longer span);
* ``actor`` = the non-government side for state-based violence, ``side_a``
  (the perpetrator or first group) otherwise; when an actor filter matches
  only the other side, that side. ``actor_raw`` = ``dyad_name``;
* ``event_type`` from ``type_of_violence``: state-based, non-state, one-sided;
* ``admin1`` from ``adm_1`` ("Nangarhar province": the gazetteer ignores the
  word); ``admin2_name`` from ``adm_2`` without " district";
* fatalities ``low``/``best``/``high``;
* coordinates with ``where_prec`` 5-7 (a region spanning provinces, the
  country, international waters) do not place an event in one province.
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
    parse_dates,
    parse_fatalities,
    parse_numbers,
    staged_frame,
    strip_suffix,
)
from forecast.errors import InputError

SOURCE = "ucdp"

REQUIRED_COLUMNS: tuple[str, ...] = (
    "id", "type_of_violence", "dyad_name", "side_a", "side_b", "where_prec", "adm_1", "adm_2",
    "latitude", "longitude", "country", "date_prec", "date_start", "best", "high", "low",
)

#: Columns the actor regex is searched in.
ACTOR_COLUMNS: tuple[str, ...] = ("side_a", "side_b", "dyad_name")

VIOLENCE_TYPES: dict[int, str] = {1: "state-based", 2: "non-state", 3: "one-sided"}

#: ``date_prec`` -> canonical precision. 2 is "within 2-6 days", 3 "within a week".
DATE_PRECISION: dict[int, str] = {1: "day", 2: "week", 3: "week", 4: "month", 5: "year"}

#: ``where_prec`` from which the coordinates no longer lie in one known province.
COARSE_WHERE_PREC = 5


def _codes(raw: pd.DataFrame, column: str, allowed: dict[int, str] | range, path: str, *, required: bool) -> pd.Series:
    """Parse a small integer code column, naming the first value outside ``allowed``."""
    numbers = parse_numbers(raw[column], path=path, column=column, integer=True)
    valid = list(allowed)
    bad = (numbers.isna() & required) | (numbers.notna() & ~numbers.isin(valid))
    if bad.any():
        found = raw[column][bad].iloc[0]
        raise InputError(
            f"{found!r} is not a valid code; expected one of {', '.join(map(str, valid))} (see the GED codebook)",
            path=path,
            row=first_row(bad),
            column=column,
        )
    return numbers


def stage(raw: pd.DataFrame, path: str) -> tuple[pd.DataFrame, list[str]]:
    """Turn a GED table (strings) into the staged columns of :mod:`.common`."""
    ids = clean_text(raw["id"])
    if ids.isna().any():
        raise InputError("the event id is empty; every GED row has an id", path=path, row=first_row(ids.isna()), column="id")
    check_unique_ids(ids, path=path, column="id")

    violence = _codes(raw, "type_of_violence", VIOLENCE_TYPES, path, required=True)
    precision = _codes(raw, "date_prec", DATE_PRECISION, path, required=True)
    where_prec = _codes(raw, "where_prec", range(1, 8), path, required=False)

    side_a, side_b = clean_text(raw["side_a"]), clean_text(raw["side_b"])
    # In state-based dyads side_a is the government; the actor of interest is
    # the other side, unless both are governments (interstate conflict).
    government_b = side_b.fillna("").str.startswith("Government of")
    b_first = violence.eq(1) & ~government_b
    primary = side_b.where(b_first, side_a)
    secondary = side_a.where(b_first, side_b)

    country_found = clean_text(raw["country"])
    staged = staged_frame(
        raw.index,
        event_id="ucdp:" + ids.astype(str),
        source=SOURCE,
        date=parse_dates(
            raw["date_start"], path=path, column="date_start", formats=("ISO8601",),
            expected="YYYY-MM-DD or YYYY-MM-DD HH:MM:SS.sss",
        ),
        date_precision=precision.map(DATE_PRECISION),
        country_iso3=countries_iso3(country_found),
        country_found=country_found,
        admin1=clean_text(raw["adm_1"]),
        admin2_name=strip_suffix(clean_text(raw["adm_2"]), "district"),
        latitude=parse_numbers(raw["latitude"], path=path, column="latitude", minimum=-90, maximum=90),
        longitude=parse_numbers(raw["longitude"], path=path, column="longitude", minimum=-180, maximum=180),
        point_usable=~(where_prec >= COARSE_WHERE_PREC),
        actor_primary=primary,
        actor_secondary=secondary,
        actor_raw=clean_text(raw["dyad_name"]),
        event_type=violence.map(VIOLENCE_TYPES),
        fatalities_low=parse_fatalities(raw["low"], path=path, column="low"),
        fatalities_best=parse_fatalities(raw["best"], path=path, column="best"),
        fatalities_high=parse_fatalities(raw["high"], path=path, column="high"),
    )
    return staged, []


FORMAT = ProviderFormat(
    source=SOURCE,
    required=REQUIRED_COLUMNS,
    actor_columns=ACTOR_COLUMNS,
    admin1_column="adm_1",
    country_column="country",
    stage=stage,
    columns_hint="give the GED release CSV (GEDEvent_v*.csv) with its original header",
    usecols=REQUIRED_COLUMNS + ACTOR_COLUMNS,
)


def read_ucdp(path: str | Path, **options: Any) -> IngestResult:
    """Read a UCDP GED CSV into canonical events.

    Parameters
    ----------
    path
        The GED release CSV (or a ``.zip`` holding only it).
    **options
        ``country``, ``actor``, ``start``, ``end``, ``unmatched``, ``gazetteer``,
        ``boundaries``, ``aliases``: see :func:`forecast.data.read_events`.

    Examples
    --------
    >>> result = read_ucdp("tests/data/ucdp_ged_sample.csv", country="AFG", actor="^IS$")  # doctest: +SKIP
    >>> result.events["actor"].unique()  # doctest: +SKIP
    array(['IS'], dtype=object)
    """
    return ingest(FORMAT, path, **options)
