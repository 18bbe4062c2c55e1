"""Mutation (SPEC section 7): validity over many seeded mutations, only active nodes change, the
output's hidden-input rule, decay mutation stays in [0, 1], mutate_valid and random_valid."""
import collections

import networkx as nx
import numpy as np
import pytest

from gp_opt import integrity as I
from gp_opt import mutation as M
from gp_opt.dedup import fingerprint
from gp_opt.errors import GpOptError
from gp_opt.genome import OUTPUT, DecayGenome, OptimizerGenome


_DECAY_SIGS: dict[int, tuple] = {}


def decay_sig(dec) -> tuple:
    """The decay's structure, cached per object (the object is kept alive, so ids stay unique;
    mutation never edits a decay function in place)."""
    hit = _DECAY_SIGS.get(id(dec))
    if hit is None or hit[0] is not dec:
        hit = _DECAY_SIGS[id(dec)] = (dec, I.decay_signature(dec), I.decay_in_range(dec))
    return hit[1:]


def signature(g: OptimizerGenome) -> dict:
    """Each inner node's op and inputs (with the decay structure on each edge), read straight from
    the graph's dicts: cheap enough for 10,000 comparisons."""
    pred, attrs = g.graph._pred, g.graph._node
    out = {}
    for n, a in attrs.items():
        if a["kind"] != "operand":
            ins = sorted(pred[n].items(), key=lambda kv: kv[1]["pos"])
            out[n] = (a["op"], tuple((s, e["pos"], None if e.get("decay") is None
                                      else decay_sig(e["decay"])) for s, e in ins))
    return out


def active(sig: dict) -> set:
    seen, stack = {OUTPUT}, [OUTPUT]
    while stack:
        for s, _, _ in sig[stack.pop()][1]:
            if s in sig and s not in seen:
                seen.add(s)
                stack.append(s)
    return seen


def structure_problems(g: OptimizerGenome, sig: dict) -> list[str]:
    """genome.validate()'s rules, checked on the signature."""
    gr = g.grammar
    out = []
    allowed = set(gr.update_unary) | set(gr.update_binary)
    for node, (op, ins) in sig.items():
        srcs = [s for s, _, _ in ins]
        if op not in allowed or gr.ops[op].arity != len(ins):
            out.append(f"{node}: {op} with {len(ins)} inputs")
        if len(set(srcs)) != len(srcs):
            out.append(f"{node}: repeated input")
        if [p for _, p, _ in ins] != list(range(len(ins))):
            out.append(f"{node}: positions")
        if any(s not in sig and s not in gr.operands for s in srcs) or OUTPUT in srcs:
            out.append(f"{node}: bad source")
    for node, (_, ins) in sig.items():
        for src, _, dec in ins:
            if dec is not None and not dec[1]:
                out.append(f"decay on {src}->{node}")
    if not any(s in sig for s, _, _ in sig[OUTPUT][1]):
        out.append("output without hidden input")
    state = {}

    def cyclic(n):
        if state.get(n) == 1:
            return True
        if state.get(n) == 2 or n not in sig:
            return False
        state[n] = 1
        if any(cyclic(s) for s, _, _ in sig[n][1]):
            return True
        state[n] = 2
        return False

    if any(cyclic(n) for n in sig):
        out.append("cycle")
    if g.momentum not in gr.momentum or g.sign not in (1, -1):
        out.append("momentum/sign")
    return out


def test_ten_thousand_seeded_mutations_stay_valid_and_touch_only_active_nodes():
    rng = np.random.default_rng(2024)
    pool = [OptimizerGenome.random(rng) for _ in range(20)]
    sigs = [signature(g) for g in pool]
    kinds = collections.Counter()
    for i in range(10_000):
        k = int(rng.integers(len(pool)))
        parent, psig = pool[k], sigs[k]
        child, desc = M.mutate(parent, rng)
        kinds[desc.split()[0].rstrip(":")] += 1
        csig = signature(child)
        assert signature(parent) == psig, "the parent must not change"
        # every inner node of the child exists in the parent; inactive ones are untouched
        changed = {n for n in psig if psig[n] != csig[n]}
        assert changed <= active(psig), f"inactive node touched by {desc}"
        if not changed:
            assert desc.startswith(("momentum", "decay")), desc
        problems = structure_problems(child, csig)
        assert not problems, (desc, problems, child)
        if i % 500 == 0:
            child.validate()  # the genome module's own, complete validation
            assert child != parent
        pool[k], sigs[k] = child, csig
    total = sum(kinds.values())
    # SPEC 7 probabilities: 40 % op, 30 % connection (20 % of binary ones swap), 10 % each other
    assert kinds["op"] / total == pytest.approx(0.4, abs=0.03)
    assert (kinds["connection"] + kinds["swap"]) / total == pytest.approx(0.3, abs=0.03)
    for kind in ("arity", "momentum", "decay"):
        assert kinds[kind] / total == pytest.approx(0.1, abs=0.02)


