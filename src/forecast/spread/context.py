"""What the spread measures share: units and their gazetteer, the panel known as of a date, quiet spells, distances."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from forecast.errors import (
    EmptyDataError,
    ForecastError,
    InputError,
    ParameterError,
)
from forecast.geo.gazetteer import Gazetteer
from forecast.panel import cut

#: Mean Earth radius (km) of the spherical distance.
EARTH_RADIUS_KM = 6371.0088


# ------------------------------------------------------------------ helpers
def haversine_km(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> np.ndarray:
    """Great-circle distance in km between points given in degrees (broadcasts).

    Examples
    --------
    >>> round(float(haversine_km(34.43, 70.45, 34.53, 69.17)))  # Jalalabad to Kabul
    118
    """
    lat1, lon1, lat2, lon2 = (np.radians(np.asarray(v, dtype=float)) for v in (lat1, lon1, lat2, lon2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def gazetteer_for(units: Iterable[str], gazetteer: Gazetteer | None = None) -> Gazetteer:
    """The gazetteer given, or the one of the country the ISO 3166-2 unit ids belong to.

    Unit ids look like ``AF-NAN``; their prefix is the country's alpha-2 code.
    Units of several countries (``AF-NAN``, ``PK-KP``) get the gazetteer of
    all of them, adjacency across their borders included.

    Examples
    --------
    >>> gazetteer_for(["AF-NAN", "PK-KP"]).country_iso3
    'AFG,PAK'
    """
    if gazetteer is not None:
        return gazetteer
    prefixes = sorted({str(u).split("-")[0] for u in units})
    if not prefixes:
        raise ParameterError("no units, so no country; pass gazetteer=Gazetteer.load(...)")
    try:
        return Gazetteer.load(",".join(prefixes))
    except ParameterError:
        raise ParameterError(
            f"cannot tell the country of units with prefixes {prefixes[:5]}; pass gazetteer=Gazetteer.load(...)"
        ) from None


def _name_of(gazetteer: Gazetteer | None, unit: str) -> str:
    if gazetteer is None:
        return unit
    try:
        return gazetteer.name_of(unit)
    except ForecastError:
        return unit


def panel_bounds(panel: pd.DataFrame, as_of: Any = None) -> tuple[pd.DataFrame, pd.Timestamp]:
    """Check a panel for spread analysis and cut it at ``as_of``.

    Returns the rows known at ``as_of`` (complete periods, see
    :func:`forecast.panel.truncate`) and ``as_of`` as a timestamp (the panel's
    last period start when None).

    Raises
    ------
    InputError
        The panel lacks ``unit_id, ds, y``.
    EmptyDataError
        The panel has no rows.
    ParameterError
        Fewer than two units (spread is about several units), an unreadable
        ``as_of``, or ``as_of`` before the panel's first period (both dates named).
    """
    missing = [c for c in ("unit_id", "ds", "y") if c not in panel.columns]
    if missing:
        raise InputError(f"the panel lacks columns {missing}; build it with forecast.panel.build_panel")
    if panel.empty:
        raise EmptyDataError("the panel is empty; check the country, actor and date filters used to build it")
    n_units = panel["unit_id"].nunique()
    if n_units < 2:
        raise ParameterError(
            f"spread and early-warning analysis needs at least 2 units, the panel has {n_units} "
            f"({panel['unit_id'].iloc[0]}); build the panel over all of the country's units "
            "(forecast.panel.build_panel does so by default)"
        )
    if as_of is None:
        return panel, pd.Timestamp(panel["ds"].max())
    return cut(panel, as_of, "as-of date")


def quiet_before(y: np.ndarray, lag: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Length of the run of quiet (zero) periods ending ``lag`` periods before each period.

    Parameters
    ----------
    y
        Counts, shape ``(units, periods)``.
    lag
        Periods skipped before the run is measured: with ``lag=4`` the run ends
        just before a 4-period window ``t-3 .. t``.

    Returns
    -------
    quiet, never
        ``quiet[i, t]``: number of consecutive zero periods ending at
        ``t - lag`` (0 if that period had events; -1 when ``t - lag`` is before
        the data). ``never[i, t]``: no event at all in periods ``<= t - lag``
        (and at least one such period exists).

    Examples
    --------
    >>> quiet, never = quiet_before(np.array([[1, 0, 0, 2, 0]]), lag=1)
    >>> quiet.tolist(), never.tolist()
    ([[-1, 0, 1, 2, 0]], [[False, False, False, False, False]])
    """
    y = np.asarray(y)
    n_units, n_periods = y.shape
    index = np.broadcast_to(np.arange(n_periods), y.shape)
    last_event = np.maximum.accumulate(np.where(y > 0, index, -1), axis=1)
    quiet_at = index - last_event  # zeros since the last event (t + 1 if none yet)
    never_at = last_event < 0
    quiet = np.full(y.shape, -1, dtype=np.int64)
    never = np.zeros(y.shape, dtype=bool)
    if lag < n_periods:
        quiet[:, lag:] = quiet_at[:, : n_periods - lag]
        never[:, lag:] = never_at[:, : n_periods - lag]
    return quiet, never
