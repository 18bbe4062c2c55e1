"""The code printers (torch, JAX) and a schedule leaf's one LaTeX route.

The printed forms themselves are pinned through the catalog's exports (test_export_pins.py) and
checked numerically by the optimizer tests; here: the printers' shape and their refusals.
"""
from __future__ import annotations

import pytest
import sympy as sp
from sympy.printing.pycode import AbstractPythonCodePrinter

from gp_opt import grammar as gm
from gp_opt.latex.printer import PaperLatexPrinter
from gp_opt.code_printer import (ELEMENTWISE, JaxCodePrinter, TorchCodePrinter, TorchPrinterError, jax_source,
                            torch_source)
from gp_opt.symbolic.build import schedule_leaf

x, y = sp.symbols("x y")


def test_the_printers_are_sympy_code_printers_over_one_table():
    assert issubclass(TorchCodePrinter, AbstractPythonCodePrinter) and issubclass(JaxCodePrinter, TorchCodePrinter)
    assert set(TorchCodePrinter.mapping) == set(JaxCodePrinter.mapping) == set(ELEMENTWISE)
    for f, (torch_name, jax_name) in ELEMENTWISE.items():
        assert torch_source(f(x)) == f"{torch_name}(x)" and jax_source(f(x)) == f"{jax_name}(x)"


@pytest.mark.parametrize("expr, message", [
    (sp.gamma(x), "no torch form for gamma: gamma(x)"),
    (sp.I * x, "complex constant I"),
])
def test_what_has_no_torch_form_is_refused_by_name(expr, message):
    with pytest.raises(TorchPrinterError, match=message.replace("(", r"\(").replace(")", r"\)")):
        torch_source(expr)


def test_text_is_refused_never_parsed_and_fusion_is_torch_only():
    with pytest.raises(sp.SympifyError):
        torch_source("x + y")
    with pytest.raises(TorchPrinterError, match="torch-only"):
        torch_source(x * y, scalars=frozenset({y}), backend="jax")


def test_the_engine_ops_print_as_calls_on_the_context_keyed_by_node():
    expr = next(op.expr for op in gm.load().ops.values() if op.kind == "stochastic")  # a dropout
    src = torch_source(expr, key="h2", ctx="engine")
    assert src.startswith("engine.") and src.endswith(", key='h2')")
    assert jax_source(expr, key="h2") == src.replace("engine.", "ctx.")


def test_a_schedule_leaf_prints_through_its_own_latex_in_every_printer():
    leaf = schedule_leaf("a4")(sp.Symbol("t"), sp.Symbol("T"))
    paper = PaperLatexPrinter(None)
    assert sp.latex(leaf) == paper.doprint(leaf) == "a_{4}"
    assert ("schedule", "a4") in paper.used
    assert paper.doprint(leaf ** 2) == sp.latex(leaf ** 2) == "a_{4}^{2}"
