"""Recurrent (Elman): z[:, t] = W s[:, t − 1] + U x[:, t] + b, s = σ(z), h_0 = s[:, 0] = 0, over
the T steps of a sequence; a = s[:, T] (output "last") or every state (output "all").

The input is a sequence, features × steps (``--inputs 2x5``: 2 features, T = 5), and the
layer is one layer of the network: W (H × H), U (H × n_in) and b are its parameters, shared
by every step. Its pre map reads its own state one step back (``Map.own``: a scan), with
the bracket [2 ≤ t] making h_0 = 0, as torch's nn.RNN starts.

Backpropagation through time is the δ recursion over the steps inside the layer:

- δ[j, t] = σ'(z[j, t]) (gs[j, t] + Σ_i W[i, j] δ[i, t + 1] [t + 1 ≤ T]): ∂C/∂s at step t
  is what the output takes from it (gs: g at t = T for "last", g[:, t] for "all") plus
  what step t + 1 passes back through W (the ``own_vjp`` map, a scan backwards);
- ∂C/∂W[j, k] = Σ_t δ[j, t] s[k, t − 1] [2 ≤ t], ∂C/∂U[j, i] = Σ_t δ[j, t] x[i, t],
  ∂C/∂b[j] = Σ_t δ[j, t]: one W, U and b serve every step, so each gradient is a sum over
  the steps of the one-step chain rule;
- ∂C/∂x[i, t] = Σ_j U[j, i] δ[j, t].

A vector input is refused rather than read as one step (or as one feature over n steps):
which of the two was meant cannot be told from it. The activation is tanh by default,
as in nn.RNN; it must be elementwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sympy as sp

from ..limits import LayerSize
from . import symbolic as symbolic_sizes
from . import vector as v
from .base import Bound, Inside, Kind, Layer, Map, Maps, Option, Shape, Tensor, one_of, positive_int

_size = {"integer": True, "positive": True}
N_IN, UNITS, STEPS = (sp.Symbol(name, **_size) for name in ("n_seq", "h_rnn", "T_steps"))
J, K, I, T = (sp.Symbol(name, **_size) for name in "jkit")  # entry indices
OUTPUTS = ("last", "all")
NOT_ELEMENTWISE = ("softmax",)


def tensor(name: str, *axes: sp.Expr) -> Tensor:
    return Tensor(name, sp.IndexedBase(name), axes)


def tensors(output: str) -> dict[str, Tensor]:
    out_axes = (UNITS,) if output == "last" else (UNITS, STEPS)
    seq, states = (N_IN, STEPS), (UNITS, STEPS)
    shapes: dict[str, tuple[sp.Expr, ...]] = {
        "x": seq, "z": states, "s": states, "a": out_axes, "g": out_axes, "delta": states,
        "ds": states, "W": (UNITS, UNITS), "U": (UNITS, N_IN), "b": (UNITS,),
        "dW": (UNITS, UNITS), "dU": (UNITS, N_IN), "db": (UNITS,), "dx": seq}
    return {name: tensor(name, *axes) for name, axes in shapes.items()}


def maps(layer: Layer) -> Maps:
    output = layer.get("output", "last")
    t = tensors(output)
    x, s, W, U, b, delta = t["x"], t["s"], t["W"], t["U"], t["b"], t["delta"]
    before = Inside(T - 1, 1, STEPS)  # [2 ≤ t]: h_0 = 0
    pre = (sp.Sum(W[J, K] * s[K, T - 1] * before, (K, 1, UNITS))
           + sp.Sum(U[J, I] * x[I, T], (I, 1, N_IN)) + b[J])
    post = delta_from_g = None
    if output == "last":
        post = Map(t["a"], (J,), s[J, STEPS], (s,))
        delta_from_g = Map(t["ds"], (J, T), t["g"][J] * Inside(T, STEPS, STEPS), (t["g"],))

    def sizes(shape_in: Shape) -> dict[sp.Symbol, int]:
        features, steps = shape_in
        return {N_IN: features, UNITS: layer.get("units"), STEPS: steps}

    def symbolic(e: sp.Expr, shape_in: tuple[sp.Expr, ...]) -> dict[sp.Symbol, sp.Expr]:
        """At symbolic layer e: c_e states over the input's steps, every T."""
        if len(shape_in) != 2:
            raise ValueError("the general theorem takes a recurrent layer on a sequence only")
        return {N_IN: shape_in[0], UNITS: symbolic_sizes.CHANNELS[e], STEPS: shape_in[1]}

    return Maps(
        sizes=sizes, symbolic=symbolic, x=x, z=t["z"], a=t["a"], params=(W, U, b),
        pre=Map(t["z"], (J, T), pre, (x,), (W, U, b), own=s),
        param_vjps={
            "W": Map(t["dW"], (J, K), sp.Sum(delta[J, T] * s[K, T - 1] * before,
                                             (T, 1, STEPS)), (delta, s)),
            "U": Map(t["dU"], (J, I), sp.Sum(delta[J, T] * x[I, T], (T, 1, STEPS)),
                     (delta, x)),
            "b": Map(t["db"], (J,), sp.Sum(delta[J, T], (T, 1, STEPS)), (delta,))},
        input_vjp=Map(t["dx"], (I, T), sp.Sum(U[J, I] * delta[J, T], (J, 1, UNITS)),
                      (delta,), (U,)),
        activation=layer.get("activation", "tanh"),
        post=post, delta_from_g=delta_from_g,
        own_vjp=Map(t["ds"], (J, T), sp.Sum(W[K, J] * delta[K, T + 1], (K, 1, UNITS))
                    * Inside(T + 1, 1, STEPS), (), (W,), own=delta),
    )


