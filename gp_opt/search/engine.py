"""The one way candidates get a fitness, and the one way children are made.

:class:`Engine` holds a run's moving parts -- the resolved toolbox (:class:`.contract.Operators`),
the structural RNG, the counters, the fitness cache (:mod:`.cache`), the candidate log
(:mod:`.log`) and the progress lines (:mod:`.progress`) -- and offers what every algorithm uses:
:meth:`Engine.initial` (random payloads), :meth:`Engine.evaluate` (cache, replay or evaluation,
each candidate logged) and :meth:`Engine.vary` (DEAP's ``varOr`` for this search: one child per
request, a child failing the screen redrawn)."""
from __future__ import annotations

import collections
import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

import numpy as np

from ..errors import CheckpointError, GpOptError
from ..fitness import FitnessRecord, OK
from .cache import FitnessCache
from .candidate import INIT_SCALE, Candidate, History, is_ok, make_individual, on_init_scale
from .contract import Operators
from .log import CandidateLog
from .noise import REEVAL, Evaluations, NoiseSettings
from .progress import Progress

log = logging.getLogger("gp_opt.search")

#: a child request: the parent, the history its child must be new in, the child's ids in the log
Request = tuple[Candidate, History, dict[str, Any]]


@dataclass
class Slot:
    """A payload waiting for its fitness: its ids in the log and the seconds it took to make."""
    payload: Any
    meta: dict[str, Any]
    mutate_seconds: float = 0.0


