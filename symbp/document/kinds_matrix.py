"""The matrix chapter for a network of layer kinds, as plain data: "Backpropagation with Matrix
Calculus", layer by layer.

For each layer: its forward pass in vector notation, the Jacobian of its map in matrix form
where the kind has one (``JACOBIANS``, each the formula ``proof.kinds_matrix`` builds and
compares with SymPy's jacobian of the maps), then the vector-Jacobian products it gives (δ,
the gradient passed down, each parameter's gradient), the chain rule beside the kind's
vector form. Every display carries the tags of the claims that checked it (M1, M2, ...); a
display whose claims are not all proved says so under it. The vector forms are printed from
the forms ``proof.vector_forms`` compared with the maps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import sympy as sp

from ..core.derivation import Derivation
from ..core.layers import Resolved
from ..core.status import worst
from ..printing import vector as vector_printing
from ..proof.claims import Claim
from ..proof.kinds_matrix import LayerIdentities, layer_identities, left_pad
from ..proof.vector_forms import layer_claim
from .checks import established
from .matrix import Check


@dataclass(frozen=True)
class Display:
    """One displayed identity: its LaTeX (tagged) and, when a claim behind it is not proved,
    which and why (plain text; "" when every claim is proved)."""

    tex: str
    unproved: str = ""


@dataclass
class LayerSection:
    index: int
    kind: str  # the kind's name: the template its section takes
    heading: str  # plain text: "Layer 2: a residual block with a projection, tanh"
    shape_in: str  # LaTeX: 1 \times 8
    shape_out: str
    params: str  # LaTeX: K_1\ (2 \times 1 \times 3),\ b_1\ (2)
    sigma: str  # LaTeX: the layer's activation
    words: dict[str, str]  # LaTeX: numbers and names its prose uses (k, p, T, n, ...)
    eq: dict[str, Display] = field(default_factory=dict)  # forward, jacobian, block, steps,
    # delta, input: each present where the layer has it
    gradients: list[Display] = field(default_factory=list)  # one per parameter
    unchecked: str = ""  # plain text: why its chain-rule claims are not made, or ""


@dataclass(frozen=True)
class KindsMatrixChapter:
    title: str  # plain text
    network: str  # plain text
    layers: list[LayerSection]
    checks: list[Check]
    groups: list[tuple[str, str, list[Check]]]
    status: str  # proved when every tagged claim is
    program: str  # plain text: the fingerprint of the program these layers are


class _Tags:
    """Numbers claims in the order the chapter first shows them: M1, M2, ..."""

    def __init__(self) -> None:
        self.used: list[Claim] = []
        self.titles: dict[str, str] = {}  # a claim's name → what it is about, mixed text

    def __call__(self, body: str, claims: list[Claim]) -> Display:
        for c in claims:
            if c not in self.used:
                self.used.append(c)
        tags = ", ".join(f"M{self.used.index(c) + 1}" for c in claims)
        bad = [c for c in claims if c.status != "proved"]
        note = "; ".join(f"M{self.used.index(c) + 1} is {c.status}" +
                         (f" at entry {c.entry}" if c.entry else "") +
                         (f": {c.residual}" if c.residual else "") for c in bad)
        return Display(rf"{body} \tag{{{tags}}}" if tags else body, note)


def kinds_matrix_chapter(d: Derivation) -> KindsMatrixChapter:
    net = d.net
    tag = _Tags()
    layers = [_section(d, r, layer_identities(r), tag) for r in net.resolved]
    checks = [Check(f"M{n}", c.label, tag.titles[c.label], c.status, established(c.how))
              for n, c in enumerate(tag.used, start=1)]
    groups: dict[tuple[str, str], list[Check]] = {}
    for check in checks:
        groups.setdefault((check.status, check.established), []).append(check)
    kinds = " + ".join(dict.fromkeys(r.kind.name for r in net.resolved))
    return KindsMatrixChapter(
        title="Backpropagation with Matrix Calculus",
        network=f"a network of {kinds} layers ({' + '.join(dict.fromkeys(net.activations))}, "
                f"{net.cost})",
        layers=layers, checks=checks,
        groups=[(status, how, members) for (status, how), members in groups.items()],
        status=worst({c.status for c in tag.used}).value, program=d.program.fingerprint)


def _shape(shape: tuple[int, ...]) -> str:
    return r" \times ".join(map(str, shape))


def _section(d: Derivation, r: Resolved, found: LayerIdentities, tag: _Tags) -> LayerSection:
    l, maps = r.index, r.maps
    act = d.net.activation(l)
    sigma = act.latex
    forms_claim = layer_claim(r) if r.kind.forms is not None else None
    forms = vector_printing.printed(r, sigma) if r.kind.forms is not None else {}
    names = {p.name: r.kind.words.get(p.name, p.name) for p in maps.params}
    section = LayerSection(
        index=l, kind=r.kind.name, heading=f"Layer {l}: {r.kind.described(r.layer)}, {act.name}",
        shape_in=_shape(r.shape_in), shape_out=_shape(r.shape_out),
        params=r",\ ".join(rf"{names[p]}_{{{l}}}\ ({_shape(s)})"
                           for p, s in r.parameters.items()),
        sigma=sigma, words=_words(r), unchecked=found.unchecked)
    claims = found.claims
    own = [forms_claim] if forms_claim is not None else []
    roles = {"jacobian": "its Jacobian in matrix form, against SymPy's jacobian of its maps",
             "steps": "the product of the steps' Jacobians through time, against the unrolled "
                      "steps",
             "delta": r"$\delta$ from $g$, the chain rule through the activation",
             "input": "the gradient passed down: the Jacobian transposed times $\\delta$, "
                      "against the kind's input vector-Jacobian product",
             **{p: f"the gradient of ${names[p]}$: the chain rule against the kind's map"
                for p in names}}
    for role, c in claims.items():
        tag.titles[c.label] = f"layer {l}, {roles[role]}"
    if forms_claim is not None:
        tag.titles[forms_claim.label] = f"layer {l}, its vector forms equal its maps"
    if "forward" in forms:
        section.eq["forward"] = tag(forms["forward"], own)
    builder = JACOBIANS.get(r.kind.name)
    if builder is not None and "jacobian" in claims:
        section.eq["jacobian"] = tag(builder(r, sigma), [claims["jacobian"]])
        if "block" in found.shown:
            block = _matrix_latex(found.shown["block"])
            section.eq["block"] = tag(rf"T(k) = {block}", [claims["jacobian"]])
    if "steps" in claims:
        section.eq["steps"] = tag(_steps(r, sigma), [claims["steps"]])
    below = l - 1
    t = ",t" if maps.pre.own is not None else ""  # a scan: one step t at a time
    if "delta" in claims:
        chain = rf"\Bigl(\frac{{\partial a_{{{l}}}}}{{\partial z_{{{l}{t}}}}}\Bigr)^{{T}} g_{{{l}}}"
        if t:
            chain += rf" + \Bigl(\frac{{\partial z_{{{l},t+1}}}}{{\partial z_{{{l},t}}}}" \
                     rf"\Bigr)^{{T}} \delta_{{{l},t+1}}"
        section.eq["delta"] = tag(_joined(rf"\delta_{{{l}{t}}}", chain, forms.get("delta")),
                                  [claims["delta"], *own])
    elif "delta" in forms:  # no chain-rule claims for this kind: its forms, as proved
        section.eq["delta"] = tag(forms["delta"], own)
    if "input" in claims:
        chain = rf"\Bigl(\frac{{\partial z_{{{l}{t}}}}}{{\partial a_{{{below}{t}}}}}\Bigr)^{{T}} " \
                rf"\delta_{{{l}{t}}}"
        if maps.skip is not None:
            chain += rf" + \Bigl(\frac{{\partial\, \mathrm{{skip}}_{{{l}}}}}" \
                     rf"{{\partial a_{{{below}}}}}\Bigr)^{{T}} g_{{{l}}}"
        section.eq["input"] = tag(_joined(rf"g_{{{below}{t}}}", chain, forms.get("input")),
                                  [claims["input"], *own])
    elif "input" in forms:  # no chain-rule claims for this kind: its forms, as proved
        section.eq["input"] = tag(forms["input"], own)
    in_skip = {p.name for p in maps.skip.params} if maps.skip is not None else set()
    for p in maps.params:
        name = rf"{names[p.name]}_{{{l}}}"
        through, by = ("\\mathrm{skip}", "g") if p.name in in_skip else ("z", "\\delta")
        lhs = rf"\frac{{\partial C}}{{\partial {name}}}"
        if p.name not in claims:  # no chain-rule claims for this kind: its forms, as proved
            if p.name in forms:
                section.gradients.append(tag(f"{lhs} = {forms[p.name]}", own))
            continue
        chain = rf"\sum_{{i}} {by}_{{{l},i}}\, \frac{{\partial {through}_{{{l},i}}}}" \
                rf"{{\partial {name}}}"
        if p.name in forms:
            chain += f" = {forms[p.name]}"
        section.gradients.append(tag(f"{lhs} = {chain}", [claims[p.name], *own]))
    return section


def _joined(lhs: str, chain: str, form: str | None) -> str:
    """lhs = chain = the form's right side when the form states lhs; else the form beside."""
    if form is None:
        return f"{lhs} = {chain}"
    if form.startswith(f"{lhs} = "):
        return f"{lhs} = {chain} = {form[len(lhs) + 3:]}"
    return rf"{lhs} = {chain}, \qquad {form}"


