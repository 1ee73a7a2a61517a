"""What the data are: coverage, events per province, and the caveats an analyst must read first."""

from __future__ import annotations

import pandas as pd

from forecast.data.dataset import Dataset
from forecast.geo.gazetteer import Gazetteer
from forecast.panel import period_word


def coverage_table(data: Dataset) -> pd.DataFrame:
    """One row per fact about the data set (``item, value``), JSON-simple values.

    Covers the source, the date range of events and of the panel, event and
    unit counts, date and location precision, and what the reader dropped.
    """
    events = data.events
    rows: list[tuple[str, str]] = [
        ("source", data.label),
        ("synthetic", "yes — not real events" if data.synthetic else "no"),
        ("input", data.input_sha256),
    ]
    if data.counts is not None:
        # Counted data have no event rows: say what the counts are instead of "0 events".
        counts = data.counts
        rows.append(("events", f"{int(counts['y'].sum()):,} (counted by the provider per unit and period)"))
        if len(counts):
            rows.append(("count periods", f"{counts['ds'].min():%Y-%m-%d} to {counts['ds'].max():%Y-%m-%d}"))
    else:
        rows.append(("events", f"{len(events):,}"))
    if len(events):
        rows.append(("event dates", f"{events['date'].min():%Y-%m-%d} to {events['date'].max():%Y-%m-%d}"))
    if len(data.panel):
        units = "districts" if data.level == 2 else "provinces"
        rows.append(
            (
                "panel",
                f"{data.panel['unit_id'].nunique()} {units} x {data.panel['ds'].nunique()} periods ({data.freq}), "
                f"{data.panel['ds'].min():%Y-%m-%d} to {data.panel['ds'].max():%Y-%m-%d}",
            )
        )
        rows.append(("events in panel", f"{int(data.panel['y'].sum()):,}"))
    if data.as_of is not None:
        rows.append(("as of", f"{data.as_of:%Y-%m-%d}"))
    if data.counts is None:
        precision = events["date_precision"].value_counts()
        rows.append(("date precision", ", ".join(f"{k} {v:,}" for k, v in precision.items()) or "—"))
        located = events["latitude"].notna().sum()
        rows.append(("with coordinates", f"{located:,} of {len(events):,}"))
    for reason, count in (data.panel.attrs.get("dropped") or {}).items():
        if count:
            rows.append((f"not counted: {reason.replace('_', ' ')}", f"{count:,}"))
    for reason, count in (data.ingest_summary.get("dropped") or {}).items():
        if count:
            rows.append((f"dropped at ingest: {reason.replace('_', ' ')}", f"{count:,}"))
    return pd.DataFrame(rows, columns=["item", "value"])


def events_by_unit(data: Dataset, gazetteer: Gazetteer | None = None, recent_periods: int = 13) -> pd.DataFrame:
    """Events per province: total, in the last ``recent_periods`` periods, fatalities, per 100,000 people, share.

    Sorted by total events, most first; every province of the panel appears.
    ``fatalities`` is the sum of best estimates; where the source also gives
    low and high estimates (UCDP), ``fatalities_range`` shows their sums
    (``"60-80"``), so a reader sees how uncertain the toll is.
    """
    gazetteer = gazetteer or Gazetteer.load(data.country)
    panel = data.panel
    last = panel["ds"].drop_duplicates().nlargest(recent_periods)
    table = (
        panel.groupby("unit_id")
        .agg(events=("y", "sum"), fatalities=("fatalities_best", "sum"))
        .join(panel[panel["ds"].isin(last)].groupby("unit_id")["y"].sum().rename(f"last_{recent_periods}"))
        .join(gazetteer.units.set_index("unit_id")[["name", "population"]])
    )
    table["fatalities"] = table["fatalities"].round().astype(int)  # deaths are shown as whole people
    table["per_100k"] = table["events"] / table["population"] * 1e5
    total = table["events"].sum()
    table["share"] = table["events"] / total if total else 0.0
    table = table.reset_index().sort_values(["events", "unit_id"], ascending=[False, True])
    columns = ["unit_id", "name", "events", f"last_{recent_periods}", "fatalities", "per_100k", "share"]
    ranges = _fatality_ranges(data)
    if ranges is not None:
        table["fatalities_range"] = table["unit_id"].map(ranges).fillna("")
        columns.insert(columns.index("fatalities") + 1, "fatalities_range")
    return table[columns]


