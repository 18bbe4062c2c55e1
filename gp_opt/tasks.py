"""Cheap CPU fitness tasks for tests and demos.

Each task is a callable ``task(candidate) -> FitnessRecord`` with the same record shape the GPU
surrogate returns. ``candidate`` is either an optimizer genome (anything with ``to_json``; it is
trained with :class:`gp_opt.optim.EvolvedOptimizer`) or an *optimizer factory*
``factory(params, lr, total_steps) -> torch.optim.Optimizer`` (a torch baseline, see
:func:`torch_factory`). Both go through the same training loop.

A task trains once per learning rate of a small grid and keeps the best score; higher is better.
NaN/inf (or any exception inside the training) makes that learning rate a failed stage; when every
learning rate fails the record is :meth:`FitnessRecord.failed` -- a task never raises for a bad
candidate. Every run seeds its own torch generator inside ``torch.random.fork_rng`` so that an
evaluation is a pure function of the candidate and leaves the global RNG untouched (the search
relies on this to replay a killed run exactly).

>>> import torch
>>> rec = get_task("quadratic", steps=20)(torch_factory(torch.optim.Adam))
>>> rec.status, rec.fitness > 0
('ok', True)
"""
from __future__ import annotations

import abc
import functools
import math
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable

import numpy as np
import torch

from .errors import GpOptError
from .fitness import FitnessRecord

OptimizerFactory = Callable[[Iterable[torch.Tensor], float, int], torch.optim.Optimizer]

#: the default learning-rate grid (a coarse version of the surrogate's 7-rate screen)
DEFAULT_LRS = (1.0, 0.1, 0.01, 0.001)


# ---------------------------------------------------------------------------------------------
# optimizer factories


def torch_factory(cls: type, **kwargs: Any) -> OptimizerFactory:
    """A factory for a torch optimizer class, e.g. ``torch_factory(torch.optim.SGD, momentum=0.9)``."""

    def make(params: Iterable[torch.Tensor], lr: float, total_steps: int) -> torch.optim.Optimizer:
        return cls(params, lr=lr, **kwargs)

    make.__name__ = f"{cls.__name__}_factory"
    return make


def evolved_factory(genome: Any, warmup_steps: int = 0, hold_steps: int = 0) -> OptimizerFactory:
    """A factory training ``genome`` with ``gp_opt.optim.EvolvedOptimizer`` (imported lazily)."""

    def make(params: Iterable[torch.Tensor], lr: float, total_steps: int) -> torch.optim.Optimizer:
        from .optim import EvolvedOptimizer  # lazy: the optimizer package is optional for tasks

        return EvolvedOptimizer(params, genome, lr, total_steps, warmup_steps=warmup_steps,
                                hold_steps=hold_steps)

    return make


def as_factory(candidate: Any) -> OptimizerFactory:
    """A genome (has ``to_json``) becomes an evolved-optimizer factory; a callable is a factory."""
    if hasattr(candidate, "to_json"):
        return evolved_factory(candidate)
    if callable(candidate):
        return candidate
    raise GpOptError(f"a task needs a genome or an optimizer factory, got {type(candidate).__name__}")


def _finite_or_str(x: float) -> float | str:
    return float(x) if math.isfinite(x) else str(float(x))


# ---------------------------------------------------------------------------------------------
# the task base


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


def _run_loop(params: list[torch.Tensor], factory: OptimizerFactory, lr: float, steps: int,
              loss_fn: Callable[[int], torch.Tensor]) -> tuple[bool, int]:
    """Train ``steps`` steps; returns (finished without NaN/inf, steps run)."""
    opt = factory(params, lr, steps)
    for t in range(steps):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(t)
        if not torch.isfinite(loss):
            return False, t
        loss.backward()
        opt.step()
        if not all(bool(torch.isfinite(p).all()) for p in params):
            return False, t + 1
    return True, steps


def _neg_log10(loss: float) -> float:
    if not math.isfinite(loss):
        return -math.inf
    return -math.log10(max(loss, 1e-12))


