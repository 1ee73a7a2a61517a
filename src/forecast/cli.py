"""The ``forecast`` command. Thin: it parses options, calls the package, prints.

Errors caused by input (:class:`forecast.errors.ForecastError`) are printed on
one line to stderr and exit with status 2; anything else is a bug and keeps
its traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from forecast import __version__, defaults
from forecast.errors import ForecastError

# Every verb's defaults come from forecast.defaults, as config/default.yaml's do.
_MODELS_DEFAULT_HELP = " Default: the candidates of --freq's panels (forecast.defaults.default_models)."
# Where the work runs (forecast.parallel.get_executor): here, unless --workers or --address is given.
_WorkersOption = Annotated[
    int | None, typer.Option(help="Run on a private Dask cluster of N worker processes on this machine (127.0.0.1).")
]
_AddressOption = Annotated[
    str | None, typer.Option(help="Run on the Dask scheduler at this address, e.g. tcp://HOST:8786 (several machines).")
]
_ExecutorOption = Annotated[
    str | None,
    typer.Option(help="inprocess, processes or dask (default: dask with --workers/--address, else inprocess)."),
]
_STRONGHOLD_HELP = (
    "auto, or the stronghold's province names: Nangarhar,Kunar "
    f"(default: {', '.join(f'{k}: {v}' for k, v in defaults.STRONGHOLDS.items())}; auto elsewhere)."
)

_LEVEL_HELP = "Units: 1 provinces, 2 districts (--source hdx; districts get adjacency from --boundaries)."
_BOUNDARIES_HELP = ("District boundary file (GeoJSON/shapefile) for --level 2: the districts' adjacency and centroids, "
                    "matched to the workbook's P-codes (without it only models without neighbour terms run).")

app = typer.Typer(
    name="forecast",
    help="Early-warning forecasts of insurgent and terrorist attacks per province.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _parse_pairs(text: str | None, option: str, example: str) -> dict[str, str] | None:
    """Parse ``a=b,c=d`` into ``{"a": "b", "c": "d"}``; a malformed pair names the option and an example."""
    if not text:
        return None
    mapping: dict[str, str] = {}
    for pair in text.split(","):
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise typer.BadParameter(f"'{pair}' is not NAME=VALUE; write e.g. {option} {example}")
        mapping[key.strip()] = value.strip()
    return mapping


def _parse_columns(columns: str | None) -> dict[str, str] | None:
    """Parse ``admin1=Province,date=Date`` into ``{"admin1": "Province", "date": "Date"}``."""
    return _parse_pairs(columns, "--columns", "admin1=Province,date=Date")


def _parse_aliases(aliases: str | None) -> dict[str, str] | None:
    """Parse ``'Nangahar=Nangarhar,Spin Boldak=Kandahar'`` into a spelling -> province mapping."""
    return _parse_pairs(aliases, "--aliases", "'Nangahar=Nangarhar,Spin Boldak=Kandahar'")


@app.callback(invoke_without_command=True)
def _main(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", metavar="")] = False,
) -> None:
    if version:
        typer.echo(__version__)
        raise typer.Exit(0)


@app.command()
def ingest(
    source: Annotated[str, typer.Argument(help="Provider format: ucdp, acled, gtd or csv.")],
    path: Annotated[Path, typer.Argument(help="The provider's file (CSV, or XLSX for GTD).")],
    country: Annotated[str | None, typer.Option(help="Keep one country (name or ISO code).")] = None,
    actor: Annotated[str | None, typer.Option(help="Keep events whose actor/side names match this regex.")] = None,
    start: Annotated[str | None, typer.Option(help="First date kept (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option(help="Last date kept (YYYY-MM-DD).")] = None,
    columns: Annotated[str | None, typer.Option(help="Generic CSV column mapping: admin1=Province,date=Date.")] = None,
    unmatched: Annotated[str, typer.Option(help="Unknown province names: 'error' (default) or 'drop'.")] = "error",
    aliases: Annotated[str | None, typer.Option(help="Extra province spellings: 'Nangahar=Nangarhar,Spin Boldak=Kandahar'.")] = None,
    boundaries: Annotated[Path | None, typer.Option(help="Province boundaries (GeoJSON/shapefile) to place events with coordinates but no known name.")] = None,
    out: Annotated[Path, typer.Option(help="Canonical events parquet to write.")] = Path("data/processed/events.parquet"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.", metavar="")] = False,
) -> None:
    """Read a provider's event file into the canonical event table."""
    from forecast.checks import output_path
    from forecast.data import read_events
    from forecast.files import write_parquet_with_sidecar

    output_path(out, "--out", inputs=[path, boundaries], example="data/processed/events.parquet")
    result = read_events(
        source,
        path,
        country=country,
        actor=actor,
        start=start,
        end=end,
        columns=_parse_columns(columns),
        unmatched=unmatched,
        aliases=_parse_aliases(aliases),
        boundaries=boundaries,
    )
    write_parquet_with_sidecar(
        result.events,
        out,
        inputs=[path],
        kind="events",
        source=source,
        filters={"country": country, "actor": actor, "start": start, "end": end},
        dropped=result.dropped,
    )
    if as_json:
        typer.echo(json.dumps({**result.summary_dict(), "out": str(out)}, indent=2))
    else:
        typer.echo(result.summary())
        typer.echo(f"wrote {out}")


