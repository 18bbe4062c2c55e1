"""The comparison against the reference optimizer: Welch's two-sample t-test per task.

Each optimizer's per-seed test scores at its own best learning rate are compared with the
reference's (Adam's) at *its* best rate. Welch's t-test (unequal variances,
``scipy.stats.ttest_ind(equal_var=False)``), two-sided, at level ``alpha`` (0.05): **win** when
``p < alpha`` and the optimizer's mean is better (in the metric's direction), **loss** when
``p < alpha`` and it is worse, **tie** otherwise. With a few seeds the test has little power:
a tie means "no difference shown", not "equal". When both samples have zero spread the t statistic
is undefined: equal means are a tie, different means a win or a loss (p = 0).

>>> compare([0.90, 0.91, 0.92], [0.80, 0.81, 0.79])["verdict"]
'win'
>>> compare([3.1, 3.0, 3.2], [2.0, 2.1, 2.05], higher_is_better=False)["verdict"]
'loss'
>>> compare([0.5, 0.6, 0.4], [0.52, 0.41, 0.58])["verdict"]
'tie'
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

TEST = "Welch's two-sample t-test (two-sided, unequal variances) on per-seed test scores at each optimizer's best lr"
ALPHA = 0.05


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1; 0 for a single value)."""
    a = np.asarray(values, dtype=float)
    if a.size == 0:
        return math.nan, math.nan
    return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else 0.0


def compare(candidate: Sequence[float], reference: Sequence[float], higher_is_better: bool = True,
            alpha: float = ALPHA) -> dict:
    """``candidate`` vs ``reference`` per-seed scores: diff of means (candidate - reference), Welch's
    t and p, and the verdict ``win``/``tie``/``loss`` (or ``n/a`` with fewer than 2 scores a side)."""
    a, b = np.asarray(candidate, dtype=float), np.asarray(reference, dtype=float)
    out = {"diff": float(a.mean() - b.mean()) if a.size and b.size else math.nan, "t": math.nan,
           "p": math.nan, "verdict": "n/a", "n": [int(a.size), int(b.size)]}
    if a.size < 2 or b.size < 2:
        return out
    better = out["diff"] > 0 if higher_is_better else out["diff"] < 0
    if a.std() == 0 and b.std() == 0:
        p = 1.0 if out["diff"] == 0 else 0.0
        out.update(p=p, t=0.0 if p == 1.0 else math.copysign(math.inf, out["diff"]))
    else:
        import warnings

        from scipy import stats

        with warnings.catch_warnings():  # nearly equal samples: scipy warns, the p-value is still right
            warnings.simplefilter("ignore", RuntimeWarning)
            res = stats.ttest_ind(a, b, equal_var=False)
        out.update(t=float(res.statistic), p=float(res.pvalue))
    out["verdict"] = ("win" if better else "loss") if out["p"] < alpha else "tie"
    return out


def paired_p(candidate: Sequence[float], reference: Sequence[float]) -> float:
    """Two-sided paired t-test p-value for scores paired by seed (the same seeds, in the same order):
    the right test when both optimizers saw the same initial weights, batches and splits. NaN with
    fewer than 2 pairs; with differences all equal, 1 if they are 0 and 0 otherwise.

    >>> round(paired_p([0.91, 0.93, 0.92, 0.94], [0.90, 0.91, 0.91, 0.92]), 4)
    0.0138
    """
    a, b = np.asarray(candidate, dtype=float), np.asarray(reference, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired scores need the same seeds: {a.size} against {b.size}")
    if a.size < 2:
        return math.nan
    d = a - b
    if np.all(d == d[0]):
        return 1.0 if d[0] == 0 else 0.0
    import warnings

    from scipy import stats

    with warnings.catch_warnings():  # nearly equal differences: scipy warns, the p-value is still right
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(stats.ttest_rel(a, b).pvalue)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of ``p_values`` for testing them together (a family of ``m``
    tests: each finalist against one baseline): the family-wise error stays below ``alpha`` when
    the adjusted values are compared with it. NaN stays NaN and does not count towards ``m``.

    >>> [round(p, 3) for p in holm([0.01, 0.04, 0.03, 0.5])]
    [0.04, 0.09, 0.09, 0.5]
    """
    finite = sorted((p, i) for i, p in enumerate(p_values) if not math.isnan(p))
    m = len(finite)
    out = [math.nan] * len(p_values)
    running = 0.0
    for k, (p, i) in enumerate(finite):
        running = max(running, min(1.0, (m - k) * p))
        out[i] = running
    return out
