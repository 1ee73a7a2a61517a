"""`forecast predict`: events file in, forecasts out (table, JSON, parquet)."""

from __future__ import annotations

import json

import pytest

from forecast.cli import main
from forecast.models import ForecastFrame


@pytest.fixture(scope="module")
def events_file(tmp_path_factory):
    from forecast.data.synthetic import generate_scenario

    path = tmp_path_factory.mktemp("events") / "events.parquet"
    generate_scenario(seed=3, start="2019-01-07", end="2021-06-27").events.to_parquet(path, index=False)
    return path


def test_predict_json_and_parquet(events_file, tmp_path, capsys):
    out = tmp_path / "forecasts.parquet"
    args = ["predict", "--events", str(events_file), "--source", "canonical", "--freq", "W-MON",
            "--horizon", "3", "--models", "hist_mean,glm_negbin(ar=1, season=0)", "--as-of", "2021-05-31",
            "--n-draws", "200", "--out", str(out), "--no-progress", "--json"]
    assert main(args) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["last_period"] == "2021-05-24"  # the week ending Sunday 2021-05-30 is the last complete one
    assert payload["models"] == ["hist_mean", "glm_negbin"]
    rows = payload["forecasts"]
    assert len(rows) == 34 * 3 * 2
    first = rows[0]
    assert set(first) >= {"unit_id", "ds", "step", "model", "mean", "q05", "q50", "q95", "p_ge_1"}
    assert first["ds"] == "2021-05-31" and first["step"] == 1
    assert all(r["q05"] <= r["q50"] <= r["q95"] and 0 <= r["p_ge_1"] <= 1 and r["mean"] >= 0 for r in rows)
    back = ForecastFrame.read_parquet(out)
    assert back.n_draws == 200 and len(back.index) == len(rows)


