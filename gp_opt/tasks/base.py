"""The task base: :class:`Task` scores a candidate over a learning-rate grid, one seeded training per
rate, a failed rate a failed stage, never an exception."""
from __future__ import annotations

import abc
import math
import time
from dataclasses import dataclass, replace
from typing import Any

import torch

from ..errors import GpOptError
from ..fitness import FitnessRecord
from .factories import OptimizerFactory, as_factory

#: the default learning-rate grid (a coarse version of the surrogate's 7-rate screen)
DEFAULT_LRS = (1.0, 0.1, 0.01, 0.001)


def _finite_or_str(x: float) -> float | str:
    return float(x) if math.isfinite(x) else str(float(x))


@dataclass(frozen=True)
class Task(abc.ABC):
    """A cheap fitness task. Subclasses implement :meth:`_train` for one learning rate."""

    name: str = "task"
    lrs: tuple[float, ...] = DEFAULT_LRS
    steps: int = 100
    seed: int = 0

    def __call__(self, candidate: Any, seed: int | None = None) -> FitnessRecord:
        """Score ``candidate``; ``seed`` (None: the task's ``seed`` field) sets everything random
        in the evaluation (the data split, initial weights, batches, noise), so the search can
        score each candidate on its own evaluation seed. The record's ``extra['seed']`` says which."""
        if seed is not None and int(seed) != self.seed:
            return replace(self, seed=int(seed))(candidate)
        t0 = time.perf_counter()
        try:
            factory = as_factory(candidate)
        except GpOptError as exc:
            return FitnessRecord.failed(str(exc), seconds=time.perf_counter() - t0)
        stages: list[dict[str, Any]] = []
        best: tuple[float, float] | None = None  # (score, lr)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # tiny tensors: one thread is faster and immune to a busy machine
        try:
            self._grid(factory, stages)
        finally:
            torch.set_num_threads(threads)
        for stage in stages:
            if stage["status"] == "ok" and (best is None or stage["score"] > best[0]):
                best = (stage["score"], stage["lr"])
        seconds = time.perf_counter() - t0
        if best is None:
            return FitnessRecord.failed(f"{self.name}: NaN/inf or error at every learning rate",
                                        stages=stages, seconds=seconds, extra={"task": self.name, "seed": self.seed})
        return FitnessRecord(fitness=float(best[0]), stages=stages, best_lr=best[1], seconds=seconds,
                             extra={"task": self.name, "seed": self.seed})

    def _grid(self, factory: OptimizerFactory, stages: list[dict[str, Any]]) -> None:
        for lr in self.lrs:
            st = time.perf_counter()
            try:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(self.seed)
                    score, info = self._train(factory, float(lr))
                status = "ok" if math.isfinite(score) else "failed"
                reason = None if status == "ok" else info.pop("reason", "NaN/inf")
            except Exception as exc:  # noqa: BLE001 - a bad candidate must never crash the search
                score, info, status, reason = -math.inf, {}, "failed", f"{type(exc).__name__}: {exc}"
            stage = {"lr": float(lr), "status": status, "score": _finite_or_str(score),
                     "seconds": time.perf_counter() - st}
            stage.update({k: (_finite_or_str(v) if isinstance(v, float) else v) for k, v in info.items()})
            if reason:
                stage["reason"] = reason
            stages.append(stage)

    def with_options(self, **kw: Any) -> "Task":
        return replace(self, **kw)

    def at_rate(self, lr: float) -> "Task":
        """This task with its grid cut to the one rate ``lr`` (a rate chosen on another seed)."""
        return replace(self, lrs=(float(lr),))

    @abc.abstractmethod
    def _train(self, factory: OptimizerFactory, lr: float) -> tuple[float, dict[str, Any]]:
        """Train once at ``lr``; return (score, info) -- score higher is better, -inf for NaN/inf."""
