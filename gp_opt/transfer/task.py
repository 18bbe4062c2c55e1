"""The transfer task: one model written for one ensemble member, trained as a batched ensemble.

A :class:`Task` here is a :class:`gp_opt.tasks.Task` (so it is also a search fitness: ``gp-opt
search --task mypkg.tasks:MyTask`` works with any of them) that describes its model functionally,
for ONE member:

* :meth:`Task.load` -- the data: ``Splits(train, val, test)``, each a tuple of tensors sharing
  their first dimension (examples);
* :meth:`Task.init_params` -- one member's parameters, a ``dict`` of tensors drawn from a
  ``torch.Generator``;
* :meth:`Task.loss` -- the training loss of one member on one minibatch (a scalar tensor);
* :meth:`Task.metrics` -- a ``dict`` of scalar tensors for one member on a split; the entry named
  by ``metric`` is the score (``higher_is_better`` says its direction).

The engine (:mod:`gp_opt.transfer.ensemble`) stacks K members' parameters on a leading dimension
and runs ``loss``/``metrics`` through :func:`torch.func.vmap`, so every seed and learning rate of
one optimizer trains as one batched model. Write ``loss`` and ``metrics`` with plain functional
torch (``F.linear``, indexing, ``softmax`` ...) and they batch for free.

>>> import torch, torch.nn.functional as F
>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Line(Task):
...     name: str = "line"
...     metric: str = "neg_mse"
...     steps: int = 50
...     def load(self):
...         x = torch.linspace(-1, 1, 64).unsqueeze(1); y = 3 * x + 1
...         return Splits((x, y), (x, y), (x, y))
...     def init_params(self, gen, data):
...         return {"w": torch.randn(1, 1, generator=gen), "b": torch.zeros(1)}
...     def loss(self, p, x, y):
...         return F.mse_loss(F.linear(x, p["w"], p["b"]), y)
...     def metrics(self, p, x, y):
...         return {"neg_mse": -F.mse_loss(F.linear(x, p["w"], p["b"]), y)}
>>> from gp_opt.tasks import torch_factory
>>> rec = Line(lrs=(0.1,))(torch_factory(torch.optim.Adam))
>>> rec.status, rec.fitness > -0.5
('ok', True)
"""
from __future__ import annotations

import abc
import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch

from gp_opt import tasks as _tasks

#: the learning-rate grid every optimizer gets unless ``--lrs`` says otherwise: decades 10 .. 1e-4,
#: the surrogate screen's rates but 1e-5 (published genomes such as Opt6 peak near 1, Adam near
#: 1e-2; a finer grid costs proportionally more: --lrs 3,1,0.3,... for half decades)
DEFAULT_TRANSFER_LRS = (10.0, 1.0, 0.1, 0.01, 0.001, 0.0001)


class Splits(NamedTuple):
    """Training, validation and test data: each a tuple of tensors sharing dimension 0."""

    train: tuple[torch.Tensor, ...]
    val: tuple[torch.Tensor, ...]
    test: tuple[torch.Tensor, ...]


@dataclass(frozen=True)
class Task(_tasks.Task):
    """A transfer task (see the module docstring). Fields: ``name``; ``lrs`` (the grid when used
    as a search fitness; the transfer suite passes its own, the same for every optimizer);
    ``steps`` (the training budget); ``batch`` (minibatch size); ``seed`` (the data split's seed);
    ``warmup`` (fraction of ``steps`` in linear warm-up of the base schedule); ``metric`` and
    ``higher_is_better`` (the score)."""

    name: str = "transfer-task"
    lrs: tuple[float, ...] = DEFAULT_TRANSFER_LRS
    steps: int = 200
    seed: int = 0
    batch: int = 64
    warmup: float = 0.05
    metric: str = "accuracy"
    higher_is_better: bool = True
    #: False: the engine cannot vmap this task's functions (it then loops over members)
    vectorize: bool = True
    #: evaluate val/test in chunks of this many examples (memory of K members at once)
    eval_chunk: int = 2048

    # -- what a task implements ---------------------------------------------------------------
    @abc.abstractmethod
    def load(self) -> Splits:
        """The data (called once per task object and cached)."""

    @abc.abstractmethod
    def init_params(self, gen: torch.Generator, data: Splits) -> dict[str, torch.Tensor]:
        """One member's initial parameters, drawn from ``gen`` (seeded per seed by the engine)."""

    @abc.abstractmethod
    def loss(self, params: dict[str, torch.Tensor], *batch: torch.Tensor) -> torch.Tensor:
        """One member's training loss (a scalar) on one minibatch of the training split."""

    @abc.abstractmethod
    def metrics(self, params: dict[str, torch.Tensor], *split: torch.Tensor) -> dict[str, torch.Tensor]:
        """One member's scalar metrics on a split (or a chunk of one; see :meth:`combine`)."""

    def combine(self, chunks: list[dict[str, torch.Tensor]], sizes: list[int]) -> dict[str, torch.Tensor]:
        """Merge the metrics of a split's chunks (default: example-weighted mean). Override for
        metrics that are not means (e.g. R^2)."""
        total = float(sum(sizes))
        return {k: sum(c[k] * (n / total) for c, n in zip(chunks, sizes)) for k in chunks[0]}

    # -- shared -------------------------------------------------------------------------------
    @property
    def warmup_steps(self) -> int:
        return int(round(self.warmup * self.steps))

    def data(self) -> Splits:
        """:meth:`load`, cached per task value (frozen dataclasses hash by their fields)."""
        # the budget fields do not change the data: one load per data-defining field set
        return _cached_data(dataclasses.replace(self, lrs=(), steps=1, batch=1, warmup=0.0))

    def sign(self) -> float:
        """+1 if the metric is higher-is-better, -1 if not: ``sign * metric`` is a fitness."""
        return 1.0 if self.higher_is_better else -1.0

    def describe(self) -> str:
        return (f"{self.name}: {self.steps} steps, batch {self.batch}, metric {self.metric} "
                f"({'higher' if self.higher_is_better else 'lower'} is better)")

    def _train(self, factory: Any, lr: float) -> tuple[float, dict[str, Any]]:
        """One run at ``lr`` as a search fitness: the validation metric, signed higher-is-better."""
        from gp_opt.transfer.ensemble import FactoryStepper, train_members

        res = train_members(self, FactoryStepper(factory, schedule=False), seeds=[self.seed], lrs=[lr])[0]
        if res["status"] != "ok":
            return -math.inf, {"steps_run": res["steps"], "reason": res.get("reason", "NaN/inf")}
        return self.sign() * res["val"][self.metric], {"steps_run": res["steps"],
                                                        **{f"val_{k}": v for k, v in res["val"].items()}}


@functools.lru_cache(maxsize=16)
def _cached_data(task: Task) -> Splits:
    return task.load()
