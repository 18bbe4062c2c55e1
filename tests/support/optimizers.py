"""Optimizer cases shared by the optimizer tests: an independent numpy implementation of SPEC
sections 1, 3, 4 and 9 (written from the SPEC's tables; it reads no grammar, printer or gp_opt
code), a small quadratic problem, hand-built genomes with their reference update, and one
registry (:data:`CASES`) of the genomes the contract, export, optax and GPU tests run.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from scipy import special as sps

from gp_opt import catalog
from gp_opt.genome import DecayGenome, OptimizerGenome

# ---------------------------------------------------------------- the numpy reference (SPEC)

EPS = 1e-7

# ---------------------------------------------------------------- the numpy reference (SPEC)


def ref_lr_factor(t, T, W, H):
    if t < W:
        return t / W
    if t <= W + H:
        return 1.0
    return 0.5 * (1 + math.cos(math.pi * (t - W - H) / (T - W - H)))


def ref_mu(T, W, H):
    return np.concatenate([np.linspace(0.95, 0.85, W), np.full(H, 0.85), np.linspace(0.85, 0.95, T - W - H)])


def sched(name, t, T):
    """SPEC section 4's decay schedules a1..a14."""
    r = ((2 * t) % T) / T
    z = 1 - (t + 1) / T
    a13 = 0.95 * z / (0.05 + 0.95 * z)
    return {
        "a1": 1 - t / T, "a2": t / T,
        "a3": 0.5 * (1 + math.cos(math.pi * t / T)), "a4": 0.5 * (1 - math.cos(math.pi * t / T)),
        "a5": 0.5 * (1 + math.cos(2 * math.pi * t / T)), "a6": 0.5 * (1 - math.cos(2 * math.pi * t / T)),
        "a7": 0.5 * (1 + math.cos(math.pi * r)), "a8": 0.5 * (1 - math.cos(math.pi * r)),
        "a9": 1 - r, "a10": r, "a11": 0.01 ** (t / T), "a12": 1 - 0.01 ** (t / T),
        "a13": a13, "a14": 0.95 - a13,
    }[name]


def dtanh(x):
    return 1 - np.tanh(x) ** 2


def softsign(x):
    return x / (1 + np.abs(x))


def clip(x, c):
    return np.minimum(np.maximum(x, -np.abs(c)), np.abs(c))


class S:
    """Per-tensor reference state: the SPEC's operands at the current step."""

    def __init__(self, shape):
        self.v = np.zeros(shape)
        self.s = np.zeros(shape)
        self.lam = np.zeros(shape)
        self.m = np.zeros(shape)
        self.extra = {}

    def advance(self, g, t):
        self.v = 0.9 * self.v + 0.1 * g
        self.s = 0.99 * self.s + 0.01 * g ** 2
        self.lam = 0.999 * self.lam + 0.001 * g ** 3
        self.v_hat = self.v / (1 - 0.9 ** (t + 1))
        self.s_hat = self.s / (1 - 0.99 ** (t + 1))
        self.lam_hat = self.lam / (1 - 0.999 ** (t + 1))
        self.qh = 0.3 * g + 0.7 * self.v_hat
        self.qh2 = 0.05 * g ** 2 + 0.95 * self.s_hat
        self.qh3 = 0.01 * g ** 3 + 0.99 * self.lam_hat


def reference_run(U, momentum, sign, w0, grad, steps, lr, T, W=0, H=0, wd=0.0):
    """Run SPEC section 1 on a list of numpy tensors; ``U(g, w, st, t, T)`` is the update.

    ``wd``: decoupled weight decay, ``w <- w - lr_t wd w`` besides the change (which reads the
    weights before the decay).
    """
    ws = [np.array(w, dtype=np.float64) for w in w0]
    states = [S(w.shape) for w in ws]
    mus = ref_mu(T, W, H)
    for t in range(steps):
        grads = [grad(i, w) for i, w in enumerate(ws)]
        for i, (w, g, st) in enumerate(zip(ws, grads, states)):
            st.advance(g, t)
            u = sign * U(g, w, st, t, T)
            lr_t = lr * ref_lr_factor(t, T, W, H)
            decayed = w - lr_t * wd * w
            if momentum == "none":
                ws[i] = decayed - lr_t * u
            elif momentum == "momentum":
                st.m = mus[t] * st.m - lr_t * u
                ws[i] = decayed + st.m
            else:
                st.m = mus[t] * st.m - lr_t * u
                ws[i] = decayed + mus[t] * st.m - lr_t * u
    return ws


