"""What every event reader shares: reading, parsing, filtering, place matching.

A provider module (:mod:`.ucdp`, :mod:`.acled`, :mod:`.gtd`, :mod:`.csv`)
describes its format as a :class:`ProviderFormat` and turns the raw table
(all strings) into a *staged* table with provider-neutral columns. Everything
else happens here, once, the same way for every provider:

1. check the parameters (country, actor regex, date range, unmatched policy);
2. read the file (:func:`read_table`) with explicit string dtypes, so IDs and
   codes keep their leading zeros, and one-line errors for missing files,
   wrong encodings, malformed CSV and empty files;
3. check the required columns (:func:`require_columns`);
4. let the provider stage the rows (dates, numbers, actors: :func:`parse_dates`,
   :func:`parse_numbers`, :func:`country_iso3`);
5. filter by country, then actor, then date range, counting what each removed;
6. match province names to the gazetteer (or place points in boundaries);
7. build the canonical table and validate it against :data:`forecast.schema.EVENTS`.

The staged table has the columns :data:`STAGED_COLUMNS` and keeps the raw
table's 0-based index, so every error can name the 1-based data row.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pycountry
import regex

from forecast import logger as _package_logger
from forecast.checks import EARLIEST_DATE, choice, date
from forecast.errors import EmptyDataError, InputError, ParameterError, UnknownUnitError
from forecast.schema import EVENT_COLUMNS, EVENTS, validate

if TYPE_CHECKING:  # pragma: no cover - imported lazily, the gazetteer pulls in geopandas
    from forecast.geo.gazetteer import Gazetteer

logger = _package_logger.getChild("sources")

#: Columns a provider's ``stage`` function returns (index = raw 0-based row).
#: ``admin1`` is the province name as found in the file (the gazetteer folds
#: case, diacritics and "province" affixes); ``country_found`` the country as
#: found (for messages); ``actor_primary``/``actor_secondary`` are the candidate
#: actor names in order of preference; ``point_usable`` says whether the
#: coordinates locate the event inside one province (not a country centroid).
STAGED_COLUMNS: list[str] = [
    "event_id",
    "source",
    "date",
    "date_precision",
    "country_iso3",
    "country_found",
    "admin1_code",
    "admin1_name",
    "admin1",
    "admin2_name",
    "latitude",
    "longitude",
    "point_usable",
    "actor_primary",
    "actor_secondary",
    "actor_raw",
    "event_type",
    "fatalities_low",
    "fatalities_best",
    "fatalities_high",
]

#: Reasons a row can be dropped, in the order the steps run.
DROP_REASONS: list[str] = ["country", "actor", "date_range", "unmatched_admin1", "no_location"]

_DROP_LABELS = {
    "country": "country filter",
    "actor": "actor filter",
    "date_range": "date range",
    "unmatched_admin1": "unmatched admin1 (unknown province name or point outside every boundary)",
    "no_location": "no location (no admin1 name and no coordinates that place the event in one province)",
}

UNMATCHED_POLICIES = ("error", "drop")

#: What to do about province names the gazetteer does not know.
UNMATCHED_FIX = (
    "fix the spelling in the file, or give it as an alias (--aliases 'Name=Province' on ingest, predict, backtest "
    "and warn; -p 'aliases={Name: Province}' for forecast run; read_events(..., aliases={name: province})), "
    "or drop and count these rows (forecast ingest --unmatched drop)"
)

# Columns that identify a provider's file, used to suggest the right --source
# when a file does not have the columns of the one requested.
_SIGNATURES: dict[str, set[str]] = {
    "ucdp": {"dyad_name", "side_a", "side_b", "date_prec", "where_prec"},
    "acled": {"event_id_cnty", "event_date", "actor1", "time_precision"},
    "gtd": {"eventid", "iyear", "imonth", "iday", "gname"},
    "canonical": set(EVENT_COLUMNS),
}
_LABELS = {
    "ucdp": "a UCDP GED file",
    "acled": "an ACLED export",
    "gtd": "a GTD file",
    "canonical": "a canonical event table",
}

# Names the providers use that ISO 3166 (and so pycountry) spells differently.
_COUNTRY_NAMES: dict[str, str] = {
    "bosnia-herzegovina": "BIH",
    "democratic republic of congo": "COD",
    "democratic republic of the congo": "COD",
    "dr congo": "COD",
    "zaire": "COD",
    "republic of congo": "COG",
    "republic of the congo": "COG",
    "people's republic of the congo": "COG",
    "ivory coast": "CIV",
    "kosovo": "XKX",
    "macedonia": "MKD",
    "palestine": "PSE",
    "west bank and gaza strip": "PSE",
    "russia": "RUS",
    "swaziland": "SWZ",
    "kingdom of eswatini": "SWZ",
    "turkey": "TUR",
    "east timor": "TLS",
    "rhodesia": "ZWE",
    "slovak republic": "SVK",
    "vatican city": "VAT",
}


# ----------------------------------------------------------------- results
@dataclass
class IngestResult:
    """The canonical events read from one file, and what happened on the way.

    Attributes
    ----------
    events
        Canonical event table, validated with :data:`forecast.schema.EVENTS`,
        columns in the order of :data:`forecast.schema.EVENT_COLUMNS`, sorted
        by date and event_id.
    source
        Provider format read (``ucdp``, ``acled``, ``gtd``, ``csv``, ``canonical``).
    path
        The file read.
    rows_read
        Data rows in the file.
    dropped
        Rows removed, by reason (keys of :data:`DROP_REASONS`, in that order).
    unmatched_names
        Province names not found in the gazetteer -> number of rows (only
        when they were dropped with ``unmatched="drop"``).
    notes
        Plain-language remarks (approximate dates, names placed by coordinates, ...).
    filters
        The filters as applied (country as ISO3, actor regex, start, end).
    """

    events: pd.DataFrame
    source: str
    path: str
    rows_read: int
    dropped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DROP_REASONS, 0))
    unmatched_names: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    filters: dict[str, Any] = field(default_factory=dict)

    def summary_dict(self) -> dict[str, Any]:
        """The summary as plain JSON-ready values."""
        events = self.events
        return {
            "source": self.source,
            "path": self.path,
            "rows_read": int(self.rows_read),
            "kept": int(len(events)),
            "dropped": {k: int(v) for k, v in self.dropped.items()},
            "unmatched_names": {k: int(v) for k, v in self.unmatched_names.items()},
            "filters": dict(self.filters),
            "date_min": None if events.empty else events["date"].min().date().isoformat(),
            "date_max": None if events.empty else events["date"].max().date().isoformat(),
            "units": int(events["admin1_code"].nunique()),
            "fatalities_best": float(events["fatalities_best"].sum()),
            "notes": list(self.notes),
        }

    def summary(self) -> str:
        """Human-readable summary: rows read, kept, dropped by reason, notes."""
        info = self.summary_dict()
        lines = [f"read {info['rows_read']} rows from {self.path} ({self.source}); kept {info['kept']} events"]
        for reason in DROP_REASONS:
            count = self.dropped.get(reason, 0)
            if count:
                lines.append(f"  dropped {count} by {_DROP_LABELS[reason]}")
        if self.unmatched_names:
            names = ", ".join(f"{name!r} ({n})" for name, n in self.unmatched_names.items())
            lines.append(f"  unmatched province names: {names}")
        if info["kept"]:
            lines.append(
                f"  dates {info['date_min']} to {info['date_max']}; {info['units']} provinces; "
                f"{info['fatalities_best']:g} fatalities (best estimate)"
            )
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)


# ----------------------------------------------------------------- formats
StageFunction = Callable[[pd.DataFrame, str], "tuple[pd.DataFrame, list[str]]"]


@dataclass(frozen=True)
class ProviderFormat:
    """How one provider's file is read.

    Attributes
    ----------
    source
        Canonical source name (also the event_id prefix).
    required
        Columns the reader uses; a file without them is rejected.
    actor_columns
        Columns the actor regex is searched in (any match keeps the row).
    admin1_column
        The file's province column, named in unmatched-name messages.
    country_column
        The file's country column, named in country messages.
    stage
        ``stage(raw, path) -> (staged, notes)``: raw string table to
        :data:`STAGED_COLUMNS`.
    latin1_fallback
        Read as Latin-1 when the file is not UTF-8 (the GTD publishes Latin-1).
    match_places
        Whether province names still need matching to the gazetteer (not for
        canonical tables, which carry ``admin1_code`` already).
    columns_hint
        The fix suggested when required columns are missing.
    usecols
        Every column the reader looks at (required and optional); the others
        are not loaded. ``None`` loads all.
    """

    source: str
    required: tuple[str, ...]
    actor_columns: tuple[str, ...]
    admin1_column: str | None
    country_column: str | None
    stage: StageFunction
    latin1_fallback: bool = False
    match_places: bool = True
    columns_hint: str = ""
    usecols: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Filters:
    """Checked reading parameters (see :func:`check_parameters`)."""

    country: str | None = None
    actor: regex.Pattern | None = None
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    unmatched: str = "error"

    def as_dict(self) -> dict[str, Any]:
        return {
            "country": self.country,
            "actor": None if self.actor is None else self.actor.pattern,
            "start": None if self.start is None else self.start.date().isoformat(),
            "end": None if self.end is None else self.end.date().isoformat(),
            "unmatched": self.unmatched,
        }


# -------------------------------------------------------------- parameters
def check_parameters(
    *,
    country: str | None = None,
    actor: str | None = None,
    start: Any = None,
    end: Any = None,
    unmatched: str = "error",
) -> Filters:
    """Check the reading parameters before any file is opened.

    Raises
    ------
    ParameterError
        Unknown country, invalid regex, unreadable or reversed dates, unknown
        unmatched policy.
    """
    choice(unmatched, "--unmatched", UNMATCHED_POLICIES)
    iso3 = None if country is None or not str(country).strip() else resolve_country(country)
    pattern = None
    if actor is not None and str(actor).strip():
        try:
            pattern = regex.compile(str(actor), regex.IGNORECASE | regex.VERSION0)
        except (regex.error, ValueError, OverflowError, RecursionError) as exc:
            raise ParameterError(
                f"--actor {actor!r} is not a valid regular expression ({exc}); "
                "write e.g. --actor '^IS$|Islamic State'"
            ) from exc
    start_ts = _parameter_date(start, "start")
    end_ts = _parameter_date(end, "end")
    if start_ts is not None and end_ts is not None and end_ts < start_ts:
        raise ParameterError(
            f"--end {end_ts.date()} is before --start {start_ts.date()}; swap them"
        )
    return Filters(country=iso3, actor=pattern, start=start_ts, end=end_ts, unmatched=unmatched)


def _parameter_date(value: Any, name: str) -> pd.Timestamp | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    stamp = date(value, f"--{name}")
    return stamp.tz_localize(None).normalize() if stamp.tzinfo else stamp.normalize()


# --------------------------------------------------------------- countries
@lru_cache(maxsize=4096)
def country_iso3(value: str | None) -> str | None:
    """ISO 3166-1 alpha-3 code of a country name, alpha-2/alpha-3 or numeric code; ``None`` if unknown.

    Provider spellings are accepted: UCDP's historical names in parentheses
    ("DR Congo (Zaire)"), GTD's and ACLED's names that ISO spells otherwise.

    Examples
    --------
    >>> country_iso3("Afghanistan"), country_iso3("AF"), country_iso3("4"), country_iso3("DR Congo (Zaire)")
    ('AFG', 'AFG', 'AFG', 'COD')
    >>> country_iso3("Atlantis") is None
    True
    """
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    if text.isdigit():
        found = pycountry.countries.get(numeric=text.zfill(3))
        return found.alpha_3 if found else None
    # UCDP adds former names in parentheses: "Myanmar (Burma)", "Yemen (North Yemen)".
    text = re.sub(r"\s*\([^)]*\)\s*$", "", text)
    override = _COUNTRY_NAMES.get(text.lower())
    if override:
        return override
    try:
        return pycountry.countries.lookup(text).alpha_3
    except LookupError:
        return None


def resolve_country(country: str | Sequence[str]) -> str:
    """ISO3 code of the ``country`` parameter, or a :class:`ParameterError`.

    Several countries (``"AFG,PAK"``, ``["Afghanistan", "PK"]``) give the
    canonical key of :func:`forecast.checks.countries`, ``"AFG,PAK"``.

    Examples
    --------
    >>> resolve_country("Afghanistan"), resolve_country(["pk", "AFG"])
    ('AFG', 'AFG,PAK')
    """
    if not isinstance(country, str) or "," in country or "+" in country:
        from forecast.checks import countries

        parts = [p.strip() for p in country.replace("+", ",").split(",")] if isinstance(country, str) else list(country)
        return countries([country_iso3(str(p)) or str(p) for p in parts if str(p).strip()], "--country")
    iso3 = country_iso3(str(country))
    if iso3 is None:
        raise ParameterError(
            f"--country {country!r} is not a country name or ISO code; write e.g. --country AFG or --country Afghanistan"
        )
    return iso3


def countries_iso3(names: pd.Series) -> pd.Series:
    """Vectorised :func:`country_iso3` (each distinct value looked up once)."""
    mapping = {value: country_iso3(value) for value in names.dropna().unique()}
    return names.map(mapping).astype(object).where(names.notna(), None)


# ------------------------------------------------------------------ reading
def read_table(
    path: str | Path,
    *,
    latin1_fallback: bool = False,
    source: str | None = None,
    usecols: Collection[str] | None = None,
    sheet: str | None = None,
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Read a CSV, XLSX or parquet file with every column as strings.

    CSV is decoded as UTF-8 (a byte-order mark is accepted). Only when
    ``latin1_fallback`` is set (the GTD publishes Latin-1) is a non-UTF-8 file
    read as Latin-1; otherwise guessing could silently garble names, so the
    error names the first offending byte and asks for a UTF-8 file (or, when
    the header is another provider's, names that ``--source``).
    Only empty fields become missing (``NA`` stays the text "NA").

    Parameters
    ----------
    usecols
        Columns to load from a CSV (others are skipped, which makes reading
        a 49-column GED release several times faster); ``None`` loads all.
    sheet
        The sheet of a workbook to read (default the first); a workbook
        without it is an :class:`InputError` naming the sheets it has.

    Returns
    -------
    (table, header, notes)
        The table with a 0-based RangeIndex, every column name of the file
        (for messages about missing columns), and remarks (e.g. the encoding used).

    Raises
    ------
    InputError
        Missing file, a directory, wrong encoding, malformed CSV or XLSX.
    EmptyDataError
        An empty file, or a header without data rows.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"file not found (working directory {Path.cwd()}); check the path", path=path)
    if path.is_dir():
        raise InputError("is a directory; give the data file inside it", path=path)
    if not path.is_file():
        raise InputError("is not a regular file (a device, pipe or socket); give the data file itself", path=path)
    if path.stat().st_size == 0:
        raise EmptyDataError("the file is empty (0 bytes); download or export it again", path=path)

    notes: list[str] = []
    suffix = path.suffix.lower()
    header: list[str] | None = None
    if suffix in (".xlsx", ".xlsm"):
        table = _read_excel(path, sheet)
    elif suffix == ".xls":
        raise InputError("old Excel .xls files are not supported; save it as .xlsx or as a UTF-8 CSV", path=path)
    elif suffix == ".parquet":
        try:
            table = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several unrelated types for a corrupt file
            raise InputError(f"is not a readable parquet file ({exc}); write it again", path=path) from exc
    else:
        table, header, encoding = _read_csv(path, latin1_fallback=latin1_fallback, source=source, usecols=usecols)
        if encoding == "latin-1":  # the only fallback, and only for formats that publish it
            notes.append(f"{path.name} is not UTF-8; read it as Latin-1 (ISO-8859-1), the encoding the GTD publishes")
    if table.empty:
        raise EmptyDataError("the file has a header but no data rows", path=path)
    table.columns = [str(c).strip() for c in table.columns]
    return table.reset_index(drop=True), header or list(table.columns), notes


_COMPRESSED = {".zip", ".gz", ".bz2", ".xz", ".zst", ".tar"}
#: Compressions read (streamed by the standard library); others must be unpacked first.
_READABLE_COMPRESSED = {".zip", ".gz", ".bz2", ".xz"}

#: The environment variable that raises (or lowers) :data:`DEFAULT_MAX_DECOMPRESSED_BYTES`.
MAX_DECOMPRESSED_ENV = "FORECAST_MAX_DECOMPRESSED_BYTES"
#: The largest text a compressed events file may unpack to (1 GiB, three times a whole GED
#: release): a "zip bomb" is refused before pandas allocates it.
DEFAULT_MAX_DECOMPRESSED_BYTES = 1 << 30

#: Names of files that hold settings or credentials, never events: refused unread.
_SETTINGS_NAMES = re.compile(r"^(\.env(\..*)?|.*\.env|\.netrc|\.pgpass|\.npmrc|\.pypirc|credentials(\..*)?|id_[a-z0-9]+)$",
                             re.IGNORECASE)
#: A first line like ``ACLED_PASSWORD=...`` or ``export KEY=...``: a settings file.
_SETTINGS_LINE = re.compile(rb"^\s*(export\s+)?[A-Za-z_][A-Za-z0-9_.\-]*\s*=")

_HEAD_BYTES = 1 << 16


def max_decompressed_bytes() -> int:
    """The decompressed-size cap in bytes: ``$FORECAST_MAX_DECOMPRESSED_BYTES`` or 1 GiB."""
    raw = os.environ.get(MAX_DECOMPRESSED_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_DECOMPRESSED_BYTES
    if not raw.isdigit() or int(raw) < 1:
        raise ParameterError(f"environment variable {MAX_DECOMPRESSED_ENV}={raw!r} is not a whole number of bytes")
    return int(raw)


def _open_text_stream(path: Path):
    """The file's (decompressed) bytes as a binary stream, refusing what cannot be read safely."""
    import bz2
    import gzip
    import lzma
    import zipfile

    suffix = path.suffix.lower()
    if suffix in _COMPRESSED and suffix not in _READABLE_COMPRESSED:
        raise InputError(f"{suffix} archives are not read; unpack it and give the CSV inside", path=path)
    if suffix == ".gz":
        return gzip.open(path, "rb")
    if suffix == ".bz2":
        return bz2.open(path, "rb")
    if suffix == ".xz":
        return lzma.open(path, "rb")
    if suffix == ".zip":
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise InputError(f"is not a readable zip archive ({exc}); download it again", path=path) from None
        members = [i for i in archive.infolist() if not i.is_dir() and not i.filename.startswith("__MACOSX")]
        if len(members) != 1:
            names = ", ".join(i.filename for i in members[:5]) or "nothing"
            raise InputError(f"the zip archive holds {len(members)} files ({names}); it must hold exactly one CSV: "
                             "unpack it and give the CSV itself", path=path)
        cap = max_decompressed_bytes()
        if members[0].file_size > cap:
            raise InputError(f"{members[0].filename} unpacks to {members[0].file_size:,} bytes, more than the "
                             f"{cap:,} allowed ({MAX_DECOMPRESSED_ENV}); filter the data first or raise the limit",
                             path=path)
        return archive.open(members[0])
    return open(path, "rb")


