"""Downloads from the providers: UCDP GED (open data), ACLED (the user's own account), HDX (ACLED's open aggregates).

Both write provider-format files under ``data/raw/<source>/`` -- the files
``forecast ingest`` and the report runner read -- each with a provenance
sidecar (URL without credentials, version, sha256, size, time, licence,
attribution, rows, date range). The HTTP work (temporary names, resume,
retries, timeouts) is :mod:`forecast.data.download`.

UCDP
    ``fetch_ucdp("25.1")`` downloads the GED release zip (``ged251-csv.zip``),
    checks the archive and its columns, and extracts ``GEDEvent_v25_1.csv``
    beside it. ``candidate="2025-03"`` downloads a monthly candidate CSV
    instead. ``country=`` also writes that country's rows to their own CSV. A
    second call with the same version uses the files already there.

ACLED
    ``fetch_acled("Afghanistan", start=..., end=...)`` logs in through ACLED's
    OAuth endpoint with ``ACLED_EMAIL``/``ACLED_PASSWORD`` (or uses a token in
    ``ACLED_ACCESS_TOKEN``), reads the ``acled/read`` endpoint page by page and
    writes the records as an ACLED export CSV. Credentials come only from the
    environment and are never written anywhere.

HDX
    ``fetch_hdx("AFG", topic="civilian-targeting")`` asks HDX's CKAN API
    (``package_show``) for the country's ACLED dataset, picks the topic's XLSX
    resource and downloads it into ``data/raw/hdx/``; its sidecar records the
    URL, the resource's last-modified time (the version) and the licence. No
    account is needed; ACLED's terms still apply (no redistribution,
    attribution in reports).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import shutil
import urllib.parse
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from forecast.checks import date as checked_date
from forecast.checks import whole_number
from forecast.data.catalog import csv_summary
from forecast.data.citations import LICENCES, acled_citation, hdx_citation, ucdp_citation
from forecast.data.download import (
    DownloadSettings,
    RedactingFilter,
    download,
    register_secret,
    request_json,
    request_secrets,
    safe_url,
    write_download_sidecar,
)
from forecast.errors import DownloadError, EmptyDataError, InputError, ParameterError
from forecast.files import atomic_path, read_sidecar, sha256_file, sidecar_path
from forecast.secrets import redact, redactor

logger = logging.getLogger(__name__)
# Its records name what servers sent (field names, row counts): scrubbed like the download's own.
logger.addFilter(RedactingFilter())

# ----------------------------------------------------------------- formats

#: The UCDP GED release CSV header, in order (49 columns; candidate files use the same).
UCDP_GED_COLUMNS: tuple[str, ...] = (
    "id", "relid", "year", "active_year", "code_status", "type_of_violence", "conflict_dset_id",
    "conflict_new_id", "conflict_name", "dyad_dset_id", "dyad_new_id", "dyad_name", "side_a_dset_id",
    "side_a_new_id", "side_a", "side_b_dset_id", "side_b_new_id", "side_b", "number_of_sources",
    "source_article", "source_office", "source_date", "source_headline", "source_original", "where_prec",
    "where_coordinates", "where_description", "adm_1", "adm_2", "latitude", "longitude", "geom_wkt",
    "priogrid_gid", "country", "country_id", "region", "event_clarity", "date_prec", "date_start",
    "date_end", "deaths_a", "deaths_b", "deaths_civilians", "deaths_unknown", "best", "high", "low",
    "gwnoa", "gwnob",
)

#: The ACLED export CSV header, in order; the API's JSON records use the same field names.
ACLED_COLUMNS: tuple[str, ...] = (
    "event_id_cnty", "event_date", "year", "time_precision", "disorder_type", "event_type",
    "sub_event_type", "actor1", "assoc_actor_1", "inter1", "actor2", "assoc_actor_2", "inter2",
    "interaction", "civilian_targeting", "iso", "region", "country", "admin1", "admin2", "admin3",
    "location", "latitude", "longitude", "geo_precision", "source", "source_scale", "notes",
    "fatalities", "tags", "timestamp",
)

try:  # The readers' own lists of what they cannot do without, when the readers are installed.
    from forecast.data.acled import REQUIRED_COLUMNS as ACLED_REQUIRED
    from forecast.data.ucdp import REQUIRED_COLUMNS as UCDP_REQUIRED
except ImportError:  # pragma: no cover - readers are part of the package
    UCDP_REQUIRED = UCDP_GED_COLUMNS
    ACLED_REQUIRED = ACLED_COLUMNS

# ------------------------------------------------------------------- UCDP

#: Official GED release download at the time of writing (2025); ``{version_nodot}`` is ``251`` for 25.1.
UCDP_URL_TEMPLATE = "https://ucdp.uu.se/downloads/ged/ged{version_nodot}-csv.zip"
#: Official monthly candidate file at the time of writing; ``{yy}`` 25 and ``{month}`` 3 for 2025-03.
UCDP_CANDIDATE_URL_TEMPLATE = "https://ucdp.uu.se/downloads/candidateged/GEDEvent_v{yy}_0_{month}.csv"

UCDP_URL_ENV = "FORECAST_UCDP_URL_TEMPLATE"
UCDP_CANDIDATE_URL_ENV = "FORECAST_UCDP_CANDIDATE_URL_TEMPLATE"
UCDP_TOKEN_ENV = "UCDP_ACCESS_TOKEN"
#: The token is only ever sent to UCDP's own hosts, never to a mirror or a test server.
UCDP_TOKEN_HOST_SUFFIX = ".uu.se"

UCDP_DEFAULT_VERSION = "25.1"

# ------------------------------------------------------------------ ACLED

ACLED_BASE_URL = "https://acleddata.com"
ACLED_BASE_URL_ENV = "FORECAST_ACLED_BASE_URL"
ACLED_TOKEN_PATH = "/oauth/token"
ACLED_READ_PATH = "/api/acled/read"
ACLED_PAGE_SIZE = 5000
#: ACLED's coverage starts in 1997 (for the countries covered earliest).
ACLED_FIRST_DATE = "1997-01-01"
ACLED_CREDENTIAL_HINT = (
    "set ACLED_EMAIL and ACLED_PASSWORD (your myACLED account) in the environment, or "
    "ACLED_ACCESS_TOKEN to a current OAuth token"
)


@dataclass
class FetchResult:
    """What a provider download produced.

    Attributes
    ----------
    source
        ``ucdp`` or ``acled``.
    events_path
        The CSV to ingest or report on.
    files
        Every file written or found (zip, extracted CSV, country subset).
    url
        Where it came from (no credentials).
    version
        Release (UCDP) or access date (ACLED).
    sha256
        Of ``events_path``.
    rows, date_min, date_max
        Of ``events_path``.
    cached
        ``True`` when nothing was downloaded because the files were already there.
    requests
        HTTP requests made.
    attribution
        Citation strings every report made from the data must show.
    """

    source: str
    events_path: Path
    files: list[Path]
    url: str
    version: str | None
    sha256: str
    rows: int | None = None
    date_min: str | None = None
    date_max: str | None = None
    cached: bool = False
    requests: int = 0
    attribution: list[str] = field(default_factory=list)

    @property
    def report_parameters(self) -> str:
        """The runner parameters that make a report from this file."""
        # HDX's counts are monthly: a weekly report (the default) cannot be made from them.
        monthly = " -p freq=MS" if self.source == "hdx" else ""
        return f"-p source={self.source} -p events_path={self.events_path}{monthly}"

    def summary(self) -> str:
        """Plain-language lines for the command line."""
        how = "already downloaded (cached)" if self.cached else f"downloaded from {self.url}"
        lines = [f"{self.source} {self.version or ''}: {how}".replace("  ", " ")]
        lines.extend(f"  {path}" for path in self.files)
        dates = f", {self.date_min} to {self.date_max}" if self.date_min else ""
        rows = "?" if self.rows is None else self.rows
        lines.append(f"events file: {self.events_path} ({rows} rows{dates}; sha256 {self.sha256[:12]}...)")
        lines.append("cite in every report made from it:")
        lines.extend(f"  {line}" for line in self.attribution)
        lines.append(f"report on it: forecast run {self.report_parameters}")
        return "\n".join(lines)


def slug(text: str) -> str:
    """A file-name-safe lower-case form: ``"Côte d'Ivoire"`` -> ``"c-te-d-ivoire"``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "all"


