"""Alarm rules and alert levels: which provinces should an analyst look at now, and why.

Five rule families look at each unit outside the stronghold. Each is one
class computing one statistic for every period from data known before it
(results as attributes, as in esda), so the same code answers "what fires as
of today?" (:func:`evaluate_warnings`) and "how well would the rules have
done?" (:func:`alarm_history`, :func:`detection_scores`).

===============  =================================================================  ==========
family           statistic and threshold                                            level
===============  =================================================================  ==========
``exceedance``   ``P(Y >= y)`` for the period's events ``y`` under the in-control   warning
                 one-step forecast made before the period; fires below ``alpha``
``emergence``    events in the last ``recent_periods`` after ``quiet_periods``      warning
                 without any (or the first on record); fires at
                 ``emergence_events``, fewer events give a watch
``cusum``        Poisson/negative-binomial log-likelihood-ratio CUSUM against the   warning
                 in-control one-step forecast ``mu0``, tuned to an increase to
                 ``max(cusum_factor * mu0, mu0 + cusum_shift)``; fires at
                 ``cusum_h`` and restarts
``hotspot``      Getis-Ord Gi* z of the last ``recent_periods``' events (esda,      watch
                 analytical z, Benjamini-Hochberg FDR at ``hotspot_alpha``), bins
                 classified as in Emerging Hot Spot Analysis with a Mann-Kendall
                 trend; fires for ``hotspot_categories``
``imported``     share of the expected count the spread model imports from the      watch
                 stronghold (:func:`forecast.spread.spillover_share`); fires when
                 it rises to ``imported_share`` or by ``imported_factor``
===============  =================================================================  ==========

The in-control forecast (:class:`InControl`) is what the unit would do if
nothing changed: its own mean (the ``hist_mean`` baseline of
:mod:`forecast.models.baselines` on the ``baseline_periods`` ending
``guard_periods`` before the period, plus ``prior_events`` so a unit quiet
for a year is not certain to stay quiet), moved by last period's own and
neighbouring events with coefficients shared by all units (a linear one-step
version of the endemic-epidemic model's autoregressive and neighbour parts,
refitted every ``dynamics_refit`` periods on data before them). Counting the
aftershocks of a single attack and the echo of the stronghold's surges as
"in control" is what keeps false alarms rare: most bursts in a quiet
province are one attack and its follow-ups.

Alarms are *raised* in a period (new events that cross a threshold, a CUSUM
signal); :func:`evaluate_warnings` reports, as of a date, the alarms raised
in the last ``recent_periods``. Levels (:data:`forecast.schema.ALERT_LEVELS`)
combine the families:

- **watch**: some family raised a flag that is not evidence of spread alone
  (a hot spot, a rising imported share, one or two events after a quiet year);
- **warning**: a family in ``warning_rules`` fired (exceedance, emergence or
  CUSUM: the unit's own counts departed from its in-control forecast);
- **alert**: a warning and at least ``alert_families`` families in total
  agree (e.g. a CUSUM signal in a unit whose imported share is rising).

The defaults were chosen from the evaluation in ``bench/bench_alarms.py``
(``bench/RESULTS.md``; figures in :func:`alarm_skill`).

Examples
--------
>>> from forecast.data.synthetic import generate_scenario
>>> s = generate_scenario(seed=2, start="2019-01-07", end="2021-12-27", spread={"Kunduz": "2021-09-06"})
>>> result = evaluate_warnings(s.counts[["unit_id", "ds", "y"]], "2021-10-04", "Nangarhar", spillover=False)
>>> result.units.set_index("name").loc["Kunduz", "level"] in ("warning", "alert")
True
"""

from __future__ import annotations

import json
import logging
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from forecast.checks import fraction, number, whole_number
from forecast.distributions import count_sf, moment_size
from forecast.errors import EmptyDataError, ForecastError, InputError, ParameterError
from forecast.geo.gazetteer import Gazetteer
from forecast.panel import PanelData
from forecast.schema import ALARMS, ALERT_LEVELS, validate
from forecast.spread import (
    Spillover,
    Stronghold,
    find_stronghold,
    gazetteer_for,
    panel_bounds,
    quiet_before,
    spillover_share,
    spread_indicators,
)

logger = logging.getLogger(__name__)

__all__ = [
    "RULES",
    "AlarmHistory",
    "AlarmRule",
    "Cusum",
    "Emergence",
    "Exceedance",
    "HotSpots",
    "ImportedRisk",
    "WarningConfig",
    "WarningResult",
    "alarm_history",
    "alarm_skill",
    "evaluate_warnings",
    "in_control",
    "evaluate_alarm_skill",
    "skill_scenarios",
    "detection_scores",
    "summarise_skill",
    "warn_events",
    "warn_schema",
]

#: Rule families, in the order reasons list them.
RULES: tuple[str, ...] = ("emergence", "exceedance", "cusum", "hotspot", "imported")
#: Numeric codes of the levels (index into :data:`forecast.schema.ALERT_LEVELS`).
NONE, WATCH, WARNING, ALERT = range(4)
#: Emerging Hot Spot Analysis categories (hot side; cold spots only matter for "oscillating").
HOTSPOT_CATEGORIES = (
    "new",
    "consecutive",
    "intensifying",
    "persistent",
    "diminishing",
    "sporadic",
    "oscillating",
    "historical",
)


# ------------------------------------------------------------------ config
@dataclass(frozen=True)
class WarningConfig:
    """Every threshold of the alarm rules and the level mapping.

    Periods are periods of the panel (weeks for ``W-MON``); use
    :meth:`for_freq` to get defaults for monthly panels. The weekly defaults
    are the ones calibrated in ``bench/bench_alarms.py``.

    Parameters
    ----------
    recent_periods
        The window an assessment reports on ("alarms raised in the last 4
        weeks"); also the window of the emergence rule and the hot-spot bins.
    baseline_periods
        Length of the window of a unit's in-control mean (``hist_mean(window=...)``).
    guard_periods
        Periods between the end of that window and the judged period, so an
        outbreak does not at once become its own baseline.
    min_baseline_periods
        Rules that need an in-control forecast stay silent until the window
        holds this many periods.
    prior_events
        Events added to the baseline window's total before dividing by its
        length, so the in-control mean of a quiet unit is ``prior_events /
        baseline_periods`` rather than 0 (which would make any event infinitely surprising).
    dynamics_periods, dynamics_refit
        The shared own-lag and neighbour coefficients of the in-control
        forecast are fitted (least squares, all units outside the stronghold)
        on this many periods and refitted every ``dynamics_refit`` periods.
    min_size
        Smallest negative-binomial size of the in-control forecast; ``inf``
        (default) makes it Poisson around the one-step mean, whose own-lag
        and neighbour terms already carry the clustering of attacks.
    alpha
        Exceedance: fires when ``P(Y >= y) < alpha``.
    quiet_periods
        Emergence: periods without events that make a unit quiet.
    emergence_events
        Emergence: events in the recent window after a quiet stretch that fire
        the rule (fewer, but at least one, give a watch).
    cusum_factor, cusum_shift
        CUSUM: the out-of-control mean it is tuned to detect is
        ``max(cusum_factor * mu0, mu0 + cusum_shift)`` (``cusum_shift`` in
        events per period keeps the target meaningful where ``mu0`` is tiny).
    cusum_h
        CUSUM: decision threshold on the cumulative log-likelihood ratio.
    hotspot_alpha
        Gi*: false discovery rate (Benjamini-Hochberg) across units per period.
    hotspot_bins
        Gi*: number of bins (of ``recent_periods`` each, the last ending at the
        judged period) classified by Emerging Hot Spot Analysis.
    hotspot_share
        Gi*: fraction of bins that must be hot for persistent, intensifying,
        diminishing and historical (0.9 in ArcGIS).
    hotspot_categories
        Gi*: categories that fire the rule.
    mk_alpha
        Mann-Kendall trend test level for intensifying/diminishing.
    imported_share, imported_factor, imported_min_share
        Imported risk fires when the recent share is at least
        ``imported_min_share`` and either crossed ``imported_share`` from below
        or grew at least ``imported_factor``-fold over the baseline window.
    spillover_periods
        Periods the spread model is fitted to.
    warning_rules
        Families whose firing makes a warning (the others make a watch).
    alert_families
        Families (at watch or above, including a warning family) that make an alert.
    follow_up_periods
        A unit warned within this many periods (but not in the recent window)
        that is still active stays on watch, so an assessment does not drop a
        spreading province because its CUSUM restarted.
    stronghold_window, stronghold_share
        Baseline window and share of :func:`forecast.spread.find_stronghold`.
    """

    recent_periods: int = 4
    baseline_periods: int = 52
    guard_periods: int = 4
    min_baseline_periods: int = 13
    prior_events: float = 0.5
    dynamics_periods: int = 104
    dynamics_refit: int = 13
    min_size: float = math.inf
    alpha: float = 0.001
    quiet_periods: int = 52
    emergence_events: int = 3
    cusum_factor: float = 2.0
    cusum_shift: float = 1.0
    cusum_h: float = 4.5
    hotspot_alpha: float = 0.05
    hotspot_bins: int = 13
    hotspot_share: float = 0.9
    hotspot_categories: tuple[str, ...] = ("new", "consecutive", "intensifying")
    mk_alpha: float = 0.05
    imported_share: float = 0.25
    imported_factor: float = 2.0
    imported_min_share: float = 0.1
    spillover_periods: int = 104
    warning_rules: tuple[str, ...] = ("exceedance", "emergence", "cusum")
    alert_families: int = 2
    follow_up_periods: int = 13
    stronghold_window: int = 52
    stronghold_share: float = 0.5

    def __post_init__(self) -> None:
        for name in ("recent_periods", "baseline_periods", "min_baseline_periods", "quiet_periods",
                     "emergence_events", "hotspot_bins", "spillover_periods", "alert_families",
                     "stronghold_window", "dynamics_periods", "dynamics_refit", "follow_up_periods"):
            whole_number(getattr(self, name), f"WarningConfig.{name}")
        for name in ("alpha", "hotspot_alpha", "mk_alpha", "hotspot_share", "stronghold_share",
                     "imported_share", "imported_min_share"):
            fraction(getattr(self, name), f"WarningConfig.{name}", include_one=True)
        for name in ("prior_events", "cusum_shift", "cusum_h", "min_size"):
            number(getattr(self, name), f"WarningConfig.{name}", minimum=0, allow_inf=True)
        for name in ("cusum_factor", "imported_factor"):
            number(getattr(self, name), f"WarningConfig.{name}", minimum=1, allow_inf=True)
        whole_number(self.guard_periods, "WarningConfig.guard_periods")
        if self.min_baseline_periods > self.baseline_periods:
            raise ParameterError("WarningConfig.min_baseline_periods cannot exceed baseline_periods")
        for name, allowed in (("hotspot_categories", HOTSPOT_CATEGORIES), ("warning_rules", RULES)):
            unknown = [v for v in getattr(self, name) if v not in allowed]
            if unknown:
                raise ParameterError(f"WarningConfig.{name} has unknown entries {unknown}; choose from {list(allowed)}")

    @classmethod
    def for_freq(cls, freq: str, **overrides: Any) -> WarningConfig:
        """Defaults for a panel frequency, with ``overrides``.

        Weekly (``W-MON``) defaults are the calibrated ones. Monthly (``MS``)
        defaults keep the same durations (a month's window, a year's baseline
        and quiet stretch, two years for the spread model) and scale the CUSUM
        shift to a month; they have not been calibrated separately.

        Examples
        --------
        >>> WarningConfig.for_freq("MS").quiet_periods
        12
        """
        unknown = sorted(set(overrides) - set(cls.__dataclass_fields__))
        if unknown:
            raise ParameterError(
                f"unknown warning threshold(s) {unknown}; valid: {', '.join(sorted(cls.__dataclass_fields__))}"
            )
        # Lists from YAML/JSON parameters become the tuples the rules expect.
        overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
        if freq == "MS":
            monthly = dict(
                recent_periods=1, baseline_periods=12, guard_periods=1, min_baseline_periods=6,
                dynamics_periods=24, dynamics_refit=3, quiet_periods=12, emergence_events=2,
                cusum_shift=4.0, hotspot_bins=12, spillover_periods=36, stronghold_window=12,
            )
            return cls(**{**monthly, **overrides})
        if freq not in ("W-MON",):
            raise ParameterError(f"frequency '{freq}' is not supported; use W-MON or MS")
        return cls(**overrides)

    def to_dict(self) -> dict[str, Any]:
        """JSON-simple copy of every threshold (an infinite ``min_size`` becomes None: Poisson)."""
        return {
            k: list(v) if isinstance(v, tuple) else (None if isinstance(v, float) and math.isinf(v) else v)
            for k, v in asdict(self).items()
        }


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


