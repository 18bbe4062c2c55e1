"""How the fitness looks around a target: the distance to it of every one-edit neighbour.

Every neighbour changes one thing of the target's genome: one input of one node to another
operand (or hidden node), or one node's op to another of the same arity in the grammar. Prints
how many are valid, pass the integrity check, and their distances (lowest first).

    python results/rediscovery-2026-12-06/landscape.py Adam [--plateau 0.187]
"""
from __future__ import annotations

import argparse
import copy

import numpy as np

from gp_opt import behaviour, integrity
from gp_opt.errors import GenomeError
from gp_opt.genome import OptimizerGenome
from gp_opt.rediscover import resolve


def neighbours(genome: OptimizerGenome, grammar) -> list[tuple[str, OptimizerGenome]]:
    spec = genome.to_dict()
    hidden = [n for n in spec["nodes"] if n != "out"]
    operands = [n for n, o in grammar.operands.items() if o.weight > 0]
    out = []
    for node, body in spec["nodes"].items():
        edits = [(f"{node}.in{i}={o}", ("in", i, o)) for i, x in enumerate(body["inputs"])
                 for o in operands + [h for h in hidden if h != node] if o != x]
        pool = grammar.update_unary if len(body["inputs"]) == 1 else grammar.update_binary
        edits += [(f"{node}.op={o}", ("op", None, o)) for o in pool if o != body["op"]]
        for label, (kind, i, val) in edits:
            s = copy.deepcopy(spec)
            if kind == "op":
                s["nodes"][node]["op"] = val
            else:
                s["nodes"][node]["inputs"][i] = val
            try:
                out.append((label, OptimizerGenome.from_dict(s, grammar=grammar)))
            except GenomeError:   # a cycle, or the output rule (SPEC 2)
                pass
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("target")
    ap.add_argument("--plateau", type=float, default=None, help="count the neighbours closer than this")
    ap.add_argument("--show", type=int, default=8)
    args = ap.parse_args(argv)
    target = resolve(args.target, None)
    kids = neighbours(target.genome, target.grammar)
    genomes = [g for _, g in kids]
    passed = np.array([r.passed for r in integrity.check_many(genomes)])
    d = behaviour.distance(genomes, target.genome)
    fin = np.isfinite(d)
    print(f"{args.target} = {target.genome!r}: {len(kids)} valid one-edit neighbours, {passed.sum()} pass the "
          f"integrity check; distance min/10%/median/90% "
          + "/".join(f"{q:.3g}" for q in np.quantile(d[fin], [0, .1, .5, .9])) + f", {(~fin).sum()} not finite")
    for j in np.argsort(d)[:args.show]:
        print(f"  {d[j]:.3g}  {kids[j][0]}{'' if passed[j] else '  (rejected by the integrity check)'}")
    if args.plateau is not None:
        print(f"closer than {args.plateau:g}: {int((d < args.plateau).sum())} of {len(kids)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
