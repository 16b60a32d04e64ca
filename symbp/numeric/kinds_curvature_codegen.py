"""Second order in the NumPy module of a network of layer kinds: ``hvp``, ``hessian`` and
``gauss_newton``, printed as scalar straight-line code from the statements the prover checks.

``kinds_second_order_source(d)`` is the first-order module (``kinds_codegen.module_source``),
its docstring told of second order, with these functions more. What they run is the program
route of ``core.kinds_second_order``, which ``proof.kinds_curvature`` proves equal to SymPy's
second derivatives: every forward statement (z_l from its kind's pre map, a_l from σ, post and
skip) and every statement of the recorded δ program, entry by entry in layered symbols
(``_statements``), then each one's tangent along v (``_along``: ṡ = Σ_u ∂s/∂u u̇), then
R{∂C/∂θ} for every parameter. Nothing is derived here: each SymPy expression is printed as it
is, after one ``sympy.cse`` pass over each statement group, its σ, σ', σ'' and softmax by the
registry's numeric forms (``numeric.forms``).

Scalar, not array form: each entry of each statement is one line over a column of the batch
(and, for a tangent, a row of directions), so the module grows with the entries; a network
past ``limits.MAX_CURVATURE_STATEMENTS`` is refused up front, naming the limit (``symbp
derive`` then writes the first-order module with a note). Printing the tangent maps in array
form, as the first-order module prints the maps, is not done yet.

- ``hvp(x, y, params, v)``: H v, v and the result shaped like ``params``;
- ``hessian(x, y, params)``: the (P, P) Hessian, the same statements along every basis
  vector at once (V = I), rows and columns θ_1, ..., θ_L (each layer's parameters in
  ``LAYOUT``'s order, each flattened row by row);
- ``gauss_newton(x, y, params)``: Jᵀ H_C J, J's columns the forward tangents at the split s
  along every basis vector, H_C the cost's Hessian at s (``split_hessian``), as proved.
"""

from __future__ import annotations

import itertools
import textwrap

import sympy as sp

from ..core import curvature, limits
from ..core.functions import Softmax
from . import forms
from .curvature_trace import second_code
from .kinds_codegen import arguments_line, module_source
from .parts import function, told
from .trace import array_name


def kinds_second_order_source(d, proved: str = "", proved_second: str = "") -> str:
    """The module of ``d`` (a ``KindsSecondDerivation``) with hvp, hessian and gauss_newton;
    ``proved`` and ``proved_second`` say what was proved of the program (or nothing)."""
    check_size(d)
    first = module_source(d, proved=proved)
    lines = StraightLine(d)
    P = len(d.parameters())
    unpack = f"{arguments_line(d.net)} = _arguments(x, y, params)"
    arrays = arguments_line(d.net)
    parts = [
        function("hvp(x, y, params, v)",
                 "H v: the Hessian of the cost summed over the batch times the direction v; v "
                 "and the result shaped like params.",
                 [unpack, f"HV = _curvature({arrays}, _direction(v)[:, None])",
                  "return _as_params(HV[:, 0])"]),
        function("hessian(x, y, params)",
                 f"The ({P}, {P}) Hessian of the cost summed over the batch: H v along every "
                 "basis vector at once; rows and columns theta_1, ..., theta_L, each layer's "
                 "parameters in LAYOUT's order, each flattened row by row.",
                 [unpack, f"return _curvature({arrays}, np.eye({P}))"]),
        function("gauss_newton(x, y, params)",
                 f"The ({P}, {P}) Gauss-Newton matrix J^T H_C J summed over the batch, J the "
                 "forward tangents at the split along every basis vector; in hessian's order.",
                 [unpack, f"J, HC = _split_curvature({arrays}, np.eye({P}))",
                  'return np.einsum("bip,bij,bjq->pq", J, HC, J)']),
        lines.curvature_function(), lines.split_function(), _direction(d), _as_params(d),
        OVER_BATCH]
    added = "\n\n".join(p.rstrip("\n") + "\n" for p in parts)
    return _told(first, d, proved_second) + "\n\n" + added


def statement_count(d) -> int:
    """The scalar statements printed: every entry the program binds, and its tangent."""
    return 2 * sum(len(symbols) for symbols, _ in d._statements())


