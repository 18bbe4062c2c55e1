"""``elimination/``'s files: the append-only records (one line per round, entry and seed), the
atomic checkpoint, summary and table."""
from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

from .candidates import Entry
from .settings import RECORDS_FILE, EliminationError


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


