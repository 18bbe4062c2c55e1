"""Never evaluate the same optimizer twice: behavioural fingerprints and the fitness cache.

Two keys identify an optimizer:

* the **canonical key** (:func:`gp_opt.symbolic.canonical_key`): equal when the simplified
  equations are equal;
* the **fingerprint** (:func:`fingerprint`): the update ``sign * U`` evaluated on a fixed,
  seeded random probe -- a few steps of gradients and weights, with the moving averages, the
  stateful ops, the decay functions (read at steps spread over ``T = 100``) and seeded dropout
  -- rounded to ``digits`` significant bits, hashed together with the momentum type.

**Two genomes with equal fingerprints are treated as the same optimizer**, even when their
equations differ (e.g. ``max(x, y)`` vs ``max(y, x)``, ``relu(exp(x))`` vs ``exp(x)``, or an
inactive node changed). This is deliberate: the probe mixes signs and magnitudes from 1e-3 to
1e3 so that genuinely different updates (a 1e-6 weight-decay term included) disagree somewhere.
Rounding absorbs float noise, but a value that sits on a rounding boundary can still make two
equal optimizers look different; that costs one extra evaluation, never a wrong fitness.

>>> from gp_opt.genome import OptimizerGenome
>>> a = OptimizerGenome.from_nodes({"h0": ("identity", ["g"]), "out": ("identity", ["h0"])})
>>> b = OptimizerGenome.from_nodes({"h0": ("neg", ["g"]), "out": ("neg", ["h0"])})
>>> fingerprint(a) == fingerprint(b)
True
"""
from __future__ import annotations

import hashlib
import math
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch

from gp_opt import integrity
from gp_opt.errors import CheckpointError
from gp_opt.fitness import FitnessRecord
from gp_opt.genome import OptimizerGenome

__all__ = ["ProbeConfig", "fingerprint", "fingerprint_many", "canonical_key", "keys", "keys_many",
           "FitnessCache"]

FINGERPRINT_PREFIX = "fp1:"
CANONICAL_PREFIX = "eq:"


@dataclass(frozen=True)
class ProbeConfig:
    """The fixed probe: ``size`` values per step over ``steps`` steps, seeded by ``seed``; decay
    functions read at ``steps`` points spread over ``0..decay_T-1``; values rounded to ``bits``
    significant bits (values below ``floor`` in magnitude count as 0)."""

    size: int = 24
    steps: int = 6
    seed: int = 20240917
    decay_T: int = 100
    bits: int = 30
    floor: float = 1e-12

    def decay_ts(self) -> list[int]:
        if self.steps == 1:
            return [0]
        return [round(k * (self.decay_T - 1) / (self.steps - 1)) for k in range(self.steps)]


DEFAULT_PROBE = ProbeConfig()
_PROBES: dict[ProbeConfig, tuple[torch.Tensor, torch.Tensor]] = {}


