"""Rolling-origin evaluation of count forecasts with proper scores.

A backtest pretends to stand at a series of forecast origins. At each origin
every model is fitted to what was known then (an expanding window: all periods
up to and including the ``cutoff``, cut with :func:`forecast.panel.truncate`)
and forecasts steps ``1..horizon``; the forecasts are scored against what
happened. The result is one long table, as statsforecast's
``cross_validation`` returns it, with a ``cutoff`` column (the last period the
model saw, labelled by its start as ``ds`` is: a weekly cutoff 2021-10-04 means
data through Sunday 2021-10-10, the same knowledge as ``as_of="2021-10-10"``
elsewhere in the package)::

    unit_id, cutoff, ds, step, model, y, mean, q05, q25, q50, q75, q95,
    crps, log_score, is50, is90, ae_median, covered50, covered90, pit, exact

Scores (lower is better unless stated)
--------------------------------------
``crps``
    Continuous ranked probability score, from :mod:`scoringrules`: the
    closed form (``crps_poisson``, ``crps_negbinom``) for rows that carry an
    exact Poisson or negative-binomial distribution (``exact`` is True),
    otherwise the sample estimate from the draws (``crps_ensemble`` with the
    ``"pwm"`` estimator, which equals the *fair* estimator: unbiased for the
    model's distribution, so sample-based and exact rows are comparable).
    Where scoringrules' closed form overflows (Poisson means above about
    150, negative-binomial sizes above about 1e4) the sample estimate is used.
``log_score``
    ``-log P(Y = y)``. Exact rows use scipy's ``logpmf`` (scoringrules 0.10's
    ``logs_negbinom`` returns infinity for sizes below 1 and both its count
    log scores overflow for means above about 150). Rows with draws only use
    the empirical probability of ``y`` among the draws. Either probability is
    floored at ``log_floor`` (default ``1e-4``, a score of at most 9.21), so a
    model that puts (almost) no mass on what happened, such as ``zero`` when
    there were attacks, gets a large but finite penalty and means stay finite.
``is50``, ``is90``
    Interval score (scoringrules ``interval_score``) of the central 50 % and
    90 % intervals ``[q(a/2), q(1 - a/2)]``; their means are the MIS.
``ae_median``
    Absolute error of the predictive median.
``covered50``, ``covered90``
    Whether the interval contains ``y`` (means: coverage; not a score).
``pit``
    Randomised probability integral transform ``u ~ U(F(y - 1), F(y))``,
    seeded; uniform on (0, 1) for a calibrated forecast of counts.

Quantiles are integer counts: the exact distribution's ``ppf`` or the
draws' inverted CDF (as :meth:`ForecastFrame.quantiles`). For counts the
central ``1 - a`` interval covers at least ``1 - a`` of the mass, so coverage
of a calibrated low-count forecast lies above the nominal level.

Examples
--------
>>> import numpy as np, pandas as pd
>>> ds = pd.date_range("2020-01-06", periods=40, freq="W-MON")
>>> rng = np.random.default_rng(1)
>>> panel = pd.DataFrame({"unit_id": np.repeat(["A", "B"], 40), "ds": np.tile(ds, 2),
...                       "y": rng.poisson(4, 80)})
>>> result = backtest(panel, "zero,hist_mean", horizon=2, start="2020-06-01", end="2020-08-01",
...                   every=4, n_draws=200, progress=False)
>>> [f"{c:%F}" for c in result.cutoffs]
['2020-06-01', '2020-06-29', '2020-07-27']
>>> result.scores.columns[:6].tolist()
['unit_id', 'cutoff', 'ds', 'step', 'model', 'y']
>>> result.summary()["crps"].round(2).to_dict()
{'zero': 3.33, 'hist_mean': 0.9}
"""

from __future__ import annotations

import concurrent.futures
import copy
import json
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scoringrules as sr
from scipy import stats

from forecast.checks import (
    date,
    draw_budget,
    draw_count,
    fraction,
    frequency,
    number,
    steps_ahead,
    whole_number,
)
from forecast.distributions import scipy_negbin
from forecast.errors import ForecastError, InputError, ModelError, ParameterError
from forecast.models.base import CountModel, Neighbours, unit_rng
from forecast.models.ensemble import weights_from_scores
from forecast.models.frame import DEFAULT_DRAWS, ForecastFrame, quantile_column
from forecast.models.registry import ModelSpec, expand_ensembles, make_model, parse_model_list
from forecast.panel import PanelData, truncate
from forecast.parallel import (
    executor_workers,
    get_executor,
    group_count,
    run_tasks,
    share,
    split_evenly,
)

__all__ = [
    "BASELINES",
    "outcome_table",
    "LOG_SCORE_FLOOR",
    "MANIFEST_NAME",
    "SCORE_COLUMNS",
    "BacktestResult",
    "backtest",
    "best_models",
    "ensemble_weights",
    "read_backtest_scores",
    "rolling_origins",
    "score_forecasts",
    "skill_scores",
    "summarise_scores",
    "with_baselines",
]

logger = logging.getLogger(__name__)

#: Smallest probability the log score gives an outcome: ``-log(1e-4) = 9.21`` at most.
LOG_SCORE_FLOOR = 1e-4
#: Quantile levels reported in the score table (they bound the 50 % and 90 % intervals).
QUANTILE_LEVELS = (0.05, 0.25, 0.5, 0.75, 0.95)
#: Central interval levels scored (``is50``/``covered50`` ...).
INTERVAL_LEVELS = (0.5, 0.9)
#: The VIEWS-style baselines of :mod:`forecast.models.baselines`: skill is stated against them.
BASELINES = ("zero", "last", "hist_mean", "bootstrap", "seasonal_naive")
#: Per-row score column -> name of its mean in summaries.
SCORE_COLUMNS: dict[str, str] = {
    "crps": "crps",
    "log_score": "log_score",
    "is50": "mis50",
    "is90": "mis90",
    "ae_median": "mae_median",
    "covered50": "coverage50",
    "covered90": "coverage90",
}
#: Scores where lower is better (the others in :data:`SCORE_COLUMNS` are coverages).
LOWER_IS_BETTER = ("crps", "log_score", "is50", "is90", "ae_median")
#: Columns that identify a scored forecast.
KEY_COLUMNS = ["unit_id", "cutoff", "ds", "step", "model"]
_ROW_KEYS = ["unit_id", "cutoff", "ds", "step"]


# ------------------------------------------------------------------ scoring
def outcome_table(panel: pd.DataFrame, what: str = "the panel") -> pd.DataFrame:
    """``unit_id`` (str), ``ds`` (datetime), ``y`` (float) of a long panel, in its row order.

    The one normalisation of observed counts before they are compared with
    forecasts (here and in :mod:`forecast.evaluation.ledger`).

    Raises
    ------
    InputError
        A column is missing (``what`` names the table in the message).
    """
    missing = [c for c in ("unit_id", "ds", "y") if c not in panel.columns]
    if missing:
        raise InputError(f"{what} lack columns {missing}; pass the panel (unit_id, ds, y)")
    return pd.DataFrame(
        {
            "unit_id": panel["unit_id"].astype(str).to_numpy(),
            "ds": pd.to_datetime(panel["ds"]).to_numpy(),
            "y": pd.to_numeric(panel["y"]).to_numpy(dtype=float),
        }
    )


