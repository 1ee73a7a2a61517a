"""Poisson and negative-binomial GLMs per unit (statsmodels), with trend, seasonality and lags.

For each unit the log of the expected count at period ``t`` is

.. math::

    \\log \\mu_t = \\beta_0 + \\beta_{trend} \\frac{t}{P}
        + \\sum_{k=1}^{K} \\left[ a_k \\sin \\frac{2 \\pi k t}{S} + b_k \\cos \\frac{2 \\pi k t}{S} \\right]
        + \\sum_{l=1}^{p} \\phi_l \\log(1 + y_{t-l})
        + \\gamma \\log(1 + \\bar y^{nb}_{t-1})

with ``t`` counted from the first period of the fitted panel, ``P`` the
periods per year (52 weekly, 12 monthly: the trend is per year), ``S`` the
season (``season``), ``K`` the number of harmonics, ``p`` the autoregressive
order (``ar``; an INGARCH-like feedback of the unit's own recent counts) and
``\\bar y^{nb}`` the mean count of the unit's neighbours (``neighbours=True``).
``glm_poisson`` fits it by IRLS; ``glm_negbin`` by maximum likelihood (NB2,
variance ``mu + alpha mu^2``, ``alpha`` estimated) started from the Poisson fit.

Forecasting
-----------
The trend is fitted but **held at the level it reached in the last fitted
period**: forecasts do not extrapolate it. A log-linear trend fitted to a few
events extrapolates exponentially (and its estimation error grows with the
distance from the data), which is what made sparse provinces "forecast" dozens
of attacks a week; over a horizon of weeks a held level loses little for series
that do carry a trend.

Forecasts beyond one step feed the simulated counts back into the lags (and
neighbours' simulated counts into the neighbour term, jointly across units),
so uncertainty propagates along each path. The lag and neighbour terms are
kept within the range they took in the fitted periods: on sparse series the
``log(1 + y)`` feedback is often estimated above 1 (a few events cluster in
consecutive weeks), and a path that wandered beyond the counts ever observed
would then feed on itself. Each draw also uses its own coefficient vector
drawn from the estimates' normal approximation (``parameter_draws=True``, the
default), so predictive intervals include estimation error. Each simulated
mean is capped at ``10 x max(y) + 10``, a guard against numerical overflow
only: the checks below keep out the fits for which it would bind.

The exact-distribution columns (``family, dist_mu, dist_size``) describe the
same distribution as the draws or are left empty: they are filled only with
``parameter_draws=False``, at step 1 (every step for a model without lags or
neighbours), where the draws come from exactly that Poisson / negative
binomial. With parameter draws the predictive distribution is a mixture over
the coefficients, which is not a Poisson or negative binomial, so means,
quantiles and scores come from the draws.

When a series cannot carry the model
------------------------------------
A GLM with several coefficients fitted to a handful of events is not
identified: the likelihood is maximised at the boundary (e.g. the rate in the
quiet season goes to 0), the standard errors are huge, and draws from such a
fit are absurd. Such series use ``hist_mean`` over the last season (52 weeks
or 12 months: recent enough that a province where activity has just begun is
not forecast from years of quiet) instead, and the ``fallback`` column says
why, when

* the series is all zeros, or has fewer than ``min_nonzero`` (10) non-zero
  periods, or fewer than ``events_per_coef`` (3) events per coefficient, or
  fewer than two periods per coefficient;
* the fit fails or does not converge;
* the fit is not identified: a non-finite covariance, fitted means spanning
  more than a factor ``e^15`` (coefficients at the boundary: quasi-separation),
  or a fitted log mean whose standard error exceeds ``max_log_se`` (1.0, i.e. a
  95 % interval for the mean wider than a factor of about 50) in some fitted
  period.

On the embedded synthetic default this leaves the GLMs to the provinces with
enough events (the stronghold, its neighbours, Kabul); the others, like Ghor
with 18 events in eight years, get ``hist_mean``, where the unchecked GLM had
"forecast" up to 40 attacks a week.

A negative binomial is fitted only when the counts show over-dispersion: a
score test on the Poisson fit (one-sided, 5 %) and then the likelihood ratio
against it (boundary-corrected, 5 %). Otherwise the unit is fitted as Poisson
on purpose and the ``fallback`` column says "no over-dispersion: fitted as
Poisson". A negative binomial that fails despite over-dispersion also uses the
Poisson fit of the same terms, with the reason recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from statsmodels.discrete.discrete_model import NegativeBinomial
from statsmodels.tools.sm_exceptions import PerfectSeparationError

from forecast.checks import boolean, draw_count, number, steps_ahead, whole_number
from forecast.distributions import draw_counts
from forecast.errors import ParameterError
from forecast.models.base import (
    JointPaths,
    Neighbours,
    SeriesFitError,
    SeriesForecast,
    SeriesModel,
    _Fallback,
)
from forecast.models.baselines import HistoricalMean
from forecast.models.frame import DEFAULT_DRAWS, ForecastFrame
from forecast.panel import PanelData, default_season, periods_per_year

__all__ = ["CountGLM", "NegBinGLM", "PoissonGLM", "deterministic_design", "overdispersion_score", "resolve_neighbours"]

#: Largest spread of a fit's log means over the fitted periods (a factor of
#: e^15, about 3 million): beyond it coefficients sit at the boundary of the
#: parameter space (quasi-separation), as when every event of a sparse series
#: falls in one season and the rate elsewhere is estimated as zero.
MAX_LOG_MEAN_RANGE = 15.0

#: Note of a ``glm_negbin`` unit whose counts show no over-dispersion.
NO_OVERDISPERSION = "no over-dispersion: fitted as Poisson"
#: One-sided 5 % critical value of the over-dispersion score test (standard normal).
OVERDISPERSION_Z = float(stats.norm.ppf(0.95))
#: 5 % critical value of the likelihood ratio for alpha = 0, a boundary point:
#: the null distribution is the 50:50 mixture of chi2(0) and chi2(1), whose
#: 95 % quantile is chi2(1)'s 90 % quantile.
OVERDISPERSION_LR = float(stats.chi2.ppf(0.90, df=1))


def overdispersion_score(y: np.ndarray, mu: np.ndarray) -> float:
    """Score statistic for negative-binomial (NB2) over-dispersion against a Poisson fit.

    ``z = sum((y - mu)^2 - y) / sqrt(2 sum mu^2)`` is asymptotically standard
    normal when the counts are Poisson with means ``mu`` (Dean & Lawless 1989;
    Cameron & Trivedi 1990); large positive values mean variance above the mean.
    It needs only the Poisson fit, so the decision does not depend on how a
    negative-binomial optimiser behaves at the boundary.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([0, 1, 0, 9, 0, 0, 12, 1, 0, 7])
    >>> round(overdispersion_score(y, np.full(10, y.mean())), 2)
    11.63
    >>> overdispersion_score(np.array([3, 4, 5, 4, 4]), np.full(5, 4.0)) < 0
    True
    """
    y = np.asarray(y, dtype=float)
    mu = np.asarray(mu, dtype=float)
    denominator = np.sqrt(2.0 * np.sum(mu**2))
    return float(np.sum((y - mu) ** 2 - y) / denominator) if denominator > 0 else 0.0


def resolve_neighbours(units: Sequence[str], neighbours: Neighbours | None) -> dict[str, list[str]]:
    """Adjacency restricted to ``units`` (self-loops and units outside the panel dropped).

    The library assumes no country: a model with a neighbour term needs the
    adjacency given (``Dataset.neighbours`` for a loaded dataset).

    Raises
    ------
    ParameterError
        No adjacency given.

    Examples
    --------
    >>> resolve_neighbours(["A", "B"], {"A": ["B", "C"], "B": ["A", "B"]})
    {'A': ['B'], 'B': ['A']}
    """
    if neighbours is None:
        raise ParameterError(
            "a model with a neighbour term needs the units' adjacency; pass neighbours={unit_id: [neighbour ids]} "
            "to fit() or forecast_panel(), e.g. neighbours=data.neighbours for a loaded dataset"
        )
    known = set(units)
    return {unit: [n for n in neighbours.get(unit, ()) if n in known and n != unit] for unit in units}


def deterministic_design(
    t: np.ndarray,
    *,
    trend: bool,
    per_year: float,
    harmonics: int,
    season: float,
    trend_at: float | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Intercept, trend (per year) and Fourier columns for period indices ``t``, with their names.

    The one home of the deterministic terms of the per-unit count models
    (:class:`CountGLM`, :class:`~forecast.models.ingarch.NegBinIngarch`).
    ``trend_at``: hold the trend column at this period index (the forecast
    origin) instead of following ``t``.

    Examples
    --------
    >>> X, names = deterministic_design(np.arange(3.0), trend=True, per_year=52, harmonics=1, season=4)
    >>> names, X.shape
    (['intercept', 'trend', 'sin1', 'cos1'], (3, 4))
    """
    t = np.asarray(t, dtype=float)
    columns, names = [np.ones(len(t))], ["intercept"]
    if trend:
        columns.append((t if trend_at is None else np.full(len(t), float(trend_at))) / per_year)
        names.append("trend")
    for k in range(1, harmonics + 1):
        angle = 2 * np.pi * k * t / season
        columns += [np.sin(angle), np.cos(angle)]
        names += [f"sin{k}", f"cos{k}"]
    return np.column_stack(columns), names


