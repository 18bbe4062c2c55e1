"""One writer per run directory: the lock API with real processes."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gp_opt.errors import CheckpointError
from gp_opt.rundir import (LOCK_FILE, RunDir, RunLockedError, atomic_write_text, check_not_written,
                           lock_run, remove_stale_temps, writer_pid)

ROOT = Path(__file__).resolve().parents[1]

HOLDER = """
import sys, time
from gp_opt.rundir import lock_run
with lock_run(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(60)
"""


def _hold(path):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked", proc.stderr.read()
    return proc


def test_lock_in_one_process_nests_and_releases(tmp_path):
    assert writer_pid(tmp_path) is None
    with lock_run(tmp_path) as outer:
        assert outer.pid == os.getpid() == writer_pid(tmp_path)
        with lock_run(tmp_path) as inner:  # the same process: nests instead of refusing itself
            assert inner is outer
        assert writer_pid(tmp_path) == os.getpid()
    assert writer_pid(tmp_path) is None
    check_not_written(tmp_path)


def test_second_writer_is_refused_with_the_holders_pid_and_a_killed_holder_frees_the_lock(tmp_path):
    proc = _hold(tmp_path)
    try:
        assert writer_pid(tmp_path) == proc.pid
        with pytest.raises(RunLockedError, match=f"being written by process {proc.pid}") as info:
            with lock_run(tmp_path):
                pass
        assert info.value.pid == proc.pid and isinstance(info.value, CheckpointError)
        assert "\n" not in str(info.value)
        with pytest.raises(RunLockedError):
            check_not_written(tmp_path)
        before = (tmp_path / LOCK_FILE).read_text()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # the kernel released the killed holder's lock: nobody writes, and the next writer gets it
    assert (tmp_path / LOCK_FILE).read_text() == before  # the refused writer changed nothing
    assert writer_pid(tmp_path) is None
    with lock_run(tmp_path) as lock:
        assert lock.pid == os.getpid()
        assert (tmp_path / LOCK_FILE).read_text().strip() == str(os.getpid())


def test_rundir_open_and_create_take_the_lock(tmp_path):
    rd = RunDir.create(tmp_path / "r", {"a": 1})
    assert writer_pid(tmp_path / "r") == os.getpid()
    rd.close()
    assert writer_pid(tmp_path / "r") is None
    proc = _hold(tmp_path / "r")
    try:
        t0 = time.monotonic()
        with pytest.raises(RunLockedError, match=str(proc.pid)):
            RunDir.open(tmp_path / "r")
        assert time.monotonic() - t0 < 5  # refused at once, never waits
        # a reader that does not write may still open it
        assert RunDir.open(tmp_path / "r", lock=False).config == {"a": 1}
        with pytest.raises(RunLockedError):
            RunDir.open(tmp_path / "r")
    finally:
        proc.kill()
        proc.wait()


def test_stale_temp_files_are_removed_by_the_next_writer(tmp_path):
    rd = RunDir.create(tmp_path / "r", {"a": 1})
    rd.close()
    stale = tmp_path / "r" / ".checkpoint.json.abc123.tmp"
    stale.write_text("half")
    keep = tmp_path / "r" / "notes.tmp"  # not one of ours
    keep.write_text("mine")
    RunDir.open(tmp_path / "r").close()
    assert not stale.exists() and keep.exists()
    assert remove_stale_temps(tmp_path / "r") == []


def test_a_run_killed_while_creating_run_json_can_be_started_again(tmp_path):
    d = tmp_path / "r"
    d.mkdir()
    (d / LOCK_FILE).write_text("12345\n")
    (d / ".run.json.x1y2.tmp").write_text('{"format": "gp_o')
    RunDir.create(d, {"a": 1}).close()
    assert [p.name for p in sorted(d.iterdir())] == [".lock", "candidates.jsonl", "run.json"]


def test_atomic_write_errors_name_the_file(tmp_path):
    with pytest.raises(OSError) as info:
        atomic_write_text(tmp_path / "missing" / "best.json", "x")
    assert info.value.filename == str(tmp_path / "missing" / "best.json")


def test_a_full_disk_while_logging_names_the_log(tmp_path, monkeypatch):
    import errno

    rd = RunDir.create(tmp_path / "r", {"a": 1})
    line = {"seq": 0, "key": "k", "individual": [1], "cache_hit": False, "record": {"fitness": 1.0}}

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    import gp_opt.rundir.jsonlog as jsonlog
    monkeypatch.setattr(jsonlog, "sync", full)
    with pytest.raises(OSError) as info:
        rd.append(line)
    assert info.value.filename == str(tmp_path / "r" / "candidates.jsonl")
    assert rd.n_lines == 0 and rd.crcs == []
    rd.close()