def score_forecasts(
    forecast: ForecastFrame,
    observed: pd.DataFrame,
    *,
    seed: int = 0,
    log_floor: float = LOG_SCORE_FLOOR,
) -> pd.DataFrame:
    """Score predictive count distributions against what happened.

    Parameters
    ----------
    forecast
        The forecasts; rows with an exact distribution (``family``,
        ``dist_mu``, ``dist_size``) are scored exactly, others from their draws.
    observed
        Panel ``unit_id, ds, y`` holding the outcomes. Forecast rows without an
        outcome are left out.
    seed
        Seed of the randomised PIT (one stream per model alias and unit, so
        adding a model or scoring the units in other groups does not change
        the values).
    log_floor
        Smallest probability the log score gives an outcome (see the module
        docstring).

    Returns
    -------
    pandas.DataFrame
        The forecast's index columns, ``y``, ``mean``, quantiles ``q05 ...
        q95``, the scores and ``exact`` (scores from the exact distribution).

    Examples
    --------
    >>> ff = ForecastFrame.from_draws(["A"], pd.to_datetime(["2021-01-04"]), [1],
    ...                               np.array([[0, 1, 2, 3]]), model="demo")
    >>> observed = pd.DataFrame({"unit_id": ["A"], "ds": pd.to_datetime(["2021-01-04"]), "y": [2]})
    >>> row = score_forecasts(ff, observed).iloc[0]
    >>> row[["crps", "log_score", "q50", "is90"]].astype(float).round(4).to_dict()
    {'crps': 0.1667, 'log_score': 1.3863, 'q50': 1.0, 'is90': 3.0}
    """
    fraction(log_floor, "log_floor")
    outcomes = outcome_table(observed, "observed outcomes").drop_duplicates(["unit_id", "ds"])
    index = forecast.index.assign(unit_id=forecast.index["unit_id"].astype(str))
    table = index.merge(outcomes, on=["unit_id", "ds"], how="left", validate="many_to_one")
    known = table["y"].notna().to_numpy()
    table = table.loc[known].reset_index(drop=True)
    draws = forecast.draws[known]
    means = forecast.mean()[known]
    y = table["y"].to_numpy(dtype=float)

    family = table["family"].to_numpy(dtype=object) if "family" in table else np.full(len(table), None)
    mu = table["dist_mu"].to_numpy(dtype=float) if "dist_mu" in table else np.full(len(table), np.nan)
    size = table["dist_size"].to_numpy(dtype=float) if "dist_size" in table else np.full(len(table), np.nan)
    finite_mu = np.isfinite(mu) & (mu >= 0)
    poisson = (family == "poisson") & finite_mu
    negbin = (family == "negbin") & finite_mu & np.isfinite(size) & (size > 0)
    exact = poisson | negbin
    sampled = ~exact
    nb_n, nb_p = scipy_negbin(mu[negbin], size[negbin])

    def exact_values(poisson_fn: Any, negbin_fn: Any, fill: np.ndarray) -> np.ndarray:
        out = fill.copy()
        if poisson.any():
            out[poisson] = poisson_fn(poisson)
        if negbin.any():
            out[negbin] = negbin_fn(negbin)
        return out

    # Quantiles: exact ppf, or the draws' inverted CDF.
    quantiles = np.full((len(table), len(QUANTILE_LEVELS)), np.nan)
    if sampled.any():
        quantiles[sampled] = np.quantile(draws[sampled], QUANTILE_LEVELS, axis=1, method="inverted_cdf").T
    levels = np.asarray(QUANTILE_LEVELS)
    if poisson.any():
        quantiles[poisson] = stats.poisson.ppf(levels[None, :], mu[poisson][:, None])
    if negbin.any():
        quantiles[negbin] = stats.nbinom.ppf(levels[None, :], nb_n[:, None], nb_p[:, None])

    # CRPS: closed forms where exact, else (and where they overflow) the sample estimate.
    with np.errstate(all="ignore"):
        crps = exact_values(
            lambda m: sr.crps_poisson(y[m], mu[m], backend="numpy"),
            lambda m: sr.crps_negbinom(y[m], size[m], mu=mu[m], backend="numpy"),
            np.full(len(table), np.nan),
        )
    from_draws = sampled | ~np.isfinite(crps)
    if from_draws.any():
        crps[from_draws] = sr.crps_ensemble(
            y[from_draws], draws[from_draws].astype(float), estimator="pwm", backend="numpy"
        )

    # Probability of y and the CDF around it: exact, or empirical from the draws.
    pmf, cdf, cdf_below = (np.full(len(table), np.nan) for _ in range(3))
    if sampled.any():
        hits = draws[sampled]
        ys = y[sampled][:, None]
        pmf[sampled] = (hits == ys).mean(axis=1)
        cdf[sampled] = (hits <= ys).mean(axis=1)
        cdf_below[sampled] = (hits < ys).mean(axis=1)
    if poisson.any():
        pmf[poisson] = np.exp(stats.poisson.logpmf(y[poisson], mu[poisson]))
        cdf[poisson] = stats.poisson.cdf(y[poisson], mu[poisson])
        cdf_below[poisson] = stats.poisson.cdf(y[poisson] - 1, mu[poisson])
    if negbin.any():
        pmf[negbin] = np.exp(stats.nbinom.logpmf(y[negbin], nb_n, nb_p))
        cdf[negbin] = stats.nbinom.cdf(y[negbin], nb_n, nb_p)
        cdf_below[negbin] = stats.nbinom.cdf(y[negbin] - 1, nb_n, nb_p)
    log_score = -np.log(np.maximum(pmf, log_floor))

    # Randomised PIT, one seeded stream per model and unit (keyed by names, as the draws are),
    # so a unit's values do not depend on which other units were scored with it.
    uniform = np.empty(len(table))
    models = table["model"].astype(str).to_numpy()
    units = table["unit_id"].to_numpy()
    codes = pd.factorize(pd.MultiIndex.from_arrays([models, units]))[0]
    order = np.argsort(codes, kind="stable")  # each pair's rows in table order (its steps)
    for rows in np.split(order, np.flatnonzero(np.diff(codes[order])) + 1) if len(order) else ():
        uniform[rows] = unit_rng(int(seed), str(models[rows[0]]), str(units[rows[0]])).random(len(rows))
    pit = cdf_below + uniform * (cdf - cdf_below)

    out = table.drop(columns=[c for c in ("family", "dist_mu", "dist_size") if c in table])
    out["mean"] = means
    for level, column in zip(QUANTILE_LEVELS, quantiles.T, strict=True):
        out[quantile_column(level)] = column
    out["crps"] = crps
    out["log_score"] = log_score
    for level in INTERVAL_LEVELS:
        alpha = 1 - level
        lower = quantiles[:, QUANTILE_LEVELS.index(round(alpha / 2, 10))]
        upper = quantiles[:, QUANTILE_LEVELS.index(round(1 - alpha / 2, 10))]
        tag = f"{round(level * 100):d}"
        out[f"is{tag}"] = sr.interval_score(y, lower, upper, alpha, backend="numpy")
        out[f"covered{tag}"] = (lower <= y) & (y <= upper)
    out["ae_median"] = np.abs(y - quantiles[:, QUANTILE_LEVELS.index(0.5)])
    out["pit"] = pit
    out["exact"] = exact
    return out


