"""The evolutionary search on DEAP: the paper's particle GA and regularized evolution.

Both algorithms are written in the shape of DEAP's ``algorithms.ea*`` and only talk to a
``deap.base.Toolbox`` that provides, for whatever the individuals are (a genome, a toy vector):

================  ============================================================================
``individual``    ``individual(rng) -> payload`` -- a random, valid payload
``mutate``        ``mutate(payload, rng, history, tally) -> payload`` -- a child that is valid,
                  passes the integrity check and whose key is not in ``history`` (supports
                  ``in``); it adds to the :class:`collections.Counter` ``tally``
                  (``integrity_rejections``, ``invalid``, ``duplicates``)
``mutate_batch``  optional: ``mutate_batch([(payload, history), ...], rng, tally) -> [payload or
                  GpOptError]`` -- one child per request, all made together (the children of
                  requests sharing a ``history`` object distinct from each other); without it
                  ``mutate`` is called request by request
``evaluate``      ``evaluate(payload) -> FitnessRecord`` (a float is accepted too); must not
                  consume the global RNGs (seed its own) so that a resumed run replays exactly
``map``           ``map(func, iterable)`` -- swap in ``Pool.imap`` for parallel evaluation
``serialize``     ``serialize(payload) -> JSON-able``; ``deserialize`` the inverse
``key``           ``key(payload) -> str`` -- the dedup key (canonical key / fingerprint)
``key_many``      optional: ``key_many([payload]) -> [key]`` -- ``key`` of many at once
================  ============================================================================

The individuals DEAP sees are ``creator.GpOptIndividual`` objects: the payload plus its key, its
:class:`FitnessRecord` and a maximising ``creator.GpOptFitness``.

Every candidate goes through one fitness cache keyed by ``toolbox.key``: a key seen before reuses
its record (a *cache hit*) instead of evaluating again. With a :class:`gp_opt.rundir.RunDir` every
candidate is logged as soon as it is known and the state is checkpointed after every time step, so
a killed run resumes to the same result (:func:`resume_search`).
"""
from __future__ import annotations

import collections
import logging
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
from deap import base, creator, tools

from .errors import CheckpointError, GpOptError
from .fitness import FitnessRecord, OK

log = logging.getLogger("gp_opt.search")

FITNESS_TYPE = "GpOptFitness"
INDIVIDUAL_TYPE = "GpOptIndividual"
ALGORITHMS = ("particle", "regularized")
TOY_TASK = "toy"


class Candidate:
    """A payload with its dedup key, fitness record and ids (base class of ``GpOptIndividual``)."""

    def __init__(self, payload: Any, key: str | None = None, record: FitnessRecord | None = None,
                 meta: dict[str, Any] | None = None):
        self.payload = payload
        self.key = key
        self.record = record
        self.meta = meta or {}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Candidate):
            return NotImplemented
        if self.key is not None and other.key is not None:
            return self.key == other.key
        return bool(self.payload == other.payload)

    __hash__ = None  # type: ignore[assignment]

    def __deepcopy__(self, memo: dict) -> "Candidate":
        """Payloads and records are values the search never changes in place (mutation returns a
        new payload), so a copy (the hall of fame makes one per insert) shares them; deep-copying
        a genome with its cached sympy forms would cost ~100 ms."""
        import copy

        new = type(self)(self.payload, self.key, self.record, copy.deepcopy(self.meta, memo))
        if hasattr(self, "fitness"):
            new.fitness = copy.deepcopy(self.fitness, memo)
        return new

    def __repr__(self) -> str:
        fit = self.record.fitness if self.record is not None else None
        return f"{type(self).__name__}(key={self.key!r}, fitness={fit!r})"


if not hasattr(creator, FITNESS_TYPE):
    creator.create(FITNESS_TYPE, base.Fitness, weights=(1.0,))
if not hasattr(creator, INDIVIDUAL_TYPE):
    creator.create(INDIVIDUAL_TYPE, Candidate, fitness=getattr(creator, FITNESS_TYPE))


def make_individual(payload: Any, key: str | None, record: FitnessRecord | None,
                    meta: dict[str, Any] | None = None) -> Candidate:
    ind = getattr(creator, INDIVIDUAL_TYPE)(payload, key, record, meta)
    if record is not None:
        ind.fitness.values = (float(record.fitness),)
    return ind


def _is_ok(ind: Candidate | None) -> bool:
    return ind is not None and ind.record is not None and ind.record.status == OK and \
        not math.isnan(ind.record.fitness)


def _score(ind: Candidate | None) -> float:
    if not _is_ok(ind):
        return -math.inf
    return float(ind.record.fitness)


def same_key(a: Candidate, b: Candidate) -> bool:
    """The hall of fame's ``similar``: two individuals are the same optimizer if their keys match."""
    return a == b


def default_stats() -> tools.Statistics:
    """avg/std/min/max of the finite fitnesses of a population."""

    def finite(vals: Iterable[float]) -> np.ndarray:
        a = np.asarray([v for v in vals if math.isfinite(v)], dtype=float)
        return a

    stats = tools.Statistics(lambda ind: ind.fitness.values[0] if ind.fitness.valid else -math.inf)
    stats.register("avg", lambda v: float(np.mean(finite(v))) if len(finite(v)) else float("nan"))
    stats.register("std", lambda v: float(np.std(finite(v))) if len(finite(v)) else float("nan"))
    stats.register("min", lambda v: float(np.min(finite(v))) if len(finite(v)) else float("nan"))
    stats.register("max", lambda v: float(np.max(finite(v))) if len(finite(v)) else float("nan"))
    return stats


def _key_list(keys: Any) -> list[str]:
    """A key (str), several keys (list/tuple) or None -> a list of keys."""
    if keys is None:
        return []
    if isinstance(keys, (list, tuple)):
        return [str(k) for k in keys if k is not None]
    return [str(keys)]


