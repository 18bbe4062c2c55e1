"""A genome search through the command line, killed with SIGKILL mid-run and resumed, ends exactly
like the uninterrupted run: same hall of fame, same log line for line, nothing evaluated twice."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from gp_opt.rundir import CANDIDATES_FILE

ARGS = ["--task", "quadratic", "--particles", "2", "--steps", "3", "--children", "3",
        "--init-factor", "3", "--seed", "5", "--set", "steps=30", "--set", "lrs=[0.1, 0.01]", "--quiet"]


def _cli(*argv):
    return [sys.executable, "-c", "import sys; from gp_opt.cli import main; sys.exit(main())", *argv]


def _lines(run):
    p = Path(run) / CANDIDATES_FILE
    return [json.loads(x) for x in p.read_text().splitlines()] if p.exists() else []


def _stable(line):
    drop = ("time", "seconds", "mutate_seconds", "crc")  # crc chains the wall-clock fields too
    out = {k: v for k, v in line.items() if k not in drop}
    out["record"] = {k: v for k, v in line["record"].items() if k not in drop}
    out["record"]["stages"] = [{k: v for k, v in st.items() if k not in drop}
                               for st in line["record"].get("stages", [])]
    return out


def _hof(run):
    items = json.loads((Path(run) / "checkpoint.json").read_text())["state"]["hof"]["items"]
    assert items  # a real hall of fame, not two missing ones
    return [(i["key"], i["record"]["fitness"], i["individual"]) for i in items]


def test_sigkill_then_resume_matches_the_uninterrupted_genome_search(tmp_path):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    ref = tmp_path / "ref"
    subprocess.run(_cli("search", *ARGS, "--out", str(ref)), check=True, env=env, timeout=300)
    ref_lines = _lines(ref)
    n_init = sum(x["phase"] == "init" for x in ref_lines)

    run = tmp_path / "run"
    proc = subprocess.Popen(_cli("search", *ARGS, "--out", str(run)), env=env)
    deadline = time.time() + 240
    while len(_lines(run)) < n_init + 2 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the search finished before it could be killed"
    killed_at = len(_lines(run))
    assert n_init <= killed_at < len(ref_lines)

    subprocess.run(_cli("resume", str(run), "--quiet"), check=True, env=env, timeout=300)
    lines = _lines(run)
    assert [_stable(x) for x in lines] == [_stable(x) for x in ref_lines]
    assert _hof(run) == _hof(ref)
    best, ref_best = (json.loads((d / "best.json").read_text()) for d in (run, ref))
    assert best["meta"]["found"].pop("run_id") != ref_best["meta"]["found"].pop("run_id")
    assert best == ref_best
