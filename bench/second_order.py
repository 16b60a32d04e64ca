"""Second-order benchmark: symbp's generated hvp against its own gradient and PyTorch.

Targets (issue 20): H·v for [64, 64, 64, 10] (sigmoid, MSE) at batch 100 within 2× of the
first-order gradient's time (each backend against its own gradient), and faster than
PyTorch's double-backward H·v at batch 1. Every competitor is first checked against
PyTorch's ``torch.autograd.functional.hvp`` to 1e-9 (float64). All run in this one process
with BLAS and torch pinned to one thread, in shuffled rounds; a figure is the minimum time
per call over the rounds. Also timed, for scale: the whole Hessian of a small network
against ``torch.autograd.functional.hessian``, and hvp against grad for a network of layer
kinds (the attention example), checked first against PyTorch's hvp of its composed cost.
Run: python bench/second_order.py [--write] [--quick]
"""

from __future__ import annotations

import os
from pathlib import Path

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_name] = "1"  # before NumPy, torch and numba start their thread pools


import numpy as np  # noqa: E402
from _report import cpu, main_with, timed  # noqa: E402  (bench/_report.py)

import symbp  # noqa: E402

WIDTHS = [64, 64, 64, 10]
KINDS = "attention"  # examples/attention.toml: attention (causal), then a dense output
SMALL = [8, 8, 8, 4]  # the whole Hessian: 148 parameters
BATCHES = (1, 100)


def torch_functions(torch, widths):
    """Cost, gradient and double-backward H·v of the sigmoid/MSE network, in float64."""
    L = len(widths) - 1

    def cost(x, y, params):
        a = x
        for W, b in zip(params[:L], params[L:]):
            a = torch.sigmoid(a @ W.T + b)
        return 0.5 * ((a - y) ** 2).sum()

    def grad(x, y, params):
        return torch.autograd.grad(cost(x, y, params), params)

    def hvp(x, y, params, v):  # double backward: the gradient's graph, differentiated along v
        g = torch.autograd.grad(cost(x, y, params), params, create_graph=True)
        return torch.autograd.grad(sum((gi * vi).sum() for gi, vi in zip(g, v)), params)

    return cost, grad, hvp


def flat(parts) -> np.ndarray:
    return np.concatenate([np.asarray(p.detach() if hasattr(p, "detach") else p).ravel()
                           for p in parts])


def point(rng, widths, batch):
    L = len(widths) - 1
    weights = [rng.normal(size=(widths[l], widths[l - 1])) / np.sqrt(widths[l - 1])
               for l in range(1, L + 1)]
    biases = [rng.normal(size=widths[l]) * 0.1 for l in range(1, L + 1)]
    v = {"W": [rng.normal(size=W.shape) for W in weights],
         "b": [rng.normal(size=b.shape) for b in biases]}
    x, y = rng.normal(size=(batch, widths[0])), rng.uniform(size=(batch, widths[-1]))
    return x, y, weights, biases, v


def run(rounds: int, number: int) -> tuple[list[dict], dict]:
    import torch

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    d = symbp.derive(symbp.Network(WIDTHS, activation="sigmoid", cost="mse"), order=2)
    numpy_f, numba_f = symbp.lambdify(d), symbp.lambdify(d, "numba")
    _, torch_grad, torch_hvp = torch_functions(torch, WIDTHS)
    cells = []
    for batch in BATCHES:
        x, y, weights, biases, v = point(rng, WIDTHS, batch)
        tx, ty = torch.tensor(x), torch.tensor(y)
        params = [torch.tensor(p, requires_grad=True) for p in (*weights, *biases)]
        tv = [torch.tensor(p) for p in (*v["W"], *v["b"])]
        want = flat(torch_hvp(tx, ty, params, tv))
        L = len(WIDTHS) - 1
        order = [k for l in range(L) for k in (("W", l), ("b", l))]
        for name, f in (("NumPy", numpy_f), ("numba", numba_f)):
            got = f.hvp(x, y, weights, biases, v)
            mine = flat([got[k][l] for k, l in order])
            theirs = np.concatenate([want[_slice(WIDTHS, k, l)] for k, l in order])
            np.testing.assert_allclose(mine, theirs, rtol=1e-9, atol=1e-9 * np.abs(theirs).max(),
                                       err_msg=f"symbp {name} hvp against torch")
        entries = {
            "symbp NumPy grad": lambda: numpy_f.grad(x, y, weights, biases),  # noqa: B023
            "symbp NumPy hvp": lambda: numpy_f.hvp(x, y, weights, biases, v),  # noqa: B023
            "symbp numba grad": lambda: numba_f.grad(x, y, weights, biases),  # noqa: B023
            "symbp numba hvp": lambda: numba_f.hvp(x, y, weights, biases, v),  # noqa: B023
            "torch grad": lambda: torch_grad(tx, ty, params),  # noqa: B023
            "torch double-backward hvp": lambda: torch_hvp(tx, ty, params, tv),  # noqa: B023
        }
        cells.append({"batch": batch, "best": timed(entries, rounds, number)})
        print(f"batch {batch}: " + ", ".join(f"{k} {t * 1e6:.1f} µs"
                                             for k, t in cells[-1]["best"].items()), flush=True)
    return cells, _hessian_cell(torch, rng, rounds), _kinds_cell(torch, rng, rounds, number)


