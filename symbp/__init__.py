"""symbp: backpropagation made visible and checkable.

Build a network in SymPy, derive every ∂C/∂W_l three ways, prove exactly that
they agree, write the derivation down, and run the proved recursion as NumPy.

The package reads as the data flow, each layer importing only those below it:
``core`` (registry, network, symbols, the three routes) → ``proof``, ``numeric``,
``figures``, ``train`` → ``document`` (plain data) → ``render`` (Jinja, pdflatex) → ``cli``.
"""

from . import cli  # noqa: F401  first: under the symbp command, Ctrl-C in the imports exits 130
from .api import check, render
from .core.derivation import ROUTES, Derivation
from .core.functions import explicit
from .core.layers import KINDS, Layer
from .core.network import Network
from .core.recursion import RecursionOps, backprop_deltas
from .core.registry import ACTIVATIONS, COSTS, Activation, Cost
from .core.second_order import SecondDerivation, derive
from .document.numbers import Example
from .numeric.backends import check_gradients, lambdify
from .proof.claims import Claim
from .proof.curvature import prove
from .proof.exact import equivalent
from .proof.lemmas import Lemma
from .proof.prove import Failure, Proof
from .proof.second_order_theorem import second_order_theorem
from .proof.theorem import theorem
from .train import train

__version__ = "0.2.0"

__all__ = [
    "ACTIVATIONS", "COSTS", "KINDS", "ROUTES", "Activation", "Claim", "Cost", "Derivation",
    "Example", "Failure", "Layer", "Lemma", "Network", "Proof", "RecursionOps",
    "SecondDerivation", "backprop_deltas", "check", "check_gradients", "derive", "equivalent",
    "explicit", "lambdify", "prove", "render", "second_order_theorem", "theorem", "train",
]
