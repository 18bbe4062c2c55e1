"""The genome toolbox: random valid genomes, batched mutation, dedup keys and a task's
evaluation registered on a ``deap.base.Toolbox``."""
from __future__ import annotations

import collections
import os
from typing import Any, Callable

import numpy as np
from deap import base

from ..errors import CheckpointError, GpOptError
from .toy import make_toy_toolbox


KEYS = ("fingerprint", "canonical", "both")


class _GenomeKey:
    """The dedup key(s) of a genome: ``fingerprint`` (behavioural, :mod:`gp_opt.dedup`),
    ``canonical`` (the symbolic canonical key) or ``both`` (a list: a hit on either is a hit).
    Remembers the keys of the last few genomes it saw, so the key computed inside mutation (for
    novelty) is not computed again for the cache."""

    MEMO = 4096

    def __init__(self, kind: str):
        if kind not in KEYS:
            raise GpOptError(f"unknown dedup key {kind!r}; use one of {', '.join(KEYS)}")
        self.kind = kind
        self._memo: collections.OrderedDict[int, tuple[Any, Any]] = collections.OrderedDict()

    def __call__(self, genome: Any) -> Any:
        hit = self._memo.get(id(genome))
        if hit is not None and hit[0] is genome:
            return hit[1]
        from .. import dedup

        if self.kind == "fingerprint":
            k: Any = dedup.fingerprint(genome)
        elif self.kind == "canonical":
            k = dedup.canonical_key(genome) or dedup.fingerprint(genome)
        else:
            k = dedup.keys(genome, use_canonical=True)
        self._remember(genome, k)
        return k

    def _remember(self, genome: Any, k: Any) -> None:
        self._memo[id(genome)] = (genome, k)  # holds the genome so that its id stays unique
        if len(self._memo) > self.MEMO:
            self._memo.popitem(last=False)

    def many(self, genomes: list[Any]) -> list[Any]:
        """The keys of many genomes; the fingerprints of those not remembered are computed in one
        batched evaluation (:func:`gp_opt.dedup.fingerprint_many`)."""
        from .. import dedup

        out: list[Any] = [None] * len(genomes)
        todo = []
        for i, g in enumerate(genomes):
            hit = self._memo.get(id(g))
            if hit is not None and hit[0] is g:
                out[i] = hit[1]
            else:
                todo.append(i)
        if not todo:
            return out
        gs = [genomes[i] for i in todo]
        if self.kind == "fingerprint":
            ks: list[Any] = dedup.fingerprint_many(gs)
        elif self.kind == "canonical":
            ks = [dedup.canonical_key(g) for g in gs]
            need = [n for n, k in enumerate(ks) if k is None]
            for n, fp in zip(need, dedup.fingerprint_many([gs[n] for n in need])):
                ks[n] = fp
        else:
            ks = dedup.keys_many(gs, use_canonical=True)
        for i, g, k in zip(todo, gs, ks):
            self._remember(g, k)
            out[i] = k
        return out

    def __getstate__(self) -> dict[str, Any]:
        return {"kind": self.kind}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["kind"])


class _GenomeMutate:
    """``mutate(payload, rng, history, tally)`` -> :func:`gp_opt.mutation.mutate_valid`: a child
    that is valid, passes the integrity check (flip applied) and is new in ``history``."""

    def __init__(self, key_fn: _GenomeKey, grammar: Any, options: dict[str, Any]):
        self.key_fn = key_fn
        self.grammar = grammar
        self.options = options

    def __call__(self, genome: Any, rng: np.random.Generator, history: Any,
                 tally: collections.Counter | None = None) -> Any:
        from .. import mutation

        opts = {k: v for k, v in self.options.items() if k in _SINGLE_OPTIONS}
        return mutation.mutate_valid(genome, rng, seen=history, key=self.key_fn, stats=tally,
                                     grammar=self.grammar, **opts)


_SINGLE_OPTIONS = ("integrity_config", "max_tries", "probs", "batch")
_BATCH_OPTIONS = ("integrity_config", "max_tries", "probs", "min_batch", "max_per_slot", "overdraw", "key_ahead", "torch_threads")


class _GenomeMutateBatch(_GenomeMutate):
    """``mutate_batch([(payload, history), ...], rng, tally)`` -> :func:`gp_opt.mutation.mutate_batch`:
    one child per request, all drawn, integrity-checked and keyed together (a
    :class:`GpOptError` in place of a child for a parent without a valid new one)."""

    def __call__(self, requests: list[tuple[Any, Any]], rng: np.random.Generator,  # type: ignore[override]
                 tally: collections.Counter | None = None) -> list[Any]:
        from .. import mutation

        opts = {k: v for k, v in self.options.items() if k in _BATCH_OPTIONS}
        return mutation.mutate_batch([g for g, _ in requests], rng, seen=[h for _, h in requests],
                                     key=self.key_fn, key_many=self.key_fn.many, stats=tally,
                                     grammar=self.grammar, **opts)


class _GenomeNeighbours(_GenomeMutate):
    """``neighbours(payload, history, tally)`` -> :func:`gp_opt.mutation.valid_neighbours`: every
    genome one edit away that passes the integrity check and is new in the history."""

    def __call__(self, genome: Any, history: Any, tally: collections.Counter | None = None) -> Any:  # type: ignore[override]
        from .. import mutation

        return mutation.valid_neighbours(genome, self.key_fn, seen=history, stats=tally,
                                         integrity_config=self.options.get("integrity_config"))


class _GenomePopulation:
    """``population(rng, n)``: ``n`` random genomes passing the integrity check (batched)."""

    def __init__(self, grammar: Any):
        self.grammar = grammar

    def __call__(self, rng: np.random.Generator, n: int, tally: collections.Counter | None = None) -> list[Any]:
        from .. import mutation

        return mutation.random_valid_many(rng, n, self.grammar, stats=tally)


