"""Proof benchmark: symbp's prover against a naive SymPy baseline and against symbp before
issue 9, side by side in one process; the full three-route claim at every size (issue 17).

Naive baseline (what one writes with SymPy alone): build the composed cost with
an undefined σ, ``sympy.diff`` it for every weight, build the δ recursion by
hand, and ``sympy.expand`` each difference. "before" is the symbp package at
commit BEFORE (exported from git into a temporary folder and imported under
another name), so today's and yesterday's prover run in the same process on the
same machine. Every call starts with SymPy's cache cleared; rounds interleave
the cases and each case keeps its fastest call. Run: python bench/proof.py
[--write] [--rounds 3]
"""

from __future__ import annotations

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")  # one BLAS thread: the timings compare code, not cores

import argparse  # noqa: E402
import importlib  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import sympy as sp  # noqa: E402
from _report import cpu  # noqa: E402  # bench/_report.py
from sympy.core.cache import clear_cache  # noqa: E402

import symbp  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BEFORE = "19b14bf"  # the last commit before issue 9's prover
FULL, TARGET_FULL = [5, 5, 5, 5], 0.019  # full three-route claim / naive (issue 9's figure)
WIDE, TARGET_WIDE = [64] * 4, 60.0  # full three-route claim (auto: construction), seconds
DEEP, TARGET_DEEP = [16] * 6, 10.0  # the same, seconds
TARGET_DEEP_LOCAL = 1 / 3  # local, now / before


def naive(widths: list[int]) -> bool:
    sigma = sp.Function("sigma")
    t = sp.Symbol("t")

    def dsigma(e):
        return sp.diff(sigma(t), t).subs(t, e)

    L = len(widths) - 1
    x = sp.Matrix(sp.symbols(f"x1:{widths[0] + 1}"))
    y = sp.Matrix(sp.symbols(f"y1:{widths[-1] + 1}"))
    W = [sp.Matrix(widths[l], widths[l - 1], lambda j, k, l=l: sp.Symbol(f"w{l}_{j}_{k}"))
         for l in range(1, L + 1)]
    b = [sp.Matrix(sp.symbols(f"b{l}_1:{widths[l] + 1}")) for l in range(1, L + 1)]
    a, z = [x], []
    for l in range(L):
        z.append(W[l] * a[-1] + b[l])
        a.append(z[-1].applyfunc(sigma))
    cost = sum((aj - yj) ** 2 for aj, yj in zip(a[-1], y)) / 2
    delta = (a[-1] - y).multiply_elementwise(z[-1].applyfunc(dsigma))
    ok = True
    for l in range(L - 1, -1, -1):
        grad = delta * a[l].T
        for (j, k), w in zip(sorted((j, k) for j in range(W[l].rows) for k in range(W[l].cols)),
                             W[l]):
            ok &= sp.expand(sp.diff(cost, w) - grad[j, k]) == 0
        if l:
            delta = (W[l].T * delta).multiply_elementwise(z[l - 1].applyfunc(dsigma))
    return ok


def symbp_before():
    """symbp as it was at BEFORE, importable next to today's (None without git)."""
    folder = Path(tempfile.mkdtemp(prefix="symbp-before-"))
    try:
        names = subprocess.run(["git", "-C", str(ROOT), "ls-tree", "-r", "--name-only", BEFORE,
                                "symbp"], check=True, capture_output=True, text=True).stdout
        for name in names.split():
            target = folder / name.replace("symbp/", "symbp_before/", 1)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(subprocess.run(["git", "-C", str(ROOT), "show",
                                               f"{BEFORE}:{name}"], check=True,
                                              capture_output=True).stdout)
    except (OSError, subprocess.CalledProcessError):
        return None
    sys.path.insert(0, str(folder))
    return importlib.import_module("symbp_before")


def proved(package, widths: list[int], method: str) -> bool:
    d = package.derive(package.Network(widths, activation="generic"))
    proof = package.prove(d, method, limit=None) if method != "local" else package.prove(d, method)
    return proof.holds


def run(rounds: int, before) -> dict[str, tuple[float, bool]]:
    cases = {
        "naive": (naive, FULL),
        "full": (lambda w: proved(symbp, w, "auto"), FULL),
        "full construction": (lambda w: proved(symbp, w, "construction"), FULL),
        "deep": (lambda w: proved(symbp, w, "auto"), DEEP),
        "deep local": (lambda w: proved(symbp, w, "local"), DEEP),
        "wide": (lambda w: proved(symbp, w, "auto"), WIDE),
        "wide local": (lambda w: proved(symbp, w, "local"), WIDE),
    }
    if before is not None:
        cases["full before"] = (lambda w: proved(before, w, "expand"), FULL)
        cases["deep before"] = (lambda w: proved(before, w, "local"), DEEP)
    best: dict[str, tuple[float, bool]] = {}
    for n in range(rounds):
        for name, (fn, widths) in cases.items():
            clear_cache()  # SymPy's global cache would otherwise favour whatever runs second
            start = time.perf_counter()
            ok = fn(widths)
            seconds = time.perf_counter() - start
            if name not in best or seconds < best[name][0]:
                best[name] = (seconds, ok)
            print(f"round {n + 1}: {name:18} {seconds:8.3f} s  {ok}", file=sys.stderr)
    return best


