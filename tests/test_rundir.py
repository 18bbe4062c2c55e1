import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gp_opt.errors import CheckpointError
from gp_opt.rundir import CANDIDATES_FILE, CHECKPOINT_FILE, RUN_FILE, RunDir, atomic_write_text
from gp_opt.rundir.core import meta_digest
from gp_opt.search import resume_search, run_search

from support.runs import log_lines, result_hof, without_timing

ROOT = Path(__file__).resolve().parents[1]
ARGS = dict(particles=3, steps=5, children=4, seed=11, init_factor=6)


def _small_run(path, **kw):
    return run_search("toy", path, **dict(ARGS, **kw), verbose=False)


# --------------------------------------------------------------------------------------------
# the run directory files


def test_run_directory_layout(tmp_path):
    res = _small_run(tmp_path / "run")
    d = tmp_path / "run"
    meta = json.loads((d / RUN_FILE).read_text())
    assert meta["format"] == "gp_opt.run" and meta["version"] == 1
    assert meta["config"]["particles"] == 3 and meta["config"]["toolbox"]["kind"] == "toy"
    lines = log_lines(d)
    assert [x["seq"] for x in lines] == list(range(len(lines)))
    assert {"individual", "record", "key", "cache_hit", "phase", "step", "particle", "slot", "attempt",
            "seconds"} <= set(lines[0])
    ckpt = json.loads((d / CHECKPOINT_FILE).read_text())
    assert ckpt["state"]["step"] == 5 and ckpt["state"]["n_logged"] == len(lines)
    assert not [p for p in d.iterdir() if p.name.endswith(".tmp")]
    assert res.best is not None


def test_resuming_a_finished_run_evaluates_nothing(tmp_path):
    a = _small_run(tmp_path / "run")
    n = len(log_lines(tmp_path / "run"))
    b = resume_search(tmp_path / "run", verbose=False)
    assert result_hof(a) == result_hof(b)
    assert len(log_lines(tmp_path / "run")) == n


def test_refuses_to_overwrite_a_run(tmp_path):
    _small_run(tmp_path / "run", steps=1)
    with pytest.raises(CheckpointError, match="already holds a run"):
        _small_run(tmp_path / "run", steps=1)


