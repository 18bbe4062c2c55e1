"""Train every (seed, learning rate) of one optimizer on one task as one batched model.

The K members' parameters are stacked on a leading dimension (one leaf tensor per parameter
name, shape ``(K, ...)``); the task's one-member ``loss`` runs through :func:`torch.func.vmap`, so
a training step is one batched forward/backward instead of K. Members sharing a seed start from
the same weights and see the same minibatches (so learning rates are compared on equal terms);
the same seed gives the same weights and batches to every optimizer.

The optimizer steps the stacked parameters with one learning rate per member:

* a genome through :func:`gp_opt.optim.functional_step` (the functional ensemble API: dim 0 is the
  member dimension, one ``lr`` per member, ``norm`` per member) with the base one-cycle schedule
  and momentum schedule of SPEC section 1, exactly as :class:`~gp_opt.optim.EvolvedOptimizer`
  applies them (:class:`GenomeStepper`);
* a stock torch optimizer (or any optimizer factory) through one param group per member whose
  params are views of the member's slice of each stacked tensor (:class:`FactoryStepper`): the
  optimizer updates those views in place, i.e. the stacked tensors, with each group's own ``lr``.

A member whose loss turns NaN/inf is *failed* from that step on; the others go on (the members are
independent, so a failed one cannot contaminate them).

>>> import torch
>>> from gp_opt.transfer.tasks import Tabular
>>> from gp_opt.surrogate.baselines import BASELINES
>>> res = train_members(Tabular(dataset="wine", steps=30), FactoryStepper(BASELINES["adam"]),
...                     seeds=[0, 1], lrs=[0.01, 1e-4])
>>> [(r["seed"], r["lr"], r["status"]) for r in res]
[(0, 0.01, 'ok'), (0, 0.0001, 'ok'), (1, 0.01, 'ok'), (1, 0.0001, 'ok')]
"""
from __future__ import annotations

import abc
import math
import time
from typing import Any, Callable, Sequence

import torch

from gp_opt.optim.schedules import base_lr_factor, momentum_table

__all__ = ["Stepper", "GenomeStepper", "FactoryStepper", "TorchStepper", "train_members", "member_seeds"]


class Stepper(abc.ABC):
    """Steps stacked ``(K, ...)`` parameters from their ``.grad`` with one learning rate per member."""

    label: str = "optimizer"

    @abc.abstractmethod
    def start(self, params: list[torch.Tensor], lrs: torch.Tensor, total_steps: int, warmup_steps: int) -> None:
        """Called once before step 0 of a run."""

    @abc.abstractmethod
    def step(self, t: int) -> None:
        """Apply update ``t`` (0-based) to the parameters passed to :meth:`start`."""


class GenomeStepper(Stepper):
    """A genome stepped by the functional ensemble API, with SPEC section 1's schedules."""

    def __init__(self, genome: Any, label: str | None = None):
        from gp_opt.optim import functional_step

        self.genome = genome
        self.fs = functional_step(genome, ensemble=True)
        self.label = label or (genome.meta.get("name") if isinstance(getattr(genome, "meta", None), dict) else None) \
            or "genome"

    @property
    def surrogate_factory(self) -> Callable[..., torch.optim.Optimizer]:
        """The same genome as an :class:`~gp_opt.optim.EvolvedOptimizer` factory (for tasks trained
        by the surrogate's engine)."""
        from gp_opt.surrogate.protocol import genome_factory

        return genome_factory(self.genome)

    def start(self, params: list[torch.Tensor], lrs: torch.Tensor, total_steps: int, warmup_steps: int) -> None:
        self.params, self.lrs = params, lrs
        self.T, self.W = int(total_steps), int(warmup_steps)
        self.mus = momentum_table(self.T, self.W)
        self.decays = self.fs.compiled.decay_table(self.T) if self.fs.compiled.decays else None
        self.states = [self.fs.init_state(p.detach()) for p in params]

    @torch.no_grad()
    def step(self, t: int) -> None:
        lr_t = self.lrs * base_lr_factor(t, self.T, self.W)
        decays = self.decays[min(t, self.T - 1)] if self.decays is not None else []
        for p, state in zip(self.params, self.states):
            if p.grad is None:
                continue
            p.add_(self.fs(p.grad, p.detach(), state, t=t, lr=lr_t, mu=self.mus[min(t, self.T - 1)],
                           decays=decays))


