"""Per-child overhead of the search loop with a zero-cost fitness.

Runs the particle search with an evaluate that costs nothing (a fitness derived from the dedup key)
and reports, per child of the time steps (the initial population excluded):

- mutate: :func:`gp_opt.mutation.mutate_valid` -- mutation, integrity check, dedup key, redraws
- loop: everything else -- cache lookups, the hall of fame, statistics, the JSONL line (flushed +
  fsynced), the checkpoint after each step, progress lines (to a null stream)

for the genome toolbox (with and without a run directory; dedup keys "fingerprint" and, with
--canonical, "both") and the toy toolbox (the bare loop). Each configuration runs ``--repeats``
times (interleaved, seeds 0, 1, ...) and the table shows medians: the machine may be shared.
``--paper`` adds the paper's step size (50 particles x 7 children; one step). Target: under 5 ms
per child.

The script only uses ``run_search`` and its ``timings``, so ``--root`` can point it at another
checkout of the project (e.g. an older commit) to compare in the same conditions.

    python benchmarks/search_overhead.py [--particles 4] [--steps 4] [--children 7] [--repeats 3]
                                         [--canonical] [--paper] [--root DIR]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
import zlib
from pathlib import Path


def _root(argv) -> str:
    for i, a in enumerate(argv):
        if a == "--root" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--root="):
            return a.split("=", 1)[1]
    return str(Path(__file__).resolve().parents[1])


sys.path.insert(0, _root(sys.argv[1:]))

from gp_opt.fitness import FitnessRecord  # noqa: E402
from gp_opt.search import make_toolbox, make_toy_toolbox, run_search  # noqa: E402


class ZeroCost:
    """A fitness in [0, 1) read off the payload's text (a stable hash: runs are comparable across
    processes): no training at all."""

    def __call__(self, payload) -> FitnessRecord:
        text = payload.to_json() if hasattr(payload, "to_json") else repr(payload)
        return FitnessRecord(fitness=(zlib.crc32(text.encode()) % 10_007) / 10_007, seconds=1e-9)


def measure(label: str, toolbox, args, with_dir: bool, seed: int = 0) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run" if with_dir else None
        with contextlib.redirect_stdout(io.StringIO()):  # progress lines are printed, then dropped
            res = run_search("bench", out, args.particles, args.steps, args.children, seed=seed,
                             init_factor=args.init_factor, toolbox=toolbox, verbose=True)
    t = res.timings
    n = max(t.get("step_candidates", 0), 1)
    parts = ("mutate", "key", "evaluate", "log", "checkpoint")
    # step_<part>: within the time steps only; older versions report a part's whole-run total
    # (the initial population's keys and log lines included)
    per = {k: 1e3 * t.get("step_" + k, t.get(k, 0.0)) / n for k in parts}
    per["steps"] = 1e3 * t.get("steps", 0.0) / n
    per["other"] = per["steps"] - sum(per[k] for k in ("mutate", "key", "evaluate", "log", "checkpoint"))
    return {"label": label, "children": int(t.get("step_candidates", 0)), **per}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--particles", type=int, default=4)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--children", type=int, default=7)
    ap.add_argument("--init-factor", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0, help="seed of the first repeat")
    ap.add_argument("--repeats", type=int, default=3, help="runs per configuration; medians are shown")
    ap.add_argument("--canonical", action="store_true", help="also time the 'both' key (sympy canonical key)")
    ap.add_argument("--paper", action="store_true",
                    help="also time the paper's step size: 50 particles x 1 step x 7 children")
    ap.add_argument("--root", default=None, help="the checkout whose gp_opt is timed (default: this one)")
    args = ap.parse_args(argv)

    import torch

    import gp_opt

    print(f"search overhead per child: {args.particles} particles x {args.steps} steps x {args.children} "
          f"children, zero-cost fitness, {args.repeats} repeats (medians); gp_opt from "
          f"{Path(gp_opt.__file__).parent}; torch threads {torch.get_num_threads()}, cpu count "
          f"{os.cpu_count()}, load average {os.getloadavg()[0]:.1f}")
    measure("warm-up", make_toolbox(ZeroCost()), argparse.Namespace(**{**vars(args), "steps": 1}), False)

    paper = argparse.Namespace(**{**vars(args), "particles": 50, "steps": 1, "children": 7, "init_factor": 1})
    configs = [
        ("toy vectors, run dir", lambda: make_toy_toolbox(evaluate=ZeroCost()), args, True),
        ("genome, no run dir", lambda: make_toolbox(ZeroCost()), args, False),
        ("genome, run dir", lambda: make_toolbox(ZeroCost()), args, True),
    ]
    if args.canonical:
        configs.append(("genome+canonical, run dir", lambda: make_toolbox(ZeroCost(), key="both"), args, True))
    if args.paper:
        configs.append(("genome, run dir, 50x7/step", lambda: make_toolbox(ZeroCost()), paper, True))
    runs: dict[str, list[dict]] = {c[0]: [] for c in configs}
    for r in range(args.repeats):        # interleaved: a load change hits every configuration
        for label, make, a, with_dir in configs:
            runs[label].append(measure(label, make(), a, with_dir, seed=args.seed + r))
    rows = []
    for label, _, _, _ in configs:
        ms = runs[label]
        row = {"label": label, "children": int(statistics.median(m["children"] for m in ms))}
        row.update({k: statistics.median(m[k] for m in ms)
                    for k in ("steps", "mutate", "key", "evaluate", "log", "checkpoint", "other")})
        row["loop"] = statistics.median(m["steps"] - m["mutate"] - m["evaluate"] for m in ms)
        rows.append(row)

    cols = ("steps", "mutate", "key", "evaluate", "log", "checkpoint", "other")
    head = f"{'configuration (ms/child)':<28} {'children':>8} " + " ".join(f"{c:>10}" for c in cols)
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['label']:<28} {r['children']:>8} " + " ".join(f"{r[c]:>10.3f}" for c in cols))
    loop = [r["loop"] for r in rows]
    print("steps: wall time of the time steps per child (the initial population excluded); mutate: "
          "mutation + integrity check + novelty key (gp_opt.mutation; batched over all the children "
          "of a step); key: the cache lookup key; log: the JSONL lines, flushed + fdatasync'ed; "
          "checkpoint: one atomic write per step. Medians over the repeats.")
    print("search-loop overhead (steps - mutate - evaluate), ms/child: " +
          ", ".join(f"{r['label']}: {v:.2f}" for r, v in zip(rows, loop)) + "  (target < 5)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
