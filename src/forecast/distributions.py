"""Count distributions: Poisson and negative binomial (NB2) by mean and size.

The suite states a negative binomial by its mean ``mu`` and ``size`` (variance
``mu + mu**2 / size``; Poisson when the size is infinite or missing). These
functions are the one translation to scipy's ``(n, p)``, the one moment fit,
the one way to draw counts and the one exceedance probability, so a forecast,
a score and an alarm threshold mean the same distribution.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["MAX_MEAN", "check_means", "count_sf", "draw_counts", "moment_size", "scipy_negbin"]

#: The largest mean a count is drawn with: beyond it a fitted process has exploded (numpy's Poisson
#: sampler itself refuses means above about 9e18 with a bare ValueError).
MAX_MEAN = 1e12


def check_means(mu: np.ndarray, what: str = "a predictive mean") -> np.ndarray:
    """``mu`` when every mean is finite and at most :data:`MAX_MEAN`; a :class:`ModelError` otherwise.

    The error is a :class:`~forecast.errors.ForecastError`, so a backtest or a
    report leaves the exploding model out and names it instead of stopping.

    Examples
    --------
    >>> check_means(np.array([0.5, 3.0])).tolist()
    [0.5, 3.0]
    """
    mu = np.asarray(mu, dtype=float)
    bad = ~np.isfinite(mu) | (mu > MAX_MEAN)
    if bad.any():
        from forecast.errors import ModelError

        worst = mu[bad].flat[0]
        raise ModelError(f"{what} of {worst:.3g} events per period: the fitted process explodes (its own-lag "
                         "and neighbour terms grow without bound); it cannot be simulated")
    return mu


def scipy_negbin(mu: np.ndarray, size: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """scipy's ``nbinom(n, p)`` parameters for mean ``mu`` and size ``size``: ``n = size``, ``p = size / (size + mu)``.

    Examples
    --------
    >>> n, p = scipy_negbin(np.array([4.0]), np.array([2.0]))
    >>> round(float(stats.nbinom.mean(n, p)[0]), 9), round(float(stats.nbinom.var(n, p)[0]), 9)
    (4.0, 12.0)
    """
    size = np.asarray(size, dtype=float)
    return size, size / (size + np.asarray(mu, dtype=float))


def moment_size(mean: np.ndarray | float, variance: np.ndarray | float) -> np.ndarray | float:
    """Method-of-moments size ``mean**2 / (variance - mean)``; infinite (Poisson) unless over-dispersed.

    Examples
    --------
    >>> moment_size(2.0, 6.0), moment_size(2.0, 1.5)
    (1.0, inf)
    """
    mean, variance = np.asarray(mean, dtype=float), np.asarray(variance, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        size = np.where((variance > mean) & (mean > 0), mean**2 / (variance - mean), np.inf)
    return float(size) if size.ndim == 0 else size


def draw_counts(mu: np.ndarray, size: np.ndarray | float | None, rng: np.random.Generator) -> np.ndarray:
    """Draw counts with mean ``mu``: Poisson when ``size`` is None/inf, else negative binomial.

    The negative binomial (variance ``mu + mu**2 / size``) is drawn as a
    gamma-Poisson mixture so ``mu`` and ``size`` may be arrays of any (broadcast)
    shape, including per-draw parameters.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = draw_counts(np.full(20000, 4.0), 2.0, rng)
    >>> round(float(x.mean()), 1), round(float(x.var()), 0)
    (4.0, 12.0)
    """
    mu = check_means(np.clip(np.nan_to_num(np.asarray(mu, dtype=float), nan=0.0), 0.0, None))
    if size is None:
        return rng.poisson(mu)
    size = np.asarray(size, dtype=float)
    finite = np.isfinite(size) & (size > 0)
    safe = np.where(finite, size, 1.0)
    gamma = rng.gamma(shape=safe, scale=1.0 / safe, size=np.broadcast_shapes(mu.shape, safe.shape))
    return rng.poisson(check_means(mu * np.where(finite, gamma, 1.0), "a drawn gamma-Poisson mean"))


def count_sf(k: np.ndarray, mean: np.ndarray, size: np.ndarray) -> np.ndarray:
    """``P(Y >= k)`` for a negative binomial (Poisson where ``size`` is infinite).

    Examples
    --------
    >>> count_sf(np.array([0, 1, 2]), np.array([1.0, 1.0, 1.0]), np.array([np.inf, np.inf, 1.0])).round(3).tolist()
    [1.0, 0.632, 0.25]
    """
    k, mean, size = np.broadcast_arrays(np.asarray(k, float), np.asarray(mean, float), np.asarray(size, float))
    out = np.full(k.shape, np.nan)
    poisson = np.isfinite(mean) & ~np.isfinite(size)
    negbin = np.isfinite(mean) & np.isfinite(size)
    out[poisson] = stats.poisson.sf(k[poisson] - 1, mean[poisson])
    out[negbin] = stats.nbinom.sf(k[negbin] - 1, *scipy_negbin(mean[negbin], size[negbin]))
    return np.where(k <= 0, 1.0, out)
