"""Warm starts: known optimizers (catalog names or genome files) in the initial population.

The way Lion's search started from AdamW: ``gp-opt search --init-from Adam,Opt6,best.json`` puts
these genomes into the initial population next to the random ones. They go through the same
integrity check as a random genome (the sign flip it chooses is applied; one that fails is left
out with a note), and then through the same fitness cache, evaluation and log as any candidate;
their log lines carry ``"origin": NAME``.

The resolved genomes are stored in the run's config (``init_from``), so a resumed run rebuilds
the same initial population without reading the files again.

>>> specs = parse_init_from("Adam, Opt6")
>>> specs
['Adam', 'Opt6']
"""
from __future__ import annotations

import sys
from typing import Any, Sequence

from ..errors import GpOptError


def parse_init_from(value: str | Sequence[str] | None) -> list[str]:
    """``"Adam,Opt6"`` or ``["Adam", "Opt6"]`` -> ``["Adam", "Opt6"]`` (empty entries dropped)."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else [p for v in value for p in str(v).split(",")]
    return [s.strip() for s in items if s.strip()]


def _used(genome: Any) -> list[tuple[str, str]]:
    """Every primitive the genome uses: ``[(kind, name)]`` with kind operand, op or schedule."""
    out = []
    for node in genome.active_inner_nodes():
        out.append(("op", genome.op(node)))
        for src, dec in genome.input_edges(node):
            if genome.is_leaf(src):
                out.append(("operand", src))
            if dec is not None:
                for dnode in dec.active_inner_nodes():
                    out.append(("op", dec.op(dnode)))
                    out += [("schedule", s) for s in dec.inputs(dnode) if dec.is_leaf(s)]
    return list(dict.fromkeys(out))


def in_grammar(genome: Any, grammar: Any, what: str) -> Any:
    """``genome`` re-read in ``grammar`` (a warm start or a fixed update crossing grammars): every
    operand, op and schedule it uses must exist in ``grammar`` with the same expression, and its
    momentum type be allowed there; else one :class:`GpOptError` naming the first that does not."""
    from ..genome import OptimizerGenome

    if grammar is None or genome.grammar is grammar:
        return genome
    tables = {"operand": grammar.operands, "op": grammar.ops, "schedule": grammar.schedules}
    mine = {"operand": genome.grammar.operands, "op": genome.grammar.ops, "schedule": genome.grammar.schedules}
    for kind, name in _used(genome):
        theirs = tables[kind].get(name)
        if theirs is None:
            raise GpOptError(f"{what}: the genome (grammar {genome.grammar.name!r}) uses the {kind} {name!r}, "
                             f"which grammar {grammar.name!r} does not have")
        if theirs.expr != mine[kind][name].expr:
            raise GpOptError(f"{what}: the {kind} {name!r} means {mine[kind][name].expr} in grammar "
                             f"{genome.grammar.name!r} but {theirs.expr} in {grammar.name!r}")
    if genome.momentum not in grammar.momentum:
        raise GpOptError(f"{what}: momentum {genome.momentum!r} is not in grammar {grammar.name!r}")
    data = dict(genome.to_dict(), grammar=grammar.name)
    data["meta"] = {k: v for k, v in (data.get("meta") or {}).items() if k != "grammar_definition"}
    try:
        return OptimizerGenome.from_dict(data, grammar)
    except GpOptError as e:
        raise GpOptError(f"{what}: not a genome of grammar {grammar.name!r}: {e}") from None


def load_into(spec: str, grammar: Any, what: str) -> Any:
    """The genome ``spec`` (a catalog name or a genome file, in the grammar it was written for)
    re-read in ``grammar`` (:func:`in_grammar`); one :class:`GpOptError` line naming ``spec``."""
    from .. import catalog

    try:
        try:
            g = catalog.load(spec)
        except GpOptError:
            if grammar is None:
                raise
            g = catalog.load(spec, grammar)   # a file of the search's own grammar that does not carry it
    except OSError as e:
        raise GpOptError(f"{what} {spec!r}: cannot read the genome file ({e.strerror or e})") from None
    except GpOptError as e:
        raise GpOptError(f"{what} {spec!r}: {e}") from None
    return in_grammar(g, grammar, f"{what} {spec!r}")


def prepare_init_from(specs: str | Sequence[str] | None, grammar: Any = None,
                      integrity_config: Any = None, verbose: bool = True) -> list[dict[str, Any]]:
    """Resolve and integrity-check the warm-start genomes: ``[{"name", "genome" (JSON)}, ...]``.

    An unknown name or an unreadable/invalid file raises :class:`GpOptError` naming it. A genome
    failing the integrity check is dropped with a note on stderr (a random genome failing it is
    redrawn; a named one cannot be)."""
    from .. import catalog, integrity

    names = parse_init_from(specs)
    if not names:
        return []
    genomes = [load_into(spec, grammar, "--init-from") for spec in names]
    results = integrity.check_many(genomes, integrity_config or integrity.DEFAULT_CONFIG)
    out = []
    for spec, g, res in zip(names, genomes, results):
        if not res.passed:
            if verbose:
                print(f"note: --init-from {spec}: fails the integrity check ({res.reason}); left out",
                      file=sys.stderr, flush=True)
            continue
        checked = integrity.apply(g, res)
        name = (g.meta or {}).get("name") or spec
        out.append({"name": str(name), "genome": checked.to_json()})
    return out
