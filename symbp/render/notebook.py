"""The derivation as a Jupyter notebook (derivation.ipynb), built with nbformat.

A notebook a student runs from the top: it builds the network through the public API,
shows each step of the derivation as math (the Document's own LaTeX, in Markdown cells,
which Jupyter reads math-first), proves it, runs the worked example with numbers and
checks one weight by a central difference, and trains the network by gradient descent
with the generated gradients. The notebook is written, not run: its outputs are empty
until a reader runs it. Cell ids are numbered, so the file is the same on every build.
"""

from __future__ import annotations

import json

import numpy as np
import sympy as sp

from ..core.network import Network
from ..document.build import Document
from ..document.example import Example
from ..document.kinds import KindsDocument
from ..document.kinds_numbers import LayerExample
from ..numeric.printable import one_line

TRAINING_STEPS = 300
BATCH = 64


def notebook(doc: Document | KindsDocument, net: Network,
             example: Example | LayerExample | dict | None = None, *, numeric: str) -> str:
    """The notebook for ``doc`` (built from ``net``), as the JSON of an .ipynb file.
    ``numeric``: why the network's program does not print as numeric code, "" when it does
    (``numeric.printable.code_problem``)."""
    if isinstance(doc, KindsDocument):
        return _written(_kinds_cells(doc, net, example, numeric))  # type: ignore[arg-type]
    if isinstance(example, LayerExample):
        raise ValueError("a worked example with params is for a network of layer kinds; "
                         "a network of dense layers takes weights and biases")
    cells: list[tuple[str, str]] = [
        ("md", f"# {doc.title}\n\n"
               "Backpropagation derived, proved and run with symbp. Run the cells from the top: "
               "the notebook builds the network, shows every step of the derivation as math, "
               f"proves it{_then(numeric)}"),
        ("code", "import numpy as np\nimport sympy\n\nimport symbp\n\nsympy.init_printing()\n"
                 f"net = symbp.{net!r}\nd = symbp.derive(net)\nnet"),
        ("md", _network(doc)),
    ]
    for step in doc.steps:
        cells += [("md", _step(step)),
                  ("code", f"d.recursion.deltas[{step.l}]  # δ_{step.l}, one step of the "
                           "recursion, in the errors of the layer above")]
    cells += [
        ("md", "## The proof\n\nsymbp computes every gradient three ways (the chain rule along "
               "the paths, backpropagation, and SymPy's own derivative) and proves exactly what "
               f"it claims of them. In the document: **{doc.proof.status}**. "
               f"{doc.proof.result} Run it here:"),
        ("code", "proof = symbp.prove(d)\nprint(proof.summary())"),
        ("md", _general(doc)),
        ("code", f"general = symbp.theorem({doc.general.activation.split(', ')[0]!r}, "
                 f"{doc.general.cost!r}, output={doc.general.output!r})\n"
                 "print(general.summary())"),
    ]
    if numeric:
        cells.append(("md", f"## Numbers\n\nThis network cannot be run with numbers: "
                            f"{numeric}."))
    else:
        cells += _numbers(net, example) + _training(net)
    return _written(cells)


def _then(numeric: str) -> str:
    """The end of the opening sentence: what the notebook does after the proof."""
    if numeric:
        return (", and stops there: this network cannot be run with numbers or trained (the "
                "last cell says why).")
    return ", runs a worked example with numbers and trains the network."


