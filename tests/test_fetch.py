"""Downloads from UCDP and ACLED against a local HTTP server that speaks their formats.

The server (tests/data/http/fakeproviders.py) serves small files written in the
providers' real layouts: a GED release zip built here from a 49-column CSV,
and ACLED API pages. Covered: happy path, cache hit, truncated zip, wrong
columns, HTTP 500 then success, 404, offline, a slow server (timeout), resumed
downloads (within a call and across calls), a server without Range support,
ACLED paging, rejected credentials, and secrets never leaving the environment.
No test touches the internet.
"""

from __future__ import annotations

import csv
import json
import logging
import re
import socket
import sys
import time
from pathlib import Path

import pytest

from forecast.data import providers
from forecast.data.download import (
    DownloadSettings,
    download,
    partial_path,
    redact,
    register_secret,
    safe_url,
)
from forecast.data.providers import (
    ACLED_COLUMNS,
    UCDP_GED_COLUMNS,
    fetch_acled,
    fetch_ucdp,
    ucdp_url,
)
from forecast.errors import DownloadError, EmptyDataError, InputError, ParameterError
from forecast.files import read_sidecar, sha256_file, sidecar_path

sys.path.insert(0, str(Path(__file__).parent / "data" / "http"))
import fakeproviders as fake  # noqa: E402

ZIP_PATH = "/downloads/ged/ged251-csv.zip"
ZIP_TEMPLATE = "/downloads/ged/ged{version_nodot}-csv.zip"
FAST = DownloadSettings(timeout=2.0, retries=2, backoff=0.01, max_backoff=0.05, progress=False)

FAKE_EMAIL = "analyst.fake@example.org"
FAKE_PASSWORD = "pw-FAKE-s3cr3t-7f3a9c"


@pytest.fixture
def server():
    srv = fake.FakeServer().start()
    yield srv
    srv.stop()


@pytest.fixture
def raw_dir(tmp_path: Path) -> Path:
    return tmp_path / "data" / "raw"


@pytest.fixture(autouse=True)
def _no_real_credentials(monkeypatch):
    # Whatever the developer has set, tests use only the fakes they set themselves.
    for name in ("ACLED_EMAIL", "ACLED_PASSWORD", "ACLED_ACCESS_TOKEN", "UCDP_ACCESS_TOKEN",
                 "FORECAST_UCDP_URL_TEMPLATE", "FORECAST_UCDP_CANDIDATE_URL_TEMPLATE", "FORECAST_ACLED_BASE_URL",
                 "FORECAST_HTTP_TIMEOUT", "FORECAST_HTTP_RETRIES", "FORECAST_HTTP_BACKOFF"):
        monkeypatch.delenv(name, raising=False)


def leftovers(folder: Path) -> list[str]:
    """Hidden or temporary files left in a folder (partial downloads, temp names)."""
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.rglob("*") if p.name.startswith(".") or p.suffix in (".tmp", ".part"))


def fetch_release(server, raw_dir, **options):
    return fetch_ucdp("25.1", raw_dir=raw_dir, url_template=server.url(ZIP_TEMPLATE),
                      settings=options.pop("settings", FAST), **options)


# --------------------------------------------------------------------- UCDP


def test_ucdp_release_happy_path_extracts_csv_with_sidecars(server, raw_dir):
    archive = fake.ged_zip()
    server.on(ZIP_PATH, fake.serve_bytes(archive))

    result = fetch_release(server, raw_dir)

    folder = raw_dir / "ucdp"
    zip_file, csv_file = folder / "ged251-csv.zip", folder / "GEDEvent_v25_1.csv"
    assert result.events_path == csv_file and not result.cached and result.requests == 1
    assert zip_file.read_bytes() == archive
    assert csv_file.read_bytes() == fake.GED_CSV.read_bytes()

    zip_meta, csv_meta = read_sidecar(zip_file), read_sidecar(csv_file)
    assert zip_meta["sha256"] == sha256_file(zip_file) and zip_meta["size"] == len(archive)
    assert zip_meta["url"] == server.url(ZIP_PATH)
    assert zip_meta["version"] == "25.1" and zip_meta["source"] == "ucdp"
    assert zip_meta["licence"] == "CC BY 4.0"
    assert any("Sundberg" in line and "50(4)" in line for line in zip_meta["attribution"])
    assert zip_meta["downloaded"].endswith("+00:00")
    assert csv_meta["sha256"] == sha256_file(csv_file) == result.sha256
    assert csv_meta["rows"] == 5  # one record has a newline inside a quoted field
    assert csv_meta["date_range"] == ["2020-12-19", "2021-11-18"]
    assert csv_meta["inputs"] == [{"path": str(zip_file), "sha256": zip_meta["sha256"]}]
    assert leftovers(folder) == []
    assert result.report_parameters == f"-p source=ucdp -p events_path={csv_file}"


