"""A gazetteer built at run time from a boundary file (forecast.geo.derive).

``tests/data/two_countries.geojson`` is hand-made: a row of 1-degree squares on
the equator, three in AFG (x 60-63) and two in PAK (x 63-65), so AFG-3 and
PAK-1 share the border at x = 63 across the country line, and one small PAK
island (x 66.5-67) whose nearest unit is PAK-2. Both countries have a unit
named "Central". Every square is symmetric about the equator, and in the
cylindrical equal-area projection longitude maps linearly, so the area
centroids are known exactly: (x0 + x1) / 2, latitude 0.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecast.errors import InputError
from forecast.geo.derive import LayerGazetteer, gazetteer_from_boundaries

LAYER = Path(__file__).parent / "data" / "two_countries.geojson"
COLUMNS = dict(id_column="shapeID", name_column="shapeName", country_column="shapeGroup")
IDS = ["AFG-1", "AFG-2", "AFG-3", "PAK-1", "PAK-2", "PAK-3"]


def build(path: Path = LAYER, **options) -> LayerGazetteer:
    return gazetteer_from_boundaries(path, **{**COLUMNS, **options})


def test_units_ids_names_countries_iso_codes_and_centroids():
    layer = build()
    units = layer.units
    assert units["unit_id"].tolist() == IDS
    assert units["name"].tolist() == [
        "Kabul", "Nangarhar", "Central", "Khyber Pakhtunkhwa", "Central", "Astola Island",
    ]
    assert units["country"].tolist() == ["AFG"] * 3 + ["PAK"] * 3
    assert layer.countries == ["AFG", "PAK"]
    # pycountry codes where a name matches one subdivision ("Nangarhār", "Khyber Pakhtunkhwa"); none otherwise.
    assert units["iso3166_2"].tolist() == ["AF-KAB", "AF-NAN", "", "PK-KP", "", ""]
    np.testing.assert_allclose(units["longitude"], [60.5, 61.5, 62.5, 63.5, 64.5, 66.75], rtol=0, atol=1e-9)
    np.testing.assert_allclose(units["latitude"], np.zeros(6), rtol=0, atol=1e-9)
    assert units["population"].isna().all()  # no table given: unknown, not zero


def test_adjacency_crosses_the_border_and_links_the_island_to_its_nearest_unit():
    layer = build()
    pairs = set(zip(layer.adjacency["unit_id"], layer.adjacency["neighbour_id"], layer.adjacency["basis"], strict=True))
    contiguous = {("AFG-1", "AFG-2"), ("AFG-2", "AFG-3"), ("AFG-3", "PAK-1"), ("PAK-1", "PAK-2")}
    expected = {(a, b, "contiguity") for a, b in contiguous} | {(b, a, "contiguity") for a, b in contiguous}
    expected |= {("PAK-3", "PAK-2", "nearest"), ("PAK-2", "PAK-3", "nearest")}
    assert pairs == expected
    assert len(layer.adjacency) == 10
    assert layer.neighbours("AFG-3") == ["AFG-2", "PAK-1"]
    assert layer.neighbours("PAK-3") == ["PAK-2"]
    matrix = layer.adjacency_matrix()
    assert matrix.shape == (6, 6) and (matrix == matrix.T).all() and matrix.trace() == 0
    assert matrix.sum() == 10
    # Each country's gazetteer keeps its own borders only.
    assert layer.gazetteer("AFG").neighbours("AFG-3") == ["AFG-2"]
    assert layer.gazetteer("Pakistan").neighbours("PAK-1") == ["PAK-2"]


def test_names_resolve_within_their_country():
    layer = build()
    assert layer.resolve("Central", "AFG") == "AFG-3"
    assert layer.resolve("central province", "PAK") == "PAK-2"
    assert layer.resolve("Khyber Pakhtunkhwa", "AFG") is None  # a PAK name is not an Afghan unit
    assert layer.resolve("PK-KP", "PAK") == layer.resolve("Khyber Pakhtunkhwa Province", "PK") == "PAK-1"
    assert layer.resolve("Nangarhār", "AFG") == "AFG-2"
    names = pd.Series(["Central", "Central", "Kabul", "Kabul"])
    countries = pd.Series(["AFG", "PAK", "AFG", "PAK"])
    resolved = layer.resolve_names(names, countries)
    assert resolved.tolist()[:3] == ["AFG-3", "PAK-2", "AFG-1"] and resolved.isna().tolist() == [False] * 3 + [True]


def test_population_from_a_table_and_interior_points_inside_their_square():
    population = pd.DataFrame({"unit_id": ["AFG-1", "PAK-1"], "population": [1200, 3400]})
    layer = build(population=population, points_per_unit=10)
    expected = pd.array([1200, None, None, 3400, None, None], dtype="Int64")
    pd.testing.assert_extension_array_equal(layer.units["population"].array, expected)
    points = layer.points.merge(layer.units[["unit_id", "longitude"]], on="unit_id", suffixes=("", "_c"))
    assert points.groupby("unit_id").size().tolist() == [10] * 6
    half_width = np.where(points["unit_id"] == "PAK-3", 0.25, 0.5) - 0.05
    assert (np.abs(points["longitude"] - points["longitude_c"]) <= half_width + 1e-5).all()
    assert (np.abs(points["latitude"]) <= half_width + 1e-5).all()
    with pytest.raises(InputError, match=r"population table names units not in two_countries.geojson: \['XX-9'\]"):
        build(population=pd.DataFrame({"unit_id": ["XX-9"], "population": [1]}))


def test_cache_is_reused_and_recomputed_when_the_file_changes(tmp_path: Path):
    source = tmp_path / "layer.geojson"
    shutil.copyfile(LAYER, source)
    cache = tmp_path / "derived"
    first = build(source, cache_dir=cache)
    assert not first.from_cache and first.cache_dir == cache / "layer"
    manifest = json.loads((cache / "layer" / "manifest.json").read_text())
    assert manifest["source_sha256"] == first.source_sha256
    assert sorted(p.name for p in (cache / "layer").iterdir()) == [
        "adjacency.csv", "aliases.csv", "manifest.json", "points.csv", "units.csv",
    ]
    stamp = (cache / "layer" / "units.csv").stat().st_mtime_ns

    again = build(source, cache_dir=cache)
    assert again.from_cache
    assert (cache / "layer" / "units.csv").stat().st_mtime_ns == stamp
    for name in ("units", "aliases", "adjacency", "points"):
        pd.testing.assert_frame_equal(getattr(again, name), getattr(first, name))

    # Other options are another derivation: recomputed, not served from the cache.
    assert not build(source, cache_dir=cache, points_per_unit=3).from_cache

    # Move the island next to AFG-1 (x 58.5-59): the cache is stale and the tables change.
    text = source.read_text().replace("[66.5,-0.25],[67,-0.25],[67,0.25],[66.5,0.25],[66.5,-0.25]",
                                      "[58.5,-0.25],[59,-0.25],[59,0.25],[58.5,0.25],[58.5,-0.25]")
    assert text != LAYER.read_text()
    source.write_text(text)
    moved = build(source, cache_dir=cache)
    assert not moved.from_cache and moved.source_sha256 != first.source_sha256
    assert moved.neighbours("PAK-3") == ["AFG-1"]
    assert moved.units.set_index("unit_id").loc["PAK-3", "longitude"] == pytest.approx(58.75, abs=1e-9)
    assert build(source, cache_dir=cache).from_cache


def test_one_country_layer_with_country_given():
    layer = gazetteer_from_boundaries(LAYER, id_column="shapeID", name_column="shapeID", country="Afghanistan")
    assert layer.countries == ["AFG"] and layer.gazetteer().unit_ids == IDS


def test_a_missing_id_column_is_one_line_naming_the_column_and_the_fix(tmp_path: Path):
    with pytest.raises(InputError) as info:
        build(id_column="shapeId", cache_dir=tmp_path / "derived")
    message = str(info.value)
    assert "\n" not in message
    assert message == (
        f"{LAYER}: has no id column 'shapeId'; its columns are "
        "['shapeID', 'shapeName', 'shapeGroup']: pass one of them"
    )
    assert not (tmp_path / "derived").exists()  # nothing half-written


def test_a_file_without_polygons_is_refused(tmp_path: Path):
    points = tmp_path / "towns.geojson"
    points.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"shapeID": "T1", "shapeName": "Town", "shapeGroup": "AFG"},
         "geometry": {"type": "Point", "coordinates": [61.0, 0.0]}},
    ]}))
    with pytest.raises(InputError) as info:
        build(points)
    assert str(info.value) == (
        f"{points}: holds no polygons (found Point); give unit boundaries as polygons "
        "(GeoJSON, shapefile or GeoPackage)"
    )


def test_borders_that_miss_by_metres_join_with_snap(tmp_path: Path):
    import geopandas as gpd

    # PAK moved 0.0001 degrees (about 11 m) east: a sliver gap along the country line, as
    # between two countries' files that were digitised apart.
    frame = gpd.read_file(LAYER)
    pak = frame["shapeGroup"] == "PAK"
    frame.loc[pak, "geometry"] = frame.loc[pak, "geometry"].translate(xoff=1e-4)
    path = tmp_path / "gap.geojson"
    frame.to_file(path, driver="GeoJSON")
    assert build(path).neighbours("AFG-3") == ["AFG-2"]
    snapped = build(path, snap_m=50)
    assert snapped.neighbours("AFG-3") == ["AFG-2", "PAK-1"]
    assert snapped.neighbours("PAK-3") == ["PAK-2"]


def test_a_shapefile_cache_follows_its_dbf(tmp_path: Path):
    import geopandas as gpd

    frame = gpd.read_file(LAYER)
    path = tmp_path / "layer.shp"
    frame.to_file(path)
    cache = tmp_path / "derived"
    assert not build(path, cache_dir=cache).from_cache
    assert build(path, cache_dir=cache).from_cache
    # Only the attribute table (.dbf) changes: a new name must not be served from the cache.
    frame.loc[frame["shapeID"] == "AFG-1", "shapeName"] = "Kabol"
    frame.to_file(path)
    renamed = build(path, cache_dir=cache)
    assert not renamed.from_cache and renamed.units["name"].iloc[0] == "Kabol"


def test_gazetteer_build_command_derives_caches_and_says_what_the_layer_holds(tmp_path, monkeypatch, capsys):
    from forecast.cli import main

    monkeypatch.chdir(tmp_path)
    args = ["gazetteer", "build", str(LAYER), "--id-column", "shapeID", "--name-column", "shapeName",
            "--country-column", "shapeGroup"]
    assert main(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("two_countries.geojson (sha256 ") and "AFG 3 units, PAK 3 units; 5 adjacent pairs" in out[0]
    assert out[1] == "across borders: Central (AFG) - Khyber Pakhtunkhwa (PAK)"
    assert out[2] == "no shared border, linked to the nearest unit: Central (PAK) - Astola Island (PAK)"
    folder = tmp_path / "data" / "processed" / "gazetteer" / "two_countries"
    assert sorted(p.name for p in folder.iterdir()) == ["adjacency.csv", "aliases.csv", "manifest.json", "points.csv", "units.csv"]
    assert main(args) == 0 and "(cached)" in capsys.readouterr().out
    # One-line refusals naming the fix: a column the file lacks, and no (or two) ways to tell the country.
    assert main([*args[:4], "x", *args[5:]]) == 2
    err = capsys.readouterr().err
    assert "no id column 'x'" in err and "shapeID" in err and len(err.strip().splitlines()) == 1
    assert main(args[:7]) == 2
    assert "--country ISO3" in capsys.readouterr().err
