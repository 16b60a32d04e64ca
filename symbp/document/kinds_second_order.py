"""The chapter "Second order" for a network of layer kinds, as plain data.

The same steps as the dense chapter (``second_order``), read off what the kinds' second
order computes and proves (``core.kinds_second_order``, ``core.kinds_curvature``,
``proof.kinds_curvature``): H_C at the split, the network's graph node by node (what each
node reads and how many second derivatives it adds), each layer's pass-back from the output
down (what a skip, a shared kernel and steps through time add), the blocks and
G = Jᵀ H_C J, H v by the R-operator, the three routes with the proof's verdict per block,
and the worked example's Hessian in numbers (``kinds_second_numbers``). Every status shown
is a claim's.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..core import curvature
from ..core.kinds_second_order import KindsSecondDerivation
from ..core.status import worst
from ..printing.latex import Printer, aligned
from ..proof.claims import Proof
from ..proof.kinds_code import FLAVORS, flavor_claims, not_read
from ..proof.kinds_hvp_lemmas import hvp_refused
from ..proof.kinds_second_theorem import refusal
from .kinds_numbers import LayerExample
from .kinds_second_numbers import KindsWorkedSecond, kinds_worked_second
from .second_order import PSD, TITLE, Group, _equations, _groups


@dataclass(frozen=True)
class GraphNode:
    """One node of the curvature recursion's graph: LaTeX names, counts."""

    node: str  # LaTeX inline: z^{(1)}, or z^{(1)} at step 2
    entries: int
    reads: str  # LaTeX inline: the variables and parameters it reads, grouped
    second: int  # its nonzero second derivatives ∂²f_i/∂u∂w (u, w in either order once)


@dataclass(frozen=True)
class KindPass:
    """Layer l's part of the sweep, from the output down."""

    l: int
    kind: str  # the kind's registry name: the template's paragraph for it
    title: str  # plain
    statements: str  # LaTeX display: one entry of z_l and of a_l, in layered symbols
    nodes: list[GraphNode]
    rules: list[str]  # LaTeX displays: the pass-back as matrices (RULES)
    skip: bool  # a_l reads a_(l-1) beside z_l (not x: the input is a constant)
    projection: bool  # the skip goes through a projection P_l
    steps: int  # the nodes z_l is split into (through time); 1 otherwise
    shared: bool  # a parameter entry read by more than one entry of z_l (a kernel)


@dataclass(frozen=True)
class BlockVerdict:
    """The claims of one block (l, m), l <= m: their statuses."""

    block: str  # LaTeX inline: (l, m)
    program: str
    recursion: str
    gauss_newton: str
    gauss_newton_recursion: str


@dataclass(frozen=True)
class KindsSecondOrderChapter:
    title: str  # plain
    network: str  # plain: "the network of residual and dense layers (tanh + sigmoid, mse)"
    cost: str
    absorbed: bool  # the cost takes over at z_L (softmax with cross-entropy)
    refused: str  # plain: why the theorem for every size does not take it ("": it does)
    hvp_every_size: bool  # whether that theorem has every layer's H v lemma (kinds_hvp_lemmas)
    sizes: str  # LaTeX inline
    L: int
    eq: dict[str, str]  # LaTeX displays
    split: str  # LaTeX display: H_C at this network's split, in layered symbols ("" for I)
    passes: list[KindPass]  # output layer first
    node_count: int  # the graph's nodes, every layer's
    psd: str  # LaTeX display: how H_C is PSD for this cost
    targets: str  # plain
    psd_status: str  # the claim "H_C PSD"
    g_psd_status: str  # the claim "G PSD"
    blocks: list[BlockVerdict]
    hvp: list[tuple[str, str]]  # (LaTeX: W_1, status of "Hv W1")
    code: list[tuple[str, str, str]]  # (flavour, function, worst status of its "Hv code" claims)
    code_note: str  # plain: why the printed hvp program was not compared ("" when it was)
    worked: KindsWorkedSecond | None
    checks: list[Group]
    status: str
    method: str
    fingerprint: str


