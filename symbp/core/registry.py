"""Activations and costs as data: one registry entry each, its meaning as SymPy.

An entry says what its function *is*: the explicit formula and derivative the prover
checks against each other, and, for a function of a whole layer (softmax), its forms
written for one unit (``forms.UnitForm``). Everything else is printed from those
formulas: the LaTeX of the documents (``symbp.printing.forms``), the NumPy and numba
code (``symbp.numeric.forms``), the opaque SymPy functions the routes use
(``symbp.core.functions``). A form written for speed or stability (softmax shifted by
its maximum; σ' written in σ) is SymPy too, and the prover proves it equal to the
formula. Adding an activation or a cost is one new entry here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sympy as sp
from sympy import Expr

from .forms import Reduction, UnitForm, unit_symbols
from .functions import Softmax, opaque_pair, softmax_jacobian_entry

Formula = Callable[[Expr], Expr]

# ---------------------------------------------------------------- activations


@dataclass(frozen=True)
class Activation:
    """One activation, as SymPy: the formula every other form is printed from.

    ``formula(z)`` and ``derivative(z)`` are explicit SymPy in one unit's z (None for
    the generic σ); the prover checks d/dz formula = derivative. ``of_output(a)``, if
    given, is σ' written in a = σ(z), which the code uses because the forward pass
    keeps a; the prover checks of_output(formula(z)) = derivative(z). A function of the
    whole layer (softmax) has ``elementwise=False``, its forward pass as ``layer`` (unit
    j, with sums over the layer), a numerically stable ``stable`` form of it (proved
    equal) and its vector-Jacobian product J_σ(z)ᵀ v as ``vjp`` (proved equal to the
    product with its registered Jacobian).
    """

    name: str
    summary: str
    latex: str  # the function's name in formulas, e.g. \sigma
    formula: Formula | None
    derivative: Formula | None
    of_output: Formula | None = None
    elementwise: bool = True
    note: str = ""
    layer: UnitForm | None = None
    stable: UnitForm | None = None
    vjp: UnitForm | None = None

    @property
    def function(self) -> type[sp.Function]:
        """The opaque σ of this entry."""
        return opaque_pair(self.name, self.latex, self.formula, self.derivative)[0]

    @property
    def prime(self) -> type[sp.Function]:
        """The opaque σ' of this entry."""
        return opaque_pair(self.name, self.latex, self.formula, self.derivative)[1]

    def apply(self, z: Sequence[Expr]) -> list[Expr]:
        """σ applied to the vector z, opaquely."""
        if self.elementwise:
            return [self.function(zj) for zj in z]
        return [Softmax(j, *z) for j in range(len(z))]

    def jacobian(self, z: Sequence[Expr], a: Sequence[Expr]) -> sp.Matrix:
        """The registered ∂a/∂z, in terms of z (elementwise) or of a (softmax)."""
        n = len(z)
        if self.elementwise:
            return sp.diag(*[self.prime(zj) for zj in z])
        return sp.Matrix(n, n, lambda j, k: softmax_jacobian_entry(a[j], a[k], j == k))

    @property
    def numeric(self) -> bool:
        """Whether code can be printed for it (the generic σ has no formula)."""
        return self.formula is not None if self.elementwise else self.layer is not None


def _sigmoid(z: Expr) -> Expr:
    return 1 / (1 + sp.exp(-z))


LEAKY_SLOPE = sp.Rational(1, 100)

