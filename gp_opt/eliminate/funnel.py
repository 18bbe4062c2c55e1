"""The funnel itself: :func:`eliminate` opens the run, picks its candidates and runs the rounds;
:func:`run_round` trains a round's entries on every seed and ranks them; :func:`run_seed` trains
what one seed of a round still lacks (the first seed screens rates, the others reuse them)."""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from gp_opt.catalog import carry_grammar
from gp_opt.rundir.carried import run_grammar

from .candidates import Entry, best_candidates, check_baselines, genome_file
from .ranking import entry_stats, rank_entries
from .settings import CHECKPOINT_FILE, EliminationError, EliminationSettings
from .store import RecordStore, record_line
from .summary import format_table, round_summary, write_summary
from .training import Evaluator, surrogate_evaluator

#: a record's place: (round index, entry ident -- a genome's key or a baseline's name, seed)
RecordKey = tuple[int, str, int]


@dataclass
class FunnelRun:
    """What the rounds of one funnel run share: where records go, how entries train, and the
    records known so far (read back from ``records.jsonl``, then each batch as it is written)."""

    settings: EliminationSettings
    store: RecordStore
    evaluate: Evaluator
    run_id: str
    run_options: dict[str, Any]
    say: Callable[[str], None]
    after_batch: Callable[[int], None] | None = None
    done: dict[RecordKey, dict[str, Any]] = field(default_factory=dict)
    n_written: int = 0
    t_start: float = field(default_factory=time.perf_counter)

    @property
    def seeds(self) -> list[int]:
        return list(range(int(self.settings.seeds)))

    def keep(self, j: int, seed: int, group: list[Entry], recs: list[dict[str, Any]]) -> None:
        """Append a batch's records, then the checkpoint that counts them."""
        self.store.append(recs)
        for e, r in zip(group, recs):
            self.done[(j, e.ident, seed)] = r
        self.n_written = self.store.n_lines
        self.store.write_json(CHECKPOINT_FILE, {"settings": self.settings.identity(), "records": self.n_written,
                                                "log_crc": self.store.crc(), "round": j, "seed": seed,
                                                "run_id": self.run_id})
        self.say(f"  round {j + 1} seed {seed}: {len(recs)} done ({self.n_written} records, "
                 f"{time.perf_counter() - self.t_start:.0f} s)")
        if self.after_batch is not None:
            self.after_batch(self.n_written)


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
    say = (lambda s: print(s, flush=True)) if verbose else (lambda s: None)
    rundir = RunDir.open(run_dir, lock=True)  # refuses a run a live search is writing
    store = None
    try:
        run_cfg = rundir.config
        lines = read_search_log(rundir)
        run_grammar(run_dir, run_cfg.get("toolbox"))  # the run's grammar copy, checked before any write
        store = RecordStore(run_dir, rundir.run_id, folder=settings.folder)
        ckpt = read_checkpoint(store, settings)
        cands, notes = pick_candidates(lines, run_cfg, settings, run_dir, say)
        run = FunnelRun(settings, store, evaluator or surrogate_evaluator(settings.batched, executor),
                        rundir.run_id, (run_cfg.get("toolbox") or {}).get("task_options") or {}, say, after_batch)
        # a record belongs to a genome (its key), not to its rank: a run that grew since keeps them
        run.done = {(r["round"], r.get("key") or r["name"], r["seed"]): r for r in store.read()}
        store.check_against(ckpt.get("records"), ckpt.get("log_crc"))
        run.n_written = store.n_lines
        for e in cands:  # a custom grammar travels inside the file (holdout reads it back alone)
            store.write_text(genome_file(e.name), carry_grammar(e.optimizer).to_json(indent=2) + "\n")
        baselines = [Entry(b, "baseline", b) for b in settings.baselines]
        rounds_out = []
        alive = list(cands)
        for j in range(len(settings.rounds)):
            alive, summary_of_round = run_round(run, j, alive, baselines)
            rounds_out.append(summary_of_round)
            write_summary(store, settings, rounds_out, notes, rundir.run_id, final=False)
        summary = write_summary(store, settings, rounds_out, notes, rundir.run_id, final=True)
        say(format_table(summary))
        return summary
    finally:
        if store is not None:
            store.close()
        rundir.close()


def read_search_log(rundir: Any) -> list[dict[str, Any]]:
    """The search's ``candidates.jsonl``, checked line by line and against its checkpoint: a log
    cut shorter than the checkpoint counts is refused (the funnel would rank part of a search)."""
    lines = rundir.read_candidates(repair=False)
    short = rundir.log_shortfall(rundir.load_checkpoint())
    if short:
        raise EliminationError(f"{short}; restore it from a backup before eliminating (the funnel would rank "
                               f"part of the search)")
    return lines


def read_checkpoint(store: RecordStore, settings: EliminationSettings) -> dict[str, Any]:
    """``elimination/checkpoint.json`` ({} when there is none); a funnel that ran with other
    settings is refused (its records would mix with these)."""
    ckpt_path = store.folder / CHECKPOINT_FILE
    if not ckpt_path.exists():
        return {}
    try:
        old = json.loads(ckpt_path.read_text(encoding="utf-8"))
        if not isinstance(old, dict):
            raise ValueError("not an object")
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise EliminationError(f"{ckpt_path} is damaged ({exc}); move {store.folder} away to start over") from None
    if old.get("settings") != settings.identity():
        raise EliminationError(
            f"{ckpt_path}: an elimination with other settings ({json.dumps(old.get('settings'))}) is "
            f"in this run; use the same options, or move {store.folder} away to start over")
    return old


