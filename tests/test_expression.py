"""Grammar expressions are read without eval: hostile text is refused and runs nothing."""
import os

import pytest
import sympy as sp

from gp_opt import expression, grammar
from gp_opt.errors import GrammarError

X = sp.Symbol("x")


def _payloads(marker):
    """Texts that would create ``marker`` if anything evaluated them."""
    m = str(marker)
    return [
        f"x + 0*__import__('os').system('touch {m}')",                 # dunder call
        f"x.__class__.__init__.__globals__['os'].system('touch {m}')",  # attribute access
        f"(lambda: __import__('os').system('touch {m}'))()",          # lambda
        f"[__import__('os').system('touch {m}')][0]",                 # subscript, list
        f"exp(x, evaluate=__import__('os').system('touch {m}'))",     # keyword argument
        f"open('{m}', 'w')",                                           # unknown function, string
        f"[c for c in ().__class__.__bases__[0].__subclasses__()]",     # comprehension
        f"x if __import__('os').system('touch {m}') else x",           # conditional
        f"Symbol('{m}')",                                              # sympy constructor by name
        f"exp.__globals__",                                            # attribute of an allowed function
        f"__builtins__",                                               # dunder name
    ]


@pytest.mark.parametrize("k", range(11))
def test_hostile_text_is_refused_and_runs_nothing(tmp_path, k):
    marker = tmp_path / "pwned"
    text = _payloads(marker)[k]
    with pytest.raises(expression.ExpressionError, match=r"mine\.toml: op 'evil': "):
        expression.parse(text, {"x": X}, "mine.toml: op 'evil'")
    assert not marker.exists()


