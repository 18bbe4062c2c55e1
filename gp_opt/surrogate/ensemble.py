"""Training runs of the surrogate: several learning rates at once (batched) or one model at a time.

:func:`train_runs` trains one ConvNet per learning rate, all from the same initial weights and on
the same seeded batches, and reports per-run numbers. With ``batched=True`` the runs form one
:class:`~gp_opt.surrogate.model.EnsembleConvNet` trained by one optimizer holding one param group
per member (each with its own ``lr``), so a stage of the screen costs about one forward/backward of
a K-times wider network instead of K separate ones. With ``batched=False`` each rate trains a plain
``ConvNet`` in turn: the straightforward reference path.

Per-step statistics (accuracy, loss, the first non-finite step) stay on the device; the host reads
them every ``check_every`` steps, at the screen's cut step and at validation steps only.
"""
from __future__ import annotations

import copy
import math
import time
from contextlib import nullcontext
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F

from gp_opt.data import AugmentConfig, BatchStream, DeviceData
from gp_opt.surrogate.model import ConvNet, EnsembleConvNet
from gp_opt.surrogate.path_choice import choose_batched

__all__ = ["train_runs", "train_members", "RUN_OK", "RUN_CUT", "RUN_FAILED", "RUN_STOPPED"]

RUN_OK, RUN_CUT, RUN_FAILED, RUN_STOPPED = "ok", "cut", "failed", "stopped"


def _initial_model(cfg: Any, data: DeviceData, seed: int) -> ConvNet:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return ConvNet(cfg.base, data.num_classes, data.in_channels, dropout=cfg.dropout,
                       bn_momentum=cfg.bn_momentum, bn_eps=cfg.bn_eps)


def augment_for(cfg: Any, data: DeviceData) -> AugmentConfig | None:
    """The augmentation a run of ``cfg`` applies to ``data``'s batches (None: none)."""
    if not cfg.augment:
        return None
    flip = data.flip_ok if cfg.flip is None else bool(cfg.flip)
    return AugmentConfig.for_image(data.image_size, flip=flip, pad=cfg.pad, cutout=cfg.cutout)


def _autocast(cfg: Any, device: torch.device):
    if device.type == "cuda" and cfg.bf16:
        return torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=not cfg.cuda_graphs)
    return nullcontext()


def train_runs(
    lrs: Sequence[float],
    factory: Callable,
    data: DeviceData,
    cfg: Any,
    *,
    run_steps: int,
    total_steps: int,
    warmup_steps: int,
    mode: str = "screen",
    batched: bool | None = None,
    seed: int | None = None,
    stage: str = "",
    progress: Callable[[dict], None] | None = None,
) -> list[dict[str, Any]]:
    """Train one model per rate in ``lrs`` for up to ``run_steps`` steps of a ``total_steps`` schedule.

    ``mode="screen"``: a run is cut at ``cfg.screen_cut_step`` when its training accuracy is below
    ``cfg.screen_cut_threshold``. ``mode="full"``: validation accuracy every ``cfg.eval_every`` steps
    (and at the end); a run stops once, after ``cfg.stop_check_after`` steps, its training accuracy
    is below ``cfg.stop_threshold``. A non-finite loss ends that run as ``failed``.
    Returns one dict per rate (in order) with ``lr``, ``status``, ``reason``, ``steps``,
    ``train_acc``, ``train_loss``, ``seconds`` and, in full mode, ``best_val_acc``/``val_history``.
    """
    return train_members([(factory, lr) for lr in lrs], data, cfg, run_steps=run_steps, total_steps=total_steps,
                         warmup_steps=warmup_steps, mode=mode, batched=batched, seed=seed, stage=stage,
                         progress=progress)


