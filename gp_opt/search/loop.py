"""What every algorithm does around its own selection: arguments checked, the engine, hall of
fame, statistics and logbook set up, a resumed run taken up, one logbook row and one checkpoint
per generation, and the summary and timings at the end. An algorithm is then a short function:
its initial population, and per generation its parents, :meth:`Engine.vary` and its survivors."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Iterator, TypedDict

import numpy as np
from deap import tools

from ..errors import CheckpointError, GpOptError
from .candidate import Candidate, default_stats, is_ok, on_init_scale, rank, same_key, score
from .engine import Engine
from .noise import RACE_RANK, NoiseSettings
from .progress import fmt_fit

if TYPE_CHECKING:
    from typing_extensions import Unpack

#: a resumed run: its checkpointed state (None before the first checkpoint) and its log lines
Resume = tuple[dict[str, Any] | None, list[dict[str, Any]]]


class RunOptions(TypedDict, total=False):
    """The keyword options every algorithm takes (``**options``), beside its own arguments."""
    #: DEAP statistics of the population per generation (default: avg/std/min/max fitness)
    stats: tools.Statistics | None
    #: filled with the best passing candidates ever seen (default: a new one of 10)
    halloffame: tools.HallOfFame | None
    #: a :class:`gp_opt.rundir.RunDir`: every candidate logged, a checkpoint per generation
    rundir: Any
    #: progress lines on stdout (default True)
    verbose: bool
    #: the structural RNG, or its seed
    rng: np.random.Generator | int | None
    #: filled with this session's wall seconds by part
    timings: dict[str, float] | None
    #: the evaluation seeds: candidate ``seq`` is evaluated on
    #: ``engine.evaluation_seed(eval_seed, seq)`` (None, the default: on the evaluator's own seed)
    eval_seed: int | None
    #: noise-aware selection (:mod:`.noise`; None, the default: off)
    noise: NoiseSettings | None
    #: a resumed run (:func:`gp_opt.search.resume_search` passes it)
    _resume: Resume | None


class SearchLoop:
    """One run of algorithm ``name``. ``unit`` names a generation in the logbook (``step``,
    ``cycle``); ``expected`` is the candidates the run expects (for the ETA), ``n_steps`` its
    generations. After construction ``state`` is the checkpointed state of a resumed run (None
    for a fresh start) and ``start`` the generation to go on from."""

    def __init__(self, name: str, toolbox: Any, *, unit: str, expected: int, n_steps: int,
                 **options: Unpack[RunOptions]):
        unknown = set(options) - set(RunOptions.__annotations__)
        if unknown:
            raise TypeError(f"unexpected keyword argument {sorted(unknown)[0]!r}")
        stats, halloffame, rundir = options.get("stats"), options.get("halloffame"), options.get("rundir")
        rng, resume = options.get("rng"), options.get("_resume")
        verbose = options.get("verbose", True)
        self.timings_out = options.get("timings")
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self.name = name
        self.engine = Engine(toolbox, rng, rundir, verbose, eval_seed=options.get("eval_seed"),
                             noise=options.get("noise"))
        self.rundir = rundir
        self.stats = stats if stats is not None else default_stats()
        self.hof = halloffame if halloffame is not None else tools.HallOfFame(10, similar=same_key)
        self.logbook = tools.Logbook()
        self.logbook.header = [unit, "nevals", "hits", "rejected", "integrity"] + (self.stats.fields if self.stats else [])
        self.unit = unit
        self.engine.progress.expected, self.engine.progress.n_steps = expected, n_steps
        self.before = self.engine.tally.copy()
        self.state: dict[str, Any] | None = None
        if resume is not None:
            state, lines = resume
            if state is not None and state.get("algorithm") != name:
                raise CheckpointError(f"checkpoint is for algorithm {state.get('algorithm')!r}, not {name!r}")
            self.engine.restore(state, lines)
            self.state = state
        if self.state is not None:
            self.hof.items = [self.engine.ops.from_dict(x) for x in self.state["hof"]["items"]]
            self.hof.keys = [it.fitness for it in reversed(self.hof.items)]
            for row in self.state["logbook"]:
                self.logbook.record(**{k: (float(v) if isinstance(v, str) and v in ("inf", "-inf", "nan") else v)
                                       for k, v in row.items()})
        self.start = int(self.state["step"]) if self.state is not None else 0

    def candidates(self, key: str) -> list[Candidate]:
        """The checkpointed candidates under ``key`` of a resumed run."""
        return [self.engine.ops.from_dict(d) for d in self.state[key]]  # type: ignore[index]

    def initial(self, n: int) -> list[Candidate]:
        """The initial population, evaluated: warm starts, then ``n`` random candidates."""
        return self.engine.evaluate(self.engine.initial(n))

    def generations(self, n: int) -> Iterator[int]:
        """The generations ``start .. n - 1`` still to run (0-based), timed as the run's steps;
        none after ``toolbox.stop_when`` has given a reason (:class:`.contract.Stopping`)."""
        timings = self.engine.timings
        t_steps, parts_before = time.perf_counter(), timings.copy()
        for gen in range(self.start, n):
            if self.engine.stopped is not None:  # toolbox.stop_when answered (now or before a resume)
                self.say(f"stopped after {self.unit} {gen}: {self.engine.stopped['reason']} "
                         f"(candidate {self.engine.stopped['seq'] + 1})")
                break
            self.before = self.engine.tally.copy()
            yield gen
        timings["steps"] += time.perf_counter() - t_steps
        for k in ("mutate", "key", "evaluate", "log", "checkpoint"):
            timings["step_" + k] += timings[k] - parts_before[k]
        timings["step_candidates"] += sum(self.logbook.select("nevals")[self.start + 1:]) + \
            sum(self.logbook.select("hits")[self.start + 1:])

    def done(self, gen: int, pop: list[Candidate], new: list[Candidate | None], **state: Any) -> None:
        """Generation ``gen`` (0: the initial population) is over: its passing ``new`` candidates
        join the hall of fame, the logbook gets its row (counters since the generation began,
        statistics of ``pop`` -- of its members at the children's scale where it holds any, so a
        row never averages two ConvNet sizes' scores), and the checkpoint ``state`` (the
        algorithm's own fields)."""
        self.admit(new)
        t, b = self.engine.tally, self.before
        self.logbook.record(**{self.unit: gen}, nevals=t["evals"] - b["evals"], hits=t["cache_hits"] - b["cache_hits"],
                            rejected=t["rejected"] - b["rejected"],
                            integrity=t["integrity_rejections"] - b["integrity_rejections"],
                            **(self.stats.compile([c for c in pop if not on_init_scale(c)] or pop)
                               if self.stats else {}))
        if self.rundir is not None:
            t0 = time.perf_counter()
            ops = self.engine.ops
            self.rundir.save_checkpoint({
                "algorithm": self.name, "step": gen,
                **{k: ([ops.to_dict(c) for c in v] if k in ("particles", "population") else v)
                   for k, v in state.items()},
                "hof": {"maxsize": self.hof.maxsize, "items": [ops.to_dict(i) for i in self.hof.items]},
                "logbook": list(self.logbook), **self.engine.state()})
            self.engine.timings["checkpoint"] += time.perf_counter() - t0

    def race(self, new: list[Candidate | None], gen: int) -> None:
        """Noise-aware selection (off: nothing): the ``new`` candidates near the top get more
        evaluations before they may displace an elite (:mod:`.noise`)."""
        noise, engine = self.engine.noise, self.engine
        if noise is None:
            return
        cap = min(1 + noise.race_seeds, noise.max_evaluations)
        for _ in range(noise.race_seeds):
            ranked = sorted(by_key(list(self.hof.items) + [c for c in new if is_ok(c)]), key=rank, reverse=True)
            bar = rank(ranked[RACE_RANK - 1]) if len(ranked) >= RACE_RANK else (False, float("-inf"))
            fresh = {id(c) for c in new}
            todo = [c for c in ranked if id(c) in fresh and rank(c) >= bar
                    and engine.evaluations.count(c.key) < cap]
            if not todo:
                return
            engine.reevaluate(todo, gen)
            engine.refresh(new)

    def rescore(self, elites: list[Candidate], gen: int) -> None:
        """Noise-aware selection (off: nothing): the best of ``elites`` and the hall of fame get
        one more evaluation each, then both carry their derived records (the hall of fame
        re-sorted by them)."""
        noise, engine = self.engine.noise, self.engine
        if noise is None:
            return
        pool = sorted(by_key(list(self.hof.items) + [c for c in elites if is_ok(c)]), key=rank, reverse=True)
        todo = [c for c in pool if engine.evaluations.count(c.key) < noise.max_evaluations][:noise.rescore]
        if todo:
            engine.reevaluate(todo, gen)
        engine.refresh(elites)
        items = list(self.hof.items)
        engine.refresh(items)
        self.hof.clear()
        self.hof.update([c for c in items if is_ok(c)])

    def admit(self, cands: list[Candidate | None]) -> None:
        """The passing ``cands`` join the hall of fame -- but not one scored by the initial
        population's own fitness (``evaluate_init``, e.g. the paper's base-32 ConvNet): the hall
        of fame ranks by score alone, so it holds one scale, the children's."""
        self.hof.update([c for c in cands if is_ok(c) and not on_init_scale(c)])

    def best_so_far(self) -> str:
        return fmt_fit(score(self.hof[0]) if len(self.hof) else float("-inf"))

    def status(self) -> str:
        """``<counters in words> | <clock>`` for a generation's line."""
        p = self.engine.progress
        return f"{p.tally_text()} | {p.clock(self.engine.log.n_logged)}"

    def say(self, text: str) -> None:
        self.engine.progress.say(text)

    def finish(self, title: str, rows: list[tuple[str, Candidate]]) -> None:
        """The summary; this session's wall seconds by part into the ``timings`` option."""
        self.engine.progress.summary(title, rows, self.hof)
        timings = self.timings_out
        if timings is not None:
            timings.update({k: float(v) for k, v in self.engine.timings.items()})
            timings["total"] = time.perf_counter() - self.engine.progress.started


def by_key(cands: list[Candidate]) -> list[Candidate]:
    """The first candidate of each key (one optimizer once), in order."""
    seen: set[Any] = set()
    out = []
    for c in cands:
        k = c.key if c.key is not None else id(c)
        if k not in seen:
            seen.add(k)
            out.append(c)
    return out


def positive(**kw: int) -> None:
    for name, v in kw.items():
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise GpOptError(f"{name} must be a positive integer, got {v!r}")

