"""A weighted mixture of models' predictive draws.

The ensemble's predictive distribution is the mixture ``sum_m w_m F_m`` of its
members' distributions. With ``n`` draws, member ``m`` contributes
``round(w_m n)`` of its draws (largest remainders, so counts add up to ``n``),
chosen at random but the same draw indices for every unit and step: a member's
draw ``j`` is one simulated path, and the mixture keeps paths whole.

Weights are equal by default; :func:`weights_from_scores` turns backtest
scores (lower is better, e.g. mean CRPS per model) into weights.

A *bare* ensemble (``members`` not given) stands for "the ensemble of the
other models in this list": in :func:`~forecast.models.registry.forecast_panel`
``["hist_mean", "glm_negbin", "ensemble"]`` mixes ``hist_mean`` and
``glm_negbin`` with equal weights (or ``weights={alias: w}`` if given), and
reuses their fits and forecasts instead of fitting them again. A bare ensemble
on its own cannot be fitted.

Examples
--------
>>> import numpy as np, pandas as pd
>>> ds = pd.date_range("2020-01-06", periods=30, freq="W-MON")
>>> panel = pd.DataFrame({"unit_id": "A", "ds": ds, "y": np.arange(30) % 5})
>>> from forecast.models.baselines import LastObserved, Zero
>>> ens = Ensemble(members=[Zero(), LastObserved()], weights={"zero": 0.25, "last": 0.75})
>>> ff = ens.fit(panel).predict(1, n_draws=1000)
>>> float((ff.draws == 0).mean()) > 0.25
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import pandas as pd

from forecast.checks import draw_count, steps_ahead
from forecast.errors import ModelError, ParameterError
from forecast.models.base import CountModel, Neighbours, unit_rng
from forecast.models.frame import DEFAULT_DRAWS, INDEX_COLUMNS, ForecastFrame

__all__ = ["Ensemble", "mixture_counts", "weights_from_scores"]


def mixture_counts(weights: Sequence[float], n_draws: int) -> np.ndarray:
    """Draws per member: ``weights * n_draws`` rounded by largest remainders (sums to ``n_draws``).

    Examples
    --------
    >>> mixture_counts([1, 1, 1], 1000).tolist()
    [334, 333, 333]
    """
    w = np.asarray(weights, dtype=float)
    exact = w / w.sum() * n_draws
    counts = np.floor(exact).astype(int)
    remainder = n_draws - counts.sum()
    counts[np.argsort(-(exact - counts), kind="stable")[:remainder]] += 1
    return counts


def weights_from_scores(
    scores: Mapping[str, float] | pd.DataFrame,
    *,
    score: str = "crps",
    power: float = 1.0,
) -> dict[str, float]:
    """Ensemble weights from backtest scores (lower is better): ``w_m ∝ score_m ** -power``.

    Parameters
    ----------
    scores
        Mean score per model alias, or a long score table with columns
        ``model`` and ``score`` (averaged per model).
    score
        Score column of a table.
    power
        0 gives equal weights; larger values favour the best model more.

    Examples
    --------
    >>> weights_from_scores({"glm_negbin": 1.0, "prophet": 2.0, "last": 4.0})
    {'glm_negbin': 0.5714285714285714, 'prophet': 0.2857142857142857, 'last': 0.14285714285714285}
    """
    if isinstance(scores, pd.DataFrame):
        missing = [c for c in ("model", score) if c not in scores.columns]
        if missing:
            raise ParameterError(f"score table lacks columns {missing}; expected 'model' and '{score}'")
        scores = scores.groupby("model", sort=False)[score].mean().to_dict()
    values = {str(k): float(v) for k, v in scores.items()}
    bad = {k: v for k, v in values.items() if not np.isfinite(v) or v < 0}
    if not values or bad:
        raise ParameterError(f"scores must be finite and non-negative per model; got {bad or values}")
    # A perfect (zero) score would get infinite weight: floor it at a tiny share of the best positive one.
    floor = 1e-9 * max(max(values.values()), 1e-12)
    raw = {k: max(v, floor) ** -power for k, v in values.items()}
    total = sum(raw.values())
    return {k: v / total for k, v in raw.items()}


@dataclass
class Ensemble(CountModel):
    """Mixture of member models' draws with fixed weights.

    Parameters
    ----------
    members
        Model objects (the registry turns specs such as ``"glm_negbin(ar=2)"``
        into them); aliases must differ. None (not given): a bare ensemble, whose members are the other
        models of the list it is forecast with (see the module docstring).
    weights
        Weight per member alias (non-negative, not all zero; every member
        listed). None: equal weights.
    alias
        Name in the output's ``model`` column.
    """

    members: Sequence[Any] | None = None
    weights: Mapping[str, float] | None = None
    alias: str = "ensemble"

    def __post_init__(self) -> None:
        if self.weights is not None and not isinstance(self.weights, Mapping):
            raise ParameterError(f"ensemble weights must be a dict {{alias: weight}}, got {self.weights!r}")
        self.models_: list[CountModel] = []
        self.weights_: dict[str, float] = {}
        if self.members is None:
            return  # bare: the members come from the model list (registry.expand_ensembles)
        if isinstance(self.members, str) or not isinstance(self.members, Sequence) or not self.members:
            raise ParameterError(
                f"ensemble members must be a non-empty list, got {self.members!r}; write "
                "ensemble(members=['hist_mean', 'glm_negbin']), or a bare 'ensemble' next to the models "
                "it should combine"
            )
        not_models = [m for m in self.members if not isinstance(m, CountModel)]
        if not_models:
            # Specs are the registry's business (it sits above this module):
            # make_model("ensemble(members=[...])") turns names into models first.
            raise ParameterError(
                f"ensemble members must be models, got {not_models!r}; write "
                "make_model(\"ensemble(members=['hist_mean', 'glm_negbin'])\") to name them"
            )
        self.models_ = list(self.members)
        aliases = [m.alias for m in self.models_]
        if len(set(aliases)) < len(aliases):
            raise ParameterError(f"ensemble members need distinct aliases, got {aliases}; set alias='...' on one")
        if self.weights is None:
            weights = dict.fromkeys(aliases, 1.0)
        else:
            unknown = sorted(set(self.weights) - set(aliases))
            missing = sorted(set(aliases) - set(self.weights))
            if unknown or missing:
                raise ParameterError(
                    f"ensemble weights must name each member once: unknown {unknown}, missing {missing} "
                    f"(members: {aliases})"
                )
            weights = {a: self.weights[a] for a in aliases}
        values = np.array(list(weights.values()), dtype=float)
        if not np.all(np.isfinite(values)) or np.any(values < 0) or values.sum() <= 0:
            raise ParameterError(f"ensemble weights must be non-negative and not all zero, got {weights}")
        self.weights_ = dict(zip(aliases, values / values.sum(), strict=True))

    def spec(self) -> str:
        """The ensemble as a spec string the registry can rebuild, members as their own specs.

        Examples
        --------
        >>> from forecast.models.baselines import LastObserved, Zero
        >>> Ensemble(members=[Zero(), LastObserved()], weights={"zero": 1, "last": 3}).spec()
        "ensemble(members=['zero', 'last'], weights={'zero': 1, 'last': 3})"
        """
        options = []
        if self.members is not None:
            options.append(f"members={[m.spec() for m in self.models_]!r}")
        if self.weights is not None:
            options.append(f"weights={dict(self.weights)!r}")
        if self.alias != "ensemble":
            options.append(f"alias={self.alias!r}")
        return f"ensemble({', '.join(options)})" if options else "ensemble"

    @property
    def bare(self) -> bool:
        """True when no members were given (the ensemble of the other models in a list)."""
        return self.members is None

    @property
    def unit_separable(self) -> bool:
        """Separable when every member is: the mixture picks the same draw columns for every unit."""
        return bool(self.models_) and all(m.unit_separable for m in self.models_)

    def _check_members(self) -> None:
        if self.bare:
            raise ParameterError(
                f"'{self.alias}' has no members: a bare ensemble combines the other models of the list "
                "it is forecast with, e.g. forecast_panel(panel, ['hist_mean', 'glm_negbin', 'ensemble'], 8); "
                "to use it on its own name them: ensemble(members=['hist_mean', 'glm_negbin'])"
            )

    def share_members(self, models: Sequence[CountModel]) -> None:
        """Use the model objects in ``models`` for members equal to them (same class and options).

        :func:`~forecast.models.registry.forecast_panel` calls this so a member
        that is also in the model list is fitted and forecast once.
        """
        for i, member in enumerate(self.models_):
            for model in models:
                if model is not member and type(model) is type(member) and model == member:
                    self.models_[i] = model
                    break

    def fit(
        self,
        panel: pd.DataFrame,
        *,
        neighbours: Neighbours | None = None,
        freq: str | None = None,
        progress: bool = False,
        fitted: Sequence[CountModel] = (),
    ) -> Self:
        """Fit every member with a positive weight, except those in ``fitted``.

        ``fitted``: model objects already fitted to this same panel (compared
        by identity), e.g. the other models of a :func:`forecast_panel` call.
        """
        self._check_members()
        done = {id(m) for m in fitted}
        for model in self.models_:
            if self.weights_[model.alias] > 0 and id(model) not in done:
                model.fit(panel, neighbours=neighbours, freq=freq, progress=progress)
        self.data_ = True  # marks the ensemble as fitted
        return self

    def predict(
        self,
        h: int,
        *,
        n_draws: int = DEFAULT_DRAWS,
        seed: int = 0,
        member_forecasts: Mapping[str, ForecastFrame] | None = None,
    ) -> ForecastFrame:
        """Mix the members' draws in proportion to the weights (seeded).

        ``member_forecasts``: forecasts the members (by alias) already made with
        the same ``h``, ``n_draws`` and ``seed``; they are used instead of
        predicting again, which gives the same draws.
        """
        self._check_members()
        self._check_fitted()
        h, n_draws = steps_ahead(h, "horizon"), draw_count(n_draws, "n_draws")
        given = dict(member_forecasts or {})
        active = [m for m in self.models_ if self.weights_[m.alias] > 0]
        counts = mixture_counts([self.weights_[m.alias] for m in active], n_draws)
        rng = unit_rng(seed, type(self).__name__, self.alias)
        keys = ["unit_id", "ds", "step"]
        index: pd.DataFrame | None = None
        parts, reasons = [], []
        for model, count in zip(active, counts, strict=True):
            frame = given.get(model.alias)
            if frame is None:
                frame = model.predict(h, n_draws=n_draws, seed=seed)
            elif frame.n_draws != n_draws or int(frame.index["step"].max()) != h:
                raise ModelError(
                    f"ensemble member {model.alias}: the forecast given has {frame.n_draws} draws and "
                    f"{int(frame.index['step'].max())} steps; expected {n_draws} and {h}"
                )
            # Put every member's rows in one order (unit, step) before mixing row by row.
            order = np.lexsort((frame.index["step"].to_numpy(), frame.index["unit_id"].to_numpy()))
            rows = frame.index.iloc[order].reset_index(drop=True)
            if index is None:
                index = rows[keys]
            elif not rows[keys].equals(index):
                raise ModelError(f"ensemble member {model.alias} forecast other units or periods than the others")
            if count:
                parts.append(frame.draws[order][:, rng.choice(n_draws, size=count, replace=False)])
            if "fallback" in rows:
                # The member's weight says how much of the mixture the fallback touches.
                who = f"{model.alias} (weight {self.weights_[model.alias]:.2f})"
                reasons.append([f"{who}: {r}" if isinstance(r, str) else None for r in rows["fallback"]])
        assert index is not None
        draws = np.hstack(parts)[:, rng.permutation(n_draws)]
        fallback = [("; ".join(r for r in row if r) or None) for row in zip(*reasons, strict=True)]
        if not reasons:
            fallback = [None] * len(index)
        out = ForecastFrame(
            index=index.assign(model=self.alias, fallback=fallback)[[*INDEX_COLUMNS, "fallback"]],
            draws=draws,
        )
        out.meta["weights"] = dict(self.weights_)
        return out
