"""Maps of provinces: rates, alert levels, exceedance probabilities, imported shares.

:func:`choropleth` is the one map function; the others prepare a value per
unit and call it. Boundaries come from :func:`forecast.geo.boundaries.load_boundaries`
(user file, cached geoBoundaries download, the simplified geometry shipped
with the gazetteer, or the schematic fallback for countries without it); a map
drawn on the schematic says so on the map and in its caption, and every map
names its geometry source in the caption. Every unit is one
:class:`~matplotlib.patches.PathPatch` whose gid is its ``unit_id``, every
province name label has gid ``"label:<unit_id>"`` and sits at the unit's
``representative_point()`` (always inside it), and every stronghold arrow has
gid ``"arrow:<unit_id>"``, so figures can be checked and SVG exports styled by unit.

Maps share the style and labelling of :mod:`forecast.viz.plots`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize, PowerNorm
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Patch, PathPatch
from matplotlib.path import Path as MplPath
from matplotlib.patheffects import withStroke
from matplotlib.ticker import PercentFormatter

from forecast.errors import InputError, ParameterError
from forecast.geo.boundaries import SCHEMATIC, SCHEMATIC_NOTE, default_boundaries
from forecast.schema import ALERT_LEVELS
from forecast.viz.plots import (
    ALERT_COLOURS,
    OKABE_ITO,
    finish_figure,
    new_figure,
    period_label,
    styled,
)

if TYPE_CHECKING:
    import geopandas as gpd
    from matplotlib.axes import Axes

    from forecast.geo.gazetteer import Gazetteer
    from forecast.models.frame import ForecastFrame

__all__ = [
    "alert_level_map",
    "choropleth",
    "events_per_100k_map",
    "exceedance_map",
    "imported_share_map",
]

#: Fill of units with no value.
NO_DATA_COLOUR = "#F2F2F2"
#: Sequential ColorBrewer maps, readable with colour-vision deficiencies and in grey.
RATE_CMAP = "YlOrBr"
PROBABILITY_CMAP = "YlGnBu"
SHARE_CMAP = "Purples"
MAP_WIDTH, MAP_HEIGHT = 7.5, 5.6
#: Maps show at 1.4 times the charts' resolution (about 1,050 px wide), so province labels are legible at 1280 px.
MAP_DPI = 140


# ---------------------------------------------------------------------------- geometry


def _ring_path(coords: np.ndarray) -> tuple[np.ndarray, list[int]]:
    codes = [MplPath.MOVETO] + [MplPath.LINETO] * (len(coords) - 2) + [MplPath.CLOSEPOLY]
    return np.asarray(coords)[:, :2], codes


def geometry_path(geometry: Any) -> MplPath:
    """One matplotlib path for a (multi)polygon, holes included.

    Exteriors are oriented counter-clockwise and holes clockwise so the
    non-zero fill rule leaves the holes empty.
    """
    import shapely
    from shapely.geometry.polygon import orient

    vertices: list[np.ndarray] = []
    codes: list[int] = []
    for part in shapely.get_parts(geometry):
        if part.geom_type != "Polygon" or part.is_empty:
            continue  # points and lines left over from make_valid have no area to fill
        part = orient(part, sign=1.0)
        for ring in [part.exterior, *part.interiors]:
            ring_vertices, ring_codes = _ring_path(np.asarray(ring.coords))
            vertices.append(ring_vertices)
            codes.extend(ring_codes)
    if not vertices:
        return MplPath(np.zeros((0, 2)))
    return MplPath(np.concatenate(vertices), codes)


def _polygons_only(geometry: Any) -> Any:
    """Drop non-areal parts (GeometryCollections from make_valid)."""
    import shapely

    parts = [p for p in shapely.get_parts(geometry) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else geometry


# ---------------------------------------------------------------------------- core


def _boundaries_or_schematic(
    boundaries: gpd.GeoDataFrame | None, gazetteer: Gazetteer | None
) -> gpd.GeoDataFrame:
    if boundaries is not None:
        if "unit_id" not in boundaries.columns:
            if gazetteer is None:
                raise ParameterError(
                    "boundaries have no 'unit_id' column; load them with "
                    "forecast.geo.boundaries.load_boundaries, or pass gazetteer= to match names"
                )
            matched = gazetteer.match_boundaries(boundaries)
            matched.attrs.update(boundaries.attrs)
            return matched
        return boundaries
    if gazetteer is None:
        raise ParameterError(
            "a map needs boundaries= (from forecast.geo.boundaries.load_boundaries) or gazetteer= "
            "(to draw the shipped geometry or the schematic layout)"
        )
    return default_boundaries(gazetteer)


def _names(gazetteer: Gazetteer | None) -> dict[str, str]:
    if gazetteer is None:
        return {}
    return dict(zip(gazetteer.units["unit_id"], gazetteer.units["name"], strict=True))


def _anchor_points(shapes: gpd.GeoDataFrame) -> pd.DataFrame:
    """A point inside each unit (label and arrow anchor): ``unit_id, x, y``."""
    points = shapes.geometry.representative_point()
    return pd.DataFrame(
        {
            "unit_id": shapes["unit_id"].to_numpy(),
            "x": points.x.to_numpy(),
            "y": points.y.to_numpy(),
        }
    )


def _callouts(ax: Axes, shapes: gpd.GeoDataFrame, texts: Mapping[str, str]) -> None:
    """Write ``texts[unit]`` in a column right of the map, each with a leader line to its unit.

    Small neighbouring provinces (Kabul, Kapisa, Laghman) cannot hold a
    second line each without the labels piling up; in a column, ordered as
    the units lie north to south and spaced, none overlaps and each line ends
    inside its own cell.
    """
    if not texts:
        return
    anchors = _anchor_points(shapes).set_index("unit_id").loc[[u for u in texts if u in set(shapes["unit_id"])]]
    if anchors.empty:
        return
    x0, y0, x1, y1 = shapes.total_bounds
    width, height = x1 - x0, y1 - y0
    column_x = x1 + 0.06 * width
    order = anchors.sort_values("y", ascending=False)
    gap = height / max(len(order) + 1, 8)  # at least this far apart vertically
    wanted = order["y"].to_numpy()
    placed: list[float] = []
    for y in wanted:  # top to bottom: as near the unit's own height as the spacing allows
        placed.append(min(y, placed[-1] - gap) if placed else min(y, y1))
    shift = max(0.0, y0 - placed[-1])  # keep the column inside the map's height
    placed = [p + shift for p in placed]
    for (unit, row), y_text in zip(order.iterrows(), placed, strict=True):
        ax.annotate(
            texts[unit], xy=(row["x"], row["y"]), xytext=(column_x, y_text),
            fontsize=6.5, fontweight="bold", ha="left", va="center", color="#222222", zorder=6,
            annotation_clip=False, gid=f"callout:{unit}", parse_math=False,
            arrowprops={"arrowstyle": "-", "linewidth": 0.6, "color": "#444444", "shrinkA": 1, "shrinkB": 0},
        )
    ax.set_xlim(x0 - 0.02 * width, x1 + 0.42 * width)


def _label_units(
    ax: Axes, shapes: gpd.GeoDataFrame, names: Mapping[str, str], extra: Mapping[str, str] | None = None
) -> None:
    """Write each unit's name (and ``extra[unit]`` on a second line) inside its shape.

    ``representative_point()`` is always inside the polygon, unlike the
    centroid of a concave province. Names come from data: never mathtext.
    """
    for row in _anchor_points(shapes).itertuples(index=False):
        text = str(names.get(row.unit_id, row.unit_id))
        more = (extra or {}).get(row.unit_id)
        ax.text(
            row.x,
            row.y,
            f"{text}\n{more}" if more else text,
            fontsize=6 if more else 5,
            fontweight="bold" if more else "normal",
            ha="center",
            va="center",
            linespacing=1.0,
            color="#222222",
            zorder=5,
            gid=f"label:{row.unit_id}",
            parse_math=False,
            # A thin white halo keeps names legible on dark fills and hatched strongholds.
            path_effects=[withStroke(linewidth=1.8, foreground="white", alpha=0.85)],
            bbox=(
                {"boxstyle": "round,pad=0.15", "facecolor": "white", "alpha": 0.75, "linewidth": 0}
                if more
                else None
            ),
        )


def _map_axes(
    values: pd.Series,
    boundaries: gpd.GeoDataFrame | None,
    *,
    gazetteer: Gazetteer | None,
    categories: Mapping[str, str] | None,
    cmap: str,
    vmin: float | None,
    vmax: float | None,
    scale: str,
    legend_title: str,
    percent: bool,
    events: pd.DataFrame | None,
    label_units: bool,
    highlight: Sequence[str] = (),
    highlight_label: str = "",
) -> tuple[Figure, Axes, gpd.GeoDataFrame, list[str]]:
    """Draw the units coloured by ``values``; return the figure, axes, shapes and caption notes."""
    shapes = _boundaries_or_schematic(boundaries, gazetteer)
    kind = shapes.attrs.get("boundary_kind")
    boundary_source = shapes.attrs.get("boundary_source")
    if shapes.crs is not None and shapes.crs.to_epsg() != 4326:
        shapes = shapes.to_crs(4326)
    if shapes["unit_id"].duplicated().any():
        shapes = shapes.dissolve(by="unit_id", as_index=False)
    shapes = shapes.sort_values("unit_id").reset_index(drop=True)

    values = pd.Series(values)
    if values.index.duplicated().any():
        dupes = sorted(values.index[values.index.duplicated()].unique())[:10]
        raise InputError(
            f"map values have more than one value for units {dupes}; give one per unit_id"
        )
    notes: list[str] = []
    orphan = sorted(set(values.dropna().index) - set(shapes["unit_id"]))
    if orphan:
        notes.append(
            f"{len(orphan)} unit(s) with values but no boundary not drawn: {', '.join(map(str, orphan[:5]))}."
        )

    fig = new_figure(MAP_WIDTH, MAP_HEIGHT, dpi=MAP_DPI)
    ax = fig.subplots()
    highlight = set(highlight)
    mapped = shapes["unit_id"].map(values)
    any_missing = False
    if categories is not None:
        unknown = sorted(set(values.dropna().astype(str)) - set(categories))
        if unknown:
            raise InputError(
                f"map categories {unknown} are not among {list(categories)}", column="level"
            )
        colour_of = {
            unit: categories[str(v)]
            for unit, v in zip(shapes["unit_id"], mapped, strict=True)
            if pd.notna(v)
        }
        mappable = None
    else:
        numeric = pd.to_numeric(mapped, errors="coerce")
        finite = numeric[np.isfinite(numeric)]
        low = vmin if vmin is not None else (float(finite.min()) if len(finite) else 0.0)
        high = vmax if vmax is not None else (float(finite.max()) if len(finite) else 1.0)
        high = high if high > low else low + 1.0
        if scale not in ("linear", "sqrt"):
            raise ParameterError(f"colour scale '{scale}' is not supported; use 'linear' or 'sqrt'")
        # sqrt spreads the colours when one unit (the stronghold) dwarfs the rest.
        norm = (
            PowerNorm(0.5, vmin=low, vmax=high)
            if scale == "sqrt"
            else Normalize(vmin=low, vmax=high)
        )
        colormap = colormaps[cmap]
        colour_of = {
            unit: colormap(norm(v))
            for unit, v in zip(shapes["unit_id"], numeric, strict=True)
            if np.isfinite(v)
        }
        mappable = ScalarMappable(norm=norm, cmap=colormap)

    for unit, geometry in zip(shapes["unit_id"], shapes.geometry, strict=True):
        in_highlight = unit in highlight
        colour = colour_of.get(unit)
        if colour is None and not in_highlight:
            any_missing = True
        patch = PathPatch(
            geometry_path(_polygons_only(geometry)),
            facecolor=colour if colour is not None else NO_DATA_COLOUR,
            edgecolor=OKABE_ITO["black"] if in_highlight else "#555555",
            linewidth=1.6 if in_highlight else 0.5,
            hatch="////" if in_highlight else None,
            gid=str(unit),
            zorder=1 if not in_highlight else 2,
        )
        # add_artist, not add_patch: add_patch walks every Bezier segment to update the
        # limits (seconds for real borders); the shapes' bounds give the limits at once.
        patch.set_in_layout(False)
        ax.add_artist(patch)
    west, south, east, north = shapes.total_bounds
    ax.update_datalim([(west, south), (east, north)])
    ax.margins(0.02)
    ax.autoscale_view()
    # Degrees of longitude shrink with latitude: this keeps shapes true near the map's centre.
    mid_lat = float(np.mean(ax.get_ylim()))
    ax.set_aspect(1 / np.cos(np.deg2rad(mid_lat)))
    ax.set_axis_off()

    handles: list[Any] = []
    if categories is not None:
        handles.extend(
            Patch(facecolor=c, edgecolor="#555555", label=label) for label, c in categories.items()
        )
    else:
        colorbar = fig.colorbar(mappable, ax=ax, shrink=0.7, label=legend_title)
        if percent:
            colorbar.formatter = PercentFormatter(1.0)
            colorbar.update_ticks()
    if highlight:
        handles.append(
            Patch(
                facecolor="white", edgecolor=OKABE_ITO["black"], hatch="////", label=highlight_label
            )
        )
    if any_missing:
        handles.append(Patch(facecolor=NO_DATA_COLOUR, edgecolor="#555555", label="no data"))

    if events is not None:
        missing = [c for c in ("latitude", "longitude") if c not in events.columns]
        if missing:
            raise InputError(f"event points need columns {missing}", column=missing[0])
        located = events.dropna(subset=["latitude", "longitude"])
        ax.scatter(
            located["longitude"],
            located["latitude"],
            s=3,
            color=OKABE_ITO["black"],
            alpha=0.45,
            linewidths=0,
            zorder=4,
            label=f"events ({len(located):,})",
        )
        handles.append(ax.collections[-1])
        if kind == SCHEMATIC:
            notes.append(
                "Event points are at their true coordinates; the schematic cells are not borders."
            )

    if handles:
        title = legend_title if categories is not None else None
        ax.legend(handles=handles, title=title, loc="lower right", fontsize=7.5, title_fontsize=8)

    if label_units:
        _label_units(ax, shapes, _names(gazetteer))

    if kind == SCHEMATIC:
        ax.text(
            0.5,
            1.0,
            SCHEMATIC_NOTE,
            transform=ax.transAxes,
            ha="center",
            va="bottom",
            fontsize=8,
            fontstyle="italic",
            color="#7A1F00",
            gid="schematic-note",
            bbox={
                "boxstyle": "round,pad=0.3",
                "facecolor": "#FFF6E5",
                "edgecolor": "#D55E00",
                "linewidth": 0.8,
            },
        )
        notes.insert(0, f"{SCHEMATIC_NOTE} (no boundary file was available).")
    elif boundary_source:
        notes.insert(0, f"{str(boundary_source)[0].upper()}{str(boundary_source)[1:]}.")
    return fig, ax, shapes, notes


def _join(notes: list[str], caption: str | None) -> str:
    return " ".join([*notes, caption] if caption else notes)


@styled
def choropleth(
    values: pd.Series,
    boundaries: gpd.GeoDataFrame | None = None,
    *,
    gazetteer: Gazetteer | None = None,
    categories: Mapping[str, str] | None = None,
    cmap: str = RATE_CMAP,
    vmin: float | None = None,
    vmax: float | None = None,
    scale: str = "linear",
    legend_title: str = "",
    percent: bool = False,
    stronghold: Sequence[str] = (),
    events: pd.DataFrame | None = None,
    label_units: bool = True,
    title: str = "",
    source: str | None = None,
    actor: str | None = None,
    period: str | None = None,
    synthetic: bool = False,
    caption: str | None = None,
) -> Figure:
    """Colour each unit by its value: the one map function the others build on.

    Parameters
    ----------
    values
        One value per unit, indexed by ``unit_id``: numbers (colour scale with
        a colorbar) or, with ``categories``, category labels. Units with no
        value are drawn light grey and listed as "no data".
    boundaries
        ``unit_id, geometry`` from :func:`forecast.geo.boundaries.load_boundaries`
        (or any frame with a name column when ``gazetteer`` is given). ``None``
        draws the schematic layout from ``gazetteer``.
    gazetteer
        Names for labels; matches and builds boundaries when needed.
    categories
        ``label -> colour`` in legend order, for categorical values.
    cmap, vmin, vmax
        Colour scale for numbers (default: the data's range).
    scale
        ``"linear"``, or ``"sqrt"`` to tell small values apart when one unit
        dwarfs the rest.
    legend_title
        Colorbar label, or legend title for categories.
    percent
        Label the colorbar in per cent (values are fractions).
    stronghold
        Unit ids drawn hatched with a heavy outline and listed as "stronghold".
    events
        Optional event points: ``latitude, longitude`` (the canonical event table works).
    label_units
        Write each unit's name inside its shape (default; ``False`` for a bare map).
    title, source, actor, period, synthetic, caption
        Labelling (see :func:`forecast.viz.plots.finish_figure`).

    Returns
    -------
    matplotlib.figure.Figure
        The map axes (one patch per unit, gid = ``unit_id``) and, for
        numbers, a colorbar axes.
    """
    fig, _ax, _shapes, notes = _map_axes(
        values,
        boundaries,
        gazetteer=gazetteer,
        categories=categories,
        cmap=cmap,
        vmin=vmin,
        vmax=vmax,
        scale=scale,
        legend_title=legend_title,
        percent=percent,
        events=events,
        label_units=label_units,
        highlight=stronghold,
        highlight_label="stronghold",
    )
    return finish_figure(
        fig,
        title,
        source=source,
        actor=actor,
        period=period,
        synthetic=synthetic,
        caption=_join(notes, caption),
    )


# ---------------------------------------------------------------------------- wrappers


def event_counts(events_or_counts: pd.Series | pd.DataFrame) -> tuple[pd.Series, str]:
    """Events per unit from counts, a panel or an event table; and the period they cover.

    Accepts a Series of counts indexed by ``unit_id``; a panel ``unit_id, ds, y``
    (summed over ``ds``); or the canonical event table (one row per event,
    unit in ``admin1_code``, dated by ``date``).
    """
    if isinstance(events_or_counts, pd.Series):
        return events_or_counts.astype(float), ""
    frame = events_or_counts
    if {"unit_id", "y"} <= set(frame.columns):
        counts = frame.groupby("unit_id")["y"].sum().astype(float)
        return counts, period_label(frame["ds"]) if "ds" in frame.columns else ""
    if "admin1_code" in frame.columns:
        counts = frame["admin1_code"].dropna().value_counts().astype(float)
        return counts, period_label(frame["date"]) if "date" in frame.columns else ""
    raise InputError(
        "events_or_counts must be counts indexed by unit_id, a panel (unit_id, ds, y) or an event "
        f"table (admin1_code, date); it has columns {list(frame.columns)}"
    )


@styled
def _population_source(gazetteer: Gazetteer) -> str:
    # A gazetteer built at run time (or by hand) may not say where its figures come from.
    return str(getattr(gazetteer, "population_source", "the gazetteer's table"))


def events_per_100k_map(
    events_or_counts: pd.Series | pd.DataFrame,
    gazetteer: Gazetteer,
    boundaries: gpd.GeoDataFrame | None = None,
    *,
    events: pd.DataFrame | None = None,
    label_units: bool = True,
    title: str | None = None,
    source: str | None = None,
    actor: str | None = None,
    period: str | None = None,
    synthetic: bool = False,
    caption: str | None = None,
) -> Figure:
    """Events per 100,000 people per province (2021 population from the gazetteer).

    Parameters
    ----------
    events_or_counts
        Counts indexed by ``unit_id``, a panel ``unit_id, ds, y``, or the
        canonical event table (``admin1_code``, ``date``); see :func:`event_counts`.
    gazetteer
        Population (``units.population``) and names; every unit is drawn,
        units without events at rate 0.
    boundaries
        As in :func:`choropleth` (``None``: schematic).
    events
        Optional event points overlay (``latitude, longitude``).
    label_units, title, source, actor, period, synthetic, caption
        As in :func:`choropleth`; ``period`` defaults to the dates of the data.

    Returns
    -------
    matplotlib.figure.Figure
    """
    counts, data_period = event_counts(events_or_counts)
    population = gazetteer.units.set_index("unit_id")["population"].astype(float)
    unknown = sorted(set(counts.index) - set(population.index))
    if unknown:
        raise InputError(
            f"event counts for units not in the gazetteer: {unknown[:10]}; resolve names first"
        )
    counts = counts.reindex(population.index, fill_value=0.0)
    rate = (counts / population.where(population > 0) * 1e5).rename("events_per_100k")
    total = int(counts.sum())
    return choropleth(
        rate,
        boundaries,
        gazetteer=gazetteer,
        cmap=RATE_CMAP,
        vmin=0.0,
        scale="sqrt",
        legend_title="events per 100,000 people (square-root scale)",
        events=events,
        label_units=label_units,
        title=title or "Events per 100,000 people by province",
        source=source,
        actor=actor,
        period=period or data_period,
        synthetic=synthetic,
        caption=_join([f"{total:,} events; population: {_population_source(gazetteer)}."], caption),
    )


@styled
def alert_level_map(
    alerts: pd.DataFrame,
    boundaries: gpd.GeoDataFrame | None = None,
    *,
    stronghold: Sequence[str] = (),
    gazetteer: Gazetteer | None = None,
    events: pd.DataFrame | None = None,
    label_units: bool = True,
    title: str | None = None,
    source: str | None = None,
    actor: str | None = None,
    period: str | None = None,
    synthetic: bool = False,
    caption: str | None = None,
) -> Figure:
    """Alert level per province: none, watch, warning, alert.

    Parameters
    ----------
    alerts
        The alarm table: ``unit_id, level`` with levels from
        :data:`forecast.schema.ALERT_LEVELS`; optional ``ds`` (the latest
        period is drawn when several are present). ``WarningResult.units``
        and ``AlarmHistory.series()`` of :mod:`forecast.alarms` fit.
    stronghold
        Stronghold unit ids, hatched (the warning rules give them no level).
    boundaries, gazetteer, events, label_units, title, source, actor, period, synthetic, caption
        As in :func:`choropleth`.

    Returns
    -------
    matplotlib.figure.Figure
        The legend always lists all four levels, so the scale is readable
        even when every unit is calm.
    """
    missing = [c for c in ("unit_id", "level") if c not in alerts.columns]
    if missing:
        raise InputError(f"alert table lacks column(s) {missing}", column=missing[0])
    table = alerts
    when = None
    if "ds" in table.columns and table["ds"].nunique() > 1:
        when = pd.to_datetime(table["ds"]).max()
        table = table.loc[pd.to_datetime(table["ds"]) == when]
    elif "ds" in table.columns and len(table):
        when = pd.to_datetime(table["ds"]).iloc[0]
    levels = table.set_index("unit_id")["level"].astype(str)
    counts = levels.value_counts()
    tally = ", ".join(f"{counts.get(level, 0)} {level}" for level in reversed(ALERT_LEVELS))
    return choropleth(
        levels,
        boundaries,
        gazetteer=gazetteer,
        categories={level: ALERT_COLOURS[level] for level in ALERT_LEVELS},
        legend_title="alert level",
        stronghold=stronghold,
        events=events,
        label_units=label_units,
        title=title
        or "Alert level by province" + (f", {when:%Y-%m-%d}" if when is not None else ""),
        source=source,
        actor=actor,
        period=period,
        synthetic=synthetic,
        caption=_join([f"Provinces: {tally}."], caption),
    )


def _exceedance_values(
    forecast: ForecastFrame | pd.DataFrame, k: int, step: int | None, model: str | None
) -> tuple[pd.Series, pd.Timestamp | None, int]:
    column = f"p_ge_{int(k)}"
    if isinstance(forecast, pd.DataFrame):
        summary = forecast
    else:
        summary = forecast.summary(levels=(0.5,), exceed=(k,))
    missing = [c for c in ("unit_id", column) if c not in summary.columns]
    if missing:
        raise InputError(
            f"forecast summary lacks column(s) {missing}; call ForecastFrame.summary(exceed=({k},))",
            column=missing[0],
        )
    if "model" in summary.columns:
        models = list(dict.fromkeys(summary["model"]))
        if model is None and len(models) > 1:
            raise ParameterError(f"the forecast holds models {models}; pass model= one of them")
        if model is not None:
            summary = summary.loc[summary["model"] == model]
    chosen = step
    if "step" in summary.columns:
        chosen = int(summary["step"].min()) if step is None else int(step)
        summary = summary.loc[summary["step"] == chosen]
    if summary.empty:
        raise ParameterError(
            f"no forecasts at step {step}{'' if model is None else f' for model {model}'}"
        )
    when = pd.to_datetime(summary["ds"]).iloc[0] if "ds" in summary.columns else None
    return summary.set_index("unit_id")[column].astype(float), when, chosen or 1


@styled
def exceedance_map(
    forecast: ForecastFrame | pd.DataFrame,
    boundaries: gpd.GeoDataFrame | None = None,
    *,
    k: int = 1,
    step: int | None = None,
    model: str | None = None,
    gazetteer: Gazetteer | None = None,
    events: pd.DataFrame | None = None,
    label_units: bool = True,
    title: str | None = None,
    source: str | None = None,
    actor: str | None = None,
    period: str | None = None,
    synthetic: bool = False,
    caption: str | None = None,
) -> Figure:
    """Probability of at least ``k`` events per province in the next period.

    Parameters
    ----------
    forecast
        A :class:`~forecast.models.frame.ForecastFrame` or its summary with
        ``unit_id, p_ge_<k>`` (and ``step, ds, model`` when present).
    boundaries
        As in :func:`choropleth`.
    k
        Threshold count: ``P(Y >= k)``.
    step
        Horizon drawn; default the first (the next period).
    model
        Which model, when the forecast holds several.
    gazetteer, events, label_units, title, source, actor, period, synthetic, caption
        As in :func:`choropleth`.

    Returns
    -------
    matplotlib.figure.Figure
        Colour scale fixed to 0-100 %, so maps of different weeks compare.
    """
    values, when, chosen = _exceedance_values(forecast, k, step, model)
    target = f"{when:%Y-%m-%d}" if when is not None else f"step {chosen}"
    label = f"P(at least {k} event{'s' if k != 1 else ''})"
    return choropleth(
        values,
        boundaries,
        gazetteer=gazetteer,
        cmap=PROBABILITY_CMAP,
        vmin=0.0,
        vmax=1.0,
        percent=True,
        legend_title=label,
        events=events,
        label_units=label_units,
        title=title or f"{label} in the period of {target}",
        source=source,
        actor=actor,
        period=period or (f"forecast for {target}, {chosen} period(s) ahead"),
        synthetic=synthetic,
        caption=caption,
    )


@styled
def imported_share_map(
    shares: pd.DataFrame,
    stronghold: Sequence[str],
    boundaries: gpd.GeoDataFrame | None = None,
    *,
    gazetteer: Gazetteer | None = None,
    events: pd.DataFrame | None = None,
    min_share: float = 0.01,
    label_top: int = 5,
    title: str | None = None,
    source: str | None = None,
    actor: str | None = None,
    period: str | None = None,
    synthetic: bool = False,
    caption: str | None = None,
) -> Figure:
    """Share of each province's events imported from the stronghold, with arrows.

    Parameters
    ----------
    shares
        ``unit_id, share`` (fraction in [0, 1] of the unit's expected events
        attributed to spread from the stronghold), optionally ``share_lo,
        share_hi`` (an interval, printed for the labelled units).
    stronghold
        Unit ids of the stronghold; hatched on the map, arrows start at the
        centroid of their union.
    boundaries, gazetteer, events
        As in :func:`choropleth`.
    min_share
        Draw arrows to units whose share is at least this (model output gives
        every unit some tiny share; 1 % keeps the map readable).
    label_top
        Print the share (and interval) under the name of this many receiving units
        with the largest share; every province is named inside its shape.
    title, source, actor, period, synthetic, caption
        Labelling (see :func:`forecast.viz.plots.finish_figure`).

    Returns
    -------
    matplotlib.figure.Figure
        One arrow (gid ``"arrow:<unit_id>"``, width by share) per receiving
        unit with a share of at least ``min_share`` (and above zero).
    """
    missing = [c for c in ("unit_id", "share") if c not in shares.columns]
    if missing:
        raise InputError(f"share table lacks column(s) {missing}", column=missing[0])
    stronghold = list(dict.fromkeys(stronghold))
    if not stronghold:
        raise ParameterError("stronghold is empty; pass the stronghold's unit ids")
    table = shares.set_index("unit_id")
    share = pd.to_numeric(table["share"], errors="coerce")
    if ((share < 0) | (share > 1)).any():
        raise InputError("shares must be fractions in [0, 1]", column="share")
    receiving = share.drop(index=[u for u in stronghold if u in share.index])

    fig, ax, shapes, notes = _map_axes(
        receiving,
        boundaries,
        gazetteer=gazetteer,
        categories=None,
        cmap=SHARE_CMAP,
        vmin=0.0,
        vmax=1.0,
        scale="linear",
        legend_title="share of events imported from the stronghold",
        percent=True,
        events=events,
        label_units=False,
        highlight=stronghold,
        highlight_label="stronghold",
    )
    unknown = [u for u in stronghold if u not in set(shapes["unit_id"])]
    if unknown:
        raise ParameterError(f"stronghold units {unknown} have no boundary; check the unit ids")
    centre = _polygons_only(shapes.loc[shapes["unit_id"].isin(stronghold)].geometry.union_all())
    origin = centre.centroid if centre.contains(centre.centroid) else centre.representative_point()
    anchors = _anchor_points(shapes).set_index("unit_id")
    names = _names(gazetteer)
    shown = (receiving > 0) & (receiving >= min_share) & receiving.index.isin(anchors.index)
    targets = receiving[shown].sort_values(ascending=False)
    for unit, value in targets.items():
        end = anchors.loc[unit]
        ax.add_patch(
            FancyArrowPatch(
                (origin.x, origin.y),
                (end["x"], end["y"]),
                arrowstyle="-|>",
                mutation_scale=6 + 8 * value,
                connectionstyle="arc3,rad=0.15",
                linewidth=0.4 + 4.0 * value,
                color=OKABE_ITO["black"],
                alpha=0.75,
                shrinkA=0,
                shrinkB=2,
                zorder=3,
                gid=f"arrow:{unit}",
            )
        )
    # Every province is named inside its own shape; the ``label_top`` largest
    # importers also get their share there, on the cell the arrow points at.
    shares_text: dict[str, str] = {}
    for unit, value in targets.head(label_top).items():
        text = f"{value:.0%}"
        if {"share_lo", "share_hi"} <= set(table.columns):
            low, high = table.loc[unit, "share_lo"], table.loc[unit, "share_hi"]
            if pd.notna(low) and pd.notna(high):
                text += f" ({low:.0%}–{high:.0%})"
        shares_text[str(unit)] = text
    _label_units(ax, shapes, names)
    _callouts(ax, shapes, {u: f"{names.get(u, u)}: {t}" for u, t in shares_text.items()})
    ax.plot(
        [origin.x],
        [origin.y],
        marker="*",
        markersize=11,
        color=OKABE_ITO["vermillion"],
        markeredgecolor="black",
        linestyle="",
        zorder=6,
    )
    stronghold_names = ", ".join(names.get(u, u) for u in stronghold)
    note = (
        f"Arrows run from the stronghold ({stronghold_names}) to the {len(targets)} province(s) "
        f"importing at least {min_share:.0%} of their events; width grows with the share."
    )
    if {"share_lo", "share_hi"} <= set(table.columns):
        note += " Labels give the share and its interval."
    return finish_figure(
        fig,
        title or "Share of events imported from the stronghold",
        source=source,
        actor=actor,
        period=period,
        synthetic=synthetic,
        caption=_join([*notes, note], caption),
    )
