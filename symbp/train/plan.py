"""A run, checked before any work: network, data fitted to it, settings, and where to start.

``make_plan`` does every check a run needs (settings, data, widths, batch size, and a
checkpoint to resume against all of these), so that a bad choice is one ValueError before
anything is compiled, trained or written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.derivation import Derivation, derive
from ..core.network import Network
from ..numeric.printable import code_problem, one_line
from . import checkpoint, settings
from .checkpoint import Checkpoint, State
from .data import BUILTIN, Dataset, RawData, fingerprint, fit, load, split
from .optimizers import Optimizer
from .parameters import Parameters, initial
from .settings import Settings


@dataclass(frozen=True)
class Plan:
    """Everything a run needs, checked; ``resume`` is the checkpoint it continues, if any."""

    network: Network
    settings: Settings
    backend: str
    data: Dataset
    train: Dataset
    heldout: Dataset | None
    resume: Checkpoint | None = None

    @property
    def optimizer(self) -> Optimizer:
        s = self.settings
        return Optimizer(s.optimizer, s.learning_rate, s.momentum, s.beta1, s.beta2, s.eps)

    @property
    def steps_per_epoch(self) -> int:
        return -(-len(self.train) // self.settings.batch)

    def identity(self) -> dict:
        """What the run is, as a checkpoint records it (JSON values)."""
        return json.loads(json.dumps({
            "network": network_identity(self.network),
            "settings": {**self.settings.to_dict(), "backend": self.backend},
            "data": {"name": self.data.name, "train": len(self.train),
                     "heldout": 0 if self.heldout is None else len(self.heldout),
                     "fingerprint": fingerprint((self.train, self.heldout))},
        }))

    def start(self) -> State:
        """The state the run starts from: fresh (the weights drawn from the seed's generator,
        which then shuffles every epoch), or the checkpoint's."""
        if self.resume is not None:
            return self.resume.state(Parameters.of(self.network), self.optimizer.buffer_names)
        rng = np.random.default_rng(self.settings.seed)
        params = initial(self.network, self.settings.init, rng)
        return State(params, self.optimizer.new_state(params.flat.size), rng)


def network_identity(net: Network) -> dict:
    """The network as a checkpoint and a report record it: widths, activations and cost for
    a dense one; input shape, layers (kind and options) and cost for one of layer kinds."""
    if net.dense:
        return {"widths": net.widths, "activations": net.activations, "cost": net.cost}
    return {"inputs": net.input_shape, "widths": net.widths,
            "layers": [{"kind": layer.kind, **dict(layer.options)} for layer in net.layers],
            "activations": net.activations, "cost": net.cost}


def make_plan(net: Network | Derivation | None = None, source: object = "xor", *,
              inputs: str | None = None, targets: str | None = None,
              resume: str | Path | None = None, **given) -> Plan:
    """Check a run (see ``symbp.train``); ValueError naming the first bad choice."""
    chosen = settings.resolve(source, given)
    network = _network(net, source)
    _require_code(net if isinstance(net, Derivation) else derive(network))
    raw = _raw(source, inputs, targets)
    dataset = fit(raw, network)
    train, heldout = split(dataset, chosen.holdout, chosen.seed)
    if chosen.batch > len(train):
        kept = "" if heldout is None else f" ({len(heldout):,} of {len(dataset):,} are held out)"
        raise ValueError(f"batch {chosen.batch:,} is larger than the {len(train):,} training "
                         f"samples{kept}; give a batch of at most {len(train):,}")
    backend = settings.backend(chosen)
    plan = Plan(network, chosen, backend, dataset, train, heldout)
    if resume is None:
        return plan
    saved = checkpoint.load(resume)
    theirs = saved.meta.get("settings", {}).get("backend") \
        if isinstance(saved.meta.get("settings"), dict) else None
    if chosen.backend == "auto" and theirs in settings.BACKENDS:  # auto: the checkpoint's
        settings.check(Settings(backend=theirs))  # numba must be there to resume its run
        backend = theirs
    plan = Plan(network, chosen, backend, dataset, train, heldout, saved)
    _check_resumable(plan, saved)
    return plan


def _require_code(d: Derivation) -> None:
    """ValueError, before any work, when the gradient does not print as numeric code (the
    generic σ; a kind's map that ``numeric.maps`` cannot print)."""
    reason = code_problem(d)
    if reason:  # the reason names the layer and its kind, or the activation
        raise ValueError(f"this network cannot be trained: {one_line(reason, 160)}")


def _network(net: object, source: object) -> Network:
    if isinstance(net, Derivation):
        return net.net
    if isinstance(net, Network):
        return net
    if net is None:
        if isinstance(source, str) and source in settings.DEFAULTS:
            return settings.DEFAULTS[source][0]
        raise ValueError(f"no network given: only the built-in data sets "
                         f"({', '.join(settings.DEFAULTS)}) have one of their own; give one "
                         "(a network file or --widths, or a symbp.Network)")
    raise ValueError(f"the network must be a symbp.Network; got {type(net).__name__}")


def _raw(source: object, inputs: str | None, targets: str | None) -> RawData:
    if isinstance(source, RawData):
        return source
    if isinstance(source, tuple) and len(source) == 2:
        try:
            x, y = (np.asarray(a, dtype=float) for a in source)
        except (TypeError, ValueError):
            raise ValueError("data (x, y) must be two arrays of numbers") from None
        if x.ndim != 2 or y.ndim not in (1, 2) or len(x) != len(y) or not len(x):
            raise ValueError(f"data (x, y) must be x of shape (samples, features) and y of "
                             f"(samples,) or (samples, outputs); got {x.shape} and {y.shape}")
        for name, array in (("x", x), ("y", y)):
            if not np.all(np.isfinite(array)):
                raise ValueError(f"data {name} holds NaN or infinity; every value must be a "
                                 "finite number")
        return RawData("arrays", f"arrays: {len(x):,} samples", x, y)
    if not isinstance(source, str | Path):
        raise ValueError(f"data must be {', '.join(map(repr, BUILTIN))}, a .npz or .csv "
                         f"file, or a tuple (x, y) of arrays; got {type(source).__name__}")
    return load(source, inputs, targets)


def _check_resumable(plan: Plan, saved: Checkpoint) -> None:
    """ValueError unless ``saved`` was made by this very run (only ``epochs`` may differ)."""
    mine = plan.identity()
    for part in ("network", "data", "settings"):
        theirs = saved.meta.get(part)
        if not isinstance(theirs, dict):
            raise ValueError(f"{saved.path}: the checkpoint does not record its {part}")
        for key, value in mine[part].items():
            if key != "epochs" and theirs.get(key) != value:
                raise ValueError(f"{saved.path} was made with {part} {key} "
                                 f"{_shown(theirs.get(key))}, not {_shown(value)}; resume with "
                                 "the same network, data and settings (only epochs may change)")
    epoch = saved.meta.get("epoch")
    if isinstance(epoch, int) and epoch > plan.settings.epochs:
        raise ValueError(f"{saved.path} is at epoch {epoch}, past the {plan.settings.epochs} "
                         f"epochs asked for; give epochs of at least {epoch}")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:36] + "..."
