"""The lemmas the prover proves: small exact statements, each checked on its own.

Function lemmas tie the opaque σ' and the registered cost gradient to explicit
formulas. Layer lemmas compare one piece of the recursion with SymPy's
derivative of that layer's own map, in layered symbols.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from itertools import islice

import sympy as sp

from ..core import registry
from ..core.functions import softmax_formula
from ..core.routes import differentiate
from ..printing import forms
from .exact import Exact, first_difference


@dataclass
class Lemma:
    """One exact statement, whether it was proved, and where it failed if not."""

    name: str
    statement: str  # plain text
    latex: str  # the same statement for documents
    holds: bool
    layer: int | None = None
    entry: tuple[int, int] | None = None
    residual: str = ""
    seconds: float = 0.0


def _check(name, statement, latex, lhs, rhs, layer=None, session: Exact | None = None) -> Lemma:
    started = time.perf_counter()
    found: tuple[tuple[int, int] | None, object] | None
    try:
        found = first_difference(lhs, rhs, session)
    except ValueError as error:  # shapes differ
        found = (None, error)
    lemma = Lemma(name, statement, latex, found is None, layer)
    if found is not None:
        lemma.entry = found[0]
        lemma.residual = glimpse(found[1])
    lemma.seconds = time.perf_counter() - started
    return lemma


def glimpse(value: object, limit: int = 160) -> str:
    """``str(value)`` cut to ``limit`` characters, without printing all of a huge expression
    (a failed comparison of expanded routes can leave one of 10^4 nodes: printing it whole
    took longer than finding it)."""
    if isinstance(value, sp.Basic) and value.args and _larger_than(value, 4 * limit):
        if value.is_Add or value.is_Mul:
            joiner, text = (" + " if value.is_Add else "*"), ""
            for arg in value.args:
                piece = glimpse(arg, limit)
                text = f"{text}{joiner}{piece}" if text else piece
                if len(text) > limit:
                    break
            text += f"{joiner}..."
        else:
            inner = ", ".join(glimpse(arg, limit) for arg in value.args[:3])
            text = f"{type(value).__name__}({inner}{', ...' if len(value.args) > 3 else ''})"
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _larger_than(e: sp.Basic, limit: int) -> bool:
    return sum(1 for _ in islice(sp.preorder_traversal(e), limit + 1)) > limit


def _missing(name, statement, latex, layer) -> Lemma:
    return Lemma(name, statement, latex, False, layer, residual="the recursion did not define it")


# ---------------------------------------------------------------- function lemmas


def activation_lemma(act: registry.Activation) -> Lemma:
    """σ'(z) as registered equals d/dz of σ's explicit formula, in a fresh variable: a formula
    that ignores its argument (a stray Symbol("z") inside) fails, as it would in the code."""
    z = _Z
    if act.formula is None or act.derivative is None:
        raise ValueError(f"activation {act.name!r} has no explicit formula to prove against")
    name, statement = f"{act.name}'", f"d/dz {act.name}(z) = registered derivative"
    latex = (rf"\frac{{d}}{{dz}}\,{forms.activation_formula(act)} = "
             rf"{forms.activation_derivative(act)}")
    formula = sp.sympify(act.formula(z))
    if not formula.has(z):
        return Lemma(name, statement, latex, False,
                     residual=f"the formula {formula} does not depend on its argument")
    extra = formula.free_symbols - {z}
    if extra:
        return Lemma(name, statement, latex, False, residual=(
            f"the formula {formula} depends on {', '.join(sorted(map(str, extra)))} besides "
            "its argument"))
    registered = act.derivative(z)
    if not isinstance(registered, sp.Basic):  # not an expression: checked (and failed) as is
        return _check(name, statement, latex, sp.diff(formula, z), registered)
    key = (name, statement, latex, formula, registered)  # all the lemma reads: by content
    if key not in _ACTIVATION_LEMMAS:
        _ACTIVATION_LEMMAS[key] = _check(name, statement, latex, sp.diff(formula, z), registered)
    return replace(_ACTIVATION_LEMMAS[key])


_Z = sp.Dummy("z")  # the fresh variable of every activation lemma: no formula can hold it
_ACTIVATION_LEMMAS: dict[tuple, Lemma] = {}  # each formula and derivative settled once


def softmax_lemma(act: registry.Activation, n: int) -> Lemma:
    """The registered softmax Jacobian equals the Jacobian of the explicit formula."""
    z = sp.symbols(f"z_1:{n + 1}")
    a = softmax_formula(z)
    return _check(
        f"{act.name} Jacobian (n={n})", f"Jacobian of softmax on {n} units = a_j (delta_jk - a_k)",
        r"\frac{\partial a_j}{\partial z_k} = a_j\,(\delta_{jk} - a_k)",
        sp.Matrix(a).jacobian(z), act.jacobian(z, a),
    )


def cost_lemma(cost: registry.Cost, n: int) -> Lemma:
    """The registered ∂C/∂a_j equals d/da_j of the cost's formula."""
    a = sp.symbols(f"a_1:{n + 1}")
    y = sp.symbols(f"y_1:{n + 1}")
    return _check(
        f"{cost.name} gradient", f"d/da_j of the {cost.name} cost = registered gradient",
        rf"\frac{{\partial}}{{\partial a_j}}\Bigl({forms.cost_formula(cost)}\Bigr) = "
        rf"{forms.cost_gradient(cost)}",
        sp.Matrix([cost.formula(a, y)]).jacobian(a).T, sp.Matrix(cost.gradient(a, y)),
    )


