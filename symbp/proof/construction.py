"""The expansion and the direct route checked by their construction, at any size.

``expand`` compares the routes as fully expanded polynomials: exact, but exponential in
the depth. Here the prover checks instead what the routes are built from, in layered
symbols, each piece once, and concludes by two short arguments:

Expansion (``Derivation.chain_rule(l)``, a ``ChainRule``). Each factor is proved exactly
equal to its lemma: ∂C/∂a_L to SymPy's derivative of the cost formula (``differentiate``);
∂a_m/∂a_{m-1} to D_m W_m, where D_m is the registered Jacobian of σ_m at z_m
(diag(σ'(z_m)), or the softmax Jacobian); ∂a_l/∂W_l to D_l ∂z_l/∂W_l (entry (i, (j, k))
is D_l[i, j] a_{l-1,k}) and ∂a_l/∂b_l to D_l; and the Jacobian factors are those of
layers L, ..., l+1 in that order, each once. By associativity the chain's product is
∂C/∂a_L D_L W_L D_{L-1} ⋯ W_{l+1} D_l ∂z_l/∂W_l, and the recursion's own lemmas
(δ_L = ∂C/∂z_L = (∂C/∂a_L D_L)ᵀ, δ_l = (∂z_{l+1}/∂z_l)ᵀ δ_{l+1} = D_lᵀ W_{l+1}ᵀ δ_{l+1},
∂C/∂W_l = δ_l a_{l-1}ᵀ, ∂C/∂b_l = δ_l) say that the recursion's gradient is that same
product: expansion = recursion.

Direct (``Derivation.direct_route(l)``, a ``DirectRoute``). The composed forward pass
(``Derivation.composition``, which ``compose`` substitutes too) is checked layer by layer:
with the previous layer's composed entries replaced by fresh symbols, each z_l must be
exactly W_l a_{l-1} + b_l and each a_l exactly σ_l(z_l); the route's cost, with a_L's
replaced, exactly cost(a_L, y); its parameters W_l and b_l. Its gradient is then
``differentiate`` of the composition of the network's own maps: the rules the recursion's
lemmas use (sum, product, power, each function's ``fdiff``; tested equal to
``sympy.diff``) apply the chain rule through those same maps: direct = recursion.

Both arguments rest on the recursion's lemmas, so a route claim is proved only with the
recursion claim for the same gradient. Both are about the data the routes are built
from; what ``Derivation.grad`` returns is derived from that data by symbp's own code
(``ChainRule.weight``/``bias``, ``compose``, ``DirectRoute.gradient``). ``unchecked_code``
names a subclass's replacement of that code; the prover then compares grad's values
exactly where they are small, and makes no route claim where they are not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from itertools import islice

import sympy as sp

from ..core import routes
from ..core.derivation import Derivation
from . import kind_factors
from .composed import built_alike, replaced_once, sums_among
from .exact import Exact
from .lemmas import affine
from .settle import describe, short

ROUTE_CODE = ("grad", "_compute", "compose")  # between the checked data and grad's value
LARGEST_COMPARED = 2_000  # nodes: a bigger expression that is not the lemma's, in form, is
#                           not expanded to decide it (it would be the brute force avoided)


@dataclass(frozen=True)
class Problem:
    """Why one piece of a route's construction is not proved: where, the residual, and the
    piece (a noun phrase: "the chain's factor da_3/da_2 = J_σ(z_3) W_3")."""

    entry: tuple[int, int] | None
    residual: str
    culprit: str


def unchecked_code(d: Derivation) -> str:
    """"Class.method" when ``d``'s class replaces the code that derives grad's values from the
    checked data; "" when that code is symbp's."""
    for name in ROUTE_CODE:
        if getattr(type(d), name) is not getattr(Derivation, name):
            return f"{type(d).__name__}.{name}"
    return ""


def chain_text(L: int, l: int, wrt: str) -> str:
    """dC/da_3 · da_3/da_2 · da_2/da_1 · da_1/dW_1, the middle elided past four links."""
    links = [f"da_{m}/da_{m - 1}" for m in range(L, l, -1)]
    if len(links) > 4:
        links = [*links[:2], "⋯", *links[-1:]]
    return " · ".join([f"dC/da_{L}", *links, f"da_{l}/d{wrt}_{l}"])