def kinds_second_order_chapter(d: KindsSecondDerivation, proof: Proof,
                               example: LayerExample | dict | None = None
                               ) -> KindsSecondOrderChapter:
    """The chapter of ``d`` (a network of layer kinds, order 2) and its second-order ``proof``."""
    if not isinstance(d, KindsSecondDerivation):
        raise ValueError("the second-order chapter of layer kinds needs symbp.derive(net, "
                         "order=2) of a network of layer kinds")
    net = d.net
    P = Printer(d.latex_names, ordered=True)
    absorbed = curvature.absorbs_output(net.cost_entry)
    kinds = " and ".join(dict.fromkeys(net.kinds))
    sizes = ", ".join(rf"\theta_{{{l}}}: {d.params(l)}" for l in d.layers)
    status = {c.label: str(c.status) for c in proof.claims}

    def of(name: str) -> str:
        return status.get(name, "not compared")

    nodes = _nodes(d, P)
    return KindsSecondOrderChapter(
        title=TITLE,
        network=f"the network of {kinds} layers "
                f"({' + '.join(dict.fromkeys(net.activations))}, {net.cost})",
        cost=net.cost, absorbed=absorbed, refused=refusal(net),
        hvp_every_size=not hvp_refused(net),
        sizes=rf"P = {len(d.parameters())} \quad ({sizes})", L=d.L,
        eq={**_equations(d, absorbed), **EQ},  # type: ignore[arg-type]  # read from d.net
        split=_split(d, P, absorbed),
        passes=[_pass(d, P, l, nodes[l]) for l in range(d.L, 0, -1)],
        node_count=sum(map(len, nodes.values())),
        psd=PSD.get(net.cost, ""), targets=curvature.TARGETS_TEXT[net.cost],
        psd_status=of("H_C PSD"), g_psd_status=of("G PSD"),
        blocks=[BlockVerdict(f"({l}, {m})", of(f"program H {l},{m}"),
                             of(f"recursion H {l},{m}"), of(f"G {l},{m}"),
                             of(f"recursion G {l},{m}"))
                for l in d.layers for m in range(l, d.L + 1)],
        hvp=[(f"{_word(d, l, name)}_{{{l}}}", of(f"Hv {name}{l}"))
             for l in d.layers for name in d.layer_parameters(l)],
        code=_code(proof), code_note=not_read(d),
        worked=None if example is None else kinds_worked_second(d, P, example),
        checks=_groups(proof.claims), status=str(proof.status), method=proof.method,
        fingerprint=proof.fingerprint)


def _code(proof: Proof) -> list[tuple[str, str, str]]:
    """Each flavour's printed hvp program as the proof found it, where it made those claims:
    ("NumPy", "_tangent", the worst status of its "Hv code" claims)."""
    found = []
    for flavor, (function, _, _) in FLAVORS.items():
        claims = flavor_claims(proof, flavor)
        if claims:
            name = "NumPy" if flavor == "numpy" else "numba"
            found.append((name, function, str(worst(c.status for c in claims))))
    return found


def _word(d: KindsSecondDerivation, l: int, name: str) -> str:
    """What the documents call a parameter: the kind's word for it (a kernel K for W)."""
    r = d.net.resolved[l - 1]
    return r.kind.words.get(name, name)


# The recursion over the graph and the R-operator, for every kind (LaTeX displays)
EQ = {
    "theta": r"\theta_l = \bigl(\text{every parameter of layer } l \text{ in its kind's order, "
             r"each row by row}\bigr), \qquad \theta = (\theta_1, \dots, \theta_L)",
    "start": r"\Omega \leftarrow H_C = \frac{\partial^2 C}{\partial s^2}, \qquad "
             r"g \leftarrow \frac{\partial C}{\partial s}",
    "push": r"\Omega_{uw} \mathrel{+}= J^{T}\, \Omega_{vv}\, J + \sum_i g_{v,i}\, "
            r"\frac{\partial^2 f_i}{\partial u\, \partial w}, \qquad "
            r"\Omega_{ru} \mathrel{+}= \Omega_{rv}\, J, \qquad "
            r"g_u \mathrel{+}= J^{T} g_v, \qquad J = \frac{\partial f}{\partial u}",
    "rop": r"\dot s = \sum_u \frac{\partial s}{\partial u}\, \dot u, \qquad \dot p = v_p "
           r"\text{ for a parameter } p, \qquad \dot x = \dot y = 0",
    "rop_out": r"\mathcal{R}_v\left\{\frac{\partial C}{\partial \theta}\right\} = H v, \qquad "
               r"\mathcal{R}_{e_q}\left\{\frac{\partial C}{\partial \theta}\right\} = "
               r"H_{\cdot\, q}",
}


