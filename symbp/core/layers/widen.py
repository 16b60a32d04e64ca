"""A kind written for vectors, read on an input of several axes: its maps in index notation.

A kind whose input x is a vector (dense) reads a tensor input (channels × positions) as its
entries in row-major order: per network nothing changes, since a tensor's flat position is
its row-major index (``flat``, ``as_matrix_index``). In index notation, where a vector's
entries are x[k] and a tensor's x[c, u], the kind's maps are ``widened``: every axis of the
input's size becomes the input's axes, every index over it one index per axis, every sum
over it one sum per axis. Σ_k W[j, k] x[k] becomes Σ_c Σ_u W[j, c, u] x[c, u], the same sum.
"""

from __future__ import annotations

from dataclasses import replace

import sympy as sp

from .base import Map, Maps, Tensor


def widened(maps: Maps, rank: int) -> Maps:
    """``maps`` on an input of ``rank`` axes; ValueError where a map uses an index over the
    input's axis for anything but an entry of a tensor along that axis (a residual's skip)."""
    (size,) = maps.x.axes
    if not isinstance(size, sp.Symbol):
        raise ValueError(f"cannot widen a kind whose input size is {size}")
    axes = tuple(sp.Symbol(f"{size.name}_{i}", integer=True, positive=True)
                 for i in range(1, rank + 1))

    def tensor(t: Tensor) -> Tensor:
        return replace(t, axes=tuple(x for a in t.axes for x in (axes if a == size else (a,))))

    tensors = {t.base: t for t in (maps.x, maps.z, maps.a, *maps.params)}
    for _, m in maps.all():
        tensors.update({t.base: t for t in (*m.inputs, *m.params, m.out)})

    def widen_map(m: Map) -> Map:
        split = _split_indices(m, tensors, size, rank)
        formula = _rewrite(m.formula, tensors, size, split, axes)
        index = tuple(x for i in m.index for x in split.get(i, (i,)))
        for i, a in zip(m.index, m.out.axes):
            if (i in split) != (a == size):
                raise ValueError(f"cannot widen the map of {m.out.name}: its index {i} runs "
                                 "over the input's entries and over another axis")
        return Map(tensor(m.out), index, formula, tuple(tensor(t) for t in m.inputs),
                   tuple(tensor(t) for t in m.params))

    def symbolic(e: sp.Expr, shape_in: tuple[sp.Expr, ...]) -> dict[sp.Symbol, sp.Expr]:
        return {**maps.symbolic(e, shape_in), **dict(zip(axes, shape_in))}

    def optional(m: Map | None) -> Map | None:
        return None if m is None else widen_map(m)

    return replace(maps, symbolic=symbolic, x=tensor(maps.x), z=tensor(maps.z),
                   a=tensor(maps.a), params=tuple(tensor(p) for p in maps.params),
                   pre=widen_map(maps.pre), input_vjp=widen_map(maps.input_vjp),
                   param_vjps={k: widen_map(m) for k, m in maps.param_vjps.items()},
                   post=optional(maps.post), skip=optional(maps.skip),
                   delta_from_g=optional(maps.delta_from_g), skip_vjp=optional(maps.skip_vjp))


def _split_indices(m: Map, tensors: dict, size: sp.Symbol, rank: int) -> dict[sp.Symbol, tuple]:
    """Every index some entry uses along an axis of the input's size, and its ``rank`` new
    indices (k becomes k1, k2)."""
    found: list[sp.Symbol] = []
    for entry in m.formula.atoms(sp.Indexed):
        t = tensors.get(entry.base)
        for index, axis in zip(entry.indices, t.axes if t is not None else ()):
            if axis != size:
                continue
            if not isinstance(index, sp.Symbol):
                raise ValueError(f"cannot widen {entry}: the index {index} along the "
                                 "input's axis is not a plain index")
            if index not in found:
                found.append(index)
    return {i: tuple(sp.Symbol(f"{i.name}{n}", integer=True, positive=True)
                     for n in range(1, rank + 1)) for i in found}


def _rewrite(expr: sp.Expr, tensors: dict, size: sp.Symbol, split: dict, axes: tuple) -> sp.Expr:
    if isinstance(expr, sp.Indexed):
        t = tensors.get(expr.base)
        if t is None:
            return expr
        indices: list[sp.Expr] = []
        for index, axis in zip(expr.indices, t.axes):
            if axis != size and index in split:
                raise ValueError(f"cannot widen {expr}: its index {index} runs over the "
                                 "input's entries and over another axis")
            indices.extend(split[index] if axis == size else (index,))
        return expr.base[tuple(indices)]
    if isinstance(expr, sp.Sum):
        body = _rewrite(expr.function, tensors, size, split, axes)
        limits = []
        for index, first, last in expr.limits:
            if index in split:
                limits += [(i, 1, a) for i, a in zip(split[index], axes)]
            else:
                limits.append((index, first, last))
        return sp.Sum(body, *limits)
    if isinstance(expr, sp.Symbol) and expr in split:
        raise ValueError(f"cannot widen a formula that uses the index {expr} on its own")
    if not expr.args:
        return expr
    return expr.func(*[_rewrite(a, tensors, size, split, axes) for a in expr.args])