@dataclass(frozen=True)
class NoisyQuadratic(Task):
    """``f(x) = 1/2 sum_i lambda_i (x_i - c_i)^2``, eigenvalues log-spaced over ``condition``, plus
    Gaussian gradient noise of std ``noise``. Score: ``-log10`` of the final noiseless loss."""

    name: str = "quadratic"
    dim: int = 20
    condition: float = 100.0
    noise: float = 0.05
    steps: int = 100

    def _train(self, factory: OptimizerFactory, lr: float) -> tuple[float, dict[str, Any]]:
        gen = torch.Generator().manual_seed(self.seed)
        lam = torch.logspace(0, math.log10(self.condition), self.dim, dtype=torch.float64) / math.sqrt(self.condition)
        center = torch.randn(self.dim, generator=gen, dtype=torch.float64)
        x = torch.zeros(self.dim, dtype=torch.float64, requires_grad=True)
        noise = torch.randn(self.steps, self.dim, generator=gen, dtype=torch.float64) * self.noise

        def loss_fn(t: int) -> torch.Tensor:
            d = x - center
            return 0.5 * (lam * d * d).sum() + (noise[t] * x).sum()

        ok, ran = _run_loop([x], factory, lr, self.steps, loss_fn)
        with torch.no_grad():
            d = x - center
            final = float(0.5 * (lam * d * d).sum())
        if not ok or not math.isfinite(final):
            return -math.inf, {"steps_run": ran, "final_loss": final, "reason": "NaN/inf loss"}
        return _neg_log10(final), {"steps_run": ran, "final_loss": final}


@dataclass(frozen=True)
class Rosenbrock(Task):
    """The 2-D Rosenbrock valley from (-1.5, 2). Score: ``-log10`` of the final loss."""

    name: str = "rosenbrock"
    steps: int = 200
    lrs: tuple[float, ...] = (0.1, 0.01, 0.001, 0.0001)

    def _train(self, factory: OptimizerFactory, lr: float) -> tuple[float, dict[str, Any]]:
        xy = torch.tensor([-1.5, 2.0], dtype=torch.float64, requires_grad=True)

        def loss_fn(t: int) -> torch.Tensor:
            return (1 - xy[0]) ** 2 + 100 * (xy[1] - xy[0] ** 2) ** 2

        ok, ran = _run_loop([xy], factory, lr, self.steps, loss_fn)
        with torch.no_grad():
            final = float(loss_fn(0))
        if not ok or not math.isfinite(final):
            return -math.inf, {"steps_run": ran, "final_loss": final, "reason": "NaN/inf loss"}
        return _neg_log10(final), {"steps_run": ran, "final_loss": final}


@functools.lru_cache(maxsize=4)
def _digits(seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = x.astype(np.float32)
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    n_val = len(x) // 5
    mean, std = x[n_val:].mean(0), x[n_val:].std(0) + 1e-3
    x = (x - mean) / std
    t = torch.from_numpy
    return t(x[n_val:]), t(y[n_val:]).long(), t(x[:n_val]), t(y[:n_val]).long()


#: what :class:`Digits` can score
DIGITS_METRICS = ("val_acc", "val_loss")


@dataclass(frozen=True)
class Digits(Task):
    """A tiny MLP (64-``hidden``-10, tanh; ``hidden=0`` is logistic regression) on scikit-learn's
    bundled 8x8 digits, minibatches of ``batch``. Score (``metric``): ``val_acc``, the final
    validation accuracy in [0, 1], or ``val_loss``, minus the final validation cross-entropy (the
    grid keeps the best rate, so the fitness is minus the lowest loss over the grid). The loss
    resolves optimizers the accuracy ties (360 validation images: accuracy moves in steps of
    1/360); see docs/surrogate.md, "Choosing the search fitness"."""

    name: str = "digits"
    hidden: int = 32
    batch: int = 64
    steps: int = 150
    metric: str = "val_acc"

    def __post_init__(self) -> None:
        if self.metric not in DIGITS_METRICS:
            raise GpOptError(f"task {self.name!r}: metric {self.metric!r} is not one of {', '.join(DIGITS_METRICS)}")

    def _train(self, factory: OptimizerFactory, lr: float) -> tuple[float, dict[str, Any]]:
        xtr, ytr, xva, yva = _digits(self.seed)
        gen = torch.Generator().manual_seed(self.seed)
        if self.hidden:
            model = torch.nn.Sequential(torch.nn.Linear(64, self.hidden), torch.nn.Tanh(),
                                        torch.nn.Linear(self.hidden, 10))
        else:
            model = torch.nn.Linear(64, 10)
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * (0.1 if p.dim() == 1 else 1 / math.sqrt(p.shape[-1])))
        idx = torch.randint(0, len(xtr), (self.steps, self.batch), generator=gen)
        params = list(model.parameters())

        def loss_fn(t: int) -> torch.Tensor:
            b = idx[t]
            return torch.nn.functional.cross_entropy(model(xtr[b]), ytr[b])

        ok, ran = _run_loop(params, factory, lr, self.steps, loss_fn)
        if not ok:
            return -math.inf, {"steps_run": ran, "reason": "NaN/inf loss or weights"}
        with torch.no_grad():
            logits = model(xva)
            val_loss = float(torch.nn.functional.cross_entropy(logits, yva))
            acc = float((logits.argmax(1) == yva).float().mean())
        if not math.isfinite(val_loss):
            return -math.inf, {"steps_run": ran, "reason": "NaN/inf validation loss"}
        score = -val_loss if self.metric == "val_loss" else acc
        return score, {"steps_run": ran, "val_loss": val_loss, "val_accuracy": acc}


