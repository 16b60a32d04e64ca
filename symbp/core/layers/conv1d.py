"""Convolution, 1-D: z[o, t] = Σ_c Σ_s K[o, c, s] x[c, t + s − 1 − p] + b[o], a = σ(z), optionally
average- or max-pooled over non-overlapping windows.

The input has C_in channels of N positions (a vector is one channel), the kernel K is
C_out × C_in × k, stride 1, and p is the left padding: 0 for "valid" (N − k + 1 outputs),
⌊(k − 1)/2⌋ for "same" (N outputs; the input is zero outside 1..N, so an even kernel pads
one more position on the right than on the left, as PyTorch's padding="same" does).

Its vector-Jacobian products are the textbook ones, each a formula of its own:

- ∂C/∂K[o, c, s] = Σ_t δ[o, t] x[c, t + s − 1 − p]: one kernel serves every position, so its
  gradient is a sum over positions (the correlation of δ with the input);
- ∂C/∂b[o] = Σ_t δ[o, t];
- ∂C/∂x[c, u] = Σ_o Σ_s K[o, c, k + 1 − s] δ[o, u + s − k + p], δ zero outside its positions:
  the full convolution of δ with the flipped kernel;
- average pooling over windows of q (a[o, t] = (1/q) Σ_r s[o, q(t − 1) + r]) passes back
  ∂C/∂s[o, u] = g[o, ⌊(u − 1)/q⌋ + 1] / q: g spread evenly over its window;
- max pooling (a[o, t] = s[o, q(t − 1) + ρ[o, t]], ρ the window's first maximum, ``argmax``)
  passes back ∂C/∂s[o, u] = g[o, ⌊(u − 1)/q⌋ + 1] [u − q⌊(u − 1)/q⌋ = ρ[o, ⌊(u − 1)/q⌋ + 1]]:
  g routed to its window's maximum. That is C's derivative where every window's maximum is
  unique (ρ is locally constant there, its derivative 0); at a tie C has no derivative and
  the code passes g to the first maximum, one of its subgradients. So a max-pooled layer is
  proved where every window's maximum is unique, and never claimed beyond.

The general theorem takes these layers at every depth, channel count, kernel size and
length: at a symbolic layer e they have c_e channels and, under valid padding, m_e positions
and the kernel κ = m_(e−1) − q m_e + 1 that leaves them (every kernel size, as the lengths
vary); under same padding a kernel κ_e of its own and, unpooled, m_0 positions. Pooled
under same padding, a layer reads q_e m_e positions: the theorem ties the length below to
that, top down, so a network's lengths are products over the layers above (m_(e−1) =
q_e m_e), taken at its own depth, for every size. Zero padding is the bracket [1 ≤ u ≤ N]
(``base.Inside``).

The kernel is the layer's "W" (the name the program gives a layer's weights); the
documents call it K. ReLU is the default activation: the convolution layers of CNNs use it.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import sympy as sp

from ..limits import LayerSize
from . import symbolic as symbolic_sizes
from . import vector as v
from .argmax import Chosen, WindowArgmax
from .base import (
    Bound,
    Inside,
    Kind,
    Layer,
    Map,
    Maps,
    Option,
    Shape,
    Tensor,
    backward_by_maps,
    one_of,
    positive_int,
)

_size = {"integer": True, "positive": True}
C_IN, C_OUT, KERNEL, POOL, N_OUT = (sp.Symbol(name, **_size) for name in
                                    ("c_in", "c_out", "k_conv", "q_pool", "m_out"))
O, C, S, T, U, R = (sp.Symbol(name, **_size) for name in "ocstur")  # entry indices

N_CONV = POOL * N_OUT  # positions of z, before pooling
PADDINGS = ("valid", "same")
POOLS = ("none", "avg", "max")


def left_pad(padding: str) -> sp.Expr:
    """p: the zeros before the first input position."""
    return sp.Integer(0) if padding == "valid" else sp.floor((KERNEL - 1) / 2)


def n_in(padding: str) -> sp.Expr:
    """N, the input's positions, from the output's: N − k + 1 = q m (valid) or N = q m (same)."""
    return N_CONV + KERNEL - 1 if padding == "valid" else N_CONV


def zero_outside(t: Tensor, channel: sp.Expr, position: sp.Expr, n: sp.Expr) -> sp.Expr:
    """t[channel, position] [1 ≤ position ≤ n]: 0 outside, the zero padding."""
    return t[channel, position] * Inside(position, 1, n)


def tensors(padding: str) -> dict[str, Tensor]:
    n, conv = n_in(padding), N_CONV
    shapes: dict[str, tuple[sp.Expr, ...]] = {
        "x": (C_IN, n), "z": (C_OUT, conv), "s": (C_OUT, conv), "a": (C_OUT, N_OUT),
        "W": (C_OUT, C_IN, KERNEL), "b": (C_OUT,), "delta": (C_OUT, conv), "g": (C_OUT, N_OUT),
        "dW": (C_OUT, C_IN, KERNEL), "db": (C_OUT,), "dx": (C_IN, n), "ds": (C_OUT, conv)}
    return {name: Tensor(name, sp.IndexedBase(name), axes) for name, axes in shapes.items()}


def maps(layer: Layer) -> Maps:
    padding = layer.get("padding", "valid")
    pooled = layer.get("pool", "none") != "none"
    t = tensors(padding)
    x, W, b, delta = t["x"], t["W"], t["b"], t["delta"]
    p, n = left_pad(padding), n_in(padding)

    def input_at(c: sp.Expr, u: sp.Expr) -> sp.Expr:
        return x[c, u] if padding == "valid" else zero_outside(x, c, u, n)

    pre = sp.Sum(W[O, C, S] * input_at(C, T + S - 1 - p), (C, 1, C_IN), (S, 1, KERNEL)) + b[O]
    kernel_grad = sp.Sum(delta[O, T] * input_at(C, T + S - 1 - p), (T, 1, N_CONV))
    flipped = sp.Sum(W[O, C, KERNEL + 1 - S] * zero_outside(delta, O, U + S - KERNEL + p, N_CONV),
                     (O, 1, C_OUT), (S, 1, KERNEL))
    post = delta_from_g = None
    window = sp.floor((U - 1) / POOL) + 1  # the pooled position that position u feeds
    if layer.get("pool", "none") == "avg":
        post = Map(t["a"], (O, T), sp.Sum(t["s"][O, POOL * (T - 1) + R], (R, 1, POOL)) / POOL,
                   (t["s"],))
        delta_from_g = Map(t["ds"], (O, U), t["g"][O, window] / POOL, (t["g"],))
    elif pooled:  # max: the entry ρ of each window (argmax), g routed back to it
        s = t["s"]
        post = Map(t["a"], (O, T), sp.Sum(Chosen(R, WindowArgmax(s.base, O, T, POOL))
                                          * s[O, POOL * (T - 1) + R], (R, 1, POOL)), (s,))
        delta_from_g = Map(t["ds"], (O, U), t["g"][O, window] * Chosen(
            U - POOL * (window - 1), WindowArgmax(s.base, O, window, POOL)), (t["g"], s))

    def sizes(shape_in: Shape) -> dict[sp.Symbol, int]:
        channels, positions = (1, shape_in[0]) if len(shape_in) == 1 else shape_in
        kernel, q = layer.get("kernel"), pool_size(layer)
        conv = positions - kernel + 1 if padding == "valid" else positions
        return {C_IN: channels, C_OUT: layer.get("channels"), KERNEL: kernel, POOL: q,
                N_OUT: conv // q}

    def symbolic(e: sp.Expr, shape_in: tuple[sp.Expr, ...]) -> dict[sp.Symbol, sp.Expr]:
        """At symbolic layer e: c_e channels; under valid padding m_e positions out and the
        kernel that leaves them (κ = m_(e-1) − q m_e + 1 covers every kernel size as the
        lengths vary); under same padding a free kernel κ_e and, unpooled, the input's
        positions, pooled, m_e positions out: the layer then reads q_e m_e positions (its x),
        and the theorem ties the layer below's length to that (``generic_shapes.tie``)."""
        channels, positions = (sp.Integer(1), shape_in[0]) if len(shape_in) == 1 else shape_in
        q = symbolic_sizes.POOL[e] if pooled else sp.Integer(1)
        sizes = {C_IN: channels, C_OUT: symbolic_sizes.CHANNELS[e], POOL: q}
        if padding == "valid":
            return {**sizes, N_OUT: symbolic_sizes.LENGTH[e],
                    KERNEL: positions - q * symbolic_sizes.LENGTH[e] + 1}
        out = symbolic_sizes.LENGTH[e] if pooled else positions
        return {**sizes, N_OUT: out, KERNEL: symbolic_sizes.KERNEL[e]}

    return Maps(
        sizes=sizes, symbolic=symbolic,
        x=x, z=t["z"], a=t["a"], params=(W, b),
        pre=Map(t["z"], (O, T), pre, (x,), (W, b)),
        param_vjps={"W": Map(t["dW"], (O, C, S), kernel_grad, (delta, x)),
                    "b": Map(t["db"], (O,), sp.Sum(delta[O, T], (T, 1, N_CONV)), (delta,))},
        input_vjp=Map(t["dx"], (C, U), flipped, (delta,), (W,)),
        activation=layer.get("activation", "relu"),
        post=post, delta_from_g=delta_from_g,
    )


