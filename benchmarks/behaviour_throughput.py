"""Behavioural-distance throughput: candidates scored per second by ``gp_opt.behaviour.distance``.

The candidates are random genomes that pass the integrity check (what a search scores), their
distance to a target (default Adam) on the search panel (12 runs x 24 steps x 16 parameters),
batched as the rediscovery fitness calls it, against one candidate per call (the unbatched
baseline); cold (the decay tables of these genomes read for the first time) and warm (read
before, as in a search, where children share their parents' decay functions); and the
verification panel (36 runs x 60 steps). The distance runs on one torch thread (it sets that
itself: the tensors are small, a second thread only contends). cand/s (CPU) is per CPU-second of
this process: on a machine shared with other work it is what the code does, wall cand/s what the
machine gave it.

    python benchmarks/behaviour_throughput.py [--candidates 4000] [--single 100] [--target Adam]

Target (issue 20): >= 2,000 candidates/s on this 2-core CPU for the search panel.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from gp_opt import behaviour as B
from gp_opt import catalog
from gp_opt.mutation import random_valid_many


def timed(fn):
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w0, time.process_time() - c0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", type=int, default=4000)
    ap.add_argument("--single", type=int, default=100, help="of those, how many are scored one per call")
    ap.add_argument("--verify", type=int, default=500, help="of those, how many on the verification panel")
    ap.add_argument("--target", default="Adam")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    target = catalog.get(args.target)
    genomes = random_valid_many(np.random.default_rng(args.seed), args.candidates)
    ref = B.fingerprint([target])
    B.distance(genomes[:8], ref)  # operand programs compiled, panel data drawn: out of the timings

    rows, results = [], {}
    for kind in ("cold", "warm"):
        d, w, c = timed(lambda: B.distance(genomes, ref))
        results[kind] = d
        rows.append((f"batched, {kind}", len(genomes), w, c))
    sub = genomes[: args.single]
    single, w, c = timed(lambda: np.concatenate([B.distance([g], ref) for g in sub]))
    rows.append(("one candidate per call", len(sub), w, c))
    vsub = genomes[: args.verify]
    vref = B.fingerprint([target], B.VERIFY_PANEL)
    _, w, c = timed(lambda: B.distance(vsub, vref, B.VERIFY_PANEL))
    rows.append(("verification panel, batched", len(vsub), w, c))

    base = rows[2][1] / rows[2][2]
    print(f"behavioural distance to {args.target}, torch {torch.__version__}, load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs, batch size {B.BATCH_SIZE}")
    print(f"{'method':<32} {'cands':>6} {'wall s':>8} {'cand/s':>9} {'cand/s (CPU)':>13} {'x single':>9}")
    for name, n, wall, cpu in rows:
        print(f"{name:<32} {n:>6} {wall:>8.3f} {n / wall:>9.0f} {n / cpu:>13.0f} {n / wall / base:>9.1f}")
    same = np.array_equal(results["cold"], results["warm"]) and np.array_equal(results["cold"][: args.single], single)
    finite = np.isfinite(results["cold"])
    print(f"same distances in every batching: {'yes' if same else 'NO'}; "
          f"finite {finite.mean():.2f}, median {np.median(results['cold'][finite]):.3f}")
    wall = rows[1][1] / rows[1][2]
    cpu = rows[1][1] / rows[1][3]
    print(f"target (>= 2,000 cand/s on the search panel, warm): wall {wall:.0f} "
          f"({'met' if wall >= 2000 else 'NOT met'}), per CPU-second {cpu:.0f} ({'met' if cpu >= 2000 else 'NOT met'})")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
