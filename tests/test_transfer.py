"""The transfer suite: tasks learn, the ensemble equals the loop, fair grids, the verdict, failures."""
from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import torch

from gp_opt.genome import OptimizerGenome
from gp_opt.surrogate.baselines import BASELINES
from gp_opt.surrogate.protocol import genome_factory
from gp_opt.transfer import compare, get_task, register_task, run_transfer, write_outputs
from gp_opt.transfer.ensemble import FactoryStepper, GenomeStepper, train_members
from gp_opt.transfer.registry import TASKS

ADAM = BASELINES["adam"]


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _nan_genome() -> OptimizerGenome:
    # exp(1 / g): inf for any small positive gradient, so the weights blow up at the first step
    return OptimizerGenome.from_nodes({"h0": ("reciprocal", ["g"]), "out": ("exp", ["h0"])})


# chance levels: 10 classes; majority class of breast_cancer 0.63, of wine 0.40; R^2 0 predicts the
# mean; a uniform model over the 98-character vocabulary has log2(98) = 6.6 bits per character
@pytest.mark.parametrize("name, options, lr, bound", [
    ("digits-mlp", {"steps": 60}, 0.01, 0.8),
    ("charlm", {"steps": 40, "dim": 32, "eval_windows": 32}, 0.01, 4.6),
    ("diabetes", {"steps": 60}, 0.01, 0.3),
    ("breast-cancer", {"steps": 40}, 0.01, 0.9),
    ("wine", {"steps": 40}, 0.01, 0.85),
])
def test_every_task_trains_with_adam_well_above_chance(name, options, lr, bound):
    task = get_task(name, **options)
    (run,) = train_members(task, FactoryStepper(ADAM), seeds=[0], lrs=[lr])
    assert run["status"] == "ok"
    score = run["test"][task.metric]
    assert (score > bound) if task.higher_is_better else (score < bound), (name, score)


def test_batched_ensemble_equals_the_loop_of_single_runs():
    task = get_task("digits-mlp", steps=25)
    for stepper in (lambda: FactoryStepper(ADAM), lambda: GenomeStepper(__import__("gp_opt.catalog").catalog.get("Opt6"))):
        batched = train_members(task, stepper(), seeds=[0, 1], lrs=[0.1, 0.001], batched=True)
        loop = train_members(task, stepper(), seeds=[0, 1], lrs=[0.1, 0.001], batched=False)
        assert [(r["seed"], r["lr"]) for r in batched] == [(r["seed"], r["lr"]) for r in loop]
        for a, b in zip(batched, loop):
            assert a["val"]["loss"] == pytest.approx(b["val"]["loss"], rel=1e-3, abs=1e-4)
        # the seeds differ (init and batches), the rates differ
        assert batched[0]["val"]["loss"] != batched[2]["val"]["loss"]
        assert batched[0]["val"]["loss"] != batched[1]["val"]["loss"]


def test_genome_stepper_steps_like_the_evolved_optimizer():
    """The functional ensemble step with per-member rates == EvolvedOptimizer, one param group per member."""
    from gp_opt import catalog

    task = get_task("diabetes", steps=30)
    for name in ("Opt6", "Opt10", "QHM"):
        genome = catalog.get(name)
        functional = train_members(task, GenomeStepper(genome), seeds=[0], lrs=[0.5, 0.05])
        module = train_members(task, FactoryStepper(genome_factory(genome)), seeds=[0], lrs=[0.5, 0.05])
        for a, b in zip(functional, module):
            assert a["val"]["mse"] == pytest.approx(b["val"]["mse"], rel=1e-4), name


@pytest.mark.parametrize("cls, kwargs", [(torch.optim.Adam, {}), (torch.optim.SGD, {}),
                                         (torch.optim.SGD, {"momentum": 0.9, "nesterov": True}),
                                         (torch.optim.RMSprop, {})])
def test_torch_stepper_at_unit_rate_equals_one_param_group_per_member(cls, kwargs):
    from gp_opt.surrogate.baselines import torch_factory
    from gp_opt.transfer.ensemble import TorchStepper

    task = get_task("diabetes", steps=30)
    stacked = TorchStepper(cls, **kwargs)
    assert stacked.unit_rate
    a = train_members(task, stacked, seeds=[0], lrs=[0.3, 0.01, 1e-4])
    b = train_members(task, FactoryStepper(torch_factory(cls, **kwargs)), seeds=[0], lrs=[0.3, 0.01, 1e-4])
    assert [x["status"] for x in a] == [y["status"] for y in b] and a[1]["status"] == "ok"
    for x, y in zip(a, b):
        if x["status"] == "ok":
            assert x["val"]["mse"] == pytest.approx(y["val"]["mse"], rel=1e-4)
    assert not TorchStepper(torch.optim.AdamW).unit_rate  # weight decay reads the weights: per-member groups