def test_a_hostile_grammar_file_is_refused_and_runs_nothing(tmp_path, capsys):
    from gp_opt.cli import main

    marker = tmp_path / "pwned"
    for k, text in enumerate(_payloads(marker)):
        p = tmp_path / f"evil{k}.toml"
        p.write_text('extends = "default"\nname = "evil"\n[ops.evil]\nexpr = \'\'\'' + text + "'''\n")
        with pytest.raises(GrammarError, match=rf"evil{k}\.toml: op 'evil': "):
            grammar.load(p)
        assert main(["notation", "--grammar", str(p)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "op 'evil'" in err and "Traceback" not in err
    assert not marker.exists()


@pytest.mark.parametrize("text, token", [
    ("x.real", "attribute access"),
    ("x[0]", "a subscript"),
    ("'x'", "a string"),
    ("z + x", "unknown symbol(s) z"),
    ("foo(x)", "unknown function 'foo'"),
    ("x ^ 2", "write powers as **"),
    ("x % 2", "write Mod(a, b)"),
    ("x < 1", "a comparison"),
    ("exp", "used without arguments"),
    ("x(1)", "is a symbol, not a function"),
    ("Max(*[x])", "unpacking"),
    ("10**10**10", "the power is too large"),
    ("1/0", "not finite"),
    ("x + 1j", "the constant 1j"),
    ("True", "the constant True"),
    ("(" * 300 + "x" + ")" * 300, "cannot parse expr"),
    ("+".join(["x"] * 900), "nested more than"),
    ("x" * 3000, "longer than"),
])
def test_refusals_name_the_token(text, token):
    with pytest.raises(expression.ExpressionError) as info:
        expression.parse(text, {"x": X}, "g.toml: op 'bad'")
    msg = str(info.value)
    assert msg.startswith("g.toml: op 'bad': ") and token in msg and "\n" not in msg


def test_builds_what_sympify_built():
    """The default grammar's own forms, compared with sympy's reading of the same text (done here
    on trusted literals only)."""
    g, w, t, T = sp.symbols("g w t T")
    syms = {"x": X, "y": sp.Symbol("y"), "eps": sp.Symbol("eps"), "g": g, "w": w, "t": t, "T": T}
    for text in ["0.3*g + 0.7*x", "1e-6*w", "((0*x - g) + (0.9*x - g) + (0.999*x - g))/3",
                 "(1 + cos(pi*Mod(2*t, T)/T))/2", "0.01**(t/T)", "1/(1 + exp(-x))", "-x",
                 "Min(Max(x, -Abs(y)), Abs(y))", "log(Abs(x) + eps)", "Drop(x, 0.5)", "EMA(x, 0.95)",
                 "0.95*(1 - (t + 1)/T)/(0.05 + 0.95*(1 - (t + 1)/T))", "x/sqrt(1 + y**2)", "Abs(x)**y",
                 "I1e(x)", "Softplus(x)", "E**x", "2**-1"]:
        ours = expression.parse(text, syms)
        theirs = sp.sympify(text, locals={**expression.FUNCTIONS, **syms})
        assert sp.srepr(ours) == sp.srepr(theirs), text


def test_grammar_names_and_labels_cannot_carry_code(tmp_path):
    cases = {
        '[[operand]]\nname = "a; import os"\nexpr = "g"\n': "name 'a; import os' is not allowed",
        '[ops."x\\nimport os"]\nexpr = "x"\n': "is not allowed",
        '[[operand]]\nname = "gg"\nexpr = "g"\nlabel = "a\\nimport os"\n': "label",
        '[[operand]]\nname = "gg"\nexpr = "g"\nlabel = "\\\\input{x}"\n': "without backslashes",
        '[[state]]\nname = "exp"\ninput = "g"\nbeta = 0.5\n': "is taken",
        '[[operand]]\nname = "gg"\nexpr = "g"\nweight = "heavy"\n': "weight = 'heavy'",
    }
    for k, (snippet, message) in enumerate(cases.items()):
        p = tmp_path / f"n{k}.toml"
        p.write_text('extends = "default"\n' + snippet)
        with pytest.raises(GrammarError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
            grammar.load(p)


def test_no_module_turns_text_into_sympy_with_eval():
    """sympify/parse_expr on a string evaluates it; gp_opt reads text only via gp_opt.expression."""
    import re
    from pathlib import Path

    root = Path(grammar.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        src = path.read_text()
        for m in re.finditer(r"sympify\((?![^)]*strict=True)|parse_expr\(|sp\.S\(\s*['\"]", src):
            offenders.append(f"{path.relative_to(root)}:{src[:m.start()].count(chr(10)) + 1}")
    assert offenders == []


def test_the_shipped_grammars_build_exactly_what_sympify_built():
    """Every expression of the default and paper grammars (trusted files of this repository, so
    sympify may read them here) gives the same sympy tree through the allow-list parser."""
    from gp_opt import catalog

    for g in (grammar.load(), catalog.grammar()):
        syms = {"x": X, "y": sp.Symbol("y"), "eps": sp.Symbol("eps"), "t": sp.Symbol("t"),
                "T": sp.Symbol("T"), **g.symbols}
        texts = ([s["input"] for s in g.raw["state"]] + [o["expr"] for o in g.raw["operand"]]
                 + [o["expr"] for o in g.raw["ops"].values()] + [s["expr"] for s in g.raw["schedule"]])
        assert len(texts) > 70
        for text in texts:
            theirs = sp.sympify(text, locals={**expression.FUNCTIONS, **syms})
            assert sp.srepr(expression.parse(text, syms)) == sp.srepr(theirs), text


def test_a_grammar_file_that_is_not_utf8_or_not_a_file_is_one_line(tmp_path, capsys):
    from gp_opt.cli import main

    bad = tmp_path / "latin1.toml"
    bad.write_bytes('extends = "default"\nname = "caf\xe9"\n'.encode("latin-1"))
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)
    for path, message in ((bad, "not UTF-8"), (fifo, "not a regular file"), (tmp_path, "not a regular file")):
        assert main(["notation", "--grammar", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err and "Traceback" not in err, err
