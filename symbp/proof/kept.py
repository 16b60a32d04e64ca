"""Theorems kept between runs: once proved (or refuted), a theorem is written to the cache
folder (``core.stored``, subfolder "proofs") and read back instead of being proved again.

A kept theorem is named by the digest of everything its proof read, as text: the key the
process's own cache uses (the registry entries written out, what the recursion does, the
layers' kinds and their maps written out, the depth and the input shape), this symbp's
``stored.version()`` (the text of every one of its modules), and the versions of SymPy and
Python. Reading it back is therefore proving it again, without the work: the same claims, in
the same words, byte for byte. Only theorems about symbp's own activations, costs and layer
kinds are kept: the key writes an entry out at a few widths only, which says everything about
symbp's own (their text is in the version) but not about one a user wrote, whose theorem is
proved every time (a cost right below width 5 and wrong from 5 on must never read the right
one's proof). Where any part of the key has no text of its own (a function known only by its
address), nothing is kept either. A timed-out proof is never kept.

The file is JSON, never code: read back, it can only be the claims it lists, and a file that
does not parse, names another key or is not a regular file is ignored (the theorem is proved).
The folder must be private (``safe_paths``) as it must for numba; where it is not, or cannot be
made, theorems are proved every time and nothing is said, since nothing is lost.
``SYMBP_KEEP_PROOFS=0`` proves every time.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from dataclasses import asdict
from typing import Any

import sympy as sp

from ..core import stored
from ..core.layers import KINDS
from .claims import Claim, Proof
from .lemmas import Lemma

SUBFOLDER = "proofs"
MAX_BYTES = 16 * 2**20  # a kept proof is a few kB to a few hundred kB
FORMAT = 1


def key_text(key: tuple, entries: tuple = (), layers: tuple | None = None) -> str | None:
    """``key`` as text that names the same theorem in every process; None where it cannot (a
    part printed by its address) or where a registry entry in ``entries`` or a kind of
    ``layers`` is not symbp's own."""
    if not all(map(stored.own, entries)) or not all(
            stored.own(KINDS.get(layer.kind)) for layer in layers or ()):
        return None
    text = repr(tuple(_text(part) for part in key))
    return None if re.search(r" at 0x[0-9a-f]+", text) else text




def _text(part: Any) -> Any:
    name = getattr(part, "name", None)
    if isinstance(part, (str, int, float, type(None), tuple)) or name is None:
        return part
    return f"{type(part).__name__}:{name}"  # a registry entry: its name (its text is in the key)


def _name(text: str) -> str:
    whole = "\n".join((text, stored.version(), sp.__version__, sys.version))
    return f"theorem-{hashlib.sha256(whole.encode()).hexdigest()[:32]}.json"


def _enabled() -> bool:
    return os.environ.get("SYMBP_KEEP_PROOFS", "1") != "0"


def load(text: str | None) -> Proof | None:
    """The proof kept under ``text``, or None."""
    if text is None or not _enabled():
        return None
    data = stored.read_kept(SUBFOLDER, _name(text), MAX_BYTES)
    if data is None:
        return None
    try:
        found = json.loads(data)
        if found["format"] != FORMAT or found["key"] != text:
            return None
        return _proof(found["proof"])
    except (ValueError, KeyError, TypeError):
        return None


def keep(text: str | None, proof: Proof) -> None:
    """Write ``proof`` under ``text`` (not a timed-out one); silently nothing where the folder
    cannot be used."""
    if text is None or not _enabled() or proof.status == "timed out":
        return
    data = json.dumps({"format": FORMAT, "key": text, "proof": _fields(proof)},
                      ensure_ascii=False, sort_keys=True).encode()
    stored.keep(SUBFOLDER, _name(text), data)


def _fields(proof: Proof) -> dict:
    return {"method": proof.method, "claims": [asdict(c) for c in proof.claims],
            "lemmas": [asdict(lem) for lem in proof.lemmas], "seconds": proof.seconds,
            "network": proof.network, "note": proof.note, "fingerprint": proof.fingerprint}


def _entry(item: dict) -> dict:
    return {**item, "entry": None if item["entry"] is None else tuple(item["entry"])}


def _proof(data: dict) -> Proof:
    return Proof(data["method"], [Claim(**_entry(c)) for c in data["claims"]],
                 lemmas=[Lemma(**_entry(lem)) for lem in data["lemmas"]],
                 seconds=data["seconds"], network=data["network"], note=data["note"],
                 fingerprint=data["fingerprint"])
