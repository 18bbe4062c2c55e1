"""The integrity check (SPEC section 5): does an update graph descend at all?

Every candidate runs 35 steps on the shifted sphere ``f(x) = sum_i (x_i - b_i)^2`` at six
learning rates and with both signs of its update; it passes if any final ``f`` with its own
sign is below the threshold, else it passes *flipped* if one with the opposite sign is. NaN or
inf is a failure, never an exception.

Two engines run the very same maths (every operand from :class:`gp_opt.operands.OperandProgram`,
every op from the grammar's ``Op.torch``, the state and dropout kernels of
:mod:`gp_opt.functions`):

* :func:`check_many` (and :func:`check`) -- batched: the 12 runs (6 learning rates x 2 signs)
  of every candidate in one tensor of shape ``[candidates, 12, 5]``; at each node position the
  candidates are grouped by op and each op runs once on its group.
* :func:`naive_check` -- the reference: one run per learning rate and sign, a plain loop over the
  steps on a 5-vector, as the paper's code does. The tests cross-check the two engines.

Dropout is seeded: the mask of a dropout call depends only on (config seed, node name, call
index, step, run), so a genome's result never depends on which other genomes share its batch.

>>> from gp_opt.genome import OptimizerGenome
>>> sgd = OptimizerGenome.from_nodes({"h0": ("identity", ["g"]), "out": ("identity", ["h0"])})
>>> r = check(sgd)
>>> r.passed, r.flipped
(True, False)
"""
from __future__ import annotations

import functools
import math
import warnings
import zlib
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np
import torch

from gp_opt import functions as F
from gp_opt.errors import GpOptError
from gp_opt.genome import OUTPUT, OptimizerGenome
from gp_opt.grammar import Grammar
from gp_opt.operands import OperandProgram
from gp_opt.optim.schedules import base_lr_factor, momentum_table

__all__ = ["IntegrityConfig", "IntegrityResult", "check", "check_many", "naive_check", "apply",
           "lr_schedule", "momentum_schedule", "decay_in_range", "clear_caches"]

_DTYPES = {"float64": torch.float64, "float32": torch.float32}


@dataclass(frozen=True)
class IntegrityConfig:
    """Every setting of the integrity check; the defaults are SPEC section 5's values."""

    x0: tuple[float, ...] = (1.1, 0.9, 1.1, 0.9, 1.0)
    shift: tuple[float, ...] = (0.5, 1.5, -0.3, -1.2, 0.75)
    steps: int = 35
    warmup: int = 6
    hold: int = 0
    learning_rates: tuple[float, ...] = (1.0, 0.1, 0.01, 1e-3, 1e-4, 1e-5)
    threshold: float = 3.5
    decay_steps: int = 35           # T at which the decay functions are evaluated
    lr_offset: float = 0.0          # the published code adds 1e-7 to lr_t (SPEC 1: either is fine)
    seed: int = 0                   # dropout masks
    dtype: str = "float64"
    validate: bool = False          # also run the full genome.validate() (inactive nodes too)
    batch_size: int = 4096          # candidates per tensor computation in check_many

    def __post_init__(self):
        if len(self.x0) != len(self.shift) or not self.x0:
            raise GpOptError("integrity config: x0 and shift must be non-empty and the same length")
        if self.steps < 1 or self.warmup < 0 or self.hold < 0 or self.warmup + self.hold > self.steps:
            raise GpOptError(f"integrity config: need steps >= 1 and 0 <= warmup + hold <= steps "
                             f"(got steps={self.steps}, warmup={self.warmup}, hold={self.hold})")
        if not self.learning_rates:
            raise GpOptError("integrity config: at least one learning rate")
        if self.dtype not in _DTYPES:
            raise GpOptError(f"integrity config: dtype {self.dtype!r} is not one of {', '.join(_DTYPES)}")
        if self.decay_steps < 1 or self.batch_size < 1:
            raise GpOptError("integrity config: decay_steps and batch_size must be at least 1")

    @property
    def torch_dtype(self) -> torch.dtype:
        return _DTYPES[self.dtype]


DEFAULT_CONFIG = IntegrityConfig()


