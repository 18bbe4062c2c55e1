"""Children that pass the integrity check: many per parent, batched, and random valid genomes."""
from __future__ import annotations

import collections
import math
from typing import Any, Callable, Container, Mapping, Sequence

import numpy as np

from gp_opt import integrity
from gp_opt.errors import GpOptError
from gp_opt.genome import OUTPUT, OptimizerGenome
from gp_opt.grammar import Grammar
from gp_opt.integrity import IntegrityConfig
from gp_opt.mutation.graph import mutation_probs
from gp_opt.mutation.update import Mutator, mutate


# ---------------------------------------------------------------- valid children

def _default_key(genome: OptimizerGenome) -> str:
    from gp_opt import dedup

    return dedup.fingerprint(genome)


def mutate_many(genome: OptimizerGenome, rng: np.random.Generator, n: int,
                integrity_config: IntegrityConfig | None = None, seen: Container[str] | None = None,
                max_tries: int = 500, key: Callable[[OptimizerGenome], str] | None = None,
                stats: collections.Counter | None = None, grammar: Grammar | None = None,
                probs: Mapping[str, float] | None = None, batch: int = 8) -> list[OptimizerGenome]:
    """``n`` children of ``genome``, each passing the integrity check (sign applied), with keys not
    in ``seen`` and distinct from each other (``key`` may return one key or a list of keys: a match
    on any is a duplicate); integrity checks are batched (``batch`` mutations
    per :func:`gp_opt.integrity.check_many` call, doubling up to 64 while children are rejected).

    ``stats`` (a Counter) gets ``integrity_rejections``, ``invalid``, ``duplicates`` and
    ``mutations``. Raises :class:`GpOptError` after ``max_tries`` mutations without ``n`` children.
    """
    cfg = integrity_config or integrity.DEFAULT_CONFIG
    key = key or _default_key
    stats = stats if stats is not None else collections.Counter()
    found: list[OptimizerGenome] = []
    found_keys: set[str] = set()
    tries = 0
    size = max(1, batch)
    while len(found) < n:
        if tries >= max_tries:
            raise GpOptError(
                f"mutation: found {len(found)} of {n} valid new children in {max_tries} mutations of "
                f"{genome!r} (rejections: {stats['integrity_rejections']} integrity, {stats['invalid']} "
                f"invalid, {stats['duplicates']} duplicates); the genome may have no valid neighbour")
        kids = []
        for _ in range(min(size, max_tries - tries)):
            child, _ = mutate(genome, rng, grammar, probs)
            tries += 1
            stats["mutations"] += 1
            kids.append(child)
        results = integrity.check_many(kids, cfg)
        for child, res in zip(kids, results):
            if len(found) >= n:
                break
            if accept(child, res, key, seen, found_keys, stats):
                found.append(child)
        size = min(size * 2, 64)
    return found


def accept(child: OptimizerGenome, res: Any, key: Callable[[OptimizerGenome], Any], seen: Container[str] | None,
           taken: set[str], stats: collections.Counter) -> bool:
    """Whether ``child`` (its integrity result ``res``) is kept: it passed (the flip applied to it in
    place: the child is the caller's), and no key of it (``key`` returns one or a list: a match on
    any is a duplicate) is in ``seen`` or ``taken``; its keys then join ``taken``. A refusal is
    counted in ``stats`` (``invalid``, ``integrity_rejections``, ``duplicates``)."""
    if not res.passed:
        stats["invalid" if res.reason and res.reason.startswith("invalid genome") else "integrity_rejections"] += 1
        return False
    child.sign = res.sign
    k = key(child)
    ks = list(k) if isinstance(k, (list, tuple)) else [k]
    if (seen is not None and any(x in seen for x in ks)) or any(x in taken for x in ks):
        stats["duplicates"] += 1
        return False
    taken.update(ks)
    return True


def _as_keys(k: Any) -> list[str]:
    return list(k) if isinstance(k, (list, tuple)) else [k]


