"""Printed Python run exactly: a generated module's function called on NumPy object arrays of
SymPy expressions, so that what it returns is the program's value in symbols, never a float.

The module text is the one written out (``exact_function(source, name)``); its statements run
as printed, with three readings of what floats would do:

- a float literal is the simplest rational that rounds to it (the printers write a rational
  r as the float nearest r: 0.5, 1e-05, 0.3333333333333333 are 1/2, 1/100000, 1/3);
- the functions of one argument are SymPy's (np.exp, math.exp and the numba kernel's own
  ``_exp`` are exp; ``_tanh`` is tanh; ``_softplus`` is log(1 + e^u), which its body
  max(u, 0) + log1p(e^-|u|) equals for every real u), and the arrays they make hold exact
  zeros and ones;
- a comparison is SymPy's relation: decided where SymPy decides it, else a choice
  (np.where, np.maximum, min, max, ``a if c else b``) is the Piecewise of its branches, as
  the code takes them, a tie the second (u > v for a maximum). The one comparison decided
  by assumption is against exp's overflow cap (``CAPS``): the printers write
  exp(min(u, 709)) and a tangent np.where(u < 709, ...), and the cap is read as not binding
  (u below it). ``Run`` counts the comparisons so decided; a claim built on one says so;
- a softmax's stabilizer (``code_maxima``): np.max of a row of symbols is a free symbol m,
  the tangent taken at np.argmax another, ṁ; 0 < t − m is false for t in m's row (t ≤ m).

Anything else the code does to a symbol (a Python ``if`` on it, a float() of it) raises, and
the claim built on it fails with that error: never a guess.
"""

from __future__ import annotations

import ast
import hashlib
import math
import operator
from fractions import Fraction
from typing import Any

import numpy as np
import sympy as sp

from .code_maxima import ArgMax, Maxima

# exp's argument is capped where e^u would overflow a float64 (numeric.forms.CAP, and the
# numba kernel's lower clamp): a bound the code writes, read as not binding
CAPS = (sp.Integer(709), sp.Integer(-708))
_RELATIONS = {"<": sp.Lt, "<=": sp.Le, ">": sp.Gt, ">=": sp.Ge, "==": sp.Eq, "!=": sp.Ne}
_PYTHON = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
           "==": operator.eq, "!=": operator.ne}
_OPS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
# functions of one argument, as SymPy's, by the name the module calls them
_FUNCTIONS = {"exp": sp.exp, "tanh": sp.tanh, "sqrt": sp.sqrt, "log": sp.log,
              "log1p": lambda u: sp.log(1 + u), "abs": sp.Abs, "sign": sp.sign,
              "_exp": sp.exp, "_tanh": sp.tanh,
              # the kernel's max(u, 0) + log1p(e^-|u|): log(1 + e^u) exactly, for every real u
              # (tests/test_tangent_proof.py proves it by cases), so no kink is left to read
              "_softplus": lambda u: sp.log(1 + sp.exp(u))}


def literal(value: float) -> sp.Rational:
    """The simplest rational whose nearest float64 is ``value``."""
    if not math.isfinite(value):
        raise ValueError(f"the literal {value!r} is not a finite number")
    exact = Fraction(value)
    for digits in range(0, 18):
        q = exact.limit_denominator(10 ** digits)
        if float(q) == value:
            return sp.Rational(q.numerator, q.denominator)
    return sp.Rational(exact.numerator, exact.denominator)


