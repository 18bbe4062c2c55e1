"""Any genome as an ``optax.GradientTransformation`` (JAX), and as a standalone optax module.

:func:`optax_source` writes a module that needs only jax, optax and numpy; its update is the
genome as straight-line ``jax.numpy`` code printed from the grammar's single definitions by
:func:`gp_opt.code_printer.jax_source` (the same printer walk as the torch forms, with JAX's names),
the decay functions node by node likewise, the engine kernels (ema, delta, running max, dropout,
norm) copied from :mod:`gp_opt.functions` and the base schedules from
:mod:`gp_opt.optim.schedules` by ``inspect.getsource`` -- no second copy of any op's maths.
:func:`optax_transformation` runs that very source (``exec``) and returns its transformation, so
the library and ``gp-opt export NAME --optax out.py`` are one code path.

The transformation is SPEC section 1 as :class:`~gp_opt.optim.EvolvedOptimizer` runs it:

* ``lr_t = learning_rate * base(t)`` (one-cycle cosine, warm-up ``W``, hold ``H``; with
  ``base_schedule=False`` ``learning_rate`` as is, which may then be an optax schedule
  ``count -> lr``), the one-cycle momentum ``mu_t``, each decay function from a table, every
  schedule clamped at ``t = T - 1`` past the end;
* moving averages, stateful nodes and the momentum buffer per leaf; bias corrections from the
  step count (every leaf gets an update each step, so this is each parameter's own count);
* momentum ``none`` / ``momentum`` / ``nesterov`` and the sign flip;
* ``norm`` over each whole leaf; dropout from ``jax.random`` (a key in the state, split per
  step, folded per leaf and node: reproducible, but not torch's random numbers);
* ``weight_decay``: decoupled, ``-lr_t * weight_decay * w`` added to the update (needs
  ``params``); ``maximize``: the gradients are negated;
* bfloat16/float16 leaves keep float32 state and compute in float32; complex leaves are stepped
  as (real, imaginary) pairs, like ``torch.view_as_real``.
* on the CPU, a nesterov ``U`` that calls a series-evaluated special function (``i1e``) and the
  output of a ``delta`` node pass through ``computed_once`` so that XLA evaluates them once, not
  in each output's loop, and reads a ``delta``'s old buffer before a donated state overwrites it
  (the generated module's docstring of ``computed_once`` says why; same arithmetic).

The update it returns is added with ``optax.apply_updates`` and is ``jit``-able; ``init`` and
``update`` take any pytree.

>>> from gp_opt import catalog
>>> tx = optax_transformation(catalog.get("Opt6"), learning_rate=1e-3, total_steps=1000)  # doctest: +SKIP
>>> state = tx.init(params)                                                               # doctest: +SKIP
>>> updates, state = jax.jit(tx.update)(grads, state, params)                            # doctest: +SKIP
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import sympy as sp

from gp_opt.errors import GpOptError
from gp_opt.genome import DecayGenome, OptimizerGenome
from gp_opt.grammar import G, W
from gp_opt.optim.export import (class_name, decay_function_source, definitions_in, module_doc_head, renamed,
                                  runtime_sections)
from gp_opt.optim.lowering import Lowering, assignment_lines, lower
from gp_opt.code_printer import jax_source

__all__ = ["optax_transformation", "optax_source", "export_optax", "function_name"]


class MissingJaxError(GpOptError):
    """jax/optax are not installed (the optional extra ``gp_opt[jax]``)."""


def function_name(name: str) -> str:
    """The module's transformation function name: ``Opt6`` -> ``opt6`` (optax's lower-case style)."""
    ident = class_name(name)
    snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", ident).lower()
    return snake if snake.isidentifier() else ident.lower()


def _jax_op(op, args, key, ctx) -> str:
    return jax_source(op.sympy(*(sp.Symbol(a) for a in args)), ctx=ctx, key=key)


def _decay_function(k: int, decay: DecayGenome, edge: str) -> str:
    return decay_function_source(k, decay, edge, jax_source, lambda op, args: _jax_op(op, args, None, "ctx"),
                                 "jnp.broadcast_to(jnp.asarray({src}, dtype=t.dtype), t.shape)")


def _momentum_lines(momentum: str, sign: int, u: str) -> list[str]:
    """SPEC section 1's momentum forms, functional: the change, the new ``m`` into ``new``.

    The same arithmetic, in the same order, as :func:`gp_opt.optim.compile.momentum_lines`.
    """
    if momentum == "none":
        return [f"return {u} * ({'-lr' if sign > 0 else 'lr'}), new"]
    op = "-" if sign > 0 else "+"
    lines = [f"m = state['m'] * mu {op} lr * {u}", "new['m'] = m"]
    if momentum == "momentum":
        return lines + ["return m, new"]
    if momentum == "nesterov":
        return lines + [f"return m * mu {op} lr * {u}, new"]
    raise ValueError(f"unknown momentum type {momentum!r}")


def _update_source(low: Lowering) -> str:
    """The update function's source, printed from the genome's lowering."""
    grammar = low.genome.grammar
    names: dict[sp.Symbol, str] = {G: "g", W: "w"}
    subs: dict[sp.Symbol, sp.Expr] = {}
    body = ["new = {}"]
    for s in low.states:
        # the moving average as torch's lerp_ computes it (weight < 0.5): m + (1-beta) (x - m);
        # its bias correction a number folded into the operands reading the corrected value
        k = sp.Symbol(f"k_{s.name}", positive=True)
        names[s.raw], names[k] = f"ma_{s.name}", f"k_{s.name}"
        subs[s.hat] = k * s.raw
        body.append(f"ma_{s.name} = state[{s.name!r}] + {1.0 - s.beta!r} * "
                    f"({jax_source(s.input, names)} - state[{s.name!r}])  # EMA_{s.beta:g}({s.input})")
        body.append(f"new[{s.name!r}] = ma_{s.name}")
        body.append(f"k_{s.name} = 1.0 / (1.0 - {s.beta!r} ** (t + 1))")
    for n in low.operands:
        op = grammar.operands[n]
        if op.is_constant:
            value = int(op.expr) if op.expr.is_Integer else float(op.expr)
            body.append(f"o_{n} = ctx.const({value!r})  # {op.label}")
        else:
            body.append(f"o_{n} = {jax_source(op.expr.xreplace(subs), names)}  # {op.label}")
    lines = assignment_lines(low, _jax_op)
    # the variables of nodes whose op reads the state it replaces (delta) pass through
    # computed_once: their old state buffer is then read in one loop, before the new state
    # overwrites it when the state is donated, instead of XLA:CPU copying both (a train step of
    # a genome with a delta node: about 1.5-2.4x faster; same arithmetic)
    once = low.nodes_reading_previous_state()
    for line in lines:
        body.append(line)
        var = line.split(" = ", 1)[0]
        if var in once:
            body.append(f"{var} = computed_once({var}, t)")
    u = low.output
    if (low.momentum == "nesterov" and u not in once
            and any(_SERIES_FUNCTION in line for line in lines)):
        # m and the update both read U: XLA:CPU would evaluate the series in each (see computed_once)
        body.append(f"{u} = computed_once({u}, t)")
    body.append("new.update(ctx.new)  # the stateful nodes' buffers")
    body += _momentum_lines(low.momentum, low.sign, u)
    return ("def update(g, w, state, ctx, t, lr, mu, d):\n"
            '    """The weight change of one leaf at its update t (0-based), and its new state."""\n'
            + "".join(f"    {line}\n" for line in body))


#: A call the printer writes for a special function that XLA evaluates as a long series
#: (``i1e``, ``erfc``, ...), as opposed to one machine instruction or a short expansion.
_SERIES_FUNCTION = "jax.scipy.special."

#: The runtime every generated module carries, as a real module (read as text: no jax needed).
_RUNTIME = Path(__file__).with_name("jax_runtime.py")
#: What the runtime's transformation is called there and what the export calls it.
_RUNTIME_NAME, _RUNTIME_TITLE = "evolved", "An evolved optimizer as an optax transformation (see the module docstring)."


def runtime_definitions() -> dict[str, str]:
    """Each top-level definition of :mod:`gp_opt.optim.jax_runtime` by name: its source text."""
    return definitions_in(_RUNTIME)


def _transformation_source(fname: str, title: str) -> str:
    """The runtime's state, dtype helpers and transformation, the latter named ``fname``."""
    defs = runtime_definitions()
    tx = renamed(defs[_RUNTIME_NAME], f"def {_RUNTIME_NAME}(", f"def {fname}(", 1, _RUNTIME)
    tx = renamed(tx, f'"{_RUNTIME_NAME}: ', f'"{fname}: ', 1, _RUNTIME)
    tx = renamed(tx, f'"""{_RUNTIME_TITLE}', f'"""{title}', 1, _RUNTIME)
    return "\n\n\n".join([defs["EvolvedState"], defs["_compute_dtype"], defs["_as_real"], defs["_zeros_state"], tx])


