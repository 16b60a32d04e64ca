"""Interrupted, killed or concurrent runs of ``symbp derive``: the output folder always holds
exactly the earlier set or the new one, and no temporary file or process outlives a run
(a run killed outright leaves a staging folder that the next run finishes or removes)."""

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from symbp.cli.outputs import BY_RENAMES, MANIFEST, PAUSE, STAGE_PREFIX, OutputFolder

pytestmark = pytest.mark.slow  # real signals to real processes: seconds each

A = ["--widths", "2,2", "--format", "tex,md,json,pdf"]  # with pdflatex
B = ["--widths", "2,3", "--activation", "tanh", "--format", "json,py,md"]  # another set


def derive(out: Path, args, tmpdir: Path, stall=None, path=None, pause=None, renames=False,
           timed=False):
    # timed: the runs whose length is measured, and the random interrupts drawn from it,
    # prove their theorem every time; a run stopped at a known point may read it kept (the
    # same claims, byte for byte: the sets it leaves are compared with the proved ones)
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    if timed:
        env["SYMBP_KEEP_PROOFS"] = "0"
    env.pop(BY_RENAMES, None)
    if renames:  # the fallback: file by file
        env[BY_RENAMES] = "1"
    if stall:
        env["SYMBP_STALL_AT"] = stall
    if pause:  # (step, seconds): wait after that step of the publish window
        env[PAUSE] = "{},{}".format(*pause)
    if path:
        env["PATH"] = f"{path}{os.pathsep}{env['PATH']}"
    return subprocess.Popen([sys.executable, "-m", "symbp", "derive", "--out", str(out),
                             "--quiet", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)


def listing(folder: Path) -> dict[str, bytes]:
    if not folder.exists():
        return {}
    return {p.name: p.read_bytes() if p.is_file() else b"<folder>"
            for p in sorted(folder.iterdir())}


def published(folder: Path) -> dict[str, bytes]:
    return {n: d for n, d in listing(folder).items() if not n.startswith(STAGE_PREFIX)}


def staging_of(out: Path) -> Path:
    """The one staging folder of a run into ``out``: beside it, or inside it (by renames)."""
    found = [*out.parent.glob(f".{out.name}.symbp-next-*"), *out.glob(f"{STAGE_PREFIX}*")]
    assert len(found) == 1, found
    return found[0]


def recover(folder: Path) -> None:
    """What the next run does first: take the folder, finish or remove what was left."""
    with OutputFolder(folder):
        pass


def processes_in(base: Path) -> list[str]:
    """Live processes working inside ``base`` (a pdflatex left running, say)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
            state = (entry / "status").read_text().split("State:")[1].split()[0]
        except (OSError, IndexError):
            continue
        if cwd.startswith(str(base)) and state != "Z":
            found.append(f"{entry.name} in {cwd}")
    return found


def no_processes_left(base: Path, patience: float = 5.0) -> None:
    until = time.monotonic() + patience  # a parent-death signal arrives asynchronously
    while processes_in(base) and time.monotonic() < until:
        time.sleep(0.05)
    assert processes_in(base) == []


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


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """Folders as a finished run of A and of B leaves them (and how long each run took)."""
    base = tmp_path_factory.mktemp("sets")
    for name, args in (("A", A), ("B", B)):
        started = time.monotonic()
        with derive(base / name, args, base, timed=True) as run:
            assert run.wait(timeout=300) == 0, run.stderr.read()
        (base / f"{name}.seconds").write_text(str(time.monotonic() - started))
    return base


@pytest.fixture(scope="module")
def sets(made):
    found = {name: listing(made / name) for name in "AB"}
    assert found["A"] != found["B"] and "derivation.pdf" in found["A"]
    return found


@pytest.fixture
def folder(tmp_path, made, sets):
    """An output folder holding set A (as a run of A left it), and an empty TMPDIR."""
    out, tmpdir = tmp_path / "out", tmp_path / "tmp"
    tmpdir.mkdir()
    shutil.copytree(made / "A", out)
    (tmp_path / "seconds").mkdir()
    for name in "AB":
        shutil.copy(made / f"{name}.seconds", tmp_path / "seconds")
    assert listing(out) == sets["A"]
    return out, tmpdir


@pytest.mark.parametrize("stage", ["proved", "built"])
def test_sigkill_at_a_known_point_publishes_nothing(folder, sets, stage):
    out, tmpdir = folder
    with derive(out, B, tmpdir, stall=stage) as run:
        _wait_for(run, f"stalled at {stage}")
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=60)
    assert published(out) == sets["A"]
    recover(out)
    assert listing(out) == sets["A"] and list(tmpdir.iterdir()) == []


@pytest.mark.parametrize(("signum", "stage"), [(signal.SIGINT, "proved"),
                                               (signal.SIGTERM, "built")])
def test_ctrl_c_and_sigterm_are_reported_and_leave_nothing(folder, sets, signum, stage):
    out, tmpdir = folder
    with derive(out, B, tmpdir, stall=stage) as run:
        _wait_for(run, f"stalled at {stage}")
        run.send_signal(signum)
        assert run.wait(timeout=60) == 130
        assert run.stderr.read() == "symbp: interrupted; earlier outputs are unchanged\n"
    assert listing(out) == sets["A"] and list(tmpdir.iterdir()) == []


def test_a_refused_run_never_touches_a_running_one(folder, sets):
    out, tmpdir = folder
    with derive(out, B, tmpdir, stall="built") as first:
        _wait_for(first, "stalled at built")
        staged = listing(staging_of(out))
        for args, code in ((["--widths", "0"], 2), (A, 3)):  # bad input; the folder is busy
            with derive(out, args, tmpdir) as second:
                assert second.wait(timeout=120) == code
                assert second.stderr.read().count("\n") == 1
        assert listing(staging_of(out)) == staged
        first.send_signal(signal.SIGINT)
        assert first.wait(timeout=60) == 130
    assert listing(out) == sets["A"]


FAKE_PDFLATEX = """#!/bin/sh
echo $$ > "{pidfile}"
exec sleep 120
"""


def _fake_pdflatex(tmp_path: Path) -> tuple[Path, Path]:
    bin_dir, pidfile = tmp_path / "bin", tmp_path / "pdflatex.pid"
    bin_dir.mkdir()
    script = bin_dir / "pdflatex"
    script.write_text(FAKE_PDFLATEX.format(pidfile=pidfile))
    script.chmod(0o755)
    return bin_dir, pidfile


def _dead(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0]
    except (OSError, IndexError):
        return True
    return state == "Z"


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGINT])
def test_pdflatex_dies_with_symbp_and_leaves_no_folder(folder, sets, tmp_path, signum):
    out, tmpdir = folder
    bin_dir, pidfile = _fake_pdflatex(tmp_path)
    with derive(out, A, tmpdir, path=bin_dir) as run:
        until = time.monotonic() + 120
        while not pidfile.exists() and time.monotonic() < until:
            time.sleep(0.05)
        time.sleep(0.2)
        pid = int(pidfile.read_text())
        run.send_signal(signum)
        run.wait(timeout=60)
    until = time.monotonic() + 5
    while not _dead(pid) and time.monotonic() < until:
        time.sleep(0.05)
    assert _dead(pid), "pdflatex outlived symbp"
    assert list(tmpdir.iterdir()) == []  # pdflatex worked in the staging folder, not TMPDIR
    assert published(out) == sets["A"]
    recover(out)
    assert listing(out) == sets["A"]


def in_the_window(sets, step: int) -> dict[str, bytes]:
    """What the folder shows after ``step`` steps of publishing B over A: B's files in name
    order, then A's files that B lacks removed, then the manifest (README, "Outputs")."""
    new = sorted(n for n in sets["B"] if n != MANIFEST)
    stale = sorted(set(sets["A"]) - set(sets["B"]))
    shown = dict(sets["A"])
    for name in new[:step]:
        shown[name] = sets["B"][name]
    for name in stale[:max(0, step - len(new))]:
        del shown[name]
    return sets["B"] if step > len(new) + len(stale) else shown


WINDOW = 8  # steps of publishing B over A: 5 files, 2 removals, the manifest


@pytest.mark.parametrize("step", [1, 5, 6, WINDOW])
def test_sigkill_inside_the_publish_window_leaves_the_described_mix(folder, sets, step):
    """A kill at a known step of the window (the test hook pauses after each): the folder
    shows exactly the mix the README describes for that step, every file whole; the next
    run finishes the set."""
    out, tmpdir = folder
    assert sorted(n for n in sets["B"] if n != MANIFEST)[4:] == ["swell.svg"]
    with derive(out, B, tmpdir, pause=(step, 60), renames=True) as run:
        _wait_for(run, f"publish step {step}:")
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=60)
    assert published(out) == in_the_window(sets, step)
    recover(out)
    assert listing(out) == sets["B"] and list(tmpdir.iterdir()) == []


