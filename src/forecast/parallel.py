"""Where work runs: in this process, in a pool of local processes, or on a Dask cluster.

Every stage that fans out independent pieces of work (a backtest's forecast
origins, for instance) asks this module for an executor and hands it the
pieces through :func:`run_tasks`. The executor follows the
:class:`concurrent.futures.Executor` interface, so the calling code is the same
wherever the work runs:

==============  ================================================================
``kind``        where the tasks run
==============  ================================================================
``inprocess``   here, one after the other (the default: no start-up cost,
                tracebacks as usual, nothing to pickle)
``processes``   a pool of local worker processes (``workers``, default the
                number of CPUs), started with ``forkserver`` so a parent
                holding threads is never forked
``dask``        a Dask ``distributed`` cluster: the scheduler at ``address``,
                or, without one, a private ``LocalCluster`` of ``workers``
                processes (default 2) listening on loopback only
==============  ================================================================

Tasks must be picklable (module-level functions and plain data) for the last
two kinds. Results are returned in the order the tasks were given, whatever
order they finish in, so output never depends on where the work ran.

Examples
--------
>>> with get_executor("inprocess") as executor:
...     run_tasks(pow, [(2, 3), (3, 2)], executor=executor)
[8, 9]
"""

from __future__ import annotations

import concurrent.futures
import logging
import multiprocessing
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from tqdm.auto import tqdm

from forecast.checks import choice, whole_number
from forecast.errors import InputError, ParameterError

