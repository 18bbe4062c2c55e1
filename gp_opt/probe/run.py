"""``gp-opt probe-fitness``: evaluate a reference panel on several seeds and measure how well the
task's fitness tells optimizers apart, per CPU-second (docs/surrogate.md, "Choosing the search
fitness").

The probe directory holds ``probe.json`` (the settings, with the random genomes' JSON, written
atomically once) and ``evaluations.jsonl`` (append-only: one line per panel entry and seed, flushed
and synced as each evaluation finishes). The same command on the same directory resumes: finished
evaluations are read back, not redone; other settings are refused. Evaluations go seed by seed
(the whole panel on seed 0, then seed 1, ...), so an interrupted probe leaves complete blocks.
Nothing is written until one panel entry has scored ok: a panel that all fails leaves no folder.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from gp_opt.errors import GpOptError
from gp_opt.probe.panel import DEFAULT_PANEL, check_names, panel_candidate, random_genomes
from gp_opt.probe.stats import discriminability, p_pair, paired_against

__all__ = ["ProbeSettings", "ProbeResult", "run_probe", "summarize", "format_tables", "PanelFailed"]

SETTINGS_FILE = "probe.json"
LOG_FILE = "evaluations.jsonl"


class PanelFailed(GpOptError):
    """No panel entry scored ok: the task cannot be probed with these settings."""


@dataclass
class ProbeSettings:
    task: str
    options: dict[str, Any] = field(default_factory=dict)
    panel: tuple[str, ...] = DEFAULT_PANEL
    random: int = 3
    random_seed: int = 0
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)

    def __post_init__(self) -> None:
        if len(self.seeds) < 2:
            raise GpOptError(f"the probe needs at least 2 seeds, got {len(self.seeds)}")
        if len(set(self.seeds)) != len(self.seeds):
            raise GpOptError("the probe's seeds must differ")
        if self.random < 0:
            raise GpOptError(f"--random must be >= 0, got {self.random}")
        if not self.panel and not self.random:
            raise GpOptError("the panel is empty: name optimizers or ask for random genomes")
        check_names(list(self.panel))


@dataclass
class ProbeResult:
    rows: list[dict[str, Any]]  # one per evaluation: name, seed, status, fitness, ...
    settings: dict[str, Any]


def _panel_kind(evaluator: Any) -> str:
    """How the evaluator takes a named optimizer: ``surrogate`` (names), ``multi`` (resolved per
    task) or ``task`` (factories); a ``--fitness-seeds`` wrapper takes what its task takes."""
    from gp_opt.multitask import MultiTaskFitness
    from gp_opt.seeded import SeededFitness

    while isinstance(evaluator, SeededFitness):
        evaluator = evaluator.task
    if isinstance(evaluator, MultiTaskFitness):
        return "multi"
    return "surrogate" if hasattr(evaluator, "for_initial_population") else "task"


def _metrics(rec: Any) -> dict[str, float]:
    """The numbers a record offers for the tables: the fitness, and the surrogate's other metric."""
    out: dict[str, float] = {}
    if rec.ok and math.isfinite(rec.fitness):
        out["fitness"] = float(rec.fitness)
    acc, loss = rec.extra.get("best_val_acc"), rec.extra.get("val_loss")
    if rec.ok and isinstance(acc, (int, float)) and math.isfinite(acc):
        out["val_acc"] = float(acc)
    if rec.ok and isinstance(loss, (int, float)) and math.isfinite(loss):
        out["-val_loss"] = -float(loss)
    return out


def _check_row(row: dict[str, Any], where: str) -> None:
    if "name" not in row or not isinstance(row.get("seed"), int):
        raise GpOptError(f"{where} is not a probe evaluation (name, seed)")


def _open_log(out: Path) -> tuple[Any, list[dict[str, Any]]]:
    """``evaluations.jsonl``: the project's checked append-only log (gp_opt.rundir.jsonlog): an
    edited line is refused naming it; a cut last line (a kill mid-write) is moved to
    ``evaluations.jsonl.damaged`` and its evaluation runs again, said on stderr. Under the lock."""
    from gp_opt.rundir import JsonLog
    from gp_opt.rundir.jsonlog import print_notes

    log = JsonLog(out / LOG_FILE, "gp_opt.probe:" + LOG_FILE, root=out, check=_check_row, legacy=True)
    rows = log.read()
    print_notes(log.notes)
    return log, rows


def _settings_doc(settings: ProbeSettings, genomes: list[Any]) -> dict[str, Any]:
    return {"task": settings.task, "options": settings.options, "panel": list(settings.panel),
            "random": settings.random, "random_seed": settings.random_seed, "seeds": list(settings.seeds),
            "random_genomes": [json.loads(g.to_json()) for g in genomes]}


