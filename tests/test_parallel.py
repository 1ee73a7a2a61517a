"""Where work runs (forecast.parallel)."""

from __future__ import annotations

import concurrent.futures
import os
import time

import numpy as np
import pandas as pd
import pytest

from forecast.errors import InputError, ParameterError
from forecast.parallel import (
    SCHEDULER_TIMEOUT_SECONDS,
    DaskExecutor,
    InProcessExecutor,
    get_executor,
    run_tasks,
)


def slow_square(x: int, delay: float) -> int:
    """Module level, so worker processes can unpickle it."""
    time.sleep(delay)
    return x * x


def fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("three")
    return x


def test_in_process_runs_in_order_and_lazily():
    calls = []

    def record(x):
        calls.append(x)
        return -x

    assert run_tasks(record, [(1,), (2,), (3,)]) == [-1, -2, -3]
    assert calls == [1, 2, 3]
    with get_executor() as executor:
        assert isinstance(executor, InProcessExecutor)
        future = executor.submit(fail_on_three, 3)
        assert isinstance(future.exception(), ValueError)
        assert run_tasks(divmod, [(7, 2)], executor=executor, progress=True) == [(3, 1)]


def test_errors_propagate():
    with pytest.raises(ValueError, match="three"):
        run_tasks(fail_on_three, [(1,), (3,), (5,)])


def test_bad_arguments_are_named():
    with pytest.raises(ParameterError, match="executor kind 'threads' is not known; use one of inprocess, processes, dask"):
        get_executor("threads")
    with pytest.raises(ParameterError, match="only applies to kind='dask'"):
        get_executor("processes", address="tcp://127.0.0.1:8786")
    with pytest.raises(ParameterError, match="workers must be"):
        get_executor("processes", workers=0)


def test_process_pool_returns_results_in_task_order():
    # The first task finishes last; results still come back in task order.
    tasks = [(1, 0.4), (2, 0.0), (3, 0.0), (4, 0.0)]
    with get_executor("processes", workers=2) as executor:
        assert isinstance(executor, concurrent.futures.ProcessPoolExecutor)
        assert run_tasks(slow_square, tasks, executor=executor) == [1, 4, 9, 16]
        with pytest.raises(ValueError, match="three"):
            run_tasks(fail_on_three, [(1,), (3,)], executor=executor)


@pytest.mark.slow
def test_dask_local_cluster_of_two_processes_on_loopback_gives_the_serial_backtest_exactly():
    pytest.importorskip("distributed")
    from forecast.evaluation.backtest import backtest

    ds = pd.date_range("2020-01-06", periods=30, freq="W-MON")
    panel = pd.DataFrame({"unit_id": np.repeat(["A", "B"], 30), "ds": np.tile(ds, 2),
                          "y": np.random.default_rng(2).poisson(3, 60)})
    # bootstrap draws at random and the PIT is randomised: both need the per-origin seeds.
    run = dict(horizon=2, start="2020-04-06", every=5, n_draws=50, progress=False)
    with get_executor("dask", workers=2) as executor:
        assert isinstance(executor, DaskExecutor)
        assert executor.client.scheduler.address.startswith("tcp://127.0.0.1:")
        # Two worker processes, neither of them this one: processes, not threads.
        pids = executor.client.run(os.getpid)
        assert len(pids) == 2 and len(set(pids.values())) == 2 and os.getpid() not in pids.values()
        assert all(address.startswith("tcp://127.0.0.1:") for address in pids)
        assert run_tasks(slow_square, [(2, 0.0), (3, 0.0)], executor=executor) == [4, 9]
        remote = backtest(panel, "hist_mean,bootstrap", executor=executor, seed=1, **run)
    assert executor.cluster.status.name == "closed"
    local = backtest(panel, "hist_mean,bootstrap", seed=1, **run)
    assert len(remote.scores) == len(local.scores) == 2 * 2 * 2 * len(local.cutoffs) > 0
    # Exactly: every score and PIT value bit for bit, not within a tolerance.
    pd.testing.assert_frame_equal(remote.scores, local.scores, check_exact=True)
    # The seed matters, so equality above is not luck: another run seed moves the bootstrap scores.
    other = backtest(panel, "hist_mean,bootstrap", seed=2, **run).scores
    boot = other["model"] == "bootstrap"
    assert not other.loc[boot, "crps"].equals(local.scores.loc[boot, "crps"])
    # hist_mean's CRPS is closed form: no seed in it, so it does not move.
    pd.testing.assert_series_equal(other.loc[~boot, "crps"], local.scores.loc[~boot, "crps"], check_exact=True)


@pytest.mark.slow
def test_an_unreachable_scheduler_address_fails_fast_with_a_clear_message():
    pytest.importorskip("distributed")
    import socket

    # A port that was just free on loopback: nothing listens there, so the connection is refused.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    started = time.monotonic()
    with pytest.raises(InputError) as info:
        get_executor("dask", address=address)
    elapsed = time.monotonic() - started
    assert elapsed < SCHEDULER_TIMEOUT_SECONDS + 5, f"took {elapsed:.1f} s"
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"no Dask scheduler answered at '{address}' within 5 s (")
    assert message.endswith(
        "check the address (tcp://HOST:PORT) and that `dask scheduler` runs there, "
        "or leave the address out for a local cluster"
    )
