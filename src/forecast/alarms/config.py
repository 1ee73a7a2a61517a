"""Warning thresholds (:class:`WarningConfig`), the rule families and the level codes."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from forecast.checks import fraction, number, whole_number
from forecast.errors import ParameterError

#: Rule families, in the order reasons list them.
RULES: tuple[str, ...] = ("new_ground", "emergence", "exceedance", "cusum", "hotspot", "imported")
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


def months_as_periods(months: float, freq: str) -> int:
    """A duration in months as whole periods of ``freq`` (at least one).

    So rules written in months (new ground, the follow-up hold, the
    expansion window) read the same on weekly and monthly panels.

    Examples
    --------
    >>> months_as_periods(3, "W-MON"), months_as_periods(3, "MS")
    (13, 3)
    """
    from forecast.panel import periods_per_year

    return max(1, round(months * periods_per_year(freq) / 12.0))


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
    follow_up_months
        Alarm episodes: a unit keeps its warning for this many months after
        the last period that raised one (converted to periods with
        :func:`forecast.panel.periods_per_year`), so an assessment does not
        drop a spreading province because its CUSUM restarted or a month
        passed without an attack; see :func:`forecast.alarms.alarm_episodes`.
    stronghold_window, stronghold_share
        Baseline window and share of :func:`forecast.spread.find_stronghold`.
    new_ground
        Evaluate the new-ground rule (on by default; its skill on every
        generator is in ``bench/RESULTS.md``).
    new_ground_months, new_ground_hold_months
        New ground: an attack in a unit with none in the previous
        ``new_ground_months`` (or none on record) is a warning at once, held
        for ``new_ground_hold_months``; months become periods with
        :func:`forecast.panel.periods_per_year`, so weekly and monthly agree.
    mass_casualty
        New ground: fatalities (best estimate, summed over the unit's period)
        at or above which a new-ground attack is an alert at once; a second
        attack within the hold makes an alert too.
    imported_risk
        Evaluate the imported-risk rule (off by default: on the calibration
        generators it detected no spread that the other rules missed and
        raised false watches, so a default report does not show it).
    expansion_months, expansion_min_units
        Group-level expansion: the provinces newly struck (new ground) in the
        last ``expansion_months`` are counted; the alarm is raised when there
        are at least ``expansion_min_units`` and more than in any window of
        the group's own history (:func:`forecast.alarms.group_expansion`).
        A rise in the share of attacks outside the stronghold was tried as a
        second trigger and dropped: on the calibration generators it raised
        as many false alarms (10-15 % of quarters without spread) as it found spreads.
    min_events_per_period
        The rate-based rules (exceedance, CUSUM) stand aside, and say so,
        when the whole panel averaged fewer events per period than this over
        the ``dynamics_periods`` before the judged period: a list of notable
        attacks only (a few per province-quarter) carries no rate to compare
        against, and new ground and emergence judge alone.
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
    follow_up_months: int = 3
    stronghold_window: int = 52
    stronghold_share: float = 0.5
    new_ground: bool = True
    new_ground_months: int = 12
    new_ground_hold_months: int = 3
    mass_casualty: float = 25.0
    imported_risk: bool = False
    expansion_months: int = 3
    expansion_min_units: int = 2
    min_events_per_period: float = 1.0

    def __post_init__(self) -> None:
        for name in ("recent_periods", "baseline_periods", "min_baseline_periods", "quiet_periods",
                     "emergence_events", "hotspot_bins", "spillover_periods", "alert_families",
                     "stronghold_window", "dynamics_periods", "dynamics_refit", "follow_up_months",
                     "new_ground_months", "new_ground_hold_months", "expansion_months", "expansion_min_units"):
            whole_number(getattr(self, name), f"WarningConfig.{name}")
        for name in ("alpha", "hotspot_alpha", "mk_alpha", "hotspot_share", "stronghold_share",
                     "imported_share", "imported_min_share"):
            fraction(getattr(self, name), f"WarningConfig.{name}", include_one=True)
        for name in ("prior_events", "cusum_shift", "cusum_h", "min_size", "mass_casualty", "min_events_per_period"):
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