@dataclass
class IntegrityResult:
    """``passed``; ``flipped`` (it passes only with the opposite sign); ``sign`` the sign the
    genome should carry; ``losses[(sign, lr)]`` the final f of every run (``sign`` the multiplier
    of U actually used, +1 for ``w <- w - lr*U``); ``reason`` why it failed."""

    passed: bool
    flipped: bool
    losses: dict[tuple[int, float], float] = field(default_factory=dict)
    sign: int = 1
    reason: str | None = None

    def best(self) -> tuple[tuple[int, float], float] | None:
        """The (sign, lr) run with the lowest finite final loss, or None."""
        finite = [(k, v) for k, v in self.losses.items() if math.isfinite(v)]
        return min(finite, key=lambda kv: kv[1]) if finite else None


def apply(genome: OptimizerGenome, result: IntegrityResult) -> OptimizerGenome:
    """A copy of ``genome`` carrying the sign the check chose (flipped if it passed flipped)."""
    out = genome.copy()
    if result.passed:
        out.sign = result.sign
    return out


# ---------------------------------------------------------------- schedules (SPEC section 1)

def lr_schedule(lr: float, t: int, steps: int, warmup: int, hold: int, offset: float = 0.0) -> float:
    """One-cycle cosine with linear warm-up: ``lr_t`` for the 0-based step ``t`` (the optimizer's
    own base schedule, plus the published code's optional offset)."""
    return lr * base_lr_factor(t, steps, warmup, hold) + offset


def momentum_schedule(steps: int, warmup: int, hold: int) -> list[float]:
    """One-cycle momentum: linspace(0.95, 0.85, W) + [0.85]*H + linspace(0.85, 0.95, T-W-H)."""
    return momentum_table(steps, warmup, hold)


@functools.lru_cache(maxsize=32)
def _schedules(cfg: IntegrityConfig) -> tuple[torch.Tensor, tuple[float, ...]]:
    """(lr_t for every step and run row ``[steps, 2 * len(learning_rates)]``, mu_t per step)."""
    table = [[lr_schedule(lr, t, cfg.steps, cfg.warmup, cfg.hold, cfg.lr_offset)
              for lr in cfg.learning_rates] for t in range(cfg.steps)]
    lrt = torch.tensor(table, dtype=cfg.torch_dtype).repeat(1, 2)
    return lrt, tuple(momentum_schedule(cfg.steps, cfg.warmup, cfg.hold))


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


class _Ctx:
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


def _full(value, like: torch.Tensor) -> torch.Tensor:
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


# ---------------------------------------------------------------- batched graph evaluation

class _Group:
    __slots__ = ("fn", "cand", "srcs", "decays", "names", "full", "uniform")

    def __init__(self, fn, cand, srcs, decays, names, full, uniform):
        self.fn, self.cand, self.srcs, self.decays = fn, cand, srcs, decays
        self.names, self.full, self.uniform = names, full, uniform


