"""The learning-rate-sensitivity figure: the final metric against the learning rate, per optimizer."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .base import COLORS, new_figure, short_label

__all__ = ["lr_curves_figure"]


def lr_curves_figure(task: str, metric: str, curves: Mapping[str, Sequence[tuple[float, float | None]]],
                     ranges: Mapping[str, tuple[float, float]] | None = None, higher_is_better: bool = True):
    """The final metric against the learning rate, one line per optimizer (a failed rate is a gap),
    each optimizer's forgiving range (gp_opt.sensitivity) drawn thick over its line."""
    fig, (ax,) = new_figure()
    for (label, curve), color in zip(curves.items(), COLORS * 4):
        pts = sorted((float(lr), np.nan if v is None else float(v)) for lr, v in curve)
        x, y = np.array([p[0] for p in pts]), np.array([p[1] for p in pts])
        ax.plot(x, y, marker="o", ms=3, color=color, label=short_label(label, 24))
        lo_hi = (ranges or {}).get(label)
        if lo_hi is not None:
            inside = (x >= lo_hi[0]) & (x <= lo_hi[1])
            ax.plot(x[inside], y[inside], color=color, lw=4, alpha=0.45, solid_capstyle="round")
    off = focus(ax, curves, higher_is_better)
    if off:
        ax.text(0.99, 0.01, f"{off} diverged point{'s' if off > 1 else ''} off the chart", transform=ax.transAxes,
                ha="right", va="bottom", fontsize=7, color="0.35")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (peak of the base schedule)")
    ax.set_ylabel(f"validation {metric} ({'higher' if higher_is_better else 'lower'} is better)")
    ax.set_title(f"{task}: {metric} against the learning rate (thick: within tolerance of the best)", fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="best", ncol=2)
    return fig


def focus(ax, curves: Mapping[str, Sequence[tuple[float, float | None]]], higher_is_better: bool) -> int:
    """Limit the y axis to where the optimizers' best rates lie -- their bests, and as far again
    beyond the worst of them (at least a quarter of its size) -- so that one diverged run (a
    language model at 60,000 bits per character) does not flatten every curve into a line.
    Returns how many points fall outside (0: the axis is left as matplotlib chose)."""
    values = [[float(v) for _, v in c if v is not None and np.isfinite(float(v))] for c in curves.values()]
    bests = [(max(v) if higher_is_better else min(v)) for v in values if v]
    if not bests:
        return 0
    best, worst = (max(bests), min(bests)) if higher_is_better else (min(bests), max(bests))
    reach = max(abs(worst - best), 0.25 * abs(worst), 1e-12)
    lo, hi = (worst - reach, best) if higher_is_better else (best, worst + reach)
    pad = 0.05 * (hi - lo)
    lo, hi = lo - pad, hi + pad
    every = [x for v in values for x in v]
    off = sum(1 for x in every if x < lo or x > hi)
    if off:
        ax.set_ylim(lo, hi)
    return off
