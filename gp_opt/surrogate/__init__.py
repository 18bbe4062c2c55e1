"""The surrogate fitness (SPEC section 6): the paper's ConvNet, its learning-rate screen and full run.

>>> from gp_opt.surrogate import SurrogateConfig, evaluate
>>> rec = evaluate("adam", SurrogateConfig.preset("smoke"))   # doctest: +SKIP
>>> rec.status, rec.best_lr                                     # doctest: +SKIP
('ok', 0.01)

Public API:

- :class:`ConvNet`, :class:`EnsembleConvNet`, :func:`count_parameters` — the model;
- :class:`SurrogateConfig` (``.preset("paper" | "smoke")``), :func:`evaluate`,
  :func:`make_evaluator` — the protocol and the search's ``evaluate`` callable;
- :func:`torch_factory`, :func:`with_base_schedule`, :func:`base_lr_factor`, :data:`BASELINES`,
  :func:`genome_factory`, :func:`resolve_optimizer` — the one optimizer interface
  ``factory(params_or_param_groups, lr, total_steps, warmup_steps) -> torch.optim.Optimizer``;
- :func:`train_runs` — the batched (ensemble) and single-model training runs.
"""
from gp_opt.surrogate.baselines import (
    BASELINES,
    base_lr_factor,
    baseline_factory,
    torch_factory,
    with_base_schedule,
)
from gp_opt.surrogate.ensemble import train_members, train_runs
from gp_opt.surrogate.model import ConvNet, EnsembleConvNet, count_parameters
from gp_opt.surrogate.protocol import (
    SurrogateConfig,
    SurrogateEvaluator,
    evaluate,
    evaluate_many,
    genome_factory,
    get_device_data,
    make_evaluator,
    resolve_optimizer,
)

__all__ = [
    "ConvNet",
    "EnsembleConvNet",
    "count_parameters",
    "SurrogateConfig",
    "SurrogateEvaluator",
    "evaluate",
    "evaluate_many",
    "make_evaluator",
    "genome_factory",
    "resolve_optimizer",
    "get_device_data",
    "train_runs",
    "train_members",
    "torch_factory",
    "with_base_schedule",
    "base_lr_factor",
    "baseline_factory",
    "BASELINES",
]
