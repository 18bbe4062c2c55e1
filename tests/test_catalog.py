"""Every catalog entry's sympy form against SPEC section 9, written out by hand in numpy.

The reference formulas below are typed from SPEC.md, not generated from the grammar. Where an
entry deviates from the SPEC formula (docs/catalog.md), the deviation is spelled out here too:
``EPS`` appears exactly where ``div`` adds its 1e-7 to a denominator.
"""
from __future__ import annotations

import zlib

import numpy as np
import pytest
import sympy as sp
from scipy.special import erf, erfc, i1e

from gp_opt import catalog, symbolic
from gp_opt.errors import GpOptError
from gp_opt.genome import OptimizerGenome

EPS = 1e-7
SYMS = sp.symbols("g w v s lam v_hat s_hat lam_hat q t T")
RTOL = 1e-9


# ---------------------------------------------------------------- SPEC section 4 schedules
def z(t, T):
    return 1 - (t + 1) / T


def a(k, t, T):
    r = np.mod(2 * t, T) / T
    return {
        1: 1 - t / T, 2: t / T,
        3: 0.5 * (1 + np.cos(np.pi * t / T)), 4: 0.5 * (1 - np.cos(np.pi * t / T)),
        5: 0.5 * (1 + np.cos(2 * np.pi * t / T)), 6: 0.5 * (1 - np.cos(2 * np.pi * t / T)),
        7: 0.5 * (1 + np.cos(np.pi * r)), 8: 0.5 * (1 - np.cos(np.pi * r)),
        9: 1 - r, 10: r,
        11: 0.01 ** (t / T), 12: 1 - 0.01 ** (t / T),
        13: 0.95 * z(t, T) / (0.05 + 0.95 * z(t, T)),
        14: 0.95 - 0.95 * z(t, T) / (0.05 + 0.95 * z(t, T)),
    }[k]


def a14p(t, T):
    return (0.95 - 0.95 * z(t, T)) / (0.05 + 0.95 * z(t, T))


# ---------------------------------------------------------------- SPEC section 3 ops
def softsign(x):
    return x / (1 + np.abs(x))


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def dtanh(x):
    return 1 - np.tanh(x) ** 2


def inv_1p_abs(x):
    return 1 / (1 + np.abs(x))


def clip(x, lo, hi):
    return np.minimum(np.maximum(x, lo), hi)


def norm(x):  # a scalar "tensor": ||x||_2 = |x|
    return x / np.maximum(1.0, np.abs(x))


# ---------------------------------------------------------------- SPEC section 9
def qh(p):
    return 0.3 * p["g"] + 0.7 * p["v_hat"]


def qh2(p):
    return 0.05 * p["g"] ** 2 + 0.95 * p["s_hat"]


def lr_parts(name, t, T):
    """(numerator, denominator) of the LR factors, as SPEC writes them."""
    return {
        "LR1": (erfc(erfc(a(4, t, T))), dtanh(a(8, t, T))),
        "LR2": (erfc(erfc(a(4, t, T))), dtanh(a(8, t, T)) * dtanh(a(4, t, T))),
        "LR3": (np.arctan(a(2, t, T)), dtanh(a(10, t, T)) * np.sqrt(inv_1p_abs(a14p(t, T)))),
        "LR4": (sigmoid(a(2, t, T)) ** 2, sigmoid(2 * softsign(a(1, t, T)))),
        "LR5": (1.0, np.sqrt(erf(a(11, t, T)))),
        "LR6": (np.arctan(a(2, t, T)) * erfc(a(6, t, T)), np.sqrt(inv_1p_abs(a(6, t, T)))),
        "LR7": (1.0, np.sqrt(inv_1p_abs(a(10, t, T)))),
        "LR8": (1.0, np.sqrt(softsign(np.arctan(a(12, t, T)))) + 1e-7),
        "LR9": (np.tanh(np.maximum(a(10, t, T), a(6, t, T))), 1.0),
    }[name]


def lr_factor(name, t, T):
    num, den = lr_parts(name, t, T)
    return num / den


def lr_factor_genome(name, t, T):
    """The factor as the genome computes it: the denominator of ``div`` gets EPS (LR8's SPEC
    form already has its + 1e-7; LR9 has no denominator)."""
    num, den = lr_parts(name, t, T)
    if name in ("LR8", "LR9"):
        return num / den
    return num / (den + EPS)


