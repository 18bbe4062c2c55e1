"""Adding an algorithm touches gp_opt/search/algorithms.py and its tests only: an algorithm defined
here and put in its registry runs from Python and the command line, is checkpointed, killed and
resumed to the same run, and has its unused options refused -- with no other module changed."""
import pytest

from gp_opt.cli import main
from gp_opt.errors import CheckpointError, GpOptError
from gp_opt.rundir import RunDir
from gp_opt.search import algorithms, make_toolbox, resume_search, run_search
from gp_opt.search.candidate import History, is_ok, rank
from gp_opt.search.loop import SearchLoop

from support.runs import Crash, CrashingQuadratic, log_lines, without_timing


def hill_climb(toolbox, n_initial, n_steps, n_children, **options):
    """(1 + lambda) hill climbing: the best of a random start, then each step its best child if better."""
    run = SearchLoop("hillclimb", toolbox, unit="step", n_steps=n_steps,
                     expected=n_initial + n_steps * n_children, **options)
    if run.state is None:
        pop = run.initial(n_initial)
        best = max(pop, key=rank)
        history = History(run.engine.ops.keys(best.payload))
        run.done(0, [best], pop, population=[best], history=history.order)
    else:
        best, history = run.candidates("population")[0], History(run.state["history"])
    for step in run.generations(n_steps):
        children = run.engine.vary([(best, history, {"phase": "step", "step": step + 1, "particle": 0, "slot": j})
                                    for j in range(n_children)], 1)
        ok = [c for c in children if is_ok(c)]
        best = max([best] + ok, key=rank)
        run.done(step + 1, [best], ok, population=[best], history=history.order)
    run.finish("hill climb done", [("best", best)])
    return [best], run.logbook


HILL_CLIMB = algorithms.Algorithm(
    lambda toolbox, cfg, **options: hill_climb(toolbox, cfg["init_factor"] * cfg["particles"], cfg["steps"],
                                               cfg["children"], **options),
    "steps", "(1 + lambda) hill climbing", unused=("population_size", "cycles", "sample_size", "noise", "objectives"))

ARGS = dict(particles=2, steps=3, children=2, seed=4, init_factor=2, verbose=False)


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setitem(algorithms.ALGORITHMS, "hillclimb", HILL_CLIMB)


def test_a_registered_algorithm_runs_checkpoints_and_resumes(tmp_path, registered):
    ref = run_search("quadratic", tmp_path / "ref", algorithm="hillclimb", toolbox=make_toolbox(CrashingQuadratic()),
                     **ARGS)
    assert ref.algorithm == "hillclimb" and len(ref.logbook) == 1 + ARGS["steps"]
    with pytest.raises(Crash):  # killed in step 2 (4 initial, 2 per step)
        run_search("quadratic", tmp_path / "run", algorithm="hillclimb", toolbox=make_toolbox(CrashingQuadratic(limit=4 + 2 + 1)),
                   **ARGS)
    resumed = resume_search(tmp_path / "run", toolbox=make_toolbox(CrashingQuadratic()), verbose=False)
    assert [without_timing(x) for x in log_lines(tmp_path / "run")] == \
        [without_timing(x) for x in log_lines(tmp_path / "ref")]
    assert [c.key for c in resumed.population] == [c.key for c in ref.population]


def test_a_registered_algorithm_is_offered_and_checked_on_the_command_line(tmp_path, registered, capsys):
    argv = ["search", "--task", "quadratic", "--set", "steps=30", "--particles", "2", "--steps", "1",
            "--children", "1", "--init-factor", "2", "--algorithm", "hillclimb", "--quiet"]
    assert main(argv + ["--out", str(tmp_path / "run")]) == 0
    assert RunDir.open(tmp_path / "run", lock=False).config["algorithm"] == "hillclimb"
    assert len(log_lines(tmp_path / "run")) == 4 + 1
    capsys.readouterr()
    # an option the algorithm has no use for: one line naming it and the algorithm, exit 2, nothing made
    assert main(argv + ["--noise-aware", "--out", str(tmp_path / "noisy")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--noise-aware: not for --algorithm hillclimb" in err
    assert not (tmp_path / "noisy").exists()
    with pytest.raises(GpOptError, match="objectives: not for algorithm 'hillclimb'"):
        run_search("quadratic", None, algorithm="hillclimb", objectives="fitness,memory", **ARGS)


def test_the_command_line_lists_the_registry(registered, capsys):
    with pytest.raises(SystemExit):
        main(["search", "--help"])
    assert "hillclimb" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["search", "--task", "quadratic", "--particles", "1", "--steps", "1", "--children", "1",
              "--algorithm", "nosuch", "--out", "x"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'nosuch'" in err and "hillclimb" in err


def test_a_checkpoint_of_an_algorithm_no_longer_registered_is_refused(tmp_path, monkeypatch):
    monkeypatch.setitem(algorithms.ALGORITHMS, "hillclimb", HILL_CLIMB)
    run_search("quadratic", tmp_path / "run", algorithm="hillclimb", task_options={"steps": 30}, **ARGS)
    monkeypatch.delitem(algorithms.ALGORITHMS, "hillclimb")
    with pytest.raises((CheckpointError, GpOptError), match="hillclimb"):
        resume_search(tmp_path / "run", verbose=False)
