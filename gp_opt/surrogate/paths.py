"""Deprecated: the path rule is :mod:`gp_opt.surrogate.path_choice` and the calibration
:mod:`gp_opt.surrogate.calibration` (this module's old name said nothing of what it holds, and its
calibration imported the ensembles, which import the rule: an import cycle).

Importing it warns (:class:`DeprecationWarning`) and gives the same public names as before.
"""
import warnings

from gp_opt.surrogate.calibration import calibrate
from gp_opt.surrogate.path_choice import CPU_ENSEMBLE_MAX_WORK, cache_path, choose_batched, rule_batched

__all__ = ["choose_batched", "rule_batched", "calibrate", "cache_path", "CPU_ENSEMBLE_MAX_WORK"]

warnings.warn("gp_opt.surrogate.paths is deprecated: import choose_batched, rule_batched, cache_path from "
              "gp_opt.surrogate.path_choice and calibrate from gp_opt.surrogate.calibration",
              DeprecationWarning, stacklevel=2)
