"""The registry's numeric code, printed from its SymPy formulas: never written by hand.

An activation's σ and σ', a cost and its gradient, a closed-form output delta and
softmax's forward pass and vector-Jacobian product are SymPy formulas in the registry
(``symbp.core.registry``, ``symbp.core.forms``). Here they become code templates over
``{z}``, ``{a}``, ``{v}``, ``{y}``: NumPy over whole arrays (one sample per row), and
numba over one element, or, for a layer-wide form, a call that fills ``{out}`` row by row.

What the printers do beyond spelling, each a rule for a function, never for an entry:

- ``exp(u)`` is evaluated with u capped at 709 (NumPy) or as ``_exp`` (numba, capped
  at [-708, 709]): e^u would overflow past it, so σ(-800) is 1e-308 rather than a warning;
- ``tanh(u)`` is ``_tanh`` in numba: expm1(2|u|) / (expm1(2|u|) + 2) with u's sign, from
  the same reduction as ``_exp`` (within 3 ulp; ten times faster than ``math.tanh``);
- ``log(1 + exp(u))`` is ``np.logaddexp(0, u)``, which is the same function without the
  overflow (numba: max(u, 0) + log1p(e^-|u|));
- ``Piecewise((u, u > 0), (0, True))`` is ``np.maximum(u, 0)``; any other Piecewise a
  ``np.where`` chain (numba: a conditional expression);
- a reduction over the units of a layer is ``np.sum``/``np.max`` over the last axis
  (numba: a loop over the row before the loop that writes it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

from ..core import registry
from ..core.forms import UnitForm

CAP = 709.0  # e^709 is the largest power of e a float64 holds


class _Printer(PythonCodePrinter):
    """Python code for one formula; subclasses say which library a function comes from."""

    def __init__(self, reductions: frozenset = frozenset()):
        super().__init__({"fully_qualified_modules": False})
        self.reductions = reductions  # symbols of max reductions: exp of u - m never overflows

    def _print_Symbol(self, expr):
        return expr.name

    def _print_Integer(self, expr):
        return f"{int(expr)}.0"

    def _print_Rational(self, expr):
        return repr(float(expr))

    def _print_Float(self, expr):
        return repr(float(expr))

    def _print_Pow(self, expr, rational=False):
        base, exp = expr.args
        if exp == -1:
            return f"1.0 / {self.parenthesize(base, sp.printing.precedence.PRECEDENCE['Mul'])}"
        if exp.is_Integer:
            return f"{self.parenthesize(base, sp.printing.precedence.PRECEDENCE['Pow'])}**{exp}"
        return super()._print_Pow(expr, rational)

    def _print_Relational(self, expr):
        op = {"==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}[expr.rel_op]
        return f"{self._print(expr.lhs)} {op} {self._print(expr.rhs)}"

    def _print_log(self, expr):
        arg = expr.args[0]
        u = _exp_plus_one(arg)
        if u is not None:
            return self.softplus(self._print(u))
        return f"{self.lib}.log({self._print(arg)})"

    def _print_tanh(self, expr):
        return f"{self.lib}.tanh({self._print(expr.args[0])})"

    def _print_Abs(self, expr):
        return f"abs({self._print(expr.args[0])})"

    def _print_Piecewise(self, expr):
        u = _relu_of(expr)
        if u is not None:
            return self.relu(self._print(u))
        *branches, (last, condition) = expr.args
        if condition is not sp.true:
            raise ValueError(f"a Piecewise without a catch-all branch has no code: {expr}")
        code = self._print(last)
        for value, cond in reversed(branches):
            code = self.where(self._print(cond), self._print(value), code)
        return code


class NumPyPrinter(_Printer):
    lib = "np"

    def _print_exp(self, expr):
        arg = expr.args[0]
        if arg.free_symbols & self.reductions:  # z - max(z) <= 0: no cap needed
            return f"np.exp({self._print(arg)})"
        return f"np.exp(np.minimum({self._print(arg)}, {CAP}))"

    def _print_Max(self, expr):
        code = self._print(expr.args[0])
        for arg in expr.args[1:]:
            code = f"np.maximum({code}, {self._print(arg)})"
        return code

    def _print_Abs(self, expr):
        return f"np.abs({self._print(expr.args[0])})"

    def softplus(self, u: str) -> str:
        return f"np.logaddexp(0.0, {u})"

    def relu(self, u: str) -> str:
        return f"np.maximum({u}, 0.0)"

    def where(self, condition: str, value: str, otherwise: str) -> str:
        return f"np.where({condition}, {value}, {otherwise})"


class NumbaPrinter(_Printer):
    lib = "math"

    def _print_exp(self, expr):
        return f"_exp({self._print(expr.args[0])})"

    def _print_tanh(self, expr):  # math.tanh is a call per element; _tanh vectorizes
        return f"_tanh({self._print(expr.args[0])})"

    def _print_Max(self, expr):
        return f"max({', '.join(self._print(a) for a in expr.args)})"

    def softplus(self, u: str) -> str:  # the kernel's own, stable and read exactly
        return f"_softplus({u})"

    def relu(self, u: str) -> str:
        return f"max({u}, 0.0)"

    def where(self, condition: str, value: str, otherwise: str) -> str:
        return f"({value} if {condition} else {otherwise})"


def _exp_plus_one(arg: sp.Expr) -> sp.Expr | None:
    """u when ``arg`` is 1 + e^u."""
    if arg.is_Add and len(arg.args) == 2 and sp.S.One in arg.args:
        other = arg.args[1] if arg.args[0] == 1 else arg.args[0]
        if isinstance(other, sp.exp):
            return other.args[0]
    return None


def _relu_of(pw: sp.Piecewise) -> sp.Expr | None:
    """u when ``pw`` is Piecewise((u, u > 0), (0, True))."""
    if len(pw.args) == 2:
        (value, condition), (zero, last) = pw.args
        if last is sp.true and zero == 0 and condition == sp.StrictGreaterThan(value, 0):
            return value
    return None


def _template(expr: sp.Expr, names: tuple[str, ...], printer: _Printer) -> str:
    """``expr`` printed with every symbol s of ``names`` as the placeholder {s}."""
    holes: dict = {sp.Symbol(n): sp.Symbol("{" + n + "}") for n in names}
    holes.update({r: sp.Float(r) for r in expr.atoms(sp.Rational) if not r.is_Integer})
    found = {s.name for s in expr.free_symbols} - set(names) - {"sum", "max"}
    if found:
        raise ValueError(f"the formula {expr} uses {', '.join(sorted(found))}, which is none "
                         f"of its arguments {', '.join(names)}")
    return spaced(printer.doprint(expr.xreplace(holes)))


def spaced(code: str) -> str:
    """a * (1.0 - a), not a*(1.0 - a): products and quotients spaced like sums."""
    return re.sub(r"(?<![*\s])(\*|/)(?![*\s])", r" \1 ", code)


# ---------------------------------------------------------------- elementwise


@dataclass(frozen=True)
class Code:
    """One form as code: NumPy (over arrays) and numba (one element, or a call filling {out}),
    with the helper functions they call."""

    numpy: str
    numba: str
    numpy_helper: str = ""
    numba_helper: str = ""


def elementwise(expr: sp.Expr, names: tuple[str, ...], like: str) -> Code:
    """Code for an elementwise formula in ``names``; a constant is broadcast like {like}."""
    if not expr.free_symbols:  # σ'(z) = 1: an array, not a number
        value = float(expr)
        numpy = (f"np.ones_like({{{like}}})" if value == 1
                 else f"np.full_like({{{like}}}, {value!r})")
        return Code(numpy, repr(value))
    return Code(_template(expr, names, NumPyPrinter()), _template(expr, names, NumbaPrinter()))


@dataclass(frozen=True)
class ActivationCode:
    value: Code  # σ over {z}
    derivative: Code | None  # σ' over {a} (``of_output``) or {z}; None for a layer-wide σ
    vjp: Code | None = None  # J_σ(z)ᵀ v over {a}, {v} (numba: fills {out}) for a layer-wide σ


@cache
def activation(act: registry.Activation) -> ActivationCode:
    """The code of ``act``, printed from its formulas; ValueError if it has none (generic σ)."""
    if not act.elementwise:
        if act.layer is None or act.vjp is None:
            raise ValueError(f"activation {act.name!r} has no layer-wide forms to print")
        forward = act.stable or act.layer
        return ActivationCode(layer_wide(forward, f"_{act.name}"), None,
                              layer_wide(act.vjp, f"_{act.name}_vjp"))
    if act.formula is None or act.derivative is None:
        raise ValueError(f"activation {act.name!r} has no formula to print code from")
    z, a = sp.Symbol("z"), sp.Symbol("a")
    if act.of_output is not None:
        derivative = elementwise(sp.sympify(act.of_output(a)), ("a",), "a")
    else:
        derivative = elementwise(sp.sympify(act.derivative(z)), ("z",), "z")
    return ActivationCode(elementwise(sp.sympify(act.formula(z)), ("z",), "z"), derivative)


@dataclass(frozen=True)
class CostCode:
    value: str  # NumPy: C summed over the batch, over {a}, {y}
    gradient: Code  # ∂C/∂a over {a}, {y}


@cache
def cost(entry: registry.Cost) -> CostCode:
    """The code of a cost written unit by unit; ValueError for one written on lists."""
    terms = registry.per_unit(entry)
    if terms is None:
        raise ValueError(f"cost {entry.name!r} is written on lists; write it unit by unit "
                         "(registry.SumOfTerms, TermWise) to print code from it")
    a, y = sp.Symbol("a"), sp.Symbol("y")
    value = _template(sp.sympify(terms[0](a, y)), ("a", "y"), NumPyPrinter())
    return CostCode(f"np.sum({value})", elementwise(sp.sympify(terms[1](a, y)), ("a", "y"), "a"))


@cache
def output_delta(form: registry.OutputDelta) -> Code:
    return layer_wide(form.form, f"_{form.activation}_delta")


# ---------------------------------------------------------------- layer-wide


def layer_wide(form: UnitForm, name: str) -> Code:
    """A ``UnitForm`` as code. NumPy: one expression when each reduction is used once,
    else a helper ``name(...)``; numba: a helper ``name_rows(..., out)`` looping over rows."""
    names = form.names
    maxima = frozenset(r.name for r in form.reductions if r.kind == "max")
    uses = sp.Add(*[r.body for r in form.reductions], form.expr)
    once = all(uses.count(r.name) == 1 for r in form.reductions)
    if once:
        expr = form.expr
        for r in reversed(form.reductions):
            expr = expr.xreplace({r.name: _reduced(r, names)})
        numpy, helper = _template(expr, names, _Reducing(maxima)), ""
    else:
        numpy, helper = _numpy_helper(form, name, maxima)
    return Code(numpy, _numba_call(form, name), helper, _numba_helper(form, name))


class _Row(sp.Function):
    """A reduction over the last axis, printed as np.sum / np.max with keepdims."""

    nargs = 2


def _reduced(r, names) -> sp.Expr:
    return _Row(sp.Symbol(r.kind), r.body)


class _Reducing(NumPyPrinter):
    def _print__Row(self, expr):
        kind, body = expr.args
        return f"np.{kind.name}({self._print(body)}, axis=-1, keepdims=True)"


def _numpy_helper(form: UnitForm, name: str, maxima: frozenset) -> tuple[str, str]:
    """A function computing the reductions in order, each subexpression the body and the
    result share once (softmax: e^(z - m))."""
    printer = NumPyPrinter(maxima)
    temps, (*bodies, expr) = sp.cse([r.body for r in form.reductions] + [form.expr],
                                    symbols=sp.numbered_symbols("e"))
    pending = dict(temps)
    lines = [f"def {name}({', '.join(form.names)}):"]

    def emit(e: sp.Expr) -> None:
        for t in sorted(e.free_symbols & set(pending), key=str):
            value = pending.pop(t)
            emit(value)
            lines.append(f"    {t} = {spaced(printer.doprint(value))}")

    for r, body in zip(form.reductions, bodies):
        emit(body)
        lines.append(f"    {r.name} = np.{r.kind}({spaced(printer.doprint(body))}, axis=-1, "
                     "keepdims=True)")
    emit(expr)
    lines.append(f"    return {spaced(printer.doprint(expr))}")
    call = f"{name}({', '.join('{' + n + '}' for n in form.names)})"
    return call, "\n".join(lines) + "\n"


def _numba_call(form: UnitForm, name: str) -> str:
    return f"{name}_rows({', '.join('{' + n + '}' for n in form.names)}, {{out}})"


def _numba_helper(form: UnitForm, name: str) -> str:
    """A row loop: each reduction in a pass over the row, then the row itself. A
    subexpression shared by the last reduction and the result is kept in ``out`` between
    the two passes (softmax: e^(z - m) is computed once)."""
    printer = NumbaPrinter()
    first = form.names[0]

    def element(expr: sp.Expr) -> str:
        return spaced(printer.doprint(expr.xreplace({s: sp.Symbol(f"{s.name}[i, j]") for s in
                                                     form.args})))

    lines = ["@_jit", f"def {name}_rows({', '.join(form.names)}, out):",
             f"    for i in range({first}.shape[0]):"]
    expr, kept = form.expr, None
    for n, r in enumerate(form.reductions):
        last = n == len(form.reductions) - 1
        body = r.body
        if last and r.kind == "sum" and not body.is_Symbol and \
                body.free_symbols & set(form.args) and expr.has(body):
            kept = body  # written into out in this pass, read back in the next
        start = "0.0" if r.kind == "sum" else "-np.inf"
        lines.append(f"        {r.name} = {start}")
        lines.append(f"        for j in range({first}.shape[1]):")
        if kept is not None:
            lines.append(f"            out[i, j] = {element(kept)}")
            body = sp.Symbol("out[i, j]")
        step = element(body)
        lines.append(f"            {r.name} = {r.name} + {step}" if r.kind == "sum"
                     else f"            {r.name} = max({r.name}, {step})")
    if kept is not None:
        expr = expr.xreplace({kept: sp.Symbol("out[i, j]")})
    lines.append(f"        for j in range({first}.shape[1]):")
    lines.append(f"            out[i, j] = {element(expr)}")
    return "\n".join(lines) + "\n"
