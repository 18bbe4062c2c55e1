"""The search space as data: load and validate a grammar file.

A grammar file (TOML) lists the moving averages, operands, ops, decay schedules and the
sampling and mutation probabilities. Each primitive is one sympy expression; everything else
about it (torch form, LaTeX, label) is derived here, so the forms can never disagree.

>>> g = load()
>>> len(g.operands), len(g.update_unary), len(g.update_binary), len(g.schedules)
(20, 26, 10, 14)
>>> g.ops["div"].torch_source("a", "b")
'a / (b + 1e-07)'
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from gp_opt import packaged
from pathlib import Path
from typing import Any, Mapping

import sympy as sp

from gp_opt import expression
from gp_opt import functions as F
from gp_opt.errors import GrammarError
from gp_opt.textfile import read_text
from gp_opt.grammar_schema import (BUILTIN_SYMBOLS, GRAMMAR_NAME, MAX_FILE_BYTES, OP_NAME, check_keys,
                                   check_label, check_name, check_weight)
from gp_opt.code_printer import TorchPrinterError, torch_function, torch_source

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

X, Y, EPS = sp.symbols("x y eps")
G, W, t, T = sp.symbols("g w t T")
OP_KINDS = ("scalar", "stateful", "stochastic", "tensorwise")
MOMENTUM_TYPES = ("none", "momentum", "nesterov")
DEFAULT = "default"


@dataclass(frozen=True)
class State:
    """A moving average the optimizer keeps: raw symbol ``name``, bias-corrected ``name_hat``."""

    name: str
    input: sp.Expr          # in terms of g
    beta: float

    @property
    def raw(self) -> sp.Symbol:
        return sp.Symbol(self.name)

    @property
    def hat(self) -> sp.Symbol:
        return sp.Symbol(self.name + "_hat")


@dataclass(frozen=True)
class Operand:
    """A leaf of the update graph: an expression in g, w and the moving averages."""

    name: str
    expr: sp.Expr
    label: str
    weight: float = 1.0

    @property
    def is_constant(self) -> bool:
        return self.expr.is_number

    @property
    def latex(self) -> str:
        return sp.latex(self.expr)


@dataclass(frozen=True)
class Op:
    """A unary or binary op, defined by one sympy expression in ``x`` (and ``y``)."""

    name: str
    expr: sp.Expr
    arity: int
    kind: str = "scalar"
    label: str = ""
    weight: float = 1.0

    def sympy(self, *args: sp.Expr) -> sp.Expr:
        """The op applied to sympy arguments."""
        if len(args) != self.arity:
            raise GrammarError(f"op {self.name!r} takes {self.arity} argument(s), got {len(args)}")
        return self.expr.xreplace(dict(zip((X, Y), args)))

    def torch_source(self, *args: str, key: str | None = None, ctx: str = "ctx") -> str:
        """Torch source of the op on variables named ``args``."""
        syms = [sp.Symbol(a) for a in args]
        return torch_source(self.sympy(*syms), ctx=ctx, key=key)

    @cached_property
    def torch(self):
        """``f(x[, y], ctx=None)`` on tensors; ctx serves engine ops (state, dropout, norm)."""
        return torch_function(self.expr, (X, Y)[: self.arity])

    def __getstate__(self) -> dict:
        return _without_compiled(self)

    def latex(self, *args: str) -> str:
        """LaTeX of the op applied to arguments given as LaTeX strings."""
        syms = [sp.Symbol(a) for a in args] or []
        return sp.latex(self.sympy(*syms))


@dataclass(frozen=True)
class Schedule:
    """A decay-graph leaf: a function of t (0-based step) and T (run length) in [0, 1]."""

    name: str
    expr: sp.Expr
    label: str
    weight: float = 1.0

    @cached_property
    def torch(self):
        return torch_function(self.expr, (t, T))

    def __getstate__(self) -> dict:
        return _without_compiled(self)


def _without_compiled(primitive) -> dict:
    """A primitive's pickled state: its compiled torch function (exec'd code, not picklable) is
    left out and compiled again on first use, so a grammar can go to a worker process."""
    state = dict(primitive.__dict__)
    state.pop("torch", None)
    return state


@dataclass(frozen=True)
class Grammar:
    """A whole search space. Build it with :func:`load`."""

    name: str
    source: str
    eps: float
    states: Mapping[str, State]
    operands: Mapping[str, Operand]
    ops: Mapping[str, Op]
    update_unary: tuple[str, ...]
    update_binary: tuple[str, ...]
    momentum: tuple[str, ...]
    hidden_nodes: int
    update_init: Mapping[str, float]
    schedules: Mapping[str, Schedule]
    decay_unary: tuple[str, ...]
    decay_binary: tuple[str, ...]
    decay_hidden_nodes: int
    decay_init: Mapping[str, float]
    decay_check_steps: int
    decay_max_init_tries: int
    mutation: Mapping[str, float]
    raw: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)

    def op(self, name: str) -> Op:
        try:
            return self.ops[name]
        except KeyError:
            raise GrammarError(f"grammar {self.name!r}: unknown op {name!r}") from None

    def operand_weights(self) -> tuple[list[str], list[float]]:
        names = [n for n, o in self.operands.items() if o.weight > 0]
        return names, [self.operands[n].weight for n in names]

    def schedule_weights(self) -> tuple[list[str], list[float]]:
        names = [n for n, s in self.schedules.items() if s.weight > 0]
        return names, [self.schedules[n].weight for n in names]

    @property
    def symbols(self) -> dict[str, sp.Symbol]:
        """Every base symbol an operand may use: g, w and each state's raw and hat symbols."""
        out = {"g": G, "w": W}
        for s in self.states.values():
            out[s.name] = s.raw
            out[s.name + "_hat"] = s.hat
        return out


