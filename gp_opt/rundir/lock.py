"""One writer per run directory: an OS lock on ``DIR/.lock``.

Every command that writes into a run directory (``search``, ``resume``, ``eliminate``, ...)
holds :func:`lock_run` for as long as it writes, and takes it *before* it reads or repairs
anything. The lock is ``fcntl.flock`` on an open file: the kernel releases it when the process
exits in any way (SIGKILL included), so a killed writer never leaves a stale lock behind. The
file holds the writer's PID so that a refused second writer can name it.

Read-only commands (``report``, ``show``) call :func:`writer_pid` to learn whether a run is
being written right now and skip or refuse it.

>>> import tempfile
>>> d = tempfile.mkdtemp()
>>> writer_pid(d) is None
True
>>> with lock_run(d) as lock:
...     writer_pid(d) == os.getpid() == lock.pid
True
>>> writer_pid(d) is None
True
"""
from __future__ import annotations

import contextlib
import errno
import os
import threading
import time
from pathlib import Path
from typing import Iterator

from ..errors import CheckpointError
from .files import open_nofollow

try:  # POSIX; elsewhere the lock is a no-op (documented in docs/search.md)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = ".lock"


class RunLockedError(CheckpointError):
    """Another live process writes the run directory (``pid`` names it; 0 when unknown)."""

    def __init__(self, path: Path, pid: int):
        self.path = Path(path)
        self.pid = pid
        who = f"process {pid}" if pid else "another process"
        super().__init__(f"{path} is being written by {who}; wait for it to finish or stop it "
                         f"(kill {pid or 'PID'}), then try again")


class RunLock:
    """A held lock: ``path`` (the run directory), ``pid`` (this process)."""

    def __init__(self, path: Path, fd: int):
        self.path = path
        self.fd = fd
        self.pid = os.getpid()
        self.depth = 1

    def __repr__(self) -> str:
        return f"RunLock({str(self.path)!r}, pid={self.pid})"


# Locks this process holds, by resolved directory: taking the lock again in the same process (a
# search that calls a helper which also locks) nests instead of refusing itself.
_held: dict[str, RunLock] = {}
_held_guard = threading.Lock()


def _read_pid(fd: int) -> int:
    try:
        raw = os.pread(fd, 32, 0)
        return int(raw.decode("ascii").strip() or 0)
    except (OSError, ValueError, UnicodeDecodeError):
        return 0


def acquire(path: str | os.PathLike) -> RunLock:
    """Take the lock of the (existing) run directory ``path`` or raise :class:`RunLockedError`.

    Prefer :func:`lock_run`; pair this with :func:`release`."""
    path = Path(path)
    key = str(path.resolve())
    with _held_guard:
        held = _held.get(key)
        if held is not None and held.pid == os.getpid():
            held.depth += 1
            return held
        # never through a link: a planted RUN/.lock -> elsewhere would have that file cut to a PID
        fd = open_nofollow(path / LOCK_FILE, os.O_RDWR | os.O_CREAT)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise
                pid = _holder_pid(fd)
                os.close(fd)
                raise RunLockedError(path, pid) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        lock = RunLock(path, fd)
        _held[key] = lock
        return lock


def release(lock: RunLock) -> None:
    """Give back a lock from :func:`acquire` (the last nested release unlocks)."""
    with _held_guard:
        lock.depth -= 1
        if lock.depth > 0:
            return
        key = str(lock.path.resolve())
        if _held.get(key) is lock:
            del _held[key]
        # the PID is left in the file: a reader that sees it without the lock knows it is stale
        try:
            if fcntl is not None:
                fcntl.flock(lock.fd, fcntl.LOCK_UN)
        finally:
            os.close(lock.fd)


@contextlib.contextmanager
def lock_run(path: str | os.PathLike) -> Iterator[RunLock]:
    """Hold the run directory's writer lock for the ``with`` block.

    Raises :class:`RunLockedError` (a :class:`~gp_opt.errors.CheckpointError`: one line, exit 2
    on the command line) naming the holder's PID when another live process writes ``path``."""
    lock = acquire(path)
    try:
        yield lock
    finally:
        release(lock)


def _holder_pid(fd: int) -> int:
    # the holder writes its PID right after taking the lock: give it a moment
    for _ in range(50):
        pid = _read_pid(fd)
        if pid:
            return pid
        time.sleep(0.01)
    return 0


def writer_pid(path: str | os.PathLike) -> int | None:
    """The PID of the live process writing the run directory ``path``, or None when nobody does.

    Returns 0 when a writer holds the lock but its PID cannot be read. Never blocks, never creates
    or changes a file: safe for read-only commands."""
    path = Path(path)
    with _held_guard:
        held = _held.get(str(path.resolve()))
        if held is not None and held.pid == os.getpid():
            return held.pid
    if fcntl is None:  # pragma: no cover
        return None
    try:
        fd = open_nofollow(path / LOCK_FILE, os.O_RDONLY)
    except (OSError, CheckpointError):  # none, or a link: no writer of ours holds it
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return _holder_pid(fd)
            raise
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def check_not_written(path: str | os.PathLike, what: str = "read") -> None:
    """Raise :class:`RunLockedError` when a live process writes ``path`` (for read-only commands
    that must not read a half-finished run, e.g. ``report``)."""
    pid = writer_pid(path)
    if pid is not None and pid != os.getpid():
        raise RunLockedError(Path(path), pid)
