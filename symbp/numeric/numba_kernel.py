"""The numba kernel's printer: the statements ``trace.CodeOps`` recorded, as loops.

``Kernel`` prints the statements (the very ones the NumPy module prints) as loops: each
elementwise expression (⊙, +, σ', ∂C/∂a_L) becomes one fused loop over flat views of the
(batch, n) arrays, which LLVM vectorizes, and each matrix product is loops with the widths
as literal bounds for small work or a BLAS call (``np.dot``) above ``BLAS_WORK``
multiply-adds or ``LOOP_ENTRIES`` matrix entries. A layer-wide form (softmax) is a call on
arrays; a layer kind's own map (a ``MapForm``) is its loops from ``maps_numba``. A wrong
recursion gives a wrong kernel, exactly as it gives wrong NumPy. ``numba_codegen`` (dense
networks) and ``kinds_numba`` (networks of layer kinds) wrap it in a module.
"""

from __future__ import annotations

import re

import sympy as sp

from . import scans_numba
from .array_printers import MapForm, NumericForm
from .maps_numba import numba_lines
from .numba_loops import WIDE, Arrays, flat_loop, product, wide_loop
from .trace import CodeOps

SIMPLE = re.compile(r"[\w.]+(\[[\w, ]+\])?")  # a name, a number or one element: no parentheses

PRELUDE = '''# error_model="numpy": x / 0 is inf, as in NumPy (no check in every loop);
# contract: a * b + c may be one fused multiply-add (as accurate, and _exp twice as fast);
# cache: numba finds a cached kernel's globals again by module name, so the compiled code
# is kept (in __pycache__ beside this file) when the module was imported by name
_CACHE = sys.modules.get(__name__) is not None
_jit = numba.njit(cache=_CACHE, error_model="numpy", fastmath={"contract"})
# inlined where called (numba's own IR): LLVM then vectorizes the loop around the call, which
# it does not once a large kernel has made it stop inlining calls (2x on a residual network)
_inline = numba.njit(cache=_CACHE, error_model="numpy", fastmath={"contract"}, inline="always")
_MATRIX, _VECTOR = numba.float64[:, ::1], numba.float64[::1]


@intrinsic
def _as_float(typingctx, bits):
    """The float64 whose bit pattern is the int64 ``bits``."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return numba.float64(numba.int64), codegen


@_inline
def _exp(t):
    """e^t within 2 ulp, clamped to [e^-708, e^709] so it never overflows, in arithmetic
    that vectorizes: t = k ln 2 + r with |r| <= ln 2 / 2, e^r by Taylor to r^12."""
    if t != t:
        return t
    t = min(max(t, -708.0), 709.0)
    k = (t * 1.4426950408889634 + 6755399441055744.0) - 6755399441055744.0  # round(t / ln 2)
    r = (t - k * 0.6931471803691238) - k * 1.9082149292705877e-10
    p = 1.0 + r * (1.0 + r * (1 / 2 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120 + r * (
        1 / 720 + r * (1 / 5040 + r * (1 / 40320 + r * (1 / 362880 + r * (
            1 / 3628800 + r * (1 / 39916800 + r * (1 / 479001600))))))))))))
    return p * _as_float((np.int64(k) + 1023) << 52)  # p 2^k


@_inline
def _tanh(u):
    """tanh(u) within 3 ulp, in arithmetic that vectorizes: m / (m + 2) with the sign of u,
    m = e^t - 1 for t = 2|u| (at most 40: tanh(20) is 1) by _exp's reduction, t = k ln 2 + r:
    m = 2^k (e^r - 1) + 2^k - 1, e^r - 1 by Taylor to r^13, so nothing cancels near 0."""
    if u != u:
        return u
    t = min(2.0 * abs(u), 40.0)
    k = (t * 1.4426950408889634 + 6755399441055744.0) - 6755399441055744.0
    r = (t - k * 0.6931471803691238) - k * 1.9082149292705877e-10
    p = r * (1.0 + r * (1 / 2 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120 + r * (1 / 720 + r * (
        1 / 5040 + r * (1 / 40320 + r * (1 / 362880 + r * (1 / 3628800 + r * (
            1 / 39916800 + r * (1 / 479001600 + r * (1 / 6227020800)))))))))))))
    scale = _as_float((np.int64(k) + 1023) << 52)  # 2^k
    m = scale * p + (scale - 1.0)
    return math.copysign(m / (m + 2.0), u)


@_inline
def _softplus(u):
    """log(1 + e^u) with no overflow: max(u, 0) + log1p(e^-|u|), the same number for every
    real u (for u >= 0, u + log(1 + e^-u) = log(e^u + 1))."""
    return max(u, 0.0) + math.log1p(_exp(-abs(u)))
'''