class Engine:
    """A run's moving parts (see the module docstring). ``tally`` counts ``COUNTERS``;
    ``timings`` the wall seconds of this session by part (init, mutate, key, evaluate, log,
    checkpoint)."""

    COUNTERS = ("candidates", "evals", "cache_hits", "rejected", "integrity_rejections", "invalid",
                "duplicates", "mutation_failures", "reevaluations")

    #: before starting an evaluation, the known lines go to disk if the evaluations they hold
    #: took longer than this (slow work is never left unwritten while more work runs); cheap
    #: candidates known together share one write and one fdatasync
    SYNC_BEFORE_EVAL_S = 0.002

    def __init__(self, toolbox: Any, rng: np.random.Generator, rundir: Any, verbose: bool,
                 eval_seed: int | None = None, noise: NoiseSettings | None = None):
        self.ops = Operators(toolbox)
        self.rng = rng
        self.eval_seed = eval_seed
        #: noise-aware selection (None: off): candidates carry their derived record
        self.noise = noise
        self.evaluations = Evaluations()
        self.tally: collections.Counter = collections.Counter({k: 0 for k in self.COUNTERS})
        self.timings: collections.Counter = collections.Counter()
        self.cache = FitnessCache()
        self.log = CandidateLog(rundir)
        self.progress = Progress(self.tally, verbose)
        #: why the run ends early (``toolbox.stop_when``): ``{"reason": str, "seq": int}``, or None
        self.stopped: dict[str, Any] | None = None

    # -- making candidates -----------------------------------------------------------------------

    def initial(self, n: int) -> list[Slot]:
        """The warm starts (``toolbox.init_from``), then ``n`` random payloads."""
        p = self.progress
        p.say(f"drawing {n} random candidates for the initial population (each redrawn until it "
              f"passes the integrity check); then {p.expected - n} children in {p.n_steps} steps")
        seeds = [Slot(payload, {"phase": "init", "step": 0, "particle": None, "slot": i, "attempt": 0,
                                "origin": name})
                 for i, (name, payload) in enumerate(self.ops.init_from)]
        return seeds + self.draw(n, {"phase": "init", "step": 0}, first_slot=len(seeds), timing="init")

    def draw(self, n: int, meta: dict[str, Any], first_slot: int = 0, timing: str = "mutate") -> list[Slot]:
        """``n`` random payloads, each passing the integrity check, as slots ``first_slot, ...``."""
        t0 = time.perf_counter()
        payloads = self.ops.random(self.rng, n, self.tally)
        self.timings[timing] += time.perf_counter() - t0
        dt = (time.perf_counter() - t0) / max(n, 1)
        return [Slot(p, {"particle": None, **meta, "slot": first_slot + i, "attempt": 0}, dt)
                for i, p in enumerate(payloads)]

    def mutate_many(self, requests: list[Request]) -> list[Slot | None]:
        """One child per request: one ``toolbox.mutate_batch`` call for all of them if the toolbox
        has it, else ``toolbox.mutate`` request by request. Either way each child's keys join its
        history before the next request of the same history is served, so the children of one
        history are distinct. None for a parent without a valid new child (counted as
        ``mutation_failures``)."""
        if not requests:
            return []
        t0 = time.perf_counter()
        if self.ops.batch_mutate is not None:
            children = list(self.ops.batch_mutate([(parent.payload, history) for parent, history, _ in requests],
                                                  self.rng, self.tally))
            if len(children) != len(requests):
                raise GpOptError(f"toolbox.mutate_batch returned {len(children)} children for "
                                 f"{len(requests)} requests")
            dts = [(time.perf_counter() - t0) / len(requests)] * len(requests)
        else:
            children, dts = [], []
            for parent, history, _ in requests:
                t1 = time.perf_counter()
                try:
                    child: Any = self.ops.mutate(parent.payload, self.rng, history, self.tally)
                    history.add_all(self.ops.keys(child))
                except GpOptError as exc:
                    child = exc
                children.append(child)
                dts.append(time.perf_counter() - t1)
        self.timings["mutate"] += time.perf_counter() - t0
        out: list[Slot | None] = []
        for (parent, history, meta), child, dt in zip(requests, children, dts):
            if isinstance(child, BaseException):
                self.tally["mutation_failures"] += 1
                log.info("no valid child of %s: %s", parent.key, child)
                out.append(None)
                continue
            if self.ops.batch_mutate is not None:
                history.add_all(self.ops.keys(child))
            out.append(Slot(child, meta, dt))
        return out

    def vary(self, requests: list[Request], max_redraws: int) -> list[Candidate | None]:
        """One evaluated child per request: all open requests are mutated together
        (:meth:`mutate_many`) and evaluated together (:meth:`evaluate`); a child that fails the
        screen (``status != ok``), or a parent without a valid child, gets a fresh mutation, up to
        ``max_redraws`` times (its ``attempt`` counts them). None where no child was made."""
        children: list[Candidate | None] = [None] * len(requests)
        for attempt in range(max_redraws + 1):
            todo = [i for i, c in enumerate(children) if not is_ok(c)]
            if not todo:
                break
            made = self.mutate_many([(requests[i][0], requests[i][1], dict(requests[i][2], attempt=attempt))
                                     for i in todo])
            where = [i for i, s in zip(todo, made) if s is not None]
            for i, ind in zip(where, self.evaluate([s for s in made if s is not None])):
                children[i] = ind
        return children

    # -- the one way candidates get a fitness ----------------------------------------------------

    def evaluate(self, slots: list[Slot]) -> list[Candidate]:
        """Fitness for every slot: cache hit, replay from the log, or evaluation through
        ``toolbox.map``; logged in slot order. Lines are written (one write, one fdatasync) before
        an evaluation starts if the unwritten ones hold more than ``SYNC_BEFORE_EVAL_S`` of
        evaluation, at the end, and when an evaluation raises."""
        t_key = time.perf_counter()
        keys = self.ops.keys_many([s.payload for s in slots])
        self.timings["key"] += time.perf_counter() - t_key
        plan: list[tuple[str, Any]] = []
        to_eval: list[tuple[Any, int | None]] = []
        first_of: dict[str, int] = {}
        for i, (slot, ks) in enumerate(zip(slots, keys)):
            again = slot.meta.get("phase") == REEVAL  # a repeated evaluation: never from the cache
            dup = None if again else next((first_of[k] for k in ks if k in first_of), None)
            replayed = self.log.replayed_record(self.log.n_logged + i)
            if not again and self.cache.get(ks) is not None:
                plan.append(("hit", None))
            elif dup is not None:
                plan.append(("dup", dup))
            elif replayed is not None:
                plan.append(("replay", replayed))
            else:
                plan.append(("eval", None))
                to_eval.append((slot.payload, self.seed_of(self.log.n_logged + i, scored_as(slot.meta))))
            for k in ks:
                first_of.setdefault(k, i)
        phase = scored_as(slots[0].meta) if slots else ""
        if any(scored_as(s.meta) != phase for s in slots):
            raise GpOptError("Engine.evaluate: one batch mixes the initial population's fitness and the children's")
        # a record of the initial population's own fitness says so: it is ranked apart (candidate.rank)
        init_scale = phase == "init" and self.ops.two_scales
        results = self.start_evaluations(phase, to_eval)
        out: list[Candidate] = []
        unsynced = 0.0  # evaluation seconds held by the unwritten lines
        try:
            for slot, ks, (how, arg) in zip(slots, keys, plan):
                if how == "eval":
                    if unsynced > self.SYNC_BEFORE_EVAL_S:
                        self.flush()  # this evaluation may be slow: what is known goes to disk first
                        unsynced = 0.0
                    t0 = time.perf_counter()
                    result, cpu = next(results)
                    rec = as_record(result)
                    if init_scale:
                        rec.extra = {**rec.extra, "scale": INIT_SCALE}
                    dt = time.perf_counter() - t0
                    self.timings["evaluate"] += dt
                    unsynced += dt
                    if not rec.seconds:
                        rec.seconds = dt
                else:
                    cpu = None
                if how == "replay":
                    rec = arg
                elif how == "hit":
                    rec = self.cache.get(ks)
                elif how == "dup":
                    rec = out[arg].record
                out.append(self.settle(slot, ks, rec, how, cpu))
                self.progress.candidate(out[-1], how, len(slots), self.log.n_logged)
        finally:
            self.flush()  # also when an evaluation raised: the lines known so far are kept
        self.check_stop([c for c, (how, _) in zip(out, plan) if how in ("eval", "replay")])
        return out

    def check_stop(self, fresh: list[Candidate]) -> None:
        """Ask ``toolbox.stop_when`` about freshly scored candidates, until it gives a reason."""
        if self.stopped is not None or self.ops.stop_when is None or not fresh:
            return
        answer = self.ops.stop_when([c.payload for c in fresh], [c.record for c in fresh])
        if answer:
            i, reason = answer
            self.stopped = {"reason": str(reason), "seq": int(fresh[i].meta["seq"])}

    def seed_of(self, seq: int, phase: str = "") -> int | None:
        """The evaluation seed of candidate ``seq`` (None: the evaluator's own, or it takes none)."""
        if self.eval_seed is None or not self.ops.takes_seed(phase):
            return None
        return evaluation_seed(self.eval_seed, seq)

    def start_evaluations(self, phase: str, items: list[tuple[Any, int | None]]) -> Iterator[tuple[Any, float | None]]:
        """Submit ``(payload, seed)`` items to ``toolbox.map`` now; yield ``(result, CPU seconds)``
        in order. A batched map (one that trains many candidates together) gets the payloads
        themselves when no seed is given, and then no CPU seconds are measured."""
        if not items:
            return iter(())
        evaluate = self.ops.evaluator(phase)
        if self.ops.batched_map() and all(seed is None for _, seed in items):
            return ((result, None) for result in self.ops.map(evaluate, [p for p, _ in items]))
        return (result if isinstance(result, tuple) else (result, None)  # an executor's lost record
                for result in self.ops.map(TimedCall(evaluate), items))

    def settle(self, slot: Slot, ks: list[str], rec: FitnessRecord, how: str, cpu: float | None = None) -> Candidate:
        """File a candidate whose record is known: cache, counters, log line."""
        hit = how in ("hit", "dup")
        seq = self.log.n_logged
        key = ks[0] if ks else None
        write = self.log.settle(key, hit)
        again = slot.meta.get("phase") == REEVAL
        if not again:  # the cache keeps a candidate's first record, as the log replays it
            self.cache.put(ks, rec, hit)
        if not hit:
            self.evaluations.add(key, rec)
        self.tally["candidates"] += 1
        self.tally["cache_hits" if hit else "evals"] += 1
        self.tally["reevaluations"] += again
        if rec.status != OK:
            self.tally["rejected"] += 1
        if write and self.log.rundir is not None:  # (serializing a genome costs: only for a log)
            t_log = time.perf_counter()
            self.log.add(seq, slot.meta, ks, self.ops.serialize(slot.payload), rec, hit, slot.mutate_seconds,
                         cpu_seconds=cpu, eval_seed=self.seed_of(seq, scored_as(slot.meta)) if how == "eval" else None)
            self.timings["log"] += time.perf_counter() - t_log
        selected = (self.evaluations.derived(key) or rec) if self.noise is not None else rec
        return make_individual(slot.payload, key, selected, dict(slot.meta, seq=seq, cache_hit=hit))

    def reevaluate(self, cands: list[Candidate], step: int) -> None:
        """One more evaluation of each candidate, on its fresh seed, logged (``phase: reeval``),
        by the fitness of its first evaluation: a candidate of the initial population's own scale
        (``scale: init`` in its line's meta) is re-scored by ``evaluate_init``, so that its mean
        never averages two scales."""
        slots = [Slot(c.payload, {"phase": REEVAL, "step": step, "particle": None, "slot": i, "attempt": 0,
                                  **({"scale": INIT_SCALE} if on_init_scale(c) else {})})
                 for i, c in enumerate(cands)]
        for init in (False, True):  # one evaluator per batch
            batch = [s for s in slots if ("scale" in s.meta) == init]
            if batch:
                self.evaluate(batch)

    def refresh(self, cands: Iterable[Candidate | None]) -> None:
        """Give each candidate its derived record (noise-aware selection)."""
        for c in cands:
            rec = self.evaluations.derived(c.key) if c is not None else None
            if rec is not None:
                c.record = rec
                c.fitness.values = (float(rec.fitness),)

    def flush(self) -> None:
        t_log = time.perf_counter()
        self.log.flush()
        self.timings["log"] += time.perf_counter() - t_log

    # -- state -----------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """What every checkpoint holds besides the algorithm's own state."""
        from ..rundir import rng_state

        return {"n_logged": self.log.n_logged, "counters": dict(self.tally), "rng": rng_state(self.rng),
                "seconds": self.progress.elapsed(), **({"stopped": self.stopped} if self.stopped else {})}

    def restore(self, state: dict[str, Any] | None, lines: list[dict[str, Any]]) -> None:
        """Take up a resumed run from its checkpointed ``state`` (None before the first checkpoint:
        every logged line is replayed instead)."""
        from ..rundir import restore_rng

        if state is None:
            self.log.restart(0, lines)
            return
        n = int(state["n_logged"])
        if len(lines) < n:
            raise CheckpointError(f"candidates.jsonl has {len(lines)} lines but the checkpoint "
                                  f"needs {n}: the log was truncated or replaced")
        self.rng = restore_rng(state["rng"])
        self.stopped = state.get("stopped")
        self.tally.clear()
        self.tally.update({k: 0 for k in self.COUNTERS})
        self.tally.update({k: int(v) for k, v in state["counters"].items()})
        self.progress.resumed(float(state.get("seconds", 0.0)))
        self.cache.prime([line for line in lines[:n] if line.get("phase") != REEVAL])
        self.evaluations.rebuild(lines[:n])
        self.log.restart(n, lines)