def _met(ok: bool) -> str:
    return "met" if ok else "not met"


def report(best: dict[str, tuple[float, bool]], rounds: int, load: tuple[float, float]) -> str:
    rows = [("naive SymPy (diff + expand, recursion vs direct)", "naive", FULL, "-"),
            ("symbp before: derive + prove", "full before", FULL, "expand"),
            ("symbp: derive + prove, full three-route claim", "full", FULL, "auto (expand)"),
            ("symbp: derive + prove, full three-route claim", "full construction", FULL,
             "construction"),
            ("symbp before: derive + prove, recursion only", "deep before", DEEP, "local"),
            ("symbp: derive + prove, recursion only", "deep local", DEEP, "local"),
            ("symbp: derive + prove, full three-route claim", "deep", DEEP,
             "auto (construction)"),
            ("symbp: derive + prove, recursion only", "wide local", WIDE, "local"),
            ("symbp: derive + prove, full three-route claim", "wide", WIDE,
             "auto (construction)")]
    lines = ["| what | network (generic σ, MSE) | method | seconds | proved |",
             "|---|---|---|---:|---|"]
    lines += [f"| {what} | {widths} | {method} | {best[key][0]:.2f} | {best[key][1]} |"
              for what, key, widths, method in rows if key in best]
    full = best["full"][0] / best["naive"][0]
    built = best["full construction"][0] / best["naive"][0]
    wide, deep = best["wide"][0], best["deep"][0]
    lines += ["", f"- Full three-route claim on {FULL} (auto: expand) / naive: **{full:.3f}×** "
              f"(target ≤ {TARGET_FULL}×, issue 9's figure: {_met(full <= TARGET_FULL)}); by "
              f"construction: {built:.3f}×."]
    if "full before" in best:
        lines[-1] += f" Before: {best['full before'][0] / best['naive'][0]:.3f}×."
    lines.append(f"- Full three-route claim on {WIDE} (auto: construction): **{wide:.1f} s** "
                 f"(target ≤ {TARGET_WIDE:.0f} s: {_met(wide <= TARGET_WIDE)}); `local`, the "
                 f"recursion alone: {best['wide local'][0]:.1f} s.")
    lines.append(f"- Full three-route claim on [16]*6 (auto: construction): **{deep:.1f} s** "
                 f"(target ≤ {TARGET_DEEP:.0f} s: {_met(deep <= TARGET_DEEP)}); `local`: "
                 f"{best['deep local'][0]:.2f} s.")
    if "deep before" in best:
        ratio = best["deep local"][0] / best["deep before"][0]
        lines.append(f"- `local` on [16]*6, now / before: **{ratio:.3f}×** (target ≤ "
                     f"{TARGET_DEEP_LOCAL:.3f}×: {_met(ratio <= TARGET_DEEP_LOCAL)}).")
    lines += [
        "",
        "The full claim: the recursion is the gradient (per-layer lemmas), and the expansion "
        "and the direct route equal it, for every W_l and b_l. `expand` (auto up to 6,000 "
        "estimated product terms) compares the routes exactly as `Derivation.grad` returns "
        "them, expanded; `construction` (auto above that) proves how they are built: each "
        "factor of the chain against its lemma and in order, the composed forward pass layer "
        "by layer against the network's maps, the parameters differentiated by, and then "
        "associativity and the chain rule through the recursion's lemmas. `local` claims the "
        "recursion only. The naive baseline builds the composed cost with an undefined σ, "
        "calls `sympy.diff` for every weight and `sympy.expand`s its difference with a "
        f"hand-built δ recursion. \"before\" is symbp at commit {BEFORE}, imported from git "
        f"into the same process. Fastest of {rounds} interleaved rounds per case, SymPy's "
        "cache cleared before each call, one BLAS thread, normal priority.",
        f"Rerun: `python bench/proof.py --write`. Machine: {cpu()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, SymPy {sp.__version__}; "
        f"load average {load[0]:.1f} before and {load[1]:.1f} after (the machine is shared: "
        "other jobs slow every row alike).",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    args = parser.parse_args()
    before = os.getloadavg()[0]
    best = run(args.rounds, symbp_before())
    text = report(best, args.rounds, (before, os.getloadavg()[0]))
    print(text)
    if args.write:
        from _report import write_section  # bench/_report.py

        write_section(ROOT / "BENCHMARKS.md", "Proof", text)


if __name__ == "__main__":
    main()
