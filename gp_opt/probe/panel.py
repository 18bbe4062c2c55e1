"""The probe's reference panel: hand-designed, published and random optimizers a fitness should
tell apart, as candidates for any task (the surrogate takes names and genomes, the cheap tasks
optimizer factories and genomes)."""
from __future__ import annotations

from typing import Any

from gp_opt.errors import GpOptError

__all__ = ["DEFAULT_PANEL", "random_genomes", "check_names", "panel_candidate"]

#: the audit's panel and then some: stock torch optimizers and catalog genomes
DEFAULT_PANEL = ("Adam", "SGD", "Momentum", "RMSProp", "QHM", "Opt6", "Opt10", "PowerSign")


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
    from gp_opt.tasks import CATALOG_ALIASES, STOCK_OPTIMIZERS

    known = set(catalog.names())
    bad = [n for n in names if n.lower() not in STOCK_OPTIMIZERS and CATALOG_ALIASES.get(n.lower(), n) not in known]
    if bad:
        raise GpOptError(f"unknown panel optimizer(s) {', '.join(bad)}: use stock names "
                         f"({', '.join(sorted(STOCK_OPTIMIZERS))}) or catalog names (gp-opt catalog)")
    # one optimizer named twice (Adam,adam) would count as two panel entries that always agree
    seen: dict[str, str] = {}
    for n in names:
        key = n.lower() if n.lower() in STOCK_OPTIMIZERS else CATALOG_ALIASES.get(n.lower(), n)
        if key in seen:
            raise GpOptError(f"panel optimizer {n!r} named twice (also as {seen[key]!r}); name each once")
        seen[key] = n


def panel_candidate(name: str, kind: str) -> Any:
    """What an evaluator of ``kind`` (``surrogate``, ``task`` or ``multi``) evaluates for panel
    entry ``name`` (see :func:`gp_opt.tasks.reference_optimizer`)."""
    from gp_opt.tasks import NamedOptimizer, reference_optimizer

    if kind == "multi":
        return NamedOptimizer(name)
    return reference_optimizer(name, surrogate=kind == "surrogate")
