"""The algorithms, each a short function in the shape of DEAP's ``algorithms.ea*`` over the
shared pieces (:class:`.loop.SearchLoop` around it, :meth:`.engine.Engine.vary` for children):
the paper's particle GA (SPEC section 7), regularized evolution and random search (the
control). Each returns ``(population, logbook)``.

:data:`ALGORITHMS` is the one list of them: ``run_search``/``resume_search`` start an algorithm
from run.json's config through its entry, the command line offers its names, and a checkpoint is
checked against it. A new algorithm is a function here and an :class:`Algorithm` entry.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
from deap import tools

if TYPE_CHECKING:
    from typing_extensions import Unpack

from ..errors import CheckpointError, GpOptError
from .candidate import Candidate, History, is_ok, on_init_scale, rank, score
from .diversity import distinct_children
from .engine import Slot
from .loop import RunOptions, SearchLoop, positive
from .pareto import ARCHIVE_NAME, ParetoArchive, nsga2_select, objective_values
from .progress import fmt_fit

log = logging.getLogger("gp_opt.search")


def particle_search(toolbox: Any, n_particles: int, n_steps: int, n_children: int,
                    init_factor: int = 10, max_redraws: int = 4, objectives: Sequence[str] | None = None,
                    **options: Unpack[RunOptions]) -> tuple[list[Candidate], tools.Logbook]:
    """The paper's particle GA. ``init_factor * n_particles`` random individuals are evaluated and
    the best ``n_particles`` become particles; for ``n_steps`` time steps each particle makes
    ``n_children`` mutated children (novel within the particle's history); a child failing the
    screen (status != ok) is replaced by a fresh mutation up to ``max_redraws`` times; the best
    child becomes the particle's next position even when worse than the parent (aging). A particle
    none of whose children passes stays where it is. Returns ``(particles, logbook)``;
    ``halloffame`` (if given) holds the best ok candidates ever seen; ``options``: :class:`RunOptions`.

    The Pareto variant (``objectives``, e.g. ``("fitness", "memory")``, :mod:`.pareto`): the initial
    particles are the ``n_particles`` DEAP's NSGA-II keeps of the initial population (so they start
    spread along its front, not all at the best score), each step a particle moves to the child
    NSGA-II keeps of its ok children (:func:`tournament_winner`; aging as above), and every ok
    candidate off the archive's front so far is appended to ``RUN_DIR/pareto.jsonl``."""
    positive(n_particles=n_particles, n_steps=n_steps, n_children=n_children, init_factor=init_factor)
    run = SearchLoop("particle", toolbox, unit="step", n_steps=n_steps,
                     expected=init_factor * n_particles + n_steps * n_particles * n_children, **options)
    archive = ParetoArchive(run.rundir.path, objectives) if objectives and run.rundir is not None else None
    if run.state is None:
        pop = run.initial(init_factor * n_particles)
        run.race(pop, 0)
        if archive is not None:
            archive.add(pop)
        if objectives:
            particles = [pop[i] for i in nsga2_select([objective_values(c, objectives) for c in pop], objectives,
                                                     n_particles)]
        else:
            particles = sorted(pop, key=rank, reverse=True)[:n_particles]  # stable: first of equals
        for i, p in enumerate(particles):
            p.meta = dict(p.meta, particle=i)
        if not all(is_ok(p) for p in particles):
            log.warning("only %d of %d initial candidates passed; some particles start rejected",
                        sum(is_ok(p) for p in pop), len(pop))
        histories = [History(run.engine.ops.keys(p.payload)) for p in particles]
        run.done(0, particles, pop, particles=particles, histories=[h.order for h in histories])
        run.say(f"init done: best {fmt_fit(score(particles[0]))}; {run.status()}")
    else:
        particles, histories = run.candidates("particles"), [History(h) for h in run.state["histories"]]
        if len(particles) != n_particles:
            raise CheckpointError(f"checkpoint has {len(particles)} particles, the run asks for {n_particles}")
    for step in run.generations(n_steps):
        children = run.engine.vary([(particles[p], histories[p], {"phase": "step", "step": step + 1,
                                                                  "particle": p, "slot": j})
                                    for p in range(n_particles) for j in range(n_children)], max_redraws)
        run.race(children, step + 1)
        if archive is not None:
            archive.add(c for c in children if is_ok(c))
        for p in range(n_particles):
            ok = [c for c in children[p * n_children:(p + 1) * n_children] if is_ok(c)]
            if ok:  # tournament_winner: the best score, the first of equals, or NSGA-II's pick
                particles[p] = ok[tournament_winner(ok, list(range(len(ok))), objectives)]
            run.admit(ok)
            run.say(f"step {step + 1}/{n_steps} particle {p + 1}/{n_particles}: now at fitness "
                    f"{fmt_fit(score(particles[p]))}, best so far {run.best_so_far()} | {run.status()}")
        run.rescore(particles, step + 1)
        run.done(step + 1, particles, [], particles=particles, histories=[h.order for h in histories])
    if archive is not None:
        say_front(run, archive)
    run.finish("particle search done", [(f"particle {i}", p) for i, p in enumerate(particles)])
    return particles, run.logbook


