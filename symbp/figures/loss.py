"""The loss curve of a training run: cost per epoch as hand-written SVG (log scale) and CSV."""

from __future__ import annotations

import math

import numpy as np

from .svgplot import LEFT, LogFrame

MAX_POINTS = 800  # points of the polyline: enough for a smooth curve, few bytes


def loss_curve_svg(losses: list[float], title: str, threshold: float | None = None) -> str:
    """The cost per epoch as a hand-written SVG: polyline, log-scale y axis, labels."""
    positive = [c for c in losses if c > 0] or [1.0]
    shown = min(positive) if threshold is None else min(*positive, threshold)
    low = math.floor(math.log10(shown))
    high = max(math.ceil(math.log10(max(positive))), low + 1)
    last = max(len(losses) - 1, 1)
    frame = LogFrame(0, last, low, high, height=400)
    keep = sorted(set(np.linspace(0, len(losses) - 1, MAX_POINTS).round().astype(int).tolist()))
    points = " ".join(f"{frame.px(e):.1f},{frame.py(losses[e]):.1f}" for e in keep)
    parts = frame.opening(title) + frame.x_ticks(_ticks(last))
    if threshold is not None and threshold <= 10.0**high:
        y = frame.py(threshold)
        parts += [f'<line x1="{LEFT}" y1="{y:.1f}" x2="{frame.right}" y2="{y:.1f}" '
                  'stroke="#c33" stroke-dasharray="6 4"/>',
                  f'<text x="{frame.right - 4}" y="{y - 5:.1f}" text-anchor="end" fill="#c33">'
                  f"C = {threshold:g}</text>"]
    parts.append(f'<polyline fill="none" stroke="#1f5fa8" stroke-width="2" points="{points}"/>')
    parts += frame.closing("epoch", "cost C (log scale)")
    return "\n".join(parts) + "\n"


def _ticks(last: int) -> list[int]:
    """Round epoch numbers (steps of 1, 2 or 5 times a power of ten), at most 11 of them."""
    step = next(m * 10**k for k in range(20) for m in (1, 2, 5) if last <= 10 * m * 10**k)
    return list(range(0, last + 1, step))


def loss_csv(losses: list[float]) -> str:
    return "epoch,cost\n" + "".join(f"{e},{c!r}\n" for e, c in enumerate(losses))
