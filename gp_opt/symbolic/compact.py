"""``U`` in the grammar's own words: composite ops kept by name, so an equation reads like the paper's.

Written out, an op such as ``clip`` (``Min(Abs(y), Max(x, -Abs(y)))``) repeats its arguments, and a
graph that nests three of them prints as several hundred characters, every sub-expression two or
four times. :func:`compact_equation` walks the same graph as :func:`gp_opt.symbolic.equation` but
keeps each *composite* op -- one whose grammar expression has :data:`COMPOSITE_OPS` or more sympy
operations or uses an argument twice (``sigmoid``, ``clip``, ``softsign``, ``dsigmoid``, ... in the
default grammar) -- as a call named by the op's label, and writes the others (``x + y``,
``x/(y + eps)``, ``sqrt(|x|)``) out, so sympy still simplifies the arithmetic around them.
:func:`expand_ops` writes the calls out again from the same grammar expressions (the one definition
of each op), which a test compares with the written-out form.

>>> from gp_opt import catalog
>>> print(compact_text(catalog.get("Adam")))
vhat/(sqrt(shat) + 1.0e-7)
>>> print(compact_text(catalog.get("Opt1")))
QH(g) + softsign(clip(1.0e-5*w, -QH(g^2) + 1.0e-5*w))
"""
from __future__ import annotations

import sympy as sp

from gp_opt.genome import OptimizerGenome
from gp_opt.grammar import Grammar
from gp_opt.symbolic.build import OP_ARGS, apply_op, build_update, plain_form, xreplace_safe
from gp_opt.symbolic.printing import latex_expr, text_expr

__all__ = ["GrammarOpCall", "compact_equation", "compact_text", "compact_latex", "expand_ops",
           "COMPOSITE_OPS"]

#: an op whose grammar expression has at least this many sympy operations (``count_ops``) is kept
#: as a named call; below it, the op is written out
COMPOSITE_OPS = 4


class GrammarOpCall(sp.Function):
    """A grammar op kept by name (``clip(x, y)``); each op is a subclass made by :func:`_call_class`
    with ``op_name``, ``label`` and ``expansion`` (the op's expression in ``x``, ``y``)."""

    op_name = ""
    label = ""
    expansion: sp.Expr = sp.S.Zero

    def _latex(self, printer, exp=None):
        args = ", ".join(printer._print(a) for a in self.args)
        name = r"\operatorname{%s}" % self.label.replace("_", r"\_")
        text = r"%s\left(%s\right)" % (name, args)
        return text if exp is None else r"%s^{%s}" % (text, exp)

    def _sympystr(self, printer):
        return "%s(%s)" % (self.label, ", ".join(printer._print(a) for a in self.args))

    def _pretty(self, printer):
        return printer._print_Function(self, func_name=self.label)

    def _eval_is_real(self):
        return self.expansion.xreplace(dict(zip(OP_ARGS, self.args))).is_real

    def unfold(self) -> sp.Expr:
        """The op's grammar expression on this call's arguments."""
        return self.expansion.xreplace(dict(zip(OP_ARGS, self.args)))


_CLASSES: dict[tuple[int, str], tuple[Grammar, type]] = {}


def _call_class(grammar: Grammar, name: str) -> type:
    key = (id(grammar), name)
    hit = _CLASSES.get(key)
    if hit is None or hit[0] is not grammar:
        op = grammar.ops[name]
        label = op.label or name
        # a class name sympy can print and compare; the label is what the printers show
        cls_name = "op_" + "".join(c if c.isalnum() else "_" for c in name)
        cls = type(cls_name, (GrammarOpCall,), {"op_name": name, "label": label, "expansion": op.expr,
                                                "nargs": op.arity, "__module__": __name__})
        hit = _CLASSES[key] = (grammar, cls)
    return hit[1]


def is_composite(grammar: Grammar, name: str) -> bool:
    """Whether ``compact_equation`` keeps op ``name`` as a named call: its expression has
    :data:`COMPOSITE_OPS` operations or more, or uses an argument twice (``softsign``,
    ``x/(|x| + 1)``: written out, a nested argument would be printed twice)."""
    expr = grammar.ops[name].expr
    if sp.count_ops(expr) >= COMPOSITE_OPS:
        return True
    return any(sum(1 for node in sp.preorder_traversal(expr) if node == arg) > 1 for arg in OP_ARGS)


def compact_equation(genome: OptimizerGenome) -> tuple[sp.Expr, dict[str, sp.Symbol]]:
    """``U`` (sign applied) in the grammar's plain symbols with composite ops as named calls,
    labelled operands kept (``QH(g)``) and each distinct decay function a symbol ``d_k`` (the
    numbering of :func:`gp_opt.symbolic.equation`); and ``{edge "src -> dst": d_k}``."""
    def apply(grammar: Grammar, name: str, args: list[sp.Expr]) -> sp.Expr:
        if is_composite(grammar, name):
            return _call_class(grammar, name)(*args)
        return apply_op(grammar.ops[name], args)

    out, decays = build_update(genome, expand_schedules=False, expand_operands=False, decay_symbols=True,
                               apply=apply)
    return plain_form(out, genome.grammar), {f"{src} -> {dst}": sym for src, dst, _, sym in decays}


def expand_ops(expr: sp.Expr) -> sp.Expr:
    """Every named op call written out as its grammar expression (a pass per nesting level: a
    replacement's own arguments are not rewritten in the same pass)."""
    calls = expr.atoms(GrammarOpCall)
    while calls:
        expr = xreplace_safe(expr, {c: c.unfold() for c in calls})
        calls = expr.atoms(GrammarOpCall)
    return expr


def compact_text(genome: OptimizerGenome) -> str:
    """One line of plain text: the compact ``U`` in the grammar's display names."""
    expr, _ = compact_equation(genome)
    return text_expr(expr, genome.grammar)


def compact_latex(genome: OptimizerGenome) -> str:
    """LaTeX of the compact ``U`` (op calls as ``\\operatorname{clip}(...)``)."""
    expr, _ = compact_equation(genome)
    return latex_expr(expr, genome.grammar)

