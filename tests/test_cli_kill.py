"""A genome search through the command line, killed with SIGKILL mid-run and resumed, ends exactly
like the uninterrupted run: same hall of fame, same log line for line, nothing evaluated twice."""
import json
import os
import signal
import subprocess
import sys
import time

from support.runs import checkpoint_hof, log_lines, without_timing

ARGS = ["--task", "quadratic", "--particles", "2", "--steps", "3", "--children", "3",
        "--init-factor", "3", "--seed", "5", "--set", "steps=30", "--set", "lrs=[0.1, 0.01]", "--quiet"]


def _cli(*argv):
    return [sys.executable, "-c", "import sys; from gp_opt.cli import main; sys.exit(main())", *argv]


def test_sigkill_then_resume_matches_the_uninterrupted_genome_search(tmp_path):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    ref = tmp_path / "ref"
    subprocess.run(_cli("search", *ARGS, "--out", str(ref)), check=True, env=env, timeout=300)
    ref_lines = log_lines(ref, missing_ok=True)
    n_init = sum(x["phase"] == "init" for x in ref_lines)

    run = tmp_path / "run"
    proc = subprocess.Popen(_cli("search", *ARGS, "--out", str(run)), env=env)
    deadline = time.time() + 240
    while len(log_lines(run, missing_ok=True)) < n_init + 2 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the search finished before it could be killed"
    killed_at = len(log_lines(run, missing_ok=True))
    assert n_init <= killed_at < len(ref_lines)

    subprocess.run(_cli("resume", str(run), "--quiet"), check=True, env=env, timeout=300)
    lines = log_lines(run, missing_ok=True)
    assert [without_timing(x) for x in lines] == [without_timing(x) for x in ref_lines]
    assert checkpoint_hof(run, individuals=True) == checkpoint_hof(ref, individuals=True)
    best, ref_best = (json.loads((d / "best.json").read_text()) for d in (run, ref))
    assert best["meta"]["found"].pop("run_id") != ref_best["meta"]["found"].pop("run_id")
    assert best == ref_best
