"""Behavioural distance: optimizers compared by the parameter trajectories they produce.

Every candidate runs every run of a :class:`~gp_opt.behaviour.panel.Panel` at once: its update
graph through the integrity check's batched engine (:class:`gp_opt.integrity.GraphBatch`, one op
call per op and node position), its momentum type, its sign, the panel's one-cycle schedules.

**Distance of run r** between optimizers ``a`` and ``b`` with positions ``x_a(t)``, ``x_b(t)``
after each step ``t`` and the run's start ``x0``::

    D_r = sqrt(sum_t |x_a(t) - x_b(t)|^2) / max(M_a, M_b),    M = sqrt(sum_t |x(t) - x0|^2)

``D_r`` is 0 for equal trajectories and at most 2 (the triangle inequality), whatever the
problem's scale or the learning rate: no run dominates. The **distance** is the mean of ``D_r``
over the runs where the *target* ``b`` stays finite; it is ``inf`` when the candidate becomes
NaN/inf on any of those runs or cannot run at all (never an exception).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Iterable, Sequence, Union

import numpy as np
import torch

from gp_opt.errors import GpOptError
from gp_opt.genome import OptimizerGenome
from gp_opt.integrity import GraphBatch, Plan
from gp_opt.behaviour.panel import SEARCH_PANEL, VERIFY_PANEL, Panel, PanelData, panel_data

__all__ = ["Trajectories", "fingerprint", "distance", "distance_matrix", "behaviourally_equal",
           "DEFAULT_TOLERANCE", "BATCH_SIZE"]

#: candidates per tensor computation (memory: about 1 kB per candidate and source on the search panel)
BATCH_SIZE = 2048
#: :func:`behaviourally_equal`'s default: far above float64 rounding of reordered arithmetic,
#: far below the smallest real difference the panel shows (a 1e-6 w weight-decay term: ~1e-7)
DEFAULT_TOLERANCE = 1e-9


@dataclass
class Trajectories:
    """The behaviour of ``C`` optimizers on ``panel``: ``positions [C, steps, runs, dim]``
    (parameters after each step), ``movement [C, runs]`` (``M`` of each run) and ``finite
    [C, runs]`` (the run stayed finite). A genome that cannot run has no finite run and
    ``reasons[i]`` says why (None for those that ran)."""

    panel: Panel
    positions: torch.Tensor
    movement: torch.Tensor
    finite: torch.Tensor
    reasons: list[str | None]

    def __len__(self) -> int:
        return self.positions.shape[0]

    def __getitem__(self, i: int) -> "Trajectories":
        s = slice(i, i + 1)
        return Trajectories(self.panel, self.positions[s], self.movement[s], self.finite[s], self.reasons[s])


Target = Union[OptimizerGenome, Trajectories]


# ---------------------------------------------------------------- the batched simulation

def _plan(genome: OptimizerGenome, panel: Panel) -> Plan | str:
    try:
        plan = Plan(genome, panel.steps, range(panel.steps))
    except Exception as exc:  # noqa: BLE001 - a malformed genome is an infinitely distant one
        return f"cannot read the genome: {exc}"
    return plan if plan.reason is None else plan.reason


def _gradients(x: torch.Tensor, data: PanelData) -> torch.Tensor:
    C, R, n = x.shape
    g = torch.empty_like(x)
    for rows, grad in data.grads:
        part = x[:, rows]
        g[:, rows] = grad(part.reshape(-1, n)).reshape(part.shape)
    return g


def _simulate(plans: Sequence[Plan], panel: Panel, reference: torch.Tensor | None = None,
              keep: bool = False) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Run ``plans`` (one grammar) on every run of ``panel``. Returns ``movement^2 [C, runs]``,
    ``sum_t |x - reference(t)|^2 [C, runs]`` (with ``reference [steps, runs, dim]``) and the
    positions ``[C, steps, runs, dim]`` (with ``keep``)."""
    data = panel_data(panel)
    C, R, n = len(plans), panel.runs, panel.dim
    dt = panel.torch_dtype
    eng = GraphBatch(plans, plans[0].genome.grammar, (R, n), seed=panel.seed, dtype=dt)
    x0 = data.x0
    x = x0.expand(C, R, n).clone()
    sign = torch.tensor([float(p.sign) for p in plans], dtype=dt)[:, None, None]
    kinds = [p.momentum for p in plans]
    present = set(kinds)
    is_none = torch.tensor([k == "none" for k in kinds])[:, None, None]
    is_mom = torch.tensor([k == "momentum" for k in kinds])[:, None, None]
    m = torch.zeros_like(x) if present != {"none"} else None
    move2 = torch.zeros(C, R, dtype=dt)
    diff2 = torch.zeros(C, R, dtype=dt) if reference is not None else None
    positions = torch.empty(C, panel.steps, R, n, dtype=dt) if keep else None
    state = eng.init_state()
    for t in range(panel.steps):
        g = _gradients(x, data) + data.noise[t]
        step = (sign * data.lr[t][None, :, None]) * eng.update(g, x, state, t)
        if m is None:
            x = x - step
        else:
            mu = data.mu[t]
            m = mu * m - step
            if present == {"momentum"}:
                x = x + m
            elif present == {"nesterov"}:
                x = x + mu * m - step
            else:
                x = torch.where(is_none, x - step, torch.where(is_mom, x + m, x + mu * m - step))
        d = x - x0
        move2 += (d * d).sum(-1)
        if diff2 is not None:
            e = x - reference[t]
            diff2 += (e * e).sum(-1)
        if positions is not None:
            positions[:, t] = x
    return move2.double(), None if diff2 is None else diff2.double(), positions


