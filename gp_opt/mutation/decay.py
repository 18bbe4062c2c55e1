"""Mutating a decay function's graph."""
from __future__ import annotations

from typing import Mapping

import numpy as np

from gp_opt import integrity
from gp_opt.genome import OUTPUT, DecayGenome
from gp_opt.grammar import Grammar
from gp_opt.mutation.graph import (DECAY_KINDS, MAX_REDRAWS, active_inner, copy_decay, descendants, pick,
                                   mutation_probs, swap_op, weighted_ops)


# ---------------------------------------------------------------- decay functions

def _mut_decay_node(dec: DecayGenome, node: str, kind: str, rng) -> str | None:
    grammar = dec.grammar
    cur = dec.op(node)
    srcs = dec.inputs(node)
    leaves, leaf_w = grammar.schedule_weights()

    def draw_source(exclude: set[str]) -> str | None:
        banned = descendants(dec, node) | {node, OUTPUT} | exclude
        pool = [s for s in leaves if s not in banned] + [h for h in dec.hidden_nodes() if h not in banned]
        return pool[int(rng.integers(len(pool)))] if pool else None

    if kind == "decay_op":
        return swap_op(dec, node, grammar.decay_unary, grammar.decay_binary, rng)
    if kind == "decay_connection":
        pos = int(rng.integers(len(srcs)))
        new = draw_source(set(srcs))
        if new is None:
            return None
        old, srcs[pos] = srcs[pos], new
        dec.set_inputs(node, srcs)
        return f"connection {node}[{pos}]: {old} -> {new}"
    if grammar.ops[cur].arity == 1:
        names, weights = weighted_ops(grammar, grammar.decay_binary)
        new_src = draw_source(set(srcs))
        if not names or new_src is None:
            return None
        new = pick(rng, names, weights)
        dec.set_op(node, new)
        dec.set_inputs(node, srcs + [new_src])
        return f"arity {node}: {cur} -> {new}"
    names, weights = weighted_ops(grammar, grammar.decay_unary)
    if not names:
        return None
    new = pick(rng, names, weights)
    k = int(rng.integers(2))
    dec.set_op(node, new)
    dec.set_inputs(node, [srcs[k]])
    return f"arity {node}: {cur} -> {new}"


def mutate_decay(decay: DecayGenome, rng: np.random.Generator, grammar: Grammar | None = None,
                 probs: Mapping[str, float] | None = None,
                 max_tries: int = MAX_REDRAWS) -> tuple[DecayGenome, str] | None:
    """Mutate a decay function (op change / connection change / unary <-> binary on an active
    node, with ``decay_op`` / ``decay_connection`` / ``decay_arity``), redrawn until the result
    is valid (0 <= d(t) <= 1, SPEC section 4). None if no valid mutation is found."""
    grammar = grammar or decay.grammar
    p = mutation_probs(grammar, probs)
    weights = [p[k] for k in DECAY_KINDS]
    nodes = active_inner(decay)
    for _ in range(max_tries):
        kind = pick(rng, DECAY_KINDS, weights)
        node = nodes[int(rng.integers(len(nodes)))]
        child = copy_decay(decay)
        desc = _mut_decay_node(child, node, kind, rng)
        if desc is not None and integrity.decay_in_range(child):
            return child, desc
    return None