@app.command()
def panel(
    events: Annotated[Path, typer.Option(help="Canonical events (parquet from `forecast ingest`).")],
    freq: Annotated[str, typer.Option(help="Period: W-MON (weeks from Monday) or MS (months).")] = "W-MON",
    start: Annotated[str | None, typer.Option(help="First date covered (default: first event).")] = None,
    end: Annotated[str | None, typer.Option(help="Last date covered (default: last event).")] = None,
    country: Annotated[str, typer.Option(help="ISO3 code of the country whose provinces form the panel.")] = "AFG",
    out: Annotated[Path, typer.Option(help="Panel parquet to write.")] = Path("data/processed/panel.parquet"),
) -> None:
    """Count canonical events into a complete unit x period panel (zeros are rows)."""
    from forecast.checks import output_path
    from forecast.data import read_canonical
    from forecast.files import write_parquet_with_sidecar
    from forecast.panel import build_panel

    output_path(out, "--out", inputs=[events], example="data/processed/panel.parquet")
    table = build_panel(read_canonical(events), freq=freq, start=start, end=end, country=country)
    write_parquet_with_sidecar(table, out, inputs=[events], kind="panel", **table.attrs)
    dropped = ", ".join(f"{reason} {n}" for reason, n in table.attrs["dropped"].items() if n) or "none"
    typer.echo(
        f"{table['unit_id'].nunique()} units x {table['ds'].nunique()} periods ({freq}, "
        f"{table.attrs['start']} to {table.attrs['end']}), {int(table['y'].sum())} events counted; "
        f"set aside: {dropped}"
    )
    typer.echo(f"wrote {out}")


# --- report runs: forecast.runner.run ---------------------------------------------

runs_app = typer.Typer(help="Archived report runs under reports/runs/: list, prune.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")


@app.command("run")
def run_notebooks(
    config: Annotated[Path | None, typer.Option(help="Parameter file (default: config/default.yaml).")] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Override a parameter: -p horizon=4 (YAML value); repeatable.")
    ] = None,
    notebooks: Annotated[str | None, typer.Option(help="Run only these notebooks: 01,04 (numbers or names).")] = None,
    reports_dir: Annotated[Path | None, typer.Option(help="Where runs are published (default: reports/).")] = None,
    notebooks_dir: Annotated[Path | None, typer.Option(help="Folder of NN_name.ipynb notebooks (default: notebooks/).")] = None,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="Print only warnings, errors and one line when a province is at warning or above (for cron).", metavar=""),
    ] = False,
    publish: Annotated[
        bool,
        typer.Option("--publish", help="Make a successful full run the latest report (make report and scheduled runs do).", metavar=""),
    ] = False,
    fail_on: Annotated[
        str | None,
        typer.Option(help="Exit 3 when any province is at this level or above: warning or alert."),
    ] = None,
) -> None:
    """Run the report notebooks and publish HTML reports under reports/runs/<run-id>/.

    Exits 2 when a parameter is wrong (nothing runs), the reports dir is
    locked by another run, or a notebook fails (the previous latest report stays);
    exits 3 with --fail-on when a province is at that level or above.
    """
    import logging
    import signal
    import threading

    from forecast.checks import choice, output_folder
    from forecast.errors import ParameterError
    from forecast.report.notebook import attention_line
    from forecast.runner.run import run_reports

    if fail_on is not None:
        choice(fail_on, "--fail-on", ("warning", "alert"))
    if notebooks is not None and not notebooks.strip(","+" "):
        raise ParameterError("--notebooks is empty; give notebook numbers or names, e.g. --notebooks 01,04, "
                             "or leave the option out to run them all")
    if reports_dir is not None:
        output_folder(reports_dir, "--reports-dir")
    if quiet:  # besides errors, a quiet run reports a recovered stale lock and provinces needing attention
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("warning: %(message)s"))
        logging.getLogger("forecast.runner.run").addHandler(handler)

    def _terminate(signum: int, _frame: object) -> None:
        # SIGTERM (systemd stop, kill): unwind so the lock and the half-built run are removed.
        raise SystemExit(128 + signum)

    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        result = run_reports(
            config,
            param or [],
            notebooks_dir=notebooks_dir,
            select=notebooks,
            reports_dir=reports_dir,
            progress=None if quiet else typer.echo,
            publish=publish,
        )
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
    alerts = result.manifest.get("alerts")
    line = attention_line(alerts, "warning", where=f"{result.folder}/")
    if line:  # cron mails any output: this is the line that makes it speak up
        typer.echo(line)
    if fail_on is not None and attention_line(alerts, fail_on):
        raise typer.Exit(3)


def _reports_dir(reports_dir: Path | None) -> Path:
    from forecast.checks import output_folder
    from forecast.runner.run import find_project_root

    return output_folder(reports_dir, "--reports-dir") if reports_dir is not None else find_project_root() / "reports"


@runs_app.command("list")
def runs_list(
    reports_dir: Annotated[Path | None, typer.Option(help="Reports folder (default: reports/).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.", metavar="")] = False,
) -> None:
    """List published runs, newest first; the latest successful one is marked."""
    from forecast.runner.run import list_runs

    runs = list_runs(_reports_dir(reports_dir))
    if as_json:
        typer.echo(json.dumps(runs, indent=2))
        return
    if not runs:
        typer.echo("no runs yet")
    for entry in runs:
        marker = "  <- latest" if entry["latest"] else ""
        typer.echo(f"{entry['run_id']}  {entry['status']:<6}  {entry['finished']}  alerts: {entry['alerts']}{marker}")


@runs_app.command("prune")
def runs_prune(
    keep: Annotated[int, typer.Option(help="How many of the newest runs to keep (the latest successful one is always kept).")],
    reports_dir: Annotated[Path | None, typer.Option(help="Reports folder (default: reports/).")] = None,
) -> None:
    """Delete old runs, keeping the N newest, and rebuild reports/index.html."""
    from forecast.runner.run import prune_runs

    deleted = prune_runs(_reports_dir(reports_dir), keep, progress=typer.echo)
    typer.echo(f"deleted {len(deleted)} runs")


ledger_app = typer.Typer(help="The forecast ledger: every published run's forecasts, rescored once observed.", no_args_is_help=True)
app.add_typer(ledger_app, name="ledger")


