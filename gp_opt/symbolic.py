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

import functools
import hashlib
import json
import multiprocessing
import re
import time
from collections import OrderedDict
from typing import Callable, Iterable

import numpy as np
import sympy as sp
from sympy.printing.pretty.stringpict import prettyForm

from gp_opt import functions as F
from gp_opt.genome import OUTPUT, DecayGenome, OptimizerGenome
from gp_opt.grammar import G, W, Grammar, T, t

__all__ = ["to_sympy", "decay_to_sympy", "simplify", "to_latex", "pretty", "factor_schedule",
           "canonical_key", "decay_functions", "numeric_function", "equation", "schedule_leaf"]

# ---------------------------------------------------------------- symbols with assumptions
_T_REAL = sp.Symbol("t", integer=True, nonnegative=True)
_TT_REAL = sp.Symbol("T", integer=True, positive=True)


def _symbol_maps(grammar: Grammar) -> tuple[dict, dict]:
    """(plain -> real, real -> plain) for every base symbol of ``grammar``."""
    key = id(grammar)
    hit = _MAPS.get(key)
    if hit is not None and hit[0] is grammar:
        return hit[1], hit[2]
    fwd = {G: sp.Symbol("g", real=True), W: sp.Symbol("w", real=True), t: _T_REAL, T: _TT_REAL}
    for state in grammar.states.values():
        x = sp.Symbol("_x", real=True)
        nonneg = bool(state.input.xreplace({G: x}).is_nonnegative)
        fwd[state.raw] = sp.Symbol(state.name, real=True, nonnegative=nonneg or None)
        fwd[state.hat] = sp.Symbol(state.name + "_hat", real=True, nonnegative=nonneg or None)
    back = {v: k for k, v in fwd.items()}
    _MAPS[key] = (grammar, fwd, back)
    return fwd, back


_MAPS: dict[int, tuple] = {}


# ---------------------------------------------------------------- schedule leaves (unexpanded)
class ScheduleLeaf(sp.Function):
    """A decay schedule kept as a name, ``a4(t, T)``; printed ``a_{4}`` like the paper.

    Made per schedule by :func:`schedule_leaf`; known real (and non-negative when the schedule is).
    """

    nargs = 2
    schedule_name = ""
    nonnegative = True

    def _eval_is_real(self):
        return True

    def _eval_is_nonnegative(self):
        return True if self.nonnegative else None

    def _latex(self, printer, exp=None):
        s = _leaf_latex(self.schedule_name)
        return s if exp is None else r"%s^{%s}" % (s, exp)

    def _sympystr(self, printer):
        return self.schedule_name

    def _pretty(self, printer):
        return prettyForm(self.schedule_name)


_LEAVES: dict[tuple[str, bool], type] = {}


def schedule_leaf(name: str, nonnegative: bool = True) -> type:
    """The sympy function class standing for schedule ``name`` (e.g. ``a4``)."""
    key = (name, nonnegative)
    if key not in _LEAVES:
        _LEAVES[key] = type(name, (ScheduleLeaf,), {"schedule_name": name, "nonnegative": nonnegative})
    return _LEAVES[key]


def _leaf_latex(name: str) -> str:
    m = re.fullmatch(r"([A-Za-z]+)(\d+)(p*)", name)
    if m:
        return "%s%s_{%s}" % (m.group(1), "'" * len(m.group(3)), m.group(2))
    return r"\operatorname{%s}" % name.replace("_", r"\_")


_NONNEG: dict[tuple[int, str], bool] = {}


def _schedule_nonnegative(grammar: Grammar, name: str) -> bool:
    key = (id(grammar), name)
    if key not in _NONNEG:
        try:
            import torch
            ts = torch.arange(100, dtype=torch.float64)
            v = torch.as_tensor(grammar.schedules[name].torch(ts, 100.0), dtype=torch.float64)
            _NONNEG[key] = bool(torch.isfinite(v).all() and (v >= 0).all())
        except Exception:  # noqa: BLE001 - a strange user schedule is simply "sign unknown"
            _NONNEG[key] = False
    return _NONNEG[key]


