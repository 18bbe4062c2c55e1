"""Verbs over genomes and the catalog: show, latex, random, catalog, export."""
from __future__ import annotations

import sys

from gp_opt.cli import common
from gp_opt.errors import GpOptError


def cmd_show(args) -> int:
    """Pretty equation, momentum, sign, decay functions, factored schedule, and the optimizer's
    card: state buffers per parameter, elementwise kernels per step (gp_opt.card) and, with
    --time, the step time against torch.optim.Adam(foreach=True)."""
    from pathlib import Path

    from gp_opt import symbolic as S
    head = []
    spec = args.genome
    run_dir = None
    if Path(spec).is_dir():  # a run directory: its state, then its best genome (in the run's grammar)
        run_dir = Path(spec)
        head, best = _run_lines(run_dir)
        if best is None:
            common.write(args, "\n".join(head))
            return 0
        genome, spec = common.load(spec, args), best
    else:
        genome = common.load(spec, args)
    gm = genome.grammar
    lines = head + [f"{common.title(genome, spec)}  (grammar {gm.name})"]
    if genome.meta.get("description"):
        lines.append(f"  {genome.meta['description']}")
    found = genome.meta.get("found")
    if isinstance(found, dict):
        from gp_opt.winner import summary_line
        lines.append(f"found by a search: {summary_line(found)}"
                     + (f", seed {found['seed']}" if found.get("seed") is not None else ""))
    expr, decays = S.equation(genome)
    if args.simplify:
        expr = S.simplify(expr, args.simplify)
    lines += ["", "U =", common.indent(S.pretty_expr(expr, gm)), ""]
    compact = S.compact_text(genome)  # composite ops (clip, sigmoid, ...) kept by name: one line
    if len(compact) < len(S.text_expr(expr, gm)):
        lines += [f"U in the grammar's ops: {compact}", ""]
    lines.append(f"momentum: {genome.momentum}")
    # The U printed above already carries the sign (symbolic.to_sympy applies it).
    lines.append("sign: " + ("+1 (w <- w - lr_t U)" if genome.sign > 0 else
                             "-1 (the integrity check flipped the graph's output; U above includes "
                             "the flip, so w <- w - lr_t U)"))
    if decays:
        lines.append("decay functions:")
        for src, dst, sym, d in decays:
            text = S.pretty_expr(d, gm)
            head = f"  {sym} on edge {src} -> {dst}:"
            lines += [f"{head} {text}"] if "\n" not in text else [head, common.indent(text, "      ")]
    else:
        lines.append("decay functions: none")
    schedule, update = S.factor_schedule(genome, expand_schedules=False, expand_operands=False)
    if schedule == 1:
        lines.append("factored schedule: none (lr_t x 1)")
    else:
        lines += ["factored schedule: lr_t x", common.indent(S.pretty_expr(schedule, gm)),
                  "update:", common.indent(S.pretty_expr(update, gm))]
    for dev in genome.meta.get("deviations", []):
        lines.append(f"deviation: {dev}")
    from gp_opt.card import card, card_lines  # what it costs to run (issue 23)
    lines += card_lines(card(genome, time_numel=args.time)) + _lr_lines(args, spec, run_dir)
    if args.expand:
        lines += ["", "U (every operand and schedule written out) =",
                  common.indent(S.pretty(genome, expand=True))]
    common.write(args, "\n".join(lines))
    return 0


def _lr_lines(args, spec: str, run_dir) -> list[str]:
    """The card's recommended learning rates: from --lr-from, or from a shown run's own transfer
    results (the rows gp-opt transfer labelled as it labels this genome file: its stem)."""
    from pathlib import Path

    from gp_opt.sensitivity import recommended_lines, transfer_rows
    label = Path(spec).stem if spec.endswith(".json") else spec
    path = Path(args.lr_from) if args.lr_from else (run_dir / "transfer" / "results.json" if run_dir else None)
    if path is None or (not args.lr_from and not path.exists()):
        return []
    rows = transfer_rows(path, label)
    if not rows and args.lr_from:
        raise GpOptError(f"--lr-from {path}: no row for optimizer {label!r} (gp-opt transfer labels a "
                         f"genome file by its stem, a catalog entry by its name)")
    from gp_opt.sensitivity import MissingCurveError
    try:
        return recommended_lines(rows, str(path), f"'gp-opt transfer {spec} ... -o {path.parent}'")
    except MissingCurveError as exc:
        if args.lr_from:   # asked for: one line, exit 2
            raise
        return [f"recommended lr: unknown ({exc})"]   # an older run's results: said, not fatal


