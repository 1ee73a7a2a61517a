"""Several countries in one panel (issue 18): an AFG+PAK synthetic run end to end.

Pakistan ships as fact tables without geometry (``scripts/build_gazetteer_pak.py``):
ISO 3166-2:PK units, name variants, and the pairs across the Durand Line. The
tests check the combined gazetteer, names resolved per event country, the
synthetic process over the combined adjacency, ``forecast predict`` and
``forecast warn`` with ``--country AFG,PAK``, the spread model's use of the
Nangarhar - Khyber Pakhtunkhwa pair, the maps and the run parameter.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import geopandas as gpd
import matplotlib
import numpy as np
import pandas as pd
import pytest
import shapely

from forecast.checks import countries
from forecast.cli import main
from forecast.data.dataset import load_dataset
from forecast.data.synthetic import generate_scenario
from forecast.errors import ParameterError
from forecast.geo.boundaries import load_boundaries
from forecast.geo.gazetteer import Gazetteer

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
#: The 13 cross-border pairs of cross_border_adjacency.csv, each once.
DURAND_LINE = {
    ("AF-BDS", "PK-GB"), ("AF-BDS", "PK-KP"), ("AF-NUR", "PK-KP"), ("AF-KNR", "PK-KP"), ("AF-NAN", "PK-KP"),
    ("AF-PIA", "PK-KP"), ("AF-KHO", "PK-KP"), ("AF-PKA", "PK-KP"), ("AF-PKA", "PK-BA"), ("AF-ZAB", "PK-BA"),
    ("AF-KAN", "PK-BA"), ("AF-HEL", "PK-BA"), ("AF-NIM", "PK-BA"),
}  # fmt: skip


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return Gazetteer.load("AFG,PAK")


@pytest.fixture(scope="module")
def data():
    return load_dataset("synthetic", country=["AFG", "PAK"])


def cli_json(capsys, *args: str) -> dict:
    code = main([*args, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


# ------------------------------------------------------------------ the gazetteer


def test_combined_gazetteer_has_both_countries_unique_ids_and_the_durand_line(gaz):
    assert gaz.countries == ["AFG", "PAK"]
    assert len(gaz.unit_ids) == 34 + 7 == len(set(gaz.unit_ids))
    assert gaz.units.groupby("country").size().to_dict() == {"AFG": 34, "PAK": 7}
    country = dict(zip(gaz.units["unit_id"], gaz.units["country"], strict=True))
    pairs = {(a, b) for a, b in zip(gaz.adjacency["unit_id"], gaz.adjacency["neighbour_id"], strict=True)}
    cross = {tuple(sorted(p)) for p in pairs if country[p[0]] != country[p[1]]}
    assert cross == DURAND_LINE
    matrix = gaz.adjacency_matrix()
    # 80 Afghan pairs, 11 Pakistani ones, 13 across the border; symmetric, no loops.
    assert int(matrix.sum()) // 2 == 80 + 11 + 13 and (matrix == matrix.T).all() and int(matrix.trace()) == 0
    assert "PK-KP" in gaz.neighbours("AF-NAN") and "AF-NAN" in gaz.neighbours("PK-KP")
    # Kabul to Punjab: Kabul - Nangarhar - Khyber Pakhtunkhwa - Punjab.
    assert gaz.adjacency_order(["AF-KAB", "PK-PB"])[0, 1] == 3.0
    # One-country loads are unchanged by the second country's tables.
    assert len(Gazetteer.load("AFG").unit_ids) == 34 and Gazetteer.load("AFG").neighbours("AF-NAN") == [
        "AF-KAB", "AF-KNR", "AF-LAG", "AF-LOG", "AF-PIA"
    ]


def test_names_resolve_within_the_events_country(gaz):
    assert gaz.resolve("Khyber", country="PAK") == "PK-KP"
    assert gaz.resolve("Khyber", country="AFG") is None  # a "Khyber" in Pakistan is no Afghan province
    assert [gaz.resolve(n, country="PAK") for n in ("KPK", "NWFP", "FATA", "Baluchistan", "Azad Kashmir", "PK-TA")] == [
        "PK-KP", "PK-KP", "PK-KP", "PK-BA", "PK-JK", "PK-KP"
    ]
    assert gaz.resolve("Nangarhar", country="PAK") is None and gaz.resolve("Nangarhar") == "AF-NAN"
    names = pd.Series(["Khyber", "Nangarhar", "Punjab", "Kunar"])
    assert gaz.resolve_names(names, pd.Series(["PAK", "AFG", "AFG", "AFG"])).tolist()[:2] == ["PK-KP", "AF-NAN"]
    assert gaz.resolve_names(names, pd.Series(["PAK", "AFG", "AFG", "AFG"])).isna().tolist() == [False, False, True, False]
    assert gaz.country_of("PK-SD") == "PAK" and gaz.country_of("AF-HEL") == "AFG"
    assert int(gaz.units.loc[gaz.units["country"] == "PAK", "population"].sum()) == 241_499_431 + 4_045_366 + 1_492_924


def test_an_event_files_country_column_decides_where_a_name_resolves(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text(
        "date,country,admin1,actor,fatalities\n"
        "2021-01-04,Afghanistan,Nangarhar,IS,2\n"
        "2021-01-05,Pakistan,Khyber,IS,1\n"
        "2021-01-12,PAK,KPK,IS,0\n"
        "2021-01-13,AFG,Kunar,IS,3\n",
        encoding="utf-8",
    )
    both = load_dataset("csv", path, country="AFG,PAK", freq="MS", as_of="2021-01-31")
    assert both.events["admin1_code"].tolist() == ["AF-NAN", "PK-KP", "PK-KP", "AF-KNR"]
    assert both.panel["unit_id"].nunique() == 41
    totals = both.panel.groupby("unit_id")["y"].sum()
    assert totals[totals > 0].to_dict() == {"AF-KNR": 1, "AF-NAN": 1, "PK-KP": 2}
    # One country keeps only its rows (the two Pakistani events are filtered, not mismatched).
    afghan = load_dataset("csv", path, country="AFG", freq="MS", as_of="2021-01-31")
    assert afghan.panel["unit_id"].nunique() == 34 and int(afghan.panel["y"].sum()) == 2


def test_a_ucdp_file_with_pakistani_rows_reads_both_countries_and_unknown_ones_are_refused(tmp_path):
    from forecast.data import read_events
    from forecast.errors import InputError

    result = read_events("ucdp", ROOT / "tests" / "data" / "ucdp_ged_sample.csv")
    pakistani = result.events[result.events["country_iso3"] == "PAK"]
    # UCDP writes "Khyber Pakhtunkhwa province"; both rows land in PK-KP, none in Afghanistan.
    assert pakistani["admin1_code"].tolist() == ["PK-KP", "PK-KP"]
    assert result.events["country_iso3"].value_counts().to_dict()["AFG"] >= 15
    path = tmp_path / "events.csv"
    path.write_text("date,country,admin1,actor,fatalities\n2021-01-04,Afghanistan,Nangarhar,IS,2\n"
                    "2021-01-05,Iran,Sistan and Baluchestan,IS,1\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"column 'country'.*only for AFG, PAK"):
        read_events("csv", path)


def test_a_boundary_layers_gazetteer_is_the_same_multi_country_gazetteer():
    from forecast.geo.derive import gazetteer_from_boundaries

    layer = gazetteer_from_boundaries(
        ROOT / "tests" / "data" / "two_countries.geojson", id_column="shapeID", name_column="shapeName",
        country_column="shapeGroup", cache_dir=None,
    )
    combined = layer.combined
    assert isinstance(combined, Gazetteer) and combined.countries == ["AFG", "PAK"]
    assert combined.neighbours("AFG-3") == layer.neighbours("AFG-3") == ["AFG-2", "PAK-1"]
    # Both countries have a "Central": only the event's country tells which.
    assert combined.resolve("Central") is None
    assert (combined.resolve("Central", country="AFG"), combined.resolve("Central", country="PAK")) == ("AFG-3", "PAK-2")


def test_the_pakistan_tables_are_rebuilt_byte_identically(tmp_path):
    import subprocess
    import sys

    script = ROOT / "scripts" / "build_gazetteer_pak.py"
    subprocess.run([sys.executable, str(script), "--out", str(tmp_path)], check=True, capture_output=True)
    shipped = ROOT / "src" / "forecast" / "geo" / "tables"
    names = ["PAK_units.csv", "PAK_aliases.csv", "PAK_adjacency.csv", "PAK_points.csv", "cross_border_adjacency.csv"]
    for name in names:
        assert (tmp_path / name).read_bytes() == (shipped / name).read_bytes(), name


def test_country_parameter_spellings_and_errors():
    assert countries("AFG") == "AFG"
    assert countries(["PAK", "AFG"]) == countries("afg, pak") == countries("AFG+PAK") == "AFG,PAK"
    with pytest.raises(ParameterError, match="'Atlantis' is not a country"):
        countries("AFG,Atlantis")
    with pytest.raises(ParameterError, match="no gazetteer for country"):
        Gazetteer.load("AFG,IRN")


# ------------------------------------------------------------------ synthetic panel, CLI, spread model


def test_synthetic_panel_spans_both_countries_with_cross_border_neighbours(data):
    assert data.country == "AFG,PAK"
    assert data.panel["unit_id"].nunique() == 41
    per_country = data.events["country_iso3"].value_counts().to_dict()
    assert set(per_country) == {"AFG", "PAK"}
    assert per_country["PAK"] >= 50  # two cross-border spread targets and the neighbour coupling
    assert (data.events.loc[data.events["admin1_code"].str.startswith("PK-"), "country_iso3"] == "PAK").all()
    assert "PK-KP" in data.neighbours["AF-NAN"] and "AF-NAN" in data.neighbours["PK-KP"]
    truth = data.scenario.truth.set_index("unit_id")["onset"]
    assert f"{truth['PK-KP']:%F}" == "2021-07-05" and f"{truth['PK-BA']:%F}" == "2021-10-18"
    # Seeded: the same parameters give the same events.
    again = generate_scenario(country="PAK,AFG")
    pd.testing.assert_frame_equal(again.events, data.scenario.events)
    # The Afghan default is untouched by the option: no country key in its description.
    assert "country" not in generate_scenario(seed=3, end="2014-03-31").describe()["config"]


def test_predict_forecasts_units_of_both_countries(capsys):
    doc = cli_json(
        capsys, "predict", "--country", "AFG,PAK", "--models", "hist_mean,endemic_epidemic(lags=4)",
        "--horizon", "2", "--n-draws", "200", "--no-progress",
    )
    table = pd.DataFrame(doc["forecasts"])
    assert table["unit_id"].nunique() == 41
    assert {u[:2] for u in table["unit_id"]} == {"AF", "PK"}
    spread = table[(table["model"] == "endemic_epidemic") & (table["step"] == 1)].set_index("unit_id")["mean"]
    # Khyber Pakhtunkhwa, a spread target since July 2021, is forecast above quiet Sindh.
    assert spread["PK-KP"] > 0.1 > spread["PK-SD"]
    assert np.isfinite(table["mean"]).all()


def test_backtest_scores_both_countries(capsys):
    doc = cli_json(
        capsys, "backtest", "--country", "AFG,PAK", "--models", "hist_mean,endemic_epidemic(lags=4)",
        "--horizon", "2", "--n-draws", "100", "--start", "2021-10-04", "--end", "2021-12-06", "--every", "4",
        "--no-progress",
    )
    assert "synthetic" in doc["source"] and doc["failures"] == 0
    # 41 units x 3 origins x 2 steps scored per model.
    assert doc["cutoffs"] == ["2021-10-04", "2021-11-01", "2021-11-29"]
    assert {model: scores["n"] for model, scores in doc["models"].items()} == {
        "zero": 246, "hist_mean": 246, "endemic_epidemic": 246
    }
    # The spread model, with its cross-border neighbours, beats the historical mean.
    assert doc["models"]["endemic_epidemic"]["crps"] < doc["models"]["hist_mean"]["crps"]


def test_warn_assesses_pakistani_units_across_the_border(capsys):
    doc = cli_json(capsys, "warn", "--country", "AFG,PAK")
    units = {u["unit_id"]: u for u in doc["units"]}
    assert len(units) == 40  # every unit but the stronghold
    assert "AF-NAN" not in units and {u for u in units if u.startswith("PK-")} == {
        "PK-BA", "PK-GB", "PK-IS", "PK-JK", "PK-KP", "PK-PB", "PK-SD"
    }
    # Balochistan, struck after its synthetic onset in October 2021, is raised.
    assert units["PK-BA"]["level"] in {"warning", "alert"}


def test_the_spread_model_imports_into_khyber_pakhtunkhwa_over_the_border(data, gaz):
    from forecast.spread import spillover_share

    with_border = spillover_share(data.panel, ["AF-NAN"], gazetteer=gaz, spec="contiguous")
    assert with_border.available, with_border.note
    kp = with_border.units.set_index("unit_id").loc["PK-KP"]
    # Imported from Nangarhar through the Durand Line pair: a clear share in the year before.
    assert kp["baseline_share"] > 0.05 and kp["imported"] > 0
    # The same fit without the cross-border pairs cannot import anything into Pakistan.
    country = dict(zip(gaz.units["unit_id"], gaz.units["country"], strict=True))
    inside = [country[a] == country[b] for a, b in zip(gaz.adjacency["unit_id"], gaz.adjacency["neighbour_id"], strict=True)]
    cut = dataclasses.replace(gaz, adjacency=gaz.adjacency[inside].reset_index(drop=True))
    assert "PK-KP" not in cut.neighbours("AF-NAN")
    without = spillover_share(data.panel, ["AF-NAN"], gazetteer=cut, spec="contiguous")
    assert without.available, without.note
    assert float(without.units.set_index("unit_id").loc["PK-KP", "imported"]) == 0.0
    # The default specification links the stronghold to every recently active province whatever
    # the borders (issue 15): Khyber Pakhtunkhwa, a spread target, imports even without the pairs.
    blind = spillover_share(data.panel, ["AF-NAN"], gazetteer=cut)
    assert blind.available, blind.note
    kp_blind = blind.units.set_index("unit_id").loc["PK-KP"]
    assert kp_blind["imported"] > 0 and kp_blind["share_lo"] > 0, kp_blind


# ------------------------------------------------------------------ maps and run parameters


def test_maps_draw_both_countries_schematic_offline_and_real_with_a_pakistan_download(data, gaz, tmp_path):
    from forecast.alarms import WarningConfig, evaluate_warnings
    from forecast.viz.maps import alert_level_map, events_per_100k_map

    shapes, kind = load_boundaries(data.country, gazetteer=gaz, raw_dir=tmp_path)
    # No Pakistani geometry ships: the whole map is schematic, never half real.
    assert kind == "schematic" and sorted(shapes["unit_id"]) == gaz.unit_ids
    figure = events_per_100k_map(data.events, gaz, shapes, synthetic=True)
    text = " ".join(t.get_text() for t in figure.findobj(matplotlib.text.Text))
    assert "Khyber Pakhtunkhwa" in text and "Nangarhar" in text and "Schematic" in text
    assert "PAK census" in text
    result = evaluate_warnings(data.panel, data.last_day, "Nangarhar", WarningConfig.for_freq(data.freq), gaz)
    alerts = alert_level_map(result.units, shapes, gazetteer=gaz, stronghold=["AF-NAN"], synthetic=True)
    assert alerts.axes

    # A Pakistani boundary download (a hand-made stand-in: one box per unit) joins the shipped Afghan polygons.
    pak = gaz.country_gazetteer("PAK").units
    boxes = gpd.GeoDataFrame(
        {"shapeName": pak["name"]},
        geometry=[shapely.box(lon - 0.2, lat - 0.2, lon + 0.2, lat + 0.2) for lat, lon in zip(pak["latitude"], pak["longitude"], strict=True)],
        crs=4326,
    )
    folder = tmp_path / "boundaries"
    folder.mkdir()
    boxes.to_file(folder / "PAK_ADM1.geojson", driver="GeoJSON")
    real, kind = load_boundaries(data.country, gazetteer=gaz, raw_dir=tmp_path)
    assert kind == "cached" and sorted(real["unit_id"]) == gaz.unit_ids
    assert "AFG: boundaries: geoBoundaries ADM1" in real.attrs["boundary_source"]
    nangarhar = real.set_index("unit_id").geometry["AF-NAN"]
    assert nangarhar.contains(shapely.Point(70.45, 34.3))  # real Afghan geometry, not a schematic cell


def test_run_parameter_country_takes_a_list_or_a_comma_string(tmp_path):
    from forecast.runner.run import plan_run

    for given in ("country=[AFG, PAK]", "country=PAK,AFG"):
        plan = plan_run(
            ROOT / "config" / "default.yaml", [given], notebooks_dir=ROOT / "notebooks", project_root=ROOT,
            reports_dir=tmp_path / "reports",
        )
        received = {name: p["country"] for name, p in plan.parameters.items() if "country" in p}
        assert received and set(received.values()) == {"AFG,PAK"}
    with pytest.raises(ParameterError, match="parameter 'country' is not valid"):
        plan_run(ROOT / "config" / "default.yaml", ["country=[AFG, Atlantis]"], notebooks_dir=ROOT / "notebooks",
                 project_root=ROOT, reports_dir=tmp_path / "reports")


@pytest.mark.slow
def test_the_early_warning_notebook_runs_on_the_afg_pak_panel(tmp_path):
    """The real report notebook with ``country: [AFG, PAK]``: 40 units assessed, Balochistan raised."""
    from forecast.runner.run import run_reports

    result = run_reports(
        ROOT / "config" / "default.yaml", ["country=[AFG, PAK]", "horizon=2"], notebooks_dir=ROOT / "notebooks",
        select=["04"], reports_dir=tmp_path / "reports", project_root=ROOT,
    )
    assert result.ok
    summary = json.loads(next((tmp_path / "reports").rglob("04_early_warning.alerts.json")).read_text(encoding="utf-8"))
    assert summary["n_units"] == 40  # 34 + 7 units, less the stronghold
    raised = {row["unit"]: row["level"] for row in summary["top"]}
    assert raised.get("Balochistan") == "alert"
    page = next((tmp_path / "reports").rglob("04_early_warning.html")).read_text(encoding="utf-8")
    assert "Country: AFG,PAK" in " ".join(re.sub(r"<[^>]+>", " ", page).split())
