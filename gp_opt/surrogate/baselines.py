"""Baseline optimizers for the surrogate, and the factory interface every optimizer goes through.

An *optimizer factory* is any callable
``factory(params_or_param_groups, lr, total_steps, warmup_steps) -> torch.optim.Optimizer``
whose optimizer applies the SPEC base schedule (one-cycle cosine with linear warm-up, section 1)
itself. The protocol hands it one param group per ensemble member, each with its own ``lr``; the
``lr`` argument is the first group's rate (a default for groups that carry none).

``torch_factory(torch.optim.Adam)`` adapts any stock torch optimizer: the schedule is applied by a
step *pre*-hook that sets ``group['lr'] = group['peak_lr'] * base_lr_factor(t, T, W, H)`` before
step ``t`` (0-based), so step 0 of a run with warm-up uses lr 0, exactly as SPEC section 1 writes.

QHM, PowerSign-ld and AddSign-ld (SPEC section 9's baselines) are catalog genomes, run by
``gp_opt.optim.EvolvedOptimizer`` like every other genome (see ``protocol.resolve_optimizer``).
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

import torch

from gp_opt.optim.schedules import base_lr_factor  # the one definition of SPEC section 1's schedule

__all__ = [
    "base_lr_factor",
    "with_base_schedule",
    "torch_factory",
    "baseline_factory",
    "BASELINES",
    "OptimizerFactory",
]

OptimizerFactory = Callable[[Any, float, int, int], torch.optim.Optimizer]


def with_base_schedule(opt: torch.optim.Optimizer, total_steps: int, warmup_steps: int = 0,
                       hold_steps: int = 0) -> torch.optim.Optimizer:
    """Make a stock torch optimizer follow the base schedule (a step pre-hook; returns ``opt``).

    Each group's peak rate is its ``lr`` at this call (kept as ``group['peak_lr']``).
    """
    for g in opt.param_groups:
        g.setdefault("peak_lr", g["lr"])
    counter = {"t": 0}

    def _pre_step(optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        f = base_lr_factor(counter["t"], total_steps, warmup_steps, hold_steps)
        for g in optimizer.param_groups:
            g["lr"] = g["peak_lr"] * f
        counter["t"] += 1

    opt.register_step_pre_hook(_pre_step)
    opt.gp_opt_schedule = counter  # exposed for inspection: the next step's index
    _pre_step(opt, (), {})  # show step 0's rate in param_groups before the first step ...
    counter["t"] = 0  # ... without consuming it
    return opt


def torch_factory(cls: type[torch.optim.Optimizer], **kwargs: Any) -> OptimizerFactory:
    """A factory for a stock torch optimizer class, with fixed keyword arguments and the base schedule."""

    def factory(params: Any, lr: float, total_steps: int, warmup_steps: int = 0) -> torch.optim.Optimizer:
        return with_base_schedule(cls(params, lr=lr, **kwargs), total_steps, warmup_steps)

    factory.__name__ = f"{cls.__name__}_factory"
    factory.__qualname__ = factory.__name__
    factory.label = cls.__name__ + (f"({', '.join(f'{k}={v}' for k, v in kwargs.items())})" if kwargs else "")
    return factory


#: Baselines by lower-case name: the stock torch optimizers.
BASELINES: dict[str, OptimizerFactory] = {
    "adam": torch_factory(torch.optim.Adam),
    "adamw": torch_factory(torch.optim.AdamW),
    "sgd": torch_factory(torch.optim.SGD),
    "momentum": torch_factory(torch.optim.SGD, momentum=0.9),
    "nesterov": torch_factory(torch.optim.SGD, momentum=0.9, nesterov=True),
    "rmsprop": torch_factory(torch.optim.RMSprop),
}


def baseline_factory(name: str) -> OptimizerFactory | None:
    """The factory for a baseline name (case-insensitive), or ``None`` if it is not a baseline."""
    return BASELINES.get(name.lower())
