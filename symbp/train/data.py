"""Training data: the built-in sets (XOR, scikit-learn's digits) and the user's own files.

A data set is read as it is (``load``), then fitted to a network (``fit``): its features
must be the network's n_0, its targets the network's n_L outputs. A single column of
whole numbers is read as class labels and becomes one-hot rows when the network has more
than one output. Every problem is a ValueError naming the file, the column or array, and
the row, before any training starts.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core import limits
from ..core.network import Network

FILE_KINDS = (".npz", ".csv")
DEFAULT_TARGETS = "y"  # the target column or array unless named; the inputs: all the others


@dataclass(frozen=True)
class RawData:
    """Samples as rows, as read: inputs (n, features) and targets (n,) or (n, k), float64."""

    name: str
    description: str
    x: np.ndarray
    targets: np.ndarray


@dataclass(frozen=True)
class Dataset:
    """Data fitted to a network: x (n, n_0), or (n, *input shape) for a network of layer
    kinds; y (n, n_L); labels (n,) when the targets are classes (for accuracy), else None."""

    name: str
    description: str
    x: np.ndarray
    y: np.ndarray
    labels: np.ndarray | None

    def __len__(self) -> int:
        return len(self.x)

    def take(self, rows: np.ndarray) -> Dataset:
        labels = None if self.labels is None else self.labels[rows]
        return Dataset(self.name, self.description, self.x[rows], self.y[rows], labels)

    def fingerprint(self) -> str:
        """SHA-256 of the numbers: a checkpoint is resumed only on the same data."""
        digest = hashlib.sha256()
        for array in (self.x, self.y):
            digest.update(repr(array.shape).encode())
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()


# ---------------------------------------------------------------- built-in data sets


def xor() -> RawData:
    x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    return RawData("xor", "XOR: the 4 points of {0, 1} × {0, 1}, each labelled x1 xor x2", x,
                   np.array([0.0, 1.0, 1.0, 0.0]))


def digits() -> RawData:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ValueError("data 'digits' needs scikit-learn, which is not installed "
                         "(pip install 'symbp[digits]' or pip install scikit-learn)") from None
    bunch = load_digits()
    return RawData("digits", "scikit-learn's handwritten digits: 1,797 images of 8×8 pixels, "
                   "grey levels 0–16 scaled to [0, 1], classes 0–9",
                   np.asarray(bunch.data, dtype=float) / 16.0,
                   np.asarray(bunch.target, dtype=float))


BUILTIN = {"xor": xor, "digits": digits}


# ---------------------------------------------------------------- files


def load(data: str | Path, inputs: str | None = None, targets: str | None = None) -> RawData:
    """A built-in data set by name, or a ``.npz`` / ``.csv`` file with the named inputs and
    targets (comma-separated names; ``name*`` takes every column or array starting with name)."""
    if isinstance(data, str) and data in BUILTIN:
        if inputs is not None or targets is not None:
            raise ValueError(f"data {data!r} is built in: it takes no inputs or targets; "
                             "those name the columns of a .npz or .csv file")
        return BUILTIN[data]()
    path = Path(data)
    if path.suffix.lower() not in FILE_KINDS:
        raise ValueError(f"data {str(data)!r} is neither built in nor a data file; choose "
                         f"{', '.join(BUILTIN)}, or a file ending in {' or '.join(FILE_KINDS)}")
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ValueError(f"{path}: no such data file") from None
    except OSError as error:
        raise ValueError(f"{path}: cannot read: {error.strerror}") from None
    if path.is_dir():
        raise ValueError(f"{path}: is a folder, not a data file")
    if size == 0:
        raise ValueError(f"{path}: the file is empty")
    if size > limits.MAX_DATA_FILE_BYTES:
        raise ValueError(f"{path}: {size:,} bytes, past the limit of "
                         f"{limits.MAX_DATA_FILE_BYTES:,} for a data file "
                         "(limit MAX_DATA_FILE_BYTES)")
    reader = _read_npz if path.suffix.lower() == ".npz" else _read_csv
    return reader(path, inputs, targets or DEFAULT_TARGETS)


def _select(patterns: str, available: list[str], what: str, path: Path) -> list[str]:
    """The names ``patterns`` asks for, in the order asked (a prefix* in the file's order)."""
    chosen: list[str] = []
    for pattern in (p.strip() for p in patterns.split(",")):
        if not pattern:
            raise ValueError(f"{path}: an empty name in {what} {patterns!r}")
        found = ([n for n in available if n.startswith(pattern[:-1])] if pattern.endswith("*")
                 else [n for n in available if n == pattern])
        if not found:
            shown = ", ".join(available[:12]) + (", ..." if len(available) > 12 else "")
            raise ValueError(f"{path}: no {what[:-1]} {pattern!r}; the file has: {shown}")
        chosen += [n for n in found if n not in chosen]
    return chosen


def _columns(path: Path, available: list[str], inputs: str | None, targets: str,
             kind: str) -> tuple[list[str], list[str]]:
    target_names = _select(targets, available, f"target {kind}s", path)
    input_names = (_select(inputs, available, f"input {kind}s", path) if inputs is not None
                   else [n for n in available if n not in target_names])
    both = [n for n in input_names if n in target_names]
    if both:
        raise ValueError(f"{path}: {kind} {both[0]!r} is both an input and a target")
    if not input_names:
        raise ValueError(f"{path}: no input {kind}s are left besides the targets "
                         f"{', '.join(target_names)}")
    return input_names, target_names


def _read_npz(path: Path, inputs: str | None, targets: str) -> RawData:
    try:
        with np.load(path, allow_pickle=False) as archive:
            available = list(archive.files)
            input_names, target_names = _columns(path, available, inputs, targets, "array")
            arrays = {name: archive[name] for name in (*input_names, *target_names)}
    except ValueError as error:
        if str(error).startswith(f"{path}:"):
            raise
        raise ValueError(f"{path}: not a usable .npz archive ({_first_line(error)})") from None
    except (OSError, EOFError) as error:
        raise ValueError(f"{path}: not a usable .npz archive ({_first_line(error)})") from None
    counts = {name: (a.shape[0] if a.ndim else None) for name, a in arrays.items()}
    for name, array in arrays.items():
        if array.dtype.kind not in "biuf":
            raise ValueError(f"{path}: array {name!r} holds {array.dtype} values, not numbers")
        if counts[name] is None:
            raise ValueError(f"{path}: array {name!r} is a single number, not one row per sample")
    first = input_names[0]
    for name, count in counts.items():
        if count != counts[first]:
            raise ValueError(f"{path}: array {name!r} has {count} rows but {first!r} has "
                             f"{counts[first]}: one row per sample in each")
    if not counts[first]:
        raise ValueError(f"{path}: array {first!r} has no rows: there are no samples")
    x = np.hstack([arrays[n].reshape(counts[first], -1).astype(float) for n in input_names])
    y_parts = [arrays[n].reshape(counts[first], -1).astype(float) for n in target_names]
    y = y_parts[0][:, 0] if len(y_parts) == 1 and arrays[target_names[0]].ndim == 1 \
        else np.hstack(y_parts)
    _check_finite(path, x, input_names, arrays, "array")
    _check_finite(path, y, target_names, arrays, "array")
    return RawData(path.name, f"{path.name}: {len(x):,} samples; inputs {_names(input_names)}, "
                   f"targets {_names(target_names)}", x, y)


def _read_csv(path: Path, inputs: str | None, targets: str) -> RawData:
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = csv.reader(handle)
            header = [name.strip() for name in next(rows, [])]
            if not header or header == [""]:
                raise ValueError(f"{path}: no header line naming the columns")
            repeated = next((n for i, n in enumerate(header) if n in header[:i]), None)
            if repeated is not None:
                raise ValueError(f"{path}: the header names column {repeated!r} twice")
            input_names, target_names = _columns(path, header, inputs, targets, "column")
            where = [header.index(n) for n in (*input_names, *target_names)]
            table = [_csv_row(path, line, header, where, rows.line_num)
                     for line in rows if line]
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text") from None
    except csv.Error as error:
        raise ValueError(f"{path}: not valid CSV ({error})") from None
    if not table:
        raise ValueError(f"{path}: a header but no rows of data")
    values = np.array(table, dtype=float)
    x, y = values[:, :len(input_names)], values[:, len(input_names):]
    columns = {name: None for name in header}
    _check_finite(path, x, input_names, columns, "column")
    _check_finite(path, y, target_names, columns, "column")
    return RawData(path.name, f"{path.name}: {len(x):,} rows; inputs {_names(input_names)}, "
                   f"targets {_names(target_names)}", x, y[:, 0] if y.shape[1] == 1 else y)


def _csv_row(path: Path, line: list[str], header: list[str], where: list[int],
             number: int) -> list[float]:
    if len(line) != len(header):
        raise ValueError(f"{path}: line {number} has {len(line)} fields; the header has "
                         f"{len(header)}")
    values = []
    for i in where:
        text = line[i].strip()
        try:
            values.append(float(text))
        except ValueError:
            raise ValueError(f"{path}: line {number}, column {header[i]!r}: {text[:20]!r} is "
                             "not a number") from None
    return values


def _check_finite(path: Path, values: np.ndarray, names: list[str], sources: dict,
                  kind: str) -> None:
    bad = np.argwhere(~np.isfinite(values))
    if not len(bad):
        return
    row, column = (int(i) for i in bad[0])
    # which named column or array the flattened column came from
    widths = [int(np.prod(sources[n].shape[1:])) if sources.get(n) is not None else 1
              for n in names]
    name = names[int(np.searchsorted(np.cumsum(widths), column, side="right"))]
    raise ValueError(f"{path}: {kind} {name!r} holds {values[row, column]} in row {row + 1}; "
                     "every value must be a finite number")


def _names(names: list[str]) -> str:
    return ", ".join(names) if len(names) <= 4 else \
        f"{names[0]}, {names[1]}, ..., {names[-1]} ({len(names)} in all)"


def _first_line(error: BaseException) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0]


