"""A SIGTERM that lands inside a finalizer (where Python drops exceptions) still stops the verb:
``signals_as_interrupts`` delivers it again once the finalizer has returned."""
from __future__ import annotations

import gc
import os
import signal
import sys
import time

import pytest

from gp_opt.cli.interrupts import Interrupted, signals_as_interrupts

pytestmark = pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs POSIX signals")


class _SignalledWhileFinalized:
    """Its ``__del__`` sends SIGTERM to this process and runs Python until the handler has fired,
    so the handler's exception is raised inside the finalizer."""

    def __del__(self):
        os.kill(os.getpid(), signal.SIGTERM)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # bytecode, so the pending handler runs in here
            time.sleep(0.001)


def test_an_interrupt_raised_inside_a_finalizer_is_delivered_again():
    seen = []
    old_hook = sys.unraisablehook
    with pytest.raises(Interrupted) as info:
        with signals_as_interrupts():
            inner = sys.unraisablehook
            sys.unraisablehook = lambda u: (seen.append(u.exc_type), inner(u))
            try:
                obj = _SignalledWhileFinalized()
                del obj
                gc.collect()
                deadline = time.monotonic() + 3
                while time.monotonic() < deadline:  # the verb's work, which must be interrupted
                    time.sleep(0.001)
            finally:
                sys.unraisablehook = inner
    assert seen == [Interrupted]  # the first one was swallowed by the finalizer, the second one stopped the block
    assert info.value.exit_code == 128 + signal.SIGTERM
    assert sys.unraisablehook is old_hook and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