def run_probe(settings: ProbeSettings, out_dir: str | os.PathLike,
              say: Callable[[str], None] | None = None) -> ProbeResult:
    """Evaluate the panel on every seed (resuming ``out_dir``) and return every evaluation."""
    from gp_opt.rundir.files import atomic_write_json
    from gp_opt.rundir.lock import lock_run
    from gp_opt.tasks import get_task

    out = Path(out_dir)
    evaluator = get_task(settings.task, **settings.options)  # bad task/options: one line, before anything
    kind = _panel_kind(evaluator)
    genomes = random_genomes(settings.random, settings.random_seed)
    doc = _settings_doc(settings, genomes)
    done: list[dict[str, Any]] = []
    lock_ctx = log = None
    if (out / SETTINGS_FILE).exists():
        old = json.loads((out / SETTINGS_FILE).read_text(encoding="utf-8"))
        if {k: v for k, v in old.items() if k != "random_genomes"} != \
                {k: v for k, v in json.loads(json.dumps(doc)).items() if k != "random_genomes"}:
            raise GpOptError(f"{out} holds a probe with other settings ({out / SETTINGS_FILE}); "
                             "use another --out or the same options")
        from gp_opt.genome import OptimizerGenome
        genomes = [OptimizerGenome.from_json(json.dumps(g)) for g in old["random_genomes"]]
    elif out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise GpOptError(f"--out {out}: exists and is not a probe directory (no {SETTINGS_FILE}); use a new folder")
    entries: list[tuple[str, Any]] = [(n, panel_candidate(n, kind)) for n in settings.panel]
    entries += [(f"random{i + 1}", g) for i, g in enumerate(genomes)]
    pending: list[dict[str, Any]] = []  # evaluations held back until one is ok (nothing written before)
    started = (out / SETTINGS_FILE).exists()
    first_in_process = True
    try:
        if started:
            lock_ctx = lock_run(out)  # before the log is read: a cut last line is moved aside
            lock_ctx.__enter__()
            log, done = _open_log(out)
        have = {(r["name"], int(r["seed"])) for r in done}
        rows = list(done)
        for seed in settings.seeds:
            for name, cand in entries:
                if (name, seed) in have:
                    continue
                wall0, cpu0 = time.perf_counter(), time.process_time()
                # with --fitness-seeds K, probe seed j scores seeds jK .. jK+K-1: no two probe seeds
                # share a training seed, so the seed halves stay independent
                rec = evaluator(cand, seed=seed * getattr(evaluator, "fitness_seeds", 1))
                cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
                row = {"name": name, "seed": seed, "status": rec.status, "reason": rec.reason,
                       "best_lr": rec.best_lr, "cpu_seconds": cpu, "wall_seconds": wall, **_metrics(rec)}
                if first_in_process:
                    row["first_in_process"], first_in_process = True, False
                rows.append(row)
                if say:
                    shown = f"{row['fitness']:.4f}" if "fitness" in row else rec.status
                    say(f"seed {seed} {name}: {shown} ({cpu:.2f} CPU s)")
                if not started:
                    pending.append(row)
                    if rec.status != "ok":
                        continue
                    out.mkdir(parents=True, exist_ok=True)
                    lock_ctx = lock_run(out)
                    lock_ctx.__enter__()
                    atomic_write_json(out / SETTINGS_FILE, doc)
                    started = True
                    log = _open_log(out)[0]
                    log.append_many(pending)
                    pending = []
                else:
                    log.append(row)
            if not started:
                raise PanelFailed(f"every panel entry failed on seed {seed} with task {settings.task!r} "
                                  f"({rows[0]['name']}: {rows[0]['reason']}); nothing written")
    finally:
        if log is not None:
            log.close()
        if lock_ctx is not None:
            lock_ctx.__exit__(None, None, None)
    return ProbeResult(rows=rows, settings=doc)


# ---------------------------------------------------------------------------------------------
# the tables


def _table(rows: list[dict[str, Any]], metric: str, seeds: list[int]) -> tuple[list[str], list[list[float]], list[str]]:
    """(names, scores[name][seed], notes): the entries with ``metric`` on every seed."""
    by: dict[str, dict[int, float]] = {}
    order: list[str] = []
    for r in rows:
        if r["name"] not in by:
            by[r["name"]] = {}
            order.append(r["name"])
        if metric in r:
            by[r["name"]][int(r["seed"])] = float(r[metric])
    names, table, notes = [], [], []
    for n in order:
        missing = [s for s in seeds if s not in by[n]]
        if missing:
            notes.append(f"{n} left out (not ok on seed{'s' if len(missing) > 1 else ''} "
                         f"{', '.join(map(str, missing))})")
            continue
        names.append(n)
        table.append([by[n][s] for s in seeds])
    return names, table, notes


def _cpu(rows: list[dict[str, Any]]) -> float:
    """Mean CPU seconds per evaluation, leaving out each process's first evaluation (it pays for
    imports and warm-up) when there are others."""
    warm = [r for r in rows if not r.get("first_in_process")] or rows
    return sum(r["cpu_seconds"] for r in warm) / len(warm)