class History:
    """The keys a particle has seen, in order; ``in`` is O(1). Passed to ``toolbox.mutate``."""

    def __init__(self, keys: Iterable[str] = ()):
        self.order: list[str] = []
        self._set: set[str] = set()
        for k in keys:
            self.add(k)

    def add(self, key: str | None) -> None:
        if key is not None and key not in self._set:
            self._set.add(key)
            self.order.append(key)

    def add_all(self, keys: Any) -> None:
        for k in _key_list(keys):
            self.add(k)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, (list, tuple)):
            return any(k in self._set for k in key)
        return key in self._set

    def __len__(self) -> int:
        return len(self.order)

    def __iter__(self):
        return iter(self.order)


# ---------------------------------------------------------------------------------------------
# the engine shared by both algorithms: cache, log, replay, counters, progress


@dataclass
class _Slot:
    payload: Any
    meta: dict[str, Any]
    mutate_seconds: float = 0.0


class _Engine:
    COUNTERS = ("candidates", "evals", "cache_hits", "rejected", "integrity_rejections", "invalid",
                "duplicates", "mutation_failures")

    def __init__(self, toolbox: base.Toolbox, rng: np.random.Generator, rundir: Any, verbose: bool):
        self.toolbox = toolbox
        self.rng = rng
        self.rundir = rundir
        self.verbose = verbose
        self.cache: dict[str, FitnessRecord] = {}
        self.tally: collections.Counter = collections.Counter({k: 0 for k in self.COUNTERS})
        self.n_logged = 0
        self.replay: dict[int, dict[str, Any]] = {}
        self.started = time.perf_counter()
        self.seconds_before = 0.0  # wall time of earlier (killed) sessions of this run
        #: wall seconds of this session by part: init, mutate, key, evaluate, log, checkpoint
        self.timings: collections.Counter = collections.Counter()

    # -- helpers ----------------------------------------------------------------------------

    def keys(self, payload: Any) -> list[str]:
        fn = getattr(self.toolbox, "key", None)
        return _key_list(fn(payload)) if fn is not None else []

    def keys_many(self, payloads: list[Any]) -> list[list[str]]:
        """:meth:`keys` of many payloads (one ``toolbox.key_many`` call if the toolbox has it)."""
        fn = getattr(self.toolbox, "key_many", None)
        if fn is None or not payloads:
            return [self.keys(p) for p in payloads]
        return [_key_list(k) for k in fn(list(payloads))]

    def key(self, payload: Any) -> str | None:
        ks = self.keys(payload)
        return ks[0] if ks else None

    def _cached(self, ks: list[str]) -> FitnessRecord | None:
        for k in ks:
            rec = self.cache.get(k)
            if rec is not None:
                return rec
        return None

    def _file(self, ks: list[str], rec: FitnessRecord, hit: bool) -> None:
        for k in ks:
            if hit:
                self.cache.setdefault(k, rec)
            else:
                self.cache[k] = rec

    def serialize(self, payload: Any) -> Any:
        fn = getattr(self.toolbox, "serialize", None)
        return fn(payload) if fn is not None else payload

    def deserialize(self, obj: Any) -> Any:
        fn = getattr(self.toolbox, "deserialize", None)
        return fn(obj) if fn is not None else obj

    def ind_to_dict(self, ind: Candidate) -> dict[str, Any]:
        return {"individual": self.serialize(ind.payload), "key": ind.key,
                "record": ind.record.to_dict() if ind.record is not None else None, "meta": ind.meta}

    def ind_from_dict(self, d: dict[str, Any]) -> Candidate:
        rec = FitnessRecord.from_dict(d["record"]) if d.get("record") is not None else None
        return make_individual(self.deserialize(d["individual"]), d.get("key"), rec, d.get("meta"))

    def initial(self, n: int) -> list[_Slot]:
        """``n`` random payloads (``toolbox.population(rng, n, tally)`` if the toolbox has it)."""
        t0 = time.perf_counter()
        make_many = getattr(self.toolbox, "population", None)
        if make_many is not None:
            payloads = list(make_many(self.rng, n, self.tally))
        else:
            payloads = [self.toolbox.individual(self.rng) for _ in range(n)]
        self.timings["init"] += time.perf_counter() - t0
        dt = (time.perf_counter() - t0) / max(n, 1)
        return [_Slot(p, {"phase": "init", "step": 0, "particle": None, "slot": i, "attempt": 0}, dt)
                for i, p in enumerate(payloads)]

    def mutate(self, parent: Candidate, history: History, meta: dict[str, Any]) -> _Slot | None:
        t0 = time.perf_counter()
        try:
            child = self.toolbox.mutate(parent.payload, self.rng, history, self.tally)
        except GpOptError as exc:
            self.tally["mutation_failures"] += 1
            self.timings["mutate"] += time.perf_counter() - t0
            log.info("no valid child of %s: %s", parent.key, exc)
            return None
        dt = time.perf_counter() - t0
        self.timings["mutate"] += dt
        return _Slot(child, meta, dt)

    def mutate_many(self, requests: list[tuple[Candidate, History, dict[str, Any]]]) -> list[_Slot | None]:
        """One child per request ``(parent, history, meta)``: one ``toolbox.mutate_batch`` call for
        all of them if the toolbox has it, else ``toolbox.mutate`` request by request. Either way
        each child's keys join its history before the next request of the same history is
        served, so the children of one history are distinct. None for a parent without a valid
        new child (counted as ``mutation_failures``)."""
        batch = getattr(self.toolbox, "mutate_batch", None)
        if batch is None:
            out = []
            for parent, history, meta in requests:
                s = self.mutate(parent, history, meta)
                if s is not None:
                    history.add_all(self.keys(s.payload))
                out.append(s)
            return out
        if not requests:
            return []
        t0 = time.perf_counter()
        children = list(batch([(parent.payload, history) for parent, history, _ in requests],
                              self.rng, self.tally))
        dt = time.perf_counter() - t0
        self.timings["mutate"] += dt
        if len(children) != len(requests):
            raise GpOptError(f"toolbox.mutate_batch returned {len(children)} children for "
                             f"{len(requests)} requests")
        out = []
        for (parent, history, meta), child in zip(requests, children):
            if isinstance(child, BaseException):
                self.tally["mutation_failures"] += 1
                log.info("no valid child of %s: %s", parent.key, child)
                out.append(None)
                continue
            history.add_all(self.keys(child))
            out.append(_Slot(child, meta, dt / len(requests)))
        return out

    @staticmethod
    def _as_record(result: Any) -> FitnessRecord:
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

    # -- the one way candidates get a fitness -----------------------------------------------

    #: before starting an evaluation, the known lines go to disk if the evaluations they hold
    #: took longer than this (slow work is never left unwritten while more work runs); cheap
    #: candidates known together share one write and one fdatasync
    SYNC_BEFORE_EVAL_S = 0.002

    def evaluate(self, slots: list[_Slot]) -> list[Candidate]:
        """Fitness for every slot: cache hit, replay from the log, or evaluation through
        ``toolbox.map``; logged in slot order. Lines are written (one write, one fdatasync) before
        an evaluation starts if the unwritten ones hold more than ``SYNC_BEFORE_EVAL_S`` of
        evaluation, at the end, and when an evaluation raises."""
        t_key = time.perf_counter()
        keys = self.keys_many([s.payload for s in slots])
        self.timings["key"] += time.perf_counter() - t_key
        plan: list[tuple[str, Any]] = []
        to_eval: list[Any] = []
        first_of: dict[str, int] = {}
        for i, (slot, ks) in enumerate(zip(slots, keys)):
            seq = self.n_logged + i
            dup = next((first_of[k] for k in ks if k in first_of), None)
            if self._cached(ks) is not None:
                plan.append(("hit", None))
            elif dup is not None:
                plan.append(("dup", dup))
            elif seq in self.replay:
                plan.append(("replay", self.replay[seq]))
            else:
                plan.append(("eval", None))
                to_eval.append(slot.payload)
            for k in ks:
                first_of.setdefault(k, i)
        evaluate = self.toolbox.evaluate
        if slots and slots[0].meta.get("phase") == "init" and hasattr(self.toolbox, "evaluate_init"):
            evaluate = self.toolbox.evaluate_init  # e.g. the surrogate's smaller initial ConvNet
        results = iter(self.toolbox.map(evaluate, to_eval)) if to_eval else iter(())
        out: list[Candidate] = []
        lines: list[dict[str, Any]] = []   # known, not yet on disk
        unsynced = 0.0                     # evaluation seconds held by the unwritten lines

        def flush() -> None:
            if lines and self.rundir is not None:
                t_log = time.perf_counter()
                self.rundir.append_many(lines)
                self.timings["log"] += time.perf_counter() - t_log
            lines.clear()

        try:
            for slot, ks, (how, arg) in zip(slots, keys, plan):
                seq = self.n_logged
                k = ks[0] if ks else None
                if how == "eval":
                    if unsynced > self.SYNC_BEFORE_EVAL_S:
                        flush()  # this evaluation may be slow: what is known goes to disk first
                        unsynced = 0.0
                    t0 = time.perf_counter()
                    rec = self._as_record(next(results))
                    dt = time.perf_counter() - t0
                    self.timings["evaluate"] += dt
                    unsynced += dt
                    if not rec.seconds:
                        rec.seconds = dt
                elif how == "replay":
                    rec = FitnessRecord.from_dict(arg["record"])
                elif how == "hit":
                    rec = self._cached(ks)
                else:
                    rec = out[arg].record
                hit = how in ("hit", "dup")
                if seq in self.replay:
                    line = self.replay.pop(seq)
                    if line.get("key") != k or bool(line.get("cache_hit")) != hit:
                        raise CheckpointError(
                            f"candidates.jsonl line {seq} does not match the resumed run (key "
                            f"{line.get('key')!r} vs {k!r}); the code, grammar or task changed since "
                            "the run started")
                    write = False
                else:
                    write = True
                self._file(ks, rec, hit)
                self.tally["candidates"] += 1
                self.tally["cache_hits" if hit else "evals"] += 1
                if rec.status != OK:
                    self.tally["rejected"] += 1
                ind = make_individual(slot.payload, k, rec, dict(slot.meta, seq=seq, cache_hit=hit))
                if write and self.rundir is not None:
                    t_log = time.perf_counter()
                    lines.append({
                        "seq": seq, **slot.meta, "key": k, **({"keys": ks} if len(ks) > 1 else {}),
                        "individual": self.serialize(slot.payload),
                        "record": rec.to_dict(), "cache_hit": hit,
                        "seconds": {"mutate": slot.mutate_seconds, "evaluate": 0.0 if hit else rec.seconds},
                        "time": time.time(),
                    })
                    self.timings["log"] += time.perf_counter() - t_log
                self.n_logged += 1
                out.append(ind)
        finally:
            flush()   # also when an evaluation raised: the lines known so far are kept
        return out

    # -- state -------------------------------------------------------------------------------

    def common_state(self) -> dict[str, Any]:
        from .rundir import rng_state

        return {"n_logged": self.n_logged, "counters": dict(self.tally), "rng": rng_state(self.rng),
                "seconds": self.seconds_before + time.perf_counter() - self.started}

    def resume_from(self, resume: tuple | None, algorithm: str) -> dict[str, Any] | None:
        """Take up a resumed run: the checkpointed state (None before the first checkpoint, when
        every logged line is replayed instead)."""
        if resume is None:
            return None
        state, lines = resume
        if state is None:
            self.replay = {int(line["seq"]): line for line in lines}
            return None
        if state.get("algorithm") != algorithm:
            raise CheckpointError(f"checkpoint is for algorithm {state.get('algorithm')!r}, not {algorithm!r}")
        self.restore_common(state, lines)
        return state

    def record(self, logbook: tools.Logbook, stats: Any, gen: dict[str, int], pop: list[Candidate],
               before: collections.Counter) -> None:
        """One logbook row: this generation's counters (since ``before``) and statistics."""
        d = self.tally
        logbook.record(**gen, nevals=d["evals"] - before["evals"], hits=d["cache_hits"] - before["cache_hits"],
                       rejected=d["rejected"] - before["rejected"],
                       integrity=d["integrity_rejections"] - before["integrity_rejections"],
                       **(stats.compile(pop) if stats else {}))

    def restore_common(self, state: dict[str, Any], lines: list[dict[str, Any]]) -> None:
        from .rundir import restore_rng

        n = int(state["n_logged"])
        if len(lines) < n:
            raise CheckpointError(f"candidates.jsonl has {len(lines)} lines but the checkpoint "
                                  f"needs {n}: the log was truncated or replaced")
        self.rng = restore_rng(state["rng"])
        self.tally = collections.Counter({k: 0 for k in self.COUNTERS})
        self.tally.update({k: int(v) for k, v in state["counters"].items()})
        self.seconds_before = float(state.get("seconds", 0.0))
        self.n_logged = n
        self.cache = {}
        self.prime(lines[:n])
        self.replay = {int(line["seq"]): line for line in lines[n:]}

    def prime(self, lines: list[dict[str, Any]]) -> None:
        for line in lines:
            ks = _key_list(line.get("keys", line.get("key")))
            if ks:
                self._file(ks, FitnessRecord.from_dict(line["record"]), bool(line.get("cache_hit")))

    def step_parts(self, before: collections.Counter) -> None:
        """Add ``step_<part>``: the seconds of each part spent in the time steps (since ``before``)."""
        for k in ("mutate", "key", "evaluate", "log", "checkpoint"):
            self.timings["step_" + k] += self.timings[k] - before[k]

    def elapsed(self) -> float:
        return self.seconds_before + time.perf_counter() - self.started

    def say(self, text: str) -> None:
        log.info(text)
        if self.verbose:
            print(text, flush=True)


