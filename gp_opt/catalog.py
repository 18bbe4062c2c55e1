"""The published optimizers and schedules of SPEC section 9 as genome files.

The files live in ``results/paper/`` (installed as the package ``gp_opt._paper``), one JSON
genome per entry with a ``meta`` block (name, description, source, deviations). Most are
genomes of the default grammar; QHM and LR3 need the paper grammar ``paper.toml`` (the default
one plus a few weight-0 primitives). There is no second, hand-written formula anywhere: what an
entry means is its genome.

>>> get("Opt6").momentum
'none'
>>> "Adam" in names()
True
"""
from __future__ import annotations

import difflib
import os
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

from gp_opt import grammar as grammar_mod
from gp_opt import packaged
from gp_opt.errors import GenomeError, GpOptError
from gp_opt.genome import OptimizerGenome, parse_json
from gp_opt.genome.limits import MAX_JSON_CHARS
from gp_opt.grammar import Grammar
from gp_opt.textfile import read_text

PACKAGE = "gp_opt._paper"
GRAMMAR_FILE = "paper.toml"

__all__ = ["get", "names", "grammar", "path", "load", "load_file", "grammar_for", "carry_grammar", "builtin_twin"]


def _dir():
    return packaged.files(PACKAGE)


@lru_cache(maxsize=None)
def grammar() -> Grammar:
    """The paper grammar: the default grammar plus weight-0 primitives the catalog needs."""
    with resources.as_file(_dir().joinpath(GRAMMAR_FILE)) as p:
        return grammar_mod.load(p)


paper_grammar = grammar


def _sort_key(name: str):
    m = re.fullmatch(r"([A-Za-z]+)(\d*)(.*)", name)
    prefix, num, rest = m.groups() if m else (name, "", "")
    group = {"Opt": 0, "A": 1, "LR": 2}.get(prefix, 3)
    return (group, prefix.lower(), int(num) if num else -1, rest.lower())


@lru_cache(maxsize=None)
def _index() -> dict[str, str]:
    out = {}
    for item in _dir().iterdir():
        if item.name.endswith(".json"):
            out[item.name[:-5]] = item.name
    return out


def names() -> list[str]:
    """Every catalog entry: Opt1..Opt10 and the ablations, A1..A5, LR1..LR9, then the baselines."""
    return sorted(_index(), key=_sort_key)


def _canonical_name(name: str) -> str:
    index = _index()
    if name in index:
        return name
    folded = {n.lower(): n for n in index}
    if name.lower() in folded:
        return folded[name.lower()]
    if name.lower() + "-ld" in folded:  # the paper and gp_opt.optim say PowerSign / AddSign
        return folded[name.lower() + "-ld"]
    close = [folded[n] for n in difflib.get_close_matches(name.lower(), list(folded), n=4, cutoff=0.6)]
    hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(names())}"
    extra = " (Opt41 is not recoverable from the paper's text, see docs/catalog.md)" if name.lower() == "opt41" else ""
    raise GpOptError(f"unknown catalog entry {name!r}{extra}{hint}")


def path(name: str) -> Path:
    """Filesystem path of an entry's JSON file (for reading only)."""
    item = _dir().joinpath(_index()[_canonical_name(name)])
    return Path(str(item))


#: ``meta`` field of a genome file holding the whole definition of a grammar that is not built in
GRAMMAR_DEFINITION = "grammar_definition"


def grammar_for(data: dict, grammar: Grammar | None = None, where: str = "genome") -> Grammar:
    """The grammar a genome's JSON asks for: ``grammar`` if given, else the one the file carries
    (``meta.grammar_definition``, see :func:`carry_grammar`), else default or paper by name."""
    if grammar is not None:
        return grammar
    wanted = data.get("grammar", "default") if isinstance(data, dict) else "default"
    meta = data.get("meta") if isinstance(data, dict) else None
    carried = meta.get(GRAMMAR_DEFINITION) if isinstance(meta, dict) else None
    if carried is not None:
        from gp_opt import grammar_copy
        found = builtin_twin(grammar_copy.from_definition(carried, f"{where}: the grammar it carries"))
        if found.name != wanted:
            raise GenomeError(f"{where}: names grammar {wanted!r} but carries grammar {found.name!r}")
        return found
    if wanted == "default":
        return grammar_mod.load()
    if wanted == paper_grammar().name:
        return paper_grammar()
    raise GenomeError(f"genome: written for grammar {wanted!r}, which the file does not carry; pass "
                      "that grammar file (e.g. --grammar FILE)")


def builtin_twin(grammar: Grammar) -> Grammar:
    """The built-in grammar (default or paper) equal to ``grammar``, else ``grammar`` itself."""
    for builtin in (grammar_mod.load(), paper_grammar()):
        if grammar is builtin or (grammar.name == builtin.name and grammar.raw == builtin.raw):
            return builtin
    return grammar


def carry_grammar(genome: OptimizerGenome) -> OptimizerGenome:
    """``genome``, or a copy whose ``meta`` carries its grammar's whole definition when that grammar
    is not built in, so the file it is written to loads anywhere without ``--grammar``."""
    if builtin_twin(genome.grammar) is not genome.grammar or GRAMMAR_DEFINITION in genome.meta:
        return genome
    from gp_opt import grammar_copy
    out = genome.copy()
    out.meta = dict(out.meta, **{GRAMMAR_DEFINITION: grammar_copy.definition(genome.grammar)})
    return out


def _from_text(text: str, where: str, grammar: Grammar | None) -> OptimizerGenome:
    data = parse_json(text, where)  # size, depth and number limits: one GenomeError each
    try:
        return OptimizerGenome.from_dict(data, grammar_for(data, grammar))
    except GpOptError as exc:
        raise type(exc)(f"{where}: {exc}") from None


@lru_cache(maxsize=None)
def _text(name: str) -> str:
    return _dir().joinpath(_index()[name]).read_text()


def get(name: str | Path, grammar: Grammar | None = None) -> OptimizerGenome:
    """A fresh copy of catalog entry ``name`` (case-insensitive); GpOptError if unknown.

    A genome file works too, as with :func:`load`: a ``Path``, a name ending in ``.json`` or an
    existing file that is not a catalog name (``grammar`` is used for files only).
    """
    if isinstance(name, Path) or (str(name) not in _index() and
                                  (str(name).endswith(".json") or Path(str(name)).is_file())):
        return load_file(name, grammar)
    name = _canonical_name(name)
    return _from_text(_text(name), f"catalog entry {name!r}", None)


def load_file(file: str | Path, grammar: Grammar | None = None) -> OptimizerGenome:
    """A genome from a JSON file. Raises GenomeError (bad content: not a regular file, not UTF-8,
    bad JSON or genome) or OSError (missing, unreadable)."""
    text = read_text(file, GenomeError, max_bytes=MAX_JSON_CHARS * 4)  # UTF-8: at most 4 bytes a character
    return _from_text(text, str(file), grammar)


def load(spec: str | Path, grammar: Grammar | None = None) -> OptimizerGenome:
    """``NAME|FILE``: an existing file (or anything ending in ``.json``) is read as a genome
    file, anything else is looked up in the catalog."""
    s = str(spec)
    if s.endswith(".json") or (os.path.exists(s) and not os.path.isdir(s)):  # a pipe too: refused there
        return load_file(s, grammar)
    return get(s)
