"""``elimination/``'s files: the append-only records (one line per round, entry and seed), the
atomic checkpoint, summary and table."""
from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

from gp_opt.rundir import JsonLog, atomic_write_json, atomic_write_text, make_dirs
from gp_opt.rundir.jsonlog import print_notes

from .candidates import Entry
from .settings import CHECKPOINT_FILE, ELIM_DIR, RECORDS_FILE, EliminationError


class RecordStore:
    """``RUN_DIR/elimination/``: an append-only records log (``records.jsonl``, or ``holdout.jsonl``
    for the hold-out stage) -- a :class:`~gp_opt.rundir.jsonlog.JsonLog` chained from the run's
    ``run_id`` and the file's name -- and the files replaced atomically (checkpoint, summary,
    tables, genomes). Nothing is written through a symbolic link or outside ``run_dir``."""

    def __init__(self, run_dir: str | os.PathLike, run_id: str, records: str = RECORDS_FILE, folder: str = ELIM_DIR):
        self.root = Path(run_dir)
        self.folder = make_dirs(self.root, self.root / folder)
        self.log = JsonLog(self.folder / records, f"{run_id}:{folder}/{records}", root=self.root,
                           check=check_record_line, legacy=True)
        self.records_path = self.log.path

    def read(self, repair: bool = True) -> list[dict[str, Any]]:
        """The records, checked line by line (an edited line is refused, naming it); a cut last
        line is moved aside (``repair``) and its evaluation runs again. Says so on stderr."""
        lines = self.log.read(repair=repair)
        print_notes(self.log.notes)
        return lines

    def check_against(self, counted: Any, crc: Any) -> None:
        """After :meth:`read`: compare the log with what the checkpoint counted when it was saved
        (``counted`` records with chained checksum ``crc``). Fewer lines: said, and the missing
        evaluations run again; other lines than those counted: refused."""
        if not isinstance(counted, int) or isinstance(counted, bool) or counted < 0:
            return
        if counted > self.log.n_lines:
            print_notes([f"{self.records_path} has {self.log.n_lines} lines but {CHECKPOINT_FILE} counts {counted}: "
                         f"the log was cut short; the {counted - self.log.n_lines} missing evaluations run again"])
        elif isinstance(crc, str) and self.log.crc_at(counted) != crc:
            raise EliminationError(f"{self.records_path}: its first {counted} lines differ from those "
                                   f"{CHECKPOINT_FILE} counted (edited, or copied from another run); restore the "
                                   f"matching files, or move {self.folder} away to start over")

    @property
    def n_lines(self) -> int:
        return self.log.n_lines

    def crc(self) -> str:
        """The chained checksum of every record written so far (for the checkpoint)."""
        return self.log.crc_at(self.log.n_lines)

    def append(self, recs: list[dict[str, Any]]) -> None:
        self.log.append_many(recs)

    def write_json(self, name: str, obj: Any) -> None:
        atomic_write_json(self.folder / name, obj, root=self.root)

    def write_text(self, name: str, text: str) -> None:
        path = self.folder / name
        if path.parent != self.folder:
            make_dirs(self.root, path.parent)
        atomic_write_text(path, text, root=self.root)

    def close(self) -> None:
        self.log.close()


def check_record_line(line: dict[str, Any], where: str) -> None:
    """A record's fields, once its checksum passed: what the funnel reads has the right type."""
    def bad(field: str, what: str) -> EliminationError:
        return EliminationError(f"{where}: field {field!r} is {what} (got {str(line.get(field))[:40]!r}); "
                                f"restore the file from a backup")

    for name in ("round", "seed"):
        v = line.get(name)
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise bad(name, "not a non-negative integer")
    for name in ("name", "status"):
        if not isinstance(line.get(name), str):
            raise bad(name, "not a string")
    if not isinstance(line.get("key"), (str, type(None))):
        raise bad("key", "not a string or null")
    for name in ("best_lr", "val_acc", "val_loss", "seconds"):
        v = line.get(name)
        if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v)):
            raise bad(name, "not a finite number or null")
    curve = line.get("lr_curve", [])
    if not isinstance(curve, list) or not all(
            isinstance(p, list) and len(p) == 2 and all(v is None or (isinstance(v, (int, float)) and not
                                                        isinstance(v, bool) and math.isfinite(v)) for v in p)
            and p[0] is not None for p in curve):
        raise bad("lr_curve", "not a list of [lr, value or null] pairs")


def _finite(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and math.isfinite(x) else None


def record_line(rnd: int, entry: Entry, seed: int, rec: Any, base: int) -> dict[str, Any]:
    line = {"round": rnd, "name": entry.name, "kind": entry.kind, "key": entry.key, "seed": seed, "base": base,
            "status": rec.status, "reason": rec.reason, "best_lr": _finite(rec.best_lr),
            "val_acc": _finite(rec.extra.get("best_val_acc")), "val_loss": _finite(rec.extra.get("val_loss")),
            "seconds": _finite(rec.seconds), "time": time.time()}
    curve = screen_curve(getattr(rec, "stages", None) or [])
    if curve:   # a round that swept the rates keeps the whole curve (issue 23), not only best_lr
        line["lr_curve"] = curve
    return line


def screen_curve(stages: list[Any]) -> list[list[float | None]]:
    """The learning-rate sweep of a surrogate record: ``[[lr, training accuracy after the screen's
    steps], ...]`` by rate (null where the run failed; a rate screened twice keeps its later run)."""
    by_lr: dict[float, float | None] = {}
    for st in stages:
        if isinstance(st, dict) and str(st.get("stage", "")).startswith("screen") and _finite(st.get("lr")):
            ok = st.get("status") == "ok"
            by_lr[float(st["lr"])] = _finite(st.get("train_acc")) if ok else None
    return [[lr, v] for lr, v in sorted(by_lr.items())]