def pool_size(layer: Layer) -> int:
    """q: the pooling window (1 without pooling)."""
    if layer.get("pool", "none") == "none":
        return 1
    return int(layer.get("pool_size", 2))


def check(layer: Layer, shape_in: Shape) -> None:
    """Every combination the options and the input cannot make, one line naming the key."""
    padding, pool = layer.get("padding", "valid"), layer.get("pool", "none")
    kernel = layer.get("kernel")
    positions = shape_in[-1]
    if pool == "none" and layer.get("pool_size") is not None:
        raise ValueError(f"key 'pool_size' is {layer.get('pool_size')} but there is no pool; "
                         "set pool = \"avg\" or \"max\", or leave pool_size out")
    if padding == "valid" and kernel > positions:
        raise ValueError(f"key 'kernel': a kernel of {kernel} is longer than the input's "
                         f"{positions} positions under valid padding; use kernel <= "
                         f"{positions} or padding = \"same\"")
    conv = positions - kernel + 1 if padding == "valid" else positions
    q = pool_size(layer)
    if q > conv:
        raise ValueError(f"key 'pool_size': a pool of {q} exceeds the {conv} positions it "
                         f"pools; use pool_size <= {conv}")
    if conv % q:
        raise ValueError(f"key 'pool_size': a pool of {q} does not divide the {conv} positions "
                         f"it pools (non-overlapping windows); use a divisor of {conv}")


