"""Theorems kept between runs (symbp.proof.kept): read back they are the same claims, byte for
byte; anything else under their name, or in a folder others may write, is never believed."""

import copy
import dataclasses
import functools
import json
import os
import subprocess
import sys

import pytest

import symbp
from symbp.core.layers import KINDS
from symbp.proof import kept, theorem
from symbp.proof.claims import Proof
from tests.oracles import doubled_output_error


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A cache folder of this test's own, and no theorem kept in this process."""
    monkeypatch.setenv("SYMBP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("SYMBP_KEEP_PROOFS", raising=False)
    monkeypatch.setattr(theorem, "_CACHE", {})
    return tmp_path / "cache" / "proofs"


PROVE = theorem.prove_theorem


@functools.cache
def real(*args):
    return PROVE(*args)


@pytest.fixture
def calls(monkeypatch):
    """prove_theorem answering with a real proof made once per process; the calls it got."""
    made = []
    monkeypatch.setattr(theorem, "prove_theorem",
                        lambda *args, **_: made.append(args) or copy.deepcopy(real(*args)))
    return made


def files(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def proved_again(monkeypatch, *args, **kwargs) -> Proof:
    monkeypatch.setattr(theorem, "_CACHE", {})  # as a new process would
    return symbp.theorem(*args, **kwargs)


def test_a_theorem_is_kept_and_read_back_as_the_same_claims(folder, monkeypatch):
    first = symbp.theorem("tanh", "bce")
    (name,) = files(folder)
    assert name.startswith("theorem-") and name.endswith(".json")
    monkeypatch.setattr(theorem, "prove_theorem", None)  # read back, not proved
    again = proved_again(monkeypatch, "tanh", "bce")
    assert again.to_json() == first.to_json() and again == first


def test_another_process_reads_it_back(folder):
    first = symbp.theorem("sigmoid", "mse")
    code = ("import symbp.proof.theorem as t\n"
            "t.prove_theorem = None  # reading it back must not prove it\n"
            "print(t.theorem('sigmoid', 'mse').to_json(), end='')")
    again = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env=os.environ.copy()).stdout
    assert again == first.to_json() and len(files(folder)) == 1


def test_a_recursion_that_does_something_else_is_proved_again(folder, monkeypatch):
    symbp.theorem("sigmoid", "mse")
    proof = proved_again(monkeypatch, "sigmoid", "mse", recursion=doubled_output_error)
    assert proof.status == "failed"
    assert len(files(folder)) == 2  # a name of its own: what the recursion does is in the key
    assert proved_again(monkeypatch, "sigmoid", "mse",
                        recursion=doubled_output_error).to_json() == proof.to_json()


def test_a_planted_file_under_the_name_is_believed_only_for_its_own_key(folder, monkeypatch,
                                                                      calls):
    symbp.theorem("tanh", "mse")
    (name,) = files(folder)
    data = json.loads((folder / name).read_text())
    data["key"] = data["key"].replace("tanh", "relu")  # another theorem's file put here
    (folder / name).write_text(json.dumps(data))
    assert proved_again(monkeypatch, "tanh", "mse").status == "proved" and len(calls) == 2


@pytest.mark.parametrize("content", [b"{not json", b'{"format": 1}', b"[]", b""])
def test_a_damaged_file_is_proved_again(folder, monkeypatch, calls, content):
    symbp.theorem("tanh", "mse")
    (name,) = files(folder)
    (folder / name).write_bytes(content)
    assert proved_again(monkeypatch, "tanh", "mse").status == "proved" and len(calls) == 2
    assert json.loads((folder / name).read_text())["format"] == kept.FORMAT  # kept again


def test_a_folder_others_may_write_is_neither_read_nor_written(folder, monkeypatch, calls):
    symbp.theorem("tanh", "mse")
    (name,) = files(folder)
    data = json.loads((folder / name).read_text())
    for claim in data["proof"]["claims"]:
        claim["how"] = "planted"
    (folder / name).write_text(json.dumps(data))
    folder.chmod(0o777)
    proof = proved_again(monkeypatch, "tanh", "mse")
    assert "planted" not in proof.to_json() and proof.status == "proved" and len(calls) == 2
    assert "planted" in (folder / name).read_text()  # nor written


def test_a_timed_out_theorem_is_not_kept_and_keeping_can_be_turned_off(folder, monkeypatch):
    assert symbp.theorem("tanh", "bce", timeout=0.01).status == "timed out"
    assert files(folder) == []
    monkeypatch.setenv("SYMBP_KEEP_PROOFS", "0")
    assert symbp.theorem("tanh", "bce").status == "proved" and files(folder) == []


def test_a_key_with_a_function_known_by_its_address_is_not_kept():
    assert kept.key_text(("tanh", 3)) == "('tanh', 3)"
    assert kept.key_text(("tanh", lambda: 0)) is None


def test_only_symbps_own_entries_and_kinds_are_kept(monkeypatch):
    # a user's entry is written out in the key at width 3 only: a cost right there and wrong
    # from width 5 on must never read the right one's proof (tests/test_program.py)
    own = symbp.COSTS["mse"]
    assert kept.key_text(("k",), (own,), (symbp.Layer("residual"),)) == "('k',)"
    assert kept.key_text(("k",), (dataclasses.replace(own),)) is None
    monkeypatch.setitem(KINDS, "residual", dataclasses.replace(KINDS["residual"]))
    assert kept.key_text(("k",), (own,), (symbp.Layer("residual"),)) is None


def test_the_second_order_theorem_is_kept_too(folder, monkeypatch):
    from symbp.proof import second_order_theorem as second

    made = real("tanh", "mse")  # any proof: what is kept is what was made
    monkeypatch.setattr(second, "_CACHE", {})
    monkeypatch.setattr(second, "prove_second_order_theorem", lambda *a, **k: made)
    assert second.second_order_theorem("sigmoid", "mse") == made
    assert len(files(folder)) == 1
    monkeypatch.setattr(second, "_CACHE", {})
    monkeypatch.setattr(second, "prove_second_order_theorem", None)  # read back, not proved
    assert second.second_order_theorem("sigmoid", "mse").to_json() == made.to_json()
