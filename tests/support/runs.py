"""A run directory as the tests read it: its candidate log, the log without wall-clock fields, and
its hall of fame (from the checkpoint or from a search result); and a run directory written from
given log lines (:func:`run_with_lines`, for the report's tests)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gp_opt.rundir import CANDIDATES_FILE

#: fields that hold wall-clock times (``crc`` chains them too), dropped before two logs are compared
TIMING_FIELDS = ("time", "seconds", "mutate_seconds", "crc")


def log_lines(run: str | Path, missing_ok: bool = False) -> list[dict[str, Any]]:
    """Every line of ``run``'s ``candidates.jsonl`` as a dict; ``missing_ok``: [] when there is none
    yet (a run killed before its first record)."""
    p = Path(run) / CANDIDATES_FILE
    if missing_ok and not p.exists():
        return []
    return [json.loads(x) for x in p.read_text().splitlines()]


def without_timing(line: dict[str, Any]) -> dict[str, Any]:
    """A log line without its wall-clock fields, at the top, in the record and in its stages."""
    out = {k: v for k, v in line.items() if k not in TIMING_FIELDS}
    record = line.get("record")
    if isinstance(record, dict):
        out["record"] = {k: v for k, v in record.items() if k not in TIMING_FIELDS}
        if isinstance(record.get("stages"), list):
            out["record"]["stages"] = [{k: v for k, v in st.items() if k not in TIMING_FIELDS}
                                       for st in record["stages"]]
    return out


def checkpoint_hof(run: str | Path, individuals: bool = False) -> list[tuple]:
    """``(key, fitness)`` of each hall-of-fame entry in ``run``'s checkpoint (with its individual
    when ``individuals``); an empty hall of fame fails, so two missing ones never compare equal."""
    items = json.loads((Path(run) / "checkpoint.json").read_text())["state"]["hof"]["items"]
    assert items, f"{run}: empty hall of fame"
    return [(i["key"], i["record"]["fitness"]) + ((i["individual"],) if individuals else ()) for i in items]


def result_hof(result: Any) -> list[tuple]:
    """``(key, fitness)`` of each hall-of-fame entry of a search result."""
    return [(i.key, i.record.fitness) for i in result.halloffame]


class Crash(Exception):
    """What :class:`CrashingQuadratic` raises: a search killed in the middle."""


class CrashingQuadratic:
    """The quick quadratic task (30 or ``steps`` steps, two rates), raising :class:`Crash` after
    ``limit`` evaluations (None: never) -- ``make_toolbox(CrashingQuadratic(limit))`` kills a
    search mid-way; resuming with ``make_toolbox(CrashingQuadratic())`` finishes it."""

    def __init__(self, limit: int | None = None, steps: int = 30):
        from gp_opt.tasks import get_task

        self.task, self.limit, self.calls = get_task("quadratic", steps=steps, lrs=(0.1, 0.01)), limit, 0

    def __call__(self, genome: Any) -> Any:
        if self.limit is not None and self.calls >= self.limit:
            raise Crash()
        self.calls += 1
        return self.task(genome)


def candidate_line(seq, genome, fitness, status="ok", step=0, key=None, cache_hit=False) -> dict[str, Any]:
    """One candidate-log line for ``genome`` with the given fitness (step 0: the initial population)."""
    return {"seq": seq, "phase": "init" if step == 0 else "step", "step": step, "particle": None if step == 0 else 0,
            "slot": seq, "attempt": 0, "key": key or f"k{seq}", "individual": genome.to_json(),
            "record": {"fitness": fitness, "status": status, "reason": None if status == "ok" else "test",
                       "stages": [], "best_lr": 0.1, "seconds": 0.5, "extra": {}},
            "cache_hit": cache_hit, "seconds": {"evaluate": 0.5}, "time": 1.0e9 + seq}


def run_with_lines(path, lines):
    """A particle-GA run directory on the quadratic task at ``path`` whose log holds ``lines``."""
    from gp_opt.rundir import RunDir

    cfg = {"algorithm": "particle", "task": "quadratic", "particles": 2, "steps": 1, "children": 1,
           "seed": 0, "init_factor": 1, "toolbox": {"kind": "genome", "key": "fingerprint"}}
    rd = RunDir.create(path, cfg)
    try:
        if lines:
            rd.append_many(lines)
    finally:
        rd.close()
    return path
