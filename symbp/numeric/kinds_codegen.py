"""The NumPy module of a network whose layers are of any kind (not only dense).

Its API: the parameters are a list with one dict per layer, name -> array, as the layer's
kind names them (``[{"W": W1, "b": b1}, {"W": W2, "b": b2, "P": P2}, ...]``, the shapes in
``LAYOUT``), and the module has ``forward(x, params)``, ``cost(x, y, params)`` and
``grad(x, y, params, out=None)``, which returns the same structure. A network of dense
layers only keeps the module of ``codegen`` (``weights``, ``biases``), unchanged.

The forward pass is printed from each kind's maps: the pre map (z = W x + b, a convolution),
σ, the post map, plus the skip. The backward pass is the derivation's program replayed on
``CodeOps``, exactly as for dense networks: the array algebra prints as it always has
(``delta3 @ W3``), and a kind's own vector-Jacobian products (``ops.vjp``) are printed from
their index formulas by ``maps``; a map that reads its own level one step on (a recurrent
layer's states and δ) step by step (``scans_numpy``). ``kinds_numba`` prints the same
statements as a kernel.
"""

from __future__ import annotations

from . import forms, maps, maps_numpy, scans_numpy
from .arguments import LAYER_RUNTIME, fast_layer_check_source, runtime_source
from .parts import function, numeric_forms, numpy_helpers, recursion_origin
from .statements import array_name
from .trace import CodeOps, trace


def module_source(d, proved: str = "", more=None) -> str:
    """A standalone module (imports only NumPy) with ``forward``, ``cost`` and ``grad``;
    ``proved`` as for ``codegen.module_source``; ``more(ops, constants)`` gives functions to
    add after ``grad`` (second order). Deterministic."""
    ops = trace(d)
    net = d.net
    constants: dict[str, str] = dict(ops.constants)  # those of the kinds' VJPs, then forward's
    body = [f"{arguments_line(net)} = _arguments(x, y, params)",
            *program_lines(d, ops, constants)]
    results = ", ".join(gradient_names(ops, net)) + ("," if len(gradient_names(ops, net)) == 1
                                                    else "")
    body += ["if out is not None:  # written into the arrays given, once every one is checked",
             f"    for given, value in zip(_out_layer_arrays(out, LAYOUT, False), ({results})):",
             "        given[...] = value", "    return out", gradient_return(ops, net)]
    grad = function("grad(x, y, params, out=None)",
                    "∂C/∂θ of every layer's parameters, as params holds them (a list with one "
                    "dict per layer, name -> array), the cost summed over the batch. With "
                    "``out`` (such a list of float64 arrays), written into its arrays.", body)
    added = more(ops, constants) if more else []
    return module_text(d, ops, "import numpy as np\n", [grad, *added], constants, proved=proved)


def program_lines(d, ops: CodeOps, constants: dict[str, str], keep_z=()) -> list[str]:
    """What ``grad`` runs between its arguments and its results: the forward pass, then the
    program's statements; z_l bound to a name for the layers of ``keep_z`` too."""
    net = d.net
    lines = ["# forward pass, keeping a_l (and z_l or σ(z_l) = s_l where the backward pass "
             "reads them)",
             *forward_lines(net, constants, set(ops.uses_z) | set(keep_z), ops.uses_s),
             "ones = np.ones(len(x))", "# backpropagation"]
    for s in ops.statements:
        lines += [f"# {s.math}", *s.before, f"{s.target} = {s.code}"]
    return lines


def parameters(net) -> list[list[tuple[str, str]]]:
    """Every layer's parameters in its kind's order: (name, the code's name)."""
    return [[(p.name, array_name(p.name, r.index)) for p in r.maps.params]
            for r in net.resolved]


def arguments_line(net, y: str = "y") -> str:
    codes = [code for layer in parameters(net) for _, code in layer]
    return ", ".join(["x", y, *codes])


def gradient_names(ops: CodeOps, net) -> list[str]:
    return [ops.param_grads[(r.index, p.name)] for r in net.resolved for p in r.maps.params]


def gradient_return(ops: CodeOps, net) -> str:
    layers = []
    for r in net.resolved:
        entries = ", ".join(f'"{p.name}": {ops.param_grads[(r.index, p.name)]}'
                            for p in r.maps.params)
        layers.append("{" + entries + "}")
    return f"return [{', '.join(layers)}]"


