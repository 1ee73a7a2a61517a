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

from forecast import __version__
from forecast.errors import ForecastError

app = typer.Typer(
    name="forecast",
    help="Early-warning forecasts of insurgent and terrorist attacks per province.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _parse_columns(columns: str | None) -> dict[str, str] | None:
    """Parse ``admin1=Province,date=Date`` into ``{"admin1": "Province", "date": "Date"}``."""
    if not columns:
        return None
    mapping: dict[str, str] = {}
    for pair in columns.split(","):
        canonical, sep, original = pair.partition("=")
        if not sep or not canonical.strip() or not original.strip():
            raise typer.BadParameter(f"'{pair}' is not NAME=COLUMN; write e.g. --columns admin1=Province,date=Date")
        mapping[canonical.strip()] = original.strip()
    return mapping


@app.callback(invoke_without_command=True)
def _main(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
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
    out: Annotated[Path, typer.Option(help="Canonical events parquet to write.")] = Path("data/processed/events.parquet"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Read a provider's event file into the canonical event table."""
    from forecast.io import write_parquet_with_sidecar
    from forecast.sources import read_events

    result = read_events(
        source,
        path,
        country=country,
        actor=actor,
        start=start,
        end=end,
        columns=_parse_columns(columns),
        unmatched=unmatched,
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
    from forecast.io import write_parquet_with_sidecar
    from forecast.panel import build_panel
    from forecast.sources import read_canonical

    table = build_panel(read_canonical(events), freq=freq, start=start, end=end, country=country)
    write_parquet_with_sidecar(table, out, inputs=[events], kind="panel", **table.attrs)
    dropped = ", ".join(f"{reason} {n}" for reason, n in table.attrs["dropped"].items() if n) or "none"
    typer.echo(
        f"{table['unit_id'].nunique()} units x {table['ds'].nunique()} periods ({freq}, "
        f"{table.attrs['start']} to {table.attrs['end']}), {int(table['y'].sum())} events counted; "
        f"set aside: {dropped}"
    )
    typer.echo(f"wrote {out}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    try:
        app(args=argv, standalone_mode=False)
    except ForecastError as exc:
        typer.echo(f"error: {exc}", err=True)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.BadParameter, typer.Abort) as exc:  # pragma: no cover - click formats these
        typer.echo(f"error: {exc}", err=True)
        return 2
    except Exception as exc:  # click's usage errors
        import click

        if isinstance(exc, click.ClickException):
            typer.echo(f"error: {exc.format_message()}", err=True)
            return 2
        raise
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
