"""The tree of dependencies of one shared parameter entry of a network of layer kinds, as plain
data for the document: the drawing (``figures.kinds_graph``), the term of its highlighted path
and the counts the text states. Drawn once per derivation: the .tex, the .md and the figure files
all show the same one.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.derivation import Derivation
from ..figures.kinds_graph import MAX_ENTRIES, KindsGraph, kinds_graph
from ..printing.latex import Printer, aligned
from .figures import GRAPH_IMAGE, once_per_derivation
from .kinds_paths import dependency_graph


@dataclass(frozen=True)
class KindsGraphPart:
    """The tree of dependencies of the first entry of one parameter of layer l."""

    graph: dict  # KindsGraph.plain(), for templates/figures/kinds_graph.tex.j2
    weight: str  # LaTeX: K^{(1)}_{1,1,1}
    layer: int
    kind: str  # plain text: the layer's kind, "conv1d"
    enters: int  # entries it enters directly
    paths: int  # paths from it to C
    path_term: str  # LaTeX: the product of the local derivatives along the highlighted path
    left_out: int  # entries on a path that the drawing stacks
    entries: int  # entries of z and a on a path
    most: int  # entries of a column drawn one by one
    image: str  # the SVG file next to derivation.md
    figure: int = 1  # its number in the PDF: the only figure of the document


@once_per_derivation
def kinds_influence(d: Derivation) -> KindsGraph:
    """The tree of dependencies of the chosen parameter entry."""
    return kinds_graph(d, graph=dependency_graph(d))


def kinds_graph_part(d: Derivation, P: Printer) -> KindsGraphPart:
    drawn = kinds_influence(d)
    # the term as a product that breaks between its factors where a line is full
    term = aligned(P.wrap("", [drawn.path_term_latex]), relation="")
    return KindsGraphPart(drawn.plain(), drawn.weight_latex, drawn.l,
                          d.net.resolved[drawn.l - 1].kind.name, drawn.enters, drawn.paths, term,
                          drawn.left_out, drawn.entries, MAX_ENTRIES, GRAPH_IMAGE)
