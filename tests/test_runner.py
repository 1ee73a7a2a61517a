"""The report runner: parameters, papermill runs, HTML export, publishing, locking, retention.

Runs use the small notebooks in tests/data/notebooks (a real kernel, a few
seconds each): 01_overview prints, writes to stderr, warns, shows a table and a
figure; 02_alerts writes alerts.json; 03_check fails or sleeps on request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from forecast import cli
from forecast.errors import LockError, ParameterError, RunError
from forecast.report.notebook import html_table, render_index, summarize_alerts
from forecast.runner.params import (
    declared_parameters,
    load_config,
    parse_override,
    parse_parameters_source,
)
from forecast.runner.run import (
    LOCK_NAME,
    RunLock,
    cron_to_oncalendar,
    discover_notebooks,
    make_schedule,
    plan_run,
    prune_runs,
    publish_index,
    read_manifests,
    run_reports,
)

HERE = Path(__file__).parent
ROOT = HERE.parent
NOTEBOOKS = HERE / "data" / "notebooks"
CONFIG = ROOT / "config" / "default.yaml"
XSS = "<script>alert(1)</script>"
ESCAPED_XSS = "&lt;script&gt;alert(1)&lt;/script&gt;"


def _run(reports: Path, *overrides: str, select: str | None = None, **options):
    return run_reports(
        CONFIG,
        list(overrides),
        notebooks_dir=NOTEBOOKS,
        select=select,
        reports_dir=reports,
        project_root=ROOT,
        **options,
    )


def _tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# ---------------------------------------------------------------------------
# Parameters (no kernel)
# ---------------------------------------------------------------------------


def test_parameters_cell_is_read_with_types_defaults_and_comments():
    declared = parse_parameters_source(
        'horizon = 8  # periods ahead\n'
        "# the actor filter,\n# None = all actors\n"
        "actor = None\n"
        'stronghold: str | list = "auto"  # "auto" or unit names\n'
        "alpha = 0.01  # significance\n"
        'models = [\n    "hist_mean",  # the baseline\n    "ensemble",\n]\n'
    )
    assert list(declared) == ["horizon", "actor", "stronghold", "alpha", "models"]
    assert declared["horizon"].default == 8 and declared["horizon"].type_label == "int"
    assert declared["horizon"].help == "periods ahead"
    assert declared["actor"].types is None and declared["actor"].help == "the actor filter, None = all actors"
    assert declared["stronghold"].type_label == "str | list"
    assert declared["models"].default == ["hist_mean", "ensemble"] and declared["models"].help == "the baseline"
    with pytest.raises(ParameterError, match="'start' is not a literal"):
        parse_parameters_source("import datetime\nstart = datetime.date(2021, 1, 1)  # first day\n")


def test_test_notebooks_declare_what_the_tests_rely_on():
    assert set(declared_parameters(NOTEBOOKS / "01_overview.ipynb")) == {"source", "actor", "as_of", "horizon"}
    assert set(declared_parameters(NOTEBOOKS / "02_alerts.ipynb")) == {"actor", "thresholds", "output_dir"}
    assert declared_parameters(NOTEBOOKS / "03_check.ipynb")["fail"].type_label == "bool"


def test_overrides_are_yaml_but_dates_stay_iso_strings():
    assert parse_override("horizon=4") == ("horizon", 4)
    assert parse_override("as_of=2021-12-27") == ("as_of", "2021-12-27")
    assert parse_override("as_of=null") == ("as_of", None)
    assert parse_override('stronghold=["Nangarhar", "Kunar"]') == ("stronghold", ["Nangarhar", "Kunar"])
    with pytest.raises(ParameterError, match="not key=value"):
        parse_override("horizon")
    config = load_config(
        CONFIG, ["thresholds.alpha=0.05", "thresholds.cusum_h=4.0", "as_of=2020-06-01", "country=NO"]
    )
    # Threshold names are checked against the warning rules' settings, not the file's keys.
    assert config.values["thresholds"] == {"alpha": 0.05, "cusum_h": 4.0}
    assert config.values["as_of"] == "2020-06-01"
    assert config.values["synthetic"]["start"] == "2014-01-06"  # a str, not a date, from the file too
    assert config.overrides == {
        "thresholds.alpha": "0.05", "thresholds.cusum_h": "4.0", "as_of": "2020-06-01", "country": "NO"
    }
    with pytest.raises(ParameterError, match=r"unknown parameter 'thresholds.alfa'; 'thresholds' has: .*alpha"):
        load_config(CONFIG, ["thresholds.alfa=0.05"])
    with pytest.raises(ParameterError, match=r"synthetic.sed"):
        load_config(CONFIG, ["synthetic.sed=3"])


def test_default_config_passes_the_global_checks():
    plan = plan_run(CONFIG, notebooks_dir=NOTEBOOKS, project_root=ROOT, reports_dir=ROOT / "reports")
    assert plan.config.values["source"] == "synthetic"
    assert plan.input == {"source": "synthetic", "events_path": None, "sha256": "synthetic:20211"}


def test_each_notebook_receives_only_what_it_declares():
    plan = plan_run(CONFIG, ["horizon=4", "fail=true"], notebooks_dir=NOTEBOOKS, project_root=ROOT, reports_dir=ROOT / "reports")
    assert plan.parameters["01_overview"] == {
        "source": "synthetic",
        "actor": None,
        "as_of": None,  # the default config judges the data's end
        "horizon": 4,
    }
    assert plan.parameters["03_check"] == {"horizon": 4, "fail": True}  # sleep_seconds keeps its default
    assert set(plan.parameters["02_alerts"]) == {"actor", "thresholds", "output_dir"}


def test_where_the_work_runs_is_a_run_parameter():
    plan = plan_run(CONFIG, ["workers=2", "address=tcp://10.0.0.5:8786"], notebooks_dir=NOTEBOOKS,
                    project_root=ROOT, reports_dir=ROOT / "reports")
    assert plan.config.values["workers"] == 2 and plan.config.values["address"] == "tcp://10.0.0.5:8786"
    default = plan_run(CONFIG, notebooks_dir=NOTEBOOKS, project_root=ROOT, reports_dir=ROOT / "reports")
    assert default.config.values["workers"] is None and default.config.values["address"] is None


def test_bare_words_stay_strings_where_strings_are_expected():
    plan = plan_run(CONFIG, ["country=NO", "actor=yes"], notebooks_dir=NOTEBOOKS, project_root=ROOT, reports_dir=ROOT / "reports")
    assert plan.config.values["country"] == "NO"
    assert plan.parameters["01_overview"]["actor"] == "yes"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("horizn=4", r"unknown parameter 'horizn'; notebooks declare: actor, as_of, fail, horizon"),
        ("fail=3", r"parameter 'fail' of notebook 03_check.ipynb expects bool \(default False\), got int 3"),
        ("sleep_seconds=soon", r"parameter 'sleep_seconds' of notebook 03_check.ipynb expects float"),
        ("horizon=four", r"parameter 'horizon' \(used by 01_overview.ipynb, 03_check.ipynb\) expects int, got str 'four'"),
        ("horizon=0", r"parameter 'horizon' must be a whole number >= 1, got 0"),
        ("freq=D", r"parameter 'freq' 'D' is not supported; use one of W-MON, MS"),
        ("as_of=last-week", r"'last-week' is not an ISO date"),
        ("source=ucdp", r"source 'ucdp' needs events_path"),
        ("freq=fortnightly", r"'fortnightly' is not supported"),
        ("output_dir=/tmp", r"parameter 'output_dir' is set by the runner"),
        ("as_of=9999-12-31", r"'9999-12-31' is outside the supported dates 1900-01-01 to 2199-12-31"),
        ("as_of=0001-01-01", r"'0001-01-01' is outside the supported dates"),
        ("thresholds.alpha=foo", r"parameter 'thresholds' is not valid: WarningConfig.alpha must lie in \(0, 1\], got 'foo'"),
        ("workers=0", r"parameter 'workers' must be a whole number >= 1, got 0"),
        ("workers=two", r"parameter 'workers' expects int \| None, got str 'two'"),
        ("address=localhost:8786", r"parameter 'address' 'localhost:8786' is not a scheduler address; write tcp://HOST:PORT"),
    ],
)
def test_bad_parameters_fail_before_anything_is_written(tmp_path, override, message):
    reports = tmp_path / "reports"
    with pytest.raises(ParameterError, match=message):
        _run(reports, override)
    assert not reports.exists()  # no lock, no run folder, no index


def test_missing_events_file_is_refused_before_the_run(tmp_path):
    reports = tmp_path / "reports"
    with pytest.raises(ParameterError, match="events_path not found"):
        _run(reports, "source=csv", "events_path=data/raw/nope.csv")
    assert not reports.exists()


def test_sleep_seconds_takes_an_int_where_a_float_is_declared():
    plan = plan_run(CONFIG, ["sleep_seconds=1"], notebooks_dir=NOTEBOOKS, project_root=ROOT, reports_dir=ROOT / "reports")
    assert plan.parameters["03_check"]["sleep_seconds"] == 1


def test_notebook_selection_and_the_exploration_template():
    everything = discover_notebooks(NOTEBOOKS)
    assert [path.name for path in everything] == ["01_overview.ipynb", "02_alerts.ipynb", "03_check.ipynb"]
    assert [path.stem for path in discover_notebooks(NOTEBOOKS, "3,01")] == ["01_overview", "03_check"]
    assert [path.stem for path in discover_notebooks(NOTEBOOKS, "alerts")] == ["02_alerts"]
    with pytest.raises(ParameterError, match="no notebook matches '07'; available: 01_overview, 02_alerts, 03_check"):
        discover_notebooks(NOTEBOOKS, "07")


def test_unknown_parameter_is_checked_against_the_selected_notebooks_only(tmp_path):
    with pytest.raises(ParameterError, match="unknown parameter 'fail'"):
        _run(tmp_path / "reports", "fail=true", select="01")


# ---------------------------------------------------------------------------
# Lock (no kernel)
# ---------------------------------------------------------------------------


def test_a_held_lock_refuses_a_second_run_with_a_clear_message(tmp_path):
    reports = tmp_path / "reports"
    with RunLock(reports):
        with pytest.raises(LockError, match=rf"is locked by run pid {os.getpid()} on .* started .*; wait for it"):
            _run(reports, select="03")
        assert not (reports / "runs").exists()
    assert not (reports / LOCK_NAME).exists()


def test_a_stale_lock_of_a_dead_process_is_recovered(tmp_path):
    reports = tmp_path / "reports"
    reports.mkdir()
    dead = _dead_pid()
    (reports / LOCK_NAME).write_text(
        json.dumps({"pid": dead, "hostname": socket.gethostname(), "started": "2021-12-27T06:00:00+00:00"})
    )
    messages: list[str] = []
    with RunLock(reports, on_recover=messages.append) as lock:
        assert lock.holder()["pid"] == os.getpid()
    assert messages == [f"recovered a stale lock in {reports}: pid {dead} (started 2021-12-27T06:00:00+00:00) is no longer running"]
    assert not (reports / LOCK_NAME).exists()


def test_an_empty_lock_file_is_stale_and_a_foreign_host_lock_is_respected(tmp_path):
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / LOCK_NAME).write_text("")  # killed between creating and writing it
    with RunLock(reports):
        pass
    (reports / LOCK_NAME).write_text(json.dumps({"pid": _dead_pid(), "hostname": "elsewhere", "started": "x"}))
    with pytest.raises(LockError, match="on elsewhere"):
        RunLock(reports).acquire()


@pytest.mark.slow
def test_a_second_process_is_refused_while_another_holds_the_lock(tmp_path):
    reports = tmp_path / "reports"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom forecast.runner.run import RunLock\n"
            f"lock = RunLock({str(reports)!r}).acquire()\nprint('locked', flush=True)\ntime.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        done = subprocess.run(
            [
                str(Path(sys.executable).parent / "forecast"), "run", "--config", str(CONFIG),
                "--notebooks-dir", str(NOTEBOOKS), "--reports-dir", str(reports), "--notebooks", "03",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 2
    assert f"is locked by run pid {holder.pid}" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (reports / "runs").exists()


# ---------------------------------------------------------------------------
# Pages, index, retention, schedule (no kernel)
# ---------------------------------------------------------------------------


def test_tables_escape_every_header_and_cell():
    markup = html_table([{XSS: XSS, "n": 1.23456}], alert=True, caption=XSS)
    assert XSS not in markup
    assert markup.count(ESCAPED_XSS) == 3
    assert markup.startswith('<table class="alert-table"><caption>')
    assert '<td class="num">1.23</td>' in markup


def test_alert_summary_counts_levels_and_orders_the_top_units():
    summary = summarize_alerts(
        [
            {"unit_name": "Kunar", "level": "watch", "reason": "rising"},
            {"unit_name": "Helmand", "level": "alarm", "reason": "3 above"},
            {"unit_name": "Kabul", "level": "none", "reason": ""},
            {"unit_name": "Nangarhar", "level": "alarm", "reason": "spillover"},
        ],
        levels=["alarm", "watch"],
        top=2,
    )
    assert summary["counts"] == {"alarm": 2, "watch": 1}
    assert summary["n_units"] == 4
    assert [row["unit"] for row in summary["top"]] == ["Helmand", "Nangarhar"]


def _fake_run(reports: Path, run_id: str, started: str, status: str = "ok", **extra) -> None:
    folder = reports / "runs" / run_id
    folder.mkdir(parents=True)
    (folder / "01_x.html").write_text("<html></html>")
    manifest = {
        "run_id": run_id,
        "status": status,
        "started": started,
        "finished": started,
        "parameters": {"source": "synthetic", "actor": XSS, "as_of": "2021-12-27"},
        "notebooks": [{"name": "01_x", "status": status, "html": "01_x.html", "error": None}],
        "alerts": {"levels": ["alarm"], "counts": {"alarm": 1}, "n_units": 34, "top": [{"unit": XSS, "level": "alarm", "reason": "r"}]},
        **extra,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_index_lists_runs_newest_first_with_the_latest_successful_one_on_top(tmp_path):
    reports = tmp_path / "reports"
    _fake_run(reports, "r1", "2022-01-01T06:00:00+00:00")
    _fake_run(reports, "r2", "2022-01-02T06:00:00+00:00")
    _fake_run(reports, "r3", "2022-01-03T06:00:00+00:00", status="failed")
    (reports / "runs" / ".tmp-r4").mkdir()  # half-built: invisible
    index = publish_index(reports).read_text()
    assert [m["run_id"] for m in read_manifests(reports)] == ["r3", "r2", "r1"]
    assert json.loads((reports / "latest.json").read_text())["run_id"] == "r2"
    assert "<h2>Latest run: r2</h2>" in index
    assert index.index("<td>r3</td>") < index.index("<td>r2 (latest)</td>") < index.index("<td>r1</td>")
    assert "SYNTHETIC DATA" in index and 'class="alert-table"' in index
    assert XSS not in index and ESCAPED_XSS in index
    assert ".tmp-r4" not in index


def test_runs_table_tells_weekly_from_monthly_runs_and_marks_unpublished_ones(tmp_path):
    reports = tmp_path / "reports"
    weekly = {"source": "ucdp", "as_of": "2021-12-27", "freq": "W-MON", "horizon": 8, "models": ["hist_mean", "ensemble"]}
    monthly = {**weekly, "freq": "MS", "horizon": 3, "as_of": "2021-10-31"}
    _fake_run(reports, "weekly", "2022-01-01T06:00:00+00:00", parameters=weekly,
              input={"source": "ucdp", "events_path": "data/raw/ucdp/GEDEvent_v25_1.csv", "sha256": "x"})
    _fake_run(reports, "monthly", "2022-01-02T06:00:00+00:00", parameters=monthly, published=False)
    index = publish_index(reports).read_text()
    assert json.loads((reports / "latest.json").read_text())["run_id"] == "weekly"
    assert ("<td>weekly (latest)</td><td>2022-01-01 06:00 UTC</td><td class=\"status-ok\" title=\"ok\">ok</td>"
            "<td>ucdp</td><td class=\"input\">GEDEvent_v25_1.csv</td><td>all actors</td><td>2021-12-27</td><td>W-MON, 8 ahead</td>"
            '<td title="hist_mean, ensemble">hist_mean, ensemble</td>') in index
    assert "<td>monthly (archived, not published)</td>" in index
    assert "<td>2021-10-31</td><td>MS, 3 ahead</td>" in index


def test_render_index_without_runs():
    page = render_index([], None)
    assert "No successful run yet" in page and "No runs yet" in page


def test_prune_keeps_the_newest_and_always_the_latest_successful_run(tmp_path):
    reports = tmp_path / "reports"
    _fake_run(reports, "r1", "2022-01-01T06:00:00+00:00")
    _fake_run(reports, "r2", "2022-01-02T06:00:00+00:00")
    _fake_run(reports, "r3", "2022-01-03T06:00:00+00:00", status="failed")
    _fake_run(reports, "r4", "2022-01-04T06:00:00+00:00", status="failed")
    assert prune_runs(reports, keep=1) == ["r3", "r1"]
    assert sorted(path.name for path in (reports / "runs").iterdir()) == ["r2", "r4"]
    index = (reports / "index.html").read_text()
    assert "r1" not in index and "r3" not in index and "<h2>Latest run: r2</h2>" in index
    assert prune_runs(reports, keep=5) == []
    with pytest.raises(ParameterError, match="--keep must be a whole number >= 1"):
        prune_runs(reports, keep=0)
    assert not (reports / LOCK_NAME).exists()


def test_prune_from_the_command_line(tmp_path, capsys):
    reports = tmp_path / "reports"
    for day in range(1, 5):
        _fake_run(reports, f"r{day}", f"2022-01-0{day}T06:00:00+00:00")
    assert cli.main(["runs", "prune", "--keep", "2", "--reports-dir", str(reports)]) == 0
    assert "deleted 2 runs" in capsys.readouterr().out
    assert sorted(path.name for path in (reports / "runs").iterdir()) == ["r3", "r4"]


def test_schedule_takes_parameters_checks_them_and_warns_about_a_fixed_as_of(capsys):
    assert cli.main(["schedule", "--cron", "0 6 * * 1"]) == 0
    assert capsys.readouterr().err == ""  # the default config judges the data's end: nothing fixed
    assert cli.main(["schedule", "--cron", "0 6 * * 1", "-p", "as_of=2021-12-27"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("warning: every scheduled run would judge the same fixed as_of 2021-12-27")
    assert "-p as_of=null" in err and err.count("\n") == 1

    assert cli.main(["schedule", "--cron", "0 6 * * 1", "-p", "as_of=null", "-p", "freq=MS"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "--quiet --publish -p as_of=null -p freq=MS" in captured.out

    assert cli.main(["schedule", "--cron", "0 6 * * 1", "-p", "horizon=abc"]) == 2  # checked now, not at 6 am
    assert "horizon" in capsys.readouterr().err


def test_schedule_uses_absolute_paths_and_the_venv_forecast(capsys):
    assert cli.main(["schedule", "--cron", "0 6 * * 1"]) == 0
    text = capsys.readouterr().out
    venv_forecast = str(Path(sys.executable).absolute().parent / "forecast")
    crontab = next(line for line in text.splitlines() if line.startswith("0 6 * * 1 "))
    assert crontab == f"0 6 * * 1 cd {ROOT} && {venv_forecast} run --config {CONFIG} --quiet --publish"
    assert f"ExecStart={venv_forecast} run --config {CONFIG} --quiet --publish" in text
    assert f"WorkingDirectory={ROOT}" in text
    assert "OnCalendar=Mon *-*-* 06:00:00" in text and "WantedBy=timers.target" in text
    schedule = make_schedule("0 6 * * 1", project_root=ROOT)
    assert all(Path(word).is_absolute() for word in schedule.command if "/" in word)


@pytest.mark.parametrize(
    ("cron", "calendar"),
    [
        ("0 6 * * 1", "Mon *-*-* 06:00:00"),
        ("30 5 1 * *", "*-*-01 05:30:00"),
        ("0 6 * * 1-5", "Mon..Fri *-*-* 06:00:00"),
        ("0 6 * * sun,wed", "Sun,Wed *-*-* 06:00:00"),
        ("*/15 * * * *", "*-*-* *:00/15:00"),
        ("0 0 1 jan *", "*-01-01 00:00:00"),
        ("@weekly", "Sun *-*-* 00:00:00"),
    ],
)
def test_cron_expressions_become_systemd_calendars(cron, calendar):
    assert cron_to_oncalendar(cron) == calendar


@pytest.mark.parametrize(
    ("cron", "message"),
    [("0 6 * *", "needs five fields"), ("0 25 * * *", "hour '25'"), ("0 6 1 * 1", "restrict one of them")],
)
def test_bad_cron_expressions_are_explained(cron, message):
    with pytest.raises(ParameterError, match=message):
        cron_to_oncalendar(cron)


# ---------------------------------------------------------------------------
# Real runs (kernel)
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """One successful run of the three test notebooks, with a hostile actor name."""
    reports = tmp_path_factory.mktemp("published") / "reports"
    lines: list[str] = []
    # A retrospective run (the default config judges the data's end): the as-of date names the run.
    result = _run(reports, "horizon=4", f"actor={XSS}", "as_of=2021-12-27", progress=lines.append)
    return reports, result, lines


@pytest.mark.slow
def test_a_run_publishes_reports_executed_notebooks_and_a_manifest(published):
    reports, result, lines = published
    folder = reports / "runs" / result.run_id
    assert result.ok and result.folder == folder
    assert result.run_id.startswith("2021-12-27_") and result.run_id.endswith("Z")
    names = ["01_overview", "02_alerts", "03_check"]
    assert sorted(path.name for path in folder.glob("*.html")) == [f"{name}.html" for name in names]
    assert sorted(path.name for path in folder.glob("*.ipynb")) == [f"{name}.ipynb" for name in names]
    assert [line.split(":")[0] for line in lines[:3]] == [f"[{n}/3] {name}" for n, name in enumerate(names, 1)]
    assert all(" ok in " in line and line.endswith(" s") for line in lines[:3])

    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "ok" and manifest["run_id"] == result.run_id
    assert [entry["status"] for entry in manifest["notebooks"]] == ["ok", "ok", "ok"]
    assert all(entry["duration_s"] > 0 for entry in manifest["notebooks"])
    assert manifest["notebooks"][0]["parameters"] == {"source": "synthetic", "actor": XSS, "as_of": "2021-12-27", "horizon": 4}
    assert manifest["notebooks"][2]["parameters"] == {"horizon": 4}
    assert manifest["parameters"]["horizon"] == 4 and manifest["overrides"]["horizon"] == "4"
    assert manifest["input"]["sha256"] == "synthetic:20211" and manifest["synthetic"] is True
    assert manifest["package_version"] and manifest["python_version"] == ".".join(map(str, sys.version_info[:3]))
    assert manifest["alerts"]["counts"] == {"alarm": 1, "watch": 1}
    assert manifest["alerts"]["top"][0] == {"unit": XSS, "level": "alarm", "reason": "3 events above the 0.01 band"}
    assert manifest["notebooks"][1]["alerts"]["n_units"] == 3
    assert (folder / "02_alerts.alerts.json").exists() and not (folder / "alerts.json").exists()

    assert json.loads((reports / "latest.json").read_text())["run_id"] == result.run_id
    assert not list((reports / "runs").glob(".tmp-*"))
    assert not (reports / LOCK_NAME).exists()
    assert not (folder / "exploration_template.ipynb").exists()


@pytest.mark.slow
def test_notebooks_run_in_this_virtual_environment(published):
    reports, result, _ = published
    executed = nbformat.read(reports / "runs" / result.run_id / "01_overview.ipynb", as_version=4)
    printed = "".join(
        "".join(output.get("text", "")) for cell in executed.cells if cell.cell_type == "code" for output in cell.outputs
    )
    assert f"kernel prefix: {sys.prefix}\n" in printed
    assert "horizon=4 as_of=2021-12-27" in printed
    assert executed.metadata.kernelspec.name == "forecast"


@pytest.mark.slow
def test_report_pages_have_no_code_no_stderr_and_embedded_figures(published):
    reports, result, _ = published
    folder = reports / "runs" / result.run_id
    executed = (folder / "01_overview.ipynb").read_text()
    page = (folder / "01_overview.html").read_text()
    # Present in the executed notebook (code and stderr outputs) ...
    for marker in ("CODE-ONLY-7391", "hidden_code_marker", "STDERR-MARKER-42", "WARNING-MARKER-43"):
        assert marker in executed
    # ... absent from the page.
    for marker in ("CODE-ONLY-7391", "hidden_code_marker", "STDERR-MARKER-42", "WARNING-MARKER-43", "import matplotlib"):
        assert marker not in page
    assert "horizon=4 as_of=2021-12-27" in page  # stdout stays
    assert page.count('src="data:image/png;base64,') == 1  # the figure, embedded, once
    assert "<script" not in page  # no external (or any) scripts: opens offline
    assert 'class="jp-InputArea jp-Cell-inputArea"><div class="jp-InputPrompt' not in page


@pytest.mark.slow
def test_report_header_names_the_data_and_puts_the_alert_table_first(published):
    reports, result, _ = published
    page = (reports / "runs" / result.run_id / "03_check.html").read_text()
    header = page[page.index('<header class="forecast-header">') : page.index("</header>")]
    assert f"<h1>Check — synthetic, {ESCAPED_XSS}, as of 2021-12-27</h1>" in header
    assert "SYNTHETIC DATA" in header and "<b>As of:</b> 2021-12-27" in header
    assert "<caption>Alerts: 1 alarm · 1 watch of 3 units</caption>" in header
    assert page.index('class="alert-table"') < page.index("check passed")
    assert '<a href="../../index.html">' in header


@pytest.mark.slow
def test_data_strings_are_escaped_everywhere(published):
    reports, result, _ = published
    pages = [reports / "index.html", *sorted((reports / "runs" / result.run_id).glob("*.html"))]
    for page in pages:
        text = page.read_text()
        assert XSS not in text, page.name
        assert ESCAPED_XSS in text, page.name


@pytest.mark.slow
def test_a_failed_run_keeps_the_previous_latest_report_and_exits_non_zero(published, tmp_path, capsys):
    original, good, _ = published
    reports = tmp_path / "reports"
    shutil.copytree(original, reports)
    before = _tree_digest(reports / "runs" / good.run_id)

    status = cli.main(
        [
            "run", "--config", str(CONFIG), "--notebooks-dir", str(NOTEBOOKS), "--reports-dir", str(reports),
            "--notebooks", "01,03", "-p", "fail=true", "--quiet",
        ]
    )
    captured = capsys.readouterr()
    assert status == 2
    assert captured.out == ""  # --quiet
    assert "failed: 03_check raised ValueError: failing on purpose with horizon=8" in captured.err
    assert f"the latest report is still {good.run_id}" in captured.err

    manifests = read_manifests(reports)
    failed = manifests[0]
    assert failed["status"] == "failed" and failed["run_id"] != good.run_id
    assert [(entry["name"], entry["status"]) for entry in failed["notebooks"]] == [("01_overview", "ok"), ("03_check", "failed")]
    assert failed["notebooks"][1]["error"]["ename"] == "ValueError"
    executed = nbformat.read(reports / failed["folder"] / "03_check.ipynb", as_version=4)
    errors = [output for cell in executed.cells for output in cell.get("outputs", []) if output.output_type == "error"]
    assert errors and errors[0].ename == "ValueError"
    assert (reports / failed["folder"] / "03_check.html").exists()

    assert json.loads((reports / "latest.json").read_text())["run_id"] == good.run_id
    index = (reports / "index.html").read_text()
    assert f"<h2>Latest run: {good.run_id}</h2>" in index
    assert "failed: 03_check (ValueError: failing on purpose with horizon=8)" in index
    assert _tree_digest(reports / "runs" / good.run_id) == before
    assert not (reports / LOCK_NAME).exists()


@pytest.mark.slow
def test_run_error_without_raising_returns_the_failed_result(tmp_path):
    result = _run(tmp_path / "reports", "fail=true", select="03", raise_on_failure=False)
    assert not result.ok and result.latest is None
    assert "there is no successful run yet" in result.messages[0]
    with pytest.raises(RunError, match="03_check raised ValueError"):
        _run(tmp_path / "reports", "fail=true", select="03")


@pytest.mark.slow
def test_concurrent_run_is_refused_and_a_killed_runs_lock_is_recovered(tmp_path):
    reports = tmp_path / "reports"
    forecast = str(Path(sys.executable).parent / "forecast")
    base = [forecast, "run", "--config", str(CONFIG), "--notebooks-dir", str(NOTEBOOKS), "--reports-dir", str(reports), "--notebooks", "03"]
    # A run that takes a while, in its own process group so it and its kernel can be killed together.
    first = subprocess.Popen([*base, "-p", "sleep_seconds=60", "--quiet"], start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while not ((reports / LOCK_NAME).exists() and list((reports / "runs").glob(".tmp-*"))):
            assert first.poll() is None, "the first run ended early"
            assert time.monotonic() < deadline, "the first run never took the lock"
            time.sleep(0.2)

        second = subprocess.run(base, capture_output=True, text=True, timeout=120)
        assert second.returncode == 2
        assert f"is locked by run pid {first.pid}" in second.stderr
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # like the OOM killer: no cleanup at all
        first.wait()
    assert (reports / LOCK_NAME).exists()  # left behind
    leftover = list((reports / "runs").glob(".tmp-*"))
    assert leftover

    third = subprocess.run(base, capture_output=True, text=True, timeout=180)
    assert third.returncode == 0, third.stderr
    assert f"recovered a stale lock in {reports}: pid {first.pid}" in third.stdout
    assert f"removed {leftover[0].name}" in third.stdout
    assert "[1/1] 03_check: ok in" in third.stdout
    assert not (reports / LOCK_NAME).exists()
    assert not list((reports / "runs").glob(".tmp-*"))
    assert [m["status"] for m in read_manifests(reports)] == ["ok"]


@pytest.mark.slow
def test_run_ids_are_unique_within_the_same_second(tmp_path):
    moment = dt.datetime(2025, 1, 6, 6, 0, tzinfo=dt.UTC)
    first = _run(tmp_path / "reports", "as_of=2021-12-27", select="03", now=moment)
    second = _run(tmp_path / "reports", "as_of=2021-12-27", select="03", now=moment)
    assert (first.run_id, second.run_id) == ("2021-12-27_20250106T060000Z", "2021-12-27_20250106T060000Z-2")


# ---------------------------------------------------------------------------
# The real notebooks (once they exist): `make report` on small parameters
# ---------------------------------------------------------------------------

REAL_NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
#: Overrides that keep the real suite quick in tests; adjust with the notebooks.
SMALL_RUN = ["horizon=2"]


@pytest.mark.slow
@pytest.mark.skipif(not REAL_NOTEBOOKS, reason="no notebooks/NN_*.ipynb yet")
def test_real_notebooks_publish_one_report_each(tmp_path):
    reports = tmp_path / "reports"
    result = run_reports(CONFIG, SMALL_RUN, reports_dir=reports, project_root=ROOT)
    assert result.ok, result.manifest["notebooks"]
    assert len(list(result.folder.glob("*.html"))) == len(REAL_NOTEBOOKS)
    assert (reports / "index.html").exists()

    # Every province the early-warning page puts at warning or above has its own fan chart.
    alerts = json.loads((result.folder / "04_early_warning.alerts.json").read_text())
    flagged = [row["unit"] for row in alerts["top"] if row["level"] in ("warning", "alert")]
    assert flagged  # the default scenario spreads in 2021: at least one province is flagged
    executed = nbformat.read(result.folder / "02_province_forecasts.ipynb", as_version=4)
    shown = "".join(str(output.get("data", {}).get("text/html", ""))
                    for cell in executed.cells for output in cell.get("outputs", []))
    charted = shown.split("Fan charts for: ", 1)[1].split(".", 1)[0].split(", ")
    assert set(flagged) <= set(charted), (flagged, charted)


def test_model_names_and_impossible_dates_are_refused_before_anything_runs(tmp_path):
    from forecast.runner.params import load_config

    reports = tmp_path / "reports"
    for override, message in [
        ("models=[hist_mean, glm_negbim]", "unknown model 'glm_negbim'"),
        ("models=hist_mean,glm_negbim", "unknown model 'glm_negbim'"),
        ("models=3", "write a list: -p models=a,b"),
        ("as_of=2021-02-30", "dates are YYYY-MM-DD"),
        ("synthetic.start=2022-01-01", "start 2022-01-01 must come before end"),
    ]:
        with pytest.raises(ParameterError, match=message):
            plan_run(CONFIG, [override], notebooks_dir=ROOT / "notebooks", project_root=ROOT, reports_dir=reports)
        assert not reports.exists()
    bad = tmp_path / "bad.yaml"
    bad.write_text("as_of: 2021-02-30\n")
    with pytest.raises(ParameterError, match="bad.yaml.*dates are YYYY-MM-DD"):
        load_config(bad)


def test_a_model_list_reads_the_same_as_a_list_or_as_the_cli_writes_it():
    """-p models=a,b means what --models a,b means; the YAML list is the same list."""
    lists = [plan_run(CONFIG, [override], notebooks_dir=ROOT / "notebooks", project_root=ROOT,
                      reports_dir=ROOT / "reports").config.values["models"]
             for override in ("models=hist_mean,glm_negbin(ar=2, trend=False)",
                              "models=[hist_mean, 'glm_negbin(ar=2, trend=False)']")]
    assert lists[0] == lists[1] == ["hist_mean", "glm_negbin(ar=2, trend=False)"]


@pytest.mark.parametrize("freq", ["W-MON", "MS"])
def test_null_models_are_the_candidates_of_the_frequency_written_out(freq):
    """models: null (the default config) gives each notebook, the manifest and the index the list for the panel."""
    from forecast.defaults import default_models

    plan = plan_run(CONFIG, [f"freq={freq}"], notebooks_dir=ROOT / "notebooks", project_root=ROOT,
                    reports_dir=ROOT / "reports")
    expected = list(default_models(freq))
    assert plan.config.values["models"] == expected
    assert expected != list(default_models("W-MON" if freq == "MS" else "MS"))
    given = [values["models"] for values in plan.parameters.values() if "models" in values]
    assert len(given) >= 2 and all(models == expected for models in given)  # the forecast and backtest pages


def test_null_as_of_on_the_command_line_means_automatic():
    plan = plan_run(CONFIG, ["as_of=null"], notebooks_dir=ROOT / "notebooks", project_root=ROOT,
                    reports_dir=ROOT / "reports")
    assert plan.config.values["as_of"] is None


def _warning_notebooks(folder: Path) -> Path:
    """The test notebooks, with 02_alerts reporting one alert and one warning (the early-warning scale)."""
    folder.mkdir()
    for notebook in NOTEBOOKS.glob("0[12]_*.ipynb"):
        text = notebook.read_text(encoding="utf-8")
        if notebook.name.startswith("02_"):
            text = text.replace('\\"alarm\\", \\"watch\\"', '\\"alert\\", \\"warning\\"')
        (folder / notebook.name).write_text(text, encoding="utf-8")
    assert '\\"alert\\", \\"warning\\"' in (folder / "02_alerts.ipynb").read_text(encoding="utf-8")
    return folder


@pytest.mark.slow
def test_a_quiet_cron_run_prints_one_line_when_a_province_needs_attention(tmp_path):
    notebooks = _warning_notebooks(tmp_path / "notebooks")
    reports = tmp_path / "reports"
    forecast = Path(sys.executable).with_name("forecast")
    command = [str(forecast), "run", "--config", str(CONFIG), "--notebooks-dir", str(notebooks),
               "--reports-dir", str(reports), "--quiet", "--publish"]
    # cron's environment: next to nothing, and the working directory is $HOME.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert len(lines) == 1
    run_id = json.loads((reports / "latest.json").read_text())["run_id"]
    assert lines[0] == (
        f"attention: 1 alert, 1 warning of 3 units: Helmand (alert), Kandahar (warning); see {reports / 'runs' / run_id}/"
    )

    failing = subprocess.run([*command, "--fail-on", "alert"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert failing.returncode == 3 and failing.stdout.startswith("attention: 1 alert, 1 warning")


@pytest.mark.slow
def test_a_quiet_run_without_warnings_stays_silent_and_fail_on_is_checked(tmp_path, capsys):
    # The stock test notebooks report "alarm"/"watch" only: nothing at warning or above.
    reports = tmp_path / "reports"
    status = cli.main(["run", "--config", str(CONFIG), "--notebooks-dir", str(NOTEBOOKS), "--reports-dir", str(reports),
                       "--notebooks", "02", "--quiet", "--fail-on", "warning"])
    captured = capsys.readouterr()
    assert (status, captured.out, captured.err) == (0, "", "")
    assert cli.main(["run", "--config", str(CONFIG), "--fail-on", "watch"]) == 2
    assert "--fail-on" in capsys.readouterr().err


@pytest.mark.slow
def test_only_published_full_runs_become_the_latest_report(tmp_path, capsys):
    reports = tmp_path / "reports"
    base = ["run", "--config", str(CONFIG), "--notebooks-dir", str(NOTEBOOKS), "--reports-dir", str(reports), "--quiet"]
    assert cli.main([*base, "--notebooks", "01,02", "--publish"]) == 0  # a partial run: archived only
    assert not (reports / "latest.json").exists()
    assert "<h2>Latest run" not in (reports / "index.html").read_text()

    assert cli.main([*base, "-p", "fail=false", "--publish"]) == 0
    published = json.loads((reports / "latest.json").read_text())["run_id"]
    assert cli.main([*base, "-p", "as_of=2021-10-31"]) == 0  # a retrospective trial, not published
    manifests = read_manifests(reports)
    assert [manifest["published"] for manifest in manifests] == [False, True, False]
    assert json.loads((reports / "latest.json").read_text())["run_id"] == published
    assert f"<h2>Latest run: {published}</h2>" in (reports / "index.html").read_text()
    capsys.readouterr()


@pytest.fixture
def forecast_kernel() -> str:
    """The `forecast` Jupyter kernel that `make install` registers (a failure under CI=true, else a skip)."""
    from jupyter_client.kernelspec import KernelSpecManager

    if "forecast" not in KernelSpecManager().find_kernel_specs():
        if os.environ.get("CI") == "true":
            pytest.fail("the forecast kernel is not installed: `make install` installs it")
        pytest.skip("the forecast kernel is not installed (run `make install`)")
    return "forecast"


@pytest.mark.slow
def test_a_notebook_runs_as_jupyterlab_runs_it_with_the_forecast_kernel_from_notebooks(tmp_path, forecast_kernel):
    """JupyterLab: the `forecast` kernel that `make` installs, started in notebooks/, relative paths from the project."""
    import papermill

    executed = tmp_path / "01.ipynb"
    papermill.execute_notebook(
        str(ROOT / "notebooks" / "01_data_overview.ipynb"), str(executed),
        parameters={"source": "csv", "events_path": "tests/data/generic_events.csv", "freq": "MS", "as_of": None},
        kernel_name="forecast", cwd=str(ROOT / "notebooks"), progress_bar=False,
    )
    notebook = nbformat.read(executed, as_version=4)
    errors = [output for cell in notebook.cells for output in cell.get("outputs", []) if output.output_type == "error"]
    assert errors == []
    assert notebook.metadata.kernelspec.name == "forecast"
    streams = "".join(output.get("text", "") for cell in notebook.cells for output in cell.get("outputs", [])
                      if output.output_type == "stream" and output.get("name") == "stderr")
    assert "TqdmWarning" not in streams



@pytest.mark.slow
def test_progress_bars_in_the_forecast_kernel_are_widgets_without_a_warning(forecast_kernel):
    """tqdm.auto in JupyterLab needs ipywidgets: without it every model import warned (TqdmWarning)."""
    from nbclient import NotebookClient

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(
        "from forecast.models.base import progress_bar\nlist(progress_bar(range(3), 'units', True))"
    )]
    NotebookClient(notebook, kernel_name="forecast", timeout=120).execute()
    outputs = notebook.cells[0].outputs
    assert not any("TqdmWarning" in output.get("text", "") for output in outputs)
    assert any("application/vnd.jupyter.widget-view+json" in output.get("data", {}) for output in outputs)


def test_columns_and_aliases_are_run_parameters_checked_up_front():
    plan = plan_run(CONFIG, ["columns.admin1=Where", "columns.date=When", "aliases={Nangahar: Nangarhar}"],
                    notebooks_dir=NOTEBOOKS, project_root=ROOT, reports_dir=ROOT / "reports")
    assert plan.config.values["columns"] == {"admin1": "Where", "date": "When"}
    assert plan.config.values["aliases"] == {"Nangahar": "Nangarhar"}
    from forecast.errors import ForecastError

    with pytest.raises(ForecastError, match="columns.*admin9"):
        plan_run(CONFIG, ["columns.admin9=Where"], notebooks_dir=NOTEBOOKS, project_root=ROOT, reports_dir=ROOT / "reports")
    with pytest.raises(ForecastError, match="selection"):
        plan_run(CONFIG, ["selection=bestest"], notebooks_dir=NOTEBOOKS, project_root=ROOT, reports_dir=ROOT / "reports")


def test_header_says_which_period_an_as_of_run_judges():
    """A monthly run as of 27 December judges November: the header says so, not just the date."""
    from forecast.report.notebook import run_description

    monthly = dict(run_description({"as_of": "2021-12-27", "freq": "MS"}))
    assert monthly["As of"] == "2021-12-27 (last complete month: November 2021)"
    assert dict(run_description({"as_of": "2021-12-31", "freq": "MS"}))["As of"].endswith("December 2021)")
    weekly = dict(run_description({"as_of": "2021-12-27", "freq": "W-MON"}))
    assert weekly["As of"] == "2021-12-27 (last complete week: starting 2021-12-20)"


def test_an_archived_notebook_rerun_by_hand_writes_no_stray_run_folder(tmp_path):
    """Its injected output_dir names the run's temporary folder, renamed since: nothing is recreated."""
    from forecast.report.notebook import write_alerts

    gone = tmp_path / "reports" / "runs" / ".tmp-2021-12-27_x"
    summary = write_alerts([{"unit_name": "Parwan", "level": "alert", "reason": "new ground"}], gone)
    assert summary["top"][0]["unit"] == "Parwan"
    assert not gone.exists() and not (tmp_path / "reports").exists()
    live = tmp_path / "live"
    live.mkdir()
    write_alerts([{"unit_name": "Parwan", "level": "alert", "reason": "new ground"}], live)
    assert (live / "alerts.json").is_file()


