"""Where the influence graph's nodes and labels go, in centimetres (y upwards).

Columns run left to right (w, z_l, a_l, ..., a_L, C) with their first node on one
top line, so that the highlighted path of influence is a straight line along the
top, as in the seed's single-path picture; the other units hang below it. Only the
highlighted edges carry a label, set just above the line; a gap between two
columns is as wide as its label needs. A drawing wider than the page is wrapped
into rows, each after an activation column; the next row starts with a copy of
that column. TikZ and SVG both draw from these numbers, so the two pictures agree.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass

ROW = 1.35  # cm between neighbouring units of a column
RADIUS = 0.48  # cm, every node is a circle of this radius
LABEL_PT = 8.5  # font size of the edge labels, in pt
PT = 2.54 / 72.27  # cm per TeX point
MIN_GAP = 1.6  # cm between the centres of two columns, however short their label
ROW_GAP = 1.0  # cm between the lowest node of a row and the labels of the next
PAGE_WIDTH = 15.5  # cm the picture may take in the document
MIN_SCALE = 0.85  # smallest scale before the drawing wraps into one more row
_SUPERSCRIPTS = set("⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾")
_SUBSCRIPTS = set("₀₁₂₃₄₅₆₇₈₉₋")
_RUNS = re.compile("[⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾₀₁₂₃₄₅₆₇₈₉₋]+|[^⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾₀₁₂₃₄₅₆₇₈₉₋]+")
_NARROW = set("()′·−+ 1il,")


@dataclass(frozen=True)
class Label:
    """A label's box: its centre and size, in cm."""

    x: float
    y: float
    width: float
    height: float

    def extent(self) -> tuple[float, float, float, float]:
        """Left, bottom, right, top."""
        return (self.x - self.width / 2, self.y - self.height / 2,
                self.x + self.width / 2, self.y + self.height / 2)


@dataclass(frozen=True)
class Layout:
    """Node centres and rows, in cm."""

    positions: dict[str, tuple[float, float]]
    rows: list[list[int]]  # column indices per row; a row after the first repeats one
    width: float
    height: float
    scale: float  # ≤ 1: what fits the page width


def label_size(text: str) -> tuple[float, float]:
    """Estimated width and height in cm of an edge label set at LABEL_PT, from its Unicode.

    TeX stacks a superscript over its subscript, so only the longer of the two counts;
    a product is juxtaposition there (the SVG's · is narrow).
    """
    ems = 0.0
    for run in _RUNS.findall(text):
        if run[0] in _SUPERSCRIPTS or run[0] in _SUBSCRIPTS:
            upper = sum(c in _SUPERSCRIPTS for c in run)
            ems += 0.38 * max(upper, len(run) - upper)
        else:
            ems += sum(0.25 if c == "·" else 0.4 if c in _NARROW else 0.56 for c in run)
    em = LABEL_PT * PT
    tall = 2.4 if "/" in text else 1.65  # a fraction stands higher
    return round(ems * em + 0.12, 3), round(tall * em + 0.08, 3)


def layout(columns: list[list[str]], kinds: list[str], gaps: list[float]) -> Layout:
    """Positions for ``columns`` of node ids, wrapped into rows.

    ``kinds`` names each column's kind (w, z, a, C); a row may end only after an
    ``a`` column. ``gaps[c]`` is the room the label between columns c and c + 1
    needs. The next row repeats the column a row ends with, under the id
    ``<id>_again`` (see ``repeat_id``).
    """
    steps = [max(MIN_GAP, g + 2 * RADIUS + 0.3) for g in gaps]
    rows = _rows(kinds, steps)
    height = max(len(column) for column in columns) * ROW
    positions: dict[str, tuple[float, float]] = {}
    widest = 0.0
    for r, row in enumerate(rows):
        top = -r * (height + ROW_GAP)
        x = 0.0
        for n, c in enumerate(row):
            if n:
                x += steps[row[n - 1]]
            repeated = r > 0 and n == 0
            for i, node in enumerate(columns[c]):
                positions[repeat_id(node) if repeated else node] = (round(x, 3),
                                                                    round(top - i * ROW, 3))
        widest = max(widest, x)
    width = widest + 2 * RADIUS
    total_height = len(rows) * height + (len(rows) - 1) * ROW_GAP
    return Layout(positions, rows, round(width, 3), round(total_height, 3),
                  math.floor(min(1.0, PAGE_WIDTH / width) * 1000) / 1000)


def repeat_id(node: str) -> str:
    """The id of a node's copy at the start of the next row."""
    return node + "_again"


def _rows(kinds: list[str], steps: list[float]) -> list[list[int]]:
    """The fewest rows, as even as can be, that fit the page at MIN_SCALE or more."""
    limit = PAGE_WIDTH / MIN_SCALE - 2 * RADIUS
    breaks = [c for c, kind in enumerate(kinds[:-1]) if kind == "a"]  # a row may end after these
    for count in range(1, len(breaks) + 2):
        rows = _split(len(kinds), steps, breaks, count)
        if max(_span(row, steps) for row in rows) <= limit:
            return rows
    return _split(len(kinds), steps, breaks, len(breaks) + 1)


def _span(row: list[int], steps: list[float]) -> float:
    return sum(steps[c] for c in row[:-1])


def _split(n: int, steps: list[float], breaks: list[int], count: int) -> list[list[int]]:
    """``count`` rows, broken where the widest row is narrowest (each row after the first
    starts with a copy of the column it breaks after, so its step counts twice)."""
    if math.comb(len(breaks), count - 1) > 5000:  # very deep: break near even shares
        total, chosen_breaks = sum(steps), list[int]()
        for share in range(1, count):
            later = [b for b in breaks if not chosen_breaks or b > chosen_breaks[-1]]
            if later:
                chosen_breaks.append(min(later, key=lambda b: abs(sum(steps[:b]) -
                                                                  total * share / count)))
        return _rows_at(n, tuple(chosen_breaks))
    best: tuple[float, tuple[int, ...]] | None = None
    for chosen in itertools.combinations(breaks, count - 1):
        rows = _rows_at(n, chosen)
        widest = max(_span(row, steps) for row in rows)
        if best is None or widest < best[0]:
            best = (widest, chosen)
    return _rows_at(n, best[1] if best else ())


def _rows_at(n: int, chosen: tuple[int, ...]) -> list[list[int]]:
    rows, start = [], 0
    for end in chosen:
        rows.append(list(range(start, end + 1)))
        start = end  # the next row repeats the column it breaks after
    rows.append(list(range(start, n)))
    return rows


def place_label(source: tuple[float, float], target: tuple[float, float],
                text: str) -> Label:
    """A label just above the middle of a horizontal edge."""
    (x0, y0), (x1, _) = source, target
    w, h = label_size(text)
    return Label(round((x0 + x1) / 2, 3), round(y0 + h / 2 + 0.05, 3), w, h)


def clear_of(label: Label, points: list[tuple[float, float]],
             segments: list[tuple[tuple[float, float], tuple[float, float]]]) -> bool:
    """Whether ``label`` keeps off every node circle and every edge segment."""
    left, bottom, right, top = label.extent()
    for x, y in points:
        nearest_x, nearest_y = min(max(x, left), right), min(max(y, bottom), top)
        if math.hypot(x - nearest_x, y - nearest_y) < RADIUS:
            return False
    for (x0, y0), (x1, y1) in segments:
        for t in (i / 20 for i in range(21)):
            px, py = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
            if left < px < right and bottom < py < top:
                return False
    return True
