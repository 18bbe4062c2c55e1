"""Interrupts: SIGINT (Ctrl-C) and SIGTERM stop a verb cleanly with one line and exit 130 / 143.

A verb says how to go on with :func:`on_interrupt` (``on_interrupt(out, f"gp-opt resume {out}")``);
:func:`gp_opt.cli.main` runs it inside :class:`signals_as_interrupts` and prints
:func:`interrupted_line` when :class:`Interrupted` reaches it."""
from __future__ import annotations

from pathlib import Path


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived: unwinds like Ctrl-C (``finally`` blocks write what is known,
    the run directory's lock is given back), then :func:`gp_opt.cli.main` exits 128 + signal."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


#: what the interrupted line says: ``run_dir`` (its checkpoint gives the step) and ``resume``
#: (the command that continues); set by a verb with :func:`on_interrupt`
interrupt_hint: dict = {}


def on_interrupt(run_dir=None, resume: str | None = None, kept: str | None = None) -> None:
    """Say how to continue when this verb is interrupted, e.g.
    ``on_interrupt(out, f"gp-opt resume {out}")`` (``gp-opt eliminate`` passes its own); ``kept``
    says what was saved (``transfer``: its finished entries)."""
    interrupt_hint.update(run_dir=run_dir, resume=resume, kept=kept)


def interrupted_line() -> str:
    """``interrupted at step k; continue with: gp-opt resume DIR`` (or what the verb set)."""
    run_dir, resume = interrupt_hint.get("run_dir"), interrupt_hint.get("resume")
    where = "interrupted"
    if run_dir is not None:
        if not (Path(run_dir) / "run.json").exists():
            return "interrupted before the run started; nothing was saved"
        step = _checkpoint_step(Path(run_dir))
        where = ("interrupted during the initial population" if step is None
                 else f"interrupted at step {step}")
    kept = interrupt_hint.get("kept")
    if kept:
        where = f"{where}; {kept}"
    return f"{where}; continue with: {resume}" if resume else f"{where}; nothing was saved"


def _checkpoint_step(run_dir: Path):
    import json

    try:
        doc = json.loads((run_dir / "checkpoint.json").read_text(encoding="utf-8"))
        step = doc["state"]["step"]
        return step if isinstance(step, int) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


class signals_as_interrupts:
    """While active (main thread only), SIGINT and SIGTERM raise :class:`Interrupted`; a second
    signal while the first unwinds is ignored so the cleanup finishes.

    Python drops an exception raised inside a finalizer (a ``__del__``, a weakref callback, a
    collected generator's ``finally``) and reports it to :data:`sys.unraisablehook`; a signal that
    lands there would be lost and the verb would run on. While active, that hook sends the same
    signal to the main thread again a moment later, once the finalizer has returned."""

    SIGNALS = ("SIGINT", "SIGTERM")
    #: seconds between a swallowed interrupt and its second delivery
    REDELIVER_AFTER = 0.05

    def __enter__(self):
        import signal
        import sys
        import threading

        self._old = {}
        self._fired = False
        self._redeliver = None
        self._old_hook = None
        if threading.current_thread() is not threading.main_thread():
            return self
        for name in self.SIGNALS:
            sig = getattr(signal, name, None)
            if sig is not None:
                self._old[sig] = signal.signal(sig, self._handle)
        self._old_hook = sys.unraisablehook
        sys.unraisablehook = self._unraisable
        return self

    def _handle(self, signum, frame):
        if self._fired:
            return  # already unwinding: let the cleanup finish
        self._fired = True
        raise Interrupted(signum)

    def _unraisable(self, unraisable):
        exc = unraisable.exc_value
        if not (isinstance(exc, Interrupted) and self._fired):
            self._old_hook(unraisable)
            return
        import signal
        import threading

        # raising again here would be dropped too: a timer thread sends the signal to the main
        # thread, whose handler then raises outside the finalizer
        self._fired = False
        main = threading.main_thread().ident
        self._redeliver = threading.Timer(self.REDELIVER_AFTER, signal.pthread_kill, (main, exc.signum))
        self._redeliver.daemon = True
        self._redeliver.start()

    def __exit__(self, *exc):
        import signal
        import sys

        if self._redeliver is not None:
            self._redeliver.cancel()
        if self._old_hook is not None:
            sys.unraisablehook = self._old_hook
        for sig, old in self._old.items():
            signal.signal(sig, old)
        return False
