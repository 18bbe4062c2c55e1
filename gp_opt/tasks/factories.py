"""Optimizer factories: what a task trains with. A factory is ``factory(params, lr, total_steps) ->
torch.optim.Optimizer``; a genome becomes one through :func:`evolved_factory`."""
from __future__ import annotations

from typing import Any, Callable, Iterable

import torch

from ..errors import GpOptError

OptimizerFactory = Callable[[Iterable[torch.Tensor], float, int], torch.optim.Optimizer]


def torch_factory(cls: type, **kwargs: Any) -> OptimizerFactory:
    """A factory for a torch optimizer class, e.g. ``torch_factory(torch.optim.SGD, momentum=0.9)``."""

    def make(params: Iterable[torch.Tensor], lr: float, total_steps: int) -> torch.optim.Optimizer:
        return cls(params, lr=lr, **kwargs)

    make.__name__ = f"{cls.__name__}_factory"
    return make


def evolved_factory(genome: Any, warmup_steps: int = 0, hold_steps: int = 0) -> OptimizerFactory:
    """A factory training ``genome`` with ``gp_opt.optim.EvolvedOptimizer`` (imported lazily)."""

    def make(params: Iterable[torch.Tensor], lr: float, total_steps: int) -> torch.optim.Optimizer:
        from ..optim import EvolvedOptimizer  # lazy: the optimizer package is optional for tasks

        return EvolvedOptimizer(params, genome, lr, total_steps, warmup_steps=warmup_steps,
                                hold_steps=hold_steps)

    return make


def as_factory(candidate: Any) -> OptimizerFactory:
    """A genome (has ``to_json``) becomes an evolved-optimizer factory; a callable is a factory."""
    if hasattr(candidate, "to_json"):
        return evolved_factory(candidate)
    if callable(candidate):
        return candidate
    raise GpOptError(f"a task needs a genome or an optimizer factory, got {type(candidate).__name__}")
