"""The evolutionary search on DEAP: the paper's particle GA, regularized evolution and random search.

Every algorithm is a short function in the shape of DEAP's ``algorithms.ea*`` over shared pieces,
and only talks to a toolbox (a ``deap.base.Toolbox`` or any object) with the methods of the
:class:`~gp_opt.search.contract.Toolbox` protocol -- ``individual``, ``mutate``, ``evaluate``,
``map`` -- and optionally those of the smaller protocols beside it (``key``, ``key_many``,
``serialize``/``deserialize``, ``population``, ``mutate_batch``, ``evaluate_init``).

The individuals DEAP sees are ``creator.GpOptIndividual`` objects: the payload plus its key, its
:class:`FitnessRecord` and a maximising ``creator.GpOptFitness``.

Every candidate goes through one fitness cache keyed by ``toolbox.key``: a key seen before reuses
its record (a *cache hit*) instead of evaluating again. With a :class:`gp_opt.rundir.RunDir` every
candidate is logged as soon as it is known and the state is checkpointed after every time step, so
a killed run resumes to the same result (:func:`resume_search`).

The package, one concept a module (each importing only from those above it):

================  ============================================================================
``candidate``     :class:`Candidate` (DEAP's individual), :class:`History`, keys, statistics
``contract``      the :class:`Toolbox` protocol (and the optional ones); ``Operators``: a
                  toolbox resolved once
``cache``         the fitness cache (key -> record)
``log``           the candidate log over :class:`gp_opt.rundir.RunDir`, and its replay
``progress``      the progress lines, the clock and the summary
``noise``         noise-aware selection: its settings, the derived fitness over the log
``engine``        ``Engine``: evaluation (cache, replay or ``toolbox.map``, each candidate
                  logged) and ``vary``, the one variation/redraw step
``loop``          ``SearchLoop``: what every algorithm does around its selection (set-up,
                  resume, logbook row and checkpoint per generation, summary); ``RunOptions``
``algorithms``    :func:`particle_search`, :func:`regularized_evolution`, :func:`random_search`
``toy``           the toy task (integer vectors): a cheap demo of the machinery
``toolbox``       :func:`make_toolbox` for genomes, :func:`toolbox_from_config`
``executors``     where evaluations run: in-process, a local pool, Ray (``docs/cluster.md``)
``taskspec``      what a run records of a fitness given from Python (``module:attr`` or a
                  Python callable)
``run``           :func:`run_search`, :func:`resume_search` over a :mod:`gp_opt.rundir` directory
================  ============================================================================
"""

from .algorithms import ALGORITHMS, Algorithm, particle_search, random_search, regularized_evolution, rng_choice
from .candidate import Candidate, History, default_stats, make_individual, same_key
from .contract import Toolbox
from .loop import RunOptions
from .run import TOY_TASK, SearchResult, resume_search, run_search
from .toolbox import KEYS, make_toolbox, toolbox_from_config
from .toy import ToyEvaluate, make_toy_toolbox, toy_key

__all__ = ["ALGORITHMS", "Algorithm", "KEYS", "TOY_TASK", "Candidate", "History", "RunOptions", "SearchResult", "Toolbox",
           "ToyEvaluate",
           "default_stats", "make_individual", "make_toolbox", "make_toy_toolbox", "particle_search",
           "random_search", "regularized_evolution", "resume_search", "rng_choice", "run_search", "same_key",
           "toolbox_from_config", "toy_key"]