def layout(net) -> tuple:
    """The input's shape, the output's, and every layer's {name: shape}: what the arguments
    are checked against."""
    return (tuple(net.input_shape), tuple(net.resolved[-1].shape_out),
            tuple({p.name: r.parameters[p.name] for p in r.maps.params} for r in net.resolved))


def forward_lines(net, constants: dict[str, str], keep_z=(), keep_s=()) -> list[str]:
    """a_l for every layer from its kind's maps: z = pre(a_(l-1)), s = σ(z), a = post(s) +
    skip(a_(l-1)); z_l and s_l are kept as arrays where ``keep_z`` and ``keep_s`` say."""
    lines = []
    for r in net.resolved:
        l, kind_maps = r.index, r.maps
        names = {kind_maps.x.name: "x" if l == 1 else f"a{l - 1}",
                 **{p.name: array_name(p.name, l) for p in kind_maps.params}}
        value = forms.activation(net.activation(l)).value.numpy
        if kind_maps.pre.own is not None:  # z reads σ(z) one step back: step by step
            lines += scans_numpy.forward_lines(r, names, value, constants, l in keep_z)
            names[kind_maps.pre.own.name] = f"s{l}"
            a = f"s{l}" if kind_maps.post is None else _printed(r, "POST", {**names}, constants,
                                                                lines)
            lines.append(f"a{l} = {a}")
            continue
        z = _printed(r, "PRE", names, constants, lines)
        if l in keep_z:
            lines.append(f"z{l} = {z}")
            z = f"z{l}"
        elif value != "{z}":
            z = maps_numpy.primary(z)
        s = value.format(z=z)
        if kind_maps.post is None and kind_maps.skip is None:
            lines.append(f"a{l} = {s}")
            continue
        if l in keep_s or kind_maps.post is not None:
            lines.append(f"s{l} = {s}")
            s = f"s{l}"
        a = s
        if kind_maps.post is not None:
            names[kind_maps.post.inputs[0].name] = s
            a = _printed(r, "POST", names, constants, lines)
        if kind_maps.skip is not None:
            a = f"{a} + {_printed(r, 'SKIP', names, constants, lines)}"
        lines.append(f"a{l} = {a}")
    return lines


def _printed(r, which: str, names: dict[str, str], constants: dict[str, str],
             lines: list[str]) -> str:
    """Layer r's forward map ``which`` (PRE, POST, SKIP) as NumPy over ``names``; the lines
    it needs first (a staged map's stages) go to ``lines``."""
    m = getattr(r.maps, which.lower())
    code = maps_numpy.numpy_code(maps.terms(m, r.sizes), names, f"_L{r.index}_{which}")
    constants.update(code.constants)
    lines += code.lines
    return code.code


def numpy_functions(d, constants: dict[str, str]) -> list[str]:
    """``forward`` and ``cost`` in NumPy, with the argument checks ``grad`` has."""
    net, L = d.net, d.L
    shape_out = tuple(net.resolved[-1].shape_out)
    result = f"a{L}" if len(shape_out) == 1 else f"a{L}.reshape(-1, *LAYOUT[1])"
    return [
        function("forward(x, params)",
                 "The output a_L, one sample per row; x is one sample or a batch of them.",
                 ["given = x",
                  f"{arguments_line(net, y='_')} = _arguments(x, None, params)",
                  "single = np.ndim(given) == len(LAYOUT[0])  # after the check, which names a "
                  "ragged x",
                  *forward_lines(net, constants), f"a = {result}",
                  "return a[0] if single else a"]),
        function("cost(x, y, params)", "The cost C, summed over the batch.",
                 [f"{arguments_line(net)} = _arguments(x, y, params)",
                  *forward_lines(net, constants),
                  f"return {forms.cost(net.cost_entry).value.format(a=f'a{L}', y='y')}"]),
    ]


