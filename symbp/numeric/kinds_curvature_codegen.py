"""Second order in the modules of a network of layer kinds: ``hvp``, ``hessian`` and
``gauss_newton``, in array form, in NumPy and in the numba kernel.

``kinds_second_order_source(d, flavor)`` is the first-order module (``kinds_codegen`` or
``kinds_numba``), its docstring told of second order, with these functions more. They run
``_tangent``: the statements ``grad`` runs (the forward pass and the δ program of the
module's ``PROGRAM`` fingerprint, the program ``proof.kinds_curvature`` proves the R-operator
of), each preceded by its tangent along the direction (``tangents``): forward over reverse,
Pearlmutter's R-operator, R{∂C/∂θ} = H v. The maps keep their array form (a map's tangent is
the same map with one operand its tangent), so the module grows with the first-order one.
In the numba module ``_tangent`` is one compiled kernel, the first-order kernel's loops and
their tangents.

What is proved of the text printed here: the NumPy module's ``_tangent`` and the numba
kernel's Python body, run exactly on symbols (one sample) and checked statement by statement,
equal the proved H v of this network (``proof.kinds_code``, claims "Hv code <name><l>" and
"Hv numba <name><l>", made when the prover is given the modules' text, as ``symbp prove`` and
``render`` do); a module says so only for a tangent program of the fingerprint proved. No
other size is proved.

- ``hvp(x, y, params, v)``: H v, v and the result shaped like ``params``;
- ``hessian(x, y, params)``: (P, P), column p the R-operator along the unit vector e_p (P
  runs; rows and columns θ_1, ..., θ_L, each layer's parameters in ``LAYOUT``'s order, each
  flattened row by row);
- ``gauss_newton(x, y, params)``: Jᵀ H_C J, column p of J the forward tangent of the split s
  (a_L, or z_L where the cost absorbs σ_L) along e_p, H_C the cost's Hessian at s printed
  from ``d.layered_split_hessian()``.
"""

from __future__ import annotations

import textwrap

import sympy as sp

from ..core.curvature import absorbs_output
from . import forms, kinds_codegen, kinds_numba
from .parts import function, told
from .tangents import tangent, tangent_helper, tangent_lines

FLAVORS = ("numpy", "numba")


def kinds_second_order_source(d, flavor: str = "numpy", proved: str = "",
                              proved_second: str = "") -> str:
    """The module of ``d`` (a ``KindsSecondDerivation``) with hvp, hessian and gauss_newton;
    ``proved`` and ``proved_second`` say what was proved of the program (or nothing)."""
    if flavor not in FLAVORS:
        raise ValueError(f"unknown flavor {flavor!r}; choose one of: {', '.join(FLAVORS)}")
    if flavor == "numpy":
        def numpy_parts(ops, constants):
            lines = kinds_codegen.program_lines(d, ops, constants, _keep(d))
            return [*_functions(d), _tangent_function(d, ops, lines, "numpy")]
        first = kinds_codegen.module_source(d, proved, numpy_parts)
    else:
        def numba_parts(ops):
            lines = kinds_numba.kernel_lines(d, ops, _keep(d))
            helpers = kinds_numba.numba_helpers(d, ops)
            return ([*_functions(d), _kernel_call(d)],
                    [*map(tangent_helper, helpers),
                     _tangent_function(d, ops, lines, "numba", [_defined(h) for h in helpers])])
        first = kinds_numba.module_source(d, proved, numba_parts)
    return _told(first, d, flavor, proved_second)


def _keep(d) -> set[int]:
    """z_L named where it is the split (a cost that absorbs σ_L)."""
    return {d.L} if absorbs_output(d.net.cost_entry) else set()


def _split(d) -> str:
    return f"z{d.L}" if absorbs_output(d.net.cost_entry) else f"a{d.L}"


def _codes(d) -> list[str]:
    return [code for layer in kinds_codegen.parameters(d.net) for _, code in layer]


def _defined(helper: str) -> str:
    """The name a helper's source defines."""
    return next(line for line in helper.splitlines() if line.startswith("def "))[4:].split("(")[0]


