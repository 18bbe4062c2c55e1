"""A user's plain fitness function alone and inside the search, by torch thread count (issue 21 item 7).

The fitness trains a 32-64-2 MLP for ``--steps`` steps with the candidate (``EvolvedOptimizer``)
and returns minus the final loss. It is timed

- alone, with torch's thread setting of this process and with one thread;
- inside ``run_search`` (in process), as before (``threads=None``: torch's setting as it is) and
  as now (the default: one thread, like the built-in tasks).

Each row is the median seconds per evaluation over the calls made; the table prints ratios to
"alone, 1 thread". Intra-op threads on tiny tensors make every op a fork/join across threads;
when the machine's cores are busy (the search's other work, pool workers, other jobs) each join
waits for a descheduled thread, and a step costs many times more.

    python benchmarks/custom_fitness_threads.py [--steps 60] [--calls 4] [--threads N]
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

MODULE = textwrap.dedent('''
    import time
    import torch
    from gp_opt.optim import EvolvedOptimizer

    STEPS = {steps}
    SECONDS = []

    def mlp_fitness(genome):
        t0 = time.perf_counter()
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(256, 32, generator=gen)
        y = (x[:, 0] > 0).long()
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.Tanh(), torch.nn.Linear(64, 2))
        opt = EvolvedOptimizer(model.parameters(), genome, lr=0.01, total_steps=STEPS)
        for _ in range(STEPS):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
        SECONDS.append(time.perf_counter() - t0)
        return -float(loss.detach())
''')


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=60, help="training steps per evaluation")
    ap.add_argument("--calls", type=int, default=4, help="evaluations timed alone per setting")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch threads of the process (default: torch's own, the number of cores)")
    args = ap.parse_args(argv)

    import torch

    from gp_opt import catalog
    from gp_opt.search import run_search

    if args.threads:
        torch.set_num_threads(args.threads)
    process_threads = torch.get_num_threads()
    tmp = Path(tempfile.mkdtemp(prefix="custom_fitness_threads."))
    try:
        (tmp / "bench_fitness.py").write_text(MODULE.format(steps=args.steps))
        sys.path.insert(0, str(tmp))
        import bench_fitness as fit

        genome = catalog.get("Opt6")
        rows = []

        def alone(threads: int) -> float:
            old = torch.get_num_threads()
            torch.set_num_threads(threads)
            try:
                fit.SECONDS.clear()
                for _ in range(args.calls):
                    fit.mlp_fitness(genome)
                return statistics.median(fit.SECONDS)
            finally:
                torch.set_num_threads(old)

        def in_search(threads) -> tuple[float, int]:
            fit.SECONDS.clear()
            out = tmp / f"run-{threads}"
            run_search("bench_fitness:mlp_fitness", out, 2, 1, 2, seed=0, init_factor=1, verbose=False,
                       task_options={"threads": threads})
            shutil.rmtree(out)
            return statistics.median(fit.SECONDS), len(fit.SECONDS)

        fit.mlp_fitness(genome)   # warm-up: imports, first compilation
        rows.append((f"alone, {process_threads} threads (this process)", alone(process_threads), args.calls))
        rows.append(("alone, 1 thread", alone(1), args.calls))
        sec, n = in_search(None)
        rows.append((f"in the search, as before ({process_threads} threads)", sec, n))
        sec, n = in_search(1)
        rows.append(("in the search, now (1 thread)", sec, n))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    ref = rows[1][1]
    print(f"plain fitness: {args.steps} steps of a 32-64-2 MLP per evaluation; torch {torch.__version__}, "
          f"process threads {process_threads}")
    print(f"{'setting':<46} {'evaluations':>11} {'x alone, 1 thread':>18}")
    for name, sec, n in rows:
        print(f"{name:<46} {n:>11} {sec / ref:>18.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
