"""The two pictures beyond the seed, as plain data for the document.

The influence graph of one weight shows the tree of dependencies the chain rule
walks; the expression-swell measurements show, for networks like this one, the
path sum growing exponentially with depth while the δ recursion grows linearly.
Both are deterministic (no times), so documents stay byte-identical.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, wraps
from typing import TypeVar
from weakref import WeakKeyDictionary

from ..core.derivation import Derivation
from ..core.network import Network
from ..figures import graph, kept_swell, swell
from ..figures.swell_plot import plot_data
from ..printing.latex import Printer, aligned

GRAPH_IMAGE = "graph.svg"
SWELL_IMAGE = "swell.svg"
SWELL_DEPTHS = tuple(range(1, 5))  # enough to see the curves part; about 0.2 s at width 3
SWELL_MAX_ROUTES = 27  # beyond, the path sum and sympy.diff take seconds: only the δ program


@dataclass(frozen=True)
class GraphPart:
    """The influence graph of w^{(l)}_{jk}, the weight whose path sum the document writes."""

    graph: dict  # InfluenceGraph.plain(), for templates/figures/graph.tex.j2
    weight: str  # LaTeX
    layer: int
    paths: int  # paths of influence, one unit per layer: the terms of the path sum
    routes: int  # paths through the drawn z and a nodes
    path_term: str  # LaTeX: the product of the local derivatives along the highlighted path
    summed: str  # LaTeX: why paths add up at a^{(l)}_j
    mixing: str  # plain text: the softmax layers whose cross-edges multiply the routes, or ""
    m: str  # LaTeX: the index of that layer, or m when there are several
    m_before: str  # the index of the layer before it: m - 1
    image: str  # the SVG file next to derivation.md
    figure: int = 1  # its number in the PDF: the first figure in the source (no \ref, one pass)


@dataclass(frozen=True)
class SwellPart:
    """Expression swell for generic networks of this network's width and cost, depths 1..4."""

    width: int
    cost: str  # registry name
    depths: str  # plain text: "1 to 4"
    tables: dict  # fmt (tex, md, html) -> swell.table_data(rows, ...)
    plot: dict  # swell_plot.plot_data(rows), for templates/figures/swell_plot.tex.j2
    image: str  # the SVG file next to derivation.md
    recursion_step: int  # operations the δ program gains per layer
    shallow: dict  # the L = 1 row: operations (expansion, recursion), paths and terms
    weight: str  # LaTeX: w^{(1)}_{11} as this document writes it (w^{(1)}_{1,1} when wide)
    skipped: bool  # some routes were too large to build
    figure: int = 2  # its number in the PDF, after the tree of dependencies


WEIGHT = (1, 1, 1)  # (l, j, k): w^{(1)}_{11}, drawn, summed over its paths and checked in numbers
Drawing = TypeVar("Drawing")


def once_per_derivation(draw: Callable[[Derivation], Drawing]) -> Callable[[Derivation], Drawing]:
    """``draw`` made once per derivation: the .tex, the .md and the figure files all show the
    same drawing (kept while the derivation lives)."""
    drawn: WeakKeyDictionary[Derivation, Drawing] = WeakKeyDictionary()

    @wraps(draw)
    def cached(d: Derivation) -> Drawing:
        if d not in drawn:
            drawn[d] = draw(d)
        return drawn[d]

    return cached


@once_per_derivation
def influence(d: Derivation) -> graph.InfluenceGraph:
    """The tree of dependencies of w^{(1)}_{11}."""
    return graph.influence_graph(d, *WEIGHT)


def graph_part(d: Derivation, P: Printer) -> GraphPart:
    drawn = influence(d)
    mixing = [str(m) for m in range(WEIGHT[0] + 1, d.L + 1) if not d.net.activation(m).elementwise]
    where = ("layer " if len(mixing) == 1 else "layers ") + ", ".join(mixing) if mixing else ""
    # the term as a product that breaks between its factors where a line is full
    term = aligned(P.wrap("", [drawn.path_term_latex]), relation="")
    return GraphPart(drawn.plain(), drawn.weight_latex, drawn.l, drawn.paths, drawn.routes,
                     term, drawn.summed_latex, where, mixing[0] if len(mixing) == 1 else "m",
                     str(int(mixing[0]) - 1) if len(mixing) == 1 else "m-1", GRAPH_IMAGE)


def swell_width(net: Network) -> int:
    """This network's width: its widest hidden layer (or widest layer, with none), at least 2."""
    return max(max(net.widths[1:-1] or net.widths), 2)


@cache
def swell_rows(width: int, cost: str = "mse") -> tuple[dict, ...]:
    """Measurements for generic networks [width] * (L + 1), L = 1..4, with this cost; cached in
    the process and kept between runs (``figures.kept_swell``)."""
    return kept_swell.measure(SWELL_DEPTHS, width, cost, SWELL_MAX_ROUTES)


def swell_part(d: Derivation, weight: str = "w^{(1)}_{11}") -> SwellPart:
    """Expression swell for networks like ``d``'s; ``weight`` is the LaTeX of w^{(1)}_{11}
    as the document writes it, for the text that names it."""
    width = swell_width(d.net)
    rows = swell_rows(width, d.net.cost)
    steps = {b["recursion"] - a["recursion"] for a, b in itertools.pairwise(rows)}
    tables = {fmt: swell.table_data(rows, "tex" if fmt == "tex" else "md", SWELL_MAX_ROUTES)
              for fmt in ("tex", "md", "html")}
    for table in tables.values():  # the column notes name the weight as the rest of the text
        table["about_math"] = [(head, text.replace("w^{(1)}_{11}", weight))
                               for head, text in table["about_math"]]
    first = rows[0]
    return SwellPart(width, d.net.cost, f"{SWELL_DEPTHS[0]} to {SWELL_DEPTHS[-1]}", tables,
                     plot_data(rows), SWELL_IMAGE, min(steps),
                     {"expansion": first["expansion"], "recursion": first["recursion"],
                      "paths": first["paths"], "terms": first["path_terms"]},
                     weight, any(row["skipped"] for row in rows))
