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

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecast import __version__
from forecast.errors import InputError
from forecast.evaluation.backtest import BASELINES, outcome_table, score_forecasts, skill_scores
from forecast.models.frame import INDEX_COLUMNS, ForecastFrame, exceedance_column, quantile_column

#: Quantile levels stored per forecast.
LEDGER_LEVELS = (0.05, 0.5, 0.95)
#: Draws kept per forecast (a uniform subsample of the model's draws).
LEDGER_DRAWS = 200
#: Score columns :func:`score_ledger` returns.
SCORE_COLUMNS = ["crps", "log_score", "covered90"]
_PREFIX = "run_id="
#: Name prefix of half-written partitions (never read; swept by the runner under its lock).
TMP_PREFIX = ".tmp-"
#: Name of the entry folder a report run writes into its run folder.
ENTRY_NAME = "ledger_entry"
#: Baselines every ledger entry holds, so later runs can state skill against them.
LEDGER_BASELINES = ("last", "hist_mean")
#: Run parameters that must agree for two runs' forecasts to be compared or scored together.
SCOPE_KEYS = ("source", "country", "freq", "actor")
#: The files of a ledger entry and of a ledger partition.
ENTRY_FILES = ("forecasts.parquet", "panel.parquet", "meta.json")


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


def run_ids(ledger_dir: str | Path, scope: Mapping[str, Any] | None = None) -> list[str]:
    """Run ids in the ledger, in the order they were appended.

    Parameters
    ----------
    ledger_dir
        The ledger.
    scope
        When given, only runs whose stored ``scope`` (see :func:`run_scope`)
        equals it: a monthly forecast is not scored against a weekly panel.
    """
    ledger_dir = Path(ledger_dir)
    if not ledger_dir.is_dir():
        return []
    wanted = None if scope is None else run_scope(scope)
    found = []
    for part in ledger_dir.iterdir():
        if part.is_dir() and part.name.startswith(_PREFIX):
            meta = json.loads((part / "meta.json").read_text(encoding="utf-8"))
            if wanted is None or meta.get("scope") == wanted:
                found.append((int(meta["sequence"]), part.name[len(_PREFIX) :]))
    return [run for _, run in sorted(found)]


