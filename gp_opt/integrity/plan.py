"""A genome read once for the batched check: its operands, decay tables, node order; the engine
context serving state, seeded dropout and norm."""
from __future__ import annotations

import functools
import zlib
from typing import Any, Iterable, Sequence

import torch

from gp_opt import functions as F
from gp_opt.genome import OUTPUT, OptimizerGenome
from gp_opt.grammar import Grammar
from gp_opt.operands import OperandProgram



# ---------------------------------------------------------------- engine context

_MASKS: dict[tuple, torch.Tensor] = {}


def dropout_mask(seed: int, node: str, call: int, p: float, steps: int, shape: tuple,
                 dtype: torch.dtype) -> torch.Tensor:
    """The dropout factors (0 or 1/(1-p)) of one dropout call, for every step: ``[steps, *shape]``.

    Drawn with :func:`gp_opt.functions.dropout_kernel` from a generator seeded by (seed, node
    name, call index), so a node's masks are the same in every engine and every batch.
    """
    key = (seed, node, call, float(p), steps, tuple(shape), dtype)
    mask = _MASKS.get(key)
    if mask is None:
        gen = torch.Generator().manual_seed(zlib.crc32(f"{seed}:{node}:{call}:{p!r}".encode()))
        mask = F.dropout_kernel(torch.ones((steps,) + tuple(shape), dtype=dtype), float(p), generator=gen)
        if len(_MASKS) > 4096:
            _MASKS.clear()
        _MASKS[key] = mask
    return mask


class PlanCtx:
    """What ``Op.torch`` calls for engine ops (``ctx.ema(x, beta)``, ``ctx.norm(x)``, ...).

    State is kept per (group, call index within the op): an op may hold several states.
    The norm is taken over the last dimension (the variables of one run).
    """

    def __init__(self, masks):
        self.state: dict[tuple, torch.Tensor] = {}
        self.masks = masks          # masks(gid, call, p) -> tensor [steps, ...] broadcastable to x
        self.gid: Any = None
        self.t = 0
        self.call = 0

    def begin(self, gid: Any, t: int) -> None:
        self.gid, self.t, self.call = gid, t, 0

    def _key(self) -> tuple:
        key = (self.gid, self.call)
        self.call += 1
        return key

    def _state(self, key: tuple, x: torch.Tensor) -> torch.Tensor:
        s = self.state.get(key)
        return torch.zeros_like(x) if s is None else s

    def ema(self, x, beta, key=None):
        k = self._key()
        out, self.state[k] = F.ema_kernel(x, self._state(k, x), self.t, beta)
        return out

    def delta(self, x, key=None):
        k = self._key()
        out, self.state[k] = F.delta_kernel(x, self._state(k, x))
        return out

    def running_max(self, x, key=None):
        k = self._key()
        out, self.state[k] = F.running_max_kernel(x, self._state(k, x))
        return out

    def norm(self, x, key=None):
        self._key()
        return F.norm_kernel(x, torch.linalg.vector_norm(x, dim=-1, keepdim=True))

    def dropout(self, x, p, key=None):
        gid, call = self._key()
        return x * self.masks(gid, call, p)[self.t]


def full_like(value, like: torch.Tensor) -> torch.Tensor:
    """An op or operand result as a full tensor shaped like ``like``."""
    if isinstance(value, torch.Tensor) and value.shape == like.shape:
        return value
    return torch.as_tensor(value, dtype=like.dtype).expand_as(like)


# ---------------------------------------------------------------- plans: a genome read once

_PROGRAMS: dict[tuple, OperandProgram] = {}
_DECAYS: dict[tuple, torch.Tensor] = {}


_SUPERSET_EXTRA = 6   # operands a reused program may compute beyond those asked for


def operand_program(grammar: Grammar, names: Iterable[str]) -> OperandProgram:
    """An :class:`OperandProgram` computing (at least) ``names``: compiled once per grammar and
    name set, or an already compiled one for a superset with at most ``_SUPERSET_EXTRA`` more
    operands (compiling one costs milliseconds of sympy printing; batches of different genomes
    ask for many slightly different sets). Callers read the operands they need by name."""
    key = (id(grammar), tuple(names))
    prog = _PROGRAMS.get(key)
    if prog is None or prog.grammar is not grammar:
        want = set(key[1])
        best = None
        for (gid, other), cand in _PROGRAMS.items():
            if gid == key[0] and cand.grammar is grammar and len(other) - len(want) <= _SUPERSET_EXTRA \
                    and want.issubset(other) and (best is None or len(other) < len(best.names)):
                best = cand
        prog = _PROGRAMS[key] = best if best is not None else OperandProgram(grammar, key[1])
    return prog


