"""Province boundaries for maps: download, cache, load, or a schematic fallback.

Full-resolution geometry is never committed to the project. Boundaries come
from one of four places, in this order of preference:

``"user"``
    A file the user names (``--boundaries PATH``): any GeoJSON, shapefile or
    GeoPackage with a name or code column, matched to units by the gazetteer.
``"cached"``
    geoBoundaries' simplified ADM1 GeoJSON (public domain), downloaded once by
    ``forecast fetch boundaries AFG`` into ``data/raw/boundaries/`` with a
    provenance sidecar; later runs read the cache and make no request.
``"shipped"``
    Offline with nothing cached: the simplified geoBoundaries polygons shipped
    with the gazetteer (``geo/tables/<ISO3>_provinces_simplified.geojson``,
    public domain, derived by ``scripts/build_gazetteer.py``), for countries
    that have them (Afghanistan).
``"schematic"``
    A country without shipped geometry, nothing cached: maps still draw, one
    cell per province around its gazetteer centroid (Voronoi cells clipped to the buffered hull of the
    centroids). Every map that uses it says so (:data:`SCHEMATIC_NOTE`).

:func:`load_boundaries` never goes online, so a report on a machine that never
had a network still renders; only :func:`fetch_boundaries` downloads.

The returned GeoDataFrame has columns ``unit_id`` and ``geometry`` (EPSG:4326),
one row per unit, and records where it came from in
``frame.attrs["boundary_kind"]`` and ``frame.attrs["boundary_source"]``, which
:mod:`forecast.viz.maps` reads to label the map.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from forecast.data.download import DownloadSettings, download, request_json, write_download_sidecar
from forecast.errors import DownloadError, InputError, ParameterError
from forecast.files import read_sidecar, sha256_file

if TYPE_CHECKING:  # geopandas is heavy; import it where boundaries are actually built
    import geopandas as gpd

    from forecast.geo.gazetteer import Gazetteer

logger = logging.getLogger(__name__)

#: geoBoundaries' metadata API; it answers with JSON naming the file URLs.
GEOBOUNDARIES_API = "https://www.geoboundaries.org/api/current/gbOpen/{iso3}/ADM{level}/"
#: Licence recorded when the API does not state one (gbOpen is public domain or open).
GEOBOUNDARIES_LICENCE = "geoBoundaries gbOpen: public domain / open licence as stated by the API"
#: The citation geoBoundaries asks for.
GEOBOUNDARIES_ATTRIBUTION = (
    "Runfola, D. et al. (2020) geoBoundaries: A global database of political administrative "
    "boundaries. PLoS ONE 15(4): e0231866"
)

USER = "user"
CACHED = "cached"
SHIPPED = "shipped"
SCHEMATIC = "schematic"
BOUNDARY_KINDS = (USER, CACHED, SHIPPED, SCHEMATIC)

#: Where a map drawn on the shipped geometry says its borders come from.
SHIPPED_SOURCE = "boundaries: geoBoundaries ADM1 (public domain), simplified"

#: The label every map drawn on schematic cells carries.
SCHEMATIC_NOTE = "Schematic layout, not real boundaries: one cell around each province centroid"

# Degrees around the outermost centroids that the schematic hull extends, so
# border provinces get cells of a plausible size instead of slivers.
_SCHEMATIC_BUFFER_DEG = 1.0


@dataclass(frozen=True)
class BoundaryFile:
    """A boundary file on disk and where it came from.

    Attributes
    ----------
    path
        The GeoJSON file under ``<raw_dir>/boundaries/``.
    sha256
        Hex sha256 of the file.
    url
        Where it was downloaded from.
    from_cache
        True when no request was made because the file was already there.
    """

    path: Path
    sha256: str
    url: str
    from_cache: bool


def boundary_cache_path(country: str, level: int = 1, raw_dir: str | Path = "data/raw") -> Path:
    """Where the downloaded boundaries of ``country`` at admin ``level`` are kept.

    Examples
    --------
    >>> boundary_cache_path("afg", 1, "data/raw").as_posix()
    'data/raw/boundaries/AFG_ADM1.geojson'
    """
    return Path(raw_dir) / "boundaries" / f"{country.upper()}_ADM{int(level)}.geojson"


def _hand_download_hint(iso3: str, level: int, path: Path) -> str:
    return (
        f"download the ADM{level} GeoJSON for {iso3} by hand from https://www.geoboundaries.org "
        f"and save it as {path}, or pass --boundaries PATH (any GeoJSON/shapefile with a province "
        "name or code column); maps use the shipped simplified geometry (or a schematic) meanwhile"
    )


def _count_features(path: Path, url: str, hint: str) -> int:
    """The number of features in the GeoJSON file ``path`` downloaded from ``url``; raise if it has none."""
    try:
        geojson = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DownloadError(
            f"{url} did not return GeoJSON ({exc.__class__.__name__}: {exc}); {hint}"
        ) from None
    if not isinstance(geojson, dict) or not geojson.get("features"):
        raise DownloadError(f"{url} is not a GeoJSON FeatureCollection with features; {hint}")
    return len(geojson["features"])


#: The deepest administrative level geoBoundaries publishes (ADM0 to ADM5).
MAX_ADMIN_LEVEL = 5


def fetch_boundaries(
    country: str,
    level: int = 1,
    *,
    raw_dir: str | Path = "data/raw",
    api_url_template: str = GEOBOUNDARIES_API,
    timeout: float = 30,
    retries: int = 3,
    backoff: float = 1.0,
    force: bool = False,
) -> BoundaryFile:
    """Download geoBoundaries' simplified ADM GeoJSON once; later calls use the cache.

    The API at ``api_url_template`` answers with JSON whose
    ``simplifiedGeometryGeoJSON`` (else ``gjDownloadURL``) field is the file's
    URL. The file is written to a temporary name and renamed into
    ``<raw_dir>/boundaries/<ISO3>_ADM<level>.geojson``, beside a
    ``.meta.json`` sidecar with the URLs, sha256, fetch time, source and
    licence.

    Parameters
    ----------
    country
        ISO 3166-1 alpha-3 code.
    level
        Administrative level (1 = provinces).
    raw_dir
        The raw-data folder; the file goes into its ``boundaries/`` folder.
    api_url_template
        API URL with ``{iso3}`` and ``{level}`` fields (a mirror, or a test server).
    timeout
        Seconds per request.
    retries
        Attempts per request; network errors, timeouts and HTTP 5xx/408/429
        are retried with exponential ``backoff`` seconds, other HTTP 4xx is not
        (the retry policy of :mod:`forecast.data.download`).
    backoff
        First wait between attempts, in seconds.
    force
        Download again even when a cached copy exists.

    Returns
    -------
    BoundaryFile

    Raises
    ------
    DownloadError
        Offline, HTTP error, an answer that is not the expected JSON, or a
        cached file whose sha256 no longer matches its sidecar. The message
        names the URL (or file) and what to do.
    """
    iso3 = country.upper()
    import pycountry

    if pycountry.countries.get(alpha_3=iso3) is None:
        # Checked before any request: a typo should not cost three network retries.
        raise ParameterError(f"'{country}' is not an ISO 3166-1 alpha-3 country code (e.g. AFG)")
    if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= MAX_ADMIN_LEVEL:
        raise ParameterError(f"--level {level!r} is not an administrative level geoBoundaries publishes; "
                             f"use 0 (country) to {MAX_ADMIN_LEVEL}, e.g. --level 1 for provinces")
    destination = boundary_cache_path(iso3, level, raw_dir)
    hint = _hand_download_hint(iso3, level, destination)

    if destination.exists() and not force:
        meta = read_sidecar(destination) or {}
        digest = sha256_file(destination)
        recorded = meta.get("sha256")
        if recorded and recorded != digest:
            raise DownloadError(
                f"sha256 {digest[:12]}… differs from the {recorded[:12]}… recorded in its sidecar; "
                "the file changed after download: delete it and run `forecast fetch boundaries "
                f"{iso3} --force`",
                path=destination,
            )
        logger.info("boundaries for %s ADM%d from cache %s", iso3, level, destination)
        return BoundaryFile(destination, digest, str(meta.get("url", "")), from_cache=True)

    # ``retries`` counts attempts here; DownloadSettings counts the attempts after the first.
    settings = DownloadSettings(timeout=timeout, retries=max(0, int(retries) - 1), backoff=backoff)
    api_url = api_url_template.format(iso3=iso3, level=int(level))
    meta_answer = request_json(api_url, settings=settings, hint=hint)
    # The API answers with one record, or a list of records when asked for several levels.
    if isinstance(meta_answer, list):
        meta_answer = meta_answer[0] if meta_answer else {}
    if not isinstance(meta_answer, dict):
        meta_answer = {}
    file_url = meta_answer.get("simplifiedGeometryGeoJSON") or meta_answer.get("gjDownloadURL")
    if not file_url:
        raise DownloadError(
            f"{api_url} answered without a 'simplifiedGeometryGeoJSON' or 'gjDownloadURL' field; {hint}"
        )

    features = 0

    def verify(path: Path) -> None:
        nonlocal features
        features = _count_features(path, file_url, hint)

    digest = download(file_url, destination, settings=settings, verify=verify, hint=hint).sha256
    write_download_sidecar(
        destination,
        source="geoBoundaries (www.geoboundaries.org), simplified geometry",
        url=file_url,
        version=meta_answer.get("buildDate"),
        licence=meta_answer.get("boundaryLicense") or GEOBOUNDARIES_LICENCE,
        attribution=[GEOBOUNDARIES_ATTRIBUTION],
        api_url=api_url,
        country=iso3,
        level=int(level),
        features=features,
        **{
            key: meta_answer[key]
            for key in ("boundaryID", "boundarySource", "boundaryYearRepresented", "buildDate")
            if key in meta_answer
        },
    )
    logger.info(
        "downloaded boundaries for %s ADM%d from %s to %s", iso3, level, file_url, destination
    )
    return BoundaryFile(destination, digest, file_url, from_cache=False)


def _tag(frame: gpd.GeoDataFrame, kind: str, source: str) -> gpd.GeoDataFrame:
    frame.attrs["boundary_kind"] = kind
    frame.attrs["boundary_source"] = source
    return frame


def read_vector_file(path: str | Path) -> gpd.GeoDataFrame:
    """Read a GeoJSON/shapefile/GeoPackage as it is, or raise an :class:`InputError` naming the file and the fix."""
    import geopandas as gpd

    path = Path(path)
    if not path.exists():
        raise InputError(
            "boundary file not found; pass an existing GeoJSON/shapefile to --boundaries, "
            "or run `forecast fetch boundaries`",
            path=path,
        )
    if path.is_dir() and not any(path.glob("*.shp")):
        raise InputError("is a folder without a shapefile; give a GeoJSON, shapefile or GeoPackage", path=path)
    try:
        frame = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several types; all mean "not a readable vector file"
        raise InputError(
            f"cannot read as GeoJSON/shapefile ({exc.__class__.__name__}: {exc}); "
            "give a GeoJSON, shapefile (.shp with .shx/.dbf) or GeoPackage",
            path=path,
        ) from exc
    # GDAL reads a CSV as a table without geometry: that is not a boundary file.
    geometry = getattr(frame, "_geometry_column_name", None)
    if not isinstance(frame, gpd.GeoDataFrame) or geometry is None or geometry not in frame.columns:
        raise InputError(
            "holds no geometry (a plain table such as a CSV?); give province boundaries as a GeoJSON, "
            "shapefile or GeoPackage, e.g. from `forecast fetch boundaries`",
            path=path,
        )
    if frame.empty:
        raise InputError("holds no shapes; give province boundaries", path=path)
    return frame


def read_boundary_file(
    path: str | Path,
    gazetteer: Gazetteer,
    *,
    column: str | None = None,
) -> gpd.GeoDataFrame:
    """Read any GeoJSON/shapefile/GeoPackage and match its rows to units.

    Geometries are repaired (``make_valid``), reprojected to EPSG:4326 and
    dissolved so each unit has one row.

    Parameters
    ----------
    path
        The boundary file.
    gazetteer
        Matches the name or code column to ``unit_id``.
    column
        The name or code column; ``None`` lets the gazetteer find it.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``unit_id, geometry``, sorted by ``unit_id``.
    """
    import geopandas as gpd
    import shapely

    path = Path(path)
    frame = read_vector_file(path)
    if frame.empty:
        raise InputError("boundary file has no features", path=path)
    if frame.crs is None:
        frame = frame.set_crs(4326)  # GeoJSON without a CRS is WGS84 by specification
    elif frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(4326)
    frame["geometry"] = shapely.make_valid(frame.geometry.values)

    matched = gazetteer.match_boundaries(frame, column=column)
    matched = matched.loc[:, ["unit_id", "geometry"]]
    # Several rows per unit (multi-part exports, enclaves) become one shape per unit.
    dissolved = matched.dissolve(by="unit_id", as_index=False).sort_values("unit_id")
    return gpd.GeoDataFrame(dissolved.reset_index(drop=True), geometry="geometry", crs=4326)


def schematic_boundaries(gazetteer: Gazetteer) -> gpd.GeoDataFrame:
    """One cell per unit around its centroid: the offline fallback layout.

    Voronoi cells of the gazetteer centroids, clipped to the convex hull of the
    centroids buffered by one degree. Longitudes are scaled by the cosine of
    the mean latitude first, so cells are not stretched east-west. The shapes
    keep the provinces' relative positions and rough neighbourhoods, nothing
    more: every map drawn on them says "schematic".

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``unit_id, geometry`` (EPSG:4326), tagged ``boundary_kind="schematic"``.
    """
    import geopandas as gpd
    import shapely
    from shapely import affinity

    units = gazetteer.units.loc[:, ["unit_id", "latitude", "longitude"]].dropna()
    if len(units) < 2:
        raise InputError(
            f"the gazetteer has {len(units)} unit(s) with a centroid; a schematic map needs at least 2"
        )
    scale = float(np.cos(np.deg2rad(units["latitude"].mean())))
    points = shapely.points(units["longitude"].to_numpy() * scale, units["latitude"].to_numpy())
    hull = shapely.convex_hull(shapely.multipoints(points)).buffer(_SCHEMATIC_BUFFER_DEG)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(points), extend_to=hull))
    # voronoi_polygons does not promise input order: give each point the cell containing it.
    cell_of = shapely.STRtree(cells)
    geometries = []
    for point in points:
        hits = [cells[i] for i in cell_of.query(point, predicate="intersects")]
        cell = hits[0].intersection(hull) if hits else point.buffer(0.3)
        geometries.append(affinity.scale(cell, xfact=1 / scale, yfact=1.0, origin=(0, 0)))
    frame = gpd.GeoDataFrame(
        {"unit_id": units["unit_id"].astype(str).to_numpy()}, geometry=geometries, crs=4326
    )
    frame = frame.sort_values("unit_id").reset_index(drop=True)
    return _tag(
        frame,
        SCHEMATIC,
        f"schematic cells from the {gazetteer_label(gazetteer)} gazetteer centroids",
    )


def shipped_boundaries_file(country: str) -> Path | None:
    """The simplified province geometry shipped for ``country`` (ISO3), or ``None``.

    Examples
    --------
    >>> shipped_boundaries_file("AFG").name
    'AFG_provinces_simplified.geojson'
    >>> shipped_boundaries_file("FRA") is None
    True
    """
    from importlib import resources

    from forecast.geo.gazetteer import DATA_DIR, DATA_PACKAGE

    resource = resources.files(DATA_PACKAGE).joinpath(
        DATA_DIR, f"{country.upper()}_provinces_simplified.geojson"
    )
    # The package is installed from a folder (never zipped), so the resource is a real file.
    path = Path(str(resource))
    return path if path.is_file() else None


def shipped_boundaries(gazetteer: Gazetteer) -> gpd.GeoDataFrame | None:
    """The shipped simplified polygons of the gazetteer's units, or ``None`` when none are shipped.

    Units the file lacks are left out; :func:`default_boundaries` gives them schematic cells.

    Returns
    -------
    geopandas.GeoDataFrame or None
        Columns ``unit_id, geometry`` (EPSG:4326), tagged ``boundary_kind="shipped"``.
    """
    import geopandas as gpd

    path = shipped_boundaries_file(gazetteer_label(gazetteer))
    if path is None:
        return None
    frame = gpd.read_file(path)
    if frame.crs is None:
        frame = frame.set_crs(4326)
    frame = frame.loc[frame["unit_id"].isin(set(gazetteer.units["unit_id"])), ["unit_id", "geometry"]]
    if frame.empty:
        return None
    frame = gpd.GeoDataFrame(
        frame.sort_values("unit_id").reset_index(drop=True), geometry="geometry", crs=4326
    )
    return _tag(frame, SHIPPED, SHIPPED_SOURCE)


def default_boundaries(gazetteer: Gazetteer) -> gpd.GeoDataFrame:
    """Offline boundaries: the shipped geometry where there is some, schematic cells elsewhere.

    A gazetteer whose units all have shipped geometry gets it (kind
    ``"shipped"``); one with none gets the schematic layout. Units missing
    from a shipped file would need cells that overlap real borders, so then
    the whole map is schematic: a map never mixes the two.
    """
    shipped = shipped_boundaries(gazetteer)
    if shipped is not None and set(shipped["unit_id"]) >= set(gazetteer.units["unit_id"]):
        return shipped
    if shipped is not None:
        logger.info("shipped boundaries lack some units: drawing the schematic layout")
    return schematic_boundaries(gazetteer)


def gazetteer_label(gazetteer: Gazetteer) -> str:
    """A short name for the gazetteer (its country code when it has one)."""
    for attribute in ("country_iso3",):
        value = getattr(gazetteer, attribute, None)
        if isinstance(value, str) and value:
            return value
    return "project"


def _several_countries(
    gazetteer: Gazetteer, raw_dir: str | Path, level: int, column: str | None
) -> tuple[gpd.GeoDataFrame, str]:
    """A panel of several countries: each country's cached or shipped geometry, else the schematic.

    Real polygons of every country (a download such as ``forecast fetch
    boundaries PAK``, or the shipped Afghan file) are drawn together; when one
    country has none, the whole map is the schematic layout over all units,
    since real borders beside schematic cells would overlap (a map never mixes the two).
    """
    import geopandas as gpd
    import pandas as pd

    frames, kinds = [], []
    for iso3 in gazetteer.countries:
        own = gazetteer.country_gazetteer(iso3)
        cached = boundary_cache_path(iso3, level, raw_dir)
        if cached.exists():
            frames.append(read_boundary_file(cached, own, column=column))
            kinds.append(CACHED)
            continue
        shipped = shipped_boundaries(own)
        if shipped is None or not set(shipped["unit_id"]) >= set(own.unit_ids):
            logger.info("no geometry for %s: drawing the schematic layout of %s", iso3, gazetteer.country_iso3)
            frame = schematic_boundaries(gazetteer)
            return frame, SCHEMATIC
        frames.append(shipped)
        kinds.append(SHIPPED)
    frame = gpd.GeoDataFrame(
        pd.concat(frames, ignore_index=True).sort_values("unit_id", ignore_index=True), geometry="geometry", crs=4326
    )
    kind = CACHED if CACHED in kinds else SHIPPED
    source = "; ".join(
        f"{iso3}: " + ("geoBoundaries download (public domain)" if k == CACHED else SHIPPED_SOURCE)
        for iso3, k in zip(gazetteer.countries, kinds, strict=True)
    )
    return _tag(frame, kind, source), kind


def load_boundaries(
    country: str,
    path: str | Path | None = None,
    raw_dir: str | Path = "data/raw",
    *,
    level: int = 1,
    gazetteer: Gazetteer | None = None,
    column: str | None = None,
) -> tuple[gpd.GeoDataFrame, str]:
    """Boundaries for maps: the user's file, else the cached download, else the shipped geometry, else the schematic.

    Never goes online (see :func:`fetch_boundaries` for that), so it works on a
    machine that never had a network.

    Parameters
    ----------
    country
        ISO3 code; selects the cache file and, when ``gazetteer`` is ``None``,
        the gazetteer.
    path
        A user boundary file (``--boundaries PATH``); overrides the cache.
    raw_dir
        The raw-data folder holding ``boundaries/<ISO3>_ADM<level>.geojson``.
    level
        Administrative level of the cached file.
    gazetteer
        Matches names/codes to units and supplies centroids for the schematic.
    column
        Name or code column of ``path``; ``None`` lets the gazetteer find it.

    Returns
    -------
    (geopandas.GeoDataFrame, str)
        Columns ``unit_id, geometry`` (EPSG:4326), and the kind:
        ``"user"``, ``"cached"``, ``"shipped"`` or ``"schematic"`` (also in
        ``frame.attrs["boundary_kind"]``).
    """
    if gazetteer is None:
        from forecast.geo.gazetteer import Gazetteer

        gazetteer = Gazetteer.load(country.upper())
    if path is not None:
        frame = read_boundary_file(path, gazetteer, column=column)
        return _tag(frame, USER, f"boundaries from {Path(path).name}"), USER

    if len(getattr(gazetteer, "countries", [country])) > 1:
        return _several_countries(gazetteer, raw_dir, level, column)

    cached = boundary_cache_path(country, level, raw_dir)
    if cached.exists():
        frame = read_boundary_file(cached, gazetteer, column=column)
        return _tag(frame, CACHED, "boundaries: geoBoundaries (public domain)"), CACHED

    logger.info("no boundaries at %s and none given: using the shipped geometry if any", cached)
    frame = default_boundaries(gazetteer)
    return frame, frame.attrs["boundary_kind"]
