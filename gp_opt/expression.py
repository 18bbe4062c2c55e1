"""Text to sympy without ``eval``: the one way gp_opt turns a string into an expression.

``sympy.sympify`` and ``parse_expr`` run the text through Python's ``eval``, so a grammar file
(meant to be shared between researchers) could run any code. :func:`parse` instead reads the text
with :func:`ast.parse` (which only builds a syntax tree, never runs it), walks the tree with an
allow-list and builds the sympy expression itself. Allowed: numbers, the symbols the caller
declares, ``+ - * / **``, unary minus (and plus), parentheses, the constants ``pi`` and ``E``, and
calls of :data:`FUNCTIONS` -- the functions :mod:`gp_opt.code_printer` can write as torch and JAX code.
Anything else (attribute access, subscripts, strings, keywords, lambda, comprehensions, dunder or
unknown names, unknown functions) is an :class:`ExpressionError` naming the offending token.

>>> x = sp.Symbol("x")
>>> parse("1/(1 + exp(-x))", {"x": x})
1/(1 + exp(-x))
>>> parse("x.__class__", {"x": x}, "grammar.toml: op 'bad'")
Traceback (most recent call last):
...
gp_opt.expression.ExpressionError: grammar.toml: op 'bad': expr 'x.__class__': attribute access is not allowed (at 'x.__class__')
"""
from __future__ import annotations

import ast
from typing import Mapping

import sympy as sp

from gp_opt import functions as F
from gp_opt.errors import GrammarError

#: Limits that keep a hostile text from exhausting time, memory or recursion.
MAX_CHARS = 2000
MAX_DEPTH = 200
#: an exact power of two numbers is refused beyond this many bits (10**10**10 would never finish)
MAX_POWER_BITS = 100_000

#: The functions an expression may call, by the name it calls them: sympy's elementary functions
#: that gp_opt.code_printer writes as torch/JAX code, and gp_opt.functions' own (I1e, Drop, EMA, ...).
FUNCTIONS: dict[str, type | object] = {
    "exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "Abs": sp.Abs, "sign": sp.sign,
    "erf": sp.erf, "erfc": sp.erfc, "asinh": sp.asinh, "atan": sp.atan, "tanh": sp.tanh,
    "cos": sp.cos, "sin": sp.sin, "Max": sp.Max, "Min": sp.Min, "Mod": sp.Mod,
    **F.FUNCTIONS,
}
#: Named constants.
CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi, "E": sp.E}
#: Names a grammar may not give a symbol (they already mean something in an expression).
RESERVED = frozenset(FUNCTIONS) | frozenset(CONSTANTS)

_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_HINTS = {ast.BitXor: "; write powers as **", ast.Mod: "; write Mod(a, b)"}
_KINDS = {
    ast.Attribute: "attribute access", ast.Subscript: "a subscript", ast.Lambda: "lambda",
    ast.Compare: "a comparison", ast.BoolOp: "and/or", ast.IfExp: "if/else",
    ast.NamedExpr: "an assignment (:=)", ast.Starred: "unpacking (*)", ast.JoinedStr: "an f-string",
    ast.List: "a list", ast.Tuple: "a tuple", ast.Dict: "a dict", ast.Set: "a set",
    ast.ListComp: "a comprehension", ast.SetComp: "a comprehension", ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a comprehension", ast.Await: "await", ast.Yield: "yield",
    ast.YieldFrom: "yield", ast.Slice: "a slice", ast.FormattedValue: "an f-string",
}


class ExpressionError(GrammarError):
    """An expression text that is not allowed or not valid; the message names the token."""


def _echo(text: str, limit: int = 60) -> str:
    text = repr(text)
    return text if len(text) <= limit else text[:limit] + "..."


