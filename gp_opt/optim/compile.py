"""A genome compiled once into one straight-line step function.

:func:`compile_genome` prints every active node of the update graph with its grammar op's single
definition (``Op.torch_source``), in dependency order, into the source of one Python function,
and ``exec``s it once. The function computes the weight change of SPEC section 1 for tensors of
any shape:

    delta = step(g, w, state, ctx, t, lr, mu, d, out=None)

* ``g``, ``w`` -- the gradient and the weights (same shape; any shape, e.g. one flat buffer
  holding many parameter tensors, or a stack of ensemble members);
* ``state`` -- a dict of tensors shaped like ``g`` (moving averages, one buffer per stateful node,
  the momentum buffer ``m``), updated in place;
* ``ctx`` -- the engine (:class:`Ctx`) serving the ops that are not elementwise maths: the state of
  ``ema``/``delta``/``running_max`` (the kernels of :mod:`gp_opt.functions`), dropout (torch's
  global RNG) and the per-tensor ``norm``;
* ``t`` -- the 0-based update count used by the bias corrections;
* ``lr``, ``mu`` -- the learning rate and momentum of this step (floats or tensors broadcastable
  to ``g``);
* ``d`` -- the value of each decay function on an active edge at this step (floats or tensors).

``delta`` is added to the weights by the caller. The operands and their moving averages come from
:class:`gp_opt.operands.OperandProgram`. Constant operands (``one``, ``two``) become 0-d tensors,
so any op applies to them; a constant value that reaches an op that keeps state, draws random
numbers or reduces over the tensor is first broadcast to the full shape.

:func:`functional_step` wraps this for callers holding plain tensors (e.g. an ensemble of models
stacked along a leading dimension, with one learning rate per member).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import sympy as sp
import torch

from gp_opt import functions as F
from gp_opt.genome import OUTPUT, DecayGenome, OptimizerGenome
from gp_opt.operands import OperandProgram
from gp_opt.optim.lowering import Lowering, assignment_lines, lower, operand_var
from gp_opt.optim.scratch import scratch_lines

__all__ = ["CompiledGenome", "compile_genome", "Ctx", "FlatCtx", "functional_step", "FunctionalStep",
           "decay_expr", "body_lines", "momentum_lines", "torch_op_source"]


def torch_op_source(op, args: Sequence[str], key: str | None, ctx: str) -> str:
    """Torch source of grammar op ``op`` on variables ``args`` (engine ops keyed by node ``key``)."""
    return op.torch_source(*args, key=key, ctx=ctx)


def body_lines(genome: OptimizerGenome, decay_ref: Callable[[int], str] = lambda k: f"d[{k}]",
               full: Callable[[str], str] = lambda v: f"ctx.full({v})",
               ctx: str = "ctx", op_source: Callable = torch_op_source,
               ) -> tuple[list[str], list[tuple[str, str, DecayGenome]], str]:
    """The straight-line lines computing ``U`` from variables ``o_<operand>``.

    Returns ``(lines, decayed_edges, u_var)``; ``decayed_edges[k]`` is the edge whose decay value
    the lines read as ``decay_ref(k)``. Engine ops print as ``ctx.<method>(..., key=<node>)``.
    ``op_source(op, args, key, ctx)`` prints one op (default: its torch form). The lines are the
    genome's :func:`~gp_opt.optim.lowering.lower` printed by
    :func:`~gp_opt.optim.lowering.assignment_lines`.
    """
    low = lower(genome)
    return assignment_lines(low, op_source, decay_ref, full, ctx), list(low.edges), low.output


def momentum_lines(momentum: str, sign: int, u: str) -> list[str]:
    """SPEC section 1's momentum forms (with the sign flip) as lines returning the weight change.

    The change is written into ``out`` when given (the momentum form returns ``m`` itself).
    """
    neg = "-lr" if sign > 0 else "lr"
    if momentum == "none":
        return [f"return torch.mul({u}, {neg}, out=out)"]
    if momentum not in ("momentum", "nesterov"):
        raise ValueError(f"unknown momentum type {momentum!r}")
    alpha = "lr" if sign > 0 else "-lr"
    # a number lr folds into the subtraction (one kernel fewer); a per-element lr cannot
    fused = ["m = state['m']", "if isinstance(lr, (int, float)):",
             f"    m.mul_(mu).sub_({u}, alpha={alpha})"]
    plain = [f"step = {u} * {'lr' if sign > 0 else '(-lr)'}", "m.mul_(mu).sub_(step)"]
    if momentum == "momentum":
        return fused + ["    return m"] + plain + ["return m"]
    return (fused + [f"    return torch.mul(m, mu, out=out).sub_({u}, alpha={alpha})"]
            + plain + ["return torch.sub(m * mu, step, out=out)"])


def decay_expr(decay: DecayGenome) -> sp.Expr:
    """A decay function as one sympy expression in ``t`` and ``T`` (composition of its nodes)."""
    cache: dict[str, sp.Expr] = {}

    def value(node: str) -> sp.Expr:
        if node not in cache:
            if decay.is_leaf(node):
                cache[node] = decay.grammar.schedules[node].expr
            else:
                op = decay.grammar.ops[decay.op(node)]
                cache[node] = op.sympy(*(value(s) for s in decay.inputs(node)))
        return cache[node]

    return value(OUTPUT)


@dataclass
class CompiledGenome:
    """A genome's step, compiled once (see the module docstring)."""

    genome: OptimizerGenome
    program: OperandProgram
    source: str
    step: Callable
    decays: list[tuple[str, str, DecayGenome]]
    node_states: list[str]           # keys of the stateful nodes' buffers
    needs_w: bool
    #: the same step writing temporaries into ``scratch`` (a list of ``n_scratch`` buffers shaped
    #: like ``g``): ``step_scratch(g, w, state, ctx, t, lr, mu, d, out, scratch)``; None if none
    step_scratch: Callable | None = None
    n_scratch: int = 0
    #: the genome as :func:`~gp_opt.optim.lowering.lower` gives it (what the step was printed from)
    lowering: Lowering | None = None
    _tables: dict[int, list[list[float]]] = field(default_factory=dict, repr=False)

    @property
    def state_keys(self) -> list[str]:
        """Every per-element state buffer: moving averages, stateful nodes, momentum ``m``."""
        if self.lowering is not None:
            return self.lowering.state_keys
        keys = [s.name for s in self.program.states] + self.node_states
        return keys + (["m"] if self.genome.momentum != "none" else [])

    def init_state(self, like: torch.Tensor, dtype: torch.dtype | None = None) -> dict[str, torch.Tensor]:
        """Zeroed state buffers shaped like ``like``."""
        return {k: torch.zeros_like(like, dtype=dtype) for k in self.state_keys}

    def decay_table(self, total_steps: int) -> list[list[float]]:
        """``table[t][k]``: decay function ``k`` at step ``t`` (``DecayGenome.values``), cached per T."""
        T = int(total_steps)
        if T not in self._tables:
            cols = [dec.values(T).tolist() for _, _, dec in self.decays]
            self._tables[T] = [list(row) for row in zip(*cols)] if cols else [[] for _ in range(T)]
        return self._tables[T]

    def decay_values(self, t: int, total_steps: int) -> list[float]:
        """Each decay function at step ``t`` (clamped to ``T - 1``)."""
        table = self.decay_table(total_steps)
        return table[min(max(int(t), 0), len(table) - 1)]