# --------------------------------------------------------------- summaries
def _check_metric(scores: pd.DataFrame, metric: str, *, lower_is_better: bool = False) -> None:
    allowed = LOWER_IS_BETTER if lower_is_better else tuple(SCORE_COLUMNS)
    if metric not in allowed:
        raise ParameterError(f"unknown score {metric!r}; use one of {', '.join(allowed)}")
    if metric not in scores.columns:
        raise InputError(f"the score table has no column {metric!r}; pass the table backtest() returns")


def summarise_scores(scores: pd.DataFrame, by: str | Sequence[str] = "model") -> pd.DataFrame:
    """Mean scores and coverages per group (``mis90`` is the mean ``is90``, and so on).

    Parameters
    ----------
    scores
        A score table (:attr:`BacktestResult.scores`).
    by
        Grouping columns: ``"model"``, ``["model", "unit_id"]``, ``["model", "step"]``...

    Returns
    -------
    pandas.DataFrame
        Indexed by ``by``: ``crps, log_score, mis50, mis90, mae_median,
        coverage50, coverage90, n`` (``n`` scored forecasts).
    """
    by = [by] if isinstance(by, str) else list(by)
    present = [c for c in SCORE_COLUMNS if c in scores.columns]
    grouped = scores.groupby(by, sort=False)
    out = grouped[present].mean().rename(columns=SCORE_COLUMNS)
    out["n"] = grouped.size()
    return out


def _paired(scores: pd.DataFrame, metric: str, models: Sequence[str] | None = None) -> pd.DataFrame:
    """Metric per forecast target (rows) and model (columns); rows some model lacks are dropped."""
    table = scores if models is None else scores[scores["model"].isin(models)]
    wide = table.pivot_table(index=_ROW_KEYS, columns="model", values=metric, aggfunc="first", sort=False)
    return wide.dropna()


def skill_scores(
    scores: pd.DataFrame,
    baselines: Sequence[str] | None = None,
    *,
    metric: str = "crps",
    by: str | Sequence[str] = "model",
) -> pd.DataFrame:
    """Skill ``1 - score / score_baseline`` of every model against each baseline.

    Each model is compared with a baseline on the forecasts both of them
    made (unit, cutoff, step), so a model that failed at some origins is not
    flattered or penalised by them. Positive skill: better than the baseline;
    0: as good; 1: perfect. A baseline with mean score 0 gives ``-inf`` (NaN
    when the model scores 0 too).

    Parameters
    ----------
    scores
        A score table.
    baselines
        Baseline aliases; default: those of :data:`BASELINES` present.
    metric
        A lower-is-better score column (``crps``, ``log_score``, ``is90``, ...).
    by
        ``"model"`` or more columns, e.g. ``["model", "step"]`` for skill per horizon.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``by``, one column ``skill_<metric>_vs_<baseline>`` per baseline.

    Examples
    --------
    >>> scores = pd.DataFrame({"unit_id": "A", "cutoff": 0, "ds": [1, 1, 2, 2], "step": [1, 1, 2, 2],
    ...                        "model": ["m", "zero"] * 2, "crps": [1.0, 2.0, 1.0, 6.0]})
    >>> skill_scores(scores, ["zero"]).round(2).to_dict("index")
    {'m': {'skill_crps_vs_zero': 0.75}, 'zero': {'skill_crps_vs_zero': 0.0}}
    """
    _check_metric(scores, metric, lower_is_better=True)
    by = [by] if isinstance(by, str) else list(by)
    if "model" not in by:
        raise ParameterError(f"skill is per model: 'by' must include 'model', got {by}")
    present = list(dict.fromkeys(scores["model"]))
    baselines = [b for b in BASELINES if b in present] if baselines is None else list(baselines)
    unknown = [b for b in baselines if b not in present]
    if unknown:
        raise ParameterError(f"baseline(s) {unknown} are not in the score table (models: {present})")
    extra = [c for c in by if c != "model"]
    columns = {}
    for baseline in baselines:
        base = scores.loc[scores["model"] == baseline, [*_ROW_KEYS, metric]].rename(columns={metric: "_base"})
        joined = scores[[*_ROW_KEYS, "model", metric]].merge(base, on=_ROW_KEYS, how="inner")
        joined = joined.dropna(subset=[metric, "_base"])
        sums = joined.groupby(by, sort=False)[[metric, "_base"]].sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            columns[f"skill_{metric}_vs_{baseline}"] = 1 - sums[metric] / sums["_base"]
    out = pd.DataFrame(columns)
    order = pd.MultiIndex.from_frame(scores[by].drop_duplicates()) if extra else pd.Index(present, name="model")
    return out.reindex(order)


def best_models(scores: pd.DataFrame, metric: str = "crps") -> pd.DataFrame:
    """Per unit, the model with the lowest mean score, with the runner-up.

    Returns
    -------
    pandas.DataFrame
        One row per unit: ``unit_id, best_model, best_<metric>, runner_up,
        runner_up_<metric>`` (the runner-up is empty with a single model), and
        ``events``: the events in the periods scored (when ``scores`` has
        ``y``). Where that is 0 any model forecasting zero is "best" at score
        0, which says nothing: a report should leave such units out.
    """
    _check_metric(scores, metric, lower_is_better=True)
    means = scores.groupby(["unit_id", "model"], sort=False)[metric].mean().reset_index()
    means = means.sort_values(["unit_id", metric, "model"], kind="stable")
    rows = []
    for unit, group in means.groupby("unit_id", sort=True):
        first = group.iloc[0]
        second = group.iloc[1] if len(group) > 1 else None
        rows.append(
            {
                "unit_id": unit,
                "best_model": first["model"],
                f"best_{metric}": first[metric],
                "runner_up": None if second is None else second["model"],
                f"runner_up_{metric}": np.nan if second is None else second[metric],
            }
        )
    table = pd.DataFrame(rows)
    if "y" in scores.columns and "ds" in scores.columns:
        observed = scores.drop_duplicates(["unit_id", "ds"]).groupby("unit_id")["y"].sum()
        table["events"] = table["unit_id"].map(observed).fillna(0).astype(int)
    return table


