"""The network description: its layers (widths and activations, or layer kinds), a cost.

``Network([2, 3, 3, 2], "sigmoid", "mse")`` is a chain of dense layers; ``Network(layers=
[...], inputs=4)`` a sequence of layers of any kind (``symbp.core.layers``). Validated here,
each layer against its kind before anything is built."""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence, Set

from . import layers as layers_module
from . import limits, registry

DEFAULT_WIDTHS = (2, 3, 3, 2)


NETWORK_KEYS = ("widths", "activation", "cost", "layers", "inputs")  # the constructor's, by name


class Network:
    """A network: widths n_0..n_L (every layer's output as a vector), activations σ_1..σ_L,
    a cost, and its layers.

    ``activation`` is one name for every layer or a list of L names. A cost that
    needs a particular output activation (``softmax_ce`` needs softmax) gets it
    in the output layer when a single name is given. With ``layers`` (``symbp.Layer``s,
    or tables with a "kind") and ``inputs`` (n_0, or the input's shape), the layers are
    of any kind; each layer's options name its activation.
    """

    __slots__ = ("activations", "cost", "input_shape", "layers", "resolved", "widths")

    def __init__(
        self,
        widths: Sequence[int] | None = None,
        activation: str | Sequence[str] = "sigmoid",
        cost: str = "mse",
        *,
        layers: Sequence[object] | None = None,
        inputs: int | Sequence[int] | None = None,
    ):
        cost_entry = registry.cost(cost)
        self.cost = cost_entry.name
        if layers is None:
            if inputs is not None:
                raise ValueError("inputs is given with layers; without layers, widths[0] is "
                                 "the input")
            self.widths = _check_widths(DEFAULT_WIDTHS if widths is None else widths)
            self.activations = _check_activations(activation, len(self.widths) - 1,
                                                  cost_entry)
            self.input_shape: tuple[int, ...] = (self.widths[0],)
            self.layers = tuple(layers_module.Layer("dense", units=n, activation=a)
                                for n, a in zip(self.widths[1:], self.activations))
        else:
            if widths is not None:
                raise ValueError("give widths or layers, not both")
            if activation != "sigmoid":  # not dropped in silence: each layer names its own
                name = activation if isinstance(activation, str) else "tanh"
                raise ValueError(f"activation {activation!r} is given with layers, where each "
                                 f"layer names its own: Layer('dense', units=3, activation="
                                 f"{name!r}), or dense:units=3;activation={name} on the "
                                 "command line")
            self.input_shape = _check_inputs(inputs)
            found = _check_layers(layers, self.input_shape)
            self.layers = tuple(r.layer for r in found)
            self.widths = (_size(self.input_shape), *(r.width for r in found))
            names = [r.maps.activation for r in found]
            for name in names:
                registry.activation(name)
            if cost_entry.output and names[-1] != cost_entry.output:
                raise ValueError(f"cost {cost!r} needs output activation "
                                 f"{cost_entry.output!r}, got {names[-1]!r} in layer "
                                 f"{len(names)}")
            self.activations = tuple(names)
            limits.check_layer_sizes(self.widths, [r.size for r in found],
                                     [r.kind.name for r in found])
        self.resolved = layers_module.resolve(self.layers, self.input_shape)
        n_out = self.widths[-1]
        if n_out < cost_entry.min_outputs:
            raise ValueError(
                f"cost {cost!r} needs at least {cost_entry.min_outputs} outputs, "
                f"got widths {list(self.widths)} with {n_out}"
            )
        for l, name in enumerate(self.activations, start=1):
            if not registry.ACTIVATIONS[name].elementwise and self.widths[l] < 2:
                raise ValueError(f"activation {name!r} in layer {l} needs at least 2 units")

    @property
    def L(self) -> int:
        """Number of layers with weights."""
        return len(self.widths) - 1

    @property
    def dense(self) -> bool:
        """Whether every layer is dense on vectors: the seed's network."""
        return all(layer.kind == "dense" for layer in self.layers) and \
            len(self.input_shape) == 1

    @property
    def kinds(self) -> tuple[str, ...]:
        """The kinds of the layers, each once, in order."""
        return tuple(dict.fromkeys(layer.kind for layer in self.layers))

    def activation(self, l: int) -> registry.Activation:
        """The registry entry of layer l (1-based)."""
        return registry.ACTIVATIONS[self.activations[l - 1]]

    @property
    def cost_entry(self) -> registry.Cost:
        return registry.COSTS[self.cost]

    @property
    def slug(self) -> str:
        """A folder name: default, or widths-activation-cost."""
        if self == Network():
            return "default"
        names = list(dict.fromkeys(self.activations))
        kinds = [] if self.dense else ["+".join(self.kinds)]
        return "-".join(["x".join(map(str, self.widths)), *kinds, "+".join(names), self.cost])

    def meaning(self) -> str:
        """The network and every registry entry it uses, written out: what a program's
        statements mean (part of its fingerprint)."""
        lines = [f"network widths={list(self.widths)} activations={list(self.activations)} "
                 f"cost={self.cost}"]
        if not self.dense:
            lines.append(f"layers={list(self.layers)} inputs={list(self.input_shape)}")
            for r in self.resolved:  # what each kind makes of its layer: its maps and forms
                text = layers_module.meaning(r)
                if text not in lines:
                    lines.append(text)
        for l, name in enumerate(self.activations, start=1):
            text = registry.meaning(registry.ACTIVATIONS[name], self.widths[l])
            if text not in lines:
                lines.append(text)
        lines.append(registry.meaning(self.cost_entry, self.widths[-1]))
        return "\n".join(lines)

    def _key(self) -> tuple:
        if self.dense:
            return (self.widths, self.activations, self.cost)
        return (self.layers, self.input_shape, self.cost)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Network) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        if not self.dense:
            inputs = self.input_shape[0] if len(self.input_shape) == 1 else list(
                self.input_shape)
            return f"Network(layers={list(self.layers)!r}, inputs={inputs!r}, cost={self.cost!r})"
        distinct = set(self.activations)
        act = self.activations[0] if len(distinct) == 1 else list(self.activations)
        return f"Network({list(self.widths)}, activation={act!r}, cost={self.cost!r})"


