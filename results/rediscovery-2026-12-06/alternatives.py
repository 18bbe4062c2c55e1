"""Would another behavioural distance open a path to Adam and RMSProp? (issue 20, "use what it shows")

landscape.py shows that with the search panel's distance only 2 of Adam's 72 valid one-edit
neighbours are closer to it than the plateau of sign-like updates every search ends on. This
script asks whether that is a property of the distance or of the search space, by scoring the
same three groups -- the targets' one-edit neighbours, the plateau genomes the 5,000-candidate
regularized-evolution seeds ended on (campaigns/*-regularized-5000.json.gz), and random genomes
-- under distances a rediscovery fitness could use instead:

* ``search``      the search panel as committed (trajectories, 3 problems x 2 noise x 2 rates);
* ``noisy3``      the same problems, noise 0 / 0.5 / 2 and rates 0.1 / 0.01 / 0.001;
* ``diag_noisy``  an axis-aligned quadratic instead of the rotated one, noise 0.5 / 2 / 5
                  (low signal-to-noise, where Adam's |v_hat|/sqrt(s_hat) shrinks and sign does not);
* ``lowlr``       rates 1e-3 / 1e-4, 30 steps;
* ``lr-free``     the search panel, each candidate at the best of 13 learning-rate multipliers
                  10^-3 .. 10^3 (a distance blind to the update's overall scale);
* ``forced-rel``, ``forced-cos``  no feedback: every candidate's update is computed along the
                  *target's* trajectory (teacher forcing), compared per run by relative error or
                  by 1 - cosine over the run's steps and parameters.

Then it draws random genomes (SPEC 2's probabilities, as random search does) and counts those
within a few distances of Adam on the search panel.

    python results/rediscovery-2026-12-06/alternatives.py [--random 60000] > alternatives.txt
"""
from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from landscape import neighbours  # noqa: E402

from gp_opt import behaviour  # noqa: E402
from gp_opt.behaviour import SEARCH_PANEL, Panel, panel_data  # noqa: E402
from gp_opt.genome import OptimizerGenome  # noqa: E402
from gp_opt.integrity import GraphBatch, Plan  # noqa: E402
from gp_opt.rediscover import resolve  # noqa: E402

PANELS = {
    "search": SEARCH_PANEL,
    "noisy3": Panel("noisy3", noise=(0.0, 0.5, 2.0), learning_rates=(0.1, 0.01, 0.001)),
    "diag_noisy": Panel("diag_noisy", problems=("quadratic_diag", "logistic", "mlp"), noise=(0.5, 2.0, 5.0)),
    "lowlr": Panel("lowlr", noise=(0.0, 1.0), learning_rates=(0.001, 0.0001), steps=30),
}
MULTIPLIERS = [10.0 ** k for k in np.arange(-3, 3.01, 0.5)]


def trajectory_distance(genomes, target_positions, panel) -> np.ndarray:
    """The committed distance's formula (distance.py) against given target positions."""
    traj = behaviour.fingerprint(genomes, panel)
    x0 = panel_data(panel).x0[None, None]
    pos, ref = traj.positions, target_positions[None]
    num = ((pos - ref) ** 2).sum((1, 3)).sqrt()
    scale = torch.maximum(((pos - x0) ** 2).sum((1, 3)).sqrt(), ((ref - x0) ** 2).sum((1, 3)).sqrt())
    d = (num / scale.clamp_min(1e-30)).mean(1)
    d[~torch.isfinite(d)] = float("inf")
    return d.numpy()


def lr_free_distance(genomes, target) -> np.ndarray:
    ref = behaviour.fingerprint([target], SEARCH_PANEL).positions[0]
    best = np.full(len(genomes), np.inf)
    for c in MULTIPLIERS:
        panel = dataclasses.replace(SEARCH_PANEL, learning_rates=tuple(lr * c for lr in SEARCH_PANEL.learning_rates))
        best = np.minimum(best, trajectory_distance(genomes, ref, panel))
    return best