def scored_as(meta: dict[str, Any]) -> str:
    """The phase whose fitness scores a slot: its own, but a re-evaluation of a candidate first
    scored by the initial population's fitness (``scale: init``) is scored by that one again."""
    if meta.get("phase") == REEVAL and meta.get("scale") == INIT_SCALE:
        return "init"
    return str(meta.get("phase", ""))


def evaluation_seed(run_seed: int, seq: int) -> int:
    """The evaluation seed of the run's candidate number ``seq`` (its line's ``seq``):
    ``SeedSequence([run_seed, seq])``'s first 32-bit word, modulo 2**31. Distinct candidates get
    unrelated seeds, and they practically never meet the small seeds (0, 1, 2, ...) the funnel and
    the hold-out stage train on."""
    return int(np.random.SeedSequence([int(run_seed), int(seq)]).generate_state(1)[0]) % 2 ** 31


class TimedCall:
    """``evaluate`` as the search maps it: ``(payload, seed) -> (result, CPU seconds)``, the CPU
    seconds (``time.process_time``) measured around the call in the process that runs it (a pool
    worker, a Ray actor). ``seed`` None: ``evaluate(payload)``, else ``evaluate(payload, seed=seed)``."""

    def __init__(self, evaluate: Any):
        self.evaluate = evaluate

    def __call__(self, item: tuple[Any, int | None]) -> tuple[Any, float]:
        payload, seed = item
        t0 = time.process_time()
        result = self.evaluate(payload) if seed is None else self.evaluate(payload, seed=seed)
        return result, time.process_time() - t0


def as_record(result: Any) -> FitnessRecord:
    """What ``evaluate`` returned as a record: a float is a fitness; anything else, or a
    non-finite fitness, is a failed candidate."""
    if isinstance(result, FitnessRecord):
        rec = result
    elif isinstance(result, (int, float, np.floating, np.integer)):
        rec = FitnessRecord(fitness=float(result))
    else:
        return FitnessRecord.failed(f"evaluate returned {type(result).__name__}, not a FitnessRecord")
    if rec.status == OK and not math.isfinite(rec.fitness):
        return FitnessRecord.failed(f"non-finite fitness {rec.fitness}", stages=rec.stages,
                                    seconds=rec.seconds, extra=rec.extra)
    return rec
