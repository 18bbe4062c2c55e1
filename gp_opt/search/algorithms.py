"""The two algorithms, in the shape of DEAP's ``algorithms.ea*``: the paper's particle GA
(SPEC section 7) and regularized evolution."""
from __future__ import annotations

import collections
import logging
import math
import time
from typing import Any

import numpy as np
from deap import base, tools

from ..errors import CheckpointError, GpOptError
from .candidate import Candidate, History, default_stats, is_ok, same_key, score
from .engine import (Engine, check_toolbox, fmt_fit, hof_state, positive, report_timings, restore_hof,
                     restore_logbook, summary)

log = logging.getLogger("gp_opt.search")


def particle_search(toolbox: base.Toolbox, n_particles: int, n_steps: int, n_children: int,
                    init_factor: int = 10, max_redraws: int = 4, stats: tools.Statistics | None = None,
                    halloffame: tools.HallOfFame | None = None, rundir: Any = None,
                    verbose: bool = True, rng: np.random.Generator | int | None = None,
                    timings: dict[str, float] | None = None,
                    _resume: tuple[dict[str, Any] | None, list[dict[str, Any]]] | None = None,
                    ) -> tuple[list[Candidate], tools.Logbook]:
    """The paper's particle GA. ``init_factor * n_particles`` random individuals are evaluated and
    the best ``n_particles`` become particles; for ``n_steps`` time steps each particle makes
    ``n_children`` mutated children (novel within the particle's history); a child failing the
    screen (status != ok) is replaced by a fresh mutation up to ``max_redraws`` times; the best
    child becomes the particle's next position even when worse than the parent (aging). A particle
    none of whose children passes stays where it is. Returns ``(particles, logbook)``;
    ``halloffame`` (if given) holds the best ok candidates ever seen."""
    check_toolbox(toolbox)
    positive(n_particles=n_particles, n_steps=n_steps, n_children=n_children, init_factor=init_factor)
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    stats = stats if stats is not None else default_stats()
    hof = halloffame if halloffame is not None else tools.HallOfFame(10, similar=same_key)
    logbook = tools.Logbook()
    logbook.header = ["step", "nevals", "hits", "rejected", "integrity"] + (stats.fields if stats else [])
    engine = Engine(toolbox, rng, rundir, verbose)
    engine.expected, engine.n_steps = init_factor * n_particles + n_steps * n_particles * n_children, n_steps

    state = engine.resume_from(_resume, "particle")

    def record(step: int, particles: list[Candidate], before: collections.Counter) -> None:
        engine.record(logbook, stats, {"step": step}, particles, before)

    def checkpoint(step: int, particles: list[Candidate], histories: list[History]) -> None:
        if rundir is None:
            return
        t0 = time.perf_counter()
        rundir.save_checkpoint({
            "algorithm": "particle", "step": step,
            "particles": [engine.ind_to_dict(p) for p in particles],
            "histories": [h.order for h in histories], "hof": hof_state(engine, hof),
            "logbook": list(logbook), **engine.common_state()})
        engine.timings["checkpoint"] += time.perf_counter() - t0

    if state is None:
        before = engine.tally.copy()
        n_init = init_factor * n_particles
        slots = engine.initial(n_init)
        pop = engine.evaluate(slots)
        order = sorted(range(len(pop)), key=lambda i: (-score(pop[i]), i))
        particles = [pop[i] for i in order[:n_particles]]
        for i, p in enumerate(particles):
            p.meta = dict(p.meta, particle=i)
        if not all(is_ok(p) for p in particles):
            log.warning("only %d of %d initial candidates passed; some particles start rejected",
                        sum(is_ok(p) for p in pop), n_init)
        histories = [History(engine.keys(p.payload)) for p in particles]
        hof.update([p for p in pop if is_ok(p)])
        record(0, particles, before)
        engine.say(f"init done: best {fmt_fit(score(particles[0]))}; {engine.tally_text()} | {engine.clock()}")
        start = 0
        checkpoint(0, particles, histories)
    else:
        particles = [engine.ind_from_dict(d) for d in state["particles"]]
        histories = [History(h) for h in state["histories"]]
        restore_hof(engine, hof, state["hof"])
        restore_logbook(logbook, state["logbook"])
        start = int(state["step"])
        if len(particles) != n_particles:
            raise CheckpointError(f"checkpoint has {len(particles)} particles, the run asks for {n_particles}")

    t_steps, parts_before = time.perf_counter(), engine.timings.copy()
    for step in range(start, n_steps):
        before = engine.tally.copy()
        children: list[list[Candidate | None]] = [[None] * n_children for _ in range(n_particles)]
        for attempt in range(max_redraws + 1):
            todo = [(p, j) for p in range(n_particles) for j in range(n_children)
                    if not is_ok(children[p][j])]
            if not todo:
                break
            made = engine.mutate_many([(particles[p], histories[p], {"phase": "step", "step": step + 1,
                                                                     "particle": p, "slot": j,
                                                                     "attempt": attempt})
                                       for p, j in todo])
            slots = [s for s in made if s is not None]
            where = [pj for pj, s in zip(todo, made) if s is not None]
            for (p, j), ind in zip(where, engine.evaluate(slots)):
                children[p][j] = ind
        for p in range(n_particles):
            ok = [c for c in children[p] if is_ok(c)]
            if ok:
                best = max(ok, key=score)  # first of equals: max keeps the earliest
                particles[p] = best
            hof.update(ok)
            engine.say(f"step {step + 1}/{n_steps} particle {p + 1}/{n_particles}: now at fitness "
                       f"{fmt_fit(score(particles[p]))}, best so far {fmt_fit(score(hof[0]) if len(hof) else -math.inf)}"
                       f" | {engine.tally_text()} | {engine.clock()}")
        record(step + 1, particles, before)
        checkpoint(step + 1, particles, histories)
    engine.timings["steps"] += time.perf_counter() - t_steps
    engine.step_parts(parts_before)
    engine.timings["step_candidates"] += sum(logbook.select("nevals")[start + 1:]) + \
        sum(logbook.select("hits")[start + 1:])

    summary(engine, "particle search done", [(f"particle {i}", p) for i, p in enumerate(particles)], hof)
    report_timings(engine, timings)
    return particles, logbook