class GraphBatch:
    """Many genomes' update graphs evaluated together, step by step.

    Values live in one tensor ``[sources, candidates, *shape]``: first the operands any genome
    uses, then one slot per node position (each genome's active inner nodes in an order where
    inputs come first). ``update(g, w, state, t)`` returns every candidate's ``U`` (before the
    sign). The plans carry the decay tables, one value per step.
    """

    def __init__(self, plans: Sequence[Plan], grammar: Grammar, shape: tuple,
                 seed: int = 0, dtype=torch.float64):
        self.grammar = grammar
        self.C = len(plans)
        self.shape = tuple(shape)
        self.dtype = dtype
        self.seed = seed
        self.steps = len(plans[0].ts) if plans else 0
        used = set()
        for p in plans:
            used.update(p.operands)
        self.operands = [n for n in grammar.operands if n in used]
        self.program = operand_program(grammar, self.operands)
        n_op = len(self.operands)
        self.n_slots = max((len(p.order) for p in plans), default=0)
        self.values = torch.zeros((n_op + self.n_slots, self.C) + self.shape, dtype=dtype)
        index = {n: i for i, n in enumerate(self.operands)}
        view = (self.steps, -1) + (1,) * len(self.shape)
        ones = torch.ones(self.steps, dtype=dtype)

        positions = [{node: n_op + k for k, (node, _, _) in enumerate(p.order)} for p in plans]
        self.slots: list[list[_Group]] = []
        for j in range(self.n_slots):
            by_op: dict[str, list] = {}
            for c, (p, pos) in enumerate(zip(plans, positions)):
                if j < len(p.order):
                    node, op, edges = p.order[j]
                    by_op.setdefault(op, []).append((c, node, edges, pos))
            groups = []
            for op_name, members in by_op.items():
                op = grammar.op(op_name)
                cand = torch.tensor([c for c, *_ in members], dtype=torch.long)
                srcs, decays, uniform = [], [], []
                for a in range(op.arity):
                    idx = [index[e[a][0]] if e[a][0] in index else pos[e[a][0]]
                           for _, _, e, pos in members]
                    srcs.append(torch.tensor(idx, dtype=torch.long))
                    uniform.append(idx[0] if len(set(idx)) == 1 else None)
                    decs = [e[a][1] for _, _, e, _ in members]
                    if any(d is not None for d in decs):
                        tab = torch.stack([ones if d is None else d.to(dtype) for d in decs], dim=1)
                        decays.append(list(tab.reshape(view).unbind(0)))      # steps x [n_g, 1, ..]
                    else:
                        decays.append(None)
                groups.append(_Group(op.torch, cand, srcs, decays, [n for _, n, _, _ in members],
                                     len(members) == self.C, uniform))
            self.slots.append(groups)
        # Which sources must also live in the stacked tensor (read by a per-candidate gather,
        # written by several groups, or an output read per candidate); the rest stay as plain
        # tensors in ``self._cur`` (one genome, or identical structures: no copies at all).
        out_slots = [n_op + len(p.order) - 1 for p in plans]
        stacked = set()
        for j, groups in enumerate(self.slots):
            if len(groups) > 1 or not groups[0].full:
                stacked.add(n_op + j)
            for grp in groups:
                for src, uni in zip(grp.srcs, grp.uniform):
                    if uni is None:
                        stacked.update(int(i) for i in src.unique())
        self.out_uniform = out_slots[0] if len(set(out_slots)) == 1 else None
        if self.out_uniform is None:
            stacked.update(out_slots)
        self.stacked = [i in stacked for i in range(n_op + self.n_slots)]
        self.values = (torch.zeros((n_op + self.n_slots, self.C) + self.shape, dtype=dtype)
                       if stacked else None)
        self.out_slot = torch.tensor(out_slots, dtype=torch.long)
        self.arange = torch.arange(self.C)
        self._cur: list[Any] = [None] * (n_op + self.n_slots)
        self._consts: dict[str, torch.Tensor] = {}
        self.ctx = _Ctx(self._masks)
        self._group_masks: dict[tuple, torch.Tensor] = {}

    def _masks(self, gid, call: int, p: float) -> torch.Tensor:
        key = (gid, call, p)
        mask = self._group_masks.get(key)
        if mask is None:
            grp = self.slots[gid[0]][gid[1]]
            mask = torch.stack([dropout_mask(self.seed, name, call, p, self.steps, self.shape, self.dtype)
                                for name in grp.names], dim=1)      # [steps, n_g, *shape]
            self._group_masks[key] = mask
        return mask

    def init_state(self) -> dict[str, torch.Tensor]:
        """Fresh moving averages and op states (call before step 0)."""
        self.ctx.state.clear()
        return self.program.init_state(torch.zeros((self.C,) + self.shape, dtype=self.dtype))

    def update(self, g: torch.Tensor, w: torch.Tensor, state: dict, t: int) -> torch.Tensor:
        """Advance the moving averages and return U for every candidate: ``[C, *shape]``."""
        V, cur, stacked = self.values, self._cur, self.stacked
        vals = self.program(g, w, state, t)
        for i, name in enumerate(self.operands):
            v = vals[name]
            if not isinstance(v, torch.Tensor):
                if name not in self._consts:   # a constant operand: one full tensor, made once
                    self._consts[name] = torch.full((self.C,) + self.shape, float(v), dtype=self.dtype)
                v = self._consts[name]
            elif v.shape != (self.C,) + self.shape:
                v = v.expand((self.C,) + self.shape)
            cur[i] = v
            if stacked[i]:
                V[i].copy_(v)
        n_op = len(self.operands)
        ctx = self.ctx
        for j, groups in enumerate(self.slots):
            slot = n_op + j
            dst = V[slot] if V is not None and stacked[slot] else None
            for k, grp in enumerate(groups):
                args = []
                for src, uni, dec in zip(grp.srcs, grp.uniform, grp.decays):
                    if uni is None:
                        x = V[src, grp.cand]
                    elif grp.full:
                        x = cur[uni]
                    else:
                        x = cur[uni].index_select(0, grp.cand)
                    if dec is not None:
                        x = x * dec[t]
                    args.append(x)
                ctx.begin((j, k), t)
                out = _full(grp.fn(*args, ctx=ctx), args[0])
                if grp.full:
                    if dst is not None:
                        dst.copy_(out)
                    cur[slot] = out
                else:
                    dst.index_copy_(0, grp.cand, out)
            if not (len(groups) == 1 and groups[0].full):
                cur[slot] = dst
        if self.out_uniform is not None:
            return cur[self.out_uniform]
        return V[self.out_slot, self.arange]


