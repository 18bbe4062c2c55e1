"""The rediscovery table from the collected campaign summaries (campaigns/*.json.gz).

    python results/rediscovery-2026-12-06/table.py results/rediscovery-2026-12-06/campaigns > table.md

One row per target, search grammar and budget, one column group per algorithm (`restarts`:
regularized evolution with a fresh random population every `restart_every` cycles; `local`:
iterated local search): solved/seeds
(how: s symbolic, b behavioural), the median candidates to solution over the solved seeds, and the
best distance over the seeds (the median over seeds in brackets). The grammar is the target's own
(`default`: SPEC section 3) unless the campaign searched another (`adaptive`: adaptive.toml,
`qhm-drawable`: qhm-drawable.toml).
"""
from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

ALGOS = ("ga", "regularized", "restarts", "local", "random")
ORDER = ("Momentum", "RMSProp", "Adam", "Nesterov", "PowerSign", "AddSign", "QHM", "Opt1", "Opt10")


def cell(s: dict) -> str:
    how = ", ".join(f"{n}{k}" for n, k in ((s["symbolic"], "s"), (s["behavioural"], "b")) if n)
    med = "-" if s["median_candidates_to_solution"] is None else f"{s['median_candidates_to_solution']:g}"
    return (f"{s['solved']}/{s['seeds']}{f' ({how})' if how else ''} | {med} | "
            f"{s['best_distance']:.2g} ({s['median_best_distance']:.2g})")


def main(folder: str) -> int:
    rows: dict[tuple[str, str, int], dict[str, dict]] = {}   # one row per target, grammar and budget
    for path in sorted(Path(folder).glob("*.json.gz")):
        data = json.loads(gzip.decompress(path.read_bytes()))
        s = data["summary"]
        grammar = data["settings"]["target"]["grammar"]
        algorithm = "restarts" if data["settings"].get("restart_every") else s["algorithm"]
        rows.setdefault((s["target"], grammar, s["budget"]), {})[algorithm] = s
    head = "| target | grammar | budget | " + " | ".join(f"{a}: solved | {a}: median to solution | {a}: best distance"
                                             for a in ALGOS) + " |"
    print(head)
    print("|" + "---|" * (3 + 3 * len(ALGOS)))
    for target, grammar, budget in sorted(rows, key=lambda r: (ORDER.index(r[0]) if r[0] in ORDER else len(ORDER),
                                                               r[1] == "adaptive", r[2])):
        row = rows[(target, grammar, budget)]
        cells = [cell(row[a]) if a in row else "not run | - | -" for a in ALGOS]
        print(f"| {target} | {grammar} | {budget} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else str(Path(__file__).parent / "campaigns")))
