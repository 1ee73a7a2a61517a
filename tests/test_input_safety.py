"""Input files that must be refused before they are read, and never quoted (issue 19 items 3, 5, 8, 10).

A ``.env`` given as events, values equal to a credential in a file, semicolon
files, repeated headers, NUL bytes past the first 4 KiB, devices, zip archives
with two members and decompression bombs: each is a one-line error that names
the file and shows none of its lines.
"""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import pytest

from forecast.data import read_events
from forecast.data.ingest import MAX_DECOMPRESSED_ENV, check_event_file
from forecast.errors import InputError

HERE = Path(__file__).parent
GENERIC = HERE / "data" / "generic_events.csv"
SECRET = "pw-FAKE-hunter2-91c"


@pytest.fixture(autouse=True)
def _fake_credentials(monkeypatch):
    monkeypatch.setenv("ACLED_PASSWORD", SECRET)
    monkeypatch.setenv("ACLED_EMAIL", "analyst.fake@example.org")


def _refused(path: Path, source: str = "csv", **options) -> str:
    with pytest.raises(InputError) as caught:
        read_events(source, path, country="AFG", **options)
    message = str(caught.value)
    assert len(message.splitlines()) == 1 and str(path) in message
    return message


@pytest.mark.parametrize("name", [".env", "prod.env", ".env.local", "settings.csv"])
def test_a_settings_file_is_refused_without_echoing_a_line(tmp_path, name):
    path = tmp_path / name
    path.write_text(f"ACLED_EMAIL=analyst.fake@example.org\nACLED_PASSWORD={SECRET}\nexport DEBUG=1\n")
    for source in ("csv", "acled", "ucdp", "gtd"):
        message = _refused(path, source)
        assert "settings" in message
        assert SECRET not in message and "ACLED_EMAIL" not in message and "analyst.fake" not in message


def test_a_value_equal_to_a_credential_is_never_quoted_from_a_file(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text(f"{SECRET},admin1\n2021-01-01,Kabul\n")  # the password as a column name
    message = _refused(path)
    assert "missing" in message and SECRET not in message and "***" in message


def test_the_runner_refuses_a_settings_file_before_any_notebook_runs(tmp_path):
    from forecast.runner.run import run_reports

    root = Path(__file__).resolve().parents[1]
    secrets = tmp_path / ".env"
    secrets.write_text(f"ACLED_PASSWORD={SECRET}\n")
    reports = tmp_path / "reports"
    with pytest.raises(InputError, match="settings or credentials file") as caught:
        run_reports(root / "config" / "default.yaml", ["source=csv", f"events_path={secrets}"],
                    notebooks_dir=HERE / "data" / "notebooks", reports_dir=reports, project_root=root)
    assert SECRET not in str(caught.value)
    assert not reports.exists()  # no failed run, no page, no manifest, no notebook


def test_semicolon_and_tab_files_are_told_about_the_delimiter(tmp_path):
    for mark, word in ((";", "semicolons"), ("\t", "tabs")):
        path = tmp_path / "events.csv"
        path.write_text(GENERIC.read_text().replace(",", mark))
        assert f"separated by {word}" in _refused(path)
        assert f"separated by {word}" in _refused(path, "acled")


def test_a_repeated_column_name_is_refused(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("date,admin1,date\n2021-01-01,Kabul,2021-02-01\n")
    assert "column 'date' appears twice in the header (columns 1 and 3)" in _refused(path)


def test_a_nul_byte_after_the_first_4_kib_is_refused_with_its_offset(tmp_path):
    text = GENERIC.read_bytes()
    header, _, rest = text.partition(b"\n")
    body = rest * (5000 // len(rest) + 1)
    data = header + b"\n" + body + b"2021-10-08,Nangarhar,,,,IS\x00K,1\n"
    path = tmp_path / "events.csv"
    path.write_bytes(data)
    offset = data.index(bytes(1))
    assert offset > 4096
    assert f"NUL bytes (first at byte offset {offset})" in _refused(path)


def test_a_device_is_not_an_empty_file():
    message = _refused(Path("/dev/urandom"))
    assert "not a regular file" in message and "0 bytes" not in message


def _zip(tmp_path: Path, members: dict[str, bytes]) -> Path:
    path = tmp_path / "events.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_a_zip_with_two_csvs_names_them(tmp_path):
    path = _zip(tmp_path, {"a.csv": GENERIC.read_bytes(), "b.csv": GENERIC.read_bytes()})
    assert "holds 2 files (a.csv, b.csv)" in _refused(path)


def test_a_zip_with_one_csv_is_read(tmp_path):
    path = _zip(tmp_path, {"events.csv": GENERIC.read_bytes()})
    assert len(read_events("csv", path, country="AFG", unmatched="drop").events) > 0


def test_decompression_bombs_are_refused_before_pandas_reads_them(tmp_path, monkeypatch):
    monkeypatch.setenv(MAX_DECOMPRESSED_ENV, str(1 << 20))  # 1 MiB; the default is 1 GiB
    header = GENERIC.read_bytes().partition(b"\n")[0] + b"\n"
    filler = header + b"2021-10-08,Kabul,,,,x,1\n" * 100_000  # 2.4 MB of text
    bomb = tmp_path / "events.csv.gz"
    with gzip.open(bomb, "wb") as sink:
        sink.write(filler)
    assert bomb.stat().st_size < 100_000
    assert "unpacks to more than 1,048,576 bytes" in _refused(bomb)

    zipped = _zip(tmp_path, {"events.csv": filler})
    assert "unpacks to 2,400,0" in _refused(zipped)
    with pytest.raises(InputError, match="unpacks to"):
        check_event_file(bomb)


def test_a_damaged_gzip_is_one_line(tmp_path):
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb") as sink:
        sink.write(GENERIC.read_bytes() * 50)
    path = tmp_path / "events.csv.gz"
    path.write_bytes(buffer.getvalue()[:-40])
    assert "damaged" in _refused(path)
