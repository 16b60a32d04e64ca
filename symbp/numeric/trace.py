"""The proved δ recursion, run on matrix symbols: the trace every code generator prints.

``CodeOps`` is the array algebra (``RecursionOps``) of ``backprop_deltas``, like
``SymbolicOps``, but its quantities are SymPy matrix expressions over whole
arrays (W_lᵀ δ_l, δ_l a_{l-1}ᵀ, ⊙). The registry's numeric forms (σ', ∂C/∂a_L,
softmax's vector-Jacobian product) enter as ``NumericForm`` leaves that carry
both their NumPy and their numba template.

``trace`` replays the derivation's program (``d.program``, recorded once from its
recursion function) on ``CodeOps``, so the program the prover checks is the one that
runs, mistakes included: the NumPy module (``codegen``) and the numba kernel
(``numba_codegen``) print the same statements.
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from ..core import registry
from . import forms, maps, maps_numpy, maps_staged, scans_numpy
from .array_printers import BATCH, MapForm, MathPrinter, RowsPrinter, numeric_form
from .statements import Statement, array_name

__all__ = ["BATCH", "CodeOps", "trace"]


class CodeOps:
    """``RecursionOps`` on whole arrays, recording NumPy statements.

    Same interface as ``symbp.core.recursion.SymbolicOps``. Each quantity is a SymPy matrix
    expression; ``bind_delta`` and ``gradient`` print it into ``statements``.
    """

    def __init__(self, d):
        self.symbols = d  # the network's symbols, as SymbolicOps has them
        self.L = d.L
        self.widths = n = d.net.widths
        # z_l, σ(z_l) and δ_l: a_l's width, or more where a post map pools σ(z_l) into a_l
        self.z_widths = {r.index: r.maps.z.size(r.sizes) for r in d.net.resolved}
        self.names: dict[str, str] = {}  # array name -> its name in the math
        self._symbols: dict[str, sp.MatrixSymbol] = {}
        self.stored: set[str] = set()
        self._a = {l: self._column("x" if l == 0 else f"a{l}", n[l], "x" if l == 0 else f"a_{l}")
                   for l in range(self.L + 1)}
        self._z = {l: self._column(f"z{l}", self.z_widths[l], f"z_{l}")
                   for l in range(1, self.L + 1)}
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
        self.uses_s: set[int] = set()  # layers with a skip or a post map whose σ(z_l) it reads
        self._s: dict[int, sp.MatrixExpr] = {}
        self.param_grads: dict[tuple[int, str], str] = {}  # (l, parameter) -> its gradient
        self.constants: dict[str, str] = {}  # module constants the maps' code reads
        self.maps_used: dict[tuple[int, str], Any] = {}  # (l, map name) -> the kind's Map
        self._count = 0
        self.rows.map_code = self._map_code
        self.fused: set[int] = set()  # layers whose δ uses the cost's closed-form output delta
        self.scanned: dict[str, int] = {}  # δ_l's name -> l, where δ_l reads itself one step
        # on (BPTT: a scan)
        self.step_major = scans_numpy.forward_step_major(d.net)  # array -> its step-major
        # form (a scan's states, then δ_l), which a parameter's gradient reads
        self._cost_gradient = None
        self._before: list[str] = []  # lines the next statement's maps need first (stages)
        self._printed: set[str] = set()  # every such line printed so far
        self._computed: dict = {}  # the stages computed so far, per layer and inputs

    def _symbol(self, name: str, shape: tuple, math: str) -> sp.MatrixSymbol:
        self.names[name] = math
        self._symbols[name] = sp.MatrixSymbol(name, *shape)
        return self._symbols[name]

    def _column(self, name: str, width: int, math: str) -> sp.MatrixExpr:
        """A batch quantity stored one sample per row, seen as columns (n × batch)."""
        self.stored.add(name)
        return self._symbol(name, (BATCH, width), math).T

    def _emit(self, target: str, math_target: str, code: str, value, kind: str,
              width: int, before: tuple[str, ...] = ()) -> None:
        unknown = sorted(map(str, value.free_symbols - set(self._symbols.values())))
        if unknown:
            listed = ", ".join(unknown[:3]) + (", ..." if len(unknown) > 3 else "")
            raise ValueError(f"cannot generate code for {math_target}: it uses {listed}, "
                             "which are not arrays of the recursion")
        math = f"{math_target} = {self.math.doprint(value)}"
        before, self._before = (*self._before, *before), []
        self.statements.append(Statement(target, code, math, kind, value, width, before))

    # ---- RecursionOps

    def cost_gradient(self):
        code = forms.cost(self.symbols.net.cost_entry).gradient
        self._cost_gradient = numeric_form(code.numpy, "∂C/∂{a}", code.numba,
                                           a=self._a[self.L], y=self._y)
        return self._cost_gradient

    def activation_vjp(self, l: int, v):
        act = self.symbols.net.activation(l)
        if act.elementwise:  # diag(σ'(z)) v is the Hadamard product v ⊙ σ'(z)
            fused = self._output_delta(l, v, f"∂C/∂a_{l} ⊙ {act.name}'(z_{l})")
            if fused is not None:
                return fused
            derivative = forms.activation(act).derivative
            assert derivative is not None  # an elementwise σ has one
            if "{z}" in derivative.numpy + derivative.numba:
                self.uses_z.add(l)
            if "{a}" in derivative.numpy + derivative.numba:
                self._activated(l)
            prime = numeric_form(derivative.numpy, f"{act.name}'({{z}})", derivative.numba,
                                 z=self._z[l], a=self._activated(l))
            return sp.HadamardProduct(v, prime)
        vjp = forms.activation(act).vjp
        if vjp is None:
            raise ValueError(f"activation {act.name!r} has no numeric vector-Jacobian product")
        fused = self._output_delta(l, v, f"J_{act.name}(z_{l})ᵀ ∂C/∂a_{l}")
        if fused is not None:
            return fused
        if not isinstance(v, sp.Transpose):  # the product uses v twice: compute it once
            width = self.z_widths[l]
            named = self._column(f"v{l}", width, f"v_{l}")
            self._emit(f"v{l}", f"v_{l}", self.rows.rows(v), v, "delta", width)
            v = named
        return numeric_form(vjp.numpy, f"J_{act.name}(z_{l})ᵀ {{v}}", vjp.numba,
                            a=self._activated(l), v=v)

    def _output_delta(self, l: int, v, math: str):
        """J_σ(z_L)ᵀ ∂C/∂a_L in the cost's closed form (no division by a), when v is exactly
        the cost gradient of the output layer; None otherwise (then the product is written out)."""
        if l != self.L or self._cost_gradient is None or v != self._cost_gradient or \
                _more_than_activation(self.symbols.net, l):
            return None
        form = self.symbols.net.cost_entry.output_delta(self.symbols.net.activation(l).name)
        if form is None:
            return None
        self.fused.add(l)
        code = forms.output_delta(form)
        return numeric_form(code.numpy, math, code.numba, a=self._a[l], y=self._y)

    def _activated(self, l: int):
        """σ(z_l): a_l itself, unless the layer adds a skip or maps σ(z_l) on (then s_l)."""
        if not _more_than_activation(self.symbols.net, l):
            return self._a[l]
        if l not in self._s:
            self.uses_s.add(l)
            self._s[l] = self._column(f"s{l}", self.z_widths[l], f"σ(z_{l})")
        return self._s[l]

    def transpose_times(self, l: int, v):
        return self._W[l].T * v

    def times(self, l: int, v):
        return self._W[l] * v

    def scale(self, c, v):
        return c * v

    def add(self, u, v):
        return u + v

    def mask(self, v, rows):
        raise ValueError("cannot generate code for a value times a constant array (v * M): "
                         "the code generators print only the array algebra of RecursionOps")

    def activation(self, l: int):
        return self._a[l]

    def outer(self, u, v):
        return u * v.T

    def bind_delta(self, l: int, value):
        name = f"delta{l}"
        width = self.z_widths[l]
        delta = self._column(name, width, f"δ_{l}")
        before: tuple[str, ...] = ()
        if delta.arg in value.free_symbols:  # δ_l one step on (BPTT): found step by step
            self.scanned[name] = l
            self.step_major[name] = f"{name}_c"
            lines, code = scans_numpy.DeltaSteps(self, l, name).lines(value)
            before = tuple(lines)
        else:
            code = self.rows.rows(value)
        self._emit(name, f"δ_{l}", code, value, "delta", width, before)
        return delta

    def state(self, l: int):
        return self._activated(l)

    def gradient(self, l: int, weight, bias, **others) -> None:
        """∂C/∂θ_l for every parameter of the layer's kind: W_l and b_l (a dense layer's only
        two), then the others by name (a residual block's P_l)."""
        self.weight[l], self.bias[l] = f"d{array_name('W', l)}", f"d{array_name('b', l)}"
        for name, value in {"W": weight, "b": bias, **others}.items():
            target, math = f"d{array_name(name, l)}", f"∂C/∂{name}_{l}"
            self.param_grads[(l, name)] = target
            if isinstance(value, MapForm):  # the kind's own map: summed over the batch inside
                self._emit(target, math, self.rows.doprint(value), value, "param",
                           int(value.shape[0]))
                continue
            rows = self._param_rows(l, name)
            if value.shape == (rows, BATCH):  # a vector parameter: δ_l summed over the batch
                # 1ᵀ δ_l as one matrix-vector product (faster than sum(axis=0))
                self._emit(target, math, f"np.dot(ones, {self.rows.rows(value)})", value, "bias",
                           rows)
                continue
            shape = self._param_shape(l, name)
            if value.shape != shape:
                raise ValueError(f"the recursion's dC/d{name}_{l} has shape {value.shape}, not "
                                 f"{shape}")
            self._emit(target, math, self.rows.doprint(value), value, "weight", rows)

    def _param_shape(self, l: int, name: str) -> tuple:
        """A parameter as the program holds it: its first axis by all others."""
        r = self.symbols.net.resolved[l - 1]
        shape = r.parameters[name]
        rest = 1
        for n in shape[1:]:
            rest *= n
        return (shape[0], rest)

    def _param_rows(self, l: int, name: str) -> int:
        return self._param_shape(l, name)[0]

    def bind_grad(self, l: int, value):
        """g_l = ∂C/∂a_l, stored: a skip passes it back unchanged."""
        name = f"g{l}"
        width = self.widths[l]
        grad = self._column(name, width, f"g_{l}")
        self._emit(name, f"g_{l}", self.rows.rows(value), value, "delta", width)
        return grad

    def vjp(self, l: int, which: str, *values):
        """Map ``which`` of layer l's kind on ``values``: printed from its index formula."""
        r = self.symbols.net.resolved[l - 1]
        m = dict(r.maps.all())[which]
        self.maps_used.setdefault((l, which), m)
        operands = [self._stored(v, tensor.size(r.sizes)) for tensor, v in zip(m.inputs, values)]
        if m.own is not None:  # a scan reads the δ_l it helps bind (``bind_delta``)
            operands.append(self._column(f"delta{l}", self.z_widths[l], f"δ_{l}"))
        batched = which not in r.maps.param_vjps
        if batched:
            return MapForm(which, l, m.out.size(r.sizes), 1, True, *operands)
        rows, cols = self._param_shape(l, which)
        return MapForm(which, l, rows, cols, False, *operands)

    def _stored(self, value, width: int):
        """``value`` as a stored column: itself if it is one, else a new array u_k holding it."""
        if isinstance(value, sp.Transpose) and isinstance(value.arg, sp.MatrixSymbol) and \
                value.arg.name in self.stored:
            return value
        self._count += 1
        name = f"u{self._count}"
        column = self._column(name, width, f"u_{self._count}")
        self._emit(name, f"u_{self._count}", self.rows.rows(value), value, "delta", width)
        return column

    def map_of(self, form: MapForm):
        """The kind's ``Map`` a ``MapForm`` applies."""
        return dict(self.symbols.net.resolved[form.layer - 1].maps.all())[form.which]

    def map_terms(self, form: MapForm, arrays=None, computed=None):
        """The terms of a ``MapForm``'s map at the network's sizes, and the code's names of the
        parameters it reads and of its inputs (``arrays``: tensor name -> code). A staged map
        shares the stages ``computed`` (a dict the printer of one function keeps) holds for
        its layer and these inputs."""
        r = self.symbols.net.resolved[form.layer - 1]
        m = self.map_of(form)
        names = {p.name: array_name(p.name, form.layer) for p in m.params}
        table = None
        if computed is not None and arrays is not None:
            key = (form.layer, tuple(sorted(arrays.items())))
            if key not in computed:
                same = sum(1 for k in computed if k[0] == form.layer)
                computed[key] = maps_staged.Computed(f"_l{form.layer}" +
                                                     (f"_{same + 1}" if same else ""))
            table = computed[key]
        names.update(arrays or {})
        try:
            return m, maps.terms(m, r.sizes, batched_out=form.batched, computed=table), names
        except ValueError as error:  # the reason, without the map's formula written out
            why = str(error).split(" as code: ", 1)[-1]
            which = _MAP_WORDS.get(form.which, f"for ∂C/∂{form.which}"
                                   if form.which in r.maps.param_vjps else form.which)
            why = ("is not a sum of products of tensor entries" if why.startswith(
                "a layer's map must be a sum of products") else f"cannot be printed: {why}")
            raise ValueError(f"layer {form.layer} ({r.layer.kind}) has no numeric code yet: its "
                             f"map {which} {why}") from None

    def _map_code(self, form: MapForm, printer) -> str:
        m = self.map_of(form)
        arrays = {tensor.name: printer.doprint(sp.transpose(op))
                  for tensor, op in zip((*m.inputs, *m.read_own), form.operands)}
        m, terms, names = self.map_terms(form, arrays, self._computed)
        summed = None if form.batched else scans_numpy.summed_code(terms, names,
                                                                    self.step_major)
        if summed is not None:  # a sum over the steps: products over (step, sample) rows
            return summed
        printed = maps_numpy.numpy_code(terms, names, f"_L{form.layer}_{form.which.upper()}")
        self.constants.update(printed.constants)
        self._before += [line for line in printed.lines
                         if line not in self._before and line not in self._printed]
        self._printed.update(printed.lines)  # a single-assignment line: once per function
        return printed.code


_MAP_WORDS = {"pre": "z (its forward map)", "input_vjp": "back to its input"}


def _more_than_activation(net, l: int) -> bool:
    """Whether layer l's output is more than σ(z_l): a skip added, or a map after σ."""
    maps_l = net.resolved[l - 1].maps
    return maps_l.skip is not None or maps_l.post is not None


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
    """Replay the derivation's program (the statements the prover proves) on ``CodeOps``."""
    require_numeric(d.net)
    ops = CodeOps(d)
    d.program.run(ops)
    for l in range(1, d.L + 1):
        if l not in ops.weight:
            raise ValueError(f"the recursion produced no gradient for layer {l}")
    return ops
