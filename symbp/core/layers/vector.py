"""A layer kind's vector forms: its maps in vector notation, written once as operator
expressions, from which the documents print them and against which the proof checks them.

A form is an ordered list of ``Equation``s, ``name = rhs``. The rhs is a SymPy tree of
the operators (``Dot`` for a matrix product, ``Had`` for ⊙, ``Star`` for a
cross-correlation over positions, ...) over operands: the tensors of the kind's maps by
their names (x, z, a, delta, g, and each parameter's), the sizes of the maps as scalars,
and the names of earlier equations. An equation whose name is a *target* (z, a, delta,
input, or a parameter's name) states a map of the kind; any other is an intermediate
(a layer norm's μ, attention's P), put into the equations after it.

Each operator says what it computes (``operators``: its entries from its operands'
entries, as object arrays of SymPy expressions); how it prints is ``printing.vector``'s.
``proof.vector_forms`` evaluates every target at a network's sizes and compares it, entry
by entry and exactly, with the map it states; a form is never shown as proved otherwise.

A vector is a column (n × 1). A form of a recurrent layer reads one step t of a sequence
(``Equation.per_step``): ``Step(s, -1)`` is s_(t-1) (zero outside 1..T), and the equation
is evaluated at every t and its columns put side by side.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp

from .conv_operators import AvgPool, AvgPoolT, Flip, FullConv, MaxPool, MaxPoolT, Star
from .operators import (  # the operators a kind writes its forms with, as v.Dot, ...
    SIGMA,
    SIGMA_PRIME,
    AtLast,
    Context,
    Div,
    Dot,
    Had,
    Last,
    Named,
    Neg,
    Ones,
    Op,
    Over,
    Plus,
    Root,
    RowSoftmax,
    RowSum,
    Sigma,
    SigmaPrime,
    SqNorm,
    Step,
    StepSum,
    T,
)

__all__ = [
    "DELTA", "SIGMA", "SIGMA_PRIME", "TARGETS", "AtLast", "AvgPool", "AvgPoolT", "Context",
    "Div", "Dot", "Equation", "Flip", "FormError", "Forms", "FullConv", "G", "Had", "Last",
    "MaxPool", "MaxPoolT", "Named",
    "Neg", "Ones", "Op", "Over", "Plus", "Root", "RowSoftmax", "RowSum", "S", "Sigma",
    "SigmaPrime", "SqNorm", "Star", "Step", "StepSum", "T", "X", "Z", "evaluate", "operand",
    "value"
]

TARGETS = ("z", "a", "delta", "input")  # and each parameter's name


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


# ---------------------------------------------------------------- evaluation


class FormError(ValueError):
    """A form that cannot be evaluated (its shapes do not fit): which one, and why."""

    def __init__(self, name: str, why: str):
        super().__init__(f"form {name}: {why}")
        self.name, self.why = name, why


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
