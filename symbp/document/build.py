"""A Derivation and its Proof as plain data: the ordered steps of the derivation document.

Everything here is a string of LaTeX (printed by ``printing.Printer``), a plain
string of text, a number, a flag or a list of those. Templates lay the document
out around these values; they never see SymPy, build a symbol name or do index
arithmetic. The prose lives in the templates; the math lives here.

Sections, in the order of the seed text: the network and its notation (here),
the path of influence and the redundancy of the expansion (``document_paths``),
backpropagation step by step, the update rules and the summary
(``document_steps``), and the proof (``document_proof``). ``build`` assembles them.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..core.derivation import Derivation
from ..core.naming import vector_latex as vec
from ..core.routes import cost_row
from ..printing import forms
from ..printing.latex import Printer
from ..printing.width import matrix_width, width
from ..proof.prove import Proof
from .example import Example as WorkedExample
from .figures import WEIGHT, GraphPart, SwellPart, graph_part, swell_part
from .general import GeneralPart, general_part
from .paths import (
    Factor,
    PathSum,
    chain_rules,
    composition,
    jacobian_factor,
    layer_chain_rules,
    path_example,
    shared_chains,
)
from .proof import ProofPart, proof_part
from .steps import (
    Step,
    backprop_rows,
    backprop_steps,
    backprop_summary,
    element_update_rules,
    partial,
    update_rules,
)
from .text import iverson, rich
from .worked import WorkedPart, worked_part


def _notation(sigma: str) -> list[tuple[str, str]]:
    """(symbol, meaning), with the network's own activation symbol in the formulas."""
    return [
        (r"$x = a_0$", r"the input, with entries $x_k$"),
        (r"$y$", r"the target, with entries $y_j$"),
        (r"$W_l$", r"the weight matrix of layer $l$, of size $n_l \times n_{l-1}$"),
        (r"$w^{(l)}_{jk}$",
         r"the weight from neuron $k$ of layer $l-1$ to neuron $j$ of layer $l$"),
        (r"$b_l$, $b^{(l)}_j$", r"the bias vector of layer $l$ and its entries"),
        (r"$z_l$, $z^{(l)}_j$", r"the weighted input of layer $l$, $z_l = W_l a_{l-1} + b_l$"),
        (r"$a_l$, $a^{(l)}_j$", rf"the activation (output) of layer $l$, $a_l = {sigma}(z_l)$"),
        (r"$C$", r"the cost of one training example (the seed's $C_0$)"),
        (r"$\delta_l$, $\delta^{(l)}_j$",
         r"the error of layer $l$, $\delta_l = \partial C / \partial z_l$, a column"),
        (r"$\odot$", r"the Hadamard product: entry by entry"),
        (r"$[i = k]$", r"$1$ if $i = k$, else $0$"),
        (r"$\eta$", r"the learning rate"),
    ]


def activation_symbol(d: Derivation, index: str) -> str:
    """The activation in formulas for any layer: its own name when every layer shares it
    (\\tanh), else \\sigma with the layer's index."""
    names = set(d.net.activations)
    if len(names) == 1:
        return d.net.activation(1).latex
    return rf"\sigma_{{{index}}}"


@dataclass(frozen=True)
class Activation:
    """One activation used by the network, with the layers that use it."""

    name: str
    summary: list[tuple[bool, str]]  # rich text (document.text.rich) for an activation without
    # a formula (generic, softmax); else empty
    used_by: str  # plain text: "Every layer uses", "Layers 1 and 2 use", "Layer 3 uses"
    definition: str  # LaTeX: \sigma(z) = ..., \qquad \sigma'(z) = ... (or the Jacobian entry)
    elementwise: bool
    note: list[tuple[bool, str]]  # rich text, may be empty


@dataclass(frozen=True)
class Layer:
    """One layer of the forward pass, written out with this network's matrices."""

    l: int
    n_in: int
    n_out: int
    activation: str  # registry name
    sym: dict[str, str]  # inline names: W
    weights_shape: str  # LaTeX: 3 \times 2
    forward: str  # LaTeX display: z_l = W_l a_{l-1} + b_l with explicit matrices
    activate: str  # LaTeX: a_l = σ(z_l)


@dataclass(frozen=True)
class Network:
    widths: str  # LaTeX: 2, 3, 3, 2 (the middle elided when long)
    L: int
    parameters: int  # number of weights and biases
    cost: str  # registry name
    cost_summary: list[tuple[bool, str]]  # rich text
    cost_general: str  # LaTeX: C = \frac{1}{2} \sum_j ...
    cost_explicit: str  # LaTeX display, in this network's symbols
    output: str  # LaTeX: a_{L}
    output_entry: str  # LaTeX: a^{(L)}_j
    layers: list[Layer]
    activations: list[Activation]


