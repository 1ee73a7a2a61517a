"""Properties of the readers and the panel builder over arbitrary valid event tables (issue 19).

Hypothesis draws event tables that are valid by construction: dates from 2000
to 2021 (some with a time and a UTC offset), provinces spelt any way the
gazetteer knows (English and Dari names, ISO codes, P-codes, in any case),
actors, non-negative whole fatalities or none. Whatever is drawn, the generic
CSV reader keeps every row, and the panel built from it is complete (every
province x every period from the first event's to the last's, once) with
totals equal to the events kept, per province and per period; the canonical
parquet written from those events gives the same panel.

The draws are derandomized (the same examples on every machine and run) and
there is no example database, so a failure here is reproducible, not luck.
"""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecast.data import read_canonical, read_events
from forecast.geo.gazetteer import Gazetteer
from forecast.panel import build_panel, period_range, period_start

GAZETTEER = Gazetteer.load("AFG")
#: Every spelling of every province (code, P-code, English, Dari, aliases) -> its unit.
SPELLINGS = sorted(GAZETTEER.aliases[["alias", "unit_id"]].itertuples(index=False, name=None))
UNITS = sorted(GAZETTEER.unit_ids)

PROPERTY = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@st.composite
def _spelling(draw: st.DrawFn) -> tuple[str, str]:
    alias, unit = draw(st.sampled_from(SPELLINGS))
    case = draw(st.sampled_from([str, str.lower, str.upper]))
    return case(alias), unit


@st.composite
def _written_date(draw: st.DrawFn) -> tuple[str, dt.date]:
    """A date as a file may write it, and the event's day by the documented rule (the local date as written)."""
    day = draw(st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2021, 12, 31)))
    style = draw(st.sampled_from(["date", "time", "utc", "offset"]))
    if style == "date":
        return day.isoformat(), day
    clock = f"{draw(st.integers(0, 23)):02d}:{draw(st.integers(0, 59)):02d}:00"
    suffix = {"time": "", "utc": "Z"}.get(style)
    if suffix is None:
        hours, minutes = draw(st.integers(-12, 14)), draw(st.sampled_from([0, 30, 45]))
        suffix = f"{'-' if hours < 0 else '+'}{abs(hours):02d}:{minutes:02d}"
    return f"{day.isoformat()}T{clock}{suffix}", day


_EVENT = st.tuples(
    _written_date(),
    _spelling(),
    st.sampled_from(["ISKP", "Islamic State (Afghanistan)", "Taliban", "unknown, gunmen", ""]),
    st.one_of(st.none(), st.integers(0, 500)),
)
_TABLE = st.lists(_EVENT, min_size=1, max_size=40)


def _write_csv(rows: list, folder: Path) -> Path:
    path = folder / "events.csv"
    with path.open("w", newline="", encoding="utf-8") as sink:
        writer = csv.writer(sink)
        writer.writerow(["date", "admin1", "actor", "fatalities"])
        for (written, _day), (spelling, _unit), actor, fatalities in rows:
            writer.writerow([written, spelling, actor, "" if fatalities is None else fatalities])
    return path


def _check_complete(panel: pd.DataFrame, expected: pd.DataFrame, freq: str) -> None:
    """``panel`` has every unit x period once, from the first event's period to the last's, and the counts of ``expected``."""
    periods = period_range(expected["day"].min(), expected["day"].max(), freq)
    assert sorted(panel["unit_id"].unique()) == UNITS
    assert len(panel) == len(UNITS) * len(periods)
    assert not panel.duplicated(["unit_id", "ds"]).any()
    assert set(panel["ds"]) == set(periods)
    assert int(panel["y"].sum()) == len(expected)
    assert (panel["y"] >= 0).all()
    want = expected.assign(ds=period_start(expected["day"], freq).to_numpy()).groupby(["unit", "ds"]).size()
    got = panel[panel["y"] > 0].set_index(["unit_id", "ds"])["y"]
    assert got.sort_index().to_dict() == want.sort_index().to_dict()
    assert panel["fatalities_best"].sum() == pytest.approx(float(expected["fatalities"].fillna(0).sum()))


