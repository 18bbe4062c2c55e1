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
:func:`one_edit`/:func:`valid_neighbours` (:mod:`.neighbours`) list every genome one change away,
for local search.

>>> import numpy as np
>>> from gp_opt.genome import OptimizerGenome
>>> parent = OptimizerGenome.random(np.random.default_rng(0))
>>> child, what = mutate(parent, np.random.default_rng(1))
>>> child != parent
True
"""
from __future__ import annotations

from gp_opt.mutation.decay import mutate_decay
from gp_opt.mutation.graph import DECAY_KINDS, KINDS
from gp_opt.mutation.neighbours import one_edit, valid_neighbours
from gp_opt.mutation.update import mutate
from gp_opt.mutation.valid import mutate_batch, mutate_many, mutate_valid, random_valid, random_valid_many

__all__ = ["KINDS", "DECAY_KINDS", "mutate", "mutate_decay", "mutate_valid", "mutate_many", "mutate_batch",
           "random_valid", "random_valid_many", "one_edit", "valid_neighbours"]
