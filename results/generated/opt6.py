r"""Opt6: an optimizer discovered with gp_opt, as a standalone PyTorch module.

U = QH / |dtanh(a4) exp(1e-4 w)|; lr x LR1 (so lr x LR2 with U = QH / exp(1e-4 w))

Genome: OptimizerGenome(h0=exp(wd4), h1=abs(h0), out=div(qh_g, h1); momentum=none)
Momentum: none; w <- w - lr U.

Update U (LaTeX; decay functions written inline):

    \frac{\operatorname{QH}\left(g\right) \operatorname{erfc}{\left(\operatorname{erfc}{\left(a_{4} \right)} \right)}}{\left(1 - \tanh^{2}{\left(a_{8} \right)}\right) e^{0.0001 w} \left|{\tanh^{2}{\left(a_{4} \right)} - 1}\right| + 1.0 \cdot 10^{-7}}

Learning-rate factor carried by its decay functions, lr_t = lr * base(t) * F(t) (LaTeX):

    \frac{\operatorname{erfc}{\left(\operatorname{erfc}{\left(\frac{1}{2} - \frac{\cos{\left(\frac{\pi t}{T} \right)}}{2} \right)} \right)}}{\left(1 - \left(\tanh^{2}{\left(\frac{1}{2} - \left(\frac{\cos{\left(\frac{\pi \left(2 t \bmod T\right)}{T} \right)}}{2}\right) \right)}\right)\right) \left|{\tanh^{2}{\left(\frac{1}{2} - \frac{\cos{\left(\frac{\pi t}{T} \right)}}{2} \right)} - 1}\right|}

Base schedule: one-cycle cosine with linear warm-up and hold (SPEC section 1).
Written by gp_opt.optim.export_torch; depends on torch only.
"""


import math

import torch


STATE_KEYS = ['v']
NEEDS_W = True
# engine ops used: none


# ---------------------------------------------------------------- schedules
MU_HIGH, MU_LOW = 0.95, 0.85


def _check(total_steps: int, warmup_steps: int, hold_steps: int) -> tuple[int, int, int]:
    T, W, H = int(total_steps), int(warmup_steps), int(hold_steps)
    if T < 1:
        raise ValueError(f"total_steps must be at least 1, got {total_steps!r}")
    if W < 0 or H < 0 or W + H > T:
        raise ValueError(f"need 0 <= warmup_steps, hold_steps and warmup_steps + hold_steps <= "
                         f"total_steps, got W={warmup_steps!r}, H={hold_steps!r}, T={total_steps!r}")
    return T, W, H

def base_lr_factor(t: int, total_steps: int, warmup_steps: int = 0, hold_steps: int = 0) -> float:
    """SPEC section 1's base schedule at 0-based step ``t`` as a multiple of the peak rate.

    ``t/W`` for ``t < W``; 1 for ``W <= t <= W+H``; ``0.5 (1 + cos(pi (t-W-H)/(T-W-H)))`` after.
    ``t >= T`` is clamped to ``T - 1``.
    """
    T, W, H = _check(total_steps, warmup_steps, hold_steps)
    t = min(max(int(t), 0), T - 1)
    if t < W:
        return t / W
    if t <= W + H:
        return 1.0
    return 0.5 * (1.0 + math.cos(math.pi * (t - W - H) / (T - W - H)))

def base_lr_table(total_steps: int, warmup_steps: int = 0, hold_steps: int = 0) -> list[float]:
    """:func:`base_lr_factor` for every step ``0..T-1``."""
    return [base_lr_factor(t, total_steps, warmup_steps, hold_steps) for t in range(int(total_steps))]

def _linspace(a: float, b: float, n: int) -> list[float]:
    if n <= 0:
        return []
    if n == 1:
        return [a]
    return [a + (b - a) * i / (n - 1) for i in range(n)]

def momentum_table(total_steps: int, warmup_steps: int = 0, hold_steps: int = 0) -> list[float]:
    """The one-cycle momentum ``mu_t`` for ``t = 0..T-1`` (SPEC section 1)."""
    T, W, H = _check(total_steps, warmup_steps, hold_steps)
    return _linspace(MU_HIGH, MU_LOW, W) + [MU_LOW] * H + _linspace(MU_LOW, MU_HIGH, T - W - H)


