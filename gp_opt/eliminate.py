"""The elimination funnel (SPEC section 8): ``gp-opt eliminate RUN_DIR``.

The best unique candidates of a search are trained again in rounds of growing cost, several seeds
each, and the best by mean validation accuracy go on to the next round. The paper's rounds are
top 50 at ConvNet base 64, top 24 at base 96 and top 12 at base 128 (16,000 steps, 3 seeds).
**Baselines** (``Adam, SGD, Opt6, Opt10`` by default) run in every round on the same seeds, so each
round's table puts discovered, published and hand-designed optimizers side by side.

One entry of a round (candidate or baseline) is scored on each seed by the surrogate protocol
(:mod:`gp_opt.surrogate`) at the round's base: on the first seed the full protocol (the
learning-rate screen, then the full run), on the other seeds a full run at the rate the first seed
chose -- the same grid and budget for every optimizer. All the entries of a round that share a seed
(and, after the screen, a rate) train together in the surrogate's shared ensembles when the
device's path rule says the ensembles pay (:func:`gp_opt.surrogate.paths.choose_batched`).

Ranking: mean validation accuracy over the seeds, ties broken by the lower mean validation loss; an
entry rejected or failed on any seed ranks last. Only candidates compete for the next round.

Files in ``RUN_DIR/elimination/`` (the search's guarantees):

- ``records.jsonl`` -- append-only, one line per (round, entry, seed) as soon as it is known
  (flushed and fsynced); a killed funnel run again skips every line already there;
- ``checkpoint.json`` -- written atomically after every batch: the funnel's settings, the entries
  of each round and how many records it has seen; a second run with other settings is refused;
- ``summary.json`` -- the rounds in the form ``gp-opt report`` reads (``rounds[].entries[]`` with
  ``name``, ``kind``, ``scores``, ``advanced``) plus the settings and the winner;
- ``table.md`` -- the rounds as Markdown tables; ``genomes/<name>.json`` -- the candidates.

The run directory's writer lock is held throughout: a run still being written by a live search is
refused (one line, exit 2 on the command line).

>>> parse_rounds("50:64,24:96,12:128")
[(50, 64), (24, 96), (12, 128)]
"""
from __future__ import annotations

import json
import math
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from gp_opt.errors import GpOptError

__all__ = ["parse_rounds", "EliminationSettings", "PRESETS", "eliminate", "rank_entries", "ELIM_DIR"]

ELIM_DIR = "elimination"
RECORDS_FILE = "records.jsonl"
CHECKPOINT_FILE = "checkpoint.json"
SUMMARY_FILE = "summary.json"
TABLE_FILE = "table.md"
DEFAULT_BASELINES = ("Adam", "SGD", "Opt6", "Opt10")

#: Per dataset: the rounds, the surrogate preset the rounds start from and what they change in it.
#: ``paper`` is SPEC section 8 (a GPU's work); ``digits`` runs in CPU-minutes: the search preset's
#: base-8 ConvNet, then bases 12 and 16, a budget a third longer than the search's.
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {"rounds": "50:64,24:96,12:128", "surrogate": "paper",
              "overrides": {"total_steps": 16000, "warmup_steps": 1600}},
    "digits": {"rounds": "8:8,4:12,2:16", "surrogate": "digits",
               "overrides": {"total_steps": 160, "warmup_steps": 16, "eval_every": 40, "stop_check_after": 60,
                             "init_base": None}},
    # for tests and demos: seconds on a CPU
    "tiny": {"rounds": "4:4,2:6", "surrogate": "digits",
             "overrides": {"screen_steps": 12, "screen_cut_step": 9, "total_steps": 24, "warmup_steps": 2,
                           "stop_check_after": 12, "eval_every": 12, "acc_window": 3, "check_every": 3,
                           "screen_threshold_first": 0.15, "screen_threshold_second": 0.2,
                           "screen_cut_threshold": 0.1, "stop_threshold": 0.1, "init_base": None}},
}


class EliminationError(GpOptError):
    """Bad settings for the funnel or a run directory it cannot use."""


