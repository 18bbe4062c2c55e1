"""Behavioural fingerprints (equal for the same optimizer, different otherwise) and the cache."""
import json

import numpy as np
import pytest

from gp_opt import dedup
from gp_opt.errors import CheckpointError
from gp_opt.fitness import FitnessRecord
from gp_opt.genome import DecayGenome, OptimizerGenome
from gp_opt.mutation import mutate

fp = dedup.fingerprint


def G(nodes, momentum="none", sign=1):
    return OptimizerGenome.from_nodes(nodes, momentum=momentum, sign=sign)


SGD = {"h0": ("identity", ["g"]), "out": ("identity", ["h0"])}


def test_equal_behaviour_equal_fingerprint():
    assert fp(G(SGD)) == fp(G({"h0": ("neg", ["g"]), "out": ("neg", ["h0"])}))
    # the flip is part of the optimizer: -g flipped is g
    assert fp(G(SGD)) == fp(G({"h0": ("neg", ["g"]), "out": ("identity", ["h0"])}, sign=-1))
    # commutative inputs, an inactive node, and relu of something positive change nothing
    a = G({"h0": ("tanh", ["g"]), "out": ("add", ["v_hat", "h0"])})
    b = G({"h0": ("tanh", ["g"]), "out": ("add", ["h0", "v_hat"])})
    c = G({"h0": ("tanh", ["g"]), "h1": ("exp", ["s_hat"]), "out": ("add", ["h0", "v_hat"])})
    assert fp(a) == fp(b) == fp(c)
    assert fp(G({"h0": ("exp", ["g"]), "out": ("relu", ["h0"])})) == fp(G({"h0": ("exp", ["g"]), "out": ("identity", ["h0"])}))


def test_different_behaviour_different_fingerprint():
    base = fp(G(SGD))
    others = [
        G({"h0": ("identity", ["v_hat"]), "out": ("identity", ["h0"])}),
        G({"h0": ("identity", ["g"]), "out": ("add", ["h0", "wd6"])}),          # a 1e-6 w term
        G({"h0": ("ema", ["g"]), "out": ("identity", ["h0"])}),
        G({"h0": ("delta", ["g"]), "out": ("identity", ["h0"])}),
        G({"h0": ("norm", ["g"]), "out": ("identity", ["h0"])}),
        G({"h0": ("drop_0.1", ["g"]), "out": ("identity", ["h0"])}),
        G(SGD, momentum="nesterov"),
        G(SGD, sign=-1),
        G({"h0": ("identity", [("g", DecayGenome.from_nodes({"h0": ("identity", ["a1"]),
                                                            "out": ("identity", ["h0"])}))]),
           "out": ("identity", ["h0"])}),
    ]
    keys = [fp(g) for g in others]
    assert base not in keys and len(set(keys)) == len(keys)


def test_fingerprint_is_deterministic_and_batched_equals_single():
    rng = np.random.default_rng(0)
    genomes = []
    for _ in range(60):
        g = OptimizerGenome.random(rng)
        genomes += [g, mutate(g, rng)[0]]
    genomes.append(G({"h0": ("drop_0.5", ["g"]), "out": ("identity", ["h0"])}))
    many = dedup.fingerprint_many(genomes)
    assert many == [fp(g) for g in genomes[::-1]][::-1]
    assert many == dedup.fingerprint_many([OptimizerGenome.from_json(g.to_json()) for g in genomes])
    assert all(k.startswith(dedup.FINGERPRINT_PREFIX) for k in many)
    # random genomes are nearly all different optimizers
    assert len(set(many)) > 0.8 * len(many)


def test_cache_hits_by_either_key_and_round_trips():
    cache = dedup.FitnessCache(use_canonical=False)
    a = G(SGD)
    same = G({"h0": ("neg", ["g"]), "out": ("neg", ["h0"])})
    other = G({"h0": ("identity", ["v_hat"]), "out": ("identity", ["h0"])})
    assert cache.lookup(a) is None
    cache.store(a, FitnessRecord(0.5, stages=[{"lr": 0.1}]))
    assert cache.lookup(same).fitness == 0.5
    assert cache.lookup(other) is None
    assert (cache.hits, cache.misses, len(cache)) == (1, 2, 1)
    # a hit by one key files the record under the others it lacked
    cache.store(None, FitnessRecord.rejected("screen"), keys=["eq:x", "fp1:y"])
    assert cache.lookup(keys=["eq:x", "fp1:z"]).status == "rejected"
    assert "fp1:z" in cache and cache.get("fp1:z").reason == "screen"
    back = dedup.FitnessCache.from_dict(json.loads(json.dumps(cache.to_dict())))
    assert back.lookup(same).fitness == 0.5 and back.get("fp1:y").fitness == float("-inf")
    assert (back.hits, back.misses) == (cache.hits + 1, cache.misses)


@pytest.mark.parametrize("bad", [None, [], {"version": 99}, {"version": 1, "records": "x", "index": {}},
                                 {"version": 1, "records": [], "index": {"k": 3}}])
def test_corrupt_cache_is_a_clear_error(bad):
    with pytest.raises(CheckpointError):
        dedup.FitnessCache.from_dict(bad)


def test_keys_include_the_fingerprint():
    ks = dedup.keys(G(SGD))
    assert ks[-1] == fp(G(SGD))
    assert all(isinstance(k, str) for k in ks)
