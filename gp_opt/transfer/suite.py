"""Run optimizers over transfer tasks with one learning-rate grid and budget for all, pick each
optimizer's best rate on validation, compare with the reference (Adam) on test, and save tables.

Selection rule: for each learning rate of the grid, the mean over seeds of the validation metric;
a rate counts only if every seed finished (no NaN/inf); the best rate is the one with the best
mean (in the metric's direction). The table reports the **test** metric at that rate: mean ± sample
std over seeds. An optimizer with no rate where every seed finished is a *failed* entry.

>>> from gp_opt.transfer.registry import get_task
>>> res = run_transfer(["Adam", "SGD"], [get_task("wine", steps=30)], seeds=2, lrs=[0.1, 0.01], progress=None)
>>> [(e["optimizer"], e["status"]) for e in res["entries"]]
[('Adam', 'ok'), ('SGD', 'ok')]
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import torch

from gp_opt.errors import GpOptError
from gp_opt.sensitivity import CURVE_FIELD, DEFAULT_TOLERANCE, lr_range
from gp_opt.transfer import jobs, stats
from gp_opt.transfer.ensemble import train_members
from gp_opt.transfer.jobs import OptimizerSpec, TransferJob
from gp_opt.transfer.task import Task

__all__ = ["resolve_optimizer", "run_transfer", "summarise", "write_outputs", "markdown", "BASELINE_NAMES",
           "REFERENCE", "FILES"]

REFERENCE = "Adam"
#: the files written into the output directory
FILES = {"results": "results.json", "json": "transfer.json", "markdown": "transfer.md", "csv": "transfer.csv",
         "runs": "runs.csv"}  # and progress.jsonl, written as entries finish (see _Progress)


def _baselines() -> dict[str, tuple[type, dict[str, Any]]]:
    """The stock torch optimizers (the surrogate's baselines) as (class, keyword arguments)."""
    return jobs.baselines()


BASELINE_NAMES = ("Adam", "AdamW", "SGD", "Momentum", "Nesterov", "RMSprop")


def optimizer_identity(spec: Any, grammar: Any = None) -> str:
    """What makes two optimizers the same for reusing saved runs: the baseline, or the genome's JSON."""
    if isinstance(spec, str) and spec.lower() in _baselines():
        cls, kw = _baselines()[spec.lower()]
        return f"torch:{cls.__name__}:{sorted(kw.items())}"
    if isinstance(spec, str):
        from gp_opt import catalog

        return "genome:" + catalog.load(spec, grammar).to_json()
    if hasattr(spec, "to_json"):
        return "genome:" + spec.to_json()
    return f"object:{id(spec)}"  # a factory object: never matches a saved run of another process


def resolve_optimizer(spec: Any, grammar: Any = None) -> tuple[str, OptimizerSpec]:
    """``(label, make_stepper)`` for a torch baseline name (case-insensitive: adam, adamw, sgd,
    momentum, nesterov, rmsprop -- these win over the catalog's genomes of the same name), a
    catalog name (``Opt6``), a genome JSON file, a genome object, or a surrogate-style factory.
    ``make_stepper()`` builds the Stepper; it is an :class:`~gp_opt.transfer.jobs.OptimizerSpec`,
    plain data that an executor can send to a worker (a factory only if pickle can carry it)."""
    if isinstance(spec, str):
        if spec.lower() in _baselines():
            label = next(n for n in BASELINE_NAMES if n.lower() == spec.lower())
            return label, OptimizerSpec.baseline(spec, label)
        from gp_opt import catalog

        try:
            genome = catalog.load(spec, grammar)
        except (GpOptError, OSError) as exc:
            raise GpOptError(f"unknown optimizer {spec!r}: not a baseline ({', '.join(BASELINE_NAMES)}), "
                             f"a catalog name or a readable genome file ({exc})") from None
        label = Path(spec).stem if spec.endswith(".json") else spec
        return label, OptimizerSpec("genome", genome, label)
    if hasattr(spec, "to_json"):
        label = (spec.meta.get("name") if isinstance(getattr(spec, "meta", None), dict) else None) or "genome"
        return label, OptimizerSpec("genome", spec, label)
    if callable(spec):
        label = getattr(spec, "label", getattr(spec, "__name__", "optimizer"))
        return label, OptimizerSpec("factory", spec, label)
    raise GpOptError(f"an optimizer is a name, a genome file, a genome or a factory, got {type(spec).__name__}")


def _fmt_lr(lr: float) -> str:
    return f"{lr:g}"


def summarise(task: Task, label: str, runs: list[dict[str, Any]], lrs: Sequence[float]) -> dict[str, Any]:
    """One table entry: the best lr (validation mean over seeds, every seed finished) and the test
    scores there; ``status`` ``failed`` when no lr qualifies."""
    metric, sign = task.metric, task.sign()
    per_lr = []
    for lr in lrs:
        rs = [r for r in runs if r["lr"] == float(lr)]
        ok = bool(rs) and all(r["status"] == "ok" for r in rs)
        val = stats.mean_std([r["val"][metric] for r in rs])[0] if ok else math.nan
        per_lr.append({"lr": float(lr), "ok": ok, "val_mean": val, "failed_runs": sum(r["status"] != "ok" for r in rs)})
    entry: dict[str, Any] = {"task": task.name, "metric": metric, "higher_is_better": task.higher_is_better,
                             "optimizer": label, "per_lr": per_lr,
                             "failed_runs": sum(r["status"] != "ok" for r in runs), "runs": len(runs)}
    # how forgiving the rate is (issue 23): the stretch of the grid within the stated tolerance of
    # the best validation mean (gp_opt.sensitivity); None when no rate finished on every seed
    found = lr_range([(p["lr"], p["val_mean"] if p["ok"] else None) for p in per_lr], task.higher_is_better)
    entry["lr_range"] = found.to_dict() if found is not None else None
    good = [p for p in per_lr if p["ok"]]
    if not good:
        reasons = sorted({r.get("reason") or "failed" for r in runs if r["status"] != "ok"})
        entry.update(status="failed", reason="no learning rate where every seed finished: " + "; ".join(reasons[:3]),
                     best_lr=None, mean=math.nan, std=math.nan, test=[], val_mean=math.nan, edge=False)
        return entry
    best = max(good, key=lambda p: sign * p["val_mean"])
    scores = [r["test"][metric] for r in runs if r["lr"] == best["lr"]]
    mean, std = stats.mean_std(scores)
    grid = sorted(float(x) for x in lrs)
    entry.update(status="ok", reason=None, best_lr=best["lr"], val_mean=best["val_mean"], test=scores,
                 mean=mean, std=std, n=len(scores),
                 edge=len(grid) > 1 and best["lr"] in (grid[0], grid[-1]),
                 extra={k: stats.mean_std([r["test"][k] for r in runs if r["lr"] == best["lr"]])[0]
                        for k in runs[0]["test"] if k != metric})
    return entry


def resolve_all(optimizers: Sequence[Any], reference: str = REFERENCE, grammar: Any = None):
    """Every optimizer resolved and labelled (the reference first when it is not listed; two genome
    files of the same name are labelled by their paths): ``(resolved, labels, specs, ref_label)``.
    Raises GpOptError for an unknown name or a label given twice."""
    resolved = [resolve_optimizer(o, grammar) for o in optimizers]  # every name checked before training
    labels, specs = [lab for lab, _ in resolved], list(optimizers)
    ref_label = resolve_optimizer(reference, grammar)[0]
    if ref_label not in labels:
        resolved.insert(0, resolve_optimizer(reference, grammar))
        labels.insert(0, ref_label)
        specs.insert(0, reference)
    twice = {lab for lab in labels if labels.count(lab) > 1}
    for i, spec in enumerate(specs):  # two runs' best.json: name them by their paths as given
        if labels[i] in twice and isinstance(spec, str) and spec.endswith(".json"):
            labels[i] = spec
            resolved[i] = (spec, resolved[i][1])
    if len(set(labels)) != len(labels):
        raise GpOptError(f"an optimizer is named twice: {', '.join(labels)}")
    return resolved, labels, specs, ref_label


def run_transfer(optimizers: Sequence[Any], tasks: Sequence[Task], *, seeds: int = 5,
                 lrs: Sequence[float] | None = None, reference: str = REFERENCE, batched: bool = True,
                 grammar: Any = None, out_dir: str | Path | None = None,
                 progress: Callable[[str], None] | None = print, executor: Any = None) -> dict[str, Any]:
    """Train every optimizer on every task, ``seeds`` seeds x ``lrs`` (default: the first task's
    grid, the same for every task and optimizer), and return ``{"config", "entries", "runs"}``.
    The reference optimizer is added when missing. With ``out_dir``: each finished (task,
    optimizer) is appended to ``out_dir/progress.jsonl`` and reused by the same call after a kill,
    and the tables are written there at the end.

    ``executor`` (a started :class:`gp_opt.search.executors.Executor`; None: train here, one entry
    after another) gets every entry not saved yet at once, one :class:`~gp_opt.transfer.jobs.TransferJob`
    per (task, optimizer), and hands their records back in submission order: the same table as in
    this process. Only this process writes ``out_dir``. A task or optimizer pickle cannot carry to
    a worker is refused (:class:`~gp_opt.transfer.jobs.ShippingError`) before anything trains."""
    if seeds < 1:
        raise GpOptError(f"--seeds must be >= 1, got {seeds}")
    if not tasks:
        raise GpOptError("no transfer task given")
    grid = [float(x) for x in (lrs if lrs is not None else tasks[0].lrs)]
    if not grid or not all(math.isfinite(x) and x > 0 for x in grid):
        raise GpOptError(f"learning rates must be positive numbers, got {grid}")
    resolved, labels, specs, ref_label = resolve_all(optimizers, reference, grammar)
    config = {"tasks": [{"name": t.name, "description": t.describe(), "metric": t.metric,
                         "higher_is_better": t.higher_is_better, "steps": t.steps, "batch": t.batch,
                         "warmup_steps": t.warmup_steps} for t in tasks],
              "optimizers": labels, "reference": ref_label,
              "seeds": list(range(seeds)), "lrs": grid, "batched": batched, "test": stats.TEST, "alpha": stats.ALPHA,
              "selection": "best mean validation metric over seeds, among lrs where every seed finished",
              "lr_tolerance": DEFAULT_TOLERANCE,
              "torch": torch.__version__, "threads": torch.get_num_threads()}
    if executor is not None and getattr(executor, "name", None) != "inprocess":
        # what pickle cannot carry to a worker is refused before the output folder is touched
        jobs.check_shippable(list({id(t): t for t in tasks}.values()),
                             list({id(m): m for _, m in resolved}.values()))
    # one writer per output folder (and per run directory it lies in): held from the first read of
    # progress.jsonl to the last table, so two identical calls cannot both train and append
    with contextlib.ExitStack() as held:
        if out_dir is not None:
            from gp_opt.rundir import lock_output

            held.enter_context(lock_output(out_dir))
        entries, all_runs = [], []
        t_start = time.perf_counter()
        identities = {label: optimizer_identity(spec, grammar) for label, spec in zip(labels, specs)}
        saved = _Progress(out_dir)
        held.callback(saved.close)
        # every entry in table order, with its saved runs (None: to train)
        plan = [(task, label, make, key, saved.get(key)) for task in tasks for label, make in resolved
                for key in [saved.key(task, identities[label], grid, seeds, batched)]]
        trained = _train_pending([(task, make) for task, _, make, _, runs in plan if runs is None],
                                 seeds, grid, batched, executor)
        for task, label, make, key, runs in plan:
            t0 = time.perf_counter()
            if runs is None:
                runs, seconds, keep = next(trained)
                if keep:  # not an entry whose worker was lost on every attempt: the same call retries it
                    saved.add(key, task.name, label, runs)
            else:
                seconds = None
                if progress:
                    progress(f"  {task.name:<16} {label:<14} (reused from {saved.path})")
            for r in runs:
                all_runs.append({"task": task.name, "optimizer": label, **r})
            entry = summarise(task, label, runs, grid)
            # in this process: the entry's wall time; on a worker: its training time there (the wait
            # for a result says nothing about the entry)
            entry["seconds"] = time.perf_counter() - t0 if executor is None or seconds is None else seconds
            entries.append(entry)
            if progress:
                shown = (f"{entry['mean']:.4g} ± {entry['std']:.2g} at lr {_fmt_lr(entry['best_lr'])}"
                         if entry["status"] == "ok" else f"FAILED ({entry['reason']})")
                progress(f"  {task.name:<16} {label:<14} {task.metric} {shown}  [{entry['seconds']:.1f}s]")
        _compare(entries, config["reference"])
        result = {"config": config, "entries": entries, "runs": all_runs,
                  "seconds": time.perf_counter() - t_start}
        if out_dir is not None:
            write_outputs(result, out_dir)
        return result


def _train_pending(pending: list[tuple[Task, OptimizerSpec]], seeds: int, grid: list[float], batched: bool,
                   executor: Any) -> Iterator[tuple[list[dict[str, Any]], float, bool]]:
    """``(runs, seconds, keep)`` of each pending (task, optimizer), in order. Without an executor:
    trained here, lazily (each when the loop asks for it, as before executors). With one: all
    submitted now as jobs (:func:`run_transfer` checked first that they pickle, unless the
    executor runs them in this process). ``keep`` is False for an entry whose worker was lost on every attempt (the
    executor's failed record): its runs are failed, with the executor's reason."""
    if executor is None:
        def here() -> Iterator[tuple[list[dict[str, Any]], float, bool]]:
            for task, make in pending:
                t0 = time.perf_counter()
                runs = train_members(task, make(), seeds=list(range(seeds)), lrs=grid, batched=batched)
                yield runs, time.perf_counter() - t0, True

        return here()
    work = [TransferJob(task, make, seeds=tuple(range(seeds)), lrs=tuple(grid), batched=batched,
                        threads=torch.get_num_threads()) for task, make in pending]

    def lost(reason: str) -> list[dict[str, Any]]:
        return [{"seed": s, "lr": lr, "status": "failed", "reason": reason, "steps": 0, "train_loss": math.nan,
                 "val": {}, "test": {}, "seconds": 0.0} for s in range(seeds) for lr in grid]

    return ((out["runs"], out["seconds"], True) if isinstance(out, dict) else (lost(out.reason), 0.0, False)
            for out in executor.map(jobs.run_job, work))


class _Progress:
    """``OUT_DIR/progress.jsonl``: the runs of each finished (task, optimizer), appended (and
    fdatasync'ed) as they finish, so that the same command after a kill reuses them instead of
    training again. A line is reused only when the task (every field), the optimizer (baseline or
    genome JSON), the grid, the seeds and the path (batched or loop) are the same.

    The log is a :class:`~gp_opt.rundir.jsonlog.JsonLog`: an edited line is refused (naming it), a
    cut last line is moved to ``progress.jsonl.damaged`` and its entry trains again (said on
    stderr). Read and written only under ``OUT_DIR``'s lock (:func:`run_transfer` holds it)."""

    NAME = "progress.jsonl"
    CHAIN = "gp_opt.transfer:" + NAME

    def __init__(self, out_dir: str | Path | None):
        self.path = Path(out_dir) / self.NAME if out_dir is not None else None
        self.saved: dict[str, list[dict[str, Any]]] = {}
        self.log = None
        if self.path is not None:
            from gp_opt.rundir import JsonLog
            from gp_opt.rundir.jsonlog import print_notes

            self.log = JsonLog(self.path, self.CHAIN, root=out_dir, check=_check_progress_line, legacy=True)
            for doc in self.log.read(repair=True):
                self.saved[doc["key"]] = [_restore(r) for r in doc["runs"]]
            print_notes(self.log.notes)

    @staticmethod
    def key(task: Task, identity: str, grid: list[float], seeds: int, batched: bool) -> str:
        import hashlib

        text = json.dumps([repr(task), identity, grid, seeds, batched])
        return hashlib.sha256(text.encode()).hexdigest()

    def get(self, key: str) -> list[dict[str, Any]] | None:
        return self.saved.get(key)

    def add(self, key: str, task: str, label: str, runs: list[dict[str, Any]]) -> None:
        if self.log is None:
            return
        self.log.append({"key": key, "task": task, "optimizer": label, "runs": _jsonable(runs)})

    def close(self) -> None:
        if self.log is not None:
            self.log.close()


def _check_progress_line(doc: dict[str, Any], where: str) -> None:
    """A progress line's fields, once its checksum passed (what the table is built from)."""
    ok = (isinstance(doc.get("key"), str) and isinstance(doc.get("runs"), list)
          and all(isinstance(r, dict) and isinstance(r.get("val", {}), dict) and isinstance(r.get("test", {}), dict)
                  for r in doc["runs"]))
    if not ok:
        raise GpOptError(f"{where}: not a transfer progress line (key, runs); restore the file from a backup")


def _restore(run: dict[str, Any]) -> dict[str, Any]:
    """A saved run with JSON nulls back as NaN."""
    out = dict(run)
    for split in ("val", "test"):
        out[split] = {k: (math.nan if v is None else v) for k, v in run.get(split, {}).items()}
    if out.get("train_loss") is None:
        out["train_loss"] = math.nan
    return out


def _compare(entries: list[dict[str, Any]], reference: str) -> None:
    by_task: dict[str, dict[str, dict]] = {}
    for e in entries:
        by_task.setdefault(e["task"], {})[e["optimizer"]] = e
    for e in entries:
        ref = by_task[e["task"]].get(reference)
        if e["optimizer"] == reference:
            e["vs_reference"] = {"verdict": "ref"}
        elif e["status"] != "ok" or ref is None or ref["status"] != "ok":
            e["vs_reference"] = {"verdict": "n/a", "diff": math.nan, "p": math.nan}
        else:
            e["vs_reference"] = stats.compare(e["test"], ref["test"], e["higher_is_better"])


# ---------------------------------------------------------------------------------------------
# output


def _num(x: Any, spec: str = ".4g") -> str:
    return "" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, spec)


