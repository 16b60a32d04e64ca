"""Checkpoints: the whole state of a run in one ``.npz``, written atomically, resumed exactly.

A checkpoint holds the parameters (``W1``, ``b1``, ``P2``, ...: name and layer, as in
``numpy.load``), the optimiser's buffers and step count, where the run is (epoch, step
within it, that epoch's order of samples), the shuffling generator's state and the history
so far, with what the run was: network, settings, backend, a fingerprint of the data.
Resuming it continues the same sequence of floating-point operations, so a run interrupted
any number of times ends with the same parameters, bit for bit, as one that never was.

Writing: the bytes go to a new temporary file in the target's folder (opened with O_EXCL
and O_NOFOLLOW, so nothing there is followed or overwritten), are fsynced, and the file is
renamed over the target (a symlink at the target is replaced, never followed), then the
folder is fsynced. A reader sees the old checkpoint or the new one, never a part of one.
The zip members carry a fixed date, so the same state gives the same bytes.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .optimizers import OptimizerState
from .parameters import Parameters

FORMAT = "symbp training checkpoint, version 1"
HISTORY_COLUMNS = ("epoch", "train_loss", "train_accuracy", "heldout_loss", "heldout_accuracy")


@dataclass(frozen=True)
class Record:
    """The network after ``epoch`` epochs (0: before training): mean cost and accuracy on the
    training part and on the held-out part (None where there is no such part or no classes)."""

    epoch: int
    train_loss: float
    train_accuracy: float | None
    heldout_loss: float | None
    heldout_accuracy: float | None

    def row(self) -> list[float]:
        return [float("nan") if v is None else float(v) for v in
                (self.epoch, self.train_loss, self.train_accuracy, self.heldout_loss,
                 self.heldout_accuracy)]

    @classmethod
    def from_row(cls, row: np.ndarray) -> Record:
        values = [None if np.isnan(v) else float(v) for v in row]
        epoch, loss = int(row[0]), float(row[1])
        return cls(epoch, loss, values[2], values[3], values[4])


@dataclass
class State:
    """Where a run is: completed epochs, steps done in the current one (whose sample order is
    ``order``, None before it is drawn), and everything the next step reads."""

    params: Parameters
    optimizer: OptimizerState
    rng: np.random.Generator
    epoch: int = 0
    step: int = 0
    order: np.ndarray | None = None
    history: list[Record] = field(default_factory=list)


def save(path: Path, state: State, identity: dict) -> None:
    """Write ``state`` (and ``identity``: what the run is) to ``path`` atomically."""
    meta = {"format": FORMAT, **identity, "epoch": state.epoch, "step": state.step,
            "optimizer_step": state.optimizer.step, "rng": state.rng.bit_generator.state}
    arrays = {"meta": np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8),
              **state.params.arrays,
              **{f"optimizer_{name}": b for name, b in state.optimizer.buffers.items()},
              "order": (np.zeros(0, dtype=np.int64) if state.order is None
                        else state.order.astype(np.int64)),
              "history": np.array([r.row() for r in state.history], dtype=float).reshape(
                  -1, len(HISTORY_COLUMNS))}
    write_atomically(Path(path), npz_bytes(arrays))


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An uncompressed ``.npz`` that ``numpy.load`` reads, with the same bytes for the same
    arrays (numpy.savez stamps each member with the time of writing)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            with archive.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.ascontiguousarray(array),
                                          allow_pickle=False)
    return buffer.getvalue()


def write_atomically(path: Path, data: bytes) -> None:
    """``data`` as the file ``path``: all of it or, after any failure, the file as it was."""
    if path.is_dir() and not path.is_symlink():
        raise IsADirectoryError(21, "a folder is in the way", str(path))
    folder = path.parent
    temporary = folder / f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(temporary, flags, 0o644)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(folder_fd)
    finally:
        os.close(folder_fd)


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint as read: its header (``meta``) and its arrays."""

    path: Path
    meta: dict
    arrays: dict[str, np.ndarray]

    def state(self, params: Parameters, buffer_names: tuple[str, ...]) -> State:
        """The run as saved, its arrays written into ``params`` (of the run's shapes)."""
        for name, view in params.arrays.items():
            view[...] = self._array(name, view.shape)
        buffers = {name: self._array(f"optimizer_{name}", params.flat.shape).copy()
                   for name in buffer_names}
        rng = np.random.default_rng()
        try:
            rng.bit_generator.state = self.meta["rng"]
        except (TypeError, ValueError, KeyError) as error:
            raise ValueError(f"{self.path}: the generator state is damaged ({error})") from None
        order = self.arrays.get("order")
        history = self.arrays.get("history")
        if order is None or history is None or history.ndim != 2 or \
                history.shape[1] != len(HISTORY_COLUMNS) or order.dtype.kind != "i":
            raise ValueError(f"{self.path}: the order or the history is missing or damaged")
        return State(params, OptimizerState(self._int("optimizer_step"), buffers), rng,
                     self._int("epoch"), self._int("step"), order.copy() if len(order) else None,
                     [Record.from_row(row) for row in history])

    def _array(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        array = self.arrays.get(name)
        if array is None or array.shape != shape or array.dtype != np.float64:
            found = "missing" if array is None else f"{array.dtype} of shape {array.shape}"
            raise ValueError(f"{self.path}: array {name!r} should be float64 of shape {shape}; "
                             f"it is {found}")
        return array

    def _int(self, key: str) -> int:
        value = self.meta.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{self.path}: {key} should be a whole number; got {value!r}")
        return value


def load(path: str | Path) -> Checkpoint:
    """Read a checkpoint; ValueError naming the file for anything that is not one."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path}: is a folder, not a checkpoint")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except FileNotFoundError:
        raise ValueError(f"{path}: no such checkpoint") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        first = (str(error).splitlines() or [type(error).__name__])[0]
        raise ValueError(f"{path}: not a checkpoint symbp can read ({first})") from None
    try:
        meta = json.loads(arrays.pop("meta").tobytes().decode())
    except (KeyError, ValueError, AttributeError):
        meta = None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path}: not a symbp training checkpoint (no {FORMAT!r} header)")
    return Checkpoint(path, meta, arrays)
