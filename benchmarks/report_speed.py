"""How long ``gp-opt report`` takes on a run of the paper's size (the issue asks < 60 s for 2,000).

The run directory is synthesised: ``N x init_factor`` initial candidates then ``N x K x M``
children, each a random structurally valid genome (``OptimizerGenome.random``; the integrity check
is not what is measured here) with a fake fitness record: about 20 % rejected by the screen, 2 %
NaN, 5 % cache hits of an earlier key, the rest a random score that drifts up with the step. It
is written through ``gp_opt.rundir.RunDir`` with a checkpoint, like a real run.

    python benchmarks/report_speed.py                      # 2,000 candidates, the default report
    python benchmarks/report_speed.py --candidates 500 --repeats 2

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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--candidates", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=1, help="runs per setting (the median is shown)")
    args = ap.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="gp_opt_report_bench_"))
    try:
        t = time.perf_counter()
        run = synthesize(root / "run", args.candidates)
        print(f"synthesised {args.candidates} candidates in {time.perf_counter() - t:.1f} s: {run}")
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