def _scan_file(path: Path) -> bytes:
    """Read the whole file once, as pandas will: cap its unpacked size, find NUL bytes; return its head.

    Raises
    ------
    InputError
        An unpacked size over :func:`max_decompressed_bytes`, a NUL byte
        anywhere (a binary file, UTF-16 without a byte-order mark), a damaged
        archive.
    """
    import zlib

    cap = max_decompressed_bytes()
    compressed = path.suffix.lower() in _COMPRESSED
    head = b""
    seen = 0
    try:
        with _open_text_stream(path) as stream:
            while chunk := stream.read(1 << 20):
                if len(head) < _HEAD_BYTES:
                    head += chunk[: _HEAD_BYTES - len(head)]
                    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
                        return head  # UTF-16: refused by the caller with its own message
                if b"\x00" in chunk:
                    offset = seen + chunk.index(b"\x00")
                    raise InputError(
                        f"the file contains NUL bytes (first at byte offset {offset}{' unpacked' if compressed else ''}): "
                        "it is UTF-16 without a byte-order mark or not a text file; re-save it as a UTF-8 CSV",
                        path=path,
                    )
                seen += len(chunk)
                if seen > cap:
                    raise InputError(
                        f"the file unpacks to more than {cap:,} bytes ({MAX_DECOMPRESSED_ENV}); it may be a "
                        "decompression bomb: filter the data first or raise the limit",
                        path=path,
                    )
    except (OSError, EOFError, zlib.error, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        import lzma

        if compressed or isinstance(exc, lzma.LZMAError):
            raise InputError(f"the compressed file is damaged ({exc}); download or export it again", path=path) from None
        raise InputError(f"cannot be read ({exc.__class__.__name__}: {exc}); check the file", path=path) from None
    return head


def _delimiter_problem(first_line: str) -> str | None:
    if "," in first_line:
        return None
    for mark, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "vertical bars")):
        if mark in first_line:
            return name
    return None


