"""The tree of dependencies of one shared parameter entry of a network of layer kinds, as a
picture: every entry it influences on its way to C, through skips and every position or step.

The nodes and edges are those of ``kinds_dependencies.Tree``: an edge wherever the head's map
reads the tail, each one factor of the chain rule, so ∂C/∂θ is visibly the sum over the paths
of the product of the factors along each. Columns are the longest distance from θ, so an edge
that passes columns by (a skip, a weight entering a later step, a later position) is drawn as a
curve over them. One path of influence is highlighted along the top and carries its local
derivatives, each computed by SymPy from the head's own map; a legend says what the others
carry. A column of more than ``MAX_ENTRIES`` entries shows the first ones and one stacked node
for the rest, and the drawing says how many it left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise

import sympy as sp

from ..core.derivation import Derivation
from ..core.naming import entry_index, unicode_name
from ..printing.latex import Printer
from .graph import path_term
from .graph_text import TextPrinter
from .kinds_dependencies import DependencyGraph, Entry, Tree, count
from .layout import MIN_GAP, PAGE_WIDTH, RADIUS, ROW, Label, label_size

MAX_ENTRIES = 6  # entries of a column drawn one by one; beyond, the rest gather in one stack
MAX_LABEL = 4.0  # cm: a longer local derivative is written ∂head/∂tail on its edge
ARC = 1.1  # cm a curved edge rises above the labels of the top line, plus a share per column


@dataclass(frozen=True)
class KindsNode:
    """θ, one entry of z_m or a_m, C, or a stack of ``hidden`` entries of one column."""

    id: str  # identifier-safe: the symbol's name (w1_1_1, z1_4, a2_1, C), r3_more for a stack
    kind: str  # "w" (θ), "z", "a", "C"
    latex: str
    text: str  # plain Unicode for SVG
    x: float  # cm, to the right
    y: float  # cm, upwards
    highlighted: bool
    hidden: int = 0  # > 0: a stacked node standing for this many entries

    @property
    def stacked(self) -> bool:
        return self.hidden > 0


@dataclass(frozen=True)
class KindsEdge:
    """``target`` reads ``source`` (``count`` edges, into or out of a stack); a curve with two
    control points when it passes columns by, else a straight line."""

    source: str
    target: str
    highlighted: bool
    count: int = 1
    curve: tuple[float, float, float, float] | None = None  # its control points, cm
    latex: str = ""  # the local derivative, on the highlighted path only
    text: str = ""
    label: Label | None = None


@dataclass(frozen=True)
class KindsGraph:
    """The tree of dependencies of one parameter entry, laid out left to right."""

    l: int
    name: str  # the parameter as the program names it
    weight_latex: str  # K^{(1)}_{1,1,1}
    weight_text: str
    nodes: tuple[KindsNode, ...]
    edges: tuple[KindsEdge, ...]
    paths: int  # paths from θ to C in the whole tree, drawn or stacked
    enters: int  # entries θ enters directly: the terms of its gradient
    entries: int  # entries of z and a on some path, drawn or stacked
    left_out: int  # of them, in stacks
    path_term_latex: str  # the product of the highlighted labels: one term of ∂C/∂θ
    width: float  # cm
    height: float  # cm, from the lowest node to the highest curve or label
    top: float  # cm: the highest point (y) of the drawing
    scale: float  # ≤ 1: fits the page width in the document

    def plain(self) -> dict:
        """Strings, numbers and lists only: what the templates receive (no SymPy)."""
        return {
            "l": self.l, "name": self.name, "weight": self.weight_latex,
            "weight_text": self.weight_text, "paths": self.paths, "enters": self.enters,
            "entries": self.entries, "left_out": self.left_out, "path_term":
                self.path_term_latex, "scale": self.scale,
            "nodes": [{"id": n.id, "kind": n.kind, "latex": n.latex, "x": n.x, "y": n.y,
                       "highlighted": n.highlighted, "stacked": n.stacked, "hidden": n.hidden}
                      for n in self.nodes],
            "edges": [{"source": e.source, "target": e.target, "highlighted": e.highlighted,
                       "count": e.count, "curved": e.curve is not None,
                       "controls": e.curve or (0.0, 0.0, 0.0, 0.0),
                       "latex": e.latex, "x": e.label.x if e.label else 0.0,
                       "y": e.label.y if e.label else 0.0}
                      for e in self.edges],
            "curved": any(e.curve is not None for e in self.edges),
            "stacked": self.left_out > 0,
        }


def chosen_parameter(d: Derivation) -> tuple[int, str]:
    """The parameter drawn: layer 1's first (a kernel, a recurrent weight, a block's W), whose
    first entry is shared by every position or step the layer has."""
    return 1, next(iter(d.layer_parameters(1)))


def kinds_graph(d: Derivation, l: int | None = None, name: str | None = None,
                graph: DependencyGraph | None = None) -> KindsGraph:
    """The tree of dependencies of the first entry of parameter ``name`` of layer ``l`` (by
    default ``chosen_parameter``), laid out to fit the page."""
    if l is None or name is None:
        l, name = chosen_parameter(d)
    if l not in d.layers or name not in d.layer_parameters(l):
        raise ValueError(f"no parameter {name!r} in layer {l!r}; layers 1 to {d.L}, "
                         f"parameters of layer {l!r}: "
                         f"{', '.join(d.layer_parameters(l)) if l in d.layers else 'none'}")
    graph = graph or DependencyGraph(d)
    tree = graph.tree(l, name)
    names = _names(d, tree)
    partials: dict[sp.Symbol, str] = {}
    printer, text = Printer(names), _Text(names, partials)
    rank = _ranks(tree)
    path = _highlighted(tree, rank)
    on_path = set(path)
    labels = {}
    for tail, head in pairwise(path):
        expr = graph.local_derivative(tail, head, tree.theta)
        if label_size(text.doprint(expr))[0] > MAX_LABEL:  # a norm's or softmax's: named
            expr = _named_derivative(names, partials, graph, tree, tail, head)
        labels[tail, head] = (expr, printer(expr), text.doprint(expr))
    columns: list[list[Entry]] = [[] for _ in range(max(rank.values()) + 1)]
    for node in tree.nodes:
        columns[rank[node]].append(node)
    for column in columns:
        column.sort(key=lambda e: (e not in on_path, e.sort_key()))
    steps = [MIN_GAP] * (len(columns) - 1)
    for (tail, head), (_, _, label) in labels.items():
        if rank[head] == rank[tail] + 1:
            steps[rank[tail]] = max(steps[rank[tail]], label_size(label)[0] + 2 * RADIUS + 0.3)
    xs = [round(float(sum(steps[:c])), 3) for c in range(len(columns))]
    drawn: dict[Entry, str] = {}  # entry -> the id of the node that shows it
    nodes = []
    left_out = 0
    for c, column in enumerate(columns):
        shown = column if len(column) <= MAX_ENTRIES else column[:MAX_ENTRIES - 1]
        row = 0 if column[0] in on_path else 1  # the top line belongs to the path
        for entry in shown:
            symbol = graph.symbol(entry, tree.theta)
            node_id = "C" if entry.kind == "C" else symbol.name
            latex = names.get(symbol, "C")
            nodes.append(KindsNode(node_id, "w" if entry.kind == "theta" else entry.kind, latex,
                                   _text(latex), xs[c], round(-row * ROW, 3), entry in on_path))
            drawn[entry] = node_id
            row += 1
        rest = column[len(shown):]
        if rest:
            stack_id = f"r{c}_more"
            nodes.append(KindsNode(stack_id, rest[0].kind, f"+{len(rest)}", f"+{len(rest)}",
                                   xs[c], round(-row * ROW, 3), False, len(rest)))
            drawn.update({entry: stack_id for entry in rest})
            left_out += len(rest)
    top = max((label_size(t)[1] for _, _, t in labels.values()), default=0.0) + 0.2
    by_id = {n.id: n for n in nodes}
    gathered: dict[tuple[str, str], int] = {}
    for tail, head in tree.edges:
        key = (drawn[tail], drawn[head])
        gathered[key] = gathered.get(key, 0) + 1
    edges = []
    for (source, target), n in gathered.items():
        tail, head = next((t, h) for t, h in tree.edges if drawn[t] == source
                          and drawn[h] == target)
        s, t = by_id[source], by_id[target]
        highlighted = (tail, head) in labels
        span = rank[head] - rank[tail]
        curve = None
        if span > 1:  # up from the tail and over the labels of the top line, down to the head
            apex = round(max(s.y, t.y) + top + ARC + 0.3 * (span - 2), 3)
            into = t.x if t.y == 0 else round(t.x - 0.3 * (t.x - s.x), 3)
            curve = (s.x, apex, into, apex)
        if highlighted:
            _, latex, plain_text = labels[tail, head]
            w, h = label_size(plain_text)
            y = _peak(curve, s.y, t.y) if curve else s.y
            box = Label(round((s.x + t.x) / 2, 3), round(y + h / 2 + 0.05, 3), w, h)
            edges.append(KindsEdge(source, target, True, n, curve, latex, plain_text, box))
        else:
            edges.append(KindsEdge(source, target, False, n, curve))
    highest = max([n.y + RADIUS for n in nodes] + [e.label.extent()[3] for e in edges
                                                    if e.label] +
                  [_peak(e.curve, by_id[e.source].y, by_id[e.target].y) for e in edges
                   if e.curve])
    lowest = min(n.y - RADIUS for n in nodes)
    width = xs[-1] + 2 * RADIUS
    path_exprs = [labels[pair][0] for pair in pairwise(path)]
    return KindsGraph(
        l, name, names[tree.theta], _text(names[tree.theta]), tuple(nodes), tuple(edges),
        tree.paths, tree.enters, len(tree.nodes) - 2, left_out,
        path_term(printer, path_exprs[::-1]), round(width, 3), round(highest - lowest, 3),
        round(highest, 3), math.floor(min(1.0, PAGE_WIDTH / width) * 1000) / 1000)


def drawn_paths(graph: KindsGraph) -> int:
    """Paths from θ to C over the drawn edges, a stacked edge counting once per edge it
    stands for: the tree's paths when nothing is stacked."""
    ids = [n.id for n in sorted(graph.nodes, key=lambda n: (n.x, n.kind == "C"))]
    return count(ids, [(e.source, e.target) for e in graph.edges for _ in range(e.count)])