def summarize(result: ProbeResult, mean_of: tuple[int, ...] = (3,)) -> dict[str, Any]:
    """Every table's statistics. The main lines use the named panel (random genomes are mostly far
    worse than any named optimizer, so with them any fitness looks discriminating; the question is
    whether it resolves good optimizers): the fitness, the fitness paired against Adam on the same
    seed (when Adam is in the panel), the mean over k seeds predicted from the blocked ratio (noise
    variance / k at k times the cost; tau is not predicted) and the record's other metrics; one
    last line has the whole panel, random genomes included."""
    seeds = [int(s) for s in result.settings["seeds"]]
    named = set(result.settings["panel"])
    rows = [r for r in result.rows if int(r["seed"]) in seeds]
    lines: list[dict[str, Any]] = []
    notes: list[str] = []
    fitness_names: list[str] = []
    for metric in ("fitness", "val_acc", "-val_loss", "fitness, whole panel"):
        whole = metric.endswith("whole panel")
        key = "fitness" if whole else metric
        names, table, why = _table(rows if whole else [r for r in rows if r["name"] in named], key, seeds)
        if metric == "fitness":
            notes += why
            fitness_names = names
        if whole:
            notes += [w for w in why if w not in notes]
        if len(names) < 2 or (whole and len(names) == len(fitness_names)):
            continue
        cpu = _cpu([r for r in rows if r["name"] in names])
        stats = discriminability(table)
        lines.append({"metric": metric, "cpu_seconds": cpu, **stats.to_dict(),
                      "ratio_per_cpu_second": stats.blocked_ratio / cpu if cpu > 0 else math.nan,
                      "means": {n: sum(t) / len(t) for n, t in zip(names, table)}})
        if metric == "fitness":
            if "Adam" in names and len(names) >= 3:
                paired = paired_against(table, names.index("Adam"))
                ps = discriminability(paired)
                # a paired score costs the candidate's run plus Adam's on that seed, which a search
                # trains once per seed and caches: the candidate's cost is the run's
                # the differences already cancel the seed's shared effect: their one-way ratio is
                # the one a search comparing paired scores across seeds sees
                lines.append({"metric": "fitness - Adam (same seed)", "cpu_seconds": cpu,
                              **dict(ps.to_dict(), p_pair=p_pair(ps.one_way_ratio)),
                              "ratio_per_cpu_second": ps.one_way_ratio / cpu if cpu > 0 else math.nan,
                              "paired": True})
            for k in mean_of:
                r = stats.blocked_ratio * k
                lines.append({"metric": f"fitness, mean of {k} seeds (predicted)", "k": stats.k, "n": stats.n,
                              "cpu_seconds": cpu * k, "blocked_ratio": r, "p_pair": p_pair(r),
                              "ratio_per_cpu_second": r / (cpu * k) if cpu > 0 else math.nan, "predicted": True})
    if len(fitness_names) < 2:
        raise PanelFailed(f"fewer than 2 named panel entries scored ok on every seed "
                          f"({'; '.join(notes) or 'none scored'}): nothing to compare")
    return {"task": result.settings["task"], "options": result.settings["options"], "seeds": seeds,
            "lines": lines, "notes": notes}


def _num(v: Any, fmt: str = ".2f") -> str:
    if v is None or (isinstance(v, str)) or (isinstance(v, float) and not math.isfinite(v)):
        return "—" if v is None else str(v)
    return format(v, fmt)


def format_tables(summary: dict[str, Any]) -> str:
    """The summary as Markdown: the statistics table, then each metric's means per entry."""
    opts = ", ".join(f"{k}={v}" for k, v in summary["options"].items())
    out = [f"task {summary['task']}{' (' + opts + ')' if opts else ''}, seeds "
           f"{', '.join(map(str, summary['seeds']))}", "",
           "| fitness | k | one-way ratio (F, p) | seed-blocked ratio (F, p) | Kendall tau halves (p) "
           "| CPU s/eval | blocked ratio per CPU-s | P(pair) |",
           "|---|---|---|---|---|---|---|---|"]
    for ln in summary["lines"]:
        if ln.get("predicted"):
            one = "—"
            blocked = _num(ln["blocked_ratio"])
            tau = "—"
        else:
            one = f"{_num(ln['one_way_ratio'])} ({_num(ln['one_way_f'], '.1f')}, {_num(ln['one_way_p'], '.2g')})"
            blocked = f"{_num(ln['blocked_ratio'])} ({_num(ln['blocked_f'], '.1f')}, {_num(ln['blocked_p'], '.2g')})"
            tau = f"{_num(ln['tau'])} ({_num(ln['tau_p'], '.2g')})"
        if ln.get("paired"):
            blocked = "— (paired: see one-way)"
        out.append(f"| {ln['metric']} | {ln['k']} | {one} | {blocked} | {tau} | {_num(ln['cpu_seconds'])} "
                   f"| {_num(ln['ratio_per_cpu_second'], '.3g')} | {_num(ln['p_pair'])} |")
    for ln in summary["lines"]:
        if "means" in ln:
            ranked = sorted(ln["means"].items(), key=lambda kv: -kv[1])
            out.append("")
            out.append(f"{ln['metric']} means (best first): " + ", ".join(f"{n} {v:.4f}" for n, v in ranked))
    for note in summary["notes"]:
        out.append(f"note: {note}")
    return "\n".join(out)