def _preflight(path: Path) -> None:
    """Refuse, without showing a line of it, a file that cannot be an events CSV.

    Settings and credential files (``.env``, ``KEY=value`` lines), other
    delimiters than commas, NUL bytes, over-large unpacked sizes and repeated
    column names are told apart here, before pandas reads anything.
    """
    if _SETTINGS_NAMES.match(path.name):
        raise InputError("is a settings or credentials file, not an event table; nothing of it is read or shown: "
                         "give the provider's CSV export", path=path)
    head = _scan_file(path)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(
            "the file is UTF-16 encoded (byte-order mark at byte 0); re-save it as UTF-8 "
            "(in Excel: Save As 'CSV UTF-8')",
            path=path,
        )
    lines = [line for line in head.lstrip(b"\xef\xbb\xbf").splitlines() if line.strip()]
    if not lines:
        return  # blank: pandas says "no header line"
    first = lines[0]
    if _SETTINGS_LINE.match(first) and b"," not in first.split(b"=", 1)[0]:
        raise InputError("looks like a settings file (KEY=value lines, such as .env), not an event table; nothing "
                         "of it is shown: give the provider's CSV export", path=path)
    text = first.decode("utf-8", errors="replace")
    delimiter = _delimiter_problem(text)
    if delimiter:
        raise InputError(f"the columns are separated by {delimiter}, not commas (delimiter); re-save it as a "
                         "comma-separated CSV (in Excel: Save As 'CSV UTF-8')", path=path)
    import csv as _csv

    header = [name.strip() for name in next(_csv.reader([text]), [])]
    seen: dict[str, int] = {}
    for number, name in enumerate(header, start=1):
        if name and name in seen:
            raise InputError(f"column '{name}' appears twice in the header (columns {seen[name]} and {number}); "
                             "rename or remove one, or the second would be read as another column", path=path)
        seen[name] = number