class Construction:
    """The construction checks of one derivation, each piece checked once and remembered."""

    def __init__(self, d: Derivation, session: Exact, check_time: Callable[[], None]):
        self.d, self.session, self.check_time = d, session, check_time
        self._registered: dict[int, dict[tuple[int, int], sp.Expr]] = {}
        self._factors: dict[tuple[int, int], tuple[object, Problem | None]] = {}
        self._chains: dict[int, Problem | None] = {}
        self._costs: dict[int, tuple[object, Problem | None]] = {}
        self._forward: list[Problem | None] = []  # the forward pass's problem, once checked

    # ------------------------------------------------------------ the two routes

    def expansion(self, l: int, wrt: str) -> Problem | None:
        """The first problem of the chain of ∂C/∂W_l (``wrt="W"``) or ∂C/∂b_l; None if none."""
        forward = self.forward()
        if forward is not None:  # grad's expansion is composed by that forward pass
            return forward
        try:
            chain = self.d.chain_rule(l)
        except Exception as error:  # a chain that cannot be built fails its claims
            return Problem(None, describe(error), f"the chain of layer {l}")
        if type(chain) is not routes.ChainRule:
            return Problem(None, f"chain_rule({l}) is a {type(chain).__name__}, whose product "
                           "is not symbp's", f"the chain of layer {l}")
        if l not in self._chains:
            self._chains[l] = self._chain(chain, l)
        if self._chains[l] is not None:
            return self._chains[l]
        D = self.registered(l)
        if not self.dense(l):  # the factor from the kind's vector-Jacobian products
            factor = {"W": chain.weight_factor, "b": chain.bias_factor,
                      **{name: M for name, M, _ in chain.other_factors}}.get(wrt)
            size = len(self.d.layer_parameters(l)[wrt])
            return self._differs(factor, kind_factors.parameter_factor(self.d, l, wrt, D),
                                 (self.width(l), size),
                                 f"the chain's last factor da_{l}/d{wrt}_{l}, from the "
                                 f"{self.d.net.resolved[l - 1].kind.name} layer's VJP of {wrt}")
        if wrt == "b":
            return self._differs(chain.bias_factor, D, (self.width(l), self.width(l)),
                                 f"the chain's last factor da_{l}/db_{l} = J_σ(z_{l})")
        inputs = self._inputs(l)
        want = {(i, j * len(inputs) + k): value * a
                for (i, j), value in D.items() for k, a in enumerate(inputs)}
        return self._differs(chain.weight_factor, want,
                             (self.width(l), self.width(l) * len(inputs)),
                             f"the chain's last factor da_{l}/dW_{l} = J_σ(z_{l}) dz_{l}/dW_{l}")

    def direct(self, l: int, wrt: str) -> Problem | None:
        """The first problem of the direct route of ∂C/∂W_l or ∂C/∂b_l; None if none."""
        forward = self.forward()
        if forward is not None:
            return forward
        try:
            route = self.d.direct_route(l)
        except Exception as error:
            return Problem(None, describe(error), f"the direct route of layer {l}")
        if type(route) is not routes.DirectRoute:
            return Problem(None, f"direct_route({l}) is a {type(route).__name__}, whose "
                           "gradient is not symbp's", f"the direct route of layer {l}")
        key = id(route.cost)
        if key not in self._costs:
            self._costs[key] = (route.cost, self._cost(route.cost))
        problem = self._costs[key][1]
        if problem is not None:
            return problem
        want = self.d.layer_parameters(l)[wrt]
        return self._differs(route.parameters(wrt), sp.Matrix(want).todok(), want.shape,
                             f"the parameters the cost is differentiated by ({wrt}_{l})")

    # ------------------------------------------------------------ the pieces

    def width(self, l: int) -> int:
        return self.d.net.widths[l]

    def dense(self, l: int) -> bool:
        return self.d.net.resolved[l - 1].kind.name == "dense"

    def _inputs(self, l: int) -> list[sp.Expr]:
        return list(self.d.a_symbols(l - 1))

    def registered(self, m: int) -> dict[tuple[int, int], sp.Expr]:
        """D_m: the registered Jacobian ∂a_m/∂z_m (diag(σ'(z_m)), or softmax's), nonzeros."""
        if m not in self._registered:
            act = self.d.net.activation(m)
            z, a = list(self.d.z_symbols(m)), list(self.d.a_symbols(m))
            if act.elementwise:
                self._registered[m] = {(i, i): act.prime(zi) for i, zi in enumerate(z)}
            else:
                self._registered[m] = act.jacobian(z, a).todok()
        return self._registered[m]

    def _chain(self, chain: routes.ChainRule, l: int) -> Problem | None:
        """The first factor, and the Jacobian factors: layers L, ..., l+1, in that order."""
        L = self.d.L
        problem = self._differs(chain.cost_gradient, self._cost_row, (1, self.width(L)),
                                f"the chain's first factor dC/da_{L}")
        if problem is not None:
            return problem
        factors = list(chain.jacobians)
        wanted = list(range(L, l, -1))
        for position, m in enumerate(wanted):
            if position >= len(factors):
                return Problem(None, f"the chain has {len(factors)} Jacobian factors; "
                               f"layers {_span(wanted)} need {len(wanted)}",
                               f"the chain of layer {l}")
            label, matrix = factors[position]
            problem = self._jacobian(m, matrix)
            if problem is None and label != m:
                problem = Problem(None, f"factor {position + 1} is labelled layer {label}",
                                  f"the chain's factor da_{m}/da_{m - 1}")
            if problem is not None:
                return problem
        if len(factors) > len(wanted):
            return Problem(None, f"the chain has {len(factors)} Jacobian factors; layers "
                           f"{_span(wanted) or 'none'} need {len(wanted)}",
                           f"the chain of layer {l}")
        return None

    @cached_property
    def _cost_row(self) -> dict[tuple[int, int], sp.Expr]:
        """∂C/∂a_L by ``differentiate`` of the cost's formula (the route's is sympy.diff's)."""
        a, y = list(self.d.a_symbols(self.d.L)), list(self.d.y)
        cost = self.d.net.cost_entry.formula(a, y)
        row = {(0, k): routes.differentiate(cost, ak) for k, ak in enumerate(a)}
        return {key: value for key, value in row.items() if value != 0}

    def _jacobian(self, m: int, matrix: object) -> Problem | None:
        """∂a_m/∂a_{m-1} = D_m W_m, entry by entry; each matrix object checked once."""
        key = (m, id(matrix))
        if key not in self._factors and not self.dense(m):
            want = kind_factors.input_factor(self.d, m, self.registered(m))
            shape = (self.width(m), self.width(m - 1))
            problem = self._differs(matrix, want, shape,
                                    f"the chain's factor da_{m}/da_{m - 1}, from the "
                                    f"{self.d.net.resolved[m - 1].kind.name} layer's VJPs")
            self._factors[key] = (matrix, problem)
        if key not in self._factors:
            D, W = self.registered(m), self.d.weights(m)
            rows: dict[int, list[tuple[int, sp.Expr]]] = {}
            for (i, j), value in D.items():
                rows.setdefault(i, []).append((j, value))
            want = {(i, k): sp.Add(*[value * W[j, k] for j, value in entries])
                    for i, entries in rows.items() for k in range(W.cols)}
            problem = self._differs(matrix, want, W.shape,
                                    f"the chain's factor da_{m}/da_{m - 1} = J_σ(z_{m}) W_{m}")
            self._factors[key] = (matrix, problem)  # the matrix kept: its id stays its own
        return self._factors[key][1]

    def forward(self) -> Problem | None:
        """The composed forward pass, layer by layer against the network's maps (once)."""
        if not self._forward:
            self._forward.append(self._check_forward())
        return self._forward[0]

    def _check_forward(self) -> Problem | None:
        d = self.d
        try:
            composition = d.composition
            layered = {s for m in d.layers for s in (*d.z_symbols(m), *d.a_symbols(m))}
            extra = sorted(map(str, set(composition) - layered))
            if extra:  # compose would substitute these too
                return Problem(None, f"it also replaces {', '.join(extra[:3])}"
                               f"{', ...' if len(extra) > 3 else ''}",
                               "the composed forward pass")
            previous = list(d.x)
            for m in d.layers:
                self.check_time()
                inputs = _fresh(f"a{m - 1}_", len(previous))
                z = [composition[s] for s in d.z_symbols(m)]
                pre = _fresh(f"z{m}_", len(z))
                if self.dense(m):
                    z_want, a_want = affine(d, m, inputs), d.net.activation(m).apply(pre)
                    z_says, a_says = f"W_{m} a_{m - 1} + b_{m}", f"sigma_{m}(z_{m})"
                    a_rule = dict(zip(z, pre))
                else:  # the kind's maps: z from its input, a from z and its input
                    z_want, a_want = kind_factors.forward_maps(d, m, inputs, pre)
                    kind = d.net.resolved[m - 1].kind.name
                    z_says = a_says = f"the {kind} layer's maps"
                    a_rule = {**dict(zip(previous, inputs)), **dict(zip(z, pre))}
                back = {**dict(zip(inputs, previous)), **dict(zip(pre, z))}
                problem = self._replaced(z, dict(zip(previous, inputs)), z_want,
                                         f"the composed forward pass z_{m} = {z_says}")
                if problem is not None and not built_alike(z, z_want, back):
                    return problem
                a = [composition[s] for s in d.a_symbols(m)]
                problem = self._replaced(a, a_rule, a_want,
                                         f"the composed forward pass a_{m} = {a_says}")
                if problem is not None and not built_alike(a, a_want, back):
                    return problem
                previous = a
        except Exception as error:  # a composition that is not even a mapping of them
            return Problem(None, describe(error), "the composed forward pass")
        return None

    def _cost(self, cost: sp.Expr) -> Problem | None:
        d = self.d
        outputs = [d.composition[s] for s in d.a_symbols(d.L)]
        a = _fresh(f"a{d.L}_", len(outputs))
        return self._replaced([cost], dict(zip(outputs, a)),
                              [d.net.cost_entry.formula(a, list(d.y))],
                              f"the composed cost C = {d.net.cost}(a_{d.L}, y)")

    # ------------------------------------------------------------ comparing

    def _replaced(self, got: list, rule: dict, want: list, what: str) -> Problem | None:
        """``got`` with ``rule`` applied (once per distinct subexpression) against ``want``,
        entry by entry: (j, 1) names the first entry that is not proved equal."""
        memo: dict[int, sp.Basic] = {}
        sums = sums_among(rule)
        found = {(j, 0): replaced_once(e, rule, memo, sums) for j, e in enumerate(got)}
        return self._differs(found, {(j, 0): w for j, w in enumerate(want)}, (len(want), 1),
                             what)

    def _differs(self, got: object, want: dict, shape: tuple[int, int],
                 what: str) -> Problem | None:
        """The first entry (row-major) where ``got`` is not proved equal to ``want``'s
        nonzero entries (zero elsewhere); None when every entry is."""
        if isinstance(got, dict):
            have = got
        elif isinstance(got, sp.MatrixBase):
            if got.shape != shape:
                return Problem(None, f"shape {got.shape}; it should be {shape}", what)
            have = got.todok()
        else:
            return Problem(None, f"a {type(got).__name__}, not a matrix", what)
        for n, key in enumerate(sorted(have.keys() | want.keys())):
            if n % 1000 == 0:
                self.check_time()
            left, right = have.get(key, sp.S.Zero), want.get(key, sp.S.Zero)
            if left == right:
                continue
            residual = self._residual(left, right)
            if residual is not None:
                return Problem((key[0] + 1, key[1] + 1), residual, what)
        return None

    def _residual(self, left: sp.Expr, right: sp.Expr) -> str | None:
        """None when left = right is proved; else the difference, or why it is not decided."""
        if _larger_than(left, LARGEST_COMPARED) or _larger_than(right, LARGEST_COMPARED):
            return (f"not decided: an expression of more than {LARGEST_COMPARED:,} nodes that "
                    "is not the lemma's in form")
        residual = self.session.residual(sp.sympify(left), sp.sympify(right))
        if isinstance(residual, str):
            return residual
        return None if residual == 0 else short(residual)


def _larger_than(e: object, limit: int) -> bool:
    if not isinstance(e, sp.Basic):
        return False
    return sum(1 for _ in islice(sp.preorder_traversal(e), limit + 1)) > limit


def _fresh(prefix: str, n: int) -> list[sp.Dummy]:
    return [sp.Dummy(f"{prefix}{k + 1}") for k in range(n)]


def _span(layers: Iterable[int]) -> str:
    found = list(layers)
    return f"{found[0]}..{found[-1]}" if found else ""
