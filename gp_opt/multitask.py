"""Multi-task fitness: one score from several tasks, so a search rewards optimizers that are good
across tasks (the paper's aim was transfer), not on one ConvNet's seed noise.

``gp-opt search --task surrogate+digits --set digits.metric=val_loss`` scores every candidate on
each task of the ``+``-joined list (``TASK.FIELD`` options go to that task, e.g.
``surrogate.preset``) on the same evaluation seed, and combines the per-task scores by a rule
(``multitask_rule``):

- ``relative`` (the default): the mean over tasks of the candidate's score relative to a reference
  optimizer (``multitask_reference``, Adam by default) trained on the same task and seed:
  ``(score - reference) / |reference|``. For a loss-based score (minus a validation loss) this is
  the fraction by which the candidate's loss is below the reference's (0.05: 5 % lower), for an
  accuracy the relative gain; either way unit-free, so tasks on different scales weigh alike, and
  the seed's shared effect cancels (as with ``--fitness-baseline``).
- ``rank``: the mean over tasks of the fraction of a reference panel (``multitask_panel``, by
  default Adam, Momentum, RMSProp, Opt6) that the candidate beats on that task and seed (a tie
  counts half): 0 = worse than every reference, 1 = better than all. Insensitive to each task's
  scale and to outliers, coarser than ``relative``.

The references are trained once per task and seed (cached). A candidate not ok on a task (rejected,
failed, NaN/inf) keeps that task's record as its own, with the task named in the reason; a
reference not ok on a seed makes the candidate's record ``failed`` (nothing to compare with). The
record returned is the first task's, with the combined fitness; ``extra['tasks']`` holds each
task's score and reference scores.
"""
from __future__ import annotations

import math
import time
from typing import Any, Callable, Sequence

from gp_opt.errors import GpOptError
from gp_opt.fitness import FitnessRecord

__all__ = ["RULES", "MultiTaskFitness", "combine_relative", "combine_rank", "split_options", "is_multitask"]

RULES = ("relative", "rank")
DEFAULT_REFERENCE = "Adam"
DEFAULT_PANEL = ("Adam", "Momentum", "RMSProp", "Opt6")
#: options of the multi-task rule itself (the rest are TASK.FIELD)
RULE_OPTIONS = ("multitask_rule", "multitask_reference", "multitask_panel")


def is_multitask(name: Any) -> bool:
    return isinstance(name, str) and "+" in name and ":" not in name


def combine_relative(scores: Sequence[float], references: Sequence[float]) -> float:
    """Mean over tasks of ``(score - reference) / |reference|`` (a reference of 0: the plain
    difference).

    >>> combine_relative([-0.09, 0.99], [-0.10, 0.90])   # loss 10 % lower, accuracy 10 % higher
    0.1
    """
    rel = [(s - r) / abs(r) if r != 0 else s - r for s, r in zip(scores, references)]
    return round(sum(rel) / len(rel), 12)


def combine_rank(scores: Sequence[float], panels: Sequence[Sequence[float]]) -> float:
    """Mean over tasks of the fraction of the panel's scores below the candidate's (ties: half).

    >>> combine_rank([3.0, 1.0], [[1.0, 2.0, 4.0, 5.0], [1.0, 0.0, 2.0, 3.0]])   # 2/4 and 1.5/4
    0.4375
    """
    fr = [(sum(p < s for p in panel) + 0.5 * sum(p == s for p in panel)) / len(panel)
          for s, panel in zip(scores, panels)]
    return sum(fr) / len(fr)


