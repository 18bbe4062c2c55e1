"""Evaluation seeds: each candidate is evaluated on its own seed, derived from the run's seed and
its number in the log, handed to the fitness as ``seed=`` and recorded in its line."""
import json
from pathlib import Path

from gp_opt.fitness import FitnessRecord
from gp_opt.rundir import CANDIDATES_FILE
from gp_opt.search import make_toy_toolbox, particle_search, run_search
from gp_opt.search.engine import evaluation_seed


def _evaluated(run):
    lines = [json.loads(x) for x in (Path(run) / CANDIDATES_FILE).read_text().splitlines()]
    return [x for x in lines if not x["cache_hit"]]


def test_each_candidate_is_scored_on_its_own_recorded_seed(tmp_path):
    run_search("toy", tmp_path / "a", 2, 2, 3, seed=7, init_factor=3, verbose=False, task_options={"noise": 1.0})
    lines = _evaluated(tmp_path / "a")
    seeds = [x["eval_seed"] for x in lines]
    assert seeds == [evaluation_seed(7, x["seq"]) for x in lines]
    assert [x["record"]["extra"]["seed"] for x in lines] == seeds  # the fitness got it
    assert len(set(seeds)) == len(seeds)  # they differ across candidates
    run_search("toy", tmp_path / "b", 2, 2, 3, seed=8, init_factor=3, verbose=False, task_options={"noise": 1.0})
    assert not set(seeds) & {x["eval_seed"] for x in _evaluated(tmp_path / "b")}  # and across run seeds


def test_fixed_eval_seeds_keep_the_task_seed_and_a_plain_function_gets_none(tmp_path):
    run_search("toy", tmp_path / "f", 2, 1, 2, seed=7, init_factor=2, verbose=False, eval_seeds="fixed")
    assert all("eval_seed" not in x and "seed" not in x["record"]["extra"] for x in _evaluated(tmp_path / "f"))
    tb = make_toy_toolbox()
    calls = []
    tb.register("evaluate", lambda x: calls.append(x) or FitnessRecord(fitness=-float(sum(x))))
    particle_search(tb, 2, 1, 2, init_factor=2, verbose=False, rng=0, eval_seed=3)
    assert calls  # evaluate(payload) without a seed parameter is called as before
