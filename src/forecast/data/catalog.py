"""What data is here, and where it came from: ``forecast data list``.

Every raw and processed file under ``data/`` is listed with its source,
version, sha256, row count and date range, read from its ``.meta.json``
sidecar (see :mod:`forecast.files`) where there is one and measured from the
file otherwise. Processed files name the files they were made from. A file
whose sha256 no longer matches its sidecar is flagged ``changed``: data must
never change under the user without a trace.

Examples
--------
>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> raw = root / "raw" / "demo"
>>> raw.mkdir(parents=True)
>>> _ = (raw / "events.csv").write_text("event_date,n\\n2021-01-02,1\\n2021-03-04,2\\n")
>>> [(f.name, f.rows, f.date_min, f.date_max) for f in list_data(root)]
[('events.csv', 2, '2021-01-02', '2021-03-04')]
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from forecast.errors import ParameterError
from forecast.files import read_sidecar, sha256_file

#: Date columns recognised, in order of preference: UCDP, ACLED, canonical
#: events, panels and forecasts.
DATE_COLUMNS: tuple[str, ...] = ("date_start", "event_date", "date", "ds")

#: Data areas under the data directory, listed in this order.
AREAS: tuple[str, ...] = ("raw", "processed")

# Files that document a folder rather than hold data.
_NOT_DATA = {"readme.md", "readme.txt", ".gitkeep", ".gitignore"}

#: Suffixes whose rows and dates can be measured.
_TABULAR = {".csv", ".parquet"}


@dataclass
class DataFile:
    """One data file and its provenance.

    Attributes
    ----------
    path
        The file.
    area
        ``raw`` or ``processed``.
    source
        Provider (``ucdp``, ``acled``, ...) from the sidecar, or from the files
        it was made from; ``None`` when unknown.
    version
        Provider release (or access date for living databases), if recorded.
    sha256
        Of the file as it is now.
    recorded_sha256
        As recorded in the sidecar when the file was written.
    rows
        Data rows (header excluded), when known or measurable.
    date_min, date_max
        First and last date (``YYYY-MM-DD``) in its date column, when there is one.
    date_column
        The column the range was taken from.
    inputs
        Files it was made from, as recorded in its sidecar.
    url
        Where it was downloaded from (never with credentials).
    created
        When it was downloaded or written, as recorded.
    status
        ``ok`` (matches its sidecar), ``changed`` (does not), ``no sidecar``.
    """

    path: Path
    area: str
    source: str | None = None
    version: str | None = None
    sha256: str | None = None
    recorded_sha256: str | None = None
    rows: int | None = None
    date_min: str | None = None
    date_max: str | None = None
    date_column: str | None = None
    inputs: list[str] = field(default_factory=list)
    url: str | None = None
    created: str | None = None
    status: str = "no sidecar"

    @property
    def name(self) -> str:
        return self.path.name

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        record = asdict(self)
        record["path"] = str(self.path)
        return record


# ------------------------------------------------------------ measurements


def _day(value: Any) -> str | None:
    """``2021-10-08 00:00:00.000`` or a Timestamp -> ``2021-10-08``."""
    if value is None:
        return None
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    text = text.strip()
    return text[:10] if text else None


def _csv_header(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as handle:
        return next(csv.reader(handle), [])


def csv_summary(path: str | Path, date_column: str | None = None) -> tuple[int, str | None, str | None, str | None]:
    """Rows and date range of a CSV file, read column-wise so large files stay quick.

    Parameters
    ----------
    path
        A CSV file with a header.
    date_column
        Column holding dates; default: the first of :data:`DATE_COLUMNS` present.

    Returns
    -------
    tuple
        ``(rows, date_column, date_min, date_max)``; dates as ``YYYY-MM-DD``,
        ``None`` without a date column or dates.
    """
    path = Path(path)
    header = _csv_header(path)
    if date_column is None:
        date_column = next((c for c in DATE_COLUMNS if c in header), None)
    elif date_column not in header:
        date_column = None
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
        from pyarrow import csv as pacsv

        # Quoted fields may hold newlines (UCDP source headlines, ACLED notes).
        parse = pacsv.ParseOptions(newlines_in_values=True)
        if date_column is None:
            # Any one column gives the row count; read the first as text.
            convert = pacsv.ConvertOptions(include_columns=header[:1], column_types={header[0]: pa.string()})
        else:
            convert = pacsv.ConvertOptions(include_columns=[date_column], column_types={date_column: pa.string()})
        table = pacsv.read_csv(path, parse_options=parse, convert_options=convert,
                               read_options=pacsv.ReadOptions(encoding="utf8"))
        rows = table.num_rows
        if date_column is None or rows == 0:
            return rows, date_column, None, None
        days = pc.utf8_slice_codeunits(pc.utf8_trim_whitespace(table.column(date_column)), 0, 10)
        days = pc.filter(days, pc.not_equal(days, ""))
        if len(days) == 0:
            return rows, date_column, None, None
        bounds = pc.min_max(days)
        return rows, date_column, bounds["min"].as_py(), bounds["max"].as_py()
    except Exception:  # noqa: BLE001 - pyarrow is picky (encodings, ragged rows); fall back
        return _csv_summary_slow(path, date_column)


def _csv_summary_slow(path: Path, date_column: str | None) -> tuple[int, str | None, str | None, str | None]:
    rows, low, high = 0, None, None
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        index = header.index(date_column) if date_column in header else None
        for record in reader:
            rows += 1
            if index is None or index >= len(record):
                continue
            day = record[index].strip()[:10]
            if day:
                low = day if low is None or day < low else low
                high = day if high is None or day > high else high
    return rows, date_column, low, high


def parquet_summary(path: str | Path) -> tuple[int, str | None, str | None, str | None]:
    """Rows and date range of a parquet file, reading only its date column."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    rows = parquet.metadata.num_rows
    names = parquet.schema_arrow.names
    date_column = next((c for c in DATE_COLUMNS if c in names), None)
    if date_column is None or rows == 0:
        return rows, date_column, None, None
    column = parquet.read(columns=[date_column]).column(date_column)
    bounds = pc.min_max(column)
    return rows, date_column, _day(bounds["min"].as_py()), _day(bounds["max"].as_py())