def ensemble_weights(
    scores: pd.DataFrame | Mapping[str, float],
    metric: str = "crps",
    *,
    models: Sequence[str] | None = None,
    method: str = "inverse",
    power: float = 1.0,
    temperature: float = 0.1,
) -> dict[str, float]:
    """Ensemble weights from backtest scores, for ``ensemble(members=..., weights=...)``.

    Parameters
    ----------
    scores
        A score table (means are taken over the forecasts every candidate
        model made) or a mapping ``{model: mean score}``.
    metric
        A lower-is-better score column.
    models
        Candidate members (default: every model in ``scores``). Give the
        ensemble's members so the weights name each of them.
    method
        ``"stack"``: log-score stacking (the weights of the mixture that
        gives what happened the highest mean log density; needs a score
        table with ``log_score``; what reports forecast with, see
        :func:`forecast.evaluation.selection.stacking_weights`).
        ``"inverse"``: ``w_m ∝ S_m ** -power`` (see
        :func:`forecast.models.ensemble.weights_from_scores`).
        ``"softmax"``: softmax of the skill against the best model,
        ``w_m ∝ exp(-(S_m / S_best - 1) / temperature)``: with the default
        temperature 0.1 a model 10 % worse than the best gets ``e**-1 = 0.37``
        times its weight, one 30 % worse ``0.05`` times.
    power, temperature
        Sharpness of the two methods.

    Returns
    -------
    dict
        ``{model: weight}``, weights summing to 1, in the models' order.

    Examples
    --------
    >>> w = ensemble_weights({"glm_negbin": 1.0, "hist_mean": 1.1, "zero": 2.0}, method="softmax")
    >>> {k: round(v, 3) for k, v in w.items()}
    {'glm_negbin': 0.731, 'hist_mean': 0.269, 'zero': 0.0}
    >>> {k: round(v, 3) for k, v in ensemble_weights({"a": 1.0, "b": 3.0}).items()}
    {'a': 0.75, 'b': 0.25}
    """
    if method == "stack":
        # Imported here: selection builds on this module.
        from forecast.evaluation.selection import stacking_weights

        if not isinstance(scores, pd.DataFrame):
            raise ParameterError("method='stack' needs the score table (log_score per forecast), not mean scores")
        return stacking_weights(scores, models)
    if isinstance(scores, pd.DataFrame):
        _check_metric(scores, metric, lower_is_better=True)
        paired = _paired(scores, metric, models)
        if paired.empty:
            raise InputError(f"no forecast was scored for every model of {models or 'the table'}; cannot weigh them")
        means = paired.mean().to_dict()
    else:
        means = {str(k): float(v) for k, v in scores.items()}
    if models is not None:
        lacking = [m for m in models if m not in means]
        if lacking:
            raise ParameterError(f"no scores for model(s) {lacking}; scored: {list(means)}")
        means = {m: means[m] for m in models}
    if method == "inverse":
        return weights_from_scores(means, power=power)
    if method != "softmax":
        raise ParameterError(f"unknown weighting method {method!r}; use 'stack', 'inverse' or 'softmax'")
    number(temperature, "temperature", minimum=0, strict=True)
    values = np.array(list(means.values()), dtype=float)
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ParameterError(f"scores must be finite and non-negative per model; got {means}")
    best = values.min()
    if best == 0:  # a perfect model takes everything
        raw = (values == 0).astype(float)
    else:
        excess = values / best - 1
        raw = np.exp(-(excess - excess.min()) / temperature)
    return dict(zip(means, (raw / raw.sum()).tolist(), strict=True))


