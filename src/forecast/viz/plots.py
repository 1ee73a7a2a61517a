"""Figures of forecasts, backtests and spread indicators.

Every function takes data and returns a :class:`matplotlib.figure.Figure`
(:class:`ReportFigure`); nothing touches pyplot's global figure registry, so
figures never leak between cells, runs or threads. One style for all figures
(:data:`STYLE`, colour-blind-safe Okabe-Ito colours, fonts readable at report
size) and one way of labelling them (:func:`finish_figure`): the title names
what is shown, the caption names the data source, actor and period, and both
say "SYNTHETIC" when the data are.

Input tables are long and their columns named (see each function):

- history: the panel, ``unit_id, ds, y``;
- forecasts: a :class:`forecast.models.frame.ForecastFrame` or its
  ``summary()`` (``unit_id, ds, step, model, q05, q25, q50, q75, q95``);
- backtest scores: ``model, step`` and one column per score (``crps`` ...);
- PIT values: ``model, pit``; interval coverage: ``model, level, coverage``;
- spread indicators: ``ds`` and one column per indicator, alert periods as
  timestamps or ``ds, level``.

Maps live in :mod:`forecast.viz.maps` and share this style.
"""

from __future__ import annotations

import functools
import io
import math
import re
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator, PercentFormatter

from forecast.errors import InputError, ParameterError
from forecast.schema import ALERT_LEVELS

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from forecast.models.frame import ForecastFrame

__all__ = [
    "ALERT_COLOURS",
    "OKABE_ITO",
    "STYLE",
    "ReportFigure",
    "coverage_plot",
    "fan_chart",
    "fan_small_multiples",
    "finish_figure",
    "new_figure",
    "pit_histogram",
    "score_by_horizon",
    "spread_indicator_chart",
]

# ---------------------------------------------------------------------------- style

#: Okabe & Ito (2008) colours, distinguishable with the common colour-vision deficiencies.
OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
#: Colours for series (models, indicators) in order; yellow is left out: too faint as a line.
SERIES_COLOURS: list[str] = [
    OKABE_ITO[name]
    for name in (
        "blue",
        "vermillion",
        "bluish_green",
        "orange",
        "reddish_purple",
        "sky_blue",
        "black",
    )
]
#: Markers paired with :data:`SERIES_COLOURS`, so series differ in shape as well as colour.
SERIES_MARKERS: list[str] = ["o", "s", "^", "D", "v", "P", "X"]

#: Alert levels from calm to urgent; lightness rises with urgency so they read in grey too.
ALERT_COLOURS: dict[str, str] = {
    "none": "#DDDDDD",
    "watch": OKABE_ITO["yellow"],
    "warning": OKABE_ITO["orange"],
    "alert": OKABE_ITO["vermillion"],
}
#: Indicator lines drawn over alert shading: no yellow, orange or vermillion.
INDICATOR_COLOURS: list[str] = [
    OKABE_ITO[name] for name in ("blue", "black", "bluish_green", "reddish_purple", "sky_blue")
]
#: Fan charts: one hue, the 90 % band lighter than the 50 % band.
FAN_COLOUR = OKABE_ITO["blue"]
FAN_LEVELS = (0.05, 0.25, 0.5, 0.75, 0.95)

#: Matplotlib settings applied while a figure is built (not globally).
STYLE: dict[str, Any] = {
    "font.size": 9,
    "axes.titlesize": 9.5,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "figure.titlesize": 11,
    "figure.titleweight": "bold",
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.prop_cycle": mpl.cycler(color=SERIES_COLOURS),
    "lines.linewidth": 1.5,
    "date.autoformatter.month": "%Y-%m",
    # Titles, captions, labels and legends carry data and user text (actor regexes such as
    # ``^IS$|Khorasan``, unit names): "$" is a character, never the start of mathtext.
    "text.parse_math": False,
}

#: Width of a figure that fills a report's text column, in inches.
REPORT_WIDTH = 7.5
CAPTION_FONTSIZE = 7.5

P = ParamSpec("P")
R = TypeVar("R")


class ReportFigure(Figure):
    """A matplotlib Figure that shows itself in notebooks without pyplot.

    Jupyter displays an object through ``_repr_png_``; a bare
    :class:`~matplotlib.figure.Figure` only displays when pyplot's inline
    backend was set up, which these functions deliberately avoid.
    """

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        # At the figure's own resolution: maps are drawn finer than charts (see new_figure).
        self.savefig(buffer, format="png", dpi=self.dpi)
        return buffer.getvalue()


