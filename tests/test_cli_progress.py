"""A run that talks: a line before the initial population is drawn, a line per candidate as it
finishes (initial population included) with the best so far and an ETA, step lines and a summary
in plain words, and at the end where the winner is with its fitness and learning rate."""
import os
import subprocess
import sys
from pathlib import Path

from gp_opt.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_lines_arrive_while_the_search_runs(tmp_path):
    env = dict(os.environ, PYTHONUNBUFFERED="1",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "gp_opt.cli", "search", "--task", "toy", "--particles", "2",
                             "--steps", "2", "--children", "2", "--init-factor", "3", "--set", "delay=0.2",
                             "--out", str(tmp_path / "run")],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline()
    assert first.startswith("drawing 6 random candidates for the initial population")
    second = proc.stdout.readline()
    assert second.startswith("  init 1/6: ") and "elapsed" in second
    assert proc.poll() is None  # printed while the initial population is still being evaluated
    rest, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "ETA" in rest and "  step 2/2 particle 2 child 2: " in rest


def test_the_words_of_a_genome_search(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["search", "--task", "quadratic", "--particles", "2", "--steps", "1", "--children", "2",
                 "--init-factor", "2", "--seed", "3", "--set", "steps=30", "--set", "lrs=[0.1, 0.01]",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0].startswith("drawing 4 random candidates")
    assert [x.split(":")[0] for x in lines[1:5]] == ["  init 1/4", "  init 2/4", "  init 3/4", "  init 4/4"]
    assert all(" at lr " in x or "did not" in x or "failed" in x or "rejected" in x for x in lines[1:5])
    assert "rejected by the integrity check" in text and "cache hits" in text and "duplicates skipped" in text
    assert "  step 1/1 particle 1 child 1: " in text
    assert "particle search done in" in text
    assert f"best saved to {out / 'best.json'}: fitness " in text and "best lr" in text