_z, _a, _v, _m, _s, _r = unit_symbols("z", "a", "v", "m", "s", "r")

ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in [
        Activation(
            "generic", "an undefined differentiable σ (the proof holds for every σ)",
            r"\sigma", None, None,
        ),
        Activation(
            "sigmoid", "logistic sigmoid 1/(1+e^-z)", r"\sigma",
            _sigmoid, lambda z: _sigmoid(z) * (1 - _sigmoid(z)), of_output=lambda a: a * (1 - a),
        ),
        Activation(
            "tanh", "hyperbolic tangent", r"\tanh",
            sp.tanh, lambda z: 1 - sp.tanh(z) ** 2, of_output=lambda a: 1 - a ** 2,
        ),
        Activation(
            "relu", "rectified linear unit max(0, z)", r"\operatorname{ReLU}",
            lambda z: sp.Piecewise((z, z > 0), (0, True)),
            lambda z: sp.Piecewise((1, z > 0), (0, True)),
            note="ReLU has no derivative at z = 0; symbp uses 0 there, as PyTorch does.",
        ),
        Activation(
            "leaky_relu", "leaky ReLU with slope 1/100 for z <= 0", r"\operatorname{LReLU}",
            lambda z: sp.Piecewise((z, z > 0), (LEAKY_SLOPE * z, True)),
            lambda z: sp.Piecewise((1, z > 0), (LEAKY_SLOPE, True)),
            note="Leaky ReLU has no derivative at z = 0; symbp uses 1/100 there, as PyTorch does.",
        ),
        Activation(
            "softplus", "softplus log(1 + e^z)", r"\operatorname{softplus}",
            lambda z: sp.log(1 + sp.exp(z)), _sigmoid,
        ),
        Activation(
            "identity", "identity (a linear layer)", r"\operatorname{id}",
            lambda z: z, lambda z: sp.Integer(1),
        ),
        Activation(
            "softmax", "softmax over the layer (not elementwise: full Jacobian)",
            r"\operatorname{softmax}", None, None, elementwise=False,
            layer=UnitForm((_z,), sp.exp(_z) / _s, (Reduction(_s, "sum", sp.exp(_z)),)),
            # shifted by the layer's maximum: e^(z - m) <= 1 never overflows
            stable=UnitForm((_z,), sp.exp(_z - _m) / _s, (
                Reduction(_m, "max", _z), Reduction(_s, "sum", sp.exp(_z - _m)))),
            vjp=UnitForm((_a, _v), _a * (_v - _r), (Reduction(_r, "sum", _v * _a),)),
        ),
    ]
}


# ---------------------------------------------------------------- costs


@dataclass(frozen=True)
class OutputDelta:
    """δ_L = J_σ(z_L)ᵀ ∂C/∂a_L in closed form, for one cost and one output activation.

    Written out, ∂C/∂a_L divides by a (softmax_ce: -y/a), which is 0 once an output
    underflows; the product simplifies to a form without the division. ``form`` is that
    form for one unit, in a and y (a ``UnitForm``); the prover proves it equal to the
    product it replaces.
    """

    activation: str
    form: UnitForm

    def formula(self, a: Sequence[Expr], y: Sequence[Expr]) -> list[Expr]:
        """The closed form on a list of output units."""
        return self.form.on_lists(a, y)


@dataclass(frozen=True)
class SumOfTerms:
    """C(a, y) = Σ_j term(a_j, y_j): a cost written unit by unit, so the same at every width."""

    term: Callable[[Expr, Expr], Expr]

    def __call__(self, a: Sequence[Expr], y: Sequence[Expr]) -> Expr:
        return sp.Add(*[self.term(aj, yj) for aj, yj in zip(a, y)])


@dataclass(frozen=True)
class TermWise:
    """(∂C/∂a)_j = term(a_j, y_j): a registered gradient written unit by unit."""

    term: Callable[[Expr, Expr], Expr]

    def __call__(self, a: Sequence[Expr], y: Sequence[Expr]) -> list[Expr]:
        return [self.term(aj, yj) for aj, yj in zip(a, y)]


def per_unit(cost: Cost) -> tuple[Callable, Callable] | None:
    """(term, gradient term) when ``cost`` is written unit by unit (``SumOfTerms`` and
    ``TermWise``), so that a statement about one unit holds at every width; else None."""
    if isinstance(cost.formula, SumOfTerms) and isinstance(cost.gradient, TermWise):
        return cost.formula.term, cost.gradient.term
    return None