def _structure(genome: OptimizerGenome) -> tuple:
    """A hashable key of what the integrity check and the fingerprint read: momentum, sign and
    the active nodes with their ops and ordered inputs (decay functions by identity: a child
    shares its parent's unchanged ones). Equal keys = the same update; different keys may still
    compute the same thing."""
    pred, attrs = genome.graph._pred, genome.graph._node
    out, stack, seen = [], [OUTPUT], {OUTPUT}
    while stack:
        node = stack.pop()
        ins = sorted((d.get("pos", 0), src, id(d.get("decay"))) for src, d in pred[node].items())
        out.append((node, attrs[node].get("op"), tuple(ins)))
        for _, src, _ in ins:
            if src not in seen and attrs[src].get("kind") != "operand":
                seen.add(src)
                stack.append(src)
    return (genome.momentum, genome.sign, tuple(sorted(out)))


class _TorchThreads:
    """Run with ``n`` torch threads (None: unchanged), the old number restored after."""

    def __init__(self, n: int | None):
        self.n, self.old = n, None

    def __enter__(self) -> None:
        import torch

        if self.n is not None and torch.get_num_threads() != self.n:
            self.old = torch.get_num_threads()
            torch.set_num_threads(self.n)

    def __exit__(self, *exc: Any) -> None:
        import torch

        if self.old is not None:
            torch.set_num_threads(self.old)
            self.old = None


