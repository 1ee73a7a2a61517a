"""Faults in reports/: a run killed at each rename, a full disk, a reports dir laid out wrong.

The kills are real: ``strace -e inject=...:signal=KILL:when=N`` kills the
runner process at its N-th rename (kernels are other processes and are not
traced), for every N a published run performs. After each kill the last good
report must stay the latest and intact, ``index.html`` and ``latest.json``
must agree, and the next run must succeed and leave no temporary file.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parent
CONFIG = ROOT / "config" / "default.yaml"
FORECAST = str(Path(sys.executable).with_name("forecast"))
RENAMES = "rename,renameat,renameat2"

needs_strace = pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")


def _notebooks(folder: Path) -> Path:
    """One small test notebook: a full (hence published) run in a few seconds."""
    folder.mkdir()
    shutil.copy(HERE / "data" / "notebooks" / "03_check.ipynb", folder / "03_check.ipynb")
    return folder


def _command(notebooks: Path, reports: Path) -> list[str]:
    return [FORECAST, "run", "--config", str(CONFIG), "--notebooks-dir", str(notebooks),
            "--reports-dir", str(reports), "--quiet", "--publish"]


def _run(command: list[str], cwd: Path, *, strace: list[str] | None = None) -> subprocess.CompletedProcess:
    prefix = ["strace", "-qq", "-o", "/dev/null", *strace] if strace else []
    return subprocess.run([*prefix, *command], cwd=cwd, capture_output=True, text=True, timeout=300)


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _latest(reports: Path) -> str:
    return json.loads((reports / "latest.json").read_text(encoding="utf-8"))["run_id"]


def _index_latest(reports: Path) -> str | None:
    found = re.search(r"<h2>Latest run: ([^<]+)</h2>", (reports / "index.html").read_text(encoding="utf-8"))
    return found.group(1) if found else None


def _temporaries(reports: Path) -> list[str]:
    return sorted(str(p.relative_to(reports)) for p in reports.rglob("*")
                  if p.name.endswith(".tmp") or p.name.startswith(".tmp-"))


def _renames_in_a_run(notebooks: Path, reports: Path, cwd: Path) -> int:
    trace = cwd / "renames.txt"
    done = subprocess.run(["strace", "-qq", "-e", f"trace={RENAMES}", "-o", str(trace), *_command(notebooks, reports)],
                          cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return sum(1 for line in trace.read_text().splitlines() if re.match(r"rename", line))


@needs_strace
@pytest.mark.slow
def test_a_kill_at_any_rename_keeps_the_last_good_report(tmp_path):
    notebooks = _notebooks(tmp_path / "notebooks")
    reports = tmp_path / "reports"
    first = _run(_command(notebooks, reports), tmp_path)
    assert first.returncode == 0, first.stderr
    renames = _renames_in_a_run(notebooks, reports, tmp_path)
    assert renames >= 4  # the run folder, its manifest, the ledger sync, latest.json and index.html
    for n in range(1, renames + 1):
        good = _latest(reports)
        kept = _hashes(reports / "runs" / good)
        killed = _run(_command(notebooks, reports), tmp_path,
                      strace=["-e", f"inject={RENAMES}:signal=KILL:when={n}"])
        assert killed.returncode != 0, f"rename {n} was not reached"
        # Whatever was killed: the good run's files are untouched and latest.json names a complete run.
        assert _hashes(reports / "runs" / good) == kept, n
        latest = _latest(reports)
        assert (reports / "runs" / latest / "manifest.json").is_file(), n
        # The next run repairs whatever the kill left, then succeeds.
        after = _run(_command(notebooks, reports), tmp_path)
        assert after.returncode == 0, (n, after.stderr)
        assert _index_latest(reports) == _latest(reports), n
        assert _temporaries(reports) == [], (n, _temporaries(reports))


@needs_strace
@pytest.mark.slow
@pytest.mark.parametrize("error", ["ENOSPC", "EROFS"])
def test_a_full_or_read_only_disk_is_one_line_and_keeps_the_last_good_report(tmp_path, error):
    notebooks = _notebooks(tmp_path / "notebooks")
    reports = tmp_path / "reports"
    assert _run(_command(notebooks, reports), tmp_path).returncode == 0
    good, index = _latest(reports), (reports / "index.html").read_bytes()
    # Every rename of the run fails as on a full (read-only) disk.
    failed = _run(_command(notebooks, reports), tmp_path, strace=["-e", f"inject={RENAMES}:error={error}"])
    assert failed.returncode == 2, failed.stderr
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in failed.stderr, failed.stderr
    assert "the last good report is unchanged" in lines[0]
    assert _latest(reports) == good and (reports / "index.html").read_bytes() == index
    assert _run(_command(notebooks, reports), tmp_path).returncode == 0
    assert _temporaries(reports) == []


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["runs is a file", "index.html is a directory"])
def test_a_reports_dir_laid_out_wrong_is_refused_before_running(tmp_path, layout):
    notebooks = _notebooks(tmp_path / "notebooks")
    reports = tmp_path / "reports"
    reports.mkdir()
    if layout == "runs is a file":
        (reports / "runs").write_text("not a folder")
    else:
        (reports / "index.html").mkdir()
    done = _run(_command(notebooks, reports), tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "must be a" in lines[0] and "Traceback" not in done.stderr, done.stderr


@pytest.mark.slow
def test_published_files_follow_the_umask(tmp_path):
    notebooks = _notebooks(tmp_path / "notebooks")
    reports = tmp_path / "reports"
    done = subprocess.run(["sh", "-c", "umask 022 && exec " + " ".join(_command(notebooks, reports))],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    run = reports / "runs" / _latest(reports)
    for path in (reports / "index.html", reports / "latest.json", run / "manifest.json", run / "03_check.html"):
        assert path.stat().st_mode & 0o777 == 0o644, path
    for path in (reports / "runs", run):
        assert path.stat().st_mode & 0o777 == 0o755, path


@needs_strace
@pytest.mark.slow
def test_a_kill_during_a_ledger_append_leaves_no_partial_partition(tmp_path):
    """The real suite's run, its ledger removed, then appended again by sync_ledger killed at each rename."""
    from forecast.evaluation.ledger import read_forecasts, run_ids

    reports = tmp_path / "reports"
    done = _run([FORECAST, "run", "--config", str(CONFIG), "--reports-dir", str(reports), "--quiet", "--publish",
                 "-p", "horizon=2"], tmp_path)
    assert done.returncode == 0, done.stderr
    run_id = _latest(reports)
    ledger = reports / "ledger"
    stored = read_forecasts(ledger)
    shutil.rmtree(ledger)
    sync = [sys.executable, "-c", f"from forecast.runner.run import sync_ledger; sync_ledger({str(reports)!r})"]
    trace = tmp_path / "renames.txt"
    assert subprocess.run(["strace", "-qq", "-e", f"trace={RENAMES}", "-o", str(trace), *sync],
                          cwd=tmp_path, timeout=300).returncode == 0
    renames = sum(1 for line in trace.read_text().splitlines() if line.startswith("rename"))
    assert renames >= 1
    shutil.rmtree(ledger)
    for n in range(1, renames + 1):
        killed = _run(sync, tmp_path, strace=["-e", f"inject={RENAMES}:signal=KILL:when={n}"])
        assert killed.returncode != 0
        held = run_ids(ledger) if ledger.exists() else []
        assert held in ([], [run_id]), (n, held)  # all of the run's partition or none of it
        if held:
            assert read_forecasts(ledger).equals(stored)
        assert _run(sync, tmp_path).returncode == 0
        assert run_ids(ledger) == [run_id] and read_forecasts(ledger).equals(stored), n
        assert _temporaries(reports) == [], n
        shutil.rmtree(ledger)
