"""The paper's surrogate fitness protocol (SPEC section 6) for any torch optimizer or genome.

Stage 1, the learning-rate screen: train ``screen_steps`` (800) steps at each of 10, 0.01, 1e-5;
reject unless one reaches ``screen_threshold_first`` (25 %) training accuracy; then also at 1, 0.1,
1e-3, 1e-4 and reject unless one of all seven reaches ``screen_threshold_second`` (40 %). A screen
run is cut at step ``screen_cut_step`` (600) when its training accuracy is below 25 %. A screen run
follows the *full* run's schedule (``total_steps``, ``warmup_steps``), truncated, so it is still
warming up when it ends.

Stage 2: train at the best screened rate (highest final training accuracy) for ``total_steps``
(8,000) steps with ``warmup_steps`` (800) warm-up, validating every ``eval_every`` steps; once past
``stop_check_after`` (1,000) steps the run stops when its training accuracy is below
``stop_threshold`` (40 %). Fitness is the best validation accuracy seen (also for a stopped run, as
in the paper, unless ``stop_rejects``).

"Training accuracy" is the mean accuracy of the last ``acc_window`` training batches (as measured
in training mode, with augmentation and dropout, the way Keras reports it). A non-finite loss ends
that run as ``failed``; in the full run it makes the record ``failed``.
"""
from __future__ import annotations

import dataclasses
import math
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass
from typing import Any, Callable, Sequence

import torch

from gp_opt.data import DeviceData, load_dataset
from gp_opt.errors import GpOptError
from gp_opt.fitness import FAILED, OK, REJECTED, FitnessRecord, registered_function
from gp_opt.surrogate.baselines import BASELINES, OptimizerFactory, torch_factory
from gp_opt.surrogate.ensemble import RUN_FAILED, RUN_OK, RUN_STOPPED, train_members

__all__ = [
    "SurrogateConfig",
    "evaluate",
    "evaluate_many",
    "resolve_optimizer",
    "genome_factory",
    "get_device_data",
    "SurrogateEvaluator",
    "make_evaluator",
]


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


# ----------------------------------------------------------------------------------------------
# Optimizers: one interface for stock torch optimizers, factories and genomes
# ----------------------------------------------------------------------------------------------


def genome_factory(genome: Any) -> OptimizerFactory:
    """A factory building ``gp_opt.optim.EvolvedOptimizer`` for ``genome`` (imported lazily)."""
    from gp_opt.optim import EvolvedOptimizer  # noqa: PLC0415 - lazy: written by another module owner

    def factory(params: Any, lr: float, total_steps: int, warmup_steps: int = 0) -> torch.optim.Optimizer:
        return EvolvedOptimizer(params, genome, lr=lr, total_steps=total_steps, warmup_steps=warmup_steps)

    meta = getattr(genome, "meta", None)
    name = (meta.get("name") if isinstance(meta, dict) else None) or getattr(genome, "name", None)
    factory.label = f"{name} (genome, EvolvedOptimizer)" if name else "genome (EvolvedOptimizer)"
    return factory


def _catalog_genome(name: str) -> Any | None:
    from gp_opt import catalog  # noqa: PLC0415 - lazy: the catalog pulls in sympy
    try:
        return catalog.get(name)
    except GpOptError:
        return None


def resolve_optimizer(opt: Any) -> tuple[OptimizerFactory, str]:
    """Turn what the caller passed into ``(factory, label)``.

    Accepted: a factory ``f(params, lr, total_steps, warmup_steps)``; a ``torch.optim.Optimizer``
    subclass (wrapped by :func:`torch_factory` with the base schedule); a baseline name (``adam``,
    ``sgd``, ``nesterov``, ``momentum``, ``rmsprop``, ``adamw``); a catalog name (``Opt1``,
    ``QHM``, ``PowerSign``...); or a genome (anything else), run by
    ``gp_opt.optim.EvolvedOptimizer``.
    """
    if isinstance(opt, str):
        key = opt.lower()
        if key in BASELINES:
            f = BASELINES[key]
            return f, getattr(f, "label", opt)
        genome = _catalog_genome(opt)
        if genome is not None:
            return genome_factory(genome), f"{opt} (catalog genome, EvolvedOptimizer)"
        raise GpOptError(
            f"unknown optimizer {opt!r}: not a baseline ({', '.join(BASELINES)}) and not available from "
            f"gp_opt.catalog/gp_opt.optim")
    if isinstance(opt, type) and issubclass(opt, torch.optim.Optimizer):
        f = torch_factory(opt)
        return f, f.label
    if callable(opt):
        return opt, getattr(opt, "label", getattr(opt, "__name__", type(opt).__name__))
    f = genome_factory(opt)
    return f, f.label


