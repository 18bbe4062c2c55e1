"""Deprecated: this module is :mod:`gp_opt.surrogate.console`, the terminal helpers of ``gp-opt
evaluate`` (its old name said *report*, which is :mod:`gp_opt.report`).

Importing it warns (:class:`DeprecationWarning`) and gives the same public names as before.
"""
import warnings

from gp_opt.surrogate.console import ProgressLine, evaluate_spec, format_record, resolve_spec

__all__ = ["ProgressLine", "format_record", "evaluate_spec", "resolve_spec"]

warnings.warn("gp_opt.surrogate.report is deprecated: import ProgressLine, format_record, evaluate_spec and "
              "resolve_spec from gp_opt.surrogate.console", DeprecationWarning, stacklevel=2)
