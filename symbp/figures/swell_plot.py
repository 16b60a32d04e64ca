"""The swell plot: counts against depth on a log scale, as pgfplots (PDF) and hand-written SVG.

Two panels side by side, one width at a time (the widest measured by default): on
the left the number of paths of influence (and the products of the expanded path
sum), on the right the operations each route writes: the path sum's, the direct
derivative's before and after CSE, and the δ recursion's. Paths and operations
are different quantities, so each gets its own axis. On a log scale an exponential
is a straight line and the recursion's linear growth flattens out. The legend sits
below the panels, clear of the data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .svgplot import LEFT, LogFrame, escape

# (row key, legend, legend in LaTeX, colour, dashed, marker, panel): the lines, in this order
SERIES = (
    ("paths", "paths of influence", "paths of influence", "#555555", False, "circle", 0),
    ("path_terms", "products in the path sum", "products in the path sum", "#2874a6", True,
     "diamond", 0),
    ("expansion", "expansion (path sum)", "expansion (path sum)", "#c0392b", False, "square", 1),
    ("expansion_cse", "expansion after CSE", "expansion after CSE", "#c0392b", True, "square",
     1),
    ("direct", "direct (sympy.diff)", "direct (\\texttt{sympy.diff})", "#7d3c98", False,
     "triangle", 1),
    ("direct_cse", "direct after CSE", "direct after CSE", "#7d3c98", True, "triangle", 1),
    ("recursion", "recursion (δ program)", "recursion ($\\delta$ program)", "#1e8449", False,
     "diamond", 1),
)
PANELS = (("Paths", "paths, products"), ("Operations", "operations"))
PGF_MARKS = {"circle": "*", "square": "square*", "triangle": "triangle*", "diamond": "diamond*"}
PANEL_WIDTHS = (330, 520)  # px of the SVG panels
LEGEND_ROWS = 4  # the legend below the panels, in two columns


def plot_data(rows: Sequence[dict], width: int | None = None) -> dict:
    """Plain data for templates/figures/swell_plot.tex.j2 and ``swell_svg``: two panels of series.

    Points that were not measured (too large) are left out of their line.
    """
    widths = sorted({row["width"] for row in rows})
    if not widths:
        raise ValueError("no swell rows to plot")
    width = widths[-1] if width is None else width
    if width not in widths:
        raise ValueError(f"no rows of width {width}; measured widths: {widths}")
    chosen = sorted((row for row in rows if row["width"] == width), key=lambda r: r["depth"])
    return {"width": width, **panels_data(
        chosen, title=f"width n = {width}: what it takes to write dC/dw11, against depth",
        note=f"n = {width}", note_tex=f"width $n = {width}$",
        x_label="depth L (layers with weights)", x_label_tex="depth $L$")}


def panels_data(chosen: Sequence[dict], *, title: str, note: str, note_tex: str, x_label: str,
                x_label_tex: str) -> dict:
    """The two panels of the rows ``chosen`` (one per depth, in order; a key a row lacks or
    holds None is no point): ``note`` follows each panel's title, ``x_label`` names the depth."""
    panels = []
    for number, (panel_title, ylabel) in enumerate(PANELS):
        series: list[dict] = []
        values: list[float] = []
        for key, legend, legend_tex, colour, dashed, marker, panel in SERIES:
            points = [[row["depth"], row[key]] for row in chosen if row.get(key)]
            if panel == number and points:
                values += [y for _, y in points]
                series.append({"key": key, "legend": legend, "legend_tex": legend_tex,
                               "colour": colour, "rgb": _rgb(colour),
                               "colour_name": "swell" + key.replace("_", ""),
                               "dashed": dashed, "marker": marker,
                               "pgf_mark": PGF_MARKS[marker], "points": points})
        if not values:
            raise ValueError(f"no {ylabel} measured to plot")
        low = math.floor(math.log10(min(values)))
        high = max(math.ceil(math.log10(max(values))), low + 1)
        panels.append({"title": panel_title, "ylabel": ylabel, "series": series,
                       "ymin": 10**low, "ymax": 10**high})
    return {"depths": [row["depth"] for row in chosen], "panels": panels,
            "series": [s for panel in panels for s in panel["series"]], "title": title,
            "note": note, "note_tex": note_tex, "x_label": x_label, "x_label_tex": x_label_tex}


def _rgb(colour: str) -> str:
    """#c0392b → 192,57,43 (for xcolor's RGB model)."""
    return ",".join(str(int(colour[i:i + 2], 16)) for i in (1, 3, 5))


def swell_svg(rows: Sequence[dict], width: int | None = None) -> str:
    """The same plot as hand-written SVG, for Markdown: two log-scale panels and a legend below."""
    return plot_svg(plot_data(rows, width))


def plot_svg(plot: dict) -> str:
    """The SVG of ``plot`` (``plot_data``, ``panels_data``)."""
    total = sum(PANEL_WIDTHS)
    legend_top = 400
    height = legend_top + 18 * LEGEND_ROWS + 16
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="{height}" '
             f'viewBox="0 0 {total} {height}" font-family="DejaVu Sans, sans-serif" '
             'font-size="12">',
             f'<rect width="{total}" height="{height}" fill="white"/>',
             f'<title>{escape(plot["title"])}</title>']
    x = 0
    for panel, panel_width in zip(plot["panels"], PANEL_WIDTHS):
        frame = LogFrame(min(plot["depths"]), max(plot["depths"]),
                         round(math.log10(panel["ymin"])), round(math.log10(panel["ymax"])),
                         width=panel_width, height=legend_top, pad=16)
        inner = frame.opening(f"{panel['title']} ({plot['note']})", x=x)
        inner += frame.x_ticks(plot["depths"])
        for s in panel["series"]:
            points = " ".join(f"{frame.px(d):.1f},{frame.py(v):.1f}" for d, v in s["points"])
            dash = ' stroke-dasharray="6 4"' if s["dashed"] else ""
            inner.append(f'<polyline fill="none" stroke="{s["colour"]}" stroke-width="2"{dash} '
                         f'points="{points}"/>')
            inner += [_marker(s["marker"], frame.px(d), frame.py(v), s["colour"])
                      for d, v in s["points"]]
        inner += frame.closing(plot["x_label"], panel["ylabel"] + " (log scale)")
        parts += inner
        x += panel_width
    parts += _legend(plot["series"], legend_top)
    return "\n".join([*parts, "</svg>"]) + "\n"


def _legend(series: list[dict], top: float) -> list[str]:
    """The legend below both panels, in two columns, where it hides no data."""
    parts = []
    for n, s in enumerate(series):
        x = LEFT + (n // LEGEND_ROWS) * 300
        middle = top + 10 + 18 * (n % LEGEND_ROWS)
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