def styled(function: Callable[P, R]) -> Callable[P, R]:
    """Build the figure inside ``rc_context(STYLE)``: the style applies, global rcParams do not change."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with mpl.rc_context(STYLE):
            return function(*args, **kwargs)

    return wrapper


def new_figure(width: float = REPORT_WIDTH, height: float = 3.6, dpi: float | None = None) -> ReportFigure:
    """An empty figure with constrained layout (call inside :func:`styled` code).

    ``dpi`` (default the style's 100) is the resolution it shows at: a map of
    34 named provinces needs more pixels than a chart for its labels to be read.
    """
    return ReportFigure(figsize=(width, height), layout="constrained", dpi=dpi or STYLE["figure.dpi"])


def period_label(*dates: Iterable[Any]) -> str:
    """``"2019-01-07 to 2021-09-27"`` from the earliest and latest of the given dates.

    Examples
    --------
    >>> period_label(pd.to_datetime(["2021-03-01", "2020-01-06"]))
    '2020-01-06 to 2021-03-01'
    """
    values = pd.to_datetime(
        pd.Series([d for group in dates for d in group]), errors="coerce"
    ).dropna()
    if values.empty:
        return ""
    first, last = values.min(), values.max()
    return f"{first:%Y-%m-%d}" if first == last else f"{first:%Y-%m-%d} to {last:%Y-%m-%d}"


def data_caption(
    *,
    source: str | None = None,
    actor: str | None = None,
    period: str | None = None,
    synthetic: bool = False,
    caption: str | None = None,
) -> str:
    """The one caption text: SYNTHETIC flag, source, actor, period, then the figure's own note.

    Examples
    --------
    >>> data_caption(source="forecast.data.synthetic", actor="IS-K", period="2020 to 2021", synthetic=True)
    'SYNTHETIC data, not real events. Source: forecast.data.synthetic. Actor: IS-K. Period: 2020 to 2021.'
    """
    parts = []
    if synthetic:
        parts.append("SYNTHETIC data, not real events.")
    for label, value in (("Source", source), ("Actor", actor), ("Period", period)):
        if value:
            parts.append(f"{label}: {value}.")
    if caption:
        parts.append(caption.strip())
    return " ".join(parts)


def figure_legend(
    fig: Figure, handles: Sequence[Any], labels: Sequence[str] | None = None, **kwargs: Any
) -> Any:
    """A legend for the whole figure, placed by :func:`finish_figure` between title and axes.

    Matplotlib's ``loc="outside ..."`` legends share the top margin with the
    title and overlap it, so figure legends are positioned by hand instead.
    """
    if labels is None:
        labels = [h.get_label() for h in handles]
    legend = fig.legend(
        handles,
        labels,
        loc="upper center",
        ncols=kwargs.pop("ncols", max(1, len(handles))),
        **kwargs,
    )
    legend.set_in_layout(False)
    return legend


def _wrap_to_width(artist: Any, text: str, renderer: Any, fig: Figure, share: float = 0.85) -> None:
    """Wrap ``text`` so the artist fits ``share`` of the figure width (measured, not guessed).

    The margin is for hinting: at low dpi glyphs round up and text runs up to ~14 % wider (72 dpi).
    """
    limit = fig.bbox.width * share
    chars = len(text)
    artist.set_text(text)
    while chars > 20 and artist.get_window_extent(renderer).width > limit:
        chars = int(chars * min(0.95, limit / artist.get_window_extent(renderer).width))
        artist.set_text(textwrap.fill(text, width=chars))


def _renderer(fig: Figure) -> Any:
    """A renderer to measure text with; attaches an Agg canvas (what savefig uses for PNG anyway)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    return canvas.get_renderer()


def finish_figure(
    fig: Figure,
    title: str,
    *,
    source: str | None = None,
    actor: str | None = None,
    period: str | None = None,
    synthetic: bool = False,
    caption: str | None = None,
) -> Figure:
    """Give ``fig`` its title, figure legends and caption, the same way for every figure.

    The title (``fig._suptitle``) gets " (SYNTHETIC)" when ``synthetic`` and
    sits at the top; legends made by :func:`figure_legend` go right below it;
    the caption (see :func:`data_caption`; gid ``"caption"``) sits at the
    bottom, wrapped to the figure width. The constrained layout keeps the
    axes in the space between.
    """
    height_in = fig.get_size_inches()[1]
    height_pt = height_in * 72
    pad = 4 / height_pt
    renderer = _renderer(fig)

    heading = f"{title} (SYNTHETIC)" if synthetic else title
    top = pad
    if heading:
        # Data- and user-borne text (actor regexes like ^IS$) is shown as written, never as mathtext.
        suptitle = fig.suptitle(heading, y=1 - pad, va="top", parse_math=False)
        suptitle.set_in_layout(False)
        _wrap_to_width(suptitle, heading, renderer, fig)
        top += suptitle.get_window_extent(renderer).height / height_pt + pad
    for legend in fig.legends:
        if legend.get_in_layout():
            continue  # a legend someone placed through the layout engine stays where it is
        legend.set_bbox_to_anchor((0, 0, 1, 1 - top), transform=fig.transFigure)
        top += legend.get_window_extent(renderer).height / height_pt + pad

    bottom = 0.0
    text = data_caption(
        source=source, actor=actor, period=period, synthetic=synthetic, caption=caption
    )
    if text:
        note = fig.text(
            0.01,
            pad,
            text,
            ha="left",
            va="bottom",
            fontsize=CAPTION_FONTSIZE,
            color="#333333",
            gid="caption",
            parse_math=False,
        )
        _wrap_to_width(note, text, renderer, fig)
        bottom = note.get_window_extent(renderer).height / height_pt + 2 * pad
    engine = fig.get_layout_engine()
    if engine is not None and hasattr(engine, "set"):
        # Constrained layout ignores these texts; rect is (left, bottom, width, height).
        bottom, top = min(bottom, 0.45), min(top, 0.45)
        engine.set(rect=(0, bottom, 1, 1 - bottom - top))
    return fig


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"{what} lacks column(s) {missing}; it has {list(frame.columns)}",
            column=missing[0],
        )


def _date_axis(ax: Axes, maxticks: int = 8) -> None:
    """Concise date ticks (year shown once, not on every label)."""
    locator = AutoDateLocator(minticks=3, maxticks=maxticks)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))


