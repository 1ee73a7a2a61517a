"""`forecast spread fit`: the hhh4 reference fit from the command line, JSON contract, errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from forecast.cli import main


def test_spread_fit_json_matches_r_reference(shared_data, capsys):
    folder = shared_data / "surveillance"
    code = main(
        [
            "spread", "fit",
            "--counts", str(folder / "measlesWeserEms_counts.csv"),
            "--neighbourhood", str(folder / "measlesWeserEms_neighbourhood.csv"),
            "--population", str(folder / "measlesWeserEms_population.csv"),
            "--trend", "--season", "52:1", "--weights", "adjacency", "--family", "negbin1", "--json",
        ]
    )
    assert code == 0
    record = json.loads(capsys.readouterr().out)
    assert set(record) == {"loglik", "params", "std_errors", "seconds", "converged"}
    assert record["converged"] is True
    reference = pd.read_csv(folder / "reference_measles_hhh4_coef.csv")
    names = {"end.sin(2 * pi * t/52)": "end.sin1", "end.cos(2 * pi * t/52)": "end.cos1"}
    for row in reference.itertuples():
        assert record["params"][names.get(row.term, row.term)] == pytest.approx(row.estimate, abs=1e-3)
    summary = pd.read_csv(folder / "reference_measles_hhh4_summary.csv", header=None, index_col=0)[1]
    assert record["loglik"] == pytest.approx(summary["loglik"], abs=1e-3)


def test_spread_fit_bad_options_exit_2(shared_data, capsys, tmp_path):
    folder = shared_data / "surveillance"
    args = ["spread", "fit", "--counts", str(folder / "measlesWeserEms_counts.csv"),
            "--neighbourhood", str(folder / "measlesWeserEms_neighbourhood.csv")]
    assert main([*args, "--weights", "power"]) == 2
    assert "powerlaw:MAXLAG" in capsys.readouterr().err
    assert main([*args, "--season", "weekly"]) == 2
    assert "PERIOD:HARMONICS" in capsys.readouterr().err
    missing = tmp_path / "nope.csv"
    assert main(["spread", "fit", "--counts", str(missing), "--neighbourhood", str(missing)]) == 2
    err = capsys.readouterr().err.strip()
    assert "nope.csv" in err and len(err.splitlines()) == 1