# ---------------------------------------------------------------- the problem

SHAPES = [(3, 4), (5,), (2, 2, 2)]


def problem(seed=0):
    rng = np.random.default_rng(seed)
    w0 = [rng.normal(size=s) for s in SHAPES]
    a = [rng.uniform(0.5, 2.0, size=s) for s in SHAPES]
    b = [rng.normal(size=s) for s in SHAPES]

    def grad(i, w):
        return a[i] * (w - b[i])

    def loss(params):
        return sum((0.5 * torch.as_tensor(ai) * (p - torch.as_tensor(bi)) ** 2).sum()
                   for p, ai, bi in zip(params, a, b))

    return w0, grad, loss


def D(nodes):
    return DecayGenome.from_nodes(nodes)


# ---------------------------------------------------------------- hand-built genomes

HAND = {
    "adam": (
        dict(nodes={"h0": ("sqrt_abs", ["s_hat"]), "out": ("div", ["v_hat", "h0"])}),
        lambda g, w, s, t, T: s.v_hat / (np.sqrt(np.abs(s.s_hat)) + EPS)),
    "opt61": (
        dict(nodes={"h0": ("exp", ["wd4"]), "out": ("div", ["qh_g", "h0"])}),
        lambda g, w, s, t, T: s.qh / np.exp(1e-4 * w)),
    "opt9_nesterov_decay": (
        dict(nodes={"h0": ("atan", ["qh_g2"]), "h1": ("exp", ["h0"]),
                    "out": ("mul", [("g", D({"out": ("erfc", ["a11"])})), "h1"])}, momentum="nesterov"),
        lambda g, w, s, t, T: sps.erfc(sched("a11", t, T)) * g * np.exp(np.arctan(s.qh2))),
    "opt10_like": (
        dict(nodes={"h0": ("bessel_i1e", [("g", D({"h0": ("identity", ["a13"]),
                                                  "out": ("mul", ["h0", "a2"])}))]),
                    "out": ("bessel_i1e", ["h0"])}, momentum="nesterov"),
        lambda g, w, s, t, T: sps.i1e(sps.i1e(sched("a13", t, T) * sched("a2", t, T) * g))),
    "a1_clip": (
        dict(nodes={"h0": ("sqrt_abs", ["s_hat"]), "out": ("clip", ["v_hat", "h0"])}),
        lambda g, w, s, t, T: clip(s.v_hat, np.sqrt(np.abs(s.s_hat)))),
    "a5_norm": (
        dict(nodes={"h0": ("sqrt_abs", ["s_hat"]), "h1": ("clip", ["v_hat", "h0"]),
                    "out": ("norm", ["h1"])}),
        None),
    "stateful_momentum": (
        dict(nodes={"h0": ("ema", ["g"]), "h1": ("delta", ["v_hat"]), "h2": ("running_max", ["g"]),
                    "h3": ("mul", ["h1", "h2"]), "out": ("add", ["h0", "h3"])}, momentum="momentum"),
        None),
    "flipped_softsign_aggmo": (
        dict(nodes={"h0": ("softsign", ["aggmo_g"]), "h1": ("asinh", ["aggmo_g3"]),
                    "out": ("add", ["h0", "h1"])}, sign=-1),
        lambda g, w, s, t, T: softsign(np.mean([b * s.v - g for b in (0, 0.9, 0.999)], axis=0))
        + np.arcsinh(np.mean([b * s.lam - g ** 3 for b in (0, 0.999, 0.9999)], axis=0))),
    "constants": (
        dict(nodes={"h0": ("exp", ["one"]), "h1": ("ema", ["two"]), "h2": ("mul", ["h0", "g"]),
                    "h3": ("add", ["h1", "h2"]), "out": ("interp", ["h3", "sign_v_hat"])}),
        None),
}


def hand_genome(name):
    """The genome of the hand-built case ``name`` (:data:`HAND`)."""
    spec = dict(HAND[name][0])
    return OptimizerGenome.from_nodes(spec.pop("nodes"), **spec)


