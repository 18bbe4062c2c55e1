"""Held-out seeds after the elimination funnel: ``gp-opt eliminate RUN_DIR --holdout N``.

The funnel keeps the best of many entries on the same seeds, so its last-round scores are biased
upward (the winner's curse). The hold-out stage trains every entry of the last round that finished
(candidates and baselines) again on ``N`` seeds the funnel never used, at the last round's cost
and each at the learning rate its first seed chose there, and compares each entry with every
baseline on those seeds: Welch's t-test, and the paired t-test, since all entries share the
seeds (seeds set the initial weights, batches, augmentation, dropout masks and, on digits, the
split). Accuracy and loss are both tested.

Files in ``RUN_DIR/elimination/`` (the funnel's guarantees): ``holdout.jsonl`` (append-only, one
line per entry and seed; a killed stage run again skips what is there), ``holdout.json`` (the
summary, written atomically) and ``holdout.md`` (the table).

>>> from gp_opt.eliminate import EliminationSettings
>>> holdout_seeds(EliminationSettings(seeds=5), 3)
[5, 6, 7]
"""
from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any, Callable

from .candidates import Entry, genome_file
from .settings import RECORDS_FILE, SUMMARY_FILE, EliminationError, EliminationSettings
from .store import RecordStore, record_line
from .training import Evaluator, surrogate_evaluator

__all__ = ["holdout", "holdout_seeds", "format_holdout", "HOLDOUT_RECORDS", "HOLDOUT_SUMMARY", "HOLDOUT_TABLE"]

HOLDOUT_RECORDS = "holdout.jsonl"
HOLDOUT_SUMMARY = "holdout.json"
HOLDOUT_TABLE = "holdout.md"


def holdout_seeds(settings: EliminationSettings, n: int) -> list[int]:
    """The ``n`` seeds after the funnel's: the funnel uses ``0 .. seeds-1``."""
    return list(range(int(settings.seeds), int(settings.seeds) + int(n)))


def _entries(funnel: RecordStore, summary: dict[str, Any]) -> list[tuple[Entry, float]]:
    """The last round's finished entries with the rate their first seed chose there (from the
    funnel's records, checked line by line)."""
    from gp_opt import catalog

    folder = funnel.folder
    j = len(summary["rounds"]) - 1
    last = summary["rounds"][j]
    first_seed = last["seeds"][0]
    rates = {}
    for line in funnel.read():
        if line["round"] == j and line["seed"] == first_seed and line["status"] == "ok":
            rates[line.get("key") or line["name"]] = line["best_lr"]
    out = []
    for e in last["entries"]:
        ident = e.get("key") or e["name"]
        if e["status"] != "ok" or rates.get(ident) is None:
            continue
        if e["kind"] == "candidate":
            optimizer = catalog.load_file(folder / genome_file(e["name"]))
        else:
            optimizer = e["name"]
        out.append((Entry(e["name"], e["kind"], optimizer, e.get("key")), float(rates[ident])))
    return out


