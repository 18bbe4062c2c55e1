"""The symbolic view of a genome: the update ``U`` as a sympy expression, and what to do with it.

``to_sympy(genome)`` walks the active part of the update graph: each operand is its grammar
expression, each node applies its op's one sympy definition (:meth:`Op.sympy`), and a decay
function on an edge multiplies the value flowing along it by ``d(t)`` (written in ``t`` and
``T`` from the schedules of the decay graph). The genome's sign is applied. Stateful ops appear
as the named functions of :mod:`gp_opt.functions` (``EMA(x, 0.95)``, ``Delta(x)``, ...).

Expressions are built with *real* base symbols (so that ``|exp(w)| = exp(w)`` and
``sqrt(s_hat**2) = s_hat`` come out right, a moving average of ``g**2`` is known to be
non-negative, a schedule is known to be non-negative), then returned in the grammar's plain
symbols ``g, w, t, T, v, v_hat, ...``.

>>> from gp_opt import catalog
>>> to_sympy(catalog.get("Adam"))
v_hat/(sqrt(s_hat) + 1.0e-7)
>>> schedule, update = factor_schedule(catalog.get("SGD"))
>>> schedule, update
(1, g)
"""
from __future__ import annotations

from gp_opt.symbolic.build import (RealSymbol, ScheduleLeaf, decay_functions, decay_to_sympy, equation,
                                   plain_form, real_form, schedule_leaf, symbols, to_sympy)
from gp_opt.symbolic.compact import GrammarOpCall, compact_equation, compact_latex, compact_text, expand_ops
from gp_opt.symbolic.numbers import numeric_function
from gp_opt.symbolic.printing import PRINT_TIMEOUT, latex_expr, pretty, pretty_expr, text_expr, to_latex
from gp_opt.symbolic.schedule import canonical_key, factor_schedule
from gp_opt.symbolic.simplify import simplify

__all__ = ["to_sympy", "decay_to_sympy", "simplify", "to_latex", "pretty", "factor_schedule",
           "canonical_key", "decay_functions", "numeric_function", "equation", "schedule_leaf",
           "ScheduleLeaf", "latex_expr", "pretty_expr", "text_expr", "PRINT_TIMEOUT", "symbols",
           "real_form", "plain_form", "RealSymbol", "compact_equation", "compact_text",
           "compact_latex", "expand_ops", "GrammarOpCall"]
