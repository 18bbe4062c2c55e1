"""benchmarks/gpu_check.sh, the one call for the GPU checks: its steps, its refusal without CUDA,
its dry run on the CPU, and the pieces it reads results with (no GPU is needed or simulated)."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "gpu_check.sh"
sys.path.insert(0, str(REPO / "benchmarks"))

import gpu_check  # noqa: E402
import search_speed  # noqa: E402


def _check(*args, **kw):
    return subprocess.run(["sh", str(SCRIPT), *args], capture_output=True, text=True, **kw)


def test_list_names_every_step_and_what_needs_cuda():
    r = _check("--list")
    assert r.returncode == 0, r.stderr
    rows = {line.split()[0]: line for line in r.stdout.splitlines()}
    assert list(rows)[:7] == ["pytest-gpu", "optimizer-step", "throughput", "throughput-graphs", "search",
                              "profile", "suite"]
    assert "needs CUDA" in rows["throughput-graphs"] and "no CPU form" in rows["throughput-graphs"]
    assert "any device" in rows["suite"]


def test_bad_options_are_one_line_and_exit_2(tmp_path):
    r = _check("--dry-run", "--only", "nosuch", "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "unknown step nosuch" in r.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_without_cuda_it_refuses_and_writes_nothing(tmp_path):
    r = _check("--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "no CUDA device" in r.stderr and "--dry-run" in r.stderr
    assert not (tmp_path / "o").exists()


def test_a_missing_dependency_without_its_wheel_is_named(monkeypatch, tmp_path):
    monkeypatch.setattr(gpu_check, "PURE_DEPS", (("no_such_module_gp", "no-such-dist"),))
    monkeypatch.setattr(gpu_check, "WHEELS", tmp_path / "wheels")
    why = gpu_check.install_missing(tmp_path / "site", print)
    assert "no-such-dist" in why and "--prepare" in why and not (tmp_path / "site").exists()


def test_synthetic_images_put_each_class_patch_elsewhere(tmp_path):
    f = tmp_path / "d.npz"
    search_speed.write_synthetic(f, (200, 32, 32, 3))
    d = np.load(f)
    x, y = d["x_train"], d["y_train"]
    assert x.shape == (200, 32, 32, 3) and x.dtype == np.uint8 and set(np.unique(y)) <= set(range(10))
    # the per-class mean image's brightest region differs between classes: the labels are learnable
    spots = {int(k): np.argmax(x[y == k].mean(axis=(0, 3))) for k in np.unique(y)}
    assert len(set(spots.values())) == len(spots)


def test_search_rate_reads_the_log(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps({"created": "1970-01-01T00:16:40+0000"}))  # t = 1000 s
    lines = [{"time": 1010.0, "phase": "init", "record": {"status": "ok"}, "seconds": {"evaluate": 10.0}},
             {"time": 1020.0, "phase": "init", "record": {"status": "rejected"}, "seconds": {"evaluate": 10.0}},
             {"time": 1036.0, "phase": "child", "record": {"status": "ok"}, "seconds": {"evaluate": 16.0}}]
    (tmp_path / "candidates.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    r = search_speed.search_rate(tmp_path)
    assert r["candidates"] == 3 and r["wall_s"] == 36.0 and r["per_hour"] == pytest.approx(300.0)
    assert (r["init_candidates"], r["init_cut"], r["child_candidates"], r["child_cut"]) == (2, 1, 1, 0)


@pytest.mark.slow
def test_dry_run_goes_through_every_step_on_the_cpu(tmp_path):
    out = tmp_path / "out"
    r = _check("--dry-run", "--out", str(out), timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    summary = (out / "summary.md").read_text()
    assert "DRY RUN" in summary and "nothing here is a measurement" in summary
    for step in ("pytest-gpu", "optimizer-step", "throughput", "search", "profile", "suite"):
        assert any(f"| {step} | {dev} | ok |" in summary for dev in ("needs CUDA", "any device")), step
    assert "| throughput-graphs | needs CUDA | skipped: needs CUDA |" in summary
    tables = (out / "tables.md").read_text()
    assert tables.startswith("# gpu_check DRY RUN") and "| Adam(foreach=True) |" in tables
    assert "model-steps/s" in tables and "candidates logged" in tables
    assert "Self CPU" in (out / "profile.txt").read_text()
    assert "skipped" in (out / "pytest.txt").read_text()
    assert "needs CUDA" in r.stdout and "skipped in the dry run" in r.stdout


def test_a_step_past_its_limit_is_stopped_with_its_children(tmp_path):
    pid_file = tmp_path / "grandchild.pid"
    code = ("import subprocess, sys, time; "
            "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']); "
            f"open({str(pid_file)!r}, 'w').write(str(p.pid)); time.sleep(120)")
    with open(tmp_path / "out.txt", "w") as out:
        assert gpu_check.run_step([sys.executable, "-c", code], {}, out, limit=3) is None
        assert gpu_check.run_step([sys.executable, "-c", "raise SystemExit(3)"], {}, out, limit=30) == 3
    pid = int(pid_file.read_text())
    deadline = time.time() + 10
    while time.time() < deadline and Path(f"/proc/{pid}").exists() and \
            Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z":
        time.sleep(0.1)
    assert not Path(f"/proc/{pid}").exists() or Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
