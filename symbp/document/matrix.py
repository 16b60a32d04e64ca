"""The matrix-calculus chapter as plain data: "Backpropagation with Matrix Calculus", the sequel.

The same results as the derivation, with whole vectors and matrices and every shape written
out. Each displayed identity carries a tag (M1, M2, ...) naming the claim that checked it:
a claim of the general theorem (``symbp.theorem``) or of ``proof.matrix``. The last section
lists them with their status and how each was established (symbolic in the widths, or
instantiated at small widths only).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..core import registry
from ..core.derivation import Derivation
from ..core.status import worst
from ..proof.claims import Claim
from ..proof.index_entries import A, Y
from ..proof.indexed import DEPTH, latex
from ..proof.matrix import matrix_identities
from ..proof.theorem import LEMMAS, covers, theorem
from .checks import established, title


@dataclass(frozen=True)
class Check:
    """One row of the closing table: a tag, the claim it names, and how it was settled."""

    tag: str  # "M3"
    name: str  # plain text: the claim's name
    title: str  # mixed: what the claim is about
    status: str
    established: str  # mixed: how it was settled, or ""


@dataclass(frozen=True)
class Shape:
    quantity: str  # LaTeX, inline
    shape: str  # LaTeX, inline: n_l \times n_{l-1}
    here: str  # LaTeX, inline: this network's sizes, layer by layer


@dataclass(frozen=True)
class MatrixChapter:
    title: str  # plain text
    network: str  # plain text: "the 2-3-3-2 network (sigmoid, mse)"
    activation: str  # LaTeX: \sigma
    softmax: bool  # the output layer is softmax
    written_generic: str  # plain text: the hidden activations written as the generic σ, or ""
    cost: str  # plain text: the cost's name
    shapes: list[Shape]
    eq: dict[str, str]  # name → LaTeX display, tagged with the claim that checked it
    vjp: str  # LaTeX display (aligned): this network's backward pass, with shapes
    vjp_refs: str  # plain text: the tags of the claims its rows are instances of
    summary: str  # LaTeX display (aligned): one example and a batch
    summary_refs: str  # plain text: the same for the summary
    checks: list[Check]
    groups: list[tuple[str, str, list[Check]]]  # (status, established, checks): the checks
    # settled the same way, in the order of their tags, for a list that reads as sentences
    status: str  # proved when every tagged claim is
    theorem_status: str  # the general theorem for this activation and cost
    program: str  # plain text: the fingerprint of the program gradients.py runs
    runs_proved: str  # plain text: "" when gradients.py runs the program proved here, else why not


class _Tags:
    """Numbers claims in the order the chapter first shows them."""

    def __init__(self, claims: list[Claim]):
        self.claims = {c.name: c for c in claims}
        self.used: list[Claim] = []

    def __call__(self, body: str, name: str) -> str:
        tag = self.ref(name)
        return rf"{body} \tag{{{tag}}}" if tag else body

    def ref(self, name: str) -> str:
        """The tag of claim ``name`` ("M3"), numbering it if it is new; "" if there is none."""
        claim = self.claims.get(name)
        if claim is None:
            return ""
        if claim not in self.used:
            self.used.append(claim)
        return f"M{self.used.index(claim) + 1}"


def matrix_chapter(d: Derivation) -> MatrixChapter:
    net = d.net
    out = net.activations[-1]
    layers = list(dict.fromkeys(net.activations[:-1] or net.activations))
    # one elementwise σ in every hidden layer is written as itself; anything else (a mix,
    # softmax) as the generic σ, which the same lemmas cover, and the chapter says so
    single = len(layers) == 1 and registry.activation(layers[0]).elementwise
    hidden = layers[0] if single else "generic"
    general = theorem(hidden, net.cost, output=out, recursion=d.recursion_function)
    identities = matrix_identities(hidden, out)
    tag = _Tags(general.claims + identities.claims)
    softmax = not net.activation(net.L).elementwise
    sigma = registry.activation(hidden).latex
    eq = _equations(d, tag, sigma, softmax)
    vjp_refs = _refs(tag, [LEMMAS["base"], "diag", "softmax matrix", "linear", LEMMAS["W"]])
    summary_refs = _refs(tag, [LEMMAS["step"], LEMMAS["W"], LEMMAS["b"], "batch step",
                               "batch weights", "batch biases"])
    checks = [Check(f"M{n}", c.label, title(c.label), c.status, established(c.how))
              for n, c in enumerate(tag.used, start=1)]
    statuses = {c.status for c in tag.used}
    return MatrixChapter(
        title="Backpropagation with Matrix Calculus",
        network=f"the {'-'.join(map(str, net.widths))} network "
                f"({' + '.join(dict.fromkeys(net.activations))}, {net.cost})",
        activation=sigma, softmax=softmax, cost=net.cost,
        written_generic=", ".join(layers) if not single and net.L > 1 else "",
        shapes=_shapes(net.widths), eq=eq, vjp=_vjp(d, sigma),
        vjp_refs=vjp_refs, summary=_summary(sigma), summary_refs=summary_refs,
        checks=checks, groups=_groups(checks), status=worst(statuses).value,
        theorem_status=general.status, program=d.program.fingerprint,
        runs_proved=_runs_proved(d, general),
    )


def _runs_proved(d: Derivation, general) -> str:
    """"" when the general theorem holds and speaks for d's program (what gradients.py prints)."""
    if not general.holds:
        return f"the general theorem is {general.status} for it"
    return covers(d)


