"""The grammar file: contents as SPEC sections 3-4 list them, one definition per primitive, clear errors."""
import math

import pytest
import sympy as sp
import torch

from gp_opt import grammar, packaged
from gp_opt.errors import GrammarError

G = grammar.load()


def test_default_grammar_sizes():
    assert len(G.operands) == 20
    scalar = [o for o in G.update_unary if G.ops[o].kind != "stateful"]
    stateful = [o for o in G.update_unary if G.ops[o].kind == "stateful"]
    assert len(scalar) == 23 and len(stateful) == 3
    assert len(G.update_binary) == 10
    assert len(G.schedules) == 14
    assert len(G.decay_unary) == 13 and len(G.decay_binary) == 7
    assert G.decay_binary == G.update_binary[:7]
    assert G.hidden_nodes == 4 and G.decay_hidden_nodes == 1


def test_kinds_declared():
    kinds = {n: G.ops[n].kind for n in G.ops}
    assert {n for n, k in kinds.items() if k == "stateful"} == {"ema", "delta", "running_max"}
    assert {n for n, k in kinds.items() if k == "stochastic"} == {"drop_0.5", "drop_0.3", "drop_0.1"}
    assert {n for n, k in kinds.items() if k == "tensorwise"} == {"norm"}


# Reference values written from SPEC section 3 by hand, not from the grammar.
EPS = 1e-7
SCALAR_REFERENCE = {
    "identity": lambda x: x, "neg": lambda x: -x, "log_abs": lambda x: math.log(abs(x) + EPS),
    "sqrt_abs": lambda x: math.sqrt(abs(x)), "exp": math.exp, "abs": abs,
    "sigmoid": lambda x: 1 / (1 + math.exp(-x)), "inv_1p_abs": lambda x: 1 / (1 + abs(x)),
    "softplus": lambda x: math.log1p(math.exp(x)), "erf": math.erf, "erfc": math.erfc,
    "asinh": math.asinh, "tanh": math.tanh, "atan": math.atan, "reciprocal": lambda x: 1 / (x + EPS),
    "relu": lambda x: max(x, 0.0), "neg_relu": lambda x: min(x, 0.0),
    "softsign": lambda x: x / (1 + abs(x)), "square": lambda x: x * x,
    "dtanh": lambda x: 1 - math.tanh(x) ** 2,
    "dsigmoid": lambda x: (1 / (1 + math.exp(-x))) * (1 - 1 / (1 + math.exp(-x))),
}
BINARY_REFERENCE = {
    "add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y,
    "max": max, "min": min, "div": lambda x, y: x / (y + EPS),
    "div_sqrt1p": lambda x, y: x / math.sqrt(1 + y * y),
    "clip": lambda x, y: min(max(x, -abs(y)), abs(y)), "interp": lambda x, y: 0.95 * x + 0.05 * y,
    "pow_abs": lambda x, y: abs(x) ** y,
}


@pytest.mark.parametrize("name", sorted(SCALAR_REFERENCE))
def test_unary_torch_and_sympy_agree_with_spec(name):
    op = G.ops[name]
    for x in (-2.3, -0.4, 0.0, 0.7, 1.9):
        want = SCALAR_REFERENCE[name](x)
        got_torch = float(op.torch(torch.tensor(x, dtype=torch.float64)))
        got_sympy = float(op.sympy(sp.Float(x)).evalf())
        assert got_torch == pytest.approx(want, rel=1e-9, abs=1e-12)
        assert got_sympy == pytest.approx(want, rel=1e-9, abs=1e-12)


def test_bessel_i1e():
    op = G.ops["bessel_i1e"]
    # e^-|x| I1(x) at x = 1.0 and -2.0 (tabulated values)
    assert float(op.torch(torch.tensor(1.0, dtype=torch.float64))) == pytest.approx(0.2079104153497085)
    assert float(op.sympy(sp.Float(-2.0)).evalf()) == pytest.approx(-0.2152692892489376)


@pytest.mark.parametrize("name", sorted(BINARY_REFERENCE))
def test_binary_torch_and_sympy_agree_with_spec(name):
    op = G.ops[name]
    for x, y in ((0.5, 1.5), (-1.2, 0.3), (2.0, -0.7), (-0.3, -2.5)):
        want = BINARY_REFERENCE[name](x, y)
        got_torch = float(op.torch(torch.tensor(x, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)))
        got_sympy = float(op.sympy(sp.Float(x), sp.Float(y)).evalf())
        assert got_torch == pytest.approx(want, rel=1e-9)
        assert got_sympy == pytest.approx(want, rel=1e-9)


def test_latex_and_torch_come_from_the_same_expression():
    op = G.ops["div_sqrt1p"]
    assert "sqrt" in op.latex("a", "b")
    assert op.torch_source("a", "b") == "a / torch.sqrt(b ** 2 + 1)"


