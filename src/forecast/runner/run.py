"""Run the report notebooks: validate, execute with papermill, export, publish, lock.

One run turns ``config/default.yaml`` (plus ``-p`` overrides) into a folder of
reports::

    reports/
      .forecast-run.lock          while a run or prune is under way
      index.html                  latest successful run first, then every run
      latest.json                 {"run_id": ..., "folder": "runs/<run-id>"}
      runs/<run-id>/
        manifest.json             parameters, input sha256, versions, statuses, alerts
        01_data_overview.ipynb    executed copy (papermill's record, errors included)
        01_data_overview.html     the page for people: no code, no stderr
        04_early_warning.alerts.json

How a run goes, and why in this order:

1. Parameters are checked against what each selected notebook declares
   (:mod:`forecast.runner.params`) before anything is written: a typo costs seconds.
2. The reports dir is locked: an ``flock`` held for the whole run (the lock
   file records pid, host and start time). The kernel releases it when the run
   ends, however it ends; a killed run's record is reported as recovered.
3. The run is built in ``runs/.tmp-<run-id>/`` and renamed to ``runs/<run-id>/``
   when complete, so a reader never sees half a run; ``index.html`` and
   ``latest.json`` are rebuilt from the manifests and replaced atomically.
4. A failed notebook keeps its executed copy (with papermill's error), the run
   is marked failed, the previous successful run stays the latest, and
   :class:`~forecast.errors.RunError` is raised (the CLI exits 2).

Notebooks run in a kernel named ``forecast`` whose spec is written by the runner
into a private ``JUPYTER_PATH`` and points at this interpreter
(``sys.executable``), so they import the same ``forecast`` as the runner
whatever kernels the user has installed; matplotlib uses the headless inline
backend (Agg rendering; plain ``Agg`` would drop pyplot figures from reports).
They run with the project folder as working directory; a relative
``events_path`` is resolved against the project folder before it is passed on.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl  # POSIX: the run lock is an flock, released by the kernel when its process ends
import json
import logging
import os
import platform
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forecast import __version__
from forecast.checks import whole_number
from forecast.errors import LockError, ParameterError, RunError
from forecast.files import sha256_file, write_json_atomic, write_text_atomic
from forecast.report import notebook as report_pages
from forecast.runner.params import (
    DEFAULT_CONFIG,
    RUNNER_PARAMETERS,
    NotebookSpec,
    RunConfig,
    load_config,
    notebook_spec,
    validate_parameters,
)

logger = logging.getLogger(__name__)

LOCK_NAME = ".forecast-run.lock"
RUNS_DIR = "runs"
MANIFEST_NAME = "manifest.json"
LATEST_NAME = "latest.json"
INDEX_NAME = "index.html"
TMP_PREFIX = ".tmp-"
#: The forecast ledger, beside ``runs/`` (see :mod:`forecast.evaluation.ledger`).
LEDGER_DIR = "ledger"
#: Kernel name the notebooks are committed with and executed under.
KERNEL_NAME = "forecast"
#: Matplotlib backend of the kernel: Agg rendering, figures embedded in the notebook.
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
#: Report notebooks: two digits, underscore, name (``exploration_template.ipynb`` is not one).
NOTEBOOK_PATTERN = re.compile(r"^(\d{2})_[A-Za-z0-9_\-]+\.ipynb$")
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

Progress = Callable[[str], None]


# ---------------------------------------------------------------------------
# Finding things
# ---------------------------------------------------------------------------


def _looks_like_project(folder: Path) -> bool:
    return (folder / "notebooks").is_dir() and ((folder / DEFAULT_CONFIG).is_file() or (folder / "pyproject.toml").is_file())


def find_project_root(start: str | Path | None = None) -> Path:
    """The project folder: holds ``notebooks/`` and ``config/default.yaml`` (or ``pyproject.toml``).

    Searched from ``start`` (default: the working directory) upwards, then
    from the installed package's location (an editable install of this repository).

    Raises
    ------
    ParameterError
        No such folder found.
    """
    here = Path(start or Path.cwd()).absolute()
    for folder in (here, *here.parents):
        if _looks_like_project(folder):
            return folder
    package_root = Path(__file__).resolve().parents[3]  # src/forecast/runner/run.py -> the project
    if _looks_like_project(package_root):
        return package_root
    raise ParameterError(
        f"cannot find the project folder (with notebooks/ and config/default.yaml) from {here}; "
        "run from the project folder or pass --config and --notebooks-dir"
    )


def discover_notebooks(notebooks_dir: str | Path, select: Sequence[str] | str | None = None) -> list[Path]:
    """The report notebooks ``NN_name.ipynb`` in ``notebooks_dir``, in order.

    Parameters
    ----------
    notebooks_dir
        Folder of notebooks.
    select
        Which to run: numbers (``"01"``, ``"4"``), stems (``"04_early_warning"``)
        or names without number (``"early_warning"``); a comma-separated string
        is split. None runs all.

    Raises
    ------
    ParameterError
        No notebooks, or a selection that matches none.
    """
    folder = Path(notebooks_dir)
    if not folder.is_dir():
        raise ParameterError("notebooks folder not found; pass --notebooks-dir", path=folder)
    found = sorted(path for path in folder.iterdir() if NOTEBOOK_PATTERN.match(path.name))
    if not found:
        raise ParameterError("no report notebooks (NN_name.ipynb) in this folder", path=folder)
    if select is None or select == "" or select == []:
        return found
    tokens = [token.strip() for token in (select.split(",") if isinstance(select, str) else select)]
    chosen: list[Path] = []
    for token in filter(None, tokens):
        key = token.removesuffix(".ipynb")
        matches = [
            path
            for path in found
            if key in {path.stem, path.stem[:2], path.stem[3:]} or (key.isdigit() and int(key) == int(path.stem[:2]))
        ]
        if not matches:
            raise ParameterError(
                f"--notebooks: no notebook matches '{token}'; available: {', '.join(path.stem for path in found)}"
            )
        chosen.extend(path for path in matches if path not in chosen)
    return sorted(chosen)


def runs_dir(reports_dir: str | Path) -> Path:
    """``<reports_dir>/runs``."""
    return Path(reports_dir) / RUNS_DIR


# ---------------------------------------------------------------------------
# Lock
# ---------------------------------------------------------------------------


class RunLock:
    """Exclusive right to write a reports dir, held by one process at a time.

    The lock is an ``flock`` held for the whole run on
    ``<reports_dir>/.forecast-run.lock``, which also records the holder (pid,
    host, start time) for the message a second run gets. The kernel releases
    the ``flock`` when its process ends, however it ends (SIGKILL, OOM, a
    reboot), so liveness never depends on reading process tables; a record
    left on disk by a killed run is reported as recovered when the next run
    takes the lock. A record naming another host is respected (its process
    cannot be seen from here). The file is removed on release; a run that
    locked a file removed meanwhile tries again on the new one.

    Parameters
    ----------
    reports_dir
        The reports folder to protect.
    purpose
        Recorded in the lock ("run", "prune").
    on_recover
        Called with a one-line message when a killed run's lock is recovered.

    Examples
    --------
    >>> import tempfile
    >>> with RunLock(tempfile.mkdtemp()) as lock:
    ...     lock.path.exists()
    True
    """

    def __init__(self, reports_dir: str | Path, *, purpose: str = "run", on_recover: Progress | None = None) -> None:
        self.reports_dir = Path(reports_dir)
        self.path = self.reports_dir / LOCK_NAME
        self.purpose = purpose
        self.on_recover = on_recover
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def holder(self) -> dict[str, Any] | None:
        """What the lock file says (pid, hostname, started, ...), or None if absent, empty or unreadable."""
        try:
            record = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) else None

    def _refuse(self, holder: dict[str, Any] | None) -> LockError:
        holder = holder or {}
        return LockError(
            f"reports dir {self.reports_dir} is locked by {holder.get('purpose', 'run')} "
            f"pid {holder.get('pid', '?')} on {holder.get('hostname', '?')} started "
            f"{holder.get('started', '?')}; wait for it or remove {self.path} if that process is gone"
        )

    def acquire(self) -> RunLock:
        """Take the lock.

        Raises
        ------
        LockError
            Another process holds it (or a record of another host's run is there).
        """
        self.reports_dir.mkdir(parents=True, exist_ok=True)
        for _ in range(5):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise self._refuse(self.holder()) from None
            try:
                same_file = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same_file = False
            if not same_file:  # the previous holder removed it after we opened it: lock the new one
                os.close(fd)
                continue
            previous = self.holder()
            if previous is not None and previous.get("hostname") not in (None, socket.gethostname()):
                os.close(fd)
                raise self._refuse(previous)
            if previous is not None:
                message = (
                    f"recovered a stale lock in {self.reports_dir}: pid {previous.get('pid')} "
                    f"(started {previous.get('started')}) is no longer running"
                )
                logger.warning(message)
                if self.on_recover is not None:
                    self.on_recover(message)
            record = {
                "pid": os.getpid(),
                "hostname": socket.gethostname(),
                "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "purpose": self.purpose,
            }
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(record).encode("utf-8"), 0)
            os.fsync(fd)
            self._fd = fd
            return self
        raise LockError(f"could not take the lock {self.path}; try again")  # pragma: no cover - lost a race 5 times

    def release(self) -> None:
        """Remove the lock file and release the lock, if this object holds it."""
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # while still locked: a waiting run sees the inode change and retries
        os.close(self._fd)  # releases the flock
        self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _clean_interrupted(reports_dir: Path, progress: Progress | None) -> None:
    """Remove what killed runs left half-done (only call while holding the lock).

    Half-built run folders (``runs/.tmp-*``) and the temporary files of an
    atomic write that never reached its rename (``.index.html.*.tmp``,
    ``.latest.json.*.tmp``, ``alerts.json`` temporaries in run folders).
    """
    folder = runs_dir(reports_dir)
    leftovers = sorted(folder.glob(TMP_PREFIX + "*")) if folder.is_dir() else []
    for leftover in leftovers:
        shutil.rmtree(leftover, ignore_errors=True)
        _said(f"removed {leftover.name}, an incomplete run folder left by an interrupted run", progress)
    temporaries = [*reports_dir.glob(".*.tmp"), *(folder.glob("*/.*.tmp") if folder.is_dir() else [])]
    for leftover in sorted(temporaries):
        if leftover.is_file():
            leftover.unlink(missing_ok=True)
            _said(f"removed {leftover.relative_to(reports_dir)}, a temporary file left by an interrupted write",
                  progress)


def _said(message: str, progress: Progress | None) -> None:
    logger.warning(message)
    if progress is not None:
        progress(message)


def _check_writable(reports_dir: Path) -> None:
    """Refuse, before any notebook runs, a reports dir whose layout or disk cannot take a run."""
    folder = runs_dir(reports_dir)
    for path, want in ((folder, "a directory"), (reports_dir / INDEX_NAME, "a file"),
                       (reports_dir / LATEST_NAME, "a file")):
        wrong = path.exists() and (path.is_dir() if want == "a file" else not path.is_dir())
        if wrong:
            raise RunError(f"{path} must be {want}; move it away and run again (the reports there are kept)")
    if not os.access(reports_dir, os.W_OK):
        raise RunError(f"cannot write to {reports_dir}: the directory is read-only; choose --reports-dir or fix its "
                       "permissions")


@contextlib.contextmanager
def _disk_errors(reports_dir: Path) -> Iterator[None]:
    """Turn an OS error while writing the reports (full disk, read-only file system) into one line."""
    try:
        yield
    except OSError as exc:
        where = exc.filename or reports_dir
        raise RunError(
            f"cannot write the run's reports under {reports_dir} ({exc.strerror or exc} at {where}); "
            "free disk space or fix permissions and run again: the last good report is unchanged"
        ) from None


# ---------------------------------------------------------------------------
# Manifests, index, latest
# ---------------------------------------------------------------------------


def read_manifests(reports_dir: str | Path) -> list[dict[str, Any]]:
    """Manifests of the published runs, newest first (by start time, then run id).

    Folders without a readable ``manifest.json`` and half-built ``.tmp-*`` folders are skipped.
    """
    folder = runs_dir(reports_dir)
    manifests = []
    if folder.is_dir():
        for run_folder in folder.iterdir():
            if run_folder.name.startswith(".") or not run_folder.is_dir():
                continue
            try:
                manifest = json.loads((run_folder / MANIFEST_NAME).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            manifest["folder"] = f"{RUNS_DIR}/{run_folder.name}"
            manifests.append(manifest)
    manifests.sort(key=lambda m: (str(m.get("started", "")), str(m.get("run_id", ""))), reverse=True)
    return manifests


def latest_successful(manifests: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The newest published manifest whose status is ``ok`` (``manifests`` newest first).

    Runs made with ``publish=False`` (partial, retrospective or trial runs)
    are archived and listed but never become the latest report; manifests
    written before the flag existed count as published.
    """
    return next(
        (manifest for manifest in manifests if manifest.get("status") == "ok" and manifest.get("published", True)),
        None,
    )


def publish_index(reports_dir: str | Path) -> Path:
    """Rebuild ``latest.json`` and ``index.html`` from the manifests, atomically.

    The latest run is the newest *successful* one, so a failed run never
    replaces a good report.
    """
    reports_dir = Path(reports_dir)
    manifests = read_manifests(reports_dir)
    latest = latest_successful(manifests)
    if latest is not None:
        write_json_atomic(
            reports_dir / LATEST_NAME,
            {
                "run_id": latest["run_id"],
                "folder": latest["folder"],
                "as_of": latest.get("parameters", {}).get("as_of"),
                "finished": latest.get("finished"),
                "reports": [f"{latest['folder']}/{entry['html']}" for entry in latest.get("notebooks", []) if entry.get("html")],
            },
        )
    else:
        with contextlib.suppress(FileNotFoundError):
            (reports_dir / LATEST_NAME).unlink()
    index = reports_dir / INDEX_NAME
    write_text_atomic(index, report_pages.render_index(manifests, None if latest is None else latest["run_id"]))
    return index


# ---------------------------------------------------------------------------
# Planning and running
# ---------------------------------------------------------------------------


@dataclass
class RunPlan:
    """A checked run, before anything is written.

    Attributes
    ----------
    config
        Parameters after overrides and checks.
    notebooks
        Selected notebooks and what they declare.
    parameters
        Notebook name to the parameters it receives (``output_dir`` filled at run time).
    project_root, reports_dir
        Working directory of the notebooks; where runs are published.
    input
        What the run reads: ``{"source", "events_path", "sha256"}``.
    """

    config: RunConfig
    notebooks: list[NotebookSpec]
    parameters: dict[str, dict[str, Any]]
    project_root: Path
    reports_dir: Path
    input: dict[str, Any]


def _input_record(config: RunConfig, project_root: Path) -> dict[str, Any]:
    values = config.values
    source = values.get("source", "synthetic")
    if source == "synthetic":
        synthetic = values.get("synthetic") or {}
        seed = synthetic.get("seed", values.get("seed", "default"))
        return {"source": "synthetic", "events_path": None, "sha256": f"synthetic:{seed}"}
    path = Path(str(values["events_path"])).expanduser()
    if not path.is_absolute():
        path = project_root / path
    if not path.is_file():
        raise ParameterError(
            f"events_path not found (relative paths are read from the project folder {project_root}); "
            "check the path or run `forecast ingest` first",
            path=path,
        )
    from forecast.data.ingest import check_event_file

    check_event_file(path)  # a .env or a bomb is refused here, before a notebook could quote it
    values["events_path"] = str(path)  # notebooks get an absolute path whatever their cwd
    return {"source": source, "events_path": str(path), "sha256": sha256_file(path), "bytes": path.stat().st_size}


def plan_run(
    config_path: str | Path | None = None,
    overrides: Sequence[str] = (),
    *,
    notebooks_dir: str | Path | None = None,
    select: Sequence[str] | str | None = None,
    reports_dir: str | Path | None = None,
    project_root: str | Path | None = None,
) -> RunPlan:
    """Load and check everything a run needs; writes nothing.

    Parameters
    ----------
    config_path
        Parameter file; default ``<project>/config/default.yaml``.
    overrides
        ``key=value`` strings (``-p``).
    notebooks_dir
        Default ``<project>/notebooks``.
    select
        Notebooks to run (see :func:`discover_notebooks`).
    reports_dir
        Default ``<project>/reports``.
    project_root
        Default: :func:`find_project_root`.

    Raises
    ------
    ParameterError
        Unknown names, wrong types, missing files.
    """
    root = Path(project_root).absolute() if project_root is not None else find_project_root()
    if config_path is None:
        config_path = root / DEFAULT_CONFIG
    config = load_config(config_path, overrides)
    folder = Path(notebooks_dir) if notebooks_dir is not None else root / "notebooks"
    specs = [notebook_spec(path) for path in discover_notebooks(folder, select)]
    parameters = validate_parameters(config, specs, injected={"output_dir": None, "ledger_dir": None})
    record = _input_record(config, root)
    if record["events_path"] is not None:
        for chosen, spec in zip(parameters.values(), specs, strict=True):
            if "events_path" in spec.parameters:
                chosen["events_path"] = record["events_path"]
    reports = Path(reports_dir).absolute() if reports_dir is not None else root / "reports"
    return RunPlan(config, specs, parameters, root, reports, record)


#: The parameters every report notebook passes to ``open_report`` (the data it opens).
_DATA_PARAMETERS = ("source", "events_path", "actor", "country", "freq", "as_of", "synthetic", "columns", "aliases")


def _as_run_parameters(text: str) -> str:
    """A reader's advice in run terms: ``--columns a=B,c=D`` -> ``-p columns.a=B -p columns.c=D``, and so on.

    Examples
    --------
    >>> _as_run_parameters("map yours with --columns admin1=Province,date=Date; or pass --country AFG")
    'map yours with -p columns.admin1=Province -p columns.date=Date; or pass -p country=AFG'
    """
    text = re.sub(r"--columns (\S+?)(?=[;,.]?(\s|$))",
                  lambda m: " ".join(f"-p columns.{pair}" for pair in m.group(1).split(",")), text)
    return re.sub(r"--(actor|country)\b ?", r"-p \1=", text)


def check_run_data(plan: RunPlan) -> None:
    """Open the data as the selected notebooks will and check what depends on it, before any of them runs.

    What only the data can tell (an ``as_of`` before the data start, a country
    without a gazetteer, a stronghold that is no unit of the panel, a file with
    a row dated in year 9999, a boundary file that holds no geometry, a panel
    too short for the models or the backtest's origins, draws that would not
    fit in memory) is then one line and no run, instead of the same error in
    every notebook and a failed run in the index. Each distinct data selection
    is read once. Writes nothing.

    Raises
    ------
    ForecastError
        What :func:`forecast.data.dataset.load_dataset`,
        :func:`forecast.spread.find_stronghold`,
        :func:`forecast.geo.boundaries.load_boundaries`,
        :class:`forecast.panel.PanelData`, :func:`forecast.checks.draw_budget` or
        :func:`forecast.evaluation.backtest.rolling_origins` refuse.
    """
    from forecast.data.dataset import load_dataset
    from forecast.errors import ForecastError
    from forecast.spread import find_stronghold

    opened: dict[str, Any] = {}
    for spec in plan.notebooks:
        if "source" not in spec.parameters:
            continue  # a notebook that opens no data
        given = {name: declared.default for name, declared in spec.parameters.items()}
        given.update(plan.parameters.get(spec.name, {}))
        data_args = {name: given.get(name) for name in _DATA_PARAMETERS}
        key = json.dumps(data_args, sort_keys=True, default=str)
        if key not in opened:
            events_path = data_args.pop("events_path")
            if events_path is not None and not Path(str(events_path)).is_absolute():
                events_path = plan.project_root / str(events_path)
            data_args["columns"] = data_args.get("columns") or None
            data_args["aliases"] = data_args.get("aliases") or None
            try:
                opened[key] = load_dataset(data_args.pop("source") or "synthetic", events_path,
                                           freq=data_args.pop("freq") or "W-MON", **data_args)
            except ForecastError as exc:  # say the run parameter, not the command-line option of `predict`
                raise type(exc)(_as_run_parameters(exc.detail), path=exc.path, row=exc.row, column=exc.column) from None
        boundaries = given.get("boundaries_path")
        if boundaries is not None:
            from forecast.geo.boundaries import load_boundaries

            path = Path(str(boundaries)).expanduser()
            load_boundaries(opened[key].country, path=path if path.is_absolute() else plan.project_root / path)
        stronghold = given.get("stronghold")
        if stronghold is not None and stronghold != "auto":
            try:
                find_stronghold(opened[key].panel, given=stronghold)
            except ForecastError as exc:
                raise ParameterError(f"parameter 'stronghold' {stronghold!r}: {exc.detail}") from None
        if "models" in spec.parameters and "horizon" in spec.parameters:
            _check_forecast_size(opened[key].panel, given)


def _check_forecast_size(panel: Any, given: dict[str, Any]) -> None:
    """The panel is one the models can fit, and the draws of ``horizon`` x draws x models fit in memory."""
    from forecast.checks import draw_budget
    from forecast.models.registry import expand_ensembles
    from forecast.panel import PanelData

    data = PanelData.from_panel(panel, freq=given.get("freq") or "W-MON")
    # A forecast holds every model's draws at once, a backtest one model's at a time.
    name = "backtest_draws" if "backtest_draws" in given else "n_draws"
    models = 1 if name == "backtest_draws" else len(expand_ensembles(list(given.get("models") or [])))
    if given.get(name) is None or given.get("horizon") is None:
        return
    try:
        draw_budget(len(data.units), given["horizon"], given[name], models)
    except ParameterError as exc:
        raise ParameterError(f"parameters 'horizon' and '{name}': {exc.detail}") from None
    if "backtest_start" in given:  # the backtest's origins, as the notebook asks for them
        from forecast.evaluation.backtest import rolling_origins

        try:
            rolling_origins(data.ds, given["horizon"], start=given["backtest_start"],
                            every=given.get("backtest_every") or 1)
        except ParameterError as exc:
            raise ParameterError(f"parameters 'backtest_start', 'horizon' and 'as_of': {exc.detail}; choose an "
                                 "earlier backtest_start or a shorter horizon") from None


@dataclass
class NotebookResult:
    """Outcome of one notebook in a run."""

    name: str
    status: str
    duration_s: float
    parameters: dict[str, Any]
    executed: str | None = None
    html: str | None = None
    error: dict[str, Any] | None = None
    alerts: dict[str, Any] | None = None
    source: str = ""
    source_sha256: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready record for the manifest."""
        return {
            "name": self.name,
            "status": self.status,
            "duration_s": round(self.duration_s, 2),
            "source": self.source,
            "source_sha256": self.source_sha256,
            "executed": self.executed,
            "html": self.html,
            "parameters": self.parameters,
            "error": self.error,
            "alerts": self.alerts,
        }


@dataclass
class RunResult:
    """A finished (published) run."""

    run_id: str
    folder: Path
    status: str
    notebooks: list[NotebookResult]
    manifest: dict[str, Any]
    index: Path
    previous_latest: str | None = None
    latest: str | None = None
    messages: list[str] = field(default_factory=list)
    #: Runs this run added to the forecast ledger (itself, and any a killed run left out).
    ledger_appended: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every notebook succeeded."""
        return self.status == "ok"


def make_run_id(as_of: str | None, now: dt.datetime | None = None) -> str:
    """``<as-of>_<UTC timestamp>``, e.g. ``2021-12-27_20250106T060000Z``; safe characters only.

    >>> make_run_id("2021-12-27", dt.datetime(2025, 1, 6, 6, 0, tzinfo=dt.UTC))
    '2021-12-27_20250106T060000Z'
    >>> make_run_id(None, dt.datetime(2025, 1, 6, 6, 0, tzinfo=dt.UTC))
    'data-end_20250106T060000Z'

    Without an as-of date the run judges the data's end ("latest" would read as "the latest report").
    """
    now = now or dt.datetime.now(dt.UTC)
    label = re.sub(r"[^A-Za-z0-9.-]+", "-", str(as_of)).strip("-.") if as_of else "data-end"
    return f"{label or 'data-end'}_{now.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}"


def _unique_run_id(reports_dir: Path, base: str) -> str:
    folder = runs_dir(reports_dir)
    candidate, n = base, 1
    while (folder / candidate).exists() or (folder / (TMP_PREFIX + candidate)).exists():
        n += 1
        candidate = f"{base}-{n}"
    assert _SAFE_ID.match(candidate), candidate
    return candidate


@contextlib.contextmanager
def kernel_environment() -> Iterator[str]:
    """A private ``forecast`` kernelspec that runs this interpreter; yields the kernel name.

    The spec is written to a temporary folder put first on ``JUPYTER_PATH``
    (restored afterwards), so a user-level ``forecast`` kernel pointing at
    another Python cannot capture the run. The kernel's matplotlib backend is
    the headless inline one (Agg rendering) whatever the caller's ``MPLBACKEND``.
    """
    with tempfile.TemporaryDirectory(prefix="forecast-kernel-") as tmp:
        spec_dir = Path(tmp) / "kernels" / KERNEL_NAME
        spec_dir.mkdir(parents=True)
        spec = {
            # log_level=CRITICAL: the kernel's start-up warnings (TCP without encryption on
            # localhost) and the "KeyboardInterrupt caught" it logs at ERROR when papermill
            # shuts it down would otherwise reach every cron mail. Cell errors are not lost:
            # papermill records them in the executed notebook and the runner reports them.
            "argv": [
                sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                "--IPKernelApp.log_level=CRITICAL",
            ],
            "display_name": "Python 3 (forecast runner)",
            "language": "python",
            # The inline backend renders with Agg (headless, no windows) and, unlike plain
            # Agg, puts pyplot figures into the notebook, so they reach the HTML report.
            "env": {"MPLBACKEND": INLINE_BACKEND, "PYDEVD_DISABLE_FILE_VALIDATION": "1"},
            "metadata": {"debugger": False},
        }
        (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")
        saved = os.environ.get("JUPYTER_PATH")
        os.environ["JUPYTER_PATH"] = os.pathsep.join([tmp, *([saved] if saved else [])])
        try:
            yield KERNEL_NAME
        finally:
            if saved is None:
                os.environ.pop("JUPYTER_PATH", None)
            else:
                os.environ["JUPYTER_PATH"] = saved


def _git_commit(project_root: Path) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(project_root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return (done.stdout.strip() or None) if done.returncode == 0 else None


def _one_line(text: Any, limit: int = 300) -> str:
    flat = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", str(text)).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _execute(
    spec: NotebookSpec,
    parameters: dict[str, Any],
    output: Path,
    *,
    kernel_name: str,
    cwd: Path,
    cell_timeout: int | None,
) -> dict[str, Any] | None:
    """Run one notebook with papermill; return None on success or the error record."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    # papermill's own parameter inference cannot read annotations like `str | None`
    # or None defaults and warns for each; forecast.runner.params has already checked them.
    papermill_logger = logging.getLogger("papermill")
    saved_level = papermill_logger.level
    papermill_logger.setLevel(logging.ERROR)
    try:
        pm.execute_notebook(
            str(spec.path),
            str(output),
            parameters=parameters,
            kernel_name=kernel_name,
            cwd=str(cwd),
            progress_bar=False,
            log_output=False,
            start_timeout=120,
            execution_timeout=cell_timeout,
        )
    except PapermillExecutionError as exc:
        return {
            "ename": exc.ename,
            "evalue": _one_line(exc.evalue),
            "cell_index": exc.cell_index,
            "execution_count": exc.exec_count,
        }
    except Exception as exc:  # noqa: BLE001 - kernel death, timeouts: the run records them and goes on
        return {"ename": type(exc).__name__, "evalue": _one_line(exc), "cell_index": None, "execution_count": None}
    finally:
        papermill_logger.setLevel(saved_level)
    return None


def _collect_alerts(run_folder: Path, name: str) -> dict[str, Any] | None:
    """Move ``alerts.json`` written by notebook ``name`` to ``<name>.alerts.json`` and return it."""
    written = run_folder / report_pages.ALERTS_FILE
    if not written.exists():
        return None
    target = run_folder / f"{name}.alerts.json"
    os.replace(written, target)
    try:
        summary = json.loads(target.read_text(encoding="utf-8"))
    except ValueError:
        logger.warning("%s wrote an unreadable %s; ignored", name, report_pages.ALERTS_FILE)
        return None
    return summary if isinstance(summary, dict) else None


def run_reports(
    config_path: str | Path | None = None,
    overrides: Sequence[str] = (),
    *,
    notebooks_dir: str | Path | None = None,
    select: Sequence[str] | str | None = None,
    reports_dir: str | Path | None = None,
    project_root: str | Path | None = None,
    progress: Progress | None = None,
    cell_timeout: int | None = None,
    raise_on_failure: bool = True,
    now: dt.datetime | None = None,
    publish: bool = True,
) -> RunResult:
    """Run the report notebooks and publish a run folder.

    Parameters
    ----------
    config_path, overrides, notebooks_dir, select, reports_dir, project_root
        See :func:`plan_run`.
    progress
        Called with one line per notebook (name, status, duration) and a
        closing line; None is silent.
    cell_timeout
        Seconds a single cell may run (None: no limit).
    raise_on_failure
        Raise :class:`RunError` when a notebook fails (after publishing the
        failed run); otherwise return the result with ``status == "failed"``.
    now
        Clock for the run id (tests).
    publish
        Whether a successful run becomes the latest report (``latest.json``
        and the index headline). A run of selected notebooks only is never
        published; it is archived and listed like every run.

    Returns
    -------
    RunResult

    Raises
    ------
    ParameterError
        Before anything is written.
    LockError
        Another run holds the reports dir.
    RunError
        A notebook failed (the previous latest run stays the latest).
    """
    say = progress or (lambda _message: None)
    plan = plan_run(
        config_path,
        overrides,
        notebooks_dir=notebooks_dir,
        select=select,
        reports_dir=reports_dir,
        project_root=project_root,
    )
    check_run_data(plan)
    reports = plan.reports_dir
    with RunLock(reports, purpose="run", on_recover=say), _disk_errors(reports):
        _check_writable(reports)
        _clean_interrupted(reports, say)
        # A run killed between its rename and the index leaves latest.json and index.html
        # disagreeing, or behind the run folders: rebuild both from the manifests first.
        publish_index(reports)
        previous = latest_successful(read_manifests(reports))
        run_id = _unique_run_id(reports, make_run_id(plan.config.values.get("as_of"), now))
        building = runs_dir(reports) / (TMP_PREFIX + run_id)
        building.mkdir(parents=True)
        try:
            every_notebook = discover_notebooks(plan.notebooks[0].path.parent)
            published = publish and len(plan.notebooks) == len(every_notebook)
            result = _build_run(plan, run_id, building, say, cell_timeout, published=published)
            final = runs_dir(reports) / run_id
            os.replace(building, final)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)  # interrupted: leave nothing half-built
            raise
        result.folder = final
        result.previous_latest = None if previous is None else previous["run_id"]
        result.ledger_appended = sync_ledger(reports, progress=say)
        result.index = publish_index(reports)
        latest = latest_successful(read_manifests(reports))
        result.latest = None if latest is None else latest["run_id"]

    try:
        shown = final.relative_to(Path.cwd())
    except ValueError:
        shown = final
    from forecast.panel import plural  # late: the runner's import stays light

    if result.ok:
        kept = "" if result.manifest.get("published") else " (archived, not the latest report: partial run or no --publish)"
        say(f"run {run_id}: ok, {plural(len(result.notebooks), 'notebook')} in {shown}{kept}; index: {result.index}")
        return result
    failed = [entry for entry in result.notebooks if entry.status != "ok"]
    first = failed[0]
    error = first.error or {}
    where = f" (cell {error['cell_index']})" if error.get("cell_index") is not None else ""
    keep = f"the latest report is still {result.latest}" if result.latest else "there is no successful run yet"
    message = (
        f"run {run_id} failed: {first.name} raised {error.get('ename')}: {error.get('evalue')}{where}"
        + (f" (+{len(failed) - 1} more failed)" if len(failed) > 1 else "")
        + f"; executed copy: {shown / (first.executed or '')}; {keep}"
    )
    say(f"run {run_id}: FAILED ({len(failed)} of {plural(len(result.notebooks), 'notebook')}); index: {result.index}")
    if raise_on_failure:
        raise RunError(message)
    result.messages.append(message)
    return result


def _build_run(
    plan: RunPlan, run_id: str, building: Path, say: Progress, cell_timeout: int | None, *, published: bool
) -> RunResult:
    started = dt.datetime.now(dt.UTC)
    results: list[NotebookResult] = []
    total = len(plan.notebooks)
    with kernel_environment() as kernel_name:
        for position, spec in enumerate(plan.notebooks, start=1):
            parameters = dict(plan.parameters[spec.name])
            if "output_dir" in spec.parameters:
                parameters["output_dir"] = str(building)
            if "ledger_dir" in spec.parameters:
                parameters["ledger_dir"] = str(ledger_path(plan.reports_dir))
            executed = building / spec.path.name
            clock = time.monotonic()
            error = _execute(spec, parameters, executed, kernel_name=kernel_name, cwd=plan.project_root, cell_timeout=cell_timeout)
            duration = time.monotonic() - clock
            result = NotebookResult(
                name=spec.name,
                status="ok" if error is None else "failed",
                duration_s=duration,
                parameters={key: value for key, value in parameters.items() if key not in RUNNER_PARAMETERS},
                executed=executed.name if executed.exists() else None,
                error=error,
                alerts=_collect_alerts(building, spec.name),
                source=str(spec.path),
                source_sha256=sha256_file(spec.path),
            )
            results.append(result)
            detail = "" if error is None else f" ({error['ename']}: {_one_line(error['evalue'], 120)})"
            say(f"[{position}/{total}] {spec.name}: {'ok' if error is None else 'FAILED'} in {duration:.1f} s{detail}")

    merged_alerts = report_pages.merge_alert_summaries(result.alerts for result in results)
    values = plan.config.values
    links = [("All runs (index)", "../../index.html")] + [
        (result.name, f"{result.name}.html") for result in results if result.executed
    ]
    for result in results:
        if not result.executed:
            continue
        title = report_pages.report_title(result.name, values)
        failure = None
        if result.error:
            failure = f"{result.error['ename']}: {result.error['evalue']}"
        header = report_pages.report_header(
            title=title, parameters=values, alerts=merged_alerts, links=links, failure=failure, run_id=run_id
        )
        report_pages.export_html(building / result.executed, building / f"{result.name}.html", title=title, header_html=header)
        result.html = f"{result.name}.html"

    finished = dt.datetime.now(dt.UTC)
    status = "ok" if all(result.status == "ok" for result in results) else "failed"
    manifest = _manifest(plan, run_id, status, started, finished, results, merged_alerts)
    manifest["published"] = published
    write_json_atomic(building / MANIFEST_NAME, manifest)
    return RunResult(run_id=run_id, folder=building, status=status, notebooks=results, manifest=manifest, index=plan.reports_dir / INDEX_NAME)


def _manifest(
    plan: RunPlan,
    run_id: str,
    status: str,
    started: dt.datetime,
    finished: dt.datetime,
    results: list[NotebookResult],
    alerts: dict[str, Any] | None,
) -> dict[str, Any]:
    import nbconvert
    import papermill

    return {
        "schema": "forecast.run/1",
        "run_id": run_id,
        "status": status,
        "started": started.isoformat(timespec="seconds"),
        "finished": finished.isoformat(timespec="seconds"),
        "duration_s": round((finished - started).total_seconds(), 2),
        "synthetic": plan.config.is_synthetic,
        "config_file": None if plan.config.path is None else str(Path(plan.config.path).absolute()),
        "overrides": plan.config.overrides,
        "parameters": plan.config.values,
        "input": plan.input,
        "package_version": __version__,
        "python_version": platform.python_version(),
        "python": sys.executable,
        "kernel": KERNEL_NAME,
        "tools": {"papermill": papermill.__version__, "nbconvert": nbconvert.__version__},
        "git_commit": _git_commit(plan.project_root),
        "hostname": socket.gethostname(),
        "project_root": str(plan.project_root),
        "notebooks": [result.as_dict() for result in results],
        "alerts": alerts,
    }


# ---------------------------------------------------------------------------
# The forecast ledger
# ---------------------------------------------------------------------------


def ledger_path(reports_dir: str | Path) -> Path:
    """The forecast ledger of a reports dir: ``reports/ledger``."""
    return Path(reports_dir) / LEDGER_DIR


def _ledger_candidates(reports_dir: Path) -> list[dict[str, Any]]:
    """Manifests of the runs that belong in the ledger, oldest first: successful, published, with an entry.

    Only the runs that become the latest report (scheduled or ``--publish``,
    all notebooks) are the record of what was forecast; retrospective and
    trial runs are not.
    """
    from forecast.evaluation.ledger import ENTRY_NAME

    chosen = [
        manifest
        for manifest in read_manifests(reports_dir)
        if manifest.get("status") == "ok"
        and manifest.get("published", True)
        and (reports_dir / manifest["folder"] / ENTRY_NAME).is_dir()
    ]
    return chosen[::-1]


def _append_to_ledger(ledger: Path, reports_dir: Path, manifest: dict[str, Any]) -> None:
    from forecast.evaluation.ledger import ENTRY_NAME, append_entry

    append_entry(
        ledger,
        manifest["run_id"],
        reports_dir / manifest["folder"] / ENTRY_NAME,
        meta={"input": manifest.get("input"), "parameters": manifest.get("parameters"), "started": manifest.get("started")},
    )


def _sweep_ledger(ledger: Path) -> None:
    from forecast.evaluation.ledger import TMP_PREFIX as LEDGER_TMP

    if ledger.is_dir():
        for leftover in ledger.glob(LEDGER_TMP + "*"):
            shutil.rmtree(leftover, ignore_errors=True)


def sync_ledger(reports_dir: str | Path, *, progress: Progress | None = None) -> list[str]:
    """Append to the ledger every published successful run folder it lacks (call while holding the lock).

    Called after each run, so a run killed after its folder was complete but
    before its append is added by the next run. A failure to append (a full
    disk) is reported and retried by the next run; it does not fail the run.

    Returns
    -------
    list of str
        The run ids appended, oldest first.
    """
    from forecast.errors import ForecastError
    from forecast.evaluation.ledger import run_ids

    reports_dir = Path(reports_dir)
    ledger = ledger_path(reports_dir)
    _sweep_ledger(ledger)
    held = set(run_ids(ledger))
    appended = []
    for manifest in _ledger_candidates(reports_dir):
        if manifest["run_id"] in held:
            continue
        try:
            _append_to_ledger(ledger, reports_dir, manifest)
        except (OSError, ForecastError) as exc:
            message = f"could not add run {manifest['run_id']} to the forecast ledger ({_one_line(exc, 160)}); the next run retries"
            logger.warning(message)
            if progress is not None:
                progress(message)
            break
        appended.append(manifest["run_id"])
    return appended


def rebuild_ledger(reports_dir: str | Path, *, progress: Progress | None = None) -> list[str]:
    """Rebuild ``reports/ledger`` from the archived run folders, in the order the runs started.

    The new ledger is built beside the old one and swapped in under the run
    lock; pruned runs are no longer archived and so are not in the rebuilt
    ledger.

    Returns
    -------
    list of str
        The run ids in the rebuilt ledger.
    """
    reports_dir = Path(reports_dir)
    ledger = ledger_path(reports_dir)
    with RunLock(reports_dir, purpose="ledger rebuild", on_recover=progress):
        building = reports_dir / f".{LEDGER_DIR}-rebuild"
        retired = reports_dir / f".{LEDGER_DIR}-old"
        for leftover in (building, retired):
            shutil.rmtree(leftover, ignore_errors=True)
        rebuilt = []
        try:
            building.mkdir()
            for manifest in _ledger_candidates(reports_dir):
                _append_to_ledger(building, reports_dir, manifest)
                rebuilt.append(manifest["run_id"])
            if ledger.exists():
                os.replace(ledger, retired)
            os.replace(building, ledger)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            if retired.exists() and not ledger.exists():
                os.replace(retired, ledger)  # put the old ledger back
            raise
        shutil.rmtree(retired, ignore_errors=True)
    if progress is not None:
        progress(f"ledger {ledger}: rebuilt from {len(rebuilt)} archived run(s)")
    return rebuilt


# ---------------------------------------------------------------------------
# Retention
# ---------------------------------------------------------------------------


def prune_runs(reports_dir: str | Path, keep: int, *, progress: Progress | None = None) -> list[str]:
    """Delete all but the ``keep`` newest runs; never the latest successful one.

    Parameters
    ----------
    reports_dir
        The reports folder.
    keep
        Runs to keep (at least 1).
    progress
        Called with one line per deleted run.

    Returns
    -------
    list of str
        Run ids deleted.
    """
    whole_number(keep, "--keep")
    reports_dir = Path(reports_dir)
    say = progress or (lambda _message: None)
    with RunLock(reports_dir, purpose="prune", on_recover=say):
        manifests = read_manifests(reports_dir)
        latest = latest_successful(manifests)
        doomed = [m for m in manifests[keep:] if latest is None or m["run_id"] != latest["run_id"]]
        trash: list[Path] = []
        for manifest in doomed:
            folder = reports_dir / manifest["folder"]
            # Out of the index's sight first (a .tmp- name is skipped), delete after republishing.
            hidden = folder.with_name(f"{TMP_PREFIX}prune-{folder.name}")
            os.replace(folder, hidden)
            trash.append(hidden)
            say(f"deleted run {manifest['run_id']} ({manifest.get('status')})")
        publish_index(reports_dir)
        for hidden in trash:
            shutil.rmtree(hidden, ignore_errors=True)
    return [manifest["run_id"] for manifest in doomed]


# ---------------------------------------------------------------------------
# Scheduling
# ---------------------------------------------------------------------------

_MACROS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
_MONTHS = {name: n for n, name in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)}
_DAYS = {name: n for n, name in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
_SYSTEMD_DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def _cron_number(text: str, field_name: str, low: int, high: int, names: dict[str, int] | None) -> int:
    key = text.lower()
    if names and key in names:
        return names[key]
    if not text.isdigit() or not low <= int(text) <= high:
        raise ParameterError(f"--cron: {field_name} '{text}' is not a number from {low} to {high}")
    return int(text)


def _cron_field(text: str, field_name: str, low: int, high: int, names: dict[str, int] | None = None, width: int = 2) -> str:
    """One cron field as a systemd calendar component (``*``, ``1,3``, ``1..5``, ``00/15``)."""
    if text == "*":
        return "*"
    parts = []
    for item in text.split(","):
        base, slash, step = item.partition("/")
        if slash:
            if not step.isdigit() or int(step) < 1:
                raise ParameterError(f"--cron: {field_name} step '{step}' must be a positive number")
            if base == "*":
                parts.append(f"{low:0{width}d}/{int(step)}")
                continue
            if "-" in base:
                raise ParameterError(f"--cron: {field_name} '{item}' (a range with a step) has no systemd equivalent; list the values")
            parts.append(f"{_cron_number(base, field_name, low, high, names):0{width}d}/{int(step)}")
            continue
        if "-" in base:
            first, _, last = base.partition("-")
            a = _cron_number(first, field_name, low, high, names)
            b = _cron_number(last, field_name, low, high, names)
            parts.append(f"{a:0{width}d}..{b:0{width}d}")
            continue
        parts.append(f"{_cron_number(base, field_name, low, high, names):0{width}d}")
    return ",".join(parts)


def _cron_weekdays(text: str) -> str:
    if text == "*":
        return ""
    parts = []
    for item in text.split(","):
        if "/" in item:
            raise ParameterError(f"--cron: day-of-week '{item}' with a step has no systemd equivalent; list the days")
        if "-" in item:
            first, _, last = item.partition("-")
            a = _cron_number(first, "day-of-week", 0, 7, _DAYS)
            b = _cron_number(last, "day-of-week", 0, 7, _DAYS)
            parts.append(f"{_SYSTEMD_DAYS[a]}..{_SYSTEMD_DAYS[b]}")
        else:
            parts.append(_SYSTEMD_DAYS[_cron_number(item, "day-of-week", 0, 7, _DAYS)])
    return ",".join(parts)


def cron_to_oncalendar(expression: str) -> str:
    """Translate a five-field cron expression into a systemd ``OnCalendar=`` value.

    >>> cron_to_oncalendar("0 6 * * 1")
    'Mon *-*-* 06:00:00'
    >>> cron_to_oncalendar("*/15 8-18 * * mon-fri")
    'Mon..Fri *-*-* 08..18:00/15:00'
    >>> cron_to_oncalendar("@daily")
    '*-*-* 00:00:00'
    """
    text = _MACROS.get(expression.strip().lower(), expression.strip())
    fields = text.split()
    if len(fields) != 5:
        raise ParameterError(f"--cron '{expression}' needs five fields: minute hour day-of-month month day-of-week, e.g. \"0 6 * * 1\"")
    minute, hour, day, month, weekday = fields
    if day != "*" and weekday != "*":
        raise ParameterError(
            f"--cron '{expression}': cron runs when either the day of month or the weekday matches, "
            "systemd only when both do; restrict one of them"
        )
    days = _cron_weekdays(weekday)
    date = f"*-{_cron_field(month, 'month', 1, 12, _MONTHS)}-{_cron_field(day, 'day-of-month', 1, 31)}"
    clock = f"{_cron_field(hour, 'hour', 0, 23)}:{_cron_field(minute, 'minute', 0, 59)}:00"
    return f"{days + ' ' if days else ''}{date} {clock}"


def forecast_executable() -> list[str]:
    """The command that runs ``forecast`` in this virtual environment (absolute paths)."""
    script = Path(sys.executable).absolute().parent / "forecast"
    if script.is_file():
        return [str(script)]
    return [str(Path(sys.executable).absolute()), "-m", "forecast.cli"]  # pragma: no cover - not installed as script


@dataclass(frozen=True)
class Schedule:
    """A crontab line and a systemd service + timer pair running ``forecast run``."""

    cron: str
    oncalendar: str
    command: list[str]
    project_root: Path
    crontab: str
    service: str
    timer: str
    unit_name: str
    warnings: list[str] = field(default_factory=list)

    def text(self) -> str:
        """Everything, with install hints, for printing."""
        return "\n".join(
            [
                "# --- cron: add with `crontab -e` ---",
                self.crontab,
                "",
                f"# --- systemd: save as ~/.config/systemd/user/{self.unit_name}.service ---",
                self.service,
                f"# --- systemd: save as ~/.config/systemd/user/{self.unit_name}.timer, then:",
                f"#     systemctl --user daemon-reload && systemctl --user enable --now {self.unit_name}.timer",
                "#     (add `loginctl enable-linger $USER` so it runs while you are logged out) ---",
                self.timer,
            ]
        )


def _fetch_arguments(text: str) -> list[str]:
    """``forecast fetch`` arguments from one ``--fetch`` text, refused unless they name a fetch command."""
    from forecast.cli import fetch_app

    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise ParameterError(f"--fetch {text!r}: {exc}; quote it like a shell command") from None
    commands = sorted(c.name or c.callback.__name__ for c in fetch_app.registered_commands)
    if not words or words[0] not in commands:
        raise ParameterError(
            f"--fetch {text!r} does not name a download; start it with one of {', '.join(commands)}, "
            "e.g. --fetch 'hdx --country AFG --topic civilian-targeting --force'"
        )
    return words


def _systemd_quote(word: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9_./:=@+-]+", word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def make_schedule(
    cron: str,
    *,
    config_path: str | Path | None = None,
    reports_dir: str | Path | None = None,
    project_root: str | Path | None = None,
    unit_name: str = "forecast-report",
    overrides: Sequence[str] = (),
    fetch: Sequence[str] = (),
) -> Schedule:
    """Build the crontab line and systemd units for a scheduled ``forecast run --quiet``.

    ``fetch``: arguments of ``forecast fetch`` run before each report (``"hdx
    --country AFG --topic civilian-targeting --force"``), each checked now. A
    failed download does not stop the run: it reports on the data already
    there, and says when they are stale.

    All paths are absolute and the command is this virtual environment's
    ``forecast``, so the job does not depend on the scheduler's PATH or working directory.
    The parameters (config and ``overrides``, ``-p`` style) are checked now, as
    the run would check them, so a schedule never starts with a run that cannot work.
    ``Schedule.warnings`` says when every run would judge the same fixed ``as_of``.
    """
    oncalendar = cron_to_oncalendar(cron)
    root = Path(project_root).absolute() if project_root is not None else find_project_root()
    config = Path(config_path).absolute() if config_path is not None else root / DEFAULT_CONFIG
    if not config.is_file():
        raise ParameterError("parameter file not found; pass --config FILE", path=config)
    plan = plan_run(config, overrides, project_root=root, reports_dir=reports_dir or root / "reports")
    warnings = []
    as_of = plan.config.values.get("as_of")
    if as_of:
        warnings.append(
            f"every scheduled run would judge the same fixed as_of {as_of} from {config.name}; "
            "add -p as_of=null so each run judges the last complete period of the data"
        )
    fetches = [[*forecast_executable(), "fetch", *_fetch_arguments(text)] for text in fetch]
    command = [*forecast_executable(), "run", "--config", str(config), "--quiet", "--publish"]
    for override in overrides:
        command += ["-p", override]
    if reports_dir is not None:
        command += ["--reports-dir", str(Path(reports_dir).absolute())]
    fields = _MACROS.get(cron.strip().lower(), cron.strip())
    # cron treats an unescaped % as a newline; quiet mode prints only errors, which cron mails.
    shell_command = " ".join(shlex.quote(word) for word in command).replace("%", r"\%")
    before = "".join(
        "(" + " ".join(shlex.quote(word) for word in words).replace("%", r"\%") + " || true) && " for words in fetches
    )
    crontab = f"{fields} cd {shlex.quote(str(root)).replace('%', chr(92) + '%')} && {before}{shell_command}"
    service = "\n".join(
        [
            "[Unit]",
            f"Description=forecast: run the report notebooks ({root})",
            "",
            "[Service]",
            "Type=oneshot",
            f"WorkingDirectory={root}",
            "Environment=MPLBACKEND=Agg",
            # "-": a failed download does not stop the report on the data already there.
            *("ExecStartPre=-" + " ".join(_systemd_quote(word) for word in words) for words in fetches),
            "ExecStart=" + " ".join(_systemd_quote(word) for word in command),
            "",
        ]
    )
    timer = "\n".join(
        [
            "[Unit]",
            f"Description=forecast: scheduled report run ({cron.strip()})",
            "",
            "[Timer]",
            f"OnCalendar={oncalendar}",
            "Persistent=true",
            "",
            "[Install]",
            "WantedBy=timers.target",
            "",
        ]
    )
    return Schedule(cron.strip(), oncalendar, command, root, crontab, service, timer, unit_name, warnings)


def list_runs(reports_dir: str | Path) -> list[dict[str, Any]]:
    """One summary per published run, newest first: id, status, finished, as-of, alerts, latest flag."""
    manifests = read_manifests(reports_dir)
    latest = latest_successful(manifests)
    return [
        {
            "run_id": manifest.get("run_id"),
            "status": manifest.get("status"),
            "finished": manifest.get("finished"),
            "as_of": manifest.get("parameters", {}).get("as_of"),
            "source": manifest.get("parameters", {}).get("source"),
            "alerts": report_pages.alert_counts_text(manifest.get("alerts")),
            "latest": latest is not None and manifest.get("run_id") == latest.get("run_id"),
            "folder": manifest.get("folder"),
        }
        for manifest in manifests
    ]