def spec(name, p):
    """U of catalog entry ``name`` at point ``p`` (SPEC formula, documented deviations)."""
    g, w, t, T = p["g"], p["w"], p["t"], p["T"]
    vh, sh, lh = p["v_hat"], p["s_hat"], p["lam_hat"]
    QH, QH2 = qh(p), qh2(p)
    n1, d1 = lr_parts("LR1", t, T)
    if name == "Opt1":
        c = np.abs(1e-5 * w - QH2)
        return QH + softsign(clip(1e-5 * w, -c, c))
    if name == "Opt2":
        return QH + softsign(1e-5 * w / np.sqrt(1 + (1e-5 * w - QH2) ** 2))
    if name == "Opt3":
        return QH + softsign(1e-5 * w / np.sqrt(1 + (1e-5 * w - (0.01 * g ** 3 + 0.99 * lh)) ** 2))
    if name in ("Opt4", "Opt5", "Opt42"):
        c = np.abs(np.arctan(a(13, t, T)) * np.exp(vh)) if name == "Opt4" else np.abs(np.exp(vh))
        if name == "Opt42":  # no decay at all, lr x 1; deviation: div's eps
            return QH / (clip(2.0, -c, c) + EPS)
        # lr x LR1 * QH / clip(2, -c, c); deviation: div's eps on the decayed denominator
        return n1 * QH / (clip(2.0, -c, c) * d1 + EPS)
    if name == "Opt6":
        return n1 * QH / (np.abs(dtanh(a(4, t, T)) * np.exp(1e-4 * w)) * d1 + EPS)
    if name == "Opt61":
        return QH / (np.exp(1e-4 * w) + EPS)
    amax = np.maximum(a(6, t, T), a(10, t, T))
    table = {
        "Opt7": lambda: np.tanh(amax * np.arcsinh(QH)),
        "Opt71": lambda: np.tanh(np.arcsinh(QH)),
        "Opt8": lambda: np.arcsinh(amax * np.arcsinh(QH)),
        "Opt81": lambda: np.arcsinh(np.arcsinh(QH)),
        "Opt9": lambda: erfc(a(11, t, T)) * g * np.exp(np.arctan(QH2)),
        "Opt91": lambda: g * np.exp(np.arctan(QH2)),
        "Opt10": lambda: i1e(i1e(a(13, t, T) * a(2, t, T) * g)),
        "Opt101": lambda: i1e(i1e(g)),
        # Adam variants; A1/A4/A5 drop the + 1e-7 of r (documented deviation)
        "A1": lambda: clip(vh, -np.sqrt(sh), np.sqrt(sh)),
        "A2": lambda: clip(vh, -np.abs(np.log(sh + 1e-7)), np.abs(np.log(sh + 1e-7))),
        "A3": lambda: clip(vh, -np.sqrt(np.abs(np.log(sh + 1e-7))), np.sqrt(np.abs(np.log(sh + 1e-7)))),
        "A4": lambda: clip(vh, -sigmoid(sh), sigmoid(sh)),
        "A5": lambda: norm(clip(vh, -np.sqrt(sh), np.sqrt(sh))),
        "SGD": lambda: g, "Momentum": lambda: g, "Nesterov": lambda: g,
        "Adam": lambda: vh / (np.sqrt(np.abs(sh)) + EPS),
        "RMSProp": lambda: g / (np.sqrt(np.abs(sh)) + EPS),
        "QHM": lambda: 0.3 * g + 0.7 * p["q"],
        "PowerSign-ld": lambda: np.exp(a(1, t, T) * np.sign(g) * np.sign(p["v"])) * g,
        "AddSign-ld": lambda: (1 + a(1, t, T) * np.sign(g) * np.sign(p["v"])) * g,
    }
    if name in table:
        return table[name]()
    if name.startswith("LR"):
        return g * lr_factor_genome(name, t, T)
    raise KeyError(name)


MOMENTUM = {"Opt9": "nesterov", "Opt91": "nesterov", "Opt10": "nesterov", "Opt101": "nesterov",
            "Momentum": "momentum", "Nesterov": "nesterov"}
EXPECTED = (["Opt%d" % k for k in range(1, 11)] + ["Opt42", "Opt61", "Opt71", "Opt81", "Opt91", "Opt101"]
            + ["A%d" % k for k in range(1, 6)] + ["LR%d" % k for k in range(1, 10)]
            + ["SGD", "Momentum", "Nesterov", "Adam", "RMSProp", "QHM", "PowerSign-ld", "AddSign-ld"])


def points(n=40, seed=0, last_step=False):
    rng = np.random.default_rng(seed)
    T = rng.integers(20, 2000, n).astype(float)
    t = np.floor(rng.uniform(0, 0.95, n) * T) if not last_step else T - 1
    p = {"g": rng.uniform(-2, 2, n), "w": rng.uniform(-50, 50, n),
         "v": rng.uniform(-2, 2, n), "s": rng.uniform(0.01, 3, n), "lam": rng.uniform(-2, 2, n),
         "s_hat": rng.uniform(0.01, 3, n), "lam_hat": rng.uniform(-2, 2, n),
         "q": rng.uniform(-2, 2, n), "t": t, "T": T}
    # v_hat has the sign of v (the bias correction is a positive factor)
    p["v_hat"] = np.sign(p["v"]) * rng.uniform(0.01, 2, n)
    return p


def evaluate(expr, p):
    f = symbolic.numeric_function(expr, SYMS)
    return np.broadcast_to(np.asarray(f(*(p[s.name] for s in SYMS)), dtype=float), p["g"].shape)