def test_only_active_nodes_change_in_full_detail():
    rng = np.random.default_rng(8)
    for _ in range(300):
        parent = OptimizerGenome.random(rng)
        inactive = [n for n in parent.inner_nodes() if n not in parent.active_nodes()]
        before = {n: (parent.op(n), [(s, d and d.to_dict()) for s, d in parent.input_edges(n)]) for n in inactive}
        text = parent.to_json()
        child, desc = M.mutate(parent, rng)
        after = {n: (child.op(n), [(s, d and d.to_dict()) for s, d in child.input_edges(n)]) for n in inactive}
        assert before == after, desc
        assert parent.to_json() == text and child != parent


def test_same_seed_same_child():
    parent = OptimizerGenome.random(np.random.default_rng(1))
    a = M.mutate(parent, np.random.default_rng(9))
    b = M.mutate(parent, np.random.default_rng(9))
    assert a[0] == b[0] and a[1] == b[1]
    assert a[0].meta == {"mutation": a[1]}


def test_output_keeps_a_hidden_input():
    # output binary with exactly one hidden input: every connection/arity change must keep one
    g = OptimizerGenome.from_nodes({"h0": ("tanh", ["g"]), "h1": ("exp", ["v_hat"]),
                                    "out": ("add", ["g", "h0"])})
    rng = np.random.default_rng(0)
    probs = {"op": 0.0, "connection": 0.5, "arity": 0.5, "momentum": 0.0, "decay": 0.0}
    seen_unary = False
    for _ in range(500):
        child, desc = M.mutate(g, rng, probs=probs)
        ins = child.inputs(OUTPUT)
        assert any(s.startswith("h") for s in ins), desc
        seen_unary |= len(ins) == 1
    assert seen_unary


def test_binary_inputs_differ_and_swap_swaps():
    g = OptimizerGenome.from_nodes({"h0": ("tanh", ["g"]), "out": ("sub", ["g", "h0"])})
    rng = np.random.default_rng(3)
    swaps = 0
    for _ in range(300):
        child, desc = M.mutate(g, rng, probs={"op": 0, "connection": 1, "arity": 0, "momentum": 0, "decay": 0})
        for n in child.active_inner_nodes():
            assert len(set(child.inputs(n))) == len(child.inputs(n))
        if desc.startswith("swap") and "out" in desc:
            swaps += 1
            assert child.inputs(OUTPUT) == ["h0", "g"]
    assert 0 < swaps < 300


def test_decay_mutation_stays_in_range():
    rng = np.random.default_rng(5)
    d = DecayGenome.random(rng)
    kinds = collections.Counter()
    for _ in range(400):
        out = M.mutate_decay(d, rng)
        assert out is not None
        child, desc = out
        assert child.in_range()  # the genome module's own check, T = 100
        child.validate()
        kinds[desc.split()[0]] += 1
        d = child
    assert set(kinds) == {"op", "connection", "arity"}


def test_decay_kind_adds_deletes_and_mutates():
    g = OptimizerGenome.from_nodes({"h0": ("tanh", ["g"]), "out": ("identity", ["h0"])})
    rng = np.random.default_rng(1)
    probs = {"op": 0, "connection": 0, "arity": 0, "momentum": 0, "decay": 1}
    what = collections.Counter()
    for _ in range(200):
        child, desc = M.mutate(g, rng, probs=probs)
        what[desc.split()[1]] += 1
        g = child
        for _, _, dec in g.decayed_edges():
            assert dec.in_range()
    assert what["add"] and what["delete"] and what["mutate"]


def test_momentum_kind():
    g = OptimizerGenome.from_nodes({"h0": ("tanh", ["g"]), "out": ("identity", ["h0"])}, momentum="none")
    child, desc = M.mutate(g, np.random.default_rng(0), probs={"op": 0, "connection": 0, "arity": 0,
                                                                 "momentum": 1, "decay": 0})
    assert child.momentum in ("momentum", "nesterov") and desc.startswith("momentum")