def _probe(cfg: ProbeConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradients and weights ``[steps, size]``: mixed signs, magnitudes 1e-3..1e1 (g) and
    1e0..1e3 (w), so that tiny weight-decay terms still show."""
    if cfg not in _PROBES:
        gen = torch.Generator().manual_seed(cfg.seed)
        shape = (cfg.steps, cfg.size)

        def draw(lo: float, hi: float) -> torch.Tensor:
            sign = torch.where(torch.rand(shape, generator=gen, dtype=torch.float64) < 0.5, -1.0, 1.0)
            mag = 10.0 ** (lo + (hi - lo) * torch.rand(shape, generator=gen, dtype=torch.float64))
            return sign * mag

        _PROBES[cfg] = (draw(-3.0, 1.0), draw(0.0, 3.0))
    return _PROBES[cfg]


def _digest(values: np.ndarray, momentum: str, cfg: ProbeConfig) -> str:
    v = np.array(values, dtype=np.float64)
    finite = np.isfinite(v)
    v[finite & (np.abs(v) < cfg.floor)] = 0.0
    mant, expo = np.frexp(np.where(finite, v, 0.0))
    q = np.round(mant * (1 << cfg.bits)).astype(np.int64)
    # rounding the mantissa up to 1.0 must give the same code as the next power of two
    carry = np.abs(q) == (1 << cfg.bits)
    q = np.where(carry, q // 2, q)
    expo = np.where(carry, expo + 1, expo)
    special = np.where(finite, 0, np.where(np.isnan(v), 1, np.where(v > 0, 2, 3)))
    h = hashlib.sha256()
    h.update(momentum.encode())
    h.update(np.ascontiguousarray(q).tobytes())
    h.update(np.ascontiguousarray(expo.astype(np.int64)).tobytes())
    h.update(np.ascontiguousarray(special.astype(np.int8)).tobytes())
    return FINGERPRINT_PREFIX + h.hexdigest()[:40]


def fingerprint_many(genomes: Iterable[OptimizerGenome], probe: ProbeConfig | None = None) -> list[str]:
    """Fingerprints of many genomes, computed in one batched evaluation (see :func:`fingerprint`).
    A genome that cannot run (a cycle, a decay leaving [0, 1]) gets a fingerprint of its JSON."""
    cfg = probe or DEFAULT_PROBE
    genomes = list(genomes)
    out: list[str | None] = [None] * len(genomes)
    plans: dict[int, list[tuple[int, integrity.Plan]]] = {}
    ts = cfg.decay_ts()
    for i, g in enumerate(genomes):
        plan = integrity.Plan(g, cfg.decay_T, ts)
        if plan.reason is not None:
            out[i] = "bad:" + hashlib.sha256(g.to_json().encode()).hexdigest()[:40]
        else:
            plans.setdefault(id(g.grammar), []).append((i, plan))
    gs, ws = _probe(cfg)
    with warnings.catch_warnings(), np.errstate(all="ignore"), torch.no_grad():
        warnings.simplefilter("ignore")
        for items in plans.values():
            batch = [p for _, p in items]
            C = len(batch)
            eng = integrity.GraphBatch(batch, batch[0].genome.grammar, (cfg.size,), seed=cfg.seed)
            state = eng.init_state()
            sign = torch.tensor([float(p.sign) for p in batch], dtype=torch.float64)[:, None]
            trace = torch.empty((C, cfg.steps, cfg.size), dtype=torch.float64)
            for t in range(cfg.steps):
                g = gs[t].expand(C, cfg.size)
                w = ws[t].expand(C, cfg.size)
                trace[:, t] = sign * eng.update(g, w, state, t)
            arr = trace.numpy()
            for (i, plan), row in zip(items, arr):
                out[i] = _digest(row, plan.momentum, cfg)
    return out  # type: ignore[return-value]


def fingerprint(genome: OptimizerGenome, probe: ProbeConfig | None = None) -> str:
    """The behavioural fingerprint of ``genome`` (a short string). Equal fingerprints = treated
    as the same optimizer; deterministic across processes and platforms with IEEE doubles."""
    return fingerprint_many([genome], probe)[0]


def canonical_key(genome: OptimizerGenome) -> str | None:
    """``gp_opt.symbolic.canonical_key`` (prefixed), or None if that module is not available or
    cannot handle the genome."""
    try:
        from gp_opt import symbolic
    except ImportError:
        return None
    fn = getattr(symbolic, "canonical_key", None)
    if fn is None:
        return None
    try:
        return CANONICAL_PREFIX + str(fn(genome))
    except Exception:  # a symbolic failure must not stop the search; the fingerprint still works
        return None


def keys(genome: OptimizerGenome, use_canonical: bool = True) -> list[str]:
    """The cache keys of ``genome``: its canonical key (if available) and its fingerprint."""
    out = []
    if use_canonical:
        k = canonical_key(genome)
        if k is not None:
            out.append(k)
    out.append(fingerprint(genome))
    return out


def keys_many(genomes: Iterable[OptimizerGenome], use_canonical: bool = True) -> list[list[str]]:
    """:func:`keys` of many genomes, the fingerprints computed in one batched evaluation."""
    genomes = list(genomes)
    fps = fingerprint_many(genomes)
    if not use_canonical:
        return [[fp] for fp in fps]
    out = []
    for g, fp in zip(genomes, fps):
        k = canonical_key(g)
        out.append([k, fp] if k is not None else [fp])
    return out


class FitnessCache:
    """Fitness records by key; a genome matching *any* key of an evaluated genome is a hit.

    >>> from gp_opt.genome import OptimizerGenome
    >>> sgd = OptimizerGenome.from_nodes({"h0": ("identity", ["g"]), "out": ("identity", ["h0"])})
    >>> cache = FitnessCache(use_canonical=False)
    >>> cache.lookup(sgd) is None
    True
    >>> cache.store(sgd, FitnessRecord(0.9))
    >>> cache.lookup(sgd).fitness, cache.hits, cache.misses
    (0.9, 1, 1)
    >>> FitnessCache.from_dict(cache.to_dict()).lookup(sgd).fitness
    0.9
    """

    VERSION = 1

    def __init__(self, use_canonical: bool = True,
                 key_fn: Callable[[OptimizerGenome], Sequence[str]] | None = None):
        self.use_canonical = use_canonical
        self._key_fn = key_fn
        self._records: list[FitnessRecord] = []
        self._index: dict[str, int] = {}
        self.hits = 0
        self.misses = 0

    def keys(self, genome: OptimizerGenome) -> list[str]:
        if self._key_fn is not None:
            return list(self._key_fn(genome))
        return keys(genome, self.use_canonical)

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, key: str) -> bool:
        return key in self._index

    def get(self, key: str) -> FitnessRecord | None:
        """The record stored under ``key`` (no hit counted)."""
        i = self._index.get(key)
        return None if i is None else self._records[i]

    def lookup(self, genome: OptimizerGenome | None = None, keys: Sequence[str] | None = None,
               count: bool = True) -> FitnessRecord | None:
        """The record of an already-evaluated optimizer matching any of ``keys`` (default: the
        genome's keys), or None. A hit also files the record under the keys it lacked."""
        ks = list(keys) if keys is not None else self.keys(genome)  # type: ignore[arg-type]
        for k in ks:
            i = self._index.get(k)
            if i is not None:
                for other in ks:
                    self._index.setdefault(other, i)
                if count:
                    self.hits += 1
                return self._records[i]
        if count:
            self.misses += 1
        return None

    def store(self, genome: OptimizerGenome | None, record: FitnessRecord,
              keys: Sequence[str] | None = None) -> None:
        """File ``record`` under every key of ``genome`` (or the given ``keys``)."""
        ks = list(keys) if keys is not None else self.keys(genome)  # type: ignore[arg-type]
        if not ks:
            return
        self._records.append(record)
        i = len(self._records) - 1
        for k in ks:
            self._index[k] = i

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (records stored once, keys point at them)."""
        return {"version": self.VERSION, "hits": self.hits, "misses": self.misses,
                "use_canonical": self.use_canonical,
                "records": [r.to_dict() for r in self._records], "index": dict(self._index)}

    @classmethod
    def from_dict(cls, data: Any) -> "FitnessCache":
        """Inverse of :meth:`to_dict`; raises :class:`CheckpointError` on a malformed dict."""
        if not isinstance(data, dict) or data.get("version") != cls.VERSION:
            raise CheckpointError(f"fitness cache: expected a dict with version {cls.VERSION}, got "
                                  f"{type(data).__name__ if not isinstance(data, dict) else data.get('version')!r}")
        try:
            cache = cls(use_canonical=bool(data.get("use_canonical", True)))
            cache._records = [FitnessRecord.from_dict(r) for r in data["records"]]
            index = {str(k): int(v) for k, v in data["index"].items()}
            cache.hits, cache.misses = int(data.get("hits", 0)), int(data.get("misses", 0))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CheckpointError(f"fitness cache: malformed: {exc}") from None
        if any(not 0 <= v < len(cache._records) for v in index.values()):
            raise CheckpointError("fitness cache: an index entry points at no record")
        cache._index = index
        return cache