def function_source(source: str, name: str) -> str:
    """The text of the top-level function ``name`` of the module ``source``, decorators
    and docstring included (what a fingerprint of it reads)."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return ast.get_source_segment(source, node, padded=False) or ""
    raise ValueError(f"the module defines no function {name!r}")


def code_fingerprint(source: str, name: str) -> str:
    """16 hex digits of SHA-256 of the function ``name`` as printed in ``source``."""
    return hashlib.sha256(function_source(source, name).encode()).hexdigest()[:16]


class Run:
    """One exact run: the NumPy and math the module sees, and what was assumed."""

    def __init__(self, maxima: Maxima | None = None) -> None:
        self.capped = 0  # comparisons with exp's cap, read as not binding
        self.maxima = maxima or Maxima()  # a softmax's row maxima, free (code_maxima)

    # ---- scalars and arrays

    def exact(self, value: Any) -> Any:
        """Floats (and float arrays) as rationals; anything else as it is."""
        if isinstance(value, float | np.floating):
            return sp.Integer(0) if value == 0 else (
                sp.S.NegativeInfinity if value == -math.inf else
                sp.S.Infinity if value == math.inf else literal(float(value)))
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            return _each(self.exact, 1)(value).astype(object)
        return value

    def compare(self, a: Any, op: str, b: Any) -> Any:
        if not (_symbolic(a) or _symbolic(b)):
            return _PYTHON[op](a, b)
        return _each(lambda u, w: self._relation(u, op, w), 2)(self.exact(a), self.exact(b))

    def _relation(self, u: Any, op: str, w: Any) -> Any:
        u, w = sp.sympify(u), sp.sympify(w)
        relation = _RELATIONS[op](u, w)
        if relation in (sp.true, sp.false):
            return relation
        for side, below in ((w, op in ("<", "<=")), (u, op in (">", ">="))):
            if side in CAPS and op not in ("==", "!="):
                self.capped += 1  # the other side within the cap: u < 709, u > -708
                return sp.true if below == (side == CAPS[0]) else sp.false
        decided = self.maxima.decide(u, op, w)  # 0 < t - m: false for t in m's row
        return relation if decided is None else decided

    def choose(self, test: Any, a: Any, b: Any) -> Any:
        def one(t, u, w):
            if t is sp.true or t is True:
                return u
            if t is sp.false or t is False:
                return w
            return sp.Piecewise((u, t), (w, True))
        return _each(one, 3)(test, self.exact(a), self.exact(b))

    def branch(self, test: Any, a, b) -> Any:
        """The value of the branch (a thunk) ``test`` takes; both, chosen, if undecided."""
        if not _symbolic(test):
            return a() if test else b()
        if test is sp.true or test is sp.false:
            return a() if test is sp.true else b()
        return self.choose(test, a(), b())

    def extreme(self, a: Any, b: Any, op: str) -> Any:
        a, b = self.exact(a), self.exact(b)
        for side, other in ((b, a), (a, b)):  # exp(min(u, 709)): the cap not binding
            if _is(side, CAPS):
                self.capped += 1
                return other
        return self.choose(self.compare(a, op, b), a, b)

    def namespace(self) -> dict[str, Any]:
        """``np``, ``math`` and the numba kernel's helpers, as the module's code sees them."""
        return {"np": _NumPy(self), "math": _Math(), **{k: _each(f, 1) for k, f in
                                                         _FUNCTIONS.items() if k[0] == "_"},
                "min": lambda a, b: self.extreme(a, b, "<"),
                "max": lambda a, b: self.extreme(a, b, ">"),
                "_compare": self.compare, "_branch": self.branch}


def _is(value: Any, constants: tuple) -> bool:
    return not isinstance(value, np.ndarray) and sp.sympify(value) in constants


def _symbolic(value: Any) -> bool:
    return isinstance(value, sp.Basic) or (isinstance(value, np.ndarray)
                                           and value.dtype == object)


def _rows(a: Any, axis: Any) -> bool:
    """Rows (the last axis) of an array holding a value no comparison can rank."""
    return isinstance(a, np.ndarray) and a.dtype == object and a.ndim > 0 and \
        axis in (-1, a.ndim - 1) and any(not sp.sympify(e).is_number for e in a.flat)


def _each(f, arguments: int):
    """``f`` elementwise over arrays (broadcast), as it is on scalars."""
    vectorized = np.frompyfunc(f, arguments, 1)

    def apply(*values):
        if any(isinstance(v, np.ndarray) for v in values):
            return vectorized(*values)
        return f(*values)
    return apply


class _Math:
    """``math`` as SymPy's functions."""

    def __getattr__(self, name: str) -> Any:
        if name in _FUNCTIONS:
            return _each(_FUNCTIONS[name], 1)
        return getattr(math, name)