SCHEDULE_REFERENCE = {
    "a1": lambda t, T: 1 - t / T, "a2": lambda t, T: t / T,
    "a3": lambda t, T: 0.5 * (1 + math.cos(math.pi * t / T)),
    "a4": lambda t, T: 0.5 * (1 - math.cos(math.pi * t / T)),
    "a5": lambda t, T: 0.5 * (1 + math.cos(2 * math.pi * t / T)),
    "a6": lambda t, T: 0.5 * (1 - math.cos(2 * math.pi * t / T)),
    "a7": lambda t, T: 0.5 * (1 + math.cos(math.pi * ((2 * t) % T) / T)),
    "a8": lambda t, T: 0.5 * (1 - math.cos(math.pi * ((2 * t) % T) / T)),
    "a9": lambda t, T: 1 - ((2 * t) % T) / T, "a10": lambda t, T: ((2 * t) % T) / T,
    "a11": lambda t, T: 0.01 ** (t / T), "a12": lambda t, T: 1 - 0.01 ** (t / T),
    "a13": lambda t, T: 0.95 * (1 - (t + 1) / T) / (0.05 + 0.95 * (1 - (t + 1) / T)),
    "a14": lambda t, T: 0.95 - 0.95 * (1 - (t + 1) / T) / (0.05 + 0.95 * (1 - (t + 1) / T)),
}


@pytest.mark.parametrize("name", sorted(SCHEDULE_REFERENCE))
def test_schedules(name):
    T = 100
    ts = torch.arange(T, dtype=torch.float64)
    got = G.schedules[name].torch(ts, float(T))
    want = torch.tensor([SCHEDULE_REFERENCE[name](int(t), T) for t in range(T)], dtype=torch.float64)
    assert torch.allclose(got, want, atol=1e-12)
    assert float(got.min()) >= 0 and float(got.max()) <= 1


def test_a13_is_zero_at_last_step():
    assert float(G.schedules["a13"].torch(torch.tensor(99.0, dtype=torch.float64), 100.0)) == 0.0


# ---------------------------------------------------------------- custom grammar files

def _write(tmp_path, text, name="g.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_extends_adds_a_primitive(tmp_path):
    p = _write(tmp_path, 'extends = "default"\nname = "mine"\n[ops.cube]\nexpr = "x**3"\n'
                         '[update]\nunary = ["identity", "cube"]\n')
    g = grammar.load(p)
    assert g.name == "mine" and g.update_unary == ("identity", "cube")
    assert float(g.ops["cube"].torch(torch.tensor(2.0))) == 8.0
    assert len(g.operands) == 20


def test_missing_field_names_file_and_field(tmp_path):
    text = (packaged.files("gp_opt._grammar") / "default.toml").read_text()
    p = _write(tmp_path, text.replace('name = "a3"\nlabel = "cosine decay"\nexpr =', 'name = "a3"\nlabel = "cosine decay"\n# expr ='))
    with pytest.raises(GrammarError, match=r"g\.toml: schedule 'a3': missing field 'expr'"):
        grammar.load(p)


@pytest.mark.parametrize("snippet, message", [
    ('[ops.bad]\nexpr = "x +* y"\n', r"op 'bad': cannot parse expr"),
    ('[ops.bad]\nexpr = "x + z"\n', r"op 'bad': .*unknown symbol\(s\) z"),
    ('[ops.bad]\nexpr = "EMA(x, 0.9)"\n', r"op 'bad': expr uses a stateful function"),
    ('[ops.bad]\nexpr = "x"\nkind = "magic"\n', r"op 'bad': kind = 'magic'"),
    ('[update]\nunary = ["nope"]\n', r"\[update\]\.unary: unknown op 'nope'"),
    ('[update]\nbinary = ["exp"]\n', r"op 'exp' has arity 1, expected 2"),
    ('[update.init]\nidentity = 1.5\n', r"identity = 1\.5 is not a probability"),
    ('[mutation]\nop = 0.9\n', r"must sum to 1"),
])
def test_bad_grammar_entries(tmp_path, snippet, message):
    p = _write(tmp_path, 'extends = "default"\n' + snippet)
    with pytest.raises(GrammarError, match=message):
        grammar.load(p)


def test_unreadable_and_invalid_toml(tmp_path):
    with pytest.raises(GrammarError, match="cannot read grammar file"):
        grammar.load(tmp_path / "missing.toml")
    with pytest.raises(GrammarError, match="not valid TOML"):
        grammar.load(_write(tmp_path, "name = [unclosed"))


def test_a_grammar_pickles_after_its_primitives_were_compiled():
    """Executors send genomes (and so their grammar) to worker processes; a primitive's compiled
    torch function is exec'd code, so it is left out and compiled again there."""
    import pickle

    import torch

    from gp_opt import grammar as G
    gm = G.load()
    for op in gm.ops.values():
        op.torch
    for sc in gm.schedules.values():
        sc.torch
    back = pickle.loads(pickle.dumps(gm))
    x = torch.tensor([0.25, -2.0])
    for name, op in gm.ops.items():
        if op.arity == 1 and name in ("tanh", "neg", "sqrt_abs"):
            assert torch.equal(back.ops[name].torch(x), op.torch(x))
    assert float(back.schedules["a4"].torch(torch.tensor(5.0), 10)) == float(gm.schedules["a4"].torch(torch.tensor(5.0), 10))


def test_packaged_data_read_from_the_checkout_when_not_installed(monkeypatch):
    # ``python benchmarks/X.py`` puts the checkout first on sys.path, where gp_opt._grammar does not exist
    def not_installed(name):
        raise ModuleNotFoundError(name)

    monkeypatch.setattr(packaged.resources, "files", not_installed)
    text = (packaged.files("gp_opt._grammar") / "default.toml").read_text(encoding="utf-8")
    assert "[" in text and grammar.parse_text(text, "default")
    assert (packaged.files("gp_opt._paper") / "Opt6.json").is_file()
