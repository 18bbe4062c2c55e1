"""Genomes: an optimizer's update equation as a NASNet-style DAG, with decay functions on edges.

Both graphs are :class:`networkx.DiGraph`. Leaves are operands (update graph) or schedules
(decay graph); inner nodes are the hidden nodes ``h0, h1, ...`` and the output node ``out``,
each with an ``op`` attribute. An edge ``src -> dst`` carries ``pos`` (which argument of
``dst`` it feeds) and, in the update graph, ``decay`` (a :class:`DecayGenome` or None) that
multiplies the value flowing along it.

>>> import numpy as np
>>> g = OptimizerGenome.random(np.random.default_rng(0))
>>> OptimizerGenome.from_json(g.to_json()) == g
True
"""
from __future__ import annotations

import json
import re
from typing import Any, Iterable

import networkx as nx
import numpy as np
import torch

from gp_opt import grammar as grammar_mod
from gp_opt.errors import GenomeError, GpOptError
from gp_opt.grammar import Grammar

SCHEMA_VERSION = 1
OUTPUT = "out"
_HIDDEN = re.compile(r"^h\d+$")
_MAX_REDRAWS = 10_000

# Limits of a genome file (a genome is a few hundred bytes; these stop a damaged or hostile file
# long before it can exhaust memory or recursion). The node limits are a multiple of the
# grammar's: mutation never adds nodes, the margin keeps hand-written genomes loadable.
MAX_JSON_CHARS = 1_000_000
MAX_JSON_DEPTH = 32
MAX_INT_DIGITS = 30
MAX_NAME_CHARS = 12
NODES_FACTOR = 4
ECHO_CHARS = 40


def echo(value: Any, limit: int = ECHO_CHARS) -> str:
    """``repr(value)`` cut to ``limit`` characters, so an error never prints a huge value.

    >>> echo("x" * 1000)
    "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx... (1002 characters)"
    """
    text = repr(value) if not isinstance(value, (dict, list)) or len(value) < 50 else \
        f"<{type(value).__name__} of {len(value)} items>"
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


def _reject_constant(name: str) -> Any:
    raise GenomeError(f"{name} is not a JSON number (NaN and Infinity are not allowed)")


def _parse_float(text: str) -> float:
    if len(text) > 64:
        raise GenomeError(f"number of {len(text)} characters")
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise GenomeError(f"number {echo(text)} overflows a float")
    return value


def _parse_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise GenomeError(f"integer of {len(digits)} digits (at most {MAX_INT_DIGITS})")
    return int(digits)


