"""What the benchmarks share: the timing of interleaved rounds, the machine's name, writing
one benchmark's section into BENCHMARKS.md (leaving the other sections alone), and the command
line that runs a benchmark and writes it."""

from __future__ import annotations

import argparse
import os
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


def main_with(run, report, title: str, rounds: tuple[int, int], quick: tuple[int, int],
              description: str | None) -> None:
    """A benchmark's command line: ``run(*rounds)`` (``quick`` with --quick), its ``report(
    result, load, versions)`` printed, and with --write the section ``title`` of
    BENCHMARKS.md."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    args = parser.parse_args()
    import numba
    import numpy as np
    import torch

    random.seed(0)
    before = os.getloadavg()[0]
    result = run(*(quick if args.quick else rounds))
    versions = (f"Python {platform.python_version()}, NumPy {np.__version__}, numba "
                f"{numba.__version__}, torch {torch.__version__}")
    text = report(result, (before, os.getloadavg()[0]), versions)
    print(text)
    if args.write:
        write_section(Path(__file__).resolve().parent.parent / "BENCHMARKS.md", title, text)