def _series_style(i: int) -> dict[str, Any]:
    return {
        "color": SERIES_COLOURS[i % len(SERIES_COLOURS)],
        "marker": SERIES_MARKERS[i % len(SERIES_MARKERS)],
    }


def _grid(fig: Figure, n: int, ncols: int, **kwargs: Any) -> list[Axes]:
    """``n`` axes in a grid of ``ncols`` columns; unused cells are removed, not hidden."""
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False, **kwargs)).ravel()
    for extra in axes[n:]:
        extra.remove()
    return list(axes[:n])


# ---------------------------------------------------------------------------- forecasts


def forecast_summary(
    forecast: ForecastFrame | pd.DataFrame,
    model: str | None = None,
) -> pd.DataFrame:
    """Quantile summary of one model's forecasts: ``unit_id, ds, step, model, mean, q05..q95, p_ge_1``.

    Parameters
    ----------
    forecast
        A :class:`~forecast.models.frame.ForecastFrame`, or its ``summary()``
        with at least ``unit_id, ds, q05, q25, q50, q75, q95``.
    model
        The model to keep; required when ``forecast`` holds several.
    """
    if isinstance(forecast, pd.DataFrame):
        summary = forecast.copy()
    elif hasattr(forecast, "summary"):
        summary = forecast.summary(levels=FAN_LEVELS, exceed=(1,))
    else:
        raise ParameterError(
            f"forecast must be a ForecastFrame or its summary DataFrame, got {type(forecast).__name__}"
        )
    _require(summary, ["unit_id", "ds", "q05", "q25", "q50", "q75", "q95"], "forecast summary")
    summary["ds"] = pd.to_datetime(summary["ds"])
    if "model" in summary.columns:
        models = list(dict.fromkeys(summary["model"]))
        if model is None and len(models) > 1:
            raise ParameterError(f"the forecast holds models {models}; pass model= one of them")
        if model is not None:
            if model not in models:
                raise ParameterError(f"model '{model}' is not in the forecast; it holds {models}")
            summary = summary.loc[summary["model"] == model]
    if "step" not in summary.columns:
        summary["step"] = summary.groupby("unit_id")["ds"].rank(method="dense").astype(int)
    return summary.sort_values(["unit_id", "ds"]).reset_index(drop=True)


def _history(history: pd.DataFrame) -> pd.DataFrame:
    _require(history, ["unit_id", "ds", "y"], "history (panel)")
    out = history.loc[:, ["unit_id", "ds", "y"]].copy()
    out["ds"] = pd.to_datetime(out["ds"])
    return out.sort_values(["unit_id", "ds"])


def _draw_fan(
    ax: Axes, observed: pd.DataFrame, predicted: pd.DataFrame, history_periods: int | None
) -> pd.DataFrame:
    """History line, 90 % and 50 % bands, median line and a dashed forecast origin.

    Returns the observed rows drawn (for the period label).
    """
    first_forecast = predicted["ds"].min()
    before = observed.loc[observed["ds"] < first_forecast]
    if history_periods is not None:
        keep_from = before["ds"].iloc[-history_periods] if len(before) >= history_periods else None
        if keep_from is not None:
            observed = observed.loc[observed["ds"] >= keep_from]
    ax.plot(
        observed["ds"], observed["y"], color=OKABE_ITO["black"], linewidth=1.0, label="observed"
    )

    band = predicted.loc[:, ["ds", "q05", "q25", "q50", "q75", "q95"]]
    if len(before):
        # Start the fan at the last observation, so it visibly opens from what is known.
        last = before.iloc[-1]
        anchor = pd.DataFrame({c: [last["y"]] for c in ["q05", "q25", "q50", "q75", "q95"]})
        anchor.insert(0, "ds", [last["ds"]])
        band = pd.concat([anchor, band], ignore_index=True)
    for low, high, alpha, label in (("q05", "q95", 0.18, "90 % interval"), ("q25", "q75", 0.40, "50 % interval")):
        ax.fill_between(band["ds"], band[low], band[high], color=FAN_COLOUR, alpha=alpha, linewidth=0, label=label)
    ax.plot(band["ds"], band["q50"], color=FAN_COLOUR, linewidth=1.6, label="median forecast")
    origin = before["ds"].iloc[-1] if len(before) else first_forecast
    ax.axvline(origin, color="#666666", linestyle="--", linewidth=0.8)
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
    _date_axis(ax)
    return observed


def _unit_title(unit_id: str, names: Mapping[str, str] | None) -> str:
    name = (names or {}).get(unit_id)
    return f"{name} ({unit_id})" if name else unit_id


def _forecast_caption(summary: pd.DataFrame, caption: str | None) -> str:
    steps = int(summary["step"].max()) if len(summary) else 0
    note = (
        f"Black: observed counts. Blue: median forecast with 50 % and 90 % prediction intervals, "
        f"{steps} period(s) ahead of the dashed line."
    )
    return f"{note} {caption}" if caption else note