def parse_rounds(text: str) -> list[tuple[int, int]]:
    """``"50:64,24:96"`` -> ``[(50, 64), (24, 96)]`` (top-N : ConvNet base); N must not grow."""
    rounds = []
    for part in str(text).split(","):
        part = part.strip()
        top, sep, base = part.partition(":")
        try:
            if not sep:
                raise ValueError
            rounds.append((int(top), int(base)))
        except ValueError:
            raise EliminationError(f"--rounds {text!r}: each round is TOP:BASE, e.g. 50:64 (got {part!r})") from None
    if not rounds:
        raise EliminationError("--rounds is empty")
    for top, base in rounds:
        if top < 1 or base < 1:
            raise EliminationError(f"--rounds {text!r}: TOP and BASE must be >= 1")
    if any(b[0] > a[0] for a, b in zip(rounds, rounds[1:])):
        raise EliminationError(f"--rounds {text!r}: a later round cannot keep more candidates than an earlier one")
    return rounds


@dataclass
class EliminationSettings:
    preset: str = "digits"
    rounds: list[tuple[int, int]] = field(default_factory=list)  # empty: the preset's
    seeds: int = 3
    baselines: list[str] = field(default_factory=lambda: list(DEFAULT_BASELINES))
    overrides: dict[str, Any] = field(default_factory=dict)  # SurrogateConfig fields on top of the preset
    batched: bool | None = None  # None: the path rule (gp_opt.surrogate.paths)

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise EliminationError(f"unknown elimination preset {self.preset!r}; choose one of {', '.join(PRESETS)}")
        if not self.rounds:
            self.rounds = parse_rounds(PRESETS[self.preset]["rounds"])
        if int(self.seeds) < 1:
            raise EliminationError("--seeds must be >= 1")

    def identity(self) -> dict[str, Any]:
        """What a resumed funnel must share with the one that wrote the records."""
        return {"preset": self.preset, "rounds": [list(r) for r in self.rounds], "seeds": int(self.seeds),
                "baselines": list(self.baselines), "overrides": dict(self.overrides)}

    def round_config(self, base: int, seed: int, run_options: dict[str, Any]) -> Any:
        from gp_opt.surrogate import SurrogateConfig

        p = PRESETS[self.preset]
        kw = dict(p["overrides"])
        for k in ("dataset", "data_dir"):
            if run_options.get(k) is not None:
                kw[k] = run_options[k]
        kw.update(self.overrides)
        kw.update(base=base, seed=seed)
        return SurrogateConfig.preset(p["surrogate"], **kw)


# ------------------------------------------------------------------------------------------------
# Ranking
# ------------------------------------------------------------------------------------------------


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs) if xs else math.nan


def entry_stats(records: list[dict[str, Any]], n_seeds: int) -> dict[str, Any]:
    """Mean/std of validation accuracy and loss over an entry's seed records; ``ok`` only when
    every seed finished ok."""
    ok = len(records) == n_seeds and all(r["status"] == "ok" for r in records)
    bad = next((r for r in records if r["status"] != "ok"), None)
    status = "ok" if ok else (bad["status"] if bad else "incomplete")
    accs = [r["val_acc"] for r in records if r["status"] == "ok" and r.get("val_acc") is not None]
    losses = [r["val_loss"] for r in records if r["status"] == "ok" and r.get("val_loss") is not None]
    return {"ok": ok, "status": status, "reason": bad.get("reason") if bad else None, "scores": accs, "val_loss": losses,
            "mean": _mean(accs), "std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
            "mean_loss": _mean(losses)}


def rank_key(stats: dict[str, Any]) -> tuple:
    """Sort key, best first: complete entries, higher mean accuracy, lower mean loss."""
    loss = stats["mean_loss"]
    # rounded to 1e-6: accuracies arrive as float32 k/n, so equal means can differ in the 8th digit
    return (0 if stats["ok"] else 1, -round(stats["mean"], 6) if stats["ok"] else 0.0,
            loss if stats["ok"] and math.isfinite(loss) else math.inf)


def rank_entries(names: list[str], by_name: dict[str, dict[str, Any]]) -> list[str]:
    """``names`` best first by :func:`rank_key` (stable: earlier names win exact ties)."""
    return sorted(names, key=lambda n: rank_key(by_name[n]))


# ------------------------------------------------------------------------------------------------
# The run's candidates
# ------------------------------------------------------------------------------------------------


@dataclass
class Entry:
    name: str
    kind: str  # "candidate" or "baseline"
    optimizer: Any  # a genome or a baseline name
    key: str | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def ident(self) -> str:
        """What its records are filed under: the genome's key (a candidate), the name (a baseline)."""
        return self.key or self.name


