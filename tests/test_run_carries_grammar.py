"""A run directory carries its grammar by content and loads no code or file from outside itself:
every verb reads the run's grammar from its own checked copy, genome files a run writes carry a
custom grammar, and a recorded module:attribute task is imported only when the user names it."""
import json
import shutil

import pytest

from gp_opt import catalog, grammar, grammar_copy
from gp_opt.cli import main
from gp_opt.errors import CheckpointError, GrammarError
from gp_opt.rundir import GRAMMAR_FILE, RunDir, run_grammar

MINE = ('extends = "default"\nname = "mine"\n[ops.cube]\nexpr = "x**3"\n'
        '[update]\nunary = ["identity", "neg", "cube", "tanh"]\n')
SEARCH = ["search", "--task", "quadratic", "--particles", "1", "--steps", "1", "--children", "1",
          "--init-factor", "1", "--seed", "0", "--set", "steps=5", "-q"]


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_a_custom_grammar_run_is_used_from_another_folder_without_grammar(tmp_path, monkeypatch, capsys):
    """Issue 21's end-to-end check: search with a custom grammar in one folder (exit 0, not the old
    'pass that grammar file' exit 2), then resume, show, report, export and plot from another."""
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir()
    there.mkdir()
    (here / "mine.toml").write_text(MINE)
    monkeypatch.chdir(here)
    assert main(SEARCH + ["--grammar", "mine.toml", "--out", "run"]) == 0, capsys.readouterr().err
    run = here / "run"
    record = json.loads((run / "run.json").read_text())["config"]["toolbox"]["grammar"]
    text = (run / GRAMMAR_FILE).read_text()
    assert record == {"file": GRAMMAR_FILE, "name": "mine", "sha256": grammar_copy.digest(text)}
    assert "extends" not in text and "cube" in text
    (here / "mine.toml").unlink()  # the run needs nothing outside itself
    monkeypatch.chdir(there)
    capsys.readouterr()
    for argv in (["resume", "../here/run", "-q"], ["show", "../here/run"], ["report", "../here/run"],
                 ["export", "../here/run/best.json", "--torch", "opt.py"],
                 ["plot", "../here/run/best.json", "--graph", "-o", "g.png"],
                 ["latex", "../here/run"]):
        assert main(argv) == 0, (argv, capsys.readouterr().err)
    assert (there / "opt.py").is_file() and (there / "g.png").is_file()
    assert "grammar mine" in capsys.readouterr().out
    # a winner file copied alone still loads: it carries the grammar
    shutil.copy(run / "best.json", there / "alone.json")
    g = catalog.load_file(there / "alone.json")
    assert g.grammar.name == "mine" and "cube" in g.grammar.ops
    import torch

    from gp_opt.optim import EvolvedOptimizer
    opt = EvolvedOptimizer.from_file(there / "alone.json", [torch.nn.Parameter(torch.ones(3))], total_steps=5)
    assert opt.genome.grammar.name == "mine"
    # an edited copy is refused by every reader, in one line
    (run / GRAMMAR_FILE).write_text(text.replace("x**3", "x**5"))
    for argv in (["resume", "../here/run"], ["report", "../here/run"]):
        assert main(argv) == 2
        assert "does not match the sha256" in _one_line(capsys.readouterr().err)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A small finished default-grammar run, made once for the tests that rewrite copies of it."""
    from gp_opt.search import run_search

    out = tmp_path_factory.mktemp("finished") / "run"
    from gp_opt.rundir import RunDir
    from gp_opt.winner import save_winners

    result = run_search("quadratic", out, 1, 1, 1, init_factor=1, task_options={"steps": 5}, verbose=False)
    meta = RunDir.open(out, lock=False).meta
    assert save_winners(out, result.halloffame.items, meta["config"], meta["run_id"]) is not None
    return out


def _legacy_run(finished, path, toolbox_grammar, task="quadratic"):
    """A copy of ``finished`` as gp_opt wrote runs before they kept their grammar: run.json names
    the grammar by path (re-signed, as anyone can: its sha256 is a plain hash), no copy."""
    from gp_opt.rundir.core import meta_digest

    shutil.copytree(finished, path)
    (path / GRAMMAR_FILE).unlink()
    meta = json.loads((path / "run.json").read_text())
    meta["config"]["toolbox"]["grammar"] = toolbox_grammar
    meta["config"]["toolbox"]["task"] = meta["config"]["task"] = task
    meta["sha256"] = meta_digest(meta)
    (path / "run.json").write_text(json.dumps(meta))
    return path


def test_a_run_pointing_its_grammar_outside_runs_nothing_and_says_why(finished_run, tmp_path, capsys):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.toml"
    evil.write_text('extends = "default"\n[ops.neg]\nexpr = "x + 0*__import__(\'os\').system(\'touch '
                    + str(marker) + '\')"\n')
    run = _legacy_run(finished_run, tmp_path / "rx", str(evil))
    for argv in (["resume", str(run)], ["report", str(run)], ["eliminate", str(run)], ["show", str(run)],
                 ["export", str(run), "--torch", str(tmp_path / "x.py")]):
        rc = main(argv)
        line = _one_line(capsys.readouterr().err)
        assert rc == 2 and "names it by path" in line and "grammar.toml" in line, (argv, line)
    assert not marker.exists()
    assert not (run / "report").exists() and not (run / "elimination").exists()  # nothing written
    with pytest.raises(CheckpointError, match="names it by path"):
        run_grammar(run, {"grammar": str(evil)})


def test_a_legacy_run_of_the_default_grammar_still_works(finished_run, tmp_path, capsys):
    run = _legacy_run(finished_run, tmp_path / "old", None)
    assert main(["resume", str(run), "-q"]) == 0 and main(["show", str(run)]) == 0
    assert run_grammar(run, {"grammar": None}) is grammar.load()
    assert run_grammar(run, {"grammar": "default"}) is grammar.load()
    # the one-line fix for a custom one: its copy in the run (it may extend only "default")
    (run / GRAMMAR_FILE).write_text(MINE)
    assert run_grammar(run, {"grammar": "/elsewhere/mine.toml"}).name == "mine"
    (run / GRAMMAR_FILE).write_text('extends = "../outside.toml"\n')
    with pytest.raises(GrammarError, match="may only extend"):
        run_grammar(run, {"grammar": "/elsewhere/mine.toml"})


def test_a_recorded_module_task_is_imported_only_when_named(finished_run, tmp_path, monkeypatch, capsys):
    marker = tmp_path / "pwned"
    run = _legacy_run(finished_run, tmp_path / "rx", None, task="rx.payload:f")
    (run / "payload.py").write_text(f"open({str(marker)!r}, 'w').close()\ndef f(genome):\n    return 0.0\n")
    monkeypatch.chdir(tmp_path)  # the run directory is importable as a package from here
    before = sorted(p.name for p in run.iterdir())
    assert main(["resume", "rx"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "rx.payload:f" in line and "--task rx.payload:f" in line and "--trust-task" in line
    assert main(["resume", "rx", "--task", "other:g"]) == 2
    assert "a run continues with its own task" in _one_line(capsys.readouterr().err)
    assert not marker.exists() and sorted(p.name for p in run.iterdir()) == before


def test_the_grammar_copy_reads_back_the_same_grammar():
    for g in (grammar.load(), catalog.grammar()):
        text = grammar_copy.to_toml(g)
        back = grammar_copy.from_text(text, "copy.toml")
        assert back.raw == g.raw and catalog.builtin_twin(back) is g
    with pytest.raises(GrammarError, match=r"copy\.toml: \[\[operand\]\] 'g': unknown key 'exp'"):
        grammar_copy.from_text('[[operand]]\nname = "g"\nexp = "g"\n', "copy.toml")


def test_the_grammar_copy_is_never_read_through_a_link_or_a_pipe(finished_run, tmp_path):
    import os

    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    toolbox = json.loads((run / "run.json").read_text())["config"]["toolbox"]
    assert run_grammar(run, toolbox) is grammar.load()
    outside = tmp_path / "outside.toml"
    shutil.move(run / GRAMMAR_FILE, outside)  # the same bytes, so the same sha256, but outside
    os.symlink(outside, run / GRAMMAR_FILE)
    with pytest.raises(CheckpointError, match="symbolic link"):
        run_grammar(run, toolbox)
    (run / GRAMMAR_FILE).unlink()
    os.mkfifo(run / GRAMMAR_FILE)  # would block a plain open()
    with pytest.raises(CheckpointError, match="not a regular file"):
        run_grammar(run, toolbox)
    (run / GRAMMAR_FILE).unlink()
    with pytest.raises(CheckpointError, match="cannot read the run's grammar copy"):
        run_grammar(run, toolbox)
