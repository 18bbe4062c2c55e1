"""The paper's LaTeX printer: numbers, symbols, special functions, width and line breaking, one genome's equation."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import sympy as sp
from sympy.printing.latex import LatexPrinter

from gp_opt import functions as F
from gp_opt import symbolic as S
from gp_opt.symbolic.build import DISPLAY_PREFIX
from gp_opt.symbolic.printing import with_deadline
from gp_opt.grammar import Grammar


#: What a table from :func:`latex_table` / :func:`results_table` needs in the preamble.
TABLE_PACKAGES = ("amsmath", "booktabs", "tabularx")
#: What :func:`standalone` loads (the table packages, page geometry, graphics for figures).
DOCUMENT_PACKAGES = ("amsmath", "amssymb", "booktabs", "tabularx", "geometry", "graphicx")

# ---------------------------------------------------------------- numbers


def format_number(x: float, digits: int = 4) -> str:
    """A float as a paper prints it: ``0.95``, ``10^{-5}``, ``2 \\cdot 10^{-3}``, ``1``.

    Magnitudes in [0.01, 10^4) are plain decimals (at most ``digits`` significant digits, no
    trailing zeros); others are ``m \\cdot 10^{e}`` with the mantissa left out when it is 1.
    """
    x = float(x)
    if math.isnan(x):
        return r"\mathrm{NaN}"
    if math.isinf(x):
        return r"\infty" if x > 0 else r"-\infty"
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    a = abs(x)
    if 0.01 <= a < 1e4:
        text = f"{a:.{digits}g}"
        if "e" in text:  # e.g. 1e+03 from rounding: write it out
            text = f"{float(text):.0f}"
        return sign + text
    mant, exp = f"{a:.{digits - 1}e}".split("e")
    mant = mant.rstrip("0").rstrip(".")
    exp = int(exp)
    if mant == "1":
        return f"{sign}10^{{{exp}}}"
    return f"{sign}{mant} \\cdot 10^{{{exp}}}"


def tex_escape(text: str) -> str:
    """Text safe in a LaTeX paragraph (names, reasons, file names)."""
    out = []
    for ch in str(text):
        out.append({"\\": r"\textbackslash{}", "_": r"\_", "&": r"\&", "%": r"\%", "#": r"\#",
                    "$": r"\$", "{": r"\{", "}": r"\}", "^": r"\^{}", "~": r"\~{}"}.get(ch, ch))
    return "".join(out)


# ---------------------------------------------------------------- the printer
GREEK = {"lam": r"\lambda", "lambda": r"\lambda", "mu": r"\mu", "beta": r"\beta", "eta": r"\eta"}
FUNCTION_NOTES = {
    "I1e": r"$\tilde{I}_{1}(x) = e^{-|x|} I_{1}(x)$, the exponentially scaled modified Bessel "
           r"function of the first kind of order 1",
    "EMA": r"$\operatorname{EMA}_{\beta}(x)$: the bias-corrected exponential moving average of $x$ "
           r"over the steps with decay $\beta$",
    "Delta": r"$\Delta(x)$: $x$ minus its value at the previous step (0 before the first)",
    "RunMax": r"$\operatorname{runmax}(x)$: the running elementwise maximum of $x$ (from 0)",
    "Drop": r"$\operatorname{drop}_{p}(x)$: dropout with probability $p$, kept entries scaled "
            r"by $1/(1-p)$",
    "Norm": r"$\operatorname{norm}(x) = x / \max(1, \lVert x \rVert_2)$ over each parameter tensor",
    "Softplus": r"$\operatorname{softplus}(x) = \ln(1 + e^{x})$",
}


class PaperLatexPrinter(LatexPrinter):
    """sympy's LaTeX printer with the paper's conventions for a grammar's expressions.

    ``used`` collects what needs a note: ``("eps",)``, ``("operand", name)``, ``("state", name)``,
    ``("function", class name)``, ``("schedule", name)``.
    """


    def __init__(self, grammar: Grammar | None = None, settings: dict | None = None):
        super().__init__({"mul_symbol": None, "inv_trig_style": "full", **(settings or {})})
        self.grammar = grammar
        self.eps = float(grammar.eps) if grammar is not None else None
        self.used: set[tuple[str, ...]] = set()
        self._operands = {}
        self._states = {}
        if grammar is not None:
            for name, operand in grammar.operands.items():
                self._operands[DISPLAY_PREFIX + name] = (name, label_latex(operand.label))
            for state in grammar.states.values():
                base = GREEK.get(state.name, state.name)
                self._states[state.name] = (state.name, base)
                self._states[state.name + "_hat"] = (state.name, r"\hat{%s}" % base)

    def _print(self, expr, **kwargs):
        # The grammar's function classes carry their own generic ``_latex`` (which sympy would
        # call first); this printer spells them itself. A schedule leaf prints through its own
        # ``_latex`` (its one route), which calls :meth:`note_schedule`.
        if isinstance(expr, F.GpFunction):
            method = getattr(self, "_print_" + type(expr).__name__, None)
            if method is not None:
                return method(expr, **kwargs)
        return super()._print(expr, **kwargs)

    # -- numbers and symbols
    def _print_Float(self, expr):
        value = float(expr)
        if self.eps and value > 0 and abs(value - self.eps) <= 1e-9 * self.eps:
            self.used.add(("eps",))
            return r"\epsilon"
        return format_number(value)

    def _print_Symbol(self, expr, style="plain"):
        name = expr.name
        if name in self._operands:
            operand, tex = self._operands[name]
            self.used.add(("operand", operand))
            return tex
        if name in self._states:
            state, tex = self._states[name]
            self.used.add(("state", state))
            return tex
        m = re.fullmatch(r"([A-Za-z]+)_(\d+)", name)
        if m:
            return "%s_{%s}" % (GREEK.get(m.group(1), m.group(1)), m.group(2))
        if name in GREEK:
            return GREEK[name]
        return super()._print_Symbol(expr, style=style)

    # -- the grammar's functions
    def _fn(self, head: str, expr, exp=None, note: str | None = None) -> str:
        if note:
            self.used.add(("function", note))
        text = r"%s\left(%s\right)" % (head, self._print(expr.args[0]))
        return text if exp is None else r"%s^{%s}" % (text, exp)

    def _print_I1e(self, expr, exp=None):
        if exp is not None:
            self.used.add(("function", "I1e"))
            return r"\tilde{I}_{1}^{%s}\left(%s\right)" % (exp, self._print(expr.args[0]))
        return self._fn(r"\tilde{I}_{1}", expr, None, "I1e")

    def _print_Softplus(self, expr, exp=None):
        return self._fn(r"\operatorname{softplus}", expr, exp, "Softplus")

    def _print_Norm(self, expr, exp=None):
        return self._fn(r"\operatorname{norm}", expr, exp, "Norm")

    def _print_RunMax(self, expr, exp=None):
        return self._fn(r"\operatorname{runmax}", expr, exp, "RunMax")

    def _print_Delta(self, expr, exp=None):
        return self._fn(r"\Delta", expr, exp, "Delta")

    def _print_EMA(self, expr, exp=None):
        return self._fn(r"\operatorname{EMA}_{%s}" % format_number(float(expr.args[1])), expr, exp, "EMA")

    def _print_Drop(self, expr, exp=None):
        return self._fn(r"\operatorname{drop}_{%s}" % format_number(float(expr.args[1])), expr, exp, "Drop")

    def note_schedule(self, name: str) -> None:
        """Called by a schedule leaf's ``_latex``: the notes must define schedule ``name``."""
        self.used.add(("schedule", name))


