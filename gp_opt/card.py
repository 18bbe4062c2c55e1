"""An optimizer's card: what it costs to run (issue 23 item 1).

Three figures, for any genome:

* **state buffers per parameter** -- read from the graph: one per moving average an active operand
  reads (the EMAs behind v-hat, s-hat, lambda-hat, ...), one per active stateful node (``ema``,
  ``delta``, ``running_max``), one for the momentum buffer ``m``. It is exactly the state
  :class:`~gp_opt.optim.EvolvedOptimizer` keeps: elements of state / elements of parameters
  (tests/test_card.py checks this on the catalog and on random genomes).
* **elementwise kernels per step** -- counted from the generated step
  (:func:`gp_opt.optim.compile.compile_genome`), run once on one small tensor under a torch
  dispatch mode: every aten call that computes over the whole parameter (an output with every
  element, or a reduction over every element). A fused call (``lerp_``, ``sub_(x, alpha=)``) is
  one kernel; copies and fills (a stateful node writing its buffer back, a constant broadcast)
  are counted apart as memory moves; views and allocations cost no work and are not counted.
  Each kernel reads and writes every element once, so this is the arithmetic per parameter per
  step up to the cost of the function itself (an ``exp`` is one kernel, as an ``add`` is).
* **measured step time relative to** ``torch.optim.Adam(foreach=True)``, only when asked
  (:func:`step_time_ratio`): both optimizers step the same parameters of a stated size on this
  machine, interleaved; the ratio of their fastest steps.

Without the timing, a card costs one compile and one step on a 257-element tensor (milliseconds).
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from gp_opt.genome import OptimizerGenome
from gp_opt.optim.lowering import lower

__all__ = ["Buffer", "Card", "card", "state_buffers", "count_kernels", "step_time_ratio",
           "card_lines", "card_latex"]

#: the element count of the tensor the step is counted on: prime, so no 0-d constant, partial
#: broadcast or reduction result is mistaken for a whole-parameter tensor
COUNT_SIZE = 257
#: aten calls that do no work on the data (views, allocations, a number lifted to a 0-d tensor)
NO_WORK = frozenset({"empty_like", "empty", "new_empty", "empty_strided", "view", "_unsafe_view",
                     "alias", "detach", "as_strided", "slice", "split", "split_with_sizes", "expand",
                     "reshape", "t", "unsqueeze", "squeeze", "lift_fresh", "_reshape_alias"})
#: aten calls that move or fill data without arithmetic
MOVES = frozenset({"copy_", "clone", "zero_", "fill_", "zeros_like", "full_like", "_to_copy", "cat"})


@dataclass(frozen=True)
class Buffer:
    """One per-parameter state buffer: its key in the optimizer's state and what it holds."""

    key: str
    holds: str


@dataclass
class Card:
    """The figures of one optimizer (see the module docstring)."""

    buffers: list[Buffer]
    kernels: Counter            # aten op name -> calls over the whole parameter per step
    moves: Counter              # copies and fills over the whole parameter per step
    time_ratio: float | None = None   # fastest step time / Adam(foreach=True)'s
    time_numel: int | None = None     # the parameter count the time was measured at
    extra: dict = field(default_factory=dict)

    @property
    def n_buffers(self) -> int:
        return len(self.buffers)

    @property
    def n_kernels(self) -> int:
        return sum(self.kernels.values())

    @property
    def n_moves(self) -> int:
        return sum(self.moves.values())

    def to_dict(self) -> dict:
        return {"buffers_per_parameter": self.n_buffers, "buffers": [b.key for b in self.buffers],
                "kernels_per_step": self.n_kernels, "moves_per_step": self.n_moves,
                "step_time_vs_adam": self.time_ratio, "time_numel": self.time_numel}


def state_buffers(genome: OptimizerGenome) -> list[Buffer]:
    """The per-parameter state the genome needs, read from its lowering (in the engine's key order:
    the same :func:`~gp_opt.optim.lowering.lower` the optimizer allocates its state from)."""
    low = lower(genome)
    out = [Buffer(s.name, f"moving average of {s.input} (beta {s.beta:g})") for s in low.states]
    out += [Buffer(node, f"state of the {genome.op(node)} op at node {node}") for node in low.node_states]
    if low.momentum != "none":
        out.append(Buffer("m", f"{low.momentum} buffer"))
    return out


class _KernelCounter(TorchDispatchMode):
    """Counts the aten calls that touch every element of a ``numel``-element tensor."""

    def __init__(self, numel: int):
        super().__init__()
        self.numel = numel
        self.kernels: Counter = Counter()
        self.moves: Counter = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        name = func.overloadpacket.__name__
        if name in NO_WORK:
            return result
        outs = result if isinstance(result, (tuple, list)) else (result,)
        ins = list(args) + list((kwargs or {}).values())
        whole = any(isinstance(x, torch.Tensor) and x.numel() == self.numel for x in outs) or \
            any(isinstance(x, torch.Tensor) and x.numel() == self.numel for x in ins)
        if whole:
            (self.moves if name in MOVES else self.kernels)[name] += 1
        return result


