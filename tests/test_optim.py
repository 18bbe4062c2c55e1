"""EvolvedOptimizer against an independent plain-numpy implementation of SPEC sections 1, 3 and 4.

The reference below is written from the SPEC's tables directly (numpy + scipy.special): it does
not read the grammar, the printer or any gp_opt code.
"""
from __future__ import annotations

import copy
import io
import math

import numpy as np
import pytest
import torch

from gp_opt.genome import DecayGenome, OptimizerGenome
from gp_opt.optim import EvolvedOptimizer, base_lr_factor, functional_step, momentum_table

from support.optimizers import (D, EPS, HAND, clip, hand_genome, problem, ref_lr_factor, ref_mu,  # noqa: F401
                                reference_run)

def run_torch(genome, steps, lr, T, W=0, H=0, dtype=torch.float64, seed=0, **kw):
    w0, _, loss = problem(seed)
    params = [torch.nn.Parameter(torch.tensor(w, dtype=dtype)) for w in w0]
    opt = EvolvedOptimizer(params, genome, lr=lr, total_steps=T, warmup_steps=W, hold_steps=H, **kw)
    for _ in range(steps):
        opt.zero_grad()
        loss(params).backward()
        opt.step()
    return [p.detach().to(torch.float64).numpy() for p in params], opt


def assert_matches(genome, U, *, steps=32, lr=0.05, T=40, W=5, H=3, rtol=1e-5):
    w0, grad, _ = problem()
    ref = reference_run(U, genome.momentum, genome.sign, w0, grad, steps, lr, T, W, H)
    got, _ = run_torch(genome, steps, lr, T, W, H)
    for r, g in zip(ref, got):
        np.testing.assert_allclose(g, r, rtol=rtol, atol=1e-9)


# ---------------------------------------------------------------- hand-built genomes vs reference

def _stateful_u():
    def U(g, w, s, t, T):
        e = s.extra
        e["ema"] = 0.95 * e.get("ema", 0) + 0.05 * g
        h0 = e["ema"] / (1 - 0.95 ** (t + 1))
        h1 = s.v_hat - e.get("prev", 0)
        e["prev"] = s.v_hat
        e["max"] = np.maximum(e.get("max", 0), g)
        return h0 + h1 * e["max"]
    return U


def _constants_u():
    def U(g, w, s, t, T):
        e = s.extra
        e["ema"] = 0.95 * e.get("ema", 0) + 0.05 * 2.0
        h3 = e["ema"] / (1 - 0.95 ** (t + 1)) + math.e * g
        return 0.95 * h3 + 0.05 * np.sign(s.v_hat)
    return U


@pytest.mark.parametrize("name", sorted(HAND))
def test_hand_built_genome_matches_numpy_reference(name):
    genome, U = hand_genome(name), HAND[name][1]
    if name == "stateful_momentum":
        # the stateful reference keeps per-tensor state: one closure per tensor
        states = {}

        def U(g, w, s, t, T):
            return states.setdefault(id(s), _stateful_u())(g, w, s, t, T)
    elif name == "constants":
        states = {}

        def U(g, w, s, t, T):
            return states.setdefault(id(s), _constants_u())(g, w, s, t, T)
    elif name == "a5_norm":
        def U(g, w, s, t, T):
            c = clip(s.v_hat, np.sqrt(np.abs(s.s_hat)))
            return c / max(1.0, float(np.sqrt((c ** 2).sum())))
    assert_matches(genome, U)


def test_schedules_match_the_spec():
    for T, W, H in [(40, 5, 3), (10, 0, 0), (7, 7, 0), (9, 0, 9), (12, 1, 1)]:
        np.testing.assert_allclose(momentum_table(T, W, H), ref_mu(T, W, H), rtol=0, atol=1e-15)
        for t in range(T):
            assert base_lr_factor(t, T, W, H) == pytest.approx(ref_lr_factor(t, T, W, H), abs=1e-15)
    assert base_lr_factor(100, 40, 5, 3) == base_lr_factor(39, 40, 5, 3)  # clamped past the end