def label_latex(label: str) -> str:
    """``QH(g^2)`` -> ``\\operatorname{QH}(g^{2})``."""
    m = re.fullmatch(r"([A-Za-z]+)\((.*)\)", label)
    if m:
        inner = re.sub(r"\^(\w+)", r"^{\1}", m.group(2))
        return r"\operatorname{%s}(%s)" % (m.group(1), inner)
    return r"\operatorname{%s}" % label.replace("_", r"\_")


def expr_latex(expr: sp.Expr, grammar: Grammar | None, printer: PaperLatexPrinter | None = None,
               timeout: float | None = S.PRINT_TIMEOUT) -> str:
    """LaTeX of one expression in a grammar's symbols (plain text typeset verbatim past ``timeout``)."""
    printer = printer or PaperLatexPrinter(grammar)
    return with_deadline(lambda: printer.doprint(expr), timeout,
                            lambda: r"\texttt{%s}" % tex_escape(sp.sstr(expr)))


# ---------------------------------------------------------------- width and breaking
def printed_width(e: sp.Basic) -> float:
    """Rough printed width of ``e`` in characters (a fraction is as wide as its wider part)."""
    if e.is_Symbol:
        name = e.name
        if name.startswith(DISPLAY_PREFIX):
            return 7.0
        return 2.0 if "_" in name else 1.0
    if e.is_Float:
        return 1.0 if float(e) == 1e-7 else len(re.sub(r"\\cdot|[{}^\\ ]", "", format_number(float(e)))) * 0.9
    if e.is_Rational:
        return 3.0 if e.q != 1 else len(str(e.p))
    if e.is_Number or not e.args:
        return 2.0
    if e.is_Add:
        return sum(printed_width(a) for a in e.args) + 2.0 * (len(e.args) - 1)
    if e.is_Mul:
        num, den = [], []
        for a in e.args:
            if a.is_Pow and a.exp.is_number and a.exp.is_negative:
                den.append(a.base if a.exp == -1 else a.base ** (-a.exp))
            elif a.is_Rational and a.q != 1:
                num.append(sp.Integer(a.p))
                den.append(sp.Integer(a.q))
            else:
                num.append(a)

        def part(xs):
            return sum(printed_width(x) + (2.0 if x.is_Add else 0.0) for x in xs) + 0.5 * len(xs)
        return max(part(num), part(den)) + 1.0 if den else part(num)
    if e.is_Pow:
        if e.exp == sp.S.Half:
            return printed_width(e.base) + 1.5
        if e.exp.is_number and e.exp.is_negative:
            return max(1.0, printed_width(e.base ** (-e.exp))) + 1.0
        return printed_width(e.base) + (2.0 if not e.base.is_Atom else 0.0) + 0.7 * printed_width(e.exp)
    if isinstance(e, sp.Abs):
        return printed_width(e.args[0]) + 1.0
    name = getattr(e.func, "schedule_name", None)
    if name:
        return 2.0
    head = len(getattr(e.func, "__name__", "f"))
    return (head + 2.0 + sum(printed_width(a) for a in e.args[:1])
            + sum(printed_width(a) + 1 for a in e.args[1:] if not e.args[1].is_number))


