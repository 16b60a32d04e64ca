"""Where the influence graph's nodes and edge labels go, in centimetres (y upwards).

Columns run left to right (w, z_l, a_l, ..., a_L, C), each centred on y = 0 with
unit 1 on top. A gap between two columns is as wide as its labels need. Labels
are placed one at a time, the highlighted path's first: a label on a horizontal
edge of a one-to-one block sits just above it; any other label sits on its edge
(the drawing gives it a white background) at the spot along the edge that
overlaps the fewest labels, nodes and other edges. TikZ and SVG both draw from
these numbers, so the two pictures agree.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cached_property

ROW = 1.55  # cm between neighbouring units of a column
RADIUS = 0.48  # cm, every node is a circle of this radius
LABEL_PT = 7.5  # font size of the edge labels, in pt
PT = 2.54 / 72.27  # cm per TeX point
SPOTS = tuple(i / 20 for i in range(3, 18))  # fractions along the free part of an edge
WIDENINGS = 5  # rounds of widening crowded blocks
_SUPERSCRIPTS = set("⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾")
_SUBSCRIPTS = set("₀₁₂₃₄₅₆₇₈₉")
_RUNS = re.compile("[⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾₀₁₂₃₄₅₆₇₈₉]+|[^⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾₀₁₂₃₄₅₆₇₈₉]+")
_NARROW = set("()′·−+ 1il,")


@dataclass(frozen=True)
class Label:
    """A label's box: centre, size and the angle in degrees of its baseline (its edge's)."""

    x: float
    y: float
    width: float
    height: float
    angle: float

    @cached_property
    def _axes(self) -> tuple[float, float]:
        return math.cos(math.radians(self.angle)), math.sin(math.radians(self.angle))

    @cached_property
    def reach(self) -> float:
        """Radius of the circle around the centre that holds the whole box."""
        return math.hypot(self.width, self.height) / 2

    def local(self, x: float, y: float) -> tuple[float, float]:
        """A point in the label's frame: along the baseline and across it."""
        c, s = self._axes
        return (x - self.x) * c + (y - self.y) * s, (y - self.y) * c - (x - self.x) * s

    def contains(self, x: float, y: float) -> bool:
        u, v = self.local(x, y)
        return abs(u) <= self.width / 2 and abs(v) <= self.height / 2

    @cached_property
    def _samples(self) -> tuple[tuple[float, float], ...]:
        return tuple(self.samples())

    def samples(self, along: int = 7, across: int = 3) -> list[tuple[float, float]]:
        """Evenly spread points of the box, corners included."""
        c, s = self._axes
        points = []
        for i in range(along):
            for k in range(across):
                u = (i / (along - 1) - 0.5) * self.width
                v = (k / (across - 1) - 0.5) * self.height
                points.append((self.x + u * c - v * s, self.y + u * s + v * c))
        return points

    def overlap(self, other: Label) -> float:
        """Roughly the share of this box that lies inside the other one."""
        if math.hypot(self.x - other.x, self.y - other.y) > self.reach + other.reach:
            return 0.0
        return sum(other.contains(*p) for p in self._samples) / len(self._samples)

    def covers_disc(self, x: float, y: float, radius: float) -> float:
        """Roughly the share of this box that lies inside the disc."""
        if math.hypot(self.x - x, self.y - y) > self.reach + radius:
            return 0.0
        inside = sum((px - x) ** 2 + (py - y) ** 2 < radius**2 for px, py in self._samples)
        return inside / len(self._samples)

    def crosses(self, segment) -> bool:
        """Whether the segment passes through the box (clipped in the label's frame)."""
        (x0, y0), (x1, y1) = segment
        if (max(x0, x1) < self.x - self.reach or min(x0, x1) > self.x + self.reach
                or max(y0, y1) < self.y - self.reach or min(y0, y1) > self.y + self.reach):
            return False
        (u0, v0), (u1, v1) = self.local(x0, y0), self.local(x1, y1)
        low, high = 0.0, 1.0
        for start, step, half in ((u0, u1 - u0, self.width / 2), (v0, v1 - v0, self.height / 2)):
            if abs(step) < 1e-12:
                if abs(start) > half:
                    return False
                continue
            t0, t1 = sorted(((-half - start) / step, (half - start) / step))
            low, high = max(low, t0), min(high, t1)
        return low <= high

    def extent(self) -> tuple[float, float, float, float]:
        """Bounding box of the rotated label: left, bottom, right, top."""
        xs, ys = zip(*self.samples(2, 2))
        return min(xs), min(ys), max(xs), max(ys)

    def rounded(self) -> Label:
        return Label(round(self.x, 3), round(self.y, 3), self.width, self.height,
                     round(self.angle, 2))


@dataclass(frozen=True)
class Layout:
    """Node centres and edge labels, all in cm."""

    positions: dict[str, tuple[float, float]]
    labels: dict[tuple[str, str], Label]
    width: float
    height: float


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
    return round(ems * em + 0.12, 3), round(1.65 * em + 0.08, 3)


