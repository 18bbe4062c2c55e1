"""The integrity check (SPEC section 5): hand-made genomes, SPEC semantics against independent
numpy loops, NaN safety, and the batched engine against the naive per-run reference."""
import math
import warnings

import networkx as nx
import numpy as np
import pytest

from gp_opt import integrity as I
from gp_opt.errors import GpOptError
from gp_opt.genome import DecayGenome, OptimizerGenome
from gp_opt.mutation import mutate

X0 = np.array([1.1, 0.9, 1.1, 0.9, 1.0])
B = np.array([0.5, 1.5, -0.3, -1.2, 0.75])
LRS = (1.0, 0.1, 0.01, 1e-3, 1e-4, 1e-5)


def G(nodes, momentum="none", sign=1):
    return OptimizerGenome.from_nodes(nodes, momentum=momentum, sign=sign)


SGD = {"h0": ("identity", ["g"]), "out": ("identity", ["h0"])}
NEG_SGD = {"h0": ("neg", ["g"]), "out": ("identity", ["h0"])}
ZERO = {"h0": ("identity", ["g"]), "out": ("sub", ["g", "h0"])}
ADAM = {"h0": ("sqrt_abs", ["s_hat"]), "out": ("div", ["v_hat", "h0"])}
BLOWUP = {"h0": ("exp", ["two"]), "h1": ("exp", ["h0"]), "h2": ("exp", ["h1"]), "out": ("mul", ["g", "h2"])}


# ---------------------------------------------------------------- independent SPEC semantics

def lr_t(lr, t, T=35, W=6, H=0):
    if t < W:
        return lr * t / W
    if t <= W + H:
        return lr
    return 0.5 * lr * (1 + math.cos(math.pi * (t - W - H) / (T - W - H)))


def mu_t(t, T=35, W=6):
    return np.concatenate([np.linspace(0.95, 0.85, W), np.linspace(0.85, 0.95, T - W)])[t]


def numpy_run(update, lr, momentum="none", sign=1):
    """SPEC section 1 written out with numpy: update(g, t, state) -> U."""
    x, m, state = X0.copy(), np.zeros(5), {}
    for t in range(35):
        g = 2 * (x - B)
        step = sign * lr_t(lr, t) * update(g, t, state)
        if momentum == "none":
            x = x - step
        else:
            m = mu_t(t) * m - step
            x = x + m if momentum == "momentum" else x + mu_t(t) * m - step
    return float(((x - B) ** 2).sum())


def adam_update(g, t, st):
    st["v"] = 0.9 * st.get("v", 0) + 0.1 * g           # EMAs updated before they are read
    st["s"] = 0.99 * st.get("s", 0) + 0.01 * g ** 2
    v_hat = st["v"] / (1 - 0.9 ** (t + 1))
    s_hat = st["s"] / (1 - 0.99 ** (t + 1))
    return v_hat / (np.sqrt(np.abs(s_hat)) + 1e-7)


@pytest.mark.parametrize("momentum", ["none", "momentum", "nesterov"])
def test_sgd_losses_match_an_independent_loop(momentum):
    r = I.check(G(SGD, momentum))
    for lr in LRS:
        for sign in (1, -1):
            want = numpy_run(lambda g, t, st: g, lr, momentum, sign)
            got = r.losses[(sign, lr)]
            assert got == pytest.approx(want, rel=1e-9) or (not math.isfinite(want) and not math.isfinite(got))


def test_adam_losses_match_an_independent_loop():
    r = I.check(G(ADAM))
    for lr in LRS:
        assert r.losses[(1, lr)] == pytest.approx(numpy_run(adam_update, lr), rel=1e-9)


def test_decay_on_an_edge_is_read_at_T_35():
    d = DecayGenome.from_nodes({"h0": ("identity", ["a1"]), "out": ("identity", ["h0"])})  # 1 - t/T
    r = I.check(G({"h0": ("identity", [("g", d)]), "out": ("identity", ["h0"])}))
    for lr in LRS:
        assert r.losses[(1, lr)] == pytest.approx(numpy_run(lambda g, t, st: g * (1 - t / 35), lr), rel=1e-9)


def test_stateful_ops_follow_spec():
    def delta(g, t, st):
        out = g - st.get("p", 0.0)
        st["p"] = g
        return out

    def runmax(g, t, st):
        st["m"] = np.maximum(st.get("m", np.zeros(5)), g)
        return st["m"]

    def ema(g, t, st):
        st["s"] = 0.95 * st.get("s", 0) + 0.05 * g
        return st["s"] / (1 - 0.95 ** (t + 1))

    for op, fn in (("delta", delta), ("running_max", runmax), ("ema", ema)):
        r = I.check(G({"h0": (op, ["g"]), "out": ("identity", ["h0"])}))
        for lr in (1.0, 0.1, 0.01):
            assert r.losses[(1, lr)] == pytest.approx(numpy_run(fn, lr), rel=1e-9), op