def optax_source(genome: OptimizerGenome, name: str | None = None, latex: bool = True) -> str:
    """The standalone module's source (see :func:`export_optax`).

    ``latex=False`` leaves the LaTeX of the equation out of the docstring (it is documentation,
    and sympy's printing can take a while: the library's in-memory module skips it).
    """
    name = str(name or genome.meta.get("name") or "evolved")
    fname = function_name(name)
    low = lower(genome)
    update_src = _update_source(low).replace("def update(", "def update_leaf(", 1)
    kinds = low.op_kinds

    doc = module_doc_head(genome, f"{name}: an optimizer discovered with gp_opt, as a standalone optax transformation.",
                          latex=latex)
    doc += ["",
            "    import optax", f"    tx = {fname}(learning_rate=1e-3, total_steps=10_000, warmup_steps=500)",
            "    state = tx.init(params)",
            "    updates, state = tx.update(grads, state, params)",
            "    params = optax.apply_updates(params, updates)", "",
            "Written by gp_opt.optim.to_optax.export_optax; depends on jax, optax and numpy only."]
    docstring = "\n".join(doc).replace('"""', "'''")
    nodes = genome.inner_nodes()

    parts = [
        f'r"""{docstring}\n"""',
        "import math\nfrom typing import Any, NamedTuple\n\nimport jax\nimport jax.numpy as jnp\n"
        "import jax.scipy.special  # noqa: F401  (the printed special functions)\nimport numpy as np\nimport optax",
        f'__all__ = ["{fname}", "EvolvedState", "update_leaf"]\n\n'
        f"STATE_KEYS = {low.state_keys!r}\nNEEDS_W = {low.needs_w!r}\nSTOCHASTIC = {'stochastic' in kinds!r}\n"
        f"NODES = {nodes!r}  # dropout ops fold their node's index into the step's random key\n"
        f"# op kinds used: {sorted(kinds) or 'none'}",
        *runtime_sections(low.edges, _decay_function),
        runtime_definitions()["_Ctx"],
        *([runtime_definitions()["computed_once"]] if "computed_once(" in update_src else []),
        "# ---------------------------------------------------------------- the update equation\n"
        + update_src.rstrip(),
        _transformation_source(fname, f"The evolved optimizer {name} as an optax transformation "
                                      "(see the module docstring)."),
    ]
    return "\n\n\n".join(parts) + "\n"


