"""forecast: early-warning forecasts of insurgent and terrorist attacks per province.

The pipeline flows in one direction (see DESIGN.md)::

    raw files -> events -> panel -> forecasts -> scores, alarms, spillover -> figures -> reports
"""

from __future__ import annotations

import logging

__version__ = "0.1.0"

#: One logger for the package; modules use ``logging.getLogger(__name__)`` below it.
logger = logging.getLogger("forecast")
logger.addHandler(logging.NullHandler())

__all__ = ["__version__", "logger"]