@pytest.mark.parametrize("damage, message", [
    (lambda p: p.write_text("{not json"), "corrupt"),
    (lambda p: p.write_text(p.read_text()[: len(p.read_text()) // 2]), "corrupt"),
    (lambda p: p.write_text(p.read_text().replace('"step":5', '"step":4', 1)), "checksum"),
    (lambda p: p.write_text(json.dumps(dict(json.loads(p.read_text()), version=99))), "version 99"),
    (lambda p: p.write_text(json.dumps(dict(json.loads(p.read_text()), format="other"))), "not a gp_opt checkpoint"),
    (lambda p: p.write_text(json.dumps(dict(json.loads(p.read_text()), run_id="f" * 32))), "another run"),
    (lambda p: p.write_text("[1, 2]"), "not a gp_opt checkpoint"),
])
def test_bad_checkpoints_are_clear_errors(tmp_path, damage, message):
    _small_run(tmp_path / "run")
    damage(tmp_path / "run" / CHECKPOINT_FILE)
    with pytest.raises(CheckpointError, match=message):
        resume_search(tmp_path / "run", verbose=False)


def test_foreign_checkpoint_from_another_run(tmp_path):
    _small_run(tmp_path / "a")
    _small_run(tmp_path / "b", seed=12)
    (tmp_path / "a" / CHECKPOINT_FILE).write_bytes((tmp_path / "b" / CHECKPOINT_FILE).read_bytes())
    with pytest.raises(CheckpointError, match="another run"):
        resume_search(tmp_path / "a", verbose=False)


def test_bad_run_directories(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        resume_search(tmp_path / "missing", verbose=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="not a gp_opt run directory"):
        resume_search(tmp_path / "empty", verbose=False)
    _small_run(tmp_path / "run", steps=1)
    meta = json.loads((tmp_path / "run" / RUN_FILE).read_text())
    (tmp_path / "run" / RUN_FILE).write_text(json.dumps(dict(meta, version=2)))
    with pytest.raises(CheckpointError, match="version 2"):
        resume_search(tmp_path / "run", verbose=False)
    (tmp_path / "run" / RUN_FILE).write_text("\x00garbage")
    with pytest.raises(CheckpointError, match="corrupt"):
        resume_search(tmp_path / "run", verbose=False)


def test_a_corrupt_line_inside_the_log_is_an_error(tmp_path):
    _small_run(tmp_path / "run")
    log = tmp_path / "run" / CANDIDATES_FILE
    lines = log.read_text().splitlines(keepends=True)
    lines[3] = "garbage\n"
    log.write_text("".join(lines))
    with pytest.raises(CheckpointError, match="line 4"):
        resume_search(tmp_path / "run", verbose=False)


def test_a_truncated_log_is_an_error(tmp_path):
    _small_run(tmp_path / "run")
    log = tmp_path / "run" / CANDIDATES_FILE
    log.write_text("".join(log.read_text().splitlines(keepends=True)[:10]))
    with pytest.raises(CheckpointError, match="truncated"):
        resume_search(tmp_path / "run", verbose=False)


def test_a_half_written_last_line_is_dropped_and_the_run_resumes(tmp_path):
    full = _small_run(tmp_path / "full")
    _small_run(tmp_path / "run", steps=2)  # stopped after step 2 ...
    cfg_path = tmp_path / "run" / RUN_FILE
    meta = json.loads(cfg_path.read_text())
    meta["config"]["steps"] = 5  # ... and asked to go on to step 5, like a killed run
    meta["sha256"] = meta_digest(meta)  # (an edit gp_opt itself would refuse: re-signed here)
    cfg_path.write_text(json.dumps(meta))
    with open(tmp_path / "run" / CANDIDATES_FILE, "a") as fh:
        fh.write('{"seq": 999, "key": "half')
    res = resume_search(tmp_path / "run", verbose=False)
    assert result_hof(res) == result_hof(full)
    assert ([without_timing(x) for x in log_lines(tmp_path / "run")]
            == [without_timing(x) for x in log_lines(tmp_path / "full")])


def test_atomic_write_keeps_the_old_file_when_the_write_fails(tmp_path, monkeypatch):
    target = tmp_path / "f.json"
    atomic_write_text(target, "old")

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


def test_rundir_roundtrip(tmp_path):
    rd = RunDir.create(tmp_path / "r", {"a": 1, "x": float("inf")})
    line = {"seq": 0, "v": float("nan"), "key": "k", "individual": [1], "cache_hit": False,
            "record": {"fitness": float("-inf"), "status": "failed"}}
    rd.append(line)
    rd.save_checkpoint({"step": 1, "n_logged": 1})
    rd.close()
    rd2 = RunDir.open(tmp_path / "r")
    assert rd2.config == {"a": 1, "x": "inf"}
    assert rd2.read_candidates() == [dict(line, v="nan", record={"fitness": "-inf", "status": "failed"})]
    assert rd2.load_checkpoint() == {"step": 1, "n_logged": 1, "log_crc": rd2.crcs[0]}
    with pytest.raises(CheckpointError):
        rd2.append({"seq": 5})


# --------------------------------------------------------------------------------------------
# kill -9 at any moment, resume, same result


CHILD = """
import sys
from gp_opt.search import run_search, resume_search
out, log, mode = sys.argv[1], sys.argv[2], sys.argv[3]
if mode == "start":
    run_search("toy", out, particles=3, steps=5, children=4, seed=11, init_factor=6, verbose=False,
               task_options={"delay": 0.01, "eval_log": log})
else:
    resume_search(out, verbose=False)
"""


def _spawn(out, log, mode):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, "-c", CHILD, str(out), str(log), mode], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _count_lines(path):
    try:
        return (Path(path) / CANDIDATES_FILE).read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def _kill_after(proc, out, n_lines, timeout=60.0):
    t0 = time.monotonic()
    while _count_lines(out) < n_lines:
        if proc.poll() is not None:
            raise AssertionError(f"child ended early: {proc.stderr.read().decode()}")
        assert time.monotonic() - t0 < timeout, "child too slow"
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


def test_sigkill_at_any_moment_then_resume_gives_the_uninterrupted_result(tmp_path):
    # the reference: the same run, never interrupted (in this process, same seed, same toolbox)
    ref = run_search("toy", tmp_path / "ref", particles=3, steps=5, children=4, seed=11, init_factor=6,
                     verbose=False, task_options={"eval_log": str(tmp_path / "ref.evals")})
    ref_lines = log_lines(tmp_path / "ref")

    out, evals = tmp_path / "run", tmp_path / "run.evals"
    # kill 1: inside the initial population (before the first checkpoint); kills 2 and 3: inside
    # time steps; then resume to the end. Each resumed process must not evaluate a logged candidate.
    kill_points = [7, 31, 50]
    in_flight = []  # lines logged after the checkpoint when a kill hit: they must be replayed
    for i, n in enumerate(kill_points):
        if i:
            logged = {x["key"] for x in RunDir.open(out, lock=False).read_candidates(repair=False) if not x["cache_hit"]}
            before = len(evals.read_text().splitlines())
        _kill_after(_spawn(out, evals, "resume" if i else "start"), out, n)
        ckpt = RunDir.open(out, lock=False).load_checkpoint()
        if i == 0:
            assert ckpt is None  # killed before the first checkpoint
        else:
            in_flight.append(_count_lines(out) - ckpt["n_logged"])
        if i:
            assert not logged & set(evals.read_text().splitlines()[before:]), \
                "a logged candidate was evaluated again"
    logged = {x["key"] for x in RunDir.open(out, lock=False).read_candidates(repair=False) if not x["cache_hit"]}
    before = len(evals.read_text().splitlines())
    assert any(k > 0 for k in in_flight), in_flight
    res = resume_search(out, verbose=False)
    assert not logged & set(evals.read_text().splitlines()[before:])
    assert result_hof(res) == result_hof(ref)
    assert [p.key for p in res.population] == [p.key for p in ref.population]
    assert list(res.logbook) == list(ref.logbook)
    # nothing lost, nothing twice: the log is line for line the uninterrupted one
    assert [without_timing(x) for x in log_lines(out)] == [without_timing(x) for x in ref_lines]
    # every candidate was evaluated; a repeat only for one in flight when a kill hit (not yet logged)
    n_evaluated = sum(not x["cache_hit"] for x in ref_lines)
    total = len(evals.read_text().splitlines())
    assert n_evaluated <= total <= n_evaluated + 2 * len(kill_points)


def test_cheap_candidates_share_a_sync_and_slow_ones_are_written_before_the_next(tmp_path, monkeypatch):
    import gp_opt.rundir.jsonlog as rd

    syncs = []
    real = rd.sync
    monkeypatch.setattr(rd, "sync", lambda fd: syncs.append(fd) or real(fd))
    res = _small_run(tmp_path / "fast", steps=2)            # toy evaluations take microseconds
    n = len(log_lines(tmp_path / "fast"))
    assert n == res.logbook[0]["nevals"] + res.logbook[0]["hits"] + \
        sum(r["nevals"] + r["hits"] for r in res.logbook[1:])
    assert len(syncs) < n / 3                                 # batches, not one sync per line
    syncs.clear()
    run_search("toy", tmp_path / "slow", **dict(ARGS, steps=1, init_factor=2), verbose=False,
               task_options={"delay": 0.005})
    evaluated = sum(not x["cache_hit"] for x in log_lines(tmp_path / "slow"))
    assert len(syncs) >= evaluated - 2  # written before every further slow evaluation

    rdir = RunDir.open(tmp_path / "slow")
    rdir.read_candidates()
    with pytest.raises(CheckpointError, match="seq"):
        rdir.append_many([{"seq": rdir.n_lines + 1}])
    rdir.close()
