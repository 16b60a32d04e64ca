"""End-to-end benchmark of ``symbp derive`` on the default network, PDF included.

Runs the command as a user does (a fresh process each time, every output format,
pdflatex included) and reports the median and best wall time over several runs,
then breaks one run into its stages in process. Target: at most 3 s end to end.
Run: python bench/derive.py [--write] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _report import cpu  # bench/_report.py

TARGET = 3.0  # seconds, end to end


def end_to_end(runs: int) -> list[float]:
    times = []
    with tempfile.TemporaryDirectory(prefix="symbp-bench-") as tmp:
        for n in range(runs):
            out = Path(tmp) / f"run{n}"
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "symbp", "derive", "--out", str(out), "-q"],
                           check=True, stdout=subprocess.DEVNULL)
            times.append(time.perf_counter() - start)
    return times


def stages() -> list[tuple[str, float]]:
    """One run split into its parts, in a fresh process so that imports count."""
    code = r"""
import time
t = [time.perf_counter()]
import symbp
from symbp.document.build import build
from symbp.document.matrix import matrix_chapter
from symbp.numeric.codegen import module_source
from symbp.render.documents import render_matrix
from symbp.render.documents import render_document
from symbp.render.figures import figure_files
from symbp.render.latex import compile_pdf
t.append(time.perf_counter())
d = symbp.derive(symbp.Network()); p = symbp.prove(d); t.append(time.perf_counter())
doc = build(d, p); t.append(time.perf_counter())
tex = render_document(doc, "tex"); md = render_document(doc, "md"); t.append(time.perf_counter())
pdf = compile_pdf(tex); t.append(time.perf_counter())
chapter = matrix_chapter(d); mtex = render_matrix(chapter, "tex"); render_matrix(chapter, "md")
compile_pdf(mtex); t.append(time.perf_counter())
module_source(d); figure_files(d); t.append(time.perf_counter())
print(" ".join(f"{b - a:.3f}" for a, b in zip(t, t[1:])))
"""
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    names = ["import symbp (SymPy, NumPy, Jinja)", "derive + prove (expand)",
             "build the document (general theorem, swell measurements, graph)",
             "render .tex and .md", "pdflatex, derivation", "matrix chapter, pdflatex included",
             "gradients.py and figures"]
    return list(zip(names, map(float, out.stdout.split())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()
    if not shutil.which("pdflatex"):
        sys.exit("pdflatex is needed: the target includes the PDF")
    times = end_to_end(args.runs)
    median, best = statistics.median(times), min(times)
    lines = [f"`symbp derive` on the default network ([2, 3, 3, 2], sigmoid, MSE), writing "
             f"every format including the PDF, as a fresh process: median **{median:.2f} s**, "
             f"best {best:.2f} s over {args.runs} runs (target ≤ {TARGET:g} s: "
             f"{'met' if median <= TARGET else 'MISSED'}).", "",
             "| stage (one run, in process) | seconds |", "|---|---:|"]
    lines += [f"| {name} | {seconds:.2f} |" for name, seconds in stages()]
    load = os.getloadavg()[0]
    lines += ["", f"Rerun: `python bench/derive.py --write`. Machine: {cpu()}, "
                  f"{os.cpu_count()} cores, load average {load:.2f} after the runs; "
                  f"Python {platform.python_version()}."]
    text = "\n".join(lines)
    print(text)
    if args.write:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from _report import write_section

        write_section(Path(__file__).resolve().parent.parent / "BENCHMARKS.md",
                      "Derive, end to end", text)


if __name__ == "__main__":
    main()