def _hof_state(engine: _Engine, hof: tools.HallOfFame) -> dict[str, Any]:
    return {"maxsize": hof.maxsize, "items": [engine.ind_to_dict(i) for i in hof.items]}


def _restore_hof(engine: _Engine, hof: tools.HallOfFame, d: dict[str, Any]) -> None:
    items = [engine.ind_from_dict(x) for x in d["items"]]
    hof.items = items
    hof.keys = [it.fitness for it in reversed(items)]


def _restore_logbook(logbook: tools.Logbook, records: list[dict[str, Any]]) -> None:
    for rec in records:
        logbook.record(**{k: (float(v) if isinstance(v, str) and v in ("inf", "-inf", "nan") else v)
                          for k, v in rec.items()})


def _fmt_fit(x: float) -> str:
    return f"{x:.4g}" if math.isfinite(x) else "-"


def _summary(engine: _Engine, title: str, rows: list[tuple[str, Candidate]], hof: tools.HallOfFame) -> None:
    t = engine.tally
    lines = [f"{title}: {t['candidates']} candidates, {t['evals']} evaluated, {t['cache_hits']} cache "
             f"hits, {t['rejected']} rejected by the screen, {t['integrity_rejections']} integrity "
             f"rejections, {engine.elapsed():.1f}s",
             f"{'':<12} {'fitness':>10} {'best lr':>9}  key"]
    for name, ind in rows:
        lr = ind.record.best_lr if ind.record is not None else None
        lines.append(f"{name:<12} {_fmt_fit(_score(ind)):>10} {('-' if lr is None else f'{lr:g}'):>9}  "
                     f"{(ind.key or '')[:60]}")
    for i, ind in enumerate(hof.items[:5]):
        lines.append(f"{'hof ' + str(i):<12} {_fmt_fit(_score(ind)):>10} "
                     f"{('-' if ind.record.best_lr is None else f'{ind.record.best_lr:g}'):>9}  "
                     f"{(ind.key or '')[:60]}")
    engine.say("\n".join(lines))


