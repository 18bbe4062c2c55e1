"""Write a sympy expression as straight-line PyTorch (or JAX) source.

This one printer is how every grammar primitive gets its torch form, so the compiled optimizer,
the batched integrity check and ``gp-opt export --torch`` all run the very maths the grammar
states. :func:`jax_source` is the same walk with JAX's names (``jnp.exp``, ...), for
:mod:`gp_opt.optim.optax` and ``gp-opt export --optax``.

>>> import sympy as sp
>>> x, y = sp.symbols("x y")
>>> torch_source(x / sp.sqrt(1 + y**2))
'x / torch.sqrt(y ** 2 + 1)'
>>> torch_source(sp.Max(x, 0))
'torch.clamp(x, min=0.0)'
"""
from __future__ import annotations

import sympy as sp

from gp_opt import functions as F

_TORCH_FUNCS = {
    sp.exp: "torch.exp",
    sp.log: "torch.log",
    sp.Abs: "torch.abs",
    sp.sign: "torch.sign",
    sp.erf: "torch.erf",
    sp.erfc: "torch.erfc",
    sp.asinh: "torch.asinh",
    sp.atan: "torch.atan",
    sp.tanh: "torch.tanh",
    sp.cos: "torch.cos",
    sp.sin: "torch.sin",
}


#: The same functions in JAX (``jnp`` is ``jax.numpy`` in the generated code).
_JAX_FUNCS = {
    sp.exp: "jnp.exp",
    sp.log: "jnp.log",
    sp.Abs: "jnp.abs",
    sp.sign: "jnp.sign",
    sp.erf: "jax.scipy.special.erf",
    sp.erfc: "jax.scipy.special.erfc",
    sp.asinh: "jnp.arcsinh",
    sp.atan: "jnp.arctan",
    sp.tanh: "jnp.tanh",
    sp.cos: "jnp.cos",
    sp.sin: "jnp.sin",
}

#: Per backend: elementwise functions, sqrt, max/min of two arrays, max/min with a number, and
#: the attribute of a :class:`~gp_opt.functions.GpFunction` naming its elementwise call.
_BACKENDS = {
    "torch": dict(funcs=_TORCH_FUNCS, sqrt="torch.sqrt", max="torch.maximum", min="torch.minimum",
                  max_c="torch.clamp({}, min={})", min_c="torch.clamp({}, max={})", call="torch_call"),
    "jax": dict(funcs=_JAX_FUNCS, sqrt="jnp.sqrt", max="jnp.maximum", min="jnp.minimum",
                max_c="jnp.maximum({}, {})", min_c="jnp.minimum({}, {})", call="jax_call"),
}


class TorchPrinterError(ValueError):
    pass


def _number(e: sp.Expr) -> str:
    if e.is_Integer:
        return str(int(e))
    return repr(float(e))


_ADD, _MUL, _NEG, _POW, _ATOM = 10, 20, 25, 30, 40


def jax_source(expr: sp.Expr, names: dict[sp.Symbol, str] | None = None,
               ctx: str = "ctx", key: str | None = None) -> str:
    """Python source computing ``expr`` with JAX (``jnp``, ``jax.scipy.special``, ``jax.nn``).

    The same printer as :func:`torch_source` (same structure, same order of operations), with
    JAX's names; engine functions print as ``ctx.<method>(...)`` for a JAX engine.

    >>> x, y = sp.symbols("x y")
    >>> jax_source(sp.Max(x, 0) / sp.sqrt(1 + sp.erf(y)**2))
    'jnp.maximum(x, 0.0) / jnp.sqrt(jax.scipy.special.erf(y) ** 2 + 1)'
    """
    return torch_source(expr, names, ctx=ctx, key=key, backend="jax")


