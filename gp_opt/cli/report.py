"""Verbs that turn runs and genomes into things to read: report, plot."""
from __future__ import annotations

import sys
from pathlib import Path

from gp_opt.cli import common
from gp_opt.errors import GpOptError

PLOT_KINDS = ("schedule", "decays", "update", "graph")


def cmd_report(args) -> int:
    """Write RUN_DIR/report/: report.md (equations, figures, tables), the figures (PNG; --formats
    adds pdf/svg), tables.tex, report.tex and report.pdf when pdflatex is installed. The run
    directory is only read, under its writer lock (a live search or eliminate refuses the report);
    nothing is written through a symbolic link. Prints the report folder."""
    from gp_opt.report import make_report
    from gp_opt.report.make import FIGURE_FORMATS
    formats = tuple(common.items(args.formats, "--formats"))
    unknown = [f for f in formats if f not in FIGURE_FORMATS]
    if unknown:  # checked before the report folder is made
        raise GpOptError(f"--formats {unknown[0]!r}: not a figure format; use {', '.join(FIGURE_FORMATS)}")
    result = make_report(args.run_dir, out=args.out, top_k=args.top, formats=formats, pdf=not args.no_pdf,
                         simplify_seconds=args.simplify, verbose=args.verbose, prune_top=args.prune)
    if result.pdf_note:
        print(result.pdf_note, file=sys.stderr)
    print(result.out_dir)
    return 0


def cmd_plot(args) -> int:
    """One figure of an optimizer (a catalog name or a genome file): its factored learning-rate
    schedule, its decay functions, its update U as a function of g at fixed states, or its graph
    (the DAG with the decay function on each edge, inactive nodes grey). --compare adds other
    optimizers (schedule, update)."""
    kinds = [k for k in PLOT_KINDS if getattr(args, k)]
    if len(kinds) != 1:
        raise GpOptError("say what to plot: one of --schedule, --decays, --update, --graph")
    kind = kinds[0]
    genome = common.load(args.genome, args)
    name = common.title(genome, args.genome)
    others = []
    for spec in common.items(args.compare, "--compare"):
        g = common.load(spec, args)
        others.append((common.title(g, spec), g))
    import numpy as np

    from gp_opt import plots as P  # matplotlib: imported once the inputs are known to be good
    out = Path(args.output)
    suffix = out.suffix.lower().lstrip(".") or "png"
    if suffix not in ("png", "pdf", "svg"):
        raise GpOptError(f"{out}: unknown figure format {suffix!r}; use .png, .pdf or .svg")
    if not out.parent.is_dir():
        raise GpOptError(f"{out}: the folder {out.parent} does not exist")
    if kind == "schedule":
        fig = P.schedule_figure(P.schedule_curves(genome, name=name),
                                [P.schedule_curves(g, name=n) for n, g in others])
    elif kind == "decays":
        fig = P.decays_figure(name, P.decay_curves(genome))
    elif kind == "update":
        x = np.linspace(-3, 3, 241)
        fig = P.update_figure(x, {name: P.update_curves(genome, x),
                                  **{n: P.update_curves(g, x) for n, g in others}})
    else:
        fig = P.graph_figure(genome, name)
    P.save(fig, out, (suffix,))
    print(out)
    return 0


def register(sub) -> None:
    """Add the verbs: report, plot."""
    p = sub.add_parser("report", help="a run's report: Markdown, figures, LaTeX tables, PDF",
                       description=cmd_report.__doc__)
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--top", type=common.count(10_000), default=10, metavar="K", help="the top-k optimizers to show (default 10)")
    p.add_argument("--out", metavar="DIR", help="write here instead of RUN_DIR/report")
    p.add_argument("--formats", default="png", metavar="LIST",
                   help="figure formats, comma-separated: png (always), pdf, svg")
    p.add_argument("--simplify", type=common.seconds, default=1.0, metavar="SECONDS",
                   help="sympy simplify budget per top-k / Pareto optimizer (default 1; 0: off)")
    p.add_argument("--prune", type=common.int_in(0, 10_000), default=0, metavar="K",
                   help="simplify the first K of the top-k behaviourally first (gp-opt simplify; about "
                        "5-10 s each): their equations are the simplified genome's, and the report says so "
                        "(default 0: off)")
    p.add_argument("--no-pdf", action="store_true", help="do not compile report.pdf")
    p.add_argument("-v", "--verbose", action="store_true", help="progress lines with timings")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("plot", help="a figure of an optimizer: schedule, decays, update or graph",
                       description=cmd_plot.__doc__)
    p.add_argument("genome", metavar="NAME|FILE", help="a catalog name or a genome JSON file")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--schedule", action="store_true", help="factored lr schedule, base rate and product over t/T")
    group.add_argument("--decays", action="store_true", help="each decay function over t/T")
    group.add_argument("--update", action="store_true", help="U as a function of g at fixed (steady) states")
    group.add_argument("--graph", action="store_true", help="the update graph with its decay functions")
    p.add_argument("--compare", metavar="A,B", help="other optimizers to draw too (schedule, update), e.g. Adam,SGD")
    p.add_argument("-o", "--output", required=True, metavar="FIG.png", help="the figure (.png, .pdf or .svg)")
    common.add_grammar_option(p)
    p.set_defaults(func=cmd_plot)
