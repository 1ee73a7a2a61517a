"""Atomic file writes and provenance sidecars.

Data never changes under the user: every output is written to a temporary file
in the destination directory, flushed to disk and renamed into place, so a
reader sees either the old file or the new one, never half of either, even after
a crash. Every processed file gets a
``<name>.meta.json`` sidecar recording what it was made from.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import tempfile
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from forecast import __version__


def sha256_file(path: str | Path, chunk_size: int = 1 << 20) -> str:
    """Return the hex sha256 of a file, read in chunks so large files stay cheap."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def atomic_path(destination: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``destination``; rename it into place on success.

    On an exception the temporary file is removed, ``destination`` is left
    untouched and folders created for it are removed again if empty.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text()
    'done'
    """
    destination = Path(destination)
    with folder_for(destination):  # a failed write leaves no folder it made either
        fd, tmp_name = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".tmp", dir=destination.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            yield tmp
            # Flush the data before the rename: after a crash or power loss the
            # destination then holds the old file or the whole new one, not an empty one.
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
            # mkstemp creates the file 0600; a published file gets the mode any new
            # file would get under the user's umask.
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, destination)
            _fsync_directory(destination.parent)
        finally:
            if tmp.exists():
                tmp.unlink()


@contextlib.contextmanager
def folder_for(destination: str | Path) -> Iterator[Path]:
    """Create ``destination``'s folder; if the block fails, remove again the folders it created and left empty.

    A download that never arrives leaves no empty ``data/raw/<provider>/`` behind
    (a partial file kept for resuming keeps its folder).
    """
    folder = Path(destination).parent
    missing = [parent for parent in (folder, *folder.parents) if not parent.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    try:
        yield folder
    except BaseException:
        for parent in missing:  # deepest first
            with contextlib.suppress(OSError):
                parent.rmdir()  # only if empty
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_text_atomic(destination: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``destination`` atomically and return the path."""
    with atomic_path(destination) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(destination)


def write_json_atomic(destination: str | Path, payload: Mapping[str, Any]) -> Path:
    """Write ``payload`` as indented, strict JSON atomically and return the path.

    NaN and infinities become ``null``: Python would write bare ``NaN``, which
    strict JSON readers (browsers, jq, other languages) refuse.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = write_json_atomic(pathlib.Path(tempfile.mkdtemp()) / "x.json", {"share": float("nan"), "n": [1.5]})
    >>> path.read_text().split()
    ['{', '"share":', 'null,', '"n":', '[', '1.5', ']', '}']
    """
    text = json.dumps(_strict_json(payload), indent=2, default=str, allow_nan=False)
    return write_text_atomic(destination, text + "\n")


def _strict_json(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {key: _strict_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_strict_json(item) for item in value]
    return value


def sidecar_path(path: str | Path) -> Path:
    """The provenance sidecar of a data file: ``<name>.meta.json`` beside it."""
    path = Path(path)
    return path.with_name(path.name + ".meta.json")


def provenance(inputs: list[str | Path] | None = None, **details: Any) -> dict[str, Any]:
    """Build a provenance record: inputs with sha256, package version, time and details."""
    return {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "package_version": __version__,
        "inputs": [{"path": str(p), "sha256": sha256_file(p)} for p in (inputs or [])],
        **details,
    }


def write_parquet_with_sidecar(
    frame: pd.DataFrame,
    destination: str | Path,
    *,
    inputs: list[str | Path] | None = None,
    **details: Any,
) -> Path:
    """Write ``frame`` to parquet atomically, with a provenance sidecar.

    The sidecar records the input files' sha256, the package version, the
    creation time, the row count and any ``details`` (filters, frequency, ...).
    """
    destination = Path(destination)
    with atomic_path(destination) as tmp:
        frame.to_parquet(tmp, index=False)
    record = provenance(inputs, rows=int(len(frame)), output_sha256=sha256_file(destination), **details)
    write_json_atomic(sidecar_path(destination), record)
    return destination


def read_sidecar(path: str | Path) -> dict[str, Any] | None:
    """Return the provenance sidecar of ``path``, or ``None`` when there is none."""
    meta = sidecar_path(path)
    if not meta.exists():
        return None
    return json.loads(meta.read_text(encoding="utf-8"))