def regularized_evolution(toolbox: Any, population_size: int, cycles: int, sample_size: int,
                          n_children: int = 1, max_redraws: int = 4, objectives: Sequence[str] | None = None,
                          distinct: float | None = None, restart_every: int | None = None,
                          **options: Unpack[RunOptions]) -> tuple[list[Candidate], tools.Logbook]:
    """Aging evolution (Real et al. 2019): a population of ``population_size`` random individuals;
    each of ``cycles`` cycles draws ``n_children`` tournaments of ``sample_size`` (without
    replacement), mutates each winner (a child failing the screen is redrawn up to
    ``max_redraws`` times), evaluates the children through ``toolbox.map``, appends the ok ones
    and removes as many of the oldest. Returns ``(population, logbook)`` (oldest first);
    ``options``: :class:`RunOptions`. ``objectives`` (e.g. ``("fitness", "memory")``,
    :mod:`.pareto`): each tournament's winner is the one DEAP's NSGA-II keeps of its sample
    instead of the best score, and every ok candidate off the archive's front so far is appended
    to ``RUN_DIR/pareto.jsonl``. ``distinct`` (a behavioural distance, e.g.
    :data:`.diversity.TOLERANCE`): a child that is a near-twin of a living member or of an
    earlier child of its cycle does not join the population (:mod:`.diversity`). ``restart_every``
    (cycles): before cycles ``restart_every``, ``2 * restart_every``, ... the whole population is
    replaced by ``population_size`` fresh random candidates (logged as phase ``restart``, on top of
    the cycles' children; the hall of fame and the history stay): a population that has converged on
    a plateau far from the best region starts again, and each restart is a fresh chance to land
    near it (rediscovery's Adam, docs/search.md)."""
    positive(population_size=population_size, cycles=cycles, sample_size=sample_size, n_children=n_children,
             **({"restart_every": restart_every} if restart_every is not None else {}))
    if sample_size > population_size:
        raise GpOptError(f"sample_size {sample_size} exceeds population_size {population_size}")
    run = SearchLoop("regularized", toolbox, unit="cycle", expected=population_size + cycles * n_children,
                     n_steps=cycles, **options)
    archive = ParetoArchive(run.rundir.path, objectives) if objectives and run.rundir is not None else None
    if run.state is None:
        pop = run.initial(population_size)
        run.race(pop, 0)
        if archive is not None:
            archive.add(pop)
        history = History(k for p in pop for k in run.engine.ops.keys(p.payload))
        run.done(0, pop, pop, population=pop, history=history.order)
        run.say(f"init done: best {fmt_fit(max(map(score, pop)))}; {run.status()}")
    else:
        pop, history = run.candidates("population"), History(run.state["history"])
    for cycle in run.generations(cycles):
        if restart_every and cycle and cycle % restart_every == 0:
            pop = run.engine.evaluate(run.engine.draw(population_size, {"phase": "restart", "step": cycle + 1}))
            for p in pop:
                history.add_all(run.engine.ops.keys(p.payload))
            run.say(f"cycle {cycle + 1}: restart, {population_size} fresh random members (best "
                    f"{fmt_fit(max(map(score, pop)))})")
        parents = [tournament_winner(pop, rng_choice(run.engine.rng, len(pop), sample_size), objectives)
                   for _ in range(n_children)]
        children = run.engine.vary([(pop[i], history, {"phase": "cycle", "step": cycle + 1, "particle": None,
                                                       "slot": j}) for j, i in enumerate(parents)], max_redraws)
        run.race(children, cycle + 1)
        ok = [c for c in children if is_ok(c)]
        if archive is not None:
            archive.add(ok)
        joining = ok if distinct is None else distinct_children(ok, pop, run.engine.ops.behaviour_distances, distinct)
        pop = (pop + joining)[len(joining):]  # the oldest die
        run.rescore(pop, cycle + 1)
        run.done(cycle + 1, pop, ok, population=pop, history=history.order)
        run.say(f"cycle {cycle + 1}/{cycles}: best child {fmt_fit(max(map(score, ok), default=float('-inf')))} "
                f"best so far {run.best_so_far()} | {run.status()}")
    if archive is not None:
        say_front(run, archive)
    run.finish("regularized evolution done",
               [(f"member {i}", p) for i, p in enumerate(sorted(pop, key=rank, reverse=True)[:5])])
    return pop, run.logbook


