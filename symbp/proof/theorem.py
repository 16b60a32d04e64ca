"""The general theorem: for every depth L and all widths n_0..n_L, the δ recursion is the gradient.

For one activation and one cost, by induction over the layers from the output down:

1. **trace**: the recursion function (the one ``prove`` and the code generator run) is
   run on ``IndexOps`` at depths 1..``DEPTHS``; every layer of every trace is relabelled
   as the symbolic layer l, and its steps are grouped into the distinct generic steps
   it takes (for ``backprop_deltas``: one output step, one hidden step, one parameter
   step). This part is instantiated: the recursion is Python code, read by running it.
2. **lemmas**, each a symbolic identity in the widths and the layer (``general.check``,
   which also writes each one out at every width 1..4): base case δ^{(L)} = ∂C/∂z^{(L)},
   step δ^{(l)} = ∂C/∂z^{(l)} given δ^{(l+1)} = ∂C/∂z^{(l+1)}, and parameters
   ∂C/∂w^{(l)}_{jk} = δ^{(l)}_j a^{(l-1)}_k, ∂C/∂b^{(l)}_j = δ^{(l)}_j.
3. **function lemmas** (``registry_lemmas``): σ', the cost gradient, the softmax Jacobian.
4. **cross-check**: the per-network prover (``prove``, method local) on small networks
   with the same recursion.
5. **induction**: C depends on z^{(l)} only through z^{(l+1)}, and on W_l, b_l only
   through z_l, so the base case and the step give δ^{(l)} = ∂C/∂z^{(l)} for l = L..1,
   and the parameter lemmas the gradients. Proved when every claim above is.

For a network of layer kinds (``theorem(network=...)``), the same claims are made either
for every depth (its hidden layers alike and stacking: a family) or for the network's own
sequence of kinds at its depth K, every size symbolic (``core.generic_network``); then every
claim says "at depth K", and the cross-check is the per-network prover on the network itself.
"""

from __future__ import annotations

import copy
import hashlib
import time
from collections.abc import Callable

import sympy as sp

from ..core import registry
from ..core.deadline import check_seconds, stopping
from ..core.derivation import Derivation
from ..core.generic import DENSE, DEPTH, WIDTH, Concrete, Template, record_generic
from ..core.generic_network import theorem_layers
from ..core.layers import Layer as LayerSpec
from ..core.network import Network
from ..core.program import ProgramError, Size
from ..core.recorder import record
from ..core.recursion import RecursionFunction, backprop_deltas
from ..core.status import Status
from . import general, kept, row_softmax
from .claims import Claim, Proof, concluded, time_claim
from .cross_check import cross_check, dense_only
from .cross_check import cross_check_widths as cross_check_widths  # the second order's too
from .index_entries import softmax_unit
from .kinds_theorem import (
    at_its_layers,
    kinds_induction,
    kinds_meaning,
    scoped,
    templates_of,
)
from .registry_lemmas import function_claims
from .statements import lemma_statement
from .theorem_text import general_summary as general_summary  # kinds_second_theorem's import
from .traced import Group, trace

DEPTHS = 5  # the recursion is traced at depths 1..DEPTHS
LEMMAS = {"base": "base case", "step": "step", "W": "dC/dW_l", "b": "dC/db_l",
          "pass back": "pass back"}  # claim names


def entries(activation: str, cost: str, output: str | None = None):
    """Registry entries: hidden activation, output activation (the cost's, if any), cost."""
    hidden, cost_entry = registry.activation(activation), registry.cost(cost)
    out = registry.activation(output or cost_entry.output or activation)
    if cost_entry.output and out.name != cost_entry.output:
        raise ValueError(f"cost {cost!r} needs output activation {cost_entry.output!r}, "
                         f"got {out.name!r}")
    return hidden, out, cost_entry


