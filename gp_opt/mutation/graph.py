"""What every mutation kind draws on: the kinds' probabilities, weighted picks, copies of genomes, reachability in a graph."""
from __future__ import annotations

from typing import Mapping

import networkx as nx
import numpy as np

from gp_opt.errors import GpOptError
from gp_opt.genome import OUTPUT, DecayGenome, OptimizerGenome
from gp_opt.genome.graph import GenomeGraph
from gp_opt.grammar import Grammar


KINDS = ("op", "connection", "arity", "momentum", "decay")
DECAY_KINDS = ("decay_op", "decay_connection", "decay_arity")
MAX_REDRAWS = 200


def mutation_probs(grammar: Grammar, probs: Mapping[str, float] | None) -> dict[str, float]:
    p = dict(grammar.mutation)
    if probs:
        unknown = set(probs) - set(p)
        if unknown:
            raise GpOptError(f"mutation: unknown probability name(s) {', '.join(sorted(unknown))}; "
                             f"known: {', '.join(p)}")
        p.update({k: float(v) for k, v in probs.items()})
    for group in (KINDS, DECAY_KINDS):
        if sum(p[k] for k in group) <= 0:
            raise GpOptError(f"mutation: the probabilities {', '.join(group)} are all zero")
    return p


def pick(rng: np.random.Generator, names, weights) -> str:
    """``names[i]`` with probability ``weights[i] / sum(weights)`` (one uniform draw)."""
    u = rng.random() * sum(weights)
    acc = 0.0
    for name, w in zip(names, weights):
        acc += w
        if u < acc and w > 0:
            return name
    return [n for n, w in zip(names, weights) if w > 0][-1]


def _copy_graph(graph: nx.DiGraph) -> nx.DiGraph:
    """A deep-enough copy of a DiGraph (new node and edge attribute dicts), built directly from
    its adjacency dicts: ``DiGraph.copy()`` costs ~20x more and mutation copies on every child."""
    try:
        out = graph.__class__()
        out.graph.update(graph.graph)
        out._node.update((n, dict(a)) for n, a in graph._node.items())
        succ = {n: {v: dict(d) for v, d in nbrs.items()} for n, nbrs in graph._succ.items()}
        pred = {n: {u: succ[u][n] for u in preds} for n, preds in graph._pred.items()}
        out._succ.update(succ)
        out._pred.update(pred)
        return out
    except AttributeError:  # a networkx without these internals: the public, slower way
        return graph.copy()


def copy_decay(dec: DecayGenome) -> DecayGenome:
    return DecayGenome(_copy_graph(dec.graph), dec.grammar)


def copy_genome(genome: OptimizerGenome) -> OptimizerGenome:
    """A copy of the update graph that *shares* the parent's decay-function objects: mutation
    never edits a decay function in place (it replaces it with an edited copy), so children and
    parents can share the ones they have in common. Copying them all would be most of the cost of
    a mutation."""
    return OptimizerGenome(_copy_graph(genome.graph), genome.momentum, genome.sign, genome.grammar,
                           genome.meta)


def weighted_ops(grammar: Grammar, names) -> tuple[list[str], list[float]]:
    names = [n for n in names if grammar.ops[n].weight > 0]
    return names, [grammar.ops[n].weight for n in names]


def is_hidden(graph: GenomeGraph, node: str) -> bool:
    return graph.graph.nodes[node].get("kind") == "hidden"


def _reach(adj: dict, start: str) -> set[str]:
    """Nodes reachable from ``start`` along ``adj`` (a networkx ``_pred`` or ``_succ`` dict)."""
    seen, stack = set(), [start]
    while stack:
        for nxt in adj[stack.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def active_inner(graph: GenomeGraph) -> list[str]:
    """Active inner nodes in the genome's own node order (stable under JSON round trips)."""
    active = _reach(graph.graph._pred, OUTPUT) | {OUTPUT}
    return [n for n in graph.inner_nodes() if n in active]


def descendants(graph: GenomeGraph, node: str) -> set[str]:
    return _reach(graph.graph._succ, node)


def _hidden_pool(graph: GenomeGraph, node: str, exclude: set[str]) -> list[str]:
    """Hidden nodes that may feed ``node`` without making a cycle, minus ``exclude``."""
    banned = descendants(graph, node) | {node, OUTPUT} | exclude
    return [h for h in graph.hidden_nodes() if h not in banned]


def draw_update_source(child: OptimizerGenome, node: str, rng, exclude: set[str],
                        hidden_only: bool) -> str | None:
    grammar = child.grammar
    hidden = _hidden_pool(child, node, exclude)
    names, weights = grammar.operand_weights()
    operands = [(n, w) for n, w in zip(names, weights) if n not in exclude]
    if hidden_only:
        operands = []
    use_operand = bool(operands) and (not hidden or rng.random() < grammar.update_init["operand_input"])
    if use_operand:
        return pick(rng, [n for n, _ in operands], [w for _, w in operands])
    if hidden:
        return hidden[int(rng.integers(len(hidden)))]
    return None


def random_unary(grammar: Grammar, rng, exclude: str | None = None) -> str | None:
    names, weights = weighted_ops(grammar, [o for o in grammar.update_unary if o != exclude])
    if not names:
        return None
    p_id = grammar.update_init["identity"]
    if "identity" in names and len(names) > 1:
        if rng.random() < p_id:
            return "identity"
        k = names.index("identity")
        names, weights = names[:k] + names[k + 1:], weights[:k] + weights[k + 1:]
    return pick(rng, names, weights)


def swap_op(graph: GenomeGraph, node: str, unary: list[str], binary: list[str], rng) -> str | None:
    """The op kind on any graph: ``node``'s op -> another of the same arity, by grammar weight."""
    grammar = graph.grammar
    cur = graph.op(node)
    pool = unary if grammar.ops[cur].arity == 1 else binary
    names, weights = weighted_ops(grammar, [o for o in pool if o != cur])
    if not names:
        return None
    new = pick(rng, names, weights)
    graph.set_op(node, new)
    return f"op {node}: {cur} -> {new}"
