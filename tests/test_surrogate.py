"""The surrogate: model sizes, the batched ensemble vs single models, the protocol's stages, failures."""
import copy
import json
import math

import numpy as np
import pytest
import torch

from gp_opt.errors import GpOptError
from gp_opt.fitness import FitnessRecord
from gp_opt.surrogate import (BASELINES, ConvNet, EnsembleConvNet, SurrogateConfig, base_lr_factor,
                              count_parameters, evaluate, evaluate_many, get_device_data, train_members, make_evaluator, resolve_optimizer,
                              torch_factory, train_runs, with_base_schedule)

# A very small protocol on digits: base 4, 16-step screens, a 40-step full run.
TINY = dict(base=4, batch_size=32, screen_steps=16, screen_cut_step=12, total_steps=40, warmup_steps=4,
            stop_check_after=16, eval_every=10, acc_window=4, check_every=4)


def tiny(**kw):
    return SurrogateConfig.preset("smoke", **{**TINY, **kw})


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models gain nothing from intra-op threads; one thread avoids oversubscription."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def digits():
    return get_device_data(tiny())


# ----------------------------------------------------------------------------------------------
# model
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("base, millions", [(48, 0.212), (64, 0.375), (96, 0.839), (128, 1.487)])
def test_paper_parameter_counts(base, millions):
    assert round(count_parameters(ConvNet(base, 10, 3)) / 1e6, 3) == millions


def test_convnet_shapes():
    net = ConvNet(8, num_classes=7, in_channels=1)
    assert net(torch.randn(5, 1, 8, 8)).shape == (5, 7)
    assert all(c.bias is None for c in net.convs)


def _members(k, **kw):
    torch.manual_seed(0)
    return [ConvNet(4, 10, 1, **kw) for _ in range(k)]


def test_ensemble_matches_members_forward_backward_and_bn_stats():
    members = _members(3, dropout=0.0)
    singles = [copy.deepcopy(m) for m in members]
    ens = EnsembleConvNet(members)
    x = torch.randn(16, 1, 8, 8)
    y = torch.randint(0, 10, (16,))
    out = ens(x)
    assert out.shape == (3, 16, 10)
    torch.nn.functional.cross_entropy(out.reshape(-1, 10), y.repeat(3), reduction="sum").backward()
    for k, s in enumerate(singles):
        o = s(x)
        torch.testing.assert_close(out[k], o, rtol=1e-5, atol=1e-5)
        torch.nn.functional.cross_entropy(o, y, reduction="sum").backward()
        for pe, ps in zip(members[k].parameters(), s.parameters()):
            torch.testing.assert_close(pe.grad, ps.grad, rtol=1e-4, atol=1e-5)
        # per-member BatchNorm statistics, visible through the member's own buffers
        for be, bs in zip(members[k].bns, s.bns):
            torch.testing.assert_close(be.running_mean, bs.running_mean)
            torch.testing.assert_close(be.running_var, bs.running_var)
    assert not torch.allclose(members[0].bns[1].running_mean, members[1].bns[1].running_mean)
    ens.eval()
    for s in singles:
        s.eval()
    torch.testing.assert_close(ens(x)[1], singles[1](x), rtol=1e-5, atol=1e-5)


def test_ensemble_members_are_separate_leaves():
    members = _members(2)
    ens = EnsembleConvNet(members)
    ids = {id(p) for p in members[0].parameters()} & {id(p) for p in members[1].parameters()}
    assert not ids and all(p.is_leaf for p in ens.parameters())


# ----------------------------------------------------------------------------------------------
# schedule and the optimizer interface
# ----------------------------------------------------------------------------------------------


def test_base_schedule_values():
    T, W = 100, 10
    assert base_lr_factor(0, T, W) == 0.0
    assert base_lr_factor(5, T, W) == pytest.approx(0.5)
    assert base_lr_factor(10, T, W) == 1.0
    assert base_lr_factor(55, T, W) == pytest.approx(0.5)
    assert base_lr_factor(99, T, W) == pytest.approx(0.5 * (1 + math.cos(math.pi * 89 / 90)))
    assert base_lr_factor(100, T, W) == base_lr_factor(99, T, W)  # past T: held at the last step
    assert base_lr_factor(12, T, W, hold_steps=5) == 1.0
    assert base_lr_factor(0, T, 0) == 1.0


def test_torch_optimizer_follows_base_schedule_per_group():
    a, b = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))
    opt = with_base_schedule(torch.optim.SGD([{"params": [a], "lr": 1.0}, {"params": [b], "lr": 0.1}], lr=1.0),
                             total_steps=10, warmup_steps=4)
    seen = []
    for _ in range(10):
        a.grad, b.grad = torch.ones(2), torch.ones(2)
        opt.step()
        seen.append((opt.param_groups[0]["lr"], opt.param_groups[1]["lr"]))
    expect = [base_lr_factor(t, 10, 4) for t in range(10)]
    assert [s[0] for s in seen] == pytest.approx(expect)
    assert [s[1] for s in seen] == pytest.approx([0.1 * e for e in expect])
    assert float(a.detach()[0]) == pytest.approx(-sum(expect))