def torch_source(expr: sp.Expr, names: dict[sp.Symbol, str] | None = None,
                 ctx: str = "ctx", key: str | None = None,
                 scalars: frozenset[sp.Symbol] | None = None, backend: str = "torch") -> str:
    """Python source computing ``expr`` with torch.

    ``names`` maps symbols to variable names (default: the symbol's own name). Engine functions
    (dropout, norm, stateful ops) print as ``ctx.<method>(x, ..., key=KEY)`` so the engine can
    keep one state per node.

    ``scalars`` (optional) names the symbols that hold Python numbers at run time (e.g. a bias
    correction factor). The same expression then prints with fewer tensor kernels: a product's
    scalar factors are multiplied in Python first, ``(0.7 * k) * v``, and a sum's scaled term
    folds into ``torch.add(rest, x, alpha=c)``. Without ``scalars`` the output is unchanged.

    >>> k, v, g = sp.symbols("k v g")
    >>> torch_source(sp.Rational(3, 10) * g + sp.Float(0.7) * k * v, scalars=frozenset({k}))
    'torch.add(3 * g / 10, v, alpha=0.7 * k)'
    """
    names = names or {}
    lib = _BACKENDS[backend]
    fuse = scalars is not None
    if fuse and backend != "torch":
        raise TorchPrinterError("scalars= (fused torch.add) is a torch-only form")
    scalar_syms = scalars or frozenset()

    def is_scalar(e: sp.Expr) -> bool:
        # plain arithmetic on numbers and scalar symbols: runs as Python floats
        if e.is_number:
            return e.is_real is not False
        if e.is_Symbol:
            return e in scalar_syms
        return (e.is_Add or e.is_Mul or e.is_Pow) and all(is_scalar(a) for a in e.args)

    def split_mul(e: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
        coeff = [f for f in sp.Mul.make_args(e) if is_scalar(f)]
        rest = [f for f in sp.Mul.make_args(e) if not is_scalar(f)]
        return sp.Mul(*coeff), sp.Mul(*rest)

    def fused(e: sp.Expr) -> tuple[str, int] | None:
        if e.is_Mul and any(f.is_Symbol and f in scalar_syms for f in e.args):
            coeff, rest = split_mul(e)
            if rest != 1 and coeff != 1:
                return f"({p(coeff)[0]}) * {at(rest, _MUL + 1)}", _MUL
        if e.is_Add and not is_scalar(e):
            terms = list(e.as_ordered_terms())
            for i in range(len(terms) - 1, -1, -1):
                coeff, x = split_mul(terms[i])
                others = sp.Add(*(terms[:i] + terms[i + 1:]))
                if coeff not in (1, -1) and x != 1 and not is_scalar(others):
                    return f"torch.add({p(others)[0]}, {p(x)[0]}, alpha={p(coeff)[0]})", _ATOM
        return None

    def at(e: sp.Expr, prec: int) -> str:
        s, own = p(e)
        return f"({s})" if own < prec else s

    def p(e: sp.Expr) -> tuple[str, int]:
        if fuse:
            out = fused(e)
            if out is not None:
                return out
        if e.is_Symbol:
            return names.get(e, e.name), _ATOM
        if e.is_number:
            value = e if e.is_Integer else sp.N(e, 17)
            if not value.is_real:
                raise TorchPrinterError(f"complex constant {e}")
            s = _number(value)
            return s, (_NEG if s.startswith("-") else _ATOM)
        if e.is_Add:
            terms = list(e.as_ordered_terms())
            out = at(terms[0], _ADD)
            for term in terms[1:]:
                if term.could_extract_minus_sign():
                    out += " - " + at(-term, _MUL)
                else:
                    out += " + " + at(term, _ADD)
            return out, _ADD
        if e.is_Mul:
            if e.could_extract_minus_sign():
                return "-" + at(-e, _POW), _NEG
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
            out = " * ".join(at(f, _MUL) for f in num) if num else "1"
            for d in den:
                out += " / " + at(d, _POW)
            return out, _MUL
        if e.is_Pow:
            base, exp = e.args
            if exp == sp.S.Half:
                return f"{lib['sqrt']}({p(base)[0]})", _ATOM
            if exp.is_number and exp.is_negative:
                return f"1 / {at(sp.Pow(base, -exp), _POW)}", _MUL
            return f"{at(base, _POW + 1)} ** {at(exp, _POW + 1)}", _POW
        if isinstance(e, (sp.Max, sp.Min)):
            fn, with_c = (lib["max"], lib["max_c"]) if isinstance(e, sp.Max) else (lib["min"], lib["min_c"])
            consts = [a for a in e.args if a.is_number]
            others = [a for a in e.args if not a.is_number]
            out = p(others[0])[0]
            for a in others[1:]:
                out = f"{fn}({out}, {p(a)[0]})"
            for c in consts:
                out = with_c.format(out, repr(float(sp.N(c, 17))))
            return out, _ATOM
        if isinstance(e, sp.Mod):
            # `%` binds like `*` in Python: keep it parenthesised inside any product
            return f"{at(e.args[0], _MUL + 1)} % {at(e.args[1], _MUL + 1)}", _ADD + 1
        if e.func in lib["funcs"]:
            return f"{lib['funcs'][e.func]}({p(e.args[0])[0]})", _ATOM
        if isinstance(e, F.GpFunction):
            call = getattr(e, lib["call"])
            if call:
                return f"{call}({p(e.args[0])[0]})", _ATOM
            method = F.ENGINE_CALLS[type(e).__name__]
            extra = "".join(", " + _number(sp.N(a, 17)) for a in e.args[1:])
            k = "" if key is None else f", key={key!r}"
            return f"{ctx}.{method}({p(e.args[0])[0]}{extra}{k})", _ATOM
        raise TorchPrinterError(f"no {backend} form for {type(e).__name__}: {e}")

    return p(sp.sympify(expr, strict=True))[0]  # strict: a string is refused, never eval'd


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
