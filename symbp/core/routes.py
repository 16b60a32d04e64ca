"""Two of the three routes to ∂C/∂W_l and ∂C/∂b_l (the third, the recursion, has its own file).

Each route is data first, and its gradient is derived from that data only when asked:

1. ``ChainRule`` — the path of influence: the factors ∂C/∂a_L (a row), ∂a_m/∂a_{m-1}
   for m = L, ..., l+1 in that order, and ∂a_l/∂W_l, ∂a_l/∂b_l, each a local Jacobian
   computed by SymPy from its layer's own map (``local_jacobian``) in layered symbols
   (z^{(l)}_j, a^{(l)}_j), as the documents show it. Its ``weight`` and ``bias``, the
   product written out (exponential in the depth once expanded), are formed for layer l
   alone (no reuse between layers: the redundancy backprop removes) when first asked.
2. ``DirectRoute`` — the fully composed cost and the parameters it is differentiated by;
   its ``gradient`` is the derivative by SymPy's own rules (``differentiate``:
   ``sympy.diff``, reusing shared subexpressions): the ground truth, sharing nothing with
   the other two but the forward pass.

The prover checks the data (each factor against its lemma, the composed forward pass
against the layer maps), so a route is proved at any size without being expanded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import sympy as sp

from . import layers
from .symbols import NetworkSymbols

# ---------------------------------------------------------------- expansion


@dataclass(frozen=True)
class ChainRule:
    """The expansion of ∂C/∂W_l and ∂C/∂b_l for one layer l, as its factors.

    ``cost_gradient`` is ∂C/∂a_L (a row); ``jacobians`` are (m, ∂a_m/∂a_{m-1}) for
    m = L, ..., l+1 in that order; ``weight_factor`` is ∂a_l/∂W_l, one column per entry
    of W_l in row-major order (sparse: a unit of an elementwise layer sees one row of
    W_l), and ``bias_factor`` is ∂a_l/∂b_l; ``other_factors`` the same for any other
    parameter of the layer's kind (a residual's projection P), with its matrix shape.
    ``row``, ``weight``, ``bias`` and ``gradient(name)`` are their products, formed when
    first asked. Through a skip, ∂a_m/∂a_{m-1} has the skip's identity in it: multiplied
    out, the chain is the sum over every path of influence, the highways too.
    """

    l: int
    cost_gradient: sp.ImmutableMatrix
    jacobians: tuple[tuple[int, sp.ImmutableMatrix], ...]
    weight_factor: sp.ImmutableSparseMatrix
    bias_factor: sp.ImmutableMatrix
    other_factors: tuple[tuple[str, sp.ImmutableSparseMatrix, tuple[int, int]], ...] = ()

    @cached_property
    def row(self) -> sp.Matrix:
        """∂C/∂a_l = ∂C/∂a_L · ∂a_L/∂a_{L-1} ⋯ ∂a_{l+1}/∂a_l, multiplied left to right."""
        row = sp.Matrix(self.cost_gradient)
        for _, jacobian in self.jacobians:
            row = row * jacobian
        return row

    @cached_property
    def weight(self) -> sp.Matrix:
        """∂C/∂W_l = ∂C/∂a_l · ∂a_l/∂W_l, shaped like W_l."""
        rows = self.bias_factor.cols
        product = sp.Matrix(self.row * self.weight_factor)
        return product.reshape(rows, product.cols // rows)

    @cached_property
    def bias(self) -> sp.Matrix:
        """∂C/∂b_l = (∂C/∂a_l · ∂a_l/∂b_l)ᵀ, a column."""
        return sp.Matrix(self.row * self.bias_factor).T

    def gradient(self, name: str) -> sp.Matrix:
        """∂C/∂θ_l for any parameter of the layer: W, b, or another of its kind's."""
        if name == "W":
            return self.weight
        if name == "b":
            return self.bias
        for other, factor, shape in self.other_factors:
            if other == name:
                return sp.Matrix(self.row * factor).reshape(*shape)
        raise ValueError(f"layer {self.l} has no parameter {name!r}")


