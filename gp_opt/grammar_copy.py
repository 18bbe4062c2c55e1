"""A grammar carried by content: the self-contained TOML a run directory keeps of the grammar it
searched, and the definition a genome file carries, so either loads anywhere without a path.

:func:`to_toml` writes a grammar's resolved data (what it extends merged in, no ``extends`` left)
as TOML; :func:`from_text` and :func:`from_definition` read such a copy back. A copy may extend
nothing but the built-in ``"default"``: it never makes gp_opt open another file. A copy equal to
the built-in default grammar loads as that very object (genomes of both then compare equal).

>>> from gp_opt import grammar
>>> text = to_toml(grammar.load())
>>> from_text(text, "copy.toml") is grammar.load()
True
>>> len(digest(text))
64
"""
from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any, Mapping

from gp_opt import grammar as grammar_mod
from gp_opt.errors import GrammarError
from gp_opt.grammar import Grammar

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

__all__ = ["to_toml", "from_text", "from_definition", "definition", "digest"]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_cache: dict[str, Grammar] = {}


def digest(text: str) -> str:
    """The sha256 of a grammar copy's text (what ``run.json`` records for it)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def definition(grammar: Grammar) -> dict[str, Any]:
    """The grammar's resolved data (a JSON- and TOML-able dict), as a genome file carries it."""
    return json.loads(json.dumps(dict(grammar.raw)))


def to_toml(grammar: Grammar) -> str:
    """The grammar as one self-contained TOML file; reading it back gives the same data."""
    data = definition(grammar)
    lines = [f"# grammar {grammar.name!r}, resolved by gp_opt (everything it extended is written out)"]
    _emit(data, [], lines)
    text = "\n".join(lines) + "\n"
    if tomllib.loads(text) != data:  # the writer below covers the shapes a grammar holds
        raise GrammarError(f"grammar {grammar.name!r}: its data cannot be written as TOML faithfully")
    return text


def from_text(text: str, source: str) -> Grammar:
    """A grammar from the text of a self-contained copy (see :func:`to_toml`); ``source`` names it
    in errors. Raises :class:`GrammarError`."""
    data = grammar_mod.parse_text(text, source)
    return _build(data, source, digest(text))


def from_definition(data: Any, source: str) -> Grammar:
    """A grammar from the definition a genome file carries (see :func:`definition`)."""
    if not isinstance(data, dict):
        raise GrammarError(f"{source}: the grammar definition must be an object, got {type(data).__name__}")
    key = digest(json.dumps(data, sort_keys=True))
    return _build(data, source, key)


def _build(data: dict, source: str, key: str) -> Grammar:
    if key in _cache:
        return _cache[key]
    parent = data.get("extends")
    if parent is not None:
        if parent != grammar_mod.DEFAULT:
            raise GrammarError(f"{source}: extends = {parent!r}: a grammar carried by a run or a genome "
                               f"file may only extend \"default\" (it never opens another file)")
        data = grammar_mod.merge(grammar_mod.load().raw, data)
    grammar = grammar_mod.from_dict(data, source=source)
    builtin = grammar_mod.load()
    if grammar.raw == builtin.raw:
        grammar = builtin
    _cache[key] = grammar
    return grammar


# ---------------------------------------------------------------------------------------------
# a small TOML writer for the shapes a grammar holds: scalars, lists of scalars, tables, arrays of
# flat tables


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else json.dumps(key, ensure_ascii=False)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise GrammarError(f"grammar value {value!r} is not finite")
        text = repr(value)
        return text if any(c in text for c in ".en") else text + ".0"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON's escapes are TOML basic-string escapes
    if isinstance(value, list) and not any(isinstance(v, dict) for v in value):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise GrammarError(f"grammar value of type {type(value).__name__} cannot be written as TOML")


def _is_array_of_tables(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _emit(table: Mapping[str, Any], path: list[str], lines: list[str]) -> None:
    for key, value in table.items():  # a table's own values come before its sub-tables
        if not isinstance(value, dict) and not _is_array_of_tables(value):
            lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in table.items():
        name = ".".join(_key(k) for k in path + [key])
        if isinstance(value, dict):
            lines += ["", f"[{name}]"]
            _emit(value, path + [key], lines)
        elif _is_array_of_tables(value):
            for entry in value:
                lines += ["", f"[[{name}]]"]
                if any(isinstance(v, dict) or _is_array_of_tables(v) for v in entry.values()):
                    raise GrammarError(f"grammar: [[{name}]] entries must be flat tables")
                _emit(entry, path + [key], lines)
