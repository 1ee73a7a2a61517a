"""Shared test fixtures.

``shared_data`` is the real reference data beside the project
(``<repo>/../shared/data``, see its README; ``FORECAST_SHARED_DATA`` points
elsewhere, as for the bench scripts). A fresh clone has no such folder,
so tests that need it skip there; in CI (``CI=true``) a missing folder is a
broken setup and those tests fail instead of passing vacuously.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# In CI the property tests draw the same examples on every machine (a failure
# there must be reproducible, not a draw of luck); locally they explore anew.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("FORECAST_SHARED_DATA", REPO_ROOT / ".." / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ``../shared/data`` (or ``FORECAST_SHARED_DATA``); skips when absent, fails under ``CI=true``."""
    if not SHARED_DATA.is_dir():
        reason = f"shared reference data not found at {SHARED_DATA} (see ../shared/data/README.md)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI=true requires it", pytrace=False)
        pytest.skip(reason)
    return SHARED_DATA


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Tests using the fixture get the `shared_data` marker, so
    # `pytest -m "not shared_data"` runs everything that needs no reference data.
    for item in items:
        if "shared_data" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.shared_data)
