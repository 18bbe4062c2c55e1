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
    genomes = []
    for spec in names:
        try:
            g = catalog.load(spec, grammar)
        except OSError as e:
            raise GpOptError(f"--init-from {spec!r}: cannot read the genome file ({e.strerror or e})") from None
        except GpOptError as e:
            raise GpOptError(f"--init-from {spec!r}: {e}") from None
        if grammar is not None and g.grammar.name != getattr(grammar, "name", g.grammar.name):
            raise GpOptError(f"--init-from {spec!r}: written in grammar {g.grammar.name!r}, the search uses "
                             f"{grammar.name!r}")
        genomes.append(g)
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