def _check_widths(widths: object) -> tuple[int, ...]:
    hint = "widths must be a list of at least 2 positive integers, like [2, 3, 3, 2]"
    if isinstance(widths, Set):
        raise ValueError(f"{hint}; got the set {_short(widths)}, which has no order")
    if not _is_sequence(widths):  # an iterator could be endless
        raise ValueError(f"{hint}; got {_short(widths)}")
    count = len(widths)  # type: ignore[arg-type]
    if count < 2:
        raise ValueError(f"{hint}; got {_short(list(widths))} with {count} entries")  # type: ignore[call-overload]
    limits.check_layers(count - 1)  # before reading the entries: range(10**9) ends here
    values = list(widths)  # type: ignore[call-overload]
    for n in values:
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"{hint}; got {n!r} in {_short(values)}")
    values = [int(n) for n in values]
    limits.check_network_size(values)
    return tuple(values)


def _is_sequence(value: object) -> bool:
    """A list, tuple, range or one-dimensional array: ordered and sized, not text or a mapping."""
    if isinstance(value, str | bytes | bytearray | Mapping):
        return False
    if isinstance(value, Sequence):
        return True
    shape = getattr(value, "shape", None)  # a NumPy array is not a registered Sequence
    return isinstance(shape, tuple) and len(shape) == 1


def _short(value: object, limit: int = 80) -> str:
    try:
        text = repr(value)
    except ValueError:  # an integer too long to print
        return f"a {type(value).__name__} with an integer of over 4,000 digits"
    return text if len(text) <= limit else text[: limit - 4] + " ..."


def _check_activations(
    activation: object, L: int, cost: registry.Cost
) -> tuple[str, ...]:
    if isinstance(activation, str):
        registry.activation(activation)
        names = [activation] * L
        if cost.output:
            names[-1] = cost.output
    elif isinstance(activation, Sequence) and not isinstance(activation, bytes):
        names = list(activation)
        if len(names) != L:
            raise ValueError(
                f"activation list has {len(names)} names but the network has {L} layers; "
                f"give one name or {L} names"
            )
        for name in names:
            registry.activation(name)
    else:
        raise ValueError(f"activation must be a name or a list of names; got {activation!r}")
    if cost.output and names[-1] != cost.output:
        raise ValueError(
            f"cost {cost.name!r} needs output activation {cost.output!r}, got {names[-1]!r}"
        )
    return tuple(names)


def _size(shape: tuple[int, ...]) -> int:
    total = 1
    for n in shape:
        total *= n
    return total


def _check_inputs(inputs: object) -> tuple[int, ...]:
    """n_0 as an int, or the input's shape (channels, positions) as a list."""
    hint = "inputs must be a positive integer (n_0) or a list of them (the input's shape)"
    if inputs is None:  # the usual slip, told in each of the three places it can be given
        raise ValueError("layers need inputs: the input's width n_0 or its shape [channels, "
                         "positions] (inputs=4 or inputs=[3, 4]; --inputs 4 or --inputs 3x4 "
                         "on the command line)")
    if isinstance(inputs, bool):
        raise ValueError(f"{hint}; got {inputs!r}")
    if isinstance(inputs, numbers.Integral):
        shape: tuple = (int(inputs),)
    elif _is_sequence(inputs) and len(inputs) in (1, 2):  # type: ignore[arg-type]
        shape = tuple(inputs)  # type: ignore[arg-type]
    else:
        raise ValueError(f"{hint}; got {_short(inputs)}")
    if not all(isinstance(n, numbers.Integral) and not isinstance(n, bool) and int(n) >= 1
               for n in shape):
        raise ValueError(f"{hint}; got {_short(inputs)}")
    limits.check_network_size([_size(shape)])
    return tuple(int(n) for n in shape)


def _check_layers(layers: object, shape: tuple[int, ...]) -> list:
    if isinstance(layers, str | bytes | Mapping) or not _is_sequence(layers):
        raise ValueError(f"layers must be a list of symbp.Layer or tables with a 'kind'; got "
                         f"{_short(layers)}")
    count = len(layers)  # type: ignore[arg-type]
    if count < 1:
        raise ValueError("layers is empty; give at least one layer")
    limits.check_layers(count)
    return layers_module.resolve(list(layers), shape)  # type: ignore[call-overload]
