"""Helpers shared by the verbs: loading genomes, output files, indentation, and the validation
every verb uses for its options (argparse types :func:`seed`, :func:`positive_int`,
:func:`nonneg_int`, :func:`device`; :func:`check_device`; :func:`parse_set` for ``--set``
against a task's options; :class:`OneLineParser` for one-line usage errors)."""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import TextIO

from gp_opt.errors import GpOptError


def grammar(args):
    """The grammar named by ``--grammar`` (None: the one each genome file asks for)."""
    path = getattr(args, "grammar", None)
    if path is None:
        return None
    from gp_opt import grammar
    return grammar.load(path)


def load(spec: str, args):
    """A catalog name or genome file; a run directory stands for its ``best.json``, read in the
    run's own grammar (its checked copy, :func:`gp_opt.rundir.run_grammar`) unless ``--grammar``."""
    from gp_opt import catalog
    chosen = grammar(args)
    if Path(spec).is_dir() and (Path(spec) / "run.json").is_file():
        from gp_opt.rundir import RunDir, run_grammar
        from gp_opt.winner import BEST_FILE
        best = Path(spec) / BEST_FILE
        if not best.is_file():
            raise GpOptError(f"{spec}: the run has no {BEST_FILE} yet (no candidate passed, or it is "
                             f"still running); 'gp-opt show {spec}' says where it stands")
        if chosen is None:
            chosen = run_grammar(spec, RunDir.open(spec, lock=False).config.get("toolbox"))
        spec = str(best)
    elif Path(spec).is_dir():  # not a catalog name either: say what it is, not "unknown catalog entry"
        raise GpOptError(f"{spec}: a folder, not a run directory (no run.json) nor a genome file")
    return catalog.load(spec, chosen)


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
                        "genome file carries, as files a run writes do, or names: default or the "
                        "catalog's paper grammar)")


# ---------------------------------------------------------------------------------------------
# Validation shared by every verb: each bad value is one line and exit code 2, found while the
# command line is parsed, before any file or directory is touched. Use these as argparse
# ``type=`` functions (they raise ArgumentTypeError: argparse names the option) or call the
# ``check_*`` functions after parsing (they raise GpOptError naming the option).


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one stderr line (no usage block) and exit 2."""

    def error(self, message: str):  # noqa: D102 - argparse's hook
        message = " ".join(str(message).split())
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


#: the largest seed: numpy's legacy generators and 32-bit torch seeds stop there, and seeds derived
#: from it (seed + k) stay far inside torch's 64-bit range
MAX_SEED = 2**32 - 1
#: the default upper bound of a count (particles, steps, seeds...): a bigger number is a typo
MAX_COUNT = 1_000_000
#: the upper bound of a time budget in seconds (one day)
MAX_SECONDS = 86_400.0


def _int(text: str) -> int:
    try:
        return int(str(text).strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {echo(text)}") from None


def echo(value, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters, for a message that names a bad value."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."



def int_in(lo: int, hi: int, below: str | None = None):
    """argparse type: an integer in ``lo..hi``; ``below`` is the message for one under ``lo``.

    >>> int_in(1, 8)("9")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be at most 8, got 9
    """
    def parse(text: str) -> int:
        value = _int(text)
        if value < lo:
            raise argparse.ArgumentTypeError(f"{below or f'must be at least {lo}'}, got {echo(value)}")
        if value > hi:
            raise argparse.ArgumentTypeError(f"must be at most {hi}, got {echo(value)}")
        return value

    parse.__name__ = f"integer in {lo}..{hi}"  # argparse's fallback message names the type
    return parse


def count(hi: int = MAX_COUNT, lo: int = 1):
    """argparse type: a count in ``lo..hi`` (lo 1: "a positive integer", 0: "non-negative")."""
    below = {0: "must be a non-negative integer", 1: "must be a positive integer"}.get(lo)
    return int_in(lo, hi, below)


#: argparse types: an integer in 0..MAX_COUNT, in 1..MAX_COUNT
nonneg_int = count(lo=0)
positive_int = count()
#: seeds: an integer in 0..MAX_SEED (numpy's generators refuse negative ones, torch huge ones)
seed = int_in(0, MAX_SEED, "must be a non-negative integer")


def float_in(lo: float, hi: float, lo_open: bool = False):
    """argparse type: a finite number in ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``); NaN and
    infinities are refused."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {echo(text)}") from None
        low = value <= lo if lo_open else value < lo
        if not math.isfinite(value) or low or value > hi:
            bounds = f"{'>' if lo_open else '>='} {lo:g}" + (f" and <= {hi:g}" if math.isfinite(hi) else "")
            raise argparse.ArgumentTypeError(f"must be a finite number {bounds}, got {echo(text)}")
        return value

    parse.__name__ = f"number in [{lo:g}, {hi:g}]"
    return parse


