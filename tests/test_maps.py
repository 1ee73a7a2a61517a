"""Maps: real boundaries and the schematic fallback; one patch per province, arrows, legends."""

from __future__ import annotations

import io
from pathlib import Path

import geopandas as gpd
import matplotlib as mpl
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

from forecast.errors import InputError, ParameterError
from forecast.geo.boundaries import SCHEMATIC_NOTE, load_boundaries, schematic_boundaries
from forecast.geo.gazetteer import Gazetteer
from forecast.models.frame import ForecastFrame
from forecast.viz import maps
from forecast.viz.plots import ALERT_COLOURS

LABELS = {"source": "forecast.data.synthetic", "actor": "IS-K (synthetic)", "synthetic": True}


def render(fig: Figure) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=40)
    assert buffer.getvalue().startswith(b"\x89PNG")


def unit_patches(fig: Figure, gaz: Gazetteer) -> dict[str, mpl.patches.Patch]:
    units = set(gaz.unit_ids)
    return {p.get_gid(): p for p in fig.axes[0].patches if p.get_gid() in units}


def arrows(fig: Figure) -> list[str]:
    return sorted(
        p.get_gid()[len("arrow:") :]
        for p in fig.axes[0].patches
        if str(p.get_gid()).startswith("arrow:")
    )


def caption(fig: Figure) -> str:
    (text,) = [t.get_text() for t in fig.texts if t.get_gid() == "caption"]
    return " ".join(text.split())


def schematic_note(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.axes[0].texts if t.get_gid() == "schematic-note"]


def colorbar_axes(fig: Figure) -> list[mpl.axes.Axes]:
    return [ax for ax in fig.axes if ax is not fig.axes[0]]


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return Gazetteer.load("AFG")


@pytest.fixture(scope="module")
def schematic(gaz: Gazetteer) -> gpd.GeoDataFrame:
    return schematic_boundaries(gaz)


@pytest.fixture(scope="module")
def real(gaz: Gazetteer, shared_data: Path) -> gpd.GeoDataFrame:
    frame, kind = load_boundaries(
        "AFG", path=shared_data / "afghanistan" / "provinces_adm1.geojson", gazetteer=gaz
    )
    assert kind == "user"
    return frame


@pytest.fixture(params=["real", "schematic"])
def boundaries(request: pytest.FixtureRequest) -> gpd.GeoDataFrame:
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="module")
def values(gaz: Gazetteer) -> pd.Series:
    return pd.Series(np.linspace(0, 10, 34), index=gaz.unit_ids)


# ---------------------------------------------------------------------------- choropleth


def test_choropleth_draws_34_provinces_with_a_colorbar(
    boundaries: gpd.GeoDataFrame, gaz: Gazetteer, values: pd.Series
) -> None:
    fig = maps.choropleth(
        values, boundaries, gazetteer=gaz, legend_title="things", title="Things", **LABELS
    )
    render(fig)
    patches = unit_patches(fig, gaz)
    assert len(patches) == 34
    (bar,) = colorbar_axes(fig)
    assert bar.get_ylabel() == "things"
    # Colours follow the values: the highest unit is the darkest.
    cmap, norm = mpl.colormaps[maps.RATE_CMAP], mpl.colors.Normalize(0, 10)
    for unit in ("AF-BAL", "AF-ZAB"):
        assert patches[unit].get_facecolor() == pytest.approx(to_rgba(cmap(norm(values[unit]))))
    assert fig._suptitle.get_text() == "Things (SYNTHETIC)"
    text = caption(fig)
    assert text.startswith("SYNTHETIC data") and "Source: forecast.data.synthetic." in text


def test_schematic_maps_say_so_and_real_ones_do_not(
    real: gpd.GeoDataFrame, schematic: gpd.GeoDataFrame, gaz: Gazetteer, values: pd.Series
) -> None:
    on_schematic = maps.choropleth(values, schematic, gazetteer=gaz)
    assert schematic_note(on_schematic) == [SCHEMATIC_NOTE]
    assert "not real boundaries" in caption(on_schematic)

    on_real = maps.choropleth(values, real, gazetteer=gaz)
    assert schematic_note(on_real) == []
    assert "not real boundaries" not in caption(on_real)
    assert "provinces_adm1.geojson" in caption(on_real)


