"""Scenario generators we did not tune the alarms on: worlds for calibrating the warning rules.

The project's own scenario (:mod:`forecast.data.synthetic`) is an
endemic-epidemic count process; thresholds tuned on it alone fit its
structure. The generators here make structurally different worlds over the
same Afghan gazetteer, each with the ground truth of which provinces started
to be struck and when:

``hawkes``
    a spatial self-exciting point process in continuous time (days): every
    attack triggers ``Poisson(branching)`` further attacks after exponential
    delays, placed by a spatial kernel on province centroids
    (``exp(-distance / kernel_km)``, the province itself at distance 0).
    After a target's onset it gains its own background rate and a share of
    the stronghold's offspring lands there directly, however far it is.
``endemic``
    the project's process (:func:`forecast.data.synthetic.generate_scenario`)
    with the same design of strongholds and targets as ``hawkes``.
``*_thinned``
    "reported attacks only": a dense world of either kind thinned to 5-20 %
    of its events, kept with probability rising with their fatalities
    (:func:`thin_world`).
``null_*``
    the same worlds without spread, for false-alarm rates.

Both generators draw the stronghold at random (from :data:`STRONGHOLDS`,
not only Nangarhar) and targets by distance class from it (a neighbour, two
or three borders away, or more than :data:`FAR_KM` away), give every event a
heavy-tailed fatality count (discrete Lomax) and write each event's province
under one of its real spellings (Hilmand/Helmand, Paktya/Paktia, ...), so the
name matching of the readers is exercised: :meth:`World.panel` resolves the
names again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from forecast.checks import choice, fraction, number, whole_number
from forecast.errors import InputError, ParameterError
from forecast.geo.gazetteer import Gazetteer
from forecast.schema import EVENT_COLUMNS, EVENTS, validate

#: The country every generated world is set in.
COUNTRY = "AFG"
#: Label of every generated product (nothing here is real).
GENERATED_LABEL = "synthetic"
#: Provinces a world's stronghold is drawn from: places armed groups have held
#: (ISIS-K in Nangarhar and Kunar, the Taliban in Hilmand, Kandahar, Kunduz, ...).
STRONGHOLDS: tuple[str, ...] = (
    "Nangarhar", "Kunar", "Hilmand", "Kandahar", "Kunduz", "Faryab", "Paktya", "Ghazni", "Badakhshan", "Hirat",
)
#: Targets further than this from the stronghold's centroid are "far".
FAR_KM = 400.0
#: Distance classes of spread targets, drawn with equal probability.
TARGET_CLASSES: tuple[str, ...] = ("neighbour", "near", "far")
#: Every generator :func:`generate_world` knows.
GENERATORS: tuple[str, ...] = (
    "endemic", "hawkes", "endemic_thinned", "hawkes_thinned", "null_endemic", "null_hawkes",
    "null_endemic_thinned", "null_hawkes_thinned",
)


@dataclass(frozen=True)
class WorldDesign:
    """What every generator shares: the period, the stronghold and the spread targets.

    Parameters
    ----------
    start, end
        First and last day simulated.
    stronghold
        A province name, or ``"random"`` (one of :data:`STRONGHOLDS`, by seed).
    targets
        Spread targets per world (0: a null world).
    onsets
        Onset dates are drawn uniformly (as Mondays) between these two dates.
    fatality_scale, fatality_tail, fatality_cap
        Discrete Lomax fatalities ``floor(scale * (U ** (-1 / tail) - 1))``,
        at most ``fatality_cap`` (the deadliest attacks in Afghanistan killed
        a few hundred): median about ``0.7 * scale`` for ``tail=1.3``, and a
        tail heavy enough for occasional mass-casualty attacks (P(>= 25) about 5 %).
    density
        Multiplies every rate (the thinned worlds start from dense ones).
    break_date, break_keep
        A structural break: from ``break_date`` on, each event is kept with
        probability ``break_keep`` (0.2: the level drops by 80 %, as the
        Afghan conflict series did after August 2021; see :func:`level_break`).
        ``None`` (default): no break.
    """

    start: str = "2017-01-02"
    end: str = "2021-12-31"
    stronghold: str = "random"
    targets: int = 3
    onsets: tuple[str, str] = ("2019-07-01", "2021-09-27")
    fatality_scale: float = 3.0
    fatality_tail: float = 1.3
    fatality_cap: float = 300.0
    density: float = 1.0
    break_date: str | None = None
    break_keep: float = 0.2

    def __post_init__(self) -> None:
        whole_number(self.targets, "WorldDesign.targets", minimum=0)
        fraction(self.break_keep, "WorldDesign.break_keep", include_one=True)
        if self.break_date is not None and not (
            pd.Timestamp(self.start) < pd.Timestamp(self.break_date) <= pd.Timestamp(self.end)
        ):
            raise ParameterError(f"WorldDesign.break_date {self.break_date} must lie after start {self.start} "
                                 f"and not after end {self.end}")
        number(self.fatality_scale, "WorldDesign.fatality_scale", minimum=0)
        number(self.fatality_tail, "WorldDesign.fatality_tail", minimum=0.1)
        number(self.density, "WorldDesign.density", minimum=0.01)
        if pd.Timestamp(self.start) >= pd.Timestamp(self.end):
            raise ParameterError(f"WorldDesign.start {self.start} must come before end {self.end}")


@dataclass(frozen=True)
class HawkesConfig:
    """Parameters of the spatial Hawkes generator (rates per province-day).

    Parameters
    ----------
    stronghold_rate
        Background attacks per day in the stronghold (0.2: 1.4 a week, about
        2.8 with the offspring at the default branching ratio).
    background_rate
        Background attacks per day in every other province.
    branching
        Expected direct offspring of one attack (the branching ratio, < 1).
    decay_days
        Mean delay of an offspring after its parent (exponential).
    kernel_km
        Spatial scale of where offspring land: weight ``exp(-d / kernel_km)``
        over province centroids, ``d = 0`` for the parent's own province.
    spread_rate
        Background attacks per day a target gains from its onset.
    import_share
        From a target's onset, each offspring of a stronghold attack lands in
        that target with this probability, wherever it lies.
    seasonal_amplitude
        Log-amplitude of the yearly cycle of the background: the rates above
        hold at its peak in early July and fall to ``exp(-2 * amplitude)``
        of it in January.
    burn_in_days
        Days simulated before ``start`` (as parents only) so the process starts stationary.
    """

    stronghold_rate: float = 0.2
    background_rate: float = 0.0015
    branching: float = 0.5
    decay_days: float = 5.0
    kernel_km: float = 60.0
    spread_rate: float = 0.05
    import_share: float = 0.08
    seasonal_amplitude: float = 0.3
    burn_in_days: float = 180.0

    def __post_init__(self) -> None:
        for name in ("stronghold_rate", "background_rate", "spread_rate", "seasonal_amplitude", "burn_in_days"):
            number(getattr(self, name), f"HawkesConfig.{name}", minimum=0)
        for name in ("decay_days", "kernel_km"):
            number(getattr(self, name), f"HawkesConfig.{name}", minimum=1e-6)
        fraction(self.import_share, "HawkesConfig.import_share", include_one=True)
        number(self.branching, "HawkesConfig.branching", minimum=0)
        if self.branching >= 1:
            raise ParameterError(f"HawkesConfig.branching must be below 1 (a stable process), got {self.branching}")


@dataclass
class World:
    """One generated world.

    Attributes
    ----------
    generator
        Its generator's name (one of :data:`GENERATORS`).
    seed
        The seed it was drawn with.
    events
        Canonical events (:data:`forecast.schema.EVENTS`); ``admin1_name`` is
        one of the province's real spellings, ``admin1_code`` its unit id.
    truth
        ``unit_id, name, onset`` of the spread targets (onset: a Monday);
        empty for a null world.
    stronghold
        Stronghold unit ids.
    start, end
        The period covered.
    params
        JSON-simple description of how it was made (for RESULTS.md and tests).
    """

    generator: str
    seed: int
    events: pd.DataFrame
    truth: pd.DataFrame
    stronghold: list[str]
    start: pd.Timestamp
    end: pd.Timestamp
    params: dict[str, Any] = field(default_factory=dict)
    label: str = GENERATED_LABEL

    def panel(self, freq: str, gazetteer: Gazetteer | None = None) -> pd.DataFrame:
        """The complete panel ``unit_id, ds, y, fatalities_best`` with provinces matched from the names.

        The province of each event is found again from its spelling with
        :meth:`Gazetteer.resolve_names` (what the readers do), so a spelling
        the gazetteer does not know fails here rather than vanishing.

        Raises
        ------
        InputError
            A place name that does not resolve to the event's province.
        """
        from forecast.panel import build_panel

        gaz = gazetteer or Gazetteer.load(COUNTRY)
        resolved = gaz.resolve_names(self.events["admin1_name"])
        wrong = resolved.to_numpy(dtype=object) != self.events["admin1_code"].to_numpy(dtype=object)
        if wrong.any():
            first = self.events.loc[wrong].iloc[0]
            raise InputError(
                f"{int(wrong.sum())} event place names do not resolve to their province, e.g. "
                f"'{first['admin1_name']}' (expected {first['admin1_code']}); add the spelling to the gazetteer aliases"
            )
        events = self.events.assign(admin1_code=resolved.to_numpy())
        return build_panel(events, freq=freq, start=self.start, end=self.end, country=gaz.country_iso3)


# ------------------------------------------------------------- the design
def _distances(gaz: Gazetteer) -> np.ndarray:
    # Late import: the distance lives with the spread measures (one home).
    from forecast.spread.context import haversine_km

    lat = gaz.units["latitude"].to_numpy(dtype=float)
    lon = gaz.units["longitude"].to_numpy(dtype=float)
    return haversine_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :])


def draw_design(
    design: WorldDesign, rng: np.random.Generator, gazetteer: Gazetteer | None = None
) -> tuple[list[str], dict[str, pd.Timestamp], dict[str, str]]:
    """Stronghold, targets with onsets, and each target's distance class for one world.

    Each target's class is drawn from :data:`TARGET_CLASSES`: ``neighbour``
    (shares a border with the stronghold), ``near`` (two or three borders
    away) or ``far`` (more than :data:`FAR_KM` from it); a class with no
    province left falls back to any province outside the stronghold.

    Returns
    -------
    stronghold, onsets, classes
        Stronghold unit ids; target unit id -> onset (a Monday); target -> class.
    """
    gaz = gazetteer or Gazetteer.load(COUNTRY)
    units = gaz.unit_ids
    if design.stronghold == "random":
        strong = gaz.resolve(STRONGHOLDS[int(rng.integers(len(STRONGHOLDS)))])
    else:
        strong = gaz.resolve(design.stronghold)
        if strong is None:
            raise ParameterError(f"stronghold '{design.stronghold}' is not an Afghan province; "
                                 f"did you mean {', '.join(gaz.closest(design.stronghold))}?")
    s = units.index(strong)
    order = gaz.adjacency_order()[s]
    km = _distances(gaz)[s]
    pools = {
        "neighbour": [u for i, u in enumerate(units) if order[i] == 1],
        "near": [u for i, u in enumerate(units) if order[i] in (2, 3)],
        "far": [u for i, u in enumerate(units) if km[i] > FAR_KM],
    }
    mondays = pd.date_range(design.onsets[0], design.onsets[1], freq="W-MON")
    onsets: dict[str, pd.Timestamp] = {}
    classes: dict[str, str] = {}
    for _ in range(design.targets):
        kind = TARGET_CLASSES[int(rng.integers(len(TARGET_CLASSES)))]
        pool = [u for u in pools[kind] if u not in onsets]
        if not pool:
            kind, pool = "any", [u for u in units if u != strong and u not in onsets]
        target = pool[int(rng.integers(len(pool)))]
        onsets[target] = mondays[int(rng.integers(len(mondays)))]
        classes[target] = kind
    return [strong], onsets, classes


def heavy_tailed_fatalities(
    n: int, rng: np.random.Generator, scale: float = 3.0, tail: float = 1.3, cap: float = 300.0
) -> np.ndarray:
    """``n`` discrete Lomax fatality counts ``floor(scale * (U ** (-1 / tail) - 1))``, at most ``cap``.

    Examples
    --------
    >>> f = heavy_tailed_fatalities(100_000, np.random.default_rng(1))
    >>> float(np.median(f)), bool(0.03 < (f >= 25).mean() < 0.08)
    (2.0, True)
    """
    u = rng.random(n)
    return np.minimum(np.floor(scale * ((1.0 - u) ** (-1.0 / tail) - 1.0)), cap)


def name_variants(gazetteer: Gazetteer) -> dict[str, list[str]]:
    """Per unit, the Latin-script spellings its aliases list (English names and common variants).

    Codes and P-codes are left out: event files carry names.
    """
    aliases = gazetteer.aliases
    keep = aliases["source"].fillna("").str.contains("name|spelling", case=False, regex=True)
    latin = aliases["alias"].str.match(r"^[A-Za-z][A-Za-z '\-]*$")
    out: dict[str, list[str]] = {}
    for unit, names in aliases[keep & latin].groupby("unit_id")["alias"]:
        out[unit] = sorted(set(names))
    for unit in gazetteer.unit_ids:
        out.setdefault(unit, [gazetteer.name_of(unit)])
    return out


def _truth(onsets: Mapping[str, pd.Timestamp], gaz: Gazetteer) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "unit_id": list(onsets),
            "name": [gaz.name_of(u) for u in onsets],
            "onset": pd.to_datetime(list(onsets.values())),
        },
        columns=["unit_id", "name", "onset"],
    )


def _events(
    generator: str, seed: int, dates: np.ndarray, unit_index: np.ndarray, fatalities: np.ndarray,
    rng: np.random.Generator, gaz: Gazetteer,
) -> pd.DataFrame:
    """Canonical events at interior points of their provinces, under a random real spelling."""
    units = np.asarray(gaz.unit_ids, dtype=object)
    n = len(dates)
    unit_ids = units[unit_index]
    variants = name_variants(gaz)
    names = np.empty(n, dtype=object)
    latitude = np.empty(n)
    longitude = np.empty(n)
    points = gaz.points
    for unit, rows in pd.Series(np.arange(n)).groupby(unit_ids):
        rows = rows.to_numpy()
        spellings = variants[unit]
        names[rows] = np.asarray(spellings, dtype=object)[rng.integers(0, len(spellings), len(rows))]
        candidates = points[points["unit_id"] == unit]
        pick = rng.integers(0, len(candidates), len(rows))
        latitude[rows] = candidates["latitude"].to_numpy()[pick]
        longitude[rows] = candidates["longitude"].to_numpy()[pick]
    order = np.lexsort((unit_index, dates))
    events = pd.DataFrame(
        {
            "event_id": [f"{generator}:{seed}:{i}" for i in range(n)],
            "source": GENERATED_LABEL,
            "date": pd.to_datetime(dates[order]),
            "date_precision": "day",
            "country_iso3": COUNTRY,
            "admin1_code": pd.Series(unit_ids[order], dtype=object),
            "admin1_name": pd.Series(names[order], dtype=object),
            "admin2_name": None,
            "latitude": latitude[order],
            "longitude": longitude[order],
            "actor": GENERATED_LABEL,
            "actor_raw": f"{generator} group (seed {seed})",
            "event_type": "attack",
            "fatalities_low": np.floor(fatalities[order] * 0.7),
            "fatalities_best": fatalities[order].astype(float),
            "fatalities_high": np.ceil(fatalities[order] * 1.5),
        },
        columns=EVENT_COLUMNS,
    )
    return validate(events, EVENTS)


# ----------------------------------------------------------------- hawkes
def simulate_hawkes(
    config: HawkesConfig,
    design: WorldDesign,
    stronghold: list[str],
    onsets: Mapping[str, pd.Timestamp],
    rng: np.random.Generator,
    gazetteer: Gazetteer | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Event times (days since ``design.start``), provinces and parents of the spatial Hawkes process.

    Simulated by its cluster (branching) representation: background attacks
    are an inhomogeneous Poisson process per province (drawn at the peak
    rate and thinned by the season); every attack then has
    ``Poisson(branching)`` children, each ``Exponential(decay_days)`` later,
    placed by the spatial kernel (or, for a child of a stronghold attack
    after a target's onset, in that target with ``import_share``). Children
    after ``end`` are dropped; the ``burn_in_days`` before ``start`` are
    simulated but not returned.

    Returns
    -------
    times, units, parents
        Sorted by time; ``units`` index :attr:`Gazetteer.unit_ids`; ``parents``
        the index of each event's parent in these arrays (-1: background or a
        parent in the burn-in).
    """
    gaz = gazetteer or Gazetteer.load(COUNTRY)
    units = gaz.unit_ids
    n_units = len(units)
    t0 = -float(config.burn_in_days)
    horizon = float((pd.Timestamp(design.end) - pd.Timestamp(design.start)).days + 1)
    strong_idx = np.array([units.index(u) for u in stronghold])
    target_idx = np.array([units.index(u) for u in onsets], dtype=np.int64)
    target_on = np.array([(pd.Timestamp(d) - pd.Timestamp(design.start)).days for d in onsets.values()], dtype=float)
    density = design.density

    def season(t: np.ndarray) -> np.ndarray:
        # Peak in early July: day ~183 of the year counted from 2 January.
        start_doy = pd.Timestamp(design.start).day_of_year
        return np.exp(config.seasonal_amplitude * (np.cos(2 * np.pi * ((t + start_doy) - 183) / 365.25) - 1))

    # Background: per province a constant rate before the onset, higher after.
    times, where = [], []
    base = np.full(n_units, config.background_rate * density)
    base[strong_idx] = config.stronghold_rate * density
    for i in range(n_units):
        pieces = [(t0, horizon, base[i])]
        if i in target_idx:
            on = target_on[target_idx == i][0]
            pieces = [(t0, on, base[i]), (on, horizon, base[i] + config.spread_rate * density)]
        for a, b, rate in pieces:
            n = rng.poisson(rate * (b - a))
            t = rng.uniform(a, b, n)
            t = t[rng.random(n) < season(t)]
            times.append(t)
            where.append(np.full(len(t), i))
    times_all = [np.concatenate(times)]
    where_all = [np.concatenate(where).astype(np.int64)]
    parent_all = [np.full(len(times_all[0]), -1, dtype=np.int64)]

    kernel = np.exp(-_distances(gaz) / config.kernel_km)
    kernel /= kernel.sum(axis=1, keepdims=True)
    cumulative = np.cumsum(kernel, axis=1)
    is_strong = np.zeros(n_units, dtype=bool)
    is_strong[strong_idx] = True

    offset = 0
    generation_t, generation_u = times_all[0], where_all[0]
    while len(generation_t):
        children = rng.poisson(config.branching, len(generation_t))
        parent = np.repeat(np.arange(len(generation_t)) + offset, children)
        birth = np.repeat(generation_t, children) + rng.exponential(config.decay_days, children.sum())
        home = np.repeat(generation_u, children)
        alive = birth < horizon
        parent, birth, home = parent[alive], birth[alive], home[alive]
        # Spatial kernel: inverse-CDF draw from the parent's row.
        u = rng.random(len(birth))
        place = (cumulative[home] < u[:, None]).sum(axis=1).clip(max=n_units - 1)
        # Direct imports from the stronghold into targets struck already.
        if len(target_idx):
            from_strong = is_strong[home]
            for j, on in zip(target_idx, target_on, strict=True):
                jump = from_strong & (birth >= on) & (rng.random(len(birth)) < config.import_share)
                place[jump] = j
        offset += len(generation_t)
        times_all.append(birth)
        where_all.append(place)
        parent_all.append(parent)
        generation_t, generation_u = birth, place

    t = np.concatenate(times_all)
    u = np.concatenate(where_all)
    p = np.concatenate(parent_all)
    order = np.argsort(t, kind="stable")
    keep = t[order] >= 0.0
    new_index = np.full(len(t), -1, dtype=np.int64)
    new_index[order[keep]] = np.arange(int(keep.sum()))
    parents = p[order][keep]
    parents = np.where(parents >= 0, new_index[np.maximum(parents, 0)], -1)
    return t[order][keep], u[order][keep], parents


