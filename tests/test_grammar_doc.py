"""docs/grammar.md's worked custom grammar loads and means what the page says."""
import re
from pathlib import Path

import numpy as np

from gp_opt import grammar, grammar_schema
from gp_opt.genome import OptimizerGenome

DOC = Path(__file__).resolve().parents[1] / "docs" / "grammar.md"


def _worked_example() -> str:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## A worked custom grammar"):]
    return re.search(r"```toml\n(.*?)```", section, re.S).group(1)


def test_the_worked_example_loads_as_described(tmp_path):
    path = tmp_path / "cube.toml"
    path.write_text(_worked_example())
    g = grammar.load(path)
    assert g.name == "cube-space"
    assert "cube" in g.update_unary and "exp" not in g.update_unary and g.ops["exp"].weight == 0
    assert g.operands["g_sign_mag"].label == "sign(g) s"
    drawn, _ = g.operand_weights()
    assert "g_sign_mag" in drawn and not {"wd6", "wd5", "wd4", "wd3"} & set(drawn)
    assert g.schedules["a11"].weight == 2 and g.momentum == ("none", "momentum")
    assert len(g.operands) == 21 and len(g.schedules) == 14  # the default's, plus one operand
    genome = OptimizerGenome.random(np.random.default_rng(0), g)
    genome.validate()


def test_every_section_and_key_of_the_loader_is_documented():
    text = DOC.read_text(encoding="utf-8")
    for section, keys in grammar_schema.SECTIONS.items():
        for key in keys:
            assert any(form in text for form in (f"`{key}`", f"`[{key}", f"[[{key}]]", f".{key}]`")), (section, key)
