"""Whether an expression vanishes identically, decided by one point where it is certified nonzero.

``exact`` asks this of every denominator and of every log's argument: an expression that
is zero everywhere makes a 0/0 (or an infinity) of which any identity "holds". One point
where it is nonzero settles it, and the point has to be a legitimate one:

- a symbol gets a rational that is what the symbol is declared to be: an integer symbol an
  integer, a positive one a positive rational, a zero one 0 (``unhonoured`` names a
  declaration no rational can meet, such as irrational; ``exact`` refuses those);
- an *undefined* function takes a free value per distinct argument: ``Function('f')``,
  symbp's generic σ and σ' (opaque, without a formula), a SymPy function class that defines
  no value of its own, and derivatives of these. That is the "for every σ" case: some
  differentiable function takes those values there;
- every concrete function keeps its meaning: symbp's sigmoid, tanh, relu, ... and their
  primes through their formulas, softmax through its explicit formula, exp, log, tanh, ...
  as themselves.

The value is computed exactly, in rationals, for as long as it stays rational (σ(0) = 1/2,
so 2σ(0) − 1 is exactly 0), and from there in interval arithmetic (``mpmath.iv``) at rising
precision: it is nonzero only when an interval that encloses it excludes 0, and a branch of
a Piecewise is taken only when its condition is certified. A sign is never read off a
rounded number: SymPy's evalf, even with ``strict=True``, gives tanh(log 6 − log 2 − log 3)
as −5.8e-129. What the intervals do not cover (complex values, functions without an
interval form, a sum of symbolic length) is not seen, and the caller refuses.
"""

from __future__ import annotations

import operator
import random
from fractions import Fraction
from typing import Any

import mpmath
import sympy as sp
from sympy.core.function import Application, AppliedUndef

from ..core.functions import Opaque, Softmax, softmax_formula
from .certified import (
    INTERVAL_FORMS,
    RELATIONS,
    Unseen,
    Value,
    distinct,
    fold,
    interval,
    iv,
    sign,
)
from .points import broken, candidate

POINTS_TRIED = 6  # the last half with small values, so that saturating functions stay certifiable
# bits of the intervals, tried in turn; the last only until one point has climbed to it in
# vain (mpmath's exp in pure Python takes 0.3 ms at 5120 bits, 5 ms at 20480)
PRECISIONS = (80, 320, 1280, 5120)
LONGEST_SUM = 64  # a Sum of more terms is not written out
_TEMPLATES: dict[tuple[Any, int], tuple[tuple[sp.Dummy, ...], sp.Expr]] = {}


# ---------------------------------------------------------------- which functions are free


def undefined(e: sp.Basic) -> bool:
    """A function with no meaning of its own, whose values may be chosen freely."""
    if isinstance(e, AppliedUndef):
        return True
    if isinstance(e, Opaque):
        return type(e).formula is None
    if isinstance(e, Softmax) or not isinstance(e, sp.Function):
        return False
    return _no_value_of_its_own(type(e))


def _no_value_of_its_own(cls: Any) -> bool:
    """A Function subclass outside SymPy with no eval, no evalf and no mpmath namesake."""
    return (not cls.__module__.startswith("sympy.")
            and getattr(cls.eval, "__func__", None) is sp.Function.eval.__func__
            and cls._eval_evalf is sp.Function._eval_evalf
            and not hasattr(mpmath, cls.__name__))


def _has_undefined(e: sp.Basic) -> bool:
    return any(undefined(f) for f in e.atoms(sp.Function))


def _template(cls: Any, arity: int) -> tuple[tuple[sp.Dummy, ...], sp.Expr]:
    """A concrete function's explicit formula in fresh variables (made once per class)."""
    found = _TEMPLATES.get((cls, arity))
    if found is None:
        found = _TEMPLATES[(cls, arity)] = _made_template(cls, arity)
    return found


def _made_template(cls: Any, arity: int) -> tuple[tuple[sp.Dummy, ...], sp.Expr]:
    variables = tuple(sp.Dummy(f"t{i}") for i in range(arity))
    if issubclass(cls, Softmax):
        return variables, sp.Matrix(softmax_formula(variables[1:]))
    assert cls.formula is not None
    return variables, sp.sympify(cls.formula(variables[0]))


# ---------------------------------------------------------------- one point


