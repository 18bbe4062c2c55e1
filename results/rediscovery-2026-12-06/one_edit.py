"""Is an unsolved seed's best candidate one edit from the target? For every unsolved seed of the
campaigns given, its best genome's one-edit neighbours (one input or one op changed, as
landscape.py makes them) are scored against the target, and those within 1e-7 judged
(gp_opt.rediscover.Judge). A seed whose best is one edit from the target was lost by the search's
last step, not by the landscape: a final one-edit scan of the best would have solved it.

    python results/rediscovery-2026-12-06/one_edit.py DIR [DIR ...]    # campaign directories
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from gp_opt import behaviour
from gp_opt.genome import OptimizerGenome
from gp_opt.rediscover import NEAR, Judge, resolve
from gp_opt.symbolic import compact_text

sys.path.insert(0, str(Path(__file__).parent))
from landscape import neighbours  # noqa: E402  (the one-edit neighbourhood, defined once)


def main(dirs: list[str]) -> int:
    total = one_edit = 0
    for d in map(Path, dirs):
        settings = json.loads((d / "rediscover.json").read_text())
        rec = settings["target"]
        target = resolve(rec["label"], rec["grammar_path"])
        judge = Judge(target.genome)
        for f in sorted((d / "results").glob("seed-*.json"), key=lambda p: int(p.stem.split("-")[1])):
            res = json.loads(f.read_text())
            if res["solved"]:
                continue
            total += 1
            best = OptimizerGenome.from_dict(res["best_genome"], target.grammar)
            kids = neighbours(best, target.grammar)
            genomes = [g for _, g in kids]
            dist = behaviour.distance(genomes, target.genome)
            near = [i for i in np.argsort(dist) if dist[i] <= NEAR]
            found = judge.first([genomes[i] for i in near])
            hit = kids[near[found[0]]][0] if found else None
            one_edit += hit is not None
            print(f"{d.name} seed {res['seed']}: best {res['best_distance']:.3g} {compact_text(best)[:90]}; "
                  f"{len(kids)} neighbours, closest {dist.min():.3g}; "
                  + (f"the target is one edit away ({hit}, {found[1]})" if hit else "the target is not one edit away"))
    print(f"\n{one_edit} of {total} unsolved seeds end one edit from the target")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