def _fatality_ranges(data: Dataset) -> pd.Series | None:
    """``"low-high"`` sums per unit of the counted events, or None when the source gives no range."""
    events = data.events
    if events is None or not {"fatalities_low", "fatalities_high", "admin1_code"} <= set(events.columns):
        return None
    ranged = events[events["fatalities_low"].notna() & events["fatalities_high"].notna()]
    # Readers copy the best estimate into low and high when the source has one figure only.
    if ranged.empty or not ((ranged["fatalities_low"] != ranged["fatalities_best"])
                            | (ranged["fatalities_high"] != ranged["fatalities_best"])).any():
        return None
    if data.as_of is not None:
        ranged = ranged[ranged["date"] <= data.last_day]
    sums = ranged.groupby("admin1_code")[["fatalities_low", "fatalities_high"]].sum()
    return pd.Series({unit: f"{row.fatalities_low:,.0f}-{row.fatalities_high:,.0f}" for unit, row in sums.iterrows()})


def caveats(data: Dataset) -> list[str]:
    """Plain-language warnings about the data, most important first."""
    notes: list[str] = []
    if data.synthetic:
        notes.append(
            "These are SYNTHETIC events generated by the package (seeded); they imitate a group "
            "spreading from a stronghold and say nothing about any real group."
        )
    dropped = data.panel.attrs.get("dropped") or {}
    if dropped.get("imprecise_date"):
        notes.append(
            f"{dropped['imprecise_date']:,} events have dates known only to a coarser period than "
            f"the panel's ({data.freq}); they are not counted rather than placed on an invented day."
        )
    if dropped.get("unlocated"):
        notes.append(f"{dropped['unlocated']:,} events could not be placed in a province and are not counted.")
    if not data.synthetic:
        notes.append(
            "Event data record what was reported: coverage varies with media access, and recent "
            "periods are often revised upwards as sources are coded."
        )
    notes.extend(note[0].upper() + note[1:] + "." for note in data.notes)
    if data.as_of is None and not data.synthetic:
        notes.append(
            "No as-of date was given: the data are taken to end with the last event, and a period "
            "is counted only if it is complete by then."
        )
    return notes


def step_means_table(forecast, model: str | None, gazetteer: Gazetteer) -> pd.DataFrame:
    """Expected count per province and step ahead from one model, for a terminal or a page.

    Columns: ``name``, one column per forecast period (its start date: the
    mean at that step), ``total`` (expected events over all steps),
    ``p_ge_1_next`` (P(Y >= 1) in the first period) and ``fallback``; most
    expected events first.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from forecast.geo.gazetteer import Gazetteer
    >>> from forecast.models.registry import forecast_panel
    >>> ds = pd.date_range("2021-01-04", periods=30, freq="W-MON")
    >>> panel = pd.DataFrame({"unit_id": np.repeat(["AF-KAB", "AF-NAN"], 30), "ds": np.tile(ds, 2),
    ...                       "y": np.r_[np.zeros(30, int), np.full(30, 2)]})
    >>> ff = forecast_panel(panel, "hist_mean", 2, n_draws=100, progress=False)
    >>> step_means_table(ff, None, Gazetteer.load("AFG"))[["name", "2021-08-02", "total"]]
            name  2021-08-02  total
    0  Nangarhar         2.0    4.0
    1      Kabul         0.0    0.0
    """
    next_periods = forecast_table(forecast, model, gazetteer).set_index("unit_id")
    model = model or forecast.models[-1]
    summary = forecast.summary(exceed=(1,))
    summary = summary[summary["model"] == model]
    means = summary.pivot(index="unit_id", columns="ds", values="mean")
    means.columns = [f"{ds:%Y-%m-%d}" for ds in means.columns]
    table = next_periods[["name"]].join(means)
    table["total"] = next_periods["mean_total"]
    table["p_ge_1_next"] = next_periods["p_ge_1_next"]
    if "fallback" in next_periods.columns:
        table["fallback"] = next_periods["fallback"]
    return table.reset_index(drop=True)