def markdown(result: dict[str, Any]) -> str:
    """The tables as Markdown: one per task, optimizers as rows."""
    cfg = result["config"]
    ref = cfg["reference"]
    tolerance = cfg.get("lr_tolerance", DEFAULT_TOLERANCE)
    lines = ["# Transfer suite", "",
             f"Optimizers: {', '.join(cfg['optimizers'])}. Seeds: {len(cfg['seeds'])}. "
             f"Learning-rate grid (the same for every optimizer and task): {', '.join(_fmt_lr(x) for x in cfg['lrs'])}.",
             "",
             f"Each cell: test metric, mean ± sample std over seeds, at the optimizer's best learning rate, "
             f"chosen by {cfg['selection']}. `*` marks a best lr at the edge of the grid (the grid may be "
             f"too narrow for it). Versus {ref}: {cfg['test']}, alpha {cfg['alpha']}: win / tie / loss. "
             f"lr range: the stretch of the grid around the best lr whose validation mean stays within "
             f"{tolerance:.0%} of the best, and its width in decades (0: only the best rate).", ""]
    for tcfg in cfg["tasks"]:
        rows = [e for e in result["entries"] if e["task"] == tcfg["name"]]
        arrow = "higher" if tcfg["higher_is_better"] else "lower"
        lines += [f"## {tcfg['name']}", "", f"{tcfg['description']}; warm-up {tcfg['warmup_steps']} steps.", "",
                  f"| optimizer | test {tcfg['metric']} ({arrow} is better) | best lr | val {tcfg['metric']} | "
                  f"diff vs {ref} | p | vs {ref} | lr range (decades) | failed runs |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for e in rows:
            v = e.get("vs_reference", {})
            if e["status"] == "ok":
                cell = f"{e['mean']:.4f} ± {e['std']:.4f}"
                lr = _fmt_lr(e["best_lr"]) + ("*" if e["edge"] else "")
            else:
                cell, lr = f"failed: {e['reason']}", ""
            lines.append(f"| {e['optimizer']} | {cell} | {lr} | {_num(e['val_mean'], '.4f')} | "
                         f"{_num(v.get('diff'), '+.4f')} | {_num(v.get('p'), '.3g')} | {v.get('verdict', '')} | "
                         f"{_range_cell(e.get('lr_range'))} | {e['failed_runs']}/{e['runs']} |")
        lines.append("")
    tally: dict[str, dict[str, int]] = {}
    for e in result["entries"]:
        verdict = e.get("vs_reference", {}).get("verdict")
        if verdict in ("win", "tie", "loss", "n/a"):
            tally.setdefault(e["optimizer"], {"win": 0, "tie": 0, "loss": 0, "n/a": 0})[verdict] += 1
    if tally:
        lines += [f"## Summary versus {ref}", "", "| optimizer | wins | ties | losses | n/a |", "|---|---|---|---|---|"]
        for name, c in tally.items():
            lines.append(f"| {name} | {c['win']} | {c['tie']} | {c['loss']} | {c['n/a']} |")
        lines.append("")
    return "\n".join(lines)


CSV_FIELDS = ["task", "metric", "higher_is_better", "optimizer", "status", "best_lr", "edge", "n", "mean", "std",
              "val_mean", "diff_vs_reference", "p", "verdict", "lr_low", "lr_high", "lr_decades", "failed_runs",
              "runs", "seconds", "reason"]


def _range_cell(found: dict[str, Any] | None) -> str:
    if not found:
        return ""
    return f"{_fmt_lr(found['low'])}–{_fmt_lr(found['high'])} ({found['decades']:.2g})"

RUN_FIELDS = ["task", "optimizer", "seed", "lr", "status", "steps", "train_loss", "val", "test", "reason"]


def _csv(result: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, CSV_FIELDS, lineterminator="\n")
    w.writeheader()
    for e in result["entries"]:
        v = e.get("vs_reference", {})
        found = e.get("lr_range") or {}
        w.writerow({**{k: e.get(k) for k in CSV_FIELDS}, "diff_vs_reference": v.get("diff"), "p": v.get("p"),
                    "verdict": v.get("verdict"), "n": e.get("n", 0), "lr_low": found.get("low"),
                    "lr_high": found.get("high"), "lr_decades": found.get("decades")})
    return buf.getvalue()


def _runs_csv(result: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, RUN_FIELDS, lineterminator="\n")
    w.writeheader()
    for r in result["runs"]:
        metric = next(e["metric"] for e in result["entries"] if e["task"] == r["task"])
        w.writerow({**{k: r.get(k) for k in RUN_FIELDS}, "val": r["val"].get(metric), "test": r["test"].get(metric)})
    return buf.getvalue()


def _jsonable(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None  # JSON has no NaN; a missing number is null
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    return x


def report_json(result: dict[str, Any]) -> dict[str, Any]:
    """The summary ``gp-opt report`` reads from ``RUN_DIR/transfer/results.json`` (docs/report.md):
    one row per task and optimizer with per-seed test ``scores`` at the best lr and ``vs_adam``.
    Tasks differ in metric and direction: the top-level ``metric``/``higher_is_better`` describe
    them all only when they agree; each row also carries its own ``metric`` and ``higher_is_better``."""
    cfg = result["config"]
    metrics = {t["name"]: t["metric"] for t in cfg["tasks"]}
    directions = {t["name"]: t["higher_is_better"] for t in cfg["tasks"]}
    same = len(set(metrics.values())) == 1 and len(set(directions.values())) == 1
    metric = ("test " + next(iter(metrics.values()))) if same else \
        "test metric: " + ", ".join(f"{n} {m} ({'higher' if directions[n] else 'lower'} is better)"
                                    for n, m in metrics.items())
    rows = []
    for e in result["entries"]:
        verdict = e.get("vs_reference", {}).get("verdict")
        row = {"optimizer": e["optimizer"], "task": e["task"], "scores": e["test"], "best_lr": e["best_lr"],
               "status": e["status"], "metric": e["metric"], "higher_is_better": e["higher_is_better"],
               # the whole curve (validation mean per lr; null: a seed failed there) and its range
               CURVE_FIELD: [[p["lr"], p["val_mean"] if p["ok"] else None] for p in e.get("per_lr", [])],
               "lr_range": e.get("lr_range")}
        if verdict in ("win", "tie", "loss"):
            row["vs_adam"] = verdict
        if e["status"] != "ok":
            row["reason"] = e["reason"]
        rows.append(row)
    return {"metric": metric, "higher_is_better": all(directions.values()) if same else
            sum(directions.values()) >= len(directions) / 2, "higher_is_better_by_task": directions,
            "reference": cfg["reference"], "test": cfg["test"], "tasks": list(metrics), "results": rows}


def write_outputs(result: dict[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """Write ``results.json`` (the report's summary, :func:`report_json`), ``transfer.json`` (everything), ``transfer.md``, ``transfer.csv`` (one row per task and
    optimizer) and ``runs.csv`` (one row per seed and lr) into ``out_dir``; returns the paths."""
    from gp_opt.rundir import atomic_write_text

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)  # (run_transfer made it, under its lock)
    texts = {"results": json.dumps(_jsonable(report_json(result)), indent=1) + "\n",
             "json": json.dumps(_jsonable(result), indent=1) + "\n", "markdown": markdown(result),
             "csv": _csv(result), "runs": _runs_csv(result)}
    paths = {}
    for key, text in texts.items():
        paths[key] = out / FILES[key]
        atomic_write_text(paths[key], text, root=out)  # never through a link planted in out_dir
    return paths
