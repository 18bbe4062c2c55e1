"""Figures of optimizers and runs (matplotlib, Agg backend: no display needed).

Two layers, so that a notebook can use either:

* *curves* turn a genome into numbers: :func:`schedule_curves` (the factored learning-rate
  schedule, the base one-cycle rate and their product over ``t/T``), :func:`decay_curves` (each
  decay function over ``t/T``), :func:`update_curves` (``U`` as a function of ``g`` at a few fixed
  states);
* *figures* draw numbers (or a genome's graph) and return a ``matplotlib.figure.Figure``:
  :func:`progress_figure`, :func:`rates_figure`, :func:`schedule_figure`, :func:`decays_figure`,
  :func:`update_figure`, :func:`graph_figure`, :func:`pareto_figure`. :func:`save` writes one in
  one or more formats (PNG, PDF, SVG) at a fixed size.

Nothing here reads a run directory: :mod:`gp_opt.report` does, and hands the numbers over.

>>> from gp_opt import catalog
>>> c = schedule_curves(catalog.get("LR1"), total_steps=50)
>>> len(c.x), round(float(c.factor[0]), 3)
(50, 0.157)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import sympy as sp

# the shared figure set-up, the learning-rate curves and the Pareto figures live in their own
# modules and stay importable from here
from .base import COLORS, DPI, FIGSIZE, MARGINS, new_figure, plt, save, short_label  # noqa: F401
from .lr_curves import lr_curves_figure  # noqa: F401
from .pareto import pareto_figure, pareto_front

__all__ = ["ScheduleCurves", "schedule_curves", "decay_curves", "update_curves", "UPDATE_STATES",
           "progress_figure", "rates_figure", "schedule_figure", "decays_figure", "update_figure",
           "graph_figure", "pareto_figure", "pareto_front", "save", "FIGSIZE", "DPI"]


# ---------------------------------------------------------------- curves from genomes
@dataclass
class ScheduleCurves:
    """A factored learning-rate schedule over ``x = t/T``: ``factor`` (the learned part),
    ``base`` (the one-cycle rate, peak 1) and ``product``."""

    name: str
    x: np.ndarray
    factor: np.ndarray
    base: np.ndarray
    product: np.ndarray
    learned: bool = True     # False when the genome has no factored schedule (factor == 1)


def schedule_curves(genome, total_steps: int = 200, warmup: float = 1 / 15, hold: float = 2 / 15,
                    name: str | None = None) -> ScheduleCurves:
    """The factored schedule of ``genome`` (:func:`gp_opt.symbolic.factor_schedule`) over
    ``t = 0..T-1``; the base one-cycle rate with warm-up and hold as fractions of ``T`` (default:
    the paper's CIFAR run, W = 6,400 and H = 12,800 of T = 96,000)."""
    from gp_opt import symbolic as S
    from gp_opt.optim.schedules import base_lr_table, schedule_factor_table

    T = int(total_steps)
    x = np.arange(T) / T
    base = np.asarray(base_lr_table(T, int(round(warmup * T)), int(round(hold * T))), dtype=float)
    learned = S.factor_schedule(genome)[0] != 1
    factor = (np.asarray(schedule_factor_table(genome, T), dtype=float) if learned else np.ones(T))
    return ScheduleCurves(name or genome.meta.get("name", "genome"), x, factor, base, base * factor, learned)


def decay_curves(genome, total_steps: int = 200) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    """``[(symbol, text, x, d(x)), ...]``: each distinct active decay function over ``x = t/T``."""
    from gp_opt import symbolic as S

    T = int(total_steps)
    ts = np.arange(T, dtype=float)
    out, seen = [], set()
    for _, _, sym, d in S.decay_functions(genome):
        if sym in seen:
            continue
        seen.add(sym)
        fn = S.numeric_function(d, [sp.Symbol("t"), sp.Symbol("T")], genome.grammar)
        with np.errstate(all="ignore"):
            y = np.broadcast_to(np.asarray(fn(ts, float(T)), dtype=float), ts.shape)
        out.append((str(sym), short_label(sp.sstr(d)), ts / T, np.array(y)))
    return out


#: The fixed states of :func:`update_curves`: a constant gradient long enough that every moving
#: average has settled (v = g, s = g^2, lambda = g^3), at three points of the run, w = 0.5.
UPDATE_STATES = (0.1, 0.5, 0.9)


def _stateless(expr: sp.Expr) -> sp.Expr:
    """Replace the stateful and random functions by their value at a constant input:
    EMA(x) = x, Delta(x) = 0, RunMax(x) = max(x, 0), drop(x) = x (its expectation)."""
    from gp_opt import functions as F
    rules = {F.EMA: lambda x, b: x, F.Delta: lambda x: sp.S.Zero, F.RunMax: lambda x: sp.Max(x, 0),
             F.Drop: lambda x, p: x}
    for cls, fn in rules.items():
        if expr.has(cls):
            expr = expr.replace(cls, fn)
    return expr


def update_curves(genome, g: np.ndarray, fractions: Sequence[float] = UPDATE_STATES, w: float = 0.5,
                  total_steps: int = 100) -> list[tuple[float, np.ndarray]]:
    """``[(t/T, U(g)), ...]``: the update (sign included) as a function of the gradient ``g`` at the
    steady state of a constant gradient (every moving average equal to its input), at each
    ``t/T`` in ``fractions``. Non-finite values are NaN (gaps in a plot)."""
    from gp_opt import symbolic as S

    gm = genome.grammar
    expr = _stateless(S.to_sympy(genome))
    G = sp.Symbol("g")
    steady = {}
    for state in gm.states.values():
        steady[state.raw] = state.input
        steady[state.hat] = state.input
    expr = expr.xreplace(steady)
    t, T, W = sp.Symbol("t"), sp.Symbol("T"), sp.Symbol("w")
    fn = S.numeric_function(expr, [G, W, t, T], gm)
    g = np.asarray(g, dtype=float)
    out = []
    for frac in fractions:
        with np.errstate(all="ignore"):
            try:
                y = np.asarray(fn(g, w, float(int(frac * total_steps)), float(total_steps)), dtype=float)
            except (ValueError, TypeError, ZeroDivisionError, OverflowError):
                y = np.full_like(g, np.nan)
        y = np.array(np.broadcast_to(y, g.shape), dtype=float)
        y[~np.isfinite(y)] = np.nan
        out.append((float(frac), y))
    return out


def _decay_label(decay, limit: int = 40) -> str:
    """A decay function as the tools write it (``1 - tanh²(a₄)`` typeset by mathtext from the
    LaTeX of :func:`gp_opt.symbolic.latex_expr`), not Python syntax; a long one as one line of
    text with superscripts, shortened."""
    from gp_opt import symbolic as S
    expr = S.decay_to_sympy(decay, expand_schedules=False)
    plain = S.text_expr(expr, decay.grammar)
    if len(plain) <= limit:
        tex = S.latex_expr(expr, decay.grammar, timeout=1.0)
        if not tex.startswith(r"	exttt"):
            return "$" + tex + "$"
    return short_label(_inline(plain), limit)


_SUPERSCRIPTS = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def _inline(text: str) -> str:
    """sympy's one-line form with display symbols: ``x**2`` as x², ``*`` as a middle dot.

    >>> _inline("1 - tanh(a4)**2*x")
    '1 - tanh(a4)²·x'
    """
    import re
    text = re.sub(r"\*\*(-?\d+)", lambda m: m.group(1).translate(_SUPERSCRIPTS), text)
    return text.replace("**", "^").replace("*", "·")


# ---------------------------------------------------------------- figures of a run
def progress_figure(steps: Sequence[int], best: Sequence[float], median: Sequence[float],
                    q25: Sequence[float], q75: Sequence[float], cum_best: Sequence[float],
                    title: str = "Search progress", ylabel: str = "fitness"):
    """Fitness per time step: the best, the median and the quartiles of the candidates evaluated
    in each step, and the best found so far."""
    fig, (ax,) = new_figure()
    s = np.asarray(steps)
    ax.fill_between(s, q25, q75, color=COLORS[0], alpha=0.2, label="quartiles")
    ax.plot(s, median, color=COLORS[0], marker="o", ms=3, label="median")
    ax.plot(s, best, color=COLORS[1], marker="^", ms=3, label="best of step")
    ax.step(s, cum_best, where="post", color="black", lw=1.5, label="best so far")
    ax.set_xlabel("time step (0 = initial population)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    if len(s) and len(s) <= 20:
        ax.set_xticks(s)
    return fig


def rates_figure(steps: Sequence[int], rates: Mapping[str, Sequence[float]],
                 title: str = "Rejections and cache hits per step"):
    """Rates in [0, 1] per time step (one line each), e.g. rejected by the integrity check,
    rejected by the fitness screen, cache hits (the default title names those; pass another
    when the lines are others)."""
    fig, (ax,) = new_figure()
    s = np.asarray(steps)
    for (label, ys), marker in zip(rates.items(), "os^dv<>"):
        ax.plot(s, ys, marker=marker, ms=3, label=label)
    ax.set_ylim(-0.03, 1.4)
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_xlabel("time step (0 = initial population)")
    ax.set_ylabel("fraction")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", ncol=2)
    if len(s) and len(s) <= 20:
        ax.set_xticks(s)
    return fig


# ---------------------------------------------------------------- figures of one optimizer
def schedule_figure(curves: ScheduleCurves, compare: Sequence[ScheduleCurves] = ()):
    """The learned factor, the base one-cycle rate and their product over ``t/T``; with
    ``compare``, the other optimizers' effective rate (product) dashed."""
    fig, (ax,) = new_figure()
    ax.plot(curves.x, curves.base, color="grey", lw=1.2, ls=":", label="base one-cycle rate")
    if curves.learned:
        ax.plot(curves.x, curves.factor, color=COLORS[0], lw=1.5, label=f"{curves.name}: learned factor")
    ax.plot(curves.x, curves.product, color=COLORS[1], lw=2, label=f"{curves.name}: effective rate")
    for k, other in enumerate(compare):
        ax.plot(other.x, other.product, ls="--", lw=1.2, color=COLORS[(k + 2) % len(COLORS)],
                label=f"{other.name}: effective rate")
    # a robust top: a factor like 1/(d(0) + eps) = 10^7 at one step must not flatten the rest
    values = np.concatenate([c.product for c in (curves, *compare)] + ([curves.factor] if curves.learned else []))
    values = values[np.isfinite(values)]
    top = max(1.0, float(np.percentile(values, 99))) if values.size else 1.0
    peak = float(values.max()) if values.size else top
    if peak > 1.5 * top:
        i = int(np.nanargmax(curves.factor))
        ax.annotate(f"factor {peak:.3g} at t/T = {curves.x[i]:.2g} (off the scale)", xy=(curves.x[i], top * 1.05),
                    xytext=(0.25, 0.6), textcoords="axes fraction", fontsize=7,
                    arrowprops=dict(arrowstyle="->", lw=0.8))
    ax.set_ylim(-0.03 * top, 1.5 * top)   # the top third is left for the legend
    ax.set_xlabel("t / T")
    ax.set_ylabel("learning-rate multiplier (peak lr = 1)")
    ax.set_title(f"Learning-rate schedule of {curves.name}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", ncol=2)
    return fig


def decays_figure(name: str, decays: Sequence[tuple[str, str, np.ndarray, np.ndarray]]):
    """Each decay function ``d_k(t)`` over ``t/T`` (a note when there is none)."""
    fig, (ax,) = new_figure()
    for sym, text, x, y in decays:
        ax.plot(x, y, lw=1.5, label=f"{sym} = {text}")
    if not decays:
        ax.text(0.5, 0.5, "no decay functions", ha="center", va="center", transform=ax.transAxes)
    ax.set_ylim(-0.05, 1.45)          # d(t) is in [0, 1]; the band above holds the legend
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_xlabel("t / T")
    ax.set_ylabel("d(t)")
    ax.set_title(f"Decay functions of {name}")
    ax.grid(alpha=0.3)
    if decays:
        ax.legend(fontsize=7, loc="upper left", ncol=1 if len(decays) < 3 else 2)
    return fig


def update_figure(g: np.ndarray, curves: Mapping[str, Sequence[tuple[float, np.ndarray]]],
                  title: str | None = None):
    """``U(g)`` at fixed states, one panel per state (``t/T``), one line per optimizer."""
    names = list(curves)
    fractions = [frac for frac, _ in curves[names[0]]] if names else []
    fig, axes = new_figure(ncols=max(1, len(fractions)), sharey=True,
                        margins=dict(left=0.11, right=0.98, bottom=0.12, top=0.85, wspace=0.08))
    finite = np.concatenate([y[np.isfinite(y)] for n in names for _, y in curves[n]] or [np.zeros(1)])
    # the bulk of the curves decides the scale: one steep tail must not flatten the others
    lim = np.percentile(np.abs(finite), 80) if finite.size else 1.0
    lim = max(1.5 * float(lim), 1e-6)
    for j, ax in enumerate(axes):
        for k, name in enumerate(names):
            frac, y = curves[name][j]
            ax.plot(g, y, lw=2 if k == 0 else 1.2, ls="-" if k == 0 else "--",
                    color=COLORS[k % len(COLORS)], label=name)
        ax.axhline(0, color="black", lw=0.5)
        ax.axvline(0, color="black", lw=0.5)
        ax.set_ylim(-lim, lim)
        ax.set_title(f"t/T = {fractions[j]:g}", fontsize=9)
        ax.set_xlabel("g")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("U (steady state)")
    axes[0].legend(fontsize=7, loc="upper left")
    fig.suptitle(title or f"Update U as a function of g ({names[0] if names else ''})", fontsize=10)
    return fig


def _depths(genome) -> dict[str, int]:
    depth: dict[str, int] = {}
    import networkx as nx
    for node in nx.topological_sort(genome.graph):
        if genome.is_leaf(node):
            depth[node] = 0
        else:
            depth[node] = 1 + max((depth[s] for s in genome.inputs(node)), default=0)
    return depth


def _operand_text(grammar, name: str) -> str:
    """A short label of an operand: its label (``QH(g)``), a hatted state, or its expression."""
    import re
    op = grammar.operands.get(name)
    if op is None:
        return name
    if op.label != name:
        return op.label
    m = re.fullmatch(r"([a-z]+)_hat", name)
    if m:
        return r"$\hat{%s}$" % ("\\lambda" if m.group(1) == "lam" else m.group(1))
    text = sp.sstr(op.expr)
    text = re.sub(r"\d+\.\d*e-?\d+|\d+\.\d+", lambda f: f"{float(f.group(0)):g}", text)
    return text.replace("**", "^").replace("*", " ")


def graph_figure(genome, name: str | None = None):
    """The genome as the NASNet-style DAG it is: operands (left), hidden nodes with their op,
    the output (right), the decay function written on each decayed edge; nodes that do not reach
    the output are grey."""
    from gp_opt import symbolic as S
    from gp_opt.genome import OUTPUT

    name = name or genome.meta.get("name", "genome")
    active = genome.active_nodes()
    inner = genome.inner_nodes()
    leaves = sorted({s for n in inner for s in genome.inputs(n) if genome.is_leaf(s)},
                    key=lambda s: (s not in active, list(genome.grammar.operands).index(s)
                                   if s in genome.grammar.operands else 0))
    depth = _depths(genome)
    max_d = max(depth[n] for n in inner)
    depth[OUTPUT] = max_d
    columns: dict[int, list[str]] = {}
    for n in leaves + inner:
        columns.setdefault(depth[n], []).append(n)
    n_rows = max(len(v) for v in columns.values())
    height = max(3.0, 0.75 * n_rows + 1.2)
    fig, (ax,) = new_figure(figsize=(FIGSIZE[0] * 1.5, height),
                         margins=dict(left=0.01, right=0.99, bottom=0.01, top=1 - 0.45 / height))
    pos = {}
    for d, nodes in columns.items():
        for i, n in enumerate(nodes):
            pos[n] = (d, (len(nodes) - 1) / 2 - i)
    grey, box_active, box_out = "#bbbbbb", "#dbe9f6", "#fde2c8"

    def label(n: str) -> str:
        if genome.is_leaf(n):
            return _operand_text(genome.grammar, n)
        return f"{n}: {genome.op(n)}"

    boxes = {}
    for n, (x, y) in pos.items():
        on = n in active
        fc = (box_out if n == OUTPUT else box_active) if on else "#f2f2f2"
        boxes[n] = ax.text(x, y, label(n), ha="center", va="center", fontsize=8, color="black" if on else grey,
                           bbox=dict(boxstyle="round,pad=0.3", fc=fc, ec="black" if on else grey, lw=1.0),
                           zorder=3)
    ax.set_xlim(-0.5, max_d + 0.5)
    ax.set_ylim(-n_rows / 2 - 0.45, n_rows / 2 + 0.45)
    ax.axis("off")
    sign = "" if genome.sign > 0 else ", sign flipped"
    ax.set_title(f"{name}: update graph (momentum {genome.momentum}{sign}); grey = inactive, "
                 f"x/y = argument of a binary op", fontsize=10)
    fig.canvas.draw()   # the boxes need a size before arrows can be clipped to them
    for dst in inner:
        edges = genome.input_edges(dst)
        for k, (src, dec) in enumerate(edges):
            on = dst in active
            (x0, y0), (x1, y1) = pos[src], pos[dst]
            span = x1 - x0
            # an edge that skips a column bends around the boxes in between
            # arc3: rad > 0 bends below the line of travel (left to right), rad < 0 above; an edge
            # from an upper row that skips columns goes over the boxes in between, others under
            # (scaled by 1/span: the bulge of an arc grows with its length)
            # (scaled by 1/span: the bulge of an arc grows with its length), except along one row,
            # where only a deep arc clears the boxes in between
            if y0 == y1:
                rad = 0.3 if span > 1 else 0.15
            else:
                rad = 0.0 if span <= 1 else (-0.35 if y0 > y1 else 0.35) / span
            ax.annotate("", xy=(x1, y1), xytext=(x0, y0), zorder=2,
                        arrowprops=dict(arrowstyle="-|>", color="black" if on else grey, lw=1.2 if on else 0.8,
                                        patchA=boxes[src].get_bbox_patch(), patchB=boxes[dst].get_bbox_patch(),
                                        shrinkA=2, shrinkB=2, connectionstyle=f"arc3,rad={rad}"))
            if len(edges) == 2:   # which argument is x and which y of a binary op
                p0 = ax.transData.transform((x0, y0))
                p2 = ax.transData.transform((x1, y1))
                d = p2 - p0
                ctrl = (p0 + p2) / 2 + rad * np.array([d[1], -d[0]])
                u = 0.8   # near the arrowhead, on the Bezier curve
                pt = (1 - u) ** 2 * p0 + 2 * (1 - u) * u * ctrl + u ** 2 * p2
                xa, ya = ax.transData.inverted().transform(pt)
                ax.text(xa, ya, "xy"[k], fontsize=7, style="italic", ha="center", va="center", zorder=4,
                        color="#1f4e79" if on else grey,
                        bbox=dict(boxstyle="circle,pad=0.1", fc="white", ec="none", alpha=0.9))
            if dec is not None:
                text = _decay_label(dec)
                # on the edge itself: the midpoint of matplotlib's arc3 Bezier, in display space
                p0 = ax.transData.transform((x0, y0))
                p2 = ax.transData.transform((x1, y1))
                d = p2 - p0
                mid = (p0 + p2) / 2 + 0.5 * rad * np.array([d[1], -d[0]])
                xm, ym = ax.transData.inverted().transform(mid)
                ax.text(xm, ym, "× " + text, fontsize=7, ha="center", va="center", zorder=4,
                        color="#b03a2e" if on else grey,
                        bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.9))
    return fig