def test_schedule_chains_a_download_that_cannot_stop_the_report(capsys):
    fetch = "hdx --country AFG --topic civilian-targeting --force"
    assert cli.main(["schedule", "--cron", "0 6 1 * *", "-p", "as_of=null", "--fetch", fetch]) == 0
    text = capsys.readouterr().out
    venv_forecast = str(Path(sys.executable).absolute().parent / "forecast")
    crontab = next(line for line in text.splitlines() if line.startswith("0 6 1 * * "))
    assert crontab == (f"0 6 1 * * cd {ROOT} && ({venv_forecast} fetch {fetch} || true) && "
                       f"{venv_forecast} run --config {CONFIG} --quiet --publish -p as_of=null")
    assert f"ExecStartPre=-{venv_forecast} fetch {fetch}\n" in text  # '-': a failed download is not fatal
    # The shell does what the line says: a failing download, then the run.
    shell = subprocess.run(["sh", "-c", "(false || true) && echo ran"], capture_output=True, text=True)
    assert shell.stdout == "ran\n"
    assert cli.main(["schedule", "--cron", "0 6 * * 1", "--fetch", "rm -rf /"]) == 2
    err = capsys.readouterr().err
    assert "does not name a download" in err and "hdx" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_the_exploration_template_runs_on_your_own_csv_from_notebooks(tmp_path, forecast_kernel):
    """The template's promise: set source, path and columns, rerun; it loads, warns, forecasts and plots."""
    import papermill

    rows = ["When,Where,Killed"] + [f"2021-{m:02d}-{d:02d},Nangahar,1" for m in range(1, 11) for d in (4, 18)]
    rows += ["2021-10-25,Kunduz,40", "2021-11-02,Kandahar,30"]
    own = tmp_path / "own.csv"
    own.write_text("\n".join(rows) + "\n")
    executed = tmp_path / "template.ipynb"
    papermill.execute_notebook(
        str(ROOT / "notebooks" / "exploration_template.ipynb"), str(executed),
        parameters={"source": "csv", "events_path": str(own), "freq": "W-MON", "as_of": "2021-11-28",
                    "columns": {"date": "When", "admin1": "Where", "fatalities": "Killed"},
                    "aliases": {"Nangahar": "Nangarhar"}},
        kernel_name="forecast", cwd=str(ROOT / "notebooks"), progress_bar=False,
    )
    notebook = nbformat.read(executed, as_version=4)
    assert [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"] == []
    shown = "".join(str(o.get("data", {}).get("text/plain", "")) + o.get("text", "")
                    for c in notebook.cells for o in c.get("outputs", []))
    assert "Kunduz" in shown and "Kandahar" in shown  # new ground on the alert table
    assert any("image/png" in o.get("data", {}) for c in notebook.cells for o in c.get("outputs", []))


@pytest.mark.slow
def test_a_report_run_reads_your_own_csv_with_its_column_names_and_spellings(tmp_path):
    """-p columns.* and -p aliases reach the up-front data check as well as the notebooks."""
    own = tmp_path / "attacks.csv"
    rows = ["When,Where,Killed"] + [f"2021-{m:02d}-10,Nangahar,2" for m in range(1, 10)] + ["2021-10-08,Kunduz,72"]
    own.write_text("\n".join(rows) + "\n")
    base = [sys.executable, "-m", "forecast.cli", "run", "--config", str(CONFIG), "--notebooks", "01",
            "--reports-dir", str(tmp_path / "reports"), "-p", "source=csv", "-p", f"events_path={own}",
            "-p", "country=AFG", "-p", "as_of=null", "-p", "columns.date=When", "-p", "columns.admin1=Where",
            "-p", "columns.fatalities=Killed"]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    refused = subprocess.run(base, capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert refused.returncode == 2 and "'Nangahar'" in refused.stderr
    assert "-p 'aliases={Name: Province}'" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    done = subprocess.run([*base, "-p", "aliases={Nangahar: Nangarhar}"], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    manifest = json.loads(next((tmp_path / "reports" / "runs").glob("*/manifest.json")).read_text())
    assert manifest["parameters"]["columns"] == {"date": "When", "admin1": "Where", "fatalities": "Killed"}
    assert manifest["parameters"]["aliases"] == {"Nangahar": "Nangarhar"}
