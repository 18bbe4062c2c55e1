"""The optax transformation of a genome (gp_opt.optim.to_optax) against EvolvedOptimizer.

50 steps of the jitted optax update equal 50 steps of the torch optimizer to 1e-5 relative, in
float64, for every catalog entry and 200 random genomes; the standalone module written by
``export_optax`` imports and steps in a process where torch, sympy and gp_opt cannot be imported.
Skipped when jax/optax are not installed (the ``gp_opt[jax]`` extra).

Compiling is what costs here (XLA, about a second per genome on a busy CPU), so each test jits
one function stepping a whole batch of genomes, on small parameter tensors.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
jnp = jax.numpy
jax.config.update("jax_enable_x64", True)

from gp_opt import catalog  # noqa: E402
from gp_opt.genome import OptimizerGenome  # noqa: E402
from gp_opt.optim import EvolvedOptimizer  # noqa: E402
from gp_opt.optim.to_optax import MissingJaxError, export_optax, optax_source, optax_transformation  # noqa: E402

from support.optimizers import case  # noqa: E402

STEPS, T, W, H, LR = 50, 40, 5, 3, 0.05   # 50 steps of a 40-step run: the clamped tail too


def uses_dropout(genome):
    return any(genome.grammar.op(genome.op(n)).kind == "stochastic" for n in genome.active_inner_nodes())


def data(shapes, seed=0):
    rng = np.random.default_rng(seed)
    w0 = [rng.normal(size=s) for s in shapes]
    grads = [[rng.normal(size=s) for s in shapes] for _ in range(STEPS)]
    return w0, grads


def run_torch(genome, w0, grads, **kw):
    params = [torch.nn.Parameter(torch.tensor(w)) for w in w0]
    opt = EvolvedOptimizer(params, genome, lr=kw.pop("lr", LR), total_steps=T, warmup_steps=W,
                           hold_steps=H, **kw)
    for gs in grads:
        for p, g in zip(params, gs):
            p.grad = torch.tensor(g)
        opt.step()
    return [p.detach().numpy() for p in params]


def run_jax(txs, w0, grads):
    """Step every transformation of ``txs`` on the same data, all in one jitted function."""
    def step(ps, states, gs):
        new_ps, new_states = [], []
        for tx, p, st in zip(txs, ps, states):
            updates, st = tx.update(gs, st, p)
            new_ps.append(optax.apply_updates(p, updates))
            new_states.append(st)
        return new_ps, new_states

    jstep = jax.jit(step)
    params = [jnp.asarray(w) for w in w0]
    ps, states = [params] * len(txs), [tx.init(params) for tx in txs]
    for gs in grads:
        ps, states = jstep(ps, states, [jnp.asarray(g) for g in gs])
    return [[np.asarray(x) for x in p] for p in ps]


def assert_same(got, ref, what):
    for i, (a, b) in enumerate(zip(got, ref)):
        assert a.dtype == np.float64
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-12, equal_nan=True, err_msg=f"{what}, leaf {i}")


def transformation(genome, **kw):
    return optax_transformation(genome, kw.pop("learning_rate", LR), T, W, H, **kw)


# ---------------------------------------------------------------- every catalog entry

SHAPES = [(3, 4), (2, 1, 3)]
CATALOG = [n for n in catalog.names() if not uses_dropout(catalog.get(n))]


@pytest.fixture(scope="module")
def catalog_runs():
    w0, grads = data(SHAPES)
    genomes = [catalog.get(n) for n in CATALOG]
    got = run_jax([transformation(g) for g in genomes], w0, grads)
    return {n: (g, w0, grads) for n, g in zip(CATALOG, got)}


@pytest.mark.parametrize("name", CATALOG)
def test_catalog_entry_equals_evolved_optimizer(name, catalog_runs):
    got, w0, grads = catalog_runs[name]
    ref = run_torch(catalog.get(name), w0, grads)
    assert_same(got, ref, name)
    assert not np.allclose(ref[0], w0[0])  # the run really moved


def test_every_catalog_entry_is_covered():
    assert len(CATALOG) == len(catalog.names())  # none uses dropout today; if one does, see below


# ---------------------------------------------------------------- 200 random genomes


def random_genomes(n, seed=2026):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        g = OptimizerGenome.random(rng)
        if not uses_dropout(g):
            out.append(g)
    return out


RANDOM = random_genomes(200)


@pytest.mark.parametrize("batch", range(4))
def test_random_genomes_equal_evolved_optimizer(batch):
    genomes = RANDOM[batch * 50:(batch + 1) * 50]
    w0, grads = data([(4, 3)], seed=batch)
    got = run_jax([transformation(g) for g in genomes], w0, grads)
    for k, (g, a) in enumerate(zip(genomes, got)):
        assert_same(a, run_torch(g, w0, grads), f"random genome {batch * 50 + k}: {g!r}")


def test_random_genomes_cover_the_engine():
    kinds = [{g.grammar.op(g.op(n)).kind for n in g.active_inner_nodes()} for g in RANDOM]
    assert sum("stateful" in k for k in kinds) >= 20
    assert sum("tensorwise" in k for k in kinds) >= 3
    assert {g.momentum for g in RANDOM} == {"none", "momentum", "nesterov"}
    assert sum(bool(g.decayed_edges(True)) for g in RANDOM) >= 20
    assert sum(any(o.startswith("wd") for o in g.active_operands()) for g in RANDOM) >= 10


def test_delta_outputs_and_nesterov_series_are_computed_once():
    """A delta node's output reads the buffer its new state replaces; a nesterov U with i1e is
    read by two outputs: both pass through computed_once (the equality tests above run them)."""
    def deltas(g):
        return [n for n in g.active_inner_nodes() if g.op(n) == "delta"]

    with_delta = [g for g in RANDOM if deltas(g)]
    assert len(with_delta) >= 5
    for g in with_delta:
        src = optax_source(g, latex=False)
        for n in deltas(g):
            assert f"n_{n} = computed_once(n_{n}, t)" in src, g
        assert src.count("= computed_once(") <= len(g.active_inner_nodes()), g
    for g in RANDOM:
        if not deltas(g) and g.momentum != "nesterov":
            assert "computed_once" not in optax_source(g, latex=False), g
    opt10 = optax_source(catalog.get("Opt10"), latex=False)
    assert opt10.count("= computed_once(") == 1 and "n_out = computed_once(n_out, t)" in opt10


# ---------------------------------------------------------------- options


OPTIONS = {
    "weight_decay": dict(weight_decay=0.3),
    "maximize": dict(maximize=True),
    "momentum_constant": dict(momentum_schedule=0.8),
    "momentum_off": dict(momentum_schedule=False),
    "base_schedule_off": dict(base_schedule=False),
}
OPTION_GENOMES = ["Opt6", "Opt10", "Momentum"]
SCHEDULE = dict(init_value=0.05, decay_steps=30)   # optax.cosine_decay_schedule


@pytest.fixture(scope="module")
def option_runs():
    """Every option on three genomes, and an optax schedule as the lr: one jitted batch."""
    w0, grads = data(SHAPES, seed=5)
    cases = [(o, n) for o in sorted(OPTIONS) for n in OPTION_GENOMES]
    txs = [transformation(case(n), **OPTIONS[o]) for o, n in cases]
    txs.append(transformation(catalog.get("Opt6"), learning_rate=optax.cosine_decay_schedule(**SCHEDULE),
                              base_schedule=False))
    got = run_jax(txs, w0, grads)
    return dict(zip(cases + [("schedule", "Opt6")], got)), w0, grads


@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_options_equal_evolved_optimizer(option, option_runs):
    runs, w0, grads = option_runs
    for name in OPTION_GENOMES:
        ref = run_torch(case(name), w0, grads, **OPTIONS[option])
        assert_same(runs[option, name], ref, f"{name} {option}")


def test_schedule_callable_with_base_schedule_off(option_runs):
    """An optax schedule as the learning rate (base_schedule=False), like torch's group lr."""
    runs, w0, grads = option_runs
    sched = optax.cosine_decay_schedule(**SCHEDULE)
    params = [torch.nn.Parameter(torch.tensor(w)) for w in w0]
    opt = EvolvedOptimizer(params, catalog.get("Opt6"), lr=0.05, total_steps=T, warmup_steps=W,
                           hold_steps=H, base_schedule=False)
    for k, gs in enumerate(grads):
        opt.param_groups[0]["lr"] = float(sched(k))
        for p, g in zip(params, gs):
            p.grad = torch.tensor(g)
        opt.step()
    assert_same(runs["schedule", "Opt6"], [p.detach().numpy() for p in params], "scheduled lr")


