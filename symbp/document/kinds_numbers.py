"""The worked example of a network of layer kinds: one training example's numbers, exactly.

``LayerExample`` holds the input: x, y, each layer's parameters by name (a list of tables,
one per layer, each tensor in its own shape, as the generated module's ``params`` takes
them), the learning rate η and the digits to show. ``evaluate_layers`` runs the forward
pass through each kind's own maps (``core.layers.forward``, the maps the derivation is built
from), then the recursion's own trace (``d.recursion``: g_l where a skip binds it, δ_l,
every ∂C/∂θ_l) with these numbers substituted, and one step of gradient descent. Exact
rationals through every affine map; a value that is not rational carries ``PRECISION``
significant digits, as in ``document.numbers``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod

import sympy as sp

from ..core import layers
from ..core.derivation import Derivation, substitute_in_order
from ..core.layers import Resolved
from ..core.network import Network
from ..core.recursion import SymbolicOps
from .example import DIGITS, Example, as_lists, check_settings, example_fields, rational
from .numbers import evaluate, explicit
from .numbers import settle as settled

KEYS = ("x", "y", "params", "learning_rate", "digits")


@dataclass(frozen=True)
class LayerExample:
    """One training example for a network of layer kinds; numbers as given.

    ``params`` holds one dict per layer, ``{"W": [[...]], "b": [...], "P": ...}``, each
    parameter a nested list in its shape (a kernel of o × c × k as o lists of c lists of k
    numbers), or one number that every entry shares. ``x`` (and ``y``) is nested in the
    input's shape (channels × positions) or flat. Numbers read as in ``symbp.Example``.
    """

    x: list
    y: list
    params: list
    learning_rate: object = sp.Rational(1, 2)
    digits: int = DIGITS

    @classmethod
    def from_dict(cls, data: object) -> LayerExample:
        """A LayerExample from a dict with the keys x, y, params, learning_rate, digits."""
        if isinstance(data, LayerExample):
            return data
        return cls(**example_fields(data, KEYS, 3, "a dict",
                                    " for a network of layer kinds"))


@dataclass(frozen=True)
class ExactLayers:
    """A LayerExample checked against a network: flat Rationals, parameters as the
    derivation's matrices (first axis the rows, the others along the columns)."""

    x: list[sp.Expr]
    y: list[sp.Expr]
    params: list[dict[str, sp.Matrix]]
    learning_rate: sp.Rational
    digits: int


@dataclass(frozen=True)
class LayerNumbers:
    """Every value of one forward and backward pass; lists run over layers, layer 1 first.
    Tensors are flat lists in row-major order; parameters are matrices as in ExactLayers."""

    example: ExactLayers
    z: list[list[sp.Expr]]
    a: list[list[sp.Expr]]
    cost: sp.Expr
    delta: list[list[sp.Expr]]
    g: list[list[sp.Expr] | None]  # g_l = ∂C/∂a_l where the recursion binds it (a skip)
    grads: list[dict[str, sp.Matrix]]
    updated: list[dict[str, sp.Matrix]]
    state_grads: list[list[sp.Expr] | None] = field(default_factory=list)  # ∂C/∂s_l = ∂C/∂σ(z_l)
    # where δ_l reads itself through time (a recurrent layer): what σ' multiplies at each step


def check_layers(example: LayerExample | dict, resolved: list[Resolved]) -> ExactLayers:
    """The example in exact numbers, every shape checked; ValueError names the bad value."""
    ex = LayerExample.from_dict(example)
    eta = check_settings(ex.digits, ex.learning_rate)
    x = _tensor(ex.x, resolved[0].shape_in, "x")
    y = _tensor(ex.y, resolved[-1].shape_out, "y")
    given = as_lists(ex.params)
    L = len(resolved)
    if not isinstance(given, list) or len(given) != L:
        got = f"{len(given)}" if isinstance(given, list) else repr(given)
        raise ValueError(f"example: params must hold one table per layer, {L} in all; got {got}")
    return ExactLayers(x, y, [_layer_params(p, r) for p, r in zip(given, resolved)], eta,
                       ex.digits)


