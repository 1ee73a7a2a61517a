"""The forecast ledger: every run's forecasts kept, rescored once their periods are observed.

A ledger is a directory with one partition per run, ``run_id=<id>/``, holding
``forecasts.parquet`` (run id, model, unit, target period ``ds``, ``step``,
mean, quantiles 5/50/95 %, ``P(Y >= 1)``, the exact distribution when the model
gave one, and a compact uniform sample of the draws), ``panel.parquet`` (the
panel ``unit_id, ds, y`` the run saw) and ``meta.json`` (input and panel
sha256, parameters, package version, append order).

A partition is written to a hidden temporary directory and renamed into place,
so a failed or killed run leaves no visible partial partition; readers only see
``run_id=*`` directories. Later, :func:`score_ledger` scores every stored
forecast whose target period the current panel observes (with
:func:`forecast.evaluation.backtest.score_forecasts`), and :func:`revisions` /
:func:`changes_since_last_run` tell revised history apart from moved forecasts.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecast import __version__
from forecast.errors import InputError
from forecast.evaluation.backtest import outcome_table, score_forecasts
from forecast.models.frame import INDEX_COLUMNS, ForecastFrame, exceedance_column, quantile_column

#: Quantile levels stored per forecast.
LEDGER_LEVELS = (0.05, 0.5, 0.95)
#: Draws kept per forecast (a uniform subsample of the model's draws).
LEDGER_DRAWS = 200
#: Score columns :func:`score_ledger` returns.
SCORE_COLUMNS = ["crps", "log_score", "covered90"]
_PREFIX = "run_id="


def _clean_panel(panel: pd.DataFrame) -> pd.DataFrame:
    out = outcome_table(panel, "the panel")
    return out.sort_values(["unit_id", "ds"], kind="stable").reset_index(drop=True)


def panel_sha256(panel: pd.DataFrame) -> str:
    """sha256 of a panel's content (``unit_id, ds, y`` sorted), independent of row order and dtypes."""
    clean = _clean_panel(panel)
    text = clean.to_csv(index=False, date_format="%Y-%m-%d")
    return hashlib.sha256(text.encode()).hexdigest()


def _check_run_id(run_id: str) -> str:
    run_id = str(run_id)
    if not run_id or run_id.startswith(".") or any(c in run_id for c in "/\\=\0"):
        raise InputError(
            f"run id {run_id!r} is not a plain name; use letters, digits, '-', '_' or '.'"
        )
    return run_id


def run_ids(ledger_dir: str | Path) -> list[str]:
    """Run ids in the ledger, in the order they were appended."""
    ledger_dir = Path(ledger_dir)
    if not ledger_dir.is_dir():
        return []
    found = []
    for part in ledger_dir.iterdir():
        if part.is_dir() and part.name.startswith(_PREFIX):
            meta = json.loads((part / "meta.json").read_text(encoding="utf-8"))
            found.append((int(meta["sequence"]), part.name[len(_PREFIX) :]))
    return [run for _, run in sorted(found)]


def read_meta(ledger_dir: str | Path, run_id: str) -> dict[str, Any]:
    """The ``meta.json`` record of one run."""
    return json.loads(
        (Path(ledger_dir) / f"{_PREFIX}{run_id}" / "meta.json").read_text(encoding="utf-8")
    )