# ---------------------------------------------------------------- the parts


def _peak(curve: tuple[float, float, float, float], y0: float, y1: float) -> float:
    """The highest point of the cubic from height y0 to y1 with its control points ``curve``
    (both at one height: its middle is the highest)."""
    return round(0.125 * y0 + 0.375 * curve[1] + 0.375 * curve[3] + 0.125 * y1, 3)


def _ranks(tree: Tree) -> dict[Entry, int]:
    """Each entry's column: its longest distance from θ (every edge runs to the right)."""
    into: dict[Entry, list[Entry]] = {}
    for tail, head in tree.edges:
        into.setdefault(head, []).append(tail)
    rank = {tree.nodes[0]: 0}
    for node in tree.nodes[1:]:
        rank[node] = 1 + max(rank[t] for t in into[node])
    return rank


def _highlighted(tree: Tree, rank: dict[Entry, int]) -> list[Entry]:
    """One path from θ to C: at each entry, on to the nearest consumer (then the first)."""
    out: dict[Entry, list[Entry]] = {}
    for tail, head in tree.edges:
        out.setdefault(tail, []).append(head)
    path = [tree.nodes[0]]
    while path[-1].kind != "C":
        path.append(min(out[path[-1]], key=lambda e: (rank[e], e.sort_key())))
    return path