def measure(path: str | Path) -> tuple[int | None, str | None, str | None, str | None]:
    """``(rows, date_column, date_min, date_max)`` of a CSV or parquet file; ``None``s otherwise."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".csv":
            return csv_summary(path)
        if path.suffix.lower() == ".parquet":
            return parquet_summary(path)
    except Exception:  # noqa: BLE001 - a listing must not fail on one unreadable file
        pass
    return None, None, None, None


# ----------------------------------------------------------------- listing


def _is_data_file(path: Path) -> bool:
    name = path.name
    if not path.is_file() or name.startswith(".") or name.lower() in _NOT_DATA:
        return False
    # Sidecars describe files; they are not data themselves.
    return not name.endswith(".meta.json")


def _input_paths(meta: dict[str, Any]) -> list[str]:
    paths = []
    for entry in meta.get("inputs") or []:
        paths.append(str(entry.get("path")) if isinstance(entry, dict) else str(entry))
    return paths


def _inherited_source(meta: dict[str, Any], depth: int = 0) -> str | None:
    """A processed file's source: its own, else that of the files it was made from."""
    if meta.get("source"):
        return str(meta["source"])
    if depth > 5:
        return None
    found = []
    for parent in _input_paths(meta):
        parent_meta = read_sidecar(parent) if Path(parent).exists() else None
        source = _inherited_source(parent_meta or {}, depth + 1)
        if source and source not in found:
            found.append(source)
    return "+".join(found) or None


def describe(path: str | Path, area: str = "raw", *, verify: bool = True) -> DataFile:
    """Provenance of one data file, from its sidecar, measured where the sidecar is silent.

    Parameters
    ----------
    path
        The data file.
    area
        ``raw`` or ``processed`` (shown in the listing).
    verify
        Recompute the sha256 and compare it with the sidecar's; without it the
        recorded sha256 is reported as is (quicker for large files).
    """
    path = Path(path)
    meta = read_sidecar(path) or {}
    info = DataFile(path=path, area=area)
    if meta:
        info.source = _inherited_source(meta)
        info.version = None if meta.get("version") is None else str(meta["version"])
        info.recorded_sha256 = meta.get("sha256") or meta.get("output_sha256")
        info.rows = meta.get("rows")
        date_range = meta.get("date_range") or [None, None]
        info.date_min, info.date_max = _day(date_range[0]), _day(date_range[1])
        info.date_column = meta.get("date_column")
        info.inputs = _input_paths(meta)
        info.url = meta.get("url")
        info.created = meta.get("downloaded") or meta.get("created")
    if info.rows is None or (info.date_min is None and path.suffix.lower() in _TABULAR):
        rows, column, low, high = measure(path)
        info.rows = info.rows if info.rows is not None else rows
        if info.date_min is None:
            info.date_column, info.date_min, info.date_max = column, low, high
    if verify or not info.recorded_sha256:
        info.sha256 = sha256_file(path)
    else:
        info.sha256 = info.recorded_sha256
    if meta:
        if info.recorded_sha256 is None:
            info.status = "ok"  # an older sidecar without a checksum: nothing to compare
        else:
            info.status = "ok" if info.sha256 == info.recorded_sha256 else "changed"
    return info


def list_data(data_dir: str | Path = "data", *, verify: bool = True) -> list[DataFile]:
    """Every raw and processed data file under ``data_dir``, with its provenance.

    Hidden files (partial downloads, temporary files), sidecars and READMEs are
    skipped. Files are listed raw first, then processed, each by path.
    """
    data_dir = Path(data_dir)
    if data_dir.exists() and not data_dir.is_dir():
        raise ParameterError(f"--data-dir {data_dir} is a file, not a folder; give the folder holding raw/ and "
                             "processed/, e.g. --data-dir data")
    found: list[DataFile] = []
    for area in AREAS:
        root = data_dir / area
        if not root.is_dir():
            continue
        for path in sorted(p for p in root.rglob("*") if _is_data_file(p)):
            if any(part.startswith(".") for part in path.relative_to(root).parts):
                continue
            found.append(describe(path, area, verify=verify))
    return found


def _short_inputs(inputs: Iterable[str]) -> str:
    return ", ".join(Path(p).name for p in inputs) or "-"


def format_data_list(files: list[DataFile], *, full_sha: bool = False) -> str:
    """The listing as an aligned text table (what ``forecast data list`` prints)."""
    if not files:
        return "no data files (download with `forecast fetch ...` or put files under data/raw/)"
    header = ["area", "file", "source", "version", "rows", "dates", "sha256", "status", "made from"]
    table = [header]
    for info in files:
        dates = f"{info.date_min} .. {info.date_max}" if info.date_min else "-"
        sha = info.sha256 or "-"
        table.append([
            info.area,
            str(info.path),
            info.source or "-",
            info.version or "-",
            "-" if info.rows is None else str(info.rows),
            dates,
            sha if full_sha else sha[:12],
            info.status,
            _short_inputs(info.inputs),
        ])
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in table]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def data_list_json(files: list[DataFile]) -> str:
    """The listing as JSON (``forecast data list --json``)."""
    return json.dumps([info.as_dict() for info in files], indent=2, default=str)
