"""Convolution benchmark: symbp's generated numba kernel of a conv1d network against PyTorch.

Target (issue 18): for a convolution of 8 channels, kernel 3, on signals of length 32, the
numba kernel within 1.5× of PyTorch's own layer at batch 1,000 and faster than it at batch
1. The network: 8 input channels of 32 positions, two conv1d layers of 8 channels, kernel 3,
"same" padding and ReLU, the second average-pooled over windows of 2, and a dense sigmoid
output of 4; MSE. The torch model is nn.Conv1d, nn.AvgPool1d and nn.Linear, its gradient by
autograd; symbp's is ``symbp.lambdify(d, backend="numba")`` (and NumPy, for scale). Every
competitor is first checked against the torch gradient to 1e-10 (float64). All run in this
one process with BLAS and torch pinned to one thread, in shuffled rounds; a figure is the
minimum time per call over the rounds (``kinds.timed``).
Run: python bench/conv.py [--write] [--quick]
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_name] = "1"  # before NumPy, torch and numba start their thread pools

import argparse  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from kinds import _cpu, timed  # noqa: E402  (bench/kinds.py: the same timing and machine)

import symbp  # noqa: E402
from symbp.core.layers import Layer  # noqa: E402

CHANNELS, LENGTH, KERNEL, POOL, OUTPUTS = 8, 32, 3, 2, 4
BATCHES = (1, 1000)


def network() -> symbp.Network:
    conv = {"channels": CHANNELS, "kernel": KERNEL, "padding": "same", "activation": "relu"}
    return symbp.Network(layers=[Layer("conv1d", conv),
                                 Layer("conv1d", conv, pool="avg", pool_size=POOL),
                                 Layer("dense", units=OUTPUTS, activation="sigmoid")],
                         inputs=[CHANNELS, LENGTH], cost="mse")


def torch_model(torch):
    """The same network from PyTorch's own modules."""
    nn = torch.nn
    return nn.Sequential(
        nn.Conv1d(CHANNELS, CHANNELS, KERNEL, padding="same"), nn.ReLU(),
        nn.Conv1d(CHANNELS, CHANNELS, KERNEL, padding="same"), nn.ReLU(), nn.AvgPool1d(POOL),
        nn.Flatten(), nn.Linear(CHANNELS * LENGTH // POOL, OUTPUTS), nn.Sigmoid()).double()


def parameters_of(model) -> list[dict]:
    """The torch model's weights as symbp's params: one dict per layer."""
    layers = [model[0], model[2], model[6]]
    return [{"W": m.weight.detach().numpy().copy(), "b": m.bias.detach().numpy().copy()}
            for m in layers]


def run(rounds: int, number: int) -> list[dict]:
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    d = symbp.derive(network())
    model = torch_model(torch)
    params = parameters_of(model)
    numpy_f = symbp.lambdify(d)
    with tempfile.TemporaryDirectory() as cache:  # an empty cache: the compile is timed
        os.environ["SYMBP_CACHE_DIR"] = cache
        start = time.perf_counter()
        numba_f = symbp.lambdify(d, "numba")
        numba_f.grad(np.zeros((2, CHANNELS, LENGTH)), np.zeros((2, OUTPUTS)), params)
        compile_seconds = time.perf_counter() - start
    weights = list(model.parameters())
    cells = []
    for batch in BATCHES:
        x = rng.normal(size=(batch, CHANNELS, LENGTH))
        y = rng.uniform(size=(batch, OUTPUTS))
        tx, ty = torch.tensor(x), torch.tensor(y)

        def torch_grad():
            cost = 0.5 * ((model(tx) - ty) ** 2).sum()  # noqa: B023
            return torch.autograd.grad(cost, weights)

        want = [g.numpy() for g in torch_grad()]  # W_1, b_1, W_2, ... as the model holds them
        for name, f in (("NumPy", numpy_f), ("numba", numba_f)):
            got = [g for layer in f.grad(x, y, params) for g in (layer["W"], layer["b"])]
            for mine, theirs in zip(got, want, strict=True):
                np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-10,
                                           err_msg=f"symbp {name} against torch")
        entries = {
            "symbp NumPy": lambda: numpy_f.grad(x, y, params),  # noqa: B023
            "symbp numba": lambda: numba_f.grad(x, y, params),  # noqa: B023
            "torch": torch_grad,
        }
        cells.append({"batch": batch, "best": timed(entries, rounds, number),
                      "compile": compile_seconds})
        print(f"batch {batch}: " + ", ".join(f"{k} {t * 1e6:.1f} µs"
                                             for k, t in cells[-1]["best"].items()), flush=True)
    return cells


def report(cells: list[dict], load: tuple, versions: str) -> str:
    names = list(cells[0]["best"])
    lines = ["| batch | " + " | ".join(f"{n} µs" for n in names) + " | symbp numba / torch |",
             "|---:|" + "---:|" * (len(names) + 1)]
    verdicts = []
    for cell in cells:
        b = cell["best"]
        ratio = b["symbp numba"] / b["torch"]
        lines.append(f"| {cell['batch']:,} | " + " | ".join(f"{b[n] * 1e6:,.1f}" for n in names)
                     + f" | {ratio:.2f}× |")
        if cell["batch"] == 1:
            verdicts.append(f"- batch 1, faster than torch: the numba kernel takes {ratio:.2f}× "
                            "torch's time: " + ("**met**" if ratio < 1.0 else "**missed**"))
        else:
            verdicts.append(f"- batch {cell['batch']:,}, within 1.5× of torch: {ratio:.2f}×: "
                            + ("**met**" if ratio <= 1.5 else "**missed**"))
    lines += ["", f"A conv1d network on {CHANNELS} channels of {LENGTH} positions: two conv1d "
              f"layers of {CHANNELS} channels, kernel {KERNEL}, \"same\" padding, ReLU, the "
              f"second average-pooled by {POOL}, then a dense sigmoid output of {OUTPUTS}; MSE "
              "summed over the batch; float64. The gradient of every parameter per call: "
              "symbp's generated `grad(x, y, params)` (NumPy module, numba kernel, both printed "
              "from the kind's index formulas) and torch autograd on nn.Conv1d, nn.AvgPool1d "
              "and nn.Linear (`torch.autograd.grad`).", "",
              "Targets, as ratios of this run:", "", *verdicts, "",
              "Every competitor was checked against torch's gradient to 1e-10 before timing; "
              "each figure is the minimum time per call over shuffled rounds in one process, "
              "one thread everywhere (BLAS, numba, `torch.set_num_threads(1)`); the numba "
              f"kernel's one-time compile (an empty cache, the first call included: "
              f"{cells[0]['compile']:.1f} s) is not in the figures.",
              f"Machine: {_cpu()}, {os.cpu_count()} cores, load average {load[0]:.2f} before "
              f"and {load[1]:.2f} after (a shared machine: other jobs ran during the run); "
              f"{versions}.", "Rerun: `python bench/conv.py --write` (`--quick` for fewer "
              "rounds)."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    args = parser.parse_args()
    import numba
    import torch

    random.seed(0)
    before = os.getloadavg()[0]
    cells = run(*((5, 10) if args.quick else (21, 20)))
    versions = (f"Python {platform.python_version()}, NumPy {np.__version__}, numba "
                f"{numba.__version__}, torch {torch.__version__}")
    text = report(cells, (before, os.getloadavg()[0]), versions)
    print(text)
    if args.write:
        from _report import write_section  # bench/_report.py

        write_section(Path(__file__).resolve().parent.parent / "BENCHMARKS.md",
                      "Layer kinds: a 1-D convolution", text)


if __name__ == "__main__":
    main()
