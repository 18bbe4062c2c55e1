"""The notation every command prints, as one document made from the grammar itself.

``gp-opt notation`` prints it; ``docs/notation.md`` is the same text for the default grammar (a
test keeps the two equal), so ``--help``, the docs and printed equations never point to a file
outside the repository. The "SPEC section N" references used in help texts and docstrings are
summarised in :data:`SPEC_SECTIONS`.

>>> "| a1 | linear decay | 1 - t/T |" in markdown()
True
"""
from __future__ import annotations

from typing import Any

#: What each "SPEC section N" in help texts, docs and docstrings refers to (the method
#: specification this package implements), in one line each.
SPEC_SECTIONS = [
    ("1", "The weight update", "w <- w - lr_t U (momentum: m <- mu_t m - lr_t U, w <- w + m; "
     "Nesterov likewise); lr_t is the one-cycle cosine schedule with linear warm-up, mu_t the "
     "one-cycle momentum 0.95 -> 0.85 -> 0.95; the sign flip kept from the integrity check"),
    ("2", "The update graph", "a DAG of hidden nodes (default 4) and one output node over the "
     "operands; each node one unary or binary op; edges may carry decay functions; only nodes "
     "reaching the output are active; the initialisation probabilities"),
    ("3", "The update search space", "the operands, unary ops and binary ops (tables below)"),
    ("4", "Decay functions", "a small DAG over the schedules a1..a14 with bounded ops, valid when "
     "0 <= d(t) <= 1; a decay that factors out of U becomes a learning-rate schedule"),
    ("5", "Integrity check", "a shifted 5-D sphere, 35 steps at lr 1..1e-5: an optimizer passes "
     "if some rate brings f below 3.5; else it is tried with -U (kept flipped) or rejected"),
    ("6", "Surrogate fitness", "a small ConvNet on CIFAR-10: a learning-rate screen (800 steps at "
     "10, 0.01, 1e-5, then 1, 0.1, 1e-3, 1e-4), then a full run at the best rate; fitness = best "
     "validation accuracy"),
    ("7", "The particle GA", "N particles, K time steps, M mutated children per particle and step, "
     "the best child moves the particle (aging); regularised evolution is the baseline"),
    ("8", "Elimination", "a run's best candidates re-trained in rounds of growing model size and "
     "seeds, ranked by mean validation accuracy"),
    ("9", "The published optimizers", "Opt1..Opt10, A1..A5, QHM, PowerSign, AddSign and the "
     "learning-rate schedules LR1..LR9 (gp-opt catalog)"),
]

MOMENTUM = {
    "none": "w <- w - lr_t U",
    "momentum": "m <- mu_t m - lr_t U;  w <- w + m",
    "nesterov": "m <- mu_t m - lr_t U;  w <- w + mu_t m - lr_t U",
}


def _cell(x: Any) -> str:
    return str(x).replace("|", "\\|").replace("**", "^")


def markdown(grammar: Any = None) -> str:
    """The notation of ``grammar`` (default: the default grammar) as Markdown."""
    from gp_opt import grammar as grammar_mod

    g = grammar if grammar is not None else grammar_mod.load()
    out = [
        "# Notation",
        "",
        f"Generated from grammar `{g.name}` by `gp-opt notation` (`python -m gp_opt.cli notation`); "
        "the symbols below are those `gp-opt show`, `gp-opt latex` and the search print.",
        "",
        "## The weight update (SPEC section 1)",
        "",
        "An optimizer is an update `U` computed from the gradient `g`, the weights `w` and running "
        "averages; `lr_t` is the scheduled learning rate and `mu_t` the scheduled momentum. With "
        "sign -1 (flipped by the integrity check) the printed `U` already includes the flip.",
        "",
        "| momentum type | step |",
        "|---|---|",
        *[f"| {name} | {MOMENTUM.get(name, '')} |" for name in g.momentum],
        "",
        "## Running averages (states)",
        "",
        "| name | definition |",
        "|---|---|",
        *[f"| {s.name} | EMA with beta {s.beta} of {_cell(s.input)} (bias-corrected: {s.name}_hat) |"
          for s in g.states.values()],
        "",
        "## Operands: the leaves of U (SPEC section 3)",
        "",
        "| name | label | value |",
        "|---|---|---|",
        *[f"| {o.name} | {_cell(o.label)} | {_cell(o.expr)} |" for o in g.operands.values()],
        "",
        f"`wd*` are weight-decay terms; `QH` quasi-hyperbolic and `AggMo` aggregated-momentum "
        f"combinations of the gradient and its averages. `eps` = {g.eps:g}.",
        "",
        "## Schedules a1..a14: the leaves of decay functions (SPEC section 4)",
        "",
        "`t` is the 0-based step, `T` the run length; `Mod(2t, T)/T` is the restart phase. A decay "
        "function `d_k` printed on an edge multiplies the value flowing along it; `gp-opt show` "
        "writes schedules as `a1`..`a14` (`--expand` writes them out).",
        "",
        "| name | schedule | d(t) |",
        "|---|---|---|",
        *[f"| {s.name} | {s.label} | {_cell(s.expr)} |" for s in g.schedules.values()],
        "",
        "## Ops (SPEC sections 3 and 4)",
        "",
        "| op | arity | f | update graph | decay graph |",
        "|---|---|---|---|---|",
        *[f"| {o.name} | {o.arity} | {_cell(o.expr)} | "
          f"{'yes' if o.name in g.update_unary + g.update_binary else ''} | "
          f"{'yes' if o.name in g.decay_unary + g.decay_binary else ''} |" for o in g.ops.values()],
        "",
        "`x` and `y` are the op's inputs.",
        "",
        "## What \"SPEC section N\" refers to",
        "",
        "The method this package implements, section by section (the help texts and docstrings cite "
        "these numbers):",
        "",
        "| section | topic | in short |",
        "|---|---|---|",
        *[f"| {n} | {topic} | {text} |" for n, topic, text in SPEC_SECTIONS],
        "",
    ]
    return "\n".join(out)
