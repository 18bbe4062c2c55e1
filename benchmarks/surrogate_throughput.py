"""Surrogate throughput: a plain eager loop vs the project's batched path, in one run, one device.

(a) plain eager: one ConvNet per learning rate, ``torch.optim.Adam``, float32, one model at a time;
(b) the project's path (``gp_opt.surrogate.train_members``): the rates of a screen stage as one
    ensemble (bf16 autocast and the optional flags on CUDA), the full run as one model;
(c) with ``--candidates C > 1``: C candidates sharing each stage's ensembles (``evaluate_many``).

Model-steps/s are measured as the slope between a short and a long run (fixed costs such as model
construction, optimizer set-up or graph capture cancel). Full-protocol evaluations per device-hour
are the worst case (no run cut early): 3 + 4 screen runs of ``screen_steps`` and a full run of
``total_steps``, validation excluded (about 2 % of the work at the paper's settings).

    python benchmarks/surrogate_throughput.py --preset smoke            # CPU, well under a minute
    python benchmarks/surrogate_throughput.py --preset paper --candidates 8 --cuda-graphs
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from gp_opt.data import BatchStream, Dataset, DeviceData  # noqa: E402
from gp_opt.errors import DataError  # noqa: E402
from gp_opt.surrogate import BASELINES, ConvNet, SurrogateConfig, count_parameters, get_device_data  # noqa: E402
from gp_opt.surrogate import path_choice  # noqa: E402
from gp_opt.surrogate.calibration import calibrate  # noqa: E402
from gp_opt.surrogate.ensemble import augment_for, train_members  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def load_data(cfg: SurrogateConfig) -> tuple[DeviceData, str]:
    try:
        return get_device_data(cfg), cfg.dataset
    except DataError:
        if cfg.dataset != "cifar10":
            raise
    # No CIFAR files here: random tensors of CIFAR's shape measure speed just as well.
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (50000, 3, 32, 32), dtype=torch.uint8, generator=g)
    y = torch.randint(0, 10, (50000,), generator=g)
    ds = Dataset("random-cifar-shape", x[:45000], y[:45000], x[45000:], y[45000:], 10, (0.5,) * 3, (0.25,) * 3)
    return ds.to_device(cfg.resolved_device()), "random tensors of CIFAR-10's shape"


def _slope(run, steps: tuple[int, int], reps: int = 2) -> float:
    """Steps/s as the slope between a short and a long run (each the best of ``reps``)."""
    t1 = min(run(steps[0]) for _ in range(reps))
    t2 = min(run(steps[1]) for _ in range(reps))
    if t2 <= t1:  # a noisy machine: fall back to the long run's plain rate
        return steps[1] / t2
    return (steps[1] - steps[0]) / (t2 - t1)


def plain_eager_rate(data: DeviceData, cfg: SurrogateConfig, steps: tuple[int, int], lr: float = 1e-3) -> float:
    """Model-steps/s of the textbook loop: one model, Adam, float32, eager."""
    device = data.device

    def run(n: int) -> float:
        torch.manual_seed(0)
        model = ConvNet(cfg.base, data.num_classes, data.in_channels).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        stream = BatchStream(data.x_train, data.y_train, cfg.batch_size, seed=1, augment=augment_for(cfg, data))
        model.train()
        _sync(device)
        t = time.perf_counter()
        for _ in range(n):
            xb, yb = stream.next()
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        _sync(device)
        return time.perf_counter() - t

    run(2)  # warm-up (kernel selection, allocator)
    return _slope(run, steps)


def project_rate(data: DeviceData, cfg: SurrogateConfig, k: int, steps: tuple[int, int],
                 factory=None, batched: bool | None = None) -> float:
    """Ensemble steps/s of the project's path with ``k`` members (multiply by k for model-steps/s);
    ``batched``: force the ensembles (True) or the plain loop (False); None: the path rule's choice."""
    factory = factory or BASELINES["adam"]
    run_cfg = cfg.replace(screen_cut_threshold=-1.0, check_every=10 ** 9, acc_window=1)
    lrs = [10.0 ** (-2 - (i % 4)) for i in range(k)]

    def run(n: int) -> float:
        _sync(data.device)
        t = time.perf_counter()
        train_members([(factory, lr) for lr in lrs], data, run_cfg, run_steps=n, total_steps=cfg.total_steps,
                      warmup_steps=cfg.warmup_steps, mode="screen", batched=batched)
        _sync(data.device)
        return time.perf_counter() - t

    run(2)
    return _slope(run, steps)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="smoke", choices=["smoke", "digits", "paper"])
    ap.add_argument("--calibrate", action="store_true",
                    help="time both paths for this shape and cache the choice for this machine "
                         "(gp_opt.surrogate.calibration.calibrate)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--base", type=int, default=None, help="ConvNet base (paper: 48)")
    ap.add_argument("--batch-size", type=int, default=None, help="(paper: 128)")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--candidates", type=int, default=1, help="candidates sharing the ensembles (path c)")
    ap.add_argument("--steps", type=int, nargs=2, default=None, metavar=("SHORT", "LONG"),
                    help="timed run lengths (rate = slope between them)")
    ap.add_argument("--no-bf16", action="store_true")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--cuda-graphs", action="store_true")
    ap.add_argument("--channels-last", action="store_true")
    args = ap.parse_args(argv)

    over = {"device": args.device, "bf16": not args.no_bf16, "compile": args.compile,
            "cuda_graphs": args.cuda_graphs, "channels_last": args.channels_last}
    if args.base:
        over["base"] = args.base
    if args.batch_size:
        over["batch_size"] = args.batch_size
    if args.data_dir:
        over["data_dir"] = args.data_dir
    cfg = SurrogateConfig.preset(args.preset, **over)
    device = cfg.resolved_device()
    if device.type == "cpu":
        torch.set_num_threads(1)  # tiny models: threads only add overhead (and contention)
    steps = tuple(args.steps) if args.steps else ((5, 20) if args.preset in ("smoke", "digits") else (30, 130))
    data, source = load_data(cfg)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    n_params = count_parameters(ConvNet(cfg.base, data.num_classes, data.in_channels))
    print(f"device: {name} | data: {source} {tuple(data.x_train.shape)} | ConvNet base {cfg.base} "
          f"({n_params / 1e6:.3f}M params) | batch {cfg.batch_size} | timed steps {steps}")
    flags = [f for f, on in (("bf16", cfg.bf16 and device.type == "cuda"), ("compile", cfg.compile),
                             ("cuda_graphs", cfg.cuda_graphs), ("channels_last", cfg.channels_last)) if on]
    print(f"project flags: {', '.join(flags) or 'none'}")

    S, T = cfg.screen_steps, cfg.total_steps
    k1, k2 = len(cfg.screen_lrs_first), len(cfg.screen_lrs_second)
    rate_a = plain_eager_rate(data, cfg, steps)
    rows = [("(a) plain eager, Adam fp32", 1, rate_a, rate_a)]
    sec_a = ((k1 + k2) * S + T) / rate_a

    # the path the project takes by default for this device and shape (gp_opt.surrogate.path_choice)
    if args.calibrate:
        cal = calibrate(cfg, data, members=k2)
        print(f"calibration ({k2} members x {cal['steps']} steps): ensemble {cal['ensemble_s']:.2f} s, "
              f"plain {cal['plain_s']:.2f} s -> cached in {path_choice.cache_path()}")
    chosen = path_choice.choose_batched(cfg.replace(batched=None), data)
    ens_k2 = project_rate(data, cfg, k2, steps, batched=True)
    plain_k2 = project_rate(data, cfg, k2, steps, batched=False)
    print(f"path choice: {'ensembles' if chosen else 'plain loop'} for {device.type}, base {cfg.base}, "
          f"image {tuple(data.x_train.shape[1:])} (rule: base x side <= {path_choice.CPU_ENSEMBLE_MAX_WORK} on a CPU, "
          f"or a cached calibration); measured here for {k2} runs: ensemble {ens_k2 * k2:.1f} vs plain "
          f"{plain_k2 * k2:.1f} model-steps/s ({ens_k2 / plain_k2:.2f}x) -> "
          f"{'right' if chosen == (ens_k2 >= plain_k2) else 'WRONG'} choice on this machine now")

    C = max(1, args.candidates)
    rates = {}
    for k in sorted({k1, k2, 1, k1 * C, k2 * C, C}):
        rates[k] = project_rate(data, cfg, k, steps)
    for k in sorted(rates):
        rows.append((f"(b) project path, ensemble of {k}", k, rates[k] * k, rates[k]))
    sec_b = S / rates[k1] + S / rates[k2] + T / rates[1]
    sec_c = (S / rates[k1 * C] + S / rates[k2 * C] + T / rates[C]) / C

    print()
    print(f"{'path':<40} {'models':>6} {'model-steps/s':>14} {'ens. steps/s':>13} {'vs (a)':>8}")
    for label, k, ms, es in rows:
        print(f"{label:<40} {k:>6} {ms:>14.1f} {es:>13.1f} {ms / rate_a:>7.2f}x")
    print()
    hour = "GPU-hour" if device.type == "cuda" else "CPU-hour"
    print(f"full-protocol evaluations per {hour} (worst case: {k1}+{k2} screen runs x {S} steps + {T}-step run):")
    print(f"  (a) plain eager, one model at a time      : {3600 / sec_a:10.1f}   ({sec_a:8.1f} s each)")
    print(f"  (b) project path, one candidate           : {3600 / sec_b:10.1f}   ({sec_b:8.1f} s each)  "
          f"{sec_a / sec_b:.2f}x (a)")
    if C > 1:
        print(f"  (c) project path, {C} candidates sharing : {3600 / sec_c:10.1f}   ({sec_c:8.1f} s each)  "
              f"{sec_a / sec_c:.2f}x (a)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
