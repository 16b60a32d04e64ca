"""A layer kind's map printed as batched NumPy: its terms (``maps.terms``) over whole arrays.

The inputs a program passes (x, δ, g) carry a leading batch axis, the parameters do not,
and a parameter's gradient is summed over it. A term of two matrices is a matrix product
(``x @ W1.T``, ``np.dot(delta2.T, a1)``, as the dense code has always read); any other term
is one ``np.einsum``. An index that is not a plain index symbol (``p + s - 1``: a
convolution; ``u - s + 1``: the flipped kernel; ``2 p + s``: a stride) is gathered through
a constant grid of positions computed once, where a position outside the tensor reads 0
(zero padding): one form for every backend (NumPy, torch, jax), where a sliding window
view would be NumPy's alone. A condition on the indices is a constant 0/1 mask; max
pooling's pick (a ``Choice``) is a 0/1 array from the argmax of its window's entries.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial

import sympy as sp

from . import maps_reduced, maps_staged_code
from .maps import BATCH, Choice, Factor, IndexCodePrinter, Term, Terms, plain


@dataclass
class Printed:
    """A map as NumPy: the expression, the module constants it reads (name -> code), and the
    lines that must run before it (a staged map's stages)."""

    code: str
    constants: dict[str, str]
    lines: tuple[str, ...] = ()


def numpy_code(t: Terms, names: Mapping[str, str], prefix: str, flat: bool = True) -> Printed:
    """``t`` over the arrays ``names`` (tensor name -> code; batched inputs are stored
    (batch, entries), one flat row per sample; parameters in their own shape). The result is
    (batch, entries) for a batched map (``flat``; else (batch, *its axes)), the parameter's
    shape for a parameter's gradient.
    Constants (gather grids, masks) are named ``prefix``_1, ``prefix``_2, ..."""
    if t.reduced is not None:
        return Printed(maps_reduced.numpy_code(t.reduced, names, t.batched_out), {})
    if t.staged is not None:  # its stages' arrays are named after the constants' prefix
        constants: dict[str, str] = {}
        lines, code = maps_staged_code.numpy_code(t.staged, names, prefix.lower(),
                                                  partial(named_constant, constants, prefix))
        return Printed(code, constants, tuple(lines))
    printer = _TermPrinter(t, names, prefix)
    parts = [printer.term(term) for term in t.terms]
    code = " + ".join(parts) if parts else _zeros(t)
    out_axes = len(t.out_shape)
    if t.batched_out and out_axes > 1 and flat:
        code = f"{primary(code)}.reshape(-1, {_product(t.out_shape)})"
    return Printed(code, printer.constants)


def named_constant(constants: dict[str, str], prefix: str, code: str) -> str:
    """The name of the module constant ``code`` among a map's ``constants``: the one it has,
    else the next of ``prefix``_1, ``prefix``_2, ..., added."""
    for name, known in constants.items():
        if known == code:
            return name
    name = f"{prefix}_{len(constants) + 1}"
    constants[name] = code
    return name


def _zeros(t: Terms) -> str:
    if t.batched_out:
        raise ValueError(f"the map {t.map.out.name}[...] is zero: no code to print")
    return f"np.zeros({t.out_shape!r})"


def _product(shape: tuple[int, ...]) -> int:
    total = 1
    for n in shape:
        total *= n
    return total


class _TermPrinter:
    """Prints the terms of one map, sharing its letters and its constants."""

    def __init__(self, t: Terms, names: Mapping[str, str], prefix: str):
        self.t, self.names, self.prefix = t, names, prefix
        self.constants: dict[str, str] = {}
        self.letters = letters(t)

    def constant(self, code: str) -> str:
        return named_constant(self.constants, self.prefix, code)

    def operand(self, f: Factor) -> tuple[str, str]:
        """The code of a factor and its einsum subscripts (gathering non-plain indices)."""
        t = self.t
        batched = f.tensor.name in t.batched
        shape = t.shapes[f.tensor.name]
        code = self.names[f.tensor.name]
        if batched and len(shape) > 1:
            code = f"{code}.reshape(-1, {', '.join(map(str, shape))})"
        subscripts: list[str | None] = [self.letters[i] if plain(i, n, t.ranges) else None
                                        for i, n in zip(f.indices, shape)]
        for axis in reversed(range(len(f.indices))):
            if subscripts[axis] is not None:
                continue
            index, grid = positions(f.indices[axis], shape[axis], t.ranges)
            code = f"_gather({code}, {axis + batched}, {self.constant(index)})"
            subscripts[axis] = "".join(self.letters[s] for s in grid)
        return code, (self.letters[BATCH] if batched else "") + "".join(
            s for s in subscripts if s is not None)

    def choice(self, c: Choice) -> tuple[str, str]:
        """[position = ρ] as a 0/1 array and its subscripts: ρ the first maximum (NumPy's
        argmax) of the candidates' entries, stacked on a last axis."""
        window = [self.operand(f) for f in c.candidates]
        subscripts = window[0][1]
        if any(s != subscripts for _, s in window):
            raise ValueError("cannot print a window's maximum as code: its entries are read "
                             "over different indices")
        symbol = {letter: s for s, letter in self.letters.items()}
        read = [symbol[letter] for letter in subscripts if symbol[letter] is not BATCH]
        ranges = list(self.t.ranges)
        extra = sorted(sp.sympify(c.position).free_symbols - set(read), key=ranges.index)
        stacked = f"np.stack(({', '.join(code for code, _ in window)},), -1)"
        chosen = f"np.argmax({stacked}, -1) + 1"
        if extra:
            chosen = f"({chosen})[..., {', '.join(['None'] * len(extra))}]"
        position = self.constant(grid_code(c.position, [*read, *extra], self.t.ranges))
        return (f"np.where(np.equal({chosen}, {position}), 1.0, 0.0)",
                subscripts + "".join(self.letters[s] for s in extra))

    def term(self, term: Term) -> str:
        t = self.t
        operands = [self.operand(f) for f in term.factors]
        operands += [self.choice(c) for c in term.choices]
        if term.conditions:
            mask, grid = condition_mask(term.conditions, t.ranges)
            operands.append((self.constant(mask), "".join(self.letters[s] for s in grid)))
        present = set("".join(s for _, s in operands))
        coeff = term.coeff
        for s in term.sums:  # a sum over an index no operand reads: a count
            if self.letters[s] not in present:
                coeff *= t.ranges[s][1] - t.ranges[s][0] + 1
        wanted = ([BATCH] if t.batched_out else []) + list(t.map.index)
        out = "".join(self.letters[s] for s in wanted if self.letters[s] in present)
        batch = self.letters[BATCH]
        code = _matrix_product(operands, out, batch) or _einsum(operands, out, batch)
        missing = [self.letters[s] in present for s in wanted]
        while missing and not missing[0]:
            missing.pop(0)  # leading axes broadcast as they are
        if not all(missing):
            code = f"{primary(code)}[{', '.join(':' if m else 'None' for m in missing)}]"
        return _scaled(coeff, code)


def letters(t: Terms) -> dict[sp.Symbol, str]:
    """An einsum letter for every index symbol and for the batch: its own name where that is
    one free letter, else the next free one."""
    symbols = [*t.map.index, *(s for term in t.terms for s in term.sums), BATCH]
    free = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    chosen: dict[sp.Symbol, str] = {}
    for s in symbols:
        if s not in chosen and s is not BATCH and len(s.name) == 1 and s.name in free:
            chosen[s] = s.name
            free.remove(s.name)
    for s in symbols:
        if s not in chosen:
            if not free:
                raise ValueError(f"the map {t.map.out.name}[...] has more indices than einsum "
                                 "has letters")
            if s is BATCH:  # n for the samples, else the last free small letter
                lower = [c for c in free if c.islower()] or free
                chosen[s] = "n" if "n" in free else lower[-1]
                free.remove(chosen[s])
            else:
                chosen[s] = free.pop(0)
    return chosen


def _einsum(operands: list[tuple[str, str]], out: str, batch: str) -> str:
    if len(operands) == 1 and operands[0][1] == out:
        return operands[0][0]
    if len(operands) == 1 and operands[0][1] == batch + out:  # δ summed over the batch
        return f"{primary(operands[0][0])}.sum(axis=0)"
    spec = ",".join(s for _, s in operands) + "->" + out
    # optimize: a contraction as a BLAS product (a convolution's windows with its kernel:
    # 9× faster at batch 1,000 than einsum's own loops, a few µs slower at batch 1)
    optimize = ", optimize=True" if len(operands) > 1 else ""
    return f"np.einsum({spec!r}, {', '.join(c for c, _ in operands)}{optimize})"


def _matrix_product(operands: list[tuple[str, str]], out: str, batch: str) -> str | None:
    """A two-factor term that is a matrix product, as one: ``A @ B`` (``np.dot(Aᵀ, B)`` when
    it sums over the batch, as the dense code does); None for any other term."""
    if len(operands) != 2 or len(out) != 2:
        return None
    (a, sa), (b, sb) = operands
    if len(sa) != 2 or len(sb) != 2 or len(set(sa)) != 2 or len(set(sb)) != 2:
        return None
    shared = set(sa) & set(sb)
    if len(shared) != 1 or shared & set(out):
        return None
    (c,) = shared
    r, q = out[0], out[1]
    if r in sb and q in sa:
        (a, sa), (b, sb) = (b, sb), (a, sa)
    if not (r in sa and q in sb):
        return None
    left = a if sa == r + c else f"{primary(a)}.T"
    right = b if sb == c + q else f"{primary(b)}.T"
    if c == batch:
        return f"np.dot({left}, {right})"
    return f"{primary(left)} @ {primary(right)}"


def primary(code: str) -> str:
    """``code``, in parentheses unless it is a name, a call, an attribute or an element."""
    node = ast.parse(code, mode="eval").body
    primary = (ast.Name, ast.Call, ast.Attribute, ast.Subscript, ast.Constant)
    return code if isinstance(node, primary) else f"({code})"


def _scaled(coeff: sp.Expr, code: str) -> str:
    if coeff == 1:
        return code
    text = primary(code)
    if coeff == -1:
        return f"-{text}"
    return f"{float(coeff)!r} * {text}"


# ---------------------------------------------------------------- constant grids


def grid_code(expr: sp.Expr, symbols: list[sp.Symbol],
              ranges: Mapping[sp.Symbol, tuple[int, int]]) -> str:
    """NumPy code for ``expr`` on the grid of ``symbols`` (one axis each, in order)."""
    count = len(symbols)
    replaced = {}
    for axis, s in enumerate(symbols):
        lo, hi = ranges[s]
        shape = ", ".join("-1" if k == axis else "1" for k in range(count))
        arange = f"np.arange({lo}, {hi + 1})"
        replaced[s] = sp.Symbol(arange if count == 1 else f"{arange}.reshape({shape})",
                                integer=True)  # as the index it stands for: floors print
    return _GridPrinter().doprint(sp.sympify(expr).xreplace(replaced))


def positions(index: sp.Expr, n: int, ranges: Mapping[sp.Symbol, tuple[int, int]]):
    """The constant grid of 0-based positions an index expression reads along an axis of n
    entries (n, the zero slot ``_gather`` appends, where it lies outside), and its symbols."""
    symbols = sorted(sp.sympify(index).free_symbols, key=lambda s: list(ranges).index(s))
    position = grid_code(sp.sympify(index) - 1, symbols, ranges)
    if not symbols:
        position = f"np.array({position})"
    return f"_inside({position}, {n})", symbols


def condition_mask(conditions, ranges):
    """A constant 0/1 mask over the indices the conditions test, and those indices."""
    condition = sp.And(*conditions)
    symbols = sorted(condition.free_symbols, key=lambda s: list(ranges).index(s))
    return f"np.where({grid_code(condition, symbols, ranges)}, 1.0, 0.0)", symbols


class _GridPrinter(IndexCodePrinter):
    """Index arithmetic and conditions on NumPy grids (elementwise &, |, ~)."""

    def _print_And(self, expr):
        return " & ".join(f"({self._print(a)})" for a in expr.args)

    def _print_Or(self, expr):
        return " | ".join(f"({self._print(a)})" for a in expr.args)

    def _print_Not(self, expr):
        return f"~({self._print(expr.args[0])})"

    def _print_Max(self, expr):
        code = self._print(expr.args[0])
        for a in expr.args[1:]:
            code = f"np.maximum({code}, {self._print(a)})"
        return code

    def _print_Min(self, expr):
        code = self._print(expr.args[0])
        for a in expr.args[1:]:
            code = f"np.minimum({code}, {self._print(a)})"
        return code


GATHER = '''def _inside(position, n):
    """Positions along an axis of n entries, each outside it moved to n: the zero slot."""
    return np.where((position >= 0) & (position < n), position, n)


def _gather(a, axis, index):
    """The entries of ``a`` at ``index`` (a constant grid of positions) along ``axis``, the
    position a.shape[axis] reading 0: zero padding, in any backend's arrays."""
    zero = np.zeros_like(np.take(a, np.zeros(1, dtype=int), axis))
    return np.take(np.concatenate((a, zero), axis), index, axis)
'''

