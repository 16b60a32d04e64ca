"""The general theorem's cross-check: the per-network prover (method local, the same recursion)
on small networks of the theorem's kinds, independent code that must agree with the lemmas."""

from __future__ import annotations

import time

from ..core.derivation import derive
from ..core.generic import DENSE, Template
from ..core.network import Network
from ..core.recursion import RecursionFunction
from .claims import Claim
from .kinds_theorem import family_network
from .prove import prove
from .registry_lemmas import per_width

NETWORKS = ((3, 1), (2, 1, 3), (1, 3, 2, 2))  # small widths for the per-network cross-check


def cross_check_widths(hidden, out, cost) -> list[list[int]]:
    """``NETWORKS``, each width raised to what its layer's activation and the cost need."""
    found = []
    for widths in NETWORKS:
        L = len(widths) - 1
        acts = [hidden] * (L - 1) + [out]
        need = [1] + [1 if a.elementwise else 2 for a in acts]
        need[-1] = max(need[-1], cost.min_outputs)
        found.append([max(n, m) for n, m in zip(widths, need)])
    return found


def cross_check(recursion: RecursionFunction, hidden, out, cost,
                templates: tuple[Template, ...] | None = None, depth: int | None = None,
                inputs: tuple[int, ...] | None = None) -> Claim:
    """The per-network prover on small networks (method local, same recursion) and its
    function lemmas at each width 1..4: independent code that must agree. At one depth, the
    network itself (its layers ``templates``, its input ``inputs``)."""
    started = time.perf_counter()
    problems = [f"{lem.name}: {lem.residual}" for lem in per_width(hidden, out, cost)
                if not lem.holds]
    if depth is not None and templates is not None:
        networks = [Network(layers=[t.layer for t in templates], inputs=list(inputs or ()),
                            cost=cost.name)]
    else:
        networks = [_network(widths, hidden, out, cost, templates)
                    for widths in cross_check_widths(hidden, out, cost)]
    for net in networks:
        proof = prove(derive(net, recursion=recursion), method="local")
        if not proof.holds:
            first = str(proof.failures[0]) if proof.failures else proof.status
            problems.append(f"widths {list(net.widths)}: {first}")
    listed = "; ".join(", ".join(map(str, net.widths)) for net in networks)
    kinds = ""
    if depth is not None and templates is not None:
        kinds = f" of this sequence of kinds ({', '.join(t.kind.name for t in templates)})"
    elif templates is not None and not dense_only(templates):
        kinds = (f" of {templates[0].kind.name} layers under a {templates[1].kind.name} "
                 "output layer")
    return Claim(
        f"the per-network prover agrees: it proves the recursion (method local) for networks"
        f"{kinds} of widths {listed}, and the function lemmas at each width",
        r"\text{per network: widths }" + listed, "general",
        "failed" if problems else "proved",
        "the per-network prover (exact, in layered symbols), independent of the index notation",
        name="cross-check", residual="; ".join(problems)[:300],
        seconds=time.perf_counter() - started)


def dense_only(templates: tuple[Template, ...] | None) -> bool:
    return templates is None or templates == (DENSE, DENSE)


def _network(widths: list[int], hidden, out, cost,
             templates: tuple[Template, ...] | None) -> Network:
    """A small network of the theorem's kinds (dense layers by default)."""
    L = len(widths) - 1
    if dense_only(templates):
        return Network(widths, activation=[hidden.name] * (L - 1) + [out.name], cost=cost.name)
    assert templates is not None
    return family_network(widths, hidden, out, cost, templates)
