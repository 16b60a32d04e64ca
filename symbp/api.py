"""The public functions that span layers: ``render`` with a proof made on demand, and how a
``Derivation`` shows itself in Jupyter. The layers below never run a proof to render."""

from __future__ import annotations

from .core.derivation import DISPLAY_HOOKS, Derivation
from .core.network import Network
from .document.claimed import Report, check_claims
from .document.example import Example
from .document.kinds import document
from .document.kinds_numbers import LayerExample, check_example
from .document.steps import backprop_summary
from .numeric.kinds_curvature_codegen import kinds_second_order_source
from .proof.curvature import prove_second_order
from .proof.prove import Proof, prove
from .render.documents import render_document
from .render.formats import Build, Skipped, check_format


def render(d: Derivation, fmt: str = "tex", proof: Proof | None = None, *,
           timings: bool = False, title: str | None = None,
           example: Example | LayerExample | dict | None = None, file: str | None = None,
           second: Proof | None = None) -> str | bytes:
    """The derivation of ``d`` in the format ``fmt``: any format ``symbp derive --format``
    writes (``symbp.render.formats.FORMATS``: tex, md, pdf, html, slides, ipynb, json, py,
    numba, figures, matrix, second_order).

    Returns the format's main file (derivation.tex for "tex", matrix.tex for "matrix", ...),
    or the one named by ``file`` among the files the format writes (``file="matrix.html"``
    with "html", ``file="slides.pdf"`` with "slides"). Text comes back as a str; a PDF
    (``"pdf"``, or a ``.pdf`` file) as bytes, compiled by pdflatex.

    ``proof`` defaults to ``prove(d)``; ``title`` (plain text, escaped here) replaces the
    default title. ``example``, a ``symbp.Example`` or a dict with its fields (x, y,
    weights, biases, learning_rate, digits; for a network of layer kinds ``params``, one dict
    per layer, in place of weights and biases), adds a worked example with numbers;
    ValueError names a value that does not fit the network, a format that cannot be made
    for it, or a file the format does not write. A derivation of order 2
    (``symbp.derive(net, order=2)``) renders its second order too ("second_order", and
    ``hessian``, ``hvp``, ``gauss_newton`` in "py"), proved by ``second`` (default: proved
    here). Without ``timings`` the result depends
    only on the input, so repeated renders are byte-identical.
    """
    entry = check_format(fmt)
    if not isinstance(d, Derivation):
        raise ValueError(f"render() needs a symbp.Derivation, got {type(d).__name__}")
    if proof is not None and not isinstance(proof, Proof):
        raise ValueError(f"render() needs proof=None or a symbp.Proof, got {type(proof).__name__}")
    if title is not None and not isinstance(title, str):
        raise ValueError(f"render() needs title=None or a string, got {type(title).__name__}")
    name = entry.files[0] if file is None else file
    if name not in entry.files:
        raise ValueError(f"format {fmt!r} writes {', '.join(entry.files)}; got file={file!r}")
    reason = entry.unavailable(d.net)
    if reason is not None:
        raise ValueError(f"cannot render {fmt!r}: {reason}")
    if example is not None:
        check_example(d, example)  # numbers that do not fit the network fail before the proof runs
    if second is not None and not isinstance(second, Proof):
        raise ValueError(f"render() needs second=None or a symbp.Proof, got "
                         f"{type(second).__name__}")
    if getattr(d, "order", 1) == 2 and second is None:
        second = prove_second_order(d,  # type: ignore[arg-type]  # order 2: a SecondDerivation
                                    printed=kinds_second_order_source)
    b = Build(d, prove(d) if proof is None else proof, title, timings,
              example=example,  # type: ignore[arg-type]  # a dict is read as an Example
              wanted=(fmt,), second=second, only=name)
    try:
        files = entry.make(b)
    except Skipped as skipped:
        raise ValueError(f"cannot render {fmt!r}: {skipped}") from None
    if name not in files:
        why = f" ({'; '.join(b.notes)})" if b.notes else ""
        raise ValueError(f"format {fmt!r} wrote no {name} for this network{why}")
    return files[name] if name.endswith(".pdf") else files[name].decode()


def check(network: Network | Derivation, claimed: object,
          example: Example | dict | None = None) -> Report:
    """Check a derivation someone else wrote, for ``network`` (a Network or a Derivation).

    ``claimed`` is a dict with numbers in the shape of worked.json (``cost``, ``z``, ``a``,
    ``delta``, ``grad``, ``updated``, ``learning_rate``; null for an entry not claimed) at
    the point ``example`` (or the dict's own ``example``), and/or ``formulas`` ({"delta_1":
    [...], "dC/dW_2": [[...]]}, "dC/dK_1" for a convolution's kernel, "dC/dP_2" for a
    projection: SymPy formulas in symbp's symbol names) and ``formulas_latex`` (the same in
    the documents' LaTeX; needs symbp[latex]); or a recursion function on ``RecursionOps``,
    as ``derive(net, recursion=f)`` takes. The Report's ``holds`` is True when every claim is
    right (numbers, decided exactly) or proved (formulas); ``text()`` and ``to_dict()`` say
    which are not, what they should be, and where a refuted formula fails (its smallest
    counterexample, exactly).
    ValueError names a bad key or value.
    """
    if isinstance(network, Network):
        network = Derivation(network)
    if not isinstance(network, Derivation):
        raise ValueError(f"check() needs a symbp.Network or a symbp.Derivation, got "
                         f"{type(network).__name__}")
    return check_claims(network, claimed, example)


def _markdown(d: Derivation) -> str:
    """The whole document in Markdown with $-math, as Jupyter reads it (runs the proof)."""
    return render_document(document(d, prove(d)), "md", github=False)


def _latex(d: Derivation) -> str:
    """The backward pass as vector-Jacobian products (cheap)."""
    return "$$\n" + backprop_summary(d) + "\n$$"


DISPLAY_HOOKS.update(markdown=_markdown, latex=_latex)
