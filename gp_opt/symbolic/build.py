"""A genome as a sympy expression: symbols with assumptions, schedule leaves, the graph walk."""
from __future__ import annotations

import json
import re
from collections import OrderedDict
from typing import Callable

import sympy as sp
from sympy.printing.pretty.stringpict import prettyForm

from gp_opt.genome import OUTPUT, DecayGenome, OptimizerGenome
from gp_opt.grammar import G, W, Grammar, T, t
from gp_opt.grammar import load as load_grammar


# ---------------------------------------------------------------- symbols with assumptions
class RealSymbol(sp.Symbol):
    """A grammar symbol with its assumptions (``g`` real, ``t`` a non-negative integer, ``s_hat``
    non-negative, ...), as ``to_sympy(..., real=True)`` returns them.

    Prints in LaTeX as the tools do (``v_hat`` as a hatted v, ``lam`` as lambda), so a notebook
    shows an expression in the paper's notation. Equal only to itself: take the symbols from
    :func:`symbols`, not ``sympy.Symbol("g")``.
    """

    @classmethod
    def class_key(cls):
        # sort as sympy's own Symbol does, so that terms keep the order (and the printed form)
        # they always had: the ordering decides e.g. which sign |x - y| is written with
        return sp.Symbol.class_key()

    def _latex(self, printer):
        name = _GREEK.get(self.name, self.name)
        if name.endswith("_hat"):
            name = _GREEK.get(name[:-4], name[:-4]) + "hat"
        return printer._print(sp.Symbol(name))


_GREEK = {"lam": "lambda"}
T_REAL = RealSymbol("t", integer=True, nonnegative=True)
TT_REAL = RealSymbol("T", integer=True, positive=True)


def symbol_maps(grammar: Grammar) -> tuple[dict, dict]:
    """(plain -> real, real -> plain) for every base symbol of ``grammar``."""
    key = id(grammar)
    hit = _MAPS.get(key)
    if hit is not None and hit[0] is grammar:
        return hit[1], hit[2]
    fwd = {G: RealSymbol("g", real=True), W: RealSymbol("w", real=True), t: T_REAL, T: TT_REAL}
    for state in grammar.states.values():
        x = sp.Symbol("_x", real=True)
        nonneg = bool(state.input.xreplace({G: x}).is_nonnegative)
        fwd[state.raw] = RealSymbol(state.name, real=True, nonnegative=nonneg or None)
        fwd[state.hat] = RealSymbol(state.name + "_hat", real=True, nonnegative=nonneg or None)
    back = {v: k for k, v in fwd.items()}
    _MAPS[key] = (grammar, fwd, back)
    return fwd, back


_MAPS: dict[int, tuple] = {}


def symbols(grammar: Grammar | None = None) -> dict[str, sp.Symbol]:
    """The symbols of ``to_sympy(genome, real=True)`` by name: ``g`` and ``w`` real, ``t`` a
    non-negative and ``T`` a positive integer, each moving average ``v``, ``v_hat``, ... real
    (non-negative when its input is, e.g. ``s`` of ``g**2``).

    >>> from gp_opt import catalog
    >>> s = symbols(catalog.get("Adam").grammar)
    >>> s["s_hat"].is_nonnegative, s["T"].is_positive
    (True, True)
    """
    if grammar is None:
        grammar = load_grammar()
    fwd, _ = symbol_maps(grammar)
    return {sym.name: sym for sym in fwd.values()}


def real_form(expr: sp.Expr, grammar: Grammar) -> sp.Expr:
    """``expr`` in the grammar's plain symbols (``sympy.Symbol("g")``) rewritten in the symbols
    with assumptions of :func:`symbols` (unevaluated: the form stays as it is)."""
    fwd, _ = symbol_maps(grammar)
    return xreplace_safe(expr, fwd, False)


def plain_form(expr: sp.Expr, grammar: Grammar) -> sp.Expr:
    """The inverse of :func:`real_form`: the grammar's plain symbols."""
    _, back = symbol_maps(grammar)
    return xreplace_safe(expr, back, False)


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
        # the one LaTeX route of a schedule leaf, for sympy's printer and the paper's alike (a
        # printer with ``note_schedule`` records that its notes must define the schedule)
        note = getattr(printer, "note_schedule", None)
        if note is not None:
            note(self.schedule_name)
        s = leaf_latex(self.schedule_name)
        return s if exp is None else r"%s^{%s}" % (s, exp)

    def _sympystr(self, printer):
        return self.schedule_name

    def _pretty(self, printer):
        return prettyForm(self.schedule_name)


