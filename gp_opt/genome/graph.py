"""What both graphs share: the grammar they draw from, hidden node names, the networkx DAG and its active part."""
from __future__ import annotations

from typing import Any

import networkx as nx
import numpy as np

from gp_opt import grammar as grammar_mod
from gp_opt.errors import GenomeError
from gp_opt.grammar import Grammar
from gp_opt.genome.limits import OUTPUT, echo


def grammar_or_default(grammar: Grammar | None) -> Grammar:
    return grammar if grammar is not None else grammar_mod.load()


def weighted_choice(rng: np.random.Generator, items: list[str], weights: list[float] | None = None) -> str:
    if weights is None:
        return items[int(rng.integers(len(items)))]
    p = np.asarray(weights, dtype=float)
    return items[int(rng.choice(len(items), p=p / p.sum()))]


def hidden_name(k: int) -> str:
    return f"h{k}"


class GenomeGraph:
    """What the update graph and the decay graph share: inner nodes with ordered inputs."""

    graph: nx.DiGraph
    grammar: Grammar
    _leaf_kind: str

    def inner_nodes(self) -> list[str]:
        """Hidden nodes in numeric order, then the output node."""
        hidden = [n for n, k in self.graph.nodes(data="kind") if k == "hidden"]
        return sorted(hidden, key=lambda n: int(n[1:])) + [OUTPUT]

    def hidden_nodes(self) -> list[str]:
        return self.inner_nodes()[:-1]

    def op(self, node: str) -> str:
        return self.graph.nodes[node]["op"]

    def inputs(self, node: str) -> list[str]:
        """The node's inputs in argument order."""
        preds = sorted(self.graph.in_edges(node, data="pos"), key=lambda e: e[2])
        return [src for src, _, _ in preds]

    def is_leaf(self, node: str) -> bool:
        return self.graph.nodes[node]["kind"] == self._leaf_kind

    def active_nodes(self) -> set[str]:
        """Nodes whose value reaches the output (the output included)."""
        return nx.ancestors(self.graph, OUTPUT) | {OUTPUT}

    def active_inner_nodes(self) -> list[str]:
        """Active hidden nodes and the output, in an order where inputs come first."""
        # lexicographic: a plain topological sort of a subgraph view follows the iteration order of
        # the node set, which changes with Python's string hashing from one process to the next
        # (and with it the numbering of the decay functions d_k in every printed equation)
        order = nx.lexicographical_topological_sort(self.graph.subgraph(self.active_nodes()))
        return [n for n in order if not self.is_leaf(n)]

    def set_op(self, node: str, op: str) -> None:
        self.graph.nodes[node]["op"] = op

    def set_inputs(self, node: str, sources: list[str], decays: list | None = None) -> None:
        """Replace the node's inputs (and, in the update graph, their decay functions)."""
        for src in list(self.graph.predecessors(node)):
            self.graph.remove_edge(src, node)
        for pos, src in enumerate(sources):
            attrs: dict[str, Any] = {"pos": pos}
            if self._leaf_kind == "operand":
                attrs["decay"] = decays[pos] if decays else None
            self.graph.add_edge(src, node, **attrs)

    def _check_structure(self, where: str, unary: tuple, binary: tuple) -> None:
        nodes = self.graph.nodes
        if OUTPUT not in nodes or nodes[OUTPUT].get("kind") != "output":
            raise GenomeError(f"{where}: no output node {OUTPUT!r}")
        for node in self.inner_nodes():
            op = nodes[node].get("op")
            if op not in self.grammar.ops:
                raise GenomeError(f"{where}: node {node!r}: unknown op {echo(op)} "
                                  f"(not in grammar {self.grammar.name!r})")
            if op not in unary and op not in binary:
                raise GenomeError(f"{where}: node {node!r}: op {op!r} is not allowed in this graph")
            arity = self.grammar.ops[op].arity
            ins = sorted(self.graph.in_edges(node, data="pos"), key=lambda e: e[2])
            if len(ins) != arity:
                raise GenomeError(f"{where}: node {node!r}: op {op!r} takes {arity} input(s), "
                                  f"has {len(ins)}")
            if [p for _, _, p in ins] != list(range(arity)):
                raise GenomeError(f"{where}: node {node!r}: input positions {[p for _, _, p in ins]}")
        for src, dst in self.graph.edges:
            if dst == src:
                raise GenomeError(f"{where}: node {dst!r} takes itself as input")
            if src == OUTPUT:
                raise GenomeError(f"{where}: the output node cannot feed node {dst!r}")
            if self.is_leaf(dst):
                raise GenomeError(f"{where}: leaf {dst!r} cannot take an input")
        if not nx.is_directed_acyclic_graph(self.graph):
            cycle = " -> ".join(src for src, _ in nx.find_cycle(self.graph))
            raise GenomeError(f"{where}: the graph has a cycle ({cycle})")
