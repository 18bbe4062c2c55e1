"""The transfer suite's batched ensembles against a Python loop over runs.

For each task and optimizer, trains seeds x learning rates (default 3 x 5 = 15 runs) two ways in
one process, with the same budget:

- loop: one run at a time, the task's one-model functions called directly (``batched=False``);
- ensemble: all runs as one model with stacked weights, the task's functions under
  ``torch.func.vmap``, the optimizer stepping the stacked tensors with one rate per member
  (``batched=True``, what ``gp-opt transfer`` does).

Both paths give the same numbers (tests/test_transfer.py); the table shows wall seconds per
path (the median of ``--repeats``, paths interleaved so a varying machine load hits both), the
ratio loop / ensemble (above 1: the ensemble is faster) and runs per second. Steps are short (a
fraction of the tasks' default budgets): the ratio, not the absolute time, is the result.

    python benchmarks/transfer_ensemble.py [--steps 30] [--seeds 3] [--lrs 1,0.1,0.01,0.001,0.0001]
                                           [--tasks digits-mlp,charlm,diabetes,breast-cancer]
                                           [--optimizers Adam,Opt6] [--repeats 3] [--threads 1]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from gp_opt.transfer import get_task  # noqa: E402
from gp_opt.transfer.ensemble import train_members  # noqa: E402
from gp_opt.transfer.suite import resolve_optimizer  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--lrs", default="1,0.1,0.01,0.001,0.0001")
    ap.add_argument("--tasks", default="digits-mlp,charlm,diabetes,breast-cancer")
    ap.add_argument("--optimizers", default="Adam,Opt6")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    lrs = [float(x) for x in args.lrs.split(",")]
    seeds = list(range(args.seeds))
    k = len(lrs) * len(seeds)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); {args.seeds} seeds x {len(lrs)} lrs = "
          f"{k} runs of {args.steps} steps per cell; median of {args.repeats}\n")
    print(f"| task | optimizer | loop s | ensemble s | loop / ensemble | runs/s loop | runs/s ensemble |")
    print("|---|---|---|---|---|---|---|")
    for name in args.tasks.split(","):
        task = get_task(name, steps=args.steps)
        task.data()
        for spec in args.optimizers.split(","):
            label, make = resolve_optimizer(spec)
            train_members(task, make(), seeds=[0], lrs=lrs[:1], batched=True)  # warm-up: compile, caches
            times = {"loop": [], "ensemble": []}
            for _ in range(args.repeats):
                for path in ("loop", "ensemble"):
                    t0 = time.perf_counter()
                    train_members(task, make(), seeds=seeds, lrs=lrs, batched=path == "ensemble")
                    times[path].append(time.perf_counter() - t0)
            lo, en = statistics.median(times["loop"]), statistics.median(times["ensemble"])
            print(f"| {name} | {label} | {lo:.2f} | {en:.2f} | {lo / en:.2f}x | {k / lo:.1f} | {k / en:.1f} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
