"""Surrogate-search speed: a short ``gp-opt search --task surrogate`` on synthetic data of a real
dataset's shape, stopped after a wall-clock limit, and the evaluations per hour its log implies.

    python benchmarks/search_speed.py --preset paper --seconds 150 --out /tmp/speed   # a GPU
    python benchmarks/search_speed.py --preset smoke --shape 256,8,8,3 --particles 1 --steps 1 \\
        --children 1 --max-redraws 0 --seconds 60 --out /tmp/speed                      # plumbing, CPU

The images are ``--shape`` (default CIFAR-10's training set, 50,000 x 32 x 32 x 3, uint8) written
to an ``.npz`` and read through ``--dataset npz`` as a user's data would be. They are noise plus a
bright patch whose place depends on the class, so the learning-rate screens pass and runs train for
as long as they would on real images: the timing is what this measures, not the fitness (a search
on random labels would be cut by the first screen and look many times faster than it is).

The search runs as the CLI runs it (``--batch-children`` unless ``--no-batch-children``) and is
stopped with SIGTERM after ``--seconds`` (the run directory stays resumable). The rate is read from
its ``candidates.jsonl``: candidates logged over the time from the run's first to its last record,
split by phase (the initial population trains one candidate at a time, the children in ensembles).
The paper's reference is about 15 evaluations per GPU-hour (230 s each on an RTX 4090).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PAPER_EVALS_PER_HOUR = 3600 / 230  # the paper: about 230 s per evaluation on an RTX 4090


def write_synthetic(file: Path, shape: tuple[int, int, int, int], classes: int = 10, seed: int = 0) -> None:
    """Images of ``shape`` (N, H, W, C) uint8: noise in 0..127, plus a 255-valued patch of a
    quarter of the side whose position is the class; labels in 0..classes-1."""
    import numpy as np

    n, h, w, c = shape
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, size=n)
    x = rng.integers(0, 128, size=shape, dtype=np.uint8)
    ph, pw = max(1, h // 4), max(1, w // 4)
    per_row = max(1, w // pw)
    for k in range(classes):
        r, col = divmod(k, per_row)
        r0, c0 = (r * ph) % max(1, h - ph + 1), col * pw
        x[y == k, r0:r0 + ph, c0:c0 + pw, :] = 255
    np.savez(file, x_train=x, y_train=y.astype(np.int64))


def search_rate(run_dir: Path) -> dict:
    """Candidates logged, per phase, and per hour over the log's own timestamps."""
    lines = [json.loads(s) for s in (run_dir / "candidates.jsonl").read_text().splitlines() if s.strip()]
    out = {"candidates": len(lines)}
    if not lines:
        return out
    created = json.loads((run_dir / "run.json").read_text()).get("created")
    times = [ln["time"] for ln in lines]
    try:  # the run's creation (ISO 8601, UTC offset), as results/*/campaigns.py reads it
        start = datetime.strptime(created, "%Y-%m-%dT%H:%M:%S%z").timestamp()
    except (TypeError, ValueError):
        start = times[0] - float((lines[0].get("seconds") or {}).get("evaluate", 0.0))
    out["wall_s"] = max(times) - start
    for phase in ("init", "child"):
        sel = [ln for ln in lines if (ln.get("phase") == "init") == (phase == "init")]
        out[f"{phase}_candidates"] = len(sel)
        out[f"{phase}_cut"] = sum(1 for ln in sel if (ln.get("record") or {}).get("status") != "ok")
        out[f"{phase}_eval_s"] = sum(float((ln.get("seconds") or {}).get("evaluate", 0.0)) for ln in sel)
    out["per_hour"] = 3600 * len(lines) / out["wall_s"] if out["wall_s"] > 0 else float("nan")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="paper", choices=["smoke", "digits", "paper"])
    ap.add_argument("--shape", default="50000,32,32,3", help="N,H,W,C of the synthetic training images")
    ap.add_argument("--particles", type=int, default=4)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--children", type=int, default=7)
    ap.add_argument("--init-factor", type=int, default=1)
    ap.add_argument("--init-from", default="Adam,Opt6",
                    help="warm start (as the campaigns do), so some particles train well; '' for none")
    ap.add_argument("--max-redraws", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=150.0, help="stop the search (SIGTERM) after this long")
    ap.add_argument("--no-batch-children", action="store_true")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="passed to gp-opt search")
    ap.add_argument("--out", required=True, help="a new folder: the data file and the run directory")
    args = ap.parse_args(argv)
    try:
        shape = tuple(int(v) for v in args.shape.split(","))
        if len(shape) != 4 or min(shape) < 1:
            raise ValueError
    except ValueError:
        print(f"search_speed: --shape must be N,H,W,C positive integers, got {args.shape!r}", file=sys.stderr)
        return 2
    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        print(f"search_speed: --out {out} is not empty", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    data, run = out / "synthetic.npz", out / "run"
    write_synthetic(data, shape)
    cmd = [sys.executable, "-m", "gp_opt.cli", "search", "--task", "surrogate", "--preset", args.preset,
           "--dataset", "npz", "--data-dir", str(data), "--particles", str(args.particles),
           "--steps", str(args.steps), "--children", str(args.children), "--init-factor", str(args.init_factor),
           "--max-redraws", str(args.max_redraws), "--seed", "0", "--plain", "--out", str(run)]
    cmd += [] if args.no_batch_children else ["--batch-children"]
    cmd += ["--init-from", args.init_from] if args.init_from else []
    for item in args.set:
        cmd += ["--set", item]
    print("$ " + " ".join(cmd[1:]), flush=True)
    proc = subprocess.Popen(cmd, cwd=REPO)
    try:
        proc.wait(timeout=args.seconds)
        stopped = False
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
        stopped = True
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if not (run / "candidates.jsonl").exists():
        print(f"search_speed: the search wrote no candidates.jsonl (exit {proc.returncode})", file=sys.stderr)
        return 1
    r = search_rate(run)
    batched = "without" if args.no_batch_children else "with"
    print()
    print(f"search: preset {args.preset}, synthetic {shape} uint8 images (noise + class patch; not a real "
          f"dataset), {args.particles} particles x {args.steps} steps x {args.children} children, "
          f"init factor {args.init_factor} + {args.init_from or 'no warm start'}, {batched} --batch-children; "
          + (f"stopped after {args.seconds:.0f} s" if stopped else f"finished (exit {proc.returncode})"))
    print("| phase | candidates logged | not ok (cut/failed) | evaluation s (sum) |\n|---|---:|---:|---:|")
    for phase in ("init", "child"):
        print(f"| {phase} | {r.get(phase + '_candidates', 0)} | {r.get(phase + '_cut', 0)} | "
              f"{r.get(phase + '_eval_s', 0.0):.1f} |")
    if r["candidates"]:
        print(f"\n{r['candidates']} candidates in {r['wall_s']:.1f} s of the log: {r['per_hour']:.1f} evaluations "
              f"per hour on this machine (the paper: ~{PAPER_EVALS_PER_HOUR:.1f} per GPU-hour on an RTX 4090, "
              "real CIFAR-10)")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