def append_run(
    ledger_dir: str | Path,
    run_id: str,
    frame: ForecastFrame,
    panel: pd.DataFrame,
    *,
    meta: Mapping[str, Any],
    n_keep: int = LEDGER_DRAWS,
    seed: int = 0,
) -> Path:
    """Store one run's forecasts, the panel it saw and its metadata as partition ``run_id=<id>/``.

    Parameters
    ----------
    ledger_dir
        The ledger directory (created when missing).
    run_id
        Name of the run; an id already in the ledger is refused.
    frame
        The run's forecasts (e.g. from :func:`forecast.models.registry.forecast_panel`).
    panel
        The panel ``unit_id, ds, y`` the run was fitted on.
    meta
        JSON-serialisable details: ``input_sha256``, ``params``, ... The panel's
        sha256, the package version, the append time and order are added.
    n_keep, seed
        Draws kept per forecast (a seeded uniform subsample without replacement).

    Returns
    -------
    pathlib.Path
        The partition directory.

    Raises
    ------
    InputError
        The run id exists or is not a plain name, the forecast is empty, or
        its units are not in the panel. Nothing is left in the ledger then.
    """
    run_id = _check_run_id(run_id)
    ledger_dir = Path(ledger_dir)
    final = ledger_dir / f"{_PREFIX}{run_id}"
    if final.exists():
        raise InputError(f"ledger {ledger_dir} already holds run {run_id!r}; give the run a new id")
    clean = _clean_panel(panel)
    if not len(frame.index):
        raise InputError(f"run {run_id!r} has no forecasts to store; nothing was appended")
    unknown = sorted(set(frame.index["unit_id"].astype(str)) - set(clean["unit_id"]))
    if unknown:
        raise InputError(
            f"run {run_id!r} forecasts units {unknown[:5]} absent from its panel; pass the panel it saw"
        )
    existing = run_ids(ledger_dir)

    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(frame.n_draws, size=min(n_keep, frame.n_draws), replace=False))
    table = frame.index.copy()
    table["unit_id"] = table["unit_id"].astype(str)
    table.insert(0, "run_id", run_id)
    table["mean"] = frame.mean()
    for level, column in zip(LEDGER_LEVELS, frame.quantiles(LEDGER_LEVELS).T, strict=True):
        table[quantile_column(level)] = column
    table[exceedance_column(1)] = frame.exceedance(1)
    table["draws"] = list(frame.draws[:, keep].astype(np.int64))

    record = {
        **dict(meta),
        "run_id": run_id,
        "sequence": (
            max((int(read_meta(ledger_dir, r)["sequence"]) for r in existing), default=-1) + 1
        ),
        "appended": datetime.now(UTC).isoformat(timespec="seconds"),
        "package_version": __version__,
        "panel_sha256": panel_sha256(clean),
        "n_draws_kept": int(len(keep)),
        "models": frame.models,
    }
    ledger_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{run_id}-", dir=ledger_dir))
    try:
        table.to_parquet(tmp / "forecasts.parquet", index=False)
        clean.to_parquet(tmp / "panel.parquet", index=False)
        (tmp / "meta.json").write_text(
            json.dumps(record, indent=2, sort_keys=True, allow_nan=False), encoding="utf-8"
        )
        for name in ("forecasts.parquet", "panel.parquet", "meta.json"):
            with open(tmp / name, "rb") as handle:
                os.fsync(handle.fileno())
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def read_forecasts(ledger_dir: str | Path, run_id: str | None = None) -> pd.DataFrame:
    """Stored forecasts of one run (or of all runs, in append order) as one table."""
    runs = run_ids(ledger_dir) if run_id is None else [run_id]
    tables = [
        pd.read_parquet(Path(ledger_dir) / f"{_PREFIX}{r}" / "forecasts.parquet") for r in runs
    ]
    if not tables:
        return pd.DataFrame(columns=["run_id", *INDEX_COLUMNS, "mean", "draws"])
    return pd.concat(tables, ignore_index=True)


def read_panel(ledger_dir: str | Path, run_id: str) -> pd.DataFrame:
    """The panel ``unit_id, ds, y`` run ``run_id`` saw."""
    return pd.read_parquet(Path(ledger_dir) / f"{_PREFIX}{run_id}" / "panel.parquet")


