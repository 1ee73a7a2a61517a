"""Emerging hot spots: Getis-Ord Gi* per period (esda) and the Mann-Kendall trend of each unit's z-scores."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from scipy import stats

from forecast.alarms.config import NONE, WATCH, WarningConfig
from forecast.alarms.expected import _rolling_sum
from forecast.alarms.rules import AlarmRule
from forecast.geo.gazetteer import Gazetteer
from forecast.panel import PanelData, period_word
from forecast.spread import (
    gazetteer_for,
)


def mann_kendall(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mann-Kendall trend test along the last axis: statistic ``S`` and two-sided p-value.

    The variance includes the correction for ties; ``z`` uses the usual
    continuity correction. Rows with NaN give NaN.

    Examples
    --------
    >>> s, p = mann_kendall(np.array([[1.0, 2, 3, 4, 5, 6], [3, 1, 2, 3, 1, 2]]))
    >>> s.tolist(), (p < 0.05).tolist()
    ([15.0, -2.0], [True, False])
    """
    x = np.asarray(x, dtype=float)
    n = x.shape[-1]
    diff = x[..., None, :] - x[..., :, None]  # [..., i, j] = x_j - x_i
    upper = np.triu(np.ones((n, n), dtype=bool), k=1)
    s = np.sign(diff)[..., upper].sum(axis=-1)
    # Tie groups: each member of a group of size g contributes (g-1)(2g+5); summed over members
    # that is g(g-1)(2g+5), the term the variance subtracts per group.
    equal = (diff == 0).sum(axis=-1)
    ties = ((equal - 1) * (2 * equal + 5)).sum(axis=-1)
    variance = (n * (n - 1) * (2 * n + 5) - ties) / 18.0
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(s > 0, (s - 1) / np.sqrt(variance), np.where(s < 0, (s + 1) / np.sqrt(variance), 0.0))
    p = 2 * stats.norm.sf(np.abs(z))
    invalid = np.isnan(x).any(axis=-1)
    return np.where(invalid, np.nan, s), np.where(invalid | (variance <= 0), np.nan, p)


def classify_hot_spots(
    hot: np.ndarray,
    cold: np.ndarray,
    z: np.ndarray,
    share: float = 0.9,
    mk_alpha: float = 0.05,
) -> np.ndarray:
    """Emerging Hot Spot Analysis category of each series of bins (last axis: time, last bin = now).

    Parameters
    ----------
    hot, cold
        Significant hot / cold spot per bin (bool).
    z
        Gi* z per bin, for the Mann-Kendall trend.
    share
        Fraction of bins that must be hot for persistent, intensifying,
        diminishing and historical.
    mk_alpha
        Level of the trend test.

    Returns
    -------
    numpy.ndarray
        Labels (object): ``new, consecutive, intensifying, persistent,
        diminishing, sporadic, oscillating, historical`` or ``""`` (no pattern).

    Examples
    --------
    >>> hot = np.array([[0, 0, 0, 0, 1], [0, 0, 0, 1, 1], [1, 0, 1, 0, 1], [1, 1, 1, 1, 0]], dtype=bool)
    >>> z = np.where(hot, 3.0, 0.0)
    >>> classify_hot_spots(hot, np.zeros_like(hot), z, share=0.8).tolist()
    ['new', 'consecutive', 'sporadic', 'historical']
    """
    hot, cold = np.asarray(hot, dtype=bool), np.asarray(cold, dtype=bool)
    n_bins = hot.shape[-1]
    s_trend, p_trend = mann_kendall(z)
    n_hot = hot.sum(axis=-1)
    final = hot[..., -1]
    run = np.cumprod(hot[..., ::-1], axis=-1).sum(axis=-1)  # length of the final unbroken hot run
    with np.errstate(invalid="ignore"):
        trend_up = (p_trend < mk_alpha) & (s_trend > 0)
        trend_down = (p_trend < mk_alpha) & (s_trend < 0)
    mostly = n_hot / n_bins >= share
    return np.select(
        [
            final & (n_hot == 1),
            final & mostly & trend_up,
            final & mostly & trend_down,
            final & mostly,
            final & (run == n_hot) & (run >= 2),
            final & cold.any(axis=-1),
            final,
            ~final & mostly,
        ],
        ["new", "intensifying", "diminishing", "persistent", "consecutive", "oscillating", "sporadic", "historical"],
        default="",
    ).astype(object)


