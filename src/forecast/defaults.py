"""The defaults every entry point shares.

The command-line verbs (``predict``, ``backtest``, ``warn``, ``spread``), the
report notebooks' ``parameters`` cells and ``config/default.yaml`` all start
from these values, so a setting left out means the same thing everywhere
(tests check the notebooks and the config file against this module).

Examples
--------
>>> HORIZON, SEED, default_stronghold("AFG"), default_stronghold("PAK")
(8, 20211, 'Nangarhar', 'auto')
"""

from __future__ import annotations

__all__ = [
    "ADDRESS",
    "COUNTRY",
    "DEFAULTS",
    "FREQ",
    "HORIZON",
    "LEVEL",
    "MODELS",
    "MONTHLY_MODELS",
    "N_DRAWS",
    "SEED",
    "SELECTION",
    "STRONGHOLDS",
    "WORKERS",
    "default_models",
    "default_stronghold",
]

#: ISO3 code of the country analysed (several in one panel: ``"AFG,PAK"``, or a list in YAML).
COUNTRY = "AFG"
#: Period of the panel: weeks starting Monday.
FREQ = "W-MON"
#: Units of the panel: 1 provinces (2 districts, for sources that name them).
LEVEL = 1
#: Periods ahead forecast (8 weeks).
HORIZON = 8
#: Candidate models of a weekly panel. The endemic-epidemic models carry the mean
#: of the last 4 periods into the next (``lags=4``); ``endemic_recent`` also
#: weights the last year most (half-life 12 months), an answer to structural
#: breaks; ``recent_mean`` is the mean of the last 4 periods.
MODELS: tuple[str, ...] = (
    "hist_mean",
    "hist_mean(window=4, alias='recent_mean')",
    "glm_negbin",
    "endemic_epidemic(lags=4)",
    "endemic_epidemic(halflife_months=12, lags=4, alias='endemic_recent')",
)
#: Candidate models of a monthly panel, chosen by ``bench/bench_monthly.py`` (horizon 3,
#: 21 origins, five Afghan-shaped worlds and the influenza counts; bench/RESULTS.md):
#: a log-linear trend extrapolates badly over months of sparse counts, so the
#: endemic-epidemic models have none and weight the last year most (``endemic_flat``);
#: ``endemic_flat_psi`` gives each unit with at least 30 counts in the fitted window
#: its own overdispersion, so a busy stronghold's forecast is not as wide as the sparse
#: provinces'; ``ingarch`` (log-linear in past counts and means) errs differently.
#: ``glm_negbin`` is left out: 10-20 % worse than the best baseline on four of the five worlds.
MONTHLY_MODELS: tuple[str, ...] = (
    "hist_mean",
    "hist_mean(window=4, alias='recent_mean')",
    "ingarch",
    "endemic_epidemic(trend=False, halflife_months=12, lags=4, alias='endemic_flat')",
    "endemic_epidemic(trend=False, halflife_months=12, lags=4, overdispersion='auto', min_unit_events=30, "
    "alias='endemic_flat_psi')",
)
#: How a report turns the candidates into its forecaster (see forecast.evaluation.selection).
SELECTION = "stack"
#: Seed of the predictive draws (and of the synthetic scenario).
SEED = 20211
#: Predictive draws per unit and period.
N_DRAWS = 1000
#: Where backtests and fits run (forecast.parallel.get_executor): None here, in
#: the one process; N a private Dask cluster of N processes on 127.0.0.1.
WORKERS: int | None = None
#: A Dask scheduler to run on instead (``tcp://HOST:8786``, several machines); None: none.
ADDRESS: str | None = None
#: Where the group has long been concentrated, per country (ISIS-K: Nangarhar).
#: Elsewhere ``"auto"``: the smallest set of units holding half the events.
STRONGHOLDS = {"AFG": "Nangarhar"}


def default_models(freq: str | None) -> tuple[str, ...]:
    """The candidate models a run uses on a panel of period ``freq`` when none are given.

    Examples
    --------
    >>> default_models("MS")[2], default_models("W-MON") == MODELS
    ('ingarch', True)
    """
    return MONTHLY_MODELS if freq == "MS" else MODELS


def default_stronghold(country: str | None) -> str:
    """The stronghold a run assumes for ``country`` when none is given (``"auto"`` if unknown).

    A panel of several countries (``"AFG,PAK"``) keeps the strongholds of the
    countries that have one, comma-separated; ``"auto"`` when none has.

    Examples
    --------
    >>> default_stronghold("AFG,PAK"), default_stronghold("PAK,IRN")
    ('Nangarhar', 'auto')
    """
    codes = [c.strip().upper() for c in (country or COUNTRY).replace("+", ",").split(",") if c.strip()]
    found = [STRONGHOLDS[c] for c in codes if c in STRONGHOLDS]
    return ",".join(found) if found else "auto"


#: The shared defaults by parameter name (as in config/default.yaml and the notebooks).
DEFAULTS = {
    "country": COUNTRY,
    "freq": FREQ,
    "level": LEVEL,
    "horizon": HORIZON,
    # None: the candidates of the panel's frequency (default_models), resolved where the panel is known.
    "models": None,
    "selection": SELECTION,
    "seed": SEED,
    "stronghold": STRONGHOLDS[COUNTRY],
    "n_draws": N_DRAWS,
    "workers": WORKERS,
    "address": ADDRESS,
}
