"""forecast: early-warning forecasts of insurgent and terrorist attacks per province.

The pipeline flows in one direction (see ``docs/architecture.md``)::

    raw files -> events -> panel -> forecasts -> scores, alarms, spillover -> figures -> reports

The names below are the library face a notebook or a script uses,
``import forecast as fc``; each is imported on first use, so ``import forecast``
is instant and a script that only reads events never loads statsmodels.

Examples
--------
>>> import forecast as fc
>>> data = fc.load_dataset("synthetic", freq="MS", as_of="2021-12-31")
>>> forecasts = fc.forecast_panel(data.panel, ["hist_mean"], horizon=2, n_draws=100)
>>> forecasts.models
['hist_mean']
"""

from __future__ import annotations

import logging

from forecast.exports import lazy_exports

__version__ = "0.1.0"

#: One logger for the package; modules use ``logging.getLogger(__name__)`` below it.
logger = logging.getLogger("forecast")
logger.addHandler(logging.NullHandler())

#: Public name -> the module that defines it (its one home).
_EXPORTS: dict[str, str] = {
    # data in
    "read_events": "forecast.data",
    "load_dataset": "forecast.data.dataset",
    "Dataset": "forecast.data.dataset",
    "generate_scenario": "forecast.data.synthetic",
    "Gazetteer": "forecast.geo.gazetteer",
    # panel
    "build_panel": "forecast.panel",
    "panel_as_of": "forecast.panel",
    "PanelData": "forecast.panel",
    # forecasts
    "ForecastFrame": "forecast.models.frame",
    "forecast_panel": "forecast.models.registry",
    "make_model": "forecast.models.registry",
    "available_models": "forecast.models.registry",
    # evaluation
    "backtest": "forecast.evaluation.backtest",
    "score_forecasts": "forecast.evaluation.backtest",
    # spread and alarms
    "find_stronghold": "forecast.spread.stronghold",
    "spread_indicators": "forecast.spread.indicators",
    "spillover_share": "forecast.spread.spillover",
    "evaluate_warnings": "forecast.alarms.assess",
    "WarningConfig": "forecast.alarms.config",
    # errors
    "ForecastError": "forecast.errors",
    "InputError": "forecast.errors",
    "ParameterError": "forecast.errors",
}

__all__ = ["__version__", "logger", *sorted(_EXPORTS)]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
