"""The general theorem's parts for layer kinds: the layers it is recorded for, the networks it
is cross-checked on, and the theorem's own claim.

Two shapes of theorem (``core.generic_network``): a family, hidden layers of one kind under an
output layer's kind, for every depth L; or one network's own sequence of K layers at depth K,
every size symbolic. The lemmas are the same machinery for both; what differs is what the
claims may say: "for every depth" for a family only, "at depth K" for a sequence.
"""

from __future__ import annotations

import hashlib
import inspect
from typing import Any

import sympy as sp

from ..core.generic import DEPTH, Explorer, GenericRecorder, Template
from ..core.generic_shapes import shape_text
from ..core.layers import Layer as LayerSpec
from ..core.layers import resolve
from ..core.network import Network
from ..core.status import Status
from .claims import Claim

POSITIONS = 6  # the input's positions in a cross-check network of a kind over positions
WHERE = "; where it holds: "  # the theorem's claim, less than everywhere (max pooling)


def templates_of(layers: tuple[LayerSpec, ...], hidden, out,
                 depth: int | None) -> tuple[Template, ...]:
    """A family's (hidden, output) kinds with the theorem's activations, or a sequence's K
    layers with their own (ValueError when a family's layer names another activation)."""
    if depth is not None:
        if len(layers) != depth:
            raise ValueError(f"a theorem at depth {depth} takes {depth} layers, "
                             f"got {len(layers)}")
        missing = [i for i, layer in enumerate(layers, 1)
                   if "activation" not in dict(layer.options)]
        if missing:
            raise ValueError(f"layer {missing[0]} names no activation; a theorem at one depth "
                             "takes each layer's own")
        return tuple(Template.of(layer) for layer in layers)
    made = []
    for layer, act, given in zip(layers, (hidden, out), ("activation", "output")):
        stated = layer.get("activation", act.name)
        if stated != act.name:  # the theorem's activations are its arguments: say so
            raise ValueError(f"the {layer.kind} layer's activation {stated!r} is not the "
                             f"theorem's {given} {act.name!r}; give it as {given}={stated!r}")
        spec = LayerSpec(layer.kind, {**dict(layer.options), "activation": act.name})
        made.append(Template.of(spec))
    return made[0], made[1]


def family_network(widths: list[int], hidden, out, cost,
                   templates: tuple[Template, ...]) -> Network:
    """A small network of a family's kinds: its hidden layers' kind (at the width given, or at
    its input's where the kind keeps the width), then its output layer's."""
    L = len(widths) - 1
    # a kind over positions (conv1d) needs some: POSITIONS of them (or its own number), the
    # channels the width
    over_positions = any(t.kind.sized is not None for t in templates)
    positions = min(t.kind.positions or POSITIONS for t in templates)
    shape_in: tuple[int, ...] = (widths[0], positions) if over_positions else (widths[0],)
    widths = [max(n, (templates[1] if l == L - 1 else templates[0]).kind.smallest_input)
              if l < L else n for l, n in enumerate(widths)]  # what each layer reads, enough
    shape_in = (widths[0], *shape_in[1:])
    layers: list[LayerSpec] = []
    shape = shape_in
    for l in range(1, L + 1):
        template, act = (templates[1], out) if l == L else (templates[0], hidden)
        options = {**dict(template.layer.options), "activation": act.name}
        layer = sized_layer(template.kind, LayerSpec(template.kind.name, options),
                            template.maps.keeps_width, widths[l], shape)
        layers.append(layer)
        shape = resolve([layer], shape)[0].shape_out  # what the next layer reads
    return Network(layers=layers, inputs=list(shape_in), cost=cost.name)


def sized_layer(kind: Any, spec: LayerSpec, keeps_width: bool, width: int,
                shape: tuple[int, ...]) -> LayerSpec:
    """``spec`` at ``width`` on an input of ``shape``: its kind's own sizing (a kind over
    positions), else its units (none where the kind keeps its input's width)."""
    if kind.sized is not None:
        return kind.sized(spec, width, shape)
    options = dict(spec.options)
    if keeps_width:
        options.pop("units", None)
    else:
        options["units"] = width
    return LayerSpec(spec.kind, options)


def at_its_layers(claim: Claim, depth: int) -> Claim:
    """A lemma of a sequence says where it holds: at the layers it is taken at, not "every
    layer" (its text is the family's)."""
    where = f"at the layers l where it is taken (depth {depth})"
    for family, said in (("for every layer l below L and widths", "for all widths"),
                         ("for every layer l and widths", "for all widths"),
                         ("for every layer l and width", "for every width")):
        claim.statement = claim.statement.replace(family, f"{where}, {said}")
    return claim


