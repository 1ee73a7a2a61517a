"""`forecast ingest`: canonical parquet with a provenance sidecar, or one line on stderr and exit 2."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from forecast.cli import main
from forecast.files import read_sidecar
from forecast.schema import EVENT_COLUMNS

DATA = Path(__file__).parent / "data"
UCDP = DATA / "ucdp_ged_sample.csv"
FORECAST = Path(sys.executable).with_name("forecast")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_ingest_ucdp_writes_parquet_and_sidecar(tmp_path, capsys):
    out = tmp_path / "processed" / "events.parquet"
    code = main(["ingest", "ucdp", str(UCDP), "--country", "AFG", "--actor", "^IS$", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.err == ""
    assert "kept 12 events" in captured.out
    assert "dropped 2 by no location" in captured.out
    assert f"wrote {out}" in captured.out

    events = pd.read_parquet(out)
    assert list(events.columns) == EVENT_COLUMNS
    assert len(events) == 12
    assert events["admin1_code"].value_counts()["AF-NAN"] == 4

    meta = read_sidecar(out)
    assert meta is not None
    assert meta["inputs"] == [{"path": str(UCDP), "sha256": sha256(UCDP)}]
    assert meta["rows"] == 12
    assert meta["output_sha256"] == sha256(out)
    assert meta["source"] == "ucdp"
    assert meta["filters"] == {"country": "AFG", "actor": "^IS$", "start": None, "end": None}
    assert meta["dropped"] == {"country": 2, "actor": 4, "date_range": 0, "unmatched_admin1": 0, "no_location": 2}
    # Nothing but the output and its sidecar is left behind (no temporary files).
    assert sorted(p.name for p in out.parent.iterdir()) == ["events.parquet", "events.parquet.meta.json"]


def test_ingest_json_summary_and_column_mapping(tmp_path, capsys):
    out = tmp_path / "events.parquet"
    mapping = "event_id=Incident,date=Date,country=Country,admin1=Province,latitude=Lat,longitude=Lon,actor=Group,fatalities=Killed"
    code = main(
        ["ingest", "csv", str(DATA / "generic_events_custom.csv"), "--columns", mapping,
         "--country", "Afghanistan", "--json", "--out", str(out)]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads(captured.out)
    assert summary["kept"] == 5
    assert summary["dropped"]["country"] == 1
    assert summary["out"] == str(out)
    assert pd.read_parquet(out)["event_id"].tolist()[0] == "csv:INC-0001"


def test_ingest_gtd_and_acled(tmp_path, capsys):
    out = tmp_path / "gtd.parquet"
    assert main(["ingest", "gtd", str(DATA / "gtd_sample.csv"), "--country", "AF", "--actor", "Khorasan", "--out", str(out)]) == 0
    assert "kept 7 events" in capsys.readouterr().out
    out = tmp_path / "acled.parquet"
    assert main(["ingest", "acled", str(DATA / "acled_sample.csv"), "--country", "AFG", "--start", "2022-01-01", "--out", str(out)]) == 0
    assert set(pd.read_parquet(out)["event_id"]) == {"acled:AFG51003", "acled:AFG51006", "acled:AFG51008", "acled:AFG51009", "acled:AFG51010"}


BAD = [
    # (arguments after "ingest", fragments the one-line message must contain)
    (["ucdp", "tests/data/does_not_exist.csv"], ["does_not_exist.csv", "file not found"]),
    (["ucdp", "tests/data/ucdp_missing_columns.csv", "--country", "AFG"], ["ucdp_missing_columns.csv", "column 'date_start'"]),
    (["acled", "tests/data/acled_bad_date.csv"], ["acled_bad_date.csv", "row 3", "column 'event_date'"]),
    (["acled", "tests/data/acled_bad_number.csv"], ["acled_bad_number.csv", "row 4", "column 'fatalities'"]),
    (["acled", "tests/data/acled_unknown_province.csv", "--country", "AFG"], ["acled_unknown_province.csv", "column 'admin1'", "Spin Boldak"]),
    (["acled", "tests/data/acled_utf16.csv"], ["acled_utf16.csv", "UTF-16"]),
    (["csv", "tests/data/generic_latin1.csv", "--country", "AFG"], ["generic_latin1.csv", "row 2", "UTF-8"]),
    (["csv", "tests/data/generic_bad_coordinates.csv", "--country", "AFG"], ["generic_bad_coordinates.csv", "row 2", "column 'latitude'"]),
    (["csv", "tests/data/generic_events.csv"], ["generic_events.csv", "'country' column", "--country"]),
    (["csv", "tests/data/generic_events_custom.csv", "--country", "AFG"], ["generic_events_custom.csv", "column 'date'", "--columns"]),
    (["csv", "tests/data/empty.csv", "--country", "AFG"], ["empty.csv", "empty"]),
    (["acled", "tests/data/acled_header_only.csv"], ["acled_header_only.csv", "no data rows"]),
    (["ucdp", "tests/data/ucdp_ged_sample.csv", "--country", "AFG", "--actor", "Daesh"], ["ucdp_ged_sample.csv", "actor filter", "actor 18"]),
    # The sample's two Pakistani rows resolve in PAK's gazetteer (tests/test_cross_border.py); a country
    # without a gazetteer is refused up front.
    (["ucdp", "tests/data/ucdp_ged_sample.csv", "--country", "IRN"], ["--country IRN", "available: AFG, PAK"]),
    (["ucdp", "tests/data/ucdp_ged_sample.csv", "--columns", "admin1=Province"], ["--columns applies only to --source csv"]),
]


@pytest.mark.parametrize(("arguments", "fragments"), BAD, ids=[" ".join(a[:2]) + (" ..." if len(a) > 2 else "") for a, _ in BAD])
def test_bad_input_exits_2_with_one_line(arguments, fragments, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(Path(__file__).parents[1])  # the paths above are relative to the project
    out = tmp_path / "events.parquet"
    code = main(["ingest", *arguments, "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in captured.err
    assert not out.exists()


def test_console_script_in_a_subprocess(tmp_path):
    out = tmp_path / "events.parquet"
    ok = subprocess.run(
        [str(FORECAST), "ingest", "ucdp", str(UCDP), "--country", "AFG", "--actor", "^IS$", "--out", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert "kept 12 events" in ok.stdout
    assert len(pd.read_parquet(out)) == 12
    assert read_sidecar(out)["inputs"][0]["sha256"] == sha256(UCDP)

    bad = subprocess.run(
        [str(FORECAST), "ingest", "acled", str(DATA / "acled_bad_date.csv"), "--out", str(tmp_path / "bad.parquet")],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1
    assert "acled_bad_date.csv, row 3, column 'event_date'" in bad.stderr
    assert bad.stdout == ""


def test_unknown_province_resolved_by_alias_or_by_boundaries(tmp_path, capsys, shared_data):
    from forecast.cli import main

    source = DATA / "acled_unknown_province.csv"
    out = tmp_path / "events.parquet"
    assert main(["ingest", "acled", str(source), "--out", str(out)]) == 2
    assert "Spin Boldak" in capsys.readouterr().err
    # An alias the analyst supplies: the row goes where the alias says.
    assert main(["ingest", "acled", str(source), "--aliases", "Spin Boldak=Kandahar", "--out", str(out)]) == 0
    events = pd.read_parquet(out)
    assert "AF-KAN" in set(events["admin1_code"])
    # Boundaries place the row by its coordinates (Jalalabad lies in Nangarhar).
    boundaries = shared_data / "afghanistan" / "provinces_adm1.geojson"
    assert main(["ingest", "acled", str(source), "--boundaries", str(boundaries), "--out", str(out)]) == 0
    events = pd.read_parquet(out)
    jalalabad = events[(events["latitude"] - 34.4265).abs() < 1e-6]
    assert jalalabad["admin1_code"].tolist() == ["AF-NAN"]
    capsys.readouterr()
    assert main(["ingest", "acled", str(source), "--aliases", "Spin Boldak"]) == 2
    assert "--aliases" in capsys.readouterr().err
