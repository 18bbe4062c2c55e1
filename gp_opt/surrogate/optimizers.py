"""What the protocol trains: stock torch optimizers, factories, baseline and catalog names and
genomes, all resolved to one ``(factory, label)`` interface."""
from __future__ import annotations

from typing import Any

import torch

from gp_opt.errors import GpOptError
from gp_opt.surrogate.baselines import BASELINES, OptimizerFactory, torch_factory

__all__ = ["genome_factory", "resolve_optimizer"]


def genome_factory(genome: Any) -> OptimizerFactory:
    """A factory building ``gp_opt.optim.EvolvedOptimizer`` for ``genome`` (imported lazily)."""
    from gp_opt.optim import EvolvedOptimizer  # noqa: PLC0415 - lazy: written by another module owner

    def factory(params: Any, lr: float, total_steps: int, warmup_steps: int = 0) -> torch.optim.Optimizer:
        return EvolvedOptimizer(params, genome, lr=lr, total_steps=total_steps, warmup_steps=warmup_steps)

    meta = getattr(genome, "meta", None)
    name = (meta.get("name") if isinstance(meta, dict) else None) or getattr(genome, "name", None)
    factory.label = f"{name} (genome, EvolvedOptimizer)" if name else "genome (EvolvedOptimizer)"
    return factory


def _catalog_genome(name: str) -> Any | None:
    from gp_opt import catalog  # noqa: PLC0415 - lazy: the catalog pulls in sympy
    try:
        return catalog.get(name)
    except GpOptError:
        return None


def resolve_optimizer(opt: Any) -> tuple[OptimizerFactory, str]:
    """Turn what the caller passed into ``(factory, label)``.

    Accepted: a factory ``f(params, lr, total_steps, warmup_steps)``; a ``torch.optim.Optimizer``
    subclass (wrapped by :func:`torch_factory` with the base schedule); a baseline name (``adam``,
    ``sgd``, ``nesterov``, ``momentum``, ``rmsprop``, ``adamw``); a catalog name (``Opt1``,
    ``QHM``, ``PowerSign``...); or a genome (anything else), run by
    ``gp_opt.optim.EvolvedOptimizer``.
    """
    if isinstance(opt, str):
        key = opt.lower()
        if key in BASELINES:
            f = BASELINES[key]
            return f, getattr(f, "label", opt)
        genome = _catalog_genome(opt)
        if genome is not None:
            return genome_factory(genome), f"{opt} (catalog genome, EvolvedOptimizer)"
        raise GpOptError(
            f"unknown optimizer {opt!r}: not a baseline ({', '.join(BASELINES)}) and not available from "
            f"gp_opt.catalog/gp_opt.optim")
    if isinstance(opt, type) and issubclass(opt, torch.optim.Optimizer):
        f = torch_factory(opt)
        return f, f.label
    if callable(opt):
        return opt, getattr(opt, "label", getattr(opt, "__name__", type(opt).__name__))
    f = genome_factory(opt)
    return f, f.label
