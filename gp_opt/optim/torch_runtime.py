"""The runtime of an exported torch module, as code that linters and tests read.

:func:`gp_opt.optim.export.export_source` copies the definitions below, by their source text,
into every standalone torch module, as the engine kernels and base schedules are copied from
:mod:`gp_opt.functions` and :mod:`gp_opt.optim.schedules`: ``_Ctx`` (the engine serving the
stateful, random and reducing ops) and ``Evolved``, the ``torch.optim.Optimizer`` (renamed after
the optimizer there, e.g. ``Opt6``).

A generated module defines the genome's own ``STATE_KEYS``, ``NEEDS_W``, ``DECAYS`` and ``update``
before this code. Here they are those of plain SGD (``U = g``, no state, no decay function), so
this module is itself a working optimizer:

>>> w = torch.nn.Parameter(torch.ones(2))
>>> opt = Evolved([w], lr=0.1, total_steps=10, warmup_steps=0)
>>> w.grad = torch.ones(2)
>>> _ = opt.step()
>>> w.tolist()  # no warm-up: the schedule's first step is the peak lr
[0.8999999761581421, 0.8999999761581421]
"""
import torch

from gp_opt.functions import delta_kernel, dropout_kernel, ema_kernel, norm_kernel, running_max_kernel
from gp_opt.optim.schedules import base_lr_table, momentum_table

__all__ = ["Evolved", "COPIED"]

#: The definitions a generated module copies, in the order it writes them.
COPIED = ("_Ctx", "Evolved")

# ---------------------------------------------------------------- the genome (here: plain SGD)
STATE_KEYS: list = []
NEEDS_W = False
DECAYS: list = []


def update(g, w, state, ctx, t, lr, mu, d, out=None):
    """The weight change of one parameter; a generated module prints the genome's."""
    return torch.mul(g, -lr, out=out)


# ---------------------------------------------------------------- copied into every export
class _Ctx:
    """Serves the ops that keep state, draw random numbers or reduce over the tensor."""

    def __init__(self, state, t, like):
        self.state, self.t, self.like = state, t, like

    def const(self, value):
        return torch.tensor(value, dtype=self.like.dtype, device=self.like.device)

    def full(self, x):
        return torch.zeros_like(self.like).add_(x)

    def ema(self, x, beta, key):
        out, new = ema_kernel(x, self.state[key], self.t, beta)
        self.state[key].copy_(new)
        return out

    def delta(self, x, key):
        out, new = delta_kernel(x, self.state[key])
        self.state[key].copy_(new)
        return out

    def running_max(self, x, key):
        out, new = running_max_kernel(x, self.state[key])
        self.state[key].copy_(new)
        return out

    def dropout(self, x, p, key=None):
        return dropout_kernel(x, p)

    def norm(self, x, key=None):
        return norm_kernel(x, torch.linalg.vector_norm(x))


class Evolved(torch.optim.Optimizer):
    """An evolved optimizer (see the module docstring).

    ``Evolved(params, lr, total_steps, warmup_steps=0, hold_steps=0, momentum_schedule=True)``:
    ``lr`` is the peak of the one-cycle cosine schedule with ``warmup_steps`` of linear warm-up
    and ``hold_steps`` at the peak, over ``total_steps``; ``momentum_schedule`` True uses the
    one-cycle momentum (0.95 -> 0.85 -> 0.95), False a constant 0.9, a number that constant.
    Steps past ``total_steps`` reuse the last step's schedule values. bfloat16/float16 parameters
    keep float32 state.
    """

    def __init__(self, params, lr, total_steps, warmup_steps=0, hold_steps=0, momentum_schedule=True):
        defaults = dict(lr=lr, total_steps=int(total_steps), warmup_steps=int(warmup_steps),
                        hold_steps=int(hold_steps), momentum_schedule=momentum_schedule,
                        base_schedule=True, step=0)
        super().__init__(params, defaults)
        self._tables = {}

    def _schedule(self, group):
        key = (group["total_steps"], group["warmup_steps"], group["hold_steps"])
        if key not in self._tables:
            T = key[0]
            ts = torch.arange(T, dtype=torch.float64)
            decays = [f(ts, float(T)).tolist() for f in DECAYS]
            self._tables[key] = (base_lr_table(*key), momentum_table(*key), decays)
        base, mus, decays = self._tables[key]
        t = min(max(group["step"], 0), key[0] - 1)
        lr = group["lr"] * (base[t] if group["base_schedule"] else 1.0)
        ms = group["momentum_schedule"]
        mu = mus[t] if ms is True else (0.9 if ms is False else float(ms))
        return lr, mu, [d[t] for d in decays]

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, mu, d = self._schedule(group)
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                dtype = torch.float32 if p.dtype in (torch.bfloat16, torch.float16) else p.dtype
                if not state:
                    state["step"] = 0
                    for key in STATE_KEYS:
                        state[key] = torch.zeros_like(p, dtype=dtype)
                g = p.grad.to(dtype)
                w = p.detach().to(dtype) if NEEDS_W else None
                t = state["step"]
                p.add_(update(g, w, state, _Ctx(state, t, g), t, lr, mu, d))
                state["step"] = t + 1
            group["step"] += 1
        return loss