def _ordered_inputs(pred: dict, node: str) -> list[str]:
    ins = pred[node]
    return sorted(ins, key=lambda s: ins[s].get("pos", 0))


def decay_signature(dec) -> tuple:
    """A hashable description of a decay graph's structure (its inner nodes, ops and inputs)."""
    pred, attrs = dec.graph._pred, dec.graph._node
    return tuple(sorted((n, a.get("op"), tuple(_ordered_inputs(pred, n)))
                        for n, a in attrs.items() if a.get("kind") != "schedule"))


_LEAVES: dict[tuple, dict[str, torch.Tensor]] = {}


_POINTS: list[tuple[tuple[int, int], ...]] = []


@functools.lru_cache(maxsize=256)
def _points_id(points: tuple[tuple[int, int], ...]) -> int:
    _POINTS.append(points)
    return len(_POINTS) - 1


def _decay_eval(dec, pid: int) -> torch.Tensor | None:
    """``d`` at each ``(t, T)`` of the point set ``pid`` (float64), cached by the decay's
    structure. The schedules (the leaves) are evaluated once per point set, shared by all decays."""
    grammar = dec.grammar
    sig = decay_signature(dec)
    key = (id(grammar), sig, pid)
    if key in _DECAYS:
        return _DECAYS[key]
    points = _POINTS[pid]
    leaves = _LEAVES.setdefault((id(grammar), pid), {})
    if not leaves:
        leaves["__t"] = torch.tensor([p[0] for p in points], dtype=torch.float64)
        leaves["__T"] = torch.tensor([float(p[1]) for p in points], dtype=torch.float64)
    tt = leaves["__t"]
    nodes = {n: (op, ins) for n, op, ins in sig}
    cache: dict[str, torch.Tensor] = {}
    visiting: set[str] = set()

    def value(node: str) -> torch.Tensor:
        if node in cache:
            return cache[node]
        if node in grammar.schedules:
            v = leaves.get(node)
            if v is None:
                v = grammar.schedules[node].torch(tt, leaves["__T"])
                v = leaves[node] = torch.as_tensor(v, dtype=torch.float64).expand_as(tt)
            return v
        if node in visiting or node not in nodes:
            raise KeyError(node)
        visiting.add(node)
        op, ins = nodes[node]
        fn = grammar.ops[op]
        if fn.arity != len(ins) or fn.kind != "scalar":
            raise KeyError(node)
        v = cache[node] = torch.as_tensor(fn.torch(*(value(s) for s in ins)),
                                          dtype=torch.float64).expand_as(tt)
        return v

    try:
        with torch.no_grad():
            out = value(OUTPUT)
    except (KeyError, TypeError):
        out = None
    if len(_DECAYS) > 100_000:
        _DECAYS.clear()
    _DECAYS[key] = out
    return out


def decay_values(dec, total_steps: int, steps: Sequence[int] | None = None) -> torch.Tensor | None:
    """``d(t)`` (float64) for ``t`` in ``steps`` (default all) with ``T = total_steps``, like
    :meth:`DecayGenome.values` (the same grammar functions) but cached and without graph-library
    overhead. None if the decay graph is malformed (unknown op, cycle)."""
    steps = range(total_steps) if steps is None else steps
    return _decay_eval(dec, _points_id(tuple((int(t), int(total_steps)) for t in steps)))


@functools.lru_cache(maxsize=256)
def _decay_points(check_steps: int, decay_T: int, ts: tuple[int, ...]) -> int:
    return _points_id(tuple((t, check_steps) for t in range(check_steps))
                      + tuple((int(t), int(decay_T)) for t in ts))


_VALID: dict[tuple, torch.Tensor | None] = {}