def run_scope(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters (:data:`SCOPE_KEYS`) that say which runs' forecasts are comparable.

    Examples
    --------
    A district run (``level`` 2) is its own scope: its units are not the
    provinces'. Province runs carry no ``level``, so their scope is what it
    was before district panels existed.

    >>> run_scope({"source": "synthetic", "country": "AFG", "freq": "W-MON", "horizon": 8})
    {'source': 'synthetic', 'country': 'AFG', 'freq': 'W-MON', 'actor': None}
    >>> run_scope({"source": "hdx", "country": "AFG", "freq": "MS", "level": 2})["level"]
    2
    """
    scope = {key: parameters.get(key) for key in SCOPE_KEYS}
    if parameters.get("level", 1) not in (None, 1):
        scope["level"] = parameters["level"]
    return scope


def read_meta(ledger_dir: str | Path, run_id: str) -> dict[str, Any]:
    """The ``meta.json`` record of one run."""
    return json.loads(
        (Path(ledger_dir) / f"{_PREFIX}{run_id}" / "meta.json").read_text(encoding="utf-8")
    )


def _forecast_table(frame: ForecastFrame, clean: pd.DataFrame, what: str, n_keep: int, seed: int) -> pd.DataFrame:
    """The stored rows of a forecast: index, mean, quantiles, ``P(Y >= 1)`` and kept draws."""
    if not len(frame.index):
        raise InputError(f"{what} has no forecasts to store; nothing was written")
    unknown = sorted(set(frame.index["unit_id"].astype(str)) - set(clean["unit_id"]))
    if unknown:
        raise InputError(f"{what} forecasts units {unknown[:5]} absent from its panel; pass the panel it saw")
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(frame.n_draws, size=min(n_keep, frame.n_draws), replace=False))
    table = frame.index.copy()
    table["unit_id"] = table["unit_id"].astype(str)
    table["mean"] = frame.mean()
    for level, column in zip(LEDGER_LEVELS, frame.quantiles(LEDGER_LEVELS).T, strict=True):
        table[quantile_column(level)] = column
    table[exceedance_column(1)] = frame.exceedance(1)
    table["draws"] = list(frame.draws[:, keep].astype(np.int64))
    return table


def _write_meta(folder: Path, record: Mapping[str, Any]) -> None:
    (folder / "meta.json").write_text(
        json.dumps(dict(record), indent=2, sort_keys=True, allow_nan=False), encoding="utf-8"
    )


@contextlib.contextmanager
def _written_as(final: Path, prefix: str) -> Iterator[Path]:
    """A temporary folder beside ``final``: filled by the caller, flushed and renamed to ``final``.

    On any failure (or interruption) the temporary folder is removed, so
    ``final`` is either complete or absent.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=final.parent))
    try:
        yield tmp
        for name in ENTRY_FILES:
            with open(tmp / name, "rb") as handle:
                os.fsync(handle.fileno())
        os.rename(tmp, final)
        # The rename is durable only once the directory holding it is flushed too.
        descriptor = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def with_ledger_baselines(
    frame: ForecastFrame,
    panel: pd.DataFrame,
    *,
    seed: int = 0,
    neighbours: Any = None,
) -> ForecastFrame:
    """``frame`` plus forecasts of the :data:`LEDGER_BASELINES` it lacks, same horizon and draws.

    The baselines are forecast separately, not added to the run's model list,
    so an ensemble of the run's models keeps its members.
    """
    from forecast.models.registry import forecast_panel

    missing = [name for name in LEDGER_BASELINES if name not in frame.models]
    if not missing:
        return frame
    horizon = int(frame.index["step"].max())
    extra = forecast_panel(
        panel, missing, horizon, n_draws=frame.n_draws, seed=seed, neighbours=neighbours, progress=False
    )
    return ForecastFrame.concat([frame, extra])


def write_entry(
    folder: str | Path,
    frame: ForecastFrame,
    panel: pd.DataFrame,
    *,
    meta: Mapping[str, Any] | None = None,
    n_keep: int = LEDGER_DRAWS,
    seed: int = 0,
) -> Path:
    """Write one run's ledger entry (forecasts, the panel it saw, metadata) as folder ``folder``.

    A report run writes its entry into its run folder; the runner appends it to
    the ledger (:func:`append_entry`) only once the whole run has succeeded, so
    a failed run adds nothing, and an archived run folder is enough to rebuild
    the ledger.

    Parameters
    ----------
    folder
        The entry folder to create (refused when it exists); written under a
        temporary name and renamed, so it is complete or absent.
    frame, panel
        The forecasts and the panel ``unit_id, ds, y`` they were fitted on.
    meta
        JSON-serialisable details (parameters, ...); the panel's sha256, the
        package version, the models and the number of kept draws are added.
    n_keep, seed
        Draws kept per forecast (a seeded uniform subsample without replacement).

    Returns
    -------
    pathlib.Path
        ``folder``.
    """
    folder = Path(folder)
    if folder.exists():
        raise InputError(f"ledger entry {folder} exists already; an entry is written once")
    clean = _clean_panel(panel)
    table = _forecast_table(frame, clean, f"the ledger entry {folder}", n_keep, seed)
    record = {
        **dict(meta or {}),
        "package_version": __version__,
        "panel_sha256": panel_sha256(clean),
        "n_draws_kept": int(min(n_keep, frame.n_draws)),
        "models": frame.models,
    }
    with _written_as(folder, f"{TMP_PREFIX}{folder.name}-") as tmp:
        table.to_parquet(tmp / "forecasts.parquet", index=False)
        clean.to_parquet(tmp / "panel.parquet", index=False)
        _write_meta(tmp, record)
    return folder


