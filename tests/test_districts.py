"""District panels: a district boundary file matched to HDX P-codes, province panels as sums of districts, runs.

The workbook is the one tests/data/http/fakeproviders.py writes in HDX's
published layout (seven districts of Kabul, Nangarhar, Hilmand and Sar-e Pul,
2020-2021, a zero district, a renamed one). The district geometry is ESOC's
real 398-district layer from the shared reference data: the tests needing it
skip without it and fail under CI=true (the ``shared_data`` fixture).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from forecast.cli import main
from forecast.data.dataset import load_dataset
from forecast.errors import InputError, ParameterError
from forecast.geo.districts import district_layer, name_skeleton
from forecast.models.registry import forecast_panel
from forecast.runner.params import load_config, notebook_spec, validate_parameters

sys.path.insert(0, str(Path(__file__).parent / "data" / "http"))
import fakeproviders as fake  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"

#: Pairs of the test districts that touch in district398 (Paghman is west of Kabul, Behsud around
#: Jalalabad, Nahr-e Saraj north of Lashkar Gah); Sar-e Pul touches none of them.
TOUCHING = {("AF0101", "AF0102"), ("AF0601", "AF0602"), ("AF3001", "AF3002")}


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    return fake.hdx_workbook(tmp_path / "hdx" / "afghanistan_civilian_targeting.xlsx")


@pytest.fixture
def district398(shared_data: Path) -> Path:
    return shared_data / "afghanistan" / "districts_398" / "district398.shp"


def _pairs(neighbours: dict[str, list[str]]) -> set[tuple[str, str]]:
    return {(a, b) for a, nbs in neighbours.items() for b in nbs if a < b}


def test_the_province_panel_is_the_district_panel_summed_per_province(workbook):
    provinces = load_dataset("hdx", workbook, freq="MS", as_of="2021-12-31")
    districts = load_dataset("hdx", workbook, freq="MS", as_of="2021-12-31", level=2)

    summed = districts.province_panel().set_index(["unit_id", "ds"])[["y", "fatalities_best"]]
    panel = provinces.panel.set_index(["unit_id", "ds"])[["y", "fatalities_best"]]
    assert len(summed) == 4 * 24 and panel["y"].sum() == summed["y"].sum() == sum(r[8] for r in fake.hdx_rows())
    pd.testing.assert_frame_equal(panel.loc[summed.index].astype(float), summed.astype(float))
    assert panel.drop(summed.index)["y"].sum() == 0  # the 30 provinces without districts in the workbook


def test_district398_gives_the_districts_adjacency_by_name_within_provinces(workbook, district398):
    data = load_dataset("hdx", workbook, freq="MS", level=2, boundaries=district398)

    layer = data.districts
    assert "names (DIST_34_NA) within provinces (PROV_34_NA)" in layer.matched_by
    contiguous = layer.pairs[layer.pairs["basis"] == "contiguity"]
    assert _pairs({a: [b] for a, b in zip(contiguous["unit_id"], contiguous["neighbour_id"], strict=True)}) == TOUCHING
    # Sar-e Pul has no neighbour among the seven: linked to the nearest of them, and said so.
    assert data.neighbours["AF2201"] == ["AF0102"] and _pairs(data.neighbours) == TOUCHING | {("AF0102", "AF2201")}
    assert "Paghman - Sar-e Pul" in layer.describe() and "4 adjacent pairs" in layer.describe()
    # DISTID follows the older CSO numbering, not OCHA's: Paghman is DISTID 108 but AF0102.
    crosswalk = layer.crosswalk.set_index("unit_id")["layer_id"]
    assert crosswalk["AF0102"] == "108" and crosswalk["AF0602"] == "821" and crosswalk["AF3002"] == "2302"
    assert len(layer.unused) == 398 - 7
    # Centroids from the geometry: Lashkar Gah lies south of Nahr-e Saraj, Kabul east of Paghman.
    units = data.gazetteer.units.set_index("unit_id")
    assert units.at["AF3001", "latitude"] < units.at["AF3002", "latitude"]
    assert units.at["AF0101", "longitude"] > units.at["AF0102", "longitude"]
    assert sorted(layer.boundaries["unit_id"]) == sorted(units.index)
    assert (layer.boundaries.geometry.geom_type.isin(["Polygon", "MultiPolygon"])).all()

    frame = forecast_panel(data.panel, ["endemic_epidemic"], horizon=2, n_draws=50, seed=1, neighbours=data.neighbours)
    assert set(frame.index["unit_id"]) == set(data.panel["unit_id"])


def test_a_province_stronghold_on_a_district_panel_is_its_districts(workbook):
    data = load_dataset("hdx", workbook, freq="MS", level=2)

    assert data.stronghold_units("Nangarhar") == ["AF0601", "AF0602"]
    assert data.stronghold_units(["Hilmand", "AF0101"]) == ["AF3001", "AF3002", "AF0101"]
    assert data.stronghold_units("auto") == "auto"


def test_a_layer_with_p_codes_is_matched_by_them(tmp_path, workbook):
    # Seven unit squares in a row: each touches the next; P-codes as in OCHA's COD-AB (ADM2_PCODE).
    codes = sorted(d[0] for d in fake.HDX_DISTRICTS)
    layer = gpd.GeoDataFrame({"ADM2_PCODE": codes, "ADM2_EN": [f"d{i}" for i in range(7)]}, crs=4326,
                             geometry=[shapely.box(60 + i, 30, 61 + i, 31) for i in range(7)])
    path = tmp_path / "adm2.geojson"
    layer.to_file(path, driver="GeoJSON")

    data = load_dataset("hdx", workbook, freq="MS", level=2, boundaries=path)
    assert data.districts.matched_by == "P-codes in column ADM2_PCODE"
    assert _pairs(data.neighbours) == {(codes[i], codes[i + 1]) for i in range(6)}


def test_districts_the_layer_lacks_are_one_error_naming_the_file_and_the_fix(tmp_path, district398):
    rows = [r if r[4] != "AF0102" else r[:2] + ["Nowhere"] + r[3:] for r in fake.hdx_rows()]
    path = fake.hdx_workbook(tmp_path / "renamed.xlsx", rows=rows)
    units = load_dataset("hdx", path, freq="MS", level=2).units

    with pytest.raises(InputError) as caught:
        district_layer(district398, units, "AFG")
    message = str(caught.value)
    assert "district398.shp" in message and "6 of the panel's 7 districts" in message and "AF0102 Nowhere" in message
    assert "ADM2_PCODE" in message and "boundaries_path" in message and "\n" not in message


def test_transliterations_of_one_name_share_a_skeleton():
    assert name_skeleton("Bihsud") == name_skeleton("Behsud")
    assert name_skeleton("Sari Pul") == name_skeleton("Sar-e Pul")
    assert name_skeleton("Dih Sabz") == name_skeleton("Deh Sabz")
    assert name_skeleton("Kabul") != name_skeleton("Paghman")


def test_level_2_on_a_source_without_districts_is_refused_everywhere(tmp_path, capsys):
    with pytest.raises(ParameterError, match=r"level=2 \(districts\) needs a source whose files name districts \(hdx\)"):
        load_dataset("ucdp", DATA / "ucdp_ged_sample.csv", freq="MS", level=2)
    with pytest.raises(ParameterError, match="level 3 is not an administrative level"):
        load_dataset("hdx", "x.xlsx", level=3)

    notebooks = [notebook_spec(ROOT / "notebooks" / "01_data_overview.ipynb")]
    config = load_config(ROOT / "config" / "default.yaml", ["source=csv", "events_path=x.csv", "level=2"])
    with pytest.raises(ParameterError, match="parameter 'level' is 2 .* source 'csv' names provinces only"):
        validate_parameters(config, notebooks)
    with pytest.raises(ParameterError, match="parameter 'level' is 3; use 1 \\(provinces\\) or 2 \\(districts\\)"):
        validate_parameters(load_config(ROOT / "config" / "default.yaml", ["level=3"]), notebooks)

    code = main(["predict", "--source", "csv", "--events", str(DATA / "generic_events.csv"), "--level", "2"])
    assert code == 2 and "csv files name provinces only" in capsys.readouterr().err


def test_the_commands_on_a_district_panel_without_boundaries(workbook, capsys):
    code = main(["predict", "--source", "hdx", "--events", str(workbook), "--freq", "MS", "--level", "2",
                 "--horizon", "2", "--n-draws", "50", "--no-progress", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "endemic_flat, endemic_flat_psi left out" in captured.err and "--boundaries" in captured.err
    document = json.loads(captured.out)
    assert document["models"] == ["hist_mean", "recent_mean", "ingarch"]
    assert {row["unit_id"] for row in document["forecasts"]} == {d[0] for d in fake.HDX_DISTRICTS}

    code = main(["warn", "--source", "hdx", "--events", str(workbook), "--freq", "MS", "--level", "2"])
    assert code == 2 and "--boundaries" in capsys.readouterr().err


def test_warn_on_districts_with_their_boundaries(workbook, district398, capsys):
    code = main(["warn", "--source", "hdx", "--events", str(workbook), "--freq", "MS", "--level", "2",
                 "--boundaries", str(district398), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    document = json.loads(captured.out)
    assert sorted(u["unit_id"] for u in document["stronghold"]) == ["AF0601", "AF0602"]  # Nangarhar's districts
    assert len(document["units"]) == 5


def _pages(result) -> dict[str, str]:
    return {page.stem: page.read_text(encoding="utf-8") for page in sorted(result.folder.glob("*.html"))}


@pytest.mark.slow
def test_the_reports_run_on_a_district_panel_without_boundaries(tmp_path, workbook):
    from forecast.runner.run import run_reports

    result = run_reports(ROOT / "config" / "default.yaml",
                         ["source=hdx", f"events_path={workbook}", "freq=MS", "level=2", "horizon=2", "as_of=null"],
                         reports_dir=tmp_path / "reports", project_root=ROOT)

    assert result.ok, result.manifest["notebooks"]
    pages = _pages(result)
    assert len(pages) == 5
    assert "district counts summed per province" in pages["01_data_overview"]
    assert "endemic_flat, endemic_flat_psi (neighbour terms) left out" in pages["02_province_forecasts"]
    assert "endemic_epidemic" not in pages["03_backtest"].split("left out")[1]
    for name in ("04_early_warning", "05_spread_attribution"):
        assert "this page stands aside" in pages[name], name
    assert "Nahri Sarraj" in pages["02_province_forecasts"] and "no map of the district forecasts" in pages["02_province_forecasts"]


@pytest.mark.slow
def test_the_reports_run_on_a_district_panel_with_its_boundary_file(tmp_path, workbook, district398):
    from forecast.runner.run import run_reports

    result = run_reports(ROOT / "config" / "default.yaml",
                         ["source=hdx", f"events_path={workbook}", "freq=MS", "level=2", "horizon=2", "as_of=null",
                          f"boundaries_path={district398}"],
                         reports_dir=tmp_path / "reports", project_root=ROOT)

    assert result.ok, result.manifest["notebooks"]
    pages = _pages(result)
    for name, text in pages.items():
        assert "from district398.shp" in text and "4 adjacent pairs" in text, name
        assert "stands aside" not in text, name
    assert "Stronghold: Jalalabad and Behsud" in pages["04_early_warning"]
    assert "Stronghold: Jalalabad and Behsud" in pages["05_spread_attribution"]


def test_all_398_districts_match_with_the_layers_own_adjacency(district398):
    """At scale: a panel naming every district398 district gets the layer's 1,090 pairs, repeated names told apart."""
    from forecast.geo.districts import districts_without_layer
    from forecast.geo.gazetteer import Gazetteer

    layer = gpd.read_file(district398)
    provinces = Gazetteer.load("AFG")
    parents = provinces.resolve_names(layer["PROV_34_NA"])
    pcodes = parents.map(provinces.units.set_index("unit_id")["pcode"])
    units = pd.DataFrame({"unit_id": [f"{p}{d % 100:02d}" for p, d in zip(pcodes, layer["DISTID"], strict=True)],
                          "name": layer["DIST_34_NA"], "parent_id": parents})

    matched = district_layer(district398, units, "AFG")
    assert len(matched.crosswalk) == 398 and (matched.pairs["basis"] == "contiguity").all()
    assert len(matched.pairs) == 2 * 1090
    names = matched.gazetteer.units.set_index("unit_id")["name"]
    assert {"Qarabagh (Kabul)", "Qarabagh (Ghazni)"} <= set(names)  # one name, two provinces
    assert len(districts_without_layer(units, "AFG").units) == 398
