"""The toy task: small integer vectors, a cheap demo and test bed of the search machinery."""
from __future__ import annotations

import collections
import os
import time
from typing import Any, Callable

import numpy as np
from deap import base

from ..errors import GpOptError
from ..fitness import FitnessRecord


class ToyEvaluate:
    """Cheap fitness of an integer vector: ``-sum((x - target)^2)``; a vector whose first entry is
    ``reject_value`` fails the 'screen'. Optional ``delay`` seconds per evaluation and an
    ``eval_log`` file getting one line per real evaluation (used by the kill-and-resume test).
    ``noise``: the standard deviation of a normal noise added to the fitness, drawn from the
    evaluation seed (a noisy fitness for the noise-aware selection's tests)."""

    def __init__(self, dim: int = 8, seed: int = 0, delay: float = 0.0, eval_log: str | None = None,
                 reject_value: int = 7, noise: float = 0.0):
        self.target = np.random.default_rng(seed + 1).integers(-10, 11, size=dim)
        self.delay = delay
        self.eval_log = eval_log
        self.reject_value = reject_value
        self.noise = noise

    def __call__(self, payload: tuple[int, ...], seed: int | None = None) -> FitnessRecord:
        t0 = time.perf_counter()
        if self.delay:
            time.sleep(self.delay)
        if self.eval_log:
            with open(self.eval_log, "a", encoding="utf-8") as fh:
                fh.write(toy_key(payload) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        extra = {"seed": seed} if seed is not None else {}
        if payload[0] == self.reject_value:
            return FitnessRecord.rejected("toy screen: first entry is the reject value",
                                          seconds=time.perf_counter() - t0, extra=extra)
        x = np.asarray(payload)
        fit = -float(((x - self.target) ** 2).sum())
        sse = -fit
        if self.noise:
            fit += self.noise * float(np.random.default_rng(seed or 0).standard_normal())
        return FitnessRecord(fitness=fit, stages=[{"sse": sse}], seconds=time.perf_counter() - t0, extra=extra)


def toy_key(payload: tuple[int, ...]) -> str:
    return ",".join(map(str, payload))


def _toy_random(rng: np.random.Generator, dim: int, tally: collections.Counter | None = None) -> tuple[int, ...]:
    while True:
        x = tuple(int(v) for v in rng.integers(-10, 11, size=dim))
        if sum(x) % 5 != 0:  # the toy 'integrity check'
            return x
        if tally is not None:
            tally["integrity_rejections"] += 1


def _toy_population(rng: np.random.Generator, n: int, tally: collections.Counter | None = None,
                    dim: int = 8) -> list[tuple[int, ...]]:
    """``n`` random vectors (the draws of ``n`` calls of ``individual``), the rejected ones counted."""
    return [_toy_random(rng, dim, tally) for _ in range(n)]


def _toy_mutate(payload: tuple[int, ...], rng: np.random.Generator, history: Any,
                tally: collections.Counter | None = None, tries: int = 100) -> tuple[int, ...]:
    for _ in range(tries):
        x = list(payload)
        i = int(rng.integers(len(x)))
        x[i] = int(np.clip(x[i] + int(rng.choice([-2, -1, 1, 2])), -10, 10))
        child = tuple(x)
        if sum(child) % 5 == 0:
            if tally is not None:
                tally["integrity_rejections"] += 1
            continue
        if toy_key(child) in history:
            if tally is not None:
                tally["duplicates"] += 1
            continue
        return child
    raise GpOptError(f"no valid new neighbour of {payload} in {tries} tries")


def _toy_neighbours(payload: tuple[int, ...], history: Any, tally: collections.Counter | None = None) -> list[tuple[int, ...]]:
    """Every vector one mutation away (one entry moved by -2, -1, 1 or 2, within [-10, 10]) that
    passes the 'integrity check' and is new in the history."""
    out = []
    for i in range(len(payload)):
        for step in (-2, -1, 1, 2):
            x = list(payload)
            x[i] = int(np.clip(x[i] + step, -10, 10))
            child = tuple(x)
            if child == tuple(payload) or child in out:
                continue
            if sum(child) % 5 == 0:
                if tally is not None:
                    tally["integrity_rejections"] += 1
            elif toy_key(child) in history:
                if tally is not None:
                    tally["duplicates"] += 1
            else:
                out.append(child)
    return out


def make_toy_toolbox(dim: int = 8, seed: int = 0, delay: float = 0.0, eval_log: str | None = None,
                     evaluate: Callable[[Any], Any] | None = None, noise: float = 0.0) -> base.Toolbox:
    """A toolbox over small integer vectors (a stand-in for genomes in tests, demos and the
    overhead benchmark): 'integrity' rejects vectors whose sum is a multiple of 5."""
    tb = base.Toolbox()
    tb.register("individual", _toy_random, dim=dim)
    tb.register("population", _toy_population, dim=dim)
    tb.register("mutate", _toy_mutate)
    tb.register("neighbours", _toy_neighbours)
    tb.register("evaluate", evaluate if evaluate is not None else ToyEvaluate(dim, seed, delay, eval_log, noise=noise))
    tb.register("map", map)
    tb.register("serialize", list)
    tb.register("deserialize", tuple)
    tb.register("key", toy_key)
    tb.config = {"kind": "toy", "dim": dim, "seed": seed, "delay": delay, "eval_log": eval_log,
                 **({"noise": noise} if noise else {})}
    return tb