@styled
def fan_chart(
    history: pd.DataFrame,
    forecast: ForecastFrame | pd.DataFrame,
    unit_id: str,
    *,
    model: str | None = None,
    history_periods: int | None = 52,
    names: Mapping[str, str] | None = None,
    title: str | None = None,
    source: str | None = None,
    actor: str | None = None,
    period: str | None = None,
    synthetic: bool = False,
    caption: str | None = None,
) -> Figure:
    """Forecast fan chart of one unit: history, median, 50 % and 90 % bands.

    Parameters
    ----------
    history
        The panel: ``unit_id, ds, y`` (observed counts per period).
    forecast
        A :class:`~forecast.models.frame.ForecastFrame` or its summary
        (``unit_id, ds, step, model, q05, q25, q50, q75, q95``).
    unit_id
        The unit to draw.
    model
        Which model, when ``forecast`` holds several.
    history_periods
        Periods of history shown before the forecast origin (``None``: all).
    names
        ``unit_id -> name`` for the title (e.g. ``gaz.units.set_index("unit_id")["name"]``).
    title, source, actor, period, synthetic, caption
        Labelling (see :func:`finish_figure`); ``period`` defaults to the
        dates drawn.

    Returns
    -------
    matplotlib.figure.Figure
        One axes with two lines (observed, median), two bands and the origin line.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from forecast.models.frame import ForecastFrame
    >>> weeks = pd.date_range("2021-01-04", periods=20, freq="W-MON")
    >>> history = pd.DataFrame({"unit_id": "AF-NAN", "ds": weeks, "y": np.arange(20) % 4})
    >>> future = pd.date_range(weeks[-1], periods=5, freq="W-MON")[1:]
    >>> draws = np.random.default_rng(0).poisson(2.0, size=(4, 500))
    >>> ff = ForecastFrame.from_draws(["AF-NAN"] * 4, future, [1, 2, 3, 4], draws, model="demo")
    >>> fig = fan_chart(history, ff, "AF-NAN", source="demo", synthetic=True)
    >>> len(fig.axes), fig._suptitle.get_text().endswith("(SYNTHETIC)")
    (1, True)
    """
    summary = forecast_summary(forecast, model)
    observed = _history(history)
    predicted = summary.loc[summary["unit_id"] == unit_id]
    if predicted.empty:
        raise ParameterError(
            f"no forecast for unit '{unit_id}'; the forecast covers {sorted(summary['unit_id'].unique())[:10]}"
        )
    observed = observed.loc[observed["unit_id"] == unit_id]
    fig = new_figure(REPORT_WIDTH, 3.6)
    ax = fig.subplots()
    shown = _draw_fan(ax, observed, predicted, history_periods)
    ax.set_ylabel("events per period")
    figure_legend(fig, *ax.get_legend_handles_labels())
    model_name = predicted["model"].iloc[0] if "model" in predicted.columns else None
    default_title = f"Forecast for {_unit_title(unit_id, names)}" + (
        f", model {model_name}" if model_name else ""
    )
    return finish_figure(
        fig,
        title or default_title,
        source=source,
        actor=actor,
        period=period or period_label(shown["ds"], predicted["ds"]),
        synthetic=synthetic,
        caption=_forecast_caption(predicted, caption),
    )


@styled
def fan_small_multiples(
    history: pd.DataFrame,
    forecast: ForecastFrame | pd.DataFrame,
    unit_ids: Sequence[str] | None = None,
    *,
    ncols: int = 4,
    model: str | None = None,
    history_periods: int | None = 26,
    names: Mapping[str, str] | None = None,
    title: str | None = None,
    source: str | None = None,
    actor: str | None = None,
    period: str | None = None,
    synthetic: bool = False,
    caption: str | None = None,
) -> Figure:
    """Fan charts of many units, one small panel each, with a shared legend.

    Parameters
    ----------
    history, forecast, model, history_periods, names
        As in :func:`fan_chart`.
    unit_ids
        Units to draw, in order; default every forecast unit, highest
        expected count (first step) first.
    ncols
        Panels per row.
    title, source, actor, period, synthetic, caption
        Labelling (see :func:`finish_figure`).

    Returns
    -------
    matplotlib.figure.Figure
        One axes per unit, titled with its name.
    """
    summary = forecast_summary(forecast, model)
    observed = _history(history)
    if unit_ids is None:
        centre = "mean" if "mean" in summary.columns else "q50"
        first = summary.loc[summary["step"] == summary["step"].min()]
        unit_ids = first.sort_values([centre, "unit_id"], ascending=[False, True])[
            "unit_id"
        ].tolist()
    unit_ids = list(dict.fromkeys(unit_ids))
    missing = [u for u in unit_ids if u not in set(summary["unit_id"])]
    if missing:
        raise ParameterError(
            f"no forecast for units {missing[:10]}; pass units the forecast covers"
        )
    if not unit_ids:
        raise ParameterError("no units to draw: the forecast is empty")
    nrows = math.ceil(len(unit_ids) / max(1, min(ncols, len(unit_ids))))
    fig = new_figure(REPORT_WIDTH, 1.55 * nrows + 1.3)
    axes = _grid(fig, len(unit_ids), ncols, sharex=True)
    shown = []
    for ax, unit in zip(axes, unit_ids, strict=True):
        drawn = _draw_fan(
            ax,
            observed.loc[observed["unit_id"] == unit],
            summary.loc[summary["unit_id"] == unit],
            history_periods,
        )
        shown.append(drawn["ds"])
        ax.set_title(_unit_title(unit, names), fontsize=8.5, parse_math=False)
        _date_axis(ax, maxticks=4)
        ax.tick_params(labelbottom=True)  # every panel dated, not only the bottom row's
    handles, labels = axes[0].get_legend_handles_labels()
    figure_legend(fig, handles, labels)
    model_name = summary["model"].iloc[0] if "model" in summary.columns else None
    default_title = "Forecasts by province" + (f", model {model_name}" if model_name else "")
    return finish_figure(
        fig,
        title or default_title,
        source=source,
        actor=actor,
        period=period or period_label(*shown, summary["ds"]),
        synthetic=synthetic,
        caption=_forecast_caption(summary, caption),
    )