def hawkes_world(
    seed: int, design: WorldDesign | None = None, config: HawkesConfig | None = None,
    gazetteer: Gazetteer | None = None,
) -> World:
    """A world of the spatial Hawkes generator (see the module docstring)."""
    design = design or WorldDesign()
    config = config or HawkesConfig()
    gaz = gazetteer or Gazetteer.load(COUNTRY)
    rng = np.random.default_rng([int(seed), 15, 1])
    stronghold, onsets, classes = draw_design(design, rng, gaz)
    times, units, parents = simulate_hawkes(config, design, stronghold, onsets, rng, gaz)
    dates = (pd.Timestamp(design.start) + pd.to_timedelta(np.floor(times), unit="D")).to_numpy()
    fatalities = heavy_tailed_fatalities(len(times), rng, design.fatality_scale, design.fatality_tail, design.fatality_cap)
    name = "hawkes" if design.targets else "null_hawkes"
    events = _events(name, seed, dates, units, fatalities, rng, gaz)
    return World(
        generator=name, seed=int(seed), events=events, truth=_truth(onsets, gaz), stronghold=stronghold,
        start=pd.Timestamp(design.start), end=pd.Timestamp(design.end),
        params={"design": _plain(asdict(design)), "hawkes": asdict(config), "target_classes": classes,
                "background_events": int((parents < 0).sum())},
    )


