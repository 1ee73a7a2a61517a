"""New ground on the press account of ISIS-K leaving Nangarhar (November 2021)."""

import numpy as np
import pandas as pd
import pytest

from forecast.alarms import WarningConfig, warn_events
from forecast.geo.gazetteer import Gazetteer
from forecast.schema import EVENTS, validate

NEW = {"Kunar": ("2021-10-03", 2.0), "Kunduz": ("2021-10-08", 50.0),
       "Kandahar": ("2021-10-15", 60.0), "Parwan": ("2021-10-22", 1.0)}


def _events() -> pd.DataFrame:
    rows = []
    # Stronghold series: an attack in Nangarhar every 9 days through 2020-2021.
    for k, day in enumerate(pd.date_range("2020-01-02", "2021-11-20", freq="9D")):
        rows.append(("Nangarhar", day, 3.0, k))
    for name, (day, dead) in NEW.items():
        rows.append((name, pd.Timestamp(day), dead, len(rows)))
    gaz = Gazetteer.load("AFG")
    dead = [r[2] for r in rows]
    return validate(pd.DataFrame({
        "event_id": [f"e{i}" for i in range(len(rows))], "source": "csv",
        "date": [r[1] for r in rows], "date_precision": "day", "country_iso3": "AFG",
        "admin1_code": [gaz.resolve(r[0]) for r in rows], "admin1_name": [r[0] for r in rows],
        "admin2_name": None, "latitude": np.nan, "longitude": np.nan, "actor": "ISIS-K", "actor_raw": "IS-KP",
        "event_type": "attack", "fatalities_low": dead, "fatalities_best": dead, "fatalities_high": dead,
    }), EVENTS)


@pytest.mark.parametrize(("freq", "as_of"), [("MS", "2021-11-30"), ("W-MON", "2021-11-29")])
def test_press_account(freq, as_of):
    result = warn_events(_events(), as_of, freq=freq, stronghold="Nangarhar", country="AFG",
                         config=WarningConfig.for_freq(freq, new_ground=True), spillover=False)
    levels = dict(zip(result.units["name"], result.units["level"].astype(str), strict=True))
    for name in NEW:
        assert levels[name] in ("warning", "alert"), (name, levels[name])
    assert levels["Kunduz"] == "alert" and levels["Kandahar"] == "alert"
    assert levels["Parwan"] == "warning" and levels["Kunar"] == "warning"
    others = [n for n, lv in levels.items() if n not in NEW and lv != "none"]
    assert len(others) <= 3, others
    reason = result.units.set_index("name").loc["Kunduz", "reason"]
    assert "new ground: first attack in Kunduz since on record" in reason


def test_new_ground_is_off_by_default():
    result = warn_events(_events(), "2021-11-30", freq="MS", stronghold="Nangarhar", country="AFG", spillover=False)
    assert "new_ground" not in result.rules_evaluated
