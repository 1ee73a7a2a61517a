"""Gazetteer facts derived from boundary geometry, and the gazetteer of any boundary layer.

The functions here turn polygons into the facts a :class:`~forecast.geo.gazetteer.Gazetteer`
holds: area centroids, which units border each other, seeded interior points,
the simplified shipped geometry, ISO 3166-2 codes from pycountry. The shipped
Afghanistan tables are built from them by ``scripts/build_gazetteer.py``;
:func:`gazetteer_from_boundaries` builds the same kind of tables at run time
from any GeoJSON, shapefile or GeoPackage layer, one country or several in one
layer, and caches them as derived tables keyed by the source file's sha256.

Adjacency of a run-time layer is Queen contiguity (libpysal: any shared point
of the boundary), computed over the whole layer, so units on both sides of a
country border are neighbours when their polygons touch. A unit with no
contiguous neighbour (an island) is linked to the unit nearest to it (polygon
to polygon distance), so no unit is cut off from the spread terms; those pairs
are marked ``basis = "nearest"``.

Examples
--------
>>> import geopandas as gpd, shapely
>>> squares = gpd.GeoDataFrame({"id": ["a", "b", "c"]}, crs=4326,
...     geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1), shapely.box(5, 0, 6, 1)])
>>> contiguity_pairs(squares.geometry, squares["id"]).values.tolist()
[['a', 'b', 'contiguity'], ['b', 'a', 'contiguity'], ['b', 'c', 'nearest'], ['c', 'b', 'nearest']]
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from forecast.errors import InputError, ParameterError, UnknownUnitError
from forecast.files import sha256_file, write_json_atomic, write_text_atomic
from forecast.geo.gazetteer import Gazetteer, normalise_name

if TYPE_CHECKING:  # geopandas is slow to import; the CLI must start fast
    import geopandas as gpd

__all__ = [
    "EQUAL_AREA_CRS",
    "LayerGazetteer",
    "area_centroids",
    "border_pairs",
    "contiguity_pairs",
    "country_iso3",
    "gazetteer_from_boundaries",
    "interior_points",
    "iso_subdivisions",
    "simplified_geojson",
    "repair_polygons",
    "write_table",
]

#: Global equal-area projection (WGS 84 / EASE-Grid 2.0, cylindrical): x is
#: linear in longitude and y depends on latitude only, so an area centroid's
#: longitude is the area-weighted mean longitude. Not for layers that cross
#: the antimeridian.
EQUAL_AREA_CRS = "EPSG:6933"
#: Default seed of the interior points (the shipped tables use it too).
DEFAULT_SEED = 20210101
POINTS_PER_UNIT = 25
#: Points are kept this many degrees inside their unit's border.
POINT_INSET_DEG = 0.05
#: Units an island's nearest neighbour is chosen among (the closest in the equal-area map).
FALLBACK_CANDIDATES = 8
#: Version of the derived-table layout; a change recomputes every cache.
CACHE_VERSION = 1

UNIT_TABLE_COLUMNS = [
    "country",
    "unit_id",
    "pcode",
    "name",
    "name_local",
    "region",
    "iso3166_2",
    "latitude",
    "longitude",
    "population",
]


# --------------------------------------------------------------------------- geometry facts


def area_centroids(geometry: gpd.GeoSeries, crs: str = EQUAL_AREA_CRS) -> gpd.GeoSeries:
    """Centroids computed in the equal-area projection ``crs``, returned in WGS84.

    Parameters
    ----------
    geometry
        Polygons with a CRS.
    crs
        The equal-area projection to compute in (default :data:`EQUAL_AREA_CRS`).

    Returns
    -------
    geopandas.GeoSeries
        Points in EPSG:4326, same index.
    """
    return geometry.to_crs(crs).centroid.to_crs("EPSG:4326")


def border_pairs(
    geometry: gpd.GeoSeries,
    ids: Sequence[str],
    *,
    crs: str,
    tolerance_m: float = 50.0,
    min_border_m: float = 100.0,
) -> pd.DataFrame:
    """Unit pairs whose common border is at least ``min_border_m`` long, both directions.

    A stricter rule than Queen contiguity ("rook" by length): a corner contact
    does not count. Borders are measured in the projection ``crs`` (metres),
    each polygon's boundary within ``tolerance_m`` of the other.

    Returns
    -------
    pandas.DataFrame
        ``unit_id, neighbour_id``, sorted.
    """
    geometries = geometry.to_crs(crs).to_numpy()
    codes = np.asarray(list(ids), dtype=object)
    pairs = []
    for i, j in itertools.combinations(range(len(geometries)), 2):
        a, b = geometries[i], geometries[j]
        if not a.buffer(tolerance_m).intersects(b):
            continue
        shared = a.boundary.intersection(b.buffer(tolerance_m)).length
        if shared >= min_border_m:
            pairs.append((codes[i], codes[j]))
            pairs.append((codes[j], codes[i]))
    return pd.DataFrame(pairs, columns=["unit_id", "neighbour_id"]).sort_values(
        ["unit_id", "neighbour_id"], ignore_index=True
    )


def contiguity_pairs(
    geometry: gpd.GeoSeries,
    ids: Sequence[str],
    *,
    snap_m: float = 0.0,
    fallback: bool = True,
) -> pd.DataFrame:
    """Queen-contiguous unit pairs (libpysal), with the nearest unit for units that have none.

    Parameters
    ----------
    geometry
        Polygons with a CRS, one per unit.
    ids
        Unit ids in the order of ``geometry``.
    snap_m
        When positive, polygons closer than this (metres, in
        :data:`EQUAL_AREA_CRS`) also count as touching: for layers joined from
        files whose common borders do not coincide exactly.
    fallback
        Link every unit without a contiguous neighbour (an island) to its
        nearest unit, by polygon-to-polygon distance measured in an azimuthal
        equidistant projection centred on the island (ties: smallest id).

    Returns
    -------
    pandas.DataFrame
        ``unit_id, neighbour_id, basis`` (``"contiguity"`` or ``"nearest"``),
        both directions, sorted by ``unit_id, neighbour_id``.
    """
    from libpysal.graph import Graph

    codes = [str(i) for i in ids]
    frame = geometry.reset_index(drop=True)
    if snap_m > 0:
        graph = Graph.build_fuzzy_contiguity(frame.to_crs(EQUAL_AREA_CRS), buffer=snap_m / 2)
    else:
        graph = Graph.build_contiguity(frame, rook=False, strict=False)
    links = graph.adjacency.reset_index()
    links = links[(links["weight"] > 0) & (links["focal"] != links["neighbor"])]
    pairs = {
        (codes[int(a)], codes[int(b)])
        for a, b in zip(links["focal"], links["neighbor"], strict=True)
    }
    pairs |= {(b, a) for a, b in pairs}
    rows = [(a, b, "contiguity") for a, b in pairs]
    if fallback and len(codes) > 1:
        connected = {a for a, _ in pairs}
        projected = frame.to_crs(EQUAL_AREA_CRS)
        centroids = projected.centroid.to_crs("EPSG:4326")
        for k, code in enumerate(codes):
            if code in connected:
                continue
            # Candidates by distance in the equal-area map (cheap, distorted away from the
            # equator), then the exact choice among them in a projection centred on the island.
            rough = projected.distance(projected.iloc[k]).to_numpy(dtype=float, copy=True)
            rough[k] = np.inf
            candidates = [
                j for j in np.argsort(rough, kind="stable")[:FALLBACK_CANDIDATES] if j != k
            ]
            centre = centroids.iloc[k]
            local = frame.iloc[[k, *candidates]].to_crs(
                f"+proj=aeqd +lat_0={centre.y!r} +lon_0={centre.x!r} +datum=WGS84 +units=m +no_defs"
            )
            distance = local.iloc[1:].distance(local.iloc[0]).to_numpy(dtype=float)
            nearest = min(range(len(candidates)), key=lambda j: (distance[j], codes[candidates[j]]))
            other = codes[candidates[nearest]]
            rows.append((code, other, "nearest"))
            if (other, code) not in pairs:
                rows.append((other, code, "nearest"))
    table = pd.DataFrame(rows, columns=["unit_id", "neighbour_id", "basis"])
    # An island whose nearest unit is also an island gives the same pair twice.
    table = table.drop_duplicates(["unit_id", "neighbour_id"])
    return table.sort_values(["unit_id", "neighbour_id"], ignore_index=True)


def interior_points(
    geometry: gpd.GeoSeries,
    ids: Sequence[str],
    streams: Sequence[int],
    *,
    n: int = POINTS_PER_UNIT,
    seed: int = DEFAULT_SEED,
    inset_deg: float = POINT_INSET_DEG,
) -> pd.DataFrame:
    """``n`` uniform (in degrees) random points inside each unit's inset polygon.

    Each unit gets its own random stream ``(seed, streams[k])``, so adding or
    reordering units does not move the others' points. A unit too small for
    the inset gets ``n`` copies of a representative point.

    Parameters
    ----------
    geometry
        Polygons in EPSG:4326.
    ids, streams
        Unit id and random stream number of each polygon.
    n, seed, inset_deg
        Points per unit, seed, and how far inside the border (degrees).

    Returns
    -------
    pandas.DataFrame
        ``unit_id, latitude, longitude`` (rounded to 1e-5), sorted by ``unit_id`` (stable).

    Raises
    ------
    InputError
        A rounded point fell outside its unit (an inset too small for the geometry).
    """
    import shapely

    frames = []
    for unit_id, shape, stream in zip(ids, geometry, streams, strict=True):
        # Buffering in degrees on purpose: the inset only keeps points off
        # the border so that rounding and small boundary differences cannot
        # push them into a neighbour.
        inset = shape.buffer(-inset_deg)
        if inset.is_empty:
            point = shape.representative_point()
            lon, lat = np.full(n, point.x), np.full(n, point.y)
        else:
            rng = np.random.default_rng([seed, int(stream)])
            minx, miny, maxx, maxy = inset.bounds
            lon_list: list[float] = []
            lat_list: list[float] = []
            while len(lon_list) < n:
                x = rng.uniform(minx, maxx, 4 * n)
                y = rng.uniform(miny, maxy, 4 * n)
                inside = shapely.contains_xy(inset, x, y)
                lon_list.extend(x[inside])
                lat_list.extend(y[inside])
            lon, lat = np.array(lon_list[:n]), np.array(lat_list[:n])
        frames.append(
            pd.DataFrame({"unit_id": unit_id, "latitude": lat.round(5), "longitude": lon.round(5)})
        )
    points = pd.concat(frames, ignore_index=True)
    # Rounding moves a point by at most ~1 m; the inset absorbs it.
    shapes = dict(zip(ids, geometry, strict=True))
    inside = [
        shapes[u].contains(shapely.Point(x, y))
        for u, x, y in zip(points["unit_id"], points["longitude"], points["latitude"], strict=True)
    ]
    if not all(inside):
        raise InputError("an interior point fell outside its unit; use a larger inset")
    return points.sort_values("unit_id", kind="stable", ignore_index=True)


def simplified_geojson(
    geometry: gpd.GeoSeries,
    ids: Sequence[str],
    names: Mapping[str, str],
    *,
    attribution: str,
    tolerance_deg: float,
    grid_deg: float,
    max_bytes: int,
) -> str:
    """The polygons simplified as one coverage, as GeoJSON text: ``unit_id``, ``name``, geometry.

    Simplified as one coverage (``shapely.coverage_simplify``), so a border
    shared by two units is simplified once and stays shared: no gaps or
    overlaps appear between neighbours. Rounding goes through
    ``shapely.set_precision``, which keeps polygons valid; shared vertices
    round alike, so the coverage survives it. One feature per line, sorted by
    ``unit_id``, so diffs of a rebuild stay readable.

    Raises
    ------
    InputError
        A simplified polygon is empty or invalid, or the text exceeds ``max_bytes``.
    """
    import shapely

    geometries = shapely.coverage_simplify(geometry.to_numpy(), tolerance_deg)
    geometries = shapely.set_precision(geometries, grid_deg)
    geometries = shapely.make_valid(geometries)
    features = []
    for unit_id, shape in zip(ids, geometries, strict=True):
        if shape.is_empty or not shape.is_valid or shape.area <= 0:
            raise InputError(f"{unit_id}: simplified geometry is empty or invalid")
        features.append(
            {
                "type": "Feature",
                "properties": {"unit_id": unit_id, "name": names[unit_id]},
                "geometry": json.loads(shapely.to_geojson(shape)),
            }
        )
    features.sort(key=lambda f: f["properties"]["unit_id"])
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in features]
    head = json.dumps(
        {"type": "FeatureCollection", "attribution": attribution},
        ensure_ascii=False,
        separators=(",", ":"),
    )[:-1]
    text = head + ',"features":[\n' + ",\n".join(lines) + "\n]}\n"
    size = len(text.encode("utf-8"))
    if size > max_bytes:
        raise InputError(f"simplified geometry is {size} bytes, over {max_bytes}")
    return text


def write_table(frame: pd.DataFrame, path: str | Path, attribution: str) -> Path:
    """Write a CSV atomically with one ``#`` attribution line on top (the loaders skip ``#`` lines)."""
    body = frame.to_csv(index=False, lineterminator="\n")
    return write_text_atomic(path, f"# {attribution}\n{body}")


