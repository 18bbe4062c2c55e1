"""A run directory that never loses work, written by one process at a time.

Layout of ``DIR``:

- ``.lock`` -- the writer lock (:mod:`gp_opt.rundir.lock`): ``search``, ``resume`` and every
  command that writes into ``DIR`` hold it while they run; it names the writer's PID.
- ``run.json`` -- format name, format version, a random ``run_id``, the run's config and a sha256
  of them (written once, atomically, when the run is created; an edit is refused).
- ``candidates.jsonl`` -- append-only, one JSON line per candidate as soon as its fitness is known
  (evaluated or taken from the cache): ``seq`` (0, 1, 2, ...), ids (phase, step, particle, slot,
  attempt), ``key``, ``individual`` (JSON), ``record`` (:class:`FitnessRecord` dict with its
  stages), ``cache_hit``, timings and ``crc``, a checksum of the line's other fields chained to
  the previous line's, so an edited, dropped, reordered or foreign line is refused by number.
- ``checkpoint.json`` -- the algorithm state after the last finished time step, written
  atomically, with the ``run_id``, a sha256 of its state and the chained checksum of the log
  lines it covers.
- ``grammar.toml`` -- the run's copy of its grammar, self-contained; ``run.json`` records its
  sha256 and every verb reads the grammar from it (:mod:`~gp_opt.rundir.carried`).
- ``best.json`` -- the best genome with its fitness summary, learning rate, task and preset (and
  the whole grammar when it is not built in, so the file loads anywhere).

Modules: :mod:`~gp_opt.rundir.files` (strict JSON, atomic writes, stale temp files),
:mod:`~gp_opt.rundir.lock` (the writer lock), :mod:`~gp_opt.rundir.jsonlog` (the project's one
append-only log with chained checksums, :class:`JsonLog`), :mod:`~gp_opt.rundir.core`
(:class:`RunDir`: the log, the checkpoint, RNG states), :mod:`~gp_opt.rundir.carried` (the grammar
copy; a recorded ``module:attribute`` task imported only when the user names it). Nothing is written
through a symbolic link or outside the directory (:func:`check_inside`). Every problem with a
directory raises :class:`gp_opt.errors.CheckpointError` with a one-line message that says what to do.
"""
from .carried import GRAMMAR_FILE, check_task, run_grammar
from .core import (CANDIDATES_FILE, CHECKPOINT_FILE, CHECKPOINT_FORMAT, FORMAT_VERSION, RUN_FILE,
                   RUN_FORMAT, RunDir, enclosing_run, lock_output, restore_rng, rng_state)
from .files import (UnsafePathError, atomic_write_json, atomic_write_text, check_inside, clean, dumps, make_dirs,
                    remove_stale_temps)
from .jsonlog import JsonLog
from .lock import LOCK_FILE, RunLockedError, check_not_written, lock_run, writer_pid

__all__ = ["CANDIDATES_FILE", "CHECKPOINT_FILE", "CHECKPOINT_FORMAT", "FORMAT_VERSION", "GRAMMAR_FILE", "LOCK_FILE",
           "RUN_FILE", "RUN_FORMAT", "JsonLog", "RunDir", "RunLockedError", "UnsafePathError",
           "atomic_write_json", "atomic_write_text", "check_inside", "check_not_written", "check_task", "clean",
           "dumps", "enclosing_run", "lock_output", "lock_run", "make_dirs", "remove_stale_temps", "restore_rng",
           "rng_state", "run_grammar", "writer_pid"]