def say_front(run: SearchLoop, archive: ParetoArchive) -> None:
    """The run's last progress line before the summary: the archive's front; closes the archive."""
    run.say(f"Pareto front ({','.join(archive.names)}): "
            + "; ".join(str(line["values"]) for line in archive.front()) + f" ({ARCHIVE_NAME})")
    archive.close()


def tournament_winner(pop: list[Candidate], sample: list[int], objectives: Sequence[str] | None = None) -> int:
    """The index in ``sample`` that wins: the best score (the first of equals), or with
    ``objectives`` the one NSGA-II keeps of the sample (:func:`.pareto.nsga2_select`) -- among the
    sample's members of the children's scale where it has any (:func:`.candidate.rank`: no score
    is compared across scales)."""
    if not objectives:
        return max(sample, key=lambda i: (rank(pop[i]), -i))
    if any(not on_init_scale(pop[i]) for i in sample):
        sample = [i for i in sample if not on_init_scale(pop[i])]
    points = [objective_values(pop[i], objectives) for i in sample]
    return sample[nsga2_select(points, objectives, 1)[0]]


def random_search(toolbox: Any, n_initial: int, n_batches: int, batch_size: int, **options: Unpack[RunOptions],
                  ) -> tuple[list[Candidate], tools.Logbook]:
    """Random search, the control: ``n_initial`` random candidates, then ``n_batches`` batches of
    ``batch_size`` more, ``n_initial + n_batches * batch_size`` logged candidates in all (cache
    hits count). Each is redrawn until it passes the integrity check and goes through the same
    cache, evaluation and log as any candidate; one failing the screen is not redrawn (the next
    random one is as good a draw). Returns ``(last batch, logbook)``; the hall of fame holds the
    best; ``options``: :class:`RunOptions`."""
    positive(n_initial=n_initial, n_batches=n_batches, batch_size=batch_size)
    run = SearchLoop("random", toolbox, unit="step", expected=n_initial + n_batches * batch_size,
                     n_steps=n_batches, **options)
    batch = run.candidates("population") if run.state is not None else run.initial(n_initial)
    if run.state is None:
        run.done(0, batch, batch, population=batch, history=[])
        run.say(f"init done: best {fmt_fit(max(map(score, batch)))}; {run.status()}")
    for step in run.generations(n_batches):
        batch = run.engine.evaluate(run.engine.draw(batch_size, {"phase": "step", "step": step + 1}))
        run.done(step + 1, batch, batch, population=batch, history=[])
        run.say(f"step {step + 1}/{n_batches}: best of the batch {fmt_fit(max(map(score, batch)))}, best so far "
                f"{run.best_so_far()} | {run.status()}")
    run.finish("random search done", [])
    return batch, run.logbook


