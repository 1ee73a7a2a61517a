"""One way from run parameters to the data every stage works on.

Notebooks, the CLI and benchmarks all start the same way: read events from a
provider's file (or generate the embedded synthetic scenario), keep what the
filters say, cut at the as-of date and count them into a panel. This module
does that once and carries the facts a report must show with the data: its
source label, whether it is synthetic, the input's sha256 and the attributions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from forecast.checks import date, frequency
from forecast.errors import ParameterError
from forecast.panel import events_country, panel_as_of, period_end, period_range
from forecast.sources import COUNT_SOURCES, DISTRICT_SOURCES, SOURCE_NAMES, SOURCES

#: ``source`` values :func:`load_dataset` accepts: every source of :mod:`forecast.sources`.
DATASET_SOURCES = SOURCE_NAMES

#: Administrative levels a panel can have: 1 provinces, 2 districts (as in ``fetch boundaries --level``).
LEVELS = (1, 2)


@dataclass
class Dataset:
    """Events and their panel, with what a report must say about them.

    Attributes
    ----------
    events
        Canonical events on or before ``as_of`` (all of them if no as-of).
    panel
        Complete ``unit_id, ds, y, fatalities_best`` panel of the complete
        periods up to ``as_of``.
    source
        ``synthetic`` or the provider name.
    label
        Short description for titles and captions, e.g.
        ``"UCDP GED (GEDEvent_v25_1.csv), actor ^IS$"`` or
        ``"synthetic scenario (seed 20211)"``.
    synthetic
        True when the data are the embedded synthetic scenario.
    as_of
        The as-of date (``None``: the end of the data).
    input_sha256
        sha256 of the input file, or ``"synthetic:<seed>"``.
    scenario
        The :class:`forecast.data.synthetic.Scenario` when synthetic (its ground truth).
    ingest_summary
        Rows read and dropped by reason (provider files only).
    counts
        The count table the panel was built from (count sources such as
        ``hdx``; ``events`` is then empty), cut at ``as_of``.
    units
        Units the data define themselves (``unit_id, name, parent_id``:
        districts of an HDX workbook), else ``None`` (the gazetteer's).
    level
        1 (provinces) or 2 (districts).
    districts
        The district boundary layer matched to the panel
        (:class:`forecast.geo.districts.DistrictLayer`: adjacency, centroids,
        shapes) when a district panel was loaded with ``boundaries``, else ``None``.
    """

    events: pd.DataFrame
    panel: pd.DataFrame
    source: str
    label: str
    synthetic: bool
    freq: str
    as_of: pd.Timestamp | None
    input_sha256: str
    actor: str | None = None
    events_path: str | None = None
    scenario: Any = None
    ingest_summary: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    country: str | None = None
    counts: pd.DataFrame | None = None
    units: pd.DataFrame | None = None
    level: int = 1
    districts: Any = None

    @property
    def has_adjacency(self) -> bool:
        """Whether the panel's units have an adjacency (provinces, or districts with a boundary file)."""
        return self.level == 1 or self.districts is not None

    @property
    def unit_word(self) -> str:
        """``"province"`` or ``"district"``, for sentences about the panel's units."""
        return "province" if self.level == 1 else "district"

    @property
    def gazetteer(self) -> Any:
        """The panel's units as a :class:`~forecast.geo.gazetteer.Gazetteer`.

        Provinces: the country's gazetteer. Districts: the boundary layer's
        (adjacency, centroids) when one was given, else the workbook's
        districts without adjacency, placed at their province's centroid.

        Examples
        --------
        >>> load_dataset("synthetic", freq="MS", as_of="2021-12-31").gazetteer.country_iso3
        'AFG'
        """
        from forecast.geo.gazetteer import Gazetteer

        if self.country is None:
            raise ParameterError("the dataset has no country, so no gazetteer; load it with country='AFG' (or another)")
        if self.level == 1:
            return Gazetteer.load(self.country)
        if self.districts is not None:
            return self.districts.gazetteer
        from forecast.geo.districts import districts_without_layer

        return districts_without_layer(self.units, self.country)

    def province_panel(self) -> pd.DataFrame:
        """The panel summed per province: a district panel's districts added into their province.

        The province panel itself at level 1. At level 2 only the provinces
        that have districts in the data appear (the level-1 panel of the same
        workbook also has the others, at zero).
        """
        if self.level == 1:
            return self.panel
        parents = self.units.set_index("unit_id")["parent_id"]
        columns = [c for c in ("y", "fatalities_best") if c in self.panel.columns]
        return (self.panel.assign(unit_id=self.panel["unit_id"].map(parents))
                .groupby(["unit_id", "ds"], as_index=False)[columns].sum())

    def stronghold_units(self, stronghold: str | list[str]) -> str | list[str]:
        """A stronghold given by province names, as the panel's units.

        On a district panel a province name (``"Nangarhar"``) stands for the
        province's districts; other names (a district's P-code or name) and
        ``"auto"`` are kept. On a province panel ``stronghold`` is returned as is.
        """
        if self.level == 1 or stronghold == "auto" or self.units is None:
            return stronghold
        from forecast.geo.gazetteer import Gazetteer

        names = [stronghold] if isinstance(stronghold, str) else list(stronghold)
        provinces = Gazetteer.load(self.country)
        parents = self.units.groupby("parent_id")["unit_id"].apply(list).to_dict()
        out: list[str] = []
        for name in names:
            province = provinces.resolve(name)
            out.extend(parents.get(province, []) if province in parents else [name])
        return list(dict.fromkeys(out))

    @property
    def last_day(self) -> pd.Timestamp:
        """The last day the data speak for: ``as_of``, or else the last day of the panel's last period.

        What rules judged "as of" the data should be given: the start of the
        last period would leave that (complete) period out.

        Examples
        --------
        >>> f"{load_dataset('synthetic', freq='W-MON').last_day:%F}"
        '2022-01-02'
        """
        if self.as_of is not None:
            return self.as_of
        last = pd.Timestamp(self.panel["ds"].max())
        return period_end(last, self.freq) - pd.Timedelta(days=1)

    @property
    def neighbours(self) -> dict[str, list[str]]:
        """Each panel unit's adjacent units (``forecast_panel(neighbours=...)``).

        Provinces: from the country's gazetteer. Districts: from the district
        boundary file (``boundaries``); without one, an error saying so.

        Examples
        --------
        >>> data = load_dataset("synthetic", freq="MS", as_of="2021-12-31")
        >>> sorted(data.neighbours["AF-KNR"])
        ['AF-LAG', 'AF-NAN', 'AF-NUR']
        """
        from forecast.geo.gazetteer import Gazetteer

        if self.level != 1 and self.districts is not None:
            return self.districts.neighbours()
        if self.level != 1:
            raise ParameterError(
                f"this is a district (level {self.level}) panel and no district boundary file gives its adjacency; "
                "load it with boundaries=<district boundary file> (boundaries_path, --boundaries), or "
                "use models that need no neighbours (zero, last, hist_mean, bootstrap, seasonal_naive, glm_poisson, "
                "glm_negbin, ingarch) or build a province panel (level=1)"
            )
        if self.country is None:
            raise ParameterError("the dataset has no country, so no adjacency; load it with country='AFG' (or another)")
        gazetteer = Gazetteer.load(self.country)
        units = set(self.panel["unit_id"])
        return {unit: [n for n in gazetteer.neighbours(unit) if n in units] for unit in sorted(units)}

    @property
    def caption(self) -> str:
        """One line naming the data, for figure captions (says "SYNTHETIC" when it is)."""
        period = f"{self.panel['ds'].min():%Y-%m-%d} to {self.panel['ds'].max():%Y-%m-%d}" if len(self.panel) else "no periods"
        prefix = "SYNTHETIC DATA — " if self.synthetic else ""
        return f"{prefix}{self.label}; {self.freq} periods {period}"

    @property
    def figure_labels(self) -> dict[str, Any]:
        """Keyword arguments naming the data for every figure function (``**data.figure_labels``)."""
        return {"source": self.label, "actor": self.actor, "synthetic": self.synthetic}

    def citations(self) -> list[str]:
        """Citation and licence lines the report must carry for this source.

        For a downloaded file the provenance sidecar names the release, so the
        citation carries its version.
        """
        from forecast.data.citations import citations_for, citations_for_file

        if self.events_path:
            lines = citations_for_file(self.events_path)
            if lines:
                return lines
        return citations_for([self.source])


def check_level(level: Any, source: str) -> int:
    """``level`` checked: 1 or 2, and 2 only for a source whose files name districts.

    Examples
    --------
    >>> check_level(2, "hdx")
    2
    >>> check_level(2, "ucdp")
    Traceback (most recent call last):
    ...
    forecast.errors.ParameterError: level=2 (districts) needs a source whose files name districts (hdx); ucdp files name provinces only: use level=1, or an HDX workbook (forecast fetch hdx --country AFG) with source=hdx
    """
    if isinstance(level, bool) or level not in LEVELS:
        raise ParameterError(f"level {level!r} is not an administrative level; use 1 (provinces) or 2 (districts)")
    if level != 1 and source not in DISTRICT_SOURCES:
        raise ParameterError(
            f"level={level} (districts) needs a source whose files name districts ({', '.join(DISTRICT_SOURCES)}); "
            f"{source} files name provinces only: use level=1, or an HDX workbook (forecast fetch hdx --country AFG) "
            "with source=hdx"
        )
    return int(level)


def load_dataset(
    source: str = "synthetic",
    events_path: str | Path | None = None,
    *,
    actor: str | None = None,
    country: str | list[str] | None = None,
    freq: str = "W-MON",
    as_of: str | pd.Timestamp | None = None,
    start: str | None = None,
    columns: Mapping[str, str] | None = None,
    unmatched: str = "error",
    aliases: Mapping[str, str] | None = None,
    synthetic: Mapping[str, Any] | None = None,
    seed: int | None = None,
    level: int = 1,
    boundaries: str | Path | None = None,
    boundaries_cache: str | Path | None = None,
) -> Dataset:
    """Load events for a run and count them into a panel, cut at ``as_of``.

    Parameters
    ----------
    source
        ``synthetic`` (the embedded scenario) or a provider format accepted by
        :func:`forecast.data.read_events` (``ucdp``, ``acled``, ``gtd``,
        ``csv``, ``canonical``).
    events_path
        The provider's file; required unless ``source`` is ``synthetic``.
    actor, country, columns, unmatched, aliases
        Passed to the reader (see :func:`forecast.data.read_events`):
        ``columns`` maps a generic CSV's columns (``{"admin1": "Province"}``),
        ``aliases`` adds province spellings (``{"Nangahar": "Nangarhar"}``).
        ``country`` None: the one country the events are from. Several
        countries in one panel: ``"AFG,PAK"`` or ``["AFG", "PAK"]``; each
        event's place is then resolved within its own country (its
        ``country_iso3``), and adjacency runs across the borders.
    freq
        Panel frequency, ``W-MON`` or ``MS``.
    as_of
        Events after this date are ignored and the panel ends with the last
        period complete by then. ``None``: use everything.
    start
        First date of the panel (default: the first event).
    synthetic
        Overrides of :class:`forecast.data.synthetic.ScenarioConfig` for the synthetic source.
    seed
        Seed of the synthetic scenario (shortcut for ``synthetic={"seed": ...}``).
        With ``country="AFG,PAK"`` the scenario runs over both countries' units.
    level
        1: a province panel (default); 2: a district panel, for sources that
        name districts (``hdx``). A district panel has adjacency only with
        ``boundaries``; without, only models without neighbour terms run on it.
    boundaries
        District boundary file (level 2): matched to the workbook's P-codes by
        :func:`forecast.geo.districts.district_layer`, it gives the districts'
        adjacency, centroids and map shapes. Ignored at level 1 (province maps
        take it in :func:`forecast.report.notebook.open_report`).
    boundaries_cache
        Folder caching the layer's derived tables (by the file's sha256);
        None: derived on every load.

    Examples
    --------
    >>> data = load_dataset("synthetic", freq="MS", as_of="2021-12-31")
    >>> data.synthetic, data.panel["unit_id"].nunique(), f"{data.panel['ds'].max():%F}"
    (True, 34, '2021-12-01')
    >>> both = load_dataset("synthetic", country=["AFG", "PAK"], freq="MS", as_of="2021-12-31")
    >>> both.country, both.panel["unit_id"].nunique(), "PK-KP" in both.neighbours["AF-NAN"]
    ('AFG,PAK', 41, True)
    """
    frequency(freq)
    from forecast.data.ingest import check_parameters, resolve_country

    check_parameters(actor=actor)  # a broken regex is refused whatever the source (synthetic ignores a valid one)
    if country is not None:
        country = resolve_country(country)
    if source not in DATASET_SOURCES:
        raise ParameterError(f"source '{source}' is not known; use one of {', '.join(DATASET_SOURCES)}")
    check_level(level, source)
    as_of_ts = date(as_of, "as_of") if as_of not in (None, "") else None

    scenario = None
    summary: dict[str, Any] = {}
    unit_table = None
    reader_notes: list[str] = []
    if source in COUNT_SOURCES:
        if not events_path:
            raise ParameterError(f"source '{source}' needs a count table; pass events_path (or --events PATH)")
        from forecast.data.counts import read_counts
        from forecast.data.hdx import read_hdx
        from forecast.files import sha256_file

        if source == "hdx":
            read = read_hdx(events_path, country=country, unmatched=unmatched, level=level)
        else:
            read = read_counts(events_path, country=country, columns=columns, unmatched=unmatched)
        events = read.counts
        unit_table = read.units
        summary = read.summary_dict()
        label = f"{SOURCES[source].label} ({Path(events_path).name})"
        sha = sha256_file(events_path)
        panel_start, panel_end = start, None
        published = _published_until(events_path) if as_of_ts is None else None
        if published is not None and len(events):
            # Never past the data: zeros after the last row would be months nobody counted.
            panel_end = min(published, period_end(events["ds"].max(), read.freq) - pd.Timedelta(days=1))
        country = country or events.attrs.get("country")
        reader_notes = list(read.notes)
        if source == "hdx" and as_of_ts is None and published is None and len(events):
            reader_notes.append(
                f"the workbook has no download record, so whether its last month ({events['ds'].max():%Y-%m}) is "
                "complete is unknown (HDX updates the current month): pass as_of to leave it out, or download it "
                "with forecast fetch hdx"
            )
    elif source == "synthetic":
        from forecast.data.synthetic import generate_scenario

        overrides = dict(synthetic or {})
        if seed is not None:
            overrides.setdefault("seed", seed)
        if country is not None:
            overrides.setdefault("country", country)
        scenario = generate_scenario(**overrides)
        events = scenario.events
        label = f"synthetic scenario (seed {scenario.config.seed})"
        sha = f"synthetic:{scenario.config.seed}"
        panel_start = start or scenario.config.start
        # The configured end names the last simulated week; its events run to the Sunday.
        panel_end = period_range(scenario.config.end, scenario.config.end, "W-MON")[0] + pd.Timedelta(days=6)
    else:
        if not events_path:
            raise ParameterError(f"source '{source}' needs an events file; pass events_path (or --events PATH)")
        from forecast.data import read_events
        from forecast.files import sha256_file

        result = read_events(
            source, events_path, country=country, actor=actor, columns=columns, unmatched=unmatched,
            aliases=aliases or None,
        )
        events = result.events
        summary = result.summary_dict()
        label = f"{SOURCES[source].label} ({Path(events_path).name})"
        if actor:
            label += f", actor {actor}"
        sha = sha256_file(events_path)
        panel_start = start
        panel_end = None  # the data end with their last event

    if country is None:
        country = events_country(events)
    events, panel, notes = panel_as_of(
        events, freq=freq, as_of=as_of_ts, start=panel_start, country=country,
        complete_until=panel_end, units=None if unit_table is None else list(unit_table["unit_id"]),
    )
    districts = None
    if level == 2 and boundaries:
        from forecast.geo.districts import district_layer

        districts = district_layer(boundaries, unit_table, country, cache_dir=boundaries_cache)
    counts = None
    if source in COUNT_SOURCES:
        counts, events = events, pd.DataFrame({column: pd.Series(dtype=dtype) for column, dtype in _EVENT_DTYPES.items()})
    return Dataset(
        country=country,
        counts=counts,
        units=unit_table,
        level=level,
        districts=districts,
        events=events,
        panel=panel,
        source=source,
        label=label,
        synthetic=source == "synthetic",
        freq=freq,
        as_of=as_of_ts,
        input_sha256=sha,
        actor=actor,
        events_path=None if events_path is None else str(events_path),
        scenario=scenario,
        ingest_summary=summary,
        notes=reader_notes + notes,
    )


def _published_until(path: str | Path) -> pd.Timestamp | None:
    """The day a downloaded count file was last updated (its sidecar's ``last_modified``), if recorded.

    HDX updates ACLED's monthly counts during the month, so the month a file
    was updated in is only partly counted: cut there, a half-counted month
    never looks like a drop.
    """
    from forecast.files import read_sidecar

    stamp = (read_sidecar(path) or {}).get("last_modified")
    if not stamp:
        return None
    try:
        day = pd.Timestamp(str(stamp))
    except (ValueError, TypeError):
        return None
    return (day.tz_convert(None) if day.tzinfo else day).normalize() - pd.Timedelta(days=1)


# An empty event table with the canonical types (count sources have no events).
_EVENT_DTYPES = {"event_id": object, "source": object, "date": "datetime64[ns]", "date_precision": object,
                 "country_iso3": object, "admin1_code": object, "admin1_name": object, "admin2_name": object,
                 "latitude": float, "longitude": float, "actor": object, "actor_raw": object, "event_type": object,
                 "fatalities_low": float, "fatalities_best": float, "fatalities_high": float}
