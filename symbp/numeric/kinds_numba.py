"""The numba module of a network of layer kinds: ``kinds_codegen``'s module, ``grad`` compiled.

The kernel is the forward pass printed from each kind's maps as loops (``maps_numba``: a
matrix product by ``numba_loops.product``, anything else by loops over its indices),
then the program's statements through ``numba_kernel.Kernel``, exactly as the dense
kernel prints them; a map that reads its own level one step on (a recurrent layer's states
and δ) is printed step by step (``scans_numba``). ``forward`` and ``cost`` are the NumPy
module's. The fused training
step (``make_step``) is generated for dense networks only.
"""

from __future__ import annotations

from . import forms, maps, scans_numba
from .kinds_codegen import gradient_names, gradient_return, module_text, parameters
from .maps_numba import numba_lines
from .numba_kernel import IMPORTS, PRELUDE, Kernel
from .numba_loops import Arrays, flat_loop
from .parts import function
from .statements import array_name
from .trace import CodeOps, trace

NOTE = ("\n\nThe gradient is one numba kernel (compiled on first import, cached beside this "
        "file):\nthe same statements as loops over the batch, large matrix products by BLAS, "
        "a kind's maps\nas loops printed from their index formulas. The fused training step "
        "(make_step) is\ngenerated for dense networks only.")


def module_source(d, proved: str = "", more=None) -> str:
    """A standalone module (NumPy and numba) with ``forward``, ``cost`` and a compiled
    ``grad(x, y, params, out=None)``; ``proved`` as for ``codegen.module_source``;
    ``more(ops)`` gives (functions, kernels) to add (second order)."""
    ops = trace(d)
    net = d.net
    layers = parameters(net)
    codes = [code for layer in layers for _, code in layer]
    results = ", ".join(gradient_names(ops, net))
    fetch = [f"{', '.join(code for _, code in names)} = "
             f"{', '.join(f'p{l}[{name!r}]' for name, _ in names)}"
             for l, names in enumerate(layers, start=1)]
    counts = " or ".join(f"len(p{l}) != {len(names)}" for l, names in enumerate(layers, 1))
    unpack = ", ".join(f"p{l}" for l in range(1, d.L + 1)) + ("," if d.L == 1 else "")
    many = "," if len(gradient_names(ops, net)) == 1 else ""
    grad = function(
        "grad(x, y, params, out=None)",
        "∂C/∂θ of every layer's parameters, as params holds them (a list with one dict per "
        "layer, name -> array), the cost summed over the batch; compiled by numba. With "
        "``out`` (such a list of float64 arrays), written into its arrays.",
        ["try:  # the fast path: float64 C-contiguous arrays of the right shapes",
         f"    {unpack} = params", *(f"    {line}" for line in fetch),
         f"    if {counts}:", "        raise KeyError('a parameter more than the layer has')",
         *_sample_axes(net),
         f"    {results}{many} = _kernel({_rows('x', net.input_shape)}, "
         f"{_rows('y', net.resolved[-1].shape_out)}, {', '.join(codes)})",
         "except (TypeError, ValueError, KeyError, IndexError, AttributeError):  # anything "
         "else: check, convert",
         "    arrays = [np.require(a, np.float64, ('C', 'W')) for a in _arguments(x, y, params)]",
         f"    {results}{many} = _kernel(*arrays)",
         "if out is not None:  # written into the arrays given, once every one is checked",
         f"    for given, value in zip(_out_layer_arrays(out, LAYOUT, False), ({results}{many})):",
         "        given[...] = value", "    return out", gradient_return(ops, net)])
    functions, kernels = more(ops) if more else ([], [])
    numba_parts = (PRELUDE, *numba_helpers(d, ops), kernel_source(d, ops), *kernels)
    return module_text(d, ops, IMPORTS, [grad, *functions], {}, numba_parts, kernel=NOTE,
                       proved=proved)


def numba_helpers(d, ops: CodeOps) -> list[str]:
    """The row helpers the kernel calls (a layer-wide σ, its vector-Jacobian product, the
    fused output δ), each once."""
    net, helpers = d.net, []
    for l in range(1, d.L + 1):
        code = forms.activation(net.activation(l))  # ValueError for one with no formula
        helpers += [code.value.numba_helper, code.vjp.numba_helper if code.vjp else ""]
    output = net.cost_entry.output_delta(net.activations[-1])
    if ops.fused and output is not None:
        helpers.append(forms.output_delta(output).numba_helper)
    return list(dict.fromkeys(h for h in helpers if h))


def _sample_axes(net) -> list[str]:
    """The fast path's check of a sample of several axes (the kernel sees only their
    product): anything else goes to the careful path, which names it."""
    shapes = {"x": tuple(net.input_shape), "y": tuple(net.resolved[-1].shape_out)}
    tests = [f"{name}.shape[1:] != {shape!r}" for name, shape in shapes.items()
             if len(shape) > 1]
    if not tests:
        return []
    return [f"    if {' or '.join(tests)}:", "        raise ValueError('not a batch of samples')"]


def _rows(name: str, shape: tuple[int, ...]) -> str:
    """The argument as the kernel takes it, one flat row per sample: a batch of samples of
    several axes (channels × positions) reshaped, without a copy where it is contiguous."""
    return name if len(shape) == 1 else f"{name}.reshape({name}.shape[0], -1)"


