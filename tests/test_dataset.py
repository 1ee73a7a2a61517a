"""From run parameters to events + panel: synthetic and provider files, as-of cut, overview tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from forecast.data.dataset import load_dataset
from forecast.errors import ParameterError
from forecast.report.tables import caveats, coverage_table, events_by_unit

DATA = Path(__file__).parent / "data"


def test_synthetic_dataset_is_labelled_and_cut_at_as_of():
    data = load_dataset("synthetic", freq="W-MON", as_of="2021-10-10", synthetic={"seed": 4})
    assert data.synthetic and data.input_sha256 == "synthetic:4"
    assert data.caption.startswith("SYNTHETIC DATA")
    assert data.figure_labels["synthetic"] is True
    assert data.events["date"].max() <= pd.Timestamp("2021-10-10")
    # 2021-10-10 is a Sunday: the week starting 2021-10-04 is the last complete one.
    assert data.panel["ds"].max() == pd.Timestamp("2021-10-04")
    assert data.panel["y"].sum() == len(data.events)
    assert data.panel.groupby("unit_id").size().nunique() == 1


def test_seed_shortcut_and_overrides_agree():
    a = load_dataset(seed=9, freq="MS")
    b = load_dataset(synthetic={"seed": 9}, freq="MS")
    pd.testing.assert_frame_equal(a.panel, b.panel)


def test_provider_source_needs_a_path_and_known_name():
    with pytest.raises(ParameterError, match="needs an events file"):
        load_dataset("ucdp")
    with pytest.raises(ParameterError, match="one of synthetic"):
        load_dataset("views")


def test_as_of_before_data_start_is_an_error():
    with pytest.raises(ParameterError, match="before the data start"):
        load_dataset("synthetic", as_of="2010-01-01")


def test_ucdp_file_through_dataset():
    path = DATA / "ucdp_ged_sample.csv"
    data = load_dataset("ucdp", path, actor="^IS$", country="Afghanistan", freq="MS")
    assert not data.synthetic
    assert data.label.startswith("UCDP GED (ucdp_ged_sample.csv)")
    assert len(data.input_sha256) == 64
    assert data.country == "AFG"  # the name is resolved once, so the panel keeps the country's events
    # Every event up to the panel's last complete month is counted or set aside with a reason
    # (a country given by name once filtered them all out as "other country": an all-zero panel).
    panel_end = data.panel["ds"].max() + pd.offsets.MonthBegin(1)
    covered = data.events[data.events["date"] < panel_end]
    assert data.panel.attrs["dropped"]["other_country"] == 0 and data.panel["y"].sum() > 0
    assert data.panel["y"].sum() + sum(data.panel.attrs["dropped"].values()) == len(covered)
    assert set(data.events["actor"]) == {"IS"}


def test_overview_tables_add_up():
    data = load_dataset(seed=2, freq="W-MON", as_of="2021-12-26")
    table = events_by_unit(data, recent_periods=13)
    assert len(table) == 34
    assert table["events"].sum() == data.panel["y"].sum()
    assert table["share"].sum() == pytest.approx(1.0)
    assert table.iloc[0]["name"] == "Nangarhar"
    nangarhar = table.iloc[0]
    assert nangarhar["per_100k"] == pytest.approx(nangarhar["events"] / 2_190_770 * 1e5)  # 2021 population
    facts = dict(coverage_table(data).values)
    assert facts["synthetic"].startswith("yes")
    assert facts["events in panel"] == f"{int(data.panel['y'].sum()):,}"
    assert "SYNTHETIC" in caveats(data)[0]
    # Fatalities: best estimate, and the low-high range where the source gives one.
    low_high = table.set_index("unit_id")["fatalities_range"]
    for unit, text in low_high[low_high != ""].items():
        low, high = (float(v.replace(",", "")) for v in text.split("-"))
        best = table.set_index("unit_id").loc[unit, "fatalities"]
        assert low <= best <= high
    assert low_high["AF-NAN"] != ""


def test_without_as_of_a_partly_observed_last_period_is_left_out():
    # The UCDP fixture's last event is on 2022-09-02: September is not complete.
    data = load_dataset("ucdp", DATA / "ucdp_ged_sample.csv", country="AFG", freq="MS")
    assert data.panel["ds"].max() == pd.Timestamp("2022-08-01")
    assert any("No as-of date" in note for note in caveats(data))


def test_as_of_dates_are_checked_against_the_data():
    path = DATA / "ucdp_ged_sample.csv"
    with pytest.raises(ParameterError, match="'2021-02-30' is not a date"):
        load_dataset("ucdp", path, country="AFG", as_of="2021-02-30")
    with pytest.raises(ParameterError, match="more than a year after the last event"):
        load_dataset("ucdp", path, country="AFG", as_of="2030-01-01")
    later = load_dataset("ucdp", path, country="AFG", freq="MS", as_of="2022-12-31")
    assert later.panel["ds"].max() == pd.Timestamp("2022-12-01")
    assert "counts the periods after it as zero attacks" in later.notes[0]
    assert any("update the data, or set the as-of date" in note for note in caveats(later))


def test_last_day_lets_rules_judge_the_last_complete_period():
    """Without as_of, the rules are judged through the end of the panel's last period, not its first day."""
    from forecast.alarms import evaluate_warnings

    data = load_dataset("synthetic", freq="MS")
    last_period = pd.Timestamp(data.panel["ds"].max())
    assert data.last_day == last_period + pd.offsets.MonthEnd(0)
    result = evaluate_warnings(data.panel, data.last_day, "Nangarhar", spillover=False)
    assert result.last_period == last_period


def test_notebooks_opened_in_jupyterlab_read_relative_paths_from_the_project(tmp_path, monkeypatch):
    """JupyterLab starts kernels in notebooks/: a config path like data/raw/x.csv must still be found."""
    import shutil

    from forecast.report.notebook import open_report, project_path

    (tmp_path / "notebooks").mkdir()
    (tmp_path / "data" / "raw").mkdir(parents=True)
    shutil.copy(Path(__file__).parent / "data" / "generic_events.csv", tmp_path / "data" / "raw" / "events.csv")
    monkeypatch.chdir(tmp_path / "notebooks")
    assert project_path("data/raw/events.csv") == str(tmp_path / "data" / "raw" / "events.csv")
    assert project_path("data/raw/missing.csv") == "data/raw/missing.csv"  # left for the reader's own error
    report = open_report("csv", "data/raw/events.csv", country="AFG", freq="MS", show=False)
    assert len(report.data.events) == 6  # the 6 of 7 rows that name a province (one has coordinates only)


def test_no_fatality_range_column_when_the_source_gives_only_one_estimate():
    data = load_dataset("csv", Path(__file__).parent / "data" / "generic_events.csv", country="AFG", freq="MS")
    table = events_by_unit(data)
    assert "fatalities_range" not in table.columns and table["fatalities"].sum() > 0