# ----------------------------------------------------------------------------------------------
# Data, cached on the device across evaluations
# ----------------------------------------------------------------------------------------------

_DATA_CACHE: "OrderedDict[tuple, DeviceData]" = OrderedDict()


def get_device_data(cfg: SurrogateConfig) -> DeviceData:
    """The config's dataset, normalised and resident on its device (cached: 2 most recent)."""
    device = cfg.resolved_device()
    key = (cfg.dataset, cfg.data_dir, cfg.val_fraction, cfg.seed, str(device))
    if key in _DATA_CACHE:
        _DATA_CACHE.move_to_end(key)
        return _DATA_CACHE[key]
    ds = load_dataset(cfg.dataset, data_dir=cfg.data_dir, download=cfg.download, val_fraction=cfg.val_fraction,
                      seed=cfg.seed)
    dd = ds.to_device(device)
    _DATA_CACHE[key] = dd
    # at most 2 large sets (CIFAR on a GPU), but many small ones: a search scores each candidate
    # on its own evaluation seed, and on digits the seed also draws the split
    while len(_DATA_CACHE) > 2 and (len(_DATA_CACHE) > _SMALL_SETS_KEPT
                                    or sum(_nbytes(d) for d in _DATA_CACHE.values()) > _SMALL_BYTES):
        _DATA_CACHE.popitem(last=False)
    return dd


_SMALL_SETS_KEPT = 16
_SMALL_BYTES = 64 * 2 ** 20


def _nbytes(dd: DeviceData) -> int:
    return sum(t.numel() * t.element_size() for t in (dd.x_train, dd.y_train, dd.x_val, dd.y_val))


# ----------------------------------------------------------------------------------------------
# The protocol
# ----------------------------------------------------------------------------------------------


