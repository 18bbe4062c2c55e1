"""Where unsolved seeds stop: is the target one mutation away from their best candidate?

For every unsolved seed whose best candidate is a near twin of the target (search-panel distance
below 1e-5), draw ``--draws`` single SPEC-7 mutations of that candidate (gp_opt.mutation.mutate,
seeded) and count those that are the target (gp_opt.rediscover.judge) and those that pass the
integrity check. Prints one line per seed and a total.

    python results/rediscovery-2026-12-06/near_twins.py /tmp/rediscovery-2026-12-06 [--draws 400]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from gp_opt import behaviour, integrity
from gp_opt.genome import OptimizerGenome
from gp_opt.mutation import mutate
from gp_opt.rediscover import judge, resolve


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs")
    ap.add_argument("--draws", type=int, default=400)
    ap.add_argument("--below", type=float, default=1e-5)
    args = ap.parse_args(argv)
    total = {"seeds": 0, "one_step": 0}
    for camp in sorted(Path(args.runs).iterdir()):
        cfg_file = camp / "rediscover.json"
        if not cfg_file.is_file():
            continue
        cfg = json.loads(cfg_file.read_text())
        tgt = cfg["target"]
        target = resolve(tgt["label"], tgt["grammar_path"])
        for res_file in sorted((camp / "results").glob("seed-*.json")):
            res = json.loads(res_file.read_text())
            if res["solved"] or res["best_distance"] > args.below:
                continue
            best = OptimizerGenome.from_dict(res["best_genome"], target.grammar)
            rng = np.random.default_rng(0)
            kids = [mutate(best, rng)[0] for _ in range(args.draws)]
            passed = [k for k, r in zip(kids, integrity.check_many(kids)) if r.passed]
            d = behaviour.distance(passed, target.genome) if passed else np.array([])
            hits = sum(judge(k, target.genome) is not None for k, x in zip(passed, d) if x <= 1e-7)
            closer = int((d < res["best_distance"]).sum())
            total["seeds"] += 1
            total["one_step"] += hits > 0
            print(f"{camp.name} seed {res['seed']}: best {res['best_distance']:.2g}, {len(passed)}/{args.draws} "
                  f"mutations pass the integrity check, {closer} closer, {hits} are the target", flush=True)
    print(f"near-twin seeds with the target one mutation away: {total['one_step']}/{total['seeds']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
