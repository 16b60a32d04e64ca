"""Optimisers as data: each updates one flat parameter vector in place, from one flat gradient.

The formulas are written out exactly as they are computed, operation by operation, so that
a fused step (forward, backward and update in one kernel) can reproduce them bit for bit.
g is the gradient of the mean cost over the minibatch, θ the parameters, t the step count
after this step (1 for the first), η the learning rate:

- ``sgd``: with momentum μ = 0, θ ← θ − (η·g); otherwise v ← (μ·v) + g, then θ ← θ − (η·v)
  (PyTorch's form; the seed's rule W ← W − η ∂C/∂W when μ = 0).
- ``adam`` (Kingma and Ba, as PyTorch computes it): m ← (β₁·m) + ((1 − β₁)·g),
  v ← (β₂·v) + ((1 − β₂)·(g·g)), then θ ← θ − ((η / (1 − β₁ᵗ))·(m / ((√v / √(1 − β₂ᵗ)) + ε))).

Every product and quotient above is one IEEE operation in the order written; the scalars
η/(1 − β₁ᵗ) and √(1 − β₂ᵗ) are computed once per step in Python floats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass
class OptimizerState:
    """What an optimiser carries from step to step: its step count and flat buffers."""

    step: int = 0
    buffers: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class Optimizer:
    """One optimiser with its hyperparameters; ``update`` changes θ and the state in place."""

    name: str
    learning_rate: float
    momentum: float = 0.0
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8

    @property
    def buffer_names(self) -> tuple[str, ...]:
        if self.name == "adam":
            return ("m", "v")
        return ("velocity",) if self.momentum else ()

    def new_state(self, size: int) -> OptimizerState:
        return OptimizerState(0, {name: np.zeros(size) for name in self.buffer_names})

    def update(self, theta: np.ndarray, g: np.ndarray, state: OptimizerState,
               scratch: np.ndarray) -> None:
        """θ and ``state`` one step on, in place; ``scratch`` is a buffer of θ's size."""
        state.step += 1
        UPDATES[self.name](self, theta, g, state, scratch)


def _sgd(opt: Optimizer, theta, g, state: OptimizerState, scratch) -> None:
    if opt.momentum:
        v = state.buffers["velocity"]
        v *= opt.momentum
        v += g
        g = v
    np.multiply(g, opt.learning_rate, out=scratch)
    theta -= scratch


def _adam(opt: Optimizer, theta, g, state: OptimizerState, scratch) -> None:
    m, v, t = state.buffers["m"], state.buffers["v"], state.step
    m *= opt.beta1
    np.multiply(g, 1.0 - opt.beta1, out=scratch)
    m += scratch
    v *= opt.beta2
    np.multiply(g, g, out=scratch)
    scratch *= 1.0 - opt.beta2
    v += scratch
    step_size = opt.learning_rate / (1.0 - opt.beta1**t)
    np.sqrt(v, out=scratch)
    scratch /= math.sqrt(1.0 - opt.beta2**t)
    scratch += opt.eps
    np.divide(m, scratch, out=scratch)
    scratch *= step_size
    theta -= scratch


UPDATES = {"sgd": _sgd, "adam": _adam}
OPTIMIZERS = {"sgd": "stochastic gradient descent", "adam": "Adam (Kingma and Ba)"}