def _layer_params(given: object, r: Resolved) -> dict[str, sp.Matrix]:
    l, names = r.index, ", ".join(r.parameters)
    where = f"example: params[{l - 1}] (layer {l}, {r.kind.name})"
    if not isinstance(given, dict):
        raise ValueError(f"{where} must be a table of its parameters {names}; got {given!r:.60}")
    unknown = [k for k in given if k not in r.parameters]
    if unknown:
        raise ValueError(f"{where} has an unknown parameter {unknown[0]!r}; layer {l}'s "
                         f"parameters are {names}")
    missing = [k for k in r.parameters if k not in given]
    if missing:
        raise ValueError(f"{where} has no {missing[0]!r}; layer {l}'s parameters are {names}")
    found = {}
    for name, shape in r.parameters.items():
        entries = _tensor(given[name], shape, f"params[{l - 1}].{name} ({name}_{l})",
                          flat=False, shared=True)
        found[name] = sp.Matrix(shape[0], prod(shape[1:]), entries)
    return found


def _tensor(value: object, shape: tuple[int, ...], where: str, flat: bool = True,
            shared: bool = False) -> list[sp.Expr]:
    """The entries of a nested list shaped ``shape`` (or, with ``flat``, a flat list of as many
    entries; with ``shared``, one number for all), row-major, as Rationals."""
    value = as_lists(value)
    size = prod(shape)
    if shared and not isinstance(value, list):
        return [rational(value, where)] * size
    if flat and isinstance(value, list) and len(value) == size and len(shape) > 1 and \
            not any(isinstance(v, list) for v in value):
        return [rational(v, f"{where}[{i}]") for i, v in enumerate(value)]
    found = _shape_of(value)
    if found != shape:
        expected = f"shape {shape}" + (f" (or a flat list of {size})" if flat and len(shape) > 1
                                       else "")
        got = f"is {found}" if isinstance(found, str) else f"has shape {found}"
        raise ValueError(f"example: {where} {got}; expected {expected}")
    entries: list[sp.Expr] = []
    _flatten(value, where, entries)
    return entries


def _shape_of(value: object) -> tuple[int, ...] | str:
    """The shape of a regular nested list, or what it is instead: "ragged", "a number"."""
    if not isinstance(value, list):
        return "a number" if not isinstance(value, dict) else "a table"
    if not value:
        return (0,)
    inner = {_shape_of(v) for v in value}
    if len(inner) != 1:
        return "ragged"
    (one,) = inner
    if isinstance(one, str):
        return (len(value),) if one == "a number" else one
    return (len(value), *one)


def _flatten(value: object, where: str, into: list[sp.Expr]) -> None:
    if isinstance(value, list):
        for i, v in enumerate(value):
            _flatten(v, f"{where}[{i}]", into)
    else:
        into.append(rational(value, where))


# ---------------------------------------------------------------- the numbers


def _exact(value: object, where: str = "") -> sp.Expr:
    """The value as an exact expression (σ of rationals stays σ of rationals)."""
    return explicit(sp.sympify(value))


def forward_layers(d: Derivation, x: list[sp.Expr], params: list[dict[str, sp.Matrix]],
                   exact: bool = False, first: int = 1
                   ) -> tuple[list[list[sp.Expr]], list[list[sp.Expr]]]:
    """z_l and a_l for l = first..L, through each kind's maps, in numbers (``exact``: as exact
    expressions, else settled to rationals or 60 digits); x is the input of layer ``first``."""
    settle = _exact if exact else settled
    z, a, previous = [], [], x
    for r in d.net.resolved[first - 1:]:
        l, act = r.index, d.net.activation(r.index)
        if act.elementwise and act.formula is None:
            raise ValueError(f"layer {l} uses the {act.name} activation, which has no formula "
                             "to compute with; a worked example needs a concrete activation")

        def apply(values: list, act=act, l=l) -> list:
            return [settle(v, f"a_{l}") for v in act.apply(values)]

        z_l, a_l = layers.forward(r, previous, params[l - 1], apply)
        z.append([settle(v, f"z_{l}") for v in z_l])
        a.append([settle(v, f"a_{l}") for v in a_l])
        previous = a[-1]
    return z, a


