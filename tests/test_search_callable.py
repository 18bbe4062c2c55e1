"""run_search takes the fitness itself: a callable or a Task. One importable by name is recorded as
module:attribute and resumes as such; one that is not is recorded as a Python callable, and a
command-line resume is refused in one line; nothing is left behind by a config run.json cannot hold."""
import json
from pathlib import Path

import pytest

from gp_opt.cli import main
from gp_opt.errors import GpOptError
from gp_opt.fitness import FitnessRecord
from gp_opt.search import make_toolbox, resume_search, run_search
from gp_opt.tasks import get_task

TINY = dict(particles=1, steps=1, children=2, init_factor=2, verbose=False)


def short_genomes(genome):
    """A fitness importable by name (this module is on sys.path under pytest)."""
    return FitnessRecord(fitness=-float(len(genome.to_json())))


def _config(run):
    return json.loads((Path(run) / "run.json").read_text())["config"]


def test_a_lambda_is_recorded_as_a_python_callable_and_the_cli_refuses_to_resume_it(tmp_path, capsys):
    run = tmp_path / "run"
    fitness = lambda g: -float(len(g.to_json()))  # noqa: E731
    res = run_search(fitness, run, **TINY)
    assert res.best is not None and _config(run)["task"].startswith("python callable ")
    before = sorted((p.name, p.stat().st_size) for p in run.iterdir())
    assert main(["resume", str(run), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Python callable" in err and "toolbox=" in err
    assert sorted((p.name, p.stat().st_size) for p in run.iterdir()) == before
    again = resume_search(run, toolbox=make_toolbox(fitness), verbose=False)  # from Python it resumes
    assert [c.key for c in again.halloffame] == [c.key for c in res.halloffame]


def test_an_importable_function_and_a_task_are_recorded_by_name(tmp_path):
    run_search(short_genomes, tmp_path / "fn", **TINY)
    assert _config(tmp_path / "fn")["task"] == "test_search_callable:short_genomes"
    resume_search(tmp_path / "fn", task="test_search_callable:short_genomes", verbose=False)
    run_search(get_task("quadratic", steps=15), tmp_path / "task", **TINY)
    cfg = _config(tmp_path / "task")
    assert cfg["task"] == "gp_opt.tasks:NoisyQuadratic" and cfg["toolbox"]["task_options"]["steps"] == 15


def test_the_toolbox_route_records_its_own_fitness_not_the_task_argument(tmp_path):
    run_search("quadratic", tmp_path / "run", toolbox=make_toolbox(lambda g: 0.0), **TINY)
    assert _config(tmp_path / "run")["task"].startswith("python callable ")


def test_a_config_run_json_cannot_hold_leaves_nothing(tmp_path):
    with pytest.raises(GpOptError, match="cannot be recorded in run.json"):
        run_search(lambda g: 0.0, tmp_path / "run", task_options={"weights": object()}, **TINY)
    assert not (tmp_path / "run").exists()