def _parse(src: str, text: str, where: str, allowed: set[sp.Symbol]) -> sp.Expr:
    """``text`` as a sympy expression in the ``allowed`` symbols, read without ``eval``
    (:mod:`gp_opt.expression`): anything but numbers, those symbols, arithmetic and the allowed
    functions is an error naming the file, the primitive and the token."""
    return expression.parse(text, {s.name: s for s in allowed}, f"{src}: {where}")


def _need(src: str, table: Mapping, key: str, where: str, kind=None):
    if key not in table:
        raise GrammarError(f"{src}: {where}: missing field {key!r}")
    value = table[key]
    if kind is not None and not isinstance(value, kind):
        raise GrammarError(f"{src}: {where}: field {key!r} must be {getattr(kind, '__name__', kind)}, got {value!r}")
    return value


def _prob(src: str, table: Mapping, key: str, where: str) -> float:
    value = _need(src, table, key, where, (int, float))
    if isinstance(value, bool) or not 0.0 <= float(value) <= 1.0:
        raise GrammarError(f"{src}: {where}: {key} = {value!r} is not a probability in [0, 1]")
    return float(value)


def merge(base: Mapping, over: Mapping) -> dict:
    """``extends``: tables merge key by key; arrays of tables merge by ``name``; lists replace."""
    out = dict(base)
    for key, value in over.items():
        if key == "extends":
            continue
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        elif (isinstance(value, list) and value and all(isinstance(v, dict) for v in value)
              and isinstance(out.get(key), list)):
            merged = {v.get("name"): v for v in out[key]}
            for v in value:
                merged[v.get("name")] = {**merged.get(v.get("name"), {}), **v}
            out[key] = list(merged.values())
        else:
            out[key] = value
    return out


def _read_text(path: Path | str) -> str:
    """A grammar file's text: a regular file of at most MAX_FILE_BYTES, UTF-8; else a GrammarError
    (the project's one reader of user-named text files, :func:`gp_opt.textfile.read_text`)."""
    try:
        return read_text(path, GrammarError, MAX_FILE_BYTES)
    except OSError as exc:
        raise GrammarError(f"{path}: cannot read grammar file: {exc.strerror or exc}") from None


