"""Write a sympy expression as straight-line PyTorch (or JAX) source: sympy code printers.

:class:`TorchCodePrinter` and :class:`JaxCodePrinter` are ``AbstractPythonCodePrinter``
subclasses in the shape of sympy's own ``printing/pytorch.py``: one ``_print_<Class>`` per node
type, the backend's names in mapping tables (:data:`ELEMENTWISE`). This one printer is how every
grammar primitive gets its torch form, so the compiled optimizer, the batched integrity check and
``gp-opt export --torch`` all run the very maths the grammar states. :func:`jax_source` is the
same printer with JAX's names (``jnp.exp``, ...), for :mod:`gp_opt.optim.to_optax` and
``gp-opt export --optax``.

>>> import sympy as sp
>>> x, y = sp.symbols("x y")
>>> torch_source(x / sp.sqrt(1 + y**2))
'x / torch.sqrt(y ** 2 + 1)'
>>> torch_source(sp.Max(x, 0))
'torch.clamp(x, min=0.0)'
"""
from __future__ import annotations

import sympy as sp
from sympy.printing.pycode import AbstractPythonCodePrinter

from gp_opt import functions as F

__all__ = ["TorchCodePrinter", "JaxCodePrinter", "ELEMENTWISE", "torch_source", "jax_source", "torch_function",
           "TorchPrinterError"]


class TorchPrinterError(ValueError):
    """An expression with no torch (or JAX) form: one line naming it."""


# precedences of the printed forms: a sum, a product (``*``, ``/``), a leading minus, a power, an atom
_ADD, _MUL, _NEG, _POW, _ATOM = 10, 20, 25, 30, 40


class _Code(str):
    """A printed form with the precedence of its outermost operation (to parenthesise it in context)."""

    prec: int

    def __new__(cls, text: str, prec: int) -> "_Code":
        out = super().__new__(cls, text)
        out.prec = prec
        return out


def _number(e: sp.Expr) -> str:
    if e.is_Integer:
        return str(int(e))
    return repr(float(e))


#: Each elementwise function's name in torch and in JAX (``jnp`` is ``jax.numpy`` there): the
#: printers' mapping tables, one row per sympy function.
ELEMENTWISE = {
    sp.exp: ("torch.exp", "jnp.exp"),
    sp.log: ("torch.log", "jnp.log"),
    sp.Abs: ("torch.abs", "jnp.abs"),
    sp.sign: ("torch.sign", "jnp.sign"),
    sp.erf: ("torch.erf", "jax.scipy.special.erf"),
    sp.erfc: ("torch.erfc", "jax.scipy.special.erfc"),
    sp.asinh: ("torch.asinh", "jnp.arcsinh"),
    sp.atan: ("torch.atan", "jnp.arctan"),
    sp.tanh: ("torch.tanh", "jnp.tanh"),
    sp.cos: ("torch.cos", "jnp.cos"),
    sp.sin: ("torch.sin", "jnp.sin"),
}


