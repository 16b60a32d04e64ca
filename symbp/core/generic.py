"""The recursion recorded once for every depth and every width: the generic program.

``record_generic`` runs a recursion on a ``GenericRecorder``: its depth ``ops.L`` is the
symbol L, its widths are symbols n_l, and ``ops.layers()`` yields two layers only: L
(the output layer), then a generic l standing for every layer below it (1 <= l <= L - 1).
Layers are ``Layer`` objects: ``l - 1``, ``l + 1`` and comparisons with numbers or other
layers work; where a comparison can go either way (``l > 1``), the recursion is run again
for each outcome, so the program is a few cases, each with its condition. Using a layer
or a width as a Python integer (``range(ops.L, 0, -1)``, ``len(v)``, ``if n == 5``) is
refused with one line (``Concrete``): what the code does at one concrete size says
nothing about the others.

Comparisons are of layers with constants up to ``MAX_OFFSET``, so whether one holds
depends only on L, l and L - l clipped at MAX_OFFSET + 2; every such combination
occurs at some depth up to ``BOX``. Exploring the cases on depths 1..BOX therefore
explores them for every depth, and ``instance(K)`` writes the program a network of
depth K runs, which the per-network recording must equal (``symbp`` checks that per
network before the theorem may speak for it).

The loop may carry only δ from one layer to the next: the generic layer l reads δ_l
that the layer above bound (``bind_delta(l - 1, ...)`` at l + 1), the one piece of state
an induction over layers follows.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import sympy as sp

from .layers import Kind, Maps
from .layers import Layer as LayerSpec
from .layers.symbolic import FAMILIES, input_shape
from .layers.symbolic import WIDTH as WIDTH  # the theorem's n_l, read from here
from .layers.widen import widened
from .program import Program, ProgramError, Recorder, Ref, Size, Statement

DEPTH = sp.Symbol("L", integer=True, positive=True)  # the output layer, the depth
LAYER = sp.Symbol("l", integer=True, positive=True)  # a generic layer below it
MAX_OFFSET = 3  # largest constant a layer may be compared with (l > 1, l < L - 2, ...)
BOX = 12  # depths explored; every combination of comparisons occurs up to it
MAX_CASES = 64

PRELUDE, TOP, SECOND, GENERIC, AFTER = "prelude", "top", "second", "generic", "after"


class Concrete(Exception):
    """The recursion reads a concrete depth or width: it cannot be recorded for all of them."""


# ---------------------------------------------------------------- layers


_RELATIONS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "==": operator.eq, "!=": operator.ne}


class Layer:
    """A symbolic layer (L, l, l - 1, ...): arithmetic with integers, comparisons decided per
    case, never a Python integer."""

    __slots__ = ("explorer", "expr")

    def __init__(self, expr: sp.Expr, explorer: Explorer):
        self.expr, self.explorer = sp.sympify(expr), explorer

    def __repr__(self) -> str:
        return str(self.expr)

    def __hash__(self) -> int:  # {2: 3}.get(l) would compare nothing and miss silently
        raise Concrete(f"the recursion uses layer {self} as a dictionary key or set member; "
                       "compare layers with ==, <, > instead")

    def _other(self, other: Any, what: str) -> sp.Expr:
        if isinstance(other, Layer):
            return other.expr
        if isinstance(other, int) and not isinstance(other, bool):
            return sp.Integer(other)
        raise Concrete(f"the recursion {what} layer {self} with {other!r}; layers combine "
                       "with integers and other layers only")

    def __add__(self, other: Any) -> Layer:
        if isinstance(other, Layer):
            raise Concrete(f"the recursion adds two layers ({self} + {other})")
        return Layer(self.expr + self._other(other, "adds to"), self.explorer)

    __radd__ = __add__

    def __sub__(self, other: Any) -> Layer:
        if isinstance(other, Layer):
            raise Concrete(f"the recursion subtracts two layers ({self} - {other}), a number "
                           "of layers that depends on the depth")
        return Layer(self.expr - self._other(other, "subtracts from"), self.explorer)

    def _compare(self, other: Any, relation: str) -> bool:
        return self.explorer.decide(self.expr, self._other(other, "compares"), relation)

    def __lt__(self, other: Any) -> bool:
        return self._compare(other, "<")

    def __le__(self, other: Any) -> bool:
        return self._compare(other, "<=")

    def __gt__(self, other: Any) -> bool:
        return self._compare(other, ">")

    def __ge__(self, other: Any) -> bool:
        return self._compare(other, ">=")

    def __eq__(self, other: Any) -> bool:  # type: ignore[override]
        return self._compare(other, "==")

    def __ne__(self, other: Any) -> bool:  # type: ignore[override]
        return self._compare(other, "!=")

    def _as_int(self, *_: Any) -> Any:
        raise Concrete(f"the recursion uses layer {self} as a Python integer (a range bound, "
                       "an index, a count); loop over ops.layers() instead")

    __index__ = __int__ = __float__ = __bool__ = _as_int


# ---------------------------------------------------------------- cases


Point = tuple[int, int]  # (L, l); l = 0 before the generic layer exists


class Explorer:
    """Decides comparisons of layers: at once where the case so far settles them, else by
    the next forced outcome (or True), narrowing the case to the depths where it holds."""

    def __init__(self, forced: list[bool]):
        self.forced = forced
        self.made: list[bool] = []
        self.points: list[Point] = [(L, 0) for L in range(1, BOX + 1)]
        self.relations: list[tuple[sp.Expr, str, bool]] = []  # (lhs - rhs, relation, outcome)
        self.generic_from: int | None = None  # relations decided before the generic layer

    def decide(self, lhs: sp.Expr, rhs: sp.Expr, relation: str) -> bool:
        difference = sp.expand(lhs - rhs)
        constant = difference.as_coeff_Add()[0]
        if abs(constant) > MAX_OFFSET:
            raise Concrete(f"the recursion compares layer {lhs} with {rhs}, a constant "
                           f"beyond {MAX_OFFSET}: that is a concrete depth")
        test = _RELATIONS[relation]
        truth = [bool(test(_at(difference, p), 0)) for p in self.points]
        if all(truth) or not any(truth):
            return truth[0]
        value = self.forced[len(self.made)] if len(self.made) < len(self.forced) else True
        self.made.append(value)
        self.points = [p for p, t in zip(self.points, truth) if t == value]
        self.relations.append((difference, relation, value))
        return value

    def enter_generic(self) -> None:
        self.generic_from = len(self.relations)
        self.points = [(L, l) for L, _ in self.points for l in range(1, L - 1)]

    def holds(self, point: Point) -> bool:
        return all(bool(_RELATIONS[r](_at(e, point), 0)) == v for e, r, v in self.relations)


def _at(expr: sp.Expr, point: Point) -> int:
    return int(expr.xreplace({DEPTH: point[0], LAYER: point[1]}))


# ---------------------------------------------------------------- recording


@dataclass(frozen=True)
class Template:
    """A kind of layer with its options, at no particular size: what the theorem is about."""

    kind: Kind
    layer: LayerSpec
    maps: Maps

    @classmethod
    def of(cls, layer: LayerSpec) -> Template:
        from .layers import kind

        entry = kind(layer.kind)
        return cls(entry, layer, entry.maps(layer))


@dataclass(frozen=True)
class Structure:
    kind: Kind
    layer: LayerSpec
    maps: Maps
    sizes: dict


DENSE = Template.of(LayerSpec("dense"))


class GenericRecorder(Recorder):
    """``Recorder`` on symbolic layers and widths; each statement tagged with its segment
    (before the loop, the output layer L, the layer L - 1 below it, the generic layer l).

    L - 1 is recorded apart because it reads what the output layer bound, whose kind may
    differ from the hidden layers'; a recording of dense layers only may skip that
    (``second_apart = False``: L, then the generic l ≤ L - 1)."""

    second_apart = True

    def __init__(self, explorer: Explorer, name: str = "",
                 layers: tuple[Template, Template] | None = None):
        super().__init__(L=0, width=lambda l: Size(self.width_at(_expr(l))), name=name,
                         structure=self._at)
        self.explorer = explorer
        self.templates = layers or (DENSE, DENSE)  # (hidden layers, output layer)
        self.input = input_shape(len(self.templates[0].maps.x.axes))
        check_shapes(self.templates[0], self.input)
        self.shape_at(DEPTH)  # the output layer reads the hidden ones' shape, or says why not
        self.L = Layer(DEPTH, explorer)  # type: ignore[assignment]
        self.segment = PRELUDE
        self.segments: list[str] = []
        self.looped = False
        self.completed = False  # the loop ran to its end (no break)
        self.named: dict[str, set[str]] = {TOP: set(), SECOND: set()}  # refs by iteration

    def layers(self) -> Iterator[Layer]:  # type: ignore[override]
        if self.looped:
            raise Concrete("the recursion loops over ops.layers() twice")
        self.looped = True
        return self._layers()

    def _layers(self) -> Iterator[Layer]:
        self.segment = TOP
        yield self.L  # type: ignore[misc]
        if not self.second_apart:
            if self.explorer.decide(DEPTH, sp.Integer(2), ">="):
                self.segment = GENERIC
                self.explorer.enter_generic()
                yield Layer(LAYER, self.explorer)
        elif self.explorer.decide(DEPTH, sp.Integer(2), ">="):
            # the layer below the output one: what it reads from above is the output layer's
            self.segment = SECOND
            yield Layer(DEPTH - 1, self.explorer)
            if self.explorer.decide(DEPTH, sp.Integer(3), ">="):
                # every layer below: it reads from a layer like itself, L - 1 at the first
                self.segment = GENERIC
                self.explorer.enter_generic()
                yield Layer(LAYER, self.explorer)
        self.segment = AFTER
        self.completed = True

    def check_layer(self, l: Any, what: str, first: int = 1) -> Any:
        if isinstance(l, int) and not isinstance(l, bool):
            if not 0 <= l <= MAX_OFFSET:
                raise Concrete(f"{what}: layer {l} is a concrete layer; name layers from "
                               f"ops.L or ops.layers() (constants up to {MAX_OFFSET} only)")
            l = Layer(sp.Integer(l), self.explorer)
        if not isinstance(l, Layer):
            raise ProgramError(f"{what}: {l!r} is not a layer")
        if not (l >= first and l <= self.L):
            raise ProgramError(f"{what}: layer {l} is not one of {first}..L")
        return l.expr

    def delta_name(self, l: Any) -> str:
        return f"delta[{l}]"

    def grad_name(self, l: Any) -> str:
        return f"g[{l}]"

    def width_at(self, l: sp.Expr) -> sp.Expr:
        """The entries of a_l at a symbolic layer: n_l for a vector, c_l m_l for channels
        × positions (``shape_at``)."""
        return sp.Mul(*self.shape_at(l))

    def shape_at(self, l: sp.Expr) -> tuple[sp.Expr, ...]:
        """The shape of a_l at a symbolic layer: the input's at 0, the output layer's at L,
        a hidden layer's below (its free sizes at l, the others its input's: a residual
        block keeps n_0, a convolution with same padding m_0)."""
        l = sp.sympify(l)
        hidden, top = self.templates
        if l == 0:
            return self.input
        if l == DEPTH:
            return output_shape(top, l, self.shape_at(l - 1))
        return output_shape(hidden, l, self.input)

    def _at(self, l: Any) -> Structure:
        """The layer at (symbolic) l: the output layer's kind at L, the hidden one below; where
        l could be either, the recording splits into the two cases."""
        l = sp.sympify(l)
        hidden, top = self.templates
        template = top if Layer(l, self.explorer) == self.L else hidden
        shape_in = self.shape_at(l - 1)
        maps = maps_on(template, len(shape_in))
        return Structure(template.kind, template.layer, maps, maps.symbolic(l, shape_in))

    def emit(self, op: str, layer: Any, args: tuple, shape: tuple, target: str | None = None,
             constant: Any = None) -> Any:
        if self.segment == AFTER:
            raise Concrete(f"the recursion computes {op} after its loop over ops.layers(); "
                           "a proof for every depth follows the loop only")
        ref = super().emit(op, layer, args, shape, target, constant)
        self.segments.append(self.segment)
        if self.segment in self.named:
            self.named[self.segment].add(ref.name)
        return ref

    def _ref(self, value: Any, what: str) -> Ref:
        """A value of the output layer's iteration, read at the generic layer l, is the
        layer above's: its sizes n_(L+c) are n_(l+1+c) there (what is carried is checked
        when instances are written: only δ may be)."""
        ref = super()._ref(value, what)
        above_segment, above = ((SECOND, {DEPTH: LAYER + 2}) if self.second_apart  # L - 1 is l + 1
                                else (TOP, {DEPTH: LAYER + 1}))  # L is l + 1
        if self.segment == GENERIC and ref.name in self.named[above_segment]:
            shape = tuple(Size(n.expr.xreplace(above)) if isinstance(n, Size) else n
                          for n in ref.shape)
            return Ref(self, ref.name, shape)  # type: ignore[arg-type]
        return ref


def maps_on(template: Template, rank: int) -> Maps:
    """The template's maps on an input of ``rank`` axes (a kind on vectors widened)."""
    axes = len(template.maps.x.axes)
    if axes == 1 and rank > 1:
        return widened(template.maps, rank)
    if axes > rank:
        raise ValueError(f"the general theorem reads the input of a {template.kind.name} layer "
                         f"with {axes} axes, and the layer below gives {rank}: put it over "
                         f"layers of {axes} axes (a network of such layers proves per network)")
    return template.maps


