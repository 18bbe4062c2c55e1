"""``gp-opt report RUN_DIR``: what a run found, as Markdown, PNG figures, LaTeX tables and a PDF.

The run directory is only read (through :class:`gp_opt.rundir.RunDir`, never repairing its log);
everything is written into ``RUN_DIR/report/`` (or ``out``):

- ``report.md`` -- renders as is on a code-hosting site: ``$$...$$`` equations, PNG figures beside
  it, Markdown tables. Sections: the run, search progress, the top-k optimizers, complexity
  (Pareto front), elimination and transfer results when the run directory holds them.
- ``tables.tex`` -- the Table-8-form table of the top-k (:func:`gp_opt.latex.latex_table`) and
  mean ± std results tables (elimination, transfer) when there are any.
- ``report.tex`` / ``report.pdf`` -- a standalone document of the same (the PDF when ``pdflatex``
  is installed; otherwise the report says it skipped it).
- ``top<k>.json`` -- the genome of each top-k optimizer (``gp-opt show report/top1.json``).
- Figures: ``progress.png``, ``rates.png``, ``pareto.png``, and per optimizer
  ``top<k>_schedule.png``, ``top<k>_decays.png``, ``top<k>_update.png``, ``top<k>_graph.png``.

Results the later stages write into the run directory, read when present (formats in
docs/report.md): :data:`ELIMINATION_FILE` and :data:`TRANSFER_FILE`.

The sympy work is bounded: every successful unique genome costs one ``count_ops`` of its
automatically canonical ``U`` (milliseconds), and only the top-k and the Pareto front are
simplified, each within ``simplify_seconds``.
"""
from gp_opt.report.make import ReportResult, make_report
from gp_opt.report.run import (ELIMINATION_FILE, HOLDOUT_FILE, REPORT_DIR, TRANSFER_FILE, ReportError, RunData,
                               load_run, tree_size)

__all__ = ["make_report", "load_run", "RunData", "ReportResult", "ReportError", "tree_size", "ELIMINATION_FILE",
           "TRANSFER_FILE", "HOLDOUT_FILE", "REPORT_DIR"]
