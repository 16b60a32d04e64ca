"""Numeric-gradient benchmark: symbp's backends against hand-written NumPy, torch, jax.jit, numba.

Every competitor computes dC/dW_l and dC/db_l of a sigmoid network with MSE, the cost
summed over the batch, and is first checked against hand-written NumPy to 1e-9. All run
in this one process with BLAS, torch and XLA pinned to one thread, in rounds: each round
times every competitor once (a few ms of calls), in a fresh random order. A cell's figure
is the minimum time per call over the rounds. Hand NumPy runs twice, as two competitors:
how far apart the two come out is the cell's noise band. Every ratio compares figures of
the same run.
Run: python bench/numeric.py [--write] [--quick]
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_name] = "1"  # before NumPy, torch, jax and numba start their thread pools
os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"

import argparse  # noqa: E402
import gc  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import time  # noqa: E402
import timeit  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from _report import cpu  # noqa: E402  (bench/_report.py)

import symbp  # noqa: E402

# the widest within core.limits.MAX_PARAMETERS (20,000): [128, 128, 10] has 17,802
NETWORKS = ([2, 3, 3, 2], [4, 4, 4, 4], [16] * 4, [64, 64, 64, 10], [128, 128, 10])
SMALL = NETWORKS[:3]  # where the numba targets at batch 1 and 100 apply
BATCHES = (1, 100, 10_000)
AGAIN = "hand NumPy again"  # the same function timed twice: their ratio is the noise band
TARGETS = {"numba at batch 1": 5.0, "numba at batch 100": 1.5, "numba at batch 10,000": 1.2,
           "NumPy": 1.0}


# ---------------------------------------------------------------- the competitors


def hand_numpy(x, y, weights, biases):
    """Backpropagation for sigmoid + MSE as one writes it by hand in NumPy, batch in rows."""
    x, y = np.atleast_2d(x), np.atleast_2d(y)
    activations = [x]
    for W, b in zip(weights, biases):
        activations.append(1.0 / (1.0 + np.exp(-(activations[-1] @ W.T + b))))
    a = activations[-1]
    delta = (a - y) * a * (1.0 - a)
    grad_W, grad_b = [], []
    for l in range(len(weights) - 1, -1, -1):
        grad_W.append(delta.T @ activations[l])
        grad_b.append(delta.sum(axis=0))
        if l > 0:
            a = activations[l]
            delta = (delta @ weights[l]) * a * (1.0 - a)
    return {"W": grad_W[::-1], "b": grad_b[::-1]}


def torch_autograd(torch):
    def grad(x, y, weights, biases):
        a = x
        for W, b in zip(weights, biases):
            a = torch.sigmoid(a @ W.T + b)
        gs = torch.autograd.grad(0.5 * ((a - y) ** 2).sum(), [*weights, *biases])
        return {"W": gs[: len(weights)], "b": gs[len(weights):]}

    return grad


def jax_jit_grad(jax):
    jnp = jax.numpy

    def cost(params, x, y):
        a = x
        for W, b in zip(*params):
            a = jax.nn.sigmoid(a @ W.T + b)
        return 0.5 * jnp.sum((a - y) ** 2)

    gradient = jax.jit(jax.grad(cost))

    def grad(x, y, weights, biases):
        Ws, bs = gradient((weights, biases), x, y)
        return jax.block_until_ready({"W": Ws, "b": bs})

    return grad


def hand_numba(numba):
    """A numba kernel as one writes it by hand: array expressions (numba fuses them into
    loops) and @ (BLAS), one kernel per depth, the arrays as separate arguments."""

    @numba.njit(error_model="numpy")
    def sigmoid_layer(a, W, b):
        return 1.0 / (1.0 + np.exp(-(a @ W.T + b)))

    @numba.njit(error_model="numpy")
    def two(x, y, W1, W2, b1, b2):
        a1 = sigmoid_layer(x, W1, b1)
        a2 = sigmoid_layer(a1, W2, b2)
        d2 = (a2 - y) * a2 * (1.0 - a2)
        d1 = (d2 @ W2) * a1 * (1.0 - a1)
        return d1.T @ x, d2.T @ a1, d1.sum(axis=0), d2.sum(axis=0)

    @numba.njit(error_model="numpy")
    def three(x, y, W1, W2, W3, b1, b2, b3):
        a1 = sigmoid_layer(x, W1, b1)
        a2 = sigmoid_layer(a1, W2, b2)
        a3 = sigmoid_layer(a2, W3, b3)
        d3 = (a3 - y) * a3 * (1.0 - a3)
        d2 = (d3 @ W3) * a2 * (1.0 - a2)
        d1 = (d2 @ W2) * a1 * (1.0 - a1)
        return d1.T @ x, d2.T @ a1, d3.T @ a2, d1.sum(axis=0), d2.sum(axis=0), d3.sum(axis=0)

    kernels = {2: two, 3: three}

    def grad(x, y, weights, biases):
        L = len(weights)
        out = kernels[L](x, y, *weights, *biases)
        return {"W": list(out[:L]), "b": list(out[L:])}

    return grad


def competitors(widths, modules):
    """name -> (gradient function, how to turn NumPy arguments into its own)."""
    d = symbp.derive(symbp.Network(widths, activation="sigmoid", cost="mse"))
    numpy_args = lambda *point: point  # noqa: E731
    found = {"hand NumPy": (hand_numpy, numpy_args),
             AGAIN: (lambda *a: hand_numpy(*a), numpy_args),  # A/A: measures the noise
             "symbp NumPy": (symbp.lambdify(d).grad, numpy_args)}
    numba, jax, torch = modules.get("numba"), modules.get("jax"), modules.get("torch")
    if numba:
        found["symbp numba"] = (symbp.lambdify(d, "numba").grad, numpy_args)
        found["hand numba"] = (hand_numba(numba), numpy_args)
    if jax:
        def jax_args(x, y, weights, biases):
            put = jax.device_put
            return put(x), put(y), [put(W) for W in weights], [put(b) for b in biases]

        symbp_jax = symbp.lambdify(d, "jax").grad
        found["symbp jax"] = (lambda *a: jax.block_until_ready(symbp_jax(*a)), jax_args)
        found["jax.jit"] = (jax_jit_grad(jax), jax_args)
    if torch:
        def torch_args(x, y, weights, biases):
            params = [torch.tensor(p, requires_grad=True) for p in (*weights, *biases)]
            return torch.tensor(x), torch.tensor(y), params[:len(weights)], params[len(weights):]

        found["torch"] = (torch_autograd(torch), torch_args)
    return found


# ---------------------------------------------------------------- measuring


def check(name, got, want) -> None:
    for wrt in ("W", "b"):
        for l, (g, w) in enumerate(zip(got[wrt], want[wrt]), start=1):
            g = np.asarray(g.detach() if hasattr(g, "detach") else g, dtype=float)
            np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-9 * float(np.abs(w).max()),
                                       err_msg=f"{name}: dC/d{wrt}_{l}")


@dataclass(frozen=True)
class Budget:
    rounds: int  # at least this many rounds per cell
    most: int  # at most this many
    seconds: float  # more rounds while a cell has taken less than this
    sample: float  # seconds of calls per competitor and round


def measure(entries: dict, budget: Budget) -> dict[str, list[float]]:
    """Seconds per call of each entry, one figure per round, rounds in shuffled order:
    at least ``budget.rounds`` of them, more while the cell's time budget lasts."""
    numbers, per_round = {}, 0.0
    for name, (fn, args) in entries.items():
        for _ in range(3):  # warm up: compilation, caches, allocator
            fn(*args)
        start = time.perf_counter()
        fn(*args)
        call = max(time.perf_counter() - start, 1e-7)
        numbers[name] = max(1, int(budget.sample / call))
        per_round += numbers[name] * call
    rounds = min(budget.most, max(budget.rounds, int(budget.seconds / per_round)))
    times: dict[str, list[float]] = {name: [] for name in entries}
    order = list(entries)
    for _ in range(rounds):
        random.shuffle(order)
        for name in order:
            fn, args = entries[name]
            seconds = timeit.timeit(lambda: fn(*args), number=numbers[name])  # noqa: B023
            times[name].append(seconds / numbers[name])
    return times