@styled
def past_forecasts_chart(
    history: pd.DataFrame,
    stored: pd.DataFrame,
    unit_ids: Sequence[str],
    *,
    model: str,
    runs: Sequence[str] | None = None,
    ncols: int = 3,
    names: Mapping[str, str] | None = None,
    title: str | None = None,
    source: str | None = None,
    actor: str | None = None,
    period: str | None = None,
    synthetic: bool = False,
    caption: str | None = None,
) -> Figure:
    """Realised counts against the fans earlier runs forecast for them, one panel per unit.

    Parameters
    ----------
    history
        The current panel ``unit_id, ds, y`` (what was realised, as known today).
    stored
        Ledger forecasts (:func:`forecast.evaluation.ledger.read_forecasts`):
        ``run_id, model, unit_id, ds, q05, q50, q95``.
    unit_ids
        Units to draw, in order.
    model
        The model whose fans are drawn.
    runs
        Runs to draw, oldest first (default: every run in ``stored``).
    ncols, names
        Panels per row; ``unit_id -> name`` for panel titles.
    title, source, actor, period, synthetic, caption
        Labelling (see :func:`finish_figure`).

    Returns
    -------
    matplotlib.figure.Figure
        One axes per unit: per run a 90 % band and a median line in the run's
        colour, and the realised counts in black.
    """
    _require(stored, ["run_id", "model", "unit_id", "ds", "q05", "q50", "q95"], "stored forecasts")
    observed = _history(history)
    rows = stored.loc[stored["model"] == model].copy()
    if rows.empty:
        raise ParameterError(f"no stored forecasts from model '{model}'; the ledger has {sorted(set(stored['model']))}")
    rows["ds"] = pd.to_datetime(rows["ds"])
    runs = list(dict.fromkeys(rows["run_id"])) if runs is None else list(runs)
    unit_ids = list(dict.fromkeys(unit_ids))
    if not unit_ids:
        raise ParameterError("no units to draw")
    nrows = math.ceil(len(unit_ids) / max(1, min(ncols, len(unit_ids))))
    fig = new_figure(REPORT_WIDTH, 1.7 * nrows + 1.5)
    axes = _grid(fig, len(unit_ids), ncols, sharex=True)
    start = rows.loc[rows["run_id"].isin(runs), "ds"].min()
    handles: dict[str, Any] = {}
    for ax, unit in zip(axes, unit_ids, strict=True):
        for position, run in enumerate(runs):
            fan = rows.loc[(rows["unit_id"] == unit) & (rows["run_id"] == run)].sort_values("ds")
            if fan.empty:
                continue
            colour = SERIES_COLOURS[position % len(SERIES_COLOURS)]
            ax.fill_between(fan["ds"], fan["q05"], fan["q95"], color=colour, alpha=0.15, linewidth=0)
            (line,) = ax.plot(fan["ds"], fan["q50"], color=colour, linewidth=1.2, label=f"run {run}")
            handles.setdefault(run, line)
        seen = observed.loc[(observed["unit_id"] == unit) & (observed["ds"] >= start)]
        (dots,) = ax.plot(
            seen["ds"], seen["y"], color=OKABE_ITO["black"], linewidth=0.8, marker="o", markersize=2.5,
            label="realised",
        )
        handles.setdefault("realised", dots)
        ax.set_title(_unit_title(unit, names), fontsize=8.5, parse_math=False)
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=4))
        _date_axis(ax, maxticks=4)
    figure_legend(fig, list(handles.values()), list(handles), ncols=min(4, len(handles)))
    note = (
        "Each colour: one earlier run's median forecast (line) and 90 % interval (band); "
        "black: the counts realised, as the data know them today."
    )
    return finish_figure(
        fig,
        title or f"Past forecasts against what happened, model {model}",
        source=source,
        actor=actor,
        period=period or period_label(rows["ds"]),
        synthetic=synthetic,
        caption=f"{note} {caption}" if caption else note,
    )


# ---------------------------------------------------------------------------- backtests