@ledger_app.command("rebuild")
def ledger_rebuild(
    reports_dir: Annotated[Path | None, typer.Option(help="Reports folder (default: reports/).")] = None,
) -> None:
    """Rebuild reports/ledger from the archived run folders (published, successful runs)."""
    from forecast.runner.run import rebuild_ledger

    rebuilt = rebuild_ledger(_reports_dir(reports_dir), progress=typer.echo)
    typer.echo(f"{len(rebuilt)} run(s) in the ledger")


@ledger_app.command("list")
def ledger_list(
    reports_dir: Annotated[Path | None, typer.Option(help="Reports folder (default: reports/).")] = None,
) -> None:
    """List the runs in the ledger, oldest first, with their scope and as-of date."""
    from forecast.evaluation.ledger import read_meta, run_ids
    from forecast.runner.run import ledger_path

    ledger = ledger_path(_reports_dir(reports_dir))
    runs = run_ids(ledger)
    if not runs:
        typer.echo(f"the ledger {ledger} holds no run yet")
    for run in runs:
        meta = read_meta(ledger, run)
        scope = meta.get("scope") or {}
        as_of = (meta.get("parameters") or {}).get("as_of")
        typer.echo(
            f"{run}  as_of {as_of}  {scope.get('source')} {scope.get('country')} {scope.get('freq')}"
            f"  models: {', '.join(meta.get('models', []))}"
        )


@app.command()
def schedule(
    cron: Annotated[str, typer.Option(help='When to run, as a cron expression: "0 6 * * 1" = Mondays 06:00.')],
    config: Annotated[Path | None, typer.Option(help="Parameter file (default: config/default.yaml).")] = None,
    reports_dir: Annotated[Path | None, typer.Option(help="Where runs are published (default: reports/).")] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Parameter of every scheduled run: -p as_of=null (YAML value); repeatable.")
    ] = None,
    fetch: Annotated[
        list[str] | None,
        typer.Option(help="Download before each run: --fetch 'hdx --country AFG --topic civilian-targeting --force' (forecast fetch arguments); repeatable."),
    ] = None,
) -> None:
    """Print a crontab line and a systemd service + timer that run `forecast run --quiet --publish`."""
    from forecast.checks import output_folder
    from forecast.runner.run import make_schedule

    if reports_dir is not None:
        output_folder(reports_dir, "--reports-dir")

    planned = make_schedule(cron, config_path=config, reports_dir=reports_dir, overrides=param or [], fetch=fetch or [])
    for warning in planned.warnings:
        typer.echo(f"warning: {warning}", err=True)
    typer.echo(planned.text())


gazetteer_app = typer.Typer(help="Units from a boundary file: ids, names, ISO codes, centroids, adjacency.", no_args_is_help=True)
app.add_typer(gazetteer_app, name="gazetteer")


@gazetteer_app.command("build")
def gazetteer_build(
    path: Annotated[Path, typer.Argument(help="Boundary layer: GeoJSON, shapefile or GeoPackage (any CRS).")],
    id_column: Annotated[str, typer.Option(help="Column with each unit's id (unique across the layer).")],
    name_column: Annotated[str, typer.Option(help="Column with each unit's English name.")],
    country_column: Annotated[str | None, typer.Option(help="Column with each row's country (several countries in one layer).")] = None,
    country: Annotated[str | None, typer.Option(help="The layer's one country (ISO3) when there is no --country-column.")] = None,
    iso_column: Annotated[str | None, typer.Option(help="Column with ISO 3166-2 codes (geoBoundaries: shapeISO).")] = None,
    population: Annotated[Path | None, typer.Option(help="CSV with columns unit_id, population.")] = None,
    snap_m: Annotated[float, typer.Option(help="Metres within which borders count as shared (two countries' files).")] = 0.0,
    out_dir: Annotated[Path, typer.Option(help="Where the derived tables go (cached by the file's sha256).")] = Path("data/processed/gazetteer"),
) -> None:
    """Derive the unit tables of any boundary layer (cross-border adjacency included) and say what they hold."""
    from forecast.checks import output_folder
    from forecast.geo.derive import gazetteer_from_boundaries

    output_folder(out_dir, "--out-dir", example="data/processed/gazetteer")
    if (country is None) == (country_column is None):
        raise typer.BadParameter("give --country ISO3 (a one-country layer) or --country-column COLUMN (several countries), not both")
    layer = gazetteer_from_boundaries(
        path, id_column=id_column, name_column=name_column, country_column=country_column, country=country,
        iso_column=iso_column, population=population, snap_m=snap_m, cache_dir=out_dir,
    )
    typer.echo(layer.summary())


fetch_app = typer.Typer(help="Download reference data into data/raw/ (cached; later runs make no request).", no_args_is_help=True)
app.add_typer(fetch_app, name="fetch")


@fetch_app.command("boundaries")
def fetch_boundaries_command(
    country: Annotated[str, typer.Argument(help="ISO3 country code, e.g. AFG.")] = "AFG",
    level: Annotated[int, typer.Option(help="Administrative level (1 = provinces).")] = 1,
    raw_dir: Annotated[Path, typer.Option(help="Raw-data folder; the file goes to <raw-dir>/boundaries/.")] = Path("data/raw"),
    api_url: Annotated[str | None, typer.Option(help="geoBoundaries API URL template with {iso3} and {level} (a mirror).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Download again even when cached.", metavar="")] = False,
) -> None:
    """Download geoBoundaries' simplified province boundaries (public domain) once."""
    from forecast.checks import output_folder
    from forecast.geo.boundaries import GEOBOUNDARIES_API, fetch_boundaries

    output_folder(raw_dir, "--raw-dir", example="data/raw", raw_allowed=True)

    fetched = fetch_boundaries(
        country, level, raw_dir=raw_dir, api_url_template=api_url or GEOBOUNDARIES_API, force=force
    )
    how = "cached, no request made" if fetched.from_cache else f"downloaded from {fetched.url}"
    typer.echo(f"{fetched.path} ({how}; sha256 {fetched.sha256})")


