"""Count tables: ``unit, period, count[, fatalities]`` in, canonical counts out.

Some data come already counted: a table with one row per place and period
(HDX's ACLED aggregates, an analyst's spreadsheet, another project's panel).
Such a table goes into the panel builder like events do
(:func:`forecast.panel.build_panel` takes either), and everything after the
panel -- backtests, forecasts, alarms -- runs on it exactly as on events.

=================  ===========================================================
``unit``           place name, code or alias, resolved through the gazetteer
                   (the same matching the event readers use)
``period``         ``YYYY-MM`` or ``YYYY-MM-01`` (monthly counts) or the
                   ``YYYY-MM-DD`` of a Monday (weekly counts)
``count``          events in that place and period: a whole number >= 0
``fatalities``     optional: fatalities in that place and period (best estimate)
``fatalities_low`` optional, with ``fatalities_high``: the reported range's
                   ends (both or neither; missing ends count the best estimate)
=================  ===========================================================

The canonical count table has the columns :data:`COUNT_COLUMNS` and
``attrs["freq"]`` (``MS`` or ``W-MON``, read from the periods), and
``attrs["country"]``. Several rows for one unit and period (two spellings of
one province, the districts of a province) are summed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from forecast.checks import choice
from forecast.data.ingest import (
    UNMATCHED_FIX,
    UNMATCHED_POLICIES,
    check_country_has_gazetteer,
    clean_text,
    column_names,
    first_row,
    parse_fatalities,
    parse_numbers,
    read_table,
    require_columns,
    resolve_country,
)
from forecast.errors import EmptyDataError, InputError, ParameterError, UnknownUnitError
from forecast.panel import (
    COUNT_COLUMNS,
    FREQUENCY_WORDS,
    dated_finely_enough,
    is_count_table,
    period_start,
)

if TYPE_CHECKING:  # pragma: no cover - the gazetteer pulls in geopandas
    from forecast.geo.gazetteer import Gazetteer

SOURCE = "counts"

#: Fields of a count table file (also its default column names).
FIELDS: tuple[str, ...] = ("unit", "period", "count", "fatalities", "fatalities_low", "fatalities_high")


@dataclass
class CountResult:
    """A count table read from one file, and what happened on the way.

    Attributes
    ----------
    counts
        Canonical counts (:data:`COUNT_COLUMNS`), sorted by unit and period,
        with ``attrs`` ``freq`` and ``country``.
    source
        The format read (``counts``, ``hdx``).
    path
        The file read.
    rows_read
        Data rows in the file.
    freq
        ``MS`` or ``W-MON``, read from the periods.
    dropped
        Rows removed, by reason (``country``, ``unmatched_unit``).
    unmatched_names
        Unit names not resolved -> rows (with ``unmatched="drop"``).
    notes
        Plain-language remarks (renamed districts, ...).
    units
        The units the table itself defines (``unit_id, name, parent_id``),
        e.g. districts from an HDX workbook; ``None`` when the units are the
        gazetteer's.
    level
        Administrative level of the units: 1 provinces, 2 districts.
    """

    counts: pd.DataFrame
    source: str
    path: str
    rows_read: int
    freq: str
    dropped: dict[str, int] = field(default_factory=dict)
    unmatched_names: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    units: pd.DataFrame | None = None
    level: int = 1

    def summary_dict(self) -> dict[str, Any]:
        """The summary as plain JSON-ready values."""
        counts = self.counts
        return {
            "source": self.source,
            "path": self.path,
            "rows_read": int(self.rows_read),
            "kept": int(len(counts)),
            "events": int(counts["y"].sum()),
            "freq": self.freq,
            "level": int(self.level),
            "dropped": {k: int(v) for k, v in self.dropped.items()},
            "unmatched_names": {k: int(v) for k, v in self.unmatched_names.items()},
            "date_min": None if counts.empty else f"{counts['ds'].min():%F}",
            "date_max": None if counts.empty else f"{counts['ds'].max():%F}",
            "units": int(counts["unit_id"].nunique()),
            "fatalities_best": float(counts["fatalities_best"].sum()),
            "notes": list(self.notes),
        }

    def summary(self) -> str:
        """Human-readable summary: rows read, counts kept, dropped by reason, notes."""
        info = self.summary_dict()
        word = FREQUENCY_WORDS.get(self.freq, self.freq)
        lines = [
            f"read {info['rows_read']} rows from {self.path} ({self.source}); {info['events']} events in "
            f"{info['kept']} {word} unit-period counts, {info['units']} units"
        ]
        lines.extend(f"  dropped {n} rows by {reason.replace('_', ' ')}" for reason, n in self.dropped.items() if n)
        if self.unmatched_names:
            names = ", ".join(f"{name!r} ({n})" for name, n in self.unmatched_names.items())
            lines.append(f"  unmatched unit names: {names}")
        if info["kept"]:
            lines.append(f"  periods {info['date_min']} to {info['date_max']}; {info['fatalities_best']:g} fatalities")
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)


def count_frequency(periods: pd.Series, *, path: str | None = None, column: str = "period") -> str:
    """``MS`` when every period is the first of a month, ``W-MON`` when every one is a Monday.

    A table whose every period is a Monday the 1st is read as monthly (two
    such weeks are never consecutive).

    Examples
    --------
    >>> count_frequency(pd.Series(pd.to_datetime(["2021-01-01", "2021-02-01"])))
    'MS'
    >>> count_frequency(pd.Series(pd.to_datetime(["2021-01-04", "2021-01-11"])))
    'W-MON'
    """
    dates = pd.Series(pd.to_datetime(periods)).reset_index(drop=True)
    if (dates.dt.day == 1).all():
        return "MS"
    if (dates.dt.day_of_week == 0).all():
        return "W-MON"
    bad = (dates.dt.day != 1) & (dates.dt.day_of_week != 0)
    if not bad.any():
        raise InputError("the periods mix month starts and Mondays; a count table has one frequency: monthly "
                         "(every period the 1st) or weekly (every period a Monday)", path=path, column=column)
    raise InputError(
        f"period {dates[bad].iloc[0]:%Y-%m-%d} is neither the first day of a month (monthly counts) nor a Monday "
        "(weekly counts); label each count with the start of its period",
        path=path,
        row=first_row(bad),
        column=column,
    )


def parse_periods(values: pd.Series, *, path: str, column: str) -> pd.Series:
    """Period labels ``YYYY-MM`` or ``YYYY-MM-DD`` as timestamps; an error naming the first bad row."""
    text = clean_text(values)
    missing = text.isna()
    if missing.any():
        raise InputError("the period is empty; every count needs one (YYYY-MM or YYYY-MM-DD)", path=path,
                         row=first_row(missing), column=column)
    parsed = pd.to_datetime(text.where(~text.str.fullmatch(r"\d{4}-\d{2}"), text + "-01"), format="ISO8601",
                            errors="coerce")
    bad = parsed.isna()
    if bad.any():
        raise InputError(f"cannot read the period {text[bad].iloc[0]!r}; expected YYYY-MM or YYYY-MM-DD",
                         path=path, row=first_row(bad), column=column)
    return pd.Series(parsed.dt.tz_localize(None) if parsed.dt.tz else parsed, index=values.index).dt.normalize()


def resolve_units(
    names: pd.Series,
    *,
    country: str,
    gazetteer: Gazetteer | None = None,
    aliases: Mapping[str, str] | None = None,
    unmatched: str = "error",
    path: str,
    column: str,
    fallback: pd.Series | None = None,
) -> tuple[pd.Series, dict[str, int]]:
    """Gazetteer unit codes of ``names`` (missing where dropped), as the event readers match provinces.

    ``fallback`` (e.g. a P-code column) is tried where a name does not resolve.
    Unknown names raise :class:`UnknownUnitError` listing them with the
    closest known names (``unmatched="error"``), or are returned missing and
    counted (``"drop"``).
    """
    from forecast.geo.gazetteer import Gazetteer

    gaz = gazetteer or Gazetteer.load(country)
    if aliases:
        gaz = gaz.with_aliases(dict(aliases))
    codes = gaz.resolve_names(names).astype(object)
    if fallback is not None:
        codes = codes.where(codes.notna(), gaz.resolve_names(fallback).astype(object))
    unknown = codes.isna()
    if unknown.any() and unmatched == "error":
        raise UnknownUnitError(gaz.unknown_names_message(names.where(unknown, None), path=path, column=column,
                                                         fix=UNMATCHED_FIX))
    unmatched_names = {str(k): int(v) for k, v in names[unknown].value_counts().items()}
    return codes.where(codes.notna(), None), unmatched_names


def make_counts(
    unit_id: pd.Series,
    ds: pd.Series,
    y: pd.Series,
    fatalities: pd.Series | None,
    *,
    freq: str,
    country: str | None,
    fatality_range: tuple[pd.Series, pd.Series] | None = None,
) -> pd.DataFrame:
    """Sum rows per unit and period into the canonical count table (:data:`COUNT_COLUMNS`).

    ``fatality_range`` (low, high) adds the reported range's sums; a missing
    end counts the row's best estimate, as the panel builder counts events.
    """
    best = (fatalities if fatalities is not None else pd.Series(0.0, index=y.index)).fillna(0.0).astype(float)
    frame = pd.DataFrame({
        "unit_id": unit_id.astype(str).to_numpy(),
        "ds": pd.to_datetime(ds).astype("datetime64[ns]").to_numpy(),
        "y": y.astype(np.int64).to_numpy(),
        "fatalities_best": best.to_numpy(),
    })
    summed = ["y", "fatalities_best"]
    if fatality_range is not None:
        frame["fatalities_low"], frame["fatalities_high"] = (end.fillna(best).astype(float).to_numpy()
                                                             for end in fatality_range)
        summed += ["fatalities_low", "fatalities_high"]
    counts = (
        frame.groupby(["unit_id", "ds"], as_index=False)[summed].sum()
        .sort_values(["unit_id", "ds"]).reset_index(drop=True)
    )
    counts["y"] = counts["y"].astype(np.int64)
    counts.attrs.update(freq=freq, country=country)
    return counts


#: The most events one row may count (one place, one period); more is a broken export or a sentinel.
MAX_COUNT = 1_000_000


def read_counts(
    path: str | Path,
    *,
    country: str | None = None,
    columns: Mapping[str, str] | None = None,
    unmatched: str = "error",
    gazetteer: Gazetteer | None = None,
    aliases: Mapping[str, str] | None = None,
) -> CountResult:
    """Read a count table (CSV, XLSX or parquet) into canonical counts.

    Parameters
    ----------
    path
        The file; only read.
    country
        The country whose gazetteer resolves the unit names (name or ISO code).
    columns
        Field -> column mapping when the file's names differ, e.g.
        ``{"unit": "Province", "period": "Month", "count": "Events"}``.
    unmatched
        Unit names the gazetteer does not know: ``"error"`` (default) or ``"drop"``.
    gazetteer, aliases
        As for :func:`forecast.data.read_events`.

    Returns
    -------
    CountResult

    Raises
    ------
    ParameterError
        No country, unknown fields in ``columns``.
    InputError
        Missing columns, unreadable periods or counts, periods that are
        neither month starts nor Mondays.
    UnknownUnitError
        Unknown unit names with ``unmatched="error"``.
    """
    choice(unmatched, "--unmatched", UNMATCHED_POLICIES)
    if country is None or not str(country).strip():
        raise ParameterError("a count table names places, not countries: pass the country (e.g. country='AFG', "
                             "--country AFG) whose gazetteer knows its units")
    iso3 = resolve_country(country)
    check_country_has_gazetteer(iso3, gazetteer)
    names = column_names(columns, FIELDS, what="the fields of a count table", example="unit=Province,period=Month,count=Events")
    name = str(path)
    raw, header, _ = read_table(path, source=SOURCE)
    required = [names["unit"], names["period"], names["count"]]
    require_columns(header, required, path=name, source=SOURCE,
                    hint="a count table has columns unit, period, count (and optionally fatalities); "
                         "map other names with --columns unit=...,period=...,count=...")
    ds = parse_periods(raw[names["period"]], path=name, column=names["period"])
    freq = count_frequency(ds, path=name, column=names["period"])
    y = parse_numbers(raw[names["count"]], path=name, column=names["count"], minimum=0, maximum=MAX_COUNT, integer=True)
    if y.isna().any():
        raise InputError("the count is empty; a count table has 0 where nothing happened", path=name,
                         row=first_row(y.isna()), column=names["count"])
    fatalities = None
    if names["fatalities"] in raw.columns:
        fatalities = parse_fatalities(raw[names["fatalities"]], path=name, column=names["fatalities"])
    ends = [names[field] for field in ("fatalities_low", "fatalities_high")]
    fatality_range = None
    if any(end in raw.columns for end in ends):
        if not all(end in raw.columns for end in ends):
            have, lack = (ends if ends[0] in raw.columns else ends[::-1])
            raise InputError(f"column {have} without {lack}: a fatality range needs both ends (or neither); "
                             f"add {lack}, or drop {have}", path=name, column=have)
        if fatalities is None:
            raise InputError(f"a fatality range ({ends[0]}, {ends[1]}) needs the best estimate beside it; add a "
                             f"{names['fatalities']} column", path=name, column=ends[0])
        fatality_range = tuple(parse_fatalities(raw[end], path=name, column=end) for end in ends)
    units, unmatched_names = resolve_units(clean_text(raw[names["unit"]]), country=iso3, gazetteer=gazetteer,
                                           aliases=aliases, unmatched=unmatched, path=name, column=names["unit"])
    keep = units.notna()
    if not keep.any():
        raise EmptyDataError("no counts left: no unit name is known to the gazetteer", path=name)
    counts = make_counts(units[keep], ds[keep], y[keep], None if fatalities is None else fatalities[keep],
                         freq=freq, country=iso3,
                         fatality_range=None if fatality_range is None else tuple(end[keep] for end in fatality_range))
    return CountResult(counts=counts, source=SOURCE, path=name, rows_read=len(raw), freq=freq,
                       dropped={"unmatched_unit": int((~keep).sum())}, unmatched_names=unmatched_names)


def counts_from_events(events: pd.DataFrame, freq: str) -> pd.DataFrame:
    """Canonical counts of canonical events: located events per province and period (no zero rows).

    Events dated less precisely than the period are left out, as the panel
    builder leaves them out.

    What a provider that publishes aggregates does to its events; the panel
    built from these counts equals the panel built from the events.
    """
    located = events[events["admin1_code"].notna() & dated_finely_enough(events["date_precision"], freq)]
    country = located["country_iso3"].iloc[0] if len(located) else None
    return make_counts(located["admin1_code"], period_start(located["date"], freq), pd.Series(1, index=located.index),
                       located["fatalities_best"], freq=freq, country=country,
                       fatality_range=(located["fatalities_low"], located["fatalities_high"]))


__all__ = [
    "COUNT_COLUMNS",
    "CountResult",
    "count_frequency",
    "counts_from_events",
    "is_count_table",
    "make_counts",
    "read_counts",
    "resolve_units",
]
