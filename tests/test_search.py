import collections
import json
import math

import numpy as np
import pytest
from deap import base, tools

from gp_opt.errors import GpOptError
from gp_opt.fitness import FitnessRecord
from gp_opt.search import (make_toy_toolbox, particle_search, regularized_evolution, run_search,
                           same_key)


def _init_best(logbook):
    return logbook[0]["max"]


def test_particle_search_improves_on_its_initial_best():
    tb = make_toy_toolbox(seed=3)
    hof = tools.HallOfFame(5, similar=same_key)
    particles, lb = particle_search(tb, 3, 6, 4, halloffame=hof, verbose=False, rng=3)
    assert len(particles) == 3 and len(lb) == 7
    assert hof[0].fitness.values[0] > _init_best(lb)
    assert lb.select("step") == list(range(7))
    assert sum(lb.select("nevals")) + sum(lb.select("hits")) >= 30 + 3 * 6 * 4


def test_same_seed_same_result():
    a = run_search("toy", None, 2, 3, 3, seed=9, verbose=False)
    b = run_search("toy", None, 2, 3, 3, seed=9, verbose=False)
    assert [i.key for i in a.halloffame] == [i.key for i in b.halloffame]
    c = run_search("toy", None, 2, 3, 3, seed=10, verbose=False)
    assert [i.key for i in a.halloffame] != [i.key for i in c.halloffame]


def _int_toolbox(evaluate, key=str, start=100, step=(1, 10)):
    """Payload: an int. Children are parent + a random positive step."""
    tb = base.Toolbox()
    tb.register("individual", lambda rng: int(rng.integers(start, start + 1000)))

    def mutate(p, rng, history, tally):
        while True:
            c = p + int(rng.integers(*step))
            if key(c) not in history:
                return c
            tally["duplicates"] += 1

    tb.register("mutate", mutate)
    tb.register("evaluate", evaluate)
    tb.register("map", map)
    tb.register("serialize", int)
    tb.register("deserialize", int)
    tb.register("key", key)
    return tb


def test_aging_the_best_child_moves_on_even_when_worse():
    tb = _int_toolbox(lambda x: FitnessRecord(fitness=-float(x)))  # every child is worse
    seen = []
    tb.register("map", lambda f, xs: [seen.append(x) or f(x) for x in xs])
    particles, lb = particle_search(tb, 1, 1, 3, init_factor=4, verbose=False, rng=0)
    children = seen[4:]
    assert len(children) == 3
    assert particles[0].payload == min(children)  # the best (least bad) child
    assert lb[1]["max"] < lb[0]["max"]


def test_failed_children_are_redrawn_up_to_max_redraws():
    calls = []

    def evaluate(x):
        calls.append(x)
        return FitnessRecord.rejected("odd") if x % 2 else FitnessRecord(fitness=float(x))

    tb = _int_toolbox(evaluate)
    tb.register("individual", lambda rng: 2 * int(rng.integers(0, 1000)))  # even: ok
    particles, lb = particle_search(tb, 2, 3, 3, init_factor=2, max_redraws=4, verbose=False, rng=1)
    # every step: each slot ends ok, or tried 5 times
    assert lb[1]["rejected"] > 0
    assert all(p.record.ok for p in particles)

    tb2 = _int_toolbox(lambda x: FitnessRecord.rejected("never"), step=(1, 100))
    tb2.register("individual", lambda rng: 0)
    tb2.register("evaluate", lambda x: FitnessRecord(fitness=1.0) if x == 0 else FitnessRecord.rejected("no"))
    particles, lb = particle_search(tb2, 1, 1, 2, init_factor=1, max_redraws=4, verbose=False, rng=1)
    assert lb[1]["nevals"] == 2 * 5  # 2 children, 1 + 4 redraws each
    assert particles[0].payload == 0  # no child passed: the particle stays


def test_the_cache_reuses_fitness_and_counts_hits():
    evaluated = []

    def evaluate(x):
        evaluated.append(x)
        return FitnessRecord(fitness=float(x % 7))

    tb = _int_toolbox(evaluate, key=lambda x: str(x % 7))  # only 7 distinct 'optimizers'
    tb.register("mutate", lambda p, rng, history, tally: p + int(rng.integers(1, 10)))
    particles, lb = particle_search(tb, 2, 3, 4, init_factor=5, verbose=False, rng=2)
    keys = [x % 7 for x in evaluated]
    assert len(keys) == len(set(keys))  # never evaluated twice
    hits = sum(lb.select("hits"))
    assert hits > 0 and hits + len(evaluated) == 10 + 2 * 3 * 4 + sum(lb.select("rejected"))


def test_children_of_a_step_go_through_one_map_call():
    calls = []
    tb2 = make_toy_toolbox()

    def recording_map(f, xs):
        xs = list(xs)
        calls.append(len(xs))
        return [f(x) for x in xs]

    tb2.register("map", recording_map)
    particle_search(tb2, 3, 2, 4, verbose=False, rng=0)
    assert calls[0] == 30  # the initial population
    assert 12 in calls[1:]  # 3 particles x 4 children in one batch