def _tangent_function(d, ops, lines: list[str], flavor: str, helpers=()) -> str:
    """``_tangent`` (NumPy) or ``_tangent_kernel`` (numba): grad's statements and their
    tangents; it returns R{∂C/∂θ} in θ's order, a_L and the tangent of the split."""
    codes = _codes(d)
    seeded = tangent_lines(lines, codes, flavor, helpers)
    results = [tangent(g) for g in kinds_codegen.gradient_names(ops, d.net)]
    body = [*seeded, f"return {', '.join([*results, f'a{d.L}', tangent(_split(d))])}"]
    arguments = ", ".join(["x", "y", *codes, *map(tangent, codes)])
    doc = ("grad's statements, each after its tangent along the direction R_theta (forward "
           "over reverse): R{dC/d theta} = H v in theta's order, a_L, and the tangent of the "
           "split")
    if flavor == "numpy":
        return function(f"_tangent({arguments})", doc + ".", body)
    types = kinds_numba.kernel_types(d.net)
    return kinds_numba.jit_line(types + types[2:]) + function(
        f"_tangent_kernel({arguments})", doc + ", for float64 C-contiguous arrays.", body)


def _kernel_call(d) -> str:
    """``_tangent`` in the numba module: the arrays as the kernel takes them."""
    codes = _codes(d)
    arguments = ", ".join(["x", "y", *codes, *map(tangent, codes)])
    return function(f"_tangent({arguments})",
                    "The compiled kernel on float64 C-contiguous arrays, a sample per row.",
                    [f"arrays = [np.ascontiguousarray(a, dtype=np.float64) for a in "
                     f"({arguments})]",
                     "arrays[0] = arrays[0].reshape(len(arrays[0]), -1)",
                     "arrays[1] = arrays[1].reshape(len(arrays[1]), -1)",
                     "return _tangent_kernel(*arrays)"])


def _functions(d) -> list[str]:
    """hvp, hessian, gauss_newton and their helpers: the same text in NumPy and numba."""
    P = len(d.parameters())
    arrays = "arrays = _arguments(x, y, params)"
    n = len(d.a_symbols(d.L))
    return [
        function("hvp(x, y, params, v)",
                 "H v: the Hessian of the cost summed over the batch times the direction v; v "
                 "and the result shaped like params.",
                 [arrays, "*HV, _, _ = _tangent(*arrays, *_direction(v))",
                  "return _as_params(HV)"]),
        function("hessian(x, y, params)",
                 f"The ({P}, {P}) Hessian of the cost summed over the batch: column p is H e_p "
                 "(the R-operator along the unit vector e_p); rows and columns theta_1, ..., "
                 "theta_L, each layer's parameters in LAYOUT's order, each flattened row by "
                 "row.",
                 [arrays, f"H = np.empty(({P}, {P}))",
                  "for p, V in enumerate(_basis()):",
                  "    *HV, _, _ = _tangent(*arrays, *V)",
                  "    H[:, p] = np.concatenate([h.ravel() for h in HV])", "return H"]),
        function("gauss_newton(x, y, params)",
                 f"The ({P}, {P}) Gauss-Newton matrix J^T H_C J summed over the batch: column "
                 "p of J the forward tangent of the split along e_p, H_C the cost's Hessian at "
                 "the split; in hessian's order.",
                 [arrays, f"J = np.empty((len(arrays[0]), {n}, {P}))",
                  "for p, V in enumerate(_basis()):",
                  "    *_, a, J[:, :, p] = _tangent(*arrays, *V)",
                  "HC = _split_hessian(a, arrays[1].reshape(len(a), -1))",
                  'return np.einsum("bip,bij,bjq->pq", J, HC, J)']),
        _split_hessian(d), _direction(), _as_params(d), _basis(d)]


