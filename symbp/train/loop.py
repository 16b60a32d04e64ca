"""The training loop: minibatches in a seeded order, one step each, a record per epoch.

The loop calls one step function, ``step(x, y, params, state)``, which updates the flat
parameters and the optimiser's state in place. With the numpy backend it is
``GradientStep``: the generated gradient (``symbp.lambdify``) and then the optimiser's
update. With numba it is ``FusedStep``: the generated module's fused step, forward, backward
and update in one compiled call that allocates no array, printed from the same program as
the gradient; it computes the same operations as ``GradientStep`` on the numba gradient
(``optimizers`` writes them out), so the run is the same to the last bit.

Ctrl-C, SIGTERM and the deadline are acted on between steps, never inside one: the loop
notes the signal, finishes the step, writes the checkpoint and raises ``TrainingInterrupted``
(a KeyboardInterrupt) or ``TrainingTimedOut``. Resuming that checkpoint gives the same final
parameters, bit for bit, as a run that was never interrupted.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from ..core.deadline import Deadline, TimedOut
from ..core.derivation import derive
from ..numeric.backends import NumericGradients, lambdify
from . import checkpoint
from .checkpoint import Record, State
from .data import Dataset
from .optimizers import Optimizer, OptimizerState
from .parameters import Parameters
from .plan import Plan

CHECKPOINT_EVERY = 60.0  # seconds between checkpoints while training (and one at the end)
PROGRESS_EVERY = 0.1  # seconds between progress updates


class Step(Protocol):
    """One training step on a minibatch, updating ``params.flat`` and ``state`` in place."""

    def __call__(self, x: np.ndarray, y: np.ndarray, params: Parameters,
                 state: OptimizerState) -> None: ...


class GradientStep:
    """The generated gradient of the cost summed over the batch, divided by the batch size
    (the gradient of the mean cost), then the optimiser's update of the flat parameters.
    A network of layer kinds has its gradient written straight into a flat buffer laid out
    as the parameters (``grad(..., out=...)``)."""

    def __init__(self, gradients: NumericGradients, optimizer: Optimizer, size: int):
        self.gradients, self.optimizer = gradients, optimizer
        self.g, self.scratch = np.empty(size), np.empty(size)
        self.out: Parameters | None = None  # views of self.g, made at the first step

    def __call__(self, x, y, params: Parameters, state: OptimizerState) -> None:
        if params.dense:
            g = self.gradients.grad(x, y, params.weights, params.biases)
            parts = [a for pair in zip(g["W"], g["b"]) for a in pair]  # W_1, b_1, ..., as flat
            np.concatenate([np.ravel(a) for a in parts], out=self.g)
        else:
            if self.out is None:
                self.out = Parameters(params.shapes, self.g, dense=False)
            self.gradients.grad(x, y, params.layers, out=self.out.layers)
        self.g /= len(x)
        self.optimizer.update(params.flat, self.g, state, self.scratch)


class FusedStep:
    """The numba module's fused step (``make_step``), for minibatches of up to ``batch``."""

    def __init__(self, gradients: NumericGradients, optimizer: Optimizer, batch: int):
        self.fused = gradients.make_step(
            optimizer.name, optimizer.learning_rate, momentum=optimizer.momentum,
            beta1=optimizer.beta1, beta2=optimizer.beta2, eps=optimizer.eps, batch=batch)

    def __call__(self, x, y, params: Parameters, state: OptimizerState) -> None:
        self.fused(x, y, params.flat, state.buffers, state.step + 1)
        state.step += 1


def default_step(gradients: NumericGradients, optimizer: Optimizer, batch: int,
              size: int) -> Step:
    """The fastest step ``gradients`` offer: fused for numba on a dense network, else the
    gradient then the update (layer kinds have no fused step yet)."""
    if gradients.backend == "numba" and gradients.network.dense:
        return FusedStep(gradients, optimizer, batch)
    return GradientStep(gradients, optimizer, size)


@dataclass(frozen=True)
class Position:
    """Where the loop is, as a hook sees it: ``step`` steps done in epoch ``epoch`` + 1."""

    epoch: int
    step: int
    steps_per_epoch: int
    epochs: int


Hook = Callable[[Position], None]
Progress = Callable[[str, int, int], None]  # (what, done, total), as symbp.cli.progress takes