def score_ledger(ledger_dir: str | Path, panel: pd.DataFrame) -> pd.DataFrame:
    """Score every stored forecast whose target period ``panel`` observes.

    Exact distributions (when a model stored one) are scored exactly, other
    rows from their kept draws, by :func:`forecast.evaluation.backtest.score_forecasts`.

    Returns
    -------
    pandas.DataFrame
        One row per scored forecast: ``run_id, model, unit_id, ds, step, y``,
        ``crps``, ``log_score``, ``covered90`` (the 5-95 % interval holds y).
        Group by ``run_id, model, unit_id, step`` for summaries.
    """
    clean = _clean_panel(panel)
    stored = read_forecasts(ledger_dir)
    columns = ["run_id", "model", "unit_id", "ds", "step", "y", *SCORE_COLUMNS]
    if not len(stored):
        return pd.DataFrame(columns=columns)
    scored = []
    for run, rows in stored.groupby("run_id", sort=False):
        rows = rows.reset_index(drop=True)
        index = rows.drop(
            columns=["run_id", "mean", "draws", *[c for c in rows if c.startswith(("q", "p_ge_"))]]
        )
        frame = ForecastFrame(index=index, draws=np.vstack(rows["draws"].to_numpy()))
        scores = score_forecasts(frame, clean)
        scores.insert(0, "run_id", run)
        scored.append(scores[columns])
    return pd.concat(scored, ignore_index=True)


def revisions(
    ledger_dir: str | Path, panel: pd.DataFrame, run_id: str | None = None
) -> pd.DataFrame:
    """Past periods whose counts differ between a stored run's panel and ``panel``.

    Parameters
    ----------
    ledger_dir
        The ledger.
    panel
        The current panel.
    run_id
        The run to compare with (default: the last appended).

    Returns
    -------
    pandas.DataFrame
        ``unit_id, ds, old, new`` for every period both panels hold with other
        counts (new periods are observations, not revisions), sorted.
    """
    runs = run_ids(ledger_dir)
    if run_id is None:
        if not runs:
            return pd.DataFrame(columns=["unit_id", "ds", "old", "new"])
        run_id = runs[-1]
    old = read_panel(ledger_dir, run_id).rename(columns={"y": "old"})
    new = _clean_panel(panel).rename(columns={"y": "new"})
    both = old.merge(new, on=["unit_id", "ds"], how="inner", validate="one_to_one")
    changed = both.loc[both["old"] != both["new"], ["unit_id", "ds", "old", "new"]]
    return changed.sort_values(["unit_id", "ds"]).reset_index(drop=True)


@dataclass
class Changes:
    """What changed between two runs.

    Attributes
    ----------
    previous, current
        The two run ids.
    revised
        ``unit_id, ds, old, new``: history the previous run saw with other counts.
    new_periods
        ``unit_id, ds, y``: periods the current run saw that the previous did not.
    moved
        Per ``model, unit_id``: ``mean_before, mean_now, change`` (the forecast
        mean over the target periods both runs forecast; NaN mean when none).
    """

    previous: str
    current: str
    revised: pd.DataFrame
    new_periods: pd.DataFrame
    moved: pd.DataFrame


def changes_since_last_run(ledger_dir: str | Path) -> Changes:
    """Compare the last run with the one before it: revised history, new observations, moved forecasts.

    Raises
    ------
    InputError
        The ledger holds fewer than two runs.
    """
    runs = run_ids(ledger_dir)
    if len(runs) < 2:
        raise InputError(f"ledger {ledger_dir} holds {len(runs)} run(s); changes need two")
    previous, current = runs[-2], runs[-1]
    now_panel = read_panel(ledger_dir, current)
    revised = revisions(ledger_dir, now_panel, run_id=previous)
    before_panel = read_panel(ledger_dir, previous)
    seen = before_panel.set_index(["unit_id", "ds"]).index
    new_periods = now_panel.loc[
        ~now_panel.set_index(["unit_id", "ds"]).index.isin(seen)
    ].reset_index(drop=True)
    keys = ["model", "unit_id", "ds"]
    before = read_forecasts(ledger_dir, previous)[[*keys, "mean"]]
    now = read_forecasts(ledger_dir, current)[[*keys, "mean"]]
    both = before.merge(now, on=keys, suffixes=("_before", "_now"))
    moved = both.groupby(["model", "unit_id"], as_index=False)[["mean_before", "mean_now"]].mean()
    units = now[["model", "unit_id"]].drop_duplicates()
    moved = units.merge(moved, on=["model", "unit_id"], how="left")
    moved["change"] = moved["mean_now"] - moved["mean_before"]
    return Changes(previous, current, revised, new_periods, moved.reset_index(drop=True))
