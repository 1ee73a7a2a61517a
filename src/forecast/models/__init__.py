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

from forecast.exports import lazy_exports

#: Public name -> module that defines it. Nothing is imported until a name is
#: used, so ``import forecast.models.base`` does not pull in statsmodels or prophet.
_EXPORTS: dict[str, str] = {
    "DEFAULT_DRAWS": "forecast.models.frame",
    "DEFAULT_LEVELS": "forecast.models.frame",
    "ForecastFrame": "forecast.models.frame",
    "CountModel": "forecast.models.base",
    "SeriesModel": "forecast.models.base",
    "PanelData": "forecast.panel",
    "Bootstrap": "forecast.models.baselines",
    "HistoricalMean": "forecast.models.baselines",
    "LastObserved": "forecast.models.baselines",
    "SeasonalNaive": "forecast.models.baselines",
    "Zero": "forecast.models.baselines",
    "NegBinGLM": "forecast.models.glm",
    "PoissonGLM": "forecast.models.glm",
    "ProphetCount": "forecast.models.prophet",
    "Ensemble": "forecast.models.ensemble",
    "weights_from_scores": "forecast.models.ensemble",
    "ModelSpec": "forecast.models.registry",
    "available_models": "forecast.models.registry",
    "forecast_panel": "forecast.models.registry",
    "make_model": "forecast.models.registry",
    "model_options": "forecast.models.registry",
    "parse_model_list": "forecast.models.registry",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
