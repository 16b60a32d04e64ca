"""The worked example of a network of layer kinds as plain data: LaTeX displays and worked.json.

The numbers come from ``kinds_numbers`` (exact where possible). A tensor with one axis is
shown as a column, one with two (channels × positions) with a row per channel, and a
parameter with three (a kernel, out-channels × in-channels × positions) with a row per
output channel and its other entries along the row, as the derivation's matrices hold it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from math import prod

import sympy as sp

from ..core.derivation import Derivation
from ..core.layers import Resolved
from ..printing.latex import Printer, aligned
from ..printing.width import width
from .kinds_checks import CheckPart, check_part
from .kinds_numbers import LayerExample, LayerNumbers, evaluate_layers
from .numbers import PRECISION, decimal_text
from .numbers import settle as settled
from .worked import _NUMBER_LIST, _matrix_rows, _Shower, worked_json


@dataclass(frozen=True)
class KindsWorked:
    """The worked example's displays: given values first, then per layer (layer 1 first)
    its forward numbers, its backward step's numbers and its updated parameters."""

    digits: int
    precision: int  # significant digits carried for values that are not rational
    given: str  # display: x, y and η
    eta: str  # LaTeX number: the learning rate
    parameters: str  # display: every parameter of every layer
    forward: list[str]  # display per layer: z_l and a_l
    cost: str  # display
    backward: list[str]  # display per layer: g_l where bound, δ_l, each parameter's gradient
    update: list[str]  # display per layer: its parameters after one step
    through_time: list[str]  # display per layer ("" for most): ‖∂C/∂s_t‖, ‖δ_t‖ by step
    check: CheckPart  # central differences against the recursion's gradients


def _name(r: Resolved, name: str) -> str:
    """A parameter's LaTeX name at its layer, under its kind's word (a kernel K for W)."""
    return f"{r.kind.words.get(name, name)}_{{{r.index}}}"


def _grid(values: list[sp.Expr], shape: tuple[int, ...]) -> sp.Matrix:
    """A flat tensor as the matrix it is shown as: a column for one axis, else a row for each
    entry of the first axis."""
    if len(shape) == 1:
        return sp.Matrix(values)
    return sp.Matrix(shape[0], prod(shape[1:]), values)


def kinds_worked(d: Derivation, P: Printer, example: LayerExample | dict) -> KindsWorked:
    """The worked example of ``d`` for ``example`` (ValueError for a bad example)."""
    n = evaluate_layers(d, example)
    ex = n.example
    show = _Shower(P, ex.digits)
    resolved = d.net.resolved

    def rows_of(lhs: str, M: sp.Matrix) -> tuple[str, str]:
        return lhs, show.matrix(M, budget=P.room(lhs))

    given = [f"x = {show.matrix(_grid(ex.x, resolved[0].shape_in))}",
             f"y = {show.matrix(_grid(ex.y, resolved[-1].shape_out))}",
             rf"\eta = {show.number(ex.learning_rate)}"]
    parameters = [rows_of(_name(r, name), M) for r in resolved
                  for name, M in ex.params[r.index - 1].items()]
    forward, backward, update = [], [], []
    for r in resolved:
        l, z_shape = r.index, r.maps.z.shape(r.sizes)
        forward.append(aligned([rows_of(f"z_{{{l}}}", _grid(n.z[l - 1], z_shape)),
                                rows_of(f"a_{{{l}}}", _grid(n.a[l - 1], r.shape_out))]))
        grads = [rows_of(rf"\frac{{\partial C}}{{\partial {_name(r, name)}}}", M)
                 for name, M in n.grads[l - 1].items()]
        g = n.g[l - 1]  # shown where a parameter's gradient reads it (a projection's)
        given_g = [] if g is None else [rows_of(f"g_{{{l}}}", _grid(g, r.shape_out))]
        backward.append(aligned([*given_g,
                                 rows_of(rf"\delta_{{{l}}}", _grid(n.delta[l - 1], z_shape)),
                                 *grads]))
        rows = []
        for name, M in n.updated[l - 1].items():  # M on a row of its own if it fits only there
            p = _name(r, name)
            rows += _matrix_rows(P, show, rf"{p}^{{\text{{new}}}}",
                                 rf"{p} - \eta\, \frac{{\partial C}}{{\partial {p}}}", M)
        update.append(aligned(rows))
    return KindsWorked(
        digits=ex.digits, precision=PRECISION,
        eta=show.number(ex.learning_rate),
        given=r", \qquad ".join(given) if width(", ".join(given)) < P.line else
        aligned([(g.split(" = ", 1)[0], g.split(" = ", 1)[1]) for g in given]),
        parameters=aligned(parameters), forward=forward,
        cost=f"C = {show.number(n.cost)}", backward=backward, update=update,
        through_time=[_through_time(r, n, show) for r in resolved],
        check=check_part(d, n, show, lambda l, name: _name(resolved[l - 1], name)))