def run(budget: Budget, modules: dict) -> list[dict]:
    rng = np.random.default_rng(0)
    cells = []
    for widths in NETWORKS:
        L = len(widths) - 1
        weights = [rng.normal(size=(widths[l], widths[l - 1])) for l in range(1, L + 1)]
        biases = [rng.normal(size=widths[l]) for l in range(1, L + 1)]
        found = competitors(widths, modules)
        for batch in BATCHES:
            point = (rng.normal(size=(batch, widths[0])), rng.uniform(size=(batch, widths[-1])),
                     weights, biases)
            want = hand_numpy(*point)
            entries = {}
            for name, (fn, convert) in found.items():
                args = convert(*point)
                check(name, fn(*args), want)
                entries[name] = (fn, args)
            gc.collect()
            times = measure(entries, budget)
            best = {name: min(t) for name, t in times.items()}
            noise = abs(best[AGAIN] / best["hand NumPy"] - 1)
            cells.append({"widths": widths, "batch": batch, "best": best, "noise": noise,
                          "rounds": len(times[AGAIN])})
            print(f"{widths} batch {batch}: " + ", ".join(
                f"{name} {t * 1e6:.1f} µs" for name, t in best.items()), flush=True)
    return cells


# ---------------------------------------------------------------- reporting


COLUMNS = ("hand NumPy", "symbp NumPy", "symbp numba", "hand numba", "jax.jit", "symbp jax",
           "torch")
OTHERS = ("torch", "jax.jit", "hand numba")  # the fastest of these is the bar at batch 10,000


