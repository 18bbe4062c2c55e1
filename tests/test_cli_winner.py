"""A winner you can use: best.json and the hall of fame carry the fitness summary, learning rate,
task and preset; `gp-opt show` prints them for a genome file and a run directory;
EvolvedOptimizer.from_file builds the optimizer at that learning rate; nothing passed = exit 1."""
import json

import pytest
import torch

from gp_opt import tasks
from gp_opt.cli import main
from gp_opt.errors import OptimizerError
from gp_opt.fitness import FitnessRecord
from gp_opt.optim import EvolvedOptimizer

SEARCH = ["search", "--task", "quadratic", "--particles", "2", "--steps", "1", "--children", "2",
          "--init-factor", "2", "--seed", "3", "--set", "steps=30", "--set", "lrs=[0.1, 0.01]"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("w") / "run"
    assert main(SEARCH + ["--out", str(out)]) == 0
    return out


def test_best_json_and_the_hall_of_fame_say_how_the_winner_was_found(run):
    best = json.loads((run / "best.json").read_text())
    found = best["meta"]["found"]
    assert found["task"] == "quadratic" and found["preset"] is None and found["status"] == "ok"
    assert found["best_lr"] in (0.1, 0.01) and found["lrs_tried"] == [0.1, 0.01]
    assert found["task_options"] == {"steps": 30, "lrs": [0.1, 0.01]} and found["seed"] == 3
    ckpt = json.loads((run / "checkpoint.json").read_text())["state"]
    top = ckpt["hof"]["items"][0]["record"]
    assert found["fitness"] == top["fitness"] and found["best_lr"] == top["best_lr"]
    hof = json.loads((run / "hall_of_fame.json").read_text())
    assert [h["rank"] for h in hof] == list(range(len(hof))) and len(hof) == len(ckpt["hof"]["items"])
    assert all("best_lr" in h["meta"]["found"] for h in hof)
    fits = [h["meta"]["found"]["fitness"] for h in hof]
    assert fits == sorted(fits, reverse=True)


def test_the_search_says_where_the_winner_is_with_fitness_and_lr(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(SEARCH + ["--out", str(out)]) == 0
    text = capsys.readouterr().out
    found = json.loads((out / "best.json").read_text())["meta"]["found"]
    assert f"best saved to {out / 'best.json'}: fitness {found['fitness']:.4g} (ok), best lr {found['best_lr']:g}" in text
    assert "EvolvedOptimizer.from_file(" in text
    # --plain: the equation on one line
    assert main(["resume", str(out), "--plain"]) == 0
    tail = capsys.readouterr().out.split("U =\n", 1)[1].strip().splitlines()
    assert len(tail) == 1 and "operand__" not in tail[0]  # display names, not internal symbols


def test_show_prints_the_winners_record(run, capsys):
    assert main(["show", str(run / "best.json")]) == 0
    text = capsys.readouterr().out
    assert "found by a search: fitness" in text and "best lr" in text and "task quadratic" in text


def test_show_of_a_run_directory(run, capsys):
    assert main(["show", str(run)]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"run {run}: task quadratic, particle search, seed 3; step 1 of 1 (finished)")
    assert "hall of fame (fitness, best lr)" in text and "found by a search" in text and "U =" in text


def test_from_file_builds_the_optimizer_at_the_recorded_lr(run):
    lr = json.loads((run / "best.json").read_text())["meta"]["found"]["best_lr"]
    w = torch.nn.Parameter(torch.ones(3))
    opt = EvolvedOptimizer.from_file(run / "best.json", [w], total_steps=10)
    assert opt.param_groups[0]["lr"] == lr
    w.grad = torch.ones(3)
    opt.step()
    assert not torch.equal(w.detach(), torch.ones(3))
    assert EvolvedOptimizer.from_file(run / "best.json", [w], lr=0.5, total_steps=10).param_groups[0]["lr"] == 0.5


def test_from_file_without_a_recorded_lr_asks_for_one(tmp_path):
    from gp_opt import catalog
    path = tmp_path / "adam.json"
    path.write_text(catalog.get("Adam").to_json())
    with pytest.raises(OptimizerError, match="records no learning rate"):
        EvolvedOptimizer.from_file(path, [torch.nn.Parameter(torch.ones(2))], total_steps=5)


def _never(**options):
    return lambda genome: FitnessRecord.failed("this task rejects everything")


def test_nothing_passed_is_said_and_exits_1(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(tasks.TASKS, "never", _never)
    out = tmp_path / "run"
    code = main(["search", "--task", "never", "--particles", "1", "--steps", "1", "--children", "1",
                 "--init-factor", "2", "--quiet", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert "no candidate passed: every one was rejected or failed" in err and err.count("\n") == 1
    assert not (out / "best.json").exists()
