"""A rediscovery campaign: one search algorithm, one target, a budget, several seeds.

The campaign directory ``DIR`` holds::

    rediscover.json        the settings and the target's genome (written once, atomically)
    seed-K/                the run directory of seed K (gp_opt.search: append-only log, checkpoint)
    results/seed-K.json    what seed K found (atomic, written when its search is done)
    summary.json, summary.md   the table over the finished seeds (atomic, after every seed)

One writer (the lock on ``DIR``); the same command resumes a killed campaign: finished seeds are
read back, an unfinished seed's search resumes from its checkpoint, more seeds than before add
runs. Changed settings (target, algorithm, budget, shape) are refused.

**Budget**: the number of candidates a seed's search logs (its fitness lookups, cache hits
included: the measure ``gp-opt search`` sizes its algorithms by): ``init_factor * particles``
initial ones and ``steps`` steps of ``particles * children``, ``steps = (budget - init) // (particles
* children)``. The particle GA's redraws of failed children come on top (the log counts them).
A seed **solves** the target when a logged candidate is the target: equal canonical keys
(``symbolic``) or identical behaviour on the verification panel (``behavioural``); its
*candidates to solution* is that candidate's position in the log (1-based). With
``stop_when_solved`` a seed's search ends with the step in which it first logs a solution (the
search asks :class:`~gp_opt.rediscover.fitness.SolutionCheck` about each new candidate): a solved
seed then logs fewer than the budget, an unsolved one all of it; the solution rate and the
candidates to solution are the same, a solved seed's best distance is the best up to its solution.
"""
from __future__ import annotations

import json
import math
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from gp_opt.errors import CheckpointError, GpOptError
from gp_opt.genome import OptimizerGenome
from gp_opt.rediscover.fitness import NEAR, Judge, RediscoveryFitness, SolutionCheck
from gp_opt.rediscover.target import Target, target_record

ALGORITHMS = {"ga": "particle", "regularized": "regularized", "random": "random", "local": "local"}
CONFIG_FILE = "rediscover.json"
FORMAT = "gp_opt-rediscover"
#: near candidates judged together when a finished seed is analysed (the first solution in a
#: batch ends the analysis)
JUDGE_BATCH = 256


@dataclass(frozen=True)
class Shape:
    """How a budget is spent: ``particles`` x ``children`` per step after ``init_factor *
    particles`` initial candidates (regularized evolution: that population, ``particles *
    children`` children per cycle from tournaments of a quarter of it)."""

    particles: int = 10
    children: int = 10
    init_factor: int = 10

    def steps(self, budget: int) -> int:
        init, per = self.init_factor * self.particles, self.particles * self.children
        if budget < init + per:
            raise GpOptError(f"budget {budget} is below one step of this search shape ({init} initial + "
                             f"{per} per step = {init + per}); raise --budget or lower --particles/--children/"
                             "--init-factor")
        return (budget - init) // per


def _settings(target: Target, algorithm: str, budget: int, shape: Shape, stop_when_solved: bool,
              restart_every: int | None) -> dict[str, Any]:
    if algorithm not in ALGORITHMS:
        raise GpOptError(f"unknown algorithm {algorithm!r}; use one of {', '.join(ALGORITHMS)}")
    if restart_every is not None:
        if algorithm != "regularized":
            raise GpOptError(f"--restart-every: only with --algorithm regularized, not {algorithm}")
        if not isinstance(restart_every, int) or restart_every < 1:
            raise GpOptError(f"--restart-every must be a positive number of cycles, got {restart_every!r}")
    if not isinstance(budget, int) or budget < 1:
        raise GpOptError(f"budget must be a positive number of candidates, got {budget!r}")
    steps = shape.steps(budget)
    return {"format": FORMAT, "version": 1, "target": target_record(target), "algorithm": algorithm,
            "budget": budget, "steps": steps, "shape": asdict(shape),
            "panel": "search", "near": NEAR, "stop_when_solved": bool(stop_when_solved),
            **({"restart_every": restart_every} if restart_every is not None else {})}