def holdout(run_dir: str | os.PathLike, settings: EliminationSettings, n_seeds: int, *,
            evaluator: Evaluator | None = None, verbose: bool = True, executor: Any = None,
            after_batch: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Run (or resume) the hold-out stage of a finished funnel; returns the summary (also in
    ``holdout.json``). ``evaluator``/``executor``/``after_batch`` as in :func:`gp_opt.eliminate.eliminate`."""
    from gp_opt.rundir import RunDir

    if int(n_seeds) < 2:
        raise EliminationError(f"--holdout {n_seeds}: at least 2 seeds are needed to compare")
    evaluate = evaluator or surrogate_evaluator(settings.batched, executor)
    say = (lambda s: print(s, flush=True)) if verbose else (lambda s: None)
    rundir = RunDir.open(run_dir, lock=True)
    store = funnel = None
    try:
        folder = Path(run_dir) / settings.folder
        path = folder / SUMMARY_FILE
        try:
            summary = json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise EliminationError(f"{path} is damaged ({exc}); run gp-opt eliminate again to rewrite it") from None
        if not isinstance(summary, dict) or not summary.get("complete") or not (folder / RECORDS_FILE).exists():
            raise EliminationError(f"{run_dir}: the elimination has not finished; run gp-opt eliminate first")
        if summary.get("settings") != settings.identity():
            raise EliminationError(f"{path}: the funnel there ran with other settings "
                                   f"({json.dumps(summary.get('settings'))}); use the same options")
        funnel = RecordStore(run_dir, rundir.run_id, folder=settings.folder)
        entries = _entries(funnel, summary)
        if not entries:
            raise EliminationError(f"{path}: no entry of the last round finished; nothing to hold out")
        last = summary["rounds"][-1]
        base = last["base"]
        seeds = holdout_seeds(settings, n_seeds)
        run_options = ((rundir.config.get("toolbox") or {}).get("task_options") or {})
        store = RecordStore(run_dir, rundir.run_id, HOLDOUT_RECORDS, folder=settings.folder)
        done = {(r.get("key") or r["name"], r["seed"]): r for r in store.read()}
        n_written = store.n_lines
        say(f"hold-out: {len(entries)} entries of {last['name']}, base {base}, fresh seeds {seeds[0]}-{seeds[-1]}")
        t_start = time.perf_counter()
        for seed in seeds:
            by_lr: dict[float, list[Entry]] = {}
            for e, lr in entries:
                if (e.ident, seed) not in done:
                    by_lr.setdefault(lr, []).append(e)
            for lr, group in by_lr.items():
                cfg = settings.round_config(base, seed, run_options).replace(fixed_lr=lr)
                out = evaluate([e.optimizer for e in group], cfg)
                recs = [record_line(len(summary["rounds"]), e, seed, r, base) for e, r in zip(group, out)]
                store.append(recs)
                for e, r in zip(group, recs):
                    done[(e.ident, seed)] = r
                n_written = store.n_lines
                say(f"  hold-out seed {seed}: {len(recs)} done ({n_written} records, "
                    f"{time.perf_counter() - t_start:.0f} s)")
                if after_batch is not None:
                    after_batch(n_written)
        result = _summarize([(e, lr, [done[(e.ident, s)] for s in seeds]) for e, lr in entries], seeds, base,
                            last, settings, n_seeds)
        store.write_json(HOLDOUT_SUMMARY, result)
        store.write_text(HOLDOUT_TABLE, format_holdout(result) + "\n")
        say(format_holdout(result))
        return result
    finally:
        for s in (store, funnel):
            if s is not None:
                s.close()
        rundir.close()


def _summarize(rows: list[tuple[Entry, float, list[dict]]], seeds: list[int], base: int, last: dict[str, Any],
               settings: EliminationSettings, n_seeds: int) -> dict[str, Any]:
    from gp_opt.transfer.stats import compare, holm, mean_std, paired_p

    scores = {}
    for e, lr, recs in rows:
        ok = all(r["status"] == "ok" and r["val_acc"] is not None and r["val_loss"] is not None for r in recs)
        acc = [r["val_acc"] for r in recs]
        loss = [r["val_loss"] for r in recs]
        (m, sd), (ml, sdl) = (mean_std(acc), mean_std(loss)) if ok else ((None, None), (None, None))
        scores[e.name] = {"name": e.name, "kind": e.kind, "key": e.key, "lr": lr, "ok": ok,
                          "status": "ok" if ok else next(r["status"] for r in recs if r["status"] != "ok"),
                          "val_acc": acc, "val_loss": loss, "mean": m, "std": sd, "mean_loss": ml, "std_loss": sdl}
    refs = [n for n, s in scores.items() if s["kind"] == "baseline" and s["ok"]]
    for s in scores.values():
        s["versus"] = {}
        if not s["ok"]:
            continue
        for ref in refs:
            if ref == s["name"]:
                continue
            r = scores[ref]
            s["versus"][ref] = {
                "acc": {**compare(s["val_acc"], r["val_acc"]), "p_paired": paired_p(s["val_acc"], r["val_acc"])},
                "loss": {**compare(s["val_loss"], r["val_loss"], higher_is_better=False),
                         "p_paired": paired_p(s["val_loss"], r["val_loss"])}}
    # the finalists are tested together against each baseline: Holm's adjustment over them, so that
    # "beats Adam" on the held-out seeds is not the luck of having tried several finalists
    family = [s for s in scores.values() if s["kind"] == "candidate"]
    for ref in refs:
        for m in ("acc", "loss"):
            tested = [s for s in family if ref in s["versus"]]
            for s, adjusted in zip(tested, holm([s["versus"][ref][m]["p_paired"] for s in tested])):
                s["versus"][ref][m]["p_paired_holm"] = adjusted
    order = sorted(scores.values(), key=lambda s: (not s["ok"], -(s["mean"] or 0.0), s["mean_loss"] or math.inf))
    return {"seeds": seeds, "base": base, "steps": last["steps"], "dataset": last.get("dataset"),
            "from_round": last["name"], "settings": {**settings.identity(), "holdout": int(n_seeds)},
            "test": "Welch's t-test and the paired t-test (two-sided) on per-seed validation accuracy and loss; "
                    "p_paired_holm: the paired p adjusted by Holm's method over the candidates tested against "
                    "the same baseline",
            "entries": order}


def format_holdout(result: dict[str, Any]) -> str:
    """The hold-out table: mean ± std per entry, then each entry against each baseline."""
    seeds = result["seeds"]
    out = [f"### hold-out: fresh seeds {seeds[0]}-{seeds[-1]} ({len(seeds)}), base {result['base']}, "
           f"{result['steps']} steps, each entry at the rate it chose in {result['from_round']}", "",
           "| optimizer | kind | lr | val. accuracy (mean ± std) | val. loss (mean ± std) |",
           "|---|---|---|---|---|"]
    for s in result["entries"]:
        acc = f"{s['mean']:.4f} ± {s['std']:.4f}" if s["ok"] else s["status"]
        loss = f"{s['mean_loss']:.4f} ± {s['std_loss']:.4f}" if s["ok"] else "–"
        out.append(f"| {s['name']} | {s['kind']} | {s['lr']:g} | {acc} | {loss} |")
    refs = sorted({r for s in result["entries"] for r in s["versus"]})
    if refs:
        n_family = sum(1 for s in result["entries"] if s["kind"] == "candidate" and s["versus"])
        out += ["", "Against each baseline: difference of means, then (Welch p, paired p; paired p adjusted by "
                f"Holm's method over the {n_family} candidates, for candidates); the verdict is Welch's at 0.05.", "",
                "| optimizer | " + " | ".join(f"acc. vs {r} | loss vs {r}" for r in refs) + " |",
                "|---|" + "---|" * (2 * len(refs))]
        for s in result["entries"]:
            if not s["versus"]:
                continue
            cells = []
            for r in refs:
                v = s["versus"].get(r)
                for m in ("acc", "loss"):
                    holm_p = "" if v is None or "p_paired_holm" not in v[m] else f"; {v[m]['p_paired_holm']:.3f}"
                    cells.append("–" if v is None else
                                 f"{v[m]['diff']:+.4f} ({v[m]['p']:.3f}, {v[m]['p_paired']:.3f}{holm_p}) {v[m]['verdict']}")
            out.append(f"| {s['name']} | " + " | ".join(cells) + " |")
    return "\n".join(out)
