"""gp-opt report: a tiny quadratic search and hand-made run directories with edge cases."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from gp_opt import catalog
from gp_opt import plots as P
from gp_opt.cli import main
from gp_opt.report import ELIMINATION_FILE, HOLDOUT_FILE, TRANSFER_FILE, make_report
from gp_opt.rundir import LOCK_FILE
from gp_opt.search import run_search

from support.files import compile_tex, needs_pdflatex, png_size
from support.runs import candidate_line, run_with_lines

W, H = int(P.FIGSIZE[0] * P.DPI), int(P.FIGSIZE[1] * P.DPI)


def snapshot(path):
    """Every file under ``path`` except report/: name -> (size, mtime, sha1); the writer lock only
    by name (the report takes it like every writer, so it holds the report's PID)."""
    out = {}
    for root, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if not (root == str(path) and d == "report")]
        for f in files:
            p = os.path.join(root, f)
            if root == str(path) and f == LOCK_FILE:
                out[f] = "lock"
                continue
            st = os.stat(p)
            out[os.path.relpath(p, path)] = (st.st_size, st.st_mtime_ns, hashlib.sha1(open(p, "rb").read()).hexdigest())
    return out


ELIMINATION = {"rounds": [
    {"name": "round 1", "base": 64, "steps": 16000, "seeds": [0, 1, 2], "entries": [
        {"name": "#1", "kind": "candidate", "scores": [0.81, 0.82, 0.80], "advanced": True},
        {"name": "Adam", "kind": "baseline", "scores": [0.79, 0.80, 0.78], "advanced": False}]},
    {"name": "round 2", "base": 96, "steps": 16000, "seeds": [0, 1, 2], "entries": [
        {"name": "#1", "kind": "candidate", "scores": [0.85, 0.86, 0.84]}]}]}
_VS = {"acc": {"diff": 0.05, "p": 0.01, "p_paired": 0.001, "verdict": "win"},
       "loss": {"diff": -0.1, "p": 0.02, "p_paired": 0.002, "verdict": "win"}}
HOLDOUT = {"seeds": [3, 4], "base": 96, "steps": 16000, "from_round": "round 2", "entries": [
    {"name": "#1", "kind": "candidate", "lr": 0.1, "ok": True, "status": "ok", "val_acc": [0.84, 0.85],
     "val_loss": [0.30, 0.31], "mean": 0.845, "std": 0.007, "mean_loss": 0.305, "std_loss": 0.007,
     "versus": {"Adam": _VS}},
    {"name": "Adam", "kind": "baseline", "lr": 0.001, "ok": True, "status": "ok", "val_acc": [0.79, 0.80],
     "val_loss": [0.40, 0.41], "mean": 0.795, "std": 0.007, "mean_loss": 0.405, "std_loss": 0.007, "versus": {}}]}
