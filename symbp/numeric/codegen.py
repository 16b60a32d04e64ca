"""The code generator: the proved δ recursion, run on matrix symbols, printed as NumPy.

``CodeOps`` is the array algebra (``RecursionOps``) of ``backprop_deltas``, like
``SymbolicOps``, but its quantities are SymPy matrix expressions over
whole arrays (W_lᵀ δ_l, δ_l a_{l-1}ᵀ, ⊙) that ``array_printers`` prints as NumPy
on arrays of shape (batch, n_l). The registry's NumPy forms (σ', ∂C/∂a_L,
softmax's vector-Jacobian product) enter as ``NumericForm`` leaves.

``module_source`` runs the derivation's own recursion function on ``CodeOps``,
so the recursion the prover checks is the one that runs, mistakes included.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..core import registry
from ..core.recursion import backprop_deltas
from .array_printers import MathPrinter, RowsPrinter, numeric_form

BATCH = sp.Symbol("batch")  # the number of samples: rows of every stored array


# ---------------------------------------------------------------- the recursion as code


@dataclass(frozen=True)
class Statement:
    """One generated line: ``target = code``, and the equation it computes."""

    target: str
    code: str
    math: str


class CodeOps:
    """``RecursionOps`` on whole arrays, emitting NumPy.

    Same interface as ``symbp.core.recursion.SymbolicOps``. Each quantity is a SymPy matrix
    expression; ``bind_delta`` and ``gradient`` print it into ``statements``.
    """

    def __init__(self, d):
        self.symbols = d  # the network's symbols, as SymbolicOps has them
        self.L = d.L
        n = d.net.widths
        self.names: dict[str, str] = {}  # array name -> its name in the math
        self._symbols: dict[str, sp.MatrixSymbol] = {}
        self.stored: set[str] = set()
        self._a = {l: self._column("x" if l == 0 else f"a{l}", n[l], "x" if l == 0 else f"a_{l}")
                   for l in range(self.L + 1)}
        self._z = {l: self._column(f"z{l}", n[l], f"z_{l}") for l in range(1, self.L + 1)}
        self._y = self._column("y", n[-1], "y")
        self._ones = self._symbol("ones", (BATCH, 1), "1")  # δ_l 1 sums δ_l over the batch
        self._W = {l: self._symbol(f"W{l}", (n[l], n[l - 1]), f"W_{l}")
                   for l in range(1, self.L + 1)}
        self.rows = RowsPrinter()
        self.math = MathPrinter(self.names, self.stored)
        self.statements: list[Statement] = []
        self.weight: dict[int, str] = {}
        self.bias: dict[int, str] = {}
        self.uses_z: set[int] = set()  # layers whose z_l the code reads (others keep only a_l)

    def _symbol(self, name: str, shape: tuple, math: str) -> sp.MatrixSymbol:
        self.names[name] = math
        self._symbols[name] = sp.MatrixSymbol(name, *shape)
        return self._symbols[name]

    def _column(self, name: str, width: int, math: str) -> sp.MatrixExpr:
        """A batch quantity stored one sample per row, seen as columns (n × batch)."""
        self.stored.add(name)
        return self._symbol(name, (BATCH, width), math).T

    def _emit(self, target: str, math_target: str, code: str, value) -> None:
        unknown = sorted(map(str, value.free_symbols - set(self._symbols.values())))
        if unknown:
            listed = ", ".join(unknown[:3]) + (", ..." if len(unknown) > 3 else "")
            raise ValueError(f"cannot generate code for {math_target}: it uses {listed}, "
                             "which are not arrays of the recursion")
        math = f"{math_target} = {self.math.doprint(value)}"
        self.statements.append(Statement(target, code, math))

    # ---- RecursionOps

    def cost_gradient(self):
        cost = self.symbols.net.cost_entry
        return numeric_form(cost.numpy_gradient, "∂C/∂{a}", a=self._a[self.L], y=self._y)

    def activation_vjp(self, l: int, v):
        act = self.symbols.net.activation(l)
        if act.elementwise:  # diag(σ'(z)) v is the Hadamard product v ⊙ σ'(z)
            if "{z}" in act.numpy_derivative:
                self.uses_z.add(l)
            prime = numeric_form(act.numpy_derivative, f"{act.name}'({{z}})",
                                 z=self._z[l], a=self._a[l])
            return sp.HadamardProduct(v, prime)
        if act.numpy_vjp is None:
            raise ValueError(f"activation {act.name!r} has no numeric vector-Jacobian product")
        if not isinstance(v, sp.Transpose):  # the product uses v twice: compute it once
            named = self._column(f"v{l}", self.symbols.net.widths[l], f"v_{l}")
            self._emit(f"v{l}", f"v_{l}", self.rows.rows(v), v)
            v = named
        return numeric_form(act.numpy_vjp, f"J_{act.name}(z_{l})ᵀ {{v}}", a=self._a[l], v=v)

    def transpose_times(self, l: int, v):
        return self._W[l].T * v

    def activation(self, l: int):
        return self._a[l]

    def outer(self, u, v):
        return u * v.T

    def bind_delta(self, l: int, value):
        name = f"delta{l}"
        delta = self._column(name, self.symbols.net.widths[l], f"δ_{l}")
        self._emit(name, f"δ_{l}", self.rows.rows(value), value)
        return delta

    def gradient(self, l: int, weight, bias) -> None:
        shape = self._W[l].shape
        if weight.shape != shape:
            raise ValueError(f"the recursion's dC/dW_{l} has shape {weight.shape}, not {shape}")
        self.weight[l], self.bias[l] = f"dW{l}", f"db{l}"
        self._emit(f"dW{l}", f"∂C/∂W_{l}", self.rows.doprint(weight), weight)
        self._emit(f"db{l}", f"∂C/∂b_{l}", self.rows.doprint(bias * self._ones), bias)


# ---------------------------------------------------------------- the module


def numeric_activations() -> list[str]:
    """The activations that have a numeric form."""
    return [name for name, act in registry.ACTIVATIONS.items() if act.numeric]


def require_numeric(net) -> None:
    """ValueError unless every layer's activation has a numeric form."""
    for l, name in enumerate(net.activations, start=1):
        if not net.activation(l).numeric:
            raise ValueError(f"activation {name!r} (layer {l}) has no numeric form; "
                             f"choose one of: {', '.join(numeric_activations())}")