def _split_hessian(d) -> str:
    """H_C at the split per sample, printed entry by entry from its SymPy in a_L and y."""
    H = d.layered_split_hessian()
    names = {s: f"a[:, {k}]" for k, s in enumerate(d.a_symbols(d.L))}
    names.update({s: f"y[:, {k}]" for k, s in enumerate(d.y)})
    printer = _Printer(names)
    n = H.rows
    body = [f"HC = np.zeros((len(a), {n}, {n}))"]
    for i in range(n):
        for j in range(n):
            if H[i, j] != 0:
                value = H[i, j].xreplace({r: sp.Float(r) for r in H[i, j].atoms(sp.Rational)
                                          if not r.is_Integer})
                body.append(f"HC[:, {i}, {j}] = {forms.spaced(printer.doprint(value))}")
    return function("_split_hessian(a, y)",
                    "H_C, the cost's Hessian at the split (a_L, or z_L where the cost absorbs "
                    "sigma_L), per sample, in a_L and y.", [*body, "return HC"])


class _Printer(forms.NumPyPrinter):
    """NumPy for one entry of H_C: a_L and y by their columns."""

    def __init__(self, names: dict[sp.Symbol, str]):
        super().__init__()
        self.names = names

    def _print_Symbol(self, expr):
        return self.names.get(expr, expr.name)


def _direction() -> str:
    return function("_direction(v)",
                    "v, shaped like params and checked like them, as the arrays of theta.",
                    ["try:",
                     "    return _arguments(np.zeros(LAYOUT[0]), None, v)[2:]",
                     "except ValueError as error:",
                     '    raise ValueError(f"v: {error}") from None'])


def _shapes(d) -> list[tuple[int, str, tuple[int, ...]]]:
    """(layer, name, shape) of every parameter, in the order of θ."""
    return [(r.index, name, tuple(r.parameters[name]))
            for r, layer in zip(d.net.resolved, kinds_codegen.parameters(d.net))
            for name, _ in layer]


def _as_params(d) -> str:
    layers: dict[int, list[str]] = {}
    for k, (l, name, _) in enumerate(_shapes(d)):
        layers.setdefault(l, []).append(f'"{name}": arrays[{k}]')
    entries = ", ".join("{" + ", ".join(v) + "}" for v in layers.values())
    return function("_as_params(arrays)", "The arrays of theta, in its order, as params.",
                    [f"return [{entries}]"])


def _basis(d) -> str:
    pieces, at = [], 0
    for _, _, shape in _shapes(d):
        size = 1
        for k in shape:
            size *= k
        pieces.append(f"e[{at}:{at + size}].reshape({shape})")
        at += size
    return function("_basis()", "The unit vectors e_1, ..., e_P, each as the arrays of theta.",
                    [f"for p in range({at}):", f"    e = np.zeros({at})", "    e[p] = 1.0",
                     f"    yield ({', '.join(pieces)},)"])


def _told(first: str, d, flavor: str, proved: str) -> str:
    """The first-order module with its docstring telling of the functions added."""
    P = len(d.parameters())
    where = "one numba kernel" if flavor == "numba" else "NumPy"
    text = textwrap.fill(
        "Second order (symbp.derive(net, order=2)): hvp(x, y, params, v) is H v, v and the "
        f"result shaped like params; hessian(x, y, params) the ({P}, {P}) Hessian of the cost "
        "summed over the batch (rows and columns theta_1, ..., theta_L, each layer's parameters "
        "in LAYOUT's order, flattened row by row), column p H e_p; gauss_newton(x, y, params) "
        "the Gauss-Newton matrix J^T H_C J in the same order. They run _tangent "
        f"({where}): the statements of grad (the forward pass and the delta program "
        f"{d.program.fingerprint}), each after its tangent along the direction (Pearlmutter's "
        "R-operator, forward over reverse), in array form. symbp's second-order proof is of "
        "that R-operator of that program; the rules that print each statement's tangent here "
        "(symbp.numeric.tangent_rules) are not proved one by one: "
        + ("for most kinds the proof runs this _tangent exactly, on symbols, each tangent "
           "statement against the derivative of its statement and the gradient against the "
           "delta program's, hence its H v (claims 'Hv code'; not for max pooling); its "
           "claims say whether it did here." if flavor == "numpy" else
           "for most kinds the proof runs this kernel's Python body exactly, on symbols (_exp, "
           "_tanh and _softplus as exp, tanh and log(1 + e^u)), each tangent statement against "
           "the derivative of its statement and the gradient against the delta program's, "
           "hence its H v (claims 'Hv numba'; not for max pooling); its claims "
           "say whether it did here."), 88) + "\n"
    return told(first, text, proved)