def size_problem(d) -> str:
    """Why the straight-line code of ``d`` is not printed (past
    ``limits.MAX_CURVATURE_STATEMENTS``), or "" when it is; counted before any printing."""
    count = statement_count(d)
    if count <= limits.MAX_CURVATURE_STATEMENTS:
        return ""
    return (f"are printed as one line per scalar statement for a network of layer kinds: this "
            f"one has {count:,}, past the limit of {limits.MAX_CURVATURE_STATEMENTS:,} (limit "
            "MAX_CURVATURE_STATEMENTS)")


def check_size(d) -> None:
    """ValueError naming the limit when ``size_problem`` says why not."""
    problem = size_problem(d)
    if problem:
        raise ValueError(f"hessian, hvp and gauss_newton {problem}")


class _Printer(forms.NumPyPrinter):
    """NumPy for one scalar statement: inputs, parameters and directions by their arrays."""

    def __init__(self, names: dict[sp.Symbol, str]):
        super().__init__()
        self.names = names

    def _print_Symbol(self, expr):
        return self.names.get(expr, expr.name)


class StraightLine:
    """The program route's statements of ``d`` as lines: each statement group (one
    ``_statements`` entry, or its tangents) after its common subexpressions and the unit
    functions (σ, σ', σ'', softmax) it reads, each bound once."""

    def __init__(self, d):
        self.d = d
        self.printer = _Printer(self._leaves())
        self.nodes: dict[sp.Symbol, tuple[str, frozenset]] = {}  # target -> code, reads
        self.group: dict[sp.Symbol, str] = {}  # target -> its group's comment
        self.targets: list[sp.Symbol] = []  # what the statements bind, in order
        self.units: dict[sp.Basic, sp.Symbol] = {}
        self.temps = (sp.Symbol(f"c{i}") for i in itertools.count())
        self._functions = _unit_functions(d)
        statements = d._statements()
        for symbols, values in statements:
            self._add(f"# {_label(symbols)}", symbols, values)
        for symbols, values in statements:
            tangents = [d._tangent_of[s] for s in symbols]
            self._add(f"# {_label(tangents)}: the tangent along v (R-operator)", tangents,
                      [d._along(e, d._directions) for e in values])

    def _leaves(self) -> dict[sp.Symbol, str]:
        d, names = self.d, {}
        for k, s in enumerate(d.x):
            names[s] = f"x[:, {k}:{k + 1}]"
        for k, s in enumerate(d.y):
            names[s] = f"y[:, {k}:{k + 1}]"
        for l in d.layers:
            shapes = d.net.resolved[l - 1].parameters
            for name, M in d.layer_parameters(l).items():
                code = array_name(name, l)
                for k, p in enumerate(M):
                    index = ", ".join(map(str, _unravel(k, shapes[name])))
                    names[p] = f"{code}[{index}]"
        for k, vp in enumerate(d.direction()):
            names[vp] = f"V[{k}]"
        return names

    # ---- the table

    def _add(self, comment: str, targets: list[sp.Symbol], values: list[sp.Expr]) -> None:
        values = [self._unit_free(sp.sympify(e)) for e in values]
        temps, reduced = sp.cse(values, symbols=self.temps, order="canonical")
        for t, e in temps:
            self._node(t, e, comment)
        for t, e in zip(targets, reduced):
            self._node(t, e, comment)
        self.targets += targets

    def _node(self, target: sp.Symbol, value: sp.Expr, comment: str) -> None:
        self.nodes[target] = (self.print(value), frozenset(value.free_symbols))
        self.group[target] = comment

    def _unit_free(self, expr: sp.Expr) -> sp.Expr:
        """``expr`` with each σ, σ', σ'' and softmax application a symbol bound once."""
        found = {e: self._unit(e) for e in sorted(expr.atoms(sp.Function),
                                                   key=sp.default_sort_key)
                 if type(e) in self._functions or isinstance(e, Softmax)}
        return expr.xreplace(found) if found else expr

    def _unit(self, e: sp.Function) -> sp.Symbol:
        if e in self.units:
            return self.units[e]
        if isinstance(e, Softmax):
            zs = e.args[1:]
            whole = sp.Symbol(f"softmax_{_name(zs[0])}")
            if whole not in self.nodes:
                code = forms.activation(self.d.net.activation(self.d.L)).value.numpy
                stacked = f"np.concatenate(({', '.join(self._code(z) for z in zs)},), axis=1)"
                reads = frozenset().union(*[sp.sympify(z).free_symbols for z in zs])
                self.nodes[whole] = (code.format(z=stacked), reads)
                self.group[whole] = ""
            j = int(e.args[0])
            symbol = sp.Symbol(f"{whole.name}_{j + 1}")
            self.nodes[symbol] = (f"{whole.name}[:, {j}:{j + 1}]", frozenset({whole}))
        else:
            act, which = self._functions[type(e)]
            arg = e.args[0]
            symbol = sp.Symbol(f"{type(e).__name__}_{_name(arg)}")
            code = _unit_code(act, which)
            arrays = {"z": self._code(arg)}
            reads = frozenset(sp.sympify(arg).free_symbols)
            if "{a}" in code:  # σ' or σ'' written in a = σ(z)
                a = self._unit(act.function(arg))
                arrays["a"], reads = a.name, reads | {a}
            self.nodes[symbol] = (code.format(**arrays), reads)
        self.group[symbol] = ""
        self.units[e] = symbol
        return symbol

    def print(self, e: sp.Expr) -> str:
        """NumPy for ``e``, a fraction as its float (0.5 * a, not (0.5) * a)."""
        fractions = {r: sp.Float(r) for r in e.atoms(sp.Rational) if not r.is_Integer}
        return forms.spaced(self.printer.doprint(e.xreplace(fractions) if fractions else e))

    def _code(self, e: sp.Expr) -> str:
        code = self.print(e)
        return code if isinstance(e, sp.Symbol) else f"({code})"

    # ---- printing what results read

    def lines(self, results: list[sp.Expr]) -> list[str]:
        """Every statement the results read, each after what it reads, in the program's order
        (forward, δ program, tangents), with each group's comment before its first line; a
        common subexpression or a unit function just before its first use."""
        needed: set[sp.Symbol] = set()
        pending = [s for e in results for s in e.free_symbols]
        while pending:
            s = pending.pop()
            if s in self.nodes and s not in needed:
                needed.add(s)
                pending += self.nodes[s][1]
        position = {s: k for k, s in enumerate(self.nodes)}
        out: list[str] = []
        done: set[sp.Symbol] = set()
        said: set[str] = set()

        def emit(s: sp.Symbol) -> None:
            if s in done:
                return
            done.add(s)
            code, reads = self.nodes[s]
            for r in sorted(reads & needed, key=position.__getitem__):
                emit(r)
            comment = self.group[s]
            if comment and comment not in said:
                said.add(comment)
                out.append(comment)
            out.append(f"{s.name} = {code}")

        for s in self.targets:
            if s in needed:
                emit(s)
        return out

    def results(self, exprs: list[sp.Expr]) -> tuple[list[sp.Expr], list[str]]:
        """The results with their unit functions bound: (expressions, the lines they read)."""
        bound = [self._unit_free(sp.sympify(e)) for e in exprs]
        return bound, self.lines(bound)

    def curvature_function(self) -> str:
        d = self.d
        rates = [d._along(e, d._directions) for l in d.layers
                 for name in d.layer_parameters(l)
                 for e in d.recursion.param_grads[(l, name)]]
        exprs, lines = self.results(rates)
        P = len(exprs)
        body = ["shape = (len(x), V.shape[1])  # a column per sample, a row per direction",
                *lines, f"HV = np.empty(({P}, V.shape[1]))",
                "# R{dC/d theta}: each parameter's entry of H v, summed over the batch"]
        body += [f"HV[{k}] = _over_batch({self.print(e)}, shape)"
                 for k, e in enumerate(exprs)]
        return function(f"_curvature({arguments_line(d.net)}, V)",
                        "H V for the directions V (P, K), the columns of V, one sample per row "
                        "of x: the forward pass, the delta program and their tangents along V, "
                        "statement by statement, as symbp's program route has them.",
                        [*body, "return HV"])

    def split_function(self) -> str:
        d = self.d
        split = list(d._split_symbols())
        H = d.layered_split_hessian()
        tangents = [d._tangent_of[s] for s in split]
        n = len(split)
        entries = [(i, j, H[i, j]) for i in range(n) for j in range(n) if H[i, j] != 0]
        exprs, lines = self.results([*tangents, *(e for _, _, e in entries)])
        body = ["shape = (len(x), V.shape[1])", *lines,
                f"J = np.empty((len(x), {n}, V.shape[1]))"]
        body += [f"J[:, {i}] = np.broadcast_to({self.print(e)}, shape)"
                 for i, e in enumerate(exprs[:n])]
        body.append(f"HC = np.zeros((len(x), {n}, {n}))")
        body += [f"HC[:, {i}, {j}] = np.broadcast_to({self.print(e)}, "
                 f"(len(x), 1))[:, 0]" for (i, j, _), e in zip(entries, exprs[n:])]
        return function(f"_split_curvature({arguments_line(d.net)}, V)",
                        "J V and H_C at the split s (a_L, or z_L where the cost absorbs "
                        "sigma_L), per sample: the forward pass and its tangents along V, and "
                        "the cost's Hessian at s.", [*body, "return J, HC"])