def surrogate(preset: str = "smoke", batch_children: bool = False, **overrides: Any):
    """The paper's fitness protocol (:mod:`gp_opt.surrogate`) as a search task.

    ``preset`` is ``smoke`` (digits, tiny ConvNet, CPU) or ``paper`` (SPEC section 6 on CIFAR-10);
    ``overrides`` set any :class:`~gp_opt.surrogate.SurrogateConfig` field (``dataset``,
    ``data_dir``, ``base``...). ``batch_children`` trains all the children of a time step in shared
    ensembles (the search then maps through the evaluator): much faster on a GPU, but a child's
    numbers then depend on float summation order within its batch, so a resumed run may differ
    from an uninterrupted one in the last bits.
    """
    from .surrogate import SurrogateConfig, make_evaluator  # lazy: tasks stay light to import

    evaluator = make_evaluator(SurrogateConfig.preset(preset, **overrides))
    evaluator.batch_children = bool(batch_children)
    return evaluator


TASKS: dict[str, Callable[..., Any]] = {
    "surrogate": surrogate,
    "quadratic": NoisyQuadratic,
    "rosenbrock": Rosenbrock,
    "digits": Digits,
    "logreg-digits": functools.partial(Digits, name="logreg-digits", hidden=0),
}


def task_names() -> list[str]:
    return sorted(TASKS)


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


#: task options that wrap any task rather than set one of its fields (gp_opt.seeded)
SEED_OPTIONS = ("fitness_seeds", "fitness_baseline")


def get_task(name: str, **options: Any) -> Task:
    """The task called ``name`` (or ``module:attribute``, see :func:`custom_task`); ``options``
    override its fields (``steps``, ``lrs``, ``seed``...). ``fitness_seeds=K`` and
    ``fitness_baseline=NAME`` wrap it in :class:`gp_opt.seeded.SeededFitness`: the mean over K
    evaluation seeds, minus NAME's score on the same seeds."""
    k = options.pop("fitness_seeds", None)
    if k is None:
        k = default_fitness_seeds(name, options)
    baseline = options.pop("fitness_baseline", None)
    if is_multitask(name):
        task = _multitask(name, options)
    elif isinstance(name, str) and ":" in name:
        task = custom_task(name, **options)
    else:
        try:
            make = TASKS[name]
        except (KeyError, TypeError):
            raise GpOptError(f"unknown task {name!r}; known tasks: {', '.join(task_names())}") from None
        try:
            task = make(**options)
        except TypeError as exc:
            raise GpOptError(f"bad option for task {name!r}: {exc}") from None
    from .seeded import SeededFitness, check_fitness_seeds  # lazy: only runs that ask for it

    check_fitness_seeds(k)
    if k == 1 and baseline is None:
        return task
    candidate = None
    if baseline is not None:
        candidate = (NamedOptimizer(str(baseline)) if is_multitask(name)
                     else reference_optimizer(str(baseline), surrogate=wants_names(task)))
    return SeededFitness(task, k, candidate, None if baseline is None else str(baseline))


#: the evaluation seeds a candidate's fitness averages by default, per surrogate preset: the digits
#: preset's single run told optimizers apart at a seed-blocked ratio of 0.8 (Kendall tau 0.79 over
#: seed halves); the mean of 3 seeds, the rate chosen on the first, at 2.2 and 0.71 for twice the
#: CPU (docs/surrogate.md, "Choosing the search fitness")
PRESET_FITNESS_SEEDS = {"digits": 3}


