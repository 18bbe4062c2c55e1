"""Reading genome JSON that may come from anywhere: size, nesting and number limits, echoes of bad values."""
from __future__ import annotations

import json
import re
from typing import Any


from gp_opt.errors import GenomeError


SCHEMA_VERSION = 1
OUTPUT = "out"
HIDDEN_NAME = re.compile(r"h\d+")
MAX_RANDOM_DRAWS = 10_000

# Limits of a genome file (a genome is a few hundred bytes; these stop a damaged or hostile file
# long before it can exhaust memory or recursion). The node limits are a multiple of the
# grammar's: mutation never adds nodes, the margin keeps hand-written genomes loadable.
MAX_JSON_CHARS = 1_000_000
MAX_JSON_DEPTH = 32
MAX_INT_DIGITS = 30
MAX_NAME_CHARS = 12
NODES_FACTOR = 4
ECHO_CHARS = 40


def echo(value: Any, limit: int = ECHO_CHARS) -> str:
    """``repr(value)`` cut to ``limit`` characters, so an error never prints a huge value.

    >>> echo("x" * 1000)
    "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx... (1002 characters)"
    """
    text = repr(value) if not isinstance(value, (dict, list)) or len(value) < 50 else \
        f"<{type(value).__name__} of {len(value)} items>"
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


def _reject_constant(name: str) -> Any:
    raise GenomeError(f"{name} is not a JSON number (NaN and Infinity are not allowed)")


def _parse_float(text: str) -> float:
    if len(text) > 64:
        raise GenomeError(f"number of {len(text)} characters")
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise GenomeError(f"number {echo(text)} overflows a float")
    return value


def _parse_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise GenomeError(f"integer of {len(digits)} digits (at most {MAX_INT_DIGITS})")
    return int(digits)


def _depth(obj: Any) -> int:
    """Nesting depth of parsed JSON, without recursion."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        item, d = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, d)
            if d > MAX_JSON_DEPTH:
                return d
            stack.extend((v, d + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def parse_json(text: str | bytes, where: str = "genome") -> Any:
    """Genome JSON parsed with limits: size, nesting depth, integer digits, no NaN/Infinity.

    Every violation is a :class:`GenomeError` naming ``where``.

    >>> parse_json('{"sign": NaN}')
    Traceback (most recent call last):
    ...
    gp_opt.errors.GenomeError: genome: NaN is not a JSON number (NaN and Infinity are not allowed)
    """
    if len(text) > MAX_JSON_CHARS:
        raise GenomeError(f"{where}: {len(text)} characters; a genome file holds at most "
                          f"{MAX_JSON_CHARS}")
    try:
        data = json.loads(text, parse_constant=_reject_constant, parse_int=_parse_int,
                          parse_float=_parse_float)
    except GenomeError as exc:
        raise GenomeError(f"{where}: {exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise GenomeError(f"{where}: malformed JSON: {echo(str(exc), 120)}") from None
    except RecursionError:
        raise GenomeError(f"{where}: JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:  # e.g. a huge float exponent the decoder refuses
        raise GenomeError(f"{where}: malformed JSON: {echo(str(exc), 120)}") from None
    if _depth(data) > MAX_JSON_DEPTH:
        raise GenomeError(f"{where}: JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return data