def prove_theorem(activation: str = "generic", cost: str = "mse", *, output: str | None = None,
                  recursion: RecursionFunction = backprop_deltas, depths: int = DEPTHS,
                  timeout: float | None = None,
                  layers: tuple[LayerSpec, ...] | None = None,
                  depth: int | None = None, inputs: tuple[int, ...] | None = None) -> Proof:
    """The general theorem for ``activation`` (hidden layers), ``output`` and ``cost``, uncached;
    ``layers`` are the hidden layers' and the output layer's kinds (dense by default). With
    ``depth`` K, ``layers`` are one network's K layers (each with its own activation; the
    network's input shape ``inputs`` for the cross-check): the theorem at depth K, every size
    symbolic."""
    hidden, out, cost_entry = entries(activation, cost, output)
    templates = (DENSE, DENSE) if layers is None else templates_of(layers, hidden, out, depth)
    if not callable(recursion):
        raise ValueError(f"recursion must be a function of one RecursionOps, got {recursion!r}")
    if isinstance(depths, bool) or not isinstance(depths, int) or not 1 <= depths <= 12:
        raise ValueError(f"depths must be an integer from 1 to 12, got {depths!r}")
    timeout = check_seconds(timeout)
    start = time.perf_counter()
    claims: list[Claim] = []
    with stopping(timeout) as limit:
        claims += structural_claims(recursion, hidden, out, cost_entry, depths, templates,
                                    depth)
        acts = [hidden] if depth is None else \
            [registry.activation(dict(t.layer.options)["activation"]) for t in templates[:-1]]
        for act in dict.fromkeys(acts) or [hidden]:  # each σ's lemmas, each claim once
            claims += [c for c in function_claims(act, out, cost_entry)
                       if (c.name, c.statement) not in {(d.name, d.statement) for d in claims}]
        claims.append(cross_check(recursion, hidden, out, cost_entry, templates, depth,
                                  inputs))
    if limit.stopped:
        claims.append(time_claim("general", timeout))
    sequence = ", ".join(t.kind.name for t in templates)
    claims.append(scoped(induction(claims, depths, kinds=not dense_only(templates), depth=depth,
                                   sequence=sequence), templates, depth))
    name = getattr(recursion, "__name__", repr(recursion))
    if depth is not None:
        what = (f"depth {depth}, this network's sequence of kinds, every size: "
                f"layers={list(layers or ())!r}, cost={cost_entry.name!r}")
    else:
        kinds = "" if templates == (DENSE, DENSE) else \
            f", layers={templates[0].layer!r} then {templates[1].layer!r}"
        what = (f"every depth and width: activation={hidden.name!r}, "
                f"output={out.name!r}, cost={cost_entry.name!r}{kinds}")
    traced = f"traced at depths 1..{depths}" if depth is None else f"traced at depth {depth}"
    return Proof("general", claims, seconds=time.perf_counter() - start, network=what,
                 note=f"recursion {name}, {traced}")


# ---------------------------------------------------------------- the trace and its lemmas


def structural_claims(recursion: RecursionFunction, hidden, out, cost,
                      depths: int, templates: tuple[Template, ...] | None = None,
                      depth: int | None = None) -> list[Claim]:
    """The trace claim and one lemma claim per distinct generic step the recursion takes
    (at depth ``depth`` only, where ``templates`` are one network's layers)."""
    started = time.perf_counter()
    traced = trace(recursion, hidden, out, cost, depths, templates, depth)
    groups = traced.groups
    counts = "; ".join(
        f"{len(groups[kind])} distinct {label}" for kind, label in (
            ("base", "output steps"), ("step", "hidden steps"), ("W", "weight gradients"),
            ("b", "bias gradients")))
    status = Status.FAILED if traced.problems else traced.status
    claims = [Claim(
        "the recursion defines delta_l, dC/dW_l and dC/db_l exactly once at every layer "
        + (f"of depth {depth}" if depth is not None else "of every depth"
           if traced.status == Status.PROVED else f"at depths 1..{depths}"),
        r"\text{the recursion defines } \delta_l,\ \partial C/\partial W_l,\ "
        r"\partial C/\partial b_l \text{ once at every layer}",
        "general", status, f"{traced.how}: {counts}", name="trace",
        residual="; ".join(traced.problems)[:300], seconds=time.perf_counter() - started)]
    unit_out = None if out.elementwise else softmax_unit(out)
    unit_hidden = None if hidden.elementwise else softmax_unit(hidden)
    builders: dict[str, Callable[[sp.Expr], general.Identity]] = {
        "base": lambda e: general.base_case(e, out, cost, unit_out),
        "step": lambda e: general.step(e, hidden, unit_hidden),
        "W": lambda e: general.parameter(e, "W"),
        "b": lambda e: general.parameter(e, "b"),
    }
    written: dict = {}  # what the lemmas' instances write out, shared (``general.check``)
    for kind, groups_of_kind in groups.items():
        name = LEMMAS.get(kind, f"dC/d{kind}_l")
        build = builders.get(kind)
        for group in groups_of_kind.values():
            if group.identity is not None:  # a layer kind's: the identity came with the group
                claims.append(lemma_claim(name, group, _given(group.identity), written))
            elif build is not None:
                claims.append(lemma_claim(name, group, build, written))
    identities = [g.identity for table in groups.values() for g in table.values()
                  if g.identity is not None]
    claims += [row_softmax.jacobian_claim(causal) for causal in row_softmax.masks(identities)]
    if depth is not None:
        claims = [at_its_layers(c, depth) for c in claims]
    return claims


