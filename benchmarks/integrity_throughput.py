"""Integrity-check throughput: batched ``check_many`` against the naive loop, on one CPU core.

The naive loop is what the paper's code does: one optimizer run per learning rate and sign
(12 runs of 35 steps on a 5-vector per candidate). Both engines check the same random genomes,
from cold caches, and must agree on every verdict.

    python benchmarks/integrity_throughput.py [--candidates 2000] [--naive 60] [--seed 0]

Targets (issue 4): >= 1,000 candidates/s for check_many and >= 20x the naive loop.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from gp_opt import integrity as I
from gp_opt.genome import OptimizerGenome


def timed(fn):
    I.clear_caches()
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w0, time.process_time() - c0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", type=int, default=2000, help="genomes for check_many")
    ap.add_argument("--naive", type=int, default=60, help="of those, how many the naive loop checks")
    ap.add_argument("--batch-size", type=int, default=I.IntegrityConfig().batch_size)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)

    rng = np.random.default_rng(args.seed)
    genomes = [OptimizerGenome.random(rng) for _ in range(args.candidates)]
    subset = genomes[: args.naive]
    cfg = I.IntegrityConfig(batch_size=args.batch_size)
    I.check_many(genomes[:4], cfg)  # import-time work and op compilation out of the timings

    batched, bw, bc = timed(lambda: I.check_many(genomes, cfg))
    small, sw, sc = timed(lambda: I.check_many(subset, cfg))
    naive, nw, nc = timed(lambda: [I.naive_check(g, cfg) for g in subset])
    early, ew, ec = timed(lambda: [I.naive_check(g, cfg, early_exit=True) for g in subset])

    agree = all((a.passed, a.flipped) == (b.passed, b.flipped) == (c.passed, c.flipped)
                for a, b, c in zip(batched[: args.naive], naive, early))
    rate = {"naive": len(subset) / nw}
    rows = [
        ("check_many (all)", len(genomes), bw, bc),
        ("check_many (naive's subset)", len(subset), sw, sc),
        ("naive: 12 runs per candidate", len(subset), nw, nc),
        ("naive, stop at first pass", len(subset), ew, ec),
    ]
    print(f"integrity check throughput, torch {torch.__version__}, threads={torch.get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs, batch_size={cfg.batch_size}")
    print(f"{'method':<30} {'cands':>6} {'wall s':>8} {'cand/s':>9} {'cand/s (CPU)':>13} {'x naive':>8}")
    for name, n, wall, cpu in rows:
        print(f"{name:<30} {n:>6} {wall:>8.3f} {n / wall:>9.0f} {n / cpu:>13.0f} {n / wall / rate['naive']:>8.1f}")
    print(f"verdicts agree (batched / naive / naive early exit): {'yes' if agree else 'NO'}; "
          f"pass rate {np.mean([r.passed for r in batched]):.2f}, flipped {np.mean([r.flipped for r in batched]):.2f}")
    ok = len(genomes) / bw >= 1000 and (len(genomes) / bw) / rate["naive"] >= 20
    print(f"targets (>= 1,000 cand/s, >= 20x naive): {'met' if ok else 'NOT met'}")
    return 0 if agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