def test_resolve_optimizer_forms():
    assert resolve_optimizer("adam")[0] is BASELINES["adam"]
    f, label = resolve_optimizer(torch.optim.RMSprop)
    assert "RMSprop" in label
    custom = torch_factory(torch.optim.SGD, momentum=0.5)
    assert resolve_optimizer(custom)[0] is custom
    with pytest.raises(GpOptError, match="unknown optimizer"):
        resolve_optimizer("no-such-optimizer")


def test_screen_runs_use_the_full_runs_schedule(digits):
    calls = []

    def factory(params, lr, total_steps, warmup_steps):
        calls.append((total_steps, warmup_steps, [g["lr"] for g in params]))
        return BASELINES["adam"](params, lr, total_steps, warmup_steps)

    cfg = tiny()
    rec = evaluate(factory, cfg, data=digits)
    assert calls[0] == (cfg.total_steps, cfg.warmup_steps, list(cfg.screen_lrs_first))  # one batched stage
    assert all(c[:2] == (cfg.total_steps, cfg.warmup_steps) for c in calls)
    assert rec.status in ("ok", "rejected")


# ----------------------------------------------------------------------------------------------
# batched vs single
# ----------------------------------------------------------------------------------------------


def test_batched_ensemble_tracks_single_models(digits):
    cfg = tiny()  # dropout on: the masks come from the loop's own generator, shared by all members
    lrs = [0.05, 1e-4]
    kw = dict(run_steps=16, total_steps=40, warmup_steps=4, mode="screen")
    batched = train_runs(lrs, BASELINES["adam"], digits, cfg, batched=True, **kw)
    single = train_runs(lrs, BASELINES["adam"], digits, cfg, batched=False, **kw)
    for b, s in zip(batched, single):
        assert b["lr"] == s["lr"] and b["status"] == s["status"] and b["steps"] == s["steps"]
        assert b["train_acc"] == pytest.approx(s["train_acc"], abs=0.02)
        assert b["train_loss"] == pytest.approx(s["train_loss"], rel=1e-3)
    assert batched[0]["batched_with"] == 2 and single[0]["batched_with"] == 1
    # with dropout the masks differ, but the trend across rates is the same
    cfg = tiny()
    batched = train_runs(lrs, BASELINES["adam"], digits, cfg, batched=True, **kw)
    single = train_runs(lrs, BASELINES["adam"], digits, cfg, batched=False, **kw)
    assert (batched[0]["train_acc"] > batched[1]["train_acc"]) == (single[0]["train_acc"] > single[1]["train_acc"])


def test_same_seed_same_record(digits):
    a = train_runs([0.01], BASELINES["adam"], digits, tiny(), run_steps=8, total_steps=40, warmup_steps=4)
    b = train_runs([0.01], BASELINES["adam"], digits, tiny(), run_steps=8, total_steps=40, warmup_steps=4)
    assert a[0]["train_loss"] == b[0]["train_loss"]


# ----------------------------------------------------------------------------------------------
# the protocol
# ----------------------------------------------------------------------------------------------


class NoOp(torch.optim.Optimizer):
    """A degenerate optimizer: never moves."""

    def __init__(self, params, lr=0.1):
        super().__init__(params, dict(lr=lr))

    def step(self, closure=None):
        return None


class NaNAfter(torch.optim.SGD):
    """SGD that writes NaN into every parameter from step ``n`` on."""

    def __init__(self, params, lr=0.1, n=3):
        super().__init__(params, lr=lr)
        self.n, self.t = n, 0

    @torch.no_grad()
    def step(self, closure=None):
        super().step(closure)
        self.t += 1
        if self.t >= self.n:
            for g in self.param_groups:
                for p in g["params"]:
                    p.fill_(float("nan"))


def test_screen_rejects_a_degenerate_optimizer_and_passes_adam(digits):
    rec = evaluate(NoOp, tiny(), data=digits)
    assert rec.status == "rejected" and rec.fitness == -math.inf
    assert "25%" in rec.reason and "screen" in rec.reason
    assert [s["stage"] for s in rec.stages] == ["screen1"] * 3
    assert all(s["status"] == "cut" and s["steps"] == 12 for s in rec.stages)
    assert json.loads(json.dumps(rec.to_dict()))["status"] == "rejected"


