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

import math
import time
from typing import Any, Callable, Sequence

import torch

from gp_opt.data import DeviceData
from gp_opt.errors import GpOptError
from gp_opt.fitness import FAILED, OK, REJECTED, FitnessRecord, registered_function
from gp_opt.surrogate.baselines import OptimizerFactory
from gp_opt.surrogate.config import FITNESS_METRICS, SurrogateConfig, preset_names  # noqa: F401 - re-exported
from gp_opt.surrogate.device_data import get_device_data
from gp_opt.surrogate.ensemble import RUN_FAILED, RUN_OK, RUN_STOPPED, train_members
from gp_opt.surrogate.optimizers import genome_factory, resolve_optimizer  # noqa: F401 - re-exported

# SurrogateConfig and its presets (surrogate/config.py), the optimizer resolution
# (surrogate/optimizers.py) and the device data cache (surrogate/device_data.py) live in their own
# modules and stay importable from here.
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
