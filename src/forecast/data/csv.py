"""Generic event CSVs and canonical event tables.

A generic CSV has one row per event. Its columns default to the names below;
any other names are given with a mapping such as
``{"date": "Date", "admin1": "Province"}`` (``--columns date=Date,admin1=Province``):

=================  ===========================================================
``date``           required; ``YYYY-MM-DD`` (a time of day is ignored)
``admin1``         province name, matched through the gazetteer
``latitude``,      coordinates (used with boundaries when there is no
``longitude``      province name); ``admin1`` or both coordinates are required
``admin2``         district name, kept as is
``actor``          who did it (searched by the actor filter)
``fatalities``     one number, used for low, best and high
``event_id``       unique ID; without it IDs are ``csv:<row number>``
``country``        name or ISO code; without it ``country=`` must be given
``event_type``     free text
``date_precision`` day, week, month or year (default day)
=================  ===========================================================

A *canonical* table (parquet or CSV with exactly the columns of
:data:`forecast.schema.EVENT_COLUMNS`, as written by ``forecast ingest``) is
read back with :func:`read_canonical`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from forecast.data.ingest import (
    IngestResult,
    ProviderFormat,
    check_event_dates,
    check_unique_ids,
    clean_text,
    column_names,
    countries_iso3,
    first_row,
    ingest,
    parse_dates,
    parse_fatalities,
    parse_numbers,
    resolve_country,
    staged_frame,
)
from forecast.errors import InputError, ParameterError
from forecast.schema import DATE_PRECISIONS, EVENT_COLUMNS

SOURCE = "csv"

#: Canonical field names of a generic CSV (also its default column names).
FIELDS: tuple[str, ...] = (
    "date", "admin1", "admin2", "latitude", "longitude", "actor", "fatalities",
    "event_id", "country", "event_type", "date_precision",
)

# Column names people commonly use, only to *suggest* a --columns mapping;
# nothing is mapped without being asked.
_SYNONYMS: dict[str, set[str]] = {
    "date": {"date", "event_date", "day", "datum", "fecha"},
    "admin1": {"admin1", "adm1", "adm_1", "province", "provstate", "state", "region", "admin1_name"},
    "latitude": {"latitude", "lat", "y"},
    "longitude": {"longitude", "lon", "lng", "long", "x"},
}

DATE_EXPECTED = "YYYY-MM-DD"


def _check_columns(raw: pd.DataFrame, names: dict[str, str], explicit: set[str], *, needs_actor: bool, path: str) -> None:
    present = list(raw.columns)
    shown = ", ".join(present[:15]) + (", ..." if len(present) > 15 else "")
    for field in sorted(explicit):
        if names[field] not in present:
            raise InputError(
                f"column {names[field]!r} (given by --columns {field}={names[field]}) is not in the file "
                f"(the file has: {shown}); fix the mapping",
                path=path,
                column=names[field],
            )
    has = {field: names[field] in present for field in FIELDS}
    missing = []
    if not has["date"]:
        missing.append("date")
    if not has["admin1"] and not (has["latitude"] and has["longitude"]):
        missing.append("admin1")
    if needs_actor and not has["actor"]:
        missing.append("actor")
    if not missing:
        return
    suggestions = []
    for field in missing:
        guess = next((c for c in present if c.strip().lower() in _SYNONYMS.get(field, {field})), None)
        suggestions.append(f"{field}={guess or '<your column>'}")
    needs = "a 'date' column and an 'admin1' column (or 'latitude' and 'longitude')"
    if needs_actor:
        needs += ", and an 'actor' column for the actor filter"
    raise InputError(
        f"missing column(s) {', '.join(repr(names[f]) for f in missing)}: a generic CSV needs {needs} "
        f"(the file has: {shown}); map yours with --columns {','.join(suggestions)}",
        path=path,
        column=names[missing[0]],
    )


def event_format(
    columns: Mapping[str, str] | None = None, *, country: str | None = None, actor: str | None = None
) -> ProviderFormat:
    """The :class:`ProviderFormat` of a generic CSV with the given column mapping.

    Parameters
    ----------
    columns
        Field -> column name in the file, for the fields whose column is not
        named as the field.
    country
        Country of every row, required when the file has no country column.
    actor
        The actor filter, if any (the file then needs an actor column).
    """
    names = column_names(columns, FIELDS, what="the fields", example="admin1=Province,date=Date")
    explicit = set(columns or {})
    default_country = None if country is None or not str(country).strip() else resolve_country(country)

    def stage(raw: pd.DataFrame, path: str) -> tuple[pd.DataFrame, list[str]]:
        _check_columns(raw, names, explicit, needs_actor=bool(actor), path=path)

        def column(field: str) -> pd.Series:
            if names[field] in raw.columns:
                return raw[names[field]]
            return pd.Series(None, index=raw.index, dtype=object)

        if names["event_id"] in raw.columns:
            ids = clean_text(raw[names["event_id"]])
            if ids.isna().any():
                raise InputError(
                    "the event ID is empty; fill it in or drop the column to have IDs generated",
                    path=path,
                    row=first_row(ids.isna()),
                    column=names["event_id"],
                )
            check_unique_ids(ids, path=path, column=names["event_id"])
        else:
            # Deterministic: the same file always gets the same IDs.
            ids = pd.Series([str(i + 1) for i in raw.index], index=raw.index, dtype=object)

        if names["country"] in raw.columns:
            country_found = clean_text(raw[names["country"]])
            if default_country is not None:
                country_found = country_found.where(country_found.notna(), default_country)
            iso3 = countries_iso3(country_found)
        elif default_country is not None:
            country_found = pd.Series(default_country, index=raw.index, dtype=object)
            iso3 = country_found
        else:
            raise InputError(
                f"the file has no {names['country']!r} column, so the country is unknown; "
                "pass --country (e.g. --country AFG) or map a country column with --columns country=<column>",
                path=path,
            )

        precision = clean_text(column("date_precision")).map(lambda v: None if v is None else v.lower())
        bad = precision.notna() & ~precision.isin(DATE_PRECISIONS)
        if bad.any():
            raise InputError(
                f"{precision[bad].iloc[0]!r} is not a date precision; expected one of {', '.join(DATE_PRECISIONS)}",
                path=path,
                row=first_row(bad),
                column=names["date_precision"],
            )
        if names["fatalities"] not in raw.columns:
            # Without the mapped column the toll would be read as unknown (0 in counts):
            # a file that has the numbers under another name must say which to use.
            similar = [c for c in raw.columns if re.search(r"fatal|death|kill|casualt|dead", str(c), re.IGNORECASE)]
            if similar:
                raise InputError(
                    f"no {names['fatalities']!r} column, but {', '.join(map(repr, similar[:4]))}; say which holds "
                    f"the toll with --columns fatalities={similar[-1]}",
                    path=path,
                )
        fatalities = parse_fatalities(column("fatalities"), path=path, column=names["fatalities"])
        actor_names = clean_text(column("actor"))
        admin1 = clean_text(column("admin1"))
        staged = staged_frame(
            raw.index,
            event_id="csv:" + ids.astype(str),
            source=SOURCE,
            date=parse_dates(column("date"), path=path, column=names["date"], formats=("ISO8601",), expected=DATE_EXPECTED),
            date_precision=precision.where(precision.notna(), "day"),
            country_iso3=iso3,
            country_found=country_found,
            admin1=admin1,
            admin2_name=clean_text(column("admin2")),
            latitude=parse_numbers(column("latitude"), path=path, column=names["latitude"], minimum=-90, maximum=90),
            longitude=parse_numbers(column("longitude"), path=path, column=names["longitude"], minimum=-180, maximum=180),
            actor_primary=actor_names,
            actor_raw=actor_names,
            event_type=clean_text(column("event_type")),
            fatalities_low=fatalities,
            fatalities_best=fatalities,
            fatalities_high=fatalities,
        )
        return staged, []

    return ProviderFormat(
        source=SOURCE,
        required=(),  # checked in stage: the rule is "date and (admin1 or coordinates)"
        actor_columns=(names["actor"],),
        admin1_column=names["admin1"],
        country_column=names["country"],
        stage=stage,
    )


def read_csv(path: str | Path, *, columns: Mapping[str, str] | None = None, **options: Any) -> IngestResult:
    """Read a generic event CSV into canonical events.

    Parameters
    ----------
    path
        The CSV (UTF-8).
    columns
        Field -> column mapping for columns not named as the fields (see the module docstring).
    **options
        ``country``, ``actor``, ``start``, ``end``, ``unmatched``, ``gazetteer``,
        ``boundaries``, ``aliases``: see :func:`forecast.data.read_events`.

    Examples
    --------
    >>> read_csv("events.csv", columns={"date": "Date", "admin1": "Province"}, country="AFG")  # doctest: +SKIP
    """
    fmt = event_format(columns, country=options.get("country"), actor=options.get("actor"))
    return ingest(fmt, path, **options)


# ---------------------------------------------------------------- canonical
def _stage_canonical(raw: pd.DataFrame, path: str) -> tuple[pd.DataFrame, list[str]]:
    def text(column: str) -> pd.Series:
        return clean_text(raw[column])

    ids = text("event_id")
    check_unique_ids(ids, path=path, column="event_id")
    if pd.api.types.is_datetime64_any_dtype(raw["date"]):
        stamps = raw["date"].dt.tz_localize(None) if raw["date"].dt.tz is not None else raw["date"]
        date = check_event_dates(stamps.dt.normalize(), path=path, column="date")
    else:
        date = parse_dates(raw["date"], path=path, column="date", formats=("ISO8601",), expected=DATE_EXPECTED)
    numbers = {
        column: (parse_fatalities(raw[column], path=path, column=column) if column.startswith("fatalities")
                 else parse_numbers(raw[column], path=path, column=column))
        for column in ("latitude", "longitude", "fatalities_low", "fatalities_best", "fatalities_high")
    }
    staged = staged_frame(
        raw.index,
        event_id=ids,
        source=text("source"),
        date=date,
        date_precision=text("date_precision"),
        country_iso3=text("country_iso3"),
        country_found=text("country_iso3"),
        admin1_code=text("admin1_code"),
        admin1_name=text("admin1_name"),
        admin2_name=text("admin2_name"),
        actor_primary=text("actor"),
        actor_raw=text("actor_raw"),
        event_type=text("event_type"),
        **numbers,
    )
    return staged, []


CANONICAL_FORMAT = ProviderFormat(
    source="canonical",
    required=tuple(EVENT_COLUMNS),
    actor_columns=("actor", "actor_raw"),
    admin1_column="admin1_code",
    country_column="country_iso3",
    stage=_stage_canonical,
    match_places=False,
    columns_hint="give a table written by 'forecast ingest' (parquet or CSV with the canonical event columns)",
)


def ingest_canonical(path: str | Path, **options: Any) -> IngestResult:
    """Read and filter a canonical event table (parquet or CSV written by ``forecast ingest``).

    The places are already matched; ``country``, ``actor`` (searched in
    ``actor`` and ``actor_raw``), ``start`` and ``end`` filter it as for the
    providers' files.

    Parameters
    ----------
    path
        ``events.parquet`` or a CSV with the columns of :data:`forecast.schema.EVENT_COLUMNS`.
    **options
        ``country``, ``actor``, ``start``, ``end``.
    """
    unsupported = sorted(k for k, v in options.items() if k in ("gazetteer", "boundaries", "aliases") and v is not None)
    if unsupported:
        raise ParameterError(f"{', '.join(unsupported)} do not apply to a canonical table (its places are matched already)")
    options = {k: v for k, v in options.items() if k not in ("gazetteer", "boundaries", "aliases")}
    return ingest(CANONICAL_FORMAT, path, **options)


def read_canonical(path: str | Path) -> pd.DataFrame:
    """The canonical event table stored at ``path``, validated.

    Examples
    --------
    >>> events = read_canonical("data/processed/events.parquet")  # doctest: +SKIP
    """
    return ingest_canonical(path).events