def jacobian(exprs: Sequence[sp.Expr], wrt: Sequence[sp.Symbol],
             rename: dict[sp.Expr, sp.Expr] | None = None) -> dict[tuple[int, int], sp.Expr]:
    """The nonzero entries of ∂exprs_i/∂wrt_k, by SymPy's rules, each subexpression once.

    Forward: every subexpression carries its derivatives by the symbols of ``wrt`` it
    contains, so a layer's map σ(W a + b) costs one pass, not one ``sympy.diff`` per
    entry and symbol (64 × 4096 of them for ∂a_l/∂W_l of a 64-wide layer). The rules
    are ``differentiate``'s: sum, product, integer power, a function's own ``fdiff``
    (the chain rule through each argument), anything else ``sympy.diff``. ``rename``
    (``xreplace`` rules) is applied to every factor a rule brings in, once per factor:
    the result as ``xreplace(rename)`` would write it, without rewriting every entry.
    """
    index = {s: k for k, s in enumerate(wrt)}
    done: dict[sp.Basic, dict[int, sp.Expr]] = {}
    renamed: dict[sp.Expr, sp.Expr] = {}

    def named(e: sp.Expr) -> sp.Expr:
        if not rename:
            return e
        if e not in renamed:
            renamed[e] = e.xreplace(rename)
        return renamed[e]

    def gathered(parts: list[tuple[sp.Expr, dict[int, sp.Expr]]]) -> dict[int, sp.Expr]:
        terms: dict[int, list[sp.Expr]] = {}
        for factor, derivatives in parts:
            if derivatives:
                factor = named(factor)
                for k, value in derivatives.items():
                    terms.setdefault(k, []).append(
                        value if factor is sp.S.One else factor if value is sp.S.One
                        else factor * value)
        return {k: sp.Add(*t) for k, t in terms.items()}

    def d(e: sp.Basic) -> dict[int, sp.Expr]:
        if e in done:
            return done[e]
        args = e.args
        if e in index:
            result = {index[e]: sp.S.One}
        elif not args:
            result = {}
        elif e.is_Add:
            result = gathered([(sp.S.One, d(a)) for a in args])
        elif e.is_Mul:
            result = gathered([(sp.Mul(*args[:i], *args[i + 1:]), d(a))
                               for i, a in enumerate(args)])
        elif e.is_Pow and not d(args[1]):
            result = gathered([(args[1] * args[0] ** (args[1] - 1), d(args[0]))])
        elif isinstance(e, sp.Function):
            result = gathered([(e.fdiff(i + 1), d(a)) for i, a in enumerate(args) if d(a)])
        else:
            result = {index[s]: named(sp.diff(e, s)) for s in e.free_symbols if s in index}
        done[e] = {k: v for k, v in result.items() if v != 0}
        return done[e]

    return {(i, k): value for i, e in enumerate(exprs) for k, value in d(e).items()}


def _affine(s: NetworkSymbols, l: int) -> list[sp.Expr]:
    """W_l a_{l-1} + b_l in layered symbols, entry by entry (a SymPy matrix product is slow)."""
    W, a, b = s.weights(l), s.a_symbols(l - 1), s.biases(l)
    return [sp.Add(*[W[j, k] * a[k] for k in range(W.cols)], b[j]) for j in range(W.rows)]


def _differentiated(s: NetworkSymbols, l: int,
                    wrt: list[sp.Symbol]) -> dict[tuple[int, int], sp.Expr]:
    affine = _affine(s, l)
    layer_map = s.net.activation(l).apply(affine)
    return jacobian(layer_map, wrt, s.layered_map(l, sp.Matrix(affine)))


def local_jacobian(s: NetworkSymbols, l: int, wrt: sp.Matrix) -> sp.ImmutableMatrix:
    """∂a_l/∂(wrt), differentiated by SymPy from layer l's own map σ_l(W_l a_{l-1} + b_l).

    The result is written in layered symbols: the affine map becomes z_l and
    σ_l(z_l) becomes a_l.
    """
    entries = _differentiated(s, l, list(wrt))
    return sp.ImmutableMatrix(s.net.widths[l], len(wrt),
                              lambda i, k: entries.get((i, k), sp.S.Zero))


