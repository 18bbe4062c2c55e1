"""The ``gp-opt`` command line.

Each verb is one ``add_parser`` block in :func:`build_parser` and one ``cmd_<verb>(args)``
function returning an exit code. Errors a user can cause (:class:`~gp_opt.errors.GpOptError`,
unreadable files) become one line on stderr and exit code 2, never a traceback.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence, TextIO

from gp_opt.errors import GpOptError

EXIT_USAGE = 2


# ---------------------------------------------------------------- shared helpers
def _grammar(args):
    """The grammar named by ``--grammar`` (None: the one each genome file asks for)."""
    path = getattr(args, "grammar", None)
    if path is None:
        return None
    from gp_opt import grammar
    return grammar.load(path)


def _load(spec: str, args):
    from gp_opt import catalog
    return catalog.load(spec, _grammar(args))


def _title(genome, spec: str) -> str:
    return genome.meta.get("name") or Path(spec).stem


def _output(args) -> TextIO:
    out = getattr(args, "output", None)
    if out in (None, "-"):
        return sys.stdout
    return open(out, "w")  # noqa: SIM115 - closed by the caller


def _write(args, text: str) -> None:
    stream = _output(args)
    try:
        stream.write(text if text.endswith("\n") else text + "\n")
    finally:
        if stream is not sys.stdout:
            stream.close()


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def _add_grammar_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--grammar", metavar="FILE",
                   help="grammar file (TOML) the genome is written in (default: the one the "
                        "genome file names: default or the catalog's paper grammar)")


# ---------------------------------------------------------------- verbs
def cmd_show(args) -> int:
    """Pretty equation, momentum, sign, decay functions, factored schedule."""
    from gp_opt import symbolic as S
    genome = _load(args.genome, args)
    gm = genome.grammar
    lines = [f"{_title(genome, args.genome)}  (grammar {gm.name})"]
    if genome.meta.get("description"):
        lines.append(f"  {genome.meta['description']}")
    expr, decays = S.equation(genome)
    if args.simplify:
        expr = S.simplify(expr, args.simplify)
    lines += ["", "U =", _indent(S.pretty_expr(expr, gm)), ""]
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
            lines += [f"{head} {text}"] if "\n" not in text else [head, _indent(text, "      ")]
    else:
        lines.append("decay functions: none")
    schedule, update = S.factor_schedule(genome, expand_schedules=False, expand_operands=False)
    if schedule == 1:
        lines.append("factored schedule: none (lr_t x 1)")
    else:
        lines += ["factored schedule: lr_t x", _indent(S.pretty_expr(schedule, gm)),
                  "update:", _indent(S.pretty_expr(update, gm))]
    for dev in genome.meta.get("deviations", []):
        lines.append(f"deviation: {dev}")
    if args.expand:
        lines += ["", "U (every operand and schedule written out) =",
                  _indent(S.pretty(genome, expand=True))]
    _write(args, "\n".join(lines))
    return 0


def latex_table(rows: Sequence[tuple[str, object]]) -> str:
    """A table like the paper's Table 8: name, momentum, weight update, decay functions.

    Needs ``\\usepackage{amsmath}`` (for ``\\operatorname``).
    """
    from gp_opt import symbolic as S
    out = ["% gp-opt latex --table (needs \\usepackage{amsmath})",
           r"\begin{tabular}{llll}", r"\hline",
           r"Name & Momentum & Weight update $U$ & Decay functions \\", r"\hline"]
    for name, genome in rows:
        expr, decays = S.equation(genome)
        update = S.latex_expr(expr, genome.grammar)
        seen, cells = set(), []
        for _, _, sym, d in decays:
            if sym not in seen:
                seen.add(sym)
                cells.append("$%s = %s$" % (sp_latex(sym), S.latex_expr(d, genome.grammar)))
        dec = ", ".join(cells) if cells else "--"
        out.append(f"{_tex_escape(name)} & {genome.momentum} & ${update}$ & {dec} \\\\")
    out += [r"\hline", r"\end{tabular}"]
    return "\n".join(out) + "\n"


def sp_latex(expr) -> str:
    import sympy as sp
    return sp.latex(expr)


def _tex_escape(text: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("&", r"\&"), ("%", r"\%"),
                 ("#", r"\#"), ("$", r"\$"), ("{", r"\{"), ("}", r"\}")):
        text = text.replace(a, b)
    return text


def cmd_latex(args) -> int:
    """LaTeX of one or more equations, or a Table-8-like table with --table."""
    from gp_opt import symbolic as S
    rows = [(_title(g, spec), g) for spec in args.genomes for g in [_load(spec, args)]]
    if args.table:
        _write(args, latex_table(rows))
        return 0
    parts = []
    for name, genome in rows:
        if len(rows) > 1:
            parts.append(f"% {name}")
        parts.append("U = " + S.to_latex(genome, expand=args.expand))
    _write(args, "\n".join(parts))
    return 0


def cmd_random(args) -> int:
    """A random valid genome as JSON: SPEC section 2's initialisation, redrawn until it passes
    the integrity check (SPEC section 5; its sign flipped where only -U descends)."""
    import numpy as np

    from gp_opt.mutation import random_valid
    genome = random_valid(np.random.default_rng(args.seed), _grammar(args))
    _write(args, genome.to_json(indent=2))
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
    _write(args, "\n".join(lines))
    return 0


def cmd_export(args) -> int:
    """Write a standalone optimizer module (torch only) with the equation as straight-line code."""
    from gp_opt.optim import export_torch
    genome = _load(args.genome, args)
    export_torch(genome, args.torch, name=_title(genome, args.genome))
    print(f"wrote {args.torch}", file=sys.stderr)
    return 0


def _task_options(args) -> dict:
    options = {}
    for item in args.set or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise GpOptError(f"--set {item!r}: expected KEY=VALUE")
        try:
            import json
            options[key] = json.loads(value)
        except ValueError:
            options[key] = value
    if args.task == "surrogate":
        options.setdefault("preset", args.preset)
        if args.batch_children:
            options.setdefault("batch_children", True)
        for key in ("dataset", "data_dir"):
            if getattr(args, key) is not None:
                options.setdefault(key, getattr(args, key))
    return options


def cmd_search(args) -> int:
    """Evolve optimizers (SPEC section 7), keeping every evaluated candidate in --out as it goes."""
    from gp_opt.search import run_search
    if Path(args.out).exists() and any(Path(args.out).iterdir()):
        raise GpOptError(f"{args.out}: run directory is not empty; use 'gp-opt resume {args.out}' "
                         "to continue it, or choose a new --out")
    result = run_search(args.task, args.out, args.particles, args.steps, args.children, seed=args.seed,
                        init_factor=args.init_factor, algorithm=args.algorithm, grammar=args.grammar,
                        max_redraws=args.max_redraws, key=args.key, workers=args.workers,
                        task_options=_task_options(args), verbose=not args.quiet)
    _report_best(result, args.quiet)
    return 0


def _report_best(result, quiet: bool) -> None:
    """Save the best genome beside the run and show its equation."""
    best = result.best
    if best is None or not hasattr(best.payload, "to_json") or result.out_dir is None:
        return
    path = Path(result.out_dir) / "best.json"
    path.write_text(best.payload.to_json(indent=2) + "\n")
    if not quiet:
        from gp_opt import symbolic as S
        genome = best.payload
        print(f"\nbest: fitness {best.record.fitness:.4g}, momentum {genome.momentum}"
              f"{', sign flipped' if genome.sign < 0 else ''}; saved to {path}")
        print(_indent(S.pretty(genome)))


def cmd_resume(args) -> int:
    """Continue a stopped or killed search from its run directory."""
    from gp_opt.search import resume_search
    _report_best(resume_search(args.dir, verbose=not args.quiet), args.quiet)
    return 0


def cmd_evaluate(args) -> int:
    """Score an optimizer by the surrogate fitness protocol (SPEC section 6) and print its record."""
    import json

    from gp_opt.surrogate.report import evaluate_spec, format_record
    rec = evaluate_spec(args.optimizer, preset=args.preset, dataset=args.dataset, data_dir=args.data_dir,
                        download=args.download, device=args.device, seed=args.seed, grammar=_grammar(args),
                        progress=not args.quiet)
    _write(args, json.dumps(rec.to_dict(), indent=2) if args.json else format_record(rec))
    return 0


# ---------------------------------------------------------------- the parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gp-opt", description="Discover deep-learning optimizers by evolution: update "
        "equations, decay functions and learning-rate schedules.")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    p = sub.add_parser("show", help="equation, momentum, sign, decay functions, factored schedule",
                       description=cmd_show.__doc__)
    p.add_argument("genome", metavar="NAME|FILE", help="a catalog name (gp-opt catalog) or a genome JSON file")
    p.add_argument("--expand", action="store_true", help="also print U with every operand and schedule written out")
    p.add_argument("--simplify", type=float, default=0, metavar="SECONDS",
                   help="simplify the equation for at most SECONDS (default: off)")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    _add_grammar_option(p)
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("latex", help="LaTeX of equations, or --table like the paper's Table 8",
                       description=cmd_latex.__doc__)
    p.add_argument("genomes", nargs="+", metavar="NAME|FILE")
    p.add_argument("--table", action="store_true", help="a table: name, momentum, weight update, decay functions")
    p.add_argument("--expand", action="store_true", help="write every operand and schedule out (not with --table)")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    _add_grammar_option(p)
    p.set_defaults(func=cmd_latex)

    p = sub.add_parser("random", help="a random valid genome as JSON", description=cmd_random.__doc__)
    p.add_argument("--seed", type=int, required=True, help="seed of the numpy Generator")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    _add_grammar_option(p)
    p.set_defaults(func=cmd_random)

    p = sub.add_parser("catalog", help="list the published optimizers and schedules",
                       description=cmd_catalog.__doc__)
    p.add_argument("-l", "--long", action="store_true", help="with each entry's description")
    p.set_defaults(func=cmd_catalog)

    p = sub.add_parser("export", help="a standalone torch optimizer module", description=cmd_export.__doc__)
    p.add_argument("genome", metavar="NAME|FILE", help="a catalog name or a genome JSON file")
    p.add_argument("--torch", required=True, metavar="OUT.py", help="the module to write")
    _add_grammar_option(p)
    p.set_defaults(func=cmd_export)

    from gp_opt.tasks import task_names
    p = sub.add_parser("search", help="evolve optimizers into a resumable run directory",
                       description=cmd_search.__doc__)
    p.add_argument("--task", default="quadratic", choices=task_names() + ["toy"],
                   help="fitness: a cheap CPU task, or 'surrogate' (the paper's ConvNet protocol)")
    p.add_argument("--particles", type=int, required=True, help="N, the number of particles")
    p.add_argument("--steps", type=int, required=True, help="K, time steps per particle")
    p.add_argument("--children", type=int, required=True, help="M, children per particle and step")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init-factor", type=int, default=10, help="initial population = FACTOR x N (default 10)")
    p.add_argument("--algorithm", choices=["particle", "regularized"], default="particle")
    p.add_argument("--max-redraws", type=int, default=4, help="redraws of a child that fails the screen")
    p.add_argument("--key", choices=["fingerprint", "canonical", "both"], default="fingerprint",
                   help="how two genomes are judged the same optimizer (the fitness cache)")
    p.add_argument("--workers", type=int, default=0, help="evaluate children in this many processes")
    p.add_argument("--preset", choices=["smoke", "paper"], default="smoke", help="with --task surrogate")
    p.add_argument("--dataset", choices=["digits", "cifar10", "cifar100", "npz"], help="with --task surrogate")
    p.add_argument("--data-dir", help="with --task surrogate: CIFAR batch files or the .npz file")
    p.add_argument("--batch-children", action="store_true",
                   help="with --task surrogate: train a time step's children in shared ensembles "
                        "(faster on a GPU; results then depend on float summation order in a batch)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="a task option (repeatable), e.g. steps=100")
    p.add_argument("--out", required=True, metavar="DIR", help="the run directory (must be new or empty)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    _add_grammar_option(p)
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("resume", help="continue a search from its run directory", description=cmd_resume.__doc__)
    p.add_argument("dir", metavar="DIR")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=cmd_resume)

    p = sub.add_parser("evaluate", help="score an optimizer by the surrogate fitness protocol",
                       description=cmd_evaluate.__doc__)
    p.add_argument("optimizer", metavar="NAME|FILE",
                   help="adam, sgd, nesterov, momentum, rmsprop, adamw, a catalog name or a genome JSON file")
    p.add_argument("--dataset", choices=["digits", "cifar10", "cifar100", "npz"], default=None,
                   help="default: the preset's (smoke: digits, paper: cifar10)")
    p.add_argument("--preset", choices=["smoke", "paper"], default="smoke")
    p.add_argument("--data-dir", metavar="D", help="CIFAR batch files (or the .npz file for --dataset npz)")
    p.add_argument("--download", action="store_true", help="fetch the official CIFAR archive into --data-dir")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print the FitnessRecord as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    _add_grammar_option(p)
    p.set_defaults(func=cmd_evaluate)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except GpOptError as exc:
        print(f"gp-opt {args.verb}: error: {exc}", file=sys.stderr)
    except OSError as exc:
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"gp-opt {args.verb}: error: {where}{exc.strerror or exc}", file=sys.stderr)
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
