"""Panel construction: complete grid, correct counts, imprecise dates handled as documented."""

from __future__ import annotations

import pandas as pd
import pytest

from forecast.errors import EmptyDataError, ParameterError
from forecast.panel import build_panel, period_range, period_start, truncate
from forecast.schema import EVENT_COLUMNS, EVENTS, validate

UNITS = ["AF-KNR", "AF-NAN", "AF-KAB"]


def make_events(rows: list[dict]) -> pd.DataFrame:
    base = {column: None for column in EVENT_COLUMNS}
    records = []
    for i, row in enumerate(rows):
        record = {
            **base,
            "event_id": f"t:{i}",
            "source": "csv",
            "date_precision": "day",
            "country_iso3": "AFG",
            "fatalities_best": 1.0,
            **row,
        }
        record["date"] = pd.Timestamp(record["date"])
        records.append(record)
    return validate(pd.DataFrame(records, columns=EVENT_COLUMNS), EVENTS)


@pytest.fixture
def events() -> pd.DataFrame:
    return make_events(
        [
            {"date": "2021-10-04", "admin1_code": "AF-NAN", "fatalities_best": 3.0,  # Monday
             "fatalities_low": 2.0, "fatalities_high": 7.0},
            {"date": "2021-10-10", "admin1_code": "AF-NAN", "fatalities_best": 2.0},  # Sunday, same week
            {"date": "2021-10-11", "admin1_code": "AF-NAN"},  # next Monday
            {"date": "2021-10-20", "admin1_code": "AF-KAB"},
            {"date": "2021-10-01", "admin1_code": "AF-KNR", "date_precision": "month"},
            {"date": "2021-01-01", "admin1_code": "AF-KNR", "date_precision": "year"},
            {"date": "2021-10-13", "admin1_code": "AF-KNR", "date_precision": "week"},
            {"date": "2021-10-12", "admin1_code": None},
            {"date": "2021-10-12", "admin1_code": "PK-KP", "country_iso3": "PAK"},
        ]
    )


def test_weekly_panel_is_complete_and_counts_by_monday_week(events):
    panel = build_panel(events, freq="W-MON", start="2021-10-04", end="2021-10-24", units=UNITS, country="AFG")
    assert list(panel.columns) == ["unit_id", "ds", "y", "fatalities_best", "fatalities_low", "fatalities_high"]
    assert len(panel) == 3 * 3  # 3 units x 3 weeks, zeros included
    y = panel.set_index(["unit_id", pd.to_datetime(panel["ds"]).dt.strftime("%F")])["y"]
    assert y[("AF-NAN", "2021-10-04")] == 2
    assert y[("AF-NAN", "2021-10-11")] == 1
    assert y[("AF-KAB", "2021-10-18")] == 1
    assert y[("AF-KNR", "2021-10-11")] == 1  # week precision is placed in its week
    assert y[("AF-KNR", "2021-10-04")] == 0
    assert panel["y"].sum() == 5
    week = panel.loc[(panel.unit_id == "AF-NAN") & (panel.ds == "2021-10-04")]
    assert week["fatalities_best"].item() == 5.0
    # The reported range sums per period; the event without one counts its best estimate at both ends.
    assert (week["fatalities_low"].item(), week["fatalities_high"].item()) == (2.0 + 2.0, 7.0 + 2.0)
    # The month- and year-precision events are set aside, never placed on a fake day.
    assert panel.attrs["dropped"] == {
        "other_country": 1,
        "unlocated": 1,
        "imprecise_date": 2,
        "outside_range": 0,
    }


def test_events_from_several_countries_need_the_country_named(events):
    """The library assumes no country: mixed events and no country is an error, one country is found."""
    with pytest.raises(ParameterError, match=r"the events come from 2 countries \(AFG, PAK\); name the panel's country"):
        build_panel(events, freq="W-MON")
    afghan = events[events["country_iso3"] == "AFG"]
    assert build_panel(afghan, freq="W-MON")["unit_id"].nunique() == 34


def test_monthly_panel_keeps_month_precision_but_not_year(events):
    panel = build_panel(events, freq="MS", start="2021-10-01", end="2021-10-31", units=UNITS)
    assert len(panel) == 3
    assert panel.set_index("unit_id")["y"].to_dict() == {"AF-KAB": 1, "AF-KNR": 2, "AF-NAN": 3}
    assert panel.attrs["dropped"]["imprecise_date"] == 1


def test_default_range_spans_events_and_default_units_are_all_provinces(events):
    panel = build_panel(events, freq="W-MON", country="AFG")
    assert panel["unit_id"].nunique() == 34
    assert panel["ds"].min() == pd.Timestamp("2021-10-04")
    assert panel["ds"].max() == pd.Timestamp("2021-10-18")
    assert (panel.groupby("unit_id").size() == 3).all()


def test_events_outside_explicit_range_are_counted(events):
    panel = build_panel(events, freq="W-MON", start="2021-10-11", end="2021-10-17", units=UNITS)
    assert panel["y"].sum() == 2
    assert panel.attrs["dropped"]["outside_range"] == 3  # 10-04, 10-10 and 10-20


def test_empty_events_need_explicit_dates():
    empty = make_events([])
    with pytest.raises(EmptyDataError, match="explicit start and end"):
        build_panel(empty, freq="W-MON", units=UNITS)
    panel = build_panel(empty, freq="MS", start="2021-01-01", end="2021-03-31", units=UNITS)
    assert len(panel) == 9 and panel["y"].sum() == 0


def test_bad_frequency_and_reversed_range():
    with pytest.raises(ParameterError, match="W-MON, MS"):
        period_start(pd.Series(pd.to_datetime(["2021-01-01"])), "D")
    with pytest.raises(ParameterError, match="before its start"):
        period_range("2021-02-01", "2021-01-01", "MS")


def test_truncate_keeps_only_periods_complete_by_as_of(events):
    panel = build_panel(events, freq="W-MON", start="2021-10-04", end="2021-10-24", units=UNITS)
    # 2021-10-17 is a Sunday: the week of 10-11 is complete, the week of 10-18 is not.
    known = truncate(panel, "2021-10-17")
    assert sorted(known["ds"].dt.strftime("%F").unique()) == ["2021-10-04", "2021-10-11"]
    assert truncate(panel, "2021-10-16")["ds"].max() == pd.Timestamp("2021-10-04")
    monthly = build_panel(events, freq="MS", start="2021-09-01", end="2021-10-31", units=UNITS)
    assert truncate(monthly, "2021-10-30")["ds"].max() == pd.Timestamp("2021-09-01")
    assert truncate(monthly, "2021-10-31")["ds"].max() == pd.Timestamp("2021-10-01")


def test_explicit_start_and_end_inside_a_week_cut_the_events_too(events):
    # 2021-10-06 is a Wednesday: the Monday event of that week is outside the range.
    panel = build_panel(events, freq="W-MON", start="2021-10-06", end="2021-10-12", units=UNITS)
    assert panel["ds"].min() == pd.Timestamp("2021-10-04")
    y = panel.set_index(["unit_id", pd.to_datetime(panel["ds"]).dt.strftime("%F")])["y"]
    assert y[("AF-NAN", "2021-10-04")] == 1  # the Sunday event only
    assert y[("AF-NAN", "2021-10-11")] == 1  # Monday 10-11 is within the end date
    assert y[("AF-KNR", "2021-10-11")] == 0  # 10-13 is after the end date
