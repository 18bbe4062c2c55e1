import math

import pytest
import torch

from gp_opt.errors import GpOptError
from gp_opt.fitness import FitnessRecord
from gp_opt.tasks import get_task, task_names, torch_factory

FAST = {"quadratic": dict(steps=30), "rosenbrock": dict(steps=40), "digits": dict(steps=30),
        "logreg-digits": dict(steps=30)}


@pytest.mark.parametrize("name", sorted(FAST))
def test_task_returns_an_ok_record_for_adam(name):
    rec = get_task(name, **FAST[name])(torch_factory(torch.optim.Adam))
    assert isinstance(rec, FitnessRecord)
    assert rec.status == "ok" and math.isfinite(rec.fitness)
    assert rec.best_lr in get_task(name).lrs
    assert len(rec.stages) == len(get_task(name).lrs)
    assert all({"lr", "status", "score", "seconds"} <= set(s) for s in rec.stages)
    FitnessRecord.from_dict(rec.to_dict())  # round trip


def test_tasks_are_deterministic_and_leave_global_rng_alone():
    task = get_task("quadratic", steps=20)
    state = torch.get_rng_state()
    a = task(torch_factory(torch.optim.SGD, momentum=0.9))
    b = task(torch_factory(torch.optim.SGD, momentum=0.9))
    assert a.fitness == b.fitness
    assert torch.equal(state, torch.get_rng_state())


def test_quadratic_ranks_a_better_optimizer_higher():
    task = get_task("quadratic", steps=60)
    assert task(torch_factory(torch.optim.Adam)).fitness > task(_frozen).fitness


def _frozen(params, lr, total_steps):
    return torch.optim.SGD(params, lr=0.0)


def test_divergence_is_a_failed_record_not_an_exception():
    task = get_task("quadratic", steps=30, lrs=(1e6,))
    rec = task(torch_factory(torch.optim.SGD))
    assert rec.status == "failed" and rec.fitness == -math.inf
    assert rec.stages[0]["status"] == "failed"
    FitnessRecord.from_dict(rec.to_dict())


def test_an_exception_in_the_optimizer_is_a_failed_record():
    def broken(params, lr, total_steps):
        raise RuntimeError("boom")

    rec = get_task("rosenbrock", steps=5)(broken)
    assert rec.status == "failed" and "boom" in rec.stages[0]["reason"]


def test_not_a_candidate_is_a_failed_record():
    assert get_task("quadratic", steps=5)(42).status == "failed"


def test_unknown_task_and_bad_option():
    with pytest.raises(GpOptError, match="unknown task 'nope'.*quadratic"):
        get_task("nope")
    with pytest.raises(GpOptError, match="bad option"):
        get_task("quadratic", colour="red")
    assert {"quadratic", "rosenbrock", "digits"} <= set(task_names())
