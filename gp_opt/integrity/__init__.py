"""The integrity check (SPEC section 5): does an update graph descend at all?

Every candidate runs 35 steps on the shifted sphere ``f(x) = sum_i (x_i - b_i)^2`` at six
learning rates and with both signs of its update; it passes if any final ``f`` with its own
sign is below the threshold, else it passes *flipped* if one with the opposite sign is. NaN or
inf is a failure, never an exception.

Two engines run the very same maths (every operand from :class:`gp_opt.operands.OperandProgram`,
every op from the grammar's ``Op.torch``, the state and dropout kernels of
:mod:`gp_opt.functions`):

* :func:`check_many` (and :func:`check`) -- batched: the 12 runs (6 learning rates x 2 signs)
  of every candidate in one tensor of shape ``[candidates, 12, 5]``; at each node position the
  candidates are grouped by op and each op runs once on its group.
* :func:`naive_check` -- the reference: one run per learning rate and sign, a plain loop over the
  steps on a 5-vector, as the paper's code does. The tests cross-check the two engines.

Dropout is seeded: the mask of a dropout call depends only on (config seed, node name, call
index, step, run), so a genome's result never depends on which other genomes share its batch.

>>> from gp_opt.genome import OptimizerGenome
>>> sgd = OptimizerGenome.from_nodes({"h0": ("identity", ["g"]), "out": ("identity", ["h0"])})
>>> r = check(sgd)
>>> r.passed, r.flipped
(True, False)
"""
from __future__ import annotations

from gp_opt.integrity.batch import GraphBatch
from gp_opt.integrity.check import check, check_many
from gp_opt.integrity.config import (DEFAULT_CONFIG, IntegrityConfig, IntegrityResult, apply, lr_schedule,
                                     momentum_schedule)
from gp_opt.integrity.naive import naive_check
from gp_opt.integrity.plan import (Plan, clear_caches, decay_in_range, decay_signature, decay_values,
                                   operand_program)

__all__ = ["IntegrityConfig", "IntegrityResult", "check", "check_many", "naive_check", "apply",
           "lr_schedule", "momentum_schedule", "decay_in_range", "clear_caches",
           # the pieces that dedup and the tests build on
           "DEFAULT_CONFIG", "Plan", "GraphBatch", "decay_signature", "decay_values", "operand_program"]
