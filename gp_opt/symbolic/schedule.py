"""Factoring the learning-rate schedule out of U, and canonical keys of genomes."""
from __future__ import annotations

import hashlib

import sympy as sp

from gp_opt import functions as F
from gp_opt.genome import OptimizerGenome
from gp_opt.symbolic.build import (TT_REAL, T_REAL, cached_form, expand_leaves, real_named, symbol_maps,
                                   xreplace_safe, to_sympy)
from gp_opt.symbolic.simplify import simplify


# ---------------------------------------------------------------- learning-rate schedule factoring
_TIME = {T_REAL, TT_REAL}


def _split(e: sp.Expr, eps: sp.Float) -> tuple[sp.Expr, sp.Expr]:
    """``e ~ S * V`` with ``S`` depending only on (t, T) (or 1): the distributive paths."""
    free = e.free_symbols
    if not (free & _TIME):
        return sp.S.One, e
    if free <= _TIME:
        return e, sp.S.One
    if e.is_Mul:
        parts = [_split(a, eps) for a in e.args]
        return sp.Mul(*(s for s, _ in parts)), sp.Mul(*(v for _, v in parts))
    if e.is_Pow:
        base, ex = e.args
        if ex.free_symbols:
            return sp.S.One, e
        s, v = _split(base, eps)
        if s == 1:
            return sp.S.One, e
        return s ** ex, v ** ex
    if e.is_Add:
        terms = list(e.args)
        has_eps = any(a == eps for a in terms)
        terms = [a for a in terms if a != eps]       # the eps regulariser: taken as negligible
        parts = [_split(a, eps) for a in terms]
        s0 = parts[0][0]
        if s0 == 1:
            return sp.S.One, e
        vs = []
        for s, v in parts:
            ratio = s / s0
            if ratio.free_symbols & _TIME:
                return sp.S.One, e
            vs.append(ratio * v)
        return s0, sp.Add(*vs) + (eps if has_eps else 0)
    if isinstance(e, sp.Abs):
        s, v = _split(e.args[0], eps)
        if s == 1:
            return sp.S.One, e
        return (s if s.is_nonnegative else sp.Abs(s)), sp.Abs(v)
    if isinstance(e, (sp.Max, sp.Min)):
        parts = [_split(a, eps) for a in e.args]
        s0 = parts[0][0]
        if s0 == 1 or not s0.is_nonnegative or any(s != s0 for s, _ in parts):
            return sp.S.One, e
        return s0, e.func(*(v for _, v in parts))
    if isinstance(e, F.Drop):   # dropout is linear
        s, v = _split(e.args[0], eps)
        return s, F.Drop(v, *e.args[1:])
    return sp.S.One, e


def factor_schedule(genome: OptimizerGenome, expand_schedules: bool = True,
                    expand_operands: bool = True, real: bool = False) -> tuple[sp.Expr, sp.Expr]:
    """``(schedule, update)`` with ``U = schedule * update`` and ``schedule`` a function of t, T.

    Every factor that depends only on ``t, T`` and reaches ``U`` through distributive paths
    (products, quotients, powers with a constant exponent, sums whose terms share the factor,
    ``|.|``, ``max``/``min`` of arguments sharing a non-negative factor, dropout) is pulled
    out. The ``eps`` regulariser of ``div``/``reciprocal`` is treated as negligible: in
    ``x d(t) / (y e(t) + eps)`` the schedule is ``d/e`` and the update keeps ``x / (y + eps)``,
    so the identity holds up to the regulariser's scale. ``schedule`` is 1 when nothing can
    be pulled out. The sign stays in ``update``. ``expand_schedules``/``expand_operands`` as
    in :func:`to_sympy` (False keeps ``a4`` and ``QH(g)`` named, for display); ``real`` too
    (the symbols with assumptions of :func:`gp_opt.symbolic.symbols`).
    """
    def compute():
        expr = real_named(genome, expand_operands)
        _, back = symbol_maps(genome.grammar)
        try:
            s, v = _split(expr, sp.Float(genome.grammar.eps))
        except Exception:  # noqa: BLE001 - factoring is best-effort
            s, v = sp.S.One, expr
        if expand_schedules:
            s, v = expand_leaves(s, genome.grammar), expand_leaves(v, genome.grammar)
        if real:
            return s, v
        return xreplace_safe(s, back, False), xreplace_safe(v, back, False)
    return cached_form("factor", genome, (expand_schedules, expand_operands, real), compute)


# ---------------------------------------------------------------- canonical keys
def canonical_key(genome: OptimizerGenome, timeout: float | None = None) -> str:
    """A key equal for genomes with the same equation (momentum and sign included).

    The cheap form (default) is a hash of ``srepr`` of sympy's automatically canonical form of
    ``U`` (commutative arguments sorted, like terms and powers merged, identities gone,
    inactive nodes ignored), cached per genome: a few milliseconds. With ``timeout`` the
    expression is first run through :func:`simplify` for that long, catching more equalities.
    """
    def compute():
        expr = to_sympy(genome, expand_schedules=False)
        if timeout:
            expr = simplify(expr, timeout)
        digest = hashlib.sha1(sp.srepr(expr).encode()).hexdigest()
        return f"{genome.momentum}:{digest}"
    return cached_form("key", genome, (timeout,), compute)
