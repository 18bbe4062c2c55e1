"""gp_opt.latex: numbers, symbols, special functions, broken equations, tables that compile and fit."""
import re
import shutil
import subprocess

import pytest
import sympy as sp

from gp_opt import catalog
from gp_opt import functions as F
from gp_opt import latex as L
from gp_opt.latex.printer import printed_width as width
from gp_opt import symbolic as S
from gp_opt.cli import main

from support.files import compile_tex, needs_pdflatex

OPTS = [f"Opt{i}" for i in range(1, 11)]
LRS = [f"LR{i}" for i in range(1, 10)]


@pytest.mark.parametrize("x, text", [
    (1e-5, "10^{-5}"), (2e-3, r"2 \cdot 10^{-3}"), (1.5e-6, r"1.5 \cdot 10^{-6}"), (0.95, "0.95"),
    (0.01, "0.01"), (1.0, "1"), (2.0, "2"), (123.4, "123.4"), (-1e-4, "-10^{-4}"), (3e4, r"3 \cdot 10^{4}"),
    (0.0, "0"),
])
def test_format_number(x, text):
    assert L.format_number(x) == text


def test_printer_symbols_and_special_functions():
    adam = L.equation_latex(catalog.get("Adam"))
    assert adam.update == r"\frac{\hat{v}}{\sqrt{\hat{s}} + \epsilon}" and ("eps",) in adam.used
    opt10 = L.equation_latex(catalog.get("Opt10"))
    assert r"\tilde{I}_{1}" in opt10.update and "i_{1e}" not in opt10.update
    assert ("function", "I1e") in opt10.used
    opt4 = L.equation_latex(catalog.get("Opt4"))
    assert any(r"\operatorname{erfc}" in d for _, d in opt4.decays)
    assert r"\operatorname{QH}(g)" in opt4.update
    # schedules print as a_k, never as a function call a_{4}(t, T)
    assert all("(t,T" not in d and "a_{" in d for _, d in opt4.decays)
    ema = L.expr_latex(sp.Symbol("x") * F.EMA(sp.Symbol("g"), 0.95), catalog.get("Opt1").grammar)
    assert r"\operatorname{EMA}_{0.95}" in ema


def test_no_float_artifacts_in_table8():
    tex = L.latex_table([(n, catalog.get(n)) for n in OPTS])
    assert "1.0 \\cdot" not in tex and "1.0e" not in tex and r"\operatorname{i_{1e}}" not in tex
    assert "10^{-5} w" in tex and r"\epsilon" in tex
    # the notes state epsilon's value once and define QH and the scaled Bessel function
    notes = tex[tex.index("Notes:"):]
    assert notes.count(r"\epsilon = 10^{-7}") == 1
    assert r"\operatorname{QH}(g) = 0.3 g + 0.7 \hat{v}" in notes and r"\tilde{I}_{1}(x)" in notes
    assert "needs in the preamble: \\usepackage{amsmath,booktabs,tabularx}" in tex


def test_break_long_names_parts_that_rebuild_the_equation():
    expr, _ = S.equation(catalog.get("Opt1"))
    main_expr, parts = L.break_long(expr, 30)
    assert parts, "Opt1's update is too long for 30 characters"
    assert width(main_expr) <= 30
    back = main_expr
    for sym, sub in reversed(parts):
        back = back.xreplace({sym: sub})
    for sym, sub in reversed(parts):   # parts may refer to earlier parts
        back = back.xreplace({sym: sub})
    assert sp.simplify(back - expr) == 0
    short, none = L.break_long(S.equation(catalog.get("Adam"))[0], 30)
    assert none == []


def test_results_table_bolds_the_best_mean():
    tex = L.results_table(["CIFAR-10", "digits"], [("Adam", [[0.90, 0.92], [0.5]]), ("Opt6", [[0.95], None])])
    assert r"$\mathbf{0.950}$" in tex and r"$0.910 \pm 0.014$" in tex and "--" in tex
    assert r"$\mathbf{0.500}$" in tex


