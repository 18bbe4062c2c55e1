"""The toolbox contract: what the search calls, written as ``typing.Protocol`` classes (DEAP
registers these on a ``deap.base.Toolbox``; any object with the methods will do), and
:class:`Operators`, a toolbox resolved once, with the optional parts replaced by their defaults,
so that nothing else in the search asks a toolbox what it has."""
from __future__ import annotations

import collections
import inspect
from typing import Any, Callable, Iterable, Protocol, Sequence, runtime_checkable

import numpy as np

from ..errors import GpOptError
from ..fitness import FitnessRecord
from .candidate import Candidate, key_list, make_individual


@runtime_checkable
class Toolbox(Protocol):
    """What every toolbox has. ``mutate`` returns a child that is valid, passes the integrity
    check and whose key is not ``in history`` (raising :class:`GpOptError` when it finds none),
    adding to the counter ``tally`` (``integrity_rejections``, ``invalid``, ``duplicates``);
    ``evaluate`` returns a :class:`FitnessRecord` (a float is accepted) and never draws from the
    global RNGs; ``map`` is ordered (``Pool.imap``-like, lazy is best)."""

    def individual(self, rng: np.random.Generator) -> Any: ...

    def mutate(self, payload: Any, rng: np.random.Generator, history: Any,
               tally: collections.Counter) -> Any: ...

    def evaluate(self, payload: Any) -> FitnessRecord | float: ...

    def map(self, func: Callable[[Any], Any], iterable: Iterable[Any]) -> Iterable[Any]: ...


@runtime_checkable
class Keyed(Protocol):
    """Optional: the dedup key(s) of a payload (a str or a list of str: a hit on any is a hit).
    Without it nothing is cached."""

    def key(self, payload: Any) -> Any: ...


@runtime_checkable
class BatchKeyed(Protocol):
    """Optional: ``key`` of many payloads at once."""

    def key_many(self, payloads: list[Any]) -> list[Any]: ...


@runtime_checkable
class Serializing(Protocol):
    """Optional: payload <-> a JSON-able value (default: the payload itself)."""

    def serialize(self, payload: Any) -> Any: ...

    def deserialize(self, value: Any) -> Any: ...


@runtime_checkable
class BatchPopulation(Protocol):
    """Optional: ``n`` random payloads drawn together (default: ``individual`` n times)."""

    def population(self, rng: np.random.Generator, n: int, tally: collections.Counter) -> list[Any]: ...


@runtime_checkable
class BatchMutation(Protocol):
    """Optional: one child per request ``(payload, history)``, made together (children of requests
    sharing a history distinct from each other; a :class:`GpOptError` in place of a child for a
    parent without a valid new one). Default: ``mutate`` request by request."""

    def mutate_batch(self, requests: list[tuple[Any, Any]], rng: np.random.Generator,
                     tally: collections.Counter) -> list[Any]: ...


@runtime_checkable
class InitialEvaluate(Protocol):
    """Optional: the fitness of the initial population (e.g. the surrogate's smaller ConvNet)."""

    def evaluate_init(self, payload: Any) -> FitnessRecord | float: ...


@runtime_checkable
class Behavioural(Protocol):
    """Optional: behavioural distances between payloads, ``[C, C]`` (row: candidate, column:
    target; ``--distinct``, :mod:`.diversity`)."""

    def behaviour_distances(self, payloads: list[Any]) -> Any: ...


@runtime_checkable
class Neighbourhood(Protocol):
    """Optional: every payload one edit from ``payload`` that is valid, passes the screen and whose
    key is not ``in history`` (a finite list, for local search: ``--algorithm local``), counting
    rejections in ``tally`` as ``mutate`` does."""

    def neighbours(self, payload: Any, history: Any, tally: collections.Counter) -> list[Any]: ...


@runtime_checkable
class Stopping(Protocol):
    """Optional: ends the run early. Asked after each batch of evaluations about the freshly
    scored candidates (not cache hits or duplicates, whose record an earlier candidate had),
    until it answers: ``(i, reason)`` -- the ``i``-th of them ends the run, e.g. ``"solved
    (symbolic)"`` -- stops the run after the current generation (its checkpoint records the
    reason and the candidate, and a resumed run does not go on); None: carry on. Rediscovery
    stops a seed at its first solution this way."""

    def stop_when(self, payloads: list[Any], records: list[FitnessRecord]) -> tuple[int, str] | None: ...


def unwrapped(func: Any) -> Any:
    """``func`` without the ``functools.partial`` DEAP's ``register`` wraps it in."""
    return getattr(func, "func", func)


REQUIRED = ("individual", "mutate", "evaluate", "map")


