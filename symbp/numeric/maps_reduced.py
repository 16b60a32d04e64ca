"""A map that is not a sum of products: entries and whole-axis sums inside any arithmetic
(a layer norm's (x_j − μ)/√(v + ε)), printed with each sum as one number per sample (per row).

``maps.terms`` reads a linear map as terms; a map it cannot read falls back here. Such a
map reads vectors of the output's length, or tensors of R rows of that length (a batch
norm's features × samples, its parameters one entry per row), and each of its sums runs
over the whole of the last axis with a body that reads no index but its own and the row's:
a closed sum, one number per sample and row (the mean, the variance, Σ dy). ``reduced``
finds those sums, inner ones first, each once however often the formula repeats it;
``numpy_code`` prints each inline as ``(...).sum(-1)[..., None]`` (an operation NumPy,
torch and jax share), ``numba_lines`` computes each once per sample and row in a loop of
its own, before the loop over the output. A parameter's gradient (a map onto the rows, its
sums over the last axis) is summed over the batch too. Anything else (an entry at a shifted
index, a sum over part of an axis, a function other than a power) is refused with one line
naming it. Numbers print as floats: ε = 1/100000 in the proof is ``1e-05`` in the code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import sympy as sp
from sympy.printing.str import StrPrinter

from ..core.layers.base import Map, Tensor

_INDEX = sp.Dummy("i")  # the index of every closed sum, once it is hoisted


@dataclass(frozen=True)
class Reduced:
    """A map at concrete sizes as closed sums and one entry formula.

    ``sums`` are (name, index, body), inner first: a body reads its index (one dummy for
    every sum) and earlier names; ``value`` is the output's entry at ``index`` (None: a map
    onto the rows, whose value reads sums only). ``rows`` (R) and ``row``: tensors of R rows
    of length n, entries read in the row ``row``; 0 and None for vectors."""

    index: sp.Symbol | None
    n: int
    sums: tuple[tuple[sp.Symbol, sp.Symbol, sp.Expr], ...]
    value: sp.Expr
    tensors: dict[sp.IndexedBase, Tensor]
    rows: int = 0
    row: sp.Symbol | None = None

    def rowed(self, t: Tensor) -> bool:
        """Whether t has rows and a last axis (else it is a vector, or one entry per row)."""
        return self.rows > 0 and len(t.axes) == 2


def reduced(m: Map, sizes: Mapping[sp.Symbol, int]) -> Reduced:
    """``m`` at ``sizes`` in that shape; ValueError naming what does not fit."""
    shapes = {t.name: t.shape(sizes) for t in (m.out, *m.inputs, *m.params)}
    out = shapes[m.out.name]
    first = shapes[m.inputs[0].name] if m.inputs else out
    rows, n = (first[0], first[1]) if len(first) == 2 else (0, first[0])
    if rows:  # features × samples: the inputs (R, n), the parameters and a gradient (R,)
        fits = (all(shapes[t.name] == first for t in m.inputs)
                and all(shapes[t.name] == (rows,) for t in m.params)
                and (out, len(m.index)) in (((rows, n), 2), ((rows,), 1)))
    else:
        fits = len(m.index) == 1 and all(s == out for s in shapes.values())
    if not fits:
        raise ValueError(f"cannot print {m.out.name}[...] = {m.formula} as code: it is not a "
                         "sum of products, and only a map between vectors of one length (or "
                         "rows of one length) may be anything else")
    row = m.index[0] if rows else None
    index = (m.index[1] if len(m.index) == 2 else None) if rows else m.index[0]
    tensors = {t.base: t for t in (*m.inputs, *m.params)}
    sums: dict[sp.Expr, tuple[sp.Symbol, sp.Symbol, sp.Expr]] = {}

    def wanted(t: Tensor, at: sp.Symbol | None) -> tuple | None:
        if not rows:
            return (at,)
        if len(t.axes) == 1:
            return (row,)
        return None if at is None else (row, at)

    def hoisted(expr: sp.Expr, at: sp.Symbol | None) -> sp.Expr:
        if isinstance(expr, sp.Sum):
            if len(expr.limits) != 1 or tuple(expr.limits[0][1:]) != (1, n):
                raise ValueError(f"cannot print the sum {expr} as code: a sum inside "
                                 "a map that is not a sum of products runs over a whole axis")
            i = expr.limits[0][0]
            body = hoisted(expr.function, i)
            key = body.xreplace({i: _INDEX})  # one index for every sum: bodies compare
            if key not in sums:
                sums[key] = (sp.Symbol(f"r{len(sums) + 1}_"), _INDEX, key)
            return sums[key][0]
        if isinstance(expr, sp.Indexed):
            t = tensors.get(expr.base)
            if t is None or expr.indices != wanted(t, at):
                raise ValueError(f"cannot print {expr} as code in {m.out.name}[...] = "
                                 f"{m.formula}: an entry here is read at the index of the "
                                 "sum around it (or the output's), as it is")
            return expr
        if expr.is_Number or expr in {s for s, _, _ in sums.values()}:
            return expr
        if isinstance(expr, sp.Add | sp.Mul) or (isinstance(expr, sp.Pow)
                                                and expr.exp.is_Rational):
            return expr.func(*[hoisted(a, at) for a in expr.args])
        raise ValueError(f"cannot print {expr} as code in {m.out.name}[...] = {m.formula}: "
                         "entries, sums, numbers and rational powers only")

    value = hoisted(m.formula.xreplace(sizes), index)
    return Reduced(index, n, tuple(sums.values()), value, tensors, rows, row)


class _Printer(StrPrinter):
    """Arithmetic as Python over NumPy arrays or numba scalars: ``entry`` gives a tensor
    entry's code, ``named`` a sum's; numbers as floats, a square root as np.sqrt."""

    printmethod = "_symbp_reduced"  # not SymPy's _sympystr, which prints Indexed itself

    def __init__(self, entry, named):
        super().__init__()
        self.entry, self.named = entry, named

    def _print_Indexed(self, expr):
        return self.entry(expr)

    def _print_Symbol(self, expr):
        return self.named(expr)

    def _print_Rational(self, expr):
        return repr(float(expr))

    def _print_Integer(self, expr):
        return str(int(expr))

    def _print_Pow(self, expr, rational=False):
        base, exp = expr.args
        if exp == sp.Rational(1, 2):
            return f"np.sqrt({self._print(base)})"
        if exp == -sp.Rational(1, 2):
            return f"(1 / np.sqrt({self._print(base)}))"
        if exp.is_Integer and exp > 0:
            return f"{self.parenthesize(base, 60)}**{int(exp)}"
        return f"{self.parenthesize(base, 60)}**({float(exp)!r})"


def numpy_code(r: Reduced, names: Mapping[str, str], batched_out: bool) -> str:
    """The map over whole arrays (inputs (batch, n) or (batch, R n), parameters (n,) or (R,)):
    (batch, n) or (batch, R n), or summed over the batch for a parameter's gradient."""
    bodies = {name: body for name, _, body in r.sums}

    def entry(e: sp.Indexed) -> str:
        t = r.tensors[e.base]
        code = names[t.name]
        code = code if code.isidentifier() else f"({code})"
        if r.rowed(t):
            return f"{code}.reshape(-1, {r.rows}, {r.n})"
        return f"{code}[:, None]" if r.rows else code

    def named(s: sp.Symbol) -> str:
        return f"({printer.doprint(bodies[s])}).sum(-1)[..., None]"

    printer = _Printer(entry, named)
    code = printer.doprint(r.value)
    if not r.rows:
        return code if batched_out else f"({code}).sum(0)"
    if batched_out:
        return f"({code}).reshape(-1, {r.rows * r.n})"
    return f"({code}).sum(0).reshape({r.rows})"


