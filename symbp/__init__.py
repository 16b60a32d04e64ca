"""symbp: backpropagation made visible and checkable.

Build a network in SymPy, derive every ∂C/∂W_l three ways, prove exactly that
they agree, write the derivation down, and run the proved recursion as NumPy.

The package reads as the data flow, each layer importing only those below it:
``core`` (registry, network, symbols, the three routes) → ``proof``, ``numeric``,
``figures``, ``train`` → ``document`` (plain data) → ``render`` (Jinja, pdflatex) → ``cli``.

``import symbp`` is cheap: each public name is imported on first use (PEP 562), so a
``symbp`` command loads only what it runs (SymPy alone takes a third of a second).
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING

from . import cli  # noqa: F401  first: under the symbp command, Ctrl-C in the imports exits 130

if TYPE_CHECKING:  # the checker sees every name and its type; a run imports it when asked
    from .api import check, render
    from .core.derivation import ROUTES, Derivation
    from .core.functions import explicit
    from .core.layers import KINDS, Layer
    from .core.network import Network
    from .core.recursion import RecursionOps, backprop_deltas
    from .core.registry import ACTIVATIONS, COSTS, Activation, Cost
    from .core.second_order import SecondDerivation, derive
    from .document.example import Example
    from .numeric.backends import lambdify
    from .numeric.gradient_check import check_gradients
    from .proof.claims import Claim
    from .proof.curvature import prove
    from .proof.exact import equivalent
    from .proof.lemmas import Lemma
    from .proof.prove import Failure, Proof
    from .proof.second_order_theorem import second_order_theorem
    from .proof.theorem import theorem
    from .train import train

__version__ = "0.2.0"

_HOMES = {  # public name: the module it lives in
    "check": "api", "render": "api",
    "ROUTES": "core.derivation", "Derivation": "core.derivation",
    "explicit": "core.functions",
    "KINDS": "core.layers", "Layer": "core.layers",
    "Network": "core.network",
    "RecursionOps": "core.recursion", "backprop_deltas": "core.recursion",
    "ACTIVATIONS": "core.registry", "COSTS": "core.registry", "Activation": "core.registry",
    "Cost": "core.registry",
    "SecondDerivation": "core.second_order", "derive": "core.second_order",
    "Example": "document.example",
    "check_gradients": "numeric.gradient_check", "lambdify": "numeric.backends",
    "Claim": "proof.claims",
    "prove": "proof.curvature",
    "equivalent": "proof.exact",
    "Lemma": "proof.lemmas",
    "Failure": "proof.prove", "Proof": "proof.prove",
    "second_order_theorem": "proof.second_order_theorem",
    "theorem": "proof.theorem",
    "train": "train",
}

__all__ = [
    "ACTIVATIONS", "COSTS", "KINDS", "ROUTES", "Activation", "Claim", "Cost", "Derivation",
    "Example", "Failure", "Layer", "Lemma", "Network", "Proof", "RecursionOps",
    "SecondDerivation", "backprop_deltas", "check", "check_gradients", "derive", "equivalent",
    "explicit", "lambdify", "prove", "render", "second_order_theorem", "theorem", "train",
]


def __getattr__(name: str) -> object:
    """A public name, imported from its home on first use and kept here after."""
    if name not in _HOMES:
        raise AttributeError(f"module 'symbp' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _Package(types.ModuleType):
    """``render`` and ``train`` name a function here and a subpackage too. Loading a
    subpackage sets it on its parent, which would hide the function once a command has
    imported, say, ``symbp.render.latex``: the public name stays the function."""

    def __setattr__(self, name: str, value: object) -> None:
        if not (name in _HOMES and isinstance(value, types.ModuleType)):
            super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
