"""What a run directory may make gp_opt load: its own copy of its grammar, and its task only when
the user names it again.

A run keeps the grammar it searched as ``grammar.toml`` (self-contained: what it extended is written
out, see :mod:`gp_opt.grammar_copy`), and ``run.json`` records that file's sha256 in
``config.toolbox.grammar`` as ``{"file": "grammar.toml", "name": ..., "sha256": ...}``. Every verb
reads the grammar from that copy, checked against the hash, and never from a path: a run directory
received from someone else cannot make gp_opt open a file outside it. A run made before runs kept a
copy records a path (or nothing, for the default grammar): the default grammar still loads; for
any other, :func:`run_grammar` says in one line how to give the run its copy.

A task given as ``module:attribute`` is code. Recorded in ``run.json`` it is imported by
``resume`` only when the user names it again on the command line (``--task``) or passes
``--trust-task``; :func:`check_task` refuses otherwise, before anything runs.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import CheckpointError, GpOptError

#: the run's copy of its grammar, beside run.json
GRAMMAR_FILE = "grammar.toml"


def grammar_record(grammar: Any) -> tuple[dict[str, str], str]:
    """What ``run.json`` records of ``grammar`` and the text of the copy written beside it."""
    from .. import grammar_copy

    text = grammar_copy.to_toml(grammar)
    return {"file": GRAMMAR_FILE, "name": grammar.name, "sha256": grammar_copy.digest(text)}, text


def write_grammar(run_dir: str | os.PathLike, record: dict[str, str], text: str) -> None:
    """Write the run's grammar copy (atomically), checked against ``record``."""
    from .. import grammar_copy
    from .files import atomic_write_text

    if grammar_copy.digest(text) != record.get("sha256"):
        raise CheckpointError("internal: the grammar copy does not match its recorded sha256")
    atomic_write_text(Path(run_dir) / GRAMMAR_FILE, text)


def _read_copy(path: Path) -> str:
    """The copy's text; a link, a named pipe or other non-regular file, or text that is not UTF-8
    is refused in one line."""
    from .files import open_nofollow

    try:
        fd = open_nofollow(path, os.O_RDONLY)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read the run's grammar copy: {exc.strerror or exc}; "
                              f"restore it from a backup of the run") from None
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(2_000_001)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CheckpointError(f"{path} is not UTF-8 text (damaged); restore it from a backup") from None


def run_grammar(run_dir: str | os.PathLike | None, toolbox_config: dict[str, Any] | None) -> Any:
    """The grammar of the run in ``run_dir`` whose ``config.toolbox`` is ``toolbox_config``: its
    copy, checked against the sha256 ``run.json`` records; the default grammar for a run that
    records none. Raises :class:`CheckpointError` (one line saying what to do)."""
    from .. import grammar_copy
    from .. import grammar as grammar_mod
    from ..catalog import builtin_twin

    record = (toolbox_config or {}).get("grammar")
    if record is None or record == grammar_mod.DEFAULT:
        return grammar_mod.load()
    if run_dir is None:
        raise CheckpointError("the run's grammar is read from its run directory: pass the directory")
    run_dir = Path(run_dir)
    path = run_dir / GRAMMAR_FILE
    if isinstance(record, dict):
        text = _read_copy(path)
        if grammar_copy.digest(text) != record.get("sha256"):
            raise CheckpointError(f"{path} does not match the sha256 run.json records for it (edited "
                                  f"or replaced); restore the run's own grammar.toml")
        grammar = builtin_twin(grammar_copy.from_text(text, str(path)))
        if grammar.name != record.get("name"):
            raise CheckpointError(f"{path} holds grammar {grammar.name!r}, run.json records "
                                  f"{record.get('name')!r}")
        return grammar
    if isinstance(record, str):
        if path.is_file() or path.is_symlink():  # a copy the user put there (a run from before copies)
            return builtin_twin(grammar_copy.from_text(_read_copy(path), str(path)))
        raise CheckpointError(
            f"{run_dir} was made before runs kept a copy of their grammar and names it by path "
            f"({record!r}); gp_opt no longer reads files a run directory points to: copy that grammar "
            f"file into the run as {path} (it may extend only \"default\") and run the command again")
    raise CheckpointError(f"{run_dir / 'run.json'}: config.toolbox.grammar is {type(record).__name__}, "
                          f"not a grammar record")


def is_code(task: Any) -> bool:
    """Whether a recorded task is code to import (``module:attribute``), not a built-in name."""
    return isinstance(task, str) and ":" in task


def check_task(run_dir: str | os.PathLike, task: Any, named: str | None = None, trust: bool = False,
               verb: str = "resume") -> None:
    """Refuse to import a run's recorded ``module:attribute`` task unless the user named it again
    (``named``, from ``--task``) or passed ``--trust-task`` (``trust``). A named task that differs
    from the recorded one is refused as well. Raises :class:`GpOptError` (one line, nothing run)."""
    if named is not None and named != task:
        raise GpOptError(f"--task {named!r}: the run in {run_dir} was searched with task {task!r}; "
                         f"a run continues with its own task")
    if not is_code(task) or trust or named == task:
        return
    raise GpOptError(f"{run_dir}: the run's task {task!r} is Python code named by run.json; gp_opt "
                     f"imports it only when you name it: gp-opt {verb} {run_dir} --task {task} "
                     f"(or --trust-task)")
