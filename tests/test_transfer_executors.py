"""gp-opt transfer on an executor: each (task, optimizer) entry is one picklable job, the records
come back in submission order and only the driver writes the output directory, so a process pool
gives the in-process tables; saved entries are not sent again; a task or optimizer pickle cannot
carry, and bad executor options, are one line and exit 2 before anything is written."""
from __future__ import annotations

import json
import math
import pickle

import pytest
import torch

from gp_opt.cli import main
from gp_opt.errors import GpOptError
from gp_opt.search.executors import InProcess, LocalPool, lost_record
from gp_opt.transfer import get_task, run_transfer
from gp_opt.transfer.jobs import OptimizerSpec, ShippingError, TransferJob, run_job
from gp_opt.transfer.suite import resolve_optimizer

from support.executors import progress_runs, without_wall_times

SMALL = ["--seeds", "2", "--lrs", "0.1,0.01", "--set", "steps=10", "-q"]


@pytest.fixture(autouse=True)
def _threads():
    threads = torch.get_num_threads()  # the CLI sets --threads (default 1) in this process
    yield
    torch.set_num_threads(threads)


def test_optimizer_specs_are_plain_data_that_pickle_and_train_the_same():
    for name in ("adam", "Opt6"):
        label, make = resolve_optimizer(name)
        again = pickle.loads(pickle.dumps(make))
        assert again.label == label and type(again()) is type(make())
    task = get_task("wine", steps=8)
    job = TransferJob(task, resolve_optimizer("Opt6")[1], seeds=(0, 1), lrs=(0.1,), threads=1)
    a, b = run_job(job), run_job(pickle.loads(pickle.dumps(job)))
    assert without_wall_times(a["runs"]) == without_wall_times(b["runs"]) and len(a["runs"]) == 2


def test_cli_pool_of_two_workers_writes_the_in_process_tables(tmp_path):
    args = ["transfer", "SGD", "Opt6", "--tasks", "wine,diabetes", *SMALL]
    assert main([*args, "-o", str(tmp_path / "here")]) == 0
    assert main([*args, "-o", str(tmp_path / "pool"), "--executor", "pool", "--workers", "2"]) == 0
    here, pool = tmp_path / "here", tmp_path / "pool"
    for name in ("results.json", "transfer.md", "runs.csv"):
        assert (pool / name).read_text() == (here / name).read_text(), name
    a, b = (json.loads((d / "transfer.json").read_text()) for d in (here, pool))
    assert without_wall_times(b) == without_wall_times(a)
    assert len(a["entries"]) == 6 and all(e["status"] == "ok" for e in a["entries"])
    assert progress_runs(pool) == progress_runs(here) and len(progress_runs(here)) == 6


class Recording(InProcess):
    """In-process, noting how many jobs each call submits; ``lose``: the first job's worker is
    lost on every attempt (the executor's failed record instead of the job's records)."""

    def __init__(self, lose=False):
        super().__init__()
        self.submitted, self.lose = [], lose

    def map(self, func, items, inner_map=map):
        items = list(items)
        self.submitted.append([job.describe() for job in items])
        out = list(super().map(func, items, inner_map))
        if self.lose and out:
            out[0] = lost_record("ActorDiedError: the worker died", "ray", 3)
        return iter(out)


def test_saved_entries_stay_on_the_driver_and_a_lost_entry_is_tried_again(tmp_path):
    tasks = [get_task("wine", steps=10), get_task("diabetes", steps=10)]
    kw = dict(seeds=2, lrs=[0.1, 0.01], out_dir=tmp_path, progress=None)
    first = run_transfer(["SGD"], tasks, **kw)
    lines = (tmp_path / "progress.jsonl").read_text().splitlines()
    (tmp_path / "progress.jsonl").write_text("\n".join(lines[:-1]) + "\n")  # the last entry lost
    ex = Recording()
    again = run_transfer(["SGD"], tasks, executor=ex, **kw)
    assert ex.submitted == [["diabetes x SGD"]]  # only the unsaved entry went out
    assert [(e["optimizer"], e["test"], e["best_lr"]) for e in again["entries"]] == \
        [(e["optimizer"], e["test"], e["best_lr"]) for e in first["entries"]]

    out = tmp_path / "lost"
    ex = Recording(lose=True)
    res = run_transfer(["SGD"], tasks[:1], executor=ex, **{**kw, "out_dir": out})
    adam, sgd = res["entries"]
    assert adam["status"] == "failed" and "evaluation lost 3 times (ray)" in adam["reason"]
    assert sgd["status"] == "ok" and adam["vs_reference"]["verdict"] == "ref"
    assert len(progress_runs(out)) == 1  # the lost entry is not saved: the same call trains it again
    ex = Recording()
    res = run_transfer(["SGD"], tasks[:1], executor=ex, **{**kw, "out_dir": out})
    assert ex.submitted == [["wine x Adam"]] and all(e["status"] == "ok" for e in res["entries"])