def _groups(checks: list[Check]) -> list[tuple[str, str, list[Check]]]:
    """The checks grouped by status and the way they were settled, first tag first."""
    groups: dict[tuple[str, str], list[Check]] = {}
    for check in checks:
        groups.setdefault((check.status, check.established), []).append(check)
    return [(status, how, members) for (status, how), members in groups.items()]


def _refs(tag: _Tags, names: list[str]) -> str:
    """The tags of those claims that exist, already numbered (shown earlier in the chapter)."""
    return ", ".join(t for t in (tag.ref(n) for n in names if n in tag.claims) if t)


def _sizes(widths: tuple[int, ...], rows: int | None, cols: int | None) -> str:
    """This network's sizes for one shape: rows/cols are offsets into n (None: 1)."""
    L = len(widths) - 1
    parts = []
    for l in range(L, 0, -1):
        r = 1 if rows is None else widths[l + rows]
        c = 1 if cols is None else widths[l + cols]
        parts.append(rf"{r} \times {c}")
    return r",\ ".join(parts)


def _shapes(n: tuple[int, ...]) -> list[Shape]:
    L = len(n) - 1
    return [
        Shape(r"x = a_0", r"n_0 \times 1", rf"{n[0]} \times 1"),
        Shape(r"W_l", r"n_l \times n_{l-1}", _sizes(n, 0, -1)),
        Shape(r"b_l,\ z_l,\ a_l,\ \delta_l", r"n_l \times 1", _sizes(n, 0, None)),
        Shape(r"C", r"1 \times 1", r"1 \times 1"),
        Shape(r"\partial C/\partial a_L", r"1 \times n_L", rf"1 \times {n[L]}"),
        Shape(r"\partial a_l/\partial z_l", r"n_l \times n_l", _sizes(n, 0, 0)),
        Shape(r"\partial z_l/\partial a_{l-1}", r"n_l \times n_{l-1}", _sizes(n, 0, -1)),
        Shape(r"\partial z_l/\partial W_l", r"n_l \times n_l \times n_{l-1}",
              r",\ ".join(rf"{n[l]} \times {n[l]} \times {n[l - 1]}" for l in range(L, 0, -1))),
        Shape(r"\partial C/\partial W_l", r"n_l \times n_{l-1}", _sizes(n, 0, -1)),
    ]


def _cost_row(d: Derivation) -> str:
    cost = d.net.cost_entry
    first = latex(sp.sympify(cost.gradient([A[DEPTH, 1]], [Y[1]])[0]))
    n = sp.Symbol("n_L")
    last = latex(sp.sympify(cost.gradient([A[DEPTH, n]], [Y[n]])[0]))
    return (r"\frac{\partial C}{\partial a_L} = \begin{bmatrix} " + first + r" & \cdots & "
            + last + r" \end{bmatrix}")