def _through_time(r: Resolved, n: LayerNumbers, show: _Shower) -> str:
    """For a layer whose δ goes back through time: the norms of ∂C/∂s_t and δ_t at each step
    t = T, ..., 1 (columns of the H × T tensors), as a table; "" for any other layer."""
    found = n.state_grads[r.index - 1] if n.state_grads else None
    if found is None:
        return ""
    shape = r.maps.z.shape(r.sizes)
    l, steps = r.index, shape[-1]

    def norms(values: list[sp.Expr]) -> list[str]:
        grid = _grid(values, shape)
        return [show.number(settled(sp.sqrt(sum(v ** 2 for v in grid[:, t])), "a norm"))
                for t in reversed(range(steps))]

    rows = [("t", [str(t) for t in range(steps, 0, -1)]),
            (rf"\lVert \partial C / \partial s_{{{l},t}} \rVert", norms(found)),
            (rf"\lVert \delta_{{{l},t}} \rVert", norms(n.delta[l - 1]))]
    body = r" \\ ".join(" & ".join([lhs, *cells]) for lhs, cells in rows)
    return rf"\begin{{array}}{{r{'c' * steps}}} {body} \end{{array}}"


def layer_tables(d: Derivation, n: LayerNumbers, value) -> dict[str, object]:
    """The example's numbers as worked.json holds them for a network of layer kinds, each
    through ``value``: per layer, layer 1 first, each tensor nested in its own shape
    (parameters by name, as ``params`` takes them)."""

    def nested(values: list, shape: tuple[int, ...]) -> list:
        numbers = [value(v) for v in values]
        for size in reversed(shape[1:]):
            numbers = [numbers[i:i + size] for i in range(0, len(numbers), size)]
        return numbers

    def per_layer(tensors: list[list], shape_of) -> list:
        return [nested(list(t), shape_of(r)) for t, r in zip(tensors, d.net.resolved)]

    def parameters(found: list[dict[str, sp.Matrix]]) -> list[dict[str, list]]:
        return [{name: nested(list(M), r.parameters[name]) for name, M in p.items()}
                for p, r in zip(found, d.net.resolved)]

    def z_shape(r: Resolved) -> tuple[int, ...]:
        return r.maps.z.shape(r.sizes)

    return {"learning_rate": value(n.example.learning_rate), "cost": value(n.cost),
            "z": per_layer(n.z, z_shape), "a": per_layer(n.a, lambda r: r.shape_out),
            "delta": per_layer(n.delta, z_shape),
            "grad": parameters(n.grads), "updated": parameters(n.updated)}


def kinds_worked_json(d: Derivation, example: LayerExample | dict) -> str:
    """worked.json of a network of layer kinds: the numbers to the example's digits."""
    n: LayerNumbers = evaluate_layers(d, example)
    digits = n.example.digits
    data = {"digits": digits,
            **layer_tables(d, n, lambda v: float(decimal_text(v, digits)))}
    text = json.dumps(data, indent=2)
    return _NUMBER_LIST.sub(lambda m: "[" + " ".join(m.group(1).split()) + "]", text) + "\n"


def worked_file(d: Derivation, example: object) -> str:
    """worked.json for either kind of network."""
    if d.net.dense:
        return worked_json(d, example)  # type: ignore[arg-type]  # read there
    return kinds_worked_json(d, example)  # type: ignore[arg-type]
