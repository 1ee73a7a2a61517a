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
    executor_workers,
    get_executor,
    group_count,
    run_tasks,
    split_evenly,
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


def grid_panel(side: int, weeks: int, seed: int) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Counts on a ``side x side`` rook grid and its adjacency (unit ids G00..)."""
    n = side * side
    ids = [f"G{i:02d}" for i in range(n)]
    neighbours = {
        ids[i]: [ids[j] for j in (i - side, i + side, i - 1 if i % side else -1, i + 1 if (i + 1) % side else -1)
                 if 0 <= j < n]
        for i in range(n)
    }
    ds = pd.date_range("2020-01-06", periods=weeks, freq="W-MON")
    rates = np.random.default_rng(seed).gamma(1.5, 1.5, n)
    y = np.random.default_rng(seed + 1).poisson(np.repeat(rates, weeks))
    return pd.DataFrame({"unit_id": np.repeat(ids, weeks), "ds": np.tile(ds, n), "y": y}), neighbours


def test_group_sizes_aim_at_a_few_tasks_per_worker():
    # 4 tasks a worker in all, at least 50 units a group, no split for one worker.
    assert [group_count(3600, origins, 2) for origins in (1, 4, 8, 9, 400)] == [8, 2, 1, 1, 1]
    assert group_count(3600, 4, 8) == 8 and group_count(120, 1, 8) == 2 and group_count(3600, 4, 1) == 1
    assert group_count(100, 1, 2, min_size=10) == 8
    groups = split_evenly([f"U{i}" for i in range(103)], 4)
    assert [len(g) for g in groups] == [26, 26, 26, 25]
    assert sum(groups, []) == [f"U{i}" for i in range(103)]  # in order, each unit once
    assert split_evenly(["a", "b"], 5) == [["a"], ["b"]]
    with get_executor("processes", workers=3) as pool:
        assert executor_workers(pool) == 3


def test_backtest_split_by_unit_groups_scores_like_the_serial_run(tmp_path):
    """Any split of the units gives the serial score table bit for bit, also streamed to parquet."""
    from forecast.evaluation.backtest import backtest, read_backtest_scores

    panel, neighbours = grid_panel(4, 40, 3)
    # glm_nb has a neighbour term: it runs whole per origin while the others are split.
    models = "hist_mean,bootstrap,glm_poisson(ar=1),glm_poisson(neighbours=True, alias='glm_nb'),ensemble"
    run = dict(horizon=2, start="2020-07-06", every=4, n_draws=40, seed=5, neighbours=neighbours, progress=False)
    serial = backtest(panel, models, **run)
    assert len(serial.cutoffs) == 3 and len(serial.failures) == 0
    assert len(serial.scores) == 16 * 2 * 5 * 3
    for groups in (2, 3, 16):
        split = backtest(panel, models, unit_groups=groups, **run)
        pd.testing.assert_frame_equal(split.scores, serial.scores, check_exact=True)
    out = tmp_path / "bt"
    streamed = backtest(panel, models, unit_groups=5, out_dir=out, keep_forecasts=True, **run)
    assert streamed.forecasts is None  # the draws went to disk, not to memory
    pd.testing.assert_frame_equal(streamed.scores, serial.scores, check_exact=True)
    pd.testing.assert_frame_equal(read_backtest_scores(out), serial.scores, check_exact=True)
    # 3 cutoffs x (5 groups + 1 joint task): one scores file and one draws file each.
    assert len(list((out / "scores").glob("*/*.parquet"))) == len(list((out / "draws").glob("*/*.parquet"))) == 18
    with pytest.raises(ParameterError, match="is not an empty folder"):
        backtest(panel, models, out_dir=out, **run)
    # The seed matters: another run seed moves the bootstrap's PIT, so equality is not luck.
    other = backtest(panel, "bootstrap", unit_groups=2, **{**run, "seed": 6}).scores
    assert not np.array_equal(other["pit"], serial.scores.loc[serial.scores["model"] == "bootstrap", "pit"])


def test_a_model_failing_in_one_unit_group_fails_at_that_cutoff_as_on_the_whole_panel():
    from dataclasses import dataclass

    from forecast.evaluation.backtest import backtest
    from forecast.models.base import SeriesFitError
    from forecast.models.baselines import HistoricalMean

    @dataclass
    class BreaksOnG05(HistoricalMean):
        """hist_mean, except that unit G05 cannot be fitted on more than 30 periods (and has no fallback)."""

        alias: str = "breaks"

        def _fit_series(self, y, unit):
            if self.data_.units[unit] == "G05" and len(y) > 30:
                raise SeriesFitError("G05 broke")
            return super()._fit_series(y, unit)

        def _fallback_model(self, data):
            return None

    panel, _ = grid_panel(3, 40, 8)
    run = dict(horizon=2, start="2020-06-29", every=4, n_draws=20, seed=1, progress=False)
    serial = backtest(panel, ["hist_mean", BreaksOnG05()], **run)
    assert len(serial.cutoffs) == 4
    # Fitted on 26, 30, 34 and 38 periods: it fails at the last two cutoffs only, for every unit.
    assert serial.failures["cutoff"].tolist() == list(serial.cutoffs[2:])
    assert set(serial.scores.loc[serial.scores["model"] == "breaks", "cutoff"]) == set(serial.cutoffs[:2])
    for groups in (2, 9):
        split = backtest(panel, ["hist_mean", BreaksOnG05()], unit_groups=groups, **run)
        pd.testing.assert_frame_equal(split.scores, serial.scores, check_exact=True)
        pd.testing.assert_frame_equal(split.failures, serial.failures, check_exact=True)


@pytest.mark.slow
def test_dask_split_by_units_with_one_and_two_workers_gives_the_serial_backtest(tmp_path):
    pytest.importorskip("distributed")
    from forecast.evaluation.backtest import backtest, read_backtest_scores
    from forecast.models import forecast_panel

    panel, neighbours = grid_panel(11, 40, 4)  # 121 units: 2 groups of >= 50 on 2 workers
    models = "hist_mean,bootstrap,glm_poisson,glm_poisson(neighbours=True, alias='glm_nb')"
    run = dict(horizon=2, start="2020-08-03", every=4, n_draws=40, seed=7, neighbours=neighbours, progress=False)
    serial = backtest(panel, models, **run)
    forecast_run = dict(n_draws=30, seed=3, neighbours=neighbours, progress=False)
    here = forecast_panel(panel, models + ",ensemble", 3, **forecast_run)
    with get_executor("dask", workers=2) as executor:
        assert executor_workers(executor) == 2
        automatic = backtest(panel, models, executor=executor, out_dir=tmp_path / "auto", **run)
        fine = backtest(panel, models, executor=executor, unit_groups=7, **run)
        # predict: the separable models in 2 unit groups on the workers, the same draws as here.
        there = forecast_panel(panel, models + ",ensemble", 3, executor=executor, **forecast_run)
    pd.testing.assert_frame_equal(there.index, here.index, check_exact=True)
    assert np.array_equal(there.draws, here.draws) and there.meta == here.meta
    pd.testing.assert_frame_equal(automatic.scores, serial.scores, check_exact=True)
    pd.testing.assert_frame_equal(fine.scores, serial.scores, check_exact=True)
    pd.testing.assert_frame_equal(read_backtest_scores(tmp_path / "auto"), serial.scores, check_exact=True)
    # Chosen from the workers: 2 groups x 2 cutoffs plus one joint task per cutoff.
    assert len(serial.cutoffs) == 2
    assert len(list((tmp_path / "auto" / "scores").glob("*/group-*.parquet"))) == 4
    with get_executor("dask", workers=1) as executor:
        assert executor_workers(executor) == 1
        single = backtest(panel, models, executor=executor, unit_groups=3, **run)
    pd.testing.assert_frame_equal(single.scores, serial.scores, check_exact=True)


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
