"""Behavioural simplification: remove what does not change what an optimizer does, then simplify
the equation that is left.

Lion's authors simplified their evolved programs by hand, removing statements that did not change
the result. :func:`simplify_genome` does that on the genome: each round it tries every single edit
that makes ``U`` shorter --

* replace an active node by one of its inputs (the node's op goes, its input's decay stays),
* replace an active node by the constant 1 or 2 (the grammar's ``one`` / ``two`` operands),
* remove the decay function of an edge,

-- runs all of them at once on a verification panel of small problems
(:data:`gp_opt.behaviour.VERIFY_PANEL`, 36 runs of 60 steps) and keeps the shortest edit whose
behavioural distance to the *original* genome (:func:`gp_opt.behaviour.distance`: 0 for equal
trajectories, per-run error over movement, mean over runs) is at most ``tol``; until no edit is
left. Distances are always to the original, so small changes cannot add up past ``tol``. Then the
remaining ``U`` goes through :func:`gp_opt.symbolic.simplify`.

Only edits with fewer operations (``sympy.count_ops`` of ``U`` with schedules named) are tried
and the symbolic pass keeps the form with the fewest operations, so the result is never longer
than the input.

>>> from gp_opt import catalog
>>> r = simplify_genome(catalog.get("SGD"), seconds=0)
>>> r.ops_before, r.ops_after, r.edits
(0, 0, [])
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

import sympy as sp

from gp_opt import symbolic as S
from gp_opt.behaviour import VERIFY_PANEL, Panel, distance, reference_trajectories
from gp_opt.errors import GpOptError
from gp_opt.genome import OptimizerGenome

__all__ = ["Simplified", "simplify_genome", "op_count", "DEFAULT_TOL"]

#: the default tolerance on the behavioural distance to the original (the panel's unit: the
#: mean over runs of |trajectory difference| / |movement|): one part in a million of how far the
#: optimizer moves; a 1e-6 w weight-decay term is about 1e-7 there
DEFAULT_TOL = 1e-6

#: constant operands a node may be replaced by (when the grammar has them)
CONSTANTS = ("one", "two")


def op_count(genome: OptimizerGenome) -> int:
    """``sympy.count_ops`` of ``U`` with the schedules named (``a4`` counts as one symbol)."""
    return int(sp.count_ops(S.to_sympy(genome, expand_schedules=False)))


@dataclass
class Simplified:
    """What :func:`simplify_genome` found: the pruned genome, the simplified expression of its
    ``U``, operation counts before and after, its behavioural distance to the original, and the
    edits in the order they were made."""

    original: OptimizerGenome
    genome: OptimizerGenome
    expr: sp.Expr
    ops_before: int
    ops_after: int
    nodes_before: int
    nodes_after: int
    distance: float
    tol: float
    panel: str
    edits: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.ops_after < self.ops_before

    def summary(self) -> str:
        """One line: the counts before and after, the distance and the tolerance."""
        return (f"ops {self.ops_before} -> {self.ops_after}, active nodes {self.nodes_before} -> "
                f"{self.nodes_after}; behavioural distance {self.distance:.2g} (tolerance {self.tol:g}, "
                f"panel {self.panel!r})")


def _input_name(inp: Any) -> str:
    return inp["from"] if isinstance(inp, dict) else str(inp)


def _edits(genome: OptimizerGenome) -> list[tuple[str, dict]]:
    """Every single edit of ``genome`` as (description, genome data)."""
    data = genome.to_dict()
    data.pop("meta", None)
    nodes = data["nodes"]
    operands = genome.grammar.operands
    out = []
    for node in genome.active_inner_nodes():
        spec = nodes[node]
        inputs = spec["inputs"]
        for k, inp in enumerate(inputs):
            if spec["op"] == "identity":
                break
            new = copy.deepcopy(data)
            new["nodes"][node] = {"op": "identity", "inputs": [copy.deepcopy(inp)]}
            which = "" if len(inputs) == 1 else f" {'xy'[k] if k < 2 else k}"
            out.append((f"{node}: {spec['op']} replaced by its input{which} ({_input_name(inp)})", new))
        for const in CONSTANTS:
            if const in operands and not (spec["op"] == "identity" and inputs == [const]):
                new = copy.deepcopy(data)
                new["nodes"][node] = {"op": "identity", "inputs": [const]}
                out.append((f"{node}: {spec['op']} replaced by the constant {operands[const].expr}", new))
        for k, inp in enumerate(inputs):
            if isinstance(inp, dict) and inp.get("decay"):
                new = copy.deepcopy(data)
                new["nodes"][node]["inputs"][k] = inp["from"]
                out.append((f"{node}: decay function on the edge from {inp['from']} removed", new))
    return out


def _valid(genome: OptimizerGenome, data: dict) -> OptimizerGenome | None:
    try:
        child = OptimizerGenome.from_dict(data, genome.grammar)
    except GpOptError:
        return None
    return child


def simplify_genome(genome: OptimizerGenome, tol: float = DEFAULT_TOL, panel: Panel = VERIFY_PANEL,
                    seconds: float = 5.0) -> Simplified:
    """Remove or replace every node (and decay function) whose removal leaves the behaviour on
    ``panel`` within ``tol`` of the original's, then simplify ``U`` symbolically for up to
    ``seconds`` (0: no symbolic pass). Raises :class:`GpOptError` when the genome cannot run on
    the panel (nothing to compare with)."""
    if not (isinstance(tol, (int, float)) and math.isfinite(tol) and tol >= 0):
        raise GpOptError(f"simplify: the tolerance must be a number >= 0, got {tol!r}")
    target = reference_trajectories(genome, panel, who="simplify", what="the genome")
    ops_before = op_count(genome)
    current, current_ops, current_dist = genome, ops_before, 0.0
    edits: list[str] = []
    while True:
        tried = []
        for what, data in _edits(current):
            child = _valid(genome, data)
            if child is None:
                continue
            ops = op_count(child)
            if ops < current_ops:
                tried.append((ops, what, child))
        if not tried:
            break
        dist = distance([c for _, _, c in tried], target, panel)
        ok = [(ops, float(d), what, child) for (ops, what, child), d in zip(tried, dist) if d <= tol]
        if not ok:
            break
        ops, d, what, child = min(ok, key=lambda x: (x[0], x[1]))
        current, current_ops, current_dist = child, ops, d
        edits.append(what)
    current.meta = dict(genome.meta)
    if edits:
        current.meta["simplified"] = {"from_ops": ops_before, "ops": current_ops, "distance": current_dist,
                                      "tolerance": tol, "panel": panel.name, "edits": edits}
    expr = S.to_sympy(current, expand_schedules=False)
    if seconds and seconds > 0:
        shorter = S.simplify(expr, seconds)
        if sp.count_ops(shorter) < sp.count_ops(expr):
            expr = shorter
    return Simplified(genome, current, expr, ops_before, int(min(current_ops, sp.count_ops(expr))),
                      len(genome.active_inner_nodes()), len(current.active_inner_nodes()), current_dist,
                      float(tol), panel.name, edits)
