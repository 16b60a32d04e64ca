"""A layer kind with its options at no particular size, and the shapes of its tensors at a
symbolic layer: what the generic program (``core.generic``) is recorded for."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import sympy as sp

from .generic_layers import LAYER
from .layers import Kind, Maps
from .layers import Layer as LayerSpec
from .layers.symbolic import FAMILIES
from .layers.widen import widened


@dataclass(frozen=True)
class Template:
    """A kind of layer with its options, at no particular size: what the theorem is about."""

    kind: Kind
    layer: LayerSpec
    maps: Maps
    widened: dict[int, Maps] = field(default_factory=dict, compare=False, repr=False)  # its
    # maps on inputs of more axes, by rank, each widened once (``maps_on``)

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
        if rank not in template.widened:
            template.widened[rank] = widened(template.maps, rank)
        return template.widened[rank]
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


def reads(template: Template, e: sp.Expr, shape_in: tuple) -> tuple[sp.Expr, ...]:
    """The shape a layer at symbolic layer e reads: its x's axes at its sizes there. Most
    kinds read ``shape_in`` as given; a pooled same-padded conv1d reads q_e m_e positions."""
    maps = maps_on(template, len(shape_in))
    sizes = maps.symbolic(e, shape_in)
    return tuple(sp.expand(sp.sympify(a).xreplace(sizes)) for a in maps.x.axes)


def tie(read: tuple, given: tuple, ties: dict) -> dict:
    """``ties`` and the sizes that make the shape ``given`` by the layer below the shape
    ``read``: a free size there (m_(e-1)) becomes what the layer reads (q_e m_e). Taken from
    the top down, every length is then a product over the layers above, exactly the shapes a
    network can have. ValueError where a size that differs is not free."""
    found = dict(ties)
    for want, have in zip(read, given):
        want, have = sp.expand(want.xreplace(found)), sp.expand(have.xreplace(found))
        if want == have:
            continue
        if not (isinstance(have, sp.Indexed) and have.base in FAMILIES):
            raise ValueError(f"a layer reads {want} where the layer below gives {have}, which "
                             "no free size can be made")
        found = {k: sp.expand(v.xreplace({have: want})) for k, v in found.items()}
        found[have] = want
    return found


def check_reads(template: Template, e: sp.Expr, shape_in: tuple, where: str) -> None:
    """A layer of a theorem for every depth reads the shape below as it is; ValueError naming
    the lengths when it reads another (a pooled same-padded conv1d: q_l m_l)."""
    read = reads(template, e, shape_in)
    if tuple(sp.expand(a) for a in shape_in) != read:
        who = (f"hidden {template.kind.name} layers read" if where == "hidden" else
               f"the {where} {template.kind.name} layer reads")
        raise ValueError(f"{who} {shape_text(read)} where the layer below gives "
                         f"{shape_text(shape_in)}: the lengths are products over the layers "
                         "above, which one formula in l does not write; the theorem takes such "
                         "a network at its own depth (network=)")


def shape_text(shape: tuple) -> str:
    """A symbolic shape (or sizes) as plain text: (c_(l - 1), m_l*q_l)."""
    def subscript(m: re.Match) -> str:
        return f"{m[1]}_({m[2]})" if " " in m[2] else f"{m[1]}_{m[2]}"

    return "(" + ", ".join(re.sub(r"(\w+)\[([^\]]+)\]", subscript, str(a)) for a in shape) + ")"


def check_shapes(hidden: Template, first: tuple) -> None:
    """The hidden layers' shapes are one formula in l: a hidden layer on the shape the one below
    gives has the shape it has on the input's (each size free at l or the input's), and the
    input is that shape at l = 0; and it reads that shape as it is (``check_reads``).
    ValueError otherwise: no symbolic shape fits every layer."""
    at = output_shape(hidden, LAYER, first)
    below = output_shape(hidden, LAYER - 1, first)
    again = output_shape(hidden, LAYER, below)
    zero = tuple(sp.sympify(a).xreplace({LAYER: 0}) for a in at)
    if again != at or zero != first:
        raise ValueError(f"hidden {hidden.kind.name} layers have no shape at a symbolic layer l: "
                         f"on the input {first} one gives {at}, on that {again}")
    check_reads(hidden, LAYER, below, "hidden")
