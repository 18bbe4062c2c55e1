"""Reading a run directory for the report: its candidates, per-step statistics, tree sizes."""
from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gp_opt.errors import GpOptError

REPORT_DIR = "report"
#: Written by ``gp-opt eliminate`` (the elimination funnel), read when present.
ELIMINATION_FILE = "elimination/summary.json"
#: Written by ``gp-opt transfer`` into a run directory, read when present.
TRANSFER_FILE = "transfer/results.json"
#: ``gp-opt eliminate --holdout N``'s summary: the last round's entries on fresh seeds
HOLDOUT_FILE = "elimination/holdout.json"



class ReportError(GpOptError):
    """A run directory the report cannot be made from (no run, no successful candidate, ...)."""


# ---------------------------------------------------------------- reading the run
@dataclass
class Candidate:
    seq: int
    step: int
    key: str
    fitness: float          # NaN when the record says NaN; -inf when rejected/failed
    status: str
    cache_hit: bool
    individual: Any         # the serialized payload (a genome's JSON text)
    record: dict

    @property
    def ok(self) -> bool:
        return self.status == "ok" and math.isfinite(self.fitness)


@dataclass
class RunData:
    """What the report reads from a run directory."""

    path: Path
    config: dict
    candidates: list[Candidate]
    state: dict | None               # the checkpoint's state (None: killed before the first)
    notes: list[str] = field(default_factory=list)   # problems met while reading, said in the report
    hof_keys: list[str] = field(default_factory=list)  # hall_of_fame.json's keys, best first


