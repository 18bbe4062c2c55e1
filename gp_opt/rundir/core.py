"""A run directory that never loses work.

Layout of ``DIR``:

- ``run.json`` -- format name, format version, a random ``run_id`` and the run's config (written
  once, atomically, when the run is created).
- ``candidates.jsonl`` -- append-only, one JSON line per candidate as soon as its fitness is known
  (evaluated or taken from the cache): ``seq`` (0, 1, 2, ...), ids (phase, step, particle, slot,
  attempt), ``key``, ``individual`` (JSON), ``record`` (:class:`FitnessRecord` dict with its
  stages), ``cache_hit``, timings. Lines are flushed and fdatasync'ed before the search starts
  another slow evaluation and at the end of every batch (cheap ones known together share one
  write and one sync).
- ``checkpoint.json`` -- the algorithm state after the last finished time step (positions,
  histories, hall of fame, logbook, counters, ``n_logged`` and the numpy / python / torch RNG
  states), written atomically: temp file, fsync, ``os.replace``, fsync of the directory. It carries
  the ``run_id`` and a sha256 of its state so a corrupt or foreign file is caught.

Resuming loads the checkpoint, rebuilds the fitness cache from the first ``n_logged`` lines of the
log, and *replays* the lines after them: the restored RNG re-generates the same children, and those
already in the log take their fitness from it instead of being evaluated again. A half-written last
line (a kill mid-write) is dropped. Every problem with the directory raises
:class:`gp_opt.errors.CheckpointError` with a one-line message.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CheckpointError
from .files import atomic_write_text, clean, dumps, is_temp_name, remove_stale_temps, sync
from .lock import LOCK_FILE, RunLock, acquire, release

RUN_FORMAT = "gp_opt.run"
CHECKPOINT_FORMAT = "gp_opt.checkpoint"
FORMAT_VERSION = 1

RUN_FILE = "run.json"
CANDIDATES_FILE = "candidates.jsonl"
CHECKPOINT_FILE = "checkpoint.json"


# ---------------------------------------------------------------------------------------------
# RNG states


def rng_state(rng: np.random.Generator) -> dict[str, Any]:
    """Everything needed to continue the run's random streams: numpy, python ``random``, torch."""
    import torch

    py = random.getstate()
    return {
        "numpy": rng.bit_generator.state,
        "python": [py[0], list(py[1]), py[2]],
        "torch": base64.b64encode(torch.get_rng_state().numpy().tobytes()).decode("ascii"),
    }


def restore_rng(state: dict[str, Any]) -> np.random.Generator:
    """Restore the python and torch global RNGs and return the numpy Generator of ``state``."""
    import torch

    try:
        np_state = state["numpy"]
        bitgen_cls = getattr(np.random, np_state["bit_generator"])
        rng = np.random.Generator(bitgen_cls())
        rng.bit_generator.state = np_state
        py = state["python"]
        random.setstate((py[0], tuple(py[1]), py[2]))
        raw = np.frombuffer(base64.b64decode(state["torch"]), dtype=np.uint8).copy()
        torch.set_rng_state(torch.from_numpy(raw))
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as exc:
        raise CheckpointError(f"checkpoint has an unusable RNG state ({type(exc).__name__}: {exc})") from None
    return rng


# ---------------------------------------------------------------------------------------------
# the run directory