def compile_genome(genome: OptimizerGenome) -> CompiledGenome:
    """Print and ``exec`` the genome's step function once (from its :func:`lower` ing)."""
    low = lower(genome)
    program = OperandProgram(genome.grammar, low.operands)
    lines = assignment_lines(low, torch_op_source)
    # moving averages and operands, printed from their grammar expressions (bias corrections
    # folded into the operands as Python numbers: no corrected copy is materialised)
    head = program.source_lines(operand_var)
    for name, value in program.constants.items():
        head.append(f"{operand_var(name)} = ctx.const({value!r})")
    tail = momentum_lines(low.momentum, low.sign, low.output)
    body = head + lines + tail
    doc = repr(genome).replace('"""', "'''")
    source = ("def genome_step(g, w, state, ctx, t, lr, mu, d, out=None):\n"
              f'    """{doc}"""\n' + "".join(f"    {line}\n" for line in body))
    namespace: dict[str, Any] = {"torch": torch, "program": program}
    exec(compile(source, f"<gp_opt step {genome!r}>", "exec"), namespace)
    step = namespace["genome_step"]
    step.source = source
    # the same lines writing their temporaries into a pool of scratch buffers (CPU slices)
    step_scratch, n_scratch = None, 0
    rewritten = scratch_lines(head + lines, {"g", "w"} | {f"ma_{s.name}" for s in low.states}, tail)
    if rewritten is not None and rewritten[1] > 0:
        body_s, n_scratch = rewritten
        source_s = ("def genome_step_scratch(g, w, state, ctx, t, lr, mu, d, out, scratch):\n"
                    f'    """{doc}"""\n' + "".join(f"    {line}\n" for line in body_s + tail))
        exec(compile(source_s, f"<gp_opt step/scratch {genome!r}>", "exec"), namespace)
        step_scratch = namespace["genome_step_scratch"]
        step_scratch.source = source_s
    return CompiledGenome(genome, program, source, step, list(low.edges), list(low.node_states), low.needs_w,
                          step_scratch=step_scratch, n_scratch=n_scratch, lowering=low)