# ------------------------------------------------------------------- rules
class AlarmRule:
    """One rule family evaluated for every unit and period.

    Attributes
    ----------
    units, ds
        Units (rows) and periods (columns) of the arrays.
    fired
        ``(units, periods)`` bool: the statistic crossed its threshold.
    level
        ``(units, periods)`` int: the level the rule alone implies (0 none,
        1 watch, 2 warning).
    statistic
        ``(units, periods)`` float: the rule's statistic.
    threshold
        The threshold it is compared with.
    """

    name: ClassVar[str] = ""
    #: Level the rule implies when it fires.
    fires_at: ClassVar[int] = WARNING

    units: list[str]
    ds: pd.DatetimeIndex
    fired: np.ndarray
    level: np.ndarray
    statistic: np.ndarray
    threshold: float
    unit_word: str = "week"

    def detail(self, i: int, t: int) -> str:  # pragma: no cover - every rule overrides
        """Plain-language fragment for unit row ``i`` at period column ``t``."""
        raise NotImplementedError

    def table(self, t: int = -1, window: int = 1) -> pd.DataFrame:
        """Per-unit table of the alarms raised in the ``window`` periods ending at ``t``.

        Columns ``unit_id, rule, fired, level, statistic, threshold, detail,
        period``: ``fired`` if the rule fired in any of those periods,
        ``level`` the highest level it implied, and ``statistic``, ``detail``
        and ``period`` from the latest period with that level (``t`` itself
        when nothing was raised).
        """
        t = t % len(self.ds)
        first = max(0, t - window + 1)
        levels = self.level[:, first : t + 1]
        top = levels.max(axis=1)
        # Latest period at the top level: argmax over the reversed window.
        offset = levels.shape[1] - 1 - np.argmax((levels == top[:, None])[:, ::-1], axis=1)
        at = np.where(top > NONE, first + offset, t)
        rows = np.arange(len(self.units))
        return pd.DataFrame({
            "unit_id": pd.Series(self.units, dtype=object),
            "rule": self.name,
            "fired": self.fired[:, first : t + 1].any(axis=1),
            "level": [ALERT_LEVELS[v] for v in top],
            "statistic": self.statistic[rows, at].astype(float),
            "threshold": float(self.threshold),
            "detail": [self.detail(i, int(at[i])) if top[i] > NONE else "" for i in rows],
            "period": self.ds[at],
        })

    def series(self) -> pd.DataFrame:
        """The alarm series for skill evaluation: ``unit_id, ds, fired, level, statistic``."""
        n_units, n_periods = self.fired.shape
        return pd.DataFrame({
            "unit_id": pd.Series(np.repeat(self.units, n_periods), dtype=object),
            "ds": np.tile(self.ds.to_numpy(), n_units),
            "fired": self.fired.ravel(),
            "level": self.level.ravel(),
            "statistic": self.statistic.ravel(),
        })

    def _words(self, n: float, noun: str = "attack") -> str:
        n_int = int(round(n))
        return f"{n_int} {noun}{'' if n_int == 1 else 's'}"

    def _periods(self, n: int) -> str:
        return f"{n} {self.unit_word}{'' if n == 1 else 's'}"


def _unit_word(freq: str) -> str:
    return "month" if freq == "MS" else "week"


class Exceedance(AlarmRule):
    """Forecast exceedance: a period's events are improbable under the forecast made before it.

    ``statistic = P(Y >= y)``, where ``y`` is the unit's events in the period
    and ``Y`` follows the in-control one-step forecast (:class:`InControl`).
    Fires when the probability is below ``alpha`` (necessarily a period with
    events).

    Parameters
    ----------
    data
        The panel (validated :class:`~forecast.panel.PanelData`).
    config
        Thresholds.
    in_control
        The in-control forecasts (built from ``data`` when None).
    forecasts
        Optional :class:`~forecast.models.frame.ForecastFrame` (e.g. from
        :func:`forecast.models.registry.forecast_panel` with ``as_of`` the
        period before the last) whose step-1 draws for the last period replace
        the in-control forecast there: ``P(Y >= y)`` is then the share of draws
        at or above ``y`` (with the usual +1 correction of Monte-Carlo p-values).

    Examples
    --------
    >>> import pandas as pd
    >>> ds = pd.date_range("2021-01-04", periods=30, freq="W-MON")
    >>> panel = pd.DataFrame({"unit_id": ["AF-KDZ"] * 30 + ["AF-NAN"] * 30, "ds": list(ds) * 2,
    ...                       "y": [0] * 29 + [3] + [3] * 30})
    >>> rule = Exceedance(PanelData.from_panel(panel), WarningConfig())
    >>> bool(rule.fired[0, -1]), rule.table().loc[0, "detail"]
    (True, '3 attacks in the week of 2021-07-26 where 0.019 were expected (P = 1.2e-06 under the in-control forecast, below 0.001)')
    """

    name = "exceedance"
    fires_at = WARNING

    def __init__(
        self,
        data: PanelData,
        config: WarningConfig,
        in_control: InControl | None = None,
        forecasts: Any = None,
    ) -> None:
        self.units, self.ds, self.config = list(data.units), data.ds, config
        self.unit_word = _unit_word(data.freq)
        forecast = in_control or InControl.fit(data, config)
        self.observed = data.y.astype(float)
        self.expected = forecast.mean.copy()
        self.statistic = count_sf(self.observed, forecast.mean, forecast.size)
        self.source = np.full(len(self.units), "in-control", dtype=object)
        if forecasts is not None:
            self._use_forecasts(forecasts)
        self.threshold = config.alpha
        self.fired = np.isfinite(self.statistic) & (self.statistic < config.alpha)
        self.level = np.where(self.fired, WARNING, NONE)

    def _use_forecasts(self, forecasts: Any) -> None:
        index = forecasts.index
        model = index["model"].iloc[0] if len(index) else None
        last = self.ds[-1]
        rows = (index["model"].to_numpy() == model) & (pd.to_datetime(index["ds"]).to_numpy() == last.to_datetime64())
        rows &= index["step"].to_numpy() == 1
        position = {u: r for r, u in zip(np.flatnonzero(rows), index["unit_id"].to_numpy()[rows], strict=True)}
        for i, unit in enumerate(self.units):
            if unit not in position:
                continue
            draws = forecasts.draws[position[unit]]
            y = self.observed[i, -1]
            self.statistic[i, -1] = (1 + np.sum(draws >= y)) / (1 + len(draws)) if y > 0 else 1.0
            self.expected[i, -1] = draws.mean()
            self.source[i] = str(model)

    def detail(self, i: int, t: int) -> str:
        source = "the in-control forecast"
        if t % len(self.ds) == len(self.ds) - 1 and self.source[i] != "in-control":
            source = f"the {self.source[i]} forecast"
        return (
            f"{self._words(self.observed[i, t])} in the {self.unit_word} of {self.ds[t]:%F} where "
            f"{self.expected[i, t]:.2g} were expected (P = {self.statistic[i, t]:.2g} under {source}, "
            f"below {self.config.alpha:g})"
        )