def check(layer: Layer, shape_in: Shape) -> None:
    if len(shape_in) != 2:
        raise ValueError(f"a recurrent layer reads a sequence (features x steps), got an "
                         f"input of shape {'x'.join(map(str, shape_in))}; give the input as "
                         f"FxT (--inputs 1x{shape_in[0]}: one feature over {shape_in[0]} steps)")
    if layer.get("activation", "tanh") in NOT_ELEMENTWISE:
        raise ValueError(f"key 'activation': {layer.get('activation')!r} is not elementwise; "
                         "a recurrent state takes an elementwise one (tanh, relu, sigmoid, ...)")


def sized(layer: Layer, width: int, shape_in: Shape) -> Layer:
    return Layer("recurrent", {**dict(layer.options), "units": width})


def size(layer: Layer, sizes: Mapping[sp.Symbol, int]) -> LayerSize:
    """W, U and b, H (H + n_in + 1) numbers however long the sequence; each of the H T
    entries of z joined to H states and n_in inputs."""
    h, n, steps = sizes[UNITS], sizes[N_IN], sizes[STEPS]
    return LayerSize(parameters=h * (h + n + 1), connections=steps * h * (h + n))


def backward(ops: Any, l: Any, g: Any) -> Bound:
    """BPTT: δ_l = σ'(z_l) ⊙ (∂C/∂s from the output + W_lᵀ δ_l one step later), a scan from
    t = T down; then W's, U's and b's gradients, each a sum over the steps."""
    if ops.layer(l).get("output", "last") == "last":
        g = ops.vjp(l, "delta_from_g", g)
    delta = ops.bind_delta(l, ops.activation_vjp(l, g + ops.vjp(l, "own_vjp")))
    ops.gradient(l, weight=ops.vjp(l, "W", delta, ops.state(l)), bias=ops.vjp(l, "b", delta),
                 U=ops.vjp(l, "U", delta, ops.activation(l - 1)))
    return Bound(delta)


def pass_back(ops: Any, l: Any, bound: Bound) -> Any:
    """∂C/∂x[:, t] = U_lᵀ δ_l[:, t], step by step."""
    return ops.vjp(l, "input_vjp", bound.delta)


def describe(layer: Layer) -> str:
    which = "last state" if layer.get("output", "last") == "last" else "every state"
    return f"a recurrent (Elman) layer, {layer.get('units')} units, {which}"


def forms(layer: Layer) -> v.Forms:
    """The layer in vector notation over the steps t = 1..T (s_0 = 0), g = ∂C/∂a."""
    last = layer.get("output", "last") == "last"
    w, u = v.operand("W"), v.operand("U")

    def now(t: sp.Symbol) -> v.Step:
        return v.Step(t, 0)

    def over_steps(body: sp.Basic, first: int = 1) -> v.StepSum:
        return v.StepSum(body, first, STEPS)

    return v.Forms((
        v.Equation("z", v.Plus(v.Dot(w, v.Step(v.S, -1)), v.Dot(u, now(v.X)), v.operand("b")),
                   per_step=True),
        v.Equation("s", v.Sigma(now(v.Z)), slot="forward", per_step=True),
        v.Equation("a", v.Last(v.S)) if last else
        v.Equation("a", now(v.S), per_step=True),
        v.Equation("delta", v.Had(v.Plus(v.AtLast(v.G, STEPS) if last else now(v.G),
                                         v.Dot(v.T(w), v.Step(v.DELTA, 1))),
                                  v.SigmaPrime(now(v.Z))), per_step=True),
        v.Equation("W", over_steps(v.Dot(now(v.DELTA), v.T(v.Step(v.S, -1))), 2)),
        v.Equation("U", over_steps(v.Dot(now(v.DELTA), v.T(now(v.X))))),
        v.Equation("b", over_steps(now(v.DELTA))),
        v.Equation("input", v.Dot(v.T(u), now(v.DELTA)), per_step=True)))


KIND = Kind(
    name="recurrent",
    summary="Elman RNN through time: z_t = W s_(t-1) + U x_t + b, s_t = σ(z_t); last or all states",
    options={
        "units": Option(positive_int, "a positive integer (the state's width H)"),
        "activation": Option(lambda v: isinstance(v, str), "an activation's name", "tanh"),
        "output": Option(one_of(*OUTPUTS), "\"last\" or \"all\"", "last"),
    },
    maps=maps, check=check, backward=backward, pass_back=pass_back, sized=sized,
    forms=forms, size=size, describe=describe,
    explains=r"One $W_l$, $U_l$ and $b_l$ serve every step $t$, so each of their entries "
             r"reaches the cost once per step, and each gradient is the sum over the steps "
             r"of the one-step chain rule, $\delta_{l,t}$ times what the entry met at $t$. "
             r"Going back, the state at step $t$ feeds the output (at $t = T$, or at every "
             r"step) and step $t + 1$ through $W_l$: that is the recursion through time. "
             r"Unrolled, $\delta_{l,t}$ carries the product "
             r"$\prod_{u=t}^{T-1} \operatorname{diag}(\sigma'(z_{l,u}))\, W_l^{T}$ of the "
             r"Jacobians of the steps in between: where each factor's norm stays below 1 it "
             r"shrinks geometrically in $T - t$ (the gradient vanishes), and where the factors "
             r"stretch it, it can grow geometrically (it explodes).",
)
