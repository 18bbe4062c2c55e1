"""How long ``gp-opt report`` takes on a run of the paper's size (the issue asks < 60 s for 2,000).

The run directory is synthesised: ``N x init_factor`` initial candidates then ``N x K x M``
children, each a random structurally valid genome (``OptimizerGenome.random``; the integrity check
is not what is measured here) with a fake fitness record: about 20 % rejected by the screen, 2 %
NaN, 5 % cache hits of an earlier key, the rest a random score that drifts up with the step. It
is written through ``gp_opt.rundir.RunDir`` with a checkpoint, like a real run.

    python benchmarks/report_speed.py                      # 2,000 candidates, the default report
    python benchmarks/report_speed.py --candidates 500 --repeats 2
    python benchmarks/report_speed.py --lr-curves          # the cost of the lr-sensitivity figures

``--lr-curves`` (issue 23's target: the sensitivity figures add < 10 % to the report's time) adds a
synthetic ``transfer/results.json`` (``--tasks`` tasks x ``--optimizers`` optimizers, each with an
8-rate ``lr_curve`` and its ``lr_range``, as ``gp-opt transfer`` writes them) and times the default
report with it twice: with the curves (one ``transfer_lr_<k>`` figure per task) and with the same
rows stripped of their curves (no figure); the table gives the ratio and the figures' own phase.

The table lists each setting's wall time, its ratio to the 60-s target and the phases of the
default setting (complexity of every unique optimizer, simplification of the top-k and the Pareto
front, figures, pdflatex).
"""
from __future__ import annotations

import argparse
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from gp_opt.genome import OptimizerGenome  # noqa: E402
from gp_opt.report import make_report  # noqa: E402
from gp_opt.rundir import RunDir  # noqa: E402

TARGET = 60.0


def synthesize(path: Path, n_candidates: int, seed: int = 0) -> Path:
    """A run directory of ``n_candidates`` logged candidates (particle search shape N=50, M=6)."""
    rng = np.random.default_rng(seed)
    particles, children = 50, 6
    init = particles * 10
    steps = max(1, math.ceil((n_candidates - init) / (particles * children)))
    cfg = {"algorithm": "particle", "task": "synthetic", "particles": particles, "steps": steps,
           "children": children, "seed": seed, "init_factor": 10,
           "toolbox": {"kind": "genome", "key": "fingerprint"}}
    lines, keys = [], []
    logbook = []
    for seq in range(n_candidates):
        step = 0 if seq < init else 1 + (seq - init) // (particles * children)
        u = rng.random()
        if keys and u < 0.05:                         # a cache hit: an earlier key and its record
            j = int(rng.integers(len(keys)))
            prev = lines[j]
            line = dict(prev, seq=seq, step=step, phase="init" if step == 0 else "step", cache_hit=True)
        else:
            genome = OptimizerGenome.random(rng)
            if u < 0.25:
                rec = {"fitness": "-inf", "status": "rejected", "reason": "screen: no rate reached 25%"}
            elif u < 0.27:
                rec = {"fitness": "nan", "status": "ok", "reason": None}
            else:
                rec = {"fitness": float(0.5 + 0.05 * step + 0.1 * rng.standard_normal()), "status": "ok",
                       "reason": None}
            rec.update(stages=[{"lr": 0.1, "status": rec["status"], "score": rec["fitness"], "steps_run": 800}],
                       best_lr=0.1, seconds=float(rng.uniform(100, 300)), extra={})
            line = {"seq": seq, "phase": "init" if step == 0 else "step", "step": step,
                    "particle": None if step == 0 else int(rng.integers(particles)), "slot": seq,
                    "attempt": 0, "key": f"fp1:{seq:040x}", "individual": genome.to_json(), "record": rec,
                    "cache_hit": False, "seconds": {"evaluate": rec["seconds"]}, "time": 1.8e9 + seq}
        lines.append(line)
        keys.append(line["key"])
    for step in range(steps + 1):
        logbook.append({"step": step, "nevals": 0, "hits": 0, "rejected": 0, "integrity": int(rng.integers(50, 200))})
    rd = RunDir.create(path, cfg)
    try:
        rd.append_many(lines)
        rd.save_checkpoint({"algorithm": "particle", "step": steps, "n_logged": len(lines), "logbook": logbook,
                            "counters": {"integrity_rejections": sum(r["integrity"] for r in logbook),
                                         "duplicates": int(0.03 * len(lines))},
                            "seconds": 5 * 24 * 3600.0})
    finally:
        rd.close()
    return path


