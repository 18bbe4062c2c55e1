"""Diversity pressure (``--distinct``): near-twins count as one optimizer in the search, as they do
in the funnel (:mod:`gp_opt.twins`).

Distinct genomes are often one optimizer in effect -- a clip that never binds, a branch times a
tiny constant -- and under a noisy fitness such copies of one good behaviour can fill a population
(the 2026-12-06 audit found 6 of 8 funnel slots holding one behaviour). With per-candidate
evaluation seeds two candidates' records are never comparable, so the test here is behavioural:
a child is a near-twin of a population member when their behavioural distance
(:func:`gp_opt.behaviour.distance` on its search panel; 0 for identical trajectories, 0.3 between
Adam and RMSProp) is at most the tolerance (:data:`TOLERANCE`). Such a child is logged, cached and
may enter the hall of fame as any other, but does not join the population: the slot goes to a
behaviour the population lacks. The distance is a deterministic function of the two genomes, so
a resumed run takes the same decisions.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from ..errors import GpOptError

#: the default tolerance: far below the distance between optimizers that differ in kind (Adam and
#: RMSProp: 0.30; the median one-edit neighbour of Adam: ~0.8), far above float reassociation (0)
TOLERANCE = 1e-3


def check_tolerance(value: Any) -> float | None:
    """``True`` -> :data:`TOLERANCE`; a positive number -> itself; ``None``/``False`` -> off."""
    if value is None or value is False:
        return None
    if value is True:
        return TOLERANCE
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 2:
        raise GpOptError(f"distinct: the near-twin tolerance must be a number in (0, 2] (a behavioural distance), "
                         f"got {value!r}")
    return float(value)


def distinct_children(children: Sequence[Any], members: Sequence[Any],
                      distances: Callable[[list[Any]], Any] | None, tol: float) -> list[Any]:
    """The ``children`` (in order) that are no near-twin of a member or of an earlier kept child.
    ``distances(payloads)``: the toolbox's behavioural distance matrix (row: candidate, column:
    target; ``inf`` where the target cannot run), called once for members and children together,
    so each behaviour is simulated once. A toolbox without one cannot tell behaviours apart: an
    error, not a silent no-op."""
    if distances is None:
        raise GpOptError("--distinct: this toolbox has no behavioural distance (behaviour_distances); "
                         "use a genome task")
    if not children:
        return []
    matrix = distances([m.payload for m in members] + [c.payload for c in children])
    others = list(range(len(members)))
    kept: list[Any] = []
    for j, child in enumerate(children, len(members)):
        if not others or min(float(matrix[i][j]) for i in others) > tol:
            kept.append(child)
            others.append(j)
    return kept
