"""The transfer verbs: score optimizers on held-out tasks (docs/transfer.md), and read how forgiving their learning rates are (lr-range)."""
from __future__ import annotations

import math
import shlex
import sys
from pathlib import Path

from gp_opt.cli import common, interrupts
from gp_opt.errors import GpOptError


def _floats(text: str, what: str) -> list[float]:
    values = []
    for item in common.items(text, what):
        try:
            values.append(float(item))
        except ValueError:
            raise GpOptError(f"{what} {text!r}: expected comma-separated numbers, e.g. 1,0.1,0.01") from None
    if not all(math.isfinite(x) and x > 0 for x in values):
        raise GpOptError(f"{what}: learning rates must be finite and positive, got {text}")
    return values


def build_tasks(names: list[str], options: dict, data_dir: str | None) -> list:
    """The tasks by name with the ``--set`` options each accepts, ``options`` being KEY -> (JSON
    value, text) (:func:`gp_opt.cli.common.parse_items`); each value is checked against the field's
    type and range, and an option no task has is an error."""
    import dataclasses

    from gp_opt.transfer import registry

    tasks, used = [], set()
    for name in names:
        base = registry.get_task(name, **({"data_dir": data_dir} if data_dir and name in registry.GPU_TASKS else {}))
        fields = {f.name: common.annotation(f) for f in dataclasses.fields(base) if f.name != "name"}
        owner = f"task {name!r}"
        mine = {k: common.check_option(k, v, text, fields[k], owner)
                for k, (v, text) in options.items() if k in fields}
        used |= set(mine)
        for key, (value, text) in options.items():  # TASK.KEY=VALUE: that task only (wins over KEY=VALUE)
            task_name, dot, field = key.rpartition(".")
            if dot and task_name in (name, base.name):
                if field not in fields:
                    raise GpOptError(f"--set {key}: task {name!r} has no option {field!r}; it has "
                                     f"{', '.join(sorted(fields))}")
                mine[field] = common.check_option(field, value, text, fields[field], owner, key)
                used.add(key)
        if data_dir and "data_dir" in fields and "data_dir" not in mine:
            mine["data_dir"] = data_dir
        try:
            tasks.append(base.with_options(**mine) if mine else base)
        except (TypeError, ValueError) as exc:
            raise GpOptError(f"--set for task {name!r}: {exc}") from None
        if name in registry.GPU_TASKS and not getattr(tasks[-1], "data_dir", None):
            raise GpOptError(f"task {name!r} needs the CIFAR data: pass --data-dir DIR")
    unused = sorted(set(options) - used)
    if unused:
        raise GpOptError(f"--set {unused[0]}: none of the tasks ({', '.join(names)}) has that option")
    return tasks


def cmd_transfer(args) -> int:
    """Score optimizers on held-out tasks, each with the same learning-rate grid and budget; print
    and save mean ± std at each one's best learning rate and a Welch's t-test verdict against Adam."""
    import torch

    from gp_opt.transfer import registry, run_transfer

    names = common.items(args.tasks, "--tasks") or list(registry.DEFAULT_TASKS)  # given empty: an error
    lrs = _floats(args.lrs, "--lrs") if args.lrs is not None else None
    options = {key: (value, text) for key, value, text in common.parse_items(args.set)}
    tasks = build_tasks(names, options, args.data_dir)  # every name and value checked before training
    grammar = common.grammar(args)
    from gp_opt.search.executors import executor_from_args, running
    from gp_opt.transfer.suite import resolve_all
    resolved = resolve_all(args.optimizers, args.reference, grammar)[0]  # unknown or repeated names: before any output
    executor = executor_from_args(args)  # options for another executor: an error before any output
    if executor is not None and executor.name != "inprocess":
        from gp_opt.transfer.jobs import check_shippable
        check_shippable(tasks, [make for _, make in resolved])  # before a pool or a cluster starts
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    say = None if args.quiet else (lambda line: print(line, flush=True))
    if say:
        grid = lrs or list(tasks[0].lrs)
        say(f"transfer: {len(args.optimizers)} optimizer(s) (+ {args.reference} as reference), "
            f"{len(tasks)} task(s), {args.seeds} seed(s), lr grid {', '.join(f'{x:g}' for x in grid)}"
            f"{'' if not args.loop else ', one run at a time (--loop)'}")
    # finished entries are kept in progress.jsonl as they finish: the same command continues
    interrupts.on_interrupt(None, continue_command(args), kept=f"finished entries are kept in "
                                                           f"{Path(args.output) / 'progress.jsonl'}")
    with running(executor) as ex:  # a cluster that cannot be reached fails here, before any output
        if say and ex is not None:
            say(f"transfer: entries evaluated on {ex.describe()}")
        try:
            result = run_transfer(args.optimizers, tasks, seeds=args.seeds, lrs=lrs, reference=args.reference,
                                  batched=not args.loop, grammar=grammar, progress=say, out_dir=args.output,
                                  executor=ex)
        except interrupts.Interrupted:
            interrupts.interrupt_hint["kept"] = kept_entries(Path(args.output))
            raise
    from gp_opt.transfer.suite import FILES
    paths = {k: Path(args.output) / name for k, name in FILES.items()}
    from gp_opt.transfer.suite import markdown
    if not args.quiet:
        print()
        print(markdown(result))
        print(f"saved: {', '.join(str(p) for p in paths.values())}  ({result['seconds']:.0f} s)")
    failed = [e for e in result["entries"] if e["status"] != "ok"]
    if failed and not args.quiet:
        print(f"{len(failed)} failed entr{'y' if len(failed) == 1 else 'ies'}: "
              + "; ".join(f"{e['optimizer']} on {e['task']}" for e in failed), file=sys.stderr)
    return 0