class Emergence(AlarmRule):
    """Emergence: activity in a unit quiet for ``quiet_periods``, or the first on record.

    ``statistic`` is the number of events in the last ``recent_periods``
    when the unit had no event in the ``quiet_periods`` before them (or none
    at all on record), else 0. Fires at ``emergence_events``; fewer events
    (at least one) give a watch.

    Examples
    --------
    >>> import pandas as pd
    >>> ds = pd.date_range("2021-01-04", periods=60, freq="W-MON")
    >>> panel = pd.DataFrame({"unit_id": ["AF-KDZ"] * 60 + ["AF-NAN"] * 60, "ds": list(ds) * 2,
    ...                       "y": [1] + [0] * 55 + [1, 1, 0, 1] + [3] * 60})
    >>> rule = Emergence(PanelData.from_panel(panel), WarningConfig())
    >>> rule.table().loc[0, "detail"]
    '3 attacks in the last 4 weeks after 55 quiet weeks'
    """

    name = "emergence"
    fires_at = WARNING

    def __init__(self, data: PanelData, config: WarningConfig) -> None:
        r = config.recent_periods
        self.units, self.ds, self.config = list(data.units), data.ds, config
        self.unit_word = _unit_word(data.freq)
        recent = _rolling_sum(data.y, r)
        self.quiet, self.never = quiet_before(data.y, lag=r)
        emerging = (self.quiet >= 0) & ((self.quiet >= config.quiet_periods) | self.never)
        self.statistic = np.where(emerging, recent, 0.0)
        self.threshold = float(config.emergence_events)
        arrived = data.y > 0
        self.fired = (self.statistic >= config.emergence_events) & arrived
        self.level = np.where(self.fired, WARNING, np.where((self.statistic >= 1) & arrived, WATCH, NONE))

    def detail(self, i: int, t: int) -> str:
        r = self.config.recent_periods
        events = self._words(self.statistic[i, t])
        if self.never[i, t]:
            before = self._periods(max(t - r + 1, 0))
            return f"{events} in the last {self._periods(r)}, the first on record ({before} of data before)"
        quiet = int(self.quiet[i, t])
        return f"{events} in the last {self._periods(r)} after {quiet} quiet {self.unit_word}{'' if quiet == 1 else 's'}"


class Cusum(AlarmRule):
    """Sustained increase: a count CUSUM against the unit's in-control forecast.

    With the in-control one-step mean ``mu0`` and size ``k``
    (:class:`InControl`) and the out-of-control mean
    ``mu1 = max(cusum_factor * mu0, mu0 + cusum_shift)``, the statistic is

    ``S_t = max(0, S_{t-1} + y_t log[mu1 (k + mu0) / (mu0 (k + mu1))] + k log[(k + mu0) / (k + mu1)])``

    (its Poisson limit ``y_t log(mu1/mu0) - (mu1 - mu0)`` when ``k`` is
    infinite, the default), the log-likelihood ratio of the increase
    accumulated since it was last zero. Fires when ``S_t >= cusum_h``, then
    restarts from zero (as ``surveillance::algo.glrnb`` does), so one burst
    raises one alarm and a continuing increase raises more.

    Examples
    --------
    >>> import pandas as pd
    >>> ds = pd.date_range("2021-01-04", periods=40, freq="W-MON")
    >>> panel = pd.DataFrame({"unit_id": ["AF-KDZ"] * 40 + ["AF-NAN"] * 40, "ds": list(ds) * 2,
    ...                       "y": [0] * 36 + [1, 1, 0, 1] + [3] * 40})
    >>> rule = Cusum(PanelData.from_panel(panel), WarningConfig())
    >>> int(np.flatnonzero(rule.fired[0])[0]), rule.table(37).loc[0, "detail"]
    (37, '2 attacks since 2021-09-13 where 0.03 were expected (CUSUM 6.4, threshold 4.5)')
    """

    name = "cusum"
    fires_at = WARNING

    def __init__(self, data: PanelData, config: WarningConfig, in_control: InControl | None = None) -> None:
        self.units, self.ds, self.config = list(data.units), data.ds, config
        self.unit_word = _unit_word(data.freq)
        forecast = in_control or InControl.fit(data, config)
        mu0, size = forecast.mean, forecast.size
        mu1 = np.maximum(config.cusum_factor * mu0, mu0 + config.cusum_shift)
        y = data.y.astype(float)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            finite = np.isfinite(size)
            k = np.where(finite, size, 1.0)
            llr_negbin = y * np.log(mu1 * (k + mu0) / (mu0 * (k + mu1))) + k * np.log((k + mu0) / (k + mu1))
            llr_poisson = y * np.log(mu1 / mu0) - (mu1 - mu0)
            llr = np.where(finite, llr_negbin, llr_poisson)
        llr = np.where(np.isfinite(mu0) & (mu0 > 0), llr, 0.0)
        n_units, n_periods = y.shape
        cusum = np.zeros((n_units, n_periods))
        since = np.zeros((n_units, n_periods), dtype=np.int64)  # first period of the current excursion
        events = np.zeros((n_units, n_periods))
        expected = np.zeros((n_units, n_periods))
        previous = np.zeros(n_units)
        start = np.zeros(n_units, dtype=np.int64)
        run_events = np.zeros(n_units)
        run_expected = np.zeros(n_units)
        mean0 = np.nan_to_num(mu0)
        for t in range(n_periods):
            value = np.maximum(0.0, previous + llr[:, t])
            restart = previous <= 0
            start = np.where(restart, t, start)
            run_events = np.where(restart, 0.0, run_events) + y[:, t]
            run_expected = np.where(restart, 0.0, run_expected) + mean0[:, t]
            cusum[:, t], since[:, t], events[:, t], expected[:, t] = value, start, run_events, run_expected
            previous = np.where(value >= config.cusum_h, 0.0, value)
        self.statistic = cusum
        self.since, self.events, self.expected_events = since, events, expected
        self.in_control_mean = mu0
        self.threshold = config.cusum_h
        self.fired = cusum >= config.cusum_h
        self.level = np.where(self.fired, WARNING, NONE)

    def detail(self, i: int, t: int) -> str:
        start = self.ds[self.since[i, t]]
        return (
            f"{self._words(self.events[i, t])} since {start:%F} where {self.expected_events[i, t]:.2g} were expected "
            f"(CUSUM {self.statistic[i, t]:.1f}, threshold {self.threshold:g})"
        )


