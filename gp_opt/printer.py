"""Deprecated: this module is :mod:`gp_opt.code_printer`, the torch and JAX code printers (its old
name was easy to take for :mod:`gp_opt.latex.printer`).

Importing it warns (:class:`DeprecationWarning`) and gives the same public names as before.
"""
import warnings

from gp_opt.code_printer import (ELEMENTWISE, JaxCodePrinter, TorchCodePrinter, TorchPrinterError, jax_source,
                                 torch_function, torch_source)

__all__ = ["TorchCodePrinter", "JaxCodePrinter", "ELEMENTWISE", "torch_source", "jax_source", "torch_function",
           "TorchPrinterError"]

warnings.warn("gp_opt.printer is deprecated: import from gp_opt.code_printer", DeprecationWarning, stacklevel=2)
