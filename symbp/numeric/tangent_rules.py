"""The tangent rules of ``tangents``: the tangent of one printed expression, ė = Σ_u ∂e/∂u u̇,
as code (None where it is 0), one rule per operation the printers write.

A map's einsum or product is linear in each operand: its tangent is a sum of the same call
with one operand its tangent (``MULTILINEAR``, ``np.einsum``); a reshape, gather or sum is
linear in its array (``LINEAR``); σ and the other functions of one argument have their
derivative written out (``RULES``); a choice (np.where, min, max, a conditional) takes the
tangent of the branch taken (a tie of min or max the second, as the registry's formulas
choose: ReLU is Piecewise((z, z > 0), (0, True)), its derivative 0 at z = 0); a row's max
(a stabilizer of softmax) the tangent at its argmax. Anything else is a ValueError naming it.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

PREFIX = "R_"

# allocations: an active array made by one of these gets its tangent made the same way
ALLOCATE = frozenset({"np.empty", "np.zeros", "np.empty_like", "np.zeros_like"})
# calls whose value has no tangent (shapes, masks, index arithmetic, constants)
CONSTANT = frozenset({"np.ones", "np.ones_like", "np.argmax", "np.sign", "np.arange", "np.eye",
                      "np.equal", "np.not_equal", "np.greater", "np.less", "np.isnan",
                      "np.int64", "len", "range", "int", "float", "_inside", *ALLOCATE})
# linear in their first argument, the others fixed (axes, indices, shapes)
LINEAR = frozenset({"np.asarray", "np.moveaxis", "np.take", "_gather", "np.broadcast_to",
                    "np.transpose", "np.sum", "np.reshape", "np.ascontiguousarray",
                    "np.expand_dims", "np.squeeze", ".reshape", ".sum", ".transpose",
                    ".ravel", ".copy", ".astype"})
MULTILINEAR = frozenset({"np.dot", "np.matmul", "np.outer", "np.multiply"})
# σ and the other functions of one argument: f(u) → f'(u) written in u (and f(u) itself)
RULES = {
    "np.exp": "np.exp({u})", "math.exp": "math.exp({u})", "_exp": "_exp({u})",
    "np.tanh": "(1.0 - np.tanh({u}) ** 2)", "math.tanh": "(1.0 - math.tanh({u}) ** 2)",
    "_tanh": "(1.0 - _tanh({u}) ** 2)", "_softplus": "(1.0 / (1.0 + _exp(-({u}))))",
    "np.sqrt": "(0.5 / np.sqrt({u}))", "math.sqrt": "(0.5 / math.sqrt({u}))",
    "np.log": "(1.0 / ({u}))", "math.log": "(1.0 / ({u}))",
    "np.log1p": "(1.0 / (1.0 + {u}))", "math.log1p": "(1.0 / (1.0 + {u}))",
}


def tangent(name: str) -> str:
    return PREFIX + name


def name_of(func: ast.expr) -> str:
    """"np.exp", "max", or ".reshape" for a method of an array."""
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        if isinstance(func.value, ast.Name) and func.value.id in ("np", "math", "numba"):
            return f"{func.value.id}.{func.attr}"
        return "." + func.attr
    return ast.unparse(func)


def base(target: ast.expr) -> str | None:
    while isinstance(target, ast.Subscript | ast.Attribute):
        target = target.value
    return target.id if isinstance(target, ast.Name) else None


def reads(e: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(e) if isinstance(n, ast.Name)}


class Expressions:
    """The rules over expressions, for the names of ``active``; ``flavor`` says whether a
    choice is over arrays (NumPy) or scalars (a numba kernel's loops)."""

    def __init__(self, active: set[str], flavor: str):
        self.active, self.flavor = active, flavor

    def d(self, e: ast.expr) -> str | None:
        if isinstance(e, ast.Name):
            return tangent(e.id) if e.id in self.active else None
        if isinstance(e, ast.Constant | ast.Compare | ast.BoolOp):
            return None
        if not (reads(e) & self.active):
            return None
        if isinstance(e, ast.Subscript):
            d = self.d(e.value)
            return None if d is None else f"({d})[{slice_text(e)}]"
        if isinstance(e, ast.Attribute):
            if e.attr == "T":
                d = self.d(e.value)
                return None if d is None else f"({d}).T"
            return None  # .shape and the like
        if isinstance(e, ast.UnaryOp):
            d = self.d(e.operand)
            if d is None or isinstance(e.op, ast.Not):
                return None
            return f"(-({d}))" if isinstance(e.op, ast.USub) else d
        if isinstance(e, ast.BinOp):
            return self.binop(e)
        if isinstance(e, ast.IfExp):
            return choose(ast.unparse(e.test), self.d(e.body), self.d(e.orelse), "numba")
        if isinstance(e, ast.Call):
            return self.call(e)
        raise ValueError(f"cannot differentiate the expression {ast.unparse(e)!r}")

    def binop(self, e: ast.BinOp) -> str | None:
        a, b = primal(e.left), primal(e.right)
        da, db = self.d(e.left), self.d(e.right)
        op = e.op
        if isinstance(op, ast.Add | ast.Sub):
            if db is None:
                return da
            sign = "+" if isinstance(op, ast.Add) else "-"
            return f"(-({db}))" if da is None and sign == "-" else \
                (db if da is None else f"(({da}) {sign} ({db}))")
        if isinstance(op, ast.Mult | ast.MatMult):
            sym = "*" if isinstance(op, ast.Mult) else "@"
            return total([None if da is None else f"(({da}) {sym} {b})",
                         None if db is None else f"({a} {sym} ({db}))"])
        if isinstance(op, ast.Div):
            if db is None:
                return None if da is None else f"(({da}) / {b})"
            minus = f"({a} / {b}) * ({db})"
            top = f"(-{minus})" if da is None else f"(({da}) - {minus})"
            return f"({top} / {b})"
        if isinstance(op, ast.Pow) and db is None and da is not None:
            n = ast.unparse(e.right)
            return f"({n} * {a} ** ({n} - 1) * ({da}))"
        raise ValueError(f"cannot differentiate the expression {ast.unparse(e)!r}")

    def call(self, e: ast.Call) -> str | None:
        name = name_of(e.func)
        args = [ast.unparse(a) for a in e.args]
        keywords = [ast.unparse(k) for k in e.keywords]
        if name in CONSTANT:
            return None
        if name in LINEAR:
            if name.startswith("."):
                d = self.d(e.func.value)  # type: ignore[attr-defined]
                rest = ", ".join([*args, *keywords])
                return None if d is None else f"({d}){name}({rest})"
            d = self.d(e.args[0])
            return None if d is None else f"{name}({', '.join([d, *args[1:], *keywords])})"
        if name in ("np.abs", "abs") and len(e.args) == 1:
            # |u| is max(u, -u), a tie taken as max takes it (the second): then the kinks of
            # a smooth sum cancel, softplus's max(u, 0) + log1p(e^-|u|) has ½ at u = 0
            d = self.d(e.args[0])
            flavor = "numba" if name == "abs" else self.flavor
            return None if d is None else choose(f"{primal(e.args[0])} > 0.0", d, f"(-({d}))",
                                                 flavor)
        if name in RULES and len(e.args) == 1:
            d = self.d(e.args[0])
            return None if d is None else f"({RULES[name].format(u=args[0])} * ({d}))"
        if name == "np.einsum" or name in MULTILINEAR:
            first = 1 if name == "np.einsum" else 0
            terms = []
            for k in range(first, len(e.args)):
                d = self.d(e.args[k])
                if d is not None:
                    terms.append(f"{name}({', '.join([*args[:k], d, *args[k + 1:], *keywords])})")
            return total(terms)
        if name in ("np.concatenate", "np.stack") and isinstance(e.args[0], ast.Name):
            d = self.d(e.args[0])  # a list of steps, each with its tangent
            return None if d is None else f"{name}({', '.join([d, *args[1:], *keywords])})"
        if name in ("np.concatenate", "np.stack") and isinstance(e.args[0], ast.Tuple | ast.List):
            parts = [self.d(p) or f"np.zeros_like({ast.unparse(p)})" for p in e.args[0].elts]
            if all(p.startswith("np.zeros_like(") for p in parts):
                return None
            return f"{name}(({', '.join(parts)},), {', '.join([*args[1:], *keywords])})"
        if name == "np.where" and len(e.args) == 3:
            return choose(args[0], self.d(e.args[1]), self.d(e.args[2]), "numpy")
        if name in ("np.minimum", "np.maximum", "min", "max") and len(e.args) == 2:
            compare = "<" if name.endswith("min") or name == "np.minimum" else ">"
            test = f"{primal(e.args[0])} {compare} {primal(e.args[1])}"  # a tie: the second
            flavor = "numba" if name in ("min", "max") else self.flavor
            return choose(test, self.d(e.args[0]), self.d(e.args[1]), flavor)
        if name == "_softmax" and len(e.args) == 1:  # ȧ = a ⊙ (ż - Σ a ż), row by row
            d = self.d(e.args[0])
            a = f"_softmax({args[0]})"
            return None if d is None else \
                f"({a} * (({d}) - np.sum({a} * ({d}), axis=-1, keepdims=True)))"
        if name == "np.logaddexp" and len(e.args) == 2:  # weights e^a / (e^a + e^b)
            both = f"np.logaddexp({args[0]}, {args[1]})"
            return total([None if d is None else f"(np.exp({x} - {both}) * ({d}))"
                         for x, d in ((args[0], self.d(e.args[0])),
                                      (args[1], self.d(e.args[1])))])
        if name in ("np.max", "np.min") and len(e.args) == 1 and keywords:
            d = self.d(e.args[0])
            if d is None:
                return None
            axis = ast.unparse(e.keywords[0].value)
            pick = "np.argmax" if name == "np.max" else "np.argmin"
            return (f"np.take_along_axis(np.broadcast_to({d}, np.shape({args[0]})), "
                    f"np.expand_dims({pick}({args[0]}, axis={axis}), {axis}), "
                    f"axis={axis}).squeeze({axis})")
        raise ValueError(f"cannot differentiate the call {ast.unparse(e)!r}: {name} has no "
                         "tangent rule")


def is_list(e: ast.expr) -> bool:
    """Whether ``e`` makes a list to be filled ([None] * n: a scan's steps)."""
    return isinstance(e, ast.BinOp) and isinstance(e.left, ast.List)


def slice_text(e: ast.Subscript) -> str:
    """The index of ``e`` as written between its brackets."""
    return ast.unparse(ast.Subscript(ast.Name("_"), e.slice))[2:-1]


def primal(e: ast.expr) -> str:
    return f"({ast.unparse(e)})"


def total(terms: Sequence[str | None]) -> str | None:
    found = [t for t in terms if t is not None]
    return " + ".join(f"({t})" for t in found) if found else None


def choose(test: str, a: str | None, b: str | None, flavor: str) -> str | None:
    """The tangent of the branch taken: np.where over arrays, a conditional over scalars."""
    if a is None and b is None:
        return None
    a, b = a or "0.0", b or "0.0"
    if flavor == "numpy":
        return f"np.where({test}, {a}, {b})"
    return f"(({a}) if ({test}) else ({b}))"


def parse(text: str) -> list[ast.stmt]:
    return ast.parse(text).body
