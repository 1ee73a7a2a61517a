"""Figures: each renders to PNG and shows what it claims (axes, lines, bands, labels)."""

from __future__ import annotations

import io

import matplotlib as mpl
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from forecast.errors import InputError, ParameterError
from forecast.models.frame import ForecastFrame
from forecast.viz import plots

UNITS = ["AF-NAN", "AF-KNR", "AF-KAB"]
NAMES = {"AF-NAN": "Nangarhar", "AF-KNR": "Kunar", "AF-KAB": "Kabul"}
WEEKS = pd.date_range("2021-01-04", periods=30, freq="W-MON")


def render(fig: Figure) -> bytes:
    """PNG bytes of the figure; fails if drawing fails."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=50)
    data = buffer.getvalue()
    assert data.startswith(b"\x89PNG") and len(data) > 1000
    return data


def all_text(fig: Figure) -> str:
    """Every string drawn on the figure: title, caption, axis labels, legends, titles."""
    parts = [t.get_text() for t in fig.findobj(mpl.text.Text)]
    return "\n".join(parts)


def caption(fig: Figure) -> str:
    found = [t.get_text() for t in fig.texts if t.get_gid() == "caption"]
    assert len(found) == 1
    return " ".join(found[0].split())


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "unit_id": np.repeat(UNITS, len(WEEKS)),
            "ds": np.tile(WEEKS, len(UNITS)),
            "y": rng.poisson(np.repeat([6.0, 2.0, 0.5], len(WEEKS))),
        }
    )


def make_forecast(model: str = "demo", rates: tuple[float, ...] = (6.0, 2.0, 0.5)) -> ForecastFrame:
    rng = np.random.default_rng(1)
    future = pd.date_range(WEEKS[-1], periods=5, freq="W-MON")[1:]
    unit_ids = np.repeat(UNITS, 4)
    mean = np.repeat(rates, 4)
    return ForecastFrame.from_draws(
        unit_ids,
        np.tile(future, 3),
        np.tile([1, 2, 3, 4], 3),
        rng.poisson(mean[:, None], (12, 400)),
        model=model,
    )


@pytest.fixture(scope="module")
def forecast() -> ForecastFrame:
    return make_forecast()


LABELS = {"source": "forecast.data.synthetic", "actor": "IS-K (synthetic)", "synthetic": True}


# ---------------------------------------------------------------------------- style


def test_figures_leave_no_global_state(history: pd.DataFrame, forecast: ForecastFrame) -> None:
    before = dict(mpl.rcParams)
    fig = plots.fan_chart(history, forecast, "AF-NAN")
    assert dict(mpl.rcParams) == before
    assert isinstance(fig, plots.ReportFigure)
    # Not registered with pyplot: nothing to close, nothing leaks.
    assert "matplotlib.pyplot" not in type(fig.canvas).__module__


def test_report_figure_displays_in_notebooks(
    history: pd.DataFrame, forecast: ForecastFrame
) -> None:
    fig = plots.fan_chart(history, forecast, "AF-NAN")
    assert fig._repr_png_().startswith(b"\x89PNG")


def test_data_caption_is_one_sentence_per_fact() -> None:
    text = plots.data_caption(
        source="UCDP GED 24.1", actor="IS-K", period="2020 to 2021", caption="Note."
    )
    assert text == "Source: UCDP GED 24.1. Actor: IS-K. Period: 2020 to 2021. Note."
    assert plots.data_caption() == ""


def test_alert_colours_are_distinct_and_ordered() -> None:
    assert list(plots.ALERT_COLOURS) == ["none", "watch", "warning", "alert"]
    assert len(set(plots.ALERT_COLOURS.values())) == 4
    # Urgency reads in grey too: luminance falls from watch to alert.
    lum = [
        np.dot(mpl.colors.to_rgb(plots.ALERT_COLOURS[k]), [0.299, 0.587, 0.114])
        for k in ("watch", "warning", "alert")
    ]
    assert lum == sorted(lum, reverse=True)


# ---------------------------------------------------------------------------- fans


def test_fan_chart_draws_history_median_and_two_bands(
    history: pd.DataFrame, forecast: ForecastFrame
) -> None:
    fig = plots.fan_chart(history, forecast, "AF-NAN", names=NAMES, **LABELS)
    render(fig)
    (ax,) = fig.axes
    labelled = [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert labelled == ["observed", "median forecast"]
    assert len(ax.get_lines()) == 3  # plus the dashed forecast origin
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert [b.get_label() for b in bands] == ["90 % interval", "50 % interval"]
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == [
        "observed",
        "90 % interval",
        "50 % interval",
        "median forecast",
    ]
    title = fig._suptitle.get_text()
    assert "Nangarhar (AF-NAN)" in title and "demo" in title and title.endswith("(SYNTHETIC)")
    text = caption(fig)
    assert text.startswith("SYNTHETIC data")
    assert "Source: forecast.data.synthetic." in text and "Actor: IS-K (synthetic)." in text
    assert "Period: 2021-01-04 to 2021-08-23." in text  # all 30 weeks of history, then 4 ahead


def test_fan_chart_median_continues_from_the_last_observation(
    history: pd.DataFrame, forecast: ForecastFrame
) -> None:
    fig = plots.fan_chart(history, forecast, "AF-KNR")
    median = fig.axes[0].get_lines()[1]
    last = history.loc[history["unit_id"] == "AF-KNR", "y"].iloc[-1]
    assert median.get_ydata()[0] == last
    assert len(median.get_ydata()) == 5  # anchor + 4 steps


def test_fan_chart_history_window(history: pd.DataFrame, forecast: ForecastFrame) -> None:
    fig = plots.fan_chart(history, forecast, "AF-NAN", history_periods=10)
    observed = fig.axes[0].get_lines()[0]
    assert len(observed.get_xdata()) == 10


def test_real_data_is_not_called_synthetic(history: pd.DataFrame, forecast: ForecastFrame) -> None:
    fig = plots.fan_chart(history, forecast, "AF-NAN", source="UCDP GED 24.1", actor="IS-K")
    assert "SYNTHETIC" not in all_text(fig).upper()


def test_fan_chart_accepts_a_summary_table(history: pd.DataFrame, forecast: ForecastFrame) -> None:
    summary = forecast.summary(levels=plots.FAN_LEVELS)
    a = plots.fan_chart(history, summary, "AF-NAN").axes[0].get_lines()[1].get_ydata()
    b = plots.fan_chart(history, forecast, "AF-NAN").axes[0].get_lines()[1].get_ydata()
    np.testing.assert_array_equal(a, b)


def test_fan_chart_asks_which_model_when_there_are_several(history: pd.DataFrame) -> None:
    both = ForecastFrame.concat([make_forecast("glm"), make_forecast("naive")])
    with pytest.raises(ParameterError, match=r"models \['glm', 'naive'\]; pass model="):
        plots.fan_chart(history, both, "AF-NAN")
    fig = plots.fan_chart(history, both, "AF-NAN", model="naive")
    assert "naive" in fig._suptitle.get_text()
    with pytest.raises(ParameterError, match="'ets' is not in the forecast"):
        plots.fan_chart(history, both, "AF-NAN", model="ets")


def test_fan_chart_input_errors(history: pd.DataFrame, forecast: ForecastFrame) -> None:
    with pytest.raises(ParameterError, match="no forecast for unit 'AF-HER'"):
        plots.fan_chart(history, forecast, "AF-HER")
    with pytest.raises(InputError, match=r"column 'y'"):
        plots.fan_chart(history.drop(columns="y"), forecast, "AF-NAN")
    with pytest.raises(InputError, match="q05"):
        plots.fan_chart(history, forecast.summary(levels=(0.5,)), "AF-NAN")


def test_small_multiples_one_panel_per_unit_busiest_first(
    history: pd.DataFrame, forecast: ForecastFrame
) -> None:
    fig = plots.fan_small_multiples(history, forecast, ncols=2, names=NAMES, **LABELS)
    render(fig)
    assert len(fig.axes) == 3  # the fourth grid cell is removed, not hidden
    assert [ax.get_title() for ax in fig.axes] == [
        "Nangarhar (AF-NAN)",
        "Kunar (AF-KNR)",
        "Kabul (AF-KAB)",
    ]
    for ax in fig.axes:
        assert len([c for c in ax.collections if isinstance(c, PolyCollection)]) == 2
        assert len(ax.get_lines()) == 3
    (legend,) = fig.legends
    assert len(legend.get_texts()) == 4
    assert fig._suptitle.get_text().endswith("(SYNTHETIC)")
    assert "SYNTHETIC data" in caption(fig)
    # Every panel carries dates, not only the bottom row of the shared axis.
    for ax in fig.axes:
        assert any(t.get_text() for t in ax.get_xticklabels()), ax.get_title()


def test_small_multiples_chosen_units(history: pd.DataFrame, forecast: ForecastFrame) -> None:
    fig = plots.fan_small_multiples(history, forecast, ["AF-KAB", "AF-NAN"])
    assert [ax.get_title() for ax in fig.axes] == ["AF-KAB", "AF-NAN"]
    with pytest.raises(ParameterError, match="AF-HER"):
        plots.fan_small_multiples(history, forecast, ["AF-HER"])


# ---------------------------------------------------------------------------- backtests


@pytest.fixture(scope="module")
def scores() -> pd.DataFrame:
    rng = np.random.default_rng(2)
    rows = [
        (model, step, cutoff, unit, rng.gamma(2.0, 0.5) * step * factor)
        for model, factor in (("glm", 1.0), ("naive", 1.5))
        for step in (1, 2, 3, 4)
        for cutoff in pd.date_range("2021-01-04", periods=5, freq="W-MON")
        for unit in UNITS
    ]
    frame = pd.DataFrame(rows, columns=["model", "step", "cutoff", "unit_id", "crps"])
    frame["log_score"] = frame["crps"] + 1
    return frame


def test_score_by_horizon_one_line_per_model(scores: pd.DataFrame) -> None:
    fig = plots.score_by_horizon(scores, **LABELS)
    render(fig)
    (ax,) = fig.axes
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["glm", "naive"]
    assert list(lines[0].get_xdata()) == [1, 2, 3, 4]
    expected = scores.loc[scores["model"] == "glm"].groupby("step")["crps"].mean().to_numpy()
    np.testing.assert_allclose(lines[0].get_ydata(), expected)
    assert ax.get_ylabel() == "mean crps (lower is better)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["glm", "naive"]
    text = caption(fig)
    assert "forecast origins 2021-01-04 to 2021-02-01" in text and "averages 15 scored" in text


def test_score_by_horizon_several_scores(scores: pd.DataFrame) -> None:
    fig = plots.score_by_horizon(scores, ["crps", "log_score"])
    render(fig)
    assert len(fig.axes) == 2
    assert [ax.get_ylabel() for ax in fig.axes] == [
        "mean crps (lower is better)",
        "mean log_score (lower is better)",
    ]
    with pytest.raises(InputError, match="'brier'"):
        plots.score_by_horizon(scores, "brier")


def test_pit_histogram_bars_per_model() -> None:
    rng = np.random.default_rng(3)
    pit = pd.DataFrame({"model": np.repeat(["glm", "naive"], 200), "pit": rng.uniform(size=400)})
    fig = plots.pit_histogram(pit, bins=8, **LABELS)
    render(fig)
    assert len(fig.axes) == 2
    for ax, model in zip(fig.axes, ["glm", "naive"], strict=True):
        assert len(ax.patches) == 8
        assert ax.get_title() == f"{model} (n = 200)"
        heights = [p.get_height() for p in ax.patches]
        assert sum(heights) / 8 == pytest.approx(1.0)  # a density over [0, 1]
        assert ax.get_lines()[0].get_ydata()[0] == 1.0
    assert "U shape" in caption(fig) and fig._suptitle.get_text().endswith("(SYNTHETIC)")
    with pytest.raises(InputError, match="PIT values must lie in"):
        plots.pit_histogram(pd.DataFrame({"model": ["a"], "pit": [1.5]}))


def test_coverage_plot_lines_and_diagonal() -> None:
    coverage = pd.DataFrame(
        {
            "model": ["glm"] * 4 + ["naive"] * 4,
            "level": [0.5, 0.5, 0.9, 0.9] * 2,
            "coverage": [1, 0, 1, 1, 0, 0, 1, 0],  # 0/1 hits average to coverage
        }
    )
    fig = plots.coverage_plot(coverage, **LABELS)
    render(fig)
    (ax,) = fig.axes
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["ideal", "glm", "naive"]
    np.testing.assert_allclose(lines[1].get_ydata(), [0.5, 1.0])
    np.testing.assert_allclose(lines[2].get_ydata(), [0.0, 0.5])
    assert "Below the diagonal" in caption(fig)


def test_coverage_plot_reads_the_backtest_hit_columns() -> None:
    scores = pd.DataFrame(
        {
            "model": ["glm", "glm", "naive", "naive"],
            "covered50": [True, False, False, False],
            "covered90": [True] * 4,
        }
    )
    fig = plots.coverage_plot(scores)
    lines = fig.axes[0].get_lines()
    np.testing.assert_allclose(lines[1].get_xdata(), [0.5, 0.9])
    np.testing.assert_allclose(lines[1].get_ydata(), [0.5, 1.0])
    np.testing.assert_allclose(lines[2].get_ydata(), [0.0, 1.0])
    with pytest.raises(InputError, match="covered50"):
        plots.coverage_plot(pd.DataFrame({"model": ["a"], "hits": [1]}))


# ---------------------------------------------------------------------------- spread


@pytest.fixture(scope="module")
def indicators() -> pd.DataFrame:
    rng = np.random.default_rng(4)
    return pd.DataFrame(
        {
            "ds": WEEKS,
            "active_units": rng.poisson(4, len(WEEKS)),
            "share_outside_stronghold": rng.uniform(size=len(WEEKS)),
            "label": "not a number",
        }
    )


def test_spread_indicators_shades_merged_alert_periods(indicators: pd.DataFrame) -> None:
    alerts = pd.DataFrame(
        {
            "ds": WEEKS[[5, 6, 7, 12, 20, 20]],
            "level": ["warning", "warning", "alert", "watch", "none", "alert"],
        }
    )
    fig = plots.spread_indicator_chart(indicators, alerts, thresholds={"active_units": 6}, **LABELS)
    render(fig)
    assert len(fig.axes) == 2  # the text column is not an indicator
    assert [ax.get_ylabel() for ax in fig.axes] == ["active units", "share outside stronghold"]
    for ax in fig.axes:
        # weeks 5-6 warning, 7 alert, 12 watch, 20 alert (the most urgent of that week)
        assert len(ax.patches) == 4
        assert len(ax.get_lines()) >= 1
    assert len(fig.axes[0].get_lines()) == 2  # series + threshold
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["watch", "warning", "alert"]
    assert "Shaded: periods under alert. Dotted: alarm thresholds." in caption(fig)
    assert fig._suptitle.get_text() == "Spread indicators (SYNTHETIC)"


def test_spread_indicators_from_a_list_of_periods_and_long_table(indicators: pd.DataFrame) -> None:
    long = indicators.drop(columns="label").melt(
        id_vars="ds", var_name="indicator", value_name="value"
    )
    fig = plots.spread_indicator_chart(long, list(WEEKS[[3, 4, 10]]), columns=["active_units"])
    render(fig)
    (ax,) = fig.axes
    assert len(ax.patches) == 2
    assert not fig._suptitle.get_text().endswith("(SYNTHETIC)")


def test_spread_indicators_without_alerts(indicators: pd.DataFrame) -> None:
    fig = plots.spread_indicator_chart(indicators)
    assert all(len(ax.patches) == 0 for ax in fig.axes)
    assert fig.legends == []
    assert "No alert periods" in caption(fig)


def test_alert_spans_merge_adjacent_periods_of_one_level() -> None:
    months = pd.to_datetime(["2021-01-01", "2021-02-01", "2021-03-01", "2021-05-01"])
    spans = plots.alert_spans(months, pd.Timedelta(days=31))
    assert spans["start"].dt.strftime("%F").tolist() == ["2021-01-01", "2021-05-01"]
    with pytest.raises(InputError, match="'red'"):
        plots.alert_spans(pd.DataFrame({"ds": months[:1], "level": ["red"]}), pd.Timedelta(days=7))


def test_events_over_time_draws_top_units_and_the_rest():
    from forecast.viz.plots import events_over_time

    ds = pd.date_range("2021-01-04", periods=20, freq="W-MON")
    counts = {"A": 5, "B": 3, "C": 1, "D": 0}
    panel = pd.DataFrame(
        [(unit, d, rate) for unit, rate in counts.items() for d in ds], columns=["unit_id", "ds", "y"]
    )
    fig = events_over_time(panel, top=2, names={"A": "Alpha"}, synthetic=True)
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["Alpha", "B", "all other provinces"]
    assert list(ax.get_lines()[2].get_ydata()) == [1] * 20  # C + D
    assert "SYNTHETIC" in fig._suptitle.get_text()
    fig.savefig(io.BytesIO(), format="png")
    with pytest.raises(ParameterError, match="not in the panel"):
        events_over_time(panel, unit_ids=["Z"])


def test_actor_regexes_and_unit_names_with_dollar_signs_are_drawn_as_written():
    """A valid actor regex such as ``^IS$|...$`` must not be parsed as mathtext (it crashed every notebook)."""
    import io

    import matplotlib.pyplot as plt

    from forecast.viz.plots import finish_figure

    actor = r"^IS$|Khorasan\s*Province$"
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    ax.set_title("placeholder")
    finish_figure(fig, f"Attacks by {actor}", source="csv", actor=actor, period="W-MON")
    fig.savefig(io.BytesIO(), format="png")  # the full draw, where mathtext would raise
    caption = next(text for text in fig.texts if text.get_gid() == "caption")
    assert actor in caption.get_text() and actor in fig._suptitle.get_text()
    assert not caption.get_parse_math() and not fig._suptitle.get_parse_math()
    plt.close(fig)


# ---------------------------------------------------------------------------- data text


ACTOR_REGEX = r"^IS$|Khorasan\s*Province$"


def test_dollar_signs_in_data_text_are_characters_not_mathtext(
    history: pd.DataFrame, forecast: ForecastFrame
) -> None:
    """A valid actor regex (and unit names, titles) with "$" draws verbatim: mathtext is off for data text."""
    names = {"AF-NAN": "Nan$garhar$ \\s"}
    fig = plots.fan_chart(
        history, forecast, "AF-NAN", names=names, title=f"Actor {ACTOR_REGEX}", actor=ACTOR_REGEX
    )
    fig.canvas.draw()
    render(fig)
    assert fig._suptitle.get_text() == f"Actor {ACTOR_REGEX}"
    assert f"Actor: {ACTOR_REGEX}." in caption(fig)
    texts = [t for t in fig.findobj(mpl.text.Text) if "$" in t.get_text()]
    assert len(texts) >= 2
    for text in texts:
        # What is drawn is the string itself, not a parsed formula.
        assert text._preprocess_math(text.get_text()) == (text.get_text(), False)
    # Outside the figure builders global rcParams still allow mathtext (the style is local).
    assert mpl.rcParams["text.parse_math"] is True


def test_only_provinces_with_something_to_show_fill_the_busiest_fan_slots():
    from forecast.report.tables import fan_chart_units

    table = pd.DataFrame({"unit_id": ["A", "B", "C", "D"], "mean_total": [5.0, 0.6, 0.1, 0.0]})
    alerts = pd.DataFrame({"unit_id": ["D"], "level": ["warning"]})
    # D is flagged, so it keeps its chart however quiet its forecast; C's fan of zeros is left out.
    assert fan_chart_units(table, alerts, top=8) == ["D", "A", "B"]
