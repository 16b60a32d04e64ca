"""The matrix chapter's identities for a network of layer kinds, each proved per network.

For each layer, at this network's sizes and exactly (σ an undefined function whose
derivative is σ', so every claim holds for every elementwise σ), with the layer's input,
parameters, δ = ∂C/∂z and g = ∂C/∂a as free symbols:

- ``jacobian l``: the Jacobian the chapter displays, built entry by entry from its formula
  (``STRUCTURES``: W for a dense layer, diag(σ'(z)) W + I for a residual block, the banded
  Toeplitz matrix of a convolution, diag(σ'(z_t)) W for one recurrent step, the layer and
  batch norms' γ (I − 11ᵀ/n − x̂x̂ᵀ/n)/s) against SymPy's ``jacobian`` of the layer's maps;
- ``steps l`` (a recurrent layer): ∂s_T/∂s_1, SymPy's Jacobian of the unrolled steps,
  against the product of the steps' Jacobians;
- ``delta l``: ∂C/∂z from the Jacobian of a by z (σ, then pooling or the last state), plus
  what the next step passes back, against the kind's δ maps;
- ``input l``: the Jacobian of the layer by its input, transposed, times δ (plus the
  skip's times g), against the kind's input VJP: where the flipped kernel is checked;
- ``<θ> l``: Σ_i δ_i ∂z_i/∂θ (plus the skip's) against the kind's gradient map of θ.

SymPy's ``jacobian`` of the maps is the oracle here: it shares nothing with the VJP maps
the kind writes by hand, so a VJP written wrong (a convolution without the flip) fails its
claim, naming the first entry that differs. The claims are about this network's sizes
only, and say so; the general theorem proves the maps for every size.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from ..core import registry
from ..core.derivation import Derivation
from ..core.layers import Resolved
from ..core.layers.layernorm import exact_eps
from ..core.layers.operators import SIGMA_PRIME
from .claims import Claim
from .exact import Exact, first_difference
from .kinds_tensors import (
    Sigma,
    Tensors,
    after_sigma,
    contract,
    diag,
    jacobian,
    layer_output,
    matrix_of,
    run,
    sigma_of,
    tensors_of,
)
from .lemmas import glimpse


@dataclass
class LayerIdentities:
    """What one layer's section shows and the claims that checked it: the built matrices
    (the displayed Jacobian and a block of it, printed by the document) and the claims."""

    index: int
    claims: dict[str, Claim] = field(default_factory=dict)  # role → claim: jacobian, steps,
    # delta, input, and each parameter's name
    shown: dict[str, sp.Matrix] = field(default_factory=dict)  # "block": a convolution's
    # banded block for one pair of channels, its kernel entries as k_1..k_k
    unchecked: str = ""  # why no claim was made for the layer (``UNCHECKED``), or ""


UNCHECKED = {  # kind → why its chain-rule claims are not made here (plain text)
    "attention": "comparing its vector-Jacobian products with SymPy's Jacobian of its softmax "
                 "maps takes tens of seconds even at the smallest sizes (the input's, most of "
                 "it), more than this chapter spends on a layer",
}


# ---------------------------------------------------------------- each kind's Jacobian


Structure = Callable[[Resolved, Tensors, LayerIdentities], tuple[sp.Matrix, sp.Matrix]]


def _dense(r: Resolved, t: Tensors, found: LayerIdentities) -> tuple[sp.Matrix, sp.Matrix]:
    """∂z/∂x = W."""
    truth = jacobian(run(r.maps.pre, r, t.values()), t.flat("x"))
    return matrix_of(t.arrays["W"]), truth


def _per_sample(r: Resolved, t: Tensors, found: LayerIdentities
                ) -> tuple[sp.Matrix, sp.Matrix]:
    """∂z/∂x = W ⊗ I_B, z and x read row by row (features × samples)."""
    truth = jacobian(run(r.maps.pre, r, t.values()), t.flat("x"))
    samples = t.arrays["x"].shape[1]
    return sp.kronecker_product(matrix_of(t.arrays["W"]), sp.eye(samples)), truth


def _residual(r: Resolved, t: Tensors, found: LayerIdentities) -> tuple[sp.Matrix, sp.Matrix]:
    """∂a/∂x = diag(σ'(z)) W + I (+ P for I with a projection), z = W x + b."""
    z = run(r.maps.pre, r, t.values())
    skip = matrix_of(t.arrays["P"]) if "P" in t.arrays else sp.eye(len(t.flat("x")))
    built = diag([SIGMA_PRIME(e) for e in z]) * matrix_of(t.arrays["W"]) + skip
    return built, jacobian(list(layer_output(r, t)), t.flat("x"))


def _conv(r: Resolved, t: Tensors, found: LayerIdentities) -> tuple[sp.Matrix, sp.Matrix]:
    """∂z/∂x = T(K): entry ((o, t), (c, u)) is K[o, c, u − t + 1 + p] where 1 ≤ u − t + 1 + p
    ≤ k, else 0, rows and columns read row by row: one banded block per pair of channels."""
    kernel = t.arrays["W"]
    c_out, c_in, k = kernel.shape
    positions = t.arrays["x"].reshape(c_in, -1).shape[1]
    n = t.arrays["z"].shape[1]
    pad = left_pad(r)

    def entry(row: int, col: int, at: Callable[[int, int, int], sp.Expr]) -> sp.Expr:
        (o, i), (c, u) = divmod(row, n), divmod(col, positions)
        s = u - i + pad  # 0-based tap
        return at(o, c, s) if 0 <= s < k else sp.Integer(0)

    built = sp.Matrix(c_out * n, c_in * positions,
                      lambda a, b: entry(a, b, lambda o, c, s: kernel[o, c, s]))
    taps = sp.symbols(f"k_1:{k + 1}")
    found.shown["block"] = sp.Matrix(n, positions,
                                     lambda a, b: entry(a, b, lambda o, c, s: taps[s]))
    truth = jacobian(run(r.maps.pre, r, t.values()), t.flat("x"))
    return built, truth


def left_pad(r: Resolved) -> int:
    """p: the zeros before the first input position, from the layer's options."""
    return 0 if r.layer.get("padding", "valid") == "valid" else (r.layer.get("kernel") - 1) // 2


def _recurrent(r: Resolved, t: Tensors, found: LayerIdentities) -> tuple[sp.Matrix, sp.Matrix]:
    """∂s_t/∂s_(t-1) = diag(σ'(z_t)) W at every step t = 2..T, stacked."""
    units, steps = t.arrays["z"].shape
    own = t.arrays["s"]
    z = np.array(run(r.maps.pre, r, t.values()), dtype=object).reshape(units, steps)
    w = matrix_of(t.arrays["W"])
    built = sp.Matrix.vstack(*[diag([SIGMA_PRIME(e) for e in z[:, step]]) * w
                               for step in range(1, steps)])
    truth = sp.Matrix.vstack(*[sp.Matrix([Sigma(e) for e in z[:, step]])
                               .jacobian(list(own[:, step - 1])) for step in range(1, steps)])
    return built, truth


def _normalized(r: Resolved, t: Tensors, found: LayerIdentities) -> tuple[sp.Matrix, sp.Matrix]:
    """Per group of entries normalized together (a layer norm's n units, a batch norm's B
    samples of one feature): γ (I − 11ᵀ/n − x̂ x̂ᵀ/n) / s, x̂ = (x − μ)/s, s = √(v + ε);
    one block per feature for a batch norm, rows and columns read row by row."""
    x = t.arrays["x"]
    groups = x.reshape(1, -1) if x.ndim == 1 else x
    gamma = t.arrays["W"]
    eps = exact_eps(r.layer)
    blocks = []
    for c, row in enumerate(groups):
        n = len(row)
        mu = sp.Add(*row) / n
        spread = sp.sqrt(sp.Add(*[(e - mu) ** 2 for e in row]) / n + eps)
        hat = sp.Matrix([(e - mu) / spread for e in row])
        scale = gamma[c] if x.ndim > 1 else None
        block = (sp.eye(n) - sp.ones(n, n) / n - hat * hat.T / n) / spread
        blocks.append(block * scale if scale is not None else diag(list(gamma)) * block)
    truth = jacobian(run(r.maps.pre, r, t.values()), t.flat("x"))
    return sp.diag(*blocks), truth


STRUCTURES: dict[str, Structure] = {  # kind → the Jacobian its section displays
    "dense": _dense, "dense_per_sample": _per_sample, "residual": _residual, "conv1d": _conv,
    "recurrent": _recurrent, "layernorm": _normalized, "batchnorm": _normalized,
}


# ---------------------------------------------------------------- the claims


def _compare(name: str, text: str, tex: str, r: Resolved, got: sp.Matrix, want: sp.Matrix,
             session: Exact, parameter: str | None = None) -> Claim:
    started = time.perf_counter()
    sizes = ", ".join(f"{k} = {v}" for k, v in sorted(r.sizes.items(), key=str))
    status, entry, residual = "proved", None, ""
    if got.shape != want.shape:
        status, residual = "failed", f"shape {got.shape} where {want.shape}"
    else:
        difference = first_difference(got, want, session)
        if difference is not None:
            status, entry, residual = "failed", difference[0], glimpse(difference[1])
    claim = Claim(f"layer {r.index} ({r.kind.name}): {text}, for any elementwise sigma, at this "
                  f"network's sizes ({sizes})", tex, "function", status,
                  f"by exact comparison, entry by entry, at this network's sizes only ({sizes})",
                  layer=r.index, parameter=parameter, name=name, entry=entry, residual=residual)
    claim.seconds = time.perf_counter() - started
    return claim


def layer_identities(r: Resolved, session: Exact | None = None) -> LayerIdentities:
    """Every claim of layer r's section (``_SETTLED``: once per maps and sizes)."""
    key = (r.kind.name, r.layer, tuple(r.maps.all()), tuple(sorted(r.sizes.items(), key=str)),
           STRUCTURES.get(r.kind.name))
    if key not in _SETTLED:
        _SETTLED[key] = _identities(r, session or Exact())
    return _SETTLED[key]


_SETTLED: dict[tuple, LayerIdentities] = {}


def _identities(r: Resolved, session: Exact) -> LayerIdentities:
    l, maps = r.index, r.maps
    found = LayerIdentities(l)
    if r.kind.name in UNCHECKED:
        found.unchecked = UNCHECKED[r.kind.name]
        return found
    t = tensors_of(r)
    structure = STRUCTURES.get(r.kind.name)
    if structure is not None:
        built, truth = structure(r, t, found)
        found.claims["jacobian"] = _compare(
            f"jacobian {l}", "the Jacobian shown equals SymPy's jacobian of the layer's maps",
            rf"J_{{{l}}} = \text{{jacobian of layer {l}}}", r, built, truth, session)
    if maps.pre.own is not None:
        found.claims["steps"] = _through_time(r, t, session)
    if registry.activation(maps.activation).elementwise:
        found.claims["delta"] = _delta(r, t, session)
    delta, g = t.flat("delta"), t.flat("g")
    pre = run(maps.pre, r, t.values())
    skip = None if maps.skip is None else run(maps.skip, r, t.values())

    def chain(by: list[sp.Expr]) -> sp.Matrix:
        total = contract(pre, by, delta)
        return total if skip is None else total + contract(skip, by, g)

    passed = sp.Matrix(run(maps.input_vjp, r, t.values()))
    if maps.skip_vjp is not None:
        passed += sp.Matrix(run(maps.skip_vjp, r, t.values()))
    found.claims["input"] = _compare(
        f"input {l}", "the Jacobian by the input, transposed, times delta (plus the skip's "
        "times g) equals the kind's input VJP",
        rf"J_{{{l}}}^{{T}} \delta_{{{l}}} = \text{{the input VJP of layer {l}}}", r,
        chain(t.flat("x")), passed, session)
    for p in maps.params:
        found.claims[p.name] = _compare(
            f"{p.name} {l}", f"the sum over z of delta times dz/d{p.name} (plus the skip's) "
            f"equals the kind's gradient of {p.name}",
            rf"\sum_i \delta_i\, \partial z_i / \partial {p.name} = \text{{its gradient map}}",
            r, chain(t.flat(p.name)), sp.Matrix(run(maps.param_vjps[p.name], r, t.values())),
            session, parameter=p.name)
    return found


def _delta(r: Resolved, t: Tensors, session: Exact) -> Claim:
    """δ = ∂C/∂z: the Jacobian of a by z (and, for a scan, of the next step's z by this
    step's, through σ) transposed times g (times δ), against the kind's δ maps."""
    maps, z = r.maps, t.arrays["z"]
    chained = contract(list(after_sigma(r, t, z)), t.flat("z"), t.flat("g"))
    taken = sp.Matrix(t.flat("g")) if maps.delta_from_g is None else \
        sp.Matrix(run(maps.delta_from_g, r, t.values()))
    if maps.pre.own is not None:
        own = sigma_of(z)
        shifted = run(maps.pre, r, t.values(**{maps.pre.own.name: own}))
        chained += contract(shifted, t.flat("z"), t.flat("delta"))
        assert maps.own_vjp is not None
        taken += sp.Matrix(run(maps.own_vjp, r, t.values()))
    stated = sp.Matrix([a * SIGMA_PRIME(e) for a, e in zip(taken, t.flat("z"))])
    return _compare(f"delta {r.index}", "the Jacobian of a by z, transposed, times g (plus the "
                    "next step's) equals the kind's delta", rf"\delta_{{{r.index}}} = "
                    r"J_{a z}^{T} g", r, chained, stated, session)


def _through_time(r: Resolved, t: Tensors, session: Exact) -> Claim:
    """∂s_T/∂s_1 = Π_(t=T..2) diag(σ'(z_t)) W: SymPy's Jacobian of the steps unrolled from a
    free state s_1 = h, against the product of the steps' Jacobians."""
    maps = r.maps
    assert maps.pre.own is not None
    units, steps = t.arrays["z"].shape
    start = [sp.Symbol(f"h_{j + 1}") for j in range(units)]
    states: dict[int, list[sp.Expr]] = {0: start}  # 0-based step → its state
    zs: dict[int, list[sp.Expr]] = {}
    at = maps.pre.at(r.sizes, {**t.values(), maps.pre.own.name:
                               lambda i: states[i[1]][i[0]]})
    for step in range(1, steps):
        zs[step] = [at((j + 1, step + 1)) for j in range(units)]
        states[step] = [Sigma(e) for e in zs[step]]
    w = matrix_of(t.arrays["W"])
    product = sp.eye(units)
    for step in range(1, steps):
        product = diag([SIGMA_PRIME(e) for e in zs[step]]) * w * product
    truth = jacobian(states[steps - 1], start)
    return _compare(f"steps {r.index}", "the Jacobian of the last state by the first, through "
                    "the unrolled steps, equals the product of the steps' Jacobians",
                    r"\partial s_T / \partial s_1 = \prod_t \operatorname{diag}(\sigma'(z_t))\, W",
                    r, product, truth, session)


def network_identities(d: Derivation, session: Exact | None = None) -> list[LayerIdentities]:
    """Every layer's identities, from the first layer to the last."""
    session = session or Exact()
    return [layer_identities(r, session) for r in d.net.resolved]