@dataclass
class Training:
    """A finished (or interrupted) run: its plan, the history per epoch, the parameters."""

    plan: Plan
    history: list[Record]
    params: Parameters
    steps: int
    seconds: float  # training time in this process (never in a report: it varies)
    resumed_at: tuple[int, int] | None = None  # (epoch, step) of the checkpoint resumed

    @property
    def network(self):
        return self.plan.network

    @property
    def weights(self) -> list[np.ndarray]:
        return self.params.weights

    @property
    def biases(self) -> list[np.ndarray]:
        return self.params.biases

    @property
    def final(self) -> Record:
        return self.history[-1]

    def predict(self, x) -> np.ndarray:
        """The network's output a_L for the inputs ``x`` (one sample per row)."""
        return lambdify(derive(self.network)).forward(x, *self.params.arguments)

    def epochs_to(self, accuracy: float | None = None, loss: float | None = None) -> int | None:
        """The first epoch after which the held-out accuracy (the training one without a
        held-out part) reaches ``accuracy``, or the training loss falls below ``loss``."""
        for r in self.history:
            held = r.heldout_accuracy if r.heldout_accuracy is not None else r.train_accuracy
            if (accuracy is not None and held is not None and held >= accuracy) or \
                    (loss is not None and r.train_loss < loss):
                return r.epoch
        return None

    def to_dict(self) -> dict:
        """The JSON report: what was trained, how, and the history (no timings)."""
        plan = self.plan
        identity = plan.identity()
        return {"heldout_accuracy": self.final.heldout_accuracy,
                "train_accuracy": self.final.train_accuracy, "epochs": self.final.epoch,
                "steps": self.steps, **identity,
                "data": {**identity["data"], "description": plan.data.description},
                "gradients": f"symbp.lambdify(d, backend={plan.backend!r})",
                "final": _record(self.final), "history": [_record(r) for r in self.history]}


def _record(r: Record) -> dict:
    values = (r.epoch, r.train_loss, r.train_accuracy, r.heldout_loss, r.heldout_accuracy)
    return {key: str(v) if isinstance(v, float) and not math.isfinite(v) else v  # JSON has no NaN
            for key, v in zip(checkpoint.HISTORY_COLUMNS, values)}


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped training between two steps; ``training`` is the run so far,
    ``checkpoint`` the file written (None when none was asked for)."""

    def __init__(self, training: Training, checkpoint: Path | None):
        super().__init__("training interrupted")
        self.training, self.checkpoint = training, checkpoint


class TrainingTimedOut(TimedOut):
    """The deadline passed; as TrainingInterrupted."""

    def __init__(self, training: Training, checkpoint: Path | None):
        super().__init__("training timed out")
        self.training, self.checkpoint = training, checkpoint


class _Stops:
    """SIGINT and SIGTERM noted, not raised, while the loop runs (main thread only); one
    that is ignored (a background job's Ctrl-C) stays ignored, as everywhere in symbp."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._previous: dict = {}

    def __enter__(self) -> _Stops:
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                if signal.getsignal(s) != signal.SIG_IGN:
                    self._previous[s] = signal.signal(s, self._note)
        return self

    def _note(self, signum: int, frame: object) -> None:
        self.signal = signum

    def __exit__(self, *exc: object) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)


def measure(gradients: NumericGradients, part: Dataset | None,
            params: Parameters) -> tuple[float | None, float | None]:
    """The mean cost on ``part`` and the share of its samples classified right (the largest
    output, or a single output above 0.5, is the label), None where it does not apply."""
    if part is None:
        return None, None
    loss = float(gradients.cost(part.x, part.y, *params.arguments)) / len(part)
    if part.labels is None:
        return loss, None
    a = np.asarray(gradients.forward(part.x, *params.arguments)).reshape(len(part), -1)
    predicted = a.argmax(axis=1) if a.shape[1] > 1 else (a[:, 0] > 0.5)
    return loss, float(np.mean(predicted == part.labels))