def _sidecar_matches(path: Path, **expected: Any) -> bool:
    """Is ``path`` there, unchanged since written, with a sidecar recording ``expected``?"""
    meta = read_sidecar(path) if path.exists() else None
    if not meta:
        return False
    if any(meta.get(key) != value for key, value in expected.items()):
        return False
    if meta.get("sha256") != sha256_file(path):
        logger.warning("%s changed since it was downloaded; downloading it again", path)
        return False
    return True


def _check_columns(header: list[str], *, where: str, documented: tuple[str, ...], required: tuple[str, ...],
                   provider: str, hint: str) -> None:
    """Raise :class:`InputError` naming the columns a reader needs that ``header`` lacks."""
    present = set(header)
    missing_required = [c for c in required if c not in present]
    if missing_required:
        raise InputError(
            f"not a {provider} file: missing columns {', '.join(missing_required)} "
            f"(found {len(header)} columns starting {', '.join(header[:4]) or 'nothing'}); {hint}",
            path=where,
        )
    missing = [c for c in documented if c not in present]
    if missing:
        logger.warning("%s lacks documented %s columns %s; reading it anyway", where, provider, ", ".join(missing))


def _read_header(binary: io.BufferedIOBase | Any) -> list[str]:
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", errors="replace", newline="")
    return [name.strip() for name in next(csv.reader(text), [])]


def _ucdp_version(version: str) -> tuple[str, str]:
    """Validate ``25.1`` and return ``("25", "1")``."""
    match = re.fullmatch(r"\s*(\d{2})\.(\d{1,2})\s*", str(version))
    if not match:
        raise ParameterError(f"UCDP version {version!r} is not like 25.1 (two-digit year, dot, release number)")
    return match.group(1), match.group(2)


