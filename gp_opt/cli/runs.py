"""Verbs that run fitness evaluations: search, resume, evaluate."""
from __future__ import annotations

import shlex
from pathlib import Path

from gp_opt.cli import common, interrupts
from gp_opt.errors import GpOptError


#: search options that only the surrogate task reads
SURROGATE_ONLY = ("preset", "dataset", "data_dir", "batch_children")


def task_options_from_args(args) -> dict:
    """``--set`` and the surrogate options as task options, each checked (type, range, and that
    it applies to ``--task``) before anything runs: a GpOptError naming the option."""
    multi = "+" in args.task and ":" not in args.task
    with_surrogate = args.task == "surrogate" or (multi and "surrogate" in args.task.split("+"))
    given = [f"--{k.replace('_', '-')}" for k in SURROGATE_ONLY if getattr(args, k, None)]
    if given and (not with_surrogate or (multi and args.batch_children)):
        raise GpOptError(f"{', '.join(given)}: only for --task surrogate, not --task {args.task}")
    options = common.parse_set(args.set, args.task)
    if getattr(args, "fitness_seeds", None) is not None:
        options["fitness_seeds"] = args.fitness_seeds
    if getattr(args, "fitness_baseline", None) is not None:
        from gp_opt.tasks import check_reference_name
        check_reference_name(args.fitness_baseline)
        options["fitness_baseline"] = args.fitness_baseline
    if multi and with_surrogate:  # the surrogate options go to the list's surrogate
        options.setdefault("surrogate.preset", args.preset or "smoke")
        for key in ("dataset", "data_dir"):
            if getattr(args, key) is not None:
                options.setdefault(f"surrogate.{key}", getattr(args, key))
    if args.task == "surrogate":
        options.setdefault("preset", args.preset or "smoke")
        if args.batch_children:
            options.setdefault("batch_children", True)
        for key in ("dataset", "data_dir"):
            if getattr(args, key) is not None:
                options.setdefault(key, getattr(args, key))
    return options


def check_task(name: str) -> None:
    """A known task name or module:attribute (imported now, so a typo fails before any run starts)."""
    from gp_opt.tasks import import_attribute, task_names
    if "+" in name and ":" not in name:
        from gp_opt.multitask import split_options
        split_options(name, {}, task_names())  # an unknown task in the list: one line, exit 2
    elif ":" in name:
        import_attribute(name)  # import errors become one line; options are checked when the run builds it
    elif name not in task_names() + ["toy"]:
        raise GpOptError(f"unknown task {name!r}; known tasks: {', '.join(task_names() + ['toy'])}, "
                         "or module:attribute for your own")


#: each search flag an algorithm may have no use for, and the run_search option it sets
#: (:attr:`gp_opt.search.algorithms.Algorithm.unused` says which an algorithm does not use)
FLAG_OPTIONS = {"max_redraws": "max_redraws", "init_from": "init_from", "noise_aware": "noise",
                "race_seeds": "noise", "rescore": "noise", "max_evaluations": "noise", "objectives": "objectives",
                "distinct": "distinct", "restart_every": "restart_every"}


class AlgorithmNames:
    """``--algorithm``'s choices: the search's registry, read when argparse first asks (building
    the parser for other verbs does not import the search)."""

    @staticmethod
    def names() -> list[str]:
        from gp_opt.search.algorithms import ALGORITHMS
        return list(ALGORITHMS)

    def __contains__(self, value: object) -> bool:
        return value in self.names()

    def __iter__(self):
        return iter(self.names())


#: the settings of noise-aware selection (only with --noise-aware)
NOISE_OPTIONS = ("race_seeds", "rescore", "max_evaluations")


def _check_algorithm_options(args) -> None:
    if args.eval_seeds is None:
        args.eval_seeds = "fixed" if args.batch_children else "per-candidate"
    elif args.eval_seeds == "per-candidate" and args.batch_children:
        raise GpOptError("--batch-children trains a step's children together on one seed: use it with "
                         "--eval-seeds fixed (its default), not per-candidate")
    from gp_opt.search.algorithms import ALGORITHMS
    spec = ALGORITHMS[args.algorithm]
    given = [f"--{k.replace('_', '-')}" for k, option in FLAG_OPTIONS.items()
             if option in spec.unused and getattr(args, k, None) not in (None, False)]
    if given:
        raise GpOptError(f"{', '.join(given)}: not for --algorithm {args.algorithm} ({spec.summary})")
    if args.objectives is not None:   # checked before anything is made: one line, exit 2
        from gp_opt.search.pareto import parse_objectives
        parse_objectives(args.objectives)
        if args.task == "toy":
            raise GpOptError("--objectives: the toy task's candidates are not optimizers (no memory or size "
                             "to trade against its fitness); use a genome task")
    if not args.noise_aware:
        given = [f"--{k.replace('_', '-')}" for k in NOISE_OPTIONS if getattr(args, k, None) is not None]
        if given:
            raise GpOptError(f"{', '.join(given)}: only with --noise-aware")


