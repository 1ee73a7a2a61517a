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
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecast.errors import ParameterError
from forecast.schema import FREQUENCIES

__all__ = [
    "boolean",
    "choice",
    "countries",
    "country_list",
    "date",
    "draw_budget",
    "draw_count",
    "fraction",
    "frequency",
    "number",
    "output_folder",
    "output_path",
    "steps_ahead",
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


def countries(value: Any, name: str = "country") -> str:
    """One country or several as the canonical key: ISO3 codes joined by commas (``"AFG,PAK"``).

    Accepts a code or name (``"AFG"``, ``"af"``, ``"Afghanistan"``), a comma- or
    plus-separated string (``"AFG,PAK"``, ``"afg + pak"``) or a list
    (``["AFG", "PAK"]``, the YAML form). One country stays its ISO3 code, so a
    one-country run is spelled as before; several are sorted and deduplicated,
    so ``"PAK,AFG"`` and ``["AFG", "PAK"]`` name the same panel.

    Examples
    --------
    >>> countries("afghanistan"), countries(["PAK", "AFG"]), countries("AFG, PAK,AFG")
    ('AFG', 'AFG,PAK', 'AFG,PAK')
    >>> countries("AFG,Atlantis")
    Traceback (most recent call last):
    ...
    forecast.errors.ParameterError: country 'Atlantis' is not a country name or ISO code; write e.g. AFG, or AFG,PAK for several
    """
    import pycountry

    if isinstance(value, str):
        parts = [p.strip() for p in value.replace("+", ",").split(",")]
    elif isinstance(value, Iterable) and not isinstance(value, bytes):
        parts = [str(p).strip() for p in value]
    else:
        raise ParameterError(f"{name} must be an ISO3 code, a comma-separated list or a list of codes, got {value!r}")
    parts = [p for p in parts if p]
    if not parts:
        raise ParameterError(f"{name} is empty; write e.g. AFG, or AFG,PAK for several")
    codes = []
    for part in parts:
        try:
            codes.append(str(pycountry.countries.lookup(part).alpha_3))
        except LookupError:
            raise ParameterError(
                f"{name} '{part}' is not a country name or ISO code; write e.g. AFG, or AFG,PAK for several"
            ) from None
    return ",".join(sorted(set(codes)))


def country_list(value: str) -> list[str]:
    """The ISO3 codes of a canonical country key (see :func:`countries`).

    Examples
    --------
    >>> country_list("AFG,PAK"), country_list("AFG")
    (['AFG', 'PAK'], ['AFG'])
    """
    return [p for p in str(value).split(",") if p]


def frequency(value: Any, name: str = "frequency") -> str:
    """``value`` if it is a supported panel frequency (:data:`FREQUENCIES`)."""
    if value not in FREQUENCIES:
        raise ParameterError(f"{name} '{value}' is not supported; use one of {', '.join(FREQUENCIES)}")
    return value


#: The folder of downloaded provider files: ``forecast fetch`` writes there, no other command does.
RAW_DATA_PARTS = ("data", "raw")


def _inside_raw_data(path: Path) -> bool:
    parts = path.parts
    return any(parts[i:i + 2] == RAW_DATA_PARTS for i in range(len(parts) - 1))


def output_path(value: Any, name: str, *, inputs: Iterable[Any] = (), example: str = "data/processed/out.parquet",
                raw_allowed: bool = False) -> Path:
    """``value`` as a path a command may write: not an input, not inside ``data/raw/``, not a folder.

    Checked before any work starts, so a mistyped ``--out`` costs nothing and
    overwrites nothing. The path is compared after resolving ``..`` and symbolic
    links (and by inode when both exist), so ``--out ./x/../events.csv`` or a link
    to the input is still the input.

    Parameters
    ----------
    value
        The output path given.
    name
        The option as people know it (``--out``).
    inputs
        Files the command reads; the output may be none of them.
    example
        A path to suggest instead.
    raw_allowed
        Only the downloaders may write inside ``data/raw/``.

    Examples
    --------
    >>> output_path("data/raw/csv/x.parquet", "--out")
    Traceback (most recent call last):
    ...
    forecast.errors.ParameterError: --out data/raw/csv/x.parquet is inside data/raw/, which holds downloaded raw files that only `forecast fetch` writes; write to e.g. data/processed/out.parquet
    """
    if value is None or str(value).strip() == "":
        raise ParameterError(f"{name} is empty; give a file name, e.g. {example}")
    path = Path(value)
    resolved = Path(os.path.realpath(path))
    for given in inputs:
        if given is None:
            continue
        source = Path(given)
        same = Path(os.path.realpath(source)) == resolved
        if not same and path.exists() and source.exists():
            try:
                same = os.path.samefile(path, source)
            except OSError:
                same = False
        if same:
            raise ParameterError(f"{name} {value} is also an input of this command ({given}); writing it would "
                                 f"destroy the input: write to another file, e.g. {example}")
    if not raw_allowed and _inside_raw_data(resolved):
        raise ParameterError(f"{name} {value} is inside data/raw/, which holds downloaded raw files that only "
                             f"`forecast fetch` writes; write to e.g. {example}")
    if path.is_dir():
        raise ParameterError(f"{name} {value} is a folder; give a file name inside it, e.g. {path / Path(example).name}")
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise ParameterError(f"{name} {value}: {parent} is a file, not a folder; choose another path, e.g. {example}")
    return path


def output_folder(value: Any, name: str, *, example: str = "reports", raw_allowed: bool = False) -> Path:
    """``value`` as a folder a command may write in: not a file, not below a file, not inside ``data/raw/``.

    ``raw_allowed``: only the downloaders (``forecast fetch --raw-dir``) may write inside ``data/raw/``.
    """
    path = Path(value)
    if not raw_allowed and _inside_raw_data(Path(os.path.realpath(path))):
        raise ParameterError(f"{name} {value} is inside data/raw/, which holds downloaded raw files that only "
                             f"`forecast fetch` writes; use e.g. {example}")
    if path.exists() and not path.is_dir():
        raise ParameterError(f"{name} {value} is a file, not a folder; use e.g. {example}")
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise ParameterError(f"{name} {value}: {parent} is a file, not a folder; use e.g. {example}")
    return path


#: The longest forecast horizon: ten years of weeks. Forecasts that far out are
#: the historical mean whatever the model, and every step costs memory.
MAX_HORIZON = 520
#: The most predictive draws per unit and step (quantiles are stable long before).
MAX_DRAWS = 100_000
#: The most draws held at once (units x steps x draws x models): 1 GiB of float64.
MAX_DRAW_VALUES = 1 << 27


def steps_ahead(value: Any, name: str = "horizon") -> int:
    """A forecast horizon: a whole number from 1 to :data:`MAX_HORIZON`.

    Examples
    --------
    >>> steps_ahead(1000000)
    Traceback (most recent call last):
    ...
    forecast.errors.ParameterError: horizon must be a whole number from 1 to 520 (ten years of weeks), got 1000000
    """
    checked = whole_number(value, name)
    if checked > MAX_HORIZON:
        raise ParameterError(f"{name} must be a whole number from 1 to {MAX_HORIZON} (ten years of weeks), got {value!r}")
    return checked


def draw_count(value: Any, name: str = "n_draws") -> int:
    """A number of predictive draws: a whole number from 1 to :data:`MAX_DRAWS`."""
    checked = whole_number(value, name)
    if checked > MAX_DRAWS:
        raise ParameterError(f"{name} must be a whole number from 1 to {MAX_DRAWS:,}, got {value!r}")
    return checked


def draw_budget(units: int, horizon: int, n_draws: int, models: int = 1) -> None:
    """Refuse a forecast whose draws would not fit in memory, before any model runs.

    Examples
    --------
    >>> draw_budget(34, 8, 1000, 5)
    >>> draw_budget(400, 520, 100000)
    Traceback (most recent call last):
    ...
    forecast.errors.ParameterError: 400 units x 520 steps x 100000 draws x 1 models need 166.4 GB for the draws (at most 1.1 GB); lower the horizon or n_draws
    """
    values = int(units) * int(horizon) * int(n_draws) * max(int(models), 1)
    if values > MAX_DRAW_VALUES:
        raise ParameterError(
            f"{units} units x {horizon} steps x {n_draws} draws x {models} models need {values * 8 / 1e9:.1f} GB "
            f"for the draws (at most {MAX_DRAW_VALUES * 8 / 1e9:.1f} GB); lower the horizon or n_draws"
        )
