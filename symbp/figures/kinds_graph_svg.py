"""The tree of dependencies of a layer kind's parameter entry as hand-written SVG.

It draws from the positions ``kinds_graph`` computed, as the TikZ template does, so the figure in
the PDF and the one beside the Markdown show the same thing: grey edges first (a curve where an
edge passes columns by), the highlighted path on top with its labels, then the nodes, and the
legend under the drawing.
"""

from __future__ import annotations

import math

from .graph_svg import (
    EDGE_COLOUR,
    FILLS,
    NODE_FONT,
    PATH_COLOUR,
    PX,
    STACK_FONT,
    _text_width,
    edge_labels,
    legend_texts,
    stacked_behind,
    svg_frame,
)
from .kinds_graph import KindsGraph, KindsNode
from .layout import PT, RADIUS
from .svgplot import escape


def legend_lines(graph: KindsGraph) -> list[str]:
    """What the drawing shows, in plain text: the highlighted path, the other arrows, curves,
    stacks, and the count that makes the gradient a sum over paths."""
    lines = ["highlighted: one path of influence, each arrow labelled with its local derivative",
             "grey: every other arrow carries ∂(its head)/∂(its tail), one factor of the chain "
             "rule"]
    if any(e.curve is not None for e in graph.edges):
        lines.append("curved: an arrow that passes columns by (a skip, a later step or "
                     "position the same entry enters)")
    if graph.left_out:
        lines.append(f"+n: a stacked node for n more entries of its column ({graph.left_out} of "
                     f"the {graph.entries} entries left out), its arrows gathered")
    lines.append(f"∂C/∂{graph.weight_text} is the sum over all {graph.paths} paths from "
                 f"{graph.weight_text} to C of the product of the factors along each")
    return lines


def kinds_graph_svg(graph: KindsGraph) -> str:
    """The drawing with Unicode labels, and the legend below it."""
    legend = legend_lines(graph)
    frame, parts = svg_frame(
        graph.nodes, [edge.label.extent() for edge in graph.edges if edge.label is not None],
        legend, f"Every path from {graph.weight_text} to the cost C", top=graph.top)
    px, py = frame.px, frame.py
    nodes = {n.id: n for n in graph.nodes}
    for on_path in (False, True):
        for edge in (e for e in graph.edges if e.highlighted == on_path):
            s, t = nodes[edge.source], nodes[edge.target]
            colour, stroke, tip = ((PATH_COLOUR, 3.0, "pathtip") if on_path
                                   else (EDGE_COLOUR, 1.0, "tip"))
            first, last = ((edge.curve[0], edge.curve[1]), (edge.curve[2], edge.curve[3])) \
                if edge.curve else ((t.x, t.y), (s.x, s.y))
            x0, y0 = _border(s, first)
            x1, y1 = _border(t, last)
            if edge.curve is None:
                shape = f"M{px(x0)},{py(y0)} L{px(x1)},{py(y1)}"
            else:  # as TikZ's ".. controls (c1) and (c2) .."
                shape = (f"M{px(x0)},{py(y0)} C{px(first[0])},{py(first[1])} "
                         f"{px(last[0])},{py(last[1])} {px(x1)},{py(y1)}")
            parts.append(f'<path d="{shape}" fill="none" stroke="{colour}" '
                         f'stroke-width="{stroke}" marker-end="url(#{tip})"/>')
    parts += edge_labels(frame, graph.edges)
    for node in graph.nodes:
        border, stroke = (PATH_COLOUR, 2.6) if node.highlighted else ("#737373", 1.0)
        size = (STACK_FONT if node.stacked else NODE_FONT[node.kind]) * PT * PX
        parts += [*stacked_behind(frame, node),
                  f'<circle cx="{px(node.x)}" cy="{py(node.y)}" r="{RADIUS * PX:.1f}" '
                  f'fill="{FILLS[node.kind]}" stroke="{border}" stroke-width="{stroke}"/>',
                  f'<text x="{px(node.x)}" y="{float(py(node.y)) + size * 0.35:.1f}" '
                  f'text-anchor="middle" font-size="{_fitted(node, size):.1f}">'
                  f"{escape(node.text)}</text>"]
    parts += legend_texts(frame, legend)
    return "\n".join([*parts, "</svg>"]) + "\n"


def _fitted(node: KindsNode, size: float) -> float:
    """A font size at which the node's label fits inside its circle."""
    room = 2 * RADIUS * PX * 0.86
    return min(size, size * room / max(_text_width(node.text, size), 1.0))


def _border(node: KindsNode, toward: tuple[float, float]) -> tuple[float, float]:
    """Where the line from the node's centre toward a point leaves its circle."""
    dx, dy = toward[0] - node.x, toward[1] - node.y
    length = math.hypot(dx, dy) or 1.0
    return node.x + dx / length * RADIUS, node.y + dy / length * RADIUS