class RunDir:
    """An opened run directory. Use :meth:`create` for a new run and :meth:`open` to resume.

    Both take the directory's writer lock (:mod:`gp_opt.rundir.lock`) before they read or write
    anything and hold it until :meth:`close`; ``open(path, lock=False)`` reads without it."""

    def __init__(self, path: str | os.PathLike, meta: dict[str, Any], lock: RunLock | None = None):
        self.path = Path(path)
        self.meta = meta
        self.lock = lock
        self._fh = None  # the candidates log, opened for appending on first use
        self.n_lines = 0  # complete lines in candidates.jsonl

    # -- creation / opening ------------------------------------------------------------------

    @classmethod
    def create(cls, path: str | os.PathLike, config: dict[str, Any]) -> "RunDir":
        """A new run directory holding ``config``; refuses a directory that already holds a run
        or holds other files (a lock file and temp files of a writer killed while it created the
        run do not count: they are removed)."""
        path = Path(path)
        check_new(path)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CheckpointError(f"cannot create run directory {path}: {exc.strerror or exc}") from None
        lock = acquire(path)
        try:
            check_new(path)  # again, under the lock: another search may have won the race
            remove_stale_temps(path)
            meta = {"format": RUN_FORMAT, "version": FORMAT_VERSION, "run_id": uuid.uuid4().hex,
                    "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "config": clean(config)}
            meta["sha256"] = meta_digest(meta)
            atomic_write_text(path / RUN_FILE, json.dumps(meta, indent=2, sort_keys=True,
                                                          allow_nan=False) + "\n")
            rd = cls(path, meta, lock)
            rd._open_log(create=True)
        except BaseException:
            release(lock)
            raise
        return rd

    @classmethod
    def open(cls, path: str | os.PathLike, lock: bool = True) -> "RunDir":
        """Open an existing run directory (validates ``run.json``), holding its writer lock unless
        ``lock=False``; stale temp files of a killed writer are removed once the lock is held."""
        path = Path(path)
        run_file = path / RUN_FILE
        if path.exists() and not path.is_dir():
            raise CheckpointError(f"{path} is a file, not a run directory (give the folder "
                                  f"'gp-opt search --out' wrote)")
        if not path.is_dir():
            raise CheckpointError(f"{path} is not a run directory (it does not exist)")
        if not run_file.exists():
            raise CheckpointError(f"{path} is not a gp_opt run directory (no {RUN_FILE}; "
                                  f"start a run there with 'gp-opt search --out {path}')")
        held = acquire(path) if lock else None
        try:
            meta = read_meta(run_file)
            if held is not None:
                remove_stale_temps(path)
        except BaseException:
            if held is not None:
                release(held)
            raise
        return cls(path, meta, held)

    @property
    def config(self) -> dict[str, Any]:
        return self.meta["config"]

    @property
    def run_id(self) -> str:
        return self.meta["run_id"]

    # -- the candidates log ------------------------------------------------------------------

    def _open_log(self, create: bool = False) -> None:
        if self._fh is None:
            self._fh = open(self.path / CANDIDATES_FILE, "x" if create else "a", encoding="utf-8")

    def read_candidates(self, repair: bool = True) -> list[dict[str, Any]]:
        """All complete lines of the log. A half-written last line is dropped (and, with ``repair``,
        cut off the file so later appends start on a clean line); a bad line elsewhere is an error."""
        log = self.path / CANDIDATES_FILE
        if not log.exists():
            self.n_lines = 0
            return []
        data = log.read_bytes()
        lines: list[dict[str, Any]] = []
        good_end = 0
        pos = 0
        while pos < len(data):
            nl = data.find(b"\n", pos)
            end = len(data) if nl < 0 else nl
            raw = data[pos:end]
            try:
                item = json.loads(raw.decode("utf-8"))
                if not isinstance(item, dict):
                    raise ValueError("not an object")
            except (UnicodeDecodeError, ValueError):
                if nl < 0 or data[nl + 1:].strip() == b"":
                    break  # the torn tail of a killed write: drop it
                raise CheckpointError(f"{log} is corrupt at line {len(lines) + 1}") from None
            if item.get("seq") != len(lines):
                raise CheckpointError(f"{log} is corrupt: line {len(lines) + 1} has seq "
                                      f"{item.get('seq')!r}, expected {len(lines)}")
            lines.append(item)
            good_end = end + 1 if nl >= 0 else end
            pos = end + 1
        if repair and good_end != len(data):
            with open(log, "r+b") as fh:
                if good_end > 0 and data[good_end - 1:good_end] != b"\n":
                    fh.seek(good_end)
                    fh.write(b"\n")
                    good_end += 1
                fh.truncate(good_end)
                fh.flush()
                os.fsync(fh.fileno())
        self.n_lines = len(lines)
        return lines

    def append(self, item: dict[str, Any]) -> None:
        """Append one candidate line (must carry ``seq == n_lines``), flushed and fsynced."""
        if item.get("seq") != self.n_lines:
            raise CheckpointError(f"internal: candidate seq {item.get('seq')} != log length {self.n_lines}")
        self._open_log()
        self._fh.write(dumps(item) + "\n")
        self._fh.flush()
        sync(self._fh.fileno())
        self.n_lines += 1

    def append_many(self, items: list[dict[str, Any]]) -> None:
        """Append several candidate lines (``seq`` consecutive from ``n_lines``) with one write,
        flushed and fdatasync'ed once: the same durability as :meth:`append` for each of them."""
        if not items:
            return
        for k, item in enumerate(items):
            if item.get("seq") != self.n_lines + k:
                raise CheckpointError(f"internal: candidate seq {item.get('seq')} != log length "
                                      f"{self.n_lines + k}")
        self._open_log()
        self._fh.write("".join(dumps(item) + "\n" for item in items))
        self._fh.flush()
        sync(self._fh.fileno())
        self.n_lines += len(items)

    # -- checkpoint --------------------------------------------------------------------------

    def save_checkpoint(self, state: dict[str, Any]) -> None:
        body = clean(state)
        digest = hashlib.sha256(dumps(body).encode("utf-8")).hexdigest()
        doc = {"format": CHECKPOINT_FORMAT, "version": FORMAT_VERSION, "run_id": self.run_id,
               "saved": time.time(), "sha256": digest, "state": body}
        atomic_write_text(self.path / CHECKPOINT_FILE, json.dumps(doc, separators=(",", ":"),
                                                                  allow_nan=False) + "\n")

    def load_checkpoint(self) -> dict[str, Any] | None:
        """The saved state, or None when the run was killed before its first checkpoint."""
        path = self.path / CHECKPOINT_FILE
        if not path.exists():
            return None
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"{path} is corrupt (not valid JSON: {exc})") from None
        if not isinstance(doc, dict) or doc.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"{path} is not a gp_opt checkpoint (format {_fmt(doc)})")
        if doc.get("version") != FORMAT_VERSION:
            raise CheckpointError(f"{path} has format version {doc.get('version')!r}; this gp_opt "
                                  f"reads version {FORMAT_VERSION}")
        if doc.get("run_id") != self.run_id:
            raise CheckpointError(f"{path} belongs to another run (run_id {doc.get('run_id')!r}, "
                                  f"this directory is {self.run_id})")
        state = doc.get("state")
        if not isinstance(state, dict):
            raise CheckpointError(f"{path} is corrupt (no state)")
        if hashlib.sha256(dumps(state).encode("utf-8")).hexdigest() != doc.get("sha256"):
            raise CheckpointError(f"{path} is corrupt (checksum mismatch)")
        return state

    def close(self) -> None:
        """Close the log and give back the writer lock."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self.lock is not None:
            lock, self.lock = self.lock, None
            release(lock)

    def __enter__(self) -> "RunDir":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def meta_digest(meta: dict[str, Any]) -> str:
    """The sha256 ``run.json`` carries: of every field but ``sha256`` itself."""
    body = {k: v for k, v in meta.items() if k != "sha256"}
    return hashlib.sha256(dumps(body).encode("utf-8")).hexdigest()


def read_meta(run_file: Path) -> dict[str, Any]:
    """``run.json``, checked: format, version, fields and checksum."""
    try:
        meta = json.loads(run_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise CheckpointError(f"{run_file} is corrupt: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != RUN_FORMAT:
        raise CheckpointError(f"{run_file} is not a gp_opt run file (format {_fmt(meta)})")
    if meta.get("version") != FORMAT_VERSION:
        raise CheckpointError(f"{run_file} has format version {meta.get('version')!r}; this gp_opt "
                              f"reads version {FORMAT_VERSION}")
    if not isinstance(meta.get("config"), dict) or not isinstance(meta.get("run_id"), str):
        raise CheckpointError(f"{run_file} is corrupt: no config or run_id")
    if not isinstance(meta.get("sha256"), str):
        raise CheckpointError(f"{run_file} has no sha256 field (edited, or written by an older "
                              f"gp_opt); start a new run")
    if meta["sha256"] != meta_digest(meta):
        raise CheckpointError(f"{run_file} was edited (its sha256 does not match its config, "
                              f"run_id or format fields); a run's settings cannot change after it "
                              f"started -- start a new run with the settings you want")
    return meta


def check_new(path: Path) -> None:
    """Refuse ``path`` as the folder of a new run when it holds a run or other files."""
    if path.exists() and not path.is_dir():
        raise CheckpointError(f"{path} is a file; choose a new --out")
    if (path / RUN_FILE).exists():
        raise CheckpointError(f"{path} already holds a run; continue it with 'gp-opt resume {path}' "
                              f"or choose another --out")
    if path.is_dir():
        others = sorted(e.name for e in os.scandir(path)
                        if e.name != LOCK_FILE and not is_temp_name(e.name)
                        and not (e.name == CANDIDATES_FILE and e.is_file() and e.stat().st_size == 0))
        if others:
            shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
            raise CheckpointError(f"{path} is not empty and holds no run ({shown}); choose a new --out")


def _fmt(doc: Any) -> str:
    return repr(doc.get("format")) if isinstance(doc, dict) else f"<{type(doc).__name__}>"