def test_pytrees_dtypes_and_complex_leaves():
    """A nested dict of float32, bfloat16 and complex leaves: dtypes kept; complex as (re, im)."""
    genome = catalog.get("Opt6")
    rng = np.random.default_rng(7)
    z0 = rng.normal(size=(3, 2)) + 1j * rng.normal(size=(3, 2))
    gz = [rng.normal(size=(3, 2)) + 1j * rng.normal(size=(3, 2)) for _ in range(5)]
    params = {"a": {"w": jnp.ones((2, 3), jnp.float32)}, "b": jnp.ones(4, jnp.bfloat16),
              "z": jnp.asarray(z0, jnp.complex128)}
    tx = transformation(genome)
    state = tx.init(params)
    update = jax.jit(tx.update)
    p = params
    for g in gz:
        grads = {"a": {"w": jnp.full((2, 3), 0.5, jnp.float32)}, "b": jnp.full(4, -0.25, jnp.bfloat16),
                 "z": jnp.asarray(g)}
        updates, state = update(grads, state, p)
        p = optax.apply_updates(p, updates)
    assert p["a"]["w"].dtype == jnp.float32 and p["b"].dtype == jnp.bfloat16
    assert state.buffers["v"]["b"].dtype == jnp.float32  # low precision keeps float32 state
    # the complex leaf steps like torch's complex parameter (view_as_real)
    z = torch.nn.Parameter(torch.tensor(z0))
    opt = EvolvedOptimizer([z], genome, lr=LR, total_steps=T, warmup_steps=W, hold_steps=H)
    for g in gz:
        z.grad = torch.tensor(g)
        opt.step()
    np.testing.assert_allclose(np.asarray(p["z"]), z.detach().numpy(), rtol=1e-5, atol=1e-12)


