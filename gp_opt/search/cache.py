"""The fitness cache: a candidate whose key was seen before in the run reuses that record (a
*cache hit*) instead of being evaluated again. It lives as long as the run and is rebuilt from
the log on resume."""
from __future__ import annotations

from typing import Any, Iterable

from ..fitness import FitnessRecord
from .candidate import key_list


class FitnessCache:
    """Key -> record. A candidate may have several keys (``key="both"``): a hit on any is a hit.
    A candidate evaluated anew replaces the records under its keys; a cache hit only fills keys
    that had none."""

    def __init__(self) -> None:
        self.records: dict[str, FitnessRecord] = {}

    def get(self, keys: Iterable[str]) -> FitnessRecord | None:
        for k in keys:
            rec = self.records.get(k)
            if rec is not None:
                return rec
        return None

    def put(self, keys: Iterable[str], rec: FitnessRecord, hit: bool) -> None:
        for k in keys:
            if hit:
                self.records.setdefault(k, rec)
            else:
                self.records[k] = rec

    def prime(self, lines: Iterable[dict[str, Any]]) -> None:
        """Rebuild from log lines, in order, as the search filed them."""
        self.records.clear()
        for line in lines:
            ks = key_list(line.get("keys", line.get("key")))
            if ks:
                self.put(ks, FitnessRecord.from_dict(line["record"]), bool(line.get("cache_hit")))
