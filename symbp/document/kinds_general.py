"""The section "For every size" of a network of layer kinds, as plain data.

The general theorem (``symbp.theorem(network=...)``) proves the recursion for every size of
the network's shape (``core.generic_network``): for every depth L when its layers 1..L-1 are
alike (one kind, the same options, any sizes) and stack, else for the network's own sequence
of kinds at its depth K. Either way every size of a layer (widths, channels, positions,
kernel sizes, steps) is a symbol. The network is covered when its program is, statement for
statement, the recursion so recorded, at its depth (``proof.theorem.covers``). Anything the
theorem does not take is said, with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..core.derivation import Derivation
from ..core.generic_network import SIZES, theorem_layers
from ..core.layers import Resolved
from ..proof.kinds_theorem import WHERE
from ..proof.theorem import covers, theorem
from .checks import established, title
from .general import GeneralClaim


@dataclass(frozen=True)
class KindsGeneral:
    hidden: str  # plain text: 'conv1d layers (padding "valid", pool "avg") with relu'
    output: str  # plain text
    cost: str  # plain text
    fits: str  # plain text: "" when the theorem takes this network, else why not
    covers: str  # plain text: "" when this network's program is the theorem's instance
    status: str  # the theorem's status ("" when it was not run)
    claims: list[GeneralClaim]  # every claim but the theorem's own
    theorem: str  # LaTeX display: what is proved, "" when not run
    L: int
    depth: int | None = None  # None: for every depth; K: this network's sequence at depth K
    layers: tuple[str, ...] = ()  # plain text, one per layer, where depth is K
    why: str = ""  # plain text: why it is proved as its own sequence, not as a family
    reach: str = ""  # plain text: "for every depth L and all widths", "at depth 3 (...)"


def _words(r: Resolved, activation: str, many: bool) -> str:
    """The layer as the theorem takes it: its kind and its options but its sizes (symbols
    there), and its activation: 'conv1d layers (padding "valid", pool "avg") with relu'."""
    options = [f'{k} "{v}"' if isinstance(v, str) else f"{k} {str(v).lower()}"
               for k, v in r.layer.options if k not in SIZES | {"activation"}]
    shown = f" ({', '.join(options)})" if options else ""
    layers = f"{r.kind.name} layers" if many else f"a {r.kind.name} layer"
    return f"{layers}{shown} with {activation}"


def fit(d: Derivation) -> str:
    """"" when the theorem takes this network's layers (as a family, or as its own sequence
    of kinds), else one line saying why not."""
    try:
        theorem_layers(d.net)
    except ValueError as refused:
        return str(refused)
    return ""


def kinds_general(d: Derivation) -> KindsGeneral:
    """The section's data for ``d``'s layers, activations, cost and recursion function."""
    net = d.net
    out = net.resolved[-1]
    hidden = net.resolved[0] if net.L > 1 else out
    acts = (net.activation(hidden.index).name, net.activation(net.L).name)
    proof, shape, reason = None, None, ""
    try:
        shape = theorem_layers(net)
        proof = theorem(network=net, recursion=d.recursion_function)
    except ValueError as refused:
        reason = str(refused)
    depth = None if shape is None else shape.depth
    claims = [] if proof is None else [
        GeneralClaim(c.label, c.latex, c.status,
                     title(c.label) + ("" if depth is None else _taken_at(c.how, d)),
                     established(c.how))
        for c in proof.claims]
    return KindsGeneral(
        hidden=_words(hidden, acts[0], True), output=_words(out, acts[1], False), cost=net.cost,
        fits=reason,
        covers="" if shape is None or proof is None else covers(d, shape.layers, depth),
        status="" if proof is None else proof.status,
        claims=[c for c in claims if c.name != "theorem"],
        theorem=next((c.statement for c in claims if c.name == "theorem"), ""), L=d.L,
        depth=depth,
        layers=() if depth is None else tuple(
            f"layer {r.index}: {_words(r, net.activation(r.index).name, False)}"
            for r in net.resolved),
        why="" if shape is None else shape.why,
        reach="" if shape is None else shape.reach + _where(proof))


_PLACE = re.compile(r"layer L(?: - (\d+))? \(L = (\d+)\)")  # as the trace logs a place


def _taken_at(how: str, d: Derivation) -> str:
    """", at layer 2 (residual)": where a lemma of the network's own sequence was taken, so
    that two lemmas of one name (a step through a residual and one through a dense layer)
    say which is which; "" for a claim the trace did not place."""
    places = how.split("taken at", 1)[1] if "taken at" in how else ""
    found = sorted({int(depth) - int(back or 0) for back, depth in _PLACE.findall(places)})
    if not found:
        return ""
    # mixed text: a kind's name in words, its underscores as spaces (as ``checks.title``)
    said = [f"{l} ({d.net.resolved[l - 1].kind.name.replace('_', ' ')})" for l in found]
    return f", at layer{'s' * (len(found) > 1)} {', '.join(said)}"


def _where(proof) -> str:
    """Where the theorem holds when less than everywhere (max pooling: where every window's
    maximum is unique), for the headline, as its claim says it; "" when everywhere."""
    said = "" if proof is None else next(
        (c.statement for c in proof.claims if c.name == "theorem"), "")
    return f" (where it holds: {said.split(WHERE, 1)[1]})" if WHERE in said else ""
