"""The published optimizers and the paper's baselines through the same surrogate protocol.

Every optimizer goes through ``gp_opt.surrogate.evaluate`` (learning-rate screen included) for
each seed; the table gives the mean and standard deviation of the best validation accuracy over
the seeds whose record is ``ok``, how many were ok, and the chosen learning rates.

    python benchmarks/catalog_quality.py                         # CPU: digits, smoke preset, 3 seeds
    python benchmarks/catalog_quality.py --preset paper --data-dir ../shared/data   # GPU, CIFAR-10

Names come from the torch baselines (Adam, SGD, Nesterov) and from ``gp_opt.catalog`` run by
``gp_opt.optim.EvolvedOptimizer`` (Opt1..Opt10, A1..A5, QHM, PowerSign, AddSign). A name that
cannot be resolved is listed with the reason instead of stopping the table.
"""
from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from gp_opt.errors import GpOptError  # noqa: E402
from gp_opt.surrogate import SurrogateConfig, evaluate, evaluate_many, get_device_data, resolve_optimizer  # noqa: E402

NAMES = (["Adam", "SGD", "Nesterov", "QHM", "PowerSign", "AddSign"] + [f"Opt{i}" for i in range(1, 11)]
         + [f"A{i}" for i in range(1, 6)])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="smoke", choices=["smoke", "paper"])
    ap.add_argument("--dataset", default=None, help="digits | cifar10 | cifar100 | npz (default: the preset's)")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--names", nargs="*", default=None, help=f"subset of: {' '.join(NAMES)}")
    ap.add_argument("--separate", action="store_true",
                    help="evaluate each optimizer alone (default: all of one seed share the ensembles)")
    args = ap.parse_args(argv)

    over = {"device": args.device}
    if args.dataset:
        over["dataset"] = args.dataset
    if args.data_dir:
        over["data_dir"] = args.data_dir
    cfg = SurrogateConfig.preset(args.preset, **over)
    if cfg.resolved_device().type == "cpu":
        torch.set_num_threads(1)  # tiny models: threads only add overhead
    try:
        data = get_device_data(cfg)
    except GpOptError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    names = args.names or NAMES
    available, missing = [], []
    for n in names:
        try:
            _, label = resolve_optimizer(n)
            available.append((n, label))
        except (GpOptError, ImportError) as e:
            missing.append((n, f"{type(e).__name__}: {e}"))
    print(f"surrogate: preset {args.preset}, dataset {data.name} {tuple(data.x_train.shape)}, base {cfg.base}, "
          f"{cfg.total_steps} steps, device {data.device}, {args.seeds} seeds")
    if missing:
        print(f"not available yet ({len(missing)}): " + ", ".join(n for n, _ in missing))
        for n, why in missing:
            print(f"  {n}: {why}")

    results: dict[str, list] = {n: [] for n, _ in available}
    t0 = time.perf_counter()
    for seed in range(args.seeds):
        scfg = cfg.replace(seed=seed)
        if args.separate:
            recs = [evaluate(n, scfg, data=data if seed == cfg.seed else None) for n, _ in available]
        else:
            recs = evaluate_many([n for n, _ in available], scfg,
                                 data=data if seed == cfg.seed else None)
        for (n, _), r in zip(available, recs):
            results[n].append(r)
        print(f"  seed {seed} done ({time.perf_counter() - t0:.1f} s)", flush=True)

    print()
    print(f"{'optimizer':<11} {'implementation':<44} {'val acc mean':>12} {'std':>7} {'ok':>4}  best lr / outcome")
    for n, label in available:
        recs = results[n]
        ok = [r.fitness for r in recs if r.ok and math.isfinite(r.fitness)]
        mean = f"{statistics.fmean(ok):.4f}" if ok else "-"
        std = f"{statistics.stdev(ok):.4f}" if len(ok) > 1 else "-"
        outcome = ", ".join(f"{r.best_lr:g}" if r.ok else r.status for r in recs)
        print(f"{n:<11} {label[:44]:<44} {mean:>12} {std:>7} {len(ok):>2}/{len(recs)}  {outcome}")
    for n, _ in missing:
        print(f"{n:<11} {'(not available yet)':<44} {'-':>12} {'-':>7} {'-':>4}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
