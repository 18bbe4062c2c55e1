"""Multi-task fitness (gp_opt.multitask): the combining rules on synthetic scores, the wrapper on
fake tasks, a tiny real list, and bad task lists refused with one line."""
import math

import pytest

from gp_opt.cli import main
from gp_opt.errors import GpOptError
from gp_opt.fitness import FitnessRecord
from gp_opt.multitask import MultiTaskFitness, combine_rank, combine_relative
from gp_opt.tasks import get_task


def test_relative_rule_on_synthetic_scores():
    # task A: minus loss 0.08 against Adam's 0.10 (20 % lower); task B: accuracy 0.9 vs 1.0 (10 % lower)
    assert combine_relative([-0.08, 0.9], [-0.10, 1.0]) == pytest.approx(0.05)
    # scale-free: multiplying a task's scores by 100 changes nothing
    assert combine_relative([-8.0, 0.9], [-10.0, 1.0]) == pytest.approx(0.05)
    assert combine_relative([-0.1, 1.0], [-0.1, 1.0]) == 0.0  # the reference itself scores 0
    assert combine_relative([0.5], [0.0]) == 0.5               # a zero reference: the difference


def test_rank_rule_on_synthetic_scores():
    panel = [[1.0, 2.0, 3.0], [10.0, 20.0, 30.0]]
    assert combine_rank([4.0, 40.0], panel) == 1.0   # beats every reference on both
    assert combine_rank([0.0, 0.0], panel) == 0.0
    assert combine_rank([2.0, 25.0], panel) == pytest.approx((0.5 + 2 / 3) / 2)  # a tie counts half
    # rank ignores how far ahead: a huge win on one task does not buy a loss on the other
    assert combine_rank([1e9, 0.0], panel) == combine_rank([3.5, 0.0], panel)


class _Fake:
    """score = table[candidate][seed]; counts its calls."""

    def __init__(self, table):
        self.table, self.calls = table, []

    def __call__(self, cand, seed=None):
        self.calls.append((cand, seed))
        v = self.table[cand][seed]
        if v is None:
            return FitnessRecord.rejected("screen")
        return FitnessRecord(fitness=v, best_lr=0.1, extra={"seed": seed})


def test_wrapper_combines_on_the_same_seed_and_caches_the_references():
    a = _Fake({"c": {0: -0.08, 1: -0.09}, "adam": {0: -0.10, 1: -0.10}, "bad": {0: None}})
    b = _Fake({"c": {0: 0.9, 1: 1.1}, "adam": {0: 1.0, 1: 1.0}, "bad": {0: 0.5}})
    fit = MultiTaskFitness({"A": a, "B": b}, "relative", {"A": {"Adam": "adam"}, "B": {"Adam": "adam"}})
    rec = fit("c", seed=0)
    assert rec.fitness == pytest.approx(0.05) and rec.extra["tasks"]["scores"] == {"A": -0.08, "B": 0.9}
    assert fit("c", seed=1).fitness == pytest.approx((0.1 + 0.1) / 2)
    fit("c", seed=0)
    assert a.calls.count(("adam", 0)) == 1 and a.calls.count(("adam", 1)) == 1  # trained once per seed
    bad = fit("bad", seed=0)
    assert bad.status == "rejected" and bad.reason.startswith("task A:") and bad.fitness == -math.inf


def test_a_real_task_list_end_to_end():
    fit = get_task("quadratic+rosenbrock", **{"quadratic.steps": 10, "rosenbrock.steps": 10,
                                               "multitask_rule": "rank", "multitask_panel": "Adam,SGD"})
    from gp_opt.tasks import reference_optimizer
    rec = fit(reference_optimizer("RMSProp", surrogate=False), seed=2)
    assert rec.ok and 0.0 <= rec.fitness <= 1.0 and set(rec.extra["tasks"]["references"]) == {"quadratic", "rosenbrock"}
    same = get_task("quadratic+rosenbrock", **{"quadratic.steps": 10, "rosenbrock.steps": 10})
    adam = reference_optimizer("Adam", surrogate=False)
    assert same(adam, seed=1).fitness == 0.0  # Adam relative to itself


@pytest.mark.parametrize("task, extra, msg", [
    ("quadratic+nosuch", [], "unknown task 'nosuch' in 'quadratic+nosuch'"),
    ("quadratic+quadratic", [], "names a task twice"),
    ("quadratic+digits", ["--set", "digits.metric=val_loss", "--set", "digits.steps=0"], "digits.steps must be at least 1"),
    ("quadratic+digits", ["--set", "steps=10"], "has no such option"),
    ("quadratic+digits", ["--set", "multitask_rule=best"], "use one of relative, rank"),
    ("quadratic+digits", ["--set", "multitask_reference=Nope"], "unknown optimizer 'Nope'"),
    ("quadratic+digits", ["--preset", "digits"], "only for --task surrogate"),
])
def test_bad_task_lists_are_one_line(tmp_path, capsys, task, extra, msg):
    out = tmp_path / "run"
    code = main(["search", "--task", task, "--particles", "1", "--steps", "1", "--children", "1",
                 "--out", str(out)] + extra)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and msg in err[0], err
    assert not out.exists()
