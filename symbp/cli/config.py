"""Network files: a network and its render options in TOML, checked key by key.

    name = "seed"                      # output folder: output/seed/
    title = "Backpropagation, step by step"
    widths = [2, 3, 3, 2]
    activation = "sigmoid"             # or one name per layer
    cost = "mse"
    method = "auto"                    # proof method
    order = 1                          # 2: second order too

    [render]
    formats = ["tex", "md", "pdf", "json", "py", "figures", "matrix"]
    timings = false                    # proof times in the document

    [example]                          # a worked example with numbers (optional)
    x = [0.05, 0.1]
    y = [0.01, 0.99]
    weights = [[[0.15, 0.2], [0.25, 0.3]], [[0.4, 0.45], [0.5, 0.55]]]   # W_1, W_2
    biases = [0.35, 0.6]               # per layer: one shared number, or a list
    learning_rate = 0.5
    digits = 9                         # significant digits shown
    # a network of [[layers]] gives params = [{W = ..., b = ...}, ...] in place of weights and
    # biases: one table per layer, each parameter nested in its own shape (examples/conv1d.toml)
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..core import limits
from ..core.network import NETWORK_KEYS, Network

if TYPE_CHECKING:
    from ..document.example import Example
    from ..document.kinds_numbers import LayerExample

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass
class Job:
    """Everything one ``symbp derive`` needs: the network and what to write."""

    net: Network
    name: str | None = None
    title: str | None = None
    method: str = "auto"
    order: int = 1  # 2: second order too (the Hessian, H v, the Gauss-Newton matrix)
    formats: tuple[str, ...] | None = None  # None: not asked for (derive: default_formats())
    timings: bool = False
    explicit_formats: bool = False  # asked for by the user: one that cannot be made is an error
    example: Example | LayerExample | None = None  # numbers for the worked example
    source: str = field(default="command line")
    warnings: list[str] = field(default_factory=list)
    train: dict = field(default_factory=dict)  # the [train] table, as written


def _is_str(v):
    return isinstance(v, str)


def _is_name_list(v):
    return isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v))


def _is_int_list(v):
    return isinstance(v, list) and all(isinstance(x, int) and not isinstance(x, bool) for x in v)


def _is_str_list(v):
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


# key: (check, what it must be)
TOP_LEVEL = {
    "name": (_is_str, "a folder name (letters, digits, . _ -)"),
    "title": (_is_str, "a string"),
    "widths": (_is_int_list, "a list of integers like [2, 3, 3, 2]"),
    "activation": (_is_name_list, "a name or a list of names"),
    "cost": (_is_str, "a name"),
    "method": (_is_str, "a name"),
    "order": (lambda v: v in (1, 2) and not isinstance(v, bool), "1 or 2 (second order: the "
              "Hessian, H v and the Gauss-Newton matrix)"),
    "render": (lambda v: isinstance(v, dict), "a table"),
    "example": (lambda v: isinstance(v, dict), "a table"),
    "train": (lambda v: isinstance(v, dict), "a table"),  # read by symbp train (cli/training.py)
    "layers": (lambda v: isinstance(v, list) and all(isinstance(t, dict) for t in v),
               "a list of [[layers]] tables, each with a kind"),
    "inputs": (lambda v: (isinstance(v, int) and not isinstance(v, bool)) or _is_int_list(v),
               "an integer (the input's width) or a list (channels, positions)"),
}
RENDER = {
    "formats": (_is_str_list, 'a list of format names, like ["md", "pdf"]'),
    "timings": (lambda v: isinstance(v, bool), "true or false"),
}

_NUMBER = (lambda v: isinstance(v, int | float | str) and not isinstance(v, bool), "a number")
EXAMPLE = {
    "x": (lambda v: isinstance(v, list), "a list of numbers"),
    "y": (lambda v: isinstance(v, list), "a list of numbers"),
    "weights": (lambda v: isinstance(v, list), "a list of matrices, one per layer"),
    "biases": (lambda v: isinstance(v, list), "a list with a number or a list per layer"),
    "params": (lambda v: isinstance(v, list), "a list of tables, one per layer (layer kinds)"),
    "learning_rate": _NUMBER,
    "digits": (lambda v: isinstance(v, int) and not isinstance(v, bool), "a whole number"),
}


class ConfigError(ValueError):
    """A bad network file; the message names the file and the key."""


def _check_table(table: dict, schema: dict, where: str) -> None:
    for key, value in table.items():
        if key not in schema:
            raise ConfigError(f"{where}: unknown key {key!r}; valid keys: {', '.join(schema)}")
        check, expected = schema[key]
        if not check(value):
            raise ConfigError(f"{where}: key {key!r} must be {expected}, got {value!r}")


def check_name(name: str, where: str = "--name") -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise ConfigError(
            f"{where}: {name!r} is not a usable folder name; use 1-64 letters, digits, . _ -"
        )
    return name


def _formats():
    """The table of formats, with the code that makes them: imported only by a command that
    writes files (it imports the documents and the code generators)."""
    from ..render import formats

    return formats


def default_formats() -> tuple[str, ...]:
    return _formats().DEFAULT_FORMATS


def check_formats(formats: list[str], where: str = "--format") -> tuple[str, ...]:
    for fmt in formats:
        try:
            _formats().check_format(fmt)
        except ValueError as error:
            raise ConfigError(f"{where}: {error}") from None
    if not formats:
        raise ConfigError(f"{where}: no format given; choose one of: "
                          f"{', '.join(_formats().FORMATS)}")
    return tuple(dict.fromkeys(formats))


def read_bounded(path: Path, limit: int = limits.MAX_NETWORK_FILE_BYTES) -> str:
    """The text of a network file, reading at most ``limit`` + 1 bytes (/dev/zero ends too)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(limit + 1)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such network file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a network file") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror}") from None
    if len(raw) > limit:
        raise ConfigError(f"{path}: larger than {limit:,} bytes, the limit for a network file "
                          "(limit MAX_NETWORK_FILE_BYTES)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None


def load(path: str | Path) -> Job:
    """Read a network file; ConfigError (a ValueError) names the file and the bad key."""
    from ..proof.prove import METHODS

    path = Path(path)
    try:
        data = tomllib.loads(read_bounded(path))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML: {error}") from None
    except RecursionError:  # tomllib descends once per bracket: 50,000 of them exhaust it
        raise ConfigError(f"{path}: invalid TOML: arrays or tables nested too deeply") from None
    _check_table(data, TOP_LEVEL, str(path))
    render = data.get("render", {})
    _check_table(render, RENDER, f"{path} [render]")
    try:
        net = Network(**{key: data[key] for key in NETWORK_KEYS if key in data})
    except ValueError as error:
        raise ConfigError(f"{path}: {error}") from None
    method = data.get("method", "auto")
    if method not in METHODS:
        raise ConfigError(f"{path}: key 'method': unknown method {method!r}; "
                          f"choose one of: {', '.join(METHODS)}")
    job = Job(net, source=str(path), method=method, timings=render.get("timings", False),
              warnings=network_warnings(data.get("activation"), net))
    job.order = data.get("order", 1)
    if "title" in data:
        job.title = check_title(data["title"], f"{path}: key 'title'")
    if "name" in data:
        job.name = check_name(data["name"], f"{path}: key 'name'")
    if "example" in data:
        from ..core.derivation import derive
        from ..document.kinds_numbers import check_example, read_example

        _check_table(data["example"], EXAMPLE, f"{path} [example]")
        try:
            job.example = read_example(net, data["example"])
            check_example(derive(net), job.example)  # numbers the network cannot take fail here
        except ValueError as error:
            raise ConfigError(f"{path}: {error}") from None
    job.train = data.get("train", {})
    if "formats" in render:
        job.formats = check_formats(render["formats"], f"{path} [render] key 'formats'")
        job.explicit_formats = True
    return job


def check_title(title: object, where: str = "--title") -> str:
    """A usable document title, or ConfigError: UTF-8 text, not empty, no control characters
    (tabs and line breaks are fine: the documents show each as a space)."""
    if not isinstance(title, str):
        raise ConfigError(f"{where} must be a string, got {title!r}")
    if not title.strip():
        raise ConfigError(f"{where}: the title is empty")
    if len(title) > limits.MAX_TITLE_CHARS:
        raise ConfigError(f"{where}: the title has {len(title):,} characters, past the limit of "
                          f"{limits.MAX_TITLE_CHARS} (limit MAX_TITLE_CHARS)")
    byte = next((c for c in title if "\udc80" <= c <= "\udcff"), None)  # as Python reads argv
    if byte is not None:
        raise ConfigError(f"{where}: the title holds the byte 0x{ord(byte) - 0xDC00:02X}, which "
                          "is not UTF-8; write the title in UTF-8")
    bad = next((c for c in title if unicodedata.category(c) in ("Cc", "Cs")
                and c not in "\t\n"), None)
    if bad is not None:
        raise ConfigError(f"{where}: the title holds the control character U+{ord(bad):04X}; "
                          "remove it")
    return title


# activations whose values lie in (0, 1), as binary cross-entropy needs of the output layer
UNIT_INTERVAL = ("sigmoid", "softmax")


def network_warnings(activation: object, net: Network) -> list[str]:
    """What the user may not expect of ``net`` built from ``activation`` as given."""
    found = []
    cost = net.cost_entry
    if cost.output and isinstance(activation, str) and activation != cost.output:
        found.append(f"cost {cost.name} needs {cost.output} in the output layer, so layer "
                     f"{net.L} uses {cost.output}, not {activation}")
    last = net.activations[-1]
    if net.cost == "bce" and last not in UNIT_INTERVAL:
        found.append(f"cost bce takes logs of a_L and 1 - a_L, which needs outputs in (0, 1); "
                     f"{last} in layer {net.L} does not keep them there (sigmoid does)")
    return found