def test_ucdp_second_call_uses_the_cache_without_a_request(server, raw_dir):
    server.on(ZIP_PATH, fake.serve_bytes(fake.ged_zip()))
    first = fetch_release(server, raw_dir)
    before = len(server.requests)

    again = fetch_release(server, raw_dir)

    assert len(server.requests) == before == 1
    assert again.cached and again.requests == 0 and again.sha256 == first.sha256
    forced = fetch_release(server, raw_dir, force=True)
    assert not forced.cached and server.count(ZIP_PATH) == 2


def test_ucdp_cache_notices_a_changed_file(server, raw_dir):
    server.on(ZIP_PATH, fake.serve_bytes(fake.ged_zip()))
    fetch_release(server, raw_dir)
    (raw_dir / "ucdp" / "ged251-csv.zip").write_bytes(b"tampered")

    result = fetch_release(server, raw_dir)

    assert not result.cached and server.count(ZIP_PATH) == 2


def test_truncated_zip_is_rejected_and_nothing_is_left(server, raw_dir):
    archive = fake.ged_zip()
    server.on(ZIP_PATH, fake.serve_bytes(archive[: len(archive) // 2]))

    with pytest.raises(DownloadError) as caught:
        fetch_release(server, raw_dir)

    message = str(caught.value)
    assert server.url(ZIP_PATH) in message and "complete zip" in message and "\n" not in message
    assert "forecast ingest ucdp" in message
    assert not (raw_dir / "ucdp").exists()  # no file in place, no temp files, not even the folder it made


def test_wrong_columns_raise_input_error_naming_them(server, raw_dir):
    server.on(ZIP_PATH, fake.serve_bytes(fake.ged_zip(fake.ged_csv_without("date_start", "best"))))

    with pytest.raises(InputError) as caught:
        fetch_release(server, raw_dir)

    message = str(caught.value)
    assert "date_start" in message and "best" in message and "missing columns" in message
    assert not (raw_dir / "ucdp").exists()


def test_http_500_then_success_is_retried(server, raw_dir):
    server.on(ZIP_PATH, fake.fail_first([500], fake.serve_bytes(fake.ged_zip())))

    result = fetch_release(server, raw_dir)

    assert server.count(ZIP_PATH) == 2 and result.requests == 2
    assert (raw_dir / "ucdp" / "GEDEvent_v25_1.csv").exists()


def test_http_404_is_not_retried_and_says_what_to_do(server, raw_dir):
    with pytest.raises(DownloadError) as caught:
        fetch_ucdp("24.9", raw_dir=raw_dir, url_template=server.url(ZIP_TEMPLATE), settings=FAST)

    message = str(caught.value)
    assert server.count("/downloads/ged/ged249-csv.zip") == 1
    assert "HTTP 404" in message and server.url("/downloads/ged/ged249-csv.zip") in message
    assert "--version" in message


def test_persistent_5xx_gives_up_after_the_retries(server, raw_dir):
    server.on(ZIP_PATH, fake.fail_first([503] * 10, fake.serve_bytes(fake.ged_zip())))

    with pytest.raises(DownloadError, match=r"HTTP 503.*after 3 attempts"):
        fetch_release(server, raw_dir)
    assert server.count(ZIP_PATH) == 3
    assert leftovers(raw_dir) == []


def test_slow_server_times_out_after_retries_naming_the_url(server, raw_dir):
    server.on(ZIP_PATH, fake.slow(server, 5.0, fake.serve_bytes(fake.ged_zip())))
    settings = DownloadSettings(timeout=0.2, retries=1, backoff=0.01, progress=False)

    started = time.monotonic()
    with pytest.raises(DownloadError) as caught:
        fetch_release(server, raw_dir, settings=settings)

    message = str(caught.value)
    assert time.monotonic() - started < 3
    assert server.url(ZIP_PATH) in message and "0.2 s" in message and "2 attempts" in message
    assert server.count(ZIP_PATH) == 2
    assert leftovers(raw_dir) == []


def test_offline_gives_one_line_with_the_url_and_a_way_out(raw_dir):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    template = f"http://127.0.0.1:{port}/ged{{version_nodot}}-csv.zip"

    with pytest.raises(DownloadError) as caught:
        fetch_ucdp("25.1", raw_dir=raw_dir, url_template=template, settings=FAST)

    message = str(caught.value)
    assert f"http://127.0.0.1:{port}/ged251-csv.zip" in message and "cannot connect" in message
    assert "download" in message and "by hand" in message and "\n" not in message


def test_interrupted_download_resumes_with_a_range_request(server, raw_dir):
    archive = fake.ged_zip()
    cut = len(archive) // 3
    server.on(ZIP_PATH, fake.serve_bytes(archive, cut_first_after=cut))

    result = fetch_release(server, raw_dir)

    requests = [r for r in server.requests if r.path == ZIP_PATH]
    assert len(requests) == 2
    assert "range" not in requests[0].headers
    assert requests[1].headers["range"] == f"bytes={cut}-"
    assert requests[1].headers.get("if-range") == '"v1"'
    zip_file = raw_dir / "ucdp" / "ged251-csv.zip"
    assert zip_file.read_bytes() == archive
    assert read_sidecar(zip_file)["sha256"] == sha256_file(zip_file)
    assert leftovers(raw_dir) == []
    assert result.events_path.exists()


def test_interrupted_download_resumes_on_the_next_call(server, raw_dir):
    archive = fake.ged_zip()
    cut = len(archive) // 2
    server.on(ZIP_PATH, fake.serve_bytes(archive, cut_first_after=cut))
    once = DownloadSettings(timeout=2.0, retries=0, backoff=0.01, progress=False)

    with pytest.raises(DownloadError, match="connection closed after"):
        fetch_release(server, raw_dir, settings=once)
    partial = partial_path(raw_dir / "ucdp" / "ged251-csv.zip")
    assert partial.stat().st_size == cut  # kept: the server accepts ranges
    assert not (raw_dir / "ucdp" / "ged251-csv.zip").exists()

    fetch_release(server, raw_dir, settings=once)

    assert server.requests[-1].headers["range"] == f"bytes={cut}-"
    assert (raw_dir / "ucdp" / "ged251-csv.zip").read_bytes() == archive
    assert leftovers(raw_dir) == []


def test_server_without_range_support_restarts_cleanly(server, raw_dir, tmp_path):
    data = bytes(range(256)) * 400
    server.on("/file.bin", fake.serve_bytes(data, ranges=False, cut_first_after=1000,
                                            content_type="application/octet-stream"))

    result = download(server.url("/file.bin"), tmp_path / "file.bin", settings=FAST)

    assert (tmp_path / "file.bin").read_bytes() == data and not result.resumed
    assert server.count("/file.bin") == 2
    assert leftovers(tmp_path) == []


def test_broken_partial_file_is_discarded_when_the_server_says_416(server, tmp_path):
    data = b"x" * 5000
    server.on("/file.bin", fake.serve_bytes(data))
    destination = tmp_path / "file.bin"
    partial = partial_path(destination)
    partial.write_bytes(b"y" * 6000)  # longer than the file: cannot be a prefix of it
    partial.with_name(partial.name + ".json").write_text(json.dumps({"url": server.url("/file.bin")}))

    download(server.url("/file.bin"), destination, settings=FAST)

    assert destination.read_bytes() == data and leftovers(tmp_path) == []


def test_candidate_month_downloads_the_monthly_csv(server, raw_dir):
    path = "/downloads/candidateged/GEDEvent_v25_0_3.csv"
    server.on(path, fake.serve_bytes(fake.GED_CSV.read_bytes(), content_type="text/csv"))
    template = server.url("/downloads/candidateged/GEDEvent_v{yy}_0_{month}.csv")

    result = fetch_ucdp(candidate="2025-03", raw_dir=raw_dir, url_template=template, settings=FAST)

    target = raw_dir / "ucdp" / "GEDEvent_v25_0_3.csv"
    assert result.events_path == target and target.read_bytes() == fake.GED_CSV.read_bytes()
    meta = read_sidecar(target)
    assert meta["version"] == "25.0.3" and meta["candidate"] == "2025-03" and meta["rows"] == 5
    assert fetch_ucdp(candidate="2025-03", raw_dir=raw_dir, url_template=template, settings=FAST).cached
    assert server.count(path) == 1


def test_country_subset_is_written_beside_the_release(server, raw_dir):
    server.on(ZIP_PATH, fake.serve_bytes(fake.ged_zip()))

    result = fetch_release(server, raw_dir, country="Afghanistan")

    subset = raw_dir / "ucdp" / "GEDEvent_v25_1_afghanistan.csv"
    assert result.events_path == subset and result.rows == 4
    with open(subset, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["country"] for row in rows} == {"Afghanistan"} and len(rows) == 4
    meta = read_sidecar(subset)
    assert meta["filters"] == {"country": "Afghanistan"}
    assert meta["inputs"][0]["path"] == str(raw_dir / "ucdp" / "GEDEvent_v25_1.csv")
    with pytest.raises(EmptyDataError, match="Atlantis"):
        fetch_release(server, raw_dir, country="Atlantis")
    assert server.count(ZIP_PATH) == 1  # both calls after the first used the cache


def test_fetched_ucdp_file_reads_with_the_ucdp_reader(server, raw_dir):
    read_events = pytest.importorskip("forecast.data").read_events
    server.on(ZIP_PATH, fake.serve_bytes(fake.ged_zip()))
    result = fetch_release(server, raw_dir)

    events = read_events("ucdp", result.events_path, country="Afghanistan", actor="^IS$")

    assert len(events.events) >= 3


def test_ucdp_url_patterns_and_bad_versions(monkeypatch):
    assert ucdp_url("25.1") == "https://ucdp.uu.se/downloads/ged/ged251-csv.zip"
    assert ucdp_url(candidate="2026-07") == "https://ucdp.uu.se/downloads/candidateged/GEDEvent_v26_0_7.csv"
    monkeypatch.setenv("FORECAST_UCDP_URL_TEMPLATE", "https://mirror.example/ged-{version}.zip")
    assert ucdp_url("24.1") == "https://mirror.example/ged-24.1.zip"
    with pytest.raises(ParameterError, match="like 25.1"):
        ucdp_url("2025")
    with pytest.raises(ParameterError, match="2025-03"):
        ucdp_url(candidate="March")
    with pytest.raises(ParameterError, match="unknown field"):
        ucdp_url("25.1", url_template="https://x/{release}.zip")


def test_ucdp_token_is_sent_only_to_ucdp_hosts(monkeypatch):
    monkeypatch.setenv("UCDP_ACCESS_TOKEN", "ucdp-FAKE-token-123")
    assert providers._ucdp_headers("https://ucdpapi.pcr.uu.se/api/gedevents/25.1") == {
        "x-ucdp-access-token": "ucdp-FAKE-token-123"
    }
    assert providers._ucdp_headers("http://127.0.0.1:8000/ged251-csv.zip") == {}
    assert providers._ucdp_headers("https://uu.se.evil.example/ged.zip") == {}


def test_documented_column_lists():
    assert len(UCDP_GED_COLUMNS) == 49 and len(set(UCDP_GED_COLUMNS)) == 49
    assert len(ACLED_COLUMNS) == 31 and ACLED_COLUMNS[0] == "event_id_cnty" and ACLED_COLUMNS[-1] == "timestamp"
    header = fake.GED_CSV.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert tuple(header) == UCDP_GED_COLUMNS


# -------------------------------------------------------------------- ACLED


def set_acled_env(monkeypatch, server):
    monkeypatch.setenv("ACLED_EMAIL", FAKE_EMAIL)
    monkeypatch.setenv("ACLED_PASSWORD", FAKE_PASSWORD)
    monkeypatch.setenv("FORECAST_ACLED_BASE_URL", server.base)


def test_acled_pages_through_the_api_into_an_export_csv(server, raw_dir, monkeypatch):
    set_acled_env(monkeypatch, server)
    fake.acled_api(server, email=FAKE_EMAIL, password=FAKE_PASSWORD)

    result = fetch_acled("Afghanistan", start="2021-01-01", end="2021-12-31", raw_dir=raw_dir,
                         page_size=2, settings=FAST)

    target = raw_dir / "acled" / "acled_afghanistan_2021-01-01_2021-12-31.csv"
    assert result.events_path == target and result.rows == 5
    reads = [r for r in server.requests if r.path == "/api/acled/read"]
    assert [r.query["page"] for r in reads] == ["1", "2", "3"]  # 2 + 2 + 1: the short page ends it
    first = reads[0]
    assert first.query["_format"] == "json" and first.query["country"] == "Afghanistan"
    assert first.query["event_date"] == "2021-01-01|2021-12-31" and first.query["event_date_where"] == "BETWEEN"
    assert first.query["limit"] == "2"
    assert first.headers["authorization"] == "Bearer fake-issued-access-token-0001"
    login = [r for r in server.requests if r.path == "/oauth/token"]
    assert len(login) == 1 and login[0].method == "POST"
    assert b"grant_type=password" in login[0].body and b"client_id=acled" in login[0].body

    with open(target, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = list(reader)
    assert tuple(header) == ACLED_COLUMNS
    expected = json.loads(fake.ACLED_RECORDS.read_text(encoding="utf-8"))
    assert [row[0] for row in rows] == [r["event_id_cnty"] for r in expected]
    assert rows[2][header.index("notes")] == expected[2]["notes"]  # newline kept inside the quoted field

    meta = read_sidecar(target)
    assert meta["source"] == "acled" and meta["rows"] == 5
    assert meta["date_range"] == ["2021-02-01", "2021-11-02"]
    assert any("may not be redistributed" in line for line in meta["attribution"])
    assert meta["sha256"] == sha256_file(target)
    text = sidecar_path(target).read_text(encoding="utf-8")
    for secret in (FAKE_EMAIL, FAKE_PASSWORD, "fake-issued-access-token-0001"):
        assert secret not in text
    assert leftovers(raw_dir) == []

    again = fetch_acled("Afghanistan", start="2021-01-01", end="2021-12-31", raw_dir=raw_dir,
                        page_size=2, settings=FAST)
    assert again.cached and len(server.requests) == 4


def test_acled_ready_token_from_the_environment_skips_the_login(server, raw_dir, monkeypatch):
    monkeypatch.setenv("ACLED_ACCESS_TOKEN", "fake-issued-access-token-0001")
    monkeypatch.setenv("FORECAST_ACLED_BASE_URL", server.base)
    fake.acled_api(server, email=FAKE_EMAIL, password=FAKE_PASSWORD)

    result = fetch_acled("Afghanistan", start="2021-01-01", end="2021-12-31", raw_dir=raw_dir, settings=FAST)

    assert result.rows == 5 and server.count("/oauth/token") == 0 and server.count("/api/acled/read") == 1


def test_acled_wrong_password_is_one_clear_error_without_the_secret(server, raw_dir, monkeypatch):
    set_acled_env(monkeypatch, server)
    fake.acled_api(server, email=FAKE_EMAIL, password="the-right-one")

    with pytest.raises(DownloadError) as caught:
        fetch_acled("Afghanistan", start="2021-01-01", end="2021-12-31", raw_dir=raw_dir, settings=FAST)

    message = str(caught.value)
    assert "ACLED rejected the credentials (HTTP 401) from ACLED_EMAIL/ACLED_PASSWORD" in message
    assert FAKE_PASSWORD not in message and FAKE_EMAIL not in message
    assert server.count("/oauth/token") == 1  # 4xx: no retry
    assert not (raw_dir / "acled").exists() or leftovers(raw_dir) == []


def test_acled_without_credentials_says_which_variables_to_set(raw_dir):
    with pytest.raises(ParameterError, match="ACLED_EMAIL, ACLED_PASSWORD is not set"):
        fetch_acled("Afghanistan", start="2021-01-01", end="2021-12-31", raw_dir=raw_dir, settings=FAST)


def test_acled_no_events_is_an_empty_data_error(server, raw_dir, monkeypatch):
    set_acled_env(monkeypatch, server)
    fake.acled_api(server, email=FAKE_EMAIL, password=FAKE_PASSWORD, records=[])

    with pytest.raises(EmptyDataError, match="no events for 'Afghanistan'"):
        fetch_acled("Afghanistan", start="2021-01-01", end="2021-12-31", raw_dir=raw_dir, settings=FAST)
    assert not list((raw_dir / "acled").glob("*.csv"))
    assert leftovers(raw_dir) == []


def test_acled_bad_dates_are_parameter_errors(raw_dir):
    with pytest.raises(ParameterError, match="2021-13-01"):
        fetch_acled("Afghanistan", start="2021-13-01", raw_dir=raw_dir)
    with pytest.raises(ParameterError, match="after"):
        fetch_acled("Afghanistan", start="2022-01-01", end="2021-01-01", raw_dir=raw_dir)


# ------------------------------------------------------------------ secrets


def test_redact_and_safe_url_scrub_known_secrets(monkeypatch):
    monkeypatch.setenv("ACLED_PASSWORD", "pw-FAKE-zzz-123")
    monkeypatch.setenv("ACLED_EMAIL", "someone@example.org")
    assert redact("login pw-FAKE-zzz-123 for someone%40example.org") == "login *** for ***"
    register_secret("runtime-token-abc")
    assert redact("Bearer runtime-token-abc") == "Bearer ***"
    assert safe_url("https://u:p@host.example/x?token=abc&country=Chad") == "https://host.example/x?token=***&country=Chad"


def test_credentials_never_follow_a_redirect_to_another_host(tmp_path):
    origin, other = fake.FakeServer().start(), fake.FakeServer().start()
    try:
        other.on("/file", fake.serve_bytes(b"payload"))
        origin.on("/file", fake.redirect_to(other.url("/file")))
        download(origin.url("/file"), tmp_path / "file", settings=FAST,
                 headers={"Authorization": "Bearer secret-FAKE-redirect"})
        assert origin.requests[0].headers["authorization"] == "Bearer secret-FAKE-redirect"
        assert "authorization" not in other.requests[0].headers
        assert (tmp_path / "file").read_bytes() == b"payload"
    finally:
        origin.stop()
        other.stop()


def test_retry_warnings_in_the_log_carry_no_secret(server, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("ACLED_PASSWORD", FAKE_PASSWORD)
    server.on("/file", fake.fail_first([502], fake.serve_bytes(b"ok")))
    caplog.set_level(logging.DEBUG, logger="forecast")

    download(server.url(f"/file?password={FAKE_PASSWORD}"), tmp_path / "file", settings=FAST)

    assert "retrying" in caplog.text and FAKE_PASSWORD not in caplog.text


# ---------------------------------------------------------------------- CLI


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    from forecast.cli import main

    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_fetch_ucdp_prints_the_report_hint(server, tmp_path, monkeypatch, capsys):
    server.on(ZIP_PATH, fake.serve_bytes(fake.ged_zip()))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FORECAST_UCDP_URL_TEMPLATE", server.url(ZIP_TEMPLATE))

    code, out, err = run_cli(["fetch", "ucdp", "--version", "25.1", "--no-progress"], capsys)

    assert code == 0, err
    assert "forecast run -p source=ucdp -p events_path=data/raw/ucdp/GEDEvent_v25_1.csv" in out
    assert "Sundberg" in out and "CC BY 4.0" in out
    assert (tmp_path / "data" / "raw" / "ucdp" / "GEDEvent_v25_1.csv").exists()
    code, out, _ = run_cli(["fetch", "ucdp", "--version", "25.1"], capsys)
    assert code == 0 and "cached" in out and server.count(ZIP_PATH) == 1


def test_cli_fetch_errors_are_one_line_with_exit_2(server, tmp_path, monkeypatch, capsys):
    server.on(ZIP_PATH, fake.fail_first([500] * 5, fake.serve_bytes(fake.ged_zip())))
    monkeypatch.setenv("FORECAST_HTTP_BACKOFF", "0.01")

    code, out, err = run_cli(["fetch", "ucdp", "--url-template", server.url(ZIP_TEMPLATE), "--retries", "1",
                              "--raw-dir", str(tmp_path / "raw")], capsys)

    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert lines[-1].startswith("error: could not download " + server.url(ZIP_PATH))
    assert "HTTP 500" in lines[-1] and "forecast ingest ucdp" in lines[-1]
    assert lines[0].startswith("warning: ") and "retrying" in lines[0]  # the retry was visible


def test_cli_acled_401_exits_2_with_one_line_and_no_secret(server, tmp_path, monkeypatch, capsys):
    set_acled_env(monkeypatch, server)
    fake.acled_api(server, email=FAKE_EMAIL, password=FAKE_PASSWORD, token_status=401)

    code, out, err = run_cli(["fetch", "acled", "--country", "Afghanistan", "--start", "2021-01-01",
                              "--end", "2021-12-31", "--raw-dir", str(tmp_path / "raw")], capsys)

    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("error: ACLED rejected the credentials (HTTP 401) from ACLED_EMAIL/ACLED_PASSWORD")
    assert FAKE_PASSWORD not in err and FAKE_EMAIL not in err


def test_cli_fetch_commands_take_no_credential_options():
    import typer

    from forecast.cli import app

    fetch = typer.main.get_command(app).commands["fetch"]
    for name in ("ucdp", "acled"):
        options = [opt for param in fetch.commands[name].params for opt in param.opts]
        assert not [opt for opt in options if re.search("pass|token|key|email|user|secret", opt)], options


def test_cli_data_list_shows_fetched_files(server, tmp_path, monkeypatch, capsys):
    server.on(ZIP_PATH, fake.serve_bytes(fake.ged_zip()))
    monkeypatch.chdir(tmp_path)
    fetch_release(server, Path("data/raw"))

    code, out, _ = run_cli(["data", "list"], capsys)

    assert code == 0
    csv_sha = sha256_file(tmp_path / "data" / "raw" / "ucdp" / "GEDEvent_v25_1.csv")
    line = next(line for line in out.splitlines() if "GEDEvent_v25_1.csv" in line.split()[1])
    assert "ucdp" in line and "25.1" in line and csv_sha[:12] in line and "2020-12-19 .. 2021-11-18" in line
    assert "ged251-csv.zip" in line  # made from
    code, out, _ = run_cli(["data", "list", "--json"], capsys)
    assert code == 0 and csv_sha in out


# ------------------------------------------------- secrets across a whole run

NOTEBOOK_CELLS = [
    ("parameters", 'source = "synthetic"  # data source\n'
                   'events_path: str | None = None  # provider file\n'
                   'country = "AFG"  # country analysed\n'),
    (None, "from forecast.data.dataset import load_dataset\n"
           "data = load_dataset(source, events_path, country=country, freq='MS')\n"
           "print(f'{len(data.panel)} unit-months from {data.label}')\n"
           "for line in data.citations():\n"
           "    print(line)\n"),
]


def write_report_project(root: Path) -> tuple[Path, Path]:
    import nbformat

    notebook = nbformat.v4.new_notebook()
    for tag, source in NOTEBOOK_CELLS:
        cell = nbformat.v4.new_code_cell(source)
        if tag:
            cell.metadata["tags"] = [tag]
        notebook.cells.append(cell)
    notebook.metadata["kernelspec"] = {"name": "forecast", "display_name": "forecast", "language": "python"}
    folder = root / "notebooks"
    folder.mkdir(parents=True)
    nbformat.write(notebook, folder / "01_attribution_check.ipynb")
    config = root / "config" / "default.yaml"
    config.parent.mkdir()
    config.write_text("source: synthetic\nevents_path: null\ncountry: AFG\n")
    return config, folder


@pytest.mark.slow
def test_fake_secrets_appear_in_no_output_of_a_fetch_and_report(server, tmp_path, monkeypatch, capsys, caplog):
    """Fetch ACLED and UCDP with fake credentials, run a report on the ACLED file, scan everything."""
    runner = pytest.importorskip("forecast.runner.run")
    secrets = [FAKE_EMAIL, FAKE_PASSWORD, "fake-issued-access-token-0001", "fake-refresh-token-0001",
               "ucdp-FAKE-token-9d8c7b"]
    set_acled_env(monkeypatch, server)
    monkeypatch.setenv("UCDP_ACCESS_TOKEN", secrets[-1])
    monkeypatch.setenv("FORECAST_UCDP_URL_TEMPLATE", server.url(ZIP_TEMPLATE))
    monkeypatch.chdir(tmp_path)
    caplog.set_level(logging.INFO)  # every library's INFO records (DEBUG from papermill is slow)
    caplog.set_level(logging.DEBUG, logger="forecast")
    fake.acled_api(server, email=FAKE_EMAIL, password=FAKE_PASSWORD)
    server.on(ZIP_PATH, fake.serve_bytes(fake.ged_zip()))

    code_acled, out_acled, err_acled = run_cli(
        ["fetch", "acled", "--country", "Afghanistan", "--start", "2021-01-01", "--end", "2021-12-31"], capsys)
    code_ucdp, out_ucdp, err_ucdp = run_cli(["fetch", "ucdp", "--no-progress"], capsys)
    assert (code_acled, code_ucdp) == (0, 0), err_acled + err_ucdp
    assert "x-ucdp-access-token" not in server.requests[-1].headers  # not a UCDP host: token not sent

    # The project's own notebooks and parameter file, as `make report` runs them.
    repo = Path(__file__).resolve().parents[1]
    events = tmp_path / "data/raw/acled/acled_afghanistan_2021-01-01_2021-12-31.csv"
    result = runner.run_reports(
        repo / "config" / "default.yaml",
        ["source=acled", f"events_path={events}", "as_of=null", "horizon=2"],
        notebooks_dir=repo / "notebooks", select=["01", "04"],
        reports_dir=tmp_path / "reports", project_root=repo,
    )
    assert result.ok
    html = next((tmp_path / "reports").rglob("01_data_overview.html")).read_text(encoding="utf-8")
    assert "may not be redistributed" in html and "Armed Conflict Location" in html

    outputs = out_acled + err_acled + out_ucdp + err_ucdp + capsys.readouterr().out + caplog.text
    scanned = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.suffix == ".html" for p in scanned) and any(p.name == "manifest.json" for p in scanned)
    import urllib.parse

    for secret in secrets:
        variants = {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)}
        for variant in variants:
            assert variant not in outputs, f"secret found in console or log output: {variant}"
            for path in scanned:
                assert variant.encode() not in path.read_bytes(), f"secret found in {path}"


@pytest.mark.slow
def test_a_report_runs_on_a_fetched_ucdp_file_with_the_printed_parameters(server, tmp_path, monkeypatch, capsys):
    """`forecast fetch ucdp` prints the parameters; a run given exactly those cites UCDP."""
    runner = pytest.importorskip("forecast.runner.run")
    server.on(ZIP_PATH, fake.serve_bytes(fake.ged_zip()))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FORECAST_UCDP_URL_TEMPLATE", server.url(ZIP_TEMPLATE))
    code, out, err = run_cli(["fetch", "ucdp", "--no-progress"], capsys)
    assert code == 0, err
    hint = next(line for line in out.splitlines() if line.startswith("report on it: forecast run "))
    overrides = re.findall(r"-p (\S+)", hint)
    assert overrides == ["source=ucdp", "events_path=data/raw/ucdp/GEDEvent_v25_1.csv"]

    config, notebooks = write_report_project(tmp_path)
    result = runner.run_reports(config, overrides, notebooks_dir=notebooks, reports_dir=tmp_path / "reports",
                                project_root=tmp_path)

    assert result.ok
    html = next((tmp_path / "reports").rglob("01_attribution_check.html")).read_text(encoding="utf-8")
    assert "Sundberg" in html and "CC BY 4.0" in html


# ------------------------------------------- whatever the server sends back (issue 19, item 1)

# A password whose URL-encoded, JSON and repr forms all differ from it.
ODD_PASSWORD = 'pw FAKE&s3cr3t/+%"\\x'


def _secret_forms(*secrets: str) -> set[str]:
    import html
    import urllib.parse

    forms = set()
    for secret in secrets:
        forms |= {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret),
                  json.dumps(secret)[1:-1], repr(secret)[1:-1], html.escape(secret)}
    return forms


def _assert_clean(text: str, *secrets: str) -> None:
    for form in _secret_forms(*secrets):
        assert form.lower() not in text.lower(), f"secret form {form!r} in {text!r}"


def _echo_login(h, record):
    # A misconfigured proxy or server that answers the login with the request it got.
    fake.send(h, b"<html>bad gateway; you sent: " + record.body + b"</html>", status=200,
              headers={"Content-Type": "text/html"})


@pytest.mark.parametrize("password", [FAKE_PASSWORD, ODD_PASSWORD])
def test_acled_login_answer_that_echoes_the_form_is_shown_without_credentials(server, raw_dir, monkeypatch,
                                                                              password):
    monkeypatch.setenv("ACLED_EMAIL", FAKE_EMAIL)
    monkeypatch.setenv("ACLED_PASSWORD", password)
    monkeypatch.setenv("FORECAST_ACLED_BASE_URL", server.base)
    server.on("/oauth/token", _echo_login)

    with pytest.raises(DownloadError) as caught:
        fetch_acled("Afghanistan", start="2021-01-01", end="2021-12-31", raw_dir=raw_dir, settings=FAST)

    message = str(caught.value)
    assert "did not answer with JSON" in message and "username=***&password=***" in message
    _assert_clean(message, FAKE_EMAIL, password)
    assert len(message.splitlines()) == 1


def test_login_echo_is_scrubbed_even_when_the_credentials_are_not_in_the_environment(server):
    # request_json knows the form's secret fields itself: no reliance on the environment.
    server.on("/oauth/token", _echo_login)
    with pytest.raises(DownloadError) as caught:
        providers.request_json(server.url("/oauth/token"), form={"username": "someone@example.net",
                                                                 "password": "hunter2-hunter2"}, settings=FAST)
    _assert_clean(str(caught.value), "someone@example.net", "hunter2-hunter2")


def test_acled_refusal_quoting_token_and_email_is_shown_without_them(server, raw_dir, monkeypatch):
    set_acled_env(monkeypatch, server)
    fake.acled_api(server, email=FAKE_EMAIL, password=FAKE_PASSWORD)
    token = "fake-issued-access-token-0001"

    def refuse(h, record):
        fake.send_json(h, {"success": False, "status": 403,
                           "error": {"message": f"token {token} of {FAKE_EMAIL.upper()} is not allowed",
                                     "header": record.headers.get("authorization")}})

    server.on("/api/acled/read", refuse)
    with pytest.raises(DownloadError) as caught:
        fetch_acled("Afghanistan", start="2021-01-01", end="2021-12-31", raw_dir=raw_dir, settings=FAST)

    message = str(caught.value)
    assert message.startswith("ACLED refused the request") and "is not allowed" in message
    _assert_clean(message, FAKE_EMAIL, FAKE_PASSWORD, token)
    assert not list((raw_dir / "acled").glob("*.csv"))


def test_a_token_echoed_in_a_data_field_never_lands_in_the_raw_csv(server, raw_dir, monkeypatch):
    set_acled_env(monkeypatch, server)
    token = "fake-issued-access-token-0001"
    records = json.loads(fake.ACLED_RECORDS.read_text(encoding="utf-8"))
    records[0]["notes"] = f"debug: Authorization: Bearer {token}; user {FAKE_EMAIL}"
    records[1]["source"] = urllib_quote(FAKE_PASSWORD)
    fake.acled_api(server, email=FAKE_EMAIL, password=FAKE_PASSWORD, records=records)

    result = fetch_acled("Afghanistan", start="2021-01-01", end="2021-12-31", raw_dir=raw_dir, settings=FAST)

    text = result.events_path.read_text(encoding="utf-8") + sidecar_path(result.events_path).read_text()
    _assert_clean(text, token, FAKE_EMAIL, FAKE_PASSWORD)
    assert "debug: Authorization: Bearer ***; user ***" in text
    assert result.rows == 5


def test_an_http_reason_phrase_quoting_the_password_is_scrubbed(server, raw_dir, monkeypatch):
    set_acled_env(monkeypatch, server)

    def reason(h, record):
        h.send_response(401, f"bad password {FAKE_PASSWORD} for {FAKE_EMAIL}")
        h.send_header("Content-Length", "0")
        h.end_headers()

    server.on("/oauth/token", reason)
    with pytest.raises(DownloadError) as caught:
        fetch_acled("Afghanistan", start="2021-01-01", end="2021-12-31", raw_dir=raw_dir, settings=FAST)
    _assert_clean(str(caught.value), FAKE_EMAIL, FAKE_PASSWORD)


def test_cli_login_echo_exits_2_with_one_clean_line(server, tmp_path, monkeypatch, capsys, caplog):
    set_acled_env(monkeypatch, server)
    server.on("/oauth/token", _echo_login)
    caplog.set_level(logging.DEBUG, logger="forecast")

    code, out, err = run_cli(["fetch", "acled", "--country", "Afghanistan", "--start", "2021-01-01",
                              "--end", "2021-12-31", "--raw-dir", str(tmp_path / "raw")], capsys)

    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    _assert_clean(err + caplog.text, FAKE_EMAIL, FAKE_PASSWORD)
    assert not (tmp_path / "raw" / "acled").exists() or not list((tmp_path / "raw" / "acled").iterdir())


def test_every_forecast_error_message_is_scrubbed(monkeypatch):
    monkeypatch.setenv("ACLED_KEY", "legacy-key-abcdef")
    monkeypatch.setenv("SOME_SERVICE_TOKEN", "svc-token-0123456789")
    error = InputError("line 3 reads ACLED_KEY=legacy-key-abcdef and svc-token-0123456789", path="x.csv")
    assert str(error) == "x.csv: line 3 reads ACLED_KEY=*** and ***"


def urllib_quote(text: str) -> str:
    import urllib.parse

    return urllib.parse.quote(text, safe="")