def synthesize_transfer(run: Path, n_tasks: int, n_optimizers: int, curves: bool, seed: int = 0) -> None:
    """``run/transfer/results.json``: every optimizer on every task, three seeds at its best rate,
    and (``curves``) the 8-rate curve of the validation metric, a bump around a random best rate
    with a diverged (None) point at the top, and the forgiving range around the best."""
    import json
    rng = np.random.default_rng(seed)
    grid = [10.0 ** e for e in np.linspace(-4, 0.5, 8)]
    tasks = [f"task{t}" for t in range(n_tasks)]
    results = []
    for t in tasks:
        for o in range(n_optimizers):
            best = int(rng.integers(1, 7))
            curve = [[lr, None if i == 7 else float(0.9 - 0.08 * abs(i - best) + 0.01 * rng.standard_normal())]
                     for i, lr in enumerate(grid)]
            row = {"optimizer": f"opt{o}", "task": t, "scores": [float(0.9 + 0.01 * rng.standard_normal())
                                                                 for _ in range(3)],
                   "best_lr": grid[best], "status": "ok", "metric": "accuracy", "higher_is_better": True,
                   "vs_adam": "tie"}
            if curves:
                row.update(lr_curve=curve, lr_range={"low": grid[best - 1], "high": grid[best + 1],
                                                      "decades": float(np.log10(grid[best + 1] / grid[best - 1])),
                                                      "tolerance": 0.05})
            results.append(row)
    doc = {"metric": "validation accuracy", "higher_is_better": True, "reference": "opt0", "tasks": tasks,
           "results": results}
    (run / "transfer").mkdir(exist_ok=True)
    (run / "transfer" / "results.json").write_text(json.dumps(doc))


def timed(run: Path, repeats: int, kw: dict) -> tuple[float, list]:
    """The median wall seconds of ``repeats`` reports of ``run`` and the first one's phases."""
    times, phases = [], None
    for _ in range(repeats):
        shutil.rmtree(run / "report", ignore_errors=True)
        res = make_report(run, **kw)
        times.append(res.seconds)
        phases = res.marks if phases is None else phases
    return float(np.median(times)), phases


def lr_curves_table(run: Path, args) -> int:
    """The default report with and without the lr-curve figures (module docstring), the two settings
    interleaved repeat by repeat so that a shared machine's drift falls on both alike."""
    settings = (("transfer rows without lr_curve (no figure)", False),
                ("transfer rows with lr_curve (the sensitivity figures)", True))
    times: dict[bool, list[float]] = {False: [], True: []}
    phase: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(args.repeats):
        for _, curves in settings:
            synthesize_transfer(run, args.tasks, args.optimizers, curves)
            sec, phases = timed(run, 1, {})
            figures = [nxt[1] - at for (msg, at), nxt in zip(phases, phases[1:]) if msg == "transfer lr-curve figures"]
            times[curves].append(sec)
            phase[curves].append(figures[0] if figures else 0.0)
    base = float(np.median(times[False]))
    print(f"\n| default report, {args.candidates} candidates, transfer {args.tasks} tasks x {args.optimizers} "
          f"optimizers (median of {args.repeats}, interleaved) | seconds | / without | lr-figure phase (s) "
          "| phase / report |")
    print("|---|---|---|---|---|")
    fraction = 0.0
    for label, curves in settings:
        sec, fig = float(np.median(times[curves])), float(np.median(phase[curves]))
        fraction = fig / sec
        print(f"| {label} | {sec:.1f} | {sec / base:.3f} | {fig:.2f} | {fraction:.3f} |")
    return 0 if fraction < 0.10 else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--candidates", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=1, help="runs per setting (the median is shown)")
    ap.add_argument("--lr-curves", action="store_true",
                    help="time the report with and without the lr-sensitivity figures instead")
    ap.add_argument("--tasks", type=int, default=4, help="with --lr-curves: transfer tasks (default 4)")
    ap.add_argument("--optimizers", type=int, default=12, help="with --lr-curves: optimizers per task (default 12)")
    args = ap.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="gp_opt_report_bench_"))
    try:
        t = time.perf_counter()
        run = synthesize(root / "run", args.candidates)
        print(f"synthesised {args.candidates} candidates in {time.perf_counter() - t:.1f} s: {run}")
        if args.lr_curves:
            return lr_curves_table(run, args)
        settings = [
            ("default (top 10, simplify 1 s, PNG, PDF)", {}),
            ("no simplify, no PDF", {"simplify_seconds": 0, "pdf": False}),
            ("PNG + PDF + SVG figures", {"formats": ("png", "pdf", "svg")}),
        ]
        rows, phases = [], None
        for label, kw in settings:
            times = []
            for _ in range(args.repeats):
                shutil.rmtree(run / "report", ignore_errors=True)
                res = make_report(run, **kw)
                times.append(res.seconds)
                if phases is None:
                    phases = res.marks
            med = float(np.median(times))
            rows.append((label, med))
        print(f"\n| setting ({args.candidates} candidates, median of {args.repeats}) | seconds | / {TARGET:.0f} s |")
        print("|---|---|---|")
        for label, sec in rows:
            print(f"| {label} | {sec:.1f} | {sec / TARGET:.2f} |")
        print("\nphases of the default setting:\n\n| phase | starts at (s) | takes (s) |\n|---|---|---|")
        for (msg, at), nxt in zip(phases, phases[1:] + [("end", phases[-1][1])]):
            print(f"| {msg} | {at:.1f} | {nxt[1] - at:.1f} |")
        return 0 if rows[0][1] < TARGET else 1
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
