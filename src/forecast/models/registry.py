"""Models by name, and the one loop that forecasts a panel with several of them.

A model is named by a short spec string, so notebooks and the command line
choose models from parameters::

    "glm_negbin"                                # defaults
    "glm_negbin(trend=True, season=52, ar=2)"   # keyword options, Python literals
    "ensemble(members=['glm_negbin', 'prophet'], weights={'glm_negbin': 2, 'prophet': 1})"

Specs are parsed with :mod:`ast` and option values read with
:func:`ast.literal_eval`: nothing is executed. Every model takes an ``alias``
option (its name in the output), so two configurations of one model can be
compared side by side.

A bare ``"ensemble"`` (no ``members``) in a model list means "the ensemble of
the other models in this list" (ensembles excepted), with equal weights unless
``weights`` are given: ``["hist_mean", "glm_negbin", "ensemble"]`` forecasts
with ``hist_mean``, ``glm_negbin`` and their equal-weight mixture.
:func:`forecast_panel` fits and forecasts each model once, also when it is an
ensemble's member; :func:`expand_ensembles` writes the members out for other
loops (e.g. a backtest). A bare ensemble with no other model in the list is a
:class:`~forecast.errors.ParameterError`.

Examples
--------
>>> ModelSpec.parse("glm_negbin(trend=True, season=52)")
ModelSpec(name='glm_negbin', options={'trend': True, 'season': 52})
>>> str(ModelSpec("bootstrap", {"window": 8}))
'bootstrap(window=8)'
>>> parse_model_list("zero, glm_negbin(season=52, ar=2),prophet")
['zero', 'glm_negbin(season=52, ar=2)', 'prophet']
>>> make_model("hist_mean(window=52)")
HistoricalMean(window=52, alias='hist_mean')
>>> [str(m) for m in expand_ensembles(["hist_mean", "glm_negbin(ar=2)", "ensemble"])]
['hist_mean', 'glm_negbin(ar=2)', "ensemble(members=['hist_mean', 'glm_negbin(ar=2)'])"]
"""

from __future__ import annotations

import ast
import concurrent.futures
import dataclasses
import difflib
import importlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Self

import numpy as np
import pandas as pd

from forecast.checks import draw_budget, draw_count, number, steps_ahead, whole_number
from forecast.errors import ConvergenceError, ForecastError, InputError, ModelError, ParameterError
from forecast.models.base import CountModel, Neighbours
from forecast.models.frame import DEFAULT_DRAWS, ForecastFrame
from forecast.panel import PanelData, cut

__all__ = [
    "BASELINES",
    "ModelSpec",
    "available_models",
    "expand_ensembles",
    "forecast_panel",
    "make_model",
    "model_class",
    "model_options",
    "parse_model_list",
]

#: Registry name -> "module:Class". Modules are imported on first use, so naming
#: ``zero`` does not import prophet.
logger = logging.getLogger(__name__)

MODELS: dict[str, str] = {
    "zero": "forecast.models.baselines:Zero",
    "last": "forecast.models.baselines:LastObserved",
    "hist_mean": "forecast.models.baselines:HistoricalMean",
    "bootstrap": "forecast.models.baselines:Bootstrap",
    "seasonal_naive": "forecast.models.baselines:SeasonalNaive",
    "glm_poisson": "forecast.models.glm:PoissonGLM",
    "glm_negbin": "forecast.models.glm:NegBinGLM",
    "ingarch": "forecast.models.ingarch:NegBinIngarch",
    "prophet": "forecast.models.prophet:ProphetCount",
    "ensemble": "forecast.models.ensemble:Ensemble",
    "endemic_epidemic": "forecast.models.registry:EndemicEpidemicModel",
}

#: The baselines (VIEWS' naive forecasters): every comparison of models states skill against them.
BASELINES = ("zero", "last", "hist_mean", "bootstrap", "seasonal_naive")