# ---------------------------------------------------------------- building expressions
def _xreplace(expr: sp.Expr, rule: dict, evaluate: bool = True) -> sp.Expr:
    """``expr.xreplace(rule)``; unevaluated where sympy refuses to rebuild a node (e.g.
    ``Max(RunMax(1), x)``: a constant it cannot compare), or everywhere with ``evaluate=False``
    (renaming symbols of an expression that is already in canonical form)."""
    if evaluate:
        try:
            return expr.xreplace(rule)
        except Exception:  # noqa: BLE001
            pass
    return _rebuild(expr, rule, {})


def _rebuild(expr: sp.Basic, rule: dict, memo: dict) -> sp.Basic:
    """Replace by ``rule`` and rebuild each changed node with ``evaluate=False``.

    Never uses ``sympy.evaluate(False)``: switching that global flag clears sympy's whole cache
    (twice), which made everything around it slow.
    """
    if expr in rule:
        return rule[expr]
    if not expr.args:
        return expr
    hit = memo.get(expr)
    if hit is not None:
        return hit
    args = tuple(_rebuild(a, rule, memo) for a in expr.args)
    if args == expr.args:
        out = expr
    else:
        try:
            out = expr.func(*args, evaluate=False)
        except TypeError:
            out = expr.func(*args)
    memo[expr] = out
    return out


def _minmax(cls, args: tuple) -> sp.Expr:
    """``Max``/``Min`` with only the cheap evaluations (sympy's full one compares every pair
    through the assumptions system and dominates the cost of building an equation)."""
    args = tuple(dict.fromkeys(args))
    if len(args) == 1:
        return args[0]
    if all(a.is_number for a in args):
        try:
            return cls(*args)
        except Exception:  # noqa: BLE001
            pass
    if len(args) == 2:
        a, b = args
        hi, lo = (a, b) if (a.is_nonnegative and b.is_nonpositive) else (
            (b, a) if (b.is_nonnegative and a.is_nonpositive) else (None, None))
        if hi is not None:
            return hi if cls is sp.Max else lo
    return cls(*args, evaluate=False)


def _substitute(expr: sp.Expr, rule: dict) -> sp.Expr:
    """Rebuild an op's expression with its arguments in place (cheap ``Max``/``Min``)."""
    if expr in rule:
        return rule[expr]
    if not expr.args:
        return expr
    args = tuple(_substitute(a, rule) for a in expr.args)
    if isinstance(expr, (sp.Max, sp.Min)):
        return _minmax(expr.func, args)
    return expr.func(*args)


_XY = sp.symbols("x y")


def _apply(op, args: list[sp.Expr]) -> sp.Expr:
    """The op's sympy form on ``args``; unevaluated if sympy's automatic evaluation fails."""
    rule = dict(zip(_XY, args))
    try:
        return _substitute(op.expr, rule)
    except Exception:  # noqa: BLE001 - to_sympy must never raise on a valid genome
        return _rebuild(op.expr, rule, {})


def _mul(value: sp.Expr, factor: sp.Expr) -> sp.Expr:
    try:
        return value * factor
    except Exception:  # noqa: BLE001
        return sp.Mul(value, factor, evaluate=False)


_DECAYS: OrderedDict = OrderedDict()


def _named_decay(decay: DecayGenome) -> sp.Expr:
    """d(t) with the schedules kept as named leaves ``a4(t, T)`` (real symbols), cached."""
    grammar = decay.grammar
    key = (id(grammar), grammar.source, json.dumps(decay.to_dict(), sort_keys=True))
    hit = _DECAYS.get(key)
    if hit is not None:
        _DECAYS.move_to_end(key)
        return hit
    values: dict[str, sp.Expr] = {}
    for node in decay.active_inner_nodes():
        args = [values[s] if s in values else
                schedule_leaf(s, _schedule_nonnegative(grammar, s))(_T_REAL, _TT_REAL)
                for s in decay.inputs(node)]
        values[node] = _apply(grammar.ops[decay.op(node)], args)
    _DECAYS[key] = values[OUTPUT]
    if len(_DECAYS) > _CACHE_SIZE:
        _DECAYS.popitem(last=False)
    return values[OUTPUT]


def _expand_leaves(expr: sp.Expr, grammar: Grammar) -> sp.Expr:
    """Write every named schedule leaf out as its expression in t, T.

    Done last and without re-evaluating the tree around it: evaluating ops on the expanded
    schedules (cosines, ``Mod``) costs far more than the rest of an equation and buys nothing.
    """
    rule = {leaf: _schedule_expr(grammar, leaf.schedule_name) for leaf in expr.atoms(ScheduleLeaf)}
    return _xreplace(expr, rule, False) if rule else expr


