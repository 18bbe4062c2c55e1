"""The engine both algorithms share: the fitness cache, the log of candidates, the checkpoint,
the resume replay, progress lines and the summary."""
from __future__ import annotations

import collections
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from deap import base, tools

from ..errors import CheckpointError, GpOptError
from ..fitness import FitnessRecord, OK
from .candidate import Candidate, History, key_list, make_individual, score

log = logging.getLogger("gp_opt.search")


@dataclass
class Slot:
    payload: Any
    meta: dict[str, Any]
    mutate_seconds: float = 0.0


class Engine:
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
        #: progress: candidates the whole run expects (set by the algorithm; redraws come on top),
        #: steps it runs, and this session's count and best for the ETA and the per-candidate lines
        self._tally_at_start = 0
        self.expected = 0
        self.n_steps = 0
        self.session_done = 0
        self.best_seen = -math.inf

    # -- helpers ----------------------------------------------------------------------------

    def keys(self, payload: Any) -> list[str]:
        fn = getattr(self.toolbox, "key", None)
        return key_list(fn(payload)) if fn is not None else []

    def keys_many(self, payloads: list[Any]) -> list[list[str]]:
        """:meth:`keys` of many payloads (one ``toolbox.key_many`` call if the toolbox has it)."""
        fn = getattr(self.toolbox, "key_many", None)
        if fn is None or not payloads:
            return [self.keys(p) for p in payloads]
        return [key_list(k) for k in fn(list(payloads))]

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

    def initial(self, n: int) -> list[Slot]:
        """``n`` random payloads (``toolbox.population(rng, n, tally)`` if the toolbox has it)."""
        self.say(f"drawing {n} random candidates for the initial population (each redrawn until it "
                 f"passes the integrity check); then {self.expected - n} children in {self.n_steps} steps")
        t0 = time.perf_counter()
        make_many = getattr(self.toolbox, "population", None)
        if make_many is not None:
            payloads = list(make_many(self.rng, n, self.tally))
        else:
            payloads = [self.toolbox.individual(self.rng) for _ in range(n)]
        self.timings["init"] += time.perf_counter() - t0
        dt = (time.perf_counter() - t0) / max(n, 1)
        slots = [Slot(p, {"phase": "init", "step": 0, "particle": None, "slot": i, "attempt": 0}, dt)
                 for i, p in enumerate(payloads)]
        # warm starts (gp_opt.search.warmstart): known optimizers first, then the n random ones
        seeds = [Slot(p, {"phase": "init", "step": 0, "particle": None, "slot": i, "attempt": 0,
                          "origin": name}, 0.0)
                 for i, (name, p) in enumerate(getattr(self.toolbox, "init_from", None) or ())]
        for s in slots:
            s.meta["slot"] += len(seeds)
        return seeds + slots

    def mutate(self, parent: Candidate, history: History, meta: dict[str, Any]) -> Slot | None:
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
        return Slot(child, meta, dt)

    def mutate_many(self, requests: list[tuple[Candidate, History, dict[str, Any]]]) -> list[Slot | None]:
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
            out.append(Slot(child, meta, dt / len(requests)))
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

    def evaluate(self, slots: list[Slot]) -> list[Candidate]:
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
            # taken off the list before the write: an interrupt at any point never writes them twice
            batch = lines[:]
            lines.clear()
            if batch and self.rundir is not None:
                t_log = time.perf_counter()
                self.rundir.append_many(batch)
                self.timings["log"] += time.perf_counter() - t_log

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
                self.progress(ind, how, len(slots))
        finally:
            flush()   # also when an evaluation raised: the lines known so far are kept
        return out

    # -- state -------------------------------------------------------------------------------

    def common_state(self) -> dict[str, Any]:
        from ..rundir import rng_state

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
        from ..rundir import restore_rng

        n = int(state["n_logged"])
        if len(lines) < n:
            raise CheckpointError(f"candidates.jsonl has {len(lines)} lines but the checkpoint "
                                  f"needs {n}: the log was truncated or replaced")
        self.rng = restore_rng(state["rng"])
        self.tally = collections.Counter({k: 0 for k in self.COUNTERS})
        self.tally.update({k: int(v) for k, v in state["counters"].items()})
        self._tally_at_start = self.tally["candidates"]
        self.seconds_before = float(state.get("seconds", 0.0))
        self.n_logged = n
        self.cache = {}
        self.prime(lines[:n])
        self.replay = {int(line["seq"]): line for line in lines[n:]}

    def prime(self, lines: list[dict[str, Any]]) -> None:
        for line in lines:
            ks = key_list(line.get("keys", line.get("key")))
            if ks:
                self._file(ks, FitnessRecord.from_dict(line["record"]), bool(line.get("cache_hit")))

    def step_parts(self, before: collections.Counter) -> None:
        """Add ``step_<part>``: the seconds of each part spent in the time steps (since ``before``)."""
        for k in ("mutate", "key", "evaluate", "log", "checkpoint"):
            self.timings["step_" + k] += self.timings[k] - before[k]

    def elapsed(self) -> float:
        return self.seconds_before + time.perf_counter() - self.started

    # -- talking -----------------------------------------------------------------------------

    def progress(self, ind: Candidate, how: str, batch: int) -> None:
        """One line per candidate as soon as its fitness is known: where it is in the run, its
        outcome, the best so far, elapsed time and an ETA for the whole run."""
        if how == "eval":
            self.session_done += 1
        rec = ind.record
        if rec is not None and rec.status == OK:
            self.best_seen = max(self.best_seen, float(rec.fitness))
        if not self.verbose:
            return
        m = ind.meta
        if m.get("phase") == "init":
            where = f"init {m.get('slot', 0) + 1}/{batch}"
        else:
            unit = "step" if m.get("phase") == "step" else "cycle"
            where = f"{unit} {m.get('step')}/{self.n_steps}"
            if m.get("particle") is not None:
                where += f" particle {m['particle'] + 1}"
            where += f" child {m.get('slot', 0) + 1}"
            if m.get("attempt"):
                where += f" redraw {m['attempt']}"
        self.say(f"  {where}: {outcome(rec, how)} | best {fmt_fit(self.best_seen)} | {self.clock()}")

    def clock(self) -> str:
        """``12s elapsed, ETA 1m05s`` (the ETA from this session's evaluations per second)."""
        elapsed = self.elapsed()
        text = f"{fmt_secs(elapsed)} elapsed"
        remaining = self.expected - self.n_logged
        session = time.perf_counter() - self.started
        if self.expected and self.session_done and remaining > 0:
            text += f", ETA {fmt_secs(session / self.n_session_logged() * remaining)}"
        return text

    def n_session_logged(self) -> int:
        return max(1, self.tally["candidates"] - self._tally_at_start)

    def tally_text(self) -> str:
        """The counters in words a newcomer reads (used by the step lines and the summary)."""
        t = self.tally
        return (f"{t['candidates']} scored ({t['evals']} trained, {t['cache_hits']} cache hits), "
                f"{t['rejected']} did not pass; before scoring {t['integrity_rejections']} rejected "
                f"by the integrity check, {t['duplicates']} duplicates skipped")

    def say(self, text: str) -> None:
        log.info(text)
        if self.verbose:
            print(text, flush=True)