def decay_table(dec, decay_T: int, ts: Sequence[int]) -> torch.Tensor | None:
    """``d(t)`` at ``ts`` with ``T = decay_T`` if ``dec`` is valid (SPEC section 4: in [0, 1] for
    every t < check_steps with T = check_steps), else None. One cached evaluation for both."""
    n = dec.grammar.decay_check_steps
    pid = _decay_points(n, decay_T, tuple(ts))
    key = (id(dec.grammar), decay_signature(dec), pid)
    if key in _VALID:
        return _VALID[key]
    v = _decay_eval(dec, pid)
    out = None
    if v is not None:
        head = v[:n]
        if bool(torch.isfinite(head).all() and (head >= 0).all() and (head <= 1).all()):
            out = v[n:]
    if len(_VALID) > 100_000:
        _VALID.clear()
    _VALID[key] = out
    return out


def decay_in_range(dec) -> bool:
    """SPEC section 4's check: 0 <= d(t) <= 1 for t < check_steps, T = check_steps (cached)."""
    return decay_table(dec, 1, ()) is not None


def clear_caches() -> None:
    """Forget cached decay tables and compiled operand programs (benchmarks time cold runs)."""
    _DECAYS.clear()
    _VALID.clear()
    _LEAVES.clear()
    _PROGRAMS.clear()
    _MASKS.clear()


class Plan:
    """What the engines need from a genome, read once: the active inner nodes in an order where
    inputs come first, each as ``(node, op name, [(source, d(t) table or None), ...])`` with the
    decay functions read at ``ts`` with ``T = decay_T``, the operands
    they read, the momentum type and the sign. ``reason`` is set when the genome cannot run."""

    __slots__ = ("genome", "order", "operands", "momentum", "sign", "reason", "decay_T", "ts")

    def __init__(self, genome: OptimizerGenome, decay_T: int = 35, ts: Sequence[int] = range(35)):
        self.genome = genome
        self.decay_T, self.ts = decay_T, tuple(ts)
        self.momentum = genome.momentum
        self.sign = genome.sign
        self.order: list[tuple[str, str, list]] = []
        self.operands: list[str] = []
        self.reason = self._read(genome)

    def _read(self, genome: OptimizerGenome) -> str | None:
        grammar = genome.grammar
        if self.momentum not in grammar.momentum:
            return f"momentum {self.momentum!r} is not one of {', '.join(grammar.momentum)}"
        if self.sign not in (1, -1):
            return f"sign must be 1 or -1, got {self.sign!r}"
        pred, attrs = genome.graph._pred, genome.graph._node
        allowed = set(grammar.update_unary) | set(grammar.update_binary)
        done: set[str] = set()
        visiting: set[str] = set()
        operands: set[str] = set()

        def visit(node: str) -> str | None:
            a = attrs.get(node)
            if a is None:
                return f"unknown node {node!r}"
            if a.get("kind") == "operand":
                operands.add(node)
                return None
            if node in done:
                return None
            if node in visiting:
                return f"the graph has a cycle through {node!r}"
            visiting.add(node)
            op = a.get("op")
            if op not in allowed:
                return f"node {node!r}: op {op!r} is not an update op of grammar {grammar.name!r}"
            ins = _ordered_inputs(pred, node)
            if grammar.ops[op].arity != len(ins):
                return f"node {node!r}: op {op!r} takes {grammar.ops[op].arity} input(s), has {len(ins)}"
            if len(set(ins)) != len(ins):
                return f"node {node!r}: the two inputs must differ"
            edges = []
            for src in ins:
                why = visit(src)
                if why:
                    return why
                dec = pred[node][src].get("decay")
                if dec is not None:
                    dec = decay_table(dec, self.decay_T, self.ts)
                    if dec is None:
                        return f"decay function on edge {src} -> {node} is not valid (leaves [0, 1])"
                edges.append((src, dec))
            visiting.discard(node)
            done.add(node)
            self.order.append((node, op, edges))
            return None

        if attrs.get(OUTPUT, {}).get("kind") != "output":
            return f"no output node {OUTPUT!r}"
        why = visit(OUTPUT)
        if why:
            return why
        if not any(attrs[s].get("kind") == "hidden" for s, _ in self.order[-1][2]):
            return "the output node must take at least one hidden node as input"
        self.operands = [n for n in grammar.operands if n in operands]
        return None