def _grammar_of(run_cfg: dict[str, Any]) -> Any:
    path = (run_cfg.get("toolbox") or {}).get("grammar")
    if path is None:
        return None
    from gp_opt.grammar import load

    return load(path)


def best_candidates(lines: list[dict[str, Any]], run_cfg: dict[str, Any], n: int,
                    exclude_names: Sequence[str] = ()) -> list[Entry]:
    """The ``n`` best unique (by key) successful candidates of a run, best first (ties: earlier).
    Warm-start genomes (``origin``) named in ``exclude_names`` are left out: they run as baselines."""
    from gp_opt.genome import OptimizerGenome

    grammar = _grammar_of(run_cfg)
    skip = {s.lower() for s in exclude_names}
    best: dict[str, dict[str, Any]] = {}
    for line in lines:
        rec = line.get("record") or {}
        fit = rec.get("fitness")
        if rec.get("status") != "ok" or not isinstance(fit, (int, float)) or not math.isfinite(fit):
            continue
        if str(line.get("origin", "")).lower() in skip:
            continue
        key = line.get("key") or f"seq{line['seq']}"
        if key not in best or fit > best[key]["record"]["fitness"]:
            best[key] = line
    ordered = []
    kept_as: dict[str, list[int]] = {}  # behaviour -> the seqs left out as twins of the kept one
    twins: dict[int, list[int]] = {}  # a kept line's seq -> its twins' seqs
    for line in sorted(best.values(), key=lambda ln: (-ln["record"]["fitness"], ln["seq"])):
        sig = search_behaviour(line["record"])
        if sig is not None and sig in kept_as:
            kept_as[sig].append(line["seq"])
            continue
        if len(ordered) == n:
            break
        twins[line["seq"]] = kept_as.setdefault(sig, []) if sig is not None else []
        ordered.append(line)
    out = []
    for rank, line in enumerate(ordered, 1):
        indiv = line["individual"]
        text = indiv if isinstance(indiv, str) else json.dumps(indiv)
        genome = OptimizerGenome.from_json(text, grammar=grammar)
        name = f"#{rank}" + (f" ({line['origin']})" if line.get("origin") else "")
        out.append(Entry(name, "candidate", genome, line.get("key"),
                         {"seq": line["seq"], "search_fitness": line["record"]["fitness"],
                          "search_lr": line["record"].get("best_lr"), "step": line.get("step"),
                          "twins": twins[line["seq"]]}))
    return out


def genome_file(name: str) -> str:
    """Where ``elimination/`` keeps candidate ``name``'s genome: ``#3 (Opt6)`` -> ``genomes/c3.json``."""
    return f"genomes/{name.split(' ')[0].replace('#', 'c')}.json"


def search_behaviour(record: dict[str, Any]) -> str | None:
    """What a candidate did in the search, to the last bit: its fitness, rate and every stage's
    losses and accuracies; ``None`` when the record holds no stages to compare.

    Distinct genomes can be one optimizer in effect (a clip that never binds, a branch multiplied by
    zero); their search records are then identical in every float, which chance does not produce.
    The funnel keeps the best-ranked of such twins: training the others spends its slots on one
    result several times.

    >>> a = {"fitness": -0.1, "best_lr": 0.1, "stages": [{"stage": "full", "lr": 0.1, "train_loss": 0.5}]}
    >>> search_behaviour(a) == search_behaviour(dict(a)), search_behaviour({"fitness": -0.1})
    (True, None)
    """
    stages = record.get("stages")
    if not stages:
        return None
    keep = ("stage", "lr", "status", "steps", "train_loss", "train_acc", "best_val_acc", "val_history",
            "val_loss_history")
    return json.dumps([record.get("fitness"), record.get("best_lr"),
                       [{k: st.get(k) for k in keep} for st in stages]], sort_keys=True)


def check_baselines(names: Sequence[str]) -> None:
    from gp_opt.surrogate import resolve_optimizer

    for n in names:
        try:
            resolve_optimizer(n)
        except GpOptError:
            raise EliminationError(f"unknown baseline {n!r}: not a torch baseline (adam, sgd, ...) nor a catalog "
                                   f"name (Opt1..Opt10, QHM, ...)") from None


# ------------------------------------------------------------------------------------------------
# Records, checkpoint, summary
# ------------------------------------------------------------------------------------------------


