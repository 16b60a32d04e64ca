"""Second order: the forms the curvature of C is written with, and what it covers.

The Hessian H = ∂²C/∂θ∂θ in the parameters θ = (vec W_1, b_1, ..., vec W_L, b_L), each W_l
row by row, is reached three ways (``second_order.SecondDerivation``): the direct second
derivatives of the composed cost, the curvature recursion, and Pearlmutter's R-operator,
H v for a symbolic v; the two programs are ``curvature_recursions``.

The split. The Gauss–Newton matrix G = Jᵀ H_C J needs a point where the cost takes over:
s = a_L for a cost written unit by unit (mse, bce), s = z_L for softmax with
cross-entropy, whose output activation the cost absorbs (``absorbs_output``): there the
output layer's activation counts as the identity, and H_C = ∂²C/∂z_L² is
(Σ_j y_j)(diag(a_L) − a_L a_Lᵀ). ``cost_hessian`` and ``cost_gradient`` are taken at s.

The forms are SymPy, derived from the registry's formulas, never written as code by
hand: σ'' = d/dz σ'(z) (in a = σ(z) where σ' is registered so: d/da of_output(a) ·
of_output(a)), and the cost's Hessian term d/da of its registered gradient term.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import sympy as sp

from . import registry
from .forms import UnitForm
from .functions import Opaque, opaque_pair

# ---------------------------------------------------------------- σ'' and the cost's Hessian


@dataclass(frozen=True)
class SecondForms:
    """σ'' of one elementwise activation: explicit in z (None for the generic σ), and in a =
    σ(z) where σ' is registered in a; ``function`` is the opaque σ'' the proofs keep."""

    formula: Callable[[sp.Expr], sp.Expr] | None
    of_output: Callable[[sp.Expr], sp.Expr] | None
    function: type[Opaque]
    curving_prime: type[Opaque]  # σ' whose derivative is the opaque σ'' (not the explicit one)


def _as_function(expr: sp.Expr, var: sp.Symbol) -> Callable[[sp.Expr], sp.Expr]:
    return lambda arg: expr.xreplace({var: arg})


@cache
def second(act: registry.Activation) -> SecondForms:
    """σ'' of ``act``, derived by SymPy from its registered σ' (ValueError for softmax)."""
    if not act.elementwise:
        raise ValueError(f"activation {act.name!r} is not elementwise; its second derivative "
                         "is a tensor that second order takes only inside softmax_ce")
    z, a = sp.Dummy("z"), sp.Dummy("a")
    formula = of_output = None
    if act.derivative is not None:
        formula = _as_function(sp.diff(act.derivative(z), z), z)
    if act.of_output is not None:
        in_a = act.of_output(a)
        of_output = _as_function(sp.factor(sp.diff(in_a, a) * in_a), a)
    _, prime = opaque_pair(act.name, act.latex, act.formula, act.derivative)
    attrs: dict[str, Any] = {"formula": staticmethod(formula) if formula else None,
                             "latex_name": act.latex + "''"}
    if formula is not None:
        third = sp.diff(formula(z), z)
        attrs["fdiff"] = lambda self, argindex=1: third.xreplace({z: self.args[0]})
    function = type(f"{act.name}_second", (Opaque,), attrs)
    curving = type(prime.__name__, (prime,),
                   {"fdiff": lambda self, argindex=1: function(self.args[0])})
    _PLAIN[curving] = prime
    return SecondForms(formula, of_output, function, curving)


_PLAIN: dict[type, type] = {}  # each curving σ' -> the σ' it stands for


def curving(expr: Any, acts: list[registry.Activation], memo: dict | None = None) -> Any:
    """``expr`` with every σ' of ``acts`` differentiating to the opaque σ'' (for the direct
    route and the theorem's truths); ``plain`` undoes it."""
    table = {opaque_pair(a.name, a.latex, a.formula, a.derivative)[1]: second(a).curving_prime
             for a in acts if a.elementwise}
    return rewrite(expr, table, {} if memo is None else memo)


