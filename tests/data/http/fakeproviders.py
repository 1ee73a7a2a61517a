"""A local HTTP server that plays UCDP's download site and ACLED's API in tests.

Standard library only: a ``ThreadingHTTPServer`` on 127.0.0.1 with a free
port, in a daemon thread. Each test registers handlers per path; every request
is recorded (method, path, query, headers, body) so tests can count requests
and inspect ``Range`` and ``Authorization`` headers. No test touches the internet.
"""

from __future__ import annotations

import io
import json
import threading
import time
import urllib.parse
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).parent

#: The tiny GED CSV (49 columns, 5 events: 4 in Afghanistan, 1 in Pakistan).
GED_CSV = HERE / "GEDEvent_tiny.csv"
#: Five ACLED API records (export field names, in export order).
ACLED_RECORDS = HERE / "acled_records.json"
#: What ACLED's OAuth endpoint answers to a good login.
ACLED_TOKEN = HERE / "acled_token.json"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""


Handler = Callable[[BaseHTTPRequestHandler, Recorded], None]


@dataclass
class FakeServer:
    """Routes by path; records every request."""

    routes: dict[str, Handler] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def start(self) -> FakeServer:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                parts = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                record = Recorded(
                    method=self.command,
                    path=parts.path,
                    query=dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True)),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                server.requests.append(record)
                route = server.routes.get(parts.path)
                if route is None:
                    send(self, b"not found", status=404)
                    return
                try:
                    route(self, record)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

            do_GET = _handle
            do_POST = _handle

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        # A short poll interval keeps shutdown (once per test) quick.
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def base(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def count(self, path: str) -> int:
        return sum(1 for r in self.requests if r.path == path)

    def on(self, path: str, handler: Handler) -> None:
        self.routes[path] = handler


# ----------------------------------------------------------------- responses


def send(handler: BaseHTTPRequestHandler, body: bytes, *, status: int = 200,
         headers: dict[str, str] | None = None, length: int | None = None) -> None:
    """Send a whole response; ``length`` may announce more bytes than are sent (a cut transfer)."""
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body) if length is None else length))
    handler.end_headers()
    handler.wfile.write(body)
    handler.wfile.flush()


def serve_bytes(data: bytes, *, ranges: bool = True, cut_first_after: int | None = None,
                content_type: str = "application/zip") -> Handler:
    """Serve ``data`` like a static file server.

    ``ranges``: honour ``Range: bytes=N-`` with 206 (else always 200, whole body).
    ``cut_first_after``: the first response announces the whole length but the
    connection closes after that many bytes.
    """
    state = {"served": 0}

    def handler(h: BaseHTTPRequestHandler, record: Recorded) -> None:
        state["served"] += 1
        headers = {"Content-Type": content_type, "ETag": '"v1"'}
        if ranges:
            headers["Accept-Ranges"] = "bytes"
        asked = record.headers.get("range", "")
        if ranges and asked.startswith("bytes="):
            start = int(asked[len("bytes="):].split("-")[0])
            if start >= len(data):
                send(h, b"", status=416, headers={"Content-Range": f"bytes */{len(data)}"})
                return
            part = data[start:]
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
            send(h, part, status=206, headers=headers)
            return
        if cut_first_after is not None and state["served"] == 1:
            send(h, data[:cut_first_after], headers=headers, length=len(data))
            return
        send(h, data, headers=headers)

    return handler


def fail_first(statuses: list[int], then: Handler) -> Handler:
    """Answer the first requests with ``statuses`` (e.g. [500]), then delegate."""
    remaining = list(statuses)

    def handler(h: BaseHTTPRequestHandler, record: Recorded) -> None:
        if remaining:
            code = remaining.pop(0)
            send(h, f"error {code}".encode(), status=code, headers={"Content-Type": "text/plain"})
            return
        then(h, record)

    return handler


def slow(server: FakeServer, delay: float, then: Handler) -> Handler:
    """Wait ``delay`` seconds before answering (interrupted when the server stops)."""

    def handler(h: BaseHTTPRequestHandler, record: Recorded) -> None:
        if server.stopping.wait(delay):
            return
        then(h, record)

    return handler


def send_json(h: BaseHTTPRequestHandler, payload: object, status: int = 200) -> None:
    send(h, json.dumps(payload).encode("utf-8"), status=status, headers={"Content-Type": "application/json"})


def redirect_to(url: str) -> Handler:
    def handler(h: BaseHTTPRequestHandler, record: Recorded) -> None:
        send(h, b"", status=302, headers={"Location": url})

    return handler


# ---------------------------------------------------------------- providers


def ged_zip(csv_bytes: bytes | None = None, member: str = "GEDEvent_v25_1.csv") -> bytes:
    """A GED release zip (as ``ged251-csv.zip``) holding the tiny CSV, built in memory."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo(member, date_time=(2025, 6, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, GED_CSV.read_bytes() if csv_bytes is None else csv_bytes)
    return buffer.getvalue()


def ged_csv_without(*columns: str) -> bytes:
    """The tiny GED CSV with ``columns`` renamed away (a file in the wrong format)."""
    text = GED_CSV.read_text(encoding="utf-8")
    header, _, rest = text.partition("\r\n")
    names = [f"x_{name}" if name in columns else name for name in header.split(",")]
    return (",".join(names) + "\r\n" + rest).encode("utf-8")


def acled_api(server: FakeServer, *, email: str, password: str, records: list[dict] | None = None,
              token_status: int | None = None) -> None:
    """Install ACLED's OAuth token endpoint and paged ``acled/read`` endpoint on ``server``.

    The token endpoint checks the form's username/password (401 otherwise, or
    ``token_status`` always); the read endpoint checks the bearer token and
    serves ``records`` by ``limit`` and ``page`` like the real API.
    """
    token = json.loads(ACLED_TOKEN.read_text(encoding="utf-8"))
    data = json.loads(ACLED_RECORDS.read_text(encoding="utf-8")) if records is None else records

    def token_endpoint(h: BaseHTTPRequestHandler, record: Recorded) -> None:
        form = dict(urllib.parse.parse_qsl(record.body.decode("ascii")))
        ok = form.get("username") == email and form.get("password") == password and form.get("grant_type") == "password"
        if token_status is not None or not ok:
            send_json(h, {"error": "invalid_grant", "error_description": "The user credentials were incorrect."},
                      status=token_status or 401)
            return
        send_json(h, token)

    def read_endpoint(h: BaseHTTPRequestHandler, record: Recorded) -> None:
        if record.headers.get("authorization") != f"Bearer {token['access_token']}":
            send_json(h, {"status": 401, "success": False, "error": "Unauthorized"}, status=401)
            return
        limit = int(record.query.get("limit", 5000))
        page = int(record.query.get("page", 1))
        rows = data[(page - 1) * limit: page * limit]
        send_json(h, {"status": 200, "success": True, "last_update": 0, "count": len(rows), "messages": [],
                      "data": rows, "filename": "acled"})

    server.on("/oauth/token", token_endpoint)
    server.on("/api/acled/read", read_endpoint)


def wait_for(predicate: Callable[[], bool], timeout: float = 2.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()