def test_steps_past_the_end_reuse_the_last_step():
    genome = OptimizerGenome.from_nodes({"h0": ("identity", [("g", D({"out": ("identity", ["a1"])}))]),
                                         "out": ("identity", ["h0"])})
    w = torch.nn.Parameter(torch.ones(3, dtype=torch.float64))
    opt = EvolvedOptimizer([w], genome, lr=1.0, total_steps=4)
    for _ in range(6):
        w.grad = torch.ones(3, dtype=torch.float64)
        before = w.detach().clone()
        opt.step()
    # the last step used t = T-1: lr factor base(3) and decay a1(3) = 1/4
    expected = base_lr_factor(3, 4) * 0.25
    torch.testing.assert_close(before - w.detach(), torch.full((3,), expected, dtype=torch.float64))
    assert opt.param_groups[0]["step"] == 6


# ---------------------------------------------------------------- the torch contract

STATEFUL = OptimizerGenome.from_nodes(
    {"h0": ("ema", ["g"]), "h1": ("delta", [("v_hat", D({"out": ("identity", ["a4"])}))]),
     "h2": ("running_max", ["g"]), "h3": ("mul", ["h1", "h2"]), "out": ("add", ["h0", "h3"])},
    momentum="nesterov")
DROPOUT = OptimizerGenome.from_nodes(
    {"h0": ("drop_0.3", ["qh_g"]), "h1": ("ema", ["h0"]), "out": ("add", ["h1", "wd3"])},
    momentum="momentum")


def _train(params, opt, loss, steps):
    for _ in range(steps):
        opt.zero_grad()
        loss(params).backward()
        opt.step()


@pytest.mark.parametrize("genome", [STATEFUL, DROPOUT], ids=["stateful", "dropout"])
def test_state_dict_round_trip_is_bit_identical(genome):
    w0, _, loss = problem(1)
    k, n, T = 7, 15, 30

    def fresh():
        ps = [torch.nn.Parameter(torch.tensor(w, dtype=torch.float32)) for w in w0]
        return ps, EvolvedOptimizer(ps, genome, lr=0.05, total_steps=T, warmup_steps=3)

    torch.manual_seed(0)
    ps_a, opt_a = fresh()
    _train(ps_a, opt_a, loss, n)

    torch.manual_seed(0)
    ps_b, opt_b = fresh()
    _train(ps_b, opt_b, loss, k)
    buf = io.BytesIO()
    torch.save({"opt": opt_b.state_dict(), "params": [p.detach() for p in ps_b],
                "rng": torch.get_rng_state()}, buf)
    del opt_b, ps_b
    buf.seek(0)
    saved = torch.load(buf)
    ps_c, opt_c = fresh()
    with torch.no_grad():
        for p, q in zip(ps_c, saved["params"]):
            p.copy_(q)
    opt_c.load_state_dict(saved["opt"])
    torch.set_rng_state(saved["rng"])
    _train(ps_c, opt_c, loss, n - k)
    for a, c in zip(ps_a, ps_c):
        assert torch.isfinite(a).all() and torch.equal(a, c)
    assert opt_c.param_groups[0]["step"] == n


def test_state_dict_is_per_parameter_torch_format():
    w0, _, loss = problem()
    ps = [torch.nn.Parameter(torch.tensor(w)) for w in w0]
    opt = EvolvedOptimizer(ps, STATEFUL, lr=0.01, total_steps=10)
    _train(ps, opt, loss, 2)
    sd = opt.state_dict()
    assert sorted(sd["state"]) == [0, 1, 2]
    assert set(sd["state"][0]) == {"v", "h0", "h1", "h2", "m", "step"}
    assert sd["state"][1]["v"].shape == ps[1].shape
    g = sd["param_groups"][0]
    assert g["lr"] == 0.01 and g["total_steps"] == 10 and g["step"] == 2
    copy.deepcopy(sd)


def test_step_with_closure_returns_the_loss():
    w0, _, loss = problem()
    ps = [torch.nn.Parameter(torch.tensor(w)) for w in w0]
    opt = EvolvedOptimizer(ps, STATEFUL, lr=0.01, total_steps=10)

    def closure():
        opt.zero_grad()
        value = loss(ps)
        value.backward()
        return value

    first = opt.step(closure)
    assert isinstance(first, torch.Tensor) and first.item() == pytest.approx(loss(ps).item(), rel=0.5)
    assert opt.step() is None or True


