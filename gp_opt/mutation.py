"""Mutation (SPEC section 7): one change to one active node of an optimizer genome.

:func:`mutate` picks a mutation kind with the grammar's ``[mutation]`` probabilities and an
active inner node uniformly, and returns ``(child, description)``:

============  =========================================================================
op            the node's op becomes another op of the same arity
connection    one input of the node is re-drawn (an operand with the init probability,
              else a hidden node); on a binary node, with ``swap_inputs`` the two inputs
              swap instead. A re-drawn input keeps the decay function of its argument.
arity         unary -> binary (a random binary op; the input stays first and a random
              second input is added, with a random decay function at the init rate) or
              binary -> unary (a random unary op; one input is dropped)
momentum      the momentum type becomes another one (the node plays no part)
decay         on one input edge of the node: add a random decay function if there is
              none, else delete it (``decay_delete``) or mutate it (:func:`mutate_decay`)
============  =========================================================================

Invariants kept by construction: the graph stays acyclic (a node never takes one of its
descendants), the two inputs of a binary node differ, the output node keeps at least one
hidden-node input, decay functions stay in [0, 1] (SPEC section 4), inactive nodes are never
touched. A kind that cannot apply to the chosen node (no other op, nowhere to connect) is
re-drawn. The child's ``meta`` is replaced by ``{"mutation": description}``.

A child shares its unchanged decay-function objects with its parent (a changed one is a new
object). Treat decay functions as values: to edit one in place, ``copy()`` the genome first
(``OptimizerGenome.copy`` copies them).

:func:`mutate_valid` repeats until the child passes the integrity check (the flip applied) and
its key is new; :func:`random_valid` draws random genomes until one passes the check.

>>> import numpy as np
>>> from gp_opt.genome import OptimizerGenome
>>> parent = OptimizerGenome.random(np.random.default_rng(0))
>>> child, what = mutate(parent, np.random.default_rng(1))
>>> child != parent
True
"""
from __future__ import annotations

import collections
import math
from typing import Any, Callable, Container, Mapping, Sequence

import networkx as nx
import numpy as np

from gp_opt import integrity
from gp_opt.errors import GpOptError
from gp_opt.genome import OUTPUT, DecayGenome, OptimizerGenome, _Graph
from gp_opt.grammar import Grammar
from gp_opt.integrity import IntegrityConfig

__all__ = ["KINDS", "DECAY_KINDS", "mutate", "mutate_decay", "mutate_valid", "mutate_many", "mutate_batch",
           "random_valid", "random_valid_many"]

KINDS = ("op", "connection", "arity", "momentum", "decay")
DECAY_KINDS = ("decay_op", "decay_connection", "decay_arity")
_MAX_REDRAWS = 200


def _probs(grammar: Grammar, probs: Mapping[str, float] | None) -> dict[str, float]:
    p = dict(grammar.mutation)
    if probs:
        unknown = set(probs) - set(p)
        if unknown:
            raise GpOptError(f"mutation: unknown probability name(s) {', '.join(sorted(unknown))}; "
                             f"known: {', '.join(p)}")
        p.update({k: float(v) for k, v in probs.items()})
    for group in (KINDS, DECAY_KINDS):
        if sum(p[k] for k in group) <= 0:
            raise GpOptError(f"mutation: the probabilities {', '.join(group)} are all zero")
    return p


def _pick(rng: np.random.Generator, names, weights) -> str:
    """``names[i]`` with probability ``weights[i] / sum(weights)`` (one uniform draw)."""
    u = rng.random() * sum(weights)
    acc = 0.0
    for name, w in zip(names, weights):
        acc += w
        if u < acc and w > 0:
            return name
    return [n for n, w in zip(names, weights) if w > 0][-1]


def _copy_graph(graph: nx.DiGraph) -> nx.DiGraph:
    """A deep-enough copy of a DiGraph (new node and edge attribute dicts), built directly from
    its adjacency dicts: ``DiGraph.copy()`` costs ~20x more and mutation copies on every child."""
    try:
        out = graph.__class__()
        out.graph.update(graph.graph)
        out._node.update((n, dict(a)) for n, a in graph._node.items())
        succ = {n: {v: dict(d) for v, d in nbrs.items()} for n, nbrs in graph._succ.items()}
        pred = {n: {u: succ[u][n] for u in preds} for n, preds in graph._pred.items()}
        out._succ.update(succ)
        out._pred.update(pred)
        return out
    except AttributeError:  # a networkx without these internals: the public, slower way
        return graph.copy()


