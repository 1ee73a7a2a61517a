"""New ground on the press account of ISIS-K leaving Nangarhar (November 2021)."""

import numpy as np
import pandas as pd
import pytest

from forecast.alarms import warn_events
from forecast.geo.gazetteer import Gazetteer
from forecast.schema import EVENTS, validate

NEW = {"Kunar": ("2021-10-03", 2.0), "Kunduz": ("2021-10-08", 50.0),
       "Kandahar": ("2021-10-15", 60.0), "Parwan": ("2021-10-22", 1.0)}
RANGE = {"Kandahar": (41.0, 75.0)}


def _events(until: str = "2021-11-20") -> pd.DataFrame:
    rows = []
    # Stronghold series: an attack in Nangarhar every 9 days from 2020.
    for k, day in enumerate(pd.date_range("2020-01-02", until, freq="9D")):
        rows.append(("Nangarhar", day, 3.0, k))
    for name, (day, dead) in NEW.items():
        rows.append((name, pd.Timestamp(day), dead, len(rows)))
    gaz = Gazetteer.load("AFG")
    dead = [r[2] for r in rows]
    # The Kandahar toll was reported as a range (the best estimate 60); the others as one number.
    low = [RANGE[r[0]][0] if r[0] in RANGE else r[2] for r in rows]
    high = [RANGE[r[0]][1] if r[0] in RANGE else r[2] for r in rows]
    return validate(pd.DataFrame({
        "event_id": [f"e{i}" for i in range(len(rows))], "source": "csv",
        "date": [r[1] for r in rows], "date_precision": "day", "country_iso3": "AFG",
        "admin1_code": [gaz.resolve(r[0]) for r in rows], "admin1_name": [r[0] for r in rows],
        "admin2_name": None, "latitude": np.nan, "longitude": np.nan, "actor": "ISIS-K", "actor_raw": "IS-KP",
        "event_type": "attack", "fatalities_low": low, "fatalities_best": dead, "fatalities_high": high,
    }), EVENTS)


@pytest.mark.parametrize(("freq", "as_of"), [("MS", "2021-11-30"), ("W-MON", "2021-11-29")])
def test_press_account(freq, as_of):
    """The issue's account, with the default thresholds: four provinces struck once each in October 2021."""
    result = warn_events(_events(), as_of, freq=freq, stronghold="Nangarhar", country="AFG", spillover=False)
    levels = dict(zip(result.units["name"], result.units["level"].astype(str), strict=True))
    for name in NEW:
        assert levels[name] in ("warning", "alert"), (name, levels[name])
    # Mass casualties (50 and 60 killed, threshold 25) make an alert at once; 1-2 killed stay warnings.
    assert levels["Kunduz"] == "alert" and levels["Kandahar"] == "alert"
    assert levels["Parwan"] == "warning" and levels["Kunar"] == "warning"
    others = [n for n, lv in levels.items() if n not in NEW and lv != "none"]
    assert len(others) <= 3, others
    units = result.units.set_index("name")
    assert "new ground: first attack in Kunduz on record" in units.loc["Kunduz", "reason"]
    assert "mass casualty (50 killed in one " in units.loc["Kunduz", "reason"]  # the toll, not just the threshold
    assert "best estimate; threshold 25" in units.loc["Kunduz", "reason"]  # no range reported: none shown
    assert "60 killed in one " in units.loc["Kandahar", "reason"]
    assert "best estimate, reported range 41-75; threshold 25" in units.loc["Kandahar", "reason"]
    # Episodes: flagged since the period of the attack, and still held a month or more later.
    week_of = {"Kunar": "2021-09-27", "Kunduz": "2021-10-04", "Kandahar": "2021-10-11", "Parwan": "2021-10-18"}
    for name, (day, _) in NEW.items():
        since = pd.Timestamp(day).to_period("M").start_time if freq == "MS" else pd.Timestamp(week_of[name])
        assert units.loc[name, "since"] == since, name
        assert units.loc[name, "episode"] in ("new", "ongoing", "cooling")
    # The group-level alarm names all four and says when.
    group = result.group
    assert group.raised and group.level == "alert"
    assert sorted(group.newly_struck["name"]) == sorted(NEW)
    assert group.history_max == 0
    assert group.headline.startswith("Group expansion alarm: 4 provinces newly struck outside Nangarhar")
    assert "in October 2021" in group.headline or freq == "W-MON"
    assert "4 provinces newly struck outside Nangarhar" in result.to_text()


def test_press_account_json_matches_schema():
    jsonschema = pytest.importorskip("jsonschema")
    from forecast.alarms import warn_schema

    result = warn_events(_events(), "2021-11-30", freq="MS", stronghold="Nangarhar", country="AFG", spillover=False)
    document = result.to_dict()
    jsonschema.validate(document, warn_schema())
    assert document["group"]["raised"] is True
    assert {e["unit_id"] for e in document["episodes"]} >= {"AF-KNR", "AF-KDZ", "AF-KAN", "AF-PAR"}
    kunduz = next(u for u in document["units"] if u["name"] == "Kunduz")
    assert kunduz["episode"] == {"status": "cooling", "since": "2021-10-01"}
    assert kunduz["level"] == "alert"  # held at the episode's peak (mass casualty)
    assert document["stale"] is None