LEAF_CLASSES: dict[tuple[str, bool], type] = {}


def schedule_leaf(name: str, nonnegative: bool = True) -> type:
    """The sympy function class standing for schedule ``name`` (e.g. ``a4``)."""
    key = (name, nonnegative)
    if key not in LEAF_CLASSES:
        LEAF_CLASSES[key] = type(name, (ScheduleLeaf,), {"schedule_name": name, "nonnegative": nonnegative})
    return LEAF_CLASSES[key]


def leaf_latex(name: str) -> str:
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
def xreplace_safe(expr: sp.Expr, rule: dict, evaluate: bool = True) -> sp.Expr:
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


#: the argument symbols of every op's grammar expression
OP_ARGS = sp.symbols("x y")


def apply_op(op, args: list[sp.Expr]) -> sp.Expr:
    """The op's sympy form on ``args``; unevaluated if sympy's automatic evaluation fails."""
    rule = dict(zip(OP_ARGS, args))
    try:
        return _substitute(op.expr, rule)
    except Exception:  # noqa: BLE001 - to_sympy must never raise on a valid genome
        return _rebuild(op.expr, rule, {})


def times(value: sp.Expr, factor: sp.Expr) -> sp.Expr:
    """``value * factor``; unevaluated if sympy's automatic evaluation fails."""
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
                schedule_leaf(s, _schedule_nonnegative(grammar, s))(T_REAL, TT_REAL)
                for s in decay.inputs(node)]
        values[node] = apply_op(grammar.ops[decay.op(node)], args)
    _DECAYS[key] = values[OUTPUT]
    if len(_DECAYS) > _CACHE_SIZE:
        _DECAYS.popitem(last=False)
    return values[OUTPUT]


def expand_leaves(expr: sp.Expr, grammar: Grammar) -> sp.Expr:
    """Write every named schedule leaf out as its expression in t, T.

    Done last and without re-evaluating the tree around it: evaluating ops on the expanded
    schedules (cosines, ``Mod``) costs far more than the rest of an equation and buys nothing.
    """
    rule = {leaf: _schedule_expr(grammar, leaf.schedule_name) for leaf in expr.atoms(ScheduleLeaf)}
    return xreplace_safe(expr, rule, False) if rule else expr


_SCHEDULES: dict[tuple[int, str], tuple[Grammar, sp.Expr]] = {}


def _schedule_expr(grammar: Grammar, name: str) -> sp.Expr:
    """A schedule's expression in the real symbols t, T (cached: ``Mod`` with integer
    assumptions is slow to build)."""
    key = (id(grammar), name)
    hit = _SCHEDULES.get(key)
    if hit is None or hit[0] is not grammar:
        fwd, _ = symbol_maps(grammar)
        hit = _SCHEDULES[key] = (grammar, grammar.schedules[name].expr.xreplace(fwd))
    return hit[1]


def _decay_real(decay: DecayGenome, expand_schedules: bool) -> sp.Expr:
    named = _named_decay(decay)
    return expand_leaves(named, decay.grammar) if expand_schedules else named


def decay_to_sympy(decay: DecayGenome, expand_schedules: bool = True, real: bool = False) -> sp.Expr:
    """A decay function ``d(t)`` as a sympy expression in ``t`` and ``T``.

    With ``expand_schedules=False`` the schedules stay named (``a4(t, T)``, printed ``a_4``).
    ``real=True``: in the symbols with assumptions of :func:`symbols` (``t``, ``T`` integers).

    >>> from gp_opt.genome import DecayGenome
    >>> d = DecayGenome.from_nodes({"h0": ("erfc", ["a4"]), "out": ("erfc", ["h0"])})
    >>> decay_to_sympy(d, expand_schedules=False)
    erfc(erfc(a4))
    """
    expr = _decay_real(decay, expand_schedules)
    if real:
        return expr
    _, back = symbol_maps(decay.grammar)
    return xreplace_safe(expr, back, False)