def test_parameters_without_grad_are_skipped_and_start_their_own_count():
    genome = OptimizerGenome.from_nodes({"h0": ("sqrt_abs", ["s_hat"]), "out": ("div", ["v_hat", "h0"])})
    a = torch.nn.Parameter(torch.ones(4))
    b = torch.nn.Parameter(torch.ones(3))
    frozen = torch.nn.Parameter(torch.ones(2))
    opt = EvolvedOptimizer([a, b, frozen], genome, lr=0.1, total_steps=20)
    for t in range(3):
        opt.zero_grad()
        (a.sum() + (b.sum() if t >= 1 else 0)).backward()
        opt.step()
    assert torch.equal(frozen, torch.ones(2)) and frozen not in opt.state
    assert opt.state[a]["step"] == 3 and opt.state[b]["step"] == 2
    # b's bias correction counts its own updates: Adam's first step is lr * sign(g) (warm-up 0)
    assert float(b[0].detach()) < 1.0
    ref = 1.0 - 0.1 * base_lr_factor(1, 20) * 1 / (1 + EPS) - 0.1 * base_lr_factor(2, 20) / (1 + EPS)
    assert float(b[0].detach()) == pytest.approx(ref, rel=1e-6)


def test_groups_with_their_own_lr_match_separate_optimizers():
    w0, _, loss = problem()
    ps = [torch.nn.Parameter(torch.tensor(w)) for w in w0]
    opt = EvolvedOptimizer([{"params": ps[:2]}, {"params": ps[2:], "lr": 0.3, "warmup_steps": 0}],
                           STATEFUL, lr=0.05, total_steps=20, warmup_steps=4)
    _train(ps, opt, loss, 8)
    qs = [torch.nn.Parameter(torch.tensor(w)) for w in w0]
    o1 = EvolvedOptimizer(qs[:2], STATEFUL, lr=0.05, total_steps=20, warmup_steps=4)
    o2 = EvolvedOptimizer(qs[2:], STATEFUL, lr=0.3, total_steps=20)
    for _ in range(8):
        o1.zero_grad(), o2.zero_grad()
        loss(qs).backward()
        o1.step(), o2.step()
    for p, q in zip(ps, qs):
        torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-12)


def test_grad_scaler_cpu():
    w0, _, loss = problem()
    genome = hand_genome("opt61")
    ps = [torch.nn.Parameter(torch.tensor(w, dtype=torch.float32)) for w in w0]
    qs = [torch.nn.Parameter(torch.tensor(w, dtype=torch.float32)) for w in w0]
    opt = EvolvedOptimizer(ps, genome, lr=0.05, total_steps=20)
    ref = EvolvedOptimizer(qs, genome, lr=0.05, total_steps=20)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 10)
    for step in range(6):
        opt.zero_grad()
        scaler.scale(loss(ps)).backward()
        if step == 3:
            ps[0].grad[0, 0] = float("inf")  # an overflow: this step must be skipped
        scaler.step(opt)
        scaler.update()
        if step != 3:
            ref.zero_grad()
            loss(qs).backward()
            ref.step()
    assert opt.param_groups[0]["step"] == 5
    for p, q in zip(ps, qs):
        assert torch.equal(p, q)
    assert scaler.get_scale() < 2.0 ** 10


def test_bfloat16_parameters_keep_float32_state():
    w0, _, loss = problem()
    genome = hand_genome("adam")
    ps = [torch.nn.Parameter(torch.tensor(w, dtype=torch.bfloat16)) for w in w0]
    opt = EvolvedOptimizer(ps, genome, lr=0.05, total_steps=40)
    _train(ps, opt, lambda p: loss([x.float() for x in p]), 10)
    assert all(p.dtype == torch.bfloat16 for p in ps)
    assert opt.state[ps[0]]["v"].dtype == torch.float32
    got, _ = run_torch(genome, 10, 0.05, 40, dtype=torch.float32)
    for p, r in zip(ps, got):
        np.testing.assert_allclose(p.detach().float().numpy(), r, rtol=0, atol=0.05)


