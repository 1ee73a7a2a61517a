"""Spillover: the share of each unit's expected attacks imported from the stronghold, from the endemic-epidemic model.

Named specifications (:data:`SPILLOVER_SPECS`) say how the stronghold may
reach other units. The default, ``source_5_sd2``, adds to contiguous coupling a
source component: the stronghold's count imported into every unit with at least
5 events in the last 13 periods, however far away, each with its own coupling
shrunk towards the shared one, recent periods weighted most. Chosen by
``bench/bench_spillover.py`` against the known truth of synthetic worlds (the
embedded scenario, the ``endemic`` generator with far targets, null worlds);
the earlier default, ``contiguous`` (power law in adjacency order), gave the
embedded scenario's far targets 0 %.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from forecast.errors import (
    ConvergenceError,
    ForecastError,
    ModelError,
)
from forecast.geo.gazetteer import Gazetteer
from forecast.spread.context import _name_of, gazetteer_for, panel_bounds
from forecast.spread.stronghold import Stronghold

logger = logging.getLogger(__name__)


# --------------------------------------------------------------- spillover
SPILLOVER_COLUMNS = [
    "unit_id",
    "name",
    "share",
    "share_lo",
    "share_hi",
    "baseline_share",
    "imported",
    "expected",
]


@dataclass
class Spillover:
    """The share of each unit's expected count imported from the stronghold.

    Attributes
    ----------
    units
        One row per non-stronghold unit: ``unit_id, name``; ``share`` with its
        interval ``share_lo, share_hi`` (level :attr:`level`) over the recent
        window; ``baseline_share`` over the window before it; ``imported`` and
        ``expected`` counts over the recent window. Empty when not available.
    by_period
        ``unit_id, ds, imported, expected, share, share_lo, share_hi`` for every
        fitted period.
    available
        False when the spread model is missing or could not be fitted; then
        :attr:`note` says why.
    note
        Why the share is unavailable, or a caveat; None otherwise.
    fit
        The fitted model (:class:`~forecast.models.endemic_epidemic.EndemicEpidemicFit`) or None.
    level
        Coverage of the intervals.
    recent, baseline
        ``(first, last)`` period starts of the two windows compared.
    """

    units: pd.DataFrame
    by_period: pd.DataFrame
    available: bool
    note: str | None = None
    fit: Any = None
    level: float = 0.9
    recent: tuple[pd.Timestamp, pd.Timestamp] | None = None
    baseline: tuple[pd.Timestamp, pd.Timestamp] | None = None

    @classmethod
    def unavailable(cls, note: str) -> Spillover:
        """A result saying why there is no spillover share."""
        empty = pd.DataFrame({c: pd.Series(dtype=object if c in ("unit_id", "name") else float) for c in SPILLOVER_COLUMNS})
        return cls(units=empty, by_period=pd.DataFrame(), available=False, note=note)


def default_spillover_config() -> Any:
    """The base endemic-epidemic configuration of every specification in :data:`SPILLOVER_SPECS`.

    Negative binomial; endemic part with a shared intercept, trend and one
    yearly harmonic; own-lag and neighbour parts with intercepts; neighbour
    weights a power law in the adjacency order (up to order 6, the decay
    estimated): the ``contiguous`` specification as it is. The others change
    the weights, the down-weighting of old periods and the terms
    (:meth:`SpilloverSpec.config`).
    """
    from forecast.models.endemic_epidemic import EndemicEpidemicConfig

    return EndemicEpidemicConfig(trend=True, harmonics=1, weights="powerlaw", maxlag=6, family="negbin1")


@dataclass(frozen=True)
class SpilloverSpec:
    """How the spread model lets the stronghold reach other units.

    Parameters
    ----------
    description
        One line for tables.
    reach
        ``"contiguous"``: the neighbour weights of the configuration only
        (adjacency or power law); ``"all"``: the stronghold is also a
        first-order source of every unit; ``"active"``: of every unit with at
        least ``min_events`` events in the last ``active_periods`` periods.
    coefficients
        ``"shared"``: one neighbour coefficient; ``"unit"``: one per unit,
        shrunk towards their mean (sd ``sd``); ``"reached"``: the shared one,
        times ``exp(b_i)`` for each unit the stronghold reaches beyond its
        borders, ``b_i`` shrunk towards 0 (ridge, sd ``sd``).
    weights
        ``"powerlaw"`` (falls back to adjacency when the decay is unidentified) or ``"adjacency"``.
    halflife
        Down-weighting of old periods (:class:`~forecast.models.endemic_epidemic.EndemicEpidemicConfig`).
    """

    description: str
    reach: str = "contiguous"
    coefficients: str = "shared"
    weights: str = "powerlaw"
    halflife: float | None = None
    sd: float = 1.0
    min_events: int = 1
    active_periods: int = 13
    level_sd: float | None = None

    def config(self, reached: Sequence[str] = (), sources: Sequence[str] = ()) -> Any:
        """The endemic-epidemic configuration, with one indicator term per reached unit."""
        from forecast.models.endemic_epidemic import ComponentTerms

        config = replace(default_spillover_config(), weights=self.weights, halflife=self.halflife)
        if self.coefficients == "source":
            if not len(reached):
                return config
            indicators = tuple(_REACHED + u for u in reached)
            config = replace(
                config, source=ComponentTerms(covariates=indicators, covariate_sd=self.sd),
                source_units=tuple(sources), source_reach=tuple(reached),
            )
            if self.level_sd is not None:
                config = replace(config, endemic=replace(
                    config.endemic_terms(), covariates=indicators, covariate_sd=self.level_sd
                ))
            return config
        if self.coefficients == "unit":
            return replace(config, ne=ComponentTerms(intercept="unit", intercept_sd=self.sd))
        if self.coefficients == "reached" and len(reached):
            indicators = tuple(_REACHED + u for u in reached)
            config = replace(config, ne=ComponentTerms(covariates=indicators, covariate_sd=self.sd))
            if self.level_sd is not None:
                config = replace(config, endemic=replace(
                    config.endemic_terms(), covariates=indicators, covariate_sd=self.level_sd
                ))
        return config


#: Prefix of the indicator columns of the units a "reached" specification links to the stronghold.
_REACHED = "from_stronghold:"

#: Specifications :func:`spillover_share` knows (``spec=``); ``bench/bench_spillover.py``
#: measures each against the truth of synthetic worlds.
SPILLOVER_SPECS: dict[str, SpilloverSpec] = {
    "contiguous": SpilloverSpec(
        "power law in adjacency order up to 6, decay estimated, first-order adjacency when the decay "
        "is unidentified; one neighbour coefficient; every period weighs the same"
    ),
    "stronghold_all": SpilloverSpec(
        "the stronghold a first-order source of every province, one shared coefficient",
        reach="all", weights="adjacency",
    ),
    "stronghold_active_units": SpilloverSpec(
        "the stronghold a first-order source of every province with an event in the last 13 periods; "
        "one neighbour coefficient per province, shrunk towards their mean (sd 1 on the log scale); "
        "halflife 13 periods",
        reach="active", coefficients="unit", weights="adjacency", halflife=13.0,
    ),
    "stronghold_reached_3": SpilloverSpec(
        "the stronghold a first-order source of every province with at least 3 events in the last 13 "
        "periods, each with its own coefficient (shared x exp(b), b ridge-shrunk to 0, sd 1); halflife 13",
        reach="active", coefficients="reached", weights="adjacency", halflife=13.0, min_events=3,
    ),
    "stronghold_reached_3_level": SpilloverSpec(
        "as stronghold_reached_3, and each reached province its own endemic level (ridge, sd 2)",
        reach="active", coefficients="reached", weights="adjacency", halflife=13.0, min_events=3, level_sd=2.0,
    ),
    "source_3": SpilloverSpec(
        "contiguous neighbours (one coefficient, adjacency) plus a source component: the stronghold's "
        "count imported into every province with at least 3 events in the last 13 periods, coupling "
        "exp(a + b_i) (b_i ridge-shrunk to 0, sd 1); halflife 13",
        reach="active", coefficients="source", weights="adjacency", halflife=13.0, min_events=3,
    ),
    "source_3_level": SpilloverSpec(
        "as source_3, each reached province its own endemic level (ridge, sd 2)",
        reach="active", coefficients="source", weights="adjacency", halflife=13.0, min_events=3, level_sd=2.0,
    ),
    "source_4": SpilloverSpec(
        "as source_3, for provinces with at least 4 events in the last 13 periods",
        reach="active", coefficients="source", weights="adjacency", halflife=13.0, min_events=4,
    ),
    "source_5": SpilloverSpec(
        "as source_3, for provinces with at least 5 events in the last 13 periods",
        reach="active", coefficients="source", weights="adjacency", halflife=13.0, min_events=5,
    ),
    "source_5_sd2": SpilloverSpec(
        "as source_5, coupling sd 2",
        reach="active", coefficients="source", weights="adjacency", halflife=13.0, min_events=5, sd=2.0,
    ),
    "source_5_hl26": SpilloverSpec(
        "as source_5, halflife 26",
        reach="active", coefficients="source", weights="adjacency", halflife=26.0, min_events=5,
    ),
}
#: The specification :func:`spillover_share` fits when none is given.
DEFAULT_SPILLOVER_SPEC = "source_5_sd2"


def spillover_share(
    panel: pd.DataFrame,
    stronghold: Stronghold | Sequence[str],
    as_of: Any = None,
    *,
    fit_periods: int = 104,
    recent_periods: int = 4,
    baseline_periods: int = 52,
    config: Any = None,
    gazetteer: Gazetteer | None = None,
    level: float = 0.9,
    n_draws: int = 200,
    seed: int = 0,
    spec: str | None = None,
) -> Spillover:
    """Share of each unit's expected count that the spread model imports from the stronghold.

    Fits the endemic-epidemic model (:mod:`forecast.models.endemic_epidemic`)
    to the last ``fit_periods`` periods known at ``as_of`` and splits each
    unit's expected count with
    :meth:`~forecast.models.endemic_epidemic.EndemicEpidemicFit.attribution`.
    The imported part is the sum over stronghold units of
    ``phi * w_ji * Y_j,t-1`` (plus ``kappa_i * Y_j,t-1`` of the source
    component when the specification has one); its share is taken over the
    ``recent_periods`` (imported / expected, both summed) and compared with
    the same share over the ``baseline_periods`` before them.

    Parameters
    ----------
    panel
        Long panel ``unit_id, ds, y``.
    stronghold
        The stronghold (or its unit ids).
    as_of
        Use only periods complete at this date (default: all).
    fit_periods, recent_periods, baseline_periods
        Window lengths in periods.
    config
        :class:`~forecast.models.endemic_epidemic.EndemicEpidemicConfig`
        overriding the specification's (its reach of the stronghold is kept).
    spec
        A key of :data:`SPILLOVER_SPECS` (default :data:`DEFAULT_SPILLOVER_SPEC`).
        When the source component cannot be estimated (its coupling runs to 0,
        no usable covariance, no convergence) the fit falls back to contiguous
        neighbours and the ``note`` says so.
    gazetteer
        Adjacency orders and population offsets (default: the panel's country).
    level, n_draws, seed
        Interval coverage, parameter draws behind it, and their seed.

    Returns
    -------
    Spillover
        With ``available=False`` and a ``note`` (never an exception) when the
        spread model cannot be imported or fitted, so that alarm rules that do
        not need it still run.

    Notes
    -----
    Per period, attribution gives quantiles of each source's share over
    parameter draws. The window's interval is the expected-count-weighted mean
    of the per-period quantiles, summed over stronghold units. It is exact when
    the per-period shares move together over the draws (they all rise with the
    neighbour coefficient and fall with the endemic and own-lag ones) and a
    close approximation otherwise.

    Examples
    --------
    >>> from forecast.data.synthetic import generate_scenario
    >>> s = generate_scenario(seed=5, start="2019-01-07", end="2021-12-27")
    >>> result = spillover_share(s.counts[["unit_id", "ds", "y"]], s.stronghold)
    >>> result.available, bool((result.units["share"] <= 1).all())
    (True, True)
    """
    from forecast.checks import choice

    chosen_spec = SPILLOVER_SPECS[choice(spec or DEFAULT_SPILLOVER_SPEC, "spillover specification", SPILLOVER_SPECS)]
    strong_ids = list(stronghold.unit_ids) if isinstance(stronghold, Stronghold) else list(stronghold)
    known, _ = panel_bounds(panel, as_of)
    try:
        from forecast.models.endemic_epidemic import EndemicEpidemic
    except ImportError as exc:  # pragma: no cover - the model ships with the package
        return Spillover.unavailable(f"the spread model is not available ({exc}); imported risk was not assessed")
    periods = np.sort(known["ds"].unique())
    if len(periods) < recent_periods + 8:
        return Spillover.unavailable(
            f"only {len(periods)} periods of data; the spread model needs at least {recent_periods + 8}"
        )
    periods = periods[-int(fit_periods):]
    window = known[known["ds"].isin(periods)]
    units = sorted(window["unit_id"].astype(str).unique())
    try:
        gaz = gazetteer_for(units, gazetteer)
        neighbourhood = pd.DataFrame(gaz.adjacency_order(units), index=units, columns=units)
        neighbourhood, reached = _reach(neighbourhood, window, strong_ids, chosen_spec)
        spec_config = chosen_spec.config(reached, strong_ids)
        columns = ["unit_id", "ds", "y"]
        if chosen_spec.coefficients in ("reached", "source") and reached:
            unit_column = window["unit_id"].astype(str)
            window = window.assign(**{_REACHED + u: (unit_column == u).astype(float) for u in reached})
            columns += [_REACHED + u for u in reached]
        population = gaz.population_fraction().reindex(units)
    except ForecastError as exc:
        return Spillover.unavailable(f"no adjacency for the units ({exc}); imported risk was not assessed")
    if not window.loc[window["unit_id"].isin(strong_ids), "y"].to_numpy()[:-1].any():
        return Spillover.unavailable(
            "the stronghold had no events in the spread model's window, so nothing can be imported from it"
        )
    decay_note = None
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            # Units without events give 0/0 shares inside the model; they are dropped below.
            warnings.simplefilter("ignore", RuntimeWarning)
            chosen = config or spec_config
            offsets = population if population.notna().all() else None
            base = ["unit_id", "ds", "y"]
            try:
                fit = EndemicEpidemic(chosen).fit(window[columns], neighbourhood, offsets)
            except (ConvergenceError, ModelError) as exc:
                if chosen.source_terms() is not None:
                    # The stronghold coupling of the reached provinces cannot be estimated:
                    # contiguous neighbours only, as when it runs to 0 (below).
                    chosen, columns = _without_source(chosen), base
                    decay_note = (
                        "the spread model could not estimate imports beyond the stronghold's borders, "
                        "so only contiguous neighbours import"
                    )
                elif not isinstance(exc, ConvergenceError) or chosen.family != "negbin1":
                    raise
                else:
                    # On few events the overdispersion can run to 0 (the Poisson limit),
                    # a boundary the optimiser approaches without reaching: fit that limit.
                    chosen = replace(chosen, family="poisson")
                    decay_note = "too few events to estimate overdispersion; the spread model is Poisson"
                try:
                    fit = EndemicEpidemic(chosen).fit(window[columns], neighbourhood, offsets)
                except ConvergenceError:
                    if chosen.family != "negbin1":
                        raise
                    chosen = replace(chosen, family="poisson")
                    fit = EndemicEpidemic(chosen).fit(window[columns], neighbourhood, offsets)
                    decay_note = "; ".join(filter(None, [
                        decay_note, "too few events to estimate overdispersion; the spread model is Poisson"
                    ]))
            if _source_unidentified(fit):
                # The data show no imports from the stronghold beyond what contiguity carries:
                # the source coupling runs to 0 and its draws would swing to any size.
                chosen, columns = _without_source(chosen), base
                fit = EndemicEpidemic(chosen).fit(window[columns], neighbourhood, offsets)
                decay_note = "; ".join(filter(None, [decay_note, (
                    "the data show no imports from the stronghold into provinces beyond its borders "
                    "(the coupling runs to 0), so only contiguous neighbours import"
                )]))
            if _decay_unidentified(fit):
                # The data only say "influence stops at the border": the decay runs to
                # infinity and its parameter draws swing between no reach and full reach,
                # which would make every interval [0, share]. First-order adjacency is
                # that limit, with well-defined uncertainty.
                fit = EndemicEpidemic(replace(chosen, weights="adjacency")).fit(
                    window[columns], neighbourhood, offsets
                )
                decay_note = "; ".join(filter(None, [decay_note, (
                    "the spread model could not estimate how influence decays beyond adjacent "
                    "provinces (the data show none), so it uses first-order adjacency"
                )]))
            recent = pd.DatetimeIndex(periods[-int(recent_periods):])
            baseline = pd.DatetimeIndex(periods[-int(recent_periods + baseline_periods):-int(recent_periods)])
            baseline = baseline[baseline > pd.Timestamp(periods[0])]  # the first period has no lag
            try:
                attribution = fit.attribution(
                    periods=list(baseline.append(recent)), n_draws=n_draws, level=level, seed=seed
                )
            except ModelError:
                if fit.config.source_terms() is not None:
                    # No usable covariance with the source coupling: contiguous neighbours only.
                    chosen, columns = _without_source(chosen), base
                    why = ("the spread model could not estimate imports beyond the stronghold's borders "
                           "with usable uncertainty, so only contiguous neighbours import")
                elif fit.config.weights == "powerlaw":
                    # Many quiet units (a panel of several countries) can leave the decay's
                    # estimate without a usable covariance: first-order adjacency, as above.
                    chosen = replace(chosen, weights="adjacency")
                    why = ("the spread model could not estimate how influence decays beyond adjacent "
                           "provinces with usable uncertainty, so it uses first-order adjacency")
                else:
                    raise
                fit = EndemicEpidemic(chosen).fit(window[columns], neighbourhood, offsets)
                decay_note = "; ".join(filter(None, [decay_note, why]))
                attribution = fit.attribution(
                    periods=list(baseline.append(recent)), n_draws=n_draws, level=level, seed=seed
                )
            components = fit.fitted_components()
    except ForecastError as exc:
        return Spillover.unavailable(f"the spread model could not be fitted ({exc}); imported risk was not assessed")
    except (np.linalg.LinAlgError, ValueError) as exc:
        logger.warning("spread model failed: %s", exc)
        return Spillover.unavailable(f"the spread model failed ({exc}); imported risk was not assessed")

    from_stronghold = attribution[attribution["imported_from"].isin(strong_ids)]
    imported = (
        from_stronghold.assign(lo=lambda f: f["share_lo"].fillna(0.0), hi=lambda f: f["share_hi"].fillna(0.0))
        .groupby(["unit_id", "ds"])[["expected", "lo", "hi"]].sum()
    )
    by_period = components.set_index(["unit_id", "ds"])[["mu"]].join(imported, how="left").fillna(0.0)
    by_period = by_period.rename(columns={"mu": "expected", "expected": "imported", "lo": "share_lo", "hi": "share_hi"})
    by_period["share"] = np.divide(
        by_period["imported"], by_period["expected"],
        out=np.zeros(len(by_period)), where=by_period["expected"].to_numpy() > 0,
    )
    by_period = by_period.reset_index()
    by_period = by_period[~by_period["unit_id"].isin(strong_ids)]

    def pooled(frame: pd.DataFrame) -> pd.DataFrame:
        sums = frame.groupby("unit_id").apply(
            lambda g: pd.Series({
                "imported": g["imported"].sum(),
                "expected": g["expected"].sum(),
                "share_lo": np.average(g["share_lo"], weights=g["expected"]) if g["expected"].sum() > 0 else 0.0,
                "share_hi": np.average(g["share_hi"], weights=g["expected"]) if g["expected"].sum() > 0 else 0.0,
            }),
            include_groups=False,
        )
        sums["share"] = np.where(sums["expected"] > 0, sums["imported"] / sums["expected"].where(sums["expected"] > 0, 1), 0.0)
        return sums

    now = pooled(by_period[by_period["ds"].isin(recent)])
    before = pooled(by_period[by_period["ds"].isin(baseline)]) if len(baseline) else None
    table = now.reset_index()
    table["baseline_share"] = (
        before["share"].reindex(table["unit_id"]).to_numpy() if before is not None else np.nan
    )
    table["name"] = [_name_of(gaz, u) for u in table["unit_id"]]
    # Quantiles of an average over draws need not bracket the plug-in share; keep it inside.
    table["share_lo"] = np.minimum(table["share_lo"], table["share"])
    table["share_hi"] = np.maximum(table["share_hi"], table["share"])
    notes = [decay_note]
    if isinstance(stronghold, Stronghold) and not stronghold.has_events:
        notes.append(stronghold.note)
    note = "; ".join(n for n in notes if n) or None
    return Spillover(
        units=table[SPILLOVER_COLUMNS].reset_index(drop=True),
        by_period=by_period[["unit_id", "ds", "imported", "expected", "share", "share_lo", "share_hi"]],
        available=True,
        note=note,
        fit=fit,
        level=level,
        recent=(recent[0], recent[-1]),
        baseline=(baseline[0], baseline[-1]) if len(baseline) else None,
    )


def _reach(
    orders: pd.DataFrame, window: pd.DataFrame, strong_ids: list[str], spec: SpilloverSpec
) -> tuple[pd.DataFrame, list[str]]:
    """The adjacency orders with the stronghold a first-order source of the units it reaches.

    Returns the orders and the units reached (those bordering it among them).
    """
    if spec.reach == "contiguous":
        return orders, []
    if spec.reach == "all":
        candidates = list(orders.columns)
    else:
        last = np.sort(window["ds"].unique())[-int(spec.active_periods):]
        recent = window[window["ds"].isin(last)].groupby(window["unit_id"].astype(str))["y"].sum()
        candidates = sorted(recent.index[recent >= spec.min_events])
    rows = [u for u in strong_ids if u in orders.index]
    reached = [u for u in candidates if u not in strong_ids]
    if spec.coefficients == "source":  # the source component carries the link, not the weights
        return orders, reached
    orders = orders.copy()
    orders.loc[rows, reached] = 1.0
    return orders, reached


def attribution_table(spillover: Spillover, stronghold: Stronghold, gazetteer: Gazetteer | None = None) -> pd.DataFrame:
    """Each unit's expected count over the recent window split into its parts, with a sentence.

    Parameters
    ----------
    spillover
        From :func:`spillover_share` (must be available).
    stronghold
        The stronghold whose imports are reported.
    gazetteer
        Unit names.

    Returns
    -------
    pandas.DataFrame
        One row per unit outside the stronghold, largest imported share first:
        ``unit_id, name, expected, endemic, autoregressive, neighbour`` (sums
        over the recent window; the three parts add up to ``expected``),
        ``imported`` (the part of ``neighbour`` from the stronghold), ``share,
        share_lo, share_hi`` and ``sentence`` ("38 % of Kunar's expected
        attacks in 2021-11-29 to 2021-12-20 are imported from Nangarhar
        (90 % interval 21-52 %)").
    """
    if not spillover.available or spillover.fit is None or spillover.recent is None:
        raise ModelError(f"no spillover attribution: {spillover.note or 'the spread model was not fitted'}")
    first, last = spillover.recent
    parts = spillover.fit.fitted_components()
    parts = parts[(parts["ds"] >= first) & (parts["ds"] <= last) & ~parts["unit_id"].isin(stronghold.unit_ids)]
    sums = parts.groupby("unit_id")[["mu", "endemic", "autoregressive", "neighbour"]].sum().rename(columns={"mu": "expected"})
    shares = spillover.units.set_index("unit_id")[["imported", "share", "share_lo", "share_hi"]]
    table = sums.join(shares, how="left").fillna(0.0).reset_index()
    names = _names_for(table["unit_id"], gazetteer)
    table.insert(1, "name", names)
    period = f"{first:%Y-%m-%d}" if first == last else f"{first:%Y-%m-%d} to {last:%Y-%m-%d}"
    table["sentence"] = [
        f"{100 * row.share:.0f} % of {row.name}'s expected attacks in {period} are imported from "
        f"{stronghold.label()} ({100 * spillover.level:.0f} % interval {100 * row.share_lo:.0f}-{100 * row.share_hi:.0f} %)"
        for row in table.itertuples()
    ]
    return table.sort_values(["share", "expected"], ascending=False).reset_index(drop=True)


def _names_for(unit_ids: pd.Series, gazetteer: Gazetteer | None) -> list[str]:
    try:
        gaz = gazetteer_for(list(unit_ids), gazetteer)
    except ForecastError:
        return list(unit_ids)
    return [_name_of(gaz, unit) for unit in unit_ids]


#: Above this standard error (or decay) the power-law decay is taken as unidentified.
_MAX_DECAY_SE = 5.0
_MAX_DECAY = 20.0


def _without_source(config: Any) -> Any:
    """The configuration without the source component and the reached units' indicator terms."""
    endemic = None if config.endemic is None else replace(config.endemic, covariates=(), covariate_sd=None)
    return replace(config, source=False, source_units=(), source_reach=None, endemic=endemic)


def _source_unidentified(fit: Any) -> bool:
    """True when the source component's shared coupling ``st.1`` ran off towards 0."""
    params, errors = fit.params, fit.std_errors
    if "st.1" not in params:
        return False
    error = float(errors["st.1"])
    return not (np.isfinite(error) and error < _MAX_DECAY_SE)


def _decay_unidentified(fit: Any) -> bool:
    """True when a power-law fit's decay ``neweights.d`` ran off to "adjacent only"."""
    params, errors = fit.params, fit.std_errors
    if "neweights.d" not in params:
        return False
    decay, error = float(params["neweights.d"]), float(errors["neweights.d"])
    return not (np.isfinite(error) and error < _MAX_DECAY_SE and decay < _MAX_DECAY)