def _words(r: Resolved) -> dict[str, str]:
    """The numbers a kind's prose quotes, as LaTeX."""
    sizes = {str(k): v for k, v in r.sizes.items()}
    words = {"l": str(r.index), "below": str(r.index - 1),
             "projection": "yes" if r.layer.get("projection", False) else ""}
    if r.kind.name == "conv1d":
        words |= {"k": str(sizes["k_conv"]), "p": str(left_pad(r)), "q": str(sizes["q_pool"]),
                  "n": str(r.maps.z.shape(r.sizes)[1]), "N": str(r.shape_in[-1])}
    if r.kind.name == "recurrent":
        words |= {"T": str(sizes["T_steps"]), "H": str(sizes["h_rnn"])}
    if r.kind.name in ("layernorm",):
        words["n"] = str(sizes["n_norm"])
    if r.kind.name == "batchnorm":
        words["B"] = str(sizes["B"])
    return words


# ---------------------------------------------------------------- each kind's Jacobian, as shown


def _dense(r: Resolved, s: str) -> str:
    l = r.index
    return rf"\frac{{\partial z_{{{l}}}}}{{\partial a_{{{l - 1}}}}} = W_{{{l}}}"


def _per_sample(r: Resolved, s: str) -> str:
    l, samples = r.index, r.shape_in[1]
    return rf"\frac{{\partial z_{{{l}}}}}{{\partial a_{{{l - 1}}}}} = W_{{{l}}} \otimes " \
           rf"I_{{{samples}}}"