# ---------------------------------------------------------------- layer lemmas


def pullback(exprs, wrt, v) -> list[sp.Expr]:
    """vᵀ ∂exprs/∂wrt, one entry per symbol of ``wrt``: SymPy's rules on each term.

    Differentiation is linear, so each term of each entry is differentiated only by
    the symbols it contains; ``Matrix.jacobian`` would differentiate every entry by
    every symbol (a 64 × 4096 Jacobian for W_l of a 64-wide layer, mostly zeros).
    ``differentiate`` applies the same rules as ``sympy.diff``, 15 times faster on
    these small terms.
    """
    index = {s: k for k, s in enumerate(wrt)}
    parts: list[list[sp.Expr]] = [[] for _ in index]
    for expr, weight in zip(exprs, v):
        for term in sp.Add.make_args(expr):
            for symbol in term.free_symbols:
                k = index.get(symbol)
                if k is not None:
                    parts[k].append(differentiate(term, symbol) * weight)
    return [sp.Add(*p) for p in parts]


def affine(d, l: int, a: list) -> list[sp.Expr]:
    """W_l a + b_l, entry by entry (a SymPy matrix product is slow on symbols)."""
    W, b = d.weights(l), d.biases(l)
    return [sp.Add(*[W[j, k] * a[k] for k in range(W.cols)], b[j]) for j in range(W.rows)]


def _as_activation(d, l: int) -> dict:
    """a_l := σ_l(z_l), the definition of the layered symbol a_l."""
    return dict(zip(d.a_symbols(l), d.net.activation(l).apply(list(d.z_symbols(l)))))


def delta_lemma(d, trace, l: int, session: Exact | None = None) -> Lemma:
    """δ_L = ∂C/∂z_L, or δ_l = (∂z_{l+1}/∂z_l)ᵀ δ_{l+1}: SymPy's chain rule for one step."""
    name = f"delta_{l}"
    z = list(d.z_symbols(l))
    sigma = d.net.activation(l).apply(z)
    if l == d.L:
        statement = f"delta_{l} = dC/dz_{l}"
        latex = rf"\delta_{{{l}}} = \partial C/\partial z_{{{l}}}"
        truth = pullback([d.net.cost_entry.formula(sigma, list(d.y))], z, [1])
    else:
        statement = f"delta_{l} = (dz_{l + 1}/dz_{l})^T delta_{l + 1}"
        latex = (rf"\delta_{{{l}}} = \bigl(\partial z_{{{l + 1}}}/\partial z_{{{l}}}\bigr)^{{T}}"
                 rf"\,\delta_{{{l + 1}}}")
        truth = pullback(affine(d, l + 1, sigma), z, d.delta_symbols(l + 1))
    if l not in trace.deltas:
        return _missing(name, statement, latex, l)
    value = trace.deltas[l].xreplace(_as_activation(d, l))
    return _check(name, statement, latex, value, sp.Matrix(truth), layer=l, session=session)


def parameter_lemma(d, trace, l: int, wrt: str, session: Exact | None = None) -> Lemma:
    """dC/dW_l = δ_l a_{l-1}ᵀ and dC/db_l = δ_l, against SymPy's derivative of z_l's map."""
    name = f"dC/d{wrt}_{l}"
    statement = f"dC/d{wrt}_{l} = (dz_{l}/d{wrt}_{l})^T delta_{l}"
    latex = (rf"\frac{{\partial C}}{{\partial {wrt}_{{{l}}}}} = "
             rf"\Bigl(\frac{{\partial z_{{{l}}}}}{{\partial {wrt}_{{{l}}}}}\Bigr)^{{T}}"
             rf" \delta_{{{l}}}")
    params = d.weights(l) if wrt == "W" else d.biases(l)
    table = trace.weight if wrt == "W" else trace.bias
    if l not in table:
        return _missing(name, statement, latex, l)
    z = affine(d, l, list(d.a_symbols(l - 1)))
    truth = sp.Matrix(pullback(z, list(params), d.delta_symbols(l))).reshape(*params.shape)
    return _check(name, statement, latex, table[l], truth, layer=l, session=session)
