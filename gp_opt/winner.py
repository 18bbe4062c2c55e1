"""A search's winner as a file you can use: the genome plus what it was found with.

``best.json`` (and each entry of ``hall_of_fame.json``) in a run directory is a genome file whose
``meta.found`` holds the fitness summary, the learning rate the fitness was reached with, the
task and preset, and the run it came from. :func:`from_file` builds the optimizer from such a
file with that learning rate by default::

    opt = EvolvedOptimizer.from_file("runs/demo/best.json", model.parameters(), total_steps=1000)

The ``meta.found`` block itself (:func:`found_summary`, :func:`annotate`, :func:`learning_rate`,
:func:`summary_line`) is defined in :mod:`gp_opt.genome.found` and importable from here too.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

from .genome.found import annotate, found_summary, learning_rate, summary_line  # noqa: F401 (public here too)

BEST_FILE = "best.json"
HOF_FILE = "hall_of_fame.json"


def save_winners(run_dir: str | os.PathLike, halloffame: Iterable[Any], config: dict[str, Any],
                 run_id: str | None = None) -> Path | None:
    """Write ``best.json`` (the best entry) and ``hall_of_fame.json`` (every entry, best first)
    atomically into ``run_dir``; the path of best.json, or None without a genome winner."""
    from .catalog import carry_grammar
    from .rundir import atomic_write_json, atomic_write_text

    entries = [c for c in halloffame if hasattr(c.payload, "to_dict") and c.record is not None]
    if not entries:
        return None
    run_dir = Path(run_dir)
    # a grammar that is not built in travels inside each file, so it loads from any folder
    annotated = [carry_grammar(annotate(c.payload, c.record, config, run_id)) for c in entries]
    best = run_dir / BEST_FILE
    atomic_write_text(best, annotated[0].to_json(indent=2) + "\n")
    atomic_write_json(run_dir / HOF_FILE, [dict(g.to_dict(), rank=i, key=c.key)
                                           for i, (g, c) in enumerate(zip(annotated, entries))])
    return best


def from_file(path: str | os.PathLike, params: Iterable, lr: float | None = None, **kwargs: Any):
    """:meth:`gp_opt.optim.EvolvedOptimizer.from_file`: the optimizer of the genome file ``path``
    (a ``best.json``, a hall-of-fame entry or any genome file), at ``lr`` or else the learning
    rate the file records."""
    from .optim import EvolvedOptimizer

    return EvolvedOptimizer.from_file(path, params, lr=lr, **kwargs)
