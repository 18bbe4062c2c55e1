"""What every figure shares: matplotlib on the Agg backend (no display needed), one fixed size and
resolution, fixed margins, the colour cycle, and :func:`save`."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["FIGSIZE", "DPI", "COLORS", "MARGINS", "new_figure", "save", "short_label", "plt"]

#: Every figure is this size (inches) at :data:`DPI`, so a PNG is 960 x 600 pixels.
FIGSIZE = (6.4, 4.0)
DPI = 150
#: matplotlib's colour cycle, in order
COLORS = plt.rcParams["axes.prop_cycle"].by_key()["color"]


#: Fixed margins (fractions of the figure) instead of ``tight_layout``: measuring every label's
#: extent costs half of a figure's time, and the figures here have known contents.
MARGINS = dict(left=0.1, right=0.97, bottom=0.12, top=0.91)


def new_figure(figsize=FIGSIZE, ncols: int = 1, sharey: bool = False, margins: dict | None = None):
    """A figure of ``ncols`` axes in a row at the fixed size and margins: ``(fig, [ax, ...])``."""
    fig, axes = plt.subplots(1, ncols, figsize=figsize, dpi=DPI, sharey=sharey, squeeze=False)
    fig.subplots_adjust(**(margins or MARGINS))
    return fig, list(axes[0])


def save(fig, path: str | os.PathLike, formats: Sequence[str] = ("png",)) -> list[Path]:
    """Write ``fig`` as ``path`` with each suffix in ``formats`` (``png``, ``pdf``, ``svg``) at its
    fixed size (no tight bounding box: the PNG is exactly ``FIGSIZE * DPI`` pixels); close it."""
    path = Path(path)
    out = []
    try:
        for fmt in formats:
            p = path.with_suffix("." + fmt)
            fig.savefig(p, dpi=DPI, format=fmt)
            out.append(p)
    finally:
        plt.close(fig)
    return out


def short_label(text: str, n: int = 40) -> str:
    """``text`` cut to ``n`` characters, an ellipsis marking the cut."""
    return text if len(text) <= n else text[: n - 1] + "…"
