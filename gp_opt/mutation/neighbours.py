"""The one-edit neighbourhood of an optimizer genome, for local search.

:func:`one_edit` lists every genome one change away from a genome: on each active inner node, one
input re-pointed to another drawable operand or hidden node (its decay function kept), the decay
function of one input edge deleted, or the op replaced by another drawable op of the same arity;
and the momentum type changed. The same moves as mutation's ``connection``, ``op``, ``decay``
(deletion) and ``momentum`` kinds (:mod:`.update`), all of them instead of one drawn at random;
arity changes and new or changed decay functions are left to mutation (their new parts are random
draws, not a finite list). A change that breaks a rule (a cycle, the output rule of SPEC section 2,
two equal inputs) is not a neighbour.

:func:`valid_neighbours` keeps those that pass the integrity check (the flip applied, as
:func:`~gp_opt.mutation.mutate_valid` does) and whose key is new.

>>> from gp_opt import catalog
>>> adam = catalog.get("Adam")
>>> moves = dict(one_edit(adam))
>>> str(moves["h0.in0=qh_g2"].to_dict()["nodes"]["h0"]["inputs"])
"['qh_g2']"
"""
from __future__ import annotations

import collections
from typing import Any, Callable, Container

from gp_opt import integrity
from gp_opt.errors import GenomeError
from gp_opt.genome import OptimizerGenome
from gp_opt.integrity import IntegrityConfig
from gp_opt.mutation.graph import weighted_ops
from gp_opt.mutation.valid import accept


def one_edit(genome: OptimizerGenome) -> list[tuple[str, OptimizerGenome]]:
    """``[(label, neighbour), ...]``: every genome one edit from ``genome`` (see the module
    docstring), labelled ``node.inK=source``, ``node.inK.decay=none``, ``node.op=name`` or
    ``momentum=type``."""
    grammar = genome.grammar
    spec = genome.to_dict()
    spec.pop("meta", None)
    operands, _ = grammar.operand_weights()
    hidden = genome.hidden_nodes()
    edits: list[tuple[str, Callable[[dict[str, Any]], None]]] = []
    for node in genome.active_inner_nodes():
        body = spec["nodes"][node]
        for i, arg in enumerate(body["inputs"]):
            source = arg["from"] if isinstance(arg, dict) else arg
            for new in operands + [h for h in hidden if h != node]:
                if new != source:
                    edits.append((f"{node}.in{i}={new}", _repoint(node, i, new)))
            if isinstance(arg, dict):
                edits.append((f"{node}.in{i}.decay=none", _repoint(node, i, source, keep_decay=False)))
        pool = grammar.update_unary if len(body["inputs"]) == 1 else grammar.update_binary
        names, _ = weighted_ops(grammar, pool)
        edits += [(f"{node}.op={op}", _set_op(node, op)) for op in names if op != body["op"]]
    edits += [(f"momentum={m}", _set_momentum(m)) for m in grammar.momentum if m != genome.momentum]
    out = []
    for label, apply in edits:
        s = {**spec, "nodes": {n: {"op": b["op"], "inputs": list(b["inputs"])} for n, b in spec["nodes"].items()}}
        apply(s)
        try:
            child = OptimizerGenome.from_dict(s, grammar=grammar)
        except GenomeError:
            continue
        child.meta = {"mutation": label}
        out.append((label, child))
    return out


def _repoint(node: str, i: int, source: str, keep_decay: bool = True) -> Callable[[dict[str, Any]], None]:
    def apply(s: dict[str, Any]) -> None:
        arg = s["nodes"][node]["inputs"][i]
        s["nodes"][node]["inputs"][i] = {**arg, "from": source} if isinstance(arg, dict) and keep_decay else source
    return apply


def _set_op(node: str, op: str) -> Callable[[dict[str, Any]], None]:
    def apply(s: dict[str, Any]) -> None:
        s["nodes"][node]["op"] = op
    return apply


def _set_momentum(momentum: str) -> Callable[[dict[str, Any]], None]:
    def apply(s: dict[str, Any]) -> None:
        s["momentum"] = momentum
    return apply


def valid_neighbours(genome: OptimizerGenome, key: Callable[[OptimizerGenome], Any],
                     seen: Container[str] | None = None, stats: collections.Counter | None = None,
                     integrity_config: IntegrityConfig | None = None) -> list[OptimizerGenome]:
    """The neighbours of :func:`one_edit` that pass the integrity check (sign applied) and whose
    keys (``key`` returns one or a list: a match on any is a duplicate) are not in ``seen`` nor
    shared with an earlier neighbour, in :func:`one_edit`'s order. ``stats`` gets
    ``integrity_rejections``, ``invalid`` and ``duplicates`` as mutation counts them."""
    stats = stats if stats is not None else collections.Counter()
    kids = [child for _, child in one_edit(genome)]
    results = integrity.check_many(kids, integrity_config or integrity.DEFAULT_CONFIG) if kids else []
    taken: set[str] = set()
    return [child for child, res in zip(kids, results) if accept(child, res, key, seen, taken, stats)]

