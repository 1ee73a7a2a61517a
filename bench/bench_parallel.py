"""Benchmark where work runs: a 3,600-unit backtest serially and on a Dask LocalCluster.

The world is synthetic: a ``side x side`` grid of units (60 x 60 = 3,600, about
the number of admin-1 units in the world), rook neighbours, weekly counts from
an endemic-epidemic process (R's ``hhh4`` form)::

    mu_it = nu_i + phi * y_i,t-1 + psi * mean(y_j,t-1 for neighbours j)

with endemic rates ``nu_i`` log-normal around 0.5 a week and a yearly season,
so series range from mostly-zero to a few events a week. The same
:func:`forecast.evaluation.backtest.backtest` (same panel, models, origins,
draws and run seed) runs once in this process and once on a private
``LocalCluster`` of ``--workers`` processes on 127.0.0.1
(:func:`forecast.parallel.get_executor`), its work cut into unit groups and
origins (``unit_groups``, chosen from the workers unless ``--groups`` is
given); the scores must be equal bit for bit, then fits per second, the
speedup and each process's peak resident memory are reported. A fit is one
model fitted to one unit at one origin.

A last run, with more draws (``--stream-draws``), streams the scores and
every draw to parquet per task (``out_dir=``, ``keep_forecasts=True``), the
peak resident memory of this process and the workers reset just before it
(Linux ``clear_refs``), to show the draws are never all held at once: each
process's peak during that run against the size of all the draws.

The figures go into the ``parallel`` section of ``bench/RESULTS.md`` (between
``<!-- parallel:start -->`` and ``<!-- parallel:end -->``), leaving the rest
of the file alone.

Usage::

    python bench/bench_parallel.py [--side 60] [--weeks 208] [--origins 4] [--workers 2] [--groups N]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

# One BLAS thread here, as Dask gives each worker process (distributed's pre-spawn
# environment): the serial side then uses one CPU, and the speedup compares like with like.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from _common import RESULTS, write_section  # noqa: E402

from forecast.evaluation.backtest import backtest, read_backtest_scores  # noqa: E402
from forecast.parallel import executor_workers, get_executor, group_count  # noqa: E402


def grid_world(side: int, weeks: int, seed: int) -> pd.DataFrame:
    """Weekly counts on a ``side x side`` rook grid: the long panel ``unit_id, ds, y``."""
    rng = np.random.default_rng([seed, 18])
    n = side * side
    row, col = np.divmod(np.arange(n), side)
    neighbours = np.zeros((n, n))
    for dr, dc in ((0, 1), (1, 0), (0, -1), (-1, 0)):
        r, c = row + dr, col + dc
        ok = (r >= 0) & (r < side) & (c >= 0) & (c < side)
        neighbours[np.arange(n)[ok], (r * side + c)[ok]] = 1.0
    neighbours /= neighbours.sum(axis=1, keepdims=True)
    nu = 0.5 * rng.lognormal(-0.5, 1.0, n)
    season = 1.0 + 0.3 * np.sin(2 * np.pi * np.arange(weeks) / 52.18)
    phi, psi = 0.3, 0.2
    y = np.zeros((weeks, n), dtype=np.int64)
    y[0] = rng.poisson(nu)
    for t in range(1, weeks):
        mu = nu * season[t] + phi * y[t - 1] + psi * (neighbours @ y[t - 1])
        y[t] = rng.negative_binomial(5, 5 / (5 + mu))
    ds = pd.date_range("2018-01-01", periods=weeks, freq="W-MON")
    ids = np.array([f"G{i:04d}" for i in range(n)])
    panel = pd.DataFrame({"unit_id": np.repeat(ids, weeks), "ds": np.tile(ds, n), "y": y.T.ravel()})
    panel.attrs["freq"] = "W-MON"
    return panel


def warm_up() -> None:
    """Import what the fits use, so neither timing includes loading statsmodels."""
    import forecast.models.baselines  # noqa: F401
    import forecast.models.glm  # noqa: F401
    import forecast.models.registry  # noqa: F401


def numpy_kernel(repeats: int = 40_000) -> float:
    """Seconds for small least-squares solves like the GLM fits' (IRLS on one unit's weeks)."""
    x = np.random.default_rng(0).random((200, 5))
    started = time.perf_counter()
    for _ in range(repeats):
        np.linalg.solve(x.T @ x, x.T @ x[:, 0])
        np.exp(x).sum()
    return time.perf_counter() - started


def machine_ceiling(workers: int) -> float:
    """Speedup ``workers`` plain processes get on this machine for numpy work, no Dask involved.

    The same kernel runs once alone, then once in each of ``workers``
    processes at the same time; with ``workers`` free CPUs the answer is
    ``workers``. A shared or oversubscribed machine gives less, and no
    scheduler can beat it.
    """
    with get_executor("processes", workers=workers) as pool:
        pool.submit(numpy_kernel, 10).result()  # start the processes outside the timing
        alone = pool.submit(numpy_kernel).result()
        together = [f.result() for f in [pool.submit(numpy_kernel) for _ in range(workers)]]
    return workers * alone / float(np.mean(together))


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak() -> float:
    """Reset this process's peak resident memory (Linux: ``5`` into ``/proc/self/clear_refs``); the MB resident now."""
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")
    return _status_mb("VmRSS")


