"""A district boundary layer matched to a district panel's P-codes: adjacency, centroids and map shapes.

District panels (HDX's ACLED workbooks at level 2) name each district by its
OCHA P-code (``AF1703``), its name and its province. A district boundary file
gives what the workbook cannot: which districts touch (the spread terms and
the new-ground rules), their centroids (distances) and their shapes (maps).
The layer's gazetteer comes from :func:`forecast.geo.derive.gazetteer_from_boundaries`
(Queen contiguity, the nearest district for islands, area centroids); this
module only says which layer feature is which panel district.

Matching, first that applies:

1. **P-codes.** A column of the layer holding the panel's P-codes
   (``ADM2_PCODE`` in OCHA's COD-AB layers): matched as they are.
2. **Names within provinces.** Layers without OCHA codes, such as ESOC's
   398-district layer (``district398.shp``: ``PROV_34_NA, DIST_34_NA, PROVID,
   DISTID``), are matched by district name inside the district's province
   (the province column resolved through the country's gazetteer). The
   codes cannot be used: ``PROVID``/``DISTID`` follow the older CSO
   numbering (``PROVID`` 17 is Jawzjan, OCHA's ``AF17`` is Badakhshan; Kabul's
   Paghman is ``DISTID`` 108 but OCHA ``AF0102``), so ``DISTID`` 1703 is *not*
   ``AF1703``. Names are compared folded (:func:`forecast.geo.gazetteer.normalise_name`,
   word breaks ignored), then by their consonants (``Bihsud``/``Behsud``,
   ``Nahri Sarraj``/``Nahr-e Saraj``, ``Lashkar Gah``/``Lashkargah``), a
   match counting only when it is unique in the province on both sides.

Panel districts the layer does not match are an error naming the file, the
districts and the fix; layer districts the panel lacks are simply unused. The
adjacency is the layer's restricted to the panel; a panel district none of
whose neighbours is in the panel is linked to the nearest panel district (as
:func:`~forecast.geo.derive.contiguity_pairs` links islands).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from forecast.errors import InputError
from forecast.geo.gazetteer import Gazetteer, normalise_name

__all__ = ["DistrictLayer", "display_names", "district_layer", "districts_without_layer", "name_skeleton"]

#: Columns that name a district's province in common layers (ESOC, OCHA COD-AB, geoBoundaries-extended, GADM).
PROVINCE_COLUMNS = ("PROV_34_NA", "ADM1_EN", "admin1Name_en", "NAME_1", "ADM1_NAME")
#: Columns that name the district itself.
NAME_COLUMNS = ("DIST_34_NA", "ADM2_EN", "admin2Name_en", "NAME_2", "ADM2_NAME", "shapeName")

#: What to do when districts do not match (the one fix sentence of every matching error).
MATCH_FIX = (
    "give a district layer with OCHA P-codes (a column such as ADM2_PCODE, e.g. OCHA's COD-AB AFG admin-2 layer), "
    "or leave boundaries_path out (--boundaries): district panels then run the models without neighbour terms"
)

_VOWELS = re.compile(r"[aeiouy]")
_REPEATS = re.compile(r"(.)\1+")


def name_skeleton(name: str) -> str:
    """A district name's consonants: what different transliterations of one name share.

    Examples
    --------
    >>> name_skeleton("Nahri Sarraj"), name_skeleton("Nahr-e Saraj")
    ('nhrsrj', 'nhrsrj')
    >>> name_skeleton("Lashkar Gah") == name_skeleton("Lashkargah"), name_skeleton("Bihsud") == name_skeleton("Behsud")
    (True, True)
    """
    compact = normalise_name(str(name)).replace(" ", "")
    return _REPEATS.sub(r"\1", _VOWELS.sub("", compact))


@dataclass(frozen=True)
class DistrictLayer:
    """A district layer matched to a panel's districts.

    Attributes
    ----------
    gazetteer
        The districts as a :class:`Gazetteer`: ``unit_id`` the P-code, the
        workbook's name, ``region`` the province code, centroids and
        adjacency (both directions) from the layer.
    boundaries
        ``unit_id, geometry`` (EPSG:4326), one shape per district, for maps
        (``attrs["boundary_kind"] == "user"``).
    matched_by
        How features were matched, in words (for the report).
    crosswalk
        ``layer_id, unit_id``: the layer's id of each matched panel district.
    unused
        Layer ids no panel district matched.
    source
        The boundary file.
    pairs
        ``unit_id, neighbour_id, basis``: ``"contiguity"`` from the layer, or
        ``"nearest"`` for a district none of whose neighbours is in the panel,
        linked to the nearest panel district.
    """

    gazetteer: Gazetteer
    boundaries: Any
    matched_by: str
    crosswalk: pd.DataFrame
    unused: list[str] = field(default_factory=list)
    source: str = ""
    pairs: pd.DataFrame | None = None

    def neighbours(self) -> dict[str, list[str]]:
        """Each district's adjacent districts (``forecast_panel(neighbours=...)``)."""
        return {unit: self.gazetteer.neighbours(unit) for unit in self.gazetteer.unit_ids}

    def describe(self) -> str:
        """One sentence for the report: the file, how it was matched, the adjacency."""
        pairs = sum(len(v) for v in self.neighbours().values()) // 2
        text = (f"District adjacency, centroids and shapes from {Path(self.source).name} ({self.matched_by}): "
                f"{len(self.crosswalk)} districts, {pairs} adjacent pairs among them")
        if self.pairs is not None:
            names = dict(zip(self.gazetteer.units["unit_id"], self.gazetteer.units["name"], strict=True))
            far = self.pairs[(self.pairs["basis"] == "nearest") & (self.pairs["unit_id"] < self.pairs["neighbour_id"])]
            if len(far):
                text += "; no neighbour in the panel, linked to the nearest panel district: " + ", ".join(
                    f"{names[a]} - {names[b]}" for a, b in zip(far["unit_id"], far["neighbour_id"], strict=True))
        return text + "."