# ---------------------------------------------------------------- engines


class Ctx:
    """The engine of a step over plain tensors: state of stateful nodes, dropout, norm.

    ``norm_dims`` selects the dimensions ``norm`` reduces over: ``None`` (the whole tensor: one
    parameter) or e.g. ``(1, 2, 3)`` (all but a leading ensemble dimension).
    """

    def __init__(self, norm_dims: Sequence[int] | None = None):
        self.norm_dims = None if norm_dims is None else tuple(norm_dims)
        self.state: dict[str, torch.Tensor] = {}
        self.t = 0
        self.like: torch.Tensor | None = None
        self._consts: dict[Any, torch.Tensor] = {}

    def bind(self, state: dict[str, torch.Tensor], t: int, like: torch.Tensor) -> "Ctx":
        self.state, self.t, self.like = state, t, like
        return self

    # constants and broadcasting
    def const(self, value: float) -> torch.Tensor:
        like = self.like
        key = (value, like.dtype, like.device)
        c = self._consts.get(key)
        if c is None:
            c = self._consts[key] = torch.tensor(value, dtype=like.dtype, device=like.device)
        return c

    def full(self, x: Any, out: torch.Tensor | None = None) -> torch.Tensor:
        """Broadcast a constant (or 0-d / partial-shape) value to the full shape (into ``out``)."""
        out = torch.zeros_like(self.like) if out is None else out.zero_()
        return out.add_(x)

    # stateful ops: one buffer per node (key), updated in place
    def ema(self, x: torch.Tensor, beta: float, key: str) -> torch.Tensor:
        buf = self.state[key]
        out, new = F.ema_kernel(x, buf, self.t, beta)
        buf.copy_(new)
        return out

    def delta(self, x: torch.Tensor, key: str) -> torch.Tensor:
        buf = self.state[key]
        out, new = F.delta_kernel(x, buf)
        buf.copy_(new)
        return out

    def running_max(self, x: torch.Tensor, key: str) -> torch.Tensor:
        buf = self.state[key]
        out, new = F.running_max_kernel(x, buf)
        buf.copy_(new)
        return out

    def dropout(self, x: torch.Tensor, p: float, key: str | None = None) -> torch.Tensor:
        return F.dropout_kernel(x, p)

    def norm(self, x: torch.Tensor, key: str | None = None) -> torch.Tensor:
        if self.norm_dims is None:
            norms = torch.linalg.vector_norm(x)
        else:
            norms = torch.linalg.vector_norm(x, dim=self.norm_dims, keepdim=True)
        return F.norm_kernel(x, norms)


