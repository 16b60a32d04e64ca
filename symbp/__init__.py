"""symbp: backpropagation made visible and checkable.

Build a network in SymPy, derive every ∂C/∂W_l three ways, prove exactly that
they agree, and write the derivation down.
"""

from .api import render
from .core.derivation import ROUTES, Derivation, derive
from .core.network import Network
from .core.registry import ACTIVATIONS, COSTS
from .numeric.backends import check_gradients, lambdify
from .proof.exact import equivalent
from .proof.prove import Proof, prove

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS", "COSTS", "ROUTES", "Derivation", "Network", "Proof",
    "check_gradients", "derive", "equivalent", "lambdify", "prove", "render",
]