def test_norm_is_over_the_five_variables_of_each_run():
    def norm(g, t, st):
        return g / max(1.0, float(np.linalg.norm(g)))

    r = I.check(G({"h0": ("norm", ["g"]), "out": ("identity", ["h0"])}))
    for lr in LRS:
        assert r.losses[(1, lr)] == pytest.approx(numpy_run(norm, lr), rel=1e-9)


def test_schedules():
    assert I.lr_schedule(1.0, 0, 35, 6, 0) == 0.0
    assert I.lr_schedule(1.0, 3, 35, 6, 0) == 0.5
    assert I.lr_schedule(1.0, 6, 35, 6, 0) == 1.0
    assert I.lr_schedule(1.0, 34, 35, 6, 0) == pytest.approx(0.5 * (1 + math.cos(math.pi * 28 / 29)))
    assert I.lr_schedule(1.0, 0, 35, 6, 0, offset=1e-7) == 1e-7
    mu = I.momentum_schedule(35, 6, 0)
    assert len(mu) == 35 and mu[0] == 0.95 and mu[5] == pytest.approx(0.85) and mu[6] == pytest.approx(0.85)
    assert mu[-1] == pytest.approx(0.95)


# ---------------------------------------------------------------- the hand-made genomes of the issue

def test_sgd_passes_unflipped():
    r = I.check(G(SGD))
    assert r.passed and not r.flipped and r.sign == 1 and r.reason is None
    assert set(r.losses) == {(s, lr) for s in (1, -1) for lr in LRS}
    assert min(r.losses[(1, lr)] for lr in LRS) < 3.5


def test_negated_sgd_passes_flipped_and_apply_sets_the_sign():
    g = G(NEG_SGD)
    r = I.check(g)
    assert r.passed and r.flipped and r.sign == -1
    fixed = I.apply(g, r)
    assert fixed.sign == -1 and g.sign == 1
    again = I.check(fixed)
    assert again.passed and not again.flipped and again.sign == -1


def test_zero_update_fails():
    r = I.check(G(ZERO))
    assert not r.passed and not r.flipped
    assert all(v == pytest.approx(7.1525) for v in r.losses.values())
    assert "3.5" in r.reason


def test_adam_passes():
    r = I.check(G(ADAM))
    assert r.passed and not r.flipped


def test_nan_and_inf_fail_without_exception_or_warning():
    bad = G(BLOWUP)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = I.check(bad)
        rs = I.check_many([bad, G(SGD), bad])
        n = I.naive_check(bad)
    assert not r.passed and not n.passed
    assert not any(math.isfinite(v) for v in r.losses.values())
    assert [x.passed for x in rs] == [False, True, False]


def test_invalid_genomes_fail_with_a_reason():
    d2 = DecayGenome.from_nodes({"h0": ("identity", ["a1"]), "out": ("identity", ["h0"])})
    g = G({"h0": ("identity", [("g", d2)]), "out": ("identity", ["h0"])})
    dec = g.decay("g", "h0")
    dec.set_op("out", "sub")
    dec.set_inputs("out", ["a2", "a1"])  # t/T - (1 - t/T) is -1 at t = 0
    assert not dec.in_range()
    r = I.check(g)
    assert not r.passed and "decay" in r.reason
    cyc = G({"h0": ("identity", ["g"]), "h1": ("identity", ["h0"]), "out": ("add", ["h0", "h1"])})
    cyc.set_inputs("h0", ["h1"])
    assert not nx.is_directed_acyclic_graph(cyc.graph)
    r = I.check(cyc)
    assert not r.passed and "cycle" in r.reason
    r = I.check(cyc, I.IntegrityConfig(validate=True))
    assert not r.passed and r.reason.startswith("invalid genome")