@dataclass(frozen=True)
class LayerFactors:
    """Layer l's own map σ_l(W_l a_{l-1} + b_l) differentiated by SymPy, in layered symbols:
    by a_{l-1} (``inputs``, None for layer 1, which no chain needs), by the entries of W_l in
    row-major order (``weights``, sparse) and by b_l (``biases``)."""

    inputs: sp.ImmutableMatrix | None
    weights: sp.ImmutableSparseMatrix
    biases: sp.ImmutableMatrix
    others: tuple[tuple[str, sp.ImmutableSparseMatrix, tuple[int, int]], ...] = ()


def layer_factors(s: NetworkSymbols, l: int) -> LayerFactors:
    """Every local Jacobian of layer l that a chain uses, in one pass over its map."""
    a = list(s.a_symbols(l - 1)) if l > 1 else []
    W, b = list(s.weights(l)), list(s.biases(l))
    others = {name: M for name, M in s.layer_parameters(l).items() if name not in ("W", "b")}
    wrt = [*a, *W, *b, *(p for M in others.values() for p in M)]
    entries = (_differentiated(s, l, wrt) if s.net.resolved[l - 1].kind.name == "dense"
               else _kind_differentiated(s, l, wrt))
    n = s.net.widths[l]

    def block(start: int, width: int) -> dict[tuple[int, int], sp.Expr]:
        return {(i, k - start): v for (i, k), v in entries.items() if start <= k < start + width}

    def dense(start: int, width: int) -> sp.ImmutableMatrix:
        found = block(start, width)
        return sp.ImmutableMatrix(n, width, lambda i, k: found.get((i, k), sp.S.Zero))

    inputs = dense(0, len(a)) if a else None
    start = len(a) + len(W) + len(b)
    other_factors = []
    for name, M in others.items():
        other_factors.append((name, sp.ImmutableSparseMatrix(n, len(M), block(start, len(M))),
                              M.shape))
        start += len(M)
    return LayerFactors(inputs, sp.ImmutableSparseMatrix(n, len(W), block(len(a), len(W))),
                        dense(len(a) + len(W), len(b)), tuple(other_factors))


def _kind_differentiated(s: NetworkSymbols, l: int,
                         wrt: list[sp.Symbol]) -> dict[tuple[int, int], sp.Expr]:
    """Layer l's whole map (its kind's pre map, σ, and its skip or post map) on a_{l-1},
    differentiated by SymPy; written in layered symbols where its pre-activation is z_l
    (a_l is not σ(z_l) when a skip or a post map follows: σ(z_l) stays as it is)."""
    r = s.net.resolved[l - 1]
    act = s.net.activation(l)
    z, a = layers.forward(r, list(s.a_symbols(l - 1)), s.layer_parameters(l), act.apply)
    rename: dict[sp.Expr, sp.Expr] = dict(zip(z, s.z_symbols(l)))
    if r.maps.skip is None and r.maps.post is None:
        rename.update(zip(act.apply(list(z)), s.a_symbols(l)))
    return jacobian(a, wrt, rename)


def cost_row(s: NetworkSymbols) -> sp.Matrix:
    """∂C/∂a_L as a row, the first factor of every chain: SymPy's derivative of the cost formula."""
    a_out = list(s.a_symbols(s.L))
    terms: dict[sp.Symbol, list[sp.Expr]] = {a: [] for a in a_out}
    for term in sp.Add.make_args(s.net.cost_entry.formula(a_out, list(s.y))):
        for symbol in term.free_symbols & terms.keys():
            terms[symbol].append(term)
    # sympy.diff term by term, each by the symbols it contains: the same as Matrix.jacobian,
    # which would differentiate all n_L terms by each of the n_L outputs
    return sp.Matrix([[sp.Add(*[sp.diff(t, a) for t in terms[a]]) for a in a_out]])


