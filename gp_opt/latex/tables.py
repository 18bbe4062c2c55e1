"""The notes under an equation and the LaTeX tables (Table 8 form, results mean +- std)."""
from __future__ import annotations

import math
import re
from typing import Iterable, Sequence


from gp_opt.symbolic.build import leaf_latex
from gp_opt.grammar import Grammar
from gp_opt.latex.printer import (PaperLatexPrinter, TABLE_PACKAGES, FUNCTION_NOTES, GREEK, label_latex,
                                  equation_latex, format_number, tex_escape)


# ---------------------------------------------------------------- notes
def notes(used: Iterable[tuple[str, ...]], grammar: Grammar | Sequence[Grammar]) -> list[str]:
    """One sentence (LaTeX) per special symbol in ``used``: epsilon, operands, states, functions,
    schedules; each definition printed from the grammar (the one definition of each primitive).
    With several grammars, a schedule is defined by the first that has it."""
    used = set(used)
    grammars = list(grammar) if isinstance(grammar, (list, tuple)) else [grammar]
    grammar = grammars[0]
    # states read by the operands used are defined too (QH(g^3) reads lambda-hat)
    for name, operand in grammar.operands.items():
        if ("operand", name) in used:
            for st in grammar.states.values():
                if st.hat in operand.expr.free_symbols:
                    used.add(("state", st.name))
    printer = PaperLatexPrinter(grammar)
    out = []
    if ("eps",) in used:
        out.append(r"$\epsilon = %s$" % format_number(grammar.eps))
    states = [s for s in grammar.states.values() if ("state", s.name) in used]
    if states:
        items = []
        for s in states:
            base = GREEK.get(s.name, s.name)
            items.append(r"$\hat{%s}$ = bias-corrected $\operatorname{EMA}_{%s}(%s)$" % (
                base, format_number(s.beta), printer.doprint(s.input)))
        out.append("; ".join(items))
    for name, operand in grammar.operands.items():
        if ("operand", name) in used:
            body = printer.doprint(operand.expr)
            # raw moving averages (AggMo) are not bias-corrected: say so once
            out.append(r"$%s = %s$" % (label_latex(operand.label), body))
    raw = [s for s in grammar.states.values()
           if any(("operand", n) in used and s.raw in o.expr.free_symbols for n, o in grammar.operands.items())]
    if raw:
        out.append(", ".join("$%s$" % GREEK.get(s.name, s.name) for s in raw) +
                   " without a hat: the raw (not bias-corrected) moving average")
    for fn, text in FUNCTION_NOTES.items():
        if ("function", fn) in used:
            out.append(text)
    for name, op in grammar.ops.items():  # ops kept by name in a compact U (symbolic.compact)
        if ("op", name) in used:
            args = ", ".join(str(a) for a in sorted(op.expr.free_symbols, key=str))
            out.append(r"$\operatorname{%s}(%s) = %s$" % (tex_escape(op.label or name), args,
                                                              printer.doprint(op.expr)))
    scheds = sorted((u[1] for u in used if u[0] == "schedule"), key=_schedule_order)
    for name in scheds:
        sch = next((g.schedules[name] for g in grammars if name in g.schedules), None)
        if sch is None:
            continue
        defn = printer.doprint(sch.expr)
        out.append(r"$%s = %s$ (%s)" % (leaf_latex(name), defn, tex_escape(sch.label)))
    return out


def _schedule_order(name: str):
    m = re.fullmatch(r"([A-Za-z]+)(\d+)(.*)", name)
    return (m.group(1), int(m.group(2)), m.group(3)) if m else (name, 0, "")


def notes_paragraph(used, grammar) -> str:
    items = notes(used, grammar)
    return ("Notes: " + "; ".join(items) + ".") if items else ""


# ---------------------------------------------------------------- tables
def preamble_comment(packages: Sequence[str] = TABLE_PACKAGES) -> str:
    return "%% needs in the preamble: \\usepackage{%s}" % ",".join(packages)


def _row_cells(name: str, genome, max_width: float, form: str) -> tuple[list[str], set]:
    eq = equation_latex(genome, max_width=max_width, schedule=(form == "schedule"))
    if form == "schedule" and eq.schedule is not None:
        update = r"$\displaystyle %s$" % eq.scheduled_update
        first = [r"$\displaystyle s(t) = %s$" % eq.schedule]
    else:
        update = r"$\displaystyle %s$" % eq.update
        first = []
    if eq.where:
        update += r" \newline where " + ", ".join("$%s = %s$" % p for p in eq.where)
    decays = first + ["$%s = %s$" % p for p in eq.decays]
    dec = r" \newline ".join(decays) if decays else "--"
    return [tex_escape(name), genome.momentum + ("" if genome.sign > 0 else r" ($-$)"), update, dec], eq.used