def test_config_fields_and_errors():
    cfg = I.IntegrityConfig()
    assert cfg.x0 == (1.1, 0.9, 1.1, 0.9, 1.0) and cfg.shift == (0.5, 1.5, -0.3, -1.2, 0.75)
    assert (cfg.steps, cfg.warmup, cfg.hold, cfg.threshold, cfg.decay_steps) == (35, 6, 0, 3.5, 35)
    assert cfg.learning_rates == LRS
    assert float(((X0 - B) ** 2).sum()) == pytest.approx(7.1525)
    with pytest.raises(GpOptError):
        I.IntegrityConfig(x0=(1.0,), shift=(1.0, 2.0))
    with pytest.raises(GpOptError):
        I.IntegrityConfig(warmup=40)
    # a stricter threshold rejects SGD; a custom learning-rate list is honoured
    assert not I.check(G(SGD), I.IntegrityConfig(threshold=-1.0)).passed
    r = I.check(G(SGD), I.IntegrityConfig(learning_rates=(0.1,)))
    assert set(r.losses) == {(1, 0.1), (-1, 0.1)} and r.passed


# ---------------------------------------------------------------- batched == naive

def _genomes(n, seed):
    """Random genomes plus mutants (so stateful, dropout, norm and decay ops all occur)."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        g = OptimizerGenome.random(rng)
        out.append(g)
        for _ in range(int(rng.integers(3))):
            g, _ = mutate(g, rng)
            out.append(g)
    forced = []
    for op in ("ema", "delta", "running_max", "drop_0.5", "drop_0.3", "drop_0.1", "norm"):
        for mom in ("none", "momentum", "nesterov"):
            forced.append(G({"h0": (op, ["qh_g"]), "h1": ("tanh", ["g"]), "out": ("add", ["h0", "h1"])}, mom))
    return out[:n] + forced


def _agree(a: I.IntegrityResult, b: I.IntegrityResult):
    assert (a.passed, a.flipped, a.sign) == (b.passed, b.flipped, b.sign)
    assert a.losses.keys() == b.losses.keys()
    for k in a.losses:
        x, y = a.losses[k], b.losses[k]
        if math.isfinite(x) or math.isfinite(y):
            assert x == pytest.approx(y, rel=1e-9, abs=1e-12), k
        else:
            assert math.isnan(x) == math.isnan(y)


# The engines' agreement does not depend on the run length: 200+ genomes on a short run keep
# the test fast; 30 more on the SPEC configuration.
SHORT = I.IntegrityConfig(steps=10, warmup=3, decay_steps=10, threshold=6.0)


@pytest.mark.parametrize("n, seed, cfg", [(200, 11, SHORT), (20, 12, None)])
def test_batched_equals_naive_on_many_random_genomes(n, seed, cfg):
    genomes = _genomes(n, seed=seed)
    assert len(genomes) >= n
    kinds = {g.grammar.ops[g.op(node)].kind for g in genomes for node in g.active_inner_nodes()}
    assert kinds == {"scalar", "stateful", "stochastic", "tensorwise"}
    assert any(g.decayed_edges(active_only=True) for g in genomes)
    batched = I.check_many(genomes, cfg)
    passed = flipped = 0
    for g, r in zip(genomes, batched):
        _agree(r, I.naive_check(g, cfg))
        passed += r.passed
        flipped += r.flipped
    assert 0 < passed < len(genomes) and flipped > 0


def test_result_does_not_depend_on_the_batch():
    genomes = _genomes(40, seed=5)
    together = I.check_many(genomes, I.IntegrityConfig(batch_size=7))
    for g, r in zip(genomes[::5], together[::5]):
        _agree(r, I.check(g))


def test_early_exit_naive_agrees_on_the_verdict():
    for g in _genomes(15, seed=3):
        a, b = I.naive_check(g, early_exit=True), I.check(g)
        assert (a.passed, a.flipped) == (b.passed, b.flipped)


def test_float32_runs():
    r = I.check(G(ADAM), I.IntegrityConfig(dtype="float32"))
    assert r.passed


def test_operand_programs_are_reused_for_subsets_with_the_same_values():
    import torch

    from gp_opt import grammar as grammar_mod
    from gp_opt.operands import OperandProgram

    gr = grammar_mod.load()
    names = [n for n in gr.operands][:5]
    I.clear_caches()
    big = I.operand_program(gr, names)
    small = I.operand_program(gr, names[:3])
    assert small is big                                 # a superset is reused, not recompiled
    assert I.operand_program(gr, names[:3]) is big
    fresh = OperandProgram(gr, names[:3])
    g, w = torch.linspace(-2, 3, 7, dtype=torch.float64), torch.linspace(1, 5, 7, dtype=torch.float64)
    sa, sb = big.init_state(g), fresh.init_state(g)
    for t in range(4):
        va, vb = big(g * (t + 1), w, sa, t), fresh(g * (t + 1), w, sb, t)
        for n in names[:3]:
            assert torch.equal(torch.as_tensor(va[n]), torch.as_tensor(vb[n]))
    I.clear_caches()
