"""A layer kind with its options at no particular size, and the shapes of its tensors at a
symbolic layer: what the generic program (``core.generic``) is recorded for."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .generic_layers import LAYER
from .layers import Kind, Maps
from .layers import Layer as LayerSpec
from .layers.widen import widened


@dataclass(frozen=True)
class Template:
    """A kind of layer with its options, at no particular size: what the theorem is about."""

    kind: Kind
    layer: LayerSpec
    maps: Maps

    @classmethod
    def of(cls, layer: LayerSpec) -> Template:
        from .layers import kind

        entry = kind(layer.kind)
        return cls(entry, layer, entry.maps(layer))


@dataclass(frozen=True)
class Structure:
    kind: Kind
    layer: LayerSpec
    maps: Maps
    sizes: dict


DENSE = Template.of(LayerSpec("dense"))


def maps_on(template: Template, rank: int) -> Maps:
    """The template's maps on an input of ``rank`` axes (a kind on vectors widened)."""
    axes = len(template.maps.x.axes)
    if axes == 1 and rank > 1:
        return widened(template.maps, rank)
    if axes > rank:
        raise ValueError(f"the general theorem reads the input of a {template.kind.name} layer "
                         f"with {axes} axes, and the layer below gives {rank}: put it over "
                         f"layers of {axes} axes (a network of such layers proves per network)")
    return template.maps


def output_shape(template: Template, e: sp.Expr, shape_in: tuple) -> tuple[sp.Expr, ...]:
    """The shape of a layer's output at symbolic layer e, from its input's shape."""
    maps = maps_on(template, len(shape_in))
    sizes = maps.symbolic(e, shape_in)
    return tuple(sp.expand(sp.sympify(a).xreplace(sizes)) for a in maps.a.axes)


def check_shapes(hidden: Template, first: tuple) -> None:
    """The hidden layers' shapes are one formula in l: a hidden layer on the shape the one below
    gives has the shape it has on the input's (each size free at l or the input's), and the
    input is that shape at l = 0. ValueError otherwise: no symbolic shape fits every layer."""
    at = output_shape(hidden, LAYER, first)
    below = output_shape(hidden, LAYER - 1, first)
    again = output_shape(hidden, LAYER, below)
    zero = tuple(sp.sympify(a).xreplace({LAYER: 0}) for a in at)
    if again != at or zero != first:
        raise ValueError(f"hidden {hidden.kind.name} layers have no shape at a symbolic layer l: "
                         f"on the input {first} one gives {at}, on that {again}")
