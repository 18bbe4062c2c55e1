"""A genome lowered once into what every code emitter needs: one lowering, several emitters.

:func:`lower` walks an :class:`~gp_opt.genome.OptimizerGenome` once and returns a
:class:`Lowering`: the active operands and the moving averages they read, the straight-line
assignments of the update graph in dependency order (decayed edges, broadcasts to the full shape,
ops), the decayed edges in the order the assignments read them, the state keys (moving averages,
stateful nodes, momentum ``m``) and whether the update reads the weights ``w``. The emitters only
print it: the compiled torch step (:mod:`gp_opt.optim.compile`), the standalone torch module
(:mod:`gp_opt.optim.export`) and the optax module (:mod:`gp_opt.optim.to_optax`); none of them walks
the genome again, so the torch and JAX code cannot drift apart in what they compute.

>>> from gp_opt import catalog
>>> low = lower(catalog.get("Adam"))
>>> low.state_keys, low.needs_w, low.output
(['v', 's'], False, 'n_out')
>>> [a.var for a in low.assignments]
['n_h0', 'n_out']
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import sympy as sp

from gp_opt.genome import OUTPUT, DecayGenome, OptimizerGenome
from gp_opt.grammar import W, Op, Schedule, State

__all__ = ["Assignment", "Lowering", "lower", "assignment_lines", "node_var", "operand_var", "DecayAssignment",
           "lower_decay"]


def operand_var(name: str) -> str:
    """The variable holding operand ``name`` in generated code."""
    return "o_" + name


def node_var(name: str) -> str:
    """The variable holding node ``name``'s value in generated code."""
    return "n_" + name


@dataclass(frozen=True)
class Assignment:
    """One line of the update, ``var = ...``, as data.

    ``kind`` is ``"decay"`` (``args[0]`` times the value of decayed edge ``edge``), ``"full"``
    (``args[0]`` broadcast to the parameter's shape) or ``"op"`` (grammar op ``op`` applied to
    ``args``; ``node`` is the node it computes, the key of its state if it keeps one).
    ``comment`` says what the line is in the genome's terms (empty for a broadcast).
    """

    var: str
    kind: str
    args: tuple[str, ...]
    op: Op | None = None
    node: str | None = None
    edge: int | None = None
    comment: str = ""


@dataclass(frozen=True)
class Lowering:
    """A genome's update as the emitters print it (see the module docstring)."""

    genome: OptimizerGenome
    operands: tuple[str, ...]                      # active operands, in the grammar's order
    states: tuple[State, ...]                      # the moving averages those operands read
    assignments: tuple[Assignment, ...]            # U, line by line, in dependency order
    edges: tuple[tuple[str, str, DecayGenome], ...]  # edges[k]: the decayed edge read as d[k]
    output: str                                    # the variable holding U after the assignments
    node_states: tuple[str, ...]                   # the stateful nodes (one buffer each)
    needs_w: bool                                  # an operand reads the weights

    @property
    def momentum(self) -> str:
        return self.genome.momentum

    @property
    def sign(self) -> int:
        return self.genome.sign

    @property
    def state_keys(self) -> list[str]:
        """Every per-element state buffer: moving averages, stateful nodes, momentum ``m``."""
        keys = [s.name for s in self.states] + list(self.node_states)
        return keys + (["m"] if self.momentum != "none" else [])

    @property
    def op_kinds(self) -> set[str]:
        """The kinds of the active nodes' ops (``scalar``, ``stateful``, ``stochastic``, ...)."""
        return {a.op.kind for a in self.assignments if a.kind == "op"}

    def nodes_reading_previous_state(self) -> set[str]:
        """The variables of nodes whose op reads the state it replaces (``delta``)."""
        return {a.var for a in self.assignments if a.kind == "op"
                and any(getattr(type(f), "reads_previous_state", False) for f in a.op.expr.atoms(sp.Function))}


