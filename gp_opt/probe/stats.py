"""How well a fitness tells optimizers apart: statistics on a table of scores, one row per
optimizer and one column per seed (every optimizer scored on the same seeds).

The formulas are the search-efficacy audit's (shared/audits/2026-12-06-search-efficacy.md, Q2):

- **one-way ratio** sigma_b^2 / sigma_w^2: the between-optimizer variance component of a one-way
  ANOVA, ``(MS_between - MS_within) / n``, over the within-optimizer (seed) variance ``MS_within``;
  its F test is ``MS_between / MS_within``.
- **seed-blocked ratio** sigma_b^2 / sigma_res^2: the same from a two-way ANOVA without replication
  (optimizer x seed), so a seed that is good or bad for every optimizer is not counted as noise:
  ``(MS_optimizer - MS_residual) / n`` over ``MS_residual``. This is the noise a comparison on
  the same seeds sees (paired differences cancel the seed's shared effect).
- **Kendall tau** between the optimizers' mean scores on the first half of the seeds
  (``floor(n/2)`` of them) and on the rest, with its two-sided p-value: does the ranking reproduce?
- **P(pair)** = ``1/2 + atan(sqrt(ratio)) / pi``: the probability that one evaluation of each of two
  optimizers drawn from the panel orders them as their true means do, when the true means spread
  with variance sigma_b^2 and one evaluation adds independent normal noise of variance
  sigma_res^2 (a bivariate-normal orthant probability; 1/2 when the ratio is 0).

Ratios are variance-component estimates and can come out negative (no detectable spread); they
are reported as estimated, and P(pair) treats a negative ratio as 0.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

__all__ = ["Discriminability", "discriminability", "p_pair", "kendall_tau", "paired_against"]


@dataclass(frozen=True)
class Discriminability:
    """The statistics of one score table (``k`` optimizers x ``n`` seeds)."""

    k: int
    n: int
    one_way_ratio: float
    one_way_f: float
    one_way_p: float
    blocked_ratio: float
    blocked_f: float
    blocked_p: float
    tau: float
    tau_p: float
    p_pair: float

    def to_dict(self) -> dict:
        return {key: (value if not isinstance(value, float) or math.isfinite(value) else str(value))
                for key, value in asdict(self).items()}


def p_pair(ratio: float) -> float:
    """P(one evaluation orders a random pair correctly) for a between/noise variance ratio.

    >>> round(p_pair(1.0), 4), p_pair(0.0), p_pair(-0.3)
    (0.75, 0.5, 0.5)
    """
    if not math.isfinite(ratio):
        return 1.0 if ratio > 0 else 0.5
    return 0.5 + math.atan(math.sqrt(max(ratio, 0.0))) / math.pi


def kendall_tau(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Kendall's tau-b between two score lists and its two-sided p-value (scipy's exact test for
    small untied samples). Fewer than 3 items or a constant list: ``(nan, nan)``."""
    from scipy.stats import kendalltau

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return math.nan, math.nan
    res = kendalltau(a, b)
    return float(res.statistic), float(res.pvalue)


def _f_sf(f: float, df1: int, df2: int) -> float:
    from scipy.stats import f as f_dist

    if not math.isfinite(f):
        return 0.0 if f > 0 else math.nan
    return float(f_dist.sf(f, df1, df2))


def discriminability(scores: Sequence[Sequence[float]]) -> Discriminability:
    """The statistics of ``scores[i][j]``: optimizer ``i`` on seed ``j`` (higher or lower is better
    alike: nothing here depends on the direction). Needs at least 2 optimizers and 2 seeds, every
    score finite (a candidate that failed on a seed does not belong in the table)."""
    x = np.asarray(scores, dtype=float)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 2:
        raise ValueError(f"need a table of at least 2 optimizers x 2 seeds, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("every score must be finite")
    k, n = x.shape
    grand = x.mean()
    rows, cols = x.mean(axis=1), x.mean(axis=0)
    ms_between = n * float(((rows - grand) ** 2).sum()) / (k - 1)
    ms_within = float(((x - rows[:, None]) ** 2).sum()) / (k * (n - 1))
    resid = x - rows[:, None] - cols[None, :] + grand
    ms_resid = float((resid ** 2).sum()) / ((k - 1) * (n - 1))

    def ratio_f(ms_effect: float, ms_noise: float) -> tuple[float, float]:
        if ms_noise <= 0:
            return (math.inf, math.inf) if ms_effect > 0 else (math.nan, math.nan)
        return (ms_effect - ms_noise) / n / ms_noise, ms_effect / ms_noise

    one_ratio, one_f = ratio_f(ms_between, ms_within)
    blk_ratio, blk_f = ratio_f(ms_between, ms_resid)
    half = n // 2
    tau, tau_p = kendall_tau(x[:, :half].mean(axis=1), x[:, half:].mean(axis=1))
    return Discriminability(
        k=k, n=n, one_way_ratio=one_ratio, one_way_f=one_f, one_way_p=_f_sf(one_f, k - 1, k * (n - 1)),
        blocked_ratio=blk_ratio, blocked_f=blk_f, blocked_p=_f_sf(blk_f, k - 1, (k - 1) * (n - 1)),
        tau=tau, tau_p=tau_p, p_pair=p_pair(blk_ratio))


def paired_against(scores: Sequence[Sequence[float]], reference: int) -> np.ndarray:
    """The table of paired differences ``scores[i][j] - scores[reference][j]`` for every optimizer
    but the reference: what a fitness scored against a baseline trained on the same seed sees."""
    x = np.asarray(scores, dtype=float)
    return np.delete(x - x[reference][None, :], reference, axis=0)