@styled
def score_by_horizon(
    scores: pd.DataFrame,
    score: str | Sequence[str] = "crps",
    *,
    title: str | None = None,
    source: str | None = None,
    actor: str | None = None,
    period: str | None = None,
    synthetic: bool = False,
    caption: str | None = None,
) -> Figure:
    """Mean score per forecast horizon, one line per model, one panel per score.

    Parameters
    ----------
    scores
        Backtest score table, long: ``model``, ``step`` (1 = one period ahead)
        and one column per score named in ``score``; any other columns
        (``unit_id, ds, cutoff`` ...) are averaged over.
    score
        Score column(s) to draw, e.g. ``"crps"`` or ``["crps", "log_score"]``.
    title, source, actor, period, synthetic, caption
        Labelling (see :func:`finish_figure`); ``period`` defaults to the
        range of ``cutoff`` when present.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per score, one line per model (legend labels = model names).
    """
    names = [score] if isinstance(score, str) else list(score)
    _require(scores, ["model", "step", *names], "score table")
    from forecast.evaluation.backtest import LOWER_IS_BETTER

    fig = new_figure(REPORT_WIDTH, 3.4)
    axes = _grid(fig, len(names), len(names))
    models = list(dict.fromkeys(scores["model"]))
    for ax, name in zip(axes, names, strict=True):
        means = scores.groupby(["model", "step"], sort=True)[name].mean()
        for i, model in enumerate(models):
            line = means.loc[model]
            ax.plot(line.index, line.to_numpy(), label=str(model), **_series_style(i))
        ax.set_xlabel("forecast horizon (periods ahead)")
        better = " (lower is better)" if name.lower() in LOWER_IS_BETTER else ""  # the backtest's own list
        ax.set_ylabel(f"mean {name}{better}")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].legend(title="model")
    n = scores.groupby(["model", "step"]).size()
    count = f"{int(n.min())}" if n.min() == n.max() else f"{int(n.min())} to {int(n.max())}"
    note = f"Each point averages {count} scored forecasts (units × forecast origins)."
    dated = "cutoff" in scores.columns and pd.api.types.is_datetime64_any_dtype(scores["cutoff"])
    default_period = period_label(scores["cutoff"]) if dated else None
    return finish_figure(
        fig,
        title or f"Mean {' and '.join(names)} by forecast horizon",
        source=source,
        actor=actor,
        period=period or (f"forecast origins {default_period}" if default_period else None),
        synthetic=synthetic,
        caption=f"{note} {caption}" if caption else note,
    )


@styled
def pit_histogram(
    pit: pd.DataFrame,
    *,
    bins: int = 10,
    ncols: int = 3,
    title: str | None = None,
    source: str | None = None,
    actor: str | None = None,
    period: str | None = None,
    synthetic: bool = False,
    caption: str | None = None,
) -> Figure:
    """PIT histogram per model: flat means calibrated.

    Parameters
    ----------
    pit
        ``model, pit``: probability integral transform values in [0, 1], one
        per scored forecast (randomised PIT for counts).
    bins
        Histogram bins on [0, 1].
    ncols
        Panels per row.
    title, source, actor, period, synthetic, caption
        Labelling (see :func:`finish_figure`).

    Returns
    -------
    matplotlib.figure.Figure
        One axes per model with ``bins`` bars and the uniform reference line.
    """
    _require(pit, ["model", "pit"], "PIT table")
    values = pd.to_numeric(pit["pit"], errors="coerce")
    if ((values < 0) | (values > 1)).any():
        raise InputError("PIT values must lie in [0, 1]; found values outside", column="pit")
    models = list(dict.fromkeys(pit["model"]))
    if not models:
        raise InputError("the PIT table is empty; run the backtest first", column="pit")
    nrows = math.ceil(len(models) / max(1, min(ncols, len(models))))
    fig = new_figure(REPORT_WIDTH, 2.3 * nrows + 1.2)
    axes = _grid(fig, len(models), ncols, sharey=True)
    edges = np.linspace(0, 1, bins + 1)
    for i, (ax, model) in enumerate(zip(axes, models, strict=True)):
        sample = values[pit["model"] == model].dropna().to_numpy()
        density, _ = np.histogram(sample, bins=edges, density=True)
        ax.bar(
            edges[:-1],
            density,
            width=np.diff(edges),
            align="edge",
            color=SERIES_COLOURS[i % len(SERIES_COLOURS)],
            alpha=0.75,
            edgecolor="white",
            linewidth=0.5,
        )
        ax.axhline(
            1.0,
            color=OKABE_ITO["black"],
            linestyle="--",
            linewidth=0.9,
            label="uniform (calibrated)",
        )
        ax.set_title(f"{model} (n = {len(sample)})", parse_math=False)
        ax.set_xlim(0, 1)
        ax.set_xlabel("PIT")
    axes[0].set_ylabel("density")
    axes[0].legend(loc="upper center")
    note = "U shape: intervals too narrow; hump: too wide; slope: forecasts biased."
    return finish_figure(
        fig,
        title or "Calibration: PIT histograms",
        source=source,
        actor=actor,
        period=period,
        synthetic=synthetic,
        caption=f"{note} {caption}" if caption else note,
    )


_COVERED = re.compile(r"^covered(\d+)$")


def interval_coverage_table(scores: pd.DataFrame) -> pd.DataFrame:
    """Long ``model, level, coverage`` from a table that has it, or from ``covered<NN>`` hit columns.

    Examples
    --------
    >>> scores = pd.DataFrame({"model": ["a", "a"], "covered50": [True, False], "covered90": [True, True]})
    >>> interval_coverage_table(scores).groupby("level")["coverage"].mean().to_dict()
    {0.5: 0.5, 0.9: 1.0}
    """
    if {"level", "coverage"} <= set(scores.columns):
        _require(scores, ["model", "level", "coverage"], "coverage table")
        return scores
    hits = [c for c in scores.columns if _COVERED.match(str(c))]
    if "model" not in scores.columns or not hits:
        raise InputError(
            "coverage needs columns model, level, coverage (or the backtest's model, covered50, "
            f"covered90); it has {list(scores.columns)}",
            column="coverage",
        )
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "model": scores["model"].to_numpy(),
                    "level": int(_COVERED.match(c).group(1)) / 100,
                    "coverage": scores[c].astype(float).to_numpy(),
                }
            )
            for c in hits
        ],
        ignore_index=True,
    )