def output_shape(template: Template, e: sp.Expr, shape_in: tuple) -> tuple[sp.Expr, ...]:
    """The shape of a layer's output at symbolic layer e, from its input's shape."""
    maps = maps_on(template, len(shape_in))
    sizes = maps.symbolic(e, shape_in)
    return tuple(sp.expand(sp.sympify(a).xreplace(sizes)) for a in maps.a.axes)


def check_shapes(hidden: Template, first: tuple) -> None:
    """The hidden layers' shapes are one formula in l: a hidden layer on the shape the one below
    gives has the shape it has on the input's (each size free at l or the input's), and the
    input is that shape at l = 0. ValueError otherwise: no symbolic shape fits every layer."""
    at = output_shape(hidden, LAYER, first)
    below = output_shape(hidden, LAYER - 1, first)
    again = output_shape(hidden, LAYER, below)
    zero = tuple(sp.sympify(a).xreplace({LAYER: 0}) for a in at)
    if again != at or zero != first:
        raise ValueError(f"hidden {hidden.kind.name} layers have no shape at a symbolic layer l: "
                         f"on the input {first} one gives {at}, on that {again}")


# ---------------------------------------------------------------- the cases


class CaseParts:
    """What a recorded case (first or second order) answers from its explorer, statements,
    segments and ``generic_from``."""

    explorer: Explorer
    statements: tuple[Statement, ...]
    segments: tuple[str, ...]
    generic_from: int

    def part(self, segment: str) -> list[Statement]:
        return [s for s, seg in zip(self.statements, self.segments) if seg == segment]

    def holds(self, L: int, l: int = 0) -> bool:
        """Whether this case's condition holds at depth L (and generic layer l)."""
        return self.explorer.holds((L, l))

    def prefix_holds(self, L: int) -> bool:
        """The conditions decided before the generic layer, at depth L."""
        before = self.explorer.relations[: self.generic_from]
        return all(bool(_RELATIONS[r](_at(e, (L, 0)), 0)) == v for e, r, v in before)