def _plans(genomes: Sequence[OptimizerGenome], panel: Panel):
    """Plans grouped by grammar and cut into batches: ``[(indices, plans)]``, and the reasons of
    the genomes that cannot run."""
    reasons: list[str | None] = [None] * len(genomes)
    groups: dict[int, list[tuple[int, Plan]]] = {}
    for i, g in enumerate(genomes):
        plan = _plan(g, panel)
        if isinstance(plan, str):
            reasons[i] = plan
        else:
            groups.setdefault(id(g.grammar), []).append((i, plan))
    batches = []
    for items in groups.values():
        for k in range(0, len(items), BATCH_SIZE):
            chunk = items[k:k + BATCH_SIZE]
            batches.append(([i for i, _ in chunk], [p for _, p in chunk]))
    return batches, reasons


class _Quiet:
    """NaN/inf are results here, not errors: no warnings, no gradients; and one torch thread (the
    tensors are small: a second thread only contends, on a shared machine badly), restored after."""

    def __enter__(self):
        self._threads = torch.get_num_threads()
        if self._threads != 1:
            torch.set_num_threads(1)
        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore")
        self._np = np.errstate(all="ignore")
        self._np.__enter__()
        self._ng = torch.no_grad()
        self._ng.__enter__()

    def __exit__(self, *exc):
        self._ng.__exit__(*exc)
        self._np.__exit__(*exc)
        self._w.__exit__(*exc)
        if self._threads != 1:
            torch.set_num_threads(self._threads)


def _as_list(genomes: Iterable[OptimizerGenome] | OptimizerGenome) -> list[OptimizerGenome]:
    return [genomes] if isinstance(genomes, OptimizerGenome) else list(genomes)


# ---------------------------------------------------------------- public API

def fingerprint(genomes: Iterable[OptimizerGenome] | OptimizerGenome, panel: Panel = SEARCH_PANEL) -> Trajectories:
    """The trajectories of ``genomes`` on ``panel`` (batched; about 17 kB per genome on the
    search panel, 280 kB on the verification panel: for tens to hundreds of genomes; use
    :func:`distance` for thousands). Two genomes behave identically on the panel when their
    :func:`distance` is 0."""
    genomes = _as_list(genomes)
    C, S, R, n = len(genomes), panel.steps, panel.runs, panel.dim
    positions = torch.full((C, S, R, n), math.nan, dtype=panel.torch_dtype)
    movement = torch.full((C, R), math.nan, dtype=torch.float64)
    with _Quiet():
        batches, reasons = _plans(genomes, panel)
        for idx, plans in batches:
            move2, _, pos = _simulate(plans, panel, keep=True)
            ii = torch.tensor(idx)
            positions[ii] = pos
            movement[ii] = move2.sqrt()
    finite = torch.isfinite(positions).all(-1).all(1) & torch.isfinite(movement)
    return Trajectories(panel, positions, movement, finite, reasons)


def _run_distance(diff2: torch.Tensor, move_a: torch.Tensor, move_b: torch.Tensor, floor: float) -> torch.Tensor:
    scale = torch.maximum(move_a, move_b)
    diff = diff2.sqrt()
    return torch.where(scale > floor, diff / scale.clamp_min(floor), torch.where(diff > 0, 2.0, 0.0))