# ---------------------------------------------------------------- the check

def _failed(reason: str, sign: int = 1) -> IntegrityResult:
    return IntegrityResult(passed=False, flipped=False, losses={}, sign=sign, reason=reason)


def _judge(sign: int, losses: dict, cfg: IntegrityConfig) -> IntegrityResult:
    lrs = cfg.learning_rates

    def ok(s):
        return any(math.isfinite(losses[(s, lr)]) and losses[(s, lr)] < cfg.threshold for lr in lrs)

    if ok(sign):
        return IntegrityResult(True, False, losses, sign)
    if ok(-sign):
        return IntegrityResult(True, True, losses, -sign)
    finite = [v for v in losses.values() if math.isfinite(v)]
    reason = ("no run finite" if not finite else
              f"best final f {min(finite):.4g} is not below {cfg.threshold:g} with either sign")
    return IntegrityResult(False, False, losses, sign, reason)


def _prepare(genome: OptimizerGenome, cfg: IntegrityConfig) -> Plan | str:
    """The genome's plan, or why it cannot be checked (a failure, not an exception)."""
    if cfg.validate:
        try:
            genome.validate()
        except GpOptError as exc:
            return f"invalid genome: {exc}"
    plan = Plan(genome, cfg.decay_steps, range(cfg.steps))
    return plan if plan.reason is None else f"invalid genome: {plan.reason}"


def _run_batch(plans: list[Plan], cfg: IntegrityConfig) -> torch.Tensor:
    """Final f of every run: ``[C, 2 * len(learning_rates)]`` (own sign first, then flipped)."""
    dtype = cfg.torch_dtype
    grammar = plans[0].genome.grammar
    L = len(cfg.learning_rates)
    R, n = 2 * L, len(cfg.x0)
    C = len(plans)
    eng = GraphBatch(plans, grammar, (R, n), cfg.seed, dtype)
    b = torch.tensor(cfg.shift, dtype=dtype)
    x = torch.tensor(cfg.x0, dtype=dtype).expand(C, R, n).clone()
    row_sign = torch.tensor([1.0] * L + [-1.0] * L, dtype=dtype)
    signs = torch.tensor([float(p.sign) for p in plans], dtype=dtype)
    sign = (signs[:, None] * row_sign[None, :])[:, :, None]                  # [C, R, 1]
    lrt, mu = _schedules(cfg)                                                 # [steps, R]
    coef = (sign[None] * lrt[:, None, :, None]).unbind(0)                     # steps x [C, R, 1]
    kinds = [p.momentum for p in plans]
    present = set(kinds)
    is_none = torch.tensor([k == "none" for k in kinds])[:, None, None]
    is_mom = torch.tensor([k == "momentum" for k in kinds])[:, None, None]
    m = torch.zeros_like(x)
    state = eng.init_state()
    for t in range(cfg.steps):
        g = 2.0 * (x - b)
        U = eng.update(g, x, state, t)
        step = coef[t] * U
        if present == {"none"}:
            x = x - step
            continue
        m = mu[t] * m - step
        if present == {"momentum"}:
            x = x + m
        elif present == {"nesterov"}:
            x = x + mu[t] * m - step
        else:
            x = torch.where(is_none, x - step, torch.where(is_mom, x + m, x + mu[t] * m - step))
    return ((x - b) ** 2).sum(-1)


def _losses(row: list[float], sign: int, cfg: IntegrityConfig) -> dict[tuple[int, float], float]:
    L = len(cfg.learning_rates)
    return {(sign if r < L else -sign, cfg.learning_rates[r % L]): f for r, f in enumerate(row)}


def _sign_of(genome: OptimizerGenome) -> int:
    return genome.sign if genome.sign in (1, -1) else 1