def test_choropleth_without_boundaries_draws_the_shipped_geometry(
    gaz: Gazetteer, values: pd.Series
) -> None:
    fig = maps.choropleth(values, gazetteer=gaz)
    assert len(unit_patches(fig, gaz)) == 34
    assert schematic_note(fig) == []
    assert "geoBoundaries ADM1 (public domain), simplified" in caption(fig)
    with pytest.raises(ParameterError, match="boundaries= .* or gazetteer="):
        maps.choropleth(values)


def unit_labels(fig: Figure) -> dict[str, tuple[str, float, float]]:
    return {
        str(t.get_gid())[len("label:") :]: (t.get_text(), *t.get_position())
        for t in fig.axes[0].texts
        if str(t.get_gid()).startswith("label:")
    }


def assert_labels_inside(fig: Figure, shapes: gpd.GeoDataFrame, gaz: Gazetteer) -> None:
    import shapely

    labels = unit_labels(fig)
    assert sorted(labels) == sorted(gaz.unit_ids)
    geometry = shapes.set_index("unit_id").geometry
    for unit, (text, x, y) in labels.items():
        assert text.splitlines()[0] == gaz.name_of(unit)
        assert geometry[unit].contains(shapely.Point(x, y)), unit


def test_offline_report_map_draws_real_afghanistan_with_34_labels_inside_their_provinces(
    tmp_path: Path, gaz: Gazetteer
) -> None:
    # What a report gets offline with nothing cached: the shipped simplified geometry.
    shapes, kind = load_boundaries("AFG", raw_dir=tmp_path, gazetteer=gaz)
    assert kind == "shipped" == shapes.attrs["boundary_kind"]
    alerts = pd.DataFrame({"unit_id": gaz.unit_ids, "level": "none"})
    fig = maps.alert_level_map(alerts, shapes, gazetteer=gaz, stronghold=["AF-NAN"], **LABELS)
    render(fig)
    patches = unit_patches(fig, gaz)
    assert len(patches) == 34
    extents = np.array([p.get_path().get_extents().bounds for p in patches.values()])
    west, south = extents[:, 0].min(), extents[:, 1].min()
    east, north = (extents[:, 0] + extents[:, 2]).max(), (extents[:, 1] + extents[:, 3]).max()
    # Afghanistan spans about 60.5-74.9 E and 29.4-38.5 N; schematic cells spill a degree past it.
    assert 60.4 < west < 60.6 and 74.8 < east < 75.0
    assert 29.3 < south < 29.5 and 38.4 < north < 38.6
    assert_labels_inside(fig, shapes, gaz)
    assert all(t.get_fontsize() <= 6 for t in fig.axes[0].texts if t.get_gid() != "schematic-note")
    text = caption(fig)
    assert "Schematic" not in text and "geoBoundaries ADM1 (public domain), simplified" in text
    assert schematic_note(fig) == []


def test_spread_map_labels_sit_on_their_cells(tmp_path: Path, gaz: Gazetteer) -> None:
    shapes, _ = load_boundaries("AFG", raw_dir=tmp_path, gazetteer=gaz)
    shares = pd.DataFrame(
        {"unit_id": gaz.unit_ids, "share": np.linspace(0.0, 0.66, 34)}
    ).assign(share_lo=lambda t: t["share"] / 2, share_hi=lambda t: t["share"])
    fig = maps.imported_share_map(shares, ["AF-NAN"], shapes, gazetteer=gaz, label_top=3)
    render(fig)
    assert_labels_inside(fig, shapes, gaz)
    # The three largest receivers (the last units, AF-NAN excluded) carry their share in a
    # column beside the map, each with a leader line that ends inside its own cell.
    import shapely

    callouts = {str(t.get_gid())[len("callout:"):]: t for t in fig.axes[0].texts if str(t.get_gid()).startswith("callout:")}
    assert len(callouts) == 3 and callouts["AF-ZAB"].get_text() == "Zabul: 66% (33%–66%)"
    geometry = shapes.set_index("unit_id").geometry
    for unit, callout in callouts.items():
        assert geometry[unit].contains(shapely.Point(*callout.xy)), unit
    renderer = fig.canvas.get_renderer()
    from matplotlib.text import Text

    boxes = [Text.get_window_extent(c, renderer) for c in callouts.values()]  # the text, not its leader line
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    # None lies on the map: all are right of its eastern edge.
    east = fig.axes[0].transData.transform((shapes.total_bounds[2], 0))[0]
    assert all(box.x0 > east for box in boxes)