def run(plan: Plan, *, checkpoint_path: str | Path | None = None,
        deadline: Deadline | None = None, progress: Progress | None = None,
        hook: Hook | None = None, step: Step | None = None,
        checkpoint_every: float = CHECKPOINT_EVERY) -> Training:
    """Train as ``plan`` says; see the module text for interruptions."""
    deadline = deadline or Deadline(None)
    path = None if checkpoint_path is None else Path(checkpoint_path)
    with deadline.phase():
        d = derive(plan.network)
        gradients = lambdify(d, plan.backend)
        # the records come from the NumPy module whatever the step's backend: whole data sets
        # are BLAS products, where NumPy is fastest, and they never feed back into training
        evaluation = gradients if plan.backend == "numpy" else lambdify(d, "numpy")
    state = plan.start()
    resumed_at = None if plan.resume is None else (state.epoch, state.step)
    if step is None:
        with deadline.phase():  # numba compiles the fused step here, once (then from its cache)
            step = default_step(gradients, plan.optimizer, plan.settings.batch,
                             state.params.flat.size)
    started = time.monotonic()
    loop = _Loop(plan, state, path, deadline, progress, hook, checkpoint_every)
    with np.errstate(all="ignore"), _Stops() as stops:  # a diverging run shows as inf or NaN
        loop.stops = stops
        if not state.history:
            state.history.append(Record(0, *_both(evaluation, plan, state.params)))
        while state.epoch < plan.settings.epochs:
            if state.order is None:
                state.order = state.rng.permutation(len(plan.train))
            xs, ys = plan.train.x[state.order], plan.train.y[state.order]
            batch = plan.settings.batch
            while state.step < plan.steps_per_epoch:
                start = state.step * batch
                step(xs[start:start + batch], ys[start:start + batch], state.params,
                     state.optimizer)
                state.step += 1
                loop.after_step(started, resumed_at)
            state.history.append(Record(state.epoch + 1,
                                        *_both(evaluation, plan, state.params)))
            state.epoch, state.step, state.order = state.epoch + 1, 0, None
            loop.after_step(started, resumed_at)
        result = loop.result(started, resumed_at)
        if path is not None:
            checkpoint.save(path, state, plan.identity())
        loop.check_stops(result, deadline=False)  # a signal during the last checkpoint
    return result


def _both(gradients, plan: Plan, params: Parameters) -> tuple:
    train_loss, train_accuracy = measure(gradients, plan.train, params)
    return (train_loss, train_accuracy, *measure(gradients, plan.heldout, params))


class _Loop:
    """What happens between steps: the hook, progress, checkpoints and stop requests."""

    def __init__(self, plan: Plan, state: State, path: Path | None, deadline: Deadline,
                 progress: Progress | None, hook: Hook | None, every: float):
        self.plan, self.state, self.path, self.deadline = plan, state, path, deadline
        self.progress, self.hook, self.every = progress, hook, every
        self.stops: _Stops | None = None
        self.saved = self.shown = time.monotonic()
        self.total = plan.settings.epochs * plan.steps_per_epoch

    def after_step(self, started: float, resumed_at) -> None:
        state, plan = self.state, self.plan
        if self.hook is not None:
            try:
                self.hook(Position(state.epoch, state.step, plan.steps_per_epoch,
                                   plan.settings.epochs))
            except KeyboardInterrupt:  # a test's (or a user's) way to stop here
                assert self.stops is not None
                self.stops.signal = signal.SIGINT
        now = time.monotonic()
        if self.progress is not None and (now - self.shown >= PROGRESS_EVERY or
                                          state.step == 0):
            self.shown = now
            self.progress(self.describe(), state.epoch * plan.steps_per_epoch + state.step,
                          self.total)
        stopping = (self.stops is not None and self.stops.signal is not None) or \
            self.deadline.expired
        if self.path is not None and (stopping or now - self.saved >= self.every):
            checkpoint.save(self.path, state, plan.identity())
            self.saved = time.monotonic()
        if stopping:
            self.check_stops(self.result(started, resumed_at))

    def check_stops(self, result: Training, deadline: bool = True) -> None:
        if self.stops is not None and self.stops.signal is not None:
            raise TrainingInterrupted(result, self.path)
        if deadline and self.deadline.expired:
            raise TrainingTimedOut(result, self.path)

    def describe(self) -> str:
        r = self.state.history[-1]
        accuracy = r.heldout_accuracy if r.heldout_accuracy is not None else r.train_accuracy
        shown = f"  accuracy {100 * accuracy:.1f}%" if accuracy is not None else ""
        return (f"epoch {self.state.epoch + (self.state.step > 0)}/{self.plan.settings.epochs}"
                f"  loss {r.train_loss:.4g}{shown}")

    def result(self, started: float, resumed_at) -> Training:
        state = self.state
        return Training(self.plan, list(state.history), state.params.copy(),
                        state.optimizer.step, time.monotonic() - started, resumed_at)