def _named_derivative(names: dict[sp.Symbol, str], partials: dict[sp.Symbol, str],
                      graph: DependencyGraph, tree: Tree, tail: Entry, head: Entry) -> sp.Symbol:
    """A stand-in for a local derivative too long to set on its edge: ∂head/∂tail, by name."""
    top, bottom = (graph.symbol(e, tree.theta) for e in (head, tail))
    stand_in = sp.Symbol(f"d_{top.name}_d_{bottom.name}")
    names[stand_in] = (rf"\frac{{\partial {names.get(top, 'C')}}}"
                       rf"{{\partial {names[bottom]}}}")
    partials[stand_in] = f"∂{_text(names.get(top, 'C'))}/∂{_text(names[bottom])}"
    return stand_in


class _Text(TextPrinter):
    """The SVG's labels, with a named local derivative as ∂head/∂tail on one line."""

    def __init__(self, names: dict[sp.Symbol, str], partials: dict[sp.Symbol, str]):
        super().__init__(names)
        self.partials = partials

    def _print_Symbol(self, expr) -> str:
        return self.partials.get(expr) or super()._print_Symbol(expr)


def _names(d: Derivation, tree: Tree) -> dict[sp.Symbol, str]:
    """LaTeX names: the derivation's (every z and a entry with its index along each axis:
    channel and position, unit and step), θ as its kind calls it."""
    names = dict(d.latex_names)
    r = d.net.resolved[tree.l - 1]
    word = r.kind.words.get(tree.name, tree.name)
    shape = next(p.shape(r.sizes) for p in r.maps.params if p.name == tree.name)
    base = f"{word}^{{({tree.l})}}" if word.isalpha() else f"{{{word}^{{({tree.l})}}}}"
    names[tree.theta] = f"{base}_{{{entry_index(1, shape)}}}"  # its first entry
    return names


def _text(latex: str) -> str:
    return unicode_name(latex).replace("{", "").replace("}", "").replace("\\", "")
