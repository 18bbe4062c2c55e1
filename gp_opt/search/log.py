"""The candidate log as the search sees it: lines numbered by ``seq`` in the order candidates get
their fitness, handed to the run directory (:meth:`gp_opt.rundir.RunDir.append_many`, which
checksums, writes and syncs them), and the replay of a resumed run -- the lines logged after the
checkpoint, which the restored RNGs regenerate and which are then taken from the log instead of
being evaluated again."""
from __future__ import annotations

import time
from typing import Any

from ..errors import CheckpointError
from ..fitness import FitnessRecord


class CandidateLog:
    """``rundir``: a :class:`gp_opt.rundir.RunDir` (None: nothing is written). ``n_logged``: the
    lines of the run so far (the next candidate's ``seq``); ``replay``: ``seq -> line`` still to
    be replayed. Lines are held by :meth:`add` until :meth:`flush` writes them together."""

    def __init__(self, rundir: Any):
        self.rundir = rundir
        self.n_logged = 0
        self.replay: dict[int, dict[str, Any]] = {}
        self.pending: list[dict[str, Any]] = []

    def restart(self, n_logged: int, lines: list[dict[str, Any]]) -> None:
        """Take up a resumed run: ``n_logged`` lines are behind its checkpoint, the rest replay."""
        self.n_logged = n_logged
        self.replay = {int(line["seq"]): line for line in lines[n_logged:]}

    def replayed_record(self, seq: int) -> FitnessRecord | None:
        """The record logged for ``seq`` by an earlier session (None: not in the log)."""
        line = self.replay.get(seq)
        return FitnessRecord.from_dict(line["record"]) if line is not None else None

    def settle(self, key: str | None, hit: bool) -> bool:
        """Number the next candidate; True if its line is new (to be written), False if it was
        replayed -- after checking it is the logged one (a changed code, grammar or task is a
        :class:`CheckpointError`, never a silently different run)."""
        seq = self.n_logged
        self.n_logged += 1
        line = self.replay.pop(seq, None)
        if line is None:
            return True
        if line.get("key") != key or bool(line.get("cache_hit")) != hit:
            raise CheckpointError(
                f"candidates.jsonl line {seq} does not match the resumed run (key {line.get('key')!r} "
                f"vs {key!r}); the code, grammar or task changed since the run started")
        return False

    def add(self, seq: int, meta: dict[str, Any], keys: list[str], individual: Any, rec: FitnessRecord,
            hit: bool, mutate_seconds: float, cpu_seconds: float | None = None,
            eval_seed: int | None = None) -> None:
        """Hold one candidate's line until the next :meth:`flush`. ``cpu_seconds``: the CPU
        (process) time of its evaluation; ``eval_seed``: the seed it was evaluated on (None: the
        evaluator's own, not written)."""
        if self.rundir is None:
            return
        self.pending.append({
            "seq": seq, **meta, "key": keys[0] if keys else None, **({"keys": keys} if len(keys) > 1 else {}),
            "individual": individual, "record": rec.to_dict(), "cache_hit": hit,
            **({"eval_seed": eval_seed} if eval_seed is not None else {}),
            "seconds": {"mutate": mutate_seconds, "evaluate": 0.0 if hit else rec.seconds,
                        "cpu": 0.0 if hit else cpu_seconds},
            "time": time.time(),
        })

    def flush(self) -> None:
        """Write the held lines (one write, one fdatasync)."""
        # taken off the list before the write: an interrupt at any point never writes them twice
        batch = self.pending[:]
        self.pending.clear()
        if batch and self.rundir is not None:
            self.rundir.append_many(batch)
