"""The model contracts: :class:`CountModel` and the per-unit loop of :class:`SeriesModel`.

Every model in :mod:`forecast.models` is a :class:`CountModel`: ``fit(panel)``
then ``predict(h)`` returns a :class:`~forecast.models.frame.ForecastFrame`.
Models that treat each unit on its own derive from :class:`SeriesModel`, which
owns the one loop over units (with a tqdm progress bar that can be turned off),
the per-unit random streams, quiet handling of fitting warnings and the
fallback to a simpler model when a series cannot carry the model (recorded in
the ``fallback`` column, never a crash).

This module imports no estimation library: the models flow one way,
``frame <- base <- baselines <- glm, prophet, endemic_epidemic <- ensemble <- registry``.
"""

from __future__ import annotations

import logging
import warnings
import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import MISSING, dataclass, fields
from typing import Any, Self, TypeVar

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from forecast.checks import draw_count, steps_ahead
from forecast.errors import ModelError
from forecast.models.frame import DEFAULT_DRAWS, ForecastFrame
from forecast.panel import PanelData

__all__ = ["CountModel", "JointPaths", "Neighbours", "SeriesFitError", "SeriesForecast", "SeriesModel", "progress_bar", "unit_rng"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Adjacency between units: unit id -> ids of its neighbours.
Neighbours = Mapping[str, Sequence[str]]


def unit_rng(seed: int, model: str, unit: str) -> np.random.Generator:
    """Independent, reproducible random stream for one model and unit.

    Keyed by names rather than positions, so a unit's draws do not change when
    other units are added to or removed from the panel.
    """
    return np.random.default_rng([int(seed), zlib.crc32(model.encode()), zlib.crc32(unit.encode())])


def progress_bar(items: Sequence[T], desc: str, enabled: bool) -> Iterator[T]:
    """The one progress bar over units (tqdm on stderr); silent when ``enabled`` is false."""
    return iter(tqdm(items, desc=desc, disable=not enabled, leave=False, unit="unit"))



class CountModel(ABC):
    """A forecaster of count distributions: ``fit(panel)`` then ``predict(h)``.

    Subclasses are dataclasses whose fields are their options (so the registry
    can list them); ``alias`` names the model in the output's ``model`` column.
    """

    alias: str

    @abstractmethod
    def fit(
        self,
        panel: pd.DataFrame,
        *,
        neighbours: Neighbours | None = None,
        freq: str | None = None,
        progress: bool = False,
    ) -> Self:
        """Fit to a long, complete panel ``unit_id, ds, y`` and return ``self``."""

    @abstractmethod
    def predict(self, h: int, *, n_draws: int = DEFAULT_DRAWS, seed: int = 0) -> ForecastFrame:
        """Predictive draws for steps ``1..h`` after the last fitted period."""

    def forecast(self, panel: pd.DataFrame, h: int, *, n_draws: int = DEFAULT_DRAWS, seed: int = 0, **fit_options: Any) -> ForecastFrame:
        """``fit(panel, **fit_options).predict(h, n_draws=n_draws, seed=seed)`` in one call."""
        return self.fit(panel, **fit_options).predict(h, n_draws=n_draws, seed=seed)

    @property
    def unit_separable(self) -> bool:
        """Whether a unit's forecast depends on its own series only (default False).

        Such a model gives every unit the same fit and draws whether it is fitted
        to the whole panel or to any group of units holding that unit, so
        :func:`forecast.evaluation.backtest.backtest` and
        :func:`forecast.models.registry.forecast_panel` may split its work by
        unit groups (:func:`forecast.parallel.group_count`). Models whose units see each other (neighbour terms, joint
        likelihoods) are not separable and always get the whole panel.
        """
        return False

    @classmethod
    def option_names(cls) -> list[str]:
        """The options the model takes (its dataclass fields)."""
        return [f.name for f in fields(cls) if f.init]  # type: ignore[arg-type]

    def spec(self) -> str:
        """The model as a spec string: its alias and the options that differ from their defaults.

        Examples
        --------
        >>> from forecast.models.baselines import HistoricalMean
        >>> HistoricalMean(window=52).spec(), HistoricalMean().spec()
        ('hist_mean(window=52)', 'hist_mean')
        """
        changed = [
            f"{f.name}={getattr(self, f.name)!r}"
            for f in fields(self)  # type: ignore[arg-type]
            if f.init and f.name != "alias" and f.default is not MISSING and getattr(self, f.name) != f.default
        ]
        return f"{self.alias}({', '.join(changed)})" if changed else self.alias

    def _check_fitted(self) -> None:
        if not hasattr(self, "data_"):
            raise ModelError(f"{self.alias}: call fit(panel) before predict(h)")


class JointPaths:
    """Paths of every unit simulated together, for models whose units see each other's counts.

    The units on a fallback are drawn first (their own seeded stream), so
    their paths can feed their neighbours; :meth:`counts_at` gives a unit's
    observed count before the forecast origin and this path's simulated one
    after it. ``fitted`` maps the row of every unit with a real fit to its state.
    """

    def __init__(self, model: SeriesModel, h: int, n_draws: int, seed: int) -> None:
        data = model.data_
        self.n_obs = data.y.shape[1]
        self.y = data.y
        self.n_draws = n_draws
        self.rngs = [unit_rng(seed, type(model).__name__, u) for u in data.units]
        self.paths = np.zeros((len(data.units), h, n_draws), dtype=np.int64)
        self.forecasts: dict[str, SeriesForecast] = {}
        self.fitted: dict[int, Any] = {}
        for row, unit in enumerate(data.units):
            state = model.states_[unit]
            if isinstance(state, _Fallback):
                self.forecasts[unit] = state.model._forecast_series(state.state, h, n_draws, self.rngs[row])
                self.paths[row] = self.forecasts[unit].draws
            else:
                self.fitted[row] = state

    def counts_at(self, row: int, t: int) -> np.ndarray:
        """Unit ``row``'s count in period ``t`` per path (observed before the origin, simulated after)."""
        if t < self.n_obs:
            return np.full(self.n_draws, float(self.y[row, t]))
        return self.paths[row, t - self.n_obs].astype(float)


@dataclass(frozen=True)
class SeriesForecast:
    """One unit's forecast: draws ``(h, n_draws)`` and, optionally, an exact distribution per step.

    ``mu``/``size`` are arrays of length ``h``; NaN in ``mu`` marks steps with
    draws only. ``size`` is None (or NaN) for Poisson.
    """

    draws: np.ndarray
    family: str | None = None
    mu: np.ndarray | None = None
    size: np.ndarray | None = None


class SeriesFitError(ModelError):
    """A single series could not be fitted; the model falls back to a baseline for it."""


@dataclass
class _Fallback:
    """Fitted state of a unit handled by a fallback baseline, and why."""

    model: SeriesModel
    state: Any
    reason: str


def _fallback_reason(state: Any) -> str | None:
    """Why a unit's forecast is not the model's own: a fallback baseline, or a state's ``note``."""
    if isinstance(state, _Fallback):
        return state.reason
    return getattr(state, "note", None)


def _fit_one_series(model: SeriesModel, y: np.ndarray, row: int) -> tuple[Any, str | None, int, str | None]:
    """One series' fit, run here or in a worker: ``(state, failure reason, warnings, first warning)``.

    Warnings (convergence, overflow) are caught per series so many series do
    not make a warning storm; a :class:`SeriesFitError` becomes the reason the
    series falls back.
    """
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            state = model._fit_series(y, row)
    except SeriesFitError as exc:
        return None, exc.detail, 0, None
    return state, None, len(caught), str(caught[0].message) if caught else None


class SeriesModel(CountModel):
    """A model fitted to each unit's series separately, in one loop.

    Subclasses implement :meth:`_fit_series` and :meth:`_forecast_series`; they
    may override :meth:`_prepare` (resolve options that depend on the panel),
    :meth:`_unsuitable` (why a series cannot carry the model) and
    :meth:`_fallback_model` (the simpler model used then).
    """

    @property
    def unit_separable(self) -> bool:
        """True: each series is fitted and drawn on its own (its stream keyed by the unit's name)."""
        return True

    # ---------------------------------------------------------------- hooks
    def _prepare(self, data: PanelData, neighbours: Neighbours | None) -> None:
        """Resolve panel-dependent options before the loop (default: nothing)."""

    def _unsuitable(self, y: np.ndarray) -> str | None:
        """Why series ``y`` should use the fallback instead, or None (default: always suitable)."""
        return None

    @abstractmethod
    def _fit_series(self, y: np.ndarray, unit: int) -> Any:
        """Fit one series (row ``unit`` of the panel); raise :class:`SeriesFitError` if it fails."""

    @abstractmethod
    def _forecast_series(self, state: Any, h: int, n_draws: int, rng: np.random.Generator) -> SeriesForecast:
        """Forecast one fitted series."""

    # ----------------------------------------------------------- the loop
    def fit(
        self,
        panel: pd.DataFrame,
        *,
        neighbours: Neighbours | None = None,
        freq: str | None = None,
        progress: bool = False,
    ) -> Self:
        """Fit every unit of ``panel``; unsuitable or failed units get the fallback baseline.

        Warnings raised while fitting a series (convergence, overflow) are
        caught per series and logged at DEBUG level, so many series do not
        produce a warning storm; a failed fit is recorded in the ``fallback``
        column of the forecast.
        """
        from forecast.parallel import get_executor, run_tasks

        data = panel if isinstance(panel, PanelData) else PanelData.from_panel(panel, freq=freq)
        self._prepare(data, neighbours)
        self.data_ = data
        self.progress_ = progress
        self.states_: dict[str, Any] = {}
        reasons = {row: self._unsuitable(data.y[row]) for row in range(len(data.units))}
        suitable = [row for row, reason in reasons.items() if reason is None]
        workers = self._fit_workers()
        # Slow per-series fits (prophet) go to worker processes; the result is the same as in order.
        with get_executor("processes" if workers > 1 and len(suitable) > 1 else "inprocess", workers=workers) as pool:
            fitted = run_tasks(
                _fit_one_series, [(self, data.y[row], row) for row in suitable], executor=pool,
                progress=progress, desc=f"fit {self.alias}", unit="unit",
            )
        for row, (state, failure, n_warnings, first_warning) in zip(suitable, fitted, strict=True):
            if n_warnings:
                logger.debug("%s/%s: %d warning(s) while fitting, first: %s", self.alias, data.units[row], n_warnings, first_warning)
            if failure is None:
                self.states_[data.units[row]] = state
            else:
                reasons[row] = failure
        for row, unit in enumerate(data.units):
            if unit not in self.states_:
                self.states_[unit] = self._fit_fallback(data, data.y[row], row, reasons[row])
        self.states_ = {unit: self.states_[unit] for unit in data.units}
        n_fallback = sum(isinstance(s, _Fallback) for s in self.states_.values())
        if n_fallback:
            logger.info("%s: %d of %d units use a fallback baseline", self.alias, n_fallback, len(data.units))
        return self

    def _fit_workers(self) -> int:
        """Worker processes for the per-series fits (default 1: in this process)."""
        return 1

    def _fallback_model(self, data: PanelData) -> SeriesModel | None:
        """The simpler model for series this one cannot carry; None: such a series is an error.

        An instance, not a name: the contract layer never looks models up by
        name (the registry sits above it).
        """
        return None

    def _fit_fallback(self, data: PanelData, y: np.ndarray, row: int, reason: str) -> _Fallback:
        baseline = self._fallback_model(data)
        if baseline is None:
            raise ModelError(f"{self.alias}: unit {data.units[row]!r}: {reason}")
        baseline._prepare(data, None)
        return _Fallback(baseline, baseline._fit_series(y, row), f"{reason}: used {baseline.spec()}")

    def fallbacks(self) -> dict[str, str]:
        """Units that use a fallback (a baseline or a simpler fit), with the reason."""
        self._check_fitted()
        reasons = {u: _fallback_reason(s) for u, s in self.states_.items()}
        return {u: r for u, r in reasons.items() if r}

    def predict(self, h: int, *, n_draws: int = DEFAULT_DRAWS, seed: int = 0) -> ForecastFrame:
        """Forecast every fitted unit ``h`` steps ahead with ``n_draws`` seeded draws."""
        self._check_fitted()
        h, n_draws = steps_ahead(h, "horizon"), draw_count(n_draws, "n_draws")
        forecasts: dict[str, SeriesForecast] = {}
        for unit in progress_bar(self.data_.units, f"predict {self.alias}", self.progress_):
            forecasts[unit] = self._forecast_unit(unit, h, n_draws, unit_rng(seed, type(self).__name__, unit))
        return self._assemble(forecasts, h)

    def _forecast_unit(self, unit: str, h: int, n_draws: int, rng: np.random.Generator) -> SeriesForecast:
        state = self.states_[unit]
        if isinstance(state, _Fallback):
            return state.model._forecast_series(state.state, h, n_draws, rng)
        return self._forecast_series(state, h, n_draws, rng)

    def _assemble(self, forecasts: Mapping[str, SeriesForecast], h: int) -> ForecastFrame:
        """Stack per-unit forecasts (in panel unit order) into one frame."""
        units = self.data_.units
        future = self.data_.future_ds(h)
        columns: dict[str, list] = {}
        if any(f.family is not None for f in forecasts.values()):
            family, mu, size = [], [], []
            for unit in units:
                fc = forecasts[unit]
                exact_mu = np.full(h, np.nan) if fc.mu is None else np.asarray(fc.mu, dtype=float)
                exact_size = np.full(h, np.nan) if fc.size is None else np.asarray(fc.size, dtype=float)
                family += [fc.family if (fc.family and np.isfinite(m)) else None for m in exact_mu]
                mu += list(exact_mu)
                size += list(np.where(np.isfinite(exact_mu), exact_size, np.nan))
            columns = {"family": family, "dist_mu": mu, "dist_size": size}
        reasons = [_fallback_reason(self.states_[u]) for u in units]
        frame = ForecastFrame.from_draws(
            unit_ids=[unit for unit in units for _ in range(h)],
            ds=np.tile(future.to_numpy(), len(units)),
            step=np.tile(np.arange(1, h + 1), len(units)),
            draws=np.vstack([forecasts[u].draws for u in units]),
            model=self.alias,
            fallback=np.repeat(np.asarray(reasons, dtype=object), h),
            **columns,
        )
        frame.meta.update({"freq": self.data_.freq, "last_ds": self.data_.ds[-1]})
        return frame