_SCHEDULES: dict[tuple[int, str], tuple[Grammar, sp.Expr]] = {}


def _schedule_expr(grammar: Grammar, name: str) -> sp.Expr:
    """A schedule's expression in the real symbols t, T (cached: ``Mod`` with integer
    assumptions is slow to build)."""
    key = (id(grammar), name)
    hit = _SCHEDULES.get(key)
    if hit is None or hit[0] is not grammar:
        fwd, _ = _symbol_maps(grammar)
        hit = _SCHEDULES[key] = (grammar, grammar.schedules[name].expr.xreplace(fwd))
    return hit[1]


def _decay_real(decay: DecayGenome, expand_schedules: bool) -> sp.Expr:
    named = _named_decay(decay)
    return _expand_leaves(named, decay.grammar) if expand_schedules else named


def decay_to_sympy(decay: DecayGenome, expand_schedules: bool = True) -> sp.Expr:
    """A decay function ``d(t)`` as a sympy expression in ``t`` and ``T``.

    With ``expand_schedules=False`` the schedules stay named (``a4(t, T)``, printed ``a_4``).

    >>> from gp_opt.genome import DecayGenome
    >>> d = DecayGenome.from_nodes({"h0": ("erfc", ["a4"]), "out": ("erfc", ["h0"])})
    >>> decay_to_sympy(d, expand_schedules=False)
    erfc(erfc(a4))
    """
    _, back = _symbol_maps(decay.grammar)
    return _xreplace(_decay_real(decay, expand_schedules), back, False)


def _operand_display(grammar: Grammar, name: str) -> sp.Expr | None:
    """A short symbol for an operand with a label (``QH(g)``), or None to expand it."""
    operand = grammar.operands[name]
    if operand.label == name or operand.expr.is_Atom:
        return None
    return sp.Symbol(_DISPLAY_PREFIX + name)


_DISPLAY_PREFIX = "operand__"


def _build(genome: OptimizerGenome, expand_schedules: bool = True, expand_operands: bool = True,
           decay_symbols: bool = False) -> tuple[sp.Expr, list[tuple[str, str, DecayGenome, sp.Symbol]]]:
    """U with real symbols. With ``decay_symbols`` each decay function becomes a symbol ``d_k``."""
    grammar = genome.grammar
    fwd, _ = _symbol_maps(grammar)
    values: dict[str, sp.Expr] = {}
    decays: list = []
    seen: dict[str, sp.Symbol] = {}
    for node in genome.active_inner_nodes():
        args = []
        for src, dec in genome.input_edges(node):
            if src in values:
                value = values[src]
            else:
                value = (None if expand_operands else _operand_display(grammar, src))
                if value is None:
                    value = grammar.operands[src].expr.xreplace(fwd)
            if dec is not None:
                if decay_symbols:
                    key = json.dumps(dec.to_dict(), sort_keys=True)
                    if key not in seen:
                        seen[key] = sp.Symbol("d_%d" % (len(seen) + 1), nonnegative=True)
                    factor = seen[key]
                    decays.append((src, node, dec, factor))
                else:
                    factor = _named_decay(dec)
                value = _mul(value, factor)
            args.append(value)
        values[node] = _apply(grammar.ops[genome.op(node)], args)
    out = values[OUTPUT]
    if genome.sign < 0:
        out = _mul(out, sp.S.NegativeOne)
    if expand_schedules and not decay_symbols:
        out = _expand_leaves(out, grammar)
    return out, decays


_CACHE: OrderedDict = OrderedDict()
_CACHE_SIZE = 4096


def _cached(kind: str, genome: OptimizerGenome, flags: tuple, compute: Callable):
    d = genome.to_dict()
    d.pop("meta", None)
    key = (kind, id(genome.grammar), genome.grammar.source, json.dumps(d, sort_keys=True), flags)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    value = compute()
    _CACHE[key] = value
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return value


