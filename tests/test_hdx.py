"""HDX's ACLED sub-national aggregates: the workbook reader, district and province panels, the download.

The workbooks are written here with openpyxl in the published layout (a
``TOU`` sheet, then ``Data``: seven districts of four provinces, 2020 and
2021, zero rows, a district renamed between the years). Downloads run
against the local server of tests/data/http/fakeproviders.py, playing HDX's
CKAN API; no test reaches the internet.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest

from forecast.data.dataset import load_dataset
from forecast.data.download import DownloadSettings
from forecast.data.hdx import dataset_name, read_hdx
from forecast.data.providers import fetch_hdx
from forecast.errors import DownloadError, InputError, ParameterError, UnknownUnitError
from forecast.files import read_sidecar, sha256_file, sidecar_path
from forecast.models.registry import forecast_panel

sys.path.insert(0, str(Path(__file__).parent / "data" / "http"))
import fakeproviders as fake  # noqa: E402

PROVINCE = {"AF01": "AF-KAB", "AF06": "AF-NAN", "AF30": "AF-HEL", "AF22": "AF-SAR"}


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    return fake.hdx_workbook(tmp_path / "data" / "raw" / "hdx" / "afghanistan_civilian_targeting.xlsx")


def expected_totals(by: str) -> dict[str, int]:
    """Events per district (``by="district"``) or province, added up from the rows written."""
    totals: dict[str, int] = defaultdict(int)
    for row in fake.hdx_rows():
        key = row[4] if by == "district" else PROVINCE[row[5]]
        totals[key] += row[8]
    return dict(totals)


def test_province_panel_sums_districts_and_has_every_province(workbook):
    read = read_hdx(workbook)

    assert read.freq == "MS" and read.level == 1 and read.rows_read == 7 * 24
    data = load_dataset("hdx", workbook, freq="MS")
    panel = data.panel
    assert panel["unit_id"].nunique() == 34 and panel["ds"].nunique() == 24
    assert f"{panel['ds'].min():%F}" == "2020-01-01" and f"{panel['ds'].max():%F}" == "2021-12-01"
    totals = panel.groupby("unit_id")["y"].sum()
    for unit, total in expected_totals("province").items():
        assert totals[unit] == total
    assert totals.drop(list(PROVINCE.values())).sum() == 0
    kabul_jan = [r for r in fake.hdx_rows() if r[5] == "AF01" and r[6] == "January" and r[7] == 2021]
    row = panel[(panel["unit_id"] == "AF-KAB") & (panel["ds"] == "2021-01-01")].iloc[0]
    assert row["y"] == sum(r[8] for r in kabul_jan) and row["fatalities_best"] == sum(r[9] for r in kabul_jan)
    assert data.counts is not None and data.events.empty and data.country == "AFG"


def test_district_panel_keeps_p_codes_names_provinces_and_zero_districts(workbook):
    read = read_hdx(workbook, level=2)

    units = read.units.set_index("unit_id")
    assert list(units.index) == sorted(d[0] for d in fake.HDX_DISTRICTS)
    assert units.loc["AF0601", "parent_id"] == "AF-NAN" and units.loc["AF2201", "parent_id"] == "AF-SAR"
    # The renamed district is one unit, named by its latest spelling, and the note says so.
    assert units.loc["AF3002", "name"] == "Nahri Sarraj"
    assert any("AF3002" in note and "Nahr-e Saraj" in note and "Nahri Sarraj" in note for note in read.notes)

    data = load_dataset("hdx", workbook, freq="MS", level=2)
    assert sorted(data.panel["unit_id"].unique()) == sorted(units.index)
    assert len(data.panel) == 7 * 24
    totals = data.panel.groupby("unit_id")["y"].sum().to_dict()
    assert totals == expected_totals("district") and totals["AF2201"] == 0


def test_district_panels_run_models_without_neighbours_and_say_why_others_cannot(workbook):
    data = load_dataset("hdx", workbook, freq="MS", level=2, as_of="2021-10-31")

    frame = forecast_panel(data.panel, ["hist_mean"], horizon=2, n_draws=50, seed=1)
    assert set(frame.index["unit_id"]) == set(data.panel["unit_id"])
    with pytest.raises(ParameterError, match="neighbours=data.neighbours"):
        forecast_panel(data.panel, ["endemic_epidemic"], horizon=2, n_draws=50, seed=1)
    with pytest.raises(ParameterError) as caught:
        forecast_panel(data.panel, ["endemic_epidemic"], horizon=2, neighbours=data.neighbours)
    message = str(caught.value)
    assert "district" in message and "boundary file" in message and "hist_mean" in message and "\n" not in message


def test_warn_reads_the_workbook_monthly(workbook, capsys):
    import json

    from forecast.cli import main

    code = main(["warn", "--source", "hdx", "--events", str(workbook), "--freq", "MS", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    document = json.loads(captured.out)
    assert document["freq"] == "MS"
    assert len(document["units"]) + len(document["stronghold"]) == 34  # every province, districts summed


def test_the_demonstrations_workbook_has_no_fatalities(tmp_path):
    path = fake.hdx_workbook(tmp_path / "demonstrations.xlsx", fatalities=False)
    read = read_hdx(path)
    assert read.counts["fatalities_best"].sum() == 0
    assert read.counts["y"].sum() == sum(expected_totals("province").values())


def test_monthly_workbook_refuses_a_weekly_panel(workbook):
    with pytest.raises(ParameterError, match="monthly counts cannot make a weekly panel"):
        load_dataset("hdx", workbook, freq="W-MON")


def test_province_names_resolve_through_the_gazetteer_and_unknown_ones_are_named(tmp_path):
    rows = fake.hdx_rows()
    rows[0][1], rows[0][5] = "Kabel", "AF99"  # neither the name nor the P-code is known
    path = fake.hdx_workbook(tmp_path / "bad.xlsx", rows=rows)
    with pytest.raises(UnknownUnitError) as caught:
        read_hdx(path)
    assert "Kabel" in str(caught.value) and "Kabul" in str(caught.value)
    dropped = read_hdx(path, unmatched="drop")
    assert dropped.dropped["unmatched_unit"] == 1 and dropped.unmatched_names == {"Kabel": 1}


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda rows: rows[3].__setitem__(6, "Janvier"), "'Janvier' is not an English month name"),
        (lambda rows: rows[5].__setitem__(8, -2), "below 0"),
        (lambda rows: rows[5].__setitem__(8, 1.5), "not a whole number"),
    ],
)
def test_bad_rows_are_one_line_errors_naming_row_and_column(tmp_path, change, fragment):
    rows = fake.hdx_rows()
    change(rows)
    path = fake.hdx_workbook(tmp_path / "bad.xlsx", rows=rows)
    with pytest.raises(InputError) as caught:
        read_hdx(path)
    message = str(caught.value)
    assert fragment in message and "row" in message and "\n" not in message


def test_a_workbook_without_the_data_sheet_names_the_sheets_it_has(tmp_path):
    path = fake.hdx_workbook(tmp_path / "other.xlsx", data_sheet="Sheet2")
    with pytest.raises(InputError, match="no sheet 'Data'.*TOU, Sheet2"):
        read_hdx(path)


def test_citations_carry_acled_attribution_and_terms(workbook):
    lines = load_dataset("hdx", workbook, freq="MS").citations()
    assert any(line.startswith("Armed Conflict Location & Event Data (ACLED)") for line in lines)
    assert any("Terms of Use" in line and "redistributed" in line for line in lines)


def test_dataset_name_follows_hdx():
    assert dataset_name("Afghanistan") == "afghanistan-acled-conflict-data"
    assert pd.Timestamp("2020-01-01").year == fake.HDX_YEARS[0]


# ------------------------------------------------------------------ download

FAST = DownloadSettings(timeout=2.0, retries=2, backoff=0.01, max_backoff=0.05, progress=False)
DATASET = "afghanistan-acled-conflict-data"
PACKAGE_PATH = "/api/3/action/package_show"
WORKBOOK_PATH = f"/dataset/{DATASET}/resource/afghanistan_hrp_civilian_targeting_events_and_fatalities_by_month-year.xlsx"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def server():
    srv = fake.FakeServer().start()
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch):
    for name in ("FORECAST_HDX_BASE_URL", "FORECAST_HTTP_TIMEOUT", "FORECAST_HTTP_RETRIES", "FORECAST_HTTP_BACKOFF"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def workbook_bytes(tmp_path: Path) -> bytes:
    return fake.hdx_workbook(tmp_path / "served" / "served.xlsx").read_bytes()


def serve_hdx(server, workbook_bytes: bytes, **options) -> dict:
    package = fake.hdx_package(server)
    fake.ckan_api(server, package, statuses=options.pop("api_statuses", None))
    server.on(WORKBOOK_PATH, options.pop("workbook", None) or fake.serve_bytes(workbook_bytes, content_type=XLSX))
    return package


def test_fetch_resolves_the_topic_through_package_show_and_records_where_it_came_from(server, tmp_path, workbook_bytes):
    package = serve_hdx(server, workbook_bytes)
    raw_dir = tmp_path / "data" / "raw"

    result = fetch_hdx("AFG", topic="civilian-targeting", raw_dir=raw_dir, base_url=server.base, settings=FAST)

    path = raw_dir / "hdx" / Path(WORKBOOK_PATH).name
    assert result.events_path == path and path.read_bytes() == workbook_bytes
    asked = [r for r in server.requests if r.path == PACKAGE_PATH]
    assert len(asked) == 1 and asked[0].query == {"id": DATASET}
    meta = read_sidecar(path)
    assert meta["url"] == server.url(WORKBOOK_PATH) and meta["source"] == "hdx"
    assert meta["version"] == meta["last_modified"] == package["resources"][1]["last_modified"]
    assert meta["dataset"] == DATASET and meta["topic"] == "civilian-targeting"
    assert "ACLED Terms of Use" in meta["licence"] and meta["package_licence"] == "ACLED Terms of Use"
    assert meta["sha256"] == sha256_file(path) == result.sha256 and meta["size"] == len(workbook_bytes)
    assert meta["rows"] == 7 * 24 and meta["date_range"] == ["2020-01-01", "2021-12-01"]
    assert any(line.startswith("Armed Conflict Location & Event Data (ACLED)") for line in meta["attribution"])
    assert result.report_parameters == f"-p source=hdx -p events_path={path} -p freq=MS"
    assert sorted(p.name for p in path.parent.iterdir()) == sorted([path.name, sidecar_path(path).name])

    again = fetch_hdx("AFG", topic="civilian-targeting", raw_dir=raw_dir, base_url=server.base, settings=FAST)
    assert again.cached and server.count(WORKBOOK_PATH) == 1


def test_each_topic_picks_its_own_workbook(server, tmp_path, workbook_bytes):
    package = serve_hdx(server, workbook_bytes)
    demonstrations = package["resources"][2]
    server.on(demonstrations["url"].replace(server.base, ""), fake.serve_bytes(workbook_bytes, content_type=XLSX))

    result = fetch_hdx("Afghanistan", topic="demonstrations", raw_dir=tmp_path, base_url=server.base, settings=FAST)

    assert result.events_path.name == "afghanistan_hrp_demonstration_events_by_month-year.xlsx"
    with pytest.raises(ParameterError, match="--topic"):
        fetch_hdx("AFG", topic="riots", raw_dir=tmp_path, base_url=server.base, settings=FAST)


def test_http_500_then_success_is_retried_for_the_api_and_the_workbook(server, tmp_path, workbook_bytes):
    serve_hdx(server, workbook_bytes, api_statuses=[500],
              workbook=fake.fail_first([500], fake.serve_bytes(workbook_bytes, content_type=XLSX)))

    result = fetch_hdx("AFG", raw_dir=tmp_path, base_url=server.base, settings=FAST)

    assert server.count(PACKAGE_PATH) == 2 and server.count(WORKBOOK_PATH) == 2
    assert result.requests == 1 + 2  # API calls count once (as ACLED's pages do); the download counts its retries
    assert result.events_path.read_bytes() == workbook_bytes


def test_a_cut_connection_resumes_and_a_truncated_workbook_leaves_nothing(server, tmp_path, workbook_bytes):
    serve_hdx(server, workbook_bytes,
              workbook=fake.serve_bytes(workbook_bytes, content_type=XLSX, cut_first_after=len(workbook_bytes) // 3))
    resumed = fetch_hdx("AFG", raw_dir=tmp_path / "a", base_url=server.base, settings=FAST)
    assert resumed.events_path.read_bytes() == workbook_bytes
    assert any(r.headers.get("range", "").startswith("bytes=") for r in server.requests if r.path == WORKBOOK_PATH)

    server.on(WORKBOOK_PATH, fake.serve_bytes(workbook_bytes[: len(workbook_bytes) // 2], content_type=XLSX))
    with pytest.raises(DownloadError) as caught:
        fetch_hdx("AFG", raw_dir=tmp_path / "b", base_url=server.base, settings=FAST)
    message = str(caught.value)
    assert "not a complete XLSX workbook" in message and server.url(WORKBOOK_PATH) in message and "\n" not in message
    assert not (tmp_path / "b" / "hdx").exists()  # nothing left, not even the folder the download made


def test_an_unknown_dataset_says_what_to_do(server, tmp_path, workbook_bytes):
    serve_hdx(server, workbook_bytes)
    with pytest.raises(DownloadError) as caught:
        fetch_hdx("PAK", raw_dir=tmp_path, base_url=server.base, settings=FAST)
    assert "404" in str(caught.value) and "data.humdata.org" in str(caught.value)


def test_the_base_url_comes_from_the_environment_and_the_command_prints_the_report_call(
        server, tmp_path, workbook_bytes, monkeypatch, capsys):
    from forecast import cli

    serve_hdx(server, workbook_bytes)
    monkeypatch.setenv("FORECAST_HDX_BASE_URL", server.base)
    monkeypatch.setenv("FORECAST_HTTP_RETRIES", "1")

    status = cli.main(["fetch", "hdx", "--country", "AFG", "--topic", "civilian-targeting",
                       "--raw-dir", str(tmp_path / "raw")])

    out = capsys.readouterr().out
    assert status == 0 and "-p source=hdx" in out and "-p freq=MS" in out and "ACLED" in out


@pytest.mark.slow
def test_fetch_then_report_end_to_end_carries_acled_attribution(server, tmp_path, workbook_bytes):
    from forecast.runner.run import run_reports

    serve_hdx(server, workbook_bytes)
    fetched = fetch_hdx("AFG", raw_dir=tmp_path / "data" / "raw", base_url=server.base, settings=FAST)
    root = Path(__file__).resolve().parents[1]

    result = run_reports(root / "config" / "default.yaml",
                         ["source=hdx", f"events_path={fetched.events_path}", "freq=MS", "horizon=2", "as_of=null"],
                         reports_dir=tmp_path / "reports", project_root=root)

    assert result.ok, result.manifest["notebooks"]
    pages = sorted(result.folder.glob("*.html"))
    assert len(pages) == len(list((root / "notebooks").glob("[0-9][0-9]_*.ipynb")))
    for page in pages:  # every page carries ACLED's attribution and terms, from the download's sidecar
        text = page.read_text(encoding="utf-8")
        assert "Armed Conflict Location" in text and "via the Humanitarian Data Exchange" in text, page.name
        assert "Terms of Use" in text and DATASET in text, page.name
    overview = (result.folder / "01_data_overview.html").read_text(encoding="utf-8")
    assert f"{sum(expected_totals('province').values())} (counted by the provider" in overview


def test_the_month_hdx_last_updated_the_file_in_is_partial_and_left_out(workbook):
    from forecast.data.download import write_download_sidecar

    write_download_sidecar(workbook, source="hdx", url="http://127.0.0.1/x.xlsx", version="2021-12-15T04:00:00",
                           licence="ACLED Terms of Use", attribution=[], last_modified="2021-12-15T04:00:00")
    partial = load_dataset("hdx", workbook, freq="MS")
    assert f"{partial.panel['ds'].max():%F}" == "2021-11-01"

    write_download_sidecar(workbook, source="hdx", url="http://127.0.0.1/x.xlsx", version="2026-11-25T04:00:00",
                           licence="ACLED Terms of Use", attribution=[], last_modified="2026-11-25T04:00:00")
    later = load_dataset("hdx", workbook, freq="MS")
    assert f"{later.panel['ds'].max():%F}" == "2021-12-01"  # not zero-filled beyond the workbook's last month
    chosen = load_dataset("hdx", workbook, freq="MS", as_of="2021-12-31")
    assert f"{chosen.panel['ds'].max():%F}" == "2021-12-01"


def test_renamed_districts_are_told_in_the_dataset_notes(workbook):
    data = load_dataset("hdx", workbook, freq="MS", level=2)
    assert any("AF3002" in note and "renamed" in note for note in data.notes)


def test_a_hand_downloaded_workbook_is_flagged_as_possibly_partial_in_its_last_month(workbook):
    data = load_dataset("hdx", workbook, freq="MS")
    assert any("2021-12" in note and "as_of" in note for note in data.notes)
    assert not any("no download record" in note for note in load_dataset("hdx", workbook, freq="MS",
                                                                           as_of="2021-12-31").notes)
