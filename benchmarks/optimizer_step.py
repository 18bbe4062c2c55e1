"""Median optimizer step time of gp_opt genomes vs torch.optim.Adam(foreach=True), and of their
optax transformations vs optax.adam.

    python benchmarks/optimizer_step.py [--params 10000000] [--tensors 50] [--steps 20] [--compile] [--no-optax]

Every optimizer steps the same parameters (``--params`` numbers in ``--tensors`` tensors of
varied shapes, float32) with fixed random gradients; only ``optimizer.step()`` is timed. Runs on
CPU, and on CUDA too when a GPU is present. Prints one table per device with the ratio to Adam.
When jax and optax are installed, a further table times the jitted ``update`` of each genome's
optax transformation (:func:`gp_opt.optim.optax_transformation`) against ``optax.adam`` on the
same shapes on the CPU (float32, state buffers donated to the update in both), in this process.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from gp_opt.genome import DecayGenome, OptimizerGenome
from gp_opt.optim import EvolvedOptimizer


def catalog_or(name: str, fallback):
    try:
        from gp_opt import catalog
        return catalog.get(name), name
    except Exception:  # noqa: BLE001 - the catalog may not exist yet
        return fallback(), name + " (SPEC form)"


def opt6():
    a4 = DecayGenome.from_nodes({"out": ("dtanh", ["a4"])})
    num = DecayGenome.from_nodes({"h0": ("erfc", ["a4"]), "out": ("erfc", ["h0"])})
    den = DecayGenome.from_nodes({"out": ("dtanh", ["a8"])})
    return OptimizerGenome.from_nodes({
        "h0": ("exp", [("wd4", a4)]), "h1": ("abs", [("h0", den)]),
        "out": ("div", [("qh_g", num), "h1"])})


def opt10():
    d = DecayGenome.from_nodes({"h0": ("identity", ["a13"]), "out": ("mul", ["h0", "a2"])})
    return OptimizerGenome.from_nodes({"h0": ("bessel_i1e", [("g", d)]), "out": ("bessel_i1e", ["h0"])},
                                      momentum="nesterov")


def random_stateful(seed: int = 0) -> OptimizerGenome:
    """A random genome whose 5 inner nodes are all active, one of them stateful."""
    rng = np.random.default_rng(seed)
    while True:
        g = OptimizerGenome.random(rng)
        nodes = g.active_inner_nodes()
        kinds = {g.grammar.op(g.op(n)).kind for n in nodes}
        if len(nodes) == 5 and "stateful" in kinds and "stochastic" not in kinds:
            return g


def make_params(total: int, n: int, device: str, seed: int = 0) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    weights = torch.rand(n, generator=gen) + 0.1
    sizes = (weights / weights.sum() * total).long().clamp_min(1)
    sizes[0] += total - int(sizes.sum())
    params = []
    for i, s in enumerate(sizes.tolist()):
        shape = (s,) if i % 3 == 0 else ((s // 64, 64) if s >= 64 else (s,))
        numel = int(np.prod(shape))
        p = torch.nn.Parameter(torch.randn(numel, generator=gen).view(shape).to(device) * 0.1)
        p.grad = torch.randn(numel, generator=gen).view(shape).to(device) * 0.01
        params.append(p)
    return params


def time_interleaved(opts: list[torch.optim.Optimizer], steps: int, device: str) -> list[float]:
    """Median step time of each optimizer, timed in turn round by round (fair under varying load)."""
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    for opt in opts:
        for _ in range(2):
            opt.step()
    sync()
    times: list[list[float]] = [[] for _ in opts]
    for _ in range(steps):
        for i, opt in enumerate(opts):
            t0 = time.perf_counter()
            opt.step()
            sync()
            times[i].append(time.perf_counter() - t0)
    return [statistics.median(ts) for ts in times]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=int, default=10_000_000)
    ap.add_argument("--tensors", type=int, default=50)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--compile", action="store_true", help="also time compile=True")
    ap.add_argument("--devices", default=None, help="comma list (default: cpu, and cuda if present)")
    ap.add_argument("--no-optax", action="store_true", help="skip the optax table")
    args = ap.parse_args(argv)
    devices = args.devices.split(",") if args.devices else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    genomes = [catalog_or("Opt6", opt6), catalog_or("Opt10", opt10), (random_stateful(), "random 5-node, stateful")]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads; "
          f"{args.params:,} parameters in {args.tensors} tensors, median of {args.steps} steps")
    print(f"random genome: {genomes[2][0]!r}")
    for device in devices:
        dev_name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
        params = make_params(args.params, args.tensors, device)
        labels = ["Adam(foreach=True)"]
        opts: list[torch.optim.Optimizer] = [torch.optim.Adam(params, lr=1e-3, foreach=True)]
        for genome, label in genomes:
            for comp in ([False, True] if args.compile else [False]):
                # a tiny rate: the weights (and so the work) stay the same over the run
                opts.append(EvolvedOptimizer(params, genome, lr=1e-9, total_steps=10_000,
                                             warmup_steps=100, compile=comp))
                labels.append(label + (" [compile]" if comp else ""))
        times = time_interleaved(opts, args.steps, device)
        t_adam = times[0]
        rows = list(zip(labels, times))
        print(f"\n{device} ({dev_name})")
        print(f"| optimizer | median step (ms) | x Adam |\n|---|---:|---:|")
        for lab, t in rows:
            print(f"| {lab} | {t * 1e3:.2f} | {t / t_adam:.2f} |")
        del opts, params
    if not args.no_optax:
        optax_table(genomes, args)


def optax_table(genomes, args) -> None:
    """The jitted optax update of each genome vs optax.adam on the CPU, round-robin medians."""
    try:
        import jax
        import optax
    except ImportError:
        print("\n(optax table skipped: pip install 'gp_opt[jax]')")
        return
    from gp_opt.optim import optax_transformation

    cpu = jax.devices("cpu")[0]
    shapes = [tuple(p.shape) for p in make_params(args.params, args.tensors, "cpu")]
    key = jax.random.PRNGKey(0)
    params, grads = [], []
    for shape in shapes:
        key, k1, k2 = jax.random.split(key, 3)
        params.append(jax.device_put(jax.random.normal(k1, shape, jax.numpy.float32) * 0.1, cpu))
        grads.append(jax.device_put(jax.random.normal(k2, shape, jax.numpy.float32) * 0.01, cpu))
    labels = ["optax.adam"]
    txs = [optax.adam(1e-3)]
    for genome, label in genomes:
        labels.append(label)
        txs.append(optax_transformation(genome, 1e-9, total_steps=10_000, warmup_steps=100))
    updates, states = [], []
    for tx in txs:
        # the state is donated: its buffers are reused in place, as torch's optimizers do
        updates.append(jax.jit(tx.update, donate_argnums=1))
        states.append(tx.init(params))
    for i, update in enumerate(updates):   # compile and warm up
        for _ in range(2):
            out, states[i] = update(grads, states[i], params)
            jax.block_until_ready(out)
    times: list[list[float]] = [[] for _ in txs]
    for _ in range(args.steps):
        for i, update in enumerate(updates):
            t0 = time.perf_counter()
            out, states[i] = update(grads, states[i], params)
            jax.block_until_ready((out, states[i]))
            times[i].append(time.perf_counter() - t0)
            del out
    med = [statistics.median(ts) for ts in times]
    print(f"\noptax on cpu (jax {jax.__version__}, optax {optax.__version__}): jitted update, "
          f"{args.params:,} float32 parameters in {len(shapes)} leaves")
    print("| transformation | median update (ms) | x optax.adam |\n|---|---:|---:|")
    for lab, t in zip(labels, med):
        print(f"| {lab} | {t * 1e3:.2f} | {t / med[0]:.2f} |")


if __name__ == "__main__":
    main()