def check_event_file(path: str | Path) -> Path:
    """Refuse, before any work, an events file that cannot be read safely; nothing of it is shown.

    The checks :func:`read_table` makes before reading: a regular file, not a
    settings or credentials file (``.env``), not over the unpacked-size cap, no
    NUL bytes, comma-separated, no repeated column names. The report runner
    calls it up front, so ``-p events_path=.env`` fails before any notebook
    runs and no page, manifest or notebook can quote the file.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("is not a regular file; give the events file itself", path=path)
    if _SETTINGS_NAMES.match(path.name):
        raise InputError("is a settings or credentials file, not an event table; nothing of it is read or shown: "
                         "give the provider's CSV export", path=path)
    if path.suffix.lower() not in (".xlsx", ".xlsm", ".xls", ".parquet"):
        _preflight(path)
    return path


def _read_csv(
    path: Path, *, latin1_fallback: bool, source: str | None, usecols: Collection[str] | None
) -> tuple[pd.DataFrame, list[str], str]:
    _preflight(path)
    wanted = None if usecols is None else set(usecols)

    def read(encoding: str) -> tuple[pd.DataFrame, list[str], str]:
        header = [str(c).strip() for c in pd.read_csv(path, nrows=0, encoding=encoding).columns]
        table = pd.read_csv(
            path,
            encoding=encoding,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            usecols=None if wanted is None else (lambda column: str(column).strip() in wanted),
        )
        return table, header, encoding

    try:
        return read("utf-8-sig")
    except UnicodeDecodeError as exc:
        if latin1_fallback:
            logger.info("%s is not UTF-8; reading it as Latin-1", path)
            try:
                return read("latin-1")
            except pd.errors.ParserError as parse_exc:
                raise _parser_error(path, parse_exc) from parse_exc
        raise _encoding_error(path, source) from exc
    except pd.errors.EmptyDataError as exc:
        raise EmptyDataError("the file has no header line (only blank lines)", path=path) from exc
    except pd.errors.ParserError as exc:
        raise _parser_error(path, exc) from exc


def _parser_error(path: Path, exc: Exception) -> InputError:
    detail = str(exc).replace("Error tokenizing data. C error: ", "").strip()
    return InputError(
        f"is not a well-formed CSV ({detail}); look for unquoted commas or a truncated download",
        path=path,
    )


def _encoding_error(path: Path, source: str | None) -> InputError:
    """Name the first byte that is not UTF-8, with its line and data row."""
    data = path.read_bytes()  # only on the error path, to locate the byte exactly
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = exc.start
        line = data.count(b"\n", 0, offset) + 1
        where = "the header line" if line == 1 else f"line {line}"
        header = data.split(b"\n", 1)[0].decode("latin-1").strip().split(",")
        other = _looks_like(header, source)
        fix = (
            f"the header looks like {_LABELS[other]}: use --source {other}"
            if other
            else "the file is probably Latin-1 or Windows-1252: re-save it as UTF-8 "
            "(in Excel: Save As 'CSV UTF-8'; or iconv -f cp1252 -t utf-8)"
        )
        return InputError(
            f"byte 0x{data[offset]:02X} at byte offset {offset} ({where}) is not valid UTF-8; {fix}",
            path=path,
            row=line - 1 if line > 1 else None,
        )
    return InputError("is not valid UTF-8; re-save it as UTF-8", path=path)  # pragma: no cover


def _read_excel(path: Path, sheet: str | None = None) -> pd.DataFrame:
    if sheet is not None:
        try:
            import openpyxl

            workbook = openpyxl.load_workbook(path, read_only=True)
            names = workbook.sheetnames
            workbook.close()
        except Exception as exc:  # zipfile/openpyxl raise assorted types for a corrupt workbook
            raise InputError(f"is not a readable .xlsx workbook ({exc}); download or re-save it", path=path) from exc
        if sheet not in names:
            raise InputError(f"the workbook has no sheet {sheet!r} (it has: {', '.join(names)}); give the "
                             "provider's workbook as downloaded", path=path)
    try:
        return pd.read_excel(path, sheet_name=sheet or 0, dtype=str, keep_default_na=False, na_values=[""])
    except ImportError as exc:  # pragma: no cover - openpyxl is a dependency
        raise InputError(f"reading .xlsx needs openpyxl ({exc}); install it or export a CSV", path=path) from exc
    except Exception as exc:  # zipfile/openpyxl raise assorted types for a corrupt workbook
        raise InputError(f"is not a readable .xlsx workbook ({exc}); open and re-save it, or export a CSV", path=path) from exc


def column_names(columns: Mapping[str, str] | None, fields: Sequence[str], *, what: str, example: str) -> dict[str, str]:
    """Field -> column in the file from a ``--columns`` mapping, refusing unknown fields.

    Examples
    --------
    >>> column_names({"admin1": "Province"}, ["date", "admin1"], what="the fields", example="admin1=Province")
    {'date': 'date', 'admin1': 'Province'}
    """
    columns = dict(columns or {})
    unknown = [key for key in columns if key not in fields]
    if unknown:
        raise ParameterError(
            f"--columns names unknown field(s) {', '.join(map(repr, unknown))}; {what} are "
            f"{', '.join(fields)} (write e.g. --columns {example})"
        )
    return {field: columns.get(field, field) for field in fields}


def require_columns(header: list[str], required: Collection[str], *, path: str, source: str, hint: str = "") -> None:
    """Raise an :class:`InputError` listing the ``required`` columns missing from the file's ``header``.

    When the columns look like another provider's file, the message suggests
    that provider's ``--source``.
    """
    missing = [c for c in required if c not in set(header)]
    if not missing:
        return
    other = _looks_like(header, source)
    fix = f"the header looks like {_LABELS[other]}: use --source {other}" if other else hint
    shown = ", ".join(header[:12]) + (", ..." if len(header) > 12 else "")
    raise InputError(
        f"missing required column(s) {', '.join(repr(c) for c in missing)} for --source {source} "
        f"(the file has: {shown}); {fix}",
        path=path,
        column=missing[0],
    )


def _looks_like(columns: list[str], source: str | None) -> str | None:
    """The other provider whose identifying columns ``columns`` has, if any."""
    present = {c.strip().strip('"') for c in columns}
    return next((name for name, cols in _SIGNATURES.items() if name != source and cols <= present), None)


# ------------------------------------------------------------------ parsing
def clean_text(values: pd.Series) -> pd.Series:
    """Strip surrounding whitespace; empty strings become missing (object dtype, ``None``)."""
    text = values.astype("string").str.strip()
    text = text.where(text != "")
    return text.astype(object).where(text.notna(), None)


def strip_suffix(values: pd.Series, suffix: str) -> pd.Series:
    """Remove a trailing word such as " province" (case-insensitive) from names."""
    text = values.astype("string").str.replace(rf"\s+{re.escape(suffix)}$", "", regex=True, case=False).str.strip()
    return text.astype(object).where(text.notna(), None)


def join_names(*parts: pd.Series) -> pd.Series:
    """Join the non-missing names of each row with " | " (``None`` when all are missing)."""
    joined = pd.Series(pd.NA, index=parts[0].index, dtype="string")
    for part in parts:
        text = part.astype("string")
        joined = joined.where(text.isna(), (joined + " | " + text).fillna(text))
    return joined.astype(object).where(joined.notna(), None)


def first_row(mask: pd.Series) -> int:
    """1-based data row of the first ``True`` in ``mask`` (index = 0-based raw row)."""
    return int(mask[mask].index[0]) + 1


#: A timestamp's time-zone suffix: ``Z``, ``UTC``/``GMT`` or a numeric offset (``+04:30``, ``-0500``).
_ZONE_SUFFIX = re.compile(
    r"^(?P<stamp>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)"
    r"\s*(?:(?P<name>Z|UTC|GMT)|(?P<sign>[+-])(?P<hours>\d{2}):?(?P<minutes>\d{2}))$",
    re.IGNORECASE,
)


def _local_times(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """``text`` with time-zone suffixes dropped (the wall-clock time as written), and where an offset is impossible.

    The rule, the same as :func:`forecast.checks.date`'s: an event's day is the
    calendar day as written in the offset it carries (its local date);
    ``2021-10-08T23:30:00-05:00`` is 8 October, never moved to 9 October UTC.
    Offsets beyond +-14:00 or with minutes of 60 or more are not a zone.
    """
    found = text.str.extract(_ZONE_SUFFIX)
    zoned = found["stamp"].notna()
    hours = pd.to_numeric(found["hours"], errors="coerce")
    minutes = pd.to_numeric(found["minutes"], errors="coerce")
    impossible = zoned & found["name"].isna() & ((hours > 14) | (minutes >= 60))
    return text.where(~zoned | impossible, found["stamp"]), impossible


def parse_dates(values: pd.Series, *, path: str, column: str, formats: tuple[str, ...], expected: str) -> pd.Series:
    """Parse dates trying each format in turn; error on the first value none fits.

    A time-zone suffix (``Z``, ``+04:30``) is dropped and the date kept as
    written: each event's day is its local date (see :func:`_local_times`), so
    rows with different offsets, or with and without one, mix freely. Dates
    before :data:`forecast.checks.EARLIEST_DATE` (1900) or after tomorrow are
    refused with the row, as is an impossible offset.

    Parameters
    ----------
    values
        Raw strings (missing allowed only if the caller checks separately).
    formats
        ``strptime`` formats or ``"ISO8601"``.
    expected
        The expected form, shown in the message (e.g. ``"YYYY-MM-DD"``).

    Returns
    -------
    pandas.Series
        ``datetime64[ns]`` at midnight (the time of day is dropped).
    """
    text = clean_text(values)
    missing = text.isna()
    if missing.any():
        row = first_row(missing)
        raise InputError(f"the date is empty; every event needs a date ({expected})", path=path, row=row, column=column)
    local, impossible = _local_times(text)
    if impossible.any():
        raise InputError(
            f"the date {text[impossible].iloc[0]!r} has an impossible UTC offset (beyond +-14:00); "
            f"write {expected}, with an offset such as +04:30 or none ({int(impossible.sum())} row(s) affected)",
            path=path, row=first_row(impossible), column=column,
        )
    # Parsed in microseconds (years 1 to 9999 fit), range-checked, then made nanoseconds.
    parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us]")
    for fmt in formats:
        todo = parsed.isna()
        if not todo.any():
            break
        parsed[todo] = _parse_format(local[todo], fmt)
    bad = parsed.isna()
    if bad.any():
        row = first_row(bad)
        found = str(text[bad].iloc[0])
        zone = re.search(r"\d:\d{2}(?::\d{2}(?:\.\d+)?)?\s*([A-Za-z]{2,5})$", found)
        hint = (f" (a zone name such as '{zone.group(1)}' is not an offset: write the offset, e.g. -05:00, or drop it)"
                if zone and zone.group(1).upper() not in ("AM", "PM") else "")
        raise InputError(
            f"cannot read the date {found!r}; expected {expected}{hint} "
            f"({int(bad.sum())} row(s) affected); fix the value or re-export the file",
            path=path,
            row=row,
            column=column,
        )
    return check_event_dates(parsed.dt.normalize(), text, path=path, column=column)


def _parse_format(text: pd.Series, fmt: str) -> pd.Series:
    """``text`` parsed with one format, ``NaT`` where it does not fit; zone-free microseconds."""
    try:
        parsed = pd.to_datetime(text, format=fmt, errors="coerce")
        if getattr(parsed.dt, "tz", None) is not None:  # a format with %z: the wall-clock time as written
            parsed = parsed.dt.tz_localize(None)
        return parsed.astype("datetime64[us]")
    except (ValueError, TypeError, OverflowError):  # zones that differ (%z formats): one value at a time
        def one(value: str) -> Any:
            try:
                stamp = pd.to_datetime(value, format=fmt)
            except (ValueError, TypeError, OverflowError):
                return pd.NaT
            return stamp.tz_localize(None) if stamp.tzinfo is not None else stamp
        return pd.Series([one(value) for value in text], index=text.index, dtype="datetime64[us]")


def check_event_dates(dates: pd.Series, shown: pd.Series | None = None, *, path: str, column: str) -> pd.Series:
    """``dates`` (any datetime unit, zone-free) as ``datetime64[ns]``, if every one is a possible event day.

    An observed event cannot lie ahead: a date in 2060 is a typo or a broken
    export, and would silently stretch every panel to it; one before 1900 (year
    1, 1677) is one too, and pandas could not even hold some of them.
    ``shown`` holds the values as the file wrote them, for the message.
    """
    tomorrow = pd.Timestamp.now().normalize() + pd.Timedelta(days=1)
    shown = dates.dt.strftime("%Y-%m-%d") if shown is None else shown
    early = dates.notna() & (dates < EARLIEST_DATE)
    if early.any():
        raise InputError(
            f"the date {shown[early].iloc[0]!r} is before {EARLIEST_DATE:%Y-%m-%d}, the earliest supported "
            f"({int(early.sum())} row(s) affected); fix the value or re-export the file",
            path=path, row=first_row(early), column=column,
        )
    ahead = dates.notna() & (dates > tomorrow)
    if ahead.any():
        raise InputError(
            f"the date {shown[ahead].iloc[0]!r} is in the future (after {tomorrow:%Y-%m-%d}; "
            f"{int(ahead.sum())} row(s) affected); fix the value or re-export the file",
            path=path,
            row=first_row(ahead),
            column=column,
        )
    return dates.astype("datetime64[ns]")


def parse_numbers(
    values: pd.Series,
    *,
    path: str,
    column: str,
    minimum: float | None = None,
    maximum: float | None = None,
    integer: bool = False,
) -> pd.Series:
    """Parse numbers (missing allowed); error on the first value that is not a number or out of range.

    Returns
    -------
    pandas.Series
        float64, ``NaN`` where the value is missing.
    """
    text = clean_text(values)
    numbers = pd.to_numeric(text, errors="coerce").astype(float)
    bad = text.notna() & numbers.isna()
    if bad.any():
        found = text[bad].iloc[0]
        hint = " (use a dot as decimal separator)" if "," in str(found) else ""
        raise InputError(
            f"{found!r} is not a number{hint}; fix the value or re-export the file",
            path=path,
            row=first_row(bad),
            column=column,
        )
    checks = [(np.isinf(numbers), "not a finite number")]
    if minimum is not None:
        checks.append((numbers < minimum, f"below {minimum:g}"))
    if maximum is not None:
        checks.append((numbers > maximum, f"above {maximum:,.10g}"))
    if integer:
        checks.append((numbers.notna() & (numbers != np.floor(numbers)), "not a whole number"))
    for out, what in checks:
        if out.any():
            raise InputError(
                f"{text[out].iloc[0]!r} is {what}; fix the value",
                path=path,
                row=first_row(out),
                column=column,
            )
    return numbers


#: The most deaths one row may report: more than any recorded event (or month of a
#: province); a larger toll is a broken export or a sentinel such as 1e300.
MAX_FATALITIES = 1_000_000


def parse_fatalities(values: pd.Series, *, path: str, column: str) -> pd.Series:
    """A fatality column: numbers from 0 to :data:`MAX_FATALITIES` (missing allowed), see :func:`parse_numbers`."""
    return parse_numbers(values, path=path, column=column, minimum=0, maximum=MAX_FATALITIES)


def check_unique_ids(ids: pd.Series, *, path: str, column: str) -> None:
    """Raise an :class:`InputError` naming the first duplicated event ID and its rows."""
    duplicated = ids.duplicated(keep=False) & ids.notna()
    if duplicated.any():
        value = ids[duplicated].iloc[0]
        rows = [int(i) + 1 for i in ids.index[ids == value][:5]]
        raise InputError(
            f"event ID {value!r} appears more than once (rows {', '.join(map(str, rows))}); "
            "IDs must be unique: remove the duplicated rows (a generic CSV without an ID column "
            "gets IDs from the row numbers)",
            path=path,
            column=column,
        )


def staged_frame(index: pd.Index, **columns: Any) -> pd.DataFrame:
    """A staged table with every column of :data:`STAGED_COLUMNS` (missing ones empty)."""
    frame = pd.DataFrame(index=index)
    for name in STAGED_COLUMNS:
        value = columns.pop(name, None)
        frame[name] = value if value is not None else pd.Series(None, index=index, dtype=object)
    if columns:  # pragma: no cover - a programming error in a provider module
        raise TypeError(f"unknown staged columns: {sorted(columns)}")
    if frame["point_usable"].isna().all():
        frame["point_usable"] = True
    return frame


# ------------------------------------------------------------------ filters
def matches_any(raw: pd.DataFrame, columns: tuple[str, ...], pattern: regex.Pattern) -> pd.Series:
    """Rows where ``pattern`` is found in at least one of ``columns``.

    Python's :mod:`re` is used on each distinct name (there are few) so the
    regex dialect does not depend on the pandas string backend.
    """
    mask = pd.Series(False, index=raw.index)
    for column in columns:
        if column in raw.columns:
            mask |= _search(raw[column], pattern)
    return mask


#: Seconds an actor regex may spend on one column's names. A pattern with nested or
#: overlapping repetition (``^(a|a)*$``) backtracks exponentially; the `regex`
#: engine stops it at this limit instead of letting it run for minutes.
ACTOR_REGEX_SECONDS = 2.0


def _search(values: pd.Series, pattern: Any) -> pd.Series:
    names = values.dropna().unique()
    deadline = time.monotonic() + ACTOR_REGEX_SECONDS
    hits = set()
    try:
        for value in names:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            found = (pattern.search(str(value), timeout=remaining) if isinstance(pattern, regex.Pattern)
                     else pattern.search(str(value)))
            if found:
                hits.add(value)
    except TimeoutError:
        raise ParameterError(
            f"--actor {pattern.pattern!r} took more than {ACTOR_REGEX_SECONDS:g} s on {len(names)} names and was "
            "stopped: it backtracks without end (nested or overlapping repetition such as (a|a)* or (a+)+); "
            "simplify it, e.g. --actor '^IS$|Islamic State'"
        ) from None
    return values.isin(hits) & values.notna()


def choose_actor(staged: pd.DataFrame, pattern: regex.Pattern | None) -> pd.Series:
    """The actor of each event: the preferred candidate, or the other one if only it matches the filter."""
    primary, secondary = staged["actor_primary"], staged["actor_secondary"]
    if pattern is not None:
        take_secondary = ~_search(primary, pattern) & _search(secondary, pattern)
        primary = primary.where(~take_secondary, secondary)
    return primary.where(primary.notna(), secondary)


def apply_filters(
    staged: pd.DataFrame, raw: pd.DataFrame, fmt: ProviderFormat, filters: Filters, *, path: str
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Keep the rows of the country, actor and date range; count what each step removed.

    Raises
    ------
    EmptyDataError
        When the filters leave nothing; the message names the step that
        removed the last rows and each step's count.
    """
    dropped = dict.fromkeys(DROP_REASONS, 0)
    kept = staged
    steps: list[tuple[str, pd.Series | None]] = [
        ("country", None if filters.country is None else kept["country_iso3"].isin(filters.country.split(","))),
        ("actor", None if filters.actor is None else matches_any(raw, fmt.actor_columns, filters.actor)),
        ("date_range", None),
    ]
    for reason, mask in steps:
        if reason == "date_range":
            if filters.start is None and filters.end is None:
                continue
            mask = pd.Series(True, index=kept.index)
            if filters.start is not None:
                mask &= kept["date"] >= filters.start
            if filters.end is not None:
                mask &= kept["date"] <= filters.end
        if mask is None:
            continue
        mask = mask.reindex(kept.index).fillna(False).astype(bool)
        dropped[reason] = int((~mask).sum())
        kept = kept[mask]
        if kept.empty:
            raise EmptyDataError(
                f"no events left after the {_DROP_LABELS[reason]} ({_describe_filter(reason, filters, staged, raw, fmt)}); "
                f"rows read {len(staged)}, removed by: "
                + ", ".join(f"{r} {n}" for r, n in dropped.items() if r in ("country", "actor", "date_range"))
                + "; loosen that filter",
                path=path,
            )
    kept = kept.copy()
    kept["actor"] = choose_actor(kept, filters.actor)
    return kept, dropped


