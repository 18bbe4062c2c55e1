"""Ctrl-C (SIGINT) and SIGTERM during a search stop it cleanly: one line saying where it stopped
and how to continue, exit 130 / 143, a consistent run directory, and the resume ends exactly like
the uninterrupted run."""
import gc
import json
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
        "--seed", "9", "--quiet"]
SLOW = ["--set", "delay=0.05"]
N_INIT = 6


def _cli(*argv):
    env = dict(os.environ, PYTHONUNBUFFERED="1",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, "-m", "gp_opt.cli", *argv], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    ref = tmp_path_factory.mktemp("ref") / "run"
    proc = _cli("search", *ARGS, "--out", str(ref))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return ref


@pytest.mark.parametrize("sig, code, after", [
    (signal.SIGINT, 130, N_INIT + 2),   # Ctrl-C inside a time step
    (signal.SIGTERM, 143, N_INIT + 5),  # a scheduler's SIGTERM inside a time step
    (signal.SIGINT, 130, 2),            # Ctrl-C during the initial population
])
def test_a_signal_stops_cleanly_and_resume_ends_like_the_uninterrupted_run(reference, tmp_path, sig, code,
                                                                           after):
    run = tmp_path / "run"
    proc = _cli("search", *ARGS, *SLOW, "--out", str(run))
    t0 = time.monotonic()
    while len(log_lines(run, missing_ok=True)) < after:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t0 < 120
        time.sleep(0.005)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    ckpt = run / "checkpoint.json"
    where = (f"interrupted at step {json.loads(ckpt.read_text())['state']['step']}" if ckpt.exists()
             else "interrupted during the initial population")
    assert lines[0] == f"gp-opt search: {where}; continue with: gp-opt resume {run}"
    # consistent: every line whole, no temp files, nobody holds the lock
    from gp_opt.rundir import writer_pid
    assert (run / "candidates.jsonl").read_bytes().endswith(b"\n")
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]
    assert writer_pid(run) is None

    resumed = _cli("resume", str(run), "--quiet")
    _, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    assert "note:" not in err  # nothing was cut, nothing to repair
    assert [without_timing(x) for x in log_lines(run)] == [without_timing(x) for x in log_lines(reference)]
    assert checkpoint_hof(run) == checkpoint_hof(reference)


def test_sigterm_during_resume_also_says_how_to_continue(reference, tmp_path):
    run = tmp_path / "run"
    proc = _cli("search", *ARGS, *SLOW, "--out", str(run))
    while len(log_lines(run, missing_ok=True)) < N_INIT + 1:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    n = len(log_lines(run, missing_ok=True))
    resumed = _cli("resume", str(run), "--quiet")
    while len(log_lines(run, missing_ok=True)) < n + 2:
        assert resumed.poll() is None, resumed.communicate()
        time.sleep(0.005)
    resumed.send_signal(signal.SIGTERM)
    _, err = resumed.communicate(timeout=60)
    assert resumed.returncode == 143, err
    assert err.strip().endswith(f"continue with: gp-opt resume {run}") and err.count("\n") == 1


class _SignalledWhileFinalized:
    """Its ``__del__`` sends SIGTERM to this process and runs Python until the handler has fired,
    so the handler's exception is raised inside the finalizer."""

    def __del__(self):
        os.kill(os.getpid(), signal.SIGTERM)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # bytecode, so the pending handler runs in here
            time.sleep(0.001)


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs POSIX signals")
def test_an_interrupt_raised_inside_a_finalizer_is_delivered_again():
    """A SIGTERM that lands inside a finalizer (where Python drops exceptions) still stops the
    verb: ``signals_as_interrupts`` delivers it again once the finalizer has returned."""
    from gp_opt.cli.interrupts import Interrupted, signals_as_interrupts

    seen = []
    old_hook, old_handler = sys.unraisablehook, signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted) as info:
        with signals_as_interrupts():
            inner = sys.unraisablehook
            sys.unraisablehook = lambda u: (seen.append(u.exc_type), inner(u))
            try:
                obj = _SignalledWhileFinalized()
                del obj
                gc.collect()
                deadline = time.monotonic() + 3
                while time.monotonic() < deadline:  # the verb's work, which must be interrupted
                    time.sleep(0.001)
            finally:
                sys.unraisablehook = inner
    # the first one was swallowed by the finalizer; a later delivery stopped the block (one that lands
    # in another finalizer, e.g. during the collection above, is swallowed and sent again too)
    assert seen and set(seen) == {Interrupted}
    assert info.value.exit_code == 128 + signal.SIGTERM
    assert sys.unraisablehook is old_hook  # both given back
    assert signal.getsignal(signal.SIGTERM) is old_handler
