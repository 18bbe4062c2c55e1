"""Rediscovery solution rates side by side: each algorithm on each target, the same budget, seeds,
search shape and grammar, in one process (issue 20's target: Adam, RMSProp and SGD with momentum in
>= 8 of 10 seeds within 20,000 candidates by the best algorithm, random search's rate beside it).

    python benchmarks/rediscovery_rate.py [--budget 20000] [--seeds 10] [--targets Adam,RMSProp,Momentum]
        [--algorithms local,regularized,random] [--grammar results/rediscovery-2026-12-06/adaptive.toml]
        [--out DIR]

Every seed stops at its first solution (``--stop-when-solved``). Local search draws a tenth of the
budget per random phase (2,000 at 20,000: ``--init-factor 400`` with 5 particles, as the committed
table), the others the table's shape (5 particles x 5 children, 50 initial). Campaign directories go under --out (default a
temporary folder) and resume. At the defaults this is an hour or more of CPU: the committed table
(results/rediscovery-2026-12-06/) is its full run; ``--budget 2000 --seeds 2`` is a few minutes.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from gp_opt.rediscover import Shape, resolve, run_campaign

DEFAULT_SHAPE = Shape(5, 5, 10)


def shape_of(algorithm: str, budget: int) -> Shape:
    return Shape(5, 5, max(1, budget // 50)) if algorithm == "local" else DEFAULT_SHAPE


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=int, default=20000)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--targets", default="Adam,RMSProp,Momentum")
    ap.add_argument("--algorithms", default="local,regularized,random")
    ap.add_argument("--grammar", default=str(Path(__file__).parent.parent / "results/rediscovery-2026-12-06/adaptive.toml"))
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    out = Path(args.out or tempfile.mkdtemp(prefix="rediscovery-rate-"))
    algorithms = args.algorithms.split(",")
    rows = []
    for name in args.targets.split(","):
        target = resolve(name, args.grammar)
        cells = []
        for algo in algorithms:
            shape = shape_of(algo, args.budget)
            t0 = time.process_time()
            s = run_campaign(target, algo, args.budget, args.seeds, out / f"{name}-{algo}", shape,
                             stop_when_solved=True)
            med = s["median_candidates_to_solution"]
            cells.append(f"{s['solved']}/{s['seeds']} ({'-' if med is None else f'{med:g}'}; "
                         f"{time.process_time() - t0:.0f} CPU s)")
        rows.append((name, cells))
    print(f"budget {args.budget} candidates, {args.seeds} seeds, grammar {args.grammar}; solved/seeds "
          "(median candidates to solution; CPU seconds this run)")
    print("| target | " + " | ".join(algorithms) + " |")
    print("|---|" + "---|" * len(algorithms))
    for name, cells in rows:
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(f"campaign directories: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
