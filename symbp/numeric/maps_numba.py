"""A layer kind's maps printed as numba loops, from the same terms as their NumPy form.

``numba_lines`` fills an output array from the terms of a map (``maps.terms``): one nest
of loops per term, over the samples, the output's indices and the term's sums, with the
index expressions written into the subscripts (``x[i, c_, p_ + s_]``), a guard where an
index can leave its axis (zero padding) and the term's conditions as an ``if``. A term
that is a matrix product of a batch quantity with a parameter, or of two batch quantities
summed over the batch, is ``numba_loops.product`` instead: loops with literal bounds for
small work and BLAS above, exactly as the dense kernel computes W x, Wᵀ δ and δ aᵀ.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping

import sympy as sp

from . import maps_reduced, maps_staged_code
from .maps import MAX_GRID, Factor, IndexCodePrinter, Term, Terms, plain
from .numba_loops import flat_copy, product


def numba_lines(t: Terms, names: Mapping[str, str], out: str) -> list[str]:
    """Lines that fill ``out`` (allocated: (batch, entries) for a batched map, the parameter's
    shape for a gradient) with the map over the arrays ``names`` (tensor name -> array:
    inputs (batch, entries), parameters in their own shape). ``batch`` is defined."""
    if t.reduced is not None:
        return maps_reduced.numba_lines(t.reduced, names, t.batched, out, t.batched_out)
    if t.staged is not None:  # its stages' arrays named after ``out``
        return maps_staged_code.numba_lines(t.staged, names, out, out)
    lines: list[str] = []
    arrays = {}
    for name, shape in t.shapes.items():
        array = out if name == t.map.out.name else names.get(name)
        if array is None:
            continue
        batched = name in t.batched or (name == t.map.out.name and t.batched_out)
        if batched and len(shape) > 1:
            arrays[name] = f"{array}_v"
            lines.append(f"{array}_v = {array}.reshape((batch, {', '.join(map(str, shape))}))")
        else:
            arrays[name] = array
    remaining = list(t.terms)
    first = _as_product(remaining[0], t, names, out) if remaining else None
    if remaining and _is_copy(remaining[0], t):  # a skip: out = x, as a loop (numba's
        # array-to-array slice assignment costs seconds of compile for its shape check)
        entries = math.prod(t.out_shape)
        size = f"batch * {entries}" if t.batched_out else str(entries)
        lines += flat_copy(out, names[remaining.pop(0).factors[0].tensor.name], size)
    elif first is not None:
        kind, a, b, n, m = first
        remaining.pop(0)
        bias = _bias(remaining, t) if kind == "nt" else None
        if bias is not None:
            remaining.remove(bias)
        lines += product(kind, a, b, out, n, m,
                         bias=names[bias.factors[0].tensor.name] if bias else "")
    else:
        lines.append(f"{out}[:] = 0.0")
    for term in remaining:
        lines += _loops(term, t, arrays)
    return lines


def _as_product(term: Term, t: Terms, names, out: str):
    """(kind, a, b, n, m) when ``term`` is a matrix product ``numba_loops.product`` computes:
    "nt" x Wᵀ, "nn" δ W, "tn" δᵀ x summed over the batch; None otherwise."""
    if term.coeff != 1 or term.conditions or term.choices or len(term.factors) != 2 or \
            len(t.out_shape) != (1 if t.batched_out else 2):
        return None
    for f in term.factors:
        shape = t.shapes[f.tensor.name]
        width = len(shape) + (f.tensor.name in t.batched)
        if width != 2 or not all(plain(i, n, t.ranges) for i, n in zip(f.indices, shape)):
            return None
    batched = [f for f in term.factors if f.tensor.name in t.batched]
    params = [f for f in term.factors if f.tensor.name not in t.batched]
    if t.batched_out and len(batched) == 1:
        (x,), (W,) = batched, params
        (j,) = t.map.index
        (k,) = x.indices
        if W.indices == (j, k):
            return "nt", names[x.tensor.name], names[W.tensor.name], *t.shapes[W.tensor.name]
        if W.indices == (k, j):
            return "nn", names[x.tensor.name], names[W.tensor.name], *t.shapes[W.tensor.name]
    if not t.batched_out and len(batched) == 2:
        j, k = t.map.index
        u, v = batched
        if (u.indices, v.indices) == ((k,), (j,)):
            u, v = v, u
        if (u.indices, v.indices) == ((j,), (k,)):
            return "tn", names[u.tensor.name], names[v.tensor.name], *t.out_shape
    return None


def _is_copy(term: Term, t: Terms) -> bool:
    """Whether ``term`` is the whole output read off one array of its shape (x[j])."""
    if term.coeff != 1 or term.conditions or term.choices or term.sums or len(term.factors) != 1:
        return False
    f = term.factors[0]
    same_axis = (f.tensor.name in t.batched) == t.batched_out
    return same_axis and f.indices == t.map.index and t.shapes[f.tensor.name] == t.out_shape


def _bias(terms: list[Term], t: Terms) -> Term | None:
    """A term that is a vector parameter read at the output's index (+ b): added by the
    product's own loop."""
    for term in terms:
        if term.coeff == 1 and not (term.conditions or term.choices or term.sums) and \
                len(term.factors) == 1:
            f = term.factors[0]
            if f.tensor.name not in t.batched and f.indices == t.map.index:
                return term
    return None


