"""HDX's ACLED sub-national aggregates (one XLSX per country and topic) -> canonical counts.

OCHA's Humanitarian Data Exchange publishes, openly and monthly, ACLED's
counts per district and month for several countries: dataset
``<country>-acled-conflict-data`` (e.g. ``afghanistan-acled-conflict-data``),
one workbook per topic (:data:`TOPICS`). Each workbook has a ``TOU`` sheet
(ACLED's terms of use) and a ``Data`` sheet with the columns
:data:`COLUMNS`: one row per district and month, zeros included, ``Month``
an English month name, OCHA P-codes for provinces and districts.

ACLED's terms still apply: the workbook stays in the user's ``data/raw/hdx/``
and every report made from it carries ACLED's attribution
(:func:`forecast.data.citations.hdx_citation`).

Mapping to canonical counts (:mod:`forecast.data.counts`):

* ``ds`` = the first day of ``Month`` ``Year``; the counts are monthly (``MS``);
* ``y`` = ``Events``; ``fatalities_best`` = ``Fatalities`` (0 in the
  demonstrations workbook, which has none);
* level 1 (provinces): ``Admin1`` resolved through the gazetteer like any
  event reader's province names (OCHA spellings such as Sar-e Pol, Urozgan,
  Paktia or Wardak are aliases; ``Admin1 Pcode`` is the fallback), districts
  summed into their province;
* level 2 (districts): the unit is ``Admin2 Pcode`` (e.g. AF1703), named by
  its latest ``Admin2`` spelling, its province (``parent_id``) resolved as at
  level 1. A district renamed in the workbook stays one unit (one P-code).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from forecast.checks import choice
from forecast.data.counts import MAX_COUNT, CountResult, make_counts, resolve_units
from forecast.data.ingest import (
    UNMATCHED_POLICIES,
    check_country_has_gazetteer,
    clean_text,
    first_row,
    parse_fatalities,
    parse_numbers,
    read_table,
    require_columns,
    resolve_country,
)
from forecast.errors import EmptyDataError, InputError, ParameterError

if TYPE_CHECKING:  # pragma: no cover - the gazetteer pulls in geopandas
    from forecast.geo.gazetteer import Gazetteer

SOURCE = "hdx"

#: The sheet holding the counts, and the one holding ACLED's terms.
DATA_SHEET = "Data"
TERMS_SHEET = "TOU"

#: The ``Data`` sheet's columns, in order (the demonstrations workbook has no ``Fatalities``).
COLUMNS: tuple[str, ...] = (
    "Country", "Admin1", "Admin2", "ISO3", "Admin2 Pcode", "Admin1 Pcode", "Month", "Year", "Events", "Fatalities",
)
REQUIRED_COLUMNS: tuple[str, ...] = COLUMNS[:-1]

#: ``--topic`` -> the part of the resource name that identifies its workbook
#: (``afghanistan_hrp_civilian_targeting_events_and_fatalities_by_month-year``).
TOPICS: dict[str, str] = {
    "political-violence": "political_violence_events_and_fatalities",
    "civilian-targeting": "civilian_targeting_events_and_fatalities",
    "demonstrations": "demonstration_events",
}

#: English month names (the workbook's spelling, whatever the machine's locale).
MONTHS: dict[str, int] = {
    name: number
    for number, name in enumerate(
        ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
         "november", "december"),
        start=1,
    )
}

LEVELS = (1, 2)


def dataset_name(country: str) -> str:
    """HDX's dataset name for a country's ACLED aggregates.

    Examples
    --------
    >>> dataset_name("AFG")
    'afghanistan-acled-conflict-data'
    """
    import pycountry

    found = pycountry.countries.get(alpha_3=resolve_country(country))
    return f"{found.name.lower().replace(' ', '-')}-acled-conflict-data"


def _months(values: pd.Series, *, path: str) -> pd.Series:
    text = clean_text(values)
    number = text.str.lower().map(MONTHS)
    bad = number.isna()
    if bad.any():
        raise InputError(
            f"{text[bad].iloc[0]!r} is not an English month name (January ... December); "
            "give the HDX workbook as downloaded",
            path=path,
            row=first_row(bad),
            column="Month",
        )
    return number.astype(int)


def _country(raw: pd.DataFrame, country: str | None, *, path: str) -> tuple[str, pd.Series]:
    """The ISO3 code read and the rows of that country."""
    iso3 = clean_text(raw["ISO3"]).str.upper()
    if country is not None and str(country).strip():
        wanted = resolve_country(country)
    else:
        found = sorted(iso3.dropna().unique())
        if len(found) != 1:
            raise ParameterError(
                f"the workbook holds {len(found)} countries ({', '.join(found) or 'none'}); name one, "
                "e.g. country='AFG' (--country AFG)"
            )
        wanted = found[0]
    keep = iso3 == wanted
    if not keep.any():
        raise EmptyDataError(f"no rows for {wanted} (the workbook's ISO3 column has "
                             f"{', '.join(sorted(iso3.dropna().unique()))}); pass the country the workbook is of",
                             path=path)
    return wanted, keep


def _districts(raw: pd.DataFrame, provinces: pd.Series, ds: pd.Series, *, path: str) -> tuple[pd.DataFrame, list[str]]:
    """One row per district P-code: its latest name and its province; notes on renamed districts."""
    codes = clean_text(raw["Admin2 Pcode"])
    if codes.isna().any():
        raise InputError("the district P-code is empty; a district panel needs one per row", path=path,
                         row=first_row(codes.isna()), column="Admin2 Pcode")
    frame = pd.DataFrame({"unit_id": codes, "name": clean_text(raw["Admin2"]), "parent_id": provinces, "ds": ds})
    parents = frame.groupby("unit_id")["parent_id"].nunique()
    if (parents > 1).any():
        code = parents[parents > 1].index[0]
        raise InputError(f"district {code} lies in {int(parents[code])} provinces in the workbook; a P-code "
                         "names one district of one province", path=path, column="Admin2 Pcode")
    notes = []
    latest = frame.sort_values(["unit_id", "ds"]).groupby("unit_id").tail(1).set_index("unit_id")
    for code, group in frame.dropna(subset=["name"]).groupby("unit_id"):
        spellings = group.groupby("name")["ds"].agg(["min", "max"]).sort_values("min")
        if len(spellings) > 1:
            shown = "; ".join(f"{name!r} {row['min']:%Y-%m} to {row['max']:%Y-%m}" for name, row in spellings.iterrows())
            notes.append(f"district {code} is renamed in the workbook ({shown}); it stays one unit, "
                         f"shown as {latest.at[code, 'name']!r}")
    units = latest[["name", "parent_id"]].reset_index().sort_values("unit_id").reset_index(drop=True)
    units["name"] = units["name"].fillna(units["unit_id"])
    return units, notes


def read_hdx(
    path: str | Path,
    *,
    country: str | None = None,
    level: int = 1,
    unmatched: str = "error",
    gazetteer: Gazetteer | None = None,
    aliases: Mapping[str, str] | None = None,
) -> CountResult:
    """Read an HDX ACLED aggregates workbook into monthly canonical counts.

    Parameters
    ----------
    path
        The workbook (``.xlsx``) as downloaded (``forecast fetch hdx``).
    country
        ISO3 code or name; default the one country of the ``ISO3`` column.
    level
        1: provinces (districts summed); 2: districts (``Admin2 Pcode``).
    unmatched, gazetteer, aliases
        As for :func:`forecast.data.read_events` (province names).

    Returns
    -------
    CountResult
        ``units`` lists the districts (``unit_id, name, parent_id``) at level 2.

    Raises
    ------
    InputError
        No ``Data`` sheet, missing columns, a month that is not an English
        month name, a count that is not a whole number >= 0.
    UnknownUnitError
        Province names the gazetteer does not know (``unmatched="error"``).
    """
    choice(unmatched, "--unmatched", UNMATCHED_POLICIES)
    if level not in LEVELS:
        raise ParameterError(f"level {level!r} is not an HDX level; use 1 (provinces) or 2 (districts)")
    name = str(path)
    raw, header, _ = read_table(path, source=SOURCE, sheet=DATA_SHEET)
    require_columns(header, REQUIRED_COLUMNS, path=name, source=SOURCE,
                    hint="give an HDX ACLED sub-national workbook as downloaded (forecast fetch hdx)")
    rows_read = len(raw)
    iso3, keep = _country(raw, country, path=name)
    check_country_has_gazetteer(iso3, gazetteer)
    dropped = {"country": int((~keep).sum())}
    raw = raw[keep]
    year = parse_numbers(raw["Year"], path=name, column="Year", minimum=1900, integer=True)
    if year.isna().any():
        raise InputError("the year is empty", path=name, row=first_row(year.isna()), column="Year")
    ds = pd.to_datetime(pd.DataFrame({"year": year.astype(int), "month": _months(raw["Month"], path=name), "day": 1}))
    events = parse_numbers(raw["Events"], path=name, column="Events", minimum=0, maximum=MAX_COUNT, integer=True)
    if events.isna().any():
        raise InputError("the event count is empty; the workbook has 0 where nothing happened", path=name,
                         row=first_row(events.isna()), column="Events")
    fatalities = None
    if "Fatalities" in raw.columns:
        fatalities = parse_fatalities(raw["Fatalities"], path=name, column="Fatalities")
    provinces, unmatched_names = resolve_units(
        clean_text(raw["Admin1"]), country=iso3, gazetteer=gazetteer, aliases=aliases, unmatched=unmatched,
        path=name, column="Admin1", fallback=clean_text(raw["Admin1 Pcode"]),
    )
    located = provinces.notna()
    dropped["unmatched_unit"] = int((~located).sum())
    if not located.any():
        raise EmptyDataError("no counts left: no province name is known to the gazetteer", path=name)
    notes: list[str] = []
    units = None
    unit_ids = provinces
    if level == 2:
        units, notes = _districts(raw[located], provinces[located], ds[located], path=name)
        unit_ids = clean_text(raw["Admin2 Pcode"])
    counts = make_counts(unit_ids[located], ds[located], events[located],
                         None if fatalities is None else fatalities[located], freq="MS", country=iso3)
    return CountResult(counts=counts, source=SOURCE, path=name, rows_read=rows_read, freq="MS", dropped=dropped,
                       unmatched_names=unmatched_names, notes=notes, units=units, level=level)


__all__ = ["COLUMNS", "DATA_SHEET", "MONTHS", "TERMS_SHEET", "TOPICS", "dataset_name", "read_hdx"]