@dataclass(frozen=True)
class Case(CaseParts):
    """One run of the recursion: its outcome of every undecided comparison, the condition
    those outcomes set on (L, l), and what it recorded, segment by segment."""

    outcomes: tuple[bool, ...]
    explorer: Explorer
    statements: tuple[Statement, ...]
    segments: tuple[str, ...]
    deltas: dict[Any, str]
    weight: dict[Any, str]
    bias: dict[Any, str]
    grads: dict[Any, str]
    generic_from: int  # outcomes before this index were decided before the generic layer


@dataclass
class GenericProgram:
    """The recursion for every depth and width: its cases; ``instance(K, widths)`` is the
    program a network of depth K runs."""

    cases: list[Case]
    name: str = ""
    problems: list[str] = field(default_factory=list)  # cases that broke a rule of programs

    @property
    def fingerprint(self) -> str:
        """16 hex digits of SHA-256 over every case's condition and statements: what the
        recursion does, whatever its Python function object."""
        text = "\n\n".join(
            f"{c.explorer.relations}\n" + "\n".join(f"{seg} {s.text()}" for s, seg in
                                                    zip(c.statements, c.segments))
            for c in self.cases) + "\n" + "\n".join(self.problems)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def instance(self, K: int, width: Callable[[int], int], context: str = "") -> Program:
        """The program of a network of depth K: the case that holds at L = K for the layers
        before the loop and the output layer, then for every layer m = K - 1, ..., 1 the
        case that holds at l = m, its δ_(l+1) read from the layer above. Named as
        ``Recorder`` names (t1, t2, ..., delta3), so it equals a per-network recording of
        the same recursion exactly when both are the same program. ProgramError when the
        cases do not make one program at this depth."""
        return _Instance(self, K, width).program(context)