# --- provider downloads: forecast.data.providers ------------------------------


def _show_download_warnings():  # -> a function that undoes it
    """Show the download machinery's retry warnings on stderr, scrubbed of secrets; returns the undo."""
    import logging

    from forecast.data.download import RedactingFilter

    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("warning: %(message)s"))
    handler.addFilter(RedactingFilter())
    target = logging.getLogger("forecast.data")
    target.addHandler(handler)
    return lambda: target.removeHandler(handler)


def _download_settings(timeout: float | None, retries: int | None, progress: bool | None):
    from forecast.data.download import DownloadSettings

    return DownloadSettings.from_env(timeout=timeout, retries=retries, progress=progress)


@fetch_app.command("ucdp")
def fetch_ucdp_command(
    version: Annotated[str, typer.Option(help="GED release, e.g. 25.1.")] = "25.1",
    candidate: Annotated[str | None, typer.Option(help="Download this month's candidate file (YYYY-MM) instead of a release.")] = None,
    country: Annotated[str | None, typer.Option(help="Also write this country's events (UCDP spelling, e.g. Afghanistan) to their own CSV.")] = None,
    url_template: Annotated[
        str | None,
        typer.Option(help="Download URL pattern with {version_nodot} ({yy}, {month} for candidates); default $FORECAST_UCDP_URL_TEMPLATE or UCDP's official address."),
    ] = None,
    raw_dir: Annotated[Path, typer.Option(help="Raw-data folder; files go to <raw-dir>/ucdp/.")] = Path("data/raw"),
    force: Annotated[bool, typer.Option("--force", help="Download again even when cached.", metavar="")] = False,
    timeout: Annotated[float | None, typer.Option(help="Seconds to wait for the server (default 60, or $FORECAST_HTTP_TIMEOUT).")] = None,
    retries: Annotated[int | None, typer.Option(help="Retries after a network error or HTTP 5xx (default 4).")] = None,
    progress: Annotated[bool | None, typer.Option("--progress/--no-progress", help="Progress bar (default: on a terminal).")] = None,
) -> None:
    """Download a UCDP GED release (open data, CC BY 4.0) into data/raw/ucdp/ and extract its CSV.

    A second call with the same version uses the files already there. UCDP's
    API token, if ever needed, is read from UCDP_ACCESS_TOKEN only.
    """
    from forecast.checks import output_folder
    from forecast.data.providers import fetch_ucdp

    output_folder(raw_dir, "--raw-dir", example="data/raw", raw_allowed=True)

    hide_warnings = _show_download_warnings()
    try:
        result = fetch_ucdp(
            version,
            candidate=candidate,
            country=country,
            raw_dir=raw_dir,
            url_template=url_template,
            settings=_download_settings(timeout, retries, progress),
            force=force,
        )
    finally:
        hide_warnings()
    typer.echo(result.summary())


@fetch_app.command("acled")
def fetch_acled_command(
    country: Annotated[str, typer.Option(help="Country as ACLED names it, e.g. Afghanistan.")],
    start: Annotated[str | None, typer.Option(help="First event date, YYYY-MM-DD (default 1997-01-01).")] = None,
    end: Annotated[str | None, typer.Option(help="Last event date, YYYY-MM-DD (default today).")] = None,
    raw_dir: Annotated[Path, typer.Option(help="Raw-data folder; the file goes to <raw-dir>/acled/.")] = Path("data/raw"),
    base_url: Annotated[str | None, typer.Option(help="API root (default $FORECAST_ACLED_BASE_URL or https://acleddata.com).")] = None,
    page_size: Annotated[int, typer.Option(help="Records per API page.")] = 5000,
    force: Annotated[bool, typer.Option("--force", help="Download again even when cached.", metavar="")] = False,
    timeout: Annotated[float | None, typer.Option(help="Seconds to wait for the server (default 60, or $FORECAST_HTTP_TIMEOUT).")] = None,
    retries: Annotated[int | None, typer.Option(help="Retries after a network error or HTTP 5xx (default 4).")] = None,
) -> None:
    """Download one country's ACLED events with your own account into data/raw/acled/.

    Credentials come only from the environment: ACLED_EMAIL and ACLED_PASSWORD
    (or ACLED_ACCESS_TOKEN); they are never options and never written anywhere.
    ACLED's terms forbid redistributing the data.
    """
    from forecast.checks import output_folder
    from forecast.data.providers import fetch_acled

    output_folder(raw_dir, "--raw-dir", example="data/raw", raw_allowed=True)

    hide_warnings = _show_download_warnings()
    try:
        result = fetch_acled(
            country,
            start=start,
            end=end,
            raw_dir=raw_dir,
            base_url=base_url,
            page_size=page_size,
            settings=_download_settings(timeout, retries, False),
            force=force,
        )
    finally:
        hide_warnings()
    typer.echo(result.summary())


