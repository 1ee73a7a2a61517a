"""``forecast data list`` and attribution: what data is here, where it came from, how to cite it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from forecast.data.catalog import csv_summary, data_list_json, describe, format_data_list, list_data
from forecast.data.citations import (
    ACLED_TERMS_NOTICE,
    citations_for,
    citations_for_file,
)
from forecast.data.download import DownloadSettings
from forecast.data.providers import fetch_acled, fetch_ucdp
from forecast.errors import ParameterError
from forecast.files import read_sidecar, sha256_file, write_parquet_with_sidecar

sys.path.insert(0, str(Path(__file__).parent / "data" / "http"))
import fakeproviders as fake  # noqa: E402

FAST = DownloadSettings(timeout=2.0, retries=1, backoff=0.01, progress=False)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """A data folder with a fetched UCDP release, an ACLED extract and a processed file."""
    for name in ("ACLED_ACCESS_TOKEN", "UCDP_ACCESS_TOKEN", "FORECAST_UCDP_URL_TEMPLATE"):
        monkeypatch.delenv(name, raising=False)
    server = fake.FakeServer().start()
    try:
        server.on("/ged251-csv.zip", fake.serve_bytes(fake.ged_zip()))
        fake.acled_api(server, email="fake@example.org", password="pw-FAKE-123456")
        monkeypatch.setenv("ACLED_EMAIL", "fake@example.org")
        monkeypatch.setenv("ACLED_PASSWORD", "pw-FAKE-123456")
        root = tmp_path / "data"
        ucdp = fetch_ucdp("25.1", raw_dir=root / "raw", url_template=server.url("/ged{version_nodot}-csv.zip"),
                          settings=FAST)
        fetch_acled("Afghanistan", start="2021-01-01", end="2021-12-31", raw_dir=root / "raw",
                    base_url=server.base, settings=FAST)
    finally:
        server.stop()
    events = pd.DataFrame({"event_id": ["a", "b"], "date": pd.to_datetime(["2021-01-04", "2021-03-02"])})
    write_parquet_with_sidecar(events, root / "processed" / "events.parquet", inputs=[ucdp.events_path],
                               kind="events", source="ucdp")
    panel = pd.DataFrame({"unit_id": ["AF01"] * 2, "ds": pd.to_datetime(["2021-01-04", "2021-01-11"]), "y": [1, 0]})
    write_parquet_with_sidecar(panel, root / "processed" / "panel.parquet",
                               inputs=[root / "processed" / "events.parquet"], kind="panel")
    (root / "raw" / "README.md").write_text("raw data lives here\n")
    (root / "raw" / "ucdp" / ".ged261-csv.zip.part").write_bytes(b"half a download")
    return root


def by_name(files):
    return {info.name: info for info in files}


def test_lists_every_raw_and_processed_file_with_provenance(data_dir):
    files = by_name(list_data(data_dir))

    assert sorted(files) == [
        "GEDEvent_v25_1.csv", "acled_afghanistan_2021-01-01_2021-12-31.csv", "events.parquet",
        "ged251-csv.zip", "panel.parquet",
    ]  # README, sidecars and the partial download are not data
    ged = files["GEDEvent_v25_1.csv"]
    assert (ged.area, ged.source, ged.version, ged.rows) == ("raw", "ucdp", "25.1", 5)
    assert (ged.date_min, ged.date_max, ged.date_column) == ("2020-12-19", "2021-11-18", "date_start")
    assert ged.sha256 == sha256_file(ged.path) and ged.status == "ok"
    assert [Path(p).name for p in ged.inputs] == ["ged251-csv.zip"]
    assert ged.url.endswith("/ged251-csv.zip")

    acled = files["acled_afghanistan_2021-01-01_2021-12-31.csv"]
    assert acled.source == "acled" and acled.rows == 5
    assert (acled.date_min, acled.date_max) == ("2021-02-01", "2021-11-02")

    events = files["events.parquet"]
    assert events.area == "processed" and events.source == "ucdp" and events.rows == 2
    assert (events.date_min, events.date_max) == ("2021-01-04", "2021-03-02")
    assert [Path(p).name for p in events.inputs] == ["GEDEvent_v25_1.csv"]

    panel = files["panel.parquet"]
    assert panel.source == "ucdp"  # inherited through events.parquet's sidecar
    assert (panel.date_min, panel.date_max, panel.date_column) == ("2021-01-04", "2021-01-11", "ds")
    assert [Path(p).name for p in panel.inputs] == ["events.parquet"]


def test_changed_files_and_files_without_sidecar_are_flagged(data_dir):
    zip_file = data_dir / "raw" / "ucdp" / "ged251-csv.zip"
    zip_file.write_bytes(zip_file.read_bytes() + b"!")
    loose = data_dir / "raw" / "mine" / "events.csv"
    loose.parent.mkdir()
    loose.write_text("event_date,x\n2020-05-01,1\n2020-01-03,2\n2020-02-01,3\n")

    files = by_name(list_data(data_dir))

    assert files["ged251-csv.zip"].status == "changed"
    assert files["ged251-csv.zip"].sha256 != files["ged251-csv.zip"].recorded_sha256
    mine = files["events.csv"]
    assert mine.status == "no sidecar" and mine.source is None and mine.rows == 3
    assert (mine.date_min, mine.date_max) == ("2020-01-03", "2020-05-01")


def test_the_printed_table_and_json(data_dir):
    files = list_data(data_dir)

    table = format_data_list(files)
    lines = table.splitlines()
    assert lines[0].split() == ["area", "file", "source", "version", "rows", "dates", "sha256", "status", "made",
                                "from"]
    ged_line = next(line for line in lines if line.rstrip().endswith("ged251-csv.zip") and "GEDEvent" in line)
    ged = read_sidecar(data_dir / "raw" / "ucdp" / "GEDEvent_v25_1.csv")
    assert ged["sha256"][:12] in ged_line and "2020-12-19 .. 2021-11-18" in ged_line and " 5 " in ged_line
    parsed = json.loads(data_list_json(files))
    assert {entry["path"] for entry in parsed} == {str(f.path) for f in files}
    assert all(len(entry["sha256"]) == 64 for entry in parsed)
    assert format_data_list([]).startswith("no data files")


def test_empty_or_missing_data_folder(tmp_path):
    assert list_data(tmp_path / "nothing") == []


def test_csv_summary_handles_quoted_newlines_and_missing_date_column(tmp_path):
    rows, column, low, high = csv_summary(fake.GED_CSV)
    assert (rows, column, low, high) == (5, "date_start", "2020-12-19", "2021-11-18")
    plain = tmp_path / "plain.csv"
    plain.write_text("a,b\n1,2\n3,4\n")
    assert csv_summary(plain) == (2, None, None, None)
    assert describe(plain).rows == 2


# -------------------------------------------------------------- attribution


def test_attribution_for_each_source():
    ucdp = citations_for(["ucdp"], versions={"ucdp": "25.1"})
    assert ucdp[0].startswith("Sundberg, Ralph & Erik Melander (2013)") and "Journal of Peace Research 50(4)" in ucdp[0]
    assert any("Davies" in line and "Pettersson" in line and "Öberg" in line for line in ucdp)
    assert any("version 25.1" in line and "CC BY 4.0" in line for line in ucdp)

    acled = citations_for(["acled"], accessed={"acled": "2025-06-01"})
    assert "accessed 2025-06-01" in acled[0]
    assert ACLED_TERMS_NOTICE in acled and "ACLED data may not be redistributed" in ACLED_TERMS_NOTICE

    assert "START" in citations_for(["gtd"])[0]
    assert "Synthetic" in citations_for(["synthetic"])[0]
    candidate = citations_for(["ucdp-candidate"], versions={"ucdp": "25.0.3"})
    assert any("Candidate" in line for line in candidate)


def test_attribution_for_several_sources_has_no_repeats_and_rejects_unknown_ones():
    lines = citations_for(["ucdp", "UCDP", "acled"])
    assert len(lines) == len(set(lines))
    assert sum("Sundberg" in line for line in lines) == 1 and any("ACLED" in line for line in lines)
    with pytest.raises(ParameterError, match="no attribution known for source 'icews'"):
        citations_for(["icews"])


def test_attribution_follows_a_processed_file_back_to_its_raw_file(data_dir):
    lines = citations_for_file(data_dir / "processed" / "panel.parquet")

    assert any("Sundberg" in line for line in lines)
    assert any("version 25.1" in line for line in lines)
    assert citations_for_file(data_dir / "raw" / "README.md") == []
