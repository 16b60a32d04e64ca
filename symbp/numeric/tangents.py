"""Forward mode over printed statements: each statement of a generated program preceded by
its tangent, ṫ = Σ_u ∂t/∂u u̇ along the directions of the parameters (``seeds``).

Applied to the statements of ``grad`` (the δ program of the module's fingerprint, replayed on
whole arrays, with the forward pass before it) it is Pearlmutter's R-operator: forward over
reverse, R{∂C/∂θ} = H v. It reads the code as it is printed (NumPy arrays, or a numba
kernel's loops over scalars), so each kind's maps keep their array form: a map's statements
are einsums, products, sums and elementwise functions, and the tangent of an einsum is the
same einsum with one operand replaced by its tangent. The rules over expressions are those
of calculus, one per operation the printers write (``tangent_rules``); anything else is a
ValueError naming it, never a guess. The rules are not proved one by one; what they print
for a network of layer kinds is, per network: ``proof.kinds_code`` runs the printed NumPy
``_tangent`` and the numba kernel's Python body exactly on symbols, each tangent statement
against D_v of its statement and the gradient against the proved δ program's, hence H v (not
for the kinds of its ``NOT_READ``). The tests hold the results to PyTorch and to central
differences of ``grad``. A tangent is written before its statement, so a statement that reads
its own target (``acc = max(acc, s)``) reads the old value in both.

A name is active when it may depend on a parameter: what a statement reads, a view
(``u.reshape``, ``u.T``, ``u``) of what it writes (an array filled through a reshaped view),
found once over the whole program. Only active names get a tangent, ``R_`` before the name.
A numba row helper the kernel calls (softmax over rows, its vector-Jacobian product, a fused
output δ) gets a tangent helper printed from its own statements by the same rules
(``tangent_helper``). Each active operand is bound to a name first (``_Operands``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

from .tangent_rules import (
    ALLOCATE,
    CONSTANT,
    Expressions,
    base,
    is_list,
    name_of,
    parse,
    primal,
    reads,
    slice_text,
    tangent,
)

FLAVORS = ("numpy", "numba")


def tangent_lines(lines: list[str], seeds: Iterable[str], flavor: str = "numpy",
                  helpers: Iterable[str] = ()) -> list[str]:
    """``lines`` (top-level statements, blocks indented) with every active statement preceded
    by its tangent; the seeds (parameters) have theirs as ``R_`` + name, given by the caller.
    A call of one of ``helpers`` (a numba row helper filling its last argument) becomes a call
    of its tangent helper (``tangent_helper``)."""
    if flavor not in FLAVORS:
        raise ValueError(f"unknown flavor {flavor!r}; choose one of: {', '.join(FLAVORS)}")
    body = ast.parse("\n".join(lines)).body
    filling = frozenset(helpers)
    body = _Operands(_active(body, set(seeds), filling), body).block(body)
    forward = _Forward(_active(body, set(seeds), filling), flavor, filling)
    module = ast.Module(body=forward.block(body), type_ignores=[])
    return ast.unparse(module).splitlines()


def tangent_helper(source: str) -> str:
    """A numba helper ``@_jit def f(p, ..., out)`` as ``R_f(p, ..., out, R_p, ..., R_out)``:
    its statements, each after its tangent along the R_ arrays (the value written too)."""
    function = ast.parse(source).body[0]
    if not isinstance(function, ast.FunctionDef):
        raise ValueError(f"cannot differentiate the helper {source.splitlines()[0]!r}")
    params = [a.arg for a in function.args.args]
    body = [s for s in function.body
            if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    lines = tangent_lines(ast.unparse(ast.Module(body, [])).splitlines(), params, "numba")
    return (f"@_jit\ndef {tangent(function.name)}({', '.join([*params, *map(tangent, params)])}"
            "):\n" + "".join(f"    {line}\n" for line in lines))


class _Operands:
    """Each active operand of an active statement bound to a name of its own first (_k1 = ...),
    so that a tangent reads names: its size stays that of the statement (a rule repeats the
    primal operands it reads, and a nested expression would repeat them at every level). A
    branch of a conditional is not moved (it may be evaluated only when taken)."""

    def __init__(self, active: set[str], body: list[ast.stmt]):
        self.active, self.count = active, 0
        used = {n.id for s in body for n in ast.walk(s) if isinstance(n, ast.Name)}
        if any(n.startswith("_k") for n in used):
            raise ValueError("cannot name the operands: the program uses names _k...")
        self.out: list[ast.stmt] = []

    def block(self, body: list[ast.stmt]) -> list[ast.stmt]:
        done: list[ast.stmt] = []
        for s in body:
            if isinstance(s, ast.For | ast.If):
                s.body = self.block(s.body)
                s.orelse = self.block(s.orelse)
            elif isinstance(s, ast.Assign | ast.AugAssign):
                s.value = self.operand(s.value, top=True)
            done += [*self.out, s]
            self.out = []
        return done

    def operand(self, e: ast.expr, top: bool = False) -> ast.expr:
        if isinstance(e, ast.Name | ast.Constant | ast.IfExp | ast.Compare | ast.BoolOp) or \
                not reads(e) & self.active or \
                (isinstance(e, ast.Call) and name_of(e.func) in CONSTANT):  # no tangent
            return e
        if isinstance(e, ast.Tuple | ast.List):  # np.stack's arrays: each its own name
            e.elts = [self.operand(a) for a in e.elts]
            return e
        if isinstance(e, ast.BinOp):
            e.left, e.right = self.operand(e.left), self.operand(e.right)
        elif isinstance(e, ast.UnaryOp):
            e.operand = self.operand(e.operand)
        elif isinstance(e, ast.Call):
            e.args = [self.operand(a) for a in e.args]
            if isinstance(e.func, ast.Attribute) and name_of(e.func).startswith("."):
                e.func.value = self.operand(e.func.value)
        elif isinstance(e, ast.Subscript | ast.Attribute):
            e.value = self.operand(e.value)
        if top:
            return e
        self.count += 1
        name = f"_k{self.count}"
        self.out.append(ast.Assign([ast.Name(name, ast.Store())], e, lineno=0))
        return ast.Name(name, ast.Load())


def _view(value: ast.expr) -> str | None:
    """The array ``value`` is a view of (u, u.T, u.reshape(...)), if it is one."""
    if isinstance(value, ast.Call) and name_of(value.func) == ".reshape":
        value = value.func.value  # type: ignore[attr-defined]
    if isinstance(value, ast.Attribute) and value.attr == "T":
        value = value.value
    return value.id if isinstance(value, ast.Name) else None


def _active(body: list[ast.stmt], seeds: set[str], helpers: frozenset[str]) -> set[str]:
    """Every name that may depend on a seed, views sharing their array's activity."""
    writes: list[tuple[str, set[str]]] = []
    views: list[tuple[str, str]] = []
    for node in (n for s in body for n in ast.walk(s)):
        if isinstance(node, ast.Assign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            read = reads(node.value)
            for t in targets:
                for part in (t.elts if isinstance(t, ast.Tuple) else [t]):
                    written = base(part)
                    if written is not None:
                        writes.append((written, read))
                        seen = _view(node.value)
                        if isinstance(part, ast.Name) and seen is not None:
                            views.append((written, seen))
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and \
                name_of(node.value.func) == "np.dot" and len(node.value.args) == 3:
            out = base(node.value.args[2])
            if out is not None:
                writes.append((out, reads(ast.Tuple(node.value.args[:2]))))
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and \
                name_of(node.value.func) in helpers:  # a row helper writes its last argument
            out = base(node.value.args[-1])
            if out is not None:
                writes.append((out, reads(ast.Tuple(node.value.args[:-1]))))
    active = set(seeds)
    changed = True
    while changed:
        before = len(active)
        active |= {written for written, read in writes if read & active}
        for view, of in views:
            if view in active or of in active:
                active |= {view, of}
        changed = len(active) != before
    return active


class _Forward(Expressions):
    """The tangent rules statement by statement, each after its expressions'."""

    def __init__(self, active: set[str], flavor: str, helpers: frozenset[str]):
        super().__init__(active, flavor)
        self.helpers = helpers

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
            if base(s.target) not in self.active:
                return [s]
            if not isinstance(s.op, ast.Add | ast.Sub):
                raise ValueError(f"cannot differentiate the statement {ast.unparse(s)!r}: "
                                 "an updating assignment other than += or -=")
            d = self.d(s.value)
            if d is None:
                return [s]
            return [*parse(f"{self.d_target(s.target)} {_OPS[type(s.op)]}= {d}"), s]
        if isinstance(s, ast.Expr) and isinstance(s.value, ast.Call):
            return [*self.call_statement(s.value), s]
        if isinstance(s, ast.Raise | ast.Pass | ast.Break | ast.Continue) or (
                isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)):
            return [s]
        raise ValueError(f"cannot differentiate the statement {ast.unparse(s)!r}")

    def assign(self, s: ast.Assign) -> list[ast.stmt]:
        if len(s.targets) != 1 or isinstance(s.targets[0], ast.Tuple):
            if any(base(t) in self.active for t in ast.walk(s) if isinstance(t, ast.Name)):
                raise ValueError(f"cannot differentiate the statement {ast.unparse(s)!r}: "
                                 "several targets")
            return [s]
        target = s.targets[0]
        if base(target) not in self.active:
            return [s]
        d = self.d(s.value)
        if d is not None:
            return [*parse(f"{self.d_target(target)} = {d}"), s]
        if isinstance(target, ast.Subscript):
            return [*parse(f"{self.d_target(target)} = 0.0"), s]
        call = name_of(s.value.func) if isinstance(s.value, ast.Call) else ""
        if call in ALLOCATE or is_list(s.value):
            return [*parse(f"{self.d_target(target)} = {ast.unparse(s.value)}"), s]
        if isinstance(s.value, ast.Call):  # an array of constants
            return [s, *parse(f"{self.d_target(target)} = np.zeros_like({ast.unparse(target)})")]
        return [*parse(f"{self.d_target(target)} = 0.0"), s]

    def call_statement(self, call: ast.Call) -> list[ast.stmt]:
        """np.dot(a, b, out): the product into an array given (numba's BLAS call)."""
        name = name_of(call.func)
        if name == "np.dot" and len(call.args) == 3:
            out = call.args[2]
            if base(out) not in self.active:
                return []
            a, b = call.args[:2]
            target = self.d_target(out)
            terms = [(x, y) for x, y in ((self.d(a), primal(b)), (primal(a), self.d(b)))
                     if x is not None and y is not None]
            if not terms:
                return parse(f"{target}[:] = 0.0")
            (x, y), rest = terms[0], terms[1:]
            lines = [f"np.dot({x}, {y}, {target})"]
            lines += [f"{target} += np.dot({u}, {v})" for u, v in rest]
            return parse("\n".join(lines))
        if name in self.helpers and base(call.args[-1]) in self.active:
            given = [ast.unparse(a) for a in call.args]
            rates = [self.d(a) or f"np.zeros_like({g})" for a, g in zip(call.args, given)]
            return parse(f"{tangent(name)}({', '.join([*given, *rates])})")
        if any(base(a) in self.active for a in call.args):
            raise ValueError(f"cannot differentiate the call {ast.unparse(call)!r}")
        return []

    def d_target(self, target: ast.expr) -> str:
        if isinstance(target, ast.Name):
            return tangent(target.id)
        if isinstance(target, ast.Subscript):
            return f"{self.d_target(target.value)}[{slice_text(target)}]"
        raise ValueError(f"cannot differentiate an assignment to {ast.unparse(target)!r}")

    # ---- expressions: the tangent's code, or None where it is 0

_OPS = {ast.Add: "+", ast.Sub: "-"}