TRANSFER = {"metric": "validation accuracy", "higher_is_better": True, "tasks": ["mlp_digits", "charlm"],
            "results": [{"optimizer": "Adam", "task": "mlp_digits", "scores": [0.95, 0.96], "status": "ok"},
                        {"optimizer": "#1", "task": "mlp_digits", "scores": [0.97, 0.965], "status": "ok",
                         "vs_adam": "win"},
                        {"optimizer": "#1", "task": "charlm", "scores": [], "status": "failed"}]}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny quadratic search, with elimination and transfer results beside it, and its report."""
    run = tmp_path_factory.mktemp("runs") / "q"
    run_search("quadratic", run, 2, 1, 2, seed=0, init_factor=1, verbose=False, task_options={"steps": 20})
    (run / "elimination").mkdir()
    (run / ELIMINATION_FILE).write_text(json.dumps(ELIMINATION))
    (run / HOLDOUT_FILE).write_text(json.dumps(HOLDOUT))
    (run / "transfer").mkdir()
    (run / TRANSFER_FILE).write_text(json.dumps(TRANSFER))
    before = snapshot(run)
    result = make_report(run, top_k=2, simplify_seconds=0.3)
    return run, before, result


def test_report_of_a_search(tiny):
    run, _, result = tiny
    md = result.markdown.read_text()
    for section in ("## The run", "## Search progress", "## The top 2 optimizers", "### #1: fitness",
                    "## Complexity: the Pareto front", "## Elimination", "## Transfer", "## Symbols", "## Files"):
        assert section in md, section
    assert "### Hold-out: fresh seeds 3-4 (2), base 96" in md and "+0.0500 (0.010, 0.001) win" in md
    assert "$$U = " in md and "| candidates logged |" in md and "![fitness per time step](progress.png)" in md
    assert "0.8100 ± 0.0100" in md and "(win)" in md and "failed" in md
    for k in (1, 2):
        genome = json.loads((result.out_dir / f"top{k}.json").read_text())
        assert genome["schema"] == 1 and f"(top{k}.json)" in md
    # the best logged candidate is #1
    lines = [json.loads(x) for x in (run / "candidates.jsonl").read_text().splitlines()]
    best = max(float(x["record"]["fitness"]) for x in lines if x["record"]["status"] == "ok")
    assert f"### #1: fitness {best:.5g}" in md


def test_report_figures_are_pngs_of_the_expected_size(tiny):
    _, _, result = tiny
    names = {p.name for p in result.figures}
    expected = {"progress.png", "rates.png", "pareto.png"} | {
        f"top{k}_{kind}.png" for k in (1, 2) for kind in ("schedule", "decays", "update", "graph")}
    assert expected <= names
    md = result.markdown.read_text()
    for p in result.figures:
        assert p.exists() and f"]({p.name})" in md
        w, h = png_size(p)
        assert (w, h) == (W, H) if not p.name.endswith("_graph.png") else w == int(1.5 * W)


def test_report_changes_nothing_but_report(tiny):
    run, before, _ = tiny
    assert snapshot(run) == before
    assert not (run / LOCK_FILE).exists() or LOCK_FILE in before


def test_report_tables_and_pdf(tiny):
    _, _, result = tiny
    tables = result.tables.read_text()
    assert r"\begin{tabularx}" in tables and r"\pm" in tables and "round 1" in tables
    assert r"\#1 &" in tables and r"\textbackslash" not in tables
    assert "& seeds 3-4" in tables and "(16000 steps each)" in tables  # the hold-out as a last column  # rank names escaped once, not twice
    if shutil.which("pdflatex"):
        assert result.pdf is not None and result.pdf.read_bytes()[:4] == b"%PDF"
    else:
        assert result.pdf is None and "skipped" in result.pdf_note and "skipped" in result.markdown.read_text()


@needs_pdflatex
def test_report_tables_compile(tiny, tmp_path):
    from gp_opt import latex as L
    _, _, result = tiny
    doc = tmp_path / "tables.tex"
    doc.write_text(L.standalone(result.tables.read_text()))
    log = compile_tex(doc)
    assert "Overfull \\hbox" not in log


# ---------------------------------------------------------------- hand-made run directories
def test_one_candidate_and_nan_lines(tmp_path):
    one = run_with_lines(tmp_path / "one", [candidate_line(0, catalog.get("Opt10"), 0.5)])
    result = make_report(one, top_k=10, simplify_seconds=0, pdf=False)
    md = result.markdown.read_text()
    assert "## The top 1 optimizers" in md and "### #2" not in md
    assert png_size(result.out_dir / "pareto.png") == (W, H)

    lines = [candidate_line(0, catalog.get("Adam"), "nan"), candidate_line(1, catalog.get("SGD"), 0.25),
             candidate_line(2, catalog.get("Opt6"), "-inf", status="rejected", step=1),
             candidate_line(3, catalog.get("SGD"), 0.25, step=1, key="k1", cache_hit=True),
             candidate_line(4, catalog.get("Opt4"), "nan", step=1)]
    nan = run_with_lines(tmp_path / "nan", lines)
    before = snapshot(nan)
    result = make_report(nan, top_k=3, simplify_seconds=0, pdf=False)
    md = result.markdown.read_text()
    assert "| failed (NaN/inf, errors) | 2 |" in md and "| cache hits (same key, not re-run) | 1 |" in md
    assert "## The top 1 optimizers" in md           # SGD twice (one key), Adam and Opt4 NaN
    assert snapshot(nan) == before


def _err(capsys):
    out, err = capsys.readouterr()
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return out, err


def test_all_failed_is_one_line_and_exit_2(tmp_path, capsys):
    run = run_with_lines(tmp_path / "bad", [candidate_line(0, catalog.get("Adam"), "-inf", status="failed"),
                                      candidate_line(1, catalog.get("SGD"), "nan")])
    before = snapshot(run)
    assert main(["report", str(run)]) == 2
    _, err = _err(capsys)
    assert "no successful candidate among 2" in err and "1 with NaN fitness" in err
    assert snapshot(run) == before and not (run / "report").exists()


def test_missing_and_corrupt_log(tmp_path, capsys):
    empty = run_with_lines(tmp_path / "empty", [])
    (empty / "candidates.jsonl").unlink()
    assert main(["report", str(empty)]) == 2
    assert "no candidates.jsonl" in _err(capsys)[1]

    run = run_with_lines(tmp_path / "corrupt", [candidate_line(i, catalog.get("SGD"), 0.1 * i, key=f"k{i}") for i in range(3)])
    log = run / "candidates.jsonl"
    rows = log.read_text().splitlines()
    rows[1] = rows[1].replace('"fitness":0.1', '"fitness":0.9')
    log.write_text("\n".join(rows) + "\n")
    before = snapshot(run)
    assert main(["report", str(run)]) == 2
    assert "candidates.jsonl" in _err(capsys)[1]
    assert snapshot(run) == before

    assert main(["report", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in _err(capsys)[1]


def test_unwritable_output_folder(tmp_path, capsys):
    run = run_with_lines(tmp_path / "r", [candidate_line(0, catalog.get("SGD"), 0.5)])
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    assert main(["report", str(run), "--out", str(blocker / "report")]) == 2
    assert "cannot write the report into" in _err(capsys)[1]


def test_live_writer_is_refused(tmp_path, capsys):
    run = run_with_lines(tmp_path / "live", [candidate_line(0, catalog.get("SGD"), 0.5)])
    # another process holds the writer lock, as a running search does
    code = ("import fcntl, os, sys, time\n"
            f"fd = os.open({str(run / LOCK_FILE)!r}, os.O_RDWR | os.O_CREAT)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\nos.ftruncate(fd, 0)\nos.write(fd, str(os.getpid()).encode())\n"
            "print('locked', flush=True)\ntime.sleep(120)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        assert main(["report", str(run)]) == 2
        _, err = _err(capsys)
        assert "being written" in err and str(proc.pid) in err
        assert not (run / "report").exists()
    finally:
        proc.kill()
        proc.wait()
    time.sleep(0.05)
    assert main(["report", str(run), "--no-pdf", "--simplify", "0", "--top", "1"]) == 0
    out, _ = capsys.readouterr()
    assert out.strip() == str(run / "report")


def test_report_of_a_toy_run(tmp_path):
    """A run whose candidates are not genomes (the toy task): numbers and progress, no equations."""
    run = tmp_path / "toy"
    run_search("toy", run, 3, 2, 2, seed=0, init_factor=2, verbose=False)
    result = make_report(run, top_k=3, pdf=False)
    md = result.markdown.read_text()
    assert "## The top 3 candidates" in md and "| rank | fitness | key | payload |" in md
    assert "$$U" not in md and png_size(result.out_dir / "progress.png") == (W, H)
