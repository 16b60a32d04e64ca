"""The path of influence as plain data: the chain rule per layer, its Jacobian factors,
one weight's gradient as a sum over paths, and the repetition the expansion carries.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cache

import sympy as sp

from ..core.derivation import Derivation
from ..core.naming import vector_latex as vec
from ..figures.graph import local_derivative, path_term
from ..printing.latex import Printer, aligned
from .steps import partial

MAX_PATHS = 8  # paths of the element-level example written out before "+ ⋯"
MAX_LINKS = 6  # factors of a chain shown before the middle ones become ⋯
SLIDE_ROWS = 8  # rows of the path sum on its slide: a product that takes two rows (softmax)
# leaves room for fewer paths, so that the frame need not shrink them past reading
MAX_SUMS = 5  # sums over path indices written out before the middle ones become ⋯


@dataclass(frozen=True)
class Factor:
    """One local Jacobian ∂a_m/∂a_{m-1} of the path of influence."""

    m: int
    elementwise: bool  # diag(σ'(z_m)) W_m; else a full Jacobian times W_m
    display: str  # LaTeX display: ∂a_m/∂a_{m-1} = diag(σ'(z_m)) W_m = (the entries)


@dataclass(frozen=True)
class PathSum:
    """One weight's gradient written as a sum over its paths of influence."""

    weight: str  # LaTeX: w^{(1)}_{11}
    input: str  # LaTeX: what the weight multiplies, a^{(l-1)}_k (x_k for layer 1)
    general: str  # LaTeX display: the sum over path indices
    explicit: str  # LaTeX display: the paths of this network
    paths: int
    shown: int
    slide: str  # LaTeX display: the first paths that fit SLIDE_ROWS rows, for the deck


def _links(d: Derivation, l: int) -> list[str]:
    """∂C/∂a_L, ∂a_L/∂a_{L-1}, ..., ∂a_{l+1}/∂a_l: the chain down to ∂C/∂a_l."""
    return [partial("C", vec("a", d.L))] + [partial(vec("a", m), vec("a", m - 1))
                                            for m in range(d.L, l, -1)]


def _own(l: int) -> list[str]:
    """∂a_l/∂z_l · ∂z_l/∂W_l: layer l's own two links, as in the seed."""
    return [partial(vec("a", l), vec("z", l)), partial(vec("z", l), vec("W", l))]


def _product(links: list[str]) -> str:
    if len(links) > MAX_LINKS:  # a deep network: first two, ⋯, last two
        return r" \cdot ".join(links[:2]) + r" \cdots " + r" \cdot ".join(links[-2:])
    return r" \cdot ".join(links)


def chain_rules(d: Derivation) -> str:
    return aligned([(partial("C", vec("W", l)), _product([*_links(d, l), *_own(l)]))
                    for l in range(d.L, 0, -1)])


def layer_chain_rules(d: Derivation) -> str:
    """The seed's composition view: ∂C/∂W_l = ∂C/∂L_L · ∂L_L/∂L_{L-1} ⋯ ∂L_l/∂W_l."""
    rows = []
    for l in range(d.L, 0, -1):
        links = [partial("C", f"L_{{{d.L}}}")] + [partial(f"L_{{{m}}}", f"L_{{{m - 1}}}")
                                                 for m in range(d.L, l, -1)]
        rows.append((partial("C", vec("W", l)),
                     _product([*links, partial(f"L_{{{l}}}", vec("W", l))])))
    return aligned(rows)


def composition(d: Derivation) -> str:
    """C = Cost(L_L(⋯ L_1(x) ⋯)), the network as a composition of its layers."""
    if d.L <= 4:
        inner = "x"
        for l in range(1, d.L + 1):
            inner = f"L_{{{l}}}({inner})"
    else:
        inner = rf"L_{{{d.L}}}(L_{{{d.L - 1}}}(\cdots L_{{1}}(x) \cdots))"
    return rf"C = \operatorname{{Cost}}\bigl({inner}\bigr)"


def shared_chains(d: Derivation) -> str:
    """Each chain with the part it shares with the layer above marked by an underbrace."""
    rows = [(partial("C", vec("W", d.L)), _product([*_links(d, d.L), *_own(d.L)]))]
    for l in range(d.L - 1, 0, -1):
        shared = _product(_links(d, l + 1))
        rest = r" \cdot ".join([partial(vec("a", l + 1), vec("a", l)), *_own(l)])
        # in braces: an ordinary atom, so the \cdot after it is spaced like the others
        brace = rf"{{\underbrace{{{shared}}}_{{\text{{as for }} {vec('W', l + 1)}}}}}"
        rows.append((partial("C", vec("W", l)), rf"{brace} \cdot {rest}"))
    return aligned(rows)


def jacobian_factor(d: Derivation, P: Printer, m: int) -> Factor:
    act = d.net.activation(m)
    name = partial(vec("a", m), vec("a", m - 1))
    if act.elementwise:
        structure = rf"\operatorname{{diag}}\bigl({act.latex}'({vec('z', m)})\bigr)\, {vec('W', m)}"
    else:
        structure = rf"{partial(vec('a', m), vec('z', m))}\, {vec('W', m)}"
    J = d.expansion_factor(m)
    if act.elementwise:  # entries as the structure says: σ'(z_i) w_ik, the path sum's order
        shown = sp.Matrix(*J.shape, lambda i, k: sp.Mul(act.prime(d.z_symbols(m)[i]),
                                                         d.weights(m)[i, k], evaluate=False))
        if shown.doit() == J:
            J, P = shown, Printer(d.latex_names, P.line, ordered=True)
    entries = P.defined_rows(name, J)
    return Factor(m, act.elementwise, aligned([(name, structure)] +
                             [("" if lhs == name else lhs, rhs) for lhs, rhs in entries]))