def _given(identity: general.Identity) -> Callable[[sp.Expr], general.Identity]:
    return lambda expr: identity


def lemma_claim(name: str, group: Group, build: Callable[[sp.Expr], general.Identity],
                written: dict | None = None) -> Claim:
    started = time.perf_counter()
    identity = None if group.expr is None else build(group.expr)
    text, tex, parameter = lemma_statement(name, group.expr,
                                           None if identity is None else identity.ranges)
    where = "; ".join(group.places[:3])
    more = "" if len(group.places) <= 3 else f"; and {len(group.places) - 3} more"
    traced = f"taken at {where}{more}"
    claim = Claim(text, tex, "general", "failed", traced, parameter=parameter, name=name,
                  residual=group.problem)
    if identity is not None:
        outcome = general.check(identity, written=written)
        claim.status, claim.how = outcome.status, f"{outcome.how}; {traced}"
        claim.residual, claim.entry = outcome.residual, outcome.entry
    claim.seconds = time.perf_counter() - started
    return claim


# ---------------------------------------------------------------- cross-check and induction


def induction(premises: list[Claim], depths: int, kinds: bool = False,
              depth: int | None = None, sequence: str = "") -> Claim:
    """The theorem itself: its status is the worst of its premises' (proved when all are)."""
    status, first = concluded(premises)
    traced = next((c for c in premises if c.name == "trace"), None)
    recorded = traced is not None and traced.status == Status.PROVED
    reach = ("the recursion recorded once for every depth and width" if recorded else
             f"the recursion's steps as traced at depths 1..{depths} (checked there only)")
    if depth is not None:
        reach = f"the recursion recorded once at depth {depth} with every size symbolic"
    if kinds or depth is not None:
        return kinds_induction(status, first, reach, depth, sequence)
    return Claim(
        "for every depth L and all widths n_0..n_L, the program of the recursion binds "
        f"delta_l = dC/dz_l and gives dC/dW_l, dC/db_l ({reach})",
        r"\forall L \ge 1,\ n_0, \dots, n_L \ge 1:\quad "
        r"\delta_l = \frac{\partial C}{\partial z_l},\quad "
        r"\frac{\partial C}{\partial W_l} = \delta_l\, a_{l-1}^{T},\quad "
        r"\frac{\partial C}{\partial b_l} = \delta_l \quad (l = 1, \dots, L)",
        "general", status,
        "induction over l from L down to 1: the base case gives l = L; the step gives l from "
        "l + 1, because C depends on z_l only through z_(l+1); the parameter lemmas give the "
        "gradients, because C depends on W_l and b_l only through z_l; the trace shows these "
        "are the only steps the program takes, each once per layer",
        name="theorem", culprit="" if first is None else first.label,
        residual="" if first is None else first.residual)


# ---------------------------------------------------------------- the public entry point

_CACHE: dict[tuple, Proof] = {}


def behaviour(recursion: RecursionFunction, templates: tuple[Template, ...] | None = None,
              depth: int | None = None) -> str:
    """What ``recursion`` does, as a fingerprint: its program recorded for every depth (on
    the theorem's layers, at ``depth`` for a network's own sequence), or, where it reads a
    concrete depth or width, its programs at depths 1..DEPTHS."""
    try:
        return "generic " + record_generic(recursion, templates, depth).fingerprint
    except Concrete:
        texts = []
        for depth in range(1, DEPTHS + 1):
            def width(m: int, depth: int = depth) -> Size:
                return Size(WIDTH[DEPTH - (depth - m)])

            try:
                program = record(recursion, depth, width)
                texts.append(program.text())
            except Exception as error:  # what it raises is part of what it does
                texts.append(f"{type(error).__name__}: {error}")
        return "depths " + hashlib.sha256("\n--\n".join(texts).encode()).hexdigest()[:16]