@dataclass
class EndemicEpidemicModel(CountModel):
    """The spread model (:mod:`forecast.models.endemic_epidemic`) under the common interface.

    One joint fit over all units (no per-unit fallback: a failed fit raises).
    Options are the literal-valued fields of
    :class:`~forecast.models.endemic_epidemic.EndemicEpidemicConfig`, plus:

    ``unit_intercepts``
        ``True``: one endemic intercept per unit; ``False``: one shared;
        ``"auto"`` (default): an intercept of its own for each unit with at
        least ``min_unit_events`` counts in the fitted window, and one shared
        by the others (with the population offset it spreads their rate by
        population). A unit without counts has no finite intercept of its
        own, so "auto" is what keeps the model fitting on real data where
        some provinces never see an attack.
    ``window``
        Fit on the last ``window`` periods only (``None``: all). Real conflict
        series break (Afghanistan's fell by 80 % after August 2021); a window
        lets the backtest choose between a long memory and a recent one.
    ``halflife_months``
        Down-weight old periods in the likelihood: weights halve every
        ``halflife_months`` months back from the last period, whatever the
        panel's frequency (the smooth alternative to ``window``).
    ``lags``
        The epidemic parts see the mean of the last ``lags`` counts instead
        of the last one (1, R's hhh4): a unit that was struck two or three
        periods ago still carries that activity into its forecast.
    ``overdispersion``
        ``"shared"`` (default) or ``"unit"`` as in the configuration, or
        ``"auto"``: a ``psi`` of its own for each unit with at least
        ``min_unit_events`` counts in the fitted window, one shared by the
        others (a busy stronghold is then not given the spread of the sparse
        provinces, nor they its).
    ``population``
        Use each unit's population share as the endemic offset when the
        units are those of a shipped gazetteer (the default); ``False``:
        no offset.

    ``season_period=None`` takes the season of the panel's frequency. The
    neighbourhood is ``fit(..., neighbours={unit: [...]})`` (required when
    ``ne=True``).
    """

    trend: bool = True
    season_period: float | None = None
    harmonics: int = 1
    unit_intercepts: bool | str = "auto"
    min_unit_events: int = 10
    window: int | None = None
    halflife_months: float | None = None
    lags: int = 1
    population: bool = True
    weights: str = "adjacency"
    maxlag: int = 5
    family: str = "negbin1"
    overdispersion: str = "shared"
    ar: bool = True
    ne: bool = True
    alias: str = "endemic_epidemic"

    #: Options of this adapter that are not fields of the model's configuration.
    _OWN_OPTIONS = ("alias", "unit_intercepts", "min_unit_events", "window", "halflife_months", "lags", "population",
                    "overdispersion")

    def __post_init__(self) -> None:
        if self.unit_intercepts not in (True, False, "auto"):
            raise ParameterError(
                f"endemic_epidemic: unit_intercepts={self.unit_intercepts!r} must be True, False or 'auto'"
            )
        whole_number(self.min_unit_events, "endemic_epidemic: option min_unit_events", minimum=1)
        whole_number(self.window, "endemic_epidemic: option window", minimum=3, allow_none=True)
        if self.halflife_months is not None:
            number(self.halflife_months, "endemic_epidemic: option halflife_months", minimum=0, strict=True)
        whole_number(self.lags, "endemic_epidemic: option lags", minimum=1)
        if self.overdispersion not in ("shared", "unit", "auto"):
            raise ParameterError(
                f"endemic_epidemic: overdispersion={self.overdispersion!r} must be 'shared', 'unit' or 'auto'"
            )
        if not isinstance(self.population, bool):
            raise ParameterError(f"endemic_epidemic: population={self.population!r} must be True or False")
        self._config(52.0)  # options fail here, when the model is named, not at fit time

    def _config(
        self, season: float, unit_intercepts: bool = False, covariates: Sequence[str] = (),
        own_overdispersion: Sequence[str] = (),
    ) -> Any:
        from forecast.models.endemic_epidemic import EndemicEpidemicConfig

        options = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in self._OWN_OPTIONS}
        options["season_period"] = self.season_period or season
        # The season is a year of periods: months become periods through it.
        halflife = None if self.halflife_months is None else float(self.halflife_months) * season / 12.0
        return EndemicEpidemicConfig(
            **options, unit_intercepts=unit_intercepts, covariates=tuple(covariates), halflife=halflife,
            lag_weights=(1.0,) * int(self.lags),
            overdispersion="unit" if self.overdispersion == "unit" else "shared",
            own_overdispersion=tuple(own_overdispersion),
        )

    def own_intercepts(self, counts: pd.Series) -> list[str]:
        """Units given an endemic intercept of their own, from the total count per unit of the fitted window.

        With ``unit_intercepts="auto"``: the units with at least
        ``min_unit_events`` counts. The others share one intercept, which
        needs some counts too: while they have none, the least busy unit
        with its own intercept joins them.

        Examples
        --------
        >>> m = EndemicEpidemicModel()
        >>> m.own_intercepts(pd.Series({"A": 40, "B": 12, "C": 0, "D": 3}))
        ['A', 'B']
        >>> m.own_intercepts(pd.Series({"A": 40, "B": 12, "C": 0}))
        ['A']
        """
        own = counts[counts >= self.min_unit_events].sort_values(ascending=False, kind="stable")
        if len(own) == len(counts):
            return list(counts.index)
        rest = counts.drop(own.index)
        if rest.sum() == 0 and len(own):
            own = own.iloc[:-1]
        return [u for u in counts.index if u in own.index]

    def fit(
        self,
        panel: pd.DataFrame,
        *,
        neighbours: Neighbours | None = None,
        freq: str | None = None,
        progress: bool = False,
    ) -> Self:
        """Fit jointly to all units of ``panel``."""
        from forecast.models.endemic_epidemic import EndemicEpidemic
        from forecast.models.glm import resolve_neighbours
        from forecast.panel import default_season

        data = PanelData.from_panel(panel, freq=freq)
        if self.window is not None and len(data.ds) > self.window:
            data = PanelData.from_panel(panel.loc[panel["ds"] >= data.ds[-self.window]], freq=data.freq)
        frame = data.to_frame()
        borders = None
        if self.ne:
            adjacency = resolve_neighbours(data.units, neighbours)
            borders = pd.DataFrame(
                [(a, b) for a, nbs in adjacency.items() for b in nbs], columns=["from", "to"]
            )
        self.own_intercepts_: list[str] = []
        unit_terms = self.unit_intercepts is True
        if self.unit_intercepts == "auto":
            totals = frame.groupby("unit_id", sort=False)["y"].sum()
            self.own_intercepts_ = self.own_intercepts(totals)
            if len(self.own_intercepts_) == len(totals):
                unit_terms, self.own_intercepts_ = True, []
        # A unit's own intercept is the shared one plus an indicator's coefficient.
        self._indicators = {f"unit_{u}": u for u in self.own_intercepts_}
        frame = _with_indicators(frame, self._indicators)
        season = float(default_season(data.freq) or 52)
        own_psi: list[str] = []
        if self.overdispersion == "auto":
            totals = frame.groupby("unit_id", sort=False)["y"].sum()
            own_psi = self.own_intercepts(totals)  # the same rule: the shared rest keeps some counts
        config = self._config(season, unit_terms, list(self._indicators), own_psi)
        offsets = population_shares(data.units) if self.population else None
        self.model_ = EndemicEpidemic(config)
        try:
            self.model_.fit(frame, borders, offsets, freq=data.freq)
        except ConvergenceError:
            if config.family != "negbin1":
                raise
            # On few events the overdispersion runs towards 0 (the Poisson limit), a boundary the
            # optimiser approaches without reaching: fit that limit (as the spillover model does).
            logger.info("%s: negative binomial fit did not converge; fitted the Poisson limit", self.alias)
            self.model_ = EndemicEpidemic(dataclasses.replace(config, family="poisson"))
            self.model_.fit(frame, borders, offsets, freq=data.freq)
        self.data_ = data
        return self

    def _future_covariates(self, h: int) -> pd.DataFrame | None:
        if not self._indicators:
            return None
        future = self.model_.fitted_.future_ds(h)
        table = pd.DataFrame(
            {"unit_id": np.repeat(self.data_.units, h), "ds": np.tile(future, len(self.data_.units))}
        )
        return _with_indicators(table, self._indicators)

    def predict(self, h: int, *, n_draws: int = DEFAULT_DRAWS, seed: int = 0) -> ForecastFrame:
        """Simulated paths of the joint model for steps ``1..h``."""
        self._check_fitted()
        h = steps_ahead(h, "horizon")
        frame = self.model_.predict(
            h, n_draws=draw_count(n_draws, "n_draws"), seed=seed, future_covariates=self._future_covariates(h)
        )
        frame.index["model"] = self.alias
        return frame


