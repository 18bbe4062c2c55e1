"""Expressions as numpy functions (plots, checks)."""
from __future__ import annotations

from typing import Callable, Iterable

import numpy as np
import sympy as sp

from gp_opt.grammar import Grammar, T, t
from gp_opt.symbolic.build import ScheduleLeaf


# ---------------------------------------------------------------- numbers
def _np_norm(x):
    x = np.asarray(x, dtype=float)
    return x / np.maximum(1.0, np.abs(x))


def _np_i1e(x):
    try:
        from scipy.special import i1e
        return i1e(x)
    except ImportError:  # pragma: no cover
        import mpmath
        f = np.vectorize(lambda v: float(mpmath.besseli(1, v) * mpmath.exp(-abs(v))))
        return f(x)


def _unsupported(name):
    def fn(*args):
        raise ValueError(f"{name} has no pointwise numeric value (it needs state or randomness)")
    return fn


def numeric_function(expr: sp.Expr, args: Iterable[sp.Symbol], grammar: Grammar | None = None) -> Callable:
    """``numpy`` function of ``expr`` at points (elementwise; ``Norm`` of a scalar is
    ``x / max(1, |x|)``). Named schedules (``a4(t, T)``) are computed from ``grammar``'s
    definitions (default grammar). Stateful and random functions raise ``ValueError``."""
    modules: dict = {"I1e": _np_i1e, "Softplus": lambda x: np.logaddexp(0.0, x), "Norm": _np_norm,
                     "EMA": _unsupported("EMA"), "Delta": _unsupported("Delta"),
                     "RunMax": _unsupported("RunMax"), "Drop": _unsupported("Drop"),
                     "erf": _np_erf, "erfc": _np_erfc}
    leaves = {type(a).__name__ for a in expr.atoms(ScheduleLeaf)}
    if leaves:
        from gp_opt import grammar as grammar_mod
        grammar = grammar or grammar_mod.load()
        for name in leaves:
            modules[name] = _schedule_function(grammar, name)
    return sp.lambdify(list(args), expr, modules=[modules, "numpy"])


_SCHEDULE_FNS: dict = {}


def _schedule_function(grammar: Grammar, name: str) -> Callable:
    key = (id(grammar), name)
    if key not in _SCHEDULE_FNS:
        f = numeric_function(grammar.schedules[name].expr, [t, T], grammar)
        _SCHEDULE_FNS[key] = (grammar, f)
    return _SCHEDULE_FNS[key][1]


def _np_erf(x):
    from scipy.special import erf
    return erf(x)


def _np_erfc(x):
    from scipy.special import erfc
    return erfc(x)
