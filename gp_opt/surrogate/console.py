"""Command-line helpers for the surrogate: resolve NAME|FILE, a live progress line, a readable record.

(This was ``gp_opt.surrogate.report``, a name that belongs to :mod:`gp_opt.report`.)

``gp-opt evaluate`` is a thin wrapper over :func:`evaluate_spec` and :func:`format_record`.
"""
from __future__ import annotations

import math
import sys
import time
from typing import Any, TextIO

from gp_opt.fitness import FitnessRecord
from gp_opt.surrogate.baselines import BASELINES
from gp_opt.surrogate.protocol import SurrogateConfig, evaluate

__all__ = ["ProgressLine", "format_record", "evaluate_spec", "resolve_spec"]


class ProgressLine:
    """A progress callable for :func:`~gp_opt.surrogate.evaluate`: one live line on a terminal,
    one line per stage change (and every ``every`` seconds) otherwise."""

    def __init__(self, stream: TextIO | None = None, every: float = 5.0):
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every, self.last, self.stage = every, 0.0, None

    def __call__(self, ev: dict[str, Any]) -> None:
        runs = ev["runs"]
        parts = []
        for r in runs[:8]:
            acc = r.get("train_acc")
            acc_s = "-" if acc is None or (isinstance(acc, float) and math.isnan(acc)) else f"{acc:.3f}"
            s = f"lr {r['lr']:g} {acc_s}" if r["status"] == "ok" else f"lr {r['lr']:g} {r['status']}"
            if r.get("best_val_acc") is not None and not math.isnan(r["best_val_acc"]):
                s += f" val {r['best_val_acc']:.3f}"
            parts.append(s)
        if len(runs) > 8:
            parts.append(f"... {len(runs) - 8} more")
        line = f"[{ev['stage']}] step {ev['step']}/{ev['run_steps']}  " + " | ".join(parts)
        now = time.monotonic()
        if self.tty:
            self.stream.write("\r\x1b[K" + line)
            if ev["step"] >= ev["run_steps"]:
                self.stream.write("\n")
        elif ev["stage"] != self.stage or now - self.last >= self.every or ev["step"] >= ev["run_steps"]:
            self.stream.write(line + "\n")
            self.last = now
        self.stage = ev["stage"]
        self.stream.flush()


def format_record(rec: FitnessRecord) -> str:
    """A readable summary: outcome, chosen rate, one line per run."""
    head = f"status: {rec.status}"
    if rec.ok:
        head += f"   fitness (best validation accuracy): {rec.fitness:.4f}"
    if rec.best_lr is not None:
        head += f"   learning rate: {rec.best_lr:g}"
    lines = [head]
    if rec.reason:
        lines.append(f"reason: {rec.reason}")
    ex = rec.extra or {}
    lines.append(f"optimizer: {ex.get('optimizer', '?')}   dataset: {ex.get('dataset', '?')}   "
                 f"device: {ex.get('device', '?')}   time: {rec.seconds:.1f} s")
    if ex.get("stopped_early"):
        lines.append(f"full run stopped early: {ex['stopped_early']}")
    lines.append(f"  {'stage':<8} {'lr':>8} {'status':<8} {'steps':>6} {'train acc':>9} {'loss':>8} {'best val':>8}")
    for s in rec.stages:
        def num(v: Any, fmt: str) -> str:
            return "-" if v is None else format(v, fmt)
        lines.append(f"  {s.get('stage', ''):<8} {s['lr']:>8g} {s['status']:<8} {s['steps']:>6} "
                     f"{num(s.get('train_acc'), '.3f'):>9} {num(s.get('train_loss'), '.3f'):>8} "
                     f"{num(s.get('best_val_acc'), '.4f'):>8}"
                     + (f"  ({s['reason']})" if s.get("reason") and s["status"] != "ok" else ""))
    return "\n".join(lines)


def resolve_spec(spec: str, grammar: Any = None) -> Any:
    """NAME|FILE as the command line gives it: a torch baseline name, or a catalog name / genome file."""
    if spec.lower() in BASELINES:
        return spec.lower()
    try:
        from gp_opt import catalog
    except ImportError:
        return spec
    return catalog.load(spec, grammar) if hasattr(catalog, "load") else catalog.get(spec)


def evaluate_spec(spec: str, *, preset: str = "smoke", dataset: str | None = None, data_dir: str | None = None,
                  download: bool = False, device: str = "auto", seed: int = 0, grammar: Any = None,
                  progress: bool | Any = True, **overrides: Any) -> FitnessRecord:
    """Evaluate NAME|FILE with a preset and command-line overrides (``None`` values are ignored)."""
    over = {k: v for k, v in dict(dataset=dataset, data_dir=data_dir, download=download or None,
                                  device=device, seed=seed, **overrides).items() if v is not None}
    cfg = SurrogateConfig.preset(preset, **over)
    cb = ProgressLine() if progress is True else (progress or None)
    return evaluate(resolve_spec(spec, grammar), cfg, progress=cb)