def local_search(toolbox: Any, n_initial: int, n_steps: int, batch_size: int, **options: Unpack[RunOptions],
                 ) -> tuple[list[Candidate], tools.Logbook]:
    """Iterated local search: steepest descent over the one-edit neighbourhood
    (``toolbox.neighbours``, :class:`.contract.Neighbourhood`) from the best of ``n_initial``
    random candidates; at a local optimum (no neighbour better), ``n_initial`` fresh random
    candidates and a descent from their best. Each of ``n_steps`` steps logs ``batch_size``
    candidates: the next unseen neighbours of the current point, or the next random draws. A
    descent moves only once the whole neighbourhood is scored, to its best neighbour if that is
    better than the point (a neighbourhood is finite: a few hundred genomes). Random search finds
    the region, the descent takes the last edits random search does not. Returns ``(current point
    and the best of the phase, logbook)``; ``options``: :class:`RunOptions`."""
    positive(n_initial=n_initial, n_steps=n_steps, batch_size=batch_size)
    run = SearchLoop("local", toolbox, unit="step", expected=n_initial + n_steps * batch_size, n_steps=n_steps,
                     **options)
    ops = run.engine.ops
    if ops.neighbours is None:
        raise GpOptError("local search needs toolbox.neighbours (every payload one edit away); "
                         "genome toolboxes have it, a schedule-only search does not")
    if run.state is None:
        pop = run.initial(n_initial)
        history = History(k for p in pop for k in ops.keys(p.payload))
        st = LocalState(best_of=best_candidate(pop))
        run.done(0, pop, pop, **st.checkpoint(ops, history))
        run.say(f"init done: best {fmt_fit(max(map(score, pop)))}; {run.status()}")
    else:
        history = History(run.state["history"])
        st = LocalState.restore(run.state, ops)

    def seen(batch: list[Candidate]) -> None:   # at once: a move's neighbourhood shares re-pointings with the last
        for c in batch:
            history.add_all(ops.keys(c.payload))

    for step in run.generations(n_steps):
        fresh: list[Candidate] = []
        while len(fresh) < batch_size:
            room = batch_size - len(fresh)
            if st.point is None and st.remaining == 0:   # a random phase is over: descend from its best
                st.start(st.best_of, ops.neighbours(st.best_of.payload, history, run.engine.tally)
                         if st.best_of is not None else [], n_initial)
            elif st.point is None:                         # a random phase: the next draws
                batch = run.engine.evaluate(run.engine.draw(min(room, st.remaining), {"phase": "restart", "step": step + 1}))
                seen(batch)
                st.remaining -= len(batch)
                st.best_of = best_candidate([st.best_of] + batch)
                fresh += batch
            elif st.queue:                                 # the point's neighbourhood: the next ones
                take, st.queue = st.queue[:room], st.queue[room:]
                slots = [Slot(p, {"phase": "step", "step": step + 1, "particle": None, "slot": len(fresh) + j,
                                  "attempt": 0}) for j, p in enumerate(take)]
                batch = run.engine.evaluate(slots)
                seen(batch)
                st.best_of = best_candidate([st.best_of] + batch)
                fresh += batch
            elif st.best_of is not None and is_ok(st.best_of) and rank(st.best_of) > rank(st.point):
                st.start(st.best_of, ops.neighbours(st.best_of.payload, history, run.engine.tally), n_initial)
            else:                                          # a local optimum: a new random phase
                run.say(f"step {step + 1}: local optimum {fmt_fit(score(st.point))}; {n_initial} random candidates")
                st.point, st.best_of, st.remaining = None, None, n_initial
        run.done(step + 1, st.members(), fresh, **st.checkpoint(ops, history))
        run.say(f"step {step + 1}/{n_steps}: best so far {run.best_so_far()} | {run.status()}")
    run.finish("local search done", [("point" if i == 0 and st.point is not None else "best", c)
                                      for i, c in enumerate(st.members())])
    return st.members(), run.logbook


def best_candidate(cands: list[Candidate | None]) -> Candidate | None:
    """The best passing candidate of ``cands`` (None entries skipped), or None."""
    ok = [c for c in cands if c is not None and is_ok(c)]
    return max(ok, key=rank) if ok else None


@dataclass
class LocalState:
    """Where :func:`local_search` is: descending from ``point`` (its unscored neighbours in
    ``queue``, the best scored one in ``best_of``), or (``point`` None) in a random phase with
    ``remaining`` draws to go, ``best_of`` the best of them so far."""

    point: Candidate | None = None
    queue: list[Any] | None = None
    best_of: Candidate | None = None
    remaining: int = 0

    def start(self, point: Candidate | None, queue: list[Any], n_initial: int) -> None:
        """Descend from ``point`` (None: no passing candidate yet, draw again)."""
        if point is None:
            self.point, self.queue, self.best_of, self.remaining = None, [], None, n_initial
        else:
            self.point, self.queue, self.best_of = point, list(queue), None

    def members(self) -> list[Candidate]:
        return [c for c in (self.point, self.best_of) if c is not None]

    def checkpoint(self, ops: Any, history: History) -> dict[str, Any]:
        return {"population": self.members(), "roles": [r for r, c in (("point", self.point), ("best_of", self.best_of))
                                                       if c is not None],
                "queue": [ops.serialize(p) for p in self.queue or []], "remaining": self.remaining,
                "history": history.order}

    @classmethod
    def restore(cls, state: dict[str, Any], ops: Any) -> "LocalState":
        found = dict(zip(state["roles"], (ops.from_dict(d) for d in state["population"])))
        return cls(point=found.get("point"), queue=[ops.deserialize(v) for v in state["queue"]],
                   best_of=found.get("best_of"), remaining=int(state["remaining"]))


