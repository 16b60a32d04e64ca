"""Training benchmark of layer kinds: the convolutional digit classifier against PyTorch.

examples/digits-conv.toml's run: each 8x8 digit as one signal of 64 positions, conv1d of 8
kernels of 5 (valid, ReLU), average pooling by 2, a dense softmax output of 10 with
cross-entropy; Adam (η = 0.01), batch 32, a quarter held out. symbp trains with the kinds'
generated grad followed by the optimiser's update (no fused step for layer kinds). PyTorch
trains the same network (F.conv1d, F.avg_pool1d, F.linear, F.cross_entropy, torch.optim.Adam)
from the same initial weights, in the same order of samples every epoch, and measures the
same things after every epoch (mean cost and accuracy on both parts). Each stops at the end
of the epoch that reaches 95% held-out accuracy. Before timing, the two runs are checked to
agree: the same held-out accuracy after every epoch up to that one, and parameters equal to
1e-9 after the first epoch.

One process, float64, one thread (BLAS, torch, numba), interleaved rounds in a fresh random
order; a figure is the minimum over the rounds.
Run: python bench/train_conv.py [--write] [--quick]
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_name] = "1"  # before NumPy, torch and numba start their thread pools

import argparse  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from _report import cpu  # noqa: E402  (bench/_report.py)
from train import best_runs, digits_plan, symbp_to_target  # noqa: E402  (bench/train.py)

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "digits-conv.toml"
TARGET = 0.95
COLUMNS = ("| run | epochs to 95% | held-out accuracy then | training loop ms | "
           "PyTorch / this (loop) | whole call ms |\n|---|---:|---:|---:|---:|---:|")


def plan(backend: str, epochs: int | None = None):
    return digits_plan(backend, epochs, EXAMPLE)


def symbp_run(backend: str, epochs: int) -> dict:
    """symbp's run to ``epochs`` (bench/train.py's, on this example)."""
    return symbp_to_target(backend, epochs, EXAMPLE)


def torch_run(epochs: int) -> dict:
    """The same run in PyTorch: same initial weights, optimiser, batches and measurements."""
    setup = time.perf_counter()
    p = plan("numpy", epochs)
    state = p.start()  # the seed's initial weights, and the generator that shuffles
    s, (conv, dense) = p.settings, state.params.layers
    pool = dict(p.network.layers[0].options)["pool_size"]
    params = [torch.tensor(a, requires_grad=True) for a in
              (conv["W"], conv["b"], dense["W"], dense["b"])]
    K, c, W, b = params
    optimizer = torch.optim.Adam(params, lr=s.learning_rate, betas=(s.beta1, s.beta2),
                                 eps=s.eps)
    parts = [(torch.from_numpy(q.x), torch.from_numpy(q.y), torch.from_numpy(q.labels))
             for q in (p.train, p.heldout)]
    x_train, y_train, _ = parts[0]

    def logits(x):
        a1 = F.avg_pool1d(torch.relu(F.conv1d(x, K, c)), pool)
        return F.linear(a1.flatten(1), W, b)  # channel by channel, as symbp's a_1

    def evaluate():
        with torch.no_grad():
            found = []
            for x, y, labels in parts:
                z = logits(x)
                found += [float(F.cross_entropy(z, y)),
                          float((z.argmax(dim=1) == labels).double().mean())]
            return found

    started = time.perf_counter()
    history = [evaluate()[3]]
    n = len(p.train)
    for _ in range(epochs):
        order = torch.from_numpy(state.rng.permutation(n))
        xs, ys = x_train[order], y_train[order]
        for start in range(0, n, s.batch):
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(logits(xs[start:start + s.batch]), ys[start:start + s.batch])
            loss.backward()
            optimizer.step()
        history.append(evaluate()[3])
    end = time.perf_counter()
    reached = next((e for e, a in enumerate(history) if a >= TARGET), None)
    return {"loop": end - started, "whole": end - setup, "epoch": reached,
            "accuracy": history[-1], "history": history,
            "params": [a.detach().numpy() for a in params]}


def check(epochs: int) -> None:
    """symbp (both backends) and PyTorch agree: parameters after one epoch, and the held-out
    accuracy after every epoch up to the target's."""
    mine = {b: symbp_run(b, 1)["params"] for b in ("numba", "numpy")}
    theirs = torch_run(1)["params"]
    for backend, params in mine.items():
        ours = [params.layers[0]["W"], params.layers[0]["b"], params.layers[1]["W"],
                params.layers[1]["b"]]
        worst = max(float(np.abs(a - t).max()) for a, t in zip(ours, theirs))
        assert worst < 1e-9, f"symbp ({backend}) and PyTorch differ by {worst} after 1 epoch"
    histories = [symbp_run(b, epochs)["history"] for b in ("numba", "numpy")]
    histories.append(torch_run(epochs)["history"])
    assert histories[0] == histories[1] == histories[2], histories


