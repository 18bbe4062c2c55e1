"""Runs into a run directory: ``run_search`` (a new run) and ``resume_search`` (continue one)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from deap import base, tools

from ..errors import CheckpointError, GpOptError
from .algorithms import ALGORITHMS
from .candidate import Candidate, same_key
from .contract import Behavioural
from .diversity import check_tolerance
from .loop import positive
from .noise import NoiseSettings
from .taskspec import CALLABLE_PREFIX, check_json, task_spec
from .toolbox import make_toolbox, toolbox_from_config
from .toy import make_toy_toolbox

#: how candidates get their evaluation seeds: ``per-candidate`` (from the run's seed and the
#: candidate's ``seq``: :func:`gp_opt.search.engine.evaluation_seed`) or ``fixed`` (the task's own
#: seed for every candidate: the behaviour before 2026-12-06, and that of runs made before)
EVAL_SEEDS = ("per-candidate", "fixed")
TOY_TASK = "toy"


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
         resume: tuple[dict[str, Any] | None, list[dict[str, Any]]] | None, executor: Any) -> SearchResult:
    """``executor``: an :class:`~gp_opt.search.executors.Executor` (started here if need be, closed
    by its owner) or a number of workers (a pool if > 1, made and closed here)."""
    from .executors import Executor, make_executor

    hof = tools.HallOfFame(int(cfg["hof_size"]), similar=same_key)
    timings: dict[str, float] = {}
    if resume is None or resume[0] is None:
        _seed_globals(int(cfg["seed"]))  # a checkpoint restores them instead
    if cfg.get("init_from"):  # warm starts: the engine puts them first in the initial population
        toolbox.init_from = [(d["name"], toolbox.deserialize(d["genome"])) for d in cfg["init_from"]]
    owned = not isinstance(executor, Executor)
    if owned:
        executor = make_executor(executor)
    try:
        executor.start()
        executor.install(toolbox)  # toolbox.map now submits through the executor
        options = dict(halloffame=hof, rundir=rundir, verbose=verbose, timings=timings, _resume=resume,
                       rng=np.random.default_rng(cfg["seed"]),
                       # a run made before evaluation seeds existed has none in its config: fixed
                       eval_seed=cfg["seed"] if cfg.get("eval_seeds", "fixed") == "per-candidate" else None,
                       noise=NoiseSettings.from_config(cfg.get("noise")))
        pop, lb = ALGORITHMS[cfg["algorithm"]].start(toolbox, cfg, **options)
    finally:
        Executor.uninstall(toolbox)
        if owned:
            executor.close()
        if rundir is not None:
            rundir.close()
    return SearchResult(rundir.path if rundir is not None else None, pop, lb, hof, cfg["algorithm"], timings)


def run_search(task: Any, out_dir: str | os.PathLike | None, particles: int, steps: int, children: int,
               seed: int = 0, init_factor: int = 10, algorithm: str = "particle", grammar: Any = None, *,
               max_redraws: int | None = None, hof_size: int = 10, population_size: int | None = None,
               cycles: int | None = None, sample_size: int | None = None,
               task_options: dict[str, Any] | None = None, key: str = "fingerprint",
               workers: int = 0, executor: Any = None, verbose: bool = True,
               toolbox: base.Toolbox | None = None, init_from: Any = None,
               eval_seeds: str = "per-candidate", noise: Any = None, fix_update: Any = None,
               objectives: Any = None, distinct: Any = None, restart_every: int | None = None) -> SearchResult:
    """Run a search into the new run directory ``out_dir`` (None: no directory, nothing saved).

    ``task`` is a task name of :mod:`gp_opt.tasks` or ``module:attribute`` (genomes are searched),
    ``"toy"`` (small integer vectors: a demo of the machinery), or the fitness itself: a
    :class:`gp_opt.tasks.Task` (class or instance) or any callable ``genome -> FitnessRecord |
    float``. One importable by name is recorded as its ``module:attribute`` (a Task's fields as
    task options) and resumes like a ``--task module:attribute`` run; one that is not (a lambda,
    a function defined in ``__main__``) is recorded as ``python callable NAME`` and resumes only
    from Python, with ``toolbox=`` (:mod:`.taskspec`). With ``toolbox=`` the toolbox's own config
    says what the task was (``task`` is then not used). ``algorithm="regularized"`` spends the same budget:
    a population of ``init_factor * particles`` and ``steps`` cycles of ``particles * children``
    children unless ``population_size``/``cycles``/``sample_size`` say otherwise.
    ``algorithm="random"`` (random search, the control) evaluates the particle search's expected
    number of candidates: ``init_factor * particles`` random ones, then ``steps`` batches of
    ``particles * children`` (``max_redraws`` (default 4), ``population_size``, ``cycles``,
    ``sample_size`` and ``init_from`` do not apply to it: given, they are an error).
    ``workers > 1`` evaluates children in a process pool; ``executor`` (a
    :class:`~gp_opt.search.executors.Executor`, e.g. ``RayExecutor()``; its owner closes it) runs
    them elsewhere, and is started before the run directory is made (a cluster that cannot be
    reached leaves nothing behind). ``init_from`` (catalog names or genome files, a list or
    ``"Adam,Opt6"``) adds those optimizers to the initial population (:mod:`.warmstart`).
    ``eval_seeds``: ``"per-candidate"`` (each candidate evaluated on its own seed, derived from
    ``seed`` and its ``seq``: :func:`gp_opt.search.engine.evaluation_seed`) or ``"fixed"`` (every
    candidate on the task's own seed, as before 2026-12-06). ``noise``: noise-aware selection for
    the particle GA and regularized evolution (:mod:`.noise`): ``True`` (the defaults), a dict or
    a :class:`~gp_opt.search.noise.NoiseSettings` (``race_seeds``, ``rescore``,
    ``max_evaluations``); None (default): off. ``fix_update`` (a catalog name, a genome file or a
    genome): a schedule-only search, the update equation fixed and only its decay functions (so
    the learning-rate schedule) evolved (:mod:`.schedule_only`). ``objectives`` (``"fitness,memory"``,
    ``"fitness,memory,size"``; regularized evolution or the particle GA, on genomes only): NSGA-II
    tournaments or particle moves and the Pareto archive ``pareto.jsonl`` (:mod:`.pareto`).
    ``distinct`` (regularized evolution, genome tasks): diversity pressure, a child that is a
    behavioural near-twin of a living member does not join the population; ``True`` (tolerance
    :data:`.diversity.TOLERANCE`) or a tolerance (:mod:`.diversity`). ``restart_every`` (regularized
    evolution): every that many cycles the population is replaced by fresh random candidates
    (:func:`.algorithms.regularized_evolution`)."""
    if algorithm not in ALGORITHMS:
        raise GpOptError(f"unknown algorithm {algorithm!r}; use one of {', '.join(ALGORITHMS)}")
    if eval_seeds not in EVAL_SEEDS:
        raise GpOptError(f"unknown eval_seeds {eval_seeds!r}; use one of {', '.join(EVAL_SEEDS)}")
    positive(particles=particles, steps=steps, children=children, init_factor=init_factor)
    spec = ALGORITHMS[algorithm]
    options = {"max_redraws": max_redraws, "population_size": population_size, "cycles": cycles,
               "sample_size": sample_size, "init_from": init_from, "noise": noise, "objectives": objectives,
               "distinct": distinct, "restart_every": restart_every}
    given = [name for name in spec.unused if options.get(name) not in (None, False)]
    if given:
        raise GpOptError(f"{', '.join(given)}: not for algorithm {algorithm!r} ({spec.summary})")
    if objectives is not None:
        from .pareto import parse_objectives
        objectives = list(parse_objectives(objectives))
        if task == TOY_TASK or (toolbox is not None and (getattr(toolbox, "config", None) or {}).get("kind") == "toy"):
            raise GpOptError("--objectives: the toy task's candidates are not optimizers (no memory or size to "
                             "trade against its fitness); use a genome task")
    distinct = check_tolerance(distinct)
    if distinct is not None and (task == TOY_TASK or (toolbox is not None and not isinstance(toolbox, Behavioural))):
        raise GpOptError("--distinct: needs behavioural distances between candidates (a genome task), "
                         "not the toy task or a toolbox without behaviour_distances")
    max_redraws = 4 if max_redraws is None else max_redraws
    noise_settings = NoiseSettings.from_config(noise)
    if noise_settings is not None and eval_seeds == "fixed":
        # every re-evaluation would repeat the first score on the task's own seed: budget spent, nothing learnt
        raise GpOptError("--noise-aware: needs --eval-seeds per-candidate (each re-evaluation on a fresh seed); "
                         "with --eval-seeds fixed or --batch-children a re-evaluation repeats the same score")
    if fix_update is not None and (toolbox is not None or init_from or task == TOY_TASK):
        raise GpOptError("--fix-update: not with a toolbox of your own, --init-from or the toy task "
                         "(the initial population is the fixed update with random decay functions)")
    if toolbox is None:
        name, options = (task, task_options) if isinstance(task, str) else task_spec(task, task_options)
        fixed = None
        if fix_update is not None:
            from ..grammar import Grammar, load as load_grammar
            from .schedule_only import fixed_update
            target = grammar if isinstance(grammar, Grammar) else load_grammar(grammar)
            fixed = fixed_update(fix_update, target).to_dict()
            grammar = target
        if name == TOY_TASK:
            seeded = [f"--{k.replace('_', '-')}" for k in ("fitness_seeds", "fitness_baseline") if k in (options or {})]
            if seeded:  # the toy's candidates are integer vectors: no seeds to average, no optimizer to pair
                raise GpOptError(f"{', '.join(seeded)}: not for the toy task; use a genome task")
            toolbox = make_toy_toolbox(seed=seed, **(options or {}))
        else:  # a name, module:attribute, or (name None) a Python callable no name imports
            toolbox = make_toolbox(task if name is None else name, grammar, task_options=options, key=key,
                                   fix_update=fixed)
    pop_size = population_size or init_factor * particles
    cfg = {"algorithm": algorithm, "task": recorded_task(getattr(toolbox, "config", None)),
           "particles": particles, "steps": steps,
           "children": children, "seed": int(seed), "init_factor": init_factor, "max_redraws": max_redraws,
           "hof_size": hof_size, "population_size": pop_size, "cycles": cycles or steps,
           "sample_size": sample_size or max(2, min(pop_size, pop_size // 4 or 1)),
           "children_per_cycle": spec.children_per_generation(particles, children),
           "workers": workers, "toolbox": getattr(toolbox, "config", None), "eval_seeds": eval_seeds,
           "noise": noise_settings.to_config() if noise_settings is not None else None}
    if objectives is not None:   # recorded only when given: older run.json files stay as they are
        cfg["objectives"] = objectives
    if distinct is not None:
        cfg["distinct"] = distinct
    if restart_every is not None:   # recorded only when given, like objectives and distinct
        positive(restart_every=restart_every)
        cfg["restart_every"] = int(restart_every)
    if init_from:
        if cfg["task"] == TOY_TASK:
            raise GpOptError("--init-from needs a genome task, not the toy task")
        from .warmstart import prepare_init_from
        reader = toolbox.deserialize
        while hasattr(reader, "func"):  # deap's register wraps it in a partial
            reader = reader.func
        cfg["init_from"] = prepare_init_from(init_from, getattr(reader, "grammar", None), verbose=verbose)
    from ..rundir import RunDir

    check_json(cfg)  # before anything is made: a value run.json cannot hold is one line
    if executor is not None:
        executor.start()
    rundir = (RunDir.create(out_dir, cfg, grammar_text=getattr(toolbox, "grammar_text", None))
              if out_dir is not None else None)
    return _run(toolbox, cfg, rundir, verbose, None, executor if executor is not None else workers)


def recorded_task(config: dict[str, Any] | None) -> str:
    """What run.json's ``task`` says of a toolbox's fitness: its name or ``module:attribute``,
    ``toy``, ``python callable NAME`` or ``custom toolbox`` (a toolbox without a config)."""
    if config is None:
        return "custom toolbox"
    if config.get("kind") == "toy":
        return TOY_TASK
    if config.get("task") is not None:
        return str(config["task"])
    return CALLABLE_PREFIX + str(config.get("callable", "?"))


def _note(text: str) -> None:
    """A line about a repaired run directory: on stderr, also with ``verbose=False``."""
    import sys

    print(f"note: {text}", file=sys.stderr, flush=True)


def resume_search(out_dir: str | os.PathLike, toolbox: base.Toolbox | None = None, verbose: bool = True,
                  workers: int | None = None, executor: Any = None, task: str | None = None,
                  trust_task: bool = False) -> SearchResult:
    """Continue the run in ``out_dir`` from its checkpoint, replaying logged candidates. A finished
    run is 'resumed' to the same result without evaluating anything. ``executor`` as for
    :func:`run_search` (default: the run's own ``workers``, or ``workers`` if given). A
    ``module:attribute`` task the run records is imported only when ``task`` names it again or
    ``trust_task`` is set (:func:`gp_opt.rundir.carried.check_task`): checked before anything runs."""
    from ..rundir import RunDir, check_task

    if toolbox is None:  # run.json only, no lock taken: a refused task leaves the directory as it is
        recorded = RunDir.open(out_dir, lock=False).config.get("toolbox") or {}
        check_task(out_dir, recorded.get("task"), task, trust_task)
    if executor is not None:
        executor.start()  # a cluster that cannot be reached: before the run directory is touched
    rundir = RunDir.open(out_dir)
    cfg = rundir.config
    try:
        if cfg.get("algorithm") not in ALGORITHMS:
            raise CheckpointError(f"{out_dir}: run.json's algorithm {cfg.get('algorithm')!r} is not one this gp_opt "
                                  f"runs ({', '.join(ALGORITHMS)})")
        if toolbox is None:
            if cfg.get("toolbox") is None:
                raise CheckpointError(f"{out_dir}: the run used a custom toolbox; pass toolbox= to resume")
            toolbox = toolbox_from_config(cfg["toolbox"], rundir.path)
        # everything is checked before anything is changed: a refused resume trims nothing
        state = rundir.load_checkpoint()
        lines = rundir.read_candidates(repair=False)
        if rundir.counts_torn_line(state):
            # the checkpoint counts a line that is now cut: replay the whole run from its log
            # (every intact line taken from it, nothing evaluated again but the cut candidate)
            _note(f"{out_dir}: the checkpoint counts the cut last line of candidates.jsonl; "
                  f"replaying the run from its log (only that candidate is evaluated again)")
            state = None
        elif state is not None:
            rundir.check_state(state, {name: a.generations for name, a in ALGORITHMS.items()})
        moved = rundir.repair_tail()
        if moved:
            _note(f"{out_dir}: moved the cut last line of candidates.jsonl ({moved} bytes) to "
                  f"{rundir.damaged_path.name}; its candidate is evaluated again")
        if verbose:
            at = "the start" if state is None else f"step {state.get('step')}"
            print(f"resuming {out_dir} at {at}: {len(lines)} candidates logged", flush=True)
    except BaseException:
        rundir.close()
        raise
    if executor is None:
        executor = cfg.get("workers", 0) if workers is None else workers
    return _run(toolbox, cfg, rundir, verbose, (state, lines), executor)