@dataclass(frozen=True)
class Cost:
    """One cost C(a_L, y), summed over the batch: its formula and registered gradient ∂C/∂a_L.

    ``formula`` and ``gradient`` take lists; written as ``SumOfTerms`` and ``TermWise``
    (one unit's term), they are the same at every width, which the general theorem then
    proves rather than checks at widths 1..4, and code can be printed from them.
    """

    name: str
    summary: str
    formula: Callable[[Sequence[Expr], Sequence[Expr]], Expr]
    gradient: Callable[[Sequence[Expr], Sequence[Expr]], list[Expr]]
    output: str | None = None  # the output activation this cost requires
    min_outputs: int = 1
    output_deltas: tuple[OutputDelta, ...] = ()  # δ_L without dividing by a, by activation

    def output_delta(self, activation: str) -> OutputDelta | None:
        """The closed form of δ_L for this output activation, if there is one."""
        return next((d for d in self.output_deltas if d.activation == activation), None)


_y, _t = unit_symbols("y", "t")

COSTS: dict[str, Cost] = {
    c.name: c
    for c in [
        Cost(
            "mse", "half the squared error, C = 1/2 sum_j (a_j - y_j)^2",
            SumOfTerms(lambda a, y: sp.Rational(1, 2) * (a - y) ** 2),
            TermWise(lambda a, y: a - y),
        ),
        Cost(
            "bce", "binary cross-entropy, C = -sum_j [y_j log a_j + (1 - y_j) log(1 - a_j)]",
            SumOfTerms(lambda a, y: -(y * sp.log(a) + (1 - y) * sp.log(1 - a))),
            TermWise(lambda a, y: -y / a + (1 - y) / (1 - a)),
            output_deltas=(OutputDelta("sigmoid", UnitForm((_a, _y), _a - _y)),),
        ),
        Cost(
            "softmax_ce", "softmax output with categorical cross-entropy, C = -sum_j y_j log a_j",
            SumOfTerms(lambda a, y: -y * sp.log(a)),
            TermWise(lambda a, y: -y / a),
            output="softmax", min_outputs=2,
            output_deltas=(OutputDelta("softmax", UnitForm(
                (_a, _y), _a * _t - _y, (Reduction(_t, "sum", _y),))),),
        ),
    ]
}


def meaning(entry: Activation | Cost, width: int) -> str:
    """Everything ``entry`` says, as text: its fields, its formulas written out at ``width``
    units. Part of a program's fingerprint: a change to any form changes the fingerprint."""
    z = sp.Symbol("z")
    a, y = sp.symbols(f"a1:{width + 1}"), sp.symbols(f"y1:{width + 1}")
    parts = []
    for name, value in vars(entry).items():
        if callable(value):
            value = value(z) if isinstance(entry, Activation) else value(list(a), list(y))
            value = sp.srepr(sp.sympify(value))
        elif isinstance(value, tuple):  # output deltas: their forms
            value = [(d.activation, d.form) for d in value]
        parts.append(f"{name}={value!r}")
    if isinstance(entry, Activation) and not entry.elementwise:
        zs = sp.symbols(f"z1:{width + 1}")
        parts.append(f"jacobian={sp.srepr(entry.jacobian(zs, a))}")
    return f"{type(entry).__name__.lower()}(" + ", ".join(parts) + ")"


def activation(name: str) -> Activation:
    """The registry entry for ``name``; ValueError naming the valid choices otherwise."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown activation {name!r}; choose one of: {', '.join(ACTIVATIONS)}"
        ) from None


def cost(name: str) -> Cost:
    """The registry entry for ``name``; ValueError naming the valid choices otherwise."""
    try:
        return COSTS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown cost {name!r}; choose one of: {', '.join(COSTS)}") from None