def _loops(term: Term, t: Terms, arrays: Mapping[str, str]) -> list[str]:
    """One nest of loops adding ``term`` into the output: samples, output indices, sums."""
    names = _loop_names([*t.map.index, *term.sums])
    # a 1-based index, from its (integer) loop variable
    zero_based = {s: sp.Symbol(names[s], integer=True) + 1 for s in names}
    batched = t.batched_out or any(f.tensor.name in t.batched for f in term.factors)
    head, depth = [], 0

    def open_loop(text: str) -> None:
        nonlocal depth
        head.append("    " * depth + text)
        depth += 1

    if batched:
        open_loop("for i in range(batch):")
    for s in t.map.index:
        lo, hi = t.ranges[s]
        open_loop(f"for {names[s]} in {_range(lo, hi)}:")
    out_index = ", ".join((["i"] if t.batched_out else []) + [names[s] for s in t.map.index])
    guards = [_CodePrinter().doprint(c.xreplace(zero_based)) for c in term.conditions]
    values = []
    for f in term.factors:
        code, inside = _element(f, t, arrays, zero_based)
        values.append(code)
        guards += inside
    for c in term.choices:  # [position = the first maximum of the window's entries]
        window = []
        for f in c.candidates:
            code, inside = _element(f, t, arrays, zero_based)
            window.append(code)
            guards += inside
        position = _CodePrinter().doprint(sp.sympify(c.position).xreplace(zero_based))
        values.append(f"(1.0 if {position} == {_first_max(window)} else 0.0)")
    value = " * ".join(values) if values else "1.0"
    if term.coeff != 1:
        value = f"{float(term.coeff)!r} * {value}"
    target = f"{arrays[t.map.out.name]}[{out_index}]"
    if term.sums:
        head.append("    " * depth + "acc = 0.0")
        outer = depth
        for s in term.sums:
            lo, hi = t.ranges[s]
            open_loop(f"for {names[s]} in {_range(lo, hi)}:")
        update = f"acc += {value}"
    else:
        outer = None
        update = f"{target} += {value}"
    if guards:
        head.append("    " * depth + f"if {' and '.join(guards)}:")
        depth += 1
    head.append("    " * depth + update)
    if outer is not None:
        head.append("    " * outer + f"{target} += acc")
    return head


def _first_max(values: list[str]) -> str:
    """The 1-based index of the first maximum of ``values`` (NumPy's argmax), as one
    expression: the first k whose value equals the largest."""
    largest = f"max({', '.join(values)})" if len(values) > 1 else values[0]
    found = str(len(values))
    for k in range(len(values) - 1, 0, -1):
        found = f"({k} if {values[k - 1]} == {largest} else {found})"
    return found


def _range(lo: int, hi: int) -> str:
    """The 0-based loop over the 1-based indices lo..hi."""
    return f"range({hi})" if lo == 1 else f"range({lo - 1}, {hi})"


def _loop_names(symbols: list[sp.Symbol]) -> dict[sp.Symbol, str]:
    """A loop variable for each index: its name and ``_`` (no clash with the kernel's arrays
    or its float temporaries), numbered where two indices share a name."""
    names: dict[sp.Symbol, str] = {}
    for s in symbols:
        if s in names:
            continue
        name = f"{s.name}_"
        while name in names.values():
            name = name + "_"
        names[s] = name
    return names


def _element(f: Factor, t: Terms, arrays: Mapping[str, str], zero_based) -> tuple[str, list[str]]:
    """The code of one tensor entry and the guards that keep its indices inside the tensor."""
    shape = t.shapes[f.tensor.name]
    indices, guards = [], []
    for index, n in zip(f.indices, shape):
        position = sp.expand(sp.sympify(index).xreplace(zero_based) - 1)
        code = _CodePrinter().doprint(position)
        low, high = _bounds(index, t.ranges)
        if low < 1 and high > n:
            guards.append(f"0 <= {code} < {n}")
        elif low < 1:
            guards.append(f"{code} >= 0")
        elif high > n:
            guards.append(f"{code} < {n}")
        indices.append(code)
    if f.tensor.name in t.batched:
        indices.insert(0, "i")
    return f"{arrays[f.tensor.name]}[{', '.join(indices)}]", guards


def _bounds(index: sp.Expr, ranges) -> tuple[int, int]:
    """The smallest and largest value of an index expression over its indices' ranges."""
    index = sp.sympify(index)
    symbols = sorted(index.free_symbols, key=str)
    if not symbols:
        return int(index), int(index)
    grids: list = [range(ranges[s][0], ranges[s][1] + 1) for s in symbols]
    if index.is_polynomial(*symbols) and sp.Poly(index, *symbols).is_linear:
        grids = [(g[0], g[-1]) for g in grids]  # an affine index: its extremes at the corners
    elif _count(grids) > MAX_GRID:
        raise ValueError(f"the index {index} ranges over more than {MAX_GRID} points")
    f = sp.lambdify(symbols, index, "math")
    found = [int(f(*point)) for point in itertools.product(*grids)]
    return min(found), max(found)


def _count(grids) -> int:
    total = 1
    for g in grids:
        total *= len(g)
    return total


class _CodePrinter(IndexCodePrinter):
    """Index arithmetic and conditions as Python that numba compiles."""

    def _print_And(self, expr):
        return " and ".join(f"({self._print(a)})" for a in expr.args)

    def _print_Or(self, expr):
        return " or ".join(f"({self._print(a)})" for a in expr.args)

    def _print_Not(self, expr):
        return f"not ({self._print(expr.args[0])})"

    def _print_Max(self, expr):
        return f"max({', '.join(self._print(a) for a in expr.args)})"

    def _print_Min(self, expr):
        return f"min({', '.join(self._print(a) for a in expr.args)})"

    def _print_Symbol(self, expr):
        return expr.name
