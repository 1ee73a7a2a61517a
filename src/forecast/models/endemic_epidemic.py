"""Endemic-epidemic multivariate count model (``surveillance::hhh4`` in R).

Counts ``Y_it`` of unit ``i`` in period ``t`` follow a Poisson or negative
binomial distribution (variance ``mu * (1 + psi * mu)``) whose mean adds three
parts::

    mu_it = e_it * nu_it                       endemic: background rate times offset
          + lambda_it * Y_i,t-1                autoregressive: the unit's own last count
          + phi_it * sum_j w_ji * Y_j,t-1      neighbour: counts spilling over from other units
          [+ kappa_it * sum_s Y_s,t-1]         source (optional): imports from named source units
                                               (a stronghold) into the units it reaches, any distance

With ``lag_weights`` (u_1, ..., u_L), ``Y_i,t-1`` in both epidemic parts
becomes the distributed lag ``sum_l u_l Y_i,t-l`` (weights normalised to sum
to one; in the first periods, the lags available, renormalised), so activity
two or three periods ago still drives the forecast (Bracher and Held 2020).

``log nu``, ``log lambda`` and ``log phi`` are each linear in their own terms:
intercept (shared or one per unit), linear trend in the 0-based period index
``s`` (0 for the first period of the data), Fourier seasonality
``sin/cos(2 pi k s / period)`` and any panel column. The weights ``w_ji`` from
source ``j`` to receiving unit ``i`` are either the first-order adjacency
indicator, or a power law in the adjacency order ``o_ji`` (``o_ji ** -d`` for
``1 <= o_ji <= maxlag``) normalised so that each source's weights sum to one,
with the decay ``d`` estimated jointly (``neweights.d``).

The model is fitted by maximum likelihood with the analytical gradient and
Hessian (trust-region Newton), so standard errors come from the observed
information. Parameter names follow R: ``end.1``, ``end.t``, ``end.sin1``,
``end.cos1``, ``ar.1``, ``ne.1``, ``neweights.d``, ``overdisp`` (psi).

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(1)
>>> ds = pd.date_range("2020-01-06", periods=60, freq="W-MON")
>>> panel = pd.DataFrame(
...     [(u, d, int(rng.poisson(3))) for u in ["A", "B", "C"] for d in ds],
...     columns=["unit_id", "ds", "y"],
... )
>>> borders = pd.DataFrame({"from": ["A", "B"], "to": ["B", "C"]})
>>> config = EndemicEpidemicConfig(trend=False, harmonics=0, family="poisson")
>>> fit = EndemicEpidemic(config).fit(panel, borders)
>>> fit.converged, list(fit.params.index)
(True, ['end.1', 'ar.1', 'ne.1'])
>>> fit.simulate(h=4, n_draws=100, seed=0).shape
(3, 4, 100)
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import digamma, gammaln, polygamma

from forecast.checks import EARLIEST_DATE, LATEST_DATE, fraction
from forecast.distributions import MAX_MEAN, check_means
from forecast.errors import ConvergenceError, InputError, ModelError, ParameterError
from forecast.geo.adjacency import adjacency_order
from forecast.panel import check_counts, infer_freq

if TYPE_CHECKING:
    from forecast.models.frame import ForecastFrame

logger = logging.getLogger(__name__)

__all__ = [
    "ComponentTerms",
    "EndemicEpidemic",
    "EndemicEpidemicConfig",
    "EndemicEpidemicFit",
    "SurveillanceData",
    "read_surveillance_csvs",
]

Family = Literal["negbin1", "poisson"]
WeightsKind = Literal["adjacency", "powerlaw"]

#: Memory budget (number of float64 values) for one block of attribution draws.
_ATTRIBUTION_BLOCK = 4_000_000


# --------------------------------------------------------------------- config
@dataclass(frozen=True)
class ComponentTerms:
    """Terms of one component's log-linear predictor.

    Parameters
    ----------
    intercept
        ``"shared"`` (one intercept, ``<comp>.1``), ``"unit"`` (one per unit,
        ``<comp>.1.<unit_id>``) or ``"none"``.
    trend
        Add a linear trend in the 0-based period index (``<comp>.t``).
    harmonics
        Number S of sine/cosine pairs at the configuration's ``season_period``
        (``<comp>.sin1``, ``<comp>.cos1``, ...).
    covariates
        Panel columns entering linearly (``<comp>.<column>``).
    intercept_sd
        With ``intercept="unit"``: shrink the unit intercepts towards their
        mean by a normal penalty of this standard deviation on their
        deviations (a random-effect-like prior; the fit maximises the
        penalised log-likelihood and its standard errors come from the
        penalised information). Units without data then get a finite
        intercept near the mean instead of an infinite one. ``None``: no
        penalty (R's fixed effects).
    covariate_sd
        Shrink the coefficients of ``covariates`` towards 0 by a normal
        penalty of this standard deviation (ridge on the log scale): e.g.
        unit indicators let chosen units depart from the shared intercept only
        as far as their data insist. ``None``: no penalty.
    """

    intercept: Literal["shared", "unit", "none"] = "shared"
    trend: bool = False
    harmonics: int = 0
    covariates: tuple[str, ...] = ()
    intercept_sd: float | None = None
    covariate_sd: float | None = None


@dataclass(frozen=True)
class EndemicEpidemicConfig:
    """What to fit: terms of each component, weights, family and offset.

    Parameters
    ----------
    trend, harmonics, unit_intercepts, covariates
        Terms of the endemic component ``log nu``: linear trend, number of
        harmonics, one intercept per unit instead of a shared one, and panel
        columns. Ignored when ``endemic`` is given.
    season_period
        Period of the Fourier terms in periods of the panel (52 for weeks).
    weights
        ``"adjacency"``: ``w_ji = 1`` for first-order neighbours (unnormalised);
        ``"powerlaw"``: ``w_ji ∝ o_ji ** -d`` up to ``maxlag``, each source's
        weights summing to one, ``d`` estimated.
    maxlag
        Largest adjacency order receiving weight under ``"powerlaw"``.
    family
        ``"negbin1"`` (negative binomial, variance ``mu (1 + psi mu)``) or ``"poisson"``.
    overdispersion
        ``"shared"``: one ``psi`` (``overdisp``); ``"unit"``: one per unit
        (``overdisp.<unit_id>``). Only used with ``"negbin1"``.
    own_overdispersion
        With ``overdispersion="shared"``: units that get a ``psi`` of their
        own (``overdisp.<unit_id>``) while the others share ``overdisp``, so a
        busy stronghold's spread is not the one the sparse units imply. Naming
        every unit is ``"unit"``. Default ``()``: none.
    ar, ne
        ``True`` for an intercept-only component, ``False`` to leave it out,
        or :class:`ComponentTerms` for more terms.
    source
        The optional source component ``kappa_it * sum_s Y_s,t-1`` (``st.*``
        parameters): imports from the ``source_units`` (a stronghold) into
        every unit of ``source_reach`` whatever the distance, on top of the
        neighbour weights. ``False`` (R's hhh4) leaves it out; give it
        :class:`ComponentTerms`, e.g. unit indicators as covariates with
        ``covariate_sd``, for a coupling per reached unit. Fits, components
        and attribution only: :meth:`EndemicEpidemicFit.simulate` refuses it.
    source_units
        Unit ids whose summed (distributed-lag) counts drive the source component.
    source_reach
        Unit ids that receive it; ``None``: every unit but the sources.
    endemic
        Full specification of the endemic terms (overrides ``trend`` etc.).
    offset
        Multiplier ``e_it`` of the endemic part: ``"auto"`` uses the population
        fraction when one is passed to ``fit`` and 1 otherwise;
        ``"population"`` requires it; ``"none"`` uses 1.
    halflife
        Down-weighting of old periods: each period's log-likelihood term is
        weighted ``0.5 ** (age / halflife)``, its age counted in periods back
        from the last fitted one, so the estimates follow the recent level
        after a structural break. ``None`` (R's hhh4): every period weighs
        the same.
    lag_weights
        Weights ``u_1, ..., u_L`` of the counts 1..L periods back in the
        epidemic parts, normalised to sum to one; ``(1.0,)`` (R's hhh4) uses
        the last count only.
    initial_decay
        Starting value of ``neweights.d`` (R's default is 1).
    tolerance
        The fit has converged when the Newton decrement ``g' (-H)^-1 g`` (about
        twice the log-likelihood still to gain) is below this, or below
        :data:`RELATIVE_TOLERANCE` times the log-likelihood's size.
    max_iter
        Iteration limit of the optimiser (trust-region and Newton steps together).

    Examples
    --------
    >>> EndemicEpidemicConfig(harmonics=3, weights="powerlaw").endemic_terms()
    ComponentTerms(intercept='shared', trend=True, harmonics=3, covariates=(), intercept_sd=None, covariate_sd=None)
    """

    trend: bool = True
    season_period: float = 52.0
    harmonics: int = 1
    unit_intercepts: bool = False
    covariates: tuple[str, ...] = ()
    weights: WeightsKind = "adjacency"
    maxlag: int = 5
    family: Family = "negbin1"
    overdispersion: Literal["shared", "unit"] = "shared"
    own_overdispersion: tuple[str, ...] = ()
    ar: bool | ComponentTerms = True
    ne: bool | ComponentTerms = True
    source: bool | ComponentTerms = False
    source_units: tuple[str, ...] = ()
    source_reach: tuple[str, ...] | None = None
    endemic: ComponentTerms | None = None
    offset: Literal["auto", "population", "none"] = "auto"
    halflife: float | None = None
    lag_weights: tuple[float, ...] = (1.0,)
    initial_decay: float = 1.0
    tolerance: float = 1e-8
    max_iter: int = 500

    def __post_init__(self) -> None:
        choices = {
            "weights": ("adjacency", "powerlaw"),
            "family": ("negbin1", "poisson"),
            "overdispersion": ("shared", "unit"),
            "offset": ("auto", "population", "none"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ParameterError(
                    f"EndemicEpidemicConfig.{name}={getattr(self, name)!r} is not one of {allowed}"
                )
        if self.own_overdispersion and self.overdispersion != "shared":
            raise ParameterError(
                "EndemicEpidemicConfig.own_overdispersion names units with a psi of their own; it needs "
                f"overdispersion='shared', not {self.overdispersion!r}"
            )
        if self.weights == "powerlaw" and int(self.maxlag) < 1:
            raise ParameterError(f"EndemicEpidemicConfig.maxlag={self.maxlag} must be at least 1")
        if self.halflife is not None and not (np.isfinite(self.halflife) and self.halflife > 0):
            raise ParameterError(
                f"EndemicEpidemicConfig.halflife={self.halflife} must be a positive number of periods or None"
            )
        lags = np.asarray(self.lag_weights, dtype=float)
        if lags.ndim != 1 or lags.size < 1 or not (np.isfinite(lags).all() and (lags >= 0).all() and lags.sum() > 0):
            raise ParameterError(
                f"EndemicEpidemicConfig.lag_weights={self.lag_weights!r} must be one or more non-negative "
                "numbers with a positive sum, e.g. (1.0,) or (0.5, 0.3, 0.2)"
            )
        if not self.season_period > 0:
            raise ParameterError(
                f"EndemicEpidemicConfig.season_period={self.season_period} must be positive"
            )
        if self.source_terms() is not None and not self.source_units:
            raise ParameterError("EndemicEpidemicConfig.source needs source_units (the stronghold's unit ids)")
        for terms in (self.endemic_terms(), self.ar_terms(), self.ne_terms(), self.source_terms()):
            if terms is not None and terms.harmonics < 0:
                raise ParameterError(f"harmonics={terms.harmonics} must be 0 or more")
            for name in ("intercept_sd", "covariate_sd"):
                value = None if terms is None else getattr(terms, name)
                if value is not None and not (np.isfinite(value) and value > 0):
                    raise ParameterError(f"{name}={value} must be a positive number or None")

    def endemic_terms(self) -> ComponentTerms:
        """Terms of the endemic component."""
        if self.endemic is not None:
            return self.endemic
        return ComponentTerms(
            intercept="unit" if self.unit_intercepts else "shared",
            trend=self.trend,
            harmonics=int(self.harmonics),
            covariates=tuple(self.covariates),
        )

    def ar_terms(self) -> ComponentTerms | None:
        """Terms of the autoregressive component, ``None`` when left out."""
        return _component_or_none(self.ar)

    def ne_terms(self) -> ComponentTerms | None:
        """Terms of the neighbour component, ``None`` when left out."""
        return _component_or_none(self.ne)

    def source_terms(self) -> ComponentTerms | None:
        """Terms of the source component, ``None`` when left out (the default)."""
        return _component_or_none(self.source)

    def lag_vector(self) -> np.ndarray:
        """The lag weights ``u_1..u_L`` normalised to sum to one."""
        lags = np.asarray(self.lag_weights, dtype=float)
        return lags / lags.sum()


def distributed_lag(counts: np.ndarray, lag_weights: np.ndarray) -> np.ndarray:
    """The epidemic parts' lagged counts: ``x_t = sum_l u_l y_{t-l}`` for ``t = 1..T``.

    ``counts`` is ``(units, T+1, ...)``; the result ``(units, T, ...)`` holds the lag
    for periods 1..T (period ``t`` sees periods before it only). Where fewer than
    ``L`` periods precede ``t``, the available lags' weights are renormalised.

    Examples
    --------
    >>> distributed_lag(np.array([[1.0, 2.0, 4.0, 8.0]]), np.array([0.5, 0.5]))
    array([[1. , 1.5, 3. ]])
    """
    n_lags = len(lag_weights)
    if n_lags == 1:
        return counts[:, :-1]
    n = counts.shape[1] - 1
    out = np.zeros((counts.shape[0], n, *counts.shape[2:]))
    total = np.zeros(n)
    for lag in range(1, n_lags + 1):
        if lag > n:
            break
        # period t (1-based, t >= lag) sees counts[t - lag]
        out[:, lag - 1 :] += lag_weights[lag - 1] * counts[:, : n - lag + 1]
        total[lag - 1 :] += lag_weights[lag - 1]
    shape = (1, n) + (1,) * (counts.ndim - 2)
    return out / np.where(total > 0, total, 1.0).reshape(shape)


def _component_or_none(spec: bool | ComponentTerms) -> ComponentTerms | None:
    if isinstance(spec, ComponentTerms):
        return spec
    return ComponentTerms() if spec else None


# ------------------------------------------------------------------- loading
@dataclass
class SurveillanceData:
    """Counts, adjacency orders and population read by :func:`read_surveillance_csvs`.

    Attributes
    ----------
    counts
        Long panel ``unit_id, ds, y`` (unit ids as strings, ``ds`` datetimes).
    neighbourhood
        Square adjacency-order matrix (index: source ``from``, columns:
        receiving ``to``), 0 on the diagonal.
    population
        Population fraction per unit, or ``None``.
    """

    counts: pd.DataFrame
    neighbourhood: pd.DataFrame
    population: pd.Series | None = None


def read_surveillance_csvs(
    counts_path: str | Path,
    neighbourhood_path: str | Path,
    population_path: str | Path | None = None,
) -> SurveillanceData:
    """Read the surveillance CSV exports (counts, neighbourhood, population).

    Parameters
    ----------
    counts_path
        CSV with ``unit_id, t, ds, y`` (``t`` the 1-based week, ``ds`` its date).
    neighbourhood_path
        CSV with ``from, to, order`` (adjacency order; 1 = shared border).
    population_path
        Optional CSV with ``unit_id, population_fraction``.

    Returns
    -------
    SurveillanceData
        Long panel, square order matrix and population fractions; unit ids
        keep their leading zeros.

    Examples
    --------
    >>> data = read_surveillance_csvs(  # doctest: +SKIP
    ...     "measlesWeserEms_counts.csv", "measlesWeserEms_neighbourhood.csv",
    ...     "measlesWeserEms_population.csv")
    >>> EndemicEpidemic().fit(data.counts, data.neighbourhood, data.population)  # doctest: +SKIP
    """
    counts = _read_csv(counts_path, {"unit_id"}, ["unit_id", "ds", "y"])
    counts["ds"] = _parse_file_dates(counts["ds"], counts_path)
    if "t" in counts.columns:
        # The exported week index must follow the dates, or the lags would be wrong.
        order_by_t = counts.sort_values(["unit_id", "t"])["ds"].to_numpy()
        order_by_ds = counts.sort_values(["unit_id", "ds"])["ds"].to_numpy()
        if not np.array_equal(order_by_t, order_by_ds):
            raise InputError(
                "the week index 't' does not increase with the dates in 'ds'; fix the export",
                path=counts_path,
                column="t",
            )
    counts = counts[["unit_id", "ds", "y"]].reset_index(drop=True)

    pairs = _read_csv(neighbourhood_path, {"from", "to"}, ["from", "to", "order"])
    units = list(pd.unique(pd.concat([counts["unit_id"], pairs["from"], pairs["to"]])))
    try:
        orders = _orders_from_table(pairs, units)
    except InputError as error:
        raise InputError(error.detail, path=neighbourhood_path, column=error.column) from None

    population = None
    if population_path is not None:
        table = _read_csv(population_path, {"unit_id"}, ["unit_id", "population_fraction"])
        population = pd.Series(
            table["population_fraction"].to_numpy(dtype=float),
            index=pd.Index(table["unit_id"], dtype=object),
            name="population_fraction",
        )
    return SurveillanceData(counts=counts, neighbourhood=orders, population=population)


#: Columns of the surveillance exports that must hold numbers.
_NUMERIC_COLUMNS = ("t", "y", "order", "population_fraction")


def _read_csv(path: str | Path, id_columns: set[str], required: list[str]) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise InputError("file not found; check the path", path=path)
    if not path.is_file():
        raise InputError("is not a file (a folder or device); give the CSV itself", path=path)
    try:
        table = pd.read_csv(path, dtype={c: str for c in id_columns})
    except UnicodeDecodeError as error:
        raise InputError(f"is not UTF-8 text (byte offset {error.start}); save it as a UTF-8 CSV", path=path) from None
    except pd.errors.EmptyDataError:
        raise InputError("is empty; give the exported CSV", path=path) from None
    except (ValueError, OSError, pd.errors.ParserError) as error:
        raise InputError(f"cannot be read as CSV ({error})", path=path) from None
    for column in required:
        if column not in table.columns:
            raise InputError(
                f"missing; the file has columns {list(table.columns)[:8]} and needs {required}",
                path=path,
                column=column,
            )
    for column in _NUMERIC_COLUMNS:
        if column in table.columns and column in required:
            numbers = pd.to_numeric(table[column], errors="coerce")
            bad = numbers.isna() | ~np.isfinite(numbers.astype(float))
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0])
                raise InputError(f"{table[column].iloc[row]!r} is not a number; fix the value", path=path,
                                 row=row + 1, column=column)
            table[column] = numbers
    for column in id_columns:
        table[column] = table[column].astype(object)
    return table


def _parse_dates(values: pd.Series, path: str | Path | None = None) -> pd.Series:
    try:
        return pd.to_datetime(values)
    except (ValueError, TypeError) as error:
        raise InputError(
            f"dates cannot be parsed ({error}); use ISO dates like 2001-01-01",
            path=path,
            column="ds",
        ) from None


def _parse_file_dates(values: pd.Series, path: str | Path) -> pd.Series:
    """A counts file's ISO dates, each from 1900 to 2199 (:data:`forecast.checks.EARLIEST_DATE` .. ``LATEST_DATE``).

    Returns ``datetime64[ns]``; a value that is no such date is an error naming its row.
    """
    text = values.astype(str).str.strip()
    parsed = pd.to_datetime(text, format="ISO8601", errors="coerce")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    bad = parsed.isna() | (parsed < EARLIEST_DATE) | (parsed > LATEST_DATE)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0]) + 1
        raise InputError(
            f"'{text[bad].iloc[0]}' is not a date from {EARLIEST_DATE:%Y-%m-%d} to {LATEST_DATE:%Y-%m-%d}; "
            "use ISO dates like 2001-01-01",
            path=path,
            row=row,
            column="ds",
        )
    return parsed.astype("datetime64[ns]")


# --------------------------------------------------------------- neighbourhood
def _orders_from_table(pairs: pd.DataFrame, units: Sequence[Any]) -> pd.DataFrame:
    """Square order matrix from a ``from, to, order`` table; absent pairs are unreachable."""
    labels = [str(u) for u in units]
    position = {u: k for k, u in enumerate(labels)}
    source = pairs["from"].astype(str).map(position)
    target = pairs["to"].astype(str).map(position)
    keep = source.notna() & target.notna()
    order = pd.to_numeric(pairs["order"], errors="coerce")
    if order[keep].isna().any() or (order[keep] < 0).any():
        raise InputError("adjacency orders must be non-negative numbers", column="order")
    matrix = np.full((len(labels), len(labels)), np.inf)
    matrix[source[keep].to_numpy(int), target[keep].to_numpy(int)] = order[keep].to_numpy(float)
    np.fill_diagonal(matrix, 0.0)
    return pd.DataFrame(
        matrix, index=pd.Index(labels, dtype=object), columns=pd.Index(labels, dtype=object)
    )


def _order_matrix(neighbourhood: Any, units: list[str]) -> np.ndarray:
    """The neighbourhood in any accepted form as an order matrix aligned with ``units``."""
    if isinstance(neighbourhood, pd.DataFrame) and {"from", "to"} <= set(neighbourhood.columns):
        named = set(neighbourhood["from"].astype(str)) | set(neighbourhood["to"].astype(str))
        _require_units(named, units)
        if "order" in neighbourhood.columns:
            table = _orders_from_table(neighbourhood, units)
        else:
            table = adjacency_order(neighbourhood, units)
    elif isinstance(neighbourhood, pd.DataFrame):
        rows = [str(u) for u in neighbourhood.index]
        cols = [str(c) for c in neighbourhood.columns]
        if sorted(rows) != sorted(cols):
            raise InputError(
                "a neighbourhood matrix needs the same unit ids as rows and columns; "
                "or pass a table with columns from,to[,order]"
            )
        _require_units(set(rows), units)
        square = pd.DataFrame(neighbourhood.to_numpy(dtype=float), index=rows, columns=cols).loc[
            rows, rows
        ]
        values = square.to_numpy()
        if np.isnan(values).any() or (values < 0).any():
            raise InputError(
                "the neighbourhood matrix holds missing or negative orders; "
                "use non-negative adjacency orders, with inf for units that cannot reach each other"
            )
        is_adjacency = np.isin(values, (0.0, 1.0)).all() and not np.diag(values).any()
        if is_adjacency and (values == 0).sum() > len(rows):
            table = adjacency_order(square)
        else:
            table = square
    elif isinstance(neighbourhood, np.ndarray | list | tuple):
        raise ParameterError(
            "pass the neighbourhood labelled by unit ids: a DataFrame with columns from,to[,order] "
            "or a square DataFrame; adjacency_order(matrix, units=...) builds one from an ndarray"
        )
    else:
        raise ParameterError(
            f"neighbourhood of type {type(neighbourhood).__name__} is not understood; "
            "pass a DataFrame with columns from,to[,order]"
        )
    table.index = [str(u) for u in table.index]
    table.columns = [str(u) for u in table.columns]
    return table.loc[units, units].to_numpy(dtype=float)


def _require_units(named: set[str], units: list[str]) -> None:
    missing = [u for u in units if u not in named]
    if missing:
        raise InputError(
            f"the neighbourhood does not mention {len(missing)} unit(s) of the panel, e.g. {missing[:5]}; "
            "add their borders (from,to[,order] rows) or drop them from the panel"
        )


# ----------------------------------------------------------------------- panel
@dataclass
class _WidePanel:
    units: list[str]
    ds: pd.DatetimeIndex
    counts: np.ndarray  # (n_units, n_periods)
    covariates: dict[str, np.ndarray]  # name -> (n_units, n_periods)
    freq: str | None


def _wide_panel(
    panel: pd.DataFrame, covariate_names: Sequence[str], freq: str | None
) -> _WidePanel:
    """Validate a long (``unit_id, ds, y``) or wide (dates x units) panel and make it wide."""
    if not isinstance(panel, pd.DataFrame):
        raise InputError(
            f"the panel must be a pandas DataFrame with columns unit_id, ds, y, got {type(panel).__name__}"
        )
    if {"unit_id", "ds", "y"} <= set(panel.columns):
        long = panel
    elif isinstance(panel.index, pd.DatetimeIndex):
        if covariate_names:
            raise InputError(
                "covariates need a long panel (unit_id, ds, y, <covariates>), not a wide one"
            )
        long = panel.rename_axis(index="ds", columns="unit_id").stack().rename("y").reset_index()
    else:
        missing = [c for c in ("unit_id", "ds", "y") if c not in panel.columns]
        raise InputError(
            f"the panel lacks columns {missing}; pass a long panel unit_id, ds, y "
            "or a wide one with a DatetimeIndex and one column per unit",
            column=missing[0],
        )
    if long.empty:
        raise InputError("the panel has no rows")
    for column in ("y", *covariate_names):
        if column not in long.columns:
            raise InputError(
                f"missing from the panel (columns: {list(long.columns)})", column=column
            )
    unit_ids = long["unit_id"].astype(str).to_numpy()
    ds = _parse_dates(long["ds"])
    y = check_counts(long["y"], unit_ids, ds)
    columns = {"unit_id": unit_ids, "ds": ds.to_numpy(), "y": y}
    for name in covariate_names:
        values = pd.to_numeric(long[name], errors="coerce").to_numpy(dtype=float)
        if not np.isfinite(values).all():
            raise InputError(
                "covariate has missing or non-numeric values; fill or drop them", column=name
            )
        columns[name] = values
    frame = pd.DataFrame(columns)  # built at once: one column per covariate would fragment it
    if frame.duplicated(["unit_id", "ds"]).any():
        first = frame.loc[frame.duplicated(["unit_id", "ds"])].iloc[0]
        raise InputError(
            f"unit {first['unit_id']!r} has more than one row at {pd.Timestamp(first['ds']).date()}; "
            "aggregate to one row per unit and period",
            column="ds",
        )
    units = list(pd.unique(frame["unit_id"]))
    periods = pd.DatetimeIndex(np.sort(pd.unique(frame["ds"])))
    if len(periods) < 3:
        raise InputError(
            f"the panel has {len(periods)} period(s); the model needs at least 3", column="ds"
        )
    if len(frame) != len(units) * len(periods):
        raise InputError(
            f"the panel is incomplete: {len(units) * len(periods) - len(frame)} unit x period rows are missing; "
            "the panel contract needs a row (with y=0) for every unit and period",
            column="ds",
        )
    if freq is None:
        freq = infer_freq(periods)
    expected = pd.date_range(periods[0], periods=len(periods), freq=freq)
    if not expected.equals(periods):
        raise InputError(f"the periods in 'ds' do not follow freq={freq!r}; fill the gaps", column="ds")
    row = pd.Index(units).get_indexer(frame["unit_id"])
    col = periods.get_indexer(frame["ds"])
    counts = np.zeros((len(units), len(periods)))
    counts[row, col] = frame["y"].to_numpy()
    covariates = {}
    for name in covariate_names:
        values = np.zeros_like(counts)
        values[row, col] = frame[name].to_numpy()
        covariates[name] = values
    return _WidePanel(units=units, ds=periods, counts=counts, covariates=covariates, freq=freq)


def _population_offsets(population: Any, units: list[str], periods: pd.DatetimeIndex) -> np.ndarray:
    """Population fractions as an ``(n_units, n_periods)`` offset matrix."""
    if isinstance(population, pd.DataFrame):
        value_column = next(
            (c for c in ("population_fraction", "population") if c in population.columns), None
        )
        if "unit_id" not in population.columns or value_column is None:
            raise InputError(
                "the population table needs columns unit_id and population_fraction (or population)",
                column="population_fraction",
            )
        if "ds" in population.columns:
            table = population.assign(
                unit_id=population["unit_id"].astype(str), ds=pd.to_datetime(population["ds"])
            )
            wide = table.pivot_table(
                index="unit_id", columns="ds", values=value_column, aggfunc="first"
            )
            wide = wide.reindex(index=units, columns=periods)
            values = wide.to_numpy(dtype=float)
            if not np.isfinite(values).all():
                raise InputError(
                    "the population table lacks some unit x period rows of the panel",
                    column=value_column,
                )
            return _check_positive(values)
        series = pd.Series(
            population[value_column].to_numpy(dtype=float), index=population["unit_id"].astype(str)
        )
    elif isinstance(population, pd.Series):
        series = pd.Series(population.to_numpy(dtype=float), index=population.index.astype(str))
    elif isinstance(population, Mapping):
        series = pd.Series({str(k): float(v) for k, v in population.items()})
    else:
        raise ParameterError(
            "population must be a Series or dict by unit_id, or a DataFrame unit_id, population_fraction"
        )
    missing = [u for u in units if u not in series.index]
    if missing:
        raise InputError(
            f"no population for unit(s) {missing[:5]}; add them", column="population_fraction"
        )
    values = series.loc[units].to_numpy(dtype=float)[:, None] * np.ones(len(periods))
    return _check_positive(values)


def _check_positive(values: np.ndarray) -> np.ndarray:
    if not (np.isfinite(values).all() and (values > 0).all()):
        raise InputError("population values must be positive numbers", column="population_fraction")
    return values


# --------------------------------------------------------------------- design
@dataclass
class _Design:
    """Terms of one component over a set of periods.

    Unit-specific intercepts are kept implicit (``n_unit_terms`` leading
    coefficients, one per unit) rather than as indicator columns, so the
    likelihood works with per-unit sums instead of a wide, mostly-zero matrix.
    """

    n_unit_terms: int
    columns: np.ndarray  # (n_units, n_periods, p) shared columns (trend, season, covariates)

    def predictor(
        self,
        coefficients: np.ndarray,
        units: np.ndarray | None = None,
        periods: np.ndarray | None = None,
    ) -> np.ndarray:
        """Linear predictor: ``(n_units, n_periods)`` for one coefficient vector,
        ``(n_units, n_periods, n_draws)`` for a ``(n_draws, p)`` array."""
        unit_index = np.arange(self.columns.shape[0]) if units is None else np.asarray(units)
        if periods is None:
            columns = self.columns[unit_index]
        else:
            columns = self.columns[np.ix_(unit_index, np.asarray(periods))]
        k = self.n_unit_terms
        if coefficients.ndim == 1:
            eta = columns @ coefficients[k:]
            if k:
                eta = eta + coefficients[:k][unit_index][:, None]
            return eta
        eta = columns @ coefficients[:, k:].T
        if k:
            eta = eta + coefficients[:, :k].T[unit_index][:, None, :]
        return eta


def _component_design(
    prefix: str,
    terms: ComponentTerms,
    units: list[str],
    period_index: np.ndarray,
    season_period: float,
    covariates: Mapping[str, np.ndarray],
) -> tuple[list[str], _Design]:
    """Parameter names and design of one component.

    ``period_index`` is the 0-based period index ``s``; ``covariates`` map
    column names to ``(n_units, n_periods)`` values for the same periods.
    """
    n_units, n_periods = len(units), len(period_index)
    names: list[str] = []
    columns: list[np.ndarray] = []
    ones = np.ones((n_units, n_periods))
    n_unit_terms = 0
    if terms.intercept == "shared":
        names.append(f"{prefix}.1")
        columns.append(ones)
    elif terms.intercept == "unit":
        names += [f"{prefix}.1.{unit}" for unit in units]
        n_unit_terms = n_units
    elif terms.intercept != "none":
        raise ParameterError(f"intercept={terms.intercept!r} must be 'shared', 'unit' or 'none'")
    if terms.trend:
        names.append(f"{prefix}.t")
        columns.append(ones * period_index)
    for harmonic in range(1, terms.harmonics + 1):
        angle = 2.0 * np.pi * harmonic * period_index / season_period
        names += [f"{prefix}.sin{harmonic}", f"{prefix}.cos{harmonic}"]
        columns += [ones * np.sin(angle), ones * np.cos(angle)]
    for name in terms.covariates:
        names.append(f"{prefix}.{name}")
        columns.append(np.asarray(covariates[name], dtype=float))
    if not names:
        raise ParameterError(f"the {prefix} component has no terms; give it at least an intercept")
    stacked = np.stack(columns, axis=-1) if columns else np.zeros((n_units, n_periods, 0))
    return names, _Design(n_unit_terms=n_unit_terms, columns=stacked)


def _component_designs(
    config: EndemicEpidemicConfig,
    units: list[str],
    period_index: np.ndarray,
    covariates: Mapping[str, np.ndarray],
) -> tuple[list[str], dict[str, slice], dict[str, _Design]]:
    """Names, parameter slices and designs of the components present, in the order end, ar, ne."""
    names: list[str] = []
    slices: dict[str, slice] = {}
    designs: dict[str, _Design] = {}
    components = [
        ("end", config.endemic_terms()),
        ("ar", config.ar_terms()),
        ("ne", config.ne_terms()),
        ("st", config.source_terms()),
    ]
    for prefix, terms in components:
        if terms is None:
            continue
        term_names, design = _component_design(
            prefix, terms, units, period_index, config.season_period, covariates
        )
        slices[prefix] = slice(len(names), len(names) + len(term_names))
        names += term_names
        designs[prefix] = design
    return names, slices, designs


@dataclass
class _Layout:
    """Where each parameter block sits in the internal parameter vector."""

    names: list[str]
    end: slice
    ar: slice | None
    ne: slice | None
    decay: int | None
    psi: slice | None
    st: slice | None = None
    #: Per unit, the position of its overdispersion parameter within ``psi`` (None without psi).
    psi_index: np.ndarray | None = None

    @property
    def n_mean(self) -> int:
        """Number of parameters of the mean (all but the overdispersion)."""
        return self.psi.start if self.psi is not None else len(self.names)

    def component(self, name: str) -> slice | None:
        return {"end": self.end, "ar": self.ar, "ne": self.ne, "st": self.st}[name]


class _Neighbourhood:
    """Neighbour weights ``W[j, i]`` (source j, receiving i) and their d-derivatives."""

    def __init__(self, orders: np.ndarray, kind: WeightsKind, maxlag: int) -> None:
        self.kind = kind
        finite = np.isfinite(orders)
        if kind == "adjacency":
            self.fixed = (finite & (orders == 1)).astype(float)
        else:
            self.mask = finite & (orders >= 1) & (orders <= maxlag)
            self.log_order = np.where(self.mask, np.log(np.where(self.mask, orders, 1.0)), 0.0)
            # Orders take few distinct values (1..maxlag): exponentiate those only, then
            # gather; code len(distinct) marks pairs outside the mask (weight 0).
            self._distinct_log, codes = np.unique(self.log_order[self.mask], return_inverse=True)
            self._codes = np.full(orders.shape, len(self._distinct_log))
            self._codes[self.mask] = codes

    def weights(self, decay: float | None) -> np.ndarray:
        if self.kind == "adjacency":
            return self.fixed
        return self.weights_with_derivatives(decay)[0]

    def weights_with_derivatives(self, decay: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Normalised power-law weights and their first and second derivatives in d."""
        with np.errstate(over="ignore"):
            raw = np.where(self.mask, np.exp(-decay * self.log_order), 0.0)
        total = raw.sum(axis=1, keepdims=True)
        # A source without any unit within maxlag exports nothing (instead of 0/0).
        weights = raw / np.where(total > 0, total, 1.0)
        mean_log = (weights * self.log_order).sum(axis=1, keepdims=True)
        centred = np.where(self.mask, self.log_order - mean_log, 0.0)
        variance = (weights * centred**2).sum(axis=1, keepdims=True)
        first = -weights * centred
        second = weights * (centred**2 - variance)
        return weights, first, second

    def weights_for_draws(self, decays: np.ndarray) -> np.ndarray:
        """Weights for many values of d at once, shape ``(n_draws, n, n)``."""
        if self.kind == "adjacency":
            return np.broadcast_to(self.fixed, (len(decays), *self.fixed.shape))
        with np.errstate(over="ignore"):
            distinct = np.exp(-np.outer(decays, self._distinct_log))
        raw = np.concatenate([distinct, np.zeros((len(decays), 1))], axis=1)[:, self._codes]
        total = raw.sum(axis=2, keepdims=True)
        raw /= np.where(total > 0, total, 1.0)
        return raw


@dataclass
class _Model:
    """Everything the likelihood needs, laid out unit-major over the fitted periods."""

    config: EndemicEpidemicConfig
    panel: _WidePanel
    offsets: np.ndarray  # (n_units, n_periods)
    neighbourhood: _Neighbourhood | None
    layout: _Layout
    designs: dict[str, _Design]  # component -> design over the fitted periods 2..T

    @property
    def n_units(self) -> int:
        return len(self.panel.units)

    @property
    def n_fit(self) -> int:
        return self.panel.counts.shape[1] - 1

    @classmethod
    def build(
        cls,
        config: EndemicEpidemicConfig,
        panel: _WidePanel,
        offsets: np.ndarray,
        orders: np.ndarray | None,
    ) -> _Model:
        period_index = np.arange(1, panel.counts.shape[1], dtype=float)
        covariates = {k: v[:, 1:] for k, v in panel.covariates.items()}
        names, slices, designs = _component_designs(config, panel.units, period_index, covariates)
        decay = None
        neighbourhood = None
        if config.ne_terms() is not None:
            neighbourhood = _Neighbourhood(orders, config.weights, int(config.maxlag))
            if config.weights == "powerlaw":
                decay = len(names)
                names.append("neweights.d")
        psi = psi_index = None
        if config.family == "negbin1":
            own = [u for u in panel.units if str(u) in {str(v) for v in config.own_overdispersion}]
            if config.overdispersion == "unit" or len(own) == len(panel.units):
                psi_names = [f"overdisp.{u}" for u in panel.units]
                psi_index = np.arange(len(panel.units))
            else:
                psi_names = ["overdisp", *(f"overdisp.{u}" for u in own)]
                position = {u: k + 1 for k, u in enumerate(own)}
                psi_index = np.array([position.get(u, 0) for u in panel.units], dtype=np.int64)
            psi = slice(len(names), len(names) + len(psi_names))
            names += psi_names
        layout = _Layout(
            names=names,
            end=slices["end"],
            ar=slices.get("ar"),
            ne=slices.get("ne"),
            decay=decay,
            psi=psi,
            st=slices.get("st"),
            psi_index=psi_index,
        )
        return cls(
            config=config,
            panel=panel,
            offsets=offsets,
            neighbourhood=neighbourhood,
            layout=layout,
            designs=designs,
        )

    # ------------------------------------------------------------ pieces
    def __post_init__(self) -> None:
        # Contiguous copies and constants reused by every likelihood evaluation.
        self.y = np.ascontiguousarray(self.panel.counts[:, 1:])
        self.y_lag = np.ascontiguousarray(distributed_lag(self.panel.counts, self.config.lag_vector()))
        self._y_flat = self.y.ravel()
        self._y_lag_flat = self.y_lag.ravel()
        # The source component's driver: the source units' summed lag, on the units it reaches.
        self.source_lag = np.zeros_like(self.y_lag)
        if self.config.source_terms() is not None:
            units = list(self.panel.units)
            missing = [u for u in self.config.source_units if u not in units]
            if missing:
                raise InputError(f"source units {missing[:5]} are not in the panel", column="unit_id")
            sources = [units.index(u) for u in self.config.source_units]
            reach = self.config.source_reach
            reached = np.array([(u in reach) if reach is not None else True for u in units])
            reached[sources] = False
            self.source_lag = reached[:, None] * self.y_lag[sources].sum(axis=0)[None, :]
            self.source_mask = reached
            self.source_index = np.array(sources, dtype=int)
        self._source_lag_flat = self.source_lag.ravel()
        self._offset_flat = np.ascontiguousarray(self.offsets[:, 1:]).ravel()
        # Explicit row count: a component with only unit intercepts has no shared
        # columns, and reshape(-1, 0) cannot infer the rows of an empty array.
        self._columns_flat = {
            k: d.columns.reshape(d.columns.shape[0] * d.columns.shape[1], d.columns.shape[-1])
            for k, d in self.designs.items()
        }
        # Terms of the NegBin likelihood in y vanish where y = 0 (lgamma(y+r) - lgamma(r) etc.),
        # and most counts are 0 in sparse surveillance data: evaluate them where y > 0 only.
        self._positive = np.flatnonzero(self._y_flat > 0)
        self._y_positive = self._y_flat[self._positive]
        self._log_factorials = gammaln(self._y_flat + 1.0)
        self.use_periods(self.n_fit)
        if self.neighbourhood is not None and self.neighbourhood.kind == "adjacency":
            self._fixed_neighbour_sum = (self.neighbourhood.fixed.T @ self.y_lag).ravel()
        # Parameter positions: shared ("dense") columns of every component, then the
        # decay, form the dense block of d mu / d theta; unit intercepts are handled per unit.
        layout = self.layout
        self._shared_positions: dict[str, np.ndarray] = {}
        self._unit_positions: dict[str, np.ndarray] = {}
        for name, design in self.designs.items():
            block = layout.component(name)
            k = design.n_unit_terms
            self._unit_positions[name] = np.arange(block.start, block.start + k)
            self._shared_positions[name] = np.arange(block.start + k, block.stop)
        dense = [self._shared_positions[name] for name in self.designs]
        if layout.decay is not None:
            dense.append(np.array([layout.decay]))
        self._dense_positions = np.concatenate(dense).astype(int)

    def use_periods(self, n: int) -> None:
        """Fit to the first ``n`` fitted periods only (a rolling origin), the design kept.

        The likelihood weight of later observations is 0, so the design and the
        lags are built once for every origin; with ``halflife`` the weights
        decay back from period ``n``. ``None`` weights (all 1, R's hhh4) when
        every period is used and nothing decays.
        """
        self.n_used = int(n)
        self._weight: np.ndarray | None = None
        if self.config.halflife is not None or self.n_used < self.n_fit:
            age = np.arange(self.n_used - 1, self.n_used - 1 - self.n_fit, -1, dtype=float)
            per_period = np.where(age >= 0, 1.0, 0.0)
            if self.config.halflife is not None:
                per_period = per_period * 0.5 ** (np.maximum(age, 0.0) / float(self.config.halflife))
            self._weight = np.tile(per_period, self.n_units)
        weight = 1.0 if self._weight is None else self._weight
        self._log_factorial = float((weight * self._log_factorials).sum())

    def _per_unit(self, values: np.ndarray) -> np.ndarray:
        """Sum per-observation values over each unit's periods (observations are unit-major)."""
        return values.reshape(self.n_units, self.n_fit, *values.shape[1:]).sum(axis=1)

    def start_values(self) -> np.ndarray:
        """Rough but safe starting values: each part explains a share of the mean."""
        layout = self.layout
        theta = np.zeros(len(layout.names))
        mean_count = max(float(self.y.mean()), 1e-3)
        names = layout.names
        if "end.1" in names:
            theta[names.index("end.1")] = math.log(
                0.5 * mean_count / float(self.offsets[:, 1:].mean())
            )
        unit_levels = (self.y.mean(axis=1) + 0.1) / self.offsets[:, 1:].mean(axis=1)
        theta[self._unit_positions["end"]] = (
            np.log(0.5 * unit_levels) if len(self._unit_positions["end"]) else 0.0
        )
        if layout.ar is not None:
            if "ar.1" in names:
                theta[names.index("ar.1")] = math.log(0.3)
            theta[self._unit_positions["ar"]] = math.log(0.3)
        if layout.ne is not None:
            weights = self.neighbourhood.weights(self.config.initial_decay)
            neighbour_mean = float((weights.T @ self.y_lag).mean())
            start = math.log(0.1 * mean_count / neighbour_mean) if neighbour_mean > 0 else -3.0
            if "ne.1" in names:
                theta[names.index("ne.1")] = start
            theta[self._unit_positions["ne"]] = start
        if layout.st is not None:
            source_mean = float(self.source_lag[self.source_lag > 0].mean()) if self.source_lag.any() else 1.0
            start = math.log(0.05 * mean_count / source_mean)
            if "st.1" in names:
                theta[names.index("st.1")] = start
            theta[self._unit_positions["st"]] = start
        if layout.decay is not None:
            theta[layout.decay] = self.config.initial_decay
        if layout.psi is not None:
            theta[layout.psi] = 0.0  # log psi = 0: psi = 1
        return theta

    def component_means(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        """Endemic, autoregressive and neighbour parts of mu, each ``(n_units, n_fit)``.

        The source component, when present, is part of ``neighbour`` (imports)."""
        layout = self.layout
        with np.errstate(over="ignore"):
            parts = {
                "endemic": self.offsets[:, 1:]
                * np.exp(self.designs["end"].predictor(theta[layout.end]))
            }
            zeros = np.zeros_like(parts["endemic"])
            parts["autoregressive"] = (
                np.exp(self.designs["ar"].predictor(theta[layout.ar])) * self.y_lag
                if layout.ar is not None
                else zeros
            )
            if layout.ne is not None:
                decay = theta[layout.decay] if layout.decay is not None else None
                weights = self.neighbourhood.weights(decay)
                rate = np.exp(self.designs["ne"].predictor(theta[layout.ne]))
                parts["neighbour"] = rate * (weights.T @ self.y_lag)
            else:
                parts["neighbour"] = zeros
            if layout.st is not None:
                parts["neighbour"] = parts["neighbour"] + self.source_part(theta[layout.st])
        return parts

    def source_part(self, coefficients: np.ndarray) -> np.ndarray:
        """The source component ``kappa_it * sum_s Y_s,t-1``, ``(n_units, n_fit)``."""
        return np.exp(self.designs["st"].predictor(coefficients)) * self.source_lag

    # ------------------------------------------------------ likelihood
    def _rate(self, name: str, coefficients: np.ndarray) -> np.ndarray:
        """exp(linear predictor) of one component over all observations (flat)."""
        k = self.designs[name].n_unit_terms
        eta = self._columns_flat[name] @ coefficients[k:]
        if k:
            eta += np.repeat(coefficients[:k], self.n_fit)
        return np.exp(eta)

    def _penalties(self) -> list[tuple[np.ndarray, float, bool]]:
        """``(positions, 1 / sd**2, centred)`` of every penalised block of coefficients.

        ``centred``: the deviations from the block's mean are penalised (unit
        intercepts), else the coefficients themselves (covariates).
        """
        found = []
        for name, terms in (("end", self.config.endemic_terms()), ("ar", self.config.ar_terms()),
                            ("ne", self.config.ne_terms()), ("st", self.config.source_terms())):
            if terms is None:
                continue
            if terms.intercept == "unit" and terms.intercept_sd is not None:
                found.append((self._unit_positions[name], 1.0 / float(terms.intercept_sd) ** 2, True))
            if terms.covariates and terms.covariate_sd is not None:
                stop = self.layout.component(name).stop
                positions = np.arange(stop - len(terms.covariates), stop)
                found.append((positions, 1.0 / float(terms.covariate_sd) ** 2, False))
        return found

    def loglik_derivatives(
        self, theta: np.ndarray, with_hessian: bool = True
    ) -> tuple[float, np.ndarray, np.ndarray | None]:
        """Log-likelihood (penalised), its gradient and (optionally) Hessian.

        The penalty of a component with ``intercept_sd`` is
        ``-(b - mean(b))' (b - mean(b)) / (2 sd**2)`` on its unit intercepts ``b``;
        with ``covariate_sd``, ``-c' c / (2 sd**2)`` on its covariate coefficients ``c``.
        """
        loglik, gradient, hessian = self._loglik_derivatives(theta, with_hessian)
        if not np.isfinite(loglik):
            return loglik, gradient, hessian
        for positions, precision, centred in self._penalties():
            n = len(positions)
            deviation = theta[positions] - (theta[positions].mean() if centred else 0.0)
            loglik -= 0.5 * precision * float(deviation @ deviation)
            gradient[positions] -= precision * deviation
            if hessian is not None:
                hessian[np.ix_(positions, positions)] -= precision * (np.eye(n) - (1.0 / n if centred else 0.0))
        return loglik, gradient, hessian

    def _loglik_derivatives(
        self, theta: np.ndarray, with_hessian: bool = True
    ) -> tuple[float, np.ndarray, np.ndarray | None]:
        """Log-likelihood, its gradient and (optionally) Hessian in the internal parameters.

        The overdispersion enters as ``log psi``. The mean parameters act
        through ``mu``, so the Hessian is ``G' diag(l'') G`` plus the
        second derivatives of ``mu`` weighted by ``l'``, where ``G`` holds
        ``d mu / d theta`` for every observation. ``G`` is kept as a dense
        block for the shared columns and the decay, plus one vector per
        component with unit intercepts (its column for unit i is that vector
        on unit i's observations, zero elsewhere).
        """
        layout = self.layout
        n_par, n_mean = len(theta), layout.n_mean
        y = self._y_flat
        n_obs = y.size
        parts: dict[str, np.ndarray] = {}
        with np.errstate(over="ignore", invalid="ignore"):
            parts["end"] = self._offset_flat * self._rate("end", theta[layout.end])
            if layout.ar is not None:
                parts["ar"] = self._rate("ar", theta[layout.ar]) * self._y_lag_flat
            if layout.ne is not None:
                phi = self._rate("ne", theta[layout.ne])
                if layout.decay is not None:
                    weights, d_weights, d2_weights = self.neighbourhood.weights_with_derivatives(
                        theta[layout.decay]
                    )
                    neighbour_sum = (weights.T @ self.y_lag).ravel()
                    d_sum = (d_weights.T @ self.y_lag).ravel()
                else:
                    neighbour_sum = self._fixed_neighbour_sum
                parts["ne"] = phi * neighbour_sum
            if layout.st is not None:
                parts["st"] = self._rate("st", theta[layout.st]) * self._source_lag_flat
            mu = sum(parts.values())
        if not np.all(np.isfinite(mu)) or np.any(mu <= 0):
            return (
                -np.inf,
                np.full(n_par, np.nan),
                np.full((n_par, n_par), np.nan) if with_hessian else None,
            )

        dense = np.empty((n_obs, len(self._dense_positions)))  # d mu / d theta, shared columns
        column = 0
        for name, part in parts.items():
            x = self._columns_flat[name]
            np.multiply(part[:, None], x, out=dense[:, column : column + x.shape[1]])
            column += x.shape[1]
        if layout.decay is not None:
            dense[:, column] = phi * d_sum
        unit_blocks = [
            (self._unit_positions[n], part)
            for n, part in parts.items()
            if len(self._unit_positions[n])
        ]

        positive, y_pos = self._positive, self._y_positive
        obs_weight = self._weight
        y_w = y if obs_weight is None else obs_weight * y
        log_mu = np.log(mu)
        if layout.psi is None:
            mu_w = mu if obs_weight is None else obs_weight * mu
            loglik = float(y_w @ log_mu - mu_w.sum()) - self._log_factorial
            d_mu = y / mu - 1.0
            d2_mu = -y / mu**2
        else:
            size_unit = np.exp(-theta[layout.psi])  # r = 1/psi, per unit (or group) or shared
            per_unit = len(size_unit) > 1
            size = np.repeat(size_unit[layout.psi_index], self.n_fit) if per_unit else size_unit[0]
            size_pos = size[positive] if per_unit else size
            size_plus_mu = size + mu
            log_size_plus_mu = np.log(size_plus_mu)
            # log(r / (r + mu)) as -log1p(mu / r): the difference of two logs loses mu
            # entirely once r is large, which would let the fit gain likelihood out of
            # rounding by driving psi to 0.
            log_size_share = -np.log1p(mu / size)
            # lgamma(y + r) - lgamma(r) and its r-derivatives are 0 where y = 0
            gamma_ratio = _log_rising_factorial(y_pos, size_pos)
            size_terms = size * log_size_share
            if obs_weight is not None:
                gamma_ratio = obs_weight[positive] * gamma_ratio
                size_terms = obs_weight * size_terms
            loglik = float(
                gamma_ratio.sum()
                - self._log_factorial
                + size_terms.sum()
                + y_w @ (log_mu - log_size_plus_mu)
            )
            with np.errstate(over="ignore"):
                inverse_spm = 1.0 / size_plus_mu
                d_mu = y / mu - (size + y) * inverse_spm
                d2_mu = -y / mu**2 + (size + y) * inverse_spm**2
            digamma_ratio = np.zeros(n_obs)
            digamma_ratio[positive] = digamma(y_pos + size_pos) - digamma(size_pos)
            d_size = digamma_ratio + log_size_share + (mu - y) * inverse_spm
        if obs_weight is not None:  # every per-observation derivative carries its weight
            d_mu, d2_mu = obs_weight * d_mu, obs_weight * d2_mu
            if layout.psi is not None:
                d_size = obs_weight * d_size
        gradient = np.zeros(n_par)
        gradient[:n_mean] = self._weighted_sum(d_mu, dense, unit_blocks, n_mean)
        if layout.psi is not None:
            # theta_psi = log psi, r = exp(-theta_psi): dl/dtheta = -r dl/dr
            gradient[layout.psi] = self._sum_by_psi(-size * d_size)
        if not with_hessian:
            return loglik, gradient, None

        hessian = np.zeros((n_par, n_par))
        self._add_gram(hessian, d2_mu, dense, unit_blocks)
        # Second derivatives of mu itself: per component X' diag(l' part) X, plus ne x d.
        for name, part in parts.items():
            self._add_design_gram(hessian, name, d_mu * part)
        if layout.decay is not None:
            d2_sum = (d2_weights.T @ self.y_lag).ravel()
            mixed = d_mu * phi * d_sum
            shared = self._shared_positions["ne"]
            cross = self._columns_flat["ne"].T @ mixed
            if len(self._unit_positions["ne"]):
                cross = np.concatenate([self._per_unit(mixed), cross])
                shared = np.concatenate([self._unit_positions["ne"], shared])
            hessian[shared, layout.decay] += cross
            hessian[layout.decay, shared] += cross
            hessian[layout.decay, layout.decay] += float(d_mu @ (phi * d2_sum))
        if layout.psi is not None:
            trigamma_ratio = np.zeros(n_obs)
            trigamma_ratio[positive] = polygamma(1, y_pos + size_pos) - polygamma(1, size_pos)
            with np.errstate(over="ignore", invalid="ignore"):
                d2_size = trigamma_ratio + 1.0 / size - inverse_spm - (mu - y) * inverse_spm**2
                d_size_mu = (y - mu) * inverse_spm**2
            if obs_weight is not None:
                d2_size, d_size_mu = obs_weight * d2_size, obs_weight * d_size_mu
            # chain rule for r = exp(-theta): d2l/dtheta2 = r^2 l_rr + r l_r; d2l/dtheta dmu = -r l_rmu
            psi_psi = self._sum_by_psi(size**2 * d2_size + size * d_size)
            weight = -size * d_size_mu
            if per_unit:
                psi_mean = np.zeros((self.n_units, n_mean))
                psi_mean[:, self._dense_positions] = self._per_unit(weight[:, None] * dense)
                units = np.arange(self.n_units)
                for positions, part in unit_blocks:
                    psi_mean[units, positions] = self._per_unit(weight * part)
                psi_mean = self._by_psi_group(psi_mean)
            else:
                psi_mean = self._weighted_sum(weight, dense, unit_blocks, n_mean)[None, :]
            hessian[layout.psi, layout.psi] = np.diag(psi_psi)
            hessian[layout.psi, :n_mean] = psi_mean
            hessian[:n_mean, layout.psi] = psi_mean.T
        return loglik, gradient, hessian

    def _weighted_sum(
        self,
        weight: np.ndarray,
        dense: np.ndarray,
        unit_blocks: list[tuple[np.ndarray, np.ndarray]],
        n_mean: int,
    ) -> np.ndarray:
        """``G' weight``: the weighted sum of d mu / d theta over observations."""
        total = np.zeros(n_mean)
        total[self._dense_positions] = weight @ dense
        for positions, part in unit_blocks:
            total[positions] = self._per_unit(weight * part)
        return total

    def _add_gram(
        self,
        hessian: np.ndarray,
        weight: np.ndarray,
        dense: np.ndarray,
        unit_blocks: list[tuple[np.ndarray, np.ndarray]],
    ) -> None:
        """Add ``G' diag(weight) G`` to the mean block of ``hessian``."""
        positions = self._dense_positions
        hessian[np.ix_(positions, positions)] += dense.T @ (weight[:, None] * dense)
        for unit_positions, part in unit_blocks:
            # unit i's column is `part` on unit i's rows only: sums per unit
            cross = self._per_unit((weight * part)[:, None] * dense)  # (n_units, n_dense)
            hessian[np.ix_(unit_positions, positions)] += cross
            hessian[np.ix_(positions, unit_positions)] += cross.T
            for other_positions, other_part in unit_blocks:
                hessian[unit_positions, other_positions] += self._per_unit(
                    weight * part * other_part
                )

    def _add_design_gram(self, hessian: np.ndarray, name: str, weight: np.ndarray) -> None:
        """Add ``X' diag(weight) X`` of one component's design to its block of ``hessian``."""
        x = self._columns_flat[name]
        shared = self._shared_positions[name]
        units = self._unit_positions[name]
        hessian[np.ix_(shared, shared)] += x.T @ (weight[:, None] * x)
        if len(units):
            cross = self._per_unit(weight[:, None] * x)  # (n_units, p)
            hessian[np.ix_(units, shared)] += cross
            hessian[np.ix_(shared, units)] += cross.T
            hessian[units, units] += self._per_unit(weight)

    def _sum_by_psi(self, values: np.ndarray) -> np.ndarray:
        """Sum per-observation values over each overdispersion parameter's observations."""
        if self.layout.psi is not None and self.layout.psi.stop - self.layout.psi.start > 1:
            return self._by_psi_group(self._per_unit(values))
        return values.sum(axis=0, keepdims=True)

    def _by_psi_group(self, per_unit: np.ndarray) -> np.ndarray:
        """Sum per-unit rows over the units sharing each overdispersion parameter."""
        index = self.layout.psi_index
        n_psi = self.layout.psi.stop - self.layout.psi.start
        if n_psi == self.n_units and np.array_equal(index, np.arange(self.n_units)):
            return per_unit
        out = np.zeros((n_psi, *per_unit.shape[1:]))
        np.add.at(out, index, per_unit)
        return out


def _check_unit_terms_identified(model: _Model) -> None:
    """Refuse unit-specific terms that the data cannot estimate (their MLE is infinite)."""
    config = model.config
    units = np.asarray(model.panel.units, dtype=object)
    problems = []
    silent = model.y.sum(axis=1) == 0
    if config.endemic_terms().intercept == "unit" and config.endemic_terms().intercept_sd is None and silent.any():
        problems.append(
            f"unit-specific endemic intercepts for units without counts {list(units[silent][:5])}"
        )
    psi_index = model.layout.psi_index
    if psi_index is not None and psi_index.max() > 0:
        # An overdispersion parameter whose units have no counts has no finite MLE.
        counted = np.bincount(psi_index, weights=model.y.sum(axis=1), minlength=int(psi_index.max()) + 1)
        bad = counted[psi_index] == 0
        if bad.any():
            problems.append(f"unit-specific overdispersion for units without counts {list(units[bad][:5])}")
    ar_terms = config.ar_terms()
    no_lag = model.y_lag.sum(axis=1) == 0
    if ar_terms is not None and ar_terms.intercept == "unit" and ar_terms.intercept_sd is None and no_lag.any():
        problems.append(
            f"unit-specific autoregressive intercepts for units without lagged counts {list(units[no_lag][:5])}"
        )
    ne_terms = config.ne_terms()
    if ne_terms is not None and ne_terms.intercept == "unit" and ne_terms.intercept_sd is None:
        reach = model.neighbourhood.weights(config.initial_decay) > 0
        no_import = (reach.T.astype(float) @ model.y_lag).sum(axis=1) == 0
        if no_import.any():
            problems.append(
                f"unit-specific neighbour intercepts for units whose neighbours have no counts {list(units[no_import][:5])}"
            )
    if problems:
        raise ModelError(
            "the data cannot estimate "
            + "; ".join(problems)
            + " (the estimate would be infinite); drop those units from the panel or use shared terms"
        )


def _maximise(model: _Model, theta0: np.ndarray, *, warm: bool = False) -> tuple[np.ndarray, int, str]:
    """Maximise the log-likelihood with trust-region Newton steps on the exact Hessian.

    ``warm``: ``theta0`` is the maximum of a nearby likelihood (the previous
    rolling origin), so plain Newton steps, each one evaluation, are tried
    first; the trust region takes over if they stall.
    """
    cache: dict[bytes, tuple[float, np.ndarray, np.ndarray]] = {}
    if warm:
        theta, n_iter = _newton(model, theta0)
        if theta is not None:
            return theta, n_iter, "Newton steps from the previous origin"

    def evaluate(theta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        key = theta.tobytes()
        if key not in cache:
            cache.clear()  # one point at a time: the optimiser asks f, g, H at the same x
            loglik, gradient, hessian = model.loglik_derivatives(theta)
            if not (np.isfinite(loglik) and np.isfinite(gradient).all() and np.isfinite(hessian).all()):
                # An overflowing step (or 0/0 in the derivatives at a boundary, e.g. a rate
                # of 0 on data without events): a huge objective makes the trust region shrink.
                n = len(theta)
                cache[key] = (1e300, np.zeros(n), np.eye(n))
            else:
                cache[key] = (-loglik, -gradient, -hessian)
        return cache[key]

    result = optimize.minimize(
        lambda t: evaluate(t)[0],
        theta0,
        jac=lambda t: evaluate(t)[1],
        hess=lambda t: evaluate(t)[2],
        method="trust-exact",
        options={"gtol": 1e-7, "maxiter": model.config.max_iter},
    )
    theta = result.x
    n_iter = int(result.nit)
    # Polish with plain Newton steps: trust-exact stops on an absolute gradient
    # norm, which says little when covariates have very different scales.
    while n_iter < model.config.max_iter:
        _, gradient, hessian = evaluate(theta)
        try:
            step = np.linalg.solve(hessian, -gradient)
        except np.linalg.LinAlgError:
            break
        if float(-gradient @ step) < 1e-4 * model.config.tolerance:
            break
        candidate = theta + step
        if evaluate(candidate)[0] > evaluate(theta)[0] + 1e-9:
            break
        theta = candidate
        n_iter += 1
    return theta, n_iter, str(result.message)


def _decrement(loglik: float, gradient: np.ndarray, hessian: np.ndarray) -> float:
    """Newton decrement ``g' (-H)^-1 g``: about twice the log-likelihood still to gain."""
    if not np.isfinite(loglik):
        return np.nan
    try:
        return float(gradient @ np.linalg.solve(-hessian, gradient))
    except np.linalg.LinAlgError:
        return float(gradient @ gradient)


#: Relative log-likelihood gain still possible that counts as converged when the absolute
#: tolerance cannot be met: on sparse counts a rate drifting towards 0 leaves a likelihood so flat
#: that trust-region steps stall short of 1e-8 (R's hhh4 stops at a relative change of 1e-5).
RELATIVE_TOLERANCE = 1e-7


def _converged(decrement: float, loglik: float, tolerance: float) -> bool:
    """Converged: the Newton decrement (about twice the gain left) is below ``tolerance``,
    or below :data:`RELATIVE_TOLERANCE` times the log-likelihood's size."""
    if not (np.isfinite(decrement) and decrement >= 0):
        return False
    return decrement < max(tolerance, RELATIVE_TOLERANCE * max(1.0, abs(loglik)))


def _newton(model: _Model, theta: np.ndarray, max_steps: int = 20) -> tuple[np.ndarray | None, int]:
    """Newton steps with step halving; ``None`` when they do not reach the tolerance."""
    loglik, gradient, hessian = model.loglik_derivatives(theta)
    for step_count in range(1, max_steps + 1):
        if not np.isfinite(loglik):
            return None, step_count
        try:
            step = np.linalg.solve(-hessian, gradient)
        except np.linalg.LinAlgError:
            return None, step_count
        decrement = float(gradient @ step)
        if decrement < 0:  # not a maximum direction: the Hessian is not negative definite here
            return None, step_count
        if decrement < model.config.tolerance:
            return theta, step_count
        scale = 1.0
        while scale > 1e-3:
            candidate = theta + scale * step
            new = model.loglik_derivatives(candidate)
            if np.isfinite(new[0]) and new[0] >= loglik - 1e-12:
                break
            scale /= 2
        else:
            return None, step_count
        theta, (loglik, gradient, hessian) = candidate, new
    return None, max_steps


def _log_rising_factorial(y: np.ndarray, size: np.ndarray | float) -> np.ndarray:
    """``lgamma(y + r) - lgamma(r)`` for counts ``y >= 0``, accurate for any size ``r``.

    For large ``r`` both lgamma terms are huge and their difference drowns in
    rounding; there the expansion ``y log r + sum_k log1p(k / r)`` (k < y) is
    used, whose series in ``1/r`` converges fast when ``r >> y``.
    """
    y = np.asarray(y, dtype=float)
    size = np.broadcast_to(np.asarray(size, dtype=float), y.shape)
    out = gammaln(y + size) - gammaln(size)
    large = size > 1e4 * np.maximum(y, 1.0)
    if np.any(large):
        yl, rl = y[large], size[large]
        s1 = yl * (yl - 1) / 2  # sum of k
        s2 = (yl - 1) * yl * (2 * yl - 1) / 6  # sum of k^2
        s3 = s1**2  # sum of k^3
        out[large] = yl * np.log(rl) + s1 / rl - s2 / (2 * rl**2) + s3 / (3 * rl**3)
    return out


# ------------------------------------------------------------------------ API
class EndemicEpidemic:
    """The endemic-epidemic model: configure, then :meth:`fit` a panel.

    Parameters
    ----------
    config
        What to fit; defaults to :class:`EndemicEpidemicConfig` ().
    neighbourhood, population
        Defaults for :meth:`fit`, so the model can be fitted as ``fit(panel)``
        by code that treats all models alike.

    Attributes
    ----------
    alias
        Name of the model in forecast tables.
    fitted_
        The last :class:`EndemicEpidemicFit`, after :meth:`fit`.
    """

    alias = "endemic_epidemic"

    def __init__(
        self,
        config: EndemicEpidemicConfig | None = None,
        *,
        neighbourhood: Any = None,
        population: Any = None,
    ) -> None:
        self.config = config or EndemicEpidemicConfig()
        self.neighbourhood = neighbourhood
        self.population = population
        self.fitted_: EndemicEpidemicFit | None = None

    def fit(
        self,
        panel: pd.DataFrame,
        neighbourhood: Any = None,
        population: Any = None,
        *,
        freq: str | None = None,
    ) -> EndemicEpidemicFit:
        """Fit by maximum likelihood.

        Parameters
        ----------
        panel
            Long panel ``unit_id, ds, y`` (plus covariate columns), complete
            and regularly spaced; or a wide frame (DatetimeIndex x units).
        neighbourhood
            Adjacency orders (``from, to, order``), border pairs (``from, to``)
            or a square matrix labelled by unit ids (0/1 adjacency or orders).
            Needed when the model has a neighbour component.
        population
            Population fraction per unit (Series/dict by unit id, or a
            DataFrame ``unit_id, population_fraction`` optionally with ``ds``);
            the endemic offset ``e_it``.
        freq
            Pandas frequency of the periods (``"W-MON"``); inferred when omitted.

        Returns
        -------
        EndemicEpidemicFit

        Raises
        ------
        InputError
            Missing, negative or non-integer counts, an incomplete panel, or a
            neighbourhood/population without some unit.
        ConvergenceError
            The optimiser did not reach a maximum.
        """
        started = time.perf_counter()
        config = self.config
        model = self._build(panel, neighbourhood, population, freq)
        theta0 = model.start_values()
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            # Trial steps overflow or divide 0/0 near boundaries; the result's convergence is checked below.
            warnings.simplefilter("ignore", RuntimeWarning)
            theta, n_iter, message = _maximise(model, theta0)
        loglik, gradient, hessian = model.loglik_derivatives(theta)
        decrement = _decrement(loglik, gradient, hessian)
        converged = _converged(decrement, loglik, config.tolerance)
        if not converged:
            raise ConvergenceError(
                f"the endemic-epidemic fit did not converge after {n_iter} iterations "
                f"(optimiser: {message}; log-likelihood {loglik:.4f}, Newton decrement {decrement:.3g}); "
                "simplify the model (fewer harmonics, no unit intercepts, weights='adjacency') "
                "or check units whose counts are all zero"
            )
        information = -hessian
        try:
            cov_internal = np.linalg.inv(information)
            if np.any(np.diag(cov_internal) <= 0):
                raise np.linalg.LinAlgError
        except np.linalg.LinAlgError:
            logger.warning(
                "observed information is not positive definite: standard errors are NaN "
                "(some parameters are not identified by the data)"
            )
            cov_internal = np.full_like(information, np.nan)
        fit = EndemicEpidemicFit(
            config=config,
            loglik=loglik,
            converged=converged,
            n_iter=n_iter,
            seconds=time.perf_counter() - started,
            _model=model,
            _theta=theta,
            _cov_internal=cov_internal,
        )
        self.fitted_ = fit
        return fit

    def one_step_ahead(
        self,
        panel: pd.DataFrame,
        neighbourhood: Any = None,
        population: Any = None,
        *,
        start: int | str | pd.Timestamp,
        warm_start: bool = True,
        freq: str | None = None,
    ) -> pd.DataFrame:
        """Rolling one-step-ahead forecasts: refit on periods up to ``t``, predict ``t + 1``.

        R's ``oneStepAhead(fit, tp, type = "rolling")``. The design is built
        once for the whole panel and each origin fits on its first periods
        (the later ones get likelihood weight 0); with ``warm_start`` each fit
        starts from the previous origin's estimates (R: ``which.start =
        "final"``), so a refit takes a few Newton steps.

        Parameters
        ----------
        panel, neighbourhood, population, freq
            As for :meth:`fit`.
        start
            First origin: the last period the first fit sees, as a 0-based
            period position or a date in the panel. Origins run from there to
            the second-to-last period.
        warm_start
            Start each fit from the previous estimates (``False``: from the
            default start values, as a cold fit would).

        Returns
        -------
        pandas.DataFrame
            One row per unit and predicted period: ``unit_id, ds, y, mu, size``
            (NegBin size ``1 / psi``; ``inf`` for Poisson), ``origin`` and
            ``n_iter``.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> ds = pd.date_range("2020-01-06", periods=40, freq="W-MON")
        >>> rng = np.random.default_rng(0)
        >>> panel = pd.DataFrame({"unit_id": np.repeat(["A", "B"], 40), "ds": np.tile(ds, 2),
        ...                       "y": rng.poisson(4, 80)})
        >>> config = EndemicEpidemicConfig(trend=False, harmonics=0, ne=False, family="poisson")
        >>> table = EndemicEpidemic(config).one_step_ahead(panel, start=35)
        >>> len(table), sorted(table["ds"].unique())[0] == ds[36]
        (8, True)
        """
        model = self._build(panel, neighbourhood, population, freq)
        periods = model.panel.ds
        if isinstance(start, int | np.integer):
            first = int(start)
        else:
            position = periods.get_indexer([pd.Timestamp(start)])[0]
            if position < 0:
                raise ParameterError(f"start {start} is not a period of the panel ({periods[0]:%F} to {periods[-1]:%F})")
            first = int(position)
        if not 1 <= first <= len(periods) - 2:
            raise ParameterError(
                f"start must leave at least one fitted period before it and one to predict after it: "
                f"a position from 1 to {len(periods) - 2}, got {first}"
            )
        theta = model.start_values()
        rows = []
        for origin in range(first, len(periods) - 1):
            # Observation j of the model is period j + 1: periods 1..origin are fitted.
            model.use_periods(origin)
            if not warm_start:
                theta = model.start_values()
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore", RuntimeWarning)
                theta, n_iter, message = _maximise(model, theta, warm=warm_start and origin > first)
            loglik, gradient, hessian = model.loglik_derivatives(theta)
            decrement = _decrement(loglik, gradient, hessian)
            if not _converged(decrement, loglik, self.config.tolerance):
                raise ConvergenceError(
                    f"the fit at origin {periods[origin]:%F} did not converge ({message}; "
                    f"Newton decrement {decrement:.3g}); simplify the model or start later"
                )
            mu = sum(part[:, origin] for part in model.component_means(theta).values())
            psi = np.exp(theta[model.layout.psi]) if model.layout.psi is not None else np.zeros(1)
            if len(psi) > 1:
                psi = psi[model.layout.psi_index]
            rows.append(
                pd.DataFrame(
                    {
                        "unit_id": model.panel.units,
                        "ds": periods[origin + 1],
                        "y": model.panel.counts[:, origin + 1],
                        "mu": mu,
                        "size": np.broadcast_to(np.where(psi > 0, 1.0 / np.maximum(psi, 1e-300), np.inf), mu.shape),
                        "origin": periods[origin],
                        "n_iter": n_iter,
                    }
                )
            )
        model.use_periods(model.n_fit)
        return pd.concat(rows, ignore_index=True)

    def _build(self, panel: pd.DataFrame, neighbourhood: Any, population: Any, freq: str | None) -> _Model:
        """Validate the inputs and lay out the likelihood (design, lags, offsets, weights)."""
        config = self.config
        neighbourhood = self.neighbourhood if neighbourhood is None else neighbourhood
        population = self.population if population is None else population
        covariate_names = list(
            dict.fromkeys(
                name
                for terms in (config.endemic_terms(), config.ar_terms(), config.ne_terms(), config.source_terms())
                if terms is not None
                for name in terms.covariates
            )
        )
        wide = _wide_panel(panel, covariate_names, freq)
        orders = None
        if config.ne_terms() is not None:
            if neighbourhood is None:
                raise ParameterError(
                    "the neighbour component needs a neighbourhood (from,to[,order] table); "
                    "pass neighbourhood=... or use EndemicEpidemicConfig(ne=False)"
                )
            orders = _order_matrix(neighbourhood, wide.units)
        if config.offset == "population" and population is None:
            raise ParameterError(
                "offset='population' needs population=...; pass it or use offset='auto'"
            )
        if population is not None and config.offset != "none":
            offsets = _population_offsets(population, wide.units, wide.ds)
        else:
            offsets = np.ones_like(wide.counts)

        if not wide.counts[:, 1:].any():
            raise InputError(
                "every count after the first period is 0; there is nothing to fit", column="y"
            )
        model = _Model.build(config, wide, offsets, orders)
        _check_unit_terms_identified(model)
        return model

    def predict(
        self, h: int, n_draws: int = 1000, seed: int | None = 0, **options: Any
    ) -> ForecastFrame:
        """Predictive draws of the last fit as a ``ForecastFrame`` (see :meth:`EndemicEpidemicFit.predict`)."""
        if self.fitted_ is None:
            raise ModelError("call fit(panel, neighbourhood) before predict(h)")
        return self.fitted_.predict(h, n_draws=n_draws, seed=seed, **options)


@dataclass
class EndemicEpidemicFit:
    """A fitted endemic-epidemic model.

    Attributes
    ----------
    params, std_errors
        Estimates and standard errors by R name (``overdisp`` as psi).
    cov
        Covariance of the estimates (asymptotic, from the observed information).
    loglik
        Maximised log-likelihood over periods 2..T (period 1 only supplies the lag).
    converged, n_iter, seconds
        Optimiser outcome, iterations and wall time of ``fit``.
    units, ds
        Unit ids and periods of the fitted panel.
    """

    config: EndemicEpidemicConfig
    loglik: float
    converged: bool
    n_iter: int
    seconds: float
    _model: _Model = field(repr=False)
    _theta: np.ndarray = field(repr=False)
    _cov_internal: np.ndarray = field(repr=False)

    # ------------------------------------------------------------ results
    @property
    def units(self) -> list[str]:
        """Unit ids in model order."""
        return list(self._model.panel.units)

    @property
    def ds(self) -> pd.DatetimeIndex:
        """All periods of the panel (the first only supplies the lag)."""
        return self._model.panel.ds

    @property
    def _psi_jacobian(self) -> np.ndarray:
        """Derivative of reported parameters (psi) with respect to internal ones (log psi)."""
        scale = np.ones(len(self._theta))
        if self._model.layout.psi is not None:
            scale[self._model.layout.psi] = np.exp(self._theta[self._model.layout.psi])
        return scale

    @property
    def params(self) -> pd.Series:
        """Estimates by name; overdispersion reported as psi."""
        values = self._theta.copy()
        if self._model.layout.psi is not None:
            values[self._model.layout.psi] = np.exp(values[self._model.layout.psi])
        return pd.Series(values, index=self._model.layout.names, name="estimate")

    @property
    def cov(self) -> pd.DataFrame:
        """Covariance matrix of :attr:`params` (delta method for psi)."""
        scale = self._psi_jacobian
        names = self._model.layout.names
        return pd.DataFrame(self._cov_internal * np.outer(scale, scale), index=names, columns=names)

    @property
    def std_errors(self) -> pd.Series:
        """Standard errors of :attr:`params` from the observed information."""
        return pd.Series(
            np.sqrt(np.diag(self.cov.to_numpy())), index=self._model.layout.names, name="std_error"
        )

    @property
    def n_obs(self) -> int:
        """Number of unit x period observations in the likelihood."""
        return int(self._model.y.size)

    def summary(self) -> pd.DataFrame:
        """Table ``term, estimate, std_error``."""
        return pd.DataFrame(
            {
                "term": self.params.index,
                "estimate": self.params.to_numpy(),
                "std_error": self.std_errors.to_numpy(),
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record: ``loglik, params, std_errors, seconds, converged`` and the configuration."""

        def clean(value: float) -> float | None:
            return float(value) if np.isfinite(value) else None

        return {
            "model": EndemicEpidemic.alias,
            "loglik": clean(self.loglik),
            "params": {k: clean(v) for k, v in self.params.items()},
            "std_errors": {k: clean(v) for k, v in self.std_errors.items()},
            "seconds": float(self.seconds),
            "converged": bool(self.converged),
            "n_iter": int(self.n_iter),
            "n_obs": self.n_obs,
            "n_units": len(self.units),
            "config": _jsonable(asdict(self.config)),
        }

    # ----------------------------------------------------- decomposition
    def fitted_components(self) -> pd.DataFrame:
        """Expected count per unit and fitted period, split into its three parts.

        Returns
        -------
        pandas.DataFrame
            ``unit_id, ds, y, mu, endemic, autoregressive, neighbour``, with
            ``mu = endemic + autoregressive + neighbour`` (periods 2..T).
        """
        parts = self._model.component_means(self._theta)
        mu = parts["endemic"] + parts["autoregressive"] + parts["neighbour"]
        units = self.units
        n_fit = self._model.n_fit
        return pd.DataFrame(
            {
                "unit_id": pd.Series(np.repeat(units, n_fit), dtype=object),
                "ds": np.tile(self.ds[1:], len(units)),
                "y": self._model.y.ravel().astype(np.int64),
                "mu": mu.ravel(),
                "endemic": parts["endemic"].ravel(),
                "autoregressive": parts["autoregressive"].ravel(),
                "neighbour": parts["neighbour"].ravel(),
            }
        )

    def attribution(
        self,
        units: Sequence[str] | None = None,
        periods: Sequence[Any] | None = None,
        *,
        n_draws: int = 1000,
        level: float = 0.9,
        seed: int | None = 0,
    ) -> pd.DataFrame:
        """Split the neighbour part of each expected count by source unit.

        For receiving unit ``i`` and period ``t`` the count expected from
        source ``j`` is ``phi_it * w_ji * Y_j,t-1``; these sum over ``j`` to the
        neighbour part of :meth:`fitted_components`. Only sources with a
        positive contribution are listed.

        Parameters
        ----------
        units, periods
            Receiving units and periods (``ds`` values) to report; all fitted ones by default.
        n_draws
            Parameter draws from the asymptotic normal distribution of the
            estimates used for the interval.
        level
            Coverage of the interval ``[share_lo, share_hi]``.
        seed
            Seed of the numpy random generator.

        Returns
        -------
        pandas.DataFrame
            ``unit_id, ds, imported_from, expected, share, share_lo, share_hi``:
            ``share = expected / mu``, the fraction of unit ``i``'s expected
            count imported from ``imported_from``.
        """
        model = self._model
        unit_rows, period_cols = self._select(units, periods)
        layout = model.layout
        weights = (
            model.neighbourhood.weights(
                self._theta[layout.decay] if layout.decay is not None else None
            )
            if layout.ne is not None
            else np.zeros((model.n_units, model.n_units))
        )
        parts = model.component_means(self._theta)
        mu = parts["endemic"] + parts["autoregressive"] + parts["neighbour"]
        phi = (
            np.exp(model.designs["ne"].predictor(self._theta[layout.ne]))
            if layout.ne is not None
            else np.zeros_like(mu)
        )

        # Rows (receiving i, fitted period t, source j) with w_ji * Y_j,t-1 > 0 (or a source-component flow).
        y_lag = model.y_lag
        linked = self._source_links()
        blocks = []
        for t in period_cols:
            flows = (weights + linked)[:, unit_rows] * y_lag[:, t][:, None]  # (source, receiving)
            source, receiving = np.nonzero(flows)
            blocks.append(np.column_stack([unit_rows[receiving], np.full(len(source), t), source]))
        rows = np.concatenate(blocks) if blocks else np.zeros((0, 3), dtype=int)
        receiving, period, source = rows[:, 0], rows[:, 1], rows[:, 2]
        expected = phi[receiving, period] * weights[source, receiving] * y_lag[source, period]
        if layout.st is not None:
            kappa = np.exp(model.designs["st"].predictor(self._theta[layout.st]))
            expected = expected + kappa[receiving, period] * linked[source, receiving] * y_lag[source, period]
        share = expected / mu[receiving, period]
        share_lo, share_hi = self._share_interval(rows, n_draws, level, seed)
        units_all = np.asarray(self.units, dtype=object)
        return pd.DataFrame(
            {
                "unit_id": pd.Series(units_all[receiving], dtype=object),
                "ds": self.ds[1:][period],
                "imported_from": pd.Series(units_all[source], dtype=object),
                "expected": expected,
                "share": share,
                "share_lo": share_lo,
                "share_hi": share_hi,
            }
        )

    def _source_links(self) -> np.ndarray:
        """``L[j, i] = 1`` where the source component carries unit j's counts to unit i."""
        model = self._model
        links = np.zeros((model.n_units, model.n_units))
        if model.layout.st is not None:
            links[np.ix_(model.source_index, np.flatnonzero(model.source_mask))] = 1.0
        return links

    def _select(
        self, units: Sequence[str] | None, periods: Sequence[Any] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        all_units = self.units
        if units is None:
            unit_rows = np.arange(len(all_units))
        else:
            wanted = [str(u) for u in units]
            unknown = [u for u in wanted if u not in all_units]
            if unknown:
                raise ParameterError(f"units {unknown[:5]} are not in the fitted panel")
            unit_rows = np.array([all_units.index(u) for u in wanted], dtype=int)
        fitted_periods = self.ds[1:]
        if periods is None:
            period_cols = np.arange(len(fitted_periods))
        else:
            positions = fitted_periods.get_indexer(pd.to_datetime(list(periods)))
            if (positions < 0).any():
                raise ParameterError(
                    "some periods are not fitted periods of the panel (the first period has no lag)"
                )
            period_cols = positions
        return unit_rows, period_cols

    def draw_params(self, n_draws: int, seed: int | np.random.Generator | None = 0) -> np.ndarray:
        """Parameter vectors drawn from the asymptotic normal distribution.

        Draws are taken on the internal scale (``log psi``) so psi stays
        positive, and returned on that scale, shape ``(n_draws, n_params)``.
        """
        if not np.all(np.isfinite(self._cov_internal)):
            raise ModelError(
                "the covariance of the estimates is not available (information not positive definite); "
                "parameter uncertainty cannot be simulated"
            )
        rng = np.random.default_rng(seed)
        try:
            return rng.multivariate_normal(
                self._theta, self._cov_internal, size=int(n_draws), method="cholesky"
            )
        except np.linalg.LinAlgError:
            raise ModelError(
                "the covariance of the estimates is not positive definite; "
                "parameter uncertainty cannot be simulated (simplify the model)"
            ) from None

    def _share_interval(
        self, rows: np.ndarray, n_draws: int, level: float, seed: int | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Quantiles of each row's share over parameter draws, in memory-bounded blocks of periods."""
        fraction(level, "level")
        lower, upper = np.empty(len(rows)), np.empty(len(rows))
        if len(rows) == 0:
            return lower, upper
        model = self._model
        layout = model.layout
        draws = self.draw_params(n_draws, seed)
        n_draws = len(draws)
        decays = draws[:, layout.decay] if layout.decay is not None else np.zeros(n_draws)
        weights = model.neighbourhood.weights_for_draws(decays)  # (D, source, receiving)
        fixed_weights = layout.decay is None
        receivers = np.unique(rows[:, 0])
        receiver_pos = np.full(model.n_units, -1)
        receiver_pos[receivers] = np.arange(len(receivers))
        if fixed_weights:
            stacked = weights[0][:, receivers].T  # (receiving, source): same for every draw
        else:
            # (D * receiving, source), so one matrix product gives every draw's neighbour sums
            stacked = weights[:, :, receivers].transpose(0, 2, 1).reshape(-1, model.n_units)
        y_lag = model.y_lag
        links = self._source_links()
        offsets = model.offsets[:, 1:]
        quantiles = [(1 - level) / 2, (1 + level) / 2]
        periods = np.unique(rows[:, 1])
        periods_per_block = max(1, _ATTRIBUTION_BLOCK // (n_draws * len(receivers)))
        rows_per_chunk = max(1, _ATTRIBUTION_BLOCK // n_draws)
        row_order = np.argsort(rows[:, 1], kind="stable")
        sorted_periods = rows[row_order, 1]

        def linear(component: str, coefficients: np.ndarray, block: np.ndarray) -> np.ndarray:
            return model.designs[component].predictor(
                coefficients, receivers, block
            )  # (receiving, periods, D)

        for first in range(0, len(periods), periods_per_block):
            block = periods[first : first + periods_per_block]
            with np.errstate(over="ignore"):
                mu = offsets[np.ix_(receivers, block)][..., None] * np.exp(
                    linear("end", draws[:, layout.end], block)
                )
                if layout.ar is not None:
                    mu += (
                        np.exp(linear("ar", draws[:, layout.ar], block))
                        * y_lag[np.ix_(receivers, block)][..., None]
                    )
                phi = np.exp(linear("ne", draws[:, layout.ne], block))
                kappa = (
                    np.exp(linear("st", draws[:, layout.st], block))
                    if layout.st is not None
                    else np.zeros_like(phi)
                )
            sums = stacked @ y_lag[:, block]
            if fixed_weights:
                neighbour = sums[..., None]
            else:
                neighbour = sums.reshape(n_draws, len(receivers), len(block)).transpose(1, 2, 0)
            mu += phi * neighbour
            if layout.st is not None:
                mu += kappa * model.source_lag[np.ix_(receivers, block)][..., None]
            block_pos = np.full(model.n_fit, -1)
            block_pos[block] = np.arange(len(block))
            lo, hi = np.searchsorted(sorted_periods, [block[0], block[-1] + 1])
            for chunk in range(lo, hi, rows_per_chunk):
                index = row_order[chunk : min(hi, chunk + rows_per_chunk)]
                receiving, period, source = rows[index, 0], rows[index, 1], rows[index, 2]
                cell = (receiver_pos[receiving], block_pos[period])
                flows = (
                    weights[:, source, receiving].T * y_lag[source, period][:, None]
                )  # (rows, D)
                share = phi[cell] * flows
                if layout.st is not None:
                    share = share + kappa[cell] * (links[source, receiving] * y_lag[source, period])[:, None]
                with np.errstate(invalid="ignore"):
                    share = share / mu[cell]
                # A draw whose source coupling overflows makes the source the whole mean: inf / inf -> 1.
                share = np.where(np.isnan(share), 1.0, share)
                lower[index], upper[index] = np.quantile(share, quantiles, axis=1)
        return lower, upper

    # ---------------------------------------------------------- forecasts
    def simulate(
        self,
        h: int,
        n_draws: int = 1000,
        seed: int | None = 0,
        *,
        parameter_uncertainty: bool = False,
        future_covariates: pd.DataFrame | None = None,
    ) -> np.ndarray:
        """Simulate counts for the ``h`` periods after the panel.

        Each path starts from the last observed counts and feeds its own
        simulated counts back as lags, so multi-step draws carry the epidemic
        dynamics.

        Parameters
        ----------
        h
            Number of periods ahead.
        n_draws
            Number of simulated paths.
        seed
            Seed of the numpy random generator.
        parameter_uncertainty
            Draw a parameter vector per path from the asymptotic normal
            distribution of the estimates instead of using the estimates.
        future_covariates
            Long table ``unit_id, ds, <covariates>`` for the forecast periods;
            required when the model has covariate terms.

        Returns
        -------
        numpy.ndarray
            Integer draws of shape ``(n_units, h, n_draws)``, units in :attr:`units` order.
        """
        h, n_draws = int(h), int(n_draws)
        if h < 1 or n_draws < 1:
            raise ParameterError(f"h={h} and n_draws={n_draws} must both be at least 1")
        rng = np.random.default_rng(seed)
        model = self._model
        layout = model.layout
        theta = self.draw_params(n_draws, rng) if parameter_uncertainty else self._theta[None, :]
        designs = self._future_designs(h, future_covariates)
        offsets = model.offsets[:, -1]  # the last offset carries forward
        decays = theta[:, layout.decay] if layout.decay is not None else np.zeros(len(theta))
        weights = model.neighbourhood.weights_for_draws(decays) if layout.ne is not None else None
        if layout.psi is not None:
            size = np.exp(-theta[:, layout.psi]).T  # r = 1/psi: (1 or n_psi, D or 1)
            if len(size) > 1:
                size = size[layout.psi_index]  # (n_units, D or 1)
        lag_weights = model.config.lag_vector()
        n_lags = len(lag_weights)
        # The last n_lags observed counts, newest first, per path: (units, lags, draws).
        recent = model.panel.counts[:, ::-1][:, :n_lags]
        history = np.repeat(recent[:, :, None], n_draws, axis=2)
        out = np.empty((model.n_units, h, n_draws), dtype=np.int64)
        for step in range(h):
            previous = _lagged(history, lag_weights)
            with np.errstate(over="ignore"):
                mu = offsets[:, None] * np.exp(
                    designs["end"].predictor(theta[:, layout.end], periods=[step])[:, 0]
                )
                if layout.ar is not None:
                    mu = (
                        mu
                        + np.exp(designs["ar"].predictor(theta[:, layout.ar], periods=[step])[:, 0])
                        * previous
                    )
                if layout.ne is not None:
                    if len(weights) == 1:
                        neighbour = weights[0].T @ previous
                    else:
                        neighbour = np.einsum("dji,jd->id", weights, previous)
                    mu = (
                        mu
                        + np.exp(designs["ne"].predictor(theta[:, layout.ne], periods=[step])[:, 0])
                        * neighbour
                    )
            mu = np.broadcast_to(mu, (model.n_units, n_draws))
            if not np.all(np.isfinite(mu)) or np.any(mu > MAX_MEAN):
                raise ModelError(
                    f"simulated means overflow at step {step + 1}; the fitted epidemic is explosive "
                    "(ar + ne too large) — forecast fewer steps"
                )
            if layout.psi is None:
                counts = rng.poisson(mu)
            else:
                size_b = np.broadcast_to(size, mu.shape)
                counts = rng.poisson(check_means(rng.gamma(size_b, mu / size_b), "a drawn gamma-Poisson mean"))
            out[:, step] = counts
            history = np.concatenate([counts[:, None, :].astype(float), history[:, :-1]], axis=1) if n_lags > 1 else counts[:, None, :].astype(float)
        return out

    def one_step_mean(self, future_covariates: pd.DataFrame | None = None) -> np.ndarray:
        """Analytical mean of the first forecast period per unit (``mu_i,T+1`` at the estimates).

        ``future_covariates`` as in :meth:`simulate`, required when the model has covariate terms.
        """
        model = self._model
        layout = model.layout
        designs = self._future_designs(1, future_covariates)
        lag_weights = model.config.lag_vector()
        previous = _lagged(model.panel.counts[:, ::-1][:, : len(lag_weights)], lag_weights)
        mu = model.offsets[:, -1] * np.exp(designs["end"].predictor(self._theta[layout.end])[:, 0])
        if layout.ar is not None:
            mu += np.exp(designs["ar"].predictor(self._theta[layout.ar])[:, 0]) * previous
        if layout.ne is not None:
            weights = model.neighbourhood.weights(
                self._theta[layout.decay] if layout.decay is not None else None
            )
            mu += np.exp(designs["ne"].predictor(self._theta[layout.ne])[:, 0]) * (
                weights.T @ previous
            )
        return mu

    def _future_designs(self, h: int, future_covariates: pd.DataFrame | None) -> dict[str, _Design]:
        model = self._model
        if model.layout.st is not None:
            raise ModelError(
                "forecasts with the source component are not implemented; it serves fits, components "
                "and attribution (fit without EndemicEpidemicConfig.source to forecast)"
            )
        config = model.config
        n_periods = model.panel.counts.shape[1]
        period_index = np.arange(n_periods, n_periods + h, dtype=float)
        future_ds = self.future_ds(h)
        components = {
            "end": config.endemic_terms(),
            "ar": config.ar_terms(),
            "ne": config.ne_terms(),
        }
        names = sorted({c for t in components.values() if t is not None for c in t.covariates})
        covariates: dict[str, np.ndarray] = {}
        if names:
            if future_covariates is None:
                raise ParameterError(
                    f"the model uses covariates {names}; pass future_covariates with columns unit_id, ds, "
                    f"{', '.join(names)} for the {h} forecast period(s)"
                )
            table = future_covariates.assign(
                unit_id=future_covariates["unit_id"].astype(str),
                ds=pd.to_datetime(future_covariates["ds"]),
            )
            for name in names:
                if name not in table.columns:
                    raise InputError("missing from future_covariates", column=name)
                wide = table.pivot_table(
                    index="unit_id", columns="ds", values=name, aggfunc="first"
                )
                wide = wide.reindex(index=self.units, columns=future_ds)
                values = wide.to_numpy(dtype=float)
                if not np.isfinite(values).all():
                    raise InputError(
                        f"future_covariates lacks some unit x period values for {future_ds[0].date()}"
                        f"..{future_ds[-1].date()}",
                        column=name,
                    )
                covariates[name] = values
        return _component_designs(config, self.units, period_index, covariates)[2]

    def future_ds(self, h: int) -> pd.DatetimeIndex:
        """Dates of the ``h`` periods after the panel."""
        return pd.date_range(self.ds[-1], periods=int(h) + 1, freq=self._model.panel.freq)[1:]

    def predict(
        self,
        h: int,
        n_draws: int = 1000,
        seed: int | None = 0,
        *,
        parameter_uncertainty: bool = False,
        future_covariates: pd.DataFrame | None = None,
    ) -> ForecastFrame:
        """Predictive draws for the next ``h`` periods as a ``ForecastFrame``.

        Rows are ordered by step, then unit. Step-1 rows also carry the exact
        conditional distribution (``family, dist_mu, dist_size``) unless
        parameter uncertainty is simulated; later steps are draws only.

        Returns
        -------
        forecast.models.frame.ForecastFrame
        """
        from forecast.models.frame import ForecastFrame

        draws = self.simulate(
            h,
            n_draws,
            seed,
            parameter_uncertainty=parameter_uncertainty,
            future_covariates=future_covariates,
        )
        n_units = len(self.units)
        future = self.future_ds(h)
        family = "poisson" if self.config.family == "poisson" else "negbin"
        dist_mu = np.full((h, n_units), np.nan)
        dist_size = np.full((h, n_units), np.nan)
        families: list[str | None] = [None] * (h * n_units)
        if not parameter_uncertainty:
            dist_mu[0] = self.one_step_mean(future_covariates)
            if self._model.layout.psi is not None:
                psi = self.params.iloc[self._model.layout.psi].to_numpy()
                dist_size[0] = np.broadcast_to(
                    1.0 / (psi[self._model.layout.psi_index] if len(psi) > 1 else psi), n_units
                )
            families[:n_units] = [family] * n_units
        return ForecastFrame.from_draws(
            unit_ids=self.units * h,
            ds=np.repeat(future, n_units),
            step=np.repeat(np.arange(1, h + 1), n_units),
            draws=draws.transpose(1, 0, 2).reshape(h * n_units, -1),
            model=EndemicEpidemic.alias,
            family=families,
            dist_mu=dist_mu.ravel(),
            dist_size=dist_size.ravel(),
        )


def _lagged(newest_first: np.ndarray, lag_weights: np.ndarray) -> np.ndarray:
    """``sum_l u_l y_{T+1-l}`` from the last counts, newest first along axis 1 (fewer when the panel is short)."""
    available = newest_first.shape[1]
    weights = lag_weights[:available] / lag_weights[:available].sum()
    return np.tensordot(weights, newest_first, axes=([0], [1])) if newest_first.ndim == 3 else newest_first @ weights


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
