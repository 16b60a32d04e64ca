"""An interrupted ``symbp derive`` loses nothing: earlier outputs stay byte-identical."""

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

FORMATS = "tex,md,json,py"


def derive(out: Path, *args, stall=None):
    env = dict(os.environ)
    if stall:
        env["SYMBP_STALL_AT"] = stall
    return subprocess.Popen([sys.executable, "-m", "symbp", "derive", "--out", str(out),
                             "--format", FORMATS, "--quiet", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)


def snapshot(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def earlier(tmp_path_factory):
    """A finished run of one network; later runs of another network must not touch it."""
    out = tmp_path_factory.mktemp("earlier") / "out"
    with derive(out, "--widths", "2,2,1") as run:
        assert run.wait(timeout=300) == 0, run.stderr.read()
    return out, snapshot(out)


def _wait_for(process, text: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        seen += line
        if text in line:
            return
        if process.poll() is not None and not line:
            break
    raise AssertionError(f"never saw {text!r}; stderr: {seen}")


@pytest.mark.parametrize("stage", ["proved", "built"])
def test_sigkill_at_a_known_point_changes_nothing(earlier, stage, tmp_path):
    out, before = earlier
    with derive(out, "--widths", "3,4,2", "--activation", "tanh", stall=stage) as run:
        _wait_for(run, f"stalled at {stage}")
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=60)
    assert snapshot(out) == before  # same names, same bytes: no temporaries either


@pytest.mark.parametrize("delay", [0.2, 0.6, 1.0, 1.5])
def test_sigkill_at_any_time_leaves_whole_files(earlier, delay):
    """Killed wherever it happens to be: every file is the earlier or the new one, whole."""
    out, before = earlier
    with derive(out, "--widths", "3,4,2", "--activation", "tanh") as run:
        time.sleep(delay)
        run.send_signal(signal.SIGKILL)
        code = run.wait(timeout=60)
    after = snapshot(out)
    assert set(after) == set(before), "a temporary file was left behind"
    if code == -signal.SIGKILL:
        assert after == before or delay >= 1.0, "killed before writing, yet files changed"
    # leave the folder as the earlier run made it for the next test
    with derive(out, "--widths", "2,2,1") as restore:
        assert restore.wait(timeout=300) == 0
    assert snapshot(out) == before


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_and_sigterm_are_reported_and_clean(earlier, signum):
    out, before = earlier
    with derive(out, "--widths", "3,4,2", stall="built") as run:
        _wait_for(run, "stalled at built")
        run.send_signal(signum)
        assert run.wait(timeout=60) == 130
        assert "interrupted; earlier outputs are unchanged" in run.stderr.read()
    assert snapshot(out) == before


def test_next_run_sweeps_temporaries_of_a_killed_one(earlier, tmp_path):
    out, before = earlier
    stale = out / ".derivation.tex.symbp-abc123.tmp"
    stale.write_text("half")
    with derive(out, "--widths", "2,2,1") as run:
        assert run.wait(timeout=300) == 0
    assert not stale.exists()
    assert snapshot(out) == before  # deterministic: the same network gives the same bytes
