"""The in-control model each rule compares against: what a unit's counts would be without a change."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from forecast.alarms.config import WarningConfig
from forecast.distributions import moment_size
from forecast.errors import ForecastError
from forecast.geo.gazetteer import Gazetteer
from forecast.panel import PanelData
from forecast.spread import (
    gazetteer_for,
)


# -------------------------------------------------------- in-control model
def in_control(
    y: np.ndarray,
    baseline: int,
    lag: int,
    prior_events: float = 0.0,
    min_periods: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """In-control negative binomial per unit and period, from a trailing window ending ``lag`` periods earlier.

    For period ``t`` the window is ``y[:, t-lag-baseline+1 : t-lag+1]`` (fewer
    periods at the start of the data). Its mean and size follow the
    ``hist_mean`` baseline (:class:`forecast.models.baselines.HistoricalMean`):
    size ``mean**2 / (variance - mean)`` when overdispersed, else infinite
    (Poisson). The mean then adds ``prior_events`` to the window's events.

    Parameters
    ----------
    y
        Counts ``(units, periods)``.
    baseline, lag, prior_events, min_periods
        Window length, gap before the judged period, pseudo-events, and the
        shortest window that gives a forecast (NaN before).

    Returns
    -------
    mean, size
        Arrays ``(units, periods)``; NaN where the window is too short.

    Examples
    --------
    >>> mean, size = in_control(np.array([[0, 2, 0, 4, 1]]), baseline=3, lag=1)
    >>> mean.round(2).tolist(), size.round(2).tolist()
    ([[nan, 0.0, 1.0, 0.67, 2.0]], [[nan, inf, 1.0, 0.67, 2.0]])
    """
    y = np.asarray(y, dtype=float)
    n_periods = y.shape[1]
    zero = np.zeros((y.shape[0], 1))
    c1 = np.hstack([zero, np.cumsum(y, axis=1)])
    c2 = np.hstack([zero, np.cumsum(y**2, axis=1)])
    t = np.arange(n_periods)
    end = t - lag + 1  # exclusive end of the window in y
    start = np.maximum(end - baseline, 0)
    n = np.maximum(end - start, 0)
    ok = (end >= 1) & (n >= min_periods)
    end_c, start_c = np.clip(end, 0, n_periods), np.clip(start, 0, n_periods)
    total = c1[:, end_c] - c1[:, start_c]
    squares = c2[:, end_c] - c2[:, start_c]
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = total / n
        variance = np.where(n > 1, (squares - n * mean**2) / (n - 1), mean)
        size = moment_size(mean, variance)
        mean = (total + prior_events) / n
    mean = np.where(ok, mean, np.nan)
    size = np.where(ok, size, np.nan)
    return mean, size


def _rolling_sum(y: np.ndarray, window: int) -> np.ndarray:
    cumulative = np.cumsum(y, axis=1, dtype=float)
    out = cumulative.copy()
    out[:, window:] -= cumulative[:, :-window]
    return out


@dataclass
class InControl:
    """One-step in-control forecasts: what each unit would do in each period if nothing changed.

    For unit ``i`` and period ``t``::

        mu_it = m_it + lambda_t (y_i,t-1 - m_it) + phi_t (n_i,t-1 - nbar_it)

    with ``m_it`` the unit's mean (:func:`in_control`: ``hist_mean`` on the
    ``baseline_periods`` ending ``guard_periods`` before ``t``, plus
    ``prior_events``), ``n_i,t-1`` the events in its neighbours (stronghold
    included) in the previous period and ``nbar_it`` their mean over the same
    window. ``lambda`` and ``phi`` are shared by the units outside the
    stronghold, fitted by least squares on within-unit deviations over the
    ``dynamics_periods`` ending ``guard_periods`` before ``t`` and refitted
    every ``dynamics_refit`` periods (clipped to ``[0, 0.9]`` and ``[0, 0.5]``).
    The mean never drops below half of ``m_it``. The count is Poisson around
    ``mu`` (negative binomial with the window's moment size when
    ``min_size`` is finite). Nothing after ``t - 1`` is used.

    Attributes
    ----------
    mean, size
        ``(units, periods)``; NaN before the baseline window is long enough.
    unit_mean
        ``m_it``.
    own_lag, neighbour
        ``lambda_t`` and ``phi_t`` per period.

    Examples
    --------
    >>> import pandas as pd
    >>> ds = pd.date_range("2021-01-04", periods=30, freq="W-MON")
    >>> panel = pd.DataFrame({"unit_id": ["AF-KDZ"] * 30 + ["AF-NAN"] * 30, "ds": list(ds) * 2,
    ...                       "y": [0, 1] * 15 + [3] * 30})
    >>> fc = InControl.fit(PanelData.from_panel(panel), WarningConfig())
    >>> round(float(fc.unit_mean[0, -1]), 3), bool(np.isnan(fc.mean[0, 0]))
    (0.519, True)
    """

    mean: np.ndarray
    size: np.ndarray
    unit_mean: np.ndarray
    own_lag: np.ndarray
    neighbour: np.ndarray

    @classmethod
    def fit(
        cls,
        data: PanelData,
        config: WarningConfig,
        stronghold: Sequence[str] = (),
        gazetteer: Gazetteer | None = None,
    ) -> InControl:
        """In-control forecasts for every unit and period of ``data``."""
        y = data.y.astype(float)
        n_units, n_periods = y.shape
        lag = config.guard_periods  # the unit's window ends at t - guard_periods
        unit_mean, size = in_control(y, config.baseline_periods, lag, config.prior_events, config.min_baseline_periods)
        try:
            adjacency = gazetteer_for(data.units, gazetteer).adjacency_matrix(data.units).astype(float)
        except ForecastError:
            adjacency = np.zeros((n_units, n_units))  # units without a gazetteer: own lag only
        around = adjacency @ y
        around_mean, _ = in_control(around, config.baseline_periods, lag, 0.0, config.min_baseline_periods)
        field = ~np.isin(data.units, list(stronghold))
        own_lag, neighbour = np.zeros(n_periods), np.zeros(n_periods)
        current = (0.0, 0.0)
        for t in range(n_periods):
            if t % config.dynamics_refit == 0:
                current = _fit_dynamics(y[field], around[field], t - lag + 1, config.dynamics_periods) or current
            own_lag[t], neighbour[t] = current
        previous = np.hstack([np.zeros((n_units, 1)), y[:, :-1]])
        previous_around = np.hstack([np.zeros((n_units, 1)), around[:, :-1]])
        mean = unit_mean + own_lag * (previous - unit_mean) + neighbour * (previous_around - around_mean)
        mean = np.maximum(mean, 0.5 * unit_mean)
        size = np.maximum(size, config.min_size)
        return cls(mean=mean, size=size, unit_mean=unit_mean, own_lag=own_lag, neighbour=neighbour)


def _fit_dynamics(y: np.ndarray, around: np.ndarray, end: int, periods: int) -> tuple[float, float] | None:
    """Shared own-lag and neighbour coefficients from periods before ``end`` (None if too few)."""
    start = max(1, end - periods)
    if end - start < 20:
        return None
    target = y[:, start:end]
    own = y[:, start - 1 : end - 1]
    near = around[:, start - 1 : end - 1]

    def centred(x: np.ndarray) -> np.ndarray:
        return (x - x.mean(axis=1, keepdims=True)).ravel()

    design = np.column_stack([centred(own), centred(near)])
    if not np.any(design):
        return None
    coef, *_ = np.linalg.lstsq(design, centred(target), rcond=None)
    return float(np.clip(coef[0], 0.0, 0.9)), float(np.clip(coef[1], 0.0, 0.5))
