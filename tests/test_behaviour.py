"""The behavioural distance: 0 for the same optimizer, positive for a different one, inf for a
non-finite one, independent of the batch, on gradients that are the problems' true gradients."""
import math

import numpy as np
import pytest
import torch

from gp_opt import behaviour as B
from gp_opt import catalog, dedup
from gp_opt.behaviour.panel import panel_data
from gp_opt.errors import GpOptError
from gp_opt.genome import OptimizerGenome
from gp_opt.mutation import mutate


def G(nodes, momentum="none", sign=1):
    return OptimizerGenome.from_nodes(nodes, momentum=momentum, sign=sign)


ADAM = {"h0": ("sqrt_abs", ["s_hat"]), "out": ("div", ["v_hat", "h0"])}


def test_zero_for_the_target_itself_and_with_a_dead_branch():
    adam = catalog.get("Adam")
    dead = G({**ADAM, "h1": ("exp", ["g3"]), "h2": ("add", ["h1", "g"])})   # h1, h2 reach nothing
    flipped = G({"h0": ("neg", ["g"]), "out": ("identity", ["h0"])}, sign=-1)  # -(-g) = SGD
    assert B.distance([adam, dead], adam).tolist() == [0.0, 0.0]
    assert B.distance([flipped], catalog.get("SGD")).tolist() == [0.0]
    assert B.behaviourally_equal(dead, adam)
    assert B.distance_matrix([adam, dead]).tolist() == [[0.0, 0.0], [0.0, 0.0]]


def test_positive_for_mutants_and_other_optimizers():
    adam = catalog.get("Adam")
    rng = np.random.default_rng(0)
    target_fp = dedup.fingerprint(adam)
    mutants = []
    while len(mutants) < 40:
        child, _ = mutate(adam, rng)
        if dedup.fingerprint(child) != target_fp:   # a mutant that computes something else
            mutants.append(child)
    d = B.distance(mutants, adam)
    assert (d > 0).all(), d
    # tiny differences still show: a 1e-6 w weight-decay term, on both panels
    wd = G({"h0": ("sqrt_abs", ["s_hat"]), "h1": ("div", ["v_hat", "h0"]), "out": ("add", ["h1", "wd6"])})
    assert 0 < B.distance([wd], adam)[0] < 1e-4
    assert not B.behaviourally_equal(wd, adam)
    assert not B.behaviourally_equal(catalog.get("Momentum"), catalog.get("Nesterov"))
    m = B.distance_matrix([catalog.get(n) for n in ("SGD", "Momentum", "RMSProp", "Adam")])
    off = m[~np.eye(4, dtype=bool)]
    assert (off > 0.05).all() and (off <= 2).all()


def test_nonfinite_and_broken_candidates_are_infinitely_far():
    adam = catalog.get("Adam")
    blowup = G({"h0": ("exp", ["two"]), "h1": ("exp", ["h0"]), "h2": ("exp", ["h1"]), "out": ("mul", ["g", "h2"])})
    broken = G(ADAM)
    broken.graph.nodes["out"]["op"] = "no_such_op"
    d = B.distance([blowup, broken, adam], adam)
    assert math.isinf(d[0]) and math.isinf(d[1]) and d[2] == 0.0
    tr = B.fingerprint([broken])
    assert tr.reasons[0] and not bool(tr.finite.any())
    with pytest.raises(GpOptError, match="not finite on any run"):
        B.distance([adam], blowup)


def test_the_same_distance_in_any_batch():
    rng = np.random.default_rng(3)
    from gp_opt.mutation import random_valid_many

    genomes = random_valid_many(rng, 30)
    target = catalog.get("RMSProp")
    ref = B.fingerprint([target])
    together = B.distance(genomes, ref)
    alone = np.concatenate([B.distance([g], target) for g in genomes[:6]])
    shifted = B.distance(genomes[7:25], ref)
    assert np.array_equal(together[:6], alone)
    assert np.array_equal(together[7:25], shifted)
    # from stored trajectories, the same numbers
    assert np.allclose(B.distance(B.fingerprint(genomes[:10]), ref), together[:10], rtol=1e-6, equal_nan=True)


@pytest.mark.parametrize("panel", [B.SEARCH_PANEL, B.VERIFY_PANEL], ids=["search", "verify"])
def test_panel_gradients_are_the_losses_gradients(panel):
    data = panel_data(panel)
    x = torch.randn(5, panel.dim, dtype=panel.torch_dtype, generator=torch.Generator().manual_seed(1))
    tol = 1e-4 if panel.dtype == "float32" else 1e-10
    for (_, grad), loss, name in zip(data.grads, data.losses, panel.problems):
        v = x.clone().requires_grad_(True)
        (auto,) = torch.autograd.grad(loss(v).sum(), v)
        assert torch.allclose(grad(x), auto, atol=tol, rtol=tol), name
