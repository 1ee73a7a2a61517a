"""NB INGARCH(1,1): parameters recovered from simulation, step-1 mean, registry name."""

from __future__ import annotations

import numpy as np
import pytest

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
