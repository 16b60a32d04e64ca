"""The section "For every size" of a network of layer kinds, as plain data.

The general theorem (``symbp.theorem(..., layers=(hidden, output))``) proves the recursion for
every depth and every size of a network whose layers 1..L-1 are all of one kind and layer L
of another, with the sizes of each layer (widths, channels, positions, kernel sizes) left as
symbols. A network fits when its hidden layers agree in everything but their sizes; it is
then covered when its program is, statement for statement, the recursion recorded for every
depth, at its depth (``proof.theorem.covers``). Anything else is said, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.derivation import Derivation
from ..core.layers import Layer, Resolved
from ..proof.theorem import covers, theorem
from .checks import established, title
from .general import GeneralClaim

SIZES = frozenset({"units", "channels", "kernel", "pool_size"})  # symbols in the theorem


@dataclass(frozen=True)
class KindsGeneral:
    hidden: str  # plain text: 'conv1d layers (padding "valid", pool "avg") with relu'
    output: str  # plain text
    cost: str  # plain text
    fits: str  # plain text: "" when the theorem takes this network's layers, else why not
    covers: str  # plain text: "" when this network's program is the theorem's instance
    status: str  # the theorem's status ("" when it was not run)
    claims: list[GeneralClaim]  # every claim but the theorem's own
    theorem: str  # LaTeX display: what is proved, "" when not run
    L: int


def _shape_of(layer: Layer) -> tuple[str, tuple]:
    """A layer without its sizes: what the theorem must find the same at every hidden layer."""
    return layer.kind, tuple((k, v) for k, v in layer.options if k not in SIZES)


def _words(r: Resolved, activation: str, many: bool) -> str:
    """The layer as the theorem takes it: its kind and its options but its sizes (symbols
    there), and its activation: 'conv1d layers (padding "valid", pool "avg") with relu'."""
    options = [f'{k} "{v}"' if isinstance(v, str) else f"{k} {str(v).lower()}"
               for k, v in r.layer.options if k not in SIZES | {"activation"}]
    shown = f" ({', '.join(options)})" if options else ""
    layers = f"{r.kind.name} layers" if many else f"a {r.kind.name} layer"
    return f"{layers}{shown} with {activation}"


def fit(d: Derivation) -> str:
    """"" when the theorem takes this network's layers as (hidden kind, output kind), else one
    line saying which layers differ."""
    mixing = [r.index for r in d.net.resolved[:-1]
              if not d.net.activation(r.index).elementwise]
    if mixing:  # at the output, the theorem takes softmax on a dense layer (or says why not)
        l = mixing[0]
        return (f"hidden layer {l} has the {d.net.activation(l).name} activation, which mixes "
                f"the entries of its layer, and the theorem for layer kinds takes elementwise "
                f"activations below the output only in this version of symbp")
    out = d.net.resolved[-1]
    if not d.net.activation(out.index).elementwise and out.kind.name != "dense":
        return (f"its output layer is {_described(d, out)}; the theorem for layer kinds takes "
                f"the {d.net.activation(out.index).name} activation on a dense output only")
    hidden = d.net.resolved[:-1]
    for r in hidden[1:]:
        if _shape_of(r.layer) != _shape_of(hidden[0].layer):
            return (f"its hidden layers differ in more than their sizes (layer "
                    f"{hidden[0].index} is {_described(d, hidden[0])}, layer {r.index} is "
                    f"{_described(d, r)})")
    return ""


def _described(d: Derivation, r: Resolved) -> str:
    return f"{r.kind.described(r.layer)} with {d.net.activation(r.index).name}"


def kinds_general(d: Derivation) -> KindsGeneral:
    """The section's data for ``d``'s layers, activations, cost and recursion function."""
    net = d.net
    out = net.resolved[-1]
    hidden = net.resolved[0] if net.L > 1 else out
    acts = (net.activation(hidden.index).name, net.activation(net.L).name)
    reason = fit(d)
    proof = None
    if not reason:
        try:
            proof = theorem(acts[0], net.cost, output=acts[1], recursion=d.recursion_function,
                            layers=(hidden.layer, out.layer))
        except ValueError as refused:
            reason = str(refused)
    claims = [] if proof is None else [
        GeneralClaim(c.label, c.latex, c.status, title(c.label), established(c.how))
        for c in proof.claims]
    return KindsGeneral(
        hidden=_words(hidden, acts[0], True), output=_words(out, acts[1], False), cost=net.cost,
        fits=reason,
        covers="" if proof is None else covers(d, layers=(hidden.layer, out.layer)),
        status="" if proof is None else proof.status,
        claims=[c for c in claims if c.name != "theorem"],
        theorem=next((c.statement for c in claims if c.name == "theorem"), ""), L=d.L)
