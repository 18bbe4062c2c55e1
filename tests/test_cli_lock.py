"""One writer per run directory, with real processes through the command line: a resume while
the search runs and two resumes at once are refused (exit 2, one line naming the writer's PID),
and the run then ends identical to an uninterrupted one."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.runs import checkpoint_hof, log_lines, without_timing

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--task", "toy", "--particles", "2", "--steps", "4", "--children", "3", "--init-factor", "3",
        "--seed", "7", "--quiet"]
SLOW = ["--set", "delay=0.2"]  # a search of about 6 s: the armed second process fires meanwhile


def _env():
    return dict(os.environ, PYTHONUNBUFFERED="1",
                PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def _cli(*argv, **kw):
    return subprocess.Popen([sys.executable, "-m", "gp_opt.cli", *argv], env=_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


ARMED = ("import sys, torch, gp_opt.search, gp_opt.search.executors; from gp_opt.cli import build_parser, main; "
         "build_parser(); print('ready', flush=True); sys.stdin.readline(); sys.exit(main(sys.argv[1:]))")


def _armed(*argv):
    """A gp-opt process with everything imported, waiting for :func:`_fire` (on a busy machine
    starting Python and torch takes longer than the whole toy search)."""
    proc = subprocess.Popen([sys.executable, "-c", ARMED, *argv], env=_env(), text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def _fire(*procs):
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()


def _wait_lines(run, n, proc, timeout=60):
    t0 = time.monotonic()
    while len(log_lines(run, missing_ok=True)) < n:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t0 < timeout
        time.sleep(0.01)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    ref = tmp_path_factory.mktemp("ref") / "run"
    proc = _cli("search", *ARGS, "--out", str(ref))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return ref


def test_a_resume_while_the_search_runs_is_refused_and_the_search_ends_as_if_alone(reference, tmp_path):
    run = tmp_path / "run"
    resume = _armed("resume", str(run))
    search = _cli("search", *ARGS, *SLOW, "--out", str(run))
    _wait_lines(run, 3, search)
    _fire(resume)
    out, err = resume.communicate(timeout=60)
    assert resume.returncode == 2
    assert err.splitlines() == [err.strip()] and "Traceback" not in err
    assert f"is being written by process {search.pid}" in err
    _, serr = search.communicate(timeout=120)
    assert search.returncode == 0, serr
    assert [without_timing(x) for x in log_lines(run)] == [without_timing(x) for x in log_lines(reference)]
    assert checkpoint_hof(run) == checkpoint_hof(reference)


def test_two_resumes_at_once_one_refused_then_identical_to_uninterrupted(reference, tmp_path):
    run = tmp_path / "run"
    a, b = _armed("resume", str(run), "--quiet"), _armed("resume", str(run), "--quiet")
    search = _cli("search", *ARGS, *SLOW, "--out", str(run))
    n_init = 6
    _wait_lines(run, n_init + 2, search)
    search.send_signal(signal.SIGKILL)  # killed: the kernel frees its lock
    search.wait()
    _fire(a, b)
    (_, err_a), (_, err_b) = a.communicate(timeout=120), b.communicate(timeout=120)
    codes = sorted([a.returncode, b.returncode])
    assert codes == [0, 2], (err_a, err_b)
    winner, loser_err = (a, err_b) if a.returncode == 0 else (b, err_a)
    assert loser_err.count("\n") == 1 and f"being written by process {winner.pid}" in loser_err
    # nothing interleaved, nothing evaluated twice: the log is line for line the uninterrupted one
    assert [without_timing(x) for x in log_lines(run)] == [without_timing(x) for x in log_lines(reference)]
    assert checkpoint_hof(run) == checkpoint_hof(reference)
    # and the finished run resumes again (nobody holds the lock now)
    again = _cli("resume", str(run), "--quiet")
    assert again.wait(timeout=60) == 0


def test_report_style_readers_see_the_live_writer(tmp_path):
    from gp_opt.rundir import writer_pid

    run = tmp_path / "run"
    search = _cli("search", *ARGS, *SLOW, "--out", str(run))
    try:
        _wait_lines(run, 1, search)
        assert writer_pid(run) == search.pid
    finally:
        search.send_signal(signal.SIGKILL)
        search.wait()
    assert writer_pid(run) is None  # a killed writer leaves no stale lock


def test_report_takes_the_lock_and_refuses_a_symlinked_report_folder(tmp_path, capsys):
    from gp_opt.cli import main
    from gp_opt.search import run_search

    run = tmp_path / "run"
    run_search("toy", run, particles=2, steps=1, children=2, seed=0, init_factor=2, verbose=False)
    holder = subprocess.Popen([sys.executable, "-c",
                               "import time; from gp_opt.rundir import lock_run\n"
                               f"with lock_run({str(run)!r}):\n    print('locked', flush=True); time.sleep(60)\n"],
                              stdout=subprocess.PIPE, text=True, env=_env())
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert main(["report", str(run), "--no-pdf"]) == 2
        err = capsys.readouterr().err.strip()
    finally:
        holder.kill()
        holder.wait()
    assert err.count("\n") == 0 and f"process {holder.pid}" in err and not (run / "report").exists()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep\n")
    (run / "report").symlink_to(outside, target_is_directory=True)
    assert main(["report", str(run), "--no-pdf"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "report is a symbolic link" in err
    assert sorted(os.listdir(outside)) == ["keep.txt"]
    (run / "report").unlink()
    (run / "report").mkdir()
    (run / "report" / "report.md").symlink_to(outside / "keep.txt")
    assert main(["report", str(run), "--no-pdf"]) == 2
    assert "report.md is a symbolic link" in capsys.readouterr().err
    assert (outside / "keep.txt").read_text() == "keep\n"