#: argparse types: a finite number >= 0; a time budget in seconds (0..MAX_SECONDS)
nonneg_float = float_in(0.0, math.inf)
seconds = float_in(0.0, MAX_SECONDS)


def items(text: str | None, what: str) -> list[str]:
    """A comma-separated option as its non-empty items; None (not given) is []. Given but empty
    (``--rounds ""``) is a GpOptError: a default is never put in its place silently."""
    if text is None:
        return []
    values = [t.strip() for t in str(text).split(",") if t.strip()]
    if not values:
        raise GpOptError(f"{what} {echo(text)}: no value given (leave the option out for its default)")
    return values


def check_regular_file(path, what: str) -> None:
    """A GpOptError naming ``what`` unless ``path`` is a regular file (a named pipe would block)."""
    from gp_opt.textfile import check_regular_file as check

    try:
        check(path)
    except FileNotFoundError:
        raise GpOptError(f"{what} {path}: no such file") from None
    except GpOptError as exc:
        raise GpOptError(f"{what} {exc}") from None


#: executor options every evaluating verb has (gp_opt.search.executors.add_executor_options):
#: attribute -> (option, argparse type), checked by :func:`check_shared_options`
_SHARED_OPTIONS = {"workers": ("--workers", count(1024, lo=0)), "max_retries": ("--max-retries", count(100, lo=0)),
                   "cpus_per_eval": ("--cpus-per-eval", float_in(0.0, 1024.0, lo_open=True)),
                   "gpus_per_eval": ("--gpus-per-eval", float_in(0.0, 64.0))}


def check_shared_options(args) -> None:
    """The options a verb gets from another module's parser helper (the executor options),
    checked once after parsing and before the verb runs: a GpOptError naming the option."""
    for attr, (option, parse) in _SHARED_OPTIONS.items():
        value = getattr(args, attr, None)
        if value is None:
            continue
        try:
            parse(str(value))
        except argparse.ArgumentTypeError as exc:
            raise GpOptError(f"{option}: {exc}") from None


DEVICES = "auto, cpu, cuda, cuda:N, mps"


