"""The project's one append-only log: JSON lines with chained checksums.

Every log gp_opt appends to -- a run's ``candidates.jsonl``, ``elimination/records.jsonl`` and
``holdout.jsonl``, a transfer's ``progress.jsonl`` -- is a :class:`JsonLog`:

- each line is one compact, key-sorted JSON object with a ``crc`` field: 16 hex digits of the
  sha256 of the previous line's ``crc`` (for the first line, the log's *chain start*: a run's
  ``run_id`` and the file's name) and the line's other fields. An edited, dropped, reordered or
  foreign line fails its own check or the next line's: it is refused with one line naming the
  file and the line number, and nothing is written;
- lines are written with one ``write`` and one ``fdatasync`` per batch, with SIGINT/SIGTERM held
  back meanwhile, so a kill leaves at most a cut last line. :meth:`JsonLog.read` leaves such a
  line out (also when it ends in a newline, or is not UTF-8); :meth:`JsonLog.repair_tail` moves it
  to ``NAME.damaged`` beside the log (appended, never lost) and cuts the log after its last good
  line, so the next append starts on a clean line and the cut line's work is done again;
- a log written before logs carried checksums (no line has a ``crc``) is read with one line
  saying so when the caller allows it (``legacy=True``), and sealed -- rewritten atomically with
  checksums -- by :meth:`JsonLog.repair_tail`, so later edits are caught. A log that mixes lines
  with and without checksums was edited and is refused;
- the file is opened with ``O_NOFOLLOW`` under a folder checked with
  :func:`gp_opt.rundir.files.check_inside`: a log that is a symbolic link, or lies under a link,
  is refused and the file it points to is never read, cut or appended to.

The checksums detect damage and edits made without gp_opt's code; they are not signatures: anyone
who can run gp_opt can compute them (docs/security.md).

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> log = JsonLog(d / "x.jsonl", "demo", root=d)
>>> log.read(), log.append_many([{"a": 1}, {"a": 2}]), len(JsonLog(d / "x.jsonl", "demo", root=d).read())
([], None, 2)
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable

from ..errors import CheckpointError
from .files import atomic_write_text, check_inside, clean, dumps, open_nofollow, signals_deferred, sync

CRC_FIELD = "crc"
DAMAGED_SUFFIX = ".damaged"

#: validates a line's fields once its checksum passed: ``check(line, "FILE line N")``
LineCheck = Callable[[dict[str, Any], str], None]


def print_notes(notes: list[str]) -> None:
    """Each line about a log's repair on stderr (``note: ...``), also when a command is quiet."""
    for text in notes:
        print(f"note: {text}", file=sys.stderr, flush=True)


def line_crc(prev: str, item: dict[str, Any]) -> str:
    """A log line's checksum: sha256 of the previous line's (the chain start for the first) and the
    line's other fields, 16 hex digits. Chaining makes a dropped, reordered or foreign line fail
    like an edited one."""
    return hashlib.sha256((prev + "\n" + dumps(item)).encode("utf-8")).hexdigest()[:16]


