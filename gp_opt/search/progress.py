"""The progress lines: a line per candidate as soon as its fitness is known, the counters in
words, a clock with an ETA, and the summary at the end. Everything also goes to the
``gp_opt.search`` logger; with ``verbose=False`` stdout stays clean."""
from __future__ import annotations

import collections
import logging
import math
import time
from typing import Any

from ..fitness import FitnessRecord, OK
from .candidate import Candidate, score

log = logging.getLogger("gp_opt.search")


class Progress:
    """``tally``: the run's counters (shared with the search, updated in place); ``expected``:
    the candidates the whole run expects (redraws come on top); ``n_steps``: its steps or cycles.
    ``seconds_before``: wall time of earlier (killed) sessions of the run."""

    def __init__(self, tally: collections.Counter, verbose: bool, expected: int = 0, n_steps: int = 0):
        self.tally = tally
        self.verbose = verbose
        self.expected = expected
        self.n_steps = n_steps
        self.started = time.perf_counter()
        self.seconds_before = 0.0
        self.tally_at_start = 0
        self.session_done = 0
        self.best_seen = -math.inf

    def resumed(self, seconds_before: float) -> None:
        self.seconds_before = seconds_before
        self.tally_at_start = self.tally["candidates"]

    def elapsed(self) -> float:
        return self.seconds_before + time.perf_counter() - self.started

    def say(self, text: str) -> None:
        log.info(text)
        if self.verbose:
            print(text, flush=True)

    def candidate(self, ind: Candidate, how: str, batch: int, n_logged: int) -> None:
        """One line per candidate: where it is in the run, its outcome, the best so far, elapsed
        time and an ETA for the whole run."""
        if how == "eval":
            self.session_done += 1
        rec = ind.record
        if rec is not None and rec.status == OK:
            self.best_seen = max(self.best_seen, float(rec.fitness))
        if not self.verbose:
            return
        m = ind.meta
        if m.get("phase") == "init":
            where = f"init {m.get('slot', 0) + 1}/{batch}"
        else:
            unit = {"step": "step", "cycle": "cycle"}.get(m.get("phase"), str(m.get("phase")))
            where = f"{unit} {m.get('step')}/{self.n_steps}"
            if m.get("particle") is not None:
                where += f" particle {m['particle'] + 1}"
            where += f" child {m.get('slot', 0) + 1}"
            if m.get("attempt"):
                where += f" redraw {m['attempt']}"
        self.say(f"  {where}: {outcome(rec, how)} | best {fmt_fit(self.best_seen)} | {self.clock(n_logged)}")

    def clock(self, n_logged: int) -> str:
        """``12s elapsed, ETA 1m05s`` (the ETA from this session's candidates per second)."""
        text = f"{fmt_secs(self.elapsed())} elapsed"
        remaining = self.expected - n_logged
        session = time.perf_counter() - self.started
        if self.expected and self.session_done and remaining > 0:
            n_session = max(1, self.tally["candidates"] - self.tally_at_start)
            text += f", ETA {fmt_secs(session / n_session * remaining)}"
        return text

    def tally_text(self) -> str:
        """The counters in words a newcomer reads (used by the step lines and the summary)."""
        t = self.tally
        again = f", {t['reevaluations']} of them re-evaluations" if t["reevaluations"] else ""
        return (f"{t['candidates']} scored ({t['evals']} trained{again}, {t['cache_hits']} cache hits), "
                f"{t['rejected']} did not pass; before scoring {t['integrity_rejections']} rejected "
                f"by the integrity check, {t['duplicates']} duplicates skipped")

    def summary(self, title: str, rows: list[tuple[str, Candidate]], hof: Any) -> None:
        """The end of a run: its counters, then ``rows`` and the top of the hall of fame."""
        lines = [f"{title} in {fmt_secs(self.elapsed())}: {self.tally_text()}",
                 f"{'':<12} {'fitness':>10} {'best lr':>9}  key"]
        named = list(rows) + [(f"hof {i}", ind) for i, ind in enumerate(hof.items[:5])]
        for name, ind in named:
            lr = ind.record.best_lr if ind.record is not None else None
            lines.append(f"{name:<12} {fmt_fit(score(ind)):>10} {('-' if lr is None else f'{lr:g}'):>9}  "
                         f"{(ind.key or '')[:60]}")
        self.say("\n".join(lines))


def fmt_secs(seconds: float) -> str:
    """``42s``, ``3m05s``, ``2h07m``."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def outcome(rec: FitnessRecord | None, how: str) -> str:
    """A candidate's result in words: fitness and lr, or why it did not pass."""
    if rec is None:
        return "no record"
    if rec.status != OK:
        reason = " ".join(str(rec.reason or "").split())
        text = f"{rec.status}: {reason[:100]}{'...' if len(reason) > 100 else ''}"
    else:
        lr = f" at lr {rec.best_lr:g}" if rec.best_lr is not None else ""
        text = f"fitness {fmt_fit(rec.fitness)}{lr}"
    if how == "eval":
        return text + (f" ({rec.seconds:.1f}s)" if rec.seconds else "")
    return text + {"hit": " (cache hit)", "dup": " (duplicate in this batch)",
                   "replay": " (from the log)"}.get(how, "")


def fmt_fit(x: float) -> str:
    return f"{x:.4g}" if math.isfinite(x) else "-"
