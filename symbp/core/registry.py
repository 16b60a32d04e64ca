"""Activations and costs as data: one registry entry each.

An entry carries everything symbp knows about its function: the opaque SymPy
function the routes use (``symbp.core.functions``), the explicit formula and
derivative the prover checks against each other, the LaTeX shown in documents,
and the code that runs: NumPy templates over whole arrays and numba templates over
one element (or, for a layer-wide function, one call on arrays with ``{out}``).
Adding an activation or a cost is one new entry here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sympy as sp
from sympy import Expr

from .functions import Softmax, opaque_pair, softmax_jacobian_entry

# ---------------------------------------------------------------- activations


@dataclass(frozen=True)
class Activation:
    """One activation: its opaque SymPy form, its explicit formula, LaTeX and NumPy code.

    ``formula``/``derivative`` are explicit SymPy expressions in z (None for the
    generic σ); the prover checks ``diff(formula) == derivative``. NumPy strings
    are templates over ``{z}`` (pre-activation) and ``{a}`` (activation value).
    """

    name: str
    summary: str
    latex: str  # the function's name in formulas, e.g. \sigma
    latex_formula: str  # right-hand side of  σ(z) = ...
    latex_derivative: str  # right-hand side of σ'(z) = ...
    formula: Callable[[Expr], Expr] | None
    derivative: Callable[[Expr], Expr] | None
    numpy: str | None
    numpy_derivative: str | None
    elementwise: bool = True
    note: str = ""
    # Numeric forms for the generated code (rows are samples, ``{v}`` a vector to pull back):
    numpy_fast: str | None = None  # same values as ``numpy`` to rounding, faster; used if set
    numpy_vjp: str | None = None  # J_σ(z)ᵀ v, for an activation that is not elementwise
    numpy_helper: str = ""  # source of the helper functions the templates call
    # The same for the numba kernel: one element's σ(z) and σ'(z) (``_exp`` is a clamped exp
    # that vectorizes), or for a layer-wide σ a call that fills the array ``{out}``.
    numba: str | None = None
    numba_derivative: str | None = None
    numba_vjp: str | None = None
    numba_helper: str = ""  # functions the numba forms call, decorated with @_jit

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
        return self.numpy is not None


def _sigmoid(z: Expr) -> Expr:
    return 1 / (1 + sp.exp(-z))


SIGMOID_FAST = "1.0 / (1.0 + np.exp(np.minimum(-{z}, 709.0)))"


LEAKY_SLOPE = sp.Rational(1, 100)

ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in [
        Activation(
            "generic", "an undefined differentiable σ (the proof holds for every σ)",
            r"\sigma", r"\text{any differentiable function}", r"\text{its derivative}",
            None, None, None, None,
        ),
        Activation(
            "sigmoid", "logistic sigmoid 1/(1+e^-z)",
            r"\sigma", r"\frac{1}{1 + e^{-z}}", r"\sigma(z)\,\bigl(1 - \sigma(z)\bigr)",
            _sigmoid, lambda z: _sigmoid(z) * (1 - _sigmoid(z)),
            "np.exp(-np.logaddexp(0.0, -{z}))", "{a} * (1.0 - {a})",
            # a third of the time of logaddexp; e^-z is capped at e^709 so it never
            # overflows: for z < -709 the value is σ(-709) ≈ 1.2e-308, the exact one smaller
            numpy_fast=SIGMOID_FAST,
            numba="1.0 / (1.0 + _exp(-{z}))", numba_derivative="{a} * (1.0 - {a})",
        ),
        Activation(
            "tanh", "hyperbolic tangent",
            r"\tanh", r"\frac{e^{z} - e^{-z}}{e^{z} + e^{-z}}", r"1 - \tanh^{2}(z)",
            lambda z: (sp.exp(z) - sp.exp(-z)) / (sp.exp(z) + sp.exp(-z)),
            lambda z: 1 - ((sp.exp(z) - sp.exp(-z)) / (sp.exp(z) + sp.exp(-z))) ** 2,
            "np.tanh({z})", "1.0 - {a} ** 2",
            numba="math.tanh({z})", numba_derivative="1.0 - {a} * {a}",
        ),
        Activation(
            "relu", "rectified linear unit max(0, z)",
            r"\operatorname{ReLU}", r"\max(0, z)",
            r"\begin{cases} 1 & z > 0 \\ 0 & z \le 0 \end{cases}",
            lambda z: sp.Piecewise((z, z > 0), (0, True)),
            lambda z: sp.Piecewise((1, z > 0), (0, True)),
            "np.maximum({z}, 0.0)", "np.where({z} > 0, 1.0, 0.0)",
            note="ReLU has no derivative at z = 0; symbp uses 0 there, as PyTorch does.",
            numba="max({z}, 0.0)", numba_derivative="1.0 if {z} > 0.0 else 0.0",
        ),
        Activation(
            "leaky_relu", "leaky ReLU with slope 1/100 for z <= 0",
            r"\operatorname{LReLU}", r"\begin{cases} z & z > 0 \\ z/100 & z \le 0 \end{cases}",
            r"\begin{cases} 1 & z > 0 \\ 1/100 & z \le 0 \end{cases}",
            lambda z: sp.Piecewise((z, z > 0), (LEAKY_SLOPE * z, True)),
            lambda z: sp.Piecewise((1, z > 0), (LEAKY_SLOPE, True)),
            "np.where({z} > 0, {z}, 0.01 * {z})", "np.where({z} > 0, 1.0, 0.01)",
            note="Leaky ReLU has no derivative at z = 0; symbp uses 1/100 there, as PyTorch does.",
            numba="{z} if {z} > 0.0 else 0.01 * {z}",
            numba_derivative="1.0 if {z} > 0.0 else 0.01",
        ),
        Activation(
            "softplus", "softplus log(1 + e^z)",
            r"\operatorname{softplus}", r"\log\bigl(1 + e^{z}\bigr)", r"\frac{1}{1 + e^{-z}}",
            lambda z: sp.log(1 + sp.exp(z)), _sigmoid,
            "np.logaddexp(0.0, {z})", SIGMOID_FAST,
            numba="max({z}, 0.0) + math.log1p(_exp(-abs({z})))",
            numba_derivative="1.0 / (1.0 + _exp(-{z}))",
        ),
        Activation(
            "identity", "identity (a linear layer)",
            r"\operatorname{id}", "z", "1",
            lambda z: z, lambda z: sp.Integer(1),
            "{z}", "np.ones_like({z})",
            numba="{z}", numba_derivative="1.0",
        ),
        Activation(
            "softmax", "softmax over the layer (not elementwise: full Jacobian)",
            r"\operatorname{softmax}", r"\frac{e^{z_j}}{\sum_k e^{z_k}}",
            r"\frac{\partial a_j}{\partial z_k} = a_j\,(\delta_{jk} - a_k)",
            None, None,
            "_softmax({z})", None,
            elementwise=False,
            numpy_vjp="{a} * ({v} - np.sum({v} * {a}, axis=-1, keepdims=True))",
            numpy_helper=(
                "def _softmax(z):\n"
                "    e = np.exp(z - np.max(z, axis=-1, keepdims=True))  # shifted: no overflow\n"
                "    return e / np.sum(e, axis=-1, keepdims=True)\n"
            ),
            numba="_softmax_rows({z}, {out})", numba_vjp="_softmax_vjp_rows({a}, {v}, {out})",
            numba_helper=(
                "@_jit\n"
                "def _softmax_rows(z, out):\n"
                "    for i in range(z.shape[0]):\n"
                "        top = z[i, 0]\n"
                "        for j in range(1, z.shape[1]):\n"
                "            top = max(top, z[i, j])\n"
                "        total = 0.0\n"
                "        for j in range(z.shape[1]):\n"
                "            out[i, j] = _exp(z[i, j] - top)  # shifted: no overflow\n"
                "            total += out[i, j]\n"
                "        for j in range(z.shape[1]):\n"
                "            out[i, j] /= total\n"
                "\n\n"
                "@_jit\n"
                "def _softmax_vjp_rows(a, v, out):\n"
                "    for i in range(a.shape[0]):\n"
                "        va = 0.0\n"
                "        for j in range(a.shape[1]):\n"
                "            va += v[i, j] * a[i, j]\n"
                "        for j in range(a.shape[1]):\n"
                "            out[i, j] = a[i, j] * (v[i, j] - va)\n"
            ),
        ),
    ]
}


# ---------------------------------------------------------------- costs


@dataclass(frozen=True)
class OutputDelta:
    """δ_L = J_σ(z_L)ᵀ ∂C/∂a_L in closed form, for one cost and one output activation.

    Written out, ∂C/∂a_L divides by a (softmax_ce: -y/a), which is 0 once an output
    underflows; the product simplifies to a form without the division. ``formula``
    is its SymPy form over a_L and y (the tests check it equals the product exactly);
    ``numpy`` and ``numba`` are templates over ``{a}``, ``{y}`` (numba: ``{out}`` too).
    """

    activation: str
    math: str  # plain text, for the generated module's docstring
    formula: Callable[[Sequence[Expr], Sequence[Expr]], list[Expr]]
    numpy: str
    numba: str
    numba_helper: str = ""


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
    """One cost C(a_L, y): formula, registered gradient ∂C/∂a_L, LaTeX and numeric code.

    NumPy strings are templates over ``{a}`` and ``{y}`` (arrays of shape
    (batch, n_L)), numba strings over one element of each; the cost is summed
    over the batch. ``formula`` and ``gradient`` take lists; written as ``SumOfTerms``
    and ``TermWise`` (one unit's term), they are the same at every width, which the
    general theorem then proves rather than checks at widths 1..4.
    """

    name: str
    summary: str
    formula: Callable[[Sequence[Expr], Sequence[Expr]], Expr]
    gradient: Callable[[Sequence[Expr], Sequence[Expr]], list[Expr]]
    latex: str  # right-hand side of C = ..., over a_j and y_j
    latex_gradient: str  # right-hand side of ∂C/∂a_j = ...
    numpy: str
    numpy_gradient: str
    output: str | None = None  # the output activation this cost requires
    min_outputs: int = 1
    numba_gradient: str | None = None
    output_deltas: tuple[OutputDelta, ...] = ()  # δ_L without dividing by a, by activation

    def output_delta(self, activation: str) -> OutputDelta | None:
        """The closed form of δ_L for this output activation, if there is one."""
        return next((d for d in self.output_deltas if d.activation == activation), None)


COSTS: dict[str, Cost] = {
    c.name: c
    for c in [
        Cost(
            "mse", "half the squared error, C = 1/2 sum_j (a_j - y_j)^2",
            SumOfTerms(lambda a, y: sp.Rational(1, 2) * (a - y) ** 2),
            TermWise(lambda a, y: a - y),
            r"\frac{1}{2} \sum_j \bigl(a_j - y_j\bigr)^2", r"a_j - y_j",
            "0.5 * np.sum(({a} - {y}) ** 2)", "{a} - {y}",
            numba_gradient="{a} - {y}",
        ),
        Cost(
            "bce", "binary cross-entropy, C = -sum_j [y_j log a_j + (1 - y_j) log(1 - a_j)]",
            SumOfTerms(lambda a, y: -(y * sp.log(a) + (1 - y) * sp.log(1 - a))),
            TermWise(lambda a, y: -y / a + (1 - y) / (1 - a)),
            r"-\sum_j \bigl[y_j \log a_j + (1 - y_j) \log(1 - a_j)\bigr]",
            r"-\frac{y_j}{a_j} + \frac{1 - y_j}{1 - a_j}",
            "-np.sum({y} * np.log({a}) + (1.0 - {y}) * np.log(1.0 - {a}))",
            "-{y} / {a} + (1.0 - {y}) / (1.0 - {a})",
            numba_gradient="-{y} / {a} + (1.0 - {y}) / (1.0 - {a})",
            output_deltas=(
                OutputDelta("sigmoid", "a - y", lambda a, y: [aj - yj for aj, yj in zip(a, y)],
                            "{a} - {y}", "{a} - {y}"),
            ),
        ),
        Cost(
            "softmax_ce", "softmax output with categorical cross-entropy, C = -sum_j y_j log a_j",
            SumOfTerms(lambda a, y: -y * sp.log(a)),
            TermWise(lambda a, y: -y / a),
            r"-\sum_j y_j \log a_j", r"-\frac{y_j}{a_j}",
            "-np.sum({y} * np.log({a}))", "-{y} / {a}",
            output="softmax", min_outputs=2,
            numba_gradient="-{y} / {a}",
            output_deltas=(
                OutputDelta(
                    "softmax", "a Σ_k y_k - y",
                    lambda a, y: [aj * sum(y) - yj for aj, yj in zip(a, y)],
                    "{a} * np.sum({y}, axis=-1, keepdims=True) - {y}",
                    "_softmax_ce_delta_rows({a}, {y}, {out})",
                    numba_helper=(
                        "@_jit\n"
                        "def _softmax_ce_delta_rows(a, y, out):\n"
                        "    for i in range(a.shape[0]):\n"
                        "        total = 0.0\n"
                        "        for j in range(a.shape[1]):\n"
                        "            total += y[i, j]\n"
                        "        for j in range(a.shape[1]):\n"
                        "            out[i, j] = a[i, j] * total - y[i, j]\n"
                    ),
                ),
            ),
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
        elif isinstance(value, tuple):  # output deltas: their formulas too
            value = [(d.activation, d.math, d.numpy, d.numba, d.numba_helper,
                      sp.srepr(sp.sympify(d.formula(list(a), list(y))))) for d in value]
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
