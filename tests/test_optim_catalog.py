"""Every catalog entry (no dropout) run by EvolvedOptimizer vs the SPEC section 9 formula in numpy.

The formulas below are written from SPEC section 9's tables, not from the genome files.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import special as sps

from gp_opt import catalog
from gp_opt.optim import PUBLISHED, EvolvedLR, EvolvedOptimizer, published_optimizer
from gp_opt.optim import published as published_mod
from gp_opt.optim.schedules import base_lr_factor, schedule_factor_table

from test_optim import D, EPS, clip, dtanh, problem, reference_run, sched, softsign  # noqa: F401


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def inv_1p_abs(x):
    return 1 / (1 + np.abs(x))


def a(name, t, T):
    return sched(name, t, T)


def a14p(t, T):
    z = 1 - (t + 1) / T
    return (0.95 - 0.95 * z) / (0.05 + 0.95 * z)


LR = {
    "LR1": lambda t, T: sps.erfc(sps.erfc(a("a4", t, T))) / dtanh(a("a8", t, T)),
    "LR2": lambda t, T: sps.erfc(sps.erfc(a("a4", t, T))) / (dtanh(a("a8", t, T)) * dtanh(a("a4", t, T))),
    "LR3": lambda t, T: math.atan(a("a2", t, T)) / (dtanh(a("a10", t, T)) * math.sqrt(inv_1p_abs(a14p(t, T)))),
    "LR4": lambda t, T: sigmoid(a("a2", t, T)) ** 2 / sigmoid(2 * softsign(a("a1", t, T))),
    "LR5": lambda t, T: 1 / math.sqrt(sps.erf(a("a11", t, T))),
    "LR6": lambda t, T: math.atan(a("a2", t, T)) * sps.erfc(a("a6", t, T)) / math.sqrt(inv_1p_abs(a("a6", t, T))),
    "LR7": lambda t, T: 1 / math.sqrt(inv_1p_abs(a("a10", t, T))),
    "LR8": lambda t, T: 1 / (math.sqrt(softsign(math.atan(a("a12", t, T)))) + 1e-7),
    "LR9": lambda t, T: math.tanh(max(a("a10", t, T), a("a6", t, T))),
}


def _c4(s, t, T):
    return np.abs(math.atan(a("a13", t, T)) * np.exp(s.v_hat))


#: name -> (momentum, U(g, w, st, t, T)) from SPEC section 9.
REF = {
    "Opt1": ("none", lambda g, w, s, t, T: s.qh + softsign(clip(1e-5 * w, np.abs(1e-5 * w - s.qh2)))),
    "Opt2": ("none", lambda g, w, s, t, T: s.qh + softsign(1e-5 * w / np.sqrt(1 + (1e-5 * w - s.qh2) ** 2))),
    "Opt3": ("none", lambda g, w, s, t, T: s.qh + softsign(1e-5 * w / np.sqrt(1 + (1e-5 * w - s.qh3) ** 2))),
    # div(x, y) = x / (y + eps) (SPEC 3); the LR1 factor sits on div's numerator/denominator edges
    "Opt4": ("none", lambda g, w, s, t, T: sps.erfc(sps.erfc(a("a4", t, T))) * s.qh
             / (dtanh(a("a8", t, T)) * clip(2.0, _c4(s, t, T)) + EPS)),
    "Opt5": ("none", lambda g, w, s, t, T: sps.erfc(sps.erfc(a("a4", t, T))) * s.qh
             / (dtanh(a("a8", t, T)) * clip(2.0, np.exp(s.v_hat)) + EPS)),
    "Opt6": ("none", lambda g, w, s, t, T: sps.erfc(sps.erfc(a("a4", t, T))) * s.qh
             / (dtanh(a("a8", t, T)) * np.abs(dtanh(a("a4", t, T)) * np.exp(1e-4 * w)) + EPS)),
    "Opt7": ("none", lambda g, w, s, t, T: np.tanh(max(a("a6", t, T), a("a10", t, T)) * np.arcsinh(s.qh))),
    "Opt8": ("none", lambda g, w, s, t, T: np.arcsinh(max(a("a6", t, T), a("a10", t, T)) * np.arcsinh(s.qh))),
    "Opt9": ("nesterov", lambda g, w, s, t, T: sps.erfc(a("a11", t, T)) * g * np.exp(np.arctan(s.qh2))),
    "Opt10": ("nesterov", lambda g, w, s, t, T: sps.i1e(sps.i1e(a("a13", t, T) * a("a2", t, T) * g))),
    "Opt42": ("none", lambda g, w, s, t, T: s.qh / (clip(2.0, np.exp(s.v_hat)) + EPS)),
    "Opt61": ("none", lambda g, w, s, t, T: s.qh / (np.exp(1e-4 * w) + EPS)),
    "Opt71": ("none", lambda g, w, s, t, T: np.tanh(np.arcsinh(s.qh))),
    "Opt81": ("none", lambda g, w, s, t, T: np.arcsinh(np.arcsinh(s.qh))),
    "Opt91": ("nesterov", lambda g, w, s, t, T: g * np.exp(np.arctan(s.qh2))),
    "Opt101": ("nesterov", lambda g, w, s, t, T: sps.i1e(sps.i1e(g))),
    "A1": ("none", lambda g, w, s, t, T: clip(s.v_hat, np.sqrt(s.s_hat) + 1e-7)),
    "A2": ("none", lambda g, w, s, t, T: clip(s.v_hat, np.abs(np.log(s.s_hat + 1e-7)))),
    "A3": ("none", lambda g, w, s, t, T: clip(s.v_hat, np.sqrt(np.abs(np.log(s.s_hat + 1e-7))))),
    "A4": ("none", lambda g, w, s, t, T: clip(s.v_hat, sigmoid(s.s_hat + 1e-7))),
    "A5": ("none", lambda g, w, s, t, T: (lambda c: c / max(1.0, float(np.sqrt((c ** 2).sum()))))(
        clip(s.v_hat, np.sqrt(s.s_hat) + 1e-7))),
    "Adam": ("none", lambda g, w, s, t, T: s.v_hat / (np.sqrt(np.abs(s.s_hat)) + EPS)),
    "RMSProp": ("none", lambda g, w, s, t, T: g / (np.sqrt(np.abs(s.s_hat)) + EPS)),
    "SGD": ("none", lambda g, w, s, t, T: g),
    "Momentum": ("momentum", lambda g, w, s, t, T: g),
    "Nesterov": ("nesterov", lambda g, w, s, t, T: g),
    "PowerSign-ld": ("none", lambda g, w, s, t, T: np.exp(a("a1", t, T) * np.sign(g) * np.sign(s.v)) * g),
    "AddSign-ld": ("none", lambda g, w, s, t, T: (1 + a("a1", t, T) * np.sign(g) * np.sign(s.v)) * g),
    **{name: ("none", (lambda f: lambda g, w, s, t, T: f(t, T) * g)(f)) for name, f in LR.items()},
}


def _qhm():
    def U(g, w, s, t, T):
        s.extra["q"] = 0.999 * s.extra.get("q", 0) + 0.001 * g
        return 0.3 * g + 0.7 * s.extra["q"]
    return U


def _uses_dropout(genome):
    return any(genome.grammar.op(genome.op(n)).kind == "stochastic" for n in genome.active_inner_nodes())


def test_every_catalog_entry_without_dropout_has_a_reference():
    missing = [n for n in catalog.names() if n not in REF and n != "QHM" and not _uses_dropout(catalog.get(n))]
    assert not missing


@pytest.mark.parametrize("name", sorted(REF) + ["QHM"])
def test_catalog_entry_matches_numpy_reference(name):
    genome = catalog.get(name)
    if name == "QHM":
        momentum, U = "none", None
        states = {}

        def U(g, w, s, t, T):  # noqa: F811
            return states.setdefault(id(s), _qhm())(g, w, s, t, T)
    else:
        momentum, U = REF[name]
    assert genome.momentum == momentum and genome.sign == 1
    steps, lr, T, W, H = 32, 0.05, 40, 5, 3
    w0, grad, loss = problem()
    ref = reference_run(U, momentum, 1, w0, grad, steps, lr, T, W, H)
    params = [torch.nn.Parameter(torch.tensor(w)) for w in w0]
    opt = EvolvedOptimizer(params, genome, lr=lr, total_steps=T, warmup_steps=W, hold_steps=H)
    for _ in range(steps):
        opt.zero_grad()
        loss(params).backward()
        opt.step()
    for r, p, w in zip(ref, params, w0):
        np.testing.assert_allclose(p.detach().numpy(), r, rtol=1e-5, atol=1e-7)
        assert not np.allclose(r, w)  # the run really moved


def test_opt4_last_step_divides_by_eps():
    """SPEC 9's edge case: a13 = 0 at t = T-1, so Opt4's clip bound is 0 and U = QH / eps."""
    T = 8
    w = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    opt = EvolvedOptimizer([w], catalog.get("Opt4"), lr=1e-3, total_steps=T)
    g = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    for t in range(T):
        w.grad = g.clone()
        before = w.detach().clone()
        opt.step()
    change = w.detach() - before
    # v_hat = g for a constant gradient, so QH = g; LR1's numerator is the edge decay of QH
    num = sps.erfc(sps.erfc(a("a4", T - 1, T)))
    expected = -1e-3 * base_lr_factor(T - 1, T) * num * g.numpy() / EPS
    assert torch.isfinite(change).all()
    np.testing.assert_allclose(change.numpy(), expected, rtol=1e-9)


@pytest.mark.parametrize("name", PUBLISHED)
def test_drop_in_classes_build_their_catalog_genome(name):
    cls = getattr(published_mod, name)
    p = torch.nn.Parameter(torch.ones(2))
    opt = cls([p], lr=0.1, total_steps=10, warmup_steps=2)
    assert isinstance(opt, EvolvedOptimizer) and isinstance(opt, torch.optim.Optimizer)
    assert opt.genome == catalog.get(cls.catalog_name)
    p.grad = torch.ones(2)
    opt.step()


def test_published_function_takes_any_catalog_name():
    p = torch.nn.Parameter(torch.ones(2))
    opt = published_optimizer("Opt61", [p], lr=0.1, total_steps=10)
    assert opt.genome == catalog.get("Opt61")


# ---------------------------------------------------------------- EvolvedLR


@pytest.mark.parametrize("name", sorted(LR))
def test_evolved_lr_factor_is_the_spec_factor(name):
    T = 40
    table = schedule_factor_table(name, T)
    ref = [LR[name](t, T) for t in range(T)]
    np.testing.assert_allclose(table, ref, rtol=1e-5)


@pytest.mark.parametrize("opt_cls", [torch.optim.Adam, torch.optim.SGD])
def test_evolved_lr_drives_any_torch_optimizer(opt_cls):
    T, W = 30, 4
    p = torch.nn.Parameter(torch.ones(3))
    opt = opt_cls([p], lr=0.01)
    sched_ = EvolvedLR(opt, "LR2", total_steps=T, warmup_steps=W)
    seen = []
    for _ in range(T + 2):
        seen.append(opt.param_groups[0]["lr"])
        p.grad = torch.ones(3)
        opt.step()
        sched_.step()
    ref = [0.01 * base_lr_factor(t, T, W) * LR["LR2"](min(t, T - 1), T) for t in range(T + 2)]
    np.testing.assert_allclose(seen, ref, rtol=1e-5, atol=1e-12)
    # resumable like any torch scheduler
    sd = sched_.state_dict()
    other = EvolvedLR(opt_cls([p], lr=0.01), "LR2", total_steps=T, warmup_steps=W)
    other.load_state_dict(sd)
    assert other.last_epoch == sched_.last_epoch


def test_evolved_lr_with_evolved_optimizer_equals_the_lr_genome():
    """SGD driven by EvolvedLR('LR5') steps like the catalog genome LR5 (its factor on edges)."""
    T, W = 25, 3
    w0, _, loss = problem()
    ps = [torch.nn.Parameter(torch.tensor(w)) for w in w0]
    qs = [torch.nn.Parameter(torch.tensor(w)) for w in w0]
    sgd = EvolvedOptimizer(ps, catalog.get("SGD"), lr=0.05, total_steps=T, base_schedule=False)
    sched_ = EvolvedLR(sgd, "LR5", total_steps=T, warmup_steps=W)
    ref = EvolvedOptimizer(qs, catalog.get("LR5"), lr=0.05, total_steps=T, warmup_steps=W)
    for _ in range(20):
        for o, params in ((sgd, ps), (ref, qs)):
            o.zero_grad()
            loss(params).backward()
            o.step()
        sched_.step()
    for p, q in zip(ps, qs):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-9)
    with pytest.raises(ValueError, match="base_schedule=False"):
        EvolvedLR(EvolvedOptimizer(ps, catalog.get("SGD"), lr=0.1, total_steps=T), "LR5", total_steps=T)