@PROPERTY
@given(rows=_TABLE, freq=st.sampled_from(["W-MON", "MS"]))
def test_any_valid_event_table_gives_a_complete_panel_whose_totals_are_the_events(rows, freq):
    expected = pd.DataFrame({
        "day": pd.to_datetime([day for (_w, day), *_ in rows]),
        "unit": [unit for _d, (_s, unit), *_ in rows],
        "fatalities": pd.Series([fatalities for *_, fatalities in rows], dtype="float"),
    })
    with tempfile.TemporaryDirectory() as folder:
        path = _write_csv(rows, Path(folder))
        before = path.read_bytes()
        result = read_events("csv", path, country="AFG")
        assert path.read_bytes() == before  # the raw file is only read

        events = result.events
        assert len(events) == len(rows) and result.rows_read == len(rows)
        assert not any(result.dropped.values())
        # The day of each event is its date as written, whatever offset it carries.
        order = events["event_id"].str.removeprefix("csv:").astype(int).argsort()
        read_back = events.iloc[order.to_numpy()]
        assert read_back["date"].dt.date.tolist() == [day.date() for day in expected["day"]]
        assert read_back["admin1_code"].tolist() == expected["unit"].tolist()

        panel = build_panel(events, freq=freq, country="AFG")
        _check_complete(panel, expected, freq)
        assert sum(panel.attrs["dropped"].values()) == 0

        # The same events through the canonical parquet: the same panel.
        stored = Path(folder) / "events.parquet"
        events.to_parquet(stored, index=False)
        again = build_panel(read_canonical(stored), freq=freq, country="AFG")
        pd.testing.assert_frame_equal(again.reset_index(drop=True), panel.reset_index(drop=True))


@PROPERTY
@given(rows=_TABLE, freq=st.sampled_from(["W-MON", "MS"]), data=st.data())
def test_a_panel_over_a_chosen_window_keeps_exactly_the_events_inside_it(rows, freq, data):
    with tempfile.TemporaryDirectory() as folder:
        events = read_events("csv", _write_csv(rows, Path(folder)), country="AFG").events
    days = sorted(events["date"].unique())
    start = data.draw(st.sampled_from(days), label="start")
    end = data.draw(st.sampled_from([day for day in days if day >= start]), label="end")
    panel = build_panel(events, freq=freq, start=start, end=end, country="AFG")
    inside = events[(events["date"] >= start) & (events["date"] <= end)]
    periods = period_range(start, end, freq)
    assert len(panel) == len(UNITS) * len(periods) and set(panel["ds"]) == set(periods)
    assert int(panel["y"].sum()) == len(inside)
    assert panel.attrs["dropped"]["outside_range"] == len(events) - len(inside)


@PROPERTY
@given(rows=_TABLE)
def test_the_same_events_counted_by_hand_give_the_same_panel(rows):
    """A count table of the drawn events (one row per spelling and month, so some units are summed) == their panel."""
    from forecast.data.counts import read_counts

    with tempfile.TemporaryDirectory() as folder:
        events = read_events("csv", _write_csv(rows, Path(folder)), country="AFG").events
        table = pd.DataFrame({
            "unit": [spelling for _d, (spelling, _u), *_ in rows],
            "period": [f"{day:%Y-%m}" for (_w, day), *_ in rows],
            "fatalities": [fatalities or 0 for *_, fatalities in rows],
        }).groupby(["unit", "period"], as_index=False).agg(count=("fatalities", "size"), fatalities=("fatalities", "sum"))
        path = Path(folder) / "counts.csv"
        table.to_csv(path, index=False)
        counts = read_counts(path, country="AFG").counts
    from_events = build_panel(events, freq="MS", country="AFG")
    from_counts = build_panel(counts, freq="MS", country="AFG")
    columns = ["unit_id", "ds", "y", "fatalities_best"]
    pd.testing.assert_frame_equal(from_counts[columns].reset_index(drop=True), from_events[columns].reset_index(drop=True))
