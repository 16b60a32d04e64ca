"""A layer kind's vector forms: its maps in vector notation, written once as operator
expressions, from which the documents print them and against which the proof checks them.

A form is an ordered list of ``Equation``s, ``name = rhs``. The rhs is a SymPy tree of
the operators below (``Dot`` for a matrix product, ``Had`` for ⊙, ``Star`` for a
cross-correlation over positions, ...) over operands: the tensors of the kind's maps by
their names (x, z, a, delta, g, and each parameter's), the sizes of the maps as scalars,
and the names of earlier equations. An equation whose name is a *target* (z, a, delta,
input, or a parameter's name) states a map of the kind; any other is an intermediate
(a layer norm's μ, attention's P), put into the equations after it.

Each operator says here what it computes (``value``: its entries from its operands'
entries, as object arrays of SymPy expressions); how it prints is ``printing.vector``'s.
``proof.vector_forms`` evaluates every target at a network's sizes and compares it, entry
by entry and exactly, with the map it states; a form is never shown as proved otherwise.

A vector is a column (n × 1). A form of a recurrent layer reads one step t of a sequence
(``Equation.per_step``): ``Step(s, -1)`` is s_(t-1) (zero outside 1..T), and the equation
is evaluated at every t and its columns put side by side.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp

TARGETS = ("z", "a", "delta", "input")  # and each parameter's name
SIGMA, SIGMA_PRIME = sp.Function("sigma"), sp.Function("sigma_prime")  # any elementwise σ


@dataclass(frozen=True)
class Equation:
    """``name = rhs``; ``slot`` is where a document shows it: "forward", "delta", "input" or a
    parameter's name (targets have their own by default); ``per_step``: rhs is one step t."""

    name: str
    rhs: sp.Basic
    slot: str = ""
    per_step: bool = False
    stem: str = ""  # an intermediate's LaTeX name (\mu); "": its name
    layered: bool = True  # an intermediate's name takes the layer as its subscript (μ_l)

    @property
    def shown_in(self) -> str:
        if self.slot:
            return self.slot
        return "forward" if self.name in ("z", "a") else self.name


@dataclass(frozen=True)
class Forms:
    """A kind's vector forms for one layer's options: its equations, in the order they are
    evaluated, and the LaTeX of the sizes they use as numbers (n, d_k, q)."""

    equations: tuple[Equation, ...]
    sizes: Mapping[sp.Symbol, str] = field(default_factory=dict)


def operand(name: str) -> sp.Symbol:
    """An operand of a form: a tensor of the maps, or an earlier equation, by its name."""
    return sp.Symbol(name)


X, Z, DELTA, G, S = (operand(name) for name in ("x", "z", "delta", "g", "s"))


# ---------------------------------------------------------------- the operators


class Op(sp.Function):
    """An operator of the vector forms: ``value`` gives its entries from its operands'."""

    @classmethod
    def eval(cls, *args: Any) -> None:  # never evaluated by SymPy: only by ``value``
        return None

    def value(self, args: list[Any], at: Context) -> Any:  # pragma: no cover
        raise NotImplementedError


class Plus(Op):
    """a + b + ...; a ``Neg`` term prints as a minus. Columns broadcast over positions (+ b)."""

    def value(self, args: list[Any], at: Context) -> Any:
        total = args[0]
        for a in args[1:]:
            total = total + a
        return total


class Neg(Op):
    nargs = 1

    def value(self, args: list[Any], at: Context) -> Any:
        return -args[0]


class Dot(Op):
    """The matrix product A B (a number times a matrix where one side is 1 × 1 or a scalar)."""

    nargs = 2

    def value(self, args: list[Any], at: Context) -> Any:
        a, b = args
        if _scalar(a) or _scalar(b):
            return _number(a) * b if _scalar(a) else a * _number(b)
        return np.array([[sp.Add(*[a[i, k] * b[k, j] for k in range(a.shape[1])])
                          for j in range(b.shape[1])] for i in range(a.shape[0])], dtype=object)


class T(Op):
    """Aᵀ."""

    nargs = 1

    def value(self, args: list[Any], at: Context) -> Any:
        return args[0].T


class Had(Op):
    """A ⊙ B, entry by entry."""

    nargs = 2

    def value(self, args: list[Any], at: Context) -> Any:
        return args[0] * args[1]


class Over(Op):
    """A / c, c a number (or 1 × 1)."""

    nargs = 2

    def value(self, args: list[Any], at: Context) -> Any:
        return args[0] / _number(args[1])


class Sigma(Op):
    """σ(A), entry by entry."""

    nargs = 1

    def value(self, args: list[Any], at: Context) -> Any:
        return _each(SIGMA, args[0])