def test_adam_well_above_chance_on_digits():
    cfg = SurrogateConfig.preset("smoke")
    rec = evaluate("adam", cfg)
    assert rec.status == "ok", rec.reason
    assert rec.fitness > 0.6  # chance is 0.1
    stages = [s["stage"] for s in rec.stages]
    assert stages == ["screen1"] * 3 + ["screen2"] * 4 + ["full"]
    screened = [s for s in rec.stages if s["stage"] != "full" and s["status"] == "ok"]
    assert rec.best_lr == max(screened, key=lambda s: s["train_acc"])["lr"]
    full = rec.stages[-1]
    assert full["lr"] == rec.best_lr and rec.fitness == full["best_val_acc"]
    assert [h[0] for h in full["val_history"]][:2] == [cfg.eval_every, 2 * cfg.eval_every]
    assert set(rec.extra["timings"]) == {"screen1", "screen2", "full"} and rec.seconds > 0
    back = FitnessRecord.from_dict(json.loads(json.dumps(rec.to_dict())))
    assert back.fitness == rec.fitness and back.best_lr == rec.best_lr


def test_nan_is_a_failed_run_never_an_exception(digits):
    rec = evaluate(NaNAfter, tiny(), data=digits)
    assert rec.status == "rejected"
    assert all(s["status"] == "failed" and "non-finite loss at step 3" in s["reason"] for s in rec.stages)
    assert all(s["train_acc"] is None or math.isfinite(s["train_acc"]) for s in rec.stages)
    rec = evaluate(NaNAfter, tiny(fixed_lr=0.1), data=digits)
    assert rec.status == "failed" and "non-finite" in rec.reason and rec.best_lr == 0.1
    json.dumps(rec.to_dict())


def test_exception_in_optimizer_is_a_failed_record(digits):
    class Boom(NoOp):
        def step(self, closure=None):
            raise RuntimeError("kaboom")

    rec = evaluate(Boom, tiny(), data=digits)
    assert rec.status == "failed" and "kaboom" in rec.reason


def test_full_run_stops_early_but_keeps_best_validation(digits):
    events = []
    rec = evaluate(NoOp, tiny(fixed_lr=0.1, stop_check_after=8), data=digits, progress=events.append)
    full = rec.stages[-1]
    assert full["status"] == "stopped" and full["steps"] == 8
    assert rec.status == "failed"  # stopped before any validation: nothing to report
    rec = evaluate(NoOp, tiny(fixed_lr=0.1, stop_check_after=10, eval_every=10), data=digits)
    assert rec.status == "ok" and rec.extra["stopped_early"] and 0.0 <= rec.fitness <= 1.0
    rec = evaluate(NoOp, tiny(fixed_lr=0.1, stop_check_after=10, eval_every=10, stop_rejects=True), data=digits)
    assert rec.status == "rejected" and "stopped" in rec.reason
    assert events and {"stage", "step", "runs"} <= set(events[0])


def test_several_candidates_share_ensembles_with_the_same_results(digits):
    class Boom(NoOp):
        def step(self, closure=None):
            raise RuntimeError("kaboom")

    cfg = tiny(dropout=0.0, screen_steps=8, screen_cut_step=6, total_steps=20, stop_check_after=8)
    together = evaluate_many([NoOp, "adam", Boom], cfg, data=digits)
    alone = [evaluate(o, cfg, data=digits) for o in (NoOp, "adam", Boom)]
    assert [r.status for r in together] == [r.status for r in alone]
    assert together[2].status == "failed" and "kaboom" in together[2].reason
    for t, a in zip(together[:2], alone[:2]):
        assert [s["status"] for s in t.stages] == [s["status"] for s in a.stages]
        for st, sa in zip(t.stages, a.stages):
            assert st["train_acc"] == pytest.approx(sa["train_acc"], abs=0.07)
    assert together[0].extra["batch_size"] == 3
    fixed = tiny(dropout=0.0, fixed_lr=0.02, total_steps=20, stop_check_after=20)
    t = evaluate_many(["adam", NoOp], fixed, data=digits)
    a = [evaluate(o, fixed, data=digits) for o in ("adam", NoOp)]
    assert t[0].fitness == pytest.approx(a[0].fitness, abs=0.05) and t[0].stages[-1]["batched_with"] == 2
    assert t[1].fitness == pytest.approx(a[1].fitness, abs=1e-6)
    ev = make_evaluator(fixed)
    from deap import base

    tb = base.Toolbox()
    tb.register("evaluate", ev)
    tb.register("map", ev.map)
    recs = tb.map(tb.evaluate, ["adam", NoOp])
    assert [r.status for r in recs] == ["ok", "ok"] and ev.calls == 2
    assert recs[0].extra["batch_size"] == 2  # batched, not one by one