def _noise(args) -> dict | None:
    """The noise-aware selection settings of the command line (None: off)."""
    if not args.noise_aware:
        return None
    return {k: getattr(args, k) for k in NOISE_OPTIONS if getattr(args, k) is not None}


def cmd_search(args) -> int:
    """Evolve optimizers (SPEC section 7), keeping every evaluated candidate in --out as it goes."""
    from gp_opt.rundir.core import check_new
    from gp_opt.search import run_search
    check_task(args.task)
    from gp_opt.search.executors import executor_from_args, running
    options = task_options_from_args(args)  # every value checked before anything is created
    _check_algorithm_options(args)
    common.items(args.init_from, "--init-from")  # given but empty: an error, not a cold start
    check_new(Path(args.out))  # before any work: a run there, or a folder of other files
    interrupts.on_interrupt(args.out, f"gp-opt resume {shlex.quote(str(args.out))}")
    with running(executor_from_args(args)) as executor:  # a cluster unreachable: nothing written
        result = run_search(args.task, args.out, args.particles, args.steps, args.children, seed=args.seed,
                            init_factor=args.init_factor, algorithm=args.algorithm, grammar=args.grammar,
                            max_redraws=args.max_redraws, key=args.key, workers=args.workers or 0,
                            executor=executor, task_options=options, verbose=not args.quiet,
                            init_from=args.init_from, eval_seeds=args.eval_seeds, noise=_noise(args),
                            fix_update=args.fix_update, objectives=args.objectives, distinct=args.distinct,
                            restart_every=args.restart_every)
    return _report_best(result, args)


def _report_best(result, args) -> int:
    """Save the winners beside the run (best.json, hall_of_fame.json: genome, fitness summary,
    learning rate, task, preset), say where with the fitness and learning rate, and print the
    equation (pretty; --plain: one line). Exit code 1 when no candidate passed."""
    import sys

    best = result.best
    if best is None:
        print(f"gp-opt {args.verb}: no candidate passed: every one was rejected or failed (the reasons "
              f"are in {Path(result.out_dir or '.') / 'candidates.jsonl'}); nothing saved", file=sys.stderr)
        return 1
    if not hasattr(best.payload, "to_json") or result.out_dir is None:
        return 0
    from gp_opt.rundir import RunDir
    from gp_opt.winner import learning_rate, save_winners, summary_line
    meta = RunDir.open(result.out_dir, lock=False).meta
    path = save_winners(result.out_dir, result.halloffame.items, meta["config"], meta["run_id"])
    if not args.quiet:
        from gp_opt import catalog
        genome = catalog.load_file(path)
        found = genome.meta["found"]
        lr = learning_rate(genome)
        print(f"\nbest saved to {path}: {summary_line(found)}; momentum {genome.momentum}"
              f"{', sign flipped' if genome.sign < 0 else ''}")
        print(f"use it: EvolvedOptimizer.from_file({str(path)!r}, params, total_steps=...)"
              + (f"  (lr {lr:g} by default)" if lr else ""))
        print("U =")
        print(common.indent(_equation(genome, getattr(args, "plain", False))))
        fixed = (meta["config"].get("toolbox") or {}).get("fix_update")
        if fixed is not None:
            from gp_opt.search.schedule_only import schedule_lines
            print("\n".join(schedule_lines(genome, str(path), fixed)))
    return 0


def _equation(genome, plain: bool) -> str:
    """The winner's update: sympy's 2-D pretty form (no time limit: always pretty), or one line."""
    from gp_opt import symbolic as S
    expr = S.to_sympy(genome, expand_schedules=False, expand_operands=False)
    return S.text_expr(expr, genome.grammar) if plain else S.pretty_expr(expr, genome.grammar, timeout=None)


def _check_recorded_seed(run_dir) -> None:
    """A run written before seeds were bounded (or edited) may hold a seed torch cannot take: one
    line now instead of a traceback once the search has started."""
    from gp_opt.rundir import RunDir

    try:
        seed = RunDir.open(run_dir, lock=False).config.get("seed")
    except GpOptError:
        return  # resume_search names what is wrong with the directory
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= common.MAX_SEED):
        raise GpOptError(f"{run_dir}: run.json records seed {common.echo(seed)}; a run's seed is an integer "
                         f"in 0..{common.MAX_SEED}, so this run cannot be resumed")


