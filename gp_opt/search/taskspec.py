"""What a run records of a fitness given from Python (issue 21): ``run_search`` takes a task name,
``module:attribute``, a :class:`gp_opt.tasks.Task` (class or instance) or any callable. One that
can be imported again by name is recorded as its ``module:attribute`` spec (with a Task's fields
as task options), so the run resumes from the command line like any ``--task module:attr`` run;
one that cannot (a lambda, a function of ``__main__`` or a closure) is recorded as a Python
callable, and a later resume without ``toolbox=`` is refused with a line saying how."""
from __future__ import annotations

import dataclasses
import json
from typing import Any

from ..errors import GpOptError

#: how run.json names a fitness that cannot be imported by name: ``python callable NAME``
CALLABLE_PREFIX = "python callable "


def callable_name(fn: Any) -> str:
    """A readable name of ``fn`` (for run.json and messages)."""
    name = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    module = getattr(fn, "__module__", None) or type(fn).__module__
    return f"{module}.{name}" if module else str(name)


def importable_spec(obj: Any) -> str | None:
    """``module:qualname`` naming ``obj`` itself, or None where importing that name would not give
    ``obj`` back (``__main__``, a lambda, a closure, a copy)."""
    import importlib

    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not module or not qualname or module == "__main__" or "<" in qualname:
        return None
    try:
        found: Any = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
    except Exception:  # noqa: BLE001 - any failure means: not importable by this name
        return None
    return f"{module}:{qualname}" if found is obj else None


def task_spec(task: Any, task_options: dict[str, Any] | None) -> tuple[str | None, dict[str, Any]]:
    """``(spec, options)`` that rebuild ``task`` through :func:`gp_opt.tasks.get_task`, or
    ``(None, task_options)`` when there is no such spec. A Task instance is named by its class
    with the fields that differ from its defaults as options (when they are JSON and rebuild an
    equal task)."""
    from ..tasks import Task

    options = dict(task_options or {})
    spec = importable_spec(task)
    if spec is not None:
        return spec, options
    if isinstance(task, Task) and dataclasses.is_dataclass(task):
        cls_spec = importable_spec(type(task))
        # the fields that differ from the class's defaults ('name' is get_task's own argument)
        fields = {f.name: getattr(task, f.name) for f in dataclasses.fields(task)
                  if f.init and f.name != "name" and getattr(task, f.name) != _default(f)}
        try:
            json.dumps(fields, allow_nan=False)
            same = type(task)(**fields) == task
        except (TypeError, ValueError):
            same = False
        if cls_spec is not None and same:
            return cls_spec, {**fields, **options}
    return None, options


def _default(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def check_json(config: dict[str, Any]) -> None:
    """Refuse, before anything is written, a run config that is not strict JSON (naming the key)."""
    for key, value in config.items():
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise GpOptError(f"run_search: the run's {key!r} cannot be recorded in run.json ({exc}); "
                             f"pass JSON values (numbers, strings, lists, dicts)") from None


def refuse_resume(out_dir: Any, toolbox_config: dict[str, Any]) -> GpOptError:
    """The one line that refuses to resume a run whose fitness was a Python callable."""
    from ..errors import CheckpointError

    name = toolbox_config.get("callable") or "a custom evaluate function"
    return CheckpointError(
        f"{out_dir}: the run's fitness is a Python callable ({name}) that cannot be imported by name, so "
        f"it cannot be resumed from the command line; resume it from Python with the same fitness: "
        f"resume_search({str(out_dir)!r}, toolbox=make_toolbox(fitness, ...))")
