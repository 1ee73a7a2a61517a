"""Render the figure gallery (docs/figures/*.png) from a small deterministic example.

Everything comes from the embedded synthetic scenario (:mod:`forecast.data.synthetic`)
and two toy forecasters written here with numpy (a Poisson and a negative
binomial on recent means), backtested over the last weeks of the scenario, so
the figures show the real functions on plausible numbers. Maps use the
schematic layout unless ``--boundaries PATH`` is given, so the gallery renders
offline and no boundary file is needed.

Usage::

    .venv/bin/python docs/make_figures.py [--out docs/figures] [--boundaries PATH]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.data.synthetic import generate_scenario
from forecast.geo.boundaries import load_boundaries, schematic_boundaries
from forecast.geo.gazetteer import Gazetteer
from forecast.models.frame import ForecastFrame
from forecast.viz import maps, plots

DPI = 90
SEED = 20211
N_DRAWS = 500
HORIZON = 4
ORIGINS = 26  # weekly forecast origins in the toy backtest
LEVELS = (0.5, 0.8, 0.9, 0.95)
LABELS = {
    "source": "forecast.data.synthetic (seed 20211)",
    "actor": "synthetic group",
    "synthetic": True,
}


def toy_forecast(
    panel: pd.DataFrame, origin: pd.Timestamp, model: str, rng: np.random.Generator
) -> ForecastFrame:
    """Forecast ``HORIZON`` weeks after ``origin`` from recent means (no model fitting)."""
    window = 4 if model == "poisson_4wk" else 12
    recent = panel.loc[
        (panel["ds"] <= origin) & (panel["ds"] > origin - pd.Timedelta(weeks=window))
    ]
    mean = recent.groupby("unit_id")["y"].mean().clip(lower=0.02)
    units = mean.index.to_numpy()
    future = pd.date_range(origin, periods=HORIZON + 1, freq="W-MON")[1:]
    mu = np.repeat(mean.to_numpy(), HORIZON)
    if model == "poisson_4wk":
        draws = rng.poisson(mu[:, None], size=(len(mu), N_DRAWS))
    else:  # negative binomial with size 1.5: wider, as attack counts are
        size = 1.5
        draws = rng.negative_binomial(size, size / (size + mu[:, None]), size=(len(mu), N_DRAWS))
    return ForecastFrame.from_draws(
        np.repeat(units, HORIZON),
        np.tile(future, len(units)),
        np.tile(np.arange(1, HORIZON + 1), len(units)),
        draws,
        model=model,
    )


def score(
    forecast: ForecastFrame, panel: pd.DataFrame, origin: pd.Timestamp, rng: np.random.Generator
) -> pd.DataFrame:
    """CRPS, randomised PIT and interval hits of each forecast against the outcome."""
    truth = panel.set_index(["unit_id", "ds"])["y"]
    y = truth.reindex(pd.MultiIndex.from_frame(forecast.index[["unit_id", "ds"]])).to_numpy(
        dtype=float
    )
    draws = np.sort(forecast.draws, axis=1).astype(float)
    n = draws.shape[1]
    # CRPS = E|X - y| - E|X - X'| / 2, the second term from the sorted draws in O(n).
    weights = 2 * np.arange(1, n + 1) - n - 1
    crps = np.abs(draws - y[:, None]).mean(axis=1) - (draws * weights).sum(axis=1) / n**2
    below = (draws < y[:, None]).mean(axis=1)
    at_most = (draws <= y[:, None]).mean(axis=1)
    pit = below + rng.uniform(size=len(y)) * (at_most - below)
    frame = forecast.index.assign(cutoff=origin, y=y, crps=crps, pit=pit)
    for level in LEVELS:
        low, high = np.quantile(
            draws, [(1 - level) / 2, (1 + level) / 2], axis=1, method="inverted_cdf"
        )
        frame[f"hit_{level}"] = (y >= low) & (y <= high)
    return frame


def main(out: Path, boundaries_path: Path | None) -> list[Path]:
    rng = np.random.default_rng(SEED)
    scenario = generate_scenario(seed=SEED)
    gaz = Gazetteer.load("AFG")
    names = dict(zip(gaz.units["unit_id"], gaz.units["name"], strict=True))
    panel = scenario.counts.loc[:, ["unit_id", "ds", "y"]]
    weeks = np.sort(panel["ds"].unique())
    if boundaries_path is not None:
        shapes, _ = load_boundaries("AFG", path=boundaries_path, gazetteer=gaz)
    else:
        shapes = schematic_boundaries(gaz)

    origins = pd.DatetimeIndex(weeks[-(ORIGINS + HORIZON) : -HORIZON])
    scored = pd.concat(
        [
            score(toy_forecast(panel, origin, model, rng), panel, origin, rng)
            for origin in origins
            for model in ("poisson_4wk", "negbin_12wk")
        ],
        ignore_index=True,
    )
    coverage = pd.concat(
        [
            scored[["model"]].assign(level=level, coverage=scored[f"hit_{level}"].astype(float))
            for level in LEVELS
        ],
        ignore_index=True,
    )
    latest_origin = pd.Timestamp(weeks[-HORIZON - 1])
    latest = toy_forecast(panel, latest_origin, "negbin_12wk", rng)

    # Spread indicators from the weekly counts, and a toy alert rule on them.
    wide = panel.pivot(index="ds", columns="unit_id", values="y")
    outside = wide.drop(columns=scenario.stronghold)
    indicators = pd.DataFrame(
        {
            "ds": wide.index,
            "provinces_with_attacks": (wide > 0).sum(axis=1).to_numpy(),
            "share_outside_stronghold": (
                outside.sum(axis=1) / wide.sum(axis=1).where(wide.sum(axis=1) > 0)
            )
            .rolling(4, min_periods=1)
            .mean()
            .to_numpy(),
        }
    )
    indicators = indicators.loc[indicators["ds"] >= "2020-07-01"]
    share = indicators["share_outside_stronghold"]
    level = np.select(
        [share >= 0.65, share >= 0.55, share >= 0.45], ["alert", "warning", "watch"], "none"
    )
    alert_periods = pd.DataFrame({"ds": indicators["ds"], "level": level})

    # Alert level per province: the last 4 weeks against the year before.
    recent = wide.iloc[-4:].sum()
    before = wide.iloc[-56:-4].mean() * 4
    ratio = (recent + 0.5) / (before + 0.5)
    unit_levels = pd.DataFrame(
        {
            "unit_id": ratio.index,
            "level": np.select(
                [ratio >= 6, ratio >= 3, ratio >= 1.5], ["alert", "warning", "watch"], "none"
            ),
        }
    )
    # The stronghold gets no level, as in forecast.alarms.
    unit_levels = unit_levels.loc[~unit_levels["unit_id"].isin(scenario.stronghold)]
    # Imported shares: the scenario's spread targets, later onsets importing less (illustration only).
    shares = pd.DataFrame({"unit_id": gaz.unit_ids, "share": 0.0})
    targets = scenario.truth.sort_values("onset")["unit_id"].tolist()
    for rank, unit in enumerate(targets):
        shares.loc[shares["unit_id"] == unit, "share"] = 0.65 - 0.12 * rank
    shares.loc[shares["unit_id"].isin(scenario.stronghold), "share"] = np.nan
    shares["share_lo"] = (shares["share"] * 0.6).round(2)
    shares["share_hi"] = (shares["share"] * 1.3).clip(upper=1).round(2)

    last_year = scenario.events.loc[scenario.events["date"] >= "2021-01-01"]
    backtest_note = f"Toy backtest: {ORIGINS} weekly forecast origins x 34 provinces."
    figures = {
        "events_over_time": plots.events_over_time(panel, top=5, names=names, **LABELS),
        "fan_chart": plots.fan_chart(
            panel, latest, "AF-KNR", names=names, history_periods=40, **LABELS
        ),
        "fan_small_multiples": plots.fan_small_multiples(
            panel,
            latest,
            ["AF-NAN", "AF-KNR", "AF-KAB", "AF-KDZ", "AF-KAN", "AF-PAR"],
            ncols=3,
            names=names,
            **LABELS,
        ),
        "score_by_horizon": plots.score_by_horizon(scored, "crps", caption=backtest_note, **LABELS),
        "pit_histogram": plots.pit_histogram(
            scored[["model", "pit"]], caption=backtest_note, **LABELS
        ),
        "coverage": plots.coverage_plot(coverage, caption=backtest_note, **LABELS),
        "spread_indicators": plots.spread_indicator_chart(
            indicators,
            alert_periods,
            thresholds={"share_outside_stronghold": 0.55},
            caption="Toy alert rule on the 4-week share outside the stronghold.",
            **LABELS,
        ),
        "map_events_per_100k": maps.events_per_100k_map(
            last_year, gaz, shapes, events=last_year, label_units=True, **LABELS
        ),
        "map_alert_levels": maps.alert_level_map(
            unit_levels,
            shapes,
            stronghold=scenario.stronghold,
            gazetteer=gaz,
            period=f"4 weeks to {pd.Timestamp(weeks[-1]):%Y-%m-%d}",
            caption="Toy rule: events in the last 4 weeks against the year before.",
            **LABELS,
        ),
        "map_exceedance": maps.exceedance_map(latest, shapes, gazetteer=gaz, **LABELS),
        "map_imported_share": maps.imported_share_map(
            shares,
            scenario.stronghold,
            shapes,
            gazetteer=gaz,
            caption="Shares are illustrative numbers, not an attribution.",
            **LABELS,
        ),
    }
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, fig in figures.items():
        path = out / f"{name}.png"
        fig.savefig(path, dpi=DPI)
        written.append(path)
    return written


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "figures")
    parser.add_argument("--boundaries", type=Path, default=None, help="boundary file for the maps")
    arguments = parser.parse_args()
    for path in main(arguments.out, arguments.boundaries):
        print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")