def parse_text(text: str, src: str) -> dict:
    """One grammar file's TOML text, parsed and its keys checked (no ``extends`` resolved)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise GrammarError(f"{src}: not valid TOML: {' '.join(str(exc).split())}") from None
    check_keys(src, data)
    return data


def _read(path: Path | str, seen: tuple = ()) -> dict:
    src = str(path)
    if src == DEFAULT:
        text = packaged.files("gp_opt._grammar").joinpath("default.toml").read_text(encoding="utf-8")
    else:
        text = _read_text(path)
    data = parse_text(text, src)
    parent = data.get("extends")
    if parent is not None:
        if not isinstance(parent, str) or not parent:
            raise GrammarError(f"{src}: extends = {parent!r} must be \"default\" or a grammar file's path")
        if parent != DEFAULT:
            parent = str((Path(path).parent / parent).resolve())
        if parent in seen or parent == src:
            raise GrammarError(f"{src}: 'extends' loops back to {parent!r}")
        data = merge(_read(parent, seen + (src,)), data)
    return data


_cache: dict[str, Grammar] = {}


def load(path: str | Path | None = None) -> Grammar:
    """Load the default grammar, or a grammar file (TOML) of your own.

    Raises :class:`~gp_opt.errors.GrammarError` naming the file, the primitive and the problem.
    """
    key = DEFAULT if path is None or str(path) == DEFAULT else str(Path(path).resolve())
    if key not in _cache:
        _cache[key] = from_dict(_read(key), source=key if path is not None else DEFAULT)
    return _cache[key]


def from_dict(data: Mapping[str, Any], source: str = "<grammar>") -> Grammar:
    """Build and validate a :class:`Grammar` from parsed TOML data."""
    src = source
    if not isinstance(data, Mapping):
        raise GrammarError(f"{src}: a grammar is a table of sections, got {type(data).__name__}")
    check_keys(src, data)
    name = check_name(src, data.get("name", Path(source).stem), "top level", GRAMMAR_NAME)
    version = data.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int):
        raise GrammarError(f"{src}: top level: version = {version!r} must be an integer")
    eps = _need(src, data, "eps", "top level", (int, float))
    if isinstance(eps, bool) or not 0 < eps < math.inf:
        raise GrammarError(f"{src}: top level: eps = {eps!r} must be a finite number > 0")
    eps = float(eps)

    states: dict[str, State] = {}
    for i, entry in enumerate(_need(src, data, "state", "top level", list)):
        where = f"state #{i + 1}"
        sname = check_name(src, _need(src, entry, "name", where, str), where)
        where = f"state {sname!r}"
        taken = {n for s in states.values() for n in (s.name, s.name + "_hat")}
        if (sname in expression.RESERVED or sname in BUILTIN_SYMBOLS or sname in taken
                or sname + "_hat" in taken):
            raise GrammarError(f"{src}: {where}: the name {sname!r} (or {sname + '_hat'!r}) is taken "
                               f"(functions, constants, x, y, eps, g, w, t, T and other states' names)")
        beta = _need(src, entry, "beta", where, (int, float))
        if isinstance(beta, bool):
            raise GrammarError(f"{src}: {where}: beta must be a number, got {beta!r}")
        beta = float(beta)
        if not 0.0 <= beta < 1.0:
            raise GrammarError(f"{src}: {where}: beta = {beta!r} must be in [0, 1)")
        states[sname] = State(sname, _parse(src, _need(src, entry, "input", where, str), where, {G}), beta)
    base = {G, W} | {s.raw for s in states.values()} | {s.hat for s in states.values()}

    operands: dict[str, Operand] = {}
    for i, entry in enumerate(_need(src, data, "operand", "top level", list)):
        oname = check_name(src, _need(src, entry, "name", f"operand #{i + 1}", str), f"operand #{i + 1}")
        where = f"operand {oname!r}"
        if oname in operands:
            raise GrammarError(f"{src}: {where}: defined twice")
        if oname == "out" or (oname.startswith("h") and oname[1:].isdigit()):
            raise GrammarError(f"{src}: {where}: the names 'out' and 'h<k>' are reserved for graph nodes")
        expr = _parse(src, _need(src, entry, "expr", where), where, base)
        operands[oname] = Operand(oname, expr, check_label(src, entry, oname, where), check_weight(src, entry, where))

    ops: dict[str, Op] = {}
    for oname, entry in _need(src, data, "ops", "top level", dict).items():
        where = f"op {oname!r}"
        check_name(src, oname, where, OP_NAME)
        expr = _parse(src, _need(src, entry, "expr", where), where, {X, Y, EPS})
        expr = expr.xreplace({EPS: sp.Float(eps)})
        arity = 2 if Y in expr.free_symbols else 1
        declared = entry.get("arity")
        if declared is not None and (isinstance(declared, bool) or declared != arity):
            raise GrammarError(f"{src}: {where}: arity = {declared!r} but expr uses {arity} argument(s)")
        kind = entry.get("kind", "scalar")
        if kind not in OP_KINDS:
            raise GrammarError(f"{src}: {where}: kind = {kind!r} is not one of {', '.join(OP_KINDS)}")
        used = {type(f).kind for f in expr.atoms(F.GpFunction)} - {"scalar"}
        if used and kind not in used:
            raise GrammarError(f"{src}: {where}: expr uses a {'/'.join(sorted(used))} function, declare kind = {sorted(used)[0]!r}")
        if not used and kind != "scalar":
            raise GrammarError(f"{src}: {where}: kind = {kind!r} but expr is plain elementwise maths")
        try:
            torch_source(expr)
        except TorchPrinterError as exc:
            raise GrammarError(f"{src}: {where}: {exc}") from None
        ops[oname] = Op(oname, expr, arity, kind, check_label(src, entry, oname, where), check_weight(src, entry, where))

    def op_list(section: Mapping, key: str, where: str, arity: int) -> tuple[str, ...]:
        names = tuple(_need(src, section, key, where, list))
        for n in names:
            if not isinstance(n, str) or n not in ops:
                raise GrammarError(f"{src}: {where}.{key}: unknown op {n!r}")
            if ops[n].arity != arity:
                raise GrammarError(f"{src}: {where}.{key}: op {n!r} has arity {ops[n].arity}, expected {arity}")
        if len(set(names)) != len(names):
            raise GrammarError(f"{src}: {where}.{key}: an op is listed twice")
        return names

    update = _need(src, data, "update", "top level", dict)
    uinit = _need(src, update, "init", "[update]", dict)
    update_init = {k: _prob(src, uinit, k, "[update.init]")
                   for k in ("hidden_unary", "output_unary", "identity", "operand_input", "decay_edge")}
    momentum = update.get("momentum", MOMENTUM_TYPES)
    if not isinstance(momentum, (list, tuple)):
        raise GrammarError(f"{src}: [update].momentum must be a list, e.g. {list(MOMENTUM_TYPES)}")
    momentum = tuple(momentum)
    bad = [m for m in momentum if not isinstance(m, str) or m not in MOMENTUM_TYPES]
    if bad or not momentum:
        raise GrammarError(f"{src}: [update].momentum: {bad or momentum!r} not a subset of {MOMENTUM_TYPES}")

    schedules: dict[str, Schedule] = {}
    for i, entry in enumerate(_need(src, data, "schedule", "top level", list)):
        sname = check_name(src, _need(src, entry, "name", f"schedule #{i + 1}", str), f"schedule #{i + 1}")
        where = f"schedule {sname!r}"
        if sname in schedules:
            raise GrammarError(f"{src}: {where}: defined twice")
        expr = _parse(src, _need(src, entry, "expr", where), where, {t, T})
        if any(type(f).kind != "scalar" for f in expr.atoms(F.GpFunction)):
            raise GrammarError(f"{src}: {where}: a schedule is plain maths of t and T (no state, "
                               f"randomness or reduction)")
        try:
            torch_source(expr)
        except TorchPrinterError as exc:
            raise GrammarError(f"{src}: {where}: {exc}") from None
        schedules[sname] = Schedule(sname, expr, check_label(src, entry, sname, where), check_weight(src, entry, where))

    decay = _need(src, data, "decay", "top level", dict)
    dinit = _need(src, decay, "init", "[decay]", dict)
    decay_init = {k: _prob(src, dinit, k, "[decay.init]") for k in ("unary", "output_takes_hidden")}
    mut = _need(src, data, "mutation", "top level", dict)
    mutation = {k: _prob(src, mut, k, "[mutation]") for k in (
        "op", "connection", "swap_inputs", "arity", "momentum", "decay", "decay_delete",
        "decay_op", "decay_connection", "decay_arity")}
    for group in (("op", "connection", "arity", "momentum", "decay"),
                  ("decay_op", "decay_connection", "decay_arity")):
        total = sum(mutation[k] for k in group)
        if not math.isclose(total, 1.0, abs_tol=1e-9):
            raise GrammarError(f"{src}: [mutation]: {' + '.join(group)} = {total:g}, must sum to 1")

    def count(section, key, where, most):
        n = _need(src, section, key, where, int)
        if isinstance(n, bool) or not 1 <= n <= most:
            raise GrammarError(f"{src}: {where}.{key} = {n!r} must be an integer in [1, {most}]")
        return n

    grammar = Grammar(
        name=name, source=src, eps=eps, states=states, operands=operands, ops=ops,
        update_unary=op_list(update, "unary", "[update]", 1),
        update_binary=op_list(update, "binary", "[update]", 2),
        momentum=momentum, hidden_nodes=count(update, "hidden_nodes", "[update]", 64),
        update_init=update_init, schedules=schedules,
        decay_unary=op_list(decay, "unary", "[decay]", 1),
        decay_binary=op_list(decay, "binary", "[decay]", 2),
        decay_hidden_nodes=count(decay, "hidden_nodes", "[decay]", 64), decay_init=decay_init,
        decay_check_steps=count(decay, "check_steps", "[decay]", 1_000_000),
        decay_max_init_tries=count(decay, "max_init_tries", "[decay]", 1_000_000),
        mutation=mutation, raw=dict(data))
    for oname in grammar.decay_unary + grammar.decay_binary:
        if ops[oname].kind != "scalar":
            raise GrammarError(f"{src}: [decay]: op {oname!r} is {ops[oname].kind}; decay ops must be scalar")
    if not grammar.operand_weights()[0]:
        raise GrammarError(f"{src}: no operand has a positive weight")
    if not grammar.schedule_weights()[0]:
        raise GrammarError(f"{src}: no schedule has a positive weight")
    return grammar