def mutate_batch(parents: Sequence[OptimizerGenome], rng: np.random.Generator,
                 seen: Sequence[Container[str] | None] | None = None,
                 integrity_config: IntegrityConfig | None = None, max_tries: int = 500,
                 key: Callable[[OptimizerGenome], Any] | None = None,
                 key_many: Callable[[list[OptimizerGenome]], list[Any]] | None = None,
                 stats: collections.Counter | None = None, grammar: Grammar | None = None,
                 probs: Mapping[str, float] | None = None, overdraw: float = 2.5,
                 min_batch: int = 24, max_per_slot: int = 6, key_ahead: int = 2,
                 torch_threads: int | None = 1) -> list[OptimizerGenome | GpOptError]:
    """One valid new child for each of ``parents`` (slot ``i`` mutates ``parents[i]``), all slots
    made together. Slots with the same parent and the same ``seen`` container (``is``) form a
    *pool*: their children are interchangeable draws from one parent, served in slot order. Each
    round:

    1. draws ``overdraw`` mutations per open slot of every pool (at least about ``min_batch`` in
       all, at most ``max_per_slot`` per open slot): about 45 % of mutations fail the check or
       repeat, and one big batch costs little more than a small one, so one round usually
       serves every slot;
    2. integrity-checks every structurally distinct draw with one
       :func:`gp_opt.integrity.check_many` call;
    3. keys the passing draws of every pool (up to ``key_ahead`` per open slot) with one
       ``key_many`` call (default: :func:`gp_opt.dedup.fingerprint_many`, or ``key`` per genome
       when only ``key`` is given) and accepts the new ones in draw order; a pool still short
       after duplicates keys its next passing draws (another call);
    4. keeps the unserved slots open.

    A child is new if none of its keys is in ``seen[i]`` nor among the keys of a child accepted
    for a slot with the same ``seen`` container: the children of one particle sharing its history
    are distinct; without ``seen`` every slot is its own. The same ``rng`` state gives the same
    children. The checks run with ``torch_threads`` torch threads (the tensors are tiny; extra
    threads only contend), restored after.

    Returns, per slot, the child (flip applied) or a :class:`GpOptError` if its pool spent
    ``max_tries`` mutations per slot without serving it. ``stats`` gets ``mutations``,
    ``integrity_rejections``, ``invalid`` and ``duplicates``.
    """
    cfg = integrity_config or integrity.DEFAULT_CONFIG
    stats = stats if stats is not None else collections.Counter()
    parents = list(parents)
    n = len(parents)
    seens = list(seen) if seen is not None else [None] * n
    if len(seens) != n:
        raise GpOptError(f"mutate_batch: {n} parents but {len(seens)} seen containers")
    if key_many is None:
        if key is None:
            from gp_opt import dedup

            key_many = dedup.fingerprint_many
        else:
            key_many = lambda gs: [key(g) for g in gs]  # noqa: E731
    group = [id(s) if s is not None else ("slot", i) for i, s in enumerate(seens)]
    pools: dict[tuple, list[int]] = {}
    for i, g in enumerate(parents):
        pools.setdefault((id(g), group[i]), []).append(i)
    mutators: dict[int, Mutator] = {}
    for g in parents:
        if id(g) not in mutators:
            gr = grammar or g.grammar
            mutators[id(g)] = Mutator(g, gr, mutation_probs(gr, probs))
    taken: dict[Any, set[str]] = collections.defaultdict(set)
    out: list[OptimizerGenome | GpOptError | None] = [None] * n
    open_ = {pk: list(slots) for pk, slots in pools.items()}   # unserved slots, in order
    budget = {pk: max_tries * len(slots) for pk, slots in pools.items()}
    with _TorchThreads(torch_threads):
        while open_:
            n_open = sum(len(v) for v in open_.values())
            draws: dict[tuple, list[OptimizerGenome]] = {}
            for pk, slots in open_.items():
                k = len(slots)
                want = max(math.ceil(k * overdraw), math.ceil(min_batch * k / n_open))
                want = min(want, k * max_per_slot, budget[pk])
                mine = draws[pk] = []
                mutator = mutators[pk[0]]
                for _ in range(want):
                    try:
                        child, _ = mutator(rng)
                    except GpOptError as exc:   # no mutation applies to this parent at all
                        for i in slots:
                            out[i] = exc
                        slots.clear()
                        break
                    budget[pk] -= 1
                    mine.append(child)
            stats["mutations"] += sum(len(v) for v in draws.values())
            # integrity: one check per distinct structure
            structs: dict[tuple, int] = {}
            unique: list[OptimizerGenome] = []
            sid: dict[tuple, list[int]] = {}
            for pk, kids in draws.items():
                ids = sid[pk] = []
                for child in kids:
                    sk = _structure(child)
                    if sk not in structs:
                        structs[sk] = len(unique)
                        unique.append(child)
                    ids.append(structs[sk])
            results = integrity.check_many(unique, cfg) if unique else []
            queue: dict[tuple, list[tuple[int, OptimizerGenome]]] = {}
            for pk, kids in draws.items():
                q = queue[pk] = []
                for child, u in zip(kids, sid[pk]):
                    res = results[u]
                    if not res.passed:
                        stats["invalid" if res.reason and res.reason.startswith("invalid genome")
                              else "integrity_rejections"] += 1
                        continue
                    child.sign = res.sign   # the child is ours: apply the flip in place
                    q.append((u, child))
            # novelty: key the passing draws of every pool with open slots together (a second
            # call for duplicates would cost more than keying a few draws that go unused)
            keys: dict[int, list[str]] = {}
            while True:
                ask = {pk: q[:len(open_[pk]) * key_ahead] for pk, q in queue.items() if open_[pk] and q}
                if not ask:
                    break
                need: dict[int, OptimizerGenome] = {}
                for items in ask.values():
                    for u, child in items:
                        if u not in keys:
                            need.setdefault(u, child)
                if need:
                    for u, k in zip(need, key_many(list(need.values()))):
                        keys[u] = _as_keys(k)
                for pk, items in ask.items():
                    del queue[pk][:len(items)]
                    s, mine = seens[open_[pk][0]], taken[pk[1]]
                    for u, child in items:
                        if not open_[pk]:
                            break           # served: the rest of the keyed draws go unused
                        ks = keys[u]
                        if (s is not None and any(x in s for x in ks)) or any(x in mine for x in ks):
                            stats["duplicates"] += 1
                            continue
                        mine.update(ks)
                        out[open_[pk].pop(0)] = child
            for pk in list(open_):
                if open_[pk] and budget[pk] <= 0:
                    err = GpOptError(
                        f"mutation: no valid new child in {max_tries} mutations of {parents[open_[pk][0]]!r} "
                        f"(rejections so far: {stats['integrity_rejections']} integrity, "
                        f"{stats['invalid']} invalid, {stats['duplicates']} duplicates); the genome "
                        "may have no valid neighbour")
                    for i in open_[pk]:
                        out[i] = err
                    open_[pk] = []
                if not open_[pk]:
                    del open_[pk]
    return out  # type: ignore[return-value]