def export_optax(genome: OptimizerGenome, path: str | Path | None = None, name: str | None = None) -> str:
    """Write ``genome`` as a standalone optax module (jax, optax, numpy only); return its source.

    ``path`` None only returns the text. ``name`` (default: the genome's ``meta['name']``) names
    the transformation function (lower case: ``Opt6`` -> ``opt6``). For the CLI verb
    ``gp-opt export NAME|FILE --optax out.py``.
    """
    src = optax_source(genome, name)
    compile(src, str(path or "<export>"), "exec")  # a bug here must never write a broken file
    if path is not None:
        Path(path).write_text(src)
    return src


def _namespace(genome: OptimizerGenome) -> tuple[dict[str, Any], str]:
    try:
        import jax  # noqa: F401
        import optax  # noqa: F401
    except ImportError as exc:
        raise MissingJaxError(f"the optax transformation needs jax and optax ({exc}); "
                              "pip install 'gp_opt[jax]'") from None
    name = "evolved"
    src = optax_source(genome, name, latex=False)
    namespace: dict[str, Any] = {"__name__": f"gp_opt_optax_{id(genome):x}"}
    exec(compile(src, f"<gp_opt optax {genome!r}>", "exec"), namespace)
    return namespace, function_name(name)


def optax_transformation(genome: OptimizerGenome, learning_rate: Any, total_steps: int,
                         warmup_steps: int = 0, hold_steps: int = 0, momentum_schedule: bool | float = True,
                         base_schedule: bool = True, weight_decay: float = 0.0, maximize: bool = False,
                         seed: int = 0):
    """``genome`` as an ``optax.GradientTransformation`` (see the module docstring).

    Arguments as for :class:`~gp_opt.optim.EvolvedOptimizer` (``learning_rate`` is its ``lr``);
    ``seed`` seeds the dropout ops. The transformation's state is ``EvolvedState(count,
    buffers, key)``: ``buffers[key]`` is a pytree like the parameters for each state key
    (``v``, ``s``, ``lam``, stateful nodes, ``m``), the same keys as the torch optimizer's.
    """
    namespace, fname = _namespace(genome)
    return namespace[fname](learning_rate, total_steps, warmup_steps=warmup_steps, hold_steps=hold_steps,
                            momentum_schedule=momentum_schedule, base_schedule=base_schedule,
                            weight_decay=weight_decay, maximize=maximize, seed=seed)
