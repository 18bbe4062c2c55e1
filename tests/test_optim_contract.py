"""The torch.optim contract of EvolvedOptimizer and every drop-in (Opt1..Opt10, A1..A5, QHM,
PowerSign, AddSign): deepcopy and pickle, tensor learning rates, decoupled weight decay,
``maximize``, complex parameters, and the torch flags a genome's step refuses.

Weight decay is checked against the independent numpy reference of tests/test_optim.py (SPEC
section 1) with the SPEC section 9 formulas of tests/test_optim_catalog.py.
"""
from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch

from gp_opt import catalog
from gp_opt.errors import GpOptError, OptimizerError
from gp_opt.genome import OptimizerGenome
from gp_opt.optim import PUBLISHED, EvolvedOptimizer
from gp_opt.optim import published as published_mod

from support.optimizers import FINALIST_WITH_NORM, REF, case, hand_genome, problem, qhm_reference, reference_run

T, W, H = 40, 5, 3


def drop_in(name, params, lr=0.05, **kw):
    return getattr(published_mod, name)(params, lr=lr, total_steps=T, warmup_steps=W, hold_steps=H, **kw)


RANDOM = {name: case(name) for name in ("random3", "random11")}


def build(name, params, **kw):
    if name in RANDOM:
        return EvolvedOptimizer(params, RANDOM[name], lr=kw.pop("lr", 0.05), total_steps=T,
                                warmup_steps=W, hold_steps=H, **kw)
    return drop_in(name, params, **kw)


def fresh_params(dtype=torch.float64, seed=0):
    w0, _, loss = problem(seed)
    return [torch.nn.Parameter(torch.tensor(w, dtype=dtype)) for w in w0], loss


def train(opt, params, loss, steps, sign=1.0):
    for _ in range(steps):
        opt.zero_grad()
        (sign * loss(params)).backward()
        opt.step()
    return [p.detach().clone() for p in params]


def same(a, b):
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, rtol=0, atol=0, equal_nan=True)


# ---------------------------------------------------------------- deepcopy and pickle


@pytest.mark.parametrize("name", list(PUBLISHED) + sorted(RANDOM))
@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_copies_step_like_the_original(name, how):
    params, loss = fresh_params()
    opt = build(name, params)
    train(opt, params, loss, 5)          # state exists (moving averages, stateful nodes, m)
    if how == "deepcopy":
        params2, opt2 = copy.deepcopy((params, opt))
    else:
        params2, opt2 = pickle.loads(pickle.dumps((params, opt)))
    assert type(opt2) is type(opt) and opt2.genome == opt.genome
    assert opt2.param_groups[0]["params"][0] is params2[0]
    a = train(opt, params, loss, 20)
    b = train(opt2, params2, loss, 20)
    same(a, b)
    assert not torch.equal(a[0], fresh_params()[0][0].detach())  # it moved


def test_pickled_optimizer_of_a_custom_grammar_rebuilds_its_grammar():
    """QHM's genome uses the paper grammar (an ``extends`` file): it comes back identical."""
    params, loss = fresh_params()
    opt = drop_in("QHM", params)
    train(opt, params, loss, 3)
    blob = pickle.dumps(opt)
    opt2 = pickle.loads(blob)
    assert opt2.genome.grammar.name == "paper" and opt2.genome == opt.genome


# ---------------------------------------------------------------- tensor learning rates


@pytest.mark.parametrize("name", PUBLISHED)
def test_one_element_tensor_lr_of_any_shape_steps_like_a_float(name):
    params, loss = fresh_params()
    ref = train(drop_in(name, params, lr=0.05), params, loss, 6)
    for shape in [(), (1,), (1, 1), (1, 1, 1)]:
        ps, _ = fresh_params()
        got = train(drop_in(name, ps, lr=torch.full(shape, 0.05, dtype=torch.float64)), ps, loss, 6)
        same(ref, got)