def default_fitness_seeds(name: Any, options: dict[str, Any]) -> int:
    """1, or the surrogate preset's number of fitness seeds (:data:`PRESET_FITNESS_SEEDS`)."""
    if name == "surrogate":
        return PRESET_FITNESS_SEEDS.get(options.get("preset", "smoke"), 1)
    return 1


def is_multitask(name: Any) -> bool:
    """``surrogate+digits``: several tasks scored together (:mod:`gp_opt.multitask`)."""
    return isinstance(name, str) and "+" in name and ":" not in name


def _multitask(name: str, options: dict[str, Any]) -> Any:
    from .multitask import DEFAULT_PANEL, DEFAULT_REFERENCE, MultiTaskFitness, split_options

    names, per_task, rule = split_options(name, options, task_names())
    tasks = {n: get_task(n, **per_task[n]) for n in names}
    rule_name = rule.get("multitask_rule", "relative")
    if rule_name == "rank":
        panel = rule.get("multitask_panel", DEFAULT_PANEL)
        refs = [p.strip() for p in panel.split(",")] if isinstance(panel, str) else [str(p) for p in panel]
    else:
        refs = [str(rule.get("multitask_reference", DEFAULT_REFERENCE))]
    for r in refs:
        check_reference_name(r)
    references = {n: {r: reference_optimizer(r, surrogate=wants_names(t)) for r in refs} for n, t in tasks.items()}
    return MultiTaskFitness(tasks, rule_name, references, resolve=_resolve_named)


def _resolve_named(candidate: Any, task: Any) -> Any:
    """A :class:`NamedOptimizer` as ``task`` takes it; anything else as it is."""
    if isinstance(candidate, NamedOptimizer):
        return reference_optimizer(candidate.name, surrogate=wants_names(task))
    return candidate


def wants_names(task: Any) -> bool:
    """Whether ``task`` takes stock optimizers by name (the surrogate) rather than as factories."""
    return hasattr(task, "for_initial_population") and not hasattr(task, "fitness_seeds")


@dataclass(frozen=True)
class NamedOptimizer:
    """A stock or catalog optimizer by name, for an evaluator that resolves it per task (a
    multi-task fitness: the surrogate takes names, a cheap task factories)."""

    name: str


# ---------------------------------------------------------------------------------------------
# reference optimizers by name, as candidates of any task

#: stock torch optimizers by lower-case name: (surrogate baseline name, torch.optim class, keyword arguments)
STOCK_OPTIMIZERS = {
    "adam": ("adam", "Adam", {}),
    "sgd": ("sgd", "SGD", {}),
    "momentum": ("momentum", "SGD", {"momentum": 0.9}),
    "nesterov": ("nesterov", "SGD", {"momentum": 0.9, "nesterov": True}),
    "rmsprop": ("rmsprop", "RMSprop", {}),
}

#: short names of catalog entries
CATALOG_ALIASES = {"powersign": "PowerSign-ld", "addsign": "AddSign-ld"}


def check_reference_name(name: str) -> None:
    """``name`` is a stock optimizer or a catalog name, else one GpOptError line."""
    if name.lower() in STOCK_OPTIMIZERS:
        return
    from . import catalog

    if CATALOG_ALIASES.get(name.lower(), name) not in catalog.names():
        raise GpOptError(f"unknown optimizer {name!r}: use a stock name ({', '.join(sorted(STOCK_OPTIMIZERS))}) "
                         "or a catalog name (gp-opt catalog)")


def reference_optimizer(name: str, surrogate: bool) -> Any:
    """What a task evaluates for the optimizer called ``name``: a stock torch optimizer (Adam, SGD,
    Momentum, Nesterov, RMSProp) or a catalog name. For the surrogate a baseline name or a catalog
    genome; for a cheap task a torch optimizer factory or a catalog genome. Unknown: GpOptError."""
    stock = STOCK_OPTIMIZERS.get(name.lower())
    if stock is not None:
        return stock[0] if surrogate else torch_factory(getattr(torch.optim, stock[1]), **stock[2])
    from . import catalog  # lazy: the catalog pulls in sympy

    check_reference_name(name)
    return catalog.get(CATALOG_ALIASES.get(name.lower(), name))
