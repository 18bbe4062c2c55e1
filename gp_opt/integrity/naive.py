"""The reference engine: one run per learning rate and sign, a plain loop over the steps."""
from __future__ import annotations

import math
import warnings

import numpy as np
import torch

from gp_opt.genome import OUTPUT, OptimizerGenome
from gp_opt.integrity.config import DEFAULT_CONFIG, IntegrityConfig, IntegrityResult, schedule_tables, lr_schedule
from gp_opt.integrity.plan import Plan, PlanCtx, full_like, dropout_mask, operand_program
from gp_opt.integrity.check import failed_result, judge, prepare_plan, sign_of


# ---------------------------------------------------------------- the naive reference

class _NaiveRunner:
    """One genome compiled once; ``run(lr, sign, row)`` is one optimizer run on a 5-vector."""

    def __init__(self, plan: Plan, cfg: IntegrityConfig):
        self.plan, self.cfg = plan, cfg
        self.dtype = cfg.torch_dtype
        grammar = plan.genome.grammar
        self.shape = (2 * len(cfg.learning_rates), len(cfg.x0))
        self.program = operand_program(grammar, plan.operands)
        self.nodes = []
        for node, op, edges in plan.order:
            ins = [(src, None if dec is None else dec.to(self.dtype).tolist()) for src, dec in edges]
            self.nodes.append((node, grammar.op(op).torch, ins))
        self.mu = schedule_tables(cfg)[1]

    def run(self, lr: float, sign: int, row: int) -> float:
        cfg, dtype = self.cfg, self.dtype
        ctx = PlanCtx(lambda node, call, p: dropout_mask(cfg.seed, node, call, p, cfg.steps,
                                                      self.shape, dtype)[:, row])
        b = torch.tensor(cfg.shift, dtype=dtype)
        x = torch.tensor(cfg.x0, dtype=dtype)
        m = torch.zeros_like(x)
        state = self.program.init_state(x)
        momentum = self.plan.momentum
        lrs = [lr_schedule(lr, t, cfg.steps, cfg.warmup, cfg.hold, cfg.lr_offset) for t in range(cfg.steps)]
        for t in range(cfg.steps):
            g = 2.0 * (x - b)
            vals = self.program(g, x, state, t)
            for node, fn, ins in self.nodes:
                args = []
                for src, dec in ins:
                    v = full_like(vals[src], x)
                    args.append(v if dec is None else v * dec[t])
                ctx.begin(node, t)
                vals[node] = full_like(fn(*args, ctx=ctx), x)
            step = (sign * lrs[t]) * vals[OUTPUT]
            if momentum == "none":
                x = x - step
            elif momentum == "momentum":
                m = self.mu[t] * m - step
                x = x + m
            else:
                m = self.mu[t] * m - step
                x = x + self.mu[t] * m - step
        return float(((x - b) ** 2).sum())


def naive_check(genome: OptimizerGenome, config: IntegrityConfig | None = None,
                early_exit: bool = False) -> IntegrityResult:
    """The reference check: one optimizer run per learning rate and sign, a plain loop over the
    steps on a 5-vector (12 runs; with ``early_exit`` it stops at the first passing run, as a
    plain loop would). Same maths and dropout masks as :func:`check_many`."""
    cfg = config or DEFAULT_CONFIG
    plan = prepare_plan(genome, cfg)
    if isinstance(plan, str):
        return failed_result(plan, sign_of(genome))
    L = len(cfg.learning_rates)
    losses = {}
    with warnings.catch_warnings(), np.errstate(all="ignore"), torch.no_grad():
        warnings.simplefilter("ignore")
        runner = _NaiveRunner(plan, cfg)
        for r in range(2 * L):
            s = plan.sign if r < L else -plan.sign
            lr = cfg.learning_rates[r % L]
            f = runner.run(lr, s, r)
            losses[(s, lr)] = f
            if early_exit and math.isfinite(f) and f < cfg.threshold:
                return IntegrityResult(True, r >= L, losses, s)
    return judge(plan.sign, losses, cfg)
