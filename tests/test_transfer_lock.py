"""``transfer`` writes its output folder like any writer: under a lock (two identical transfers:
one refused naming the other's PID; ``-o RUN/transfer`` while another process writes RUN: refused),
through a checked log (an edited ``progress.jsonl`` line refused, a symlinked one refused with its
target unchanged), and an interrupt says what was kept and the command that continues."""
from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gp_opt.errors import GpOptError
from gp_opt.rundir import UnsafePathError
from gp_opt.transfer import run_transfer
from gp_opt.transfer.registry import get_task

ROOT = Path(__file__).resolve().parents[1]


def _env():
    return dict(os.environ, PYTHONUNBUFFERED="1",
                PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def _holding_lock(path):
    """Another process holding ``path``'s writer lock (as a live writer would)."""
    code = ("import sys, time; from gp_opt.rundir import lock_run\n"
            f"with lock_run({str(path)!r}):\n    print('locked', flush=True); time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=_env())
    assert proc.stdout.readline().strip() == "locked"
    return proc


def _small(out):
    return run_transfer(["SGD"], [get_task("wine", steps=10)], seeds=2, lrs=[0.1, 0.01], out_dir=out, progress=None)


def test_an_edited_or_symlinked_progress_log_is_refused(tmp_path):
    out = tmp_path / "t"
    _small(out)
    log = out / "progress.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    assert len(lines) == 2 and all('"crc"' in x for x in lines)
    doc = json.loads(lines[0])
    doc["runs"][0]["test"] = {k: 1.0 for k in doc["runs"][0]["test"]}  # "1.0000 ± 0.0000"
    log.write_text(json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n" + lines[1])
    with pytest.raises(GpOptError, match=r"progress\.jsonl line 1 was edited"):
        _small(out)
    victim = tmp_path / "victim.jsonl"
    victim.write_text("precious\n")
    other = tmp_path / "u"
    other.mkdir()
    (other / "progress.jsonl").symlink_to(victim)
    with pytest.raises(UnsafePathError, match="symbolic link"):
        _small(other)
    assert victim.read_text() == "precious\n" and set(os.listdir(other)) <= {".lock", "progress.jsonl"}


def test_transfer_into_a_run_another_process_writes_is_refused(tmp_path, capsys):
    from gp_opt.cli import main

    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text("{}")  # enough to be a run directory for the lock
    holder = _holding_lock(run)
    try:
        code = main(["transfer", "SGD", "--tasks", "wine", "--set", "steps=10", "--seeds", "2", "--lrs", "0.1",
                     "-o", str(run / "transfer"), "--quiet"])
        err = capsys.readouterr().err.strip()
    finally:
        holder.kill()
        holder.wait()
    assert code == 2 and err.count("\n") == 0 and f"process {holder.pid}" in err
    assert not (run / "transfer").exists()


def test_two_identical_transfers_one_refused_then_interrupt_says_what_was_kept(tmp_path, capsys):
    from gp_opt.cli import main

    out = tmp_path / "t"
    argv = ["transfer", "SGD", "--tasks", "wine,diabetes", "--seeds", "2", "--lrs", "0.1,0.01",
            "--set", "wine.steps=10", "--set", "diabetes.steps=200000", "-o", str(out), "--quiet"]
    first = subprocess.Popen([sys.executable, "-m", "gp_opt.cli", *argv], env=_env(), text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while not ((out / "progress.jsonl").exists() and (out / "progress.jsonl").read_text().count("\n") >= 1):
            assert first.poll() is None and time.time() < deadline, first.stderr.read() if first.poll() else "slow"
            time.sleep(0.1)
        assert main(argv) == 2  # the same transfer again, while the first one runs
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and f"process {first.pid}" in err
        first.send_signal(signal.SIGTERM)
        try:
            _, first_err = first.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            first.kill()
            _, late = first.communicate()
            pytest.fail(f"transfer still running 60 s after SIGTERM; its stderr: {late[-2000:]!r}")
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == 128 + signal.SIGTERM
    line = first_err.strip().splitlines()[-1]
    n = (out / "progress.jsonl").read_text().count("\n")
    assert f"{n} finished entr" in line and f"kept in {out / 'progress.jsonl'}" in line
    cont = shlex.split(line.split("continue with: ", 1)[1])
    assert cont[:2] == ["gp-opt", "transfer"] and cont[cont.index("-o") + 1] == str(out)
    for flag in ("--tasks", "--seeds", "--lrs"):
        assert cont[cont.index(flag) + 1] == argv[argv.index(flag) + 1]
    assert [cont[i + 1] for i, w in enumerate(cont) if w == "--set"] == ["wine.steps=10", "diabetes.steps=200000"]
