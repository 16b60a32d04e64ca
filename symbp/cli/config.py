"""Network files: a network and its render options in TOML, checked key by key.

    name = "seed"                      # output folder: output/seed/
    title = "Backpropagation, step by step"
    widths = [2, 3, 3, 2]
    activation = "sigmoid"             # or one name per layer
    cost = "mse"
    method = "auto"                    # proof method

    [render]
    formats = ["tex", "md", "pdf", "json", "py", "figures"]
    timings = false                    # proof times in the document
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ..core.network import NETWORK_KEYS, Network
from ..proof.prove import METHODS

DEFAULT_FORMATS = ("tex", "md", "pdf", "json", "py", "figures")
FORMATS = (*DEFAULT_FORMATS, "numba")  # numba: the gradient as a compiled kernel, on request
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass
class Job:
    """Everything one ``symbp derive`` needs: the network and what to write."""

    net: Network
    name: str | None = None
    title: str | None = None
    method: str = "auto"
    formats: tuple[str, ...] = DEFAULT_FORMATS
    timings: bool = False
    explicit_formats: bool = False  # asked for by the user, so a missing pdflatex is an error
    source: str = field(default="command line")


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
    "render": (lambda v: isinstance(v, dict), "a table"),
}
RENDER = {
    "formats": (_is_str_list, f"a list drawn from {list(FORMATS)}"),
    "timings": (lambda v: isinstance(v, bool), "true or false"),
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


def check_formats(formats: list[str], where: str = "--format") -> tuple[str, ...]:
    for fmt in formats:
        if fmt not in FORMATS:
            raise ConfigError(f"{where}: unknown format {fmt!r}; choose from: {', '.join(FORMATS)}")
    if not formats:
        raise ConfigError(f"{where}: no format given; choose from: {', '.join(FORMATS)}")
    return tuple(dict.fromkeys(formats))


def load(path: str | Path) -> Job:
    """Read a network file; ConfigError (a ValueError) names the file and the bad key."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such network file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a network file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML: {error}") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror}") from None
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
    job = Job(net, source=str(path), method=method,
              title=data.get("title"), timings=render.get("timings", False))
    if "name" in data:
        job.name = check_name(data["name"], f"{path}: key 'name'")
    if "formats" in render:
        job.formats = check_formats(render["formats"], f"{path} [render] key 'formats'")
        job.explicit_formats = True
    return job


def parse_range(text: str) -> list[int]:
    """``"1..6"`` → [1, ..., 6]; ``"2,3,4"`` and mixtures like ``"1..3,5"`` too.

    ValueError naming the bad part for anything else (the CLI turns it into exit 2).
    """
    values: list[int] = []
    for part in str(text).split(","):
        low, dots, high = part.strip().partition("..")
        try:
            first, last = int(low), int(high if dots else low)
        except ValueError:
            raise ValueError(f"bad range {text!r}: {part.strip()!r} is not a whole number or "
                             "a range like 1..6; write e.g. 1..6 or 2,3,4") from None
        if first < 1 or last < first:
            raise ValueError(f"bad range {text!r}: {part.strip()!r} must go up from a positive "
                             "number, like 1..6")
        values += [v for v in range(first, last + 1) if v not in values]
    return values
