"""Rediscovery: can the search find an optimizer whose answer is known? (issue 20)

The fitness of a candidate is minus its behavioural distance to a target optimizer
(:mod:`gp_opt.behaviour`: trajectories on a fixed panel of small problems); a candidate *is* the
target when its canonical key equals the target's or it behaves identically within a tolerance
on the larger verification panel. A campaign runs one search algorithm (particle GA, regularized
evolution, random search) for a budget of candidates over several seeds and reports the solution
rate, the median candidates to solution and the best distance reached (``gp-opt rediscover``).

* :mod:`.target` -- a catalog name or genome file read in the search grammar; whether the grammar
  can express it (:func:`unexpressible`) and, if not, the nearest form it can;
* :mod:`.fitness` -- :class:`RediscoveryFitness` (batched ``toolbox.map``), :func:`judge` (one
  candidate), :class:`Judge` (many, batched), :class:`SolutionCheck` (a search's ``stop_when``);
* :mod:`.campaign` -- :func:`run_campaign`, the campaign directory, :func:`summarize`.
"""
from __future__ import annotations

from gp_opt.rediscover.campaign import ALGORITHMS, Shape, analyse, format_summary, run_campaign, summarize
from gp_opt.rediscover.fitness import NEAR, Judge, RediscoveryFitness, SolutionCheck, judge
from gp_opt.rediscover.target import Target, nearest_expressible, resolve, unexpressible

__all__ = ["ALGORITHMS", "NEAR", "Judge", "RediscoveryFitness", "Shape", "SolutionCheck", "Target", "analyse",
           "format_summary", "judge",
           "nearest_expressible", "resolve", "run_campaign", "summarize", "unexpressible"]