# ---------------------------------------------------------------- endemic
def endemic_world(
    seed: int, design: WorldDesign | None = None, gazetteer: Gazetteer | None = None, **scenario_options: Any
) -> World:
    """A world of the project's endemic-epidemic process with this module's design.

    ``scenario_options`` are :class:`forecast.data.synthetic.ScenarioConfig`
    fields. ``design.density`` multiplies the endemic and spread rates (the
    autoregression then scales the rest). Fatalities are redrawn heavy-tailed.
    """
    from forecast.data.synthetic import ScenarioConfig, generate_scenario

    design = design or WorldDesign()
    gaz = gazetteer or Gazetteer.load(COUNTRY)
    rng = np.random.default_rng([int(seed), 15, 2])
    stronghold, onsets, classes = draw_design(design, rng, gaz)
    defaults = ScenarioConfig()
    options = {
        "stronghold_rate": defaults.stronghold_rate, "background_rate": defaults.background_rate,
        "spread_rate": defaults.spread_rate, **scenario_options,
    }
    for key in ("stronghold_rate", "background_rate", "spread_rate"):
        options[key] = options[key] * design.density
    scenario = generate_scenario(
        seed=int(rng.integers(2**31)), start=design.start, end=design.end,
        stronghold=tuple(gaz.name_of(u) for u in stronghold),
        spread={gaz.name_of(u): f"{d:%F}" for u, d in onsets.items()}, **options,
    )
    raw = scenario.events
    keep = raw["date"] <= pd.Timestamp(design.end)
    raw = raw[keep]
    position = {u: i for i, u in enumerate(gaz.unit_ids)}
    unit_index = raw["admin1_code"].map(position).to_numpy(dtype=np.int64)
    fatalities = heavy_tailed_fatalities(len(raw), rng, design.fatality_scale, design.fatality_tail, design.fatality_cap)
    name = "endemic" if design.targets else "null_endemic"
    events = _events(name, seed, raw["date"].to_numpy(), unit_index, fatalities, rng, gaz)
    config = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in asdict(scenario.config).items()}
    return World(
        generator=name, seed=int(seed), events=events, truth=_truth(onsets, gaz), stronghold=stronghold,
        start=pd.Timestamp(design.start), end=pd.Timestamp(design.end),
        params={"design": _plain(asdict(design)), "endemic": config, "target_classes": classes},
    )


