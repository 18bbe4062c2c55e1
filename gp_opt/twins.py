"""Near-twins: distinct genomes that are one optimizer in effect, judged within a tolerance.

A clip that never binds, a branch multiplied by a tiny constant, an extra ``+ 1e-12``: such genomes
train exactly like another one, or so close that no seed could tell them apart. The elimination
funnel must not spend its slots on one behaviour several times (the 2026-12-06 audit found 6 of 8
slots holding one behaviour, and two "top 3" entries equal on every held-out seed, which the old
bit-for-bit comparison missed).

Two tests:

- :func:`records_twins` -- two search records on the **same evaluation seed** (their
  ``extra['seed']`` equal, or both absent) are twins when they chose the same rate, their runs have
  the same stages, statuses and step counts, and every number of their training curves (training
  loss and accuracy, validation accuracy and loss histories, the fitness) agrees within
  ``rtol`` relative (and ``atol`` absolute). Seed-to-seed noise moves these numbers by several per
  cent (a digits ConvNet's validation loss: 0.013-0.087 on about 0.15); the default ``rtol`` of
  1e-3 is far below it, so two optimizers that really differ are not merged, while float
  reassociation and negligible terms (differences of 1e-6 relative) are. Records on different
  seeds are never twins by this test: their differences are the seed's.
- :func:`scores_twins` -- two entries scored on the same seeds (the funnel's rounds, the
  hold-out) are twins when their scores agree within ``atol`` on every shared seed.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

__all__ = ["RTOL", "ATOL", "LOSS_ATOL", "ACC_ATOL", "records_twins", "scores_twins", "first_of_twins", "demote_twins"]

#: relative tolerance of :func:`records_twins` (far below seed noise, far above float reassociation)
RTOL = 1e-3
#: absolute tolerance (numbers near 0: an accuracy of 0, a loss that reached 0)
ATOL = 1e-7

_STAGE_KEYS = ("stage", "lr", "status", "steps")
_CURVE_KEYS = ("train_loss", "train_acc", "best_val_acc", "score", "final_loss", "val_loss", "val_accuracy")
_HISTORY_KEYS = ("val_history", "val_loss_history")


def _seed(record: dict[str, Any]) -> Any:
    return (record.get("extra") or {}).get("seed")


def _close(a: Any, b: Any, rtol: float, atol: float) -> bool:
    if isinstance(a, str) or isinstance(b, str) or a is None or b is None:
        return a == b
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    try:
        a, b = float(a), float(b)
    except (TypeError, ValueError):
        return a == b
    if not (math.isfinite(a) and math.isfinite(b)):
        return a == b
    return abs(a - b) <= atol + rtol * max(abs(a), abs(b))


def _numbers(history: Any) -> list[Any]:
    out: list[Any] = []
    for item in history or ():
        out.extend(item if isinstance(item, (list, tuple)) else [item])
    return out


def records_twins(a: dict[str, Any], b: dict[str, Any], rtol: float = RTOL, atol: float = ATOL) -> bool:
    """Whether two search records (``FitnessRecord.to_dict()`` shapes) show one behaviour.
    Records without stages (toy tasks, plain functions) are never twins: nothing to compare.

    >>> run = {"stage": "full", "lr": 0.1, "status": "ok", "steps": 120, "train_loss": 0.30,
    ...        "val_loss_history": [[20, 0.9], [40, 0.4]]}
    >>> a = {"fitness": -0.4, "best_lr": 0.1, "stages": [run]}
    >>> b = {"fitness": -0.40001, "best_lr": 0.1, "stages": [dict(run, train_loss=0.30002)]}
    >>> records_twins(a, b), records_twins(a, dict(b, fitness=-0.41))
    (True, False)
    """
    sa, sb = a.get("stages"), b.get("stages")
    if not sa or not sb or len(sa) != len(sb):
        return False
    if _seed(a) != _seed(b) or a.get("status") != b.get("status"):
        return False
    if not _close(a.get("best_lr"), b.get("best_lr"), 0.0, 0.0) or not _close(a.get("fitness"), b.get("fitness"), rtol, atol):
        return False
    for x, y in zip(sa, sb):
        if any(x.get(k) != y.get(k) for k in _STAGE_KEYS):
            return False
        if any(not _close(x.get(k), y.get(k), rtol, atol) for k in _CURVE_KEYS):
            return False
        for k in _HISTORY_KEYS:
            hx, hy = _numbers(x.get(k)), _numbers(y.get(k))
            if len(hx) != len(hy) or any(not _close(u, v, rtol, atol) for u, v in zip(hx, hy)):
                return False
    return True


def scores_twins(a: dict[Any, float], b: dict[Any, float], atol: float) -> bool:
    """Whether two entries' scores (seed -> score) agree within ``atol`` on every shared seed (at
    least one shared; a non-finite score only matches itself)."""
    shared = [s for s in a if s in b]
    return bool(shared) and all(_close(a[s], b[s], 0.0, atol) for s in shared)


def first_of_twins(records: Sequence[dict[str, Any]], limit: int | None = None, rtol: float = RTOL,
                   atol: float = ATOL) -> tuple[list[int], dict[int, list[int]]]:
    """Walk ``records`` (best first) and keep those that are no near-twin of an earlier kept one,
    until ``limit`` are kept. Returns (the kept indices, kept index -> the indices left out as its
    twins). A record is compared with the kept ones only, so the result does not depend on chains
    of near-twins among those left out."""
    kept: list[int] = []
    twins: dict[int, list[int]] = {}
    for i, rec in enumerate(records):
        match = next((k for k in kept if records_twins(records[k], rec, rtol, atol)), None)
        if match is not None:
            twins[match].append(i)
            continue
        if limit is not None and len(kept) == limit:
            break
        kept.append(i)
        twins[i] = []
    return kept, twins


#: a funnel round's twins: validation losses within 1e-4 (different optimizers on one seed differ by
#: about 0.01-0.05) and accuracies within 2e-3 (about one validation image of 539) on every seed
LOSS_ATOL = 1e-4
ACC_ATOL = 2e-3


def demote_twins(order: Sequence[str], records: dict[str, dict[Any, dict[str, Any]]]
                 ) -> tuple[list[str], dict[str, str]]:
    """A funnel round's ranking (``order``, best first) with every near-twin of a better-ranked
    entry moved to the end, so the next distinct entry takes its place in the next round.
    ``records[name][seed]`` holds the round's record (``status``, ``best_lr``, ``val_loss``,
    ``val_acc``); twins are ok on every seed, at the same rate, with losses and accuracies
    within :data:`LOSS_ATOL` / :data:`ACC_ATOL` on every seed. Returns (the new order, twin -> the
    entry it duplicates).

    >>> r = lambda loss: {0: {"status": "ok", "best_lr": 0.1, "val_loss": loss, "val_acc": 0.9}}
    >>> demote_twins(["a", "b", "c"], {"a": r(0.1), "b": r(0.10001), "c": r(0.12)})
    (['a', 'c', 'b'], {'b': 'a'})
    """
    def signature(name: str):
        recs = records.get(name) or {}
        if not recs or any(r.get("status") != "ok" for r in recs.values()):
            return None
        return recs

    kept: list[str] = []
    twin_of: dict[str, str] = {}
    for name in order:
        mine = signature(name)
        match = None
        if mine is not None:
            for other in kept:
                theirs = signature(other)
                if theirs is None or set(theirs) != set(mine):
                    continue
                if (all(theirs[s].get("best_lr") == mine[s].get("best_lr") for s in mine)
                        and scores_twins({s: mine[s].get("val_loss") for s in mine},
                                         {s: theirs[s].get("val_loss") for s in mine}, LOSS_ATOL)
                        and scores_twins({s: mine[s].get("val_acc") for s in mine},
                                         {s: theirs[s].get("val_acc") for s in mine}, ACC_ATOL)):
                    match = other
                    break
        if match is None:
            kept.append(name)
        else:
            twin_of[name] = match
    return kept + [n for n in order if n in twin_of], twin_of
