"""Download machinery shared by every download in the package.

One function, :func:`download`, turns a URL into a verified file in place:

* it streams the body to a temporary name beside the destination
  (``.<name>.part``) with a progress bar, and renames it into place only after
  the caller's check (zip integrity, expected columns) has passed, so a reader
  never sees half a file;
* an interrupted transfer resumes with an HTTP ``Range`` request when the server
  supports it, and restarts cleanly from zero when it does not;
* connection errors, timeouts and HTTP 5xx answers are retried with exponential
  backoff; other 4xx answers are final (asking again will not help);
* every failure is a one-line :class:`~forecast.errors.DownloadError` naming the
  URL and what to do.

:func:`request_json` applies the same retry policy to API calls.

Secrets (API tokens, passwords, account e-mails) only ever come from the
environment. They are sent in headers that never follow a redirect to another
host, and :func:`~forecast.secrets.redact` scrubs them -- and the credentials a
request carries (:func:`request_secrets`) -- from every message and log record
this module produces, whatever the server answers; sidecars record
:func:`safe_url`, never headers.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from forecast import __version__
from forecast.checks import number, whole_number
from forecast.errors import DownloadError, ForecastError, ParameterError
from forecast.files import folder_for, sha256_file, sidecar_path, write_json_atomic

# Re-exported: callers (and older code) import the scrubber from the download module.
from forecast.secrets import REDACTED, SECRET_ENV_VARS, redact, register_secret  # noqa: F401

logger = logging.getLogger(__name__)

T = TypeVar("T")

# ------------------------------------------------------------------ secrets

#: Headers that carry credentials; they are dropped when a redirect leaves the host.
SECRET_HEADERS: frozenset[str] = frozenset({"authorization", "x-ucdp-access-token", "cookie"})

#: Query parameters and form fields whose values are treated as secrets in URLs, bodies and messages.
_SECRET_QUERY = re.compile(r"(key|token|password|passwd|secret|email|user|session|auth)", re.IGNORECASE)


def request_secrets(headers: Mapping[str, str] | None = None, form: Mapping[str, str] | None = None) -> list[str]:
    """The credential values a request carries: secret headers (without ``Bearer``) and secret form fields.

    They are scrubbed, beside :func:`~forecast.secrets.secret_values`, from
    everything said about the request, even when they came from elsewhere than
    the environment.

    Examples
    --------
    >>> request_secrets({"Authorization": "Bearer tok-123"}, {"username": "me@x.org", "grant_type": "password"})
    ['tok-123', 'me@x.org']
    """
    found: list[str] = []
    for name, value in (headers or {}).items():
        if name.lower() in SECRET_HEADERS and value:
            scheme, _, credential = value.partition(" ")
            found.append(credential if credential and scheme.lower() in ("bearer", "basic", "token") else value)
    found.extend(value for name, value in (form or {}).items() if value and _SECRET_QUERY.search(name))
    return found


def _scrub(exc: ForecastError, secrets: Iterable[str]) -> ForecastError:
    """``exc`` with ``secrets`` removed from its message (the environment's are removed anyway)."""
    exc.detail = redact(exc.detail, secrets)
    exc.args = (exc._compose(),)
    return exc


def _excerpt(body: bytes, secrets: Iterable[str], limit: int = 60) -> str:
    """A short, printable, credential-free excerpt of a server's answer.

    The whole body is scrubbed before it is cut, so a secret straddling the cut
    cannot leave its first half behind.
    """
    text = redact(body.decode("utf-8", errors="replace"), secrets)
    text = " ".join(text.split())
    shown = text[:limit] + ("..." if len(text) > limit else "")
    return repr(shown)


def safe_url(url: str) -> str:
    """The URL as it may be shown or recorded: no user:password, no secret query values.

    Examples
    --------
    >>> safe_url("https://user:pw@example.org/read?country=Chad&key=abc&email=a%40b.c")
    'https://example.org/read?country=Chad&key=***&email=***'
    """
    parts = urllib.parse.urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    cleaned = [(k, REDACTED if _SECRET_QUERY.search(k) else v) for k, v in query]
    text = urllib.parse.urlunsplit(
        (parts.scheme, netloc, parts.path, urllib.parse.urlencode(cleaned, safe="*|:/"), parts.fragment)
    )
    return redact(text)


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs secrets from a record's final message.

    Attach it to a handler (``handler.addFilter(RedactingFilter())``) to protect
    everything that handler writes; it is attached to this module's logger so the
    download machinery's own records are always clean.
    """

    def filter(self, record: logging.LogRecord) -> bool:  # noqa: A003 - logging's API
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


logger.addFilter(RedactingFilter())


# ----------------------------------------------------------------- settings


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ParameterError(f"environment variable {name}={raw!r} is not a number; unset it or give e.g. 30") from None


@dataclass(frozen=True)
class DownloadSettings:
    """How patient a download is.

    Parameters
    ----------
    timeout
        Seconds to wait for a connection or for the next bytes of a response.
    retries
        Further attempts after the first one fails with a connection error, a
        timeout or HTTP 5xx/408/429.
    backoff
        Seconds to wait before the first retry; the wait doubles on each retry
        up to ``max_backoff``.
    max_backoff
        Longest wait between two attempts.
    progress
        Show a progress bar: ``True``, ``False``, or ``None`` for "only when
        standard error is a terminal".
    chunk_size
        Bytes read per step while streaming.
    user_agent
        Sent with every request, so providers can tell who is downloading.
    """

    timeout: float = 60.0
    retries: int = 4
    backoff: float = 1.0
    max_backoff: float = 60.0
    progress: bool | None = None
    chunk_size: int = 1 << 16
    user_agent: str = f"forecast/{__version__} (Python urllib; early-warning research)"

    def __post_init__(self) -> None:
        number(self.timeout, "timeout (seconds)", minimum=0, strict=True)
        whole_number(self.retries, "retries", minimum=0)
        number(self.backoff, "backoff (seconds)", minimum=0)
        number(self.max_backoff, "max_backoff (seconds)", minimum=0)

    @classmethod
    def from_env(cls, **overrides: Any) -> DownloadSettings:
        """Settings from ``FORECAST_HTTP_TIMEOUT``, ``_RETRIES``, ``_BACKOFF``, then ``overrides``.

        ``None`` values in ``overrides`` are ignored, so CLI options that were not
        given leave the environment's (or the default) value.
        """
        base = cls(
            timeout=_env_float("FORECAST_HTTP_TIMEOUT", cls.timeout),
            retries=int(_env_float("FORECAST_HTTP_RETRIES", cls.retries)),
            backoff=_env_float("FORECAST_HTTP_BACKOFF", cls.backoff),
        )
        return replace(base, **{k: v for k, v in overrides.items() if v is not None})

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (0-based)."""
        return min(self.max_backoff, self.backoff * (2**attempt))


# ------------------------------------------------------------------ opener


class _SameHostRedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follow redirects, but never carry credentials to another host."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[override]
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None:
            old_host = urllib.parse.urlsplit(req.full_url).netloc
            new_host = urllib.parse.urlsplit(newurl).netloc
            if old_host != new_host:
                for name in list(new.headers):
                    if name.lower() in SECRET_HEADERS:
                        del new.headers[name]
        return new


def _opener() -> urllib.request.OpenerDirector:
    # Built per call: cheap, and it picks up proxy variables set since import.
    return urllib.request.build_opener(_SameHostRedirectHandler())


def _request(url: str, headers: Mapping[str, str], settings: DownloadSettings, data: bytes | None = None,
             method: str | None = None) -> urllib.request.Request:
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("User-Agent", settings.user_agent)
    for name, value in headers.items():
        request.add_header(name, value)
    return request


# ------------------------------------------------------------------ retries


class _Transient(Exception):
    """A failure worth another attempt; ``reason`` is shown to the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Incomplete(_Transient):
    """The connection ended before the announced number of bytes arrived."""


#: HTTP statuses that say "try again later" rather than "you asked wrongly".
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

HttpErrorMessage = Callable[[int, str], str]


def _default_http_message(url: str, hint: str) -> HttpErrorMessage:
    def message(code: int, reason: str) -> str:
        what = {
            401: "it needs credentials",
            403: "access is refused",
            404: "there is no such file",
            410: "the file was removed",
        }.get(code, "the request was refused")
        return f"{url} answered HTTP {code} {reason} ({what}); {hint}"

    return message


def _classify(exc: BaseException, settings: DownloadSettings, http_message: HttpErrorMessage,
              secrets: Iterable[str] = ()) -> Exception:
    """Turn a urllib/socket exception into ``_Transient`` (retry) or ``DownloadError`` (final)."""
    if isinstance(exc, urllib.error.HTTPError):
        # The reason phrase is the server's to choose: it may echo what it was sent.
        reason = redact(" ".join(str(exc.reason or "").split())[:80], secrets).strip()
        if exc.code in RETRY_STATUSES or exc.code >= 500:
            return _Transient(f"HTTP {exc.code} {reason}".strip())
        return DownloadError(redact(http_message(exc.code, reason), secrets))
    if isinstance(exc, urllib.error.URLError):
        inner = exc.reason
        if isinstance(inner, TimeoutError | socket.timeout):
            return _Transient(f"no answer within {settings.timeout:g} s")
        return _Transient(f"cannot connect ({redact(str(inner), secrets)})")
    if isinstance(exc, TimeoutError | socket.timeout):
        return _Transient(f"no data within {settings.timeout:g} s")
    if isinstance(exc, http.client.IncompleteRead | ConnectionError | http.client.HTTPException):
        return _Transient(f"connection dropped ({type(exc).__name__})")
    if isinstance(exc, OSError):
        return _Transient(f"network error ({redact(str(exc), secrets)})")
    return exc  # a bug: re-raised as is


def _with_retries(
    attempt_once: Callable[[], T],
    *,
    shown_url: str,
    settings: DownloadSettings,
    hint: str,
    http_message: HttpErrorMessage,
    on_give_up: Callable[[], None] | None = None,
    secrets: Iterable[str] = (),
) -> tuple[T, int]:
    """Call ``attempt_once`` until it succeeds, a final error occurs, or retries run out.

    Returns the result and the number of attempts made.
    """
    last_reason = "unknown error"
    attempts = settings.retries + 1
    for attempt in range(attempts):
        try:
            return attempt_once(), attempt + 1
        except _Transient as exc:
            last_reason = redact(exc.reason, secrets)
        except ForecastError as exc:
            raise _scrub(exc, secrets) from exc.__cause__
        except Exception as exc:  # noqa: BLE001 - classified below; bugs are re-raised
            classified = _classify(exc, settings, http_message, secrets)
            if isinstance(classified, _Transient):
                last_reason = classified.reason
            elif classified is exc:
                raise
            else:
                raise classified from None
        if attempt + 1 < attempts:
            wait = settings.delay(attempt)
            logger.warning("%s: %s; retrying in %.1f s (attempt %d of %d)", shown_url, last_reason, wait,
                           attempt + 2, attempts)
            time.sleep(wait)
    if on_give_up is not None:
        on_give_up()
    tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
    raise DownloadError(redact(f"could not download {shown_url}: {last_reason} after {tries}; {hint}", secrets))


# ----------------------------------------------------------------- download


@dataclass
class DownloadResult:
    """What :func:`download` did.

    Attributes
    ----------
    path
        The file in place.
    url
        The URL as it may be shown (:func:`safe_url`).
    sha256, size
        Of the file in place.
    requests
        HTTP requests made (0 when nothing was downloaded).
    resumed
        Whether a partial download was continued with a ``Range`` request.
    """

    path: Path
    url: str
    sha256: str
    size: int
    requests: int = 0
    resumed: bool = False
    headers: dict[str, str] = field(default_factory=dict)


def partial_path(destination: str | Path) -> Path:
    """The temporary name a download streams to: ``.<name>.part`` beside ``destination``."""
    destination = Path(destination)
    return destination.with_name(f".{destination.name}.part")


def _state_path(partial: Path) -> Path:
    return partial.with_name(partial.name + ".json")


def _discard(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _content_range(value: str | None) -> tuple[int, int | None] | None:
    """Parse ``bytes START-END/TOTAL`` into ``(START, TOTAL)``; ``None`` when unusable."""
    match = re.fullmatch(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*", value or "")
    if not match:
        return None
    total = None if match.group(3) == "*" else int(match.group(3))
    return int(match.group(1)), total


def _progress_bar(total: int | None, initial: int, label: str, settings: DownloadSettings):
    from tqdm.auto import tqdm

    # disable=None lets tqdm decide: a bar on a terminal, silence in logs and CI.
    disable = None if settings.progress is None else not settings.progress
    return tqdm(total=total, initial=initial, unit="B", unit_scale=True, unit_divisor=1024,
                desc=label, disable=disable, leave=False)


def download(
    url: str,
    destination: str | Path,
    *,
    headers: Mapping[str, str] | None = None,
    settings: DownloadSettings | None = None,
    verify: Callable[[Path], None] | None = None,
    hint: str = "check your internet connection (or proxy) and try again",
    http_message: HttpErrorMessage | None = None,
) -> DownloadResult:
    """Stream ``url`` to ``destination``: temporary name, resume, retries, verify, rename.

    Parameters
    ----------
    url
        What to download (http, https).
    destination
        Where the file ends up. Its directory is created.
    headers
        Extra request headers (credentials included: they are never recorded
        and never follow a redirect to another host).
    settings
        Timeouts, retries, backoff and progress bar; default
        :meth:`DownloadSettings.from_env`.
    verify
        Called with the complete temporary file before it is renamed into
        place; raise a :class:`~forecast.errors.ForecastError` to reject it.
        A rejected file is deleted: nothing is left in place.
    hint
        What the user can do when the download fails for good; appended to the
        error message.
    http_message
        Builds the message for a final HTTP error from ``(status, reason)``.

    Returns
    -------
    DownloadResult

    Raises
    ------
    DownloadError
        Offline, timed out, HTTP error, or an incomplete transfer after all retries.

    Notes
    -----
    A transfer that breaks off leaves ``.<name>.part`` (and a small
    ``.part.json`` naming the URL) when the server accepts ``Range`` requests,
    so the next call -- or the next attempt in this call -- continues where it
    stopped. If the server answers a ``Range`` request with the whole file, or
    the partial file belongs to another URL, the download restarts from zero.
    """
    settings = settings or DownloadSettings.from_env()
    destination = Path(destination)
    partial = partial_path(destination)
    state = _state_path(partial)
    shown = safe_url(url)
    headers = dict(headers or {})
    http_message = http_message or _default_http_message(shown, hint)
    record = {"requests": 0, "resumed": False, "headers": {}}

    def read_state() -> dict[str, Any]:
        try:
            return json.loads(state.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def attempt_once() -> None:
        saved = read_state()
        offset = partial.stat().st_size if partial.exists() else 0
        if offset and saved.get("url") != shown:
            # A partial file from another URL (another release) is not ours to continue.
            _discard(partial, state)
            offset, saved = 0, {}
        request_headers = dict(headers)
        if offset:
            request_headers["Range"] = f"bytes={offset}-"
            # If-Range: the server sends the whole (new) file if it changed meanwhile.
            validator = saved.get("etag") or saved.get("last_modified")
            if validator:
                request_headers["If-Range"] = validator
        record["requests"] += 1
        logger.info("GET %s%s", shown, f" (resuming at byte {offset})" if offset else "")
        try:
            response = _opener().open(_request(url, request_headers, settings), timeout=settings.timeout)
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and offset:
                # Our partial file does not fit the server's file: start again from zero.
                _discard(partial, state)
                raise _Transient("the partial download did not match the server's file; restarting") from None
            raise
        with response:
            status = response.status
            record["headers"] = {k.lower(): v for k, v in response.headers.items()}
            length = response.headers.get("Content-Length")
            if offset and status == 206:
                span = _content_range(response.headers.get("Content-Range"))
                if span is None or span[0] != offset:
                    _discard(partial, state)
                    raise _Transient("the server resumed at the wrong byte; restarting")
                total, mode = span[1], "ab"
                record["resumed"] = True
            else:
                # 200: the server ignored Range (or nothing to resume); start clean.
                offset, mode = 0, "wb"
                total = int(length) if length and length.isdigit() else None
            resumable = response.headers.get("Accept-Ranges", "").lower() == "bytes" or status == 206
            write_json_atomic(state, {
                "url": shown,
                "etag": response.headers.get("ETag"),
                "last_modified": response.headers.get("Last-Modified"),
                "resumable": resumable,
            })
            with open(partial, mode) as sink, _progress_bar(total, offset, destination.name, settings) as bar:
                while True:
                    chunk = response.read(settings.chunk_size)
                    if not chunk:
                        break
                    sink.write(chunk)
                    bar.update(len(chunk))
        size = partial.stat().st_size
        if total is not None and size < total:
            raise _Incomplete(f"connection closed after {size} of {total} bytes")
        if total is not None and size > total:
            _discard(partial, state)
            raise _Transient(f"received {size} bytes where the server announced {total}; restarting")

    def give_up() -> None:
        # Keep a partial file only if a later call can continue it.
        saved = read_state()
        if not (partial.exists() and partial.stat().st_size > 0 and saved.get("resumable")):
            _discard(partial, state)

    with folder_for(destination):  # a download that fails leaves no empty folder behind
        _, _attempts = _with_retries(attempt_once, shown_url=shown, settings=settings, hint=hint,
                                     http_message=http_message, on_give_up=give_up,
                                     secrets=request_secrets(headers))
        try:
            if verify is not None:
                verify(partial)
            os.replace(partial, destination)
        except ForecastError as exc:
            # A rejected file is not worth resuming: the next call starts from zero.
            _discard(partial)
            raise _scrub(exc, request_secrets(headers)) from None
        except BaseException:
            _discard(partial)
            raise
        finally:
            _discard(state)
    size = destination.stat().st_size
    logger.info("downloaded %s to %s (%d bytes)", shown, destination, size)
    return DownloadResult(
        path=destination,
        url=shown,
        sha256=sha256_file(destination),
        size=size,
        requests=record["requests"],
        resumed=record["resumed"],
        headers=record["headers"],
    )


# --------------------------------------------------------------------- APIs


def request_json(
    url: str,
    *,
    params: Mapping[str, Any] | None = None,
    form: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    settings: DownloadSettings | None = None,
    hint: str = "check your internet connection (or proxy) and try again",
    http_message: HttpErrorMessage | None = None,
) -> Any:
    """GET (or POST ``form``) ``url`` and decode its JSON answer, with the download retry policy.

    Parameters
    ----------
    url
        Endpoint without query string.
    params
        Query parameters (values are converted with ``str``).
    form
        When given, sent as an ``application/x-www-form-urlencoded`` POST body
        (a password in it never appears in a URL, message or log).
    headers, settings, hint, http_message
        As for :func:`download`.

    Raises
    ------
    DownloadError
        As for :func:`download`, and when the answer is not JSON.
    """
    settings = settings or DownloadSettings.from_env()
    full = url
    if params:
        full = f"{url}{'&' if '?' in url else '?'}{urllib.parse.urlencode({k: str(v) for k, v in params.items()}, safe='|:')}"
    shown = safe_url(full)
    headers = {"Accept": "application/json", **(headers or {})}
    data = None
    if form is not None:
        data = urllib.parse.urlencode(form).encode("ascii")
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    http_message = http_message or _default_http_message(shown, hint)
    secrets = request_secrets(headers, form)

    def attempt_once() -> Any:
        logger.info("%s %s", "POST" if data is not None else "GET", shown)
        request = _request(full, headers, settings, data=data, method="POST" if data is not None else "GET")
        with _opener().open(request, timeout=settings.timeout) as response:
            body = response.read()
        try:
            return json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            # A server may echo the request (username=...&password=...): the excerpt is scrubbed.
            raise DownloadError(
                f"{shown} did not answer with JSON (got {len(body)} bytes starting {_excerpt(body, secrets)}); "
                f"the service may be down or its address wrong; {hint}"
            ) from None

    result, _ = _with_retries(attempt_once, shown_url=shown, settings=settings, hint=hint,
                              http_message=http_message, secrets=secrets)
    return result


# ---------------------------------------------------------------- sidecars


def utc_now() -> str:
    """The current time as an ISO 8601 UTC string (seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_download_sidecar(
    path: str | Path,
    *,
    source: str,
    url: str,
    version: str | None,
    licence: str,
    attribution: list[str],
    inputs: list[str | Path] | None = None,
    **details: Any,
) -> Path:
    """Record where a raw file came from in ``<name>.meta.json`` beside it.

    Records the file's sha256 and size, the (safe) URL, source, version,
    download time, package version, licence and attribution, plus ``details``
    (rows, date range, filters). ``url`` is passed through :func:`safe_url`, so
    credentials can never end up in the sidecar, and so is every string detail
    through :func:`redact`.

    Returns
    -------
    Path
        The sidecar written.
    """
    path = Path(path)
    record: dict[str, Any] = {
        "kind": "raw",
        "source": source,
        "version": version,
        "url": safe_url(url) if url else None,
        "sha256": sha256_file(path),
        "size": path.stat().st_size,
        "downloaded": utc_now(),
        "package_version": __version__,
        "licence": licence,
        "attribution": attribution,
        "inputs": [{"path": str(p), "sha256": sha256_file(p)} for p in (inputs or [])],
        **details,
    }
    text = redact(json.dumps(record, default=str))
    return write_json_atomic(sidecar_path(path), json.loads(text))
