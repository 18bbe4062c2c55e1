"""The rediscovery fitness (how closely a candidate reproduces the target's behaviour) and the
judge of success (is the candidate the target?)."""
from __future__ import annotations

import math
import time
from typing import Any, Callable, Iterable

from gp_opt import behaviour
from gp_opt.fitness import FitnessRecord, registered_function
from gp_opt.genome import OptimizerGenome

#: a candidate this close on the search panel is judged (symbolically, then on the verification
#: panel): the same update computed in another order differs by about 1e-15 (float64), a 1e-6 w
#: weight-decay term already by about 2e-6; near twins between are many in a search and each
#: judgment costs a verification-panel run
NEAR = 1e-7


class RediscoveryFitness:
    """``fitness(genome) -> FitnessRecord`` with fitness ``-distance`` to the target on ``panel``
    (:func:`gp_opt.behaviour.distance`) and ``extra["distance"]``; a candidate whose
    trajectories turn NaN/inf (infinite distance) is a failed candidate.

    ``map(func, genomes)`` scores a whole batch in one call when ``func`` is this fitness
    (``batch_children``: the search registers it as ``toolbox.map``). Deterministic, and a pure
    function of the genome: the same genome gets the same record in any batch.
    """

    batch_children = True

    def __init__(self, target: OptimizerGenome, panel: behaviour.Panel = behaviour.SEARCH_PANEL):
        self.target = target
        self.panel = panel
        self.reference = behaviour.reference_trajectories(target, panel, who="rediscover", what="the target")

    def _records(self, genomes: list[Any], seconds: float) -> list[FitnessRecord]:
        d = behaviour.distance(genomes, self.reference, self.panel)
        each = seconds / max(len(genomes), 1)
        out = []
        for x in d.tolist():
            if math.isfinite(x):
                out.append(FitnessRecord(fitness=-x, seconds=each, extra={"distance": x}))
            else:
                out.append(FitnessRecord.failed("trajectory not finite (or the genome cannot run) on the "
                                                f"{self.panel.name} panel", seconds=each))
        return out

    def evaluate_many(self, genomes: Iterable[Any]) -> list[FitnessRecord]:
        genomes = list(genomes)
        t0 = time.perf_counter()
        d = self._records(genomes, 0.0)
        each = (time.perf_counter() - t0) / max(len(genomes), 1)
        for r in d:
            r.seconds = each
        return d

    def __call__(self, genome: Any) -> FitnessRecord:
        return self.evaluate_many([genome])[0]

    def map(self, func: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
        """A ``toolbox.map``: one batched call when ``func`` is this fitness, else plain ``map``."""
        items = list(items)
        if registered_function(func) is self:
            return self.evaluate_many(items)
        return [func(x) for x in items]


class Judge:
    """:func:`judge` for many candidates against one target: the target's canonical key and its
    verification-panel trajectories are computed once, and the verification distances of the
    candidates in one batch, so that the thousand near twins a search can log are judged in
    seconds. ``first(candidates)`` gives the same answer as :func:`judge` on each in turn."""

    def __init__(self, target: OptimizerGenome, tol: float = behaviour.DEFAULT_TOLERANCE):
        from gp_opt import symbolic

        self.target = target
        self.tol = tol
        self.key = symbolic.canonical_key(target)
        self.reference = behaviour.reference_trajectories(target, behaviour.VERIFY_PANEL, who="rediscover",
                                                          what="the target")

    def first(self, candidates: list[OptimizerGenome]) -> tuple[int, str] | None:
        """``(i, how)`` of the first candidate that is the target (``how`` as :func:`judge`
        says), or None."""
        from gp_opt import symbolic

        if not candidates:
            return None
        # the one-way distance is a necessary condition of behaviourally_equal: a cheap screen
        close = behaviour.distance(candidates, self.reference, behaviour.VERIFY_PANEL) <= self.tol
        for i, cand in enumerate(candidates):
            try:
                if symbolic.canonical_key(cand) == self.key:
                    return i, "symbolic"
            except Exception:  # noqa: BLE001 - a symbolic failure leaves the behavioural test
                pass
            if close[i] and behaviour.behaviourally_equal(cand, self.target, self.tol):
                return i, "behavioural"
        return None


def near(record: FitnessRecord) -> bool:
    """Whether a candidate's record puts it within :data:`NEAR` of the target (judge it)."""
    d = (record.extra or {}).get("distance")
    return record.ok and isinstance(d, (int, float)) and d <= NEAR


class SolutionCheck:
    """``stop_when(genomes, records)`` for a search (:class:`gp_opt.search.contract.Stopping`):
    the first candidate within :data:`NEAR` on the search panel that is the target (a
    :class:`Judge`), with ``"solved (symbolic)"`` or ``"solved (behavioural)"``; None if none is."""

    def __init__(self, target: OptimizerGenome):
        self.judge: Judge | None = None   # made at the first near candidate: most seeds never need it
        self.target = target

    def __call__(self, genomes: list[Any], records: list[FitnessRecord]) -> tuple[int, str] | None:
        idx = [i for i, r in enumerate(records) if near(r)]
        if not idx:
            return None
        if self.judge is None:
            self.judge = Judge(self.target)
        found = self.judge.first([genomes[i] for i in idx])
        return (idx[found[0]], f"solved ({found[1]})") if found else None


def judge(candidate: OptimizerGenome, target: OptimizerGenome,
          tol: float = behaviour.DEFAULT_TOLERANCE) -> str | None:
    """``"symbolic"`` if the candidate's canonical key equals the target's (the same equation
    after sympy's canonical simplification, momentum and sign included), else ``"behavioural"``
    if the two behave identically within ``tol`` on the verification panel, else None."""
    from gp_opt import symbolic

    try:
        if symbolic.canonical_key(candidate) == symbolic.canonical_key(target):
            return "symbolic"
    except Exception:  # noqa: BLE001 - a symbolic failure leaves the behavioural test
        pass
    return "behavioural" if behaviour.behaviourally_equal(candidate, target, tol) else None
