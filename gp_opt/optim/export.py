"""Write a genome as a standalone PyTorch optimizer module (``gp-opt export NAME|FILE --torch out.py``).

The module depends on torch alone. Its update is the genome written out as straight-line tensor
code, printed from the grammar's single definitions (operands, moving averages, ops, decay
schedules) by :mod:`gp_opt.code_printer`; the few engine kernels (ema, delta, running max, dropout,
norm) and the base schedules are copied in from :mod:`gp_opt.functions` and
:mod:`gp_opt.optim.schedules` by ``inspect.getsource``, and the engine ``_Ctx`` and the optimizer
class from :mod:`gp_opt.optim.torch_runtime` by their source text, so there is still one
definition of each.
The docstring carries the LaTeX of the equation and of the learning-rate schedule factor (from
:mod:`gp_opt.symbolic`). Its ``state_dict`` has the same per-parameter keys as
:class:`~gp_opt.optim.EvolvedOptimizer`'s.
"""
from __future__ import annotations

import ast
import functools
import inspect
import keyword
import re
import textwrap
from pathlib import Path
from typing import Any, Callable

import sympy as sp

from gp_opt import functions as F
from gp_opt.genome import DecayGenome, OptimizerGenome
from gp_opt.optim import schedules as S
from gp_opt.optim.compile import momentum_lines, torch_op_source
from gp_opt.optim.lowering import assignment_lines, lower, lower_decay
from gp_opt.code_printer import torch_source

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
    """One decay function as node-by-node code, from :func:`~gp_opt.optim.lowering.lower_decay`
    (the order ``DecayGenome.values`` uses); the torch and JAX exports differ only in how a
    schedule (``leaf(expr)``) and an op (``op(primitive, args)``) print and in the ``broadcast``
    template (``{src}``: one value)."""
    assignments, output = lower_decay(decay)
    lines = [f"def decay_{k}(t, T):", f'    """Decay function on edge {edge}: {decay!r}."""']
    for a in assignments:
        src = leaf(a.schedule.expr) if a.schedule is not None else op(a.op, list(a.args))
        lines.append(f"    {a.var} = {broadcast.format(src=src)}  # {a.comment}")
    lines.append(f"    return {output}")
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


#: The runtime every generated torch module carries, as a real module (read as text).
_RUNTIME = Path(__file__).with_name("torch_runtime.py")
#: What the runtime's optimizer class is called there, and its docstring's first line.
_RUNTIME_NAME, _RUNTIME_TITLE = "Evolved", "An evolved optimizer (see the module docstring)."


@functools.lru_cache(maxsize=None)
def definitions_in(path: Path) -> dict[str, str]:
    """Each top-level function and class of the module at ``path`` by name: its source text
    (read with ``ast``, never imported: a runtime module may need a library the writer lacks)."""
    text = Path(path).read_text()
    return {node.name: ast.get_source_segment(text, node) for node in ast.parse(text).body
            if isinstance(node, (ast.FunctionDef, ast.ClassDef))}


def renamed(source: str, old: str, new: str, count: int, where: Path) -> str:
    """``source`` with its ``count`` occurrences of ``old`` replaced (a runtime definition copied
    under the optimizer's name); a different count fails, never writing a wrong module."""
    if source.count(old) != count:
        raise RuntimeError(f"{where.name}: expected {count} x {old!r} in the copied definition")
    return source.replace(old, new)


def _optimizer_class(cls: str, title: str) -> str:
    tx = renamed(definitions_in(_RUNTIME)[_RUNTIME_NAME], f"{_RUNTIME_NAME}(", f"{cls}(", 2, _RUNTIME)
    return renamed(tx, f'"""{_RUNTIME_TITLE}', f'"""{title}', 1, _RUNTIME)


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
        definitions_in(_RUNTIME)["_Ctx"],
        "# ---------------------------------------------------------------- the update equation\n"
        + update.rstrip(),
        _optimizer_class(cls, f"The evolved optimizer {name} (see the module docstring)."),
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
