"""A staged map (``maps_staged``) printed: NumPy over whole arrays, numba as loops.

NumPy: every stage one line, a sum as one ``np.einsum`` (its brackets one constant 0/1 mask),
an elementwise stage as arithmetic on its operands laid along its axes (``[:, None, :]``), a
row maximum as ``np.max`` with the masked values at −inf: operations NumPy, torch and jax
share, so the one module runs on all three. numba: every stage an array filled by one nest
of loops over the batch and its axes, a sum or a maximum as a loop of its own with the
brackets an ``if``. Before a softmax's row maximum, a comment says why subtracting it
changes nothing.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping

import sympy as sp
from sympy.printing.str import StrPrinter

from ..core.layers.base import Inside
from .maps_staged import Stage, Staged, condition


class _Printer(StrPrinter):
    """A stage's arithmetic as Python: ``entry`` gives an entry's code, ``bracket`` a
    bracket's; exp as np.exp, a rational as the float nearest it, a square root (attention's
    scale 1/√d is √d/d) as np.sqrt, which is √q correctly rounded and which
    ``proof.code_exact`` reads as √q: a 17-digit float of √q could only be read as the
    rational it is."""

    printmethod = "_symbp_staged"

    def __init__(self, entry, bracket):
        super().__init__()
        self.entry, self.bracket = entry, bracket

    def _print_Indexed(self, expr):
        return self.entry(expr)

    def _print_Inside(self, expr):
        return self.bracket(expr)

    def _print_KroneckerDelta(self, expr):
        return self.bracket(expr)

    def _print_exp(self, expr):
        return f"np.exp({self._print(expr.args[0])})"

    def _print_Min(self, expr):  # np.minimum: also numba's, on scalars
        code = self._print(expr.args[0])
        for a in expr.args[1:]:
            code = f"np.minimum({code}, {self._print(a)})"
        return code

    def _print_Rational(self, expr):
        return repr(float(expr))

    def _print_Integer(self, expr):
        return str(int(expr))

    def _print_Pow(self, expr, rational=False):
        base, exp = expr.args
        if expr.is_number:
            if base.is_Rational and base > 0 and abs(exp) == sp.S.Half:
                root = f"np.sqrt({self._print(base)})"
                return root if exp > 0 else f"(1.0 / {root})"
            return repr(float(expr))
        if exp == -1:
            return f"1.0 / {self.parenthesize(base, 60)}"
        return f"{self.parenthesize(base, 60)}**{self._print(exp)}"

    def _print_Mul(self, expr):
        if expr.is_number and not expr.has(sp.Pow):
            return repr(float(expr))
        return super()._print_Mul(expr)


class _IndexPrinter(StrPrinter):
    """Conditions on the indices: ``and`` for numba's scalars, ``&`` for NumPy's grids."""

    def __init__(self, conjunction: str = " and "):
        super().__init__()
        self.conjunction = conjunction

    def _print_Relational(self, expr):
        op = "==" if isinstance(expr, sp.Eq) else expr.rel_op
        return f"{self._print(expr.lhs)} {op} {self._print(expr.rhs)}"

    def _print_And(self, expr):
        return self.conjunction.join(f"({self._print(a)})" for a in expr.args)

    def _print_Symbol(self, expr):
        return expr.name


def _mask(brackets, symbols: Mapping[sp.Symbol, int], fill: str) -> tuple[str, list]:
    """A constant grid over the indices the brackets test (in the stage's order): 1.0 where
    all hold, else 0.0 (``fill`` "-np.inf": 0.0 where they hold, -inf elsewhere)."""
    condition = sp.And(*[relations(b) for b in brackets])
    used = [s for s in symbols if s in condition.free_symbols]
    grids = {}
    for axis, s in enumerate(used):
        shape = ", ".join("-1" if k == axis else "1" for k in range(len(used)))
        grids[s] = sp.Symbol(f"np.arange(1, {symbols[s] + 1}).reshape({shape})")
    test = _IndexPrinter(" & ").doprint(condition.xreplace(grids))
    values = "1.0, 0.0" if fill == "1.0" else f"0.0, {fill}"
    return f"np.where({test}, {values})", used


def _primary(code: str) -> str:
    """``code``, in parentheses unless it is a name, a call, or an element."""
    node = ast.parse(code, mode="eval").body
    return code if isinstance(node, ast.Name | ast.Call | ast.Attribute | ast.Subscript) \
        else f"({code})"


def relations(bracket: sp.Expr) -> sp.Basic:
    """A bracket as the condition it tests: [a ≤ v ≤ b] is a ≤ v ∧ v ≤ b, δ_ij is i = j."""
    if isinstance(bracket, Inside):
        v, first, last = bracket.args
        return sp.And(sp.Le(first, v, evaluate=False), sp.Le(v, last, evaluate=False))
    return sp.Eq(*bracket.args, evaluate=False)


def numpy_code(st: Staged, names: Mapping[str, str], stem: str,
               constant) -> tuple[list[str], str]:
    """The stages over whole arrays (inputs (batch, entries), parameters in their own shape):
    the lines computing every stage but the last, and the last one's code ((batch, entries),
    or the parameter's shape summed over the batch). A stage's array is ``stem``_s1, ...
    (the shared one's stem where stages are shared); ``constant(code)`` names a module
    constant (a mask) and gives its name."""
    stem = st.stem or stem
    lines, arrays = [], {}
    for base, t in st.tensors.items():
        code = names[t.name]
        if t.name in st.batched and len(st.shapes[t.name]) > 1:
            arrays[str(base)] = f"{stem}_{t.name}"
            shape = ", ".join(map(str, st.shapes[t.name]))
            lines.append(f"{stem}_{t.name} = {_primary(code)}.reshape(-1, {shape})")
        else:
            arrays[str(base)] = code if code.isidentifier() else _primary(code)
    for stage in (*st.earlier, *st.stages):
        arrays[stage.name] = f"{stem}_{stage.name.lower()}"
    *before, last = st.stages
    for stage in before:
        lines += _why(stage)
        lines.append(f"{arrays[stage.name]} = {_numpy_stage(st, stage, arrays, constant)}")
    code = _numpy_stage(st, last, arrays, constant, st.over_batch)
    if st.over_batch and last.reduce != "sum":
        code = f"{_primary(code)}.sum(0)"
    elif not st.over_batch and len(last.axes) > 1:
        code = f"{_primary(code)}.reshape(-1, {_count(n for _, n in last.axes)})"
    return lines, code


def _numpy_stage(st: Staged, stage: Stage, arrays, constant, over_batch: bool = False) -> str:
    symbols = stage.symbols
    letter = dict(zip(symbols, "abcdefghijklmopqrstuvwxyz"))
    batch = "n" if stage.batched else ""

    def operand(e: sp.Indexed) -> tuple[str, str]:
        inner = st.stage(e.base)
        batched = inner.batched if inner else st.tensors[e.base].name in st.batched
        return arrays[str(e.base)], ("n" if batched else "") + "".join(
            letter[i] for i in e.indices)

    def mask(brackets, fill: str) -> tuple[str, str]:
        grid, used = _mask(brackets, symbols, fill)
        return f"np.asarray({constant(grid)})", "".join(letter[s] for s in used)

    def spread(code: str, subs: str, target: str) -> str:
        """``code`` (axes ``subs``) laid along ``target``'s axes, None where it has none."""
        ordered = "".join(c for c in target if c in subs)
        if subs != ordered:
            code = f"np.einsum({f'{subs}->{ordered}'!r}, {code})"
        if ordered == target:
            return code
        return f"{_primary(code)}[{', '.join(':' if c in ordered else 'None' for c in target)}]"

    axes = batch + "".join(letter[s] for s, _ in stage.axes)
    if stage.reduce == "sum":
        coeff, operands = sp.S.One, []
        brackets = [f for f in sp.Mul.make_args(stage.body) if condition(f)]
        for f in sp.Mul.make_args(stage.body):
            if f.is_number:
                coeff *= f
            elif isinstance(f, sp.Indexed):
                operands.append(operand(f))
        if brackets:
            operands.append(mask(brackets, "1.0"))
        out = axes[1:] if over_batch and batch else axes
        if len(operands) == 1 and operands[0][1] == out:
            code = operands[0][0]
        else:
            spec = ",".join(s for _, s in operands) + "->" + out
            code = (f"np.einsum({spec!r}, {', '.join(c for c, _ in operands)}"
                    f"{', optimize=True' if len(operands) > 1 else ''})")
        if coeff == 1:
            return code
        return f"{_primary(_Printer(None, None).doprint(coeff))} * {_primary(code)}"
    target = axes + (letter[stage.bound[0]] if stage.bound else "")
    printer = _Printer(lambda e: spread(*operand(e), target),
                       lambda b: spread(*mask([b], "1.0"), target))
    code = printer.doprint(stage.body)
    if stage.reduce == "max":
        if stage.mask != 1:  # the values the mask leaves out count as -inf
            masked = spread(*mask(sp.Mul.make_args(stage.mask), "-np.inf"), target)
            code = f"{_primary(code)} + {masked}"
        return f"np.max({code}, axis=-1)"
    return code


def numba_lines(st: Staged, names: Mapping[str, str], out: str, stem: str) -> list[str]:
    """Loops filling ``out`` (allocated: (batch, entries), or the parameter's shape) with the
    stages, each stage's array (``stem``_s1, ..., or the shared one's) allocated and filled
    first."""
    stem = st.stem or stem
    lines, arrays = [], {}
    for base, t in st.tensors.items():
        shape = st.shapes[t.name]
        if t.name in st.batched and len(shape) > 1:
            arrays[str(base)] = f"{names[t.name]}_v"
            lines.append(f"{names[t.name]}_v = {names[t.name]}.reshape((batch, "
                         f"{', '.join(map(str, shape))}))")
        else:
            arrays[str(base)] = names[t.name]
    for stage in (*st.earlier, *st.stages):
        arrays[stage.name] = f"{stem}_{stage.name.lower()}"
    *before, last = st.stages
    for stage in before:
        sizes = (["batch"] if stage.batched else []) + [str(n) for _, n in stage.axes]
        lines += _why(stage)
        lines.append(f"{arrays[stage.name]} = np.empty(({', '.join(sizes or ['1'])},))")
        lines += _numba_stage(st, stage, arrays, arrays[stage.name])
    if st.over_batch:
        lines.append(f"{out}[:] = 0.0")
        target = out
    elif len(last.axes) > 1:
        target = f"{out}_v"
        lines.append(f"{target} = {out}.reshape((batch, "
                     f"{', '.join(str(n) for _, n in last.axes)}))")
    else:
        target = out
    return lines + _numba_stage(st, last, arrays, target, st.over_batch)


def _why(stage: Stage) -> list[str]:
    """The comment before a softmax's row maximum: why subtracting it changes nothing."""
    if stage.reduce != "max":
        return []
    lines = ["# m: the row's largest score. exp(f(s) - m) / Σ_r exp(f(r) - m) is the softmax "
             "exp(f(s)) / Σ_r exp(f(r))",
             "# (exp(-m) does not depend on r: it cancels), but no exp exceeds 1 and the sum "
             "is at least 1"]
    if stage.mask != 1:
        lines.append("# (m over the scores the mask keeps; a masked one, counted 0 times, is "
                     "clamped at m: no inf · 0)")
    return lines


def _numba_stage(st: Staged, stage: Stage, arrays, target: str,
                 over_batch: bool = False) -> list[str]:
    loop = {s: f"{s.name}_" for s in stage.symbols}
    zero_based = {s: sp.Symbol(name, integer=True) + 1 for s, name in loop.items()}

    def entry(e: sp.Indexed) -> str:
        inner = st.stage(e.base)
        batched = inner.batched if inner else st.tensors[e.base].name in st.batched
        at = (["b_"] if batched else []) + [loop[i] for i in e.indices]
        return f"{arrays[str(e.base)]}[{', '.join(at or ['0'])}]"

    def test(brackets) -> str:
        return " and ".join(f"({_IndexPrinter().doprint(relations(b).xreplace(zero_based))})"
                            for b in brackets)

    printer = _Printer(entry, lambda b: f"(1.0 if {test([b])} else 0.0)")
    lines, depth = [], 0

    def add(text: str) -> None:
        lines.append("    " * depth + text)

    if stage.batched:
        add("for b_ in range(batch):")
        depth += 1
    for s, n in stage.axes:
        add(f"for {loop[s]} in range({n}):")
        depth += 1
    at = (["b_"] if stage.batched and not over_batch else []) + [loop[s] for s, _ in stage.axes]
    store = f"{target}[{', '.join(at or ['0'])}] {'+=' if over_batch else '='}"
    if not stage.reduce:
        add(f"{store} {printer.doprint(stage.body)}")
        return lines
    assert stage.bound is not None
    factors = sp.Mul.make_args(stage.body if stage.reduce == "sum" else stage.mask)
    brackets = [f for f in factors if condition(f)]
    value = stage.body if stage.reduce == "max" else sp.Mul(
        *[f for f in factors if not condition(f)])
    add("acc = 0.0" if stage.reduce == "sum" else "acc = -np.inf")
    add(f"for {loop[stage.bound[0]]} in range({stage.bound[1]}):")
    depth += 1
    if brackets:
        add(f"if {test(brackets)}:")
        depth += 1
    code = printer.doprint(value)
    add(f"acc += {code}" if stage.reduce == "sum" else f"acc = max(acc, {code})")
    depth -= 1 + bool(brackets)
    add(f"{store} acc")
    return lines


def _count(sizes) -> int:
    total = 1
    for n in sizes:
        total *= n
    return total