# ---------------------------------------------------------------------------------------------
# regularized evolution (Real et al. 2019), the baseline


def regularized_evolution(toolbox: base.Toolbox, population_size: int, cycles: int, sample_size: int,
                          n_children: int = 1, max_redraws: int = 4,
                          stats: tools.Statistics | None = None,
                          halloffame: tools.HallOfFame | None = None, rundir: Any = None,
                          verbose: bool = True, rng: np.random.Generator | int | None = None,
                          timings: dict[str, float] | None = None,
                          _resume: tuple[dict[str, Any] | None, list[dict[str, Any]]] | None = None,
                          ) -> tuple[list[Candidate], tools.Logbook]:
    """Aging evolution: a population of ``population_size`` random individuals; each of ``cycles``
    cycles draws ``n_children`` tournaments of ``sample_size`` (without replacement), mutates each
    winner (a child failing the screen is redrawn up to ``max_redraws`` times), evaluates the
    children through ``toolbox.map``, appends the ok ones and removes as many of the oldest.
    Returns ``(population, logbook)`` (population oldest first)."""
    check_toolbox(toolbox)
    positive(population_size=population_size, cycles=cycles, sample_size=sample_size, n_children=n_children)
    if sample_size > population_size:
        raise GpOptError(f"sample_size {sample_size} exceeds population_size {population_size}")
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    stats = stats if stats is not None else default_stats()
    hof = halloffame if halloffame is not None else tools.HallOfFame(10, similar=same_key)
    logbook = tools.Logbook()
    logbook.header = ["cycle", "nevals", "hits", "rejected", "integrity"] + (stats.fields if stats else [])
    engine = Engine(toolbox, rng, rundir, verbose)
    engine.expected, engine.n_steps = population_size + cycles * n_children, cycles

    state = engine.resume_from(_resume, "regularized")

    def record(cycle: int, pop: list[Candidate], before: collections.Counter) -> None:
        engine.record(logbook, stats, {"cycle": cycle}, pop, before)

    def checkpoint(cycle: int, pop: list[Candidate], history: History) -> None:
        if rundir is not None:
            t0 = time.perf_counter()
            rundir.save_checkpoint({
                "algorithm": "regularized", "step": cycle,
                "population": [engine.ind_to_dict(p) for p in pop], "history": history.order,
                "hof": hof_state(engine, hof), "logbook": list(logbook), **engine.common_state()})
            engine.timings["checkpoint"] += time.perf_counter() - t0

    if state is None:
        before = engine.tally.copy()
        slots = engine.initial(population_size)
        pop = engine.evaluate(slots)
        history = History(k for p in pop for k in engine.keys(p.payload))
        hof.update([p for p in pop if is_ok(p)])
        record(0, pop, before)
        engine.say(f"init done: best {fmt_fit(max(map(score, pop)))}; {engine.tally_text()} | {engine.clock()}")
        start = 0
        checkpoint(0, pop, history)
    else:
        pop = [engine.ind_from_dict(d) for d in state["population"]]
        history = History(state["history"])
        restore_hof(engine, hof, state["hof"])
        restore_logbook(logbook, state["logbook"])
        start = int(state["step"])

    t_steps, parts_before = time.perf_counter(), engine.timings.copy()
    for cycle in range(start, cycles):
        before = engine.tally.copy()
        parents = []
        for _ in range(n_children):
            sample = rng_choice(engine.rng, len(pop), sample_size)
            parents.append(max(sample, key=lambda i: (score(pop[i]), -i)))
        children: list[Candidate | None] = [None] * n_children
        for attempt in range(max_redraws + 1):
            todo = [j for j in range(n_children) if not is_ok(children[j])]
            if not todo:
                break
            made = engine.mutate_many([(pop[parents[j]], history, {"phase": "cycle", "step": cycle + 1,
                                                                   "particle": None, "slot": j,
                                                                   "attempt": attempt})
                                       for j in todo])
            slots = [s for s in made if s is not None]
            where = [j for j, s in zip(todo, made) if s is not None]
            for j, ind in zip(where, engine.evaluate(slots)):
                children[j] = ind
        ok = [c for c in children if is_ok(c)]
        pop.extend(ok)
        del pop[:len(ok)]  # the oldest die
        hof.update(ok)
        record(cycle + 1, pop, before)
        engine.say(f"cycle {cycle + 1}/{cycles}: best child {fmt_fit(max(map(score, ok), default=-math.inf))} "
                   f"best so far {fmt_fit(score(hof[0]) if len(hof) else -math.inf)} | {engine.tally_text()}"
                   f" | {engine.clock()}")
        checkpoint(cycle + 1, pop, history)
    engine.timings["steps"] += time.perf_counter() - t_steps
    engine.step_parts(parts_before)
    engine.timings["step_candidates"] += sum(logbook.select("nevals")[start + 1:]) + \
        sum(logbook.select("hits")[start + 1:])

    best = sorted(pop, key=lambda c: -score(c))[:5]
    summary(engine, "regularized evolution done", [(f"member {i}", p) for i, p in enumerate(best)], hof)
    report_timings(engine, timings)
    return pop, logbook


def rng_choice(rng: np.random.Generator, n: int, k: int) -> list[int]:
    return [int(i) for i in rng.choice(n, size=k, replace=False)]


# ---------------------------------------------------------------------------------------------
# toolboxes


