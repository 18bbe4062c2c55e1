"""Local search (--algorithm local) and the one-edit neighbourhood it walks."""
import collections
import json

import pytest

from gp_opt import catalog, dedup
from gp_opt.errors import GpOptError
from gp_opt.genome import OptimizerGenome
from gp_opt.mutation import one_edit, valid_neighbours
from gp_opt.search import make_toolbox, make_toy_toolbox, resume_search, run_search
from gp_opt.search.toy import ToyEvaluate

from support.runs import Crash, CrashingQuadratic, log_lines, without_timing


def test_the_one_edit_neighbourhood_of_adam():
    adam = catalog.get("Adam")
    moves = dict(one_edit(adam))
    # 2 active nodes: out's two inputs and h0's one re-pointed (operands, other hidden nodes), their
    # ops swapped within the arity, and the two other momentum types; a broken rule is no neighbour
    assert len(moves) == 74 and "momentum=nesterov" in moves and "h0.op=abs" in moves
    assert "out.in1=s_hat" not in moves   # the output must read a hidden node (SPEC 2)
    assert moves["out.in0=qh_g"].to_dict()["nodes"]["out"]["inputs"] == ["qh_g", "h0"]
    assert all(n != adam for n in moves.values())
    # a decayed edge keeps its decay function when re-pointed
    decayed = OptimizerGenome.from_dict({**adam.to_dict(), "nodes": {
        "h0": {"op": "sqrt_abs", "inputs": [{"from": "s_hat", "decay": {"nodes": {"out": {"op": "identity", "inputs": ["a1"]}}}}]},
        "out": {"op": "div", "inputs": ["v_hat", "h0"]}}})
    moved = dict(one_edit(decayed))["h0.in0=g2"].to_dict()["nodes"]["h0"]["inputs"][0]
    assert moved["from"] == "g2" and moved["decay"] == decayed.to_dict()["nodes"]["h0"]["inputs"][0]["decay"]
    # and deleting a decay function is a move of its own: back to Adam
    assert dict(one_edit(decayed))["h0.in0.decay=none"] == adam


def test_valid_neighbours_are_screened_and_new():
    adam = catalog.get("Adam")
    tally = collections.Counter()
    kids = valid_neighbours(adam, dedup.fingerprint, stats=tally)
    keys = [dedup.fingerprint(k) for k in kids]
    assert len(set(keys)) == len(keys) and 0 < len(kids) < 74
    assert tally["integrity_rejections"] + tally["duplicates"] + tally["invalid"] == 74 - len(kids)
    again = valid_neighbours(adam, dedup.fingerprint, seen=set(keys[:10]))
    assert [dedup.fingerprint(k) for k in again] == keys[10:]


def test_local_search_descends_to_the_toy_optimum():
    res = run_search("toy", None, 2, 40, 5, seed=1, algorithm="local", toolbox=make_toy_toolbox(seed=1), verbose=False)
    fitness = ToyEvaluate(seed=1)
    best = max(res.population, key=lambda c: c.fitness.values[0])
    # steepest descent on a separable quadratic reaches a local optimum next to the target (the toy
    # 'integrity check' forbids some vectors, so the optimum itself may be out of reach)
    assert best.fitness.values[0] >= -2
    assert all(fitness(n).fitness <= best.fitness.values[0] for n in make_toy_toolbox(seed=1).neighbours(best.payload, ()))
    assert res.population[0].fitness.values[0] < 0 or best.fitness.values[0] == 0
    assert len(res.logbook) == 41


def test_local_search_killed_mid_descent_resumes_to_the_uninterrupted_run(tmp_path):
    args = dict(particles=2, steps=4, children=3, seed=3, init_factor=2, algorithm="local", verbose=False)
    ref = run_search("quadratic", tmp_path / "ref", toolbox=make_toolbox(CrashingQuadratic(steps=10)), **args)
    n = len(log_lines(tmp_path / "ref"))
    assert n == 4 + 4 * 6   # 2 x 2 initial, then 4 steps of 2 x 3
    with pytest.raises(Crash):
        run_search("quadratic", tmp_path / "run", toolbox=make_toolbox(CrashingQuadratic(limit=9, steps=10)), **args)
    resumed = resume_search(tmp_path / "run", toolbox=make_toolbox(CrashingQuadratic(steps=10)), verbose=False)
    assert [without_timing(x) for x in log_lines(tmp_path / "run")] == \
        [without_timing(x) for x in log_lines(tmp_path / "ref")]
    assert [c.key for c in resumed.population] == [c.key for c in ref.population]


def test_local_search_needs_a_neighbourhood():
    with pytest.raises(GpOptError, match="local search needs toolbox.neighbours"):
        run_search("quadratic", None, 2, 2, 2, algorithm="local", fix_update="Adam", verbose=False)