class JsonLog:
    """An append-only JSON-lines log at ``path`` with checksums chained from ``chain_start``.

    ``root``: the directory the log must stay inside (no symbolic link from there down, no path
    resolving outside). ``seq``: lines carry ``seq`` 0, 1, 2, ... (checked, for a clearer message
    than the checksum's). ``check``: validates each line's fields. ``legacy``: read (and seal on
    :meth:`repair_tail`) a log written before checksums, with a note, instead of refusing it.

    Read with :meth:`read` before appending: appends continue the chain of what it read."""

    def __init__(self, path: str | os.PathLike, chain_start: str, *, root: str | os.PathLike | None = None,
                 seq: bool = False, check: LineCheck | None = None, legacy: bool = False):
        self.path = Path(path)
        self.chain_start = chain_start
        self.root = Path(root) if root is not None else self.path.parent
        self.seq = seq
        self.check = check
        self.allow_legacy = legacy
        self.crcs: list[str] = []  # the chained checksum of each good line
        self.n_lines = 0
        self.torn = b""  # a cut last line found by read, not yet moved away
        self.legacy = False  # the log read holds no checksums (sealed by repair_tail)
        self.notes: list[str] = []  # one line each: what read found and repair_tail did
        self._lines: list[dict[str, Any]] = []
        self._good_end = 0
        self._needs_newline = False
        self._fd: int | None = None

    @property
    def damaged_path(self) -> Path:
        return self.path.with_name(self.path.name + DAMAGED_SUFFIX)

    # -- reading -------------------------------------------------------------------------------

    def _read_bytes(self) -> bytes | None:
        check_inside(self.root, self.path)
        try:
            fd = open_nofollow(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        with os.fdopen(fd, "rb") as fh:
            return fh.read()

    def read(self, repair: bool = True) -> list[dict[str, Any]]:
        """The log's good lines, each checked against its chained checksum (and ``seq`` and
        ``check``): an edited or damaged line before the last is a :class:`CheckpointError` naming
        the file and the line. A cut last line is left out and kept in :attr:`torn`; with
        ``repair`` it is moved aside at once (:meth:`repair_tail`). ``repair=False`` checks
        everything before anything changes (and is all a reader without the lock may do)."""
        self.torn, self.crcs, self.notes, self._lines = b"", [], [], []
        self.legacy, self._good_end, self._needs_newline = False, 0, False
        data = self._read_bytes()
        if data is None:
            self.n_lines = 0
            return []
        lines: list[dict[str, Any]] = []
        prev = self.chain_start
        pos = 0
        good_end = 0
        while pos < len(data):
            nl = data.find(b"\n", pos)
            end = len(data) if nl < 0 else nl
            n = len(lines) + 1
            where = f"{self.path} line {n}"
            try:
                item = json.loads(data[pos:end].decode("utf-8"))
                if not isinstance(item, dict):
                    raise ValueError("not an object")
            except (UnicodeDecodeError, ValueError, RecursionError):
                if nl < 0 or data[nl + 1:].strip() == b"":
                    break  # the cut tail of a killed write (with or without its newline)
                raise CheckpointError(f"{where} is damaged (not a JSON object); restore the file from a "
                                      f"backup, or delete that line to redo its work") from None
            crc = item.pop(CRC_FIELD, None)
            if n == 1 and crc is None and self.allow_legacy:
                self.legacy = True
            if self.legacy:
                if crc is not None:
                    raise CheckpointError(f"{where} has a checksum but line 1 has none: lines were edited or "
                                          f"copied in; restore the file from a backup")
            elif not isinstance(crc, str):
                raise CheckpointError(f"{where} has no {CRC_FIELD} field (edited, or written by an older "
                                      f"gp_opt); restore the file from a backup")
            if self.seq and item.get("seq") != len(lines):
                raise CheckpointError(f"{where} has seq {item.get('seq')!r}, expected {len(lines)}: lines were "
                                      f"dropped, reordered or written by two processes; restore the file")
            if self.legacy:
                crc = line_crc(prev, clean(item))
            elif line_crc(prev, item) != crc:
                shown = f" (seq {len(lines)})" if self.seq else ""
                raise CheckpointError(f"{where}{shown} was edited or comes from another run or file (checksum "
                                      f"mismatch); restore the original line, or the file from a backup")
            if self.check is not None:
                self.check(item, where)
            prev = crc
            self.crcs.append(crc)
            lines.append(item)
            good_end = end + 1 if nl >= 0 else end
            pos = end + 1
        self.torn = data[good_end:]
        self._good_end = good_end
        self._needs_newline = good_end > 0 and data[good_end - 1:good_end] != b"\n"
        self.n_lines = len(lines)
        self._lines = lines
        if self.legacy:
            self.notes.append(f"{self.path} was written before gp_opt's logs carried checksums: its {len(lines)} "
                              f"lines are taken as they are" + (" and sealed now" if repair else "")
                              + " (an edit made before this cannot be detected)")
        if repair:
            self.repair_tail()
        return [dict(x) for x in lines]

    def crc_at(self, n: int) -> str:
        """The chained checksum of the first ``n`` lines (the chain start for none)."""
        if n == 0:
            return self.chain_start
        if not 0 < n <= len(self.crcs):
            raise CheckpointError(f"{self.path} has {len(self.crcs)} lines, fewer than the {n} expected; "
                                  f"restore it from a backup")
        return self.crcs[n - 1]

    # -- repairing -----------------------------------------------------------------------------

    def repair_tail(self) -> int:
        """Move the cut last line :meth:`read` found to ``NAME.damaged`` (appended, never lost), cut
        the log after its last good line, and seal a legacy log. Returns the bytes moved (and adds
        a line saying so to :attr:`notes`). Needs the writer lock."""
        moved = len(self.torn)
        if moved and self.torn.strip():
            check_inside(self.root, self.damaged_path)
            fd = open_nofollow(self.damaged_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            with os.fdopen(fd, "ab") as fh:
                fh.write(self.torn if self.torn.endswith(b"\n") else self.torn + b"\n")
                fh.flush()
                os.fsync(fh.fileno())
            self.notes.append(f"moved the cut last line of {self.path.name} ({moved} bytes) to "
                              f"{self.damaged_path.name}; its work is done again")
        if self.legacy:
            self._seal()
        elif moved or self._needs_newline:
            fd = open_nofollow(self.path, os.O_RDWR)
            with os.fdopen(fd, "r+b") as fh:
                good_end = self._good_end
                if self._needs_newline:
                    fh.seek(good_end)
                    fh.write(b"\n")
                    good_end += 1
                fh.truncate(good_end)
                fh.flush()
                os.fsync(fh.fileno())
        self.torn, self._needs_newline = b"", False
        return moved

    def _seal(self) -> None:
        """Rewrite a legacy log with checksums (atomically: the old file or the sealed one)."""
        self.close()
        text = "".join(dumps(dict(clean(item), **{CRC_FIELD: crc})) + "\n"
                       for item, crc in zip(self._lines, self.crcs))
        atomic_write_text(self.path, text, root=self.root)
        self.legacy = False

    # -- appending -----------------------------------------------------------------------------

    def _chain(self, items: list[dict[str, Any]]) -> tuple[str, list[str]]:
        prev = self.crcs[-1] if self.crcs else self.chain_start
        out, crcs = [], []
        for k, item in enumerate(items):
            if self.seq and item.get("seq") != self.n_lines + k:
                raise CheckpointError(f"internal: {self.path.name} line seq {item.get('seq')} != log length "
                                      f"{self.n_lines + k}")
            body = clean({key: v for key, v in item.items() if key != CRC_FIELD})
            prev = line_crc(prev, body)
            out.append(dumps(dict(body, **{CRC_FIELD: prev})) + "\n")
            crcs.append(prev)
        return "".join(out), crcs

    def append(self, item: dict[str, Any]) -> None:
        """Append one line, flushed and fdatasync'ed."""
        self.append_many([item])

    def append_many(self, items: list[dict[str, Any]]) -> None:
        """Append several lines with one write and one fdatasync: the same durability as
        :meth:`append` for each. A cut tail must have been repaired first."""
        if not items:
            return
        if self.torn.strip() or self._needs_newline or self.legacy:
            raise CheckpointError(f"internal: {self.path} appended to before its cut last line was repaired")
        # the lines and n_lines/crcs change together: Ctrl-C waits for the write to finish
        with signals_deferred():
            text, crcs = self._chain(items)
            try:
                if self._fd is None:
                    check_inside(self.root, self.path)
                    self._fd = open_nofollow(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
                data = text.encode("utf-8")
                written = 0
                while written < len(data):
                    written += os.write(self._fd, data[written:])
                sync(self._fd)
            except OSError as exc:  # e.g. a full disk: name the log
                raise OSError(exc.errno or errno.EIO, exc.strerror or str(exc), str(self.path)) from None
            self.crcs.extend(crcs)
            self.n_lines += len(items)

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)
