"""What DEAP sees of a candidate: the payload with its key, fitness record and ids; the
history of keys seen; the default statistics."""
from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np
from deap import base, creator, tools

from ..fitness import FitnessRecord, OK


FITNESS_TYPE = "GpOptFitness"
INDIVIDUAL_TYPE = "GpOptIndividual"


class Candidate:
    """A payload with its dedup key, fitness record and ids (base class of ``GpOptIndividual``)."""

    def __init__(self, payload: Any, key: str | None = None, record: FitnessRecord | None = None,
                 meta: dict[str, Any] | None = None):
        self.payload = payload
        self.key = key
        self.record = record
        self.meta = meta or {}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Candidate):
            return NotImplemented
        if self.key is not None and other.key is not None:
            return self.key == other.key
        return bool(self.payload == other.payload)

    __hash__ = None  # type: ignore[assignment]

    def __deepcopy__(self, memo: dict) -> "Candidate":
        """Payloads and records are values the search never changes in place (mutation returns a
        new payload), so a copy (the hall of fame makes one per insert) shares them; deep-copying
        a genome with its cached sympy forms would cost ~100 ms."""
        import copy

        new = type(self)(self.payload, self.key, self.record, copy.deepcopy(self.meta, memo))
        if hasattr(self, "fitness"):
            new.fitness = copy.deepcopy(self.fitness, memo)
        return new

    def __repr__(self) -> str:
        fit = self.record.fitness if self.record is not None else None
        return f"{type(self).__name__}(key={self.key!r}, fitness={fit!r})"


if not hasattr(creator, FITNESS_TYPE):
    creator.create(FITNESS_TYPE, base.Fitness, weights=(1.0,))
if not hasattr(creator, INDIVIDUAL_TYPE):
    creator.create(INDIVIDUAL_TYPE, Candidate, fitness=getattr(creator, FITNESS_TYPE))


def make_individual(payload: Any, key: str | None, record: FitnessRecord | None,
                    meta: dict[str, Any] | None = None) -> Candidate:
    ind = getattr(creator, INDIVIDUAL_TYPE)(payload, key, record, meta)
    if record is not None:
        ind.fitness.values = (float(record.fitness),)
    return ind


def is_ok(ind: Candidate | None) -> bool:
    return ind is not None and ind.record is not None and ind.record.status == OK and \
        not math.isnan(ind.record.fitness)


def score(ind: Candidate | None) -> float:
    if not is_ok(ind):
        return -math.inf
    return float(ind.record.fitness)


#: ``record.extra["scale"]`` of a candidate scored by the toolbox's ``evaluate_init`` (the
#: initial population's own fitness, e.g. the paper's base-32 ConvNet before base 48): a score on
#: another scale than the children's, never compared with theirs
INIT_SCALE = "init"


def on_init_scale(ind: Candidate | None) -> bool:
    """Whether ``ind``'s record was scored by the initial population's own evaluator."""
    return ind is not None and ind.record is not None and ind.record.extra.get("scale") == INIT_SCALE


def rank(ind: Candidate | None) -> tuple[bool, float]:
    """The sort key of every ranking that may see both scales (higher is better): a candidate
    scored at the children's scale above every one scored at the initial population's, and by
    score within a scale, so no two scores of different scales are ever compared."""
    return (not on_init_scale(ind), score(ind))


def same_key(a: Candidate, b: Candidate) -> bool:
    """The hall of fame's ``similar``: two individuals are the same optimizer if their keys match."""
    return a == b


def default_stats() -> tools.Statistics:
    """avg/std/min/max of the finite fitnesses of a population."""

    def finite(vals: Iterable[float]) -> np.ndarray:
        a = np.asarray([v for v in vals if math.isfinite(v)], dtype=float)
        return a

    stats = tools.Statistics(lambda ind: ind.fitness.values[0] if ind.fitness.valid else -math.inf)
    stats.register("avg", lambda v: float(np.mean(finite(v))) if len(finite(v)) else float("nan"))
    stats.register("std", lambda v: float(np.std(finite(v))) if len(finite(v)) else float("nan"))
    stats.register("min", lambda v: float(np.min(finite(v))) if len(finite(v)) else float("nan"))
    stats.register("max", lambda v: float(np.max(finite(v))) if len(finite(v)) else float("nan"))
    return stats


def key_list(keys: Any) -> list[str]:
    """A key (str), several keys (list/tuple) or None -> a list of keys."""
    if keys is None:
        return []
    if isinstance(keys, (list, tuple)):
        return [str(k) for k in keys if k is not None]
    return [str(keys)]


class History:
    """The keys a particle has seen, in order; ``in`` is O(1). Passed to ``toolbox.mutate``."""

    def __init__(self, keys: Iterable[str] = ()):
        self.order: list[str] = []
        self._set: set[str] = set()
        for k in keys:
            self.add(k)

    def add(self, key: str | None) -> None:
        if key is not None and key not in self._set:
            self._set.add(key)
            self.order.append(key)

    def add_all(self, keys: Any) -> None:
        for k in key_list(keys):
            self.add(k)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, (list, tuple)):
            return any(k in self._set for k in key)
        return key in self._set

    def __len__(self) -> int:
        return len(self.order)

    def __iter__(self):
        return iter(self.order)