class Operators:
    """A toolbox as the search uses it: checked against :class:`Toolbox` once, its optional parts
    (the protocols above) resolved once. ``init_from``: the warm-start payloads ``[(name,
    payload)]`` a toolbox may carry (:mod:`.warmstart`)."""

    def __init__(self, toolbox: Any):
        if not isinstance(toolbox, Toolbox):
            missing = [n for n in REQUIRED if not hasattr(toolbox, n)]
            raise GpOptError(f"the toolbox lacks {', '.join(missing)}")
        self.toolbox = toolbox
        # resolved once: an isinstance check against a runtime protocol costs ~70 us
        self.batch_mutate = toolbox.mutate_batch if isinstance(toolbox, BatchMutation) else None
        self._key = toolbox.key if isinstance(toolbox, Keyed) else None
        self._key_many = toolbox.key_many if isinstance(toolbox, BatchKeyed) else None
        serializing = isinstance(toolbox, Serializing)
        self._serialize = toolbox.serialize if serializing else None
        self._deserialize = toolbox.deserialize if serializing else None
        self._population = toolbox.population if isinstance(toolbox, BatchPopulation) else None
        self._evaluate_init = toolbox.evaluate_init if isinstance(toolbox, InitialEvaluate) else None
        self.behaviour_distances = toolbox.behaviour_distances if isinstance(toolbox, Behavioural) else None
        self.stop_when = toolbox.stop_when if isinstance(toolbox, Stopping) else None
        self.neighbours = toolbox.neighbours if isinstance(toolbox, Neighbourhood) else None
        if self._evaluate_init is not None and unwrapped(self._evaluate_init) is unwrapped(toolbox.evaluate):
            self._evaluate_init = None  # the same fitness: one scale (e.g. the surrogate's init_base None)
        self._takes_seed: dict[str, bool] = {}
        self.init_from: Sequence[tuple[str, Any]] = getattr(toolbox, "init_from", None) or ()

    def map(self, func: Callable[[Any], Any], items: list[Any]) -> Iterable[Any]:
        return self.toolbox.map(func, items)  # read each time: an executor installs its own

    def batched_map(self) -> bool:
        """Whether ``toolbox.map`` trains many candidates together (not the builtin ``map``)."""
        inner = getattr(self.toolbox.map, "inner", self.toolbox.map)  # an installed executor keeps it
        return getattr(inner, "func", inner) is not map  # deap's register wraps it in a partial

    def evaluator(self, phase: str) -> Callable[..., Any]:
        """The fitness of a candidate of ``phase`` (``init``: ``evaluate_init`` where there is one)."""
        if phase == "init" and self._evaluate_init is not None:
            return self._evaluate_init
        return self.toolbox.evaluate

    @property
    def two_scales(self) -> bool:
        """Whether the initial population has its own fitness (``evaluate_init``), so that its
        scores are on another scale than the children's (see :func:`.candidate.rank`)."""
        return self._evaluate_init is not None

    def takes_seed(self, phase: str) -> bool:
        """Whether the fitness of ``phase`` takes ``seed=`` (:func:`accepts_seed`, asked once each)."""
        which = "init" if phase == "init" and self._evaluate_init is not None else "evaluate"
        if which not in self._takes_seed:
            self._takes_seed[which] = accepts_seed(self.evaluator(phase))
        return self._takes_seed[which]

    def random(self, rng: np.random.Generator, n: int, tally: collections.Counter) -> list[Any]:
        if self._population is not None:
            return list(self._population(rng, n, tally))
        return [self.toolbox.individual(rng) for _ in range(n)]

    def mutate(self, payload: Any, rng: np.random.Generator, history: Any, tally: collections.Counter) -> Any:
        return self.toolbox.mutate(payload, rng, history, tally)

    def keys(self, payload: Any) -> list[str]:
        return key_list(self._key(payload)) if self._key is not None else []

    def keys_many(self, payloads: list[Any]) -> list[list[str]]:
        if self._key_many is None or not payloads:
            return [self.keys(p) for p in payloads]
        return [key_list(k) for k in self._key_many(list(payloads))]

    def serialize(self, payload: Any) -> Any:
        return self._serialize(payload) if self._serialize is not None else payload

    def deserialize(self, value: Any) -> Any:
        return self._deserialize(value) if self._deserialize is not None else value

    def to_dict(self, ind: Candidate) -> dict[str, Any]:
        """A candidate as the checkpoint holds it."""
        return {"individual": self.serialize(ind.payload), "key": ind.key,
                "record": ind.record.to_dict() if ind.record is not None else None, "meta": ind.meta}

    def from_dict(self, d: dict[str, Any]) -> Candidate:
        rec = FitnessRecord.from_dict(d["record"]) if d.get("record") is not None else None
        return make_individual(self.deserialize(d["individual"]), d.get("key"), rec, d.get("meta"))


def accepts_seed(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` takes the evaluation seed: ``fn(payload, seed=...)`` (a ``seed`` parameter or
    ``**kwargs``). The tasks of :mod:`gp_opt.tasks` and the surrogate evaluator do; a plain
    function ``fn(payload)`` is called without one."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "seed" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