def test_warning_is_held_through_the_follow_up_window_then_ends():
    """One attack in Parwan (2021-10-22): warned at once, held for 3 months, then no longer flagged."""
    events = _events(until="2022-03-01")
    weekly = {}
    for as_of in ("2021-10-25", "2021-11-29", "2021-12-27", "2022-01-10", "2022-02-07"):
        result = warn_events(events, as_of, freq="W-MON", stronghold="Nangarhar", country="AFG", spillover=False)
        row = result.units.set_index("name").loc["Parwan"]
        weekly[as_of] = (str(row["level"]), row["episode"])
    assert weekly["2021-10-25"] == ("warning", "new")
    assert weekly["2021-11-29"] == ("warning", "cooling")
    assert weekly["2021-12-27"] == ("warning", "cooling")
    # 13 weeks after the week of 2021-10-18 the hold is over.
    assert weekly["2022-02-07"][0] == "none"


def test_new_ground_needs_a_year_of_history():
    """In the first year of data a first attack is not known to be new ground."""
    events = _events()
    result = warn_events(events[events["date"] >= "2021-03-01"], "2021-11-30", freq="MS", stronghold="Nangarhar",
                         country="AFG", spillover=False)
    assert "new_ground" in result.rules_evaluated
    assert result.group is not None and not result.group.raised
    assert not (result.rule_table.query("rule == 'new_ground'")["fired"]).any()


def test_stale_data_are_said_and_not_counted_as_quiet():
    events = _events()
    known = events[events["date"] <= "2021-10-23"]
    result = warn_events(known, "2021-12-31", freq="W-MON", stronghold="Nangarhar", country="AFG", spillover=False)
    assert result.stale is not None and result.stale["periods_behind"] == 10
    assert result.last_period == pd.Timestamp("2021-10-18")
    assert result.to_text().splitlines()[1].startswith("STALE DATA: the last event is dated 2021-10-22")
    assert result.to_dict()["stale"]["data_end"] == "2021-10-22"
    # Current data (the last event within a period of as_of) are not stale.
    assert warn_events(events, "2021-11-22", freq="W-MON", stronghold="Nangarhar", country="AFG",
                       spillover=False).stale is None


def test_thin_data_stand_the_rate_rules_aside():
    """Only notable attacks (a few a quarter): CUSUM and exceedance say they stand aside, new ground still works."""
    events = _events()
    sparse = events[(events["admin1_name"] != "Nangarhar") | (events.index % 6 == 0)]
    result = warn_events(sparse, "2021-11-29", freq="W-MON", stronghold="Nangarhar", country="AFG", spillover=False)
    assert any("rate-based rules (exceedance, CUSUM) stand aside" in n for n in result.notes)
    table = result.rule_table
    assert not table[table["rule"].isin(["cusum", "exceedance"])]["fired"].any()
    levels = dict(zip(result.units["name"], result.units["level"].astype(str), strict=True))
    assert all(levels[name] in ("warning", "alert") for name in NEW)


def test_imported_risk_is_off_by_default():
    result = warn_events(_events(), "2021-11-30", freq="MS", stronghold="Nangarhar", country="AFG")
    assert "imported" not in result.rules_evaluated
    assert "new_ground" in result.rules_evaluated


def test_group_alarm_history_is_raised_first_in_october_2021():
    """The history's group alarm (what bench/bench_alarms.py scores) agrees with the as-of view."""
    from forecast.alarms import alarm_history
    from forecast.panel import panel_as_of

    _, panel, _ = panel_as_of(_events(), freq="MS", as_of=pd.Timestamp("2021-11-30"), country="AFG")
    history = alarm_history(panel, ["AF-NAN"])
    raised = list(history.ds[history.group])
    # All four first attacks fall in October 2021 (monthly periods): raised then, and still in
    # November (the window is three months), never before.
    assert raised[0] == pd.Timestamp("2021-10-01")
    assert pd.Timestamp("2021-11-01") in raised


@pytest.mark.slow
def test_a_quiet_run_on_stale_press_data_speaks_up_and_the_index_says_why(tmp_path):
    """The press list as a CSV, judged five weeks after its last event by the real notebook suite."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    events = _events()
    csv = tmp_path / "press.csv"
    pd.DataFrame({
        "date": events["date"].dt.strftime("%Y-%m-%d"), "admin1": events["admin1_name"],
        "actor": "ISKP", "fatalities": events["fatalities_best"],
    }).to_csv(csv, index=False)
    reports = tmp_path / "reports"
    config = Path(__file__).resolve().parents[1] / "config" / "default.yaml"
    forecast = Path(sys.executable).with_name("forecast")
    command = [str(forecast), "run", "--config", str(config), "--reports-dir", str(reports), "--quiet", "--publish",
               "-p", "source=csv", "-p", f"events_path={csv}", "-p", "freq=MS", "-p", "as_of=2021-12-31",
               "-p", "horizon=3"]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip().splitlines()[-1]
    # The last event is 2021-11-16 (every 9 days to 2021-11-20): more than a month before as_of, so the alarms judge up to November.
    assert line.startswith("attention: STALE DATA: the last event is dated 2021-11-16"), line
    assert "Group expansion alarm: 4 provinces newly struck outside Nangarhar in October 2021" in line
    run_id = json.loads((reports / "latest.json").read_text())["run_id"]
    index = (reports / "index.html").read_text(encoding="utf-8")
    assert f"Latest run: {run_id}" in index
    assert '<p class="headline">STALE DATA: the last event is dated 2021-11-16' in index
    assert '<p class="headline">Group expansion alarm: 4 provinces newly struck' in index
