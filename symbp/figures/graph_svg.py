"""Drawing the influence graph as SVG by hand (the TikZ comes from the templates).

Both pictures use the positions that ``symbp.figures.layout`` computed, so the
figure in the PDF and the one in the Markdown show the same thing. Grey edges
come first, the highlighted path of influence on top of them, in a colour and
thicker, with its labels; the legend of the TikZ figure follows as lines of text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .graph import InfluenceGraph
from .layout import LABEL_PT, PT, RADIUS
from .svgplot import escape

PX = 50.0  # SVG pixels per cm
MARGIN = 0.3  # cm of white around the SVG drawing
PATH_COLOUR = "#cc5500"  # the TikZ templates' symbppath, RGB 204, 85, 0
EDGE_COLOUR = "#9e9e9e"
FILLS = {"w": "#f9e9df", "z": "#f0f0ff", "a": "#e8f7e8", "C": "#e6e6e6"}
NODE_FONT = {"w": 9.0, "z": 9.0, "a": 9.0, "C": 11.0}  # pt, as in graph.tex.j2
STACK_FONT = 8.0  # pt, a stacked node's label
STACK = 2.5 * PT  # cm between a stacked node and each unit behind it (2.5pt, as in TikZ)
LEGEND_PX = 13.0  # legend font size in px
LEGEND_LINE = 19.0  # px between legend lines


# ---------------------------------------------------------------- SVG


@dataclass(frozen=True)
class Frame:
    """Where a drawing in cm lands in the SVG's pixels: y grows upwards in cm, downwards in px."""

    left: float
    top: float
    drawing: float  # cm of drawing above the legend

    def px(self, x: float) -> str:
        return f"{(x - self.left) * PX:.1f}"

    def py(self, y: float) -> str:
        return f"{(self.top - y) * PX:.1f}"


def svg_frame(nodes, boxes, legend: list[str], title: str,
              top: float | None = None) -> tuple[Frame, list[str]]:
    """The frame around nodes and label boxes with the legend below it, and the SVG's opening
    (size, title, the two arrow tips, a white ground). ``top`` overrides the drawing's top."""
    left = min([n.x - RADIUS for n in nodes] + [b[0] for b in boxes]) - MARGIN
    if top is None:
        top = max([n.y + RADIUS for n in nodes] + [b[3] for b in boxes])
    top += MARGIN
    right = max([n.x + RADIUS + STACK * 2 for n in nodes] + [b[2] for b in boxes])
    bottom = min(n.y - RADIUS - STACK * 2 for n in nodes)
    width = max(right + MARGIN - left, max(_text_width(t, LEGEND_PX) for t in legend) / PX
                + 2 * MARGIN)
    drawing = top - bottom + MARGIN
    height = drawing + ((len(legend) + 0.5) * LEGEND_LINE) / PX
    opening = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width * PX:.0f}" '
        f'height="{height * PX:.0f}" viewBox="0 0 {width * PX:.0f} {height * PX:.0f}" '
        f'font-family="DejaVu Sans, sans-serif">',
        f"<title>{escape(title)}</title>",
        "<defs>",
        *(f'<marker id="{name}" viewBox="0 0 10 8" refX="10" refY="4" markerWidth="{size}" '
          f'markerHeight="{size * 0.8:.1f}" markerUnits="userSpaceOnUse" orient="auto">'
          f'<path d="M0,0 L10,4 L0,8 z" fill="{colour}"/></marker>'
          for name, colour, size in (("tip", EDGE_COLOUR, 7), ("pathtip", PATH_COLOUR, 11))),
        "</defs>",
        f'<rect width="{width * PX:.0f}" height="{height * PX:.0f}" fill="white"/>',
    ]
    return Frame(left, top, drawing), opening


def edge_labels(frame: Frame, edges) -> list[str]:
    """The local derivatives written beside the highlighted path's edges."""
    label_px = LABEL_PT * PT * PX
    return [f'<text x="{frame.px(edge.label.x)}" '
            f'y="{float(frame.py(edge.label.y)) + label_px * 0.35:.1f}" '
            f'text-anchor="middle" font-size="{label_px:.1f}" fill="#a84600">'
            f"{escape(edge.text)}</text>" for edge in edges if edge.label is not None]


