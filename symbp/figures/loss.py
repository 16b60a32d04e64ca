"""The curves of a training run, per epoch: the loss on a log scale and the accuracy in percent,
each for the training and the held-out part, as hand-written SVG; and the history as CSV.

Plain lists in, text out: values that are None (no such part) or not finite (a run that
diverged) leave gaps in a line. The same history gives the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .svgplot import LEFT, TOP, LogFrame, escape

MAX_POINTS = 800  # points of a polyline: enough for a smooth curve, few bytes
COLOURS = ("#1f5fa8", "#c0392b")  # training, held out


@dataclass(frozen=True)
class Curve:
    """One line: its legend, one value per epoch (None for none), colour, dashed or not."""

    label: str
    values: Sequence[float | None]
    colour: str
    dashed: bool = False


@dataclass(frozen=True)
class PercentFrame(LogFrame):
    """A linear y axis from ``low`` to ``high`` percent (the frame's decades become tens)."""

    def py(self, value: float) -> float:  # value: a share from 0 to 1
        span = self.high - self.low
        return TOP + (self.bottom - TOP) * (self.high - 100 * value) / span

    def opening(self, title: str, x: float | None = None) -> list[str]:
        grid = LogFrame.opening(self, title, x)[:3]  # the element, background and title
        step = 10 if self.high - self.low > 20 else 2
        for tick in range(self.low, self.high + 1, step):
            y = self.py(tick / 100)
            grid += [f'<line x1="{LEFT}" y1="{y:.1f}" x2="{self.right}" y2="{y:.1f}" '
                     'stroke="#ddd"/>',
                     f'<text x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{tick}%</text>']
        return grid


def curves_svg(curves: Sequence[Curve], title: str, y_label: str, percent: bool = False) -> str:
    """The curves against the epoch (0: before training): log scale, or percent with
    ``percent``; a legend below."""
    finite = [v for c in curves for v in c.values
              if v is not None and math.isfinite(v) and (percent or v > 0)]
    last = max(max((len(c.values) for c in curves), default=1) - 1, 1)
    if percent:
        low = min(10 * math.floor(10 * min(finite, default=0.0)), 90)
        frame: LogFrame = PercentFrame(0, last, low, 100, height=420)
    else:
        low = math.floor(math.log10(min(finite, default=1.0)))
        high = max(math.ceil(math.log10(max(finite, default=1.0))), low + 1)
        frame = LogFrame(0, last, low, high, height=420)
    parts = frame.opening(title) + frame.x_ticks(_ticks(last))
    for curve in curves:
        parts += _polylines(frame, curve)
    parts += _legend(curves, frame.height - 12)
    parts += frame.closing("epoch", y_label)
    return "\n".join(parts) + "\n"


def _polylines(frame: LogFrame, curve: Curve) -> list[str]:
    """The curve as polylines, broken where a value is missing, at most MAX_POINTS points."""
    count = len(curve.values)
    keep = sorted(set(np.linspace(0, count - 1, MAX_POINTS).round().astype(int).tolist()))
    runs: list[list[str]] = [[]]
    for e in keep:
        v = curve.values[e]
        if v is None or not math.isfinite(v):
            runs.append([])
        else:
            runs[-1].append(f"{frame.px(e):.1f},{frame.py(v):.1f}")
    dash = ' stroke-dasharray="6 4"' if curve.dashed else ""
    return [f'<polyline fill="none" stroke="{curve.colour}" stroke-width="2"{dash} '
            f'points="{" ".join(run)}"/>' for run in runs if run]


def _legend(curves: Sequence[Curve], bottom: float) -> list[str]:
    """The legend at the bottom left, level with the axis label and clear of it."""
    parts = []
    x = LEFT
    for curve in curves:
        dash = ' stroke-dasharray="6 4"' if curve.dashed else ""
        parts += [f'<line x1="{x}" y1="{bottom - 4}" x2="{x + 24}" y2="{bottom - 4}" '
                  f'stroke="{curve.colour}" stroke-width="2"{dash}/>',
                  f'<text x="{x + 30}" y="{bottom}">{escape(curve.label)}</text>']
        x += 110
    return parts


def _ticks(last: int) -> list[int]:
    """Round epoch numbers (steps of 1, 2 or 5 times a power of ten), at most 11 of them."""
    step = next(m * 10**k for k in range(20) for m in (1, 2, 5) if last <= 10 * m * 10**k)
    return list(range(0, last + 1, step))


def history_csv(header: Sequence[str], rows: Sequence[Sequence[float | int | None]]) -> str:
    """One line per epoch; an empty field where a value does not apply."""
    lines = [",".join(header)]
    for row in rows:
        lines.append(",".join("" if v is None else repr(v) for v in row))
    return "\n".join(lines) + "\n"