@dataclass
class _GLMState:
    """One unit's fitted GLM."""

    terms: list[str]  # names of the kept columns
    keep: np.ndarray  # mask over the full design's columns
    beta: np.ndarray
    cov: np.ndarray
    size: float | None  # NB size 1/alpha; None for Poisson
    alpha_se: float
    cap: float  # largest mean a simulation may reach (guards log-link explosions)
    lag_range: tuple[np.ndarray, np.ndarray]  # fitted range of the kept lag / neighbour columns
    note: str | None = None  # a simpler fit used for this unit, and why (the ``fallback`` column)


@dataclass
class CountGLM(SeriesModel):
    """Count GLM per unit; use :class:`PoissonGLM` or :class:`NegBinGLM`.

    Parameters
    ----------
    trend
        Include a linear trend (per year) in the log mean.
    season
        Periods per seasonal cycle; None: from the frequency (52 weekly,
        12 monthly); 0: no seasonality.
    harmonics
        Number of Fourier sine/cosine pairs for the season.
    ar
        Number of lags of ``log(1 + y)`` (0: none).
    neighbours
        Include ``log(1 + mean neighbour count)`` at lag 1. The adjacency comes
        from ``fit(panel, neighbours={...})`` (required then).
    min_nonzero
        Series with fewer non-zero periods use the fallback baseline.
    events_per_coef
        Series with fewer events (the sum of the counts) than this many per
        coefficient use the fallback baseline (0: no such check).
    max_log_se
        Largest standard error of a fitted log mean (in any fitted period) a
        fit may have; above it the coefficients are not identified by the data
        and the series uses the fallback baseline.
    parameter_draws
        Draw a coefficient vector per predictive draw (estimation uncertainty).
        The forecast then has draws only (no exact ``dist_*`` columns): see
        the module docstring.
    alias
        Name in the output's ``model`` column.
    """

    trend: bool = True
    season: int | None = None
    harmonics: int = 2
    ar: int = 1
    neighbours: bool = False
    min_nonzero: int = 10
    events_per_coef: float = 3.0
    max_log_se: float = 1.0
    parameter_draws: bool = True
    alias: str = "glm"

    family: ClassVar[str] = "poisson"

    def __post_init__(self) -> None:
        name = type(self).__name__
        whole_number(self.season, f"{name}: option season", minimum=0, allow_none=True)
        whole_number(self.harmonics, f"{name}: option harmonics", minimum=0)
        whole_number(self.ar, f"{name}: option ar", minimum=0)
        whole_number(self.min_nonzero, f"{name}: option min_nonzero", minimum=1)
        number(self.events_per_coef, f"{name}: option events_per_coef", minimum=0)
        number(self.max_log_se, f"{name}: option max_log_se", minimum=0, strict=True)
        for option in ("trend", "neighbours", "parameter_draws"):
            boolean(getattr(self, option), f"{self.alias}: option {option}")

    # ------------------------------------------------------------- design
    @property
    def unit_separable(self) -> bool:
        """Without the neighbour term each unit is fitted and simulated on its own; with it, jointly."""
        return not self.neighbours

    def _fallback_model(self, data: PanelData) -> SeriesModel:
        # The last season, not all history: a province where activity has just
        # begun must not be forecast from years of quiet.
        return HistoricalMean(window=default_season(data.freq) or 52)

    def _prepare(self, data: PanelData, neighbours: Neighbours | None) -> None:
        season = default_season(data.freq) if self.season is None else self.season
        self.season_ = season or 0
        self.harmonics_ = self.harmonics if self.season_ else 0
        if self.harmonics_ and 2 * self.harmonics_ >= self.season_:
            raise ParameterError(
                f"{self.alias}: harmonics={self.harmonics} needs season > {2 * self.harmonics} "
                f"(season is {self.season_}); use fewer harmonics"
            )
        self.per_year_ = periods_per_year(data.freq)
        self.n_lag_ = max(self.ar, 1 if self.neighbours else 0)
        self.adjacency_: dict[str, list[str]] = {}
        self.neighbour_rows_: list[np.ndarray] = []
        if self.neighbours:
            self.adjacency_ = resolve_neighbours(data.units, neighbours)
            self.neighbour_rows_ = [
                np.array([data.units.index(n) for n in self.adjacency_[u]], dtype=int) for u in data.units
            ]
        self.data_ = data  # the neighbour term reads other units' counts while fitting

    def _deterministic(self, t: np.ndarray, trend_at: float | None = None) -> tuple[np.ndarray, list[str]]:
        """Intercept, trend and Fourier columns for period indices ``t``.

        ``trend_at``: hold the trend column at this period index (the forecast
        origin) instead of following ``t``.
        """
        return deterministic_design(
            t, trend=self.trend, per_year=self.per_year_, harmonics=self.harmonics_, season=self.season_, trend_at=trend_at
        )

    def _n_terms(self) -> int:
        return 1 + int(self.trend) + 2 * self.harmonics_ + self.ar + int(self.neighbours)

    def _neighbour_mean(self, row: int, y: np.ndarray) -> np.ndarray:
        """Mean count of ``row``'s neighbours per period, from the count matrix ``y`` (units first)."""
        rows = self.neighbour_rows_[row]
        return y[rows].mean(axis=0) if len(rows) else np.zeros(y.shape[1:])

    # -------------------------------------------------------------- fit
    def _unsuitable(self, y: np.ndarray) -> str | None:
        nonzero = int(np.count_nonzero(y))
        if nonzero == 0:
            return "all zeros in fit window"
        n_terms = self._n_terms()
        if len(y) - self.n_lag_ < 2 * n_terms:
            return f"only {len(y)} periods for {n_terms} coefficients"
        if nonzero < self.min_nonzero:
            return f"only {nonzero} non-zero period(s) in fit window (min_nonzero={self.min_nonzero})"
        events, needed = int(y.sum()), self.events_per_coef * n_terms
        if events < needed:
            return (
                f"only {events} events in fit window for {n_terms} coefficients "
                f"(needs {needed:g}: events_per_coef={self.events_per_coef:g})"
            )
        return None

    def _fit_series(self, y: np.ndarray, unit: int) -> _GLMState:
        t = np.arange(self.n_lag_, len(y))
        design, names = self._deterministic(t.astype(float))
        columns = [design]
        for lag in range(1, self.ar + 1):
            columns.append(np.log1p(y[t - lag])[:, None])
            names = [*names, f"ar{lag}"]
        if self.neighbours:
            columns.append(np.log1p(self._neighbour_mean(unit, self.data_.y)[t - 1])[:, None])
            names = [*names, "neighbours"]
        full = np.hstack(columns)
        # A lag or neighbour column without variation (e.g. no neighbours in the
        # panel) is collinear with the intercept: drop it for this unit only.
        keep = np.ones(full.shape[1], dtype=bool)
        keep[1:] = full[:, 1:].std(axis=0) > 0
        X, endog = full[:, keep], y[t].astype(float)
        terms = [n for n, k in zip(names, keep, strict=True) if k]
        beta, cov, size, alpha_se, note = self._estimate(endog, X)
        self._check_identified(X, beta, cov)
        cap = 10.0 * float(y.max()) + 10.0
        lags = X[:, int(keep[: design.shape[1]].sum()) :]  # the kept lag / neighbour columns
        return _GLMState(terms, keep, beta, cov, size, alpha_se, cap, (lags.min(axis=0), lags.max(axis=0)), note)

    def _check_identified(self, X: np.ndarray, beta: np.ndarray, cov: np.ndarray) -> None:
        """Raise :class:`SeriesFitError` unless the data identify the coefficients (see the module docstring)."""
        if not (np.all(np.isfinite(beta)) and np.all(np.isfinite(cov))):
            raise SeriesFitError("GLM estimates or their covariance are not finite (near-singular fit)")
        eta = X @ beta
        if np.ptp(eta) > MAX_LOG_MEAN_RANGE:
            raise SeriesFitError(
                f"GLM not identified: fitted means span a factor e^{np.ptp(eta):.0f} "
                "(coefficients at the boundary, too few events for the terms)"
            )
        se = float(np.sqrt(np.clip(np.einsum("ij,jk,ik->i", X, cov, X), 0, None)).max())
        if not np.isfinite(se) or se > self.max_log_se:
            raise SeriesFitError(
                f"GLM not identified: standard error of the fitted log mean up to {se:.3g} "
                f"(max_log_se={self.max_log_se:g}; too few events for the terms)"
            )

    def _estimate(self, endog: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, float | None, float, str | None]:
        """Coefficients, their covariance, NB size (None: Poisson), alpha's standard error and a note."""
        try:
            poisson = sm.GLM(endog, X, family=sm.families.Poisson()).fit()
            params, cov = np.asarray(poisson.params), np.asarray(poisson.cov_params())
        except (np.linalg.LinAlgError, ValueError, PerfectSeparationError, FloatingPointError) as exc:
            raise SeriesFitError(f"Poisson GLM failed ({type(exc).__name__})") from exc
        if not poisson.converged:
            raise SeriesFitError("Poisson GLM did not converge")
        return params, cov, None, np.nan, None

    # ---------------------------------------------------------- predict
    def predict(self, h: int, *, n_draws: int = DEFAULT_DRAWS, seed: int = 0) -> ForecastFrame:
        """Simulate ``n_draws`` paths ``h`` steps ahead for all units jointly."""
        self._check_fitted()
        h, n_draws = steps_ahead(h, "horizon"), draw_count(n_draws, "n_draws")
        data = self.data_
        n_obs = data.y.shape[1]
        joint = JointPaths(self, h, n_draws, seed)
        rngs, paths, forecasts, counts_at = joint.rngs, joint.paths, joint.forecasts, joint.counts_at
        fitted: dict[int, tuple[_GLMState, np.ndarray]] = {
            row: (state, self._coefficient_draws(state, n_draws, rngs[row])) for row, state in joint.fitted.items()
        }

        # The trend is held at the last fitted period's level (module docstring).
        deterministic, _ = self._deterministic(np.arange(n_obs, n_obs + h, dtype=float), trend_at=n_obs - 1)
        # Exact columns only where the draws come from that very distribution.
        exact_every_step = self.ar == 0 and not self.neighbours
        exact_any = not self.parameter_draws
        plug_in = {row: np.full(h, np.nan) for row in fitted}
        for step in range(h):
            t = n_obs + step
            for row, (state, beta_draws) in fitted.items():
                columns = [np.broadcast_to(deterministic[step], (n_draws, deterministic.shape[1]))]
                columns += [np.log1p(counts_at(row, t - lag))[:, None] for lag in range(1, self.ar + 1)]
                if self.neighbours:
                    rows = self.neighbour_rows_[row]
                    mean = np.mean([counts_at(n, t - 1) for n in rows], axis=0) if len(rows) else np.zeros(n_draws)
                    columns.append(np.log1p(mean)[:, None])
                X = np.hstack(columns)[:, state.keep]
                # Lag and neighbour terms stay within the range they were fitted on.
                n_fixed = X.shape[1] - len(state.lag_range[0])
                X[:, n_fixed:] = np.clip(X[:, n_fixed:], *state.lag_range)
                mu = np.exp(np.minimum(np.einsum("dk,dk->d", X, beta_draws), np.log(state.cap)))
                paths[row, step] = draw_counts(mu, state.size, rngs[row])
                if exact_any and (step == 0 or exact_every_step):
                    plug_in[row][step] = float(mu[0])
        for row, (state, _) in fitted.items():
            size = None if state.size is None else np.full(h, state.size)
            family = self.family if state.size is not None else "poisson"
            forecasts[data.units[row]] = SeriesForecast(paths[row], family, plug_in[row], size)
        return self._assemble(forecasts, h)

    def _coefficient_draws(self, state: _GLMState, n_draws: int, rng: np.random.Generator) -> np.ndarray:
        """One coefficient vector per draw: the estimate, plus normal estimation error if enabled."""
        if not self.parameter_draws:
            return np.broadcast_to(state.beta, (n_draws, len(state.beta)))
        # eigh tolerates the semi-definite covariances of nearly collinear designs.
        values, vectors = np.linalg.eigh((state.cov + state.cov.T) / 2)
        root = vectors * np.sqrt(np.clip(values, 0, None))
        return state.beta + rng.standard_normal((n_draws, len(state.beta))) @ root.T

    def _forecast_series(self, state: _GLMState, h: int, n_draws: int, rng: np.random.Generator) -> SeriesForecast:
        raise NotImplementedError("CountGLM forecasts all units jointly in predict()")  # pragma: no cover

    # ------------------------------------------------------------ report
    def coef_table(self) -> pd.DataFrame:
        """Estimates and standard errors per unit and term (``alpha`` for the negative binomial).

        Returns
        -------
        pandas.DataFrame
            Columns ``unit_id, term, estimate, std_error``; units on a fallback are absent.
        """
        self._check_fitted()
        rows = []
        for unit, state in self.states_.items():
            if isinstance(state, _Fallback):
                continue
            se = np.sqrt(np.clip(np.diag(state.cov), 0, None))
            rows += [(unit, term, b, s) for term, b, s in zip(state.terms, state.beta, se, strict=True)]
            if state.size is not None:
                rows.append((unit, "alpha", 1.0 / state.size, state.alpha_se))
        return pd.DataFrame(rows, columns=["unit_id", "term", "estimate", "std_error"])


