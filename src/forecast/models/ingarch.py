"""Negative-binomial INGARCH(1,1) per unit, log-linear as in R's ``tscount``.

For each unit the conditional mean of ``y_t`` given the past is

.. math::

    \\log \\mu_t = \\beta_0 + \\beta_1 \\log(1 + y_{t-1}) + \\alpha_1 \\log \\mu_{t-1}

and ``y_t`` is negative binomial (NB2, variance ``mu + mu^2 / size``) with
``size`` estimated. The parameters are fitted by maximum likelihood (scipy's
L-BFGS-B) on ``(beta0, beta1 + alpha1, beta1, log size)``; the bound
``|beta1 + alpha1| < 1`` keeps the log-mean recursion stable. The recursion
starts from ``log mu_0 = log(mean(y))``. Standard errors come from the
numerical Hessian of the log-likelihood (statsmodels' ``approx_hess``).

Forecasts simulate each path forward: step 1 is exactly the negative binomial
with the fitted conditional mean (its ``dist_mu`` / ``dist_size`` are filled);
later steps feed the simulated counts back. Series with fewer than
``min_nonzero`` non-zero periods, or whose fit fails, use ``hist_mean`` over the
last season, as :mod:`forecast.models.glm` does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, signal, special
from statsmodels.tools.numdiff import approx_hess

from forecast.checks import whole_number
from forecast.distributions import draw_counts
from forecast.models.base import SeriesFitError, SeriesForecast, SeriesModel
from forecast.models.baselines import HistoricalMean
from forecast.panel import PanelData, default_season

__all__ = ["IngarchFit", "NegBinIngarch", "fit_ingarch", "ingarch_log_mean", "ingarch_loglik"]

#: Largest |beta1 + alpha1| the fit may reach (stationarity of the log mean).
MAX_PERSISTENCE = 0.999


def ingarch_log_mean(params: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Log conditional means ``log mu_1..log mu_n`` (length ``len(y) + 1``: the last is the next period's).

    ``params`` is ``(beta0, beta1, alpha1)``; ``log mu_0 = log(mean(y))``.
    """
    beta0, beta1, alpha1 = (float(p) for p in params[:3])
    nu0 = np.log(max(float(np.mean(y)), 1e-3))
    drive = beta0 + beta1 * np.log1p(np.asarray(y, dtype=float))
    # nu_t = drive_{t-1} + alpha1 * nu_{t-1}, t = 1..n
    nu, _ = signal.lfilter([1.0], [1.0, -alpha1], drive, zi=[alpha1 * nu0])
    return np.concatenate([[nu0], nu])


def ingarch_loglik(theta: np.ndarray, y: np.ndarray) -> float:
    """Conditional NB2 log-likelihood of ``y_1..y_{n-1}`` at ``theta = (beta0, beta1, alpha1, log size)``."""
    nu = ingarch_log_mean(theta, y)[1:-1]
    obs = np.asarray(y[1:], dtype=float)
    size = np.exp(theta[3])
    mu = np.exp(np.clip(nu, -30, 30))
    ll = (
        special.gammaln(obs + size) - special.gammaln(size) - special.gammaln(obs + 1)
        + size * np.log(size / (size + mu)) + obs * np.log(mu / (size + mu))
    )
    return float(ll.sum())


@dataclass(frozen=True)
class IngarchFit:
    """One unit's fit: ``params = (beta0, beta1, alpha1, size)``, their standard errors, next log mean."""

    params: np.ndarray
    se: np.ndarray
    log_mu_next: float
    y_last: float


def fit_ingarch(y: np.ndarray) -> IngarchFit:
    """Maximum-likelihood fit of the NB INGARCH(1,1) to one series; :class:`SeriesFitError` if it fails."""
    y = np.asarray(y, dtype=float)
    m = max(float(y.mean()), 1e-3)

    def natural(z: np.ndarray) -> np.ndarray:
        beta0, persistence, beta1, log_size = z
        return np.array([beta0, beta1, persistence - beta1, log_size])

    def objective(z: np.ndarray) -> float:
        value = -ingarch_loglik(natural(z), y)
        return value if np.isfinite(value) else 1e300

    start = np.array([0.5 * np.log(m), 0.5, 0.3, 0.0])
    bounds = [(-20, 20), (-MAX_PERSISTENCE, MAX_PERSISTENCE), (-5, 5), (-7, 10)]
    result = optimize.minimize(objective, start, method="L-BFGS-B", bounds=bounds)
    if not result.success or not np.isfinite(result.fun):
        raise SeriesFitError(f"ingarch fit did not converge: {result.message}")
    theta = natural(result.x)
    hess = approx_hess(theta, lambda t: -ingarch_loglik(t, y))
    try:
        cov = np.linalg.inv(hess)
    except np.linalg.LinAlgError as exc:
        raise SeriesFitError("ingarch fit not identified: singular Hessian") from exc
    var = np.diag(cov)
    if not np.all(np.isfinite(var)) or np.any(var <= 0):
        raise SeriesFitError("ingarch fit not identified: non-positive variance")
    se = np.sqrt(var)
    size = np.exp(theta[3])
    params = np.array([theta[0], theta[1], theta[2], size])
    se_natural = np.array([se[0], se[1], se[2], size * se[3]])  # delta method for size
    log_mu_next = float(ingarch_log_mean(theta, y)[-1])
    return IngarchFit(params, se_natural, log_mu_next, float(y[-1]))


@dataclass
class NegBinIngarch(SeriesModel):
    """Negative-binomial INGARCH(1,1) per unit (tscount-style log-linear); sparse series use ``hist_mean``."""

    min_nonzero: int = 10
    alias: str = "ingarch"

    def __post_init__(self) -> None:
        whole_number(self.min_nonzero, "ingarch: option min_nonzero", minimum=1)

    def _fallback_model(self, data: PanelData) -> SeriesModel:
        return HistoricalMean(window=default_season(data.freq) or 52)

    def _unsuitable(self, y: np.ndarray) -> str | None:
        nonzero = int(np.count_nonzero(y))
        if nonzero < self.min_nonzero:
            return f"{nonzero} non-zero periods, fewer than min_nonzero={self.min_nonzero}"
        return None

    def _fit_series(self, y: np.ndarray, unit: int) -> IngarchFit:
        return fit_ingarch(y)

    def _forecast_series(self, state: IngarchFit, h: int, n_draws: int, rng: np.random.Generator) -> SeriesForecast:
        beta0, beta1, alpha1, size = state.params
        draws = np.empty((h, n_draws), dtype=np.int64)
        nu = np.full(n_draws, state.log_mu_next)
        for step in range(h):
            if step:
                nu = beta0 + beta1 * np.log1p(draws[step - 1]) + alpha1 * nu
            draws[step] = draw_counts(np.exp(np.clip(nu, -30, 30)), size, rng)
        mu = np.full(h, np.nan)
        mu[0] = np.exp(state.log_mu_next)
        return SeriesForecast(draws, "negbin", mu, np.full(h, size))
