"""Per-series count models: the shared machinery and the VIEWS-style baselines.

Every model in :mod:`forecast.models` is a :class:`CountModel`: ``fit(panel)``
then ``predict(h)`` returns a :class:`~forecast.models.base.ForecastFrame`.
Models that treat each unit on its own derive from :class:`SeriesModel`, which
owns the one loop over units (with a tqdm progress bar that can be turned off),
the per-unit random streams, quiet handling of fitting warnings and the
fallback to a baseline when a series cannot carry the model (recorded in the
``fallback`` column, never a crash).

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

import logging
import warnings
import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Self, TypeVar

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from forecast.checks import whole_number
from forecast.errors import EmptyDataError, InputError, ModelError, ParameterError
from forecast.models.base import DEFAULT_DRAWS, ForecastFrame

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Adjacency between units: unit id -> ids of its neighbours.
Neighbours = Mapping[str, Sequence[str]]


# ---------------------------------------------------------------- the panel
@dataclass(frozen=True)
class PanelData:
    """A validated panel as a dense ``units x periods`` count matrix.

    Build it with :meth:`from_panel`; models never see a malformed panel.

    Attributes
    ----------
    units
        Unit ids, sorted.
    ds
        The regular period starts, oldest first.
    freq
        Pandas frequency string of ``ds`` (``"W-MON"``, ``"MS"``, ...).
    y
        Counts, shape ``(len(units), len(ds))``, int64.
    """

    units: list[str]
    ds: pd.DatetimeIndex
    freq: str
    y: np.ndarray

    @classmethod
    def from_panel(cls, panel: pd.DataFrame, *, freq: str | None = None) -> PanelData:
        """Validate a long panel ``unit_id, ds, y`` and pivot it.

        Raises
        ------
        EmptyDataError
            The panel has no rows.
        InputError
            Missing columns, NaN / negative / fractional counts, duplicate rows,
            a single period, irregular dates or an incomplete unit.
        """
        if not isinstance(panel, pd.DataFrame):
            raise InputError(f"a panel must be a pandas DataFrame, got {type(panel).__name__}")
        missing = [c for c in ("unit_id", "ds", "y") if c not in panel.columns]
        if missing:
            raise InputError(
                f"panel lacks columns {missing} (has {list(panel.columns)}); "
                "build it with forecast.panel.build_panel"
            )
        if panel.empty:
            raise EmptyDataError(
                "the panel is empty: no unit has any period; check the country, actor and date "
                "filters used to build it"
            )
        ds = pd.to_datetime(panel["ds"], errors="coerce")
        if ds.isna().any():
            row = int(np.flatnonzero(ds.isna().to_numpy())[0])
            raise InputError(f"missing or unparsable date {panel['ds'].iloc[row]!r}", row=row + 1, column="ds")
        y = pd.to_numeric(panel["y"], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(y)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"{int(bad.sum())} count(s) are NaN or not numbers, the first for unit "
                f"{panel['unit_id'].iloc[row]!r} at {ds.iloc[row].date()}; a complete panel has 0 "
                "where nothing happened: fill with 0 or rebuild with forecast.panel.build_panel",
                row=row + 1,
                column="y",
            )
        bad = (y < 0) | (y != np.round(y))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"counts must be non-negative integers; found {y[row]!r} for unit "
                f"{panel['unit_id'].iloc[row]!r} at {ds.iloc[row].date()}",
                row=row + 1,
                column="y",
            )
        frame = pd.DataFrame({"unit_id": panel["unit_id"].astype(str).to_numpy(), "ds": ds.to_numpy(), "y": y})
        duplicated = frame.duplicated(["unit_id", "ds"])
        if duplicated.any():
            first = frame[duplicated].iloc[0]
            raise InputError(
                f"{int(duplicated.sum())} duplicate unit_id x ds rows, e.g. {first['unit_id']!r} at "
                f"{first['ds'].date()}; a panel has one row per unit and period"
            )
        periods = pd.DatetimeIndex(np.sort(frame["ds"].unique()))
        if len(periods) < 2:
            raise InputError(
                f"the panel has a single period ({periods[0].date()}); models need at least 2 "
                "periods to fit and to know the frequency: build a longer panel"
            )
        freq = freq or panel.attrs.get("freq") or _infer_freq(periods)
        expected = pd.date_range(periods[0], periods[-1], freq=freq)
        if len(expected) != len(periods) or not expected.equals(periods):
            gaps = expected.difference(periods)
            found = f"missing {gaps[0].date()}" if len(gaps) else f"{periods.difference(expected)[0].date()} is off-grid"
            raise InputError(
                f"panel dates are not regular at frequency {freq} ({found}); build the panel with "
                "forecast.panel.build_panel, which zero-fills every period",
                column="ds",
            )
        wide = frame.pivot(index="unit_id", columns="ds", values="y").reindex(columns=periods)
        incomplete = wide.isna().sum(axis=1)
        if incomplete.any():
            unit = incomplete[incomplete > 0].index[0]
            first = wide.columns[wide.loc[unit].isna().to_numpy()][0]
            raise InputError(
                f"unit {unit!r} lacks {int(incomplete[unit])} period(s) (first {first.date()}); "
                "the panel must be complete (zeros are rows)"
            )
        return cls(units=[str(u) for u in wide.index], ds=periods, freq=freq, y=wide.to_numpy(dtype=np.int64))

    @classmethod
    def from_counts(
        cls,
        y: np.ndarray,
        *,
        start: str = "2015-01-05",
        freq: str = "W-MON",
        units: Sequence[str] | None = None,
    ) -> PanelData:
        """Wrap a ``units x periods`` count matrix (e.g. a simulation) as panel data.

        Examples
        --------
        >>> data = PanelData.from_counts(np.array([[0, 1, 2], [3, 0, 0]]), start="2021-01-01", freq="MS")
        >>> data.to_frame().head(2).to_dict("list")["ds"]
        [Timestamp('2021-01-01 00:00:00'), Timestamp('2021-02-01 00:00:00')]
        """
        y = np.atleast_2d(np.asarray(y, dtype=np.int64))
        units = [f"U{i:03d}" for i in range(y.shape[0])] if units is None else [str(u) for u in units]
        return cls(units=units, ds=pd.date_range(start, periods=y.shape[1], freq=freq), freq=freq, y=y)

    def to_frame(self) -> pd.DataFrame:
        """The long panel ``unit_id, ds, y`` (unit-major order)."""
        return pd.DataFrame(
            {
                "unit_id": np.repeat(np.asarray(self.units, dtype=object), self.n_periods),
                "ds": np.tile(self.ds.to_numpy(), len(self.units)),
                "y": self.y.reshape(-1),
            }
        )

    @property
    def n_periods(self) -> int:
        """Number of periods."""
        return len(self.ds)

    def future_ds(self, h: int) -> pd.DatetimeIndex:
        """The ``h`` period starts after the last observed one."""
        return pd.date_range(self.ds[-1], periods=h + 1, freq=self.freq)[1:]

    def index_of(self, unit: str) -> int:
        """Row of ``unit`` in :attr:`y`."""
        return self.units.index(unit)


def _infer_freq(periods: pd.DatetimeIndex) -> str:
    """Frequency of period starts: weekly or month-start by their steps (gaps allowed), else pandas'."""
    weeks = (periods[1:] - periods[:-1]) / pd.Timedelta(days=7)
    if np.all(weeks == np.round(weeks)) and np.median(weeks) == 1:
        return f"W-{periods[0].day_name()[:3].upper()}"
    if all(p.day == 1 for p in periods) and np.median(np.diff(periods.year * 12 + periods.month)) == 1:
        return "MS"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas 3 warns that infer_freq will return an offset
        freq = pd.infer_freq(periods) if len(periods) >= 3 else None
    if freq:
        return getattr(freq, "freqstr", freq)
    raise InputError(
        f"cannot tell the frequency of the panel dates ({periods[0].date()}, {periods[1].date()}, ...); "
        "pass freq='W-MON' or freq='MS'",
        column="ds",
    )


