"""Deprecated: this module is :mod:`gp_opt.optim.to_optax` (a genome to an optax transformation
and to a standalone optax module); its old name was the library's own, ``optax``.

Importing it warns (:class:`DeprecationWarning`) and gives the same public names as before.
"""
import warnings

from gp_opt.optim.to_optax import (MissingJaxError, export_optax, function_name, optax_source, optax_transformation,
                                   runtime_definitions)

__all__ = ["optax_transformation", "optax_source", "export_optax", "function_name", "MissingJaxError",
           "runtime_definitions"]

warnings.warn("gp_opt.optim.optax is deprecated: import from gp_opt.optim.to_optax", DeprecationWarning, stacklevel=2)