def test_predict_prints_every_step_with_province_names(events_file, capsys):
    assert main(["predict", "--events", str(events_file), "--source", "canonical", "--horizon", "3",
                 "--models", "last,hist_mean", "--n-draws", "50", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "34 units, steps 1-3" in out and "Nangarhar" in out and "AF-NAN" not in out
    # One table per model, a column per forecast period (the three weeks after 2021-06-14).
    for model in ("last:", "hist_mean:"):
        assert model in out
    header = next(line for line in out.splitlines() if "2021-06-21" in line)
    assert header.split() == ["name", "2021-06-21", "2021-06-28", "2021-07-05", "total", "p_ge_1_next"]
    rows = [line for line in out.splitlines() if line.strip().startswith("Nangarhar")]
    assert len(rows) == 2


@pytest.mark.parametrize(("freq", "expected"), [
    ("MS", ["hist_mean", "recent_mean", "ingarch", "endemic_flat", "endemic_flat_psi"]),
    ("W-MON", ["hist_mean", "recent_mean", "glm_negbin", "endemic_epidemic", "endemic_recent"]),
])
def test_predict_without_models_uses_the_candidates_of_the_frequency(events_file, capsys, freq, expected):
    """A monthly panel gets the monthly candidates (bench_monthly), a weekly one the weekly ones."""
    assert main(["predict", "--events", str(events_file), "--source", "canonical", "--freq", freq, "--horizon", "2",
                 "--n-draws", "50", "--no-progress", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["models"] == expected
    rows = payload["forecasts"]
    assert {r["model"] for r in rows} == set(expected) and len(rows) == 34 * 2 * len(expected)
    assert all(r["mean"] >= 0 and r["q05"] <= r["q95"] for r in rows)


def test_every_verb_defaults_to_the_shared_defaults():
    """predict, backtest, warn and spread start from forecast.defaults, as the config does."""
    import inspect

    from forecast import cli, defaults

    for verb in (cli.predict, cli.backtest_command):
        parameters = inspect.signature(verb).parameters
        assert parameters["horizon"].default == defaults.HORIZON
        assert parameters["models"].default is None  # per frequency: defaults.default_models
        assert parameters["seed"].default == defaults.SEED
        assert parameters["country"].default == defaults.COUNTRY
    assert inspect.signature(cli.predict).parameters["source"].default == "synthetic"
    for verb in (cli.warn, cli.spread_attribute):
        assert inspect.signature(verb).parameters["stronghold"].default is None  # per country: defaults.STRONGHOLDS


def test_predict_unknown_model_is_a_one_line_error(events_file, capsys):
    status = main(["predict", "--events", str(events_file), "--source", "canonical", "--horizon", "2",
                   "--models", "glm_negbinn", "--no-progress"])
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: unknown model 'glm_negbinn'") and "\n" not in err


def test_predict_on_the_synthetic_scenario_needs_no_file_and_says_synthetic(capsys):
    import json

    from forecast.cli import main

    assert main(["predict", "--source", "synthetic", "--horizon", "2", "--models", "hist_mean",
                 "--as-of", "2021-12-26", "--n-draws", "100", "--no-progress", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["synthetic"] is True and payload["last_period"] == "2021-12-20"
    assert len(payload["forecasts"]) == 34 * 2
    assert main(["predict", "--source", "synthetic", "--horizon", "1", "--models", "hist_mean",
                 "--n-draws", "50", "--no-progress"]) == 0
    assert capsys.readouterr().out.startswith("SYNTHETIC DATA")
    assert main(["predict", "--source", "ucdp", "--horizon", "1", "--models", "hist_mean"]) == 2
    assert "needs an events file" in capsys.readouterr().err


def test_predict_and_backtest_take_columns_and_aliases_like_ingest(tmp_path, capsys):
    """Own data straight into predict/backtest: --columns maps the file, --aliases its spellings."""
    rows = ["When,Where,Killed"] + [f"2021-{m:02d}-{d:02d},Nangahar,1" for m in range(1, 11) for d in (4, 18)]
    rows += ["2021-10-25,Kabul,2"]
    path = tmp_path / "own.csv"
    path.write_text("\n".join(rows) + "\n")
    base = ["--source", "csv", "--events", str(path), "--country", "AFG", "--horizon", "2", "--models", "hist_mean",
            "--n-draws", "50", "--no-progress", "--columns", "date=When,admin1=Where,fatalities=Killed"]
    assert main(["predict", *base]) == 2
    err = capsys.readouterr().err
    assert "Nangahar" in err and "--aliases" in err and len(err.strip().splitlines()) == 1
    assert main(["predict", *base, "--aliases", "Nangahar=Nangarhar"]) == 0
    out = capsys.readouterr().out
    nangarhar = next(line for line in out.splitlines() if line.strip().startswith("Nangarhar"))
    assert float(nangarhar.split()[1]) > 0.1  # 20 events over 43 weeks
    assert main(["backtest", *base, "--aliases", "Nangahar=Nangarhar", "--every", "8"]) == 0


def test_predict_with_the_default_candidates_leaves_out_a_model_that_cannot_fit_and_names_it(tmp_path, capsys):
    """Twelve attacks in ten months: the endemic-epidemic candidates cannot fit; predict says so and goes on."""
    rows = ["When,Where,Killed"] + [f"2021-{m:02d}-10,Nangarhar,2" for m in range(1, 8)]
    rows += ["2021-08-26,Kabul,170", "2021-10-08,Kunduz,72", "2021-10-15,Kandahar,47", "2021-10-22,Parwan,1",
             "2021-11-02,Kabul,25"]
    path = tmp_path / "few.csv"
    path.write_text("\n".join(rows) + "\n")
    status = main(["predict", "--source", "csv", "--events", str(path), "--country", "AFG", "--freq", "MS",
                   "--horizon", "2", "--n-draws", "50", "--no-progress",
                   "--columns", "date=When,admin1=Where,fatalities=Killed"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "hist_mean:" in captured.out and "Traceback" not in captured.err
    warnings = [line for line in captured.err.splitlines() if line.startswith("warning:")]
    assert all("left out, its fit failed" in line for line in warnings)
    assert not any("RuntimeWarning" in line for line in captured.err.splitlines())
