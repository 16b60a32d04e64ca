"""The network description: widths, one activation per layer, a cost. Validated here."""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence, Set

from . import limits, registry

DEFAULT_WIDTHS = (2, 3, 3, 2)


NETWORK_KEYS = ("widths", "activation", "cost")  # the constructor's arguments, by name


class Network:
    """A fully connected network: widths n_0..n_L, activations σ_1..σ_L, a cost.

    ``activation`` is one name for every layer or a list of L names. A cost that
    needs a particular output activation (``softmax_ce`` needs softmax) gets it
    in the output layer when a single name is given.
    """

    __slots__ = ("activations", "cost", "widths")

    def __init__(
        self,
        widths: Sequence[int] = DEFAULT_WIDTHS,
        activation: str | Sequence[str] = "sigmoid",
        cost: str = "mse",
    ):
        self.widths = _check_widths(widths)
        cost_entry = registry.cost(cost)
        self.cost = cost_entry.name
        self.activations = _check_activations(activation, len(self.widths) - 1, cost_entry)
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
        return "-".join(["x".join(map(str, self.widths)), "+".join(names), self.cost])

    def meaning(self) -> str:
        """The network and every registry entry it uses, written out: what a program's
        statements mean (part of its fingerprint)."""
        lines = [f"network widths={list(self.widths)} activations={list(self.activations)} "
                 f"cost={self.cost}"]
        for l, name in enumerate(self.activations, start=1):
            text = registry.meaning(registry.ACTIVATIONS[name], self.widths[l])
            if text not in lines:
                lines.append(text)
        lines.append(registry.meaning(self.cost_entry, self.widths[-1]))
        return "\n".join(lines)

    def _key(self) -> tuple:
        return (self.widths, self.activations, self.cost)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Network) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
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