# ---------------------------------------------------------------- fitted to a network


def fit(raw: RawData, net: Network) -> Dataset:
    """``raw`` as inputs and targets of ``net``; ValueError when they do not match."""
    n_in, n_out = net.widths[0], net.widths[-1]
    features = raw.x.shape[1]
    if features != n_in:
        hint = (f"give widths starting with {features}" if net.dense else
                f"give inputs of {features} numbers (now {list(net.input_shape)})")
        raise ValueError(f"data {raw.name!r} has {features} input features but the network "
                         f"takes n_0 = {n_in}; {hint}")
    t = raw.targets
    if t.ndim == 1 and n_out > 1:
        bad = np.flatnonzero((t != np.round(t)) | (t < 0) | (t >= n_out))
        if len(bad):
            row = int(bad[0])
            raise ValueError(f"data {raw.name!r}: label {t[row]:g} in row {row + 1} is not a "
                             f"class of the network's {n_out} outputs (0 to {n_out - 1}); "
                             "give more outputs or one target column per output")
        labels = t.astype(np.int64)
        return Dataset(raw.name, raw.description, shaped(raw.x, net), np.eye(n_out)[labels],
                       labels)
    y = t[:, None] if t.ndim == 1 else t
    if y.shape[1] != n_out:
        raise ValueError(f"data {raw.name!r} has {y.shape[1]} target columns but the network "
                         f"has n_L = {n_out} outputs; give " + (
                             f"widths ending in {y.shape[1]}" if net.dense else
                             f"a last layer of {y.shape[1]} units"))
    out = net.resolved[-1].shape_out
    targets = y.reshape(len(y), *out) if len(out) > 1 else y  # as the output: (2, 4) a batch's
    return Dataset(raw.name, raw.description, shaped(raw.x, net), targets, _labels(y))