class FactoryStepper(Stepper):
    """Any optimizer factory over one param group per member (member views of the stacked tensors).

    ``factory(param_groups, lr, total_steps, warmup_steps)`` (the surrogate's interface:
    :data:`gp_opt.surrogate.baselines.BASELINES`, ``genome_factory``), which applies the base
    schedule itself; with ``schedule=False`` it is a :mod:`gp_opt.tasks` factory
    ``factory(param_groups, lr, total_steps)`` called as is.
    """

    def __init__(self, factory: Callable[..., torch.optim.Optimizer], schedule: bool = True,
                 label: str | None = None):
        self.factory, self.schedule = factory, schedule
        self.surrogate_factory = factory if schedule else None
        self.label = label or getattr(factory, "label", getattr(factory, "__name__", "optimizer"))

    def start(self, params: list[torch.Tensor], lrs: torch.Tensor, total_steps: int, warmup_steps: int) -> None:
        self.params = params
        k = int(lrs.shape[0])
        # views of member k's slice: leaves (no autograd history), updated in place by the optimizer
        self.views = [[p.detach()[i] for p in params] for i in range(k)]
        groups = [{"params": v, "lr": float(lr)} for v, lr in zip(self.views, lrs.tolist())]
        if self.schedule:
            self.opt = self.factory(groups, float(lrs[0]), int(total_steps), int(warmup_steps))
        else:
            self.opt = self.factory(groups, float(lrs[0]), int(total_steps))

    @torch.no_grad()
    def step(self, t: int) -> None:
        for i, views in enumerate(self.views):
            for p, v in zip(self.params, views):
                v.grad = None if p.grad is None else p.grad[i]
        self.opt.step()


class TorchStepper(Stepper):
    """A stock torch optimizer class with the base schedule, stepping the stacked tensors at once.

    The torch optimizers whose state does not depend on the learning rate -- Adam, SGD (with or
    without momentum/Nesterov) and RMSprop, without weight decay -- change the weights by
    ``lr_t * D_t`` where ``D_t`` depends only on the gradients seen. So one optimizer over the
    stacked tensors is stepped at rate ``base(t)`` into zeroed proxies (which then hold
    ``-base(t) D_t`` for every member at once) and member k's weights move by ``lr_k`` times its
    slice: one optimizer call per step instead of one per member (torch runs a separate
    multi-tensor kernel per param group). Every other class or option (weight decay reads the
    weights) falls back to :class:`FactoryStepper`'s param group per member. Both paths agree
    (tested).
    """

    UNIT_RATE = (torch.optim.Adam, torch.optim.SGD, torch.optim.RMSprop)

    def __init__(self, cls: type, label: str | None = None, **kwargs: Any):
        from gp_opt.surrogate.baselines import torch_factory

        self.cls, self.kwargs = cls, kwargs
        self.label = label or cls.__name__
        self.surrogate_factory = torch_factory(cls, **kwargs)
        self.unit_rate = cls in self.UNIT_RATE and not kwargs.get("weight_decay")

    def start(self, params: list[torch.Tensor], lrs: torch.Tensor, total_steps: int, warmup_steps: int) -> None:
        if not self.unit_rate:
            self.inner = FactoryStepper(self.surrogate_factory, label=self.label)
            self.inner.start(params, lrs, total_steps, warmup_steps)
            return
        self.params, self.T, self.W = params, int(total_steps), int(warmup_steps)
        self.rates = [lrs.to(p.dtype).view(-1, *([1] * (p.dim() - 1))) for p in params]
        self.proxies = [torch.zeros_like(p.detach()) for p in params]
        self.opt = self.cls(self.proxies, lr=1.0, **self.kwargs)

    @torch.no_grad()
    def step(self, t: int) -> None:
        if not self.unit_rate:
            self.inner.step(t)
            return
        for group in self.opt.param_groups:
            group["lr"] = base_lr_factor(t, self.T, self.W)
        for z, p in zip(self.proxies, self.params):
            z.zero_()
            z.grad = p.grad
        self.opt.step()
        for z, p, rate in zip(self.proxies, self.params, self.rates):
            if p.grad is not None:
                p.add_(z * rate)


def member_seeds(seed: int) -> tuple[int, int]:
    """The torch seeds of seed number ``seed``: (initial weights, minibatch order)."""
    return 100_003 * int(seed) + 1, 100_003 * int(seed) + 2