# --------------------------------------------------------------- thinning
def thinning_probabilities(fatalities: np.ndarray, keep: float, bias: float = 1.0) -> np.ndarray:
    """Per-event keep probabilities ``min(1, c (1 + fatalities) ** bias)`` averaging ``keep``.

    ``c`` is found by bisection; ``bias=0`` keeps every event with
    probability ``keep``.

    Examples
    --------
    >>> p = thinning_probabilities(np.array([0.0, 0.0, 1.0, 50.0]), keep=0.3)
    >>> round(float(p.mean()), 6), bool(p[3] > p[2] > p[0])
    (0.3, True)
    """
    fraction(keep, "keep", include_one=True)
    weight = (1.0 + np.nan_to_num(np.asarray(fatalities, dtype=float))) ** bias
    if not len(weight):
        return weight
    lo, hi = 0.0, 1.0 / weight.min()
    for _ in range(100):
        mid = (lo + hi) / 2
        if np.minimum(1.0, mid * weight).mean() < keep:
            lo = mid
        else:
            hi = mid
    return np.minimum(1.0, hi * weight)


def thin_world(world: World, keep: float, rng: np.random.Generator, bias: float = 1.0) -> World:
    """"Reported attacks only": keep each event with :func:`thinning_probabilities` (biased to deadly ones).

    The truth is unchanged: a province that started to be struck did so
    whether or not the press reported it, so a target with no reported attack
    is a miss the rules cannot avoid.
    """
    probabilities = thinning_probabilities(world.events["fatalities_best"].to_numpy(), keep, bias)
    kept = rng.random(len(probabilities)) < probabilities
    events = world.events[kept].reset_index(drop=True)
    name = world.generator + "_thinned"
    params = {**world.params, "thinning": {"keep": float(keep), "bias": float(bias),
                                           "expected_kept": float(probabilities.sum()),
                                           "events_before": int(len(probabilities)), "events_after": int(kept.sum())}}
    return replace(world, generator=name, events=events, params=params)


