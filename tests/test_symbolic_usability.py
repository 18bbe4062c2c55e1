"""The symbolic view as a sympy user meets it (issue 21 item 6): real symbols for calculus,
``subs`` through ``Norm``, ``lambdify``, notebook display, ``catalog.get(path)``, and the
example of docs/symbolic.md run as written."""
import doctest
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from gp_opt import catalog, functions as F, symbolic as S

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_docs_symbolic_example_runs():
    result = doctest.testfile(str(DOCS / "symbolic.md"), module_relative=False,
                              optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 10 and result.failed == 0


@pytest.mark.parametrize("name", ["Opt1", "Opt2", "Opt6", "A2"])
def test_diff_of_abs_is_free_of_re_im_with_real_symbols(name):
    g = catalog.get(name)
    plain, real = S.to_sympy(g), S.to_sympy(g, real=True)
    assert plain.has(sp.Abs)
    s = S.symbols(g.grammar)
    wrt = s["g"] if real.has(s["g"]) else s["v_hat"]
    d = real.diff(wrt)
    assert not d.has(sp.re, sp.im)
    # the same function: the real form and the plain one agree at a point
    point = {sym: {"t": 3, "T": 10}.get(sym.name, 0.3 + 0.1 * k)      # t, T integers
             for k, sym in enumerate(sorted(real.free_symbols, key=str))}
    plain_point = {sp.Symbol(k.name): v for k, v in point.items()}
    assert float(real.subs(point)) == pytest.approx(float(plain.subs(plain_point)))


def test_symbols_carry_the_assumptions_of_the_grammar():
    s = S.symbols(catalog.get("Adam").grammar)
    assert s["g"].is_real and s["g"].is_nonnegative is None
    assert s["s_hat"].is_nonnegative and s["v_hat"].is_nonnegative is None
    assert s["t"].is_integer and s["t"].is_nonnegative and s["T"].is_positive
    expr = S.to_sympy(catalog.get("Adam"), real=True)
    assert expr.free_symbols == {s["v_hat"], s["s_hat"]}
    assert S.plain_form(expr, catalog.get("Adam").grammar) == S.to_sympy(catalog.get("Adam"))


def test_real_forms_print_like_the_plain_ones():
    for name in ("Opt6", "Opt10", "QHM", "LR3"):
        g = catalog.get(name)
        for kw in ({}, {"expand_schedules": False, "expand_operands": False}):
            plain, real = S.to_sympy(g, **kw), S.to_sympy(g, real=True, **kw)
            assert S.latex_expr(real, g.grammar) == S.latex_expr(plain, g.grammar)
            assert S.text_expr(real, g.grammar) == S.text_expr(plain, g.grammar)


def test_factor_schedule_real_is_the_plain_one_in_real_symbols():
    g = catalog.get("Opt6")
    s_plain, u_plain = S.factor_schedule(g)
    s_real, u_real = S.factor_schedule(g, real=True)
    assert S.plain_form(s_real, g.grammar) == s_plain and S.plain_form(u_real, g.grammar) == u_plain
    assert s_real.free_symbols == {S.symbols(g.grammar)["t"], S.symbols(g.grammar)["T"]}


def test_subs_through_norm_and_the_stateful_functions():
    x = sp.Symbol("x")
    assert F.Norm(x).subs(x, 2.0) == 1.0 and F.Norm(x).subs(x, -0.5) == -0.5
    assert sp.Max(F.Norm(x), 0.25).subs(x, 0.5) == 0.5          # used to raise "not comparable"
    for stateful in (F.EMA(x, 0.9), F.Delta(x), F.RunMax(x), F.Drop(x, 0.5)):
        out = sp.Max(stateful, 1).subs(x, 3)                      # kept unevaluated, no error
        assert out.has(type(stateful))


def test_lambdify_knows_the_grammar_functions():
    x = sp.Symbol("x", real=True)
    f = sp.lambdify([x], F.Norm(x) + F.I1e(x) + F.Softplus(x))
    v = np.array([-3.0, 0.5])
    from scipy.special import i1e
    assert np.allclose(f(v), v / np.maximum(1, np.abs(v)) + i1e(v) + np.logaddexp(0, v))
    with pytest.raises(ValueError, match="EMA"):
        sp.lambdify([x], F.EMA(x, 0.9))(1.0)


def test_genomes_display_in_notebooks():
    g = catalog.get("Opt6")
    latex = g._repr_latex_()
    assert latex.startswith("$") and latex.endswith("$") and S.to_latex(g) in latex
    assert "momentum: nesterov" in catalog.get("Nesterov")._repr_latex_()
    png = g._repr_png_()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    svg = g._repr_svg_()
    assert isinstance(svg, str) and "<svg" in svg and svg.rstrip().endswith("</svg>") and "<path" in svg
    decay = next(d for n in g.active_inner_nodes() for _, d in g.input_edges(n) if d is not None)
    assert decay._repr_latex_().startswith(r"$\displaystyle d(t) = ")
    # a real-symbol result prints hats and Greek letters in its own (sympy) notebook display
    opt3 = S.to_sympy(catalog.get("Opt3"), real=True)
    assert r"\hat{\lambda}" in opt3._repr_latex_()


def test_catalog_get_takes_a_path_like_load(tmp_path):
    path = catalog.path("Opt6")
    for spec in (path, str(path)):
        assert catalog.get(spec) == catalog.load(spec)
    copy = tmp_path / "mine.json"
    copy.write_text(path.read_text())
    assert catalog.get(str(copy)) == catalog.get("Opt6")
    with pytest.raises(Exception, match="unknown catalog entry"):
        catalog.get("NoSuchOptimizer")