def test_units_without_shipped_geometry_get_the_schematic(gaz: Gazetteer, values: pd.Series) -> None:
    # A country with no shipped geometry (the AFG tables under another code stand in for one).
    other = Gazetteer(
        "TJK", gaz.units, gaz.aliases.drop(columns="key"), gaz.adjacency, gaz.points
    )
    shapes, kind = load_boundaries("TJK", raw_dir="/nonexistent", gazetteer=other)
    assert kind == "schematic"
    fig = maps.choropleth(values, gazetteer=other)
    assert schematic_note(fig) == [SCHEMATIC_NOTE]
    assert_labels_inside(fig, shapes, gaz)


def test_province_names_are_not_mathtext(gaz: Gazetteer, values: pd.Series) -> None:
    renamed = gaz.units.assign(name=lambda t: t["name"].where(t["unit_id"] != "AF-KAB", "$x^2$ Kabul"))
    odd = Gazetteer("AFG", renamed, gaz.aliases.drop(columns="key"), gaz.adjacency, gaz.points)
    fig = maps.choropleth(values, gazetteer=odd)
    render(fig)
    label = [t for t in fig.axes[0].texts if t.get_gid() == "label:AF-KAB"][0]
    assert label.get_text() == "$x^2$ Kabul" and label.get_parse_math() is False


def test_boundaries_without_unit_id_are_matched_by_name(
    gaz: Gazetteer, values: pd.Series, shared_data: Path
) -> None:
    raw = gpd.read_file(shared_data / "afghanistan" / "provinces_adm1.geojson")
    fig = maps.choropleth(values, raw, gazetteer=gaz)
    assert len(unit_patches(fig, gaz)) == 34


def test_units_without_values_are_grey_and_in_the_legend(
    schematic: gpd.GeoDataFrame, gaz: Gazetteer
) -> None:
    fig = maps.choropleth(pd.Series({"AF-NAN": 3.0, "AF-KAB": 1.0}), schematic, gazetteer=gaz)
    patches = unit_patches(fig, gaz)
    assert patches["AF-HER"].get_facecolor() == pytest.approx(to_rgba(maps.NO_DATA_COLOUR))
    legend = fig.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["no data"]


def test_event_points_overlay(
    schematic: gpd.GeoDataFrame, gaz: Gazetteer, values: pd.Series
) -> None:
    events = pd.DataFrame({"latitude": [34.4, 34.9, np.nan], "longitude": [70.5, 71.0, 70.0]})
    fig = maps.choropleth(values, schematic, gazetteer=gaz, events=events, label_units=True)
    render(fig)
    (points,) = fig.axes[0].collections
    assert len(points.get_offsets()) == 2
    assert "events (2)" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "Nangarhar" in [t.get_text() for t in fig.axes[0].texts]
    with pytest.raises(InputError, match="latitude"):
        maps.choropleth(values, schematic, events=pd.DataFrame({"lat": [1.0]}))


def test_values_must_be_one_per_unit(schematic: gpd.GeoDataFrame) -> None:
    with pytest.raises(InputError, match="AF-NAN"):
        maps.choropleth(pd.Series([1.0, 2.0], index=["AF-NAN", "AF-NAN"]), schematic)


# ---------------------------------------------------------------------------- wrappers