def to_sympy(genome: OptimizerGenome, expand_schedules: bool = True,
             expand_operands: bool = True) -> sp.Expr:
    """The update ``U`` (sign applied) as a sympy expression.

    Base symbols: ``g, w, t, T`` and each moving average's raw and ``_hat`` symbol. Decay
    functions are written in ``t, T`` (``expand_schedules=False`` keeps the schedules as named
    functions ``a4(t, T)``). ``expand_operands=False`` keeps labelled operands (``QH(g)``) as
    single symbols, for display only. Never raises on a valid genome.
    """
    def compute():
        expr = _real_named(genome, expand_operands)
        if expand_schedules:
            expr = _expand_leaves(expr, genome.grammar)
        _, back = _symbol_maps(genome.grammar)
        return _xreplace(expr, back, False)
    return _cached("sympy", genome, (expand_schedules, expand_operands), compute)


def _real_named(genome: OptimizerGenome, expand_operands: bool = True) -> sp.Expr:
    """U in real symbols with named schedules: what every other form is derived from (cached)."""
    return _cached("real", genome, (expand_operands,),
                   lambda: _build(genome, False, expand_operands)[0])


def decay_functions(genome: OptimizerGenome, expand_schedules: bool = False
                    ) -> list[tuple[str, str, sp.Symbol, sp.Expr]]:
    """The active decayed edges: ``[(src, dst, symbol d_k, d(t) expression), ...]``."""
    _, decays = _build(genome, expand_schedules=False, expand_operands=False, decay_symbols=True)
    return [(src, dst, sym, decay_to_sympy(dec, expand_schedules)) for src, dst, dec, sym in decays]


def equation(genome: OptimizerGenome) -> tuple[sp.Expr, list[tuple[str, str, sp.Symbol, sp.Expr]]]:
    """The paper-style equation: labelled operands kept (``QH(g)``), each decay function a symbol
    ``d_k``; and the list of decay functions (with schedules named, ``a_4``)."""
    expr, _ = _build(genome, expand_schedules=False, expand_operands=False, decay_symbols=True)
    _, back = _symbol_maps(genome.grammar)
    return _xreplace(expr, back, False), decay_functions(genome)


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
        if _operand_display(grammar, name) is not None:
            label = operand.label
            out[sp.Symbol(_DISPLAY_PREFIX + name)] = sp.Symbol(label)
    return out


def _operand_latex(grammar: Grammar) -> dict[sp.Symbol, str]:
    names = {}
    for name, operand in grammar.operands.items():
        if _operand_display(grammar, name) is None:
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


def _with_deadline(fn: Callable[[], str], timeout: float | None, fallback: Callable[[], str]) -> str:
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

    Past ``timeout`` seconds the plain-text form is typeset verbatim instead."""
    expr = _xreplace(expr, _display_names(grammar), False)

    def plain():
        text = sp.sstr(expr)
        for a, b in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("{", r"\{"), ("}", r"\}"),
                     ("%", r"\%"), ("&", r"\&"), ("#", r"\#"), ("$", r"\$"), ("^", r"\^{}"),
                     ("~", r"\~{}")):
            text = text.replace(a, b)
        return r"\texttt{%s}" % text
    return _with_deadline(lambda: sp.latex(expr, symbol_names=_operand_latex(grammar), mul_symbol=None),
                          timeout, plain)


def pretty_expr(expr: sp.Expr, grammar: Grammar, timeout: float | None = PRINT_TIMEOUT) -> str:
    """Unicode pretty form of an expression in a grammar's symbols (plain text past ``timeout``)."""
    names = _display_names(grammar)
    names = {k: sp.Symbol(_unicode_label(v.name)) for k, v in names.items()}
    expr = _xreplace(expr, names, False)
    return _with_deadline(lambda: sp.pretty(expr, use_unicode=True, wrap_line=False), timeout,
                          lambda: sp.sstr(expr))


def text_expr(expr: sp.Expr, grammar: Grammar) -> str:
    """One line of plain text in a grammar's display names (``QH(g)``, ``v_hat``), for logs and
    terminals without 2-D layout.

    >>> from gp_opt import catalog
    >>> g = catalog.load("Opt6")
    >>> "operand__" in text_expr(to_sympy(g, expand_schedules=False, expand_operands=False), g.grammar)
    False
    """
    return sp.sstr(_xreplace(expr, _display_names(grammar), False))


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


# ---------------------------------------------------------------- simplification with a deadline
@functools.lru_cache(maxsize=1)
def _namespace() -> dict:
    ns: dict = {}
    exec("from sympy import *", ns)  # noqa: S102 - sympy's own names, to read srepr back
    ns.update(F.FUNCTIONS)
    for cls in _LEAVES.values():
        ns[cls.__name__] = cls
    return ns