def _equations(d: Derivation, tag: _Tags, s: str, softmax: bool) -> dict[str, str]:
    net = d.net
    out_jacobian = (r"\operatorname{diag}(a_L) - a_L\, a_L^{T}" if softmax
                    else rf"\operatorname{{diag}}\bigl({s}'(z_L)\bigr)")
    base = (r"\delta_L = \Bigl(\frac{\partial C}{\partial z_L}\Bigr)^{T} = "
            rf"\Bigl({out_jacobian}\Bigr)^{{T}} \nabla_{{a_L}} C")
    if not softmax:
        base += rf" = \nabla_{{a_L}} C \odot {s}'(z_L)"
    eq = {
        "cost_row": tag(_cost_row(d), f"{net.cost} gradient"),
        "gradient": r"\nabla_{a_L} C = \Bigl(\frac{\partial C}{\partial a_L}\Bigr)^{T}",
        "diag": tag(rf"\frac{{\partial a_l}}{{\partial z_l}} = \operatorname{{diag}}\bigl("
                    rf"{s}'(z_l)\bigr), \qquad \Bigl(\frac{{\partial a_l}}{{\partial z_l}}"
                    rf"\Bigr)_{{jk}} = [j = k]\, {s}'\bigl(z^{{(l)}}_j\bigr)", "diag"),
        "hadamard": tag(rf"\operatorname{{diag}}\bigl({s}'(z)\bigr)\, v = v \odot {s}'(z)",
                        "hadamard"),
    }
    if softmax:
        eq["softmax"] = tag(r"\frac{\partial a_L}{\partial z_L} = \operatorname{diag}(a_L) - "
                            r"a_L\, a_L^{T}", "softmax matrix")
        eq["softmax_entry"] = tag(r"\frac{\partial}{\partial z_k} \frac{e^{z_j}}{\sum_m e^{z_m}}"
                                  r" = a_j\bigl([j = k] - a_k\bigr)",
                                  f"{net.activations[-1]} Jacobian")
    eq |= {
        "linear": tag(r"\frac{\partial z_l}{\partial a_{l-1}} = W_l, \qquad "
                      r"\frac{\partial z^{(l)}_j}{\partial a^{(l-1)}_k} = w^{(l)}_{jk}", "linear"),
        "base": tag(base, LEMMAS["base"]),
        "row_step": r"\underbrace{\frac{\partial C}{\partial z_l}}_{1 \times n_l} = "
                    r"\underbrace{\frac{\partial C}{\partial z_{l+1}}}_{1 \times n_{l+1}}\, "
                    r"\underbrace{W_{l+1}}_{n_{l+1} \times n_l}\, "
                    rf"\underbrace{{\operatorname{{diag}}\bigl({s}'(z_l)\bigr)}}"
                    r"_{n_l \times n_l}",
        "step": tag(rf"\delta_l = \operatorname{{diag}}\bigl({s}'(z_l)\bigr)\, W_{{l+1}}^{{T}}\,"
                    rf" \delta_{{l+1}} = \bigl(W_{{l+1}}^{{T}} \delta_{{l+1}}\bigr) \odot "
                    rf"{s}'(z_l)", LEMMAS["step"]),
        "third": tag(r"\Bigl(\frac{\partial z_l}{\partial W_l}\Bigr)_{i,jk} = "
                     r"\frac{\partial z^{(l)}_i}{\partial w^{(l)}_{jk}} = [i = j]\, "
                     r"a^{(l-1)}_k", "third-order"),
        "contract": tag(r"\Bigl(\frac{\partial C}{\partial W_l}\Bigr)_{jk} = \sum_{i=1}^{n_l} "
                        r"\delta^{(l)}_i\, [i = j]\, a^{(l-1)}_k = \delta^{(l)}_j\, a^{(l-1)}_k,"
                        r" \qquad \frac{\partial C}{\partial W_l} = \delta_l\, a_{l-1}^{T}",
                        LEMMAS["W"]),
        "bias": tag(r"\frac{\partial z_l}{\partial b_l} = I_{n_l}, \qquad "
                    r"\frac{\partial C}{\partial b_l} = \delta_l", LEMMAS["b"]),
        "vec": tag(r"z_l = W_l\, a_{l-1} + b_l = \bigl(a_{l-1}^{T} \otimes I_{n_l}\bigr)\, "
                   r"\operatorname{vec}(W_l) + b_l", "vec"),
        "kronecker": tag(r"\frac{\partial z_l}{\partial \operatorname{vec}(W_l)} = "
                         r"a_{l-1}^{T} \otimes I_{n_l}", "kronecker"),
        "kronecker_contract": tag(r"\frac{\partial C}{\partial \operatorname{vec}(W_l)} = "
                                  r"\delta_l^{T} \bigl(a_{l-1}^{T} \otimes I_{n_l}\bigr) = "
                                  r"\operatorname{vec}\bigl(\delta_l\, a_{l-1}^{T}\bigr)^{T}",
                                  "kronecker contraction"),
        "batch_forward": _batch_forward(s, softmax),
        "batch_step": tag(rf"\Delta_l = \bigl(\Delta_{{l+1}} W_{{l+1}}\bigr) \odot {s}'(Z_l)",
                          "batch step"),
        "batch_weights": tag(r"\frac{\partial C}{\partial W_l} = \sum_{s=1}^{B} "
                             r"\delta^{(s)}_l\, a^{(s)T}_{l-1} = \Delta_l^{T} A_{l-1}",
                             "batch weights"),
        "batch_biases": tag(r"\frac{\partial C}{\partial b_l} = \sum_{s=1}^{B} \delta^{(s)}_l "
                            r"= \Delta_l^{T} \mathbf{1}", "batch biases"),
        "theorem": tag(r"\frac{\partial C}{\partial W_l} = \delta_l\, a_{l-1}^{T}, \quad "
                       r"\frac{\partial C}{\partial b_l} = \delta_l \qquad "
                       r"\text{for every } L \text{ and } n_0, \dots, n_L", "theorem"),
    }
    return eq


