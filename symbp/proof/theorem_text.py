"""What a general proof says in words: its short summary (the verdict, what was proved, the
count of claims) and its table of claims, for the command line and the second order's summary.
"""

from __future__ import annotations

import textwrap

from .claims import COLUMNS, Proof
from .kinds_theorem import WHERE


def general_summary(proof: Proof) -> str:
    """One short line for a general proof: the verdict, what was proved, the claim count."""
    done = sum(c.proved for c in proof.claims)
    reach, what = "for every depth L and all widths", proof.network
    if what.startswith("depth "):  # a network's own sequence: "depth K, ..., every size: "
        scope, what = what.split(": ", 1)
        reach = (f"at depth {scope.split(',')[0].removeprefix('depth ')} (this network's "
                 "sequence of kinds), for every size")
    what = what.removeprefix("every depth and width: ")
    verdict = {"proved": "proved", "failed": "NOT proved",
               "checked": "checked, not proved"}.get(proof.status, "not proved")
    count = f"{done} of {len(proof.claims)} claims proved"
    line = f"{verdict} (general): {reach}" + ("" if proof.network.startswith("depth ")
                                              else f", {count}")
    details = (f"the recursion gives dC/dW_l and dC/db_l ({what}; "
               f"{next((c.how for c in proof.claims if c.name == 'trace'), '')})")
    if proof.network.startswith("depth "):
        details = f"{count}; {details}"
    said = next((c.statement for c in proof.claims if c.name == "theorem"), "")
    if WHERE in said:  # less than everywhere: max pooling, where every window's maximum is unique
        details = f"{details}{WHERE}{said.split(WHERE, 1)[1]}"
    failures = proof.failures
    if failures:
        details = f"first failure: {failures[0]}; {details}"
    return "\n".join([line[:COLUMNS], *("  " + row for row in textwrap.wrap(
        details, COLUMNS - 2, break_on_hyphens=False))])


def general_table(proof: Proof) -> str:
    """The claims of a general proof, one per line: status, name, how it was established."""
    width = max((len(c.label) for c in proof.claims), default=5)
    lines = [f"{'status':10}  {'claim':{width}}  how"]
    lines += [f"{c.status:10}  {c.label:{width}}  {c.how}" for c in proof.claims]
    lines += [f"failure: {f}" for f in proof.failures]
    return "\n".join(lines)