def operand_display(grammar: Grammar, name: str) -> sp.Expr | None:
    """A short symbol for an operand with a label (``QH(g)``), or None to expand it."""
    operand = grammar.operands[name]
    if operand.label == name or operand.expr.is_Atom:
        return None
    return sp.Symbol(DISPLAY_PREFIX + name)


DISPLAY_PREFIX = "operand__"


def build_update(genome: OptimizerGenome, expand_schedules: bool = True, expand_operands: bool = True,
                 decay_symbols: bool = False, apply: Callable | None = None
                 ) -> tuple[sp.Expr, list[tuple[str, str, DecayGenome, sp.Symbol]]]:
    """U with real symbols, and the decayed edges ``[(src, dst, decay, factor)]``. With
    ``decay_symbols`` each distinct decay function becomes a symbol ``d_k``. ``apply(grammar, op
    name, args)``, when given, builds each node's value instead of the op's expression (the
    compact form keeps some ops as named calls)."""
    grammar = genome.grammar
    fwd, _ = symbol_maps(grammar)
    values: dict[str, sp.Expr] = {}
    decays: list = []
    seen: dict[str, sp.Symbol] = {}
    for node in genome.active_inner_nodes():
        args = []
        for src, dec in genome.input_edges(node):
            if src in values:
                value = values[src]
            else:
                value = (None if expand_operands else operand_display(grammar, src))
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
                value = times(value, factor)
            args.append(value)
        values[node] = (apply_op(grammar.ops[genome.op(node)], args) if apply is None
                        else apply(grammar, genome.op(node), args))
    out = values[OUTPUT]
    if genome.sign < 0:
        out = times(out, sp.S.NegativeOne)
    if expand_schedules and not decay_symbols:
        out = expand_leaves(out, grammar)
    return out, decays


_CACHE: OrderedDict = OrderedDict()
_CACHE_SIZE = 4096


def cached_form(kind: str, genome: OptimizerGenome, flags: tuple, compute: Callable):
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
             expand_operands: bool = True, real: bool = False) -> sp.Expr:
    """The update ``U`` (sign applied) as a sympy expression.

    Base symbols: ``g, w, t, T`` and each moving average's raw and ``_hat`` symbol. Decay
    functions are written in ``t, T`` (``expand_schedules=False`` keeps the schedules as named
    functions ``a4(t, T)``). ``expand_operands=False`` keeps labelled operands (``QH(g)``) as
    single symbols, for display only. Never raises on a valid genome.

    ``real=False`` (default): the grammar's plain symbols, ``sympy.Symbol("g")``. ``real=True``:
    the symbols with assumptions of :func:`symbols` (``g`` real, ``T`` a positive integer, ...),
    for calculus: ``diff`` of ``|x|`` is ``sign(x)`` instead of ``re``/``im`` terms.
    """
    def compute():
        expr = real_named(genome, expand_operands)
        if expand_schedules:
            expr = expand_leaves(expr, genome.grammar)
        if real:
            return expr
        _, back = symbol_maps(genome.grammar)
        return xreplace_safe(expr, back, False)
    return cached_form("sympy", genome, (expand_schedules, expand_operands, real), compute)


def real_named(genome: OptimizerGenome, expand_operands: bool = True) -> sp.Expr:
    """U in real symbols with named schedules: what every other form is derived from (cached)."""
    return cached_form("real", genome, (expand_operands,),
                   lambda: build_update(genome, False, expand_operands)[0])


def decay_functions(genome: OptimizerGenome, expand_schedules: bool = False
                    ) -> list[tuple[str, str, sp.Symbol, sp.Expr]]:
    """The active decayed edges: ``[(src, dst, symbol d_k, d(t) expression), ...]``."""
    _, decays = build_update(genome, expand_schedules=False, expand_operands=False, decay_symbols=True)
    return [(src, dst, sym, decay_to_sympy(dec, expand_schedules)) for src, dst, dec, sym in decays]


def equation(genome: OptimizerGenome) -> tuple[sp.Expr, list[tuple[str, str, sp.Symbol, sp.Expr]]]:
    """The paper-style equation: labelled operands kept (``QH(g)``), each decay function a symbol
    ``d_k``; and the list of decay functions (with schedules named, ``a_4``)."""
    expr, _ = build_update(genome, expand_schedules=False, expand_operands=False, decay_symbols=True)
    _, back = symbol_maps(genome.grammar)
    return xreplace_safe(expr, back, False), decay_functions(genome)