def module_text(d, ops: CodeOps, imports: str, functions: list[str], constants: dict[str, str],
                helpers: tuple[str, ...] = (), kernel: str = "", proved: str = "") -> str:
    """Docstring, imports, the network's constants, forward and cost, ``functions``, checks."""
    net = d.net
    numpy_parts = numpy_functions(d, constants)  # first: their maps' constants come in too
    helpers_numpy = "".join(dict.fromkeys(
        h for l in range(1, d.L + 1) for h in numpy_helpers(net.activation(l)) if h))
    shapes = layout(net)
    header = (f"LAYOUT = {shapes!r}  # the input's shape, the output's, each layer's "
              "parameters\n"
              f"KINDS = {tuple(r.kind.name for r in net.resolved)!r}\n"
              f"ACTIVATIONS = {net.activations!r}\nCOST = {net.cost!r}\n"
              f"PROGRAM = {d.program.fingerprint!r}  # the fingerprint of the program below\n")
    grids = ""
    if constants:
        grids = (maps_numpy.GATHER + "\n\n# the positions and masks the maps read, computed "
                 "once\n" + "".join(f"{name} = {code}\n"
                                   for name, code in sorted(constants.items())))
    check = fast_layer_check_source(parameters(net), shapes[0], shapes[1], list(shapes[2]))
    parts = [f'"""{docstring(d, ops, kernel, proved)}"""\n\n{imports}', header, grids,
             *numpy_parts, *functions, check, runtime_source(LAYER_RUNTIME),
             *(h for h in (helpers_numpy, *helpers) if h)]
    return "\n\n".join(part.rstrip("\n") + "\n" for part in parts if part)


def docstring(d, ops: CodeOps, kernel: str = "", proved: str = "") -> str:
    """The module's docstring: the layers and their maps, the program, the numeric forms."""
    net = d.net
    shape_in, shape_out, shapes = layout(net)
    layers, forward, params = [], [], []
    for r in net.resolved:
        options = ", ".join(f"{k}={v!r}" for k, v in r.layer.options)
        layers.append(f"    {r.index}. {r.kind.name} ({options}): {r.shape_in} -> {r.shape_out}")
        pre = maps.index_text(r.maps.pre)
        activation = f"{net.activations[r.index - 1]}"
        step = f"a = {activation}(z)" if r.maps.post is None else \
            f"a = post({activation}(z)), post: {maps.index_text(r.maps.post)}"
        if r.maps.skip is not None:
            step += f" + skip(a_(l-1)), skip: {maps.index_text(r.maps.skip)}"
        forward.append(f"    layer {r.index}: {pre};\n        {step}")
        listed = ", ".join(f"{name} {shape}" for name, shape in shapes[r.index - 1].items())
        params.append(f"    params[{r.index - 1}]: {listed}")
    used = [f"    {which}_{l}: {maps.index_text(m)}" for (l, which), m in ops.maps_used.items()]
    steps = "\n".join(f"    {s.math}" for s in ops.statements)
    listed_forms = "\n".join(f"    {f}" for f in numeric_forms(d, ops))
    imports = "NumPy and numba" if kernel else "only NumPy"
    program = (f"Program {d.program.fingerprint}: the recursion recorded once by symbp; these "
               "statements are that program.")
    if proved:
        program += "\n" + proved
    maps_used = ("\n\nThe maps of the kinds used above (their index formulas, printed as "
                 "code by symbp.numeric.maps):\n" + "\n".join(used)) if used else ""
    return f"""Gradients of {net!r}, generated by symbp.

Network: input {shape_in}; layers
{chr(10).join(layers)}
cost {net.cost}: {net.cost_entry.summary}, summed over the batch.

Arrays hold one sample per row: x is (batch, {", ".join(map(str, shape_in))}) and y is \
(batch, {", ".join(map(str, shape_out))}); a single sample works
too. The parameters are a list with one dict per layer, name -> array, as the layer's kind
names them:
{chr(10).join(params)}
grad returns its gradients in the same structure. Lists are converted; any other shape is
a ValueError naming the argument.
The equations are written for one sample as column vectors, as in the derivation; the code
applies them to every row at once: W_lᵀ δ_l is delta_l @ W_l, summed over the batch
δ_l a_(l-1)ᵀ is np.dot(delta_l.T, a_(l-1)) and δ_l is np.dot(ones, delta_l), and a map of a
kind is its index formula over a leading batch axis (a matrix product where it is one,
else np.einsum).{kernel}

Forward pass, each layer's maps in index notation (x there is the layer's input a_(l-1);
s_l = σ(z_l) in the code, a_0 = x):
{chr(10).join(forward)}

Backpropagation, {recursion_origin(d)}:
{steps}{maps_used}

{program}

Numeric forms (NumPy, printed by symbp.numeric.forms from the formulas of symbp.core.registry):
{listed_forms}

Imports {imports}. Generated code: regenerate it with symbp rather than editing it.
"""