def sized(layer: Layer, width: int, shape_in: Shape) -> Layer:
    """The layer with ``width`` channels and a kernel (3, 2 or 1) and pool window (2, else 1)
    that fit an input of ``shape_in``: a small network for a cross-check."""
    positions, pooled = shape_in[-1], layer.get("pool", "none") != "none"
    options = {**dict(layer.options), "channels": width}
    for kernel, q in itertools.product((3, 2, 1), (2, 1) if pooled else (1,)):
        conv = positions - kernel + 1 if layer.get("padding", "valid") == "valid" else positions
        if conv >= q and conv % q == 0:
            options["kernel"] = kernel
            if pooled:
                options["pool_size"] = q
            return Layer("conv1d", options)
    raise ValueError(f"no conv1d layer fits an input of {positions} positions")


def size(layer: Layer, sizes: Mapping[sp.Symbol, int]) -> LayerSize:
    """The kernel and bias, C_out (C_in k + 1) numbers however long the input; each of the
    C_out N positions of z joined to C_in k inputs (N = q m before pooling), and each
    pooled output to its q positions."""
    c_in, c_out, k = sizes[C_IN], sizes[C_OUT], sizes[KERNEL]
    positions = sizes[POOL] * sizes[N_OUT]
    pooled = c_out * positions if layer.get("pool", "none") != "none" else 0
    return LayerSize(parameters=c_out * (c_in * k + 1),
                     connections=c_out * positions * c_in * k + pooled)


def backward(ops: Any, l: Any, g: Any) -> Bound:
    """δ_l = σ'(z_l) ⊙ ∂C/∂s_l (g spread over the pool windows, or g itself); the kernel's and
    the bias's gradients from δ_l and the input."""
    pool = ops.layer(l).get("pool", "none")
    if pool == "avg":
        g = ops.vjp(l, "delta_from_g", g)
    elif pool == "max":  # g to each window's maximum, found in σ(z_l)
        g = ops.vjp(l, "delta_from_g", g, ops.state(l))
    return backward_by_maps(ops, l, g)


def pass_back(ops: Any, l: Any, bound: Bound) -> Any:
    """∂C/∂a_(l-1): the full convolution of δ_l with the flipped kernel."""
    return ops.vjp(l, "input_vjp", bound.delta)


