"""The evolutionary search on DEAP: the paper's particle GA and regularized evolution.

Both algorithms are written in the shape of DEAP's ``algorithms.ea*`` and only talk to a
``deap.base.Toolbox`` that provides, for whatever the individuals are (a genome, a toy vector):

================  ============================================================================
``individual``    ``individual(rng) -> payload`` -- a random, valid payload
``mutate``        ``mutate(payload, rng, history, tally) -> payload`` -- a child that is valid,
                  passes the integrity check and whose key is not in ``history`` (supports
                  ``in``); it adds to the :class:`collections.Counter` ``tally``
                  (``integrity_rejections``, ``invalid``, ``duplicates``)
``mutate_batch``  optional: ``mutate_batch([(payload, history), ...], rng, tally) -> [payload or
                  GpOptError]`` -- one child per request, all made together (the children of
                  requests sharing a ``history`` object distinct from each other); without it
                  ``mutate`` is called request by request
``evaluate``      ``evaluate(payload) -> FitnessRecord`` (a float is accepted too); must not
                  consume the global RNGs (seed its own) so that a resumed run replays exactly
``map``           ``map(func, iterable)`` -- swap in ``Pool.imap`` for parallel evaluation
``serialize``     ``serialize(payload) -> JSON-able``; ``deserialize`` the inverse
``key``           ``key(payload) -> str`` -- the dedup key (canonical key / fingerprint)
``key_many``      optional: ``key_many([payload]) -> [key]`` -- ``key`` of many at once
================  ============================================================================

The individuals DEAP sees are ``creator.GpOptIndividual`` objects: the payload plus its key, its
:class:`FitnessRecord` and a maximising ``creator.GpOptFitness``.

Every candidate goes through one fitness cache keyed by ``toolbox.key``: a key seen before reuses
its record (a *cache hit*) instead of evaluating again. With a :class:`gp_opt.rundir.RunDir` every
candidate is logged as soon as it is known and the state is checkpointed after every time step, so
a killed run resumes to the same result (:func:`resume_search`).

The package, one concept a module (each importing only from those above it):

================  ============================================================================
``candidate``     :class:`Candidate` (DEAP's individual), :class:`History`, keys, statistics
``engine``        the shared engine: fitness cache, candidate log, checkpoint, replay, progress
``algorithms``    :func:`particle_search`, :func:`regularized_evolution`
``toy``           the toy task (integer vectors): a cheap demo of the machinery
``toolbox``       :func:`make_toolbox` for genomes, :func:`toolbox_from_config`
``executors``     where evaluations run: in-process, a local pool, Ray (``docs/cluster.md``)
``run``           :func:`run_search`, :func:`resume_search` over a :mod:`gp_opt.rundir` directory
================  ============================================================================
"""

from .algorithms import particle_search, regularized_evolution, rng_choice
from .candidate import Candidate, History, default_stats, make_individual, same_key
from .run import ALGORITHMS, TOY_TASK, SearchResult, resume_search, run_search
from .toolbox import KEYS, make_toolbox, toolbox_from_config
from .toy import ToyEvaluate, make_toy_toolbox, toy_key

__all__ = ["ALGORITHMS", "KEYS", "TOY_TASK", "Candidate", "History", "SearchResult", "ToyEvaluate",
           "default_stats", "make_individual", "make_toolbox", "make_toy_toolbox", "particle_search",
           "regularized_evolution", "resume_search", "rng_choice", "run_search", "same_key",
           "toolbox_from_config", "toy_key"]