def stacked_behind(frame: Frame, node) -> list[str]:
    """The two circles behind a stacked node, standing for the units it gathers."""
    return [f'<circle cx="{float(frame.px(node.x)) + shift * STACK * PX:.1f}" '
            f'cy="{float(frame.py(node.y)) + shift * STACK * PX:.1f}" '
            f'r="{RADIUS * PX:.1f}" fill="{FILLS[node.kind]}" stroke="#999"/>'
            for shift in ((2, 1) if node.stacked else ())]


def legend_texts(frame: Frame, legend: list[str]) -> list[str]:
    """The legend under the drawing, its first line in the path's colour."""
    return [f'<text x="{MARGIN * PX:.1f}" y="{frame.drawing * PX + (n + 0.8) * LEGEND_LINE:.1f}" '
            f'font-size="{LEGEND_PX:.1f}" fill="{"#a84600" if n == 0 else "#333"}">'
            f"{escape(line)}</text>" for n, line in enumerate(legend)]


def graph_svg(graph: InfluenceGraph) -> str:
    """The same drawing as hand-written SVG with Unicode labels, and the legend below it."""
    legend = _legend_lines(graph)
    frame, parts = svg_frame(
        graph.nodes, [edge.label.extent() for edge in graph.edges if edge.label is not None],
        legend, f"Every path from {graph.node(graph.path[0]).text} to the cost C")
    px, py = frame.px, frame.py
    nodes = {n.id: n for n in graph.nodes}
    for on_path in (False, True):
        for edge in (e for e in graph.edges if e.highlighted == on_path):
            (x0, y0), (x1, y1) = _between(nodes[edge.source], nodes[edge.target])
            colour, stroke, tip = ((PATH_COLOUR, 3.0, "pathtip") if on_path
                                   else (EDGE_COLOUR, 1.0, "tip"))
            parts.append(f'<line x1="{px(x0)}" y1="{py(y0)}" x2="{px(x1)}" y2="{py(y1)}" '
                         f'stroke="{colour}" stroke-width="{stroke}" marker-end="url(#{tip})"/>')
    parts += edge_labels(frame, graph.edges)
    for node in graph.nodes:
        if node.kind == "gap":  # layers left out: a row of dots, no circle
            parts.append(f'<text x="{px(node.x)}" y="{float(py(node.y)) + 6:.1f}" '
                         f'text-anchor="middle" font-size="22">{escape(node.text)}</text>')
            continue
        border, stroke = (PATH_COLOUR, 2.6) if node.highlighted else ("#737373", 1.0)
        dash = ' stroke-dasharray="4 3"' if node.repeat else ""
        size = (STACK_FONT if node.stacked else NODE_FONT[node.kind]) * PT * PX
        parts += [*stacked_behind(frame, node),
                  f'<circle cx="{px(node.x)}" cy="{py(node.y)}" r="{RADIUS * PX:.1f}" '
                  f'fill="{FILLS[node.kind]}" stroke="{border}" stroke-width="{stroke}"{dash}/>',
                  f'<text x="{px(node.x)}" y="{float(py(node.y)) + size * 0.35:.1f}" '
                  f'text-anchor="middle" font-size="{size:.1f}">{escape(node.text)}</text>']
    parts += legend_texts(frame, legend)
    return "\n".join([*parts, "</svg>"]) + "\n"


def _legend_lines(graph: InfluenceGraph) -> list[str]:
    lines = ["highlighted: one path of influence, each arrow labelled with its local derivative"]
    lines += [f"grey {item.edge_text} carries {item.carries_text}"
              + (f" {item.where}" if item.where else "") for item in graph.legend]
    if any(node.stacked for node in graph.nodes):
        lines.append("a stacked node stands for the other units of its layer, with an arrow "
                     "for each")
    if graph.elided:
        lines.append(f"⋯ stands for layers {graph.elided}, each drawn like the layers around it")
    if graph.rows > 1:
        lines.append("a dashed column repeats the last column of the row above")
    return lines


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
