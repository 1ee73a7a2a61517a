"""Spread indicators per period: how many units are active, the share outside the stronghold, new units, concentration."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from forecast.checks import whole_number
from forecast.errors import (
    EmptyDataError,
    ParameterError,
)
from forecast.geo.gazetteer import Gazetteer
from forecast.panel import period_start, to_wide
from forecast.spread.context import gazetteer_for, haversine_km, panel_bounds, quiet_before
from forecast.spread.stronghold import Stronghold

# -------------------------------------------------------------- indicators
INDICATOR_COLUMNS = [
    "ds",
    "events",
    "active_units",
    "events_outside",
    "share_outside",
    "new_units",
    "mean_distance_km",
    "standard_distance_km",
    "hhi",
    "entropy",
]


def spread_indicators(
    data: pd.DataFrame,
    stronghold: Stronghold | Sequence[str],
    gazetteer: Gazetteer | None = None,
    freq: str | None = None,
    quiet_periods: int = 52,
    window: int = 1,
) -> pd.DataFrame:
    """How spread out the group's activity is, per period.

    Parameters
    ----------
    data
        A panel ``unit_id, ds, y`` or canonical events (with ``event_id``,
        ``date``, ``admin1_code``, ``latitude``, ``longitude``). From events the
        distances use each event's coordinates; from a panel, its unit's centroid.
    stronghold
        The stronghold (or its unit ids).
    gazetteer
        Centroids of the units (default: the country of the unit ids).
    freq
        Period of the table for events (``W-MON`` or ``MS``); a panel keeps its own.
    quiet_periods
        A unit is *new* in a period when it is active then and had no event in
        the ``quiet_periods`` periods before (or none at all on record).
    window
        Periods pooled in each row (rolling, ending at ``ds``): 1 gives the
        period itself, 4 the last four weeks.

    Returns
    -------
    pandas.DataFrame
        One row per period: ``ds``; ``events`` (all units); ``active_units``
        (units with at least one event); ``events_outside`` and
        ``share_outside`` (outside the stronghold; share NaN without events);
        ``new_units`` (NaN for the first row, which has no history);
        ``mean_distance_km`` and ``standard_distance_km`` (mean and root mean
        square distance of the events from the stronghold centroid, the
        stronghold units' centroids weighted by their baseline events);
        ``hhi`` (sum of squared unit shares of the events: 1 when all are in
        one unit, 1/n when spread evenly over n) and ``entropy`` (of the unit
        shares, in nats: 0 when all are in one unit). Concentration and
        distances are NaN in periods without events.

    Examples
    --------
    >>> import pandas as pd
    >>> ds = pd.date_range("2021-01-04", periods=3, freq="W-MON")
    >>> panel = pd.DataFrame({"unit_id": ["AF-NAN"] * 3 + ["AF-KNR"] * 3,
    ...                       "ds": list(ds) * 2, "y": [2, 2, 1, 0, 0, 1]})
    >>> t = spread_indicators(panel, ["AF-NAN"], quiet_periods=2)
    >>> t[["events", "active_units", "share_outside", "new_units", "hhi"]].to_dict("list")
    {'events': [2, 2, 2], 'active_units': [1, 1, 2], 'share_outside': [0.0, 0.0, 0.5], 'new_units': [nan, 0.0, 1.0], 'hhi': [1.0, 1.0, 0.5]}
    """
    whole_number(window, "window (periods)")
    strong_ids = list(stronghold.unit_ids) if isinstance(stronghold, Stronghold) else list(stronghold)
    from_events = "event_id" in data.columns and "date" in data.columns
    if from_events:
        freq = freq or "W-MON"
        events = data[data["admin1_code"].notna()].copy()
        if events.empty:
            raise EmptyDataError("no located events to compute spread indicators from")
        events["ds"] = period_start(events["date"], freq).to_numpy()
        gaz = gazetteer_for(list(events["admin1_code"].astype(str)) + strong_ids, gazetteer)
        units = gaz.unit_ids
        periods = pd.date_range(events["ds"].min(), events["ds"].max(), freq=freq)
        wide = (
            events.groupby(["ds", "admin1_code"]).size().unstack(fill_value=0)
            .reindex(index=periods, columns=units, fill_value=0)
        )
    else:
        panel, _ = panel_bounds(data)
        wide = to_wide(panel).fillna(0)
        units = [str(u) for u in wide.columns]
        gaz = gazetteer_for(units + strong_ids, gazetteer)
        periods = wide.index
    unknown = [u for u in strong_ids if u not in units]
    if unknown:
        raise ParameterError(f"stronghold units {unknown} are not in the data")

    y = wide.to_numpy(dtype=float).T  # (units, periods)
    pooled = _rolling_sum(y, window)
    inside = np.isin(units, strong_ids)
    events_total = pooled.sum(axis=0)
    outside = pooled[~inside].sum(axis=0)
    active = pooled > 0
    quiet, never = quiet_before(y, lag=window)
    history = quiet >= 0
    new = active & history & ((quiet >= quiet_periods) | never)
    new_units = np.where(history.any(axis=0), new.sum(axis=0), np.nan)

    shares = np.divide(pooled, events_total, out=np.zeros_like(pooled), where=events_total > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        hhi = np.where(events_total > 0, (shares**2).sum(axis=0), np.nan)
        entropy = np.where(events_total > 0, -(np.where(shares > 0, shares * np.log(shares), 0.0)).sum(axis=0), np.nan)

    centre = _stronghold_centre(stronghold, strong_ids, gaz)
    if from_events:
        lat = events["latitude"].to_numpy(dtype=float)
        lon = events["longitude"].to_numpy(dtype=float)
        # Events without coordinates are placed at their unit's centroid.
        centroids = gaz.units.set_index("unit_id")[["latitude", "longitude"]]
        fill = centroids.reindex(events["admin1_code"].astype(str))
        lat = np.where(np.isfinite(lat), lat, fill["latitude"].to_numpy(dtype=float))
        lon = np.where(np.isfinite(lon), lon, fill["longitude"].to_numpy(dtype=float))
        d = haversine_km(lat, lon, *centre)
        sums = (
            pd.DataFrame({"ds": events["ds"].to_numpy(), "d": d, "d2": d**2})
            .groupby("ds")[["d", "d2"]].sum().reindex(periods, fill_value=0.0)
        )
        d_sum = _rolling_sum(sums["d"].to_numpy()[None, :], window)[0]
        d2_sum = _rolling_sum(sums["d2"].to_numpy()[None, :], window)[0]
    else:
        coords = gaz.units.set_index("unit_id").loc[units, ["latitude", "longitude"]].to_numpy(dtype=float)
        d = haversine_km(coords[:, 0], coords[:, 1], *centre)
        d_sum = d @ pooled
        d2_sum = (d**2) @ pooled
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_distance = np.where(events_total > 0, d_sum / events_total, np.nan)
        standard_distance = np.where(events_total > 0, np.sqrt(d2_sum / events_total), np.nan)
        share_outside = np.where(events_total > 0, outside / events_total, np.nan)
    table = pd.DataFrame(
        {
            "ds": pd.DatetimeIndex(periods),
            "events": events_total.astype(np.int64),
            "active_units": active.sum(axis=0).astype(np.int64),
            "events_outside": outside.astype(np.int64),
            "share_outside": share_outside,
            "new_units": new_units,
            "mean_distance_km": mean_distance,
            "standard_distance_km": standard_distance,
            "hhi": hhi,
            "entropy": entropy,
        },
        columns=INDICATOR_COLUMNS,
    )
    table.attrs.update(window=int(window), quiet_periods=int(quiet_periods), stronghold=strong_ids)
    return table


def _rolling_sum(y: np.ndarray, window: int) -> np.ndarray:
    """Sum over the last ``window`` periods (fewer at the start), along axis 1."""
    if window == 1:
        return y.astype(float)
    cumulative = np.cumsum(y, axis=1, dtype=float)
    out = cumulative.copy()
    out[:, window:] = cumulative[:, window:] - cumulative[:, :-window]
    return out


def _stronghold_centre(stronghold: Stronghold | Sequence[str], unit_ids: list[str], gazetteer: Gazetteer) -> tuple[float, float]:
    """Centroid of the stronghold units, weighted by their baseline events (equal weights if none)."""
    coords = gazetteer.units.set_index("unit_id").loc[unit_ids, ["latitude", "longitude"]].to_numpy(dtype=float)
    weights = np.ones(len(unit_ids))
    if isinstance(stronghold, Stronghold) and stronghold.has_events:
        weights = np.array([stronghold.events.get(u, 0) for u in unit_ids], dtype=float)
    weights = weights / weights.sum()
    # Averaging degrees is fine here: stronghold units are neighbours, far from the antimeridian.
    return float(weights @ coords[:, 0]), float(weights @ coords[:, 1])
