"""The document of a network with layer kinds (residual, conv1d, ... beside dense) as plain data.

The seed's document (``build``) is written for dense layers, z = W a + b, throughout: its paths
of influence, its tree of dependencies, its counts and its theorem. A network with other kinds
gets this document instead: each layer as its kind states it, in vector notation (the kind's
``latex``) and entry by entry, printed from the kind's own maps with this layer's sizes, so the
formulas cannot disagree with what was proved; the backward pass as the δ step of each kind;
the gradient of every parameter (W, b, a projection P, a kernel K); the paths of influence, the
products the δ recursion saves over them and the expression swell of networks like this one,
counted on the network's own graph of dependencies; the proof and the update rules.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import sympy as sp

from ..core.derivation import Derivation
from ..printing import forms
from ..printing.latex import Printer
from ..proof.prove import Proof, scopes
from ..proof.vector_forms import vector_claim_name
from .build import Activation, Document, _activations, _and, _cost, build, check_subject
from .example import Example as WorkedExample
from .kinds_figure import KindsGraphPart, kinds_graph_part
from .kinds_general import KindsGeneral, kinds_general
from .kinds_layer import (
    KindLayer,
    _count,
    _entries,
    _entry,
    _layer,
    _map_tensors,
    _param_name,
    _rows,
    _shape,
    _vector,
)
from .kinds_numbers import LayerExample
from .kinds_paths import entry_paths
from .kinds_swell import KindsSwellPart, WorkRow, kinds_swell_part, kinds_swell_rows, work_rows
from .kinds_worked import KindsWorked, kinds_worked
from .proof import ProofPart, proof_part
from .text import rich


@dataclass(frozen=True)
class PathRow:
    """The first entry of one parameter: the entries it enters and its paths to C (counted by
    ``kinds_paths``)."""

    l: int
    entry: str  # LaTeX: K^{(1)}_{1,1,1}
    enters: int
    paths: int


@dataclass(frozen=True)
class KindsDocument:
    title: str  # plain text
    subject: str  # plain text
    kinds: str  # plain text: "residual and dense"
    L: int
    parameters: int  # number of scalar parameters
    input_shape: str  # LaTeX
    input_axes: tuple[str, ...]  # plain text: what one entry along each axis of the input is
    # (("feature", "sample")), as the first layer's kind says; (): the general words
    layers: list[KindLayer]
    activations: list[Activation]
    cost: str  # registry name
    cost_summary: list[tuple[bool, str]]  # rich text
    cost_general: str  # LaTeX
    cost_explicit: str  # LaTeX display
    output: str  # LaTeX: a_{L}
    recursion: str  # LaTeX display, aligned: the whole backward pass of this network
    proof: ProofPart
    updates: str  # LaTeX display, aligned
    paths: list[PathRow]
    path_gradients: str  # LaTeX display, aligned: each entry's gradient as its kind writes it
    graph: KindsGraphPart  # the tree of dependencies of one shared parameter entry
    work: list[WorkRow]  # the multiplications of each route, for the entries of ``paths``
    swell: KindsSwellPart  # expression swell for networks like this one
    general: KindsGeneral  # the theorem for every depth and size of these kinds
    worked: KindsWorked | None  # the worked example with numbers, when one was given


def document(d: Derivation, proof: Proof, *, timings: bool = False, title: str | None = None,
             example: WorkedExample | LayerExample | dict | None = None,
             ) -> Document | KindsDocument:
    """The derivation document for ``d``: the seed's (``build``) for a network of dense layers,
    else the layer kinds' (``build_kinds``)."""
    if d.net.dense:
        return build(d, proof, timings=timings, title=title,
                     example=example)  # type: ignore[arg-type]  # a dense network's example
    return build_kinds(d, proof, timings=timings, title=title, example=example)


def build_kinds(d: Derivation, proof: Proof, *, timings: bool = False, title: str | None = None,
                example: LayerExample | WorkedExample | dict | None = None) -> KindsDocument:
    """The document of a network with layer kinds; ``proof`` must be a proof of ``d``."""
    check_subject(d, proof)
    net = d.net
    kinds = _and(list(net.kinds))
    described = f"a network of {kinds} layers ({' + '.join(dict.fromkeys(net.activations))}, " \
                f"{net.cost})"
    cost = net.cost_entry
    P = Printer(d.latex_names)
    proved = _proved_forms(d, proof)
    layers = [_layer(d, r, r.index in proved) for r in net.resolved]
    paths = _paths(d)
    return KindsDocument(
        title=title or f"Backpropagation step by step: {described}",
        subject=f"The gradients of {described}, layer kind by layer kind, proved exactly",
        kinds=kinds, L=d.L,
        parameters=sum(_count(shape) for r in net.resolved for shape in r.parameters.values()),
        input_shape=_shape(net.input_shape),
        input_axes=net.resolved[0].kind.axes if len(net.input_shape) == 2 else (),
        layers=layers, activations=_activations(d),
        cost=cost.name, cost_summary=rich(cost.summary.split(", C =")[0]),
        cost_general=f"C = {forms.cost_formula(cost)}",
        cost_explicit=_cost(P, cost.formula(list(d.a_symbols(d.L)), list(d.y))),
        output=f"a_{{{d.L}}}",
        recursion=_recursion(d, proved),
        proof=_proof(d, proof_part(proof, timings, dense=False, where=scopes(d.net))),
        updates=_updates(d),
        paths=[row for row, _, _ in paths],
        path_gradients=_rows([rhs for _, rhs, _ in paths], entries=True),
        graph=kinds_graph_part(d, P),
        work=work_rows(d, {key: row.entry for row, _, key in paths}),
        swell=kinds_swell_part(d, _widest(d)),
        general=kinds_general(d),
        worked=None if example is None else kinds_worked(d, P, example),  # type: ignore[arg-type]
    )


