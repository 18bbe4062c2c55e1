"""How an optimizer behaves, as numbers: trajectories on fixed panels of small problems, and a
deterministic distance between two optimizers (genomes) built on them.

* :mod:`.panel` -- :class:`Panel` (problems x gradient-noise levels x learning rates),
  :data:`SEARCH_PANEL` (12 runs of 20 steps of 9 parameters: cheap, for a search's fitness) and
  :data:`VERIFY_PANEL` (36 runs of 60 steps on other data: for deciding equality);
* :mod:`.distance` -- the batched simulation and the API below.

API::

    fingerprint(genomes, panel=SEARCH_PANEL) -> Trajectories       # positions of every run
    reference_trajectories(genome, panel) -> Trajectories          # one genome's; GpOptError if it cannot run
    distance(candidates, target, panel=SEARCH_PANEL) -> np.ndarray # [C] floats, inf = NaN/inf or cannot run
    distance_matrix(genomes, panel=SEARCH_PANEL) -> np.ndarray     # [C, C]
    behaviourally_equal(a, b, tol=1e-9, panel=VERIFY_PANEL) -> bool

The distance is 0 exactly when the candidate's trajectories equal the target's (an inactive
node, a reordered ``max``, ``-(-g)`` or a flipped sign with a negated graph change nothing), each
run's share is normalised by how far the two optimizers move (at most 2 per run), and it is the
mean over the runs: no problem or learning rate dominates. Deterministic: the data, the noise and
the dropout masks are fixed draws of the panel's seed; the same genome gets the same distance in
any batch.

>>> from gp_opt import catalog
>>> adam = catalog.get("Adam")
>>> float(distance([adam], adam)[0]), behaviourally_equal(adam, catalog.get("Adam"))
(0.0, True)
"""
from __future__ import annotations

from gp_opt.behaviour.distance import (BATCH_SIZE, DEFAULT_TOLERANCE, Trajectories, behaviourally_equal,
                                       distance, distance_matrix, fingerprint,
                                       reference_trajectories)
from gp_opt.behaviour.panel import PROBLEMS, SEARCH_PANEL, VERIFY_PANEL, Panel, panel_data

__all__ = ["Panel", "PROBLEMS", "SEARCH_PANEL", "VERIFY_PANEL", "Trajectories", "fingerprint", "reference_trajectories", "distance",
           "distance_matrix", "behaviourally_equal", "panel_data", "DEFAULT_TOLERANCE", "BATCH_SIZE"]
