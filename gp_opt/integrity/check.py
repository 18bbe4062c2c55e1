"""The batched check: :func:`check_many` and :func:`check`."""
from __future__ import annotations

import math
import warnings
from typing import Iterable

import numpy as np
import torch

from gp_opt.errors import GpOptError
from gp_opt.genome import OptimizerGenome
from gp_opt.integrity.config import DEFAULT_CONFIG, IntegrityConfig, IntegrityResult, schedule_tables
from gp_opt.integrity.plan import Plan
from gp_opt.integrity.batch import GraphBatch


# ---------------------------------------------------------------- the check

def failed_result(reason: str, sign: int = 1) -> IntegrityResult:
    return IntegrityResult(passed=False, flipped=False, losses={}, sign=sign, reason=reason)


def judge(sign: int, losses: dict, cfg: IntegrityConfig) -> IntegrityResult:
    lrs = cfg.learning_rates

    def ok(s):
        return any(math.isfinite(losses[(s, lr)]) and losses[(s, lr)] < cfg.threshold for lr in lrs)

    if ok(sign):
        return IntegrityResult(True, False, losses, sign)
    if ok(-sign):
        return IntegrityResult(True, True, losses, -sign)
    finite = [v for v in losses.values() if math.isfinite(v)]
    reason = ("no run finite" if not finite else
              f"best final f {min(finite):.4g} is not below {cfg.threshold:g} with either sign")
    return IntegrityResult(False, False, losses, sign, reason)


def prepare_plan(genome: OptimizerGenome, cfg: IntegrityConfig) -> Plan | str:
    """The genome's plan, or why it cannot be checked (a failure, not an exception)."""
    if cfg.validate:
        try:
            genome.validate()
        except GpOptError as exc:
            return f"invalid genome: {exc}"
    plan = Plan(genome, cfg.decay_steps, range(cfg.steps))
    return plan if plan.reason is None else f"invalid genome: {plan.reason}"


def _run_batch(plans: list[Plan], cfg: IntegrityConfig) -> torch.Tensor:
    """Final f of every run: ``[C, 2 * len(learning_rates)]`` (own sign first, then flipped)."""
    dtype = cfg.torch_dtype
    grammar = plans[0].genome.grammar
    L = len(cfg.learning_rates)
    R, n = 2 * L, len(cfg.x0)
    C = len(plans)
    eng = GraphBatch(plans, grammar, (R, n), cfg.seed, dtype)
    b = torch.tensor(cfg.shift, dtype=dtype)
    x = torch.tensor(cfg.x0, dtype=dtype).expand(C, R, n).clone()
    row_sign = torch.tensor([1.0] * L + [-1.0] * L, dtype=dtype)
    signs = torch.tensor([float(p.sign) for p in plans], dtype=dtype)
    sign = (signs[:, None] * row_sign[None, :])[:, :, None]                  # [C, R, 1]
    lrt, mu = schedule_tables(cfg)                                                 # [steps, R]
    coef = (sign[None] * lrt[:, None, :, None]).unbind(0)                     # steps x [C, R, 1]
    kinds = [p.momentum for p in plans]
    present = set(kinds)
    is_none = torch.tensor([k == "none" for k in kinds])[:, None, None]
    is_mom = torch.tensor([k == "momentum" for k in kinds])[:, None, None]
    m = torch.zeros_like(x)
    state = eng.init_state()
    for t in range(cfg.steps):
        g = 2.0 * (x - b)
        U = eng.update(g, x, state, t)
        step = coef[t] * U
        if present == {"none"}:
            x = x - step
            continue
        m = mu[t] * m - step
        if present == {"momentum"}:
            x = x + m
        elif present == {"nesterov"}:
            x = x + mu[t] * m - step
        else:
            x = torch.where(is_none, x - step, torch.where(is_mom, x + m, x + mu[t] * m - step))
    return ((x - b) ** 2).sum(-1)


def _losses(row: list[float], sign: int, cfg: IntegrityConfig) -> dict[tuple[int, float], float]:
    L = len(cfg.learning_rates)
    return {(sign if r < L else -sign, cfg.learning_rates[r % L]): f for r, f in enumerate(row)}


def sign_of(genome: OptimizerGenome) -> int:
    return genome.sign if genome.sign in (1, -1) else 1


def check_many(genomes: Iterable[OptimizerGenome], config: IntegrityConfig | None = None) -> list[IntegrityResult]:
    """Integrity-check many genomes in batched tensor computations; results in input order.

    Never raises for a numerically bad genome (NaN/inf is a failure); a genome that cannot run
    (a cycle, a wrong arity, a decay function leaving [0, 1], ...) fails with ``reason`` naming
    the problem. With ``config.validate`` the whole genome is validated first, inactive nodes too.
    A genome's result does not depend on the other genomes in the call.
    """
    cfg = config or DEFAULT_CONFIG
    genomes = list(genomes)
    results: list[IntegrityResult | None] = [None] * len(genomes)
    todo: dict[int, list[tuple[int, Plan]]] = {}
    for i, g in enumerate(genomes):
        plan = prepare_plan(g, cfg)
        if isinstance(plan, str):
            results[i] = failed_result(plan, sign_of(g))
        else:
            todo.setdefault(id(g.grammar), []).append((i, plan))
    with warnings.catch_warnings(), np.errstate(all="ignore"), torch.no_grad():
        warnings.simplefilter("ignore")
        for items in todo.values():
            for start in range(0, len(items), cfg.batch_size):
                chunk = items[start:start + cfg.batch_size]
                final = _run_batch([p for _, p in chunk], cfg).tolist()
                for (i, plan), row in zip(chunk, final):
                    results[i] = judge(plan.sign, _losses(row, plan.sign, cfg), cfg)
    return results  # type: ignore[return-value]


def check(genome: OptimizerGenome, config: IntegrityConfig | None = None) -> IntegrityResult:
    """Integrity-check one genome (SPEC section 5). See :func:`check_many`."""
    return check_many([genome], config)[0]