def hof_state(engine: Engine, hof: tools.HallOfFame) -> dict[str, Any]:
    return {"maxsize": hof.maxsize, "items": [engine.ind_to_dict(i) for i in hof.items]}


def restore_hof(engine: Engine, hof: tools.HallOfFame, d: dict[str, Any]) -> None:
    items = [engine.ind_from_dict(x) for x in d["items"]]
    hof.items = items
    hof.keys = [it.fitness for it in reversed(items)]


def restore_logbook(logbook: tools.Logbook, records: list[dict[str, Any]]) -> None:
    for rec in records:
        logbook.record(**{k: (float(v) if isinstance(v, str) and v in ("inf", "-inf", "nan") else v)
                          for k, v in rec.items()})


def fmt_secs(seconds: float) -> str:
    """``42s``, ``3m05s``, ``2h07m``."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def outcome(rec: FitnessRecord | None, how: str) -> str:
    """A candidate's result in words: fitness and lr, or why it did not pass."""
    if rec is None:
        return "no record"
    if rec.status != OK:
        reason = " ".join(str(rec.reason or "").split())
        text = f"{rec.status}: {reason[:100]}{'...' if len(reason) > 100 else ''}"
    else:
        lr = f" at lr {rec.best_lr:g}" if rec.best_lr is not None else ""
        text = f"fitness {fmt_fit(rec.fitness)}{lr}"
    if how == "eval":
        return text + (f" ({rec.seconds:.1f}s)" if rec.seconds else "")
    return text + {"hit": " (cache hit)", "dup": " (duplicate in this batch)",
                   "replay": " (from the log)"}.get(how, "")


def fmt_fit(x: float) -> str:
    return f"{x:.4g}" if math.isfinite(x) else "-"


def summary(engine: Engine, title: str, rows: list[tuple[str, Candidate]], hof: tools.HallOfFame) -> None:
    lines = [f"{title} in {fmt_secs(engine.elapsed())}: {engine.tally_text()}",
             f"{'':<12} {'fitness':>10} {'best lr':>9}  key"]
    for name, ind in rows:
        lr = ind.record.best_lr if ind.record is not None else None
        lines.append(f"{name:<12} {fmt_fit(score(ind)):>10} {('-' if lr is None else f'{lr:g}'):>9}  "
                     f"{(ind.key or '')[:60]}")
    for i, ind in enumerate(hof.items[:5]):
        lines.append(f"{'hof ' + str(i):<12} {fmt_fit(score(ind)):>10} "
                     f"{('-' if ind.record.best_lr is None else f'{ind.record.best_lr:g}'):>9}  "
                     f"{(ind.key or '')[:60]}")
    engine.say("\n".join(lines))


def report_timings(engine: Engine, timings: dict[str, float] | None) -> None:
    if timings is not None:
        timings.update({k: float(v) for k, v in engine.timings.items()})
        timings["total"] = time.perf_counter() - engine.started


def check_toolbox(toolbox: base.Toolbox) -> None:
    missing = [n for n in ("individual", "mutate", "evaluate", "map") if not hasattr(toolbox, n)]
    if missing:
        raise GpOptError(f"the toolbox lacks {', '.join(missing)}")


def positive(**kw: int) -> None:
    for name, v in kw.items():
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise GpOptError(f"{name} must be a positive integer, got {v!r}")


# ---------------------------------------------------------------------------------------------
# the particle-based GA (SPEC section 7)