def _read_table(path: Path) -> pd.DataFrame:
    text = path.read_text(encoding="utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    # keep_default_na=False: a name or code such as "NA" must stay a string.
    return pd.read_csv(io.StringIO(body), dtype=str, keep_default_na=False)


# --------------------------------------------------------------------------- ISO 3166


def country_iso3(value: Any, *, where: str = "country") -> str:
    """ISO 3166-1 alpha-3 code of a code (alpha-2/3) or English name; InputError when unknown.

    Examples
    --------
    >>> country_iso3("pk"), country_iso3("Afghanistan")
    ('PAK', 'AFG')
    """
    import pycountry

    text = str(value).strip()
    try:
        return str(pycountry.countries.lookup(text).alpha_3)
    except LookupError:
        raise InputError(
            f"{where}: '{text}' is not an ISO 3166-1 country code or name; use e.g. AFG or PAK"
        ) from None


def iso_subdivisions(iso3: str) -> pd.DataFrame:
    """pycountry's ISO 3166-2 subdivisions of a country: ``code, name, type, key``.

    ``key`` is :func:`~forecast.geo.gazetteer.normalise_name` of the name, so
    "Nangarhār" and "Nangarhar province" meet.

    Examples
    --------
    >>> table = iso_subdivisions("AFG")
    >>> len(table), table.set_index("key").loc["nangarhar", "code"]
    (34, 'AF-NAN')
    """
    import pycountry

    alpha2 = pycountry.countries.get(alpha_3=iso3).alpha_2
    rows = [
        (s.code, s.name, s.type, normalise_name(s.name))
        for s in pycountry.subdivisions.get(country_code=alpha2) or []
    ]
    return pd.DataFrame(rows, columns=["code", "name", "type", "key"]).sort_values(
        "code", ignore_index=True
    )


def _match_iso(units: pd.DataFrame, iso3: str) -> pd.Series:
    """ISO 3166-2 code per unit where its id, code or name matches exactly one subdivision."""
    table = iso_subdivisions(iso3)
    by_code = {c.upper(): c for c in table["code"]}
    unique_keys = table.drop_duplicates("key", keep=False).set_index("key")["code"]
    found = []
    for unit_id, name, code in zip(units["unit_id"], units["name"], units["iso_hint"], strict=True):
        match = by_code.get(str(code).strip().upper()) or by_code.get(str(unit_id).strip().upper())
        found.append(match or unique_keys.get(normalise_name(name), ""))
    codes = pd.Series(found, index=units.index, dtype=object)
    # A code claimed by two units matches neither: the names were not specific enough.
    claimed = codes[codes != ""]
    codes[codes.isin(claimed[claimed.duplicated()])] = ""
    return codes


# --------------------------------------------------------------------------- the layer gazetteer


@dataclass(frozen=True, eq=False, repr=False)
class LayerGazetteer:
    """The units of a boundary layer: one :class:`Gazetteer` per country, adjacency across borders.

    Names resolve within a country (a "Khyber" in PAK is never an Afghan
    unit); adjacency runs over the whole layer.

    Attributes
    ----------
    units
        One row per unit: ``country`` (ISO3), ``unit_id``, ``pcode``, ``name``,
        ``name_local``, ``region``, ``iso3166_2`` (empty when pycountry has no
        match), ``latitude``, ``longitude`` (area centroid, WGS84),
        ``population`` (nullable; missing without a population table).
    aliases
        ``country, unit_id, alias, source``.
    adjacency
        ``unit_id, neighbour_id, basis``, both directions, cross-border pairs included.
    points
        ``unit_id, latitude, longitude``: seeded interior points.
    source, source_sha256
        The boundary file and its sha256.
    cache_dir
        Where the derived tables are (None when not cached).
    from_cache
        True when the tables were read from the cache, not recomputed.
    """

    units: pd.DataFrame
    aliases: pd.DataFrame
    adjacency: pd.DataFrame
    points: pd.DataFrame
    source: str
    source_sha256: str
    cache_dir: Path | None = None
    from_cache: bool = False
    _combined: Gazetteer = field(init=False, repr=False)
    _country_of: dict[str, str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # One Gazetteer of all the layer's countries: names per country, adjacency across borders.
        codes = sorted(self.units["country"].astype(str).unique())
        combined = Gazetteer(
            ",".join(codes),
            self.units.reset_index(drop=True),
            self.aliases,
            self.adjacency,
            self.points,
        )
        object.__setattr__(self, "_combined", combined)
        object.__setattr__(self, "_country_of", dict(zip(self.units["unit_id"], self.units["country"], strict=True)))

    def __repr__(self) -> str:
        return (
            f"LayerGazetteer({'+'.join(self.countries)}: {len(self.units)} units, "
            f"{len(self.adjacency) // 2} adjacent pairs, from {Path(self.source).name})"
        )

    @property
    def countries(self) -> list[str]:
        """ISO3 codes of the layer's countries, sorted."""
        return self._combined.countries

    @property
    def combined(self) -> Gazetteer:
        """All the layer's units as one :class:`Gazetteer` (names per country, adjacency across borders)."""
        return self._combined

    @property
    def unit_ids(self) -> list[str]:
        """All unit ids, sorted by country then id."""
        return self.units["unit_id"].tolist()

    def gazetteer(self, country: str | None = None) -> Gazetteer:
        """The :class:`Gazetteer` of one country (of the only one when ``country`` is None)."""
        if country is None:
            if len(self.countries) != 1:
                raise ParameterError(
                    f"the layer holds {', '.join(self.countries)}; name the country"
                )
            return self._combined.country_gazetteer(self.countries[0])
        try:
            iso3 = country_iso3(country)
        except InputError as exc:
            raise ParameterError(exc.detail) from None
        if iso3 not in self.countries:
            raise ParameterError(
                f"country {iso3} is not in {Path(self.source).name}; it holds {', '.join(self.countries)}"
            )
        return self._combined.country_gazetteer(iso3)

    def summary(self) -> str:
        """What the layer holds, for people: units per country, adjacency, cross-border pairs, islands.

        Examples
        --------
        See :func:`gazetteer_from_boundaries`.
        """
        country = dict(zip(self.units["unit_id"], self.units["country"], strict=True))
        pairs = self.adjacency[self.adjacency["unit_id"] < self.adjacency["neighbour_id"]]
        cross = pairs[[country[a] != country[b] for a, b in zip(pairs["unit_id"], pairs["neighbour_id"], strict=True)]]
        nearest = pairs[pairs["basis"] == "nearest"] if "basis" in pairs else pairs.iloc[:0]
        names = dict(zip(self.units["unit_id"], self.units["name"], strict=True))
        per_country = self.units.groupby("country").size()
        lines = [
            f"{Path(self.source).name} (sha256 {self.source_sha256[:12]}): "
            + ", ".join(f"{iso3} {n} units" for iso3, n in per_country.items())
            + f"; {len(pairs)} adjacent pairs"
            + ("" if self.cache_dir is None else f"; tables in {self.cache_dir}" + (" (cached)" if self.from_cache else "")),
        ]
        if len(cross):
            lines.append("across borders: " + ", ".join(f"{names[a]} ({country[a]}) - {names[b]} ({country[b]})"
                                                        for a, b in zip(cross["unit_id"], cross["neighbour_id"], strict=True)))
        if len(nearest):
            lines.append("no shared border, linked to the nearest unit: " + ", ".join(
                f"{names[a]} ({country[a]}) - {names[b]} ({country[b]})"
                for a, b in zip(nearest["unit_id"], nearest["neighbour_id"], strict=True)))
        missing = self.units["population"].isna().sum() if "population" in self.units else len(self.units)
        if missing:
            lines.append(f"{missing} of {len(self.units)} units have no population (pass a population table)")
        return "\n".join(lines)

    def resolve(self, name: str | None, country: str) -> str | None:
        """Unit id of ``name`` among ``country``'s units, or None."""
        return self.gazetteer(country).resolve(name)

    def resolve_names(self, names: pd.Series, countries: pd.Series | str) -> pd.Series:
        """Unit ids of names, each resolved within its row's country; missing where unknown."""
        names = pd.Series(names)
        countries = (
            pd.Series(countries, index=names.index)
            if isinstance(countries, str)
            else pd.Series(countries).set_axis(names.index)
        )
        out = pd.Series(None, index=names.index, dtype=object, name="unit_id")
        for country, rows in names.groupby(countries.map(country_iso3)):
            out.loc[rows.index] = self.gazetteer(str(country)).resolve_names(rows).astype(object)
        return out.astype(self.units["unit_id"].dtype)

    def neighbours(self, unit_id: str) -> list[str]:
        """Ids of the units adjacent to ``unit_id`` in any country, sorted."""
        if unit_id not in self._country_of:
            raise UnknownUnitError(f"'{unit_id}' is not a unit of {Path(self.source).name}")
        return self._combined.neighbours(unit_id)

    def adjacency_matrix(self, order: Iterable[str] | None = None) -> np.ndarray:
        """0/1 matrix over the whole layer (cross-border pairs included), rows in ``order``."""
        ids = self.unit_ids if order is None else list(order)
        unknown = [u for u in ids if u not in self._country_of]
        if unknown:
            raise UnknownUnitError(f"not units of {Path(self.source).name}: {unknown[:10]}")
        return self._combined.adjacency_matrix(ids)


def repair_polygons(geometries: Any) -> np.ndarray:
    """Invalid polygons repaired (``make_valid``), keeping only their polygonal parts.

    ``make_valid`` can turn a self-touching polygon into a collection of a
    polygon and a stray line (district398 has one such district); contiguity
    is defined on polygons, so the line is dropped.

    Examples
    --------
    >>> import shapely
    >>> bow = shapely.Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])  # a bow tie, invalid
    >>> [g.geom_type for g in repair_polygons([bow])], round(repair_polygons([bow])[0].area, 3)
    (['MultiPolygon'], 2.0)
    """
    import shapely

    repaired = shapely.make_valid(np.asarray(geometries, dtype=object))
    out = []
    for geometry in repaired:
        if geometry is not None and geometry.geom_type == "GeometryCollection":
            parts = [p for p in shapely.get_parts(geometry) if p.geom_type in ("Polygon", "MultiPolygon")]
            geometry = shapely.union_all(parts) if parts else geometry
        out.append(geometry)
    return np.asarray(out, dtype=object)


def _population_table(population: pd.DataFrame | pd.Series | str | Path) -> pd.Series:
    """``unit_id -> population`` from a Series, a frame or a CSV with columns ``unit_id, population``."""
    where = "population table"
    if isinstance(population, pd.Series):
        return population.astype("Int64")
    if isinstance(population, (str, Path)):
        where = str(population)
        try:
            population = pd.read_csv(population, dtype={"unit_id": str}, comment="#")
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read the population CSV ({exc})", path=where) from exc
    missing = [c for c in ("unit_id", "population") if c not in population.columns]
    if missing:
        raise InputError(
            f"lacks columns {missing}; give a CSV with columns unit_id,population", path=where
        )
    values = pd.to_numeric(population["population"], errors="coerce")
    bad = population.index[values.isna() | (values < 0)]
    if len(bad):
        raise InputError(
            f"population '{population.loc[bad[0], 'population']}' is not a count >= 0; fix the value",
            path=where,
            row=int(population.index.get_loc(bad[0])) + 1,
            column="population",
        )
    return pd.Series(
        values.round().astype("Int64").to_numpy(), index=population["unit_id"].astype(str)
    )


def _options_key(options: Mapping[str, Any]) -> str:
    text = json.dumps(options, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def gazetteer_from_boundaries(
    path: str | Path,
    *,
    id_column: str,
    name_column: str,
    country_column: str | None = None,
    country: str | None = None,
    iso_column: str | None = None,
    pcode_column: str | None = None,
    local_name_column: str | None = None,
    alias_columns: Sequence[str] = (),
    population: pd.DataFrame | pd.Series | str | Path | None = None,
    snap_m: float = 0.0,
    points_per_unit: int = POINTS_PER_UNIT,
    seed: int = DEFAULT_SEED,
    cache_dir: str | Path | None = None,
) -> LayerGazetteer:
    """Build a gazetteer at run time from a boundary layer (GeoJSON, shapefile, GeoPackage).

    Rows with the same id are dissolved into one unit. For each unit: the id
    and name from the given columns, the ISO 3166-2 code where pycountry's
    subdivisions match the unit's code or name (its pycountry name becomes an
    alias), the area centroid (:func:`area_centroids`), Queen contiguity over
    the whole layer with the nearest unit for islands
    (:func:`contiguity_pairs`), seeded interior points and, when a table is
    given, the population.

    Parameters
    ----------
    path
        The boundary file; any CRS (none means WGS84).
    id_column, name_column
        Columns holding each unit's id (unique across the layer) and English name.
    country_column
        Column with each row's country (ISO 3166-1 code or name): several
        countries in one layer. Without it, ``country`` names the one country.
    country
        The layer's country when there is no ``country_column``.
    iso_column, pcode_column, local_name_column
        Optional columns: an ISO 3166-2 code (geoBoundaries ``shapeISO``), a
        P-code, a local-language name.
    alias_columns
        Further columns whose values are other spellings of the unit.
    population
        ``unit_id -> population``: a Series, or a frame or CSV with columns
        ``unit_id, population``; units it lacks get a missing population.
    snap_m
        Tolerance (metres) for borders that do not coincide exactly, e.g. two
        countries' files joined into one layer (see :func:`contiguity_pairs`).
    points_per_unit, seed
        Interior points per unit and their seed.
    cache_dir
        Folder for the derived tables (``<stem>/units.csv``, ``aliases.csv``,
        ``adjacency.csv``, ``points.csv``, ``manifest.json``). They are reused
        while the source's sha256 and the options are unchanged, recomputed
        otherwise. None: no cache.

    Returns
    -------
    LayerGazetteer

    Raises
    ------
    InputError
        The file is missing or unreadable, holds no polygons, lacks a named
        column, has blank or duplicate ids, or names an unknown country.
    """
    from forecast.geo.boundaries import read_vector_file

    path = Path(path)
    if (country is None) == (country_column is None):
        raise ParameterError(
            "give either country= (a one-country layer) or country_column= (several countries)"
        )
    if not path.exists():
        read_vector_file(path)  # raises the one "boundary file not found" message
    try:
        iso3 = None if country is None else country_iso3(country)
    except InputError as exc:
        raise ParameterError(exc.detail) from None
    digest = _source_digest(path)
    options = {
        "version": CACHE_VERSION,
        "id_column": id_column,
        "name_column": name_column,
        "country_column": country_column,
        "country": iso3,
        "iso_column": iso_column,
        "pcode_column": pcode_column,
        "local_name_column": local_name_column,
        "alias_columns": list(alias_columns),
        "population_sha256": _population_digest(population),
        "snap_m": float(snap_m),
        "points_per_unit": int(points_per_unit),
        "seed": int(seed),
    }
    cache = None if cache_dir is None else Path(cache_dir) / path.stem
    if cache is not None:
        cached = _read_cache(cache, digest, options)
        if cached is not None:
            return LayerGazetteer(
                *cached, source=str(path), source_sha256=digest, cache_dir=cache, from_cache=True
            )

    tables = _derive(
        read_vector_file(path),
        path,
        id_column=id_column,
        name_column=name_column,
        country_column=country_column,
        country=options["country"],
        iso_column=iso_column,
        pcode_column=pcode_column,
        local_name_column=local_name_column,
        alias_columns=alias_columns,
        population=population,
        snap_m=snap_m,
        points_per_unit=points_per_unit,
        seed=seed,
    )
    # Built (and validated as gazetteers) before anything is written: no half cache.
    layer = LayerGazetteer(*tables, source=str(path), source_sha256=digest, cache_dir=cache)
    if cache is not None:
        _write_cache(cache, tables, path, digest, options)
    return layer


def _source_digest(path: Path) -> str:
    """sha256 of the boundary file; for a shapefile, over all its parts.

    A GeoJSON or GeoPackage is one file: its own sha256. A shapefile keeps its
    names in the ``.dbf`` beside the ``.shp``, so its digest covers every file
    of the same stem (or every file of a shapefile folder), by name and content.
    """
    if path.is_file() and path.suffix.lower() != ".shp":
        return sha256_file(path)
    if path.is_dir():
        members = sorted(p for p in path.iterdir() if p.is_file())
    else:
        members = sorted(p for p in path.parent.iterdir() if p.is_file() and p.stem == path.stem)
    digest = hashlib.sha256()
    for member in members:
        digest.update(member.name.encode() + b"\0" + sha256_file(member).encode())
    return digest.hexdigest()


def _population_digest(population: Any) -> str | None:
    if population is None:
        return None
    if isinstance(population, (str, Path)):
        return sha256_file(population) if Path(population).is_file() else str(population)
    return hashlib.sha256(pd.util.hash_pandas_object(population).to_numpy().tobytes()).hexdigest()


def _column(frame: pd.DataFrame, column: str | None, path: Path, what: str) -> pd.Series | None:
    if column is None:
        return None
    if column not in frame.columns:
        columns = [c for c in frame.columns if c != frame.geometry.name]
        raise InputError(
            f"has no {what} column '{column}'; its columns are {columns}: pass one of them",
            path=path,
        )
    return frame[column]


def _text(values: pd.Series | None, index: pd.Index) -> pd.Series:
    if values is None:
        return pd.Series("", index=index, dtype=object)
    return values.map(
        lambda v: (
            "" if v is None or (not isinstance(v, str) and pd.isna(v)) else " ".join(str(v).split())
        )
    )


def _derive(
    frame: gpd.GeoDataFrame,
    path: Path,
    *,
    id_column: str,
    name_column: str,
    country_column: str | None,
    country: str | None,
    iso_column: str | None,
    pcode_column: str | None,
    local_name_column: str | None,
    alias_columns: Sequence[str],
    population: Any,
    snap_m: float,
    points_per_unit: int,
    seed: int,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    import geopandas as gpd

    index = frame.index
    ids = _text(_column(frame, id_column, path, "id"), index)
    names = _text(_column(frame, name_column, path, "name"), index)
    countries_raw = _column(frame, country_column, path, "country")
    extra = {
        "iso_hint": _text(_column(frame, iso_column, path, "ISO 3166-2"), index),
        "pcode": _text(_column(frame, pcode_column, path, "P-code"), index),
        "name_local": _text(_column(frame, local_name_column, path, "local name"), index),
    }
    aliases_raw = {c: _text(_column(frame, c, path, "alias"), index) for c in alias_columns}

    kinds = set(frame.geometry.geom_type.dropna())
    polygonal = frame.geometry.geom_type.isin(["Polygon", "MultiPolygon"])
    if not polygonal.any():
        raise InputError(
            f"holds no polygons (found {', '.join(sorted(kinds)) or 'empty geometry'}); "
            "give unit boundaries as polygons (GeoJSON, shapefile or GeoPackage)",
            path=path,
        )
    if not polygonal.all():
        row = int(np.flatnonzero(~polygonal.to_numpy())[0]) + 1
        raise InputError(
            f"is a {frame.geometry.geom_type.iloc[row - 1]}, not a polygon; keep only unit polygons",
            path=path,
            row=row,
        )
    for label, values, column in (("id", ids, id_column), ("name", names, name_column)):
        blank = np.flatnonzero((values == "").to_numpy())
        if len(blank):
            raise InputError(
                f"the unit {label} is blank; every feature needs one",
                path=path,
                row=int(blank[0]) + 1,
                column=column,
            )
    if countries_raw is None:
        countries = pd.Series(country, index=index, dtype=object)
    else:
        lookup = {
            v: country_iso3(v, where=f"{path}, column '{country_column}'")
            for v in _text(countries_raw, index).unique()
        }
        countries = _text(countries_raw, index).map(lookup)

    table = pd.DataFrame({"country": countries, "unit_id": ids, "name": names, **extra})
    # One unit per id: the same id in two countries is two units with one id.
    spans = table.groupby("unit_id")["country"].nunique()
    if (spans > 1).any():
        raise InputError(
            f"unit id '{spans[spans > 1].index[0]}' is used in two countries; "
            "choose an id column that is unique across the layer",
            path=path,
            column=id_column,
        )
    named = table.groupby("unit_id")["name"].nunique()
    if (named > 1).any():
        dup = named[named > 1].index[0]
        raise InputError(
            f"unit id '{dup}' is given to features named differently "
            f"({', '.join(sorted(table.loc[table['unit_id'] == dup, 'name'].unique()))}); "
            "choose an id column that tells units apart",
            path=path,
            column=id_column,
        )
    geometry = frame.geometry
    if frame.crs is None:
        geometry = geometry.set_crs(4326)  # GeoJSON without a CRS is WGS84 by specification
    geometry = gpd.GeoSeries(repair_polygons(geometry.to_crs(4326).to_numpy()), index=index, crs=4326)
    shapes = gpd.GeoDataFrame(table[["unit_id"]], geometry=geometry).dissolve(
        by="unit_id", sort=True
    )
    units = table.drop_duplicates("unit_id").set_index("unit_id").loc[shapes.index].reset_index()
    units = units.sort_values(["country", "unit_id"], ignore_index=True)
    shapes = shapes.loc[units["unit_id"]].geometry

    iso = pd.Series("", index=units.index, dtype=object)
    for iso3, rows in units.groupby("country"):
        iso.loc[rows.index] = _match_iso(rows, str(iso3))
    centroids = area_centroids(shapes)
    units["region"] = ""
    units["iso3166_2"] = iso.to_numpy()
    units["latitude"] = centroids.y.to_numpy()
    units["longitude"] = centroids.x.to_numpy()
    if population is None:
        units["population"] = pd.array([pd.NA] * len(units), dtype="Int64")
    else:
        counts = _population_table(population)
        stray = sorted(set(counts.index) - set(units["unit_id"]))
        if stray:
            raise InputError(
                f"population table names units not in {path.name}: {stray[:10]}; use the layer's ids"
            )
        units["population"] = units["unit_id"].map(counts).astype("Int64")

    subdivisions = {
        c: iso_subdivisions(c).set_index("code")["name"] for c in units["country"].unique()
    }
    rows: list[tuple[str, str, str, str]] = []
    for _, unit in units.iterrows():
        first = table.index[table["unit_id"] == unit["unit_id"]]
        rows.append((unit["country"], unit["unit_id"], unit["name"], f"{path.name} {name_column}"))
        if unit["iso3166_2"]:
            rows.append((unit["country"], unit["unit_id"], unit["iso3166_2"], "ISO 3166-2 code"))
            rows.append(
                (
                    unit["country"],
                    unit["unit_id"],
                    subdivisions[unit["country"]][unit["iso3166_2"]],
                    "ISO 3166-2 name (pycountry)",
                )
            )
        for column, values in aliases_raw.items():
            for value in values.loc[first].unique():
                if value:
                    rows.append((unit["country"], unit["unit_id"], value, f"{path.name} {column}"))
    aliases = pd.DataFrame(rows, columns=["country", "unit_id", "alias", "source"])
    aliases = (
        aliases.groupby(["country", "unit_id", "alias"], sort=False)["source"]
        .agg(lambda s: "; ".join(dict.fromkeys(s)))
        .reset_index()
        .sort_values(["country", "unit_id", "alias"], ignore_index=True)
    )
    adjacency = contiguity_pairs(shapes, units["unit_id"], snap_m=snap_m)
    streams = [zlib.crc32(u.encode("utf-8")) for u in units["unit_id"]]
    points = interior_points(
        shapes, units["unit_id"].tolist(), streams, n=points_per_unit, seed=seed
    )
    units = units.drop(columns="iso_hint")[UNIT_TABLE_COLUMNS]
    # The dtypes a cache read gives, so a cached and a fresh layer compare equal.
    text = [c for c in UNIT_TABLE_COLUMNS if c not in ("latitude", "longitude", "population")]
    units[text] = units[text].astype(str)
    aliases = aliases.astype(str)
    adjacency = adjacency.astype(str)
    points["unit_id"] = points["unit_id"].astype(str)
    return units, aliases, adjacency, points


_CACHE_TABLES = ("units", "aliases", "adjacency", "points")


def _write_cache(
    cache: Path,
    tables: Sequence[pd.DataFrame],
    source: Path,
    digest: str,
    options: Mapping[str, Any],
) -> None:
    note = f"Derived by forecast.geo.derive.gazetteer_from_boundaries from {source.name} (sha256 {digest})"
    written = {}
    for name, frame in zip(_CACHE_TABLES, tables, strict=True):
        target = write_table(frame, cache / f"{name}.csv", note)
        written[name] = sha256_file(target)
    # The manifest goes last: tables without it, or not matching it, are never read.
    write_json_atomic(
        cache / "manifest.json",
        {
            "source": str(source),
            "source_sha256": digest,
            "options": dict(options),
            "options_sha256": _options_key(options),
            "tables": written,
        },
    )


def _read_cache(
    cache: Path, digest: str, options: Mapping[str, Any]
) -> tuple[pd.DataFrame, ...] | None:
    manifest_path = cache / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if manifest.get("source_sha256") != digest or manifest.get("options_sha256") != _options_key(
        options
    ):
        return None
    tables = []
    for name in _CACHE_TABLES:
        path = cache / f"{name}.csv"
        if not path.is_file() or sha256_file(path) != manifest.get("tables", {}).get(name):
            return None
        tables.append(_read_table(path))
    units, aliases, adjacency, points = tables
    for column in ("latitude", "longitude"):
        units[column] = units[column].astype(float)
        points[column] = points[column].astype(float)
    units["population"] = pd.to_numeric(units["population"].replace("", None)).astype("Int64")
    return units, aliases, adjacency, points