def trace(d) -> CodeOps:
    """Run the derivation's own recursion function on ``CodeOps``."""
    require_numeric(d.net)
    ops = CodeOps(d)
    d.recursion_function(ops)
    for l in range(1, d.L + 1):
        if l not in ops.weight:
            raise ValueError(f"the recursion produced no gradient for layer {l}")
    return ops


def module_source(d) -> str:
    """A standalone module (imports only NumPy) with ``forward``, ``cost`` and ``grad``.

    Deterministic: the same network and recursion give byte-identical source.
    """
    ops = trace(d)
    net, L = d.net, d.L
    cost = net.cost_entry
    unpack = _unpack(L)
    body = [*_as_rows("x", "y"), *unpack, "# forward pass, keeping a_l (and z_l where σ' needs it)",
            *_forward(net, ops.uses_z), "ones = np.ones_like(x[:, 0])", "# backpropagation"]
    for s in ops.statements:
        body += [f"# {s.math}", f"{s.target} = {s.code}"]
    W = ", ".join(ops.weight[l] for l in range(1, L + 1))
    b = ", ".join(ops.bias[l] for l in range(1, L + 1))
    body.append(f'return {{"W": [{W}], "b": [{b}]}}')
    helpers = "".join(dict.fromkeys(net.activation(l).numpy_helper for l in range(1, L + 1)))
    parts = [
        f'"""{_docstring(d, ops)}"""\n\nimport numpy as np\n',
        f"WIDTHS = {net.widths!r}\nACTIVATIONS = {net.activations!r}\nCOST = {net.cost!r}\n",
        _function("forward(x, weights, biases)",
                  "The output activation a_L; x is (n_0,) or (batch, n_0), one sample per row.",
                  ["x = np.asarray(x, dtype=float)", "if x.ndim == 1:",
                   "    return forward(x[None], weights, biases)[0]", *unpack, *_forward(net),
                   f"return a{L}"]),
        _function("cost(x, y, weights, biases)", "The cost C, summed over the batch.",
                  [f"a{L} = forward(x, weights, biases)", "y = np.asarray(y, dtype=float)",
                   f"return {cost.numpy.format(a=f'a{L}', y='y')}"]),
        _function("grad(x, y, weights, biases)",
                  'dC/dW_l and dC/db_l as {"W": [...], "b": [...]}, the cost summed over the '
                  "batch.", body),
    ]
    if helpers:
        parts.append(helpers)
    return "\n\n".join(parts)


