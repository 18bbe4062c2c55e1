"""--fitness-seeds K and --fitness-baseline NAME (gp_opt.seeded): a fitness over several evaluation
seeds, paired against a baseline trained once per seed."""
import math

import pytest
import torch

from gp_opt.cli import main
from gp_opt.errors import GpOptError
from gp_opt.seeded import SeededFitness
from gp_opt.tasks import get_task, torch_factory

ADAM = torch_factory(torch.optim.Adam)
SGD = torch_factory(torch.optim.SGD, momentum=0.9)


def _task():
    return get_task("quadratic", steps=15, lrs=(0.1, 0.01))


def test_tasks_take_the_evaluation_seed_and_record_it():
    task = _task()
    a, b = task(ADAM, seed=3), task(ADAM, seed=4)
    assert a.extra["seed"] == 3 and b.extra["seed"] == 4 and a.fitness != b.fitness
    assert task(ADAM, seed=3).fitness == a.fitness  # a pure function of (candidate, seed)
    assert task(ADAM).extra["seed"] == task.seed


def test_mean_over_k_seeds_with_the_rate_of_the_first():
    task = _task()
    fit = SeededFitness(task, 3)
    rec = fit(SGD, seed=5)
    first = task(SGD, seed=5)
    later = [task.at_rate(first.best_lr)(SGD, seed=s).fitness for s in (6, 7)]
    assert rec.extra["seeds"]["seeds"] == [5, 6, 7]
    assert rec.fitness == pytest.approx((first.fitness + sum(later)) / 3)
    assert rec.best_lr == first.best_lr


def test_paired_against_a_baseline_trained_once_per_seed():
    task = _task()
    calls = []

    def counting(candidate, seed=None):
        if candidate is ADAM:
            calls.append(seed)
        return task(candidate, seed=seed)

    counting.at_rate = lambda lr: task.at_rate(lr)
    fit = SeededFitness(counting, 2, baseline=ADAM, baseline_name="Adam")
    rec = fit(SGD, seed=0)
    fit(SGD, seed=1)  # seed 1 again: Adam not retrained on it
    assert sorted(calls) == [0, 1, 2]
    base = [task(ADAM, seed=s).fitness for s in (0, 1)]
    assert rec.extra["seeds"]["baseline_scores"] == pytest.approx(base)
    assert rec.fitness == pytest.approx(sum(x - y for x, y in zip(rec.extra["seeds"]["scores"], base)) / 2)
    # the baseline against itself scores exactly 0 on any seed
    assert SeededFitness(task, 2, baseline=ADAM)(ADAM, seed=4).fitness == 0.0


def test_a_candidate_failing_is_never_averaged():
    task = get_task("quadratic", steps=5, lrs=(1e200,))
    rec = SeededFitness(task, 3)(ADAM, seed=0)
    assert rec.status == "failed" and rec.fitness == -math.inf


def test_get_task_wraps_and_refuses_bad_k():
    assert isinstance(get_task("quadratic", fitness_seeds=2), SeededFitness)
    assert not isinstance(get_task("quadratic", fitness_seeds=1), SeededFitness)
    for bad in (0, -1):
        with pytest.raises(GpOptError, match="--fitness-seeds must be a positive integer"):
            get_task("quadratic", fitness_seeds=bad)
    with pytest.raises(GpOptError, match="unknown optimizer 'Nope'"):
        get_task("quadratic", fitness_baseline="Nope")
    ev = get_task("surrogate", preset="smoke", fitness_seeds=2, fitness_baseline="Adam")
    assert ev.baseline == "adam" and ev.for_initial_population().task.config.base == 6


def _exit_code(argv):
    try:
        return main(argv)
    except SystemExit as exc:  # argparse's usage errors
        return exc.code


@pytest.mark.parametrize("extra, msg", [
    (["--fitness-seeds", "0"], "--fitness-seeds: must be a positive integer, got 0"),
    (["--fitness-seeds=-2"], "--fitness-seeds: must be a positive integer, got -2"),
    (["--fitness-baseline", "Nope"], "unknown optimizer 'Nope'"),
    (["--set", "fitness_seeds=0"], "fitness_seeds must be at least 1"),
])
def test_search_refuses_bad_fitness_seed_options(tmp_path, capsys, extra, msg):
    out = tmp_path / "run"
    code = _exit_code(["search", "--task", "quadratic", "--particles", "1", "--steps", "1", "--children", "1",
                 "--out", str(out)] + extra)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and msg in err[0], err
    assert not out.exists()
