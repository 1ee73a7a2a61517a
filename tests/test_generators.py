"""Scenario generators for calibration: seeded, recovering their parameters, thinning as told, real spellings."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from forecast.data import read_events
from forecast.data.generators import (
    FAR_KM,
    GENERATORS,
    HawkesConfig,
    WorldDesign,
    draw_design,
    generate_world,
    heavy_tailed_fatalities,
    level_break,
    simulate_hawkes,
    thin_world,
    thinning_probabilities,
)
from forecast.errors import ParameterError
from forecast.geo.gazetteer import Gazetteer


@pytest.fixture(scope="module")
def gaz():
    return Gazetteer.load("AFG")


@pytest.mark.parametrize("generator", ["hawkes", "endemic_thinned"])
def test_same_seed_same_world_other_seed_other_world(generator, gaz):
    a = generate_world(generator, 5, gazetteer=gaz)
    b = generate_world(generator, 5, gazetteer=gaz)
    pd.testing.assert_frame_equal(a.events, b.events)
    pd.testing.assert_frame_equal(a.truth, b.truth)
    c = generate_world(generator, 6, gazetteer=gaz)
    assert len(c.events) != len(a.events) or not c.events["date"].equals(a.events["date"])


def test_every_generator_gives_truth_and_a_matching_panel(gaz):
    for generator in GENERATORS:
        world = generate_world(generator, 2, gazetteer=gaz)
        assert world.generator == generator
        assert len(world.truth) == (0 if generator.startswith("null_") else 3)
        assert not set(world.truth["unit_id"]) & set(world.stronghold)
        assert (world.truth["onset"].dt.day_of_week == 0).all()
        panel = world.panel("MS", gaz)
        # Every event is counted once, in the province its spelling names.
        assert panel["y"].sum() == len(world.events)
        assert panel["unit_id"].nunique() == 34


def test_place_names_are_real_variants_that_the_readers_match(gaz, tmp_path):
    world = generate_world("hawkes", 1, gazetteer=gaz)
    names = world.events.groupby("admin1_code")["admin1_name"].unique()
    # Spellings other than the gazetteer's English name are in the file (e.g. Helmand for Hilmand).
    assert sum(len(v) > 1 for v in names) >= 20
    assert (world.events["admin1_name"] != world.events["admin1_code"].map(gaz.name_of)).mean() > 0.3
    path = tmp_path / "world.csv"
    world.events.rename(columns={"admin1_name": "admin1", "fatalities_best": "fatalities"})[
        ["event_id", "date", "admin1", "fatalities"]
    ].assign(country="Afghanistan").to_csv(path, index=False)
    read = read_events("csv", path).events.sort_values("event_id").reset_index(drop=True)
    expected = world.events.sort_values("event_id").reset_index(drop=True)
    assert len(read) == len(expected)
    assert (read["admin1_code"].to_numpy() == expected["admin1_code"].to_numpy()).all()


def test_targets_are_chosen_by_distance_including_far_ones(gaz):
    rng = np.random.default_rng(0)
    order = gaz.adjacency_order()
    units = gaz.unit_ids
    seen = {"neighbour": 0, "near": 0, "far": 0}
    strongholds = set()
    lat, lon = gaz.units["latitude"].to_numpy(), gaz.units["longitude"].to_numpy()
    from forecast.spread.context import haversine_km

    for _ in range(60):
        stronghold, onsets, classes = draw_design(WorldDesign(), rng, gaz)
        s = units.index(stronghold[0])
        strongholds.add(stronghold[0])
        for unit, kind in classes.items():
            j = units.index(unit)
            if kind == "neighbour":
                assert order[s, j] == 1
            elif kind == "near":
                assert order[s, j] in (2, 3)
            elif kind == "far":
                assert haversine_km(lat[s], lon[s], lat[j], lon[j]) > FAR_KM
            seen[kind] = seen.get(kind, 0) + 1
    assert min(seen["neighbour"], seen["near"], seen["far"]) >= 30
    assert len(strongholds) >= 6


def _hawkes_mle(times: np.ndarray, horizon: float) -> tuple[np.ndarray, np.ndarray]:
    """Maximum likelihood (mu, n, beta) of a temporal Hawkes process with exponential kernel, with std. errors."""

    def nll(theta):
        mu, n, beta = np.exp(theta[0]), 1 / (1 + np.exp(-theta[1])), np.exp(theta[2])
        dt = np.diff(times)
        a = np.zeros(len(times))
        decay = np.exp(-beta * dt)
        for i in range(1, len(times)):
            a[i] = decay[i - 1] * (1 + a[i - 1])
        intensity = mu + n * beta * a
        compensator = mu * horizon + n * np.sum(1 - np.exp(-beta * (horizon - times)))
        return -(np.sum(np.log(intensity)) - compensator)

    fit = optimize.minimize(nll, x0=[np.log(len(times) / horizon / 2), 0.0, np.log(0.2)], method="Nelder-Mead",
                            options={"xatol": 1e-7, "fatol": 1e-7, "maxiter": 4000})
    theta = fit.x
    # Observed information by central differences, then the delta method to (mu, n, beta).
    h = 1e-3
    k = len(theta)
    hess = np.zeros((k, k))
    for i in range(k):
        for j in range(k):
            e_i, e_j = np.eye(k)[i] * h, np.eye(k)[j] * h
            hess[i, j] = (nll(theta + e_i + e_j) - nll(theta + e_i - e_j) - nll(theta - e_i + e_j)
                          + nll(theta - e_i - e_j)) / (4 * h * h)
    cov = np.linalg.inv(hess)
    mu, n, beta = np.exp(theta[0]), 1 / (1 + np.exp(-theta[1])), np.exp(theta[2])
    jac = np.array([mu, n * (1 - n), beta])
    return np.array([mu, n, beta]), np.sqrt(np.diag(cov)) * jac


def test_hawkes_recovers_its_branching_ratio_and_decay(gaz):
    # Without season, spread or burn-in, the process pooled over provinces is a
    # temporal Hawkes process with the same branching ratio (the spatial kernel
    # sums to one) and an exponential kernel of rate 1 / decay_days.
    config = HawkesConfig(branching=0.6, decay_days=4.0, stronghold_rate=0.5, background_rate=0.004,
                          seasonal_amplitude=0.0, burn_in_days=0.0)
    design = WorldDesign(start="2016-01-04", end="2021-12-26", targets=0, stronghold="Nangarhar")
    times, units, parents = simulate_hawkes(config, design, ["AF-NAN"], {}, np.random.default_rng(42), gaz)
    horizon = (pd.Timestamp(design.end) - pd.Timestamp(design.start)).days + 1.0
    assert len(times) > 3000  # about (0.5 + 33 * 0.004) * 2184 / (1 - 0.6)
    estimate, se = _hawkes_mle(times, horizon)
    expected_mu = 0.5 + 33 * 0.004
    for value, error, truth in zip(estimate, se, [expected_mu, 0.6, 0.25], strict=True):
        assert abs(value - truth) < 4 * error, (value, truth, error)
    # The genealogy agrees: the share of triggered events is the branching ratio
    # (up to children cut off at the end of the period).
    triggered = np.mean(parents >= 0)
    assert abs(triggered - 0.6) < 4 * math.sqrt(0.6 * 0.4 / len(times)) + 0.01


def test_hawkes_spread_targets_gain_attacks_after_onset(gaz):
    design = WorldDesign(targets=3, stronghold="Nangarhar")
    rates = []
    for seed in range(6):
        world = generate_world("hawkes", seed, design, gaz)
        for target in world.truth.itertuples():
            dates = world.events.loc[world.events["admin1_code"] == target.unit_id, "date"]
            before = (dates < target.onset).sum() / max((target.onset - world.start).days, 1)
            after = (dates >= target.onset).sum() / max((world.end - target.onset).days, 1)
            rates.append((before, after))
    before, after = np.array(rates).T
    assert np.median(after) > 5 * np.median(before)


def test_heavy_tailed_fatalities_have_a_power_tail():
    f = heavy_tailed_fatalities(200_000, np.random.default_rng(3), scale=3.0, tail=1.3, cap=1e9)
    # floor(L) >= x for a whole x exactly when the Lomax L >= x: P = (1 + x / 3) ** -1.3.
    for x in (10, 50, 200):
        p = (1 + x / 3) ** -1.3
        assert abs((f >= x).mean() - p) < 4 * math.sqrt(p * (1 - p) / len(f))
    assert heavy_tailed_fatalities(1000, np.random.default_rng(3)).max() <= 300


def test_thinning_keeps_its_fraction_within_binomial_bounds_and_prefers_deadly_attacks(gaz):
    world = generate_world("hawkes", 9, WorldDesign(density=8.0), gaz)
    n = len(world.events)
    assert n > 4000
    for keep in (0.05, 0.1, 0.2):
        p = thinning_probabilities(world.events["fatalities_best"].to_numpy(), keep)
        assert abs(p.mean() - keep) < 1e-9
        thinned = thin_world(world, keep, np.random.default_rng(int(keep * 100)))
        kept = len(thinned.events)
        # A sum of independent Bernoulli(p_i): mean sum p, variance sum p(1-p) <= binomial's.
        assert abs(kept - p.sum()) < 4 * math.sqrt(np.sum(p * (1 - p)))
        assert thinned.params["thinning"]["events_after"] == kept
        pd.testing.assert_frame_equal(thinned.truth, world.truth)
        deadly = world.events["fatalities_best"] >= 25
        kept_ids = set(thinned.events["event_id"])
        share_deadly = world.events.loc[deadly, "event_id"].isin(kept_ids).mean()
        share_other = world.events.loc[~deadly, "event_id"].isin(kept_ids).mean()
        assert share_deadly > 3 * share_other


def test_thinned_worlds_keep_five_to_twenty_percent(gaz):
    for seed in range(4):
        world = generate_world("endemic_thinned", seed, gazetteer=gaz)
        info = world.params["thinning"]
        assert 0.05 <= info["keep"] <= 0.20
        share = info["events_after"] / info["events_before"]
        bound = 4 * math.sqrt(info["keep"] * (1 - info["keep"]) / info["events_before"])
        assert abs(share - info["keep"]) < bound


@pytest.mark.parametrize("generator", ["endemic", "hawkes_thinned"])
def test_a_structural_break_drops_the_level_by_its_share_from_its_date_only(generator, gaz):
    long = WorldDesign(end="2024-12-31")
    plain = generate_world(generator, 2, long, gaz)
    broken = generate_world(generator, 2, WorldDesign(end="2024-12-31", break_date="2021-09-01"), gaz)
    before = plain.events["date"] < "2021-09-01"
    # Before the break: the very same events; the truth unchanged.
    pd.testing.assert_frame_equal(broken.events[broken.events["date"] < "2021-09-01"].reset_index(drop=True),
                                  plain.events[before].reset_index(drop=True))
    pd.testing.assert_frame_equal(broken.truth, plain.truth)
    # After: a Binomial(n, 0.2) share of the events, within 4 standard deviations.
    n = int((~before).sum())
    kept = int((broken.events["date"] >= "2021-09-01").sum())
    assert n > 300
    assert abs(kept - 0.2 * n) < 4 * math.sqrt(n * 0.2 * 0.8)
    assert broken.params["break"] == {"date": "2021-09-01", "keep": 0.2, "events_after_before": n,
                                      "events_after": kept}
    # keep=1 is no break at all.
    same = level_break(plain, "2021-09-01", 1.0, np.random.default_rng(0))
    pd.testing.assert_frame_equal(same.events, plain.events)


def test_null_worlds_have_no_spread_and_stable_background(gaz):
    world = generate_world("null_hawkes", 4, gazetteer=gaz)
    assert world.truth.empty
    share = (world.events["admin1_code"].isin(world.stronghold)).mean()
    assert share > 0.5
    # The stronghold's yearly counts stay within Poisson-cluster noise (no trend was built in).
    years = world.events.loc[world.events["admin1_code"].isin(world.stronghold), "date"].dt.year.value_counts()
    assert years.max() < 2.5 * years.min()


def test_bad_parameters_are_refused():
    with pytest.raises(ParameterError, match="branching"):
        HawkesConfig(branching=1.2)
    with pytest.raises(ParameterError, match="generator"):
        generate_world("poisson", 1)
    with pytest.raises(ParameterError, match="start"):
        WorldDesign(start="2022-01-01", end="2021-01-01")
    with pytest.raises(ParameterError, match="break_date"):
        WorldDesign(break_date="2016-01-01")
    with pytest.raises(ParameterError, match="break_keep"):
        WorldDesign(break_date="2021-09-01", break_keep=1.5)