def rng_choice(rng: np.random.Generator, n: int, k: int) -> list[int]:
    return [int(i) for i in rng.choice(n, size=k, replace=False)]


@dataclass(frozen=True)
class Algorithm:
    """What the run machinery knows of an algorithm."""
    #: starts it from run.json's config (:func:`gp_opt.search.run_search` writes it): ``start(toolbox,
    #: cfg, **RunOptions)`` -> ``(population, logbook)``
    start: Callable[..., tuple[list[Candidate], tools.Logbook]]
    #: the config key holding its number of generations (a checkpoint's step may not exceed it)
    generations: str
    #: one line for ``--help``
    summary: str
    #: ``run_search`` options it has no use for (given, they are an error, not silently ignored)
    unused: tuple[str, ...] = ()
    #: children it evaluates per generation, from ``particles`` and ``children`` (run.json's
    #: ``children_per_cycle``)
    children_per_generation: Callable[[int, int], int] = lambda particles, children: children


def _start_particle(toolbox: Any, cfg: dict[str, Any], **options: Any) -> tuple[list[Candidate], tools.Logbook]:
    return particle_search(toolbox, cfg["particles"], cfg["steps"], cfg["children"], init_factor=cfg["init_factor"],
                           max_redraws=cfg["max_redraws"], objectives=cfg.get("objectives"), **options)


def _start_regularized(toolbox: Any, cfg: dict[str, Any], **options: Any) -> tuple[list[Candidate], tools.Logbook]:
    return regularized_evolution(toolbox, cfg["population_size"], cfg["cycles"], cfg["sample_size"],
                                 n_children=cfg["children_per_cycle"], max_redraws=cfg["max_redraws"],
                                 objectives=cfg.get("objectives"), distinct=cfg.get("distinct"),
                                 restart_every=cfg.get("restart_every"), **options)


def _start_local(toolbox: Any, cfg: dict[str, Any], **options: Any) -> tuple[list[Candidate], tools.Logbook]:
    return local_search(toolbox, cfg["init_factor"] * cfg["particles"], cfg["steps"],
                        cfg["particles"] * cfg["children"], **options)


def _start_random(toolbox: Any, cfg: dict[str, Any], **options: Any) -> tuple[list[Candidate], tools.Logbook]:
    return random_search(toolbox, cfg["init_factor"] * cfg["particles"], cfg["steps"],
                         cfg["particles"] * cfg["children"], **options)


#: every algorithm a run can name, by the name run.json and ``--algorithm`` use (the first is the default)
ALGORITHMS: dict[str, Algorithm] = {
    "particle": Algorithm(_start_particle, "steps", "the paper's particle GA (SPEC section 7)",
                          unused=("population_size", "cycles", "sample_size", "distinct", "restart_every")),
    "regularized": Algorithm(_start_regularized, "cycles", "aging evolution (Real et al. 2019)",
                             children_per_generation=lambda particles, children: particles * children),
    "random": Algorithm(_start_random, "steps", "random search, the control: the particle GA's expected "
                        "number of candidates, all drawn at random",
                        unused=("max_redraws", "population_size", "cycles", "sample_size", "init_from", "noise",
                                "objectives", "distinct", "restart_every")),
    "local": Algorithm(_start_local, "steps", "iterated local search: steepest descent over every one-edit "
                       "neighbour from the best of init_factor x particles random candidates, again from fresh "
                       "ones at each local optimum; the same budget as the particle GA",
                       unused=("max_redraws", "population_size", "cycles", "sample_size", "noise", "objectives",
                               "distinct", "restart_every")),
}
