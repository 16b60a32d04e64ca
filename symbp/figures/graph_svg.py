"""Drawing the influence graph as SVG by hand (the TikZ comes from the templates).

Both pictures use the positions that ``symbp.figures.layout`` computed, so the
figure in the PDF and the one in the Markdown show the same thing. Grey edges
and their labels come first, the highlighted path of influence on top of them,
in a colour and thicker.
"""

from __future__ import annotations

import math

from .graph import InfluenceGraph
from .layout import LABEL_PT, PT, RADIUS
from .svgplot import escape

PX = 50.0  # SVG pixels per cm
MARGIN = 0.3  # cm of white around the SVG drawing
PATH_COLOUR = "#cc5500"  # the TikZ templates' symbppath, RGB 204, 85, 0
EDGE_COLOUR = "#9e9e9e"
FILLS = {"w": "#f9e9df", "z": "#f0f0ff", "a": "#e8f7e8", "C": "#e6e6e6"}
NODE_FONT = {"w": 9.0, "z": 9.0, "a": 9.0, "C": 11.0}  # pt, as in graph.tex.j2


# ---------------------------------------------------------------- SVG


def graph_svg(graph: InfluenceGraph) -> str:
    """The same drawing as hand-written SVG with Unicode labels, for the Markdown document."""
    boxes = [edge.label.extent() for edge in graph.edges]
    left = min([n.x - RADIUS for n in graph.nodes] + [b[0] for b in boxes]) - MARGIN
    top = max([n.y + RADIUS for n in graph.nodes] + [b[3] for b in boxes]) + MARGIN
    width = (max([n.x + RADIUS for n in graph.nodes] + [b[2] for b in boxes]) + MARGIN - left)
    height = top - (min([n.y - RADIUS for n in graph.nodes] + [b[1] for b in boxes]) - MARGIN)

    def px(x: float) -> str:
        return f"{(x - left) * PX:.1f}"

    def py(y: float) -> str:
        return f"{(top - y) * PX:.1f}"

    label_px = LABEL_PT * PT * PX
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width * PX:.0f}" '
        f'height="{height * PX:.0f}" viewBox="0 0 {width * PX:.0f} {height * PX:.0f}" '
        f'font-family="DejaVu Sans, sans-serif">',
        f"<title>Every path from {escape(graph.node(graph.path[0]).text)} to the cost C"
        "</title>",
        "<defs>",
        *(f'<marker id="{name}" viewBox="0 0 10 8" refX="10" refY="4" markerWidth="{size}" '
          f'markerHeight="{size * 0.8:.1f}" markerUnits="userSpaceOnUse" orient="auto">'
          f'<path d="M0,0 L10,4 L0,8 z" fill="{colour}"/></marker>'
          for name, colour, size in (("tip", EDGE_COLOUR, 7), ("pathtip", PATH_COLOUR, 11))),
        "</defs>",
        f'<rect width="{width * PX:.0f}" height="{height * PX:.0f}" fill="white"/>',
    ]
    nodes = {n.id: n for n in graph.nodes}
    for on_path in (False, True):
        edges = [e for e in graph.edges if e.highlighted == on_path]
        for edge in edges:
            (x0, y0), (x1, y1) = _between(nodes[edge.source], nodes[edge.target])
            colour, stroke, tip = ((PATH_COLOUR, 3.0, "pathtip") if on_path
                                   else (EDGE_COLOUR, 1.0, "tip"))
            parts.append(f'<line x1="{px(x0)}" y1="{py(y0)}" x2="{px(x1)}" y2="{py(y1)}" '
                         f'stroke="{colour}" stroke-width="{stroke}" marker-end="url(#{tip})"/>')
        for edge in edges:
            label = edge.label
            x, y = px(label.x), py(label.y)
            turn = f' transform="rotate({-label.angle:.1f} {x} {y})"' if label.angle else ""
            colour = "#a84600" if on_path else "#444"
            w, h = _text_width(edge.text, label_px) + 2, label_px * 1.15
            parts.append(
                f"<g{turn}>"
                f'<rect x="{float(x) - w / 2:.1f}" y="{float(y) - h / 2:.1f}" width="{w:.1f}" '
                f'height="{h:.1f}" fill="white"/>'
                f'<text x="{x}" y="{float(y) + label_px * 0.35:.1f}" text-anchor="middle" '
                f'font-size="{label_px:.1f}" fill="{colour}">{escape(edge.text)}</text></g>')
    for node in graph.nodes:
        border, stroke = (PATH_COLOUR, 2.6) if node.highlighted else ("#737373", 1.0)
        size = NODE_FONT[node.kind] * PT * PX
        parts += [f'<circle cx="{px(node.x)}" cy="{py(node.y)}" r="{RADIUS * PX:.1f}" '
                  f'fill="{FILLS[node.kind]}" stroke="{border}" stroke-width="{stroke}"/>',
                  f'<text x="{px(node.x)}" y="{float(py(node.y)) + size * 0.35:.1f}" '
                  f'text-anchor="middle" font-size="{size:.1f}">{escape(node.text)}</text>']
    return "\n".join([*parts, "</svg>"]) + "\n"


def _between(source, target) -> tuple[tuple[float, float], tuple[float, float]]:
    """The part of an edge outside both node circles: where the line and arrow are drawn."""
    dx, dy = target.x - source.x, target.y - source.y
    length = math.hypot(dx, dy)
    ux, uy = dx / length, dy / length
    return ((source.x + ux * RADIUS, source.y + uy * RADIUS),
            (target.x - ux * RADIUS, target.y - uy * RADIUS))


_SCRIPT_CHARS = set("⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾₀₁₂₃₄₅₆₇₈₉")


def _text_width(text: str, size: float) -> float:
    """Approximate advance of ``text`` in DejaVu Sans at ``size`` px: what the white box covers."""
    ems = sum(0.4 if c in _SCRIPT_CHARS else 0.33 if c in " ()′·" else 0.84 if c == "−"
              else 0.62 for c in text)
    return ems * size
