"""From an unsolved seed's best candidate to the target by single edits: what blocks the way.

EDITs (``node.op=OP`` or ``node.inN=INPUT``) applied to the seed's best genome (its results file,
decays included) must give the target. Every subset of them is built and scored: how many break
the output rule (SPEC 2: the output reads a hidden node) or fail the integrity check, how many are
closer than the start, and, over every order of the edits, the path whose worst intermediate is
lowest (the barrier a search must cross, one edit at a time, through worse candidates).

    python results/rediscovery-2026-12-06/barrier.py Adam RUNS/Adam-regularized-5000/results/seed-0.json \\
        out.op=div out.in0=v_hat out.in1=h0 h0.op=sqrt_abs h0.in0=s_hat
"""
from __future__ import annotations

import argparse
import copy
import itertools
import json

import numpy as np

from gp_opt import behaviour, integrity
from gp_opt.errors import GenomeError
from gp_opt.genome import OptimizerGenome
from gp_opt.rediscover import resolve


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("target")
    ap.add_argument("result", help="a seed's results/seed-K.json")
    ap.add_argument("edits", nargs="+")
    args = ap.parse_args(argv)
    target = resolve(args.target, None)
    start = json.load(open(args.result, encoding="utf-8"))["best_genome"]
    edits = [(e.split(".", 1)[0], *e.split(".", 1)[1].split("=")) for e in args.edits]

    def build(mask):
        s = copy.deepcopy(start)
        for on, (node, field, val) in zip(mask, edits):
            if on and field == "op":
                s["nodes"][node]["op"] = val
            elif on:
                s["nodes"][node]["inputs"][int(field[2:])] = val
        return OptimizerGenome.from_dict(s, grammar=target.grammar)

    masks = list(itertools.product((0, 1), repeat=len(edits)))
    built = {}
    for m in masks:
        try:
            built[m] = build(m)
        except GenomeError:   # the output rule (SPEC 2)
            pass
    dist = dict.fromkeys(masks, np.inf)
    dist.update(zip(built, behaviour.distance(list(built.values()), target.genome)))
    passed = dict(zip(built, (r.passed for r in integrity.check_many(list(built.values())))))
    inner = masks[1:-1]
    print(f"{args.target}: start {dist[masks[0]]:.4g} (passes the integrity check: {passed[masks[0]]}), "
          f"all {len(edits)} edits {dist[masks[-1]]:.3g}; of the {len(inner)} intermediates "
          f"{sum(m not in built for m in inner)} break the output rule, "
          f"{sum(m in built and not passed[m] for m in inner)} fail the integrity check, "
          f"{sum(dist[m] < dist[masks[0]] for m in inner)} are closer than the start")
    best = None
    for order in itertools.permutations(range(len(edits))):
        m, path = [0] * len(edits), []
        for i in order:
            m[i] = 1
            path.append(tuple(m))
        barrier = max(dist[p] if passed.get(p) else np.inf for p in path[:-1])
        if best is None or barrier < best[0]:
            best = (barrier, order, path)
    print(f"  lowest barrier over the {len(list(itertools.permutations(edits)))} orders: {best[0]:.3g}, by")
    for i, p in zip(best[1], best[2]):
        print(f"    {args.edits[i]:<16} -> {dist[p]:.4g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
