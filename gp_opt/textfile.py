"""Reading a text file a user names (a genome, a task spec): regular files only, a size limit,
strict UTF-8, and every problem one error naming the file.

A named pipe or a device given as a file would block the reader or never end, and a file in
another encoding would surface as a UnicodeDecodeError traceback; both are refused here.
"""
from __future__ import annotations

import os
import stat

from gp_opt.errors import GpOptError

__all__ = ["read_text", "check_regular_file"]

#: the default size limit: far above any genome or settings file
MAX_TEXT_BYTES = 16 * 1024 * 1024


def check_regular_file(path: str | os.PathLike, error: type[GpOptError] = GpOptError) -> None:
    """Raise ``error`` naming ``path`` unless it is a regular file (symlinks to one are fine);
    a missing file is the OSError of ``os.stat``."""
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise error(f"{os.fspath(path)}: not a regular file ({_kind(mode)}); give a file")


def _kind(mode: int) -> str:
    for test, word in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return word
    return "not a plain file"


def read_text(path: str | os.PathLike, error: type[GpOptError] = GpOptError,
              max_bytes: int = MAX_TEXT_BYTES) -> str:
    """The UTF-8 text of the regular file ``path``. A pipe, device or directory, a file over
    ``max_bytes`` or one that is not UTF-8 raises ``error`` (one line naming the file, and for
    UTF-8 the offset of the first bad byte); a missing or unreadable file raises OSError."""
    where = os.fspath(path)
    # O_NONBLOCK: opening a named pipe for reading would otherwise wait for a writer
    fd = os.open(where, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    # checked before fdopen, which refuses a directory with its own IsADirectoryError
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise error(f"{where}: not a regular file ({_kind(mode)}); give a file")
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise error(f"{where}: larger than {max_bytes} bytes; not a file this reads")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{where}: not UTF-8 text (byte {data[exc.start]:#04x} at offset {exc.start})") from None