def check_device(value: str, what: str = "--device") -> str:
    """``value`` if this machine can run on it: ``auto``, ``cpu``, ``cuda[:N]`` with CUDA and
    that GPU present, ``mps`` where available; else a GpOptError naming ``what``."""
    if value == "auto":
        return value
    import torch

    try:
        dev = torch.device(value)
    except (RuntimeError, TypeError, ValueError):
        raise GpOptError(f"{what} {echo(value)}: not a device; use one of {DEVICES}") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            why = "this torch is built without CUDA" if torch.version.cuda is None else "no GPU is visible"
            raise GpOptError(f"{what} {value}: {why}; use --device cpu (or auto)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise GpOptError(f"{what} {value}: only {torch.cuda.device_count()} GPU(s) (cuda:0.."
                             f"cuda:{torch.cuda.device_count() - 1})")
    elif dev.type == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise GpOptError(f"{what} {value}: MPS is not available here; use --device cpu (or auto)")
    elif dev.type != "cpu":
        raise GpOptError(f"{what} {value}: device type {dev.type!r} is not supported; use one of {DEVICES}")
    return value


def device(text: str) -> str:
    """argparse type wrapping :func:`check_device`."""
    try:
        return check_device(text, "device")
    except GpOptError as exc:
        raise argparse.ArgumentTypeError(str(exc).replace("device ", "", 1)) from None


# -- --set KEY=VALUE against what a task accepts ----------------------------------------------

#: integer options that count something: at least 1
_AT_LEAST_ONE = {"steps", "dim", "batch", "base", "batch_size", "total_steps", "screen_steps", "eval_every",
                 "val_batch_size", "full_seeds", "max_members", "check_every", "acc_window", "init_base",
                 "cpu_threads", "max_tries", "min_batch", "fitness_seeds", "hidden", "heads", "context", "chars",
                 "eval_windows", "eval_chunk"}
#: numbers that are fractions
_FRACTIONS = {"val_fraction", "dropout", "bn_momentum", "screen_threshold_first", "screen_threshold_second",
              "screen_cut_threshold", "stop_threshold", "warmup"}
#: the largest integer a task option takes (steps, sizes): far above any real setting, and small
#: enough that nothing sized by it is allocated before it fails
MAX_OPTION_INT = 10**9


def _type_ok(ann: str, value) -> bool:
    """Whether JSON ``value`` fits the annotation string ``ann`` (``int``, ``float | None``,
    ``tuple[float, ...]``, ...); an annotation naming none of these (a user's own task) admits any."""
    parts = [a.strip() for a in ann.split("|")]
    if not any(p in ("None", "bool", "int", "float", "str") or p.startswith(("tuple[", "list[")) for p in parts):
        return True
    for part in parts:
        if part == "None" and value is None:
            return True
        if part == "bool" and isinstance(value, bool):
            return True
        if part == "int" and isinstance(value, int) and not isinstance(value, bool):
            return True
        if part == "float" and isinstance(value, (int, float)) and not isinstance(value, bool) \
                and math.isfinite(value):
            return True
        if part == "str" and isinstance(value, str):
            return True
        if part.startswith(("tuple[", "list[")) and isinstance(value, list) and value and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value):
            return True
    return False


def _describe(ann: str) -> str:
    words = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string",
             "None": "null"}
    parts = [words.get(p.strip(), "a non-empty list of numbers") for p in ann.split("|")]
    return " or ".join(parts)


def _check_range(key: str, value) -> str | None:
    """Why ``value`` is out of range for ``key`` (None: fine)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, list):
        if key.endswith("lrs") or key == "lrs":
            return None if all(v > 0 for v in value) else "every learning rate must be > 0"
        return None
    if isinstance(value, (int, float)):
        if key in _AT_LEAST_ONE and value < 1:
            return "must be at least 1"
        if key in _FRACTIONS and not 0 <= value <= 1:
            return "must be within [0, 1]"
        if value < 0:
            return "must not be negative"
        if isinstance(value, int) and key == "seed" and value > MAX_SEED:
            return f"must be at most {MAX_SEED}"
        if isinstance(value, int) and value > MAX_OPTION_INT:
            return f"must be at most {MAX_OPTION_INT}"
    return None


def parse_items(items) -> list[tuple[str, object, str]]:
    """``--set KEY=VALUE`` items as ``(key, JSON value, text)`` (a bare word is a string; NaN and
    Infinity are not numbers). A GpOptError for an item without ``=``."""
    import json

    parsed = []
    for item in items or ():
        key, sep, text = str(item).partition("=")
        key = key.strip()
        if not sep or not key:
            raise GpOptError(f"--set {echo(item)}: expected KEY=VALUE, e.g. --set steps=100")
        try:
            value = json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
        except (ValueError, RecursionError):
            value = text
        parsed.append((key, value, text))
    return parsed


def check_option(key: str, value, text: str, ann: str, owner: str, item: str | None = None):
    """``value`` checked against the annotation ``ann`` of option ``key`` of ``owner`` (e.g.
    "task 'quadratic'"): type, range, a device this machine has, a known preset. Returns the value
    (lists of numbers for a tuple field as floats); a GpOptError naming the item (``item``: the
    key as the user wrote it, e.g. ``charlm.steps``) otherwise."""
    item = item or key
    if not _type_ok(ann, value):
        raise GpOptError(f"--set {item}={echo(text)}: {key} must be {_describe(ann)} for {owner}")
    field = key.rpartition(".")[2]  # a multi-task list's TASK.FIELD
    why = _check_range(field, value)
    if why:
        raise GpOptError(f"--set {item}={echo(text)}: {key} {why}")
    if field == "device":
        check_device(value, "--set device")
    if field in ("fitness_baseline", "multitask_reference"):
        from gp_opt.tasks import check_reference_name
        check_reference_name(value)
    if field == "multitask_rule":
        from gp_opt.multitask import RULES
        if value not in RULES:
            raise GpOptError(f"--set {item}={echo(text)}: use one of {', '.join(RULES)}")
    if field == "preset":
        from gp_opt.surrogate.protocol import preset_names
        if value not in preset_names():
            raise GpOptError(f"--set {item}={echo(value)}: use one of {', '.join(preset_names())}")
    if isinstance(value, list) and ann.startswith("tuple"):
        value = [float(v) for v in value]
    return value


def annotation(field) -> str:
    """A dataclass field's annotation as the string :func:`check_option` reads (``int``,
    ``float | None``): as written under ``from __future__ import annotations``, else the type's name."""
    return field.type if isinstance(field.type, str) else getattr(field.type, "__name__", str(field.type))