# ------------------------------------------------------------ the backtest
def rolling_origins(
    ds: Iterable,
    horizon: int,
    *,
    start: Any = None,
    end: Any = None,
    every: int = 1,
    min_train: int = 2,
    partial: bool = False,
) -> pd.DatetimeIndex:
    """Forecast cutoffs: periods between ``start`` and ``end``, every ``every``-th one.

    A cutoff is the last period a model sees. Only cutoffs whose whole horizon
    is observed are kept (so every step is scored at every cutoff), unless
    ``partial``; the first cutoff leaves at least ``min_train`` periods to fit on.

    Parameters
    ----------
    ds
        The panel's periods (any order, repeats allowed).
    horizon
        Steps forecast from each cutoff.
    start, end
        First and last cutoff dates (inclusive); default the middle of the
        data and the last period with ``horizon`` observed periods after it.
    every
        Periods between consecutive cutoffs.
    min_train
        Periods the first cutoff must see (an earlier ``start`` moves up to it):
        a model fitted on two weeks says little about the model.
    partial
        Also keep the latest cutoffs whose horizon is only partly observed
        (down to one step): their observed steps are scored, so a backtest
        reaches the most recent data; later steps then rest on fewer origins.

    Examples
    --------
    >>> ds = pd.date_range("2021-01-04", periods=10, freq="W-MON")
    >>> [f"{c:%m-%d}" for c in rolling_origins(ds, 2, start="2021-01-18", every=3)]
    ['01-18', '02-08']
    >>> [f"{c:%m-%d}" for c in rolling_origins(ds, 2, start="2021-01-04", every=5, min_train=4, partial=True)]
    ['01-25', '03-01']
    """
    horizon = steps_ahead(horizon, "horizon")
    whole_number(every, "every (periods)")
    periods = pd.DatetimeIndex(pd.to_datetime(pd.Index(list(ds))).unique()).sort_values()
    if len(periods) < horizon + 2:
        raise InputError(
            f"the panel has {len(periods)} periods; a backtest with horizon {horizon} needs at least "
            f"{horizon + 2} (two to fit on, {horizon} to score)"
        )
    min_train = whole_number(min_train, "min_train (periods)", minimum=2)
    latest = periods[-2] if partial else periods[-1 - horizon]
    first_start = periods[min(min_train, len(periods) - 1) - 1]
    lo = periods[len(periods) // 2] if start is None else date(start, "start")
    hi = latest if end is None else date(end, "end")
    if hi < lo:
        raise ParameterError(f"backtest end {hi:%Y-%m-%d} is before its start {lo:%Y-%m-%d}")
    if hi > latest:
        logger.info("cutoffs after %s are dropped: their %d-step horizon is not observed", f"{latest:%F}", horizon)
    candidates = periods[(periods >= max(lo, first_start)) & (periods <= min(hi, latest))]
    if candidates.empty:
        raise ParameterError(
            f"no forecast origin between {lo:%Y-%m-%d} and {hi:%Y-%m-%d}: cutoffs must lie between "
            f"{first_start:%Y-%m-%d} and {latest:%Y-%m-%d} (the data run {periods[0]:%Y-%m-%d} to "
            f"{periods[-1]:%Y-%m-%d} and the last {horizon} period(s) are needed to score)"
        )
    return candidates[::every]


def _origin_seed(seed: int, cutoff: pd.Timestamp) -> int:
    """Seed for one origin: depends on the seed and the date only, not on where or when it runs."""
    return int(np.random.SeedSequence([int(seed), cutoff.toordinal()]).generate_state(1)[0])


def _resolve_models(models: Any) -> tuple[list[str], list[Any], dict[str, str]]:
    """Aliases, what each task gets (spec text or a model object) and the spec text per alias."""
    if isinstance(models, str):
        models = parse_model_list(models)
    elif isinstance(models, ModelSpec) or hasattr(models, "predict"):
        models = [models]
    # A bare "ensemble" means the other models of the list, as in forecast_panel.
    models = expand_ensembles(models)
    aliases, payloads, specs = [], [], {}
    for model in models:
        if isinstance(model, str | ModelSpec):
            built = make_model(model)  # validates now, so a typo fails before any origin runs
            text = model if isinstance(model, str) else str(model)
            aliases.append(built.alias)
            payloads.append(text)
            specs[built.alias] = text
        elif hasattr(model, "fit") and hasattr(model, "predict"):
            aliases.append(str(getattr(model, "alias", type(model).__name__)))
            payloads.append(model)
        else:
            raise ParameterError(
                f"a backtest model is a spec like 'glm_negbin(season=52)' or an object with fit() and "
                f"predict(); got {model!r}"
            )
    if not aliases:
        raise ParameterError("no models to backtest; pass e.g. models='zero,hist_mean,glm_negbin'")
    clashes = sorted({a for a in aliases if aliases.count(a) > 1})
    if clashes:
        raise ParameterError(f"several models are called {clashes}; give each an alias, e.g. glm_negbin(alias='glm2')")
    return aliases, payloads, specs


def with_baselines(models: Any, baselines: Sequence[str] = ("zero", "hist_mean")) -> list[Any]:
    """``models`` (specs or objects) with any of ``baselines`` not among them put in front.

    Skill is stated against baselines, so a backtest meant for a scorecard
    must run them.

    Examples
    --------
    >>> with_baselines("glm_negbin(ar=2), hist_mean")
    ['zero', 'glm_negbin(ar=2)', 'hist_mean']
    """
    aliases, payloads, _ = _resolve_models(models)
    missing = [b for b in baselines if b not in aliases]
    return missing + payloads


@dataclass
class _OriginOutput:
    scores: pd.DataFrame
    seconds: dict[str, float]
    failures: list[dict[str, Any]]
    forecast: ForecastFrame | None
    cutoff: pd.Timestamp | None = None
    group: int | None = None  # None: the whole panel


def _fit_predict(
    model: Any, train: pd.DataFrame, horizon: int, n_draws: int, seed: int, neighbours: Neighbours | None, freq: str
) -> ForecastFrame:
    if isinstance(model, CountModel):
        model.fit(train, neighbours=neighbours, freq=freq, progress=False)
    else:  # e.g. EndemicEpidemic: its neighbourhood and population are given when it is built
        model.fit(train, freq=freq)
    frame = model.predict(horizon, n_draws=n_draws, seed=seed)
    if not isinstance(frame, ForecastFrame):
        raise ModelError(f"{type(model).__name__}.predict returned {type(frame).__name__}, not a ForecastFrame")
    return frame


def _task_file(out_dir: str, what: str, cutoff: pd.Timestamp, group: int | None) -> Path:
    """Where one task's scores or draws go: ``<out_dir>/<what>/<cutoff>/joint.parquet`` or ``group-NNNN.parquet``."""
    name = "joint.parquet" if group is None else f"group-{group:04d}.parquet"
    return Path(out_dir) / what / f"{cutoff:%Y-%m-%d}" / name


def _run_origin(
    cutoff: pd.Timestamp,
    rows: pd.DataFrame,
    aliases: list[str],
    payloads: list[Any],
    horizon: int,
    n_draws: int,
    seed: int,
    neighbours: Neighbours | None,
    freq: str,
    log_floor: float,
    keep_forecasts: bool,
    group: int | None = None,
    out_dir: str | None = None,
) -> _OriginOutput:
    """Fit ``payloads`` at one cutoff on ``rows`` (the whole panel or one unit group's), forecast and score.

    Runs wherever the executor puts it; ``rows`` are every period of the
    units, so one copy serves all cutoffs (scattered once to a Dask cluster).
    The training data are the periods complete by the cutoff, the targets the
    ``horizon`` periods after it. The seed depends on the run seed and
    the cutoff only and every unit's draws on its name, so a group's scores are
    the whole panel's rows for those units. With ``out_dir`` the scores (and,
    with ``keep_forecasts``, the draws) are written there atomically and the
    draws are not sent back.
    """
    next_periods = pd.date_range(cutoff, periods=horizon + 1, freq=freq)
    rows.attrs = {**rows.attrs, "freq": freq}  # truncate() reads it; a slice or a pickle may have lost it
    # truncate() keeps the periods complete by the as-of date: up to the cutoff's last day.
    train = truncate(rows, next_periods[1] - pd.Timedelta(days=1))
    if train["ds"].max() != cutoff:  # a guard against look-ahead, never expected to fire
        raise ModelError(f"internal error: training data at cutoff {cutoff:%F} end {train['ds'].max():%F}")
    targets = rows.loc[rows["ds"].isin(next_periods[1:]), ["unit_id", "ds", "y"]]
    origin_seed = _origin_seed(seed, cutoff)
    frames, seconds, failures = [], {}, []
    for alias, payload in zip(aliases, payloads, strict=True):
        model = make_model(payload) if isinstance(payload, str) else copy.deepcopy(payload)
        started = time.perf_counter()
        try:
            frame = _fit_predict(model, train, horizon, n_draws, origin_seed, neighbours, freq)
        except ForecastError as exc:  # one model failing at one origin must not sink the backtest
            failures.append({"model": alias, "cutoff": cutoff, "error": f"{type(exc).__name__}: {exc}"})
            continue
        finally:
            seconds[alias] = time.perf_counter() - started
        frame.index["model"] = alias
        frame.index["cutoff"] = cutoff
        frames.append(frame)
    if not frames:
        return _OriginOutput(pd.DataFrame(), seconds, failures, None, cutoff, group)
    forecast = ForecastFrame.concat(frames)
    del frames
    scored = score_forecasts(forecast, targets, seed=origin_seed, log_floor=log_floor)
    if out_dir is not None:
        from forecast.files import atomic_path

        with atomic_path(_task_file(out_dir, "scores", cutoff, group)) as tmp:
            scored.to_parquet(tmp, index=False)
        if keep_forecasts:
            forecast.to_parquet(_task_file(out_dir, "draws", cutoff, group))
        return _OriginOutput(scored, seconds, failures, None, cutoff, group)
    return _OriginOutput(scored, seconds, failures, forecast if keep_forecasts else None, cutoff, group)


def _order_scores(scores: pd.DataFrame, aliases: Sequence[str]) -> pd.DataFrame:
    """The one order of a score table: cutoff, model (as given), unit, step; the key columns first."""
    scores = scores.assign(_model_order=scores["model"].map({a: i for i, a in enumerate(aliases)}))
    scores = scores.sort_values(["cutoff", "_model_order", "unit_id", "step"], kind="stable").drop(columns="_model_order")
    leading = ["unit_id", "cutoff", "ds", "step", "model", "y"]
    return scores[leading + [c for c in scores.columns if c not in leading]].reset_index(drop=True)


def _drop_failed(scores: pd.DataFrame, failures: pd.DataFrame) -> pd.DataFrame:
    """Scores less every model at every cutoff where it failed (in any unit group)."""
    if not len(failures) or not len(scores):
        return scores
    failed = pd.MultiIndex.from_frame(failures[["model", "cutoff"]].astype({"cutoff": "datetime64[ns]"}))
    keys = pd.MultiIndex.from_arrays([scores["model"], pd.to_datetime(scores["cutoff"]).astype("datetime64[ns]")])
    return scores.loc[~keys.isin(failed)]


def read_backtest_scores(out_dir: str | Path) -> pd.DataFrame:
    """The score table of a backtest written to ``out_dir`` (``backtest(..., out_dir=)``), as it returned it.

    Parameters
    ----------
    out_dir
        The folder given to :func:`backtest`.

    Returns
    -------
    pandas.DataFrame
        Equal to :attr:`BacktestResult.scores` of that run: the per-task files
        put together, less the models at the cutoffs where they failed in any
        unit group, in the one order (cutoff, model, unit, step).

    Raises
    ------
    InputError
        ``out_dir`` holds no finished backtest (no ``backtest.json``).
    """
    folder = Path(out_dir)
    manifest = folder / MANIFEST_NAME
    if not manifest.is_file():
        raise InputError(
            f"{folder} holds no finished backtest ({MANIFEST_NAME} is missing); "
            "run backtest(..., out_dir=...) into it, or give the folder of one that finished"
        )
    record = json.loads(manifest.read_text())
    files = sorted((folder / "scores").glob("*/*.parquet"))
    scores = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True) if files else pd.DataFrame()
    failures = pd.DataFrame(record.get("failure_rows", []), columns=["model", "cutoff", "error"])
    failures["cutoff"] = pd.to_datetime(failures["cutoff"])
    scores = _order_scores(_drop_failed(scores, failures), record["models"])
    for column, dtype in record.get("dtypes", {}).items():
        if dtype == "object" and column in scores and scores[column].dtype != object:
            # Parquet gives text columns back as strings; in memory a text column with gaps holds None.
            scores[column] = scores[column].astype(object).where(scores[column].notna(), None)
    return scores


