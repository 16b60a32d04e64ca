"""How to train: the optimiser and its hyperparameters, batches, epochs, seed and held-out part.

Each built-in data set brings the network and settings of its demo (``DEFAULTS``); a data
file starts from ``Settings()``. What the user gives replaces a default, and is checked
here, each bad value a ValueError naming it and what it may be.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import numbers
from dataclasses import dataclass

from ..core import limits
from ..core.network import Network
from .optimizers import OPTIMIZERS
from .parameters import INITS

BACKENDS = ("auto", "numpy", "numba")  # auto: numba where it is installed, else numpy
MAX_SEED = 2**63 - 1


@dataclass(frozen=True)
class Settings:
    """Everything a run depends on besides the network and the data; all of it is recorded
    in a checkpoint, and a resumed run must use the same (only ``epochs`` may grow)."""

    optimizer: str = "adam"
    learning_rate: float = 0.001
    momentum: float = 0.0  # sgd only
    beta1: float = 0.9  # adam only
    beta2: float = 0.999  # adam only
    eps: float = 1e-8  # adam only
    batch: int = 32
    epochs: int = 20
    seed: int = 0
    holdout: float | None = 0.25  # the share of samples held out; None: train on all
    init: str = "xavier"
    backend: str = "auto"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# per built-in data set: the network and the settings of its demo. XOR is the seed's demo:
# full-batch gradient descent with η = 8 on the mean cost (η = 2 on the sum over the four
# points), N(0, 1) weights.
DEFAULTS: dict[str, tuple[Network, Settings]] = {
    "xor": (Network([2, 3, 1], activation="sigmoid", cost="mse"),
            Settings(optimizer="sgd", learning_rate=8.0, batch=4, epochs=500, holdout=None,
                     init="normal")),
    "digits": (Network([64, 32, 10], activation="tanh", cost="softmax_ce"),
               Settings(optimizer="adam", learning_rate=0.01, batch=32, epochs=30)),
}
ONLY_FOR = {"momentum": "sgd", "beta1": "adam", "beta2": "adam", "eps": "adam"}
FIELDS = tuple(f.name for f in dataclasses.fields(Settings))
FLOATS = ("learning_rate", "momentum", "beta1", "beta2", "eps")


def defaults(data: object) -> Settings:
    return DEFAULTS[data][1] if isinstance(data, str) and data in DEFAULTS else Settings()


def resolve(data: object, given: dict) -> Settings:
    """The settings for ``data`` with the values in ``given`` in place of its defaults (None
    keeps a default, except for ``holdout``, where None and "none" hold nothing out);
    ValueError for an unknown name or a bad value."""
    unknown = [key for key in given if key not in FIELDS]
    if unknown:
        raise ValueError(f"unknown training setting {unknown[0]!r}; valid: {', '.join(FIELDS)}")
    chosen = {key: value for key, value in given.items() if value is not None or key == "holdout"}
    if isinstance(chosen.get("holdout"), str) and chosen["holdout"] == "none":
        chosen["holdout"] = None
    settings = dataclasses.replace(defaults(data), **chosen)
    for key, optimizer in ONLY_FOR.items():
        if key in chosen and settings.optimizer != optimizer:
            raise ValueError(f"{key} is a setting of the {optimizer} optimizer, not of "
                             f"{settings.optimizer}")
    check(settings)
    plain: dict[str, object] = {k: float(getattr(settings, k)) for k in FLOATS}
    plain |= {k: int(getattr(settings, k)) for k in ("batch", "epochs", "seed")}
    plain["holdout"] = None if settings.holdout is None else float(settings.holdout)
    return dataclasses.replace(settings, **plain)  # type: ignore[arg-type]  # 1 and 1.0 alike


def check(s: Settings) -> None:
    """ValueError naming the first bad setting of ``s``."""
    _choice("optimizer", s.optimizer, OPTIMIZERS)
    _choice("init", s.init, INITS)
    _choice("backend", s.backend, BACKENDS)
    _number("learning_rate", s.learning_rate, "a positive number", lambda v: v > 0)
    for name in ("momentum", "beta1", "beta2"):
        _number(name, getattr(s, name), "a number from 0 up to (not including) 1",
                lambda v: 0 <= v < 1)
    _number("eps", s.eps, "a positive number", lambda v: v > 0)
    _whole("batch", s.batch, 1, None)
    _whole("epochs", s.epochs, 1, limits.MAX_EPOCHS)
    _whole("seed", s.seed, 0, MAX_SEED)
    if s.holdout is not None:
        _number("holdout", s.holdout, "a share of the samples strictly between 0 and 1 "
                "(or None to hold none out)", lambda v: 0 < v < 1)
    if s.backend == "numba" and importlib.util.find_spec("numba") is None:
        raise ValueError("backend 'numba' needs numba, which is not installed "
                         "(pip install 'symbp[fast]'); or use backend 'numpy'")


def backend(s: Settings) -> str:
    """The backend that runs: ``auto`` is numba where it is installed, else numpy."""
    if s.backend != "auto":
        return s.backend
    return "numba" if importlib.util.find_spec("numba") is not None else "numpy"


def _choice(name: str, value: object, choices) -> None:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of: {', '.join(choices)}")


def _number(name: str, value: object, what: str, ok) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or \
            not math.isfinite(value) or not ok(value):
        raise ValueError(f"{name} must be {what}; got {value!r}")


def _whole(name: str, value: object, low: int, high: int | None) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < low \
            or (high is not None and int(value) > high):
        top = f" to {high:,}" if high is not None else " or more"
        raise ValueError(f"{name} must be a whole number from {low}{top}; got {value!r}")