# Each layer's pass-back as matrices: @l stands for the layer, @k for the one below it
RULES = {
    "dense": r"\Omega_{a_{@k}} = W_{@l}^{T} \Bigl(D_{@l}\, \Omega_{a_{@l}}\, D_{@l} + "
             r"\operatorname{diag}\bigl(g_{a_{@l}} \odot \sigma''(z_{@l})\bigr)\Bigr) W_{@l}, "
             r"\qquad D_{@l} = \operatorname{diag}\bigl(\sigma'(z_{@l})\bigr)",
    "skip": r"\Omega_{a_{@k}} = \bigl(S_{@l} + D_{@l} W_{@l}\bigr)^{T}\, \Omega_{a_{@l}}\, "
            r"\bigl(S_{@l} + D_{@l} W_{@l}\bigr) + W_{@l}^{T} \operatorname{diag}\bigl(g_{a_{@l}} "
            r"\odot \sigma''(z_{@l})\bigr) W_{@l}",
    "skip_cross": r"\bigl(S_{@l} + D_{@l} W_{@l}\bigr)^{T} \Omega_{a_{@l}} \bigl(S_{@l} + D_{@l} "
                  r"W_{@l}\bigr) = W_{@l}^{T} D_{@l}\, \Omega_{a_{@l}} D_{@l} W_{@l} + "
                  r"\underbrace{S_{@l}^{T} \Omega_{a_{@l}} S_{@l} + S_{@l}^{T} \Omega_{a_{@l}} "
                  r"D_{@l} W_{@l} + W_{@l}^{T} D_{@l}\, \Omega_{a_{@l}} S_{@l}}_"
                  r"{\text{what the skip adds}}",
    "time": r"\Omega_{z_{t-1}} = D_{t-1} W_{@l}^{T}\, \Omega_{z_t}\, W_{@l} D_{t-1} + "
            r"\operatorname{diag}\bigl((W_{@l}^{T} \delta_t) \odot \sigma''(z_{t-1})\bigr), "
            r"\qquad D_{t-1} = \operatorname{diag}\bigl(\sigma'(z_{t-1})\bigr)",
    "time_cross": r"\frac{\partial^2 z_{t,i}}{\partial w^{(@l)}_{ik}\, \partial z_{t-1,k}} = "
                  r"\sigma'(z_{t-1,k})",
    "softmax": r"\frac{\partial^2 P_{ts}}{\partial S_{tr}\, \partial S_{tq}} = P_{ts} "
               r"\bigl([s = q] - P_{tq}\bigr) \bigl([s = r] - P_{tr}\bigr) - P_{ts} P_{tr} "
               r"\bigl([r = q] - P_{tq}\bigr)",
    "scores": r"\frac{\partial^2 S_{tr}}{\partial W^{Q}_{@l,ck}\, \partial W^{K}_{@l,c'k}} = "
              r"\frac{X_{tc}\, X_{rc'}}{\sqrt{d_k}}, \qquad X = a_{@k}^{T}",
    "norm": r"\Omega_{a_{@k}} = J_{@l}^{T} \Bigl(D_{@l}\, \Omega_{a_{@l}}\, D_{@l} + "
            r"\operatorname{diag}\bigl(g_{a_{@l}} \odot \sigma''(z_{@l})\bigr)\Bigr) J_{@l} + "
            r"\sum_j \delta^{(@l)}_j\, \gamma^{(@l)}_j\, \frac{\partial^2 \hat{x}^{(@l)}_j}"
            r"{\partial a_{@k}^2}, \qquad J_{@l} = \operatorname{diag}(\gamma_{@l})\, "
            r"\frac{\partial \hat{x}^{(@l)}}{\partial a_{@k}}",
    "layernorm": r"\frac{\partial \hat{x}^{(@l)}}{\partial a_{@k}} = \frac{1}{s_{@l}} \Bigl(I - "
                 r"\frac{1}{n}\, \mathbf{1} \mathbf{1}^{T} - \frac{1}{n}\, \hat{x}^{(@l)} "
                 r"\hat{x}^{(@l)T}\Bigr), \qquad s_{@l} = \sqrt{v_{@l} + \varepsilon}",
    "batchnorm": r"\frac{\partial \hat{x}^{(@l)}_{c,\cdot}}{\partial a_{@k,c,\cdot}} = "
                 r"\frac{1}{s_{@l,c}} \Bigl(I - \frac{1}{B}\, \mathbf{1} \mathbf{1}^{T} - "
                 r"\frac{1}{B}\, \hat{x}^{(@l)}_{c,\cdot}\, \hat{x}^{(@l)T}_{c,\cdot}\Bigr), "
                 r"\qquad s_{@l,c} = \sqrt{v_{@l,c} + \varepsilon}",
    # the kernel by its letter, as each entry of it is named (K^{(l)}_{o,c,s})
    "kernel": r"\frac{\partial^2 C}{\partial K^{(@l)}_{p}\, \partial K^{(@l)}_{q}} = "
              r"\sum_{i,\,i'} \Omega_{z^{(@l)}_i z^{(@l)}_{i'}}\, "
              r"\frac{\partial z^{(@l)}_i}{\partial K^{(@l)}_p} "
              r"\frac{\partial z^{(@l)}_{i'}}{\partial K^{(@l)}_q}",
}


NORMS = ("layernorm", "batchnorm")  # x̂ = (x − μ)/s: the pass-back through ∂x̂/∂x (RULES)


