"""Schedule-only search: the update equation fixed, only its decay functions -- and so the
learning-rate schedule -- evolved (``gp-opt search --fix-update Adam``).

The fixed update is a catalog name or a genome file (any grammar whose primitives the search's
grammar has, with the same meaning: :func:`gp_opt.search.warmstart.in_grammar`); its own decay
functions are dropped, its graph, momentum type and sign kept. The initial population is that
graph with a random decay function on each edge with probability :data:`DECAY_INIT` (the
integrity check applies, its sign flip included); mutation is only SPEC section 7's decay kind
(add, delete or mutate the decay function of an edge). The winner's schedule is factored out of
``U`` (:func:`gp_opt.symbolic.factor_schedule`) and drives any torch optimizer as an
:class:`~gp_opt.optim.EvolvedLR`::

    sched = EvolvedLR(torch.optim.Adam(params, lr=1e-3), catalog.load("run/best.json"), total_steps=T)
"""
from __future__ import annotations

import collections
from typing import Any

import numpy as np

from ..errors import GpOptError

#: mutation probabilities of a schedule-only search: the update graph's decay kind only
PROBS = {"op": 0.0, "connection": 0.0, "arity": 0.0, "momentum": 0.0, "decay": 1.0}
#: the probability that an edge of the fixed update starts with a random decay function
DECAY_INIT = 0.5
#: draws per wanted genome before the initial population gives up (the fixed update itself fails
#: the integrity check whatever its decays, e.g.)
MAX_DRAWS_PER_GENOME = 200


def fixed_update(spec: Any, grammar: Any) -> Any:
    """The update genome ``spec`` (a catalog name, a genome file or a genome) in ``grammar``,
    without decay functions. One :class:`GpOptError` line for an unknown name, an unreadable
    file or a genome from a grammar whose primitives ``grammar`` lacks."""
    from .warmstart import in_grammar, load_into

    if hasattr(spec, "to_dict"):
        genome = in_grammar(spec, grammar, "--fix-update")
    else:
        genome = load_into(str(spec), grammar, "--fix-update")
    bare = genome.copy()
    for node in bare.active_inner_nodes():
        srcs = [s for s, _ in bare.input_edges(node)]
        bare.set_inputs(node, srcs, [None] * len(srcs))
    bare.meta = {"fixed_update": genome.meta.get("name") or (spec if isinstance(spec, str) else "genome")}
    return bare


class FixedUpdatePopulation:
    """``population(rng, n)``: the fixed update with random decay functions on its edges, each
    passing the integrity check (its flip applied). Picklable (a pool worker may rebuild it)."""

    def __init__(self, grammar: Any, fixed: dict[str, Any]):
        self.grammar, self.fixed = grammar, fixed

    def draw(self, rng: np.random.Generator) -> Any:
        from ..genome import DecayGenome, OptimizerGenome

        g = OptimizerGenome.from_dict(self.fixed, self.grammar)
        for node in g.active_inner_nodes():
            edges = g.input_edges(node)
            decays = [DecayGenome.random(rng, self.grammar) if rng.random() < DECAY_INIT else None
                      for _ in edges]
            g.set_inputs(node, [s for s, _ in edges], decays)
        return g

    def __call__(self, rng: np.random.Generator, n: int, tally: collections.Counter | None = None) -> list[Any]:
        from .. import integrity

        out: list[Any] = []
        tries = 0
        while len(out) < n:
            if tries >= MAX_DRAWS_PER_GENOME * n:
                raise GpOptError(f"--fix-update: only {len(out)} of {n} genomes with the fixed update passed the "
                                 f"integrity check in {tries} draws")
            draws = [self.draw(rng) for _ in range(max(16, 3 * (n - len(out))))]
            tries += len(draws)
            for g, res in zip(draws, integrity.check_many(draws, integrity.DEFAULT_CONFIG)):
                if res.passed and len(out) < n:
                    out.append(integrity.apply(g, res))
                elif not res.passed and tally is not None:
                    tally["integrity_rejections"] += 1
        return out


def mutate_options(options: dict[str, Any] | None) -> dict[str, Any]:
    """``options`` with the mutation probabilities of a schedule-only search."""
    out = dict(options or {})
    out["probs"] = {**(out.get("probs") or {}), **PROBS}
    return out


def schedule_lines(genome: Any, path: str, fixed: dict[str, Any] | None = None) -> list[str]:
    """What to tell the user about a schedule-only winner (``fixed``: the run's fixed update, its
    JSON dict): its factored schedule and how to use it with any torch optimizer."""
    from .. import symbolic as S

    sched, update = S.factor_schedule(genome, expand_schedules=False, expand_operands=False)
    gm = genome.grammar
    name = ((fixed or {}).get("meta") or {}).get("fixed_update", "the given genome")
    return [f"schedule only (update fixed to {name}): "
            f"U = F(t) * ({S.text_expr(update, gm)}), F(t) = {S.text_expr(sched, gm)}",
            f"use the schedule with any torch optimizer: EvolvedLR(optimizer, catalog.load({path!r}), "
            f"total_steps=...)  (gp_opt.optim.EvolvedLR, gp_opt.catalog)"]