@dataclass(frozen=True)
class Count:
    """Work for one layer's gradient: vector-Jacobian products and scalar multiplications."""

    label: str  # plain text: the layer, or "total"
    expansion_products: int
    expansion_multiplications: int
    recursion_products: int
    recursion_multiplications: int


@dataclass(frozen=True)
class Document:
    title: str  # plain text
    subject: str  # plain text, for the PDF's metadata
    notation: list[tuple[str, str]]  # (symbol, meaning), both with inline $...$ math
    sigma: str  # LaTeX: the activation of layer l in general formulas (\tanh, or \sigma_l)
    sigma_m: str  # the same for layer m
    network: Network
    composition: str  # LaTeX display: C = Cost(L_L(⋯ L_1(x) ⋯))
    layer_chains: str  # LaTeX display: ∂C/∂W_l through the layers L_m, as in the seed
    chain_rules: str  # LaTeX display: ∂C/∂W_l as a product of Jacobians, every layer
    output_gradient: str  # LaTeX display: the row ∂C/∂a_L
    factors: list[Factor]
    path_sum: PathSum
    graph: GraphPart  # the tree of dependencies of the weight of the path sum
    reuse: str  # LaTeX display: each chain holds the chain of the layer above
    swell: SwellPart  # expression swell for networks like this one
    counts: list[Count]  # per layer, output first, then the total
    steps: list[Step]
    proof: ProofPart
    general: GeneralPart  # the theorem for every width and depth, this activation and cost
    updates: str  # LaTeX display
    element_updates: str  # LaTeX display
    summary: str  # LaTeX display: backprop as vector-Jacobian products
    recursion: list[tuple[str, str, str]]  # the same, one (lhs, rhs, what it is) per move
    worked: WorkedPart | None  # the derivation with numbers, when an example is given


def check_subject(d: Derivation, proof: Proof) -> None:
    """ValueError unless ``proof`` is a proof of ``d``: its network and its program."""
    if proof.network != repr(d.net):
        raise ValueError(f"the proof is of {proof.network or 'no network'}, not of {d.net!r}; "
                         "prove this derivation (symbp.prove(d))")
    try:
        own = d.program.fingerprint
    except Exception:  # a recursion that cannot be recorded has no program; its proof neither
        own = ""
    if proof.fingerprint != own:
        raise ValueError(f"the proof is of program {proof.fingerprint or '(none)'}, not of this "
                         f"derivation's program {own or '(none)'}; prove this derivation "
                         "(symbp.prove(d))")


def build(d: Derivation, proof: Proof, *, timings: bool = False, title: str | None = None,
          example: WorkedExample | dict | None = None) -> Document:
    """The document for ``d`` and its proof; no timings unless asked, so reruns are identical.

    ``example`` (a ``symbp.Example`` or a dict of its fields) adds the worked example;
    ValueError names a value that does not fit the network. A proof of another derivation
    (another network, or another program: see ``Program.fingerprint``) is refused: the
    document may say "proved" only of the program it shows.
    """
    check_subject(d, proof)
    P = Printer(d.latex_names)
    worked = None if example is None else worked_part(d, P, example)
    net = d.net
    described = f"the {'-'.join(map(str, net.widths))} network " \
                f"({' + '.join(dict.fromkeys(net.activations))}, {net.cost})"
    return Document(
        title=title or f"Backpropagation step by step: {described}",
        subject=f"The gradients of {described} three ways, by the chain rule along the paths "
                "of influence, by backpropagation and by SymPy, compared exactly",
        notation=_notation(activation_symbol(d, "l")),
        sigma=activation_symbol(d, "l"), sigma_m=activation_symbol(d, "m"),
        network=_network(d, P),
        composition=composition(d),
        layer_chains=layer_chain_rules(d),
        chain_rules=chain_rules(d),
        output_gradient=P.defined(partial("C", vec("a", d.L)), cost_row(d)),
        factors=[jacobian_factor(d, P, m) for m in range(d.L, 1, -1)],
        path_sum=path_example(d, P, *WEIGHT),
        graph=graph_part(d, P),
        reuse=shared_chains(d),
        swell=swell_part(d, P(d.weights(1)[0, 0])),
        counts=_counts(net.widths),
        steps=backprop_steps(d, P),
        proof=proof_part(proof, timings),
        general=general_part(d),
        updates=update_rules(d),
        element_updates=element_update_rules(d),
        summary=backprop_summary(d),
        recursion=backprop_rows(d),
        worked=worked,
    )


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# ---------------------------------------------------------------- section 1: the network