def latex_table(rows: Sequence[tuple[str, object]], caption: str | None = None, label: str | None = None,
                form: str = "update", max_width: float = 44.0, buffers: Sequence[int] | None = None) -> str:
    """A table like the paper's Table 8 (``form="update"``: name, momentum, weight update, decay
    functions) or of learning-rate schedules (``form="schedule"``: the update with the factored
    schedule ``s(t)`` pulled out, then ``s(t)`` and the decay functions).

    A ``tabularx`` of the full line width with ``booktabs`` rules; long updates are broken into
    named parts with a "where" line; a note defines epsilon, the operands and functions used and
    the schedules ``a_k``. Needs :data:`TABLE_PACKAGES`.

    ``buffers`` (one count per row, the card's state buffers per parameter,
    :func:`gp_opt.card.state_buffers`; given by the caller so this module needs no torch): a
    "Buffers" column after the momentum, and the note says what it counts.
    """
    if form not in ("update", "schedule"):
        raise ValueError(f"unknown table form {form!r}")
    if buffers is not None and len(buffers) != len(rows):
        raise ValueError(f"buffers: {len(buffers)} counts for {len(rows)} rows")
    grammars: list = []
    used: set = set()
    body = []
    for i, (name, genome) in enumerate(rows):
        cells, u = _row_cells(name, genome, max_width, form)
        if buffers is not None:
            cells.insert(2, str(int(buffers[i])))
        used |= u
        if all(genome.grammar is not g for g in grammars):
            grammars.append(genome.grammar)
        body.append(" & ".join(cells) + r" \\")
        body.append(r"\addlinespace")
    if body:
        body.pop()
    head3 = "Weight update $U$" if form == "update" else r"Update ($U = s(t)\,\cdot$ this)"
    head4 = "Decay functions" if form == "update" else r"Schedule $s(t)$, decay functions"
    out = [preamble_comment(), r"\begin{table}[htbp]", r"\centering", r"\small"]
    if caption:
        out.append(r"\caption{%s}" % caption)
    if label:
        out.append(r"\label{%s}" % label)
    wide, narrow = ("1.25", "0.75") if form == "update" else ("0.6", "1.4")
    buf_col, buf_head = ("c ", "Buffers & ") if buffers is not None else ("", "")
    out += [r"\begin{tabularx}{\linewidth}{@{}l l %s>{\raggedright\arraybackslash\hsize=%s\hsize}X "
            r">{\raggedright\arraybackslash\hsize=%s\hsize}X@{}}" % (buf_col, wide, narrow),
            r"\toprule", f"Name & Momentum & {buf_head}{head3} & {head4} \\\\", r"\midrule", *body,
            r"\bottomrule", r"\end{tabularx}"]
    para = notes_paragraph(used, grammars) if grammars else ""
    mom = r"Momentum ($-$): the integrity check flipped the sign, included in $U$. " \
        if any(g.sign < 0 for _, g in rows) else ""
    buf = "Buffers: state buffers kept per parameter (moving averages, stateful nodes, momentum). " \
        if buffers is not None else ""
    if para or mom or buf:
        out += [r"\par\smallskip", r"\begin{minipage}{\linewidth}\footnotesize\raggedright",
                mom + buf + para, r"\end{minipage}"]
    out.append(r"\end{table}")
    return "\n".join(out) + "\n"


def results_table(columns: Sequence[str], rows: Sequence[tuple[str, Sequence]], caption: str | None = None,
                  label: str | None = None, digits: int = 3,
                  higher_is_better: bool | Sequence[bool] = True) -> str:
    """A ``booktabs`` table of results: one row per optimizer, one column per task or round.

    Each cell is a list of per-seed values (printed ``mean \\pm std``, std over seeds with
    ``ddof=1``; a single value prints alone), a number, or None (``--``). The best mean of each
    column is bold: the largest, or the smallest where ``higher_is_better`` is False (one bool for
    every column, or one per column: bits per character and accuracy side by side).

    >>> print(results_table(["acc"], [("Adam", [[0.8, 0.82]]), ("SGD", [0.7])]).splitlines()[8])
    Adam & $\\mathbf{0.810 \\pm 0.014}$ \\\\
    """
    import numpy as np

    def stats(cell):
        if cell is None:
            return None
        vals = [float(v) for v in (cell if isinstance(cell, (list, tuple)) else [cell])]
        vals = [v for v in vals if math.isfinite(v)]
        if not vals:
            return None
        return float(np.mean(vals)), (float(np.std(vals, ddof=1)) if len(vals) > 1 else None)

    table = [[stats(c) for c in cells] for _, cells in rows]
    higher = ([bool(higher_is_better)] * len(columns) if isinstance(higher_is_better, bool)
              else [bool(h) for h in higher_is_better])
    if len(higher) != len(columns):
        raise ValueError(f"higher_is_better: {len(higher)} values for {len(columns)} columns")
    best = []
    for j in range(len(columns)):
        means = [r[j][0] for r in table if j < len(r) and r[j] is not None]
        best.append((max(means) if higher[j] else min(means)) if means else None)
    out = [preamble_comment(("booktabs",)), r"\begin{table}[htbp]", r"\centering", r"\small"]
    if caption:
        out.append(r"\caption{%s}" % caption)
    if label:
        out.append(r"\label{%s}" % label)
    out += [r"\begin{tabular}{@{}l%s@{}}" % ("r" * len(columns)), r"\toprule",
            " & ".join(["Optimizer"] + [tex_escape(c) for c in columns]) + r" \\", r"\midrule"]
    for (name, _), cells in zip(rows, table):
        texts = []
        for j in range(len(columns)):
            c = cells[j] if j < len(cells) else None
            if c is None:
                texts.append("--")
                continue
            mean, std = c
            body = f"{mean:.{digits}f}" + (f" \\pm {std:.{digits}f}" if std is not None else "")
            if best[j] is not None and mean == best[j]:
                body = r"\mathbf{%s}" % body
            texts.append(f"${body}$")
        out.append(" & ".join([tex_escape(name)] + texts) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(out) + "\n"