def _candidate_month(candidate: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d{4})-(\d{1,2})\s*", str(candidate))
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ParameterError(f"--candidate {candidate!r} is not a month like 2025-03")
    return int(match.group(1)), int(match.group(2))


def ucdp_url(version: str = UCDP_DEFAULT_VERSION, *, candidate: str | None = None,
             url_template: str | None = None) -> str:
    """The download URL of a GED release or monthly candidate file.

    The template comes from ``url_template``, else the environment
    (``FORECAST_UCDP_URL_TEMPLATE`` / ``FORECAST_UCDP_CANDIDATE_URL_TEMPLATE``),
    else the official address at the time of writing. Fields: ``{version}``
    (25.1), ``{version_nodot}`` (251), ``{major}`` (25), ``{minor}`` (1); for
    candidates ``{year}`` (2025), ``{yy}`` (25), ``{month}`` (3), ``{month02}`` (03).

    Examples
    --------
    >>> ucdp_url("25.1", url_template=UCDP_URL_TEMPLATE)
    'https://ucdp.uu.se/downloads/ged/ged251-csv.zip'
    >>> ucdp_url(candidate="2025-03", url_template=UCDP_CANDIDATE_URL_TEMPLATE)
    'https://ucdp.uu.se/downloads/candidateged/GEDEvent_v25_0_3.csv'
    """
    if candidate:
        year, month = _candidate_month(candidate)
        template = url_template or os.environ.get(UCDP_CANDIDATE_URL_ENV) or UCDP_CANDIDATE_URL_TEMPLATE
        fields = {"year": year, "yy": f"{year % 100:02d}", "month": month, "month02": f"{month:02d}"}
    else:
        major, minor = _ucdp_version(version)
        template = url_template or os.environ.get(UCDP_URL_ENV) or UCDP_URL_TEMPLATE
        fields = {"version": f"{major}.{minor}", "version_nodot": f"{major}{minor}", "major": major, "minor": minor}
    try:
        return template.format(**fields)
    except (KeyError, IndexError, ValueError) as exc:
        raise ParameterError(
            f"UCDP URL template {template!r} uses an unknown field ({exc}); available: {', '.join(fields)}"
        ) from None


def _ucdp_headers(url: str) -> dict[str, str]:
    """UCDP's API token (from the environment only), for UCDP's own hosts only."""
    token = os.environ.get(UCDP_TOKEN_ENV, "").strip()
    host = urllib.parse.urlsplit(url).hostname or ""
    if token and (host == UCDP_TOKEN_HOST_SUFFIX[1:] or host.endswith(UCDP_TOKEN_HOST_SUFFIX)):
        return {"x-ucdp-access-token": token}
    return {}


def _ucdp_hint(shown_url: str) -> str:
    return (
        f"or download {shown_url} by hand (see https://ucdp.uu.se/downloads/), unzip it and run "
        "`forecast ingest ucdp <GEDEvent CSV>`"
    )


def _ucdp_http_message(shown_url: str, hint: str):
    def message(code: int, reason: str) -> str:
        if code == 404:
            return (
                f"{shown_url} answered HTTP 404 (no such file): check --version (like 25.1) or --candidate "
                f"(YYYY-MM; monthly files appear about a month later), or set --url-template / "
                f"{UCDP_URL_ENV} if UCDP moved its files; {hint}"
            )
        return f"{shown_url} answered HTTP {code} {reason}; {hint}"

    return message


def _ged_member(archive: zipfile.ZipFile, shown_url: str) -> str:
    """The GED CSV inside a release zip (``GEDEvent_v25_1.csv``)."""
    names = [n for n in archive.namelist() if n.lower().endswith(".csv") and not n.startswith("__MACOSX")]
    if not names:
        raise DownloadError(f"{shown_url} holds no CSV file (found {', '.join(archive.namelist()) or 'nothing'}); "
                            "is the URL template right?")
    preferred = [n for n in names if Path(n).name.lower().startswith("gedevent")] or names
    if len(preferred) > 1:
        raise DownloadError(f"{shown_url} holds {len(preferred)} event CSVs ({', '.join(preferred[:5])}), not one "
                            "GED release; is the URL template right?")
    return preferred[0]


def _verify_ged_zip(shown_url: str, hint: str):
    """Check a downloaded release zip: a complete archive with the GED columns."""

    def verify(path: Path) -> None:
        try:
            with zipfile.ZipFile(path) as archive:
                member = _ged_member(archive, shown_url)
                broken = archive.testzip()  # CRC of every member: catches damaged data
                if broken is not None:
                    raise zipfile.BadZipFile(f"member {broken} fails its checksum")
                with archive.open(member) as handle:
                    header = _read_header(handle)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
            raise DownloadError(
                f"{shown_url} did not arrive as a complete zip archive ({exc}); the download was cut "
                f"short or the file is damaged: run the command again (add --force), {hint}"
            ) from None
        _check_columns(header, where=f"{shown_url} ({member})", documented=UCDP_GED_COLUMNS,
                       required=UCDP_REQUIRED, provider="UCDP GED",
                       hint="check --version and the URL template; the file may not be a GED release")

    return verify