def _subterms(e: sp.Basic):
    for a in e.args:
        if isinstance(a, sp.Basic) and a.args and not getattr(a.func, "schedule_name", None):
            yield a
            yield from _subterms(a)


def break_long(expr: sp.Expr, max_width: float, prefix: str = "c",
               start: int = 1) -> tuple[sp.Expr, list[tuple[sp.Symbol, sp.Expr]]]:
    """``(main, [(c_1, part_1), ...])``: ``expr`` with subterms named until every piece is at most
    ``max_width`` characters wide (estimated). An expression that fits is returned as is.

    Repeated subterms are named first (``sympy.cse``), then the widest subterm that fits in
    ``0.75 max_width`` of each piece still too wide.
    """
    if printed_width(expr) <= max_width:
        return expr, []
    counter = [start]

    def fresh() -> sp.Symbol:
        sym = sp.Symbol(f"{prefix}_{counter[0]}", real=True)
        counter[0] += 1
        return sym

    parts: list[tuple[sp.Symbol, sp.Expr]] = []
    main = expr
    try:
        repl, reduced = sp.cse(expr, symbols=iter(fresh, None), optimizations=None, order="none")
        rename = {}
        kept = []
        for sym, sub in repl:
            sub = sub.xreplace(rename)
            if printed_width(sub) < 6:            # too small to be worth a name: put it back
                rename[sym] = sub
            else:
                kept.append((sym, sub))
        if kept or rename:
            main = reduced[0].xreplace(rename)
            parts = [(s, e.xreplace(rename)) for s, e in kept]
            # renumber so that the names run 1, 2, ... without gaps
            renum = {s: sp.Symbol(f"{prefix}_{start + i}", real=True) for i, (s, _) in enumerate(parts)}
            main = main.xreplace(renum)
            parts = [(renum[s], e.xreplace(renum)) for s, e in parts]
            counter[0] = start + len(parts)
    except Exception:  # noqa: BLE001 - cse is an aid; without it the widest-subterm pass still runs
        main, parts = expr, []

    def shrink(e: sp.Expr) -> sp.Expr:
        for _ in range(12):
            if printed_width(e) <= max_width:
                return e
            fits = [s for s in _subterms(e) if printed_width(s) <= 0.75 * max_width and printed_width(s) >= 4]
            if not fits:
                return e
            best = max(fits, key=printed_width)
            sym = fresh()
            parts.append((sym, best))
            e = e.xreplace({best: sym})
        return e

    main = shrink(main)
    i = 0
    while i < len(parts):       # a named part can itself be too wide
        sym, sub = parts[i]
        parts[i] = (sym, shrink(sub))
        i += 1
    return main, parts


