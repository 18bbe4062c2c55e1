"""Noise-aware selection: every evaluation of a candidate counts, and selection uses a statistic
of them that a lucky score cannot keep up.

A candidate (a key) may be evaluated several times, each time on a fresh evaluation seed, each
evaluation a line of the append-only log (``phase: "reeval"`` for the repeats). Its **derived
fitness** is

    mean - SE,   SE = s / sqrt(n),

over its ``n`` evaluations, where ``s`` is the within-candidate standard deviation pooled over
every candidate of the run evaluated at least twice on the same fitness scale (a run whose initial
population has its own fitness pools that scale apart, docs/search.md) (``sqrt(sum of squared deviations from each
candidate's mean / sum(n_i - 1))``; 0 while there is none). Pooling gives a once-evaluated candidate
an honest penalty ``s`` instead of none, so it cannot outrank one whose score held on fresh seeds
by a lucky draw. A candidate with any evaluation that did not pass gets that record (NaN on one
seed is a failed candidate). The derived fitness is a function of the log alone, so a resumed run,
``show`` and ``report`` see the same numbers as the run that wrote it.

What spends the extra evaluations (:class:`NoiseSettings`; :meth:`.loop.SearchLoop.race` and
:meth:`.loop.SearchLoop.rescore` call them):

- **racing**: new candidates near the top -- ranking among the ``RACE_RANK`` best of the hall of
  fame and the new ones together -- get up to ``race_seeds`` more evaluations, one round at a time,
  before they may displace an elite (become a particle, enter the hall of fame); one that falls
  back is not evaluated again;
- **re-scoring**: after each generation the ``rescore`` best of the elites (the particles, the
  population) and the hall of fame together that have fewer than ``max_evaluations`` evaluations
  get one more, on a fresh seed, and the hall of fame is re-sorted by the derived fitness.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Iterable

from ..errors import GpOptError
from ..fitness import FitnessRecord, OK

#: the phase of a repeated evaluation's log line
REEVAL = "reeval"
#: racing: a new candidate is near the top if it ranks among this many best
RACE_RANK = 3


@dataclass(frozen=True)
class NoiseSettings:
    """How many extra evaluations noise-aware selection may spend (see the module docstring)."""
    race_seeds: int = 2
    rescore: int = 2
    max_evaluations: int = 4

    def __post_init__(self) -> None:
        for name in ("race_seeds", "rescore"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise GpOptError(f"noise-aware selection: {name} must be a non-negative integer, got {v!r}")
        v = self.max_evaluations
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise GpOptError(f"noise-aware selection: max_evaluations must be a positive integer, got {v!r}")

    @classmethod
    def from_config(cls, value: Any) -> "NoiseSettings | None":
        """``None``/``False``: off; ``True``: the defaults; a dict or a NoiseSettings: those."""
        if value is None or value is False:
            return None
        if value is True:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            unknown = set(value) - set(cls.__dataclass_fields__)
            if unknown:
                raise GpOptError(f"noise-aware selection: unknown setting {sorted(unknown)[0]!r}")
            return cls(**value)
        raise GpOptError(f"noise-aware selection: expected settings, got {type(value).__name__}")

    def to_config(self) -> dict[str, int]:
        return asdict(self)


class Evaluations:
    """Every evaluation of every key in log order (cache hits are not evaluations), and the
    derived fitness over them."""

    def __init__(self) -> None:
        self.by_key: dict[str, list[FitnessRecord]] = {}
        self._pooled: dict[Any, float] | None = None

    def add(self, key: str | None, rec: FitnessRecord) -> None:
        if key is not None:
            self.by_key.setdefault(key, []).append(rec)
            self._pooled = None

    def rebuild(self, lines: Iterable[dict[str, Any]]) -> None:
        """From log lines, in order (a resumed run)."""
        self.by_key.clear()
        self._pooled = None
        for line in lines:
            if not line.get("cache_hit") and line.get("key") is not None:
                self.add(line["key"], FitnessRecord.from_dict(line["record"]))

    def count(self, key: str | None) -> int:
        return len(self.by_key.get(key, ())) if key is not None else 0

    def pooled_sd(self, scale: Any = None) -> float:
        """The within-candidate standard deviation pooled over candidates evaluated twice or more
        whose first record has ``extra["scale"] == scale`` (None: the children's; ``"init"``: the
        initial population's own fitness, whose noise is another scale's, see docs/search.md)."""
        if self._pooled is None:
            sums: dict[Any, tuple[float, int]] = {}
            for recs in self.by_key.values():
                values = [r.fitness for r in recs if r.status == OK]
                if len(values) >= 2 and len(values) == len(recs):
                    mean = math.fsum(values) / len(values)
                    ss, dof = sums.get(recs[0].extra.get("scale"), (0.0, 0))
                    sums[recs[0].extra.get("scale")] = (ss + math.fsum((v - mean) ** 2 for v in values),
                                                        dof + len(values) - 1)
            self._pooled = {k: math.sqrt(ss / dof) for k, (ss, dof) in sums.items()}
        return self._pooled.get(scale, 0.0)

    def derived(self, key: str | None) -> FitnessRecord | None:
        """The record selection uses (None: the key was never evaluated): the first evaluation's
        stages and rate with fitness mean - SE; ``extra`` adds ``evaluations``, ``mean``, ``se``."""
        recs = self.by_key.get(key) if key is not None else None
        if not recs:
            return None
        bad = next((r for r in recs if r.status != OK), None)
        if bad is not None:
            return bad
        n = len(recs)
        mean = math.fsum(r.fitness for r in recs) / n
        first = recs[0]
        se = self.pooled_sd(first.extra.get("scale")) / math.sqrt(n)
        return FitnessRecord(fitness=mean - se, stages=first.stages, best_lr=first.best_lr, seconds=first.seconds,
                             extra={**first.extra, "evaluations": n, "mean": mean, "se": se})


def with_derived_records(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A run's log lines with every evaluated candidate's record replaced by its derived one --
    for readers that rank a run's candidates by their records (the report, the funnel), so that
    they rank on what the search selected on and not on a candidate's luckiest evaluation. The
    lines themselves are unchanged where the run has no repeated evaluation."""
    if not any(line.get("phase") == REEVAL for line in lines):
        return lines
    evaluations = Evaluations()
    evaluations.rebuild(lines)
    out = []
    for line in lines:
        rec = evaluations.derived(line.get("key"))
        out.append(dict(line, record=rec.to_dict()) if rec is not None else line)
    return out
