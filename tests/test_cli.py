"""The command line's own contract: usage errors are one line and exit 2, --version, help."""

from __future__ import annotations

import subprocess
import sys

import pytest

from forecast import __version__
from forecast.cli import main


def test_unknown_option_is_a_one_line_error_with_status_2(capsys):
    assert main(["ingest", "--password", "secret"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: No such option: --password"


def test_missing_argument_and_bad_value(capsys):
    assert main(["ingest"]) == 2
    assert "Missing argument" in capsys.readouterr().err
    assert main(["predict", "--events", "x.csv", "--source", "csv", "--horizon", "eight"]) == 2
    assert "--horizon" in capsys.readouterr().err


def test_version_and_help_exit_0(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == __version__
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("ingest", "panel", "predict", "backtest", "warn", "run", "spread", "fetch", "data"):
        assert command in out


def test_console_script_exit_status_from_a_real_process(tmp_path):
    missing = tmp_path / "missing.csv"
    result = subprocess.run(
        [sys.executable, "-m", "forecast.cli", "ingest", "csv", str(missing), "--country", "AFG"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "missing.csv" in result.stderr


def test_run_refuses_a_frequency_the_panel_cannot_build_before_anything_runs(tmp_path, capsys):
    """``-p freq=D`` is a valid pandas alias but no panel frequency: refused up front, nothing written."""
    reports = tmp_path / "reports"
    assert main(["run", "-p", "freq=D", "--reports-dir", str(reports)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: parameter 'freq' 'D' is not supported; use one of W-MON, MS"
    assert not reports.exists()


@pytest.mark.parametrize("as_of", ["0001-01-01", "1677-06-01", "9999-12-31", "1899-12-31"])
def test_out_of_range_dates_are_one_line_errors(as_of, capsys):
    status = main(["predict", "--source", "synthetic", "--horizon", "1", "--models", "zero", "--as-of", as_of])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert f"'{as_of}' is outside the supported dates 1900-01-01 to 2199-12-31" in err


def test_a_timezone_suffixed_as_of_is_the_date_as_written(capsys):
    outputs = []
    for as_of in ("2021-12-26", "2021-12-26T22:00:00Z", "2021-12-26T23:30:00+04:30"):
        assert main(["predict", "--source", "synthetic", "--horizon", "1", "--models", "hist_mean", "--as-of", as_of]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1] == outputs[2]
    assert "2021-12-27" in outputs[0]  # the first forecast week follows the week ending on Sunday the 26th
