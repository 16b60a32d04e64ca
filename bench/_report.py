"""What the benchmarks share: the timing of interleaved rounds, the machine's name, and
writing one benchmark's section into BENCHMARKS.md, leaving the other sections alone."""

from __future__ import annotations

import platform
import random
import re
import timeit
from pathlib import Path

HEADER = (
    "# Benchmarks\n\n"
    "Figures written by the scripts in `bench/`; each section says how to rerun it.\n"
)


def write_section(path: Path, title: str, body: str) -> None:
    text = path.read_text() if path.exists() else HEADER
    section = f"## {title}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + section
    path.write_text(text)


def timed(entries: dict, rounds: int, number: int) -> dict[str, float]:
    """The minimum seconds per call of each entry over shuffled rounds."""
    best = dict.fromkeys(entries, float("inf"))
    order = list(entries)
    for fn in entries.values():
        fn()
        fn()
    for _ in range(rounds):
        random.shuffle(order)
        for name in order:
            seconds = timeit.timeit(entries[name], number=number) / number
            best[name] = min(best[name], seconds)
    return best


def cpu() -> str:
    """The processor's model name (Linux), else the machine's architecture."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()
