"""The transfer suite's unit of work, in a form an executor can send to a worker.

One :class:`TransferJob` is one (task, optimizer) entry of the suite: every seed and learning rate
of the optimizer on the task, trained as one batched ensemble by
:func:`gp_opt.transfer.ensemble.train_members`. It holds only picklable values -- the task (a
frozen dataclass: its class and its fields), the optimizer as an :class:`OptimizerSpec` (a torch
baseline's name, a genome, or a module-level factory), the seeds, the grid, the path and the torch
thread count -- and :func:`run_job` turns it into plain records (dicts of numbers) on the worker.
Nothing on the worker writes a file: the driver saves the records (``progress.jsonl``) and the
tables.

>>> from gp_opt.transfer.registry import get_task
>>> job = TransferJob(get_task("wine", steps=10), OptimizerSpec.baseline("SGD"), seeds=(0,), lrs=(0.1,))
>>> out = run_job(job)
>>> [(r["seed"], r["lr"], r["status"]) for r in out["runs"]]
[(0, 0.1, 'ok')]
"""
from __future__ import annotations

import pickle
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from gp_opt.errors import GpOptError
from gp_opt.transfer.ensemble import FactoryStepper, GenomeStepper, Stepper, TorchStepper, train_members

__all__ = ["OptimizerSpec", "TransferJob", "run_job", "check_shippable", "ShippingError", "baselines"]


class ShippingError(GpOptError):
    """A task or optimizer that cannot be sent to an executor's workers (pickle cannot carry it)."""


def baselines() -> dict[str, tuple[type, dict[str, Any]]]:
    """The stock torch optimizers (the surrogate's baselines) as (class, keyword arguments), by
    lower-case name."""
    import torch

    return {
        "adam": (torch.optim.Adam, {}),
        "adamw": (torch.optim.AdamW, {}),
        "sgd": (torch.optim.SGD, {}),
        "momentum": (torch.optim.SGD, {"momentum": 0.9}),
        "nesterov": (torch.optim.SGD, {"momentum": 0.9, "nesterov": True}),
        "rmsprop": (torch.optim.RMSprop, {}),
    }


@dataclass(frozen=True)
class OptimizerSpec:
    """``spec() -> Stepper``: what the suite trains an entry with, as picklable data instead of a
    closure. ``kind`` is ``baseline`` (``value``: the lower-case name of :func:`baselines`),
    ``genome`` (``value``: the genome; it pickles with its grammar) or ``factory`` (``value``: a
    surrogate-style optimizer factory; picklable when defined at the top level of a module)."""

    kind: str
    value: Any
    label: str

    @classmethod
    def baseline(cls, name: str, label: str | None = None) -> "OptimizerSpec":
        key = name.lower()
        if key not in baselines():
            raise GpOptError(f"{name!r} is not a torch baseline ({', '.join(baselines())})")
        return cls("baseline", key, label or name)

    def __call__(self) -> Stepper:
        if self.kind == "baseline":
            optimizer_class, kwargs = baselines()[self.value]
            return TorchStepper(optimizer_class, label=self.label, **kwargs)
        if self.kind == "genome":
            return GenomeStepper(self.value, label=self.label)
        if self.kind == "factory":
            return FactoryStepper(self.value, label=self.label)
        raise GpOptError(f"unknown optimizer kind {self.kind!r}")

    def relabelled(self, label: str) -> "OptimizerSpec":
        return OptimizerSpec(self.kind, self.value, label)


@dataclass(frozen=True)
class TransferJob:
    """One (task, optimizer) entry: ``seeds`` x ``lrs`` members, trained on the worker with
    ``threads`` torch CPU threads (the driver's, so a worker computes what the driver would)."""

    task: Any
    optimizer: OptimizerSpec
    seeds: tuple[int, ...]
    lrs: tuple[float, ...]
    batched: bool = True
    threads: int | None = None

    def describe(self) -> str:
        return f"{getattr(self.task, 'name', 'task')} x {self.optimizer.label}"


def run_job(job: TransferJob) -> dict[str, Any]:
    """Train one entry (on whichever process runs it) and return ``{"runs": [...], "seconds": s}``:
    the members' records as :func:`~gp_opt.transfer.ensemble.train_members` gives them, and the
    wall time of the training."""
    import torch

    if job.threads is not None and torch.get_num_threads() != job.threads:
        torch.set_num_threads(job.threads)
    t0 = time.perf_counter()
    runs = train_members(job.task, job.optimizer(), seeds=list(job.seeds), lrs=list(job.lrs), batched=job.batched)
    return {"runs": runs, "seconds": time.perf_counter() - t0}


def check_shippable(tasks: Sequence[Any], optimizers: Sequence[OptimizerSpec],
                    dumps: Callable[[Any], bytes] = pickle.dumps) -> None:
    """Raise :class:`ShippingError` (one line) for the first task or optimizer that Python's pickle
    cannot carry to a worker -- a Task class defined inside a function, a lambda factory. A task
    pickles as its class (by module and name, imported again on the worker) and its fields, so a
    task class at the top level of an importable module goes anywhere that module is installed."""
    for task in tasks:
        try:
            dumps(task)
        except Exception as exc:  # noqa: BLE001 - pickle raises PicklingError, AttributeError, TypeError...
            cls = type(task)
            raise ShippingError(
                f"transfer task {getattr(task, 'name', '?')!r} cannot go to an executor: its "
                f"{cls.__module__}.{cls.__qualname__} cannot be pickled ({_first_line(exc)}); define the "
                "Task class at the top level of an importable module, or run without --executor") from None
    for spec in optimizers:
        try:
            dumps(spec)
        except Exception as exc:  # noqa: BLE001
            raise ShippingError(
                f"optimizer {spec.label!r} cannot go to an executor: it cannot be pickled "
                f"({_first_line(exc)}); use a baseline name, a catalog name, a genome file or a "
                "factory defined at the top level of a module, or run without --executor") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
