"""How genomes show themselves in a notebook: LaTeX of the equation, a PNG of the update graph.

Imported with the ``gp_opt`` package; registers its renderers with :mod:`gp_opt.renderers`
(the genome cannot import the symbolic view or the figures: they sit above it). The symbolic
view and matplotlib are imported only when a genome is first displayed.

>>> from gp_opt import catalog
>>> catalog.get("SGD")._repr_latex_()
'$\\\\displaystyle U = g$'
"""
from __future__ import annotations

import io

from gp_opt import renderers


def genome_latex(genome) -> str:
    """``$U = ...$``: the update in the paper's notation (decay functions inline, schedules
    named), then the momentum and the sign when they are not the defaults."""
    from gp_opt import symbolic as S
    text = r"U = " + S.to_latex(genome)
    notes = []
    if genome.momentum != "none":
        notes.append(f"momentum: {genome.momentum}")
    if notes:
        text += r"\quad\text{(%s)}" % "; ".join(notes)
    return r"$\displaystyle %s$" % text


def decay_latex(decay) -> str:
    """``$d(t) = ...$`` with the schedules named (``a_4``)."""
    from gp_opt import symbolic as S
    expr = S.decay_to_sympy(decay, expand_schedules=False)
    return r"$\displaystyle d(t) = %s$" % S.latex_expr(expr, decay.grammar)


def _graph(genome, fmt: str) -> bytes:
    from gp_opt import plots
    fig = plots.graph_figure(genome, genome.meta.get("name") or "genome")
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format=fmt, dpi=plots.DPI)
    finally:
        plots.plt.close(fig)
    return buf.getvalue()


def genome_png(genome) -> bytes:
    """The update graph (:func:`gp_opt.plots.graph_figure`) as PNG bytes."""
    return _graph(genome, "png")


def genome_svg(genome) -> str:
    """The update graph as SVG text (sharp at any zoom in a notebook or a web page)."""
    return _graph(genome, "svg").decode("utf-8")


renderers.register("latex", genome_latex)
renderers.register("decay_latex", decay_latex)
renderers.register("png", genome_png)
renderers.register("svg", genome_svg)
