"""Event readers: one provider's file in, the canonical event table out.

>>> from forecast.data import read_events
>>> result = read_events("ucdp", "GEDEvent_v25_1.csv", country="AFG", actor="^IS$")  # doctest: +SKIP
>>> print(result.summary())  # doctest: +SKIP

Every reader returns an :class:`IngestResult` whose ``events`` are validated
against :data:`forecast.schema.EVENTS`. The shared steps (reading, filters,
gazetteer matching, validation) live in :mod:`forecast.data.ingest`; each
provider module only maps its columns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from forecast.data.acled import read_acled
from forecast.data.csv import ingest_canonical, read_canonical, read_csv
from forecast.data.gtd import read_gtd
from forecast.data.ingest import DROP_REASONS, IngestResult
from forecast.data.ucdp import read_ucdp
from forecast.errors import ParameterError

if TYPE_CHECKING:  # pragma: no cover
    from forecast.geo.gazetteer import Gazetteer

#: ``source`` name -> reader: every event source of :mod:`forecast.sources` that is a file.
READERS: dict[str, Callable[..., IngestResult]] = {
    "ucdp": read_ucdp,
    "acled": read_acled,
    "gtd": read_gtd,
    "csv": read_csv,
    "canonical": ingest_canonical,
}


def read_events(
    source: str,
    path: str | Path,
    *,
    country: str | None = None,
    actor: str | None = None,
    start: Any = None,
    end: Any = None,
    columns: Mapping[str, str] | None = None,
    unmatched: str = "error",
    gazetteer: Gazetteer | None = None,
    boundaries: Any = None,
    aliases: Mapping[str, str] | None = None,
) -> IngestResult:
    """Read one provider's event file into the canonical event table.

    Parameters
    ----------
    source
        ``ucdp`` (GED CSV), ``acled`` (export CSV), ``gtd`` (CSV or XLSX),
        ``csv`` (generic) or ``canonical`` (a table written by ``forecast ingest``).
    path
        The file. It is only read, never changed.
    country
        Keep one country (name or ISO code); other rows are dropped and
        counted. Without it, every row's country needs a gazetteer.
    actor
        Case-insensitive regular expression searched in all actor/side name
        columns of the provider (UCDP side_a, side_b, dyad_name; ACLED actor1,
        actor2, assoc_actor_1, assoc_actor_2; GTD gname, gsubname; generic
        actor), e.g. ``"^IS$|Islamic State"``.
    start, end
        First and last date kept (inclusive), ``YYYY-MM-DD``. Imprecise
        events are compared by their canonical date (the first day of their
        week, month or year span as the provider dates them).
    columns
        Generic CSV only: field -> column mapping, e.g. ``{"admin1": "Province"}``.
    unmatched
        Province names the gazetteer does not know: ``"error"`` (default,
        raises :class:`~forecast.errors.UnknownUnitError` listing them with the
        closest known names) or ``"drop"`` (dropped and counted). Ignored for
        ``canonical`` tables, whose places are matched already.
    gazetteer
        The gazetteer to match with (default: the bundled one of each country).
    boundaries
        Province polygons (GeoDataFrame or a GeoJSON/shapefile path) to place
        events that have coordinates but no known province name.
    aliases
        Extra province spellings: name in the file -> unit_id or gazetteer name.

    Returns
    -------
    IngestResult
        ``events`` (canonical, validated), rows read, rows dropped by reason
        (``country``, ``actor``, ``date_range``, ``unmatched_admin1``,
        ``no_location``), unmatched names and notes.

    Notes
    -----
    Events with neither a province name nor coordinates that place them in
    one province (e.g. UCDP ``where_prec`` 6, "somewhere in the country") are
    dropped and counted as ``no_location``, not raised: every real release
    has some, and a per-province count cannot use them. The summary says how
    many and whether boundaries would place some of them.

    Raises
    ------
    ParameterError
        Unknown source, country without gazetteer, invalid regex or dates.
    InputError
        Missing file, wrong encoding, missing columns, unreadable dates or
        numbers (the message names the file, row and column).
    UnknownUnitError
        Unknown province names with ``unmatched="error"``.
    EmptyDataError
        Empty file, or nothing left after a filter (which one is named).
    """
    name = str(source).strip().lower()
    reader = READERS.get(name)
    if reader is None:
        raise ParameterError(f"unknown source {source!r}; choose one of {', '.join(READERS)}")
    options: dict[str, Any] = {"country": country, "actor": actor, "start": start, "end": end, "unmatched": unmatched}
    if name == "csv":
        options["columns"] = columns
    elif columns:
        raise ParameterError(f"--columns applies only to --source csv, not {name} (whose columns are fixed)")
    if name == "canonical":
        # Its places are matched already: callers may pass the policy generically.
        options.pop("unmatched")
    return reader(path, gazetteer=gazetteer, boundaries=boundaries, aliases=aliases, **options)


__all__ = [
    "DROP_REASONS",
    "READERS",
    "IngestResult",
    "ingest_canonical",
    "read_acled",
    "read_canonical",
    "read_csv",
    "read_events",
    "read_gtd",
    "read_ucdp",
]
