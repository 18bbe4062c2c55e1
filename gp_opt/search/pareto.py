"""Multi-objective search (issue 23 item 3): objectives, DEAP's NSGA-II, the Pareto archive.

An *objective* is a number read off an evaluated candidate with a direction:

* ``fitness`` -- the candidate's score (the noise-aware one when the run derives it), maximised;
* ``memory`` -- state buffers per parameter (:func:`gp_opt.card.state_buffers`), minimised;
* ``size`` -- active inner nodes of the update graph, minimised.

:func:`nsga2_select` is DEAP's ``tools.selNSGA2`` (non-dominated sorting, then crowding distance)
over plain tuples; regularized evolution with ``objectives`` picks each tournament's winner with it
instead of the best score. :class:`ParetoArchive` is ``RUN_DIR/pareto.jsonl``: every ok candidate
not dominated by the archive when it was evaluated, appended once (by key) through the project's
checked :class:`~gp_opt.rundir.jsonlog.JsonLog`; the front is its non-dominated lines. Written only
by the run's one writer (the run's lock), read back on resume.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Sequence

from deap import base, tools

from ..errors import GpOptError
from .candidate import Candidate, is_ok, on_init_scale, score

__all__ = ["OBJECTIVES", "parse_objectives", "objective_values", "nsga2_select", "pareto_ranks",
           "ParetoArchive", "ARCHIVE_NAME"]

#: name -> (DEAP weight: +1 maximise, -1 minimise; what it is)
OBJECTIVES = {"fitness": (1.0, "the candidate's score (higher is better)"),
              "memory": (-1.0, "state buffers per parameter (fewer is better)"),
              "size": (-1.0, "active inner nodes of the update graph (fewer is better)")}
ARCHIVE_NAME = "pareto.jsonl"


def parse_objectives(spec: str | Sequence[str]) -> tuple[str, ...]:
    """``"fitness,memory"`` (or a list) as names; an unknown name or one given twice is a GpOptError
    naming it. ``fitness`` must be among them: the others only trade quality for cost."""
    names = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec)]
    if not names or not all(names):
        raise GpOptError(f"--objectives {spec!r}: an empty name; give e.g. fitness,memory")
    for name in names:
        if name not in OBJECTIVES:
            raise GpOptError(f"--objectives: unknown objective {name!r}; known: {', '.join(OBJECTIVES)}")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise GpOptError(f"--objectives: {', '.join(twice)} given twice")
    if "fitness" not in names:
        raise GpOptError(f"--objectives {','.join(names)}: fitness must be one of them (the others are costs "
                         "traded against it)")
    if len(names) < 2:
        raise GpOptError("--objectives fitness: one objective is the ordinary search; add memory and/or size")
    return tuple(names)


def objective_values(candidate: Candidate, names: Sequence[str]) -> tuple[float, ...]:
    """The candidate's objectives in ``names`` order (its payload must be a genome). A candidate
    that did not pass (rejected, failed) is worst in every objective, so any passing one dominates
    it: a failed genome with no state must not sit on the front for its memory alone."""
    from ..card import state_buffers

    if not is_ok(candidate):
        return tuple(-OBJECTIVES[n][0] * float("inf") for n in names)
    out = []
    for name in names:
        if name == "fitness":
            out.append(float(score(candidate)))
        elif name == "memory":
            out.append(float(len(state_buffers(candidate.payload))))
        else:
            out.append(float(len(candidate.payload.active_inner_nodes())))
    return tuple(out)


class _Point:
    """What DEAP's selection reads of a point: its ``fitness`` (values and weights)."""

    def __init__(self, fitness_cls: type, values: Sequence[float], index: int):
        self.fitness = fitness_cls(tuple(values))
        self.index = index


def _points(points: Sequence[Sequence[float]], weights: Sequence[float]) -> list[_Point]:
    fitness_cls = type("ObjectivesFitness", (base.Fitness,), {"weights": tuple(weights)})
    return [_Point(fitness_cls, p, i) for i, p in enumerate(points)]


def _weights(names: Sequence[str]) -> tuple[float, ...]:
    return tuple(OBJECTIVES[n][0] for n in names)


def nsga2_select(points: Sequence[Sequence[float]], names: Sequence[str], k: int) -> list[int]:
    """Indices of the ``k`` points NSGA-II keeps (``tools.selNSGA2``): whole fronts first, the last
    front cut by crowding distance (DEAP compares the weighted values)."""
    chosen = tools.selNSGA2(_points(points, _weights(names)), k)
    return [p.index for p in chosen]


def pareto_ranks(points: Sequence[Sequence[float]], names: Sequence[str]) -> list[int]:
    """Each point's non-domination rank (0: the Pareto front), DEAP's ``sortNondominated``."""
    pts = _points(points, _weights(names))
    ranks = [0] * len(pts)
    for r, front in enumerate(tools.sortNondominated(pts, len(pts))):
        for p in front:
            ranks[p.index] = r
    return ranks


class ParetoArchive:
    """``RUN_DIR/pareto.jsonl`` (module docstring): lines ``{"key", "seq", "objectives", "values"}``."""

    CHAIN = "gp_opt.search:" + ARCHIVE_NAME

    def __init__(self, run_dir: str | Path, names: Sequence[str]):
        from ..rundir import JsonLog
        from ..rundir.jsonlog import print_notes

        self.names = tuple(names)
        self.log = JsonLog(Path(run_dir) / ARCHIVE_NAME, self.CHAIN, root=run_dir, check=self._check)
        self.lines = self.log.read(repair=True)
        print_notes(self.log.notes)
        self.keys = {line["key"] for line in self.lines}

    def _check(self, doc: dict[str, Any], where: str) -> None:
        if not (isinstance(doc.get("key"), str) and doc.get("objectives") == list(self.names)
                and isinstance(doc.get("values"), list) and len(doc["values"]) == len(self.names)):
            raise GpOptError(f"{where}: not a Pareto archive line of objectives {','.join(self.names)}")

    def front(self) -> list[dict[str, Any]]:
        """The archive's non-dominated lines, in the order they were added."""
        ranks = pareto_ranks([line["values"] for line in self.lines], self.names)
        return [line for line, r in zip(self.lines, ranks) if r == 0]

    def add(self, candidates: Iterable[Candidate | None]) -> int:
        """Append each ok candidate not yet in the archive whose objectives no archived line
        dominates (one write); returns how many were added. A candidate scored by the initial
        population's own fitness (another ConvNet size: :func:`.candidate.on_init_scale`) is not
        archived: the front compares fitnesses, so it holds one scale, the children's, as the
        hall of fame does."""
        new = []
        for c in candidates:
            if c is None or not is_ok(c) or c.key in self.keys or on_init_scale(c):
                continue
            values = list(objective_values(c, self.names))
            if any(self._dominates(line["values"], values) for line in self.lines + new):
                continue
            new.append({"key": c.key, "seq": c.meta.get("seq"), "objectives": list(self.names), "values": values})
            self.keys.add(c.key)
        self.log.append_many(new)
        self.lines += new
        return len(new)

    def _dominates(self, a: Sequence[float], b: Sequence[float]) -> bool:
        w = _weights(self.names)
        wa, wb = [x * s for x, s in zip(a, w)], [x * s for x, s in zip(b, w)]
        return all(x >= y for x, y in zip(wa, wb)) and any(x > y for x, y in zip(wa, wb))

    def close(self) -> None:
        self.log.close()
