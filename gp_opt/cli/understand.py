"""Verbs that read what an optimizer does: simplify (behavioural, then symbolic) and explain."""
from __future__ import annotations

from gp_opt.cli import common


def cmd_simplify(args) -> int:
    """Remove or replace each node (and decay function) whose removal leaves the optimizer's
    behaviour on the verification panel of small problems within --tol of the original's, then
    simplify U symbolically. Prints the operation counts before and after, the edits and the
    result; -o FILE also writes the simplified genome (a genome file: usable everywhere a genome
    is). The result is never longer than the input."""
    from gp_opt import prune
    from gp_opt import symbolic as S
    genome = common.load(args.genome, args)
    result = prune.simplify_genome(genome, tol=args.tol, seconds=args.simplify)
    name = common.title(genome, args.genome)
    lines = [f"{name}: {result.summary()}"]
    lines += [f"  removed: {what}" for what in result.edits] or ["  nothing removed: every node changes the behaviour"]
    lines += [f"U in the grammar's ops: {S.compact_text(result.genome)}",
              "U =", common.indent(S.pretty_expr(result.expr, genome.grammar))]
    print("\n".join(lines))
    if args.genome_out:
        from gp_opt.rundir import atomic_write_text
        atomic_write_text(args.genome_out, result.genome.to_json(indent=2) + "\n")
        print(f"simplified genome written to {args.genome_out}")
    return 0


def cmd_explain(args) -> int:
    """Name the known optimizers (the catalog's published ones and the classics: Adam, SGD,
    Momentum, Nesterov, RMSProp, QHM, PowerSign, AddSign) nearest to GENOME by behaviour on the
    verification panel, with their distance (0: the same trajectories), and say how its equation
    differs from the nearest one with a short symbolic account ("Adam without the square root",
    "the update of X under the learning-rate schedule ...")."""
    from gp_opt import explain as E
    genome = common.load(args.genome, args)
    result = E.explain(genome, top=args.top)
    print(f"{common.title(genome, args.genome)}:")
    print("\n".join(result.lines()))
    return 0


def register(sub) -> None:
    """Add the verbs simplify and explain."""
    from gp_opt.prune import DEFAULT_TOL

    p = sub.add_parser("simplify", help="remove what does not change the behaviour, then simplify U",
                       description=cmd_simplify.__doc__)
    p.add_argument("genome", metavar="NAME|FILE|RUN_DIR", help="a catalog name, a genome file or a run directory")
    p.add_argument("--tol", type=common.float_in(0.0, 2.0), default=DEFAULT_TOL, metavar="D",
                   help=f"largest behavioural distance to the original kept as 'unchanged' (default {DEFAULT_TOL:g})")
    p.add_argument("--simplify", type=common.seconds, default=5.0, metavar="SECONDS",
                   help="sympy budget for the symbolic pass afterwards (default 5; 0: off)")
    p.add_argument("-o", "--output", dest="genome_out", metavar="FILE", help="also write the simplified genome")
    common.add_grammar_option(p)
    p.set_defaults(func=cmd_simplify)

    p = sub.add_parser("explain", help="the nearest known optimizers by behaviour, and the symbolic difference",
                       description=cmd_explain.__doc__)
    p.add_argument("genome", metavar="NAME|FILE|RUN_DIR", help="a catalog name, a genome file or a run directory")
    p.add_argument("--top", type=common.count(50), default=5, metavar="K", help="how many to name (default 5)")
    common.add_grammar_option(p)
    p.set_defaults(func=cmd_explain)