def check(target: Target, algorithm: str, budget: int, seeds: int, out: str | Path, shape: Shape = Shape(),
          stop_when_solved: bool = False, restart_every: int | None = None) -> dict[str, Any]:
    """Every input checked before anything is written: the settings, or :class:`GpOptError`."""
    if not isinstance(seeds, int) or seeds < 1:
        raise GpOptError(f"seeds must be a positive integer, got {seeds!r}")
    settings = _settings(target, algorithm, budget, shape, stop_when_solved, restart_every)
    out = Path(out)
    if out.exists():
        if not out.is_dir():
            raise GpOptError(f"{out} is a file, not a rediscovery directory")
        cfg_file = out / CONFIG_FILE
        if not cfg_file.is_file():
            from gp_opt.rundir.files import is_temp_name
            from gp_opt.rundir.lock import LOCK_FILE

            if any(p.name != LOCK_FILE and not is_temp_name(p.name) for p in out.iterdir()):
                raise GpOptError(f"{out} holds files but no {CONFIG_FILE}: not a rediscovery directory "
                                 "(give a new or empty folder)")
        else:
            old = _read_json(cfg_file)
            old.setdefault("stop_when_solved", False)   # campaigns made before the setting existed
            for key in ("target", "algorithm", "budget", "steps", "shape", "stop_when_solved", "restart_every"):
                if old.get(key) != settings.get(key):
                    raise GpOptError(f"{out} is a rediscovery of other settings ({key} differs: "
                                     f"{json.dumps(old.get(key))[:80]} there); use another --out")
    return settings


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: unreadable ({exc})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: not a JSON object")
    return data


def _toolbox(target: Target, stop_when_solved: bool):
    from gp_opt.search import make_toolbox

    fitness = RediscoveryFitness(target.genome)
    grammar = target.grammar_path if target.grammar_path is not None else target.grammar
    tb = make_toolbox(fitness, grammar, key="fingerprint")
    if stop_when_solved:
        tb.register("stop_when", SolutionCheck(target.genome))
    return tb


def _search(target: Target, settings: dict[str, Any], seed: int, run_dir: Path):
    """Run (or resume) seed ``seed``'s search in ``run_dir``."""
    from gp_opt.search import resume_search, run_search

    tb = _toolbox(target, settings.get("stop_when_solved", False))
    if (run_dir / "run.json").exists():
        return resume_search(run_dir, toolbox=tb, verbose=False)
    shape = settings["shape"]
    algorithm = ALGORITHMS[settings["algorithm"]]
    extra = {} if algorithm in ("random", "local") else {"max_redraws": 4}
    if settings.get("restart_every") is not None:
        extra["restart_every"] = settings["restart_every"]
    return run_search("rediscover", run_dir, shape["particles"], settings["steps"], shape["children"],
                      seed=seed, init_factor=shape["init_factor"], algorithm=algorithm, toolbox=tb,
                      verbose=False, **extra)


def analyse(run_dir: Path, target: Target) -> dict[str, Any]:
    """What seed's run ``run_dir`` found: the best distance and its genome, whether and when a
    candidate was the target (and how that was decided)."""
    from gp_opt.rundir import RunDir

    rd = RunDir.open(run_dir, lock=False)
    try:
        lines = rd.read_candidates(repair=False)
    finally:
        rd.close()
    best, best_line, evals = math.inf, None, 0
    near: list[tuple[int, dict]] = []
    for n, line in enumerate(lines):
        evals += not line.get("cache_hit")
        rec = line.get("record") or {}
        d = (rec.get("extra") or {}).get("distance")
        if rec.get("status") != "ok" or not isinstance(d, (int, float)):
            continue
        if d < best:
            best, best_line = d, line
        if d <= NEAR:
            near.append((n, line))
    # every distinct near candidate is judged, in log order (a search can log a thousand near
    # twins of the target: a 1e-6 w term, a factor exp(1e-6 ...) -- most are not it)
    solved, how, judged, seen = None, None, 0, set()
    distinct = []
    for n, line in near:
        if line.get("key") not in seen:
            seen.add(line.get("key"))
            distinct.append((n, line))
    judge = None
    for start in range(0, len(distinct), JUDGE_BATCH):
        chunk = distinct[start:start + JUDGE_BATCH]
        judge = judge or Judge(target.genome)
        cands = [OptimizerGenome.from_json(line["individual"], grammar=target.grammar) for _, line in chunk]
        found = judge.first(cands)
        if found is not None:
            judged += found[0] + 1
            solved, how = (chunk[found[0]][0], cands[found[0]]), found[1]
            break
        judged += len(chunk)
    return {"logged": len(lines), "evaluated": evals, "best_distance": best,
            "best_genome": json.loads(best_line["individual"]) if best_line else None,
            "solved": solved is not None, "how": how if solved else None,
            "candidates_to_solution": solved[0] + 1 if solved else None,
            "solution": solved[1].to_dict() if solved else None, "judged": judged}