def mutate_valid(genome: OptimizerGenome, rng: np.random.Generator,
                 integrity_config: IntegrityConfig | None = None, seen: Container[str] | None = None,
                 max_tries: int = 500, key: Callable[[OptimizerGenome], str] | None = None,
                 stats: collections.Counter | None = None, grammar: Grammar | None = None,
                 probs: Mapping[str, float] | None = None, batch: int = 1) -> OptimizerGenome:
    """One child of ``genome`` that is structurally valid, passes the integrity check (flipped if
    it passes only flipped) and whose ``key`` (default: :func:`gp_opt.dedup.fingerprint`; pass
    the key your history holds, e.g. ``symbolic.canonical_key``) is not in ``seen``.

    Tries ``batch`` mutations per batched integrity check, doubling while they fail. Raises
    :class:`GpOptError` after ``max_tries`` mutations. The same ``rng`` state gives the same child.
    """
    return mutate_many(genome, rng, 1, integrity_config, seen, max_tries, key, stats, grammar,
                       probs, batch)[0]


def random_valid_many(rng: np.random.Generator, n: int, grammar: Grammar | None = None,
                      integrity_config: IntegrityConfig | None = None, max_tries: int = 100_000,
                      batch: int | None = None, stats: collections.Counter | None = None,
                      hidden_nodes: int | None = None, torch_threads: int | None = 1) -> list[OptimizerGenome]:
    """``n`` random genomes (SPEC section 2's initialisation) that pass the integrity check, the
    flip applied; failing draws are redrawn. Checks are batched (with ``torch_threads`` torch
    threads, restored after). Duplicates are not removed."""
    cfg = integrity_config or integrity.DEFAULT_CONFIG
    stats = stats if stats is not None else collections.Counter()
    size = batch or max(16, 3 * n)
    out: list[OptimizerGenome] = []
    with _TorchThreads(torch_threads):
        _random_fill(rng, n, grammar, cfg, max_tries, size, stats, hidden_nodes, out)
    return out


def _random_fill(rng: np.random.Generator, n: int, grammar: Grammar | None, cfg: IntegrityConfig,
                 max_tries: int, size: int, stats: collections.Counter, hidden_nodes: int | None,
                 out: list[OptimizerGenome]) -> None:
    tries = 0
    while len(out) < n:
        if tries >= max_tries:
            raise GpOptError(f"random genomes: only {len(out)} of {n} passed the integrity check in "
                             f"{max_tries} draws")
        draws = [OptimizerGenome.random(rng, grammar, hidden_nodes)
                 for _ in range(min(size, max_tries - tries))]
        tries += len(draws)
        for g, res in zip(draws, integrity.check_many(draws, cfg)):
            if res.passed and len(out) < n:
                out.append(integrity.apply(g, res))
            elif not res.passed:
                stats["integrity_rejections"] += 1


def random_valid(rng: np.random.Generator, grammar: Grammar | None = None,
                 integrity_config: IntegrityConfig | None = None, max_tries: int = 100_000,
                 batch: int = 16, stats: collections.Counter | None = None) -> OptimizerGenome:
    """One random genome that passes the integrity check (SPEC section 2: failing graphs are
    redrawn), the flip applied. ``batch`` draws are checked per batched call."""
    return random_valid_many(rng, 1, grammar, integrity_config, max_tries, batch, stats)[0]