def test_mutate_batch_gets_the_pending_slots_of_all_particles_at_once():
    batches = []

    def mutate_batch(requests, rng, tally):
        batches.append(len(requests))
        out = []
        for parent, history in requests:  # children of one history must be distinct: add as we go
            c = parent + int(rng.integers(1, 10))
            while str(c) in history:
                c += 1
            history.add(str(c))
            out.append(c)
        return out

    tb = _int_toolbox(lambda x: FitnessRecord.rejected("odd") if x % 2 else FitnessRecord(fitness=float(x)))
    tb.register("individual", lambda rng: 2 * int(rng.integers(0, 1000)))
    tb.register("mutate_batch", mutate_batch)
    particles, lb = particle_search(tb, 3, 2, 4, init_factor=2, max_redraws=2, verbose=False, rng=0)
    assert batches[0] == 3 * 4          # every particle's children in one call
    assert len(batches) <= 2 * 3        # one call per attempt (1 + 2 redraws) per step
    assert all(b <= 12 for b in batches)
    assert sum(lb.select("nevals")[1:]) + sum(lb.select("hits")[1:]) == sum(batches)

    # a slot the batch cannot serve (an exception in its place) is a mutation failure, not a crash
    tb.register("mutate_batch", lambda reqs, rng, tally: [GpOptError("stuck")] * len(reqs))
    particles, lb = particle_search(tb, 2, 1, 2, init_factor=2, verbose=False, rng=0)
    assert lb[1]["nevals"] == 0 and all(p.record.ok for p in particles)


def test_a_batched_genome_step_matches_the_contract():
    from gp_opt import integrity
    from gp_opt.dedup import fingerprint
    from gp_opt.search import make_toolbox

    tb = make_toolbox(lambda g: FitnessRecord(fitness=float(len(g.to_json()) % 13)))
    checks = []
    real = integrity.check_many

    def counting(genomes, config=None):
        genomes = list(genomes)
        checks.append(len(genomes))
        return real(genomes, config)

    integrity.check_many = counting
    try:
        particles, lb = particle_search(tb, 3, 1, 3, init_factor=2, verbose=False, rng=4)
    finally:
        integrity.check_many = real
    assert max(checks) >= 9             # the 3 x 3 children were checked together
    assert lb[1]["nevals"] + lb[1]["hits"] == 9
    keys = [fingerprint(p.payload) for p in particles]
    assert all(integrity.check(p.payload).passed for p in particles)
    assert len(keys) == 3


def test_verbose_prints_progress_and_quiet_prints_nothing(capsys):
    particle_search(make_toy_toolbox(), 2, 2, 2, verbose=False, rng=0)
    assert capsys.readouterr().out == ""
    particle_search(make_toy_toolbox(), 2, 2, 2, verbose=True, rng=0)
    out = capsys.readouterr().out
    assert "step 2/2 particle 2/2" in out and "cache hits" in out and "rejected by the integrity check" in out
    assert "particle search done" in out and "hof 0" in out


def test_regularized_evolution_runs_and_improves():
    tb = make_toy_toolbox(seed=4)
    hof = tools.HallOfFame(3, similar=same_key)
    pop, lb = regularized_evolution(tb, 20, 15, 5, n_children=2, halloffame=hof, verbose=False, rng=4)
    assert len(pop) == 20 and len(lb) == 16
    assert hof[0].fitness.values[0] > lb[0]["max"]
    # the oldest die: the last members are the newest children
    assert pop[-1].meta["phase"] == "cycle"


def test_regularized_evolution_restarts_from_fresh_random_members(tmp_path):
    res = run_search("toy", tmp_path / "r", 2, 7, 2, seed=3, algorithm="regularized", restart_every=3, verbose=False)
    lines = [json.loads(x) for x in (tmp_path / "r" / "candidates.jsonl").read_text().splitlines()]
    restarts = collections.Counter(x["step"] for x in lines if x["phase"] == "restart")
    assert restarts == {4: 20, 7: 20}   # before cycles 4 and 7 (1-based), a whole population each
    assert json.loads((tmp_path / "r" / "run.json").read_text())["config"]["restart_every"] == 3
    # the last restart's members are the population but for the children of the cycle after it
    assert sum(c.meta["phase"] == "restart" for c in res.population) == 20 - 4
    with pytest.raises(GpOptError, match="restart_every: not for algorithm 'particle'"):
        run_search("toy", None, 2, 3, 2, algorithm="particle", restart_every=3, verbose=False)


def test_run_search_regularized_with_same_budget(tmp_path):
    res = run_search("toy", tmp_path / "r", 2, 3, 2, seed=1, algorithm="regularized", verbose=False)
    assert res.algorithm == "regularized" and len(res.population) == 20
    lines = (tmp_path / "r" / "candidates.jsonl").read_text().splitlines()
    assert len(lines) >= 20 + 3 * 4
    assert json.loads(lines[-1])["phase"] == "cycle"


def test_bad_arguments_are_gp_opt_errors():
    tb = make_toy_toolbox()
    with pytest.raises(GpOptError):
        particle_search(tb, 0, 1, 1, verbose=False)
    with pytest.raises(GpOptError):
        regularized_evolution(tb, 5, 1, 6, verbose=False)
    with pytest.raises(GpOptError, match="algorithm"):
        run_search("toy", None, 1, 1, 1, algorithm="annealing", verbose=False)
    incomplete = base.Toolbox()
    with pytest.raises(GpOptError, match="lacks"):
        particle_search(incomplete, 1, 1, 1, verbose=False)


def test_mutation_without_a_valid_neighbour_does_not_crash():
    tb = make_toy_toolbox()

    def stuck(p, rng, history, tally):
        raise GpOptError("no valid neighbour")

    tb.register("mutate", stuck)
    particles, lb = particle_search(tb, 2, 2, 2, verbose=False, rng=0)
    assert lb[1]["nevals"] == 0 and len(particles) == 2


def test_non_finite_fitness_is_failed():
    tb = make_toy_toolbox()
    tb.register("evaluate", lambda x: float("nan") if x[1] > 0 else -1.0)
    particles, lb = particle_search(tb, 2, 2, 2, verbose=False, rng=0)
    assert all(p.record.ok and math.isfinite(p.record.fitness) for p in particles)
