"""The Ray executor on a local Ray instance started once for this module (2 logical CPUs): the same
log as in-process, a worker killed mid-evaluation, a candidate that kills every worker, a driver
killed and resumed, and the errors of a cluster that is missing or too small. Skipped without Ray."""
import collections
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from gp_opt.cli import main  # noqa: E402
from gp_opt.fitness import FAILED  # noqa: E402
from gp_opt.search import make_toy_toolbox, resume_search, run_search  # noqa: E402
from gp_opt.search.executors import ExecutorError, RayExecutor  # noqa: E402

import support.executors  # noqa: E402
from support.executors import RUN, Batched, StartedToy, ray_executor, started, strip_timing  # noqa: E402,F401

ROOT = Path(__file__).resolve().parents[1]

# the tests' own evaluators travel to the Ray workers by value (the workers cannot import tests/)
ray.cloudpickle.register_pickle_by_value(support.executors)


@pytest.fixture(scope="module")
def ex(ray_executor):
    """support.executors.ray_executor: a local Ray instance (4 logical CPUs), two workers."""
    return ray_executor


def test_same_log_as_in_process_plain_and_batched(ex, tmp_path):
    run_search("toy", tmp_path / "ref", **RUN)
    assert ex.slots == 2 and ex.warm_up() == 2  # both workers running
    run_search("toy", tmp_path / "ray", executor=ex, **RUN)
    tb = make_toy_toolbox(seed=3)
    tb.register("map", Batched(tmp_path / "groups.log"))
    run_search("toy", tmp_path / "batched", executor=ex, toolbox=tb, **RUN)
    assert strip_timing(tmp_path / "ray") == strip_timing(tmp_path / "ref")
    assert strip_timing(tmp_path / "batched") == strip_timing(tmp_path / "ref")
    groups = [json.loads(g) for g in (tmp_path / "groups.log").read_text().splitlines()]
    assert max(map(len, groups)) > 1  # a call's candidates went out as two groups, one per worker


def _kill_first_started(log: Path, after: int, killed: list, stop: threading.Event) -> None:
    """Kill the worker of the ``after``-th evaluation to start, while it sleeps in it."""
    while not stop.is_set():
        lines = log.read_text().splitlines() if log.exists() else []
        if len(lines) >= after:
            pid, key = lines[after - 1].split(" ", 1)
            # mid-evaluation (it sleeps 0.3 s): a kill in the instant between two tasks may also
            # take the reply of the worker's previous task with it, and Ray reruns both
            time.sleep(0.1)
            os.kill(int(pid), signal.SIGKILL)
            killed.extend([pid, key])
            return
        time.sleep(0.005)


def test_worker_killed_mid_evaluation_costs_one_retry_of_that_candidate(ex, tmp_path):
    run_search("toy", tmp_path / "ref", **RUN)
    log = tmp_path / "started.log"
    tb = make_toy_toolbox(seed=3, evaluate=StartedToy(log, delay=0.3))
    killed: list = []
    stop = threading.Event()
    killer = threading.Thread(target=_kill_first_started, args=(log, 4, killed, stop))
    killer.start()
    try:
        run_search("toy", tmp_path / "ray", executor=ex, toolbox=tb, **RUN)
    finally:
        stop.set()
        killer.join()
    assert killed, "no evaluation was killed"
    pid, key = killed
    # the driver's view: nothing lost, nothing logged twice, the log of the in-process run
    assert strip_timing(tmp_path / "ray") == strip_timing(tmp_path / "ref")
    # the workers' view: the killed evaluation ran once more; Ray may also rerun a task the dead
    # worker had finished just before (at-least-once), but nothing else, and nothing twice more
    starts = [line.split(" ", 1) for line in log.read_text().splitlines()]
    counts = collections.Counter(k for _, k in starts)
    assert counts[key] == 2 and max(counts.values()) == 2
    assert all([pid, k] in starts for k, n in counts.items() if n == 2)


def test_candidate_lost_on_every_attempt_is_a_failed_record_and_the_search_goes_on(ex, tmp_path):
    ref = run_search("toy", tmp_path / "ref", **RUN)
    doomed = ref.population[0].key
    log = tmp_path / "started.log"
    tb = make_toy_toolbox(seed=3, evaluate=StartedToy(log, doomed=[doomed]))
    res = run_search("toy", tmp_path / "ray", executor=ex, toolbox=tb, **RUN)
    lines = [json.loads(x) for x in (tmp_path / "ray" / "candidates.jsonl").read_text().splitlines()]
    rec = next(x["record"] for x in lines if x["key"] == doomed)
    assert rec["status"] == FAILED and "evaluation lost 2 times (ray)" in rec["reason"]
    assert started(log).count(doomed) == 2
    assert res.best is not None and res.best.key != doomed and len(lines) > 10


def test_driver_killed_then_resumed_gives_the_uninterrupted_result(ex, tmp_path):
    args = ["--particles", "2", "--steps", "3", "--children", "3", "--init-factor", "3", "--seed", "3"]
    assert main(["search", "--task", "toy", *args, "--out", str(tmp_path / "ref"), "-q"]) == 0
    out = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "gp_opt.cli", "search", "--task", "toy", *args,
                             "--set", "delay=0.05", "--executor", "ray", "--address",
                             ray.get_runtime_context().gcs_address,
                             "--out", str(out), "-q"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    t0 = time.monotonic()
    cands = out / "candidates.jsonl"
    while not cands.exists() or cands.read_bytes().count(b"\n") < 10:  # into the first time step
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() - t0 < 90, "driver too slow"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert cands.read_bytes().count(b"\n") < len(strip_timing(tmp_path / "ref"))  # killed mid-run
    res = resume_search(out, verbose=False, executor=ex)  # this driver joins as it is
    assert strip_timing(out) == strip_timing(tmp_path / "ref")
    assert res.best is not None


def test_missing_or_too_small_cluster_is_one_line_and_exit_2_before_anything_is_written(ex, tmp_path, capsys):
    out = tmp_path / "run"
    t0 = time.monotonic()
    rc = main(["search", "--task", "toy", "--particles", "2", "--steps", "1", "--children", "2",
               "--executor", "ray", "--address", "127.0.0.1:9", "--out", str(out), "-q"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "no Ray cluster at 127.0.0.1:9" in err, err
    assert time.monotonic() - t0 < 10 and not out.exists()
    rc = main(["search", "--task", "toy", "--particles", "2", "--steps", "1", "--children", "2",
               "--executor", "ray", "--gpus-per-eval", "0.25", "--out", str(out), "-q"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "the Ray cluster has 0 GPUs" in err, err
    assert not out.exists()
    with pytest.raises(ExecutorError, match="HOST:PORT"):
        RayExecutor("localhost")