def summarize(results: list[dict[str, Any]], settings: dict[str, Any]) -> dict[str, Any]:
    """The table row of a campaign: solution rate, median candidates to solution, best distance."""
    solved = [r for r in results if r["solved"]]
    best = [r["best_distance"] for r in results]
    to_sol = [r["candidates_to_solution"] for r in solved]
    return {"target": settings["target"]["label"], "algorithm": settings["algorithm"],
            "budget": settings["budget"], "seeds": len(results), "solved": len(solved),
            "solution_rate": len(solved) / len(results) if results else 0.0,
            "symbolic": sum(r["how"] == "symbolic" for r in solved),
            "behavioural": sum(r["how"] == "behavioural" for r in solved),
            "median_candidates_to_solution": statistics.median(to_sol) if to_sol else None,
            "best_distance": min(best) if best else None,
            "median_best_distance": statistics.median(best) if best else None,
            "median_logged": statistics.median(r["logged"] for r in results) if results else None,
            "cpu_seconds": sum(r.get("cpu_seconds", 0.0) for r in results)}


def format_summary(s: dict[str, Any]) -> str:
    med = "-" if s["median_candidates_to_solution"] is None else f"{s['median_candidates_to_solution']:g}"
    return (f"{s['target']} by {s['algorithm']}, budget {s['budget']}: solved {s['solved']}/{s['seeds']} "
            f"({s['symbolic']} symbolic, {s['behavioural']} behavioural); median candidates to solution {med}; "
            f"best distance {s['best_distance']:.3g} (median over seeds {s['median_best_distance']:.3g})")


def _summary_md(s: dict[str, Any], results: list[dict[str, Any]]) -> str:
    rows = ["| seed | solved | how | candidates to solution | best distance | logged | evaluated |",
            "|---|---|---|---|---|---|---|"]
    for r in results:
        rows.append(f"| {r['seed']} | {'yes' if r['solved'] else 'no'} | {r['how'] or '-'} | "
                    f"{r['candidates_to_solution'] or '-'} | {r['best_distance']:.3g} | {r['logged']} | {r['evaluated']} |")
    return f"# Rediscovery: {format_summary(s)}\n\n" + "\n".join(rows) + "\n"


def run_campaign(target: Target, algorithm: str, budget: int, seeds: int, out: str | Path,
                 shape: Shape = Shape(), say: Callable[[str], None] | None = None,
                 stop_when_solved: bool = False, restart_every: int | None = None) -> dict[str, Any]:
    """Run (or resume) the campaign into ``out``; returns the summary (see :func:`summarize`).
    ``stop_when_solved``: a seed's search ends at its first solution (see the module docstring);
    ``restart_every`` (regularized evolution): cycles between restarts from fresh random populations."""
    from gp_opt.rundir.files import atomic_write_json, atomic_write_text
    from gp_opt.rundir.lock import lock_run

    settings = check(target, algorithm, budget, seeds, out, shape, stop_when_solved, restart_every)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with lock_run(out):
        settings = check(target, algorithm, budget, seeds, out, shape, stop_when_solved, restart_every)   # again, under the lock
        if not (out / CONFIG_FILE).exists():
            atomic_write_json(out / CONFIG_FILE, settings)
        (out / "results").mkdir(exist_ok=True)
        results = []
        for seed in range(seeds):
            res_file = out / "results" / f"seed-{seed}.json"
            if res_file.exists():
                results.append(_read_json(res_file))
                continue
            t0 = time.process_time()
            _search(target, settings, seed, out / f"seed-{seed}")
            res = {"seed": seed, **analyse(out / f"seed-{seed}", target),
                   "cpu_seconds": time.process_time() - t0}
            atomic_write_json(res_file, res)
            results.append(res)
            if say:
                med = res["candidates_to_solution"]
                say(f"seed {seed}: {'solved (' + res['how'] + ') at candidate ' + str(med) if res['solved'] else 'not solved'}"
                    f"; best distance {res['best_distance']:.3g}; {res['logged']} candidates, "
                    f"{res['cpu_seconds']:.0f} CPU s")
            summary = summarize(results, settings)
            atomic_write_json(out / "summary.json", {"summary": summary, "seeds": results})
            atomic_write_text(out / "summary.md", _summary_md(summary, results))
        summary = summarize(results, settings)
        atomic_write_json(out / "summary.json", {"summary": summary, "seeds": results})
        atomic_write_text(out / "summary.md", _summary_md(summary, results))
    return summary