def _run_lines(run) -> tuple[list[str], str | None]:
    """What ``show RUN_DIR`` prints before the best genome: the run's task and progress, whether a
    process writes it now, its hall of fame; and the genome file to show (None: none yet)."""
    from gp_opt.rundir import RunDir, writer_pid
    from gp_opt.winner import BEST_FILE

    rd = RunDir.open(run, lock=False)
    cfg = rd.config
    pid = writer_pid(run)
    state = None
    if pid is None:  # a live writer may replace the checkpoint meanwhile: read it only when idle
        state = rd.load_checkpoint()
        rd.read_candidates(repair=False)  # every line checked; a reader changes nothing
        short = rd.log_shortfall(state)
        if short:
            print(f"note: {short}", file=sys.stderr, flush=True)
    last = cfg.get("steps") if cfg.get("algorithm") == "particle" else cfg.get("cycles")
    options = (cfg.get("toolbox") or {}).get("task_options") or {}
    preset = f", preset {options['preset']}" if options.get("preset") else ""
    progress = ("being written now by process %d" % pid if pid is not None else
                "not started (no checkpoint)" if state is None else
                f"step {state.get('step')} of {last}" + (" (finished)" if state.get("step") == last else
                                                         f"; continue with: gp-opt resume {run}"))
    lines = [f"run {run}: task {cfg.get('task')}{preset}, {cfg.get('algorithm')} search, seed "
             f"{cfg.get('seed')}; {progress}"]
    if state is not None:
        lines.append(f"candidates: {state.get('n_logged')} logged; hall of fame (fitness, best lr):")
        for i, item in enumerate(state.get("hof", {}).get("items", [])[:5]):
            rec = item.get("record") or {}
            fit, lr = rec.get("fitness"), rec.get("best_lr")
            fit = f"{fit:.4g}" if isinstance(fit, (int, float)) else str(fit)
            lines.append(f"  {i}: {fit:>10}  {lr if lr is not None else '-':>8}  {item.get('key')}")
    best = run / BEST_FILE
    if not best.exists():
        lines.append(f"no {BEST_FILE} yet (it is written when the search finishes)")
        return lines, None
    lines.append("")
    return lines, str(best)


def cmd_latex(args) -> int:
    """LaTeX an author can paste (gp_opt.latex): each optimizer's U (long ones broken into named
    parts c_k) and decay functions d_k, or with --table a tabularx/booktabs table like the
    paper's Table 8 (--form schedule: the factored learning-rate schedules). --standalone writes a
    complete document that compiles with pdflatex as is."""
    from gp_opt import latex as L
    from gp_opt import symbolic as S
    if args.table and args.expand:  # checked before any genome is read: one line, exit 2
        raise GpOptError("--expand does not apply to --table (a table keeps operands and schedules "
                         "named); drop one of them")
    if not args.table and args.form != "update":
        raise GpOptError("--form only applies to --table")
    if args.simplify and (args.table or args.expand):
        raise GpOptError(f"--simplify {args.simplify:g}: not with --table or --expand")
    rows = [(common.title(g, spec), g) for spec in args.genomes for g in [common.load(spec, args)]]
    said = []
    if args.prune:   # the behaviourally simplified genomes stand in for the originals, and it is said
        from gp_opt.prune import simplify_genome
        simplified = []
        for name, g in rows:
            result = simplify_genome(g, seconds=0)
            said.append(f"% {name}: simplified behaviourally (gp-opt simplify): {result.summary()}"
                        + ("; removed: " + "; ".join(result.edits) if result.edits else ""))
            simplified.append((name, result.genome))
        rows = simplified
    head = "".join(line + "\n" for line in said)   # LaTeX comments: valid before any document
    if args.table:
        from gp_opt.card import state_buffers  # the card's first figure, a column (issue 23)
        text = L.latex_table(rows, caption=args.caption, form=args.form,
                             buffers=[len(state_buffers(g)) for _, g in rows])
        common.write(args, head + (L.standalone(text) if args.standalone else text))
        return 0
    if args.standalone:
        common.write(args, head + L.equations_document(rows, title=args.caption, simplify=args.simplify))
        return 0
    parts = list(said)
    for name, genome in rows:
        if len(rows) > 1:
            parts.append(f"% {name}")
        if args.expand:
            parts.append("U = " + L.expr_latex(S.to_sympy(genome), genome.grammar))
            continue
        lines, used = L.equation_lines(genome)
        from gp_opt.card import card, card_latex  # what it costs to run (issue 23)
        parts += lines + ["% " + card_latex(card(genome))]
        if args.simplify:
            parts.append("% simplified (sympy; operands written out)\nU = " + L.simplified_latex(genome, args.simplify))
        parts += ["% " + note for note in L.notes(used, genome.grammar)]
    common.write(args, "\n".join(parts))
    return 0


def cmd_random(args) -> int:
    """A random valid genome as JSON: SPEC section 2's initialisation, redrawn until it passes
    the integrity check (SPEC section 5; its sign flipped where only -U descends)."""
    import numpy as np

    from gp_opt.mutation import random_valid
    genome = random_valid(np.random.default_rng(args.seed), common.grammar(args))
    from gp_opt.catalog import carry_grammar  # a custom grammar travels inside the file
    common.write(args, carry_grammar(genome).to_json(indent=2))
    return 0


def cmd_notation(args) -> int:
    """The symbols the tools print: momentum types, operands, schedules a1..a14, ops, and what each
    "SPEC section N" in the help texts refers to (the same text as docs/notation.md)."""
    from gp_opt.notation import markdown
    common.write(args, markdown(common.grammar(args)))
    return 0


