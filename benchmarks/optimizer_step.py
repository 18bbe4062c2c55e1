"""Median optimizer step time of gp_opt genomes vs torch.optim.Adam(foreach=True), and of their
optax transformations vs optax.adam.

    python benchmarks/optimizer_step.py [--params 10000000] [--tensors 50] [--steps 20] [--compile]
        [--no-torch] [--no-optax] [--genome NAME|FILE ...]

Every optimizer steps the same parameters (``--params`` numbers in ``--tensors`` tensors of
varied shapes, float32) with fixed random gradients; only ``optimizer.step()`` is timed. Runs on
CPU, and on CUDA too when a GPU is present. Prints one table per device with the ratio to Adam.
When jax and optax are installed, a further table times each genome's optax transformation
(:func:`gp_opt.optim.optax_transformation`) against ``optax.adam`` on the same shapes on the CPU
(float32), jitted four ways alike for all (``update``; ``update`` with the state donated; a train
step ``update`` + ``optax.apply_updates``, without and with parameters and state donated), in this
process, and a last table the pieces of Opt10's cost on the same leaves (its ``U``, XLA's ``i1e``
twice, alone against Adam's update). ``--genome`` adds catalog entries or genome files (the
optimizers a search found) as further rows of every table.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from gp_opt import catalog
from gp_opt.genome import DecayGenome, OptimizerGenome
from gp_opt.optim import EvolvedOptimizer


def catalog_or(name: str, fallback):
    try:
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
    ap.add_argument("--no-optax", action="store_true", help="skip the optax tables")
    ap.add_argument("--no-torch", action="store_true", help="skip the torch tables")
    ap.add_argument("--genome", action="append", default=[], metavar="NAME|FILE",
                    help="also time this catalog entry or genome file (repeatable)")
    args = ap.parse_args(argv)
    devices = [] if args.no_torch else (
        args.devices.split(",") if args.devices else ["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    genomes = [catalog_or("Opt6", opt6), catalog_or("Opt10", opt10), (random_stateful(), "random 5-node, stateful")]
    genomes += [(catalog.load(spec), Path(spec).stem) for spec in args.genome]
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
        print("| optimizer | median step (ms) | x Adam |\n|---|---:|---:|")
        for lab, t in rows:
            print(f"| {lab} | {t * 1e3:.2f} | {t / t_adam:.2f} |")
        del opts, params
    if not args.no_optax:
        optax_table(genomes, args)


def _median_times(calls, steps: int) -> list[float]:
    """Median wall time of each ``call()`` (which blocks until done), timed in turn round by round."""
    for call in calls:   # compile and warm up
        call()
        call()
    times: list[list[float]] = [[] for _ in calls]
    for _ in range(steps):
        for i, call in enumerate(calls):
            t0 = time.perf_counter()
            call()
            times[i].append(time.perf_counter() - t0)
    return [statistics.median(ts) for ts in times]


def _optax_runner(tx, mode: str, params, grads):
    """A ``call()`` running one jitted step of ``tx`` in ``mode``, carrying its state along.

    ``update``: ``jax.jit(tx.update)``, nothing donated (fresh output arrays each step);
    ``update, state donated``: the state's buffers reused in place (``donate_argnums=1``);
    ``train step``: ``update`` then ``optax.apply_updates`` in one jitted function, as a training
    loop runs it; ``train step, donated``: the same with the parameters and the state donated.
    """
    import jax
    import optax

    if mode.startswith("train step"):
        def step(p, s, g):
            u, s = tx.update(g, s, p)
            return optax.apply_updates(p, u), s
        fn = jax.jit(step, donate_argnums=(0, 1) if mode.endswith("donated") else ())
        carry = {"p": [x.copy() for x in params], "s": tx.init(params)}

        def call():
            carry["p"], carry["s"] = fn(carry["p"], carry["s"], grads)
            jax.block_until_ready((carry["p"], carry["s"]))
        return call
    fn = jax.jit(tx.update, donate_argnums=1 if mode == "update, state donated" else ())
    carry = {"s": tx.init(params)}

    def call():
        out, carry["s"] = fn(grads, carry["s"], params)
        jax.block_until_ready((out, carry["s"]))
    return call


OPTAX_MODES = ("update", "update, state donated", "train step", "train step, donated")


def optax_table(genomes, args) -> None:
    """The jitted optax step of each genome vs optax.adam on the CPU, round-robin medians.

    One column per way of running it (:func:`_optax_runner`), then the pieces of Opt10's cost on
    the same leaves: XLA's ``i1e`` once and twice (Opt10's ``U`` is ``i1e(i1e(c g))``), through
    both of JAX's entry points, against ``optax.adam``'s update, with torch's ``i1e`` for reference.
    """
    try:
        import jax
        import optax
    except ImportError:
        print("\n(optax table skipped: pip install 'gp_opt[jax]')")
        return
    import jax.numpy as jnp
    import jax.scipy.special

    from gp_opt.optim import optax_transformation

    cpu = jax.devices("cpu")[0]
    shapes = [tuple(p.shape) for p in make_params(args.params, args.tensors, "cpu")]
    key = jax.random.PRNGKey(0)
    params, grads = [], []
    for shape in shapes:
        key, k1, k2 = jax.random.split(key, 3)
        params.append(jax.device_put(jax.random.normal(k1, shape, jnp.float32) * 0.1, cpu))
        grads.append(jax.device_put(jax.random.normal(k2, shape, jnp.float32) * 0.01, cpu))
    labels = ["optax.adam"]
    txs = [optax.adam(1e-3)]
    for genome, label in genomes:
        labels.append(label)
        txs.append(optax_transformation(genome, 1e-9, total_steps=10_000, warmup_steps=100))
    # every (transformation, mode) timed in one round-robin, so a load change hits all alike
    calls = [_optax_runner(tx, mode, params, grads) for mode in OPTAX_MODES for tx in txs]
    med = np.array(_median_times(calls, args.steps)).reshape(len(OPTAX_MODES), len(txs))
    print(f"\noptax on cpu (jax {jax.__version__}, optax {optax.__version__}): jitted, "
          f"{args.params:,} float32 parameters in {len(shapes)} leaves; ms and x optax.adam")
    print("| transformation | " + " | ".join(f"{m} (ms) | x adam" for m in OPTAX_MODES) + " |")
    print("|---|" + "---:|---:|" * len(OPTAX_MODES))
    for j, lab in enumerate(labels):
        cells = [f"{med[i, j] * 1e3:.1f} | {med[i, j] / med[i, 0]:.2f}" for i in range(len(OPTAX_MODES))]
        print(f"| {lab} | " + " | ".join(cells) + " |")

    # Opt10's floor: its U alone (XLA's i1e twice per leaf), on the same leaves, fresh outputs
    adam = optax.adam(1e-3)
    adam_update, adam_state = jax.jit(adam.update), adam.init(params)
    i1e_once = jax.jit(lambda gs: [jax.lax.bessel_i1e(x) for x in gs])
    i1e_twice = jax.jit(lambda gs: [jax.lax.bessel_i1e(jax.lax.bessel_i1e(x)) for x in gs])
    scipy_twice = jax.jit(lambda gs: [jax.scipy.special.i1e(jax.scipy.special.i1e(x)) for x in gs])
    pieces = {
        "optax.adam update": lambda: adam_update(grads, adam_state),
        "jax.lax.bessel_i1e(g)": lambda: i1e_once(grads),
        "jax.lax.bessel_i1e twice (Opt10's U)": lambda: i1e_twice(grads),
        "jax.scipy.special.i1e twice": lambda: scipy_twice(grads),
    }
    grads_torch = [torch.from_numpy(np.array(x)) for x in grads]
    piece_calls = [(lambda f=f: jax.block_until_ready(f())) for f in pieces.values()]
    piece_calls.append(lambda: [torch.special.i1e(torch.special.i1e(x)) for x in grads_torch])
    times = _median_times(piece_calls, args.steps)
    print(f"\nthe pieces of Opt10's cost, the same {len(shapes)} leaves (jitted, fresh output arrays)")
    print("| piece | median (ms) | x optax.adam update |\n|---|---:|---:|")
    for lab, t in zip(list(pieces) + [f"torch.special.i1e twice (torch {torch.__version__}, reference)"], times):
        print(f"| {lab} | {t * 1e3:.1f} | {t / times[0]:.2f} |")

if __name__ == "__main__":
    main()