def _batch_forward(s: str, softmax: bool) -> str:
    """The forward pass of a batch; a softmax output on a line of its own."""
    head = r"A_0 = X, \qquad Z_l = A_{l-1} W_l^{T} + \mathbf{1}\, b_l^{T}"
    if not softmax:
        return rf"{head}, \qquad A_l = {s}(Z_l)"
    return (f"\\begin{{aligned}}\n&{head}, \\\\\n"
            rf"&A_l = {s}(Z_l) \quad (l < L), \qquad A_L = \operatorname{{softmax}}(Z_L) "
            "\\text{ row by row}\n\\end{aligned}")


def _vjp(d: Derivation, s: str) -> str:
    """This network's backward pass as row vectors times Jacobians, each row with its shape."""
    n, rows = d.net.widths, []
    for l in range(d.L, 0, -1):
        act = d.net.activation(l)
        if act.elementwise:
            jac = rf"\operatorname{{diag}}\bigl({act.latex}'(z_{{{l}}})\bigr)"
        else:
            jac = rf"\bigl(\operatorname{{diag}}(a_{{{l}}}) - a_{{{l}}} a_{{{l}}}^{{T}}\bigr)"
        a_prev = "x" if l == 1 else f"a_{{{l - 1}}}"
        rows.append(rf"\frac{{\partial C}}{{\partial z_{{{l}}}}} &= \frac{{\partial C}}"
                    rf"{{\partial a_{{{l}}}}}\, {jac} && \qquad 1 \times {n[l]}")
        rows.append(rf"\frac{{\partial C}}{{\partial W_{{{l}}}}} &= \Bigl(\frac{{\partial C}}"
                    rf"{{\partial z_{{{l}}}}}\Bigr)^{{T}} {a_prev}^{{T}} "
                    rf"&& \qquad {n[l]} \times {n[l - 1]}")
        if l > 1:
            rows.append(rf"\frac{{\partial C}}{{\partial a_{{{l - 1}}}}} &= \frac{{\partial C}}"
                        rf"{{\partial z_{{{l}}}}}\, W_{{{l}}} && \qquad 1 \times {n[l - 1]}")
    return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"


def _summary(s: str) -> str:
    rows = [
        r"& \text{one example} && \qquad \text{a batch of } B",
        rf"\text{{error}} \quad & \delta_l = \bigl(W_{{l+1}}^{{T}} \delta_{{l+1}}\bigr) \odot "
        rf"{s}'(z_l) && \qquad \Delta_l = \bigl(\Delta_{{l+1}} W_{{l+1}}\bigr) \odot "
        rf"{s}'(Z_l)",
        r"\text{weights} \quad & \frac{\partial C}{\partial W_l} = \delta_l\, a_{l-1}^{T} && "
        r"\qquad \frac{\partial C}{\partial W_l} = \Delta_l^{T} A_{l-1}",
        r"\text{biases} \quad & \frac{\partial C}{\partial b_l} = \delta_l && "
        r"\qquad \frac{\partial C}{\partial b_l} = \Delta_l^{T} \mathbf{1}",
    ]
    return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"
