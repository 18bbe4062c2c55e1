"""Mutating the update graph: the SPEC section 3 kinds on a copy of the genome."""
from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from gp_opt.errors import GpOptError
from gp_opt.genome import OUTPUT, DecayGenome, OptimizerGenome
from gp_opt.grammar import Grammar
from gp_opt.mutation.graph import (KINDS, MAX_REDRAWS, active_inner, copy_genome, draw_update_source, is_hidden,
                                   pick, mutation_probs, random_unary, swap_op, weighted_ops)
from gp_opt.mutation.decay import mutate_decay


# ---------------------------------------------------------------- the update-graph kinds

def _mut_op(child: OptimizerGenome, node: str, rng, p) -> str | None:
    return swap_op(child, node, child.grammar.update_unary, child.grammar.update_binary, rng)


def _mut_connection(child: OptimizerGenome, node: str, rng, p) -> str | None:
    edges = child.input_edges(node)
    srcs, decays = [s for s, _ in edges], [d for _, d in edges]
    if len(edges) == 2 and rng.random() < p["swap_inputs"]:
        child.set_inputs(node, srcs[::-1], decays[::-1])
        return f"swap inputs of {node}: ({srcs[0]}, {srcs[1]}) -> ({srcs[1]}, {srcs[0]})"
    pos = int(rng.integers(len(edges)))
    others = [s for i, s in enumerate(srcs) if i != pos]
    hidden_only = node == OUTPUT and not any(is_hidden(child, s) for s in others)
    new = draw_update_source(child, node, rng, set(srcs), hidden_only)
    if new is None:
        return None
    old = srcs[pos]
    srcs[pos] = new
    child.set_inputs(node, srcs, decays)
    return f"connection {node}[{pos}]: {old} -> {new}"


def _mut_arity(child: OptimizerGenome, node: str, rng, p) -> str | None:
    grammar = child.grammar
    cur = child.op(node)
    edges = child.input_edges(node)
    srcs, decays = [s for s, _ in edges], [d for _, d in edges]
    if grammar.ops[cur].arity == 1:
        names, weights = weighted_ops(grammar, grammar.update_binary)
        if not names:
            return None
        new_src = draw_update_source(child, node, rng, set(srcs), hidden_only=False)
        if new_src is None:
            return None
        new = pick(rng, names, weights)
        dec = (DecayGenome.random(rng, grammar) if rng.random() < grammar.update_init["decay_edge"]
               else None)
        child.set_op(node, new)
        child.set_inputs(node, srcs + [new_src], decays + [dec])
        return f"arity {node}: {cur}({srcs[0]}) -> {new}({srcs[0]}, {new_src})"
    keep = [i for i, s in enumerate(srcs) if node != OUTPUT or is_hidden(child, s)]
    new = random_unary(grammar, rng)
    if not keep or new is None:
        return None
    k = keep[int(rng.integers(len(keep)))]
    child.set_op(node, new)
    child.set_inputs(node, [srcs[k]], [decays[k]])
    return f"arity {node}: {cur}({', '.join(srcs)}) -> {new}({srcs[k]})"


def _mut_momentum(child: OptimizerGenome, node: str, rng, p) -> str | None:
    others = [m for m in child.grammar.momentum if m != child.momentum]
    if not others:
        return None
    new = others[int(rng.integers(len(others)))]
    old, child.momentum = child.momentum, new
    return f"momentum: {old} -> {new}"


def _mut_decay(child: OptimizerGenome, node: str, rng, p) -> str | None:
    edges = child.input_edges(node)
    pos = int(rng.integers(len(edges)))
    srcs, decays = [s for s, _ in edges], [d for _, d in edges]
    dec = decays[pos]
    if dec is None:
        decays[pos] = DecayGenome.random(rng, child.grammar)
        what = "add"
    elif rng.random() < p["decay_delete"]:
        decays[pos] = None
        what = "delete"
    else:
        out = mutate_decay(dec, rng, child.grammar, p)
        if out is None:
            return None
        decays[pos], how = out
        what = f"mutate ({how})"
    child.set_inputs(node, srcs, decays)
    return f"decay {what} on {srcs[pos]} -> {node}"


_UPDATE_KINDS: dict[str, Callable] = {"op": _mut_op, "connection": _mut_connection, "arity": _mut_arity,
                                      "momentum": _mut_momentum, "decay": _mut_decay}


def mutate(genome: OptimizerGenome, rng: np.random.Generator, grammar: Grammar | None = None,
           probs: Mapping[str, float] | None = None) -> tuple[OptimizerGenome, str]:
    """One SPEC-7 mutation of an active inner node: ``(child, description)``.

    ``probs`` overrides entries of the grammar's ``[mutation]`` table (``op``, ``connection``,
    ``swap_inputs``, ``arity``, ``momentum``, ``decay``, ``decay_delete``, ``decay_op``,
    ``decay_connection``, ``decay_arity``). The parent is not modified; the child differs
    from it structurally (it may still compute the same thing; see :mod:`gp_opt.dedup`).
    """
    grammar = grammar or genome.grammar
    return Mutator(genome, grammar, mutation_probs(grammar, probs))(rng)


class Mutator:
    """:func:`mutate` of one parent with what does not depend on the draw (probabilities, active
    nodes) worked out once: ``mutator(rng) -> (child, description)``. Same draws as ``mutate``."""

    __slots__ = ("genome", "grammar", "p", "nodes", "weights")

    def __init__(self, genome: OptimizerGenome, grammar: Grammar, p: dict[str, float]):
        self.genome, self.grammar, self.p = genome, grammar, p
        self.nodes = active_inner(genome)
        self.weights = [p[k] for k in KINDS]

    def __call__(self, rng: np.random.Generator) -> tuple[OptimizerGenome, str]:
        genome, grammar, nodes, p = self.genome, self.grammar, self.nodes, self.p
        for _ in range(MAX_REDRAWS):
            kind = pick(rng, KINDS, self.weights)
            node = nodes[int(rng.integers(len(nodes)))]
            child = copy_genome(genome)
            if child.grammar is not grammar:
                child.grammar = grammar
            desc = _UPDATE_KINDS[kind](child, node, rng, p)
            if desc is not None:
                child.meta = {"mutation": desc}
                return child, desc
        raise GpOptError(f"mutation: no mutation applies to {genome!r} in {MAX_REDRAWS} draws")