class SigmaPrime(Op):
    """σ'(A), entry by entry."""

    nargs = 1

    def value(self, args: list[Any], at: Context) -> Any:
        return _each(SIGMA_PRIME, args[0])


class Named(Op):
    """A constant shown by its name (ε) and computed as its value."""

    nargs = 2

    def value(self, args: list[Any], at: Context) -> Any:
        return args[1]


class Ones(Op):
    """1, the column of n ones."""

    nargs = 1

    def value(self, args: list[Any], at: Context) -> Any:
        return np.full((int(args[0]), 1), sp.Integer(1), dtype=object)


class SqNorm(Op):
    """‖A‖², the sum of its squared entries (1 × 1)."""

    nargs = 1

    def value(self, args: list[Any], at: Context) -> Any:
        return np.array([[sp.Add(*[e**2 for e in args[0].ravel()])]], dtype=object)


class Root(Op):
    """√A of a number (1 × 1)."""

    nargs = 1

    def value(self, args: list[Any], at: Context) -> Any:
        return np.array([[sp.sqrt(_number(args[0]))]], dtype=object)


class RowSum(Op):
    """Each row's sum, a column: Σ_t δ[o, t]; rowsum(M)."""

    nargs = 1

    def value(self, args: list[Any], at: Context) -> Any:
        m = args[0]
        return np.array([[sp.Add(*row)] for row in m], dtype=object)


class RowSoftmax(Op):
    """P[t, s] = [s ≤ t] e^(S[t, s]) / Σ_r [r ≤ t] e^(S[t, r]), the mask only when causal."""

    nargs = 2

    def value(self, args: list[Any], at: Context) -> Any:
        scores, causal = args[0], bool(args[1])
        rows, cols = scores.shape
        out = np.empty((rows, cols), dtype=object)
        for t in range(rows):
            seen = [s for s in range(cols) if not causal or s <= t]
            total = sp.Add(*[sp.exp(scores[t, s]) for s in seen])
            for s in range(cols):
                out[t, s] = sp.exp(scores[t, s]) / total if s in seen else sp.Integer(0)
        return out


class Star(Op):
    """Cross-correlation over positions with left padding p (zero outside the input):
    K ⋆ x, K (C_out × C_in × k) on x (C_in × N), gives z[o, t] = Σ_c Σ_s K[o, c, s]
    x[c, t + s − 1 − p] for t = 1..n; δ ⋆ x, δ (C_out × n) on x, gives the kernel's shape,
    [o, c, s] = Σ_t δ[o, t] x[c, t + s − 1 − p] for s = 1..n."""

    nargs = 4

    def value(self, args: list[Any], at: Context) -> Any:
        a, x, p, n = args[0], args[1], int(args[2]), int(args[3])

        def seen(c: int, u: int) -> Any:  # x[c, u], 0-based u; zero outside
            return x[c, u] if 0 <= u < x.shape[1] else sp.Integer(0)

        if a.ndim == 3:
            c_out, c_in, k = a.shape
            return np.array([[sp.Add(*[a[o, c, s] * seen(c, t + s - p) for c in range(c_in)
                                       for s in range(k)]) for t in range(n)]
                             for o in range(c_out)], dtype=object)
        c_out, positions = a.shape
        return np.array([[[sp.Add(*[a[o, t] * seen(c, t + s - p) for t in range(positions)])
                           for s in range(n)] for c in range(x.shape[0])]
                         for o in range(c_out)], dtype=object)


class Flip(Op):
    """The kernel reversed along its positions: flip(K)[o, c, s] = K[o, c, k + 1 − s]."""

    nargs = 1

    def value(self, args: list[Any], at: Context) -> Any:
        return args[0][:, :, ::-1]


class FullConv(Op):
    """F ∗_full δ at left padding p over n input positions: [c, u] = Σ_o Σ_s F[o, c, s]
    δ[o, u + s − k + p], δ zero outside its positions (the full convolution)."""

    nargs = 4

    def value(self, args: list[Any], at: Context) -> Any:
        f, d, p, n = args[0], args[1], int(args[2]), int(args[3])
        c_out, c_in, k = f.shape

        def seen(o: int, u: int) -> Any:
            return d[o, u] if 0 <= u < d.shape[1] else sp.Integer(0)

        return np.array([[sp.Add(*[f[o, c, s] * seen(o, u + s + 1 - k + p) for o in range(c_out)
                                   for s in range(k)]) for u in range(n)]
                         for c in range(c_in)], dtype=object)