def _describe_filter(reason: str, filters: Filters, staged: pd.DataFrame, raw: pd.DataFrame, fmt: ProviderFormat) -> str:
    if reason == "country":
        found = staged["country_iso3"].fillna("?").value_counts().head(5)
        return f"--country {filters.country}; the file has " + ", ".join(f"{k} {v}" for k, v in found.items())
    if reason == "actor":
        names = pd.concat([raw[c] for c in fmt.actor_columns if c in raw.columns]).dropna().value_counts().head(5)
        shown = ", ".join(repr(n) for n in names.index)
        return f"--actor {filters.actor.pattern!r} matched nothing in {', '.join(fmt.actor_columns)}; common names: {shown}"
    lo, hi = staged["date"].min(), staged["date"].max()
    return f"the file's dates run from {lo.date()} to {hi.date()}"


# ----------------------------------------------------------------- matching
def load_gazetteers(
    countries: list[str], given: Gazetteer | None, *, path: str, column: str | None, counts: pd.Series
) -> dict[str, Gazetteer]:
    """The gazetteer of each country in the data; error naming the countries without one."""
    from forecast.geo.gazetteer import Gazetteer

    gazetteers: dict[str, Gazetteer] = {}
    if given is not None:
        gazetteers[given.country_iso3] = given
    available = set(Gazetteer.available_countries())
    unknown = [c for c in countries if c is None or (c not in gazetteers and c not in available)]
    if unknown:
        shown = ", ".join(f"{k} {v}" for k, v in counts.items())
        have = sorted(available | set(gazetteers))
        raise InputError(
            f"the events are in {len(counts)} countries (rows: {shown}) but provinces can be matched "
            f"only for {', '.join(have)} (the gazetteers available); "
            f"pass --country {have[0] if have else '<ISO3>'} to keep one country",
            path=path,
            column=column,
        )
    for country in countries:
        if country not in gazetteers:
            gazetteers[country] = Gazetteer.load(country)
    return gazetteers


