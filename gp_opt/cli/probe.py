"""``gp-opt probe-fitness``: how well a task's fitness tells optimizers apart, per CPU-second."""
from __future__ import annotations

import shlex
import sys

from gp_opt.cli import common, interrupts


def cmd_probe_fitness(args) -> int:
    """Evaluate a reference panel (Adam, SGD, momentum, RMSProp, QHM, Opt6, Opt10, PowerSign and
    random genomes that pass the integrity check) on several seeds with a task's fitness and print
    the seed-blocked between/within variance ratio, Kendall tau between seed halves and P(one
    evaluation orders a pair correctly), per CPU-second. Resumable: the same command continues."""
    import json

    from gp_opt.cli.runs import check_task, task_options_from_args
    from gp_opt.probe.panel import DEFAULT_PANEL
    from gp_opt.probe.run import ProbeSettings, format_tables, run_probe, summarize

    check_task(args.task)
    if args.task == "toy":
        from gp_opt.errors import GpOptError
        raise GpOptError("--task toy is not an optimizer fitness; probe a gp_opt.tasks task or surrogate")
    options = task_options_from_args(args)
    panel = tuple(common.items(args.panel, "--panel")) or DEFAULT_PANEL  # given empty: an error
    settings = ProbeSettings(task=args.task, options=options, panel=panel, random=args.random,
                             random_seed=args.random_seed, seeds=tuple(range(args.seed_start,
                                                                             args.seed_start + args.seeds)))
    interrupts.on_interrupt(None, "the same gp-opt probe-fitness command (it resumes " + shlex.quote(str(args.out)) + ")")
    say = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    result = run_probe(settings, args.out, say=say)
    summary = summarize(result, mean_of=tuple(args.mean_of or (3,)))
    common.write(args, json.dumps(summary, indent=2) if args.json else format_tables(summary))
    return 0


def register(sub) -> None:
    """Add ``probe-fitness``."""
    from gp_opt.cli.runs import add_fitness_seed_options
    p = sub.add_parser("probe-fitness", help="measure how well a task's fitness tells optimizers apart",
                       description=cmd_probe_fitness.__doc__)
    p.add_argument("--task", default="surrogate", metavar="NAME",
                   help="a gp_opt.tasks task (digits, logreg-digits, quadratic, ...), surrogate (default), "
                        "or several joined by + (surrogate+digits)")
    p.add_argument("--preset", choices=["smoke", "digits", "paper"], default=None,
                   help="with --task surrogate (default smoke)")
    p.add_argument("--dataset", choices=["digits", "cifar10", "cifar100", "npz"], help="with --task surrogate")
    p.add_argument("--data-dir", help="with --task surrogate: CIFAR batch files or the .npz file")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="a task option (repeatable), checked against the task's options")
    add_fitness_seed_options(p)
    p.add_argument("--seeds", type=common.positive_int, default=5, help="seeds per panel entry (default 5; >= 2)")
    p.add_argument("--seed-start", type=common.seed, default=0, help="the first seed (default 0)")
    p.add_argument("--panel", metavar="NAMES", default=None,
                   help="comma-separated stock or catalog names (default: Adam,SGD,Momentum,RMSProp,QHM,Opt6,"
                        "Opt10,PowerSign)")
    p.add_argument("--random", type=common.nonneg_int, default=3,
                   help="random genomes passing the integrity check added to the panel (default 3)")
    p.add_argument("--random-seed", type=common.seed, default=0, help="draws the random genomes (default 0)")
    p.add_argument("--mean-of", type=common.positive_int, action="append", default=None,
                   help="also predict the fitness averaged over K seeds (repeatable; default 3)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="the probe directory: probe.json and the append-only evaluations.jsonl")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    p.add_argument("-o", "--output", metavar="FILE", help="write the table to FILE instead of stdout")
    p.set_defaults(func=cmd_probe_fitness, batch_children=False, workers=None)