def level_break(world: World, date: Any, keep: float, rng: np.random.Generator) -> World:
    """A structural break: every event from ``date`` on is kept with probability ``keep``, whatever its kind.

    The level of every province drops to ``keep`` times what the process
    would have made (in expectation), at once and for good, the way the
    Afghan conflict series fell by about 80 % after August 2021. Events
    before ``date`` are untouched; the truth is unchanged.

    Examples
    --------
    >>> w = generate_world("endemic", 1, WorldDesign(end="2023-12-31"))
    >>> cut = level_break(w, "2021-09-01", 0.2, np.random.default_rng(0))
    >>> after = lambda x: int((x.events["date"] >= "2021-09-01").sum())
    >>> bool(0.15 < after(cut) / after(w) < 0.25), int((cut.events["date"] < "2021-09-01").sum()) == len(w.events) - after(w)
    (True, True)
    """
    fraction(keep, "keep", include_one=True)
    when = pd.Timestamp(date)
    late = (world.events["date"] >= when).to_numpy()
    kept = ~late | (rng.random(len(late)) < keep)
    events = world.events[kept].reset_index(drop=True)
    params = {**world.params, "break": {"date": f"{when:%F}", "keep": float(keep),
                                        "events_after_before": int(late.sum()), "events_after": int((late & kept).sum())}}
    return replace(world, events=events, params=params)


