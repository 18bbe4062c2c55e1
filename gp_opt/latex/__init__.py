"""LaTeX an author can paste: equations, Table-8-style tables, results tables, whole documents.

Everything is printed by :class:`PaperLatexPrinter`, a sympy ``LatexPrinter`` that writes

* numbers as a paper does: ``10^{-5}``, ``2 \\cdot 10^{-3}``, ``0.95``, never ``1.0 \\cdot 10^{-5}``;
* the grammar's epsilon as ``\\epsilon`` (its value goes in a note);
* the state symbols with hats (``\\hat{v}``, ``\\hat{\\lambda}``), labelled operands as
  ``\\operatorname{QH}(g)``, schedules as ``a_{4}``, the scaled Bessel function as
  ``\\tilde{I}_{1}``, ``\\operatorname{EMA}_{0.95}``, ``\\Delta``, ``\\operatorname{erfc}``,
  ``\\arctan``, ``\\operatorname{arsinh}``;

and records what it printed, so that a table or a document can define each special symbol once in
a note (:func:`notes`). Long equations are broken into named parts (``sympy.cse`` first, then the
widest subterms) and printed as ``U = ...`` with a "where" line (:func:`break_long`).

The packages a table needs are listed in :data:`TABLE_PACKAGES` and printed in a comment above
it; :func:`standalone` wraps any body into a document that compiles with ``pdflatex`` as is.

>>> format_number(1e-5), format_number(0.002), format_number(0.95), format_number(1.0)
('10^{-5}', '2 \\\\cdot 10^{-3}', '0.95', '1')
>>> from gp_opt import catalog
>>> equation_latex(catalog.get("Adam")).update
'\\\\frac{\\\\hat{v}}{\\\\sqrt{\\\\hat{s}} + \\\\epsilon}'
"""
from __future__ import annotations

from gp_opt.latex.document import (equation_block, equation_lines, equations_document, simplified_latex,
                                   standalone)
from gp_opt.latex.printer import (DOCUMENT_PACKAGES, TABLE_PACKAGES, EquationTex, PaperLatexPrinter, break_long,
                                  equation_latex, expr_latex, format_number, tex_escape)
from gp_opt.latex.tables import latex_table, notes, notes_paragraph, preamble_comment, results_table

__all__ = ["format_number", "PaperLatexPrinter", "expr_latex", "break_long", "equation_latex",
           "EquationTex", "notes", "notes_paragraph", "latex_table", "results_table", "equation_block",
           "equation_lines", "simplified_latex", "equations_document", "standalone", "tex_escape",
           "TABLE_PACKAGES", "DOCUMENT_PACKAGES", "preamble_comment"]