def default_season(freq: str) -> int | None:
    """Periods per seasonal cycle for a frequency: 52 weekly, 12 monthly, 4 quarterly.

    Examples
    --------
    >>> default_season("W-MON"), default_season("MS"), default_season("D")
    (52, 12, None)
    """
    offset = pd.tseries.frequencies.to_offset(freq)
    if isinstance(offset, pd.offsets.Week):
        return 52
    if isinstance(offset, pd.offsets.MonthBegin | pd.offsets.MonthEnd):
        return 12
    if isinstance(offset, pd.offsets.QuarterBegin | pd.offsets.QuarterEnd):
        return 4
    return None


def periods_per_year(freq: str) -> float:
    """Periods in a year (weeks: 52, months: 12, ...); 1.0 when the frequency has no year.

    Used to state trends per year, so coefficients read the same for any window.
    """
    season = default_season(freq)
    if season is not None:
        return float(season)
    if isinstance(pd.tseries.frequencies.to_offset(freq), pd.offsets.Day):
        return 365.25
    return 1.0


# ------------------------------------------------------------- shared tools
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
    mu = np.clip(np.nan_to_num(np.asarray(mu, dtype=float), nan=0.0), 0.0, None)
    if size is None:
        return rng.poisson(mu)
    size = np.asarray(size, dtype=float)
    finite = np.isfinite(size) & (size > 0)
    safe = np.where(finite, size, 1.0)
    gamma = rng.gamma(shape=safe, scale=1.0 / safe, size=np.broadcast_shapes(mu.shape, safe.shape))
    return rng.poisson(mu * np.where(finite, gamma, 1.0))