# ---------------------------------------------------------------- the network's passes


def _proved_forms(d: Derivation, proof: Proof) -> set[int]:
    """The layers whose vector forms the proof proved equal to their maps."""
    proved = {c.name for c in proof.claims if c.status == "proved"}
    return {r.index for r in d.net.resolved if vector_claim_name(r.index) in proved}


def _recursion(d: Derivation, proved: set[int]) -> str:
    """The backward pass of this network, from the output down, in vector notation."""
    rows = [(f"g_{{{d.L}}}", rf"\partial C / \partial a_{{{d.L}}}")]
    for r in reversed(d.net.resolved):
        l = r.index
        act = d.net.activation(l)
        vector = _vector(r, act.latex, l in proved)
        delta = vector["delta"] if act.elementwise else \
            rf"\delta_{{{l}}} = \bigl(\partial a_{{{l}}} / \partial z_{{{l}}}\bigr)^{{T}} g_{{{l}}}"
        rows.append(tuple(delta.split(" = ", 1)))  # type: ignore[arg-type]
        for p in r.maps.params:
            rows.append((rf"\partial C / \partial {_param_name(r, p.name)}_{{{l}}}",
                         vector[p.name]))
        if l > 1:
            rows.append(tuple(vector["input"].split(" = ", 1)))  # type: ignore[arg-type]
    return _rows(rows).replace("a_{0}", "x")


def _paths(d: Derivation) -> list[tuple[PathRow, tuple[str, str], tuple[int, str]]]:
    """Each parameter's first entry with its paths, its gradient printed from its kind's VJP
    (one term per entry it enters), and the parameter (l, name)."""
    rows = []
    for counted in entry_paths(d):
        r = d.net.resolved[counted.l - 1]
        m = r.maps.param_vjps[counted.name]
        first = tuple(sp.Integer(1) for _ in m.index)
        entry = _entry(r, counted.name, first)
        value = _entries(r, m.formula.xreplace(dict(zip(m.index, first))), _map_tensors(m))
        rows.append((PathRow(counted.l, entry, counted.enters, counted.paths),
                     (rf"\frac{{\partial C}}{{\partial {entry}}}", value),
                     (counted.l, counted.name)))
    return rows


def _widest(d: Derivation) -> str:
    """The parameter of layer 1 whose first entry the swell measures, as the document names it
    (a kernel K_{1}, a recurrent layer's U_{1})."""
    name = next((row["parameter"] for row in kinds_swell_rows(d) if row["parameter"]), None)
    return f"{_param_name(d.net.resolved[0], name or next(iter(d.layer_parameters(1))))}_{{1}}"


def _updates(d: Derivation) -> str:
    rows = []
    for r in d.net.resolved:
        for p in r.maps.params:
            name = f"{_param_name(r, p.name)}_{{{r.index}}}"
            rows.append((name, rf"{name} - \eta\, \frac{{\partial C}}{{\partial {name}}}"))
    return _rows(rows).replace("&=", r"&\leftarrow")


def _proof(d: Derivation, part: ProofPart) -> ProofPart:
    """The proof's rows and lemmas with each parameter under its kind's name (a kernel K, a
    layer norm's γ and β, not W and b)."""
    resolved = {r.index: r for r in d.net.resolved}

    def named(text: str, l: int) -> str:
        for name, word in resolved[l].kind.words.items():
            text = text.replace(rf"\partial {name}_{{{l}}}", rf"\partial {word}_{{{l}}}")
        return text

    rows = [dataclasses.replace(row, cells=[row.cells[0], named(row.cells[1], int(row.cells[0]))])
            for row in part.rows]
    lemmas = []
    for lemma in part.lemmas:
        found = _PARAMETER_LEMMA.fullmatch(lemma.name)
        if found and int(found[2]) in resolved:
            l, word = int(found[2]), resolved[int(found[2])].kind.words.get(found[1])
            if word is not None:
                lemma = dataclasses.replace(lemma, title=f"the gradient of ${word}_{{{l}}}$",
                                            statement=named(lemma.statement, l))
        lemmas.append(lemma)
    return dataclasses.replace(part, rows=rows, lemmas=lemmas)


_PARAMETER_LEMMA = re.compile(r"dC/d(\w+)_(\d+)")  # a parameter's lemma: dC/dW_2
