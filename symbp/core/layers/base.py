"""What a layer kind is: its options, its sizes, and its maps and their vector-Jacobian products
in index notation, the one formula every other form of the layer comes from.

A layer takes an input tensor x (a vector, or channels × positions) and gives an output a.
Between them a kind has three stages, each a ``Map`` from tensors to a tensor:

    z = pre(x; θ)          the layer's own map (W x + b, a convolution, ...)
    s = σ(z)               an elementwise activation (registry.ACTIVATIONS)
    a = post(s) + skip(x)  an optional map after it (pooling) and an optional skip (residual)

and it writes down, as maps too, the vector-Jacobian products that backpropagation takes
through it: δ = ∂C/∂z from g = ∂C/∂a, the gradient ∂C/∂θ of each parameter from δ and x,
and ∂C/∂x from δ and g. Those are the textbook formulas (a full convolution with the
flipped kernel, say); symbp proves each one equal to the chain rule through the kind's own
maps, per network and for every size, and prints every numeric form from them.

A tensor's entries are ``Indexed`` (x[c, u], W[o, c, s]); a map gives one entry of its
output for free indices running over the output's axes, with sums over the other indices.
The sizes of the axes are SymPy expressions in the kind's size symbols (n_in, n_out, k,
...), which a layer's options and its input shape turn into numbers (``sizes``).

A map may also read its own level one step along an axis (``Map.own``): a recurrent
layer's pre map reads s = σ(z) at t − 1, its δ map reads δ at t + 1, each edge term under an
Iverson bracket. Such a map is a scan, a system triangular along that axis: each entry reads
only entries already found, so its entries are found in order (``layers.forward``), a
proof takes the own entries as the bound symbols of one step (the chain rule through one
step, by induction over the steps), and the code finds them one step at a time, each
step's column from the columns found before it (``symbp.numeric.scans``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from math import prod
from typing import Any

import sympy as sp
from sympy.utilities.iterables import is_sequence

from ..built import entry
from ..limits import LayerSize
from .vector import Forms
from .written import valued, written_at

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Tensor:
    """A named array of a layer: its ``IndexedBase`` and the sizes of its axes."""

    name: str  # as the layer's symbols and the code name it: "x", "W", "delta"
    base: sp.IndexedBase
    axes: tuple[sp.Expr, ...]

    def __getitem__(self, index: Any) -> sp.Indexed:
        if self.base.shape is None:  # no rank to check: the entry shared (``built.entry``)
            return entry(self.base, index if is_sequence(index) else (index,))
        return self.base[index]

    def shape(self, sizes: Mapping[sp.Symbol, int]) -> Shape:
        return tuple(int(sp.sympify(a).xreplace(sizes)) for a in self.axes)

    def size(self, sizes: Mapping[sp.Symbol, int]) -> int:
        return prod(self.shape(sizes))


@dataclass(frozen=True)
class Map:
    """``out[index] = formula`` for every ``index`` in the axes of ``out``.

    ``inputs`` are the tensors the formula reads that a program passes in (x, δ, g), in
    that order; ``params`` those it reads from the layer's parameters; ``own`` (None: none)
    a tensor of the map's own level, one step along an axis: σ(out) for a pre map, the δ
    the layer binds for a VJP (a scan, module docstring).
    """

    out: Tensor
    index: tuple[sp.Symbol, ...]
    formula: sp.Expr
    inputs: tuple[Tensor, ...]
    params: tuple[Tensor, ...] = ()
    own: Tensor | None = None

    def entries(self, sizes: Mapping[sp.Symbol, int],
                values: Mapping[str, Callable[[tuple[int, ...]], sp.Expr]]) -> list[sp.Expr]:
        """The map at concrete sizes, row-major over the output's axes: every tensor entry
        t[i...] becomes ``values[t.name](i...)`` (0-based), every sum is written out."""
        shape = self.out.shape(sizes)
        at = self.at(sizes, values)
        return [at(point) for point in itertools.product(*[range(1, n + 1) for n in shape])]

    def at(self, sizes: Mapping[sp.Symbol, int],
           values: Mapping[str, Callable[[tuple[int, ...]], sp.Expr]]
           ) -> Callable[[tuple[int, ...]], sp.Expr]:
        """The entry at one point of the output (1-based), as ``entries`` gives it."""
        placed = written_at(self.formula, self.index, frozenset(sizes.items()))
        bases = {t.base: t.name for t in (*self.inputs, *self.params, *self.read_own)}
        return lambda point: valued(placed(point), bases, values)

    @property
    def read_own(self) -> tuple[Tensor, ...]:
        return () if self.own is None else (self.own,)


class Inside(sp.Function):
    """[first ≤ v ≤ last], the Iverson bracket: 1 where the index v lies in first..last, else 0.

    What zero padding multiplies by: x[c, u] [1 ≤ u ≤ N]. Its arguments are indices and sizes,
    so its derivative by any entry is 0; it evaluates once they are numbers (and never by
    assumptions on symbols, which a later substitution of an index could make wrong)."""

    nargs = 3
    is_integer = True
    is_nonnegative = True

    @classmethod
    def eval(cls, v: sp.Expr, first: sp.Expr, last: sp.Expr) -> sp.Expr | None:
        if v.is_Integer and first.is_Integer and last.is_Integer:
            return sp.Integer(int(int(first) <= int(v) <= int(last)))
        return None

    def _latex(self, printer: Any, exp: str | None = None) -> str:
        v, first, last = (printer._print(a) for a in self.args)
        tex = rf"[{first} \le {v} \le {last}]"
        return tex if exp is None else f"{tex}^{{{exp}}}"

    def _numpycode(self, printer: Any) -> str:
        v, first, last = (printer._print(a) for a in self.args)
        return f"(({first} <= {v}) & ({v} <= {last}))"

    _pythoncode = _numpycode


@dataclass(frozen=True)
class Option:
    """One option of a layer (a key of its TOML table): what it must be, and its default."""

    check: Callable[[Any], bool]
    expected: str  # "a positive integer", for the one-line error
    default: Any = None  # None: required (unless the kind derives it)


def positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def one_of(*choices: Any) -> Callable[[Any], bool]:
    return lambda value: value in choices


@dataclass(frozen=True)
class Layer:
    """One layer of a network: its kind and its options, as the user gave them.

    ``symbp.Layer("dense", units=3, activation="tanh")``; the kind checks the options
    (``symbp.core.layers.check``) and fills in its defaults.
    """

    kind: str
    options: tuple[tuple[str, Any], ...] = ()

    def __init__(self, kind: str, options: Mapping[str, Any] | None = None, **more: Any):
        merged = {**(options or {}), **more}
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "options", tuple(sorted(merged.items())))

    def get(self, key: str, default: Any = None) -> Any:
        return dict(self.options).get(key, default)

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.options)
        return f"Layer({self.kind!r}{', ' + shown if shown else ''})"


@dataclass(frozen=True)
class Maps:
    """The maps of one layer, its options resolved: what the module text describes.

    ``sizes(shape_in)`` gives the size symbols their values (``symbolic(e, shape_in)`` at a
    symbolic layer e, ``core.layers.symbolic``); ``pre``, ``post`` (None:
    a = s) and ``skip`` (None: none) are the forward maps; ``delta_from_g`` is post's VJP
    (None: δ = σ'(z) ⊙ g), ``param_vjps`` give ∂C/∂θ from δ (and x), ``input_vjp`` gives
    ∂C/∂x from δ, ``skip_vjp`` adds the skip's part from g.
    """

    sizes: Callable[[Shape], dict[sp.Symbol, int]]
    symbolic: Callable[[sp.Expr, tuple[sp.Expr, ...]], dict[sp.Symbol, sp.Expr]]  # the sizes
    # at symbolic layer e of the general theorem from its input's shape there: each free
    # size is a family of ``symbolic`` at e (n_e, c_e), the others follow from the input
    x: Tensor
    z: Tensor
    a: Tensor
    params: tuple[Tensor, ...]
    pre: Map
    param_vjps: dict[str, Map]
    input_vjp: Map
    activation: str = "sigmoid"
    keeps_width: bool = False  # the output has the input's width (a residual's skip needs it)
    post: Map | None = None
    skip: Map | None = None
    delta_from_g: Map | None = None
    skip_vjp: Map | None = None
    own_vjp: Map | None = None  # the pre map's own read passed back (δ at t + 1 to ∂C/∂s at
    # t, a recurrent layer's W_lᵀ δ_(t+1)): a scan reading the δ the layer binds (Map.own)

    def shape_out(self, shape_in: Shape) -> Shape:
        return self.a.shape(self.sizes(shape_in))

    def parameter_shapes(self, shape_in: Shape) -> dict[str, Shape]:
        sizes = self.sizes(shape_in)
        return {p.name: p.shape(sizes) for p in self.params}

    def all(self) -> Iterator[tuple[str, Map]]:
        """Every map, by name: the forward ones, then the VJPs."""
        yield "pre", self.pre
        for name, m in (("post", self.post), ("skip", self.skip),
                        ("delta_from_g", self.delta_from_g), ("skip_vjp", self.skip_vjp),
                        ("own_vjp", self.own_vjp)):
            if m is not None:
                yield name, m
        yield from self.param_vjps.items()
        yield "input_vjp", self.input_vjp


@dataclass(frozen=True)
class Bound:
    """What a layer's step of the recursion bound, for the layer below: its δ (∂C/∂z), and
    ∂C/∂a when its skip passes that back too."""

    delta: Any
    grad: Any = None


Step = Callable[[Any, Any, Any], Any]  # (ops, l, g or Bound) -> Bound or g


def backward_by_maps(ops: Any, l: Any, g: Any) -> Bound:
    """The backward step of a kind whose W and b have VJP maps of their own: δ_l = σ'(z_l) ⊙ g,
    then ∂C/∂W_l from δ_l and the layer's input, and ∂C/∂b_l from δ_l."""
    delta = ops.bind_delta(l, ops.activation_vjp(l, g))
    ops.gradient(l, weight=ops.vjp(l, "W", delta, ops.activation(l - 1)),
                 bias=ops.vjp(l, "b", delta))
    return Bound(delta)


@dataclass(frozen=True)
class Kind:
    """A kind of layer, as a registry entry: its options, how they make its maps, and its
    step of the δ recursion.

    ``check(layer, shape_in)`` raises a ValueError naming the key when the options do not
    fit the input (a kernel longer than it, a residual between unequal widths without a
    projection); ``maps(layer)`` gives the maps for those options. ``backward(ops, l, g)``
    takes ∂C/∂a_l, binds δ_l (and what else the layer below needs), gives ∂C/∂θ_l and
    returns a ``Bound``; ``pass_back(ops, l, bound)`` gives ∂C/∂a_(l-1) from it. Both are
    written against ``RecursionOps``, so a program records them.
    """

    name: str
    summary: str
    options: dict[str, Option]
    maps: Callable[[Layer], Maps]
    backward: Step
    pass_back: Step
    check: Callable[[Layer, Shape], None] = lambda layer, shape_in: None
    words: dict[str, str] = field(default_factory=dict)  # what the documents call its parts
    sized: Callable[[Layer, int, Shape], Layer] | None = None  # the layer with its sizes set
    # for a small network (the theorem's cross-check): about ``width`` units on an input of
    # that shape, its options kept; None: units = width
    forms: Callable[[Layer], Forms] | None = None  # for documents: the maps in vector
    # notation (``vector``), printed from these and proved equal to the maps entry by entry
    # at each network's sizes (``proof.vector_forms``); None: the forms any kind has, each
    # map's Jacobian named (the entry forms beside them are printed from the maps themselves)
    describe: Callable[[Layer], str] | None = None  # for documents: "a residual block with
    # a projection"; None: "a <kind> layer"
    explains: str | Callable[[Layer], str] = ""  # mixed text ($...$ math): why its backward
    # pass has the shape it has, or a function of the layer giving it (for its options alone)
    auto_method: str = ""  # the proof method ``prove(d, "auto")`` takes for a network with
    # this kind ("local" for attention, whose written-out routes neither expand nor a
    # construction decides in reasonable time; "expand" for batch norm, whose construction
    # meets entries too large to decide: expand up to the brute-force limit, local past it);
    # "": expand or construction, by size
    shorthand: Callable[[Layer, sp.Expr, str], tuple[sp.Expr, dict[sp.Symbol, str]]] | None = \
        None  # for documents: a map's formula with its recurring parts named (a layer norm's
    # μ, s, x̂), and each name's LaTeX at layer l; the entry forms print it so
    axes: tuple[str, ...] = ()  # for documents: what one entry along each axis of its input
    # is, in words, when a network's input is read by it (("feature", "sample"): a batch);
    # (): the documents' general words (channels × positions)
    positions: int = 0  # the positions of the theorem's small cross-check networks where
    # it reads a sequence (attention's proof grows as their cube: 2); 0: kinds_theorem's
    smallest_input: int = 1  # the fewest input entries its ``check`` takes (a layer norm
    # needs 2): the theorem's small cross-check networks give it at least that many
    holds_where: Callable[[Layer], str] | None = None  # where a proof of the layer holds,
    # when that is less than everywhere (max pooling: where every window's maximum is
    # unique), in words for the proof's note; None or "": everywhere its activation is
    # differentiable
    size: Callable[[Layer, Mapping[sp.Symbol, int]], LayerSize] | None = None  # what the
    # layer at these sizes costs a proof (core.limits); None: counted as a dense layer from
    # its maps (every parameter entry, each output entry joined to every input entry)

    def described(self, layer: Layer) -> str:
        """The layer in words, for documents: its kind's ``describe``, else "a <kind> layer"."""
        return self.describe(layer) if self.describe else f"a {self.name} layer"

    def explained(self, layer: Layer) -> str:
        """Why this layer's backward pass has its shape (``explains``), for its options."""
        return self.explains(layer) if callable(self.explains) else self.explains

    def size_of(self, layer: Layer, maps: Maps, sizes: Mapping[sp.Symbol, int]) -> LayerSize:
        """The layer's ``LayerSize``: the kind's own count, or a dense layer's."""
        if self.size is not None:
            return self.size(layer, sizes)
        return LayerSize(parameters=sum(p.size(sizes) for p in maps.params),
                         connections=maps.z.size(sizes) * maps.x.size(sizes))
