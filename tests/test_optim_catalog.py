"""Every catalog entry (no dropout) run by EvolvedOptimizer vs the SPEC section 9 formula in numpy.

The formulas below are written from SPEC section 9's tables, not from the genome files.
"""
from __future__ import annotations


import numpy as np
import pytest
import torch
from scipy import special as sps

from gp_opt import catalog
from gp_opt.optim import PUBLISHED, EvolvedLR, EvolvedOptimizer, published_optimizer
from gp_opt.optim import published as published_mod
from gp_opt.optim.schedules import base_lr_factor, schedule_factor_table

from support.optimizers import EPS, LR, REF, problem, qhm_reference, reference_run, sched


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
            return states.setdefault(id(s), qhm_reference())(g, w, s, t, T)
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
    num = sps.erfc(sps.erfc(sched("a4", T - 1, T)))
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
