"""The verbs that run things: search, resume, export, evaluate — and their exit code 2 on bad input."""
import importlib.util
import json

import pytest
import torch

from gp_opt import catalog
from gp_opt.cli import main
from gp_opt.optim import EvolvedOptimizer


def test_search_then_resume_writes_a_run_directory(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["search", "--task", "quadratic", "--particles", "2", "--steps", "1", "--children", "2",
            "--init-factor", "2", "--seed", "3", "--set", "steps=30", "--out", str(out)]
    assert main(args) == 0
    lines = (out / "candidates.jsonl").read_text().splitlines()
    assert len(lines) >= 2 + 2 * 2  # the initial population and every child, on disk
    best = json.loads((out / "best.json").read_text())
    assert best["schema"] == 1
    assert "best saved to" in capsys.readouterr().out
    # a finished run resumes to the same result without evaluating anything again
    assert main(["resume", str(out), "--quiet"]) == 0
    assert len((out / "candidates.jsonl").read_text().splitlines()) == len(lines)
    # refusing to overwrite a run
    assert main(args) == 2
    assert "already holds a run" in capsys.readouterr().err


def test_resume_of_a_foreign_directory_is_exit_2(tmp_path, capsys):
    (tmp_path / "checkpoint.json").write_text("{not json")
    assert main(["resume", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gp-opt resume: error:") and "Traceback" not in err


def test_export_writes_an_importable_module(tmp_path):
    path = tmp_path / "opt10.py"
    assert main(["export", "Opt10", "--torch", str(path)]) == 0
    spec = importlib.util.spec_from_file_location("opt10", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    optimizer_classes = [v for v in vars(module).values()
                         if isinstance(v, type) and issubclass(v, torch.optim.Optimizer)]
    assert optimizer_classes
    torch.manual_seed(0)
    w1 = torch.nn.Parameter(torch.randn(5))
    w2 = torch.nn.Parameter(w1.detach().clone())
    ours = EvolvedOptimizer([w1], catalog.get("Opt10"), lr=0.1, total_steps=20)
    theirs = optimizer_classes[0]([w2], lr=0.1, total_steps=20)
    for _ in range(20):
        for w, opt in ((w1, ours), (w2, theirs)):
            opt.zero_grad()
            ((w - 1) ** 2).sum().backward()
            opt.step()
    assert torch.equal(w1, w2)


def test_evaluate_prints_a_record_and_bad_data_is_exit_2(tmp_path, capsys):
    assert main(["evaluate", "Adam", "--quiet", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["status"] == "ok" and record["fitness"] > 0.5
    assert main(["evaluate", "Adam", "--dataset", "cifar10", "--data-dir", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path) in err and "--download" in err


@pytest.mark.parametrize("argv", [
    ["search", "--task", "nope", "--particles", "1", "--steps", "1", "--children", "1", "--out", "x"],
])
def test_bad_arguments_exit_2(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:  # a usage error argparse found
        code = exc.code
    assert code == 2