def test_latex_cli_lines_and_notes(capsys):
    assert main(["latex", "Opt1"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("U = ") and any(re.match(r"c_\{1\} = ", ln) for ln in lines)
    assert any(ln.startswith("% ") and "QH" in ln for ln in lines)


@needs_pdflatex
def test_table8_compiles_and_every_row_fits_the_page(tmp_path):
    f = tmp_path / "t8.tex"
    assert main(["latex", "--table", "--standalone", *OPTS, "-o", str(f)]) == 0
    log = compile_tex(f)
    assert "Overfull \\hbox" not in log, re.findall(r"Overfull \\hbox.*", log)
    g = tmp_path / "lr.tex"
    assert main(["latex", "--table", "--form", "schedule", "--standalone", *LRS, "-o", str(g)]) == 0
    log = compile_tex(g)
    assert "Overfull \\hbox" not in log, re.findall(r"Overfull \\hbox.*", log)


@needs_pdflatex
def test_equations_document_compiles(tmp_path):
    f = tmp_path / "eq.tex"
    assert main(["latex", "--standalone", "Opt1", "Opt4", "Opt10", "A5", "LR3", "QHM", "-o", str(f)]) == 0
    log = compile_tex(f)
    assert "Overfull \\hbox" not in log, re.findall(r"Overfull \\hbox.*", log)
    f2 = tmp_path / "res.tex"
    f2.write_text(L.standalone(L.results_table(["a"], [("x_y", [[1.0, 2.0]])])))
    compile_tex(f2)


def test_results_table_bolds_the_smallest_where_lower_is_better_per_column():
    from gp_opt import latex as L
    tex = L.results_table(["acc", "bpc"], [("Adam", [0.9, 4.2]), ("SGD", [0.8, 4.0])],
                          higher_is_better=[True, False])
    adam = next(line for line in tex.splitlines() if line.startswith("Adam"))
    sgd = next(line for line in tex.splitlines() if line.startswith("SGD"))
    assert r"\mathbf{0.900}" in adam and r"\mathbf{4.200}" not in adam
    assert r"\mathbf{4.000}" in sgd and r"\mathbf{0.800}" not in sgd
    with pytest.raises(ValueError, match="higher_is_better"):
        L.results_table(["acc", "bpc"], [("Adam", [0.9, 4.2])], higher_is_better=[True])


def test_report_transfer_table_follows_each_task_direction():
    from gp_opt.report.sections import higher_by_task
    doc = {"higher_is_better": True, "higher_is_better_by_task": {"charlm": False},
           "results": [{"task": "wine", "higher_is_better": True}]}
    assert higher_by_task(doc, ["digits-mlp", "charlm", "wine"]) == [True, False, True]
    rows_only = {"results": [{"task": "charlm", "higher_is_better": False}]}
    assert higher_by_task(rows_only, ["charlm", "x"]) == [False, True]


def test_decay_numbering_is_the_same_in_every_process():
    """The d_k numbering follows the genome's node order, which once followed the iteration order
    of a set of node names and so changed with Python's string hashing between processes."""
    import os
    import sys
    from pathlib import Path

    genome = Path(__file__).resolve().parent.parent / "results" / "digits-2026-12-03" / "genomes" / "warm30-1.json"
    code = ("import sys; from gp_opt import catalog, latex as L; "
            "print(L.equation_latex(catalog.load_file(sys.argv[1])).decays)")
    outs = set()
    for seed in ("0", "4", "5", "123"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        outs.add(subprocess.run([sys.executable, "-c", code, str(genome)], env=env, capture_output=True,
                                text=True, check=True).stdout)
    assert len(outs) == 1 and "a_{10}" in outs.pop().split("),")[0]


def test_cli_latex_simplify_adds_the_simplified_update_and_refuses_tables(tmp_path, capsys):
    from gp_opt.cli import main

    out = tmp_path / "eq.tex"
    assert main(["latex", "--standalone", "--simplify", "2", "Opt4", "-o", str(out)]) == 0
    text = out.read_text()
    assert r"\text{simplified:} && U = " in text
    assert main(["latex", "--simplify", "2", "Opt4"]) == 0
    assert "% simplified" in capsys.readouterr().out
    assert main(["latex", "--table", "--simplify", "2", "Opt4"]) == 2
    assert "--simplify" in capsys.readouterr().err
    if shutil.which("pdflatex"):
        compile_tex(out)
