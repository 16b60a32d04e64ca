"""Backpropagation in index notation: the recursion traced on entries, sums and symbolic widths.

``IndexOps`` is a third implementation of ``RecursionOps`` (after ``SymbolicOps`` on
SymPy matrices and ``CodeOps`` on whole arrays). Its quantities are entry
formulas (``index_entries``): a vector is one expression in a free index, such as
``(W_{l+1}ᵀ δ_{l+1})_k = Σ_{i=1}^{n_{l+1}} w^{(l+1)}_{ik} δ^{(l+1)}_i``, where the
width ``n[l]`` is a positive integer symbol and the layer a symbol too. A generic
program (``symbp.core.generic``, the recursion recorded once for a symbolic depth
L and generic layer l) is replayed on it, so one replay stands for every width
and depth; ``generic`` relabels a step taken at layer L - 1 or l - 1 as a step at
the symbolic layer l.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sympy as sp

from ..core import registry
from ..core.generic import DEPTH, LAYER, WIDTH
from ..printing.index_notation import latex as latex  # re-exported for the documents
from ..printing.index_notation import readable
from .index_entries import (
    DELTA,
    A,
    G,
    IndexMatrix,
    IndexTensor,
    IndexVector,
    W,
    Y,
    Z,
    fresh,
    fresh_bound,
    jacobian_entry,
    kind_base,
    named,
    replace_entries,
    same_shape,
    shape_of,
)
from .sums import normal

# ---------------------------------------------------------------- the ops


@dataclass
class IndexTrace:
    """A program replayed on ``IndexOps``: what it bound at each (symbolic) layer."""

    deltas: dict[sp.Expr, IndexVector] = field(default_factory=dict)
    weight: dict[sp.Expr, Any] = field(default_factory=dict)
    bias: dict[sp.Expr, Any] = field(default_factory=dict)
    grads: dict[sp.Expr, IndexVector] = field(default_factory=dict)
    param_grads: dict[tuple[sp.Expr, str], Any] = field(default_factory=dict)


class IndexOps:
    """``RecursionOps`` on entry formulas, symbolic in the widths; layers are symbolic labels
    (L, L - 1, l, l - 1, ...), as a generic program names them.

    ``hidden`` is the activation of every layer but L, ``output`` that of layer L.
    """

    def __init__(self, hidden: registry.Activation, output: registry.Activation,
                 cost: registry.Cost, structure: Callable[[sp.Expr], Any] | None = None,
                 width: Callable[[sp.Expr], sp.Expr] | None = None,
                 shape: Callable[[sp.Expr], tuple[sp.Expr, ...]] | None = None,
                 activation_at: Callable[[sp.Expr], registry.Activation] | None = None):
        self.hidden, self.output, self.cost = hidden, output, cost
        self._activation_at = activation_at  # layer -> its σ, where layers have their own
        self.trace = IndexTrace()
        self.structure = structure  # layer -> its kind's maps and sizes (None: dense)
        self._width = width or (lambda layer: WIDTH[layer])
        self._shape = shape  # layer -> the axes of a^{(layer)} (None: one axis, its width)

    def width(self, layer: sp.Expr) -> sp.Expr:
        return self._width(sp.sympify(layer))

    def shape(self, layer: sp.Expr) -> tuple[sp.Expr, ...]:
        """The axes of a^{(layer)}."""
        if self._shape is None:
            return (self.width(layer),)
        return self._shape(sp.sympify(layer))

    def z_shape(self, layer: sp.Expr) -> tuple[sp.Expr, ...]:
        """The axes of z^{(layer)} and δ^{(layer)}: a^{(layer)}'s, unless the kind pools."""
        if self.structure is None:
            return (self.width(layer),)
        s = self.structure(layer)
        if s.maps.post is None:
            return self.shape(layer)
        return tuple(sp.expand(sp.sympify(a).xreplace(s.sizes)) for a in s.maps.z.axes)

    def act(self, layer: sp.Expr) -> registry.Activation:
        if self._activation_at is not None:
            return self._activation_at(sp.sympify(layer))
        return self.output if sp.sympify(layer) == DEPTH else self.hidden

    def _vector(self, layer: sp.Expr, v: Any, what: str) -> IndexVector:
        if not isinstance(v, IndexVector) or v.length != self.width(layer):
            got = v.length if isinstance(v, IndexVector) else type(v).__name__
            raise ValueError(f"{what} of layer {layer} needs a vector of length "
                             f"{self.width(layer)}, got {got}")
        return v

    def _tensor(self, shape: tuple[sp.Expr, ...], v: Any, what: str, layer: sp.Expr) -> Any:
        if not same_shape(shape_of(v), shape):
            got = shape_of(v) or type(v).__name__
            raise ValueError(f"{what} of layer {layer} needs a tensor of shape {shape}, "
                             f"got {got}")
        return v

    def delta(self, layer: sp.Expr) -> Any:
        """δ^{(layer)} as the name the recursion builds on."""
        return named(DELTA, layer, self.z_shape(layer))

    def grad(self, layer: sp.Expr) -> Any:
        """g^{(layer)} = ∂C/∂a^{(layer)} as the name the recursion builds on."""
        return named(G, layer, self.shape(layer))

    # ---- RecursionOps

    def cost_gradient(self) -> Any:
        shape = self.shape(DEPTH)
        j = tuple(fresh() for _ in shape)
        a, y = A[(DEPTH, *j)], Y[j if len(j) > 1 else j[0]]
        terms = registry.per_unit(self.cost)  # a cost written unit by unit: its own term
        entry = sp.sympify(terms[1](a, y) if terms else self.cost.gradient([a], [y])[0])
        if len(shape) > 1:  # an output of channels × positions: the cost sums every entry
            return IndexTensor(entry, j, shape)
        return IndexVector(entry, j[0], self.width(DEPTH))

    def activation_vjp(self, layer: sp.Expr, v: Any) -> Any:
        act = self.act(layer)
        if isinstance(v, IndexTensor):  # channels × positions: σ acts entry by entry
            v = self._tensor(self.z_shape(layer), v, "the activation's vector-Jacobian product",
                             layer)
            if not act.elementwise:
                raise ValueError(f"the {act.name} activation is not elementwise: it takes a "
                                 "vector")
            index = tuple(fresh() for _ in v.shape)
            return IndexTensor(v.at(*index) * act.prime(Z[(layer, *index)]), index, v.shape)
        if self.structure is None:
            v = self._vector(layer, v, "the activation's vector-Jacobian product")
        else:
            v = self._tensor(self.z_shape(layer), v, "the activation's vector-Jacobian product",
                             layer)
        j = fresh()
        if act.elementwise:  # diag(σ'(z)) v is the Hadamard product v ⊙ σ'(z)
            return IndexVector(v.at(j) * act.prime(Z[layer, j]), j, v.length)
        i = fresh()
        entry = jacobian_entry(act, layer, i, j, lambda e: A[layer, e])
        return IndexVector(sp.Sum(entry * v.at(i), (i, 1, v.length)), j, v.length)

    def transpose_times(self, layer: sp.Expr, v: Any) -> Any:
        v = self._vector(layer, v, "W^T v")
        below = self.shape(layer - 1)
        i, k = fresh(), tuple(fresh() for _ in below)
        entry = sp.Sum(W[(layer, i, *k)] * v.at(i), (i, 1, v.length))
        if len(below) > 1:  # W_l reads a tensor input entry by entry: w^{(l)}_{i,c,u}
            return IndexTensor(entry, k, below)
        return IndexVector(entry, k[0], self.width(layer - 1))

    def times(self, layer: sp.Expr, v: Any) -> IndexVector:
        v = self._vector(layer - 1, v, "W v")
        i, k = fresh(), fresh()
        entry = sp.Sum(W[layer, i, k] * v.at(k), (k, 1, v.length))
        return IndexVector(entry, i, self.width(layer))

    def activation(self, layer: sp.Expr) -> Any:
        return named(A, layer, self.shape(layer))

    def state(self, layer: sp.Expr) -> Any:
        """σ(z^{(layer)}) entry by entry, before any map after it."""
        shape = self.z_shape(layer)
        index = tuple(fresh() for _ in shape)
        value = self.act(layer).function(Z[(layer, *index)])
        return IndexTensor(value, index, shape) if len(shape) > 1 else \
            IndexVector(value, index[0], shape[0])

    def outer(self, u: Any, v: Any) -> Any:
        if isinstance(u, IndexVector) and isinstance(v, IndexTensor):  # δ_l times a tensor input
            j, k = fresh(), tuple(fresh() for _ in v.shape)
            return IndexTensor(u.at(j) * v.at(*k), (j, *k), (u.length, *v.shape))
        if not (isinstance(u, IndexVector) and isinstance(v, IndexVector)):
            raise ValueError("outer(u, v) needs two vectors")
        j, k = fresh(), fresh()
        return IndexMatrix(u.at(j) * v.at(k), j, k, (u.length, v.length))

    def bind_delta(self, layer: sp.Expr, value: Any) -> IndexVector:
        self.trace.deltas[layer] = value
        return self.delta(layer)

    def gradient(self, layer: sp.Expr, weight: Any, bias: Any, **others: Any) -> None:
        self.trace.weight[layer] = weight
        self.trace.bias[layer] = bias
        for name, value in {"W": weight, "b": bias, **others}.items():
            self.trace.param_grads[(layer, name)] = value

    def bind_grad(self, layer: sp.Expr, value: Any) -> IndexVector:
        self.trace.grads[layer] = value
        return self.grad(layer)

    def vjp(self, layer: sp.Expr, which: str, *values: Any) -> Any:
        """One of the layer's maps (its kind's formula), on index vectors, at symbolic sizes."""
        if self.structure is None:
            raise ValueError(f"vjp({which!r}) needs the layer's kind")
        s = self.structure(layer)
        m = dict(s.maps.all())[which]
        entries: dict = {}
        for tensor, value in zip(m.inputs, values):
            want = tuple(sp.sympify(a).xreplace(s.sizes) for a in tensor.axes)
            if not same_shape(shape_of(value), want):
                raise ValueError(f"vjp({which!r}) reads {tensor.name} of shape {want}, got "
                                 f"{shape_of(value) or type(value).__name__}")
            entries[tensor.base] = value
        params = {p.base: p for p in m.params}
        if m.own is not None:  # a scan reads the δ the layer binds, one step on
            entries[m.own.base] = self.delta(layer)
        fresh_index = tuple(fresh() for _ in m.index)  # before any value is put in
        formula = fresh_bound(m.formula.xreplace(s.sizes)).xreplace(
            dict(zip(m.index, fresh_index)))

        def value_of(e: sp.Indexed) -> sp.Expr:
            if e.base in entries:
                return entries[e.base].at(*e.indices)
            return kind_base(params[e.base].name)[(layer, *e.indices)]

        formula = replace_entries(formula, entries.keys() | params.keys(), value_of)
        sizes = tuple(sp.expand(sp.sympify(a).xreplace(s.sizes)) for a in m.out.axes)
        if len(fresh_index) == 1:
            return IndexVector(formula, fresh_index[0], sizes[0])
        return IndexTensor(formula, fresh_index, sizes)

    def scale(self, c: sp.Rational, v: Any) -> Any:
        if isinstance(v, IndexMatrix):
            return IndexMatrix(c * v.entry, v.row, v.col, v.shape)
        if isinstance(v, IndexTensor):
            return IndexTensor(c * v.entry, v.indices, v.shape)
        return c * v

    def add(self, u: Any, v: Any) -> Any:
        if isinstance(u, IndexMatrix) and isinstance(v, IndexMatrix) and u.shape == v.shape:
            return IndexMatrix(u.entry + v.at(u.row, u.col), u.row, u.col, u.shape)
        if isinstance(u, IndexTensor):
            if not same_shape(shape_of(v), u.shape):
                raise ValueError(f"cannot add a tensor of shape {u.shape} and {v!r}")
            return IndexTensor(u.entry + v.at(*u.indices), u.indices, u.shape)
        return u + v

    def mask(self, v: Any, rows: Any) -> Any:
        raise ValueError("a constant array fixes the widths; index formulas are for every width")


def generic(expr: sp.Expr, layer: sp.Expr) -> sp.Expr:
    """``expr``, computed at ``layer`` (L + c or l + c), relabelled so that layer is the
    symbolic layer l: L + c as l, l + c as l, so layer ± d reads l ± d."""
    layer = sp.sympify(layer)
    constant = layer.as_coeff_Add()[0] if layer.is_Add else sp.Integer(0)
    base = layer - constant
    if base not in (DEPTH, LAYER):
        return expr
    return expr.xreplace({base: LAYER - constant}) if base == DEPTH or constant else expr


def display(expr: sp.Expr, ranges: dict) -> sp.Expr:
    """``expr`` for reading: in normal form (``sums.normal``), common factors out, indices named."""
    if not expr.has(sp.Sum, sp.KroneckerDelta):
        return readable(expr)  # nothing to bring to normal form: as the recursion wrote it
    return readable(sp.factor_terms(normal(expr, ranges)))