def _slice(widths, kind, l):
    """Where torch's flat parameters (W_1..W_L, b_1..b_L) keep W_l or b_l."""
    L = len(widths) - 1
    sizes = [widths[m + 1] * widths[m] for m in range(L)] + [widths[m + 1] for m in range(L)]
    index = l if kind == "W" else L + l
    start = sum(sizes[:index])
    return slice(start, start + sizes[index])


def _hessian_cell(torch, rng, rounds: int) -> dict:
    d = symbp.derive(symbp.Network(SMALL, activation="sigmoid", cost="mse"), order=2)
    f = symbp.lambdify(d)
    x, y, weights, biases, _ = point(rng, SMALL, 10)
    L = len(SMALL) - 1
    cost, _, _ = torch_functions(torch, SMALL)
    shapes = [tuple(p.shape) for p in (*weights, *biases)]
    order = [i for l in range(L) for i in (l, L + l)]  # symbp: W_1, b_1, W_2, b_2, ...
    theta = torch.tensor(np.concatenate([(*weights, *biases)[i].ravel() for i in order]))
    tx, ty = torch.tensor(x), torch.tensor(y)

    def unflat(th):
        parts, at = [None] * (2 * L), 0
        for i in order:
            n = int(np.prod(shapes[i]))
            parts[i] = th[at:at + n].reshape(shapes[i])
            at += n
        return parts

    def torch_hessian():
        return torch.autograd.functional.hessian(lambda th: cost(tx, ty, unflat(th)), theta)

    H = f.hessian(x, y, weights, biases)
    want = torch_hessian().numpy()
    np.testing.assert_allclose(H, want, rtol=1e-9, atol=1e-9 * np.abs(want).max())
    best = timed({"symbp NumPy hessian": lambda: f.hessian(x, y, weights, biases),
                  "torch functional.hessian": torch_hessian}, max(3, rounds // 3), 3)
    return {"widths": SMALL, "batch": 10, "parameters": H.shape[0], "best": best}


def _kinds_cell(torch, rng, rounds: int, number: int) -> dict:
    """hvp against grad for the example of layer kinds at batch 100, NumPy and numba."""
    import sympy as sp

    from symbp.cli.config import load

    d = symbp.derive(load(Path(__file__).resolve().parent.parent / "examples" /
                          f"{KINDS}.toml").net, order=2)
    numpy_f, numba_f = symbp.lambdify(d), symbp.lambdify(d, "numba")
    layout = numpy_f.hessian.__globals__["LAYOUT"]
    x, y = rng.uniform(-1, 1, (100, *layout[0])), rng.uniform(size=(100, *layout[1]))
    params = [{k: rng.uniform(-0.8, 0.8, s) for k, s in layer.items()} for layer in layout[2]]
    v = [{k: rng.uniform(-1, 1, s) for k, s in layer.items()} for layer in layout[2]]
    one = sp.lambdify([d.parameters(), list(d.x), list(d.y)], symbp.explicit(d.composed_cost()),
                      modules=[{"sqrt": lambda t: torch.sqrt(torch.tensor(float(t)))}, "torch"])
    # checked on 3 samples, as the tests: torch's hvp of the composed cost (exp of the scores,
    # no max taken out) is itself 1e-9 to 1e-8 from central differences of grad, more than
    # symbp's, over 100 samples or with larger scores
    xt, yt = torch.tensor(x[:3].reshape(3, -1)), torch.tensor(y[:3].reshape(3, -1))

    def flat_params(ps):
        return np.concatenate([a.ravel() for layer in ps for a in layer.values()])

    _, want = torch.autograd.functional.hvp(
        lambda th: sum(one(list(th), list(xt[b]), list(yt[b])) for b in range(3)),
        torch.tensor(flat_params(params)), torch.tensor(flat_params(v)))
    for name, f in (("NumPy", numpy_f), ("numba", numba_f)):
        np.testing.assert_allclose(flat_params(f.hvp(x[:3], y[:3], params, v)), want.numpy(),
                                   rtol=1e-9,
                                   atol=1e-9 * np.abs(want.numpy()).max(),
                                   err_msg=f"symbp {name} hvp of {KINDS} against torch")
    best = timed({f"symbp {name} {what}": (lambda f=f, what=what: f.hvp(x, y, params, v)
                                           if what == "hvp" else f.grad(x, y, params))
                  for name, f in (("NumPy", numpy_f), ("numba", numba_f))
                  for what in ("grad", "hvp")}, rounds, number)
    print(f"{KINDS} at batch 100: " + ", ".join(f"{k} {t * 1e6:.1f} µs"
                                                for k, t in best.items()), flush=True)
    return {"example": KINDS, "batch": 100, "best": best}


def report(cells: list[dict], hessian: dict, kinds: dict, load: tuple, versions: str) -> str:
    names = list(cells[0]["best"])
    lines = ["| batch | " + " | ".join(f"{n} µs" for n in names) + " | hvp / grad, NumPy | "
             "hvp / grad, numba | torch hvp / symbp numba hvp |", "|---:|" + "---:|" *
             (len(names) + 3)]
    verdicts = []
    for cell in cells:
        b = cell["best"]
        numpy_ratio = b["symbp NumPy hvp"] / b["symbp NumPy grad"]
        numba_ratio = b["symbp numba hvp"] / b["symbp numba grad"]
        speedup = b["torch double-backward hvp"] / b["symbp numba hvp"]
        lines.append(f"| {cell['batch']:,} | " + " | ".join(f"{b[n] * 1e6:,.1f}" for n in names)
                     + f" | {numpy_ratio:.2f}× | {numba_ratio:.2f}× | {speedup:.1f}× |")
        if cell["batch"] == 100:
            for backend, ratio in (("NumPy", numpy_ratio), ("numba", numba_ratio)):
                verdicts.append(f"- H·v at batch 100 within 2× of the gradient ({backend}, "
                                f"each against its own): {ratio:.2f}×: "
                                + ("**met**" if ratio <= 2.0 else "**missed**"))
        if cell["batch"] == 1:
            for backend in ("NumPy", "numba"):
                faster = b["torch double-backward hvp"] / b[f"symbp {backend} hvp"]
                verdicts.append(f"- H·v at batch 1 faster than PyTorch's double backward "
                                f"(symbp {backend}): {faster:.1f}× faster: "
                                + ("**met**" if faster > 1.0 else "**missed**"))
    hb, kb = hessian["best"], kinds["best"]
    lines += ["", f"Network {WIDTHS} (sigmoid, MSE, the cost summed over the batch), float64.",
              "", "Targets, as ratios of this run:", "", *verdicts, "",
              f"The whole Hessian of {hessian['widths']} ({hessian['parameters']} parameters) at "
              f"batch {hessian['batch']}: symbp NumPy `hessian` "
              f"{hb['symbp NumPy hessian'] * 1e6:,.0f} µs, `torch.autograd.functional.hessian` "
              f"{hb['torch functional.hessian'] * 1e6:,.0f} µs (equal to 1e-9).", "",
              f"Layer kinds, examples/{kinds['example']}.toml at batch {kinds['batch']} "
              "(hvp is `_tangent`, the R-operator over grad's own statements, in array form): "
              + "; ".join(f"{backend} grad {kb[f'symbp {backend} grad'] * 1e6:,.0f} µs, hvp "
                          f"{kb[f'symbp {backend} hvp'] * 1e6:,.0f} µs "
                          f"({kb[f'symbp {backend} hvp'] / kb[f'symbp {backend} grad']:.1f}×)"
                          for backend in ("NumPy", "numba")) + " (hvp equal to PyTorch's to "
              "1e-9 on 3 samples).", "",
              "Why 2× is missed at batch 100: the R-operator does 2.3 times the multiply-adds of "
              "the gradient for this network (12.3 against 5.3 products of a batch of 100 by a "
              "64 × 64 matrix, the 10-wide layer's counting 0.16), because its tangent forward "
              "and backward passes repeat each product with W_l by one with V_l; the NumPy ratio "
              "sits at that count, and 2× would take fewer products than the algorithm has. At "
              "batch 1 the time is the per-call overhead, where the compiled kernel wins. Every "
              "competitor was checked against `torch.autograd.functional.hvp` to 1e-9 before "
              "timing; each figure is the minimum time per call over shuffled rounds in one "
              "process, one thread everywhere; symbp numba's one-time compile is not timed.",
              f"Machine: {cpu()}, {os.cpu_count()} cores, load average {load[0]:.2f} before "
              f"and {load[1]:.2f} after (a shared machine: other jobs ran during the run); "
              f"{versions}.", "Rerun: `python bench/second_order.py --write` (`--quick` for "
              "fewer rounds)."]
    return "\n".join(lines)


def main() -> None:
    main_with(run, lambda result, load, versions: report(*result, load, versions),
              "Second order", (31, 50), (5, 20), __doc__)


if __name__ == "__main__":
    main()