def count_kernels(genome: OptimizerGenome, compiled=None) -> tuple[Counter, Counter]:
    """(kernels, moves) of one generated step on one parameter (see the module docstring)."""
    from gp_opt.optim.compile import Ctx, compile_genome
    compiled = compiled or compile_genome(genome)
    gen = torch.Generator().manual_seed(0)
    g = torch.randn(COUNT_SIZE, generator=gen)
    w = torch.randn(COUNT_SIZE, generator=gen)
    state = compiled.init_state(g)
    ctx = Ctx().bind(state, 1, g)
    decays = [0.5] * len(compiled.decays)
    counter = _KernelCounter(COUNT_SIZE)
    rng = torch.get_rng_state()   # a dropout op draws from the global RNG: leave it as it was
    try:
        with torch.no_grad(), counter:
            compiled.step(g, w, state, ctx, 1, 0.1, 0.9, decays)
    finally:
        torch.set_rng_state(rng)
    return counter.kernels, counter.moves


def _timed_steps(opt, steps: int) -> list[float]:
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        opt.step()
        times.append(time.perf_counter() - t0)
    return times


def step_time_ratio(genome: OptimizerGenome, numel: int = 2 ** 20, tensors: int = 8,
                    rounds: int = 5, steps: int = 5, device: str = "cpu") -> float:
    """Fastest step time of the genome's EvolvedOptimizer / that of ``Adam(foreach=True)``.

    Both step the same ``tensors`` parameters of ``numel`` elements in all (float32, gradients
    drawn once), in ``rounds`` interleaved rounds of ``steps`` steps after one warm-up round. The
    fastest step of each (as ``timeit`` advises) because a shared machine only ever adds time.
    """
    from gp_opt.optim import EvolvedOptimizer
    gen = torch.Generator().manual_seed(0)
    sizes = [numel // tensors + (1 if k < numel % tensors else 0) for k in range(tensors)]

    def params():
        ps = [torch.zeros(s, device=device, requires_grad=True) for s in sizes if s]
        for p in ps:
            p.grad = torch.randn(p.numel(), generator=gen).to(device) * 1e-3
        return ps

    evolved = EvolvedOptimizer(params(), genome, lr=1e-3, total_steps=1000)
    adam = torch.optim.Adam(params(), lr=1e-3, foreach=True)
    ours, theirs = [], []
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    for r in range(rounds + 1):
        a = _timed_steps(evolved, steps)
        sync()
        b = _timed_steps(adam, steps)
        sync()
        if r:   # the first round warms both up
            ours += a
            theirs += b
    return min(ours) / min(theirs)


def card(genome: OptimizerGenome, time_numel: int | None = None) -> Card:
    """The genome's card; ``time_numel``: also measure the step time at that many parameters."""
    from gp_opt.optim.compile import compile_genome
    compiled = compile_genome(genome)
    kernels, moves = count_kernels(genome, compiled)
    result = Card(state_buffers(genome), kernels, moves)
    if time_numel:
        result.time_ratio = step_time_ratio(genome, time_numel)
        result.time_numel = int(time_numel)
    return result


def _kernel_text(counts: Counter) -> str:
    return ", ".join(f"{n} x{c}" if c > 1 else n for n, c in sorted(counts.items()))


def card_lines(c: Card) -> list[str]:
    """The card as the lines ``gp-opt show`` prints."""
    lines = [f"state buffers per parameter: {c.n_buffers}"
             + (" (" + "; ".join(f"{b.key}: {b.holds}" for b in c.buffers) + ")" if c.buffers else "")]
    lines.append(f"elementwise kernels per step: {c.n_kernels}"
                 + (f" ({_kernel_text(c.kernels)})" if c.kernels else "")
                 + (f" + {c.n_moves} memory moves ({_kernel_text(c.moves)})" if c.moves else ""))
    if c.time_ratio is not None:
        lines.append(f"step time: {c.time_ratio:.2f}x torch.optim.Adam(foreach=True) at "
                     f"{c.time_numel:,} parameters (fastest step of each, this machine)")
    return lines


def card_latex(c: Card) -> str:
    """The card as one LaTeX sentence (a comment-free line for a document or a report)."""
    text = (f"State buffers per parameter: {c.n_buffers}; elementwise kernels per step: {c.n_kernels}"
            + (f" (+{c.n_moves} memory moves)" if c.moves else ""))
    if c.time_ratio is not None:
        text += (f"; step time {c.time_ratio:.2f}$\\times$ \\texttt{{Adam(foreach=True)}} at "
                 f"{c.time_numel:,} parameters".replace(",", "{,}"))
    return text + "."