def _residual(r: Resolved, s: str) -> str:
    l = r.index
    skip = f"P_{{{l}}}" if r.layer.get("projection", False) else "I"
    return rf"\frac{{\partial a_{{{l}}}}}{{\partial a_{{{l - 1}}}}} = \operatorname{{diag}}" \
           rf"\bigl({s}'(z_{{{l}}})\bigr)\, W_{{{l}}} + {skip}"


def _conv(r: Resolved, s: str) -> str:
    l, p, k = r.index, left_pad(r), r.layer.get("kernel")
    shift = "u - t + 1" + (f" + {p}" if p else "")
    return (rf"\Bigl(\frac{{\partial z_{{{l}}}}}{{\partial a_{{{l - 1}}}}}\Bigr)_{{(o,t),(c,u)}}"
            rf" = [1 \le {shift} \le {k}]\; K_{{{l}}}[o, c, {shift}]")


def _recurrent(r: Resolved, s: str) -> str:
    l = r.index
    return (rf"\frac{{\partial s_{{{l},t}}}}{{\partial s_{{{l},t-1}}}} = \operatorname{{diag}}"
            rf"\bigl({s}'(z_{{{l},t}})\bigr)\, W_{{{l}}} \qquad (t = 2, \dots, "
            rf"{r.maps.z.shape(r.sizes)[1]})")


