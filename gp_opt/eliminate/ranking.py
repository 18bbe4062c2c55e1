"""Ranking a round's entries: mean validation accuracy over the seeds, ties broken by the lower
mean validation loss; an entry rejected or failed on any seed ranks last."""
from __future__ import annotations

import math
import statistics
from typing import Any, Sequence


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs) if xs else math.nan


def entry_stats(records: list[dict[str, Any]], n_seeds: int) -> dict[str, Any]:
    """Mean/std of validation accuracy and loss over an entry's seed records; ``ok`` only when
    every seed finished ok."""
    ok = len(records) == n_seeds and all(r["status"] == "ok" for r in records)
    bad = next((r for r in records if r["status"] != "ok"), None)
    status = "ok" if ok else (bad["status"] if bad else "incomplete")
    accs = [r["val_acc"] for r in records if r["status"] == "ok" and r.get("val_acc") is not None]
    losses = [r["val_loss"] for r in records if r["status"] == "ok" and r.get("val_loss") is not None]
    return {"ok": ok, "status": status, "reason": bad.get("reason") if bad else None, "scores": accs, "val_loss": losses,
            "mean": _mean(accs), "std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
            "mean_loss": _mean(losses)}


def rank_key(stats: dict[str, Any]) -> tuple:
    """Sort key, best first: complete entries, higher mean accuracy, lower mean loss."""
    loss = stats["mean_loss"]
    # rounded to 1e-6: accuracies arrive as float32 k/n, so equal means can differ in the 8th digit
    return (0 if stats["ok"] else 1, -round(stats["mean"], 6) if stats["ok"] else 0.0,
            loss if stats["ok"] and math.isfinite(loss) else math.inf)


def rank_entries(names: list[str], by_name: dict[str, dict[str, Any]]) -> list[str]:
    """``names`` best first by :func:`rank_key` (stable: earlier names win exact ties)."""
    return sorted(names, key=lambda n: rank_key(by_name[n]))
