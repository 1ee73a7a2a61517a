"""Count forecasting models: ``fit(panel)`` / ``predict(h)`` -> :class:`ForecastFrame`.

Pick models by name (see :mod:`forecast.models.registry`)::

    from forecast.models import forecast_panel
    ff = forecast_panel(panel, ["hist_mean", "glm_negbin(season=52, ar=1)", "prophet"], horizon=8)
    ff.summary(levels=(0.05, 0.5, 0.95), exceed=(1,))

Available: ``zero``, ``last``, ``hist_mean``, ``bootstrap``, ``seasonal_naive``
(:mod:`.baselines`), ``glm_poisson``, ``glm_negbin`` (:mod:`.glm`), ``prophet``
(:mod:`.prophet`, imported on first use), ``ensemble`` (:mod:`.ensemble`) and
``endemic_epidemic`` (the spread model of :mod:`.endemic_epidemic`, adapted in
:mod:`.registry`).
"""

from __future__ import annotations

from typing import Any

from forecast.models.base import DEFAULT_DRAWS, DEFAULT_LEVELS, ForecastFrame
from forecast.models.baselines import (
    Bootstrap,
    CountModel,
    HistoricalMean,
    LastObserved,
    PanelData,
    SeasonalNaive,
    SeriesModel,
    Zero,
)
from forecast.models.ensemble import Ensemble, weights_from_scores
from forecast.models.glm import NegBinGLM, PoissonGLM
from forecast.models.registry import (
    ModelSpec,
    available_models,
    forecast_panel,
    make_model,
    model_options,
    parse_model_list,
)

__all__ = [
    "DEFAULT_DRAWS",
    "DEFAULT_LEVELS",
    "Bootstrap",
    "CountModel",
    "Ensemble",
    "ForecastFrame",
    "HistoricalMean",
    "LastObserved",
    "ModelSpec",
    "NegBinGLM",
    "PanelData",
    "PoissonGLM",
    "ProphetCount",
    "SeasonalNaive",
    "SeriesModel",
    "Zero",
    "available_models",
    "forecast_panel",
    "make_model",
    "model_options",
    "parse_model_list",
    "weights_from_scores",
]


def __getattr__(name: str) -> Any:
    # Importing prophet (and cmdstanpy) takes about a second: only on first use.
    if name == "ProphetCount":
        from forecast.models.prophet import ProphetCount

        return ProphetCount
    raise AttributeError(f"module 'forecast.models' has no attribute {name!r}")