def cmd_resume(args) -> int:
    """Continue a stopped or killed search from its run directory."""
    from gp_opt.search import resume_search
    from gp_opt.search.executors import executor_from_args, running
    again = (f" --task {shlex.quote(args.task)}" if args.task else "") + (" --trust-task" if args.trust_task else "")
    interrupts.on_interrupt(args.dir, f"gp-opt resume {shlex.quote(str(args.dir))}{again}")
    _check_recorded_seed(args.dir)
    with running(executor_from_args(args)) as executor:  # None: the run's own --workers
        result = resume_search(args.dir, verbose=not args.quiet, executor=executor, task=args.task,
                               trust_task=args.trust_task)
    return _report_best(result, args)


def cmd_evaluate(args) -> int:
    """Score an optimizer by the surrogate fitness protocol (SPEC section 6) and print its record."""
    import json

    from gp_opt.surrogate.console import evaluate_spec, format_record
    rec = evaluate_spec(args.optimizer, preset=args.preset, dataset=args.dataset, data_dir=args.data_dir,
                        download=args.download, device=args.device, seed=args.seed, grammar=common.grammar(args),
                        progress=not args.quiet)
    common.write(args, json.dumps(rec.to_dict(), indent=2) if args.json else format_record(rec))
    return 0



def add_fitness_seed_options(p) -> None:
    """``--fitness-seeds K`` and ``--fitness-baseline NAME`` (gp_opt.seeded), for any task."""
    p.add_argument("--fitness-seeds", type=common.positive_int, default=None, metavar="K",
                   help="a candidate's fitness is its mean over K evaluation seeds (the rate chosen on the "
                        "first; default 1)")
    p.add_argument("--fitness-baseline", metavar="NAME", default=None,
                   help="score against NAME (e.g. Adam, Opt6) trained on the same seeds: the fitness is the "
                        "mean paired difference (NAME trained once per seed)")


