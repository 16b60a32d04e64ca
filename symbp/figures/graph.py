"""The path of influence as a picture: every way one weight w^{(l)}_{jk} reaches the cost C.

The graph is plain data: nodes w, z^{(m)}_i, a^{(m)}_i and C with positions in
centimetres, and edges between them. An edge exists exactly where the local
derivative of its target with respect to its source is not zero: one from w to
z^{(l)}_j, z^{(m)}_i → a^{(m)}_i for an elementwise activation (every pair for
softmax), every a^{(m-1)}_k → z^{(m)}_i, and every a^{(L)}_i the cost depends on.
``figures.dependencies`` finds them, with SymPy edge by edge and from the structure.

A picture must stay legible at any size, so only the highlighted path of influence
carries its labels, each computed by SymPy; a legend says what every other edge
carries. A layer wider than ``MAX_UNITS`` shows the highlighted unit and one stacked
node for the others, and a deep network wraps into rows (``layout``).

A derivative ∂C/∂w is the sum over all paths from w to C of the product of the
labels along the path; counting those paths layer by layer (each unit adds up the
counts of its predecessors) is the same dynamic programming as backpropagation.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import sympy as sp

from ..core.derivation import Derivation
from ..core.naming import SUBSCRIPT, SUPERSCRIPT, Names, unicode_name
from ..printing.latex import Printer
from .dependencies import (
    COST,
    connected,
    count_paths,
    local_derivative,
    symbol_of,
    unit_columns,
)
from .graph_text import LegendItem, TextPrinter, legend
from .layout import Label, label_size, layout, place_label, repeat_id

MAX_UNITS = 3  # units of a layer drawn one by one; beyond, the others gather in one stacked node
MAX_ROWS = 3  # rows of a deep drawing; beyond, middle layers give way to a gap node


@dataclass(frozen=True)
class Node:
    """One quantity of the forward pass: the weight, z^{(m)}_i, a^{(m)}_i or C, or a stack of
    units of one layer (``units`` has more than one)."""

    id: str  # identifier-safe: the symbol's name (w1_1_1, z2_3, a2_3, C), z2_g for a stack
    kind: str  # "w", "z", "a", "C", or "gap" for layers left out of a deep drawing
    layer: int  # l for w, m for z and a, L + 1 for C
    units: tuple[int, ...]  # the units it stands for, 1-based; (j,) for w, (0,) for C
    latex: str
    text: str  # plain Unicode for SVG: z⁽²⁾₃
    x: float  # cm, to the right
    y: float  # cm, upwards
    highlighted: bool
    repeat: bool = False  # a copy that starts a row, of the node that ends the row above

    @property
    def index(self) -> int:
        return self.units[0]

    @property
    def stacked(self) -> bool:
        return self.kind != "gap" and len(self.units) > 1


@dataclass(frozen=True)
class Edge:
    """``target`` depends on ``source``, through ``count`` edges between their units.

    A highlighted edge carries its local derivative ``expr`` and its label.
    """

    source: str
    target: str
    count: int
    highlighted: bool
    expr: sp.Expr | None = None
    latex: str = ""
    text: str = ""
    label: Label | None = None


@dataclass(frozen=True)
class InfluenceGraph:
    """The dependency graph from w^{(l)}_{jk} to C, laid out left to right, top-aligned."""

    l: int
    j: int
    k: int
    widths: tuple[int, ...]
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    path: tuple[str, ...]  # node ids of the highlighted path of influence, w first
    paths: int  # paths of influence: one unit per layer, as in the path sum
    routes: int  # paths through the drawn z and a nodes (more where softmax mixes its layer)
    weight_latex: str
    path_term_latex: str  # product of the highlighted labels: one term of ∂C/∂w
    summed_latex: str  # why paths add: ∂C/∂a^{(l)}_j as a sum over the next layer
    legend: tuple[LegendItem, ...]
    rows: int
    width: float  # cm, bounding box of nodes and labels
    height: float
    scale: float  # ≤ 1: fits the page width in the document
    elided: str = ""  # plain text: the layers a gap node stands for ("4 to 27"), or ""

    def node(self, node_id: str) -> Node:
        return next(n for n in self.nodes if n.id == node_id)

    def plain(self) -> dict:
        """Strings, numbers and lists only: what the templates receive (no SymPy)."""
        return {
            "l": self.l, "j": self.j, "k": self.k, "paths": self.paths, "routes": self.routes,
            "weight": self.weight_latex, "path_term": self.path_term_latex,
            "summed": self.summed_latex, "scale": self.scale, "rows": self.rows,
            "nodes": [{"id": n.id, "kind": n.kind, "latex": n.latex, "x": n.x, "y": n.y,
                       "highlighted": n.highlighted, "stacked": n.stacked, "repeat": n.repeat}
                      for n in self.nodes],
            "edges": [{"source": e.source, "target": e.target, "latex": e.latex,
                       "highlighted": e.highlighted,
                       "x": e.label.x if e.label else 0.0, "y": e.label.y if e.label else 0.0}
                      for e in self.edges],
            "legend": [{"edge": item.edge, "carries": item.carries, "where": item.where}
                       for item in self.legend],
            "stacked": any(n.stacked for n in self.nodes), "elided": self.elided,
        }


# ---------------------------------------------------------------- the drawing


def influence_graph(d: Derivation, l: int = 1, j: int = 1, k: int = 1) -> InfluenceGraph:
    """The graph of every path from w^{(l)}_{jk} to C, laid out to fit the page.

    The highlighted path runs through unit j of layer l and unit 1 of every later
    layer; its edges carry their local derivatives. ValueError for a weight that does
    not exist.
    """
    n = d.net.widths
    _check_index("l", l, d.L)
    _check_index("j", j, n[l])
    _check_index("k", k, n[l - 1])
    names = {**d.latex_names, COST: "C"}
    printer, text = Printer(d.latex_names), TextPrinter(names)
    units = unit_columns(d, l, j)
    full = [_drawn_column(d, names, kind, layer, members, on, l, k)
            for kind, layer, members, on in units]
    path_symbols = [symbol_of(d, kind, layer, on, l, k) for kind, layer, _, on in units]
    path_exprs = [local_derivative(d, s, kind, layer, on)
                  for s, (kind, layer, _, on) in zip(path_symbols, units[1:])]
    path_texts = [text.doprint(e) for e in path_exprs]
    for shown in _selections(d.L - l):  # every layer, then fewer until the rows fit the page
        drawn = [full[c] if c is not None else [_gap(units, shown)] for c in shown]
        gaps = [label_size(path_texts[a])[0] if a is not None and b == a + 1 else 0.0
                for a, b in pairwise(shown)]
        placed = layout([[node.id for node in column] for column in drawn],
                        ["gap" if c is None else units[c][0] for c in shown], gaps)
        if len(placed.rows) <= MAX_ROWS:
            break
    breaks = {row[0] for row in placed.rows[1:]}
    nodes, edges, path = [], [], []
    for c, column in enumerate(drawn):
        for node in column:
            nodes.append(_at(node, placed.positions[node.id]))
            if c in breaks:
                nodes.append(_at(node, placed.positions[repeat_id(node.id)], repeat=True))
        path.append(column[0].id)
        if c in breaks:
            path.append(repeat_id(column[0].id))
    by_id = {node.id: node for node in nodes}
    for c, (before, after) in enumerate(pairwise(drawn)):
        full_index = shown[c]
        for s in before:
            for t in after:
                count = _edges_between(d, units, shown[c], shown[c + 1], s, t)
                if not count:
                    continue
                source = repeat_id(s.id) if c in breaks else s.id
                on = _on_path(s) and _on_path(t)
                labelled = on and full_index is not None and shown[c + 1] == full_index + 1
                edges.append(Edge(source, t.id, count, on, *(
                    (path_exprs[full_index], printer(path_exprs[full_index]),
                     path_texts[full_index],
                     place_label((by_id[source].x, by_id[source].y),
                                 (by_id[t.id].x, by_id[t.id].y), path_texts[full_index]))
                    if labelled and full_index is not None else ())))
    labels = [e.label for e in edges if e.label is not None]
    gap = next((node for node in nodes if node.kind == "gap"), None)
    return InfluenceGraph(
        l, j, k, n, tuple(nodes), tuple(edges), tuple(path),
        count_paths(d, units, mixing=False), count_paths(d, units, mixing=True),
        names[path_symbols[0]],
        path_term(printer, path_exprs[::-1]), _summed(d, l, j, printer),
        legend(d, l), len(placed.rows), placed.width,
        round(placed.height + max((lab.height for lab in labels), default=0.0) + 0.1, 3),
        placed.scale, "" if gap is None else _elided_text(gap.units))


def _selections(after: int):
    """Column indices to draw: all, then the first and last layers with a gap (None) between.

    Columns are w, z_l, a_l, then z_m, a_m for each of the ``after`` later layers, then C.
    """
    yield list(range(2 * after + 4))
    for keep in range(after - 1, 1, -1):
        head, tail = (keep + 1) // 2, keep // 2
        yield [*range(3 + 2 * head), None, *range(3 + 2 * (after - tail), 2 * after + 4)]


def _gap(units, shown: list[int | None]) -> Node:
    """The node that stands for the layers left out: the layers of the columns it replaces."""
    at = shown.index(None)
    before, after = shown[at - 1], shown[at + 1]  # a gap sits between two drawn columns
    first = units[(before or 0) + 1][1]
    last = units[(after or 0) - 1][1]
    return Node("gap", "gap", first, (first, last), r"\cdots", "⋯", 0.0, 0.0, False)


def _elided_text(layers: tuple[int, ...]) -> str:
    return f"{layers[0]} to {layers[-1]}"


def _on_path(node: Node) -> bool:
    return node.highlighted or node.kind == "gap"


def _edges_between(d: Derivation, units, before: int | None, after: int | None, s: Node,
                   t: Node) -> int:
    """How many unit edges a drawn edge stands for; through a gap, one per unit on its side."""
    if before is None:
        return len(t.units)
    if after is None:
        return len(s.units)
    kind, layer = units[after][0], units[after][1]
    return sum(connected(d, kind, layer, a, b) for a in s.units for b in t.units)


def _check_index(name: str, value: object, top: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
        raise ValueError(f"{name} must be an integer from 1 to {top}; got {value!r}")


def _drawn_column(d: Derivation, names, kind: str, layer: int, members: list[int], on: int,
                  l: int, k: int) -> list[Node]:
    """The highlighted unit on top, then the others one by one, or in one stack if many."""
    others = [u for u in members if u != on]
    groups = [[on]] + ([others] if len(members) > MAX_UNITS else [[u] for u in others])
    column = []
    for group in groups:
        if not group:
            continue
        if len(group) == 1:
            symbol = symbol_of(d, kind, layer, group[0], l, k)
            latex, node_id = names[symbol], symbol.name
            text = unicode_name(latex)
        else:
            latex, node_id = _stack_latex(kind, layer, group), f"{kind}{layer}_g"
            text = _stack_text(kind, layer, group)
        column.append(Node(node_id, kind, layer, tuple(group), latex, text, 0.0, 0.0,
                           group == [on]))
    return column


def _consecutive(units: list[int]) -> bool:
    return units == list(range(units[0], units[-1] + 1))


def _stack_latex(kind: str, layer: int, units: list[int]) -> str:
    """z^{(2)}_{2\text{--}5} for consecutive units, z^{(2)}_{i \\neq 1} otherwise."""
    span = rf"{units[0]}\text{{--}}{units[-1]}" if _consecutive(units) else \
        rf"i \neq {min(set(range(1, units[-1] + 2)) - set(units))}"
    return f"{kind}^{{({layer})}}_{{{span}}}"


def _stack_text(kind: str, layer: int, units: list[int]) -> str:
    """z⁽²⁾₂₋₅, or z⁽²⁾ᵢ≠₁: the same in Unicode."""
    span = f"{units[0]}-{units[-1]}".translate(SUBSCRIPT) if _consecutive(units) else \
        "ᵢ≠" + str(min(set(range(1, units[-1] + 2)) - set(units))).translate(SUBSCRIPT)
    return f"{kind}{f'({layer})'.translate(SUPERSCRIPT)}{span}"


def _at(node: Node, position: tuple[float, float], repeat: bool = False) -> Node:
    return Node(repeat_id(node.id) if repeat else node.id, node.kind, node.layer, node.units,
                node.latex, node.text, *position, node.highlighted, repeat)


def path_term(printer: Printer, backwards: list[sp.Expr]) -> str:
    """Local derivatives multiplied out in the order given (C back to w): a sum, or a factor
    after the first that could be read as a subtraction, in parentheses."""
    factors = []
    for n, expr in enumerate(backwards):
        tex = printer(expr)
        bracket = expr.is_Add or (n > 0 and expr.could_extract_minus_sign())
        if bracket:
            tex = rf"\left({tex}\right)" if r"\frac" in tex else rf"\bigl({tex}\bigr)"
        factors.append(tex)
    return r" \, ".join(factors)


def _summed(d: Derivation, l: int, j: int, printer: Printer) -> str:
    """∂C/∂a^{(l)}_j: one term per unit of the next layer, so the paths through them add."""
    a_j = printer(d.a_symbols(l)[j - 1])
    if l == d.L:
        return rf"\frac{{\partial C}}{{\partial {a_j}}} = " + printer(
            local_derivative(d, d.a_symbols(l)[j - 1], "C", l + 1, 0))
    generic = Names(d.net.widths)  # a fresh table: the generic index i stays out of d's names
    z_i, w_ij = generic.preactivation(l + 1, "i"), generic.weight(l + 1, "i", j)
    terms = [f"{printer(d.delta_symbols(l + 1)[i])} {printer(d.weights(l + 1)[i, j - 1])}"
             for i in range(d.net.widths[l + 1])]  # in the order of i, not SymPy's
    if len(terms) > 4:
        terms = [*terms[:2], r"\cdots", terms[-1]]
    return (rf"\frac{{\partial C}}{{\partial {a_j}}} = \sum_{{i=1}}^{{{d.net.widths[l + 1]}}} "
            rf"\frac{{\partial C}}{{\partial {generic.latex[z_i]}}}\, {generic.latex[w_ij]}"
            f" = {' + '.join(terms)}")


