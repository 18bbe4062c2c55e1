"""The sympy functions of the grammar that have no closed form in sympy.

Each class says how it prints (LaTeX via ``_latex``) and how gp_opt.code_printer writes it as torch
code (``torch_call``). Ops that are not plain elementwise maths (state, randomness, a reduction
over the whole tensor) print as a call on the engine's context object, ``ctx.<name>(...)``; the
tensor kernels they run are the small pure functions at the end of this module, shared by every
engine (the optimizer, the batched integrity check).

>>> import sympy as sp
>>> x = sp.Symbol("x")
>>> sp.latex(EMA(x, 0.95))
'\\\\operatorname{EMA}_{0.95}\\\\left(x\\\\right)'
"""
from __future__ import annotations

import mpmath
import sympy as sp
import torch


def _latex_power(text: str, exp) -> str:
    """``f(x)`` raised to ``exp`` as the LaTeX printer asks for powers of functions."""
    return text if exp is None else r"\left(%s\right)^{%s}" % (text, exp)


class GpFunction(sp.Function):
    """Base class: a named function with its own LaTeX and torch spelling."""

    latex_name = ""
    # Python source of the torch function for elementwise functions; None for ctx calls.
    torch_call: str | None = None
    # The same function in JAX (gp_opt.code_printer.jax_source).
    jax_call: str | None = None
    # For ops needing an engine: "stateful", "stochastic" or "tensorwise".
    kind = "scalar"
    # A stateful op whose output reads the state it replaces (Delta: x - previous x), so an
    # engine that writes the new state in place must read the old one first.
    reads_previous_state = False

    def _latex(self, printer, exp=None):
        args = ", ".join(printer._print(a) for a in self.args[:1])
        text = r"\operatorname{%s}\left(%s\right)" % (self.latex_name or type(self).__name__, args)
        return _latex_power(text, exp)


class _NoPointValue(GpFunction):
    """A function whose value is not a function of its argument's value at one point (it needs
    the earlier steps or a random draw): never a *number*, even of a constant, so that ``Max``,
    ``Min`` and ``subs`` leave it unevaluated instead of raising "not comparable"."""

    @property
    def is_number(self):
        return False

    @classmethod
    def _imp_(cls, *args):
        # lambdify's hook: a pointwise numeric function has no value for these
        raise ValueError(f"{cls.__name__} has no pointwise numeric value (it needs state or randomness)")


class I1e(GpFunction):
    """Exponentially scaled modified Bessel function of order 1: e^-|x| I1(x)."""

    nargs = 1
    latex_name = "i_{1e}"
    torch_call = "torch.special.i1e"
    jax_call = "jax.scipy.special.i1e"

    @classmethod
    def eval(cls, x):
        if x.is_zero:
            return sp.S.Zero
        if x.could_extract_minus_sign():
            return -cls(-x)  # odd function: lets simplify cancel i1e(x) + i1e(-x)

    def _eval_evalf(self, prec):
        x = self.args[0]._to_mpmath(prec)
        with mpmath.workprec(prec):
            return sp.Float(mpmath.besseli(1, x) * mpmath.exp(-abs(x)), precision=prec)

    @staticmethod
    def _imp_(x):
        """numpy value, for ``sympy.lambdify``."""
        from scipy.special import i1e
        return i1e(x)


class Softplus(GpFunction):
    """ln(1 + e^x), computed stably in torch."""

    nargs = 1
    latex_name = "softplus"
    torch_call = "torch.nn.functional.softplus"
    jax_call = "jax.nn.softplus"

    def _eval_evalf(self, prec):
        x = self.args[0]._to_mpmath(prec)
        with mpmath.workprec(prec):
            return sp.Float(mpmath.log1p(mpmath.exp(x)), precision=prec)

    def _eval_rewrite_as_log(self, x, **kwargs):
        return sp.log(1 + sp.exp(x))

    @staticmethod
    def _imp_(x):
        """numpy value, for ``sympy.lambdify``."""
        import numpy as np
        return np.logaddexp(0.0, x)


class Drop(_NoPointValue):
    """Dropout with probability p (kept entries scaled by 1/(1-p)); a fresh draw every call."""

    nargs = 2
    kind = "stochastic"

    def _latex(self, printer, exp=None):
        text = r"\operatorname{drop}_{%s}\left(%s\right)" % (
            f"{float(self.args[1]):g}", printer._print(self.args[0]))
        return _latex_power(text, exp)


class Norm(GpFunction):
    """x / max(1, ||x||_2), the norm taken over each whole parameter tensor.

    Of a single real number (a one-element tensor, and the pointwise convention of
    :func:`gp_opt.symbolic.numeric_function` and ``lambdify``) that is ``x / max(1, |x|)``, so
    ``Norm(2.0)`` evaluates to 1.0 and ``subs`` can compare it.
    """

    nargs = 1
    kind = "tensorwise"
    latex_name = "norm"

    @classmethod
    def eval(cls, x):
        if x.is_number and x.is_extended_real and x.is_comparable:
            return x / sp.Max(1, sp.Abs(x))
        return None

    def _eval_is_real(self):
        return self.args[0].is_real

    @staticmethod
    def _imp_(x):
        """numpy value of one number (elementwise), for ``sympy.lambdify``."""
        import numpy as np
        x = np.asarray(x, dtype=float)
        return x / np.maximum(1.0, np.abs(x))


class EMA(_NoPointValue):
    """Bias-corrected exponential moving average of x over the steps (state s, decay beta)."""

    nargs = 2
    kind = "stateful"

    def _latex(self, printer, exp=None):
        text = r"\operatorname{EMA}_{%s}\left(%s\right)" % (
            f"{float(self.args[1]):g}", printer._print(self.args[0]))
        return _latex_power(text, exp)


class Delta(_NoPointValue):
    """x minus the previous step's x (the previous input starts at 0)."""

    nargs = 1
    kind = "stateful"
    reads_previous_state = True

    def _latex(self, printer, exp=None):
        text = r"\Delta\left(%s\right)" % printer._print(self.args[0])
        return _latex_power(text, exp)


class RunMax(_NoPointValue):
    """Running elementwise maximum of x over the steps (starts at 0)."""

    nargs = 1
    kind = "stateful"
    latex_name = "runmax"


#: Names a grammar expression may use beyond sympy's own functions.
FUNCTIONS = {cls.__name__: cls for cls in (I1e, Softplus, Drop, Norm, EMA, Delta, RunMax)}

#: The kinds of ops that need an engine context (and the name of the ctx method they call).
ENGINE_CALLS = {"Drop": "dropout", "Norm": "norm", "EMA": "ema", "Delta": "delta",
                "RunMax": "running_max"}


# ---------------------------------------------------------------- tensor kernels
# Pure functions: (input, state, ...) -> (output, new state). Engines own where state lives.
# ``xp`` is the array library (torch when None; jax.numpy for the JAX engine of
# gp_opt.optim.to_optax, which copies these very functions into the modules it writes).

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