@styled
def coverage_plot(
    coverage: pd.DataFrame,
    *,
    title: str | None = None,
    source: str | None = None,
    actor: str | None = None,
    period: str | None = None,
    synthetic: bool = False,
    caption: str | None = None,
) -> Figure:
    """Empirical against nominal coverage of central prediction intervals, per model.

    Parameters
    ----------
    coverage
        ``model, level, coverage``: nominal level of a central interval
        (e.g. 0.5, 0.9) and the fraction of outcomes inside it. Several rows
        per model and level (per unit or origin) are averaged; 0/1 hit
        indicators therefore work too. The backtest score table (``model``
        and hit columns ``covered50, covered90``) is read as is, see
        :func:`interval_coverage_table`.
    title, source, actor, period, synthetic, caption
        Labelling (see :func:`finish_figure`).

    Returns
    -------
    matplotlib.figure.Figure
        One axes: the diagonal (ideal) and one line per model.
    """
    coverage = interval_coverage_table(coverage)
    fig = new_figure(5.0, 4.4)
    ax = fig.subplots()
    ax.plot(
        [0, 1], [0, 1], color="#777777", linestyle="--", linewidth=0.9, label="ideal", marker=""
    )
    means = coverage.groupby(["model", "level"], sort=True)["coverage"].mean()
    for i, model in enumerate(dict.fromkeys(coverage["model"])):
        line = means.loc[model]
        ax.plot(
            line.index.to_numpy(dtype=float), line.to_numpy(), label=str(model), **_series_style(i)
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)  # room for markers at 100 %
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("nominal coverage of the prediction interval")
    ax.set_ylabel("observed share of outcomes inside")
    ax.legend(loc="upper left")
    note = "Below the diagonal: intervals too narrow (overconfident); above: too wide."
    return finish_figure(
        fig,
        title or "Prediction interval coverage",
        source=source,
        actor=actor,
        period=period,
        synthetic=synthetic,
        caption=f"{note} {caption}" if caption else note,
    )


# ---------------------------------------------------------------------------- spread


def _period_width(ds: pd.Series) -> pd.Timedelta:
    """Typical spacing of ``ds`` (a week, a month): how wide one shaded period is."""
    unique = pd.Series(pd.to_datetime(ds).drop_duplicates().sort_values())
    steps = unique.diff().dropna()
    return steps.median() if len(steps) else pd.Timedelta(days=7)


def alert_spans(
    alert_periods: Sequence[Any] | pd.DataFrame | None,
    width: pd.Timedelta,
) -> pd.DataFrame:
    """Merge alert periods into shaded spans: ``start, end, level``.

    Parameters
    ----------
    alert_periods
        Period starts under alert (each becomes level ``"alert"``), or a
        DataFrame ``ds, level`` with levels from
        :data:`forecast.schema.ALERT_LEVELS` (``"none"`` is not shaded).
    width
        Length of one period.

    Examples
    --------
    >>> ds = pd.to_datetime(["2021-01-04", "2021-01-11", "2021-02-01"])
    >>> alert_spans(ds, pd.Timedelta(days=7))[["start", "level"]].astype(str).values.tolist()
    [['2021-01-04', 'alert'], ['2021-02-01', 'alert']]
    """
    if alert_periods is None:
        return pd.DataFrame(columns=["start", "end", "level"])
    if isinstance(alert_periods, pd.DataFrame):
        _require(alert_periods, ["ds"], "alert periods")
        frame = alert_periods.loc[:, ["ds"]].copy()
        frame["level"] = (
            alert_periods["level"].astype(str) if "level" in alert_periods.columns else "alert"
        )
    else:
        frame = pd.DataFrame({"ds": list(alert_periods), "level": "alert"})
    unknown = sorted(set(frame["level"]) - set(ALERT_LEVELS))
    if unknown:
        raise InputError(f"alert levels {unknown} are not among {ALERT_LEVELS}", column="level")
    frame["ds"] = pd.to_datetime(frame["ds"])
    # Where several rows share a period (one per unit), the most urgent level shows.
    rank = {level: i for i, level in enumerate(ALERT_LEVELS)}
    frame["rank"] = frame["level"].map(rank)
    frame = frame.sort_values("rank").drop_duplicates("ds", keep="last").sort_values("ds")
    frame = frame.loc[frame["level"] != "none"]
    spans: list[dict[str, Any]] = []
    for ds, level in zip(frame["ds"], frame["level"], strict=True):
        # Adjacent periods at the same level shade as one span; 1.5 widths tolerates month lengths.
        if spans and spans[-1]["level"] == level and ds - spans[-1]["last"] <= width * 1.5:
            spans[-1]["last"] = ds
        else:
            spans.append({"start": ds, "last": ds, "level": level})
    out = pd.DataFrame(spans, columns=["start", "last", "level"])
    out["end"] = out["last"] + width
    return out.loc[:, ["start", "end", "level"]]


