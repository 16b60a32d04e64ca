"""Training with the generated gradients: data, optimisers, checkpoints and the loop.

At the numeric level of the data flow: it imports only ``core`` and ``numeric``. The
report's document is ``symbp.document.training``; the command, ``symbp.cli.training``.
"""

from __future__ import annotations

from pathlib import Path

from ..core.deadline import Deadline
from ..core.derivation import Derivation
from ..core.network import Network
from .checkpoint import Record
from .data import BUILTIN, Dataset, RawData
from .loop import (
    FusedStep,
    GradientStep,
    Hook,
    Position,
    Progress,
    Step,
    Training,
    TrainingInterrupted,
    TrainingTimedOut,
    run,
)
from .plan import Plan, make_plan
from .settings import DEFAULTS, Settings

__all__ = ["BUILTIN", "DEFAULTS", "Dataset", "FusedStep", "GradientStep", "Plan", "Position",
           "RawData", "Record", "Settings", "Step", "Training", "TrainingInterrupted",
           "TrainingTimedOut", "make_plan", "run", "train"]


def train(net: Network | Derivation | None = None, data: object = "xor", *,
          inputs: str | None = None, targets: str | None = None,
          checkpoint: str | Path | None = None, resume: str | Path | None = None,
          timeout: float | None = None, progress: Progress | None = None,
          hook: Hook | None = None, step: Step | None = None, **settings) -> Training:
    """Train ``net`` on ``data`` with the gradients symbp generates; deterministic.

    ``data``: ``"xor"``, ``"digits"`` (scikit-learn's, an optional extra), a ``.npz`` or
    ``.csv`` file whose ``inputs`` and ``targets`` name its arrays or columns (comma-
    separated, ``name*`` for a prefix; default targets ``y``, inputs all the others), or a
    tuple ``(x, y)`` of arrays. A single target column of whole numbers is class labels,
    one-hot for a network with several outputs. ``net`` defaults to the data set's own; a
    network of layer kinds takes each sample's features reshaped to its ``inputs`` and
    trains through its generated ``grad`` (no fused step).

    ``settings`` (``symbp.train.Settings``; each data set has defaults): ``optimizer``
    ("sgd" or "adam"), ``learning_rate``, ``momentum``, ``beta1``, ``beta2``, ``eps``,
    ``batch``, ``epochs``, ``seed``, ``holdout`` (a share held out, or None), ``init``
    ("normal", "xavier", "he"), ``backend`` ("auto", "numpy", "numba").

    ``checkpoint``: a file kept up to date (every minute, on Ctrl-C or ``timeout``, at the
    end); ``resume``: a checkpoint to continue, which ends with the same parameters as an
    uninterrupted run. Ctrl-C raises ``TrainingInterrupted`` and a timeout
    ``TrainingTimedOut``, each holding the run so far. ``hook(position)`` is called after
    every step; ``step`` replaces the gradient-and-optimiser step (see ``Step``).
    Every bad choice is a ValueError before any work.
    """
    plan = make_plan(net, data, inputs=inputs, targets=targets, resume=resume, **settings)
    return run(plan, checkpoint_path=checkpoint, deadline=Deadline(timeout),
               progress=progress, hook=hook, step=step)
