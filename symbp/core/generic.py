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

One network's own sequence of K layers (kinds that differ from layer to layer, or do not
stack) is recorded at depth K only (``depth=K``): ``ops.layers()`` yields L, L - 1, ...,
L - K + 1, layer m named L - (K - m) with its own template and every size symbolic, the
input at L - K; every comparison is decided at L = K, so there is one case and nothing
generic, and ``instance`` writes it at depth K only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import sympy as sp

from .generic_instance import Instance
from .generic_layers import (
    AFTER,
    GENERIC,
    MAX_CASES,
    MAX_OFFSET,
    PRELUDE,
    SECOND,
    TOP,
    CaseParts,
    Concrete,
    Explorer,
    Layer,
    condition,
)
from .generic_layers import BOX as BOX  # re-exported: the theorems read them from here
from .generic_layers import DEPTH as DEPTH
from .generic_layers import LAYER as LAYER
from .generic_shapes import DENSE as DENSE  # re-exported: the theorems read them from here
from .generic_shapes import Structure as Structure
from .generic_shapes import Template as Template
from .generic_shapes import check_reads, check_shapes, maps_on, output_shape, reads, tie
from .layers.symbolic import WIDTH as WIDTH  # the theorem's n_l, read from here
from .layers.symbolic import input_shape
from .program import ConcreteSize, Program, ProgramError, Size, Statement
from .recorder import Recorder, Ref

# ---------------------------------------------------------------- recording


class GenericRecorder(Recorder):
    """``Recorder`` on symbolic layers and widths; each statement tagged with its segment
    (before the loop, the output layer L, the layer L - 1 below it, the generic layer l).

    L - 1 is recorded apart because it reads what the output layer bound, whose kind may
    differ from the hidden layers'; a recording of dense layers only may skip that
    (``second_apart = False``: L, then the generic l ≤ L - 1)."""

    second_apart = True

    def __init__(self, explorer: Explorer, name: str = "",
                 layers: tuple[Template, ...] | None = None, depth: int | None = None):
        super().__init__(L=0, width=lambda l: Size(self.width_at(_expr(l))), name=name,
                         structure=self._at)
        self.explorer = explorer
        # every depth: (hidden layers, output layer); one depth K: layer 1's, ..., layer K's
        self.templates = layers or (DENSE, DENSE)
        self.depth = depth
        rank = len(self.templates[0].maps.x.axes)
        self.ties: dict[sp.Expr, sp.Expr] = {}  # a free size -> what the layer above reads
        self._shapes: dict[tuple, tuple[sp.Expr, ...]] = {}  # shape_at's, by layer and ties
        if depth is None:
            self.input = input_shape(rank)
            check_shapes(self.templates[0], self.input)
            check_reads(self.templates[1], DEPTH, self.shape_at(DEPTH - 1), "output")
        else:
            if len(self.templates) != depth:
                raise ValueError(f"a recording at depth {depth} takes {depth} layers, "
                                 f"got {len(self.templates)}")
            self.input = input_shape(rank, DEPTH - depth)  # layer m is labelled L - (K - m)
            for m in range(depth, 0, -1):  # top down: each layer reads what the one below gives
                l = DEPTH - (depth - m)
                below = self.shape_at(l - 1)
                self.ties = tie(reads(self.templates[m - 1], l, below), below, self.ties)
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
        if self.depth is not None:
            # one network's own layers: each named from L, so nothing is generic and the
            # whole program is the output layer's segment, read at L = K
            for m in range(1, self.depth):
                yield Layer(DEPTH - m, self.explorer)
        elif not self.second_apart:
            if self.explorer.decide(DEPTH, sp.Integer(2), ">="):
                self.segment = GENERIC
                self.explorer.enter_generic(1)  # every l <= L - 1
                yield Layer(LAYER, self.explorer)
        elif self.explorer.decide(DEPTH, sp.Integer(2), ">="):
            # the layer below the output one: what it reads from above is the output layer's
            self.segment = SECOND
            yield Layer(DEPTH - 1, self.explorer)
            if self.explorer.decide(DEPTH, sp.Integer(3), ">="):
                # every layer below: it reads from a layer like itself, L - 1 at the first
                self.segment = GENERIC
                self.explorer.enter_generic(2)  # every l <= L - 2
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
        key = (l, *self.ties.items())  # asked for every statement's width; ties grow in init
        if key not in self._shapes:
            self._shapes[key] = self._shape_at(l)
        return self._shapes[key]

    def _shape_at(self, l: sp.Expr) -> tuple[sp.Expr, ...]:
        if self.depth is not None:  # the sizes tied top down (``generic_shapes.tie``)
            position = self.position(l, first=0)
            shape = self.input if position == 0 else \
                output_shape(self.templates[position - 1], l, self.shape_at(l - 1))
            return tuple(sp.expand(a.xreplace(self.ties)) for a in shape) if self.ties else shape
        hidden, top = self.templates
        if l == 0:
            return self.input
        if l == DEPTH:
            return output_shape(top, l, self.shape_at(l - 1))
        return output_shape(hidden, l, self.input)

    def position(self, l: sp.Expr, first: int = 1) -> int:
        """Which layer of a recording at one depth K the label l = L - (K - m) is: m."""
        assert self.depth is not None
        m = sp.expand(l - (DEPTH - self.depth))
        if not (m.is_Integer and first <= int(m) <= self.depth):
            raise ProgramError(f"layer {l} is not one of layers {first}..{self.depth} "
                               f"(L - {self.depth - first}, ..., L)")
        return int(m)

    def _at(self, l: Any) -> Structure:
        """The layer at (symbolic) l: the output layer's kind at L, the hidden one below; where
        l could be either, the recording splits into the two cases."""
        l = sp.sympify(l)
        if self.depth is not None:
            template = self.templates[self.position(l) - 1]
        else:
            hidden, top = self.templates
            template = top if Layer(l, self.explorer) == self.L else hidden
        shape_in = self.shape_at(l - 1)
        maps = maps_on(template, len(shape_in))
        sizes = maps.symbolic(l, shape_in)
        if self.ties:
            sizes = {k: sp.expand(sp.sympify(v).xreplace(self.ties)) for k, v in sizes.items()}
        return Structure(template.kind, template.layer, maps, sizes)

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


