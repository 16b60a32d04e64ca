"""``symbp swell``: how large dC/dw^(1)_11 grows by each route, measured over a grid of
generic networks and written as swell.json, swell.md and swell.svg."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

from ..core.deadline import Deadline
from ..figures.swell import DEFAULT_DEPTHS, DEFAULT_WIDTHS, ROUTES, measure, to_json
from ..figures.swell_plot import swell_svg
from ..render.figures import swell_markdown
from . import outputs, progress
from .jobs import budget, checked_folder


def command(args) -> int:
    out = checked_folder(args.out)
    with progress.bar(progress.wanted(args.quiet), "measuring") as update:
        print(run_swell(args.depth, args.width, out, progress=update, budget=budget(args)))
    return 0


def run_swell(depths: Iterable[int] = DEFAULT_DEPTHS, widths: Iterable[int] = DEFAULT_WIDTHS,
              out_folder: Path | str = "output/swell", progress=None, *,
              budget: Deadline | None = None) -> str:
    """Measure the grid, write swell.json, swell.md and swell.svg (the same on every run) and
    swell-times.json (the same rows with build times), return lines to print."""
    budget = budget or Deadline(None)
    with outputs.OutputFolder(out_folder, ("swell.json", "swell-times.json", "swell.md",
                                           "swell.svg")) as folder:
        with budget.phase():
            start = time.perf_counter()
            rows = measure(depths, widths, progress=progress)
            seconds = time.perf_counter() - start
            files = {"swell.json": to_json(rows), "swell-times.json": to_json(rows, timings=True),
                     "swell.md": swell_markdown(rows),
                     "swell.svg": swell_svg(rows)}
            folder.stage({name: text.encode() for name, text in files.items()})
        written = folder.publish()
    deepest = max(rows, key=lambda r: (r["depth"], r["width"]))
    lines = [f"measured {len(rows)} networks in {seconds:.1f} s (generic σ, MSE); "
             f"for dC/dw^(1)_11 of the deepest and widest, {deepest['widths']}:",
             f"  {deepest['paths']} paths; operations as written / after CSE (build time):"]
    for route in ROUTES:
        raw, cse = deepest[route], deepest[f"{route}_cse"]
        lines.append(f"  {route:>9}: " + ("skipped (too large)" if raw is None else
                                         f"{raw} / {cse} ({deepest['seconds'][route]:.3f} s)"))
    lines.append("wrote " + ", ".join(str(p) for p in written))
    return "\n".join(lines)