def layout(columns: list[list[str]], edges: list[tuple[str, str, str, bool]]) -> Layout:
    """Positions for ``columns`` of node ids and labels for ``edges`` (source, target, label
    text, highlighted). A block of edges whose labels still collide is widened and laid
    out again."""
    stretch = [1.0] * (len(columns) - 1)
    column_of = {node: c for c, column in enumerate(columns) for node in column}
    for _ in range(WIDENINGS):
        positions = _positions(columns, edges, stretch)
        labels = _place_labels(edges, positions)
        crowded = {column_of[source] for source, _ in collisions(labels, positions)}
        if not crowded:
            break
        for c in crowded:
            stretch[c] *= 1.25
    xs = [v for x, _ in positions.values() for v in (x - RADIUS, x + RADIUS)]
    ys = [v for _, y in positions.values() for v in (y - RADIUS, y + RADIUS)]
    for label in labels.values():
        left, bottom, right, top = label.extent()
        xs += [left, right]
        ys += [bottom, top]
    return Layout(positions, labels, round(max(xs) - min(xs), 3), round(max(ys) - min(ys), 3))


def collisions(labels: dict[tuple[str, str], Label],
               positions: dict[str, tuple[float, float]]) -> list[tuple[str, str]]:
    """The edges whose label overlaps another label or a node (beyond a sliver)."""
    found = []
    items = list(labels.items())
    for n, (edge, label) in enumerate(items):
        if any(label.covers_disc(x, y, RADIUS) > 0 for x, y in positions.values()) or any(
                max(label.overlap(other), other.overlap(label)) > 0.05
                for _, other in items[n + 1:]):
            found.append(edge)
    return found


def _block(sources: list[str], targets: list[str], pairs: set[tuple[str, str]]) -> str:
    """The kind of a block of edges: straight (one to one), fan (one node on a side), mesh."""
    if len(sources) == len(targets) == len(pairs):
        return "straight"
    return "fan" if 1 in (len(sources), len(targets)) else "mesh"


def _positions(columns, edges, stretch) -> dict[str, tuple[float, float]]:
    pairs = {(s, t) for s, t, *_ in edges}
    widths = {(s, t): label_size(text)[0] for s, t, text, _ in edges}
    positions, x = {}, 0.0
    for c, column in enumerate(columns):
        for row, node in enumerate(column):
            positions[node] = (round(x, 3), round(((len(column) - 1) / 2 - row) * ROW, 3))
        if c + 1 == len(columns):
            break
        following = columns[c + 1]
        block = {(s, t) for s in column for t in following} & pairs
        widest = max(widths[pair] for pair in block)
        kind = _block(column, following, block)
        if kind == "straight":
            gap = max(1.6, widest + 2 * RADIUS + 0.25)
        elif kind == "fan":
            gap = max(2.2, widest + 2 * RADIUS + 0.6)
        else:  # room for a column of labels per target, side by side
            gap = max(2.4, widest + 2 * RADIUS + 0.6,
                      0.85 * widest * max(len(column), len(following)) + 1.0)
        x += gap * stretch[c]
    return positions


def _place_labels(edges, positions) -> dict[tuple[str, str], Label]:
    segments = {(s, t): (positions[s], positions[t]) for s, t, *_ in edges}
    highlighted = [segments[s, t] for s, t, _, on_path in edges if on_path]
    out_degree: dict[str, int] = {}
    in_degree: dict[str, int] = {}
    for s, t, *_ in edges:
        out_degree[s] = out_degree.get(s, 0) + 1
        in_degree[t] = in_degree.get(t, 0) + 1
    nodes = list(positions.values())
    placed: dict[tuple[str, str], Label] = {}
    for source, target, text, on_path in sorted(edges, key=lambda e: not e[3]):
        (x0, y0), (x1, y1) = segments[source, target]
        w, h = label_size(text)
        angle = math.degrees(math.atan2(y1 - y0, x1 - x0))
        if abs(y1 - y0) < 1e-9 and out_degree[source] == 1 and in_degree[target] == 1:
            placed[source, target] = Label((x0 + x1) / 2, y0 + h / 2 + 0.04, w, h, 0.0)
            continue
        # where the edges spread out: towards the target of a fan out, the source of a fan in
        prefer = 0.62 if in_degree[target] == 1 else 0.38 if out_degree[source] == 1 else 0.5
        others = [seg for pair, seg in segments.items() if pair != (source, target)]

        def crowding(t, w=w, h=h, angle=angle, others=others, on_path=on_path, prefer=prefer,
                     ends=(x0, y0, x1, y1)):
            label = Label(*_along(*ends, t), w, h, angle)
            return (10 * sum(label.overlap(other) for other in placed.values())
                    + 10 * sum(label.covers_disc(x, y, RADIUS + 0.04) for x, y in nodes)
                    + sum(label.crosses(seg) for seg in others)
                    + (0 if on_path else 5 * sum(label.crosses(seg) for seg in highlighted))
                    + abs(t - prefer))

        best = min(SPOTS, key=crowding)
        placed[source, target] = Label(*_along(x0, y0, x1, y1, best), w, h, angle)
    return {(s, t): placed[s, t].rounded() for s, t, *_ in edges}


def _along(x0: float, y0: float, x1: float, y1: float, t: float) -> tuple[float, float]:
    """The point at fraction t of the part of an edge between the two node circles."""
    length = ((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5
    s = RADIUS / length + t * (1 - 2 * RADIUS / length)
    return x0 + s * (x1 - x0), y0 + s * (y1 - y0)