def cmd_catalog(args) -> int:
    """The published optimizers and schedules (SPEC section 9)."""
    from gp_opt import catalog
    lines = []
    for name in catalog.names():
        if args.long:
            meta = catalog.get(name).meta
            lines.append(f"{name:14s} {meta.get('description', '')}")
        else:
            lines.append(name)
    common.write(args, "\n".join(lines))
    return 0


def cmd_export(args) -> int:
    """Write a standalone optimizer module with the equation as straight-line code: a torch
    optimizer (--torch, needs torch only) and/or an optax transformation (--optax, needs jax,
    optax and numpy only)."""
    from gp_opt.errors import GpOptError
    from gp_opt.optim import export_torch
    from gp_opt.optim.to_optax import export_optax
    if not (args.torch or args.optax):
        raise GpOptError("export: give --torch OUT.py and/or --optax OUT.py")
    genome = common.load(args.genome, args)
    name = common.title(genome, args.genome)
    for path, write in ((args.torch, export_torch), (args.optax, export_optax)):
        if path:
            write(genome, path, name=name)
            print(f"wrote {path}", file=sys.stderr)
    return 0



def register(sub) -> None:
    """Add the genome verbs: show, latex, random, catalog, export."""
    p = sub.add_parser("show", help="equation, momentum, sign, decay functions, factored schedule",
                       description=cmd_show.__doc__)
    p.add_argument("genome", metavar="NAME|FILE|RUN_DIR",
                   help="a catalog name (gp-opt catalog), a genome JSON file (e.g. a run's best.json) "
                        "or a run directory")
    p.add_argument("--expand", action="store_true", help="also print U with every operand and schedule written out")
    p.add_argument("--simplify", type=common.seconds, default=0, metavar="SECONDS",
                   help="simplify the equation for at most SECONDS (default: off)")
    p.add_argument("--time", type=common.count(2 ** 28, lo=1024), nargs="?", const=2 ** 20, default=None,
                   metavar="PARAMETERS",
                   help="also measure the step time against torch.optim.Adam(foreach=True) on this "
                        "machine's CPU at PARAMETERS float32 parameters (default 1048576; 1024 to 2^28)")
    p.add_argument("--lr-from", metavar="RESULTS",
                   help="a transfer results.json: the card's recommended learning rates, per task, from this "
                        "optimizer's curve there (a run directory's own transfer/results.json is read unasked)")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    common.add_grammar_option(p)
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("latex", help="LaTeX of equations, or --table like the paper's Table 8",
                       description=cmd_latex.__doc__)
    p.add_argument("genomes", nargs="+", metavar="NAME|FILE")
    p.add_argument("--table", action="store_true",
                   help="a table: name, momentum, state buffers per parameter, weight update, decay functions")
    p.add_argument("--form", choices=["update", "schedule"], default="update",
                   help="with --table: the weight updates (Table 8) or the factored lr schedules")
    p.add_argument("--standalone", action="store_true", help="a complete document (compiles with pdflatex)")
    p.add_argument("--caption", metavar="TEXT", help="table caption / document title")
    p.add_argument("--expand", action="store_true", help="write every operand and schedule out (not with --table)")
    p.add_argument("--prune", action="store_true",
                   help="first simplify each genome behaviourally (gp-opt simplify); a %% comment line "
                        "per genome says so and what was removed")
    p.add_argument("--simplify", type=common.seconds, default=0.0, metavar="SECONDS",
                   help="also U simplified by sympy (operands written out, schedules kept), at most SECONDS "
                        "per optimizer (default 0: off; not with --table or --expand)")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    common.add_grammar_option(p)
    p.set_defaults(func=cmd_latex)

    p = sub.add_parser("random", help="a random valid genome as JSON", description=cmd_random.__doc__)
    p.add_argument("--seed", type=common.seed, required=True,
                   help="seed of the numpy Generator (any non-negative integer)")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    common.add_grammar_option(p)
    p.set_defaults(func=cmd_random)

    p = sub.add_parser("notation", help="the symbols printed (operands, schedules a1..a14, ops, SPEC sections)",
                       description=cmd_notation.__doc__)
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    common.add_grammar_option(p)
    p.set_defaults(func=cmd_notation)

    p = sub.add_parser("catalog", help="list the published optimizers and schedules",
                       description=cmd_catalog.__doc__)
    p.add_argument("-l", "--long", action="store_true", help="with each entry's description")
    p.set_defaults(func=cmd_catalog)

    p = sub.add_parser("export", help="a standalone torch optimizer or optax module", description=cmd_export.__doc__)
    p.add_argument("genome", metavar="NAME|FILE", help="a catalog name or a genome JSON file")
    p.add_argument("--torch", metavar="OUT.py", help="write a torch.optim.Optimizer module (torch only)")
    p.add_argument("--optax", metavar="OUT.py",
                   help="write an optax.GradientTransformation module (jax, optax, numpy only)")
    common.add_grammar_option(p)
    p.set_defaults(func=cmd_export)
