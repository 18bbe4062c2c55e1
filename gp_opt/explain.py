""""What is this optimizer": the nearest known optimizers by behaviour, and how the equation of the
nearest differs when the difference is small.

:func:`explain` runs the genome and every known optimizer -- the catalog's published ones (Opt1..,
A1.., LR1.. and the baselines Adam, SGD, Momentum, Nesterov, RMSProp, QHM, PowerSign, AddSign) --
on the verification panel of :mod:`gp_opt.behaviour` and ranks them by behavioural distance to the
genome (0: the same trajectories; the panel's unit, at most 2). For the nearest it then looks for
a short symbolic account of the difference, in this order:

* the same update and another learning-rate schedule (:func:`gp_opt.symbolic.factor_schedule`),
* one operation of the known optimizer's ``U`` removed ("Adam without the sqrt") or added,
* ``U`` the known one's times a short factor, or plus a short term.

>>> from gp_opt import catalog
>>> e = explain(catalog.get("Adam"), top=2)
>>> e.nearest[0]
('Adam', 0.0)
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import sympy as sp

from gp_opt import catalog
from gp_opt import symbolic as S
from gp_opt.behaviour import VERIFY_PANEL, Panel, distance, reference_trajectories
from gp_opt.errors import GpOptError
from gp_opt.genome import OptimizerGenome

__all__ = ["Explanation", "explain", "known_optimizers", "symbolic_difference"]

#: a symbolic difference is "small" (said) when the factor or term has at most this many operations
SMALL_OPS = 6
#: a short symbolic account is looked for among this many nearest known optimizers
ACCOUNT_AMONG = 8


def known_optimizers() -> dict[str, OptimizerGenome]:
    """Every catalog entry by name (published optimizers, ablations, schedules, baselines)."""
    return {name: catalog.get(name) for name in catalog.names()}


@dataclass
class Explanation:
    """``nearest``: ``[(name, distance), ...]`` nearest first (finite distances only);
    ``difference``: a sentence on how the genome's ``U`` differs from ``difference_from`` (the
    nearest known optimizer with a short symbolic account among the :data:`ACCOUNT_AMONG`
    nearest), or None when none was found."""

    nearest: list[tuple[str, float]]
    difference: str | None
    panel: str
    unreachable: list[str] = field(default_factory=list)
    difference_from: str | None = None

    def lines(self) -> list[str]:
        out = [f"nearest known optimizers by behaviour (distance on panel {self.panel!r}: 0 = same "
               f"trajectories, at most 2):"]
        out += [f"  {name:<14} {d:.3g}" for name, d in self.nearest]
        if self.difference:
            out.append(f"symbolically, from {self.difference_from}: {self.difference}")
        elif self.nearest:
            out.append(f"no short symbolic account of the difference from the {ACCOUNT_AMONG} nearest")
        return out


#: longer equations are only compared as written (sympy's expand and cancel take seconds to minutes on them)
MAX_OPS = 40


def _ops(expr: sp.Expr) -> int:
    return int(sp.count_ops(expr))


def _same(a: sp.Expr, b: sp.Expr) -> bool:
    if a == b:
        return True
    if _ops(a) > MAX_OPS or _ops(b) > MAX_OPS:
        return False
    try:
        return sp.expand(a - b) == 0
    except Exception:  # noqa: BLE001 - an expression sympy cannot expand is "not the same"
        return False


def _name(expr: sp.Expr) -> str:
    if isinstance(expr, sp.Pow) and expr.args[1] == sp.Rational(1, 2):
        return "square root"
    if isinstance(expr, sp.Pow) and expr.args[1] == -1:
        return "reciprocal"
    if isinstance(expr, sp.Pow):
        return f"power {expr.args[1]}"
    if isinstance(expr, sp.Abs):
        return "absolute value"
    return getattr(expr.func, "__name__", str(expr.func))


def _one_op_removed(known: sp.Expr, mine: sp.Expr) -> str | None:
    """The operation of ``known`` whose removal (node -> one of its arguments) gives ``mine``."""
    if _ops(known) > MAX_OPS or abs(_ops(known) - _ops(mine)) > 3:
        return None
    for node in sp.preorder_traversal(known):
        if not node.args or node.is_Atom or isinstance(node, (sp.Add, sp.Mul)):
            continue
        for arg in node.args:
            if arg.is_number:
                continue
            try:
                if _same(known.xreplace({node: arg}), mine):
                    return _name(node)
            except Exception:  # noqa: BLE001
                continue
    return None


def symbolic_difference(mine: OptimizerGenome, known: OptimizerGenome, known_name: str) -> str | None:
    """A short sentence saying how ``mine``'s ``U`` differs from ``known``'s, or None."""
    if mine.momentum != known.momentum:
        prefix = f"momentum {mine.momentum} instead of {known.momentum}; "
    else:
        prefix = ""
    u_mine = S.to_sympy(mine, expand_schedules=False)
    u_known = S.to_sympy(known, expand_schedules=False)
    if _same(u_mine, u_known):
        return prefix + f"the same equation as {known_name}" if prefix else f"the same equation as {known_name}"
    s_mine, v_mine = S.factor_schedule(mine, expand_schedules=False)
    s_known, v_known = S.factor_schedule(known, expand_schedules=False)
    if _same(v_mine, v_known) and not _same(s_mine, s_known):
        return prefix + (f"the update of {known_name} under the learning-rate schedule "
                         f"{S.text_expr(s_mine, mine.grammar)} (instead of "
                         f"{S.text_expr(s_known, known.grammar)})")
    removed = _one_op_removed(u_known, u_mine)
    if removed:
        return prefix + f"{known_name} without the {removed}"
    added = _one_op_removed(u_mine, u_known)
    if added:
        return prefix + f"{known_name} with one more {added}"
    if _ops(u_mine) > MAX_OPS or _ops(u_known) > MAX_OPS:
        return None
    if u_known != 0:
        ratio = sp.cancel(u_mine / u_known)
        if sp.count_ops(ratio) <= SMALL_OPS and ratio.free_symbols:
            return prefix + f"{known_name} times {S.text_expr(ratio, mine.grammar)}"
    extra = sp.expand(u_mine - u_known)
    if sp.count_ops(extra) <= SMALL_OPS:
        return prefix + f"{known_name} plus {S.text_expr(extra, mine.grammar)}"
    return None


def explain(genome: OptimizerGenome, top: int = 5, panel: Panel = VERIFY_PANEL,
            known: dict[str, OptimizerGenome] | None = None) -> Explanation:
    """The ``top`` nearest known optimizers by behaviour, and the symbolic difference from the
    nearest (see the module's text). Raises :class:`GpOptError` when the genome cannot run on
    the panel."""
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise GpOptError(f"explain: top must be a whole number >= 1, got {top!r}")
    known = known if known is not None else known_optimizers()
    target = reference_trajectories(genome, panel, who="explain", what="the genome")
    names = list(known)
    dist = distance([known[n] for n in names], target, panel)
    ranked = sorted(((n, float(d)) for n, d in zip(names, dist) if math.isfinite(d)), key=lambda x: (x[1], x[0]))
    unreachable = [n for n, d in zip(names, dist) if not math.isfinite(d)]
    nearest = ranked[:top]
    difference = difference_from = None
    for name, _ in ranked[:ACCOUNT_AMONG]:
        try:
            difference = symbolic_difference(genome, known[name], name)
        except Exception:  # noqa: BLE001 - the account is best-effort; the distances stand
            difference = None
        if difference:
            difference_from = name
            break
    return Explanation(nearest, difference, panel.name, unreachable, difference_from)