def lower(genome: OptimizerGenome) -> Lowering:
    """Walk ``genome`` once into a :class:`Lowering`."""
    grammar = genome.grammar
    operands = tuple(genome.active_operands())
    exprs = [grammar.operands[n].expr for n in operands]
    used = set().union(*(e.free_symbols for e in exprs)) if exprs else set()
    states = tuple(s for s in grammar.states.values() if {s.raw, s.hat} & used)
    assignments: list[Assignment] = []
    edges: list[tuple[str, str, DecayGenome]] = []
    is_full = {operand_var(n): not grammar.operands[n].is_constant for n in operands}
    # a value broadcast to the full shape gets a name of its own, so no line reassigns a name
    # (the scratch rewrite needs that); later readers of the value read the broadcast one
    wide: dict[str, str] = {}
    inner = set(genome.inner_nodes())
    for node in genome.active_inner_nodes():
        op = grammar.op(genome.op(node))
        args = []
        for pos, (src, dec) in enumerate(genome.input_edges(node)):
            var = node_var(src) if src in inner else operand_var(src)
            var = wide.get(var, var)
            if dec is not None:
                edges.append((src, node, dec))
                new = f"{node_var(node)}_in{pos}"
                assignments.append(Assignment(new, "decay", (var,), edge=len(edges) - 1,
                                              comment=f"decay on edge {src} -> {node}"))
                is_full[new] = is_full[var]
                var = new
            if op.kind != "scalar" and not is_full[var]:
                wide[var] = f"{var}_full"
                assignments.append(Assignment(wide[var], "full", (var,)))
                var = wide[var]
                is_full[var] = True
            args.append(var)
        out = node_var(node)
        assignments.append(Assignment(out, "op", tuple(args), op=op, node=node,
                                      comment=f"{node} = {genome.op(node)}({', '.join(genome.inputs(node))})"))
        is_full[out] = any(is_full[a] for a in args) or op.kind != "scalar"
    u = node_var(OUTPUT)
    if not is_full[u]:
        assignments.append(Assignment(u, "full", (u,)))
    node_states = tuple(a.node for a in assignments if a.kind == "op" and a.op.kind == "stateful")
    needs_w = any(W in e.free_symbols for e in exprs)
    return Lowering(genome, operands, states, tuple(assignments), tuple(edges), u, node_states, needs_w)


def assignment_lines(lowering: Lowering, op_source: Callable[[Op, Sequence[str], str, str], str],
                     decay_ref: Callable[[int], str] = lambda k: f"d[{k}]",
                     full: Callable[[str], str] = lambda v: f"ctx.full({v})", ctx: str = "ctx") -> list[str]:
    """The assignments as source lines: ``op_source(op, args, node, ctx)`` prints an op (the
    emitter's printer), ``decay_ref(k)`` the value of decayed edge ``k``, ``full(v)`` a broadcast."""
    lines = []
    for a in lowering.assignments:
        if a.kind == "decay":
            lines.append(f"{a.var} = {a.args[0]} * {decay_ref(a.edge)}  # {a.comment}")
        elif a.kind == "full":
            lines.append(f"{a.var} = {full(a.args[0])}")
        else:
            lines.append(f"{a.var} = {op_source(a.op, a.args, a.node, ctx)}  # {a.comment}")
    return lines


@dataclass(frozen=True)
class DecayAssignment:
    """One line of a decay function: ``var = schedule(t, T)`` (a leaf: ``schedule`` set) or
    ``var = op(args)`` (``op`` set), node ``node``; ``comment`` says which, in the genome's terms."""

    var: str
    node: str
    args: tuple[str, ...] = ()
    schedule: Schedule | None = None
    op: Op | None = None
    comment: str = ""


def lower_decay(decay: DecayGenome) -> tuple[tuple[DecayAssignment, ...], str]:
    """A decay function's lines in dependency order (each node once, as ``DecayGenome.values``
    evaluates them) and the variable holding its value."""
    grammar = decay.grammar
    out: list[DecayAssignment] = []
    done: set[str] = set()

    def var(node: str) -> str:
        return ("s_" if decay.is_leaf(node) else "n_") + node

    def visit(node: str) -> None:
        if node in done:
            return
        done.add(node)
        if decay.is_leaf(node):
            schedule = grammar.schedules[node]
            out.append(DecayAssignment(var(node), node, schedule=schedule, comment=f"{node}: {schedule.label}"))
            return
        for src in decay.inputs(node):
            visit(src)
        out.append(DecayAssignment(var(node), node, tuple(var(src) for src in decay.inputs(node)),
                                   op=grammar.ops[decay.op(node)],
                                   comment=f"{node} = {decay.op(node)}({', '.join(decay.inputs(node))})"))

    visit(OUTPUT)
    return tuple(out), var(OUTPUT)