def parse(text: object, symbols: Mapping[str, sp.Symbol], where: str = "expression") -> sp.Expr:
    """The sympy expression ``text`` writes, built without ``eval`` (see the module docstring).

    ``symbols`` maps each name the text may use to its symbol; ``where`` starts every error
    message (e.g. ``"mine.toml: op 'cube'"``). Raises :class:`ExpressionError`.

    >>> parse("Max(x, 0) + 2**-1", {"x": sp.Symbol("x")})
    Max(0, x) + 1/2
    >>> parse("__import__('os').system('id')", {})
    Traceback (most recent call last):
    ...
    gp_opt.expression.ExpressionError: expression: expr "__import__('os').system('id')": attribute access is not allowed (at "__import__('os').system")
    """
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError(f"{where}: 'expr' must be a non-empty string")
    head = f"{where}: expr {_echo(text)}"
    if len(text) > MAX_CHARS:
        raise ExpressionError(f"{head}: longer than {MAX_CHARS} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        why = getattr(exc, "msg", None) or str(exc) or type(exc).__name__
        raise ExpressionError(f"{where}: cannot parse expr {_echo(text)}: {why}") from None
    expr = _Builder(text.strip(), symbols, head).build(tree.body, 0)
    if not isinstance(expr, sp.Expr):
        raise ExpressionError(f"{head}: is not an expression")
    if expr.has(sp.zoo, sp.oo, -sp.oo, sp.nan):
        raise ExpressionError(f"{head}: is not finite (a division by zero?)")
    return expr


class _Builder:
    def __init__(self, text: str, symbols: Mapping[str, sp.Symbol], head: str):
        self.text = text
        self.symbols = symbols
        self.head = head

    def fail(self, node: ast.AST, why: str) -> ExpressionError:
        token = ast.get_source_segment(self.text, node) or type(node).__name__
        return ExpressionError(f"{self.head}: {why} (at {_echo(token, 40)})")

    def build(self, node: ast.AST, depth: int) -> sp.Expr:
        if depth > MAX_DEPTH:
            raise ExpressionError(f"{self.head}: nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, ast.Constant):
            return self.number(node)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.UnaryOp):
            arg = self.build(node.operand, depth + 1)
            if isinstance(node.op, ast.USub):
                return -arg
            if isinstance(node.op, ast.UAdd):
                return arg
            raise self.fail(node, f"operator {_unary_token(node.op)!r} is not allowed")
        if isinstance(node, ast.BinOp):
            op = type(node.op)
            if op not in _BINARY:
                token = _binary_token(node.op)
                raise self.fail(node, f"operator {token!r} is not allowed{_HINTS.get(op, '')}")
            left = self.build(node.left, depth + 1)
            right = self.build(node.right, depth + 1)
            if op is ast.Add:
                return left + right
            if op is ast.Sub:
                return left - right
            if op is ast.Mult:
                return left * right
            if op is ast.Div:
                return left / right
            return self.power(node, left, right)
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        raise self.fail(node, f"{_KINDS.get(type(node), type(node).__name__)} is not allowed")

    def number(self, node: ast.Constant) -> sp.Expr:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            kind = "a string" if isinstance(value, (str, bytes)) else f"the constant {value!r}"
            raise self.fail(node, f"{kind} is not allowed (only numbers)")
        if isinstance(value, int):
            return sp.Integer(value)
        # the literal as written (as sympify reads it), so 0.3 is sympy's Float('0.3')
        literal = (ast.get_source_segment(self.text, node) or repr(value)).replace("_", "")
        try:
            out = sp.Float(literal)
        except (ValueError, TypeError):
            out = sp.Float(value)
        if not out.is_finite:
            raise self.fail(node, "the number is not finite")
        return out

    def name(self, node: ast.Name) -> sp.Expr:
        name = node.id
        if name in self.symbols:
            return self.symbols[name]
        if name in CONSTANTS:
            return CONSTANTS[name]
        if name in FUNCTIONS:
            raise self.fail(node, f"function {name!r} is used without arguments")
        allowed = ", ".join(sorted(self.symbols)) or "none"
        raise self.fail(node, f"unknown symbol(s) {name} (symbols allowed here: {allowed})")

    def call(self, node: ast.Call, depth: int) -> sp.Expr:
        if not isinstance(node.func, ast.Name):
            raise self.fail(node.func, f"{_KINDS.get(type(node.func), 'this call')} is not allowed")
        fname = node.func.id
        if fname not in FUNCTIONS:
            why = (f"{fname!r} is a symbol, not a function" if fname in self.symbols
                   else f"unknown function {fname!r} (allowed: {', '.join(sorted(FUNCTIONS))})")
            raise self.fail(node.func, why)
        if node.keywords:
            raise self.fail(node, f"keyword arguments are not allowed in a call of {fname}")
        args = [self.build(a, depth + 1) for a in node.args]
        try:
            return FUNCTIONS[fname](*args)
        except (TypeError, ValueError, ArithmeticError) as exc:
            raise self.fail(node, f"{fname}() cannot take these arguments: {' '.join(str(exc).split())}") from None

    def power(self, node: ast.BinOp, base: sp.Expr, exp: sp.Expr) -> sp.Expr:
        if base.is_Rational and exp.is_Integer:  # computed exactly: refuse what would not finish
            bits = max(abs(base.p).bit_length(), abs(base.q).bit_length(), 1)
            if abs(int(exp)) * bits > MAX_POWER_BITS:
                raise self.fail(node, "the power is too large")
        return base ** exp


def _binary_token(op: ast.operator) -> str:
    return {ast.Mod: "%", ast.FloorDiv: "//", ast.BitXor: "^", ast.BitOr: "|", ast.BitAnd: "&",
            ast.LShift: "<<", ast.RShift: ">>", ast.MatMult: "@"}.get(type(op), type(op).__name__)


def _unary_token(op: ast.unaryop) -> str:
    return {ast.Not: "not", ast.Invert: "~"}.get(type(op), type(op).__name__)