def split_options(name: str, options: dict[str, Any], known: Sequence[str]) -> tuple[list[str], dict[str, dict], dict]:
    """``surrogate+digits`` and its options -> (task names, per-task options, rule options).
    An unknown task, a task named twice or an option for a task not in the list: GpOptError."""
    names = [n.strip() for n in name.split("+")]
    bad = [n for n in names if n not in known]
    if bad or not all(names):
        raise GpOptError(f"unknown task {(bad or [''])[0]!r} in {name!r}; known tasks: {', '.join(known)}")
    if len(set(names)) != len(names):
        raise GpOptError(f"task list {name!r} names a task twice")
    per: dict[str, dict] = {n: {} for n in names}
    rule: dict[str, Any] = {}
    for key, value in options.items():
        if key in RULE_OPTIONS:
            rule[key] = value
            continue
        task, dot, field = key.partition(".")
        if not dot or task not in per:
            raise GpOptError(f"option {key!r} for task list {name!r}: use TASK.FIELD with TASK one of "
                             f"{', '.join(names)}, or {', '.join(RULE_OPTIONS)}")
        per[task][field] = value
    return names, per, rule


class MultiTaskFitness:
    """``fitness(candidate, seed=None)``: the tasks' scores on ``seed`` combined by ``rule``
    (``references``: name -> candidate per task, built by the caller, e.g. :func:`gp_opt.tasks.get_task`)."""

    batch_children = False

    def __init__(self, tasks: dict[str, Callable[..., FitnessRecord]], rule: str = "relative",
                 references: dict[str, dict[str, Any]] | None = None,
                 resolve: Callable[[Any, Any], Any] | None = None):
        if rule not in RULES:
            raise GpOptError(f"multitask_rule {rule!r} is not one of {', '.join(RULES)}")
        if not tasks:
            raise GpOptError("a multi-task fitness needs at least one task")
        self.tasks, self.rule = dict(tasks), rule
        self.references = references or {}
        if not self.references or any(not refs for refs in self.references.values()):
            raise GpOptError("a multi-task fitness needs a reference optimizer for each task")
        self._cache: dict[tuple[str, str, int], FitnessRecord] = {}
        # a candidate given by name becomes what each task takes (gp_opt.tasks.NamedOptimizer)
        self.resolve = resolve if resolve is not None else (lambda candidate, task: candidate)

    def _reference(self, task: str, name: str, seed: int) -> FitnessRecord:
        key = (task, name, seed)
        if key not in self._cache:
            self._cache[key] = self.tasks[task](self.references[task][name], seed=seed)
        return self._cache[key]

    def __call__(self, candidate: Any, seed: int | None = None) -> FitnessRecord:
        from gp_opt.seeded import own_seed

        t0 = time.perf_counter()
        first_task = next(iter(self.tasks))
        s = own_seed(self.tasks[first_task]) if seed is None else int(seed)
        records = {}
        info: dict[str, Any] = {"rule": self.rule, "seed": s, "scores": {}, "references": {}}
        for name, task in self.tasks.items():
            rec = task(self.resolve(candidate, task), seed=s)
            records[name] = rec
            if not rec.ok or not math.isfinite(rec.fitness):
                rec.reason = f"task {name}: {rec.reason or rec.status}"
                rec.extra = dict(rec.extra, tasks=info)
                if rec.ok:  # a non-finite fitness with status ok
                    return FitnessRecord.failed(rec.reason, stages=rec.stages, extra=rec.extra)
                return rec
            info["scores"][name] = float(rec.fitness)
        refs: dict[str, list[float]] = {}
        for name in self.tasks:
            for ref in self.references[name]:
                r = self._reference(name, ref, s)
                if not r.ok or not math.isfinite(r.fitness):
                    first = records[first_task]
                    return FitnessRecord.failed(f"task {name}: reference {ref} not ok on seed {s}: "
                                                f"{r.reason or r.status}", stages=first.stages,
                                                best_lr=first.best_lr, extra=dict(first.extra, tasks=info))
                refs.setdefault(name, []).append(float(r.fitness))
            info["references"][name] = dict(zip(self.references[name], refs[name]))
        names = list(self.tasks)
        scores = [info["scores"][n] for n in names]
        if self.rule == "relative":
            fitness = combine_relative(scores, [refs[n][0] for n in names])
        else:
            fitness = combine_rank(scores, [refs[n] for n in names])
        out = records[first_task]
        out.fitness = float(fitness)
        out.extra = dict(out.extra, tasks=info)
        out.seconds = time.perf_counter() - t0
        return out