def as_float(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def load_run(path: str | Path) -> RunData:
    """Read a run directory without changing it. Raises :class:`GpOptError` subclasses with one
    line naming the problem (not a run, a live writer, no or a corrupt ``candidates.jsonl``)."""
    from gp_opt import rundir as rundir_mod
    from gp_opt.errors import CheckpointError

    path = Path(path)
    if not path.is_dir():
        raise ReportError(f"{path} is not a run directory (it does not exist)")
    rundir_mod.check_not_written(path, "report")   # a live search: refuse, it is half written
    # lock=False: a reader takes no lock and removes nothing; repair=False: a cut last line is
    # left where it is (the next writer moves it away)
    rd = rundir_mod.RunDir.open(path, lock=False)
    notes = []
    try:
        log = path / rundir_mod.CANDIDATES_FILE
        if not log.exists():
            raise ReportError(f"{path}: no {rundir_mod.CANDIDATES_FILE} (the run logged no candidate yet)")
        lines = rd.read_candidates(repair=False)
        if rd.torn:
            notes.append(f"the last line of {rundir_mod.CANDIDATES_FILE} is cut (a killed write); left out")
        try:
            state = rd.load_checkpoint()
        except CheckpointError as exc:       # the log alone still makes a report
            state = None
            notes.append(f"checkpoint not used: {exc}")
        short = rd.log_shortfall(state)  # lines that differ from those the checkpoint counted: refused
        if short:
            notes.append(f"{short}; this report covers the {rd.n_lines} lines there")
            print(f"note: {short}; the report covers the {rd.n_lines} lines there", file=sys.stderr, flush=True)
    finally:
        rd.close()
    from ..search.noise import with_derived_records  # a noise-aware run ranks on its derived fitness

    cands = []
    for line in with_derived_records(lines):
        rec = line.get("record") if isinstance(line.get("record"), dict) else {}
        phase_step = 0 if line.get("phase") == "init" else int(line.get("step") or 0)
        cands.append(Candidate(seq=int(line["seq"]), step=phase_step, key=str(line.get("key")),
                               fitness=as_float(rec.get("fitness")), status=str(rec.get("status", "failed")),
                               cache_hit=bool(line.get("cache_hit")), individual=line.get("individual"),
                               record=rec))
    return RunData(path, rd.config, cands, state, notes, _hof_keys(path, notes))


def _hof_keys(path: Path, notes: list[str]) -> list[str]:
    """The keys of ``hall_of_fame.json`` in rank order (best.json is its first): the search's own
    order among candidates of equal fitness, which the report's ranking follows."""
    from gp_opt.winner import HOF_FILE
    file = path / HOF_FILE
    if not file.is_file():
        return []
    try:
        entries = json.loads(file.read_text(encoding="utf-8"))
        return [str(e["key"]) for e in sorted(entries, key=lambda e: int(e.get("rank", 0)))]
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        notes.append(f"{HOF_FILE} not used for the order of equal fitnesses: {exc}")
        return []


# ---------------------------------------------------------------- analysis
@dataclass
class StepStats:
    step: int
    n: int
    n_ok: int
    best: float
    median: float
    q25: float
    q75: float
    cum_best: float
    screen_rejected: float     # fraction of the step's candidates rejected/failed by the fitness
    cache_hits: float          # fraction taken from the cache
    integrity: float | None    # fraction of drawn children refused by the integrity check


def on_init_scale(c: Candidate) -> bool:
    """Whether the record was scored by the initial population's own fitness (``extra["scale"]``)."""
    from ..search.candidate import INIT_SCALE

    return (c.record.get("extra") or {}).get("scale") == INIT_SCALE


def step_stats(data: RunData) -> list[StepStats]:
    by_step: dict[int, list[Candidate]] = {}
    for c in data.candidates:
        by_step.setdefault(c.step, []).append(c)
    integrity = {}
    for row in (data.state or {}).get("logbook", []) or []:
        try:
            integrity[int(row["step"])] = float(row.get("integrity", 0))
        except (KeyError, TypeError, ValueError):
            continue
    out, cum = [], -math.inf
    for step in sorted(by_step):
        cs = by_step[step]
        fit = np.array([c.fitness for c in cs if c.ok])
        nan = math.nan
        if fit.size:
            best, med, q25, q75 = float(fit.max()), float(np.median(fit)), *map(float, np.percentile(fit, [25, 75]))
            # the best so far is the children's: a score at the initial population's own ConvNet
            # size (the paper preset's base 32) is not compared with theirs
            children = [c.fitness for c in cs if c.ok and not on_init_scale(c)]
            cum = max([cum] + children)
        else:
            best = med = q25 = q75 = nan
        integ = None
        if step in integrity:
            drawn = integrity[step] + len(cs)
            integ = integrity[step] / drawn if drawn else None
        out.append(StepStats(step, len(cs), int(fit.size), best, med, q25, q75,
                             cum if math.isfinite(cum) else nan,
                             sum(1 for c in cs if c.status != "ok" or not math.isfinite(c.fitness)) / len(cs),
                             sum(1 for c in cs if c.cache_hit) / len(cs), integ))
    return out


def candidate_genome_dict(c: Candidate) -> dict | None:
    text = c.individual
    if not isinstance(text, str) or not text.lstrip().startswith("{"):
        return None
    try:
        d = json.loads(text)
    except ValueError:
        return None
    return d if isinstance(d, dict) else None


def catalog_grammar(d: dict):
    from gp_opt import catalog
    return catalog.grammar_for(d)


def candidate_genome(c: Candidate, grammar=None):
    from gp_opt.genome import OptimizerGenome
    text = c.individual
    if not isinstance(text, str) or not text.lstrip().startswith("{"):
        return None
    try:
        return OptimizerGenome.from_json(text, grammar)
    except (GpOptError, ValueError, KeyError, TypeError):
        return None


@dataclass
class Entry:
    """One unique successful optimizer of the run."""

    cand: Candidate
    size: float                 # ops in the expression tree the graph writes (all entries)
    genome: Any = None          # parsed only for the top-k and the Pareto front
    ops: float = math.nan       # sympy count_ops of the simplified U (top-k and front only)
    simplified: Any = None


_WEIGHTS: dict[int, tuple[Any, dict, dict]] = {}


def _weights(grammar) -> tuple[dict, dict]:
    """(ops per operand, ops per op) of a grammar: sympy ``count_ops`` of each one's expression
    (an op costs at least 1, the identity 0)."""
    import sympy as sp
    hit = _WEIGHTS.get(id(grammar))
    if hit is None or hit[0] is not grammar:
        operands = {n: int(sp.count_ops(o.expr)) for n, o in grammar.operands.items()}
        x = sp.Symbol("x")
        ops = {n: (0 if o.expr == x else max(1, int(sp.count_ops(o.expr)))) for n, o in grammar.ops.items()}
        hit = _WEIGHTS[id(grammar)] = (grammar, operands, ops)
    return hit[1], hit[2]


def tree_size(data: dict, grammar) -> float:
    """The size of ``U`` as the genome writes it: the ops of the expression tree its active graph
    unfolds to (an operand counts its own ops, a node its op's, a decayed edge 1 for the product
    plus its decay function's ops), without building it in sympy. Close to ``count_ops`` of the
    unsimplified ``U``; microseconds instead of tens of milliseconds, so every candidate of a
    large run gets one.

    >>> from gp_opt import catalog
    >>> tree_size(catalog.get("Adam").to_dict(), catalog.get("Adam").grammar)  # div 3, sqrt_abs 2
    5.0
    """
    operand_ops, op_ops = _weights(grammar)
    nodes = data.get("nodes", {})
    memo: dict[str, float] = {}

    def decay_size(dec: dict) -> float:
        dnodes = dec.get("nodes", {}) if isinstance(dec, dict) else {}
        dmemo: dict[str, float] = {}

        def node(name: str) -> float:
            if name not in dnodes:
                return 0.0            # a schedule leaf
            if name not in dmemo:
                spec = dnodes[name]
                dmemo[name] = op_ops.get(spec.get("op"), 1) + sum(node(i) for i in spec.get("inputs", []))
            return dmemo[name]
        return node("out")

    def node(name: str) -> float:
        if name not in nodes:
            return float(operand_ops.get(name, 0))
        if name not in memo:
            spec = nodes[name]
            total = float(op_ops.get(spec.get("op"), 1))
            for inp in spec.get("inputs", []):
                if isinstance(inp, dict):
                    total += node(str(inp.get("from")))
                    if inp.get("decay"):
                        total += 1 + decay_size(inp["decay"])
                else:
                    total += node(str(inp))
            memo[name] = total
        return memo[name]
    return node("out") + (1 if data.get("sign", 1) < 0 else 0)


def unique_ok(data: RunData) -> list[Candidate]:
    """Successful candidates, best first, one per dedup key (its best record); equal fitnesses
    in the hall of fame's order, so that #1 is best.json, then in the order they were found.
    Candidates scored by the initial population's own fitness (``extra["scale"] == "init"``,
    e.g. the paper's base-32 ConvNet) come after every other, ranked among themselves: as the
    search does (docs/search.md, "Two fitness scales"), no score is compared across scales."""
    rank = {k: i for i, k in enumerate(data.hof_keys)}
    ok = sorted((c for c in data.candidates if c.ok),
                key=lambda c: (on_init_scale(c), -c.fitness,
                               rank.get(c.key, len(rank)), c.seq))
    seen, out = set(), []
    for c in ok:
        if c.key in seen:
            continue
        seen.add(c.key)
        out.append(c)
    return out


def complexity(expr) -> float:
    import sympy as sp
    try:
        return float(sp.count_ops(expr))
    except Exception:  # noqa: BLE001 - an expression sympy cannot count is simply "unknown"
        return math.nan