def _function(signature: str, doc: str, lines: list[str]) -> str:
    return f'def {signature}:\n    """{doc}"""\n' + "".join(f"    {line}\n" for line in lines)


def _unpack(L: int) -> list[str]:
    names = [", ".join(f"{p}{l}" for l in range(1, L + 1)) for p in "Wb"]
    if L == 1:
        names = [f"({n},)" for n in names]
    return [f"{names[0]} = weights", f"{names[1]} = biases"]


def _as_rows(*arrays: str) -> list[str]:
    lines = []
    for a in arrays:
        lines += [f"{a} = np.asarray({a}, dtype=float)", f"if {a}.ndim == 1:",
                  f"    {a} = {a}[None]"]
    return lines


def _forward(net, keep_z=()) -> list[str]:
    lines = []
    for l in range(1, net.L + 1):
        act = net.activation(l)
        z = f"{'x' if l == 1 else f'a{l - 1}'} @ W{l}.T + b{l}"
        if l in keep_z:
            lines.append(f"z{l} = {z}")
            z = f"z{l}"
        elif (act.numpy_fast or act.numpy) != "{z}":
            z = f"({z})"  # a temporary freed at once: fewer live arrays, faster large batches
        lines.append(f"a{l} = {(act.numpy_fast or act.numpy).format(z=z)}")
    return lines


def _docstring(d, ops: CodeOps) -> str:
    net = d.net
    cost = net.cost_entry
    recursion = getattr(d.recursion_function, "__name__", repr(d.recursion_function))
    origin = ("the δ recursion symbp proves (symbp.core.recursion.backprop_deltas)"
              if d.recursion_function is backprop_deltas
              else f"the recursion {recursion!r} given to symbp.derive, NOT symbp's own")
    forms = []
    for l in sorted({net.activations.index(name) + 1 for name in net.activations}):
        act = net.activation(l)
        where = f", where a = {act.name}(z)"
        forms.append(f"{act.name}(z) = {(act.numpy_fast or act.numpy).format(z='z')}")
        if act.numpy_derivative:
            uses_a = "{a}" in act.numpy_derivative
            forms.append(f"{act.name}'(z) = {act.numpy_derivative.format(z='z', a='a')}"
                         + (where if uses_a else ""))
        if act.numpy_vjp:
            forms.append(f"J_{act.name}(z)ᵀ v = {act.numpy_vjp.format(a='a', v='v')}{where}")
    forms.append(f"C = {cost.numpy.format(a='a', y='y')}, where a = a_{d.L}")
    forms.append(f"∂C/∂a = {cost.numpy_gradient.format(a='a', y='y')}")
    steps = "\n".join(f"    {s.math}" for s in ops.statements)
    listed = "\n".join(f"    {f}" for f in forms)
    widths = " -> ".join(map(str, net.widths))
    return f"""Gradients of {net!r}, generated by symbp.

Network: widths {widths}; activations {", ".join(net.activations)}; cost {net.cost}:
{cost.summary}, summed over the batch.

Arrays hold one sample per row: x is (batch, {net.widths[0]}), y is (batch, {net.widths[-1]}),
W_l is (n_l, n_(l-1)) and b_l is (n_l,); a single sample of shape (n_0,) works too.
The equations are written for one sample as column vectors, as in the derivation;
the code applies them to every row at once: W_lᵀ δ_l is delta_l @ W_l, and
summed over the batch, δ_l a_(l-1)ᵀ is delta_l.T @ a_(l-1) and δ_l is delta_l.T @ ones.

Forward pass:
    z_l = W_l a_(l-1) + b_l,  a_l = σ_l(z_l),  a_0 = x

Backpropagation, {origin}:
{steps}

Numeric forms (NumPy, from symbp.registry):
{listed}

Imports only NumPy. Generated code: regenerate it with symbp rather than editing it.
"""
