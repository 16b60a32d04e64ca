"""The public functions that span layers: ``render`` with a proof made on demand, and how a
``Derivation`` shows itself in Jupyter. The layers below never run a proof to render."""

from __future__ import annotations

from .core.derivation import DISPLAY_HOOKS, Derivation
from .document.build import build
from .document.numbers import Example, evaluate
from .document.steps import backprop_summary
from .proof.prove import Proof, prove
from .render.documents import FORMATS, render_document


def render(d: Derivation, fmt: str = "tex", proof: Proof | None = None, *,
           timings: bool = False, title: str | None = None,
           example: Example | dict | None = None) -> str:
    """The derivation document of ``d`` as LaTeX (``fmt="tex"``) or Markdown (``"md"``).

    ``proof`` defaults to ``prove(d)``; ``title`` (plain text, escaped here)
    replaces the default title. ``example``, a ``symbp.Example`` or a dict with its
    fields (x, y, weights, biases, learning_rate, digits), adds a worked example with
    numbers; ValueError names a value that does not fit the network. Without
    ``timings`` the text depends only on the input, so repeated renders are byte-identical.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    if not isinstance(d, Derivation):
        raise ValueError(f"render() needs a symbp.Derivation, got {type(d).__name__}")
    if proof is not None and not isinstance(proof, Proof):
        raise ValueError(f"render() needs proof=None or a symbp.Proof, got {type(proof).__name__}")
    if title is not None and not isinstance(title, str):
        raise ValueError(f"render() needs title=None or a string, got {type(title).__name__}")
    if example is not None:
        evaluate(d, example)  # numbers that do not fit the network fail before the proof runs
    if proof is None:
        proof = prove(d)
    return render_document(build(d, proof, timings=timings, title=title, example=example), fmt)


def _markdown(d: Derivation) -> str:
    """The whole document in Markdown (runs the proof)."""
    return render(d, "md")


def _latex(d: Derivation) -> str:
    """The backward pass as vector-Jacobian products (cheap)."""
    return "$$\n" + backprop_summary(d) + "\n$$"


DISPLAY_HOOKS.update(markdown=_markdown, latex=_latex)