def train_members(
    specs: Sequence[tuple[Callable, float]],
    data: DeviceData,
    cfg: Any,
    *,
    run_steps: int,
    total_steps: int,
    warmup_steps: int,
    mode: str = "screen",
    batched: bool | None = None,
    seed: int | None = None,
    stage: str = "",
    progress: Callable[[dict], None] | None = None,
    init_seeds: Sequence[int] | None = None,
) -> list[dict[str, Any]]:
    """Like :func:`train_runs` for ``(factory, lr)`` pairs that may mix optimizers (several candidates).

    Members sharing one factory object share one optimizer (one param group each); each distinct
    factory gets its own optimizer, all stepping after one shared forward/backward. An exception
    raised by one optimizer fails only that optimizer's members. With ``batched`` the members are
    trained in ensembles of at most ``cfg.max_members``; otherwise one model at a time.
    ``init_seeds`` (one per spec) draws each member's initial weights from its own seed (default:
    all from ``seed``); batches and dropout masks still come from ``seed``.
    """
    batched = getattr(cfg, "batched", None) if batched is None else batched
    if batched is None:  # the measured path rule (ensembles where they beat the plain loop)
        batched = choose_batched(cfg, data)
    seed = cfg.seed if seed is None else seed
    specs = [(f, float(lr)) for f, lr in specs]
    seeds = [int(seed)] * len(specs) if init_seeds is None else [int(v) for v in init_seeds]
    if len(seeds) != len(specs):
        raise ValueError("init_seeds needs one seed per (factory, lr) pair")
    size = max(1, int(getattr(cfg, "max_members", 64))) if batched else 1
    out: list[dict[str, Any]] = []
    for i in range(0, len(specs), size):
        out += _train_group(specs[i:i + size], data, cfg, run_steps, total_steps, warmup_steps, mode, seed, stage,
                            progress, seeds[i:i + size])
    return out


