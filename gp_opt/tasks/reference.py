"""Reference optimizers by name (stock torch optimizers and catalog entries), as candidates of any task."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..errors import GpOptError
from .factories import torch_factory


@dataclass(frozen=True)
class NamedOptimizer:
    """A stock or catalog optimizer by name, for an evaluator that resolves it per task (a
    multi-task fitness: the surrogate takes names, a cheap task factories)."""

    name: str


#: stock torch optimizers by lower-case name: (surrogate baseline name, torch.optim class, keyword arguments)
STOCK_OPTIMIZERS = {
    "adam": ("adam", "Adam", {}),
    "sgd": ("sgd", "SGD", {}),
    "momentum": ("momentum", "SGD", {"momentum": 0.9}),
    "nesterov": ("nesterov", "SGD", {"momentum": 0.9, "nesterov": True}),
    "rmsprop": ("rmsprop", "RMSprop", {}),
}

#: short names of catalog entries
CATALOG_ALIASES = {"powersign": "PowerSign-ld", "addsign": "AddSign-ld"}


def check_reference_name(name: str) -> None:
    """``name`` is a stock optimizer or a catalog name, else one GpOptError line."""
    if name.lower() in STOCK_OPTIMIZERS:
        return
    from .. import catalog

    if CATALOG_ALIASES.get(name.lower(), name) not in catalog.names():
        raise GpOptError(f"unknown optimizer {name!r}: use a stock name ({', '.join(sorted(STOCK_OPTIMIZERS))}) "
                         "or a catalog name (gp-opt catalog)")


def reference_optimizer(name: str, surrogate: bool) -> Any:
    """What a task evaluates for the optimizer called ``name``: a stock torch optimizer (Adam, SGD,
    Momentum, Nesterov, RMSProp) or a catalog name. For the surrogate a baseline name or a catalog
    genome; for a cheap task a torch optimizer factory or a catalog genome. Unknown: GpOptError."""
    stock = STOCK_OPTIMIZERS.get(name.lower())
    if stock is not None:
        return stock[0] if surrogate else torch_factory(getattr(torch.optim, stock[1]), **stock[2])
    from .. import catalog  # lazy: the catalog pulls in sympy

    check_reference_name(name)
    return catalog.get(CATALOG_ALIASES.get(name.lower(), name))