@dataclass
class BacktestResult:
    """The outcome of :func:`backtest`.

    Attributes
    ----------
    scores
        The long table: one row per unit, cutoff, step and model (see the
        module docstring for the columns).
    cutoffs
        The forecast origins (last period seen).
    models
        Model aliases, in the order given.
    specs
        Spec text per alias for models given as specs (what an ensemble of
        them needs).
    failures
        ``model, cutoff, error`` for every model that raised a
        :class:`~forecast.errors.ForecastError` at an origin (its forecasts
        there are missing from ``scores``).
    seconds
        Fit plus predict wall time per model, summed over the origins.
    forecasts
        The predictive draws (index with ``cutoff``), when ``keep_forecasts``.
    settings
        Horizon, draws, seed, frequency, every.
    """

    scores: pd.DataFrame
    cutoffs: pd.DatetimeIndex
    models: list[str]
    specs: dict[str, str] = field(default_factory=dict)
    failures: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["model", "cutoff", "error"]))
    seconds: dict[str, float] = field(default_factory=dict)
    forecasts: ForecastFrame | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    def summary(self, by: str | Sequence[str] = "model") -> pd.DataFrame:
        """Mean scores per model (or other grouping); see :func:`summarise_scores`."""
        return summarise_scores(self.scores, by)

    def by_unit(self) -> pd.DataFrame:
        """Mean scores per model and unit."""
        return summarise_scores(self.scores, ["model", "unit_id"])

    def by_horizon(self) -> pd.DataFrame:
        """Mean scores per model and step ahead."""
        return summarise_scores(self.scores, ["model", "step"])

    def skill(self, baselines: Sequence[str] | None = None, metric: str = "crps", by: str | Sequence[str] = "model") -> pd.DataFrame:
        """Skill against each baseline; see :func:`skill_scores`."""
        return skill_scores(self.scores, baselines, metric=metric, by=by)

    def best_models(self, metric: str = "crps") -> pd.DataFrame:
        """The best model per unit; see :func:`best_models`."""
        return best_models(self.scores, metric)

    def combinable(self) -> list[str]:
        """Models an ensemble can be built from: given as specs, not ``zero`` or an ensemble,
        and scored at every origin (a model that failed somewhere has no comparable score)."""
        failed = set(self.failures["model"]) if len(self.failures) else set()
        scored = set(self.scores["model"])
        return [m for m in self.models if m not in ("zero", "ensemble") and m in self.specs and m in scored and m not in failed]

    def ensemble_weights(self, models: Sequence[str] | None = None, metric: str = "crps", **options: Any) -> dict[str, float]:
        """Weights for an ensemble of ``models``; see :func:`ensemble_weights`."""
        return ensemble_weights(self.scores, metric, models=models, **options)

    def ensemble_spec(self, members: Sequence[str], metric: str = "crps", alias: str = "ensemble", **options: Any) -> str:
        """Model spec of an ensemble of ``members`` weighted by their scores.

        The text can be given to :func:`backtest`, ``forecast_panel`` or the
        command line as is. Members must have been given as specs.

        Examples
        --------
        >>> scores = pd.DataFrame({"unit_id": "A", "cutoff": 0, "ds": 1, "step": 1,
        ...                        "model": ["last", "hist_mean"], "crps": [3.0, 1.0]})
        >>> result = BacktestResult(scores, pd.DatetimeIndex([]), ["last", "hist_mean"],
        ...                         specs={"last": "last", "hist_mean": "hist_mean(window=52)"})
        >>> result.ensemble_spec(["last", "hist_mean"])
        "ensemble(members=['last', 'hist_mean(window=52)'], weights={'last': 0.25, 'hist_mean': 0.75}, alias='ensemble')"
        """
        lacking = [m for m in members if m not in self.specs]
        if lacking:
            raise ParameterError(f"ensemble members {lacking} were not given as model specs; only {list(self.specs)} can be")
        weights = {m: round(w, 4) for m, w in self.ensemble_weights(list(members), metric, **options).items()}
        return str(ModelSpec("ensemble", {"members": [self.specs[m] for m in members], "weights": weights, "alias": alias}))

    def scorecard(self, baselines: Sequence[str] = ("zero", "hist_mean")) -> pd.DataFrame:
        """The headline per model: mean CRPS, log score, MIS90, coverages, CRPS skill vs ``baselines``."""
        table = self.summary()[["crps", "log_score", "mis90", "coverage50", "coverage90", "n"]]
        present = [b for b in baselines if b in self.models]
        if present:
            table = table.join(self.skill(present).rename(columns=lambda c: c.replace("skill_crps_vs_", "skill_vs_")))
        return table

    def scorecard_json(self, baselines: Sequence[str] = ("zero", "hist_mean")) -> dict[str, Any]:
        """The settings, cutoffs and :meth:`scorecard` (plus fit seconds) as JSON-simple values.

        Non-finite numbers (a skill against a baseline that scored 0) become None.
        """
        card = self.scorecard(baselines)
        card["seconds"] = card.index.map(self.seconds)

        def simple(value: Any) -> Any:
            if isinstance(value, int | np.integer):
                return int(value)
            value = float(value)
            return round(value, 6) if np.isfinite(value) else None

        return {
            **self.settings,
            "cutoffs": [f"{c:%Y-%m-%d}" for c in self.cutoffs],
            "failures": int(len(self.failures)),
            "models": {model: {k: simple(v) for k, v in row.items()} for model, row in card.to_dict("index").items()},
        }

    def pit_histogram(self, bins: int = 10) -> pd.DataFrame:
        """Share of PIT values per bin and model (flat at ``1/bins`` when calibrated)."""
        edges = np.linspace(0, 1, bins + 1)
        counts = {
            model: np.histogram(group["pit"].to_numpy(), bins=edges)[0] / max(len(group), 1)
            for model, group in self.scores.groupby("model", sort=False)
        }
        return pd.DataFrame(counts, index=pd.IntervalIndex.from_breaks(edges, name="pit"))

    def to_parquet(self, path: str | Path, *, inputs: Sequence[str | Path] | None = None, **details: Any) -> Path:
        """Write the score table atomically, with a provenance sidecar recording the settings."""
        from forecast.files import write_parquet_with_sidecar

        return write_parquet_with_sidecar(
            self.scores,
            path,
            inputs=list(inputs or []),
            kind="backtest_scores",
            models=self.models,
            specs=self.specs,
            cutoffs=[f"{c:%Y-%m-%d}" for c in self.cutoffs],
            failures=int(len(self.failures)),
            **{**self.settings, **details},
        )


