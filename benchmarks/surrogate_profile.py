"""Where a surrogate ensemble step spends its time: a ``torch.profiler`` trace of the project's
training path, summarised as tables (no trace file is needed to read them).

    python benchmarks/surrogate_profile.py --preset paper --members 8 --steps 30        # a GPU
    python benchmarks/surrogate_profile.py --preset smoke --members 2 --steps 3 --device cpu

``--members`` learning rates train as one ensemble (``train_members``, Adam, the preset's flags,
``--cuda-graphs`` / ``--channels-last`` as in ``surrogate_throughput.py``) for ``--steps`` steps
after an untimed warm-up run. Printed: the top operators by self device time (CUDA) or self CPU time
(CPU), the device's busy time against the wall time (a device idle most of the step means launch or
host bound, not compute bound), and the kernel time split into coarse families by kernel name
(matrix/convolution, elementwise and reductions, optimizer multi-tensor kernels, copies). The data
are random tensors of CIFAR-10's shape when no CIFAR files are found, as in the throughput benchmark.
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402

from gp_opt.surrogate import BASELINES, SurrogateConfig  # noqa: E402
from gp_opt.surrogate.ensemble import train_members  # noqa: E402
from surrogate_throughput import load_data  # noqa: E402

#: kernel-name families, first match wins (names as CUDA and cuDNN report them)
FAMILIES = (
    ("matrix / convolution", r"gemm|conv|cudnn|cutlass|sm80_|sm90_|xmma|wgrad|dgrad|implicit"),
    ("optimizer (multi-tensor)", r"multi_tensor|foreach|adam"),
    ("copies / fills", r"memcpy|memset|copy|fill|cat"),
    ("normalisation", r"batch_norm|bn_|norm"),
    ("elementwise / reductions", r"elementwise|vectorized|reduce|softmax|where|mul|add|pool|dropout|bernoulli|uniform"),
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="paper", choices=["smoke", "digits", "paper"])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--members", type=int, default=8)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--rows", type=int, default=20)
    ap.add_argument("--cuda-graphs", action="store_true")
    ap.add_argument("--channels-last", action="store_true")
    args = ap.parse_args(argv)
    if args.members < 1 or args.steps < 1:
        print("surrogate_profile: --members and --steps must be at least 1", file=sys.stderr)
        return 2
    cfg = SurrogateConfig.preset(args.preset, device=args.device, cuda_graphs=args.cuda_graphs,
                                 channels_last=args.channels_last)
    device = cfg.resolved_device()
    if device.type == "cpu":
        torch.set_num_threads(1)
    data, source = load_data(cfg)
    run_cfg = cfg.replace(screen_cut_threshold=-1.0, check_every=10 ** 9, acc_window=1)
    specs = [(BASELINES["adam"], 10.0 ** (-2 - (i % 4))) for i in range(args.members)]

    def run(n: int) -> None:
        train_members(specs, data, run_cfg, run_steps=n, total_steps=cfg.total_steps, warmup_steps=cfg.warmup_steps,
                      mode="screen", batched=True)
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    run(3)  # warm-up: kernel selection, allocator, graph capture
    cuda = device.type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    t0 = time.perf_counter()
    with profile(activities=activities) as prof:
        run(args.steps)
    wall = time.perf_counter() - t0
    name = torch.cuda.get_device_name(device) if cuda else "CPU"
    print(f"profile: {name}, torch {torch.__version__} | data: {source} | preset {args.preset}, ConvNet base "
          f"{cfg.base}, batch {cfg.batch_size}, {args.members} members x {args.steps} steps (one ensemble, Adam) | "
          f"flags: bf16={cfg.bf16 and cuda} cuda_graphs={cfg.cuda_graphs} channels_last={cfg.channels_last}")
    print(f"wall {wall:.3f} s under the profiler: {args.members * args.steps / wall:.1f} model-steps/s "
          "(the profiler slows launches; use surrogate_throughput.py for rates)")
    avgs = prof.key_averages()
    sort = "self_device_time_total" if cuda else "self_cpu_time_total"
    print()
    print(avgs.table(sort_by=sort, row_limit=args.rows))
    if cuda:
        kernels = [e for e in prof.events() if getattr(e, "device_type", None) == torch.autograd.DeviceType.CUDA]
        busy_us = sum(float(e.device_time_total) for e in kernels)
        print(f"device busy (sum of kernel times): {busy_us / 1e6:.3f} s of {wall:.3f} s wall "
              f"({100 * busy_us / 1e6 / wall:.0f} %); {len(kernels)} kernels, "
              f"{len(kernels) / (args.steps or 1):.0f} per ensemble step")
        fam: dict[str, float] = {}
        for e in kernels:
            label = next((f for f, pat in FAMILIES if re.search(pat, e.name, re.I)), "other")
            fam[label] = fam.get(label, 0.0) + float(e.device_time_total)
        total = sum(fam.values()) or 1.0
        print("\n| kernel family | device ms | share |\n|---|---:|---:|")
        for label, us in sorted(fam.items(), key=lambda kv: -kv[1]):
            print(f"| {label} | {us / 1e3:.1f} | {100 * us / total:.0f} % |")
    else:
        cpu_us = sum(float(e.self_cpu_time_total) for e in avgs)
        print(f"CPU operators (self time, summed): {cpu_us / 1e6:.3f} s of {wall:.3f} s wall; no device "
              "kernels on a CPU run (the kernel-family table needs CUDA)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
