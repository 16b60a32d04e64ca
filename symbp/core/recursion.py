"""Backpropagation, written once against an array algebra, and that algebra on SymPy matrices.

``backprop_deltas`` is the δ recursion. It never touches SymPy or NumPy itself: it
calls the operations of ``RecursionOps``. It runs once per network, on a
``program.Recorder``, which records it as a ``Program`` (single assignment, in order);
``SymbolicOps`` replays that program on SymPy column vectors for the proof, and
``symbp.numeric.trace.CodeOps`` replays the *same program* on whole arrays to emit
NumPy, so the recursion the prover checks is the one that executes. A recursion of
your own (``derive(net, recursion=f)``) is any function of one ``RecursionOps`` argument
that binds every δ_l and gives every layer's gradient; a wrong one fails the proof and
gives wrong code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import sympy as sp

from . import layers
from .program import Program
from .symbols import NetworkSymbols


class RecursionOps(Protocol):
    """The array algebra a recursion runs on. Quantities are column vectors in the math's
    convention (one per sample); what a quantity *is* (SymPy matrix, matrix expression
    over arrays, index expression) is the implementation's business. While a recursion is
    recorded, each is a ``Ref``: a name, immutable. ``2 * v``, ``-v``, ``u + v``, ``u - v``
    and ``v * M`` (M a constant array of v's shape) are operations too."""

    L: int  # number of layers with weights

    def layers(self) -> Any:
        """L, L - 1, ..., 1: the layers in the order backpropagation visits them."""

    def layers_up(self) -> Any:
        """1, 2, ..., L: the layers in the order a forward pass visits them."""

    def kind(self, l: int) -> Any:
        """Layer l's kind (``symbp.core.layers.Kind``): its step of the recursion."""

    def layer(self, l: int) -> Any:
        """Layer l as given (``symbp.Layer``): its kind's options."""

    def bind_grad(self, l: int, value: Any) -> Any:
        """Record g_l := ∂C/∂a_l, for a layer whose skip passes it back (once per layer)."""

    def vjp(self, l: int, which: str, *values: Any) -> Any:
        """One of layer l's vector-Jacobian products by name, as its kind writes it."""

    def cost_gradient(self) -> Any:
        """∂C/∂a_L as a column."""

    def activation_vjp(self, l: int, v: Any) -> Any:
        """J_σ(z_l)ᵀ v: v ⊙ σ'(z_l) for an elementwise σ, the full Jacobian otherwise."""

    def transpose_times(self, l: int, v: Any) -> Any:
        """W_lᵀ v."""

    def times(self, l: int, v: Any) -> Any:
        """W_l v."""

    def activation(self, l: int) -> Any:
        """a_l (a_0 is x)."""

    def state(self, l: int) -> Any:
        """σ(z_l) before any map after it (a_l where there is none)."""

    def outer(self, u: Any, v: Any) -> Any:
        """u vᵀ."""

    def bind_delta(self, l: int, value: Any) -> Any:
        """Record δ_l := value; returns δ_l as a name to build on (once per layer)."""

    def gradient(self, l: int, weight: Any, bias: Any) -> None:
        """Record ∂C/∂W_l and ∂C/∂b_l (once per layer)."""


RecursionFunction = Callable[[RecursionOps], None]  # what derive(net, recursion=...) takes


def backprop_deltas(ops: RecursionOps) -> None:
    """Backpropagation, dynamic programming over the chain rule, from the output down.

    At every layer l, ∂C/∂a_l is the cost's gradient (l = L) or what layer l + 1 passes
    back of the quantities it bound; layer l's kind then binds δ_l (and what else it
    passes back), gives ∂C/∂θ_l, and so on down. For dense layers:

    δ_L = J_σ(z_L)ᵀ ∂C/∂a_L          (= ∂C/∂a_L ⊙ σ'(z_L) for an elementwise σ)
    δ_l = J_σ(z_l)ᵀ (W_{l+1}ᵀ δ_{l+1})  (= (W_{l+1}ᵀ δ_{l+1}) ⊙ σ'(z_l))
    ∂C/∂W_l = δ_l a_{l-1}ᵀ,   ∂C/∂b_l = δ_l
    """
    above = None  # what layer l + 1 bound: its δ, and for a residual block its ∂C/∂a
    for l in ops.layers():
        g = ops.cost_gradient() if above is None else ops.kind(l + 1).pass_back(ops, l + 1,
                                                                                 above)
        above = ops.kind(l).backward(ops, l, g)


@dataclass
class Recursion:
    """The trace of the recursion's program, replayed in layered symbols.

    ``deltas[l]`` defines δ_l in terms of δ_{l+1}'s symbols (one step each), so
    every step can be checked on its own; ``weight[l]``/``bias[l]`` are the
    parameter gradients in terms of δ_l's symbols.
    """

    deltas: dict[int, sp.Matrix] = field(default_factory=dict)
    weight: dict[int, sp.Matrix] = field(default_factory=dict)
    bias: dict[int, sp.Matrix] = field(default_factory=dict)
    grads: dict[int, sp.Matrix] = field(default_factory=dict)  # g_l = ∂C/∂a_l, where bound
    param_grads: dict[tuple[int, str], sp.Matrix] = field(default_factory=dict)  # every ∂C/∂θ_l


class SymbolicOps:
    """``RecursionOps`` on explicit SymPy column vectors in layered symbols: a program is
    replayed on it (``Program.run``), statement by statement."""

    def __init__(self, s: NetworkSymbols):
        self.symbols = s
        self.L = s.L
        self.trace = Recursion()

    def cost_gradient(self) -> sp.Matrix:
        s = self.symbols
        return sp.Matrix(s.net.cost_entry.gradient(list(s.a_symbols(s.L)), list(s.y)))

    def activation_vjp(self, l: int, v: sp.Matrix) -> sp.Matrix:
        s = self.symbols
        act = s.net.activation(l)
        z = list(s.z_symbols(l))
        if act.elementwise:  # diag(σ'(z)) v is the Hadamard product v ⊙ σ'(z)
            return sp.Matrix([vj * act.prime(zj) for vj, zj in zip(v, z)])
        return act.jacobian(z, list(s.a_symbols(l))).T * v

    def transpose_times(self, l: int, v: sp.Matrix) -> sp.Matrix:
        return self.symbols.weights(l).T * v

    def times(self, l: int, v: sp.Matrix) -> sp.Matrix:
        return self.symbols.weights(l) * v

    def activation(self, l: int) -> sp.Matrix:
        return self.symbols.a_symbols(l)

    def state(self, l: int) -> sp.Matrix:
        return sp.Matrix(self.symbols.net.activation(l).apply(list(self.symbols.z_symbols(l))))

    def outer(self, u: sp.Matrix, v: sp.Matrix) -> sp.Matrix:
        return u * v.T

    def bind_delta(self, l: int, value: sp.Matrix) -> sp.Matrix:
        self.trace.deltas[l] = value
        return self.symbols.delta_symbols(l)

    def gradient(self, l: int, weight: sp.Matrix, bias: sp.Matrix, **others: sp.Matrix) -> None:
        self.trace.weight[l] = weight
        self.trace.bias[l] = bias
        for name, value in {"W": weight, "b": bias, **others}.items():
            self.trace.param_grads[(l, name)] = value

    def bind_grad(self, l: int, value: sp.Matrix) -> sp.Matrix:
        self.trace.grads[l] = value
        return self.symbols.grad_symbols(l)

    def vjp(self, l: int, which: str, *values: sp.Matrix) -> sp.Matrix:
        """One of layer l's maps (its kind's formula) at this network's sizes."""
        r = self.symbols.net.resolved[l - 1]
        m = dict(r.maps.all())[which]
        params = self.symbols.layer_parameters(l)
        lookups: dict = {}
        for tensor, value in zip(m.inputs, values):
            shape = tensor.shape(r.sizes)
            lookups[tensor.name] = lambda i, v=value, shape=shape: v[layers.flat(i, shape)]
        for tensor in m.params:
            shape = tensor.shape(r.sizes)
            lookups[tensor.name] = lambda i, M=params[tensor.name], shape=shape: \
                M[layers.as_matrix_index(i, shape)]
        if m.own is not None:  # a scan: its own level one step on is the δ the layer binds,
            # as its bound symbols (one step of the recursion, as δ_l reads δ_(l+1)'s)
            own, own_shape = self.symbols.delta_symbols(l), m.own.shape(r.sizes)
            lookups[m.own.name] = lambda i: own[layers.flat(i, own_shape)]
        entries = m.entries(r.sizes, lookups)
        if which in r.maps.param_vjps and len(m.out.axes) > 1:  # a parameter's gradient
            return sp.Matrix(params[which].rows, params[which].cols, entries)
        return sp.Matrix(entries)

    def scale(self, c: sp.Rational, v: sp.Matrix) -> sp.Matrix:
        return c * v

    def add(self, u: sp.Matrix, v: sp.Matrix) -> sp.Matrix:
        return u + v

    def mask(self, v: sp.Matrix, rows: tuple) -> sp.Matrix:
        return v.multiply_elementwise(sp.Matrix(rows))


def run_recursion(s: NetworkSymbols, program: Program) -> Recursion:
    """Replay ``program`` on ``SymbolicOps`` and return its trace in layered symbols."""
    ops = SymbolicOps(s)
    program.run(ops)
    return ops.trace