# ------------------------------------------------------------------ entry
def generate_world(
    generator: str, seed: int, design: WorldDesign | None = None, gazetteer: Gazetteer | None = None,
    *, keep_range: tuple[float, float] = (0.05, 0.20), dense: float = 8.0, bias: float = 1.0,
) -> World:
    """One world of a named generator (:data:`GENERATORS`).

    Parameters
    ----------
    generator
        ``endemic``, ``hawkes``, either with ``_thinned`` (a world ``dense``
        times as active, thinned to a keep fraction drawn uniformly from
        ``keep_range`` with fatality ``bias``), and each with the prefix
        ``null_`` for no spread.
    seed
        Seeds everything; the same arguments give the same world.
    design
        The shared design (default :class:`WorldDesign`); ``targets`` is set
        to 0 for the null generators; ``design.break_date`` adds a
        structural break (:func:`level_break`) after any thinning.

    Examples
    --------
    >>> w = generate_world("hawkes_thinned", 3)
    >>> w.generator, len(w.truth), 0.05 <= w.params["thinning"]["keep"] <= 0.2
    ('hawkes_thinned', 3, True)
    """
    choice(generator, "generator", GENERATORS)
    design = design or WorldDesign()
    gaz = gazetteer or Gazetteer.load(COUNTRY)
    base = generator.removeprefix("null_")
    thinned = base.endswith("_thinned")
    kind = base.removesuffix("_thinned")
    if generator.startswith("null_"):
        design = replace(design, targets=0)
    if thinned:
        design = replace(design, density=design.density * dense)
    world = hawkes_world(seed, design, gazetteer=gaz) if kind == "hawkes" else endemic_world(seed, design, gaz)
    if thinned:
        rng = np.random.default_rng([int(seed), 15, 3])
        keep = float(rng.uniform(*keep_range))
        world = thin_world(world, keep, rng, bias)
    if design.break_date is not None:
        world = level_break(world, design.break_date, design.break_keep, np.random.default_rng([int(seed), 15, 4]))
    return world


def generate_worlds(generator: str, seeds: Iterable[int], design: WorldDesign | None = None, **options: Any):
    """:func:`generate_world` for each seed (a generator of :class:`World`)."""
    gaz = Gazetteer.load(COUNTRY)
    for seed in seeds:
        yield generate_world(generator, int(seed), design, gaz, **options)


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}
