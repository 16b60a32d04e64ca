"""Layer kinds benchmark: symbp's generated numba kernel of a residual network against PyTorch.

Target (issue 18): for a residual network of [16]*6 (16 inputs, six residual blocks of width
16, a dense output), the numba kernel within 1.5× of a PyTorch residual block model at
batch 1,000 and faster than it at batch 1. The torch model is nn.Linear layers and the skip
(a = tanh(W x + b) + x), its gradient by autograd; symbp's is ``symbp.lambdify(d,
backend="numba")`` (and NumPy, for scale). Every competitor is first checked against the
torch gradient to 1e-10 (float64). All run in this one process with BLAS and torch pinned
to one thread, in shuffled rounds; a figure is the minimum time per call over the rounds.
Run: python bench/kinds.py [--write] [--quick]
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
from symbp.core.layers import Layer  # noqa: E402

WIDTH, BLOCKS, OUTPUTS = 16, 6, 16
BATCHES = (1, 1000)


def network() -> symbp.Network:
    return symbp.Network(layers=[Layer("residual", activation="tanh")] * BLOCKS
                         + [Layer("dense", units=OUTPUTS, activation="sigmoid")],
                         inputs=WIDTH, cost="mse")


def torch_model(torch):
    """The same network from PyTorch's own modules: nn.Linear, tanh and the skip."""
    nn = torch.nn

    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(WIDTH, WIDTH)

        def forward(self, x):
            return torch.tanh(self.linear(x)) + x

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.Sequential(*[Residual() for _ in range(BLOCKS)])
            self.out = nn.Linear(WIDTH, OUTPUTS)

        def forward(self, x):
            return torch.sigmoid(self.out(self.blocks(x)))

    return Model().double()


def parameters_of(model) -> list[dict]:
    """The torch model's weights as symbp's params: one dict per layer."""
    layers = [block.linear for block in model.blocks] + [model.out]
    return [{"W": m.weight.detach().numpy().copy(), "b": m.bias.detach().numpy().copy()}
            for m in layers]


def against_torch(d, model, params, x_shape: tuple[int, ...], outputs: int, rounds: int,
                  number: int) -> list[dict]:
    """symbp's NumPy module and numba kernel of ``d`` against torch autograd on ``model``
    (the same weights, ``params``), each checked to 1e-10 first, at every batch size."""
    import torch

    rng = np.random.default_rng(0)
    numpy_f = symbp.lambdify(d)
    with tempfile.TemporaryDirectory() as cache:  # an empty cache: the compile is timed
        os.environ["SYMBP_CACHE_DIR"] = cache
        start = time.perf_counter()
        numba_f = symbp.lambdify(d, "numba")
        numba_f.grad(np.zeros((2, *x_shape)), np.zeros((2, outputs)), params)
        compile_seconds = time.perf_counter() - start
    weights = list(model.parameters())
    cells = []
    for batch in BATCHES:
        x, y = rng.normal(size=(batch, *x_shape)), rng.uniform(size=(batch, outputs))
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


def run(rounds: int, number: int) -> list[dict]:
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = torch_model(torch)
    return against_torch(symbp.derive(network()), model, parameters_of(model), (WIDTH,),
                         OUTPUTS, rounds, number)


def ratio_table(cells: list[dict]) -> tuple[list[str], list[str]]:
    """The table of times per batch with numba / torch, and a verdict per target."""
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
    return lines, verdicts


def closing(cells: list[dict], load: tuple, versions: str, script: str) -> list[str]:
    """How the figures were taken, the machine, and how to rerun."""
    return ["Every competitor was checked against torch's gradient to 1e-10 before timing; "
            "each figure is the minimum time per call over shuffled rounds in one process, "
            "one thread everywhere (BLAS, numba, `torch.set_num_threads(1)`); the numba "
            f"kernel's one-time compile (an empty cache, the first call included: "
            f"{cells[0]['compile']:.1f} s) is not in the figures.",
            f"Machine: {cpu()}, {os.cpu_count()} cores, load average {load[0]:.2f} before "
            f"and {load[1]:.2f} after (a shared machine: other jobs ran during the run); "
            f"{versions}.", f"Rerun: `python bench/{script} --write` (`--quick` for fewer "
            "rounds)."]


def report(cells: list[dict], load: tuple, versions: str) -> str:
    lines, verdicts = ratio_table(cells)
    lines += ["", f"A residual network of [{WIDTH}]*{BLOCKS}: {WIDTH} inputs, {BLOCKS} residual "
              f"blocks a = tanh(W x + b) + x, a dense sigmoid output of {OUTPUTS}, MSE summed "
              "over the batch; float64. The gradient of every parameter per call: symbp's "
              "generated `grad(x, y, params)` (NumPy module, numba kernel) and torch autograd "
              "on nn.Linear blocks with the skip (`torch.autograd.grad`).", "",
              "Targets, as ratios of this run:", "", *verdicts, "",
              *closing(cells, load, versions, "kinds.py")]
    return "\n".join(lines)


def main() -> None:
    main_with(run, report, "Layer kinds: a residual network", (31, 50), (5, 20), __doc__)


if __name__ == "__main__":
    main()
