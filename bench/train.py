"""Training benchmark: symbp against PyTorch on digits, and one training step against two baselines.

1. Time to 95% held-out accuracy on scikit-learn's digits, examples/digits.toml's run:
   [64, 32, 10], tanh and softmax with cross-entropy, Adam (η = 0.01), batch 32, a quarter
   held out. PyTorch trains the same network from the same initial weights, with the same
   optimiser and the same order of samples in every epoch, and measures the same things after
   every epoch (mean cost and accuracy on both parts). Both stop at the epoch that reaches 95%.
2. One training step of [64, 32, 10] (tanh, softmax_ce, plain SGD) at batch 1 and 32: symbp's
   fused step (the numba module's make_step: forward, backward and update in one generated
   kernel, writing into buffers made once), against a hand-written fused numba kernel (the
   same, written by hand) and the same step in PyTorch (autograd, torch.optim.SGD); and, for
   reference, symbp's unfused step (the generated gradient, then the optimiser's update of
   the flat parameters), which the NumPy backend runs.

Everything runs in this one process, float64, one thread (BLAS, torch, numba), in interleaved
rounds in a fresh random order; a figure is the minimum over the rounds. Every competitor is
first checked against a hand-written NumPy step to 1e-12.
Run: python bench/train.py [--write] [--quick]
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_name] = "1"  # before NumPy, torch and numba start their thread pools

import argparse  # noqa: E402
import gc  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import time  # noqa: E402
import timeit  # noqa: E402
from pathlib import Path  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from _report import cpu  # noqa: E402  # bench/_report.py

import symbp  # noqa: E402
from symbp.cli import config  # noqa: E402
from symbp.train import GradientStep, make_plan, run  # noqa: E402
from symbp.train.optimizers import Optimizer  # noqa: E402
from symbp.train.parameters import Parameters  # noqa: E402

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "digits.toml"
TARGET = 0.95
WIDTHS = (64, 32, 10)
STEP_LR = 1e-3  # small: thousands of timed steps on one batch stay far from diverging


# ---------------------------------------------------------------- 1. time to 95% on digits


def digits_plan(backend: str, epochs: int | None = None, example: Path = EXAMPLE):
    job = config.load(example)
    settings = {k: v for k, v in job.train.items() if k != "data"}
    return make_plan(job.net, "digits", **{**settings, "backend": backend, "epochs": epochs})


def symbp_to_target(backend: str, epochs: int, example: Path = EXAMPLE) -> dict:
    """symbp's run to ``epochs``: the loop's time (Training.seconds) and the whole call,
    with the held-out accuracies and the parameters it ended with."""
    started = time.perf_counter()
    result = run(digits_plan(backend, epochs, example))
    whole = time.perf_counter() - started
    return {"loop": result.seconds, "whole": whole, "epoch": result.epochs_to(TARGET),
            "accuracy": result.final.heldout_accuracy,
            "history": [r.heldout_accuracy for r in result.history], "params": result.params}


def symbp_epochs(backend: str) -> int:
    result = run(digits_plan(backend))
    reached = result.epochs_to(TARGET)
    assert reached is not None, "symbp never reached the target"
    return reached


def torch_to_target(max_epochs: int) -> dict:
    """The same run in PyTorch: same initial weights, optimiser, batches and measurements."""
    setup = time.perf_counter()
    plan = digits_plan("numpy")
    state = plan.start()  # the seed's initial weights, and the generator that shuffles
    s = plan.settings
    params = [torch.tensor(a, requires_grad=True) for a in (
        state.params.weights[0], state.params.biases[0], state.params.weights[1],
        state.params.biases[1])]
    W1, b1, W2, b2 = params
    optimizer = torch.optim.Adam(params, lr=s.learning_rate, betas=(s.beta1, s.beta2),
                                 eps=s.eps)
    parts = [(torch.from_numpy(p.x), torch.from_numpy(p.y), torch.from_numpy(p.labels))
             for p in (plan.train, plan.heldout)]
    x_train, y_train, _ = parts[0]

    def logits(x):
        return torch.nn.functional.linear(torch.tanh(torch.nn.functional.linear(x, W1, b1)),
                                          W2, b2)

    def evaluate():
        with torch.no_grad():
            found = []
            for x, y, labels in parts:
                z = logits(x)
                found += [float(torch.nn.functional.cross_entropy(z, y)),
                          float((z.argmax(dim=1) == labels).double().mean())]
            return found

    started = time.perf_counter()
    evaluate()
    n = len(plan.train)
    for epoch in range(1, max_epochs + 1):
        order = torch.from_numpy(state.rng.permutation(n))
        xs, ys = x_train[order], y_train[order]
        for start in range(0, n, s.batch):
            optimizer.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(logits(xs[start:start + s.batch]),
                                                     ys[start:start + s.batch])
            loss.backward()
            optimizer.step()
        accuracy = evaluate()[3]
        if accuracy >= TARGET:
            end = time.perf_counter()
            return {"loop": end - started, "whole": end - setup, "epoch": epoch,
                    "accuracy": accuracy}
    raise AssertionError("PyTorch never reached the target")


def time_to_target(rounds: int) -> dict:
    epochs = {b: symbp_epochs(b) for b in ("numba", "numpy")}
    entries = {"symbp (numba)": lambda: symbp_to_target("numba", epochs["numba"]),
               "symbp (NumPy)": lambda: symbp_to_target("numpy", epochs["numpy"]),
               "PyTorch": lambda: torch_to_target(max(epochs.values()) + 20)}
    return best_runs(entries, rounds)


def best_runs(entries: dict, rounds: int) -> dict:
    """Each run (a call returning loop and whole seconds, its epoch and accuracy) warmed up,
    then timed in interleaved rounds; the minimum times per run."""
    for fn in entries.values():
        fn()  # warm up: numba's cache, torch's kernels
    found: dict[str, list[dict]] = {name: [] for name in entries}
    order = list(entries)
    for _ in range(rounds):
        random.shuffle(order)
        for name in order:
            gc.collect()
            found[name].append(entries[name]())
    best = {}
    for name, runs in found.items():
        best[name] = {"loop": min(r["loop"] for r in runs), "whole": min(r["whole"] for r in runs),
                      "epoch": runs[0]["epoch"], "accuracy": runs[0]["accuracy"]}
        print(f"{name}: epoch {best[name]['epoch']}, loop {best[name]['loop'] * 1e3:.1f} ms, "
              f"whole {best[name]['whole'] * 1e3:.1f} ms", flush=True)
    return best


# ---------------------------------------------------------------- 2. one training step


def hand_numpy_step(x, y, W1, b1, W2, b2, lr):
    """The oracle: one SGD step on the mean cost, written out in NumPy."""
    a1 = np.tanh(x @ W1.T + b1)
    z2 = a1 @ W2.T + b2
    e = np.exp(z2 - z2.max(axis=1, keepdims=True))
    a2 = e / e.sum(axis=1, keepdims=True)
    d2 = a2 * y.sum(axis=1, keepdims=True) - y
    d1 = (d2 @ W2) * (1.0 - a1**2)
    scale = lr / len(x)
    return (W1 - scale * (d1.T @ x), b1 - scale * d1.sum(axis=0),
            W2 - scale * (d2.T @ a1), b2 - scale * d2.sum(axis=0))


@numba.njit(cache=True, error_model="numpy")
def _softmax_delta(d2, y, b2):  # pragma: no cover - compiled
    """Row by row: d2 holds W_2 a_1 on entry, δ_2 = softmax(z_2) Σy − y on return."""
    for i in range(d2.shape[0]):
        top = -np.inf
        for j in range(d2.shape[1]):
            d2[i, j] += b2[j]
            top = max(top, d2[i, j])
        total = 0.0
        targets = 0.0
        for j in range(d2.shape[1]):
            d2[i, j] = np.exp(d2[i, j] - top)
            total += d2[i, j]
            targets += y[i, j]
        for j in range(d2.shape[1]):
            d2[i, j] = d2[i, j] / total * targets - y[i, j]


@numba.njit(cache=True, error_model="numpy")
def fused_loops(x, y, W1, b1, W2, b2, a1, d2, d1, lr):  # pragma: no cover - compiled
    """Forward, backward and SGD update of [n0, n1, n2] tanh / softmax_ce in one kernel, in
    place, as loops whose inner index runs along rows; a1, d2, d1: (batch, n) buffers."""
    batch, n0 = x.shape
    n1, n2 = W1.shape[0], W2.shape[0]
    for i in range(batch):
        for j in range(n1):
            s = b1[j]
            for k in range(n0):
                s += W1[j, k] * x[i, k]
            a1[i, j] = np.tanh(s)
        for j in range(n2):
            s = 0.0
            for k in range(n1):
                s += W2[j, k] * a1[i, k]
            d2[i, j] = s
    _softmax_delta(d2, y, b2)
    for i in range(batch):
        for k in range(n1):
            d1[i, k] = 0.0
        for j in range(n2):
            for k in range(n1):
                d1[i, k] += d2[i, j] * W2[j, k]
        for k in range(n1):
            d1[i, k] *= 1.0 - a1[i, k] * a1[i, k]
    scale = lr / batch
    for i in range(batch):
        for j in range(n2):
            c = scale * d2[i, j]
            b2[j] -= c
            for k in range(n1):
                W2[j, k] -= c * a1[i, k]
        for j in range(n1):
            c = scale * d1[i, j]
            b1[j] -= c
            for k in range(n0):
                W1[j, k] -= c * x[i, k]


@numba.njit(cache=True, error_model="numpy")
def fused_blas(x, y, W1, b1, W2, b2, a1, d2, d1, gW1, gW2, lr):  # pragma: no cover
    """The same step with the products as BLAS calls into preallocated buffers."""
    batch = x.shape[0]
    np.dot(x, W1.T, a1)
    for i in range(batch):
        for j in range(a1.shape[1]):
            a1[i, j] = np.tanh(a1[i, j] + b1[j])
    np.dot(a1, W2.T, d2)
    _softmax_delta(d2, y, b2)
    np.dot(d2, W2, d1)
    for i in range(batch):
        for j in range(d1.shape[1]):
            d1[i, j] *= 1.0 - a1[i, j] * a1[i, j]
    np.dot(d2.T, a1, gW2)
    np.dot(d1.T, x, gW1)
    scale = lr / batch
    for W, b, g, d in ((W2, b2, gW2, d2), (W1, b1, gW1, d1)):
        for j in range(W.shape[0]):
            column = 0.0
            for i in range(batch):
                column += d[i, j]
            b[j] -= scale * column
            for k in range(W.shape[1]):
                W[j, k] -= scale * g[j, k]


def steps(batch: int, rng: np.random.Generator) -> dict:
    """name -> (one step, the parameters it updates as W1, b1, W2, b2 NumPy arrays)."""
    x = rng.uniform(size=(batch, WIDTHS[0]))
    y = np.eye(WIDTHS[-1])[rng.integers(0, WIDTHS[-1], size=batch)]
    net = symbp.Network(list(WIDTHS), activation="tanh", cost="softmax_ce")
    start = Parameters.of(net)
    start.flat[:] = rng.normal(scale=0.3, size=start.flat.size)
    found = {}
    d = symbp.derive(net)
    fused_params = start.copy()
    fused = symbp.lambdify(d, "numba").make_step("sgd", STEP_LR, batch=batch)
    found["symbp fused"] = (lambda: fused(x, y, fused_params.flat, {}, 1), [
        fused_params.weights[0], fused_params.biases[0], fused_params.weights[1],
        fused_params.biases[1]])
    for backend in ("numba", "numpy"):
        params = start.copy()
        optimizer = Optimizer("sgd", STEP_LR)
        state = optimizer.new_state(params.flat.size)
        step = GradientStep(symbp.lambdify(d, backend), optimizer, params.flat.size)
        found[f"symbp unfused ({backend})"] = (
            lambda step=step, params=params, state=state: step(x, y, params, state),
            [params.weights[0], params.biases[0], params.weights[1], params.biases[1]])
    buffers = [np.empty((batch, n)) for n in (WIDTHS[1], WIDTHS[2], WIDTHS[1])]
    gradients = [np.empty((WIDTHS[1], WIDTHS[0])), np.empty((WIDTHS[2], WIDTHS[1]))]
    for name, kernel, extra in (("hand fused numba, loops", fused_loops, []),
                                ("hand fused numba, BLAS", fused_blas, gradients)):
        hand = start.copy()
        args = (x, y, hand.weights[0], hand.biases[0], hand.weights[1], hand.biases[1],
                *buffers, *extra, STEP_LR)
        found[name] = (lambda kernel=kernel, args=args: kernel(*args),
                       [hand.weights[0], hand.biases[0], hand.weights[1], hand.biases[1]])
    tensors = [torch.tensor(a, requires_grad=True) for a in (
        start.weights[0], start.biases[0], start.weights[1], start.biases[1])]
    sgd = torch.optim.SGD(tensors, lr=STEP_LR)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def torch_step():
        sgd.zero_grad(set_to_none=True)
        hidden = torch.tanh(torch.nn.functional.linear(xt, tensors[0], tensors[1]))
        logits = torch.nn.functional.linear(hidden, tensors[2], tensors[3])
        torch.nn.functional.cross_entropy(logits, yt).backward()
        sgd.step()

    found["PyTorch"] = (torch_step, [t.detach().numpy() for t in tensors])
    want = hand_numpy_step(x, y, start.weights[0], start.biases[0], start.weights[1],
                           start.biases[1], STEP_LR)
    for name, (fn, arrays) in found.items():
        fn()
        for got, expected, what in zip(arrays, want, ("W1", "b1", "W2", "b2")):
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14,
                                       err_msg=f"{name}: {what} after one step")
    return {name: fn for name, (fn, _) in found.items()}


def time_steps(rounds: int, sample: float) -> dict:
    rng = np.random.default_rng(0)
    cells = {}
    for batch in (1, 32):
        entries = steps(batch, rng)
        numbers = {}
        for name, fn in entries.items():
            for _ in range(200):
                fn()
            call = timeit.timeit(fn, number=200) / 200
            numbers[name] = max(1, int(sample / call))
        times: dict[str, list[float]] = {name: [] for name in entries}
        order = list(entries)
        for _ in range(rounds):
            random.shuffle(order)
            for name in order:
                times[name].append(timeit.timeit(entries[name], number=numbers[name])
                                   / numbers[name])
        cells[batch] = {name: min(t) for name, t in times.items()}
        fastest = min(("loops", "BLAS"), key=lambda k: cells[batch][f"hand fused numba, {k}"])
        cells[batch]["hand fused numba"] = cells[batch][f"hand fused numba, {fastest}"]
        cells[batch]["hand kernel"] = fastest
        print(f"batch {batch}: " + ", ".join(f"{n} {t * 1e6:.2f} µs" for n, t in
                                            times.items() for t in [min(t)]), flush=True)
    return cells


# ---------------------------------------------------------------- reporting


def report(target: dict, cells: dict, rounds: tuple[int, int], load: tuple) -> str:
    torch_run = target["PyTorch"]
    lines = ["Time to 95% held-out accuracy on scikit-learn's digits ([64, 32, 10], tanh, "
             "softmax with cross-entropy, Adam η = 0.01, batch 32, a quarter held out; "
             "`examples/digits.toml`):", "",
             "| run | epochs to 95% | held-out accuracy then | training loop ms | "
             "PyTorch / this (loop) | whole call ms |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, r in target.items():
        lines.append(f"| {name} | {r['epoch']} | {100 * r['accuracy']:.2f}% | "
                     f"{r['loop'] * 1e3:,.1f} | {torch_run['loop'] / r['loop']:.2f}× | "
                     f"{r['whole'] * 1e3:,.0f} |")
    lines += ["", "The training loop runs from the first measurement (epoch 0) to the end of "
              "the epoch that reaches 95%, with the cost and the accuracy of both parts "
              "measured after every epoch, on both sides; symbp (numba) trains with the fused "
              "step, symbp (NumPy) with the generated gradient and then the update. The whole "
              "call adds what comes "
              "before: for symbp, building the network's symbols and loading the generated "
              "(and, for numba, cached compiled) module; for PyTorch, making the tensors and "
              "the optimiser.", "",
              "One training step of [64, 32, 10] (tanh, softmax with cross-entropy, SGD), "
              "float64:", "",
              "| batch | symbp fused µs | hand fused numba, loops µs | hand fused numba, BLAS "
              "µs | PyTorch µs | symbp fused / faster hand fused | PyTorch / symbp fused | "
              "symbp unfused (numba) µs | symbp unfused (NumPy) µs |",
              "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for batch, best in cells.items():
        fused = best["symbp fused"]
        lines.append(f"| {batch} | {fused * 1e6:.2f} | {best['hand fused numba, loops'] * 1e6:.2f} "
                     f"| {best['hand fused numba, BLAS'] * 1e6:.2f} | {best['PyTorch'] * 1e6:.2f} "
                     f"| {fused / best['hand fused numba']:.2f}× | {best['PyTorch'] / fused:.2f}× "
                     f"| {best['symbp unfused (numba)'] * 1e6:.2f} "
                     f"| {best['symbp unfused (numpy)'] * 1e6:.2f} |")
    targets = {1: 5.0, 32: 1.5}
    lines += ["", "Targets: within 1.2× of the faster hand-written fused numba step, and at "
              "least 5× (batch 1) and 1.5× (batch 32) faster than PyTorch. This run: "
              + "; ".join(_verdict(b, c, targets[b]) for b, c in cells.items()) + ".", "",
              "symbp fused is `symbp.lambdify(d, backend=\"numba\").make_step(\"sgd\", η, "
              "batch=B)` called as `step(x, y, theta, buffers, t)`: one compiled call that "
              "runs the gradient's program (the same statements as `grad`) into buffers made "
              "once, divides by the batch size and updates the flat parameters in place, "
              "allocating no array; `symbp train` runs it with the numba backend. The hand "
              "fused kernels are one `numba.njit` function each, forward, backward and update "
              "writing into buffers they are given: one all loops (inner loops along rows), "
              "one with the four products as BLAS calls (`np.dot` into a buffer); PyTorch is "
              "autograd and `torch.optim.SGD`. symbp unfused is the generated gradient of the "
              "cost summed over the batch, copied into one flat vector and divided by the "
              "batch size, then the optimiser's update (`symbp train` with the NumPy "
              "backend). Each was checked after one step against a hand-written NumPy step "
              "to 1e-12.",
              f"Each figure is the minimum over {rounds[0]} interleaved rounds (time to 95%) "
              f"and {rounds[1]} (steps), in one process, one thread everywhere. Machine: "
              f"{cpu()}, {os.cpu_count()} cores, load average {load[0]:.2f} "
              f"before and {load[1]:.2f} after; Python {platform.python_version()}, NumPy "
              f"{np.__version__}, numba {numba.__version__}, torch {torch.__version__}.",
              "Rerun: `python bench/train.py --write` (`--quick` for fewer rounds)."]
    return "\n".join(lines)


def _verdict(batch: int, cell: dict, target: float) -> str:
    fused, hand, torch_step = cell["symbp fused"], cell["hand fused numba"], cell["PyTorch"]
    met = [fused / hand <= 1.2, torch_step / fused >= target]
    return (f"batch {batch}: {fused / hand:.2f}× the hand fused step ({cell['hand kernel']}; "
            f"{'met' if met[0] else 'MISSED'}), {torch_step / fused:.2f}× faster than "
            f"PyTorch (target {target:g}×; {'met' if met[1] else 'MISSED'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    args = parser.parse_args()
    rounds = (3, 5) if args.quick else (9, 61)
    random.seed(0)
    before = os.getloadavg()[0]
    target = time_to_target(rounds[0])
    cells = time_steps(rounds[1], 0.002 if args.quick else 0.005)
    text = report(target, cells, rounds, (before, os.getloadavg()[0]))
    print(text)
    if args.write:
        from _report import write_section  # bench/_report.py

        write_section(ROOT / "BENCHMARKS.md", "Training", text)


if __name__ == "__main__":
    main()