def describe(layer: Layer) -> str:
    what = (f"a 1-D convolution, {layer.get('channels')} channels, kernel "
            f"{layer.get('kernel')}, {layer.get('padding')} padding")
    if layer.get("pool", "none") != "none":
        which = "max" if layer.get("pool") == "max" else "average"
        what += f", {which} pooling over {layer.get('pool_size', 2)}"
    return what


def forms(layer: Layer) -> v.Forms:
    """The convolution in vector notation, g = ∂C/∂a: ⋆ the cross-correlation over positions
    (zero padded by p on the left), the kernel K the layer's W, avgpool_q non-overlapping."""
    padding = layer.get("padding", "valid")
    pooled = layer.get("pool", "none") != "none"
    maximum = layer.get("pool") == "max"
    kernel, p = v.operand("W"), left_pad(padding)
    equations = [v.Equation("z", v.Plus(v.Star(kernel, v.X, p, N_CONV), v.operand("b")))]
    if pooled:
        equations += [v.Equation("s", v.Sigma(v.Z), slot="forward"),
                      v.Equation("a", (v.MaxPool if maximum else v.AvgPool)(POOL, v.S))]
    else:
        equations.append(v.Equation("a", v.Sigma(v.Z)))
    spread = v.G if not pooled else v.MaxPoolT(POOL, v.S, v.G) if maximum else \
        v.AvgPoolT(POOL, v.G)
    equations += [
        v.Equation("delta", v.Had(spread, v.SigmaPrime(v.Z))),
        v.Equation("W", v.Star(v.DELTA, v.X, p, KERNEL)),
        v.Equation("b", v.RowSum(v.DELTA)),
        v.Equation("input", v.FullConv(v.Flip(kernel), v.DELTA, p, n_in(padding)))]
    return v.Forms(tuple(equations), {POOL: str(pool_size(layer))})


MAX_POOL_SCOPE = ("max pooling, proved where every window's maximum is unique; at a tie C has no "
                  "derivative and the code passes g to the first maximum, one of its "
                  "subgradients")


def holds_where(layer: Layer) -> str:
    """Max pooling: where every window's maximum is unique (``argmax``); else everywhere."""
    return MAX_POOL_SCOPE if layer.get("pool") == "max" else ""


SHARED = (r"One kernel $K_l$ serves every position $t$ of the output, so each of its entries "
          r"reaches the cost once per position, and its gradient is the sum over positions of "
          r"$\delta_l$ times the input the entry met there (the bias's likewise). Going back, "
          r"input position $u$ fed the outputs $t$ whose window covers it, through the kernel "
          r"entry $s$ with $t + s - 1 - p = u$: summed over them, that is the full convolution "
          r"of $\delta_l$ (zero outside its positions) with the kernel flipped.")
POOLED = {  # what each pooling adds to the backward pass, said only where the layer pools
    "none": "",
    "avg": r" Average pooling passes $g_l$ back spread evenly over each window, divided by its "
           r"size.",
    "max": r" Max pooling keeps the entry $\rho_{o,t}$ of window $t$ that is its maximum (the "
           r"first, at a tie) and passes $g_l$ back to it alone: proved where every window's "
           r"maximum is unique; at a tie $C$ has no derivative and the code passes $g_l$ to "
           r"the first maximum, one of its subgradients.",
}


def explains(layer: Layer) -> str:
    """Why the backward pass has its shape, saying only the pooling this layer has."""
    return SHARED + POOLED[layer.get("pool", "none")]


KIND = Kind(
    name="conv1d",
    summary="1-D convolution: z = K ⋆ x + b over positions, a = σ(z), optional avg or max pooling",
    options={
        "channels": Option(positive_int, "a positive integer (output channels)"),
        "kernel": Option(positive_int, "a positive integer (the kernel's size)"),
        "padding": Option(one_of(*PADDINGS), "\"valid\" or \"same\"", "valid"),
        "activation": Option(lambda v: isinstance(v, str), "an activation's name", "relu"),
        "pool": Option(one_of(*POOLS), "\"none\", \"avg\" or \"max\"", "none"),
        "pool_size": Option(positive_int, "a positive integer (default: 2 with a pool)"),
    },
    maps=maps, check=check, backward=backward, pass_back=pass_back,
    words={"W": "K"}, sized=sized, forms=forms, size=size, describe=describe,
    holds_where=holds_where,
    explains=explains,
)