def _report_timings(engine: _Engine, timings: dict[str, float] | None) -> None:
    if timings is not None:
        timings.update({k: float(v) for k, v in engine.timings.items()})
        timings["total"] = time.perf_counter() - engine.started


def _check_toolbox(toolbox: base.Toolbox) -> None:
    missing = [n for n in ("individual", "mutate", "evaluate", "map") if not hasattr(toolbox, n)]
    if missing:
        raise GpOptError(f"the toolbox lacks {', '.join(missing)}")


def _positive(**kw: int) -> None:
    for name, v in kw.items():
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise GpOptError(f"{name} must be a positive integer, got {v!r}")


# ---------------------------------------------------------------------------------------------
# the particle-based GA (SPEC section 7)


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
    _check_toolbox(toolbox)
    _positive(n_particles=n_particles, n_steps=n_steps, n_children=n_children, init_factor=init_factor)
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    stats = stats if stats is not None else default_stats()
    hof = halloffame if halloffame is not None else tools.HallOfFame(10, similar=same_key)
    logbook = tools.Logbook()
    logbook.header = ["step", "nevals", "hits", "rejected", "integrity"] + (stats.fields if stats else [])
    engine = _Engine(toolbox, rng, rundir, verbose)

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
            "histories": [h.order for h in histories], "hof": _hof_state(engine, hof),
            "logbook": list(logbook), **engine.common_state()})
        engine.timings["checkpoint"] += time.perf_counter() - t0

    if state is None:
        before = engine.tally.copy()
        n_init = init_factor * n_particles
        slots = engine.initial(n_init)
        pop = engine.evaluate(slots)
        order = sorted(range(len(pop)), key=lambda i: (-_score(pop[i]), i))
        particles = [pop[i] for i in order[:n_particles]]
        for i, p in enumerate(particles):
            p.meta = dict(p.meta, particle=i)
        if not all(_is_ok(p) for p in particles):
            log.warning("only %d of %d initial candidates passed; some particles start rejected",
                        sum(_is_ok(p) for p in pop), n_init)
        histories = [History(engine.keys(p.payload)) for p in particles]
        hof.update([p for p in pop if _is_ok(p)])
        record(0, particles, before)
        engine.say(f"init: {n_init} random candidates, best {_fmt_fit(_score(particles[0]))}, "
                   f"{engine.tally['evals']} evals, {engine.tally['cache_hits']} cache hits, "
                   f"{engine.tally['rejected']} rejected")
        start = 0
        checkpoint(0, particles, histories)
    else:
        particles = [engine.ind_from_dict(d) for d in state["particles"]]
        histories = [History(h) for h in state["histories"]]
        _restore_hof(engine, hof, state["hof"])
        _restore_logbook(logbook, state["logbook"])
        start = int(state["step"])
        if len(particles) != n_particles:
            raise CheckpointError(f"checkpoint has {len(particles)} particles, the run asks for {n_particles}")

    t_steps, parts_before = time.perf_counter(), engine.timings.copy()
    for step in range(start, n_steps):
        before = engine.tally.copy()
        children: list[list[Candidate | None]] = [[None] * n_children for _ in range(n_particles)]
        for attempt in range(max_redraws + 1):
            todo = [(p, j) for p in range(n_particles) for j in range(n_children)
                    if not _is_ok(children[p][j])]
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
            ok = [c for c in children[p] if _is_ok(c)]
            if ok:
                best = max(ok, key=_score)  # first of equals: max keeps the earliest
                particles[p] = best
            hof.update(ok)
            engine.say(f"step {step + 1}/{n_steps} particle {p + 1}/{n_particles}: fitness "
                       f"{_fmt_fit(_score(particles[p]))} best so far {_fmt_fit(_score(hof[0]) if len(hof) else -math.inf)}"
                       f" | evals {engine.tally['evals']} cache hits {engine.tally['cache_hits']} rejected "
                       f"{engine.tally['rejected']} integrity rejections {engine.tally['integrity_rejections']}")
        record(step + 1, particles, before)
        checkpoint(step + 1, particles, histories)
    engine.timings["steps"] += time.perf_counter() - t_steps
    engine.step_parts(parts_before)
    engine.timings["step_candidates"] += sum(logbook.select("nevals")[start + 1:]) + \
        sum(logbook.select("hits")[start + 1:])

    _summary(engine, "particle search done", [(f"particle {i}", p) for i, p in enumerate(particles)], hof)
    _report_timings(engine, timings)
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
    _check_toolbox(toolbox)
    _positive(population_size=population_size, cycles=cycles, sample_size=sample_size, n_children=n_children)
    if sample_size > population_size:
        raise GpOptError(f"sample_size {sample_size} exceeds population_size {population_size}")
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    stats = stats if stats is not None else default_stats()
    hof = halloffame if halloffame is not None else tools.HallOfFame(10, similar=same_key)
    logbook = tools.Logbook()
    logbook.header = ["cycle", "nevals", "hits", "rejected", "integrity"] + (stats.fields if stats else [])
    engine = _Engine(toolbox, rng, rundir, verbose)

    state = engine.resume_from(_resume, "regularized")

    def record(cycle: int, pop: list[Candidate], before: collections.Counter) -> None:
        engine.record(logbook, stats, {"cycle": cycle}, pop, before)

    def checkpoint(cycle: int, pop: list[Candidate], history: History) -> None:
        if rundir is not None:
            t0 = time.perf_counter()
            rundir.save_checkpoint({
                "algorithm": "regularized", "step": cycle,
                "population": [engine.ind_to_dict(p) for p in pop], "history": history.order,
                "hof": _hof_state(engine, hof), "logbook": list(logbook), **engine.common_state()})
            engine.timings["checkpoint"] += time.perf_counter() - t0

    if state is None:
        before = engine.tally.copy()
        slots = engine.initial(population_size)
        pop = engine.evaluate(slots)
        history = History(k for p in pop for k in engine.keys(p.payload))
        hof.update([p for p in pop if _is_ok(p)])
        record(0, pop, before)
        engine.say(f"init: {population_size} random candidates, best "
                   f"{_fmt_fit(max(map(_score, pop)))}, {engine.tally['rejected']} rejected")
        start = 0
        checkpoint(0, pop, history)
    else:
        pop = [engine.ind_from_dict(d) for d in state["population"]]
        history = History(state["history"])
        _restore_hof(engine, hof, state["hof"])
        _restore_logbook(logbook, state["logbook"])
        start = int(state["step"])

    t_steps, parts_before = time.perf_counter(), engine.timings.copy()
    for cycle in range(start, cycles):
        before = engine.tally.copy()
        parents = []
        for _ in range(n_children):
            sample = rng_choice(engine.rng, len(pop), sample_size)
            parents.append(max(sample, key=lambda i: (_score(pop[i]), -i)))
        children: list[Candidate | None] = [None] * n_children
        for attempt in range(max_redraws + 1):
            todo = [j for j in range(n_children) if not _is_ok(children[j])]
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
        ok = [c for c in children if _is_ok(c)]
        pop.extend(ok)
        del pop[:len(ok)]  # the oldest die
        hof.update(ok)
        record(cycle + 1, pop, before)
        engine.say(f"cycle {cycle + 1}/{cycles}: best child {_fmt_fit(max(map(_score, ok), default=-math.inf))} "
                   f"best so far {_fmt_fit(_score(hof[0]) if len(hof) else -math.inf)} | evals "
                   f"{engine.tally['evals']} cache hits {engine.tally['cache_hits']} rejected "
                   f"{engine.tally['rejected']} integrity rejections {engine.tally['integrity_rejections']}")
        checkpoint(cycle + 1, pop, history)
    engine.timings["steps"] += time.perf_counter() - t_steps
    engine.step_parts(parts_before)
    engine.timings["step_candidates"] += sum(logbook.select("nevals")[start + 1:]) + \
        sum(logbook.select("hits")[start + 1:])

    best = sorted(pop, key=lambda c: -_score(c))[:5]
    _summary(engine, "regularized evolution done", [(f"member {i}", p) for i, p in enumerate(best)], hof)
    _report_timings(engine, timings)
    return pop, logbook


