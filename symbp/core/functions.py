"""Opaque activations: SymPy functions the routes differentiate without looking inside.

Why opaque: the routes differentiate ``sigmoid(z)`` to ``sigmoid_prime(z)`` and no
further, so the proof that the routes agree holds for *every* differentiable
activation. The one fact that ties the opaque σ' to a concrete activation is its
one-variable lemma ``d/dz formula(z) == derivative(z)``, proved separately.

Opaque is not inert: a function that has a formula evaluates numerically at
numbers (``.subs(z, 0.5).evalf()``, or a Float argument), runs under
``sympy.lambdify`` through its NumPy form, and differentiates twice through its
explicit derivative. None of that rewrites a symbolic expression, so what the
prover sees stays opaque. ``explicit`` swaps the formulas in on request.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, ClassVar

import sympy as sp
from mpmath.libmp import prec_to_dps

Formula = Callable[[sp.Expr], sp.Expr]


class _NumPyForm:
    """A formula in one variable as a NumPy function, built on first use (``_imp_``)."""

    def __init__(self, formula: Formula):
        self.formula = formula
        self.function: Callable | None = None

    def __get__(self, obj: object, owner: type) -> Callable:
        if self.function is None:
            z = sp.Dummy("z")
            self.function = sp.lambdify(z, self.formula(z), "numpy")
        return self.function


class Opaque(sp.Function):
    """An opaque elementwise function; ``formula`` (None for the generic σ) is its meaning."""

    nargs = 1
    formula: ClassVar[Formula | None] = None
    latex_name: ClassVar[str] = r"\sigma"

    def explicit(self) -> sp.Expr:
        """The formula applied to this function's argument (itself without a formula)."""
        formula = type(self).formula
        return self if formula is None else formula(self.args[0])

    def _eval_evalf(self, prec: int) -> sp.Expr | None:
        formula = type(self).formula
        arg = self.args[0].evalf(prec_to_dps(prec))
        if formula is None or not arg.is_number:
            return None  # symbolic stays opaque
        return sp.sympify(formula(arg)).evalf(prec_to_dps(prec))

    def _latex(self, printer: Any, exp: str | None = None) -> str:
        arg = printer._print(self.args[0])
        base = rf"{self.latex_name}\left({arg}\right)"
        return base if exp is None else rf"{self.latex_name}^{{{exp}}}\left({arg}\right)"


@cache
def opaque_pair(name: str, latex: str, formula: Formula | None = None,
                derivative: Formula | None = None) -> tuple[type[Opaque], type[Opaque]]:
    """An opaque function ``name`` and its opaque derivative ``name_prime``.

    Cached so that every layer and every derivation share one class per entry
    (SymPy compares applied functions by class).
    """
    prime_attrs: dict[str, Any] = {"formula": staticmethod(derivative) if derivative else None,
                                   "latex_name": latex + "'"}
    if derivative is not None:
        second = _derivative_of(derivative)
        prime_attrs["_imp_"] = _NumPyForm(derivative)
        prime_attrs["fdiff"] = lambda self, argindex=1: second(self.args[0])  # σ'' explicitly
    prime = type(f"{name}_prime", (Opaque,), prime_attrs)
    attrs: dict[str, Any] = {"formula": staticmethod(formula) if formula else None,
                             "latex_name": latex,
                             "fdiff": lambda self, argindex=1: prime(self.args[0])}
    if formula is not None:
        attrs["_imp_"] = _NumPyForm(formula)
    function = type(name, (Opaque,), attrs)
    return function, prime


def _derivative_of(formula: Formula) -> Formula:
    z = sp.Dummy("z")
    derivative = sp.diff(formula(z), z)
    return lambda arg: derivative.xreplace({z: arg})


# ---------------------------------------------------------------- softmax


def softmax_jacobian_entry(a_j: sp.Expr, a_k: sp.Expr, same: bool | sp.Expr) -> sp.Expr:
    """The registered ∂a_j/∂z_k of softmax: a_j (δ_jk − a_k); ``same`` is whether j = k (a
    bool, or a SymPy Kronecker delta for symbolic j and k)."""
    return a_j * ((same if isinstance(same, sp.Basic) else int(same)) - a_k)