class _NumPy:
    """NumPy with exact elements: the module's arrays are object arrays of SymPy expressions;
    what moves entries (reshape, einsum, take, stack, ...) is NumPy's own."""

    def __init__(self, run: Run):
        self._run = run

    def __getattr__(self, name: str) -> Any:
        if name in _FUNCTIONS:
            return lambda u, **keywords: _each(_FUNCTIONS[name], 1)(self._run.exact(u))
        return getattr(np, name)

    def logaddexp(self, a, b):  # log(e^a + e^b): softplus prints as np.logaddexp(0.0, u)
        return _each(lambda u, w: sp.log(sp.exp(u) + sp.exp(w)), 2)(self._run.exact(a),
                                                                      self._run.exact(b))

    def _made(self, shape, fill, dtype=None):
        if dtype is not None and np.dtype(dtype).kind in "iub":
            return np.full(shape, int(fill), dtype=dtype)
        return np.full(shape, sp.Integer(fill), dtype=object)

    def zeros(self, shape, dtype=None):
        return self._made(shape, 0, dtype)

    def ones(self, shape, dtype=None):
        return self._made(shape, 1, dtype)

    def empty(self, shape, dtype=None):  # read before it is written: nan, which is refused
        made = self._made(shape, 0, dtype)
        if made.dtype == object:
            made[...] = sp.nan
        return made

    def zeros_like(self, a, dtype=None):
        return self.zeros(np.shape(a), dtype)

    def ones_like(self, a, dtype=None):
        return self.ones(np.shape(a), dtype)

    def empty_like(self, a, dtype=None):
        return self.empty(np.shape(a), dtype)

    def where(self, test, a, b):
        return self._run.choose(test, a, b)

    # a softmax's stabilizer: each row's maximum a free symbol m, the tangent at its argmax ṁ
    def max(self, a, axis=None, **keywords):
        if _rows(a, axis) and not keywords:
            return self._run.maxima.maximum(a)
        return np.max(a, axis=axis, **keywords)

    def argmax(self, a, axis=None, **keywords):
        if _rows(a, axis) and not keywords:
            return ArgMax(a)
        return np.argmax(a, axis=axis, **keywords)

    def expand_dims(self, a, axis):
        if isinstance(a, ArgMax):
            return ArgMax(a.of, expanded=axis in (-1, a.of.ndim - 1))
        return np.expand_dims(a, axis)

    def take_along_axis(self, values, indices, axis):
        if isinstance(indices, ArgMax):
            return self._run.maxima.rates(indices, values, axis)
        return np.take_along_axis(values, indices, axis)

    def minimum(self, a, b):
        return self._run.extreme(a, b, "<")

    def maximum(self, a, b):
        return self._run.extreme(a, b, ">")

    def asarray(self, a, dtype=None):
        return self._run.exact(np.asarray(a)) if dtype is None else np.asarray(a, dtype)

    def ascontiguousarray(self, a, dtype=None):
        return self.asarray(a)

    def dot(self, a, b, out=None):
        value = np.dot(self._run.exact(a), self._run.exact(b))
        if out is None:
            return value
        out[...] = value
        return out

    def einsum(self, *operands, **keywords):
        keywords.pop("optimize", None)  # the order of the sums: the same value exactly
        return np.einsum(*map(self._run.exact, operands), **keywords)


class _Literals(ast.NodeTransformer):
    """Float literals as names of rationals, comparisons as ``_compare`` calls, decorators
    (numba's jit) dropped: the function as plain Python over exact values."""

    def __init__(self) -> None:
        self.values: dict[str, sp.Rational] = {}

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        node.decorator_list = []
        self.generic_visit(node)
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.expr:
        if not isinstance(node.value, float):
            return node
        name = f"_literal{len(self.values)}"
        self.values[name] = literal(node.value)
        return ast.copy_location(ast.Name(name, ast.Load()), node)

    def visit_IfExp(self, node: ast.IfExp) -> ast.expr:
        """``a if c else b`` as ``_branch(c, lambda: a, lambda: b)``: the branch taken where c
        is decided, else the choice of ``Run`` over both (numba's choice over scalars)."""
        self.generic_visit(node)
        thunks = [ast.Lambda(ast.arguments([], [], None, [], [], None, []), branch)
                  for branch in (node.body, node.orelse)]
        call = ast.Call(ast.Name("_branch", ast.Load()), [node.test, *thunks], [])
        return ast.copy_location(call, node)

    def visit_Compare(self, node: ast.Compare) -> ast.expr:
        self.generic_visit(node)
        if len(node.ops) != 1 or type(node.ops[0]) not in _OPS:
            return node
        call = ast.Call(ast.Name("_compare", ast.Load()),
                        [node.left, ast.Constant(_OPS[type(node.ops[0])]), node.comparators[0]],
                        [])
        return ast.copy_location(call, node)


def exact_function(source: str, name: str, run: Run, instrument: ast.NodeTransformer | None = None,
                   hooks: dict[str, Any] | None = None) -> Any:
    """The function ``name`` of the module ``source``, its statements as printed, on exact
    values (``run``): the module is executed as written (its constants: positions, masks),
    then its functions again, read exactly, with ``np`` and ``math`` exact; ``instrument``
    adds statements to the functions read (calling ``hooks``: ``code_trace``)."""
    tree = ast.parse(source)
    module: dict[str, Any] = {"__name__": "symbp_exact"}
    plain = ast.parse(source)  # as written, but for numba's jit
    for s in plain.body:
        if isinstance(s, ast.FunctionDef):
            s.decorator_list = []
    kept = [s for s in plain.body if isinstance(s, ast.FunctionDef) or not _imports_numba(s)]
    exec(compile(ast.Module(kept, []), "<printed>", "exec"), module)
    for key, value in list(module.items()):
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            module[key] = run.exact(value)
    reader = _Literals()
    functions = [reader.visit(instrument.visit(s) if instrument else s) for s in tree.body
                 if isinstance(s, ast.FunctionDef)]
    module.update(reader.values)
    module.update(hooks or {})
    exec(compile(ast.fix_missing_locations(ast.Module(functions, [])), "<printed>", "exec"),
         module)
    module.update(run.namespace())  # after: the kernel's own _exp and _tanh are SymPy's
    if name not in module:
        raise ValueError(f"the module defines no function {name!r}")
    return module[name]


def _imports_numba(statement: ast.stmt) -> bool:
    """A statement of the numba module that needs numba (its import, the jit's setup)."""
    return "numba" in ast.unparse(statement)
