"""Cheap CPU fitness tasks for tests and demos.

Each task is a callable ``task(candidate) -> FitnessRecord`` with the same record shape the GPU
surrogate returns. ``candidate`` is either an optimizer genome (anything with ``to_json``; it is
trained with :class:`gp_opt.optim.EvolvedOptimizer`) or an *optimizer factory*
``factory(params, lr, total_steps) -> torch.optim.Optimizer`` (a torch baseline, see
:func:`torch_factory`). Both go through the same training loop.

A task trains once per learning rate of a small grid and keeps the best score; higher is better.
NaN/inf (or any exception inside the training) makes that learning rate a failed stage; when every
learning rate fails the record is :meth:`FitnessRecord.failed` -- a task never raises for a bad
candidate. Every run seeds its own torch generator inside ``torch.random.fork_rng`` so that an
evaluation is a pure function of the candidate and leaves the global RNG untouched (the search
relies on this to replay a killed run exactly).

>>> import torch
>>> rec = get_task("quadratic", steps=20)(torch_factory(torch.optim.Adam))
>>> rec.status, rec.fitness > 0
('ok', True)
"""
from __future__ import annotations

from .base import DEFAULT_LRS, Task
from .builtin import DIGITS_METRICS, Digits, NoisyQuadratic, Rosenbrock, surrogate
from .custom import FunctionTask, custom_task, import_attribute
from .factories import OptimizerFactory, as_factory, evolved_factory, torch_factory
from .reference import CATALOG_ALIASES, STOCK_OPTIMIZERS, NamedOptimizer, check_reference_name, reference_optimizer
from .registry import (PRESET_FITNESS_SEEDS, SEED_OPTIONS, TASKS, default_fitness_seeds, get_task, is_multitask,
                       task_names, wants_names)

__all__ = ["DEFAULT_LRS", "Task", "DIGITS_METRICS", "Digits", "NoisyQuadratic", "Rosenbrock", "surrogate",
           "FunctionTask", "custom_task", "import_attribute", "OptimizerFactory", "as_factory", "evolved_factory",
           "torch_factory", "CATALOG_ALIASES", "STOCK_OPTIMIZERS", "NamedOptimizer", "check_reference_name",
           "reference_optimizer", "PRESET_FITNESS_SEEDS", "SEED_OPTIONS", "TASKS", "default_fitness_seeds",
           "get_task", "is_multitask", "task_names", "wants_names"]

# A run records a task given from Python by its class's ``module:qualname`` (search/taskspec.py) and
# pickles it to pool workers: keep the classes' home at ``gp_opt.tasks``, the name runs already hold.
for _cls in (Task, Digits, NoisyQuadratic, Rosenbrock, FunctionTask, NamedOptimizer):
    _cls.__module__ = __name__
del _cls