class _Runner:
    """The forward pass over the members still training; rebuilt (compacted) when many have finished."""

    def __init__(self, members: list[ConvNet], cfg: Any, device: torch.device, stream: BatchStream,
                 notes: dict[str, Any], seed: int):
        self.members, self.cfg, self.device, self.stream, self.notes = members, cfg, device, stream, notes
        # Dropout masks come from their own generator and are shared by all members, so a member's
        # run does not depend on which other runs share its ensemble (nor on the optimizer's RNG use).
        self.gen = torch.Generator(device=device)
        self.gen.manual_seed(int(seed) + 2)
        self.p = float(members[0].dropout)
        self.features = 4 * members[0].base
        self.build(list(range(len(members))))

    def mask_like(self) -> torch.Tensor:
        return torch.ones(self.stream.batch_size, self.features, device=self.device)

    def drop_mask(self) -> torch.Tensor:
        """The next (N, 4*base) inverted-dropout mask: 0 or 1/(1-p)."""
        n = self.stream.batch_size
        if self.p <= 0.0:
            return torch.ones(n, self.features, device=self.device)
        keep = torch.rand(n, self.features, device=self.device, generator=self.gen) >= self.p
        return keep.float() * (1.0 / (1.0 - self.p))

    def _compiled(self, eager: Callable) -> Callable:
        """``torch.compile(eager)``, falling back to ``eager`` for good if compiling fails (noted)."""
        try:
            compiled = torch.compile(eager)
        except Exception as e:  # noqa: BLE001
            self.notes["compile"] = f"off: {type(e).__name__}: {e}"
            return eager
        state = {"fn": compiled, "checked": False}

        def forward(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            if state["checked"]:
                return state["fn"](x, mask)
            try:
                out = compiled(x, mask)
                self.notes["compile"] = True
            except Exception as e:  # noqa: BLE001 - the first call compiles; any failure: eager
                self.notes["compile"] = f"off: {type(e).__name__}: {e}"
                state["fn"] = eager
                out = eager(x, mask)
            state["checked"] = True
            return out

        return forward

    def build(self, live: list[int]) -> None:
        cfg, device = self.cfg, self.device
        self.live = live
        self.live_idx = torch.tensor(live, device=device, dtype=torch.long)
        if len(live) == 1:
            model = self.members[live[0]]
            self.module = model

            def forward(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
                return model(x, mask).unsqueeze(0)
        else:
            self.module = EnsembleConvNet([self.members[i] for i in live])
            forward = self.module
        self.module.train()
        cuda = device.type == "cuda"
        if cuda and cfg.compile:
            forward = self._compiled(forward)
        elif cuda and cfg.cuda_graphs:
            try:
                sample = self.stream.peek()
                if cfg.channels_last:
                    sample = sample.contiguous(memory_format=torch.channels_last)
                mask = self.mask_like()
                with _autocast(cfg, device):
                    graphed = torch.cuda.make_graphed_callables(self.module, (sample, mask))
                forward = (lambda x, m: graphed(x, m).unsqueeze(0)) if len(live) == 1 else graphed
                # The capture's warm-up ran forward/backward passes: start from clean gradients.
                for p in self.module.parameters():
                    p.grad = None
                self.notes["cuda_graphs"] = True
            except Exception as e:  # noqa: BLE001
                self.notes["cuda_graphs"] = f"off: {type(e).__name__}: {e}"
        self.forward = forward


def _train_group(specs, data, cfg, run_steps, total_steps, warmup_steps, mode, seed, stage, progress, init_seeds):
    t_start = time.perf_counter()
    device = data.device
    k = len(specs)
    lrs = [lr for _, lr in specs]
    inits = {s: _initial_model(cfg, data, s) for s in dict.fromkeys(init_seeds)}
    if k == 1:
        members = [inits[init_seeds[0]].to(device)]
    else:
        members = [copy.deepcopy(inits[s]).to(device) for s in init_seeds]
    notes: dict[str, Any] = {}
    cuda = device.type == "cuda"
    fork_devices = [device] if cuda else []
    with torch.random.fork_rng(devices=fork_devices):
        torch.manual_seed(seed + 7919)
        # one optimizer per distinct factory, one param group per member
        by_factory: dict[int, list[int]] = {}
        for i, (f, _) in enumerate(specs):
            by_factory.setdefault(id(f), []).append(i)
        opts: list[tuple[Any, list[int]]] = []
        broken: dict[int, str] = {}
        for idx in by_factory.values():
            f = specs[idx[0]][0]
            groups = [{"params": list(members[i].parameters()), "lr": lrs[i]} for i in idx]
            try:
                opts.append((f(groups, lrs[idx[0]], total_steps, warmup_steps), idx))
            except Exception as e:  # noqa: BLE001 - a candidate that cannot even be built has failed
                for i in idx:
                    broken[i] = f"exception building the optimizer: {type(e).__name__}: {e}"
        stream = BatchStream(data.x_train, data.y_train, cfg.batch_size, seed=seed + 1,
                             augment=augment_for(cfg, data))
        res = _loop(lrs, members, opts, broken, stream, data, cfg, run_steps, mode, stage, progress, notes, seed)
    seconds = time.perf_counter() - t_start
    for r in res:
        for key in ("train_acc", "train_loss", "best_val_acc"):
            if r.get(key) is not None and not math.isfinite(r[key]):
                r[key] = None  # JSON has no NaN/inf; the status and reason say what happened
        r["seconds"] = seconds
        r["batched_with"] = k
        if notes:
            r["notes"] = dict(notes)
    return res


def _loop(lrs, members, opts, broken, stream, data, cfg, run_steps, mode, stage, progress, notes, seed):
    device = data.device
    k = len(lrs)
    win = max(1, int(cfg.acc_window))
    acc_hist = torch.zeros(k, win, device=device)
    loss_hist = torch.zeros(k, win, device=device)
    first_bad = torch.full((k,), -1, dtype=torch.long, device=device)
    active = [True] * k
    res: list[dict[str, Any]] = [
        {"stage": stage, "lr": lr, "status": RUN_OK, "reason": None, "steps": 0, "train_acc": float("nan"),
         "train_loss": float("nan")} for lr in lrs
    ]
    if mode == "full":
        for r in res:
            r["best_val_acc"] = float("nan")
            r["val_history"] = []
            r["val_loss_history"] = []  # mean validation cross-entropy, [step, loss] pairs
    for i, why in broken.items():
        res[i].update(status=RUN_FAILED, reason=why, exception=True)
        active[i] = False
    if not any(active):
        return res
    runner = _Runner(members, cfg, device, stream, notes, seed)
    if len(runner.live) > 1 and sum(active) <= len(runner.live) // 2:
        runner.build([i for i in range(k) if active[i]])
    cut_step = int(cfg.screen_cut_step) if mode == "screen" else -1
    check_every = max(1, int(cfg.check_every))
    eval_every = max(1, int(cfg.eval_every))
    autocast = _autocast(cfg, device)
    channels_last = cfg.channels_last and device.type == "cuda"
    compactions = 0
    for step in range(run_steps):
        xb, yb = stream.next()
        if channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        live, live_idx = runner.live, runner.live_idx
        n_live = len(live)
        mask = runner.drop_mask()
        with autocast:
            logits = runner.forward(xb, mask)
        c = logits.shape[-1]
        losses = F.cross_entropy(logits.float().reshape(-1, c), yb.repeat(n_live),
                                 reduction="none").view(n_live, -1).mean(1)
        for opt, idx in opts:
            if opt is not None:
                opt.zero_grad(set_to_none=True)
        losses.sum().backward()
        for j, (opt, idx) in enumerate(opts):
            if opt is None:
                continue
            try:
                opt.step()
            except Exception as e:  # noqa: BLE001 - fails this optimizer's members only
                opts[j] = (None, idx)
                for i in idx:
                    if active[i]:
                        res[i].update(status=RUN_FAILED, steps=step + 1, exception=True,
                                      reason=f"exception in optimizer step {step}: {type(e).__name__}: {e}")
                        active[i] = False
        with torch.no_grad():
            slot = step % win
            acc_hist[live_idx, slot] = (logits.argmax(-1) == yb).float().mean(1)
            lt = losses.detach()
            loss_hist[live_idx, slot] = lt
            bad = torch.zeros(k, dtype=torch.bool, device=device)
            bad[live_idx] = ~torch.isfinite(lt)
            first_bad.masked_fill_(bad & (first_bad < 0), step)
        done = step + 1
        is_eval = mode == "full" and (done % eval_every == 0 or done == run_steps)
        if not (done % check_every == 0 or done == run_steps or done == cut_step or is_eval):
            continue
        n = min(done, win)
        stats = torch.stack([acc_hist[:, :n].mean(1), loss_hist[:, :n].mean(1), first_bad.float()]).cpu()
        val, vloss = _validate(runner.module, data, cfg, live, k) if is_eval else (None, None)
        for i in range(k):
            if not active[i]:
                continue
            r = res[i]
            acc, loss, bad_step = float(stats[0, i]), float(stats[1, i]), int(stats[2, i])
            r["steps"], r["train_acc"], r["train_loss"] = done, acc, loss
            if bad_step >= 0:
                r.update(status=RUN_FAILED, steps=bad_step + 1, reason=f"non-finite loss at step {bad_step}")
                active[i] = False
                continue
            if val is not None:
                v = float(val[i])
                r["val_history"].append([done, v])
                vl = float(vloss[i])
                r["val_loss_history"].append([done, vl if math.isfinite(vl) else None])
                if not (r["best_val_acc"] >= v):  # also replaces the initial NaN
                    r["best_val_acc"] = v
            if done == cut_step and acc < cfg.screen_cut_threshold:
                r.update(status=RUN_CUT, reason=f"training accuracy {acc:.3f} < {cfg.screen_cut_threshold} "
                                                f"after {done} steps")
                active[i] = False
            elif mode == "full" and done >= cfg.stop_check_after and acc < cfg.stop_threshold:
                r.update(status=RUN_STOPPED, reason=f"training accuracy {acc:.3f} < {cfg.stop_threshold} "
                                                    f"after {done} steps")
                active[i] = False
        if progress is not None:
            progress({"stage": stage, "step": done, "run_steps": run_steps,
                      "runs": [{"lr": r["lr"], "status": r["status"], "train_acc": r["train_acc"],
                                **({"best_val_acc": r["best_val_acc"]} if mode == "full" else {})} for r in res]})
        if not any(active) or all(o is None for o, _ in opts):
            break
        still = [i for i in live if active[i]]
        if cfg.compact and len(still) <= len(live) // 2 and done < run_steps:
            # Half the ensemble has finished: train only the rest from here on (finished members
            # get no gradients, so their optimizers leave them alone).
            for i in live:
                if not active[i]:
                    for p in members[i].parameters():
                        p.grad = None
            runner.build(still)
            compactions += 1
    if compactions:
        notes["compactions"] = compactions
    return res


@torch.no_grad()
def _validate(module, data: DeviceData, cfg: Any, live: list[int], k: int) -> tuple[list[float], list[float]]:
    """Validation accuracy and mean cross-entropy of each member (eval mode: running BN statistics, no
    dropout); NaN for members not live."""
    was_training = module.training
    module.eval()
    correct = torch.zeros(len(live), device=data.device)
    loss_sum = torch.zeros(len(live), device=data.device)
    n = int(data.x_val.shape[0])
    # val_batch_size images per pass for up to 4 live members; fewer per pass for wider ensembles
    bs = max(64, int(cfg.val_batch_size) * 4 // max(4, len(live)))
    with _autocast(cfg, data.device):
        for i in range(0, n, bs):
            xv = data.x_val[i:i + bs]
            if cfg.channels_last and data.device.type == "cuda":
                xv = xv.contiguous(memory_format=torch.channels_last)
            # Always the eager module: a CUDA-graphed module runs its graph in training mode only.
            out = module(xv)
            out = out.unsqueeze(0) if out.dim() == 2 else out
            yv = data.y_val[i:i + bs]
            correct += (out.argmax(-1) == yv).float().sum(1)
            c = out.shape[-1]
            loss_sum += F.cross_entropy(out.float().reshape(-1, c), yv.repeat(out.shape[0]),
                                        reduction="none").view(out.shape[0], -1).sum(1)
    module.train(was_training)
    acc = (correct / max(1, n)).tolist()
    loss = (loss_sum / max(1, n)).tolist()
    full, full_loss = [float("nan")] * k, [float("nan")] * k
    for j, i in enumerate(live):
        full[i], full_loss[i] = acc[j], loss[j]
    return full, full_loss
