"""The report's details a reader trips over (issue 21 item 8): #1 is best.json when fitnesses
tie, no ``reason: None``, labels clear of the title, edge labels in display notation, the rates
figure titled by what it draws, files with the umask's mode."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from gp_opt import catalog
from gp_opt import plots as P
from gp_opt.report.sections import record_md
from gp_opt.rundir.files import atomic_write_json, atomic_write_text

TIED = '''
def constant(genome):
    """Every optimizer scores the same: the order among ties is all that decides #1."""
    return 1.0
'''


def _cli(cwd, *args):
    return subprocess.run([sys.executable, "-m", "gp_opt.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def _genome_part(data: dict) -> dict:
    return {k: v for k, v in data.items() if k not in ("meta", "rank", "key")}


def test_report_first_is_best_json_when_fitnesses_tie_and_files_follow_the_umask(tmp_path, monkeypatch):
    (tmp_path / "tied_tasks.py").write_text(TIED)
    old = os.umask(0o022)
    try:
        p = _cli(tmp_path, "search", "--task", "tied_tasks:constant", "--particles", "2", "--steps", "1",
                 "--children", "2", "--init-factor", "3", "-q", "--out", "run")
        assert p.returncode == 0, p.stderr
        p = _cli(tmp_path, "report", "run", "--top", "3", "--no-pdf")
        assert p.returncode == 0, p.stderr
    finally:
        os.umask(old)
    run = tmp_path / "run"
    best = json.loads((run / "best.json").read_text())
    top1 = json.loads((run / "report" / "top1.json").read_text())
    hof = json.loads((run / "hall_of_fame.json").read_text())
    assert len({json.dumps(_genome_part(h), sort_keys=True) for h in hof}) >= 2   # a real tie
    assert _genome_part(top1) == _genome_part(best)
    for name in ("run.json", "checkpoint.json", "best.json", "hall_of_fame.json", "candidates.jsonl",
                 "report/report.md", "report/top1.json"):
        assert (run / name).stat().st_mode & 0o777 == 0o644, name


def test_atomic_writes_take_the_mode_of_a_normal_file(tmp_path):
    for mask in (0o022, 0o077, 0o002):
        old = os.umask(mask)
        try:
            atomic_write_text(tmp_path / "a.txt", "x")
            atomic_write_json(tmp_path / "b.json", {"a": 1})
            with open(tmp_path / "c.txt", "w") as fh:
                fh.write("x")
        finally:
            os.umask(old)
        for name in ("a.txt", "b.json"):
            assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~mask
        assert (tmp_path / "a.txt").stat().st_mode == (tmp_path / "c.txt").stat().st_mode
        for name in ("a.txt", "b.json", "c.txt"):
            (tmp_path / name).unlink()


def test_stage_table_writes_no_none():
    rec = {"status": "rejected", "fitness": "-inf", "best_lr": None, "seconds": 1.0, "reason": None,
           "stages": [{"lr": 0.1, "status": "ok", "score": 0.5, "reason": None},
                      {"lr": 1.0, "status": "rejected", "score": None, "reason": "diverged"}]}
    text = "\n".join(record_md(rec))
    assert "None" not in text.replace("best learning rate None", "")
    assert "diverged" in text


def _overlaps(a, b) -> bool:
    return not (a.x1 <= b.x0 or b.x1 <= a.x0 or a.y1 <= b.y0 or b.y1 <= a.y0)


@pytest.mark.parametrize("fitness", [[-0.63, -0.42, -0.14, -0.7, -1.1, -0.9, -0.6, -0.8, -1.0, -30.0],
                                     [0.1, 0.5, 0.9, 0.95, 0.2, 0.3]])
def test_pareto_labels_stay_clear_of_the_title(fitness):
    complexity = [7, 9, 16, 7, 12, 14, 12, 14, 12, 14][:len(fitness)]
    labels = [f"#{k + 1}" for k in range(len(fitness))]
    fig = P.pareto_figure(complexity, fitness, labels)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    title = ax.title.get_window_extent(renderer)
    axes_box = ax.get_window_extent(renderer)
    notes = [t for t in ax.texts if t.get_text().startswith("#")]
    assert notes
    for t in notes:
        box = t.get_window_extent(renderer)
        assert not _overlaps(box, title), t.get_text()
        assert box.y1 <= axes_box.y1 + 1, t.get_text()
    P.plt.close(fig)


def test_graph_edge_labels_are_display_notation():
    fig = P.graph_figure(catalog.get("Opt6"), "Opt6")
    edge_texts = [t.get_text() for t in fig.axes[0].texts if t.get_text().startswith("×")]
    P.plt.close(fig)
    assert len(edge_texts) == 3
    assert not any("**" in s for s in edge_texts)
    assert any(r"\tanh^{2}" in s for s in edge_texts)           # 1 - tanh²(a4), typeset
    assert P._inline("1 - tanh(a4)**2") == "1 - tanh(a4)²"


def test_rates_figure_title_names_what_it_draws():
    fig = P.rates_figure([0, 1], {"rejected or failed (fitness)": [0.1, 0.0], "cache hits": [0.0, 0.5]})
    ax = fig.axes[0]
    title = ax.get_title().lower()
    labels = [t.get_text().lower() for t in ax.get_legend().get_texts()]
    P.plt.close(fig)
    assert "duplicates" not in title
    assert "cache hits" in title and any("cache hits" in s for s in labels)
