"""The digits search fitness (validation loss, several full runs) and the ensemble/plain path choice."""
from __future__ import annotations

import json
import math

import pytest

from gp_opt.errors import GpOptError
from gp_opt.surrogate import SurrogateConfig, evaluate, get_device_data
from gp_opt.surrogate import path_choice
from gp_opt.surrogate.calibration import calibrate

TINY = dict(screen_steps=12, screen_cut_step=9, total_steps=24, warmup_steps=2, stop_check_after=12, eval_every=12,
            acc_window=3, check_every=3, screen_threshold_first=0.1, screen_threshold_second=0.1,
            screen_cut_threshold=0.0, stop_threshold=0.0, base=4, init_base=4)


def test_val_loss_fitness_over_two_full_runs():
    cfg = SurrogateConfig.preset("digits", **TINY, full_seeds=2)
    rec = evaluate("adam", cfg)
    assert rec.status == "ok"
    runs = rec.extra["full_runs"]
    assert len(runs["val_loss"]) == 2 and runs["val_loss"][0] != runs["val_loss"][1]  # own initial weights
    assert rec.extra["val_loss"] == pytest.approx(sum(runs["val_loss"]) / 2)
    assert rec.fitness == pytest.approx(-rec.extra["val_loss"])
    full = [s for s in rec.stages if s["stage"] == "full"]
    assert len(full) == 2 and all(len(s["val_loss_history"]) == len(s["val_history"]) for s in full)
    # the paper's metric on the same config: the mean best validation accuracy
    acc = evaluate("adam", cfg.replace(fitness_metric="val_acc"))
    assert acc.fitness == pytest.approx(acc.extra["best_val_acc"]) and 0.0 < acc.fitness <= 1.0


def test_bad_fitness_settings():
    with pytest.raises(GpOptError, match="fitness_metric"):
        SurrogateConfig.preset("digits", fitness_metric="f1")
    with pytest.raises(GpOptError, match="full_seeds"):
        SurrogateConfig.preset("digits", full_seeds=0)


@pytest.fixture
def fresh_path_memo():
    path_choice.clear_memo()
    yield
    path_choice.clear_memo()  # the choices read from this test's cache must not reach later tests


def test_path_rule_and_cached_calibration(tmp_path, monkeypatch, fresh_path_memo):
    assert path_choice.rule_batched("cpu", 48, 32) is False and path_choice.rule_batched("cpu", 8, 8) is True
    assert path_choice.rule_batched("cuda", 48, 32) is True
    cfg = SurrogateConfig.preset("digits", **TINY, device="cpu")
    assert path_choice.choose_batched(cfg.replace(batched=False)) is False  # explicit wins
    monkeypatch.setenv("GP_OPT_CACHE", str(tmp_path))
    data = get_device_data(cfg)
    res = calibrate(cfg, data, members=2, steps=3)
    cache = json.loads((tmp_path / "paths.json").read_text())
    (entry,) = cache.values()
    assert entry["batched"] == res["batched"] and math.isfinite(entry["ratio"])
    # a cached calibration overrides the rule for this machine and shape
    only = next(iter(cache))
    cache[only]["batched"] = not path_choice.rule_batched("cpu", cfg.base, 8)
    (tmp_path / "paths.json").write_text(json.dumps(cache))
    path_choice.clear_memo()
    assert path_choice.choose_batched(cfg, data) is cache[only]["batched"]
