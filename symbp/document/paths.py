"""The path of influence as plain data: the chain rule per layer, its Jacobian factors,
one weight's gradient as a sum over paths, and the repetition the expansion carries.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import sympy as sp

from ..core.derivation import Derivation
from ..core.naming import vector_latex as vec
from ..core.routes import cost_row, local_jacobian
from ..printing.latex import Printer, aligned
from .steps import partial

MAX_PATHS = 8  # paths of the element-level example written out before "+ ⋯"
MAX_LINKS = 6  # factors of a chain shown before the middle ones become ⋯


@dataclass(frozen=True)
class Factor:
    """One local Jacobian ∂a_m/∂a_{m-1} of the path of influence."""

    m: int
    elementwise: bool  # diag(σ'(z_m)) W_m; else a full Jacobian times W_m
    display: str  # LaTeX display: ∂a_m/∂a_{m-1} = diag(σ'(z_m)) W_m = (the entries)


@dataclass(frozen=True)
class Example:
    """One weight's gradient written as a sum over its paths of influence."""

    weight: str  # LaTeX: w^{(1)}_{11}
    general: str  # LaTeX display: the sum over path indices
    explicit: str  # LaTeX display: the paths of this network
    paths: int
    shown: int


def _links(d: Derivation, l: int) -> list[str]:
    """∂C/∂a_L, ∂a_L/∂a_{L-1}, ..., ∂a_{l+1}/∂a_l: the chain down to ∂C/∂a_l."""
    return [partial("C", vec("a", d.L))] + [partial(vec("a", m), vec("a", m - 1))
                                            for m in range(d.L, l, -1)]


def _product(links: list[str]) -> str:
    if len(links) > MAX_LINKS:  # a deep network: first two, ⋯, last
        links = [*links[:2], r"\cdots", links[-1]]
    return r" \cdot ".join(links)


def chain_rules(d: Derivation) -> str:
    return aligned([(partial("C", vec("W", l)),
                     _product([*_links(d, l), partial(vec("a", l), vec("W", l))]))
                    for l in range(d.L, 0, -1)])


def shared_chains(d: Derivation) -> str:
    """Each chain with the part it shares with the layer above marked by an underbrace."""
    rows = [(partial("C", vec("W", d.L)),
             rf"{partial('C', vec('a', d.L))} \cdot {partial(vec('a', d.L), vec('W', d.L))}")]
    for l in range(d.L - 1, 0, -1):
        shared = _product(_links(d, l + 1))
        rest = rf"{partial(vec('a', l + 1), vec('a', l))} \cdot " \
               rf"{partial(vec('a', l), vec('W', l))}"
        brace = rf"\underbrace{{{shared}}}_{{\text{{as for }} {vec('W', l + 1)}}}"
        rows.append((partial("C", vec("W", l)), rf"{brace} \cdot {rest}"))
    return aligned(rows)


def jacobian_factor(d: Derivation, P: Printer, m: int) -> Factor:
    act = d.net.activation(m)
    name = partial(vec("a", m), vec("a", m - 1))
    if act.elementwise:
        structure = rf"\operatorname{{diag}}\bigl({act.latex}'({vec('z', m)})\bigr)\, {vec('W', m)}"
    else:
        structure = rf"{partial(vec('a', m), vec('z', m))}\, {vec('W', m)}"
    entries = P.defined_rows(name, d.expansion_factor(m))
    return Factor(m, act.elementwise, aligned([(name, structure)] +
                             [("" if lhs == name else lhs, rhs) for lhs, rhs in entries]))


def path_example(d: Derivation, P: Printer, l: int = 1, j: int = 1, k: int = 1) -> Example:
    """∂C/∂w^{(l)}_{jk} as a sum over paths: the index formula, then this network's paths."""
    L = d.L
    w_tex = P(d.weights(l)[j - 1, k - 1])
    indices = [f"i_{{{m}}}" for m in range(L, l - 1, -1)]  # i_L, ..., i_l
    if d.net.activation(l).elementwise:  # a^{(l)}_i depends on w_{jk} only for i = j
        indices[-1] = str(j)
    links = [partial("C", f"a^{{({L})}}_{{{indices[0]}}}")]
    links += [partial(f"a^{{({m})}}_{{{indices[L - m]}}}",
                      f"a^{{({m - 1})}}_{{{indices[L - m + 1]}}}") for m in range(L, l, -1)]
    links.append(partial(f"a^{{({l})}}_{{{indices[-1]}}}", w_tex))
    sums = "".join(rf"\sum_{{{i}}} " for i in indices if not i.isdigit())
    general = f"{partial('C', w_tex)} = {sums}" + r" \, ".join(links)

    count, paths = paths_of_influence(d, l, j, k, limit=MAX_PATHS)
    terms = [r" \, ".join(_factor_tex(P, f) for f in path) for path in paths]
    more = count - len(terms)
    note = f"{count} paths; the first {len(terms)} are written out" if more else ""
    explicit = P.lines(partial("C", w_tex), terms, more=more, note=note)
    return Example(w_tex, general, explicit, count, len(terms))


def paths_of_influence(d: Derivation, l: int, j: int, k: int,
                       limit: int | None = None) -> tuple[int, list[list[sp.Expr]]]:
    """The paths from w^{(l)}_{jk} to C: their number and the first ``limit`` of them.

    A path is the list of its local derivatives, output first: ∂C/∂a^{(L)}_{i_L},
    the entries ∂a^{(m)}_{i_m}/∂a^{(m-1)}_{i_{m-1}} of the expansion's Jacobians,
    and ∂a^{(l)}_{i_l}/∂w^{(l)}_{jk}. Summed over all paths, their products are
    the expansion's entry (j, k) of ∂C/∂W_l.
    """
    weight = d.weights(l)[j - 1, k - 1]
    last = local_jacobian(d, l, sp.Matrix([weight]))
    own = [j - 1] if d.net.activation(l).elementwise else list(range(d.net.widths[l]))
    gradient = list(cost_row(d))
    hops = [d.expansion_factor(m) for m in range(d.L, l, -1)]
    free = [d.net.widths[m] for m in range(d.L, l, -1)]  # i_L, ..., i_{l+1} range freely
    count = len(own)
    for n in free:
        count *= n
    paths: list[list[tuple]] = []
    for index in itertools.product(*(range(n) for n in free), own):  # lazily: count may be huge
        if limit is not None and len(paths) == limit:
            break
        paths.append([gradient[index[0]],
                      *(J[index[n], index[n + 1]] for n, J in enumerate(hops)),
                      last[index[-1]]])
    return count, paths


def _factor_tex(P: Printer, factor) -> str:
    tex = P(factor)
    if not (isinstance(factor, sp.Add) or factor.could_extract_minus_sign()):
        return tex
    if r"\frac" in tex:  # \bigl( is too short for a fraction
        return rf"\left({tex}\right)"
    return rf"\bigl({tex}\bigr)"
