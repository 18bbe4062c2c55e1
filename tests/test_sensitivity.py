"""Learning-rate sensitivity (gp_opt.sensitivity): the forgiving range on known curves, the
transfer suite keeping each curve and its range, and gp-opt lr-range on new and old records."""
import json
import math

import pytest

from gp_opt.cli import main
from gp_opt.errors import GpOptError
from gp_opt.sensitivity import lr_range


def test_known_width_on_a_synthetic_curve():
    # a half-decade grid 1e-4..1; accuracy peaks at 1e-2 (0.90) and stays >= 0.855 (5 % below)
    # from 1e-3 to 10^-1.5: a range of exactly 1.5 decades
    lrs = [10 ** (-4 + k / 2) for k in range(9)]
    acc = [0.10, 0.60, 0.86, 0.88, 0.90, 0.87, 0.50, 0.10, None]
    r = lr_range(zip(lrs, acc), higher_is_better=True, tolerance=0.05)
    assert r.best_lr == pytest.approx(1e-2) and r.best == 0.90
    assert (r.low, r.high) == (pytest.approx(1e-3), pytest.approx(10 ** -1.5))
    assert r.decades == pytest.approx(1.5)
    # a tighter tolerance narrows it; a loss curve (lower is better) reads the other way
    assert lr_range(zip(lrs, acc), True, tolerance=0.0).decades == 0.0
    loss = [None if a is None else 1.0 - a for a in acc]     # best 0.10; within 25 %: <= 0.125
    assert lr_range(zip(lrs, loss), False, tolerance=0.25).decades == pytest.approx(0.5)


def test_a_failed_rate_ends_the_range_and_no_finite_point_is_none():
    curve = [(1e-3, 0.9), (1e-2, math.nan), (1e-1, 0.9)]
    r = lr_range(curve, True)
    assert (r.low, r.high) == (1e-3, 1e-3)
    assert lr_range([(1e-3, None), (1e-2, math.nan)], True) is None
    with pytest.raises(GpOptError):
        lr_range([(0.0, 1.0)], True)


def test_transfer_keeps_the_curve_and_the_range(tmp_path, capsys):
    from gp_opt.transfer import get_task, run_transfer
    grid = [1.0, 0.1, 0.01]
    run_transfer(["SGD"], [get_task("wine", steps=15)], seeds=2, lrs=grid, out_dir=tmp_path, progress=None)
    doc = json.loads((tmp_path / "results.json").read_text())
    for row in doc["results"]:
        assert [p[0] for p in row["lr_curve"]] == grid
        r = row["lr_range"]
        assert r is None or r["low"] <= row["best_lr"] <= r["high"]
    assert "lr range (decades)" in (tmp_path / "transfer.md").read_text()
    assert "lr_decades" in (tmp_path / "transfer.csv").read_text().splitlines()[0]
    capsys.readouterr()
    assert main(["lr-range", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "decades" in out and "wine" in out and "SGD" in out


def test_records_without_the_curve_one_line_exit_2(tmp_path, capsys):
    old = {"results": [{"optimizer": "Adam", "task": "wine", "scores": [0.9], "best_lr": 0.01,
                        "status": "ok", "metric": "accuracy", "higher_is_better": True}]}
    path = tmp_path / "results.json"
    path.write_text(json.dumps(old))
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["lr-range", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "no learning-rate curve" in err and "gp-opt transfer" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_card_carries_the_recommended_range(tmp_path, capsys):
    from gp_opt.transfer import get_task, run_transfer
    run_transfer(["Opt6"], [get_task("wine", steps=15)], seeds=2, lrs=[1.0, 0.1, 0.01], reference="Opt6",
                 out_dir=tmp_path, progress=None)
    capsys.readouterr()
    assert main(["show", "Opt6", "--lr-from", str(tmp_path / "results.json")]) == 0
    out = capsys.readouterr().out
    assert "recommended lr (validation mean within 5% of the best" in out and "wine " in out
    assert main(["show", "SGD", "--lr-from", str(tmp_path / "results.json")]) == 2   # no row for it
    assert "no row for optimizer 'SGD'" in capsys.readouterr().err


def test_report_draws_metric_against_lr_per_task(tmp_path):
    from gp_opt.report.make import lr_figures
    curve = [[1e-3, 0.5], [1e-2, 0.9], [1e-1, 0.88], [1.0, None]]
    doc = {"results": [
        {"task": "wine", "optimizer": "Adam", "metric": "accuracy", "higher_is_better": True, "lr_curve": curve,
         "lr_range": {"low": 1e-2, "high": 1e-1, "decades": 1.0, "tolerance": 0.05}},
        {"task": "wine", "optimizer": "SGD", "metric": "accuracy", "higher_is_better": True,
         "lr_curve": [[1e-3, 0.3], [1e-2, 0.6], [1e-1, 0.8], [1.0, 0.85]], "lr_range": None},
        {"task": "old", "optimizer": "Adam", "scores": [0.9]}]}   # a row without a curve: no figure
    figures: list = []
    md = lr_figures(doc, tmp_path, ("png",), figures)
    assert [p.name for p in figures] == ["transfer_lr_0.png"] and figures[0].stat().st_size > 1000
    assert md[0].startswith("![wine: validation metric against the learning rate](transfer_lr_0.png)")


def test_elimination_record_keeps_the_screen_curve():
    from gp_opt.eliminate.store import check_record_line, screen_curve
    stages = [{"stage": "screen1", "lr": 0.1, "status": "ok", "train_acc": 0.5},
              {"stage": "screen1", "lr": 1.0, "status": "failed", "train_acc": None},
              {"stage": "screen2", "lr": 0.01, "status": "ok", "train_acc": 0.7},
              {"stage": "full", "lr": 0.01, "status": "ok", "train_acc": 0.9}]   # the full run is not the sweep
    assert screen_curve(stages) == [[0.01, 0.7], [0.1, 0.5], [1.0, None]]
    line = {"round": 0, "seed": 0, "name": "Adam", "status": "ok", "key": None, "lr_curve": [[0.1, "x"]]}
    with pytest.raises(GpOptError, match="lr_curve"):
        check_record_line(line, "records.jsonl line 1")
    check_record_line(dict(line, lr_curve=screen_curve(stages)), "records.jsonl line 1")


def test_lr_figure_keeps_the_best_rates_in_view_when_a_run_diverges():
    from gp_opt.plots.lr_curves import lr_curves_figure

    curves = {"a": [(1e-3, 3.9), (1e-2, 3.5), (1e-1, 60000.0)], "b": [(1e-3, 3.7), (1e-2, 4.0), (1e-1, None)]}
    fig = lr_curves_figure("charlm", "bpc", curves, higher_is_better=False)
    lo, hi = fig.axes[0].get_ylim()
    assert lo < 3.5 and 3.7 < hi < 10   # both bests in view, the 60,000 left out
    assert any("1 diverged point off the chart" in t.get_text() for t in fig.axes[0].texts)
    calm = lr_curves_figure("t", "acc", {"a": [(1e-3, 0.90), (1e-2, 0.95)]}, higher_is_better=True)
    assert not calm.axes[0].texts   # nothing off the chart: matplotlib's own limits
    import matplotlib.pyplot as plt
    plt.close(fig)
    plt.close(calm)
