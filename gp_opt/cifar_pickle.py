"""CIFAR's "python version" batch files read by an unpickler that cannot run code.

The official batches are pickles (Python 2's cPickle, protocol 2) of a dict holding byte strings,
lists of ints and byte strings, and one numpy ``uint8`` array. Unpickling a file as it is lets it
call any importable function, so a crafted ``data_batch_1`` could run ``os.system``. Here every
global a pickle names is looked up in :data:`ALLOWED_GLOBALS` (the constructors numpy's own pickles
of arrays, dtypes and scalars reference, under numpy 1.x's ``numpy.core`` and numpy 2.x's
``numpy._core`` names, plus Python 3's protocol-2 form of ``bytes``); any other is refused with one
line naming the file and the global, before anything of it runs. What was read is then checked
against the official layout (:func:`read_batch`).

>>> import io, pickle
>>> class Payload:
...     def __reduce__(self):
...         return (eval, ("'this never runs'",))
>>> try:
...     safe_load(io.BytesIO(pickle.dumps(Payload())), "evil")
... except DataError as e:
...     print(e)
evil: refused: the pickle calls builtins.eval; a CIFAR batch file holds only dicts, strings, lists of ints and numpy arrays
"""
from __future__ import annotations

import codecs
import os
import pickle
from typing import Any, BinaryIO

import numpy as np

from gp_opt.errors import DataError

__all__ = ["ALLOWED_GLOBALS", "safe_load", "read_batch"]

#: pixels per image in a batch row: 3 channels of 32 x 32
ROW_BYTES = 3 * 32 * 32


def _numpy_function(name: str):
    """The installed numpy's ``multiarray``/``numeric`` helper ``name`` (numpy 2.x moved them
    from ``numpy.core`` to ``numpy._core``; the file may name either)."""
    try:
        from numpy._core import multiarray, numeric  # numpy >= 2
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray, numeric  # type: ignore[no-redef]
    return getattr(multiarray, name, None) or getattr(numeric, name)


def _latin1_bytes(text: str, encoding: str = "latin1") -> bytes:
    """Python 3 pickles ``bytes`` at protocol 2 as ``_codecs.encode(text, 'latin1')``: only that
    codec is admitted (another could decompress or otherwise transform the data)."""
    if not isinstance(text, str) or codecs.lookup(encoding).name != "iso8859-1":
        raise _Forbidden(f"_codecs.encode with the codec {encoding!r} (only latin1 rebuilds bytes)")
    return text.encode("latin1")


def _allowed() -> dict[tuple[str, str], Any]:
    reconstruct, scalar, frombuffer = (_numpy_function(n) for n in ("_reconstruct", "scalar", "_frombuffer"))
    table: dict[tuple[str, str], Any] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
                                         ("_codecs", "encode"): _latin1_bytes}
    for core in ("numpy.core", "numpy._core"):
        table[(f"{core}.multiarray", "_reconstruct")] = reconstruct  # arrays, protocols 0-4
        table[(f"{core}.multiarray", "scalar")] = scalar  # a numpy integer, e.g. a label
        table[(f"{core}.numeric", "_frombuffer")] = frombuffer  # arrays, protocol 5
    return table


#: (module, name) a pickle may reference -> the object it gets; nothing else is importable
ALLOWED_GLOBALS: dict[tuple[str, str], Any] = _allowed()


class _BatchUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise _Forbidden(f"{module}.{name}") from None

    def persistent_load(self, pid: Any) -> Any:
        raise _Forbidden("a persistent id")


class _Forbidden(pickle.UnpicklingError):
    pass


def safe_load(fh: BinaryIO, where: str) -> Any:
    """Unpickle ``fh`` admitting only :data:`ALLOWED_GLOBALS` (Python 2 strings as bytes); any
    other global, or a file that is not a pickle, is a :class:`DataError` naming ``where``."""
    try:
        return _BatchUnpickler(fh, encoding="bytes").load()
    except _Forbidden as exc:
        raise DataError(f"{where}: refused: the pickle calls {exc}; a CIFAR batch file holds only dicts, "
                        "strings, lists of ints and numpy arrays") from None
    except Exception as exc:  # noqa: BLE001 - any other unpickling problem is a damaged file
        text = " ".join(str(exc).split())[:120]
        raise DataError(f"{where}: not a CIFAR 'python version' batch file ({type(exc).__name__}: {text})") from None


def _labels(value: Any, where: str, key: str, n: int, num_classes: int) -> np.ndarray:
    if isinstance(value, np.ndarray):
        ok = value.ndim == 1 and np.issubdtype(value.dtype, np.integer)
    else:
        ok = isinstance(value, list) and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                             for v in value)
    if not ok:
        raise DataError(f"{where}: {key!r} must be a list of integer labels, got {type(value).__name__}")
    labels = np.asarray(value, dtype=np.int64).reshape(-1)
    if labels.shape != (n,):
        raise DataError(f"{where}: {labels.shape[0]} labels for {n} images")
    if n and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        bad = int(labels.min()) if int(labels.min()) < 0 else int(labels.max())
        raise DataError(f"{where}: {key!r} holds label {bad}; labels lie in 0..{num_classes - 1}")
    return labels


def read_batch(file: str | os.PathLike, label_key: str, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(N, 3, 32, 32)`` uint8 and labels ``(N,)`` int64 in ``0..num_classes-1`` from one
    batch file, read with :func:`safe_load` and checked against the official layout: a dict with
    ``data`` (uint8, N x 3072) and ``label_key``. Anything else is a :class:`DataError`."""
    where = os.fspath(file)
    if not os.path.isfile(file):  # a pipe or a device would block or never end
        raise DataError(f"{where}: not a regular file")
    try:
        with open(file, "rb") as fh:
            d = safe_load(fh, where)
    except OSError as exc:
        raise DataError(f"{where}: cannot read ({exc.strerror or exc})") from None
    if not isinstance(d, dict):
        raise DataError(f"{where}: expected a pickled dict, found {type(d).__name__}")
    if not all(isinstance(k, (bytes, str)) for k in d):
        raise DataError(f"{where}: the dict's keys must be strings")
    d = {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in d.items()}
    if "data" not in d or label_key not in d:
        raise DataError(f"{where}: missing key 'data' or {label_key!r} (found {', '.join(sorted(d))})")
    data = d["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != ROW_BYTES:
        shape = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DataError(f"{where}: 'data' must be a uint8 array of shape (N, {ROW_BYTES}), got {shape}")
    labels = _labels(d[label_key], where, label_key, data.shape[0], num_classes)
    return np.ascontiguousarray(data).reshape(-1, 3, 32, 32), labels
