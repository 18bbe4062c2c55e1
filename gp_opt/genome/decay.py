"""A decay function: a small DAG over the grammar's schedules, evaluated over the steps."""
from __future__ import annotations

from typing import Any, Iterable

import networkx as nx
import numpy as np
import torch

from gp_opt.errors import GenomeError, GpOptError
from gp_opt.grammar import Grammar
from gp_opt.genome.limits import NODES_FACTOR, OUTPUT, echo
from gp_opt.genome.graph import GenomeGraph, weighted_choice, grammar_or_default, hidden_name
from gp_opt.renderers import render
from gp_opt.genome.fields import add_inner_nodes, bad_input, node_spec, nodes_field


class DecayGenome(GenomeGraph):
    """A decay function d(t): a small DAG over the schedules, valid when 0 <= d(t) <= 1.

    >>> import numpy as np
    >>> d = DecayGenome.random(np.random.default_rng(1))
    >>> v = d.values(100)
    >>> bool(((v >= 0) & (v <= 1)).all())
    True
    """

    _leaf_kind = "schedule"

    def __init__(self, graph: nx.DiGraph, grammar: Grammar | None = None):
        self.graph = graph
        self.grammar = grammar_or_default(grammar)

    def _repr_latex_(self) -> str | None:
        """``d(t) = ...`` with the schedules named (Jupyter shows it instead of the repr)."""
        return render("decay_latex", self)

    # ---------------------------------------------------------------- construction
    @classmethod
    def empty(cls, grammar: Grammar | None = None) -> "DecayGenome":
        grammar = grammar_or_default(grammar)
        graph = nx.DiGraph()
        for name in grammar.schedules:
            graph.add_node(name, kind="schedule")
        return cls(graph, grammar)

    @classmethod
    def from_nodes(cls, nodes: dict[str, tuple[str, list[str]]],
                   grammar: Grammar | None = None) -> "DecayGenome":
        """Build from ``{node: (op, [inputs])}``; raises GenomeError if invalid."""
        decay = cls.empty(grammar)
        for node, (op, ins) in nodes.items():
            decay.graph.add_node(node, kind="output" if node == OUTPUT else "hidden", op=op)
        for node, (op, ins) in nodes.items():
            for src in ins:
                if src not in decay.graph:
                    raise GenomeError(f"decay function: node {node!r}: unknown input {echo(src)}")
            decay.set_inputs(node, list(ins))
        decay.validate()
        return decay

    @classmethod
    def random(cls, rng: np.random.Generator, grammar: Grammar | None = None,
               hidden_nodes: int | None = None) -> "DecayGenome":
        """Draw a valid decay function (SPEC section 4), redrawing until 0 <= d(t) <= 1."""
        grammar = grammar_or_default(grammar)
        n_hidden = hidden_nodes or grammar.decay_hidden_nodes
        for _ in range(grammar.decay_max_init_tries):
            decay = cls._draw(rng, grammar, n_hidden)
            if decay.in_range():
                return decay
        raise GpOptError(f"grammar {grammar.name!r}: no valid decay function in "
                         f"{grammar.decay_max_init_tries} draws")

    @classmethod
    def _draw(cls, rng, grammar: Grammar, n_hidden: int) -> "DecayGenome":
        leaves, weights = grammar.schedule_weights()
        hidden = [hidden_name(k) for k in range(n_hidden)]
        p_unary = grammar.decay_init["unary"]
        while True:
            nodes = {}
            for k, node in enumerate(hidden + [OUTPUT]):
                unary = rng.random() < p_unary
                op = weighted_choice(rng, list(grammar.decay_unary if unary else grammar.decay_binary))
                ins: list[str] = []
                for pos in range(1 if unary else 2):
                    while True:
                        if node == OUTPUT and pos == 0 and rng.random() < grammar.decay_init["output_takes_hidden"]:
                            src = weighted_choice(rng, hidden)
                        elif node == OUTPUT:
                            pool = leaves + hidden
                            src = weighted_choice(rng, pool)
                        else:
                            others = [h for h in hidden if h != node]
                            if others and rng.random() >= 0.8:
                                src = weighted_choice(rng, others)
                            else:
                                src = weighted_choice(rng, leaves, weights)
                        if src not in ins:
                            break
                    ins.append(src)
                nodes[node] = (op, ins)
            decay = cls.empty(grammar)
            for node, (op, _) in nodes.items():
                decay.graph.add_node(node, kind="output" if node == OUTPUT else "hidden", op=op)
            for node, (_, ins) in nodes.items():
                decay.set_inputs(node, ins)
            if nx.is_directed_acyclic_graph(decay.graph):
                return decay

    # ---------------------------------------------------------------- meaning
    def values(self, total_steps: int, steps: Iterable[int] | None = None,
               dtype=torch.float64) -> torch.Tensor:
        """d(t) for t in ``steps`` (default 0..total_steps-1) with T = total_steps."""
        ts = torch.arange(total_steps, dtype=dtype) if steps is None else torch.as_tensor(list(steps), dtype=dtype)
        cache: dict[str, torch.Tensor] = {}

        def value(node: str) -> torch.Tensor:
            if node not in cache:
                if self.is_leaf(node):
                    v = self.grammar.schedules[node].torch(ts, float(total_steps))
                    cache[node] = torch.as_tensor(v, dtype=dtype).expand_as(ts)
                else:
                    op = self.grammar.ops[self.op(node)]
                    cache[node] = torch.as_tensor(op.torch(*(value(s) for s in self.inputs(node))),
                                                  dtype=dtype).expand_as(ts)
            return cache[node]

        with torch.no_grad():
            return value(OUTPUT)

    def in_range(self) -> bool:
        """SPEC section 4's check: 0 <= d(t) <= 1 for every t < check_steps, T = check_steps."""
        with np.errstate(all="ignore"):
            v = self.values(self.grammar.decay_check_steps)
        return bool(torch.isfinite(v).all() and (v >= 0).all() and (v <= 1).all())

    def validate(self, where: str = "decay function") -> None:
        self._check_structure(where, self.grammar.decay_unary, self.grammar.decay_binary)
        if not self.in_range():
            v = self.values(self.grammar.decay_check_steps)
            raise GenomeError(f"{where}: d(t) leaves [0, 1] (min {float(v.min()):.4g}, "
                              f"max {float(v.max()):.4g} over t < {self.grammar.decay_check_steps})")

    # ---------------------------------------------------------------- data
    def to_dict(self) -> dict[str, Any]:
        return {"nodes": {n: {"op": self.op(n), "inputs": self.inputs(n)} for n in self.inner_nodes()}}

    @classmethod
    def from_dict(cls, data: Any, grammar: Grammar | None = None,
                  where: str = "decay function") -> "DecayGenome":
        grammar = grammar_or_default(grammar)
        nodes = nodes_field(data, where, NODES_FACTOR * max(grammar.decay_hidden_nodes, 1))
        decay = cls.empty(grammar)
        parsed = {}
        for node, spec in nodes.items():
            op, ins = node_spec(spec, f"{where}: node {node!r}")
            parsed[node] = (op, [i if isinstance(i, str) else bad_input(i, where, node) for i in ins])
        add_inner_nodes(decay, parsed, where)
        for node, (_, ins) in parsed.items():
            for src in ins:
                if src not in decay.graph:
                    raise GenomeError(f"{where}: node {node!r}: unknown input {echo(src)}")
            if len(set(ins)) != len(ins):
                raise GenomeError(f"{where}: node {node!r}: the two inputs must differ")
            decay.set_inputs(node, ins)
        decay.validate(where)
        return decay

    def copy(self) -> "DecayGenome":
        return DecayGenome(self.graph.copy(), self.grammar)

    def __deepcopy__(self, memo) -> "DecayGenome":
        return self.copy()  # the grammar is immutable and shared, never copied

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DecayGenome) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"DecayGenome({self.to_dict()['nodes']})"
