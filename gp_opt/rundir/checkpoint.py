"""Checks of what a resume reads, field by field, so damage is one line naming the field.

The checksums of ``checkpoint.json`` and of the log lines catch accidental damage and foreign
files; these checks also catch a file that was edited and re-signed, or written by a different
version, before any of it reaches the search (where a wrong type would be a traceback).
"""
from __future__ import annotations

import math
from typing import Any, Mapping

from ..errors import CheckpointError


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) or v in ("inf", "-inf", "nan")


def check_record(rec: Any, where: str) -> None:
    """A :class:`~gp_opt.fitness.FitnessRecord` dict: fitness a number, the rest well typed."""
    if not isinstance(rec, dict):
        raise CheckpointError(f"{where}: field 'record' is {type(rec).__name__}, not an object")
    if "fitness" not in rec or not _is_number(rec["fitness"]):
        raise CheckpointError(f"{where}: field 'record.fitness' is missing or not a number "
                              f"({str(rec.get('fitness'))[:40]!r})")
    allowed = {"fitness": None, "status": str, "reason": (str, type(None)), "stages": list,
               "best_lr": (int, float, type(None)), "seconds": (int, float), "extra": dict}
    for name, value in rec.items():
        if name not in allowed:
            raise CheckpointError(f"{where}: field 'record.{name}' is unknown")
        want = allowed[name]
        if want is not None and (not isinstance(value, want) or isinstance(value, bool)):
            raise CheckpointError(f"{where}: field 'record.{name}' has the wrong type "
                                  f"({type(value).__name__})")


def check_line(line: dict[str, Any], where: str) -> None:
    """A log line's fields (after its checksum passed)."""
    for name in ("record", "individual", "key", "cache_hit"):
        if name not in line:
            raise CheckpointError(f"{where}: field {name!r} is missing")
    check_record(line["record"], where)
    if not isinstance(line["key"], (str, type(None))):
        raise CheckpointError(f"{where}: field 'key' is {type(line['key']).__name__}, not a string")
    if not isinstance(line["cache_hit"], bool):
        raise CheckpointError(f"{where}: field 'cache_hit' is {type(line['cache_hit']).__name__}, "
                              f"not true/false")
    keys = line.get("keys")
    if keys is not None and not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)):
        raise CheckpointError(f"{where}: field 'keys' is not a list of strings")


def _candidate(d: Any, where: str) -> None:
    if not isinstance(d, dict) or "individual" not in d:
        raise CheckpointError(f"{where} is not a candidate object")
    if d.get("record") is not None:
        check_record(d["record"], where)
    if not isinstance(d.get("key"), (str, type(None))):
        raise CheckpointError(f"{where}: field 'key' is not a string")
    if not isinstance(d.get("meta"), (dict, type(None))):
        raise CheckpointError(f"{where}: field 'meta' is not an object")


def _keys(v: Any, field: str, where: str) -> None:
    if not isinstance(v, list) or not all(isinstance(k, str) for k in v):
        raise CheckpointError(f"{where}: field {field!r} is not a list of keys")


def check_state(state: dict[str, Any], config: dict[str, Any], n_lines: int, where: str,
                algorithms: Mapping[str, str]) -> None:
    """Every field a resume uses, with its type and range, and its agreement with the run's
    config (algorithm, steps) and the log (``n_logged`` lines exist). ``algorithms``: the known
    algorithm names, each with the config key holding its number of generations (the search's
    :data:`gp_opt.search.algorithms.ALGORITHMS` says)."""
    def field(name: str, ok: bool, what: str) -> None:
        if not ok:
            shown = str(state.get(name))[:40]
            raise CheckpointError(f"{where}: field {name!r} is {what} (got {shown!r}); the "
                                  f"checkpoint was edited or damaged -- restore it, or delete it to "
                                  f"replay the run from its log")

    algo = state.get("algorithm")
    field("algorithm", algo in algorithms, f"not one of {', '.join(algorithms)}")
    field("algorithm", algo == config.get("algorithm"), f"not the run's {config.get('algorithm')!r}")
    step = state.get("step")
    field("step", _is_int(step) and step >= 0, "not a non-negative integer")
    last = config.get(algorithms[algo])
    field("step", not _is_int(last) or step <= last, f"beyond the run's last step {last}")
    n = state.get("n_logged")
    field("n_logged", _is_int(n) and n >= 0, "not a non-negative integer")
    field("log_crc", isinstance(state.get("log_crc"), str), "missing or not a string")
    counters = state.get("counters")
    field("counters", isinstance(counters, dict) and all(_is_int(v) and v >= 0 for v in counters.values()),
          "not an object of counts")
    field("rng", isinstance(state.get("rng"), dict) and {"numpy", "python", "torch"} <= set(state["rng"]),
          "not an RNG state")
    field("seconds", _is_number(state.get("seconds", 0.0)), "not a number")
    logbook = state.get("logbook")
    field("logbook", isinstance(logbook, list) and all(isinstance(r, dict) for r in logbook),
          "not a list of rows")
    field("step", len(logbook) == step + 1, f"not its logbook's last step ({len(logbook) - 1})")
    hof = state.get("hof")
    field("hof", isinstance(hof, dict) and _is_int(hof.get("maxsize")) and isinstance(hof.get("items"), list),
          "not a hall of fame")
    for i, d in enumerate(hof["items"]):
        _candidate(d, f"{where}: hof item {i}")
    if algo == "particle":
        parts, hists = state.get("particles"), state.get("histories")
        field("particles", isinstance(parts, list) and len(parts) == config.get("particles", len(parts or [])),
              f"not a list of {config.get('particles')} particles")
        field("histories", isinstance(hists, list) and len(hists) == len(parts), "not one history per particle")
        for i, d in enumerate(parts):
            _candidate(d, f"{where}: particle {i}")
        for h in hists:
            _keys(h, "histories", where)
    else:
        pop = state.get("population")
        field("population", isinstance(pop, list) and len(pop) > 0, "not a list of candidates")
        for i, d in enumerate(pop):
            _candidate(d, f"{where}: population member {i}")
        _keys(state.get("history"), "history", where)
    if n > n_lines:
        raise CheckpointError(f"{where} counts {n} logged candidates but candidates.jsonl has "
                              f"{n_lines}: the log was truncated or replaced; restore it from a backup")
    if isinstance(state.get("seconds"), float) and not math.isfinite(state["seconds"]):
        field("seconds", False, "not finite")