def _network(d: Derivation, P: Printer) -> Network:
    net, n = d.net, d.net.widths
    cost = net.cost_entry
    return Network(
        widths=", ".join(map(str, n)) if len(n) <= 10 else  # a long list: its pattern
        ", ".join(map(str, n[:4])) + r", \dots, " + ", ".join(map(str, n[-2:])),
        L=d.L,
        parameters=sum(n[l] * n[l - 1] + n[l] for l in range(1, d.L + 1)),
        cost=cost.name,
        cost_summary=rich(cost.summary.split(", C =")[0]),  # the formula is displayed anyway
        cost_general=f"C = {forms.cost_formula(cost)}",
        cost_explicit=_cost(P, cost.formula(list(d.a_symbols(d.L)), list(d.y))),
        output=vec("a", d.L),
        output_entry=rf"a^{{({d.L})}}_{{j}}",
        layers=[_layer(d, P, l) for l in range(1, d.L + 1)],
        activations=_activations(d),
    )


def _cost(P: Printer, expr: sp.Expr) -> str:
    r"""C for this network, a common factor kept outside: \frac{1}{2}\bigl(... + ...\bigr)."""
    factor, inner = sp.factor_terms(expr).as_coeff_Mul()
    if factor == 1 or not inner.is_Add:
        return P.equation("C", expr)
    prefix = "-" if factor == -1 else P(factor)
    terms = P.terms(inner)
    terms[0], terms[-1] = rf"{prefix}\Bigl({terms[0]}", rf"{terms[-1]}\Bigr)"
    if width(" + ".join(terms)) <= P.room("C"):
        return "C = " + rf"{prefix}\Bigl({P(inner)}\Bigr)"
    return P.lines("C", terms)


def _layer(d: Derivation, P: Printer, l: int) -> Layer:
    z, b, a_prev = (P.matrix(v) for v in (d.z_symbols(l), d.biases(l), d.a_symbols(l - 1)))
    budget = P.line - sum(map(matrix_width, (z, b, a_prev))) - width("=+")
    W, columns = P.fitted(d.weights(l), budget=budget)
    a_prev = P.matrix(d.a_symbols(l - 1), rows=columns)  # elided where W_l's columns are
    act = d.net.activation(l)
    z_j, a_j = rf"z^{{({l})}}_{{j}}", rf"a^{{({l})}}_{{j}}"
    if act.elementwise:
        entry = rf"{act.latex}\bigl({z_j}\bigr)"
    else:
        entry = rf"\frac{{e^{{{z_j}}}}}{{\sum_k e^{{z^{{({l})}}_{{k}}}}}}"
    return Layer(
        l=l, n_in=d.net.widths[l - 1], n_out=d.net.widths[l], activation=act.name,
        sym={"W": vec("W", l)},
        weights_shape=rf"{d.net.widths[l]} \times {d.net.widths[l - 1]}",
        forward=f"{z} = {W} {a_prev} + {b}",
        activate=rf"{vec('a', l)} = {act.latex}({vec('z', l)}), \qquad \text{{that is,}} \quad "
                 rf"{a_j} = {entry}",
    )


def _activations(d: Derivation) -> list[Activation]:
    out = []
    for name in dict.fromkeys(d.net.activations):
        act = d.net.activation(d.net.activations.index(name) + 1)
        layers = [str(l) for l, used in enumerate(d.net.activations, 1) if used == name]
        if len(layers) == d.L:
            used_by = "Every layer uses" if d.L > 1 else "The layer uses"
        else:
            used_by = (f"Layer {layers[0]} uses" if len(layers) == 1
                       else f"Layers {_and(layers)} use")
        if act.elementwise:
            definition = rf"{act.latex}(z) = {forms.activation_definition(act)}, \qquad " \
                         rf"{act.latex}'(z) = {forms.activation_derivative(act)}"
        else:
            definition = (rf"a_j = {forms.activation_formula(act)}, \qquad "
                          rf"{iverson(forms.activation_derivative(act))}")
        summary = rich(act.summary) if act.formula is None else []  # else the formula says it
        out.append(Activation(name, summary, used_by, definition, act.elementwise,
                              rich(act.note)))
    return out


# ---------------------------------------------------------------- section 3: redundancy


def _counts(n: tuple[int, ...]) -> list[Count]:
    """Closed-form work counts, each Jacobian ∂a_m/∂a_{m-1} taken as a dense n_m × n_{m-1} matrix.

    For layer l the expansion pushes the row ∂C/∂a_L through L - l Jacobians,
    from scratch; the recursion pushes through one, reusing the layer above.
    """
    L = len(n) - 1
    rows = [Count(str(l), L - l, sum(n[m] * n[m - 1] for m in range(l + 1, L + 1)),
                  int(l < L), n[l + 1] * n[l] if l < L else 0) for l in range(L, 0, -1)]
    total = Count("total", *(sum(getattr(r, field) for r in rows) for field in (
        "expansion_products", "expansion_multiplications",
        "recursion_products", "recursion_multiplications")))
    return [*rows, total]
