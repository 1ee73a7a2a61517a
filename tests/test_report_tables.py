"""The report's tables as a reader sees them: plain headers, fallbacks told once."""

from __future__ import annotations

import pandas as pd

from forecast.report.tables import forecast_table, readable_forecast_table


def _table(fallback: list[object]) -> pd.DataFrame:
    n = len(fallback)
    return pd.DataFrame({
        "unit_id": [f"AF-{i}" for i in range(n)], "name": [f"P{i}" for i in range(n)],
        "mean_next": [2.5] + [0.1] * (n - 1), "q05_next": [0.0] * n, "q95_next": [7.0] + [1.0] * (n - 1),
        "p_ge_1_next": [0.8] * n, "mean_total": [20.0] * n, "p_ge_1_last": [0.7] * n, "fallback": fallback,
    })


def test_headers_say_the_period_and_the_horizon():
    shown, note = readable_forecast_table(_table([None, None]), "MS", 3)
    assert list(shown.columns) == [
        "province", "expected next month", "90 % range next month", "P(at least one) next month",
        "expected over 3 months", "P(at least one) in month 3",
    ]
    assert shown["90 % range next month"].tolist() == ["0-7", "0-1"]
    assert note is None  # nothing fell back: no column, no sentence


def test_fallbacks_are_short_in_the_table_and_counted_once_below_it():
    # The reasons as the ensemble and the per-unit loop write them; one has '; ' inside its brackets.
    reason = ("glm_negbin (weight 0.07): standard error of the fitted log mean up to 1.57 (max_log_se=1; too few "
              "events for the terms): used hist_mean(window=52)")
    fallback = [None, reason, "glm_negbin (weight 0.07): only 6 non-zero period(s): used hist_mean(window=52)",
                "glm_negbin (weight 0.07): no over-dispersion: fitted as Poisson; endemic_epidemic (weight 0.50): "
                "did not converge: used glm_poisson"]
    shown, note = readable_forecast_table(_table(fallback), "W-MON", 8)

    assert shown["fell back"].tolist() == [
        "", "glm_negbin: used hist_mean(window=52)", "glm_negbin: used hist_mean(window=52)",
        "glm_negbin: fitted as Poisson; endemic_epidemic: used glm_poisson",
    ]
    assert "glm_negbin (weight 0.07) used hist_mean(window=52) in 2 of 4 provinces" in note
    assert "glm_negbin (weight 0.07) fitted as Poisson in 1 of 4 provinces" in note
    assert "endemic_epidemic (weight 0.50) used glm_poisson in 1 of 4 provinces" in note


def test_a_real_mixture_fallback_reads_as_the_member_and_its_replacement():
    from forecast.data.dataset import load_dataset
    from forecast.geo.gazetteer import Gazetteer
    from forecast.models import forecast_panel

    data = load_dataset("synthetic", freq="MS", as_of="2021-12-31")
    forecasts = forecast_panel(data.panel, ["hist_mean", "glm_negbin", "ensemble"], 2, n_draws=100, seed=1,
                               progress=False)
    table = forecast_table(forecasts, "ensemble", Gazetteer.load("AFG"))
    shown, note = readable_forecast_table(table, "MS", 2)

    fell_back = shown["fell back"][shown["fell back"] != ""]
    assert len(fell_back) > 0 and fell_back.str.startswith("glm_negbin: ").all()
    counts = [int(part.split(" in ")[1].split(" of ")[0]) for part in note.rstrip(".").split(": ", 1)[1].split("; ")]
    assert sum(counts) == len(fell_back)  # every fallback counted once in the sentence
