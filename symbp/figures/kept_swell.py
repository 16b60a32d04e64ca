"""Swell rows kept between runs: what ``swell.measure`` counts for generic networks of one
width under one cost is the same in every run of this symbp, so a document reads it back from
the cache folder (``core.stored``, subfolder "swell") rather than build every route again (a
few CPU-seconds per document: the path sum and ``sympy.diff`` of the composed cost).

A file is named by the digest of the question (depths, width, cost, the route limit), this
symbp's ``stored.version()`` (the text of every one of its modules), and the versions of SymPy
and Python, as a kept theorem is (``proof.kept``). It is JSON, never code; one that does not
parse, names another question or is not a regular file is ignored and the rows are measured.
Only symbp's own costs are kept: a cost a user registered is measured every time (its text is
not in the version). Where the folder cannot be used, the rows are measured and nothing is said.
The build times in a row read back are those of the run that measured it; no document shows
them.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Sequence

import sympy as sp

from ..core import registry, stored
from . import swell

SUBFOLDER = "swell"
MAX_BYTES = 2**20


def measure(depths: Sequence[int], width: int, cost: str, max_paths: int) -> tuple[dict, ...]:
    """``swell.measure(depths, [width], cost=cost, max_paths=max_paths)``, read back where a
    run of this symbp measured it before."""
    question = json.dumps({"depths": list(depths), "width": width, "cost": cost,
                           "max_paths": max_paths}, sort_keys=True)
    own = stored.own(registry.COSTS.get(cost))
    found = _load(question) if own else None
    if found is not None:
        return found
    rows = tuple(swell.measure(depths, [width], cost=cost, max_paths=max_paths))
    if own:
        _keep(question, rows)
    return rows


def _name(question: str) -> str:
    whole = "\n".join((question, stored.version(), sp.__version__, sys.version))
    return f"rows-{hashlib.sha256(whole.encode()).hexdigest()[:32]}.json"


def _load(question: str) -> tuple[dict, ...] | None:
    data = stored.read_kept(SUBFOLDER, _name(question), MAX_BYTES)
    try:
        found = json.loads(data) if data is not None else None
        if found is None or found["question"] != question:
            return None
        return tuple(dict(row) for row in found["rows"])
    except (ValueError, KeyError, TypeError):
        return None


def _keep(question: str, rows: tuple[dict, ...]) -> None:
    stored.keep(SUBFOLDER, _name(question), json.dumps({"question": question,
                                                          "rows": list(rows)}).encode())
