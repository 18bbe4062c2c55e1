"""The published optimizers (SPEC section 9) as drop-in ``torch.optim`` classes.

Each class is a thin constructor over :class:`~gp_opt.optim.EvolvedOptimizer` and the catalog
genome of the same name (``gp_opt.catalog.get(name)``):

>>> import torch
>>> from gp_opt.optim import Opt6
>>> w = torch.nn.Parameter(torch.ones(3))
>>> opt = Opt6([w], lr=1e-3, total_steps=100)              # doctest: +SKIP

:func:`published_optimizer` builds any catalog entry by name (the ablations ``Opt61`` ... included).
"""
from __future__ import annotations

from typing import Any, Iterable

from gp_opt.optim.evolved import EvolvedOptimizer

__all__ = ["PUBLISHED", "published_optimizer", "PublishedOptimizer"]

#: The drop-ins this module defines (SPEC section 9 and the paper's baselines).
PUBLISHED = tuple([f"Opt{i}" for i in range(1, 11)] + [f"A{i}" for i in range(1, 6)]
                  + ["QHM", "PowerSign", "AddSign"])


#: Drop-in class name -> catalog entry name, where they differ.
CATALOG_NAMES = {"PowerSign": "PowerSign-ld", "AddSign": "AddSign-ld"}


def _genome(name: str):
    from gp_opt import catalog
    return catalog.get(name)


class PublishedOptimizer(EvolvedOptimizer):
    """Base of the drop-ins: ``Cls(params, lr, total_steps, warmup_steps=0, hold_steps=0, **kw)``."""

    catalog_name = ""

    def __init__(self, params: Iterable, lr: float, total_steps: int, warmup_steps: int = 0,
                 hold_steps: int = 0, **kwargs: Any):
        super().__init__(params, _genome(self.catalog_name), lr=lr, total_steps=total_steps,
                         warmup_steps=warmup_steps, hold_steps=hold_steps, **kwargs)

    def __repr__(self) -> str:
        return super().__repr__().replace(type(self).__name__, f"{type(self).__name__} (gp_opt catalog)", 1)


def published_optimizer(name: str, params: Iterable, lr: float, total_steps: int, warmup_steps: int = 0,
              hold_steps: int = 0, **kwargs: Any) -> EvolvedOptimizer:
    """The catalog optimizer ``name`` as an :class:`EvolvedOptimizer`."""
    return EvolvedOptimizer(params, _genome(name), lr=lr, total_steps=total_steps,
                            warmup_steps=warmup_steps, hold_steps=hold_steps, **kwargs)


def _make(name: str) -> type:
    doc = (f"The published optimizer ``{name}`` (SPEC section 9) on the base one-cycle schedule.\n\n"
           f"``{name}(params, lr, total_steps, warmup_steps=0, hold_steps=0, **kw)``; ``kw`` as\n"
           "for :class:`~gp_opt.optim.EvolvedOptimizer`. The genome is ``gp_opt.catalog.get"
           f"({CATALOG_NAMES.get(name, name)!r})``.")
    return type(name, (PublishedOptimizer,), {"catalog_name": CATALOG_NAMES.get(name, name), "__doc__": doc,
                                              "__module__": __name__})


for _name in PUBLISHED:
    globals()[_name] = _make(_name)
    __all__.append(_name)
del _name
