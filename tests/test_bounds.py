"""Memory and time bounds on what users give (issue 19 item 5).

Horizons and draws are bounded in :mod:`forecast.checks` (the CLI and the
runner refuse them up front), parameter files cannot expand YAML aliases
without end, and an actor regex that backtracks exponentially is stopped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecast import checks
from forecast.cli import main
from forecast.data import ingest, read_events
from forecast.errors import ParameterError
from forecast.models import forecast_panel
from forecast.runner.params import MAX_YAML_ALIASES, load_config

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "tests" / "data" / "notebooks"


def _panel(units: int = 2, periods: int = 30) -> pd.DataFrame:
    ds = pd.date_range("2020-01-06", periods=periods, freq="W-MON")
    return pd.DataFrame({"unit_id": np.repeat([f"U{i}" for i in range(units)], periods),
                         "ds": np.tile(ds, units), "y": np.arange(units * periods) % 3})


def test_horizon_and_draws_are_bounded_in_the_one_check():
    assert checks.steps_ahead(checks.MAX_HORIZON) == 520
    with pytest.raises(ParameterError, match="horizon must be a whole number from 1 to 520"):
        checks.steps_ahead(1_000_000)
    with pytest.raises(ParameterError, match="n_draws must be a whole number from 1 to 100,000"):
        checks.draw_count(10**8)
    with pytest.raises(ParameterError, match="need 166.4 GB"):
        checks.draw_budget(400, 520, 100_000)


def test_forecast_panel_refuses_before_fitting():
    with pytest.raises(ParameterError, match="from 1 to 520"):
        forecast_panel(_panel(), "last", 1_000_000, progress=False)
    with pytest.raises(ParameterError, match=r"3 units x 520 steps x 100000 draws x 1 models"):
        forecast_panel(_panel(units=3), "last", 520, n_draws=100_000, progress=False)
    with pytest.raises(ParameterError, match="seed must be a whole number >= 0"):
        forecast_panel(_panel(), "last", 2, seed=-1, progress=False)


@pytest.mark.parametrize("argv, message", [
    (["predict", "--source", "synthetic", "--horizon", "1000000", "--models", "last"], "--horizon must be"),
    (["predict", "--source", "synthetic", "--horizon", "2", "--models", "last", "--n-draws", "1000000000"],
     "--n-draws must be"),
    (["predict", "--source", "synthetic", "--horizon", "2", "--models", "last", "--seed", "-1"], "--seed must be"),
    (["backtest", "--source", "synthetic", "--horizon", "100000"], "--horizon must be"),
    (["run", "--notebooks-dir", str(NOTEBOOKS), "-p", "horizon=1000000"], "parameter 'horizon' must be"),
])
def test_the_command_line_refuses_huge_requests_up_front(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    if argv[0] == "run":
        argv = [*argv, "--config", str(ROOT / "config" / "default.yaml"), "--reports-dir", str(tmp_path / "reports")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {message}") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "reports").exists()


def _laughs(levels: int) -> str:
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [" + ",".join([f"*l{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_a_billion_laughs_config_is_refused(tmp_path):
    config = tmp_path / "laughs.yaml"
    config.write_text(_laughs(9))  # 9^9 = 387 million strings once expanded
    assert len(config.read_bytes()) < 1000
    with pytest.raises(ParameterError, match="more than 100,000 values once its aliases are expanded"):
        load_config(config)
    many = tmp_path / "many.yaml"
    many.write_text("a: &a 1\nb: [" + ",".join(["*a"] * (MAX_YAML_ALIASES + 1)) + "]\n")
    with pytest.raises(ParameterError, match=f"more than {MAX_YAML_ALIASES} YAML aliases"):
        load_config(many)
    flow = "{" + ", ".join(line.replace(": ", ": ", 1) for line in _laughs(7).splitlines()) + "}"
    with pytest.raises(ParameterError, match="-p x: holds more than 100,000 values"):
        load_config(None, ["x=" + flow])


def test_a_few_aliases_still_work(tmp_path):
    config = tmp_path / "ok.yaml"
    config.write_text("models: &m [last, hist_mean]\nother: *m\n")
    assert load_config(config).values["other"] == ["last", "hist_mean"]


def test_a_utf16_config_is_told_its_encoding(tmp_path):
    config = tmp_path / "u16.yaml"
    config.write_bytes("horizon: 4\n".encode("utf-16"))
    with pytest.raises(ParameterError, match="the parameter file is UTF-16 .*save it as UTF-8"):
        load_config(config)


def test_an_exponential_actor_regex_is_stopped(tmp_path, monkeypatch):
    monkeypatch.setattr(ingest, "ACTOR_REGEX_SECONDS", 0.2)
    rows = [f"2021-10-{1 + i % 28:02d},Kabul,{'a' * (30 + i % 7)}{i}b,1" for i in range(400)]
    path = tmp_path / "events.csv"
    path.write_text("date,admin1,actor,fatalities\n" + "\n".join(rows) + "\n")
    with pytest.raises(ParameterError, match=r"--actor '\^\(a\|a\)\*\$' took more than 0.2 s on 400 names"):
        read_events("csv", path, country="AFG", actor="^(a|a)*$")
    kept = read_events("csv", path, country="AFG", actor="^a+1b$")  # a sane pattern on the same rows
    assert len(kept.events) == 1
