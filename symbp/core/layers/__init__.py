"""Layer kinds as data: one module each, listed in ``KINDS`` as activations are in the registry.

A network is a sequence of ``Layer``s; ``resolve`` checks each one's options against its
kind and its input shape, and gives its maps (``base.Maps``) with their sizes. The δ
recursion, the proof, the code and the documents read a layer through its maps only,
so adding a kind is one module here (its options, its maps and their vector-Jacobian
products in index notation) plus its templates.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from math import prod
from typing import Any

import sympy as sp

from ..limits import LayerSize
from . import attention, batchnorm, conv1d, dense, dense_per_sample, layernorm, recurrent, residual
from .base import Kind, Layer, Map, Maps, Option, Shape, Tensor

KINDS: dict[str, Kind] = {k.name: k for k in (dense.KIND, residual.KIND, conv1d.KIND,
                                              recurrent.KIND, layernorm.KIND, attention.KIND,
                                              batchnorm.KIND, dense_per_sample.KIND)}

__all__ = ["KINDS", "Kind", "Layer", "Map", "Maps", "Option", "Resolved", "Tensor", "kind",
           "resolve"]


@dataclass(frozen=True)
class Resolved:
    """One layer of a network with everything its kind made of it."""

    index: int  # l, 1-based
    layer: Layer
    kind: Kind
    maps: Maps
    shape_in: Shape
    shape_out: Shape
    sizes: dict[sp.Symbol, int]

    @property
    def width_in(self) -> int:
        return prod(self.shape_in)

    @property
    def width(self) -> int:
        return prod(self.shape_out)

    @property
    def size(self) -> LayerSize:
        """What the layer costs a proof, as its kind counts it (``core.limits``)."""
        return self.kind.size_of(self.layer, self.maps, self.sizes)

    @property
    def paths_through_time(self) -> int:
        """1; for a layer whose pre map reads its own state one step back (a scan), the paths
        of influence through its steps, H^(T-1) for H states over T steps."""
        if self.maps.pre.own is None:
            return 1
        *per_step, steps = self.maps.z.shape(self.sizes)
        return int(prod(per_step)) ** (steps - 1)

    @property
    def parameters(self) -> dict[str, Shape]:
        return {p.name: p.shape(self.sizes) for p in self.maps.params}


def meaning(r: Resolved) -> str:
    """What layer r's kind makes of it, written out: every map, the vector forms and the
    named entry forms. Part of a program's fingerprint (``Network.meaning``), so a kind
    re-registered with another map or form is another program, never the one proved."""
    lines = [f"kind {r.kind.name} {r.layer!r}"]
    for name, m in r.maps.all():
        tensors = [t.name for t in (m.out, *m.inputs, *m.params, *m.read_own)]
        lines.append(f"  {name}: {' '.join(tensors)}: {sp.srepr((m.index, m.formula))}")
        if r.kind.shorthand is not None:
            lines.append(f"    named: {sp.srepr(r.kind.shorthand(r.layer, m.formula, 'l')[0])}")
    if r.kind.forms is not None:
        lines += [f"  form {eq.name} ({eq.shown_in}{', per step' if eq.per_step else ''}): "
                  f"{sp.srepr(eq.rhs)}" for eq in r.kind.forms(r.layer).equations]
    return "\n".join(lines)


def kind(name: object) -> Kind:
    """The registry entry for ``name``; ValueError naming the valid choices otherwise."""
    try:
        return KINDS[name]  # type: ignore[index]
    except (KeyError, TypeError):
        raise ValueError(f"unknown layer kind {name!r}; choose one of: "
                         f"{', '.join(KINDS)}") from None


def as_layer(value: object, l: int) -> Layer:
    """A ``Layer``, or a mapping with a "kind" key (a TOML [[layers]] table)."""
    if isinstance(value, Layer):
        return value
    if isinstance(value, Mapping):
        options = dict(value)
        name = options.pop("kind", None)
        if name is None:
            raise ValueError(f"layer {l}: no 'kind'; choose one of: {', '.join(KINDS)}")
        return Layer(str(name), options)
    raise ValueError(f"layer {l} must be a symbp.Layer or a table with a 'kind', "
                     f"got {type(value).__name__}")


def resolve(layers: Sequence[Any], shape_in: Shape) -> list[Resolved]:
    """Every layer checked against its kind and its input, in order; ValueError names the
    layer, its kind and the key."""
    found = []
    shape = shape_in
    for l, value in enumerate(layers, start=1):
        layer = as_layer(value, l)
        entry = kind(layer.kind)
        where = f"layer {l} ({entry.name})"
        given = dict(layer.options)
        for key, option_value in given.items():
            option = entry.options.get(key)
            if option is None:
                raise ValueError(f"{where}: unknown key {key!r}; valid keys: "
                                 f"{', '.join(entry.options)}")
            if not option.check(option_value):
                raise ValueError(f"{where}: key {key!r} must be {option.expected}, "
                                 f"got {option_value!r}")
        missing = [k for k, o in entry.options.items() if o.default is None and k not in given
                   and not _derived(entry, k)]
        if missing:
            raise ValueError(f"{where}: key {missing[0]!r} is required: "
                             f"{entry.options[missing[0]].expected}")
        filled = Layer(entry.name, {**{k: o.default for k, o in entry.options.items()
                                       if o.default is not None}, **given})
        maps = entry.maps(filled)
        if len(maps.x.axes) == 1:  # a kind on vectors reads any input as its entries, flat
            shape = (prod(shape),)
        try:
            entry.check(filled, shape)
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
        sizes = maps.sizes(shape)
        out = maps.a.shape(sizes)
        found.append(Resolved(l, filled, entry, maps, shape, out, sizes))
        shape = out
    return found


def _derived(entry: Kind, key: str) -> bool:
    """Keys a kind derives from its input when they are left out (a residual's units)."""
    return "default:" in entry.options[key].expected


# ---------------------------------------------------------------- a layer on values


def flat(index: tuple[int, ...], shape: Shape) -> int:
    """The row-major position of ``index`` (0-based) in a tensor of ``shape``."""
    position = 0
    for i, n in zip(index, shape):
        position = position * n + i
    return position


def as_matrix_index(index: tuple[int, ...], shape: Shape) -> tuple[int, int]:
    """Where entry ``index`` of a parameter of ``shape`` sits in its matrix: the first axis is
    the row, the others run along the columns (a vector is one column)."""
    if len(shape) == 1:
        return index[0], 0
    return index[0], flat(index[1:], shape[1:])


def forward(r: Resolved, x: Sequence[Any], params: Mapping[str, Any],
            apply: Any) -> tuple[list[Any], list[Any]]:
    """Layer r on the input entries ``x`` (flattened), its parameters as matrices and its
    activation ``apply`` (a list to a list): its pre-activation z and its output a."""
    pre, values = r.maps.pre, lookups(r, x, params)
    z = pre.entries(r.sizes, values) if pre.own is None else scan(r, values, apply)
    return z, output(r, z, x, params, apply)


def scan(r: Resolved, values: Mapping[str, Any], apply: Any) -> list[Any]:
    """z of a pre map that reads its own σ(z) one step back (a recurrent layer's state at
    t − 1): every entry in the order of its last axis, each step reading the ones before."""
    pre, shape = r.maps.pre, r.maps.z.shape(r.sizes)
    found: dict[tuple[int, ...], Any] = {}
    states: dict[tuple[int, ...], Any] = {}

    def state(i: tuple[int, ...]) -> Any:  # σ(z) at 0-based i, found before it is read
        if i not in states:
            states[i] = apply([found[tuple(k + 1 for k in i)]])[0]
        return states[i]

    assert pre.own is not None
    at = pre.at(r.sizes, {**values, pre.own.name: state})
    points = list(itertools.product(*[range(1, n + 1) for n in shape]))
    for point in sorted(points, key=lambda p: (p[-1], p)):
        found[point] = at(point)
    return [found[p] for p in points]


def output(r: Resolved, z: Sequence[Any], x: Sequence[Any], params: Mapping[str, Any],
           apply: Any) -> list[Any]:
    """Layer r's output a from its pre-activation ``z`` and its input ``x``: σ, then the
    post map and the skip where the kind has them."""
    maps, sizes = r.maps, r.sizes
    values = lookups(r, x, params)
    s = apply(list(z))
    a = s
    if maps.post is not None:
        s_shape = maps.z.shape(sizes)
        a = maps.post.entries(sizes, {**values, maps.post.inputs[0].name:
                                      lambda i: s[flat(i, s_shape)]})
    if maps.skip is not None:
        a = [ai + si for ai, si in zip(a, maps.skip.entries(sizes, values))]
    return list(a)


def lookups(r: Resolved, x: Sequence[Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """The lookups a map's entries read: the input by its flat position, each parameter in
    its matrix (``as_matrix_index``)."""
    values: dict[str, Any] = {r.maps.x.name: lambda i: x[flat(i, r.shape_in)]}
    for p in r.maps.params:
        shape = p.shape(r.sizes)
        values[p.name] = lambda i, M=params[p.name], shape=shape: M[as_matrix_index(i, shape)]
    return values