def plain(expr: Any, memo: dict | None = None) -> Any:
    """Every curving σ' back to the σ' the first-order routes use."""
    return rewrite(expr, _PLAIN, {} if memo is None else memo)


def rewrite(expr: Any, table: dict[type, type], memo: dict) -> Any:
    """``expr`` with every application of a class in ``table`` made one of its image, each
    shared subexpression rewritten once (``Basic.replace`` walks the tree, not the DAG)."""
    if isinstance(expr, sp.MatrixBase):
        return expr.applyfunc(lambda e: rewrite(e, table, memo))
    found = memo.get(expr)
    if found is not None:
        return found
    args = expr.args
    if not args:
        result = expr
    else:
        new = [rewrite(a, table, memo) for a in args]
        if type(expr) in table:
            result = table[type(expr)](*new)
        elif any(a is not b for a, b in zip(new, args)):
            result = expr.func(*new)
        else:
            result = expr
    memo[expr] = result
    return result


def absorbs_output(cost: registry.Cost) -> bool:
    """Whether the cost takes over at z_L (its output activation is part of it)."""
    return cost.output is not None and cost.output_delta(cost.output) is not None


def cost_hessian_term(cost: registry.Cost) -> Callable[[sp.Expr, sp.Expr], sp.Expr]:
    """h(a, y) = d/da of the registered gradient term: the diagonal of H_C for a cost written
    unit by unit (ValueError otherwise)."""
    terms = registry.per_unit(cost)
    if terms is None:
        raise ValueError(f"cost {cost.name!r} is not written unit by unit; its Hessian has no "
                         "per-unit form")
    a, y = sp.Dummy("a"), sp.Dummy("y")
    h = sp.diff(sp.sympify(terms[1](a, y)), a)
    return lambda aj, yj: h.xreplace({a: aj, y: yj})


def output_curvature_in_z(cost: registry.Cost, a: list, y: list) -> sp.Matrix:
    """H_C = ∂²C/∂z_L² for a cost that absorbs its output activation: the derivative of its
    closed δ_L (registry ``OutputDelta``) through the registered Jacobian, (Σ y)(diag a − a aᵀ)."""
    assert cost.output is not None
    act = registry.ACTIVATIONS[cost.output]
    form = cost.output_delta(act.name)
    assert form is not None
    avars = sp.symbols(f"s1:{len(a) + 1}", cls=sp.Dummy)
    closed = sp.Matrix(form.formula(list(avars), list(y))).jacobian(avars)
    return closed.xreplace(dict(zip(avars, a))) * act.jacobian(a, a)


@dataclass(frozen=True)
class OutputCurvature:
    """The output layer's curvature as the code computes it, SymPy in one unit's ``names``.

    Elementwise σ_L: ``gauss_newton`` = σ'² h (J_σᵀ H_C J_σ's diagonal) and ``residual`` =
    g σ'' (Σ_j g_j ∂²a_j's diagonal), each cancelled to a fraction-free form where σ' is
    registered in a (sigmoid with bce: y (1 - a)² + (1 - y) a², no division by a). A cost
    that absorbs σ_L: ``product`` = H_C v for one unit, (∂δ_L/∂a) ⊙ J_σᵀ v from the closed
    δ_L and the registered vector-Jacobian product ((Σ y) a (v - Σ a v) for softmax_ce).
    """

    names: tuple[str, ...]  # ("a", "y"), or ("z", "a", "y") where σ' needs z
    gauss_newton: sp.Expr | None = None
    residual: sp.Expr | None = None
    product: UnitForm | None = None


