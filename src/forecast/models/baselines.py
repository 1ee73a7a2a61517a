"""The VIEWS-style baselines, each a :class:`~forecast.models.base.SeriesModel`.

The baselines are the ones the VIEWS forecasting competitions measure skill
against, so that a model's skill is stated relative to what the field uses:

========================  ==========================================================
name                      predictive distribution for every step ahead
========================  ==========================================================
``zero``                  point mass at 0
``last``                  Poisson around the last observed count
``hist_mean``             negative binomial fitted (moments) to a window
``bootstrap``             resampled from the last ``window`` (12) counts
``seasonal_naive``        Poisson around the count one season earlier
========================  ==========================================================

Examples
--------
>>> import numpy as np, pandas as pd
>>> ds = pd.date_range("2021-01-04", periods=6, freq="W-MON")
>>> panel = pd.DataFrame({"unit_id": "AF-KBL", "ds": ds, "y": [0, 2, 1, 3, 0, 4],
...                       "fatalities_best": 0.0})
>>> ff = LastObserved().fit(panel).predict(2, n_draws=2000, seed=1)
>>> ff.index[["unit_id", "step", "family", "dist_mu"]].to_dict("list")
{'unit_id': ['AF-KBL', 'AF-KBL'], 'step': [1, 2], 'family': ['poisson', 'poisson'], 'dist_mu': [4.0, 4.0]}
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecast.checks import whole_number
from forecast.distributions import draw_counts, moment_size
from forecast.errors import ParameterError
from forecast.models.base import Neighbours, SeriesForecast, SeriesModel
from forecast.panel import PanelData, default_season

__all__ = ["Bootstrap", "HistoricalMean", "LastObserved", "SeasonalNaive", "Zero"]


def _steps(value: float, h: int) -> np.ndarray:
    return np.full(h, float(value))


# --------------------------------------------------------------- baselines
@dataclass
class Zero(SeriesModel):
    """Nothing happens: a point mass at zero for every step.

    Examples
    --------
    >>> import pandas as pd
    >>> panel = pd.DataFrame({"unit_id": "A", "ds": pd.date_range("2020-01-06", periods=3, freq="W-MON"),
    ...                       "y": [3, 1, 2]})
    >>> int(Zero().fit(panel).predict(4).draws.max())
    0
    """

    alias: str = "zero"

    def _fit_series(self, y: np.ndarray, unit: int) -> None:
        return None

    def _forecast_series(self, state: None, h: int, n_draws: int, rng: np.random.Generator) -> SeriesForecast:
        return SeriesForecast(np.zeros((h, n_draws), dtype=np.int64), "poisson", _steps(0.0, h))


@dataclass
class LastObserved(SeriesModel):
    """Poisson around the last observed count, for every step ahead."""

    alias: str = "last"

    def _fit_series(self, y: np.ndarray, unit: int) -> float:
        return float(y[-1])

    def _forecast_series(self, state: float, h: int, n_draws: int, rng: np.random.Generator) -> SeriesForecast:
        return SeriesForecast(rng.poisson(state, size=(h, n_draws)), "poisson", _steps(state, h))


@dataclass
class HistoricalMean(SeriesModel):
    """Negative binomial fitted by moments to the last ``window`` periods (all if None).

    The mean is the window's mean; the size is ``mean**2 / (variance - mean)``
    when the window is overdispersed, otherwise the distribution is Poisson.
    """

    window: int | None = None
    alias: str = "hist_mean"

    def __post_init__(self) -> None:
        whole_number(self.window, "hist_mean: option window", minimum=1, allow_none=True)

    def _fit_series(self, y: np.ndarray, unit: int) -> tuple[float, float]:
        recent = y if self.window is None else y[-self.window :]
        mean = float(recent.mean())
        var = float(recent.var(ddof=1)) if len(recent) > 1 else mean
        size = moment_size(mean, var)
        return mean, size

    def _forecast_series(self, state: tuple[float, float], h: int, n_draws: int, rng: np.random.Generator) -> SeriesForecast:
        mean, size = state
        if np.isinf(size):
            return SeriesForecast(rng.poisson(mean, size=(h, n_draws)), "poisson", _steps(mean, h))
        draws = draw_counts(np.full((h, n_draws), mean), size, rng)
        return SeriesForecast(draws, "negbin", _steps(mean, h), _steps(size, h))


@dataclass
class Bootstrap(SeriesModel):
    """Counts resampled with replacement from the last ``window`` periods (all if fewer)."""

    window: int = 12
    alias: str = "bootstrap"

    def __post_init__(self) -> None:
        whole_number(self.window, "bootstrap: option window", minimum=1)

    def _fit_series(self, y: np.ndarray, unit: int) -> np.ndarray:
        return y[-self.window :].copy()

    def _forecast_series(self, state: np.ndarray, h: int, n_draws: int, rng: np.random.Generator) -> SeriesForecast:
        return SeriesForecast(rng.choice(state, size=(h, n_draws), replace=True))


@dataclass
class SeasonalNaive(SeriesModel):
    """Poisson around the count one season earlier (``season`` defaults from the frequency).

    A series shorter than one season falls back to ``last``.
    """

    season: int | None = None
    alias: str = "seasonal_naive"

    def __post_init__(self) -> None:
        whole_number(self.season, "seasonal_naive: option season", minimum=1, allow_none=True)

    def _prepare(self, data: PanelData, neighbours: Neighbours | None) -> None:
        season = self.season or default_season(data.freq)
        if season is None:
            raise ParameterError(f"seasonal_naive: frequency {data.freq} has no default season; pass season=N")
        self.season_ = season

    def _fallback_model(self, data: PanelData) -> SeriesModel:
        return LastObserved()

    def _unsuitable(self, y: np.ndarray) -> str | None:
        if len(y) < self.season_:
            return f"only {len(y)} periods, fewer than one season ({self.season_})"
        return None

    def _fit_series(self, y: np.ndarray, unit: int) -> np.ndarray:
        return y[-self.season_ :].astype(float)

    def _forecast_series(self, state: np.ndarray, h: int, n_draws: int, rng: np.random.Generator) -> SeriesForecast:
        mu = state[np.arange(h) % len(state)]
        return SeriesForecast(rng.poisson(mu[:, None], size=(h, n_draws)), "poisson", mu)