@dataclass
class PoissonGLM(CountGLM):
    """Poisson GLM per unit (``glm_poisson``); see :class:`CountGLM` for the options.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> panel = pd.DataFrame({"unit_id": "A", "ds": pd.date_range("2015-01-05", periods=208, freq="W-MON"),
    ...                       "y": rng.poisson(4.0, 208)})
    >>> ff = PoissonGLM(trend=False, season=0, ar=0).fit(panel).predict(3, n_draws=4000)
    >>> np.round(ff.mean(), 0).tolist()
    [4.0, 4.0, 4.0]
    """

    alias: str = "glm_poisson"

    family: ClassVar[str] = "poisson"


@dataclass
class NegBinGLM(CountGLM):
    """Negative-binomial (NB2) GLM per unit (``glm_negbin``); see :class:`CountGLM` for the options."""

    alias: str = "glm_negbin"

    family: ClassVar[str] = "negbin"

    def _estimate(self, endog: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, float | None, float, str | None]:
        poisson = super()._estimate(endog, X)
        params_p = poisson[0]
        mu = np.exp(X @ params_p)
        # Decide Poisson from the Poisson fit alone, before any negative-binomial
        # optimisation: on data without over-dispersion the NB optimum lies on the
        # alpha = 0 boundary, where whether the Hessian inverts (and so whether the
        # fit "works") depends on the CPU and BLAS, not on the data.
        if overdispersion_score(endog, mu) < OVERDISPERSION_Z:
            return (*poisson[:4], NO_OVERDISPERSION)
        try:
            # BFGS works on log(alpha), so alpha near 0 stays finite where Newton
            # steps would leave the parameter space.
            result = NegativeBinomial(endog, X, loglike_method="nb2").fit(
                start_params=np.append(params_p, 0.1), method="bfgs", maxiter=500, disp=0
            )
        except (np.linalg.LinAlgError, ValueError, FloatingPointError, OverflowError) as exc:
            return (*poisson[:4], f"negative-binomial fit failed ({type(exc).__name__}): used glm_poisson")
        if not result.mle_retvals.get("converged", False):
            return (*poisson[:4], "negative-binomial fit did not converge: used glm_poisson")
        params = np.asarray(result.params)
        alpha = float(params[-1])
        poisson_llf = float(stats.poisson.logpmf(endog, mu).sum())
        lr = 2.0 * (float(result.llf) - poisson_llf)
        if not (np.isfinite(alpha) and alpha > 0 and np.isfinite(lr)) or lr < OVERDISPERSION_LR:
            # The score test saw some excess variance, the likelihood ratio does
            # not confirm it: the simpler model is the one the data support.
            return (*poisson[:4], NO_OVERDISPERSION)
        try:
            # cov_params raises ValueError when the Hessian cannot be inverted; with
            # a significant likelihood ratio alpha is off the boundary, so this is
            # a genuine failure, not a numerical accident.
            cov = np.asarray(result.cov_params())
        except (np.linalg.LinAlgError, ValueError) as exc:
            return (*poisson[:4], f"negative-binomial covariance not estimable ({type(exc).__name__}): used glm_poisson")
        if not np.all(np.isfinite(cov)):
            return (*poisson[:4], "negative-binomial covariance not finite: used glm_poisson")
        size = 1.0 / alpha
        return params[:-1], cov[:-1, :-1], size, float(np.sqrt(max(cov[-1, -1], 0.0))), None