def _depth(obj: Any) -> int:
    """Nesting depth of parsed JSON, without recursion."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        item, d = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, d)
            if d > MAX_JSON_DEPTH:
                return d
            stack.extend((v, d + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def parse_json(text: str | bytes, where: str = "genome") -> Any:
    """Genome JSON parsed with limits: size, nesting depth, integer digits, no NaN/Infinity.

    Every violation is a :class:`GenomeError` naming ``where``.

    >>> parse_json('{"sign": NaN}')
    Traceback (most recent call last):
    ...
    gp_opt.errors.GenomeError: genome: NaN is not a JSON number (NaN and Infinity are not allowed)
    """
    if len(text) > MAX_JSON_CHARS:
        raise GenomeError(f"{where}: {len(text)} characters; a genome file holds at most "
                          f"{MAX_JSON_CHARS}")
    try:
        data = json.loads(text, parse_constant=_reject_constant, parse_int=_parse_int,
                          parse_float=_parse_float)
    except GenomeError as exc:
        raise GenomeError(f"{where}: {exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise GenomeError(f"{where}: malformed JSON: {echo(str(exc), 120)}") from None
    except RecursionError:
        raise GenomeError(f"{where}: JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:  # e.g. a huge float exponent the decoder refuses
        raise GenomeError(f"{where}: malformed JSON: {echo(str(exc), 120)}") from None
    if _depth(data) > MAX_JSON_DEPTH:
        raise GenomeError(f"{where}: JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return data


def _grammar(grammar: Grammar | None) -> Grammar:
    return grammar if grammar is not None else grammar_mod.load()


def _choice(rng: np.random.Generator, items: list[str], weights: list[float] | None = None) -> str:
    if weights is None:
        return items[int(rng.integers(len(items)))]
    p = np.asarray(weights, dtype=float)
    return items[int(rng.choice(len(items), p=p / p.sum()))]


def hidden_name(k: int) -> str:
    return f"h{k}"


class _Graph:
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


class DecayGenome(_Graph):
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
        self.grammar = _grammar(grammar)

    # ---------------------------------------------------------------- construction
    @classmethod
    def empty(cls, grammar: Grammar | None = None) -> "DecayGenome":
        grammar = _grammar(grammar)
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
        grammar = _grammar(grammar)
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
                op = _choice(rng, list(grammar.decay_unary if unary else grammar.decay_binary))
                ins: list[str] = []
                for pos in range(1 if unary else 2):
                    while True:
                        if node == OUTPUT and pos == 0 and rng.random() < grammar.decay_init["output_takes_hidden"]:
                            src = _choice(rng, hidden)
                        elif node == OUTPUT:
                            pool = leaves + hidden
                            src = _choice(rng, pool)
                        else:
                            others = [h for h in hidden if h != node]
                            if others and rng.random() >= 0.8:
                                src = _choice(rng, others)
                            else:
                                src = _choice(rng, leaves, weights)
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
        grammar = _grammar(grammar)
        nodes = _nodes_field(data, where, NODES_FACTOR * max(grammar.decay_hidden_nodes, 1))
        decay = cls.empty(grammar)
        parsed = {}
        for node, spec in nodes.items():
            op, ins = _node_spec(spec, f"{where}: node {node!r}")
            parsed[node] = (op, [i if isinstance(i, str) else _bad_input(i, where, node) for i in ins])
        _add_inner(decay, parsed, where)
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


class OptimizerGenome(_Graph):
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
        self.grammar = _grammar(grammar)
        self.meta = dict(meta or {})

    # ---------------------------------------------------------------- construction
    @classmethod
    def empty(cls, grammar: Grammar | None = None, momentum: str = "none",
              sign: int = 1) -> "OptimizerGenome":
        grammar = _grammar(grammar)
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
        grammar = _grammar(grammar)
        n_hidden = hidden_nodes or grammar.hidden_nodes
        hidden = [hidden_name(k) for k in range(n_hidden)]
        operands, weights = grammar.operand_weights()
        init = grammar.update_init
        unary_others = [o for o in grammar.update_unary if o != "identity"]
        unary_w = [grammar.ops[o].weight for o in unary_others]
        binary = list(grammar.update_binary)
        binary_w = [grammar.ops[o].weight for o in binary]
        momentum = _choice(rng, list(grammar.momentum))
        for _ in range(_MAX_REDRAWS):
            genome = cls.empty(grammar, momentum)
            wiring = []
            for node in hidden + [OUTPUT]:
                out = node == OUTPUT
                unary = rng.random() < (init["output_unary"] if out else init["hidden_unary"])
                if unary:
                    op = ("identity" if "identity" in grammar.update_unary and rng.random() < init["identity"]
                          else _choice(rng, unary_others, unary_w))
                else:
                    op = _choice(rng, binary, binary_w)
                others = [h for h in hidden if h != node]
                ins: list[str] = []
                for pos in range(1 if unary else 2):
                    while True:
                        if out and unary:
                            src = _choice(rng, hidden)
                        elif others and rng.random() >= init["operand_input"]:
                            src = _choice(rng, others)
                        else:
                            src = _choice(rng, operands, weights)
                        if src not in ins:
                            break
                    ins.append(src)
                if out and not unary and not any(s in hidden for s in ins):
                    pos = int(rng.integers(2))
                    ins[pos] = _choice(rng, [h for h in hidden if h not in ins])
                decays = [DecayGenome.random(rng, grammar) if rng.random() < init["decay_edge"] else None
                          for _ in ins]
                genome.graph.add_node(node, kind="output" if out else "hidden", op=op)
                wiring.append((node, ins, decays))
            for node, ins, decays in wiring:
                genome.set_inputs(node, ins, decays)
            if nx.is_directed_acyclic_graph(genome.graph):
                return genome
        raise GpOptError(f"grammar {grammar.name!r}: no acyclic graph in {_MAX_REDRAWS} draws")

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
        return cls._from_spec(spec, momentum, sign, _grammar(grammar), meta or {}, "genome")

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
        grammar = _grammar(grammar)
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
        nodes = _nodes_field({"nodes": nodes}, where, NODES_FACTOR * max(grammar.hidden_nodes, 1))
        genome = cls.empty(grammar, momentum, sign)
        genome.meta = dict(meta)
        parsed = {}
        for node, spec in nodes.items():
            op, ins = _node_spec(spec, f"{where}: node {node!r}")
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
                    _bad_input(i, where, node)
            parsed[node] = (op, srcs, decays)
        _add_inner(genome, {n: (op, s) for n, (op, s, _) in parsed.items()}, where)
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


def _nodes_field(data: Any, where: str, max_hidden: int | None = None) -> dict:
    if not isinstance(data, dict) or "nodes" not in data:
        raise GenomeError(f"{where}: missing field 'nodes'")
    nodes = data["nodes"]
    if not isinstance(nodes, dict) or not nodes:
        raise GenomeError(f"{where}: field 'nodes' must be a non-empty object")
    if max_hidden is not None and len(nodes) - 1 > max_hidden:
        raise GenomeError(f"{where}: {len(nodes) - 1} hidden nodes; this grammar allows at most "
                          f"{max_hidden} ({NODES_FACTOR} x its hidden_nodes)")
    for node in nodes:
        if node != OUTPUT and (len(node) > MAX_NAME_CHARS or not _HIDDEN.match(str(node))):
            raise GenomeError(f"{where}: node name {echo(node)} must be 'out' or 'h<k>' "
                              f"(at most {MAX_NAME_CHARS} characters)")
    if OUTPUT not in nodes:
        raise GenomeError(f"{where}: no output node {OUTPUT!r}")
    return nodes


def _node_spec(spec: Any, where: str) -> tuple[str, list]:
    if not isinstance(spec, dict):
        raise GenomeError(f"{where}: expected an object with 'op' and 'inputs'")
    op, ins = spec.get("op"), spec.get("inputs")
    if not isinstance(op, str):
        raise GenomeError(f"{where}: missing or non-string field 'op'")
    if not isinstance(ins, list):
        raise GenomeError(f"{where}: missing or non-list field 'inputs'")
    return op, ins


def _bad_input(item: Any, where: str, node: str):
    raise GenomeError(f"{where}: node {node!r}: input {echo(item)} must be a name or "
                      "{'from': name, 'decay': {...}}")


def _add_inner(genome: _Graph, parsed: dict[str, tuple[str, list]], where: str) -> None:
    for node, (op, ins) in parsed.items():
        if op not in genome.grammar.ops:
            raise GenomeError(f"{where}: node {node!r}: unknown op {echo(op)} (not in grammar "
                              f"{genome.grammar.name!r})")
        if genome.grammar.ops[op].arity != len(ins):
            raise GenomeError(f"{where}: node {node!r}: op {op!r} takes "
                              f"{genome.grammar.ops[op].arity} input(s), got {len(ins)}")
        genome.graph.add_node(node, kind="output" if node == OUTPUT else "hidden", op=op)