def _stack(params: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {n: torch.stack([p[n] for p in params]).detach().clone().requires_grad_(True) for n in params[0]}


def train_members(task: Any, stepper: Stepper, seeds: Sequence[int], lrs: Sequence[float], *,
                  batched: bool = True) -> list[dict[str, Any]]:
    """Train one member per (seed, lr) -- seed-major order -- for ``task.steps`` steps.

    Returns one dict per member: ``seed``, ``lr``, ``status`` (``ok``/``failed``), ``reason``,
    ``steps`` (run before a failure), ``train_loss`` (mean over the last tenth of the steps),
    ``val`` and ``test`` (the task's metrics), ``seconds`` (the whole call's, shared).
    ``batched=False`` (or a task with ``vectorize=False``) trains the members one after another
    with the task's functions called directly: the reference path (and the benchmark's baseline).
    """
    members = [(int(s), float(lr)) for s in seeds for lr in lrs]
    if not members:
        return []
    custom = getattr(task, "train_members", None)  # a task with an engine of its own (CifarConvNet)
    if custom is not None:
        return custom(stepper, [int(s) for s in seeds], [float(lr) for lr in lrs], batched=batched)
    if not batched or not getattr(task, "vectorize", True):
        out: list[dict[str, Any]] = []
        for s, lr in members:
            out += _train(task, stepper, [(s, lr)], vectorize=False)
        return out
    return _train(task, stepper, members, vectorize=True)


def _train(task: Any, stepper: Stepper, members: list[tuple[int, float]], vectorize: bool) -> list[dict[str, Any]]:
    # Adam-like second moments of tiny gradients go subnormal, and subnormal arithmetic is ~100x
    # slower on a CPU (measured: one sqrt of a 4k-element tensor took 4 ms): flush them to zero.
    flush = torch.set_flush_denormal(True)
    try:
        return _train_members(task, stepper, members, vectorize)
    finally:
        if flush:
            torch.set_flush_denormal(False)


def _train_members(task: Any, stepper: Stepper, members: list[tuple[int, float]], vectorize: bool) -> list[dict[str, Any]]:
    t0 = time.perf_counter()
    data = task.data()
    k = len(members)
    seeds = sorted({s for s, _ in members})
    init, batches = {}, {}
    n_train = int(data.train[0].shape[0])
    steps, T, W = int(task.steps), int(task.steps), int(task.warmup_steps)
    for s in seeds:
        gi, gb = member_seeds(s)
        init[s] = task.init_params(torch.Generator().manual_seed(gi), data)
        batches[s] = torch.randint(0, n_train, (steps, int(task.batch)), generator=torch.Generator().manual_seed(gb))
    params = _stack([init[s] for s, _ in members])
    names, leaves = list(params), list(params.values())
    idx = torch.stack([batches[s] for s, _ in members], dim=1)  # steps, K, B
    lrs = torch.tensor([lr for _, lr in members], dtype=torch.float32)
    results = [{"seed": s, "lr": lr, "status": "ok", "reason": None, "steps": steps} for s, lr in members]

    if vectorize:
        loss_fn = torch.func.vmap(task.loss)
    else:
        def loss_fn(p: dict[str, torch.Tensor], *batch: torch.Tensor) -> torch.Tensor:
            return task.loss({n: v[0] for n, v in p.items()}, *(b[0] for b in batch)).reshape(1)

    alive = torch.ones(k, dtype=torch.bool)
    tail = max(1, steps // 10)
    loss_tail = torch.zeros(k, dtype=torch.float64)
    try:
        stepper.start(leaves, lrs, T, W)
        for t in range(steps):
            for p in leaves:
                p.grad = None
            batch = [a[idx[t]] for a in data.train]
            losses = loss_fn(params, *batch)
            finite = torch.isfinite(losses.detach())
            if not bool(finite.all()):
                for i in torch.nonzero(alive & ~finite).flatten().tolist():
                    results[i].update(status="failed", reason=f"NaN/inf training loss at step {t}", steps=t)
                alive &= finite
                if not bool(alive.any()):
                    break
            if t >= steps - tail:
                loss_tail += torch.where(alive, losses.detach().double(), 0.0)
            torch.where(alive, losses, torch.zeros_like(losses)).sum().backward()
            stepper.step(t)
    except Exception as exc:  # noqa: BLE001 - a bad optimizer fails its members, never the suite
        for r in results:
            if r["status"] == "ok":
                r.update(status="failed", reason=f"{type(exc).__name__}: {exc}")
        alive[:] = False
    with torch.no_grad():
        split_metrics = {name: _evaluate(task, params, getattr(data, name), vectorize) for name in ("val", "test")}
    seconds = time.perf_counter() - t0
    for i, r in enumerate(results):
        r["train_loss"] = float(loss_tail[i]) / tail if r["status"] == "ok" else math.nan
        for name, m in split_metrics.items():
            r[name] = {key: float(v[i]) for key, v in m.items()}
        if r["status"] == "ok" and not all(math.isfinite(v) for m in split_metrics.values() for v in
                                           (float(x[i]) for x in m.values())):
            r.update(status="failed", reason="NaN/inf weights or metrics after training")
        r["seconds"] = seconds
    return results


def _evaluate(task: Any, params: dict[str, torch.Tensor], split: tuple[torch.Tensor, ...],
              vectorize: bool) -> dict[str, torch.Tensor]:
    """The task's metrics of every member on ``split`` (chunked over examples): name -> (K,)."""
    n = int(split[0].shape[0])
    size = max(1, int(getattr(task, "eval_chunk", n)))
    chunks, sizes = [], []
    detached = {name: p.detach() for name, p in params.items()}
    k = next(iter(detached.values())).shape[0]
    for i in range(0, n, size):
        part = tuple(a[i:i + size] for a in split)
        if vectorize:
            m = torch.func.vmap(task.metrics, in_dims=(0,) + (None,) * len(part))(detached, *part)
        else:
            per = [task.metrics({name: p[j] for name, p in detached.items()}, *part) for j in range(k)]
            m = {key: torch.stack([q[key] for q in per]) for key in per[0]}
        chunks.append(m)
        sizes.append(int(part[0].shape[0]))
    return task.combine(chunks, sizes) if len(chunks) > 1 else chunks[0]
