"""The compact U: composite ops (clip, sigmoid, softsign, ...) kept by name, so the digits campaign's
winner reads on one line; written out again it equals the paper-style equation for every catalog
entry and random genomes; show, simplify and latex print it where it is shorter."""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from gp_opt import catalog
from gp_opt import symbolic as S
from gp_opt.genome import OptimizerGenome

ROOT = Path(__file__).resolve().parents[1]
WINNER = ROOT / "results" / "digits-2026-12-03" / "genomes" / "warm30-1.json"


def _same_value(a: sp.Expr, b: sp.Expr, seed: int) -> bool:
    """a == b at random positive points (moving averages of g**2 are non-negative; opaque
    functions such as EMA must appear alike in both)."""
    rng = random.Random(seed)
    syms = sorted(a.free_symbols | b.free_symbols, key=str)
    for _ in range(3):
        point = {s: sp.Float(rng.uniform(0.1, 2.0)) for s in syms}
        va, vb = sp.N(a.xreplace(point)), sp.N(b.xreplace(point))
        if va.is_number and vb.is_number:
            if abs(complex(va) - complex(vb)) > 1e-9 * (1 + abs(complex(va))):
                return False
        elif sp.simplify(va - vb) != 0:
            return False
    return True


def test_the_campaign_winner_fits_on_one_line():
    g = catalog.load(WINNER)
    written_out = S.text_expr(S.equation(g)[0], g.grammar)
    text = S.compact_text(g)
    assert text == "clip(sign(g), d_3*clip(QH(g), Norm(2*d_2)/(sigmoid(d_1*g) + 1.0e-7)))"
    assert len(text) <= 80 < len(written_out)
    pretty = S.pretty_expr(S.compact_equation(g)[0], g.grammar)  # the 2-D form names the ops alike
    assert "clip" in pretty and "sigmoid" in pretty and "op_" not in pretty


@pytest.mark.parametrize("name", catalog.names())
def test_written_out_again_it_is_the_equation(name):
    g = catalog.get(name)
    compact, edges = S.compact_equation(g)
    expected, decays = S.equation(g)
    assert sorted(map(str, edges.values())) == sorted({str(sym) for _, _, sym, _ in decays})
    assert _same_value(S.expand_ops(compact), expected, seed=len(name))


def test_random_genomes_written_out_again_are_their_equations():
    rng = np.random.default_rng(3)
    grammar = catalog.get("Adam").grammar
    composite = 0
    for i in range(60):
        g = OptimizerGenome.random(rng, grammar)
        compact, _ = S.compact_equation(g)
        composite += bool(compact.atoms(S.GrammarOpCall))
        assert not S.expand_ops(compact).atoms(S.GrammarOpCall)
        assert _same_value(S.expand_ops(compact), S.equation(g)[0], seed=i), g
    assert composite >= 10  # the draw did exercise the named calls


def test_show_simplify_and_latex_print_it(tmp_path, capsys):
    from gp_opt.cli import main

    assert main(["show", str(WINNER)]) == 0
    out = capsys.readouterr().out
    assert "U in the grammar's ops: clip(sign(g), d_3*clip(QH(g)" in out
    assert main(["show", "Adam"]) == 0
    assert "grammar's ops" not in capsys.readouterr().out  # nothing shorter to say
    tex = tmp_path / "eq.tex"
    assert main(["latex", str(WINNER), "--standalone", "--simplify", "1", "-o", str(tex)]) == 0
    text = tex.read_text()
    assert r"\text{in the grammar's ops:} && U = \operatorname{clip}" in text
    assert r"$\operatorname{clip}(x, y) = " in text and r"$\operatorname{sigmoid}(x) = " in text  # defined in the notes



def test_the_report_prints_it_under_the_top_candidates_equation(tmp_path):
    from support.runs import candidate_line, run_with_lines

    from gp_opt.report import make_report

    run = run_with_lines(tmp_path / "run", [candidate_line(0, catalog.load(WINNER), 0.5),
                                             candidate_line(1, catalog.get("Adam"), 0.25)])
    md = make_report(run, top_k=2, simplify_seconds=0, pdf=False).markdown.read_text()
    assert md.count("In the grammar's ops") == 1  # the winner's; Adam's U is already short
    assert "`U = clip(sign(g), d_3*clip(QH(g), Norm(2*d_2)/(sigmoid(d_1*g) + 1.0e-7)))`" in md