@fetch_app.command("hdx")
def fetch_hdx_command(
    country: Annotated[str, typer.Option(help="Country, ISO3 code or name (e.g. AFG).")] = "AFG",
    topic: Annotated[str, typer.Option(help="political-violence, civilian-targeting or demonstrations.")] = "civilian-targeting",
    dataset: Annotated[str | None, typer.Option(help="HDX dataset name (default <country>-acled-conflict-data).")] = None,
    raw_dir: Annotated[Path, typer.Option(help="Raw-data folder; the workbook goes to <raw-dir>/hdx/.")] = Path("data/raw"),
    base_url: Annotated[str | None, typer.Option(help="CKAN site root (default $FORECAST_HDX_BASE_URL or https://data.humdata.org).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Download again even when cached.", metavar="")] = False,
    timeout: Annotated[float | None, typer.Option(help="Seconds to wait for the server (default 60, or $FORECAST_HTTP_TIMEOUT).")] = None,
    retries: Annotated[int | None, typer.Option(help="Retries after a network error or HTTP 5xx (default 4).")] = None,
) -> None:
    """Download ACLED's open sub-national aggregates (monthly, by district) from HDX into data/raw/hdx/.

    No account is needed. ACLED's terms still apply: the workbook stays in
    data/raw/, and reports made from it carry ACLED's attribution.
    """
    from forecast.checks import output_folder
    from forecast.data.providers import fetch_hdx

    output_folder(raw_dir, "--raw-dir", example="data/raw", raw_allowed=True)

    hide_warnings = _show_download_warnings()
    try:
        result = fetch_hdx(
            country, topic=topic, dataset=dataset, raw_dir=raw_dir, base_url=base_url,
            settings=_download_settings(timeout, retries, False), force=force,
        )
    finally:
        hide_warnings()
    typer.echo(result.summary())


# --- provenance: forecast.data.catalog ----------------------------------------------

data_app = typer.Typer(help="The data under data/: what is there and where it came from.", no_args_is_help=True)
app.add_typer(data_app, name="data")


@data_app.command("list")
def data_list_command(
    data_dir: Annotated[Path, typer.Option(help="Data folder holding raw/ and processed/.")] = Path("data"),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (full sha256, inputs, URLs).", metavar="")] = False,
    verify: Annotated[bool, typer.Option("--verify/--no-verify", help="Recompute sha256 and compare with the sidecars.", metavar="")] = True,
) -> None:
    """List every raw and processed file: source, version, rows, date range, sha256, what it was made from."""
    from forecast.data.catalog import data_list_json, format_data_list, list_data

    files = list_data(data_dir, verify=verify)
    typer.echo(data_list_json(files) if as_json else format_data_list(files))


# --- forecasts: forecast.models --------------------------------------------------


def _events_for(source: str, events: Path | None) -> Path | None:
    """``--events`` checked against ``--source``: synthetic reads no file, a provider needs one."""
    from forecast.errors import ParameterError

    if source == "synthetic" and events is not None:
        raise ParameterError(f"--events {events} is not read with --source synthetic (the embedded scenario); "
                             "drop --events, or give its format with --source csv/acled/ucdp/gtd/canonical")
    return events


def _models_for(data, models: str | list[str]):  # -> (models, neighbours)
    """The models a panel can run, and its adjacency: a district panel without --boundaries drops neighbour terms."""
    if data.has_adjacency:
        return models, data.neighbours
    from forecast.models.registry import without_neighbour_terms

    kept, left = without_neighbour_terms(models)
    if left:
        typer.echo(f"warning: {', '.join(left)} left out: they need neighbours and this district panel has no "
                   "adjacency; pass --boundaries <district boundary file> to run them", err=True)
    if not kept:
        from forecast.errors import ParameterError

        raise ParameterError("every model given needs neighbours and this district panel has no adjacency; add "
                             "models without neighbour terms (--models hist_mean,glm_negbin) or pass --boundaries PATH")
    return kept, None


