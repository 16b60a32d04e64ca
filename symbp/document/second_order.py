"""The chapter "Second order" as plain data: the Hessian step by step, as the seed does the
gradient, then H v, the Gauss–Newton matrix, the worked example in numbers, and the claims.

Steps: the output layer's block (Ω_L = ∂²C/∂z_L², its Gauss–Newton part and its residual),
curvature propagated back (Ω_l from Ω_(l+1)), the cross-layer blocks (Γ_l), Hessian-vector
products by the R-operator, and Gauss–Newton (positive semidefinite, equal to H where the
residual vanishes, Kronecker-factored blocks). Every display names the claim that checked
it; the last section lists those claims with their status, per network and for every
width and depth.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy as sp

from ..core import curvature
from ..core.derivation import Derivation
from ..core.second_order import SecondDerivation
from ..printing.latex import Printer, aligned, number_latex
from ..printing.width import width
from ..proof.claims import Proof
from ..proof.gauss_newton import vanishing_output_residual
from ..proof.hvp_theorem import covers_hvp
from ..proof.second_order_theorem import covers_second_order, second_order_theorem
from .example import Example
from .numbers import decimal_text
from .second_numbers import agree, evaluate_second


@dataclass(frozen=True)
class Check:
    """One claim of the theorem: its name, what it says (LaTeX), its status, why not."""

    name: str  # plain text
    statement: str  # LaTeX
    status: str
    how: str  # plain text: why it is not proved ("" when it is)


@dataclass(frozen=True)
class LayerStep:
    """One hidden layer of the curvature recursion, from the output down. LaTeX displays."""

    l: int
    title: str  # plain text
    curvature: str  # Ω_l = D (W_(l+1)ᵀ Ω_(l+1) W_(l+1)) D + diag(...)
    entry: str  # this network's Ω^{(l)}_{11}, in layered symbols


@dataclass(frozen=True)
class WorkedSecond:
    """The worked example in numbers. LaTeX displays, and plain-text facts."""

    digits: int
    curvature: list[tuple[int, str]]  # (l, display Ω_l = numbers), output layer first
    hessian: list[tuple[int, str]]  # (l, display): the blocks of θ_l's rows, from the diagonal
    gauss_newton: str  # display: G on the output layer's block beside H's
    check: str  # display: the central difference of ∂C/∂w^{(1)}_{11} and H_11
    agree: bool
    weight: str  # LaTeX: w^{(1)}_{11}
    step_size: str  # LaTeX number


@dataclass(frozen=True)
class SecondOrderChapter:
    title: str  # plain
    network: str  # plain: "the 2-3-3-2 network (sigmoid, mse)"
    cost: str  # plain: the cost's name
    absorbed: bool  # softmax with cross-entropy: the split is at z_L
    sizes: str  # LaTeX inline: P = ..., θ_l sizes
    L: int
    eq: dict[str, str]  # LaTeX displays
    output: str  # display: this network's Ω_L, in layered symbols
    steps: list[LayerStep]
    psd: str  # LaTeX display: how H_C is PSD for this cost
    targets: str  # plain: the targets the PSD claim needs
    residual_vanishes: bool  # H = G on the output block (identity output or absorbed σ_L)
    worked: WorkedSecond | None
    checks: list[Group]  # per network, claims settled alike together
    theorem: list[Check]  # for every width and depth
    status: str  # of the per-network proof
    method: str
    theorem_status: str
    programs: list[tuple[str, str]]  # (program, fingerprint)
    runs_proved: str  # plain: "" when the generated code runs the programs proved here


def second_order_chapter(d: Derivation, proof: Proof,
                         example: Example | dict | None = None) -> SecondOrderChapter:
    """The chapter of ``d``, a derivation of order 2, and its second-order ``proof``."""
    if not isinstance(d, SecondDerivation):
        raise ValueError("the second-order chapter needs symbp.derive(net, order=2)")
    net = d.net
    P = Printer(d.latex_names, ordered=True)
    absorbed = curvature.absorbs_output(net.cost_entry)
    layers = list(dict.fromkeys(net.activations[:-1] or net.activations))
    hidden = layers[0] if len(layers) == 1 else "generic"
    general = second_order_theorem(hidden, net.cost, output=net.activations[-1])
    sizes = ", ".join(rf"\theta_{{{l}}}: {d.params(l)}" for l in d.layers)
    psd = PSD.get(net.cost, "")
    runs = "" if general.holds else f"the theorem is {general.status} for it"
    return SecondOrderChapter(
        title=TITLE,
        network=f"the {'-'.join(map(str, net.widths))} network "
                f"({' + '.join(dict.fromkeys(net.activations))}, {net.cost})",
        cost=net.cost, absorbed=absorbed,
        sizes=rf"P = {d.params_from(1)} \quad ({sizes})", L=d.L,
        eq=_equations(d, absorbed), output=_output(d, P),
        steps=[_layer(d, P, l) for l in range(d.L - 1, 0, -1)],
        psd=psd, targets=curvature.TARGETS_TEXT[net.cost],
        residual_vanishes=vanishing_output_residual(d),
        worked=None if example is None else _worked(d, P, example),
        checks=_groups(proof.claims), theorem=[_check(c) for c in general.claims],
        status=proof.status, method=proof.method, theorem_status=general.status,
        programs=[(name, p.fingerprint) for name, p in d.programs.items()],
        runs_proved=runs or covers_second_order(d) or covers_hvp(d))


TITLE = "Second order: the Hessian, Gauss–Newton and H v"  # the chapter's, dense or kinds
PSD = {  # how H_C is positive semidefinite: LaTeX
    "mse": r"H_C = I, \quad v^{T} H_C\, v = \sum_j v_j^2 \ge 0",
    "bce": r"v^{T} H_C\, v = \sum_j \Bigl(y_j \frac{1}{a_j^2} + (1 - y_j) \frac{1}{(1 - a_j)^2}"
           r"\Bigr) v_j^2 \ge 0 \quad \text{for } 0 \le y_j \le 1",
    "softmax_ce": r"H_C = \Bigl(\sum_m y_m\Bigr) \sum_i p_i\, (e_i - p)(e_i - p)^{T}, \quad "
                  r"v^{T} H_C\, v = \Bigl(\sum_m y_m\Bigr) \sum_i p_i \bigl((e_i - p)^{T} v"
                  r"\bigr)^2 \ge 0",
}


@dataclass(frozen=True)
class Group:
    """Claims settled alike, shown as one line: their names, one status, one way."""

    names: str  # plain: "H row 2, H row 1"
    status: str
    how: str  # plain


def _groups(claims) -> list[Group]:
    found: dict[tuple[str, str, str], list[str]] = {}
    for c in claims:
        how = c.how if c.proved else f"{c.how}; {c.culprit or c.residual}".rstrip("; ")
        stem = re.sub(r"[\d,]+$", "", c.label).strip()
        found.setdefault((stem, c.status, how), []).append(c.label)
    return [Group(", ".join(names), status, how) for (_, status, how), names in found.items()]


def _check(c) -> Check:
    how = "" if c.proved else f"{c.culprit or c.residual}"
    return Check(c.label, c.latex, c.status, how)


def _cost_hessian(d: SecondDerivation, absorbed: bool) -> str:
    cost = d.net.cost
    if absorbed:
        return (r"H_C = \frac{\partial^2 C}{\partial z_L^2} = \Bigl(\sum_m y_m\Bigr)"
                r"\bigl(\operatorname{diag}(a_L) - a_L\, a_L^{T}\bigr)")
    h = curvature.cost_hessian_term(d.net.cost_entry)(sp.Symbol("a_j"), sp.Symbol("y_j"))
    entry = sp.latex(h).replace("a_{j}", "a_j").replace("y_{j}", "y_j")
    name = r"I" if h == 1 else rf"\operatorname{{diag}}_j\Bigl({entry}\Bigr)"
    return rf"H_C = \frac{{\partial^2 C}}{{\partial a_L^2}} = {name} \qquad \text{{({cost})}}"


def _equations(d: SecondDerivation, absorbed: bool) -> dict[str, str]:
    L = d.L
    s = d.net.activation(L).latex if not absorbed else r"\sigma"
    return {
        "hessian": r"H = \frac{\partial^2 C}{\partial \theta\, \partial \theta^{T}}, \qquad "
                   r"H_{\theta_l \theta_m} = \frac{\partial^2 C}{\partial \theta_l\, "
                   r"\partial \theta_m^{T}} = H_{\theta_m \theta_l}^{T}",
        "theta": r"\theta_l = \bigl(w^{(l)}_{11}, w^{(l)}_{12}, \dots, w^{(l)}_{n_l n_{l-1}}, "
                 r"b^{(l)}_1, \dots, b^{(l)}_{n_l}\bigr), \qquad J_l = "
                 r"\frac{\partial z_l}{\partial \theta_l} = \bigl[\, I \otimes a_{l-1}^{T} "
                 r"\;\big|\; I \,\bigr]",
        "split": r"\frac{\partial^2 C}{\partial z_L^2} = \underbrace{J_\sigma^{T}\, H_C\, "
                 r"J_\sigma}_{\text{Gauss-Newton part}} + \underbrace{\sum_j "
                 r"\frac{\partial C}{\partial a^{(L)}_j}\, \frac{\partial^2 a^{(L)}_j}"
                 r"{\partial z_L^2}}_{\text{residual}}",
        "output": (r"\Omega_L = H_C" if absorbed else
                   rf"\Omega_L = \operatorname{{diag}}\bigl({s}'(z_L)\bigr)\, H_C\, "
                   rf"\operatorname{{diag}}\bigl({s}'(z_L)\bigr) + \operatorname{{diag}}\bigl("
                   rf"\nabla_{{a_L}} C \odot {s}''(z_L)\bigr)"),
        "cost_hessian": _cost_hessian(d, absorbed),
        "block": r"\frac{\partial^2 C}{\partial w^{(l)}_{jk}\, \partial w^{(l)}_{j'k'}} = "
                 r"\Omega^{(l)}_{jj'}\, a^{(l-1)}_k a^{(l-1)}_{k'}, \qquad "
                 r"H_{\theta_l \theta_l} = J_l^{T}\, \Omega_l\, J_l",
        "blocks": r"H_{W_l W_l} = \Omega_l \otimes a_{l-1} a_{l-1}^{T}, \qquad "
                  r"H_{W_l b_l} = \Omega_l \otimes a_{l-1}, \qquad H_{b_l b_l} = \Omega_l",
        "step": r"\Omega_l = \operatorname{diag}\bigl(\sigma'(z_l)\bigr)\, W_{l+1}^{T}\, "
                r"\Omega_{l+1}\, W_{l+1}\, \operatorname{diag}\bigl(\sigma'(z_l)\bigr) + "
                r"\operatorname{diag}\bigl((W_{l+1}^{T} \delta_{l+1}) \odot \sigma''(z_l)\bigr)",
        "twice": r"\frac{\partial^2 C}{\partial z^{(l)}_k\, \partial z^{(l)}_{k'}} = "
                 r"\sum_{i,i'} \Omega^{(l+1)}_{ii'}\, \frac{\partial z^{(l+1)}_i}"
                 r"{\partial z^{(l)}_k} \frac{\partial z^{(l+1)}_{i'}}{\partial z^{(l)}_{k'}} + "
                 r"\sum_i \delta^{(l+1)}_i\, \frac{\partial^2 z^{(l+1)}_i}{\partial z^{(l)}_k\, "
                 r"\partial z^{(l)}_{k'}}",
        "cross": r"\Gamma_l = \frac{\partial \delta_l}{\partial \theta_{\ge l}} = \Bigl[\, "
                 r"\Omega_l J_l \;\Big|\; \operatorname{diag}\bigl(\sigma'(z_l)\bigr) "
                 r"\bigl(W_{l+1}^{T}\, \Gamma_{l+1} + E_{l+1}\bigr) \Bigr]",
        "cross_term": r"\bigl(E_{l+1}\bigr)_{k,\; w^{(l+1)}_{ij}} = "
                      r"\frac{\partial \bigl(W_{l+1}^{T} \delta_{l+1}\bigr)_k}"
                      r"{\partial w^{(l+1)}_{ij}} = [k = j]\, \delta^{(l+1)}_i",
        "cross_block": r"H_{\theta_l \theta_m} = J_l^{T}\, \Gamma_l \big|_{\theta_m} "
                       r"\quad (m \ge l)",
        "rop_forward": r"\dot z_l = V_l\, a_{l-1} + W_l\, \dot a_{l-1} + v_{b_l}, \qquad "
                       r"\dot a_l = \sigma'(z_l) \odot \dot z_l, \qquad \dot a_0 = 0",
        "rop_back": r"\dot\delta_l = \sigma'(z_l) \odot \bigl(V_{l+1}^{T} \delta_{l+1} + "
                    r"W_{l+1}^{T} \dot\delta_{l+1}\bigr) + \sigma''(z_l) \odot \dot z_l \odot "
                    r"\bigl(W_{l+1}^{T} \delta_{l+1}\bigr)",
        "rop_out": r"(H v)_{W_l} = \dot\delta_l\, a_{l-1}^{T} + \delta_l\, \dot a_{l-1}^{T}, "
                   r"\qquad (H v)_{b_l} = \dot\delta_l",
        "gauss_newton": r"G = J^{T} H_C\, J, \qquad J = \frac{\partial s}{\partial \theta}, "
                        r"\qquad H = G + \sum_j \frac{\partial C}{\partial s_j}\, "
                        r"\frac{\partial^2 s_j}{\partial \theta\, \partial \theta^{T}}",
        "psd": r"v^{T} G\, v = (J v)^{T} H_C\, (J v) \ge 0",
        "kfac": r"G_{W_l W_l} = \bigl(B_l^{T} H_C B_l\bigr) \otimes \bigl(a_{l-1} a_{l-1}^{T}"
                r"\bigr), \qquad B_l = \frac{\partial s}{\partial z_l}",
        "kfac_gap": r"\sum_{s=1}^{B} \Omega_s \otimes A_s - \frac{1}{B} \Bigl(\sum_{s=1}^{B} "
                    r"\Omega_s\Bigr) \otimes \Bigl(\sum_{t=1}^{B} A_t\Bigr) = \frac{1}{2B} "
                    r"\sum_{s,t} \bigl(\Omega_s - \Omega_t\bigr) \otimes \bigl(A_s - A_t\bigr)",
    }


def _output(d: SecondDerivation, P: Printer) -> str:
    """This network's Ω_L in layered symbols, its first entry if the matrix is too wide."""
    value = d.trace("hessian").curvature[d.L]
    L = d.L
    if value.is_diagonal():
        rows: list[tuple[str | None, str]] = []
        for j in range(min(value.rows, 3)):
            rows += P.rows(rf"\Omega^{{({L})}}_{{{j + 1}{j + 1}}}", value[j, j])
        off = (r"\Omega^{(" + str(L) + r")}_{jk}", r"0 \quad (j \ne k)") if value.rows > 1 else None
        return aligned(rows + ([off] if off else []))
    return P.defined(rf"\Omega_{{{L}}}", value)


