"""Is there a bridge from the sign plateau into Adam's (or RMSProp's) basin within two edits?

Scores every genome two edits away from the target (each one-edit neighbour's own one-edit
neighbours, landscape.py's edits) and reports: how many are closer than the plateau the searches
end on; how many of those are the target again (distance below 1e-9: an edit and its undo, or an
equivalent form); and every *bridge* -- a two-edit genome at the plateau's level or better (within
0.05) whose one-edit parent toward the target is closer still, i.e. a downhill step a search on
the plateau could take into the basin.

    python results/rediscovery-2026-12-06/bridge.py > bridge.txt
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from landscape import neighbours  # noqa: E402

from gp_opt import behaviour  # noqa: E402
from gp_opt.rediscover import resolve  # noqa: E402

PLATEAU = {"Adam": 0.187, "RMSProp": 0.227}   # seed 0's best at 5,000 (README.md)
SAME = 1e-9


def main() -> int:
    for name, plateau in PLATEAU.items():
        target = resolve(name, None)
        first = neighbours(target.genome, target.grammar)
        d1 = behaviour.distance([g for _, g in first], target.genome)
        pairs = [(label, float(d), label2, g2)
                 for (label, g), d in zip(first, d1) for label2, g2 in neighbours(g, target.grammar)]
        d2 = behaviour.distance([p[3] for p in pairs], target.genome)
        finite = np.isfinite(d2)
        below = d2 < plateau
        same = d2 < SAME
        print(f"{name}: {len(pairs)} two-edit genomes (with repeats), distance median {np.median(d2[finite]):.3f}; "
              f"closer than the plateau ({plateau}): {below.sum()}, of which the target again (< {SAME:g}): "
              f"{same.sum()}")
        others: dict[str, tuple[float, int]] = {}   # distinct genomes: distance, paths to it
        for p, x, b, s in zip(pairs, d2, below, same):
            if b and not s:
                dist, n = others.get(repr(p[3]), (float(x), 0))
                others[repr(p[3])] = (dist, n + 1)
        print(f"  closer than the plateau and not the target: {sum(n for _, n in others.values())} "
              f"two-edit paths to {len(others)} distinct genomes:")
        for genome, (dist, n) in sorted(others.items(), key=lambda kv: kv[1][0]):
            print(f"    {dist:.4f}  {genome}  ({n} paths)")
        bridges = sorted({(round(float(x), 4), p[0], round(p[1], 4), p[2]) for p, x in zip(pairs, d2)
                          if x <= plateau + 0.05 and p[1] < x and x >= SAME})
        print(f"  bridges (a two-edit genome within the plateau + 0.05 whose parent toward {name} is closer): "
              f"{len(bridges)}")
        for dist, a, da, b in bridges:
            print(f"    {dist:.4f}  {a} (parent at {da:.4f}) then {b}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
