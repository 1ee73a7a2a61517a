"""The embedded default scenario: seeded synthetic attack events on Afghanistan's provinces.

Nothing here is real. The scenario imitates the pattern the suite exists to
catch: a group concentrated in one stronghold (Nangarhar) that, from known
onset dates, starts striking other provinces. Every product made from it is
labelled "synthetic".

The counts follow an endemic-epidemic process (the model class of
:mod:`forecast.models.endemic_epidemic`) over the real province adjacency::

    Y_it ~ NegBin(mean mu_it, overdispersion psi)
    mu_it = nu_it                                   # endemic: baseline x season (+ spread)
          + lambda * Y_i,t-1                        # own recent attacks
          + phi * sum_{j adjacent to i} Y_j,t-1     # neighbours' recent attacks
          + kappa_it * sum_{s in stronghold} Y_s,t-1  # imports, targets after onset only

A target province's endemic rate rises by ``spread_rate`` and it starts
importing from the stronghold at ``import_strength`` from its onset week on.
The ground truth (which provinces spread and when) comes with the events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from forecast.checks import number
from forecast.distributions import scipy_negbin
from forecast.errors import ParameterError
from forecast.geo.gazetteer import Gazetteer
from forecast.panel import period_range
from forecast.schema import EVENT_COLUMNS, EVENTS, validate

#: The label every synthetic product carries.
#: The country the synthetic scenario is set in: its units, adjacency and geometry are real.
SCENARIO_COUNTRY = "AFG"
#: Spread targets a scenario over several countries adds per extra country (synthetic dates):
#: the Khorasan claim reaches across the Durand Line into Khyber Pakhtunkhwa, later Balochistan.
CROSS_BORDER_SPREAD: dict[str, dict[str, str]] = {
    "PAK": {"Khyber Pakhtunkhwa": "2021-07-05", "Balochistan": "2021-10-18"},
}
SYNTHETIC_LABEL = "synthetic"

#: Default onsets, after the pattern of ISIS-K's strikes in 2021 (synthetic dates).
DEFAULT_SPREAD: dict[str, str] = {
    "Kunar": "2021-06-07",
    "Kabul": "2021-08-23",
    "Kunduz": "2021-10-04",
    "Kandahar": "2021-10-11",
    "Parwan": "2021-11-01",
}


@dataclass(frozen=True)
class ScenarioConfig:
    """Parameters of a synthetic scenario (weekly process).

    Parameters
    ----------
    seed
        Seed of the random generator; the same config gives the same events.
    start, end
        First and last week (any date inside it).
    stronghold
        Province names (or codes) of the stronghold.
    stronghold_rate
        Endemic mean attacks per week in each stronghold province.
    background_rate
        Endemic mean attacks per week in every other province.
    autoregression
        ``lambda``: expected attacks next week per attack this week, same province.
    neighbour_coupling
        ``phi``: expected attacks next week per attack in an adjacent province.
    overdispersion
        ``psi`` in ``Var = mu (1 + psi mu)``.
    seasonal_amplitude
        Log-amplitude of the yearly cycle (peak in July, the fighting season).
    spread
        Target province -> onset date. Empty for a scenario without spread.
    spread_rate
        Endemic attacks per week a target gains from its onset.
    import_strength
        ``kappa``: expected attacks per week in a target per stronghold attack
        the week before, from the onset on.
    fatality_mean
        Mean fatalities per event (negative binomial, size 1).
    country
        The country or countries the process runs over (``"AFG"``, or
        ``"AFG,PAK"``: one process over the combined adjacency, cross-border
        pairs included). With the default ``spread``, each extra country adds
        its targets of :data:`CROSS_BORDER_SPREAD`.
    """

    seed: int = 20211
    start: str = "2014-01-06"
    end: str = "2021-12-27"
    stronghold: tuple[str, ...] = ("Nangarhar",)
    stronghold_rate: float = 2.0
    background_rate: float = 0.01
    autoregression: float = 0.35
    neighbour_coupling: float = 0.02
    overdispersion: float = 0.5
    seasonal_amplitude: float = 0.3
    spread: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SPREAD))
    spread_rate: float = 0.4
    import_strength: float = 0.1
    fatality_mean: float = 4.0
    country: str = SCENARIO_COUNTRY

    def __post_init__(self) -> None:
        from forecast.checks import countries, country_list

        key = countries(self.country, "synthetic scenario parameter 'country'")
        object.__setattr__(self, "country", key)
        if dict(self.spread) == DEFAULT_SPREAD:
            extra = {name: onset for iso3 in country_list(key) for name, onset in CROSS_BORDER_SPREAD.get(iso3, {}).items()}
            if extra:
                object.__setattr__(self, "spread", {**DEFAULT_SPREAD, **extra})
        for name in ("stronghold_rate", "background_rate", "autoregression", "neighbour_coupling",
                     "overdispersion", "spread_rate", "import_strength", "fatality_mean"):
            number(getattr(self, name), f"synthetic scenario parameter '{name}'", minimum=0)
        if isinstance(self.stronghold, str):
            object.__setattr__(self, "stronghold", (self.stronghold,))


@dataclass
class Scenario:
    """A generated scenario.

    Attributes
    ----------
    events
        Canonical events (``source`` and ``actor`` are "synthetic").
    truth
        One row per spread target: ``unit_id, name, onset`` (Monday of the onset week).
    counts
        The weekly counts behind the events: ``unit_id, ds, y, mu`` (``mu`` the true mean).
    stronghold
        Stronghold unit ids.
    config
        The parameters used.
    """

    events: pd.DataFrame
    truth: pd.DataFrame
    counts: pd.DataFrame
    stronghold: list[str]
    config: ScenarioConfig
    label: str = SYNTHETIC_LABEL

    def imported(self) -> pd.DataFrame:
        """The true mean imported from the stronghold, per unit and week.

        What the process adds to each unit's mean because of the stronghold's
        count the week before: ``import_strength`` times it for a target from
        its onset on (however far away), plus ``neighbour_coupling`` times it
        for a province bordering the stronghold. Divided by ``mu`` it is the
        true share a spillover model should recover.

        Returns
        -------
        pandas.DataFrame
            ``unit_id, ds, imported, mu`` (stronghold units included, with 0 imported
            from themselves).
        """
        gazetteer = Gazetteer.load(self.config.country)
        units = gazetteer.unit_ids
        weeks = pd.DatetimeIndex(np.sort(self.counts["ds"].unique()))
        wide = self.counts.pivot(index="ds", columns="unit_id", values="y").reindex(index=weeks, columns=units)
        source = wide[self.stronghold].sum(axis=1).to_numpy(dtype=float)
        previous = np.concatenate([[0.0], source[:-1]])
        adjacency = gazetteer.adjacency_matrix(units)
        position = {unit: i for i, unit in enumerate(units)}
        coupling = self.config.neighbour_coupling * adjacency[:, [position[u] for u in self.stronghold]].sum(axis=1)
        onset = self.truth.set_index("unit_id")["onset"]
        target = np.array([[u in onset.index and week >= onset[u] for u in units] for week in weeks])
        rate = coupling[None, :] + self.config.import_strength * target
        rate[:, [position[u] for u in self.stronghold]] = 0.0
        imported = rate * previous[:, None]
        frame = pd.DataFrame({
            "unit_id": np.repeat(units, len(weeks)),
            "ds": np.tile(weeks.to_numpy(), len(units)),
            "imported": imported.T.reshape(-1),
        })
        return frame.merge(self.counts[["unit_id", "ds", "mu"]], on=["unit_id", "ds"], how="left")

    def simulate_ahead(
        self, after: Any, n_weeks: int, n_paths: int, seed: int = 0, *, future_onsets: bool = True
    ) -> np.ndarray:
        """Continue the process for ``n_weeks`` weeks after the week holding ``after``, ``n_paths`` times.

        Every path starts from the counts observed in that week and runs with the
        scenario's true parameters and spread onsets: the forecast of someone who
        knows the process, which no model fitted to the events beats in
        expectation under a proper score (``bench/bench_monthly.py`` scores it as
        the oracle).

        Parameters
        ----------
        after
            A date; paths start the week after the week (Monday to Sunday) holding it.
        n_weeks
            Weeks simulated; they must lie inside the scenario's weeks.
        n_paths
            Independent paths.
        seed
            Seed of the paths.
        future_onsets
            With False, provinces whose spread begins after the week holding
            ``after`` stay as they were: what someone who knows the process
            but not the future forecasts.

        Returns
        -------
        numpy.ndarray
            Counts of shape ``(n_paths, n_weeks, units)``, units in the order of
            ``counts["unit_id"].unique()`` (the gazetteer's).

        Examples
        --------
        >>> s = generate_scenario(seed=7)
        >>> s.simulate_ahead("2021-06-30", 4, n_paths=500).shape
        (500, 4, 34)
        """
        setup = _setup(self.config)
        weeks = setup["weeks"]
        start = int(weeks.searchsorted(period_range(after, after, "W-MON")[0]))
        if start >= len(weeks) or start + n_weeks >= len(weeks):
            raise ParameterError(f"simulate_ahead: {n_weeks} weeks after {after} run past the scenario's last week "
                                 f"{weeks[-1]:%Y-%m-%d}; simulate fewer weeks or extend config.end")
        if not future_onsets:
            setup["onsets"] = {unit: onset for unit, onset in setup["onsets"].items() if onset <= weeks[start]}
        process = _process(self.config, **setup)
        wide = self.counts.pivot(index="ds", columns="unit_id", values="y").reindex(
            index=weeks, columns=setup["units"])
        previous = np.repeat(wide.iloc[start].to_numpy(dtype=float)[None, :], n_paths, axis=0)
        rng = np.random.default_rng(seed)
        paths = np.zeros((n_paths, n_weeks, len(setup["units"])), dtype=np.int64)
        for step in range(n_weeks):
            paths[:, step] = process.draw(rng, process.mean(start + 1 + step, previous))
            previous = paths[:, step].astype(float)
        return paths

    def describe(self) -> dict:
        """JSON-simple description for manifests and report captions."""
        return {
            "label": self.label,
            "seed": self.config.seed,
            "events": int(len(self.events)),
            "stronghold": self.stronghold,
            "spread": {row.unit_id: f"{row.onset:%F}" for row in self.truth.itertuples()},
            # A one-country (Afghan) scenario is described as it always was.
            "config": {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in asdict(self.config).items()
                       if k != "country" or v != SCENARIO_COUNTRY},
        }


def generate_scenario(config: ScenarioConfig | None = None, **overrides) -> Scenario:
    """Generate the synthetic scenario.

    Parameters
    ----------
    config
        Full parameter set; default :class:`ScenarioConfig`.
    **overrides
        Fields of :class:`ScenarioConfig` to change, e.g. ``seed=3`` or
        ``spread={"Kunduz": "2020-05-04"}``.

    Examples
    --------
    >>> s = generate_scenario(seed=7)
    >>> s.truth["name"].tolist()
    ['Kunar', 'Kabul', 'Kunduz', 'Kandahar', 'Parwan']
    >>> bool((s.events["source"] == "synthetic").all())
    True
    """
    config = config or ScenarioConfig()
    if overrides:
        fields = set(ScenarioConfig.__dataclass_fields__)
        unknown = sorted(set(overrides) - fields)
        if unknown:
            raise ParameterError(f"unknown synthetic scenario parameter(s) {unknown}; valid: {sorted(fields)}")
        config = ScenarioConfig(**{**asdict(config), **overrides})

    setup = _setup(config)
    gazetteer, units, weeks, onsets = setup["gazetteer"], setup["units"], setup["weeks"], setup["onsets"]
    rng = np.random.default_rng(config.seed)
    counts, means = _simulate_counts(_process(config, **setup), rng)
    events = _counts_to_events(config, rng, counts, units, weeks, gazetteer)
    truth = pd.DataFrame(
        {
            "unit_id": list(onsets),
            "name": [gazetteer.name_of(u) for u in onsets],
            "onset": pd.to_datetime(list(onsets.values())),
        },
        columns=["unit_id", "name", "onset"],
    )
    long_counts = pd.DataFrame(
        {
            "unit_id": np.repeat(units, len(weeks)),
            "ds": np.tile(weeks.to_numpy(), len(units)),
            "y": counts.T.reshape(-1),
            "mu": means.T.reshape(-1),
        }
    )
    return Scenario(events=events, truth=truth, counts=long_counts, stronghold=setup["stronghold"], config=config)


def _setup(config: ScenarioConfig) -> dict[str, Any]:
    """The units, weeks, stronghold and onsets of ``config`` (checked), as :func:`_process` takes them."""
    gazetteer = Gazetteer.load(config.country)
    units = gazetteer.unit_ids
    stronghold = [_resolve(gazetteer, name, "stronghold") for name in config.stronghold]
    onsets = {
        _resolve(gazetteer, name, "spread"): period_range(onset, onset, "W-MON")[0]
        for name, onset in config.spread.items()
    }
    overlap = set(onsets) & set(stronghold)
    if overlap:
        raise ParameterError(f"spread targets {sorted(overlap)} are in the stronghold; choose other provinces")
    return {"units": units, "position": {unit: i for i, unit in enumerate(units)}, "stronghold": stronghold,
            "weeks": period_range(config.start, config.end, "W-MON"), "onsets": onsets, "gazetteer": gazetteer}


def _resolve(gazetteer: Gazetteer, name: str, role: str) -> str:
    unit = gazetteer.resolve(name)
    if unit is None:
        close = ", ".join(gazetteer.closest(name))
        where = "an Afghan province" if gazetteer.country_iso3 == SCENARIO_COUNTRY else f"a unit of {gazetteer.country_iso3}"
        raise ParameterError(f"{role} province '{name}' is not {where}; did you mean {close}?")
    return unit


def _countries_of(gazetteer: Gazetteer, unit_ids: np.ndarray) -> str | np.ndarray:
    """Each event's country: the scenario's one country, or per unit when it spans several."""
    if len(gazetteer.countries) == 1:
        return gazetteer.country_iso3
    country = gazetteer.units.set_index("unit_id")["country"]
    return country.reindex(unit_ids).to_numpy(dtype=object)


@dataclass(frozen=True)
class _Process:
    """The parts of the weekly mean that do not depend on the counts (see the module docstring)."""

    config: ScenarioConfig
    endemic: np.ndarray  # (weeks, units): baseline x season, plus the spread rate of targets after onset
    importing: np.ndarray  # (weeks, units): kappa_it
    adjacency: np.ndarray  # (units, units), symmetric
    stronghold: list[int]

    def mean(self, t: int, previous: np.ndarray) -> np.ndarray:
        """``mu_t`` given last week's counts ``previous`` (``(units,)`` or ``(paths, units)``)."""
        config = self.config
        source = previous[..., self.stronghold].sum(axis=-1, keepdims=previous.ndim > 1)
        return (self.endemic[t] + config.autoregression * previous
                + config.neighbour_coupling * (previous @ self.adjacency) + self.importing[t] * source)

    def draw(self, rng: np.random.Generator, mu: np.ndarray) -> np.ndarray:
        size = 1.0 / self.config.overdispersion if self.config.overdispersion > 0 else None
        return rng.poisson(mu) if size is None else rng.negative_binomial(*scipy_negbin(mu, size))


def _process(config, units, position, stronghold, weeks, onsets, gazetteer) -> _Process:
    base = np.full(len(units), config.background_rate)
    base[[position[u] for u in stronghold]] = config.stronghold_rate
    # Fighting-season cycle with its peak in early July (ISO week ~27).
    week_of_year = weeks.isocalendar().week.to_numpy(dtype=float)
    season = np.exp(config.seasonal_amplitude * np.cos(2 * np.pi * (week_of_year - 27) / 52.18))
    spreading = np.zeros((len(weeks), len(units)), dtype=bool)
    for unit, onset in onsets.items():
        spreading[weeks >= onset, position[unit]] = True
    return _Process(
        config=config,
        endemic=(base + config.spread_rate * spreading) * season[:, None],
        importing=config.import_strength * spreading,
        adjacency=gazetteer.adjacency_matrix(units),
        stronghold=[position[u] for u in stronghold],
    )


def _simulate_counts(process: _Process, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n_weeks, n_units = process.endemic.shape
    counts = np.zeros((n_weeks, n_units), dtype=np.int64)
    means = np.zeros((n_weeks, n_units))
    previous = np.zeros(n_units)
    for t in range(n_weeks):
        means[t] = mu = process.mean(t, previous)
        counts[t] = process.draw(rng, mu)
        previous = counts[t].astype(float)
    return counts, means


def _counts_to_events(config, rng, counts, units, weeks, gazetteer) -> pd.DataFrame:
    week_index, unit_index = np.nonzero(counts)
    repeats = counts[week_index, unit_index]
    week_index = np.repeat(week_index, repeats)
    unit_index = np.repeat(unit_index, repeats)
    n = len(week_index)
    dates = weeks.to_numpy()[week_index] + rng.integers(0, 7, n).astype("timedelta64[D]")
    # Place each event at one of the province's interior points, with a jitter
    # small enough (about 1 km) to stay inside the province.
    points = gazetteer.points
    latitude = np.empty(n)
    longitude = np.empty(n)
    unit_ids = np.asarray(units)[unit_index]
    for unit, rows in pd.Series(np.arange(n)).groupby(unit_ids):
        candidates = points[points["unit_id"] == unit]
        pick = rng.integers(0, len(candidates), len(rows))
        latitude[rows.to_numpy()] = candidates["latitude"].to_numpy()[pick]
        longitude[rows.to_numpy()] = candidates["longitude"].to_numpy()[pick]
    latitude += rng.normal(0, 0.01, n)
    longitude += rng.normal(0, 0.01, n)
    fatalities = rng.negative_binomial(1, 1 / (1 + config.fatality_mean), n).astype(float)
    order = np.lexsort((unit_index, dates))
    names = gazetteer.units.set_index("unit_id")["name"]
    events = pd.DataFrame(
        {
            "event_id": [f"synthetic:{config.seed}:{i}" for i in range(n)],
            "source": SYNTHETIC_LABEL,
            "date": pd.to_datetime(dates[order]),
            "date_precision": "day",
            "country_iso3": _countries_of(gazetteer, unit_ids[order]),
            "admin1_code": unit_ids[order],
            "admin1_name": names.reindex(unit_ids[order]).to_numpy(),
            "admin2_name": None,
            "latitude": latitude[order],
            "longitude": longitude[order],
            "actor": SYNTHETIC_LABEL,
            "actor_raw": f"{SYNTHETIC_LABEL} group (seed {config.seed})",
            "event_type": "attack",
            "fatalities_low": np.floor(fatalities[order] * 0.7),
            "fatalities_best": fatalities[order],
            "fatalities_high": np.ceil(fatalities[order] * 1.5),
        },
        columns=EVENT_COLUMNS,
    )
    return validate(events, EVENTS)