def _steps(r: Resolved, s: str) -> str:
    l, steps = r.index, r.maps.z.shape(r.sizes)[1]

    def factor(t: int) -> str:
        return rf"\operatorname{{diag}}\bigl({s}'(z_{{{l},{t}}})\bigr)\, W_{{{l}}}"

    shown = [factor(t) for t in range(steps, 1, -1)]
    if len(shown) > 4:
        shown = [*shown[:2], r"\cdots", shown[-1]]
    return rf"\frac{{\partial s_{{{l},{steps}}}}}{{\partial s_{{{l},1}}}} = " + r"\, ".join(shown)


def _layernorm(r: Resolved, s: str) -> str:
    l, n = r.index, r.shape_in[0]
    return (rf"\frac{{\partial z_{{{l}}}}}{{\partial a_{{{l - 1}}}}} = \operatorname{{diag}}"
            rf"(\gamma_{{{l}}})\, \frac{{1}}{{s_{{{l}}}}} \Bigl(I - \frac{{1}}{{{n}}} \mathbf{{1}}"
            rf"\mathbf{{1}}^{{T}} - \frac{{1}}{{{n}}} \hat{{x}}_{{{l}}} \hat{{x}}_{{{l}}}^{{T}}"
            r"\Bigr)")


def _batchnorm(r: Resolved, s: str) -> str:
    l, b = r.index, r.shape_in[1]
    return (rf"\frac{{\partial z_{{{l}}}[c, \cdot]}}{{\partial a_{{{l - 1}}}[c, \cdot]}} = "
            rf"\frac{{\gamma_{{{l},c}}}}{{s_{{{l},c}}}} \Bigl(I - \frac{{1}}{{{b}}} \mathbf{{1}}"
            rf"\mathbf{{1}}^{{T}} - \frac{{1}}{{{b}}} \hat{{x}}_{{{l},c}} \hat{{x}}_{{{l},c}}^{{T}}"
            rf"\Bigr), \qquad \frac{{\partial z_{{{l}}}[c, \cdot]}}{{\partial a_{{{l - 1}}}"
            rf"[c', \cdot]}} = 0 \quad (c' \ne c)")


JACOBIANS: dict[str, Callable[[Resolved, str], str]] = {  # as proof.kinds_matrix.STRUCTURES
    "dense": _dense, "dense_per_sample": _per_sample, "residual": _residual, "conv1d": _conv,
    "recurrent": _recurrent, "layernorm": _layernorm, "batchnorm": _batchnorm,
}


def _matrix_latex(m: sp.Matrix, most: int = 12, corner: int = 6) -> str:
    """``m`` as a bmatrix; past ``most`` rows or columns, its first ``corner`` and its last
    with dots between, as the matrix was checked whole (a digits convolution's block is
    62 × 64, past what a page or amsmath's 20 columns take)."""
    if m.rows <= most and m.cols <= most:
        return sp.latex(m, mat_str="bmatrix", mat_delim="")

    def keep(n: int) -> list[int | None]:  # None: the dots
        return list(range(n)) if n <= most else [*range(corner), None, n - 1]

    rows = []
    for i in keep(m.rows):
        cells = [(r"\vdots" if i is None and j is not None else r"\ddots" if i is None
                  else r"\cdots" if j is None else sp.latex(m[i, j])) for j in keep(m.cols)]
        rows.append(" & ".join(cells))
    return r"\begin{bmatrix}" + r" \\ ".join(rows) + r"\end{bmatrix}"
