"""The report's forecaster, chosen by a backtest on the most recent origins.

A run does not forecast with a model because the configuration lists it
first. It backtests every candidate (baselines included) on the last few
forecast origins before its as-of date, then forecasts with

- ``method="stack"`` (the default): the mixture of the candidates whose
  weights maximise the mean log predictive density of what happened at those
  origins (log-score stacking, Yao et al. 2018), or
- ``method="best"``: the candidate with the lowest mean CRPS.

:func:`choose_forecaster` returns a :class:`ForecasterChoice` that says what
was chosen and why: the weights, each candidate's scores and its skill
against the best baseline, and a sentence for the report.

Examples
--------
>>> import numpy as np, pandas as pd
>>> ds = pd.date_range("2019-01-07", periods=120, freq="W-MON")
>>> rng = np.random.default_rng(3)
>>> panel = pd.DataFrame({"unit_id": np.repeat(list("ABCDEFGHIJ"), 120), "ds": np.tile(ds, 10),
...                       "y": rng.poisson(3, 1200)})
>>> choice = choose_forecaster(panel, ["zero", "hist_mean", "last"], horizon=2, origins=6, n_draws=200)
>>> max(choice.weights, key=choice.weights.get), choice.weights["zero"]
('hist_mean', 0.0)
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecast.checks import choice, whole_number
from forecast.errors import InputError, ModelError, ParameterError
from forecast.evaluation.backtest import (
    LOG_SCORE_FLOOR,
    BacktestResult,
    _paired,
    backtest,
    rolling_origins,
)
from forecast.models.base import Neighbours
from forecast.models.frame import ForecastFrame
from forecast.models.registry import BASELINES, ModelSpec, expand_ensembles, make_model
from forecast.panel import PanelData

__all__ = ["ForecasterChoice", "ReportForecaster", "choose_forecaster", "report_forecaster", "stacking_weights"]

#: Ways :func:`choose_forecaster` turns a backtest into a forecaster.
METHODS = ("stack", "best")

#: Values of the report parameter ``selection``: a method, or ``"none"`` (the last listed model).
SELECTIONS = (*METHODS, "none")

#: Weights below this share are dropped from the stacked ensemble (and the rest renormalised).
MIN_WEIGHT = 0.01


def stacking_weights(
    scores: pd.DataFrame,
    models: Sequence[str] | None = None,
    *,
    tolerance: float = 1e-10,
    max_iter: int = 10_000,
) -> dict[str, float]:
    """Log-score stacking: mixture weights that maximise the mean log density of the outcomes.

    With ``p_mi = exp(-log_score)``, the predictive probability model ``m``
    gave outcome ``i``, the weights maximise ``mean_i log(sum_m w_m p_mi)`` on
    the simplex. The objective is concave; the EM iteration
    ``w_m <- mean_i(w_m p_mi / sum_k w_k p_ki)`` climbs it monotonically from
    equal weights, so the result does not depend on an optimiser's luck.

    Parameters
    ----------
    scores
        A backtest score table (``model`` and ``log_score`` per forecast);
        only forecasts every model made are used.
    models
        Candidates (default: every model in ``scores``).
    tolerance
        Stop when the objective gains less than this in an iteration.
    max_iter
        Iteration limit.

    Returns
    -------
    dict
        ``{model: weight}``, summing to 1, in the models' order.

    Examples
    --------
    >>> table = pd.DataFrame({"model": ["a", "b"] * 3, "unit_id": "u", "cutoff": 0, "ds": 0,
    ...                       "step": np.repeat([1, 2, 3], 2),
    ...                       "log_score": -np.log([0.5, 0.1, 0.4, 0.1, 0.6, 0.2])})
    >>> {m: round(w, 3) for m, w in stacking_weights(table).items()}
    {'a': 1.0, 'b': 0.0}
    """
    paired = _paired(scores, "log_score", models)
    if paired.empty:
        raise InputError(f"no forecast was scored for every model of {models or 'the table'}; cannot stack them")
    density = np.exp(-paired.to_numpy(dtype=float))  # (forecasts, models)
    weights = np.full(density.shape[1], 1.0 / density.shape[1])
    previous = -np.inf
    for _ in range(whole_number(max_iter, "max_iter")):
        mixture = density @ weights
        objective = float(np.log(mixture).mean())
        if objective - previous < tolerance:
            break
        previous = objective
        weights = weights * (density / mixture[:, None]).mean(axis=0)
        weights /= weights.sum()
    return dict(zip(paired.columns, weights.tolist(), strict=True))


@dataclass
class ForecasterChoice:
    """What :func:`choose_forecaster` chose, and why.

    Attributes
    ----------
    spec
        The model spec to forecast with: one candidate, or
        ``ensemble(members=[...], weights={...})``.
    method
        ``"stack"`` or ``"best"``.
    weights
        Weight per candidate (all candidates; 0 for those left out).
    table
        One row per candidate, best first: mean ``crps``, ``log_score``,
        ``coverage90``, ``skill`` (``1 - CRPS / CRPS of the best baseline``),
        ``weight``, ``baseline`` (bool).
    best_baseline
        The baseline with the lowest mean CRPS.
    cutoffs
        The origins scored.
    failures
        ``model, cutoff, error`` of candidates that failed at some origin
        (such a candidate is not chosen).
    backtest
        The backtest itself.
    """

    spec: str
    method: str
    weights: dict[str, float]
    table: pd.DataFrame
    best_baseline: str | None
    cutoffs: pd.DatetimeIndex
    failures: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["model", "cutoff", "error"]))
    backtest: BacktestResult | None = None

    @property
    def members(self) -> dict[str, float]:
        """The candidates the forecaster uses, with their weights."""
        return {m: w for m, w in self.weights.items() if w > 0}

    def display_table(self) -> pd.DataFrame:
        """:attr:`table` for a report: ``model`` a column, baselines marked ``baseline``, largest weight first."""
        shown = self.table.reset_index()
        shown["kind"] = np.where(shown.pop("baseline").astype(bool), "baseline", "")
        return shown[["model", "kind", "weight", "crps", "log_score", "coverage90", "skill"]]

    def reason(self) -> str:
        """One paragraph for the report: what forecasts the fans, chosen how, and how it scored.

        Examples
        --------
        See :func:`choose_forecaster`.
        """
        span = f"{self.cutoffs.min():%Y-%m-%d} to {self.cutoffs.max():%Y-%m-%d}"
        n = len(self.cutoffs)
        rows = self.table
        if self.method == "stack":
            mix = ", ".join(f"{m} {w:.2f}" for m, w in sorted(self.members.items(), key=lambda kv: -kv[1]))
            head = (
                f"The fans come from a stacked ensemble ({mix}): the weights give the mixture the most "
                f"probability for what happened after {n} recent origins ({span}), i.e. its lowest log score."
            )
        else:
            head = f"The fans come from {self.spec}, the lowest mean CRPS at {n} recent origins ({span})."
        tail = ""
        others = rows[~rows["baseline"].astype(bool)]
        if self.best_baseline is not None:
            base = rows.loc[self.best_baseline]
            tail = f" Best baseline: {self.best_baseline} (CRPS {base['crps']:.3f})"
            if len(others):
                best = others.loc[others["crps"].idxmin()]
                tail += f"; best of the other candidates: {best.name} (CRPS {best['crps']:.3f}, {best['skill']:+.0%} skill)"
            tail += "."
        failed = sorted(set(self.failures["model"])) if len(self.failures) else []
        if failed:
            tail += f" Left out because they failed at some origin: {', '.join(failed)}."
        return head + tail


def choose_forecaster(
    panel: pd.DataFrame,
    candidates: Sequence[str],
    horizon: int,
    *,
    origins: int = 6,
    every: int | None = None,
    method: str = "stack",
    n_draws: int = 200,
    seed: int = 0,
    neighbours: Neighbours | None = None,
    freq: str | None = None,
    executor: concurrent.futures.Executor | None = None,
) -> ForecasterChoice:
    """Backtest ``candidates`` on the most recent origins and choose the forecaster.

    Parameters
    ----------
    panel
        The panel known at the run's as-of date (nothing later).
    candidates
        Model specs. A bare ``"ensemble"`` is dropped: the choice makes its
        own. The baselines ``zero`` and ``hist_mean`` are always scored, so
        every comparison has them.
    horizon
        Steps ahead scored at each origin (the report's horizon).
    origins
        How many origins, the last ``horizon`` periods before the panel's end
        and earlier, ``every`` periods apart.
    every
        Periods between origins; default ``max(1, horizon // 2)``.
    method
        ``"stack"`` (log-score stacking) or ``"best"`` (lowest CRPS).
    n_draws, seed, neighbours, freq, executor
        As for :func:`forecast.evaluation.backtest.backtest` (``executor``:
        where its tasks run, e.g. the run's Dask cluster).

    Returns
    -------
    ForecasterChoice

    Raises
    ------
    InputError
        Too few periods for one origin.
    ModelError
        Every candidate failed.
    """
    method = choice(method, "method", METHODS)
    origins = whole_number(origins, "origins", minimum=1)
    every = max(1, horizon // 2) if every is None else whole_number(every, "every", minimum=1)
    data = PanelData.from_panel(panel, freq=freq)
    names = [str(m) for m in expand_ensembles([c for c in candidates if str(c).strip() != "ensemble"])]
    aliases = [make_model(m).alias for m in names]
    for baseline in ("zero", "hist_mean"):
        if baseline not in aliases:
            names.insert(0, baseline)
            aliases.insert(0, baseline)
    cutoffs = rolling_origins(data.ds, horizon, start=data.ds[1], every=1)[::-1][::every][:origins][::-1]
    result = backtest(
        panel, names, horizon, start=cutoffs[0], end=cutoffs[-1], every=every, n_draws=n_draws,
        seed=seed, neighbours=neighbours, freq=data.freq, progress=False, log_floor=LOG_SCORE_FLOOR,
        executor=executor,
    )
    failed = set(result.failures["model"]) if len(result.failures) else set()
    usable = [a for a in aliases if a not in failed and a in set(result.scores["model"])]
    if not usable:
        raise ModelError(f"every candidate failed in the recent backtest: {sorted(failed)}")
    scores = result.scores[result.scores["model"].isin(usable)]
    paired_crps = _paired(scores, "crps", usable)
    crps = paired_crps.mean()
    if method == "stack":
        weights = stacking_weights(scores, usable)
        weights = {m: (w if w >= MIN_WEIGHT else 0.0) for m, w in weights.items()}
        total = sum(weights.values())
        weights = {m: w / total for m, w in weights.items()}
    else:
        best = str(crps.idxmin())
        weights = {m: float(m == best) for m in usable}
    weights = {a: weights.get(a, 0.0) for a in aliases}

    summary = result.summary()
    is_baseline = {a: ModelSpec.parse(n).name in BASELINES for a, n in zip(aliases, names, strict=True)}
    baselines = [a for a in usable if is_baseline[a]]
    best_baseline = str(crps[baselines].idxmin()) if baselines else None
    table = pd.DataFrame(
        {
            "crps": crps,
            "log_score": _paired(scores, "log_score", usable).mean(),
            "coverage90": summary.loc[usable, "coverage90"],
            "weight": pd.Series(weights).loc[usable],
            "baseline": pd.Series(is_baseline).loc[usable],
        }
    )
    table["skill"] = 1 - table["crps"] / table.loc[best_baseline, "crps"] if best_baseline else np.nan
    table = table.sort_values(["weight", "crps"], ascending=[False, True], kind="stable")
    table.index.name = "model"

    spec_of = dict(zip(aliases, names, strict=True))
    members = [a for a in aliases if weights[a] > 0]
    if len(members) == 1:
        spec = spec_of[members[0]]
    else:
        spec = (
            f"ensemble(members={[spec_of[a] for a in members]!r}, "
            f"weights={ {a: round(weights[a], 4) for a in members}!r}, alias='stacked')"
        )
    return ForecasterChoice(
        spec=spec,
        method=method,
        weights=weights,
        table=table,
        best_baseline=best_baseline,
        cutoffs=result.cutoffs,
        failures=result.failures,
        backtest=result,
    )



@dataclass
class ReportForecaster:
    """The models a report forecasts with, the one its fans show, and why.

    Attributes
    ----------
    models
        Model specs to forecast with; the last one is the reported forecaster.
    choice
        The backtest choice, or ``None`` when there was none (``selection="none"``,
        or too little history for a backtest).
    note
        One paragraph for the report: which model produced the fans and why.
    """

    models: list[str]
    choice: ForecasterChoice | None
    note: str

    def describe(self, forecasts: ForecastFrame) -> str:
        """:attr:`note`, plus what happened when the models were fitted to the whole panel.

        With ``forecast_panel(..., skip_failures=True)`` a model can fail on the
        full data although it worked at the backtest origins; the sentence then
        says which, why, and which model the fans come from instead.
        """
        failures = forecasts.meta.get("failures") or {}
        if self.choice is not None and len(self.choice.failures):  # already named by the note
            failures = {m: r for m, r in failures.items() if m not in set(self.choice.failures["model"])}
        if not failures:
            return self.note
        failed = "; ".join(f"{alias} ({reason})" for alias, reason in failures.items())
        text = f"{self.note} Left out, as their fit to the whole panel failed: {failed}."
        intended = _alias(self.models[-1])
        if forecasts.models[-1] != intended:
            text += f" The fans come from {forecasts.models[-1]} instead of {intended}."
        return text


def report_forecaster(
    panel: pd.DataFrame,
    models: Sequence[str],
    horizon: int,
    *,
    selection: str = "stack",
    origins: int = 6,
    n_draws: int = 200,
    seed: int = 0,
    neighbours: Neighbours | None = None,
    freq: str | None = None,
    executor: concurrent.futures.Executor | None = None,
) -> ReportForecaster:
    """The report's forecasters: the listed models plus the one a recent backtest chose.

    With ``selection="stack"`` or ``"best"`` the candidates ``models`` are
    scored by :func:`choose_forecaster` and the choice is appended (or moved)
    last, so the report shows it. With ``"none"``, or when the panel is too
    short for even one backtest origin, the report shows the last listed model
    and :attr:`ReportForecaster.note` says so.

    Parameters
    ----------
    panel, models, horizon
        The run's panel (as of its as-of date), candidate specs and horizon.
    selection
        ``"stack"``, ``"best"`` or ``"none"``.
    origins, n_draws, seed, neighbours, freq, executor
        As for :func:`choose_forecaster`.

    Returns
    -------
    ReportForecaster

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> ds = pd.date_range("2019-01-07", periods=100, freq="W-MON")
    >>> panel = pd.DataFrame({"unit_id": np.repeat(list("ABCD"), 100), "ds": np.tile(ds, 4),
    ...                       "y": np.random.default_rng(1).poisson(2, 400)})
    >>> report_forecaster(panel, ["hist_mean", "last"], horizon=2, selection="best").models[-1]
    'hist_mean'
    >>> report_forecaster(panel.head(3), ["hist_mean", "last"], horizon=2).note.startswith("Too little")
    True
    """
    selection = choice(selection, "selection", SELECTIONS)
    listed = [str(m).strip() for m in models]
    if selection == "none":
        return ReportForecaster(listed, None, f"The fans come from {_alias(listed[-1])}, the last listed model (selection: none).")
    candidates = [m for m in listed if m != "ensemble"]
    if not candidates:
        raise ParameterError("selection needs at least one candidate model besides a bare 'ensemble'")
    try:
        chosen = choose_forecaster(
            panel, candidates, horizon, origins=origins, method=selection, n_draws=n_draws, seed=seed,
            neighbours=neighbours, freq=freq, executor=executor,
        )
    except InputError as exc:  # too little history for one origin: nothing to choose by
        return ReportForecaster(
            listed, None,
            f"Too little history for a backtest ({exc.detail}); the fans come from {_alias(listed[-1])}, the last listed model.",
        )
    chosen_alias = _alias(chosen.spec)
    forecast_with = [m for m in candidates if _alias(m) != chosen_alias] + [chosen.spec]
    return ReportForecaster(forecast_with, chosen, chosen.reason())


def _alias(spec: str) -> str:
    return ModelSpec.parse(spec).alias