def _local_task(**kw):
    """A task whose class is defined inside a function: pickle cannot carry it to a worker."""
    from dataclasses import dataclass

    from gp_opt.transfer.tasks import Tabular

    @dataclass(frozen=True)
    class LocalWine(Tabular):
        pass

    return LocalWine(name="local-wine", dataset="wine", **kw)


def test_a_task_or_optimizer_pickle_cannot_carry_is_refused_before_anything_trains(tmp_path):
    pool = LocalPool(2)  # not started: the check comes first
    with pytest.raises(ShippingError, match="transfer task 'local-wine' cannot go to an executor: .*LocalWine"):
        run_transfer(["SGD"], [_local_task(steps=5)], seeds=1, lrs=[0.1], executor=pool, out_dir=tmp_path / "o",
                     progress=None)
    from gp_opt.surrogate.baselines import torch_factory

    factory = lambda groups, lr, total, warmup: torch_factory(torch.optim.SGD)(groups, lr, total, warmup)  # noqa: E731
    with pytest.raises(ShippingError, match="optimizer '<lambda>' cannot go to an executor"):
        run_transfer([factory], [get_task("wine", steps=5)], seeds=1, lrs=[0.1], executor=pool,
                     out_dir=tmp_path / "o", progress=None)
    assert pool._pool is None and not (tmp_path / "o").exists()
    # in this process nothing is pickled: the same task trains
    res = run_transfer(["SGD"], [_local_task(steps=5)], seeds=1, lrs=[0.1], executor=InProcess(), progress=None)
    assert [e["status"] for e in res["entries"]] == ["ok", "ok"]


@pytest.mark.parametrize("extra, words", [
    (["--tasks", "test_transfer_executors:_local_task", "--executor", "pool", "--workers", "2"],
     "transfer task 'local-wine' cannot go to an executor"),
    (["--address", "127.0.0.1:9"], "--address need --executor ray"),
    (["--executor", "pool"], "--executor pool needs --workers N"),
    (["--executor", "pool", "--workers", "2", "--gpus-per-eval", "1"], "need --executor ray, not pool"),
    (["--executor", "ray", "--address", "127.0.0.1:9"], "no Ray cluster at 127.0.0.1:9"),
])
def test_cli_bad_executor_input_is_one_line_and_exit_2_before_anything_is_written(tmp_path, capsys, extra, words):
    if "ray" in extra:
        pytest.importorskip("ray")
    tasks = [] if "--tasks" in extra else ["--tasks", "wine"]
    assert main(["transfer", "SGD", *tasks, *SMALL, *extra, "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and words in err, err
    assert not (tmp_path / "o").exists()


def test_lost_runs_keep_the_tables_writable(tmp_path):
    """A lost entry's runs have no metrics: the CSV and Markdown tables are still written."""
    ex = Recording(lose=True)
    run_transfer(["SGD"], [get_task("wine", steps=5)], seeds=1, lrs=[0.1], executor=ex, out_dir=tmp_path,
                 progress=None)
    rows = (tmp_path / "runs.csv").read_text().splitlines()
    assert len(rows) == 3 and "failed" in rows[1] and "evaluation lost" in (tmp_path / "transfer.md").read_text()
    doc = json.loads((tmp_path / "results.json").read_text())
    assert [r["status"] for r in doc["results"]] == ["failed", "ok"]
    assert not math.isnan(doc["results"][1]["scores"][0])


def test_shipping_error_is_a_gp_opt_error_and_a_baseline_spec_checks_its_name():
    # ShippingError is a GpOptError: the CLI turns it into one line and exit 2
    assert issubclass(ShippingError, GpOptError)
    with pytest.raises(GpOptError, match="not a torch baseline"):
        OptimizerSpec.baseline("Opt6")