class _Instance:
    """Writes one case-by-case instance of a generic program at a concrete depth."""

    def __init__(self, g: GenericProgram, K: int, width: Callable[[int], int]):
        if g.problems:
            raise ProgramError(f"the recursion breaks {g.problems[0]}")
        self.K, self.width, self.name = K, width, g.name
        self.heads = [c for c in g.cases if c.prefix_holds(K)]
        if not self.heads:
            raise ProgramError(f"no case of the recursion holds at depth {K}")
        head = self.heads[0]
        self.statements: list[Statement] = []
        self.deltas: dict[int, str] = {}
        self.grads: dict[int, str] = {}
        self.weight: dict[int, str] = {}
        self.bias: dict[int, str] = {}
        self.param_grads: dict[tuple[int, str], str] = {}
        self.bound_by: dict[str, int] = {}  # δ_m or g_m -> the iteration (layer) that bound it
        self.count = 0
        before: dict[str, str] = {}  # names bound before the loop: read anywhere
        self._write(head.part(PRELUDE), {DEPTH: K}, before, K, {})
        top = dict(before)
        self._write(head.part(TOP), {DEPTH: K}, top, K, {})
        if K >= 2:
            self._write(head.part(SECOND), {DEPTH: K}, dict(top), K - 1, {})
        second = {s.target for s in head.part(SECOND)}
        top_bound = {name: layer for layer, name in [*head.deltas.items(), *head.grads.items()]
                     if name in second}
        for m in range(K - 2, 0, -1):
            case = next((c for c in self.heads if c.holds(K, m)), None)
            if case is None:
                raise ProgramError(f"no case of the recursion holds at layer {m} of depth {K}")
            carried = {name: (name.split("[")[0], _at(layer, (m + 2, 0)))
                       for name, layer in top_bound.items()}
            self._write(case.part(GENERIC), {DEPTH: K, LAYER: m}, dict(before), m, carried)

    def _write(self, statements: list[Statement], point: dict, names: dict[str, str],
               iteration: int, carried: dict[str, tuple[str, int]]) -> None:
        for s in statements:
            args = []
            for a in s.args:
                if a in carried:  # δ (or g) bound by the layer above, at its own layer
                    what, below = carried[a]
                    name = f"{'delta' if what == 'delta' else 'g'}{below}"
                    if self.bound_by.get(name) != iteration + 1:
                        raise ProgramError(f"at depth {self.K}, layer {iteration} reads "
                                           f"{what}_{below}, which the layer above does not "
                                           "bind; the loop may carry only what it just bound")
                    args.append(name)
                elif a in names:
                    args.append(names[a])
                else:
                    raise ProgramError(f"at depth {self.K}, layer {iteration} reads {a}, a "
                                       "value of the layer above that is not its δ; the loop "
                                       "may carry only what it binds from one layer to the next")
            layer: Any = None if s.layer is None else int(sp.sympify(s.layer).xreplace(point))
            shape = (self._concrete(s.shape[0], point), self._concrete(s.shape[1], point))
            if s.op == "bind_delta":
                if layer in self.deltas:
                    raise ProgramError(f"at depth {self.K} the recursion binds delta_{layer} "
                                       "twice")
                target = self.deltas[layer] = f"delta{layer}"
                self.bound_by[target] = iteration
            elif s.op == "bind_grad":
                if layer in self.grads:
                    raise ProgramError(f"at depth {self.K} the recursion binds g_{layer} twice")
                target = self.grads[layer] = f"g{layer}"
                self.bound_by[target] = iteration
            elif s.op == "gradient":
                if layer in self.weight:
                    raise ProgramError(f"at depth {self.K} the recursion gives the gradient "
                                       f"of layer {layer} twice")
                target = ""
                self.weight[layer], self.bias[layer] = args[0], args[1]
                given = s.constant or ("W", "b")
                self.param_grads.update({(layer, n): arg for n, arg in zip(given, args)})
            else:
                self.count += 1
                target = f"t{self.count}"
            if s.target:
                names[s.target] = target
            self.statements.append(Statement(target, s.op, layer, tuple(args), shape,
                                             s.constant))

    def _concrete(self, n: Any, point: dict) -> int:
        """A size at this depth: every family's entry (n_m, c_m, ...) as ``width(m)``."""
        value = n.expr if isinstance(n, Size) else n
        value = sp.sympify(value).xreplace(point)
        value = value.replace(lambda e: isinstance(e, sp.Indexed) and e.base in FAMILIES,
                              lambda e: sp.Integer(self.width(int(e.indices[0]))))
        return int(value)

    def program(self, context: str) -> Program:
        missing = [m for m in range(1, self.K + 1)
                   if m not in self.deltas or m not in self.weight]
        if missing:
            raise ProgramError(f"at depth {self.K} the recursion gives no δ or gradient for "
                               f"layer {missing[0]}")
        return Program(tuple(self.statements), dict(self.deltas), dict(self.weight),
                       dict(self.bias), context=context, name=self.name,
                       grads=dict(self.grads), param_grads=dict(self.param_grads))