def forced_updates(genomes, panel, positions) -> torch.Tensor:
    """U of every genome along ``positions [steps, runs, dim]`` (the target's): [C, steps, runs, dim]."""
    data = panel_data(panel)
    out = torch.full((len(genomes), panel.steps, panel.runs, panel.dim), float("nan"), dtype=torch.float64)
    plans, index = [], []
    for i, g in enumerate(genomes):
        try:
            plan = Plan(g, panel.steps, range(panel.steps))
        except Exception:  # noqa: BLE001 - cannot run: stays NaN, infinitely far
            continue
        if plan.reason is None:
            plans.append(plan)
            index.append(i)
    C, R, n = len(plans), panel.runs, panel.dim
    engine = GraphBatch(plans, plans[0].genome.grammar, (R, n), seed=panel.seed, dtype=torch.float64)
    sign = torch.tensor([float(p.sign) for p in plans], dtype=torch.float64)[:, None, None]
    state = engine.init_state()
    x = data.x0.expand(C, R, n).clone()
    for t in range(panel.steps):
        g = torch.empty_like(x)
        for rows, grad in data.grads:
            part = x[:, rows]
            g[:, rows] = grad(part.reshape(-1, n)).reshape(part.shape)
        out[index, t] = sign * engine.update(g + data.noise[t], x, state, t)
        x = positions[t].expand(C, R, n).clone()
    return out


def forced_distance(genomes, target, mode: str) -> np.ndarray:
    panel = SEARCH_PANEL
    positions = behaviour.fingerprint([target], panel).positions[0]
    uc, ut = forced_updates(genomes, panel, positions), forced_updates([target], panel, positions)
    norm_c, norm_t = (uc ** 2).sum((1, 3)).sqrt(), (ut ** 2).sum((1, 3)).sqrt()
    if mode == "rel":
        d = ((uc - ut) ** 2).sum((1, 3)).sqrt() / torch.maximum(norm_c, norm_t).clamp_min(1e-300)
    else:
        d = 1 - (uc * ut).sum((1, 3)) / (norm_c * norm_t).clamp_min(1e-300)
    d = d.mean(1)
    d[~torch.isfinite(d)] = float("inf")
    return d.numpy()


def distances(kind: str, genomes, target) -> np.ndarray:
    if kind in PANELS:
        return behaviour.distance(genomes, target, PANELS[kind])
    if kind == "lr-free":
        return lr_free_distance(genomes, target)
    return forced_distance(genomes, target, kind.split("-")[1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--random", type=int, default=60000, help="random genomes drawn for the last table")
    args = ap.parse_args(argv)
    print("distance     | target  | plateau genomes (4 seeds)  | neighbours closer than the best plateau | "
          "neighbour median | 300 random: min, median, closer than the plateau | nearest neighbours")
    for name in ("Adam", "RMSProp"):
        target = resolve(name, None)
        labelled = neighbours(target.genome, target.grammar)
        kids = [g for _, g in labelled]
        doc = json.loads(gzip.open(HERE / "campaigns" / f"{name}-regularized-5000.json.gz").read())
        plateau = [OptimizerGenome.from_dict(s["best_genome"], target.grammar) for s in doc["seeds"]]
        rng = np.random.default_rng(0)
        rand = [OptimizerGenome.random(rng, target.grammar) for _ in range(300)]
        for kind in (*PANELS, "lr-free", "forced-rel", "forced-cos"):
            dk, dp, dr = (distances(kind, group, target.genome) for group in (kids, plateau, rand))
            fk, fr, best = np.isfinite(dk), np.isfinite(dr), float(np.min(dp))
            near = ", ".join(f"{labelled[j][0]} {dk[j]:.3g}" for j in np.argsort(dk)[:3])
            print(f"{kind:12s} | {name:7s} | {' '.join(f'{x:.3f}' for x in dp)} | {(dk < best).sum()} of {len(kids)} | "
                  f"{np.median(dk[fk]):.3f} | {dr[fr].min():.3f}, {np.median(dr[fr]):.3f}, {(dr < best).sum()} | {near}")
    target = resolve("Adam", None)
    rng = np.random.default_rng(1)
    t0 = time.process_time()
    drawn = [OptimizerGenome.random(rng, target.grammar) for _ in range(args.random)]
    d = behaviour.distance(drawn, target.genome)
    print(f"\n{args.random} random genomes (SPEC 2's draw, seed 1; {time.process_time() - t0:.0f} CPU-s), "
          f"distance to Adam on the search panel:")
    for thr in (0.02, 0.11, 0.15, 0.18, 0.25):
        print(f"  below {thr}: {(d < thr).sum()}")
    for j in np.argsort(d)[:5]:
        print(f"  {d[j]:.4f}  {drawn[j]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
