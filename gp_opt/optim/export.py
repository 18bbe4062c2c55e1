"""Write a genome as a standalone PyTorch optimizer module (``gp-opt export NAME|FILE --torch out.py``).

The module depends on torch alone. Its update is the genome written out as straight-line tensor
code, printed from the grammar's single definitions (operands, moving averages, ops, decay
schedules) by :mod:`gp_opt.printer`; the few engine kernels (ema, delta, running max, dropout,
norm) and the base schedules are copied in from :mod:`gp_opt.functions` and
:mod:`gp_opt.optim.schedules` by ``inspect.getsource``, so there is still one definition of each.
The docstring carries the LaTeX of the equation and of the learning-rate schedule factor (from
:mod:`gp_opt.symbolic`). Its ``state_dict`` has the same per-parameter keys as
:class:`~gp_opt.optim.EvolvedOptimizer`'s.
"""
from __future__ import annotations

import functools
import inspect
import keyword
import re
import textwrap
from pathlib import Path
from typing import Any, Callable

import sympy as sp

from gp_opt import functions as F
from gp_opt.genome import OUTPUT, DecayGenome, OptimizerGenome
from gp_opt.optim import schedules as S
from gp_opt.optim.compile import momentum_lines, torch_op_source
from gp_opt.optim.lowering import assignment_lines, lower
from gp_opt.printer import torch_source

__all__ = ["export_torch", "export_source"]


def class_name(name: str) -> str:
    ident = re.sub(r"\W+", "_", name).strip("_") or "Evolved"
    if ident[0].isdigit():
        ident = "Opt_" + ident
    if keyword.iskeyword(ident):
        ident += "_"
    return ident


def decay_function_source(k: int, decay: DecayGenome, edge: str, leaf: Callable[[Any], str],
                          op: Callable[[Any, list[str]], str], broadcast: str) -> str:
    """One decay function as node-by-node code, in the order ``DecayGenome.values`` uses; the
    torch and JAX exports differ only in how a schedule (``leaf(expr)``) and an op
    (``op(primitive, args)``) print and in the ``broadcast`` template (``{src}``: one value)."""
    grammar = decay.grammar
    lines = [f"def decay_{k}(t, T):", f'    """Decay function on edge {edge}: {decay!r}."""']
    done: set[str] = set()

    def var(node: str) -> str:
        return ("s_" if decay.is_leaf(node) else "n_") + node

    def emit(node: str) -> None:
        if node in done:
            return
        done.add(node)
        if decay.is_leaf(node):
            src = broadcast.format(src=leaf(grammar.schedules[node].expr))
            lines.append(f"    {var(node)} = {src}  # {node}: {grammar.schedules[node].label}")
            return
        for s in decay.inputs(node):
            emit(s)
        src = broadcast.format(src=op(grammar.ops[decay.op(node)], [var(s) for s in decay.inputs(node)]))
        lines.append(f"    {var(node)} = {src}  # {node} = {decay.op(node)}({', '.join(decay.inputs(node))})")

    emit(OUTPUT)
    lines.append(f"    return {var(OUTPUT)}")
    return "\n".join(lines)


def _decay_function(k: int, decay: DecayGenome, edge: str) -> str:
    return decay_function_source(k, decay, edge, torch_source, lambda op, args: op.torch_source(*args),
                                 "torch.as_tensor({src}, dtype=t.dtype).expand_as(t)")


def module_doc_head(genome: OptimizerGenome, title: str, latex: bool = True) -> list[str]:
    """The lines an exported module's docstring starts with (torch and optax alike): the title, the
    genome's description, genome, momentum and sign, U and the factored schedule in LaTeX, and the
    base schedule."""
    eq, sched = _latex(genome) if latex else (None, None)
    desc = genome.meta.get("description")
    doc = [title, ""]
    if desc:
        doc += textwrap.wrap(str(desc), 96) + [""]
    doc += [f"Genome: {genome!r}", f"Momentum: {genome.momentum}; "
            + ("update sign flipped (w <- w + lr U)." if genome.sign < 0 else "w <- w - lr U."), ""]
    if eq:
        doc += ["Update U (LaTeX; decay functions written inline):", "", f"    {eq}", ""]
    if sched:
        doc += ["Learning-rate factor carried by its decay functions, lr_t = lr * base(t) * F(t) (LaTeX):",
                "", f"    {sched}", ""]
    doc.append("Base schedule: one-cycle cosine with linear warm-up and hold (SPEC section 1).")
    return doc


