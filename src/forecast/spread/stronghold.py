"""The group's stronghold: the units that hold most of its activity, found from the data or given."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from forecast.checks import whole_number
from forecast.errors import (
    EmptyDataError,
    ForecastError,
    ParameterError,
)
from forecast.geo.gazetteer import Gazetteer
from forecast.spread.context import _name_of, gazetteer_for, panel_bounds


# --------------------------------------------------------------- stronghold
@dataclass(frozen=True)
class Stronghold:
    """The units where a group is concentrated.

    Attributes
    ----------
    unit_ids, names
        The stronghold's units (ISO 3166-2 codes and English names).
    share
        Fraction of all the group's events in the baseline window that fell in
        the stronghold (NaN when the window holds no event at all).
    window
        Length of the baseline window in periods.
    start, end
        First and last period start of the baseline window.
    events
        Events per stronghold unit in the baseline window.
    total_events
        Events in all units in the baseline window.
    given
        True when the analyst named the stronghold, False when it was found.
    note
        A caveat to show with the results (e.g. a named stronghold without
        events), or None.
    """

    unit_ids: list[str]
    names: list[str]
    share: float
    window: int
    start: pd.Timestamp
    end: pd.Timestamp
    events: dict[str, int] = field(default_factory=dict)
    total_events: int = 0
    given: bool = False
    note: str | None = None

    @property
    def unit_shares(self) -> dict[str, float]:
        """Each stronghold unit's share of all events in the window (NaN without events)."""
        total = self.total_events
        return {u: (self.events.get(u, 0) / total if total else math.nan) for u in self.unit_ids}

    @property
    def has_events(self) -> bool:
        """Whether the stronghold had any event in the baseline window."""
        return sum(self.events.values()) > 0

    def label(self) -> str:
        """The stronghold's names joined for sentences: ``"Nangarhar"``, ``"Nangarhar and Kunar"``."""
        if len(self.names) <= 2:
            return " and ".join(self.names)
        return ", ".join(self.names[:-1]) + " and " + self.names[-1]

    def to_records(self) -> list[dict[str, Any]]:
        """One JSON-simple dict per unit: ``unit_id, name, share, events``."""
        shares = self.unit_shares
        return [
            {
                "unit_id": u,
                "name": n,
                "share": None if math.isnan(shares[u]) else round(shares[u], 4),
                "events": int(self.events.get(u, 0)),
            }
            for u, n in zip(self.unit_ids, self.names, strict=True)
        ]


