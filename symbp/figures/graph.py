"""The path of influence as a picture: every way one weight w^{(l)}_{jk} reaches the cost C.

The graph is plain data: nodes w, z^{(m)}_i, a^{(m)}_i and C with positions in
centimetres, and edges labelled with their local derivative. Each label is
computed by SymPy from the target's own map (z_m = W_m a_{m-1} + b_m,
a_m = σ_m(z_m), C = cost(a_L, y)), and an edge exists exactly where that
derivative is nonzero, so a softmax layer gets all of its z → a edges without a
special case. ``symbp.graph_draw`` turns the data into TikZ and SVG.

A derivative ∂C/∂w is the sum over all paths from w to C of the product of the
labels along the path; counting those paths node by node (each node adds up the
counts of its predecessors) is the same dynamic programming as backpropagation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise

import sympy as sp
from sympy.printing.str import StrPrinter

from ..core.derivation import Derivation
from ..core.naming import SUPERSCRIPT, Names, unicode_name
from ..core.registry import ACTIVATIONS
from ..printing.latex import Printer
from .layout import Label, layout

MAX_UNITS = 5  # units per drawn layer; 6 × 6 labels in one block are a grey blur
MAX_LAYERS_AFTER = 3  # layers after l; a fourth makes the page figure half size
MAX_PATH_LAYERS_AFTER = 5  # layers after l in the single-path drawing

PAGE_WIDTH = 15.5  # cm the picture may take in the document before it is scaled down


@dataclass(frozen=True)
class Node:
    """One quantity of the forward pass: the weight, z^{(m)}_i, a^{(m)}_i, or the cost C."""

    id: str  # identifier-safe, the symbol's name: w1_1_1, z2_3, a2_3, C
    kind: str  # "w", "z", "a" or "C"
    layer: int  # l for w, m for z and a, L + 1 for C
    index: int  # the unit (j for w), 0 for C
    latex: str
    text: str  # plain Unicode for SVG: z⁽²⁾₃
    x: float  # cm, to the right
    y: float  # cm, upwards
    highlighted: bool


@dataclass(frozen=True)
class Edge:
    """``target`` depends on ``source``; ``expr`` is ∂target/∂source in layered symbols."""

    source: str
    target: str
    expr: sp.Expr
    latex: str
    text: str
    highlighted: bool
    label: Label  # where the drawing puts the label, in cm


@dataclass(frozen=True)
class InfluenceGraph:
    """The dependency graph from w^{(l)}_{jk} to C, laid out left to right."""

    l: int
    j: int
    k: int
    widths: tuple[int, ...]
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    path: tuple[str, ...]  # node ids of the highlighted path of influence, w first
    paths: int  # number of paths from w to C
    weight_latex: str
    path_term_latex: str  # product of the highlighted labels: one term of ∂C/∂w
    summed_latex: str  # why paths add: ∂C/∂a^{(l)}_j as a sum over the next layer
    width: float  # cm, bounding box of nodes and labels
    height: float
    scale: float  # ≤ 1: fits PAGE_WIDTH in the document

    def node(self, node_id: str) -> Node:
        return next(n for n in self.nodes if n.id == node_id)

    def plain(self) -> dict:
        """Strings, numbers and lists only: what the templates receive (no SymPy)."""
        return {
            "l": self.l, "j": self.j, "k": self.k, "paths": self.paths,
            "weight": self.weight_latex, "path_term": self.path_term_latex,
            "summed": self.summed_latex, "scale": self.scale,
            "nodes": [{"id": n.id, "kind": n.kind, "latex": n.latex, "x": n.x, "y": n.y,
                       "highlighted": n.highlighted} for n in self.nodes],
            "edges": [{"source": e.source, "target": e.target, "latex": e.latex,
                       "x": e.label.x, "y": e.label.y, "angle": e.label.angle,
                       "highlighted": e.highlighted}
                      for e in self.edges],
        }


def drawable(d: Derivation, l: int) -> str | None:
    """Why the graph from a weight of layer ``l`` is too big to draw, or None if it is not."""
    widest = max(d.net.widths[l:])
    if widest > MAX_UNITS:
        return f"a layer from {l} on has {widest} units; at most {MAX_UNITS} can be drawn"
    if d.L - l > MAX_LAYERS_AFTER:
        return f"{d.L - l} layers follow layer {l}; at most {MAX_LAYERS_AFTER} can be drawn"
    return None


def _too_deep(d: Derivation, l: int) -> str | None:
    if d.L - l > MAX_PATH_LAYERS_AFTER:
        return f"{d.L - l} layers follow layer {l}; one path is drawn through at most " \
               f"{MAX_PATH_LAYERS_AFTER}"
    return None


def influence_graph(d: Derivation, l: int = 1, j: int = 1, k: int = 1, *,
                    path_only: bool = False) -> InfluenceGraph:
    """The graph of every path from w^{(l)}_{jk} to C, its local derivatives and a layout.

    The highlighted path runs through unit j of layer l and unit 1 of every later
    layer; ``path_only`` keeps just that one path, the chain of the seed's picture.
    ValueError for a weight that does not exist or a graph too big to draw.
    """
    n = d.net.widths
    _check_index("l", l, d.L)
    _check_index("j", j, n[l])
    _check_index("k", k, n[l - 1])
    # one path is a chain of 2(L - l) + 3 nodes, drawable whatever the widths
    reason = drawable(d, l) if not path_only else _too_deep(d, l)
    if reason is not None:
        raise ValueError(f"the influence graph of {d.net!r} is too big to draw: {reason}")
    columns, derivatives = _connect(d, l, j, d.weights(l)[j - 1, k - 1])
    path = _highlighted_path(columns, derivatives)
    on_path = set(pairwise(path))
    if path_only:
        columns = [[entry for entry in column if entry[0] in path] for column in columns]
        derivatives = {pair: expr for pair, expr in derivatives.items() if pair in on_path}
    printer, names = Printer(d.latex_names), {**d.latex_names, _COST: "C"}
    text = _TextPrinter(names)
    raw = [(source, target, expr, text.doprint(expr), (source, target) in on_path)
           for (source, target), expr in derivatives.items()]
    drawn = layout([[s.name for s, *_ in column] for column in columns],
                   [(s.name, t.name, label, on) for s, t, _, label, on in raw])
    nodes = [Node(s.name, kind, layer, index, names[s], unicode_name(names[s]),
                  *drawn.positions[s.name], s in path)
             for column in columns for s, kind, layer, index in column]
    edges = [Edge(s.name, t.name, expr, printer(expr), label, on, drawn.labels[s.name, t.name])
             for s, t, expr, label, on in raw]
    return InfluenceGraph(
        l, j, k, n, tuple(nodes), tuple(edges), tuple(s.name for s in path),
        _count_paths(columns, derivatives), names[path[0]],
        _path_term(printer, [derivatives[pair] for pair in pairwise(path)][::-1]),
        _summed(d, l, j, printer), drawn.width, drawn.height,
        round(min(1.0, PAGE_WIDTH / drawn.width), 3))


def _check_index(name: str, value: object, top: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
        raise ValueError(f"{name} must be an integer from 1 to {top}; got {value!r}")


# ---------------------------------------------------------------- structure

_COST = sp.Symbol("C")  # stands for the cost node; the derivation has no symbol of that name


def _target_map(d: Derivation, kind: str, layer: int, index: int) -> sp.Expr:
    """The expression that defines one node, in the layered symbols of the layer before it."""
    if kind == "C":
        return d.net.cost_entry.formula(list(d.a_symbols(d.L)), list(d.y))
    if kind == "z":
        return (d.weights(layer) * d.a_symbols(layer - 1) + d.biases(layer))[index - 1]
    return d.net.activation(layer).apply(list(d.z_symbols(layer)))[index - 1]


def local_derivative(d: Derivation, source: sp.Symbol, kind: str, layer: int,
                     index: int) -> sp.Expr:
    """∂(node)/∂source by SymPy from the node's own map, written in layered symbols."""
    derivative = sp.diff(_target_map(d, kind, layer, index), source)
    if kind == "a":  # softmax's Jacobian holds softmax itself: that is a^{(m)}
        derivative = derivative.xreplace(d.layered_map(layer, d.z_symbols(layer)))
    return derivative