def test_catalog_lists_every_spec_entry():
    assert sorted(catalog.names()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", EXPECTED)
def test_entry_matches_spec_formula(name):
    genome = catalog.get(name)
    assert genome.meta["name"] == name and genome.meta["description"] and genome.meta["source"]
    assert genome.momentum == MOMENTUM.get(name, "none")
    assert genome.sign == 1
    p = points(seed=zlib.crc32(name.encode()))
    got = evaluate(symbolic.to_sympy(genome), p)
    np.testing.assert_allclose(got, spec(name, p), rtol=RTOL, atol=1e-12)


@pytest.mark.parametrize("name", ["Opt4", "Opt10", "LR3", "LR8", "Opt6"])
def test_last_step(name):
    """a13 and z are 0 at t = T-1: Opt4 divides by eps there, a14' reaches 19."""
    p = points(seed=3, last_step=True)
    got = evaluate(symbolic.to_sympy(catalog.get(name)), p)
    assert np.isfinite(got).all()
    # z = 1 - (t+1)/T is 0 only up to rounding in either form: Opt4's c is ~1e-16 vs eps 1e-7
    np.testing.assert_allclose(got, spec(name, p), rtol=1e-6, atol=1e-12)


def test_opt4_last_step_is_qh_over_eps():
    p = points(seed=4, last_step=True)
    got = evaluate(symbolic.to_sympy(catalog.get("Opt4")), p)
    n1, _ = lr_parts("LR1", p["t"], p["T"])
    np.testing.assert_allclose(got, n1 * qh(p) / EPS, rtol=1e-6)


@pytest.mark.parametrize("name", ["LR%d" % k for k in range(1, 10)])
def test_lr_entries_factor_to_their_schedule(name):
    schedule, update = symbolic.factor_schedule(catalog.get(name))
    assert update == sp.Symbol("g")
    p = points(seed=7)
    np.testing.assert_allclose(evaluate(schedule, p), lr_factor_genome(name, p["t"], p["T"]), rtol=RTOL)


@pytest.mark.parametrize("name,lr", [("Opt4", "LR1"), ("Opt5", "LR1"), ("Opt6", "LR2")])
def test_published_optimizers_factor_to_their_lr(name, lr):
    """Opt6 = LR1 * QH / |dtanh(a4) exp(1e-4 w)| factors to LR2 * QH / exp(1e-4 w) (eps negligible)."""
    schedule, update = symbolic.factor_schedule(catalog.get(name))
    assert schedule.free_symbols <= {sp.Symbol("t"), sp.Symbol("T")}
    p = points(seed=11)
    np.testing.assert_allclose(evaluate(schedule, p), lr_factor(lr, p["t"], p["T"]), rtol=RTOL)
    u = evaluate(symbolic.to_sympy(catalog.get(name)), p)
    np.testing.assert_allclose(evaluate(schedule * update, p), u, rtol=1e-5)
    if name == "Opt6":
        np.testing.assert_allclose(evaluate(update, p), qh(p) / (np.exp(1e-4 * p["w"]) + EPS), rtol=RTOL)


def test_factor_schedule_of_opt9_and_undecayed():
    s, u = symbolic.factor_schedule(catalog.get("Opt9"))
    p = points(seed=12)
    np.testing.assert_allclose(evaluate(s, p), erfc(a(11, p["t"], p["T"])), rtol=RTOL)
    for name in ("Opt7", "Opt10", "Opt61", "Adam", "SGD", "PowerSign-ld"):
        assert symbolic.factor_schedule(catalog.get(name))[0] == 1


def test_ablations_equal_their_parent_without_decays():
    for parent, ablation in [("Opt6", "Opt61"), ("Opt7", "Opt71"), ("Opt8", "Opt81"),
                             ("Opt9", "Opt91"), ("Opt10", "Opt101"), ("Opt4", "Opt42")]:
        g = catalog.get(parent)
        for s, d, _ in g.decayed_edges():
            g.graph.edges[s, d]["decay"] = None
        assert symbolic.canonical_key(g) == symbolic.canonical_key(catalog.get(ablation)), parent


def test_unknown_names():
    with pytest.raises(GpOptError, match="did you mean.*Opt1"):
        catalog.get("Opt11")
    with pytest.raises(GpOptError, match="not recoverable"):
        catalog.get("Opt41")
    assert catalog.get("adam") == catalog.get("Adam")


def test_files_round_trip_and_are_readable():
    for name in catalog.names():
        genome = catalog.get(name)
        text = catalog.path(name).read_text()
        assert text.startswith("{\n  ")  # indented, human-readable
        assert OptimizerGenome.from_json(genome.to_json(), genome.grammar) == genome
        assert genome.grammar.name in ("default", "paper")
    assert catalog.get("QHM").grammar.name == "paper"
    assert catalog.get("LR3").grammar.name == "paper"
    assert catalog.get("Opt6").grammar.name == "default"
    g = catalog.grammar()
    assert g.operands["qhm_g"].weight == 0 and g.schedules["a14p"].weight == 0
    assert "qhm_g" not in g.operand_weights()[0] and "a14p" not in g.schedule_weights()[0]


def test_get_returns_fresh_copies():
    a_ = catalog.get("Opt6")
    a_.set_op("h1", "neg")
    assert catalog.get("Opt6").op("h1") == "abs"
