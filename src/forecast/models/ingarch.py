"""Count time series per unit: the log-linear INGARCH of R's ``tscount``, with neighbours.

For each unit ``i`` the log conditional mean ``nu_t = log mu_t`` of ``y_t``
given the past is

.. math::

    \\nu_t = \\beta_0 + \\sum_{k \\in P} \\beta_k \\log(1 + y_{t-k})
        + \\sum_{l \\in Q} \\alpha_l \\nu_{t-l} + \\eta' X_t
        + \\gamma \\log\\Big(1 + \\sum_{j \\in N(i)} y_{j,t-1}\\Big)

(``tsglm(link = "log")`` of ``tscount``, plus the neighbour term), and ``y_t``
is negative binomial (NB2, variance ``mu + mu^2 / size``, ``size`` estimated)
or Poisson (``family``). The orders are the lag sets ``P`` (``past_obs``, e.g.
``1`` or ``[1, 52]``) and ``Q`` (``past_mean``). The default, ``P = Q = {1}``
without covariates or neighbours, is the NB INGARCH(1,1).

Covariates ``X_t`` are deterministic only: a trend (per year, ``trend``) and
``harmonics`` Fourier pairs of the season (``season``, default the panel's),
built by :func:`forecast.models.glm.deterministic_design`. They are known for
every forecast period; a panel carries no other columns and ``predict(h)``
takes no future values, so covariates whose future is unknown have no place
here (use the endemic-epidemic model for those). As in the GLMs, the trend is
held at the last fitted period's level when forecasting.

The neighbour term reads the counts of the unit's neighbours in the previous
period; the adjacency comes from ``fit(panel, neighbours={...})``
(``neighbours=True``; see :func:`forecast.models.glm.resolve_neighbours`). A
unit without neighbours, or whose neighbours' sum never varies, is fitted
without it.

Fit: maximum likelihood per unit (scipy's L-BFGS-B), the recursion started
from ``nu_t = log(mean(y))`` for ``t < max(P)``. The stationarity constraint
is ``sum_k |beta_k + alpha_k| + |gamma| <= 0.999`` over the lags ``k`` of
``P`` and ``Q`` (a coefficient absent at a lag counts as 0; the neighbour term
counts in the same log units): the linearised log-mean recursion is then a
contraction, so no path explodes; for ``P = Q = {1}`` it is ``tscount``'s
``|beta_1 + alpha_1| < 1``. In the fitting coordinates it is a box: each
lag's ``beta_k + alpha_k``, then ``gamma``, takes a share ``u / 0.999``
(``|u| <= 0.999``) of the room the earlier ones left. Standard errors come from the
numerical Hessian of the log-likelihood in the natural parameters
(statsmodels' ``approx_hess``; ``size`` by the delta method); a fit at a
bound (non-positive variance) falls back.

Forecasts simulate all units jointly: each path feeds its simulated counts
back into the unit's own lags and, summed over the neighbours of the same
path, into the neighbour term. Step 1 is exactly the negative binomial (or
Poisson) with the fitted conditional mean (``dist_mu`` / ``dist_size``).
Series with fewer than ``min_nonzero`` non-zero periods, too few periods for
the parameters, or whose fit fails use ``hist_mean`` over the last season, as
:mod:`forecast.models.glm` does; their draws still feed their neighbours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize, signal, special
from statsmodels.tools.numdiff import approx_hess

from forecast.checks import boolean, choice, draw_count, steps_ahead, whole_number
from forecast.distributions import draw_counts
from forecast.errors import ParameterError
from forecast.models.base import (
    JointPaths,
    Neighbours,
    SeriesFitError,
    SeriesForecast,
    SeriesModel,
)
from forecast.models.baselines import HistoricalMean
from forecast.models.frame import DEFAULT_DRAWS, ForecastFrame
from forecast.models.glm import deterministic_design, resolve_neighbours
from forecast.panel import PanelData, default_season, periods_per_year

__all__ = ["IngarchFit", "IngarchTerms", "NegBinIngarch", "fit_ingarch", "ingarch_log_mean", "ingarch_loglik"]

#: Largest persistence ``|sum beta + sum alpha| + |gamma|`` the fit may reach (stationarity of the log mean).
MAX_PERSISTENCE = 0.999

FAMILIES = ("negbin", "poisson")


def lag_set(value: Any, name: str) -> tuple[int, ...]:
    """Lags as a sorted tuple: an int ``k`` is ``(k,)``, None or ``[]`` no lags (``tscount``'s convention).

    Examples
    --------
    >>> lag_set([52, 1], "past_obs"), lag_set(None, "past_mean")
    ((1, 52), ())
    """
    items = [] if value is None else [value] if isinstance(value, int | np.integer) and not isinstance(value, bool) else value
    if not isinstance(items, list | tuple) or any(isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1 for k in items):
        raise ParameterError(f"ingarch: option {name}={value!r} must be a lag >= 1 or a list of lags, e.g. {name}=[1, 52]")
    if len(set(items)) != len(items):
        raise ParameterError(f"ingarch: option {name}={value!r} repeats a lag; give each lag once")
    return tuple(sorted(int(k) for k in items))


@dataclass(frozen=True)
class IngarchTerms:
    """The terms of one unit's model: lag sets, number of covariates, neighbour term, family.

    The natural parameter vector is ``(beta0, beta_k for k in past_obs,
    alpha_l for l in past_mean, eta (n_covariates), gamma if neighbour,
    log size if negbin)``.
    """

    past_obs: tuple[int, ...] = (1,)
    past_mean: tuple[int, ...] = (1,)
    n_covariates: int = 0
    neighbour: bool = False
    family: str = "negbin"

    @property
    def start(self) -> int:
        """First period with a modelled count: all lags (and the neighbours' last counts) exist."""
        return max((*self.past_obs, 1))

    @property
    def n_params(self) -> int:
        """Length of the natural parameter vector."""
        return 1 + len(self.past_obs) + len(self.past_mean) + self.n_covariates + int(self.neighbour) + int(self.family == "negbin")

    def names(self, covariates: Sequence[str] = ()) -> list[str]:
        """Parameter names, ``size`` last for the negative binomial."""
        names = ["intercept", *(f"past_obs_{k}" for k in self.past_obs), *(f"past_mean_{m}" for m in self.past_mean)]
        names += list(covariates) or [f"x{c}" for c in range(self.n_covariates)]
        return names + ["neighbours"] * self.neighbour + ["size"] * (self.family == "negbin")

    def persistence(self, theta: np.ndarray) -> float:
        """``sum_k |beta_k + alpha_k| + |gamma|`` over the lags (the fit keeps it <= :data:`MAX_PERSISTENCE`)."""
        _, beta, alpha, _, gamma, _ = self.split(theta)
        combined = dict.fromkeys((*self.past_obs, *self.past_mean), 0.0)
        for k, b in zip(self.past_obs, beta, strict=True):
            combined[k] += b
        for k, a in zip(self.past_mean, alpha, strict=True):
            combined[k] += a
        return float(sum(abs(c) for c in combined.values()) + abs(gamma))

    def split(self, theta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, float, float | None]:
        """``(beta0, beta, alpha, eta, gamma, size)`` from natural parameters (size None: Poisson)."""
        theta = np.asarray(theta, dtype=float)
        p, q, r = len(self.past_obs), len(self.past_mean), self.n_covariates
        beta, alpha, eta = theta[1 : 1 + p], theta[1 + p : 1 + p + q], theta[1 + p + q : 1 + p + q + r]
        at = 1 + p + q + r
        gamma = float(theta[at]) if self.neighbour else 0.0
        size = float(np.exp(theta[at + int(self.neighbour)])) if self.family == "negbin" else None
        return float(theta[0]), beta, alpha, eta, gamma, size


DEFAULT_TERMS = IngarchTerms()


def ingarch_log_mean(
    theta: np.ndarray,
    y: np.ndarray,
    terms: IngarchTerms = DEFAULT_TERMS,
    covariates: np.ndarray | None = None,
    neighbour_sum: np.ndarray | None = None,
) -> np.ndarray:
    """Log conditional means ``nu_0..nu_n`` (length ``len(y) + 1``: the last is the next period's).

    ``theta`` holds the natural parameters of ``terms`` (a trailing ``log size``
    is ignored); ``nu_t = log(mean(y))`` for ``t < terms.start``.
    ``covariates`` has one row per period ``0..n`` (the last the next period's),
    ``neighbour_sum`` the neighbours' summed counts in periods ``0..n-1``.
    """
    y = np.asarray(y, dtype=float)
    n, m = len(y), terms.start
    beta0, beta, alpha, eta, gamma, _ = terms.split(theta)
    nu0 = np.log(max(float(np.mean(y)), 1e-3))
    t = np.arange(m, n + 1)
    drive = np.full(len(t), beta0)
    for k, b in zip(terms.past_obs, beta, strict=True):
        drive = drive + b * np.log1p(y[t - k])
    if terms.n_covariates:
        drive = drive + np.asarray(covariates, dtype=float)[t] @ eta
    if terms.neighbour:
        drive = drive + gamma * np.log1p(np.asarray(neighbour_sum, dtype=float)[t - 1])
    if terms.past_mean:
        # nu_t = drive_t + sum_l alpha_l nu_{t-l}: a linear filter, started at nu0.
        poly = np.zeros(max(terms.past_mean) + 1)
        poly[0] = 1.0
        poly[list(terms.past_mean)] = -alpha
        zi = signal.lfiltic([1.0], poly, np.full(len(poly) - 1, nu0))
        nu, _ = signal.lfilter([1.0], poly, drive, zi=zi)
    else:
        nu = drive
    return np.concatenate([np.full(m, nu0), nu])


def ingarch_loglik(
    theta: np.ndarray,
    y: np.ndarray,
    terms: IngarchTerms = DEFAULT_TERMS,
    covariates: np.ndarray | None = None,
    neighbour_sum: np.ndarray | None = None,
) -> float:
    """Conditional log-likelihood of ``y_m..y_{n-1}`` (``m = terms.start``) at natural parameters ``theta``."""
    nu = ingarch_log_mean(theta, y, terms, covariates, neighbour_sum)[terms.start : -1]
    obs = np.asarray(y, dtype=float)[terms.start :]
    mu = np.exp(np.clip(nu, -30, 30))
    _, _, _, _, _, size = terms.split(theta)
    if size is None:
        ll = obs * np.log(mu) - mu - special.gammaln(obs + 1)
    else:
        ll = (
            special.gammaln(obs + size) - special.gammaln(size) - special.gammaln(obs + 1)
            + size * np.log(size / (size + mu)) + obs * np.log(mu / (size + mu))
        )
    return float(ll.sum())


@dataclass(frozen=True)
class IngarchFit:
    """One unit's fit.

    ``params`` are the natural parameters of ``terms`` with ``size`` (not its
    log) last for the negative binomial, e.g. ``(beta0, beta1, alpha1, size)``
    for the default; ``se`` their standard errors; ``log_mu`` the log
    conditional means ``nu_0..nu_n`` (the last is the next period's).
    """

    params: np.ndarray
    se: np.ndarray
    log_mu_next: float
    y_last: float
    terms: IngarchTerms = DEFAULT_TERMS
    names: tuple[str, ...] = ()
    loglik: float = np.nan
    log_mu: np.ndarray | None = None

    @property
    def theta(self) -> np.ndarray:
        """Natural parameters with ``log size`` in place of ``size``."""
        theta = np.array(self.params, dtype=float)
        if self.terms.family == "negbin":
            theta[-1] = np.log(theta[-1])
        return theta


def fit_ingarch(
    y: np.ndarray,
    *,
    past_obs: int | Sequence[int] | None = 1,
    past_mean: int | Sequence[int] | None = 1,
    covariates: np.ndarray | None = None,
    covariate_names: Sequence[str] = (),
    neighbour_sum: np.ndarray | None = None,
    family: str = "negbin",
) -> IngarchFit:
    """Maximum-likelihood fit of the log-linear INGARCH to one series.

    Parameters
    ----------
    y
        The unit's counts, periods ``0..n-1``.
    past_obs, past_mean
        Lags of ``log(1 + y)`` and of the log mean (``tscount``'s ``past_obs``
        and ``past_mean``). ``past_mean`` needs ``past_obs``: without them the
        mean recursion sees no data and ``alpha`` is not identified.
    covariates
        Deterministic covariates, one row per period ``0..n`` (the last is the
        next period's), one column per term; None: none.
    covariate_names
        Their names in :attr:`IngarchFit.names`.
    neighbour_sum
        The neighbours' summed counts per period ``0..n-1``; None: no neighbour term.
    family
        ``"negbin"`` (NB2) or ``"poisson"``.

    Raises
    ------
    ParameterError
        Bad lags or family.
    SeriesFitError
        The fit fails or is not identified (the model then uses its fallback).
    """
    y = np.asarray(y, dtype=float)
    p_lags, q_lags = lag_set(past_obs, "past_obs"), lag_set(past_mean, "past_mean")
    if q_lags and not p_lags:
        raise ParameterError("ingarch: past_mean needs past_obs (the mean recursion must see the counts), e.g. past_obs=[1]")
    choice(family, "ingarch: option family", FAMILIES)
    X = None if covariates is None else np.atleast_2d(np.asarray(covariates, dtype=float).T).T
    if X is not None and X.shape[0] != len(y) + 1:
        raise ParameterError(f"ingarch: covariates need {len(y) + 1} rows (periods 0..n), got {X.shape[0]}")
    terms = IngarchTerms(p_lags, q_lags, 0 if X is None else X.shape[1], neighbour_sum is not None, family)
    r = terms.n_covariates
    m = max(float(y.mean()), 1e-3)

    # Fitting coordinates z: (beta0, u_k per lag k of past_obs or past_mean, beta_k for lags in both,
    # eta, u_gamma, log size), every u in [-MAX, MAX]. The lags' combined coefficients c_k = beta_k + alpha_k
    # and gamma take, in turn, u / MAX times the room the earlier ones left: sum |c_k| + |gamma| <= MAX
    # (for the default, z is (beta0, beta1 + alpha1, beta1, log size)).
    lags = sorted(set(p_lags) | set(q_lags))
    both = [k for k in lags if k in p_lags and k in q_lags]
    n_lag, n_both = len(lags), len(both)

    def natural(z: np.ndarray) -> np.ndarray:
        room, combined = MAX_PERSISTENCE, {}
        for j, k in enumerate(lags):
            combined[k] = z[1 + j] * room / MAX_PERSISTENCE
            room -= abs(combined[k])
        split = dict(zip(both, z[1 + n_lag : 1 + n_lag + n_both], strict=True))
        beta = [split.get(k, combined[k]) for k in p_lags]
        alpha = [combined[k] - split.get(k, 0.0) for k in q_lags]
        at = 1 + n_lag + n_both + r
        gamma = [z[at] * room / MAX_PERSISTENCE] if terms.neighbour else []
        return np.concatenate([[z[0]], beta, alpha, z[at - r : at], gamma, z[at + int(terms.neighbour) :]])

    def objective(z: np.ndarray) -> float:
        value = -ingarch_loglik(natural(z), y, terms, X, neighbour_sum)
        return value if np.isfinite(value) else 1e300

    # Start: persistence 0.5 on the first lag (0.3 of it on the counts), nothing on the others.
    start = [0.5 * np.log(m)] + [0.5] + [0.0] * (n_lag - 1) if lags else [0.5 * np.log(m)]
    start += [0.3 if k == lags[0] else 0.0 for k in both] + [0.0] * r
    unit = (-MAX_PERSISTENCE, MAX_PERSISTENCE)
    bounds = [(-20, 20)] + [unit] * n_lag + [(-5, 5)] * n_both + [(-20, 20)] * r
    if terms.neighbour:
        start.append(0.2)
        bounds.append(unit)
    if family == "negbin":
        start.append(0.0)
        bounds.append((-7, 10))
    result = optimize.minimize(objective, np.array(start), method="L-BFGS-B", bounds=bounds)
    if not result.success or not np.isfinite(result.fun) or result.fun >= 1e300:
        raise SeriesFitError(f"ingarch fit did not converge: {result.message}")
    theta = natural(result.x)
    hess = approx_hess(theta, lambda t: -ingarch_loglik(t, y, terms, X, neighbour_sum))
    try:
        cov = np.linalg.inv(hess)
    except np.linalg.LinAlgError as exc:
        raise SeriesFitError("ingarch fit not identified: singular Hessian") from exc
    var = np.diag(cov)
    if not np.all(np.isfinite(var)) or np.any(var <= 0):
        raise SeriesFitError("ingarch fit not identified: non-positive variance")
    se = np.sqrt(var)
    params, se_natural = theta.copy(), se.copy()
    if family == "negbin":
        params[-1] = np.exp(theta[-1])
        se_natural[-1] = params[-1] * se[-1]  # delta method for size
    log_mu = ingarch_log_mean(theta, y, terms, X, neighbour_sum)
    return IngarchFit(
        params, se_natural, float(log_mu[-1]), float(y[-1]), terms,
        tuple(terms.names(covariate_names)), -float(result.fun), log_mu,
    )


@dataclass
class NegBinIngarch(SeriesModel):
    """Log-linear INGARCH per unit (``tscount``-style) with deterministic covariates and neighbours.

    Parameters
    ----------
    past_obs
        Lags of ``log(1 + y)``: an int (one lag), a list (``[1, 52]``) or None.
    past_mean
        Lags of the log mean, likewise (needs ``past_obs``).
    neighbours
        Add ``gamma log(1 + sum of the neighbours' counts last period)``; the
        adjacency comes from ``fit(panel, neighbours={...})`` (required then).
    trend
        A trend per year (held at the last fitted level when forecasting).
    harmonics
        Fourier pairs of the season (0: none).
    season
        Season in periods for ``harmonics`` (None: the panel's, 52 weekly, 12 monthly).
    family
        ``"negbin"`` (NB2) or ``"poisson"``.
    min_nonzero
        Fewer non-zero periods than this: the unit uses ``hist_mean``.

    Examples
    --------
    >>> NegBinIngarch(past_obs=[1, 52], neighbours=True).spec()
    'ingarch(past_obs=[1, 52], neighbours=True)'
    """

    past_obs: int | list[int] | None = 1
    past_mean: int | list[int] | None = 1
    neighbours: bool = False
    trend: bool = False
    harmonics: int = 0
    season: int | None = None
    family: str = "negbin"
    min_nonzero: int = 10
    alias: str = "ingarch"

    def __post_init__(self) -> None:
        self.obs_lags_ = lag_set(self.past_obs, "past_obs")
        self.mean_lags_ = lag_set(self.past_mean, "past_mean")
        if self.mean_lags_ and not self.obs_lags_:
            raise ParameterError(
                f"ingarch: past_mean={self.past_mean!r} needs past_obs (the mean recursion must see the counts), "
                "e.g. past_obs=[1]"
            )
        for option in ("neighbours", "trend"):
            boolean(getattr(self, option), f"ingarch: option {option}")
        whole_number(self.harmonics, "ingarch: option harmonics", minimum=0)
        whole_number(self.season, "ingarch: option season", minimum=2, allow_none=True)
        choice(self.family, "ingarch: option family", FAMILIES)
        whole_number(self.min_nonzero, "ingarch: option min_nonzero", minimum=1)

    @property
    def unit_separable(self) -> bool:
        """Without the neighbour term each unit is fitted and simulated on its own; with it, jointly."""
        return not self.neighbours

    def _fallback_model(self, data: PanelData) -> SeriesModel:
        return HistoricalMean(window=default_season(data.freq) or 52)

    def _n_params(self) -> int:
        n_cov = int(self.trend) + 2 * self.harmonics
        return IngarchTerms(self.obs_lags_, self.mean_lags_, n_cov, self.neighbours, self.family).n_params

    def _prepare(self, data: PanelData, neighbours: Neighbours | None) -> None:
        n = len(data.ds)
        season = default_season(data.freq) if self.season is None else self.season
        if self.harmonics and (not season or 2 * self.harmonics >= season):
            raise ParameterError(
                f"{self.alias}: harmonics={self.harmonics} needs a season > {2 * self.harmonics} periods "
                f"(season is {season}); set season= or use fewer harmonics"
            )
        self.season_ = float(season or 0)
        self.per_year_ = periods_per_year(data.freq)
        self.design_: np.ndarray | None = None
        self.covariate_names_: list[str] = []
        if self.trend or self.harmonics:
            # Periods 0..n (n: the next period); the trend of period n is held at n - 1.
            design, names = self._design(np.arange(n + 1.0), trend_from=n - 1)
            self.design_, self.covariate_names_ = design, names
        self.neighbour_rows_: list[np.ndarray] = []
        if self.neighbours:
            adjacency = resolve_neighbours(data.units, neighbours)
            self.neighbour_rows_ = [np.array([data.units.index(v) for v in adjacency[u]], dtype=int) for u in data.units]
        self.data_ = data  # the neighbour term reads other units' counts while fitting

    def _design(self, t: np.ndarray, trend_from: int) -> tuple[np.ndarray, list[str]]:
        """Covariate columns (no intercept) for periods ``t``, the trend held from period ``trend_from`` on."""
        design, names = deterministic_design(
            t, trend=self.trend, per_year=self.per_year_, harmonics=self.harmonics, season=self.season_
        )
        if self.trend:
            design[:, 1] = np.minimum(t, trend_from) / self.per_year_
        return design[:, 1:], names[1:]

    def _unsuitable(self, y: np.ndarray) -> str | None:
        nonzero = int(np.count_nonzero(y))
        if nonzero < self.min_nonzero:
            return f"{nonzero} non-zero periods, fewer than min_nonzero={self.min_nonzero}"
        start, n_params = max((*self.obs_lags_, 1)), self._n_params()
        if len(y) - start < 2 * n_params:
            return f"{len(y) - start} modelled periods for {n_params} parameters (needs {2 * n_params})"
        return None

    def _neighbour_sum(self, row: int) -> np.ndarray | None:
        """Neighbours' summed counts per period, or None when the unit gets no neighbour term."""
        if not self.neighbours or not len(self.neighbour_rows_[row]):
            return None
        total = self.data_.y[self.neighbour_rows_[row]].sum(axis=0).astype(float)
        return total if np.ptp(total[: len(total) - 1]) > 0 else None

    def _fit_series(self, y: np.ndarray, unit: int) -> IngarchFit:
        return fit_ingarch(
            y,
            past_obs=self.obs_lags_,
            past_mean=self.mean_lags_,
            covariates=self.design_,
            covariate_names=self.covariate_names_,
            neighbour_sum=self._neighbour_sum(unit),
            family=self.family,
        )

    def predict(self, h: int, *, n_draws: int = DEFAULT_DRAWS, seed: int = 0) -> ForecastFrame:
        """Simulate ``n_draws`` paths ``h`` steps ahead for all units jointly (neighbours within each path)."""
        self._check_fitted()
        h, n_draws = steps_ahead(h, "horizon"), draw_count(n_draws, "n_draws")
        data = self.data_
        n_obs = data.y.shape[1]
        joint = JointPaths(self, h, n_draws, seed)  # fallback units drawn first: their paths feed their neighbours
        rngs, paths, forecasts, counts_at = joint.rngs, joint.paths, joint.forecasts, joint.counts_at
        fitted: dict[int, IngarchFit] = joint.fitted
        future = None
        if self.design_ is not None:
            future, _ = self._design(np.arange(n_obs, n_obs + h, dtype=float), trend_from=n_obs - 1)
        nus = {row: np.empty((h, n_draws)) for row in fitted}

        for step in range(h):
            t = n_obs + step
            for row, state in fitted.items():
                terms = state.terms
                beta0, beta, alpha, eta, gamma, size = terms.split(state.theta)
                if step == 0:
                    nu = np.full(n_draws, state.log_mu_next)
                else:
                    nu = np.full(n_draws, beta0)
                    for k, b in zip(terms.past_obs, beta, strict=True):
                        nu = nu + b * np.log1p(counts_at(row, t - k))
                    for lag, a in zip(terms.past_mean, alpha, strict=True):
                        nu = nu + a * (nus[row][step - lag] if step - lag >= 0 else state.log_mu[t - lag])
                    if terms.n_covariates:
                        nu = nu + float(future[step] @ eta)
                    if terms.neighbour:
                        total = sum(counts_at(j, t - 1) for j in self.neighbour_rows_[row])
                        nu = nu + gamma * np.log1p(total)
                nus[row][step] = nu
                paths[row, step] = draw_counts(np.exp(np.clip(nu, -30, 30)), size, rngs[row])
        for row, state in fitted.items():
            size = state.theta[-1] if state.terms.family == "negbin" else None
            mu = np.full(h, np.nan)
            mu[0] = np.exp(state.log_mu_next)
            sizes = None if size is None else np.full(h, np.exp(size))
            forecasts[data.units[row]] = SeriesForecast(paths[row], state.terms.family, mu, sizes)
        return self._assemble(forecasts, h)

    def _forecast_series(self, state: IngarchFit, h: int, n_draws: int, rng: np.random.Generator) -> SeriesForecast:
        raise NotImplementedError("NegBinIngarch forecasts all units jointly in predict()")  # pragma: no cover