def test_unknown_probability_name_is_a_clear_error():
    g = OptimizerGenome.random(np.random.default_rng(0))
    with pytest.raises(GpOptError, match="unknown probability"):
        M.mutate(g, np.random.default_rng(0), probs={"opp": 1.0})


# ---------------------------------------------------------------- valid, new children

def test_mutate_valid_passes_the_check_and_respects_seen():
    rng = np.random.default_rng(7)
    parent = M.random_valid(rng)
    seen = {fingerprint(parent)}
    stats = collections.Counter()
    for _ in range(12):
        child = M.mutate_valid(parent, rng, seen=seen, stats=stats)
        key = fingerprint(child)
        assert key not in seen
        r = I.check(child)
        assert r.passed and not r.flipped  # the flip, if any, is already applied
        seen.add(key)
    assert stats["mutations"] >= 12


def test_mutate_valid_gives_up_with_a_clear_error():
    parent = M.random_valid(np.random.default_rng(0))
    with pytest.raises(GpOptError, match="no valid neighbour"):
        M.mutate_valid(parent, np.random.default_rng(0), seen={"same"}, key=lambda g: "same", max_tries=20)


def test_mutate_many_children_are_distinct_and_new():
    rng = np.random.default_rng(4)
    parent = M.random_valid(rng)
    kids = M.mutate_many(parent, rng, 7, seen={fingerprint(parent)})
    keys = [fingerprint(k) for k in kids]
    assert len(set(keys)) == 7 and fingerprint(parent) not in keys
    assert all(r.passed and not r.flipped for r in I.check_many(kids))


def test_random_valid_is_seeded_and_passes():
    a = M.random_valid(np.random.default_rng(11))
    b = M.random_valid(np.random.default_rng(11))
    assert a == b and I.check(a).passed and not I.check(a).flipped
    many = M.random_valid_many(np.random.default_rng(2), 10)
    assert len(many) == 10 and all(r.passed and not r.flipped for r in I.check_many(many))


def test_mutate_valid_accepts_several_keys_per_genome():
    rng = np.random.default_rng(6)
    parent = M.random_valid(rng)
    keys = lambda g: [fingerprint(g), "const"]  # noqa: E731 - every child shares "const"
    with pytest.raises(GpOptError):
        M.mutate_valid(parent, rng, seen={"const"}, key=keys, max_tries=10)
    child = M.mutate_valid(parent, rng, seen={fingerprint(parent)}, key=keys)
    assert fingerprint(child) != fingerprint(parent)


# ---------------------------------------------------------------- batched children

def test_mutate_batch_serves_every_slot_with_a_valid_new_child():
    rng = np.random.default_rng(3)
    parents = M.random_valid_many(rng, 3)
    histories = [{fingerprint(p)} for p in parents]
    seen = [histories[i % 3] for i in range(9)]      # 3 children per parent, sharing a history
    stats = collections.Counter()
    kids = M.mutate_batch([parents[i % 3] for i in range(9)], rng, seen=seen, stats=stats)
    assert all(isinstance(k, OptimizerGenome) for k in kids)
    assert all(r.passed and not r.flipped for r in I.check_many(kids))  # flips applied
    for p in range(3):
        keys = [fingerprint(k) for k in kids[p::3]]
        assert len(set(keys)) == 3 and not set(keys) & histories[p]  # distinct and new
    assert stats["mutations"] >= 9
    assert stats["mutations"] >= 9 + stats["integrity_rejections"] + stats["invalid"] + stats["duplicates"]


def test_mutate_batch_is_seeded():
    parents = M.random_valid_many(np.random.default_rng(5), 2)
    a = M.mutate_batch(parents * 2, np.random.default_rng(1))
    b = M.mutate_batch(parents * 2, np.random.default_rng(1))
    assert [k.to_json() for k in a] == [k.to_json() for k in b]


def test_mutate_batch_reports_a_parent_without_a_new_child_in_its_slot():
    parents = M.random_valid_many(np.random.default_rng(0), 2)
    out = M.mutate_batch(parents, np.random.default_rng(0), seen=[{"same"}, set()],
                         key=lambda g: "same", max_tries=20)
    assert isinstance(out[0], GpOptError) and "no valid neighbour" in str(out[0])
    assert isinstance(out[1], OptimizerGenome)