@pytest.mark.parametrize(("signum", "step"), [(signal.SIGINT, 2), (signal.SIGTERM, 6)])
def test_ctrl_c_inside_the_publish_window_waits_for_the_set(folder, sets, signum, step):
    out, tmpdir = folder
    with derive(out, B, tmpdir, pause=(step, 0.5), renames=True) as run:
        _wait_for(run, f"publish step {step}:")
        run.send_signal(signum)
        assert run.wait(timeout=60) == 130
        assert run.stderr.read().splitlines()[-1] == f"symbp: interrupted after writing {out}"
    assert listing(out) == sets["B"] and list(tmpdir.iterdir()) == []


@pytest.mark.slow
def test_random_interrupts_leave_the_old_set_or_the_new_one(folder, sets, tmp_path):
    """10 runs, each writing set A or B over the other, interrupted by SIGINT, SIGTERM or
    SIGKILL at a random moment of the run (its length as measured on this machine, and a
    little past it). The publish window, a few renames long, is rarely hit at random: the
    tests above kill inside it at known steps."""
    out, tmpdir = folder
    seconds = {n: float((tmp_path / "seconds" / f"{n}.seconds").read_text()) for n in "AB"}
    rng = random.Random(12)
    current, outcomes = "A", []
    for _ in range(10):
        target = "B" if current == "A" else "A"
        signum = rng.choice([signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
        delay = rng.uniform(0.2, 1.3 * seconds[target])
        with derive(out, B if target == "B" else A, tmpdir, timed=True) as run:
            time.sleep(delay)
            run.send_signal(signum)
            code = run.wait(timeout=120)
            err = run.stderr.read()
        no_processes_left(tmp_path)
        assert list(tmpdir.iterdir()) == []
        if signum == signal.SIGKILL:  # one set, whatever the moment (the folder is exchanged)
            assert published(out) in (sets["A"], sets["B"])
            recover(out)
        else:
            assert code in (0, 130), err
            assert "Traceback" not in err and err.count("\n") <= 1
        after = listing(out)
        assert after in (sets["A"], sets["B"]), f"{signum!r} after {delay:.2f} s: a mixed set"
        if code == 0:
            assert after == sets[target]
        current = "A" if after == sets["A"] else "B"
        outcomes.append(current == target)
    assert any(outcomes) and not all(outcomes), "every interrupt fell on the same side"


READER = r"""
import hashlib, json, os, sys, time
out, stop = sys.argv[1], sys.argv[2]
parent, staging = os.path.dirname(out), "." + os.path.basename(out) + ".symbp-next-"


def nothing_staged():
    # before the run stages its files (its imports, the proof, the documents: most of its
    # time) the folder cannot change: a look every 5 ms, not the busy looks of the publishing
    for name in os.listdir(parent):
        if name.startswith(staging):
            try:
                return not os.listdir(os.path.join(parent, name))
            except FileNotFoundError:
                return False
    return True


seen, across, torn = {}, 0, 0
while not os.path.exists(stop):
    if nothing_staged():
        time.sleep(0.005)
    try:
        before = os.stat(out).st_ino
        fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        continue
    try:
        shown = {}
        for name in sorted(os.listdir(fd)):
            found = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if os.path.stat.S_ISDIR(found.st_mode):
                shown[name] = "<folder>"
                continue
            with open(os.open(name, os.O_RDONLY, dir_fd=fd), "rb") as f:
                shown[name] = hashlib.sha256(f.read()).hexdigest()
    except FileNotFoundError:
        torn += os.fstat(fd).st_ino == os.stat(out).st_ino  # a file gone from a live folder
        continue
    finally:
        os.close(fd)
    if os.stat(out).st_ino != before:  # the folder was exchanged while this look lasted
        across += 1
        continue
    key = json.dumps(shown, sort_keys=True)
    seen[key] = seen.get(key, 0) + 1
print(json.dumps({"seen": seen, "across": across, "torn": torn}))
"""


def _hashes(files: dict[str, bytes]) -> dict[str, str]:
    return {n: "<folder>" if d == b"<folder>" else hashlib.sha256(d).hexdigest()
            for n, d in files.items()}


EXCHANGE_STEPS = ["complete", "exchanged", "moved", "removed"]  # of B over A, with a folder


@pytest.mark.parametrize("step", range(1, len(EXCHANGE_STEPS) + 1))
def test_a_reader_sees_one_set_at_every_step_of_the_exchange_and_after_a_kill(
        folder, sets, tmp_path, step):
    """A reader process looks at the folder over and over (by its name: a listing and the
    hash of every file) while the publisher pauses at one step of publishing and is killed
    there: every look shows set A or set B whole, the user's file in both; the user's
    folder is missing only between the exchange and its move back, and is back once the
    publisher has passed that step. The next run tidies."""
    out, tmpdir = folder
    (out / "notes.txt").write_text("mine")
    (out / "drafts").mkdir()
    user = {"notes.txt": b"mine", "drafts": b"<folder>"}
    stop = tmp_path / "stop"
    with subprocess.Popen([sys.executable, "-c", READER, str(out), str(stop)],
                          stdout=subprocess.PIPE, text=True) as reader:
        with derive(out, B, tmpdir, pause=(step, 60)) as run:
            _wait_for(run, f"publish step {step}: {EXCHANGE_STEPS[step - 1]}" if step > 1
                      else "publish step 1: the new folder is complete")
            time.sleep(0.3)  # the reader looks while the publisher waits
            run.send_signal(signal.SIGKILL)
            run.wait(timeout=60)
        time.sleep(0.3)  # and after the kill
        stop.touch()
        looks = json.loads(reader.communicate(timeout=60)[0])
    sets_seen = set()
    for key in looks["seen"]:
        shown = json.loads(key)
        has_folder = shown.pop("drafts", None) is not None
        assert shown.pop("notes.txt") == _hashes(user)["notes.txt"]
        assert shown in (_hashes(sets["A"]), _hashes(sets["B"])), sorted(shown)
        sets_seen.add("A" if shown == _hashes(sets["A"]) else "B")
        # between the exchange (step 2) and the move back (step 3) the user's folder is away:
        # a look that lands there, on the way to a pause at step 3 or 4, sees it missing too
        assert has_folder or (shown == _hashes(sets["B"]) and step >= 2)
    assert looks["torn"] == 0
    assert sets_seen == ({"A"} if step == 1 else {"A", "B"})
    assert published(out) == ({**sets["A"], **user} if step == 1 else
                              {**sets["B"], "notes.txt": b"mine"} if step == 2 else
                              {**sets["B"], **user})
    recover(out)
    assert listing(out) == {**(sets["A"] if step == 1 else sets["B"]), **user}
    assert sorted(p.name for p in out.parent.iterdir() if p.name.startswith(".out.")) == []


@pytest.mark.parametrize(("signum", "step"), [(signal.SIGINT, 1), (signal.SIGTERM, 2)])
def test_ctrl_c_during_the_exchange_waits_for_the_set(folder, sets, signum, step):
    out, tmpdir = folder
    with derive(out, B, tmpdir, pause=(step, 0.5)) as run:
        _wait_for(run, f"publish step {step}:")
        run.send_signal(signum)
        assert run.wait(timeout=60) == 130
        assert run.stderr.read().splitlines()[-1] == f"symbp: interrupted after writing {out}"
    assert listing(out) == sets["B"] and list(tmpdir.iterdir()) == []
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".out.")] == []