def peak_since_reset_mb() -> float:
    """Peak resident memory since :func:`reset_peak` (``VmHWM``), in MB."""
    return _status_mb("VmHWM")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", type=int, default=60, help="grid side; units = side**2")
    parser.add_argument("--weeks", type=int, default=208)
    parser.add_argument("--origins", type=int, default=4, help="forecast origins")
    parser.add_argument("--every", type=int, default=4, help="weeks between origins")
    parser.add_argument("--horizon", type=int, default=4)
    parser.add_argument("--draws", type=int, default=100)
    parser.add_argument("--models", default="glm_poisson,hist_mean")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--groups", type=int, default=None, help="unit groups per origin (default: chosen from the workers)")
    parser.add_argument("--stream-draws", type=int, default=1000, help="draws in the streamed run")
    parser.add_argument("--stream-groups", type=int, default=8, help="unit groups per origin in the streamed run")
    parser.add_argument("--repeats", type=int, default=3, help="serial/Dask pairs, interleaved")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-write", action="store_true", help="print, do not touch RESULTS.md")
    args = parser.parse_args(argv)

    panel = grid_world(args.side, args.weeks, args.seed)
    n_units = args.side**2
    ds = panel["ds"].drop_duplicates().sort_values()
    last_cutoff = ds.iloc[-1 - args.horizon]
    start = last_cutoff - pd.Timedelta(weeks=args.every * (args.origins - 1))
    models = [m.strip() for m in args.models.split(",")]
    run = dict(horizon=args.horizon, start=start, every=args.every, n_draws=args.draws, seed=args.seed, progress=False)
    print(f"{n_units} units x {args.weeks} weeks, {panel['y'].mean():.2f} events per unit-week, "
          f"zeros {np.mean(panel['y'] == 0):.0%}; {args.origins} origins, models {models}", flush=True)

    warm_up()
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    rows = []
    with get_executor("dask", workers=args.workers) as executor:
        executor.client.run(warm_up)
        startup_s = time.perf_counter() - started
        # Interleaved, so a neighbour's burst of work hits both sides alike.
        for repeat in range(1, args.repeats + 1):
            ceiling = machine_ceiling(args.workers)
            started = time.perf_counter()
            serial = backtest(panel, models, **run)
            serial_s = time.perf_counter() - started
            started = time.perf_counter()
            remote = backtest(panel, models, executor=executor, unit_groups=args.groups, **run)
            dask_s = time.perf_counter() - started
            pd.testing.assert_frame_equal(remote.scores, serial.scores, check_exact=True)
            # Model seconds summed over tasks: the same work on both sides, so a larger Dask sum
            # means each worker got less than a full CPU.
            row = dict(repeat=repeat, serial_s=serial_s, dask_s=dask_s, speedup=serial_s / dask_s,
                       ceiling=ceiling, serial_model_s=sum(serial.seconds.values()),
                       dask_model_s=sum(remote.seconds.values()))
            rows.append(row)
            print({k: round(v, 2) for k, v in row.items()}, flush=True)
        worker_mb = sorted(executor.client.run(peak_rss_mb).values())
        main_mb = peak_rss_mb()
        groups = args.groups or group_count(n_units, len(serial.cutoffs), executor_workers(executor))
        # Streamed: scores and every draw to parquet per task, memory traced on both sides.
        with tempfile.TemporaryDirectory() as folder:
            worker_base = sorted(executor.client.run(reset_peak).values())
            main_base = reset_peak()
            started = time.perf_counter()
            streamed = backtest(panel, models, executor=executor, unit_groups=args.stream_groups,
                                out_dir=f"{folder}/bt", keep_forecasts=True, **{**run, "n_draws": args.stream_draws})
            stream_s = time.perf_counter() - started
            main_peak = peak_since_reset_mb()
            worker_peak = sorted(executor.client.run(peak_since_reset_mb).values())
            assert streamed.forecasts is None
            streamed_back = read_backtest_scores(f"{folder}/bt")
            pd.testing.assert_frame_equal(streamed_back, streamed.scores, check_exact=True)
            on_disk = sum(f.stat().st_size for f in Path(folder, "bt", "draws").rglob("*.parquet")) / 1e6
            n_files = len(list(Path(folder, "bt", "draws").rglob("*.parquet")))
    draws_mb = n_units * args.horizon * len(models) * len(serial.cutoffs) * args.stream_draws * 8 / 1e6
    load = os.getloadavg()[0]
    fits = n_units * len(models) * len(serial.cutoffs)
    table = pd.DataFrame(rows)
    best = table.loc[table["speedup"].idxmax()]
    median = float(table["speedup"].median())
    overhead = table["dask_s"] - table["dask_model_s"] / args.workers

    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = "python bench/bench_parallel.py " + " ".join(argv if argv is not None else sys.argv[1:])
    lines = [
        "## Parallel: a 3,600-unit backtest serially and on Dask",
        "",
        f"Written by `bench/bench_parallel.py` on {now}; Python {platform.python_version()}, "
        f"numpy {np.__version__}, {os.cpu_count()} CPUs, {platform.machine()}, load average "
        f"{load_before:.1f} before and {load:.1f} at the end (the machine is shared with other jobs). "
        f"Command: `{command.strip()}`.",
        "",
        f"World: synthetic endemic-epidemic counts on a {args.side} x {args.side} grid "
        f"({n_units:,} units, rook neighbours) x {args.weeks} weeks; {panel['y'].mean():.2f} events "
        f"per unit-week, {np.mean(panel['y'] == 0):.0%} zeros. Backtest: models `{', '.join(models)}`, "
        f"{len(serial.cutoffs)} origins every {args.every} weeks, horizon {args.horizon}, "
        f"{args.draws} draws, run seed {args.seed}. A fit is one model on one unit at one origin: "
        f"{fits:,} fits per run. Every Dask run's scores equal the serial ones bit for bit (checked). "
        f"Both sides use one BLAS thread per process. Serial and LocalCluster({args.workers}) "
        f"(worker processes on 127.0.0.1) runs are interleaved, {args.repeats} pairs. On Dask the work is cut "
        f"into {groups} unit groups of about {n_units // groups:,} units per origin "
        f"({groups * len(serial.cutoffs)} tasks, {'chosen from the workers' if args.groups is None else '--groups'}); "
        "each group's rows are scattered to the workers once and every task receives only its units' rows.",
        "",
        "| pair | serial s | serial fits/s | Dask s | Dask fits/s | speedup | model s serial / Dask | machine ceiling |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['repeat']} | {row['serial_s']:.1f} | {fits / row['serial_s']:.0f} | {row['dask_s']:.1f} | "
            f"{fits / row['dask_s']:.0f} | {row['speedup']:.2f}x | {row['serial_model_s']:.1f} / "
            f"{row['dask_model_s']:.1f} | {row['ceiling']:.2f}x |"
        )
    lines += [
        "",
        f"Speedup on {args.workers} workers: median {median:.2f}x, best {best['speedup']:.2f}x "
        f"(target 1.7x); the machine ceiling measured beside them: median {table['ceiling'].median():.2f}x, "
        f"range {table['ceiling'].min():.2f}x to {table['ceiling'].max():.2f}x. *Model s* is the time the models took inside the tasks, summed: the same "
        "work on both sides, so a larger Dask figure means the workers did not get a full CPU each. "
        f"*Machine ceiling* is what {args.workers} plain processes (`multiprocessing`, no Dask) "
        "running a numpy kernel like the fits' (small least-squares solves) at the same time gain "
        f"over one, measured just before the pair (ideal {args.workers}.00x): on a machine shared "
        "with other jobs it varies from minute to minute, and no scheduler beats it. "
        f"What Dask itself adds (its wall time minus the model seconds split over {args.workers} "
        f"workers: scheduling, scattering the groups' rows, the scores back, the serial set-up and "
        f"scoring around the tasks) is {overhead.min():.1f} to {overhead.max():.1f} s. "
        f"Peak memory: {main_mb:.0f} MB in this process (serial runs), "
        f"{', '.join(f'{m:.0f}' for m in worker_mb)} MB in the workers.",
        "",
        f"Streamed: the same backtest with {args.stream_draws:,} draws, `out_dir=` and `keep_forecasts=True`, "
        f"{args.stream_groups} unit groups per origin ({n_files} tasks, {stream_s:.0f} s): every task writes "
        f"its scores and draws to parquet as it finishes. All the draws are {draws_mb:,.0f} MB as int64 "
        f"({on_disk:,.0f} MB of parquet on disk), one task's {draws_mb / n_files:.0f} MB. Peak resident memory "
        f"during that run (reset just before it; resident then in brackets): {main_peak:.0f} MB ({main_base:.0f}) "
        f"in this process, {', '.join(f'{m:.0f}' for m in worker_peak)} MB "
        f"({', '.join(f'{m:.0f}' for m in worker_base)}) in the workers: no process ever held all the draws, "
        "and none came back to this one. The scores read back (`read_backtest_scores`) equal the "
        "in-memory table bit for bit (checked).",
        "",
        f"Cluster start-up and imports in the workers ({startup_s:.1f} s) are not in the Dask times "
        "(a long-lived cluster pays them once); both sides import the models before timing. "
        "On a multi-machine cluster the same backtest runs with "
        "`forecast backtest ... --address tcp://HOST:8786` "
        "(`get_executor(\"dask\", address=...)` in Python).",
    ]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        write_section("parallel", body, RESULTS)
        print(f"wrote the parallel section of {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
