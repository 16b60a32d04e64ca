"""What every generated gradient module says the same way: a function's text, where its
recursion comes from, and the registry's numeric forms it uses, as its docstring lists them."""

from __future__ import annotations

from ..core.recursion import backprop_deltas
from ..printing.forms import unit_plain
from . import forms


def function(signature: str, doc: str, lines: list[str]) -> str:
    return f'def {signature}:\n    """{doc}"""\n' + "".join(f"    {line}\n" for line in lines)


def numpy_helpers(act) -> tuple[str, ...]:
    code = forms.activation(act)
    return (code.value.numpy_helper, code.vjp.numpy_helper if code.vjp else "")


def _filled(template: str) -> str:
    """A template with its placeholders as the names they stand for: {a} as a."""
    return template.format(z="z", a="a", v="v", y="y", out="out")


def quoted_name(function) -> str:
    """The name of a user's recursion function, quoted for the generated module's docstring:
    the repr of its ``__name__`` (every character printable, no line break) with backslashes
    and double quotes escaped, so that no name can end the docstring and add code."""
    name = getattr(function, "__name__", None)
    text = repr(name if isinstance(name, str) else repr(function))
    return text.replace("\\", "\\\\").replace('"', '\\"')


def recursion_origin(d) -> str:
    return ("the δ recursion symbp proves (symbp.core.recursion.backprop_deltas)"
            if d.recursion_function is backprop_deltas
            else f"the recursion {quoted_name(d.recursion_function)} given to symbp.derive, "
                 "NOT symbp's own")


def numeric_forms(d, ops) -> list[str]:
    """The registry's numeric forms the module uses, one line each, as its docstring lists them."""
    net = d.net
    cost = net.cost_entry
    listed_forms = []
    for l in sorted({net.activations.index(name) + 1 for name in net.activations}):
        act = net.activation(l)
        code = forms.activation(act)
        where = f", where a = {act.name}(z)"
        listed_forms.append(f"{act.name}(z) = {_filled(code.value.numpy)}")
        if code.derivative:
            uses_a = "{a}" in code.derivative.numpy
            listed_forms.append(f"{act.name}'(z) = {_filled(code.derivative.numpy)}"
                                + (where if uses_a else ""))
        if code.vjp:
            listed_forms.append(f"J_{act.name}(z)ᵀ v = {_filled(code.vjp.numpy)}{where}")
    listed_forms.append(f"C = {_filled(forms.cost(cost).value)}, where a = a_{d.L}")
    listed_forms.append(f"∂C/∂a = {_filled(forms.cost(cost).gradient.numpy)}")
    output = cost.output_delta(net.activations[-1])
    if ops.fused and output is not None:
        listed_forms.append(
            f"J_{output.activation}(z)ᵀ ∂C/∂a = {unit_plain(output.form)} "
            f"(= {_filled(forms.output_delta(output).numpy)}: the product above with the "
            "division by a cancelled, so an output that underflows to 0 gives no NaN)")
    helpers = "".join(h for h in (forms.activation(net.activation(l)).value.numpy_helper
                                  for l in range(1, d.L + 1)) if h)
    if helpers:
        listed_forms.append("where " + " ".join(helpers.split()))
    return listed_forms


def told(first: str, text: str, proved: str) -> str:
    """The module ``first`` with ``text`` (and ``proved``, when given) added to its docstring,
    before the paragraph on what it imports: how a second-order module tells what it adds."""
    if proved:
        text += proved + "\n"
    at = first.index("\nImports ")
    return first[:at] + "\n" + text + first[at:]