def _candidates(d: Derivation, l: int) -> list[list[tuple[sp.Symbol, str, int, int]]]:
    """Every node that might lie on a path, column by column: z_l, a_l, ..., a_L, C."""
    columns = []
    for m in range(l, d.L + 1):
        for kind, symbols in (("z", d.z_symbols(m)), ("a", d.a_symbols(m))):
            columns.append([(s, kind, m, i) for i, s in enumerate(symbols, start=1)])
    return [*columns, [(_COST, "C", d.L + 1, 0)]]


def _connect(d: Derivation, l: int, j: int, weight: sp.Symbol):
    """Keep the nodes the weight reaches and the edges whose local derivative is nonzero."""
    columns = [[(weight, "w", l, j)]]
    derivatives: dict[tuple[sp.Symbol, sp.Symbol], sp.Expr] = {}
    for candidates in _candidates(d, l):
        kept = []
        for target, kind, layer, index in candidates:
            for source, *_ in columns[-1]:
                expr = local_derivative(d, source, kind, layer, index)
                if expr != 0:
                    derivatives[source, target] = expr
            if any((s, target) in derivatives for s, *_ in columns[-1]):
                kept.append((target, kind, layer, index))
        columns.append(kept)
    return columns, derivatives


def _highlighted_path(columns, derivatives) -> list[sp.Symbol]:
    """From w, always on to the same unit (z → a) or else to the lowest unit reached."""
    path = [columns[0][0][0]]
    index = columns[0][0][3]
    for column in columns[1:]:
        reachable = [(s, i) for s, _, _, i in column if (path[-1], s) in derivatives]
        same = [(s, i) for s, i in reachable if i == index and column[0][1] == "a"]
        symbol, index = (same or reachable)[0]
        path.append(symbol)
    return path


