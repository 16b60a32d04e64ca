"""The numba backend: the same traced recursion printed as one compiled kernel.

``numba_kernel.Kernel`` prints the statements ``trace.CodeOps`` recorded (the very ones the
NumPy module prints) as loops. ``numba_module_source`` wraps the kernel in a standalone
module with the NumPy module's ``forward``, ``cost`` and argument checks; ``grad`` calls
the kernel with the arrays as separate arguments and takes the careful path only when
numba refuses them (a list, another dtype, a wrong shape). ``fused.module_parts`` adds the
same statements printed into buffers (``Arrays``), as the fused training step. A network
of layer kinds gets ``kinds_numba``'s module instead.
"""

from __future__ import annotations

from . import forms, fused, kinds_numba
from .codegen import arguments_line, function, module_text
from .numba_kernel import IMPORTS, PRELUDE, Kernel
from .numba_loops import Arrays, forward_kernel_lines
from .trace import CodeOps, trace


def shape_check(widths) -> list[str]:
    L = len(widths) - 1
    checks = [f"x.shape[1] == {widths[0]}", f"y.shape[0] == batch and y.shape[1] == {widths[-1]}"]
    for l in range(1, L + 1):
        checks.append(f"W{l}.shape[0] == {widths[l]} and W{l}.shape[1] == {widths[l - 1]} "
                      f"and b{l}.shape[0] == {widths[l]}")
    condition = "\n        and ".join(checks)
    return [f"if not ({condition}):",
            '    raise ValueError("the arrays do not have the shapes of the network")']


def kernel_body(d, ops: CodeOps, arrays: Arrays | None = None, checks=()) -> list[str]:
    """The kernel's lines without its return: the shape checks (and ``checks``), the forward
    pass and the statements, each new array as ``arrays`` makes it."""
    kernel = Kernel(ops, arrays)
    for s in ops.statements:
        kernel.lines.append(f"# {s.math}")
        kernel.statement(s)
    return ["batch = x.shape[0]", *shape_check(d.net.widths), *checks, "# forward pass",
            *forward_kernel_lines(d.net, ops.uses_z, kernel.arrays), "# backpropagation",
            *kernel.lines]


def kernel_source(d, ops: CodeOps) -> str:
    L = d.L
    names = ", ".join([ops.weight[l] for l in range(1, L + 1)] + [ops.bias[l] for l in
                                                                  range(1, L + 1)])
    body = [*kernel_body(d, ops), f"return {names}"]
    types = ", ".join(["_MATRIX"] * (L + 2) + ["_VECTOR"] * L)
    return (f"@numba.njit(({types}),\n"
            '            cache=_CACHE, error_model="numpy", fastmath={"contract"})\n'
            + function(f"_kernel({arguments_line(L)})",
                       "dC/dW_1..dC/dW_L, dC/db_1..dC/db_L for float64 C-contiguous arrays.",
                       body))


def numba_module_source(d, proved: str = "") -> str:
    """A standalone module (NumPy and numba) with ``forward``, ``cost`` and a compiled ``grad``.

    ``proved`` as for ``codegen.module_source``. Deterministic: the same network and
    recursion give byte-identical source.
    """
    if not d.net.dense:  # layers of other kinds: one dict of parameters per layer
        return kinds_numba.module_source(d, proved)
    ops = trace(d)
    for l in range(1, d.L + 1):
        forms.activation(d.net.activation(l))  # ValueError for an activation with no formula
    L = d.L
    W = ", ".join(f"W{l}" for l in range(1, L + 1))
    b = ", ".join(f"b{l}" for l in range(1, L + 1))
    unpack = (f"({W},)", f"({b},)") if L == 1 else (W, b)
    results = ", ".join([ops.weight[l] for l in range(1, L + 1)] +
                        [ops.bias[l] for l in range(1, L + 1)])
    grad = function("grad(x, y, weights, biases, out=None)",
                    'dC/dW_l and dC/db_l as {"W": [...], "b": [...]}, the cost summed over the '
                    "batch; compiled by numba. With ``out`` (such a dict of float64 "
                    "C-contiguous arrays), written into its arrays.", [
                        "if out is not None:",
                        "    return _grad_into(x, y, weights, biases, out)",
                        "try:  # the fast path: float64 C-contiguous arrays of the right shapes",
                        f"    {unpack[0]} = weights", f"    {unpack[1]} = biases",
                        f"    {results} = _kernel({arguments_line(L)})",
                        "except (TypeError, ValueError):  # anything else: check and convert",
                        "    arrays = [np.require(a, np.float64, ('C', 'W'))",
                        "              for a in _arguments(x, y, weights, biases)]",
                        f"    {results} = _kernel(*arrays)",
                        _return(ops)])
    helpers = []
    for l in range(1, L + 1):
        code = forms.activation(d.net.activation(l))
        helpers += [code.value.numba_helper, code.vjp.numba_helper if code.vjp else ""]
    output = d.net.cost_entry.output_delta(d.net.activations[-1])
    if ops.fused and output is not None:
        helpers.append(forms.output_delta(output).numba_helper)
    step_functions, step_parts, step_note = fused.module_parts(
        d, ops, lambda arrays, checks: kernel_body(d, ops, arrays, checks))
    numba_parts = [PRELUDE, *dict.fromkeys(h for h in helpers if h), kernel_source(d, ops),
                   *step_parts]
    note = ("\n\nThe gradient is one numba kernel (compiled on first import, cached beside "
            "this file):\nthe same statements as loops over the batch, large matrix products "
            "by BLAS." + step_note)
    return module_text(d, ops, IMPORTS, [grad, *step_functions], tuple(numba_parts), kernel=note,
                       proved=proved)


def _return(ops: CodeOps) -> str:
    W = ", ".join(ops.weight[l] for l in range(1, ops.L + 1))
    b = ", ".join(ops.bias[l] for l in range(1, ops.L + 1))
    return f'return {{"W": [{W}], "b": [{b}]}}'