def _latex(genome: OptimizerGenome) -> tuple[str | None, str | None]:
    try:
        from gp_opt import symbolic
        eq = symbolic.to_latex(genome)
        sched, _ = symbolic.factor_schedule(genome)
        sched_tex = None if sp.sympify(sched, strict=True) == 1 else symbolic.latex_expr(sched, genome.grammar)
        return eq, sched_tex
    except Exception:  # noqa: BLE001 - the LaTeX is documentation; export works without it
        return None, None


_CTX = '''
class _Ctx:
    """Serves the ops that keep state, draw random numbers or reduce over the tensor."""

    def __init__(self, state, t, like):
        self.state, self.t, self.like = state, t, like

    def const(self, value):
        return torch.tensor(value, dtype=self.like.dtype, device=self.like.device)

    def full(self, x):
        return torch.zeros_like(self.like).add_(x)

    def ema(self, x, beta, key):
        out, new = ema_kernel(x, self.state[key], self.t, beta)
        self.state[key].copy_(new)
        return out

    def delta(self, x, key):
        out, new = delta_kernel(x, self.state[key])
        self.state[key].copy_(new)
        return out

    def running_max(self, x, key):
        out, new = running_max_kernel(x, self.state[key])
        self.state[key].copy_(new)
        return out

    def dropout(self, x, p, key=None):
        return dropout_kernel(x, p)

    def norm(self, x, key=None):
        return norm_kernel(x, torch.linalg.vector_norm(x))
'''

_CLASS = '''
class {cls}(torch.optim.Optimizer):
    """{title}

    ``{cls}(params, lr, total_steps, warmup_steps=0, hold_steps=0, momentum_schedule=True)``:
    ``lr`` is the peak of the one-cycle cosine schedule with ``warmup_steps`` of linear warm-up
    and ``hold_steps`` at the peak, over ``total_steps``; ``momentum_schedule`` True uses the
    one-cycle momentum (0.95 -> 0.85 -> 0.95), False a constant 0.9, a number that constant.
    Steps past ``total_steps`` reuse the last step's schedule values. bfloat16/float16 parameters
    keep float32 state.
    """

    def __init__(self, params, lr, total_steps, warmup_steps=0, hold_steps=0, momentum_schedule=True):
        defaults = dict(lr=lr, total_steps=int(total_steps), warmup_steps=int(warmup_steps),
                        hold_steps=int(hold_steps), momentum_schedule=momentum_schedule,
                        base_schedule=True, step=0)
        super().__init__(params, defaults)
        self._tables = {{}}

    def _schedule(self, group):
        key = (group["total_steps"], group["warmup_steps"], group["hold_steps"])
        if key not in self._tables:
            T = key[0]
            ts = torch.arange(T, dtype=torch.float64)
            decays = [f(ts, float(T)).tolist() for f in DECAYS]
            self._tables[key] = (base_lr_table(*key), momentum_table(*key), decays)
        base, mus, decays = self._tables[key]
        t = min(max(group["step"], 0), key[0] - 1)
        lr = group["lr"] * (base[t] if group["base_schedule"] else 1.0)
        ms = group["momentum_schedule"]
        mu = mus[t] if ms is True else (0.9 if ms is False else float(ms))
        return lr, mu, [d[t] for d in decays]

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, mu, d = self._schedule(group)
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                dtype = torch.float32 if p.dtype in (torch.bfloat16, torch.float16) else p.dtype
                if not state:
                    state["step"] = 0
                    for key in STATE_KEYS:
                        state[key] = torch.zeros_like(p, dtype=dtype)
                g = p.grad.to(dtype)
                w = p.detach().to(dtype) if NEEDS_W else None
                t = state["step"]
                p.add_(update(g, w, state, _Ctx(state, t, g), t, lr, mu, d))
                state["step"] = t + 1
            group["step"] += 1
        return loss
'''


