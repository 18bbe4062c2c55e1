"""The symbolic view: property tests over random genomes, factoring, canonical keys, simplify."""
from __future__ import annotations

import time

import numpy as np
import pytest
import sympy as sp
import torch

from gp_opt import catalog, symbolic
from gp_opt import grammar as grammar_mod
from gp_opt.genome import DecayGenome, OptimizerGenome
from gp_opt.code_printer import torch_function

GRAMMAR = grammar_mod.load()
N_RANDOM = 1000


@pytest.fixture(scope="module")
def random_genomes():
    rng = np.random.default_rng(20240611)
    return [OptimizerGenome.random(rng) for _ in range(N_RANDOM)]


# ---------------------------------------------------------------- properties over >= 1,000 genomes
def test_random_genomes_are_valid_and_round_trip(random_genomes):
    for genome in random_genomes:
        genome.validate()
        text = genome.to_json()
        back = OptimizerGenome.from_json(text)
        assert back == genome
        assert back.to_json() == text


def test_to_sympy_never_raises(random_genomes):
    for genome in random_genomes:
        expr = symbolic.to_sympy(genome)
        assert isinstance(expr, sp.Basic)
        assert expr.free_symbols <= set(GRAMMAR.symbols.values()) | {sp.Symbol("t"), sp.Symbol("T")}


def test_decay_functions_stay_in_unit_interval(random_genomes):
    t = np.arange(100.0)
    tT = [sp.Symbol("t"), sp.Symbol("T")]
    n = 0
    for genome in random_genomes:
        for _, _, dec in genome.decayed_edges():
            values = dec.values(100).numpy()
            assert np.isfinite(values).all() and (values >= 0).all() and (values <= 1).all()
            # the sympy form of d(t) is the same function (schedules named; the first few also
            # written out in t, T)
            forms = [symbolic.decay_to_sympy(dec, expand_schedules=False)]
            if n < 30:
                forms.append(symbolic.decay_to_sympy(dec))
            for form in forms:
                f = symbolic.numeric_function(form, tT)
                np.testing.assert_allclose(np.broadcast_to(f(t, 100.0), t.shape), values, rtol=1e-9, atol=1e-7)
            n += 1
    assert n > 100


# ---------------------------------------------------------------- the equation is the graph's maths
def _direct(genome: OptimizerGenome, p: dict[str, torch.Tensor]) -> torch.Tensor:
    """U computed straight from the graph with each op's torch form (no sympy in between)."""
    syms = [sp.Symbol(k) for k in p if k not in ("t", "T")]
    values: dict[str, torch.Tensor] = {}
    steps = p["t"].long().tolist()
    for node in genome.active_inner_nodes():
        args = []
        for src, dec in genome.input_edges(node):
            if src in values:
                v = values[src]
            else:
                f = torch_function(GRAMMAR.operands[src].expr, tuple(syms))
                v = torch.as_tensor(f(*(p[s.name] for s in syms)), dtype=torch.float64).expand_as(p["g"])
            if dec is not None:
                v = v * dec.values(100, steps=steps)
            args.append(v)
        values[node] = torch.as_tensor(GRAMMAR.ops[genome.op(node)].torch(*args), dtype=torch.float64)
    return genome.sign * values["out"]


def test_to_sympy_agrees_with_the_graph(random_genomes):
    rng = np.random.default_rng(5)
    n = 64
    p = {"g": rng.normal(0, 1, n), "w": rng.normal(0, 3, n), "v": rng.normal(0, 1, n),
         "s": rng.uniform(0, 2, n), "lam": rng.normal(0, 1, n), "v_hat": rng.normal(0, 1, n),
         "s_hat": rng.uniform(0, 2, n), "lam_hat": rng.normal(0, 1, n),
         "t": rng.integers(0, 100, n).astype(float), "T": np.full(n, 100.0)}
    pt = {k: torch.as_tensor(v, dtype=torch.float64) for k, v in p.items()}
    syms = [sp.Symbol(k) for k in p]
    checked = 0
    for genome in random_genomes[:300]:
        kinds = {GRAMMAR.ops[genome.op(n_)].kind for n_ in genome.active_inner_nodes()}
        if kinds != {"scalar"}:
            continue
        with np.errstate(all="ignore"):
            want = _direct(genome, pt).numpy()
            got = np.broadcast_to(np.asarray(symbolic.numeric_function(
                symbolic.to_sympy(genome, expand_schedules=False), syms)(*p.values()), dtype=float), want.shape)
        ok = np.isfinite(want) & np.isfinite(got) & (np.abs(want) < 1e12)
        np.testing.assert_allclose(got[ok], want[ok], rtol=1e-6, atol=1e-9, err_msg=repr(genome))
        checked += 1
    assert checked > 100


