"""A user's fitness as a task: ``module:attribute`` naming a Task subclass, a Task or a plain function."""
from __future__ import annotations

import math
import time
from typing import Any, Callable

import torch

from ..errors import GpOptError
from ..fitness import FitnessRecord
from .base import Task


def import_attribute(spec: str) -> Any:
    """``module.path:attribute`` imported, with the working directory importable (as ``python -m``
    has it; the ``gp-opt`` script does not). One-line :class:`GpOptError` on any failure."""
    import importlib
    import os
    import sys

    module, sep, attr = spec.partition(":")
    if not sep or not module or not attr:
        raise GpOptError(f"custom task {spec!r}: expected module:attribute, e.g. mypkg.tasks:my_task")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        obj = importlib.import_module(module)
    except ImportError as exc:
        raise GpOptError(f"custom task {spec!r}: cannot import {module!r}: {exc}") from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise GpOptError(f"custom task {spec!r}: module {module!r} has no attribute {attr!r}") from None
    return obj


class FunctionTask:
    """A user's fitness function ``fn(genome) -> FitnessRecord | float`` as a task: a float
    becomes a record (NaN/inf: failed), an exception a failed record -- like every task, it
    never raises for a bad candidate.

    It runs with ``threads`` torch threads (default 1, as the built-in tasks run; None: torch's
    setting as it is), the old number restored after. Small models train many times slower with
    several intra-op threads on a machine whose cores are busy (the search's own work, pool
    workers, other jobs): 100 steps of a 32-64-2 MLP took 30x longer with 2 threads than with 1
    on a shared 2-core machine (benchmarks/custom_fitness_threads.py). A fitness that trains a
    large model can ask for more (``--set threads=N``, ``FunctionTask(fn, name, threads=N)``).
    """

    def __init__(self, fn: Callable[[Any], Any], name: str, threads: int | None = 1):
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise GpOptError(f"task {name!r}: threads must be a whole number >= 1, got {threads!r}")
        self.fn, self.name, self.threads = fn, name, threads

    def __call__(self, candidate: Any) -> FitnessRecord:
        old = torch.get_num_threads()
        pin = self.threads is not None and self.threads != old
        if pin:
            torch.set_num_threads(self.threads)
        try:
            return self._score(candidate)
        finally:
            if pin:
                torch.set_num_threads(old)

    def _score(self, candidate: Any) -> FitnessRecord:
        t0 = time.perf_counter()
        try:
            out = self.fn(candidate)
        except Exception as exc:  # noqa: BLE001 - a bad candidate must never crash the search
            return FitnessRecord.failed(f"{self.name}: {type(exc).__name__}: {exc}", seconds=time.perf_counter() - t0)
        if isinstance(out, FitnessRecord):
            return out
        try:
            value = float(out)
        except (TypeError, ValueError):
            return FitnessRecord.failed(f"{self.name} returned {type(out).__name__}, not a FitnessRecord or number",
                                        seconds=time.perf_counter() - t0)
        if not math.isfinite(value):
            return FitnessRecord.failed(f"{self.name}: fitness {value}", seconds=time.perf_counter() - t0)
        return FitnessRecord(fitness=value, seconds=time.perf_counter() - t0, extra={"task": self.name})


def custom_task(spec: str, **options: Any) -> Callable[[Any], FitnessRecord]:
    """The fitness named ``module:attribute``: a :class:`Task` subclass (built with ``options``),
    a Task (``options`` override its fields), or a function ``genome -> FitnessRecord | float``
    (no options). E.g. ``gp-opt search --task mypkg.tasks:my_task``."""
    obj = import_attribute(spec)
    if isinstance(obj, type) and issubclass(obj, Task):
        try:
            return obj(**options)
        except TypeError as exc:
            raise GpOptError(f"bad option for task {spec!r}: {exc}") from None
    if isinstance(obj, Task):
        try:
            return obj.with_options(**options) if options else obj
        except TypeError as exc:
            raise GpOptError(f"bad option for task {spec!r}: {exc}") from None
    if callable(obj):
        threads = options.pop("threads", 1)
        if options:
            raise GpOptError(f"task {spec!r} is a plain function: it takes no options but threads "
                             f"({', '.join(options)}); make it a gp_opt.tasks.Task subclass to have fields")
        return FunctionTask(obj, spec, threads=threads)
    raise GpOptError(f"task {spec!r} is a {type(obj).__name__}: expected a Task subclass, a Task or a function")
