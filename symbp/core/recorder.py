"""Recording a recursion as a program: a ``Recorder`` is the ``RecursionOps`` that runs a
recursion function once and writes each call down as a ``Statement``, handing back a
``Ref`` (a name and a shape, nothing to mutate). ``record`` runs it for one network;
``core.generic`` records once for every depth. See ``program`` for what a program is.
"""

from __future__ import annotations

import numbers
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import sympy as sp

from .constants import exact, is_number, mask_rows
from .layers import dense
from .layers.base import Layer
from .program import (
    Program,
    ProgramError,
    Statement,
    as_size,
    same_shape,
    shape_text,
    size_of,
)


@dataclass(frozen=True, eq=False)
class Ref:
    """A value the recursion computed: a name in the program and a shape, nothing to mutate.

    ``2 * v``, ``v * 2``, ``-v``, ``u + v``, ``u - v`` and ``v * M`` (M a constant array of
    v's shape, entrywise) are recorded as statements of their own.
    """

    recorder: Recorder
    name: str
    shape: tuple[Any, Any]

    __array_ufunc__ = None  # NumPy arrays defer to __rmul__ instead of looping over a ref

    def __repr__(self) -> str:
        return f"<{self.name}: {self.shape[0]}×{self.shape[1]}>"

    def __mul__(self, other: Any) -> Ref:
        if isinstance(other, Ref):
            raise ProgramError(f"{self.name} * {other.name}: multiply values with ops.outer "
                               "or ops.activation_vjp; * takes a number or a constant array")
        if is_number(other):
            return self.recorder.scale(other, self)
        return self.recorder.mask(self, other)

    __rmul__ = __mul__

    def __neg__(self) -> Ref:
        return self.recorder.scale(-1, self)

    def __add__(self, other: Any) -> Ref:
        return self.recorder.add(self, other)

    def __sub__(self, other: Any) -> Ref:
        return self.recorder.add(self, self.recorder.scale(-1, other))

    def __radd__(self, other: Any) -> Ref:
        if isinstance(other, numbers.Number) and other == 0:  # sum([...]) starts from 0
            return self
        return self.recorder.add(self, other)