def check_many(genomes: Iterable[OptimizerGenome], config: IntegrityConfig | None = None) -> list[IntegrityResult]:
    """Integrity-check many genomes in batched tensor computations; results in input order.

    Never raises for a numerically bad genome (NaN/inf is a failure); a genome that cannot run
    (a cycle, a wrong arity, a decay function leaving [0, 1], ...) fails with ``reason`` naming
    the problem. With ``config.validate`` the whole genome is validated first, inactive nodes too.
    A genome's result does not depend on the other genomes in the call.
    """
    cfg = config or DEFAULT_CONFIG
    genomes = list(genomes)
    results: list[IntegrityResult | None] = [None] * len(genomes)
    todo: dict[int, list[tuple[int, Plan]]] = {}
    for i, g in enumerate(genomes):
        plan = _prepare(g, cfg)
        if isinstance(plan, str):
            results[i] = _failed(plan, _sign_of(g))
        else:
            todo.setdefault(id(g.grammar), []).append((i, plan))
    with warnings.catch_warnings(), np.errstate(all="ignore"), torch.no_grad():
        warnings.simplefilter("ignore")
        for items in todo.values():
            for start in range(0, len(items), cfg.batch_size):
                chunk = items[start:start + cfg.batch_size]
                final = _run_batch([p for _, p in chunk], cfg).tolist()
                for (i, plan), row in zip(chunk, final):
                    results[i] = _judge(plan.sign, _losses(row, plan.sign, cfg), cfg)
    return results  # type: ignore[return-value]


def check(genome: OptimizerGenome, config: IntegrityConfig | None = None) -> IntegrityResult:
    """Integrity-check one genome (SPEC section 5). See :func:`check_many`."""
    return check_many([genome], config)[0]


# ---------------------------------------------------------------- the naive reference

class _NaiveRunner:
    """One genome compiled once; ``run(lr, sign, row)`` is one optimizer run on a 5-vector."""

    def __init__(self, plan: Plan, cfg: IntegrityConfig):
        self.plan, self.cfg = plan, cfg
        self.dtype = cfg.torch_dtype
        grammar = plan.genome.grammar
        self.shape = (2 * len(cfg.learning_rates), len(cfg.x0))
        self.program = operand_program(grammar, plan.operands)
        self.nodes = []
        for node, op, edges in plan.order:
            ins = [(src, None if dec is None else dec.to(self.dtype).tolist()) for src, dec in edges]
            self.nodes.append((node, grammar.op(op).torch, ins))
        self.mu = _schedules(cfg)[1]

    def run(self, lr: float, sign: int, row: int) -> float:
        cfg, dtype = self.cfg, self.dtype
        ctx = _Ctx(lambda node, call, p: dropout_mask(cfg.seed, node, call, p, cfg.steps,
                                                      self.shape, dtype)[:, row])
        b = torch.tensor(cfg.shift, dtype=dtype)
        x = torch.tensor(cfg.x0, dtype=dtype)
        m = torch.zeros_like(x)
        state = self.program.init_state(x)
        momentum = self.plan.momentum
        lrs = [lr_schedule(lr, t, cfg.steps, cfg.warmup, cfg.hold, cfg.lr_offset) for t in range(cfg.steps)]
        for t in range(cfg.steps):
            g = 2.0 * (x - b)
            vals = self.program(g, x, state, t)
            for node, fn, ins in self.nodes:
                args = []
                for src, dec in ins:
                    v = _full(vals[src], x)
                    args.append(v if dec is None else v * dec[t])
                ctx.begin(node, t)
                vals[node] = _full(fn(*args, ctx=ctx), x)
            step = (sign * lrs[t]) * vals[OUTPUT]
            if momentum == "none":
                x = x - step
            elif momentum == "momentum":
                m = self.mu[t] * m - step
                x = x + m
            else:
                m = self.mu[t] * m - step
                x = x + self.mu[t] * m - step
        return float(((x - b) ** 2).sum())


def naive_check(genome: OptimizerGenome, config: IntegrityConfig | None = None,
                early_exit: bool = False) -> IntegrityResult:
    """The reference check: one optimizer run per learning rate and sign, a plain loop over the
    steps on a 5-vector (12 runs; with ``early_exit`` it stops at the first passing run, as a
    plain loop would). Same maths and dropout masks as :func:`check_many`."""
    cfg = config or DEFAULT_CONFIG
    plan = _prepare(genome, cfg)
    if isinstance(plan, str):
        return _failed(plan, _sign_of(genome))
    L = len(cfg.learning_rates)
    losses = {}
    with warnings.catch_warnings(), np.errstate(all="ignore"), torch.no_grad():
        warnings.simplefilter("ignore")
        runner = _NaiveRunner(plan, cfg)
        for r in range(2 * L):
            s = plan.sign if r < L else -plan.sign
            lr = cfg.learning_rates[r % L]
            f = runner.run(lr, s, r)
            losses[(s, lr)] = f
            if early_exit and math.isfinite(f) and f < cfg.threshold:
                return IntegrityResult(True, r >= L, losses, s)
    return _judge(plan.sign, losses, cfg)