def _clean(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for r in runs:
        v = r.get("best_val_acc")
        if v is not None and not math.isfinite(v):
            r["best_val_acc"] = None
    return runs


def _fmt(values) -> str:
    return ", ".join(f"{v:g}" for v in values)


def evaluate(optimizer: Any, config: SurrogateConfig | None = None, *, data: DeviceData | None = None,
             progress: Callable[[dict], None] | None = None) -> FitnessRecord:
    """Score ``optimizer`` (factory, torch optimizer class, name or genome) by the surrogate protocol.

    Never raises for a bad candidate: NaN/inf and exceptions inside training become a ``failed``
    record. User errors (unknown dataset, missing files, bad config) raise :class:`GpOptError`.
    ``progress`` receives a small dict at every check (stage, step, per-run accuracy).
    """
    return evaluate_many([optimizer], config, data=data, progress=progress)[0]


def evaluate_many(optimizers: Sequence[Any], config: SurrogateConfig | None = None, *,
                  data: DeviceData | None = None,
                  progress: Callable[[dict], None] | None = None) -> list[FitnessRecord]:
    """Score several candidates at once: each stage trains all their runs as shared ensembles.

    Every candidate gets the record :func:`evaluate` would give it alone (same seed, same initial
    weights, same batches, same dropout masks), up to floating-point summation order — except that
    optimizers drawing random numbers themselves (the dropout ops of evolved genomes) share torch's
    global generator with the other candidates of the batch. The GPU is simply kept busier. ``seconds`` is the batch's wall time divided by the number of candidates
    (``extra['batch_seconds']`` and ``extra['batch_size']`` keep the totals).
    """
    cfg = config if config is not None else SurrogateConfig()
    t0 = time.perf_counter()
    resolved = [resolve_optimizer(o) for o in optimizers]
    if not resolved:
        return []
    if data is None:
        data = get_device_data(cfg)
    cands = [_Cand(f, {"optimizer": label, "device": str(data.device), "dataset": data.name,
                       "config": cfg.to_dict(), "timings": {}}) for f, label in resolved]
    threads = torch.get_num_threads()
    if cfg.cpu_threads and data.device.type == "cpu":
        torch.set_num_threads(int(cfg.cpu_threads))
    try:
        _protocol(cands, data, cfg, progress)
    except (torch.cuda.OutOfMemoryError, ImportError, KeyboardInterrupt):
        raise
    except Exception as e:  # noqa: BLE001 - the shared machinery failed: every open candidate fails
        for c in cands:
            if c.record is None:
                c.record = FitnessRecord.failed(f"exception during evaluation: {type(e).__name__}: {e}",
                                                stages=c.stages, best_lr=c.best_lr, extra=c.extra)
    finally:
        torch.set_num_threads(threads)
    wall = time.perf_counter() - t0
    out = []
    for c in cands:
        rec = c.record
        rec.seconds = wall / len(cands)
        if len(cands) > 1:
            rec.extra["batch_seconds"] = wall
            rec.extra["batch_size"] = len(cands)
        out.append(rec)
    return out


class _Cand:
    def __init__(self, factory: OptimizerFactory, extra: dict[str, Any]):
        self.factory = factory
        self.extra = extra
        self.stages: list[dict[str, Any]] = []
        self.best_lr: float | None = None
        self.record: FitnessRecord | None = None


def _protocol(cands: list[_Cand], data: DeviceData, cfg: SurrogateConfig, progress) -> None:
    T, W = cfg.total_steps, cfg.warmup_steps

    def stage(open_: list[_Cand], lrs_of: Callable[[_Cand], Sequence[float]], name: str, mode: str,
              run_steps: int, seeds: Sequence[int] | None = None) -> dict[int, list[dict[str, Any]]]:
        """``seeds``: one initial-weight seed per rate of ``lrs_of(c)`` (default: all ``cfg.seed``)."""
        specs, owner, init_seeds = [], [], []
        for c in open_:
            for j, lr in enumerate(lrs_of(c)):
                specs.append((c.factory, lr))
                owner.append(c)
                init_seeds.append(cfg.seed if seeds is None else seeds[j])
        t = time.perf_counter()
        runs = _clean(train_members(specs, data, cfg, run_steps=run_steps, total_steps=T, warmup_steps=W,
                                    mode=mode, stage=name, progress=progress, init_seeds=init_seeds))
        dt = time.perf_counter() - t
        got: dict[int, list[dict[str, Any]]] = {}
        for c, r in zip(owner, runs):
            got.setdefault(id(c), []).append(r)
        for c in open_:
            c.extra["timings"][name] = dt
            c.stages.extend(got[id(c)])
            broken = [r for r in got[id(c)] if r.get("exception")]
            if broken:
                c.record = FitnessRecord.failed(broken[0]["reason"], stages=c.stages, extra=c.extra)
        return got

    open_ = list(cands)
    if cfg.fixed_lr is not None:
        for c in open_:
            c.best_lr = float(cfg.fixed_lr)
    else:
        got = stage(open_, lambda c: cfg.screen_lrs_first, "screen1", "screen", cfg.screen_steps)
        for c in [c for c in open_ if c.record is None]:
            first = got[id(c)]
            if not [r for r in first if r["status"] == RUN_OK and r["train_acc"] is not None
                    and r["train_acc"] >= cfg.screen_threshold_first]:
                c.record = FitnessRecord.rejected(
                    f"screen: no learning rate among {_fmt(cfg.screen_lrs_first)} reached "
                    f"{cfg.screen_threshold_first:.0%} training accuracy ({_summary(first)})",
                    stages=c.stages, extra=c.extra)
        open_ = [c for c in open_ if c.record is None]
        if open_ and cfg.screen_lrs_second:
            stage(open_, lambda c: cfg.screen_lrs_second, "screen2", "screen", cfg.screen_steps)
        for c in [c for c in open_ if c.record is None]:
            screened = [r for r in c.stages if r["status"] == RUN_OK and r["train_acc"] is not None]
            passing = [r for r in screened if r["train_acc"] >= cfg.screen_threshold_second]
            if not passing:
                c.record = FitnessRecord.rejected(
                    f"screen: no learning rate reached {cfg.screen_threshold_second:.0%} training accuracy "
                    f"({_summary(c.stages)})", stages=c.stages, extra=c.extra)
            else:
                c.best_lr = max(passing, key=lambda r: r["train_acc"])["lr"]  # max keeps the first of ties
        open_ = [c for c in open_ if c.record is None]
    if not open_:
        return
    n_full = max(1, int(cfg.full_seeds))
    got = stage(open_, lambda c: [c.best_lr] * n_full, "full", "full", T,
                seeds=[cfg.seed + FULL_SEED_STRIDE * j for j in range(n_full)])
    for c in [c for c in open_ if c.record is None]:
        c.record = _full_record(c, got[id(c)], cfg)


# the full runs' initial weights: seeds seed, seed + 1000, ... (batches and dropout masks stay seed's)
FULL_SEED_STRIDE = 1000


def _min_loss(run: dict[str, Any]) -> float | None:
    losses = [v for _, v in run.get("val_loss_history") or [] if v is not None and math.isfinite(v)]
    return min(losses) if losses else None


def _full_record(c: "_Cand", runs: list[dict[str, Any]], cfg: SurrogateConfig) -> FitnessRecord:
    """The record from a candidate's full run(s): ``cfg.full_seeds`` runs at its rate, each from its
    own initial weights; the fitness is the mean of ``cfg.fitness_metric`` over them."""
    lr = c.best_lr
    accs = [r.get("best_val_acc") for r in runs]
    losses = [_min_loss(r) for r in runs]
    if all(a is not None for a in accs):
        c.extra["best_val_acc"] = sum(accs) / len(accs)
    if all(v is not None for v in losses):
        c.extra["val_loss"] = sum(losses) / len(losses)
    if len(runs) > 1:
        c.extra["full_runs"] = {"best_val_acc": accs, "val_loss": losses}
    bad = [r for r in runs if r["status"] == RUN_FAILED]
    if bad:
        return FitnessRecord.failed(f"full run at lr {lr:g}: {bad[0]['reason']}", stages=c.stages, best_lr=lr,
                                    extra=c.extra)
    missing = [r for r, a in zip(runs, accs) if a is None]
    if missing:
        return FitnessRecord.failed(f"full run at lr {lr:g}: no validation accuracy was measured "
                                    f"({missing[0]['reason'] or 'no evaluation step reached'})",
                                    stages=c.stages, best_lr=lr, extra=c.extra)
    stopped = [r for r in runs if r["status"] == RUN_STOPPED]
    if stopped:
        c.extra["stopped_early"] = stopped[0]["reason"]
        if cfg.stop_rejects:
            return FitnessRecord.rejected(f"full run stopped: {stopped[0]['reason']}", stages=c.stages,
                                          best_lr=lr, extra=c.extra)
    if cfg.fitness_metric == "val_loss":
        if "val_loss" not in c.extra:
            return FitnessRecord.failed(f"full run at lr {lr:g}: no finite validation loss was measured",
                                        stages=c.stages, best_lr=lr, extra=c.extra)
        fitness = -c.extra["val_loss"]
    else:
        fitness = c.extra["best_val_acc"]
    return FitnessRecord(fitness=float(fitness), status=OK, stages=c.stages, best_lr=lr, extra=c.extra)


def _summary(runs: list[dict[str, Any]]) -> str:
    parts = []
    for r in runs:
        acc = r["train_acc"]
        acc_s = "n/a" if acc is None else f"{acc:.3f}"
        parts.append(f"lr {r['lr']:g}: {r['status']} {acc_s}")
    return "; ".join(parts)


# ----------------------------------------------------------------------------------------------
# The search's evaluate callable
# ----------------------------------------------------------------------------------------------


class SurrogateEvaluator:
    """``evaluator(genome) -> FitnessRecord`` with the data loaded once (on first use) and kept on device."""

    def __init__(self, config: SurrogateConfig | None = None,
                 progress: Callable[[dict], None] | None = None):
        self.config = config if config is not None else SurrogateConfig()
        self.progress = progress
        self._data: DeviceData | None = None
        self.calls = 0

    @property
    def data(self) -> DeviceData:
        if self._data is None:
            self._data = get_device_data(self.config)
        return self._data

    def __getstate__(self) -> dict[str, Any]:
        # sent to a worker (process pool, Ray): the data is loaded there, on the worker's device
        return dict(self.__dict__, _data=None)

    def seeded(self, seed: int | None) -> "SurrogateEvaluator":
        """This evaluator on evaluation seed ``seed`` (None or the config's own seed: ``self``).

        The seed sets the initial weights, the batch order, the augmentation, the dropout masks
        and, on digits, the train/validation split; the data of each seed is cached (see
        :func:`get_device_data`)."""
        if seed is None or int(seed) == self.config.seed:
            return self
        return SurrogateEvaluator(self.config.replace(seed=int(seed)), self.progress)

    def at_rate(self, lr: float) -> "SurrogateEvaluator":
        """This evaluator without the screen: every run at ``lr`` (a rate chosen on another seed)."""
        other = SurrogateEvaluator(self.config.replace(fixed_lr=float(lr)), self.progress)
        other._data = self._data
        return other

    def __call__(self, candidate: Any, seed: int | None = None) -> FitnessRecord:
        """Score ``candidate`` on evaluation seed ``seed`` (None: ``config.seed``); the record's
        ``extra['seed']`` says which."""
        self.calls += 1
        ev = self.seeded(seed)
        rec = evaluate(candidate, ev.config, data=ev.data, progress=self.progress)
        rec.extra["seed"] = ev.config.seed
        return rec

    def for_initial_population(self) -> "SurrogateEvaluator":
        """The evaluator of the search's initial population: the same protocol and data with the
        ConvNet base ``config.init_base`` (SPEC section 6: base 32, evolution uses base 48)."""
        base = self.config.init_base
        if base is None or base == self.config.base:
            return self
        other = SurrogateEvaluator(self.config.replace(base=base), self.progress)
        other._data = self._data
        if self._data is None:  # load the data once, for both
            other._data = self._data = self.data
        return other

    def evaluate_many(self, candidates: Sequence[Any], seeds: Sequence[int | None] | None = None
                      ) -> list[FitnessRecord]:
        """Several candidates in shared ensembles (see :func:`evaluate_many`); ``seeds`` gives each
        its evaluation seed (None: ``config.seed``). Candidates sharing a seed train together."""
        candidates = list(candidates)
        self.calls += len(candidates)
        seeds = [None] * len(candidates) if seeds is None else list(seeds)
        if len(seeds) != len(candidates):
            raise GpOptError(f"evaluate_many: {len(seeds)} seeds for {len(candidates)} candidates")
        out: list[FitnessRecord | None] = [None] * len(candidates)
        groups: dict[int, list[int]] = {}
        for i, s in enumerate(seeds):
            groups.setdefault(self.config.seed if s is None else int(s), []).append(i)
        for seed, idx in groups.items():
            ev = self.seeded(seed)
            recs = evaluate_many([candidates[i] for i in idx], ev.config, data=ev.data, progress=self.progress)
            for i, rec in zip(idx, recs):
                rec.extra["seed"] = seed
                out[i] = rec
        return out  # type: ignore[return-value]

    def map(self, func: Callable[[Any], Any], items: Any) -> list[Any]:
        """A ``toolbox.map``: batches the candidates when ``func`` is this evaluator, else plain ``map``.

        ``toolbox.register("map", evaluator.map)`` lets the search evaluate a whole time step's
        children in shared ensembles (at most ``config.max_members`` runs per ensemble).
        """
        items = list(items)
        inner = registered_function(func)
        if isinstance(inner, SurrogateEvaluator):  # this one, or its initial-population twin
            return inner.evaluate_many(items)
        return [func(x) for x in items]


def make_evaluator(config: SurrogateConfig | None = None, **kw: Any) -> SurrogateEvaluator:
    """The search's pluggable ``evaluate``: a callable taking a genome and returning a FitnessRecord."""
    return SurrogateEvaluator(config, **kw)


# keep the record's status names importable from here as well
STATUSES = (OK, REJECTED, FAILED)
