"""A layer's pre map as one atom in the second-order lemmas: attention's, whose derivatives hold
the softmax Jacobian on both sides of every lemma.

The layer lemma (``kinds_second_lemmas``) compares what the curvature step leaves after a
layer's nodes with the chain rule through F = post(σ(pre(a^{(e-1)}; θ))). Both sides read the
pre map only through its first and second derivatives: the step through the z node's blocks
∂pre/∂u and ∂²pre/∂u∂w, the chain rule through SymPy's derivatives of pre inside F. Written
out for attention, each of those is a nested sum over the row softmax's Jacobian, and one
lemma through W_Q and W_K is about a thousand terms that the normal forms do not close in
minutes. So for such a layer the lemma is decided in two parts:

- the atom lemma: the same lemma with pre_i an opaque ``Pre(i)``, its derivative in an entry
  u_α of what it reads an opaque ``Slope(u, i, α)``, and the Slope's in w_β an opaque
  ``Curve(u, w, i, α, β)`` (one atom for ∂²/∂u∂w and ∂²/∂w∂u: equal, the pre map being
  smooth), each 0 exactly where the own node leaves a block out (SymPy's derivative 0). The
  step is run on the z node built from ``Pre`` (``curvature_blocks.node``, as for the real
  one) and the chain rule is SymPy's through ``Pre``; it is then the lemma of a dense layer in
  size, decided as every lemma is (``general.check``), for every value of the atoms;
- the bridge: the step is also run on the layer's own z node (SymPy's derivatives of the
  kind's pre map, attention's through ``row_softmax``), and what it leaves must be, up to the
  names of summation indices, what it left on the atoms with each atom replaced by the own
  node's entry it stands for (``bridged``): the step did the same on both.

Why this is sound. Let d be the layer's own derivatives. The chain rule through Pre with
Slope := d₁, Curve := d₂ put in is the chain rule through the layer's pre map (SymPy's chain
rule through an opaque function; the atoms are 0 exactly where d is). An identity proved for
every value of the atoms holds at d, and the bridge says the step's result on the own node is
the atom result at d. So the real lemma holds. (d differentiates attention's weights through
the registered softmax Jacobian, ``row_softmax``; that it is their derivative is the row softmax
lemma, which the theorem's "first order" premise proves, as it did before atoms.) The atoms only
forget: an identity that needs something about d (a relation between its entries) is not
proved; a derivative of an atom in anything but an entry the layer reads or its own z stays
unevaluated (nothing follows from it); and a step that treats the own node otherwise than the
atom one fails the bridge, and that identity is then not proved ("screened") whatever the atom
lemma says. Written out at small sizes, an atom lemma keeps its atoms as independent values: a
difference found there refutes the step for a generic map of the layer's shapes, and is
reported "failed" only when an instance at those small sizes with the own derivatives put in
differs too (a true counterexample), else "screened", not proved.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any, ClassVar

import sympy as sp

from ..core.layers import Layer
from ..core.network import Network
from . import general
from .curvature_blocks import node
from .general import Identity, Outcome
from .row_softmax import _canonical, written_softmax

KINDS = frozenset({"attention"})  # layer kinds whose lemmas read their pre map as an atom


class Pre(sp.Function):
    """pre_i (args: the output's indices), opaque; subclassed per layer (``Atoms``)."""

    atoms: ClassVar[Any] = None

    def _eval_derivative(self, x: sp.Basic) -> sp.Expr | None:
        return self.atoms.first(self.args[len(self.atoms.bases):], x)


class Slope(sp.Function):
    """∂pre_i/∂u_α (args: u, then i, then α), opaque."""

    atoms: ClassVar[Any] = None

    def _eval_derivative(self, x: sp.Basic) -> sp.Expr | None:
        return self.atoms.second(self.args[len(self.atoms.bases):], x)


class Curve(sp.Function):
    """∂²pre_i/∂u_α∂w_β (args: u, w, then i, α, β), opaque; never differentiated again."""


class Atoms:
    """One layer's pre map as atoms: which variables it reads, where its derivatives are 0
    (from its own z node), and what each atom stands for there."""

    def __init__(self, z_node: Any, out: Any, reads: list[Any]):
        self.out, self.reads = out, reads
        # the own node's blocks as they are now: a step run on it later cannot change them
        self.firsts = dict(z_node.jacobian[0])
        self.seconds = dict(z_node.second[0])
        self.z_node: Any = None  # the z node built from ``pre`` (``layer``)
        self.variables = {v.symbol: v for v in reads}
        # the bases of what it reads, its first arguments: SymPy differentiates a function
        # only by what its arguments' free symbols share
        self.bases = tuple(sorted({v.entry(tuple(sp.Dummy() for _ in v.shape)).base
                                   for v in reads}, key=sp.default_sort_key))
        name = f"{out.symbol}"
        pre = type(f"Pre_{name}", (Pre,), {"atoms": self})
        self.pre = lambda *i: pre(*self.bases, *i)  # the atom at entry i
        self.slope = type(f"Slope_{name}", (Slope,), {"atoms": self})
        self.curve = type(f"Curve_{name}", (Curve,), {})

    def _which(self, x: sp.Basic) -> tuple[Any, tuple] | None:
        """(the variable, α) when x is entry α of one the pre map reads."""
        if not isinstance(x, sp.Indexed):
            return None
        for v in self.reads:
            probe = v.entry(tuple(sp.Dummy() for _ in v.shape))
            if (x.base == probe.base and len(x.indices) == len(probe.indices)
                    and x.indices[:len(x.indices) - len(v.shape)]
                    == probe.indices[:len(probe.indices) - len(v.shape)]):
                return v, tuple(x.indices[len(x.indices) - len(v.shape):])
        return None

    def first(self, i: tuple, x: sp.Basic) -> sp.Expr | None:
        found = self._which(x)
        if found is None:  # a z entry (no scan here) or a symbol of the lemma: not read
            return sp.S.Zero if _not_read(x) else None
        v, alpha = found
        return self.slope(*self.bases, v.symbol, *i, *alpha) if v.symbol in self.firsts \
            else sp.S.Zero

    def second(self, args: tuple, x: sp.Basic) -> sp.Expr | None:
        u = self.variables[args[0]]
        n = len(self.out.shape)
        i, alpha = args[1:1 + n], args[1 + n:]
        found = self._which(x)
        if found is None:
            return sp.S.Zero if _not_read(x) else None
        w, beta = found
        blocks = self.seconds
        if (u.symbol, w.symbol) in blocks:
            return self.curve(u.symbol, w.symbol, *i, *alpha, *beta)
        if (w.symbol, u.symbol) in blocks:
            return self.curve(w.symbol, u.symbol, *i, *beta, *alpha)
        return sp.S.Zero

    def stands_for(self, expr: sp.Expr) -> sp.Expr:
        """``expr`` with every atom the own node's entry it stands for."""
        n = len(self.out.shape)

        def value(atom: sp.Expr) -> sp.Expr:
            if isinstance(atom, Curve):
                u, w = atom.args[:2]
                rest = atom.args[2:]
                ru = len(self.variables[u].shape)
                block = self.seconds[(u, w)]
                return block.at(rest[:n], rest[n:n + ru], rest[n + ru:])
            args = atom.args[len(self.bases):]
            block = self.firsts[args[0]]
            return block.at(args[1:1 + n], args[1 + n:])

        return expr.replace(lambda e: isinstance(e, (self.slope, self.curve)), value)


    def identity(self, identity: Identity, own: sp.Expr) -> AtomIdentity:
        """The atom lemma ``identity``, with whether the step's entry on the own node (``own``)
        is its entry here with the atoms put in."""
        fields = {f.name: getattr(identity, f.name) for f in dataclasses.fields(identity)}
        return AtomIdentity(**fields, atoms=self, bridge=bridged(own, identity.lhs, self))


def layer(s: Any, m: int, z_node: Any, below: list[Any]) -> Atoms | None:
    """Layer m's pre map as atoms, where its kind is one of ``KINDS`` (None elsewhere); its
    own z node ``z_node`` gives where the derivatives are 0 and what the atoms stand for."""
    r = s.net.resolved[m - 1]
    if r.kind.name not in KINDS or r.kind.maps(r.layer).pre.own is not None:
        return None
    z = s.z(m)
    reads = s.reads(m, s.pre(m, z.indices()), below)
    atoms = Atoms(z_node, z, reads)
    atoms.z_node = node(m, "z", z, lambda i: atoms.pre(*i), reads, _diff)
    return atoms


def cross_network(net: Network) -> Network:
    """The network the theorem's per-network cross-check runs on: ``net``, each layer of
    ``KINDS`` with d_k = d_v = 1 and at most 2 tokens. Written out, attention's second
    derivatives grow as T³ d_k d_v (the example's own, 3 tokens, d_k = d_v = 2, take minutes);
    the lemmas are for every size."""
    if not any(layer.kind in KINDS for layer in net.layers):
        return net
    layers = [Layer(layer.kind, {**dict(layer.options), "key": 1, "value": 1})
              if layer.kind in KINDS else layer for layer in net.layers]
    shape = (*net.input_shape[:1], *[min(n, 2) for n in net.input_shape[1:]])
    try:
        return Network(layers=layers, inputs=shape, cost=net.cost)
    except ValueError:  # a shape the smaller one cannot take: the network itself
        return net


def _diff(expr: sp.Expr, x: sp.Expr) -> sp.Expr:
    return expr.diff(x)


def _not_read(x: sp.Basic) -> bool:
    """What no pre map of an atom layer reads: its own z (it is not a scan)."""
    from .index_entries import Z
    return isinstance(x, sp.Indexed) and x.base == Z


def bridged(own: sp.Expr, atom: sp.Expr, atoms: Atoms) -> bool:
    """The step's entry on the own node is its entry on the atoms with the atoms put in, up to
    the names of summation indices (and sums of 0, what an atom that is 0 leaves)."""
    put = _zero_sums(atoms.stands_for(atom))
    return bool(_canonical(_zero_sums(own)) == _canonical(put))


def _zero_sums(expr: sp.Expr) -> sp.Expr:
    return expr.replace(lambda e: isinstance(e, sp.Sum) and e.function == 0, lambda e: sp.S.Zero)


@dataclasses.dataclass
class AtomIdentity(Identity):
    """An atom lemma: its atoms, and whether the step's result on the own node bridged."""

    atoms: Atoms | None = None
    bridge: bool = True


def decide(identity: Identity) -> Outcome:
    """``general.check``; an atom lemma's by ``check``."""
    if isinstance(identity, AtomIdentity) and identity.atoms is not None:
        return check(identity, identity.atoms)
    return general.check(identity)


def check(identity: AtomIdentity, atoms: Atoms) -> Outcome:
    """``general.check`` of an atom lemma whose bridge holds; a refutation at small sizes
    confirmed with the own derivatives put in (module text)."""
    if not identity.bridge:
        return Outcome("screened", "the step's result on the layer's own node is not its result "
                       "on the atoms with the own derivatives put in (the bridge): not decided",
                       "", None, 0)
    outcome = general.check(identity)
    if outcome.status != "failed":
        return outcome
    own = dataclasses.replace(identity, lhs=atoms.stands_for(identity.lhs),
                              rhs=atoms.stands_for(identity.rhs), explicit=written_softmax)
    written: dict = {}
    for values in itertools.product(identity.checked or general.WIDTHS,
                                    repeat=len(identity.widths)):
        found, _ = general._instance(own, dict(zip(identity.widths, values)), written)
        if found is not None:  # a true counterexample: the layer's own map
            at, entry, text = found
            return Outcome("failed", f"refuted at widths {at}: entry {entry} differs (the "
                           "layer's own derivatives put in)", general._short(text), entry,
                           outcome.instances)
    return Outcome("screened", "differs at small sizes for a generic map of the layer's shapes "
                   f"({outcome.how}), not for this layer's own map there: not proved",
                   outcome.residual, None, outcome.instances)

