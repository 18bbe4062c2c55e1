"""Executors as the tests drive them: the toy search's settings, evaluators and a batched map
that log what they were given, the log less its timing, and the transfer tables less their wall
times. Ray ships these to its workers by value (``ray.cloudpickle.register_pickle_by_value``)."""
from __future__ import annotations

import json
import os
import time

import pytest

from gp_opt.search.toy import ToyEvaluate, toy_key

RUN = dict(particles=2, steps=2, children=3, seed=3, init_factor=3, verbose=False)


def strip_timing(out_dir):
    """candidates.jsonl without its timing fields and the line checksum that covers them (what
    must not depend on the executor)."""
    lines = []
    for line in (out_dir / "candidates.jsonl").read_text().splitlines():
        d = json.loads(line)
        d.pop("time")
        d.pop("crc", None)
        d.pop("seconds")
        d["record"].pop("seconds")
        lines.append(d)
    return lines


class StartedToy:
    """The toy evaluation, logging 'pid key' when it starts; it kills its own process for the
    keys in ``doomed`` (a candidate that takes its worker down every time)."""

    def __init__(self, started_log, delay=0.0, doomed=(), seed=3):
        self.inner = ToyEvaluate(8, seed)
        self.started_log = str(started_log)
        self.delay = delay
        self.doomed = set(doomed)

    def __call__(self, payload, seed=None):
        with open(self.started_log, "a") as fh:
            fh.write(f"{os.getpid()} {toy_key(payload)}\n")
        if toy_key(payload) in self.doomed:
            os._exit(3)
        time.sleep(self.delay)
        return self.inner(payload, seed=seed)


def started(path):
    return [line.split(" ", 1)[1] for line in path.read_text().splitlines()]


class Batched:
    """A batched toolbox map (the shape of SurrogateEvaluator.map): records the groups it gets."""

    def __init__(self, log):
        self.log = str(log)

    def __call__(self, func, items):
        items = list(items)
        with open(self.log, "a") as fh:
            fh.write(json.dumps([toy_key(x) for x in items]) + "\n")
        return [func(x) for x in items]


def without_wall_times(doc):
    """transfer.json less its wall times (the only fields that differ between two runs)."""
    if isinstance(doc, dict):
        return {k: without_wall_times(v) for k, v in doc.items() if k not in ("seconds", "threads")}
    if isinstance(doc, list):
        return [without_wall_times(v) for v in doc]
    return doc


def progress_runs(out):
    """progress.jsonl as {key: runs less their timing}."""
    lines = [json.loads(x) for x in (out / "progress.jsonl").read_text().splitlines()]
    return {d["key"]: without_wall_times(d["runs"]) for d in lines}


@pytest.fixture(scope="module")
def ray_executor():
    """A local Ray instance for the requesting test module (4 logical CPUs) and one executor on it
    with two workers (actors started once; the other 2 CPUs are for a second driver): one retry
    of a lost evaluation. Skipped without Ray."""
    ray = pytest.importorskip("ray")
    from gp_opt.search.executors import RayExecutor

    if ray.is_initialized():
        pytest.skip("Ray is already initialised in this process")
    executor = RayExecutor(num_cpus=4, max_workers=2, max_retries=1).start()
    try:
        yield executor
    finally:
        executor.close()