# ---------------------------------------------------------------- decay functions
def decay_0(t, T):
    """Decay function on edge h0 -> h1: DecayGenome({'h0': {'op': 'identity', 'inputs': ['a4']}, 'out': {'op': 'dtanh', 'inputs': ['h0']}})."""
    s_a4 = torch.as_tensor(0.5 - torch.cos(3.141592653589793 * t / T) / 2, dtype=t.dtype).expand_as(t)  # a4: cosine increase
    n_h0 = torch.as_tensor(s_a4, dtype=t.dtype).expand_as(t)  # h0 = identity(a4)
    n_out = torch.as_tensor(1 - torch.tanh(n_h0) ** 2, dtype=t.dtype).expand_as(t)  # out = dtanh(h0)
    return n_out


def decay_1(t, T):
    """Decay function on edge qh_g -> out: DecayGenome({'h0': {'op': 'erfc', 'inputs': ['a4']}, 'out': {'op': 'erfc', 'inputs': ['h0']}})."""
    s_a4 = torch.as_tensor(0.5 - torch.cos(3.141592653589793 * t / T) / 2, dtype=t.dtype).expand_as(t)  # a4: cosine increase
    n_h0 = torch.as_tensor(torch.erfc(s_a4), dtype=t.dtype).expand_as(t)  # h0 = erfc(a4)
    n_out = torch.as_tensor(torch.erfc(n_h0), dtype=t.dtype).expand_as(t)  # out = erfc(h0)
    return n_out


def decay_2(t, T):
    """Decay function on edge h1 -> out: DecayGenome({'h0': {'op': 'identity', 'inputs': ['a8']}, 'out': {'op': 'dtanh', 'inputs': ['h0']}})."""
    s_a8 = torch.as_tensor(0.5 - torch.cos(3.141592653589793 * ((2 * t) % T) / T) / 2, dtype=t.dtype).expand_as(t)  # a8: cosine increase with restart
    n_h0 = torch.as_tensor(s_a8, dtype=t.dtype).expand_as(t)  # h0 = identity(a8)
    n_out = torch.as_tensor(1 - torch.tanh(n_h0) ** 2, dtype=t.dtype).expand_as(t)  # out = dtanh(h0)
    return n_out

DECAYS = [decay_0, decay_1, decay_2]


# ---------------------------------------------------------------- kernels
def ema_kernel(x, state, t, beta):
    """EMA with bias correction; ``t`` is the 0-based step. Returns (output, new state)."""
    state = state * beta + x * (1.0 - beta)
    return state / (1.0 - beta ** (t + 1)), state

def delta_kernel(x, state):
    """Change since the previous step: x - p, then p <- x."""
    return x - state, x

def running_max_kernel(x, state, xp=None):
    """Running maximum; state starts at 0."""
    state = (xp or torch).maximum(state, x)
    return state, state

def dropout_kernel(x, p, generator=None, keep=None):
    """Dropout that always drops (it is part of the update rule, not a training-only layer).

    ``keep``: a 0/1 mask drawn elsewhere (another backend's random numbers) instead of torch's.
    The mask is ``uniform < 1 - p`` (as ``jax.random.bernoulli`` draws it): the same
    distribution as ``bernoulli_(1 - p)``, whose CPU kernel is about 5x slower.
    """
    if keep is None:
        keep = torch.empty_like(x).uniform_(generator=generator).lt_(1.0 - p)
    return x * keep / (1.0 - p)

def norm_kernel(x, norms, xp=None):
    """x / max(1, ||x||) given the per-tensor norms already broadcast to x's shape."""
    return x / (xp or torch).clip(norms, min=1.0)


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


# ---------------------------------------------------------------- the update equation
def update(g, w, state, ctx, t, lr, mu, d, out=None):
    """The weight change of one parameter at its update t (0-based)."""
    v = state['v']
    v.lerp_(g, 1.0 - 0.9)  # EMA_0.9(g)
    v_hat = v / (1.0 - 0.9 ** (t + 1))
    o_wd4 = 0.0001 * w  # wd4
    o_qh_g = 0.3 * g + 0.7 * v_hat  # QH(g)
    n_h0 = torch.exp(o_wd4)  # h0 = exp(wd4)
    n_h1_in0 = n_h0 * d[0]  # decay on edge h0 -> h1
    n_h1 = torch.abs(n_h1_in0)  # h1 = abs(h0)
    n_out_in0 = o_qh_g * d[1]  # decay on edge qh_g -> out
    n_out_in1 = n_h1 * d[2]  # decay on edge h1 -> out
    n_out = n_out_in0 / (n_out_in1 + 1e-07)  # out = div(qh_g, h1)
    return torch.mul(n_out, -lr, out=out)


class Opt6(torch.optim.Optimizer):
    """The evolved optimizer Opt6 (see the module docstring).

    ``Opt6(params, lr, total_steps, warmup_steps=0, hold_steps=0, momentum_schedule=True)``:
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
