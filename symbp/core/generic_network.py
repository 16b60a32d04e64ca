"""A network's layers as the general theorem takes them: a family for every depth, or the
network's own sequence of kinds at its depth.

The theorem records the recursion once with every size symbolic (``core.generic``). For a
network whose hidden layers are alike (one kind, the same options and activation, any sizes)
and stack (a hidden layer reads what one like it gives), it records the family: those hidden
layers at 1..L - 1 under the output layer's kind, for every depth L. Any other network (layers
of different kinds or options, a hidden kind whose output does not feed another like it, as a
recurrent layer giving its last state) is recorded as itself: its K layers at depth K, every
size symbolic. What neither can take (softmax below the output or on an output of channels)
is refused with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from .generic import GenericRecorder, Template
from .generic_layers import Explorer
from .layers import Layer
from .network import Network

SIZES = frozenset({"units", "channels", "kernel", "pool_size"})  # symbols in the theorem


@dataclass(frozen=True)
class TheoremLayers:
    """The layers of a theorem: (hidden, output) for every depth (``depth`` None), or one per
    layer of a network of depth ``depth``; each with its activation among its options."""

    layers: tuple[Layer, ...]
    depth: int | None
    why: str = ""  # plain text: why a network is proved as its own sequence, not as a family

    @property
    def reach(self) -> str:
        """What the theorem is about, in the words its claims use."""
        if self.depth is None:
            return "for every depth L and all widths"
        return f"at depth {self.depth} (this network's sequence of kinds), for every size"


def without_sizes(layer: Layer) -> tuple[str, tuple]:
    """A layer without its sizes: what must be the same at every hidden layer of a family."""
    return layer.kind, tuple((k, v) for k, v in layer.options if k not in SIZES)


def refusal(net: Network) -> str:
    """Why the theorem for layer kinds does not take ``net``'s activations ("" when it does)."""
    mixing = [l for l in range(1, net.L) if not net.activation(l).elementwise]
    if mixing:
        l = mixing[0]
        return (f"hidden layer {l} has the {net.activation(l).name} activation, which mixes "
                f"the entries of its layer, and the theorem for layer kinds takes elementwise "
                f"activations below the output only in this version of symbp")
    out = net.resolved[-1]
    if not net.activation(net.L).elementwise and out.kind.name != "dense":
        return (f"its output layer is {out.kind.described(out.layer)} with "
                f"{net.activation(net.L).name}; the theorem for layer kinds takes the "
                f"{net.activation(net.L).name} activation on a dense output only")
    return ""


def theorem_layers(net: Network) -> TheoremLayers:
    """``net``'s layers as the theorem takes them: the family when its hidden layers are alike
    and stack, else its own sequence at its depth. ValueError with the reason when neither
    takes them."""
    reason = refusal(net)
    if reason:
        raise ValueError(reason)
    specs = tuple(Layer(r.layer.kind, {**dict(r.layer.options),
                                       "activation": net.activations[r.index - 1]})
                  for r in net.resolved)
    hidden = specs[:-1] or specs[-1:]
    other = next((l for l, h in enumerate(hidden, 1)
                  if without_sizes(h) != without_sizes(hidden[0])), None)
    if other is None:
        family = (hidden[0], specs[-1])
        try:
            GenericRecorder(Explorer([]), "", tuple(Template.of(s) for s in family))
        except ValueError as error:  # alike, but they do not stack: the network's own sequence
            why = f"its hidden layers are alike but do not stack: {error}"
        else:
            return TheoremLayers(family, None)
    else:
        why = (f"its hidden layers differ in more than their sizes (layer 1 is "
               f"{_described(net, 1)}, layer {other} is {_described(net, other)})")
    K = len(specs)
    GenericRecorder(Explorer([], K), "", tuple(Template.of(s) for s in specs), K)  # or why not
    return TheoremLayers(specs, K, why)


def _described(net: Network, l: int) -> str:
    r = net.resolved[l - 1]
    return f"{r.kind.described(r.layer)} with {net.activation(l).name}"