def mann_kendall(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mann-Kendall trend test along the last axis: statistic ``S`` and two-sided p-value.

    The variance includes the correction for ties; ``z`` uses the usual
    continuity correction. Rows with NaN give NaN.

    Examples
    --------
    >>> s, p = mann_kendall(np.array([[1.0, 2, 3, 4, 5, 6], [3, 1, 2, 3, 1, 2]]))
    >>> s.tolist(), (p < 0.05).tolist()
    ([15.0, -2.0], [True, False])
    """
    x = np.asarray(x, dtype=float)
    n = x.shape[-1]
    diff = x[..., None, :] - x[..., :, None]  # [..., i, j] = x_j - x_i
    upper = np.triu(np.ones((n, n), dtype=bool), k=1)
    s = np.sign(diff)[..., upper].sum(axis=-1)
    # Tie groups: each member of a group of size g contributes (g-1)(2g+5); summed over members
    # that is g(g-1)(2g+5), the term the variance subtracts per group.
    equal = (diff == 0).sum(axis=-1)
    ties = ((equal - 1) * (2 * equal + 5)).sum(axis=-1)
    variance = (n * (n - 1) * (2 * n + 5) - ties) / 18.0
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(s > 0, (s - 1) / np.sqrt(variance), np.where(s < 0, (s + 1) / np.sqrt(variance), 0.0))
    p = 2 * stats.norm.sf(np.abs(z))
    invalid = np.isnan(x).any(axis=-1)
    return np.where(invalid, np.nan, s), np.where(invalid | (variance <= 0), np.nan, p)


def classify_hot_spots(
    hot: np.ndarray,
    cold: np.ndarray,
    z: np.ndarray,
    share: float = 0.9,
    mk_alpha: float = 0.05,
) -> np.ndarray:
    """Emerging Hot Spot Analysis category of each series of bins (last axis: time, last bin = now).

    Parameters
    ----------
    hot, cold
        Significant hot / cold spot per bin (bool).
    z
        Gi* z per bin, for the Mann-Kendall trend.
    share
        Fraction of bins that must be hot for persistent, intensifying,
        diminishing and historical.
    mk_alpha
        Level of the trend test.

    Returns
    -------
    numpy.ndarray
        Labels (object): ``new, consecutive, intensifying, persistent,
        diminishing, sporadic, oscillating, historical`` or ``""`` (no pattern).

    Examples
    --------
    >>> hot = np.array([[0, 0, 0, 0, 1], [0, 0, 0, 1, 1], [1, 0, 1, 0, 1], [1, 1, 1, 1, 0]], dtype=bool)
    >>> z = np.where(hot, 3.0, 0.0)
    >>> classify_hot_spots(hot, np.zeros_like(hot), z, share=0.8).tolist()
    ['new', 'consecutive', 'sporadic', 'historical']
    """
    hot, cold = np.asarray(hot, dtype=bool), np.asarray(cold, dtype=bool)
    n_bins = hot.shape[-1]
    s_trend, p_trend = mann_kendall(z)
    n_hot = hot.sum(axis=-1)
    final = hot[..., -1]
    run = np.cumprod(hot[..., ::-1], axis=-1).sum(axis=-1)  # length of the final unbroken hot run
    with np.errstate(invalid="ignore"):
        trend_up = (p_trend < mk_alpha) & (s_trend > 0)
        trend_down = (p_trend < mk_alpha) & (s_trend < 0)
    mostly = n_hot / n_bins >= share
    return np.select(
        [
            final & (n_hot == 1),
            final & mostly & trend_up,
            final & mostly & trend_down,
            final & mostly,
            final & (run == n_hot) & (run >= 2),
            final & cold.any(axis=-1),
            final,
            ~final & mostly,
        ],
        ["new", "intensifying", "diminishing", "persistent", "consecutive", "oscillating", "sporadic", "historical"],
        default="",
    ).astype(object)


class HotSpots(AlarmRule):
    """Emerging hot spots: Getis-Ord Gi* per period and their Emerging Hot Spot Analysis category.

    For each period the events of the last ``recent_periods`` in every unit
    outside the stronghold go into esda's ``G_Local`` (``star=True``, binary
    weights from libpysal over the adjacency, analytical z-scores); two-sided
    normal p-values are thresholded with esda's Benjamini-Hochberg ``fdr`` at
    ``hotspot_alpha``. At each period the last ``hotspot_bins`` non-overlapping
    windows (ending at it) are classified as in ArcGIS Emerging Hot Spot
    Analysis: *new* (only the last bin hot), *consecutive* (an unbroken final
    run, never hot before), *intensifying* / *persistent* / *diminishing* (hot
    in at least ``hotspot_share`` of bins including the last, with an
    increasing / no / decreasing Mann-Kendall trend of z at ``mk_alpha``),
    *sporadic* (last bin hot, on and off, never cold), *oscillating* (last bin
    hot, cold in some earlier bin), *historical* (last bin not hot, hot in at
    least ``hotspot_share`` of bins). ``statistic`` is the Gi* z of the period;
    the rule fires for ``hotspot_categories``.

    The stronghold is left out of the field: its volume would dominate the
    mean and variance Gi* compares with, making its neighbours permanent hot
    spots and hiding hot spots elsewhere.

    Parameters
    ----------
    data, config
        Panel and thresholds.
    stronghold
        Unit ids left out.
    gazetteer
        Adjacency (default: the units' country).
    periods
        Column indices of the periods to classify (default all); the Gi* of
        the bins they need are computed, nothing else.
    """

    name = "hotspot"
    fires_at = WATCH

    def __init__(
        self,
        data: PanelData,
        config: WarningConfig,
        stronghold: Sequence[str] = (),
        gazetteer: Gazetteer | None = None,
        periods: Sequence[int] | None = None,
    ) -> None:
        from esda import fdr
        from esda.getisord import G_Local
        from libpysal.weights import W

        r, n_bins = config.recent_periods, config.hotspot_bins
        self.units, self.ds, self.config = list(data.units), data.ds, config
        self.unit_word = _unit_word(data.freq)
        n_units, n_periods = data.y.shape
        field_rows = np.flatnonzero(~np.isin(self.units, list(stronghold)))
        field_units = [self.units[i] for i in field_rows]
        gaz = gazetteer_for(self.units, gazetteer)
        neighbours = {u: [v for v in gaz.neighbours(u) if v in field_units] for u in field_units}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # islands (a unit whose neighbours are all stronghold) are fine
            weights = W(neighbours, id_order=field_units, silence_warnings=True)
        pooled = _rolling_sum(data.y, r)
        wanted = np.arange(n_periods) if periods is None else np.asarray(periods, dtype=int) % n_periods
        needed = sorted({t - r * k for t in wanted for k in range(n_bins) if t - r * k >= r - 1})
        z = np.full((n_units, n_periods), np.nan)
        hot = np.zeros((n_units, n_periods), dtype=bool)
        cold = np.zeros((n_units, n_periods), dtype=bool)
        for t in needed:
            x = pooled[field_rows, t]
            if x.sum() <= 0 or np.all(x == x[0]):
                z[field_rows, t] = 0.0
                continue
            with np.errstate(all="ignore"):
                local = G_Local(x, weights, transform="B", permutations=0, star=True, n_jobs=1)
            zs = np.nan_to_num(np.asarray(local.Zs, dtype=float))
            p = 2 * stats.norm.sf(np.abs(zs))
            cut = fdr(p, config.hotspot_alpha)
            z[field_rows, t] = zs
            significant = p < cut
            hot[field_rows, t] = significant & (zs > 0)
            cold[field_rows, t] = significant & (zs < 0)
        self.z, self.hot, self.cold = z, hot, cold
        category = np.full((n_units, n_periods), "", dtype=object)
        n_hot_at = np.zeros((n_units, n_periods), dtype=np.int64)
        valid_t = wanted[wanted - r * (n_bins - 1) >= r - 1]
        if len(valid_t):
            bins = valid_t[:, None] - r * np.arange(n_bins - 1, -1, -1)[None, :]  # (periods, bins), last = t
            labels = classify_hot_spots(
                hot[:, bins], cold[:, bins], np.nan_to_num(z[:, bins]),
                share=config.hotspot_share, mk_alpha=config.mk_alpha,
            )
            n_hot = hot[:, bins].sum(axis=-1)
            category[:, valid_t] = labels
            n_hot_at[:, valid_t] = n_hot
        category[~np.isin(self.units, field_units)] = ""
        self.category, self.n_hot = category, n_hot_at
        self.statistic = np.nan_to_num(z)
        self.threshold = config.hotspot_alpha
        self.fired = np.isin(category, list(config.hotspot_categories))
        self.level = np.where(self.fired, WATCH, NONE)

    def detail(self, i: int, t: int) -> str:
        bins = self.config.hotspot_bins
        return (
            f"{self.category[i, t]} hot spot (Gi* z = {self.statistic[i, t]:.1f}; hot in {self.n_hot[i, t]} of "
            f"the last {bins} {self._periods(self.config.recent_periods)} windows)"
        )


class ImportedRisk(AlarmRule):
    """Imported risk: the share of the expected count imported from the stronghold rises.

    Uses :func:`forecast.spread.spillover_share` at the last period (the
    spread model is fitted once, not per period). ``statistic`` is the share
    over the recent window. Fires when it is at least ``imported_min_share``
    and either crossed ``imported_share`` from below (the baseline window's
    share was under it) or is at least ``imported_factor`` times the baseline
    share. A share that has been high all along is reported in the reason
    but does not fire: the rule looks for change.
    """

    name = "imported"
    fires_at = WATCH

    def __init__(self, data: PanelData, config: WarningConfig, spillover: Spillover, stronghold_label: str) -> None:
        self.units, self.ds, self.config = list(data.units), data.ds, config
        self.unit_word = _unit_word(data.freq)
        self.label = stronghold_label
        shape = (len(self.units), len(self.ds))
        self.statistic = np.full(shape, np.nan)
        self.baseline = np.full(shape, np.nan)
        self.lo = np.full(shape, np.nan)
        self.hi = np.full(shape, np.nan)
        self.level_ci = spillover.level
        if spillover.available and len(spillover.units):
            table = spillover.units.set_index("unit_id").reindex(self.units)
            self.statistic[:, -1] = table["share"].to_numpy(dtype=float)
            self.baseline[:, -1] = table["baseline_share"].to_numpy(dtype=float)
            self.lo[:, -1] = table["share_lo"].to_numpy(dtype=float)
            self.hi[:, -1] = table["share_hi"].to_numpy(dtype=float)
        share, before = self.statistic, np.nan_to_num(self.baseline)
        with np.errstate(invalid="ignore"):
            crossed = (before < config.imported_share) & (share >= config.imported_share)
            grew = share >= config.imported_factor * before
            self.fired = np.nan_to_num(share) >= config.imported_min_share
            self.fired &= crossed | grew
        self.threshold = config.imported_share
        self.level = np.where(self.fired, WATCH, NONE)

    def fragment(self, i: int, t: int = -1) -> str:
        """The share as a reason fragment (also used when the rule did not fire)."""
        share = self.statistic[i, t]
        text = f"{share:.0%} of the expected count is imported from {self.label}"
        if np.isfinite(self.lo[i, t]):
            text += f" ({self.level_ci:.0%} interval {self.lo[i, t]:.0%}-{self.hi[i, t]:.0%}"
            text += f"; {self.baseline[i, t]:.0%} before)" if np.isfinite(self.baseline[i, t]) else ")"
        return text.replace("%", " %")

    def detail(self, i: int, t: int) -> str:
        return self.fragment(i, t)


# ------------------------------------------------------------ combination
def combine_levels(
    levels: Mapping[str, np.ndarray],
    fired: Mapping[str, np.ndarray],
    config: WarningConfig,
) -> np.ndarray:
    """Level (0 none .. 3 alert) from each family's own level and firing.

    warning: a family of ``config.warning_rules`` fired; alert: a warning and
    at least ``config.alert_families`` families at watch or above; watch: any
    family at watch or above. Arrays broadcast (one period, or all).
    """
    shape = np.broadcast_shapes(*(np.shape(v) for v in levels.values()))
    families = np.zeros(shape, dtype=np.int64)
    strong = np.zeros(shape, dtype=bool)
    for name, level in levels.items():
        families += np.asarray(level) >= WATCH
        if name in config.warning_rules:
            strong |= np.asarray(fired[name], dtype=bool)
    return np.select(
        [strong & (families >= config.alert_families), strong, families >= 1],
        [ALERT, WARNING, WATCH],
        default=NONE,
    )


@dataclass
class AlarmHistory:
    """Every rule and the combined level for every unit and period, each from data known then.

    Attributes
    ----------
    units, ds
        Rows and columns of the arrays.
    rules
        Rule family -> :class:`AlarmRule`.
    level
        ``(units, periods)`` int, 0 none .. 3 alert (stronghold units: 0).
    stronghold
        Stronghold unit ids (no levels).
    """

    units: list[str]
    ds: pd.DatetimeIndex
    rules: dict[str, AlarmRule]
    level: np.ndarray
    stronghold: list[str]
    freq: str = "W-MON"

    def series(self) -> pd.DataFrame:
        """Long table ``unit_id, ds, level`` and one ``fired`` column per rule."""
        n_units, n_periods = self.level.shape
        out = pd.DataFrame({
            "unit_id": pd.Series(np.repeat(self.units, n_periods), dtype=object),
            "ds": np.tile(self.ds.to_numpy(), n_units),
            "level": pd.Categorical.from_codes(self.level.ravel(), categories=ALERT_LEVELS, ordered=True),
        })
        for name, rule in self.rules.items():
            out[name] = rule.fired.ravel()
        return out


def alarm_history(
    panel: pd.DataFrame | PanelData,
    stronghold: Stronghold | Sequence[str],
    config: WarningConfig | None = None,
    gazetteer: Gazetteer | None = None,
    rules: Sequence[str] = ("emergence", "exceedance", "cusum", "hotspot"),
    imported_every: int | None = None,
    imported_from: Any = None,
) -> AlarmHistory:
    """All rules at every period in one vectorised pass (for skill evaluation).

    Nothing peeks: the in-control forecasts, the quiet stretches, the CUSUM
    and the hot-spot bins at period ``t`` use counts up to ``t`` only.

    Parameters
    ----------
    panel
        Long panel (or :class:`PanelData`).
    stronghold
        Its units get no level.
    config
        Thresholds (default: :meth:`WarningConfig.for_freq`).
    gazetteer
        Adjacency for the hot spots and the spread model.
    rules
        Families to evaluate.
    imported_every
        With ``"imported"`` in ``rules``: refit the spread model every this
        many periods (on data up to then) and hold its verdict until the next
        refit. Slow (a fit per refit); None leaves the family out.
    imported_from
        First date refitted for ``"imported"`` (default: as early as the data allow).

    Examples
    --------
    >>> from forecast.data.synthetic import generate_scenario
    >>> s = generate_scenario(seed=4, start="2019-01-07", end="2021-12-27", spread={"Kunduz": "2021-06-07"})
    >>> h = alarm_history(s.counts[["unit_id", "ds", "y"]], s.stronghold, rules=("cusum",))
    >>> kdz = h.units.index("AF-KDZ")
    >>> first = h.ds[(h.level[kdz] >= 2) & (h.ds >= "2021-06-07")][0]
    >>> (first - pd.Timestamp("2021-06-07")).days // 7 <= 8
    True
    """
    data = panel if isinstance(panel, PanelData) else PanelData.from_panel(panel)
    config = config or WarningConfig.for_freq(_panel_freq(data.freq))
    strong_ids = list(stronghold.unit_ids) if isinstance(stronghold, Stronghold) else list(stronghold)
    unknown = [r for r in rules if r not in RULES]
    if unknown:
        raise ParameterError(f"unknown rule families {unknown}; choose from {list(RULES)}")
    built: dict[str, AlarmRule] = {}
    forecast = InControl.fit(data, config, strong_ids, gazetteer) if {"exceedance", "cusum"} & set(rules) else None
    if "emergence" in rules:
        built["emergence"] = Emergence(data, config)
    if "exceedance" in rules:
        built["exceedance"] = Exceedance(data, config, forecast)
    if "cusum" in rules:
        built["cusum"] = Cusum(data, config, forecast)
    if "hotspot" in rules:
        built["hotspot"] = HotSpots(data, config, strong_ids, gazetteer)
    if "imported" in rules and imported_every:
        built["imported"] = _imported_history(data, config, strong_ids, gazetteer, int(imported_every), imported_from)
    if not built:
        raise ParameterError("no rule family to evaluate")
    level = combine_levels(
        {k: r.level for k, r in built.items()}, {k: r.fired for k, r in built.items()}, config
    )
    level[np.isin(data.units, strong_ids)] = NONE
    return AlarmHistory(
        units=list(data.units), ds=data.ds, rules=built, level=level, stronghold=strong_ids,
        freq=_panel_freq(data.freq),
    )


def _imported_history(
    data: PanelData, config: WarningConfig, strong_ids: list[str], gazetteer, every: int, first: Any = None
) -> AlarmRule:
    """Imported-risk verdicts refitted every ``every`` periods and held in between."""
    panel = pd.DataFrame({
        "unit_id": np.repeat(data.units, data.n_periods),
        "ds": np.tile(data.ds.to_numpy(), len(data.units)),
        "y": data.y.ravel(),
    })
    panel.attrs["freq"] = _panel_freq(data.freq)
    template: ImportedRisk | None = None
    fired = np.zeros(data.y.shape, dtype=bool)
    statistic = np.full(data.y.shape, np.nan)
    start = max(config.recent_periods + config.min_baseline_periods, 1)
    if first is not None:
        start = max(start, int(np.searchsorted(data.ds, pd.Timestamp(first))))
    for t in range(start, data.n_periods, every):
        known = panel[panel["ds"] <= data.ds[t]]
        result = spillover_share(
            known, strong_ids, fit_periods=config.spillover_periods, recent_periods=config.recent_periods,
            baseline_periods=config.baseline_periods, gazetteer=gazetteer, n_draws=50,
        )
        sub = PanelData(units=data.units, ds=data.ds[: t + 1], freq=data.freq, y=data.y[:, : t + 1])
        rule = ImportedRisk(sub, config, result, "the stronghold")
        fired[:, t : t + every] = rule.fired[:, -1:]
        statistic[:, t : t + every] = rule.statistic[:, -1:]
        template = rule
    if template is None:
        template = ImportedRisk(data, config, Spillover.unavailable("too short"), "the stronghold")
    template.ds = data.ds
    template.fired, template.statistic = fired, statistic
    template.level = np.where(fired, WATCH, NONE)
    return template


def _panel_freq(freq: str) -> str:
    """``W-MON`` or ``MS`` for the frequency strings pandas infers (``W-MON``, ``MS``, ``<MonthBegin>``)."""
    return "MS" if str(freq).upper().startswith("M") else "W-MON"


# ---------------------------------------------------------------- results
@dataclass
class WarningResult:
    """Alert levels per unit as of a date, with the stronghold and spread indicators.

    Attributes
    ----------
    units
        One row per unit outside the stronghold, validated with
        :data:`forecast.schema.ALARMS`: ``unit_id, name, level`` (ordered
        categorical), ``rules`` (list of the families at watch or above),
        ``reason`` (plain language), ``recent_events``. Sorted by level, then name.
    stronghold
        The :class:`~forecast.spread.Stronghold`.
    indicators
        :func:`forecast.spread.spread_indicators` per period (one period per row).
    recent
        The same indicators pooled over the last ``recent_periods`` (a dict).
    rule_table
        Every rule for every unit at the last period: ``unit_id, rule, fired,
        level, statistic, threshold, detail``.
    spillover
        The :class:`~forecast.spread.Spillover` used by the imported-risk rule (or None).
    as_of, freq, last_period
        The as-of date, the panel frequency and the last complete period judged.
    config
        The thresholds used.
    notes
        Caveats for readers (rules skipped, stronghold without events, ...).
    """

    units: pd.DataFrame
    stronghold: Stronghold
    indicators: pd.DataFrame
    recent: dict[str, Any]
    rule_table: pd.DataFrame
    spillover: Spillover | None
    as_of: pd.Timestamp
    freq: str
    last_period: pd.Timestamp
    config: WarningConfig
    notes: list[str] = field(default_factory=list)
    rules_evaluated: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The ``forecast warn --json`` document (schema: ``forecast/schemas/warn.schema.json``)."""
        from forecast import __version__

        details = {
            (row.unit_id, row.rule): row for row in self.rule_table.itertuples(index=False)
        }
        units = []
        for row in self.units.itertuples(index=False):
            rules = []
            for name in row.rules:
                rule = details[(row.unit_id, name)]
                rules.append({
                    "rule": name,
                    "level": rule.level,
                    "fired": bool(rule.fired),
                    "statistic": _clean(rule.statistic),
                    "threshold": _clean(rule.threshold),
                    "detail": rule.detail,
                })
            units.append({
                "unit_id": row.unit_id,
                "name": row.name,
                "level": str(row.level),
                "rules": rules,
                "reason": row.reason,
                "recent_events": int(row.recent_events),
            })
        by_period = self.indicators.tail(self.config.recent_periods)
        return {
            "as_of": f"{self.as_of:%F}",
            "freq": self.freq,
            "last_period": f"{self.last_period:%F}",
            "stronghold": self.stronghold.to_records(),
            "stronghold_share": _clean(self.stronghold.share),
            "stronghold_window": {
                "start": f"{self.stronghold.start:%F}",
                "end": f"{self.stronghold.end:%F}",
                "periods": self.stronghold.window,
                "given": self.stronghold.given,
            },
            "indicators": {
                **{k: _clean(v) for k, v in self.recent.items()},
                "by_period": [
                    {k: (f"{v:%F}" if k == "ds" else _clean(v)) for k, v in rec.items()}
                    | {"new_units": int(rec["new_units"]) if _finite(rec["new_units"]) else None}
                    for rec in by_period.to_dict("records")
                ],
            },
            "units": units,
            "rules_evaluated": list(self.rules_evaluated),
            "notes": list(self.notes),
            "config": self.config.to_dict(),
            "version": __version__,
        }

    def to_json(self, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)

    def to_text(self, all_units: bool = False) -> str:
        """A readable summary: the stronghold, the spread indicators and a table of flagged units."""
        word = _unit_word(self.freq)
        r = self.config.recent_periods
        lines = [f"Early warning as of {self.as_of:%F} ({self.freq}; last complete {word} starts {self.last_period:%F})"]
        share = self.stronghold.share
        share_text = "no events" if not math.isfinite(share) else f"{share:.0%} of events"
        lines.append(
            f"Stronghold ({'given' if self.stronghold.given else 'found'}): {self.stronghold.label()}: {share_text} "
            f"from {self.stronghold.start:%F} to {self.stronghold.end:%F}"
        )
        rec = self.recent
        lines.append(
            f"Last {r} {word}s: {rec['events']} events, {rec['events_outside']} outside the stronghold"
            + (f" ({rec['share_outside']:.0%})" if _finite(rec["share_outside"]) else "")
            + f", {rec['active_units']} active units, {_fmt(rec['new_units'])} newly active"
            + (f", mean distance {rec['mean_distance_km']:.0f} km" if _finite(rec["mean_distance_km"]) else "")
        )
        for note in self.notes:
            lines.append(f"Note: {note}")
        shown = self.units if all_units else self.units[self.units["level"] != "none"]
        lines.append("")
        if shown.empty:
            lines.append("No unit outside the stronghold is flagged.")
        else:
            width = max(len(n) for n in shown["name"])
            lines.append(f"{'level':8}  {'unit':{width}}  reason")
            for row in shown.itertuples(index=False):
                lines.append(f"{str(row.level):8}  {row.name:{width}}  {row.reason}")
        rest = len(self.units) - len(shown)
        if rest:
            lines.append(f"({rest} other units: none)")
        return "\n".join(lines)


def _clean(value: Any) -> Any:
    """JSON-simple scalar: NaN/inf -> None, numpy -> Python."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, float):
        return round(value, 6)
    return value


def _finite(value: Any) -> bool:
    return value is not None and isinstance(value, int | float | np.number) and math.isfinite(float(value))


def _fmt(value: Any) -> str:
    return str(int(value)) if _finite(value) else "n/a"


def evaluate_warnings(
    panel: pd.DataFrame,
    as_of: Any,
    stronghold: Stronghold | str | Sequence[str] | None = None,
    config: WarningConfig | None = None,
    gazetteer: Gazetteer | None = None,
    forecasts: Any = None,
    *,
    spillover: bool = True,
) -> WarningResult:
    """Alert level and reason for every unit outside the stronghold, as of a date.

    Parameters
    ----------
    panel
        Long panel ``unit_id, ds, y`` (:func:`forecast.panel.build_panel`);
        periods not complete at ``as_of`` are ignored.
    as_of
        The date of the assessment.
    stronghold
        A :class:`~forecast.spread.Stronghold`, unit names/codes (list or
        comma-separated), or None / ``"auto"`` to find it
        (:func:`~forecast.spread.find_stronghold` with the config's window and share).
    config
        Thresholds (default: :meth:`WarningConfig.for_freq` of the panel).
    gazetteer
        Names, adjacency and centroids (default: the units' country).
    forecasts
        Optional :class:`~forecast.models.frame.ForecastFrame` for the
        exceedance rule (see :class:`Exceedance`).
    spillover
        Fit the spread model for the imported-risk rule (about a second);
        False skips the rule and says so in the notes.

    Returns
    -------
    WarningResult

    Raises
    ------
    ParameterError
        Fewer than two units; ``as_of`` before the data (both dates named);
        an unknown stronghold name.
    EmptyDataError
        ``stronghold="auto"`` and no events in the baseline window.
    """
    known, as_of = panel_bounds(panel, as_of)
    if known["ds"].nunique() < 2:
        raise ParameterError(
            f"only one complete period ({pd.Timestamp(known['ds'].min()):%F}) is known at {as_of:%F}; "
            "the alarm rules need a history: choose a later as-of date"
        )
    freq = _panel_freq(panel.attrs.get("freq") or PanelData.from_panel(known).freq)
    config = config or WarningConfig.for_freq(freq)
    data = PanelData.from_panel(known, freq=freq)
    gaz = gazetteer_for(data.units, gazetteer)
    if not isinstance(stronghold, Stronghold):
        stronghold = find_stronghold(
            known, as_of, window=config.stronghold_window, share=config.stronghold_share,
            given=stronghold, gazetteer=gaz,
        )
    notes: list[str] = []
    if stronghold.note:
        notes.append(stronghold.note)
    strong_ids = list(stronghold.unit_ids)
    r = config.recent_periods
    word = _unit_word(freq)
    needed = config.guard_periods + config.min_baseline_periods
    if data.n_periods <= needed:
        notes.append(
            f"only {data.n_periods} {word}s of data: exceedance and CUSUM need more than {needed} "
            "and stay silent until then"
        )

    forecast = InControl.fit(data, config, strong_ids, gaz)
    rules: dict[str, AlarmRule] = {
        "emergence": Emergence(data, config),
        "exceedance": Exceedance(data, config, forecast, forecasts),
        "cusum": Cusum(data, config, forecast),
        # Hot spots are a state, not an event: classify the last period only.
        "hotspot": HotSpots(data, config, strong_ids, gaz, periods=[data.n_periods - 1]),
    }
    spill = None
    if spillover:
        spill = spillover_share(
            known, stronghold, fit_periods=config.spillover_periods, recent_periods=r,
            baseline_periods=config.baseline_periods, gazetteer=gaz,
        )
        if not spill.available:
            notes.append(f"imported-risk rule skipped: {spill.note}")
    else:
        notes.append("imported-risk rule skipped: the spread model was not fitted (spillover=False)")
    imported = ImportedRisk(data, config, spill or Spillover.unavailable("not fitted"), stronghold.label())
    if spill is not None and spill.available:
        rules["imported"] = imported

    # As of the date: the alarms raised in the last r periods.
    tables = {name: rule.table(-1, window=r) for name, rule in rules.items()}
    recent_events = _rolling_sum(data.y, r)[:, -1]
    _follow_up(tables, rules, recent_events, config, word)
    levels = {name: table["level"].map(ALERT_LEVELS.index).to_numpy() for name, table in tables.items()}
    fired = {name: table["fired"].to_numpy() for name, table in tables.items()}
    level = combine_levels(levels, fired, config)
    rule_table = pd.concat(tables.values(), ignore_index=True)
    rows = []
    for i, unit in enumerate(data.units):
        if unit in strong_ids:
            continue
        flagged = [name for name in RULES if name in levels and levels[name][i] >= WATCH]
        details = [tables[name]["detail"].iloc[i] for name in flagged]
        rows.append({
            "unit_id": unit,
            "name": gaz.name_of(unit) if unit in gaz.unit_ids else unit,
            "level": ALERT_LEVELS[int(level[i])],
            "rules": flagged,
            "reason": _reason(details, "imported" in flagged, imported, i, recent_events[i], r, word, config),
            "recent_events": int(recent_events[i]),
        })
    units = pd.DataFrame(rows, columns=["unit_id", "name", "level", "rules", "reason", "recent_events"])
    units["level"] = pd.Categorical(units["level"], categories=ALERT_LEVELS, ordered=True)
    units = units.sort_values(["level", "name"], ascending=[False, True], kind="stable").reset_index(drop=True)
    units = validate(units, ALARMS)
    rule_table = rule_table[~rule_table["unit_id"].isin(strong_ids)].reset_index(drop=True)

    indicators = spread_indicators(known, stronghold, gaz, quiet_periods=config.quiet_periods)
    pooled = spread_indicators(known, stronghold, gaz, quiet_periods=config.quiet_periods, window=r).iloc[-1]
    recent = {"window_periods": r, **{k: pooled[k] for k in pooled.index if k != "ds"}}
    for key in ("events", "active_units", "events_outside", "new_units"):
        recent[key] = int(recent[key]) if _finite(recent[key]) else None
    return WarningResult(
        units=units,
        stronghold=stronghold,
        indicators=indicators,
        recent=recent,
        rule_table=rule_table,
        spillover=spill,
        as_of=as_of,
        freq=freq,
        last_period=data.ds[-1],
        config=config,
        notes=notes,
        rules_evaluated=list(rules),
    )


def _follow_up(
    tables: dict[str, pd.DataFrame],
    rules: Mapping[str, AlarmRule],
    recent_events: np.ndarray,
    config: WarningConfig,
    word: str,
) -> None:
    """Keep on watch the units warned in the follow-up window that are still active (edits ``tables``)."""
    r = config.recent_periods
    names = [n for n in config.warning_rules if n in rules]
    if not names or config.follow_up_periods <= r:
        return
    warned_now = np.any([tables[n]["level"].to_numpy() == "warning" for n in names], axis=0)
    earlier = {n: rules[n].table(-1, window=config.follow_up_periods) for n in names}
    for i in np.flatnonzero(~warned_now & (recent_events > 0)):
        candidates = [(earlier[n].loc[i, "period"], n) for n in names if earlier[n].loc[i, "level"] == "warning"]
        if not candidates:
            continue
        period, name = max(candidates)
        n_recent = int(recent_events[i])
        table = tables[name]
        table.loc[i, ["level", "fired", "period"]] = ["watch", False, period]
        table.loc[i, "statistic"] = earlier[name].loc[i, "statistic"]
        table.loc[i, "detail"] = (
            f"warning raised in the {word} of {period:%F}: {earlier[name].loc[i, 'detail']}; still active: "
            f"{n_recent} attack{'' if n_recent == 1 else 's'} in the last {r} {word}s"
        )


def _reason(
    details: list[str],
    imported_fired: bool,
    imported: ImportedRisk,
    i: int,
    recent_events: float,
    r: int,
    word: str,
    config: WarningConfig,
) -> str:
    """Join the flagged rules' fragments; add the imported share whenever it is notable."""
    parts = list(details)
    share = imported.statistic[i, -1]
    if parts and not imported_fired and np.isfinite(share) and share >= config.imported_min_share:
        parts.append(imported.fragment(i))
    if not parts:
        n = int(recent_events)
        return f"{n} attack{'' if n == 1 else 's'} in the last {r} {word}s; no rule fired"
    return "; ".join(parts)


# ------------------------------------------------------------ from events
def warn_events(
    events: pd.DataFrame,
    as_of: Any,
    *,
    freq: str = "W-MON",
    stronghold: str | Sequence[str] | None = "auto",
    country: str | None = None,
    config: WarningConfig | None = None,
    spillover: bool = True,
) -> WarningResult:
    """:func:`evaluate_warnings` for canonical events: what ``forecast warn`` runs.

    Events after ``as_of`` are ignored; the panel runs from the first event
    (or the start of the stronghold window, if earlier) to ``as_of`` over
    every unit of the country.

    Raises
    ------
    EmptyDataError
        No events.
    ParameterError
        ``as_of`` before the first event or more than a year after the last
        (both dates named; see :func:`forecast.data.dataset.panel_as_of`), an
        unknown frequency or stronghold name.
    """
    from forecast.checks import date, frequency
    from forecast.data.dataset import panel_as_of

    frequency(freq)
    as_of = date(as_of, "--as-of")
    if events.empty:
        raise EmptyDataError("no events to assess; check the file, --actor and --country")
    iso3 = country or str(events["country_iso3"].mode().iloc[0])
    gazetteer = Gazetteer.load(iso3)
    _, panel, notes = panel_as_of(events, freq=freq, as_of=as_of, country=gazetteer.country_iso3)
    result = evaluate_warnings(
        panel, as_of, stronghold, config or WarningConfig.for_freq(freq), gazetteer, spillover=spillover
    )
    result.notes.extend(notes)
    return result


# ------------------------------------------------------------------- skill
def detection_scores(
    history: AlarmHistory,
    truth: pd.DataFrame,
    *,
    start: Any = None,
    horizons: Sequence[int] = (4, 8, 12),
    gazetteer: Gazetteer | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Detection delays of true spread and false alarms elsewhere, per rule and per level.

    Parameters
    ----------
    history
        :func:`alarm_history` of a scenario.
    truth
        ``unit_id, onset`` of the units that spread (``Scenario.truth``).
    start
        First period counted for false alarms (default: the first period).
    horizons
        Detection windows in periods.
    gazetteer
        Adjacency used to group false alarms (default: the units' country).

    Returns
    -------
    detections
        One row per (target, alarm): ``unit_id, onset, alarm, delay`` (periods
        from the onset week to the first alarm at or after it, 0 = in the
        onset week; NaN if none before the data end), ``observed`` (periods
        observed from the onset on) and ``detected_<h>`` (an alarm within
        ``h`` periods, i.e. delay < h; NaN when fewer than ``h`` were observed).
    false_alarms
        One row per (alarm, group): ``alarm_periods`` (periods with the alarm)
        and ``alarm_episodes`` (runs of consecutive alarm periods) over
        ``unit_periods`` / ``unit_years`` in units that never spread and are
        not in the stronghold; ``group`` is ``stronghold_neighbour``,
        ``next_to_spread`` (borders a unit that spread) or ``other``.

    Notes
    -----
    The alarms are each rule firing (named by the rule) and the combined
    level at ``watch``, ``warning`` and ``alert`` or above (named by the level).
    """
    periods_per_year = 12.0 if history.freq == "MS" else 52.0
    start = pd.Timestamp(start) if start is not None else history.ds[0]
    alarms = {name: rule.fired for name, rule in history.rules.items()}
    for code, level_name in ((WATCH, "watch"), (WARNING, "warning"), (ALERT, "alert")):
        alarms[level_name] = history.level >= code
    spread_units = set(truth["unit_id"])
    rows = []
    for target in truth.itertuples(index=False):
        if target.unit_id not in history.units:
            continue
        i = history.units.index(target.unit_id)
        after = np.flatnonzero(history.ds >= target.onset)
        if not len(after):
            continue
        observed = len(after)
        for name, fired in alarms.items():
            hits = np.flatnonzero(fired[i, after])
            delay = float(hits[0]) if len(hits) else np.nan
            row = {"unit_id": target.unit_id, "onset": target.onset, "alarm": name, "delay": delay, "observed": observed}
            for h in horizons:
                row[f"detected_{h}"] = (float(delay < h) if np.isfinite(delay) else 0.0) if observed >= h else np.nan
            rows.append(row)
    detections = pd.DataFrame(
        rows, columns=["unit_id", "onset", "alarm", "delay", "observed", *(f"detected_{h}" for h in horizons)]
    )
    try:
        gaz = gazetteer_for(history.units, gazetteer)
        border = {u: set(gaz.neighbours(u)) for u in history.units}
    except ForecastError:
        border = {u: set() for u in history.units}
    near_stronghold = set().union(*(border[u] for u in history.stronghold)) if history.stronghold else set()
    near_spread = set().union(*(border[u] for u in spread_units if u in border)) if spread_units else set()
    groups: dict[str, list[int]] = {"stronghold_neighbour": [], "next_to_spread": [], "other": []}
    for i, unit in enumerate(history.units):
        if unit in spread_units or unit in history.stronghold:
            continue
        group = "stronghold_neighbour" if unit in near_stronghold else "next_to_spread" if unit in near_spread else "other"
        groups[group].append(i)
    counted = np.flatnonzero(history.ds >= start)
    fa_rows = []
    for name, fired in alarms.items():
        for group, members in groups.items():
            block = fired[np.ix_(members, counted)]
            fa_rows.append({
                "alarm": name,
                "group": group,
                "alarm_periods": int(block.sum()),
                "alarm_episodes": _episodes(block),
                "unit_periods": len(members) * len(counted),
                "unit_years": len(members) * len(counted) / periods_per_year,
            })
    return detections, pd.DataFrame(fa_rows)


def _episodes(fired: np.ndarray) -> int:
    """Number of runs of consecutive alarm periods (onsets of alarms)."""
    if fired.size == 0:
        return 0
    padded = np.hstack([np.zeros((fired.shape[0], 1), dtype=bool), fired])
    return int((padded[:, 1:] & ~padded[:, :-1]).sum())


def summarise_skill(
    detections: pd.DataFrame,
    false_alarms: pd.DataFrame,
    horizons: Sequence[int] = (4, 8, 12),
) -> pd.DataFrame:
    """Per alarm: detection within each horizon, median delay, false alarms per unit-year.

    Returns
    -------
    pandas.DataFrame
        ``alarm, targets, detected_<h>`` (fractions of targets observed that
        long), ``median_delay`` (periods; undetected targets count as
        infinitely late, so it is NaN when fewer than half are ever
        detected), ``false_alarms_per_unit_year`` (alarm periods),
        ``false_episodes_per_unit_year`` (alarm onsets) and
        ``false_alarms_<group>`` per unit-year for each group of
        :func:`detection_scores`.
    """
    rows = []
    for alarm, fa in false_alarms.groupby("alarm", sort=False):
        group = detections[detections["alarm"] == alarm]
        row: dict[str, Any] = {"alarm": alarm, "targets": int(len(group))}
        for h in horizons:
            row[f"detected_{h}"] = float(group[f"detected_{h}"].mean()) if len(group) else np.nan
        delays = group["delay"].fillna(np.inf).to_numpy()
        median = float(np.median(delays)) if len(delays) else np.nan
        row["median_delay"] = median if np.isfinite(median) else np.nan
        years = fa["unit_years"].sum()
        row["false_alarms_per_unit_year"] = float(fa["alarm_periods"].sum() / years) if years else np.nan
        row["false_episodes_per_unit_year"] = float(fa["alarm_episodes"].sum() / years) if years else np.nan
        for name, part in fa.groupby("group", sort=False):
            part_years = part["unit_years"].sum()
            row[f"false_alarms_{name}"] = float(part["alarm_periods"].sum() / part_years) if part_years else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def skill_scenarios(
    seeds: Iterable[int],
    *,
    targets: int = 3,
    onsets: tuple[str, str] = ("2019-07-01", "2021-09-27"),
    start: str = "2017-01-02",
    end: str = "2021-12-27",
    **scenario_options: Any,
) -> Iterable[Any]:
    """Synthetic scenarios with known spread for measuring alarm skill.

    For each seed, ``targets`` provinces outside the stronghold are drawn at
    random, each with an onset week drawn uniformly between ``onsets``
    (late enough that 12 weeks after it are observed), and
    :func:`forecast.data.synthetic.generate_scenario` simulates ``start`` to
    ``end`` with those onsets. ``targets=0`` gives scenarios without spread.

    Parameters
    ----------
    seeds
        One scenario per seed (the draw of targets and onsets uses it too).
    targets, onsets, start, end
        The design.
    **scenario_options
        Other :class:`forecast.data.synthetic.ScenarioConfig` fields, e.g.
        ``spread_rate=0.4, import_strength=0.1`` (the defaults).

    Yields
    ------
    forecast.data.synthetic.Scenario
    """
    from forecast.data.synthetic import SCENARIO_COUNTRY, ScenarioConfig, generate_scenario

    gazetteer = Gazetteer.load(SCENARIO_COUNTRY)
    stronghold_names = scenario_options.get("stronghold", ScenarioConfig().stronghold)
    stronghold = {gazetteer.resolve(n) for n in stronghold_names}
    candidates = [u for u in gazetteer.unit_ids if u not in stronghold]
    weeks = pd.date_range(onsets[0], onsets[1], freq="W-MON")
    for seed in seeds:
        rng = np.random.default_rng([int(seed), 20211])
        chosen = rng.choice(candidates, size=targets, replace=False) if targets else []
        when = rng.choice(weeks.to_numpy(), size=targets) if targets else []
        spread = {gazetteer.name_of(u): f"{pd.Timestamp(w):%F}" for u, w in zip(chosen, when, strict=True)}
        yield generate_scenario(seed=int(seed), start=start, end=end, spread=spread, **scenario_options)


@dataclass
class SkillEvaluation:
    """Alarm skill over a set of scenarios.

    Attributes
    ----------
    summary
        :func:`summarise_skill` over all scenarios.
    detections, false_alarms
        The pooled tables of :func:`detection_scores`.
    attacks_per_month
        Median attacks per month (4.35 weeks) in the spread targets during the
        8 weeks from their onset: the strength of the spread that was detected.
    """

    summary: pd.DataFrame
    detections: pd.DataFrame
    false_alarms: pd.DataFrame
    attacks_per_month: float


def evaluate_alarm_skill(
    scenarios: Iterable[Any],
    config: WarningConfig | None = None,
    *,
    rules: Sequence[str] = ("emergence", "exceedance", "cusum"),
    start: Any = "2019-01-07",
    imported_every: int | None = None,
) -> SkillEvaluation:
    """Run :func:`alarm_history` and :func:`detection_scores` on each scenario and pool the results.

    Parameters
    ----------
    scenarios
        :class:`forecast.data.synthetic.Scenario` objects (e.g. from :func:`skill_scenarios`).
    config
        Thresholds (default :class:`WarningConfig`).
    rules, imported_every
        Passed to :func:`alarm_history`. The level at warning or above depends
        only on the warning families, so leaving out ``hotspot`` and
        ``imported`` (slow) does not change it.
    start
        First period counted for false alarms (leave the in-control baseline
        time to fill).

    Examples
    --------
    >>> result = evaluate_alarm_skill(skill_scenarios([1], targets=1))
    >>> sorted(result.summary["alarm"])
    ['alert', 'cusum', 'emergence', 'exceedance', 'warning', 'watch']
    """
    from forecast.data.synthetic import SCENARIO_COUNTRY

    config = config or WarningConfig()
    gazetteer = Gazetteer.load(SCENARIO_COUNTRY)  # the skill scenarios are synthetic
    detections, false_alarms, strength = [], [], []
    for scenario in scenarios:
        panel = scenario.counts[["unit_id", "ds", "y"]]
        data = PanelData.from_panel(panel, freq="W-MON")
        history = alarm_history(
            data, scenario.stronghold, config, gazetteer, rules=rules, imported_every=imported_every, imported_from=start
        )
        found, false = detection_scores(history, scenario.truth, start=start, gazetteer=gazetteer)
        detections.append(found.assign(seed=scenario.config.seed))
        false_alarms.append(false.assign(seed=scenario.config.seed))
        for target in scenario.truth.itertuples(index=False):
            row = data.units.index(target.unit_id)
            strength.append(data.y[row, data.ds >= target.onset][:8].sum() * 4.35 / 8)
    detections_all = pd.concat(detections, ignore_index=True)
    false_all = pd.concat(false_alarms, ignore_index=True)
    return SkillEvaluation(
        summary=summarise_skill(detections_all, false_all),
        detections=detections_all,
        false_alarms=false_all,
        attacks_per_month=float(np.median(strength)) if strength else math.nan,
    )


def warn_schema() -> dict[str, Any]:
    """The JSON Schema of ``forecast warn --json`` (``forecast/schemas/warn.schema.json``)."""
    text = resources.files("forecast").joinpath("schemas", "warn.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


#: Where the committed alarm-skill figures live (written by ``bench/bench_alarms.py``).
ALARM_SKILL_FILE = "alarm_skill.json"


def alarm_skill(path: str | Path | None = None) -> dict[str, Any]:
    """The measured skill of the default rules (from ``bench/bench_alarms.py``).

    Returns the committed ``forecast/alarm_skill.json``: per rule and for the
    combined level, the probability of detection within 4, 8 and 12 weeks of
    the true onset, the median delay, and false alarms per unit-year, plus the
    scenario settings and thresholds they were measured with. Reports show
    these figures next to each alert.

    Examples
    --------
    >>> skill = alarm_skill()
    >>> sorted(skill["levels"]["warning"])[:2]
    ['detected_12', 'detected_4']
    """
    if path is None:
        text = resources.files("forecast").joinpath(ALARM_SKILL_FILE).read_text(encoding="utf-8")
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot read the alarm-skill file ({exc.strerror})", path=path) from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"the alarm-skill file is not valid JSON ({exc.msg}); rerun bench/bench_alarms.py",
                         path=path or ALARM_SKILL_FILE) from exc


#: Plain names of the rule families for tables read by people.
RULE_LABELS = {
    "exceedance": "forecast exceedance",
    "emergence": "emergence after quiet",
    "cusum": "sustained increase (CUSUM)",
    "hotspot": "emerging hot spot (Gi*)",
    "imported": "imported risk (spread model)",
}


def skill_table(skill: dict[str, Any] | None = None) -> pd.DataFrame:
    """The measured alarm skill as a table: one row per rule and per combined level.

    Parameters
    ----------
    skill
        As returned by :func:`alarm_skill` (default: the committed figures).

    Returns
    -------
    pandas.DataFrame
        ``alarm, detected_4, detected_8, detected_12`` (probability of detection
        within 4, 8, 12 weeks of the true onset), ``median_delay_weeks`` and
        ``false_alarms_per_unit_year`` (in provinces that never spread).

    Examples
    --------
    >>> table = skill_table()
    >>> table["alarm"].tolist()[:3]
    ['level watch', 'level warning or above', 'level alert']
    """
    skill = skill if skill is not None else alarm_skill()
    columns = ["detected_4", "detected_8", "detected_12", "median_delay_weeks", "false_alarms_per_unit_year"]
    rows = []
    for level, figures in skill.get("levels", {}).items():
        label = "level warning or above" if level == "warning" else f"level {level}"
        rows.append({"alarm": label, **{c: figures.get(c) for c in columns}})
    for rule, figures in skill.get("rules", {}).items():
        rows.append({"alarm": RULE_LABELS.get(rule, rule), **{c: figures.get(c) for c in columns}})
    return pd.DataFrame(rows, columns=["alarm", *columns])


def alert_table(result: WarningResult, skill: dict[str, Any] | None = None) -> pd.DataFrame:
    """The alert table a report shows first: every unit with its level, reason and rule skill.

    Parameters
    ----------
    result
        From :func:`evaluate_warnings`.
    skill
        Measured skill (default :func:`alarm_skill`); each row's ``rule_skill``
        says, for the rules that fired, how often they caught a real spread
        within 8 weeks and how many false alarms they raise per province-year.

    Returns
    -------
    pandas.DataFrame
        ``name, level, reason, rules, rule_skill, recent_events, unit_id``,
        most severe first.
    """
    skill = skill if skill is not None else alarm_skill()
    figures = skill.get("rules", {})

    def describe(rules: Sequence[str]) -> str:
        parts = []
        for rule in rules:
            measured = figures.get(rule)
            if not measured:
                continue
            parts.append(
                f"{RULE_LABELS.get(rule, rule)}: detects {100 * (measured.get('detected_8') or 0):.0f} % "
                f"of spreads within 8 weeks, {measured.get('false_alarms_per_unit_year', float('nan')):.2f} "
                "false alarms per province-year"
            )
        return "; ".join(parts)

    table = result.units.copy()
    table["rule_skill"] = table["rules"].map(describe)
    table["rules"] = table["rules"].map(lambda rules: ", ".join(RULE_LABELS.get(r, r) for r in rules))
    table["level"] = table["level"].astype(str)
    columns = ["name", "level", "reason", "rules", "rule_skill", "recent_events", "unit_id"]
    return table[[c for c in columns if c in table.columns]].reset_index(drop=True)