def kernel_source(d, ops: CodeOps) -> str:
    """``_kernel(x, y, θ...)``: every layer's gradients, in the order of its parameters."""
    codes = [code for layer in parameters(d.net) for _, code in layer]
    body = [*kernel_lines(d, ops), f"return {', '.join(gradient_names(ops, d.net))}"]
    return (jit_line(kernel_types(d.net)) +
            function(f"_kernel(x, y, {', '.join(codes)})",
                     "Every layer's gradients for float64 C-contiguous arrays.", body))


def kernel_lines(d, ops: CodeOps, keep_z=()) -> list[str]:
    """The kernel's body before its results: the shapes checked, the forward pass as loops,
    then the program's statements; z_l kept for the layers of ``keep_z`` too."""
    net = d.net
    kernel = Kernel(ops)
    for s in ops.statements:
        kernel.lines.append(f"# {s.math}")
        kernel.statement(s)
    return ["batch = x.shape[0]", *_shape_check(net), "# forward pass",
            *forward_lines(net, set(ops.uses_z) | set(keep_z), ops.uses_s, kernel.arrays),
            "# backpropagation", *kernel.lines]


def kernel_types(net) -> list[str]:
    """The numba types of x, y and every parameter, as the kernel takes them."""
    return ["_MATRIX", "_MATRIX"] + [_array_type(len(r.parameters[name]))
                                     for r, layer in zip(net.resolved, parameters(net))
                                     for name, _ in layer]


def jit_line(types: list[str]) -> str:
    return (f"@numba.njit(({', '.join(types)}),\n"
            '            cache=_CACHE, error_model="numpy", fastmath={"contract"})\n')


def _array_type(axes: int) -> str:
    if axes == 1:
        return "_VECTOR"
    if axes == 2:
        return "_MATRIX"
    return f"numba.float64[{', '.join([':'] * (axes - 1) + ['::1'])}]"


def _shape_check(net) -> list[str]:
    checks = [f"x.shape[1] == {net.widths[0]}",
              f"y.shape[0] == batch and y.shape[1] == {net.widths[-1]}"]
    for r in net.resolved:
        for name, shape in r.parameters.items():
            code = array_name(name, r.index)
            checks.append(" and ".join(f"{code}.shape[{k}] == {n}" for k, n in enumerate(shape)))
    condition = "\n        and ".join(checks)
    return [f"if not ({condition}):",
            '    raise ValueError("the arrays do not have the shapes of the network")']


def forward_lines(net, keep_z, keep_s, arrays: Arrays) -> list[str]:
    """The forward pass as loops, from each kind's maps: z = pre(a_(l-1)), σ, then post and
    skip; z_l and s_l = σ(z_l) kept where the backward pass reads them."""
    lines: list[str] = []
    for r in net.resolved:
        l, kind_maps, act = r.index, r.maps, net.activation(r.index)
        names = {kind_maps.x.name: "x" if l == 1 else f"a{l - 1}",
                 **{p.name: array_name(p.name, l) for p in kind_maps.params}}
        extra = kind_maps.post is not None or kind_maps.skip is not None
        value = forms.activation(act).value.numba
        width_z = kind_maps.z.size(r.sizes)
        if kind_maps.pre.own is not None:  # z reads σ(z) one step back: step by step
            lines += scans_numba.forward_lines(r, names, value, arrays, l in keep_z)
            names[kind_maps.pre.own.name] = f"s{l}"
            if kind_maps.post is None:  # a_l is s_l, step-major too
                lines += [f"a{l} = s{l}", f"a{l}_c = s{l}_c"]
                continue
            lines += arrays.new(f"a{l}", ("batch", r.width))
            lines += numba_lines(maps.terms(kind_maps.post, r.sizes), names, f"a{l}")
            continue
        z = f"a{l}" if not extra and act.elementwise and l not in keep_z else f"z{l}"
        lines += arrays.new(z, ("batch", width_z))
        lines += numba_lines(maps.terms(kind_maps.pre, r.sizes), names, z)
        if not extra:
            if act.elementwise:
                if z != f"a{l}":  # z_l kept for the backward pass: a_l an array of its own
                    lines += arrays.new(f"a{l}", ("batch", width_z))
                lines += flat_loop(width_z, f"a{l}[i, j] = {value.format(z=f'{z}[i, j]')}")
            else:
                lines += [*arrays.new(f"a{l}", ("batch", width_z)),
                          value.format(z=z, out=f"a{l}")]
            continue
        s = ""  # σ(z) as an array: kept for σ', read by a post map, or a layer-wide σ
        if l in keep_s or kind_maps.post is not None or not act.elementwise:
            s = f"s{l}"
            lines += arrays.new(s, ("batch", width_z))
            lines += (flat_loop(width_z, f"{s}[i, j] = {value.format(z=f'{z}[i, j]')}")
                      if act.elementwise else [value.format(z=z, out=s)])
        lines += arrays.new(f"a{l}", ("batch", r.width))
        if kind_maps.post is None:  # a = skip(a_(l-1)), then a += σ(z)
            assert kind_maps.skip is not None
            lines += numba_lines(maps.terms(kind_maps.skip, r.sizes), names, f"a{l}")
            added = f"{s}[i, j]" if s else value.format(z=f"{z}[i, j]")
            lines += flat_loop(r.width, f"a{l}[i, j] += {added}")
            continue
        names[kind_maps.post.inputs[0].name] = s
        lines += numba_lines(maps.terms(kind_maps.post, r.sizes), names, f"a{l}")
        if kind_maps.skip is not None:
            lines += arrays.new(f"k{l}", ("batch", r.width))
            lines += numba_lines(maps.terms(kind_maps.skip, r.sizes), names, f"k{l}")
            lines += flat_loop(r.width, f"a{l}[i, j] += k{l}[i, j]")
    return lines
