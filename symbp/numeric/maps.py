"""A layer kind's maps printed as batched NumPy: the numeric form of the one index formula.

A ``Map`` (``symbp.core.layers.base``) says ``out[index] = formula``. At a network's sizes
``terms`` reads its formula as a sum of terms, each a number times a product of tensor
entries, under sums over further indices and perhaps under conditions on the indices (a
Piecewise branch, a Kronecker delta, a sum whose bounds depend on another index). That is
every linear map a layer kind writes: an affine map, a skip, a convolution and its full
convolution with the flipped kernel, average pooling, and their vector-Jacobian products.
Anything else (a max, a function of an entry) is refused with one line naming it.

``numpy_code`` prints the terms over whole arrays with a leading batch axis: the inputs a
program passes (x, δ, g) have it, the parameters do not, and a parameter's gradient is
summed over it. A term of two matrices is a matrix product (``x @ W1.T``, ``np.dot(δᵀ, x)``,
as the dense code has always read); any other term is one ``np.einsum``. An index that is
not a plain index symbol (``p + s - 1``: a convolution; ``u - s + 1``: the flipped kernel;
``2 p + s``: a stride) is gathered by a constant grid of positions computed once, where a
position outside the tensor reads 0 (zero padding), so one form serves every backend
(NumPy, torch, jax). Conditions become a constant 0/1 mask over their indices. The loops
of the numba kernel are printed from the same terms (``maps_numba``).
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Mapping
from dataclasses import dataclass

import sympy as sp
from sympy.printing.str import StrPrinter

from ..core.layers.base import Map, Tensor

MAX_GRID = 1_000_000  # index points evaluated to find the extent of a dependent sum bound


@dataclass(frozen=True)
class Factor:
    """One tensor entry of a term: the tensor and its index expressions (1-based)."""

    tensor: Tensor
    indices: tuple[sp.Expr, ...]


@dataclass(frozen=True)
class Term:
    """``coeff`` times the product of ``factors``, summed over ``sums``, where ``conditions``."""

    coeff: sp.Expr
    factors: tuple[Factor, ...]
    sums: tuple[sp.Symbol, ...] = ()
    conditions: tuple[sp.Basic, ...] = ()


@dataclass(frozen=True)
class Terms:
    """A map at concrete sizes: its terms, every index's range (1-based, inclusive), the
    shapes of its tensors, and which of them carry the batch axis."""

    map: Map
    terms: tuple[Term, ...]
    ranges: dict[sp.Symbol, tuple[int, int]]
    shapes: dict[str, tuple[int, ...]]
    batched: frozenset[str]  # the map's inputs (x, δ, g): one row per sample
    batched_out: bool  # False for a parameter's gradient: summed over the batch

    @property
    def out_shape(self) -> tuple[int, ...]:
        return self.shapes[self.map.out.name]


def terms(m: Map, sizes: Mapping[sp.Symbol, int], batched_out: bool = True) -> Terms:
    """``m`` at ``sizes`` as terms; ValueError naming what the printers cannot read."""
    shapes = {t.name: t.shape(sizes) for t in (m.out, *m.inputs, *m.params)}
    ranges = {i: (1, n) for i, n in zip(m.index, shapes[m.out.name])}
    tensors = {t.base: t for t in (*m.inputs, *m.params)}
    found = []
    for coeff, factors, limits, conditions in _split(m.formula.xreplace(sizes), tensors):
        extra = []
        pending = list(limits)
        while pending:  # an inner sum's bounds may depend on an outer sum's index
            ready = [lim for lim in pending if _free(lim[1:]) <= set(ranges)]
            if not ready:
                raise ValueError(f"the sum bounds of {m.out.name}[...] = {m.formula} depend "
                                 "on an index that has no range")
            i, lo, hi = ready[0]
            pending.remove(ready[0])
            ranges[i] = (_extent(lo, ranges, min), _extent(hi, ranges, max))
            extra += [c for b, c in ((lo, sp.Le(lo, i)), (hi, sp.Le(i, hi)))
                      if not sp.sympify(b).is_Integer]
        conds = tuple(c for c in _conjuncts([*conditions, *extra])
                      if not _padding(c, factors, shapes))
        if any(c is sp.false for c in conds) or coeff == 0:
            continue
        term = Term(sp.sympify(coeff), tuple(factors), tuple(i for i, _, _ in limits), conds)
        used = set().union(*[sp.sympify(e).free_symbols for f in term.factors for e in f.indices],
                           *[c.free_symbols for c in conds])
        unknown = sorted(str(s) for s in used if s not in ranges)
        if unknown:
            raise ValueError(f"the map {m.out.name}[...] = {m.formula} uses the index "
                             f"{unknown[0]}, which is neither an output index nor summed")
        found.append(term)
    # terms with more factors first: W x + b prints as x @ W.T + b
    found.sort(key=lambda t: -len(t.factors))
    return Terms(m, tuple(found), ranges, shapes, frozenset(t.name for t in m.inputs),
                 batched_out)


_Split = tuple[sp.Expr, list[Factor], list[tuple[sp.Symbol, sp.Expr, sp.Expr]], list[sp.Basic]]


def _split(expr: sp.Expr, tensors: Mapping[sp.IndexedBase, Tensor]) -> list[_Split]:
    """``expr`` as a list of (coefficient, factors, sums, conditions)."""
    if expr == 0:
        return []
    if isinstance(expr, sp.Add):
        return [t for a in expr.args for t in _split(a, tensors)]
    if isinstance(expr, sp.Sum):
        body, renamed = expr.function, []
        for i, lo, hi in expr.limits:  # a fresh symbol: another sum may use the same name
            fresh = sp.Dummy(i.name, **i.assumptions0)
            body = body.xreplace({i: fresh})
            renamed.append((fresh, lo, hi))
        return [(c, f, renamed + s, d) for c, f, s, d in _split(body, tensors)]
    if isinstance(expr, sp.Piecewise):
        found: list[_Split] = []
        before: list[sp.Basic] = []
        for value, condition in expr.args:
            here = [*before] + ([] if condition is sp.true else [condition])
            _require_indices(condition, expr)
            found += [(c, f, s, d + here) for c, f, s, d in _split(value, tensors)]
            before.append(sp.Not(condition))
        return found
    if isinstance(expr, sp.Mul):
        found = [(sp.S.One, [], [], [])]
        for arg in expr.args:
            found = [(c1 * c2, f1 + f2, s1 + s2, d1 + d2) for c1, f1, s1, d1 in found
                     for c2, f2, s2, d2 in _split(arg, tensors)]
        return found
    if isinstance(expr, sp.Indexed) and expr.base in tensors:
        return [(sp.S.One, [Factor(tensors[expr.base], tuple(expr.indices))], [], [])]
    if isinstance(expr, sp.Pow) and expr.exp.is_Integer and expr.exp > 0:
        return _split(sp.Mul(*[expr.base] * int(expr.exp), evaluate=False), tensors)
    if isinstance(expr, sp.KroneckerDelta):
        return [(sp.S.One, [], [], [sp.Eq(*expr.args)])]
    if expr.is_Number:
        return [(expr, [], [], [])]
    raise ValueError(f"cannot print {expr} as code: a layer's map must be a sum of products of "
                     "tensor entries and numbers (with sums, Piecewise or Kronecker deltas on "
                     "the indices)")


def _require_indices(condition: sp.Basic, where: sp.Expr) -> None:
    if condition.has(sp.Indexed):
        raise ValueError(f"cannot print {where} as code: its condition {condition} reads a "
                         "tensor entry; conditions may test indices only")


def _extent(bound: sp.Expr, ranges: Mapping[sp.Symbol, tuple[int, int]], pick) -> int:
    """The smallest (``pick`` = min) or largest (max) value of a sum bound over the ranges of
    the indices it depends on."""
    bound = sp.sympify(bound)
    if bound.is_Integer:
        return int(bound)
    symbols = sorted(bound.free_symbols, key=str)
    if any(s not in ranges for s in symbols):
        raise ValueError(f"the sum bound {bound} depends on an index that has no range")
    grids = [range(ranges[s][0], ranges[s][1] + 1) for s in symbols]
    count = 1
    for g in grids:
        count *= len(g)
    if count > MAX_GRID:
        raise ValueError(f"the sum bound {bound} depends on {count} index points; at most "
                         f"{MAX_GRID} are evaluated")
    f = sp.lambdify(symbols, bound, "math")
    return int(pick(f(*point) for point in itertools.product(*grids)))


def _conjuncts(conditions) -> list[sp.Basic]:
    found = []
    for c in conditions:
        found += list(c.args) if isinstance(c, sp.And) else [c]
    return [c for c in found if c is not sp.true]


def _padding(condition: sp.Basic, factors: list[Factor], shapes) -> bool:
    """Whether ``condition`` only says that an index of a factor lies inside its axis: what
    reading 0 outside the tensor (zero padding) does already."""
    if not isinstance(condition, sp.Ge | sp.Le | sp.Gt | sp.Lt):
        return False
    lhs, rhs = condition.lhs, condition.rhs
    at_least = {sp.Ge: lhs - rhs, sp.Le: rhs - lhs, sp.Gt: lhs - rhs - 1,
                sp.Lt: rhs - lhs - 1}[type(condition)]  # condition: at_least >= 0 (integers)
    for f in factors:
        for e, n in zip(f.indices, shapes[f.tensor.name]):
            if sp.expand(at_least - (e - 1)) == 0 or sp.expand(at_least - (n - e)) == 0:
                return True
    return False


def _free(exprs) -> set:
    return set().union(*[sp.sympify(e).free_symbols for e in exprs])


# ---------------------------------------------------------------- NumPy


@dataclass
class Printed:
    """A map as NumPy: the expression, and the module constants it reads (name -> code)."""

    code: str
    constants: dict[str, str]


def numpy_code(t: Terms, names: Mapping[str, str], prefix: str) -> Printed:
    """``t`` over the arrays ``names`` (tensor name -> code; batched inputs are stored
    (batch, entries), one flat row per sample; parameters in their own shape). The result is
    (batch, entries) for a batched map, the parameter's shape for a parameter's gradient.
    Constants (gather grids, masks) are named ``prefix``_1, ``prefix``_2, ..."""
    printer = _TermPrinter(t, names, prefix)
    parts = [printer.term(term) for term in t.terms]
    code = " + ".join(parts) if parts else _zeros(t)
    out_axes = len(t.out_shape)
    if t.batched_out and out_axes > 1:
        code = f"{primary(code)}.reshape(-1, {_product(t.out_shape)})"
    return Printed(code, printer.constants)


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
        for name, known in self.constants.items():
            if known == code:
                return name
        name = f"{self.prefix}_{len(self.constants) + 1}"
        self.constants[name] = code
        return name

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

    def term(self, term: Term) -> str:
        t = self.t
        operands = [self.operand(f) for f in term.factors]
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


BATCH = sp.Symbol("batch")  # stands for the batch axis among the index symbols


def plain(index: sp.Expr, n: int, ranges: Mapping[sp.Symbol, tuple[int, int]]) -> bool:
    """Whether ``index`` runs over exactly the n entries of its axis: an einsum letter (any
    other index is gathered)."""
    return isinstance(index, sp.Symbol) and ranges.get(index) == (1, n)


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
    return f"np.einsum({spec!r}, {', '.join(c for c, _ in operands)})"


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
        replaced[s] = sp.Symbol(arange if count == 1 else f"{arange}.reshape({shape})")
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


class _GridPrinter(StrPrinter):
    def _print_And(self, expr):
        return " & ".join(f"({self._print(a)})" for a in expr.args)

    def _print_Or(self, expr):
        return " | ".join(f"({self._print(a)})" for a in expr.args)

    def _print_Not(self, expr):
        return f"~({self._print(expr.args[0])})"

    def _print_Relational(self, expr):
        return f"{self._print(expr.lhs)} {expr.rel_op} {self._print(expr.rhs)}"

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


# ---------------------------------------------------------------- index notation, as text


class _IndexPrinter(StrPrinter):
    def _print_Add(self, expr, order=None):
        if not expr.has(sp.Sum):
            return super()._print_Add(expr, order)
        terms = sorted(expr.args, key=lambda t: (not t.has(sp.Sum), sp.default_sort_key(t)))
        text = self._print(terms[0])
        for t in terms[1:]:
            printed = self._print(t)
            text += f" - {printed[1:]}" if printed.startswith("-") else f" + {printed}"
        return text

    def _print_Sum(self, expr):
        names = "".join(str(i) for i, _, _ in expr.limits)
        body = self._print(expr.function)
        return f"Σ_{names} {body if expr.function.is_Mul or expr.function.is_Atom else f'({body})'}"

    def _print_Mul(self, expr):
        coeff, rest = expr.as_coeff_Mul()
        factors = [self.parenthesize(f, 50) for f in sp.Mul.make_args(rest)]
        text = " ".join(factors)
        if coeff == 1:
            return text
        return f"-{text}" if coeff == -1 else f"{self._print(coeff)} {text}"

    def _print_Indexed(self, expr):
        return f"{self._print(expr.base)}[{', '.join(self._print(i) for i in expr.indices)}]"


def index_text(m: Map) -> str:
    """``m`` in index notation, as one line of plain text: dx[k] = Σ_j P[j, k] g[j]."""
    out = f"{m.out.name}[{', '.join(str(i) for i in m.index)}]"
    return f"{out} = {_IndexPrinter().doprint(m.formula)}"
