"""The code generator: the proved δ recursion (``trace``) printed as a standalone NumPy module.

``module_source`` prints the statements ``trace.CodeOps`` recorded while the
derivation's own recursion function ran, so the recursion the prover checks is
the one that executes, mistakes included. The pieces every generated module
shares (the header, ``forward`` and ``cost``, the argument checks, the docstring)
live here too; ``numba_codegen`` prints the same trace as a compiled kernel.
"""

from __future__ import annotations

from . import forms, kinds_codegen
from .arguments import fast_check_source, runtime_source
from .parts import function, numeric_forms, numpy_helpers, recursion_origin
from .trace import CodeOps, trace

__all__ = ["function", "module_source", "trace"]


def module_source(d, proved: str = "") -> str:
    """A standalone module (imports only NumPy) with ``forward``, ``cost`` and ``grad``.

    ``proved`` is one sentence about the proof of this very program (same fingerprint), for
    the docstring; without it the module claims nothing. Deterministic: the same network
    and recursion give byte-identical source.
    """
    if not d.net.dense:  # layers of other kinds: one dict of parameters per layer
        return kinds_codegen.module_source(d, proved)
    ops = trace(d)
    body = [f"{arguments_line(d.L)} = _arguments(x, y, weights, biases)",
            "# forward pass, keeping a_l (and z_l where σ' needs it)",
            *forward_lines(d.net, ops.uses_z), "ones = np.ones(len(x))",
            "# backpropagation"]
    for s in ops.statements:
        body += [f"# {s.math}", f"{s.target} = {s.code}"]
    results = [ops.weight[l] for l in range(1, d.L + 1)] + [ops.bias[l] for l in range(1, d.L + 1)]
    body += ["if out is not None:  # written into the arrays given, once every one is checked",
             f"    for given, value in zip(_out_arrays(out, WIDTHS, False), "
             f"({', '.join(results)})):",
             "        given[...] = value", "    return out", gradient_return(ops)]
    grad = function("grad(x, y, weights, biases, out=None)",
                    'dC/dW_l and dC/db_l as {"W": [...], "b": [...]}, the cost summed over the '
                    "batch. With ``out`` (such a dict of float64 arrays), written into its "
                    "arrays.", body)
    return module_text(d, ops, "import numpy as np\n", [grad], proved=proved)


def module_text(d, ops: CodeOps, imports: str, functions: list[str],
                helpers: tuple[str, ...] = (), kernel: str = "", proved: str = "") -> str:
    """Docstring, imports, the network's constants, forward and cost, ``functions``, checks."""
    net = d.net
    helpers_numpy = "".join(dict.fromkeys(
        h for l in range(1, d.L + 1) for h in numpy_helpers(net.activation(l)) if h))
    parts = [f'"""{docstring(d, ops, kernel, proved)}"""\n\n{imports}',
             f"WIDTHS = {net.widths!r}\nACTIVATIONS = {net.activations!r}\nCOST = {net.cost!r}\n"
             f"PROGRAM = {d.program.fingerprint!r}  # the fingerprint of the program below\n",
             *numpy_functions(d), *functions, fast_check_source(net.widths), runtime_source(),
             *(h for h in (helpers_numpy, *helpers) if h)]
    return "\n\n".join(part.rstrip("\n") + "\n" for part in parts)


def numpy_functions(d) -> list[str]:
    """``forward`` and ``cost`` in NumPy, with the argument checks ``grad`` has."""
    net, L = d.net, d.L
    cost = net.cost_entry
    return [
        function("forward(x, weights, biases)",
                 "The output activation a_L; x is (n_0,) or (batch, n_0), one sample per row.",
                 ["given = x",
                  f"{arguments_line(L, y='_')} = _arguments(x, None, weights, biases)",
                  "single = np.ndim(given) == 1  # after the check, which names a ragged x",
                  *forward_lines(net), f"return a{L}[0] if single else a{L}"]),
        function("cost(x, y, weights, biases)", "The cost C, summed over the batch.",
                 [f"{arguments_line(L)} = _arguments(x, y, weights, biases)",
                  *forward_lines(net),
                  f"return {forms.cost(cost).value.format(a=f'a{L}', y='y')}"]),
    ]


def arguments_line(L: int, y: str = "y") -> str:
    W = ", ".join(f"W{l}" for l in range(1, L + 1))
    b = ", ".join(f"b{l}" for l in range(1, L + 1))
    return f"x, {y}, {W}, {b}"


def gradient_return(ops: CodeOps) -> str:
    W = ", ".join(ops.weight[l] for l in range(1, ops.L + 1))
    b = ", ".join(ops.bias[l] for l in range(1, ops.L + 1))
    return f'return {{"W": [{W}], "b": [{b}]}}'


def forward_lines(net, keep_z=()) -> list[str]:
    lines = []
    for l in range(1, net.L + 1):
        value = forms.activation(net.activation(l)).value.numpy
        z = f"{'x' if l == 1 else f'a{l - 1}'} @ W{l}.T + b{l}"
        if l in keep_z:
            lines.append(f"z{l} = {z}")
            z = f"z{l}"
        elif value != "{z}":
            z = f"({z})"  # a temporary freed at once: fewer live arrays, faster large batches
        lines.append(f"a{l} = {value.format(z=z)}")
    return lines


def docstring(d, ops: CodeOps, kernel: str = "", proved: str = "") -> str:
    """The generated module's docstring: the network, the recursion's steps, the numeric forms."""
    net = d.net
    cost = net.cost_entry
    origin = recursion_origin(d)
    listed_forms = numeric_forms(d, ops)
    steps = "\n".join(f"    {s.math}" for s in ops.statements)
    listed = "\n".join(f"    {f}" for f in listed_forms)
    widths = " -> ".join(map(str, net.widths))
    imports = "NumPy and numba" if kernel else "only NumPy"
    program = (f"Program {d.program.fingerprint}: the recursion recorded once by symbp; these "
               "statements are that program.")
    if proved:
        program += "\n" + proved
    return f"""Gradients of {net!r}, generated by symbp.

Network: widths {widths}; activations {", ".join(net.activations)}; cost {net.cost}:
{cost.summary}, summed over the batch.

Arrays hold one sample per row: x is (batch, {net.widths[0]}), y is (batch, {net.widths[-1]}),
W_l is (n_l, n_(l-1)) and b_l is (n_l,); a single sample of shape (n_0,) works too.
Lists are converted; any other shape is a ValueError naming the argument.
The equations are written for one sample as column vectors, as in the derivation;
the code applies them to every row at once: W_lᵀ δ_l is delta_l @ W_l, and
summed over the batch, δ_l a_(l-1)ᵀ is np.dot(delta_l.T, a_(l-1)) and δ_l is
np.dot(ones, delta_l).{kernel}

Forward pass:
    z_l = W_l a_(l-1) + b_l,  a_l = σ_l(z_l),  a_0 = x

Backpropagation, {origin}:
{steps}

{program}

Numeric forms (NumPy, printed by symbp.numeric.forms from the formulas of symbp.core.registry):
{listed}

Imports {imports}. Generated code: regenerate it with symbp rather than editing it.
"""