def _new_partition(ledger_dir: Path, run_id: str) -> Path:
    """The partition folder of ``run_id``, refused when the ledger already holds the run."""
    final = ledger_dir / f"{_PREFIX}{run_id}"
    if final.exists():
        raise InputError(f"ledger {ledger_dir} already holds run {run_id!r}; give the run a new id")
    return final


def append_entry(
    ledger_dir: str | Path, run_id: str, entry: str | Path, *, meta: Mapping[str, Any] | None = None
) -> Path:
    """Append an entry written by :func:`write_entry` to the ledger as partition ``run_id=<id>/``.

    Parameters
    ----------
    ledger_dir
        The ledger directory (created when missing).
    run_id
        Name of the run; an id already in the ledger is refused.
    entry
        The entry folder.
    meta
        More details for ``meta.json`` (the runner adds the input's sha256 and
        the run's parameters); the run id, append time and order are added.

    Returns
    -------
    pathlib.Path
        The partition directory.

    Raises
    ------
    InputError
        The run id exists or is not a plain name, or the entry is incomplete.
        Nothing is left in the ledger then.
    """
    run_id = _check_run_id(run_id)
    ledger_dir, entry = Path(ledger_dir), Path(entry)
    final = _new_partition(ledger_dir, run_id)
    missing = [name for name in ENTRY_FILES if not (entry / name).is_file()]
    if missing:
        raise InputError(f"ledger entry {entry} lacks {', '.join(missing)}; it was not written by write_entry")
    stored = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
    record = {
        **stored,
        **dict(meta or {}),
        "run_id": run_id,
        "sequence": max((int(read_meta(ledger_dir, r)["sequence"]) for r in run_ids(ledger_dir)), default=-1) + 1,
        "appended": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    with _written_as(final, f"{TMP_PREFIX}{run_id}-") as tmp:
        for name in ("forecasts.parquet", "panel.parquet"):
            shutil.copyfile(entry / name, tmp / name)
        _write_meta(tmp, record)
    return final


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

    :func:`write_entry` then :func:`append_entry` in one step, for library use.

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
    _new_partition(ledger_dir, run_id)  # refused before the entry is written
    json.dumps(dict(meta), allow_nan=False)  # refuse what cannot be stored before writing anything
    with tempfile.TemporaryDirectory(prefix=".entry-") as scratch:
        entry = write_entry(Path(scratch) / "entry", frame, panel, n_keep=n_keep, seed=seed)
        return append_entry(ledger_dir, run_id, entry, meta=meta)


def read_forecasts(
    ledger_dir: str | Path, run_id: str | None = None, *, runs: Sequence[str] | None = None
) -> pd.DataFrame:
    """Stored forecasts of one run, of ``runs``, or of all runs (in append order) as one table."""
    if run_id is not None:
        runs = [run_id]
    elif runs is None:
        runs = run_ids(ledger_dir)
    tables = []
    for run in runs:
        table = pd.read_parquet(Path(ledger_dir) / f"{_PREFIX}{run}" / "forecasts.parquet")
        table.insert(0, "run_id", run)
        tables.append(table)
    if not tables:
        return pd.DataFrame(columns=["run_id", *INDEX_COLUMNS, "mean", "draws"])
    return pd.concat(tables, ignore_index=True)


def read_panel(ledger_dir: str | Path, run_id: str) -> pd.DataFrame:
    """The panel ``unit_id, ds, y`` run ``run_id`` saw."""
    return pd.read_parquet(Path(ledger_dir) / f"{_PREFIX}{run_id}" / "panel.parquet")


def score_ledger(
    ledger_dir: str | Path, panel: pd.DataFrame, runs: Sequence[str] | None = None
) -> pd.DataFrame:
    """Score every stored forecast (of ``runs``, default all) whose target period ``panel`` observes.

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
    stored = read_forecasts(ledger_dir, runs=runs)
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
    return _revised(_clean_panel(read_panel(ledger_dir, run_id)), _clean_panel(panel))[1]


def _revised(before: pd.DataFrame, now: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Periods both clean panels hold (``unit_id, ds, old, new``), and those among them with other counts."""
    both = before.rename(columns={"y": "old"}).merge(
        now.rename(columns={"y": "new"}), on=["unit_id", "ds"], validate="one_to_one"
    )
    changed = both.loc[both["old"] != both["new"], ["unit_id", "ds", "old", "new"]]
    return both, changed.sort_values(["unit_id", "ds"]).reset_index(drop=True)


@dataclass
class Changes:
    """What changed between two runs.

    Attributes
    ----------
    previous, current
        The two run ids (``current`` is None for a run not yet in the ledger).
    revised
        ``unit_id, ds, old, new``: history the previous run saw with other counts.
    new_periods
        ``unit_id, ds, y``: periods the current run saw that the previous did not.
    moved
        Per ``model, unit_id``: ``mean_before, mean_now, change`` (the mean
        forecast over the target periods both runs forecast; NaN when none),
        split into ``from_revisions`` (what the revised history alone moves:
        the current model refitted on the previous run's periods, as first
        reported and as revised) and ``from_new_data_and_model`` (the rest:
        new observations and changes of model or code). ``from_revisions`` is 0
        without revisions and NaN when no refit was given.
    """

    previous: str
    current: str | None
    revised: pd.DataFrame
    new_periods: pd.DataFrame
    moved: pd.DataFrame


Refit = Callable[[pd.DataFrame], ForecastFrame]


def _mean_over(forecasts: pd.DataFrame, targets: pd.DataFrame) -> pd.DataFrame:
    keys = ["model", "unit_id", "ds"]
    kept = forecasts[[*keys, "mean"]].merge(targets, on=keys)
    return kept.groupby(["model", "unit_id"], as_index=False)["mean"].mean()


def _frame_table(frame: ForecastFrame) -> pd.DataFrame:
    return frame.index.assign(unit_id=frame.index["unit_id"].astype(str), mean=frame.mean())


def compare_runs(
    before_forecasts: pd.DataFrame,
    before_panel: pd.DataFrame,
    now_forecasts: pd.DataFrame,
    now_panel: pd.DataFrame,
    *,
    previous: str,
    current: str | None = None,
    refit: Refit | None = None,
) -> Changes:
    """Tell revised history, new observations and moved forecasts apart between two runs.

    Parameters
    ----------
    before_forecasts, now_forecasts
        Forecast tables with ``model, unit_id, ds, mean`` (e.g. :func:`read_forecasts`).
    before_panel, now_panel
        The panels the two runs saw.
    previous, current
        Names of the runs.
    refit
        The current forecaster as a function of a panel; when given and the
        history was revised, it is run on the previous run's periods as first
        reported and as revised, and the difference of its means is the part of
        the move that the revisions explain.

    Returns
    -------
    Changes
    """
    before_clean, now_clean = _clean_panel(before_panel), _clean_panel(now_panel)
    both, revised = _revised(before_clean, now_clean)
    seen = before_clean.set_index(["unit_id", "ds"]).index
    new_periods = now_clean.loc[~now_clean.set_index(["unit_id", "ds"]).index.isin(seen)].reset_index(drop=True)

    keys = ["model", "unit_id", "ds"]
    common = before_forecasts[keys].merge(now_forecasts[keys], on=keys).drop_duplicates()
    means_before = _mean_over(before_forecasts, common).rename(columns={"mean": "mean_before"})
    means_now = _mean_over(now_forecasts, common).rename(columns={"mean": "mean_now"})
    units = now_forecasts[["model", "unit_id"]].drop_duplicates()
    moved = units.merge(means_before, on=["model", "unit_id"], how="left").merge(
        means_now, on=["model", "unit_id"], how="left"
    )
    moved["change"] = moved["mean_now"] - moved["mean_before"]
    if revised.empty:
        moved["from_revisions"] = 0.0
    elif refit is None:
        moved["from_revisions"] = np.nan
    else:
        # The previous run's periods as first reported and as revised, with today's model.
        as_revised = both.drop(columns="old").rename(columns={"new": "y"})
        as_reported = _frame_table(refit(before_clean))
        with_revisions = _frame_table(refit(as_revised))
        shift = _mean_over(with_revisions, common).merge(
            _mean_over(as_reported, common), on=["model", "unit_id"], suffixes=("_revised", "_reported")
        )
        shift["from_revisions"] = shift["mean_revised"] - shift["mean_reported"]
        moved = moved.merge(shift[["model", "unit_id", "from_revisions"]], on=["model", "unit_id"], how="left")
        moved.loc[moved["change"].isna(), "from_revisions"] = np.nan
    moved["from_new_data_and_model"] = moved["change"] - moved["from_revisions"]
    return Changes(previous, current, revised, new_periods, moved.reset_index(drop=True))


def changes_since_last_run(
    ledger_dir: str | Path,
    frame: ForecastFrame | None = None,
    panel: pd.DataFrame | None = None,
    *,
    refit: Refit | None = None,
    runs: Sequence[str] | None = None,
) -> Changes:
    """Compare a run with the ledger's last one: revised history, new observations, moved forecasts.

    Parameters
    ----------
    ledger_dir
        The ledger.
    frame, panel
        The current run's forecasts and panel, before it is appended (a report
        shows this); None for both compares the last two runs in the ledger.
    refit
        See :func:`compare_runs`.
    runs
        The ledger runs to consider, in append order (default all; e.g.
        :func:`run_ids` with the current run's scope).

    Raises
    ------
    InputError
        The ledger holds no run to compare with (fewer than two without ``frame``).
    """
    runs = run_ids(ledger_dir) if runs is None else list(runs)
    if (frame is None) != (panel is None):
        raise InputError("pass both the current forecasts and their panel, or neither")
    if frame is None:
        if len(runs) < 2:
            raise InputError(f"ledger {ledger_dir} holds {len(runs)} run(s); changes need two")
        previous, current = runs[-2], runs[-1]
        now_forecasts, now_panel = read_forecasts(ledger_dir, current), read_panel(ledger_dir, current)
    else:
        if not runs:
            raise InputError(f"ledger {ledger_dir} holds no run to compare with")
        previous, current = runs[-1], None
        now_forecasts, now_panel = _frame_table(frame), panel
    return compare_runs(
        read_forecasts(ledger_dir, previous),
        read_panel(ledger_dir, previous),
        now_forecasts,
        now_panel,
        previous=previous,
        current=current,
        refit=refit,
    )


def ledger_skill(
    scores: pd.DataFrame, baselines: Sequence[str] | None = None, *, by: str | Sequence[str] = ("model", "step")
) -> pd.DataFrame:
    """Mean scores, interval coverage and CRPS skill against baselines of scored ledger forecasts.

    Parameters
    ----------
    scores
        :func:`score_ledger`'s table.
    baselines
        Baseline models to compare with (default: those of
        :data:`forecast.evaluation.backtest.BASELINES` in the table).
    by
        Grouping columns, ``model`` among them: e.g. ``["model", "step"]`` (by
        horizon) or ``["model", "unit_id"]``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``by``: ``n, crps, log_score, coverage90`` and one
        ``skill_crps_vs_<baseline>`` column per baseline (each model against
        the baseline on the forecasts both made).
    """
    by = [by] if isinstance(by, str) else list(by)
    if scores.empty:
        return pd.DataFrame(columns=["n", *SCORE_COLUMNS[:2], "coverage90"])
    grouped = scores.groupby(by, sort=False)
    out = grouped[["crps", "log_score"]].mean()
    out["coverage90"] = grouped["covered90"].mean()
    out.insert(0, "n", grouped.size())
    present = set(scores["model"])
    chosen = [b for b in BASELINES if b in present] if baselines is None else [b for b in baselines if b in present]
    if chosen:
        # The run is the forecast origin of a ledger row.
        paired = scores.rename(columns={"run_id": "cutoff"})
        out = out.join(skill_scores(paired, chosen, metric="crps", by=by))
    return out
