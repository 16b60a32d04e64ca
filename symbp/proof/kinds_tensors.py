"""One layer's tensors as arrays of free symbols, and what the matrix chapter builds from them.

Each tensor a layer's maps read or give becomes an array of symbols (``tensors_of``); the maps
run on them give the layer's output (``layer_output``, σ an undefined ``Sigma``), and SymPy's
Jacobian of that (``jacobian``) is the oracle ``kinds_matrix`` checks each kind's hand-written
vector-Jacobian products against.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from ..core.layers import Map, Resolved
from ..core.layers.operators import SIGMA_PRIME


class Sigma(sp.Function):
    """An elementwise σ, any: SymPy's chain rule through it gives σ'(z), the forms' σ'."""

    nargs = 1

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return SIGMA_PRIME(self.args[0])


@dataclass(frozen=True)
class Tensors:
    """One layer's tensors as arrays of free symbols, by the names its maps read."""

    arrays: dict[str, np.ndarray]

    def values(self, **override: np.ndarray) -> dict[str, Callable[[tuple[int, ...]], Any]]:
        arrays = {**self.arrays, **override}
        return {name: _lookup(a) for name, a in arrays.items()}

    def flat(self, name: str) -> list[sp.Expr]:
        return list(self.arrays[name].ravel())


def _lookup(a: np.ndarray) -> Callable[[tuple[int, ...]], Any]:
    return lambda i: a[i]


def tensors_of(r: Resolved) -> Tensors:
    """Free symbols for every tensor layer r's maps read or give (x_1_2, W_2_1, delta_1, ...)."""
    shapes: dict[str, tuple[int, ...]] = {}
    maps = r.maps
    for t in (maps.x, maps.z, maps.a, *maps.params):
        shapes.setdefault(t.name, t.shape(r.sizes))
    for _, m in maps.all():
        for t in (*m.inputs, *m.params, *m.read_own):
            shapes.setdefault(t.name, t.shape(r.sizes))
    shapes.setdefault("delta", maps.z.shape(r.sizes))
    shapes.setdefault("g", maps.a.shape(r.sizes))
    arrays = {}
    for name, shape in shapes.items():
        out = np.empty(shape, dtype=object)
        for i in itertools.product(*[range(n) for n in shape]):
            out[i] = sp.Symbol(f"{name}_{'_'.join(str(k + 1) for k in i)}")
        arrays[name] = out
    return Tensors(arrays)


def run(m: Map, r: Resolved, values: Mapping[str, Any]) -> list[sp.Expr]:
    return m.entries(r.sizes, values)


def sigma_of(entries: np.ndarray) -> np.ndarray:
    return np.vectorize(Sigma, otypes=[object])(entries)


def layer_output(r: Resolved, t: Tensors) -> list[sp.Expr]:
    """a as a function of x: σ of the pre map, through the post map, plus the skip."""
    maps = r.maps
    z = np.array(run(maps.pre, r, t.values()), dtype=object).reshape(maps.z.shape(r.sizes))
    a = after_sigma(r, t, z)
    if maps.skip is not None:
        a = a + np.array(run(maps.skip, r, t.values()), dtype=object)
    return list(a)


def after_sigma(r: Resolved, t: Tensors, z: np.ndarray) -> np.ndarray:
    """post(σ(z)) (σ(z) without a post map), flat."""
    s = sigma_of(z)
    if r.maps.post is None:
        return s.ravel()
    return np.array(run(r.maps.post, r, t.values(**{r.maps.post.inputs[0].name: s})),
                    dtype=object)


def contract(outputs: list[sp.Expr], by: list[sp.Expr], weights: list[sp.Expr]) -> sp.Matrix:
    """Σ_i weights_i ∂outputs_i/∂by, a column: the row of weights times the Jacobian, turned."""
    return (sp.Matrix([weights]) * jacobian(outputs, by)).T


def jacobian(outputs: Any, by: Any) -> sp.Matrix:
    """SymPy's ``jacobian`` of ``outputs`` by the symbols ``by``, each entry ``sp.diff``, taken
    only where the output reads the symbol (the rest are 0, as ``diff`` gives), and of a sum
    term by term: a convolution's entry reads k of its inputs, and the full table of
    derivatives of the digits network took 45 s of its 55."""
    rows, by = list(outputs), list(by)
    if not all(isinstance(v, sp.Symbol) for v in by):
        return sp.Matrix(rows).jacobian(by)
    column = {v: j for j, v in enumerate(by)}
    found = sp.zeros(len(rows), len(by))
    for i, f in enumerate(rows):
        parts: dict[sp.Symbol, list[sp.Expr]] = {}
        for term in sp.Add.make_args(sp.sympify(f)):  # diff is linear: term by term, each by
            for v in term.free_symbols & column.keys():  # the symbols it reads
                parts.setdefault(v, []).append(sp.diff(term, v))
        for v, terms in parts.items():
            found[i, column[v]] = sp.Add(*terms)
    return found


def diag(entries: list[sp.Expr]) -> sp.Matrix:
    return sp.diag(*entries)


def matrix_of(a: np.ndarray) -> sp.Matrix:
    """A parameter as its matrix: rows its first axis (a vector a column)."""
    return sp.Matrix(a.reshape(a.shape[0], -1))
