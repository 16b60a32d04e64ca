"""The δ recursion as a program: recorded once, single assignment, in execution order.

A recursion function (``backprop_deltas``, or one of your own) runs once per network, on
a ``Recorder`` (``core.recorder``). Each operation appends one ``Statement`` and hands back
a ``Ref``: the immutable name of the value just computed. Arithmetic on refs (``2 * v``,
``u - v``, a constant mask ``v * M``) is recorded the same way. The result, a ``Program``, is what
every consumer reads: the prover replays it on SymPy matrices, the general theorem on
index formulas, every code generator on whole arrays, statement by statement in the
order recorded. Nothing runs the function again, so what is proved and what runs is one
program, and its ``fingerprint`` names it in proof.json, the documents and the modules.

A program binds each δ_l once and each layer's gradient once: a second binding is refused
with one line (the code would run the first, a trace would keep the last). A ref has no
entries to assign, so nothing handed to the recursion can be changed in place.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import sympy as sp

# Operation -> (how its statement reads, the ops method it replays as); "layer" ops take l.
LAYER_OPS = ("activation", "activation_vjp", "transpose_times", "times", "bind_delta",
             "gradient")
OPS = (*LAYER_OPS, "cost_gradient", "outer", "scale", "add", "mask")


class ProgramError(ValueError):
    """A recursion that cannot be recorded as a program: one line saying where and why."""


@dataclass(frozen=True)
class Statement:
    """``target = op[layer](args)``; ``constant`` is a scale factor or a mask, else None."""

    target: str  # the name the value is bound to ("" for gradient, which binds outputs)
    op: str
    layer: Any  # int, a symbolic layer (SymPy expression), or None
    args: tuple[str, ...]  # names bound by earlier statements
    shape: tuple[Any, Any]  # (rows, cols) of the value; columns are vectors (n, 1)
    constant: Any = None

    def text(self) -> str:
        """One line, as the program listing and the fingerprint read it."""
        layer = "" if self.layer is None else f"[{self.layer}]"
        constant = "" if self.constant is None else f"{{{_constant_text(self.constant)}}}"
        call = f"{self.op}{layer}{constant}({', '.join(self.args)})"
        return f"{self.target} = {call}" if self.target else call


def _constant_text(value: Any) -> str:
    if isinstance(value, tuple) and all(isinstance(v, str) for v in value):
        return ", ".join(value)  # a gradient's parameter names
    if isinstance(value, tuple):
        return "[" + "; ".join(" ".join(str(c) for c in row) for row in value) + "]"
    return str(value)


@dataclass(frozen=True)
class Program:
    """The statements of one recursion, in execution order, and what they bound.

    ``deltas[l]``, ``weight[l]`` and ``bias[l]`` name the statements that bound δ_l,
    ∂C/∂W_l and ∂C/∂b_l. ``context`` is what the statements mean (the network, the
    registry entries they use), part of the fingerprint; ``name`` is the recursion's.
    """

    statements: tuple[Statement, ...]
    deltas: dict[Any, str] = field(default_factory=dict)
    weight: dict[Any, str] = field(default_factory=dict)
    bias: dict[Any, str] = field(default_factory=dict)
    context: str = ""
    name: str = ""
    grads: dict[Any, str] = field(default_factory=dict)  # g_l = ∂C/∂a_l, where bound
    param_grads: dict[tuple[Any, str], str] = field(default_factory=dict)  # every ∂C/∂θ_l

    def text(self) -> str:
        return "\n".join(s.text() for s in self.statements)

    @property
    def fingerprint(self) -> str:
        """16 hex digits of SHA-256 over the statements and their context."""
        digest = hashlib.sha256(f"{self.context}\n--\n{self.text()}\n".encode())
        return digest.hexdigest()[:16]

    def run(self, ops: Any) -> dict[str, Any]:
        """Replay every statement on ``ops`` (a ``RecursionOps`` implementation), in order;
        the values by name."""
        return replay(self.statements, ops)


def replay(statements: Iterable[Statement], ops: Any,
           values: dict[str, Any] | None = None) -> dict[str, Any]:
    """Replay ``statements`` on ``ops`` in order, starting from ``values`` (names bound
    before them); the values by name."""
    values = dict(values or {})
    for s in statements:
        args = [values[a] for a in s.args]
        result = REPLAY[s.op](ops, s, *args)
        if s.target:
            values[s.target] = result
    return values


def _replay_gradient(ops, s, weight, bias, *others):
    names = s.constant[2:] if s.constant else ()
    return ops.gradient(s.layer, weight=weight, bias=bias, **dict(zip(names, others)))


REPLAY: dict[str, Callable[..., Any]] = {
    "cost_gradient": lambda ops, s: ops.cost_gradient(),
    "activation": lambda ops, s: ops.activation(s.layer),
    "activation_vjp": lambda ops, s, v: ops.activation_vjp(s.layer, v),
    "transpose_times": lambda ops, s, v: ops.transpose_times(s.layer, v),
    "times": lambda ops, s, v: ops.times(s.layer, v),
    "outer": lambda ops, s, u, v: ops.outer(u, v),
    "bind_delta": lambda ops, s, v: ops.bind_delta(s.layer, v),
    "gradient": _replay_gradient,
    "scale": lambda ops, s, v: ops.scale(s.constant, v),
    "add": lambda ops, s, u, v: ops.add(u, v),
    "mask": lambda ops, s, v: ops.mask(v, s.constant),
    "bind_grad": lambda ops, s, v: ops.bind_grad(s.layer, v),
    "vjp": lambda ops, s, *values: ops.vjp(s.layer, s.constant, *values),
    "state": lambda ops, s: ops.state(s.layer),
}


# ---------------------------------------------------------------- sizes


class Size:
    """A symbolic width n_l: it is a size, never a number the recursion may branch on."""

    __slots__ = ("expr",)

    def __init__(self, expr: sp.Expr):
        self.expr = expr

    def __repr__(self) -> str:
        return str(self.expr)

    def __hash__(self) -> int:
        return hash(self.expr)

    def _as_number(self, *_: Any) -> Any:
        raise ConcreteSize(f"the recursion reads the width {self.expr} as a number; what the "
                           "code does at one width says nothing about the others")

    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _as_number  # type: ignore[assignment]
    __bool__ = __index__ = __int__ = __float__ = _as_number


class ConcreteSize(Exception):
    """A recursion that reads a symbolic width as a number (refused for every width)."""


def size_of(n: Any) -> Any:
    """A size as SymPy reads it: a ``Size``'s expression, else the value itself."""
    return n.expr if isinstance(n, Size) else n


def as_size(n: Any) -> Any:
    n = sp.sympify(n)
    return int(n) if n.is_Integer else Size(n)


def same_shape(a: tuple, b: tuple) -> bool:
    return len(a) == len(b) and all(sp.sympify(size_of(x) - size_of(y)) == 0 for x, y in zip(a, b))


def shape_text(shape: tuple) -> str:
    return "(" + ", ".join(str(size_of(n)) for n in shape) + ")"