def _unit_functions(d) -> dict[type, tuple]:
    """Each opaque unit function the statements may read → (its activation, which form)."""
    found: dict[type, tuple] = {}
    for l in d.layers:
        act = d.net.activation(l)
        if act.elementwise:
            found[act.function] = (act, "value")
            found[act.prime] = (act, "prime")
            found[curvature.second(act).function] = (act, "second")
    return found


def _unit_code(act, which: str) -> str:
    """NumPy for σ ("value"), σ' ("prime") or σ'' ("second") over {z} (or {a} = σ(z))."""
    if which == "second":
        return second_code(act).numpy
    forms_of = forms.activation(act)
    code = forms_of.value if which == "value" else forms_of.derivative
    assert code is not None  # elementwise: second order takes no other σ inside
    return code.numpy


def _name(e: sp.Expr) -> str:
    if isinstance(e, sp.Symbol):
        return e.name
    raise ValueError(f"cannot name the unit function's argument {e}: the statements apply σ "
                     "to layered symbols only")


def _unravel(k: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    index = []
    for n in reversed(shape):
        index.append(k % n)
        k //= n
    return tuple(reversed(index))


def _label(symbols: list[sp.Symbol]) -> str:
    return symbols[0].name if len(symbols) == 1 else f"{symbols[0].name} .. {symbols[-1].name}"


def _flat_parameters(d) -> list[tuple[int, str, str, tuple[int, ...]]]:
    """(layer, name, the code's name, shape) of every parameter, in the order of θ."""
    return [(l, name, array_name(name, l), tuple(d.net.resolved[l - 1].parameters[name]))
            for l in d.layers for name in d.layer_parameters(l)]


def _direction(d) -> str:
    codes = [code for _, _, code, _ in _flat_parameters(d)]
    return function("_direction(v)",
                    "v, shaped like params and checked like them, as one vector in the order "
                    "of theta.",
                    ["try:",
                     f"    {arguments_line(d.net, y='_')} = _arguments(np.zeros(LAYOUT[0]), "
                     "None, v)",
                     "except ValueError as error:",
                     '    raise ValueError(f"v: {error}") from None',
                     f"return np.concatenate([{', '.join(f'{c}.ravel()' for c in codes)}])"])


def _as_params(d) -> str:
    layers: dict[int, list[str]] = {}
    at = 0
    for l, name, _, shape in _flat_parameters(d):
        size = 1
        for n in shape:
            size *= n
        layers.setdefault(l, []).append(f'"{name}": flat[{at}:{at + size}].reshape({shape})')
        at += size
    entries = ", ".join("{" + ", ".join(v) + "}" for v in layers.values())
    return function("_as_params(flat)", "A vector in the order of theta, shaped like params.",
                    [f"return [{entries}]"])


OVER_BATCH = '''def _over_batch(value, shape):
    """value (a column over the batch, a row over the directions, or both) summed over the
    batch."""
    return np.broadcast_to(value, shape).sum(axis=0)
'''


def _told(first: str, d, proved: str) -> str:
    """The first-order module with its docstring telling of the functions added."""
    P = len(d.parameters())
    text = textwrap.fill(
        "Second order (symbp.derive(net, order=2)): hvp(x, y, params, v) is H v, v and the "
        f"result shaped like params; hessian(x, y, params) the ({P}, {P}) Hessian of the cost "
        "summed over the batch (rows and columns theta_1, ..., theta_L, each layer's parameters "
        "in LAYOUT's order, flattened row by row); gauss_newton(x, y, params) the Gauss-Newton "
        "matrix J^T H_C J in the same order. They are printed as scalar straight-line code "
        "(one line per entry of a statement, sympy.cse within each statement group), not in "
        "array form, from the statements symbp's prover checks: the forward pass and the "
        f"delta program {d.program.fingerprint} above, each statement differentiated along v "
        "(Pearlmutter's R-operator), and R{dC/d theta}.", 88) + "\n"
    return told(first, text, proved)
