"""The frame of symbp's hand-written SVG plots: a log-scale y axis against a linear x axis.

The loss curve of ``symbp train`` and the expression-swell plot draw their lines
inside this frame; NumPy-free and dependency-free, with deterministic bytes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from xml.sax.saxutils import escape as _xml_escape

from ..core.naming import SUPERSCRIPT

LEFT, RIGHT, TOP, BOTTOM = 72, 24, 44, 52  # margins in px


def escape(text: str) -> str:
    """Text made safe inside an SVG element or attribute."""
    return _xml_escape(str(text), {'"': "&quot;"})


@dataclass(frozen=True)
class LogFrame:
    """Maps (x, value) to pixels: x linear from ``x_first`` to ``x_last``, value over decades
    10^low .. 10^high; ``pad`` keeps the first and last x off the axes."""

    x_first: float
    x_last: float
    low: int
    high: int
    width: int = 640
    height: int = 420
    pad: float = 0.0

    @property
    def right(self) -> float:
        return self.width - RIGHT

    @property
    def bottom(self) -> float:
        return self.height - BOTTOM

    def px(self, x: float) -> float:
        span = max(self.x_last - self.x_first, 1)
        return LEFT + self.pad + (self.right - LEFT - 2 * self.pad) * (x - self.x_first) / span

    def py(self, value: float) -> float:
        value = max(value, 10.0**self.low)
        return TOP + (self.bottom - TOP) * (self.high - math.log10(value)) / (self.high - self.low)

    def opening(self, title: str, x: float | None = None) -> list[str]:
        """The SVG element, a white background, the title and the decade grid with labels.

        With ``x`` the element is a panel nested at that offset in a larger drawing.
        """
        where = f'x="{x:g}" y="0" ' if x is not None else 'xmlns="http://www.w3.org/2000/svg" '
        parts = [
            f'<svg {where}width="{self.width}" '
            f'height="{self.height}" viewBox="0 0 {self.width} {self.height}" '
            'font-family="DejaVu Sans, sans-serif" font-size="12">',
            f'<rect width="{self.width}" height="{self.height}" fill="white"/>',
            f'<text x="{self.width / 2:.0f}" y="24" text-anchor="middle" font-size="14">'
            f"{escape(title)}</text>",
        ]
        for k in range(self.low, self.high + 1):
            y = self.py(10.0**k)
            label = f"10{str(k).translate(SUPERSCRIPT)}" if k not in (0, 1) else f"{10**k}"
            parts += [f'<line x1="{LEFT}" y1="{y:.1f}" x2="{self.right}" y2="{y:.1f}" '
                      'stroke="#ddd"/>',
                      f'<text x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{label}</text>']
        return parts

    def x_ticks(self, ticks: Iterable[float]) -> list[str]:
        parts = []
        for tick in ticks:
            x = self.px(tick)
            parts += [f'<line x1="{x:.1f}" y1="{self.bottom}" x2="{x:.1f}" '
                      f'y2="{self.bottom + 5}" stroke="black"/>',
                      f'<text x="{x:.1f}" y="{self.bottom + 19}" text-anchor="middle">'
                      f"{tick:g}</text>"]
        return parts

    def closing(self, x_label: str, y_label: str) -> list[str]:
        """The axes, their labels and the end of the SVG element."""
        middle_x, middle_y = (LEFT + self.right) / 2, (TOP + self.bottom) / 2
        return [
            f'<path d="M{LEFT},{TOP} V{self.bottom} H{self.right}" fill="none" stroke="black"/>',
            f'<text x="{middle_x:.0f}" y="{self.height - 12}" text-anchor="middle">'
            f"{escape(x_label)}</text>",
            f'<text transform="translate(18 {middle_y:.0f}) rotate(-90)" '
            f'text-anchor="middle">{escape(y_label)}</text>',
            "</svg>",
        ]
