"""Report pages: escaped tables for notebooks, HTML export of executed notebooks, the index.

Two audiences use this module.

Notebooks (display helpers; every string from data is escaped, so an actor
called ``<script>alert(1)</script>`` shows as text)::

    from forecast.report.notebook import show_alert_table, show_figure, show_table, write_alerts

    summary = write_alerts(alarms, output_dir)   # alerts.json for the run's manifest
    show_alert_table(alarms)                     # <table class="alert-table">, first
    show_figure(fan_chart)                       # embedded PNG, shown once
    show_table(scores, caption="Backtest scores")

The runner (:mod:`forecast.runner.run`): :func:`export_html` turns an executed
notebook into a self-contained page without code (no input cells, no prompts,
stderr and warnings stripped, figures embedded, no external scripts) under a
header naming the data source, actor filter, as-of date and a SYNTHETIC DATA
label when applicable, with the run's alert table first; :func:`render_index`
builds ``reports/index.html`` from run manifests.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecast.defaults import default_models
from forecast.errors import ForecastError, ParameterError
from forecast.files import write_json_atomic, write_text_atomic

logger = logging.getLogger(__name__)

#: File a notebook writes into ``output_dir`` to report its alert summary.
ALERTS_FILE = "alerts.json"

#: Levels that mean "nothing to report"; such rows are counted in ``n_units`` only.
QUIET_LEVELS = frozenset({"", "none", "no alert", "quiet", "ok"})

#: Styles shared by report headers and the index page; no external resources.
REPORT_CSS = """
.forecast-header { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  max-width: 1100px; margin: 0 auto 1.5em auto; padding: 1em 1.2em 0.5em 1.2em;
  border-bottom: 2px solid #ccc; }
.forecast-header h1 { font-size: 1.6em; margin: 0.2em 0 0.3em 0; }
.forecast-meta { color: #333; margin: 0.2em 0; }
.forecast-meta span { margin-right: 1.2em; white-space: nowrap; }
.synthetic-label { display: inline-block; background: #fff3cd; color: #664d03;
  border: 1px solid #e0c36c; padding: 0.25em 0.6em; font-weight: 700; letter-spacing: 0.03em; }
.failed-label { display: inline-block; background: #f8d7da; color: #842029;
  border: 1px solid #e4a0a6; padding: 0.25em 0.6em; font-weight: 700; }
.forecast-nav { margin: 0.6em 0; }
.forecast-nav a, .report-links a { color: #0b5cad; text-decoration: underline; }
.forecast-nav a { margin-right: 1em; }
table.alert-table, table.data-table, table.runs-table { border-collapse: collapse; margin: 0.6em 0 1em 0;
  font-size: 0.95em; }
table.alert-table th, table.alert-table td, table.data-table th, table.data-table td,
table.runs-table th, table.runs-table td { border: 1px solid #bbb; padding: 0.3em 0.6em; text-align: left;
  vertical-align: top; white-space: normal; }
table.alert-table th, table.data-table th, table.runs-table th { background: #f0f0f0; }
.runs-scroll { max-width: 100%; overflow-x: auto; }
table.runs-table td { max-width: 22em; overflow-wrap: break-word; }
table.runs-table td.status-failed, table.runs-table td.input { overflow-wrap: anywhere; max-width: 9em; }
table.runs-table td:first-child, table.runs-table td.report-links { overflow-wrap: anywhere; min-width: 8em; }
table.alert-table caption, table.data-table caption { caption-side: top; text-align: left;
  font-weight: 600; padding-bottom: 0.3em; }
.jp-RenderedHTMLCommon table.alert-table td, .jp-RenderedHTMLCommon table.alert-table th,
.jp-RenderedHTMLCommon table.data-table td, .jp-RenderedHTMLCommon table.data-table th { text-align: left; }
table.alert-table td.num, table.data-table td.num,
.jp-RenderedHTMLCommon table.alert-table td.num, .jp-RenderedHTMLCommon table.data-table td.num {
  text-align: right; font-variant-numeric: tabular-nums; }
.status-ok { color: #0f5132; font-weight: 600; }
.status-failed { color: #842029; font-weight: 600; }
.no-alerts { color: #555; font-style: italic; }
"""


def escape(value: Any) -> str:
    """``value`` as HTML-safe text (quotes included), ``''`` for None/NaN."""
    if value is None:
        return ""
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):  # lists, arrays: not scalars
        pass
    return html.escape(str(value), quote=True)


# ---------------------------------------------------------------------------
# Notebook-facing helpers
# ---------------------------------------------------------------------------


def _format_cell(value: Any, float_format: str) -> str:
    if isinstance(value, float) and not pd.isna(value):
        return escape(float_format.format(value))
    if isinstance(value, dt.datetime) and not pd.isna(value):  # pd.Timestamp included
        # Period starts are midnight: show the date only, as everywhere else in the reports.
        return escape(value.date().isoformat() if value.time() == dt.time(0) else value.isoformat())
    if isinstance(value, dt.date):
        return escape(value.isoformat())
    return escape(value)


#: Headers people read for the data columns report tables show; any other name has its underscores as spaces.
COLUMN_LABELS: dict[str, str] = {
    "unit_id": "code",
    "crps": "CRPS",
    "log_score": "log score",
    "coverage90": "90 % coverage",
    "coverage50": "50 % coverage",
    "mis90": "interval score (90 %)",
    "rule_skill": "measured skill of those rules",
    "recent_events": "recent attacks",
    "peak_level": "highest level",
}


def column_label(name: Any) -> str:
    """The header a report table shows for a data column.

    Examples
    --------
    >>> column_label("coverage90"), column_label("held_until"), column_label("expected next week")
    ('90 % coverage', 'held until', 'expected next week')
    """
    return COLUMN_LABELS.get(str(name), str(name).replace("_", " "))


def html_table(
    frame: pd.DataFrame | Sequence[Mapping[str, Any]],
    *,
    alert: bool = False,
    caption: str | None = None,
    columns: Sequence[str] | None = None,
    max_rows: int | None = 200,
    float_format: str = "{:,.3g}",
    index: bool = False,
) -> str:
    """An HTML table in which every header and cell is escaped; headers as people read them (:func:`column_label`).

    Parameters
    ----------
    frame
        A DataFrame or a list of records.
    alert
        Mark the table as the alert table (``class="alert-table"``), which the
        report pages put first and browser tests look for; otherwise
        ``class="data-table"``.
    caption
        Escaped caption shown above the table.
    columns
        Columns to show, in order (default: all).
    max_rows
        Rows shown at most; a last row says how many were left out.
    float_format
        Format of float cells.
    index
        Include the index as the first column(s).

    Returns
    -------
    str
        ``<table>...</table>``.

    Examples
    --------
    >>> html_table([{"actor": "<script>alert(1)</script>", "events": 3}])  # doctest: +ELLIPSIS
    '<table class="data-table">...&lt;script&gt;alert(1)&lt;/script&gt;...'
    """
    data = pd.DataFrame(list(frame)) if not isinstance(frame, pd.DataFrame) else frame
    if index:
        data = data.reset_index()
    if columns is not None:
        missing = [name for name in columns if name not in data.columns]
        if missing:
            raise ParameterError(f"html_table: no column {missing[0]!r}; the table has: {', '.join(map(str, data.columns))}")
        data = data.loc[:, list(columns)]
    shown = data if max_rows is None else data.head(max_rows)
    css_class = "alert-table" if alert else "data-table"
    parts = [f'<table class="{css_class}">']
    if caption:
        parts.append(f"<caption>{escape(caption)}</caption>")
    parts.append("<thead><tr>" + "".join(f"<th>{escape(column_label(name))}</th>" for name in shown.columns) + "</tr></thead>")
    parts.append("<tbody>")
    for row in shown.itertuples(index=False, name=None):
        cells = (
            # Numbers right-aligned so digits line up; everything else reads left to right.
            f'<td class="num">{_format_cell(value, float_format)}</td>'
            if isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)
            else f"<td>{_format_cell(value, float_format)}</td>"
            for value in row
        )
        parts.append("<tr>" + "".join(cells) + "</tr>")
    left_out = len(data) - len(shown)
    if left_out > 0:
        parts.append(f'<tr><td colspan="{max(len(shown.columns), 1)}">… {left_out} more rows not shown</td></tr>')
    parts.append("</tbody></table>")
    return "".join(parts)


def _display_html(markup: str) -> None:
    from IPython.display import HTML, display

    display(HTML(markup))


def show_table(frame: pd.DataFrame | Sequence[Mapping[str, Any]], **options: Any) -> None:
    """Display :func:`html_table` output in a notebook (same options)."""
    _display_html(html_table(frame, **options))


def show_alert_table(frame: pd.DataFrame | Sequence[Mapping[str, Any]], **options: Any) -> None:
    """Display the alert table (``class="alert-table"``); put it first in a report."""
    _display_html(html_table(frame, alert=True, **options))


def show_heading(text: str, level: int = 2) -> None:
    """Display an escaped heading; use it for titles built from data (actor, place names)."""
    level = min(max(int(level), 1), 6)
    _display_html(f"<h{level}>{escape(text)}</h{level}>")


def show_text(text: str) -> None:
    """Display an escaped paragraph built from data."""
    _display_html(f"<p>{escape(text)}</p>")


def show_figure(figure: Any, *, dpi: int = 110) -> None:
    """Display a matplotlib figure once, as an embedded PNG, and close it.

    Figures from :mod:`forecast.viz.plots` and :mod:`forecast.viz.maps` are returned,
    not shown; displaying them this way works under any matplotlib backend and
    closing them stops the inline backend from showing them a second time.
    """
    import io as _io

    import matplotlib.pyplot as plt
    from IPython.display import Image, display

    buffer = _io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(figure)
    display(Image(data=buffer.getvalue(), format="png"))


@dataclass
class ReportContext:
    """What every report notebook starts from: the data, the units' gazetteer and the map geometry.

    On a district panel (``level=2``) with a district boundary file the
    gazetteer and the boundaries are the districts'; without one the
    gazetteer has the districts without adjacency and the boundaries are the
    provinces', on which maps show the district counts summed per province
    (``map_note`` says so).
    """

    data: Any  # forecast.data.dataset.Dataset
    gazetteer: Any  # forecast.geo.gazetteer.Gazetteer
    boundaries: Any  # geopandas.GeoDataFrame
    boundary_kind: str
    map_note: str | None = None

    @property
    def neighbours(self) -> dict[str, list[str]] | None:
        """The units' adjacency for the models, or None when the panel has none (districts without boundaries)."""
        return self.data.neighbours if self.data.has_adjacency else None

    @property
    def maps_units(self) -> bool:
        """Whether the boundaries are the panel's own units (False: district counts drawn on provinces)."""
        return self.data.has_adjacency

    def runnable_models(self, models: Sequence[str] | None) -> list[str]:
        """``models`` without those needing neighbours when the panel has no adjacency, saying which were left out.

        ``None`` stands for the candidates of the panel's frequency
        (:func:`forecast.defaults.default_models`).
        """
        if models is None:
            models = default_models(self.data.freq)
        if self.data.has_adjacency:
            return list(models)
        from forecast.models.registry import without_neighbour_terms

        kept, left = without_neighbour_terms(list(models))
        if left:
            show_text(f"This district panel has no boundary file, so no adjacency: {', '.join(left)} "
                      f"(neighbour terms) left out; pass boundaries_path=<district boundary file> to run them.")
        if not kept:
            raise ParameterError(f"every model of {list(models)} needs neighbours and this district panel has no "
                                 "adjacency; add models without neighbour terms (hist_mean, glm_negbin) or pass "
                                 "boundaries_path=<district boundary file>")
        return kept

    def stands_aside(self, what: str) -> bool:
        """True (after saying so in one sentence) when ``what`` needs an adjacency the panel lacks."""
        if self.data.has_adjacency:
            return False
        show_text(f"{what} needs the districts' adjacency and this district panel has no boundary file, so this "
                  "page stands aside; pass boundaries_path=<district boundary file> (e.g. from forecast fetch "
                  "boundaries AFG --level 2), or use level=1 for provinces.")
        return True


def project_path(path: str | Path | None, start: str | Path | None = None) -> str | None:
    """A relative path read as the runner reads it: from the project folder.

    The runner executes notebooks in the project folder, but JupyterLab starts
    a notebook's kernel in ``notebooks/``, where ``data/processed/events.parquet``
    does not exist. A relative path that is not found from ``start`` (default:
    the working directory) is looked up from each parent folder that holds
    ``notebooks/``; absolute paths, found paths and None are returned unchanged.

    Examples
    --------
    >>> project_path(None) is None
    True
    """
    if path is None:
        return None
    here = Path(start or Path.cwd()).absolute()
    candidate = Path(path)
    if candidate.is_absolute() or (here / candidate).exists():
        return str(path)
    for folder in here.parents:
        if (folder / "notebooks").is_dir() and (folder / candidate).exists():
            return str(folder / candidate)
    return str(path)


def open_report(
    source: str,
    events_path: str | None = None,
    *,
    actor: str | None = None,
    country: str | None = None,
    freq: str = "W-MON",
    as_of: str | None = None,
    synthetic: Mapping[str, Any] | None = None,
    boundaries_path: str | None = None,
    columns: Mapping[str, str] | None = None,
    aliases: Mapping[str, str] | None = None,
    level: int = 1,
    show: bool = True,
) -> ReportContext:
    """Load the run's data, gazetteer and boundaries, and show the data's caption and citations.

    The one opening of every report notebook (it replaces a setup block each
    notebook repeated), so all pages name and cite their data the same way.
    At ``level=2`` (districts) ``boundaries_path`` is the district boundary
    file giving adjacency, centroids and maps (:mod:`forecast.geo.districts`).

    Examples
    --------
    >>> report = open_report("synthetic", freq="MS", as_of="2021-12-31", show=False)
    >>> report.data.synthetic, report.gazetteer.country_iso3, len(report.boundaries)
    (True, 'AFG', 34)
    """
    from forecast.data.dataset import load_dataset
    from forecast.geo.boundaries import load_boundaries
    from forecast.geo.gazetteer import Gazetteer

    events_path, boundaries_path = project_path(events_path), project_path(boundaries_path)
    data = load_dataset(
        source, events_path, actor=actor, country=country, freq=freq, as_of=as_of, synthetic=synthetic,
        columns=columns or None, aliases=aliases or None, level=level,
        boundaries=boundaries_path if level == 2 else None,
    )
    gazetteer = data.gazetteer
    note = None
    if data.districts is not None:
        boundaries, kind = data.districts.boundaries, data.districts.boundaries.attrs["boundary_kind"]
        note = data.districts.describe()
    elif level == 2:
        boundaries, kind = load_boundaries(data.country, gazetteer=Gazetteer.load(data.country))
        note = ("No district boundary file (boundaries_path): maps show the district counts summed per province, "
                "and the spread models and alarms that need adjacency stand aside.")
    else:
        boundaries, kind = load_boundaries(data.country, path=boundaries_path, gazetteer=gazetteer)
    if show:
        show_text(data.caption)
        for line in data.citations():
            show_text(line)
        if note:
            show_text(note)
    return ReportContext(data, gazetteer, boundaries, kind, note)


def events_map(report: ReportContext) -> Any:
    """The overview's map: events per 100,000 people per province, or events per district.

    A province panel, or a district panel without a boundary file, is drawn
    as events per 100,000 people per province (districts summed into their
    province; the caption says so). A district panel with its boundary file
    is drawn as events per district (district populations are not known).
    """
    from forecast.geo.gazetteer import Gazetteer
    from forecast.viz.maps import choropleth, event_counts, events_per_100k_map

    data = report.data
    if data.level == 1:
        return events_per_100k_map(data.panel, report.gazetteer, report.boundaries, **data.figure_labels)
    if data.districts is None:
        return events_per_100k_map(
            data.province_panel(), Gazetteer.load(data.country), report.boundaries,
            title="Events per 100,000 people by province (district counts summed)", caption=report.map_note,
            **data.figure_labels,
        )
    counts, period = event_counts(data.panel)
    return choropleth(
        counts.reindex(report.gazetteer.unit_ids, fill_value=0.0), report.boundaries, gazetteer=report.gazetteer,
        vmin=0.0, scale="sqrt", legend_title="events (square-root scale)", title="Events by district",
        period=period, caption=report.map_note, **data.figure_labels,
    )


def _records(alarms: pd.DataFrame | Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    return alarms if isinstance(alarms, pd.DataFrame) else pd.DataFrame(list(alarms))


def summarize_alerts(
    alarms: pd.DataFrame | Sequence[Mapping[str, Any]],
    *,
    unit: str = "unit_name",
    level: str = "level",
    reason: str | None = "reason",
    levels: Sequence[str] | None = None,
    top: int = 10,
    headlines: Sequence[str] = (),
    last_period: Any = None,
) -> dict[str, Any]:
    """The alert summary a run's manifest and index page show.

    Parameters
    ----------
    alarms
        One row per unit (or unit and period) with at least ``unit`` and ``level``.
    unit, level, reason
        Column names; ``reason`` is optional (None or absent).
    levels
        Alert levels, most severe first (orders counts and top units). Default:
        order of first appearance. Quiet levels (:data:`QUIET_LEVELS`) are not counted.
    top
        How many units to list.
    headlines
        Lines that must reach the reader whatever the counts (stale data, the
        group-level expansion alarm: :attr:`forecast.alarms.WarningResult.headlines`);
        the index shows them and ``forecast run --quiet`` prints them.
    last_period
        Start of the last period the alarms judged, so a run as of the data's
        end (``as_of: null``) says which period that was.

    Returns
    -------
    dict
        ``{"levels": [...], "counts": {level: n}, "n_units": int, "top": [{"unit",
        "level", "reason"}], "headlines": [...], "last_period": "YYYY-MM-DD" or None}``, JSON-ready.

    Examples
    --------
    >>> summarize_alerts([{"unit_name": "Helmand", "level": "alarm", "reason": "3 above forecast"},
    ...                   {"unit_name": "Kabul", "level": "none", "reason": ""}])["counts"]
    {'alarm': 1}
    """
    data = _records(alarms)
    for name in (unit, level):
        if len(data) and name not in data.columns:
            raise ParameterError(
                f"summarize_alerts: no column {name!r}; the alarm table has: {', '.join(map(str, data.columns))}"
            )
    headlines = [str(line) for line in headlines if line]
    judged = None if last_period is None or pd.isna(last_period) else f"{pd.Timestamp(last_period):%Y-%m-%d}"
    if data.empty:
        return {"levels": list(levels or []), "counts": {}, "n_units": 0, "top": [], "headlines": headlines,
                "last_period": judged}
    level_text = data[level].fillna("").astype(str)
    loud = data.loc[~level_text.str.strip().str.lower().isin(QUIET_LEVELS)].copy()
    order = list(levels) if levels is not None else list(dict.fromkeys(level_text[loud.index]))
    rank = {name: position for position, name in enumerate(order)}
    loud["_rank"] = loud[level].astype(str).map(lambda name: rank.get(name, len(order)))
    loud = loud.sort_values("_rank", kind="stable")
    counts = {name: int((loud[level].astype(str) == name).sum()) for name in order}
    counts = {name: n for name, n in counts.items() if n}
    for name in loud[level].astype(str).unique():  # levels missing from `levels` still count
        counts.setdefault(name, int((loud[level].astype(str) == name).sum()))
    has_reason = reason is not None and reason in data.columns
    top_rows = [
        {
            "unit": str(row[unit]),
            "level": str(row[level]),
            "reason": str(row[reason]) if has_reason and not pd.isna(row[reason]) else "",
        }
        for _, row in loud.head(top).iterrows()
    ]
    return {"levels": order, "counts": counts, "n_units": int(data[unit].nunique()), "top": top_rows,
            "headlines": headlines, "last_period": judged}


def run_folder(output_dir: str | Path | None) -> Path | None:
    """The run folder a notebook may write into, or ``None`` outside a run.

    The runner creates the folder before it executes the notebook. A
    notebook reopened later from the archive still names that (by then
    renamed) folder in its injected parameters: writing would recreate a
    stray ``reports/runs/.tmp-<id>/``, so nothing is written there.
    """
    if output_dir is None:
        return None
    folder = Path(output_dir)
    if not folder.is_dir():
        logger.warning("run folder %s no longer exists (a rerun of an archived notebook?): nothing is written", folder)
        return None
    return folder


def write_alerts(
    alarms: pd.DataFrame | Sequence[Mapping[str, Any]],
    output_dir: str | Path | None,
    **options: Any,
) -> dict[str, Any]:
    """Write the alert summary to ``<output_dir>/alerts.json`` for the run's manifest.

    Declare ``output_dir = None`` in the notebook's parameters cell; the runner
    sets it to the run folder. When it is ``None`` (run by hand in Jupyter)
    nothing is written and the summary is only returned.

    Parameters
    ----------
    alarms
        See :func:`summarize_alerts`.
    output_dir
        The run folder, or None.
    **options
        Passed to :func:`summarize_alerts`.
    """
    summary = summarize_alerts(alarms, **options)
    folder = run_folder(output_dir)
    if folder is not None:
        write_json_atomic(folder / ALERTS_FILE, summary)
    return summary


# ---------------------------------------------------------------------------
# Runner-facing: alert summaries, headers, HTML export
# ---------------------------------------------------------------------------


def merge_alert_summaries(summaries: Iterable[Mapping[str, Any] | None], top: int = 10) -> dict[str, Any] | None:
    """Combine the alert summaries of several notebooks (counts add up, top lists concatenate)."""
    present = [summary for summary in summaries if summary]
    if not present:
        return None
    levels: list[str] = []
    counts: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    headlines: list[str] = []
    n_units = 0
    judged = [summary["last_period"] for summary in present if summary.get("last_period")]
    for summary in present:
        for name in summary.get("levels", []):
            if name not in levels:
                levels.append(str(name))
        for name, n in summary.get("counts", {}).items():
            counts[str(name)] = counts.get(str(name), 0) + int(n)
        rows.extend(dict(row) for row in summary.get("top", []))
        n_units = max(n_units, int(summary.get("n_units", 0) or 0))
        headlines.extend(line for line in summary.get("headlines", []) if line not in headlines)
    rank = {name: position for position, name in enumerate(levels)}
    rows.sort(key=lambda row: rank.get(str(row.get("level")), len(levels)))
    return {"levels": levels, "counts": counts, "n_units": n_units, "top": rows[:top], "headlines": headlines,
            "last_period": max(judged) if judged else None}


def alert_counts_text(summary: Mapping[str, Any] | None) -> str:
    """``'2 alerts · 3 watches of 34 units'``, ``'no alerts'`` or ``'not reported'`` (plain text)."""
    if not summary:
        return "not reported"
    counts = summary.get("counts", {})
    if not counts:
        return f"no alerts ({summary.get('n_units', 0)} units)"
    from forecast.panel import plural

    text = " · ".join(plural(n, name) for name, n in counts.items())
    return f"{text} of {summary.get('n_units', 0)} units"


#: Levels of the early-warning scale, quietest first (as in ``forecast.schema.ALERT_LEVELS``).
ATTENTION_LEVELS = ("watch", "warning", "alert")


def attention_line(summary: Mapping[str, Any] | None, at_least: str = "warning", *, where: str = "") -> str | None:
    """One line naming the units at ``at_least`` or above, or None when there are none.

    This is what an unattended run prints (cron mails any output), so it says
    how many, which units and where the report is.

    Parameters
    ----------
    summary
        A run's merged alert summary (see :func:`summarize_alerts`).
    at_least
        ``"watch"``, ``"warning"`` or ``"alert"``.
    where
        Where to read the report (a path), appended when given.

    Examples
    --------
    >>> summary = {"counts": {"alert": 1, "warning": 1, "watch": 3}, "n_units": 34,
    ...            "top": [{"unit": "Parwan", "level": "alert"}, {"unit": "Kunduz", "level": "warning"},
    ...                    {"unit": "Kunar", "level": "watch"}]}
    >>> attention_line(summary)
    'attention: 1 alert, 1 warning of 34 units: Parwan (alert), Kunduz (warning)'
    >>> attention_line(summary, "alert", where="reports/runs/x/")
    'attention: 1 alert of 34 units: Parwan (alert); see reports/runs/x/'
    >>> attention_line({"counts": {"watch": 2}, "n_units": 34, "top": []}) is None
    True
    >>> attention_line({"counts": {}, "n_units": 34, "top": [], "headlines": ["STALE DATA: ..."]})
    'attention: STALE DATA: ...'

    """
    if at_least not in ATTENTION_LEVELS:
        raise ParameterError(f"attention level {at_least!r} is not known; use one of {', '.join(ATTENTION_LEVELS)}")
    if not summary:
        return None
    loud = ATTENTION_LEVELS[ATTENTION_LEVELS.index(at_least):][::-1]  # loudest first
    counts = {level: int(summary.get("counts", {}).get(level, 0)) for level in loud}
    # Stale data and a group expansion alarm speak up whatever the unit counts.
    headlines = list(summary.get("headlines", []))
    if not any(counts.values()) and not headlines:
        return None
    parts = []
    if any(counts.values()):
        from forecast.panel import plural

        how_many = ", ".join(plural(n, level) for level, n in counts.items() if n)
        units = [f"{row.get('unit', '?')} ({row.get('level')})" for row in summary.get("top", []) if row.get("level") in loud]
        parts.append(f"{how_many} of {summary.get('n_units', 0)} units" + (": " + ", ".join(units) if units else ""))
    line = "attention: " + "; ".join(headlines + parts)
    return f"{line}; see {where}" if where else line


def alert_summary_table(summary: Mapping[str, Any] | None, caption: str = "Alerts") -> str:
    """The run's alert table (``table.alert-table``) as escaped HTML."""
    if not summary:
        return '<p class="no-alerts">No alert summary was reported by this run.</p>'
    full_caption = f"{caption}: {alert_counts_text(summary)}"
    rows = summary.get("top", [])
    if not rows:
        rows = [{"unit": "—", "level": "none", "reason": "no unit is above the quiet level"}]
    lead = "".join(f'<p class="headline">{escape(str(line))}</p>' for line in summary.get("headlines", []))
    return lead + html_table(
        [{"Unit": row.get("unit", ""), "Alert level": row.get("level", ""), "Why": row.get("reason", "")} for row in rows],
        alert=True,
        caption=full_caption,
    )


def run_description(parameters: Mapping[str, Any], last_period: str | None = None) -> list[tuple[str, str]]:
    """Label/value pairs describing a run's data: source, actor, country, units, as-of, freq, horizon.

    Examples
    --------
    >>> dict(run_description({"source": "hdx", "level": 2}))["Units"]
    'districts'
    """
    actor = parameters.get("actor")
    as_of = parameters.get("as_of")
    pairs = [
        ("Data source", str(parameters.get("source", "synthetic"))),
        ("Actor", str(actor) if actor else "all actors"),
        ("Country", str(parameters.get("country") or "—")),
        ("Units", "districts" if parameters.get("level", 1) == 2 else "provinces"),
        ("As of", _as_of_text(as_of, parameters.get("freq"), last_period)),
    ]
    for key, label in (("freq", "Period"), ("horizon", "Horizon")):
        if parameters.get(key) is not None:
            pairs.append((label, str(parameters[key])))
    return pairs


def _as_of_text(as_of: Any, freq: Any, last_period: str | None = None) -> str:
    """``'2021-12-27 (last complete month: November 2021)'``: what an as-of run judges, said.

    Without an as-of date the run judges the data's end: ``'the data's end (last complete week:
    starting 2021-12-27)'`` when the alarms said which period that was.
    """
    if not as_of:
        if not last_period:
            return "the data's end"
        last = pd.Timestamp(last_period)
        period = f"month: {last:%B %Y}" if freq == "MS" else f"week: starting {last:%Y-%m-%d}"
        return f"the data's end (last complete {period})"
    from forecast.panel import last_complete_period

    try:
        last = last_complete_period(as_of, str(freq or "W-MON"))
    except (ValueError, ForecastError):
        return str(as_of)
    period = f"month: {last:%B %Y}" if freq == "MS" else f"week: starting {last:%Y-%m-%d}"
    return f"{as_of} (last complete {period})"


def report_title(notebook_name: str, parameters: Mapping[str, Any]) -> str:
    """``'Province forecasts — synthetic, all actors, as of 2021-12-27'`` (plain text)."""
    words = notebook_name.split("_")
    if words and words[0].isdigit():
        words = words[1:]
    name = " ".join(words).strip().capitalize() or notebook_name
    actor = parameters.get("actor") or "all actors"
    as_of = parameters.get("as_of") or "the data's end"
    return f"{name} — {parameters.get('source', 'synthetic')}, {actor}, as of {as_of}"


def report_header(
    *,
    title: str,
    parameters: Mapping[str, Any],
    alerts: Mapping[str, Any] | None,
    links: Sequence[tuple[str, str]] = (),
    failure: str | None = None,
    run_id: str | None = None,
) -> str:
    """The header block of a report page; every string is escaped.

    Parameters
    ----------
    title
        Plain-text title.
    parameters
        The run's global parameters (source, actor, as_of, ...).
    alerts
        The run's merged alert summary, or None.
    links
        ``(label, href)`` pairs: the run's other reports and the index.
    failure
        Plain text shown as a failure banner (failed notebooks).
    run_id
        Shown in the meta line.
    """
    parts = ['<header class="forecast-header">', f"<h1>{escape(title)}</h1>"]
    if parameters.get("source", "synthetic") == "synthetic":
        parts.append(
            '<p><span class="synthetic-label">SYNTHETIC DATA — simulated events for illustration, '
            "not real attacks</span></p>"
        )
    if failure:
        parts.append(f'<p><span class="failed-label">This notebook failed: {escape(failure)}</span></p>')
    meta = [f"<span><b>{escape(label)}:</b> {escape(value)}</span>"
            for label, value in run_description(parameters, (alerts or {}).get("last_period"))]
    if run_id:
        meta.append(f"<span><b>Run:</b> {escape(run_id)}</span>")
    parts.append(f'<p class="forecast-meta">{" ".join(meta)}</p>')
    parts.append(alert_summary_table(alerts))
    if links:
        parts.append(
            '<nav class="forecast-nav">' + "".join(f'<a href="{escape(href)}">{escape(label)}</a>' for label, href in links) + "</nav>"
        )
    parts.append("</header>")
    return "\n".join(parts)


# A lab template without the CDN scripts (require.js, MathJax, mermaid, widgets):
# the pages must open offline, from file://, without console errors.
_REPORT_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_css -%}<style type="text/css">{{ resources.forecast_css }}</style>{%- endblock html_head_css -%}
{%- block body_header -%}
{{ super() }}
{{ resources.forecast_header }}
{%- endblock body_header -%}
"""


def strip_for_report(notebook: Any) -> Any:
    """Drop what readers should not see: stderr streams (warnings, logs) and empty code cells.

    Also drops outputs of cells tagged ``remove_output`` and cells tagged
    ``remove_cell``. Returns the same (mutated) notebook.
    """
    kept = []
    for cell in notebook.cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if "remove_cell" in tags:
            continue
        if cell.cell_type == "code":
            if "remove_output" in tags:
                cell.outputs = []
            cell.outputs = [
                output
                for output in cell.get("outputs", [])
                if not (output.get("output_type") == "stream" and output.get("name") == "stderr")
            ]
            if not cell.outputs:
                continue  # nothing to show once input is hidden; avoids blank gaps
        kept.append(cell)
    notebook.cells = kept
    return notebook


def export_html(executed: str | Path, destination: str | Path, *, title: str, header_html: str) -> Path:
    """Export an executed notebook to a self-contained HTML page without code.

    Parameters
    ----------
    executed
        The executed ``.ipynb``.
    destination
        The ``.html`` to write (atomically).
    title
        Plain-text page title (escaped by the template).
    header_html
        Markup from :func:`report_header`, inserted at the top of the body.

    Returns
    -------
    Path
        ``destination``.
    """
    import jinja2
    import nbformat
    from nbconvert import HTMLExporter

    notebook = nbformat.read(str(executed), as_version=4)
    strip_for_report(notebook)
    # nbconvert warns about images without alt text on every figure; reports
    # are read by people, and cron should mail errors only, so keep it quiet.
    quiet_log = logging.getLogger("forecast.report.notebook.nbconvert")
    quiet_log.setLevel(logging.ERROR)
    exporter = HTMLExporter(
        log=quiet_log,
        template_name="lab",
        extra_loaders=[jinja2.DictLoader({"forecast_report.html.j2": _REPORT_TEMPLATE})],
        template_file="forecast_report.html.j2",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    resources = {
        "metadata": {"name": title},
        "forecast_header": header_html,
        "forecast_css": REPORT_CSS,
    }
    body, _ = exporter.from_notebook_node(notebook, resources=resources)
    write_text_atomic(destination, body)
    return Path(destination)


# ---------------------------------------------------------------------------
# Index page
# ---------------------------------------------------------------------------


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1.0">\n'
        f"<title>{escape(title)}</title>\n<style>\nbody {{ font-family: system-ui, -apple-system, "
        '"Segoe UI", Roboto, sans-serif; margin: 1.5em auto; max-width: 1100px; padding: 0 1em; }}\n'
        f"{REPORT_CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _report_links(manifest: Mapping[str, Any], prefix: str) -> str:
    links = []
    for entry in manifest.get("notebooks", []):
        if not entry.get("html"):
            continue
        label = entry["name"] + (" (failed)" if entry.get("status") != "ok" else "")
        links.append(f'<a href="{escape(prefix + entry["html"])}">{escape(label)}</a>')
    return " · ".join(links) or "—"


def render_index(manifests: Sequence[Mapping[str, Any]], latest_run: str | None) -> str:
    """``reports/index.html``: the latest successful run first, then every archived run.

    Parameters
    ----------
    manifests
        Run manifests, newest first; each has ``folder`` (relative to the
        reports dir), ``run_id``, ``status``, ``parameters``, ``alerts``, ``notebooks``.
    latest_run
        ``run_id`` of the latest successful run, or None.

    Returns
    -------
    str
        A complete HTML page; every string from manifests is escaped.
    """
    body = ["<h1>Forecast reports</h1>"]
    latest = next((manifest for manifest in manifests if manifest.get("run_id") == latest_run), None)
    if latest is None:
        body.append('<p class="no-alerts">No successful run yet. Run <code>forecast run</code>.</p>')
    else:
        parameters = latest.get("parameters", {})
        prefix = f"{latest['folder']}/"
        body.append('<section id="latest">')
        body.append(f"<h2>Latest run: {escape(latest['run_id'])}</h2>")
        if parameters.get("source", "synthetic") == "synthetic":
            body.append(
                '<p><span class="synthetic-label">SYNTHETIC DATA — simulated events for illustration, '
                "not real attacks</span></p>"
            )
        meta = [f"<span><b>{escape(label)}:</b> {escape(value)}</span>"
            for label, value in run_description(parameters, (latest.get("alerts") or {}).get("last_period"))]
        meta.append(f"<span><b>Finished:</b> {escape(latest.get('finished', ''))}</span>")
        body.append(f'<p class="forecast-meta">{" ".join(meta)}</p>')
        body.append(alert_summary_table(latest.get("alerts"), caption="Alerts in the latest run"))
        body.append(f'<p class="report-links"><b>Reports:</b> {_report_links(latest, prefix)}</p>')
        body.append("</section>")
    body.append('<section id="runs"><h2>All runs</h2>')
    if not manifests:
        body.append('<p class="no-alerts">No runs yet.</p>')
    else:
        body.append('<div class="runs-scroll"><table class="runs-table"><thead><tr><th>Run</th><th>Finished</th><th>Status</th>'
                    "<th>Source</th><th>Input</th><th>Actor</th><th>As of</th><th>Period, horizon</th><th>Models</th>"
                    "<th>Alerts</th><th>Reports</th></tr></thead><tbody>")
        for manifest in manifests:
            parameters = manifest.get("parameters", {})
            status = str(manifest.get("status", "unknown"))
            status_text = status
            failed = [entry for entry in manifest.get("notebooks", []) if entry.get("status") != "ok"]
            if failed:
                first = failed[0]
                error = first.get("error") or {}
                status_text += f": {first.get('name')} ({error.get('ename', '')}: {error.get('evalue', '')})"
            status_full, status_text = status_text, _shorten(status_text, 60)
            if manifest.get("run_id") == latest_run:
                marker = " (latest)"
            elif not manifest.get("published", True):
                marker = " (archived, not published)"
            else:
                marker = ""
            source = str(parameters.get("source", "synthetic"))
            events_path = (manifest.get("input") or {}).get("events_path") or parameters.get("events_path")
            models = parameters.get("models")
            models_full = ", ".join(map(str, models)) if isinstance(models, list | tuple) else str(models or "—")
            models_text = ", ".join(_model_alias(m) for m in models) if isinstance(models, list | tuple) else models_full
            if parameters.get("selection") in ("stack", "best"):
                models_text += f" ({parameters['selection']})"
            body.append(
                "<tr>"
                f"<td>{escape(manifest.get('run_id'))}{escape(marker)}</td>"
                f"<td>{escape(_short_time(manifest.get('finished', '')))}</td>"
                f'<td class="status-{"ok" if status == "ok" else "failed"}" title="{escape(status_full if failed else status)}">'
                f"{escape(status_text if failed else status)}</td>"
                f"<td>{escape(source)}</td>"
                f'<td class="input">{escape(Path(str(events_path)).name if events_path else "—")}</td>'
                f"<td>{escape(parameters.get('actor') or 'all actors')}</td>"
                f"<td>{escape(parameters.get('as_of') or _judged_text(manifest.get('alerts')))}</td>"
                f"<td>{escape(_period_text(parameters))}</td>"
                f'<td title="{escape(models_full)}">{escape(models_text)}</td>'
                f"<td>{escape(alert_counts_text(manifest.get('alerts')))}</td>"
                f'<td class="report-links">{_report_links(manifest, str(manifest.get("folder", "")) + "/")}'
                f' · <a href="{escape(str(manifest.get("folder", "")) + "/manifest.json")}">manifest</a></td>'
                "</tr>"
            )
        body.append("</tbody></table></div>")
    body.append("</section>")
    return _page("Forecast reports", "\n".join(body))


def _judged_text(alerts: Mapping[str, Any] | None) -> str:
    """The index's as-of cell of a run as of the data's end: the last period its alarms judged."""
    judged = (alerts or {}).get("last_period")
    return f"data's end ({judged})" if judged else "data's end"


def _model_alias(spec: Any) -> str:
    """``"endemic_recent"`` for ``"endemic_epidemic(halflife_months=12, alias='endemic_recent')"``."""
    from forecast.models.registry import ModelSpec

    try:
        return ModelSpec.parse(str(spec)).alias
    except ForecastError:
        return str(spec)


def _period_text(parameters: Mapping[str, Any]) -> str:
    """``'W-MON, 8 ahead'``: the panel period and the horizon of a run."""
    freq, horizon = parameters.get("freq") or "—", parameters.get("horizon")
    return f"{freq}, {horizon} ahead" if horizon is not None else str(freq)


def _short_time(stamp: Any) -> str:
    """``'2026-12-04 01:49 UTC'`` for an ISO timestamp (the text itself when it is not one)."""
    try:
        when = pd.Timestamp(str(stamp))
    except ValueError:
        return str(stamp)
    if when.tzinfo is not None:
        when = when.tz_convert("UTC")
    return f"{when:%Y-%m-%d %H:%M} UTC"


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
