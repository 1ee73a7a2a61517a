"""Prophet per unit, made count-aware.

Prophet models a continuous series with Gaussian noise. Counts are made fit
for it by fitting on a variance-stabilised scale: the Anscombe transform
``2 sqrt(y + 3/8)`` (``transform="sqrt"``, default) or ``log(1 + y)``
(``transform="log1p"``). Predictive draws are prophet's own posterior
predictive samples (trend uncertainty plus noise), mapped back through the
inverse transform, clipped at zero and rounded stochastically (up with
probability equal to the fractional part), so each draw is a non-negative count
whose expectation is the back-transformed value.

Prophet runs through its bundled CmdStan model; this module silences the
``cmdstanpy`` and ``prophet`` loggers while it works and never installs
CmdStan: if prophet's Stan backend is missing it raises
:class:`~forecast.errors.ModelError` saying so. Series with fewer than
``min_nonzero`` non-zero periods use ``hist_mean`` (recorded in ``fallback``).
Prophet takes roughly 0.1-0.5 s per series.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from forecast.checks import whole_number
from forecast.errors import ModelError, ParameterError
from forecast.models.base import Neighbours, SeriesFitError, SeriesForecast, SeriesModel
from forecast.models.baselines import HistoricalMean
from forecast.panel import PanelData

__all__ = ["ProphetCount", "quiet_prophet"]

_NOISY_LOGGERS = ("cmdstanpy", "prophet", "prophet.plot", "prophet.models", "prophet.forecaster")

#: Variance-stabilising transforms: name -> (forward, inverse).
TRANSFORMS = {
    "sqrt": (lambda y: 2.0 * np.sqrt(y + 0.375), lambda z: (np.clip(z, 0, None) / 2.0) ** 2 - 0.375),
    "log1p": (np.log1p, np.expm1),
}


@contextmanager
def quiet_prophet() -> Iterator[None]:
    """Silence prophet's and cmdstanpy's INFO chatter (and the plotly notice) within the block."""
    # ``disabled`` rather than a level: cmdstanpy resets its logger's level the
    # first time it logs, but leaves ``disabled`` alone.
    loggers = [logging.getLogger(name) for name in _NOISY_LOGGERS]
    before = [lg.disabled for lg in loggers]
    try:
        for lg in loggers:
            lg.disabled = True
        yield
    finally:
        for lg, disabled in zip(loggers, before, strict=True):
            lg.disabled = disabled


def _prophet_class() -> type:
    with quiet_prophet():
        try:
            from prophet import Prophet
        except ImportError as exc:  # pragma: no cover - prophet is a dependency
            raise ModelError(f"prophet is not installed ({exc}); pip install prophet") from exc
    return Prophet


@contextmanager
def _seeded_global_numpy(seed: int) -> Iterator[None]:
    """Prophet samples with numpy's global RNG: seed it for the block, then restore it."""
    state = np.random.get_state()  # noqa: NPY002 - prophet draws from the legacy global RNG
    np.random.seed(seed)  # noqa: NPY002
    try:
        yield
    finally:
        np.random.set_state(state)  # noqa: NPY002


@dataclass
class ProphetCount(SeriesModel):
    """Prophet per unit on a variance-stabilised scale, with count-valued draws.

    Parameters
    ----------
    transform
        ``"sqrt"`` (Anscombe) or ``"log1p"``.
    yearly
        Prophet's ``yearly_seasonality``: ``"auto"``, True/False or a Fourier order.
    changepoint_prior_scale
        Flexibility of prophet's piecewise-linear trend.
    min_nonzero
        Series with fewer non-zero periods use the ``hist_mean`` fallback.
    workers
        Worker processes fitting the series in parallel (through
        :mod:`forecast.parallel`); 1 fits them in this process. The forecasts
        are the same either way.
    alias
        Name in the output's ``model`` column.
    """

    transform: str = "sqrt"
    yearly: bool | int | str = "auto"
    changepoint_prior_scale: float = 0.05
    min_nonzero: int = 3
    workers: int = 1
    alias: str = "prophet"

    def __post_init__(self) -> None:
        if self.transform not in TRANSFORMS:
            raise ParameterError(f"prophet: transform must be one of {sorted(TRANSFORMS)}, got {self.transform!r}")
        if not (isinstance(self.yearly, bool | int) or self.yearly == "auto"):
            raise ParameterError(f"prophet: yearly must be 'auto', True, False or a Fourier order, got {self.yearly!r}")
        if not isinstance(self.changepoint_prior_scale, int | float) or self.changepoint_prior_scale <= 0:
            raise ParameterError(
                f"prophet: changepoint_prior_scale must be a positive number, got {self.changepoint_prior_scale!r}"
            )
        whole_number(self.min_nonzero, "prophet: option min_nonzero", minimum=1)
        whole_number(self.workers, "prophet: option workers", minimum=1)

    def _fit_workers(self) -> int:
        return int(self.workers)

    def _prepare(self, data: PanelData, neighbours: Neighbours | None) -> None:
        self.prophet_class_ = _prophet_class()
        self.ds_ = data.ds
        self.freq_ = data.freq

    def _fallback_model(self, data: PanelData) -> SeriesModel:
        return HistoricalMean()

    def _unsuitable(self, y: np.ndarray) -> str | None:
        nonzero = int(np.count_nonzero(y))
        if nonzero == 0:
            return "all zeros in fit window"
        if nonzero < self.min_nonzero:
            return f"only {nonzero} non-zero period(s) in fit window (min_nonzero={self.min_nonzero})"
        return None

    def _fit_series(self, y: np.ndarray, unit: int) -> Any:
        forward, _ = TRANSFORMS[self.transform]
        try:
            with quiet_prophet():
                model = self.prophet_class_(
                    yearly_seasonality=self.yearly,
                    weekly_seasonality=False,  # periods are weeks or months: no within-week cycle
                    daily_seasonality=False,
                    changepoint_prior_scale=self.changepoint_prior_scale,
                    uncertainty_samples=0,  # sampling happens in predict, with the requested draws
                )
        except Exception as exc:  # prophet raises bare Exceptions when its Stan backend is missing
            raise ModelError(
                f"prophet's Stan backend is not usable ({exc}); reinstall the prophet wheel "
                "(this package never installs CmdStan)"
            ) from exc
        frame = pd.DataFrame({"ds": self.ds_, "y": forward(y.astype(float))})
        try:
            with quiet_prophet():
                model.fit(frame)
        except (RuntimeError, ValueError) as exc:  # the optimiser failed on this series
            raise SeriesFitError(f"prophet fit failed ({type(exc).__name__}: {str(exc)[:80]})") from exc
        return model

    def _forecast_series(self, state: Any, h: int, n_draws: int, rng: np.random.Generator) -> SeriesForecast:
        _, inverse = TRANSFORMS[self.transform]
        future = pd.DataFrame({"ds": pd.date_range(self.ds_[-1], periods=h + 1, freq=self.freq_)[1:]})
        state.uncertainty_samples = n_draws
        with quiet_prophet(), _seeded_global_numpy(int(rng.integers(2**32))), warnings.catch_warnings():
            # prophet's own pandas deprecation notices, once per unit otherwise
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            samples = state.predictive_samples(future)["yhat"]  # (h, n_draws), transformed scale
        values = np.clip(np.nan_to_num(inverse(np.asarray(samples, dtype=float)), nan=0.0), 0.0, None)
        floor = np.floor(values)
        return SeriesForecast((floor + (rng.random(values.shape) < values - floor)).astype(np.int64))
