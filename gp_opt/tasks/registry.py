"""Tasks by name: the built-in table, ``module:attribute`` specs, multi-task names and the wrapping
in evaluation seeds and a baseline (:func:`get_task`)."""
from __future__ import annotations

import functools
from typing import Any, Callable

from ..errors import GpOptError
from .base import Task
from .builtin import Digits, NoisyQuadratic, Rosenbrock, surrogate
from .custom import custom_task
from .reference import NamedOptimizer, check_reference_name, reference_optimizer


TASKS: dict[str, Callable[..., Any]] = {
    "surrogate": surrogate,
    "quadratic": NoisyQuadratic,
    "rosenbrock": Rosenbrock,
    "digits": Digits,
    "logreg-digits": functools.partial(Digits, name="logreg-digits", hidden=0),
}


def task_names() -> list[str]:
    return sorted(TASKS)


#: task options that wrap any task rather than set one of its fields (gp_opt.seeded)
SEED_OPTIONS = ("fitness_seeds", "fitness_baseline")


def get_task(name: str, **options: Any) -> Task:
    """The task called ``name`` (or ``module:attribute``, see :func:`custom_task`); ``options``
    override its fields (``steps``, ``lrs``, ``seed``...). ``fitness_seeds=K`` and
    ``fitness_baseline=NAME`` wrap it in :class:`gp_opt.seeded.SeededFitness`: the mean over K
    evaluation seeds, minus NAME's score on the same seeds."""
    k = options.pop("fitness_seeds", None)
    if k is None:
        k = default_fitness_seeds(name, options)
    baseline = options.pop("fitness_baseline", None)
    if is_multitask(name):
        task = _multitask(name, options)
    elif isinstance(name, str) and ":" in name:
        task = custom_task(name, **options)
    else:
        try:
            make = TASKS[name]
        except (KeyError, TypeError):
            raise GpOptError(f"unknown task {name!r}; known tasks: {', '.join(task_names())}") from None
        try:
            task = make(**options)
        except TypeError as exc:
            raise GpOptError(f"bad option for task {name!r}: {exc}") from None
    from ..seeded import SeededFitness, check_fitness_seeds  # lazy: only runs that ask for it

    check_fitness_seeds(k)
    if k == 1 and baseline is None:
        return task
    candidate = None
    if baseline is not None:
        candidate = (NamedOptimizer(str(baseline)) if is_multitask(name)
                     else reference_optimizer(str(baseline), surrogate=wants_names(task)))
    return SeededFitness(task, k, candidate, None if baseline is None else str(baseline))


#: the evaluation seeds a candidate's fitness averages by default, per surrogate preset: the digits
#: preset's single run told optimizers apart at a seed-blocked ratio of 0.8 (Kendall tau 0.79 over
#: seed halves); the mean of 3 seeds, the rate chosen on the first, at 2.2 and 0.71 for twice the
#: CPU (docs/surrogate.md, "Choosing the search fitness")
PRESET_FITNESS_SEEDS = {"digits": 3}


def default_fitness_seeds(name: Any, options: dict[str, Any]) -> int:
    """1, or the surrogate preset's number of fitness seeds (:data:`PRESET_FITNESS_SEEDS`)."""
    if name == "surrogate":
        return PRESET_FITNESS_SEEDS.get(options.get("preset", "smoke"), 1)
    return 1


def is_multitask(name: Any) -> bool:
    """``surrogate+digits``: several tasks scored together (:mod:`gp_opt.multitask`)."""
    return isinstance(name, str) and "+" in name and ":" not in name


def _multitask(name: str, options: dict[str, Any]) -> Any:
    from ..multitask import DEFAULT_PANEL, DEFAULT_REFERENCE, MultiTaskFitness, split_options

    names, per_task, rule = split_options(name, options, task_names())
    tasks = {n: get_task(n, **per_task[n]) for n in names}
    rule_name = rule.get("multitask_rule", "relative")
    if rule_name == "rank":
        panel = rule.get("multitask_panel", DEFAULT_PANEL)
        refs = [p.strip() for p in panel.split(",")] if isinstance(panel, str) else [str(p) for p in panel]
    else:
        refs = [str(rule.get("multitask_reference", DEFAULT_REFERENCE))]
    for r in refs:
        check_reference_name(r)
    references = {n: {r: reference_optimizer(r, surrogate=wants_names(t)) for r in refs} for n, t in tasks.items()}
    return MultiTaskFitness(tasks, rule_name, references, resolve=_resolve_named)


def _resolve_named(candidate: Any, task: Any) -> Any:
    """A :class:`NamedOptimizer` as ``task`` takes it; anything else as it is."""
    if isinstance(candidate, NamedOptimizer):
        return reference_optimizer(candidate.name, surrogate=wants_names(task))
    return candidate


def wants_names(task: Any) -> bool:
    """Whether ``task`` takes stock optimizers by name (the surrogate) rather than as factories."""
    return hasattr(task, "for_initial_population") and not hasattr(task, "fitness_seeds")