# ---------------------------------------------------------------- the cases


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
    depth: int | None = None  # recorded at this depth only (one network's own layers)

    @property
    def fingerprint(self) -> str:
        """16 hex digits of SHA-256 over every case's condition and statements: what the
        recursion does, whatever its Python function object."""
        text = "\n\n".join(
            f"{c.explorer.relations}\n" + "\n".join(f"{seg} {s.text()}" for s, seg in
                                                    zip(c.statements, c.segments))
            for c in self.cases) + "\n" + "\n".join(self.problems) \
            + ("" if self.depth is None else f"\nat depth {self.depth}")
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def instance(self, K: int, width: Callable[[int], int], context: str = "") -> Program:
        """The program of a network of depth K: the case that holds at L = K for the layers
        before the loop and the output layer, then for every layer m = K - 1, ..., 1 the
        case that holds at l = m, its δ_(l+1) read from the layer above. Named as
        ``Recorder`` names (t1, t2, ..., delta3), so it equals a per-network recording of
        the same recursion exactly when both are the same program. ProgramError when the
        cases do not make one program at this depth."""
        if self.depth is not None and self.depth != K:
            raise ProgramError(f"the recursion was recorded at depth {self.depth} only, "
                               f"not {K}")
        return Instance(self.cases, self.problems, self.name, K, width).program(context)


def record_generic(recursion: Callable[[Any], None],
                   layers: tuple[Template, ...] | None = None,
                   depth: int | None = None) -> GenericProgram:
    """Run ``recursion`` once per case on a ``GenericRecorder``. ``Concrete`` when it reads a
    concrete depth or width; a case that raises anything else is a problem of that case.
    ``depth`` K records one network's own sequence of K layers (``layers``) at depth K, every
    size symbolic: one case, its layers L - K + 1, ..., L read at L = K."""
    name = getattr(recursion, "__name__", None)
    name = name if isinstance(name, str) else type(recursion).__name__
    cases: list[Case] = []
    problems: list[str] = []
    forced: list[bool] = []
    while True:
        if len(cases) + len(problems) >= MAX_CASES:
            raise Concrete(f"the recursion takes more than {MAX_CASES} cases")
        explorer = Explorer(forced, depth)
        ops = GenericRecorder(explorer, name, layers, depth)
        try:
            recursion(ops)
            if ops.looped and not ops.completed:
                raise Concrete("the recursion leaves its loop over ops.layers() early")
        except (Concrete, ConcreteSize) as refusal:
            raise Concrete(str(refusal)) from None
        except Exception as error:  # a case that breaks: a failed claim, not a crash
            problems.append(f"{condition(explorer)}: {type(error).__name__}: {error}")
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
    return GenericProgram(cases, name, problems, depth)



def _expr(l: Any) -> sp.Expr:
    return l.expr if isinstance(l, Layer) else sp.sympify(l)



