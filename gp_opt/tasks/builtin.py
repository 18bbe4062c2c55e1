"""The built-in cheap tasks (a noisy quadratic, Rosenbrock, an MLP on scikit-learn's digits) and the
paper's surrogate protocol as a task."""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from ..errors import GpOptError
from .base import Task
from .factories import OptimizerFactory


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
    from ..surrogate import SurrogateConfig, make_evaluator  # lazy: tasks stay light to import

    evaluator = make_evaluator(SurrogateConfig.preset(preset, **overrides))
    evaluator.batch_children = bool(batch_children)
    return evaluator
