"""Second order in the generated modules: ``hessian``, ``gauss_newton`` and ``hvp``.

``second_order_source(d, flavor)`` is the first-order module (``codegen.module_source``, or
``numba_codegen.numba_module_source``), its docstring told of second order, with three
functions more, each printed from the statements of its program (``curvature_trace``):

- ``hessian(x, y, weights, biases)``: the (P, P) Hessian of the cost summed over the batch,
  parameters in the order W_1 (row by row), b_1, ..., W_L, b_L, from the curvature program's
  block rows (the blocks below the diagonal are their transposes);
- ``gauss_newton(x, y, weights, biases)``: the Gauss–Newton matrix, in the same order;
- ``hvp(x, y, weights, biases, v)``: H v from the R-operator program, v and the result
  shaped like ``grad``'s result, ``{"W": [...], "b": [...]}``; never forms H.

In the numba module ``hvp`` is one compiled kernel; ``hessian`` and ``gauss_newton`` run
NumPy there too (their work is in large array products, which NumPy hands to BLAS).
A network whose Hessian is past ``limits.MAX_HESSIAN_ENTRIES`` gets ``hessian`` and
``gauss_newton`` that refuse at once, naming the limit; ``hvp`` works at any size.
A network of layer kinds gets its module from ``kinds_curvature_codegen`` (NumPy or numba).
"""

from __future__ import annotations

import textwrap

from ..core import limits
from ..numeric.trace import require_numeric
from . import forms
from .codegen import function, module_source
from .curvature_trace import ArrayOps, replayed
from .kinds_curvature_codegen import kinds_second_order_source
from .numba_codegen import numba_module_source
from .numba_loops import forward_kernel_lines
from .parts import told

FLAVORS = ("numpy", "numba")


def second_order_source(d, flavor: str = "numpy", proved: str = "",
                        proved_second: str = "") -> str:
    """The module of ``d`` (a ``SecondDerivation``) with hessian, gauss_newton and hvp;
    ``proved`` and ``proved_second`` say what was proved of the programs (or nothing)."""
    if flavor not in FLAVORS:
        raise ValueError(f"unknown flavor {flavor!r}; choose one of: {', '.join(FLAVORS)}")
    require_numeric(d.net)
    if not d.net.dense:  # layer kinds: the R-operator over grad's own statements
        return kinds_second_order_source(d, flavor, proved, proved_second)
    first = (module_source(d, proved=proved) if flavor == "numpy"
             else numba_module_source(d, proved=proved))
    programs = {name: p.fingerprint for name, p in d.programs.items()}
    parts = [f"PROGRAMS = {programs!r}  # the second-order programs below, by fingerprint\n"]
    helpers: list[str] = []
    for name, title in (("hessian", "The Hessian of the cost summed over the batch"),
                        ("gauss_newton", "The Gauss–Newton matrix J^T H_C J, summed over the "
                                         "batch")):
        ops = replayed(d, name)
        parts.append(_matrix_function(d, name, title, ops))
        helpers += ops.helpers
    ops = replayed(d, "hvp", flavor)
    helpers += ops.helpers
    parts += _hvp_functions(d, ops, flavor)
    parts.append(DIRECTION)
    parts += [h for h in dict.fromkeys(helpers) if h and _name(h) not in first]
    added = "\n\n".join(p.rstrip("\n") + "\n" for p in parts)
    return _told(first, d, proved_second) + "\n\n" + added


def _name(helper: str) -> str:
    line = next(line for line in helper.splitlines() if line.startswith("def "))
    return line.split("(")[0] + "("


def _told(first: str, d, proved: str) -> str:
    """The first-order module with its docstring telling of the functions added."""
    programs = ", ".join(f"{name} {p.fingerprint}" for name, p in d.programs.items())
    text = textwrap.fill(
        f"Second order (symbp.derive(net, order=2)): hessian(x, y, weights, biases) is the "
        f"({d.params_from(1)}, {d.params_from(1)}) Hessian of the cost summed over the batch, its "
        "rows and columns W_1 row by row, b_1, ..., W_L, b_L; gauss_newton(...) the "
        "Gauss-Newton matrix J^T H_C J in the same order; hvp(x, y, weights, biases, v) is H v "
        "by the R-operator, v and the result shaped like grad's. They print the programs "
        f"{programs} (the curvature recursion, Gauss-Newton, Pearlmutter's R-operator), each "
        "recorded once by symbp.", 88) + "\n"
    return told(first, text, proved)