# ---------------------------------------------------------------- SPEC section 9's catalog formulas

def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def inv_1p_abs(x):
    return 1 / (1 + np.abs(x))


def a14p(t, T):
    z = 1 - (t + 1) / T
    return (0.95 - 0.95 * z) / (0.05 + 0.95 * z)


LR = {
    "LR1": lambda t, T: sps.erfc(sps.erfc(sched("a4", t, T))) / dtanh(sched("a8", t, T)),
    "LR2": lambda t, T: sps.erfc(sps.erfc(sched("a4", t, T))) / (dtanh(sched("a8", t, T)) * dtanh(sched("a4", t, T))),
    "LR3": lambda t, T: math.atan(sched("a2", t, T)) / (dtanh(sched("a10", t, T)) * math.sqrt(inv_1p_abs(a14p(t, T)))),
    "LR4": lambda t, T: sigmoid(sched("a2", t, T)) ** 2 / sigmoid(2 * softsign(sched("a1", t, T))),
    "LR5": lambda t, T: 1 / math.sqrt(sps.erf(sched("a11", t, T))),
    "LR6": lambda t, T: math.atan(sched("a2", t, T)) * sps.erfc(sched("a6", t, T)) / math.sqrt(inv_1p_abs(sched("a6", t, T))),
    "LR7": lambda t, T: 1 / math.sqrt(inv_1p_abs(sched("a10", t, T))),
    "LR8": lambda t, T: 1 / (math.sqrt(softsign(math.atan(sched("a12", t, T)))) + 1e-7),
    "LR9": lambda t, T: math.tanh(max(sched("a10", t, T), sched("a6", t, T))),
}


def c4(s, t, T):
    return np.abs(math.atan(sched("a13", t, T)) * np.exp(s.v_hat))


#: name -> (momentum, U(g, w, st, t, T)) from SPEC section 9.
REF = {
    "Opt1": ("none", lambda g, w, s, t, T: s.qh + softsign(clip(1e-5 * w, np.abs(1e-5 * w - s.qh2)))),
    "Opt2": ("none", lambda g, w, s, t, T: s.qh + softsign(1e-5 * w / np.sqrt(1 + (1e-5 * w - s.qh2) ** 2))),
    "Opt3": ("none", lambda g, w, s, t, T: s.qh + softsign(1e-5 * w / np.sqrt(1 + (1e-5 * w - s.qh3) ** 2))),
    # div(x, y) = x / (y + eps) (SPEC 3); the LR1 factor sits on div's numerator/denominator edges
    "Opt4": ("none", lambda g, w, s, t, T: sps.erfc(sps.erfc(sched("a4", t, T))) * s.qh
             / (dtanh(sched("a8", t, T)) * clip(2.0, c4(s, t, T)) + EPS)),
    "Opt5": ("none", lambda g, w, s, t, T: sps.erfc(sps.erfc(sched("a4", t, T))) * s.qh
             / (dtanh(sched("a8", t, T)) * clip(2.0, np.exp(s.v_hat)) + EPS)),
    "Opt6": ("none", lambda g, w, s, t, T: sps.erfc(sps.erfc(sched("a4", t, T))) * s.qh
             / (dtanh(sched("a8", t, T)) * np.abs(dtanh(sched("a4", t, T)) * np.exp(1e-4 * w)) + EPS)),
    "Opt7": ("none", lambda g, w, s, t, T: np.tanh(max(sched("a6", t, T), sched("a10", t, T)) * np.arcsinh(s.qh))),
    "Opt8": ("none", lambda g, w, s, t, T: np.arcsinh(max(sched("a6", t, T), sched("a10", t, T)) * np.arcsinh(s.qh))),
    "Opt9": ("nesterov", lambda g, w, s, t, T: sps.erfc(sched("a11", t, T)) * g * np.exp(np.arctan(s.qh2))),
    "Opt10": ("nesterov", lambda g, w, s, t, T: sps.i1e(sps.i1e(sched("a13", t, T) * sched("a2", t, T) * g))),
    "Opt42": ("none", lambda g, w, s, t, T: s.qh / (clip(2.0, np.exp(s.v_hat)) + EPS)),
    "Opt61": ("none", lambda g, w, s, t, T: s.qh / (np.exp(1e-4 * w) + EPS)),
    "Opt71": ("none", lambda g, w, s, t, T: np.tanh(np.arcsinh(s.qh))),
    "Opt81": ("none", lambda g, w, s, t, T: np.arcsinh(np.arcsinh(s.qh))),
    "Opt91": ("nesterov", lambda g, w, s, t, T: g * np.exp(np.arctan(s.qh2))),
    "Opt101": ("nesterov", lambda g, w, s, t, T: sps.i1e(sps.i1e(g))),
    "A1": ("none", lambda g, w, s, t, T: clip(s.v_hat, np.sqrt(s.s_hat) + 1e-7)),
    "A2": ("none", lambda g, w, s, t, T: clip(s.v_hat, np.abs(np.log(s.s_hat + 1e-7)))),
    "A3": ("none", lambda g, w, s, t, T: clip(s.v_hat, np.sqrt(np.abs(np.log(s.s_hat + 1e-7))))),
    "A4": ("none", lambda g, w, s, t, T: clip(s.v_hat, sigmoid(s.s_hat + 1e-7))),
    "A5": ("none", lambda g, w, s, t, T: (lambda c: c / max(1.0, float(np.sqrt((c ** 2).sum()))))(
        clip(s.v_hat, np.sqrt(s.s_hat) + 1e-7))),
    "Adam": ("none", lambda g, w, s, t, T: s.v_hat / (np.sqrt(np.abs(s.s_hat)) + EPS)),
    "RMSProp": ("none", lambda g, w, s, t, T: g / (np.sqrt(np.abs(s.s_hat)) + EPS)),
    "SGD": ("none", lambda g, w, s, t, T: g),
    "Momentum": ("momentum", lambda g, w, s, t, T: g),
    "Nesterov": ("nesterov", lambda g, w, s, t, T: g),
    "PowerSign-ld": ("none", lambda g, w, s, t, T: np.exp(sched("a1", t, T) * np.sign(g) * np.sign(s.v)) * g),
    "AddSign-ld": ("none", lambda g, w, s, t, T: (1 + sched("a1", t, T) * np.sign(g) * np.sign(s.v)) * g),
    **{name: ("none", (lambda f: lambda g, w, s, t, T: f(t, T) * g)(f)) for name, f in LR.items()},
}


