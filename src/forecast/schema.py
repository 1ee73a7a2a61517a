"""Column contracts: events, panel, forecasts, alarms.

Each stage validates what it hands on with a pandera schema, so a broken
contract fails where it is broken, with the column named. Column names are
module constants so code refers to them by name, never by position.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaError, SchemaErrors

from forecast.errors import InputError
from forecast.sources import EVENT_ROW_SOURCES

#: Panel frequencies: weeks labelled by their Monday, months by their 1st.
FREQUENCIES: tuple[str, ...] = ("W-MON", "MS")

# ----------------------------------------------------------------- events
EVENT_COLUMNS: list[str] = [
    "event_id",
    "source",
    "date",
    "date_precision",
    "country_iso3",
    "admin1_code",
    "admin1_name",
    "admin2_name",
    "latitude",
    "longitude",
    "actor",
    "actor_raw",
    "event_type",
    "fatalities_low",
    "fatalities_best",
    "fatalities_high",
]

#: How precisely an event's date is known. "day" events can go into any panel;
#: "week" into weekly or monthly panels; "month" only into monthly panels;
#: "year" (or longer) into none (see :mod:`forecast.panel`).
DATE_PRECISIONS = ["day", "week", "month", "year"]

SOURCES = list(EVENT_ROW_SOURCES)  # forecast.sources: the one table of data sources

EVENTS = pa.DataFrameSchema(
    {
        "event_id": pa.Column(str, unique=True, nullable=False),
        "source": pa.Column(str, pa.Check.isin(SOURCES)),
        "date": pa.Column("datetime64[ns]", nullable=False),
        "date_precision": pa.Column(str, pa.Check.isin(DATE_PRECISIONS)),
        "country_iso3": pa.Column(str, pa.Check.str_matches(r"^[A-Z]{3}$")),
        "admin1_code": pa.Column(str, nullable=True),
        "admin1_name": pa.Column(str, nullable=True),
        "admin2_name": pa.Column(str, nullable=True),
        "latitude": pa.Column(float, pa.Check.in_range(-90, 90), nullable=True),
        "longitude": pa.Column(float, pa.Check.in_range(-180, 180), nullable=True),
        "actor": pa.Column(str, nullable=True),
        "actor_raw": pa.Column(str, nullable=True),
        "event_type": pa.Column(str, nullable=True),
        "fatalities_low": pa.Column(float, pa.Check.ge(0), nullable=True),
        "fatalities_best": pa.Column(float, pa.Check.ge(0), nullable=True),
        "fatalities_high": pa.Column(float, pa.Check.ge(0), nullable=True),
    },
    strict=True,
    ordered=True,
    coerce=True,
    name="events",
)

# ------------------------------------------------------------------ panel
#: ``fatalities_low``/``fatalities_high`` are the sums of the events' reported range (an event without one
#: counts its best estimate in both), so a panel built from a source without ranges has low = best = high.
PANEL_COLUMNS: list[str] = ["unit_id", "ds", "y", "fatalities_best", "fatalities_low", "fatalities_high"]

PANEL = pa.DataFrameSchema(
    {
        "unit_id": pa.Column(str, nullable=False),
        "ds": pa.Column("datetime64[ns]", nullable=False),
        "y": pa.Column("int64", pa.Check.ge(0), nullable=False),
        "fatalities_best": pa.Column(float, pa.Check.ge(0), nullable=False),
        "fatalities_low": pa.Column(float, pa.Check.ge(0), nullable=False),
        "fatalities_high": pa.Column(float, pa.Check.ge(0), nullable=False),
    },
    unique=["unit_id", "ds"],
    strict=False,
    coerce=True,
    name="panel",
)

# --------------------------------------------------------------- forecasts
FORECAST_SUMMARY = pa.DataFrameSchema(
    {
        "unit_id": pa.Column(str),
        "ds": pa.Column("datetime64[ns]"),
        "step": pa.Column("int64", pa.Check.ge(1)),
        "model": pa.Column(str),
        "mean": pa.Column(float, pa.Check.ge(0)),
    },
    strict=False,
    coerce=True,
    name="forecasts",
)

# ------------------------------------------------------------------ alarms
ALERT_LEVELS = ["none", "watch", "warning", "alert"]

ALARMS = pa.DataFrameSchema(
    {
        "unit_id": pa.Column(str),
        "name": pa.Column(str),
        "level": pa.Column(pd.CategoricalDtype(ALERT_LEVELS, ordered=True)),
        "rules": pa.Column(object),
        "reason": pa.Column(str),
    },
    strict=False,
    coerce=True,
    name="alarms",
)


def validate(frame: pd.DataFrame, schema: pa.DataFrameSchema, *, path: str | None = None) -> pd.DataFrame:
    """Validate ``frame`` against ``schema``; on failure raise a one-line :class:`InputError`.

    The message names the column, the check that failed, the first offending
    row (1-based) and the value found.
    """
    try:
        return schema.validate(frame, lazy=False)
    except (SchemaError, SchemaErrors) as exc:
        failure = getattr(exc, "failure_cases", None)
        column = getattr(getattr(exc, "schema", None), "name", None)
        row = None
        found = ""
        if isinstance(failure, pd.DataFrame) and len(failure):
            first = failure.iloc[0]
            if "index" in failure and pd.notna(first.get("index")):
                try:
                    row = int(first["index"]) + 1
                except (TypeError, ValueError):
                    row = None
            if "failure_case" in failure:
                found = f"; found {first['failure_case']!r}"
        check = getattr(exc, "check", None)
        what = f"fails {check}" if check is not None else "does not match"
        raise InputError(
            f"{schema.name} table {what}{found} ({str(exc).splitlines()[0]}); "
            "fix the input or the reader's column mapping",
            path=path,
            row=row,
            column=column if column != schema.name else None,
        ) from exc
