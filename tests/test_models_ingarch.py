"""INGARCH: parameters recovered from simulation (per unit and on a neighbour panel), step-1 and joint multi-step means, options."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from forecast.errors import ParameterError
from forecast.models import PanelData, forecast_panel, make_model
from forecast.models.ingarch import NegBinIngarch, fit_ingarch

TRUE = np.array([0.5, 0.4, 0.3, 5.0])


def simulate(n: int, rng: np.random.Generator) -> np.ndarray:
    beta0, beta1, alpha1, size = TRUE
    y = np.zeros(n, dtype=np.int64)
    nu = beta0 / (1 - beta1 - alpha1)
    for t in range(n):
        y[t] = rng.negative_binomial(size, size / (size + np.exp(nu)))
        nu = beta0 + beta1 * np.log1p(y[t]) + alpha1 * nu
    return y


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_simulation_recovery_within_four_standard_errors(seed):
    y = simulate(2000, np.random.default_rng(seed))
    fit = fit_ingarch(y)
    assert np.all(np.abs(fit.params - TRUE) < 4 * fit.se), (fit.params, fit.se)


def test_step_one_mean_matches_conditional_mean_and_registry():
    y = simulate(300, np.random.default_rng(7))
    panel = PanelData.from_counts(np.vstack([y, np.zeros(300, dtype=int)]), units=["A", "B"], start="2018-01-01").to_frame()
    model = NegBinIngarch().fit(panel)
    ff = model.predict(3, n_draws=4000, seed=0)
    state = model.states_["A"]
    step1 = ff.draws[0]
    mu = np.exp(state.log_mu_next)
    assert abs(step1.mean() - mu) < 5 * step1.std(ddof=1) / np.sqrt(step1.size)
    assert "B" in model.fallbacks()
    assert isinstance(make_model("ingarch"), NegBinIngarch)
    out = forecast_panel(panel, ["ingarch"], 2, n_draws=200, progress=False)
    assert out.models == ["ingarch"] and len(out.index) == 4


# ------------------------------------------------ the panel model with neighbours
# A 2 x 5 grid (rook adjacency), weekly, 400 periods, simulated from the model itself:
# nu_it = b0_i + b1 log(1 + y_i,t-1) + a1 nu_i,t-1 + eta' (sin, cos)(2 pi t / 52) + gamma log(1 + sum_nb y_j,t-1)
ROWS, COLS, PERIODS, SEASON = 2, 5, 400, 52
UNITS = [f"U{r}{c}" for r in range(ROWS) for c in range(COLS)]
GRID = {
    f"U{r}{c}": [f"U{r + dr}{c + dc}" for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)) if 0 <= r + dr < ROWS and 0 <= c + dc < COLS]
    for r in range(ROWS)
    for c in range(COLS)
}
B0 = np.linspace(0.1, 0.5, len(UNITS))
B1, A1, ETA, GAMMA, SIZE = 0.35, 0.25, np.array([0.3, -0.2]), 0.2, 4.0
NEIGHBOUR_ROWS = [np.array([UNITS.index(v) for v in GRID[u]]) for u in UNITS]


def season_terms(t: np.ndarray) -> np.ndarray:
    t = np.asarray(t, dtype=float)
    return np.column_stack([np.sin(2 * np.pi * t / SEASON), np.cos(2 * np.pi * t / SEASON)])


def simulate_grid(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y = np.zeros((len(UNITS), PERIODS), dtype=np.int64)
    nu = np.full(len(UNITS), 1.5)
    for t in range(PERIODS):
        if t:
            sums = np.array([y[rows, t - 1].sum() for rows in NEIGHBOUR_ROWS])
            nu = B0 + B1 * np.log1p(y[:, t - 1]) + A1 * nu + season_terms([t])[0] @ ETA + GAMMA * np.log1p(sums)
        mu = np.exp(nu)
        y[:, t] = rng.negative_binomial(SIZE, SIZE / (SIZE + mu))
    return y


def grid_panel(y: np.ndarray):
    return PanelData.from_counts(y, units=UNITS, start="2015-01-05").to_frame()


@pytest.fixture(scope="module")
def grid_fits():
    y = simulate_grid(11)
    panel = grid_panel(y)
    with_nb = make_model("ingarch(past_obs=[1], past_mean=[1], harmonics=1, neighbours=True)").fit(panel, neighbours=GRID)
    without = make_model("ingarch(harmonics=1)").fit(panel)
    return y, with_nb, without


def test_panel_recovery_every_estimate_within_four_standard_errors(grid_fits):
    _, model, _ = grid_fits
    assert not model.fallbacks()
    for i, unit in enumerate(UNITS):
        fit = model.states_[unit]
        assert fit.names == ("intercept", "past_obs_1", "past_mean_1", "sin1", "cos1", "neighbours", "size")
        true = np.array([B0[i], B1, A1, *ETA, GAMMA, SIZE])
        z = (fit.params - true) / fit.se
        assert np.all(np.abs(z) < 4), (unit, fit.params, fit.se)
        assert fit.terms.persistence(fit.theta) <= 0.999 + 1e-12  # the stationarity constraint


def test_neighbour_term_improves_the_likelihood_by_the_simulated_margin(grid_fits):
    _, with_nb, without = grid_fits
    gain = np.array([with_nb.states_[u].loglik - without.states_[u].loglik for u in UNITS])
    assert np.all(gain > -1e-6)  # nested models: the neighbour fit is never worse
    lr = 2 * gain.sum()
    # Under the simulation, LR is about noncentral chi2(10, lam), lam = sum (gamma / se)^2 at the true gamma;
    # it must exceed the null's 0.999 quantile and stay above lam + 10 - 4 sd.
    lam = sum((GAMMA / with_nb.states_[u].se[5]) ** 2 for u in UNITS)
    floor = max(stats.chi2.ppf(0.999, len(UNITS)), lam + len(UNITS) - 4 * np.sqrt(2 * (len(UNITS) + 2 * lam)))
    assert lr > floor, (lr, lam, floor)


def plain_log_means(fit, y_unit: np.ndarray, sums: np.ndarray) -> np.ndarray:
    """nu_0..nu_n by the recursion written out, from the fitted parameters."""
    beta0, b1, a1, s1, c1, gamma, _ = fit.params
    nu = [np.log(max(y_unit.mean(), 1e-3))]
    for t in range(1, len(y_unit) + 1):
        x = season_terms([t])[0]
        nu.append(beta0 + b1 * np.log1p(y_unit[t - 1]) + a1 * nu[-1] + s1 * x[0] + c1 * x[1] + gamma * np.log1p(sums[t - 1]))
    return np.array(nu)


def test_step_one_is_the_analytical_conditional_distribution(grid_fits):
    y, model, _ = grid_fits
    ff = model.predict(2, n_draws=4000, seed=3)
    table = ff.index.assign(mean=ff.draws.mean(axis=1), sd=ff.draws.std(axis=1, ddof=1))
    for i, unit in enumerate(UNITS):
        fit = model.states_[unit]
        nu = plain_log_means(fit, y[i], y[NEIGHBOUR_ROWS[i]].sum(axis=0))
        np.testing.assert_allclose(fit.log_mu, nu, rtol=1e-10, atol=1e-10)
        row = table[(table["unit_id"] == unit) & (table["step"] == 1)].iloc[0]
        assert row["family"] == "negbin" and row["dist_size"] == pytest.approx(fit.params[-1], rel=1e-12)
        assert row["dist_mu"] == pytest.approx(np.exp(nu[-1]), rel=1e-10)
        assert abs(row["mean"] - row["dist_mu"]) < 5 * row["sd"] / np.sqrt(4000)


def independent_paths(model, y: np.ndarray, h: int, n_draws: int, seed: int, feed_fallback: bool = True) -> np.ndarray:
    """The joint forecast simulated here, from the fitted parameters: (units, h, n_draws)."""
    rng = np.random.default_rng(seed)
    n = y.shape[1]
    paths = np.zeros((len(UNITS), h, n_draws))
    fallback = {}
    for i, unit in enumerate(UNITS):
        if unit in model.fallbacks():  # hist_mean over the last season: NB by moments
            recent = y[i, -SEASON:]
            mean, var = recent.mean(), recent.var(ddof=1)
            fallback[i] = (mean, mean**2 / (var - mean))
    nu = np.array([model.states_[u].log_mu[-1] if i not in fallback else 0.0 for i, u in enumerate(UNITS)])[:, None]
    nu = np.repeat(nu, n_draws, axis=1)
    for s in range(h):
        if s:
            prev = paths[:, s - 1]
            sums = np.array([prev[rows].sum(axis=0) for rows in NEIGHBOUR_ROWS]) if feed_fallback else np.array(
                [prev[[j for j in rows if j not in fallback]].sum(axis=0) for rows in NEIGHBOUR_ROWS]
            )
            x = season_terms([n + s])[0]
            for i, unit in enumerate(UNITS):
                if i not in fallback:
                    b0, b1, a1, s1, c1, gamma, _ = model.states_[unit].params
                    nu[i] = b0 + b1 * np.log1p(prev[i]) + a1 * nu[i] + s1 * x[0] + c1 * x[1] + gamma * np.log1p(sums[i])
        for i, unit in enumerate(UNITS):
            mean, size = fallback.get(i, (None, None))
            if mean is None:
                size = model.states_[unit].params[-1]
                mean = np.exp(nu[i])
            paths[i, s] = rng.negative_binomial(size, size / (size + mean), size=n_draws)
    return paths


def test_multi_step_joint_draws_match_an_independent_monte_carlo_with_a_fallback_unit():
    y = simulate_grid(12)
    y[0] = 0
    y[0, [-50, -45, -40, -30, -20, -12, -8, -4, -1]] = 200  # 9 non-zero periods: hist_mean, with a high mean
    model = NegBinIngarch(harmonics=1, neighbours=True).fit(grid_panel(y), neighbours=GRID)
    assert list(model.fallbacks()) == ["U00"]
    h, n_draws = 4, 4000
    ff = model.predict(h, n_draws=n_draws, seed=5)
    ours = ff.draws.reshape(len(UNITS), h, n_draws).astype(float)
    mc = independent_paths(model, y, h, n_draws, seed=99)
    se = np.sqrt((ours.var(axis=2, ddof=1) + mc.var(axis=2, ddof=1)) / n_draws)
    z = (ours.mean(axis=2) - mc.mean(axis=2)) / se
    assert np.all(np.abs(z) < 5), np.round(z, 2)
    # The fallback unit's draws feed its neighbours: without them U01's and U10's last-step means are lower.
    unfed = independent_paths(model, y, h, n_draws, seed=99, feed_fallback=False)
    for unit in ("U01", "U10"):
        i = UNITS.index(unit)
        last, other = ours[i, -1], unfed[i, -1]
        gap = (last.mean() - other.mean()) / np.sqrt((last.var(ddof=1) + other.var(ddof=1)) / n_draws)
        assert gap > 5, (unit, gap)


def test_lag_sets_and_poisson_recover_parameters_from_one_series():
    # tscount's past_obs=c(1, 2), no past means, Poisson: nu_t = 0.6 + 0.4 log(1 + y_t-1) + 0.2 log(1 + y_t-2)
    rng = np.random.default_rng(21)
    y = np.zeros(1500, dtype=np.int64)
    for t in range(2, len(y)):
        y[t] = rng.poisson(np.exp(0.6 + 0.4 * np.log1p(y[t - 1]) + 0.2 * np.log1p(y[t - 2])))
    fit = fit_ingarch(y, past_obs=[1, 2], past_mean=None, family="poisson")
    assert fit.names == ("intercept", "past_obs_1", "past_obs_2")
    assert np.all(np.abs(fit.params - [0.6, 0.4, 0.2]) < 4 * fit.se), (fit.params, fit.se)
    # A trending series drives the persistence towards 1; the fit stays within the bound.
    rising = np.arange(400) // 4 + rng.poisson(1.0, 400)
    pushed = fit_ingarch(rising, past_obs=[1, 52], past_mean=[1])
    assert pushed.terms.persistence(pushed.theta) <= 0.999 + 1e-12
    panel = PanelData.from_counts(y[None, :], units=["A"], start="1990-01-01").to_frame()
    ff = make_model("ingarch(past_obs=[1, 2], past_mean=None, family='poisson')").fit(panel).predict(2, n_draws=100)
    first = ff.index.iloc[0]
    assert first["family"] == "poisson" and np.isnan(first["dist_size"])
    assert first["dist_mu"] == pytest.approx(np.exp(fit.log_mu_next))


def test_registry_options_and_neighbours_through_forecast_panel(grid_fits):
    y, _, _ = grid_fits
    model = make_model("ingarch(past_obs=[1, 52], past_mean=[1], neighbours=True, trend=True)")
    assert model.spec() == "ingarch(past_obs=[1, 52], past_mean=[1], neighbours=True, trend=True)"
    assert make_model("ingarch").spec() == "ingarch"
    out = forecast_panel(grid_panel(y), [model.spec()], 3, n_draws=200, progress=False, neighbours=GRID)
    assert len(out.index) == 3 * len(UNITS) and not np.any(out.draws < 0)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("ingarch(past_obs=[0])", "option past_obs=[0] must be a lag >= 1 or a list of lags"),
        ("ingarch(past_obs=[1, 1])", "repeats a lag"),
        ("ingarch(past_mean='1')", "option past_mean='1' must be a lag"),
        ("ingarch(past_obs=None)", "past_mean=1 needs past_obs"),
        ("ingarch(family='gauss')", "family 'gauss' is not known; use one of negbin, poisson"),
        ("ingarch(neighbours='yes')", "option neighbours"),
        ("ingarch(harmonics=-1)", "option harmonics must be a whole number >= 0"),
    ],
)
def test_bad_options_give_one_line_errors(spec, message):
    with pytest.raises(ParameterError, match=message.replace("[", r"\[").replace("]", r"\]")) as caught:
        make_model(spec)
    assert "\n" not in str(caught.value)


def test_fit_time_errors_name_the_fix(grid_fits):
    y, _, _ = grid_fits
    with pytest.raises(ParameterError, match="needs the units' adjacency; pass neighbours="):
        NegBinIngarch(neighbours=True).fit(grid_panel(y))
    with pytest.raises(ParameterError, match="harmonics=30 needs a season > 60 periods"):
        NegBinIngarch(harmonics=30).fit(grid_panel(y))
