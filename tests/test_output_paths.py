"""No command writes inside data/raw/ but the downloaders, and no output may be one of the command's inputs.

Issue 19 item 2: ``forecast ingest csv data/raw/csv/x.csv --out data/raw/csv/x.csv``
replaced the raw CSV with parquet and exited 0. Every case here exits 2 with
one line and leaves the files as they were (same sha256).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from forecast.checks import output_folder, output_path
from forecast.cli import main
from forecast.errors import ParameterError
from forecast.files import sha256_file

DATA = Path(__file__).parent / "data"


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    raw = tmp_path / "data" / "raw" / "csv"
    raw.mkdir(parents=True)
    shutil.copy(DATA / "generic_events.csv", raw / "x.csv")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): sha256_file(p) for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("argv", [
    ["ingest", "csv", "data/raw/csv/x.csv", "--out", "data/raw/csv/x.csv"],
    ["ingest", "csv", "data/raw/csv/x.csv", "--out", "data/raw/csv/x.parquet"],
    ["ingest", "csv", "data/raw/csv/x.csv", "--out", "data/processed/../raw/csv/y.parquet"],
    ["ingest", "csv", "data/raw/csv/x.csv", "--out", "copy.csv"],          # copy.csv is a link to the input
    ["ingest", "csv", "copy.csv", "--out", "copy.csv"],
    ["ingest", "csv", "data/raw/csv/x.csv", "--out", "data"],              # a folder
    ["ingest", "csv", "data/raw/csv/x.csv", "--out", "note.txt/events.parquet"],  # below a file
    ["panel", "--events", "note.txt", "--out", "note.txt"],
    ["predict", "--source", "csv", "--events", "data/raw/csv/x.csv", "--horizon", "1", "--models", "last",
     "--out", "data/raw/csv/f.parquet"],
    ["backtest", "--source", "csv", "--events", "data/raw/csv/x.csv", "--out", "data/raw/csv/x.csv"],
    ["runs", "list", "--reports-dir", "data/raw"],
    ["runs", "prune", "--keep", "1", "--reports-dir", "note.txt"],
])
def test_outputs_onto_inputs_or_into_raw_data_are_refused(project, capsys, argv):
    (project / "copy.csv").symlink_to(project / "data/raw/csv/x.csv")
    (project / "note.txt").write_text("not a folder\n")
    before = _hashes(project)

    code = main(argv)

    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: --"), err
    assert "Traceback" not in err
    assert _hashes(project) == before


def test_the_check_names_the_input_and_suggests_a_path(tmp_path):
    source = tmp_path / "events.csv"
    source.write_text("x\n")
    with pytest.raises(ParameterError, match=r"is also an input of this command .*e\.g\. data/processed"):
        output_path(tmp_path / "." / "events.csv", "--out", inputs=[source])
    assert output_path(tmp_path / "out.parquet", "--out", inputs=[source]) == tmp_path / "out.parquet"
    assert output_folder(tmp_path / "reports", "--reports-dir") == tmp_path / "reports"


def test_ingest_to_processed_still_works(project, capsys):
    code = main(["ingest", "csv", "data/raw/csv/x.csv", "--country", "AFG", "--out", "data/processed/events.parquet"])
    assert code == 0, capsys.readouterr().err
    assert (project / "data/processed/events.parquet").exists()