def rng_choice(rng: np.random.Generator, n: int, k: int) -> list[int]:
    return [int(i) for i in rng.choice(n, size=k, replace=False)]


# ---------------------------------------------------------------------------------------------
# toolboxes


class ToyEvaluate:
    """Cheap fitness of an integer vector: ``-sum((x - target)^2)``; a vector whose first entry is
    ``reject_value`` fails the 'screen'. Optional ``delay`` seconds per evaluation and an
    ``eval_log`` file getting one line per real evaluation (used by the kill-and-resume test)."""

    def __init__(self, dim: int = 8, seed: int = 0, delay: float = 0.0, eval_log: str | None = None,
                 reject_value: int = 7):
        self.target = np.random.default_rng(seed + 1).integers(-10, 11, size=dim)
        self.delay = delay
        self.eval_log = eval_log
        self.reject_value = reject_value

    def __call__(self, payload: tuple[int, ...]) -> FitnessRecord:
        t0 = time.perf_counter()
        if self.delay:
            time.sleep(self.delay)
        if self.eval_log:
            with open(self.eval_log, "a", encoding="utf-8") as fh:
                fh.write(toy_key(payload) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        if payload[0] == self.reject_value:
            return FitnessRecord.rejected("toy screen: first entry is the reject value",
                                          seconds=time.perf_counter() - t0)
        x = np.asarray(payload)
        fit = -float(((x - self.target) ** 2).sum())
        return FitnessRecord(fitness=fit, stages=[{"sse": -fit}], seconds=time.perf_counter() - t0)


def toy_key(payload: tuple[int, ...]) -> str:
    return ",".join(map(str, payload))


def _toy_random(rng: np.random.Generator, dim: int) -> tuple[int, ...]:
    while True:
        x = tuple(int(v) for v in rng.integers(-10, 11, size=dim))
        if sum(x) % 5 != 0:  # the toy 'integrity check'
            return x


def _toy_mutate(payload: tuple[int, ...], rng: np.random.Generator, history: Any,
                tally: collections.Counter | None = None, tries: int = 100) -> tuple[int, ...]:
    for _ in range(tries):
        x = list(payload)
        i = int(rng.integers(len(x)))
        x[i] = int(np.clip(x[i] + int(rng.choice([-2, -1, 1, 2])), -10, 10))
        child = tuple(x)
        if sum(child) % 5 == 0:
            if tally is not None:
                tally["integrity_rejections"] += 1
            continue
        if toy_key(child) in history:
            if tally is not None:
                tally["duplicates"] += 1
            continue
        return child
    raise GpOptError(f"no valid new neighbour of {payload} in {tries} tries")


def make_toy_toolbox(dim: int = 8, seed: int = 0, delay: float = 0.0, eval_log: str | None = None,
                     evaluate: Callable[[Any], Any] | None = None) -> base.Toolbox:
    """A toolbox over small integer vectors (a stand-in for genomes in tests, demos and the
    overhead benchmark): 'integrity' rejects vectors whose sum is a multiple of 5."""
    tb = base.Toolbox()
    tb.register("individual", _toy_random, dim=dim)
    tb.register("mutate", _toy_mutate)
    tb.register("evaluate", evaluate if evaluate is not None else ToyEvaluate(dim, seed, delay, eval_log))
    tb.register("map", map)
    tb.register("serialize", list)
    tb.register("deserialize", tuple)
    tb.register("key", toy_key)
    tb.config = {"kind": "toy", "dim": dim, "seed": seed, "delay": delay, "eval_log": eval_log}
    return tb


KEYS = ("fingerprint", "canonical", "both")


class _GenomeKey:
    """The dedup key(s) of a genome: ``fingerprint`` (behavioural, :mod:`gp_opt.dedup`),
    ``canonical`` (the symbolic canonical key) or ``both`` (a list: a hit on either is a hit).
    Remembers the keys of the last few genomes it saw, so the key computed inside mutation (for
    novelty) is not computed again for the cache."""

    MEMO = 4096

    def __init__(self, kind: str):
        if kind not in KEYS:
            raise GpOptError(f"unknown dedup key {kind!r}; use one of {', '.join(KEYS)}")
        self.kind = kind
        self._memo: collections.OrderedDict[int, tuple[Any, Any]] = collections.OrderedDict()

    def __call__(self, genome: Any) -> Any:
        hit = self._memo.get(id(genome))
        if hit is not None and hit[0] is genome:
            return hit[1]
        from . import dedup

        if self.kind == "fingerprint":
            k: Any = dedup.fingerprint(genome)
        elif self.kind == "canonical":
            k = dedup.canonical_key(genome) or dedup.fingerprint(genome)
        else:
            k = dedup.keys(genome, use_canonical=True)
        self._remember(genome, k)
        return k

    def _remember(self, genome: Any, k: Any) -> None:
        self._memo[id(genome)] = (genome, k)  # holds the genome so that its id stays unique
        if len(self._memo) > self.MEMO:
            self._memo.popitem(last=False)

    def many(self, genomes: list[Any]) -> list[Any]:
        """The keys of many genomes; the fingerprints of those not remembered are computed in one
        batched evaluation (:func:`gp_opt.dedup.fingerprint_many`)."""
        from . import dedup

        out: list[Any] = [None] * len(genomes)
        todo = []
        for i, g in enumerate(genomes):
            hit = self._memo.get(id(g))
            if hit is not None and hit[0] is g:
                out[i] = hit[1]
            else:
                todo.append(i)
        if not todo:
            return out
        gs = [genomes[i] for i in todo]
        if self.kind == "fingerprint":
            ks: list[Any] = dedup.fingerprint_many(gs)
        elif self.kind == "canonical":
            ks = [dedup.canonical_key(g) for g in gs]
            need = [n for n, k in enumerate(ks) if k is None]
            for n, fp in zip(need, dedup.fingerprint_many([gs[n] for n in need])):
                ks[n] = fp
        else:
            ks = dedup.keys_many(gs, use_canonical=True)
        for i, g, k in zip(todo, gs, ks):
            self._remember(g, k)
            out[i] = k
        return out

    def __getstate__(self) -> dict[str, Any]:
        return {"kind": self.kind}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["kind"])


