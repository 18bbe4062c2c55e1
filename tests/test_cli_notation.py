"""The notation the tools print is documented inside the repository: docs/notation.md is exactly
what `gp-opt notation` prints for the default grammar, and --help points to both."""
from pathlib import Path

from gp_opt import grammar
from gp_opt.cli import build_parser, main
from gp_opt.notation import markdown

ROOT = Path(__file__).resolve().parents[1]


def test_docs_notation_is_the_generated_text():
    assert (ROOT / "docs" / "notation.md").read_text().rstrip("\n") == markdown().rstrip("\n"), \
        "regenerate with: gp-opt notation -o docs/notation.md"


def test_every_operand_schedule_and_op_is_listed():
    text = markdown()
    g = grammar.load()
    for name in [*g.operands, *g.schedules, *g.ops, *g.momentum]:
        assert f"| {name} |" in text, name
    for n in range(1, 10):
        assert f"| {n} |" in text  # each SPEC section the help texts cite


def test_help_points_to_the_notation(capsys):
    assert "gp-opt notation" in build_parser().format_help().replace("\n", " ")
    assert main(["notation"]) == 0
    assert capsys.readouterr().out.startswith("# Notation")