def test_float32_matches_float64():
    genome = hand_genome("opt9_nesterov_decay")
    a, _ = run_torch(genome, 30, 0.05, 40, 5, 3, dtype=torch.float32)
    b, _ = run_torch(genome, 30, 0.05, 40, 5, 3, dtype=torch.float64)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-5)


def test_nan_is_produced_honestly():
    genome = OptimizerGenome.from_nodes({"h0": ("log_abs", ["g"]), "out": ("pow_abs", ["h0", "g3"])})
    w = torch.nn.Parameter(torch.tensor([0.0, 1e-30, -3.0]))
    opt = EvolvedOptimizer([w], genome, lr=1.0, total_steps=5)
    w.grad = torch.tensor([0.0, -1e30, float("nan")])
    opt.step()
    assert not torch.isfinite(w).all()


def test_base_schedule_off_uses_group_lr_as_is():
    genome = hand_genome("opt61")
    w = torch.nn.Parameter(torch.zeros(2))
    opt = EvolvedOptimizer([w], genome, lr=0.5, total_steps=10, warmup_steps=5, base_schedule=False,
                           momentum_schedule=False)
    w.grad = torch.ones(2)
    opt.step()
    torch.testing.assert_close(w.detach(), torch.full((2,), -0.5))


# ---------------------------------------------------------------- functional (ensemble) API


def test_functional_step_on_a_stacked_ensemble_matches_separate_optimizers():
    genome = OptimizerGenome.from_nodes(
        {"h0": ("ema", ["g"]), "h1": ("norm", ["h0"]),
         "out": ("add", ["h1", ("v_hat", D({"out": ("identity", ["a3"])}))])}, momentum="nesterov")
    K, T = 3, 12
    lrs = torch.tensor([0.01, 0.1, 0.5], dtype=torch.float64)
    rng = np.random.default_rng(0)
    w = torch.tensor(rng.normal(size=(K, 4, 3)))
    sep = [torch.nn.Parameter(w[k].clone()) for k in range(K)]
    opts = [EvolvedOptimizer([sep[k]], genome, lr=float(lrs[k]), total_steps=T) for k in range(K)]
    fs = functional_step(genome)
    state = fs.init_state(w)
    mus = momentum_table(T)
    for t in range(6):
        g = 2 * w
        lr_t = lrs * base_lr_factor(t, T)
        w = w + fs(g, w, state, t=t, lr=lr_t, mu=mus[t], total_steps=T)
        for k in range(K):
            sep[k].grad = 2 * sep[k].detach()
            opts[k].step()
    for k in range(K):
        torch.testing.assert_close(w[k], sep[k].detach(), rtol=1e-12, atol=1e-12)


def test_per_step_python_work_does_not_grow_with_parameter_count():
    genome = hand_genome("stateful_momentum")
    calls = {"n": 0}
    ps = [torch.nn.Parameter(torch.ones(3)) for _ in range(40)]
    opt = EvolvedOptimizer(ps, genome, lr=0.1, total_steps=10)
    inner = opt._fn

    def counted(*a, **k):
        calls["n"] += 1
        return inner(*a, **k)

    opt._fn = counted
    for p in ps:
        p.grad = torch.ones(3)
    opt.step()
    opt.step()
    assert calls["n"] == 2  # the genome's function runs once per step for all 40 tensors


@pytest.mark.parametrize("name", ["stateful_momentum", "opt9_nesterov_decay", "constants", "opt61"])
def test_chunked_step_equals_one_call_over_the_whole_buffer(name):
    genome = hand_genome(name)
    w0, _, loss = problem(2)
    runs = []
    for chunk in (None, 7):
        ps = [torch.nn.Parameter(torch.tensor(w, dtype=torch.float32)) for w in w0]
        opt = EvolvedOptimizer([{"params": ps[:1], "lr": 0.02}, {"params": ps[1:]}], genome, lr=0.05,
                               total_steps=20, warmup_steps=2, chunk_size=chunk)
        _train(ps, opt, loss, 6)
        assert (opt._buckets[0].chunks is None) == (chunk is None)
        runs.append(ps)
    for p, q in zip(*runs):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7)


