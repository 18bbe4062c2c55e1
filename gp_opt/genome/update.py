"""The update equation's DAG: operands, ops, decay functions on edges, momentum and sign."""
from __future__ import annotations

import json
from typing import Any

import networkx as nx
import numpy as np

from gp_opt.errors import GenomeError, GpOptError
from gp_opt.grammar import Grammar
from gp_opt.genome.limits import NODES_FACTOR, OUTPUT, SCHEMA_VERSION, MAX_RANDOM_DRAWS, echo, parse_json
from gp_opt.genome.graph import GenomeGraph, weighted_choice, grammar_or_default, hidden_name
from gp_opt.genome.decay import DecayGenome
from gp_opt.renderers import render
from gp_opt.genome.fields import add_inner_nodes, bad_input, node_spec, nodes_field


class OptimizerGenome(GenomeGraph):
    """An optimizer: the update graph, its decay functions, the momentum type and the sign.

    ``sign`` is +1 for ``w <- w - lr*U`` and -1 when the integrity check flipped the update.
    ``meta`` holds free-form descriptive fields (name, notes) kept in the JSON file.
    """

    _leaf_kind = "operand"

    def __init__(self, graph: nx.DiGraph, momentum: str = "none", sign: int = 1,
                 grammar: Grammar | None = None, meta: dict | None = None):
        self.graph = graph
        self.momentum = momentum
        self.sign = sign
        self.grammar = grammar_or_default(grammar)
        self.meta = dict(meta or {})

    # ---------------------------------------------------------------- notebook display
    def _repr_latex_(self) -> str | None:
        """``U = ...`` in the paper's notation (Jupyter shows it instead of the repr)."""
        return render("latex", self)

    def _repr_png_(self) -> bytes | None:
        """The update graph as a PNG (as ``gp-opt plot GENOME --graph`` draws it)."""
        return render("png", self)

    def _repr_svg_(self) -> str | None:
        """The update graph as SVG (the same drawing as :meth:`_repr_png_`, as vectors)."""
        return render("svg", self)

    # ---------------------------------------------------------------- construction
    @classmethod
    def empty(cls, grammar: Grammar | None = None, momentum: str = "none",
              sign: int = 1) -> "OptimizerGenome":
        grammar = grammar_or_default(grammar)
        graph = nx.DiGraph()
        for name in grammar.operands:
            graph.add_node(name, kind="operand")
        return cls(graph, momentum, sign, grammar)

    @classmethod
    def random(cls, rng: np.random.Generator, grammar: Grammar | None = None,
               hidden_nodes: int | None = None) -> "OptimizerGenome":
        """Draw a structurally valid genome with SPEC section 2's probabilities.

        The integrity check (a behavioural filter) is applied by the caller, see
        :mod:`gp_opt.integrity`. The same ``rng`` state gives the same genome.
        """
        grammar = grammar_or_default(grammar)
        n_hidden = hidden_nodes or grammar.hidden_nodes
        hidden = [hidden_name(k) for k in range(n_hidden)]
        operands, weights = grammar.operand_weights()
        init = grammar.update_init
        unary_others = [o for o in grammar.update_unary if o != "identity"]
        unary_w = [grammar.ops[o].weight for o in unary_others]
        binary = list(grammar.update_binary)
        binary_w = [grammar.ops[o].weight for o in binary]
        momentum = weighted_choice(rng, list(grammar.momentum))
        for _ in range(MAX_RANDOM_DRAWS):
            genome = cls.empty(grammar, momentum)
            wiring = []
            for node in hidden + [OUTPUT]:
                out = node == OUTPUT
                unary = rng.random() < (init["output_unary"] if out else init["hidden_unary"])
                if unary:
                    op = ("identity" if "identity" in grammar.update_unary and rng.random() < init["identity"]
                          else weighted_choice(rng, unary_others, unary_w))
                else:
                    op = weighted_choice(rng, binary, binary_w)
                others = [h for h in hidden if h != node]
                ins: list[str] = []
                for pos in range(1 if unary else 2):
                    while True:
                        if out and unary:
                            src = weighted_choice(rng, hidden)
                        elif others and rng.random() >= init["operand_input"]:
                            src = weighted_choice(rng, others)
                        else:
                            src = weighted_choice(rng, operands, weights)
                        if src not in ins:
                            break
                    ins.append(src)
                if out and not unary and not any(s in hidden for s in ins):
                    pos = int(rng.integers(2))
                    ins[pos] = weighted_choice(rng, [h for h in hidden if h not in ins])
                decays = [DecayGenome.random(rng, grammar) if rng.random() < init["decay_edge"] else None
                          for _ in ins]
                genome.graph.add_node(node, kind="output" if out else "hidden", op=op)
                wiring.append((node, ins, decays))
            for node, ins, decays in wiring:
                genome.set_inputs(node, ins, decays)
            if nx.is_directed_acyclic_graph(genome.graph):
                return genome
        raise GpOptError(f"grammar {grammar.name!r}: no acyclic graph in {MAX_RANDOM_DRAWS} draws")

    @classmethod
    def from_nodes(cls, nodes: dict[str, tuple], momentum: str = "none", sign: int = 1,
                   grammar: Grammar | None = None, meta: dict | None = None) -> "OptimizerGenome":
        """Build from ``{node: (op, [input, ...])}``; an input is a name or ``(name, DecayGenome)``.

        >>> sgd = OptimizerGenome.from_nodes({"h0": ("identity", ["g"]), "out": ("identity", ["h0"])})
        >>> sgd.inputs("out")
        ['h0']
        """
        spec = {n: {"op": op, "inputs": [i if isinstance(i, str) else {"from": i[0], "decay": i[1]}
                                         for i in ins]} for n, (op, ins) in nodes.items()}
        return cls._from_spec(spec, momentum, sign, grammar_or_default(grammar), meta or {}, "genome")

    # ---------------------------------------------------------------- structure
    def decay(self, src: str, dst: str) -> DecayGenome | None:
        return self.graph.edges[src, dst].get("decay")

    def input_edges(self, node: str) -> list[tuple[str, DecayGenome | None]]:
        """``[(source, decay or None), ...]`` in argument order."""
        return [(src, self.decay(src, node)) for src in self.inputs(node)]

    def decayed_edges(self, active_only: bool = False) -> list[tuple[str, str, DecayGenome]]:
        active = self.active_nodes() if active_only else None
        return [(s, d, dec) for s, d, dec in self.graph.edges(data="decay")
                if dec is not None and (active is None or d in active)]

    def active_operands(self) -> list[str]:
        active = self.active_nodes()
        return [n for n in self.grammar.operands if n in active]

    def validate(self) -> None:
        """Raise :class:`GenomeError` naming what is wrong; return None if the genome is valid."""
        if self.momentum not in self.grammar.momentum:
            raise GenomeError(f"genome: momentum {echo(self.momentum)} is not one of {', '.join(self.grammar.momentum)}")
        if self.sign not in (1, -1):
            raise GenomeError(f"genome: sign must be 1 or -1, got {self.sign!r}")
        self._check_structure("genome", self.grammar.update_unary, self.grammar.update_binary)
        if not any(self.graph.nodes[s]["kind"] == "hidden" for s in self.inputs(OUTPUT)):
            raise GenomeError("genome: the output node must take at least one hidden node as input")
        for node in self.inner_nodes():
            for src, dec in self.input_edges(node):
                if dec is not None:
                    dec.validate(f"genome: decay function on edge {src} -> {node}")
        for node in self.inner_nodes():
            ins = self.inputs(node)
            if len(set(ins)) != len(ins):
                raise GenomeError(f"genome: node {node!r}: the two inputs must differ")

    # ---------------------------------------------------------------- data
    def to_dict(self) -> dict[str, Any]:
        nodes = {}
        for node in self.inner_nodes():
            ins = [src if dec is None else {"from": src, "decay": dec.to_dict()}
                   for src, dec in self.input_edges(node)]
            nodes[node] = {"op": self.op(node), "inputs": ins}
        out: dict[str, Any] = {"schema": SCHEMA_VERSION, "grammar": self.grammar.name,
                               "momentum": self.momentum, "sign": self.sign, "nodes": nodes}
        if self.meta:
            out["meta"] = self.meta
        return out

    def to_json(self, indent: int | None = None) -> str:
        """Strict JSON (never a bare ``NaN``): a non-finite number in ``meta`` is a GenomeError."""
        try:
            return json.dumps(self.to_dict(), indent=indent, allow_nan=False)
        except ValueError:
            raise GenomeError("genome: field 'meta' holds a NaN or infinite number; JSON has "
                              "neither (store it as a string)") from None

    @classmethod
    def from_dict(cls, data: Any, grammar: Grammar | None = None) -> "OptimizerGenome":
        if not isinstance(data, dict):
            raise GenomeError(f"genome: expected a JSON object, got {type(data).__name__}")
        schema = data.get("schema")
        if type(schema) is not int or schema != SCHEMA_VERSION:
            raise GenomeError(f"genome: field 'schema' is {echo(schema)}, this version reads the "
                              f"integer {SCHEMA_VERSION}")
        grammar = grammar_or_default(grammar)
        if data.get("grammar", grammar.name) != grammar.name:
            raise GenomeError(f"genome: written for grammar {echo(data.get('grammar'))}, "
                              f"loading with {grammar.name!r}")
        for key in ("momentum", "sign", "nodes"):
            if key not in data:
                raise GenomeError(f"genome: missing field {key!r}")
        if type(data["sign"]) is not int or data["sign"] not in (1, -1):
            raise GenomeError(f"genome: sign must be 1 or -1 (an integer), got {echo(data['sign'])}")
        if not isinstance(data["momentum"], str):
            raise GenomeError(f"genome: field 'momentum' must be a string, got {echo(data['momentum'])}")
        meta = data.get("meta", {})
        if not isinstance(meta, dict):
            raise GenomeError("genome: field 'meta' must be an object")
        unknown = sorted(set(data) - {"schema", "grammar", "momentum", "sign", "nodes", "meta"})
        if unknown:
            raise GenomeError(f"genome: unknown field {echo(unknown[0])} (fields: schema, grammar, "
                              f"momentum, sign, nodes, meta)")
        return cls._from_spec(data["nodes"], data["momentum"], data["sign"], grammar, meta, "genome")

    @classmethod
    def _from_spec(cls, nodes: Any, momentum, sign, grammar: Grammar, meta: dict,
                   where: str) -> "OptimizerGenome":
        nodes = nodes_field({"nodes": nodes}, where, NODES_FACTOR * max(grammar.hidden_nodes, 1))
        genome = cls.empty(grammar, momentum, sign)
        genome.meta = dict(meta)
        parsed = {}
        for node, spec in nodes.items():
            op, ins = node_spec(spec, f"{where}: node {node!r}")
            srcs, decays = [], []
            for i in ins:
                if isinstance(i, str):
                    srcs.append(i)
                    decays.append(None)
                elif isinstance(i, dict) and isinstance(i.get("from"), str) and "decay" in i:
                    srcs.append(i["from"])
                    dec = i["decay"]
                    edge = f"{where}: decay function on edge {i['from']} -> {node}"
                    decays.append(dec if isinstance(dec, DecayGenome) or dec is None
                                  else DecayGenome.from_dict(dec, grammar, edge))
                else:
                    bad_input(i, where, node)
            parsed[node] = (op, srcs, decays)
        add_inner_nodes(genome, {n: (op, s) for n, (op, s, _) in parsed.items()}, where)
        for node, (_, srcs, decays) in parsed.items():
            for src in srcs:
                if src not in genome.graph:
                    raise GenomeError(f"{where}: node {node!r}: unknown input {echo(src)} "
                                      f"(not an operand of grammar {grammar.name!r} nor a node)")
            if len(set(srcs)) != len(srcs):
                raise GenomeError(f"{where}: node {node!r}: the two inputs must differ")
            genome.set_inputs(node, srcs, decays)
        genome.validate()
        return genome

    @classmethod
    def from_json(cls, text: str | bytes, grammar: Grammar | None = None) -> "OptimizerGenome":
        """A genome from JSON text, parsed with :func:`parse_json`'s limits."""
        return cls.from_dict(parse_json(text), grammar)

    def copy(self) -> "OptimizerGenome":
        graph = self.graph.copy()
        for s, d, dec in graph.edges(data="decay"):
            if dec is not None:
                graph.edges[s, d]["decay"] = dec.copy()
        return OptimizerGenome(graph, self.momentum, self.sign, self.grammar, self.meta)

    def __deepcopy__(self, memo) -> "OptimizerGenome":
        return self.copy()  # the grammar is immutable and shared, never copied

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OptimizerGenome):
            return NotImplemented
        a, b = self.to_dict(), other.to_dict()
        a.pop("meta", None)
        b.pop("meta", None)
        return a == b

    __hash__ = None  # mutable

    def __repr__(self) -> str:
        body = ", ".join(f"{n}={self.op(n)}({', '.join(self.inputs(n))})" for n in self.inner_nodes())
        flip = ", flipped" if self.sign < 0 else ""
        return f"OptimizerGenome({body}; momentum={self.momentum}{flip})"
