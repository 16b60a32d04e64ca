"""Forward mode over printed statements: each statement of a generated program preceded by
its tangent, ṫ = Σ_u ∂t/∂u u̇ along the directions of the parameters (``seeds``).

Applied to the statements of ``grad`` (the δ program of the module's fingerprint, replayed on
whole arrays, with the forward pass before it) it is Pearlmutter's R-operator: forward over
reverse, R{∂C/∂θ} = H v. It reads the code as it is printed (NumPy arrays, or a numba
kernel's loops over scalars), so each kind's maps keep their array form: the tangent of a
map is the same map with one operand replaced by its tangent (every map is linear in each
operand), and of σ its derivative written out. The rules are those of calculus, one per
operation the printers write (``RULES``, ``LINEAR``, ``MULTILINEAR``); anything else is a
ValueError naming it, never a guess. A tangent is written before its statement, so a
statement that reads its own target (``acc = max(acc, s)``) reads the old value in both.

A name is active when it may depend on a parameter: what a statement reads, a view
(``u.reshape``, ``u.T``, ``u``) of what it writes (an array filled through a reshaped view),
found once over the whole program. Only active names get a tangent, ``R_`` before the name.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence

PREFIX = "R_"
FLAVORS = ("numpy", "numba")

# allocations: an active array made by one of these gets its tangent made the same way
ALLOCATE = frozenset({"np.empty", "np.zeros", "np.empty_like", "np.zeros_like"})
# calls whose value has no tangent (shapes, masks, index arithmetic, constants)
CONSTANT = frozenset({"np.ones", "np.ones_like", "np.argmax", "np.sign", "np.arange", "np.eye",
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
    "_tanh": "(1.0 - _tanh({u}) ** 2)",
    "np.sqrt": "(0.5 / np.sqrt({u}))", "math.sqrt": "(0.5 / math.sqrt({u}))",
    "np.log": "(1.0 / ({u}))", "math.log": "(1.0 / ({u}))",
    "np.log1p": "(1.0 / (1.0 + {u}))", "math.log1p": "(1.0 / (1.0 + {u}))",
    "np.abs": "np.sign({u})", "abs": "np.sign({u})",
}
# a numba row helper filling its last argument: the loops writing its tangent (after it)
ROWS = {
    "_softmax_rows": ("z", "out"),  # out = softmax(z) row by row: ȯ = o ⊙ (ż - Σ o ż)
    "_softmax_vjp_rows": ("a", "v", "out"),  # out = a ⊙ (v - Σ a v)
}
ROW_TANGENTS = {
    "_softmax_rows": ("{out}[_ri, _rj] * {dz}[_ri, _rj]",
                      "{out}[_ri, _rj] * ({dz}[_ri, _rj] - _rs)"),
    "_softmax_vjp_rows": (
        "{da}[_ri, _rj] * {v}[_ri, _rj] + {a}[_ri, _rj] * {dv}[_ri, _rj]",
        "{da}[_ri, _rj] * ({v}[_ri, _rj] - _rm) + {a}[_ri, _rj] * ({dv}[_ri, _rj] - _rs)"),
}


def tangent_lines(lines: list[str], seeds: Iterable[str], flavor: str = "numpy") -> list[str]:
    """``lines`` (top-level statements, blocks indented) with every active statement preceded
    by its tangent; the seeds (parameters) have theirs as ``R_`` + name, given by the caller."""
    if flavor not in FLAVORS:
        raise ValueError(f"unknown flavor {flavor!r}; choose one of: {', '.join(FLAVORS)}")
    body = ast.parse("\n".join(lines)).body
    forward = _Forward(_active(body, set(seeds)), flavor)
    module = ast.Module(body=forward.block(body), type_ignores=[])
    return ast.unparse(module).splitlines()


def tangent(name: str) -> str:
    return PREFIX + name


def _name(func: ast.expr) -> str:
    """"np.exp", "max", or ".reshape" for a method of an array."""
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        if isinstance(func.value, ast.Name) and func.value.id in ("np", "math", "numba"):
            return f"{func.value.id}.{func.attr}"
        return "." + func.attr
    return ast.unparse(func)


def _base(target: ast.expr) -> str | None:
    while isinstance(target, ast.Subscript | ast.Attribute):
        target = target.value
    return target.id if isinstance(target, ast.Name) else None


def _reads(e: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(e) if isinstance(n, ast.Name)}


def _view(value: ast.expr) -> str | None:
    """The array ``value`` is a view of (u, u.T, u.reshape(...)), if it is one."""
    if isinstance(value, ast.Call) and _name(value.func) == ".reshape":
        value = value.func.value  # type: ignore[attr-defined]
    if isinstance(value, ast.Attribute) and value.attr == "T":
        value = value.value
    return value.id if isinstance(value, ast.Name) else None


def _active(body: list[ast.stmt], seeds: set[str]) -> set[str]:
    """Every name that may depend on a seed, views sharing their array's activity."""
    writes: list[tuple[str, set[str]]] = []
    views: list[tuple[str, str]] = []
    for node in (n for s in body for n in ast.walk(s)):
        if isinstance(node, ast.Assign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            reads = _reads(node.value)
            for t in targets:
                for part in (t.elts if isinstance(t, ast.Tuple) else [t]):
                    base = _base(part)
                    if base is not None:
                        writes.append((base, reads))
                        seen = _view(node.value)
                        if isinstance(part, ast.Name) and seen is not None:
                            views.append((base, seen))
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and \
                _name(node.value.func) == "np.dot" and len(node.value.args) == 3:
            base = _base(node.value.args[2])
            if base is not None:
                writes.append((base, _reads(ast.Tuple(node.value.args[:2]))))
    active = set(seeds)
    changed = True
    while changed:
        before = len(active)
        active |= {base for base, reads in writes if reads & active}
        for view, of in views:
            if view in active or of in active:
                active |= {view, of}
        changed = len(active) != before
    return active


class _Forward:
    """The tangent rules, statement by statement and expression by expression."""

    def __init__(self, active: set[str], flavor: str):
        self.active, self.flavor = active, flavor

    # ---- statements

    def block(self, body: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for s in body:
            out += self.statement(s)
        return out

    def statement(self, s: ast.stmt) -> list[ast.stmt]:
        if isinstance(s, ast.For):
            s.body = self.block(s.body)
            return [s]
        if isinstance(s, ast.If):
            s.body, s.orelse = self.block(s.body), self.block(s.orelse)
            return [s]
        if isinstance(s, ast.Assign):
            return self.assign(s)
        if isinstance(s, ast.AugAssign):
            base = _base(s.target)
            if base not in self.active:
                return [s]
            if not isinstance(s.op, ast.Add | ast.Sub):
                raise ValueError(f"cannot differentiate the statement {ast.unparse(s)!r}: "
                                 "an updating assignment other than += or -=")
            d = self.d(s.value)
            if d is None:
                return [s]
            return [*_parse(f"{self.d_target(s.target)} {_OPS[type(s.op)]}= {d}"), s]
        if isinstance(s, ast.Expr) and isinstance(s.value, ast.Call):
            after = _name(s.value.func) in ROWS  # reads what the helper wrote
            tangents = self.call_statement(s.value)
            return [s, *tangents] if after else [*tangents, s]
        if isinstance(s, ast.Raise | ast.Pass | ast.Break | ast.Continue) or (
                isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)):
            return [s]
        raise ValueError(f"cannot differentiate the statement {ast.unparse(s)!r}")

    def assign(self, s: ast.Assign) -> list[ast.stmt]:
        if len(s.targets) != 1 or isinstance(s.targets[0], ast.Tuple):
            if any(_base(t) in self.active for t in ast.walk(s) if isinstance(t, ast.Name)):
                raise ValueError(f"cannot differentiate the statement {ast.unparse(s)!r}: "
                                 "several targets")
            return [s]
        target = s.targets[0]
        if _base(target) not in self.active:
            return [s]
        d = self.d(s.value)
        if d is not None:
            return [*_parse(f"{self.d_target(target)} = {d}"), s]
        if isinstance(target, ast.Subscript):
            return [*_parse(f"{self.d_target(target)} = 0.0"), s]
        call = _name(s.value.func) if isinstance(s.value, ast.Call) else ""
        if call in ALLOCATE or _list(s.value):
            return [*_parse(f"{self.d_target(target)} = {ast.unparse(s.value)}"), s]
        if isinstance(s.value, ast.Call):  # an array of constants
            return [s, *_parse(f"{self.d_target(target)} = np.zeros_like({ast.unparse(target)})")]
        return [*_parse(f"{self.d_target(target)} = 0.0"), s]

    def call_statement(self, call: ast.Call) -> list[ast.stmt]:
        """np.dot(a, b, out): the product into an array given (numba's BLAS call)."""
        name = _name(call.func)
        if name == "np.dot" and len(call.args) == 3:
            out = call.args[2]
            if _base(out) not in self.active:
                return []
            a, b = call.args[:2]
            target = self.d_target(out)
            terms = [(x, y) for x, y in ((self.d(a), _p(b)), (_p(a), self.d(b)))
                     if x is not None and y is not None]
            if not terms:
                return _parse(f"{target}[:] = 0.0")
            (x, y), rest = terms[0], terms[1:]
            lines = [f"np.dot({x}, {y}, {target})"]
            lines += [f"{target} += np.dot({u}, {v})" for u, v in rest]
            return _parse("\n".join(lines))
        if name in ROWS and _base(call.args[-1]) in self.active:
            return self.rows(name, call)
        if any(_base(a) in self.active for a in call.args):
            raise ValueError(f"cannot differentiate the call {ast.unparse(call)!r}")
        return []

    def rows(self, name: str, call: ast.Call) -> list[ast.stmt]:
        """The tangent of a row helper's result, row by row (its sums first)."""
        arrays = dict(zip(ROWS[name], (ast.unparse(a) for a in call.args)))
        for key in ROWS[name][:-1]:
            arrays["d" + key] = self.d(call.args[ROWS[name].index(key)]) or \
                f"np.zeros_like({arrays[key]})"
        total, value = (t.format(**arrays) for t in ROW_TANGENTS[name])
        out, dout = arrays["out"], self.d_target(call.args[-1])
        mean = [f"        _rm += {arrays['a']}[_ri, _rj] * {arrays['v']}[_ri, _rj]"] \
            if "a" in arrays else []
        return _parse("\n".join([
            f"for _ri in range({out}.shape[0]):", "    _rs = 0.0", "    _rm = 0.0",
            f"    for _rj in range({out}.shape[1]):", f"        _rs += {total}", *mean,
            f"    for _rj in range({out}.shape[1]):", f"        {dout}[_ri, _rj] = {value}"]))

    def d_target(self, target: ast.expr) -> str:
        if isinstance(target, ast.Name):
            return tangent(target.id)
        if isinstance(target, ast.Subscript):
            return f"{self.d_target(target.value)}[{_slice(target)}]"
        raise ValueError(f"cannot differentiate an assignment to {ast.unparse(target)!r}")

    # ---- expressions: the tangent's code, or None where it is 0

    def d(self, e: ast.expr) -> str | None:
        if isinstance(e, ast.Name):
            return tangent(e.id) if e.id in self.active else None
        if isinstance(e, ast.Constant | ast.Compare | ast.BoolOp):
            return None
        if not (_reads(e) & self.active):
            return None
        if isinstance(e, ast.Subscript):
            d = self.d(e.value)
            return None if d is None else f"({d})[{_slice(e)}]"
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
            return _choose(ast.unparse(e.test), self.d(e.body), self.d(e.orelse), "numba")
        if isinstance(e, ast.Call):
            return self.call(e)
        raise ValueError(f"cannot differentiate the expression {ast.unparse(e)!r}")

    def binop(self, e: ast.BinOp) -> str | None:
        a, b = _p(e.left), _p(e.right)
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
            return _sum([None if da is None else f"(({da}) {sym} {b})",
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
        name = _name(e.func)
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
            return _sum(terms)
        if name in ("np.concatenate", "np.stack") and isinstance(e.args[0], ast.Name):
            d = self.d(e.args[0])  # a list of steps, each with its tangent
            return None if d is None else f"{name}({', '.join([d, *args[1:], *keywords])})"
        if name in ("np.concatenate", "np.stack") and isinstance(e.args[0], ast.Tuple | ast.List):
            parts = [self.d(p) or f"np.zeros_like({ast.unparse(p)})" for p in e.args[0].elts]
            if all(p.startswith("np.zeros_like(") for p in parts):
                return None
            return f"{name}(({', '.join(parts)},), {', '.join([*args[1:], *keywords])})"
        if name == "np.where" and len(e.args) == 3:
            return _choose(args[0], self.d(e.args[1]), self.d(e.args[2]), "numpy")
        if name in ("np.minimum", "np.maximum", "min", "max") and len(e.args) == 2:
            compare = "<=" if name.endswith("min") or name == "np.minimum" else ">="
            test = f"{_p(e.args[0])} {compare} {_p(e.args[1])}"  # a tie takes the first
            flavor = "numba" if name in ("min", "max") else self.flavor
            return _choose(test, self.d(e.args[0]), self.d(e.args[1]), flavor)
        if name == "_softmax" and len(e.args) == 1:  # ȧ = a ⊙ (ż - Σ a ż), row by row
            d = self.d(e.args[0])
            a = f"_softmax({args[0]})"
            return None if d is None else \
                f"({a} * (({d}) - np.sum({a} * ({d}), axis=-1, keepdims=True)))"
        if name == "np.logaddexp" and len(e.args) == 2:  # weights e^a / (e^a + e^b)
            both = f"np.logaddexp({args[0]}, {args[1]})"
            return _sum([None if d is None else f"(np.exp({x} - {both}) * ({d}))"
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


_OPS = {ast.Add: "+", ast.Sub: "-"}


def _list(e: ast.expr) -> bool:
    """Whether ``e`` makes a list to be filled ([None] * n: a scan's steps)."""
    return isinstance(e, ast.BinOp) and isinstance(e.left, ast.List)


def _slice(e: ast.Subscript) -> str:
    """The index of ``e`` as written between its brackets."""
    return ast.unparse(ast.Subscript(ast.Name("_"), e.slice))[2:-1]


def _p(e: ast.expr) -> str:
    return f"({ast.unparse(e)})"


def _sum(terms: Sequence[str | None]) -> str | None:
    found = [t for t in terms if t is not None]
    return " + ".join(f"({t})" for t in found) if found else None


def _choose(test: str, a: str | None, b: str | None, flavor: str) -> str | None:
    """The tangent of the branch taken: np.where over arrays, a conditional over scalars."""
    if a is None and b is None:
        return None
    a, b = a or "0.0", b or "0.0"
    if flavor == "numpy":
        return f"np.where({test}, {a}, {b})"
    return f"(({a}) if ({test}) else ({b}))"


def _parse(text: str) -> list[ast.stmt]:
    return ast.parse(text).body
