"""Compute a genome's operands from (g, w) and the moving averages, with torch.

Shared by every numeric engine (the optimizer, the batched integrity check), so the operands
mean the same everywhere: each is its grammar expression, printed to torch by gp_opt.code_printer.
Everything is elementwise, so any leading batch dimensions pass straight through.

>>> import torch
>>> from gp_opt import grammar
>>> prog = OperandProgram(grammar.load(), ["qh_g", "one"])
>>> state = prog.init_state(torch.zeros(3))
>>> vals = prog(torch.ones(3), torch.zeros(3), state, t=0)
>>> vals["qh_g"].tolist(), vals["one"]
([1.0, 1.0, 1.0], 1)
"""
from __future__ import annotations

from typing import Iterable

import sympy as sp
import torch

from gp_opt.grammar import G, W, Grammar
from gp_opt.code_printer import torch_function, torch_source


class OperandProgram:
    """The operands ``names`` of ``grammar``, compiled once.

    Only the moving averages these operands read are kept and updated. Constant operands come
    back as Python numbers (they broadcast, and cost nothing).
    """

    def __init__(self, grammar: Grammar, names: Iterable[str]):
        self.grammar = grammar
        self.names = list(names)
        exprs = {n: grammar.operands[n].expr for n in self.names}
        used = set().union(*(e.free_symbols for e in exprs.values())) if exprs else set()
        self.states = [s for s in grammar.states.values() if {s.raw, s.hat} & used]
        self._inputs = [torch_function(s.input, (G,)) for s in self.states]
        args = (G, W) + tuple(sym for s in self.states for sym in (s.raw, s.hat))
        self._fns = {n: (None if e.is_number else torch_function(e, args)) for n, e in exprs.items()}
        self._consts = {n: (int(e) if e.is_Integer else float(e)) for n, e in exprs.items() if e.is_number}

    def init_state(self, like: torch.Tensor) -> dict[str, torch.Tensor]:
        """Zeroed moving averages shaped like ``like``."""
        return {s.name: torch.zeros_like(like) for s in self.states}

    def advance(self, g: torch.Tensor, state: dict[str, torch.Tensor], t: int) -> list:
        """Update the moving averages in place for step ``t`` (0-based); return (raw, hat) values."""
        values = []
        for s, fn in zip(self.states, self._inputs):
            m = state[s.name]
            m.lerp_(fn(g), 1.0 - s.beta)  # m <- beta*m + (1-beta)*x, one kernel
            values += [m, m / (1.0 - s.beta ** (t + 1))]
        return values

    def __call__(self, g: torch.Tensor, w: torch.Tensor, state: dict[str, torch.Tensor],
                 t: int) -> dict[str, torch.Tensor | float]:
        """Advance the moving averages to step ``t`` and return every operand's value."""
        args = [g, w] + self.advance(g, state, t)
        out: dict[str, torch.Tensor | float] = dict(self._consts)
        for n, fn in self._fns.items():
            if fn is not None:
                out[n] = fn(*args)
        return out

    def source_lines(self, var=lambda name: name, g: str = "g", w: str = "w",
                     state: str = "state", t: str = "t") -> list[str]:
        """Straight-line source doing what :meth:`__call__` does, for a generated step function.

        Each moving average is updated in place (the same ``lerp_`` as :meth:`advance`); its
        bias correction ``1 / (1 - beta^(t+1))`` stays a Python number folded into the operands
        that read the corrected value (no corrected copy is materialised), and sums of scaled
        terms print as fused ``torch.add(..., alpha=...)`` (:func:`gp_opt.code_printer.torch_source`
        with ``scalars``). Non-constant operand ``n`` is assigned to ``var(n)``; constants are
        left to the caller (:attr:`constants`).
        """
        names: dict[sp.Symbol, str] = {G: g, W: w}
        subs: dict[sp.Symbol, sp.Expr] = {}
        scalars = set()
        lines = []
        for s in self.states:
            k = sp.Symbol(f"k_{s.name}", positive=True)
            names[s.raw] = f"ma_{s.name}"
            names[k] = f"k_{s.name}"
            subs[s.hat] = k * s.raw
            scalars.add(k)
            lines.append(f"ma_{s.name} = {state}[{s.name!r}]")
            lines.append(f"ma_{s.name}.lerp_({torch_source(s.input, names)}, {1.0 - s.beta!r})")
            lines.append(f"k_{s.name} = 1.0 / (1.0 - {s.beta!r} ** ({t} + 1))")
        for n, fn in self._fns.items():
            if fn is not None:
                expr = self.grammar.operands[n].expr.xreplace(subs)
                lines.append(f"{var(n)} = {torch_source(expr, names, scalars=frozenset(scalars))}")
        return lines

    @property
    def constants(self) -> dict[str, int | float]:
        """The constant operands and their values."""
        return dict(self._consts)

    @property
    def symbols(self) -> list[sp.Symbol]:
        return [G, W] + [sym for s in self.states for sym in (s.raw, s.hat)]
