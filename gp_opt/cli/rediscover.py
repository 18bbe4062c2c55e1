"""``gp-opt rediscover``: can the search find an optimizer whose answer is known (issue 20)?"""
from __future__ import annotations

import json
import shlex
import sys

from gp_opt.cli import common, interrupts


def cmd_rediscover(args) -> int:
    """Search for TARGET (a catalog name such as Adam, RMSProp, Momentum, or a genome file) from
    random genomes with one algorithm, the fitness minus the behavioural distance to the target
    (parameter trajectories on a fixed panel of small problems), for --budget candidates on each of
    --seeds seeds. Reports the solution rate (a candidate equal to the target after symbolic
    simplification, or behaving identically on a larger verification panel: the result says
    which), the median candidates to solution and the best distance. With --stop-when-solved a
    seed's search ends at its first solution (the same table, less CPU). The run directory
    resumes: the same command continues a killed campaign (one writer)."""
    from gp_opt.rediscover import Shape, format_summary, resolve, run_campaign
    from gp_opt.rediscover.campaign import check

    target = resolve(args.target, args.grammar)
    shape = Shape(args.particles, args.children, args.init_factor)
    check(target, args.algorithm, args.budget, args.seeds, args.out, shape,
          args.stop_when_solved, args.restart_every)   # before anything is written
    interrupts.on_interrupt(None, "the same gp-opt rediscover command (it resumes " + shlex.quote(str(args.out)) + ")")
    say = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    summary = run_campaign(target, args.algorithm, args.budget, args.seeds, args.out, shape, say=say,
                           stop_when_solved=args.stop_when_solved, restart_every=args.restart_every)
    common.write(args, json.dumps(summary, indent=2) if args.json else format_summary(summary))
    return 0


def register(sub) -> None:
    """Add ``rediscover``."""
    from gp_opt.rediscover import ALGORITHMS

    p = sub.add_parser("rediscover", help="search for a known optimizer from random genomes: solution rate, "
                       "candidates to solution", description=cmd_rediscover.__doc__)
    p.add_argument("target", metavar="TARGET", help="a catalog name (Adam, RMSProp, Momentum, Nesterov, QHM, "
                   "PowerSign, AddSign, Opt1..Opt10, ...) or a genome file")
    p.add_argument("--algorithm", choices=list(ALGORITHMS), default="ga",
                   help="ga (the particle GA), regularized (regularized evolution), random (random search) or "
                   "local (iterated local search: steepest descent over the one-edit neighbourhood from the best "
                   "of --init-factor x --particles random candidates, again from fresh ones at each local optimum)")
    p.add_argument("--budget", type=common.positive_int, required=True,
                   help="candidates each seed's search logs (cache hits included; the GA's redraws come on top)")
    p.add_argument("--seeds", type=common.positive_int, default=10, help="search seeds 0..S-1 (default 10)")
    p.add_argument("--out", required=True, metavar="DIR", help="the campaign directory (new, or this campaign's to resume)")
    p.add_argument("--grammar", metavar="FILE", help="search grammar (default: the target's own)")
    p.add_argument("--particles", type=common.positive_int, default=10, help="particles (default 10)")
    p.add_argument("--children", type=common.positive_int, default=10, help="children per particle and step (default 10)")
    p.add_argument("--init-factor", type=common.positive_int, default=10,
                   help="initial candidates per particle (default 10)")
    p.add_argument("--stop-when-solved", action="store_true",
                   help="end a seed's search with the step of its first solution (the same solution rate and "
                   "candidates to solution; a solved seed logs fewer candidates)")
    p.add_argument("--restart-every", type=common.positive_int, metavar="CYCLES",
                   help="with --algorithm regularized: every CYCLES cycles the population starts again from fresh "
                   "random candidates (they come on top of the budget, like redraws)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no line per seed")
    p.add_argument("-o", "--output", metavar="FILE", help="write the summary to FILE instead of stdout")
    p.set_defaults(func=cmd_rediscover)
