"""The ``gp-opt`` command line.

Each group of verbs is a module with a ``register(sub)`` that adds its subparsers and one
``cmd_<verb>(args)`` function per verb returning an exit code; a new verb is a module (or a
function in one) and an entry in :data:`COMMANDS`. Errors a user can cause
(:class:`~gp_opt.errors.GpOptError`, unreadable files) become one line on stderr and exit code 2,
never a traceback.
"""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from gp_opt.cli import genomes, pipeline, probe, rediscover, report, runs, transfer, understand
from gp_opt.cli import common, interrupts
from gp_opt.errors import GpOptError

EXIT_USAGE = 2

#: The modules whose ``register(sub)`` adds verbs, in the order ``--help`` lists them.
COMMANDS = [genomes, runs, pipeline, report, transfer, probe, understand, rediscover]


def build_parser() -> argparse.ArgumentParser:
    parser = common.OneLineParser(
        prog="gp-opt", description="Discover deep-learning optimizers by evolution: update "
        "equations, decay functions and learning-rate schedules.",
        epilog="Notation (operands, schedules a1..a14, ops, 'SPEC section N'): gp-opt notation, "
        "or docs/notation.md in the repository. Bad input: one line on stderr, exit 2.")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", required=True,
                                parser_class=common.OneLineParser)  # usage errors: one line, exit 2
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one verb. Exit codes: 0 done, 1 ran but found nothing (e.g. no candidate passed), 2 bad
    input (one line on stderr), 130/143 stopped by SIGINT/SIGTERM (one line saying how to go on)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    interrupts.interrupt_hint.clear()
    try:
        common.check_shared_options(args)  # options from other modules' parser helpers: before any work
        with interrupts.signals_as_interrupts():
            return int(args.func(args) or 0)
    except interrupts.Interrupted as exc:
        print(f"gp-opt {args.verb}: {interrupts.interrupted_line()}", file=sys.stderr, flush=True)
        return exc.exit_code
    except GpOptError as exc:
        print(f"gp-opt {args.verb}: error: {common.one_line(exc)}", file=sys.stderr)
    except OSError as exc:
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"gp-opt {args.verb}: error: {where}{common.one_line(exc.strerror or exc)}", file=sys.stderr)
    return EXIT_USAGE