def test_finished_runs_are_dropped_from_the_ensemble(digits):
    nan = torch_factory(NaNAfter, n=3)
    cfg = tiny(dropout=0.0, screen_cut_step=1000)
    kw = dict(run_steps=16, total_steps=40, warmup_steps=4, mode="screen")
    runs = train_members([(nan, 0.1), (BASELINES["adam"], 0.05), (nan, 0.1)], digits, cfg, **kw)
    alone = train_members([(BASELINES["adam"], 0.05)], digits, cfg, **kw)
    assert [r["status"] for r in runs] == ["failed", "ok", "failed"]
    assert runs[1]["notes"]["compactions"] == 1 and runs[1]["steps"] == 16
    assert runs[1]["train_loss"] == pytest.approx(alone[0]["train_loss"], rel=0.05)


def test_config_presets_and_validation():
    paper = SurrogateConfig.preset("paper")
    assert paper == SurrogateConfig()
    assert (paper.base, paper.batch_size, paper.screen_steps, paper.total_steps, paper.warmup_steps) == (
        48, 128, 800, 8000, 800)
    assert paper.screen_lrs_first == (10.0, 0.01, 1e-5) and paper.screen_lrs_second == (1.0, 0.1, 1e-3, 1e-4)
    assert (paper.screen_threshold_first, paper.screen_threshold_second, paper.stop_threshold) == (0.25, 0.4, 0.4)
    assert (paper.screen_cut_step, paper.stop_check_after) == (600, 1000)
    assert SurrogateConfig.preset("smoke").dataset == "digits"
    json.dumps(paper.to_dict())
    with pytest.raises(GpOptError, match="preset"):
        SurrogateConfig.preset("huge")
    with pytest.raises(GpOptError, match="screen_steps"):
        SurrogateConfig(screen_steps=9000)


def test_make_evaluator_is_a_genome_to_record_callable():
    ev = make_evaluator(tiny())
    rec = ev(NoOp)
    assert isinstance(rec, FitnessRecord) and ev.calls == 1


def test_genome_through_the_same_path(digits):
    optim = pytest.importorskip("gp_opt.optim")
    if not hasattr(optim, "EvolvedOptimizer"):
        pytest.skip("gp_opt.optim.EvolvedOptimizer not available yet")
    from gp_opt.genome import OptimizerGenome

    genome = OptimizerGenome.random(np.random.default_rng(0))
    rec = evaluate(genome, tiny(), data=digits)
    assert rec.status in ("ok", "rejected", "failed")
    json.dumps(rec.to_dict())


def test_plugs_into_particle_search():
    optim = pytest.importorskip("gp_opt.optim")
    if not hasattr(optim, "EvolvedOptimizer"):
        pytest.skip("gp_opt.optim.EvolvedOptimizer not available yet")
    for mod in ("gp_opt.mutation", "gp_opt.symbolic", "gp_opt.integrity"):
        pytest.importorskip(mod)  # the search's own dependencies, written by others
    search = pytest.importorskip("gp_opt.search")
    tb = search.make_toolbox(make_evaluator(tiny(screen_steps=8, screen_cut_step=6, total_steps=16,
                                                 stop_check_after=8, eval_every=8)))
    particles, logbook = search.particle_search(tb, 2, 1, 1, init_factor=1, verbose=False, rng=0)
    assert len(particles) == 2 and len(logbook) == 2


# ----------------------------------------------------------------------------------------------
# GPU
# ----------------------------------------------------------------------------------------------

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.mark.gpu
@cuda
def test_gpu_ensemble_matches_cpu_trend_bf16():
    cfg = tiny(device="cuda")
    data = get_device_data(cfg)
    assert data.device.type == "cuda"
    runs = train_runs([0.05, 1e-4], BASELINES["adam"], data, cfg, run_steps=16, total_steps=40, warmup_steps=4)
    assert runs[0]["train_acc"] > runs[1]["train_acc"]


@pytest.mark.gpu
@cuda
@pytest.mark.parametrize("flags", [dict(), dict(cuda_graphs=True), dict(channels_last=True, bf16=False)])
def test_gpu_protocol(flags):
    rec = evaluate("adam", SurrogateConfig.preset("smoke", device="cuda", **flags))
    assert rec.status == "ok" and rec.fitness > 0.5, rec.reason
    assert rec.extra["device"].startswith("cuda")


def test_report_helpers_for_the_command_line(digits):
    import io

    from gp_opt.surrogate.console import ProgressLine, format_record, resolve_spec

    buf = io.StringIO()
    rec = evaluate(NoOp, tiny(), data=digits, progress=ProgressLine(buf, every=0.0))
    text = format_record(rec)
    assert "status: rejected" in text and "screen1" in text and "cut" in text
    assert "[screen1] step 4/16" in buf.getvalue()
    assert resolve_spec("Adam") == "adam" and resolve_spec("nesterov") == "nesterov"
