"""Event readers: provider layouts in, canonical events out, one-line errors for bad files.

The fixtures in tests/data follow the providers' published layouts (see
FORMATS.md): ucdp_ged_sample.csv has all 49 GED columns, acled_sample.csv the
31 ACLED export columns, gtd_sample.csv a Latin-1 GTD extract. The expected
values below are read off those files by hand.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from forecast.data import (
    DROP_REASONS,
    IngestResult,
    read_acled,
    read_canonical,
    read_csv,
    read_events,
    read_gtd,
    read_ucdp,
)
from forecast.data.ingest import country_iso3, parse_dates, parse_numbers
from forecast.errors import EmptyDataError, InputError, ParameterError, UnknownUnitError
from forecast.schema import EVENT_COLUMNS, EVENTS

DATA = Path(__file__).parent / "data"
UCDP = DATA / "ucdp_ged_sample.csv"
ACLED = DATA / "acled_sample.csv"
GTD = DATA / "gtd_sample.csv"
GENERIC = DATA / "generic_events.csv"
GENERIC_CUSTOM = DATA / "generic_events_custom.csv"
CUSTOM_MAPPING = {
    "event_id": "Incident",
    "date": "Date",
    "country": "Country",
    "admin1": "Province",
    "admin2": "District",
    "latitude": "Lat",
    "longitude": "Lon",
    "actor": "Group",
    "fatalities": "Killed",
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def by_id(result: IngestResult) -> pd.DataFrame:
    return result.events.set_index("event_id")


def assert_canonical(result: IngestResult) -> None:
    """The contract every reader keeps: schema-valid, canonical column order, sorted."""
    events = result.events
    assert list(events.columns) == EVENT_COLUMNS
    EVENTS.validate(events)
    assert events["event_id"].is_unique
    assert events["admin1_code"].notna().all()
    assert events.equals(events.sort_values(["date", "event_id"], kind="stable").reset_index(drop=True))
    assert result.rows_read == len(events) + sum(result.dropped.values())
    assert list(result.dropped) == DROP_REASONS


@pytest.fixture
def boundaries():
    """Two rectangular 'provinces': Nangarhar (around Jalalabad and Khogyani) and Kabul."""
    geopandas = pytest.importorskip("geopandas")
    from shapely.geometry import box

    return geopandas.GeoDataFrame(
        {"shapeName": ["Nangarhar", "Kabul"]},
        geometry=[box(69.9, 33.9, 71.1, 34.55), box(68.7, 34.2, 69.9, 34.9)],
        crs="EPSG:4326",
    )


# ----------------------------------------------------------------------- UCDP
def test_ucdp_isis_in_afghanistan():
    before = sha256(UCDP)
    result = read_events("ucdp", UCDP, country="Afghanistan", actor="^IS$")
    assert_canonical(result)
    events = by_id(result)
    assert len(events) == 12
    assert result.rows_read == 20
    # 2 Pakistan rows, 4 Taleban-only rows, 2 IS rows without a province name
    # (one with precise coordinates, one with the country centroid, where_prec 6).
    assert result.dropped == {"country": 2, "actor": 4, "date_range": 0, "unmatched_admin1": 0, "no_location": 2}
    assert Counter(events["admin1_code"]) == {
        "AF-NAN": 4, "AF-KAB": 2, "AF-KNR": 1, "AF-KDZ": 1, "AF-JOW": 1, "AF-HER": 1, "AF-PAR": 1, "AF-BAL": 1,
    }
    assert set(events["actor"]) == {"IS"}
    assert set(events["source"]) == {"ucdp"}
    assert set(events["country_iso3"]) == {"AFG"}
    # "Nangarhar province" -> the gazetteer's unit and English name; " district" is dropped.
    assert events.loc["ucdp:401101", ["admin1_code", "admin1_name", "admin2_name"]].tolist() == [
        "AF-NAN", "Nangarhar", "Jalalabad",
    ]
    assert events.loc["ucdp:401111", "admin1_name"] == "Hirat"
    # low / best / high from the GED columns of the same names.
    assert events.loc["ucdp:401104", ["fatalities_low", "fatalities_best", "fatalities_high"]].tolist() == [170, 183, 185]
    assert events["fatalities_best"].sum() == 370
    assert sha256(UCDP) == before, "the input file must never change"


def test_ucdp_date_precision_and_event_type():
    events = by_id(read_ucdp(UCDP, country="AFG", actor="^IS$"))
    precision = events["date_precision"]
    assert precision["ucdp:401101"] == "day"  # date_prec 1
    assert precision["ucdp:401102"] == "week"  # date_prec 2: within 2-6 days
    assert precision["ucdp:401103"] == "week"  # date_prec 3: within a week
    assert precision["ucdp:401106"] == "month"  # date_prec 4
    assert precision["ucdp:401107"] == "year"  # date_prec 5
    # Ranged events are dated by date_start, at midnight.
    assert events.loc["ucdp:401102", "date"] == pd.Timestamp("2020-03-09")
    assert events.loc["ucdp:401106", "date"] == pd.Timestamp("2021-11-01")
    assert events.loc["ucdp:401102", "event_type"] == "state-based"
    assert events.loc["ucdp:401103", "event_type"] == "non-state"
    assert events.loc["ucdp:401101", "event_type"] == "one-sided"
    assert events.loc["ucdp:401102", "actor_raw"] == "Government of Afghanistan - IS"


def test_ucdp_actor_is_the_side_that_matches_the_filter():
    events = by_id(read_ucdp(UCDP, country="AFG", actor="Taleban"))
    assert len(events) == 7
    assert set(events["actor"]) == {"Taleban"}
    # In "IS - Taleban" side_a is IS; the filter asked for the Taleban side.
    assert events.loc["ucdp:401103", "actor_raw"] == "IS - Taleban"
    # Without a filter the actor is the non-government side (state-based) or side_a.
    assert by_id(read_ucdp(UCDP, country="AFG")).loc["ucdp:401103", "actor"] == "IS"


def test_ucdp_date_range_is_inclusive():
    result = read_ucdp(UCDP, country="AFG", actor="^IS$", start="2020-06-01", end="2021-11-15")
    assert_canonical(result)
    assert result.dropped["date_range"] == 7
    assert result.dropped["no_location"] == 1
    assert sorted(result.events["event_id"]) == [
        "ucdp:401101", "ucdp:401103", "ucdp:401104", "ucdp:401105", "ucdp:401106", "ucdp:401110",
    ]


def test_ucdp_boundaries_place_events_without_a_province_name(boundaries):
    result = read_ucdp(UCDP, country="AFG", actor="^IS$", boundaries=boundaries)
    events = by_id(result)
    assert len(events) == 13
    assert events.loc["ucdp:401108", "admin1_code"] == "AF-NAN"  # Khogyani, by point-in-polygon
    # where_prec 6: the coordinates are the country's centroid, never placed.
    assert result.dropped["no_location"] == 1
    assert "ucdp:401109" not in events.index


def test_ucdp_boundaries_from_a_geojson_path(boundaries, tmp_path):
    path = tmp_path / "provinces.geojson"
    boundaries.to_file(path, driver="GeoJSON")
    events = by_id(read_ucdp(UCDP, country="AFG", actor="^IS$", boundaries=str(path)))
    assert events.loc["ucdp:401108", "admin1_code"] == "AF-NAN"


def test_ucdp_point_outside_every_boundary(boundaries):
    kabul_only = boundaries[boundaries["shapeName"] == "Kabul"]
    with pytest.raises(UnknownUnitError) as caught:
        read_ucdp(UCDP, country="AFG", actor="^IS$", boundaries=kabul_only)
    message = str(caught.value)
    assert "ucdp_ged_sample.csv" in message and "row 8" in message and "outside every province boundary" in message
    result = read_ucdp(UCDP, country="AFG", actor="^IS$", boundaries=kabul_only, unmatched="drop")
    assert result.dropped["unmatched_admin1"] == 1
    assert len(result.events) == 12


def test_ucdp_several_countries_are_matched_each_in_its_own_gazetteer_and_the_panel_asks_which():
    from forecast.data.dataset import load_dataset

    events = read_ucdp(UCDP, actor="^IS$").events
    assert events["country_iso3"].value_counts().to_dict() == {"AFG": 12, "PAK": 1}
    assert events.loc[events["country_iso3"] == "PAK", "admin1_code"].str.startswith("PK-").all()
    with pytest.raises(ParameterError, match=r"the events come from 2 countries \(AFG, PAK\).*--country AFG,PAK"):
        load_dataset("ucdp", UCDP, actor="^IS$")


def test_events_in_a_country_without_gazetteer_name_the_countries(tmp_path):
    text = UCDP.read_text(encoding="utf-8").replace("Pakistan", "Iran")
    (tmp_path / "ged.csv").write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_ucdp(tmp_path / "ged.csv", actor="^IS$")
    message = str(caught.value)
    assert "ged.csv" in message and "column 'country'" in message and "--country AFG" in message


def test_country_without_gazetteer_is_a_parameter_error():
    with pytest.raises(ParameterError, match=r"--country IRN: no gazetteer.*available: AFG, PAK"):
        read_ucdp(UCDP, country="Iran")


def test_explicit_gazetteer_is_used():
    from forecast.geo.gazetteer import Gazetteer

    gazetteer = Gazetteer.load("AFG").with_aliases({"Spin Boldak": "Kandahar"})
    events = by_id(read_acled(DATA / "acled_unknown_province.csv", country="AFG", gazetteer=gazetteer))
    assert events.loc["acled:AFG51002", "admin1_code"] == "AF-KAN"


def test_summary_names_reasons_and_counts():
    result = read_ucdp(UCDP, country="AFG", actor="^IS$")
    text = result.summary()
    assert text.splitlines()[0] == f"read 20 rows from {UCDP} (ucdp); kept 12 events"
    assert "dropped 2 by country filter" in text
    assert "dropped 4 by actor filter" in text
    assert "dropped 2 by no location" in text
    assert "give boundaries to place them" in text
    info = result.summary_dict()
    assert info["kept"] == 12 and info["rows_read"] == 20
    assert info["date_min"] == "2019-11-20" and info["date_max"] == "2022-09-02"
    assert info["filters"]["country"] == "AFG" and info["filters"]["actor"] == "^IS$"


# ---------------------------------------------------------------------- ACLED
def test_acled_isis_in_afghanistan():
    result = read_acled(ACLED, country="AFG", actor="Islamic State")
    assert_canonical(result)
    events = by_id(result)
    assert len(events) == 7
    assert result.dropped == {"country": 1, "actor": 3, "date_range": 0, "unmatched_admin1": 0, "no_location": 0}
    assert Counter(events["admin1_code"]) == {"AF-KAB": 2, "AF-KDZ": 1, "AF-NAN": 1, "AF-KNR": 1, "AF-JOW": 1, "AF-HER": 1}
    assert set(events["actor"]) == {"Islamic State (Afghanistan)"}
    # ISKP is actor2 here: the actor is the side the filter matched; actor_raw keeps both.
    assert events.loc["acled:AFG51003", "actor_raw"] == "Military Forces of Afghanistan (2021-) | Islamic State (Afghanistan)"
    assert events.loc["acled:AFG51003", "date_precision"] == "week"  # time_precision 2
    kunduz = events.loc["acled:AFG51001"]
    assert [kunduz["fatalities_low"], kunduz["fatalities_best"], kunduz["fatalities_high"]] == [72, 72, 72]
    assert kunduz["event_type"] == "Explosions/Remote violence"
    assert kunduz["country_iso3"] == "AFG"  # from the numeric ISO code 4


def test_acled_spellings_go_through_the_gazetteer():
    result = read_acled(ACLED, country="AFG")
    events = by_id(result)
    assert len(events) == 10
    assert events.loc["acled:AFG51004", "admin1_code"] == "AF-HEL"  # Hilmand
    assert events.loc["acled:AFG51005", "admin1_code"] == "AF-URU"  # Urozgan
    assert events.loc["acled:AFG51005", "date_precision"] == "month"  # time_precision 3
    assert events.loc["acled:AFG51007", "admin1_code"] == "AF-JOW"  # Jowzjan
    assert events.loc["acled:AFG51008", "admin1_code"] == "AF-HER"  # Herat
    assert events.loc["acled:AFG51004", "actor"] == "Taliban"


def test_acled_unknown_province_error_and_drop():
    path = DATA / "acled_unknown_province.csv"
    with pytest.raises(UnknownUnitError) as caught:
        read_acled(path, country="AFG")
    message = str(caught.value)
    assert "acled_unknown_province.csv" in message and "column 'admin1'" in message
    assert "'Spin Boldak' (1 row" in message and "--unmatched drop" in message
    assert "\n" not in message
    result = read_acled(path, country="AFG", unmatched="drop")
    assert result.dropped["unmatched_admin1"] == 1
    assert result.unmatched_names == {"Spin Boldak": 1}
    assert "Spin Boldak" in result.summary()
    # Spin Boldak is a district of Kandahar: an alias places it.
    aliased = by_id(read_acled(path, country="AFG", aliases={"Spin Boldak": "Kandahar"}))
    assert aliased.loc["acled:AFG51002", "admin1_code"] == "AF-KAN"


def test_acled_older_date_format_is_accepted(tmp_path):
    frame = pd.read_csv(ACLED, dtype=str, keep_default_na=False)
    frame.loc[0, "event_date"] = "08 October 2021"
    path = tmp_path / "acled_old.csv"
    frame.to_csv(path, index=False)
    events = by_id(read_acled(path, country="AFG", actor="Islamic State"))
    assert events.loc["acled:AFG51001", "date"] == pd.Timestamp("2021-10-08")


# ------------------------------------------------------------------------ GTD
GTD_ISKP_AFG = [
    "gtd:201700000002", "gtd:201708000001", "gtd:201710200012", "gtd:201711150003",
    "gtd:201712280004", "gtd:201801240007", "gtd:201804100005",
]


def check_gtd(result: IngestResult) -> None:
    assert_canonical(result)
    events = by_id(result)
    assert sorted(events.index) == GTD_ISKP_AFG
    assert result.dropped == {"country": 1, "actor": 2, "date_range": 0, "unmatched_admin1": 0, "no_location": 1}
    # iday 0: month precision, dated the 1st of the month.
    assert events.loc["gtd:201708000001", ["date", "date_precision"]].tolist() == [pd.Timestamp("2017-08-01"), "month"]
    # imonth 0: year precision, dated 1 January.
    assert events.loc["gtd:201700000002", ["date", "date_precision"]].tolist() == [pd.Timestamp("2017-01-01"), "year"]
    # A day with an approxdate range is not exact.
    assert events.loc["gtd:201711150003", "date_precision"] == "week"
    assert events.loc["gtd:201712280004", "date_precision"] == "day"
    # best/high = nkill (includes perpetrators), low = nkill - nkillter.
    tabayan = events.loc["gtd:201712280004"]
    assert [tabayan["fatalities_low"], tabayan["fatalities_best"], tabayan["fatalities_high"]] == [40, 41, 41]
    # No nkillter: low = nkill.
    assert events.loc["gtd:201708000001", "fatalities_low"] == 3
    assert set(events["actor"]) == {"Khorasan Chapter of the Islamic State"}
    assert events.loc["gtd:201801240007", "event_type"] == "Armed Assault"
    assert Counter(events["admin1_code"]) == {"AF-KAB": 3, "AF-NAN": 2, "AF-KNR": 1, "AF-JOW": 1}


def test_gtd_latin1_csv():
    result = read_gtd(GTD, country="AFG", actor="Khorasan Chapter of the Islamic State")
    check_gtd(result)
    assert any("Latin-1" in note for note in result.notes)
    assert any("approxdate" in note for note in result.notes)


def test_gtd_xlsx(tmp_path):
    # Written at test time rather than committed: numbers become numeric cells, as in the real workbook.
    workbook = tmp_path / "gtd_sample.xlsx"
    pd.read_csv(GTD, encoding="latin-1").to_excel(workbook, index=False)
    result = read_gtd(workbook, country="AFG", actor="Khorasan")
    check_gtd(result)
    assert not any("Latin-1" in note for note in result.notes)


# -------------------------------------------------------------------- generic
def test_generic_csv_default_columns():
    result = read_csv(GENERIC, country="AFG")
    assert_canonical(result)
    events = by_id(result)
    # Row 5 has coordinates but no province name and no boundaries were given.
    assert result.dropped["no_location"] == 1
    assert sorted(events.index) == ["csv:1", "csv:2", "csv:3", "csv:4", "csv:6", "csv:7"]
    assert events["admin1_code"].to_dict() == {
        "csv:1": "AF-NAN", "csv:2": "AF-HEL", "csv:3": "AF-KAB", "csv:4": "AF-KNR", "csv:6": "AF-URU", "csv:7": "AF-SAR",
    }
    assert set(events["date_precision"]) == {"day"}
    assert pd.isna(events.loc["csv:3", "fatalities_best"])  # empty cell: unknown, not zero
    assert events.loc["csv:1", "fatalities_best"] == 5
    assert set(events["source"]) == {"csv"}


def test_generic_csv_with_boundaries(boundaries):
    events = by_id(read_csv(GENERIC, country="AFG", boundaries=boundaries))
    assert events.loc["csv:5", "admin1_code"] == "AF-NAN"


def test_generic_csv_with_a_column_mapping():
    result = read_events("csv", GENERIC_CUSTOM, columns=CUSTOM_MAPPING, country="AFG", actor="Islamic State")
    assert_canonical(result)
    events = by_id(result)
    assert sorted(events.index) == ["csv:INC-0001", "csv:INC-0002", "csv:INC-0003", "csv:INC-0004"]
    assert result.dropped["country"] == 1  # the Pakistan row
    assert result.dropped["actor"] == 1  # the Taliban row
    assert events.loc["csv:INC-0003", "admin1_code"] == "AF-HER"  # "Hirat", country given as "AFG"
    assert events.loc["csv:INC-0004", "admin2_name"] == "Mazar-e Sharif"
    assert events.loc["csv:INC-0004", "fatalities_best"] == 31


def test_generic_csv_errors_suggest_the_mapping():
    with pytest.raises(InputError, match=r"--columns date=Date,admin1=Province") as caught:
        read_csv(GENERIC_CUSTOM, country="AFG")
    assert "generic_events_custom.csv" in str(caught.value) and "column 'date'" in str(caught.value)
    with pytest.raises(InputError, match=r"'Provinz' \(given by --columns admin1=Provinz\) is not in the file"):
        read_csv(GENERIC_CUSTOM, country="AFG", columns={**CUSTOM_MAPPING, "admin1": "Provinz"})
    with pytest.raises(ParameterError, match=r"unknown field\(s\) 'province'"):
        read_csv(GENERIC_CUSTOM, country="AFG", columns={"province": "Province"})
    without_actor = {k: v for k, v in CUSTOM_MAPPING.items() if k != "actor"}
    with pytest.raises(InputError, match=r"an 'actor' column for the actor filter"):
        read_csv(GENERIC_CUSTOM, country="AFG", actor="x", columns=without_actor)


def test_generic_csv_needs_a_country():
    with pytest.raises(InputError, match=r"generic_events.csv: the file has no 'country' column.*--country"):
        read_csv(GENERIC)


def test_generic_csv_precision_and_duplicate_ids(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("event_id,date,admin1,date_precision\nA,2021-10-01,Kabul,Month\nB,2021-10-04,Kabul,week\n")
    events = by_id(read_csv(path, country="AFG"))
    assert events["date_precision"].to_dict() == {"csv:A": "month", "csv:B": "week"}
    path.write_text("event_id,date,admin1\nA,2021-10-01,Kabul\nB,2021-10-04,Kabul\nA,2021-10-05,Kabul\n")
    with pytest.raises(InputError, match=r"column 'event_id': event ID 'A' appears more than once \(rows 1, 3\)"):
        read_csv(path, country="AFG")


def test_generic_ids_keep_leading_zeros(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("event_id,date,admin1\n007,2021-10-01,Kabul\n")
    assert read_csv(path, country="AFG").events["event_id"].tolist() == ["csv:007"]


# ------------------------------------------------------------------ canonical
@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_canonical_round_trip(tmp_path, suffix):
    events = read_ucdp(UCDP, country="AFG", actor="^IS$").events
    path = tmp_path / f"events{suffix}"
    if suffix == ".parquet":
        events.to_parquet(path, index=False)
    else:
        events.to_csv(path, index=False)
    back = read_canonical(path)
    pd.testing.assert_frame_equal(back, events)
    filtered = read_events("canonical", path, start="2022-01-01")
    assert filtered.dropped["date_range"] == 8
    assert len(filtered.events) == 4


def test_canonical_refuses_other_files():
    with pytest.raises(InputError, match=r"missing required column.*the header looks like a UCDP GED file: use --source ucdp"):
        read_canonical(UCDP)


# --------------------------------------------------------------- bad files
BAD_FILES = [
    # (source, file, options, error type, fragments the one-line message must contain)
    ("ucdp", "does_not_exist.csv", {}, InputError, ["does_not_exist.csv", "file not found"]),
    ("ucdp", "ucdp_missing_columns.csv", {"country": "AFG"}, InputError,
     ["ucdp_missing_columns.csv", "column 'date_start'", "'date_start', 'best'"]),
    ("acled", "acled_bad_date.csv", {"country": "AFG"}, InputError,
     ["acled_bad_date.csv", "row 3", "column 'event_date'", "'2021-13-45'", "YYYY-MM-DD"]),
    ("acled", "acled_bad_number.csv", {"country": "AFG"}, InputError,
     ["acled_bad_number.csv", "row 4", "column 'fatalities'", "'three' is not a number"]),
    ("acled", "acled_unknown_province.csv", {"country": "AFG"}, UnknownUnitError,
     ["acled_unknown_province.csv", "column 'admin1'", "Spin Boldak"]),
    ("acled", "acled_utf16.csv", {"country": "AFG"}, InputError, ["acled_utf16.csv", "UTF-16", "UTF-8"]),
    ("csv", "generic_latin1.csv", {"country": "AFG"}, InputError,
     ["generic_latin1.csv", "row 2", "line 3", "byte 0xE9", "re-save it as UTF-8"]),
    ("csv", "generic_bad_coordinates.csv", {"country": "AFG"}, InputError,
     ["generic_bad_coordinates.csv", "row 2", "column 'latitude'", "decimal separator"]),
    ("acled", "empty.csv", {}, EmptyDataError, ["empty.csv", "empty (0 bytes)"]),
    ("acled", "acled_header_only.csv", {}, EmptyDataError, ["acled_header_only.csv", "no data rows"]),
    ("ucdp", "ucdp_ged_sample.csv", {"country": "AFG", "actor": "Daesh"}, EmptyDataError,
     ["ucdp_ged_sample.csv", "after the actor filter", "country 2, actor 18"]),
    ("ucdp", "ucdp_ged_sample.csv", {"country": "AFG", "start": "2030-01-01"}, EmptyDataError,
     ["ucdp_ged_sample.csv", "after the date range", "date_range 18", "2019-11-20 to 2022-09-02"]),
    ("acled", "gtd_sample.csv", {}, InputError, ["gtd_sample.csv", "not valid UTF-8", "use --source gtd"]),
    ("gtd", "acled_sample.csv", {}, InputError, ["acled_sample.csv", "column 'eventid'", "use --source acled"]),
]


@pytest.mark.parametrize(("source", "name", "options", "error", "fragments"), BAD_FILES, ids=[f"{b[0]}-{b[1]}" for b in BAD_FILES])
def test_bad_files_raise_one_line_errors(source, name, options, error, fragments):
    path = DATA / name
    before = sha256(path) if path.exists() else None
    with pytest.raises(error) as caught:
        read_events(source, path, **options)
    message = str(caught.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message
    if before is not None:
        assert sha256(path) == before


def test_more_bad_inputs(tmp_path):
    # UTF-16 without a byte-order mark shows up as NUL bytes.
    path = tmp_path / "no_bom.csv"
    path.write_bytes(GENERIC.read_text().encode("utf-16-le"))
    with pytest.raises(InputError, match=r"no_bom.csv: the file contains NUL bytes"):
        read_csv(path, country="AFG")
    # An impossible GTD date names the row and the day column.
    frame = pd.read_csv(GTD, dtype=str, encoding="latin-1", keep_default_na=False)
    frame.loc[2, ["imonth", "iday"]] = ["2", "30"]
    path = tmp_path / "gtd_bad_day.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(InputError, match=r"gtd_bad_day.csv, row 3, column 'iday': 2017-02-30 is not a calendar date"):
        read_gtd(path, country="AFG")
    # A GED code outside the codebook.
    frame = pd.read_csv(UCDP, dtype=str, keep_default_na=False)
    frame.loc[4, "date_prec"] = "9"
    path = tmp_path / "ucdp_bad_code.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(InputError, match=r"row 5, column 'date_prec': '9' is not a valid code"):
        read_ucdp(path, country="AFG")
    # A directory is not a file.
    with pytest.raises(InputError, match=r"is a directory"):
        read_ucdp(tmp_path)


@pytest.mark.parametrize(
    ("options", "pattern"),
    [
        ({"source": "xyz"}, r"unknown source 'xyz'"),
        ({"country": "Narnia"}, r"--country 'Narnia' is not a country"),
        ({"actor": "("}, r"--actor '\(' is not a valid regular expression"),
        ({"start": "yesterday-ish"}, r"--start 'yesterday-ish' is not a date"),
        ({"start": "2022-01-01", "end": "2021-01-01"}, r"--end 2021-01-01 is before --start 2022-01-01"),
        ({"unmatched": "ignore"}, r"--unmatched 'ignore' is not known; use one of error, drop"),
        ({"columns": {"admin1": "Province"}}, r"--columns applies only to --source csv"),
    ],
)
def test_bad_parameters(options, pattern):
    options = {"source": "ucdp", "path": UCDP, "country": "AFG", **options}
    with pytest.raises(ParameterError, match=pattern):
        read_events(options.pop("source"), options.pop("path"), **options)


# ------------------------------------------------------------------ helpers
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Afghanistan", "AFG"), ("AF", "AFG"), ("afg", "AFG"), ("4", "AFG"), ("004", "AFG"),
        ("586", "PAK"), ("DR Congo (Zaire)", "COD"), ("Myanmar (Burma)", "MMR"), ("Turkey", "TUR"),
        ("West Bank and Gaza Strip", "PSE"), ("Atlantis", None), ("", None), (None, None),
    ],
)
def test_country_iso3(value, expected):
    assert country_iso3(value) == expected


def test_parse_helpers_name_the_first_bad_row():
    values = pd.Series(["2021-01-01", "2021-01-02 00:00:00.000", "01/02/2021"])
    with pytest.raises(InputError, match=r"f.csv, row 3, column 'd': cannot read the date '01/02/2021'"):
        parse_dates(values, path="f.csv", column="d", formats=("ISO8601",), expected="YYYY-MM-DD")
    with pytest.raises(InputError, match=r"row 2, column 'd': the date is empty"):
        parse_dates(pd.Series(["2021-01-01", " "]), path="f.csv", column="d", formats=("ISO8601",), expected="x")
    with pytest.raises(InputError, match=r"row 2, column 'n': '-1' is below 0"):
        parse_numbers(pd.Series(["1", "-1"]), path="f.csv", column="n", minimum=0)
    numbers = parse_numbers(pd.Series([" 1.5 ", None, ""]), path="f.csv", column="n")
    assert numbers.iloc[0] == 1.5 and numbers.iloc[1:].isna().all()


def test_the_one_table_of_sources_is_what_readers_loader_parameters_schema_and_fetch_use():
    from forecast import schema
    from forecast.cli import fetch_app
    from forecast.data import READERS
    from forecast.data.citations import LICENCES
    from forecast.data.dataset import DATASET_SOURCES
    from forecast.runner import params
    from forecast.sources import SOURCES

    assert set(READERS) == {n for n, s in SOURCES.items() if s.kind == "events"}
    assert DATASET_SOURCES == params.SOURCES == tuple(SOURCES)
    assert set(schema.SOURCES) == {n for n, s in SOURCES.items() if s.event_rows}
    assert LICENCES == {n: s.licence for n, s in SOURCES.items()}
    fetchable = {c.name or c.callback.__name__ for c in fetch_app.registered_commands}
    assert {n for n, s in SOURCES.items() if s.fetch} <= fetchable