@functools.lru_cache(maxsize=None)
def copied_sources() -> tuple[str, str]:
    """The engine kernels and the base schedules, copied by ``inspect.getsource`` (read once)."""
    kernels = [F.ema_kernel, F.delta_kernel, F.running_max_kernel, F.dropout_kernel, F.norm_kernel]
    kernel_src = "\n\n".join(inspect.getsource(k).rstrip() for k in kernels)
    sched_src = "\n\n".join(inspect.getsource(f).rstrip() for f in S.EXPORTED_FUNCTIONS)
    return kernel_src, sched_src


def runtime_sections(edges, decay_function: Callable[[int, DecayGenome, str], str]) -> list[str]:
    """The sections every exported module has (torch and optax alike): the base schedules, the
    decay functions of ``edges`` written by ``decay_function(k, decay, edge)``, and the kernels."""
    kernel_src, sched_src = copied_sources()
    decays = "\n\n\n".join(decay_function(k, dec, f"{s} -> {d}") for k, (s, d, dec) in enumerate(edges))
    return [
        "# ---------------------------------------------------------------- schedules\n"
        f"MU_HIGH, MU_LOW = {S.MU_HIGH!r}, {S.MU_LOW!r}\n\n\n" + sched_src,
        "# ---------------------------------------------------------------- decay functions\n"
        + (decays + "\n\n" if decays else "") + f"DECAYS = [{', '.join(f'decay_{k}' for k in range(len(edges)))}]",
        "# ---------------------------------------------------------------- kernels\n" + kernel_src,
    ]


def export_source(genome: OptimizerGenome, name: str | None = None) -> str:
    """The module's source text (see :func:`export_torch`)."""
    grammar = genome.grammar
    name = name or genome.meta.get("name") or "EvolvedOptimizer"
    cls = class_name(str(name))
    low = lower(genome)

    # the update function: moving averages, operands, nodes, momentum
    body = []
    for s in low.states:
        body.append(f"{s.name} = state[{s.name!r}]")
        body.append(f"{s.name}.lerp_({torch_source(s.input)}, 1.0 - {s.beta!r})  # EMA_{s.beta:g}({s.input})")
        body.append(f"{s.name}_hat = {s.name} / (1.0 - {s.beta!r} ** (t + 1))")
    for n in low.operands:
        op = grammar.operands[n]
        src = f"ctx.const({torch_source(op.expr)})" if op.is_constant else torch_source(op.expr)
        body.append(f"o_{n} = {src}  # {op.label}")
    body += assignment_lines(low, torch_op_source) + momentum_lines(low.momentum, low.sign, low.output)
    update = ("def update(g, w, state, ctx, t, lr, mu, d, out=None):\n"
              '    """The weight change of one parameter at its update t (0-based)."""\n'
              + "".join(f"    {line}\n" for line in body))

    kinds = {type(f).__name__ for a in low.assignments if a.kind == "op" for f in a.op.expr.atoms(F.GpFunction)}
    doc = module_doc_head(genome, f"{cls}: an optimizer discovered with gp_opt, as a standalone PyTorch module.")
    doc += ["Written by gp_opt.optim.export_torch; depends on torch only."]
    docstring = "\n".join(doc).replace('"""', "'''")

    parts = [
        f'r"""{docstring}\n"""',
        "import math\n\nimport torch",
        f"STATE_KEYS = {low.state_keys!r}\nNEEDS_W = {low.needs_w!r}\n# engine ops used: {sorted(kinds) or 'none'}",
        *runtime_sections(low.edges, _decay_function),
        _CTX.strip(),
        "# ---------------------------------------------------------------- the update equation\n"
        + update.rstrip(),
        _CLASS.format(cls=cls, title=f"The evolved optimizer {name} (see the module docstring).").strip(),
    ]
    return "\n\n\n".join(parts) + "\n"


def export_torch(genome: OptimizerGenome, path: str | Path | None = None, name: str | None = None) -> str:
    """Write ``genome`` as a standalone optimizer module; return its source.

    ``path`` None only returns the text. ``name`` (default: the genome's ``meta['name']``) names
    the optimizer class. For the CLI verb ``gp-opt export NAME|FILE --torch out.py``.
    """
    src = export_source(genome, name)
    compile(src, str(path or "<export>"), "exec")  # a bug here must never write a broken file
    if path is not None:
        Path(path).write_text(src)
    return src