def test_nan_genome_is_a_failed_entry_and_the_rest_goes_on():
    task = get_task("wine", steps=20)
    res = run_transfer([_nan_genome(), "SGD"], [task], seeds=2, lrs=[0.1, 0.01], progress=None)
    by = {e["optimizer"]: e for e in res["entries"]}
    assert by["genome"]["status"] == "failed" and "NaN" in by["genome"]["reason"]
    assert by["genome"]["vs_reference"]["verdict"] == "n/a"
    assert by["SGD"]["status"] == "ok" and by["Adam"]["status"] == "ok"
    assert all(r["status"] == "failed" for r in res["runs"] if r["optimizer"] == "genome")


def test_a_rate_where_one_seed_fails_is_not_eligible():
    from gp_opt.transfer.suite import summarise

    task = get_task("wine")
    ok = lambda seed, lr, v: {"seed": seed, "lr": lr, "status": "ok", "val": {"accuracy": v}, "test": {"accuracy": v, "loss": 0.1}}
    runs = [ok(0, 1.0, 0.99), {"seed": 1, "lr": 1.0, "status": "failed", "reason": "NaN", "val": {}, "test": {}},
            ok(0, 0.1, 0.90), ok(1, 0.1, 0.92)]
    e = summarise(task, "x", runs, [1.0, 0.1])
    assert e["best_lr"] == 0.1 and e["test"] == [0.90, 0.92] and e["edge"] is True


def test_every_optimizer_gets_the_same_lr_grid_and_budget():
    task = get_task("wine", steps=15)
    grid = [0.3, 0.03, 0.003]
    res = run_transfer(["SGD", "Opt6", "Momentum"], [task], seeds=2, lrs=grid, progress=None)
    assert res["config"]["lrs"] == grid and res["config"]["optimizers"] == ["Adam", "SGD", "Opt6", "Momentum"]
    for opt in res["config"]["optimizers"]:
        runs = [r for r in res["runs"] if r["optimizer"] == opt]
        assert sorted((r["seed"], r["lr"]) for r in runs) == sorted((s, lr) for s in (0, 1) for lr in grid)
        assert all(r["steps"] == 15 for r in runs)
        entry = next(e for e in res["entries"] if e["optimizer"] == opt)
        assert [p["lr"] for p in entry["per_lr"]] == grid


@pytest.mark.parametrize("a, b, higher, verdict", [
    ([0.90, 0.91, 0.92, 0.905, 0.915], [0.80, 0.81, 0.79, 0.805, 0.795], True, "win"),
    ([0.70, 0.71, 0.69, 0.705, 0.695], [0.80, 0.81, 0.79, 0.805, 0.795], True, "loss"),
    ([0.50, 0.60, 0.40, 0.55, 0.45], [0.52, 0.41, 0.58, 0.47, 0.51], True, "tie"),
    ([2.0, 2.1, 2.05], [3.0, 3.1, 3.05], False, "win"),   # bits per char: lower is better
    ([3.0, 3.1, 3.05], [2.0, 2.1, 2.05], False, "loss"),
    ([1.0, 1.0], [1.0, 1.0], True, "tie"),                 # zero spread, equal
    ([1.0, 1.0], [0.9, 0.9], True, "win"),                 # zero spread, different
    ([1.0], [0.9, 0.8], True, "n/a"),                      # one seed: no test
])
def test_welch_verdict_on_synthetic_numbers(a, b, higher, verdict):
    out = compare(a, b, higher_is_better=higher)
    assert out["verdict"] == verdict
    if verdict in ("win", "loss") and len(set(a)) > 1:
        assert out["p"] < 0.05
    if verdict == "tie":
        assert out["p"] >= 0.05


def test_welch_p_value_is_scipys():
    from scipy import stats

    a, b = [0.8, 0.82, 0.79, 0.85], [0.78, 0.8, 0.77, 0.74]
    assert compare(a, b)["p"] == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)


def test_outputs_and_the_report_summary(tmp_path):
    res = run_transfer(["SGD"], [get_task("wine", steps=15), get_task("diabetes", steps=15)], seeds=2,
                       lrs=[0.1, 0.01], progress=None)
    paths = write_outputs(res, tmp_path / "transfer")
    assert {p.name for p in paths.values()} == {"results.json", "transfer.json", "transfer.md", "transfer.csv", "runs.csv"}
    doc = json.loads((tmp_path / "transfer" / "results.json").read_text())
    assert doc["tasks"] == ["wine", "diabetes"]
    rows = {(r["optimizer"], r["task"]): r for r in doc["results"]}
    assert len(rows[("SGD", "wine")]["scores"]) == 2 and rows[("SGD", "wine")]["status"] == "ok"
    assert rows[("SGD", "wine")].get("vs_adam") in ("win", "tie", "loss")
    assert "vs_adam" not in rows[("Adam", "wine")]
    md = (tmp_path / "transfer" / "transfer.md").read_text()
    assert "## wine" in md and "Welch" in md and "| SGD |" in md
    assert len((tmp_path / "transfer" / "runs.csv").read_text().splitlines()) == 1 + 2 * 2 * 2 * 2


