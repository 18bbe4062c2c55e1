"""Printing expressions: display names, LaTeX, pretty and plain text, each within a deadline."""
from __future__ import annotations

import re
from typing import Callable

import sympy as sp

from gp_opt.genome import OptimizerGenome
from gp_opt.grammar import Grammar
from gp_opt.symbolic.build import DISPLAY_PREFIX, operand_display, xreplace_safe, plain_form, to_sympy


# ---------------------------------------------------------------- printing
def _display_names(grammar: Grammar) -> dict[sp.Symbol, sp.Symbol]:
    """Plain symbols -> symbols whose names print nicely (``v_hat`` -> v̂, ``lam`` -> λ)."""
    greek = {"lam": "lambda"}
    out = {}
    for state in grammar.states.values():
        base = greek.get(state.name, state.name)
        out[state.raw] = sp.Symbol(base)
        out[state.hat] = sp.Symbol(base + "hat")
    for name, operand in grammar.operands.items():
        if operand_display(grammar, name) is not None:
            label = operand.label
            out[sp.Symbol(DISPLAY_PREFIX + name)] = sp.Symbol(label)
    return out


def _operand_latex(grammar: Grammar) -> dict[sp.Symbol, str]:
    names = {}
    for name, operand in grammar.operands.items():
        if operand_display(grammar, name) is None:
            continue
        label = operand.label
        m = re.fullmatch(r"([A-Za-z]+)\((.*)\)", label)
        if m:
            inner = re.sub(r"\^(\w+)", r"^{\1}", m.group(2))
            names[sp.Symbol(label)] = r"\operatorname{%s}\left(%s\right)" % (m.group(1), inner)
        else:
            names[sp.Symbol(label)] = r"\operatorname{%s}" % label.replace("_", r"\_")
    return names


def _unicode_label(label: str) -> str:
    sup = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
    return re.sub(r"\^(\d+)", lambda m: m.group(1).translate(sup), label)


class _Deadline(BaseException):
    """Raised by the alarm inside sympy code (a BaseException: sympy's ``except Exception``
    clauses must not swallow it)."""


def with_deadline(fn: Callable[[], str], timeout: float | None, fallback: Callable[[], str]) -> str:
    """``fn()``, or ``fallback()`` if it runs past ``timeout`` seconds.

    sympy's printers call ``fraction``/assumption queries that, on rare expressions and
    depending on the state of sympy's cache, can run for minutes. Bounded with SIGALRM where
    that is possible (Unix, main thread), unbounded elsewhere.
    """
    import signal
    import threading
    if (not timeout or not hasattr(signal, "setitimer")
            or threading.current_thread() is not threading.main_thread()):
        return fn()

    def alarm(signum, frame):
        raise _Deadline()

    old_handler = signal.signal(signal.SIGALRM, alarm)
    old_timer = signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        return fn()
    except _Deadline:
        return fallback()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)
        if old_timer[0]:
            signal.setitimer(signal.ITIMER_REAL, *old_timer)


PRINT_TIMEOUT = 5.0


def latex_expr(expr: sp.Expr, grammar: Grammar, timeout: float | None = PRINT_TIMEOUT) -> str:
    """LaTeX of an expression in a grammar's symbols (hats, greek, operand labels).

    Past ``timeout`` seconds the plain-text form is typeset verbatim instead. Plain symbols or
    those with assumptions (``to_sympy(..., real=True)``) print alike."""
    expr = xreplace_safe(plain_form(expr, grammar), _display_names(grammar), False)

    def plain():
        text = sp.sstr(expr)
        for a, b in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("{", r"\{"), ("}", r"\}"),
                     ("%", r"\%"), ("&", r"\&"), ("#", r"\#"), ("$", r"\$"), ("^", r"\^{}"),
                     ("~", r"\~{}")):
            text = text.replace(a, b)
        return r"\texttt{%s}" % text
    return with_deadline(lambda: sp.latex(expr, symbol_names=_operand_latex(grammar), mul_symbol=None),
                          timeout, plain)


def pretty_expr(expr: sp.Expr, grammar: Grammar, timeout: float | None = PRINT_TIMEOUT) -> str:
    """Unicode pretty form of an expression in a grammar's symbols (plain text past ``timeout``)."""
    names = _display_names(grammar)
    names = {k: sp.Symbol(_unicode_label(v.name)) for k, v in names.items()}
    expr = xreplace_safe(plain_form(expr, grammar), names, False)
    return with_deadline(lambda: sp.pretty(expr, use_unicode=True, wrap_line=False), timeout,
                          lambda: sp.sstr(expr))


def text_expr(expr: sp.Expr, grammar: Grammar) -> str:
    """One line of plain text in a grammar's display names (``QH(g)``, ``v_hat``), for logs and
    terminals without 2-D layout.

    >>> from gp_opt import catalog
    >>> g = catalog.load("Opt6")
    >>> "operand__" in text_expr(to_sympy(g, expand_schedules=False, expand_operands=False), g.grammar)
    False
    """
    return sp.sstr(xreplace_safe(plain_form(expr, grammar), _display_names(grammar), False))


def to_latex(genome: OptimizerGenome, expand: bool = False) -> str:
    """LaTeX of ``U``.

    Default: the paper's style, ``QH``-like operands kept and each decay function written
    inline with named schedules (``a_4``). ``expand=True`` writes every operand and schedule out.
    """
    if expand:
        expr = to_sympy(genome)
    else:
        expr = to_sympy(genome, expand_schedules=False, expand_operands=False)
    return latex_expr(expr, genome.grammar)


def pretty(genome: OptimizerGenome, expand: bool = False) -> str:
    """Unicode pretty form of ``U`` (same conventions as :func:`to_latex`)."""
    if expand:
        expr = to_sympy(genome)
    else:
        expr = to_sympy(genome, expand_schedules=False, expand_operands=False)
    return pretty_expr(expr, genome.grammar)