def qhm_reference():
    def U(g, w, s, t, T):
        s.extra["q"] = 0.999 * s.extra.get("q", 0) + 0.001 * g
        return 0.3 * g + 0.7 * s.extra["q"]
    return U


# ---------------------------------------------------------------- random genomes


def random_stateful(seed: int, decayed: bool = False) -> OptimizerGenome:
    """The first default-grammar genome drawn from ``seed`` with a stateful op and no dropout
    (``decayed``: with at least one decayed active edge too)."""
    rng = np.random.default_rng(seed)
    while True:
        g = OptimizerGenome.random(rng)
        kinds = {g.grammar.op(g.op(n)).kind for n in g.active_inner_nodes()}
        if "stateful" in kinds and "stochastic" not in kinds and (not decayed or g.decayed_edges(active_only=True)):
            return g


# ---------------------------------------------------------------- the registry

#: A digits-campaign finalist whose update holds ``norm`` (a reduction over each tensor).
FINALIST_WITH_NORM = "results/digits-2026-12-03/genomes/warm30-1.json"

#: name -> a function returning the genome: every optimizer case the contract, export, optax and
#: GPU tests run, in one place (a test picks its subset by name).
CASES = {
    **{name: (lambda name=name: catalog.get(name)) for name in
       ("Opt6", "Opt10", "A5", "LR2", "LR3", "QHM", "Momentum", "PowerSign")},
    "constants": lambda: hand_genome("constants"),
    "stateful_momentum": lambda: hand_genome("stateful_momentum"),
    "flipped": lambda: hand_genome("flipped_softsign_aggmo"),
    "random3": lambda: random_stateful(3),
    "random11": lambda: random_stateful(11),
    "random_stateful": lambda: random_stateful(3, decayed=True),
}


def case(name: str) -> OptimizerGenome:
    """The genome of the registered case ``name``."""
    return CASES[name]()