def check_country_has_gazetteer(iso3: str | None, given: Gazetteer | None) -> None:
    """A country filter needs a gazetteer for that country (unless one is given)."""
    if iso3 is None:
        return
    from forecast.geo.gazetteer import Gazetteer

    if given is not None:
        covered = given.country_iso3
        if covered != iso3:
            raise ParameterError(f"--country {iso3} but the gazetteer given covers {covered}; pass a matching gazetteer")
        return
    available = list(Gazetteer.available_countries())
    missing = [c for c in iso3.split(",") if c not in available]
    if missing:
        iso3 = ",".join(missing)
        raise ParameterError(
            f"--country {iso3}: no gazetteer for this country; available: {', '.join(available)} "
            "(add one under src/forecast/geo/tables/ to read other countries)"
        )


def _boundary_frame(boundaries: Any) -> Any:
    """A GeoDataFrame as given, or read from a path (None stays None)."""
    if boundaries is None or not isinstance(boundaries, str | Path):
        return boundaries
    from forecast.geo.boundaries import read_vector_file

    return read_vector_file(boundaries)


def match_places(
    kept: pd.DataFrame,
    fmt: ProviderFormat,
    filters: Filters,
    *,
    path: str,
    gazetteer: Gazetteer | None,
    boundaries: Any,
    aliases: Mapping[str, str] | None,
) -> tuple[pd.DataFrame, dict[str, int], dict[str, int], list[str]]:
    """Give every event a gazetteer unit: by province name, else by point in boundaries.

    Policy:

    * a province name the gazetteer (or ``aliases``) knows -> its unit;
    * no name, or an unknown name, with coordinates that locate the event
      (``point_usable``) and ``boundaries`` given -> the polygon containing the point;
    * an unknown name not placed by coordinates, or a point outside every
      polygon -> :class:`UnknownUnitError` (``unmatched="error"``) or dropped
      and counted as ``unmatched_admin1`` (``unmatched="drop"``);
    * no name and no usable coordinates (or no boundaries to use them with) ->
      dropped and counted as ``no_location``. These are events the provider
      itself places only at country level, so they cannot be in a per-province
      count; they are reported in the summary rather than raised, as every
      real release contains some.

    Returns
    -------
    (matched, dropped, unmatched_names, notes)
    """
    dropped = {"unmatched_admin1": 0, "no_location": 0}
    unmatched_names: dict[str, int] = {}
    notes: list[str] = []
    countries = kept["country_iso3"].astype(object).where(kept["country_iso3"].notna(), None)
    counts = countries.fillna("unrecognised").value_counts()
    present = [c for c in countries.unique()]
    if any(c is None for c in present):
        bad = countries.isna()
        raise InputError(
            f"country {kept.loc[bad, 'country_found'].iloc[0]!r} is not recognised; "
            "pass --country to keep one country",
            path=path,
            row=first_row(bad),
            column=fmt.country_column,
        )
    gazetteers = load_gazetteers(sorted(present), gazetteer, path=path, column=fmt.country_column, counts=counts)
    boundaries = _boundary_frame(boundaries)

    codes = pd.Series(None, index=kept.index, dtype=object)
    names_out = pd.Series(None, index=kept.index, dtype=object)
    drop = pd.Series(False, index=kept.index)
    for country, gaz in gazetteers.items():
        rows = countries == country
        if not rows.any():
            continue
        part = kept[rows]
        if aliases:
            gaz = gaz.with_aliases(dict(aliases))
        names = part["admin1"]
        code = gaz.resolve_names(names).astype(object)
        code = code.where(code.notna(), None)
        has_name = names.notna()
        unknown = has_name & code.isna()
        has_point = part["point_usable"].astype(bool) & part["latitude"].notna() & part["longitude"].notna()
        to_place = code.isna() & has_point
        if boundaries is not None and to_place.any():
            matched = gaz.match_boundaries(boundaries)
            placed = gaz.assign_points(part.loc[to_place, "latitude"], part.loc[to_place, "longitude"], matched)
            placed = pd.Series(placed, index=part.index[to_place]).astype(object)
            code.loc[to_place] = placed.where(placed.notna(), None)
            rescued = int((unknown & code.notna()).sum())
            if rescued:
                notes.append(f"{rescued} row(s) with a province name not in the gazetteer were placed by their coordinates")
        unknown_left = unknown & code.isna()
        outside = ~has_name & to_place & code.isna() if boundaries is not None else pd.Series(False, index=part.index)
        no_location = ~has_name & code.isna() & ~outside
        if filters.unmatched == "error":
            if unknown_left.any():
                # Names placed by coordinates are not a problem: hide them from the message.
                shown = names.where(~(unknown & code.notna()), None)
                raise UnknownUnitError(
                    gaz.unknown_names_message(shown, path=path, column=fmt.admin1_column or "admin1", fix=UNMATCHED_FIX)
                )
            if outside.any():
                first = outside[outside].index[0]
                raise UnknownUnitError(
                    f"the point ({part.at[first, 'latitude']}, {part.at[first, 'longitude']}) lies outside every "
                    f"province boundary ({int(outside.sum())} row(s)); check the coordinates or the boundaries, "
                    "or pass --unmatched drop",
                    path=path,
                    row=int(first) + 1,
                    column="latitude",
                )
        for name, n in part.loc[unknown_left, "admin1"].value_counts().items():
            unmatched_names[str(name)] = unmatched_names.get(str(name), 0) + int(n)
        dropped["unmatched_admin1"] += int((unknown_left | outside).sum())
        dropped["no_location"] += int(no_location.sum())
        placeable = int((no_location & has_point).sum())  # only without boundaries
        if placeable:
            notes.append(
                f"{placeable} row(s) without a province name have coordinates: "
                "give boundaries to place them by point-in-polygon"
            )
        coarse = int((no_location & ~has_point & part["latitude"].notna()).sum())
        if coarse:
            notes.append(
                f"{coarse} row(s) without a province name have only country- or region-level "
                "coordinates (the provider's location precision), so they cannot be placed"
            )
        codes.loc[part.index] = code
        lookup = gaz.units.set_index("unit_id")["name"]
        names_out.loc[part.index] = code.map(lookup)
        drop.loc[part.index] = unknown_left | outside | no_location

    matched = kept.copy()
    matched["admin1_code"] = codes
    matched["admin1_name"] = names_out
    matched = matched[~drop]
    if matched.empty:
        reason = "unmatched_admin1" if dropped["unmatched_admin1"] else "no_location"
        raise EmptyDataError(
            f"no events left: all {len(kept)} rows left by the filters were dropped as {_DROP_LABELS[reason]}; "
            "give province names the gazetteer knows, or boundaries to place coordinates",
            path=path,
        )
    return matched, dropped, unmatched_names, notes


