"""Genomes: an optimizer's update equation as a NASNet-style DAG, with decay functions on edges.

Both graphs are :class:`networkx.DiGraph`. Leaves are operands (update graph) or schedules
(decay graph); inner nodes are the hidden nodes ``h0, h1, ...`` and the output node ``out``,
each with an ``op`` attribute. An edge ``src -> dst`` carries ``pos`` (which argument of
``dst`` it feeds) and, in the update graph, ``decay`` (a :class:`DecayGenome` or None) that
multiplies the value flowing along it.

>>> import numpy as np
>>> g = OptimizerGenome.random(np.random.default_rng(0))
>>> OptimizerGenome.from_json(g.to_json()) == g
True
"""
from __future__ import annotations

from gp_opt.genome.decay import DecayGenome
from gp_opt.genome.limits import OUTPUT, parse_json
from gp_opt.genome.update import OptimizerGenome

__all__ = ["OUTPUT", "DecayGenome", "OptimizerGenome", "parse_json"]