IMPORTS = ("import math\nimport sys\n\nimport numba\nimport numpy as np\nfrom llvmlite import ir\n"
           "from numba.extending import intrinsic\n")


class Kernel:
    """Prints one traced recursion as the body of a numba kernel, line by line."""

    def __init__(self, ops: CodeOps, arrays: Arrays | None = None):
        self.ops = ops
        self.arrays = arrays or Arrays()  # where a new array comes from: np.empty, or a buffer
        self.params = {f"W{l}" for l in range(1, ops.L + 1)}
        self.lines: list[str] = []
        self.temporaries = 0
        self.fresh: list[tuple[str, int]] = []  # temporaries made for the current statement
        self.step_major = scans_numba.forward_step_major(ops)  # arrays with a copy name_c,
        # (steps, batch, entries): the states of a scan (and δ_l, once found step by step)
        self.sums: dict[str, str] = {}  # δ_l -> ∂C/∂b_l when that is exactly δ_l summed
        self.summed: set[str] = set()  # the ∂C/∂b_l already summed in the loop of δ_l
        self.computed: dict = {}  # the stages of staged maps computed so far (map_terms)
        for s in ops.statements:
            value = s.value.T if s.kind == "bias" else None
            if isinstance(value, sp.MatrixSymbol) and s.width >= WIDE:
                self.sums[value.name] = s.target

    # ---- element code

    def scalar(self, e) -> str:
        """Code for element [i, j] of the row-stored (batch × n) expression ``e``."""
        if isinstance(e, sp.MatrixSymbol) and e.name in self.ops.stored:
            return f"{e.name}[i, j]"
        if isinstance(e, sp.HadamardProduct):
            return " * ".join(_paren(self.scalar(a)) for a in e.args)
        if isinstance(e, sp.MatAdd):
            return "(" + " + ".join(self.scalar(a) for a in e.args) + ")"
        if isinstance(e, sp.MatMul):
            coeff, matrices = e.as_coeff_matrices()
            inner = (self.scalar(matrices[0]) if len(matrices) == 1
                     else f"{self.materialize(sp.MatMul(*matrices))}[i, j]")
            return inner if coeff == 1 else f"{_number(coeff)} * {_paren(inner)}"
        if isinstance(e, sp.Transpose) and isinstance(e.arg, MapForm):
            return f"{self.materialize(e)}[i, j]"
        if isinstance(e, sp.Transpose) and isinstance(e.arg, NumericForm):
            form = e.arg
            template = _numba_template(form)
            if "{out}" in template:
                return f"{self.materialize(e)}[i, j]"
            return form.fill(template, lambda op: _paren(self.scalar(sp.transpose(op))))
        raise ValueError(f"cannot generate numba code for {e}: not an elementwise expression, "
                         "a product with W_l or a registry form")

    # ---- arrays

    def materialize(self, e, out: str | None = None) -> str:
        """The name of an array holding the row-stored expression ``e``, computing it if needed."""
        if isinstance(e, sp.MatrixSymbol) and e.name in self.ops.stored:
            return e.name
        width = int(e.shape[1])
        if isinstance(e, sp.Transpose) and isinstance(e.arg, MapForm):
            target = out or self._temporary(width)
            if out is not None:
                self.lines += self.arrays.new(out, ("batch", width))
            self.lines += self.map_lines(e.arg, target)
            return target
        if isinstance(e, sp.MatMul) and e.as_coeff_matrices()[0] == 1 and len(e.args) > 1:
            return self._product(e, out)
        if isinstance(e, sp.Transpose) and isinstance(e.arg, NumericForm) and \
                "{out}" in _numba_template(e.arg):
            arrays = {k: self.materialize(sp.transpose(op))
                      for k, op in zip(e.arg.keys, e.arg.operands)}
            target = out or self._temporary(width)
            if out is not None:
                self.lines += self.arrays.new(out, ("batch", width))
            self.lines.append(_numba_template(e.arg).format(**arrays, out=target))
            return target
        code = self.scalar(e)
        reusable = [name for name, n in self.fresh if n == width and f"{name}[i, j]" in code]
        if reusable:  # write in place: each element reads only itself
            target = reusable[0]
        elif out is not None:
            target = out
            self.lines += self.arrays.new(out, ("batch", width))
        else:
            target = self._temporary(width)
        total = self.sums.get(out or "")
        if total:  # one pass: δ_l and its sum over the batch
            self.summed.add(total)
            self.lines += [*self.arrays.new(total, (width,), zero=True),
                           *wide_loop(target, [f"v = {code}", f"{target}[i, j] = v",
                                               f"{total}[j] += v"])]
        else:
            self.lines += flat_loop(width, f"{target}[i, j] = {code}")
        if out is not None and target != out:
            self.lines.append(f"{out} = {target}")
            return out
        return target

    def _temporary(self, width: int) -> str:
        self.temporaries += 1
        name = f"t{self.temporaries}"
        self.lines += self.arrays.new(name, ("batch", width))
        self.fresh.append((name, width))
        return name

    def _product(self, e, out: str | None) -> str:
        """A row-stored quantity times W_l or W_lᵀ (the rows form of W_lᵀ δ, W_l a)."""
        first, *rest = e.args
        current = self.materialize(first)
        for i, m in enumerate(rest):
            transposed = isinstance(m, sp.Transpose)
            W = m.arg if transposed else m
            if not (isinstance(W, sp.MatrixSymbol) and W.name in self.params):
                raise ValueError(f"cannot generate numba code for {e}: a product of a batch "
                                 f"quantity with {m}, which is not W_l or W_lᵀ")
            rows, cols = (int(n) for n in W.shape)
            width = rows if transposed else cols
            last = i == len(rest) - 1
            target = out if (last and out) else None
            if target is None:
                target = self._temporary(width)
            else:
                self.lines += self.arrays.new(target, ("batch", width))
            kind = "nt" if transposed else "nn"
            self.lines += product(kind, current, W.name, target, rows, cols)
            current = target
        return current

    def map_lines(self, form: MapForm, target: str) -> list[str]:
        """A kind's map printed as loops into ``target``, its inputs computed first (the
        stages of a staged map shared with the layer's maps before it)."""
        m = self.ops.map_of(form)
        arrays = {tensor.name: self.materialize(sp.transpose(op))
                  for tensor, op in zip((*m.inputs, *m.read_own), form.operands)}
        _, terms, names = self.ops.map_terms(form, arrays, self.computed)
        return numba_lines(terms, names, target)

    # ---- statements

    def statement(self, s) -> None:
        self.fresh = []
        if s.kind == "param":  # a parameter's gradient by its kind's map, in its own shape
            if scans_numba.param_lines(self, s.value, s.target):
                return  # a sum over the steps of products of two sequences: BLAS products
            r = self.ops.symbols.net.resolved[s.value.layer - 1]
            shape = self.ops.map_of(s.value).out.shape(r.sizes)
            lines = self.map_lines(s.value, s.target)
            self.lines += [f"{s.target} = np.empty({shape!r})", *lines]
        elif s.kind == "delta" and s.target in self.ops.scanned:  # δ_l reads itself one
            # step on (BPTT): step by step
            self.lines += scans_numba.delta_lines(self, s.target, self.ops.scanned[s.target],
                                                  s.value)
        elif s.kind == "delta":
            name = self.materialize(sp.transpose(s.value), out=s.target)
            if name != s.target:
                self.lines.append(f"{s.target} = {name}")
        elif s.kind == "weight":
            coeff, matrices = s.value.as_coeff_matrices()
            if len(matrices) != 2 or not isinstance(matrices[0], sp.Transpose):
                raise ValueError(f"cannot generate numba code for {s.math}: not δ aᵀ")
            u = self.materialize(matrices[0].arg)
            v = self.materialize(matrices[1])
            n, m = (int(k) for k in s.value.shape)
            self.lines += self.arrays.new(s.target, (n, m))
            self.lines += product("tn", u, v, s.target, n, m)
            if coeff != 1:
                self.lines += [f"{s.target} *= {_number(coeff)}"]
        elif s.target in self.summed:
            self.lines.append(f"# (summed in the loop that computed {s.value.T.name})")
        else:  # the bias gradient: δ_l summed over the batch
            rows = self.materialize(sp.transpose(s.value))
            self.lines += [*self.arrays.new(s.target, (s.width,), zero=True),
                           "for i in range(batch):",
                           f"    for j in range({s.width}):",
                           f"        {s.target}[j] += {rows}[i, j]"]


def _numba_template(form: NumericForm) -> str:
    if form.numba == "None":
        raise ValueError(f"the numeric form {form.args[0].name!r} has no numba template")
    return form.numba


def _paren(code: str) -> str:
    return code if SIMPLE.fullmatch(code) else f"({code})"


def _number(coeff) -> str:
    return repr(float(coeff))
