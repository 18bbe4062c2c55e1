"""A run directory that never loses work.

Layout of ``DIR``:

- ``run.json`` -- format name, format version, a random ``run_id`` and the run's config (written
  once, atomically, when the run is created).
- ``candidates.jsonl`` -- append-only, one JSON line per candidate as soon as its fitness is known
  (evaluated or taken from the cache): ``seq`` (0, 1, 2, ...), ids (phase, step, particle, slot,
  attempt), ``key``, ``individual`` (JSON), ``record`` (:class:`FitnessRecord` dict with its
  stages), ``cache_hit``, timings and ``crc`` (a :class:`~gp_opt.rundir.jsonlog.JsonLog` chained
  from the ``run_id``). Lines are flushed and fdatasync'ed before the search starts another slow
  evaluation and at the end of every batch (cheap ones known together share one write and one
  sync).
- ``checkpoint.json`` -- the algorithm state after the last finished time step (positions,
  histories, hall of fame, logbook, counters, ``n_logged`` and the numpy / python / torch RNG
  states), written atomically: temp file, fsync, ``os.replace``, fsync of the directory. It carries
  the ``run_id`` and a sha256 of its state so a corrupt or foreign file is caught.

Resuming loads the checkpoint, rebuilds the fitness cache from the first ``n_logged`` lines of the
log, and *replays* the lines after them: the restored RNG re-generates the same children, and those
already in the log take their fitness from it instead of being evaluated again. A half-written last
line (a kill mid-write) is moved to ``candidates.jsonl.damaged`` and evaluated again. Readers
(``eliminate``, ``report``, ``show``) compare the log with the checkpoint
(:meth:`RunDir.log_shortfall`). Every problem with the directory raises
:class:`gp_opt.errors.CheckpointError` with a one-line message.
"""
from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import random
import time
import uuid
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