def test_norm_genomes_never_run_on_slices():
    genome = hand_genome("a5_norm")
    ps = [torch.nn.Parameter(torch.ones(50)), torch.nn.Parameter(torch.ones(30))]
    opt = EvolvedOptimizer(ps, genome, lr=0.1, total_steps=5, chunk_size=4)
    for p in ps:
        p.grad = torch.ones_like(p)
    opt.step()
    (lo, hi, *_), = opt._buckets[0].chunks   # one slice: the whole buffer
    assert (lo, hi) == (0, 80)


@pytest.mark.parametrize("constant", [False, True])
def test_norm_genomes_in_whole_buffer_scratch_equal_fresh_tensors(constant):
    """A norm genome's step in whole-buffer scratch (the CPU default) equals the step on fresh
    tensors (chunk_size=None) bit for bit, over several tensors (one norm each) and steps."""
    norm_input = ("two", DecayGenome.from_nodes({"out": ("dtanh", ["a8"])})) if constant else "qh_g"
    genome = OptimizerGenome.from_nodes({
        "h0": ("norm", [norm_input]), "h1": ("sigmoid", ["g"]), "h2": ("div", ["h0", "h1"]),
        "out": ("clip", ["qh_g", "h2"])}, momentum="nesterov")
    runs = []
    for chunk in ("auto", None):
        gen = torch.Generator().manual_seed(0)
        ps = [torch.nn.Parameter(torch.randn(s, generator=gen)) for s in (300, (20, 7), 1)]
        opt = EvolvedOptimizer(ps, genome, lr=0.05, total_steps=10, warmup_steps=2, chunk_size=chunk)
        for _ in range(4):
            for p in ps:
                p.grad = torch.randn(p.shape, generator=gen)
            opt.step()
        assert (opt._buckets[0].chunks is None) == (chunk is None)
        runs.append(ps)
    for p, q in zip(*runs):
        assert torch.equal(p, q)


@pytest.mark.slow
def test_torch_compile_matches_eager():
    genome = hand_genome("stateful_momentum")
    a, _ = run_torch(genome, 6, 0.05, 20, 2, 0, dtype=torch.float32)
    b, _ = run_torch(genome, 6, 0.05, 20, 2, 0, dtype=torch.float32, compile=True)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)


def test_scratch_step_is_bit_identical_to_the_plain_step():
    """The scratch-buffer rewrite (CPU slices) runs the same kernels: identical numbers."""
    from gp_opt import catalog
    from gp_opt.optim import compile_genome
    from gp_opt.optim.compile import Ctx
    names = [n for n in catalog.names() if "drop" not in repr(catalog.get(n))][:40]
    for name in names:
        c = compile_genome(catalog.get(name))
        if c.step_scratch is None:
            continue
        gen = torch.Generator().manual_seed(0)
        g, w = torch.randn(64, generator=gen), torch.randn(64, generator=gen)
        s1 = {k: torch.rand(64, generator=gen) for k in c.state_keys}
        s2 = {k: v.clone() for k, v in s1.items()}
        d = [0.7] * len(c.decays)
        a = c.step(g, w, s1, Ctx().bind(s1, 3, g), 3, 0.01, 0.9, d, torch.empty(64))
        scratch = [torch.empty(64) for _ in range(c.n_scratch)]
        b = c.step_scratch(g, w, s2, Ctx().bind(s2, 3, g), 3, 0.01, 0.9, d, torch.empty(64), scratch)
        assert torch.equal(a, b), name
        for k in s1:
            assert torch.equal(s1[k], s2[k]), (name, k)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dropout_kernel_keeps_one_minus_p_and_rescales(dtype):
    """The mask is uniform < 1 - p: about 1 - p of the entries kept, each scaled by 1/(1 - p);
    the same generator state draws the same mask."""
    from gp_opt.functions import dropout_kernel
    x = torch.full((200_000,), 3.0, dtype=dtype)
    for p in (0.1, 0.5, 0.9):
        y = dropout_kernel(x, p, generator=torch.Generator().manual_seed(1))
        kept = y != 0
        assert y.dtype == dtype
        assert abs(kept.double().mean().item() - (1 - p)) < 0.005
        torch.testing.assert_close(y[kept], torch.full_like(y[kept], 3.0 / (1 - p)))
        again = dropout_kernel(x, p, generator=torch.Generator().manual_seed(1))
        assert torch.equal(y, again)
