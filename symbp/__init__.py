"""symbp: backpropagation made visible and checkable.

Build a network in SymPy, derive every ∂C/∂W_l three ways, prove exactly that
they agree, and write the derivation down.
"""

from .derivation import ROUTES, Derivation, derive
from .exact import equivalent
from .network import Network
from .numeric import check_gradients, lambdify
from .prove import Proof, prove
from .registry import ACTIVATIONS, COSTS
from .rendering import render

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS", "COSTS", "ROUTES", "Derivation", "Network", "Proof",
    "check_gradients", "derive", "equivalent", "lambdify", "prove", "render",
]