__all__ = [
    "EXECUTOR_KINDS",
    "MIN_GROUP_SIZE",
    "TASKS_PER_WORKER",
    "DaskExecutor",
    "InProcessExecutor",
    "executor_workers",
    "get_executor",
    "group_count",
    "run_tasks",
    "share",
    "split_evenly",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Seconds to wait for a Dask scheduler given by address before giving up.
SCHEDULER_TIMEOUT_SECONDS = 5.0

#: Values of ``kind`` that :func:`get_executor` accepts.
EXECUTOR_KINDS = ("inprocess", "processes", "dask")

#: Tasks per worker a split aims at: enough that a slow task or a busy worker
#: does not leave the others idle at the end, few enough that the per-task cost
#: (scheduling, pickling, the set-up inside a task) stays small.
TASKS_PER_WORKER = 4

#: Fewest items (units) a group gets: below this a task's fixed costs outweigh its work.
MIN_GROUP_SIZE = 50


class InProcessExecutor(concurrent.futures.Executor):
    """Run each task in the calling process when it is submitted.

    The returned future is already done; an exception raised by the task is
    stored in it (as with the other executors) and raised by ``result()``.
    """

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # KeyboardInterrupt and SystemExit propagate at once
            future.set_exception(exc)
        return future

    def __repr__(self) -> str:
        return "InProcessExecutor()"


class DaskExecutor(concurrent.futures.Executor):
    """A Dask ``distributed`` client behind the ``concurrent.futures`` interface.

    Parameters
    ----------
    client
        A connected ``distributed.Client``.
    cluster
        The ``LocalCluster`` this executor started, closed on :meth:`shutdown`
        (None when connected to an existing scheduler, which is left running).

    Attributes
    ----------
    client
        The client, for Dask-specific use (``scatter``, dashboards).
    """

    def __init__(self, client: Any, cluster: Any = None) -> None:
        self.client = client
        self.cluster = cluster
        self._executor = client.get_executor(pure=False)

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[T]:
        return self._executor.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Close the client and, if this executor started it, the local cluster."""
        self._executor.shutdown(wait=wait)
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def __repr__(self) -> str:
        return f"DaskExecutor(scheduler={self.client.scheduler.address!r})"


def executor_workers(executor: concurrent.futures.Executor | None) -> int:
    """How many tasks ``executor`` runs at once (1 in this process).

    A Dask cluster counts its worker threads now, so an ``--address``
    cluster reports the workers that have joined it.

    Examples
    --------
    >>> executor_workers(None), executor_workers(InProcessExecutor())
    (1, 1)
    """
    if executor is None or isinstance(executor, InProcessExecutor):
        return 1
    if isinstance(executor, DaskExecutor):
        return max(1, sum(executor.client.nthreads().values()))
    return max(1, int(getattr(executor, "_max_workers", None) or os.cpu_count() or 1))


def share(executor: concurrent.futures.Executor | None, values: Sequence[Any]) -> list[Any]:
    """``values`` made ready for many tasks: scattered to the workers once on Dask, as they are elsewhere.

    Tasks given a scattered value (a Dask future) receive the value itself;
    a value many tasks need then crosses the network once, not once per task
    through the scheduler. Process pools pickle arguments per task anyway and
    in this process nothing is copied, so there the values are returned as is.
    """
    if isinstance(executor, DaskExecutor) and len(values):
        return list(executor.client.scatter(list(values), hash=False))
    return list(values)


def group_count(n_items: int, n_blocks: int, workers: int, *, min_size: int = MIN_GROUP_SIZE) -> int:
    """Groups to cut ``n_items`` into when the work already has ``n_blocks`` independent blocks.

    Aims at :data:`TASKS_PER_WORKER` tasks per worker in all (``n_blocks``
    times the groups), with at least ``min_size`` items a group; 1 (no split)
    for a single worker.

    Examples
    --------
    >>> group_count(3600, 4, 2), group_count(3600, 400, 2), group_count(34, 4, 2), group_count(3600, 4, 1)
    (2, 1, 1, 1)
    """
    if workers <= 1:
        return 1
    wanted = -(-TASKS_PER_WORKER * workers // max(n_blocks, 1))
    return max(1, min(wanted, n_items // max(min_size, 1)))


def split_evenly(items: Sequence[T], n_groups: int) -> list[list[T]]:
    """``items`` cut, in order, into ``n_groups`` contiguous groups whose sizes differ by at most one.

    Examples
    --------
    >>> split_evenly(list("abcde"), 2)
    [['a', 'b', 'c'], ['d', 'e']]
    """
    n_groups = max(1, min(int(n_groups), len(items)))
    size, extra = divmod(len(items), n_groups)
    groups, start = [], 0
    for i in range(n_groups):
        stop = start + size + (i < extra)
        groups.append(list(items[start:stop]))
        start = stop
    return groups


def _check_workers(workers: int | None) -> int | None:
    return whole_number(workers, "workers", allow_none=True)


def get_executor(
    kind: str | None = None,
    *,
    address: str | None = None,
    workers: int | None = None,
) -> concurrent.futures.Executor:
    """An executor of the given kind; use it as a context manager so it is shut down.

    Parameters
    ----------
    kind
        ``"inprocess"``, ``"processes"`` or ``"dask"`` (see the module docstring).
        None (the default) follows the other two arguments, as ``--workers`` and
        ``--address`` do on the command line: ``"dask"`` when either is given
        (a local cluster of ``workers`` processes, or the scheduler at
        ``address``), else ``"inprocess"``.
    address
        Dask scheduler address (``tcp://host:8786``); only with ``kind="dask"``.
        Without it a private local cluster is started on 127.0.0.1.
    workers
        Number of worker processes (``processes``: default the CPU count;
        ``dask`` local cluster: default 2). Not used with ``inprocess``.

    Returns
    -------
    concurrent.futures.Executor

    Raises
    ------
    ParameterError
        Unknown kind, an address without ``kind="dask"``, a bad worker
        count, or Dask requested but not installed.
    InputError
        No Dask scheduler answers at ``address`` within
        :data:`SCHEDULER_TIMEOUT_SECONDS` (the message names the address and the fix).

    Examples
    --------
    >>> get_executor(), get_executor(workers=None, address=None)
    (InProcessExecutor(), InProcessExecutor())
    >>> get_executor("threads")
    Traceback (most recent call last):
    ...
    forecast.errors.ParameterError: executor kind 'threads' is not known; use one of inprocess, processes, dask
    """
    if kind is None:
        kind = "dask" if address or workers is not None else "inprocess"
    kind = str(kind).strip().lower()
    choice(kind, "executor kind", EXECUTOR_KINDS)
    workers = _check_workers(workers)
    if address and kind != "dask":
        raise ParameterError(f"a scheduler address only applies to kind='dask', not {kind!r}")
    if kind == "inprocess":
        return InProcessExecutor()
    if kind == "processes":
        # forkserver: forking a parent that runs threads (tqdm monitors, BLAS pools) can deadlock.
        method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        return concurrent.futures.ProcessPoolExecutor(
            max_workers=workers or os.cpu_count() or 1,
            mp_context=multiprocessing.get_context(method),
        )
    return _dask_executor(address, workers)


def _dask_executor(address: str | None, workers: int | None) -> DaskExecutor:
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise ParameterError(
            "kind='dask' needs dask.distributed; install it with: pip install 'forecast[dask]'"
        ) from exc
    if address:
        logger.info("connecting to the Dask scheduler at %s", address)
        try:
            # A bounded wait: distributed's default (30 s, retried) looks like a hang to a user.
            client = Client(address, timeout=SCHEDULER_TIMEOUT_SECONDS)
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError(
                f"no Dask scheduler answered at {address!r} within {SCHEDULER_TIMEOUT_SECONDS:g} s "
                f"({type(exc).__name__}); check the address (tcp://HOST:PORT) and that "
                "`dask scheduler` runs there, or leave the address out for a local cluster"
            ) from exc
        return DaskExecutor(client)
    # Loopback only and no dashboard: a private cluster must not listen on the network.
    cluster = LocalCluster(
        n_workers=workers or 2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    try:
        client = Client(cluster)
    except Exception:
        cluster.close()
        raise
    return DaskExecutor(client, cluster)


def run_tasks(
    fn: Callable[..., T],
    tasks: Iterable[Sequence[Any]],
    *,
    executor: concurrent.futures.Executor | None = None,
    progress: bool = False,
    desc: str = "tasks",
    unit: str = "task",
) -> list[T]:
    """Call ``fn(*task)`` for every task on ``executor``; results in task order.

    Parameters
    ----------
    fn
        The work; a module-level function when the executor runs in other processes.
    tasks
        Positional arguments of each call.
    executor
        Where to run (default: in this process).
    progress
        Show a tqdm bar (on stderr) that advances as tasks finish.
    desc, unit
        Label and unit of the progress bar.

    Returns
    -------
    list
        ``[fn(*task) for task in tasks]``, whatever the order of completion.

    Raises
    ------
    Exception
        The first exception a task raised (remaining tasks are cancelled where
        the executor allows it).

    Examples
    --------
    >>> run_tasks(divmod, [(7, 2), (9, 4)])
    [(3, 1), (2, 1)]
    """
    tasks = [tuple(task) for task in tasks]
    bar = tqdm(total=len(tasks), desc=desc, unit=unit, disable=not progress, leave=False)
    try:
        if executor is None or isinstance(executor, InProcessExecutor):
            # Run lazily, one by one, so the bar moves with the work.
            results = []
            for task in tasks:
                results.append(fn(*task))
                bar.update()
            return results
        futures = {executor.submit(fn, *task): i for i, task in enumerate(tasks)}
        ordered: list[Any] = [None] * len(tasks)
        try:
            for future in concurrent.futures.as_completed(futures):
                ordered[futures[future]] = future.result()
                bar.update()
        except BaseException:
            for future in futures:
                future.cancel()
            raise
        return ordered
    finally:
        bar.close()