# ------------------------------------------------------------------ driver
def ingest(
    fmt: ProviderFormat,
    path: str | Path,
    *,
    country: str | None = None,
    actor: str | None = None,
    start: Any = None,
    end: Any = None,
    unmatched: str = "error",
    gazetteer: Gazetteer | None = None,
    boundaries: Any = None,
    aliases: Mapping[str, str] | None = None,
) -> IngestResult:
    """Read ``path`` in the format ``fmt`` into canonical events (the steps of the module docstring).

    Rows are filtered in this order, each step counting what it removed:
    country, actor, date range, then unmatched province names and events
    without a location (see :func:`match_places`).
    """
    filters = check_parameters(country=country, actor=actor, start=start, end=end, unmatched=unmatched)
    if fmt.match_places:
        check_country_has_gazetteer(filters.country, gazetteer)
    name = str(path)
    raw, header, notes = read_table(path, latin1_fallback=fmt.latin1_fallback, source=fmt.source, usecols=fmt.usecols)
    require_columns(header, fmt.required, path=name, source=fmt.source, hint=fmt.columns_hint)
    staged, stage_notes = fmt.stage(raw, name)
    notes.extend(stage_notes)
    kept, dropped = apply_filters(staged, raw, fmt, filters, path=name)
    unmatched_names: dict[str, int] = {}
    if fmt.match_places:
        kept, place_dropped, unmatched_names, place_notes = match_places(
            kept, fmt, filters, path=name, gazetteer=gazetteer, boundaries=boundaries, aliases=aliases
        )
        dropped.update(place_dropped)
        notes.extend(place_notes)
    events = to_canonical(kept, path=name)
    return IngestResult(
        events=events,
        source=fmt.source,
        path=name,
        rows_read=len(raw),
        dropped=dropped,
        unmatched_names=unmatched_names,
        notes=notes,
        filters=filters.as_dict(),
    )


def to_canonical(kept: pd.DataFrame, *, path: str) -> pd.DataFrame:
    """Select, type, sort and validate the canonical columns."""
    frame = kept.copy()
    text_columns = ["event_id", "source", "date_precision", "country_iso3", "admin1_code", "admin1_name",
                    "admin2_name", "actor", "actor_raw", "event_type"]
    for column in text_columns:
        values = frame[column].astype(object)
        frame[column] = values.where(values.notna(), None)
    for column in ["latitude", "longitude", "fatalities_low", "fatalities_best", "fatalities_high"]:
        frame[column] = pd.to_numeric(frame[column]).astype(float)
    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
    # Validate before sorting: the index is still the file's row, so a failure names it.
    frame = validate(frame[EVENT_COLUMNS], EVENTS, path=path)
    return frame.sort_values(["date", "event_id"], kind="stable").reset_index(drop=True)
