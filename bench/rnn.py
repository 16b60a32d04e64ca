"""Recurrent benchmark: symbp's generated gradients of an Elman layer against torch's nn.RNN.

Target (issue 18): for an RNN of width 8 over T = 16 steps, the numba kernel within 1.5× of
PyTorch's layer at batch 1,000 and faster than it at batch 1. The network is one recurrent
layer (tanh, 8 input features, its last state the output) and MSE on that state, summed
over the batch; float64. Side by side at widths 8 to 64, T 16 and 64, batch 1, 32 and
1,000: symbp's NumPy module and numba kernel (``symbp.lambdify``), torch's nn.RNN with its
gradient by autograd (one bias used: b_hh held at 0, as symbp's layer has one), and a
NumPy BPTT written by hand (one matrix product per step each way, the input's product and
the weights' gradients each one product over every step at once). Every competitor is first
checked against torch's gradient (to 1e-10, relative). All run in this one process with
BLAS, numba and torch on one thread, in shuffled rounds; a figure is the minimum time per
call over the rounds.
Run: python bench/rnn.py [--write] [--quick]
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_name] = "1"  # before NumPy, torch and numba start their thread pools

import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from _report import cpu, main_with, timed  # noqa: E402  (bench/_report.py)

import symbp  # noqa: E402
from symbp.core import limits  # noqa: E402
from symbp.core.layers import Layer  # noqa: E402

FEATURES = 8
SIZES = ((8, 16), (8, 64), (16, 16), (16, 64), (32, 16), (32, 64), (64, 16), (64, 64))
BATCHES = (1, 32, 1000)
TARGET = (8, 16)  # the network: width 8 over 16 steps
CALL_SECONDS = 0.01  # each timing repeats a call until about this long


def network(width: int, steps: int) -> symbp.Network:
    return symbp.Network(layers=[Layer("recurrent", units=width, activation="tanh")],
                         inputs=[FEATURES, steps], cost="mse")


def hand_bptt(x, y, W, U, b):
    """BPTT by hand for the same network: x is (batch, features, steps), as symbp takes it."""
    steps = x.shape[2]
    xs = x.transpose(2, 0, 1)  # (steps, batch, features)
    z_in = xs @ U.T + b  # every step's input product at once
    states = np.empty((steps, *z_in.shape[1:]))
    h = np.zeros(z_in.shape[1:])
    for t in range(steps):
        h = np.tanh(z_in[t] + h @ W.T)
        states[t] = h
    dz = np.empty_like(states)
    dh = states[-1] - y
    for t in range(steps - 1, -1, -1):
        dz[t] = dh * (1.0 - states[t] ** 2)
        dh = dz[t] @ W
    width = W.shape[0]
    dW = dz[1:].reshape(-1, width).T @ states[:-1].reshape(-1, width)
    dU = dz.reshape(-1, width).T @ xs.reshape(-1, x.shape[1])
    return dW, dU, dz.sum(axis=(0, 1))


def cells_of(width: int, steps: int, rounds: int, torch) -> list[dict]:
    """Every competitor at every batch for one width and length, each checked first."""
    rng = np.random.default_rng(width * 100 + steps)
    d = symbp.derive(network(width, steps))
    numpy_f = symbp.lambdify(d)
    with tempfile.TemporaryDirectory() as cache:  # an empty cache: the compile is timed
        os.environ["SYMBP_CACHE_DIR"] = cache
        start = time.perf_counter()
        numba_f = symbp.lambdify(d, "numba")
        numba_f.grad(np.zeros((2, FEATURES, steps)), np.zeros((2, width)),
                     [{"W": np.zeros((width, width)), "U": np.zeros((width, FEATURES)),
                       "b": np.zeros(width)}])
        compile_seconds = time.perf_counter() - start
    rnn = torch.nn.RNN(FEATURES, width, nonlinearity="tanh", batch_first=True,
                       dtype=torch.float64)
    with torch.no_grad():
        rnn.bias_hh_l0.zero_()
    weights = list(rnn.parameters())
    W, U, b = (p.detach().numpy().copy() for p in (rnn.weight_hh_l0, rnn.weight_ih_l0,
                                                    rnn.bias_ih_l0))
    params = [{"W": W, "U": U, "b": b}]
    cells = []
    for batch in BATCHES:
        x, y = rng.normal(size=(batch, FEATURES, steps)), rng.uniform(size=(batch, width))
        tx, ty = torch.tensor(x).transpose(1, 2).contiguous(), torch.tensor(y)

        def torch_grad():
            states, _ = rnn(tx)  # noqa: B023
            cost = 0.5 * ((states[:, -1] - ty) ** 2).sum()  # noqa: B023
            return torch.autograd.grad(cost, weights)

        w_ih, w_hh, b_ih, _ = (g.numpy() for g in torch_grad())
        want = (w_hh, w_ih, b_ih)
        for name, got in (("NumPy", numpy_f.grad(x, y, params)[0]),
                          ("numba", numba_f.grad(x, y, params)[0]),
                          ("hand", dict(zip("WUb", hand_bptt(x, y, W, U, b), strict=True)))):
            for mine, theirs in zip((got["W"], got["U"], got["b"]), want, strict=True):
                np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-10,
                                           err_msg=f"{name} against torch")
        entries = {
            "symbp NumPy": lambda: numpy_f.grad(x, y, params),  # noqa: B023
            "symbp numba": lambda: numba_f.grad(x, y, params),  # noqa: B023
            "torch nn.RNN": torch_grad,
            "hand NumPy": lambda: hand_bptt(x, y, W, U, b),  # noqa: B023
        }
        start = time.perf_counter()
        for fn in entries.values():
            fn()
        number = max(1, min(200, int(CALL_SECONDS * len(entries)
                                     / (time.perf_counter() - start))))
        cells.append({"width": width, "steps": steps, "batch": batch,
                      "best": timed(entries, rounds, number), "compile": compile_seconds})
        print(f"width {width}, T {steps}, batch {batch}: " + ", ".join(
            f"{k} {t * 1e6:,.0f} µs" for k, t in cells[-1]["best"].items()), flush=True)
    return cells


def run(rounds: int, sizes: int) -> list[dict]:
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    # symbp refuses a layer of more than limits.MAX_CONNECTIONS (20,000) joined entries, a cap
    # for the exact proofs and documents; the code is timed past it (widths 32 and 64)
    limits.MAX_CONNECTIONS = 10**7
    cells = []
    for width, steps in SIZES[:sizes]:
        cells += cells_of(width, steps, rounds, torch)
    return cells


def report(cells: list[dict], load: tuple, versions: str) -> str:
    names = list(cells[0]["best"])
    lines = ["| width | T | batch | " + " | ".join(f"{n} µs" for n in names)
             + " | numba / torch |", "|---:|---:|---:|" + "---:|" * (len(names) + 1)]
    for c in cells:
        b = c["best"]
        lines.append(f"| {c['width']} | {c['steps']} | {c['batch']:,} | "
                     + " | ".join(f"{b[n] * 1e6:,.0f}" for n in names)
                     + f" | {b['symbp numba'] / b['torch nn.RNN']:.2g}× |")
    verdicts = []
    for c in cells:
        if (c["width"], c["steps"]) != TARGET or c["batch"] not in (1, 1000):
            continue
        ratio = c["best"]["symbp numba"] / c["best"]["torch nn.RNN"]
        if c["batch"] == 1:
            verdicts.append(f"- width 8, T = 16, batch 1, faster than torch: the numba kernel "
                            f"takes {ratio:.2g}× torch's time: "
                            + ("**met**" if ratio < 1.0 else "**missed**"))
        else:
            verdicts.append(f"- width 8, T = 16, batch 1,000, within 1.5× of torch: "
                            f"{ratio:.2g}×: " + ("**met**" if ratio <= 1.5 else "**missed**"))
    spans = []
    for batch in BATCHES:
        ratios = [c["best"]["symbp numba"] / c["best"]["torch nn.RNN"] for c in cells
                  if c["batch"] == batch]
        spans.append(f"batch {batch:,}: {min(ratios):.2g}× to {max(ratios):.2g}×")
    compiles = [c["compile"] for c in cells]
    lines += ["", f"One recurrent layer (tanh, {FEATURES} input features, its last state the "
              "output), MSE on that state summed over the batch; float64. The gradient of W, U "
              "and b per call: symbp's generated `grad(x, y, params)` (NumPy module and numba "
              "kernel, both printed from the layer's maps, finding the states and δ step by "
              "step), torch autograd through nn.RNN (`torch.autograd.grad`, b_hh held at 0) "
              "and a hand-written NumPy BPTT.", "",
              "Targets, as ratios of this run:", "", *verdicts,
              f"- numba / torch over every width and length: {'; '.join(spans)}.", "",
              "Every competitor was checked against torch's gradient to 1e-10 (relative) "
              "before timing; each figure is the minimum time per call over shuffled rounds in "
              "one process, one thread everywhere (BLAS, numba, `torch.set_num_threads(1)`). "
              f"The numba kernel's one-time compile (an empty cache, the first call included: "
              f"{min(compiles):.1f} s to {max(compiles):.1f} s) is not in the figures. symbp "
              "refuses a layer joining more than 20,000 entry pairs (`limits.MAX_CONNECTIONS`, "
              "a cap for the exact proofs and documents): widths 32 and 64 are past it, and "
              "the benchmark lifts it in its own process to time their code.",
              f"Machine: {cpu()}, {os.cpu_count()} cores, load average {load[0]:.2f} before "
              f"and {load[1]:.2f} after (a shared machine: other jobs ran during the run); "
              f"{versions}.", "Rerun: `python bench/rnn.py --write` (`--quick` for fewer "
              "rounds and sizes)."]
    return "\n".join(lines)


def main() -> None:
    main_with(run, report, "Layer kinds: a recurrent layer through time", (5, len(SIZES)),
              (2, 2), __doc__)


if __name__ == "__main__":
    main()