def _rules(names: tuple[str, ...], l: int) -> list[str]:
    return [RULES[n].replace("@l", str(l)).replace("@k", str(l - 1)) for n in names]


def _split(d: KindsSecondDerivation, P: Printer, absorbed: bool) -> str:
    """H_C at the split in a_L's layered symbols: its diagonal when it is diagonal."""
    H = d.layered_split_hessian()
    s = rf"{'z' if absorbed else 'a'}_{{{d.L}}}"
    if H.is_diagonal() and all(e == 1 for e in H.diagonal()):
        return ""  # the cost's H_C = I says it all
    if H.is_diagonal():
        return rf"H_C = \frac{{\partial^2 C}}{{\partial {s}^2}} = " + P.diag(list(H.diagonal()))
    return P.defined(r"H_C", H)


def _groups_of(d: KindsSecondDerivation) -> dict[sp.Symbol, tuple[int, str]]:
    """Every variable and parameter symbol → (layer, its LaTeX group name)."""
    found: dict[sp.Symbol, tuple[int, str]] = {}
    for l in d.layers:
        found.update({s: (l, f"z_{{{l}}}") for s in d.z_symbols(l)})
        found.update({s: (l, f"a_{{{l}}}") for s in d.a_symbols(l)})
        for name, M in d.layer_parameters(l).items():
            found.update({p: (l, f"{_word(d, l, name)}_{{{l}}}") for p in M})
    return found


def _nodes(d: KindsSecondDerivation, P: Printer) -> dict[int, list[GraphNode]]:
    """The graph's nodes by layer, in the order of the forward pass; a statement split into
    steps (through time) names each step, and what reads it names the step it reads."""
    groups = _groups_of(d)
    counts: dict[tuple[int, str], int] = {}
    for n in d.curvature_graph:
        counts[(n.layer, n.name)] = counts.get((n.layer, n.name), 0) + 1
    seen: dict[tuple[int, str], int] = {}
    named: dict[sp.Symbol, str] = {}  # a stepped statement's symbol → its node's name
    found: dict[int, list[GraphNode]] = {l: [] for l in d.layers}
    for n in d.curvature_graph:
        key = (n.layer, n.name)
        seen[key] = seen.get(key, 0) + 1
        name = f"{n.name}_{{{n.layer}}}"
        if counts[key] > 1:
            name += rf"\ (\text{{step }} {seen[key]})"
            named.update(dict.fromkeys(n.symbols, name))
        reads = [named.get(u, groups[u][1]) for u in n.reads]
        shown = ", ".join(dict.fromkeys(sorted(reads, key=_read_order)))
        found[n.layer].append(GraphNode(name, len(n.symbols), shown,
                                        sum(len(S) for S in n.second)))
    return found


def _read_order(group: str) -> tuple[int, str]:
    """Variables (a, z) first, then the parameters, in their name's order."""
    return (0 if group[0] in "az" else 1, group)


def _pass(d: KindsSecondDerivation, P: Printer, l: int, nodes: list[GraphNode]) -> KindPass:
    r = d.net.resolved[l - 1]
    pre, out = d.forward_statements(l)
    zs, below = set(d.z_symbols(l)), set(d.a_symbols(l - 1)) if l > 1 else set(d.x)
    # the first entry that reads its own z one step back shows the step through time
    shown = next((i for i, e in enumerate(pre) if e.free_symbols & zs), 0)
    rows = [(P(d.z_symbols(l)[shown]), P(pre[shown]))]
    absorbed = curvature.absorbs_output(d.net.cost_entry) and l == d.L
    if not absorbed:
        rows.append((P(d.a_symbols(l)[0]), P(out[0])))
    skip = l > 1 and any(e.free_symbols & below for e in out)  # x is a constant
    params = [p for M in d.layer_parameters(l).values() for p in M]
    steps = sum(1 for n in d.curvature_graph if n.layer == l and n.name == "z")
    shared = steps == 1 and any(sum(1 for e in pre if p in e.free_symbols) > 1 for p in params)
    rules: tuple[str, ...]
    if r.kind.name == "attention":
        rules = ("softmax", "scores")
    elif r.kind.name in NORMS:
        rules = ("norm", r.kind.name)
    elif steps > 1:
        rules = ("time", "time_cross")
    elif skip:
        rules = ("skip", "skip_cross")
    elif shared:
        rules = ("kernel",)
    else:
        rules = ("dense",) if l > 1 else ()
    described = r.kind.described(r.layer)
    return KindPass(l, r.kind.name, f"Layer {l}: {described}, {d.net.activation(l).name}",
                    aligned(rows), nodes, _rules(rules, l), skip, "P" in d.layer_parameters(l),
                    steps, shared)
