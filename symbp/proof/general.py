"""The lemmas of the general theorem, in index notation, for symbolic widths and a symbolic layer.

Each lemma sets one entry formula the recursion computed (``lhs``) against the
truth SymPy derives from the network's own maps (``rhs``):

- base case  δ^{(L)}_k = ∂C/∂z^{(L)}_k, from the cost's formula;
- step       δ^{(l)}_k = Σ_i δ^{(l+1)}_i ∂z^{(l+1)}_i/∂z^{(l)}_k, the chain rule through
             z^{(l+1)}_i = Σ_m w^{(l+1)}_{im} σ(z^{(l)}_m) + b^{(l+1)}_i, given δ^{(l+1)};
- parameters ∂C/∂w^{(l)}_{jk} = Σ_i δ^{(l)}_i ∂z^{(l)}_i/∂w^{(l)}_{jk}, and the same for b^{(l)}_j.

``check`` decides a lemma twice, independently: as a symbolic identity
(``sums.difference``, or first the identity's own sound normal form where it has one), and
at every small concrete width with the per-network
exact check (``exact.first_difference``) on the fully written-out sums. Only
both together make "proved"; the symbolic check alone failing while every
instance holds is "screened" (SymPy did not close it), an instance failing is
"failed" with that entry as the counterexample.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sympy as sp

from ..core import registry
from ..core.built import rebuilt, replaced
from ..core.layers.written import written_out
from .exact import first_difference
from .index_entries import DELTA, A, B, J, K, W, Y, Z, fresh, jacobian_entry
from .indexed import DEPTH, LAYER, WIDTH
from .sums import Range, difference

WIDTHS = (1, 2, 3, 4)  # concrete widths every lemma is instantiated at


@dataclass
class Identity:
    """One index identity: lhs = rhs for every value of the free indices in their ranges."""

    lhs: sp.Expr
    rhs: sp.Expr
    ranges: dict[sp.Symbol, Range]
    widths: list[sp.Expr] = field(default_factory=list)  # the symbolic widths it involves
    decide: Callable[[sp.Expr, sp.Expr, dict], sp.Expr] | None = None  # another sound
    # normal form, tried first (a layer kind's: ``affine_sums.difference``); 0 when equal
    checked: tuple[int, ...] | None = None  # the widths its instances are written out at
    # (None: check's); fewer where it has many sizes, each combination of them is checked
    explicit: Callable[[sp.Expr], sp.Expr] | None = None  # an instance with what the
    # symbolic check kept opaque written in its formula (a row softmax as its quotient), so
    # that a difference found there is a true counterexample


@dataclass
class Outcome:
    status: str  # proved | failed | screened
    how: str
    residual: str = ""
    entry: tuple[int, int] | None = None  # (row, column), 1-based; a vector's is (k, 1)
    instances: int = 0


def activate(expr: sp.Expr, layer: sp.Expr, act: registry.Activation,
             unit: type[sp.Function] | None) -> sp.Expr:
    """a^{(layer)}_i := σ(z^{(layer)}_i) in ``expr``: the definition of the activation."""
    def value(i: sp.Expr) -> sp.Expr:
        if act.elementwise:
            return act.function(Z[layer, i])
        assert unit is not None
        return unit(Z, layer, i)

    return expr.replace(
        lambda e: isinstance(e, sp.Indexed) and e.base == A and e.indices[0] == layer,
        lambda e: value(e.indices[1]))


def cost_term(cost: registry.Cost, j: sp.Expr) -> sp.Expr:
    """The cost's term for output unit j: C = Σ_j term(a^{(L)}_j, y_j). A cost written unit by
    unit gives its term; one written on lists is read on a list of one unit (whether that
    is its term at every width is checked at widths 1..4 only: the "entrywise" claim)."""
    terms = registry.per_unit(cost)
    if terms is not None:
        return sp.sympify(terms[0](A[DEPTH, j], Y[j]))
    return sp.sympify(cost.formula([A[DEPTH, j]], [Y[j]]))


def cost_gradient_term(cost: registry.Cost, k: sp.Expr) -> sp.Expr:
    """The registered (∂C/∂a)_k, unit by unit where the cost is written so."""
    terms = registry.per_unit(cost)
    if terms is not None:
        return sp.sympify(terms[1](A[DEPTH, k], Y[k]))
    return sp.sympify(cost.gradient([A[DEPTH, k]], [Y[k]])[0])


def base_case(delta_L: sp.Expr, act: registry.Activation, cost: registry.Cost,
              unit: type[sp.Function] | None) -> Identity:
    """δ^{(L)}_k (the recursion's, entry K) against ∂C/∂z^{(L)}_k from the cost's formula."""
    j = fresh()
    C = activate(sp.Sum(cost_term(cost, j), (j, 1, WIDTH[DEPTH])), DEPTH, act, unit)
    return Identity(activate(delta_L, DEPTH, act, unit), C.diff(Z[DEPTH, K]),
                 {K: (1, WIDTH[DEPTH])}, [WIDTH[DEPTH]])


def step(delta_l: sp.Expr, act: registry.Activation, unit: type[sp.Function] | None) -> Identity:
    """δ^{(l)}_k (the recursion's) against Σ_i δ^{(l+1)}_i ∂z^{(l+1)}_i/∂z^{(l)}_k."""
    i, m = fresh(), fresh()
    l = LAYER
    z_next = sp.Sum(W[l + 1, i, m] * A[l, m], (m, 1, WIDTH[l])) + B[l + 1, i]
    chain = sp.Sum(DELTA[l + 1, i] * activate(z_next, l, act, unit).diff(Z[l, K]),
                   (i, 1, WIDTH[l + 1]))
    return Identity(activate(delta_l, l, act, unit), chain, {K: (1, WIDTH[l])},
                 [WIDTH[l], WIDTH[l + 1]])


def parameter(gradient: sp.Expr, wrt: str) -> Identity:
    """Entry (j, k) of ∂C/∂W_l or entry j of ∂C/∂b_l against Σ_i δ^{(l)}_i ∂z^{(l)}_i/∂(that)."""
    i, m = fresh(), fresh()
    l = LAYER
    z = sp.Sum(W[l, i, m] * A[l - 1, m], (m, 1, WIDTH[l - 1])) + B[l, i]
    target = W[l, J, K] if wrt == "W" else B[l, J]
    chain = sp.Sum(DELTA[l, i] * z.diff(target), (i, 1, WIDTH[l]))
    ranges = {J: (1, WIDTH[l])}
    if wrt == "W":
        ranges[K] = (1, WIDTH[l - 1])
    return Identity(gradient, chain, ranges, [WIDTH[l], WIDTH[l - 1]] if wrt == "W" else [WIDTH[l]])


def cost_gradient_lemma(cost: registry.Cost) -> Identity:
    """The registered ∂C/∂a_k (entry k) against ∂/∂a_k of Σ_j term(a_j, y_j)."""
    j = fresh()
    C = sp.Sum(cost_term(cost, j), (j, 1, WIDTH[DEPTH]))
    registered = cost_gradient_term(cost, K)
    return Identity(registered, C.diff(A[DEPTH, K]), {K: (1, WIDTH[DEPTH])}, [WIDTH[DEPTH]])


def softmax_formula_lemma(act: registry.Activation) -> Identity:
    """The registered Jacobian entry against ∂/∂z_k of the explicit e^{z_j} / Σ_m e^{z_m}."""
    m, l = fresh(), LAYER

    def explicit(i: sp.Expr) -> sp.Expr:
        return sp.exp(Z[l, i]) / sp.Sum(sp.exp(Z[l, m]), (m, 1, WIDTH[l]))

    return Identity(jacobian_entry(act, l, J, K, explicit), explicit(J).diff(Z[l, K]),
                 {J: (1, WIDTH[l]), K: (1, WIDTH[l])}, [WIDTH[l]])


# ---------------------------------------------------------------- deciding a lemma


def check(identity: Identity, widths: tuple[int, ...] = WIDTHS, smallest: int = 1,
          written: dict | None = None) -> Outcome:
    """The identity at every combination of concrete ``widths`` (the identity's own ``checked``
    where it has them), then, where no instance refutes it, symbolically. ``written``: the
    parts written out by checks before (of other lemmas of one theorem), each written once."""
    widths = identity.checked or widths
    counterexample, instances = None, 0
    written = {} if written is None else written  # at one widths and another alike, once
    for values in itertools.product([w for w in widths if w >= smallest],
                                    repeat=len(identity.widths)):
        found, count = _instance(identity, dict(zip(identity.widths, values)), written)
        instances += count
        if found is not None:
            counterexample = found
            break
    sizes = f"{min(w for w in widths if w >= smallest)}..{max(widths)}"
    if counterexample is not None:  # failed whatever the symbolic check says: not run
        at, entry, text = counterexample
        return Outcome("failed", f"refuted at widths {at}: entry {entry} differs",
                       _short(text), entry, instances)
    symbolic = sp.Integer(1)
    if identity.decide is not None:
        symbolic = identity.decide(identity.lhs, identity.rhs, identity.ranges)
    if symbolic != 0:
        symbolic = difference(identity.lhs, identity.rhs, identity.ranges)
    if symbolic != 0 and identity.decide is not None:  # once more, on fresh objects
        lhs, rhs = afresh(identity.lhs, identity.rhs)
        symbolic = identity.decide(lhs, rhs, identity.ranges)
    if symbolic != 0:
        return Outcome("screened", "SymPy did not reduce the symbolic difference to 0; it holds "
                       f"at every width {sizes} ({instances} entries, exact), which is evidence, "
                       "not a proof", _short(symbolic), None, instances)
    return Outcome("proved", f"symbolic identity for widths {_names(identity.widths)}; "
                   f"also checked exactly at every width {sizes} ({instances} entries)",
                   "", None, instances)


def afresh(*exprs: sp.Basic) -> list[sp.Basic]:
    """``exprs`` rebuilt node by node with SymPy's cache cleared: equal, but objects that have
    answered no assumption query yet. SymPy keeps on each object what it derived of it, and an
    answer can depend on what was asked before (a layer's lemma was decided or not by what
    earlier lemmas of the same process had asked: conv1d max pooling's H step at order 2)."""
    sp.core.cache.clear_cache()
    made: dict[int, sp.Basic] = {}

    def anew(e: sp.Basic) -> sp.Basic:
        if not isinstance(e, sp.Basic) or not e.args:
            return e
        if id(e) not in made:
            made[id(e)] = e.func(*[anew(a) for a in e.args])
        return made[id(e)]

    return [anew(e) for e in exprs]


def _instance(identity: Identity, widths: dict[sp.Expr, int], written: dict | None = None):
    """Both sides written out at concrete widths, compared entry by entry with ``exact``
    (``written``: the parts written out before, shared between calls)."""
    # written out once per widths; the free indices take their values after (deltas evaluate)
    written = {} if written is None else written
    done: dict = {}  # xreplace's rebuilt parts, shared by both sides: each rebuilt once
    lhs = written_out(replaced(identity.lhs, widths, done), written)
    rhs = written_out(replaced(identity.rhs, widths, done), written)
    if identity.explicit is not None:
        lhs, rhs = identity.explicit(lhs), identity.explicit(rhs)
    free = list(identity.ranges)
    last = [int(identity.ranges[s][1].xreplace(widths)) for s in free]
    points = list(itertools.product(*[range(1, n + 1) for n in last]))
    at_point = _AtPoints(free)
    left = sp.Matrix([[at_point(lhs, p) for p in points]])
    right = sp.Matrix([[at_point(rhs, p) for p in points]])
    found = first_difference(left, right)
    if found is None:
        return None, len(points)
    at = ", ".join(f"{_name(w)} = {v}" for w, v in widths.items())
    point = points[found[0][1] - 1]
    return (at, point if len(point) == 2 else (point[0], 1), found[1]), len(points)


class _AtPoints:
    """``expr.xreplace(dict(zip(free, point)))``, each subexpression rebuilt once for each
    values of the free indices it holds (a part that reads k alone is the same at every j),
    whichever side and point asks."""

    def __init__(self, free: list[sp.Symbol]):
        self.position = {s: n for n, s in enumerate(free)}
        self.holds: dict[sp.Basic, tuple[int, ...]] = {}  # the free indices a part holds
        self.done: dict[tuple, Any] = {}

    def __call__(self, expr: sp.Basic, point: tuple[int, ...]) -> Any:
        self._scan(expr)
        return self._at(expr, point)

    def _scan(self, expr: sp.Basic) -> tuple[int, ...]:
        held = self.holds.get(expr)
        if held is None:
            found = {self.position[expr]} if expr in self.position else set()
            for a in expr.args:
                if isinstance(a, sp.Basic):
                    found.update(self._scan(a))
            held = self.holds[expr] = tuple(sorted(found))
        return held

    def _at(self, expr: sp.Basic, point: tuple[int, ...]) -> Any:
        held = self.holds[expr]
        if not held:  # nothing to replace: xreplace leaves it as it is
            return expr
        if expr in self.position:
            return point[self.position[expr]]
        key = (expr, *(point[n] for n in held))
        value = self.done.get(key)
        if value is None:
            value = self.done[key] = rebuilt(expr, [
                self._at(a, point) if isinstance(a, sp.Basic) else a for a in expr.args])
        return value


def _name(width: sp.Expr) -> str:
    return re.sub(r"(\w+)\[", r"\1_", str(width)).replace("]", "").replace(" ", "")


def _names(widths: list[sp.Expr]) -> str:
    return ", ".join(_name(w) for w in widths)


def _short(expr: object, limit: int = 160) -> str:
    text = str(expr)
    return text if len(text) <= limit else text[: limit - 3] + "..."