@app.command()
def predict(
    source: Annotated[str, typer.Option(help="synthetic, or the format of --events: ucdp, acled, gtd, csv, canonical.")] = "synthetic",
    horizon: Annotated[int, typer.Option(help="Periods ahead to forecast (steps 1..H).")] = defaults.HORIZON,
    models: Annotated[
        str | None, typer.Option(help="Comma-separated model specs, e.g. hist_mean,glm_negbin(ar=2),prophet." + _MODELS_DEFAULT_HELP)
    ] = None,
    freq: Annotated[str, typer.Option(help="Period: W-MON (weeks from Monday) or MS (months).")] = defaults.FREQ,
    actor: Annotated[str | None, typer.Option(help="Keep events whose actor/side names match this regex.")] = None,
    country: Annotated[str, typer.Option(help="ISO3 code of the country whose provinces are forecast; several in one panel: AFG,PAK.")] = defaults.COUNTRY,
    as_of: Annotated[str | None, typer.Option(help="Forecast origin: use only periods complete by this date.")] = None,
    n_draws: Annotated[int, typer.Option(help="Predictive draws per unit and step.")] = defaults.N_DRAWS,
    seed: Annotated[int, typer.Option(help="Seed of the predictive draws.")] = defaults.SEED,
    out: Annotated[Path | None, typer.Option(help="Write the forecasts (summary + draws) to this parquet.")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar per model on stderr.", metavar="")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print mean, q05, q50, q95, P(Y>=1) per unit and step as JSON.", metavar="")] = False,
    events: Annotated[Path | None, typer.Option(help="Event file in the --source format (not for synthetic).")] = None,
    columns: Annotated[str | None, typer.Option(help="Generic CSV column mapping: admin1=Province,date=Date.")] = None,
    aliases: Annotated[str | None, typer.Option(help="Extra province spellings: 'Nangahar=Nangarhar,Spin Boldak=Kandahar'.")] = None,
    level: Annotated[int, typer.Option(help=_LEVEL_HELP)] = defaults.LEVEL,
    boundaries: Annotated[Path | None, typer.Option(help=_BOUNDARIES_HELP)] = None,
    workers: _WorkersOption = None,
    address: _AddressOption = None,
    executor: _ExecutorOption = None,
) -> None:
    """Forecast event counts per province (or district) with one or more models."""
    import pandas as pd

    from forecast.checks import draw_count, output_path, steps_ahead, whole_number
    from forecast.data.dataset import load_dataset
    from forecast.models import forecast_panel
    from forecast.parallel import get_executor
    from forecast.report.tables import step_means_table

    # Bounds before the data are read: --horizon 1000000 costs nothing to refuse.
    steps_ahead(horizon, "--horizon")
    draw_count(n_draws, "--n-draws")
    whole_number(seed, "--seed", minimum=0)
    if out is not None:
        output_path(out, "--out", inputs=[events], example="data/processed/forecasts.parquet")
    data = load_dataset(source, _events_for(source, events), actor=actor, country=country, freq=freq, as_of=as_of,
                        columns=_parse_columns(columns), aliases=_parse_aliases(aliases), level=level,
                        boundaries=boundaries)
    models, neighbours = _models_for(data, models or list(defaults.default_models(freq)))
    with get_executor(executor, address=address, workers=workers) as pool:
        forecasts = forecast_panel(
            data.panel, models, horizon, n_draws=n_draws, seed=seed, progress=progress, freq=freq,
            neighbours=neighbours, skip_failures=True, executor=pool,
        )
    for alias, reason in (forecasts.meta.get("failures") or {}).items():
        typer.echo(f"warning: {alias} left out, its fit failed: {reason}", err=True)
    if out is not None:
        forecasts.to_parquet(out)
    columns = ["unit_id", "ds", "step", "model", "mean", "q05", "q50", "q95", "p_ge_1", "fallback"]
    table = forecasts.summary(levels=(0.05, 0.5, 0.95), exceed=(1,)).reindex(columns=columns)
    if as_json:
        records = table.assign(ds=table["ds"].dt.strftime("%Y-%m-%d")).astype(object)
        payload = {
            "source": data.label,
            "synthetic": data.synthetic,
            "freq": freq,
            "last_period": f"{forecasts.meta['last_ds']:%Y-%m-%d}",
            "models": forecasts.models,
            "out": None if out is None else str(out),
            "forecasts": records.where(records.notna(), None).to_dict("records"),
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    typer.echo(
        f"{data.caption}: {table['unit_id'].nunique()} units, steps 1-{horizon} after "
        f"{forecasts.meta['last_ds']:%Y-%m-%d} ({freq}), models {', '.join(forecasts.models)}"
    )
    if len(forecasts.models) > 1 and not any(m.startswith("ensemble") for m in forecasts.models):
        typer.echo("each model on its own: the report forecasts with their mixture weighted by a backtest "
                   "(forecast run); add ensemble to --models for an equal-weight mixture here")
    gazetteer = data.gazetteer
    for model in forecasts.models:
        steps = step_means_table(forecasts, model, gazetteer)
        fallbacks = steps.pop("fallback") if "fallback" in steps else pd.Series(dtype=str)
        typer.echo(f"\n{model}: expected attacks per period (P(>=1) for the first), most expected first")
        typer.echo(steps.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
        fell_back = int((fallbacks.fillna("") != "").sum())
        if fell_back:
            typer.echo(f"{model} used a simpler model for {fell_back} of {len(steps)} units; the reason for each "
                       "is in the --json output or the --out file")
    if out is not None:
        typer.echo(f"wrote {out}")


# --- backtest: forecast.evaluation.backtest ------------------------------------------------


@app.command("backtest")
def backtest_command(
    events: Annotated[Path | None, typer.Option(help="Event file in the --source format (none for synthetic).")] = None,
    columns: Annotated[str | None, typer.Option(help="Generic CSV column mapping: admin1=Province,date=Date.")] = None,
    aliases: Annotated[str | None, typer.Option(help="Extra province spellings: 'Nangahar=Nangarhar,Spin Boldak=Kandahar'.")] = None,
    source: Annotated[str, typer.Option(help="synthetic, ucdp, acled, gtd, csv or canonical.")] = "synthetic",
    actor: Annotated[str | None, typer.Option(help="Keep events whose actor/side names match this regex.")] = None,
    country: Annotated[str, typer.Option(help="ISO3 code of the country whose provinces are forecast; several in one panel: AFG,PAK.")] = defaults.COUNTRY,
    freq: Annotated[str, typer.Option(help="Period: W-MON (weeks from Monday) or MS (months).")] = defaults.FREQ,
    horizon: Annotated[int, typer.Option(help="Steps 1..H forecast from each origin.")] = defaults.HORIZON,
    models: Annotated[
        str | None,
        typer.Option(help="Comma-separated model specs; zero and hist_mean are added for the skill scores." + _MODELS_DEFAULT_HELP),
    ] = None,
    start: Annotated[str | None, typer.Option(help="First cutoff date (default: the middle of the data).")] = None,
    end: Annotated[str | None, typer.Option(help="Last cutoff date (default: the last with H periods after it).")] = None,
    every: Annotated[int, typer.Option(help="Periods between forecast origins.")] = 1,
    n_draws: Annotated[int, typer.Option(help="Predictive draws per unit and step.")] = defaults.N_DRAWS,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same score table.")] = defaults.SEED,
    out: Annotated[Path | None, typer.Option(help="Write the score table (one row per unit, cutoff, step, model) to this parquet.")] = None,
    out_dir: Annotated[
        Path | None, typer.Option(help="Stream each task's scores to parquet in this new folder (read back with read_backtest_scores).")
    ] = None,
    workers: _WorkersOption = None,
    address: _AddressOption = None,
    executor: _ExecutorOption = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar over the origins on stderr.", metavar="")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the per-model scorecard as JSON.", metavar="")] = False,
    level: Annotated[int, typer.Option(help=_LEVEL_HELP)] = defaults.LEVEL,
    boundaries: Annotated[Path | None, typer.Option(help=_BOUNDARIES_HELP)] = None,
) -> None:
    """Rolling-origin backtest: forecast from every origin, score against what happened."""
    from forecast.checks import draw_count, output_folder, output_path, steps_ahead, whole_number
    from forecast.data.dataset import load_dataset
    from forecast.evaluation.backtest import backtest, with_baselines
    from forecast.parallel import get_executor

    steps_ahead(horizon, "--horizon")
    draw_count(n_draws, "--n-draws")
    whole_number(seed, "--seed", minimum=0)
    whole_number(every, "--every")
    if out is not None:
        output_path(out, "--out", inputs=[events], example="data/processed/backtest.parquet")
    if out_dir is not None:
        output_folder(out_dir, "--out-dir", example="data/processed/backtest_run")
    model_list = with_baselines(models or list(defaults.default_models(freq)))  # a misspelt model fails before the data are read
    data = load_dataset(source, _events_for(source, events), actor=actor, country=country, freq=freq,
                        columns=_parse_columns(columns), aliases=_parse_aliases(aliases), level=level,
                        boundaries=boundaries)
    model_list, neighbours = _models_for(data, model_list)
    with get_executor(executor, address=address, workers=workers) as pool:
        result = backtest(
            data.panel, model_list, horizon, start=start, end=end, every=every,
            n_draws=n_draws, seed=seed, executor=pool, progress=progress, freq=freq,
            neighbours=neighbours, out_dir=out_dir,
        )
    if out is not None:
        result.to_parquet(out, inputs=[events] if events else None, source=data.label, input_sha256=data.input_sha256)
    if as_json:
        payload = {"source": data.label, **result.scorecard_json(), "out": None if out is None else str(out)}
        typer.echo(json.dumps(payload, indent=2))
        return
    typer.echo(
        f"{data.label}: {len(result.cutoffs)} origins {result.cutoffs[0]:%Y-%m-%d} to "
        f"{result.cutoffs[-1]:%Y-%m-%d}, steps 1-{horizon} ({freq}), {result.settings['n_draws']} draws"
    )
    typer.echo(result.scorecard().round(3).to_string())
    for row in result.failures.itertuples():
        typer.echo(f"failed: {row.model} at {row.cutoff:%Y-%m-%d}: {row.error}", err=True)
    if out is not None:
        typer.echo(f"wrote {out}")


