"""A local HTTP server that plays UCDP's download site, ACLED's API and HDX's CKAN API in tests.

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


#: Districts of the test workbook: P-code, name(s) by year, province as OCHA names it, its P-code.
#: AF3002 is renamed between the two years; all of AF2201's rows are zeros.
HDX_DISTRICTS: list[tuple[str, dict[int, str], str, str]] = [
    ("AF0101", {2020: "Kabul", 2021: "Kabul"}, "Kabul", "AF01"),
    ("AF0102", {2020: "Paghman", 2021: "Paghman"}, "Kabul", "AF01"),
    ("AF0601", {2020: "Jalalabad", 2021: "Jalalabad"}, "Nangarhar", "AF06"),
    ("AF0602", {2020: "Behsud", 2021: "Behsud"}, "Nangarhar", "AF06"),
    ("AF3001", {2020: "Lashkargah", 2021: "Lashkargah"}, "Hilmand", "AF30"),
    ("AF3002", {2020: "Nahr-e Saraj", 2021: "Nahri Sarraj"}, "Hilmand", "AF30"),
    ("AF2201", {2020: "Sar-e Pul", 2021: "Sar-e Pul"}, "Sar-e Pol", "AF22"),
]
HDX_YEARS = (2020, 2021)
MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
               "November", "December")
HDX_TERMS = (
    "ACLED data are made available under ACLED's Terms of Use and Attribution Policy.",
    "Users must acknowledge ACLED as the source and may not redistribute the data.",
)


def hdx_rows(*, fatalities: bool = True) -> list[list[object]]:
    """The ``Data`` rows: every district and month, zeros included (events follow a fixed pattern)."""
    rows = []
    for number, (pcode, names, province, province_code) in enumerate(HDX_DISTRICTS):
        for year in HDX_YEARS:
            for month, month_name in enumerate(MONTH_NAMES, start=1):
                events = 0 if pcode == "AF2201" else (number * 7 + month * 3 + year) % 5
                row = ["Afghanistan", province, names[year], "AFG", pcode, province_code, month_name, year, events]
                if fatalities:
                    row.append(2 * events + (month % 2))
                rows.append(row)
    return rows


def hdx_workbook(path: Path, *, rows: list[list[object]] | None = None, fatalities: bool = True,
                 data_sheet: str = "Data") -> Path:
    """Write an HDX ACLED aggregates workbook (``TOU`` then ``Data``) in the published layout."""
    import openpyxl

    workbook = openpyxl.Workbook()
    terms = workbook.active
    terms.title = "TOU"
    terms.append(["Licensing"])
    for line in HDX_TERMS:
        terms.append([line])
    data = workbook.create_sheet(data_sheet)
    header = ["Country", "Admin1", "Admin2", "ISO3", "Admin2 Pcode", "Admin1 Pcode", "Month", "Year", "Events"]
    data.append(header + (["Fatalities"] if fatalities else []))
    for row in hdx_rows(fatalities=fatalities) if rows is None else rows:
        data.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return path


def hdx_package(server: FakeServer, *, dataset: str = "afghanistan-acled-conflict-data",
                version: str = "2026-11-25T04:11:09.123456") -> dict:
    """A CKAN ``package_show`` result for the dataset: one XLSX resource per topic, served by ``server``."""
    stem = dataset.split("-acled")[0].replace("-", "_")
    names = ("political_violence_events_and_fatalities", "civilian_targeting_events_and_fatalities",
             "demonstration_events")
    resources = [
        {"id": f"res-{n}", "name": f"{stem}_hrp_{name}_by_month-year", "format": "XLSX",
         "url": server.url(f"/dataset/{dataset}/resource/{stem}_hrp_{name}_by_month-year.xlsx"),
         "last_modified": version, "metadata_modified": version}
        for n, name in enumerate(names)
    ]
    return {"name": dataset, "title": "Afghanistan - Conflict Data", "license_title": "ACLED Terms of Use",
            "license_id": "other-nc", "metadata_modified": version, "dataset_date": "[2017-01-01T00:00:00 TO *]",
            "resources": resources}


def ckan_api(server: FakeServer, package: dict, *, statuses: list[int] | None = None) -> None:
    """Install ``/api/3/action/package_show`` answering for ``package['name']`` (404 JSON for others)."""

    def endpoint(h: BaseHTTPRequestHandler, record: Recorded) -> None:
        if record.query.get("id") != package["name"]:
            send_json(h, {"success": False, "error": {"message": "Not found", "__type": "Not Found Error"}},
                      status=404)
            return
        send_json(h, {"help": "package_show", "success": True, "result": package})

    server.on("/api/3/action/package_show", fail_first(list(statuses or []), endpoint))


def wait_for(predicate: Callable[[], bool], timeout: float = 2.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()
