"""Transfer tasks by name, and a user's own: :func:`register_task` or ``module:attribute``.

>>> sorted(task_names())[:3]
['breast-cancer', 'charlm', 'cifar10-convnet']
>>> get_task("diabetes", steps=10).steps
10
"""
from __future__ import annotations

import functools
from typing import Any, Callable

from gp_opt.errors import GpOptError
from gp_opt.transfer.task import Task
from gp_opt.transfer.tasks import CharLM, CifarConvNet, DigitsMLP, Tabular

#: name -> a callable building the task from keyword options (its dataclass fields)
TASKS: dict[str, Callable[..., Task]] = {
    "digits-mlp": DigitsMLP,
    "charlm": CharLM,
    "diabetes": functools.partial(Tabular, name="diabetes", dataset="diabetes"),
    "breast-cancer": functools.partial(Tabular, name="breast-cancer", dataset="breast_cancer"),
    "wine": functools.partial(Tabular, name="wine", dataset="wine"),
    "cifar10-convnet": functools.partial(CifarConvNet, name="cifar10-convnet", dataset="cifar10"),
    "cifar100-convnet": functools.partial(CifarConvNet, name="cifar100-convnet", dataset="cifar100"),
}

#: what ``gp-opt transfer`` runs without ``--tasks`` (the CPU tasks; CIFAR needs --data-dir)
DEFAULT_TASKS = ("digits-mlp", "charlm", "diabetes", "breast-cancer")
GPU_TASKS = ("cifar10-convnet", "cifar100-convnet")


def register_task(name: str, make: Callable[..., Task]) -> None:
    """Make ``make(**options)`` (a :class:`Task` subclass or a function returning a Task) available
    as ``name`` to :func:`get_task` and ``gp-opt transfer --tasks`` (in the same process)."""
    if not isinstance(name, str) or not name or ":" in name:
        raise GpOptError(f"a transfer task name must be a non-empty string without ':', got {name!r}")
    TASKS[name] = make


def task_names() -> list[str]:
    return sorted(TASKS)


def get_task(spec: "str | Task", **options: Any) -> Task:
    """A registered name, ``module:attribute`` (importable from the working directory; the
    attribute is a Task subclass, a Task, or a function returning one) or a Task itself;
    ``options`` override its fields."""
    if isinstance(spec, Task):
        return spec.with_options(**options) if options else spec
    if not isinstance(spec, str):
        raise GpOptError(f"a transfer task is a name or a Task, got {type(spec).__name__}")
    if ":" in spec:
        from gp_opt.tasks import import_attribute

        obj = import_attribute(spec)
        make: Callable[..., Any] = obj if not isinstance(obj, Task) else (lambda **kw: obj.with_options(**kw) if kw else obj)
    else:
        try:
            make = TASKS[spec]
        except KeyError:
            raise GpOptError(f"unknown transfer task {spec!r}; known: {', '.join(task_names())} "
                             "(or module:attribute)") from None
    try:
        task = make(**options)
    except TypeError as exc:
        raise GpOptError(f"bad option for transfer task {spec!r}: {exc}") from None
    if not isinstance(task, Task):
        raise GpOptError(f"transfer task {spec!r} is a {type(task).__name__}, not a gp_opt.transfer.Task")
    return task