# ---------------------------------------------------------------- schedules and factoring
def test_decay_to_sympy_named_and_expanded():
    d = DecayGenome.from_nodes({"h0": ("identity", ["a6"]), "out": ("max", ["h0", "a10"])})
    named = symbolic.decay_to_sympy(d, expand_schedules=False)
    assert str(named) in ("Max(a10, a6)", "Max(a6, a10)")
    assert symbolic.decay_to_sympy(d).free_symbols == {sp.Symbol("t"), sp.Symbol("T")}


def test_factor_schedule_on_random_genomes(random_genomes):
    rng = np.random.default_rng(9)
    n = 32
    p = {"g": rng.normal(0, 1, n), "w": rng.normal(0, 3, n), "v": rng.normal(0, 1, n),
         "s": rng.uniform(0, 2, n), "lam": rng.normal(0, 1, n), "v_hat": rng.normal(0, 1, n),
         "s_hat": rng.uniform(0, 2, n), "lam_hat": rng.normal(0, 1, n),
         "t": rng.integers(0, 100, n).astype(float), "T": np.full(n, 100.0)}
    syms = [sp.Symbol(k) for k in p]
    time_syms = {sp.Symbol("t"), sp.Symbol("T")}
    factored = 0
    for genome in random_genomes:
        schedule, update = symbolic.factor_schedule(genome, expand_schedules=False)
        assert schedule.free_symbols <= time_syms
        if schedule == 1 or not genome.decayed_edges(active_only=True):
            continue
        factored += 1
        expr = symbolic.to_sympy(genome, expand_schedules=False)
        if expr.has(sp.Float(GRAMMAR.eps)) or any(
                GRAMMAR.ops[genome.op(n_)].kind in ("stochastic", "stateful") for n_ in genome.active_inner_nodes()):
            continue  # eps is taken as negligible there; stateful/random ops have no point value
        with np.errstate(all="ignore"):
            u = np.asarray(symbolic.numeric_function(expr, syms)(*p.values()), dtype=float)
            su = np.asarray(symbolic.numeric_function(schedule * update, syms)(*p.values()), dtype=float)
        u, su = np.broadcast_arrays(u, su)
        ok = np.isfinite(u) & np.isfinite(su) & (np.abs(u) < 1e12)
        np.testing.assert_allclose(su[ok], u[ok], rtol=1e-6, atol=1e-9, err_msg=repr(genome))
    assert factored > 20


def test_factor_keeps_nonlinear_schedules_in_place():
    # tanh(a * x): the schedule cannot leave the tanh
    assert symbolic.factor_schedule(catalog.get("Opt7"))[0] == 1
    # erfc(a11) * g * exp(...): it can
    s, u = symbolic.factor_schedule(catalog.get("Opt9"))
    assert s.free_symbols == {sp.Symbol("t"), sp.Symbol("T")} and sp.Symbol("t") not in u.free_symbols


def test_sign_goes_into_the_update():
    g = catalog.get("Opt9")
    g.sign = -1
    s, u = symbolic.factor_schedule(g)
    s0, u0 = symbolic.factor_schedule(catalog.get("Opt9"))
    assert s == s0 and sp.simplify(u + u0) == 0
    assert symbolic.to_sympy(g) == -symbolic.to_sympy(catalog.get("Opt9"))


# ---------------------------------------------------------------- canonical keys
def _sgd_like(nodes, momentum="none", sign=1):
    return OptimizerGenome.from_nodes(nodes, momentum=momentum, sign=sign)


def test_canonical_key_equal_for_equal_equations():
    adam = catalog.get("Adam")
    # the same equation through an identity node, and with an inactive hidden node
    a2 = _sgd_like({"h0": ("sqrt_abs", ["s_hat"]), "h1": ("identity", ["h0"]), "h2": ("exp", ["g"]),
                    "out": ("div", ["v_hat", "h1"])})
    # x / (y + eps) written as x * reciprocal(y)
    a3 = _sgd_like({"h0": ("sqrt_abs", ["s_hat"]), "h1": ("reciprocal", ["h0"]), "out": ("mul", ["v_hat", "h1"])})
    keys = {symbolic.canonical_key(x) for x in (adam, a2, a3)}
    assert len(keys) == 1
    # commutativity: add(x, y) == add(y, x); sub(x, neg(y)) == add(x, y)
    b1 = _sgd_like({"h0": ("exp", ["g"]), "out": ("add", ["h0", "v_hat"])})
    b2 = _sgd_like({"h0": ("exp", ["g"]), "out": ("add", ["v_hat", "h0"])})
    b3 = _sgd_like({"h0": ("exp", ["g"]), "h1": ("neg", ["v_hat"]), "out": ("sub", ["h0", "h1"])})
    assert symbolic.canonical_key(b1) == symbolic.canonical_key(b2) == symbolic.canonical_key(b3)


