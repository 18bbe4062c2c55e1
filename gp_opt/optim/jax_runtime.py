"""The runtime of an exported optax module, as code that linters and tests read.

:func:`gp_opt.optim.to_optax.optax_source` copies the definitions below, by their source text (read
with ``ast``, so writing a module needs no jax), into every standalone optax module, as the
engine kernels and base schedules are copied from :mod:`gp_opt.functions` and
:mod:`gp_opt.optim.schedules`: ``_Ctx`` (the engine serving stateful, random and reducing ops),
``computed_once`` (only where the update calls it), then ``EvolvedState``, the dtype helpers and
``evolved``, the transformation (renamed after the optimizer there, e.g. ``opt6``).

A generated module defines the genome's own ``STATE_KEYS``, ``NEEDS_W``, ``STOCHASTIC``,
``NODES``, ``DECAYS`` and ``update_leaf`` before this code. Here they are those of plain SGD
(``U = g``, no state, no decay function), so this module is itself a working transformation:

>>> tx = evolved(learning_rate=0.1, total_steps=10, base_schedule=False)
>>> updates, state = tx.update(jnp.ones(2), tx.init(jnp.zeros(2)))
>>> [round(u, 6) for u in updates.tolist()], int(state.count)
([-0.1, -0.1], 1)
"""
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gp_opt.functions import delta_kernel, dropout_kernel, ema_kernel, norm_kernel, running_max_kernel
from gp_opt.optim.schedules import base_lr_table, check_steps as _check, momentum_table

__all__ = ["evolved", "EvolvedState", "COPIED"]

#: The definitions a generated module copies, in the order it writes them (``computed_once``
#: only where its update calls it).
COPIED = ("_Ctx", "computed_once", "EvolvedState", "_compute_dtype", "_as_real", "_zeros_state", "evolved")

# ---------------------------------------------------------------- the genome (here: plain SGD)
STATE_KEYS: list = []
NEEDS_W = False
STOCHASTIC = False
NODES: list = []
DECAYS: list = []


def update_leaf(g, w, state, ctx, t, lr, mu, d):
    """The weight change of one leaf and its new state; a generated module prints the genome's."""
    return g * (-lr), {}


# ---------------------------------------------------------------- copied into every export
class _Ctx:
    """Serves the ops that keep state, draw random numbers or reduce over the leaf."""

    def __init__(self, state, t, like, key):
        self.state, self.t, self.like, self.key = state, t, like, key
        self.new = {}

    def const(self, value):
        return jnp.asarray(value, dtype=self.like.dtype)

    def full(self, x):
        return jnp.zeros_like(self.like) + x

    def ema(self, x, beta, key):
        out, self.new[key] = ema_kernel(x, self.state[key], self.t, beta)
        return out

    def delta(self, x, key):
        out, self.new[key] = delta_kernel(x, self.state[key])
        return out

    def running_max(self, x, key):
        out, self.new[key] = running_max_kernel(x, self.state[key], jnp)
        return out

    def dropout(self, x, p, key=None):
        draw = jax.random.fold_in(self.key, NODES.index(key))
        keep = jax.random.bernoulli(draw, 1.0 - p, x.shape).astype(x.dtype)
        return dropout_kernel(x, p, keep=keep)

    def norm(self, x, key=None):
        return norm_kernel(x, jnp.linalg.norm(x.ravel()), jnp)


def computed_once(x, t):
    """``x`` as one array that the later ops read, rather than an expression they each recompute.

    XLA on the CPU gives each output of the update (the weight change, the new ``m``) its own
    loop and copies a shared subexpression into each; for a special function evaluated as a
    series (``i1e``) read by both outputs that doubles the work, and the copies grow too large
    to fuse, so XLA splits them into several loops that recompute it again (Opt10: 9-12x
    ``optax.adam``; about 4x with this). Likewise the output of a ``delta`` node, which reads
    the previous input that its new state replaces: computed once, the old buffer is read in
    one loop, and a donated state is no longer copied around it. A conditional's operand is
    always one array, so on the CPU ``x`` passes through a conditional whose taken branch is
    the identity (``t >= 0`` always holds). GPUs and TPUs fuse several outputs into one loop: there ``x`` is returned
    as is.
    """
    def on_cpu(x):
        return jax.lax.cond(t >= 0, lambda y: y, jnp.zeros_like, x)

    return jax.lax.platform_dependent(x, cpu=on_cpu, default=lambda x: x)


class EvolvedState(NamedTuple):
    """The transformation's state: step count, one pytree per state key, random key."""

    count: Any
    buffers: dict
    key: Any


def _compute_dtype(dtype):
    return jnp.float32 if dtype in (jnp.bfloat16, jnp.float16) else dtype