def evaluate_layers(d: Derivation, example: LayerExample | dict,
                    exact: bool = False) -> LayerNumbers:
    """The worked example of ``d``: forward pass, cost, the recursion's δ and gradients, one
    step of gradient descent (``exact``: every value an exact expression, for checking)."""
    settle = _exact if exact else settled
    ex = check_layers(example, d.net.resolved)
    z, a = forward_layers(d, ex.x, ex.params, exact)
    cost = settle(d.net.cost_entry.formula(a[-1], ex.y), "the cost")
    values: dict[sp.Symbol, sp.Expr] = {**dict(zip(d.x, ex.x)), **dict(zip(d.y, ex.y))}
    for l in d.layers:
        for name, M in d.layer_parameters(l).items():
            values.update(zip(M, ex.params[l - 1][name]))
        values.update(zip(d.z_symbols(l), z[l - 1]))
        values.update(zip(d.a_symbols(l), a[l - 1]))
    trace = d.recursion

    def valued(M: sp.Matrix, what: str) -> sp.Matrix:
        found = M.xreplace(values)
        if found.free_symbols:  # a bug of the recursion's trace, never of the input
            raise RuntimeError(f"{what} kept the symbols {sorted(map(str, found.free_symbols))}")
        return found.applyfunc(lambda v: settle(v, what))

    delta: dict[int, sp.Matrix] = {}
    g: dict[int, sp.Matrix] = {}
    for l in range(d.L, 0, -1):  # g_l (where a skip binds it) before δ_l, which reads it
        if l in trace.grads:
            g[l] = valued(trace.grads[l], f"g_{l}")
            values.update(zip(d.grad_symbols(l), g[l]))
        own = list(d.delta_symbols(l))  # δ_l may read itself one step on (a scan): in order
        substitute_in_order(own, list(trace.deltas[l]), values)
        delta[l] = valued(sp.Matrix([values[s] for s in own]), f"delta_{l}")
        values.update(zip(own, delta[l]))
    grads = [{name: valued(trace.param_grads[(l, name)], f"dC/d{name}_{l}")
              for name in d.layer_parameters(l)} for l in d.layers]
    updated = [{name: M - ex.learning_rate * grads[l][name] for name, M in params.items()}
               for l, params in enumerate(ex.params)]
    state_grads = [None if r.maps.own_vjp is None else
                   list(valued(_state_gradient(d, r.index), f"dC/ds_{r.index}"))
                   for r in d.net.resolved]
    return LayerNumbers(ex, z, a, cost, [list(delta[l]) for l in d.layers],
                        [list(g[l]) if l in g else None for l in d.layers], grads, updated,
                        state_grads)


def _state_gradient(d: Derivation, l: int) -> sp.Matrix:
    """∂C/∂s_l in layered symbols: the value the recursion takes through σ' to bind δ_l (its
    program replayed on SymPy: bind_delta[l](activation_vjp[l](v)), v is it)."""
    statements = {s.target: s for s in d.program.statements if s.target}
    made = statements[d.program.deltas[l]]
    through = statements.get(made.args[0])
    if through is None or through.op != "activation_vjp":
        raise ValueError(f"the recursion binds delta_{l} otherwise than through sigma' "
                         "of a value: no dC/ds_{l} to show")
    return d.program.run(SymbolicOps(d))[through.args[0]]


# ---------------------------------------------------------------- either kind of network


def read_example(net: Network, data: object) -> Example | LayerExample:
    """The worked example a network takes: ``symbp.Example`` (weights, biases) for a network
    of dense layers, ``LayerExample`` (params) for one of layer kinds."""
    if isinstance(data, Example | LayerExample):
        return data
    return Example.from_dict(data) if net.dense else LayerExample.from_dict(data)


def check_example(d: Derivation, example: object) -> None:
    """Run the worked example, so that numbers the network cannot take fail (ValueError)
    before anything else is done."""
    if d.net.dense:
        evaluate(d, example)  # type: ignore[arg-type]  # read there
    else:
        evaluate_layers(d, example)  # type: ignore[arg-type]
