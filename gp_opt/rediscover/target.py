"""The optimizer to rediscover: a catalog name or a genome file, read in the search grammar, and
whether that grammar can express it at all (a search can only find what it can draw)."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

from gp_opt.errors import GpOptError
from gp_opt.genome import OUTPUT, OptimizerGenome
from gp_opt.grammar import Grammar


@dataclass
class Target:
    """``genome`` in the search grammar ``grammar`` (``grammar_path`` None: the target's own
    grammar, default or paper); ``label`` how the user named it."""

    label: str
    genome: OptimizerGenome
    grammar: Grammar
    grammar_path: str | None


def _read(spec: str) -> OptimizerGenome:
    from gp_opt import catalog

    if os.path.exists(spec) or spec.endswith(".json") or os.sep in spec:
        if not os.path.isfile(spec):
            raise GpOptError(f"target {spec!r}: no such genome file")
        return catalog.load_file(spec)
    return catalog.get(spec)   # GpOptError naming the close catalog names if unknown


def resolve(spec: str, grammar: str | os.PathLike | None = None) -> Target:
    """The target ``spec`` (catalog name or genome file) read in the search grammar: ``grammar``
    (a grammar file) if given, else the target's own. Raises :class:`GpOptError` (one line) if the
    target is unknown or unreadable, or if the grammar cannot express it (:func:`unexpressible`),
    naming the nearest expressible form when one is found."""
    from gp_opt import grammar as grammar_mod

    if not isinstance(spec, str) or not spec.strip():
        raise GpOptError("target: give a catalog name (e.g. Adam) or a genome file")
    genome = _read(spec)
    if grammar is not None:
        g = grammar_mod.load(grammar)
        try:
            data = genome.to_dict()
            data["grammar"] = g.name
            genome = OptimizerGenome.from_dict(data, g)
        except GpOptError as exc:
            raise GpOptError(f"target {spec!r} cannot be read in grammar {str(grammar)!r}: {exc}") from None
    problems = unexpressible(genome)
    if problems:
        hint = nearest_expressible(genome)
        near = (f"; the nearest expressible form is U = {hint[0]} (behavioural distance {hint[1]:.3g})"
                if hint is not None else "")
        raise GpOptError(f"target {spec!r}: grammar {genome.grammar.name!r} cannot express it: "
                         f"{'; '.join(problems)}{near}")
    return Target(spec, genome, genome.grammar, None if grammar is None else str(grammar))


def _active(genome: OptimizerGenome) -> tuple[set[str], list[tuple[str, str, list]]]:
    """The active operands and inner nodes ``(node, op, [(source, decay)])`` of ``genome``."""
    graph = genome.graph
    operands: set[str] = set()
    nodes = []
    stack, seen = [OUTPUT], {OUTPUT}
    while stack:
        node = stack.pop()
        ins = genome.input_edges(node)
        nodes.append((node, graph.nodes[node].get("op"), ins))
        for src, _ in ins:
            if graph.nodes[src].get("kind") == "operand":
                operands.add(src)
            elif src not in seen:
                seen.add(src)
                stack.append(src)
    return operands, nodes


def unexpressible(genome: OptimizerGenome) -> list[str]:
    """Why a search in ``genome.grammar`` can never draw ``genome`` (empty: it can): an operand,
    op, schedule or momentum type the grammar does not list or gives weight 0 (never drawn), or
    more inner nodes than the grammar's graphs have."""
    grammar = genome.grammar
    out = []
    operands, nodes = _active(genome)
    for name in sorted(operands):
        if grammar.operands[name].weight <= 0:
            out.append(f"operand {name} has weight 0 (never drawn)")
    allowed = set(grammar.update_unary) | set(grammar.update_binary)
    for node, op, ins in nodes:
        if op not in allowed:
            out.append(f"node {node}: op {op} is not an update op")
        elif grammar.ops[op].weight <= 0:
            out.append(f"node {node}: op {op} has weight 0 (never drawn)")
        for src, dec in ins:
            if dec is None:
                continue
            for n, a in dec.graph.nodes(data=True):
                if a.get("kind") == "schedule" and n in grammar.schedules and grammar.schedules[n].weight <= 0 \
                        and dec.graph.out_degree(n) > 0:
                    out.append(f"decay on {src} -> {node}: schedule {n} has weight 0 (never drawn)")
    if genome.momentum not in grammar.momentum:
        out.append(f"momentum {genome.momentum!r} is not one of the grammar's")
    inner = len(nodes)
    if inner > grammar.hidden_nodes + 1:
        out.append(f"{inner} inner nodes, the grammar's graphs have {grammar.hidden_nodes + 1}")
    return out


def nearest_expressible(genome: OptimizerGenome) -> tuple[str, float] | None:
    """The behaviourally nearest genome made by replacing each operand the grammar never draws by
    one it does (every single replacement tried, the closest kept in turn), as ``(equation,
    distance)``; None when that does not make it expressible (an op or the node count is the
    problem). Cheap: a few dozen candidates on the search panel."""
    from gp_opt import behaviour, symbolic

    grammar = genome.grammar
    drawable, _ = grammar.operand_weights()
    current = genome
    operands, _ = _active(genome)
    for name in sorted(operands):
        if grammar.operands[name].weight > 0:
            continue
        options = []
        for other in drawable:
            if other in operands:
                continue
            data = current.to_dict()
            for spec in data["nodes"].values():
                spec["inputs"] = [other if i == name else
                                  ({**i, "from": other} if isinstance(i, dict) and i.get("from") == name else i)
                                  for i in spec["inputs"]]
            try:
                options.append(OptimizerGenome.from_dict(data, grammar))
            except GpOptError:
                continue
        if not options:
            return None
        d = behaviour.distance(options, genome)
        best = int(d.argmin())
        if not math.isfinite(d[best]):
            return None
        current = options[best]
    if current is genome or unexpressible(current):
        return None
    dist = float(behaviour.distance([current], genome)[0])
    try:
        text = str(symbolic.to_sympy(current))
    except Exception:  # noqa: BLE001 - the hint is best-effort
        text = current.to_json()
    return text, dist


def target_record(target: Target) -> dict[str, Any]:
    """What a rediscovery directory records of its target (JSON)."""
    return {"label": target.label, "genome": target.genome.to_dict(), "grammar": target.grammar.name,
            "grammar_path": target.grammar_path}