def theorem(activation: str = "generic", cost: str = "mse", *, output: str | None = None,
            recursion: RecursionFunction = backprop_deltas,
            timeout: float | None = None,
            layers: tuple[LayerSpec, LayerSpec] | None = None,
            network: Network | None = None) -> Proof:
    """Prove, for every depth L and all widths n_0..n_L, that ``recursion`` gives ∂C/∂W_l, ∂C/∂b_l.

    ``activation`` is that of the hidden layers; ``output`` that of layer L (by
    default the cost's own, softmax for ``softmax_ce``, else ``activation``). The
    result is a ``Proof`` of "general" claims, method "general": the trace of the
    recursion, the base case, step and parameter lemmas in index notation, the
    function lemmas, the per-network cross-checks and the induction itself.

    Results are kept per process, and between runs in the cache folder (``kept``), keyed on
    what the proof reads: the registry entries written out and what the recursion does
    (recorded afresh at every call, so a function whose behaviour changes is proved again),
    and for the folder this symbp's own text; a timed-out result is not kept. Each call
    returns its own copy.
    ``layers`` (a ``symbp.Layer`` for the hidden layers and one for the output
    layer) names their kinds; by default every layer is dense.

    ``network`` (a ``symbp.Network``, instead of the other arguments) proves the theorem for
    every size of that network's shape: for every depth when its hidden layers are alike
    and stack (the family above, with its activations and cost), else for its own sequence
    of kinds at its depth K, every size symbolic, and its claims say "at depth K".
    ValueError with the reason for a network neither takes (softmax below the output).
    """
    depth: int | None = None
    inputs: tuple[int, ...] | None = None
    if network is not None:
        given = [name for name, value in (("activation", activation != "generic"),
                                          ("cost", cost != "mse"), ("output", output),
                                          ("layers", layers)) if value]
        if given:
            raise ValueError(f"give network= or {given[0]}=, not both: a network names its "
                             "own layers, activations and cost")
        activation, output, cost, layers, depth, inputs = _of_network(network)
    hidden, out, cost_entry = entries(activation, cost, output)
    if not callable(recursion):
        raise ValueError(f"recursion must be a function of one RecursionOps, got {recursion!r}")
    entries_read = (hidden, out, cost_entry, registry.ACTIVATIONS["softmax"])
    key = (*entries_read, *(registry.meaning(e, 3) for e in entries_read), layers,
           kinds_meaning(layers), depth, inputs, getattr(recursion, "__name__", ""),
           behaviour(recursion, None if layers is None else templates_of(layers, hidden, out,
                                                                          depth), depth))
    if key not in _CACHE:
        text = kept.key_text(key, entries_read, layers)
        proof = kept.load(text)
        if proof is None:
            proof = prove_theorem(activation, cost, output=output, recursion=recursion,
                                  layers=layers, timeout=timeout, depth=depth, inputs=inputs)
            if proof.status == "timed out":
                return proof
            kept.keep(text, proof)
        _CACHE[key] = proof
    return copy.deepcopy(_CACHE[key])


def _of_network(net: Network) -> tuple:
    """(activation, output, cost, layers, depth, inputs) of the theorem for ``net``'s shape: a
    dense network of one hidden activation is the seed's theorem; any other, its layers as
    ``core.generic_network`` takes them."""
    hidden = dict.fromkeys(net.activations[:-1] or net.activations[:1])
    if net.dense and len(hidden) == 1:
        return next(iter(hidden)), net.activations[-1], net.cost, None, None, None
    shape = theorem_layers(net)
    acts = [dict(layer.options)["activation"] for layer in shape.layers]
    inputs = None if shape.depth is None else tuple(net.input_shape)
    return acts[0], acts[-1], net.cost, shape.layers, shape.depth, inputs


def covers(d: Derivation, layers: tuple[LayerSpec, ...] | None = None,
           depth: int | None = None) -> str:
    """"" when the general theorem speaks for ``d``'s program: it is, statement for statement,
    the instance at d's depth and widths of its recursion recorded for every depth (with
    ``layers`` as its hidden and output kinds), or recorded at ``depth`` for ``layers``, one
    per layer. Else one line saying why not."""
    recorded = "for every depth" if depth is None else f"at depth {depth}"
    try:
        templates = None if layers is None else templates_of(
            layers, d.net.activation(1), d.net.activation(d.L), depth)
        generic = record_generic(d.recursion_function, templates, depth)
        widths = d.net.widths
        instance = generic.instance(d.L, lambda m: widths[m], context=d.net.meaning())
    except (Concrete, ProgramError) as reason:
        return f"the recursion is not recorded {recorded}: {reason}"
    if instance.fingerprint != d.program.fingerprint:
        return (f"this network's program differs from the recursion recorded {recorded} "
                f"(program {d.program.fingerprint}, instance {instance.fingerprint})")
    return ""
