"""Errors meant for people.

Every error a user can cause by their input is a :class:`ForecastError`. Its
message names the file, the row or column, what was found and what to do; the
command line prints it on one line and exits with status 2. A message never
carries a credential (:func:`forecast.secrets.redact`), whatever text it quotes.
Anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path

from forecast.secrets import redact


class ForecastError(Exception):
    """Base class for errors caused by input, parameters or the environment.

    Parameters
    ----------
    message
        What was found and what to do about it.
    path
        The file concerned, if any; it is prefixed to the message.
    row
        1-based data row (header excluded) concerned, if any.
    column
        Column concerned, if any.
    """

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.row = row
        self.column = column
        self.detail = message
        super().__init__(self._compose())

    def _compose(self) -> str:
        where = []
        if self.path:
            where.append(self.path)
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column '{self.column}'")
        prefix = ", ".join(where)
        text = f"{prefix}: {self.detail}" if prefix else self.detail
        # One line, always: the CLI prints it as is and schedulers log it as one record.
        # Never a credential, whatever file or server text the message quotes.
        return " ".join(redact(text).split())


class InputError(ForecastError, ValueError):
    """A data file is missing, unreadable or does not match its documented format.

    Also a :class:`ValueError`, so code that catches bad values the standard way catches it.
    """


class UnknownUnitError(InputError):
    """Place names in the data that the gazetteer does not know."""


class EmptyDataError(InputError):
    """Nothing left to work with (empty file, or every row filtered out)."""


class ParameterError(ForecastError, ValueError):
    """A parameter (CLI option, notebook parameter, model option) is invalid; also a :class:`ValueError`."""


class ModelError(ForecastError):
    """A model cannot be fitted or used on the data given."""


class ConvergenceError(ModelError):
    """An optimiser did not converge."""


class RunError(ForecastError):
    """A report run failed (a notebook raised, or publishing was refused)."""


class LockError(RunError):
    """Another run holds the reports directory."""


class DownloadError(ForecastError):
    """A download failed (offline, HTTP error, corrupt file)."""