def backtest(
    panel: pd.DataFrame,
    models: Any,
    horizon: int,
    *,
    start: Any = None,
    end: Any = None,
    every: int = 1,
    n_draws: int = DEFAULT_DRAWS,
    seed: int = 0,
    executor: str | concurrent.futures.Executor | None = None,
    workers: int | None = None,
    address: str | None = None,
    unit_groups: int | None = None,
    out_dir: str | Path | None = None,
    progress: bool = True,
    neighbours: Neighbours | None = None,
    freq: str | None = None,
    log_floor: float = LOG_SCORE_FLOOR,
    keep_forecasts: bool = False,
    min_train: int = 2,
    partial: bool = False,
) -> BacktestResult:
    """Rolling-origin backtest (expanding window) of several models, scored.

    Parameters
    ----------
    panel
        Complete long panel ``unit_id, ds, y`` (extra columns are passed to the
        models), at frequency ``W-MON`` or ``MS``.
    models
        Model specs (``"zero,hist_mean,glm_negbin(season=52)"`` or a list),
        :class:`~forecast.models.registry.ModelSpec`\\ s, or model objects with
        ``fit(panel, ...)`` and ``predict(h, n_draws=, seed=)`` returning a
        :class:`ForecastFrame`: registry models, or e.g. the spread model
        :class:`~forecast.models.endemic_epidemic.EndemicEpidemic` built with
        its neighbourhood. Objects are copied per origin, never refitted in place.
    horizon
        Steps ahead forecast from each cutoff.
    start, end, every, min_train, partial
        Cutoffs between ``start`` and ``end``, every ``every`` periods, the
        first seeing at least ``min_train`` periods, the latest (``partial``)
        scored on the steps observed so far (see :func:`rolling_origins`).
    n_draws
        Predictive draws per unit and step.
    seed
        Makes the backtest reproducible: each origin's forecasts and PIT use a
        seed derived from ``seed`` and the cutoff date, whatever runs them.
    executor
        Where the tasks run: ``"inprocess"``, ``"processes"``, ``"dask"``
        (started and shut down here, with ``workers``), or an executor from
        :func:`forecast.parallel.get_executor`, left open. None (default): a
        Dask cluster when ``workers`` or ``address`` is given (as ``forecast
        backtest --workers 2``), else this process.
    workers, address
        Worker processes, or the Dask scheduler, when ``executor`` is a kind
        (see :func:`forecast.parallel.get_executor`).
    unit_groups
        Groups of units each origin's work is cut into (default: chosen from
        the executor's workers with :func:`forecast.parallel.group_count`, a
        few tasks per worker; 1 in this process). Only models whose units are
        fitted on their own (``unit_separable``: the baselines, the GLMs and
        INGARCH without neighbour terms, prophet, ensembles of these) are
        split, each task receiving only its units' rows; models whose units
        see each other (neighbour terms, ``endemic_epidemic``) run whole, one
        task per origin. The scores are the same whatever the split: seeds
        come from the run seed, the cutoff and the unit's name, and a model
        that fails in one group is dropped at that cutoff as on the whole panel.
    out_dir
        An empty (or new) folder: each task writes its scores there as it
        finishes (``scores/<cutoff>/<group>.parquet``, atomically; with
        ``keep_forecasts`` the draws too, under ``draws/``, and they are then
        not kept in memory), then ``backtest.json`` marks the run finished;
        :func:`read_backtest_scores` reads the table back. On a cluster of
        several machines it must be a folder every worker can write.
    progress
        Progress bar over the tasks.
    neighbours
        Adjacency for models with neighbour terms (default: the AFG gazetteer).
    freq
        Panel frequency; read from ``panel.attrs`` or inferred when None.
    log_floor
        Smallest probability the log score gives an outcome.
    keep_forecasts
        Keep every predictive draw in :attr:`BacktestResult.forecasts` (or,
        with ``out_dir``, write them there).

    Returns
    -------
    BacktestResult
        The score table and the summaries built from it.

    Raises
    ------
    InputError
        A malformed panel, or too few periods.
    ParameterError
        Unknown models, bad dates or no cutoff between them.
    """
    horizon, n_draws = steps_ahead(horizon, "horizon"), draw_count(n_draws, "n_draws")
    seed = whole_number(seed, "seed", minimum=0, allow_none=True)
    data = PanelData.from_panel(panel, freq=freq)  # validate up front, before any model runs
    draw_budget(len(data.units), horizon, n_draws, 1)  # one model's draws are held at a time per origin
    freq = frequency(data.freq)
    aliases, payloads, specs = _resolve_models(models)
    cutoffs = rolling_origins(
        data.ds, horizon, start=start, end=end, every=every, min_train=min_train, partial=partial
    )

    panel = panel.assign(unit_id=panel["unit_id"].astype(str), ds=pd.to_datetime(panel["ds"]))
    panel = panel.sort_values(["unit_id", "ds"], kind="stable").reset_index(drop=True)
    panel.attrs = {**panel.attrs, "freq": freq}
    units = list(pd.unique(panel["unit_id"]))
    built = [make_model(p) if isinstance(p, str) else p for p in payloads]
    separable = [bool(getattr(m, "unit_separable", False)) for m in built]
    made = None
    if out_dir is not None:
        out_dir, made = _fresh_folder(out_dir)

    # A kind, or workers/address alone (as --workers/--address): an executor started and shut down here.
    own_executor = isinstance(executor, str) or (executor is None and (workers is not None or bool(address)))
    pool = get_executor(executor, address=address, workers=workers) if own_executor else executor
    try:
        if unit_groups is not None:
            n_groups = min(whole_number(unit_groups, "unit_groups", minimum=1), len(units))
        else:
            n_groups = group_count(len(units), len(cutoffs), executor_workers(pool))
        if not any(separable):
            n_groups = 1
        tasks = _backtest_tasks(
            panel, units, cutoffs, n_groups, separable, aliases, payloads,
            (horizon, n_draws, seed, neighbours, freq, log_floor, keep_forecasts), out_dir, pool,
        )
        outputs = run_tasks(_run_origin, tasks, executor=pool, progress=progress, desc="backtest", unit="task")
    except BaseException:
        if out_dir is not None:  # nothing half-written: the tasks' files go, and the folder if made here
            _remove_outputs(Path(out_dir), made)
        raise
    finally:
        if own_executor:
            pool.shutdown()

    # A model that failed in one unit group fails at that cutoff, as it would have on the whole panel.
    failures = pd.DataFrame([f for o in outputs for f in o.failures], columns=["model", "cutoff", "error"])
    failures = failures.drop_duplicates(["model", "cutoff"]).reset_index(drop=True)
    scored = [o.scores for o in outputs if len(o.scores)]
    scores = _drop_failed(pd.concat(scored, ignore_index=True), failures) if scored else pd.DataFrame()
    if not len(scores):
        if out_dir is not None:
            _remove_outputs(Path(out_dir), made)
        first = next((f for o in outputs for f in o.failures), None)
        raise ModelError(f"every model failed at every origin; the first error: {first['error'] if first else 'none'}")
    scores = _order_scores(scores, aliases)
    for model, rows in failures.groupby("model", sort=False):  # one line per model, not per origin
        logger.warning(
            "%s failed at %d of %d origins (first %s: %s); its scores cover the other origins only",
            model, len(rows), len(cutoffs), f"{rows['cutoff'].min():%F}", rows["error"].iloc[0],
        )
    seconds = {alias: float(sum(o.seconds.get(alias, 0.0) for o in outputs)) for alias in aliases}
    forecasts = None
    if keep_forecasts and out_dir is None:
        forecasts = _ordered_forecasts([o.forecast for o in outputs if o.forecast is not None], aliases, failures)
    settings = {"horizon": horizon, "n_draws": n_draws, "seed": seed, "freq": freq, "every": every}
    result = BacktestResult(
        scores=scores,
        cutoffs=cutoffs,
        models=aliases,
        specs=specs,
        failures=failures,
        seconds=seconds,
        forecasts=forecasts,
        settings=settings,
    )
    if out_dir is not None:
        _write_manifest(out_dir, result, outputs, n_groups)
    return result