class AvgPool(Op):
    """avgpool_q(s)[o, t] = (1/q) Σ_r s[o, q(t − 1) + r]: non-overlapping windows of q."""

    nargs = 2

    def value(self, args: list[Any], at: Context) -> Any:
        q, s = int(args[0]), args[1]
        rows, cols = s.shape
        return np.array([[sp.Add(*s[o, q * t: q * t + q]) / q for t in range(cols // q)]
                         for o in range(rows)], dtype=object)


class AvgPoolT(Op):
    """avgpool_qᵀ g: [o, u] = g[o, ⌊(u − 1)/q⌋ + 1] / q, g spread over its window."""

    nargs = 2

    def value(self, args: list[Any], at: Context) -> Any:
        q, g = int(args[0]), args[1]
        rows, cols = g.shape
        return np.array([[g[o, u // q] / q for u in range(cols * q)] for o in range(rows)],
                        dtype=object)


class Step(Op):
    """A sequence at step t + offset (a column), zero outside its steps: s_(t-1), a_t."""

    nargs = 2

    def value(self, args: list[Any], at: Context) -> Any:
        seq, offset = args[0], int(args[1])
        if at.step is None:
            raise ValueError(f"{self} is read outside a step")
        u = at.step + offset
        if 1 <= u <= seq.shape[1]:
            return seq[:, u - 1: u]
        return np.full((seq.shape[0], 1), sp.Integer(0), dtype=object)


class Last(Op):
    """A sequence's last column, s_T."""

    nargs = 1

    def value(self, args: list[Any], at: Context) -> Any:
        return args[0][:, -1:]


class AtLast(Op):
    """[t = T] g: g at the last of ``steps`` steps, zero at the others."""

    nargs = 2

    def value(self, args: list[Any], at: Context) -> Any:
        g, steps = args[0], int(args[1])
        if at.step is None:
            raise ValueError(f"{self} is read outside a step")
        return g if at.step == steps else np.full(g.shape, sp.Integer(0), dtype=object)


class StepSum(Op):
    """Σ_(t = first)^T of one step's value, T = ``steps``."""

    nargs = 3

    def value(self, args: list[Any], at: Context) -> Any:  # evaluated by ``value`` itself
        raise NotImplementedError


# ---------------------------------------------------------------- evaluation


class FormError(ValueError):
    """A form that cannot be evaluated (its shapes do not fit): which one, and why."""

    def __init__(self, name: str, why: str):
        super().__init__(f"form {name}: {why}")
        self.name, self.why = name, why


@dataclass(frozen=True)
class Context:
    """What a form is evaluated on: every operand's entries, the sizes, the step t."""

    operands: Mapping[sp.Symbol, Any]  # name -> object array (a vector a column)
    sizes: Mapping[sp.Symbol, int]
    step: int | None = None


def value(expr: sp.Basic, at: Context) -> Any:
    """The entries of ``expr``: an object array, or a SymPy number for a scalar."""
    if isinstance(expr, sp.Symbol) and expr in at.operands:
        return at.operands[expr]
    if isinstance(expr, StepSum):
        body, first, steps = expr.args
        last = int(sp.sympify(steps).xreplace(at.sizes))
        parts = [value(body, Context(at.operands, at.sizes, t))
                 for t in range(int(first), last + 1)]
        total = parts[0]
        for p in parts[1:]:
            total = total + p
        return total
    if isinstance(expr, Op):
        return expr.value([value(a, at) for a in expr.args], at)
    return sp.sympify(expr).xreplace(dict(at.sizes))


def evaluate(equations: tuple[Equation, ...], operands: Mapping[str, Any],
             sizes: Mapping[sp.Symbol, int], targets: set[str],
             steps: int | None = None) -> dict[str, Any]:
    """Every equation's value, in order, each intermediate (a name not in ``targets``) put
    into those after it; a per-step equation at steps 1..``steps``, its columns side by side."""
    known = {operand(k): v for k, v in operands.items()}
    found: dict[str, Any] = {}
    for eq in equations:
        try:
            if eq.per_step:
                if steps is None:
                    raise ValueError("it is per step, but the layer has no steps")
                columns = [value(eq.rhs, Context(known, sizes, t)) for t in range(1, steps + 1)]
                result = np.concatenate(columns, axis=1)
            else:
                result = value(eq.rhs, Context(known, sizes))
        except (ValueError, TypeError, IndexError, NotImplementedError) as error:
            raise FormError(eq.name, f"{type(error).__name__}: {error}") from None
        found[eq.name] = result
        if eq.name not in targets:
            known[operand(eq.name)] = result
    return found


def _scalar(a: Any) -> bool:
    return not isinstance(a, np.ndarray) or a.shape == (1, 1)


def _number(a: Any) -> Any:
    return a[0, 0] if isinstance(a, np.ndarray) else a


def _each(f: Callable[[Any], Any], a: Any) -> Any:
    return np.vectorize(f, otypes=[object])(a)
