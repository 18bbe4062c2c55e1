"""``meta.found``: how a genome was found, as its file records it (written by the search with
the winners, read by :meth:`gp_opt.optim.EvolvedOptimizer.from_file` and ``gp-opt show``).

It holds the fitness summary, the learning rate the fitness was reached with, the rates tried,
the task, preset, task options and seed, and the run it came from. It lives beside the genome so
that the optimizer can read it without depending on the run-directory code of
:mod:`gp_opt.winner`.

>>> summary_line({"fitness": 2.5, "status": "ok", "best_lr": 10.0, "task": "quadratic", "preset": None})
'fitness 2.5 (ok), best lr 10, task quadratic'
"""
from __future__ import annotations

import math
from typing import Any

__all__ = ["annotate", "found_summary", "learning_rate", "summary_line"]


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