def test_canonical_key_separates_momentum_sign_and_equation():
    sgd, mom, nest = (catalog.get(n) for n in ("SGD", "Momentum", "Nesterov"))
    assert len({symbolic.canonical_key(x) for x in (sgd, mom, nest)}) == 3
    flipped = catalog.get("SGD")
    flipped.sign = -1
    assert symbolic.canonical_key(flipped) != symbolic.canonical_key(sgd)
    keys = [symbolic.canonical_key(catalog.get(n)) for n in catalog.names()
            if n not in ("Momentum", "Nesterov")]
    assert len(set(keys)) == len(keys)


def test_canonical_key_is_fast(random_genomes):
    symbolic.build._CACHE.clear()
    sample = random_genomes[-200:]
    t0 = time.perf_counter()
    keys = [symbolic.canonical_key(g) for g in sample]
    cold = (time.perf_counter() - t0) / len(sample)
    t0 = time.perf_counter()
    assert keys == [symbolic.canonical_key(g) for g in sample]
    warm = (time.perf_counter() - t0) / len(sample)
    assert cold < 0.25 and warm < 0.01, (cold, warm)


def test_canonical_key_stable_string():
    key = symbolic.canonical_key(catalog.get("Adam"))
    assert key.startswith("none:") and len(key) == len("none:") + 40


# ---------------------------------------------------------------- simplify, latex, pretty
def test_simplify_simplifies():
    x = sp.Symbol("g")
    assert symbolic.simplify(sp.sin(x) ** 2 + sp.cos(x) ** 2, timeout=20) == 1


def test_simplify_never_hangs(monkeypatch):
    def slow(expr, *a, **k):
        time.sleep(60)
        return expr
    monkeypatch.setattr(sp, "simplify", slow)   # the forked worker inherits the slow version
    expr = symbolic.to_sympy(catalog.get("Opt1"))
    t0 = time.perf_counter()
    out = symbolic.simplify(expr, timeout=0.5)
    assert time.perf_counter() - t0 < 5
    assert isinstance(out, sp.Basic)
    rng = np.random.default_rng(0)
    pts = {s: rng.uniform(0.1, 1.0) for s in expr.free_symbols}
    assert abs(float(out.subs(pts)) - float(expr.subs(pts))) < 1e-9


def test_simplify_zero_timeout_is_identity():
    expr = symbolic.to_sympy(catalog.get("Opt2"))
    assert symbolic.simplify(expr, timeout=0) is expr


def test_latex_and_pretty(random_genomes):
    for genome in random_genomes[:100]:
        tex = symbolic.to_latex(genome)
        assert tex.count("{") == tex.count("}")
        assert isinstance(symbolic.pretty(genome), str)
    assert r"\hat{v}" in symbolic.to_latex(catalog.get("Adam"))
    assert "QH" in symbolic.to_latex(catalog.get("Opt6"))
    assert "a_{4}" in symbolic.to_latex(catalog.get("Opt6"))
    assert "0.3" in symbolic.to_latex(catalog.get("Opt6"), expand=True)
    assert "v̂" in symbolic.pretty(catalog.get("Adam"))


def test_equation_names_each_decay_function_once():
    expr, decays = symbolic.equation(catalog.get("Opt6"))
    names = {str(sym) for _, _, sym, _ in decays}
    assert names == {"d_1", "d_2", "d_3"}
    assert {str(s) for s in expr.free_symbols} >= names


def test_printing_is_time_bounded(monkeypatch):
    def slow(*a, **k):
        time.sleep(30)
        return "never"
    monkeypatch.setattr(sp, "latex", slow)
    monkeypatch.setattr(sp, "pretty", slow)
    g = catalog.get("Opt4")
    t0 = time.perf_counter()
    tex = symbolic.latex_expr(symbolic.to_sympy(g), g.grammar, timeout=0.3)
    text = symbolic.pretty_expr(symbolic.to_sympy(g), g.grammar, timeout=0.3)
    assert time.perf_counter() - t0 < 5
    assert tex.startswith(r"\texttt{") and tex.count("{") == tex.count("}")
    assert "erfc" in text
