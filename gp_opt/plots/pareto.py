"""Fitness against equation complexity: the Pareto front (:func:`pareto_front`) and its figure."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .base import COLORS, MARGINS, new_figure

__all__ = ["pareto_front", "pareto_figure"]


def pareto_front(complexity: Sequence[float], fitness: Sequence[float]) -> np.ndarray:
    """Boolean mask of the points no other point beats (higher fitness and at most the same
    complexity, or the same fitness and lower complexity).

    >>> pareto_front([1, 2, 3, 2], [0.1, 0.5, 0.4, 0.2]).tolist()
    [True, True, False, False]
    """
    c = np.asarray(complexity, dtype=float)
    f = np.asarray(fitness, dtype=float)
    order = np.lexsort((-f, c))          # by complexity, then best fitness first
    mask = np.zeros(len(c), dtype=bool)
    best = -math.inf
    for i in order:
        if f[i] > best:
            mask[i] = True
            best = f[i]
    return mask


def pareto_figure(complexity: Sequence[float], fitness: Sequence[float], labels: Sequence[str] | None = None,
                  title: str = "Fitness against equation complexity",
                  xlabel: str = "complexity (sympy count_ops of U)"):
    """Every successful candidate as a point; the Pareto front (simplest good optimizers) joined
    and labelled."""
    fig, (ax,) = new_figure(margins=dict(MARGINS, left=0.13))  # room for ticks like -0.125
    c = np.asarray(complexity, dtype=float)
    f = np.asarray(fitness, dtype=float)
    front = pareto_front(c, f) if len(c) else np.zeros(0, dtype=bool)
    ax.scatter(c[~front], f[~front], s=10, color="grey", alpha=0.5, label="candidates")
    order = np.argsort(c[front])
    ax.plot(c[front][order], f[front][order], color=COLORS[3], marker="o", ms=5, lw=1.2,
            label="Pareto front", drawstyle="steps-post")
    if labels is not None:
        idx = np.flatnonzero(front)
        for k, i in enumerate(idx[np.argsort(c[idx])][:8]):
            # up and to the left of a front point no candidate can lie (it would dominate the point),
            # so labels go there, staggered: neighbours on the front are often one op apart
            ax.annotate(labels[i], (c[i], f[i]), textcoords="offset points", xytext=(-3, 5 + 9 * (k % 3)),
                        ha="right", fontsize=7, arrowprops={"arrowstyle": "-", "lw": 0.4, "color": "grey"})
    if len(f) > 8 and front.any():
        # a few diverging candidates (fitness -30 against a front near -0.1) would squash the front
        # into one line: the axis shows the front and the better three quarters of the candidates
        span = f.max() - min(f[front].min(), np.quantile(f, 0.25))
        low = min(f[front].min(), np.quantile(f, 0.25)) - 0.15 * max(span, 1e-12)
        n_below = int((f < low).sum())
        if n_below:
            ax.set_ylim(low, f.max() + 0.15 * max(span, 1e-12))
            ax.text(0.01, 0.01, f"{n_below} candidates below the axis", transform=ax.transAxes,
                    fontsize=7, color="grey", va="bottom", bbox={"fc": "white", "ec": "none", "pad": 1})
    if labels is not None and front.any():
        lo, hi = c.min(), c.max()
        ax.set_xlim(lo - 0.12 * max(hi - lo, 1.0), None)  # the leftmost label sits left of its point
    if labels is not None and front.any():
        # the labels stand up to ~30 points above their points: keep the top one below the title
        lo, hi = ax.get_ylim()
        room = 0.2                                   # of the axes' height (~230 points)
        top = (f[front].max() - room * lo) / (1 - room)
        if hi < top:
            ax.set_ylim(lo, top)
    if len(c) and np.all(c == np.round(c)):
        # counts (operations, state buffers): no tick at half a buffer
        from matplotlib.ticker import MaxNLocator
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("fitness")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return fig
