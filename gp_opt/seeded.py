"""A candidate's fitness over several evaluation seeds, optionally against a baseline trained on
the same seeds (``--fitness-seeds K``, ``--fitness-baseline NAME``; docs/surrogate.md, "Choosing
the search fitness").

:class:`SeededFitness` wraps any task that takes ``task(candidate, seed=...)``:

- **seeds**: an evaluation on seed ``s`` scores the candidate on seeds ``s, s+1, ..., s+K-1``
  (``s`` is the seed the search hands the evaluation; None: the task's own seed). The learning rate
  is chosen on the first seed (the surrogate's screen, a cheap task's grid) and reused on the
  others (``task.at_rate(lr)``), as the elimination funnel does: K seeds cost one screen and K full
  runs, not K screens.
- **fitness**: the mean over the K seeds of the task's score; with a baseline, the mean of the
  paired differences ``score(candidate, s) - score(baseline, s)``. A seed shared by every optimizer
  (an easy split, lucky initial weights) then cancels. The baseline is scored by the task's whole
  protocol on each seed, once: its records are cached per seed for the life of the evaluator (a
  search that reuses seeds pays for the baseline once per seed).
- **failures**: the candidate not ok on its first seed keeps that record; not ok on a later seed
  (NaN at the reused rate), or the baseline not ok on a seed, makes the record ``failed`` with
  the reason. NaN/inf never averages into a fitness.

The record is the first seed's (stages, rate) with the combined fitness; ``extra['seeds']``
holds the seeds, each seed's score and, with a baseline, its name and scores.
"""
from __future__ import annotations

import math
import time
from typing import Any, Callable

from gp_opt.errors import GpOptError
from gp_opt.fitness import FitnessRecord

__all__ = ["SeededFitness", "check_fitness_seeds", "own_seed"]


def check_fitness_seeds(k: Any) -> int:
    """``k`` as a positive integer, else one GpOptError line."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise GpOptError(f"--fitness-seeds must be a positive integer (the seeds a fitness averages), got {k!r}")
    return k


def own_seed(task: Any) -> int:
    """The seed ``task`` uses when given none (a Task's ``seed``, a surrogate config's ``seed``)."""
    if hasattr(task, "seed") and isinstance(task.seed, int):
        return task.seed
    config = getattr(task, "config", None)
    return int(getattr(config, "seed", 0) or 0)


class SeededFitness:
    """``fitness(candidate, seed=None) -> FitnessRecord``: ``task``'s score averaged over
    ``fitness_seeds`` seeds, minus ``baseline``'s on the same seeds when one is given
    (``baseline_name`` labels it in the records)."""

    batch_children = False  # each candidate's seeds run in turn; the search maps one at a time

    def __init__(self, task: Callable[..., FitnessRecord], fitness_seeds: int = 1, baseline: Any = None,
                 baseline_name: str | None = None):
        self.task = task
        self.fitness_seeds = check_fitness_seeds(fitness_seeds)
        self.baseline = baseline
        self.baseline_name = baseline_name or (None if baseline is None else str(baseline))
        self._baseline_cache: dict[int, FitnessRecord] = {}

    @property
    def seed(self) -> int:
        return own_seed(self.task)

    def seeds_for(self, seed: int | None) -> list[int]:
        first = own_seed(self.task) if seed is None else int(seed)
        return [first + j for j in range(self.fitness_seeds)]

    def baseline_record(self, seed: int) -> FitnessRecord:
        """The baseline on ``seed`` (trained once per seed, then cached)."""
        if seed not in self._baseline_cache:
            self._baseline_cache[seed] = self.task(self.baseline, seed=seed)
        return self._baseline_cache[seed]

    def __getstate__(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def for_initial_population(self) -> "SeededFitness":
        """The same rule around the task's initial-population evaluator (its own baseline cache)."""
        inner = getattr(self.task, "for_initial_population", None)
        other = inner() if inner is not None else self.task
        if other is self.task:
            return self
        return SeededFitness(other, self.fitness_seeds, self.baseline, self.baseline_name)

    def __call__(self, candidate: Any, seed: int | None = None) -> FitnessRecord:
        t0 = time.perf_counter()
        seeds = self.seeds_for(seed)
        first = self.task(candidate, seed=seeds[0])
        info: dict[str, Any] = {"seeds": seeds}
        if self.baseline is not None:
            info["baseline"] = self.baseline_name
        first.extra = dict(first.extra, seeds=info)
        if not first.ok:
            return first
        at_rate = getattr(self.task, "at_rate", None)
        rest = at_rate(first.best_lr) if at_rate is not None and first.best_lr is not None else self.task
        scores = [float(first.fitness)]
        for s in seeds[1:]:
            rec = rest(candidate, seed=s)
            if not rec.ok or not math.isfinite(rec.fitness):
                return self._failed(first, f"seed {s} at lr {first.best_lr}: {rec.reason or rec.status}", t0)
            scores.append(float(rec.fitness))
        info["scores"] = scores
        if self.baseline is not None:
            base = [self.baseline_record(s) for s in seeds]
            bad = [(s, b) for s, b in zip(seeds, base) if not b.ok or not math.isfinite(b.fitness)]
            if bad:
                s, b = bad[0]
                return self._failed(first, f"baseline {self.baseline_name} not ok on seed {s}: "
                                           f"{b.reason or b.status}", t0)
            info["baseline_scores"] = [float(b.fitness) for b in base]
            scores = [x - y for x, y in zip(scores, info["baseline_scores"])]
        first.fitness = sum(scores) / len(scores)
        first.seconds = time.perf_counter() - t0
        return first

    @staticmethod
    def _failed(first: FitnessRecord, reason: str, t0: float) -> FitnessRecord:
        return FitnessRecord.failed(reason, stages=first.stages, best_lr=first.best_lr,
                                    seconds=time.perf_counter() - t0, extra=first.extra)