def _written(cells: list[tuple[str, str]]) -> str:
    """The notebook of ``cells`` ("md" or "code", source), numbered ids, no outputs."""
    import nbformat  # here, not at the top: it loads jsonschema, a tenth of symbp's start
    from nbformat import v4

    nb = v4.new_notebook(metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"}})
    for n, (kind, source) in enumerate(cells, start=1):
        make = v4.new_markdown_cell if kind == "md" else v4.new_code_cell
        nb.cells.append(make(source, id=f"cell-{n:02d}"))
    return nbformat.writes(nb) + "\n"


def _kinds_cells(doc: KindsDocument, net: Network, example: LayerExample | dict | None,
                 numeric: str) -> list[tuple[str, str]]:
    """A network of layer kinds: each layer's maps, its backward step, the proof, the worked
    example with numbers and a training loop."""
    cells: list[tuple[str, str]] = [
        ("md", f"# {doc.title}\n\nBackpropagation through {doc.kinds} layers, derived and "
               "proved with symbp. Run the cells from the top: the notebook builds the network, "
               f"shows each layer's forward map and its step backwards as math, proves them"
               f"{_then(numeric)}"),
        ("code", "import numpy as np\nimport sympy\n\nimport symbp\nfrom symbp import Layer\n\n"
                 f"sympy.init_printing()\nnet = symbp.{net!r}\nd = symbp.derive(net)\nnet"),
    ]
    for layer in doc.layers:
        cells.append(("md", "\n\n".join([
            f"## Layer {layer.l}: {layer.described}", _display(layer.forward),
            "Entry by entry:", _display(layer.forward_entries)])))
    for layer in reversed(doc.layers):
        explains = "".join(f"${part}$" if math else part for math, part in layer.explains)
        cells.append(("md", "\n\n".join([
            f"## Backwards through layer {layer.l} ({layer.kind})", explains,
            _display(layer.backward), "Entry by entry:", _display(layer.backward_entries)])))
    cells += [
        ("md", "## The whole backward pass\n\n" + _display(doc.recursion)),
        ("md", "## The proof\n\nsymbp computes every gradient three ways and proves exactly "
               f"what it claims of them. In the document: **{doc.proof.status}**. "
               f"{doc.proof.result} Run it here:"),
        ("code", "proof = symbp.prove(d)\nprint(proof.summary())"),
    ]
    if numeric:
        cells.append(("md", f"## Numbers\n\nThis network cannot be run with numbers yet: "
                            f"{one_line(numeric, 200).rstrip('.')}."))
    else:
        cells += _kinds_numbers(net, example) + _kinds_training(net)
    return cells



def _kinds_numbers(net: Network, example: LayerExample | dict | None) -> list[tuple[str, str]]:
    """The worked example of a network of kinds: its numbers, or small ones of a fixed seed;
    the gradient of each layer's parameters by name, one entry checked by a central difference,
    one step of gradient descent."""
    shape_out = net.resolved[-1].shape_out
    if example is not None:
        ex = LayerExample.from_dict(example)
        x = _numbers_of(ex.x).reshape(net.input_shape)
        y = _numbers_of(ex.y).reshape(shape_out)
        params = [{name: np.broadcast_to(_numbers_of(layer[name]), shape)
                   for name, shape in r.parameters.items()}
                  for r, layer in zip(net.resolved, ex.params)]
        setup = (f"x = np.array({_floats(x)})\ny = np.array({_floats(y)})\n"
                 "params = [{name: np.array(value) for name, value in layer.items()}\n"
                 f"          for layer in {json.dumps(_float_params(params))}]\n"
                 f"eta = {float(sp.sympify(str(ex.learning_rate)))!r}")
        intro = "The worked example of the document, with its numbers."
    else:
        setup = ("rng = np.random.default_rng(0)\n"
                 f"x = rng.uniform(-1, 1, size={tuple(net.input_shape)!r})\n"
                 "R = rng.normal(size=(net.widths[0], net.widths[-1]))\n"
                 f"y = ({_target(net, 'x.reshape(-1)')}).reshape({tuple(shape_out)!r})\n"
                 "params = [{name: rng.normal(0, 0.5, size=shape)\n"
                 "           for name, shape in layer.parameters.items()}\n"
                 "          for layer in net.resolved]\neta = 0.1")
        intro = "One training example with small random numbers (a fixed seed)."
    first = next(iter(net.resolved[0].parameters))
    return [
        ("md", "## A worked example\n\n" + intro + " The generated gradient code "
               "(`symbp.lambdify`) runs the proved recursion and gives each layer's gradients by "
               "the names its kind gives its parameters; a central difference of the cost, which "
               "does not use the chain rule, checks its largest entry (a zero one, as a ReLU "
               "unit that is off gives, would check nothing); then one step of gradient descent "
               "moves every parameter."),
        ("code", setup + "\n\nf = symbp.lambdify(d)\ng = f(x, y, params)\n"
                 f"g[0][{first!r}]"),
        ("code", f"h, name = 1e-6, {first!r}\n"
                 "entry = np.unravel_index(np.argmax(np.abs(g[0][name])), g[0][name].shape)\n"
                 "up = [dict(layer) for layer in params]; up[0][name] = up[0][name].copy()\n"
                 "up[0][name][entry] += h\n"
                 "down = [dict(layer) for layer in params]; down[0][name] = down[0][name].copy()\n"
                 "down[0][name][entry] -= h\n"
                 "quotient = (f.cost(x, y, up) - f.cost(x, y, down)) / (2 * h)\n"
                 "print(f\"{name}_1{[int(i) + 1 for i in entry]}: central difference "
                 "{quotient:.9f}, backpropagation {g[0][name][entry]:.9f}\")\n"
                 "assert abs(quotient - g[0][name][entry]) < 1e-6 * max(1, abs(quotient))"),
        ("code", "new_params = [{name: value - eta * grads[name]\n"
                 "               for name, value in layer.items()}\n"
                 "              for layer, grads in zip(params, g)]\n"
                 "print(\"cost before\", f.cost(x, y, params))\n"
                 "print(\"cost after \", f.cost(x, y, new_params))"),
    ]


def _kinds_training(net: Network) -> list[tuple[str, str]]:
    """Gradient descent on a batch of the network's own input shape, with the generated
    gradients."""
    shape_out = tuple(net.resolved[-1].shape_out)
    code = ("rng = np.random.default_rng(1)\n"
            f"X = rng.uniform(-1, 1, size=({BATCH}, *{tuple(net.input_shape)!r}))\n"
            "R = rng.normal(size=(net.widths[0], net.widths[-1]))\n"
            f"Y = ({_target(net, 'X.reshape(len(X), -1)')}).reshape({BATCH}, *{shape_out!r})"
            "  # the rule the network learns\n"
            "params = [{name: rng.normal(0, 1 / np.sqrt(layer.width_in), size=shape)\n"
            "           for name, shape in layer.parameters.items()}\n"
            "          for layer in net.resolved]\n"
            f"eta = 2.0 / {BATCH}\ncosts = []\n"
            f"for step in range({TRAINING_STEPS}):\n"
            "    g = f(X, Y, params)  # the cost summed over the batch\n"
            "    params = [{name: value - eta * grads[name] for name, value in layer.items()}\n"
            "              for layer, grads in zip(params, g)]\n"
            "    costs.append(f.cost(X, Y, params))\n"
            "print(f\"cost {costs[0]:.4f} after one step, {costs[-1]:.4f} after "
            f"{TRAINING_STEPS}\")\nassert costs[-1] < costs[0]")
    return [("md", "## Training\n\nGradient descent, $\\theta \\leftarrow \\theta - \\eta\\, "
                   "\\partial C/\\partial \\theta$ for every parameter $\\theta$ of every layer, "
                   "on a batch of random inputs whose targets follow a fixed rule, with the "
                   "gradients the derivation proved."),
            ("code", code)]


def _numbers_of(value: object) -> np.ndarray:
    """Nested numbers as given in an example (floats, decimals, "1/3") as a float array."""
    if isinstance(value, list | tuple):
        return np.array([_numbers_of(v) for v in value])
    return np.array(float(sp.sympify(str(value))))


def _float_params(params: list[dict[str, np.ndarray]]) -> list[dict[str, object]]:
    """Each layer's parameters by name, every number a float (JSON)."""
    return [{name: json.loads(_floats(value)) for name, value in layer.items()}
            for layer in params]


def _display(tex: str) -> str:
    return f"$$\n{tex}\n$$"


def _network(doc: Document) -> str:
    net = doc.network
    acts = "; ".join(f"{a.used_by.lower()} {a.name}" for a in net.activations)
    return "\n\n".join([
        "## The network",
        f"Widths $(n_0, \\dots, n_L) = ({net.widths})$, $L = {net.L}$ layers with weights, "
        f"{net.parameters} weights and biases. Activations: {acts}. Cost: {net.cost}.",
        _display(rf"z_l = W_l\, a_{{l-1}} + b_l, \qquad a_l = {doc.sigma}(z_l), "
                 r"\qquad a_0 = x"),
        _display(net.cost_general),
        "The chain rule along the path of influence:",
        _display(doc.chain_rules),
    ])


def _step(step) -> str:
    s = step.sym
    parts = [f"## {step.title}", _display(step.chain)]
    if not step.output:
        parts += ["The error of the layer above comes back through the transpose of "
                  f"${s['W_next']}$:"]
    parts += [_display(step.delta_rule), "Entry by entry:", _display(step.delta_index),
              f"and the gradients ${step.weight_rule}$, ${step.bias_rule}$."]
    return "\n\n".join(parts)


def _general(doc: Document) -> str:
    g = doc.general
    parts = ["## For every width and depth",
             "The same recursion is right for every depth $L$ and all widths "
             "$n_0, \\dots, n_L$, by induction over three lemmas:"]
    parts += [_display(c.statement) for c in [*g.base, *g.step, *g.parameters]]
    return "\n\n".join(parts)


def _numbers(net: Network, example: Example | dict | None) -> list[tuple[str, str]]:
    """The worked example: the given numbers, or small ones of a fixed seed."""
    if example is not None:
        ex = Example.from_dict(example).check(net.widths)
        setup = (f"x = np.array({_floats(list(ex.x))})\ny = np.array({_floats(list(ex.y))})\n"
                 f"weights = [np.array(W) for W in {_floats([W.tolist() for W in ex.weights])}]\n"
                 f"biases = [np.array(b) for b in {_floats([list(b) for b in ex.biases])}]\n"
                 f"eta = {float(ex.learning_rate)!r}")
        intro = "The worked example of the document, with its numbers."
    else:
        setup = ("rng = np.random.default_rng(0)\n"
                 "x = rng.uniform(-1, 1, size=net.widths[0])\n"
                 "R = rng.normal(size=(net.widths[0], net.widths[-1]))\n"
                 f"y = {_target(net, 'x')}\n"
                 "weights = [rng.normal(0, 0.5, size=(m, n)) "
                 "for n, m in zip(net.widths, net.widths[1:])]\n"
                 "biases = [np.zeros(m) for m in net.widths[1:]]\neta = 0.1")
        intro = "One training example with small random numbers (a fixed seed)."
    return [
        ("md", "## A worked example\n\n" + intro + " The generated gradient code "
               "(`symbp.lambdify`) runs the proved recursion; a central difference of the cost, "
               "which does not use the chain rule, checks the weight of $W_1$ with the largest "
               "gradient (a zero one, as a ReLU unit that is off gives, would check nothing); "
               "then one step of gradient descent moves every weight and every bias."),
        ("code", setup + "\n\nf = symbp.lambdify(d)\ng = f(x, y, weights, biases)\n"
                 "g[\"W\"][0], g[\"b\"][0]"),
        ("code", "h = 1e-6\nj, k = np.unravel_index(np.argmax(np.abs(g[\"W\"][0])), "
                 "g[\"W\"][0].shape)\n"
                 "up = [W.copy() for W in weights]; up[0][j, k] += h\n"
                 "down = [W.copy() for W in weights]; down[0][j, k] -= h\n"
                 "quotient = (f.cost(x, y, up, biases) - f.cost(x, y, down, biases)) / (2 * h)\n"
                 "print(f\"w^(1)_{j + 1},{k + 1}: central difference {quotient:.9f}, "
                 "backpropagation {g['W'][0][j, k]:.9f}\")\n"
                 "assert abs(quotient - g[\"W\"][0][j, k]) < 1e-6 * max(1, abs(quotient))"),
        ("code", "new_weights = [W - eta * gW for W, gW in zip(weights, g[\"W\"])]\n"
                 "new_biases = [b - eta * gb for b, gb in zip(biases, g[\"b\"])]  "
                 "# the biases move too\n"
                 "print(\"cost before\", f.cost(x, y, weights, biases))\n"
                 "print(\"cost after \", f.cost(x, y, new_weights, new_biases))"),
    ]


def _training(net: Network) -> list[tuple[str, str]]:
    """Gradient descent on data of the network's own sizes, with the generated gradients."""
    code = ("rng = np.random.default_rng(1)\n"
            f"X = rng.uniform(-1, 1, size=({BATCH}, net.widths[0]))\n"
            "R = rng.normal(size=(net.widths[0], net.widths[-1]))\n"
            f"Y = {_target(net, 'X')}  # the rule the network learns\n"
            "weights = [rng.normal(0, 1 / np.sqrt(n), size=(m, n)) "
            "for n, m in zip(net.widths, net.widths[1:])]\n"
            "biases = [np.zeros(m) for m in net.widths[1:]]\n"
            f"eta = 2.0 / {BATCH}\ncosts = []\n"
            f"for step in range({TRAINING_STEPS}):\n"
            "    g = f(X, Y, weights, biases)  # the cost summed over the batch\n"
            "    weights = [W - eta * gW for W, gW in zip(weights, g[\"W\"])]\n"
            "    biases = [b - eta * gb for b, gb in zip(biases, g[\"b\"])]\n"
            "    costs.append(f.cost(X, Y, weights, biases))\n"
            "print(f\"cost {costs[0]:.4f} after one step, {costs[-1]:.4f} after "
            f"{TRAINING_STEPS}\")\nassert costs[-1] < costs[0]")
    return [("md", "## Training\n\nGradient descent, $W_l \\leftarrow W_l - \\eta\\, "
                   "\\partial C/\\partial W_l$ and $b_l \\leftarrow b_l - \\eta\\, "
                   "\\partial C/\\partial b_l$, on a batch of random inputs whose targets follow "
                   "a fixed rule, with the gradients the derivation proved."),
            ("code", code)]


def _target(net: Network, inputs: str) -> str:
    """Targets the cost accepts, by a fixed rule from ``inputs`` (through ``R``, a random
    n_0 × n_L matrix): one-hot for softmax_ce, 0 or 1 for bce, values in (0, 1) otherwise."""
    scores = f"{inputs} @ R"
    if net.cost == "softmax_ce":
        return f"np.eye(net.widths[-1])[np.argmax({scores}, axis=-1)]"
    if net.cost == "bce":
        return f"({scores} > 0).astype(float)"
    return f"1 / (1 + np.exp(-{scores}))"


def _floats(value: object) -> str:
    """Nested numbers as a Python literal of floats."""
    def convert(v: object) -> object:
        if isinstance(v, list | tuple):
            return [convert(u) for u in v]
        if hasattr(v, "tolist"):
            return convert(v.tolist())  # type: ignore[union-attr]
        return float(v)  # type: ignore[arg-type]

    return json.dumps(convert(value))