def task_fields(task: str) -> dict[str, str] | None:
    """The options ``--set`` may give ``task`` and their annotation strings (None: not known in
    advance, e.g. a ``module:function`` task)."""
    import dataclasses
    import functools

    if task == "toy":
        return {"dim": "int", "seed": "int", "delay": "float", "eval_log": "str | None"}
    seeded = {"fitness_seeds": "int", "fitness_baseline": "str"}  # gp_opt.seeded wraps any task
    if "+" in task and ":" not in task:  # a multi-task list: TASK.FIELD and the rule's options
        from gp_opt.multitask import RULE_OPTIONS
        fields = dict(seeded, **{k: "str" for k in RULE_OPTIONS})
        for name in task.split("+"):
            sub = task_fields(name.strip()) or {}
            fields.update({f"{name.strip()}.{k}": v for k, v in sub.items() if k not in seeded})
        return fields
    if task == "surrogate":
        from gp_opt.surrogate import SurrogateConfig
        fields = {f.name: annotation(f) for f in dataclasses.fields(SurrogateConfig)}
        return dict(fields, preset="str", batch_children="bool", **seeded)
    from gp_opt.tasks import TASKS
    make = TASKS.get(task)
    if isinstance(make, functools.partial):
        make = make.func
    if make is None or not dataclasses.is_dataclass(make):
        return None
    return dict({f.name: annotation(f) for f in dataclasses.fields(make) if f.name != "name"}, **seeded)


def parse_set(items, task: str) -> dict:
    """``--set KEY=VALUE`` items as a dict of JSON values (a bare word is a string), each checked
    against the options ``task`` accepts: known name, type, range; ``device`` against this
    machine. Raises GpOptError naming the item and the accepted values.

    >>> parse_set(["steps=30", "lrs=[0.1, 0.01]"], "quadratic")
    {'steps': 30, 'lrs': [0.1, 0.01]}
    """
    return check_set(parse_items(items), task_fields(task), f"task {task!r}")


def check_set(parsed, fields: dict[str, str] | None, owner: str) -> dict:
    """:func:`parse_items`' output as a dict, each key one of ``fields`` (name -> annotation; None:
    not known in advance, taken as they are) and its value checked by :func:`check_option`."""
    options = {}
    for key, value, text in parsed:
        if fields is None:
            options[key] = value
            continue
        if key not in fields:
            raise GpOptError(f"--set {echo(key)}: {owner} has no such option; it accepts "
                             f"{', '.join(sorted(fields))}")
        options[key] = check_option(key, value, text, fields[key], owner)
    return options


def one_line(text) -> str:
    """``text`` on one line (a library's multi-line message folded)."""
    return " ".join(str(text).split())
