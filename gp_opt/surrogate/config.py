"""Every number of the surrogate protocol (SPEC section 6) in one :class:`SurrogateConfig`, and its
named presets (``paper``, ``smoke``, ``digits``)."""
from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from typing import Any

import torch

from gp_opt.errors import GpOptError

__all__ = ["FITNESS_METRICS", "SurrogateConfig", "preset_names"]


FITNESS_METRICS = ("val_acc", "val_loss")


@dataclass
class SurrogateConfig:
    """Every number of the protocol; defaults are SPEC section 6 (CIFAR-10, base 48)."""

    # data
    dataset: str = "cifar10"
    data_dir: str | None = None
    download: bool = False
    val_fraction: float = 0.1  # only for sets without their own split (CIFAR: last 5,000 images)
    # model
    base: int = 48
    init_base: int | None = 32  # the initial population's ConvNet base (SPEC: 10N random optimizers at base 32); None: ``base``
    dropout: float = 0.2
    bn_momentum: float = 0.1  # torch convention (Keras' 0.99 is torch's 0.01)
    bn_eps: float = 1e-5
    # training
    batch_size: int = 128
    augment: bool = True
    pad: int | None = None  # None: 4 px scaled to the image size (1 for 8x8)
    cutout: int | None = None  # None: 8 px scaled to the image size (2 for 8x8)
    flip: bool | None = None  # None: on unless the dataset forbids it (digits)
    # stage 1: learning-rate screen
    screen_lrs_first: tuple[float, ...] = (10.0, 0.01, 1e-5)
    screen_threshold_first: float = 0.25
    screen_lrs_second: tuple[float, ...] = (1.0, 0.1, 1e-3, 1e-4)
    screen_threshold_second: float = 0.40
    screen_steps: int = 800
    screen_cut_step: int = 600
    screen_cut_threshold: float = 0.25
    fixed_lr: float | None = None  # skip the screen and train at this rate (elimination runs)
    # stage 2: full run
    total_steps: int = 8000
    warmup_steps: int = 800
    stop_check_after: int = 1000
    stop_threshold: float = 0.40
    stop_rejects: bool = False
    eval_every: int = 400
    val_batch_size: int = 1000
    # fitness
    fitness_metric: str = "val_acc"  # "val_acc": best validation accuracy; "val_loss": minus the lowest validation loss
    full_seeds: int = 1  # full runs at the chosen rate, each from its own initial weights; the fitness is their mean
    # measurement
    acc_window: int = 100
    check_every: int = 100
    seed: int = 0
    # execution
    device: str = "auto"
    # one ensemble per screen stage (False: one model per rate, in turn); None: chosen per device
    # and shape by gp_opt.surrogate.path_choice.choose_batched (ensembles on CUDA and tiny CPU shapes)
    batched: bool | None = None
    max_members: int = 64  # most runs (rates x candidates) trained as one ensemble
    compact: bool = True  # drop finished runs from an ensemble once half of it has finished
    bf16: bool = True  # bfloat16 autocast (CUDA only)
    compile: bool = False  # torch.compile the forward (CUDA only)
    cuda_graphs: bool = False  # CUDA-graph the forward/backward (CUDA only)
    channels_last: bool = False  # (CUDA only)
    cpu_threads: int | None = None  # torch CPU threads during an evaluation (None: leave torch's setting)

    def __post_init__(self) -> None:
        self.screen_lrs_first = tuple(float(v) for v in self.screen_lrs_first)
        self.screen_lrs_second = tuple(float(v) for v in self.screen_lrs_second)
        problems = []
        for name in ("base", "batch_size", "screen_steps", "total_steps", "eval_every", "check_every",
                     "acc_window", "val_batch_size", "max_members"):
            if int(getattr(self, name)) < 1:
                problems.append(f"{name} must be >= 1")
        for name in ("warmup_steps", "screen_cut_step", "stop_check_after"):
            if int(getattr(self, name)) < 0:
                problems.append(f"{name} must be >= 0")
        if self.warmup_steps > self.total_steps:
            problems.append("warmup_steps must not exceed total_steps")
        if self.screen_steps > self.total_steps:
            problems.append("screen_steps must not exceed total_steps (a screen run is a truncated full run)")
        if not self.screen_lrs_first and self.fixed_lr is None:
            problems.append("screen_lrs_first is empty")
        if self.fitness_metric not in FITNESS_METRICS:
            problems.append(f"fitness_metric {self.fitness_metric!r} is not one of {', '.join(FITNESS_METRICS)}")
        if int(self.full_seeds) < 1:
            problems.append("full_seeds must be >= 1")
        if not 0.0 <= self.dropout < 1.0:
            problems.append("dropout must lie in [0, 1)")
        if problems:
            raise GpOptError("SurrogateConfig: " + "; ".join(problems))

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> "SurrogateConfig":
        """``paper`` (SPEC section 6 on CIFAR-10), ``smoke`` (digits, base 8, tens of steps, CPU) or
        ``digits`` (smoke's budget, a bigger validation split, validation loss as the fitness)."""
        presets = _presets()
        if name not in presets:
            raise GpOptError(f"unknown surrogate preset {name!r}; choose one of {', '.join(presets)}")
        kw = dict(presets[name])
        kw.update(overrides)
        return cls(**kw)

    def replace(self, **changes: Any) -> "SurrogateConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def resolved_device(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)


def _presets() -> dict[str, dict[str, Any]]:
    return {
        "paper": {},
        # Tiny: 8x8 digits, base 8, batch 64, screens of 40 steps, full run 120 (warm-up 12): the
        # paper's proportions (cut at 3/4 of a screen, stop check after 1/8 of the full run... roughly),
        # a few seconds per evaluation on a CPU.
        "smoke": dict(dataset="digits", base=8, init_base=6, batch_size=64, screen_steps=40, screen_cut_step=30,
                      total_steps=120, warmup_steps=12, stop_check_after=40, eval_every=20, acc_window=5,
                      check_every=5, val_batch_size=512, cpu_threads=1),
        # The search fitness on digits (docs/surrogate.md "The digits preset"): smoke's budget, which
        # is short enough that convergence speed shows, but a 30 % validation split (539 images) and
        # minus the lowest validation cross-entropy as the fitness: smoke's best validation accuracy
        # ties the good optimizers at the ceiling, the loss keeps resolving them.
        # One scale (init_base None: the initial population trains at the children's base), and a
        # screen whose first grid suits a 40-step screen: the paper's 10, 0.01, 1e-5 rejected SGD,
        # momentum and PowerSign on every probe seed (0.01 barely moves in 40 steps, 10 diverges)
        # and about 86 % of random genomes; 1, 0.1, 0.01 first then 10, 1e-3, 1e-4 lets them pass
        # (gp-opt probe-fitness, docs/surrogate.md "Choosing the search fitness").
        "digits": dict(dataset="digits", base=8, init_base=None, batch_size=64, screen_steps=40, screen_cut_step=30,
                       total_steps=120, warmup_steps=12, stop_check_after=40, eval_every=20, acc_window=5,
                       check_every=5, val_batch_size=1024, cpu_threads=1, val_fraction=0.3,
                       fitness_metric="val_loss", screen_lrs_first=(1.0, 0.1, 0.01),
                       screen_lrs_second=(10.0, 1e-3, 1e-4)),
    }


def preset_names() -> list[str]:
    """The names :meth:`SurrogateConfig.preset` accepts."""
    return list(_presets())