def _cheap(expr: sp.Expr) -> sp.Expr:
    """A few passes that are cheap on the expressions a genome makes."""
    out = sp.powsimp(expr)
    out = sp.factor_terms(out)
    return out


def _worker(expr, conn) -> None:  # runs in a forked child
    try:
        conn.send(sp.srepr(_cheap(expr)))
        conn.send(sp.srepr(sp.simplify(expr)))
    except Exception:  # noqa: BLE001
        pass
    finally:
        try:
            conn.send(None)
        finally:
            conn.close()


def _to_real(expr: sp.Expr) -> tuple[sp.Expr, dict]:
    base = {"g": {"real": True}, "w": {"real": True}, "t": {"integer": True, "nonnegative": True},
            "T": {"integer": True, "positive": True}}
    fwd = {}
    for s in expr.free_symbols:
        if s.assumptions0:
            continue
        if s.name in base:
            fwd[s] = sp.Symbol(s.name, **base[s.name])
        elif re.fullmatch(r"[a-z]+(_hat)?", s.name):  # moving averages: real
            fwd[s] = sp.Symbol(s.name, real=True)
    return _xreplace(expr, fwd), {v: k for k, v in fwd.items()}


def simplify(expr: sp.Expr, timeout: float = 5.0) -> sp.Expr:
    """``sympy.simplify`` within ``timeout`` seconds; never hangs.

    The work runs in a forked worker process that is killed at the deadline; the best result
    received by then (cheap passes first, then the full simplify) is returned, else ``expr``
    itself. Base symbols are taken real while simplifying.
    """
    if timeout is None or timeout <= 0:
        return expr
    # the deadline counts from the call: the preparation and reading results back are inside it
    deadline = time.monotonic() + timeout
    try:
        ctx = multiprocessing.get_context("fork")
    except ValueError:  # no fork on this platform: cheap passes only
        return expr
    real, back = _to_real(expr)
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_worker, args=(real, send), daemon=True)
    best, best_ops = real, None
    try:
        proc.start()
        send.close()
        ns = _namespace()  # built once per process (the first call would otherwise pay for it late)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not recv.poll(remaining):
                break
            try:
                msg = recv.recv()
            except (EOFError, OSError):
                break
            if msg is None or time.monotonic() >= deadline:
                break
            try:
                cand = eval(msg, ns)  # noqa: S307 - srepr from our own child process
            except Exception:  # noqa: BLE001
                continue
            ops = sp.count_ops(cand)
            if best_ops is None:
                best_ops = sp.count_ops(real)
            if ops <= best_ops:
                best, best_ops = cand, ops
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(1.0)
        recv.close()
    return _xreplace(best, back, False)


# ---------------------------------------------------------------- learning-rate schedule factoring
_TIME = {_T_REAL, _TT_REAL}


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
                    expand_operands: bool = True) -> tuple[sp.Expr, sp.Expr]:
    """``(schedule, update)`` with ``U = schedule * update`` and ``schedule`` a function of t, T.

    Every factor that depends only on ``t, T`` and reaches ``U`` through distributive paths
    (products, quotients, powers with a constant exponent, sums whose terms share the factor,
    ``|.|``, ``max``/``min`` of arguments sharing a non-negative factor, dropout) is pulled
    out. The ``eps`` regulariser of ``div``/``reciprocal`` is treated as negligible: in
    ``x d(t) / (y e(t) + eps)`` the schedule is ``d/e`` and the update keeps ``x / (y + eps)``,
    so the identity holds up to the regulariser's scale. ``schedule`` is 1 when nothing can
    be pulled out. The sign stays in ``update``. ``expand_schedules``/``expand_operands`` as
    in :func:`to_sympy` (False keeps ``a4`` and ``QH(g)`` named, for display).
    """
    def compute():
        expr = _real_named(genome, expand_operands)
        _, back = _symbol_maps(genome.grammar)
        try:
            s, v = _split(expr, sp.Float(genome.grammar.eps))
        except Exception:  # noqa: BLE001 - factoring is best-effort
            s, v = sp.S.One, expr
        if expand_schedules:
            s, v = _expand_leaves(s, genome.grammar), _expand_leaves(v, genome.grammar)
        return _xreplace(s, back, False), _xreplace(v, back, False)
    return _cached("factor", genome, (expand_schedules, expand_operands), compute)


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
    return _cached("key", genome, (timeout,), compute)


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