def path_example(d: Derivation, P: Printer, l: int = 1, j: int = 1,
                 k: int = 1) -> PathSum:
    """∂C/∂w^{(l)}_{jk} as a sum over paths: the index formula, then this network's paths."""
    L = d.L
    w_tex = P(d.weights(l)[j - 1, k - 1])
    indices = [f"i_{{{m}}}" for m in range(L, l - 1, -1)]  # i_L, ..., i_l
    if d.net.activation(l).elementwise:  # a^{(l)}_i depends on w_{jk} only for i = j
        indices[-1] = str(j)
    links = [partial("C", f"a^{{({L})}}_{{{indices[0]}}}")]
    links += [partial(f"a^{{({m})}}_{{{indices[L - m]}}}",
                      f"a^{{({m - 1})}}_{{{indices[L - m + 1]}}}") for m in range(L, l, -1)]
    z_j = f"z^{{({l})}}_{{{j}}}"
    links += [partial(f"a^{{({l})}}_{{{indices[-1]}}}", z_j), partial(z_j, w_tex)]
    sums = [rf"\sum_{{{i}}}" for i in indices if not i.isdigit()]
    if len(sums) > MAX_SUMS:  # a deep network: the pattern, not every index
        sums = [sums[0], r"\cdots", sums[-1]]
        links = [*links[:2], r"\cdots", *links[-3:]]
    general = f"{partial('C', w_tex)} = {' '.join(sums)} " + r" \, ".join(links)

    count, paths = paths_of_influence(d, l, j, k, limit=MAX_PATHS)
    terms = [path_term(P, path) for path in paths]
    lhs = partial("C", w_tex)
    fit = next(n for n in range(len(terms), 0, -1)
               if n == 1 or len(P.wrap(lhs, terms[:n], count - n)) <= SLIDE_ROWS)
    return PathSum(w_tex, P(d.a_symbols(l - 1)[k - 1]), general,
                   _written_out(P, lhs, terms, count), count, len(terms),
                   _written_out(P, lhs, terms[:fit], count))


def _written_out(P: Printer, lhs: str, terms: list[str], count: int) -> str:
    """``lhs`` = the sum of ``terms``, the first of ``count`` paths, with a note on the rest."""
    more = count - len(terms)
    note = f"{count} paths; the first {len(terms)} are written out" if more else ""
    return P.lines(lhs, terms, more=more, note=note)


def paths_of_influence(d: Derivation, l: int, j: int, k: int,
                       limit: int | None = None) -> tuple[int, list[list[sp.Expr]]]:
    """The paths from w^{(l)}_{jk} to C: their number and the first ``limit`` of them.

    A path is the list of its local derivatives read from the cost back to the weight,
    as the seed's chain ∂C/∂a · ∂a/∂z · ∂z/∂W: ∂C/∂a^{(L)}_{i_L}, then per link to layer
    m - 1 the factors σ_m'(z^{(m)}_{i_m}) and w^{(m)}_{i_m i_{m-1}} (a softmax link: its
    Jacobian entry ∂a^{(m)}_{i_m}/∂a^{(m-1)}_{i_{m-1}}, a sum), and last ∂a^{(l)}_{i_l}/∂z^{(l)}_j
    and ∂z^{(l)}_j/∂w^{(l)}_{jk} = a^{(l-1)}_k. Summed over all paths, their products are
    the expansion's entry (j, k) of ∂C/∂W_l. Each factor is SymPy's derivative of one map,
    as the labels of the tree of dependencies are.
    """
    n = d.net.widths
    own = [j] if d.net.activation(l).elementwise else list(range(1, n[l] + 1))
    free = [n[m] for m in range(d.L, l, -1)]  # i_L, ..., i_{l+1} range freely
    count = len(own)
    for width in free:
        count *= width
    derivative = cache(lambda source, kind, layer, index: local_derivative(
        d, source, kind, layer, index))
    a, z = d.a_symbols, d.z_symbols
    paths: list[list[sp.Expr]] = []
    for index in itertools.product(*(range(1, m + 1) for m in free), own):  # lazily
        if limit is not None and len(paths) == limit:
            break
        path = [derivative(a(d.L)[index[0] - 1], "C", d.L + 1, 0)]
        for step, m in enumerate(range(d.L, l, -1)):
            i, i_before = index[step], index[step + 1]
            if d.net.activation(m).elementwise:
                path += [derivative(z(m)[i - 1], "a", m, i),
                         derivative(a(m - 1)[i_before - 1], "z", m, i)]
            else:
                path.append(d.expansion_factor(m)[i - 1, i_before - 1])
        path += [derivative(z(l)[j - 1], "a", l, index[-1]),
                 derivative(d.weights(l)[j - 1, k - 1], "z", l, j)]
        paths.append(path)
    return count, paths