def _text(values: pd.Series) -> pd.Series:
    def one(value: Any) -> str:
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return ""
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return " ".join(str(value).split())

    return values.map(one)


def _pcode_column(frame: pd.DataFrame, codes: set[str]) -> str | None:
    best, best_hits = None, 0
    for column in frame.columns:
        if column == frame.geometry.name:
            continue
        hits = len(set(_text(frame[column]).str.upper()) & codes)
        if hits > best_hits:
            best, best_hits = column, hits
    return best if best_hits >= max(1, len(codes) // 2) else None


def _first_present(frame: pd.DataFrame, names: tuple[str, ...]) -> str | None:
    lower = {str(c).lower(): c for c in frame.columns}
    for name in names:
        if name.lower() in lower:
            return str(lower[name.lower()])
    return None


def _id_column(frame: pd.DataFrame, prefer: list[str | None]) -> str | None:
    """A column with a distinct, non-blank value per feature (the layer's own ids)."""
    columns = [c for c in prefer if c] + [c for c in frame.columns if c != frame.geometry.name]
    for column in columns:
        values = _text(frame[column])
        if (values != "").all() and values.is_unique:
            return str(column)
    return None


def display_names(units: pd.DataFrame, country: str) -> pd.Series:
    """District names that tell districts apart: a name used in two provinces gets its province.

    District names repeat across provinces (Qarabagh in Kabul and in Ghazni),
    and a gazetteer's names each name one unit.

    Examples
    --------
    >>> units = pd.DataFrame({"unit_id": ["AF0105", "AF1105", "AF0601"], "name": ["Qarabagh", "Qarabagh", "Jalalabad"],
    ...                       "parent_id": ["AF-KAB", "AF-GHA", "AF-NAN"]})
    >>> display_names(units, "AFG").tolist()
    ['Qarabagh (Kabul)', 'Qarabagh (Ghazni)', 'Jalalabad']
    """
    provinces = Gazetteer.load(country)
    names = units["name"].astype(str)
    keys = names.map(normalise_name)
    repeated = keys.duplicated(keep=False)
    parents = units["parent_id"].map(lambda code: provinces.name_of(code) if code in provinces.unit_ids else code)
    names = names.where(~repeated, names + " (" + parents.astype(str) + ")")
    still = names.map(normalise_name).duplicated(keep=False)
    return names.where(~still, names + " (" + units["unit_id"].astype(str) + ")")


def _match_names(
    layer_names: pd.Series, layer_provinces: pd.Series, units: pd.DataFrame
) -> pd.Series:
    """Panel P-code per layer row (missing where no unique match), by name within the province."""
    out = pd.Series(None, index=layer_names.index, dtype=object)
    for key in (lambda n: normalise_name(n).replace(" ", ""), name_skeleton):
        layer_keys = layer_names.map(key)
        panel_keys = units["name"].map(key)
        taken = set(out.dropna())
        for province, rows in units.groupby("parent_id"):
            rows = rows[~rows["unit_id"].isin(taken)]
            inside = (layer_provinces == province) if layer_provinces is not None else pd.Series(True, index=out.index)
            candidates = layer_keys[inside & out.isna()]
            panel = panel_keys.loc[rows.index]
            for index, unit in zip(rows.index, rows["unit_id"], strict=True):
                wanted = panel[index]
                hits = candidates.index[candidates == wanted]
                if wanted and len(hits) == 1 and (panel == wanted).sum() == 1:
                    out.loc[hits[0]] = unit
    return out


def district_layer(
    path: str | Path,
    units: pd.DataFrame,
    country: str,
    *,
    cache_dir: str | Path | None = None,
) -> DistrictLayer:
    """Match a district boundary file to a panel's districts and derive their gazetteer.

    Parameters
    ----------
    path
        GeoJSON, shapefile or GeoPackage of districts (any CRS).
    units
        The panel's districts: ``unit_id`` (P-code), ``name``, ``parent_id``
        (the province's gazetteer code), as :class:`forecast.data.dataset.Dataset.units`.
    country
        ISO3 code of the layer's country.
    cache_dir
        Where :func:`forecast.geo.derive.gazetteer_from_boundaries` caches the
        derived tables (None: not cached).

    Returns
    -------
    DistrictLayer

    Raises
    ------
    InputError
        The file is missing or unreadable, has no column to match on, or
        leaves panel districts unmatched (the message lists them and the fix).
    """
    import geopandas as gpd

    from forecast.geo.boundaries import USER, _tag, read_vector_file
    from forecast.geo.derive import contiguity_pairs, gazetteer_from_boundaries, repair_polygons

    path = Path(path)
    frame = read_vector_file(path)
    if frame.empty:
        raise InputError("boundary file has no features; give the district polygons", path=path)
    units = units.reset_index(drop=True)
    codes = set(units["unit_id"].astype(str).str.upper())

    pcode = _pcode_column(frame, codes)
    if pcode is not None:
        matched = _text(frame[pcode]).str.upper().where(lambda v: v.isin(codes))
        id_column = pcode if _text(frame[pcode]).is_unique else _id_column(frame, [])
        matched_by = f"P-codes in column {pcode}"
    else:
        name_column = _first_present(frame, NAME_COLUMNS)
        if name_column is None:
            raise InputError(
                f"has no column of the panel's P-codes (e.g. {sorted(codes)[0]}) nor of district names "
                f"({', '.join(NAME_COLUMNS)}); {MATCH_FIX}",
                path=path,
            )
        province_column = _first_present(frame, PROVINCE_COLUMNS)
        provinces = None
        if province_column is not None:
            provinces = Gazetteer.load(country).resolve_names(_text(frame[province_column]))
            if provinces.isna().mean() > 0.1:
                provinces = None
        matched = _match_names(_text(frame[name_column]), provinces, units)
        id_column = _id_column(frame, ["DISTID", "shapeID", "ADM2_PCODE"])
        matched_by = (f"district names ({name_column}) within provinces ({province_column})" if provinces is not None
                      else f"district names ({name_column}), unique in the country")
    if id_column is None:
        raise InputError("has no column with a distinct id per district; add one (e.g. DISTID)", path=path)

    missing = sorted(codes - set(matched.dropna()))
    if missing:
        names = units.set_index("unit_id")["name"]
        shown = ", ".join(f"{code} {names.get(code, '')}".strip() for code in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        raise InputError(
            f"matches {len(codes) - len(missing)} of the panel's {len(codes)} districts by {matched_by}; "
            f"not found: {shown}{more}; {MATCH_FIX}",
            path=path,
        )

    layer_ids = _text(frame[id_column])
    crosswalk = pd.DataFrame({"layer_id": layer_ids, "unit_id": matched}).dropna().drop_duplicates("layer_id")
    to_unit = dict(zip(crosswalk["layer_id"], crosswalk["unit_id"], strict=True))
    # Names are the ids: district names repeat across provinces (Baharak in Badakhshan and Takhar).
    layer = gazetteer_from_boundaries(path, id_column=id_column, name_column=id_column, country=country,
                                      cache_dir=cache_dir)

    centroids = (layer.units.assign(unit_id=layer.units["unit_id"].map(to_unit)).dropna(subset=["unit_id"])
                 .groupby("unit_id")[["latitude", "longitude"]].mean())
    points = layer.points.assign(unit_id=layer.points["unit_id"].map(to_unit)).dropna(subset=["unit_id"])
    table, aliases = _district_tables(units, country, units["unit_id"].map(centroids["latitude"]),
                                      units["unit_id"].map(centroids["longitude"]))

    shapes = frame.assign(unit_id=layer_ids.map(to_unit)).dropna(subset=["unit_id"])
    if shapes.crs is None:
        shapes = shapes.set_crs(4326)
    shapes = shapes.to_crs(4326)
    shapes = gpd.GeoDataFrame(shapes[["unit_id"]], geometry=repair_polygons(shapes.geometry.to_numpy()), crs=4326)
    boundaries = shapes.dissolve(by="unit_id", as_index=False).sort_values("unit_id").reset_index(drop=True)
    boundaries = _tag(gpd.GeoDataFrame(boundaries, geometry="geometry", crs=4326), USER,
                      f"district boundaries from {path.name}")

    adjacency = layer.adjacency.assign(unit_id=lambda t: t["unit_id"].map(to_unit),
                                       neighbour_id=lambda t: t["neighbour_id"].map(to_unit)).dropna()
    adjacency = adjacency[adjacency["unit_id"] != adjacency["neighbour_id"]]
    adjacency = adjacency[["unit_id", "neighbour_id"]].drop_duplicates().assign(basis="contiguity")
    # A panel district none of whose neighbours is in the panel (a workbook of some districts only) is
    # linked to the nearest panel district, as the layer links islands: no unit is cut off from the spread terms.
    isolated = set(units["unit_id"].astype(str)) - set(adjacency["unit_id"])
    if isolated and len(boundaries) > 1:
        nearest = contiguity_pairs(boundaries.geometry, boundaries["unit_id"].tolist())
        nearest = nearest[(nearest["basis"] == "nearest") & (nearest["unit_id"].isin(isolated)
                                                             | nearest["neighbour_id"].isin(isolated))]
        adjacency = pd.concat([adjacency, nearest], ignore_index=True).drop_duplicates(["unit_id", "neighbour_id"])
    adjacency = adjacency.sort_values(["unit_id", "neighbour_id"], ignore_index=True)
    gazetteer = Gazetteer(str(layer.countries[0]), table, aliases, adjacency[["unit_id", "neighbour_id"]],
                          points.reset_index(drop=True))
    unused = sorted(set(layer_ids) - set(to_unit))
    return DistrictLayer(gazetteer, boundaries, matched_by, crosswalk.reset_index(drop=True), unused, str(path),
                         adjacency.reset_index(drop=True))



def _district_tables(
    units: pd.DataFrame, country: str, latitude: pd.Series, longitude: pd.Series
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The gazetteer's unit and alias tables of a district panel's units (P-code, name, province, position)."""
    table = pd.DataFrame({
        "unit_id": units["unit_id"].astype(str),
        "pcode": units["unit_id"].astype(str),
        "name": display_names(units, country),
        "name_local": "",
        "region": units["parent_id"].astype(str),
        "latitude": latitude.astype(float),
        "longitude": longitude.astype(float),
        "population": pd.array([pd.NA] * len(units), dtype="Int64"),
    })
    aliases = pd.DataFrame({"unit_id": table["unit_id"], "alias": table["unit_id"], "source": "P-code"})
    return table, aliases


def districts_without_layer(units: pd.DataFrame, country: str) -> Gazetteer:
    """The districts of a panel as a gazetteer without adjacency, each at its province's centroid.

    What a district panel has without a boundary file: names for the tables,
    no neighbours (so no spread terms and no adjacency-based alarms).

    Examples
    --------
    >>> units = pd.DataFrame({"unit_id": ["AF0601"], "name": ["Jalalabad"], "parent_id": ["AF-NAN"]})
    >>> districts_without_layer(units, "AFG").neighbours("AF0601")
    []
    """
    provinces = Gazetteer.load(country).units.set_index("unit_id")
    # Without a layer a district sits at its province's centroid (for distances only; no adjacency).
    table, aliases = _district_tables(units, country, units["parent_id"].map(provinces["latitude"]),
                                      units["parent_id"].map(provinces["longitude"]))
    empty = pd.DataFrame({"unit_id": pd.Series(dtype=str), "neighbour_id": pd.Series(dtype=str)})
    points = pd.DataFrame({"unit_id": pd.Series(dtype=str), "latitude": pd.Series(dtype=float),
                           "longitude": pd.Series(dtype=float)})
    return Gazetteer(country, table, aliases, empty, points)
