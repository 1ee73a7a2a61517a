"""Count tables (forecast.data.counts): read, resolved like events, and a panel equal to the events' panel."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from forecast.data.counts import count_frequency, counts_from_events, read_counts
from forecast.data.dataset import load_dataset
from forecast.data.synthetic import generate_scenario
from forecast.errors import InputError, ParameterError, UnknownUnitError
from forecast.evaluation.backtest import backtest
from forecast.panel import build_panel, panel_as_of


@pytest.fixture(scope="module")
def events() -> pd.DataFrame:
    return generate_scenario(seed=3).events


def write_counts(events: pd.DataFrame, path: Path, freq: str) -> Path:
    """The events as a provider of aggregates would publish them: names (not codes), one row per place and period."""
    counts = counts_from_events(events, freq)
    names = events.drop_duplicates("admin1_code").set_index("admin1_code")["admin1_name"]
    period = counts["ds"].dt.strftime("%Y-%m" if freq == "MS" else "%Y-%m-%d")
    table = pd.DataFrame({"unit": counts["unit_id"].map(names), "period": period, "count": counts["y"],
                          "fatalities": counts["fatalities_best"], "fatalities_low": counts["fatalities_low"],
                          "fatalities_high": counts["fatalities_high"]})
    table.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("freq", ["MS", "W-MON"])
def test_the_panel_from_counts_equals_the_panel_from_events(events, tmp_path, freq):
    path = write_counts(events, tmp_path / "counts.csv", freq)

    read = read_counts(path, country="Afghanistan")
    from_counts = build_panel(read.counts, freq=freq)
    from_events = build_panel(events, freq=freq)

    assert read.freq == freq and read.summary_dict()["events"] == len(events)
    pd.testing.assert_frame_equal(from_counts, from_events)
    assert from_counts.attrs == from_events.attrs
    cut = pd.Timestamp("2021-06-30")
    _, as_of_counts, _ = panel_as_of(read.counts, freq=freq, as_of=cut, country="AFG")
    _, as_of_events, _ = panel_as_of(events, freq=freq, as_of=cut, country="AFG")
    pd.testing.assert_frame_equal(as_of_counts, as_of_events)


def test_backtest_scores_are_identical_on_a_count_panel(events, tmp_path):
    path = write_counts(events, tmp_path / "counts.csv", "MS")
    counts = load_dataset("counts", path, country="AFG", freq="MS", as_of="2021-12-31")
    from_events = load_dataset("synthetic", freq="MS", as_of="2021-12-31", seed=3)
    pd.testing.assert_frame_equal(counts.panel, from_events.panel)
    assert counts.counts is not None and counts.events.empty

    options = {"start": "2021-01-01", "every": 3, "n_draws": 200, "seed": 7, "progress": False}
    a = backtest(counts.panel, ["zero", "hist_mean", "glm_negbin"], 2, **options)
    b = backtest(from_events.panel, ["zero", "hist_mean", "glm_negbin"], 2, **options)

    assert len(a.scores) == len(b.scores) > 0
    pd.testing.assert_frame_equal(a.scores, b.scores)


def test_monthly_counts_cannot_make_a_weekly_panel(events, tmp_path):
    path = write_counts(events, tmp_path / "counts.csv", "MS")
    read = read_counts(path, country="AFG")

    with pytest.raises(ParameterError) as caught:
        build_panel(read.counts, freq="W-MON")
    message = str(caught.value)
    assert "monthly" in message and "weekly" in message and "freq=MS" in message and "\n" not in message

    with pytest.raises(ParameterError, match="monthly counts cannot make a weekly panel"):
        load_dataset("counts", path, country="AFG", freq="W-MON")


def test_names_resolve_through_the_gazetteer_and_rows_for_one_place_are_summed(tmp_path):
    path = tmp_path / "counts.csv"
    path.write_text("unit,period,count\nHelmand,2021-01,2\nHilmand,2021-01,3\nAF30,2021-02,1\nKabul,2021-02-01,0\n")

    read = read_counts(path, country="AFG")

    rows = read.counts.set_index(["unit_id", "ds"])["y"]
    assert rows[("AF-HEL", pd.Timestamp("2021-01-01"))] == 5
    assert rows[("AF-HEL", pd.Timestamp("2021-02-01"))] == 1
    assert read.freq == "MS" and len(read.counts) == 3
    panel = build_panel(read.counts, freq="MS")
    assert len(panel) == 34 * 2 and panel["y"].sum() == 6


def test_unknown_names_are_refused_or_dropped_and_counted(tmp_path):
    path = tmp_path / "counts.csv"
    path.write_text("unit,period,count\nNangarhar,2021-01,2\nNangahar,2021-01,3\n")

    with pytest.raises(UnknownUnitError, match="Nangahar"):
        read_counts(path, country="AFG")
    read = read_counts(path, country="AFG", unmatched="drop")
    assert read.dropped == {"unmatched_unit": 1} and read.unmatched_names == {"Nangahar": 1}
    assert read.counts["y"].tolist() == [2]
    aliased = read_counts(path, country="AFG", aliases={"Nangahar": "Nangarhar"})
    assert aliased.counts["y"].tolist() == [5]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("unit,period,count\nKabul,2021-01-13,1\n", "neither the first day of a month"),
        ("unit,period,count\nKabul,2021-01,1.5\n", "not a whole number"),
        ("unit,period,count\nKabul,2021-01,-1\n", "below 0"),
        ("unit,period,count\nKabul,January,1\n", "cannot read the period"),
        ("unit,when,count\nKabul,2021-01,1\n", "period"),
    ],
)
def test_bad_count_tables_are_one_line_errors(tmp_path, text, fragment):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        read_counts(path, country="AFG")
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


def test_a_count_table_needs_a_country(tmp_path):
    path = tmp_path / "counts.csv"
    path.write_text("unit,period,count\nKabul,2021-01,1\n")
    with pytest.raises(ParameterError, match="country"):
        read_counts(path)


def test_weekly_periods_are_mondays():
    mondays = pd.Series(pd.to_datetime(["2021-03-01", "2021-03-08"]))
    assert count_frequency(mondays) == "W-MON"
    assert count_frequency(pd.Series(pd.to_datetime(["2021-03-01", "2021-04-01"]))) == "MS"


def test_the_coverage_table_of_counted_data_says_how_many_events_were_counted(events, tmp_path):
    from forecast.report.tables import coverage_table

    path = write_counts(events, tmp_path / "counts.csv", "MS")
    data = load_dataset("counts", path, country="AFG", freq="MS", as_of="2021-12-31")

    table = coverage_table(data).set_index("item")["value"]
    assert table["events"].startswith(f"{int(data.panel['y'].sum()):,} (counted")
    assert table["events in panel"] == f"{int(data.panel['y'].sum()):,}"
    assert "date precision" not in table.index