@styled
def spread_indicator_chart(
    indicators: pd.DataFrame,
    alert_periods: Sequence[Any] | pd.DataFrame | None = None,
    *,
    columns: Sequence[str] | None = None,
    labels: Mapping[str, str] | None = None,
    thresholds: Mapping[str, float] | None = None,
    title: str | None = None,
    source: str | None = None,
    actor: str | None = None,
    period: str | None = None,
    synthetic: bool = False,
    caption: str | None = None,
) -> Figure:
    """Spread indicators over time, stacked, with the alert periods shaded.

    Parameters
    ----------
    indicators
        ``ds`` and one numeric column per indicator (e.g.
        ``active_units``, ``share_outside_stronghold``, ``morans_i``). A long
        table ``ds, indicator, value`` is pivoted to that shape.
    alert_periods
        Period starts under alert, or ``ds, level`` (levels as in
        :data:`forecast.schema.ALERT_LEVELS`; rows for several units per
        period show the most urgent level). See :func:`alert_spans`.
    columns
        Indicator columns to draw, in order; default all numeric columns.
    labels
        ``column -> axis label``; default the column name with spaces.
    thresholds
        ``column -> value`` drawn as a dotted horizontal line (an alarm threshold).
    title, source, actor, period, synthetic, caption
        Labelling (see :func:`finish_figure`).

    Returns
    -------
    matplotlib.figure.Figure
        One axes per indicator sharing the time axis; one shaded span per
        merged alert period on each.
    """
    _require(indicators, ["ds"], "indicator table")
    frame = indicators.copy()
    if {"indicator", "value"} <= set(frame.columns):
        frame = frame.pivot_table(
            index="ds", columns="indicator", values="value", aggfunc="mean"
        ).reset_index()
        frame.columns.name = None
    frame["ds"] = pd.to_datetime(frame["ds"])
    frame = frame.sort_values("ds")
    if columns is None:
        columns = [
            c for c in frame.columns if c != "ds" and pd.api.types.is_numeric_dtype(frame[c])
        ]
    else:
        _require(frame, list(columns), "indicator table")
    columns = list(columns)
    if not columns:
        raise InputError("the indicator table has no numeric indicator column besides 'ds'")
    spans = alert_spans(alert_periods, _period_width(frame["ds"]))
    fig = new_figure(REPORT_WIDTH, 1.7 * len(columns) + 1.4)
    axes = _grid(fig, len(columns), 1, sharex=True)
    for i, (ax, column) in enumerate(zip(axes, columns, strict=True)):
        for span in spans.itertuples(index=False):
            ax.axvspan(
                span.start,
                span.end,
                color=ALERT_COLOURS[span.level],
                alpha=0.45,
                linewidth=0,
                zorder=0,
            )
        ax.plot(
            frame["ds"],
            frame[column],
            color=INDICATOR_COLOURS[i % len(INDICATOR_COLOURS)],
            linewidth=1.3,
        )
        if thresholds and column in thresholds:
            ax.axhline(thresholds[column], color="#444444", linestyle=":", linewidth=1.0)
        ax.set_ylabel((labels or {}).get(column, column.replace("_", " ")))
    _date_axis(axes[-1])
    if len(spans):
        present = [level for level in ALERT_LEVELS if level in set(spans["level"])]
        handles = [
            Patch(facecolor=ALERT_COLOURS[level], alpha=0.45, label=level) for level in present
        ]
        figure_legend(fig, handles, title="alert periods")
    note = "Shaded: periods under alert." if len(spans) else "No alert periods in this range."
    if thresholds:
        note += " Dotted: alarm thresholds."
    return finish_figure(
        fig,
        title or "Spread indicators",
        source=source,
        actor=actor,
        period=period or period_label(frame["ds"]),
        synthetic=synthetic,
        caption=f"{note} {caption}" if caption else note,
    )


@styled
def events_over_time(
    panel: pd.DataFrame,
    *,
    unit_ids: Sequence[str] | None = None,
    top: int = 5,
    names: Mapping[str, str] | None = None,
    title: str | None = None,
    source: str | None = None,
    actor: str | None = None,
    period: str | None = None,
    synthetic: bool = False,
    caption: str | None = None,
) -> Figure:
    """Events per period for the busiest provinces and all others together.

    Parameters
    ----------
    panel
        Long panel ``unit_id, ds, y``.
    unit_ids
        Provinces to draw one line each; default the ``top`` busiest overall.
    top
        How many provinces to draw when ``unit_ids`` is not given.
    names
        ``unit_id -> name`` for the legend.
    title, source, actor, period, synthetic, caption
        Labelling (see :func:`finish_figure`).

    Returns
    -------
    matplotlib.figure.Figure
        One axes: a line per province plus a grey line "all other provinces".
    """
    _require(panel, ["unit_id", "ds", "y"], "panel")
    wide = panel.pivot_table(index="ds", columns="unit_id", values="y", aggfunc="sum").sort_index()
    if unit_ids is None:
        unit_ids = list(wide.sum().sort_values(ascending=False, kind="stable").index[:top])
    missing = sorted(set(unit_ids) - set(wide.columns))
    if missing:
        raise ParameterError(f"units {missing} are not in the panel; choose from {sorted(wide.columns)[:10]}...")
    fig = new_figure(REPORT_WIDTH, 3.8)
    ax = fig.subplots()
    for i, unit in enumerate(unit_ids):
        style = _series_style(i)
        ax.plot(wide.index, wide[unit], color=style["color"], linewidth=1.1,
                label=(names or {}).get(unit, unit))
    others = wide.drop(columns=list(unit_ids)).sum(axis=1)
    ax.plot(wide.index, others, color="#888888", linewidth=1.0, linestyle="--", label="all other provinces")
    ax.set_ylabel("events per period")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    _date_axis(ax)
    figure_legend(fig, ax.get_lines())
    return finish_figure(
        fig,
        title or "Events per period",
        source=source,
        actor=actor,
        period=period or period_label(wide.index),
        synthetic=synthetic,
        caption=caption,
    )
