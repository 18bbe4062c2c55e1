"""A search's winner as a file you can use: the genome plus what it was found with.

``best.json`` (and each entry of ``hall_of_fame.json``) in a run directory is a genome file whose
``meta.found`` holds the fitness summary, the learning rate the fitness was reached with, the
task and preset, and the run it came from. :func:`from_file` builds the optimizer from such a
file with that learning rate by default::

    opt = EvolvedOptimizer.from_file("runs/demo/best.json", model.parameters(), total_steps=1000)

>>> summary_line({"fitness": 2.5, "status": "ok", "best_lr": 10.0, "task": "quadratic", "preset": None})
'fitness 2.5 (ok), best lr 10, task quadratic'
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Iterable

from .errors import OptimizerError

BEST_FILE = "best.json"
HOF_FILE = "hall_of_fame.json"


def found_summary(record: Any, config: dict[str, Any], run_id: str | None = None) -> dict[str, Any]:
    """``meta.found`` of a winner: its :class:`~gp_opt.fitness.FitnessRecord` in brief (fitness,
    status, best lr, the rates tried) and the run's task, preset and seed."""
    toolbox = config.get("toolbox") or {}
    options = toolbox.get("task_options") or {}
    fitness = float(record.fitness)
    tried = [st.get("lr") for st in (record.stages or []) if isinstance(st, dict) and "lr" in st]
    out = {
        "fitness": fitness if math.isfinite(fitness) else str(fitness),
        "status": record.status,
        "best_lr": record.best_lr,
        "task": config.get("task"),
        "preset": options.get("preset") if config.get("task") == "surrogate" else None,
        "task_options": {k: v for k, v in options.items() if k != "preset"},
        "seed": config.get("seed"),
        "lrs_tried": tried,
    }
    if run_id is not None:
        out["run_id"] = run_id
    return out


def annotate(genome: Any, record: Any, config: dict[str, Any], run_id: str | None = None) -> Any:
    """A copy of ``genome`` whose ``meta.found`` says how it was found (see :func:`found_summary`)."""
    g = genome.copy()
    g.meta = dict(g.meta, found=found_summary(record, config, run_id))
    return g


def save_winners(run_dir: str | os.PathLike, halloffame: Iterable[Any], config: dict[str, Any],
                 run_id: str | None = None) -> Path | None:
    """Write ``best.json`` (the best entry) and ``hall_of_fame.json`` (every entry, best first)
    atomically into ``run_dir``; the path of best.json, or None without a genome winner."""
    from .rundir import atomic_write_json, atomic_write_text

    entries = [c for c in halloffame if hasattr(c.payload, "to_dict") and c.record is not None]
    if not entries:
        return None
    run_dir = Path(run_dir)
    annotated = [annotate(c.payload, c.record, config, run_id) for c in entries]
    best = run_dir / BEST_FILE
    atomic_write_text(best, annotated[0].to_json(indent=2) + "\n")
    atomic_write_json(run_dir / HOF_FILE, [dict(g.to_dict(), rank=i, key=c.key)
                                           for i, (g, c) in enumerate(zip(annotated, entries))])
    return best


def learning_rate(genome: Any) -> float | None:
    """The learning rate a winner file records (``meta.found.best_lr``), or None."""
    found = genome.meta.get("found") if isinstance(genome.meta, dict) else None
    lr = found.get("best_lr") if isinstance(found, dict) else None
    return float(lr) if isinstance(lr, (int, float)) and not isinstance(lr, bool) and lr > 0 else None


def summary_line(found: dict[str, Any]) -> str:
    """``fitness F (status), best lr LR, task T[, preset P]`` for ``meta.found``."""
    fit = found.get("fitness")
    fit = f"{fit:.4g}" if isinstance(fit, (int, float)) else str(fit)
    lr = found.get("best_lr")
    parts = [f"fitness {fit} ({found.get('status', '?')})",
             f"best lr {lr:g}" if isinstance(lr, (int, float)) else "best lr -",
             f"task {found.get('task')}"]
    if found.get("preset"):
        parts.append(f"preset {found['preset']}")
    return ", ".join(parts)


def from_file(path: str | os.PathLike, params: Iterable, lr: float | None = None, **kwargs: Any):
    """An :class:`~gp_opt.optim.EvolvedOptimizer` for the genome file ``path`` (a ``best.json``,
    a hall-of-fame entry or any genome file), at ``lr`` or else the learning rate the file
    records; other keyword arguments (``total_steps``, ``warmup_steps``...) go to the optimizer."""
    from .catalog import load_file
    from .optim import EvolvedOptimizer

    genome = load_file(path)
    if lr is None:
        lr = learning_rate(genome)
        if lr is None:
            raise OptimizerError(f"{path}: the genome file records no learning rate (meta.found.best_lr); "
                                 f"pass lr=")
    return EvolvedOptimizer(params, genome, lr=lr, **kwargs)