class _GenomeMutate:
    """``mutate(payload, rng, history, tally)`` -> :func:`gp_opt.mutation.mutate_valid`: a child
    that is valid, passes the integrity check (flip applied) and is new in ``history``."""

    def __init__(self, key_fn: _GenomeKey, grammar: Any, options: dict[str, Any]):
        self.key_fn = key_fn
        self.grammar = grammar
        self.options = options

    def __call__(self, genome: Any, rng: np.random.Generator, history: Any,
                 tally: collections.Counter | None = None) -> Any:
        from . import mutation

        opts = {k: v for k, v in self.options.items() if k in _SINGLE_OPTIONS}
        return mutation.mutate_valid(genome, rng, seen=history, key=self.key_fn, stats=tally,
                                     grammar=self.grammar, **opts)


_SINGLE_OPTIONS = ("integrity_config", "max_tries", "probs", "batch")
_BATCH_OPTIONS = ("integrity_config", "max_tries", "probs", "min_batch", "max_per_slot", "overdraw", "key_ahead", "torch_threads")


class _GenomeMutateBatch(_GenomeMutate):
    """``mutate_batch([(payload, history), ...], rng, tally)`` -> :func:`gp_opt.mutation.mutate_batch`:
    one child per request, all drawn, integrity-checked and keyed together (a
    :class:`GpOptError` in place of a child for a parent without a valid new one)."""

    def __call__(self, requests: list[tuple[Any, Any]], rng: np.random.Generator,  # type: ignore[override]
                 tally: collections.Counter | None = None) -> list[Any]:
        from . import mutation

        opts = {k: v for k, v in self.options.items() if k in _BATCH_OPTIONS}
        return mutation.mutate_batch([g for g, _ in requests], rng, seen=[h for _, h in requests],
                                     key=self.key_fn, key_many=self.key_fn.many, stats=tally,
                                     grammar=self.grammar, **opts)