def _count_paths(columns, derivatives) -> int:
    """Paths from w to C, counted forwards: each node sums the counts of its predecessors."""
    count = {columns[0][0][0]: 1}
    for before, column in pairwise(columns):
        for target, *_ in column:
            count[target] = sum(count[s] for s, *_ in before if (s, target) in derivatives)
    return count[_COST]


def _path_term(printer: Printer, backwards: list[sp.Expr]) -> str:
    """The labels of the highlighted path multiplied out, read from C back to w."""
    factors = []
    for n, expr in enumerate(backwards):
        tex = printer(expr)
        bracket = expr.is_Add or (n > 0 and expr.could_extract_minus_sign())
        factors.append(rf"\bigl({tex}\bigr)" if bracket else tex)
    return r"\, ".join(factors)


def _summed(d: Derivation, l: int, j: int, printer: Printer) -> str:
    """∂C/∂a^{(l)}_j: one term per unit of the next layer, so the paths through them add."""
    a_j = printer(d.a_symbols(l)[j - 1])
    if l == d.L:
        return rf"\frac{{\partial C}}{{\partial {a_j}}} = " + printer(
            local_derivative(d, d.a_symbols(l)[j - 1], "C", l + 1, 0))
    generic = Names(d.net.widths)  # a fresh table: the generic index i stays out of d's names
    z_i, w_ij = generic.preactivation(l + 1, "i"), generic.weight(l + 1, "i", j)
    terms = sum(d.delta_symbols(l + 1)[i] * d.weights(l + 1)[i, j - 1]
                for i in range(d.net.widths[l + 1]))
    return (rf"\frac{{\partial C}}{{\partial {a_j}}} = \sum_{{i=1}}^{{{d.net.widths[l + 1]}}} "
            rf"\frac{{\partial C}}{{\partial {generic.latex[z_i]}}}\, {generic.latex[w_ij]}"
            f" = {printer(terms)}")


# ---------------------------------------------------------------- plain-text labels


def _function_text(latex: str) -> str:
    r"""\sigma → σ, \tanh → tanh, \operatorname{ReLU} → ReLU."""
    return {r"\sigma": "σ"}.get(latex, latex.replace(r"\operatorname{", "").strip("\\}"))


_FUNCTIONS = {name: _function_text(act.latex) + suffix
              for act in ACTIVATIONS.values()
              for name, suffix in ((act.name, ""), (act.name + "_prime", "′"))}


class _TextPrinter(StrPrinter):
    """SymPy's str printer with Unicode symbol names and σ′ for the opaque derivative."""

    def __init__(self, names: dict[sp.Symbol, str]):
        super().__init__()
        self.names = names

    def _print_Symbol(self, expr) -> str:
        return unicode_name(self.names[expr]) if expr in self.names else expr.name

    def _print_Function(self, expr) -> str:
        name = _FUNCTIONS.get(type(expr).__name__, type(expr).__name__)
        return f"{name}({', '.join(self._print(a) for a in expr.args)})"

    def doprint(self, expr) -> str:
        text = super().doprint(expr)
        text = _POWER.sub(lambda m: m.group(1).translate(SUPERSCRIPT), text)
        text = text.replace("**", "^").replace("*(", "(").replace("*", "·")
        return text.replace(" - ", " − ").replace("-", "−")


_POWER = re.compile(r"\*\*(-?\d+)")