def _sliced_run(name, lr0, lr1, n, chunk_size):
    gen = torch.Generator().manual_seed(0)
    w0 = torch.randn(n, generator=gen, dtype=torch.float64)
    w1 = torch.randn(300, generator=gen, dtype=torch.float64)
    grads = [torch.randn(n, generator=gen, dtype=torch.float64) for _ in range(3)]
    a, b = torch.nn.Parameter(w0.clone()), torch.nn.Parameter(w1.clone())
    opt = drop_in(name, [{"params": [a], "lr": lr0}, {"params": [b], "lr": lr1}], lr=0.1,
                  chunk_size=chunk_size)
    for g in grads:
        a.grad, b.grad = g, g[:300] * 2
        opt.step()
    chunks = opt._buckets[0].chunks
    # A5 has norm: never sliced, one slice is the whole buffer (its temporaries in scratch)
    size = 2 ** 18 if chunk_size == "auto" else chunk_size
    assert len(chunks) == (1 if name == "A5" else -(-(n + 300) // size))
    return [a.detach(), b.detach()]


@pytest.mark.parametrize("name", PUBLISHED)
def test_tensor_lr_on_the_sliced_path(name):
    """Two groups (so a per-element lr) in one bucket run on slices; (1, 1) and (1,) lrs."""
    lrs = (torch.tensor([[0.01]], dtype=torch.float64), torch.tensor([0.03], dtype=torch.float64))
    same(_sliced_run(name, 0.01, 0.03, 1000, 128), _sliced_run(name, *lrs, 1000, 128))


def test_tensor_lr_on_the_default_sliced_path():
    """More than 2**18 numbers: the default CPU step runs on slices of 2**18."""
    lrs = (torch.tensor([[0.01]], dtype=torch.float64), torch.tensor([0.03], dtype=torch.float64))
    n = 2 ** 18 + 1000
    same(_sliced_run("Opt6", 0.01, 0.03, n, "auto"), _sliced_run("Opt6", *lrs, n, "auto"))


def test_tensor_lr_changed_in_place_is_followed():
    """An LR scheduler fills a tensor lr in place; the next step uses the new value."""
    lr = torch.tensor([0.05], dtype=torch.float64)
    params, loss = fresh_params()
    opt = drop_in("Opt6", params, lr=lr, base_schedule=False)
    ps, _ = fresh_params()
    ref = drop_in("Opt6", ps, lr=0.05, base_schedule=False)
    for k in range(4):
        lr.fill_(0.05 / (k + 1))
        ref.param_groups[0]["lr"] = 0.05 / (k + 1)
        a = train(opt, params, loss, 1)
        b = train(ref, ps, loss, 1)
    same(a, b)


@pytest.mark.parametrize("bad", [torch.tensor([0.1, 0.2]), torch.zeros(2, 1), torch.tensor([]),
                                 torch.tensor(-0.1), -1.0, "0.1", torch.tensor([1j])])
def test_bad_lr_is_a_value_error_at_construction(bad):
    params, _ = fresh_params()
    with pytest.raises(ValueError, match="learning rate") as info:
        drop_in("Opt6", params, lr=bad)
    assert isinstance(info.value, OptimizerError) and isinstance(info.value, GpOptError)
    with pytest.raises(ValueError, match="param group 1: lr"):
        drop_in("Opt6", [{"params": params[:1]}, {"params": params[1:], "lr": bad}])


# ---------------------------------------------------------------- decoupled weight decay


def _reference(name):
    genome = catalog.get(published_mod.CATALOG_NAMES.get(name, name))
    if name == "QHM":
        states = {}
        return genome, "none", lambda g, w, s, t, T_: states.setdefault(id(s), qhm_reference())(g, w, s, t, T_)
    return (genome, *REF[published_mod.CATALOG_NAMES.get(name, name)])


@pytest.mark.parametrize("name", PUBLISHED)
def test_weight_decay_equals_the_numpy_reference(name):
    genome, momentum, U = _reference(name)
    w0, grad, loss = problem()
    lr, wd, steps = 0.05, 0.3, 30
    ref = reference_run(U, momentum, 1, w0, grad, steps, lr, T, W, H, wd=wd)
    plain = reference_run(U, momentum, 1, w0, grad, steps, lr, T, W, H)
    params = [torch.nn.Parameter(torch.tensor(w)) for w in w0]
    train(drop_in(name, params, lr=lr, weight_decay=wd), params, loss, steps)
    for r, p, q in zip(ref, params, plain):
        np.testing.assert_allclose(p.detach().numpy(), r, rtol=1e-5, atol=1e-7)
        assert not np.allclose(r, q, rtol=1e-4, atol=1e-6)  # the decay really changed the run


def test_weight_decay_is_per_group_and_off_by_default():
    params, loss = fresh_params()
    assert drop_in("Opt6", params).param_groups[0]["weight_decay"] == 0.0
    w0, grad, _ = problem()
    _, momentum, U = _reference("Opt10")
    # group 0 with decay 0.2, the rest without: each matches its own reference
    ps = [torch.nn.Parameter(torch.tensor(w)) for w in w0]
    opt = drop_in("Opt10", [{"params": ps[:1], "weight_decay": 0.2}, {"params": ps[1:]}])
    train(opt, ps, loss, 25)
    with_wd = reference_run(U, momentum, 1, w0, grad, 25, 0.05, T, W, H, wd=0.2)
    without = reference_run(U, momentum, 1, w0, grad, 25, 0.05, T, W, H)
    np.testing.assert_allclose(ps[0].detach().numpy(), with_wd[0], rtol=1e-5, atol=1e-7)
    for p, r in zip(ps[1:], without[1:]):
        np.testing.assert_allclose(p.detach().numpy(), r, rtol=1e-5, atol=1e-7)


def test_weight_decay_on_the_sliced_path_equals_one_call():
    n = 2 ** 18 + 77
    gen = torch.Generator().manual_seed(1)
    w0 = torch.randn(n, generator=gen, dtype=torch.float64)
    grads = [torch.randn(n, generator=gen, dtype=torch.float64) for _ in range(3)]

    def run(chunk_size):
        w = torch.nn.Parameter(w0.clone())
        opt = drop_in("Opt6", [w], weight_decay=0.1, chunk_size=chunk_size)
        for g in grads:
            w.grad = g
            opt.step()
        return [w.detach()]

    same(run("auto"), run(None))


@pytest.mark.parametrize("bad", [-0.1, "0.1", True])
def test_bad_weight_decay_is_refused(bad):
    params, _ = fresh_params()
    with pytest.raises(OptimizerError, match="weight decay"):
        drop_in("Opt6", params, weight_decay=bad)


# ---------------------------------------------------------------- maximize


@pytest.mark.parametrize("name", list(PUBLISHED) + sorted(RANDOM))
def test_maximize_equals_stepping_minus_the_loss(name):
    params, loss = fresh_params()
    a = train(build(name, params, maximize=True), params, loss, 12, sign=-1.0)
    ps, _ = fresh_params()
    b = train(build(name, ps), ps, loss, 12)
    same(a, b)


def test_maximize_per_group():
    params, loss = fresh_params()
    opt = drop_in("Opt1", [{"params": params[:1], "maximize": True}, {"params": params[1:]}])
    for _ in range(6):
        opt.zero_grad()
        l0 = -sum((0.5 * p ** 2).sum() for p in params[:1])
        l1 = sum((0.5 * p ** 2).sum() for p in params[1:])
        (l0 + l1).backward()
        opt.step()
    ps, _ = fresh_params()
    ref = drop_in("Opt1", ps)
    for _ in range(6):
        ref.zero_grad()
        sum((0.5 * p ** 2).sum() for p in ps).backward()
        ref.step()
    same([p.detach() for p in params], [p.detach() for p in ps])


# ---------------------------------------------------------------- complex parameters


@pytest.mark.parametrize("name", ["Opt6", "Opt10", "A5", "PowerSign", "random3"])
def test_complex_parameters_step_as_their_real_view(name):
    """A complex parameter steps exactly like a real one holding (re, im) pairs."""
    gen = torch.Generator().manual_seed(2)
    z0 = torch.randn(4, 3, generator=gen, dtype=torch.complex128)
    x0 = torch.randn(5, generator=gen, dtype=torch.float64)
    grads = [(torch.randn(4, 3, generator=gen, dtype=torch.complex128),
              torch.randn(5, generator=gen, dtype=torch.float64)) for _ in range(8)]
    z, x = torch.nn.Parameter(z0.clone()), torch.nn.Parameter(x0.clone())
    r, y = torch.nn.Parameter(torch.view_as_real(z0).clone()), torch.nn.Parameter(x0.clone())
    oz, orr = build(name, [z, x]), build(name, [r, y])
    for gz, gx in grads:
        z.grad, x.grad = gz, gx
        r.grad, y.grad = torch.view_as_real(gz).clone(), gx.clone()
        oz.step()
        orr.step()
    assert z.dtype == torch.complex128
    same([torch.view_as_real(z.detach()), x.detach()], [r.detach(), y.detach()])
    # the state dict round trip works with complex parameters too
    z2, x2 = torch.nn.Parameter(z.detach().clone()), torch.nn.Parameter(x.detach().clone())
    o2 = build(name, [z2, x2])
    o2.load_state_dict(copy.deepcopy(oz.state_dict()))
    z.grad, x.grad = grads[0]
    z2.grad, x2.grad = grads[0]
    oz.step()
    o2.step()
    same([z.detach(), x.detach()], [z2.detach(), x2.detach()])


def test_complex_norm_is_the_complex_norm():
    """``norm`` over a complex parameter's real view is ||z||_2 (A5's clip then norm)."""
    z = torch.nn.Parameter(torch.zeros(3, dtype=torch.complex128))
    genome = OptimizerGenome.from_nodes({"h0": ("identity", ["g"]), "out": ("norm", ["h0"])})
    opt = EvolvedOptimizer([z], genome, lr=1.0, total_steps=10)
    g = torch.tensor([3 + 4j, 0, 0], dtype=torch.complex128)  # ||g|| = 5
    z.grad = g
    opt.step()
    torch.testing.assert_close(z.detach(), -g / 5)




def _rosenbrock(z):
    x, y = z[0], z[1]
    return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2


@pytest.mark.parametrize("cdtype", [torch.complex64, torch.complex128])
def test_complex_through_norm_matches_the_real_view_as_torch_suite_steps_it(cdtype):
    """torch's ``test_complex_2d`` on the campaign finalist with ``norm`` (issue 21 item 9):
    against its ``view_as_real`` the complex parameter steps bit for bit; against its real and
    imaginary parts given as two parameters it differs, and only because of ``norm`` (one norm
    over the tensor, not one per half): the same run without the norm node agrees."""
    from pathlib import Path
    genome = catalog.load(Path(__file__).resolve().parents[1] / FINALIST_WITH_NORM)
    assert "norm" in [genome.op(n) for n in genome.active_inner_nodes()]
    data = genome.to_dict()
    data["nodes"] = {k: ({**v, "op": "identity"} if v["op"] == "norm" else v) for k, v in data["nodes"].items()}
    no_norm = OptimizerGenome.from_dict(data, genome.grammar)

    def run(g):
        torch.manual_seed(0)
        a = torch.randn(2, dtype=cdtype, requires_grad=True)
        view = torch.view_as_real(a).detach().clone().requires_grad_()
        re, im = a.real.detach().clone().requires_grad_(), a.imag.detach().clone().requires_grad_()
        kw = dict(lr=1e-2, total_steps=10)
        opts = [EvolvedOptimizer([a], g, **kw), EvolvedOptimizer([view], g, **kw),
                EvolvedOptimizer([re, im], g, **kw)]
        for _ in range(3):
            for o in opts:
                o.zero_grad()
            _rosenbrock(a).abs().backward()
            _rosenbrock(torch.view_as_complex(view)).abs().backward()
            _rosenbrock(torch.complex(re, im)).abs().backward()
            for o in opts:
                o.step()
        return ((torch.view_as_real(a) - view).abs().max().item(),
                max((a.real - re).abs().max().item(), (a.imag - im).abs().max().item()))

    vs_view, vs_halves = run(genome)
    assert vs_view == 0.0
    assert vs_halves > 1e-6
    assert run(no_norm) == (0.0, 0.0)


def test_tensor_lr_error_carries_torchs_wording():
    """torch's ``test_errors`` matches ``ValueError`` and "Tensor lr must be 1-element"."""
    params, _ = fresh_params()
    with pytest.raises(ValueError, match="Tensor lr must be 1-element"):
        EvolvedOptimizer(params, catalog.get("Opt6"), lr=torch.tensor([0.001, 0.001]), total_steps=10)
    with pytest.raises(ValueError, match="Tensor lr must be 1-element"):
        drop_in("Opt10", params, lr=torch.tensor([0.001, 0.001]))
    opt = drop_in("Opt6", params)
    with pytest.raises(ValueError, match="Tensor lr must be 1-element"):
        opt.add_param_group({"params": [torch.nn.Parameter(torch.zeros(2))], "lr": torch.zeros(3)})


# ---------------------------------------------------------------- refused flags


@pytest.mark.parametrize("flag", ["foreach", "fused", "differentiable"])
def test_torch_flags_true_are_refused_and_off_values_accepted(flag):
    params, _ = fresh_params()
    with pytest.raises(OptimizerError, match=f"{flag}=True is not supported"):
        drop_in("Opt6", params, **{flag: True})
    with pytest.raises(OptimizerError, match=flag):
        EvolvedOptimizer(params, catalog.get("Opt6"), lr=0.1, total_steps=10, **{flag: True})
    for off in (None, False):
        drop_in("Opt6", params, **{flag: off})


def test_stateful_hand_genome_survives_deepcopy_mid_run():
    params, loss = fresh_params()
    opt = EvolvedOptimizer(params, hand_genome("stateful_momentum"), lr=0.05, total_steps=T)
    train(opt, params, loss, 4)
    params2, opt2 = copy.deepcopy((params, opt))
    assert set(opt2.state[params2[0]]) == set(opt.state[params[0]])
    same(train(opt, params, loss, 20), train(opt2, params2, loss, 20))