def test_events_per_100k_from_counts_panel_or_events(
    boundaries: gpd.GeoDataFrame, gaz: Gazetteer
) -> None:
    population = gaz.units.set_index("unit_id")["population"]
    events = pd.DataFrame(
        {
            "admin1_code": ["AF-NAN"] * 30 + ["AF-KAB"] * 10,
            "date": pd.date_range("2021-01-01", periods=40, freq="D"),
            "latitude": 34.3,
            "longitude": 70.4,
        }
    )
    fig = maps.events_per_100k_map(events, gaz, boundaries, events=events, **LABELS)
    render(fig)
    assert len(unit_patches(fig, gaz)) == 34
    (bar,) = colorbar_axes(fig)
    assert "per 100,000" in bar.get_ylabel()
    # The colour scale runs from 0 to Nangarhar's rate, the highest.
    assert bar.get_ylim() == pytest.approx((0.0, 30 / population["AF-NAN"] * 1e5))
    text = caption(fig)
    assert "Period: 2021-01-01 to 2021-02-09." in text and "40 events" in text

    panel = pd.DataFrame(
        {
            "unit_id": ["AF-NAN", "AF-NAN", "AF-KAB"],
            "ds": pd.to_datetime(["2021-01-04"] * 3),
            "y": [20, 10, 10],
        }
    )
    counts, _ = maps.event_counts(panel)
    assert counts.to_dict() == {"AF-KAB": 10.0, "AF-NAN": 30.0}
    counts, _ = maps.event_counts(events)
    assert counts.to_dict() == {"AF-NAN": 30.0, "AF-KAB": 10.0}
    with pytest.raises(InputError, match="not in the gazetteer"):
        maps.events_per_100k_map(pd.Series({"XX-YYY": 3}), gaz, boundaries)


def test_alert_level_map_uses_the_four_level_colours(
    boundaries: gpd.GeoDataFrame, gaz: Gazetteer
) -> None:
    alerts = pd.DataFrame({"unit_id": gaz.unit_ids, "level": "none"})
    alerts.loc[alerts["unit_id"] == "AF-NAN", "level"] = "alert"
    alerts.loc[alerts["unit_id"] == "AF-KNR", "level"] = "watch"
    fig = maps.alert_level_map(alerts, boundaries, gazetteer=gaz, **LABELS)
    render(fig)
    assert len(fig.axes) == 1  # categories: a legend, no colorbar
    patches = unit_patches(fig, gaz)
    assert len(patches) == 34
    assert patches["AF-NAN"].get_facecolor() == pytest.approx(to_rgba(ALERT_COLOURS["alert"]))
    assert patches["AF-KNR"].get_facecolor() == pytest.approx(to_rgba(ALERT_COLOURS["watch"]))
    assert patches["AF-HER"].get_facecolor() == pytest.approx(to_rgba(ALERT_COLOURS["none"]))
    legend = fig.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["none", "watch", "warning", "alert"]
    assert "1 alert, 0 warning, 1 watch, 32 none" in caption(fig)
    bad = alerts.assign(level="red")
    with pytest.raises(InputError, match="'red'"):
        maps.alert_level_map(bad, boundaries)


def test_alert_level_map_hatches_the_stronghold(
    schematic: gpd.GeoDataFrame, gaz: Gazetteer
) -> None:
    # The warning rules give stronghold units no level: they are hatched, not "no data".
    alerts = pd.DataFrame({"unit_id": [u for u in gaz.unit_ids if u != "AF-NAN"], "level": "none"})
    fig = maps.alert_level_map(alerts, schematic, stronghold=["AF-NAN"])
    assert unit_patches(fig, gaz)["AF-NAN"].get_hatch() == "////"
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert texts == ["none", "watch", "warning", "alert", "stronghold"]


def test_alert_level_map_draws_the_latest_period(
    schematic: gpd.GeoDataFrame, gaz: Gazetteer
) -> None:
    alerts = pd.DataFrame(
        {
            "unit_id": ["AF-NAN", "AF-NAN"],
            "ds": pd.to_datetime(["2021-10-04", "2021-10-11"]),
            "level": ["alert", "watch"],
        }
    )
    fig = maps.alert_level_map(alerts, schematic)
    assert "2021-10-11" in fig._suptitle.get_text()
    assert unit_patches(fig, gaz)["AF-NAN"].get_facecolor() == pytest.approx(
        to_rgba(ALERT_COLOURS["watch"])
    )