def record_generic(recursion: Callable[[Any], None],
                   layers: tuple[Template, Template] | None = None) -> GenericProgram:
    """Run ``recursion`` once per case on a ``GenericRecorder``. ``Concrete`` when it reads a
    concrete depth or width; a case that raises anything else is a problem of that case."""
    name = getattr(recursion, "__name__", None)
    name = name if isinstance(name, str) else type(recursion).__name__
    cases: list[Case] = []
    problems: list[str] = []
    forced: list[bool] = []
    while True:
        if len(cases) + len(problems) >= MAX_CASES:
            raise Concrete(f"the recursion takes more than {MAX_CASES} cases")
        explorer = Explorer(forced)
        ops = GenericRecorder(explorer, name, layers)
        try:
            recursion(ops)
            if ops.looped and not ops.completed:
                raise Concrete("the recursion leaves its loop over ops.layers() early")
        except (Concrete, ConcreteSize) as refusal:
            raise Concrete(str(refusal)) from None
        except Exception as error:  # a case that breaks: a failed claim, not a crash
            problems.append(f"{_condition(explorer)}: {type(error).__name__}: {error}")
        else:
            prefix = explorer.generic_from
            cases.append(Case(tuple(explorer.made), explorer, tuple(ops.statements),
                              tuple(ops.segments), dict(ops.deltas), dict(ops.weight),
                              dict(ops.bias), dict(ops.grads),
                              len(explorer.relations) if prefix is None else prefix))
        flip = [i for i, v in enumerate(explorer.made) if v]
        if not flip:
            break
        forced = [*explorer.made[: flip[-1]], False]
    return GenericProgram(cases, name, problems)


def _condition(explorer: Explorer) -> str:
    if not explorer.relations:
        return "in every case"
    parts = [f"{e} {r if v else _NEGATED[r]} 0" for e, r, v in explorer.relations]
    return "when " + " and ".join(parts)


def _expr(l: Any) -> sp.Expr:
    return l.expr if isinstance(l, Layer) else sp.sympify(l)


_NEGATED = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}


from .program import ConcreteSize  # noqa: E402  (beside Size, where the Recorder checks shapes)
