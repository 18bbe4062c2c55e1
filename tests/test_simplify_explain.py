"""gp-opt simplify (behavioural, then symbolic) and gp-opt explain (issue 21)."""
from __future__ import annotations

from pathlib import Path

import pytest
import sympy as sp

from gp_opt import catalog, prune
from gp_opt import explain as E
from gp_opt.behaviour import SEARCH_PANEL, VERIFY_PANEL, distance
from gp_opt.cli import main
from gp_opt.genome import OptimizerGenome

FINALISTS = sorted((Path(__file__).resolve().parents[1] / "results" / "digits-2026-12-03" / "genomes").glob("*.json"))


def _genome(nodes, momentum="none"):
    return OptimizerGenome.from_dict({"schema": 1, "grammar": "default", "momentum": momentum, "sign": 1,
                                      "nodes": nodes})


def test_simplify_removes_what_does_not_change_the_behaviour():
    g = catalog.get("Opt1")
    r = prune.simplify_genome(g, seconds=0)
    assert r.ops_before == 43 and r.ops_after == 5 and len(r.edits) == 2
    assert r.distance <= prune.DEFAULT_TOL
    # the claim checked independently: the pruned genome behaves like the original on the panel
    assert float(distance([r.genome], g, VERIFY_PANEL)[0]) <= prune.DEFAULT_TOL
    assert r.genome.meta["simplified"]["from_ops"] == 43
    s = {x.name: x for x in r.expr.free_symbols}
    assert set(s) == {"g", "v_hat", "w"}


def test_simplify_keeps_what_matters():
    adam = catalog.get("Adam")
    r = prune.simplify_genome(adam, seconds=0)
    assert r.edits == [] and r.ops_after == r.ops_before and r.genome == adam
    # a tolerance of 2 (the largest distance) accepts every shorter edit; still never longer
    loose = prune.simplify_genome(adam, tol=2.0, seconds=0)
    assert loose.ops_after < loose.ops_before


@pytest.mark.parametrize("name", ["Opt2", "Opt6"] + [p.name for p in FINALISTS[:1]])
def test_simplify_never_grows_fast(name):
    g = catalog.get(name) if not name.endswith(".json") else catalog.load(FINALISTS[0])
    r = prune.simplify_genome(g, panel=SEARCH_PANEL, seconds=0)
    assert r.ops_after <= r.ops_before and r.nodes_after <= r.nodes_before


@pytest.mark.slow
@pytest.mark.parametrize("spec", [f"Opt{k}" for k in range(1, 11)] + [str(p) for p in FINALISTS])
def test_simplify_never_grows_opt1_10_and_the_digits_finalists(spec):
    """On the search panel (cheaper; the default verification panel was run once, 2026-12-06:
    all 14 pass, about 5 minutes on a shared 2-core machine)."""
    g = catalog.load(spec)
    r = prune.simplify_genome(g, panel=SEARCH_PANEL, seconds=0.5)
    assert r.ops_after <= r.ops_before
    assert sp.count_ops(r.expr) <= r.ops_before
    assert float(distance([r.genome], g, SEARCH_PANEL)[0]) <= prune.DEFAULT_TOL


def test_simplify_cli_prints_counts_and_writes_the_genome(tmp_path, capsys):
    out = tmp_path / "opt1-simple.json"
    assert main(["simplify", "Opt1", "--simplify", "0", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "ops 43 -> 5" in text and "removed: h1: clip" in text and "U =" in text
    assert catalog.load(out).meta["simplified"]["ops"] == 5


@pytest.mark.parametrize("argv, words", [
    (["simplify", "no_such.json"], "no_such.json"),
    (["explain", "NoSuchOptimizer"], "unknown catalog entry"),
    (["simplify", "Opt1", "--tol", "nan"], "--tol"),
    (["explain", "Opt1", "--top", "0"], "--top"),
])
def test_bad_input_is_one_line_and_exit_2(argv, words, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:      # argparse's own refusal of an option value
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1


def test_bad_genome_file_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": 1, "nodes": {}}')
    for verb in ("simplify", "explain"):
        assert main([verb, str(bad)]) == 2
        err = capsys.readouterr().err
        assert "bad.json" in err and len(err.strip().splitlines()) == 1


def test_explain_names_adam_without_the_square_root():
    nosqrt = _genome({"h0": {"op": "identity", "inputs": ["s_hat"]}, "out": {"op": "div", "inputs": ["v_hat", "h0"]}})
    e = E.explain(nosqrt, top=3)
    assert e.nearest[0][0] == "Adam" and 0 < e.nearest[0][1] < 2
    assert e.difference == "Adam without the square root" and e.difference_from == "Adam"


def test_explain_a_catalog_entry_finds_itself(capsys):
    assert main(["explain", "RMSProp", "--top", "2"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[2].split() == ["RMSProp", "0"]
    assert "the same equation as RMSProp" in out


def test_symbolic_difference_of_a_schedule():
    sched = _genome({"h0": {"op": "sqrt_abs", "inputs": ["s_hat"]},
                     "out": {"op": "div", "inputs": [{"from": "v_hat", "decay": {"nodes": {
                         "out": {"op": "identity", "inputs": ["a4"]}}}}, "h0"]}})
    text = E.symbolic_difference(sched, catalog.get("Adam"), "Adam")
    assert text.startswith("the update of Adam under the learning-rate schedule a4")


def test_latex_prune_uses_the_simplified_genome_and_says_so(capsys):
    assert main(["latex", "Opt1", "--prune"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("% Opt1: simplified behaviourally (gp-opt simplify): ops 43 -> 5")
    assert "U = \\operatorname{QH}(g) + 10^{-5} w" in out
    assert "clip" not in out.split("\n", 1)[1]


OPT1_FIRST = '''
from gp_opt import catalog
OPT1 = catalog.get("Opt1").to_dict()["nodes"]
def opt1_first(genome):
    """Opt1 (started from with --init-from) scores 1, everything else 0."""
    return 1.0 if genome.to_dict()["nodes"] == OPT1 else 0.0
'''


def test_report_prune_uses_the_simplified_genome_and_says_so(tmp_path):
    import subprocess
    import sys
    (tmp_path / "opt1_tasks.py").write_text(OPT1_FIRST)
    run = [sys.executable, "-m", "gp_opt.cli"]
    p = subprocess.run(run + ["search", "--task", "opt1_tasks:opt1_first", "--init-from", "Opt1", "--particles", "2",
                              "--steps", "1", "--children", "1", "--init-factor", "1", "-q", "--out", "run"],
                       capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert p.returncode == 0, p.stderr
    p = subprocess.run(run + ["report", "run", "--top", "1", "--prune", "1", "--no-pdf", "--simplify", "0"],
                       capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert p.returncode == 0, p.stderr
    md = (tmp_path / "run" / "report" / "report.md").read_text()
    assert "Simplified behaviourally (`gp-opt simplify`" in md and "ops 43 -> 5" in md
    assert "#1 simplified behaviourally" in (tmp_path / "run" / "report" / "tables.tex").read_text()
    found = catalog.load(tmp_path / "run" / "report" / "top1.json")
    simple = catalog.load(tmp_path / "run" / "report" / "top1-simplified.json")
    assert found.to_dict()["nodes"] == catalog.get("Opt1").to_dict()["nodes"]
    assert prune.op_count(simple) == 5
