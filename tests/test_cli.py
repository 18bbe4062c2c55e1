"""The gp-opt command line: verbs, LaTeX output, and bad input giving one line and exit code 2."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest

from gp_opt import catalog
from gp_opt import grammar as grammar_mod
from gp_opt.cli import main
from gp_opt.errors import GenomeError, GrammarError
from gp_opt.genome import OptimizerGenome

OPTS = ["Opt%d" % k for k in range(1, 11)]


def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


# ---------------------------------------------------------------- verbs
def test_help_lists_the_verbs():
    exe = shutil.which("gp-opt")
    cmd = [exe, "--help"] if exe else [sys.executable, "-m", "gp_opt.cli", "--help"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    for verb in ("show", "latex", "random", "catalog"):
        assert verb in out


def test_show_catalog_entry(capsys):
    rc, out, err = run(capsys, "show", "Opt6")
    assert rc == 0 and not err
    assert "momentum: none" in out and "sign: +1" in out
    assert "decay functions:" in out and "erfc(erfc(a4))" in out
    assert "factored schedule: lr_t x" in out


def test_show_without_decays(capsys):
    rc, out, _ = run(capsys, "show", "Adam")
    assert rc == 0 and "decay functions: none" in out and "factored schedule: none" in out


def test_random_is_seeded_and_valid(capsys, tmp_path):
    rc, a, _ = run(capsys, "random", "--seed", "7")
    _, b, _ = run(capsys, "random", "--seed", "7")
    _, c, _ = run(capsys, "random", "--seed", "8")
    assert rc == 0 and a == b and a != c
    genome = OptimizerGenome.from_json(a)
    genome.validate()
    f = tmp_path / "g.json"
    assert run(capsys, "random", "--seed", "7", "-o", str(f))[0] == 0
    assert f.read_text() == a
    rc, out, _ = run(capsys, "show", str(f))
    assert rc == 0 and "momentum:" in out


def test_catalog_lists_everything(capsys):
    rc, out, _ = run(capsys, "catalog")
    assert rc == 0 and out.split() == catalog.names()
    rc, out, _ = run(capsys, "catalog", "--long")
    assert "QH / |dtanh(a4) exp(1e-4 w)|" in out


def test_latex_one_equation(capsys):
    rc, out, _ = run(capsys, "latex", "Adam")
    assert rc == 0 and out.startswith("U = ") and r"\hat{v}" in out
    rc, out, _ = run(capsys, "latex", "Adam", "SGD")
    assert out.count("U = ") == 2 and "% SGD" in out


def balanced(tex: str) -> bool:
    body = re.sub(r"\\[{}$%&_#]", "", tex)
    body = "\n".join(line.split("%", 1)[0] for line in body.splitlines())
    depth = 0
    for ch in body:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    lefts, rights = len(re.findall(r"\\left\b", body)), len(re.findall(r"\\right\b", body))
    stack = []
    for kind, env in re.findall(r"\\(begin|end)\{(\w+)\}", body):
        if kind == "begin":
            stack.append(env)
        elif not stack or stack.pop() != env:
            return False
    return (depth == 0 and lefts == rights and not stack
            and all(line.count("$") % 2 == 0 for line in body.splitlines()))


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    out = tmp_path_factory.mktemp("tex") / "table.tex"
    assert main(["latex", "--table", *OPTS, "-o", str(out)]) == 0
    return out


def test_latex_table_is_balanced(table):
    tex = table.read_text()
    assert balanced(tex)
    rows = [line for line in tex.splitlines() if line.startswith("Opt")]
    assert [r.split(" & ")[0] for r in rows] == OPTS
    assert all(r.count(" & ") == 4 and r.endswith(r"\\") for r in rows)
    # the third column is the card's state buffers per parameter (issue 23), counted from the graph
    from gp_opt import catalog
    from gp_opt.card import state_buffers
    assert [r.split(" & ")[2] for r in rows] == [str(len(state_buffers(catalog.get(n)))) for n in OPTS]
    assert "Name & Momentum & Buffers &" in tex and "Buffers: state buffers kept per parameter" in tex
    assert "nesterov" in rows[8] and "nesterov" in rows[9]
    assert not balanced(tex + "{")


@pytest.mark.skipif(not (shutil.which("latex") or shutil.which("pdflatex")), reason="no LaTeX engine on PATH")
def test_latex_table_compiles(table, tmp_path):
    doc = tmp_path / "doc.tex"
    doc.write_text("\\documentclass{article}\n\\usepackage{amsmath,booktabs,tabularx}\n\\usepackage[margin=5mm,paperwidth=120cm]{geometry}\n"
                   "\\begin{document}\n\\input{%s}\n\\end{document}\n" % table.as_posix())
    engine = shutil.which("pdflatex") or shutil.which("latex")
    proc = subprocess.run([engine, "-interaction=nonstopmode", "-halt-on-error", doc.name],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0 and "geometry.sty" in proc.stdout:
        doc.write_text(doc.read_text().replace("\\usepackage[margin=5mm,paperwidth=120cm]{geometry}\n", ""))
        proc = subprocess.run([engine, "-interaction=nonstopmode", "-halt-on-error", doc.name],
                              cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]


# ---------------------------------------------------------------- bad input
SGD = {"schema": 1, "grammar": "default", "momentum": "none", "sign": 1,
       "nodes": {"h0": {"op": "identity", "inputs": ["g"]}, "out": {"op": "identity", "inputs": ["h0"]}}}


def _bad_genomes():
    def variant(**nodes):
        d = json.loads(json.dumps(SGD))
        d["nodes"].update(nodes)
        return json.dumps(d)
    return {
        "malformed JSON": ("{\"schema\": 1, \"nodes\": ", "malformed JSON"),
        "unknown op": (variant(h0={"op": "frobnicate", "inputs": ["g"]}), "unknown op 'frobnicate'"),
        "cycle": (variant(h0={"op": "identity", "inputs": ["h1"]}, h1={"op": "identity", "inputs": ["h0"]}),
                  "cycle"),
        "wrong arity": (variant(h0={"op": "add", "inputs": ["g"]}), "takes 2 input"),
        "decay outside [0, 1]": (variant(h0={"op": "identity", "inputs": [
            {"from": "g", "decay": {"nodes": {"h0": {"op": "identity", "inputs": ["a3"]},
                                              "out": {"op": "add", "inputs": ["h0", "a2"]}}}}]}),
            r"leaves \[0, 1\]"),
        "unknown grammar": (json.dumps({**SGD, "grammar": "mine"}), "grammar 'mine'"),
    }


@pytest.mark.parametrize("case", list(_bad_genomes()))
def test_bad_genome_gives_named_error(case, tmp_path, capsys):
    text, message = _bad_genomes()[case]
    f = tmp_path / "bad.json"
    f.write_text(text)
    with pytest.raises(GenomeError, match=message):
        catalog.load_file(f)
    if case != "unknown grammar":
        with pytest.raises(GenomeError, match=message):
            OptimizerGenome.from_json(text)
    for verb in (["show", str(f)], ["latex", str(f)], ["latex", "--table", "Opt1", str(f)]):
        rc, out, err = run(capsys, *verb)
        assert rc == 2 and not out
        assert len(err.strip().splitlines()) == 1 and re.search(message, err), err
        assert "Traceback" not in err


def test_bad_grammar_file(tmp_path, capsys):
    bad = tmp_path / "mine.toml"
    bad.write_text('extends = "default"\n\n[[operand]]\nname = "g4"\nlabel = "no expr"\n')
    with pytest.raises(GrammarError, match=r"mine.toml.*operand 'g4'.*missing field 'expr'"):
        grammar_mod.load(bad)
    for argv in (["random", "--seed", "1", "--grammar", str(bad)], ["show", "Opt1", "--grammar", str(bad)]):
        rc, out, err = run(capsys, *argv)
        assert rc == 2 and not out and "missing field 'expr'" in err and len(err.strip().splitlines()) == 1
    missing = tmp_path / "nothing.toml"
    rc, _, err = run(capsys, "random", "--seed", "1", "--grammar", str(missing))
    assert rc == 2 and "nothing.toml" in err


def test_unknown_name_and_missing_file(capsys, tmp_path):
    rc, out, err = run(capsys, "show", "Opt11")
    assert rc == 2 and not out and "unknown catalog entry 'Opt11'" in err and "Opt1" in err
    rc, _, err = run(capsys, "show", str(tmp_path / "missing.json"))
    assert rc == 2 and "missing.json" in err and "No such file" in err
    rc, _, err = run(capsys, "latex", "Opt41")
    assert rc == 2 and "not recoverable" in err


def test_grammar_option_reads_paper_genomes(capsys, tmp_path):
    f = tmp_path / "qhm.json"
    f.write_text(catalog.get("QHM").to_json(indent=2))
    rc, out, _ = run(capsys, "show", str(f))          # the file names grammar "paper"
    assert rc == 0 and "QHM" in out
    paper = catalog.path("SGD").parent / "paper.toml"
    rc, out, err = run(capsys, "show", str(f), "--grammar", str(paper))
    assert rc == 0, err
    rc, _, err = run(capsys, "show", str(f), "--grammar", str(paper.parent / "nope.toml"))
    assert rc == 2