def _mean_over(dist: torch.Tensor, finite: torch.Tensor, keep: torch.Tensor) -> np.ndarray:
    """The mean of ``dist [C, runs]`` over the runs ``keep [runs]``; inf where a kept run is not finite."""
    ok = (finite | ~keep[None, :]).all(1) & torch.isfinite(dist[:, keep]).all(1)
    mean = dist[:, keep].mean(1)
    return torch.where(ok, mean, torch.full_like(mean, math.inf)).numpy().copy()


def reference_trajectories(genome: OptimizerGenome, panel: Panel = SEARCH_PANEL,
                           who: str = "behaviour", what: str = "the target") -> Trajectories:
    """``genome``'s trajectories on ``panel``, to compare others with: a :class:`GpOptError`
    (``"{who}: {what} cannot run on the panel: ..."``) when it cannot run or is finite on no run
    of the panel, since nothing could be measured against it."""
    tr = fingerprint([genome], panel)
    if tr.reasons[0] is not None:
        raise GpOptError(f"{who}: {what} cannot run on the panel: {tr.reasons[0]}")
    if not bool(tr.finite[0].any()):
        raise GpOptError(f"{who}: {what} is not finite on any run of panel {panel.name!r}")
    return tr


def _target_trajectories(target: Target, panel: Panel) -> Trajectories:
    if isinstance(target, Trajectories):
        if len(target) != 1 or target.panel != panel:
            raise GpOptError("behaviour: the target must be one genome's trajectories on the same panel")
        return target
    return reference_trajectories(target, panel)


def distance(candidates: Iterable[OptimizerGenome] | Trajectories, target: Target,
             panel: Panel = SEARCH_PANEL) -> np.ndarray:
    """The behavioural distance of every candidate to ``target`` (a genome, or its
    :class:`Trajectories` from :func:`fingerprint` to skip running it again): a float64 array,
    ``inf`` for a candidate that cannot run or turns NaN/inf where the target stays finite.

    Candidates run in batches of :data:`BATCH_SIZE` without keeping their trajectories (only
    the target's), so this is the one to call for thousands of candidates.

    >>> from gp_opt import catalog
    >>> distance([catalog.get("Adam"), catalog.get("RMSProp")], catalog.get("Adam")).round(3).tolist()
    [0.0, 0.303]
    """
    ref = _target_trajectories(target, panel)
    keep = ref.finite[0]
    ref_pos = ref.positions[0].nan_to_num(0.0)
    ref_move = ref.movement[0].nan_to_num(0.0)
    if isinstance(candidates, Trajectories):
        if candidates.panel != panel:
            raise GpOptError("behaviour: candidates' trajectories are from another panel")
        diff2 = ((candidates.positions - ref_pos[None]) ** 2).sum(-1).sum(1).double()
        dist = _run_distance(diff2, candidates.movement, ref_move[None], panel.floor)
        return _mean_over(dist, candidates.finite, keep)
    genomes = _as_list(candidates)
    out = np.full(len(genomes), math.inf)
    with _Quiet():
        batches, _ = _plans(genomes, panel)
        for idx, plans in batches:
            move2, diff2, _ = _simulate(plans, panel, reference=ref_pos)
            move = move2.sqrt()
            finite = torch.isfinite(move) & torch.isfinite(diff2)
            dist = _run_distance(diff2, move, ref_move[None], panel.floor)
            out[idx] = _mean_over(dist, finite, keep)
    return out


def distance_matrix(genomes: Iterable[OptimizerGenome] | Trajectories, panel: Panel = SEARCH_PANEL) -> np.ndarray:
    """``[C, C]`` distances between every pair (row: candidate, column: target); ``inf`` where
    the row's genome fails a run the column's stays finite on, or either cannot run."""
    tr = genomes if isinstance(genomes, Trajectories) else fingerprint(genomes, panel)
    C = len(tr)
    out = np.full((C, C), math.inf)
    with _Quiet():
        for j in range(C):
            if tr.reasons[j] is None and bool(tr.finite[j].any()):
                out[:, j] = distance(tr, tr[j], tr.panel)
    return out


def behaviourally_equal(a: OptimizerGenome, b: OptimizerGenome, tol: float = DEFAULT_TOLERANCE,
                        panel: Panel = VERIFY_PANEL) -> bool:
    """True when ``a`` and ``b`` stay finite on the same runs of ``panel`` (default: the larger
    verification panel) and their distance there is at most ``tol`` (both ways)."""
    tr = fingerprint([a, b], panel)
    if tr.reasons[0] is not None or tr.reasons[1] is not None:
        return False
    if not torch.equal(tr.finite[0], tr.finite[1]) or not bool(tr.finite[0].any()):
        return False
    d = distance_matrix(tr)
    return bool(max(d[0, 1], d[1, 0]) <= tol)
