"""Writing output/<name>/: every file goes to a temporary sibling, then is renamed into place.

A rename within one folder is atomic, so an interrupted run leaves each file
either as it was or complete, never half-written.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from .network import Network
from .prove import Proof


def write_atomic(path: Path, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename."""
    path = Path(path)
    raw = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def proof_json(proof: Proof) -> str:
    """The proof report; timings are left out so that reruns are byte-identical."""
    data = proof.to_dict()
    data.pop("seconds")
    for row in data["rows"]:
        row.pop("seconds")
    for lemma in data["lemmas"]:
        lemma.pop("seconds")
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def write_outputs(net: Network, proof: Proof, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    return [write_atomic(out / "proof.json", proof_json(proof))]
