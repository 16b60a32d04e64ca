"""What second order takes for a network of layer kinds, before any work: the kinds
(``KINDS_SECOND_ORDER``), the activations and cost (``curvature.supported_functions``), and
a symbolic Hessian of at most ``limits.MAX_SYMBOLIC_HESSIAN_ENTRIES`` entries.
"""

from __future__ import annotations

from math import prod

from . import curvature, limits
from .network import Network

# The kinds whose second order is derived (``kinds_second_order``), and why others are not
KINDS_SECOND_ORDER = ("dense", "residual", "conv1d", "recurrent", "attention", "layernorm",
                      "batchnorm", "dense_per_sample")
NOT_YET: dict[str, str] = {  # kind -> why order 2 refuses it (none today)
}


def supported(net: Network) -> None:
    """ValueError unless ``kinds_second_order`` covers ``net``: kinds of
    ``KINDS_SECOND_ORDER``, and the activations and cost second order takes
    (``curvature.supported_functions``)."""
    other = next((r for r in net.resolved if r.kind.name not in KINDS_SECOND_ORDER), None)
    if other is not None:
        why = NOT_YET.get(other.kind.name, "its second order is not written yet")
        raise ValueError(f"order 2 takes {', '.join(KINDS_SECOND_ORDER)} layers; layer "
                         f"{other.index} is {other.kind.name} ({why}); use order 1")
    curvature.supported_functions(net)


def parameter_count(net: Network) -> int:
    """Every parameter entry of every layer."""
    return sum(prod(shape) for r in net.resolved for shape in r.parameters.values())


def check_size(net: Network) -> None:
    """ValueError naming the limit when the symbolic Hessian would have too many entries."""
    limits.check_symbolic_hessian_of(parameter_count(net))