class _Point:
    """Values for the symbols of one point (kept across precisions) and the free functions."""

    def __init__(self, seed: int, small: bool):
        self.seed, self.small = seed, small
        self.rng = random.Random(seed)
        self.atoms: dict[sp.Basic, Fraction] = {}
        self.free: dict[object, list[tuple[tuple, Fraction]]] = {}
        self.free_rng = random.Random(seed)

    def evaluate(self, expr: sp.Basic, prec: int) -> Value:
        self.free, self.free_rng = {}, random.Random(self.seed * 65537 + prec)
        saved, iv.prec = iv.prec, prec  # the interval context has no workprec of its own
        try:
            return _Walk(self, {}).value(expr)
        finally:
            iv.prec = saved

    def atom(self, atom: sp.Basic) -> Fraction:
        found = self.atoms.get(atom)
        if found is None:
            value = candidate(atom, self.rng, self.small)
            if broken(atom, value):
                raise Unseen("none")
            found = self.atoms[atom] = Fraction(int(value.p), int(value.q))
        return found

    def free_value(self, family: object, args: tuple, application: sp.Basic) -> Fraction:
        """One value per distinct argument; arguments not certified distinct share a value."""
        entries = self.free.setdefault(family, [])
        shared = {v for a, v in entries if not distinct(a, args)}
        if len(shared) > 1:
            raise Unseen("precision")
        if shared:
            return shared.pop()
        value = candidate(application, self.free_rng)
        if broken(application, value):
            raise Unseen("none")
        entries.append((args, Fraction(int(value.p), int(value.q))))
        return entries[-1][1]


class _Walk:
    """Values of subexpressions under ``env`` (bound variables, a formula's variables)."""

    def __init__(self, point: _Point, env: dict[sp.Basic, Value]):
        self.point, self.env = point, env
        self.memo: dict[sp.Basic, Value] = {}

    def value(self, e: sp.Basic) -> Value:
        found = self.memo.get(e)
        if found is None:
            found = self.memo[e] = self._value(e)
        return found

    def _value(self, e: sp.Basic) -> Value:
        if e in self.env:
            return self.env[e]
        if e.is_Rational:
            return Fraction(int(e.p), int(e.q))
        if e is sp.pi or e is sp.E:
            return iv.pi if e is sp.pi else iv.e
        if e.is_Symbol:
            return self.point.atom(e)
        if isinstance(e, sp.Indexed):
            indices = [self.value(i) for i in e.indices]
            if not all(isinstance(i, Fraction) for i in indices):
                raise Unseen("none")
            return self.point.atom(e.base[tuple(sp.Rational(i.numerator, i.denominator)
                                                for i in indices)])
        if e.is_Add:
            return fold([self.value(a) for a in e.args], operator.add)
        if e.is_Mul:
            return fold([self.value(a) for a in e.args], operator.mul)
        if e.is_Pow:
            return self._power(e.base, e.exp)
        if isinstance(e, sp.Piecewise):
            for expr, condition in e.args:
                if self.truth(condition):
                    return self.value(expr)
            raise Unseen("point")  # outside every branch: undefined here
        if isinstance(e, sp.Derivative | sp.Subs):
            return self._derivative(e)
        if isinstance(e, sp.Sum):
            return self._sum(e)
        if isinstance(e, Application):  # functions, Max and Min
            return self._function(e)
        raise Unseen("none")

    def _power(self, base: sp.Expr, exponent: sp.Expr) -> Value:
        b = self.value(base)
        if exponent.is_Integer:
            n = int(exponent)
            if isinstance(b, Fraction):
                if not b and n < 0:
                    raise Unseen("point")  # a denominator inside is zero here
                return b**n
            if n < 0:
                sign(b)  # certified nonzero, or try more digits
                return 1 / b ** (-n)
            return b**n
        e = self.value(exponent)
        if isinstance(b, Fraction) and isinstance(e, Fraction):
            exact = sp.Pow(sp.Rational(b.numerator, b.denominator),
                           sp.Rational(e.numerator, e.denominator))
            if exact.is_Rational:
                return Fraction(int(exact.p), int(exact.q))
        if sign(b) <= 0:
            raise Unseen("none")  # complex values are not enclosed here
        return iv.exp(interval(e) * iv.log(interval(b)))

    def truth(self, condition: sp.Basic) -> bool:
        if condition is sp.true or condition is sp.false:
            return bool(condition)
        if isinstance(condition, sp.And):
            return all(self.truth(c) for c in condition.args)
        if isinstance(condition, sp.Or):
            return any(self.truth(c) for c in condition.args)
        if isinstance(condition, sp.Not):
            return not self.truth(condition.args[0])
        relation = RELATIONS.get(type(condition))
        if relation is None:
            raise Unseen("none")
        sides = [self.value(condition.lhs), self.value(condition.rhs)]
        return relation(sign(fold(sides, operator.sub)))

    def _derivative(self, e: sp.Basic) -> Value:
        if _has_undefined(e):  # one free value for all of them: always a legitimate choice
            family = ("derivative", frozenset(type(f) for f in e.atoms(sp.Function)
                                              if undefined(f)))
            return self.point.free_value(family, (), e)
        done = e.doit()
        if done.has(sp.Derivative, sp.Subs):
            raise Unseen("none")
        return self.value(done)

    def _sum(self, e: sp.Sum) -> Value:
        *inner, (index, first, last) = e.limits
        a, b = self.value(first), self.value(last)
        if not (isinstance(a, Fraction) and isinstance(b, Fraction)
                and a.denominator == b.denominator == 1 and b - a < LONGEST_SUM):
            raise Unseen("none")
        body = sp.Sum(e.function, *inner) if inner else e.function
        terms = [_Walk(self.point, {**self.env, index: Fraction(k)}).value(body)
                 for k in range(int(a), int(b) + 1)]
        return fold(terms, operator.add) if terms else Fraction(0)

    def _function(self, e: sp.Basic) -> Value:
        if undefined(e):
            at = tuple(a if isinstance(a, sp.IndexedBase) else self.value(a) for a in e.args)
            return self.point.free_value(type(e), at, e)
        args = [self.value(a) for a in e.args]
        if isinstance(e, Opaque | Softmax):
            variables, formula = _template(type(e), len(args))
            walk = _Walk(self.point, dict(zip(variables, args)))
            if isinstance(e, Softmax):
                return walk.value(formula[int(args[0])])
            return walk.value(formula)
        if all(isinstance(a, Fraction) for a in args):  # exp(0), tanh(0), Abs(-1/2): exactly
            exact = e.func(*[sp.Rational(a.numerator, a.denominator) for a in args])
            if exact.is_Rational:
                return Fraction(int(exact.p), int(exact.q))
        form = INTERVAL_FORMS.get(e.func)
        if form is None:
            raise Unseen("none")
        return form(*[interval(a) for a in args])