def expand_chain_rule(s: NetworkSymbols, l: int,
                      factors: Callable[[int], LayerFactors] | None = None,
                      first: sp.Matrix | None = None) -> ChainRule:
    """The chain ∂C/∂W_l = ∂C/∂a_L · ∂a_L/∂a_{L-1} ⋯ ∂a_{l+1}/∂a_l · ∂a_l/∂W_l for layer l.

    ``factors(m)`` gives layer m's local Jacobians and ``first`` the row ∂C/∂a_L (caches
    shared by every layer's chain); by default each is differentiated afresh. Nothing is
    multiplied here: the products are the chain's ``weight`` and ``bias``.
    """
    if factors is None:
        factors = lambda m: layer_factors(s, m)  # noqa: E731
    row = cost_row(s) if first is None else first
    jacobians = tuple((m, factors(m).inputs) for m in range(s.L, l, -1))
    own = factors(l)
    return ChainRule(l, sp.ImmutableMatrix(row), jacobians,  # type: ignore[arg-type]
                     own.weights, own.biases, own.others)


# ---------------------------------------------------------------- direct


@dataclass(frozen=True)
class DirectRoute:
    """The direct route for layer l, as data: the composed cost and the parameters W_l, b_l
    (and any other of its kind's, ``others``) it is differentiated by. ``gradient``
    differentiates, when asked."""

    l: int
    cost: sp.Expr  # C in x, y, W and b
    weights: sp.ImmutableMatrix
    biases: sp.ImmutableMatrix
    others: tuple[tuple[str, sp.ImmutableMatrix], ...] = ()
    _gradients: dict[str, sp.ImmutableMatrix] = field(default_factory=dict, init=False,
                                                      repr=False, compare=False)

    def parameters(self, wrt: str) -> sp.ImmutableMatrix:
        if wrt == "W":
            return self.weights
        if wrt == "b":
            return self.biases
        for name, M in self.others:
            if name == wrt:
                return M
        raise ValueError(f"layer {self.l} has no parameter {wrt!r}")

    def gradient(self, wrt: str) -> sp.ImmutableMatrix:
        """The derivative of ``cost`` by every entry of W_l (``"W"``), b_l (``"b"``) or another
        parameter, formed
        when first asked."""
        if wrt not in self._gradients:
            params = self.parameters(wrt)
            self._gradients[wrt] = sp.ImmutableMatrix(
                *params.shape, [differentiate(self.cost, p) for p in params])
        return self._gradients[wrt]


def direct_route(s: NetworkSymbols, l: int) -> DirectRoute:
    """The fully composed cost of ``s``, to be differentiated by W_l and b_l."""
    others = tuple((name, sp.ImmutableMatrix(M)) for name, M in s.layer_parameters(l).items()
                   if name not in ("W", "b"))
    return DirectRoute(l, s.composed_cost(), sp.ImmutableMatrix(s.weights(l)),
                       sp.ImmutableMatrix(s.biases(l)), others)


def differentiate(expr: sp.Expr, p: sp.Symbol) -> sp.Expr:
    """∂expr/∂p by SymPy's own rules, applied once per distinct subexpression.

    The same result as ``sympy.diff(expr, p)``; but ``diff`` recomputes the free
    symbols of every subtree at every level and never reuses the derivative of a
    subexpression shared by many paths (σ(z_l) feeds every unit of layer l+1),
    which makes it 25 times slower on a composed cost. Sums, products and integer
    powers follow the sum, product and power rules, a function its own ``fdiff``
    (the chain rule through each argument), anything else ``sympy.diff`` itself.
    """
    contains: dict[sp.Basic, bool] = {}
    done: dict[sp.Basic, sp.Expr] = {}

    def has(e: sp.Basic) -> bool:
        if e not in contains:
            contains[e] = e == p if not e.args else any(has(a) for a in e.args)
        return contains[e]

    def d(e: sp.Expr) -> sp.Expr:
        if not has(e):
            return sp.S.Zero
        if e in done:
            return done[e]
        args = e.args
        if e == p:
            result: sp.Expr = sp.S.One
        elif e.is_Add:
            result = sp.Add(*[d(a) for a in args])
        elif e.is_Mul:
            result = sp.Add(*[sp.Mul(*args[:i], d(a), *args[i + 1:])
                              for i, a in enumerate(args) if has(a)])
        elif e.is_Pow and not has(args[1]):
            result = args[1] * args[0] ** (args[1] - 1) * d(args[0])
        elif isinstance(e, sp.Function):
            result = sp.Add(*[e.fdiff(i + 1) * d(a) for i, a in enumerate(args) if has(a)])
        else:
            result = sp.diff(e, p)
        done[e] = result
        return result

    return d(expr)
