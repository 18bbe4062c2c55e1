"""Files a writer shares: strict JSON, atomic replacement, and no writing through links.

Every file of a run directory other than the append-only log is replaced atomically -- a temp file
beside it (``.NAME.XXXX.tmp``), fsync, ``os.replace``, fsync of the directory -- so a reader sees
the old file or the new one, never half of one. A writer killed between the temp file and the
rename leaves the temp file behind; the next writer (holding the run's lock, see
:mod:`gp_opt.rundir.lock`) removes it with :func:`remove_stale_temps`.

Nothing gp_opt writes inside a run directory goes through a symbolic link or leaves the directory:
:func:`check_inside` refuses a path with a link anywhere from the directory down or one that
resolves outside it, :func:`open_nofollow` opens with ``O_NOFOLLOW`` (and refuses what is not a
regular file), and :func:`atomic_write_text` never replaces a link. A received run directory can
therefore not make gp_opt write, truncate or append to a file elsewhere.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> atomic_write_json(d / "best.json", {"fitness": float("inf")})
>>> (d / "best.json").read_text()
'{\\n  "fitness": "inf"\\n}\\n'
"""
from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import signal
import stat
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CheckpointError

#: a temp file of :func:`atomic_write_text`: ``.<target name>.<random>.tmp``
TEMP_PREFIX = "."
TEMP_SUFFIX = ".tmp"


def clean(obj: Any) -> Any:
    """Make ``obj`` standard JSON: numpy scalars -> python, non-finite floats -> "inf"/"-inf"/"nan".

    >>> clean({"a": np.float32(1.5), "b": [float("nan")], 3: (True,)})
    {'a': 1.5, 'b': ['nan'], '3': [True]}
    """
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
    """Compact, key-sorted, strict JSON (never a bare ``NaN``): one log line or a hashed body."""
    return json.dumps(clean(obj), sort_keys=True, separators=(",", ":"), allow_nan=False)


# fdatasync flushes the appended bytes and the new file size (all a reader needs) without the
# inode's timestamps: the same durability for the log at a fraction of fsync's cost.
sync = getattr(os, "fdatasync", os.fsync)


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in ``path`` durable (no-op where directories cannot be opened)."""
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


@contextlib.contextmanager
def signals_deferred():
    """Hold SIGINT and SIGTERM back (they are delivered when the block ends) so that a write and
    the bookkeeping of what was written finish together: Ctrl-C never leaves half a log batch or a
    line written twice. Main thread only; elsewhere a no-op."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


class UnsafePathError(CheckpointError):
    """A path gp_opt would write is a symbolic link, lies under one, or resolves outside the
    directory it belongs to (one line; exit 2 on the command line)."""


def check_inside(root: str | os.PathLike, path: str | os.PathLike) -> None:
    """Refuse to write ``path`` unless it lies inside ``root`` with no symbolic link on the way:
    every component below ``root`` (``path`` itself included, when it exists) is checked, and so
    is the resolved path. ``root`` itself may be a link: the user named it."""
    root, path = Path(root), Path(path)
    try:
        rel = path.relative_to(root)
    except ValueError:
        raise UnsafePathError(f"{path} is not inside {root}; gp_opt writes only inside the directory") from None
    if ".." in rel.parts:
        raise UnsafePathError(f"{path} leaves {root} ('..'); gp_opt writes only inside the directory")
    here = root
    for part in rel.parts:
        here = here / part
        if os.path.islink(here):
            raise UnsafePathError(f"{here} is a symbolic link; gp_opt does not write through links in {root} "
                                  f"(remove the link, then run again)")
    real_root, real = os.path.realpath(root), os.path.realpath(path)
    if os.path.commonpath([real_root, real]) != real_root:
        raise UnsafePathError(f"{path} resolves to {real}, outside {root}; gp_opt writes only inside the directory")


def open_nofollow(path: str | os.PathLike, flags: int, mode: int = 0o644) -> int:
    """``os.open`` that refuses a symbolic link at ``path`` and anything but a regular file (a
    named pipe would block), with one line: :class:`UnsafePathError`. Missing files raise
    :class:`FileNotFoundError` as usual (unless ``flags`` has ``O_CREAT``)."""
    extra = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags | extra, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP or (exc.errno == errno.EMLINK and os.path.islink(path)):
            raise UnsafePathError(f"{path} is a symbolic link; gp_opt does not read or write logs through "
                                  f"links (remove the link, then run again)") from None
        if isinstance(exc, FileNotFoundError):
            raise
        raise OSError(exc.errno or errno.EIO, exc.strerror or str(exc), str(path)) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UnsafePathError(f"{path} is not a regular file; gp_opt reads and writes only regular files there")
    if extra & getattr(os, "O_NONBLOCK", 0):
        os.set_blocking(fd, True)
    return fd


def atomic_write_text(path: str | os.PathLike, text: str, root: str | os.PathLike | None = None) -> None:
    """Write ``text`` to ``path`` so that a reader sees the old or the new file, never half of one.

    ``root``: the directory ``path`` must stay inside (:func:`check_inside`). A symbolic link at
    ``path`` is refused either way (:class:`UnsafePathError`), never replaced or followed.
    A failure (a full disk, a missing folder) raises an :class:`OSError` that names ``path``."""
    path = Path(path)
    if root is not None:
        check_inside(root, path)
    elif os.path.islink(path):
        raise UnsafePathError(f"{path} is a symbolic link; gp_opt does not write through links (remove it, "
                              f"then run again)")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    except OSError as exc:
        raise OSError(exc.errno or errno.EIO, exc.strerror or str(exc), str(path)) from None
    try:
        # mkstemp makes the file 0600; the finished file gets the mode open() would give it
        # (0666 less the umask), like every other file the user writes
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise OSError(exc.errno or errno.EIO, exc.strerror or str(exc), str(path)) from None
        raise
    fsync_dir(path.parent)


def _umask() -> int:
    """The process's umask: read from /proc where the system has it (setting it to read it back
    is not thread-safe), else set and restored at once."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_json(path: str | os.PathLike, obj: Any, indent: int | None = 2,
                      root: str | os.PathLike | None = None) -> None:
    """:func:`atomic_write_text` of ``obj`` as strict JSON (non-finite floats as strings)."""
    text = json.dumps(clean(obj), indent=indent, sort_keys=True, allow_nan=False)
    atomic_write_text(path, text + "\n", root=root)


def make_dirs(root: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Create the folder ``path`` inside ``root`` (and its parents), refusing links on the way."""
    check_inside(root, path)
    Path(path).mkdir(parents=True, exist_ok=True)
    check_inside(root, path)  # not replaced by a link meanwhile
    return Path(path)


def is_temp_name(name: str) -> bool:
    """Whether ``name`` is a temp file :func:`atomic_write_text` makes."""
    return name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX) and name.count(".") >= 3


def remove_stale_temps(folder: str | os.PathLike) -> list[str]:
    """Delete the temp files a killed writer left in ``folder`` (not recursive); their names.

    Call it only while holding the run's lock: another live writer's temp file is not stale."""
    folder = Path(folder)
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if entry.is_file(follow_symlinks=False) and is_temp_name(entry.name):
            try:
                os.unlink(entry.path)
                removed.append(entry.name)
            except OSError:  # pragma: no cover - removed meanwhile or not ours to remove
                pass
    return sorted(removed)
