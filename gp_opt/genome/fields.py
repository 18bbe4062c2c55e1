"""Parsing a genome file's node fields into graph nodes, with an error that names the node."""
from __future__ import annotations

from typing import Any


from gp_opt.errors import GenomeError
from gp_opt.genome.limits import MAX_NAME_CHARS, NODES_FACTOR, OUTPUT, HIDDEN_NAME, echo
from gp_opt.genome.graph import GenomeGraph


def nodes_field(data: Any, where: str, max_hidden: int | None = None) -> dict:
    if not isinstance(data, dict) or "nodes" not in data:
        raise GenomeError(f"{where}: missing field 'nodes'")
    nodes = data["nodes"]
    if not isinstance(nodes, dict) or not nodes:
        raise GenomeError(f"{where}: field 'nodes' must be a non-empty object")
    if max_hidden is not None and len(nodes) - 1 > max_hidden:
        raise GenomeError(f"{where}: {len(nodes) - 1} hidden nodes; this grammar allows at most "
                          f"{max_hidden} ({NODES_FACTOR} x its hidden_nodes)")
    for node in nodes:
        if node != OUTPUT and (len(node) > MAX_NAME_CHARS or not HIDDEN_NAME.fullmatch(str(node))):
            raise GenomeError(f"{where}: node name {echo(node)} must be 'out' or 'h<k>' "
                              f"(at most {MAX_NAME_CHARS} characters)")
    if OUTPUT not in nodes:
        raise GenomeError(f"{where}: no output node {OUTPUT!r}")
    return nodes


def node_spec(spec: Any, where: str) -> tuple[str, list]:
    if not isinstance(spec, dict):
        raise GenomeError(f"{where}: expected an object with 'op' and 'inputs'")
    op, ins = spec.get("op"), spec.get("inputs")
    if not isinstance(op, str):
        raise GenomeError(f"{where}: missing or non-string field 'op'")
    if not isinstance(ins, list):
        raise GenomeError(f"{where}: missing or non-list field 'inputs'")
    return op, ins


def bad_input(item: Any, where: str, node: str):
    raise GenomeError(f"{where}: node {node!r}: input {echo(item)} must be a name or "
                      "{'from': name, 'decay': {...}}")


def add_inner_nodes(genome: GenomeGraph, parsed: dict[str, tuple[str, list]], where: str) -> None:
    for node, (op, ins) in parsed.items():
        if op not in genome.grammar.ops:
            raise GenomeError(f"{where}: node {node!r}: unknown op {echo(op)} (not in grammar "
                              f"{genome.grammar.name!r})")
        if genome.grammar.ops[op].arity != len(ins):
            raise GenomeError(f"{where}: node {node!r}: op {op!r} takes "
                              f"{genome.grammar.ops[op].arity} input(s), got {len(ins)}")
        genome.graph.add_node(node, kind="output" if node == OUTPUT else "hidden", op=op)