def _with_indicators(frame: pd.DataFrame, indicators: dict[str, str]) -> pd.DataFrame:
    """``frame`` with a 0/1 column per ``{column: unit}`` (joined at once: a panel of 140 units needs 140)."""
    if not indicators:
        return frame
    ids = frame["unit_id"].to_numpy()
    columns = pd.DataFrame({c: (ids == u).astype(float) for c, u in indicators.items()}, index=frame.index)
    return pd.concat([frame, columns], axis=1)


def population_shares(units: Sequence[str]) -> pd.Series | None:
    """Population shares of ``units`` when they are units of a shipped gazetteer, else None.

    The endemic-epidemic model's offset: a unit's share of the population
    its endemic rate is spread by.

    Examples
    --------
    >>> round(float(population_shares(["AF-KAB", "AF-NAN"]).sum()), 6)
    1.0
    >>> population_shares(["A", "B"]) is None
    True
    >>> bool(population_shares(["AF-NAN", "PK-KP"])["PK-KP"] > 0.5)
    True
    """
    from forecast.geo.gazetteer import Gazetteer

    wanted = [str(u) for u in units]
    available = Gazetteer.available_countries()
    # One country's gazetteer first; units of several countries (AF-NAN, PK-KP) then all of them.
    for iso3 in [*available, ",".join(available)]:
        shares = Gazetteer.load(iso3).population_fraction()
        if set(wanted) <= set(shares.index):
            chosen = shares.loc[wanted].astype(float)
            return chosen / chosen.sum()
    return None