def _verify_ged_csv(shown_url: str):
    def verify(path: Path) -> None:
        with open(path, "rb") as handle:
            header = _read_header(handle)
        _check_columns(header, where=shown_url, documented=UCDP_GED_COLUMNS, required=UCDP_REQUIRED,
                       provider="UCDP GED candidate",
                       hint="check --candidate and the candidate URL template")

    return verify


def _write_csv_sidecar(path: Path, *, date_column: str, inputs: list[Path] | None = None, **details: Any) -> dict:
    rows, column, low, high = csv_summary(path, date_column)
    write_download_sidecar(path, inputs=inputs, rows=rows, date_column=column, date_range=[low, high], **details)
    return {"rows": rows, "date_min": low, "date_max": high}


def _extract(zip_path: Path, member: str, destination: Path, shown_url: str, hint: str) -> None:
    """Extract one member atomically; a checksum error leaves nothing in place."""
    try:
        with zipfile.ZipFile(zip_path) as archive, archive.open(member) as source, atomic_path(destination) as tmp:
            with open(tmp, "wb") as sink:
                shutil.copyfileobj(source, sink, 1 << 20)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        zip_path.unlink(missing_ok=True)
        sidecar_path(zip_path).unlink(missing_ok=True)
        raise DownloadError(f"{zip_path}: cannot extract {member} ({exc}); the archive is damaged and was "
                            f"removed: run the command again, {hint}") from None


