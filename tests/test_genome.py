"""Genomes: seeded random initialisation, validity rules, JSON round trip and named errors."""
import json

import numpy as np
import pytest

from gp_opt.errors import GenomeError
from gp_opt.genome import OUTPUT, DecayGenome, OptimizerGenome


def sgd_dict(**over):
    d = {"schema": 1, "grammar": "default", "momentum": "none", "sign": 1,
         "nodes": {"h0": {"op": "identity", "inputs": ["g"]}, "out": {"op": "identity", "inputs": ["h0"]}}}
    d.update(over)
    return d


def test_same_seed_same_genome_and_different_seeds_differ():
    a = OptimizerGenome.random(np.random.default_rng(7))
    b = OptimizerGenome.random(np.random.default_rng(7))
    c = OptimizerGenome.random(np.random.default_rng(8))
    assert a == b and a.to_json() == b.to_json()
    assert a != c


def test_random_genomes_follow_the_rules():
    rng = np.random.default_rng(0)
    hidden_inputs = 0
    for _ in range(300):
        g = OptimizerGenome.random(rng)
        g.validate()
        assert len(g.hidden_nodes()) == 4
        assert any(s.startswith("h") for s in g.inputs(OUTPUT))
        for node in g.inner_nodes():
            ins = g.inputs(node)
            assert len(ins) == len(set(ins)) == g.grammar.ops[g.op(node)].arity
            hidden_inputs += sum(s.startswith("h") for s in ins if node != OUTPUT)
        for _, _, dec in g.decayed_edges():
            v = dec.values(100)
            assert float(v.min()) >= 0 and float(v.max()) <= 1
    assert hidden_inputs > 0  # hidden nodes do feed each other


def test_init_probabilities_roughly_match_spec():
    rng = np.random.default_rng(1)
    genomes = [OptimizerGenome.random(rng) for _ in range(600)]
    hidden_unary = np.mean([g.grammar.ops[g.op(h)].arity == 1 for g in genomes for h in g.hidden_nodes()])
    out_unary = np.mean([g.grammar.ops[g.op(OUTPUT)].arity == 1 for g in genomes])
    edges = [e for g in genomes for e in g.graph.edges(data="decay")]
    decayed = np.mean([d is not None for _, _, d in edges])
    momenta = {m: np.mean([g.momentum == m for g in genomes]) for m in ("none", "momentum", "nesterov")}
    assert hidden_unary == pytest.approx(0.75, abs=0.04)
    assert out_unary == pytest.approx(0.25, abs=0.06)
    assert decayed == pytest.approx(0.15, abs=0.03)
    assert all(abs(p - 1 / 3) < 0.07 for p in momenta.values())


def test_active_nodes():
    g = OptimizerGenome.from_nodes({
        "h0": ("identity", ["g"]), "h1": ("exp", ["v_hat"]), "out": ("tanh", ["h0"])})
    assert g.active_inner_nodes() == ["h0", "out"]
    assert g.active_operands() == ["g"]
    assert "h1" in g.inner_nodes()  # inactive nodes stay in the genome


def test_round_trip_keeps_inactive_nodes_decays_meta_and_sign():
    d = DecayGenome.from_nodes({"h0": ("identity", ["a1"]), "out": ("max", ["a6", "a10"])})
    g = OptimizerGenome.from_nodes(
        {"h0": ("asinh", ["qh_g"]), "h1": ("erf", ["g"]), "out": ("tanh", [("h0", d)])},
        momentum="nesterov", sign=-1, meta={"name": "x"})
    text = g.to_json()
    back = OptimizerGenome.from_json(text)
    assert back == g and back.to_json() == text and back.meta == {"name": "x"}
    assert back.sign == -1 and back.decay("h0", "out") == d


# ---------------------------------------------------------------- named errors

@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(schema=99), r"'schema' is 99"),
    (lambda d: d.pop("nodes"), r"missing field 'nodes'"),
    (lambda d: d.update(momentum="adam"), r"momentum 'adam'"),
    (lambda d: d.update(sign=0), r"sign must be 1 or -1"),
    (lambda d: d["nodes"]["h0"].update(op="frobnicate"), r"node 'h0': unknown op 'frobnicate'"),
    (lambda d: d["nodes"]["h0"].update(op="add"), r"node 'h0': op 'add' takes 2 input\(s\), got 1"),
    (lambda d: d["nodes"]["h0"].update(inputs=["nabla"]), r"node 'h0': unknown input 'nabla'"),
    (lambda d: d["nodes"]["out"].update(inputs=["g"]), r"output node must take at least one hidden"),
    (lambda d: d["nodes"].update(bad={"op": "exp", "inputs": ["g"]}), r"node name 'bad'"),
    (lambda d: d["nodes"]["h0"].update(op="add", inputs=["g", "g"]), r"the two inputs must differ"),
    (lambda d: d["nodes"]["h0"].update(op="square"), r"op 'square' is not allowed in this graph"),
])
def test_invalid_genomes_raise_named_errors(mutate, message):
    d = sgd_dict()
    mutate(d)
    with pytest.raises(GenomeError, match=message):
        OptimizerGenome.from_dict(d)


def test_cycle_is_named():
    d = sgd_dict(nodes={"h0": {"op": "exp", "inputs": ["h1"]}, "h1": {"op": "exp", "inputs": ["h0"]},
                        "out": {"op": "identity", "inputs": ["h0"]}})
    with pytest.raises(GenomeError, match=r"cycle \((h0 -> h1|h1 -> h0)"):
        OptimizerGenome.from_dict(d)


def test_malformed_json():
    with pytest.raises(GenomeError, match="malformed JSON"):
        OptimizerGenome.from_json('{"schema": 1, "nodes": ')
    with pytest.raises(GenomeError, match="expected a JSON object"):
        OptimizerGenome.from_json("[1, 2]")


def test_decay_outside_unit_interval_is_named():
    bad = {"nodes": {"h0": {"op": "identity", "inputs": ["a1"]}, "out": {"op": "add", "inputs": ["a1", "a2"]}}}
    with pytest.raises(GenomeError, match=r"decay function on edge g -> h0: d\(t\) leaves \[0, 1\] .*max 1"):
        OptimizerGenome.from_dict(sgd_dict(nodes={
            "h0": {"op": "identity", "inputs": [{"from": "g", "decay": {"nodes": {
                "h0": {"op": "identity", "inputs": ["a1"]}, "out": {"op": "add", "inputs": ["a3", "a2"]}}}}]},
            "out": {"op": "identity", "inputs": ["h0"]}}))
    # a1 + a2 = 1 exactly: valid
    DecayGenome.from_dict(bad)


def test_decay_unknown_schedule():
    with pytest.raises(GenomeError, match=r"unknown input 'a99'"):
        DecayGenome.from_dict({"nodes": {"out": {"op": "tanh", "inputs": ["a99"]}}})


def test_random_decay_seeded_and_valid():
    rng = np.random.default_rng(3)
    ds = [DecayGenome.random(rng) for _ in range(200)]
    for d in ds:
        d.validate()
    assert DecayGenome.random(np.random.default_rng(9)) == DecayGenome.random(np.random.default_rng(9))
    assert json.loads(json.dumps(ds[0].to_dict())) == ds[0].to_dict()