def _genome_to_json(g: Any) -> str:
    return g.to_json()


class _GenomeFromJson:
    def __init__(self, grammar: Any):
        self.grammar = grammar

    def __call__(self, s: str) -> Any:
        from ..genome import OptimizerGenome

        return OptimizerGenome.from_json(s, grammar=self.grammar)


def make_toolbox(task: str | Callable[[Any], Any] = "quadratic", grammar: Any = None, *,
                 task_options: dict[str, Any] | None = None, key: str = "fingerprint",
                 mutate_options: dict[str, Any] | None = None,
                 fix_update: dict[str, Any] | None = None) -> base.Toolbox:
    """A toolbox over :class:`gp_opt.genome.OptimizerGenome`.

    ``individual``/``population``: random genomes passing the integrity check;
    ``mutate``/``mutate_batch``: SPEC-7 mutation redrawn until valid, passing the integrity check
    and new in the history (:func:`gp_opt.mutation.mutate_valid` for one child,
    :func:`gp_opt.mutation.mutate_batch` for all the children of a step; ``mutate_options`` go to
    them, e.g. ``probs``, ``max_tries``, ``min_batch``); ``evaluate``: ``task`` -- a task name of :mod:`gp_opt.tasks` (``task_options``
    override its fields) or any callable genome -> FitnessRecord (e.g. a surrogate evaluator);
    ``key``: ``"fingerprint"`` (default), ``"canonical"`` or ``"both"``; ``grammar``: a Grammar,
    a path to a grammar file, or None for the default. ``fix_update`` (a genome's JSON dict, see
    :func:`gp_opt.search.schedule_only.fixed_update`): a schedule-only search, only the decay
    functions of that update evolve (:mod:`.schedule_only`)."""
    from ..grammar import Grammar, load as load_grammar
    from ..rundir.carried import grammar_record
    from ..tasks import get_task

    if not isinstance(grammar, Grammar):
        grammar = load_grammar(grammar)
    # a run keeps its grammar by content (grammar.toml, its sha256 in run.json), never by path
    grammar_rec, grammar_text = grammar_record(grammar)
    if isinstance(task, str):
        task_name: str | None = task
        evaluate = get_task(task, **(task_options or {}))
    elif callable(task):
        task_name, evaluate = None, task
        from .taskspec import callable_name
    else:
        raise GpOptError(f"task must be a task name or a callable, got {type(task).__name__}")
    key_fn = _GenomeKey(key)
    population: Any = _GenomePopulation(grammar)
    if fix_update is not None:
        from .schedule_only import FixedUpdatePopulation
        from .schedule_only import mutate_options as schedule_only_options
        population = FixedUpdatePopulation(grammar, fix_update)
        mutate_options = schedule_only_options(mutate_options)

    tb = base.Toolbox()
    tb.register("individual", lambda rng: tb.population(rng, 1)[0])
    tb.register("population", population)
    tb.register("mutate", _GenomeMutate(key_fn, grammar, dict(mutate_options or {})))
    tb.register("mutate_batch", _GenomeMutateBatch(key_fn, grammar, dict(mutate_options or {})))
    if fix_update is None:   # a schedule-only search changes decay functions only: no update-graph edits
        tb.register("neighbours", _GenomeNeighbours(key_fn, grammar, dict(mutate_options or {})))
    tb.register("evaluate", evaluate)
    if hasattr(evaluate, "for_initial_population"):
        tb.register("evaluate_init", evaluate.for_initial_population())
    # an evaluator that trains many candidates together (the surrogate's shared ensembles)
    tb.register("map", evaluate.map if getattr(evaluate, "batch_children", False) else map)
    tb.register("serialize", _genome_to_json)
    tb.register("deserialize", _GenomeFromJson(grammar))
    tb.register("key", key_fn)
    tb.register("key_many", key_fn.many)
    tb.register("behaviour_distances", _behaviour_distances)
    tb.config = {"kind": "genome", "task": task_name, "task_options": task_options or {}, "key": key,
                 **({"callable": callable_name(task)} if task_name is None else {}),
                 "grammar": grammar_rec, "mutate_options": mutate_options or {},
                 **({"fix_update": fix_update} if fix_update is not None else {})}
    tb.grammar_text = grammar_text
    return tb


def _behaviour_distances(genomes: list[Any]) -> Any:
    from gp_opt.behaviour import distance_matrix  # only for a run with --distinct

    return distance_matrix(genomes)


def toolbox_from_config(cfg: dict[str, Any], run_dir: str | os.PathLike | None = None) -> base.Toolbox:
    """Rebuild the toolbox a run directory's config describes (see ``toolbox.config``); the
    grammar is the run's copy in ``run_dir`` (:func:`gp_opt.rundir.carried.run_grammar`)."""
    kind = cfg.get("kind")
    if kind == "toy":
        return make_toy_toolbox(dim=cfg["dim"], seed=cfg["seed"], delay=cfg.get("delay", 0.0),
                                eval_log=cfg.get("eval_log"), noise=cfg.get("noise", 0.0))
    if kind == "genome":
        if cfg.get("task") is None:
            from .taskspec import refuse_resume
            raise refuse_resume(run_dir if run_dir is not None else "this run", cfg)
        from ..rundir.carried import run_grammar
        return make_toolbox(cfg["task"], run_grammar(run_dir, cfg), task_options=cfg.get("task_options"),
                            key=cfg.get("key", "fingerprint"), mutate_options=cfg.get("mutate_options"),
                            fix_update=cfg.get("fix_update"))
    raise CheckpointError(f"run config has an unknown toolbox kind {kind!r}")
