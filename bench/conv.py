"""Convolution benchmark: symbp's generated numba kernel of a conv1d network against PyTorch.

Target (issue 18): for a convolution of 8 channels, kernel 3, on signals of length 32, the
numba kernel within 1.5× of PyTorch's own layer at batch 1,000 and faster than it at batch
1. The network: 8 input channels of 32 positions, two conv1d layers of 8 channels, kernel 3,
"same" padding and ReLU, the second average-pooled over windows of 2, and a dense sigmoid
output of 4; MSE. The torch model is nn.Conv1d, nn.AvgPool1d and nn.Linear, its gradient by
autograd; symbp's is ``symbp.lambdify(d, backend="numba")`` (and NumPy, for scale). Every
competitor is first checked against the torch gradient to 1e-10 (float64). All run in this
one process with BLAS and torch pinned to one thread, in shuffled rounds; a figure is the
minimum time per call over the rounds (bench/kinds.py does the measuring).
Run: python bench/conv.py [--write] [--quick]
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_name] = "1"  # before NumPy, torch and numba start their thread pools


from _report import main_with  # noqa: E402  (bench/_report.py)
from kinds import against_torch, closing, ratio_table  # noqa: E402

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
    model = torch_model(torch)
    return against_torch(symbp.derive(network()), model, parameters_of(model),
                         (CHANNELS, LENGTH), OUTPUTS, rounds, number)


def report(cells: list[dict], load: tuple, versions: str) -> str:
    lines, verdicts = ratio_table(cells)
    lines += ["", f"A conv1d network on {CHANNELS} channels of {LENGTH} positions: two conv1d "
              f"layers of {CHANNELS} channels, kernel {KERNEL}, \"same\" padding, ReLU, the "
              f"second average-pooled by {POOL}, then a dense sigmoid output of {OUTPUTS}; MSE "
              "summed over the batch; float64. The gradient of every parameter per call: "
              "symbp's generated `grad(x, y, params)` (NumPy module, numba kernel, both printed "
              "from the kind's index formulas) and torch autograd on nn.Conv1d, nn.AvgPool1d "
              "and nn.Linear (`torch.autograd.grad`).", "",
              "Targets, as ratios of this run:", "", *verdicts, "",
              *closing(cells, load, versions, "conv.py")]
    return "\n".join(lines)


def main() -> None:
    main_with(run, report, "Layer kinds: a 1-D convolution", (21, 20), (5, 10), __doc__)


if __name__ == "__main__":
    main()