def test_exceedance_map_first_step_on_a_fixed_scale(
    boundaries: gpd.GeoDataFrame, gaz: Gazetteer
) -> None:
    rng = np.random.default_rng(0)
    ds = pd.to_datetime(["2021-10-04", "2021-10-11"])
    units = np.repeat(gaz.unit_ids, 2)
    rates = np.repeat(np.linspace(0.05, 4, 34), 2)
    forecast = ForecastFrame.from_draws(
        units,
        np.tile(ds, 34),
        np.tile([1, 2], 34),
        rng.poisson(rates[:, None], (68, 300)),
        model="glm",
    )
    fig = maps.exceedance_map(forecast, boundaries, gazetteer=gaz, **LABELS)
    render(fig)
    assert len(unit_patches(fig, gaz)) == 34
    assert (
        "2021-10-04" in fig._suptitle.get_text()
        and "P(at least 1 event)" in fig._suptitle.get_text()
    )
    (bar,) = colorbar_axes(fig)
    assert bar.get_ylim() == pytest.approx((0.0, 1.0))
    assert "1 period(s) ahead" in caption(fig)

    summary = forecast.summary(exceed=(1, 3))
    fig3 = maps.exceedance_map(summary, boundaries, k=3, step=2)
    assert (
        "P(at least 3 events)" in fig3._suptitle.get_text()
        and "2021-10-11" in fig3._suptitle.get_text()
    )
    with pytest.raises(InputError, match="p_ge_5"):
        maps.exceedance_map(summary, boundaries, k=5)


def test_imported_share_map_arrows_to_receiving_provinces(
    boundaries: gpd.GeoDataFrame, gaz: Gazetteer
) -> None:
    shares = pd.DataFrame({"unit_id": gaz.unit_ids, "share": 0.0})
    receiving = {"AF-KNR": 0.6, "AF-KAB": 0.3, "AF-KDZ": 0.2, "AF-KAN": 0.05}
    shares["share"] = shares["unit_id"].map(receiving).fillna(0.0)
    shares.loc[shares["unit_id"] == "AF-HER", "share"] = 1e-20  # model output: tiny, not zero
    shares.loc[shares["unit_id"] == "AF-NAN", "share"] = np.nan  # the stronghold itself
    shares["share_lo"] = shares["share"] / 2
    shares["share_hi"] = shares["share"] * 1.5
    fig = maps.imported_share_map(
        shares, ["AF-NAN"], boundaries, gazetteer=gaz, label_top=2, **LABELS
    )
    render(fig)
    assert arrows(fig) == sorted(receiving)  # one per receiving unit with a share >= 1 %
    widths = {
        p.get_gid(): p.get_linewidth()
        for p in fig.axes[0].patches
        if str(p.get_gid()).startswith("arrow:")
    }
    assert widths["arrow:AF-KNR"] > widths["arrow:AF-KAB"] > widths["arrow:AF-KAN"]
    patches = unit_patches(fig, gaz)
    assert len(patches) == 34
    assert patches["AF-NAN"].get_hatch() == "////"
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert "Kunar: 60% (30%–90%)" in labels and "Kabul: 30% (15%–45%)" in labels
    assert "Kunduz" in labels  # only the top 2 carry a share; every province is named
    assert "stronghold" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "(Nangarhar) to the 4 province(s) importing at least 1%" in caption(fig)
    every = maps.imported_share_map(shares, ["AF-NAN"], boundaries, min_share=0)
    assert arrows(every) == sorted([*receiving, "AF-HER"])  # min_share=0: every share > 0
    assert len(colorbar_axes(fig)) == 1


def test_imported_share_map_input_errors(schematic: gpd.GeoDataFrame) -> None:
    shares = pd.DataFrame({"unit_id": ["AF-KNR"], "share": [0.5]})
    with pytest.raises(ParameterError, match="stronghold is empty"):
        maps.imported_share_map(shares, [], schematic)
    with pytest.raises(ParameterError, match="XX-YYY"):
        maps.imported_share_map(shares, ["XX-YYY"], schematic)
    with pytest.raises(InputError, match="fractions"):
        maps.imported_share_map(shares.assign(share=40.0), ["AF-NAN"], schematic)
    with pytest.raises(InputError, match="'share'"):
        maps.imported_share_map(shares.drop(columns="share"), ["AF-NAN"], schematic)
