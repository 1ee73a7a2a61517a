"""The report's ledger sections: how earlier runs' forecasts fared, and what changed since the last run.

A report run shows, before its own forecasts are appended (the runner appends
them once the whole run has succeeded):

- *How our past forecasts did*: every forecast an earlier scheduled run of
  the same scope (source, country, frequency, actor) stored in the ledger and
  whose period is now observed, scored against today's data (CRPS, log
  score, 90 % interval coverage, skill against the baselines), by horizon and
  by province, and a figure of the realised counts against the last runs' fans;
- *What changed since the last run*: revised history (period, old count, new
  count), new observations, and per province how far the forecast moved, split
  into the part the revisions explain and the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from forecast.evaluation import ledger
from forecast.geo.gazetteer import Gazetteer
from forecast.models.frame import ForecastFrame
from forecast.report.notebook import run_folder, show_figure, show_table, show_text

#: Earlier runs whose fans the past-forecasts figure draws.
FIGURE_RUNS = 4
#: Provinces in the figure and the per-province tables.
TOP_UNITS = 6


def _names(gazetteer: Gazetteer) -> dict[str, str]:
    return gazetteer.units.set_index("unit_id")["name"].to_dict()


def _scoped_runs(ledger_dir: str | Path | None, parameters: Mapping[str, Any]) -> list[str]:
    if ledger_dir is None:
        return []
    return ledger.run_ids(ledger_dir, scope=parameters)


def past_forecast_tables(
    ledger_dir: str | Path, panel: pd.DataFrame, parameters: Mapping[str, Any], gazetteer: Gazetteer, model: str
) -> dict[str, Any] | None:
    """Score the ledger's forecasts of this run's scope against ``panel``.

    Parameters
    ----------
    ledger_dir
        The ledger (``reports/ledger``).
    panel
        Today's panel.
    parameters
        This run's parameters (their :func:`forecast.evaluation.ledger.run_scope` selects the runs).
    gazetteer
        For province names.
    model
        The model whose per-province record is shown (the report's model).

    Returns
    -------
    dict or None
        None when no stored forecast is observed yet; else ``runs`` (scored
        run ids), ``scores`` (one row per forecast), ``by_horizon`` (per model
        and step) and ``by_unit`` (the report model per province, busiest first).
    """
    runs = _scoped_runs(ledger_dir, parameters)
    if not runs:
        return None
    scores = ledger.score_ledger(ledger_dir, panel, runs=runs)
    if scores.empty:
        return None
    by_horizon = ledger.ledger_skill(scores, by=["model", "step"]).reset_index()
    by_unit = ledger.ledger_skill(scores, by=["model", "unit_id"]).reset_index()
    by_unit = by_unit.loc[by_unit["model"] == model].drop(columns="model")
    realised = scores.loc[scores["model"] == model].groupby("unit_id")["y"].sum().rename("realised")
    by_unit = by_unit.merge(realised, on="unit_id", how="left")
    by_unit.insert(0, "name", by_unit["unit_id"].map(_names(gazetteer)).fillna(by_unit["unit_id"]))
    by_unit = by_unit.sort_values(["realised", "unit_id"], ascending=[False, True]).reset_index(drop=True)
    return {
        "runs": list(dict.fromkeys(scores["run_id"])),
        "scores": scores,
        "by_horizon": by_horizon,
        "by_unit": by_unit,
    }


def show_past_forecasts(
    ledger_dir: str | Path | None,
    panel: pd.DataFrame,
    parameters: Mapping[str, Any],
    gazetteer: Gazetteer,
    *,
    model: str,
    labels: Mapping[str, Any] | None = None,
) -> dict[str, Any] | None:
    """Show the section *How our past forecasts did* (text, two tables, one figure).

    Returns what :func:`past_forecast_tables` returns.
    """
    if ledger_dir is None:
        show_text("This run was started without a ledger (not by `forecast run`), so no past forecasts are scored.")
        return None
    review = past_forecast_tables(ledger_dir, panel, parameters, gazetteer, model)
    if review is None:
        held = len(_scoped_runs(ledger_dir, parameters))
        show_text(
            f"The ledger holds {held} earlier scheduled run(s) of this source, country, frequency and actor, "
            "and none of their forecast periods is observed yet; later runs will score this run's forecasts."
        )
        return None
    scores = review["scores"]
    show_text(
        f"{len(scores):,} forecasts from {len(review['runs'])} earlier run(s) "
        f"({', '.join(review['runs'][-FIGURE_RUNS:])}{', ...' if len(review['runs']) > FIGURE_RUNS else ''}) "
        "are now observed and scored against today's data. CRPS and log score: lower is better; "
        "skill: 1 - CRPS / CRPS of the baseline on the same forecasts (above 0: better than the baseline); "
        "coverage90: share of outcomes inside the 90 % interval (0.90 when calibrated)."
    )
    show_table(review["by_horizon"], caption="Past forecasts by model and horizon (step)", float_format="{:.3f}")
    top = review["by_unit"].head(TOP_UNITS * 2)
    show_table(top, caption=f"Past forecasts by province, model {model} (most realised events first)", float_format="{:.3f}")
    from forecast.viz.plots import past_forecasts_chart

    stored = ledger.read_forecasts(ledger_dir, runs=review["runs"][-FIGURE_RUNS:])
    units = review["by_unit"]["unit_id"].head(TOP_UNITS).tolist()
    if model in set(stored["model"]) and units:
        show_figure(
            past_forecasts_chart(
                panel, stored, units, model=model, names=_names(gazetteer), **dict(labels or {})
            )
        )
    return review


def show_changes(
    ledger_dir: str | Path | None,
    frame: ForecastFrame,
    panel: pd.DataFrame,
    parameters: Mapping[str, Any],
    gazetteer: Gazetteer,
    *,
    model: str,
    refit: ledger.Refit | None = None,
    max_rows: int = 40,
) -> ledger.Changes | None:
    """Show the section *What changed since the last run*: revised history, new data, moved forecasts.

    Parameters
    ----------
    ledger_dir, panel, parameters, gazetteer, model
        As in :func:`show_past_forecasts`; ``frame`` is this run's forecasts.
    refit
        This run's forecaster as a function of a panel; with revisions it is
        run twice more to split each move into what the revisions explain and
        the rest (see :func:`forecast.evaluation.ledger.compare_runs`).
    max_rows
        Rows of the revisions table shown (all are counted).
    """
    runs = _scoped_runs(ledger_dir, parameters)
    if not runs:
        show_text("No earlier scheduled run of this scope is in the ledger: nothing to compare with yet.")
        return None
    changes = ledger.changes_since_last_run(ledger_dir, frame, panel, refit=refit, runs=runs)
    names = _names(gazetteer)
    previous = ledger.read_meta(ledger_dir, changes.previous)
    as_of = (previous.get("parameters") or {}).get("as_of")
    n_new = changes.new_periods["ds"].nunique() if len(changes.new_periods) else 0
    show_text(
        f"Compared with run {changes.previous}" + (f" (as of {as_of})" if as_of else "") + ": "
        f"{len(changes.revised)} past count(s) revised, {n_new} new period(s) observed."
    )
    if len(changes.revised):
        revised = changes.revised.assign(name=changes.revised["unit_id"].map(names).fillna(changes.revised["unit_id"]))
        revised["ds"] = pd.to_datetime(revised["ds"]).dt.strftime("%Y-%m-%d")
        revised = revised[["name", "unit_id", "ds", "old", "new"]].rename(columns={"ds": "period"})
        more = f" (first {max_rows} of {len(revised)})" if len(revised) > max_rows else ""
        show_table(revised.head(max_rows), caption=f"Revised history: the same periods now have other counts{more}", float_format="{:.0f}")
    moved = changes.moved.loc[changes.moved["model"] == model].drop(columns="model")
    moved = moved.dropna(subset=["change"])
    if moved.empty:
        show_text("The two runs forecast no common period, so no forecast move is shown.")
        return changes
    moved.insert(0, "name", moved["unit_id"].map(names).fillna(moved["unit_id"]))
    moved = moved.reindex(moved["change"].abs().sort_values(ascending=False).index).head(TOP_UNITS * 2)
    show_table(
        moved.reset_index(drop=True),
        caption=(
            f"How far the forecast moved (model {model}; mean over the periods both runs forecast): "
            "from_revisions is the part the revised history explains, from_new_data_and_model the rest"
        ),
        float_format="{:.3f}",
    )
    return changes


def record_forecasts(
    output_dir: str | Path | None,
    frame: ForecastFrame,
    panel: pd.DataFrame,
    parameters: Mapping[str, Any],
    *,
    seed: int = 0,
    neighbours: Any = None,
) -> Path | None:
    """Write this run's ledger entry into its run folder (the runner appends it once the run succeeds).

    The entry holds ``frame`` plus the ledger baselines, the panel and the
    run's scope. Nothing is written when the notebook runs outside a run
    (``output_dir`` None).
    """
    folder = run_folder(output_dir)
    if folder is None:
        return None
    stored = ledger.with_ledger_baselines(frame, panel, seed=seed, neighbours=neighbours)
    return ledger.write_entry(
        folder / ledger.ENTRY_NAME, stored, panel, meta={"scope": ledger.run_scope(parameters)}
    )
