"""The base schedules of SPEC section 1 and the learned learning-rate schedules (LR1..LR9).

* :func:`base_lr_factor` -- the one-cycle cosine learning-rate multiplier with linear warm-up
  ``W`` and hold ``H`` (peak 1);
* :func:`momentum_table` -- the one-cycle momentum ``mu_t``: ``linspace(0.95, 0.85, W)``, ``H``
  values of 0.85, ``linspace(0.85, 0.95, T-W-H)``, endpoints included;
* :class:`EvolvedLR` -- a ``torch.optim.lr_scheduler.LRScheduler`` giving the base schedule times
  the learned factor of a catalog entry (LR1..LR9), for any torch optimizer.

Steps past the end of the run (``t >= T``) reuse the last step's value (``t`` is clamped to
``T - 1``), in all three.

>>> [round(base_lr_factor(t, 10, 2), 3) for t in (0, 1, 2, 6, 9, 10)]
[0.0, 0.5, 1.0, 0.5, 0.038, 0.038]
>>> [round(m, 3) for m in momentum_table(6, 2, 1)]
[0.95, 0.85, 0.85, 0.85, 0.9, 0.95]
"""
from __future__ import annotations

import math
from typing import Any

import torch

__all__ = ["base_lr_factor", "base_lr_table", "momentum_table", "EvolvedLR", "schedule_factor_table"]

MU_HIGH, MU_LOW = 0.95, 0.85


def _check(total_steps: int, warmup_steps: int, hold_steps: int) -> tuple[int, int, int]:
    T, W, H = int(total_steps), int(warmup_steps), int(hold_steps)
    if T < 1:
        raise ValueError(f"total_steps must be at least 1, got {total_steps!r}")
    if W < 0 or H < 0 or W + H > T:
        raise ValueError(f"need 0 <= warmup_steps, hold_steps and warmup_steps + hold_steps <= "
                         f"total_steps, got W={warmup_steps!r}, H={hold_steps!r}, T={total_steps!r}")
    return T, W, H


#: :func:`_check` under a public name for the modules of this package; the function keeps its
#: private name because :mod:`gp_opt.optim.export` and the optax export copy its source (and the
#: schedules' calls to it) into the standalone modules they write, which must not change.
check_steps = _check


def base_lr_factor(t: int, total_steps: int, warmup_steps: int = 0, hold_steps: int = 0) -> float:
    """SPEC section 1's base schedule at 0-based step ``t`` as a multiple of the peak rate.

    ``t/W`` for ``t < W``; 1 for ``W <= t <= W+H``; ``0.5 (1 + cos(pi (t-W-H)/(T-W-H)))`` after.
    ``t >= T`` is clamped to ``T - 1``.
    """
    T, W, H = _check(total_steps, warmup_steps, hold_steps)
    t = min(max(int(t), 0), T - 1)
    if t < W:
        return t / W
    if t <= W + H:
        return 1.0
    return 0.5 * (1.0 + math.cos(math.pi * (t - W - H) / (T - W - H)))


def base_lr_table(total_steps: int, warmup_steps: int = 0, hold_steps: int = 0) -> list[float]:
    """:func:`base_lr_factor` for every step ``0..T-1``."""
    return [base_lr_factor(t, total_steps, warmup_steps, hold_steps) for t in range(int(total_steps))]


def _linspace(a: float, b: float, n: int) -> list[float]:
    if n <= 0:
        return []
    if n == 1:
        return [a]
    return [a + (b - a) * i / (n - 1) for i in range(n)]


def momentum_table(total_steps: int, warmup_steps: int = 0, hold_steps: int = 0) -> list[float]:
    """The one-cycle momentum ``mu_t`` for ``t = 0..T-1`` (SPEC section 1)."""
    T, W, H = _check(total_steps, warmup_steps, hold_steps)
    return _linspace(MU_HIGH, MU_LOW, W) + [MU_LOW] * H + _linspace(MU_LOW, MU_HIGH, T - W - H)


#: The step-count check under a public name, for code that calls it outside this module (the
#: optax runtime, :mod:`gp_opt.optim.jax_runtime`); exports copy it as ``_check``.
check_steps = _check

