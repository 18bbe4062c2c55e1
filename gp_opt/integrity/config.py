"""The integrity check's settings and result, and the schedules its runs follow (SPEC sections 1, 5)."""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import torch

from gp_opt.errors import GpOptError
from gp_opt.genome import OptimizerGenome
from gp_opt.optim.schedules import base_lr_factor, momentum_table



_DTYPES = {"float64": torch.float64, "float32": torch.float32}


@dataclass(frozen=True)
class IntegrityConfig:
    """Every setting of the integrity check; the defaults are SPEC section 5's values."""

    x0: tuple[float, ...] = (1.1, 0.9, 1.1, 0.9, 1.0)
    shift: tuple[float, ...] = (0.5, 1.5, -0.3, -1.2, 0.75)
    steps: int = 35
    warmup: int = 6
    hold: int = 0
    learning_rates: tuple[float, ...] = (1.0, 0.1, 0.01, 1e-3, 1e-4, 1e-5)
    threshold: float = 3.5
    decay_steps: int = 35           # T at which the decay functions are evaluated
    lr_offset: float = 0.0          # the published code adds 1e-7 to lr_t (SPEC 1: either is fine)
    seed: int = 0                   # dropout masks
    dtype: str = "float64"
    validate: bool = False          # also run the full genome.validate() (inactive nodes too)
    batch_size: int = 4096          # candidates per tensor computation in check_many

    def __post_init__(self):
        if len(self.x0) != len(self.shift) or not self.x0:
            raise GpOptError("integrity config: x0 and shift must be non-empty and the same length")
        if self.steps < 1 or self.warmup < 0 or self.hold < 0 or self.warmup + self.hold > self.steps:
            raise GpOptError(f"integrity config: need steps >= 1 and 0 <= warmup + hold <= steps "
                             f"(got steps={self.steps}, warmup={self.warmup}, hold={self.hold})")
        if not self.learning_rates:
            raise GpOptError("integrity config: at least one learning rate")
        if self.dtype not in _DTYPES:
            raise GpOptError(f"integrity config: dtype {self.dtype!r} is not one of {', '.join(_DTYPES)}")
        if self.decay_steps < 1 or self.batch_size < 1:
            raise GpOptError("integrity config: decay_steps and batch_size must be at least 1")

    @property
    def torch_dtype(self) -> torch.dtype:
        return _DTYPES[self.dtype]


DEFAULT_CONFIG = IntegrityConfig()


@dataclass
class IntegrityResult:
    """``passed``; ``flipped`` (it passes only with the opposite sign); ``sign`` the sign the
    genome should carry; ``losses[(sign, lr)]`` the final f of every run (``sign`` the multiplier
    of U actually used, +1 for ``w <- w - lr*U``); ``reason`` why it failed."""

    passed: bool
    flipped: bool
    losses: dict[tuple[int, float], float] = field(default_factory=dict)
    sign: int = 1
    reason: str | None = None

    def best(self) -> tuple[tuple[int, float], float] | None:
        """The (sign, lr) run with the lowest finite final loss, or None."""
        finite = [(k, v) for k, v in self.losses.items() if math.isfinite(v)]
        return min(finite, key=lambda kv: kv[1]) if finite else None


def apply(genome: OptimizerGenome, result: IntegrityResult) -> OptimizerGenome:
    """A copy of ``genome`` carrying the sign the check chose (flipped if it passed flipped)."""
    out = genome.copy()
    if result.passed:
        out.sign = result.sign
    return out


# ---------------------------------------------------------------- schedules (SPEC section 1)

def lr_schedule(lr: float, t: int, steps: int, warmup: int, hold: int, offset: float = 0.0) -> float:
    """One-cycle cosine with linear warm-up: ``lr_t`` for the 0-based step ``t`` (the optimizer's
    own base schedule, plus the published code's optional offset)."""
    return lr * base_lr_factor(t, steps, warmup, hold) + offset


def momentum_schedule(steps: int, warmup: int, hold: int) -> list[float]:
    """One-cycle momentum: linspace(0.95, 0.85, W) + [0.85]*H + linspace(0.85, 0.95, T-W-H)."""
    return momentum_table(steps, warmup, hold)


@functools.lru_cache(maxsize=32)
def schedule_tables(cfg: IntegrityConfig) -> tuple[torch.Tensor, tuple[float, ...]]:
    """(lr_t for every step and run row ``[steps, 2 * len(learning_rates)]``, mu_t per step)."""
    table = [[lr_schedule(lr, t, cfg.steps, cfg.warmup, cfg.hold, cfg.lr_offset)
              for lr in cfg.learning_rates] for t in range(cfg.steps)]
    lrt = torch.tensor(table, dtype=cfg.torch_dtype).repeat(1, 2)
    return lrt, tuple(momentum_schedule(cfg.steps, cfg.warmup, cfg.hold))
