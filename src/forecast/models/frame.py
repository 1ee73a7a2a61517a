"""The forecast contract shared by every model.

A forecast is a distribution, not a number. Every model returns a
:class:`ForecastFrame`: one row per ``unit_id`` x ``ds`` (with its ``step``
ahead and the ``model`` alias) and, for each row, predictive draws of the count
(non-negative integers). Optionally a row also carries the parameters of an
exact count distribution (Poisson or negative binomial), which scores can use
instead of the draws. Means, quantiles and exceedance probabilities
``P(Y >= k)`` are derived here, once, the same way for all models.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.errors import ModelError

#: Default number of predictive draws per unit and period.
DEFAULT_DRAWS = 1000
#: Default quantile levels reported in summaries.
DEFAULT_LEVELS = (0.05, 0.25, 0.5, 0.75, 0.95)

INDEX_COLUMNS = ["unit_id", "ds", "step", "model"]
#: Optional columns describing an exact predictive distribution per row.
#: ``family`` is "poisson" or "negbin"; ``dist_mu`` the mean; ``dist_size`` the
#: negative-binomial size (1/psi; NaN for Poisson).
DISTRIBUTION_COLUMNS = ["family", "dist_mu", "dist_size"]


def quantile_column(level: float) -> str:
    """Name of the column holding the quantile at ``level``: 0.05 -> ``q05``, 0.5 -> ``q50``.

    Examples
    --------
    >>> quantile_column(0.05), quantile_column(0.975)
    ('q05', 'q97.5')
    """
    percent = level * 100
    if abs(percent - round(percent)) < 1e-9:
        return f"q{int(round(percent)):02d}"
    return f"q{percent:g}"


def exceedance_column(k: int) -> str:
    """Name of the column holding ``P(Y >= k)``: ``p_ge_1`` for k=1."""
    return f"p_ge_{int(k)}"


@dataclass
class ForecastFrame:
    """Predictive count distributions in long format.

    Parameters
    ----------
    index
        One row per forecast: columns ``unit_id, ds, step, model`` and
        optionally ``fallback`` (why a model fell back to a simpler one) and the
        exact-distribution columns ``family, dist_mu, dist_size``.
    draws
        Integer array of shape ``(len(index), n_draws)``: predictive draws.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> ff = ForecastFrame.from_draws(
    ...     unit_ids=["AF-NAN", "AF-KNR"],
    ...     ds=pd.to_datetime(["2021-10-04", "2021-10-04"]),
    ...     step=[1, 1],
    ...     draws=rng.poisson([5.0, 0.5], size=(1000, 2)).T,
    ...     model="demo",
    ... )
    >>> ff.summary(levels=(0.5,), exceed=(1,))[["unit_id", "q50", "p_ge_1"]].round(2).to_dict("list")
    {'unit_id': ['AF-NAN', 'AF-KNR'], 'q50': [5.0, 0.0], 'p_ge_1': [0.99, 0.39]}
    """

    index: pd.DataFrame
    draws: np.ndarray
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = [c for c in INDEX_COLUMNS if c not in self.index.columns]
        if missing:
            raise ModelError(f"forecast index lacks columns {missing}; a model must set unit_id, ds, step, model")
        draws = np.asarray(self.draws)
        if draws.ndim != 2 or draws.shape[0] != len(self.index):
            raise ModelError(
                f"forecast draws have shape {draws.shape}; expected ({len(self.index)}, n_draws)"
            )
        if draws.size and (not np.all(np.isfinite(draws)) or draws.min() < 0):
            raise ModelError("forecast draws must be finite non-negative counts; a model produced NaN or negatives")
        rounded = np.rint(draws)
        if draws.size and not np.array_equal(rounded, draws):
            raise ModelError("forecast draws must be integer counts; round or sample a count distribution")
        self.draws = rounded.astype(np.int64, copy=False)
        self.index = self.index.reset_index(drop=True)

    # ------------------------------------------------------------------ build
    @classmethod
    def from_draws(
        cls,
        unit_ids: Sequence[str],
        ds: Sequence,
        step: Sequence[int],
        draws: np.ndarray,
        model: str,
        **extra_columns: Sequence,
    ) -> ForecastFrame:
        """Build a frame from aligned sequences and a draws array ``(rows, n_draws)``.

        ``extra_columns`` (e.g. ``fallback=[...]``, ``family=[...]``,
        ``dist_mu=[...]``) become columns of the index.
        """
        index = pd.DataFrame(
            {
                "unit_id": pd.Series(list(unit_ids), dtype=object),
                "ds": pd.to_datetime(pd.Series(list(ds))),
                "step": np.asarray(step, dtype=np.int64),
                "model": model,
                **{name: list(values) for name, values in extra_columns.items()},
            }
        )
        return cls(index=index, draws=np.asarray(draws))

    @classmethod
    def concat(cls, frames: Iterable[ForecastFrame]) -> ForecastFrame:
        """Stack frames (e.g. several models or units); they must share ``n_draws``."""
        frames = [f for f in frames if len(f.index)]
        if not frames:
            raise ModelError("no forecasts to combine: every model returned an empty forecast")
        n_draws = {f.n_draws for f in frames}
        if len(n_draws) > 1:
            raise ModelError(f"cannot combine forecasts with different numbers of draws {sorted(n_draws)}")
        index = pd.concat([f.index for f in frames], ignore_index=True)
        return cls(index=index, draws=np.vstack([f.draws for f in frames]))

    # ---------------------------------------------------------------- derive
    @property
    def n_draws(self) -> int:
        """Number of predictive draws per row."""
        return int(self.draws.shape[1])

    @property
    def models(self) -> list[str]:
        """Model aliases present, in order of appearance."""
        return list(dict.fromkeys(self.index["model"]))

    def mean(self) -> np.ndarray:
        """Predictive mean per row (exact when the row has an exact distribution)."""
        means = self.draws.mean(axis=1)
        if "dist_mu" in self.index:
            exact = self.index["dist_mu"].to_numpy(dtype=float)
            means = np.where(np.isfinite(exact), exact, means)
        return means

    def quantiles(self, levels: Sequence[float] = DEFAULT_LEVELS) -> np.ndarray:
        """Quantiles per row, shape ``(rows, len(levels))``; integer counts (inverted CDF)."""
        levels = np.asarray(levels, dtype=float)
        if np.any((levels <= 0) | (levels >= 1)):
            raise ModelError(f"quantile levels must lie strictly between 0 and 1, got {levels.tolist()}")
        return np.quantile(self.draws, levels, axis=1, method="inverted_cdf").T.astype(float)

    def exceedance(self, k: int) -> np.ndarray:
        """``P(Y >= k)`` per row, estimated from the draws."""
        return (self.draws >= k).mean(axis=1)

    def summary(
        self,
        levels: Sequence[float] = DEFAULT_LEVELS,
        exceed: Sequence[int] = (1,),
    ) -> pd.DataFrame:
        """Index columns plus ``mean``, one ``qNN`` column per level and ``p_ge_k`` columns."""
        out = self.index.copy()
        out["mean"] = self.mean()
        for level, column in zip(levels, self.quantiles(levels).T, strict=True):
            out[quantile_column(level)] = column
        for k in exceed:
            out[exceedance_column(k)] = self.exceedance(k)
        return out

    def select(self, mask: np.ndarray | pd.Series) -> ForecastFrame:
        """Rows where ``mask`` is true, as a new frame."""
        mask = np.asarray(mask, dtype=bool)
        return ForecastFrame(index=self.index.loc[mask].copy(), draws=self.draws[mask], meta=dict(self.meta))

    # -------------------------------------------------------------- persist
    def to_parquet(self, path: str | Path) -> Path:
        """Write the summary plus the draws (one list column ``draws``) atomically."""
        from forecast.files import atomic_path

        frame = self.summary()
        frame["draws"] = list(self.draws)
        with atomic_path(path) as tmp:
            frame.to_parquet(tmp, index=False)
        return Path(path)

    @classmethod
    def read_parquet(cls, path: str | Path) -> ForecastFrame:
        """Read a frame written by :meth:`to_parquet`."""
        frame = pd.read_parquet(path)
        keep = [c for c in frame.columns if c in INDEX_COLUMNS + DISTRIBUTION_COLUMNS + ["fallback"]]
        return cls(index=frame[keep].copy(), draws=np.vstack(frame["draws"].to_numpy()))