def shaped(x: np.ndarray, net: Network) -> np.ndarray:
    """Rows of features as the network's inputs: unchanged for a dense network, (samples,
    *input shape) for one of layer kinds (a signal of 1 channel and 64 positions: row i's
    64 features in order)."""
    return x if net.dense else x.reshape(len(x), *net.input_shape)


def _labels(y: np.ndarray) -> np.ndarray | None:
    """The class of each row when the targets are classes: 0/1 in one column, one-hot in more."""
    binary = bool(np.all((y == 0) | (y == 1)))
    if y.shape[1] == 1:
        return y[:, 0].astype(np.int64) if binary else None
    if binary and np.all(y.sum(axis=1) == 1):
        return y.argmax(axis=1)
    return None


def split(dataset: Dataset, holdout: float | None,
          seed: int) -> tuple[Dataset, Dataset | None]:
    """The training part and the held-out part (``holdout`` of the samples, drawn by ``seed``
    alone, so the same seed holds out the same samples whatever else changes)."""
    if holdout is None:
        return dataset, None
    n = len(dataset)
    held = round(n * holdout)
    if not 0 < held < n:
        raise ValueError(f"holdout {holdout:g} of {n} samples leaves "
                         f"{'none' if held == 0 else 'nothing to train on'}: "
                         "give a holdout that keeps at least one sample on each side")
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    order = rng.permutation(n)
    return dataset.take(np.sort(order[held:])), dataset.take(np.sort(order[:held]))


def fingerprint(parts: tuple[Dataset, Dataset | None]) -> str:
    return hashlib.sha256("".join(p.fingerprint() if p else "-" for p in parts).encode()
                          ).hexdigest()
