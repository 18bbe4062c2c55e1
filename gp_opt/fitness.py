"""The one record every fitness evaluator returns (cheap CPU tasks and the GPU surrogate alike)."""
from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, field
from typing import Any

OK = "ok"
REJECTED = "rejected"
FAILED = "failed"


@dataclass
class FitnessRecord:
    """Result of evaluating one candidate; ``fitness`` is higher-is-better.

    >>> r = FitnessRecord.rejected("screen: no rate reached 25%")
    >>> r.fitness, r.status
    (-inf, 'rejected')
    """

    fitness: float
    status: str = OK
    reason: str | None = None
    stages: list[dict[str, Any]] = field(default_factory=list)
    best_lr: float | None = None
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == OK

    @classmethod
    def rejected(cls, reason: str, **kw: Any) -> "FitnessRecord":
        return cls(fitness=-math.inf, status=REJECTED, reason=reason, **kw)

    @classmethod
    def failed(cls, reason: str, **kw: Any) -> "FitnessRecord":
        return cls(fitness=-math.inf, status=FAILED, reason=reason, **kw)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        # JSON has no infinities: store them as strings so a run file stays standard JSON.
        if not math.isfinite(d["fitness"]):
            d["fitness"] = str(d["fitness"])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "FitnessRecord":
        d = dict(d)
        d["fitness"] = float(d["fitness"])
        return cls(**d)


def registered_function(func: Any) -> Any:
    """The function a ``toolbox.map`` is asked to apply, unwrapped: DEAP's ``Toolbox.register``
    wraps every function in a ``functools.partial`` without arguments, and an evaluator that
    scores a batch in one call (``batch_children``) must recognise itself through it."""
    while isinstance(func, functools.partial) and not func.args and not func.keywords:
        func = func.func
    return func
