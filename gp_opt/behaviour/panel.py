"""The fixed panels of small problems an optimizer's behaviour is read on.

A :class:`Panel` is a grid of *runs*: every problem x every gradient-noise level x every peak
learning rate, each run ``steps`` steps of the optimizer from the problem's fixed start. All
problems have ``dim`` parameters (one flat vector, so ``norm`` is over the run's whole vector),
so that every run of every candidate lives in one tensor ``[candidates, runs, dim]``.

The problems (all data drawn once from ``seed``; nothing depends on the candidates):

``quadratic``   ``f = 1/2 (x - b)^T Q diag(lam) Q^T (x - b)``, ``Q`` a random rotation and
                ``lam`` log-spaced over ``[lam_min, lam_max]`` (ill-conditioned, condition 100)
``quadratic_diag``  the same with ``Q = I`` (axis-aligned: elementwise ops act per eigen-direction)
``logistic``    mean logistic loss of a linear model (``dim - 1`` features and a bias) on 16
                fixed points, plus ``1e-2/2 |x|^2`` so that the optimum is finite
``mlp``         a k-k-1 tanh network with biases (``dim = (k + 1)^2`` weights: k = 2 on the search
                panel, 3 on the verification panel) fitting a fixed teacher on 16 points by mean
                squared error

Noise: at step ``t`` of run ``r`` the gradient is ``g + sigma * xi[t, r]`` with ``xi`` a fixed
standard normal draw (per run, so two noise levels see the same directions, scaled).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable

import torch

from gp_opt.errors import GpOptError

__all__ = ["Panel", "PROBLEMS", "SEARCH_PANEL", "VERIFY_PANEL", "PanelData", "panel_data"]

#: a problem's gradient: ``grad(x)`` for ``x`` of shape ``[batch, dim]``
Gradient = Callable[[torch.Tensor], torch.Tensor]
#: its loss ``loss(x) -> [batch]`` (what the gradient is the gradient of; the tests check it by autograd)
Loss = Callable[[torch.Tensor], torch.Tensor]

PROBLEMS = ("quadratic", "quadratic_diag", "logistic", "mlp")
_DTYPES = {"float64": torch.float64, "float32": torch.float32}


@dataclass(frozen=True)
class Panel:
    """A panel: ``problems`` x ``noise`` (gradient-noise standard deviations) x
    ``learning_rates`` (peak rates of the one-cycle schedule with ``warmup`` steps; the one-cycle
    momentum for the momentum types; decay functions read with ``T = steps``), ``steps`` steps
    per run, ``dim`` parameters per problem (a square: the MLP's weights), data drawn from
    ``seed``, arithmetic in ``dtype``. ``floor``: per-run movements below it count as no
    movement (a run where neither optimizer moves is identical)."""

    name: str
    problems: tuple[str, ...] = ("quadratic", "logistic", "mlp")
    noise: tuple[float, ...] = (0.0, 0.5)
    learning_rates: tuple[float, ...] = (0.1, 0.01)
    steps: int = 20
    warmup: int = 3
    seed: int = 0
    dim: int = 9
    dtype: str = "float64"
    floor: float = 1e-30

    def __post_init__(self):
        bad = [p for p in self.problems if p not in PROBLEMS]
        if bad or not self.problems:
            raise GpOptError(f"panel {self.name!r}: unknown problem(s) {', '.join(bad) or '(none)'}; "
                             f"known: {', '.join(PROBLEMS)}")
        if not self.noise or not self.learning_rates or any(s < 0 or not math.isfinite(s) for s in self.noise):
            raise GpOptError(f"panel {self.name!r}: need at least one noise level (>= 0) and one learning rate")
        if any(not (lr > 0 and math.isfinite(lr)) for lr in self.learning_rates):
            raise GpOptError(f"panel {self.name!r}: learning rates must be positive and finite")
        if self.steps < 2 or not 0 <= self.warmup < self.steps:
            raise GpOptError(f"panel {self.name!r}: need steps >= 2 and 0 <= warmup < steps")
        k = math.isqrt(self.dim) - 1
        if k < 1 or (k + 1) ** 2 != self.dim:
            raise GpOptError(f"panel {self.name!r}: dim must be a square >= 4 (the MLP's weights), got {self.dim}")
        if self.dtype not in _DTYPES:
            raise GpOptError(f"panel {self.name!r}: dtype must be one of {', '.join(_DTYPES)}")

    @property
    def torch_dtype(self) -> torch.dtype:
        return _DTYPES[self.dtype]

    @property
    def runs(self) -> int:
        return len(self.problems) * len(self.noise) * len(self.learning_rates)

    def run_labels(self) -> list[str]:
        """One label per run, in the order of the run axis (problem, then noise, then rate)."""
        return [f"{p}/noise={s:g}/lr={lr:g}" for p in self.problems for s in self.noise
                for lr in self.learning_rates]


#: the panel the rediscovery fitness uses: 3 problems x 2 noise levels x 2 rates, 20 steps of 9
#: parameters, in float64: float32 rounds away relative differences below ~1e-7 (a search found
#: ``g / sqrt(1 + i1e(1e-3 w ...)^2)`` at distance exactly 0 from SGD in float32), and the
#: search needs those to tell the target from its near twins
SEARCH_PANEL = Panel("search")

#: a larger panel with other data, longer runs, more rates and noise levels, in float64: 4 x 3 x 3
#: runs of 60 steps of 16 parameters, for deciding that two optimizers behave identically
VERIFY_PANEL = Panel("verify", problems=PROBLEMS, noise=(0.0, 0.1, 1.0), learning_rates=(0.3, 0.03, 0.003),
                     steps=60, warmup=5, seed=1, dim=16, dtype="float64")


# ---------------------------------------------------------------- the problems

def _rotation(gen: torch.Generator, n: int) -> torch.Tensor:
    q, r = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r))[None, :]


def _quadratic(gen: torch.Generator, n: int, dt: torch.dtype, rotate: bool) -> tuple[torch.Tensor, Gradient, Loss]:
    lam = torch.logspace(-1, 1, n, dtype=torch.float64)          # 0.1 .. 10: condition 100
    q = _rotation(gen, n) if rotate else torch.eye(n, dtype=torch.float64)
    hess = (q * lam[None, :]) @ q.T
    b = torch.randn(n, generator=gen, dtype=torch.float64)
    x0 = b + 2.0 * torch.randn(n, generator=gen, dtype=torch.float64)
    hess, b = hess.to(dt), b.to(dt)

    def grad(x: torch.Tensor) -> torch.Tensor:
        # broadcast-and-sum, not a matmul: BLAS kernels round differently with the batch size,
        # and a genome's distance must not depend on the other genomes in its batch
        return ((x - b)[:, None, :] * hess).sum(-1)

    def loss(x: torch.Tensor) -> torch.Tensor:
        return 0.5 * ((x - b) @ hess * (x - b)).sum(-1)

    return x0, grad, loss


def _logistic(gen: torch.Generator, n: int, dt: torch.dtype) -> tuple[torch.Tensor, Gradient, Loss]:
    m = 16
    feats = torch.randn(m, n - 1, generator=gen, dtype=torch.float64)
    X = torch.cat([feats, torch.ones(m, 1, dtype=torch.float64)], dim=1)
    teacher = torch.randn(n, generator=gen, dtype=torch.float64)
    y = (torch.rand(m, generator=gen, dtype=torch.float64) < torch.sigmoid(X @ teacher)).to(torch.float64)
    x0 = torch.randn(n, generator=gen, dtype=torch.float64)
    l2 = 1e-2
    X, y = X.to(dt), y.to(dt)
    XT = X.T.contiguous()

    def grad(x: torch.Tensor) -> torch.Tensor:
        r = torch.sigmoid((x[:, None, :] * X).sum(-1)) - y                 # [batch, m]
        return (r[:, None, :] * XT).sum(-1) / m + l2 * x

    def loss(x: torch.Tensor) -> torch.Tensor:
        z = x @ X.T
        return (torch.nn.functional.softplus(z) - y * z).mean(-1) + 0.5 * l2 * (x * x).sum(-1)

    return x0, grad, loss


def _mlp(gen: torch.Generator, n: int, dt: torch.dtype) -> tuple[torch.Tensor, Gradient, Loss]:
    m = 16
    k = math.isqrt(n) - 1    # weights: W1 [k, k] (row-major), b1 k, W2 k, b2 1 = (k + 1)^2
    X = torch.randn(m, k, generator=gen, dtype=torch.float64)
    teacher = torch.randn(n, generator=gen, dtype=torch.float64)
    x0 = torch.randn(n, generator=gen, dtype=torch.float64)
    cols = [X[:, i] for i in range(k)]

    # Every tensor is [batch, m] and every sum over inputs or hidden units an unrolled sum of
    # elementwise products (only the sums over the m points are reductions, over the last axis):
    # no BLAS, whose rounding changes with the batch size; a genome's distance must not depend
    # on the other genomes in its batch.
    def forward(x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        hs = []
        out = x[:, -1:].expand(-1, m)
        for j in range(k):
            pre = x[:, k * k + j, None].expand(-1, m)
            for i in range(k):
                pre = pre + x[:, i * k + j, None] * cols[i]
            h = torch.tanh(pre)
            hs.append(h)
            out = out + x[:, k * k + k + j, None] * h
        return hs, out

    y = forward(teacher[None])[1][0].to(dt)
    cols = [c.to(dt) for c in cols]

    def grad(x: torch.Tensor) -> torch.Tensor:
        hs, out = forward(x)
        r = (out - y) / m                                            # d(mean sq / 2)/d out
        g = torch.empty_like(x)
        for j, h in enumerate(hs):
            dh = r * x[:, k * k + k + j, None] * (1.0 - h * h)
            for i in range(k):
                g[:, i * k + j] = (dh * cols[i]).sum(-1)
            g[:, k * k + j] = dh.sum(-1)
            g[:, k * k + k + j] = (r * h).sum(-1)
        g[:, -1] = r.sum(-1)
        return g

    def loss(x: torch.Tensor) -> torch.Tensor:
        return 0.5 * ((forward(x)[1] - y) ** 2).mean(-1)

    return x0, grad, loss


@dataclass
class PanelData:
    """A panel's drawn data: the start of every run ``x0 [runs, dim]``, one gradient function per
    problem (with the run slice it serves) and its loss, the noise ``[steps, runs, dim]`` (already scaled),
    the learning rate ``lr_t [steps, runs]`` and the momentum ``mu_t`` per step."""

    x0: torch.Tensor
    grads: list[tuple[slice, Gradient]]
    losses: list[Loss]
    noise: torch.Tensor
    lr: torch.Tensor
    mu: tuple[float, ...]


@functools.lru_cache(maxsize=8)
def panel_data(panel: Panel) -> PanelData:
    """The panel's fixed data (drawn once per panel, from ``panel.seed``)."""
    from gp_opt.optim.schedules import base_lr_factor, momentum_table

    gen = torch.Generator().manual_seed(20261206 + 7919 * panel.seed)
    dt = panel.torch_dtype     # drawn in float64 (the same draws for every dtype), then cast
    per = len(panel.noise) * len(panel.learning_rates)
    x0s, grads, losses = [], [], []
    for k, name in enumerate(panel.problems):
        if name == "quadratic":
            x0, grad, loss = _quadratic(gen, panel.dim, dt, rotate=True)
        elif name == "quadratic_diag":
            x0, grad, loss = _quadratic(gen, panel.dim, dt, rotate=False)
        elif name == "logistic":
            x0, grad, loss = _logistic(gen, panel.dim, dt)
        else:
            x0, grad, loss = _mlp(gen, panel.dim, dt)
        x0s.append(x0.expand(per, panel.dim))
        grads.append((slice(k * per, (k + 1) * per), grad))
        losses.append(loss)
    xi = torch.randn(panel.steps, panel.runs, panel.dim, generator=gen, dtype=torch.float64)
    sigma = torch.tensor([s for _ in panel.problems for s in panel.noise for _ in panel.learning_rates],
                         dtype=torch.float64)
    peak = torch.tensor([lr for _ in panel.problems for _ in panel.noise for lr in panel.learning_rates],
                        dtype=torch.float64)
    factor = torch.tensor([base_lr_factor(t, panel.steps, panel.warmup) for t in range(panel.steps)],
                          dtype=torch.float64)
    return PanelData(x0=torch.cat(x0s).to(dt), grads=grads, losses=losses, noise=(xi * sigma[None, :, None]).to(dt),
                     lr=(factor[:, None] * peak[None, :]).to(dt),
                     mu=tuple(momentum_table(panel.steps, panel.warmup)))
