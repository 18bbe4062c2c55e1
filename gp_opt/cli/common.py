"""Helpers shared by the verbs: loading genomes, output files, indentation."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO


def grammar(args):
    """The grammar named by ``--grammar`` (None: the one each genome file asks for)."""
    path = getattr(args, "grammar", None)
    if path is None:
        return None
    from gp_opt import grammar
    return grammar.load(path)


def load(spec: str, args):
    from gp_opt import catalog
    return catalog.load(spec, grammar(args))


def title(genome, spec: str) -> str:
    return genome.meta.get("name") or Path(spec).stem


def output(args) -> TextIO:
    out = getattr(args, "output", None)
    if out in (None, "-"):
        return sys.stdout
    return open(out, "w")  # noqa: SIM115 - closed by the caller


def write(args, text: str) -> None:
    stream = output(args)
    try:
        stream.write(text if text.endswith("\n") else text + "\n")
    finally:
        if stream is not sys.stdout:
            stream.close()


def indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def add_grammar_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--grammar", metavar="FILE",
                   help="grammar file (TOML) the genome is written in (default: the one the "
                        "genome file names: default or the catalog's paper grammar)")
