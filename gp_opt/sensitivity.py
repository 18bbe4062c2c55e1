"""How forgiving an optimizer's learning rate is (issue 23 item 2).

A *curve* is the final metric at each learning rate of a grid: ``[(lr, value), ...]``, ``value``
None (or NaN) where a run failed. :func:`lr_range` gives the contiguous stretch of the grid around
the best rate whose values stay within a tolerance of the best, and its width in decades
(``log10(high / low)``).

The tolerance is relative: a value is within ``tolerance`` of the best when it is no more than
``tolerance * |best|`` worse (0.05: within 5 % of the best accuracy, or of the best loss). The
stretch is read on the grid, so its width is a lower bound on the true one by up to one grid step
on each side; a failed rate ends the stretch. One rate alone has width 0.

>>> curve = [(1e-3, 0.50), (1e-2, 0.90), (1e-1, 0.88), (1.0, 0.10)]
>>> r = lr_range(curve, higher_is_better=True, tolerance=0.05)
>>> r.low, r.high, round(r.decades, 3)
(0.01, 0.1, 1.0)
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

from gp_opt.errors import GpOptError

__all__ = ["LrRange", "lr_range", "DEFAULT_TOLERANCE", "CURVE_FIELD", "curve_of", "MissingCurveError",
           "transfer_rows", "recommended_lines"]

#: the stated tolerance of the transfer tables and the card: within 5 % of the best
DEFAULT_TOLERANCE = 0.05
#: the field of a transfer results.json row holding its curve ``[[lr, validation mean], ...]``
CURVE_FIELD = "lr_curve"


class MissingCurveError(GpOptError):
    """Records written before the learning-rate curve was kept."""


@dataclass(frozen=True)
class LrRange:
    """The forgiving stretch of a curve: ``low``..``high`` around ``best_lr``."""

    best_lr: float
    best: float
    low: float
    high: float
    tolerance: float

    @property
    def decades(self) -> float:
        return math.log10(self.high / self.low)

    def to_dict(self) -> dict:
        return {"best_lr": self.best_lr, "low": self.low, "high": self.high,
                "decades": self.decades, "tolerance": self.tolerance}


def _finite(v) -> bool:
    return v is not None and isinstance(v, (int, float)) and math.isfinite(v)


def lr_range(curve: Iterable[Sequence], higher_is_better: bool,
             tolerance: float = DEFAULT_TOLERANCE) -> LrRange | None:
    """The stretch of ``curve`` within ``tolerance`` of its best value (module docstring); None
    when no rate has a finite value. Rates must be positive."""
    if not (math.isfinite(tolerance) and tolerance >= 0):
        raise GpOptError(f"tolerance must be a finite number >= 0, got {tolerance!r}")
    points = sorted((float(lr), v) for lr, v in curve)
    if any(not (lr > 0 and math.isfinite(lr)) for lr, _ in points):
        raise GpOptError(f"learning rates must be positive and finite, got {[lr for lr, _ in points]}")
    sign = 1.0 if higher_is_better else -1.0
    ok = [k for k, (_, v) in enumerate(points) if _finite(v)]
    if not ok:
        return None
    k_best = max(ok, key=lambda k: sign * points[k][1])   # max keeps the first (lowest rate) of ties
    best = points[k_best][1]
    floor = sign * best - tolerance * abs(best)

    def within(k: int) -> bool:
        v = points[k][1]
        return _finite(v) and sign * v >= floor

    lo = hi = k_best
    while lo > 0 and within(lo - 1):
        lo -= 1
    while hi < len(points) - 1 and within(hi + 1):
        hi += 1
    return LrRange(points[k_best][0], float(best), points[lo][0], points[hi][0], float(tolerance))


def curve_of(row: dict, where: str, produce: str) -> list[tuple[float, float | None]]:
    """The curve of one stored row (a transfer results.json row); :class:`MissingCurveError`
    naming ``where`` and the command ``produce`` that writes it when the row has none."""
    curve = row.get(CURVE_FIELD)
    if not isinstance(curve, list):
        raise MissingCurveError(f"{where}: the records hold no learning-rate curve (written before the "
                                f"curve was kept); rerun {produce} to produce it")
    try:
        return [(float(lr), None if v is None else float(v)) for lr, v in curve]
    except (TypeError, ValueError):
        raise MissingCurveError(f"{where}: {CURVE_FIELD} is not a list of [lr, value] pairs") from None


def transfer_rows(path, label: str | None = None) -> list[dict]:
    """The rows of a transfer ``results.json`` (``label``: only the optimizer so labelled; gp-opt
    transfer labels a genome file by its stem, a catalog entry by its name); [] when none. The
    file's shape is checked: a GpOptError naming it otherwise."""
    import json
    from pathlib import Path

    from gp_opt.textfile import check_regular_file
    path = Path(path)
    try:
        check_regular_file(path)
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GpOptError(f"transfer results {path}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GpOptError(f"transfer results {path}: not JSON ({exc})") from None
    rows = doc.get("results") if isinstance(doc, dict) else None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise GpOptError(f"transfer results {path}: no 'results' list of rows (written by gp-opt transfer)")
    return [r for r in rows if label is None or r.get("optimizer") == label]


def recommended_lines(rows: list[dict], where: str, produce: str,
                      tolerance: float = DEFAULT_TOLERANCE) -> list[str]:
    """The card's recommended learning rates: per task, the range within ``tolerance`` of the best."""
    parts = []
    for row in rows:
        found = lr_range(curve_of(row, where, produce), bool(row.get("higher_is_better", True)), tolerance)
        parts.append(f"{row.get('task')} {found.low:g}–{found.high:g} ({found.decades:.2g} decades, best "
                     f"{found.best_lr:g})" if found else f"{row.get('task')} none (no rate finished on every seed)")
    if not parts:
        return []
    return [f"recommended lr (validation mean within {tolerance:.0%} of the best, {where}): " + "; ".join(parts)]
