"""Verbs for the stages after a search: eliminate (SPEC section 8's funnel)."""
from __future__ import annotations

import shlex

from gp_opt.cli import common, interrupts
from gp_opt.errors import GpOptError


def cmd_eliminate(args) -> int:
    """Re-train a run's best unique candidates in rounds of growing cost, several seeds each, with
    baselines on the same seeds; keep the best by mean validation accuracy (SPEC section 8). With
    --holdout N, the last round's entries then train on N fresh seeds, each compared with each
    baseline. Writes RUN_DIR/elimination/ (with --buffers B: elimination-buffersB/) and resumes there
    after a kill."""
    from gp_opt.eliminate import EliminationSettings, eliminate

    # every option checked before the funnel (or Ray) starts: one line, exit 2, nothing written
    overrides = common.check_set(common.parse_items(args.set), _override_fields(), "SurrogateConfig")
    if args.holdout and args.holdout < 2:
        raise GpOptError(f"--holdout {args.holdout}: at least 2 seeds are needed to compare (0: off)")
    rounds = _rounds(args.rounds)
    baselines = common.items(args.baselines, "--baselines")
    if args.baselines is not None:
        from gp_opt.eliminate import check_baselines
        check_baselines(baselines)
    preset = args.preset or _preset_for(args.run_dir)
    batched = {"auto": None, "ensemble": True, "plain": False}[args.path]
    settings = EliminationSettings(preset=preset, rounds=rounds, seeds=args.seeds, overrides=overrides,
                                   batched=batched, buffers=args.buffers,
                                   **({"baselines": baselines} if baselines else {}))
    # finished evaluations are on disk, so the same command continues an interrupted funnel
    interrupts.on_interrupt(None, f"gp-opt eliminate {shlex.quote(str(args.run_dir))} (with the same options)")
    from gp_opt.search.executors import executor_from_args, running
    with running(executor_from_args(args)) as executor:
        summary = eliminate(args.run_dir, settings, verbose=not args.quiet, executor=executor)
        if args.holdout and summary.get("winner"):
            from gp_opt.eliminate.holdout import holdout
            holdout(args.run_dir, settings, args.holdout, verbose=not args.quiet, executor=executor)
    return 0 if summary.get("winner") else 1


#: the largest TOP and BASE of a round: more candidates than any run logs, wider than any ConvNet trained
MAX_ROUND_TOP, MAX_ROUND_BASE = 100_000, 4096


def _rounds(text: str | None) -> list[tuple[int, int]]:
    """``--rounds`` parsed and bounded ([] when not given: the preset's; given empty: an error)."""
    if text is None:
        return []
    from gp_opt.eliminate import parse_rounds
    rounds = parse_rounds(",".join(common.items(text, "--rounds")))
    for top, base in rounds:
        if top > MAX_ROUND_TOP or base > MAX_ROUND_BASE:
            raise GpOptError(f"--rounds {text!r}: TOP at most {MAX_ROUND_TOP}, BASE at most {MAX_ROUND_BASE} "
                             f"(got {top}:{base})")
    return rounds


def _override_fields() -> dict[str, str]:
    """The SurrogateConfig fields ``eliminate --set`` may give: all but those each round sets
    itself (``base`` from ``--rounds``, ``seed`` per seed)."""
    import dataclasses

    from gp_opt.surrogate import SurrogateConfig
    return {f.name: common.annotation(f) for f in dataclasses.fields(SurrogateConfig) if f.name not in ("base", "seed")}


def _preset_for(run_dir: str) -> str:
    """The elimination preset matching the run's dataset: digits for digits, else the paper's."""
    from gp_opt.rundir import RunDir

    try:
        cfg = RunDir.open(run_dir, lock=False).config
    except GpOptError:
        return "digits"  # eliminate() itself reports what is wrong with the directory
    opts = (cfg.get("toolbox") or {}).get("task_options") or {}
    dataset = opts.get("dataset") or ("digits" if opts.get("preset", "smoke") in ("smoke", "digits") else "cifar10")
    return "digits" if dataset == "digits" else "paper"


#: the most seeds per entry (--seeds, --holdout): each is a full training run
MAX_SEEDS = 1000


def register(sub) -> None:
    """Add the pipeline verbs: eliminate."""
    from gp_opt.eliminate import DEFAULT_BASELINES, PRESETS

    p = sub.add_parser("eliminate", help="re-train a run's best candidates in rounds of growing cost (SPEC 8)",
                       description=cmd_eliminate.__doc__)
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--rounds", metavar="TOP:BASE,...",
                   help="e.g. 50:64,24:96,12:128 (default: the preset's; digits: 8:8,4:12,2:16)")
    p.add_argument("--seeds", type=common.count(MAX_SEEDS), default=3, help="seeds per entry and round (default 3)")
    p.add_argument("--baselines", default=None, metavar="A,B",
                   help=f"run in every round on the same seeds (default: {','.join(DEFAULT_BASELINES)})")
    p.add_argument("--preset", choices=sorted(PRESETS),
                   help="default: digits for a digits run, paper otherwise")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="a SurrogateConfig field for every round (repeatable), e.g. total_steps=400")
    p.add_argument("--holdout", type=common.count(MAX_SEEDS, lo=0), default=0, metavar="N",
                   help="then train the last round's entries again on N fresh seeds (after the funnel's) at the "
                        "rates they chose, and test each against each baseline (Welch and paired t-tests); "
                        "writes elimination/holdout.md (default 0: off)")
    p.add_argument("--buffers", type=common.count(16, lo=0), default=None, metavar="B",
                   help="only candidates keeping B state buffers per parameter (the optimizer card's count: "
                        "0 for a sign or SGD-like step, 1 for momentum, 2 for Adam), in their own folder "
                        "RUN_DIR/elimination-buffersB/, so a multi-objective run's front is judged per memory "
                        "cost (docs/elimination.md)")
    p.add_argument("--path", choices=["auto", "ensemble", "plain"], default="auto",
                   help="shared ensembles or one model at a time (auto: the measured rule per device and shape)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    from gp_opt.search.executors import add_executor_options
    add_executor_options(p)
    p.set_defaults(func=cmd_eliminate)
