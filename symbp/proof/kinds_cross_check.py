"""The cross-check of the second-order theorem for a sequence of kinds: the per-network
recursion and R-operator (``kinds_curvature``), independent of the index notation, against
SymPy's second derivatives of the composed cost, on the network itself or, where its symbolic
Hessian is past the limit, on a small network of its kinds (an attention layer's at
d_k = d_v = 1 and 2 tokens).
"""

from __future__ import annotations

import time

from ..core.kinds_curvature import CurvatureStep
from ..core.kinds_second_order import KindsSecondDerivation
from ..core.kinds_second_scope import check_size
from ..core.kinds_tangent import TangentRule, chain_tangent
from ..core.layers import resolve
from ..core.network import Network
from ..core.recursion import RecursionFunction
from . import pre_atoms
from .claims import Claim
from .exact import Exact
from .kinds_curvature import _blocks, _hvp_claims
from .kinds_second_lemmas import Sequence
from .kinds_second_steps import gives_every_state
from .kinds_theorem import POSITIONS, sized_layer


def cross_check_network(net: Network) -> Network:
    """``net`` where its symbolic Hessian is within the limit (an attention layer at d_k = d_v
    = 1 and at most 2 tokens: ``pre_atoms.cross_network``); else the same sequence of kinds
    (each layer's options and activation) at small sizes, as the first-order theorem's
    cross-check networks are made: each kind's ``sized`` at one channel, else one unit (the
    output layer the cost's fewest), on an input of the fewest channels and at most
    ``POSITIONS`` positions."""
    if _within(net):
        return pre_atoms.cross_network(net)
    resolved = net.resolved
    fewest = [r.kind.smallest_input for r in resolved[1:]] + [net.cost_entry.min_outputs]
    shape = (resolved[0].kind.smallest_input, *(min(n, POSITIONS) for n in net.input_shape[1:]))
    layers, at = [], shape
    for r, spec, width in zip(resolved, Sequence(net).specs, fewest):
        layer = sized_layer(r.kind, spec, r.kind.maps(spec).keeps_width, width, at)
        layers.append(layer)
        at = resolve([layer], at)[0].shape_out
    return pre_atoms.cross_network(Network(layers=layers, inputs=list(shape), cost=net.cost))


def _within(net: Network) -> bool:
    try:
        check_size(net)
    except ValueError:
        return False
    return True


def cross_check_claim(net: Network, step: CurvatureStep, recursion: RecursionFunction,
                      tangent: TangentRule = chain_tangent) -> Claim:
    """The per-network recursion and R-operator on this network (or a small one of its
    kinds), and over ``UNREAD`` steps where it is shorter, against SymPy's second
    derivatives."""
    started = time.perf_counter()
    small, longer = cross_check_network(net), unread_steps(net)
    blocks, hv, bad = _compared(small, step, recursion, tangent)
    where = ("at this network's sizes" if small is net else
             f"on a small network of this sequence of kinds (widths {list(small.widths)}; "
             + ("this one's Hessian is past the limit for a symbolic one" if not _within(net)
                else "attention with d_k = d_v = 1 and at most 2 tokens") + ")")
    if longer is not None:
        where += (f", and over {longer.input_shape[1]} steps, where a step has an earlier "
                  "state live beside it that it does not read")
        if bad is None:
            more_blocks, more_hv, bad = _compared(cross_check_network(longer), step, recursion,
                                                  tangent)
            blocks, hv = blocks + more_blocks, hv + more_hv
            if bad is not None:
                bad.residual = f"at {longer.input_shape[1]} steps: {bad.residual}"
    return Claim(f"the per-network recursion and R-operator agree {where}: every H and G "
                 "block and H v against SymPy's derivatives of the composed cost", "",
                 "general", "failed" if bad is not None else "proved",
                 f"{blocks} blocks and {hv} parts of H v compared exactly (the graph of the "
                 "network, its nodes entry by entry; H v by its derivative in each v_p); "
                 "independent of the index notation", name="cross-check",
                 residual="" if bad is None else f"{bad.label}: {bad.residual}"[:300],
                 entry=None if bad is None else bad.entry,
                 seconds=time.perf_counter() - started)


def _compared(net: Network, step: CurvatureStep, recursion: RecursionFunction,
              tangent: TangentRule) -> tuple[int, int, Claim | None]:
    """How many blocks and parts of H v were compared on ``net``, and the first that failed."""
    d = KindsSecondDerivation(net, recursion, curvature=step, tangent=tangent)
    session = Exact()
    hv = _hvp_claims(d, session)
    blocks = [*_blocks(d, session, "hessian", "recursion"),
              *_blocks(d, session, "gauss_newton", "recursion")]
    return len(blocks), len(hv), next((c for c in [*blocks, *hv] if not c.proved), None)


# from the third step on, a step of a recurrent layer giving every state has an earlier state
# live beside it that it does not read; the lemma reads the states before it as one block
UNREAD = 3


def unread_steps(net: Network) -> Network | None:
    """``net`` over enough steps that every recurrent layer giving every state sees
    ``UNREAD`` of them, where one sees fewer (else None)."""
    if not _short(net):
        return None
    channels, steps, *rest = net.input_shape
    for more in range(steps + 1, steps + POSITIONS + 1):
        longer = Network(layers=list(net.layers), inputs=[channels, more, *rest], cost=net.cost)
        if not _short(longer):
            return longer
    return None


def _short(net: Network) -> bool:
    return any(gives_every_state(r) and r.shape_in[1] < UNREAD for r in net.resolved)