def register(sub) -> None:
    """Add the run verbs: search, resume, evaluate."""
    from gp_opt.search.executors import add_executor_options
    from gp_opt.tasks import task_names
    p = sub.add_parser("search", help="evolve optimizers into a resumable run directory",
                       description=cmd_search.__doc__)
    p.add_argument("--task", default="quadratic", metavar="NAME|MODULE:ATTR",
                   help=f"fitness: a cheap CPU task ({', '.join(task_names() + ['toy'])}), 'surrogate' "
                        "(the paper's ConvNet protocol), or your own as module:attribute importable from "
                        "the working directory (a gp_opt.tasks.Task subclass or a function genome -> "
                        "fitness; see docs/transfer.md); several tasks joined by + (surrogate+digits) are "
                        "scored as one (TASK.FIELD in --set; docs/surrogate.md)")
    p.add_argument("--particles", type=common.positive_int, required=True, help="N, the number of particles")
    p.add_argument("--steps", type=common.positive_int, required=True, help="K, time steps per particle")
    p.add_argument("--children", type=common.positive_int, required=True, help="M, children per particle and step")
    p.add_argument("--seed", type=common.seed, default=0, help="any non-negative integer (default 0)")
    p.add_argument("--init-factor", type=common.positive_int, default=10,
                   help="initial population = FACTOR x N (default 10)")
    p.add_argument("--algorithm", choices=AlgorithmNames(), default="particle",
                   help="particle (the paper's GA, default), regularized (aging evolution) or random (random "
                        "search, the control: the particle GA's expected number of candidates, N x FACTOR "
                        "+ K x N x M, all drawn at random); gp_opt.search.algorithms.ALGORITHMS lists them; "
                        "docs/search.md")
    p.add_argument("--eval-seeds", choices=["per-candidate", "fixed"], default=None,
                   help="per-candidate (default): each candidate is evaluated on its own seed, derived from "
                        "--seed and its number in the log; fixed (the default with --batch-children, which "
                        "trains a step's children together on one seed): every candidate on the task's own "
                        "seed, the behaviour before 2026-12-06; docs/search.md")
    p.add_argument("--objectives", metavar="fitness,memory[,size]",
                   help="with --algorithm regularized or particle: a multi-objective search, each tournament "
                        "(regularized) or particle's move (particle) chosen by DEAP's NSGA-II over these "
                        "objectives (fitness up; memory: state buffers per parameter, size: graph nodes, down); "
                        "the Pareto archive goes to OUT/pareto.jsonl; docs/search.md")
    p.add_argument("--distinct", nargs="?", const=True, default=None, type=common.float_in(0.0, 2.0, lo_open=True), metavar="TOL",
                   help="with --algorithm regularized: diversity pressure, a child that behaves like a living "
                        "member (behavioural distance at most TOL, default 1e-3) is logged but does not join "
                        "the population; docs/search.md")
    p.add_argument("--restart-every", type=common.positive_int, metavar="CYCLES",
                   help="with --algorithm regularized: every CYCLES cycles the population is replaced by fresh "
                        "random candidates (the hall of fame stays): a way off a plateau; docs/search.md")
    p.add_argument("--noise-aware", action="store_true", default=None,
                   help="noise-aware selection (particle, regularized): children near the top get more "
                        "evaluation seeds before they may displace an elite, elites and the hall of fame "
                        "are re-scored on fresh seeds, selection uses mean minus standard error over a "
                        "candidate's evaluations (docs/search.md)")
    p.add_argument("--race-seeds", type=common.nonneg_int, default=None, metavar="R",
                   help="with --noise-aware: extra evaluations a child near the top may get (default 2)")
    p.add_argument("--rescore", type=common.nonneg_int, default=None, metavar="K",
                   help="with --noise-aware: elites and hall-of-fame entries re-scored per step (default 2)")
    p.add_argument("--max-evaluations", type=common.positive_int, default=None, metavar="E",
                   help="with --noise-aware: evaluations of one candidate at most (default 4)")
    p.add_argument("--max-redraws", type=common.nonneg_int, default=None,
                   help="redraws of a child that fails the screen (default 4; not for --algorithm random)")
    p.add_argument("--key", choices=["fingerprint", "canonical", "both"], default="fingerprint",
                   help="how two genomes are judged the same optimizer (the fitness cache)")
    p.add_argument("--preset", choices=["smoke", "digits", "paper"], default=None,
                   help="with --task surrogate (default smoke)")
    p.add_argument("--dataset", choices=["digits", "cifar10", "cifar100", "npz"], help="with --task surrogate")
    p.add_argument("--data-dir", help="with --task surrogate: CIFAR batch files or the .npz file")
    p.add_argument("--batch-children", action="store_true",
                   help="with --task surrogate: train a time step's children in shared ensembles "
                        "(faster on a GPU; results then depend on float summation order in a batch)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="a task option (repeatable), e.g. steps=100; checked against the task's options")
    add_fitness_seed_options(p)
    p.add_argument("--init-from", metavar="NAMES", help="warm start: catalog names or genome files, comma-separated "
                   "(e.g. Adam,Opt6,best.json), added to the initial population")
    p.add_argument("--fix-update", metavar="NAME|FILE",
                   help="schedule-only search: the update equation of this catalog name or genome file is "
                        "fixed (its decay functions dropped) and only decay functions, so the learning-rate "
                        "schedule, evolve; the winner's schedule works with any torch optimizer as an EvolvedLR")
    p.add_argument("--out", required=True, metavar="DIR", help="the run directory (must be new or empty)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    p.add_argument("--plain", action="store_true", help="plain progress lines and a one-line equation (for logs)")
    common.add_grammar_option(p)
    add_executor_options(p)
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("resume", help="continue a search from its run directory", description=cmd_resume.__doc__)
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--task", metavar="MODULE:ATTR", default=None,
                   help="the run's own module:attribute task, named again: a task recorded in a run "
                        "directory is code, imported only when you name it (see docs/security.md)")
    p.add_argument("--trust-task", action="store_true",
                   help="import the module:attribute task the run records without naming it")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    p.add_argument("--plain", action="store_true", help="plain progress lines and a one-line equation (for logs)")
    add_executor_options(p)
    p.set_defaults(func=cmd_resume)

    p = sub.add_parser("evaluate", help="score an optimizer by the surrogate fitness protocol",
                       description=cmd_evaluate.__doc__)
    p.add_argument("optimizer", metavar="NAME|FILE",
                   help="adam, sgd, nesterov, momentum, rmsprop, adamw, a catalog name or a genome JSON file")
    p.add_argument("--dataset", choices=["digits", "cifar10", "cifar100", "npz"], default=None,
                   help="default: the preset's (smoke: digits, paper: cifar10)")
    p.add_argument("--preset", choices=["smoke", "digits", "paper"], default="smoke")
    p.add_argument("--data-dir", metavar="D", help="CIFAR batch files (or the .npz file for --dataset npz)")
    p.add_argument("--download", action="store_true", help="fetch the official CIFAR archive into --data-dir")
    p.add_argument("--device", type=common.device, default="auto", help="auto, cpu, cuda, cuda:1, ...")
    p.add_argument("--seed", type=common.seed, default=0, help="any non-negative integer (default 0)")
    p.add_argument("--json", action="store_true", help="print the FitnessRecord as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    common.add_grammar_option(p)
    p.set_defaults(func=cmd_evaluate)
