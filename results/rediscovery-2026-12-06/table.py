"""The rediscovery table from the collected campaign summaries (campaigns/*.json.gz).

    python results/rediscovery-2026-12-06/table.py results/rediscovery-2026-12-06/campaigns > table.md

One row per target, one column group per algorithm: solved/seeds (how: s symbolic, b
behavioural), the median candidates to solution over the solved seeds, and the best distance
over the seeds (the median over seeds in brackets).
"""
from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

ALGOS = ("ga", "regularized", "random")
ORDER = ("Momentum", "RMSProp", "Adam", "Nesterov", "PowerSign", "AddSign", "QHM", "Opt1", "Opt10")


def cell(s: dict) -> str:
    how = ", ".join(f"{n}{k}" for n, k in ((s["symbolic"], "s"), (s["behavioural"], "b")) if n)
    med = "-" if s["median_candidates_to_solution"] is None else f"{s['median_candidates_to_solution']:g}"
    return (f"{s['solved']}/{s['seeds']}{f' ({how})' if how else ''} | {med} | "
            f"{s['best_distance']:.2g} ({s['median_best_distance']:.2g})")


def main(folder: str) -> int:
    rows: dict[str, dict[str, dict]] = {}
    budgets: dict[str, int] = {}
    for path in sorted(Path(folder).glob("*.json.gz")):
        data = json.loads(gzip.decompress(path.read_bytes()))
        s = data["summary"]
        rows.setdefault(s["target"], {})[s["algorithm"]] = s
        budgets[s["target"]] = s["budget"]
    head = "| target | budget | " + " | ".join(f"{a}: solved | {a}: median to solution | {a}: best distance"
                                             for a in ALGOS) + " |"
    print(head)
    print("|" + "---|" * (2 + 3 * len(ALGOS)))
    for target in sorted(rows, key=lambda t: ORDER.index(t) if t in ORDER else len(ORDER)):
        cells = [cell(rows[target][a]) if a in rows[target] else "not run | - | -" for a in ALGOS]
        print(f"| {target} | {budgets[target]} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else str(Path(__file__).parent / "campaigns")))