def numba_lines(r: Reduced, names: Mapping[str, str], batched: frozenset[str], out: str,
                batched_out: bool) -> list[str]:
    """Loops filling ``out`` (allocated) per sample (and row): each sum once, then every
    entry."""
    def entry(e: sp.Indexed) -> str:
        t = r.tensors[e.base]
        at = "i_r" if e.indices[-1] == _INDEX else "j_r"
        if r.rows and not r.rowed(t):
            return f"{names[t.name]}[c_r]"
        if r.rows:
            at = f"c_r * {r.n} + {at}"
        return f"{names[t.name]}[b_r, {at}]" if t.name in batched else f"{names[t.name]}[{at}]"

    printer = _Printer(entry, lambda s: s.name)
    lines = [] if batched_out else [f"{out}[:] = 0.0"]
    lines.append("for b_r in range(batch):")
    pad = "    "
    if r.rows:
        lines.append(f"    for c_r in range({r.rows}):")
        pad = "        "
    for name, _, body in r.sums:
        lines += [f"{pad}{name} = 0.0", f"{pad}for i_r in range({r.n}):",
                  f"{pad}    {name} += {printer.doprint(body)}"]
    value = printer.doprint(r.value)
    if r.rows and r.index is None:  # a parameter's gradient: one entry per row
        return [*lines, f"{pad}{out}[c_r] += {value}"]
    at = f"c_r * {r.n} + j_r" if r.rows else "j_r"
    target = f"{out}[b_r, {at}] =" if batched_out else f"{out}[{at}] +="
    return [*lines, f"{pad}for j_r in range({r.n}):", f"{pad}    {target} {value}"]