def softmax_formula(z: Sequence[sp.Expr]) -> list[sp.Expr]:
    """The explicit softmax, for its Jacobian lemma and for ``explicit``."""
    total = sum(sp.exp(zk) for zk in z)
    return [sp.exp(zj) / total for zj in z]


def _numpy_softmax(j: int, *z: Any) -> Any:
    import numpy as np

    shift = np.maximum.reduce(z)  # shifted: no overflow
    e = [np.exp(zk - shift) for zk in z]
    return e[int(j)] / sum(e)


class Softmax(sp.Function):
    """``Softmax(j, z_1, ..., z_n)``: entry j (0-based) of softmax(z), kept opaque.

    Its partial derivatives are the registered Jacobian a_j (δ_jk − a_k); the
    softmax lemma proves that Jacobian from the explicit formula.
    """

    _imp_ = staticmethod(_numpy_softmax)

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        j, zs = self.args[0], self.args[1:]
        k = argindex - 2
        if k < 0:
            raise sp.ArgumentIndexError(self, argindex)
        return softmax_jacobian_entry(self, Softmax(k, *zs), j == k)

    def explicit(self) -> sp.Expr:
        return softmax_formula(self.args[1:])[int(self.args[0])]

    def _eval_evalf(self, prec: int) -> sp.Expr | None:
        args = [a.evalf(prec_to_dps(prec)) for a in self.args[1:]]
        if not all(a.is_number for a in args):
            return None
        return softmax_formula(args)[int(self.args[0])].evalf(prec_to_dps(prec))

    def _latex(self, printer: Any, exp: str | None = None) -> str:
        j = int(self.args[0]) + 1
        args = ", ".join(printer._print(z) for z in self.args[1:])
        base = rf"\operatorname{{softmax}}_{{{j}}}\left({args}\right)"
        return base if exp is None else rf"{base}^{{{exp}}}"


# ---------------------------------------------------------------- explicit


def explicit(expr: Any) -> Any:
    """Replace every opaque activation (and σ') by its explicit formula.

    The result is an ordinary SymPy expression (exp, Piecewise, ...) or matrix.
    The generic σ has no formula and stays opaque. Opaque functions already
    evaluate numerically and work with ``sympy.lambdify``; ``explicit`` is for
    seeing, simplifying or differentiating the formula itself.
    """
    if isinstance(expr, sp.MatrixBase):  # its entries share parts: each made explicit once
        done: dict = {}
        return expr.applyfunc(lambda entry: _explicit(sp.sympify(entry), done))
    if isinstance(expr, bool) or not isinstance(expr, sp.Basic | numbers.Number):
        hint = ("; for a derivation, explicit(d.grad(l)) or explicit(d.delta(l))"
                if type(expr).__name__ == "Derivation" else "")
        raise ValueError(f"explicit() takes a SymPy expression or matrix (as d.grad(l) returns), "
                         f"got {type(expr).__name__}{hint}")
    return _explicit(sp.sympify(expr), {})


def _explicit(expr: Any, done: dict) -> Any:
    """SymPy's ``expr.replace(opaque, its formula, simultaneous=False)`` (arguments first, then
    the node, as rebuilt), with what each distinct part gave remembered (``done``): replace
    walks a part again wherever it recurs, and a derivative's entries share most of theirs.
    Not simultaneous: with SymPy's masking, leaky_relu(leaky_relu(3)) came back as
    leaky_relu(3)."""
    found = done.get(expr)
    if found is not None:
        return found
    node = expr
    args = getattr(expr, "args", None)
    if args:
        new = tuple(_explicit(a, done) for a in args)
        if new != args:
            node = expr.func(*new)
    if isinstance(node, Opaque | Softmax):
        value = node.explicit()
        if value is not None and value != node:
            node = value
    done[expr] = node
    return node
