"""Forecast ledger: append, rescoring, revisions, failed runs (forecast.evaluation.ledger)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecast.errors import InputError
from forecast.evaluation.ledger import (
    append_run,
    changes_since_last_run,
    revisions,
    run_ids,
    score_ledger,
)
from forecast.models.registry import forecast_panel

DS = pd.date_range("2021-01-04", periods=30, freq="W-MON")


def make_panel(n: int) -> pd.DataFrame:
    y = np.random.default_rng(3).poisson(4, size=(2, 40))[:, :n]
    return pd.DataFrame(
        {"unit_id": np.repeat(["A", "B"], n), "ds": np.tile(DS[:n], 2), "y": y.ravel()}
    )


def snapshot(ledger: Path) -> dict[str, str]:
    return {
        str(p.relative_to(ledger)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(ledger.rglob("*"))
        if p.is_file()
    }


def test_three_runs_scored_revised_and_failed_run_leaves_ledger_unchanged(tmp_path):
    ledger = tmp_path / "ledger"
    p1 = make_panel(20)
    f1 = forecast_panel(p1, "last,hist_mean", horizon=3, n_draws=300, progress=False)
    append_run(ledger, "r1", f1, p1, meta={"input_sha256": "a" * 64, "params": {"h": 3}})
    p2 = make_panel(22)
    p2.loc[(p2.unit_id == "A") & (p2.ds == DS[5]), "y"] += 7
    p2.loc[(p2.unit_id == "B") & (p2.ds == DS[10]), "y"] += 2
    f2 = forecast_panel(p2, "last,hist_mean", horizon=3, n_draws=300, progress=False)
    assert revisions(ledger, p2).to_dict("list") == {
        "unit_id": ["A", "B"],
        "ds": [DS[5], DS[10]],
        "old": [
            float(p1.y[(p1.unit_id == "A") & (p1.ds == DS[5])].iloc[0]),
            float(p1.y[(p1.unit_id == "B") & (p1.ds == DS[10])].iloc[0]),
        ],
        "new": [
            float(p2.y[(p2.unit_id == "A") & (p2.ds == DS[5])].iloc[0]),
            float(p2.y[(p2.unit_id == "B") & (p2.ds == DS[10])].iloc[0]),
        ],
    }
    append_run(ledger, "r2", f2, p2, meta={"params": {"h": 3}})
    before = snapshot(ledger)
    bad = f2.select(np.ones(len(f2.index), bool))
    bad.index["unit_id"] = "Z"
    with pytest.raises(InputError, match="absent from its panel"):
        append_run(ledger, "r3", bad, p2, meta={})
    with pytest.raises(TypeError):
        append_run(ledger, "r3", f2, p2, meta={"params": object()})
    with pytest.raises(InputError, match="already holds"):
        append_run(ledger, "r2", f2, p2, meta={})
    assert snapshot(ledger) == before and run_ids(ledger) == ["r1", "r2"]
    assert [p.name for p in ledger.iterdir()] == sorted(["run_id=r1", "run_id=r2"]) or sorted(
        p.name for p in ledger.iterdir()
    ) == ["run_id=r1", "run_id=r2"]

    p3 = make_panel(25)
    p3.loc[(p3.unit_id == "A") & (p3.ds == DS[5]), "y"] += 7
    p3.loc[(p3.unit_id == "B") & (p3.ds == DS[10]), "y"] += 2
    f3 = forecast_panel(p3, "last,hist_mean", horizon=3, n_draws=300, progress=False)
    assert revisions(ledger, p3).empty
    append_run(ledger, "r3", f3, p3, meta={})
    scores = score_ledger(ledger, p3)
    got = set(zip(scores.run_id, scores.unit_id, scores.ds, strict=True))
    want = {
        (r, u, DS[i])
        for r, idx in (("r1", (20, 21, 22)), ("r2", (22, 23, 24)))
        for u in "AB"
        for i in idx
    }
    assert got == want
    assert len(scores) == 2 * len(want)  # two models
    assert np.isfinite(scores[["crps", "log_score"]].to_numpy()).all()
    changes = changes_since_last_run(ledger)
    assert (changes.previous, changes.current) == ("r2", "r3") and changes.revised.empty
    assert len(changes.new_periods) == 6 and set(changes.moved.unit_id) == {"A", "B"}