class RecordStore:
    """``elimination/``: the append-only records, the atomic checkpoint and the summary."""

    def __init__(self, folder: Path, records: str = RECORDS_FILE):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.records_path = folder / records

    def read(self) -> list[dict[str, Any]]:
        if not self.records_path.exists():
            return []
        out = []
        data = self.records_path.read_bytes()
        lines = data.split(b"\n")
        for i, raw in enumerate(lines):
            if not raw.strip():
                continue
            try:
                out.append(json.loads(raw))
            except ValueError:
                if i == len(lines) - 1 or all(not r.strip() for r in lines[i + 1:]):
                    # the cut tail of a killed write: drop it (its evaluation runs again)
                    good = data[:len(data) - len(raw)]
                    self.records_path.write_bytes(good)
                    break
                raise EliminationError(f"{self.records_path} line {i + 1} is damaged; remove it to redo "
                                       f"that evaluation") from None
        return out

    def append(self, recs: list[dict[str, Any]]) -> None:
        if not recs:
            return
        text = "".join(json.dumps(r, sort_keys=True, allow_nan=False) + "\n" for r in recs)
        with open(self.records_path, "a", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())

    def write_json(self, name: str, obj: Any) -> None:
        from gp_opt.rundir import atomic_write_json

        atomic_write_json(self.folder / name, obj)

    def write_text(self, name: str, text: str) -> None:
        from gp_opt.rundir import atomic_write_text

        atomic_write_text(self.folder / name, text)