spread_app = typer.Typer(help="The endemic-epidemic spread model: fit it, attribute expected attacks to sources.", no_args_is_help=True)
app.add_typer(spread_app, name="spread")


def _parse_season(season: str | None) -> tuple[float, int]:
    """``"52:3"`` -> (52.0, 3); ``None`` -> no seasonality."""
    if not season:
        return 52.0, 0
    period, sep, harmonics = season.partition(":")
    try:
        return float(period), int(harmonics) if sep else 1
    except ValueError:
        raise typer.BadParameter(f"--season '{season}' is not PERIOD:HARMONICS, e.g. 52:3") from None


def _parse_weights(weights: str) -> tuple[str, int]:
    """``"adjacency"`` -> ("adjacency", 5); ``"powerlaw:5"`` -> ("powerlaw", 5)."""
    kind, _, maxlag = weights.partition(":")
    if kind not in ("adjacency", "powerlaw") or (maxlag and not maxlag.isdigit()):
        raise typer.BadParameter(f"--weights '{weights}' is not adjacency or powerlaw:MAXLAG (e.g. powerlaw:5)")
    return kind, int(maxlag) if maxlag else 5


@spread_app.command("fit")
def spread_fit(
    counts: Annotated[Path, typer.Option(help="Counts CSV: unit_id,t,ds,y (surveillance export format).")],
    neighbourhood: Annotated[Path, typer.Option(help="Adjacency orders CSV: from,to,order.")],
    population: Annotated[Path | None, typer.Option(help="Population fractions CSV: unit_id,population_fraction.")] = None,
    trend: Annotated[bool, typer.Option("--trend/--no-trend", help="Linear trend in the endemic part.", metavar="")] = False,
    season: Annotated[str | None, typer.Option(help="Endemic seasonality PERIOD:HARMONICS, e.g. 52:1.")] = None,
    weights: Annotated[str, typer.Option(help="adjacency (order 1, weight 1) or powerlaw:MAXLAG.")] = "adjacency",
    family: Annotated[str, typer.Option(help="negbin1 or poisson.")] = "negbin1",
    as_json: Annotated[bool, typer.Option("--json", help="Print loglik, params, std_errors, seconds, converged as JSON.", metavar="")] = False,
) -> None:
    """Fit the endemic-epidemic model (R's surveillance::hhh4) to count files."""
    from forecast.models.endemic_epidemic import (
        EndemicEpidemic,
        EndemicEpidemicConfig,
        read_surveillance_csvs,
    )

    period, harmonics = _parse_season(season)
    kind, maxlag = _parse_weights(weights)
    from forecast.errors import ParameterError

    try:
        config = EndemicEpidemicConfig(
            trend=trend, season_period=period, harmonics=harmonics, weights=kind, maxlag=maxlag, family=family
        )
    except ParameterError as exc:
        # Name the option people typed, not the library's field.
        text = exc.detail
        for field, option in (("maxlag", "--weights powerlaw:MAXLAG"), ("season_period", "--season PERIOD"),
                              ("harmonics", "--season PERIOD:HARMONICS"), ("family", "--family"),
                              ("weights", "--weights"), ("trend", "--trend")):
            text = text.replace(f"EndemicEpidemicConfig.{field}", option)
        raise ParameterError(text) from None
    from forecast.errors import InputError

    data = read_surveillance_csvs(counts, neighbourhood, population)
    try:
        fit = EndemicEpidemic(config).fit(data.counts, data.neighbourhood, data.population)
    except InputError as exc:
        if exc.path is not None:
            raise
        raise InputError(exc.detail, path=counts, row=exc.row, column=exc.column) from None
    record = fit.to_dict()
    if as_json:
        typer.echo(json.dumps({key: record[key] for key in ("loglik", "params", "std_errors", "seconds", "converged")}, indent=2))
        return
    typer.echo(f"log-likelihood {fit.loglik:.4f}; converged in {fit.n_iter} iterations, {fit.seconds:.2f} s")
    for name, value in fit.params.items():
        typer.echo(f"  {name:<14} {value: .6f}  (se {fit.std_errors[name]:.6f})")


