"""``--timeout`` bounds the whole command: building, proving, rendering, pdflatex, writing.

A timeout is exit 1 and one line, never a traceback or a refutation, and it leaves the
earlier outputs as they were.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from symbp.core.deadline import Deadline, TimedOut

pytestmark = pytest.mark.slow  # each waits out a real --timeout

SLACK = 3.0  # seconds past the timeout for starting Python and exiting, on a loaded machine


def run(*args, env=None):
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "symbp", *args], capture_output=True,
                            text=True, timeout=300, env={**os.environ, **(env or {})})
    return result, time.monotonic() - started


def listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A folder as a finished derive leaves it: one run for the tests that need one (in this
    process: what is timed below is the runs that follow, each a real process)."""
    from symbp.cli.main import main

    out = tmp_path_factory.mktemp("earlier") / "out"
    assert main(["derive", "--widths", "2,2", "--format", "json,md", "--out", str(out)]) == 0
    return out


@pytest.fixture
def earlier(made, tmp_path):
    """A copy of that folder, byte for byte, for a run that must leave it as it is."""
    out = tmp_path / "out"
    shutil.copytree(made, out)
    assert listing(out) == listing(made)
    return out, listing(out)


def check_timed_out(result, seconds, elapsed, writes=True):
    unchanged = "; earlier outputs are unchanged" if writes else ""
    assert result.returncode == 1, result.stderr
    assert result.stderr == f"symbp: timed out after {seconds:g} s (--timeout){unchanged}\n"
    assert elapsed < seconds + SLACK


def test_a_derive_that_runs_out_of_time_writes_nothing(earlier):
    out, before = earlier
    result, elapsed = run("derive", "--widths", "8,8,8,8", "--timeout", "1", "--out", str(out))
    check_timed_out(result, 1, elapsed)
    assert result.stdout == ""
    assert listing(out) == before  # no proof.json saying "failed", nothing half-written


def test_a_timeout_creates_no_folder(tmp_path):
    result, elapsed = run("derive", "--widths", "8,8,8,8", "--timeout", "1",
                          "--out", str(tmp_path / "new"))
    check_timed_out(result, 1, elapsed)
    assert list(tmp_path.iterdir()) == []


def test_pdflatex_runs_under_the_deadline(earlier, tmp_path):
    out, before = earlier
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pdflatex").write_text(f"#!/bin/sh\necho $$ > {tmp_path}/pid\nexec sleep 120\n")
    (bin_dir / "pdflatex").chmod(0o755)
    # 10 s: on a loaded machine the document (its theorem too) takes seconds before pdflatex
    result, elapsed = run("derive", "--widths", "2,2", "--format", "tex,pdf", "--timeout", "10",
                          "--out", str(out), env={"PATH": f"{bin_dir}:{os.environ['PATH']}"})
    check_timed_out(result, 10, elapsed)
    assert listing(out) == before
    pid = int((tmp_path / "pid").read_text())
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()


def test_a_proof_that_runs_out_is_reported_as_timed_out_not_failed():
    result, _ = run("prove", "--widths", "16,16,16,16", "--method", "expand", "--timeout", "3",
                    "--json")
    assert result.returncode == 1
    if result.stdout:  # the proof had started: its report says so
        data = json.loads(result.stdout)
        assert data["status"] == "timed out" and data["failures"] == []
        assert data["holds"] is False and 0 < data["seconds"] <= 3.5
    else:  # still building when time ran out
        assert result.stderr == "symbp: timed out after 3 s (--timeout)\n"


@pytest.mark.parametrize("args", [  # train writes its checkpoint: tests/test_train_resume.py
    ["swell", "--depth", "1..12", "--width", "12"],
])
def test_swell_and_train_are_bounded_too(tmp_path, args):
    result, elapsed = run(*args, "--timeout", "1", "--out", str(tmp_path / "out"))
    check_timed_out(result, 1, elapsed)
    assert not (tmp_path / "out").exists()


def test_a_budget_runs_each_phase_under_what_is_left():
    budget = Deadline(0.2)
    with budget.phase():
        time.sleep(0.01)
    with pytest.raises(TimedOut), budget.phase():
        time.sleep(5)
    with pytest.raises(TimedOut):
        budget.left()  # nothing left: the next phase does not even start
    assert Deadline(None).left() is None


def test_the_deadline_around_a_proof_stops_the_caller_and_its_own_is_a_verdict():
    # a document proves its theorem under the command's --timeout: when that runs out, the
    # command stops (it used to become the theorem's "timed out" and the command went on)
    from symbp.core.deadline import deadline
    from symbp.proof.theorem import prove_theorem

    with pytest.raises(TimedOut), deadline(0.05):
        prove_theorem("tanh", "mse")
    with pytest.raises(TimedOut), deadline(0.05):
        prove_theorem("tanh", "mse", timeout=30)  # the sooner deadline is the one around it
    with deadline(30):
        proof = prove_theorem("tanh", "mse", timeout=0.05)  # its own: a verdict
    assert proof.status == "timed out"
    assert [c.how for c in proof.claims if c.name == "time"] == ["stopped after 0.05 s"]


def test_a_derive_whose_time_runs_out_in_the_documents_theorem_times_out(earlier, monkeypatch,
                                                                        capsys):
    # in process, with the theorem's trace made slow: the command's --timeout runs out
    # while the document proves its theorem, and the command must stop there (exit 1)
    import symbp.proof.theorem as theorem
    from symbp.cli.main import main

    out, before = earlier
    monkeypatch.setattr(theorem, "_CACHE", {})
    monkeypatch.setenv("SYMBP_KEEP_PROOFS", "0")  # proved here, not read back
    monkeypatch.setattr(theorem, "structural_claims", lambda *args: time.sleep(60))
    started = time.monotonic()
    code = main(["derive", "--widths", "2,2", "--format", "md", "--timeout", "3",
                 "--out", str(out)])
    assert code == 1 and time.monotonic() - started < 3 + SLACK
    assert capsys.readouterr().err == ("symbp: timed out after 3 s (--timeout); earlier "
                                       "outputs are unchanged\n")
    assert listing(out) == before


def test_a_deadline_that_fires_inside_a_gc_callback_is_not_lost():
    # Python drops an exception raised in a gc callback; the deadline must ring again
    import gc

    from symbp.core.deadline import deadline

    calls = []

    def slow_callback(phase, info):
        if phase == "start" and not calls:
            calls.append(phase)
            # busy past the alarm (0.3 s), which rings in here and is dropped; 1.5 s rather
            # than 5: the alarm lands inside either way, and the loop burns what it lasts
            end = time.monotonic() + 1.5
            while time.monotonic() < end:
                pass

    gc.callbacks.append(slow_callback)
    try:
        start = time.monotonic()
        # 0.3 s: on a loaded machine the alarm must not ring before the collection starts
        with pytest.raises(TimedOut), deadline(0.3):
            _collect_then_sleep(gc)
    finally:
        gc.callbacks.remove(slow_callback)
    assert calls and time.monotonic() - start < 10  # not the 30 s sleep


def _collect_then_sleep(gc):
    gc.collect()
    time.sleep(30)
