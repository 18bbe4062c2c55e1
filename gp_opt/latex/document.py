"""Equation blocks and standalone documents (gp-opt latex)."""
from __future__ import annotations

from typing import Sequence


from gp_opt import symbolic as S
from gp_opt.latex.printer import DOCUMENT_PACKAGES, printed_width, equation_latex, expr_latex, tex_escape
from gp_opt.latex.tables import notes_paragraph


# ---------------------------------------------------------------- equations and documents
_STEP = {
    "none": r"w \leftarrow w - \eta_t U",
    "momentum": r"m \leftarrow \mu_t m - \eta_t U,\quad w \leftarrow w + m",
    "nesterov": r"m \leftarrow \mu_t m - \eta_t U,\quad w \leftarrow w + \mu_t m - \eta_t U",
}


def equation_lines(genome, max_width: float = 70.0) -> tuple[list[str], set]:
    """Math lines ``U = ...``, ``c_1 = ...``, ``d_1 = ...`` (each a complete formula)."""
    eq = equation_latex(genome, max_width=max_width)
    lines = ["U = " + eq.update]
    lines += ["%s = %s" % p for p in eq.where]
    lines += ["%s = %s" % p for p in eq.decays]
    return lines, eq.used


def simplified_latex(genome, seconds: float, max_width: float | None = None) -> str | None:
    """``U`` simplified by sympy for at most ``seconds`` (operands written out, schedules kept as
    ``a_k``), as the report prints it; the unsimplified form when time runs out. When that is
    wider than ``max_width`` characters (one line of an ``align*`` cannot be broken): the compact
    form (:func:`gp_opt.symbolic.compact_equation`: composite ops such as ``clip`` kept by name,
    decay functions as ``d_k``) if it fits, else ``None``."""
    return _simplified(genome, seconds, max_width)[0]


def _simplified(genome, seconds: float, max_width: float | None) -> tuple[str | None, object]:
    """:func:`simplified_latex`, and the compact expression when that is what it printed (else None)."""
    expr = S.simplify(S.to_sympy(genome, expand_schedules=False), seconds)
    if max_width is None or printed_width(expr) <= max_width:
        return expr_latex(expr, genome.grammar), None
    compact, _ = S.compact_equation(genome)
    if printed_width(compact) <= max_width:
        return expr_latex(compact, genome.grammar), compact
    return None, None


def equation_block(name: str, genome, max_width: float = 70.0, simplify: float = 0.0) -> tuple[str, set]:
    """An ``align*`` block for one optimizer: its step, ``U``, the where-parts, decay functions and
    factored schedule (with ``simplify`` > 0, also ``U`` simplified: :func:`simplified_latex`); and
    what its notes must define."""
    eq = equation_latex(genome, max_width=max_width, schedule=True)
    rows = [r"&\text{step:} && %s" % _STEP.get(genome.momentum, _STEP["none"]),
            r"&&U &= %s" % eq.update]
    if eq.where:
        rows.append(r"&\text{where} && " + r",\quad ".join("%s = %s" % p for p in eq.where[:1]))
        rows += [r"&&& %s = %s" % p for p in eq.where[1:]]
    for sym, d in eq.decays:
        rows.append(r"&&%s &= %s" % (sym, d))
    if eq.schedule is not None:
        rows.append(r"&\text{factored:} && \eta_t\, s(t)\ \text{with}\ s(t) = %s" % eq.schedule)
    if simplify > 0:
        simple, compact = _simplified(genome, simplify, max_width)
        if simple is None:
            rows.append(r"&\text{simplified:} && "
                        r"\text{(wider than a line, also in the grammar's ops: left out)}")
        elif compact is not None:
            rows.append(r"&\text{in the grammar's ops:} && U = %s" % simple)
            eq.used.update(("op", c.op_name) for c in compact.atoms(S.GrammarOpCall))
        else:
            rows.append(r"&\text{simplified:} && U = %s" % simple)
    from gp_opt.card import card, card_latex  # what it costs to run (issue 23)
    head = r"\paragraph{%s} momentum %s%s. %s" % (tex_escape(name), genome.momentum,
                                                 ", sign flipped by the integrity check (included in $U$)"
                                                 if genome.sign < 0 else "", card_latex(card(genome)))
    body = "\n".join([head, r"\begin{align*}", " \\\\\n".join(rows), r"\end{align*}"])
    return body, eq.used


def standalone(body: str, title: str | None = None, landscape: bool = False) -> str:
    """A complete LaTeX document around ``body`` that compiles with ``pdflatex`` as is."""
    geometry = "a4paper,margin=2cm" + (",landscape" if landscape else "")
    lines = [r"\documentclass[11pt]{article}", r"\usepackage[%s]{geometry}" % geometry,
             r"\usepackage{%s}" % ",".join(p for p in DOCUMENT_PACKAGES if p != "geometry"),
             r"\setlength{\parindent}{0pt}", r"\begin{document}"]
    if title:
        lines.append(r"\section*{%s}" % tex_escape(title))
    lines += [body.rstrip("\n"), r"\end{document}"]
    return "\n".join(lines) + "\n"


def equations_document(rows: Sequence[tuple[str, object]], title: str | None = None, simplify: float = 0.0) -> str:
    """A standalone document with one equation block per optimizer and the notes they need
    (``simplify``: see :func:`equation_block`)."""
    parts, used, grammar = [], set(), None
    for name, genome in rows:
        block, u = equation_block(name, genome, simplify=simplify)
        parts.append(block)
        used |= u
        grammar = grammar or genome.grammar
    para = notes_paragraph(used, grammar) if grammar is not None else ""
    base = (r"$\eta_t$ is the base one-cycle learning rate (linear warm-up, hold, cosine decay) "
            r"and $\mu_t$ the one-cycle momentum.")
    body = "\n\n".join(parts) + "\n\n" + r"{\footnotesize %s %s\par}" % (base, para)
    return standalone(body, title=title)