def forecast_table(
    forecast,
    model: str | None,
    gazetteer: Gazetteer,
) -> pd.DataFrame:
    """Next-periods summary per province from one model's forecast.

    Parameters
    ----------
    forecast
        A :class:`forecast.models.frame.ForecastFrame`.
    model
        Model alias to report; default the last model in the frame (the
        ensemble when the run has one).
    gazetteer
        For province names.

    Returns
    -------
    pandas.DataFrame
        One row per province, most expected events first: ``unit_id, name,
        mean_next`` (mean of step 1), ``p_ge_1_next`` (P(Y >= 1) in step 1),
        ``mean_total`` (expected events over all steps), ``q05_next, q95_next``
        (90 % interval of step 1), ``p_ge_1_last`` (P(Y >= 1) in the last step),
        and ``fallback`` when the model fell back for that province.
    """
    model = model or forecast.models[-1]
    summary = forecast.summary(levels=(0.05, 0.5, 0.95), exceed=(1,))
    summary = summary[summary["model"] == model]
    if summary.empty:
        from forecast.errors import ParameterError

        raise ParameterError(f"no forecasts from model '{model}'; the run has {', '.join(forecast.models)}")
    first = summary[summary["step"] == 1].set_index("unit_id")
    last = summary[summary["step"] == summary["step"].max()].set_index("unit_id")
    table = pd.DataFrame(
        {
            "mean_next": first["mean"],
            "q05_next": first["q05"],
            "q95_next": first["q95"],
            "p_ge_1_next": first["p_ge_1"],
            "mean_total": summary.groupby("unit_id")["mean"].sum(),
            "p_ge_1_last": last["p_ge_1"],
        }
    )
    if "fallback" in first.columns:
        table["fallback"] = first["fallback"].fillna("")
    names = gazetteer.units.set_index("unit_id")["name"]
    table.insert(0, "name", names.reindex(table.index).fillna(pd.Series(table.index, index=table.index)))
    return table.reset_index().sort_values(["mean_total", "unit_id"], ascending=[False, True]).reset_index(drop=True)


def _fallback_parts(text: object) -> list[tuple[str, str]]:
    """``(member, what it did instead)`` per part of a ``fallback`` cell.

    A cell reads ``"glm_negbin (weight 0.07): <why>: used hist_mean(window=52); ..."``
    (:class:`forecast.models.Ensemble` puts the member and its weight first,
    :class:`forecast.models.base.SeriesModel` the replacement last).
    """
    if not isinstance(text, str) or not text:
        return []
    pieces, depth, start = [], 0, 0
    for at, char in enumerate(text):  # "; " between members, not inside a reason's brackets
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and text.startswith("; ", at):
            pieces.append(text[start:at])
            start = at + 2
    pieces.append(text[start:])
    parts = []
    for part in pieces:
        member, _, detail = part.partition(": ") if ": " in part else ("", "", part)
        parts.append((member, detail.rsplit(": ", 1)[-1]))
    return parts