def _copy_decay(dec: DecayGenome) -> DecayGenome:
    return DecayGenome(_copy_graph(dec.graph), dec.grammar)


def _copy(genome: OptimizerGenome) -> OptimizerGenome:
    """A copy of the update graph that *shares* the parent's decay-function objects: mutation
    never edits a decay function in place (it replaces it with an edited copy), so children and
    parents can share the ones they have in common. Copying them all would be most of the cost of
    a mutation."""
    return OptimizerGenome(_copy_graph(genome.graph), genome.momentum, genome.sign, genome.grammar,
                           genome.meta)


def _weighted(grammar: Grammar, names) -> tuple[list[str], list[float]]:
    names = [n for n in names if grammar.ops[n].weight > 0]
    return names, [grammar.ops[n].weight for n in names]


def _is_hidden(graph: _Graph, node: str) -> bool:
    return graph.graph.nodes[node].get("kind") == "hidden"


def _reach(adj: dict, start: str) -> set[str]:
    """Nodes reachable from ``start`` along ``adj`` (a networkx ``_pred`` or ``_succ`` dict)."""
    seen, stack = set(), [start]
    while stack:
        for nxt in adj[stack.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def _active_inner(graph: _Graph) -> list[str]:
    """Active inner nodes in the genome's own node order (stable under JSON round trips)."""
    active = _reach(graph.graph._pred, OUTPUT) | {OUTPUT}
    return [n for n in graph.inner_nodes() if n in active]


def _descendants(graph: _Graph, node: str) -> set[str]:
    return _reach(graph.graph._succ, node)


def _hidden_pool(graph: _Graph, node: str, exclude: set[str]) -> list[str]:
    """Hidden nodes that may feed ``node`` without making a cycle, minus ``exclude``."""
    banned = _descendants(graph, node) | {node, OUTPUT} | exclude
    return [h for h in graph.hidden_nodes() if h not in banned]


def _draw_update_source(child: OptimizerGenome, node: str, rng, exclude: set[str],
                        hidden_only: bool) -> str | None:
    grammar = child.grammar
    hidden = _hidden_pool(child, node, exclude)
    names, weights = grammar.operand_weights()
    operands = [(n, w) for n, w in zip(names, weights) if n not in exclude]
    if hidden_only:
        operands = []
    use_operand = bool(operands) and (not hidden or rng.random() < grammar.update_init["operand_input"])
    if use_operand:
        return _pick(rng, [n for n, _ in operands], [w for _, w in operands])
    if hidden:
        return hidden[int(rng.integers(len(hidden)))]
    return None


def _random_unary(grammar: Grammar, rng, exclude: str | None = None) -> str | None:
    names, weights = _weighted(grammar, [o for o in grammar.update_unary if o != exclude])
    if not names:
        return None
    p_id = grammar.update_init["identity"]
    if "identity" in names and len(names) > 1:
        if rng.random() < p_id:
            return "identity"
        k = names.index("identity")
        names, weights = names[:k] + names[k + 1:], weights[:k] + weights[k + 1:]
    return _pick(rng, names, weights)


# ---------------------------------------------------------------- the update-graph kinds

def _mut_op(child: OptimizerGenome, node: str, rng, p) -> str | None:
    grammar = child.grammar
    cur = child.op(node)
    pool = grammar.update_unary if grammar.ops[cur].arity == 1 else grammar.update_binary
    names, weights = _weighted(grammar, [o for o in pool if o != cur])
    if not names:
        return None
    new = _pick(rng, names, weights)
    child.set_op(node, new)
    return f"op {node}: {cur} -> {new}"


def _mut_connection(child: OptimizerGenome, node: str, rng, p) -> str | None:
    edges = child.input_edges(node)
    srcs, decays = [s for s, _ in edges], [d for _, d in edges]
    if len(edges) == 2 and rng.random() < p["swap_inputs"]:
        child.set_inputs(node, srcs[::-1], decays[::-1])
        return f"swap inputs of {node}: ({srcs[0]}, {srcs[1]}) -> ({srcs[1]}, {srcs[0]})"
    pos = int(rng.integers(len(edges)))
    others = [s for i, s in enumerate(srcs) if i != pos]
    hidden_only = node == OUTPUT and not any(_is_hidden(child, s) for s in others)
    new = _draw_update_source(child, node, rng, set(srcs), hidden_only)
    if new is None:
        return None
    old = srcs[pos]
    srcs[pos] = new
    child.set_inputs(node, srcs, decays)
    return f"connection {node}[{pos}]: {old} -> {new}"


def _mut_arity(child: OptimizerGenome, node: str, rng, p) -> str | None:
    grammar = child.grammar
    cur = child.op(node)
    edges = child.input_edges(node)
    srcs, decays = [s for s, _ in edges], [d for _, d in edges]
    if grammar.ops[cur].arity == 1:
        names, weights = _weighted(grammar, grammar.update_binary)
        if not names:
            return None
        new_src = _draw_update_source(child, node, rng, set(srcs), hidden_only=False)
        if new_src is None:
            return None
        new = _pick(rng, names, weights)
        dec = (DecayGenome.random(rng, grammar) if rng.random() < grammar.update_init["decay_edge"]
               else None)
        child.set_op(node, new)
        child.set_inputs(node, srcs + [new_src], decays + [dec])
        return f"arity {node}: {cur}({srcs[0]}) -> {new}({srcs[0]}, {new_src})"
    keep = [i for i, s in enumerate(srcs) if node != OUTPUT or _is_hidden(child, s)]
    new = _random_unary(grammar, rng)
    if not keep or new is None:
        return None
    k = keep[int(rng.integers(len(keep)))]
    child.set_op(node, new)
    child.set_inputs(node, [srcs[k]], [decays[k]])
    return f"arity {node}: {cur}({', '.join(srcs)}) -> {new}({srcs[k]})"


def _mut_momentum(child: OptimizerGenome, node: str, rng, p) -> str | None:
    others = [m for m in child.grammar.momentum if m != child.momentum]
    if not others:
        return None
    new = others[int(rng.integers(len(others)))]
    old, child.momentum = child.momentum, new
    return f"momentum: {old} -> {new}"


def _mut_decay(child: OptimizerGenome, node: str, rng, p) -> str | None:
    edges = child.input_edges(node)
    pos = int(rng.integers(len(edges)))
    srcs, decays = [s for s, _ in edges], [d for _, d in edges]
    dec = decays[pos]
    if dec is None:
        decays[pos] = DecayGenome.random(rng, child.grammar)
        what = "add"
    elif rng.random() < p["decay_delete"]:
        decays[pos] = None
        what = "delete"
    else:
        out = mutate_decay(dec, rng, child.grammar, p)
        if out is None:
            return None
        decays[pos], how = out
        what = f"mutate ({how})"
    child.set_inputs(node, srcs, decays)
    return f"decay {what} on {srcs[pos]} -> {node}"


_UPDATE_KINDS: dict[str, Callable] = {"op": _mut_op, "connection": _mut_connection, "arity": _mut_arity,
                                      "momentum": _mut_momentum, "decay": _mut_decay}


def mutate(genome: OptimizerGenome, rng: np.random.Generator, grammar: Grammar | None = None,
           probs: Mapping[str, float] | None = None) -> tuple[OptimizerGenome, str]:
    """One SPEC-7 mutation of an active inner node: ``(child, description)``.

    ``probs`` overrides entries of the grammar's ``[mutation]`` table (``op``, ``connection``,
    ``swap_inputs``, ``arity``, ``momentum``, ``decay``, ``decay_delete``, ``decay_op``,
    ``decay_connection``, ``decay_arity``). The parent is not modified; the child differs
    from it structurally (it may still compute the same thing; see :mod:`gp_opt.dedup`).
    """
    grammar = grammar or genome.grammar
    return _Mutator(genome, grammar, _probs(grammar, probs))(rng)


class _Mutator:
    """:func:`mutate` of one parent with what does not depend on the draw (probabilities, active
    nodes) worked out once: ``mutator(rng) -> (child, description)``. Same draws as ``mutate``."""

    __slots__ = ("genome", "grammar", "p", "nodes", "weights")

    def __init__(self, genome: OptimizerGenome, grammar: Grammar, p: dict[str, float]):
        self.genome, self.grammar, self.p = genome, grammar, p
        self.nodes = _active_inner(genome)
        self.weights = [p[k] for k in KINDS]

    def __call__(self, rng: np.random.Generator) -> tuple[OptimizerGenome, str]:
        genome, grammar, nodes, p = self.genome, self.grammar, self.nodes, self.p
        for _ in range(_MAX_REDRAWS):
            kind = _pick(rng, KINDS, self.weights)
            node = nodes[int(rng.integers(len(nodes)))]
            child = _copy(genome)
            if child.grammar is not grammar:
                child.grammar = grammar
            desc = _UPDATE_KINDS[kind](child, node, rng, p)
            if desc is not None:
                child.meta = {"mutation": desc}
                return child, desc
        raise GpOptError(f"mutation: no mutation applies to {genome!r} in {_MAX_REDRAWS} draws")


# ---------------------------------------------------------------- decay functions

def _mut_decay_node(dec: DecayGenome, node: str, kind: str, rng) -> str | None:
    grammar = dec.grammar
    cur = dec.op(node)
    srcs = dec.inputs(node)
    leaves, leaf_w = grammar.schedule_weights()

    def draw_source(exclude: set[str]) -> str | None:
        banned = _descendants(dec, node) | {node, OUTPUT} | exclude
        pool = [s for s in leaves if s not in banned] + [h for h in dec.hidden_nodes() if h not in banned]
        return pool[int(rng.integers(len(pool)))] if pool else None

    if kind == "decay_op":
        pool = grammar.decay_unary if grammar.ops[cur].arity == 1 else grammar.decay_binary
        names, weights = _weighted(grammar, [o for o in pool if o != cur])
        if not names:
            return None
        new = _pick(rng, names, weights)
        dec.set_op(node, new)
        return f"op {node}: {cur} -> {new}"
    if kind == "decay_connection":
        pos = int(rng.integers(len(srcs)))
        new = draw_source(set(srcs))
        if new is None:
            return None
        old, srcs[pos] = srcs[pos], new
        dec.set_inputs(node, srcs)
        return f"connection {node}[{pos}]: {old} -> {new}"
    if grammar.ops[cur].arity == 1:
        names, weights = _weighted(grammar, grammar.decay_binary)
        new_src = draw_source(set(srcs))
        if not names or new_src is None:
            return None
        new = _pick(rng, names, weights)
        dec.set_op(node, new)
        dec.set_inputs(node, srcs + [new_src])
        return f"arity {node}: {cur} -> {new}"
    names, weights = _weighted(grammar, grammar.decay_unary)
    if not names:
        return None
    new = _pick(rng, names, weights)
    k = int(rng.integers(2))
    dec.set_op(node, new)
    dec.set_inputs(node, [srcs[k]])
    return f"arity {node}: {cur} -> {new}"


def mutate_decay(decay: DecayGenome, rng: np.random.Generator, grammar: Grammar | None = None,
                 probs: Mapping[str, float] | None = None,
                 max_tries: int = _MAX_REDRAWS) -> tuple[DecayGenome, str] | None:
    """Mutate a decay function (op change / connection change / unary <-> binary on an active
    node, with ``decay_op`` / ``decay_connection`` / ``decay_arity``), redrawn until the result
    is valid (0 <= d(t) <= 1, SPEC section 4). None if no valid mutation is found."""
    grammar = grammar or decay.grammar
    p = _probs(grammar, probs)
    weights = [p[k] for k in DECAY_KINDS]
    nodes = _active_inner(decay)
    for _ in range(max_tries):
        kind = _pick(rng, DECAY_KINDS, weights)
        node = nodes[int(rng.integers(len(nodes)))]
        child = _copy_decay(decay)
        desc = _mut_decay_node(child, node, kind, rng)
        if desc is not None and integrity.decay_in_range(child):
            return child, desc
    return None


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
            if not res.passed:
                if res.reason and res.reason.startswith("invalid genome"):
                    stats["invalid"] += 1
                else:
                    stats["integrity_rejections"] += 1
                continue
            child.sign = res.sign   # the child is ours: apply the flip in place
            k = key(child)
            ks = list(k) if isinstance(k, (list, tuple)) else [k]   # several keys: any match is a duplicate
            if (seen is not None and (k in seen if not isinstance(k, (list, tuple))
                                      else any(x in seen for x in ks))) or any(x in found_keys for x in ks):
                stats["duplicates"] += 1
                continue
            found_keys.update(ks)
            found.append(child)
        size = min(size * 2, 64)
    return found


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
    mutators: dict[int, _Mutator] = {}
    for g in parents:
        if id(g) not in mutators:
            gr = grammar or g.grammar
            mutators[id(g)] = _Mutator(g, gr, _probs(gr, probs))
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
