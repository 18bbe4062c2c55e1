"""Per-child overhead of the search loop with a zero-cost fitness.

Runs the particle search with an evaluate that costs nothing (a fitness derived from the dedup key)
and reports, per child of the time steps (the initial population excluded):

- mutate: :func:`gp_opt.mutation.mutate_valid` -- mutation, integrity check, dedup key, redraws
- loop: everything else -- cache lookups, the hall of fame, statistics, the JSONL line (flushed +
  fsynced), the checkpoint after each step, progress lines (to a null stream)

for the genome toolbox (with and without a run directory; dedup keys "fingerprint" and, with
--canonical, "both") and the toy toolbox (the bare loop). Target: under 5 ms per child.

    python benchmarks/search_overhead.py [--particles 4] [--steps 4] [--children 7] [--canonical]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gp_opt.fitness import FitnessRecord  # noqa: E402
from gp_opt.search import make_toolbox, make_toy_toolbox, run_search  # noqa: E402


class ZeroCost:
    """A fitness in [0, 1) read off the payload's text: no training at all."""

    def __call__(self, payload) -> FitnessRecord:
        text = payload.to_json() if hasattr(payload, "to_json") else repr(payload)
        return FitnessRecord(fitness=(hash(text) % 10_007) / 10_007, seconds=1e-9)


def measure(label: str, toolbox, args, with_dir: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run" if with_dir else None
        with contextlib.redirect_stdout(io.StringIO()):  # progress lines are printed, then dropped
            res = run_search("bench", out, args.particles, args.steps, args.children, seed=args.seed,
                             init_factor=args.init_factor, toolbox=toolbox, verbose=True)
    t = res.timings
    n = max(t.get("step_candidates", 0), 1)
    per = {k: 1e3 * t.get(k, 0.0) / n for k in ("steps", "mutate", "key", "evaluate", "log", "checkpoint")}
    per["other"] = per["steps"] - sum(per[k] for k in ("mutate", "key", "evaluate", "log", "checkpoint"))
    return {"label": label, "children": int(t.get("step_candidates", 0)), **per}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--particles", type=int, default=4)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--children", type=int, default=7)
    ap.add_argument("--init-factor", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--canonical", action="store_true", help="also time the 'both' key (sympy canonical key)")
    args = ap.parse_args(argv)

    import torch

    print(f"search overhead per child: {args.particles} particles x {args.steps} steps x {args.children} "
          f"children, zero-cost fitness; torch threads {torch.get_num_threads()}, cpu count {os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.1f}")
    measure("warm-up", make_toolbox(ZeroCost()), argparse.Namespace(**{**vars(args), "steps": 1}), False)

    rows = [
        measure("toy vectors, run dir", make_toy_toolbox(evaluate=ZeroCost()), args, True),
        measure("genome, no run dir", make_toolbox(ZeroCost()), args, False),
        measure("genome, run dir", make_toolbox(ZeroCost()), args, True),
    ]
    if args.canonical:
        rows.append(measure("genome+canonical, run dir", make_toolbox(ZeroCost(), key="both"), args, True))

    cols = ("steps", "mutate", "key", "evaluate", "log", "checkpoint", "other")
    head = f"{'configuration (ms/child)':<28} {'children':>8} " + " ".join(f"{c:>10}" for c in cols)
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['label']:<28} {r['children']:>8} " + " ".join(f"{r[c]:>10.3f}" for c in cols))
    loop = [r["steps"] - r["mutate"] - r["evaluate"] for r in rows]
    print("steps: wall time of the time steps per child (the initial population excluded); mutate: "
          "mutation + integrity check + novelty key (gp_opt.mutation); key: the cache lookup key; "
          "log: the JSONL line, flushed + fdatasync'ed; checkpoint: one atomic write per step.")
    print("search-loop overhead (steps - mutate - evaluate), ms/child: " +
          ", ".join(f"{r['label']}: {v:.2f}" for r, v in zip(rows, loop)) + "  (target < 5)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