class TorchCodePrinter(AbstractPythonCodePrinter):
    """sympy expression -> PyTorch source, one ``_print_<Class>`` per node type over mapping tables.

    Settings: ``names`` (symbol -> variable name), ``ctx`` (the engine's variable) and ``key``
    (the node keying an engine op's state), ``scalars`` (symbols holding Python numbers: fused
    ``torch.add(..., alpha=...)``, see :func:`torch_source`). A number -- any closed form, ``pi``
    or ``sqrt(2)`` too -- prints as its 17-digit float; the grammar's functions with no closed form
    print their ``torch_call`` attribute or, if they keep state, draw random numbers or reduce,
    ``ctx.<method>(x, ..., key=KEY)``.
    """

    printmethod = "_gp_torchcode"
    language = "PyTorch"
    backend = "torch"
    #: elementwise functions (the torch column of :data:`ELEMENTWISE`)
    mapping = {f: names[0] for f, names in ELEMENTWISE.items()}
    #: sqrt; max/min of two arrays; max/min with a number; a GpFunction's attribute naming its call
    calls = dict(sqrt="torch.sqrt", Max="torch.maximum", Min="torch.minimum",
                 Max_number="torch.clamp({}, min={})", Min_number="torch.clamp({}, max={})",
                 function_attr="torch_call")
    _default_settings = dict(AbstractPythonCodePrinter._default_settings,
                             names=None, ctx="ctx", key=None, scalars=None)

    def __init__(self, settings: dict | None = None):
        super().__init__(settings)
        self.names = self._settings["names"] or {}
        self.scalars = self._settings["scalars"]
        if self.scalars is not None and self.backend != "torch":
            raise TorchPrinterError("scalars= (fused torch.add) is a torch-only form")

    def doprint(self, expr: sp.Expr) -> str:  # noqa: D102 - one expression, no assignment
        return str(self._print(sp.sympify(expr, strict=True)))  # strict: a string is refused, never eval'd

    def emptyPrinter(self, expr):  # noqa: N802 - sympy's name
        raise TorchPrinterError(f"no {self.backend} form for {type(expr).__name__}: {expr}")

    def _print(self, expr, **kwargs) -> _Code:
        if self.scalars is not None:
            out = self._print_fused(expr)
            if out is not None:
                return out
        if expr.is_Symbol:
            return _Code(self.names.get(expr, expr.name), _ATOM)
        if expr.is_number:
            return self._print_number(expr)
        return super()._print(expr, **kwargs)

    def _at(self, e: sp.Expr, prec: int) -> str:
        s = self._print(e)
        return f"({s})" if s.prec < prec else s

    def _print_number(self, e: sp.Expr) -> _Code:
        value = e if e.is_Integer else sp.N(e, 17)
        if not value.is_real:
            raise TorchPrinterError(f"complex constant {e}")
        s = _number(value)
        return _Code(s, _NEG if s.startswith("-") else _ATOM)

    def _print_Add(self, e: sp.Add) -> _Code:  # noqa: N802
        terms = list(e.as_ordered_terms())
        out = self._at(terms[0], _ADD)
        for term in terms[1:]:
            if term.could_extract_minus_sign():
                out += " - " + self._at(-term, _MUL)
            else:
                out += " + " + self._at(term, _ADD)
        return _Code(out, _ADD)

    def _print_Mul(self, e: sp.Mul) -> _Code:  # noqa: N802
        if e.could_extract_minus_sign():
            return _Code("-" + self._at(-e, _POW), _NEG)
        num, den = [], []
        for f in sp.Mul.make_args(e):
            if f.is_Pow and f.exp.is_number and f.exp.is_negative:
                den.append(f.base if f.exp == -1 else sp.Pow(f.base, -f.exp))
            elif f.is_Rational and not f.is_Integer:
                if f.p != 1:
                    num.append(sp.Integer(f.p))
                den.append(sp.Integer(f.q))
            else:
                num.append(f)
        out = " * ".join(self._at(f, _MUL) for f in num) if num else "1"
        for d in den:
            out += " / " + self._at(d, _POW)
        return _Code(out, _MUL)

    def _print_Pow(self, e: sp.Pow) -> _Code:  # noqa: N802
        base, exp = e.args
        if exp == sp.S.Half:
            return _Code(f"{self.calls['sqrt']}({self._print(base)})", _ATOM)
        if exp.is_number and exp.is_negative:
            return _Code(f"1 / {self._at(sp.Pow(base, -exp), _POW)}", _MUL)
        return _Code(f"{self._at(base, _POW + 1)} ** {self._at(exp, _POW + 1)}", _POW)

    def _print_extremum(self, e: sp.Expr, kind: str) -> _Code:
        consts = [a for a in e.args if a.is_number]
        others = [a for a in e.args if not a.is_number]
        out = str(self._print(others[0]))
        for a in others[1:]:
            out = f"{self.calls[kind]}({out}, {self._print(a)})"
        for c in consts:
            out = self.calls[kind + "_number"].format(out, repr(float(sp.N(c, 17))))
        return _Code(out, _ATOM)

    def _print_Max(self, e: sp.Max) -> _Code:  # noqa: N802
        return self._print_extremum(e, "Max")

    def _print_Min(self, e: sp.Min) -> _Code:  # noqa: N802
        return self._print_extremum(e, "Min")

    def _print_Mod(self, e: sp.Mod) -> _Code:  # noqa: N802
        # `%` binds like `*` in Python: keep it parenthesised inside any product
        return _Code(f"{self._at(e.args[0], _MUL + 1)} % {self._at(e.args[1], _MUL + 1)}", _ADD + 1)

    def _print_Function(self, e: sp.Function) -> _Code:  # noqa: N802
        # sympy's dispatch skips an intermediate Function subclass such as GpFunction: route it here
        if isinstance(e, F.GpFunction):
            return self._print_GpFunction(e)
        if e.func in self.mapping:
            return _Code(f"{self.mapping[e.func]}({self._print(e.args[0])})", _ATOM)
        return self.emptyPrinter(e)

    def _print_GpFunction(self, e: F.GpFunction) -> _Code:  # noqa: N802
        call = getattr(e, self.calls["function_attr"])
        if call:
            return _Code(f"{call}({self._print(e.args[0])})", _ATOM)
        method = F.ENGINE_CALLS[type(e).__name__]
        extra = "".join(", " + _number(sp.N(a, 17)) for a in e.args[1:])
        key = self._settings["key"]
        k = "" if key is None else f", key={key!r}"
        return _Code(f"{self._settings['ctx']}.{method}({self._print(e.args[0])}{extra}{k})", _ATOM)

    # ---------------------------------------------------------------- fused scalar forms (torch)
    def _is_scalar(self, e: sp.Expr) -> bool:
        # plain arithmetic on numbers and scalar symbols: runs as Python floats
        if e.is_number:
            return e.is_real is not False
        if e.is_Symbol:
            return e in self.scalars
        return (e.is_Add or e.is_Mul or e.is_Pow) and all(self._is_scalar(a) for a in e.args)

    def _split_mul(self, e: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
        coeff = [f for f in sp.Mul.make_args(e) if self._is_scalar(f)]
        rest = [f for f in sp.Mul.make_args(e) if not self._is_scalar(f)]
        return sp.Mul(*coeff), sp.Mul(*rest)

    def _print_fused(self, e: sp.Expr) -> _Code | None:
        if e.is_Mul and any(f.is_Symbol and f in self.scalars for f in e.args):
            coeff, rest = self._split_mul(e)
            if rest != 1 and coeff != 1:
                return _Code(f"({self._print(coeff)}) * {self._at(rest, _MUL + 1)}", _MUL)
        if e.is_Add and not self._is_scalar(e):
            terms = list(e.as_ordered_terms())
            for i in range(len(terms) - 1, -1, -1):
                coeff, x = self._split_mul(terms[i])
                others = sp.Add(*(terms[:i] + terms[i + 1:]))
                if coeff not in (1, -1) and x != 1 and not self._is_scalar(others):
                    return _Code(f"torch.add({self._print(others)}, {self._print(x)}, alpha={self._print(coeff)})", _ATOM)
        return None


class JaxCodePrinter(TorchCodePrinter):
    """The same printer with JAX's names (``jnp`` is ``jax.numpy`` in the generated code)."""

    printmethod = "_gp_jaxcode"
    language = "JAX"
    backend = "jax"
    mapping = {f: names[1] for f, names in ELEMENTWISE.items()}
    calls = dict(sqrt="jnp.sqrt", Max="jnp.maximum", Min="jnp.minimum",
                 Max_number="jnp.maximum({}, {})", Min_number="jnp.minimum({}, {})", function_attr="jax_call")


def jax_source(expr: sp.Expr, names: dict[sp.Symbol, str] | None = None,
               ctx: str = "ctx", key: str | None = None) -> str:
    """Python source computing ``expr`` with JAX (``jnp``, ``jax.scipy.special``, ``jax.nn``).

    The same printer as :func:`torch_source` (same structure, same order of operations), with
    JAX's names (:class:`JaxCodePrinter`); engine functions print as ``ctx.<method>(...)`` for a
    JAX engine.

    >>> x, y = sp.symbols("x y")
    >>> jax_source(sp.Max(x, 0) / sp.sqrt(1 + sp.erf(y)**2))
    'jnp.maximum(x, 0.0) / jnp.sqrt(jax.scipy.special.erf(y) ** 2 + 1)'
    """
    return JaxCodePrinter(dict(names=names, ctx=ctx, key=key)).doprint(expr)


def torch_source(expr: sp.Expr, names: dict[sp.Symbol, str] | None = None,
                 ctx: str = "ctx", key: str | None = None,
                 scalars: frozenset[sp.Symbol] | None = None, backend: str = "torch") -> str:
    """Python source computing ``expr`` with torch (:class:`TorchCodePrinter`).

    ``names`` maps symbols to variable names (default: the symbol's own name). Engine functions
    (dropout, norm, stateful ops) print as ``ctx.<method>(x, ..., key=KEY)`` so the engine can
    keep one state per node.

    ``scalars`` (optional) names the symbols that hold Python numbers at run time (e.g. a bias
    correction factor). The same expression then prints with fewer tensor kernels: a product's
    scalar factors are multiplied in Python first, ``(0.7 * k) * v``, and a sum's scaled term
    folds into ``torch.add(rest, x, alpha=c)``. Without ``scalars`` the output is unchanged.
    ``backend="jax"`` is :func:`jax_source`.

    >>> k, v, g = sp.symbols("k v g")
    >>> torch_source(sp.Rational(3, 10) * g + sp.Float(0.7) * k * v, scalars=frozenset({k}))
    'torch.add(3 * g / 10, v, alpha=0.7 * k)'
    """
    printer = {"torch": TorchCodePrinter, "jax": JaxCodePrinter}[backend]
    return printer(dict(names=names, ctx=ctx, key=key, scalars=scalars)).doprint(expr)


def torch_function(expr: sp.Expr, args: tuple[sp.Symbol, ...], key: str | None = None):
    """Compile ``expr`` into ``f(*args, ctx=None)`` running on tensors.

    >>> import sympy as sp, torch
    >>> x = sp.Symbol("x")
    >>> f = torch_function(sp.tanh(x) * 2, (x,))
    >>> float(f(torch.tensor(0.5)))  # doctest: +ELLIPSIS
    0.924...
    """
    import math  # noqa: F401  (available to generated code)

    import torch

    names = [a.name for a in args]
    src = f"def _f({', '.join(names)}, ctx=None):\n    return {torch_source(expr, key=key)}\n"
    namespace = {"torch": torch, "math": math}
    exec(compile(src, f"<gp_opt {expr}>", "exec"), namespace)
    fn = namespace["_f"]
    fn.source = src
    return fn
