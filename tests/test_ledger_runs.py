"""The forecast ledger through real report runs: three runs, a revision, a failed run, a rebuild.

The forecasts notebook runs in a real kernel (papermill) on a small event list
written here; the runner appends each successful published run's entry.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from forecast.cli import main
from forecast.errors import InputError
from forecast.evaluation.ledger import read_forecasts, read_panel, revisions, run_ids, score_ledger
from forecast.runner.run import ledger_path, rebuild_ledger, run_reports

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config" / "default.yaml"
NOTEBOOK = ROOT / "notebooks" / "02_province_forecasts.ipynb"
SMALL = ["source=csv", "freq=W-MON", "horizon=4", "models=[hist_mean, last]", "selection=none", "n_draws=200"]
WEEKS = pd.date_range("2020-01-06", "2021-11-22", freq="W-MON")

pytestmark = pytest.mark.slow


def events(revise: bool = False) -> pd.DataFrame:
    """Weekly attacks in three provinces; ``revise`` changes two past weekly counts."""
    rng = np.random.default_rng(7)
    rows = []
    for province, rate in (("Nangarhar", 3.0), ("Kunar", 1.0), ("Kabul", 0.5)):
        for week, n in zip(WEEKS, rng.poisson(rate, len(WEEKS)), strict=True):
            rows += [{"date": (week + pd.Timedelta(days=2)).date().isoformat(), "admin1": province}] * int(n)
    table = pd.DataFrame(rows)
    if revise:
        # A later release adds 3 attacks to one Nangarhar week and withdraws every Kunar attack of another.
        extra = pd.DataFrame([{"date": "2021-03-10", "admin1": "Nangarhar"}] * 3)
        kunar_week = (table["admin1"] == "Kunar") & (table["date"].between("2021-06-07", "2021-06-13"))
        assert kunar_week.sum() > 0
        table = pd.concat([table.loc[~kunar_week], extra], ignore_index=True)
    return table


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def shown_text(run_folder: Path) -> str:
    executed = nbformat.read(run_folder / NOTEBOOK.name, as_version=4)
    return "".join(
        str(output.get("data", {}).get("text/html", "")) + str(output.get("data", {}).get("text/plain", ""))
        for cell in executed.cells
        for output in cell.get("outputs", [])
    )


def test_three_runs_score_past_forecasts_list_revisions_and_a_failed_run_adds_nothing(tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    shutil.copy(NOTEBOOK, notebooks)
    reports = tmp_path / "reports"
    first, revised, broken = tmp_path / "v1.csv", tmp_path / "v2.csv", tmp_path / "broken.csv"
    events().to_csv(first, index=False)
    events(revise=True).to_csv(revised, index=False)
    events().rename(columns={"date": "when"}).to_csv(broken, index=False)

    def run(path: Path, as_of: str, notebooks: Path = notebooks, **options):
        return run_reports(
            CONFIG, [*SMALL, f"events_path={path}", f"as_of={as_of}"], notebooks_dir=notebooks,
            reports_dir=reports, project_root=ROOT, **options,
        )

    r1 = run(first, "2021-10-31")
    assert r1.ok and r1.ledger_appended == [r1.run_id]
    assert "No earlier scheduled run" in shown_text(r1.folder)

    r2 = run(revised, "2021-10-31")
    assert r2.ok and run_ids(ledger_path(reports)) == [r1.run_id, r2.run_id]
    ledger = ledger_path(reports)
    # Exactly the two revised weeks, with the counts each release gave.
    listed = revisions(ledger, read_panel(ledger, r2.run_id), run_id=r1.run_id)
    p1 = read_panel(ledger, r1.run_id).set_index(["unit_id", "ds"])["y"]
    assert len(listed) == 2
    assert sorted(listed["ds"].dt.strftime("%Y-%m-%d")) == ["2021-03-08", "2021-06-07"]
    for row in listed.itertuples():
        assert row.old == p1[(row.unit_id, row.ds)]
    nangarhar = listed.loc[listed["ds"] == pd.Timestamp("2021-03-08")].iloc[0]
    assert nangarhar.new - nangarhar.old == 3
    kunar = listed.loc[listed["ds"] == pd.Timestamp("2021-06-07")].iloc[0]
    assert kunar.new == 0 and kunar.old > 0
    assert "2 past count(s) revised, 0 new period(s) observed" in shown_text(r2.folder)

    before, archived = snapshot(ledger), sorted((reports / "runs").iterdir())
    # A broken file is bad input: refused before any notebook runs, so there is no run at all.
    with pytest.raises(InputError, match="broken.csv"):
        run(broken, "2021-11-28")
    assert snapshot(ledger) == before and sorted((reports / "runs").iterdir()) == archived
    # A run whose notebook fails after writing its ledger entry adds nothing to the ledger either.
    failing = tmp_path / "failing"
    failing.mkdir()
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell('raise RuntimeError("injected failure after the ledger entry")'))
    nbformat.write(notebook, failing / NOTEBOOK.name)
    failed = run(first, "2021-11-28", notebooks=failing, raise_on_failure=False)
    assert not failed.ok and failed.ledger_appended == []
    assert snapshot(ledger) == before

    r3 = run(first, "2021-11-28")
    assert r3.ok and run_ids(ledger) == [r1.run_id, r2.run_id, r3.run_id]
    # Run 3 scored the 4 weekly targets of runs 1 and 2 (2 models x 34 provinces each), now observed.
    scores = score_ledger(ledger, read_panel(ledger, r3.run_id), runs=[r1.run_id, r2.run_id])
    assert len(scores) == 2 * 2 * 34 * 4
    assert sorted(scores["ds"].dt.strftime("%Y-%m-%d").unique()) == ["2021-11-01", "2021-11-08", "2021-11-15", "2021-11-22"]
    truth = read_panel(ledger, r3.run_id).set_index(["unit_id", "ds"])["y"]
    assert (scores["y"].to_numpy() == truth.loc[list(zip(scores["unit_id"], scores["ds"], strict=True))].to_numpy()).all()
    text = shown_text(r3.folder)
    assert f"{len(scores):,} forecasts from 2 earlier run(s)" in text
    assert "skill crps vs last" in text and "4 new period(s) observed" in text
    # Tables reach the page as tables, never as a Python repr of what the helpers return.
    assert "{'runs':" not in text and "'scores':" not in text

    # Rebuilt from the archived run folders: the same runs, the same stored forecasts.
    stored = read_forecasts(ledger)
    assert rebuild_ledger(reports) == [r1.run_id, r2.run_id, r3.run_id]
    pd.testing.assert_frame_equal(read_forecasts(ledger).drop(columns="draws"), stored.drop(columns="draws"))
    assert main(["ledger", "list", "--reports-dir", str(reports)]) == 0