class FlatCtx(Ctx):
    """The engine of a flat buffer holding several parameter tensors back to back.

    ``norm`` takes one L2 norm per parameter segment (``sizes``), never over the whole buffer.
    """

    def __init__(self, sizes: Sequence[int], device: torch.device):
        super().__init__()
        self.sizes = [int(s) for s in sizes]
        self.numel = sum(self.sizes)
        self._sizes_t = torch.tensor(self.sizes, dtype=torch.long, device=device)
        self._kept: dict[str | None, torch.Tensor] = {}

    def norm(self, x: torch.Tensor, key: str | None = None) -> torch.Tensor:
        if len(self.sizes) == 1:
            return F.norm_kernel(x, torch.linalg.vector_norm(x))
        norms = torch._foreach_norm(list(x.split(self.sizes)))
        if x.device.type != "cpu":
            spread = torch.repeat_interleave(torch.stack(norms), self._sizes_t, output_size=self.numel)
            return F.norm_kernel(x, spread)
        # on the CPU, the kernel per tensor (its norm a 0-d tensor: the same division element by
        # element) into a buffer kept across steps for this node: a spread-out norm tensor and
        # fresh whole-buffer outputs page-fault and cost more than the norms themselves
        out = self._kept.get(key)
        if out is None or out.dtype != x.dtype or out.numel() != x.numel():
            out = self._kept[key] = torch.empty_like(x)
        return torch.cat([F.norm_kernel(part, n) for part, n in zip(x.split(self.sizes), norms)], out=out)


# ---------------------------------------------------------------- functional API


class FunctionalStep:
    """One genome's step on plain tensors; what :class:`~gp_opt.optim.EvolvedOptimizer` runs.

    >>> import torch
    >>> from gp_opt.genome import OptimizerGenome
    >>> sgd = OptimizerGenome.from_nodes({"h0": ("identity", ["g"]), "out": ("identity", ["h0"])})
    >>> fs = functional_step(sgd)
    >>> w = torch.ones(3, 4); g = torch.full((3, 4), 2.0)
    >>> state = fs.init_state(w)
    >>> delta = fs(g, w, state, t=0, lr=torch.tensor([0.1, 0.2, 0.3]))   # one lr per member
    >>> delta[:, 0].tolist()
    [-0.20000000298023224, -0.4000000059604645, -0.6000000238418579]

    ``ensemble=True`` (the default) treats dimension 0 as the member dimension: a 1-D ``lr`` (or
    ``mu``, or a decay value) is reshaped to broadcast over it, and ``norm`` reduces over all but
    dimension 0. ``ensemble=False`` treats the tensors as one parameter (norm over everything).
    """

    def __init__(self, genome: OptimizerGenome, ensemble: bool = True, compiled: CompiledGenome | None = None):
        self.compiled = compiled or compile_genome(genome)
        self.genome = genome
        self.ensemble = ensemble

    @property
    def source(self) -> str:
        return self.compiled.source

    def init_state(self, like: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.compiled.init_state(like)

    def decay_values(self, t: int, total_steps: int) -> list[float]:
        return self.compiled.decay_values(t, total_steps)

    def _b(self, v: Any, w: torch.Tensor) -> Any:
        if self.ensemble and isinstance(v, torch.Tensor) and v.dim() == 1 and w.dim() > 1:
            return v.to(w.dtype).view(-1, *([1] * (w.dim() - 1)))
        return v

    def __call__(self, g: torch.Tensor, w: torch.Tensor, state: dict[str, torch.Tensor], *, t: int,
                 lr: Any, mu: Any = 0.9, decays: Sequence[Any] | None = None,
                 total_steps: int | None = None) -> torch.Tensor:
        """The weight change at update ``t`` (0-based); ``w.add_(delta)`` applies it.

        ``decays`` defaults to each decay function at step ``t`` of a ``total_steps`` run.
        """
        if decays is None:
            if self.compiled.decays and total_steps is None:
                raise ValueError("pass decays= or total_steps= for a genome with decay functions")
            decays = self.compiled.decay_values(t, total_steps) if self.compiled.decays else []
        dims = tuple(range(1, g.dim())) if self.ensemble and g.dim() > 1 else None
        ctx = Ctx(dims).bind(state, t, g)
        d = [self._b(v, g) for v in decays]
        with torch.no_grad():
            return self.compiled.step(g, w, state, ctx, t, self._b(lr, g), self._b(mu, g), d)


def functional_step(genome: OptimizerGenome, ensemble: bool = True) -> FunctionalStep:
    """See :class:`FunctionalStep`."""
    return FunctionalStep(genome, ensemble)
