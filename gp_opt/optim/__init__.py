"""Every genome as a PyTorch optimizer; the published optimizers and schedules as drop-ins.

* :class:`EvolvedOptimizer` -- any ``OptimizerGenome`` as a ``torch.optim.Optimizer``;
* ``Opt1`` ... ``Opt10``, ``A1`` ... ``A5``, ``QHM``, ``PowerSign``, ``AddSign`` -- the published
  optimizers (catalog genomes) as drop-ins; :func:`published_optimizer` for any catalog name;
* :class:`EvolvedLR` -- the learned learning-rate schedules ``LR1`` ... ``LR9`` for any optimizer;
* :func:`functional_step` -- one genome's step on plain tensors (ensembles stacked on dim 0);
* :func:`export_torch` -- a standalone optimizer module (torch only) for a genome;
* :func:`optax_transformation` -- any genome as an ``optax.GradientTransformation`` (JAX; the
  optional extra ``gp_opt[jax]``), :func:`export_optax` -- a standalone optax module for it.

See docs/optim.md.
"""
from gp_opt.optim.compile import CompiledGenome, FunctionalStep, compile_genome, functional_step
from gp_opt.optim.evolved import EvolvedOptimizer
from gp_opt.optim.export import export_torch
from gp_opt.optim.to_optax import export_optax, optax_transformation
from gp_opt.optim.published import PUBLISHED, PublishedOptimizer, published_optimizer
from gp_opt.optim.published import (  # noqa: F401
    A1, A2, A3, A4, A5, QHM, AddSign, Opt1, Opt2, Opt3, Opt4, Opt5, Opt6, Opt7, Opt8, Opt9, Opt10,
    PowerSign)
from gp_opt.optim.schedules import EvolvedLR, base_lr_factor, momentum_table, schedule_factor_table

__all__ = ["EvolvedOptimizer", "EvolvedLR", "functional_step", "FunctionalStep", "compile_genome",
           "CompiledGenome", "export_torch", "export_optax", "optax_transformation", "published_optimizer", "PublishedOptimizer", "PUBLISHED",
           "base_lr_factor", "momentum_table", "schedule_factor_table", *PUBLISHED]