LAUNCHERS = {  # python -m symbp, and the installed script (its file is named symbp); -X importtime
    # tells the test when symbp's own handler is in place (before it, Ctrl-C is Python's)
    "module": lambda tmp: [sys.executable, "-X", "importtime", "-m", "symbp"],
    "script": lambda tmp: [sys.executable, "-X", "importtime", str(_script(tmp))],
}


def _script(tmp: Path) -> Path:
    script = tmp / "symbp"
    script.write_text("import sys\nfrom symbp.cli.main import main\nsys.exit(main())\n")
    return script


STARTING = {  # what a command interrupted before it publishes says
    "prove": (["prove", "--widths", "12,12,12,12", "--method", "expand"], "interrupted"),
    "derive": (["derive", "--widths", "12,12,12,12", "--method", "expand", "--out", "new"],
               "interrupted; earlier outputs are unchanged"),
}


@pytest.mark.parametrize("launcher", LAUNCHERS)
@pytest.mark.parametrize(("delay", "command"), [(0.0, "prove"), (0.3, "derive"),
                                                (0.6, "prove"), (0.6, "derive")])
def test_ctrl_c_while_starting_exits_130_without_a_traceback(tmp_path, launcher, delay,
                                                             command):
    args, said = STARTING[command]
    with subprocess.Popen([*LAUNCHERS[launcher](tmp_path), *args], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, cwd=tmp_path) as run:
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(run.stderr), daemon=True)
        while (line := run.stderr.readline()).split("|")[-1].strip() != "symbp.cli":
            assert line, "symbp.cli was never imported"
        reader.start()  # from here on a full pipe must not block the child
        time.sleep(delay)  # in the rest of the imports, or just after them
        run.send_signal(signal.SIGINT)
        code = run.wait(timeout=60)
        reader.join(timeout=10)
    said_lines = [line for line in lines if not line.startswith("import time:")]
    assert (code, said_lines) == (130, [f"symbp: {said}\n"])
    assert not (tmp_path / "new").exists()


def test_a_symbp_started_with_ctrl_c_ignored_keeps_ignoring_it(tmp_path):
    # as a shell asks of a background job (and as Python does): not ignored during the imports
    # and then honoured once main runs
    command = f"trap '' INT; exec {sys.executable} -m symbp prove --widths 3,3,3 -q"
    with subprocess.Popen(["sh", "-c", command], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, cwd=tmp_path) as run:
        for _ in range(4):
            time.sleep(0.3)
            run.send_signal(signal.SIGINT)
        assert (run.wait(timeout=60), run.stderr.read()) == (0, "")
        assert "proved (expand)" in run.stdout.read()


def test_stale_latex_folders_of_dead_processes_are_swept(tmp_path, monkeypatch):
    from symbp.render import latex

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = tmp_path / f"{latex.TEMP_PREFIX}{dead}-abc"
    live = tmp_path / f"{latex.TEMP_PREFIX}{os.getpid()}-def"
    for folder in (stale, live):
        (folder / "derivation.tex").parent.mkdir()
        (folder / "derivation.tex").write_text("%")
    latex.sweep_stale_folders()
    assert not stale.exists() and live.exists()