def continue_command(args) -> str:
    """The command that continues an interrupted ``transfer``: the same optimizers, tasks, seeds,
    grid, options and output folder (what decides which saved entries are reused)."""
    words = ["gp-opt", "transfer", *args.optimizers]
    for flag, value in (("--tasks", args.tasks), ("--seeds", args.seeds), ("--lrs", args.lrs),
                        ("--reference", args.reference), ("--data-dir", args.data_dir),
                        ("--grammar", getattr(args, "grammar", None)), ("--threads", args.threads)):
        if value is not None:
            words += [flag, str(value)]
    for item in args.set or ():
        words += ["--set", item]
    if args.loop:
        words.append("--loop")
    words += ["-o", str(args.output)]
    return shlex.join(words)


def kept_entries(out: Path) -> str:
    """What an interrupted ``transfer`` kept: the finished entries in ``out/progress.jsonl``."""
    import os

    from gp_opt.rundir.files import open_nofollow

    log = out / "progress.jsonl"
    try:
        with os.fdopen(open_nofollow(log, os.O_RDONLY), "rb") as fh:
            n = sum(1 for line in fh if line.endswith(b"\n"))
    except (OSError, GpOptError):
        n = 0
    if not n:
        return f"no entry had finished (nothing in {log})"
    return f"{n} finished entr{'y is' if n == 1 else 'ies are'} kept in {log} and reused"


def cmd_lr_range(args) -> int:
    """How forgiving each optimizer's learning rate is, from a transfer suite's results
    (gp_opt.sensitivity): per task and optimizer, the stretch of the lr grid around the best rate
    whose validation mean stays within --tolerance of the best, and its width in decades."""
    from pathlib import Path

    from gp_opt.sensitivity import curve_of, lr_range, transfer_rows
    path = Path(args.results)
    if path.is_dir():
        path = next((p for p in (path / "results.json", path / "transfer" / "results.json") if p.exists()),
                    path / "results.json")
    rows = transfer_rows(path)
    produce = f"'gp-opt transfer OPTIMIZERS... -o {path.parent}'"
    lines = [f"lr range within {args.tolerance:g} (relative) of the best validation mean, from {path}:",
             f"{'task':<16} {'optimizer':<16} {'best lr':>9} {'low':>9} {'high':>9} {'decades':>8}"]
    for row in rows:   # every row checked before anything is printed
        row["_curve"] = curve_of(row, f"transfer results {path}, row {row.get('task')}/{row.get('optimizer')}",
                                 produce)
    for row in rows:
        found = lr_range(row.pop("_curve"), bool(row.get("higher_is_better", True)), args.tolerance)
        head = f"{str(row.get('task')):<16} {str(row.get('optimizer')):<16}"
        lines.append(f"{head} {found.best_lr:>9g} {found.low:>9g} {found.high:>9g} {found.decades:>8.2f}"
                     if found else f"{head} no rate finished on every seed")
    common.write(args, "\n".join(lines))
    return 0


def register(sub) -> None:
    """Add the transfer verb."""
    from gp_opt.transfer import registry
    from gp_opt.transfer.task import DEFAULT_TRANSFER_LRS
    p = sub.add_parser("transfer", help="score optimizers on held-out tasks against Adam",
                       description=cmd_transfer.__doc__)
    p.add_argument("optimizers", nargs="+", metavar="NAME|FILE",
                   help="torch baselines (Adam, AdamW, SGD, Momentum, Nesterov, RMSprop), catalog names "
                        "(Opt6, QHM...) or genome JSON files")
    p.add_argument("--tasks", metavar="T1,T2",
                   help=f"comma-separated: {', '.join(registry.task_names())}, or module:attribute "
                        f"(default {','.join(registry.DEFAULT_TASKS)})")
    p.add_argument("--seeds", type=common.count(1000), default=5, help="seeds per learning rate (default 5)")
    p.add_argument("--lrs", metavar="LR,LR",
                   help=f"the learning-rate grid, the same for every optimizer "
                        f"(default {','.join(f'{x:g}' for x in DEFAULT_TRANSFER_LRS)})")
    p.add_argument("--reference", default="Adam", help="the optimizer every other is compared with (default Adam)")
    p.add_argument("--data-dir", metavar="D", help="CIFAR batch files, for the cifar10/100-convnet tasks")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="a task option for every task that has it (repeatable), e.g. steps=100, batch=32; "
                        "TASK.KEY=VALUE for one task, e.g. charlm.steps=100")
    p.add_argument("--loop", action="store_true",
                   help="train runs one at a time instead of one batched ensemble per optimizer and task")
    p.add_argument("--threads", type=common.count(1024), default=1,
                   help="torch CPU threads (default 1: the tasks' tensors are small)")
    p.add_argument("-o", "--output", default="transfer", metavar="DIR",
                   help="where the tables go (default ./transfer; RUN_DIR/transfer for gp-opt report); "
                        "the same command again after a kill reuses the finished entries saved there")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines or table")
    common.add_grammar_option(p)
    from gp_opt.search.executors import add_executor_options
    add_executor_options(p)  # each (task, optimizer) entry is one job for a worker (docs/cluster.md)
    p.set_defaults(func=cmd_transfer)

    p = sub.add_parser("lr-range", help="how forgiving each optimizer's learning rate is (from transfer results)",
                       description=cmd_lr_range.__doc__)
    p.add_argument("results", metavar="RESULTS|DIR",
                   help="a transfer results.json, the folder gp-opt transfer wrote, or a run directory")
    p.add_argument("--tolerance", type=common.float_in(0.0, 1.0), default=0.05,
                   help="relative: a rate counts when its value is within TOLERANCE x |best| of the best "
                        "(default 0.05)")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    p.set_defaults(func=cmd_lr_range)
