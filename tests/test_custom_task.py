"""A user's own fitness plugged into the search from the command line: --task module:attribute."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gp_opt.errors import GpOptError
from gp_opt.tasks import FunctionTask, custom_task, get_task

MODULE = '''
import math
from dataclasses import dataclass
from gp_opt.tasks import NoisyQuadratic

CALLS = []

def size_fitness(genome):
    """A deliberately simple fitness: fewer active nodes is better."""
    return -float(len(genome.active_inner_nodes()))

def broken(genome):
    raise RuntimeError("boom")

def nan_fitness(genome):
    return math.nan

@dataclass(frozen=True)
class SmallQuadratic(NoisyQuadratic):
    name: str = "small-quadratic"
    dim: int = 4
    steps: int = 10
'''


@pytest.fixture
def user_dir(tmp_path, monkeypatch):
    (tmp_path / "user_tasks.py").write_text(MODULE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop("user_tasks", None)


def _search(cwd, *args):
    return subprocess.run([sys.executable, "-m", "gp_opt.cli", "search", *args, "--particles", "2", "--steps", "1",
                           "--children", "2", "--init-factor", "2", "-q"], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def test_search_with_a_function_from_the_working_directory(user_dir):
    p = _search(user_dir, "--task", "user_tasks:size_fitness", "--out", "run")
    assert p.returncode == 0, p.stderr
    lines = [json.loads(x) for x in (user_dir / "run" / "candidates.jsonl").read_text().splitlines() if x.strip()]
    from gp_opt.genome import OptimizerGenome
    scored = [x for x in lines if isinstance(x.get("record"), dict) and x["record"].get("status") == "ok"]
    assert scored, lines[:2]
    for x in scored:  # the fitness is the user's function of the genome
        genome = OptimizerGenome.from_json(x["individual"])
        assert float(x["record"]["fitness"]) == -len(genome.active_inner_nodes())
    assert json.loads((user_dir / "run" / "run.json").read_text())["config"]["task"] == "user_tasks:size_fitness"
    # the run names the task; it is code, so resume imports it when the user names it again
    p = subprocess.run([sys.executable, "-m", "gp_opt.cli", "resume", "run", "-q", "--task", "user_tasks:size_fitness"],
                       capture_output=True, text=True, cwd=user_dir, timeout=300)
    assert p.returncode == 0, p.stderr


def test_search_with_a_task_class_and_its_options(user_dir):
    p = _search(user_dir, "--task", "user_tasks:SmallQuadratic", "--set", "steps=5", "--out", "run")
    assert p.returncode == 0, p.stderr
    assert (user_dir / "run" / "best.json").exists()


@pytest.mark.parametrize("task, words", [
    ("no_such_module:fn", "cannot import 'no_such_module'"),
    ("user_tasks:missing", "has no attribute 'missing'"),
    ("user_tasks:", "expected module:attribute"),
])
def test_a_bad_custom_task_is_one_line_and_exit_2(user_dir, capsys, task, words):
    from gp_opt.cli import main

    assert main(["search", "--task", task, "--particles", "2", "--steps", "1", "--children", "2",
                 "--out", "run", "-q"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and words in err
    assert not (user_dir / "run").exists()


def test_resolution_from_python(user_dir):
    from gp_opt.tasks import NoisyQuadratic

    task = get_task("user_tasks:SmallQuadratic", steps=3)
    assert isinstance(task, NoisyQuadratic) and task.steps == 3 and task.dim == 4
    fn = custom_task("user_tasks:size_fitness")
    assert isinstance(fn, FunctionTask)
    with pytest.raises(GpOptError, match="plain function"):
        custom_task("user_tasks:size_fitness", steps=3)
    with pytest.raises(GpOptError, match="bad option"):
        get_task("user_tasks:SmallQuadratic", nosuch=1)


def test_a_function_that_raises_or_returns_nan_gives_failed_records(user_dir):
    from gp_opt.genome import OptimizerGenome

    genome = OptimizerGenome.from_nodes({"h0": ("identity", ["g"]), "out": ("identity", ["h0"])})
    assert custom_task("user_tasks:broken")(genome).status == "failed"
    assert custom_task("user_tasks:nan_fitness")(genome).status == "failed"
    assert custom_task("user_tasks:size_fitness")(genome).fitness == -2.0