def pick_candidates(lines: list[dict[str, Any]], run_cfg: dict[str, Any], settings: EliminationSettings,
                    run_dir: Any, say: Callable[[str], None]) -> tuple[list[Entry], list[str]]:
    """Round 1's candidates and the notes the summary keeps about them (fewer than asked, twins)."""
    first_top = settings.rounds[0][0]
    cands = best_candidates(lines, run_cfg, first_top, exclude_names=settings.baselines, run_dir=run_dir,
                            buffers=settings.buffers)
    notes = []
    if not cands:
        which = "" if settings.buffers is None else f" with {settings.buffers} state buffers per parameter"
        raise EliminationError(f"{run_dir}: no successful candidate{which} to eliminate")
    if settings.buffers is not None:
        notes.append(f"only candidates keeping {settings.buffers} state buffers per parameter (--buffers)")
    if len(cands) < first_top:
        notes.append(f"the run has {len(cands)} unique successful candidates; round 1 asks for {first_top}: "
                     f"using all {len(cands)}")
        say("note: " + notes[-1])
    n_twins = sum(len(e.info.get("twins", [])) for e in cands)
    if n_twins:
        pairs = "; ".join(f"{e.name.split(' ')[0]}: seq {', '.join(map(str, e.info['twins']))}"
                          for e in cands if e.info.get("twins"))
        notes.append(f"{n_twins} candidates left out as twins of a better-ranked one (a distinct genome, "
                     f"the same search record within a relative 1e-3, far below seed noise): {pairs}")
        say("note: " + notes[-1])
    return cands, notes


def run_round(run: FunnelRun, j: int, alive: list[Entry],
              baselines: list[Entry]) -> tuple[list[Entry], dict[str, Any]]:
    """Round ``j``: its top candidates of ``alive`` and the baselines on every seed, ranked.
    Returns the candidates best first (the next round keeps its top) and the round's summary."""
    settings, seeds = run.settings, run.seeds
    top, base = settings.rounds[j]
    alive = alive[:top]
    entries = alive + baselines
    run.say(f"round {j + 1}/{len(settings.rounds)}: {len(alive)} candidates + {len(baselines)} baselines, "
            f"base {base}, seeds {seeds}")
    cfg = None
    for si, seed in enumerate(seeds):
        cfg = settings.round_config(base, seed, run.run_options)
        run_seed(run, j, si, seed, cfg, entries)
    stats = {e.name: entry_stats([run.done[(j, e.ident, s)] for s in seeds], len(seeds)) for e in entries}
    order = rank_entries([e.name for e in alive], stats)
    # near-twins on this round's seeds (gp_opt.twins): one behaviour takes one slot of the next round
    from gp_opt.twins import demote_twins

    order, twin_of = demote_twins(order, {e.name: {s: run.done[(j, e.ident, s)] for s in seeds} for e in alive})
    if twin_of:
        run.say("note: round " + str(j + 1) + " near-twins (equal within tolerance on every seed) ranked last: "
                + "; ".join(f"{a} = {b}" for a, b in twin_of.items()))
    next_top = settings.rounds[j + 1][0] if j + 1 < len(settings.rounds) else 0
    advancing = set(order[:next_top])
    alive = [next(e for e in alive if e.name == n) for n in order]
    return alive, round_summary(j, base, top, seeds, entries, stats, advancing, cfg, next_top)


def run_seed(run: FunnelRun, j: int, si: int, seed: int, cfg: Any, entries: list[Entry]) -> None:
    """Train the entries of round ``j`` that have no record for ``seed`` yet (the ``si``-th seed).

    On the first seed each entry runs the full protocol and screens its own rate; on the others
    the entries train together by the rate their first seed chose, and an entry rejected or failed
    on the first seed gets that result again without training."""
    first_seed = run.seeds[0]
    todo = [e for e in entries if (j, e.ident, seed) not in run.done]
    if not todo:
        return
    if si == 0:
        groups: list[tuple[float | None, list[Entry]]] = [(None, todo)]
    else:
        by_lr: dict[float | None, list[Entry]] = {}
        for e in todo:
            first = run.done.get((j, e.ident, first_seed))
            lr = first.get("best_lr") if first and first["status"] == "ok" else None
            by_lr.setdefault(lr, []).append(e)
        groups = list(by_lr.items())
    base = run.settings.rounds[j][1]
    for lr, group in groups:
        if si > 0 and lr is None:
            recs = []
            for e in group:
                first = run.done.get((j, e.ident, first_seed), {})
                recs.append({**first, "name": e.name, "seed": seed, "seconds": 0.0, "time": time.time(),
                             "reason": f"not run: {first.get('status', 'failed')} on seed {first_seed}"})
        else:
            c = cfg if lr is None else cfg.replace(fixed_lr=lr)
            out = run.evaluate([e.optimizer for e in group], c)
            recs = [record_line(j, e, seed, r, base) for e, r in zip(group, out)]
        run.keep(j, seed, group, recs)