from ..errors import CheckpointError
from .carried import GRAMMAR_FILE, write_grammar
from .checkpoint import check_line, check_state
from .files import atomic_write_text, clean, dumps, is_temp_name, make_dirs, open_nofollow, remove_stale_temps
from .jsonlog import JsonLog
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
        self._log: JsonLog | None = None  # candidates.jsonl, made on first use

    # -- creation / opening ------------------------------------------------------------------

    @classmethod
    def create(cls, path: str | os.PathLike, config: dict[str, Any], grammar_text: str | None = None) -> "RunDir":
        """A new run directory holding ``config``; refuses a directory that already holds a run
        or holds other files (a lock file, temp files and a grammar copy of a writer killed while
        it created the run do not count: they are removed or replaced). ``grammar_text``: the
        run's grammar copy (:mod:`gp_opt.rundir.carried`), written before ``run.json`` and checked
        against the sha256 ``config["toolbox"]["grammar"]`` records."""
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
            if grammar_text is not None:
                write_grammar(path, (config.get("toolbox") or {}).get("grammar") or {}, grammar_text)
            atomic_write_text(path / RUN_FILE, json.dumps(meta, indent=2, sort_keys=True,
                                                          allow_nan=False) + "\n", root=path)
            rd = cls(path, meta, lock)
            fd = open_nofollow(path / CANDIDATES_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
            os.close(fd)
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

    @property
    def log(self) -> JsonLog:
        """``candidates.jsonl`` (:class:`~gp_opt.rundir.jsonlog.JsonLog`, chained from the run_id)."""
        if self._log is None:
            self._log = JsonLog(self.path / CANDIDATES_FILE, self.run_id, root=self.path, seq=True, check=check_line)
        return self._log

    @property
    def n_lines(self) -> int:
        """Complete lines in ``candidates.jsonl`` (read, then appended)."""
        return self.log.n_lines

    @property
    def crcs(self) -> list[str]:
        """The chained checksum of each line."""
        return self.log.crcs

    @property
    def torn(self) -> bytes:
        """A cut last line found by :meth:`read_candidates`, not yet moved away."""
        return self.log.torn

    def read_candidates(self, repair: bool = True) -> list[dict[str, Any]]:
        """All complete lines of the log, each checked against its chained checksum (an edited,
        reordered, dropped or foreign line is a :class:`CheckpointError` naming it).

        A cut last line (a kill mid-write, or a copy that stopped short) is left out and kept in
        :attr:`torn`; with ``repair`` it is moved to ``candidates.jsonl.damaged`` at once (see
        :meth:`repair_tail`). Call with ``repair=False`` to check everything before changing
        anything."""
        try:
            return self.log.read(repair=repair)
        except CheckpointError as exc:
            if "no crc field" in str(exc):  # candidates.jsonl has always carried them: an edit
                raise CheckpointError(str(exc).replace("restore the file from a backup", "start a new run")) from None
            raise

    @property
    def damaged_path(self) -> Path:
        return self.log.damaged_path

    def repair_tail(self) -> int:
        """Move the cut last line found by :meth:`read_candidates` to ``candidates.jsonl.damaged``
        (appended, never lost) and cut the log after its last complete line, so appends start on
        a clean line. Returns the number of bytes moved. Needs the writer lock."""
        return self.log.repair_tail()

    def append(self, item: dict[str, Any]) -> None:
        """Append one candidate line (must carry ``seq == n_lines``), flushed and fsynced."""
        self.append_many([item])

    def append_many(self, items: list[dict[str, Any]]) -> None:
        """Append several candidate lines (``seq`` consecutive from ``n_lines``) with one write,
        flushed and fdatasync'ed once: the same durability as :meth:`append` for each of them."""
        if items and self._log is None and self.n_lines == 0:
            self.log.read(repair=False)  # a new run's empty log: nothing to chain from but the run_id
        self.log.append_many(items)

    def log_crc(self, n: int) -> str:
        """The chained checksum of the first ``n`` log lines (the run_id for none)."""
        if not 0 <= n <= len(self.crcs):
            raise CheckpointError(f"{self.path / CANDIDATES_FILE} has {len(self.crcs)} lines but "
                                  f"the checkpoint counts {n}; restore the log from a backup")
        return self.log.crc_at(n)

    def log_shortfall(self, state: dict[str, Any] | None) -> str | None:
        """For a reader, after :meth:`read_candidates`: a sentence saying that ``candidates.jsonl``
        is shorter than the checkpoint ``state`` counts (lines were cut off), or None when it is not.
        Lines that differ from those the checkpoint was saved with are a :class:`CheckpointError`."""
        n = state.get("n_logged") if isinstance(state, dict) else None
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            return None
        log = self.path / CANDIDATES_FILE
        if n > self.n_lines:
            cut = " and its last line is cut" if self.torn.strip() else ""
            return f"{log} has {self.n_lines} complete lines but {CHECKPOINT_FILE} counts {n}{cut}: the log was cut short"
        if state.get("log_crc") != self.log_crc(n):
            raise CheckpointError(f"{log}: its first {n} lines differ from those {CHECKPOINT_FILE} was saved with "
                                  f"(edited, or copied from another run); restore the matching files")
        return None

    # -- checkpoint --------------------------------------------------------------------------

    def save_checkpoint(self, state: dict[str, Any]) -> None:
        """Replace ``checkpoint.json`` atomically with ``state``, its sha256 and (when it has
        ``n_logged``) the chained checksum ``log_crc`` of the log lines it covers."""
        if "n_logged" in state:
            state = dict(state, log_crc=self.log_crc(int(state["n_logged"])))
        body = clean(state)
        digest = hashlib.sha256(dumps(body).encode("utf-8")).hexdigest()
        doc = {"format": CHECKPOINT_FORMAT, "version": FORMAT_VERSION, "run_id": self.run_id,
               "saved": time.time(), "sha256": digest, "state": body}
        atomic_write_text(self.path / CHECKPOINT_FILE, json.dumps(doc, separators=(",", ":"),
                                                                  allow_nan=False) + "\n", root=self.path)

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
            raise CheckpointError(f"{path} is corrupt or was edited (checksum mismatch); restore it, "
                                  f"or delete it to replay the run from its log")
        return state

    def check_state(self, state: dict[str, Any], algorithms: Mapping[str, str]) -> None:
        """Check a loaded checkpoint against the run's config and the log read by
        :meth:`read_candidates`: every field's type and range (``algorithms``: as for
        :func:`.checkpoint.check_state`), and ``log_crc`` against the checksum of the first
        ``n_logged`` lines (an edited, swapped or foreign log)."""
        where = str(self.path / CHECKPOINT_FILE)
        check_state(state, self.config, self.n_lines, where, algorithms)
        if self.log_crc(state["n_logged"]) != state["log_crc"]:
            raise CheckpointError(f"{where} does not match candidates.jsonl (the first "
                                  f"{state['n_logged']} lines differ from those it was saved with); "
                                  f"restore the matching files or start a new run")

    def counts_torn_line(self, state: dict[str, Any] | None) -> bool:
        """Whether ``state`` counts the cut last line :meth:`read_candidates` left out (the line
        was on disk when the checkpoint was saved, then damaged)."""
        return (state is not None and bool(self.torn.strip()) and isinstance(state.get("n_logged"), int)
                and state["n_logged"] == self.n_lines + 1)

    def close(self) -> None:
        """Close the log and give back the writer lock."""
        if self._log is not None:
            self._log.close()
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


def enclosing_run(folder: str | os.PathLike) -> Path | None:
    """The nearest folder at or above ``folder`` (as written, made absolute) that holds a run
    (a ``run.json``), or None: ``RUN/transfer`` -> ``RUN``."""
    here = Path(os.path.abspath(folder))
    for candidate in (here, *here.parents):
        if (candidate / RUN_FILE).is_file():
            return candidate
    return None


@contextlib.contextmanager
def lock_output(folder: str | os.PathLike, own_lock: bool = True) -> Iterator[Path]:
    """Hold the writer locks a verb needs to write into ``folder`` (created if missing): the lock of
    the run directory it lies in, if any (``transfer -o RUN/transfer`` while a live ``eliminate``
    writes RUN: refused, naming its PID), then ``folder``'s own (``own_lock``; two identical
    ``transfer -o DIR`` at once: the second is refused). Neither waits. A folder inside a run reached
    through a symbolic link is refused (:func:`~gp_opt.rundir.files.check_inside`)."""
    folder = Path(folder)
    run = enclosing_run(folder)
    held: list[RunLock] = []
    try:
        if run is not None:
            held.append(acquire(run))
            make_dirs(run, Path(os.path.abspath(folder)))
        else:
            folder.mkdir(parents=True, exist_ok=True)
        if own_lock:
            held.append(acquire(folder))
        yield folder
    finally:
        for lock in reversed(held):
            release(lock)


def check_new(path: Path) -> None:
    """Refuse ``path`` as the folder of a new run when it holds a run or other files."""
    if path.exists() and not path.is_dir():
        raise CheckpointError(f"{path} is a file; choose a new --out")
    if (path / RUN_FILE).exists():
        raise CheckpointError(f"{path} already holds a run; continue it with 'gp-opt resume {path}' "
                              f"or choose another --out")
    if path.is_dir():
        others = sorted(e.name for e in os.scandir(path)
                        if e.name not in (LOCK_FILE, GRAMMAR_FILE) and not is_temp_name(e.name)
                        and not (e.name == CANDIDATES_FILE and e.is_file() and e.stat().st_size == 0))
        if others:
            shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
            raise CheckpointError(f"{path} is not empty and holds no run ({shown}); choose a new --out")


def _fmt(doc: Any) -> str:
    return repr(doc.get("format")) if isinstance(doc, dict) else f"<{type(doc).__name__}>"