def unit_rng(seed: int, model: str, unit: str) -> np.random.Generator:
    """Independent, reproducible random stream for one model and unit.

    Keyed by names rather than positions, so a unit's draws do not change when
    other units are added to or removed from the panel.
    """
    return np.random.default_rng([int(seed), zlib.crc32(model.encode()), zlib.crc32(unit.encode())])


def progress_bar(items: Sequence[T], desc: str, enabled: bool) -> Iterator[T]:
    """The one progress bar over units (tqdm on stderr); silent when ``enabled`` is false."""
    return iter(tqdm(items, desc=desc, disable=not enabled, leave=False, unit="unit"))


# ----------------------------------------------------------- the contracts
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

    @classmethod
    def option_names(cls) -> list[str]:
        """The options the model takes (its dataclass fields)."""
        return [f.name for f in fields(cls) if f.init]  # type: ignore[arg-type]

    def _check_fitted(self) -> None:
        if not hasattr(self, "data_"):
            raise ModelError(f"{self.alias}: call fit(panel) before predict(h)")


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


class SeriesModel(CountModel):
    """A model fitted to each unit's series separately, in one loop.

    Subclasses implement :meth:`_fit_series` and :meth:`_forecast_series`; they
    may override :meth:`_prepare` (resolve options that depend on the panel),
    :meth:`_unsuitable` (why a series cannot carry the model) and
    :attr:`fallback_name` (the baseline used then).
    """

    #: Registry name of the baseline used for unsuitable or failed series.
    fallback_name: ClassVar[str] = "hist_mean"

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
        data = panel if isinstance(panel, PanelData) else PanelData.from_panel(panel, freq=freq)
        self._prepare(data, neighbours)
        self.data_ = data
        self.progress_ = progress
        self.states_: dict[str, Any] = {}
        for row, unit in enumerate(progress_bar(data.units, f"fit {self.alias}", progress)):
            y = data.y[row]
            reason = self._unsuitable(y)
            if reason is None:
                try:
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always")
                        self.states_[unit] = self._fit_series(y, row)
                    if caught:
                        logger.debug("%s/%s: %d warning(s) while fitting, first: %s", self.alias, unit, len(caught), caught[0].message)
                    continue
                except SeriesFitError as exc:
                    reason = exc.detail
            self.states_[unit] = self._fit_fallback(data, y, row, reason)
        n_fallback = sum(isinstance(s, _Fallback) for s in self.states_.values())
        if n_fallback:
            logger.info("%s: %d of %d units use a fallback baseline", self.alias, n_fallback, len(data.units))
        return self

    def _fallback_spec(self, data: PanelData) -> str:
        """Registry spec of the fallback baseline (default :attr:`fallback_name`)."""
        return self.fallback_name

    def _fit_fallback(self, data: PanelData, y: np.ndarray, row: int, reason: str) -> _Fallback:
        from forecast.models.registry import make_model

        spec = self._fallback_spec(data)
        baseline = make_model(spec)
        assert isinstance(baseline, SeriesModel)
        baseline._prepare(data, None)
        return _Fallback(baseline, baseline._fit_series(y, row), f"{reason}: used {spec}")

    def fallbacks(self) -> dict[str, str]:
        """Units that use a fallback (a baseline or a simpler fit), with the reason."""
        self._check_fitted()
        reasons = {u: _fallback_reason(s) for u, s in self.states_.items()}
        return {u: r for u, r in reasons.items() if r}

    def predict(self, h: int, *, n_draws: int = DEFAULT_DRAWS, seed: int = 0) -> ForecastFrame:
        """Forecast every fitted unit ``h`` steps ahead with ``n_draws`` seeded draws."""
        self._check_fitted()
        h, n_draws = whole_number(h, "horizon"), whole_number(n_draws, "n_draws")
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
        size = mean**2 / (var - mean) if var > mean > 0 else np.inf
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

    fallback_name: ClassVar[str] = "last"

    def __post_init__(self) -> None:
        whole_number(self.season, "seasonal_naive: option season", minimum=1, allow_none=True)

    def _prepare(self, data: PanelData, neighbours: Neighbours | None) -> None:
        season = self.season or default_season(data.freq)
        if season is None:
            raise ParameterError(f"seasonal_naive: frequency {data.freq} has no default season; pass season=N")
        self.season_ = season

    def _unsuitable(self, y: np.ndarray) -> str | None:
        if len(y) < self.season_:
            return f"only {len(y)} periods, fewer than one season ({self.season_})"
        return None

    def _fit_series(self, y: np.ndarray, unit: int) -> np.ndarray:
        return y[-self.season_ :].astype(float)

    def _forecast_series(self, state: np.ndarray, h: int, n_draws: int, rng: np.random.Generator) -> SeriesForecast:
        mu = state[np.arange(h) % len(state)]
        return SeriesForecast(rng.poisson(mu[:, None], size=(h, n_draws)), "poisson", mu)
