"""End-to-end: the search over real optimizer genomes on the cheap quadratic task."""
import json

import pytest

from gp_opt.fitness import FitnessRecord
from gp_opt.rundir import CANDIDATES_FILE
from gp_opt.search import make_toolbox, resume_search, run_search
from gp_opt.tasks import get_task

pytest.importorskip("gp_opt.mutation")
pytest.importorskip("gp_opt.optim")

QUICK = {"steps": 30, "lrs": (0.1, 0.01)}


def test_particle_search_on_the_quadratic_improves_on_its_initial_best(tmp_path):
    res = run_search("quadratic", tmp_path / "run", particles=2, steps=4, children=3, seed=0,
                     init_factor=4, task_options=QUICK, verbose=False)
    lines = [json.loads(x) for x in (tmp_path / "run" / CANDIDATES_FILE).read_text().splitlines()]
    init_best = max(x["record"]["fitness"] for x in lines if x["phase"] == "init"
                    and x["record"]["status"] == "ok")
    assert res.best.record.fitness > init_best
    assert res.best.payload.to_json()  # a genome
    assert {x["phase"] for x in lines} == {"init", "step"}
    assert len(lines) >= 8 + 2 * 4 * 3


class _Crash(Exception):
    pass


class _CrashingTask:
    """The quick quadratic, raising after ``limit`` evaluations (a crash in the middle of a step)."""

    def __init__(self, limit=None):
        self.task = get_task("quadratic", **QUICK)
        self.limit = limit
        self.calls = []

    def __call__(self, genome) -> FitnessRecord:
        if self.limit is not None and len(self.calls) >= self.limit:
            raise _Crash()
        self.calls.append(genome.to_json())
        return self.task(genome)


def test_a_crashed_genome_search_resumes_to_the_uninterrupted_result(tmp_path):
    args = dict(particles=2, steps=2, children=2, seed=5, init_factor=3, verbose=False)
    ref_task = _CrashingTask()
    ref = run_search("quadratic", tmp_path / "ref", **args, toolbox=make_toolbox(ref_task))

    crashing = _CrashingTask(limit=6 + 3)  # the initial population and 3 children of step 1
    with pytest.raises(_Crash):
        run_search("quadratic", tmp_path / "run", **args, toolbox=make_toolbox(crashing))
    again = _CrashingTask()
    res = resume_search(tmp_path / "run", toolbox=make_toolbox(again), verbose=False)

    assert [(i.key, i.record.fitness) for i in res.halloffame] == \
           [(i.key, i.record.fitness) for i in ref.halloffame]
    assert [p.payload for p in res.population] == [p.payload for p in ref.population]
    assert not set(crashing.calls) & set(again.calls)  # nothing evaluated twice
    assert len(crashing.calls) + len(again.calls) == len(ref_task.calls)  # nothing lost


class _TwoPhaseTask:
    """Counts which evaluator served which phase (the surrogate's smaller initial ConvNet)."""

    def __init__(self, tag, log):
        self.task, self.tag, self.log = get_task("quadratic", **QUICK), tag, log

    def __call__(self, genome) -> FitnessRecord:
        self.log.append(self.tag)
        return self.task(genome)

    def for_initial_population(self):
        return _TwoPhaseTask("init", self.log)


def test_the_initial_population_has_its_own_evaluator(tmp_path):
    log = []
    tb = make_toolbox(_TwoPhaseTask("step", log))
    res = run_search("quadratic", tmp_path / "run", particles=2, steps=1, children=2, seed=1,
                     init_factor=2, toolbox=tb, verbose=False)
    phases = [json.loads(x)["phase"] for x in (tmp_path / "run" / CANDIDATES_FILE).read_text().splitlines()]
    assert log[:phases.count("init")] == ["init"] * phases.count("init")
    assert set(log[phases.count("init"):]) == {"step"}
    assert res.best is not None


def test_surrogate_initial_population_uses_init_base():
    from gp_opt.surrogate import SurrogateConfig, make_evaluator
    ev = make_evaluator(SurrogateConfig.preset("smoke"))
    init = ev.for_initial_population()
    assert (ev.config.base, init.config.base) == (8, 6)
    assert SurrogateConfig().base == 48 and SurrogateConfig().init_base == 32
    same = make_evaluator(SurrogateConfig.preset("smoke", init_base=None))
    assert same.for_initial_population() is same


def test_surrogate_children_can_share_ensembles(tmp_path, monkeypatch):
    from gp_opt.surrogate import protocol

    batches = []
    real = protocol.SurrogateEvaluator.evaluate_many

    def spy(self, candidates):
        candidates = list(candidates)
        batches.append((self.config.base, len(candidates)))
        return real(self, candidates)

    monkeypatch.setattr(protocol.SurrogateEvaluator, "evaluate_many", spy)
    opts = {"batch_children": True, "screen_steps": 12, "screen_cut_step": 10, "total_steps": 24,
            "warmup_steps": 2, "stop_check_after": 12, "eval_every": 12}
    res = run_search("surrogate", tmp_path / "run", particles=2, steps=1, children=2, seed=0,
                     init_factor=2, task_options=opts, verbose=False, eval_seeds="fixed")
    assert batches and batches[0] == (6, 4)          # the initial population at init_base, together
    assert any(base == 8 and n >= 2 for base, n in batches[1:])  # a step's children together
    logged = (tmp_path / "run" / CANDIDATES_FILE).read_text().splitlines()
    evaluated = sum(not json.loads(x)["cache_hit"] for x in logged)
    assert evaluated == sum(n for _, n in batches) and len(res.population) == 2