class _GenomePopulation:
    """``population(rng, n)``: ``n`` random genomes passing the integrity check (batched)."""

    def __init__(self, grammar: Any):
        self.grammar = grammar

    def __call__(self, rng: np.random.Generator, n: int, tally: collections.Counter | None = None) -> list[Any]:
        from . import mutation

        return mutation.random_valid_many(rng, n, self.grammar, stats=tally)


def _genome_to_json(g: Any) -> str:
    return g.to_json()


class _GenomeFromJson:
    def __init__(self, grammar: Any):
        self.grammar = grammar

    def __call__(self, s: str) -> Any:
        from .genome import OptimizerGenome

        return OptimizerGenome.from_json(s, grammar=self.grammar)


def make_toolbox(task: str | Callable[[Any], Any] = "quadratic", grammar: Any = None, *,
                 task_options: dict[str, Any] | None = None, key: str = "fingerprint",
                 mutate_options: dict[str, Any] | None = None) -> base.Toolbox:
    """A toolbox over :class:`gp_opt.genome.OptimizerGenome`.

    ``individual``/``population``: random genomes passing the integrity check;
    ``mutate``/``mutate_batch``: SPEC-7 mutation redrawn until valid, passing the integrity check
    and new in the history (:func:`gp_opt.mutation.mutate_valid` for one child,
    :func:`gp_opt.mutation.mutate_batch` for all the children of a step; ``mutate_options`` go to
    them, e.g. ``probs``, ``max_tries``, ``min_batch``); ``evaluate``: ``task`` -- a task name of :mod:`gp_opt.tasks` (``task_options``
    override its fields) or any callable genome -> FitnessRecord (e.g. a surrogate evaluator);
    ``key``: ``"fingerprint"`` (default), ``"canonical"`` or ``"both"``; ``grammar``: a Grammar,
    a path to a grammar file, or None for the default."""
    from .grammar import Grammar, load as load_grammar
    from .tasks import get_task

    grammar_path = None
    if grammar is not None and not isinstance(grammar, Grammar):
        grammar_path = str(grammar)
        grammar = load_grammar(grammar)
    elif grammar is not None:
        grammar_path = getattr(grammar, "source", None)
    if isinstance(task, str):
        task_name: str | None = task
        evaluate = get_task(task, **(task_options or {}))
    elif callable(task):
        task_name, evaluate = None, task
    else:
        raise GpOptError(f"task must be a task name or a callable, got {type(task).__name__}")
    key_fn = _GenomeKey(key)

    tb = base.Toolbox()
    tb.register("individual", lambda rng: tb.population(rng, 1)[0])
    tb.register("population", _GenomePopulation(grammar))
    tb.register("mutate", _GenomeMutate(key_fn, grammar, dict(mutate_options or {})))
    tb.register("mutate_batch", _GenomeMutateBatch(key_fn, grammar, dict(mutate_options or {})))
    tb.register("evaluate", evaluate)
    if hasattr(evaluate, "for_initial_population"):
        tb.register("evaluate_init", evaluate.for_initial_population())
    # an evaluator that trains many candidates together (the surrogate's shared ensembles)
    tb.register("map", evaluate.map if getattr(evaluate, "batch_children", False) else map)
    tb.register("serialize", _genome_to_json)
    tb.register("deserialize", _GenomeFromJson(grammar))
    tb.register("key", key_fn)
    tb.register("key_many", key_fn.many)
    tb.config = {"kind": "genome", "task": task_name, "task_options": task_options or {}, "key": key,
                 "grammar": grammar_path, "mutate_options": mutate_options or {}}
    return tb


def toolbox_from_config(cfg: dict[str, Any]) -> base.Toolbox:
    """Rebuild the toolbox a run directory's config describes (see ``toolbox.config``)."""
    kind = cfg.get("kind")
    if kind == "toy":
        return make_toy_toolbox(dim=cfg["dim"], seed=cfg["seed"], delay=cfg.get("delay", 0.0),
                                eval_log=cfg.get("eval_log"))
    if kind == "genome":
        if cfg.get("task") is None:
            raise CheckpointError("this run used a custom evaluate function; pass toolbox= to resume it")
        return make_toolbox(cfg["task"], cfg.get("grammar"), task_options=cfg.get("task_options"),
                            key=cfg.get("key", "fingerprint"), mutate_options=cfg.get("mutate_options"))
    raise CheckpointError(f"run config has an unknown toolbox kind {kind!r}")


# ---------------------------------------------------------------------------------------------
# the functions the command line calls