class Recorder:
    """``RecursionOps`` that records: every call appends a statement and returns a ``Ref``.

    ``width(l)`` is n_l (an int, or a symbolic size); ``L`` the depth. ``layers()`` gives
    L, L - 1, ..., 1, the order backpropagation visits them; ``layers_up()`` 1, ..., L.
    """

    def __init__(self, L: int, width: Callable[[Any], Any], name: str = "",
                 structure: Callable[[Any], Any] | None = None):
        self.L = L
        self._width = width
        self._structure = structure or (lambda l: _dense(l, width))
        self.name = name
        self.statements: list[Statement] = []
        self.deltas: dict[Any, str] = {}
        self.grads: dict[Any, str] = {}  # ∂C/∂a_l, where a layer binds it (a skip)
        self.weight: dict[Any, str] = {}
        self.bias: dict[Any, str] = {}
        self.param_grads: dict[tuple[Any, str], str] = {}  # (l, parameter) -> its gradient's name
        self._count = 0

    # ---- helpers

    def layers(self) -> Iterable[Any]:
        """The layers from the output down: L, L - 1, ..., 1."""
        return range(self.L, 0, -1)

    def layers_up(self) -> Iterable[Any]:
        """The layers from the input up: 1, 2, ..., L (a forward pass, as the R-operator's)."""
        return range(1, self.L + 1)

    def width(self, l: Any) -> Any:
        return self._width(l)

    def delta_name(self, l: Any) -> str:
        return f"delta{l}"

    def grad_name(self, l: Any) -> str:
        return f"g{l}"

    def kind(self, l: Any) -> Any:
        """Layer l's kind (``symbp.core.layers.Kind``): its step of the recursion."""
        return self._structure(self.check_layer(l, "kind")).kind

    def layer(self, l: Any) -> Any:
        """Layer l as given (``symbp.Layer``): its kind's options."""
        return self._structure(self.check_layer(l, "layer")).layer

    def structure(self, l: Any) -> Any:
        return self._structure(l)

    def tensor_size(self, l: Any, tensor: Any) -> Any:
        """The entries of one of layer l's tensors, at this recording's sizes."""
        sizes = self._structure(l).sizes
        total: Any = 1
        for axis in tensor.axes:
            total = total * size_of(sp.sympify(axis).xreplace(sizes))
        return as_size(total)

    def z_width(self, l: Any) -> Any:
        """The entries of z_l (and δ_l): n_l, unless a map after σ (pooling) changes the width."""
        structure = self._structure(l)
        if structure.maps.post is None:
            return self.width(l)
        return self.tensor_size(l, structure.maps.z)

    def param_shape(self, l: Any, tensor: Any) -> tuple[Any, Any]:
        """A parameter as the program holds it: (first axis, all others), a vector (n, 1)."""
        sizes = self._structure(l).sizes
        axes = [size_of(sp.sympify(a).xreplace(sizes)) for a in tensor.axes]
        rest: Any = 1
        for axis in axes[1:]:
            rest = rest * axis
        return (as_size(axes[0]), as_size(rest))

    def check_layer(self, l: Any, what: str, first: int = 1) -> Any:
        """``l`` as the program names it, if it is a layer from ``first`` to L."""
        if isinstance(l, bool) or not isinstance(l, int) or not first <= l <= self.L:
            raise ProgramError(f"{what}: layer {l!r} is not one of {first}..{self.L}")
        return operator.index(l)  # a plain int: a subclass could print itself into a name

    def _ref(self, value: Any, what: str) -> Ref:
        if not isinstance(value, Ref):
            raise ProgramError(f"{what} takes a value the recursion computed with ops (a Ref), "
                               f"got {type(value).__name__}")
        if value.recorder is not self:
            raise ProgramError(f"{what}: {value.name} was computed by another recording")
        return value

    def _vector(self, value: Any, l: Any, what: str, width: Any = None) -> Ref:
        ref = self._ref(value, what)
        want = (self.width(l) if width is None else width, 1)
        if not same_shape(ref.shape, want):
            raise ProgramError(f"{what}: {ref.name} has shape {shape_text(ref.shape)}, the "
                               f"layer needs {shape_text(want)}")
        return ref

    def emit(self, op: str, layer: Any, args: tuple[Ref, ...], shape: tuple[Any, Any],
             target: str | None = None, constant: Any = None) -> Ref:
        if target is None:
            self._count += 1
            target = f"t{self._count}"
        self.statements.append(Statement(target, op, layer, tuple(a.name for a in args),
                                         shape, constant))
        return Ref(self, target, shape)

    # ---- RecursionOps

    def cost_gradient(self) -> Ref:
        return self.emit("cost_gradient", None, (), (self.width(self.L), 1))

    def activation(self, l: Any) -> Ref:
        l = self.check_layer(l, "activation", first=0)
        return self.emit("activation", l, (), (self.width(l), 1))

    def activation_vjp(self, l: Any, v: Any) -> Ref:
        l = self.check_layer(l, "activation_vjp")
        v = self._vector(v, l, f"activation_vjp({l}, v)", self.z_width(l))
        return self.emit("activation_vjp", l, (v,), v.shape)

    def transpose_times(self, l: Any, v: Any) -> Ref:
        l = self.check_layer(l, "transpose_times")
        v = self._vector(v, l, f"transpose_times({l}, v) = W_{l}ᵀ v")
        return self.emit("transpose_times", l, (v,), (self.width(l - 1), 1))

    def times(self, l: Any, v: Any) -> Ref:
        l = self.check_layer(l, "times")
        v = self._vector(v, l - 1, f"times({l}, v) = W_{l} v")
        return self.emit("times", l, (v,), (self.width(l), 1))

    def state(self, l: Any) -> Ref:
        """σ(z_l), before any map after it: a recurrent layer's states at every step."""
        l = self.check_layer(l, "state")
        return self.emit("state", l, (), (self.z_width(l), 1))

    def outer(self, u: Any, v: Any) -> Ref:
        u, v = self._ref(u, "outer(u, v)"), self._ref(v, "outer(u, v)")
        for ref in (u, v):
            if not same_shape((ref.shape[1],), (1,)):
                raise ProgramError(f"outer(u, v) takes two vectors; {ref.name} has shape "
                                   f"{shape_text(ref.shape)}")
        return self.emit("outer", None, (u, v), (u.shape[0], v.shape[0]))

    def bind_delta(self, l: Any, value: Any) -> Ref:
        l = self.check_layer(l, "bind_delta")
        if l in self.deltas:
            raise ProgramError(f"the recursion binds delta_{l} twice; a program binds each "
                               "delta once (the code would use the first value)")
        v = self._vector(value, l, f"bind_delta({l}, value)", self.z_width(l))
        target = self.delta_name(l)
        self.deltas[l] = target
        return self.emit("bind_delta", l, (v,), v.shape, target=target)

    def gradient(self, l: Any, weight: Any, bias: Any, **others: Any) -> None:
        """∂C/∂W_l and ∂C/∂b_l, and any other parameter of the layer's kind by name."""
        l = self.check_layer(l, "gradient")
        if l in self.weight:
            raise ProgramError(f"the recursion gives the gradient of layer {l} twice; a "
                               "program gives each once")
        maps = self._structure(l).maps
        tensors = {p.name: p for p in maps.params}
        given = {"W": weight, "b": bias, **others}
        if set(given) != set(tensors):
            raise ProgramError(f"gradient({l}) gives {', '.join(given)}; layer {l}'s parameters "
                               f"are {', '.join(tensors)}")
        refs = []
        for name, value in given.items():
            ref = self._ref(value, f"gradient({l}): {name}")
            want = self.param_shape(l, tensors[name])
            if not same_shape(ref.shape, want):
                raise ProgramError(f"gradient({l}): the gradient of {name}_{l}, {ref.name}, has "
                                   f"shape {shape_text(ref.shape)}, {name}_{l} has "
                                   f"{shape_text(want)}")
            self.param_grads[(l, name)] = ref.name
            refs.append(ref)
        self.weight[l], self.bias[l] = refs[0].name, refs[1].name
        names = tuple(given) if others else None  # W, b alone: the statement as it always was
        self.emit("gradient", l, tuple(refs), (0, 0), target="", constant=names)

    def bind_grad(self, l: Any, value: Any) -> Ref:
        """Record g_l := ∂C/∂a_l, for a layer whose skip passes it back (once per layer)."""
        l = self.check_layer(l, "bind_grad")
        if l in self.grads:
            raise ProgramError(f"the recursion binds g_{l} twice; a program binds each once")
        v = self._vector(value, l, f"bind_grad({l}, value)")
        target = self.grad_name(l)
        self.grads[l] = target
        return self.emit("bind_grad", l, (v,), v.shape, target=target)

    def vjp(self, l: Any, which: str, *values: Any) -> Ref:
        """One of layer l's vector-Jacobian products, by the name its kind gives it (its
        maps: "input_vjp", "skip_vjp", a parameter's), on the values the map reads."""
        l = self.check_layer(l, "vjp")
        maps = dict(self._structure(l).maps.all())
        if which not in maps:
            raise ProgramError(f"vjp({l}, {which!r}): layer {l}'s kind has no map {which!r}; "
                               f"it has {', '.join(maps)}")
        m = maps[which]
        if len(values) != len(m.inputs):
            raise ProgramError(f"vjp({l}, {which!r}) reads {len(m.inputs)} values "
                               f"({', '.join(t.name for t in m.inputs)}), got {len(values)}")
        refs = []
        for tensor, value in zip(m.inputs, values):
            ref = self._ref(value, f"vjp({l}, {which!r}): {tensor.name}")
            want = (self.tensor_size(l, tensor), 1)
            if not same_shape(ref.shape, want):
                raise ProgramError(f"vjp({l}, {which!r}): {tensor.name} has "
                                   f"{shape_text(want)} entries, {ref.name} has "
                                   f"{shape_text(ref.shape)}")
            refs.append(ref)
        parameter = which in self._structure(l).maps.param_vjps and len(m.out.axes) > 1
        shape = self.param_shape(l, m.out) if parameter else (self.tensor_size(l, m.out), 1)
        return self.emit("vjp", l, tuple(refs), shape, constant=which)

    # ---- arithmetic on refs

    def scale(self, c: Any, v: Any) -> Ref:
        v = self._ref(v, "a scaled value")
        return self.emit("scale", None, (v,), v.shape, constant=exact(c, "a scale factor"))

    def add(self, u: Any, v: Any) -> Ref:
        u, v = self._ref(u, "u + v"), self._ref(v, "u + v")
        if not same_shape(u.shape, v.shape):
            raise ProgramError(f"{u.name} + {v.name}: shapes {shape_text(u.shape)} and "
                               f"{shape_text(v.shape)} differ")
        return self.emit("add", None, (u, v), u.shape)

    def mask(self, v: Any, mask: Any) -> Ref:
        v = self._ref(v, "v * M")
        rows = mask_rows(mask, v)
        return self.emit("mask", None, (v,), v.shape, constant=rows)

    def program(self, context: str = "") -> Program:
        return Program(tuple(self.statements), dict(self.deltas), dict(self.weight),
                       dict(self.bias), context=context, name=self.name,
                       grads=dict(self.grads), param_grads=dict(self.param_grads))


def _dense(l: Any, width: Callable[[Any], Any]) -> Any:
    """The structure of a dense layer, when a recorder is given none: its sizes are the
    widths (concrete or symbolic)."""
    layer = Layer("dense")
    sizes = {dense.N_IN: size_of(width(l - 1)), dense.N_OUT: size_of(width(l))}
    return _Structure(dense.KIND, layer, dense.maps(layer), sizes)


@dataclass(frozen=True)
class _Structure:
    kind: Any
    layer: Any
    maps: Any
    sizes: dict


def record(recursion: Callable[[Any], None], L: int, width: Callable[[Any], Any],
           context: str = "", structure: Callable[[Any], Any] | None = None) -> Program:
    """Run ``recursion`` once on a ``Recorder`` of depth ``L`` and return its program.

    ProgramError (a ValueError) when it breaks a rule of programs or calls an operation
    wrongly; any other exception it raises propagates unchanged.
    """
    name = getattr(recursion, "__name__", None)
    recorder = Recorder(L, width, name=name if isinstance(name, str) else type(recursion).__name__,
                        structure=structure)
    recursion(recorder)
    return recorder.program(context)
