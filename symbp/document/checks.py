"""What was checked, in words: a claim's name and how it was settled, as a reader's sentence.

A claim carries a short name ("base case", "tanh'", "dC/dW_2") and a line saying how it
was established, written for a log ("symbolic identity for widths n_L; also checked
exactly at every width 1..4 (10 entries); traced at ..."). A document says the same in
sentences with math: ``title`` names what a claim is about, ``established`` says how it
was settled. Both read only the claim's public fields; a way of settling that is not
known here is left unsaid rather than copied from the log.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# what each claim of the general theorem and of the matrix chapter is about (mixed text:
# plain words and $...$ math, valid in every format)
TITLES = {
    "trace": "the recursion, run on the index formulas",
    "base case": "Lemma 1, the output layer",
    "step": "Lemma 2, one step back",
    "dC/dW_l": "Lemma 3, the weights",
    "dC/db_l": "Lemma 3, the biases",
    "entrywise": "the registry's cost and its gradient, entry by entry",
    "cross-check": "the same recursion on small networks",
    "row softmax Jacobian": "the softmax Jacobian over a row of attention weights, of any length",
    "causal row softmax Jacobian": "the softmax Jacobian over a row of attention weights under "
                                   "the causal mask, of any length",
    "theorem": "the theorem for every depth and all widths",
    "time": "the time allowed",
    "diag": "the Jacobian of an elementwise activation, $\\operatorname{diag}(\\sigma'(z))$",
    "hadamard": "a diagonal Jacobian as a Hadamard product",
    "softmax matrix": "the softmax Jacobian as $\\operatorname{diag}(a) - a\\, a^{T}$",
    "linear": "the Jacobian of $z_l$ by $a_{l-1}$, which is $W_l$",
    "third-order": "the three-index Jacobian $\\partial z_l / \\partial W_l$",
    "vec": "$W_l\\, a_{l-1}$ with vec and a Kronecker product",
    "kronecker": "the Jacobian of $z_l$ by $\\operatorname{vec}(W_l)$",
    "kronecker contraction": "the weight gradient, flattened",
    "batch step": "the error step for a batch",
    "batch weights": "the weight gradient of a batch",
    "batch biases": "the bias gradient of a batch",
}
_SUPERSCRIPT = re.compile(r"^W([QK])$")  # attention's WQ and WK, as the documents write them
Words = str | Callable[[re.Match[str]], str]  # a replacement, as re.sub takes it
_PATTERNS: list[tuple[re.Pattern[str], Words]] = [  # names with a varying part: (pattern, title)
    (re.compile(r"(\w+)' in a"),
     r"the derivative of \1 written in its output $a$, as the code has it"),
    (re.compile(r"(\w+) shifted( \(n=(\d+)\))?"),
     r"\1 shifted by its maximum, as the code computes it"),
    (re.compile(r"(\w+) VJP( \(n=(\d+)\))?"),
     r"the vector-Jacobian product of \1, as the code computes it"),
    (re.compile(r"(\w+) form \(n=(\d+)\)"), r"\1 written unit by unit, at $n = \2$"),
    (re.compile(r"(\w+) output delta( \(n=(\d+)\))?"),
     r"the output layer's error in closed form for the \1 cost, as the code computes it"),
    (re.compile(r"(\w+)'"), r"the derivative of \1"),
    (re.compile(r"(\w+) gradient"), r"the gradient of the \1 cost"),
    (re.compile(r"softmax Jacobian \(n=(\d+)\)"), r"the softmax Jacobian, at $n = \1$"),
    (re.compile(r"softmax Jacobian"), r"the softmax Jacobian"),
    (re.compile(r"delta_(\d+)"), r"the error $\\delta_{\1}$"),
    (re.compile(r"dC/dW_(\d+)"), r"the gradient of $W_{\1}$"),
    (re.compile(r"dC/db_(\d+)"), r"the gradient of $b_{\1}$"),
    (re.compile(r"dC/d([A-Za-z]+)_(\d+)"), r"the gradient of $\1_{\2}$"),  # P_2, U_1: a kind's
    (re.compile(r"dC/d([A-Za-z]+)_l"),  # a kind's other parameter in the theorem: U, P, W^Q
     lambda m: "Lemma 3, the gradient of $" + _SUPERSCRIPT.sub(r"W^{\1}", m[1]) + "_{l}$"),
    (re.compile(r"g_(\d+)"), r"the gradient $g_{\1}$ at the layer's output $a_{\1}$"),
]
_WIDTHS = re.compile(r"width(?:s)?(?: n_\S+(?:, n_\S+)*)? (?:in )?(\d+)\.\.(\d+)")


def title(name: str) -> str:
    """What the claim ``name`` is about, as mixed text; its words when the name is not known."""
    if name in TITLES:
        return TITLES[name]
    for pattern, words in _PATTERNS:
        if pattern.fullmatch(name):
            return _spaced(pattern.sub(words, name))
    return _spaced(name)


def _spaced(text: str) -> str:
    """Underscores of a name as spaces in the words, kept in the math ($W_{2}$ stays W₂)."""
    parts = text.split("$")
    return "$".join(p.replace("_", " ") if i % 2 == 0 else p for i, p in enumerate(parts))


def established(how: str) -> str:
    """How a claim was settled, as mixed text ("as a symbolic identity, ..."), from its log
    line; empty when the way is not one of those known here."""
    widths = _WIDTHS.search(how)
    span = f" from {widths.group(1)} to {widths.group(2)}" if widths else ""
    if how.startswith("symbolic identity in z"):
        return "as a symbolic identity in $z$"
    if how.startswith("symbolic identity"):
        return ("as a symbolic identity, for every width at once" +
                (f", and again written out entry by entry at every width{span}" if span else ""))
    at_depth = re.match(r"recorded once at depth (\d+)", how)
    if at_depth:  # one network's own sequence of kinds: that depth only
        return (f"recorded once at depth {at_depth.group(1)} with every size symbolic, and "
                "written out at that depth only")
    if how.startswith("recorded once"):
        return ("recorded once for a symbolic depth and symbolic widths, and written out at every "
                "depth up to 12")
    if how.startswith("not recorded for every depth"):
        return f"traced at the depths{span or ' it was run at'} only, so checked, not proved"
    if how.startswith("by construction"):
        return "by construction: written unit by unit, the same at every width"
    if how.startswith("checked at widths"):
        return f"compared exactly at every width{span}, and only there"
    if how.startswith("instantiated"):
        return f"written out and compared exactly at every width{span}, and only there"
    if how.startswith("induction"):
        return "from the lemmas, by induction over the layers"
    if "per-network prover" in how:
        return "by the per-network prover, which shares no code with the index notation"
    if how.startswith("traced"):
        return "by running it"
    if "exact comparison" in how:
        return "by exact comparison"
    return ""