@app.command()
def warn(
    source: Annotated[str, typer.Option(help="synthetic, or the format of --events: ucdp, acled, gtd, csv, canonical, hdx.")] = "synthetic",
    events: Annotated[Path | None, typer.Option(help="Event file in the --source format (not for synthetic).")] = None,
    as_of: Annotated[str | None, typer.Option(help="Date of the assessment; events after it are ignored (default: the end of the data).")] = None,
    columns: Annotated[str | None, typer.Option(help="Generic CSV column mapping: admin1=Province,date=Date.")] = None,
    aliases: Annotated[str | None, typer.Option(help="Extra province spellings: 'Nangahar=Nangarhar,Spin Boldak=Kandahar'.")] = None,
    actor: Annotated[str | None, typer.Option(help="Keep events whose actor/side names match this regex.")] = None,
    country: Annotated[str | None, typer.Option(help="Keep one country (name or ISO code), or several in one panel: AFG,PAK.")] = None,
    freq: Annotated[str, typer.Option(help="Period: W-MON (weeks from Monday) or MS (months).")] = defaults.FREQ,
    stronghold: Annotated[str | None, typer.Option(help=_STRONGHOLD_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the assessment as JSON (schema: forecast/schemas/warn.schema.json).", metavar="")] = False,
    level: Annotated[int, typer.Option(help=_LEVEL_HELP)] = defaults.LEVEL,
    boundaries: Annotated[Path | None, typer.Option(help=_BOUNDARIES_HELP)] = None,
) -> None:
    """Alert level and plain-language reason for every province (or district) outside the group's stronghold."""
    from forecast.alarms import WarningConfig, evaluate_warnings
    from forecast.data.dataset import load_dataset
    from forecast.errors import ParameterError

    data = load_dataset(source, _events_for(source, events), actor=actor, country=country, freq=freq, as_of=as_of,
                        columns=_parse_columns(columns), aliases=_parse_aliases(aliases), level=level,
                        boundaries=boundaries)
    if not data.has_adjacency:
        raise ParameterError("the warning rules need the districts' adjacency (new ground next to active districts); "
                             "pass --boundaries <district boundary file>, e.g. from forecast fetch boundaries AFG "
                             "--level 2, or use --level 1")
    gazetteer = data.gazetteer
    stronghold = data.stronghold_units(stronghold or defaults.default_stronghold(data.country))
    result = evaluate_warnings(data.panel, data.last_day, stronghold, WarningConfig.for_freq(freq), gazetteer)
    # The stale-data line supersedes the panel's note about the same gap.
    result.notes.extend(n for n in data.notes if result.stale is None or not n.startswith("the last event is dated"))
    typer.echo(result.to_json() if as_json else result.to_text())


@spread_app.command("attribute")
def spread_attribute(
    source: Annotated[str, typer.Option(help="synthetic, or the format of --events: ucdp, acled, gtd, csv, canonical.")] = "synthetic",
    as_of: Annotated[str | None, typer.Option(help="Date of the assessment; events after it are ignored (default: the end of the data).")] = None,
    events: Annotated[Path | None, typer.Option(help="Event file in the --source format (not for synthetic).")] = None,
    actor: Annotated[str | None, typer.Option(help="Keep events whose actor/side names match this regex.")] = None,
    country: Annotated[str, typer.Option(help="ISO3 code of the country; several in one panel: AFG,PAK.")] = defaults.COUNTRY,
    freq: Annotated[str, typer.Option(help="Period: W-MON or MS.")] = defaults.FREQ,
    stronghold: Annotated[str | None, typer.Option(help=_STRONGHOLD_HELP)] = None,
    periods: Annotated[int, typer.Option(help="Report the last this many periods.")] = 4,
    as_json: Annotated[bool, typer.Option("--json", help="Print the table as JSON records.", metavar="")] = False,
) -> None:
    """Split each province's expected attacks in the last periods into endemic, own-past and imported parts."""
    from forecast.data.dataset import load_dataset
    from forecast.spread import attribution_table, find_stronghold, spillover_share

    data = load_dataset(source, _events_for(source, events), actor=actor, country=country, freq=freq, as_of=as_of)
    if periods < 1:
        raise typer.BadParameter(f"--periods {periods}: report at least 1 period")
    stronghold = stronghold or defaults.default_stronghold(data.country)
    core = find_stronghold(data.panel, given=None if stronghold == "auto" else stronghold)
    table = attribution_table(spillover_share(data.panel, core, recent_periods=periods), core)
    if as_json:
        typer.echo(table.to_json(orient="records", indent=2, double_precision=4))
        return
    typer.echo(f"{data.caption}; stronghold {core.label()}")
    typer.echo(
        "expected attacks over the last periods = endemic + own past + from all neighbours; "
        "the share columns are the part imported from the stronghold alone"
    )
    shown = table.rename(columns={
        "autoregressive": "own_past", "neighbour": "all_neighbours",
        "share": "from_stronghold", "share_lo": "lo", "share_hi": "hi",
    })
    columns = ["name", "expected", "endemic", "own_past", "all_neighbours", "from_stronghold", "lo", "hi"]
    typer.echo(shown[columns].head(15).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    for sentence in table.loc[table["share"] >= 0.05, "sentence"].head(5):
        typer.echo(sentence)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    try:
        # Without standalone mode click returns a typer.Exit's code instead of raising it.
        status = app(args=argv, standalone_mode=False)
    except ForecastError as exc:
        typer.echo(f"error: {exc}", err=True)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except Exception as exc:
        # Usage errors (unknown option, bad value) are click exceptions; typer
        # now vendors its own click, so recognise them by their interface
        # rather than by a class that may live in either package.
        if callable(getattr(exc, "format_message", None)) and hasattr(exc, "exit_code"):
            typer.echo(f"error: {exc.format_message()}", err=True)
            return 2
        raise
    return status if isinstance(status, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
