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
import math
import os
import random
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from .errors import CheckpointError

RUN_FORMAT = "gp_opt.run"
CHECKPOINT_FORMAT = "gp_opt.checkpoint"
FORMAT_VERSION = 1

RUN_FILE = "run.json"
CANDIDATES_FILE = "candidates.jsonl"
CHECKPOINT_FILE = "checkpoint.json"


# ---------------------------------------------------------------------------------------------
# JSON helpers


def clean(obj: Any) -> Any:
    """Make ``obj`` standard JSON: numpy scalars -> python, non-finite floats -> "inf"/"-inf"/"nan"."""
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else str(f)
    if isinstance(obj, np.ndarray):
        return clean(obj.tolist())
    return obj


def dumps(obj: Any) -> str:
    return json.dumps(clean(obj), sort_keys=True, separators=(",", ":"), allow_nan=False)


# fdatasync flushes the appended bytes and the new file size (all a reader needs) without the
# inode's timestamps: the same durability for the log at a fraction of fsync's cost.
_sync = getattr(os, "fdatasync", os.fsync)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader sees the old or the new file, never half of one."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(path.parent)


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
    """An opened run directory. Use :meth:`create` for a new run and :meth:`open` to resume."""

    def __init__(self, path: str | os.PathLike, meta: dict[str, Any]):
        self.path = Path(path)
        self.meta = meta
        self._fh = None  # the candidates log, opened for appending on first use
        self.n_lines = 0  # complete lines in candidates.jsonl

    # -- creation / opening ------------------------------------------------------------------

    @classmethod
    def create(cls, path: str | os.PathLike, config: dict[str, Any]) -> "RunDir":
        """A new run directory holding ``config``; refuses a directory that already holds a run."""
        path = Path(path)
        if (path / RUN_FILE).exists() or (path / CANDIDATES_FILE).exists():
            raise CheckpointError(f"{path} already holds a run; resume it or choose another --out")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CheckpointError(f"cannot create run directory {path}: {exc.strerror or exc}") from None
        meta = {"format": RUN_FORMAT, "version": FORMAT_VERSION, "run_id": uuid.uuid4().hex,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "config": clean(config)}
        atomic_write_text(path / RUN_FILE, json.dumps(meta, indent=2, sort_keys=True) + "\n")
        rd = cls(path, meta)
        rd._open_log(create=True)
        return rd

    @classmethod
    def open(cls, path: str | os.PathLike) -> "RunDir":
        """Open an existing run directory (validates ``run.json``)."""
        path = Path(path)
        run_file = path / RUN_FILE
        if not path.is_dir():
            raise CheckpointError(f"{path} is not a run directory (it does not exist)")
        if not run_file.exists():
            raise CheckpointError(f"{path} is not a gp_opt run directory (no {RUN_FILE})")
        try:
            meta = json.loads(run_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"{run_file} is corrupt: {exc}") from None
        if not isinstance(meta, dict) or meta.get("format") != RUN_FORMAT:
            raise CheckpointError(f"{run_file} is not a gp_opt run file (format {_fmt(meta)})")
        if meta.get("version") != FORMAT_VERSION:
            raise CheckpointError(f"{run_file} has format version {meta.get('version')!r}; this gp_opt "
                                  f"reads version {FORMAT_VERSION}")
        if not isinstance(meta.get("config"), dict) or not isinstance(meta.get("run_id"), str):
            raise CheckpointError(f"{run_file} is corrupt: no config or run_id")
        return cls(path, meta)

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
        _sync(self._fh.fileno())
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
        _sync(self._fh.fileno())
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
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> "RunDir":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _fmt(doc: Any) -> str:
    return repr(doc.get("format")) if isinstance(doc, dict) else f"<{type(doc).__name__}>"