def _layer(d: SecondDerivation, P: Printer, l: int) -> LayerStep:
    s = d.net.activation(l).latex
    rule = (rf"\Omega_{{{l}}} = \operatorname{{diag}}\bigl({s}'(z_{{{l}}})\bigr)\, "
            rf"W_{{{l + 1}}}^{{T}}\, \Omega_{{{l + 1}}}\, W_{{{l + 1}}}\, "
            rf"\operatorname{{diag}}\bigl({s}'(z_{{{l}}})\bigr) + \operatorname{{diag}}\bigl("
            rf"(W_{{{l + 1}}}^{{T}} \delta_{{{l + 1}}}) \odot {s}''(z_{{{l}}})\bigr)")
    value = d.trace("hessian").curvature[l]
    lhs = rf"\Omega^{{({l})}}_{{11}}"
    rows = P.rows(lhs, value[0, 0])
    fits = all(width(rhs) <= P.room(lhs) for _, rhs in rows)  # wide layers: the rule only
    return LayerStep(l, f"Propagate curvature back to layer {l}", rule,
                     aligned(rows) if fits else "")


def _worked(d: SecondDerivation, P: Printer, example: Example | dict) -> WorkedSecond:
    numbers = evaluate_second(d, example)
    digits = numbers.first.example.digits
    shown = min(digits, 4)  # blocks of 4-digit numbers fit two to a line

    def text(v: sp.Expr) -> str:
        return decimal_text(v, shown)

    curvature = [(l, rf"\Omega_{{{l}}} = {P.numbers(numbers.curvature[l - 1], text)}")
                 for l in range(d.L, 0, -1)]
    parts = [(f"{kind}_{{{l}}}", start, size) for l in d.layers for kind, start, size in (
        ("W", d.offset(l), len(d.weights(l))),
        ("b", d.offset(l) + len(d.weights(l)), len(d.biases(l))))]
    hessian: list[tuple[int, str]] = []  # one display per W_l or b_l: the pages break between
    for i, (p, start, size) in enumerate(parts):
        rows: list[tuple[str | None, str]] = []
        for q, start2, size2 in parts[i:]:  # its rows, from the diagonal on
            block = numbers.hessian[start:start + size, start2:start2 + size2]
            lhs = rf"H_{{{p} {q}}}"
            rows.append((lhs, P.numbers(block, text, budget=P.room(lhs))))
        hessian.append((i // 2 + 1, aligned(rows)))
    L = d.L
    last = slice(d.offset(L), d.offset(L) + d.params(L))
    gn = aligned([(rf"G_{{\theta_{{{L}}} \theta_{{{L}}}}}",
                   P.numbers(numbers.gauss_newton[last, last], text, max_cols=12))])
    value, quotient, h = numbers.check
    w = P(d.weights(1)[0, 0])
    check = aligned([(r"\frac{\partial C/\partial w (w + h) - \partial C/\partial w (w - h)}"
                      r"{2h}", number_latex(decimal_text(quotient, digits))),
                     (rf"\frac{{\partial^2 C}}{{\partial ({w})^2}}",
                      rf"{number_latex(decimal_text(value, digits))} \quad "
                      r"\text{(the curvature program)}")])
    return WorkedSecond(shown, curvature, hessian, gn, check,
                        agree(value, quotient, digits), w, number_latex(decimal_text(h, 2)))
