"""Calibrate the training path for this machine and shape: time both paths, cache the faster.

:func:`calibrate` trains a few steps of a few runs as one ensemble and one model at a time on the
data's device and records the choice for :func:`gp_opt.surrogate.path_choice.choose_batched`
(``benchmarks/surrogate_throughput.py --calibrate`` calls it).
"""
from __future__ import annotations

import time
from typing import Any

import torch

from gp_opt.surrogate.baselines import BASELINES
from gp_opt.surrogate.ensemble import train_members
from gp_opt.surrogate.path_choice import cache_key, image_shape, record_calibration

__all__ = ["calibrate"]


def calibrate(cfg: Any, data: Any, members: int = 4, steps: int = 12, save: bool = True) -> dict[str, Any]:
    """Time ``steps`` training steps of ``members`` runs both ways on ``data``'s device; cache and
    return ``{"batched", "ensemble_s", "plain_s", "ratio"}`` (ratio = plain time / ensemble time:
    above 1 the ensembles are faster)."""
    run_cfg = cfg.replace(screen_cut_threshold=-1.0, check_every=10 ** 9, acc_window=1)
    specs = [(BASELINES["adam"], 10.0 ** (-2 - i % 3)) for i in range(members)]

    def timed(batched: bool) -> float:
        best = float("inf")
        for _ in range(2):
            if data.device.type == "cuda":
                torch.cuda.synchronize(data.device)
            t = time.perf_counter()
            train_members(specs, data, run_cfg, run_steps=steps, total_steps=max(steps, cfg.total_steps),
                          warmup_steps=0, mode="screen", batched=batched)
            if data.device.type == "cuda":
                torch.cuda.synchronize(data.device)
            best = min(best, time.perf_counter() - t)
        return best

    timed(True)  # warm-up
    ens, plain = timed(True), timed(False)
    result = {"batched": ens < plain, "ensemble_s": ens, "plain_s": plain, "ratio": plain / ens,
              "members": members, "steps": steps, "when": time.strftime("%Y-%m-%dT%H:%M:%S")}
    if data.device.type == "cpu":
        record_calibration(cache_key(image_shape(cfg, data), cfg.base, cfg.batch_size), result, save)
    return result
