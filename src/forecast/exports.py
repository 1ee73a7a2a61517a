"""Lazy library faces: a package lists its public names and the modules that define them.

``import forecast`` (or ``forecast.models``, ``forecast.alarms``, ``forecast.spread``)
then costs nothing; a name is imported from its one home on first use, as
scientific-python's SPEC 1 describes.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Module ``__getattr__`` and ``__dir__`` for ``package`` that import each name from ``exports[name]``.

    Examples
    --------
    >>> getattr_, dir_ = lazy_exports("forecast", {"checks_frequency": "forecast.checks"})
    >>> "checks_frequency" in dir_()
    True
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *exports})

    return __getattr__, __dir__
