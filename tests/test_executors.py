"""Executors (gp_opt.search.executors): in-process and the local process pool. Ray: test_ray.py."""
import argparse
import json

import pytest

from gp_opt.cli import main
from gp_opt.fitness import FAILED
from gp_opt.search import make_toy_toolbox, run_search, toy_key
from gp_opt.search.executors import (ExecutorError, InProcess, LocalPool, add_executor_options,
                                     executor_from_args)

from support.executors import RUN, strip_timing, StartedToy, started, Batched


def test_groups_one_candidate_each_for_a_plain_map_else_one_per_slot():
    items = list(range(7))
    assert InProcess().groups(items, map) == [[i] for i in items]
    pool = LocalPool(3)
    assert pool.groups(items, Batched("/dev/null")) == [[0, 1, 2], [3, 4, 5], [6]]
    assert pool.groups(items[:2], Batched("/dev/null")) == [[0], [1]]
    assert pool.groups([], Batched("/dev/null")) == []


def test_in_process_executor_is_the_run_without_one(tmp_path):
    run_search("toy", tmp_path / "plain", **RUN)
    with InProcess() as ex:
        run_search("toy", tmp_path / "inproc", executor=ex, **RUN)
    assert strip_timing(tmp_path / "plain") == strip_timing(tmp_path / "inproc")


def test_pool_same_log_batched_groups_and_a_killed_worker_costs_retries_not_the_run(tmp_path):
    ref = run_search("toy", tmp_path / "ref", **RUN)
    with LocalPool(2, max_retries=1) as pool:
        # 1. the plain map: the same candidates, results in submission order
        run_search("toy", tmp_path / "pool", executor=pool, **RUN)
        assert strip_timing(tmp_path / "pool") == strip_timing(tmp_path / "ref")

        # 2. a batched map goes out in groups, one per worker, each evaluated by that map
        tb = make_toy_toolbox(seed=3)
        tb.register("map", Batched(tmp_path / "groups.log"))
        run_search("toy", tmp_path / "batched", executor=pool, toolbox=tb, **RUN)
        assert strip_timing(tmp_path / "batched") == strip_timing(tmp_path / "ref")
        groups = [json.loads(g) for g in (tmp_path / "groups.log").read_text().splitlines()]
        assert max(map(len, groups)) > 1 and all(len(g) <= 5 for g in groups)
        assert len(groups) >= 2 * (1 + RUN["steps"])  # each call: two groups (two workers)

        # 3. a candidate that kills its worker every time: max_retries + 1 attempts, then a
        # failed record; the search goes on
        doomed = ref.population[0].key  # a particle of the reference run
        tb = make_toy_toolbox(seed=3, evaluate=StartedToy(tmp_path / "started.log", doomed=[doomed]))
        res = run_search("toy", tmp_path / "doomed", executor=pool, toolbox=tb, **RUN)
    lines = [json.loads(x) for x in (tmp_path / "doomed" / "candidates.jsonl").read_text().splitlines()]
    rec = next(x["record"] for x in lines if x["key"] == doomed)
    assert rec["status"] == FAILED and "pool worker died" in rec["reason"] and rec["extra"]["attempts"] == 2
    assert started(tmp_path / "started.log").count(doomed) == 2
    assert res.best is not None and len(lines) > 10


def test_executor_options():
    p = argparse.ArgumentParser()
    add_executor_options(p)
    assert executor_from_args(p.parse_args([])) is None
    assert isinstance(executor_from_args(p.parse_args(["--workers", "1"])), InProcess)
    pool = executor_from_args(p.parse_args(["--workers", "3", "--max-retries", "5"]))
    assert isinstance(pool, LocalPool) and (pool.workers, pool.max_retries) == (3, 5)
    for bad in (["--address", "auto"], ["--executor", "pool"], ["--executor", "pool", "--gpus-per-eval", "1"],
                ["--executor", "ray", "--workers", "2"], ["--executor", "ray", "--address", "nohost"],
                ["--executor", "ray", "--cpus-per-eval", "0"]):
        with pytest.raises(ExecutorError):
            executor_from_args(p.parse_args(bad))


def test_cli_executor_option_errors_are_one_line_before_anything_is_written(tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["search", "--task", "toy", "--particles", "2", "--steps", "1", "--children", "2",
               "--gpus-per-eval", "1", "--out", str(out), "-q"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "--gpus-per-eval" in err and "--executor ray" in err
    assert not out.exists()