def _country_subset(csv_path: Path, country: str, destination: Path) -> int:
    """Copy the rows of one country (name or UCDP ``country_id``) to ``destination``; return their number."""
    wanted = country.strip().lower()
    kept = 0
    with open(csv_path, newline="", encoding="utf-8-sig") as handle, atomic_path(destination) as tmp:
        reader = csv.reader(handle)
        header = next(reader)
        name_at, id_at = header.index("country"), header.index("country_id")
        with open(tmp, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(header)
            for record in reader:
                if record[name_at].strip().lower() == wanted or record[id_at].strip() == wanted:
                    writer.writerow(record)
                    kept += 1
        if kept == 0:
            raise EmptyDataError(
                f"no events for country {country!r}; write it as UCDP does (e.g. 'Afghanistan') or give its "
                "UCDP country_id (e.g. 700)",
                path=csv_path,
            )
    return kept


def fetch_ucdp(
    version: str = UCDP_DEFAULT_VERSION,
    *,
    candidate: str | None = None,
    country: str | None = None,
    raw_dir: str | Path = "data/raw",
    url_template: str | None = None,
    settings: DownloadSettings | None = None,
    force: bool = False,
) -> FetchResult:
    """Download a UCDP GED release (or monthly candidate file) into ``raw_dir/ucdp/``.

    Parameters
    ----------
    version
        GED release, like ``"25.1"``.
    candidate
        A month ``"YYYY-MM"``: download that monthly candidate file instead of a release.
    country
        Also write the rows of this country (UCDP's spelling, or its
        ``country_id``) to ``<name>_<country>.csv``; that file is then the
        events file.
    raw_dir
        The raw data directory; files go to its ``ucdp/`` folder.
    url_template
        Download URL pattern (see :func:`ucdp_url`).
    settings
        Timeouts, retries, progress bar.
    force
        Download again even if the files are already there.

    Returns
    -------
    FetchResult

    Raises
    ------
    DownloadError
        Offline, HTTP error, or a damaged archive (nothing is left in place).
    InputError
        The file lacks the GED columns.
    """
    target = Path(raw_dir) / "ucdp"
    url = ucdp_url(version, candidate=candidate, url_template=url_template)
    shown = safe_url(url)
    hint = _ucdp_hint(shown)
    settings = settings or DownloadSettings.from_env()
    file_name = Path(urllib.parse.urlsplit(url).path).name
    if candidate:
        year, month = _candidate_month(candidate)
        version_label = f"{year % 100:02d}.0.{month}"
        attribution = ucdp_citation(version_label, candidate=True)
        dataset = "UCDP Candidate Events Dataset"
        download_path = target / (file_name or f"GEDEvent_v{year % 100:02d}_0_{month}.csv")
        verify = _verify_ged_csv(shown)
    else:
        major, minor = _ucdp_version(version)
        version_label = f"{major}.{minor}"
        attribution = ucdp_citation(version_label)
        dataset = "UCDP GED"
        download_path = target / (file_name or f"ged{major}{minor}-csv.zip")
        verify = _verify_ged_zip(shown, hint)
    common = {"source": "ucdp", "version": version_label, "licence": LICENCES["ucdp"], "attribution": attribution}

    cached = not force and _sidecar_matches(download_path, url=shown, version=version_label)
    requests = 0
    if not cached:
        result = download(url, download_path, headers=_ucdp_headers(url), settings=settings, verify=verify,
                          hint=hint, http_message=_ucdp_http_message(shown, hint))
        requests = result.requests
    files = [download_path]

    if candidate:
        events_path = download_path
        if not cached:
            _write_csv_sidecar(events_path, date_column="date_start", url=url, dataset=dataset,
                               candidate=candidate, **common)
    else:
        with zipfile.ZipFile(download_path) as archive:
            member = _ged_member(archive, shown)
        events_path = target / Path(member).name
        if not cached:
            write_download_sidecar(download_path, url=url, dataset=dataset, member=member, **common)
        zip_sha = read_sidecar(download_path)["sha256"]
        csv_meta = read_sidecar(events_path) if events_path.exists() else None
        if not (csv_meta and csv_meta.get("inputs") and csv_meta["inputs"][0].get("sha256") == zip_sha
                and csv_meta.get("sha256") == sha256_file(events_path)):
            _extract(download_path, member, events_path, shown, hint)
            _write_csv_sidecar(events_path, date_column="date_start", inputs=[download_path], url=url,
                               dataset=dataset, member=member, **common)
        files.append(events_path)

    if country:
        parent = events_path
        subset = parent.with_name(f"{parent.stem}_{slug(country)}.csv")
        parent_sha = read_sidecar(parent)["sha256"]
        subset_meta = read_sidecar(subset) if subset.exists() else None
        if not (subset_meta and subset_meta.get("inputs") and subset_meta["inputs"][0].get("sha256") == parent_sha
                and subset_meta.get("sha256") == sha256_file(subset)):
            kept = _country_subset(parent, country, subset)
            logger.info("%s: %d events in %s", subset, kept, country)
            _write_csv_sidecar(subset, date_column="date_start", inputs=[parent], url=url, dataset=dataset,
                               filters={"country": country}, **common)
        events_path = subset
        files.append(subset)

    meta = read_sidecar(events_path) or {}
    low, high = (meta.get("date_range") or [None, None])[:2]
    return FetchResult(
        source="ucdp", events_path=events_path, files=files, url=shown, version=version_label,
        sha256=meta.get("sha256") or sha256_file(events_path), rows=meta.get("rows"), date_min=low,
        date_max=high, cached=cached, requests=requests, attribution=attribution,
    )


# ------------------------------------------------------------------ ACLED


@dataclass(frozen=True)
class _AcledCredentials:
    email: str | None
    password: str | None
    token: str | None

    @property
    def origin(self) -> str:
        return "ACLED_ACCESS_TOKEN" if self.token else "ACLED_EMAIL/ACLED_PASSWORD"


def acled_credentials() -> _AcledCredentials:
    """ACLED credentials from the environment -- the only place they are ever taken from.

    Raises
    ------
    ParameterError
        When neither a token nor an e-mail and password are set.
    """
    email = os.environ.get("ACLED_EMAIL", "").strip() or None
    password = os.environ.get("ACLED_PASSWORD", "") or None
    token = os.environ.get("ACLED_ACCESS_TOKEN", "").strip() or None
    if token:
        register_secret(token)
        return _AcledCredentials(email, password, token)
    if email and password:
        return _AcledCredentials(email, password, None)
    missing = [name for name, value in (("ACLED_EMAIL", email), ("ACLED_PASSWORD", password)) if not value]
    raise ParameterError(
        f"ACLED needs your account's credentials, and {', '.join(missing)} is not set: {ACLED_CREDENTIAL_HINT}. "
        "They are read from the environment only, never from options, and never written to any file"
    )


def _acled_rejected(origin: str):
    def message(code: int, reason: str) -> str:
        if code in (400, 401):
            return (
                f"ACLED rejected the credentials (HTTP {code}) from {origin}; check them by logging in at "
                "https://acleddata.com, then set them again in the environment (tokens expire after 24 hours)"
            )
        if code == 403:
            return (
                f"ACLED refused access (HTTP 403) for the account in {origin}: its access level may not cover "
                "this request (recent events are embargoed for some tiers); check your account at https://acleddata.com"
            )
        if code == 429:
            return "ACLED's rate limit was reached (HTTP 429); wait a few minutes and run the command again"
        return f"ACLED answered HTTP {code} {reason}; check the country name and dates, then try again"

    return message


def acled_token(credentials: _AcledCredentials, *, base_url: str, settings: DownloadSettings) -> str:
    """An OAuth access token: the one in ``ACLED_ACCESS_TOKEN``, or a new one from e-mail and password."""
    if credentials.token:
        return credentials.token
    answer = request_json(
        base_url + ACLED_TOKEN_PATH,
        form={
            "username": credentials.email or "",
            "password": credentials.password or "",
            "grant_type": "password",
            "client_id": "acled",
            "scope": "authenticated",
        },
        settings=settings,
        hint="check your connection, or export the data from https://acleddata.com by hand and run "
        "`forecast ingest acled <file>`",
        http_message=_acled_rejected(credentials.origin),
    )
    token = answer.get("access_token") if isinstance(answer, dict) else None
    if not token:
        raise DownloadError(
            f"ACLED's login at {safe_url(base_url + ACLED_TOKEN_PATH)} returned no access token; "
            f"check {credentials.origin} and try again"
        )
    register_secret(token)
    refresh = answer.get("refresh_token")
    register_secret(refresh if isinstance(refresh, str) else None)
    return str(token)


def _acled_date(value: str | date | None, name: str, default: str) -> str:
    if value is None or value == "":
        return default
    text = value.isoformat() if isinstance(value, date) else str(value).strip()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ParameterError(f"--{name} {value!r} is not a date like 2021-08-15") from None
    checked_date(day.isoformat(), f"--{name}")  # 1900 to 2199, as every date parameter
    return day.isoformat()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _acled_records(payload: Any, shown: str, secrets: list[str]) -> list[dict[str, Any]]:
    if not isinstance(payload, dict):
        raise DownloadError(f"{shown} answered with {type(payload).__name__}, not ACLED's JSON object; "
                            "the API may have changed")
    failed = payload.get("success") is False or payload.get("status") not in (None, 200, "200")
    if failed:
        detail = payload.get("error") or payload.get("messages") or payload.get("message") or "no reason given"
        # The server's words, which may quote the token or the account: scrubbed, cut, one line.
        text = redact(detail if isinstance(detail, str) else json.dumps(detail, default=str), secrets)
        text = " ".join(text.split())
        text = text[:200] + ("..." if len(text) > 200 else "")
        raise DownloadError(f"ACLED refused the request {shown}: {text}; check the country name and dates")
    records = payload.get("data") or []
    if not isinstance(records, list):
        raise DownloadError(f"{shown}: 'data' is not a list of records; the API may have changed")
    return records


def fetch_acled(
    country: str,
    *,
    start: str | date | None = None,
    end: str | date | None = None,
    raw_dir: str | Path = "data/raw",
    base_url: str | None = None,
    page_size: int = ACLED_PAGE_SIZE,
    settings: DownloadSettings | None = None,
    force: bool = False,
    max_pages: int = 10_000,
) -> FetchResult:
    """Read one country's ACLED events through the API into ``raw_dir/acled/``.

    Parameters
    ----------
    country
        Country as ACLED names it (``"Afghanistan"``).
    start, end
        First and last event date (``YYYY-MM-DD``); default 1997-01-01 to today.
    raw_dir
        The raw data directory; the file goes to its ``acled/`` folder as
        ``acled_<country>_<start>_<end>.csv`` (ACLED export columns, in order).
    base_url
        API root; default ``FORECAST_ACLED_BASE_URL`` or https://acleddata.com.
    page_size
        Records per page (``limit``); paging stops at the first short page.
    settings
        Timeouts, retries.
    force
        Download again even if the file is already there.
    max_pages
        Safety stop against an API that never returns a short page.

    Raises
    ------
    ParameterError
        Credentials missing from the environment, or bad dates.
    DownloadError
        Credentials rejected (HTTP 401/403), offline, or HTTP errors.
    EmptyDataError
        ACLED has no events for the country and dates.

    Notes
    -----
    ACLED's terms forbid redistributing its data: the file stays in the user's
    ``data/raw/acled/``; reports show aggregates with the attribution and terms
    notice of :func:`forecast.data.citations.acled_citation`.
    """
    if not country or not country.strip():
        raise ParameterError("--country is required for ACLED (e.g. --country Afghanistan)")
    whole_number(page_size, "page size")
    country = country.strip()
    start_text = _acled_date(start, "start", ACLED_FIRST_DATE)
    end_text = _acled_date(end, "end", datetime.now(UTC).date().isoformat())
    if start_text > end_text:
        raise ParameterError(f"--start {start_text} is after --end {end_text}")
    base = (base_url or os.environ.get(ACLED_BASE_URL_ENV) or ACLED_BASE_URL).rstrip("/")
    settings = settings or DownloadSettings.from_env()
    read_url = base + ACLED_READ_PATH
    query = {
        "_format": "json",
        "country": country,
        "event_date": f"{start_text}|{end_text}",
        "event_date_where": "BETWEEN",
        "limit": page_size,
    }
    shown = safe_url(f"{read_url}?{urllib.parse.urlencode(query, safe='|')}")
    destination = Path(raw_dir) / "acled" / f"acled_{slug(country)}_{start_text}_{end_text}.csv"
    common_filters = {"country": country, "start": start_text, "end": end_text}

    if not force and _sidecar_matches(destination, url=shown, filters=common_filters):
        meta = read_sidecar(destination) or {}
        low, high = (meta.get("date_range") or [None, None])[:2]
        return FetchResult(
            source="acled", events_path=destination, files=[destination], url=shown, version=meta.get("version"),
            sha256=meta["sha256"], rows=meta.get("rows"), date_min=low, date_max=high, cached=True,
            attribution=list(meta.get("attribution") or acled_citation()),
        )

    credentials = acled_credentials()
    token = acled_token(credentials, base_url=base, settings=settings)
    auth = {"Authorization": f"Bearer {token}"}
    secrets = request_secrets(auth) + [v for v in (credentials.email, credentials.password) if v]
    # Every cell is scrubbed: a server echoing the token or the account in a field
    # must not plant it in data/raw/acled/ (and from there in reports).
    scrub = redactor(secrets)
    rejected = _acled_rejected(credentials.origin)
    accessed = datetime.now(UTC).date().isoformat()
    attribution = acled_citation(accessed)
    rows, requests, ignored = 0, 1 if not credentials.token else 0, set()
    with atomic_path(destination) as tmp, open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(ACLED_COLUMNS)
        for page in range(1, max_pages + 1):
            payload = request_json(
                read_url, params={**query, "page": page}, headers=auth, settings=settings,
                hint="or export the data from https://acleddata.com by hand and run `forecast ingest acled <file>`",
                http_message=rejected,
            )
            requests += 1
            records = _acled_records(payload, shown, secrets)
            if page == 1 and records:
                _check_columns(list(records[0]), where=shown, documented=ACLED_COLUMNS, required=ACLED_REQUIRED,
                               provider="ACLED API", hint="the API's field names may have changed")
            for record in records:
                ignored |= set(record) - set(ACLED_COLUMNS)
                writer.writerow([scrub(_cell(record.get(column))) for column in ACLED_COLUMNS])
            rows += len(records)
            logger.info("ACLED page %d: %d records (%d so far)", page, len(records), rows)
            if len(records) < page_size:
                break
        else:
            raise DownloadError(f"{shown}: still full pages after {max_pages} pages; narrow --start/--end")
        if rows == 0:
            raise EmptyDataError(
                f"ACLED has no events for {country!r} between {start_text} and {end_text}; check the country "
                "name as ACLED writes it (e.g. 'Afghanistan') and the dates"
            )
    if ignored:
        logger.warning("ACLED fields not in the export format were left out: %s", ", ".join(sorted(ignored)))
    summary = _write_csv_sidecar(
        destination, date_column="event_date", url=shown, source="acled", version=f"API, accessed {accessed}",
        licence=LICENCES["acled"], attribution=attribution, dataset="ACLED", accessed=accessed,
        filters=common_filters, pages=page, ignored_fields=sorted(ignored),
    )
    return FetchResult(
        source="acled", events_path=destination, files=[destination], url=shown,
        version=f"API, accessed {accessed}", sha256=sha256_file(destination), rows=summary["rows"],
        date_min=summary["date_min"], date_max=summary["date_max"], cached=False, requests=requests,
        attribution=attribution,
    )


# -------------------------------------------------------------------- HDX

#: HDX's public CKAN site (no account needed for ACLED's aggregates).
HDX_BASE_URL = "https://data.humdata.org"
HDX_BASE_URL_ENV = "FORECAST_HDX_BASE_URL"
HDX_PACKAGE_PATH = "/api/3/action/package_show"
HDX_HINT = ("or download the workbook by hand from the dataset's page on https://data.humdata.org into "
            "data/raw/hdx/ and report on it with -p source=hdx -p events_path=<file> -p freq=MS")


def _hdx_resource(package: dict[str, Any], topic: str, shown: str) -> dict[str, Any]:
    """The package's XLSX resource whose name names ``topic``; an error listing the resources otherwise."""
    from forecast.data.hdx import TOPICS

    resources = [r for r in package.get("resources") or [] if isinstance(r, dict)]
    wanted = TOPICS[topic]
    found = [
        r for r in resources
        if wanted in str(r.get("name", "")).lower()
        and (str(r.get("format", "")).upper() == "XLSX" or str(r.get("url", "")).lower().endswith(".xlsx"))
    ]
    if not found:
        names = ", ".join(str(r.get("name")) for r in resources[:8]) or "none"
        raise DownloadError(f"{shown}: dataset {package.get('name')!r} has no XLSX resource named like "
                            f"*{wanted}* (resources: {names}); choose another --topic, or {HDX_HINT}")
    if not found[0].get("url"):
        raise DownloadError(f"{shown}: resource {found[0].get('name')!r} has no download URL; {HDX_HINT}")
    return found[0]


def _workbook_summary(path: Path, shown: str) -> dict[str, Any]:
    """Rows and first/last month of an HDX workbook's ``Data`` sheet; an error if it is not one."""
    import openpyxl

    if not zipfile.is_zipfile(path):
        raise DownloadError(f"{shown}: the file received ({path.stat().st_size} bytes) is not a complete XLSX "
                            f"workbook (a truncated download or an error page); run the command again, {HDX_HINT}")
    # A file object, not the path: openpyxl refuses the download's temporary ".part" name.
    with open(path, "rb") as handle:
        try:
            workbook = openpyxl.load_workbook(handle, read_only=True)
        except Exception as exc:  # zipfile/openpyxl raise assorted types for a damaged workbook
            raise DownloadError(f"{shown}: the workbook cannot be opened ({exc}); run the command again, "
                                f"{HDX_HINT}") from None
        try:
            return _data_sheet_summary(workbook, shown)
        finally:
            workbook.close()


def _data_sheet_summary(workbook: Any, shown: str) -> dict[str, Any]:
    from forecast.data.hdx import DATA_SHEET, MONTHS, REQUIRED_COLUMNS

    if DATA_SHEET not in workbook.sheetnames:
        raise InputError(f"{shown}: the workbook has no sheet {DATA_SHEET!r} (it has: "
                         f"{', '.join(workbook.sheetnames)}); HDX's format may have changed; {HDX_HINT}")
    rows = workbook[DATA_SHEET].iter_rows(values_only=True)
    header = [str(c).strip() if c is not None else "" for c in next(rows, ())]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise InputError(f"{shown}: the Data sheet has missing columns {', '.join(missing)}; HDX's format may "
                         f"have changed; {HDX_HINT}")
    year, month = header.index("Year"), header.index("Month")
    count, periods = 0, set()
    for row in rows:
        if row is None or all(cell is None for cell in row):
            continue
        count += 1
        number = MONTHS.get(str(row[month]).strip().lower())
        if number and str(row[year]).strip().isdigit():
            periods.add(f"{int(str(row[year]).strip()):04d}-{number:02d}-01")
    return {"rows": count, "date_range": [min(periods), max(periods)] if periods else [None, None]}


def fetch_hdx(
    country: str = "AFG",
    *,
    topic: str = "civilian-targeting",
    raw_dir: str | Path = "data/raw",
    base_url: str | None = None,
    dataset: str | None = None,
    settings: DownloadSettings | None = None,
    force: bool = False,
) -> FetchResult:
    """Download a country's ACLED sub-national aggregates workbook from HDX into ``raw_dir/hdx/``.

    Parameters
    ----------
    country
        ISO3 code or name (``AFG``); names the dataset
        (``afghanistan-acled-conflict-data``) unless ``dataset`` is given.
    topic
        ``political-violence``, ``civilian-targeting`` or ``demonstrations``:
        which of the dataset's workbooks.
    raw_dir
        The raw data directory; the workbook goes to its ``hdx/`` folder.
    base_url
        CKAN site root; default ``FORECAST_HDX_BASE_URL`` or https://data.humdata.org.
    dataset
        HDX dataset name, when it is not ``<country>-acled-conflict-data``.
    settings
        Timeouts, retries, progress bar.
    force
        Download again even if the same version is already there.

    Returns
    -------
    FetchResult
        ``version`` is the resource's last-modified time on HDX.

    Raises
    ------
    ParameterError
        Unknown topic or country.
    DownloadError
        Offline, HTTP error, no such dataset or topic, a truncated workbook
        (nothing is left in place).
    InputError
        The workbook lacks the ``Data`` sheet or its columns.
    """
    from forecast.checks import choice
    from forecast.data.hdx import TOPICS, dataset_name

    choice(topic, "--topic", tuple(TOPICS))
    name = dataset or dataset_name(country)
    base = (base_url or os.environ.get(HDX_BASE_URL_ENV) or HDX_BASE_URL).rstrip("/")
    settings = settings or DownloadSettings.from_env()
    api = base + HDX_PACKAGE_PATH
    shown_api = safe_url(f"{api}?{urllib.parse.urlencode({'id': name})}")
    payload = request_json(api, params={"id": name}, settings=settings, hint=HDX_HINT)
    requests = 1
    package = payload.get("result") if isinstance(payload, dict) and payload.get("success") else None
    if not isinstance(package, dict):
        raise DownloadError(f"{shown_api} did not return the dataset {name!r} (CKAN success=false); check --country "
                            f"or give the dataset name with --dataset; {HDX_HINT}")
    resource = _hdx_resource(package, topic, shown_api)
    url = str(resource["url"])
    shown = safe_url(url)
    version = resource.get("last_modified") or resource.get("metadata_modified") or package.get("metadata_modified")
    file_name = Path(urllib.parse.urlsplit(url).path).name
    if not file_name.lower().endswith(".xlsx"):
        file_name = f"{slug(str(resource.get('name') or name))}.xlsx"
    destination = Path(raw_dir) / "hdx" / file_name
    attribution = hdx_citation(version, name)

    cached = not force and _sidecar_matches(destination, url=shown, version=version)
    if not cached:
        summary: dict[str, Any] = {}

        def verify(path: Path) -> None:
            summary.update(_workbook_summary(path, shown))

        result = download(url, destination, settings=settings, verify=verify, hint=HDX_HINT)
        requests += result.requests
        write_download_sidecar(
            destination, source="hdx", url=url, version=version, licence=LICENCES["hdx"], attribution=attribution,
            dataset=name, resource=resource.get("name"), topic=topic, last_modified=version,
            package_licence=package.get("license_title"), api=shown_api, **summary,
        )
    meta = read_sidecar(destination) or {}
    low, high = (meta.get("date_range") or [None, None])[:2]
    return FetchResult(
        source="hdx", events_path=destination, files=[destination], url=shown, version=version,
        sha256=meta.get("sha256") or sha256_file(destination), rows=meta.get("rows"), date_min=low, date_max=high,
        cached=cached, requests=requests, attribution=list(meta.get("attribution") or attribution),
    )


__all__ = [
    "ACLED_COLUMNS",
    "UCDP_GED_COLUMNS",
    "FetchResult",
    "acled_credentials",
    "fetch_acled",
    "fetch_hdx",
    "fetch_ucdp",
    "ucdp_url",
]
