"""The rule families that compare a period with the in-control model: exceedance, emergence, CUSUM, imported risk."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from forecast.alarms.config import ALERT, NONE, WARNING, WATCH, WarningConfig, months_as_periods
from forecast.alarms.expected import InControl, _rolling_sum
from forecast.distributions import count_sf
from forecast.panel import PanelData, period_name, period_word
from forecast.schema import ALERT_LEVELS
from forecast.spread import (
    Spillover,
    quiet_before,
)


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
        self.unit_word, self.freq = period_word(data.freq), data.freq
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
            f"{self._words(self.observed[i, t])} in {period_name(self.ds[t], self.freq)} where "
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
        self.unit_word, self.freq = period_word(data.freq), data.freq
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
        self.unit_word, self.freq = period_word(data.freq), data.freq
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
        self.unit_word, self.freq = period_word(data.freq), data.freq
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


class NewGround(AlarmRule):
    """New ground: the group's first attack in a unit with none in the previous year (or ever).

    An attack in a unit without any in the ``new_ground_months`` before it,
    or the first on record after at least a year of data (so the first year
    of a data set is not all new ground), raises a warning at once (months converted to
    periods with :func:`forecast.alarms.config.months_as_periods`, so the rule
    reads the same weekly and monthly). It raises an alert when the onset
    period's fatalities (best estimate, summed over the unit's period: the
    panel's ``fatalities_best``) reach ``mass_casualty``, or when a second
    attack follows within ``new_ground_hold_months``. The rule raises in the
    periods with attacks; the unit's warning episode holds the flag between
    them. ``statistic`` is the attacks since the onset.

    Examples
    --------
    >>> import pandas as pd
    >>> ds = pd.date_range("2020-01-01", periods=24, freq="MS")
    >>> panel = pd.DataFrame({"unit_id": ["AF-KDZ"] * 24 + ["AF-NAN"] * 24, "ds": list(ds) * 2,
    ...                       "y": [0] * 21 + [1, 0, 0] + [3] * 24})
    >>> rule = NewGround(PanelData.from_panel(panel), WarningConfig.for_freq("MS"))
    >>> rule.table(21).loc[0, ["level", "detail"]].tolist()
    ['warning', 'new ground: first attack in AF-KDZ on record (October 2021)']
    """

    name = "new_ground"
    fires_at = WARNING

    def __init__(
        self, data: PanelData, config: WarningConfig, fatalities: np.ndarray | None = None,
        names: Any = None, fatality_range: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        self.units, self.ds, self.config = list(data.units), data.ds, config
        self.unit_word, self.freq = period_word(data.freq), data.freq
        self.names = names or (lambda u: u)
        quiet = months_as_periods(config.new_ground_months, data.freq)
        hold = months_as_periods(config.new_ground_hold_months, data.freq)
        # A unit with no attack on record is new ground once a year of data shows it quiet.
        year = months_as_periods(12, data.freq)
        y = data.y.astype(float)
        dead = np.zeros_like(y) if fatalities is None else np.nan_to_num(np.asarray(fatalities, dtype=float))
        n_units, n_periods = y.shape
        #: First period at which a first attack on record can be known to be new.
        self.first_judged = min(quiet, year)
        self.statistic = np.zeros((n_units, n_periods))
        self.level = np.zeros((n_units, n_periods), dtype=np.int64)
        self.onset = np.full((n_units, n_periods), -1, dtype=np.int64)
        self.onsets = np.zeros((n_units, n_periods), dtype=bool)  # an episode of new ground begins here
        self.previous = np.full((n_units, n_periods), -1, dtype=np.int64)  # last attack before the onset
        self.mass = np.zeros((n_units, n_periods), dtype=bool)
        self.toll = np.zeros((n_units, n_periods))  # the deadliest period's toll since the onset (best estimate)
        # That period's reported range (low, high), quoted beside the best estimate when the source has one.
        self.toll_range = np.full((2, n_units, n_periods), np.nan)
        low, high = (None, None) if fatality_range is None else (np.nan_to_num(np.asarray(a, dtype=float))
                                                                 for a in fatality_range)
        for i in range(n_units):
            last = -1  # last period with an attack
            onset = -1
            count = 0
            mass = False
            toll = 0.0
            toll_at = -1
            before = -1
            for t in range(n_periods):
                if y[i, t] > 0:
                    # Without a year of data before it, a first attack is not known to be new.
                    if (last < 0 and t >= year) or (last >= 0 and t - last > quiet):
                        onset, count, mass, toll, toll_at, before = t, 0, False, 0.0, t, last
                        self.onsets[i, t] = True
                    if onset >= 0 and t - onset < hold:
                        count += y[i, t]
                        mass |= dead[i, t] >= config.mass_casualty
                        if dead[i, t] > toll:
                            toll, toll_at = dead[i, t], t
                    last = t
                if onset >= 0 and t - onset < hold:
                    self.statistic[i, t] = count
                    self.onset[i, t], self.previous[i, t], self.mass[i, t] = onset, before, mass
                    self.toll[i, t] = toll
                    if low is not None:
                        self.toll_range[:, i, t] = low[i, toll_at], high[i, toll_at]
                    # Raised where an attack arrives; the episode (forecast.alarms.episodes) holds it between.
                    if y[i, t] > 0:
                        self.level[i, t] = ALERT if (mass or count >= 2) else WARNING
        self.threshold = float(config.mass_casualty)
        self.fired = self.level >= WARNING

    def detail(self, i: int, t: int) -> str:
        since = " on record" if self.previous[i, t] < 0 else f" since {self.ds[self.previous[i, t]]:%F}"
        text = (
            f"new ground: first attack in {self.names(self.units[i])}{since} "
            f"({period_name(self.ds[self.onset[i, t]], self.freq, article=False)})"
        )
        if self.mass[i, t]:
            low, high = self.toll_range[:, i, t]
            reported = (f", reported range {low:,.0f}-{high:,.0f}"
                        if np.isfinite(low) and np.isfinite(high) and (low, high) != (self.toll[i, t],) * 2 else "")
            text += (f"; mass casualty ({self.toll[i, t]:,.0f} killed in one {self.unit_word}, best estimate"
                     f"{reported}; threshold {self.config.mass_casualty:g})")
        elif self.statistic[i, t] >= 2:
            text += f"; {self._words(self.statistic[i, t])} since then"
        return text