def _forward(d, keep_z: set[int], flavor: str) -> list[str]:
    """z_l (where kept) and a_l: array expressions, or in numba the first-order kernel's
    loops (products by BLAS or unrolled, e^z vectorized)."""
    if flavor == "numba":
        return forward_kernel_lines(d.net, keep_z)
    lines = []
    for l in range(1, d.L + 1):
        act = d.net.activation(l)
        code = forms.activation(act).value
        z = f"{'x' if l == 1 else f'a{l - 1}'} @ W{l}.T + b{l}"
        if l in keep_z or (flavor == "numba" and not act.elementwise):
            lines.append(f"z{l} = {z}")
            z = f"z{l}"
        else:
            z = f"({z})"
        if flavor == "numba" and not act.elementwise:
            lines += [f"a{l} = np.empty_like({z})", code.numba.format(z=z, out=f"a{l}")]
        else:
            lines.append(f"a{l} = {code.numpy.format(z=z)}")
    return lines


def _unpack(d) -> str:
    L = d.L
    return ", ".join(["x", "y", *(f"W{l}" for l in range(1, L + 1)),
                      *(f"b{l}" for l in range(1, L + 1))])


def _matrix_function(d, name: str, title: str, ops: ArrayOps) -> str:
    P = d.params_from(1)
    signature = f"{name}(x, y, weights, biases)"
    doc = (f"{title}, ({P}, {P}): rows and columns W_1 row by row, b_1, ..., W_L, b_L.")
    try:
        limits.check_hessian(d.net.widths)
    except ValueError as error:
        return function(signature, doc, [f"raise ValueError({str(error)!r})"])
    body = [f"{_unpack(d)} = _arguments(x, y, weights, biases)",
            *_forward(d, ops.uses_z, "numpy"), f"H = np.zeros(({P}, {P}))",
            "# the program's statements; each block row fills H from its diagonal block on",
            *ops.lines, "return np.triu(H) + np.triu(H, 1).T  # below the diagonal: the transposes"]
    return function(signature, doc, body)


def _hvp_functions(d, ops: ArrayOps, flavor: str) -> list[str]:
    L = d.L
    V = ", ".join(f"V{l}" for l in range(1, L + 1))
    c = ", ".join(f"c{l}" for l in range(1, L + 1))
    results = [ops.weight[l] for l in range(1, L + 1)] + [ops.bias[l] for l in range(1, L + 1)]
    body = ["batch = x.shape[0]", *_forward(d, ops.uses_z, flavor), "ones = np.ones(batch)",
            "# the R-operator program's statements", *ops.lines]
    doc = ('H v, the Hessian of the cost summed over the batch times the direction v; v and the '
           'result as {"W": [...], "b": [...]}, shaped like the weights and biases.')
    signature = "hvp(x, y, weights, biases, v)"
    arguments = [f"{_unpack(d)} = _arguments(x, y, weights, biases)", f"{V}, {c} = _direction(v)"]
    packed = (f'return {{"W": [{", ".join(results[:L])}], "b": [{", ".join(results[L:])}]}}')
    if flavor == "numpy":
        return [function(signature, doc, [*arguments, *body, packed])]
    kernel = ("@_jit\n" + function(f"_hvp_kernel({_unpack(d)}, {V}, {c})",
                                   "H v for float64 C-contiguous arrays (numba).",
                                   [*body, f"return {', '.join(results)}"]))
    names = ", ".join(f"r{i}" for i in range(2 * L))
    wrapper = function(signature, doc + " Compiled by numba.", [
        *arguments,
        f"arrays = [np.ascontiguousarray(a, dtype=np.float64) for a in ({_unpack(d)}, {V}, "
        f"{c})]",
        f"{names}, = _hvp_kernel(*arrays)" if 2 * L == 1 else f"{names} = _hvp_kernel(*arrays)",
        f'return {{"W": [{", ".join(f"r{i}" for i in range(L))}], '
        f'"b": [{", ".join(f"r{i}" for i in range(L, 2 * L))}]}}'])
    return [kernel, wrapper]


DIRECTION = '''def _direction(v):
    """V_1..V_L, c_1..c_L of the direction v = {"W": [...], "b": [...]}, checked like the
    weights and biases."""
    if not isinstance(v, dict) or set(v) != {"W", "b"}:
        raise ValueError('v must be {"W": [V_1, ..., V_L], "b": [c_1, ..., c_L]}, shaped like '
                         f"the weights and biases; got {type(v).__name__}")
    try:
        return _arguments(np.zeros(WIDTHS[0]), None, v["W"], v["b"])[2:]
    except ValueError as error:
        raise ValueError(f"v: {error}") from None
'''