def measure(rounds: int) -> tuple[int, dict]:
    epochs = symbp_run("numba", 30)["epoch"]
    assert epochs is not None, "symbp never reached the target"
    check(epochs)
    entries = {"symbp (numba)": lambda: symbp_run("numba", epochs),
               "symbp (NumPy)": lambda: symbp_run("numpy", epochs),
               "PyTorch": lambda: torch_run(epochs)}
    best = best_runs(entries, rounds)
    return epochs, best


def report(epochs: int, best: dict, load: tuple[float, float]) -> str:
    torch_loop = best["PyTorch"]["loop"]
    rows = "\n".join(
        f"| {name} | {b['epoch']} | {100 * b['accuracy']:.2f}% | {b['loop'] * 1e3:.1f} | "
        f"{torch_loop / b['loop']:.2f}× | {b['whole'] * 1e3:.0f} |" for name, b in best.items())
    return f"""Time to 95% held-out accuracy on scikit-learn's digits with a 1-D convolution \
(`examples/digits-conv.toml`: each image one signal of 64 positions, conv1d of 8 kernels of 5, \
valid, ReLU, average pooling by 2, a dense softmax output of 10 with cross-entropy; Adam \
η = 0.01, batch 32, a quarter held out):

{COLUMNS}
{rows}

symbp trains layer kinds with the generated `grad(x, y, params, out=...)` written into a flat \
gradient, divided by the batch size, then the optimiser's update (no fused step for layer \
kinds); PyTorch is `F.conv1d`, `F.avg_pool1d`, `F.linear`, `F.cross_entropy` and \
`torch.optim.Adam`, from the same initial weights (He, from the seed) in the same order of \
samples. Before timing, both symbp backends and PyTorch were checked to agree to 1e-9 in every \
parameter after one epoch and to reach the same held-out accuracy after each of the {epochs} \
epochs. The loop runs from the first measurement (epoch 0) to the end of epoch {epochs}, \
measuring cost and accuracy of both parts after every epoch on each side; the whole call adds \
building the network and loading the generated (for numba, cached compiled) module, or making \
the tensors and the optimiser.
Each figure is the minimum over interleaved rounds in one process, one thread everywhere. \
Machine: {cpu()}, {os.cpu_count()} cores, load average {load[0]:.2f} before and \
{load[1]:.2f} after (a shared machine); Python {platform.python_version()}, NumPy \
{np.__version__}, numba {numba.__version__}, torch {torch.__version__}.
Rerun: `python bench/train_conv.py --write` (`--quick` for fewer rounds)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args()
    before = os.getloadavg()[0]
    epochs, best = measure(3 if args.quick else 9)
    text = report(epochs, best, (before, os.getloadavg()[0]))
    print(text)
    if args.write:
        from _report import write_section  # bench/_report.py

        write_section(ROOT / "BENCHMARKS.md", "Training layer kinds: a convolutional digit "
                      "classifier", text)


if __name__ == "__main__":
    main()