# ---------------------------------------------------------------- the test


def enclosure(expr: sp.Expr, bits: int) -> Value:
    """The value of a constant ``expr`` (no symbols, no undefined functions), certified: a
    Fraction when it is rational, else an mpmath interval of ``bits`` bits that encloses it.
    ValueError when it has no such value (a free symbol, a singular or complex value)."""
    expr = sp.sympify(expr)
    if expr.free_symbols or _has_undefined(expr):
        raise ValueError(f"not a constant: {str(expr)[:80]}")
    try:
        return _Point(0, small=False).evaluate(expr, bits)
    except Unseen:
        raise ValueError(f"no certified value at {bits} bits: {str(expr)[:80]}") from None


def nonzero_point(expr: sp.Expr) -> dict[sp.Basic, Fraction] | None:
    """A point (its symbols' rational values) where ``expr`` is certified nonzero, with every
    function concrete (an undefined one has no point to show); None when none is found."""
    if _has_undefined(expr):
        return None
    for n in range(POINTS_TRIED):
        point = _Point(POINTS_TRIED - 1 - n, small=n < POINTS_TRIED // 2)  # small values first
        for prec in PRECISIONS:
            try:
                if sign(point.evaluate(expr, prec)):
                    return dict(point.atoms)
                break  # exactly zero at this point
            except Unseen as unseen:
                if unseen.scope == "none":
                    return None
                if unseen.scope == "point":
                    break
            except Exception:  # mpmath at a singular point, SymPy unable to build a value
                break
    return None


def seen_nonzero(expr: sp.Expr) -> bool:
    """True when ``expr`` is certified nonzero at some legitimate point (see the module text)."""
    if isinstance(expr, sp.exp):
        return True  # e^w is never 0 (an infinite w is refused on its own)
    if expr.is_Mul:  # a constant factor is the same at every point: decided once, and dropped
        constant = [f for f in expr.args if not f.free_symbols and not _has_undefined(f)]
        if constant and len(constant) < len(expr.args):
            return (all(seen_nonzero(f) for f in constant)
                    and seen_nonzero(sp.Mul(*[f for f in expr.args if f not in constant])))
    ladder: tuple[int, ...] = PRECISIONS
    for n in range(POINTS_TRIED):
        point = _Point(n, small=n >= POINTS_TRIED // 2)
        for prec in ladder:
            try:
                value = point.evaluate(expr, prec)
                if sign(value):
                    return True
                break  # exactly zero at this point
            except Unseen as unseen:
                if unseen.scope == "none":
                    return False
                if unseen.scope == "point":
                    break
                if prec == PRECISIONS[-1]:  # straddles 0 at the top: likely 0 everywhere
                    ladder = PRECISIONS[:-1]
            except Exception:  # mpmath at a singular point, SymPy unable to build a value
                break
        if not point.atoms and not point.free:
            return False  # nothing took a value: every other point is this one
    return False
