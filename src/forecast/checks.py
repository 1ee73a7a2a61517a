"""The one place for parameter checks: whole numbers, numbers, fractions, choices, dates, frequencies.

Every function takes the value and the ``name`` people know it by (``"horizon"``,
``"--keep"``, ``"glm_negbin: option ar"``), returns the value in its canonical
type and raises :class:`~forecast.errors.ParameterError` with a message that
names the parameter, what was given and what is allowed. Callers never write
their own ``isinstance``/range test, so the same mistake gets the same message
from the library, the command line and the runner's up-front check.

Examples
--------
>>> whole_number(8, "horizon")
8
>>> whole_number(0, "horizon")
Traceback (most recent call last):
...
forecast.errors.ParameterError: horizon must be a whole number >= 1, got 0
>>> frequency("D")
Traceback (most recent call last):
...
forecast.errors.ParameterError: frequency 'D' is not supported; use one of W-MON, MS
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from forecast.errors import ParameterError
from forecast.schema import FREQUENCIES

__all__ = [
    "boolean",
    "choice",
    "date",
    "fraction",
    "frequency",
    "number",
    "whole_number",
]



def whole_number(value: Any, name: str, *, minimum: int = 1, allow_none: bool = False) -> int | None:
    """``value`` as an ``int`` >= ``minimum`` (``None`` passes when ``allow_none``).

    ``True``/``False`` are refused: a boolean where a count is expected is a mistake.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        allowed = f"a whole number >= {minimum}" + (" or None" if allow_none else "")
        raise ParameterError(f"{name} must be {allowed}, got {value!r}")
    return int(value)


def number(
    value: Any,
    name: str,
    *,
    minimum: float | None = None,
    strict: bool = False,
    allow_none: bool = False,
    allow_inf: bool = False,
) -> float | None:
    """``value`` as a ``float``, at least ``minimum`` (above it when ``strict``).

    NaN is always refused; ``inf`` only passes with ``allow_inf`` (a threshold
    set to infinity switches its rule off).
    """
    if value is None and allow_none:
        return None
    real = not isinstance(value, bool) and isinstance(value, int | float | np.integer | np.floating)
    real = real and not math.isnan(value) and (allow_inf or math.isfinite(value))
    low_ok = minimum is None or (real and (value > minimum if strict else value >= minimum))
    if not real or not low_ok:
        kind = "a number" if minimum is None else f"a number {'>' if strict else '>='} {minimum:g}"
        raise ParameterError(f"{name} must be {kind}, got {value!r}")
    return float(value)


def fraction(value: Any, name: str, *, include_one: bool = False) -> float:
    """``value`` as a ``float`` strictly between 0 and 1 (a probability level), or in (0, 1] (a share)."""
    real = not isinstance(value, bool) and isinstance(value, int | float | np.integer | np.floating)
    if not (real and (0 < value <= 1 if include_one else 0 < value < 1)):
        where = "in (0, 1]" if include_one else "strictly between 0 and 1"
        raise ParameterError(f"{name} must lie {where}, got {value!r}")
    return float(value)


def boolean(value: Any, name: str) -> bool:
    """``value`` if it is ``True`` or ``False`` (not 0/1, not a string)."""
    if not isinstance(value, bool | np.bool_):
        raise ParameterError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def choice(value: Any, name: str, choices: Iterable[Any]) -> Any:
    """``value`` if it is one of ``choices``, else an error listing them."""
    options = list(choices)
    if value not in options:
        raise ParameterError(f"{name} {value!r} is not known; use one of {', '.join(map(str, options))}")
    return value


#: The dates any parameter may take: event data start in the 20th century, and
#: pandas cannot represent days past 2262; a date outside is a typo, not a wish.
EARLIEST_DATE = pd.Timestamp("1900-01-01")
LATEST_DATE = pd.Timestamp("2199-12-31")


def date(value: Any, name: str) -> pd.Timestamp:
    """``value`` (ISO string, date, Timestamp) as a timezone-free ``pd.Timestamp``.

    A timestamp with a time zone or UTC offset (``2021-12-26T22:00:00Z``,
    ``2021-12-27T02:30:00+04:30``) keeps the calendar date and time as written
    in that offset (the local wall-clock time) and drops the zone; days are never
    shifted into another zone. Dates before 1900 or after 2199 are refused.

    Examples
    --------
    >>> date("2021-10-04", "as_of")
    Timestamp('2021-10-04 00:00:00')
    >>> date("2021-12-26T22:00:00Z", "as_of")
    Timestamp('2021-12-26 22:00:00')
    >>> date("9999-12-31", "as_of")
    Traceback (most recent call last):
    ...
    forecast.errors.ParameterError: as_of '9999-12-31' is outside the supported dates 1900-01-01 to 2199-12-31
    """
    hint = f"{name} '{value}' is not a date; write it as YYYY-MM-DD, e.g. 2021-10-04"
    out_of_range = (
        f"{name} '{value}' is outside the supported dates {EARLIEST_DATE:%Y-%m-%d} to {LATEST_DATE:%Y-%m-%d}"
    )
    try:
        stamp = pd.Timestamp(value)
    except pd.errors.OutOfBoundsDatetime as exc:
        raise ParameterError(out_of_range) from exc
    except (ValueError, TypeError, OverflowError) as exc:
        raise ParameterError(hint) from exc
    if pd.isna(stamp):
        raise ParameterError(hint)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_localize(None)  # the wall-clock time as written, see the docstring
    if not EARLIEST_DATE <= stamp <= LATEST_DATE + pd.Timedelta(days=1) - pd.Timedelta(1):
        raise ParameterError(out_of_range)
    return stamp


def frequency(value: Any, name: str = "frequency") -> str:
    """``value`` if it is a supported panel frequency (:data:`FREQUENCIES`)."""
    if value not in FREQUENCIES:
        raise ParameterError(f"{name} '{value}' is not supported; use one of {', '.join(FREQUENCIES)}")
    return value
