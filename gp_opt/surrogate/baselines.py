"""Baseline optimizers for the surrogate, and the factory interface every optimizer goes through.

An *optimizer factory* is any callable
``factory(params_or_param_groups, lr, total_steps, warmup_steps) -> torch.optim.Optimizer``
whose optimizer applies the SPEC base schedule (one-cycle cosine with linear warm-up, section 1)
itself. The protocol hands it one param group per ensemble member, each with its own ``lr``; the
``lr`` argument is the first group's rate (a default for groups that carry none).

``torch_factory(torch.optim.Adam)`` adapts any stock torch optimizer: the schedule is applied by a
step *pre*-hook that sets ``group['lr'] = group['peak_lr'] * base_lr_factor(t, T, W, H)`` before
step ``t`` (0-based), so step 0 of a run with warm-up uses lr 0, exactly as SPEC section 1 writes.

QHM, PowerSign-ld and AddSign-ld (SPEC section 9's baselines) are written here as small torch
optimizers so the quality table can include them before the genome-based drop-ins
(``gp_opt.optim.QHM`` etc.) exist; :func:`baseline_factory` prefers the latter when importable.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

import torch

from gp_opt.optim.schedules import base_lr_factor  # the one definition of SPEC section 1's schedule

__all__ = [
    "base_lr_factor",
    "with_base_schedule",
    "torch_factory",
    "baseline_factory",
    "BASELINES",
    "QHM",
    "SignOptimizer",
    "OptimizerFactory",
]

OptimizerFactory = Callable[[Any, float, int, int], torch.optim.Optimizer]


def with_base_schedule(opt: torch.optim.Optimizer, total_steps: int, warmup_steps: int = 0,
                       hold_steps: int = 0) -> torch.optim.Optimizer:
    """Make a stock torch optimizer follow the base schedule (a step pre-hook; returns ``opt``).

    Each group's peak rate is its ``lr`` at this call (kept as ``group['peak_lr']``).
    """
    for g in opt.param_groups:
        g.setdefault("peak_lr", g["lr"])
    counter = {"t": 0}

    def _pre_step(optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        f = base_lr_factor(counter["t"], total_steps, warmup_steps, hold_steps)
        for g in optimizer.param_groups:
            g["lr"] = g["peak_lr"] * f
        counter["t"] += 1

    opt.register_step_pre_hook(_pre_step)
    opt.gp_opt_schedule = counter  # exposed for inspection: the next step's index
    _pre_step(opt, (), {})  # show step 0's rate in param_groups before the first step ...
    counter["t"] = 0  # ... without consuming it
    return opt


def torch_factory(cls: type[torch.optim.Optimizer], **kwargs: Any) -> OptimizerFactory:
    """A factory for a stock torch optimizer class, with fixed keyword arguments and the base schedule."""

    def factory(params: Any, lr: float, total_steps: int, warmup_steps: int = 0) -> torch.optim.Optimizer:
        return with_base_schedule(cls(params, lr=lr, **kwargs), total_steps, warmup_steps)

    factory.__name__ = f"{cls.__name__}_factory"
    factory.__qualname__ = factory.__name__
    factory.label = cls.__name__ + (f"({', '.join(f'{k}={v}' for k, v in kwargs.items())})" if kwargs else "")
    return factory


class QHM(torch.optim.Optimizer):
    """Quasi-hyperbolic momentum (Ma & Yarats 2019): ``U = (1-nu) g + nu EMA_beta(g)`` (raw EMA)."""

    def __init__(self, params: Iterable, lr: float = 1e-3, nu: float = 0.7, beta: float = 0.999):
        super().__init__(params, dict(lr=lr, nu=nu, beta=beta))

    @torch.no_grad()
    def step(self, closure: Callable | None = None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if not st:
                    st["buf"] = torch.zeros_like(p)
                buf = st["buf"]
                buf.mul_(g["beta"]).add_(p.grad, alpha=1 - g["beta"])
                upd = p.grad.mul(1 - g["nu"]).add_(buf, alpha=g["nu"])
                p.add_(upd, alpha=-g["lr"])
        return loss


class SignOptimizer(torch.optim.Optimizer):
    """Bello et al. (2017) PowerSign-ld / AddSign-ld with ``m = EMA_0.9(g)`` and ``d(t) = 1 - t/T``.

    PowerSign: ``U = exp(d sign(g) sign(m)) g``; AddSign: ``U = (1 + d sign(g) sign(m)) g``.
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, kind: str = "powersign", total_steps: int = 1,
                 beta: float = 0.9):
        if kind not in ("powersign", "addsign"):
            raise ValueError("kind must be 'powersign' or 'addsign'")
        super().__init__(params, dict(lr=lr, beta=beta))
        self.kind, self.total_steps, self.t = kind, max(1, int(total_steps)), 0

    @torch.no_grad()
    def step(self, closure: Callable | None = None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        d = 1.0 - min(self.t, self.total_steps) / self.total_steps
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if not st:
                    st["m"] = torch.zeros_like(p)
                m = st["m"]
                m.mul_(g["beta"]).add_(p.grad, alpha=1 - g["beta"])
                agree = torch.sign(p.grad) * torch.sign(m) * d
                scale = torch.exp(agree) if self.kind == "powersign" else agree.add_(1.0)
                p.add_(scale * p.grad, alpha=-g["lr"])
        self.t += 1
        return loss


def _sign_factory(kind: str) -> OptimizerFactory:
    def factory(params: Any, lr: float, total_steps: int, warmup_steps: int = 0) -> torch.optim.Optimizer:
        return with_base_schedule(SignOptimizer(params, lr=lr, kind=kind, total_steps=total_steps),
                                  total_steps, warmup_steps)

    factory.label = f"{kind} (surrogate fallback)"
    return factory


def _qhm_factory(params: Any, lr: float, total_steps: int, warmup_steps: int = 0) -> torch.optim.Optimizer:
    return with_base_schedule(QHM(params, lr=lr), total_steps, warmup_steps)


_qhm_factory.label = "QHM nu=0.7 beta=0.999 (surrogate fallback)"

#: Baselines by lower-case name: stock torch optimizers and the fallbacks above.
BASELINES: dict[str, OptimizerFactory] = {
    "adam": torch_factory(torch.optim.Adam),
    "adamw": torch_factory(torch.optim.AdamW),
    "sgd": torch_factory(torch.optim.SGD),
    "momentum": torch_factory(torch.optim.SGD, momentum=0.9),
    "nesterov": torch_factory(torch.optim.SGD, momentum=0.9, nesterov=True),
    "rmsprop": torch_factory(torch.optim.RMSprop),
    "qhm": _qhm_factory,
    "powersign": _sign_factory("powersign"),
    "addsign": _sign_factory("addsign"),
}


def baseline_factory(name: str) -> OptimizerFactory | None:
    """The factory for a baseline name (case-insensitive), or ``None`` if it is not a baseline."""
    return BASELINES.get(name.lower())