@dataclass
class SearchResult:
    out_dir: Path | None
    population: list[Candidate]
    logbook: tools.Logbook
    halloffame: tools.HallOfFame
    algorithm: str
    #: wall seconds of this session by part (init, mutate, key, evaluate, log, checkpoint, steps,
    #: total), the parts' seconds within the time steps (``step_mutate``, ``step_key``,
    #: ``step_evaluate``, ``step_log``, ``step_checkpoint``) and ``step_candidates`` (candidates
    #: of the time steps)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def best(self) -> Candidate | None:
        return self.halloffame[0] if len(self.halloffame) else None


def _seed_globals(seed: int) -> None:
    """Seed python's and torch's global RNGs (a genome's dropout or a check may draw from them)."""
    import random

    import torch

    random.seed(seed)
    torch.manual_seed(seed)


def _run(toolbox: base.Toolbox, cfg: dict[str, Any], rundir: Any, verbose: bool,
         resume: tuple[dict[str, Any] | None, list[dict[str, Any]]] | None, workers: int) -> SearchResult:
    hof = tools.HallOfFame(int(cfg["hof_size"]), similar=same_key)
    timings: dict[str, float] = {}
    if resume is None or resume[0] is None:
        _seed_globals(int(cfg["seed"]))  # a checkpoint restores them instead
    pool = None
    if workers and workers > 1:
        import multiprocessing

        pool = multiprocessing.get_context("spawn").Pool(workers)
        toolbox.register("map", pool.imap)
    try:
        if cfg["algorithm"] == "particle":
            pop, lb = particle_search(toolbox, cfg["particles"], cfg["steps"], cfg["children"],
                                      init_factor=cfg["init_factor"], max_redraws=cfg["max_redraws"],
                                      halloffame=hof, rundir=rundir, verbose=verbose,
                                      rng=np.random.default_rng(cfg["seed"]), timings=timings,
                                      _resume=resume)
        else:
            pop, lb = regularized_evolution(toolbox, cfg["population_size"], cfg["cycles"], cfg["sample_size"],
                                            n_children=cfg["children_per_cycle"], max_redraws=cfg["max_redraws"],
                                            halloffame=hof, rundir=rundir, verbose=verbose,
                                            rng=np.random.default_rng(cfg["seed"]), timings=timings,
                                      _resume=resume)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
        if rundir is not None:
            rundir.close()
    return SearchResult(rundir.path if rundir is not None else None, pop, lb, hof, cfg["algorithm"], timings)


def run_search(task: str, out_dir: str | os.PathLike | None, particles: int, steps: int, children: int,
               seed: int = 0, init_factor: int = 10, algorithm: str = "particle", grammar: Any = None, *,
               max_redraws: int = 4, hof_size: int = 10, population_size: int | None = None,
               cycles: int | None = None, sample_size: int | None = None,
               task_options: dict[str, Any] | None = None, key: str = "fingerprint",
               workers: int = 0, verbose: bool = True, toolbox: base.Toolbox | None = None) -> SearchResult:
    """Run a search into the new run directory ``out_dir`` (None: no directory, nothing saved).

    ``task`` is a task name of :mod:`gp_opt.tasks` (genomes are searched) or ``"toy"`` (small
    integer vectors: a demo of the machinery). ``algorithm="regularized"`` spends the same budget:
    a population of ``init_factor * particles`` and ``steps`` cycles of ``particles * children``
    children unless ``population_size``/``cycles``/``sample_size`` say otherwise.
    ``workers > 1`` evaluates children in a process pool."""
    if algorithm not in ALGORITHMS:
        raise GpOptError(f"unknown algorithm {algorithm!r}; use one of {', '.join(ALGORITHMS)}")
    _positive(particles=particles, steps=steps, children=children, init_factor=init_factor)
    if toolbox is None:
        if task == TOY_TASK:
            toolbox = make_toy_toolbox(seed=seed, **(task_options or {}))
        else:
            toolbox = make_toolbox(task, grammar, task_options=task_options, key=key)
    pop_size = population_size or init_factor * particles
    cfg = {"algorithm": algorithm, "task": task, "particles": particles, "steps": steps,
           "children": children, "seed": int(seed), "init_factor": init_factor, "max_redraws": max_redraws,
           "hof_size": hof_size, "population_size": pop_size, "cycles": cycles or steps,
           "sample_size": sample_size or max(2, min(pop_size, pop_size // 4 or 1)),
           "children_per_cycle": particles * children if algorithm == "regularized" else children,
           "workers": workers, "toolbox": getattr(toolbox, "config", None)}
    from .rundir import RunDir

    rundir = RunDir.create(out_dir, cfg) if out_dir is not None else None
    return _run(toolbox, cfg, rundir, verbose, None, workers)


def resume_search(out_dir: str | os.PathLike, toolbox: base.Toolbox | None = None, verbose: bool = True,
                  workers: int | None = None) -> SearchResult:
    """Continue the run in ``out_dir`` from its checkpoint, replaying logged candidates. A finished
    run is 'resumed' to the same result without evaluating anything."""
    from .rundir import RunDir

    rundir = RunDir.open(out_dir)
    cfg = rundir.config
    try:
        if toolbox is None:
            if cfg.get("toolbox") is None:
                raise CheckpointError(f"{out_dir}: the run used a custom toolbox; pass toolbox= to resume")
            toolbox = toolbox_from_config(cfg["toolbox"])
        state = rundir.load_checkpoint()
        lines = rundir.read_candidates(repair=True)
        if state is not None and state.get("algorithm") != cfg.get("algorithm"):
            raise CheckpointError(f"{out_dir}: checkpoint algorithm {state.get('algorithm')!r} does not "
                                  f"match the run's {cfg.get('algorithm')!r}")
        if verbose:
            at = "the start" if state is None else f"step {state.get('step')}"
            print(f"resuming {out_dir} at {at}: {len(lines)} candidates logged", flush=True)
    except BaseException:
        rundir.close()
        raise
    return _run(toolbox, cfg, rundir, verbose, (state, lines), cfg.get("workers", 0) if workers is None else workers)