@cache
def output_curvature(act: registry.Activation, cost: registry.Cost) -> OutputCurvature:
    """The forms of ``OutputCurvature`` for output activation ``act`` and ``cost``."""
    a, y, z = (sp.Symbol(n) for n in ("a", "y", "z"))
    if absorbs_output(cost):
        closed, vjp = cost.output_delta(act.name), act.vjp
        assert closed is not None
        assert vjp is not None
        va, vv = vjp.args
        ca, cy = closed.form.args
        slope = sp.diff(closed.form.expr, ca).xreplace({ca: va})
        reductions = (*(r for r in closed.form.reductions if slope.has(r.name)),
                      *vjp.reductions)
        return OutputCurvature(("a", "y", "v"), product=UnitForm(
            (va, cy, vv), slope * vjp.expr, tuple(reductions)))
    forms = second(act)
    names: tuple[str, ...]
    if act.of_output is not None and forms.of_output is not None:
        prime, twice, names = act.of_output(a), forms.of_output(a), ("a", "y")
    elif act.derivative is not None and forms.formula is not None:
        prime, twice, names = act.derivative(z), forms.formula(z), ("z", "a", "y")
    else:
        raise ValueError(f"activation {act.name!r} has no formula to print code from")
    terms = registry.per_unit(cost)
    assert terms is not None
    h, g = cost_hessian_term(cost)(a, y), sp.sympify(terms[1](a, y))
    if names[0] == "z":  # σ' in z: as the formula writes it (e^-z, not e^2z, so no overflow)
        return OutputCurvature(names, prime**2 * h, g * twice)
    return OutputCurvature(names, sp.factor(sp.cancel(prime**2 * h)),
                           sp.factor(sp.cancel(g * twice)))


# PSD of H_C: what the targets must satisfy (each expression nonnegative), by cost
TARGETS: dict[str, tuple[Callable[[sp.Expr], sp.Expr], ...]] = {
    "mse": (),
    "bce": (lambda y: y, lambda y: 1 - y),  # 0 <= y <= 1
    "softmax_ce": (lambda y: y,),  # y >= 0
}
TARGETS_TEXT = {"mse": "for every target y", "bce": "for targets 0 <= y_j <= 1",
                "softmax_ce": "for targets y_j >= 0"}


# The kinds whose curvature the programs carry. A residual block is not one of them: its
# skip a_l = σ(z_l) + a_(l-1) (+ P_l a_(l-1)) adds a path to every curvature and cross term
# below it, and P_l is a parameter θ leaves out; the dense programs would be proved by
# lemmas that read the dense map, and wrong (tests/test_second_order_kinds.py).
SECOND_ORDER_KINDS = ("dense",)


def supported(net: Any) -> None:
    """ValueError unless second order covers ``net``: layers of ``SECOND_ORDER_KINDS``,
    elementwise activations, and softmax only as the output layer of a cost that absorbs it
    (softmax_ce)."""
    other = next((r for r in net.resolved if r.kind.name not in SECOND_ORDER_KINDS), None)
    if other is not None:
        raise ValueError(f"order 2 takes {' and '.join(SECOND_ORDER_KINDS)} layers in this "
                         f"version of symbp; layer {other.index} is {other.kind.name} (its "
                         "curvature is not written yet); use order 1")
    supported_functions(net)


def supported_functions(net: Any) -> None:
    """ValueError unless second order takes ``net``'s activations and cost: elementwise
    activations, and softmax only as the output layer of a cost that absorbs it."""
    cost = net.cost_entry
    for l, name in enumerate(net.activations, start=1):
        act = registry.ACTIVATIONS[name]
        if act.elementwise or (l == net.L and absorbs_output(cost)):
            continue
        where = "in a hidden layer" if l < net.L else f"with cost {cost.name!r}"
        raise ValueError(f"second order: activation {name!r} {where} (layer {l}) has no "
                         f"second derivative symbp writes; choose elementwise activations, "
                         f"and softmax only with cost 'softmax_ce'")
    if registry.per_unit(cost) is None and not absorbs_output(cost):
        raise ValueError(f"second order: cost {cost.name!r} is not written unit by unit; "
                         f"choose one of: {', '.join(TARGETS)}")
