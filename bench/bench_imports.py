"""Import time of the package's layers, measured with ``python -X importtime`` in fresh interpreters.

The model contracts (``forecast.models.base``) must not pull in statsmodels or
prophet: notebooks and the CLI import them for every run, and a scheduled job
that only reads events should not pay for the estimation libraries. Each
figure is the median over repeated cold starts of the cumulative import time
of the named module, next to ``pandas`` and ``statsmodels.api`` in the same run
(the machine is noisy: compare ratios).

Run: ``python bench/bench_imports.py [--repeats 7]``; writes the ``imports``
section of ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
from datetime import UTC, datetime

from _common import RESULTS, write_section

MODULES = (
    "forecast",
    "forecast.models.base",
    "forecast.panel",
    "forecast.data.dataset",
    "forecast.models.registry",
    "forecast.models.glm",
    "forecast.alarms.assess",
    "forecast.viz.plots",
)
ANCHORS = ("pandas", "statsmodels.api")
HEAVY = ("statsmodels", "prophet", "matplotlib", "geopandas", "scipy", "pandera")


def cold_import(module: str, src: str | None = None) -> tuple[float, list[str]]:
    """Seconds to import ``module`` in a new interpreter (from source tree ``src`` if given), and the heavy libraries it loaded."""
    code = f"import sys, {module}; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    env = {**os.environ, "PYTHONPATH": src} if src else None
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True, env=env
    )
    pattern = re.compile(r"import time:\s+\d+ \|\s+(\d+) \| (\s*)" + re.escape(module) + r"$")
    cumulative = [int(m.group(1)) for line in result.stderr.splitlines() if (m := pattern.search(line)) and not m.group(2)]
    return cumulative[-1] / 1e6, [m for m in result.stdout.strip().split(",") if m]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--before", metavar="SRC",
        help="the src/ folder of an earlier checkout (e.g. a git worktree) whose forecast.models.base is timed too",
    )
    args = parser.parse_args(argv)
    rows = []
    for module in (*ANCHORS, *MODULES):
        runs = [cold_import(module) for _ in range(args.repeats)]
        rows.append((module, statistics.median(t for t, _ in runs), runs[0][1]))
    if args.before:
        runs = [cold_import("forecast.models.base", args.before) for _ in range(args.repeats)]
        rows.append(("forecast.models.base (before)", statistics.median(t for t, _ in runs), runs[0][1]))
    pandas_s = rows[0][1]
    lines = [
        "## Import time of the package's layers",
        "",
        f"Written by `bench/bench_imports.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; Python {platform.python_version()}, "
        f"median of {args.repeats} cold starts each (`python -X importtime`, cumulative time of the module).",
        "",
        "| module | seconds | × pandas | heavy libraries it loads |",
        "|---|---|---|---|",
    ]
    for module, seconds, heavy in rows:
        lines.append(f"| `{module}` | {seconds:.2f} | {seconds / pandas_s:.1f} | {', '.join(heavy) or '-'} |")
    lines += [
        "",
        "`import forecast` is lazy (names load on first use); `forecast.models.base` loads no estimation "
        "library. *(before)* is the same module in the checkout given with `--before` (here the commit before the "
        "architecture change, 6865d9e, where importing it imported the whole model registry and statsmodels).",
    ]
    text = "\n".join(lines)
    write_section("imports", text, RESULTS)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
