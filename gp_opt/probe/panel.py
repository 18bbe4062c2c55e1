"""The probe's reference panel: hand-designed, published and random optimizers a fitness should
tell apart, as candidates for any task (the surrogate takes names and genomes, the cheap tasks
optimizer factories and genomes)."""
from __future__ import annotations

from typing import Any

from gp_opt.errors import GpOptError

__all__ = ["DEFAULT_PANEL", "STOCK", "random_genomes", "panel_candidate"]

#: the audit's panel and then some: stock torch optimizers and catalog genomes
DEFAULT_PANEL = ("Adam", "SGD", "Momentum", "RMSProp", "QHM", "Opt6", "Opt10", "PowerSign")

#: stock torch optimizers by panel name: (surrogate baseline name, torch class name, keyword arguments)
STOCK = {
    "adam": ("adam", "Adam", {}),
    "sgd": ("sgd", "SGD", {}),
    "momentum": ("momentum", "SGD", {"momentum": 0.9}),
    "nesterov": ("nesterov", "SGD", {"momentum": 0.9, "nesterov": True}),
    "rmsprop": ("rmsprop", "RMSprop", {}),
}

#: panel names that are catalog names under another spelling
ALIASES = {"powersign": "PowerSign-ld", "addsign": "AddSign-ld"}


def random_genomes(n: int, seed: int, grammar: Any = None) -> list[Any]:
    """``n`` random genomes that pass the integrity check, drawn from ``seed`` (reproducible)."""
    import numpy as np

    from gp_opt import mutation

    if n <= 0:
        return []
    return mutation.random_valid_many(np.random.default_rng(seed), n, grammar)


def check_names(names: list[str]) -> None:
    """Every panel name known (a stock optimizer or a catalog name), else one GpOptError line."""
    from gp_opt import catalog

    known = set(catalog.names())
    bad = [n for n in names if n.lower() not in STOCK and ALIASES.get(n.lower(), n) not in known]
    if bad:
        raise GpOptError(f"unknown panel optimizer(s) {', '.join(bad)}: use stock names "
                         f"({', '.join(sorted(STOCK))}) or catalog names (gp-opt catalog)")


def panel_candidate(name: str, surrogate: bool) -> Any:
    """What a task evaluates for panel entry ``name``: for the surrogate a baseline name or a
    catalog genome; for a cheap task a torch optimizer factory or a catalog genome."""
    from gp_opt import catalog

    stock = STOCK.get(name.lower())
    if stock is not None:
        if surrogate:
            return stock[0]
        import torch

        from gp_opt.tasks import torch_factory
        return torch_factory(getattr(torch.optim, stock[1]), **stock[2])
    return catalog.get(ALIASES.get(name.lower(), name))