#: The functions a standalone export copies by their source (:mod:`gp_opt.optim.export` and the
#: optax export), in the order they are written there; they need nothing but ``math``.
EXPORTED_FUNCTIONS = (_check, base_lr_factor, base_lr_table, _linspace, momentum_table)


def schedule_factor_table(name_or_genome: Any, total_steps: int) -> list[float]:
    """The learned learning-rate factor (``F(t)`` of ``lr_t = lr * base(t) * F(t)``) for ``t < T``.

    ``name_or_genome`` is a catalog name (``"LR2"``) or an ``OptimizerGenome``. The factor is
    ``gp_opt.symbolic.factor_schedule(genome)[0]``, printed to torch by ``gp_opt.code_printer``.
    """
    import sympy as sp

    from gp_opt import symbolic
    from gp_opt.code_printer import torch_function

    genome = name_or_genome
    if isinstance(genome, str):
        from gp_opt import catalog
        genome = catalog.get(genome)
    expr = symbolic.factor_schedule(genome)[0]
    t, T = sp.symbols("t T")
    fn = torch_function(sp.sympify(expr, strict=True), (t, T))
    ts = torch.arange(int(total_steps), dtype=torch.float64)
    with torch.no_grad():
        values = torch.as_tensor(fn(ts, float(total_steps)), dtype=torch.float64).expand_as(ts)
    return values.tolist()


class EvolvedLR(torch.optim.lr_scheduler.LRScheduler):
    """The base one-cycle schedule times a learned factor (catalog ``LR1`` .. ``LR9``).

    Works with any torch optimizer: each group's rate at step ``t`` becomes
    ``initial_lr * base_lr_factor(t, T, W, H) * F(t)``. Call ``scheduler.step()`` after each
    ``optimizer.step()``, as with every torch scheduler. With an ``EvolvedOptimizer`` construct it
    with ``base_schedule=False`` so the base schedule is not applied twice.

    >>> import torch
    >>> p = torch.nn.Parameter(torch.zeros(2))
    >>> opt = torch.optim.SGD([p], lr=0.1)
    >>> sched = EvolvedLR(opt, lambda T: [1.0] * T, total_steps=10, warmup_steps=2)
    >>> opt.param_groups[0]["lr"]
    0.0
    """

    def __init__(self, optimizer: torch.optim.Optimizer, name: Any, total_steps: int,
                 warmup_steps: int = 0, hold_steps: int = 0, last_epoch: int = -1):
        self.total_steps, self.warmup_steps, self.hold_steps = _check(total_steps, warmup_steps, hold_steps)
        if any(g.get("base_schedule", False) for g in optimizer.param_groups):
            raise ValueError("EvolvedLR: this optimizer applies the base schedule itself; build it "
                             "with base_schedule=False to drive its rate with EvolvedLR")
        self.name = name if isinstance(name, str) else getattr(name, "__name__", "custom")
        # ``name`` may also be a callable T -> list of factors (tests, custom schedules)
        factors = name(self.total_steps) if callable(name) else schedule_factor_table(name, self.total_steps)
        base = base_lr_table(self.total_steps, self.warmup_steps, self.hold_steps)
        self._table = [b * f for b, f in zip(base, factors)]
        super().__init__(optimizer, last_epoch)

    def factor(self, t: int) -> float:
        """The multiplier of the peak rate at 0-based step ``t`` (clamped to ``T - 1``)."""
        return self._table[min(max(int(t), 0), self.total_steps - 1)]

    def get_lr(self) -> list[float]:
        f = self.factor(self.last_epoch)
        return [base * f for base in self.base_lrs]

    def _get_closed_form_lr(self) -> list[float]:
        return self.get_lr()

    def state_dict(self) -> dict:
        sd = super().state_dict()
        sd.pop("_table", None)
        sd["name"] = self.name if isinstance(self.name, str) else None
        return sd

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        state_dict.pop("_table", None)
        state_dict.pop("name", None)
        self.__dict__.update(state_dict)