def readable_forecast_table(
    table: pd.DataFrame, freq: str, horizon: int, unit_word: str = "province"
) -> tuple[pd.DataFrame, str | None]:
    """:func:`forecast_table` with column names a reader understands, and what fell back, once.

    Parameters
    ----------
    table
        :func:`forecast_table` output.
    freq, horizon
        The panel's frequency and the forecast's steps, for the headers
        ("expected next week", "expected over 8 weeks").
    unit_word
        What a unit is called (``Dataset.unit_word``: province or district).

    Returns
    -------
    (pandas.DataFrame, str or None)
        The table to show, with the 90 % interval as one ``low-high`` column and
        a short ``fell back`` cell (member and what it used instead), and one
        sentence counting the fallbacks per member and replacement (None when
        no model fell back): the full reason per province is long and the same
        for most provinces, so it is told once.
    """
    word = period_word(freq)
    plural = f"{horizon} {word}s" if horizon != 1 else f"1 {word}"
    shown = pd.DataFrame({
        unit_word: table["name"],
        f"expected next {word}": table["mean_next"],
        f"90 % range next {word}": [f"{low:.0f}-{high:.0f}" for low, high in zip(table["q05_next"], table["q95_next"],
                                                                              strict=True)],
        f"P(at least one) next {word}": table["p_ge_1_next"],
        f"expected over {plural}": table["mean_total"],
        f"P(at least one) in {word} {horizon}": table["p_ge_1_last"],
    })
    note = None
    if "fallback" in table.columns:
        parts = [_fallback_parts(cell) for cell in table["fallback"]]
        if any(parts):
            shown["fell back"] = ["; ".join(f"{member.split(' (')[0] or 'model'}: {what}" for member, what in row)
                                  for row in parts]
            tally = pd.Series([pair for row in parts for pair in row]).value_counts(sort=False)
            said = [f"{member or 'the model'} {what} in {count} of {len(table)} {unit_word}s"
                    for (member, what), count in tally.items()]
            note = ("Where a model could not be fitted as specified (too few events for its terms, no "
                    "over-dispersion) it fell back to a simpler one; the weight is the model's share of the mixture: "
                    + "; ".join(said) + ".")
    return shown, note


def fan_chart_units(
    forecasts_by_size: pd.DataFrame,
    alerts: pd.DataFrame | None = None,
    *,
    top: int = 8,
    at_least: tuple[str, ...] = ("alert", "warning"),
    min_total: float = 0.5,
) -> list[str]:
    """The provinces that get a fan chart: every one at warning or above, then the busiest.

    A province the early-warning page flags must have its forecast shown next
    to the alarm, however few attacks it is expected to have, so an analyst can
    see whether the forecast follows the activity the alarm is about.

    Parameters
    ----------
    forecasts_by_size
        A table with ``unit_id``, busiest first (:func:`forecast_table`).
    alerts
        The alert table (``unit_id``, ``level``; :func:`forecast.alarms.alert_table`),
        most severe first, or None.
    top
        How many of the busiest provinces to show besides the flagged ones.
    at_least
        The levels that always get a chart.
    min_total
        A busiest province needs at least this many expected attacks over the
        horizon (``mean_total``, when the table has it): a fan of zeros says nothing.

    Returns
    -------
    list of str
        Unit ids, flagged ones first (most severe first), no duplicates.

    Examples
    --------
    >>> table = pd.DataFrame({"unit_id": ["A", "B", "C", "D"]})
    >>> alerts = pd.DataFrame({"unit_id": ["D", "C", "B"], "level": ["alert", "watch", "none"]})
    >>> fan_chart_units(table, alerts, top=2)
    ['D', 'A', 'B']
    """
    flagged: list[str] = []
    if alerts is not None and len(alerts):
        loud = alerts.loc[alerts["level"].astype(str).isin(at_least), "unit_id"].astype(str)
        flagged = list(dict.fromkeys(loud))
    table = forecasts_by_size
    if "mean_total" in table.columns:
        table = table[table["mean_total"] >= min_total]
    busiest = [unit for unit in table["unit_id"].astype(str) if unit not in flagged][:top]
    return flagged + busiest
