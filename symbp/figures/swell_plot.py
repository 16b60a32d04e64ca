"""The swell plot: cost against depth on a log scale, as pgfplots (PDF) and hand-written SVG.

One width at a time (the widest measured by default), one line per measure:
the number of paths, the path sum's operations, the direct derivative's
operations before and after CSE, and the δ recursion's. On a log scale an
exponential is a straight line and the recursion's linear growth flattens out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .svgplot import LEFT, TOP, LogFrame, escape

# (row key, legend, legend in LaTeX, colour, dashed, marker): the lines, drawn in this order
SERIES = (
    ("paths", "paths of influence", "paths of influence", "#555555", True, "circle"),
    ("expansion", "expansion (path sum)", "expansion (path sum)", "#c0392b", False, "square"),
    ("expansion_cse", "expansion after CSE", "expansion after CSE", "#c0392b", True, "square"),
    ("direct", "direct (sympy.diff)", "direct (\\texttt{sympy.diff})", "#7d3c98", False,
     "triangle"),
    ("direct_cse", "direct after CSE", "direct after CSE", "#7d3c98", True, "triangle"),
    ("recursion", "recursion (δ program)", "recursion ($\\delta$ program)", "#1e8449", False,
     "diamond"),
)
PGF_MARKS = {"circle": "*", "square": "square*", "triangle": "triangle*", "diamond": "diamond*"}


def plot_data(rows: Sequence[dict], width: int | None = None) -> dict:
    """Plain data for templates/swell_plot.tex.j2 and ``swell_svg``: one series per measure.

    Points that were not measured (too large) are left out of their line.
    """
    widths = sorted({row["width"] for row in rows})
    if not widths:
        raise ValueError("no swell rows to plot")
    width = widths[-1] if width is None else width
    if width not in widths:
        raise ValueError(f"no rows of width {width}; measured widths: {widths}")
    chosen = sorted((row for row in rows if row["width"] == width), key=lambda r: r["depth"])
    series = []
    for key, legend, legend_tex, colour, dashed, marker in SERIES:
        points = [[row["depth"], row[key]] for row in chosen if row[key]]
        if points:
            series.append({"key": key, "legend": legend, "legend_tex": legend_tex,
                           "colour": colour, "rgb": _rgb(colour),
                           "colour_name": "swell" + key.replace("_", ""), "dashed": dashed,
                           "marker": marker, "pgf_mark": PGF_MARKS[marker], "points": points})
    values = [y for s in series for _, y in s["points"]]  # type: ignore[attr-defined]
    low, high = math.floor(math.log10(min(values))), math.ceil(math.log10(max(values)))
    return {"width": width, "depths": [row["depth"] for row in chosen], "series": series,
            "ymin": 10**low, "ymax": 10 ** max(high, low + 1),
            "title": f"width n = {width}: operations for dC/dw11 against depth"}


def _rgb(colour: str) -> str:
    """#c0392b → 192,57,43 (for xcolor's RGB model)."""
    return ",".join(str(int(colour[i:i + 2], 16)) for i in (1, 3, 5))


def swell_svg(rows: Sequence[dict], width: int | None = None) -> str:
    """The same plot as hand-written SVG, for Markdown: log-scale y, depth on x, a legend."""
    plot = plot_data(rows, width)
    frame = LogFrame(min(plot["depths"]), max(plot["depths"]),
                     round(math.log10(plot["ymin"])), round(math.log10(plot["ymax"])), pad=20)
    parts = frame.opening(plot["title"]) + frame.x_ticks(plot["depths"])
    for s in plot["series"]:
        points = " ".join(f"{frame.px(d):.1f},{frame.py(v):.1f}" for d, v in s["points"])
        dash = ' stroke-dasharray="6 4"' if s["dashed"] else ""
        parts.append(f'<polyline fill="none" stroke="{s["colour"]}" stroke-width="2"{dash} '
                     f'points="{points}"/>')
        parts += [_marker(s["marker"], frame.px(d), frame.py(v), s["colour"])
                  for d, v in s["points"]]
    parts += _legend(plot["series"])
    parts += frame.closing("depth L (layers with weights)", "count (log scale)")
    return "\n".join(parts) + "\n"


def _legend(series: list[dict]) -> list[str]:
    """A boxed legend in the upper left, where the lines start low."""
    x, y, line = LEFT + 14, TOP + 10, 18
    parts = [f'<rect x="{x - 8}" y="{y - 6}" width="196" height="{line * len(series) + 6}" '
             'fill="white" fill-opacity="0.9" stroke="#bbb"/>']
    for n, s in enumerate(series):
        middle = y + line * n + 6
        dash = ' stroke-dasharray="6 4"' if s["dashed"] else ""
        parts += [f'<line x1="{x}" y1="{middle}" x2="{x + 28}" y2="{middle}" '
                  f'stroke="{s["colour"]}" stroke-width="2"{dash}/>',
                  _marker(s["marker"], x + 14, middle, s["colour"]),
                  f'<text x="{x + 36}" y="{middle + 4}">{escape(s["legend"])}</text>']
    return parts


def _marker(shape: str, x: float, y: float, colour: str) -> str:
    if shape == "circle":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}"/>'
    corners = {"square": [(-3.2, -3.2), (3.2, -3.2), (3.2, 3.2), (-3.2, 3.2)],
               "triangle": [(0, -4.2), (3.8, 3), (-3.8, 3)],
               "diamond": [(0, -4.4), (4.4, 0), (0, 4.4), (-4.4, 0)]}[shape]
    points = " ".join(f"{x + dx:.1f},{y + dy:.1f}" for dx, dy in corners)
    return f'<polygon points="{points}" fill="{colour}"/>'