def test_update_without_params_when_the_genome_reads_weights():
    tx = transformation(catalog.get("Opt6"))  # reads w (1e-4 w)
    params = {"w": jnp.ones(3)}
    with pytest.raises(ValueError, match="pass params"):
        tx.update(params, tx.init(params))
    tx = transformation(catalog.get("Adam"))
    updates, _ = tx.update(params, tx.init(params))  # Adam does not need them
    assert updates["w"].shape == (3,)
    with pytest.raises(ValueError, match="pass params"):
        t2 = transformation(catalog.get("Adam"), weight_decay=0.1)
        t2.update(params, t2.init(params))


def test_bad_learning_rate_is_refused():
    with pytest.raises(ValueError, match="one-element"):
        transformation(catalog.get("Adam"), learning_rate=np.array([0.1, 0.2]))
    transformation(catalog.get("Adam"), learning_rate=jnp.full((1, 1), 0.1))


# ---------------------------------------------------------------- dropout


def test_dropout_draws_from_the_state_key():
    genome = OptimizerGenome.from_nodes({"h0": ("drop_0.5", ["g"]), "out": ("identity", ["h0"])})
    g = jnp.full(20000, 1.0)
    tx = optax_transformation(genome, 1.0, 10, seed=3)
    update = jax.jit(tx.update)
    state = tx.init(g)
    u1, state = update(g, state)
    u2, _ = update(g, state)
    lr0 = 1.0  # base schedule at t = 0 without warm-up
    assert set(np.unique(np.asarray(u1)).tolist()) == {-2.0 * lr0, 0.0}   # kept entries scaled by 1/(1-p)
    assert abs(float(jnp.mean(u1 == 0)) - 0.5) < 0.02
    assert not jnp.array_equal(u1, u2)                                   # a fresh draw each step
    again, _ = update(g, tx.init(g))
    assert jnp.array_equal(again, u1)                                    # reproducible from the seed


# ---------------------------------------------------------------- the standalone module


BLOCK = "import sys\nfor name in ('torch', 'sympy', 'gp_opt', 'deap', 'networkx'):\n    sys.modules[name] = None\n"
EXPORTED = ["Opt6", "Opt10", "A5"]


def test_exported_modules_import_and_step_without_torch_or_gp_opt(tmp_path):
    """``gp-opt export NAME --optax f.py``; then, in a process where torch, sympy and gp_opt
    cannot be imported, ``import f`` and 50 jitted steps equal EvolvedOptimizer's."""
    from gp_opt.cli import main

    for name in EXPORTED:
        assert main(["export", name, "--optax", str(tmp_path / f"f_{name.lower()}.py")]) == 0
    w0, grads = data(SHAPES, seed=9)
    script = BLOCK + textwrap.dedent(f"""
        import json
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp, optax
        w0, grads = json.loads(sys.stdin.read())
        out = {{}}
        for name in {EXPORTED!r}:
            module = __import__("f_" + name.lower())
            tx = getattr(module, name.lower())(learning_rate={LR}, total_steps={T}, warmup_steps={W},
                                                hold_steps={H})
            params = [jnp.asarray(w) for w in w0]
            state = tx.init(params)
            update = jax.jit(tx.update)
            for gs in grads:
                updates, state = update([jnp.asarray(g) for g in gs], state, params)
                params = optax.apply_updates(params, updates)
            out[name] = [p.tolist() for p in params]
        print(json.dumps(out))
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                         input=json.dumps([[w.tolist() for w in w0], [[g.tolist() for g in gs] for gs in grads]]),
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout)
    for name in EXPORTED:
        assert_same([np.asarray(x) for x in got[name]], run_torch(case(name), w0, grads), f"exported {name}")


def test_export_verb_needs_a_target(capsys):
    from gp_opt.cli import main

    assert main(["export", "Opt6"]) == 2
    assert "--optax" in capsys.readouterr().err


def test_exported_module_documents_the_equation():
    src = optax_source(catalog.get("Opt6"))
    assert "def opt6(learning_rate, total_steps" in src and "optax.GradientTransformation" in src
    assert "operatorname{erfc}" in src                         # the LaTeX of U in the docstring
    assert not re.search(r"^\s*(import|from) (torch|gp_opt|sympy)", src, re.M)


def test_missing_jax_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "optax", None)
    with pytest.raises(MissingJaxError, match="gp_opt\\[jax\\]"):
        transformation(catalog.get("Adam"))