def find_stronghold(
    panel: pd.DataFrame,
    as_of: Any = None,
    window: int = 52,
    share: float = 0.5,
    given: str | Sequence[str] | None = None,
    gazetteer: Gazetteer | None = None,
) -> Stronghold:
    """The smallest set of units holding at least ``share`` of the events, or the units given.

    Parameters
    ----------
    panel
        Long panel ``unit_id, ds, y`` (:func:`forecast.panel.build_panel`).
    as_of
        The baseline window ends with the last period complete at this date
        (default: the panel's last period).
    window
        Baseline window length in periods (52 weeks; use 12 for months).
    share
        Fraction of the events the stronghold must hold (0.5: at least half).
    given
        Unit names or codes (a list, or one string with commas), or None /
        ``"auto"`` to find the stronghold from the data.
    gazetteer
        Resolves names; by default the one of the panel's country.

    Returns
    -------
    Stronghold

    Raises
    ------
    ParameterError
        Fewer than two units, ``as_of`` before the data, a bad ``window`` or
        ``share``, or a given name that is not a unit of the panel.
    EmptyDataError
        ``given`` is None/auto and the baseline window holds no event.

    Notes
    -----
    Sorting units by their events and taking them until the share is reached
    gives the smallest such set; ties are broken by unit id so the answer is
    reproducible. A *given* stronghold with no events in the window is not an
    error: the result carries a :attr:`Stronghold.note` and rules that compare
    with the stronghold have nothing to compare with.

    Examples
    --------
    >>> import pandas as pd
    >>> ds = pd.date_range("2021-01-04", periods=3, freq="W-MON")
    >>> panel = pd.DataFrame({"unit_id": ["AF-NAN"] * 3 + ["AF-KNR"] * 3 + ["AF-KAB"] * 3,
    ...                       "ds": list(ds) * 3, "y": [5, 4, 6, 1, 2, 0, 3, 0, 1]})
    >>> s = find_stronghold(panel, window=3)
    >>> s.unit_ids, round(s.share, 3)
    (['AF-NAN'], 0.682)
    >>> find_stronghold(panel, window=3, given="Kunar").unit_ids
    ['AF-KNR']
    """
    whole_number(window, "the stronghold window (periods)")
    if not 0 < share <= 1:
        raise ParameterError(f"the stronghold share must lie in (0, 1], got {share!r}")
    known, as_of = panel_bounds(panel, as_of)
    periods = np.sort(known["ds"].unique())[-int(window):]
    in_window = known[known["ds"].isin(periods)]
    counts = in_window.groupby("unit_id")["y"].sum().astype(int)
    units = sorted(known["unit_id"].astype(str).unique())
    counts = counts.reindex(units, fill_value=0)
    total = int(counts.sum())
    start, end = pd.Timestamp(periods[0]), pd.Timestamp(periods[-1])

    names_given = _given_names(given)
    if names_given:
        gaz = _maybe_gazetteer(units, gazetteer)
        chosen = [_resolve_unit(name, units, gaz) for name in names_given]
        chosen = list(dict.fromkeys(chosen))
        if len(chosen) == len(units):
            raise ParameterError(
                "the given stronghold covers every unit of the panel, leaving none to watch for spread; "
                "name fewer units or use --stronghold auto"
            )
        held = int(counts[chosen].sum())
        note = None
        if held == 0:
            note = (
                f"the given stronghold ({', '.join(_name_of(gaz, u) for u in chosen)}) had no events in the "
                f"baseline window {start:%F} to {end:%F}; distances and imported-risk shares refer to a "
                "stronghold that was quiet, and the other rules apply as usual"
            )
        return Stronghold(
            unit_ids=chosen,
            names=[_name_of(gaz, u) for u in chosen],
            share=held / total if total else math.nan,
            window=int(window),
            start=start,
            end=end,
            events={u: int(counts[u]) for u in chosen},
            total_events=total,
            given=True,
            note=note,
        )

    if total == 0:
        raise EmptyDataError(
            f"no events in the stronghold baseline window {start:%F} to {end:%F} ({window} periods before "
            f"{as_of:%F}), so no stronghold can be found; widen the window, move the as-of date or name "
            "the stronghold (--stronghold NAME)"
        )
    ranked = sorted(units, key=lambda u: (-counts[u], u))
    cumulative = np.cumsum([counts[u] for u in ranked]) / total
    size = int(np.searchsorted(cumulative, share - 1e-12) + 1)
    chosen = ranked[:size]
    gaz = _maybe_gazetteer(units, gazetteer)
    note = None
    tied = size < len(ranked) and counts[ranked[size]] == counts[chosen[-1]]
    if total < MIN_STRONGHOLD_EVENTS or tied:
        why = f"only {total} events in the baseline window" if total < MIN_STRONGHOLD_EVENTS else (
            f"{_name_of(gaz, ranked[size])} has as many events as {_name_of(gaz, chosen[-1])}"
        )
        note = f"the stronghold found from the data is uncertain ({why}); name it with --stronghold NAME if you know it"
    return Stronghold(
        unit_ids=chosen,
        names=[_name_of(gaz, u) for u in chosen],
        share=float(cumulative[size - 1]),
        window=int(window),
        start=start,
        end=end,
        events={u: int(counts[u]) for u in chosen},
        total_events=total,
        given=False,
        note=note,
    )


#: Fewer events than this in the baseline window make a found stronghold uncertain.
MIN_STRONGHOLD_EVENTS = 10


def _given_names(given: str | Sequence[str] | None) -> list[str]:
    if given is None:
        return []
    if isinstance(given, str):
        given = given.split(",")
    names = [str(n).strip() for n in given if str(n).strip()]
    if [n.lower() for n in names] == ["auto"]:
        return []
    return names


def _maybe_gazetteer(units: Sequence[str], gazetteer: Gazetteer | None) -> Gazetteer | None:
    try:
        return gazetteer_for(units, gazetteer)
    except ForecastError:
        return None


def _resolve_unit(name: str, units: Sequence[str], gazetteer: Gazetteer | None) -> str:
    if name in units:
        return name
    unit = gazetteer.resolve(name) if gazetteer is not None else None
    if unit is None or unit not in units:
        close = gazetteer.closest(name) if gazetteer is not None else []
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ParameterError(f"stronghold '{name}' is not a unit of the panel{hint}")
    return unit