# ---------------------------------------------------------------- one genome
@dataclass
class EquationTex:
    """The pieces of one optimizer's equation in LaTeX."""

    update: str                                   # U (or its main line when broken)
    where: list[tuple[str, str]] = field(default_factory=list)   # named parts (c_1, ...)
    decays: list[tuple[str, str]] = field(default_factory=list)  # (d_1, its definition)
    schedule: str | None = None                   # the factored lr schedule s(t), None when 1
    scheduled_update: str | None = None           # U / s(t) when there is a schedule
    used: set = field(default_factory=set)        # what the notes must define


def equation_latex(genome, max_width: float = 60.0, schedule: bool = False,
                   timeout: float | None = S.PRINT_TIMEOUT) -> EquationTex:
    """The paper-style equation of ``genome`` (labelled operands kept, each decay function a
    symbol ``d_k``), broken into parts of at most ``max_width`` characters; with ``schedule`` the
    factored learning-rate schedule too."""
    gm = genome.grammar
    printer = PaperLatexPrinter(gm)
    expr, decays = S.equation(genome)
    main, parts = break_long(expr, max_width)
    out = EquationTex(update=expr_latex(main, gm, printer, timeout))
    out.where = [(expr_latex(s, gm, printer, timeout), expr_latex(e, gm, printer, timeout)) for s, e in parts]
    seen = set()
    for _, _, sym, d in decays:
        if sym in seen:
            continue
        seen.add(sym)
        out.decays.append((expr_latex(sym, gm, printer, timeout), expr_latex(d, gm, printer, timeout)))
    if schedule:
        sched, update = S.factor_schedule(genome, expand_schedules=False, expand_operands=False)
        if sched != 1:
            out.schedule = expr_latex(sched, gm, printer, timeout)
            main2, parts2 = break_long(update, max_width, start=len(parts) + 1)
            out.scheduled_update = expr_latex(main2, gm, printer, timeout)
            out.where += [(expr_latex(s, gm, printer, timeout), expr_latex(e, gm, printer, timeout))
                          for s, e in parts2]
    out.used = set(printer.used)
    return out