def report(cells: list[dict], load: tuple, modules: dict) -> str:
    present = [c for c in COLUMNS if c in cells[0]["best"]]
    head = ("| network (sigmoid, MSE) | batch | " + " | ".join(f"{c} µs" for c in present) +
            " | symbp NumPy / hand NumPy | hand NumPy / symbp numba | symbp numba / fastest of "
            "torch, jax.jit, hand numba | noise |")
    lines = [head, "|" + "---|" * 2 + "---:|" * (len(present) + 4)]
    verdicts: dict[str, list[tuple[str, float, bool]]] = {k: [] for k in TARGETS}
    for cell in cells:
        best, batch, widths = cell["best"], cell["batch"], cell["widths"]
        numpy_ratio = best["symbp NumPy"] / best["hand NumPy"]
        label = f"{widths} @ {batch:,}"
        within = round(numpy_ratio, 2) <= round(1.0 + cell["noise"], 2)  # as the table shows them
        verdicts["NumPy"].append((label, numpy_ratio, within))
        speedup = other = float("nan")
        if "symbp numba" in best:
            speedup = best["hand NumPy"] / best["symbp numba"]
            rivals = [best[n] for n in OTHERS if n in best]
            other = best["symbp numba"] / min(rivals) if rivals else float("nan")
            if widths in SMALL and batch in (1, 100):
                key = f"numba at batch {batch}"
                verdicts[key].append((label, speedup, speedup >= TARGETS[key]))
            if batch == 10_000:
                key = "numba at batch 10,000"
                verdicts[key].append((label, other, other <= TARGETS[key]))
        lines.append(f"| {widths} | {batch:,} | "
                     + " | ".join(f"{best[c] * 1e6:,.1f}" for c in present)
                     + f" | {numpy_ratio:.2f}× | {speedup:.1f}× | {other:.2f}× | "
                       f"±{cell['noise'] * 100:.0f}% |")
    lines += ["", "Targets, as ratios of this run:", ""]
    wording = {
        "numba at batch 1": "symbp numba at least 5× faster than hand NumPy at batch 1, "
                            "three small networks",
        "numba at batch 100": "symbp numba at least 1.5× faster than hand NumPy at batch 100, "
                              "three small networks",
        "numba at batch 10,000": "symbp numba at most 1.2× the fastest of torch, jax.jit and "
                                 "hand numba at batch 10,000",
        "NumPy": "symbp NumPy at most 1.0× hand NumPy in every cell, within the noise band",
    }
    for key, text in wording.items():
        results = verdicts[key]
        if not results:
            lines.append(f"- {text}: not measured (package missing)")
            continue
        missed = [f"{label} ({value:.2f}×)" for label, value, ok in results if not ok]
        values = ", ".join(f"{value:.2f}×" for _, value, _ in results)
        verdict = "**met**" if not missed else "**missed** at " + ", ".join(missed)
        lines.append(f"- {text}: {values}: {verdict}")
    versions = [f"Python {platform.python_version()}", f"NumPy {np.__version__}"]
    versions += [f"{name} {module.__version__}" for name, module in modules.items() if module]
    rounds = sorted(cell["rounds"] for cell in cells)
    lines += ["", f"Each figure is the minimum time per call over {rounds[0]} to {rounds[-1]} "
              "shuffled rounds (as many as fit in a few seconds per cell) in one "
              "process; every competitor was checked against hand NumPy to 1e-9 before timing. "
              "The noise band is how far hand NumPy, timed a second time as a competitor of its "
              "own, came out from itself in that cell: the machine is shared (other jobs ran "
              "during the run), so differences inside it mean nothing. torch multiplies "
              "matrices with MKL, NumPy and numba with OpenBLAS, so cells dominated by large "
              "products measure the BLAS library more than the code. symbp's sigmoid caps e^-z "
              "at e^709 so that exp never overflows: one more elementwise pass per layer than "
              "hand NumPy's 1/(1 + exp(-z)), which costs 1-2% in those cells. jax runs in float64 "
              "(jax_enable_x64), like the others; symbp numba's one-time compile (a second or "
              "two per network, then cached on disk) is not timed.",
              f"Machine: {cpu()}, {os.cpu_count()} cores, load average {load[0]:.2f} before "
              f"and {load[1]:.2f} after; {', '.join(versions)}; one thread everywhere.",
              "Rerun: `python bench/numeric.py --write` (`--quick` for fewer rounds)."]
    return "\n".join(lines)


def optional_modules() -> dict:
    modules = {}
    for name in ("numba", "jax", "torch"):
        try:
            modules[name] = __import__(name)
        except ImportError:
            print(f"{name} is not installed: its columns are left out")
    if "torch" in modules:
        modules["torch"].set_num_threads(1)
    if "jax" in modules:
        modules["jax"].config.update("jax_enable_x64", True)  # float64, to compare to 1e-9
    return modules


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    args = parser.parse_args()
    budget = Budget(5, 5, 0.0, 0.001) if args.quick else Budget(21, 200, 6.0, 0.003)
    modules = optional_modules()
    random.seed(0)
    before = os.getloadavg()[0]
    cells = run(budget, modules)
    text = report(cells, (before, os.getloadavg()[0]), modules)
    print(text)
    if args.write:
        from _report import write_section  # bench/_report.py

        write_section(Path(__file__).resolve().parent.parent / "BENCHMARKS.md",
                      "Numeric gradients", text)


if __name__ == "__main__":
    main()