def kinds_induction(status: Status, first: Claim | None, reach: str,
                    depth: int | None, sequence: str) -> Claim:
    """The theorem's own claim for layer kinds: for every depth (a family) or at depth K."""
    if depth is None:
        text = ("for every depth L and all widths n_0..n_L the layers' kinds allow, the program "
                "of the recursion binds g_l = dC/da_l where a layer passes it back, "
                f"delta_l = dC/dz_l, and gives dC/dθ_l for every parameter θ of every layer "
                f"({reach})")
        tex = (r"\begin{gathered}\forall L \ge 1 \text{ and all sizes},\ l = 1, \dots, L: \\ "
               r"\delta_l = \frac{\partial C}{\partial z_l} \text{ and the recursion's gradient "
               r"of every parameter } \theta_l \text{ is } \frac{\partial C}{\partial \theta_l}"
               r"\end{gathered}")
        down = "over l from L down to 1"
    else:
        text = (f"at depth {depth} (this network's sequence of kinds: {sequence}), for every "
                "size, the program of the recursion binds g_l = dC/da_l where a layer passes it "
                "back, delta_l = dC/dz_l, and gives dC/dθ_l for every parameter θ of every "
                f"layer l = 1..{depth} ({reach})")
        tex = (rf"\begin{{gathered}}L = {depth} \text{{ (this network's kinds), all sizes}},\ "
               rf"l = 1, \dots, {depth}: \\ "
               r"\delta_l = \frac{\partial C}{\partial z_l} \text{ and the recursion's gradient "
               r"of every parameter } \theta_l \text{ is } \frac{\partial C}{\partial \theta_l}"
               r"\end{gathered}")
        down = f"over its layers from {depth} down to 1"
    return Claim(
        text, tex, "general", status,
        f"induction {down}: the base case gives layer L; the pass-back "
        "lemma gives dC/da_l from layer l + 1's δ (and g), because C depends on a_l only "
        "through layer l + 1 (its map and its skip); the step gives δ_l from dC/da_l (in a "
        "layer whose map reads its own state one step back, a recurrent layer, also from "
        "δ_l at the next step: induction over the steps from the last, for every number of "
        "steps); the parameter lemmas give the gradients, because C depends on θ_l only "
        "through layer l's output (one step at a time); the trace shows these are the "
        "only steps the program takes, each once per layer",
        name="theorem", culprit="" if first is None else first.label,
        residual="" if first is None else first.residual)


def scoped(claim: Claim, templates: tuple[Template, ...], depth: int | None) -> Claim:
    """The theorem's claim, saying the sizes it ties (a pooled same-padded conv1d reads q_l m_l
    positions: the only lengths below it) and where it holds when a kind holds less than
    everywhere (max pooling: where every window's maximum is unique)."""
    if depth is not None:
        at_depth = {DEPTH: depth}  # the layers' own numbers 0..K, as the claim counts them
        ties = {k.xreplace(at_depth): v.xreplace(at_depth) for k, v in
                GenericRecorder(Explorer([], depth), "", templates, depth).ties.items()}
        if ties:
            said = ", ".join(f"{shape_text((k,))[1:-1]} = {shape_text((v,))[1:-1]}"
                             for k, v in sorted(ties.items(), key=lambda kv: sp.default_sort_key(
                                 kv[0]), reverse=True))
            claim.statement = claim.statement.replace(
                "for every size,", f"for every size (the lengths the layers read: {said}),", 1)
    names = ([f"{m}" for m in range(1, len(templates) + 1)] if depth is not None
             else ["the hidden layers", "the output layer"])
    where: dict[str, list[str]] = {}  # what a kind says -> the layers it says it of
    for name, t in zip(names, templates):
        if t.kind.holds_where is not None and (text := t.kind.holds_where(t.layer)):
            where.setdefault(text, []).append(name)
    scopes = [(f"layer{'s' * (len(said) > 1)} {', '.join(said)}" if depth is not None
               else " and ".join(said)) + f": {text}" for text, said in where.items()]
    if scopes:
        claim.statement += WHERE + "; ".join(scopes)
        short = "; ".join(scope.split(";")[0] for scope in scopes)  # each kind's first clause
        claim.latex = claim.latex.replace(r"\end{gathered}",
                                          rf" \\ \text{{{short}}}\end{{gathered}}")
    return claim


def kinds_meaning(layers: tuple[LayerSpec, ...] | None) -> tuple[str, ...]:
    """What the layers' kinds compute, as text of every map's formula and their steps of the
    recursion: a kind registered again under the same name with other maps or another
    backward step is another key of the cache."""
    if layers is None:
        return ()
    templates = [Template.of(layer) for layer in layers]
    steps = tuple(f"{_code(t.kind.backward)}, {_code(t.kind.pass_back)}" for t in templates)
    return (*steps, *(sp.srepr(m.formula) for t in templates for _, m in t.maps.all()))


def _code(function: Any) -> str:
    """A function as text the same in every process: its qualified name and a digest of its
    source; its repr (with its address) where the source cannot be read."""
    try:
        source = inspect.getsource(function)
    except (OSError, TypeError):
        return repr(function)
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    return f"{function.__module__}.{function.__qualname__} {digest}"