def test_register_task_adds_a_users_task():
    from gp_opt.transfer.tasks import Tabular

    register_task("my-wine", lambda **kw: Tabular(name="my-wine", dataset="wine", **kw))
    try:
        assert get_task("my-wine", steps=7).steps == 7
    finally:
        TASKS.pop("my-wine")


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "gp_opt.cli", "transfer", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def test_cli_runs_a_custom_task_module_and_writes_tables(tmp_path):
    (tmp_path / "mytransfer.py").write_text(
        "from gp_opt.transfer.tasks import Tabular\n"
        "def tiny_wine(**kw):\n"
        "    return Tabular(name='tiny-wine', dataset='wine', **kw)\n")
    p = _cli("SGD", "--tasks", "mytransfer:tiny_wine", "--seeds", "2", "--lrs", "0.1,0.01", "--set", "steps=10",
             "-o", "out", "-q", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    assert doc["tasks"] == ["tiny-wine"] and {r["optimizer"] for r in doc["results"]} == {"Adam", "SGD"}


@pytest.mark.parametrize("args, words", [
    (["Adam", "--tasks", "nosuchtask"], "unknown transfer task 'nosuchtask'"),
    (["NoSuchOpt", "--tasks", "wine"], "unknown optimizer 'NoSuchOpt'"),
    (["Adam", "--tasks", "wine", "--lrs", "0.1,x"], "--lrs"),
    (["Adam", "--tasks", "wine", "--set", "nosuch=1"], "--set nosuch"),
    (["Adam", "--tasks", "cifar10-convnet"], "--data-dir"),
    (["Adam", "--tasks", "nomodule_xyz:task"], "cannot import"),
])
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys, args, words):
    from gp_opt.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["transfer", *args, "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and words in err
    assert not (tmp_path / "o").exists()



def test_the_same_call_after_a_kill_reuses_finished_entries(tmp_path, monkeypatch):
    import gp_opt.transfer.suite as suite

    tasks = [get_task("wine", steps=10), get_task("diabetes", steps=10)]
    first = run_transfer(["SGD"], tasks, seeds=2, lrs=[0.1, 0.01], out_dir=tmp_path, progress=None)
    # a second call trains nothing (every entry is saved) and gives the same table
    monkeypatch.setattr(suite, "train_members", lambda *a, **k: pytest.fail("retrained a saved entry"))
    again = run_transfer(["SGD"], tasks, seeds=2, lrs=[0.1, 0.01], out_dir=tmp_path, progress=None)
    assert [(e["optimizer"], e["test"], e["best_lr"]) for e in again["entries"]] == \
        [(e["optimizer"], e["test"], e["best_lr"]) for e in first["entries"]]
    # a kill while writing leaves a torn line: that entry alone trains again
    lines = (tmp_path / "progress.jsonl").read_text().splitlines()
    (tmp_path / "progress.jsonl").write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:50])
    trained = []
    monkeypatch.setattr(suite, "train_members", lambda task, stepper, **k: trained.append(task.name) or
                        __import__("gp_opt.transfer.ensemble", fromlist=["x"]).train_members(task, stepper, **k))
    run_transfer(["SGD"], tasks, seeds=2, lrs=[0.1, 0.01], out_dir=tmp_path, progress=None)
    assert trained == ["diabetes"]
    # another budget is another entry
    trained.clear()
    run_transfer(["SGD"], [get_task("wine", steps=11)], seeds=2, lrs=[0.1, 0.01], out_dir=tmp_path, progress=None)
    assert trained == ["wine", "wine"]


def test_convnet_task_runs_through_the_surrogate_engine_tiny_cpu_smoke(tmp_path):
    """CIFAR itself needs the data and a GPU (untested here); the same task on a tiny .npz of 8x8
    colour images whose class is the bright channel checks the plumbing on CPU."""
    import numpy as np

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 400)
    x = rng.normal(0, 0.5, (400, 8, 8, 3)).astype(np.float32)
    x[np.arange(400), :, :, y] += 0.7
    np.savez(tmp_path / "tiny.npz", x_train=x[:300], y_train=y[:300], x_val=x[300:], y_val=y[300:])
    task = get_task("cifar10-convnet", dataset="npz", data_dir=str(tmp_path / "tiny.npz"), base=4, steps=30,
                    batch=32, device="cpu")
    res = run_transfer(["Opt6"], [task], seeds=2, lrs=[0.1, 0.01], progress=None)
    for e in res["entries"]:
        assert e["status"] == "ok" and len(e["test"]) == 2 and min(e["test"]) > 0.6, e  # chance: 1/3


def test_two_genome_files_of_the_same_name_are_labelled_by_path(tmp_path):
    from gp_opt import catalog
    from gp_opt.errors import GpOptError
    from gp_opt.transfer.suite import resolve_all

    for run, name in (("a", "Opt6"), ("b", "Opt10")):
        (tmp_path / run).mkdir()
        (tmp_path / run / "best.json").write_text(catalog.get(name).to_json())
    files = [str(tmp_path / "a" / "best.json"), str(tmp_path / "b" / "best.json")]
    _, labels, _, ref = resolve_all(files)
    assert labels == ["Adam", *files] and ref == "Adam"
    with pytest.raises(GpOptError, match="named twice"):
        resolve_all(["Opt6", "Opt6"])