def _as_real(x):
    """A complex leaf as (real, imaginary) pairs on a last axis (torch.view_as_real)."""
    return jnp.stack([jnp.real(x), jnp.imag(x)], axis=-1) if jnp.iscomplexobj(x) else x


def _zeros_state(leaf):
    real = _as_real(leaf)
    return jnp.zeros(real.shape, _compute_dtype(real.dtype))


def evolved(learning_rate, total_steps, warmup_steps=0, hold_steps=0, momentum_schedule=True,
        base_schedule=True, weight_decay=0.0, maximize=False, seed=0):
    """An evolved optimizer as an optax transformation (see the module docstring).

    ``learning_rate`` is the peak of the one-cycle cosine schedule (``warmup_steps`` of linear
    warm-up, ``hold_steps`` at the peak, over ``total_steps``), a number, a one-element array,
    or a callable ``count -> lr`` (an optax schedule; then usually ``base_schedule=False``).
    ``momentum_schedule`` True uses the one-cycle momentum (0.95 -> 0.85 -> 0.95), False a
    constant 0.9, a number that constant. Steps past ``total_steps`` reuse the last step's
    values. ``weight_decay``: decoupled, ``-lr_t * weight_decay * w`` (``update`` then needs
    ``params``). ``maximize``: ascend. ``seed``: the dropout ops' random key.
    """
    T, W, H = _check(total_steps, warmup_steps, hold_steps)
    if not callable(learning_rate) and np.size(learning_rate) != 1:
        raise ValueError(f"learning_rate must be a number or a one-element array, got shape {np.shape(learning_rate)}")
    if not np.all(np.asarray(weight_decay) >= 0):
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
    # the schedules as tables over t = 0..T-1 (float64 when jax_enable_x64, else float32)
    table_dtype = jnp.result_type(float)
    ts = jnp.asarray(np.arange(T), dtype=table_dtype)
    base = np.asarray(base_lr_table(T, W, H) if base_schedule else [1.0] * T, dtype=table_dtype)
    ms = momentum_schedule
    mus = np.asarray(momentum_table(T, W, H) if ms is True else [0.9 if ms is False else float(ms)] * T,
                     dtype=table_dtype)
    decays = [f(ts, float(T)) for f in DECAYS]
    needs_w = NEEDS_W or bool(weight_decay)

    def init(params):
        leaves, treedef = jax.tree_util.tree_flatten(params)
        buffers = {k: treedef.unflatten([_zeros_state(x) for x in leaves]) for k in STATE_KEYS}
        return EvolvedState(jnp.zeros([], jnp.int32), buffers, jax.random.PRNGKey(seed))

    def update(updates, state, params=None):
        if needs_w and params is None:
            raise ValueError("evolved: this update reads the weights (an operand uses w, or "
                             "weight_decay > 0): pass params to update()")
        t = state.count
        tc = jnp.clip(t, 0, T - 1)
        peak = learning_rate(t) if callable(learning_rate) else learning_rate
        lr = jnp.reshape(jnp.asarray(peak, dtype=table_dtype), ()) * jnp.asarray(base)[tc]
        mu = jnp.asarray(mus)[tc]
        d = [table[tc] for table in decays]
        g_leaves, treedef = jax.tree_util.tree_flatten(updates)
        w_leaves = treedef.flatten_up_to(params) if params is not None else [None] * len(g_leaves)
        st_leaves = {k: treedef.flatten_up_to(state.buffers[k]) for k in STATE_KEYS}
        key, step_key = jax.random.split(state.key) if STOCHASTIC else (state.key, state.key)
        out, new_leaves = [], {k: [] for k in STATE_KEYS}
        for i, (g, w) in enumerate(zip(g_leaves, w_leaves)):
            was_complex = jnp.iscomplexobj(g)
            g = _as_real(g)
            dtype = _compute_dtype(g.dtype)
            g = -g.astype(dtype) if maximize else g.astype(dtype)
            w = None if w is None else _as_real(w).astype(dtype)
            lr_i, mu_i = lr.astype(dtype), mu.astype(dtype)
            st = {k: st_leaves[k][i] for k in STATE_KEYS}
            ctx = _Ctx(st, t, g, jax.random.fold_in(step_key, i) if STOCHASTIC else None)
            delta, new = update_leaf(g, w, st, ctx, t, lr_i, mu_i, [x.astype(dtype) for x in d])
            if weight_decay:
                delta = delta - (lr_i * weight_decay) * w
            if was_complex:
                delta = jax.lax.complex(delta[..., 0], delta[..., 1])
            out.append(delta.astype(g_leaves[i].dtype))
            for k in STATE_KEYS:
                new_leaves[k].append(new[k])
        buffers = {k: treedef.unflatten(v) for k, v in new_leaves.items()}
        return treedef.unflatten(out), EvolvedState(optax.safe_int32_increment(t), buffers, key)

    return optax.GradientTransformation(init, update)
