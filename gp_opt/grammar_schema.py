"""What a grammar file may hold: every section and key (an unknown one is an error naming the
file, the section and the key), and the rules for names, labels and weights.

Names end up in generated Python (variables and comments of the compiled step function, ``gp-opt
export``) and in LaTeX, so they are plain identifiers (an op name may hold a dot, as in
``drop_0.5``) and a label is one printable line without backslashes. docs/grammar.md is the
reference; a test checks that it documents every key listed here.

>>> check_keys("mine.toml", {"update": {"operands": ["g"]}})
Traceback (most recent call last):
...
gp_opt.errors.GrammarError: mine.toml: [update]: unknown key 'operands' (known: hidden_nodes, unary, binary, momentum, init)
"""
from __future__ import annotations

import difflib
import math
import re
from typing import Any, Mapping

from gp_opt.errors import GrammarError

#: Every key a grammar file may hold, per section; anything else is an error naming it
#: (docs/grammar.md is the reference). Arrays of tables are listed by their entries' keys.
SECTIONS: dict[str, tuple[str, ...]] = {
    "top level": ("extends", "name", "version", "eps", "state", "operand", "ops", "update",
                  "schedule", "decay", "mutation"),
    "state": ("name", "input", "beta"),
    "operand": ("name", "expr", "label", "weight"),
    "ops": ("expr", "arity", "kind", "label", "weight"),
    "schedule": ("name", "expr", "label", "weight"),
    "update": ("hidden_nodes", "unary", "binary", "momentum", "init"),
    "update.init": ("hidden_unary", "output_unary", "identity", "operand_input", "decay_edge"),
    "decay": ("hidden_nodes", "unary", "binary", "check_steps", "max_init_tries", "init"),
    "decay.init": ("unary", "output_takes_hidden"),
    "mutation": ("op", "connection", "swap_inputs", "arity", "momentum", "decay", "decay_delete",
                 "decay_op", "decay_connection", "decay_arity"),
}
ARRAYS = ("state", "operand", "schedule")
TABLES = ("update", "decay", "mutation")

# Names end up in generated Python (variables, comments) and LaTeX: plain identifiers only
# (an op name may hold a dot, as in drop_0.5); a label is one printable line without backslashes.
IDENT = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")
OP_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.]{0,31}")
GRAMMAR_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}")
MAX_LABEL_CHARS = 40
MAX_FILE_BYTES = 1_000_000
#: symbols every expression may meet: op arguments, eps, gradient, weight, step, run length
BUILTIN_SYMBOLS = frozenset({"x", "y", "eps", "g", "w", "t", "T"})


def unknown_keys(src: str, table: Mapping, section: str, where: str) -> None:
    known = SECTIONS[section]
    for key in table:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(known)})"
            raise GrammarError(f"{src}: {where}: unknown key {key!r}{hint}")


def check_keys(src: str, data: Mapping) -> None:
    """Every section and key of one grammar file is known and of the right shape (a table, an
    array of tables); an unknown one is a GrammarError naming the file, the section and the key."""
    unknown_keys(src, data, "top level", "top level")
    for section in ARRAYS:
        if section in data:
            entries = data[section]
            if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
                raise GrammarError(f"{src}: {section!r} must be an array of tables ([[{section}]])")
            for i, entry in enumerate(entries):
                name = entry.get("name")
                label = repr(name) if isinstance(name, str) else f"#{i + 1}"
                unknown_keys(src, entry, section, f"[[{section}]] {label}")
    if "ops" in data:
        if not isinstance(data["ops"], dict):
            raise GrammarError(f"{src}: 'ops' must be a table of tables ([ops.NAME])")
        for oname, entry in data["ops"].items():
            if not isinstance(entry, dict):
                raise GrammarError(f"{src}: [ops.{oname}] must be a table (expr = \"...\"), got {entry!r}")
            unknown_keys(src, entry, "ops", f"[ops.{oname}]")
    for section in TABLES:
        if section in data:
            if not isinstance(data[section], dict):
                raise GrammarError(f"{src}: {section!r} must be a table ([{section}])")
            unknown_keys(src, data[section], section, f"[{section}]")
            init = data[section].get("init")
            if init is not None:
                if not isinstance(init, dict):
                    raise GrammarError(f"{src}: [{section}].init must be a table ([{section}.init])")
                unknown_keys(src, init, f"{section}.init", f"[{section}.init]")


def check_name(src: str, value: Any, where: str, pattern: re.Pattern = IDENT) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        rule = ("letters, digits, '_' and '.'" if pattern is OP_NAME else
                "letters, digits, '_', '.', '+' and '-'" if pattern is GRAMMAR_NAME else
                "a letter, then letters, digits and '_'")
        raise GrammarError(f"{src}: {where}: name {value!r} is not allowed (use {rule}, at most "
                           f"{32 if pattern is not GRAMMAR_NAME else 64} characters)")
    return value


def check_label(src: str, entry: Mapping, default: str, where: str) -> str:
    value = entry.get("label", default)
    if (not isinstance(value, str) or not value or len(value) > MAX_LABEL_CHARS
            or not value.isprintable() or "\\" in value):
        raise GrammarError(f"{src}: {where}: label {value!r} must be one printable line of at most "
                           f"{MAX_LABEL_CHARS} characters without backslashes")
    return value


def check_weight(src: str, entry: Mapping, where: str) -> float:
    value = entry.get("weight", 1.0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
        raise GrammarError(f"{src}: {where}: weight = {value!r} must be a finite number >= 0")
    return float(value)
