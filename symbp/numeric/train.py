"""Training demo: XOR learned with the seed's update rule and symbp's generated gradients.

Full-batch gradient descent, W_l ← W_l − η ∂C/∂W_l and b_l ← b_l − η ∂C/∂b_l,
on a [2, hidden, 1] sigmoid network with C = ½ Σ (a − y)² summed over the four
XOR samples. Weights start from N(0, 1) draws of ``numpy.random.default_rng(seed)``,
biases at 0, so a run is deterministic.

Epochs needed (defaults: hidden = 3, η = 2): C falls below 0.01 after 361
epochs for seed 0, and within 400 for each of the seeds 0–9; ``EPOCHS`` = 500
leaves room, and the tests hold the defaults to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..cli import outputs
from ..core.derivation import derive
from ..core.network import Network
from .backends import lambdify
from ..figures.svgplot import LEFT, LogFrame

EPOCHS = 500
LEARNING_RATE = 2.0
HIDDEN = 3
TARGET_COST = 0.01
XOR_INPUTS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_TARGETS = np.array([[0.0], [1.0], [1.0], [0.0]])


@dataclass
class Training:
    """One run: the network, its settings, the cost before each epoch and after the last."""

    network: Network
    learning_rate: float
    seed: int
    losses: list[float]
    weights: list[np.ndarray]
    biases: list[np.ndarray]
    predictions: np.ndarray

    def epochs_to(self, cost: float = TARGET_COST) -> int | None:
        """The first epoch after which C < ``cost`` (0: already at the start), or None."""
        return next((e for e, c in enumerate(self.losses) if c < cost), None)


def train_xor(epochs: int = EPOCHS, learning_rate: float = LEARNING_RATE, seed: int = 0,
              hidden: int = HIDDEN) -> Training:
    """Train XOR by gradient descent with ``symbp.lambdify`` gradients; deterministic."""
    for name, value in (("epochs", epochs), ("hidden", hidden)):
        if isinstance(value, bool) or not isinstance(value, int) or value < (name == "hidden"):
            raise ValueError(f"{name} must be a non-negative integer (hidden: positive); "
                             f"got {value!r}")
    if not learning_rate > 0:
        raise ValueError(f"learning rate must be a positive number; got {learning_rate!r}")
    net = Network([2, hidden, 1], activation="sigmoid", cost="mse")
    grad = lambdify(derive(net))
    rng = np.random.default_rng(seed)
    weights = [rng.normal(size=(hidden, 2)), rng.normal(size=(1, hidden))]
    biases = [np.zeros(hidden), np.zeros(1)]
    losses = []
    for _ in range(epochs):
        losses.append(float(grad.cost(XOR_INPUTS, XOR_TARGETS, weights, biases)))
        g = grad(XOR_INPUTS, XOR_TARGETS, weights, biases)
        for param, step in zip([*weights, *biases], [*g["W"], *g["b"]]):
            param -= learning_rate * step
    losses.append(float(grad.cost(XOR_INPUTS, XOR_TARGETS, weights, biases)))
    predictions = grad.forward(XOR_INPUTS, weights, biases)[:, 0]
    return Training(net, learning_rate, seed, losses, weights, biases, predictions)


# ---------------------------------------------------------------- the loss curve

MAX_POINTS = 800  # points of the polyline: enough for a smooth curve, few bytes


def loss_curve_svg(losses: list[float], title: str, threshold: float | None = TARGET_COST) -> str:
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


def write_loss_curve(losses: list[float], folder: Path, title: str = "cost per epoch",
                     threshold: float | None = TARGET_COST) -> list[Path]:
    """Write ``loss.svg`` and ``loss.csv`` into ``folder`` (atomically); their paths."""
    folder = outputs.writable_folder(Path(folder))
    files = {"loss.svg": loss_curve_svg(losses, title, threshold), "loss.csv": loss_csv(losses)}
    return outputs.commit(folder, {name: text.encode() for name, text in files.items()})


def run_xor(out: Path | str = "output/xor", epochs: int = EPOCHS,
            learning_rate: float = LEARNING_RATE, seed: int = 0, hidden: int = HIDDEN) -> str:
    """Train XOR, write its loss curve into ``out``, and return the lines to print."""
    run = train_xor(epochs, learning_rate, seed, hidden)
    title = f"XOR, {list(run.network.widths)} sigmoid, η = {learning_rate:g}, seed {seed}"
    paths = write_loss_curve(run.losses, Path(out), title)
    reached = run.epochs_to()
    lines = [
        f"trained {run.network!r} on XOR for {epochs} epochs: W <- W - {learning_rate:g} dC/dW "
        f"(seed {seed}), gradients from symbp.lambdify",
        f"cost {run.losses[0]:.4g} -> {run.losses[-1]:.4g} (summed over the 4 samples); "
        + (f"below {TARGET_COST:g} from epoch {reached}" if reached is not None
           else f"never below {TARGET_COST:g}: try more epochs"),
    ]
    for x, target, a in zip(XOR_INPUTS, XOR_TARGETS[:, 0], run.predictions):
        lines.append(f"  {int(x[0])} xor {int(x[1])} = {int(target)}: network says {a:.3f}")
    lines.append("wrote " + ", ".join(str(p) for p in paths))
    return "\n".join(lines)
