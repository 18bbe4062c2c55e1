"""Simplification with a deadline (sympy's simplify in a forked child)."""
from __future__ import annotations

import functools
import multiprocessing
import re
import time

import sympy as sp

from gp_opt import functions as F
from gp_opt.symbolic.build import LEAF_CLASSES, xreplace_safe


# ---------------------------------------------------------------- simplification with a deadline
@functools.lru_cache(maxsize=1)
def _namespace() -> dict:
    ns: dict = {}
    exec("from sympy import *", ns)  # noqa: S102 - sympy's own names, to read srepr back
    ns.update(F.FUNCTIONS)
    for cls in LEAF_CLASSES.values():
        ns[cls.__name__] = cls
    return ns


def _cheap(expr: sp.Expr) -> sp.Expr:
    """A few passes that are cheap on the expressions a genome makes."""
    out = sp.powsimp(expr)
    out = sp.factor_terms(out)
    return out


def _worker(expr, conn) -> None:  # runs in a forked child
    try:
        conn.send(sp.srepr(_cheap(expr)))
        conn.send(sp.srepr(sp.simplify(expr)))
    except Exception:  # noqa: BLE001
        pass
    finally:
        try:
            conn.send(None)
        finally:
            conn.close()


def _to_real(expr: sp.Expr) -> tuple[sp.Expr, dict]:
    base = {"g": {"real": True}, "w": {"real": True}, "t": {"integer": True, "nonnegative": True},
            "T": {"integer": True, "positive": True}}
    fwd = {}
    for s in expr.free_symbols:
        if s.assumptions0:
            continue
        if s.name in base:
            fwd[s] = sp.Symbol(s.name, **base[s.name])
        elif re.fullmatch(r"[a-z]+(_hat)?", s.name):  # moving averages: real
            fwd[s] = sp.Symbol(s.name, real=True)
    return xreplace_safe(expr, fwd), {v: k for k, v in fwd.items()}


def simplify(expr: sp.Expr, timeout: float = 5.0) -> sp.Expr:
    """``sympy.simplify`` within ``timeout`` seconds; never hangs.

    The work runs in a forked worker process that is killed at the deadline; the best result
    received by then (cheap passes first, then the full simplify) is returned, else ``expr``
    itself. Base symbols are taken real while simplifying.
    """
    if timeout is None or timeout <= 0:
        return expr
    # the deadline counts from the call: the preparation and reading results back are inside it
    deadline = time.monotonic() + timeout
    try:
        ctx = multiprocessing.get_context("fork")
    except ValueError:  # no fork on this platform: cheap passes only
        return expr
    real, back = _to_real(expr)
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_worker, args=(real, send), daemon=True)
    best, best_ops = real, None
    try:
        proc.start()
        send.close()
        ns = _namespace()  # built once per process (the first call would otherwise pay for it late)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not recv.poll(remaining):
                break
            try:
                msg = recv.recv()
            except (EOFError, OSError):
                break
            if msg is None or time.monotonic() >= deadline:
                break
            try:
                cand = eval(msg, ns)  # noqa: S307 - srepr from our own child process
            except Exception:  # noqa: BLE001
                continue
            ops = sp.count_ops(cand)
            if best_ops is None:
                best_ops = sp.count_ops(real)
            if ops <= best_ops:
                best, best_ops = cand, ops
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(1.0)
        recv.close()
    return xreplace_safe(best, back, False)