#: The file that marks a finished backtest in its ``out_dir``.
MANIFEST_NAME = "backtest.json"


def _fresh_folder(out_dir: str | Path) -> tuple[str, Path | None]:
    """``out_dir`` made, or checked empty (files of an earlier run must not mix into this one's).

    Returns the folder and the outermost folder made here (None if it existed).
    """
    folder = Path(out_dir)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ParameterError(
            f"out_dir {folder} is not an empty folder; give a new one (a backtest's per-task files "
            "must not mix with another run's) or delete it"
        )
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder), (missing[-1] if missing else None)


def _remove_outputs(folder: Path, made: Path | None) -> None:
    """Undo a failed run's writes in ``folder``: its task files, and the folders it made."""
    import shutil

    for what in ("scores", "draws"):
        shutil.rmtree(folder / what, ignore_errors=True)
    if made is not None:
        shutil.rmtree(made, ignore_errors=True)


def _backtest_tasks(
    panel: pd.DataFrame,
    units: list[str],
    cutoffs: pd.DatetimeIndex,
    n_groups: int,
    separable: list[bool],
    aliases: list[str],
    payloads: list[Any],
    settings: tuple[Any, ...],
    out_dir: str | None,
    executor: concurrent.futures.Executor | None,
) -> list[tuple[Any, ...]]:
    """One task per cutoff, or, with ``n_groups > 1``, per cutoff and unit group (plus one for joint models).

    ``panel`` is complete and sorted by unit then period, so a group's rows
    are one slice. Each group's rows (all periods) are shared once with
    :func:`forecast.parallel.share` (scattered to the workers on Dask) and
    every task of the group gets that copy: the panel travels once, not once
    per cutoff.
    """
    horizon, n_draws, seed, neighbours, freq, log_floor, keep_forecasts = settings
    split = n_groups > 1
    joint = [i for i, s in enumerate(separable) if not s or not split]
    apart = [i for i, s in enumerate(separable) if s and split]
    sizes = [len(g) for g in split_evenly(units, n_groups)] if split else []
    per_unit = len(panel) // len(units)
    starts = np.concatenate([[0], np.cumsum(sizes)]) * per_unit
    parts = ([panel] if joint else []) + [panel.iloc[a:b] for a, b in zip(starts[:-1], starts[1:], strict=True)]
    shared = share(executor, parts)
    whole, groups = (shared[0], shared[1:]) if joint else (None, shared)
    common = (horizon, n_draws, seed)
    tasks = []
    for cutoff in cutoffs:
        if joint:
            tasks.append((cutoff, whole, [aliases[i] for i in joint], [payloads[i] for i in joint],
                          *common, neighbours, freq, log_floor, keep_forecasts, None, out_dir))
        for group, rows in enumerate(groups):
            # Separable models read no neighbours; only the group's rows travel.
            tasks.append((cutoff, rows, [aliases[i] for i in apart], [payloads[i] for i in apart],
                          *common, None, freq, log_floor, keep_forecasts, group, out_dir))
    return tasks


def _ordered_forecasts(frames: list[ForecastFrame], aliases: list[str], failures: pd.DataFrame) -> ForecastFrame:
    """The kept draws in the serial run's order (cutoff, model, unit, step), less failed model-cutoffs."""
    forecast = ForecastFrame.concat(frames)
    index = forecast.index
    keep = np.ones(len(index), dtype=bool)
    if len(failures):
        failed = pd.MultiIndex.from_frame(failures[["model", "cutoff"]])
        keep = ~pd.MultiIndex.from_arrays([index["model"], index["cutoff"]]).isin(failed)
    model_order = index["model"].map({a: i for i, a in enumerate(aliases)}).to_numpy()
    # Groups arrive in unit order, so a stable sort on cutoff and model restores the serial order.
    order = np.lexsort((model_order, index["cutoff"].to_numpy()))
    order = order[keep[order]]
    return ForecastFrame(index=index.iloc[order].reset_index(drop=True), draws=forecast.draws[order])


def _write_manifest(out_dir: str, result: BacktestResult, outputs: list[_OriginOutput], n_groups: int) -> None:
    """``backtest.json``: what :func:`read_backtest_scores` needs, written last so it marks a finished run."""
    from forecast.files import write_json_atomic

    rows = result.failures.assign(cutoff=result.failures["cutoff"].map(lambda c: f"{c:%Y-%m-%d}"))
    write_json_atomic(
        Path(out_dir) / MANIFEST_NAME,
        {
            "kind": "backtest",
            "models": result.models,
            "specs": result.specs,
            "cutoffs": [f"{c:%Y-%m-%d}" for c in result.cutoffs],
            "unit_groups": n_groups,
            "tasks": len(outputs),
            "rows": int(len(result.scores)),
            "dtypes": {c: str(t) for c, t in result.scores.dtypes.items()},
            "failure_rows": rows.to_dict("records"),
            "seconds": result.seconds,
            **result.settings,
        },
    )
