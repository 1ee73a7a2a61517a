"""The `forecast warn` command: a stable JSON contract other tools read."""

from __future__ import annotations

import json

import jsonschema
import pandas as pd
import pytest

from forecast.alarms import warn_schema
from forecast.cli import main
from forecast.data.synthetic import generate_scenario
from forecast.geo.gazetteer import Gazetteer

AS_OF = "2021-10-06"


@pytest.fixture(scope="module")
def scenario():
    return generate_scenario(
        seed=5, start="2019-06-03", end="2021-12-27", spread={"Kunduz": "2021-08-02", "Kandahar": "2021-09-06"}
    )


@pytest.fixture(scope="module")
def events_file(scenario, tmp_path_factory):
    path = tmp_path_factory.mktemp("warn") / "events.parquet"
    scenario.events.to_parquet(path)
    return path


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["warn", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def document(events_file):
    """The JSON of one run (module-scoped: the spread model fit takes a second or two)."""
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["warn", "--events", str(events_file), "--source", "canonical", "--as-of", AS_OF, "--json"])
    assert code == 0
    return json.loads(out.getvalue())


def test_json_validates_and_lists_every_unit_outside_the_stronghold(document):
    jsonschema.validate(document, warn_schema())
    assert document["as_of"] == AS_OF and document["freq"] == "W-MON"
    assert [s["unit_id"] for s in document["stronghold"]] == ["AF-NAN"]
    listed = {u["unit_id"] for u in document["units"]}
    assert listed == set(Gazetteer.load("AFG").unit_ids) - {"AF-NAN"}


def test_spreading_provinces_come_first(document):
    flagged = [u["name"] for u in document["units"] if u["level"] in ("warning", "alert")]
    assert {"Kunduz", "Kandahar"} <= set(flagged)
    levels = [u["level"] for u in document["units"]]
    order = ["alert", "warning", "watch", "none"]
    assert levels == sorted(levels, key=order.index)
    kunduz = next(u for u in document["units"] if u["name"] == "Kunduz")
    assert kunduz["reason"] and all(rule["detail"] for rule in kunduz["rules"])


def test_events_after_as_of_are_ignored(scenario, events_file, tmp_path, capsys, document):
    later = scenario.events.copy()
    extra = later.iloc[:50].copy()
    extra["event_id"] = [f"extra:{i}" for i in range(50)]
    extra["date"] = pd.Timestamp("2021-11-20")
    extra["admin1_code"], extra["admin1_name"] = "AF-BDS", "Badakhshan"
    path = tmp_path / "more.parquet"
    pd.concat([later, extra], ignore_index=True).to_parquet(path)
    code, out, _ = run(capsys, "--events", str(path), "--source", "canonical", "--as-of", AS_OF, "--json")
    assert code == 0
    again = json.loads(out)
    for key in ("units", "indicators", "stronghold"):
        assert again[key] == document[key]


def test_readable_table(events_file, capsys):
    code, out, _ = run(capsys, "--events", str(events_file), "--source", "canonical", "--as-of", AS_OF,
                       "--stronghold", "Nangarhar")
    assert code == 0
    assert out.startswith(f"Early warning as of {AS_OF}")
    assert "Stronghold (given): Nangarhar" in out and "Kunduz" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--as-of", "2019-01-01"], "as_of 2019-01-01 is before the data start 2019-06-0"),
        (["--as-of", AS_OF, "--stronghold", "Nangahar"], "did you mean Nangarhar"),
        (["--as-of", AS_OF, "--freq", "D"], "frequency 'D' is not supported"),
        (["--as-of", "soon"], "not a date"),
        (["--as-of", "2030-01-01"], "more than a year after the last event"),
    ],
)
def test_errors_are_one_line_with_exit_status_2(events_file, capsys, args, message):
    code, _, err = run(capsys, "--events", str(events_file), "--source", "canonical", *args)
    assert code == 2
    assert message in err and err.count("\n") == 1


def test_events_in_a_single_province_give_a_documented_answer(scenario, tmp_path, capsys):
    # Every event in Nangarhar: it is the stronghold with 100 % and every other province is quiet.
    only = scenario.events[scenario.events["admin1_code"] == "AF-NAN"]
    path = tmp_path / "one.parquet"
    only.to_parquet(path)
    code, out, _ = run(capsys, "--events", str(path), "--source", "canonical", "--as-of", AS_OF, "--json")
    assert code == 0
    doc = json.loads(out)
    jsonschema.validate(doc, warn_schema())
    assert doc["stronghold"][0]["share"] == 1.0
    assert {u["level"] for u in doc["units"]} == {"none"}


def test_warn_runs_on_the_embedded_scenario_without_a_file(capsys):
    """Like every verb, warn works on the synthetic scenario: no --events, --source defaults to it."""
    code, out, err = run(capsys, "--as-of", "2021-12-26", "--stronghold", "Nangarhar", "--json")
    assert code == 0, err
    document = json.loads(out)
    jsonschema.validate(document, warn_schema())
    flagged = {u["name"] for u in document["units"] if u["level"] in ("warning", "alert")}
    assert {"Kunduz", "Kandahar", "Parwan"} <= flagged
    assert document["group"] is not None and document["stale"] is None
    code, _, err = run(capsys, "--source", "synthetic", "--events", "x.csv", "--as-of", "2021-12-26")
    assert code == 2 and "not read with --source synthetic" in err


def test_warn_assumes_the_configs_stronghold_for_afghanistan_and_auto_elsewhere(capsys):
    """Without --stronghold, warn judges against Nangarhar, as config/default.yaml does
    (not 'auto', which after a spread would absorb the provinces spread to)."""
    from forecast.defaults import default_stronghold

    code, out, err = run(capsys, "--json")
    assert code == 0, err
    assert [s["name"] for s in json.loads(out)["stronghold"]] == ["Nangarhar"]
    assert default_stronghold("afg") == "Nangarhar" and default_stronghold("PAK") == "auto"


def test_less_than_a_year_of_data_says_new_ground_cannot_be_judged_yet(tmp_path, capsys):
    """Not 'no province newly struck': with under a year of data no first attack can be known to be new."""
    rows = ["When,Where,Killed"] + [f"2021-{m:02d}-10,Nangarhar,2" for m in range(1, 10)] + ["2021-10-08,Kunduz,72"]
    path = tmp_path / "short.csv"
    path.write_text("\n".join(rows) + "\n")
    code, out, err = run(capsys, "--source", "csv", "--events", str(path), "--country", "AFG",
                         "--columns", "date=When,admin1=Where,fatalities=Killed")
    assert code == 0, err
    assert "new ground cannot be judged yet: the data start 2021-01-04" in out
    assert "no province newly struck" not in out
    assert "only after a year of data (from 2022-01-04)" in out
