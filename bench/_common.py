"""What the bench scripts share: where things are, and writing one section of RESULTS.md.

Each script owns one section of ``bench/RESULTS.md``, between
``<!-- NAME:start -->`` and ``<!-- NAME:end -->``; :func:`write_section`
replaces that section (or appends it) and leaves the others as they are.
"""

from __future__ import annotations

import os
from pathlib import Path

from forecast.files import write_text_atomic

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "RESULTS.md"
#: The reference data beside the project (see ../shared/data/README.md);
#: ``FORECAST_SHARED_DATA`` points elsewhere.
SHARED_DATA = Path(os.environ.get("FORECAST_SHARED_DATA", REPO.parent / "shared" / "data"))
SURVEILLANCE = SHARED_DATA / "surveillance"


def write_section(name: str, body: str, path: Path = RESULTS) -> Path:
    """Put ``body`` between the ``name`` markers of ``path``, replacing what was there.

    A missing file is created with a title; a missing section is appended.
    Returns ``path``.
    """
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    section = f"{start}\n{body}\n{end}"
    current = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    if start in current and end in current:
        head, rest = current.split(start, 1)
        updated = head + section + rest.split(end, 1)[1]
    else:
        updated = current.rstrip("\n") + "\n\n" + section + "\n"
    return write_text_atomic(path, updated)