def available_models() -> list[str]:
    """Names :func:`make_model` accepts."""
    return list(MODELS)


def model_class(name: str) -> type[CountModel]:
    """The class registered under ``name``.

    Raises
    ------
    ParameterError
        Unknown name; the message lists the available ones.
    """
    if name not in MODELS:
        close = difflib.get_close_matches(name, MODELS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ParameterError(f"unknown model '{name}'{hint}; available models: {', '.join(MODELS)}")
    module, _, cls = MODELS[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def model_options(name: str) -> dict[str, Any]:
    """Options of model ``name`` with their defaults.

    Examples
    --------
    >>> model_options("bootstrap")
    {'window': 12, 'alias': 'bootstrap'}
    """
    return {f.name: f.default for f in fields(model_class(name)) if f.init}  # type: ignore[arg-type]


@dataclass(frozen=True)
class ModelSpec:
    """A model name and its keyword options; ``str(spec)`` gives the text form back."""

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> ModelSpec:
        """Read ``"name"`` or ``"name(option=value, ...)"``; values are Python literals.

        Raises
        ------
        ParameterError
            The text is not of that form, or a value is not a literal.
        """
        form = "write a model as name or name(option=value, ...), e.g. glm_negbin(season=52)"
        if not isinstance(text, str) or not text.strip():
            raise ParameterError(f"empty model specification; {form}")
        if len(text) > MAX_SPEC_LENGTH:
            # Python's parser recurses per nested operator: 100,000 unary minus signs exhaust memory.
            raise ParameterError(f"model specification of {len(text):,} characters is longer than the "
                                 f"{MAX_SPEC_LENGTH} allowed; {form}")
        try:
            node = ast.parse(text.strip(), mode="eval").body
        except (SyntaxError, MemoryError, RecursionError, ValueError) as exc:
            raise ParameterError(f"cannot read model specification '{text[:80]}'; {form}") from exc
        if isinstance(node, ast.Name):
            return cls(node.id, {})
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            raise ParameterError(f"cannot read model specification '{text}'; {form}")
        if node.args or any(k.arg is None for k in node.keywords):
            raise ParameterError(f"model '{node.func.id}': options must be named (option=value) in '{text}'")
        options = {}
        for keyword in node.keywords:
            try:
                options[keyword.arg] = ast.literal_eval(keyword.value)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
                try:
                    shown = ast.unparse(keyword.value)[:80]
                except RecursionError:  # deeply nested operators: show the raw text instead
                    shown = text[:80]
                raise ParameterError(
                    f"model '{node.func.id}': option {keyword.arg}={shown} is not a "
                    "literal; use numbers, 'strings', True/False/None, lists or dicts"
                ) from exc
        return cls(node.func.id, options)

    def __str__(self) -> str:
        if not self.options:
            return self.name
        return f"{self.name}({', '.join(f'{k}={v!r}' for k, v in self.options.items())})"

    @property
    def alias(self) -> str:
        """The name in a forecast's ``model`` column: the ``alias`` option, else the model's name.

        Examples
        --------
        >>> ModelSpec.parse("endemic_epidemic(halflife_months=12, alias='endemic_recent')").alias
        'endemic_recent'
        """
        return str(self.options.get("alias", self.name))

    def build(self) -> CountModel:
        """Instantiate the model; unknown options raise :class:`ParameterError` listing valid ones."""
        cls = model_class(self.name)
        valid = cls.option_names()
        unknown = [k for k in self.options if k not in valid]
        if unknown:
            raise ParameterError(
                f"model '{self.name}' has no option {', '.join(repr(k) for k in unknown)}; "
                f"valid options: {', '.join(valid)}"
            )
        alias = self.options.get("alias", "")
        if "alias" in self.options and (not isinstance(alias, str) or not alias.strip()):
            raise ParameterError(f"model '{self.name}': alias must be a non-empty string, got {alias!r}")
        options = dict(self.options)
        members = options.get("members")
        if self.name == "ensemble" and isinstance(members, list | tuple):
            # Member specs become models here, above the ensemble module, so the
            # ensemble never looks models up by name.
            options["members"] = [make_model(m) for m in members]
        try:
            return cls(**options)
        except TypeError as exc:  # e.g. an option of the wrong kind that the class did not check
            raise ParameterError(f"model '{self.name}': {exc}") from exc


def make_model(spec: str | ModelSpec | CountModel) -> CountModel:
    """A model from a spec string, a :class:`ModelSpec` or an existing model (returned as is).

    Examples
    --------
    >>> make_model("glm_negbin(season=52, ar=2)").ar
    2
    >>> make_model("glm_nebgin")
    Traceback (most recent call last):
    ...
    forecast.errors.ParameterError: unknown model 'glm_nebgin' (did you mean 'glm_negbin'?); available models: zero, last, hist_mean, bootstrap, seasonal_naive, glm_poisson, glm_negbin, ingarch, prophet, ensemble, endemic_epidemic
    """
    if isinstance(spec, CountModel):
        return spec
    if isinstance(spec, ModelSpec):
        return spec.build()
    if isinstance(spec, str):
        return ModelSpec.parse(spec).build()
    raise ParameterError(f"a model is a name like 'glm_negbin(season=52)', a ModelSpec or a model; got {spec!r}")


def needs_neighbours(model: str | ModelSpec | CountModel) -> bool:
    """Whether a model has a neighbour term (and so needs the units' adjacency); an ensemble if any member has.

    Examples
    --------
    >>> needs_neighbours("endemic_epidemic"), needs_neighbours("glm_negbin"), needs_neighbours("ingarch(neighbours=True)")
    (True, False, True)
    """
    built = make_model(model)
    members = getattr(built, "members", None)
    if members:
        return any(needs_neighbours(member) for member in members)
    return getattr(built, "ne", False) is True or getattr(built, "neighbours", False) is True


def without_neighbour_terms(models: str | Sequence[str | ModelSpec | CountModel]) -> tuple[list, list[str]]:
    """The models that run without an adjacency, and the aliases of those left out.

    Examples
    --------
    >>> without_neighbour_terms(["hist_mean", "endemic_epidemic(lags=4)", "glm_negbin"])
    (['hist_mean', 'glm_negbin'], ['endemic_epidemic'])
    """
    if isinstance(models, str):
        models = parse_model_list(models)
    kept, left = [], []
    for model in models:
        if needs_neighbours(model):
            spec = model if isinstance(model, CountModel) else ModelSpec.parse(model) if isinstance(model, str) else model
            left.append(getattr(spec, "alias", None) or str(model))
        else:
            kept.append(model)
    return kept, left


def _is_ensemble(model: str | ModelSpec | CountModel) -> tuple[bool, bool]:
    """Whether ``model`` is an ensemble, and whether it is a bare one (no members given)."""
    from forecast.models.ensemble import Ensemble

    if isinstance(model, Ensemble):
        return True, model.bare
    if isinstance(model, CountModel):
        return False, False
    spec = ModelSpec.parse(model) if isinstance(model, str) else model
    is_ensemble = isinstance(spec, ModelSpec) and spec.name == "ensemble"
    return is_ensemble, is_ensemble and spec.options.get("members") is None


def expand_ensembles(
    models: str | ModelSpec | CountModel | Sequence[str | ModelSpec | CountModel],
) -> list[str | ModelSpec | CountModel]:
    """The model list with each bare ``ensemble`` given the other models of the list as members.

    The members of a bare ensemble are the list's models that are not
    ensembles, in order; its ``weights`` and ``alias`` options are kept. A bare
    ensemble written as text becomes a :class:`ModelSpec` (members as spec
    text where the list had text), a bare :class:`~forecast.models.Ensemble`
    object a new one; every other entry is returned as it is.

    Raises
    ------
    ParameterError
        A bare ensemble and no other model to combine.

    Examples
    --------
    >>> [str(m) for m in expand_ensembles("zero, last, ensemble(weights={'zero': 1, 'last': 3})")]
    ['zero', 'last', "ensemble(members=['zero', 'last'], weights={'zero': 1, 'last': 3})"]
    """
    from forecast.models.ensemble import Ensemble

    if isinstance(models, str):
        models = parse_model_list(models)
    elif isinstance(models, ModelSpec | CountModel):
        models = [models]
    models = list(models)
    kinds = [_is_ensemble(m) for m in models]
    others = [m for m, (is_ensemble, _) in zip(models, kinds, strict=True) if not is_ensemble]
    members = [str(m) if isinstance(m, ModelSpec) else m.strip() if isinstance(m, str) else m for m in others]
    expanded: list[str | ModelSpec | CountModel] = []
    for model, (_, bare) in zip(models, kinds, strict=True):
        if not bare:
            expanded.append(model)
            continue
        if not others:
            raise ParameterError(
                "a bare 'ensemble' combines the other models in the list, and there are none; list the "
                "models to combine with it, e.g. models=['hist_mean', 'glm_negbin', 'ensemble'], or name "
                "its members: ensemble(members=['hist_mean', 'glm_negbin'])"
            )
        if isinstance(model, Ensemble):
            expanded.append(Ensemble(members=[make_model(m) for m in others], weights=model.weights, alias=model.alias))
        else:
            spec = ModelSpec.parse(model) if isinstance(model, str) else model
            options = {key: value for key, value in spec.options.items() if key != "members"}
            expanded.append(ModelSpec("ensemble", {"members": members, **options}))
    return expanded


#: The longest model specification read (the longest real one is under 100 characters).
MAX_SPEC_LENGTH = 1000


def parse_model_list(text: str) -> list[str]:
    """Split ``"a, b(x=1, y=[2, 3]), c"`` at top-level commas (not inside brackets or quotes).

    A list written as the run parameter's YAML, ``[a, "b(x=1)"]``, means the
    same: ``--models`` and ``-p models=`` take either spelling.

    Examples
    --------
    >>> parse_model_list("hist_mean, glm_negbin(ar=2)")
    ['hist_mean', 'glm_negbin(ar=2)']
    >>> parse_model_list('[hist_mean, "glm_negbin(ar=2)"]')
    ['hist_mean', 'glm_negbin(ar=2)']
    """
    stripped = text.strip()
    if stripped.startswith("[") and stripped.endswith("]"):
        items = parse_model_list(stripped[1:-1])
        return [item[1:-1] if len(item) >= 2 and item[0] == item[-1] and item[0] in "'\"" else item for item in items]
    parts, depth, quote, current = [], 0, "", []
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    parts.append("".join(current).strip())
    if any(not p for p in parts) or depth or quote:
        raise ParameterError(f"cannot split model list '{text}'; write e.g. --models zero,last,glm_negbin(ar=2)")
    return parts


def truncate_panel(panel: pd.DataFrame, as_of: str | pd.Timestamp | None, freq: str) -> pd.DataFrame:
    """The periods complete by ``as_of`` (all when None): what was known at a forecast origin.

    Delegates to :func:`forecast.panel.truncate` (a period counts only once it
    has ended), with a clear error when nothing is left.
    """
    if as_of is None:
        return panel
    panel = panel.copy()
    panel.attrs = {**panel.attrs, "freq": freq}
    return cut(panel, as_of)[0]


def _forecast_units(
    model: CountModel, rows: pd.DataFrame, horizon: int, n_draws: int, seed: int, freq: str
) -> ForecastFrame | ForecastError:
    """Fit a unit-separable ``model`` to one group's ``rows`` and forecast (runs on a worker).

    A model or input error is returned, not raised, so one model failing
    leaves the other models' tasks running.
    """
    try:
        return model.fit(rows, freq=freq, progress=False).predict(horizon, n_draws=n_draws, seed=seed)
    except (ModelError, InputError) as exc:
        return exc


def _forecast_in_groups(
    models: Sequence[CountModel],
    panel: pd.DataFrame,
    data: PanelData,
    horizon: int,
    n_draws: int,
    seed: int,
    executor: concurrent.futures.Executor | None,
) -> dict[int, ForecastFrame | ForecastError]:
    """The forecasts of the unit-separable ``models`` by ``id``, in unit groups on ``executor`` (none with one worker)."""
    from forecast.parallel import executor_workers, group_count, run_tasks, share, split_evenly

    separable = [m for m in models if getattr(m, "unit_separable", False)]
    n_groups = group_count(len(data.units), len(separable), executor_workers(executor))
    if n_groups <= 1 or not separable:
        return {}
    unit_ids = panel["unit_id"].astype(str)
    groups = split_evenly(data.units, n_groups)
    rows = share(executor, [panel.loc[unit_ids.isin(g).to_numpy()] for g in groups])
    tasks = [(m, part, horizon, n_draws, seed, data.freq) for m in separable for part in rows]
    outcomes = run_tasks(_forecast_units, tasks, executor=executor, desc="forecast", unit="task")
    out: dict[int, ForecastFrame | ForecastError] = {}
    for i, model in enumerate(separable):
        parts = outcomes[i * len(groups):(i + 1) * len(groups)]
        error = next((p for p in parts if not isinstance(p, ForecastFrame)), None)
        if error is not None:
            out[id(model)] = error
            continue
        frame = ForecastFrame.concat(parts)  # groups in unit order: the whole panel's row order
        frame.meta.update(parts[0].meta)
        out[id(model)] = frame
    return out


def forecast_panel(
    panel: pd.DataFrame,
    models: str | ModelSpec | CountModel | Sequence[str | ModelSpec | CountModel],
    horizon: int,
    *,
    as_of: str | pd.Timestamp | None = None,
    n_draws: int = DEFAULT_DRAWS,
    seed: int = 0,
    progress: bool = True,
    neighbours: Neighbours | None = None,
    freq: str | None = None,
    skip_failures: bool = False,
    executor: concurrent.futures.Executor | None = None,
) -> ForecastFrame:
    """Fit every model to every unit and forecast steps ``1..horizon`` after the last period.

    Parameters
    ----------
    panel
        Long, complete panel ``unit_id, ds, y`` (see :data:`forecast.schema.PANEL`).
    models
        Model specs (``"glm_negbin(season=52)"``), :class:`ModelSpec`\\ s or model
        objects; a single string may list several separated by commas. A bare
        ``"ensemble"`` is the ensemble of the other models in the list (equal
        weights unless ``ensemble(weights={...})``; see :func:`expand_ensembles`).
        Each model is fitted and forecast once, also where it is an
        ensemble's member (a member equal to a listed model, same class and
        options, is that model).
    horizon
        Number of periods ahead.
    as_of
        Forecast origin: only periods complete by ``as_of`` are used (see
        :func:`forecast.panel.truncate`); the forecast starts at the next period.
    n_draws, seed
        Predictive draws per unit and step, and the seed that makes them reproducible.
    progress
        Show a tqdm progress bar per model over the units.
    neighbours
        Adjacency ``{unit_id: [neighbour ids]}`` for models with neighbour terms
        (default: the AFG gazetteer).
    freq
        Panel frequency; inferred from the dates when None.
    skip_failures
        Leave out a model whose fit or forecast fails (a :class:`ModelError`,
        e.g. no convergence on sparse counts, or an :class:`InputError` about
        data this model cannot use) instead of raising, with any
        ensemble that has it as a member; ``meta["failures"]`` says which and
        why. A scheduled report then still forecasts with the models that work.
        Raises :class:`ModelError` when every model failed.
    executor
        Where the fits run (:func:`forecast.parallel.get_executor`; default
        here). On an executor with several workers each model whose units are
        fitted on their own (``unit_separable``) is cut into unit groups, a few
        tasks per worker (:func:`forecast.parallel.group_count`), each task
        given only its units' rows; the draws are the same as here, each unit's
        stream being keyed by its name. Models whose units see each other
        (neighbour terms, ``endemic_epidemic``) and ensembles run here, whole.

    Returns
    -------
    ForecastFrame
        All models' forecasts stacked; ``meta`` records the origin and settings.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> ds = pd.date_range("2020-01-06", periods=60, freq="W-MON")
    >>> panel = pd.DataFrame({"unit_id": np.repeat(["A", "B"], 60), "ds": np.tile(ds, 2),
    ...                       "y": np.random.default_rng(0).poisson(3, 120)})
    >>> ff = forecast_panel(panel, "zero,last", horizon=4, n_draws=100, progress=False)
    >>> ff.summary().groupby("model").size().to_dict()
    {'last': 8, 'zero': 8}
    >>> ff = forecast_panel(panel, "zero,last,ensemble", horizon=4, n_draws=100, progress=False)
    >>> ff.models, ff.meta["models"][-1]
    (['zero', 'last', 'ensemble'], "ensemble(members=['zero', 'last'])")
    """
    from forecast.models.ensemble import Ensemble

    horizon, n_draws = steps_ahead(horizon, "horizon"), draw_count(n_draws, "n_draws")
    seed = whole_number(seed, "seed", minimum=0, allow_none=True)
    models = expand_ensembles(models)
    built = [make_model(m) for m in models]
    if not built:
        raise ParameterError(f"no models given; available models: {', '.join(MODELS)}")
    aliases = [m.alias for m in built]
    clashes = sorted({a for a in aliases if aliases.count(a) > 1})
    if clashes:
        raise ParameterError(
            f"several models are called {clashes}; give each an alias, e.g. glm_negbin(ar=2, alias='glm_negbin_ar2')"
        )
    # Validate up front, so a bad panel fails before any model is fitted.
    freq = PanelData.from_panel(panel, freq=freq).freq
    panel = truncate_panel(panel, as_of, freq)
    data = PanelData.from_panel(panel, freq=freq)
    draw_budget(len(data.units), horizon, n_draws, len(built))  # before any model allocates its draws
    # Models first, then ensembles, which reuse the listed models' fits and forecasts.
    singles = [m for m in built if not isinstance(m, Ensemble)]
    ensembles = [m for m in built if isinstance(m, Ensemble)]
    frames: dict[int, ForecastFrame] = {}
    failures: dict[str, str] = {}
    grouped = _forecast_in_groups(singles, panel, data, horizon, n_draws, seed, executor)
    for model in singles:
        if id(model) not in grouped:
            continue
        outcome = grouped[id(model)]
        if isinstance(outcome, ForecastFrame):
            frames[id(model)] = outcome
        elif not skip_failures:
            raise outcome
        else:
            failures[model.alias] = outcome.detail
    for model in singles:
        if id(model) in frames or model.alias in failures:
            continue
        try:
            model.fit(panel, neighbours=neighbours, freq=data.freq, progress=progress)
            frames[id(model)] = model.predict(horizon, n_draws=n_draws, seed=seed)
        except (ModelError, InputError) as exc:  # the panel passed its checks: this model cannot use it
            if not skip_failures:
                raise
            failures[model.alias] = exc.detail
    working = [m for m in singles if id(m) in frames]
    for ensemble in ensembles:
        missing = [m.alias for m in ensemble.members or () if getattr(m, "alias", None) in failures]
        if missing:  # not refitted: the member would fail again
            failures[ensemble.alias] = f"its member(s) {', '.join(missing)} failed"
            continue
        ensemble.share_members(working)
        try:
            ensemble.fit(panel, neighbours=neighbours, freq=data.freq, progress=progress, fitted=working)
            done = {m.alias: frames[id(m)] for m in ensemble.models_ if id(m) in frames}
            frames[id(ensemble)] = ensemble.predict(horizon, n_draws=n_draws, seed=seed, member_forecasts=done)
        except (ModelError, InputError) as exc:
            if not skip_failures:
                raise
            failures[ensemble.alias] = exc.detail
    built = [m for m in built if id(m) in frames]
    if not built:
        raise ModelError(f"every model failed: {'; '.join(f'{a}: {e}' for a, e in failures.items())}")
    result = ForecastFrame.concat(frames[id(m)] for m in built)
    result.meta.update(
        {
            "failures": failures,
            "models": [m.spec() for m in built],
            "as_of": None if as_of is None else str(pd.Timestamp(as_of).date()),
            "last_ds": data.ds[-1],
            "freq": data.freq,
            "horizon": horizon,
            "n_draws": n_draws,
            "seed": seed,
        }
    )
    return result