class HotSpots(AlarmRule):
    """Emerging hot spots: Getis-Ord Gi* per period and their Emerging Hot Spot Analysis category.

    For each period the events of the last ``recent_periods`` in every unit
    outside the stronghold go into esda's ``G_Local`` (``star=True``, binary
    weights from libpysal over the adjacency, analytical z-scores); two-sided
    normal p-values are thresholded with esda's Benjamini-Hochberg ``fdr`` at
    ``hotspot_alpha``. At each period the last ``hotspot_bins`` non-overlapping
    windows (ending at it) are classified as in ArcGIS Emerging Hot Spot
    Analysis: *new* (only the last bin hot), *consecutive* (an unbroken final
    run, never hot before), *intensifying* / *persistent* / *diminishing* (hot
    in at least ``hotspot_share`` of bins including the last, with an
    increasing / no / decreasing Mann-Kendall trend of z at ``mk_alpha``),
    *sporadic* (last bin hot, on and off, never cold), *oscillating* (last bin
    hot, cold in some earlier bin), *historical* (last bin not hot, hot in at
    least ``hotspot_share`` of bins). ``statistic`` is the Gi* z of the period;
    the rule fires for ``hotspot_categories``.

    The stronghold is left out of the field: its volume would dominate the
    mean and variance Gi* compares with, making its neighbours permanent hot
    spots and hiding hot spots elsewhere.

    Parameters
    ----------
    data, config
        Panel and thresholds.
    stronghold
        Unit ids left out.
    gazetteer
        Adjacency (default: the units' country).
    periods
        Column indices of the periods to classify (default all); the Gi* of
        the bins they need are computed, nothing else.
    """

    name = "hotspot"
    fires_at = WATCH

    def __init__(
        self,
        data: PanelData,
        config: WarningConfig,
        stronghold: Sequence[str] = (),
        gazetteer: Gazetteer | None = None,
        periods: Sequence[int] | None = None,
    ) -> None:
        from esda import fdr
        from esda.getisord import G_Local
        from libpysal.weights import W

        r, n_bins = config.recent_periods, config.hotspot_bins
        self.units, self.ds, self.config = list(data.units), data.ds, config
        self.unit_word = period_word(data.freq)
        n_units, n_periods = data.y.shape
        field_rows = np.flatnonzero(~np.isin(self.units, list(stronghold)))
        field_units = [self.units[i] for i in field_rows]
        gaz = gazetteer_for(self.units, gazetteer)
        neighbours = {u: [v for v in gaz.neighbours(u) if v in field_units] for u in field_units}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # islands (a unit whose neighbours are all stronghold) are fine
            weights = W(neighbours, id_order=field_units, silence_warnings=True)
        pooled = _rolling_sum(data.y, r)
        wanted = np.arange(n_periods) if periods is None else np.asarray(periods, dtype=int) % n_periods
        needed = sorted({t - r * k for t in wanted for k in range(n_bins) if t - r * k >= r - 1})
        z = np.full((n_units, n_periods), np.nan)
        hot = np.zeros((n_units, n_periods), dtype=bool)
        cold = np.zeros((n_units, n_periods), dtype=bool)
        for t in needed:
            x = pooled[field_rows, t]
            if x.sum() <= 0 or np.all(x == x[0]):
                z[field_rows, t] = 0.0
                continue
            with np.errstate(all="ignore"):
                local = G_Local(x, weights, transform="B", permutations=0, star=True, n_jobs=1)
            zs = np.nan_to_num(np.asarray(local.Zs, dtype=float))
            p = 2 * stats.norm.sf(np.abs(zs))
            cut = fdr(p, config.hotspot_alpha)
            z[field_rows, t] = zs
            significant = p < cut
            hot[field_rows, t] = significant & (zs > 0)
            cold[field_rows, t] = significant & (zs < 0)
        self.z, self.hot, self.cold = z, hot, cold
        category = np.full((n_units, n_periods), "", dtype=object)
        n_hot_at = np.zeros((n_units, n_periods), dtype=np.int64)
        valid_t = wanted[wanted - r * (n_bins - 1) >= r - 1]
        if len(valid_t):
            bins = valid_t[:, None] - r * np.arange(n_bins - 1, -1, -1)[None, :]  # (periods, bins), last = t
            labels = classify_hot_spots(
                hot[:, bins], cold[:, bins], np.nan_to_num(z[:, bins]),
                share=config.hotspot_share, mk_alpha=config.mk_alpha,
            )
            n_hot = hot[:, bins].sum(axis=-1)
            category[:, valid_t] = labels
            n_hot_at[:, valid_t] = n_hot
        category[~np.isin(self.units, field_units)] = ""
        self.category, self.n_hot = category, n_hot_at
        self.statistic = np.nan_to_num(z)
        self.threshold = config.hotspot_alpha
        self.fired = np.isin(category, list(config.hotspot_categories))
        self.level = np.where(self.fired, WATCH, NONE)

    def detail(self, i: int, t: int) -> str:
        bins = self.config.hotspot_bins
        return (
            f"{self.category[i, t]} hot spot (Gi* z = {self.statistic[i, t]:.1f}; hot in {self.n_hot[i, t]} of "
            f"the last {bins} {self._periods(self.config.recent_periods)} windows)"
        )