def _finite(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and math.isfinite(x) else None


def record_line(rnd: int, entry: Entry, seed: int, rec: Any, base: int) -> dict[str, Any]:
    return {"round": rnd, "name": entry.name, "kind": entry.kind, "key": entry.key, "seed": seed, "base": base,
            "status": rec.status, "reason": rec.reason, "best_lr": _finite(rec.best_lr),
            "val_acc": _finite(rec.extra.get("best_val_acc")), "val_loss": _finite(rec.extra.get("val_loss")),
            "seconds": _finite(rec.seconds), "time": time.time()}


# ------------------------------------------------------------------------------------------------
# The funnel
# ------------------------------------------------------------------------------------------------


Evaluator = Callable[[list[Any], Any], list[Any]]  # (optimizers, SurrogateConfig) -> FitnessRecords


class SurrogateCall:
    """One round's surrogate evaluation: ``call(optimizer) -> record``, ``call.many(optimizers)``
    (shared ensembles where the path rule or ``batched`` says they help). Picklable, so an
    executor's worker (a process pool, a Ray actor) runs it on its own device."""

    def __init__(self, cfg: Any, batched: bool | None):
        self.cfg = cfg
        self.batched = batched

    def many(self, optimizers: list[Any]) -> list[Any]:
        from gp_opt.surrogate import evaluate_many
        from gp_opt.surrogate.paths import choose_batched

        use = choose_batched(self.cfg) if self.batched is None else self.batched
        cfg = self.cfg.replace(batched=use)
        if use:
            return evaluate_many(list(optimizers), cfg)
        return [evaluate_many([o], cfg)[0] for o in optimizers]

    def __call__(self, optimizer: Any) -> Any:
        return self.many([optimizer])[0]


def ensemble_map(call: SurrogateCall, optimizers: Iterable[Any]) -> list[Any]:
    """The batched map an executor hands each group to: the group trains as one ensemble."""
    return call.many(list(optimizers))


def surrogate_evaluator(batched: bool | None, executor: Any = None) -> Evaluator:
    """In this process, or spread over ``executor``'s workers (a group of a round's entries per
    worker, each group one ensemble); records come back in submission order either way."""
    def run(optimizers: list[Any], cfg: Any) -> list[Any]:
        call = SurrogateCall(cfg, batched)
        if executor is None:
            return call.many(optimizers)
        return list(executor.map(call, optimizers, ensemble_map))

    return run


def eliminate(run_dir: str | os.PathLike, settings: EliminationSettings | None = None, *,
              evaluator: Evaluator | None = None, verbose: bool = True,
              after_batch: Callable[[int], None] | None = None, executor: Any = None) -> dict[str, Any]:
    """Run (or resume) the funnel on ``run_dir``; returns the summary (also in ``summary.json``).

    ``evaluator(optimizers, config) -> records`` replaces the surrogate (tests); ``after_batch(n)``
    is called after each batch of records is on disk with the number written so far (tests kill
    the funnel there). ``executor`` (a started :class:`gp_opt.search.executors.Executor`) spreads
    the surrogate evaluations over its workers; only this process writes ``elimination/``."""
    from gp_opt.rundir import RunDir

    settings = settings or EliminationSettings()
    check_baselines(settings.baselines)
    evaluate = evaluator or surrogate_evaluator(settings.batched, executor)
    say = (lambda s: print(s, flush=True)) if verbose else (lambda s: None)
    rundir = RunDir.open(run_dir, lock=True)  # refuses a run a live search is writing
    try:
        run_cfg = rundir.config
        lines = rundir.read_candidates(repair=False)
        run_options = ((run_cfg.get("toolbox") or {}).get("task_options") or {})
        store = RecordStore(Path(run_dir) / ELIM_DIR)
        ckpt_path = store.folder / CHECKPOINT_FILE
        if ckpt_path.exists():
            old = json.loads(ckpt_path.read_text())
            if old.get("settings") != settings.identity():
                raise EliminationError(
                    f"{ckpt_path}: an elimination with other settings ({json.dumps(old.get('settings'))}) is "
                    f"in this run; use the same options, or move {store.folder} away to start over")
        first_top = settings.rounds[0][0]
        cands = best_candidates(lines, run_cfg, first_top, exclude_names=settings.baselines)
        notes = []
        if not cands:
            raise EliminationError(f"{run_dir}: no successful candidate to eliminate")
        if len(cands) < first_top:
            notes.append(f"the run has {len(cands)} unique successful candidates; round 1 asks for {first_top}: "
                         f"using all {len(cands)}")
            say("note: " + notes[-1])
        n_twins = sum(len(e.info.get("twins", [])) for e in cands)
        if n_twins:
            pairs = "; ".join(f"{e.name.split(' ')[0]}: seq {', '.join(map(str, e.info['twins']))}"
                              for e in cands if e.info.get("twins"))
            notes.append(f"{n_twins} candidates left out as twins of a better-ranked one (a distinct genome, "
                         f"the same search record to the last bit): {pairs}")
            say("note: " + notes[-1])
        genomes_dir = store.folder / "genomes"
        genomes_dir.mkdir(exist_ok=True)
        for e in cands:
            store.write_text(genome_file(e.name), e.optimizer.to_json(indent=2) + "\n")
        baselines = [Entry(b, "baseline", b) for b in settings.baselines]
        # a record belongs to a genome (its key), not to its rank: a run that grew since keeps them
        done = {(r["round"], r.get("key") or r["name"], r["seed"]): r for r in store.read()}
        n_written = len(done)
        seeds = list(range(int(settings.seeds)))
        rounds_out = []
        alive = list(cands)
        t_start = time.perf_counter()
        for j, (top, base) in enumerate(settings.rounds):
            alive = alive[:top]
            entries = alive + baselines
            say(f"round {j + 1}/{len(settings.rounds)}: {len(alive)} candidates + {len(baselines)} baselines, "
                f"base {base}, seeds {seeds}")
            for si, seed in enumerate(seeds):
                cfg = settings.round_config(base, seed, run_options)
                todo = [e for e in entries if (j, e.ident, seed) not in done]
                if not todo:
                    continue
                if si == 0:
                    groups = [(None, todo)]  # the full protocol: each entry screens its own rate
                else:
                    by_lr: dict[float | None, list[Entry]] = {}
                    for e in todo:
                        first = done.get((j, e.ident, seeds[0]))
                        lr = first.get("best_lr") if first and first["status"] == "ok" else None
                        by_lr.setdefault(lr, []).append(e)
                    groups = list(by_lr.items())
                for lr, group in groups:
                    if si > 0 and lr is None:
                        # rejected or failed on the first seed: that is the entry's result on every seed
                        recs = []
                        for e in group:
                            first = done.get((j, e.ident, seeds[0]), {})
                            recs.append({**first, "name": e.name, "seed": seed, "seconds": 0.0, "time": time.time(),
                                         "reason": f"not run: {first.get('status', 'failed')} on seed {seeds[0]}"})
                    else:
                        c = cfg if lr is None else cfg.replace(fixed_lr=lr)
                        out = evaluate([e.optimizer for e in group], c)
                        recs = [record_line(j, e, seed, r, base) for e, r in zip(group, out)]
                    store.append(recs)
                    for e, r in zip(group, recs):
                        done[(j, e.ident, seed)] = r
                    n_written += len(recs)
                    store.write_json(CHECKPOINT_FILE, {"settings": settings.identity(), "records": n_written,
                                                       "round": j, "seed": seed, "run_id": rundir.run_id})
                    say(f"  round {j + 1} seed {seed}: {len(recs)} done ({n_written} records, "
                        f"{time.perf_counter() - t_start:.0f} s)")
                    if after_batch is not None:
                        after_batch(n_written)
            stats = {e.name: entry_stats([done[(j, e.ident, s)] for s in seeds], len(seeds)) for e in entries}
            order = rank_entries([e.name for e in alive], stats)
            next_top = settings.rounds[j + 1][0] if j + 1 < len(settings.rounds) else 0
            advancing = set(order[:next_top])
            alive = [next(e for e in alive if e.name == n) for n in order]
            rounds_out.append(_round_summary(j, base, top, seeds, entries, stats, advancing, cfg, next_top))
            _write_summary(store, settings, rounds_out, notes, rundir.run_id, final=False)
        summary = _write_summary(store, settings, rounds_out, notes, rundir.run_id, final=True)
        say(format_table(summary))
        return summary
    finally:
        rundir.close()


def _round_summary(j: int, base: int, top: int, seeds: list[int], entries: list[Entry],
                   stats: dict[str, dict[str, Any]], advancing: set[str], cfg: Any, next_top: int) -> dict[str, Any]:
    rows = []
    order = rank_entries([e.name for e in entries], stats)
    kinds = {e.name: e for e in entries}
    for name in order:
        e, s = kinds[name], stats[name]
        rows.append({"name": name, "kind": e.kind, "key": e.key, "scores": s["scores"], "val_loss": s["val_loss"],
                     "mean": s["mean"] if s["ok"] else None, "std": s["std"] if s["ok"] else None,
                     "mean_loss": s["mean_loss"] if s["ok"] and math.isfinite(s["mean_loss"]) else None,
                     "status": s["status"], "reason": s.get("reason"),
                     "advanced": (name in advancing) if (e.kind == "candidate" and next_top) else None,
                     **({"search": e.info} if e.info else {})})
    return {"name": f"round {j + 1}", "top": top, "base": base, "steps": cfg.total_steps, "seeds": seeds,
            "dataset": cfg.dataset, "entries": rows}


def _write_summary(store: RecordStore, settings: EliminationSettings, rounds: list[dict[str, Any]], notes: list[str],
                   run_id: str, final: bool) -> dict[str, Any]:
    last = rounds[-1] if rounds else None
    winner = None
    if final and last is not None:
        best = [e for e in last["entries"] if e["kind"] == "candidate" and e["status"] == "ok"]
        winner = best[0]["name"] if best else None
    summary = {"metric": "validation accuracy (mean over seeds; ties: lower validation loss)",
               "higher_is_better": True, "settings": settings.identity(), "run_id": run_id,
               "complete": final, "notes": notes, "winner": winner, "rounds": rounds}
    store.write_json(SUMMARY_FILE, summary)
    store.write_text(TABLE_FILE, format_table(summary) + "\n")
    return summary


def _fmt(mean: float | None, std: float | None, n: int, status: str = "failed") -> str:
    if mean is None:
        return status
    return f"{mean:.4f} ± {std:.4f}" if n > 1 else f"{mean:.4f}"


def format_table(summary: dict[str, Any]) -> str:
    """The rounds as Markdown tables (best first)."""
    out = []
    for rnd in summary["rounds"]:
        out += [f"### {rnd['name']}: base {rnd['base']}, {rnd['steps']} steps, seeds {rnd['seeds']}", "",
                "| rank | optimizer | kind | val. accuracy (mean ± std) | val. loss (mean) | advanced |",
                "|---:|---|---|---|---|---|"]
        for i, e in enumerate(rnd["entries"], 1):
            adv = {True: "yes", False: "no", None: "–"}[e["advanced"]]
            loss = "–" if e["mean_loss"] is None else f"{e['mean_loss']:.4f}"
            out.append(f"| {i} | {e['name']} | {e['kind']} | {_fmt(e['mean'], e['std'], len(e['scores']), e['status'])} | "
                       f"{loss} | {adv} |")
        out.append("")
    for n in summary.get("notes") or ():
        out.append(f"Note: {n}")
    if summary.get("winner"):
        out.append(f"Best candidate after the last round: {summary['winner']}")
    return "\n".join(out).rstrip()

