"""Output folders are written as one set: locked, staged, published at once, recoverable."""

import errno
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from symbp.cli import outputs
from symbp.cli.main import main
from symbp.cli.outputs import MANIFEST, STAGE_PREFIX, FolderBusy, OutputError, OutputFolder

OLD = {"derivation.tex": b"old tex\n", "gradients.py": b"old code\n", "proof.json": b"{}\n"}
NEW = {"derivation.tex": b"new tex\n", "proof.json": b'{"new": 1}\n'}


def listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() if p.is_file() else b"<folder>"
            for p in sorted(folder.iterdir())}


def published(files: dict[str, bytes]) -> dict[str, bytes]:
    manifest = "".join(f"{name}\n" for name in sorted(files)).encode()
    return {**files, MANIFEST: manifest}


def test_a_set_replaces_the_earlier_set_and_keeps_user_files(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")  # the user's, never listed in a manifest
    assert outputs.commit(out, OLD) == [out / name for name in OLD]
    assert listing(out) == {**published(OLD), "notes.txt": b"mine"}
    outputs.commit(out, NEW)  # gradients.py of the earlier set goes; notes.txt stays
    assert listing(out) == {**published(NEW), "notes.txt": b"mine"}


def test_files_of_an_earlier_symbp_without_a_manifest_are_left_alone(tmp_path):
    (tmp_path / "gradients.py").write_text("from an older symbp")
    outputs.commit(tmp_path, NEW)
    assert (tmp_path / "gradients.py").read_text() == "from an older symbp"


def test_nothing_changes_until_publish_and_nothing_stays_without_it(tmp_path):
    outputs.commit(tmp_path, OLD)
    before = listing(tmp_path)
    with OutputFolder(tmp_path) as folder:
        folder.stage(NEW)
        assert {n: d for n, d in listing(tmp_path).items() if not n.startswith(STAGE_PREFIX)} \
            == before
    assert listing(tmp_path) == before  # staged, never published: as if it never ran


def test_an_error_while_staging_changes_nothing(tmp_path):
    outputs.commit(tmp_path, OLD)
    before = listing(tmp_path)

    def failing_run():
        with OutputFolder(tmp_path) as folder:
            folder.stage(NEW)
            raise RuntimeError("the build failed")

    with pytest.raises(RuntimeError):
        failing_run()
    assert listing(tmp_path) == before


def test_a_folder_this_run_made_is_removed_when_it_publishes_nothing(tmp_path):
    out = tmp_path / "a" / "b" / "c"

    def interrupted_run():
        with OutputFolder(out) as folder:
            folder.stage(NEW)
            assert out.is_dir()
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted_run()
    assert not (tmp_path / "a").exists()


def test_a_second_run_is_refused_while_the_first_holds_the_folder(tmp_path):
    with OutputFolder(tmp_path) as first:
        first.stage(NEW)
        with pytest.raises(FolderBusy, match="in use by another symbp run"), \
                OutputFolder(tmp_path):
            pass
        assert len(list(tmp_path.glob(f"{STAGE_PREFIX}*"))) == 1  # the refused run swept nothing
        first.publish()
    assert listing(tmp_path) == published(NEW)


def test_a_second_process_is_refused_with_exit_3_and_changes_nothing(tmp_path):
    with OutputFolder(tmp_path) as first:
        first.stage(NEW)
        result = subprocess.run([sys.executable, "-m", "symbp", "derive", "--widths", "2,2",
                                 "--format", "json", "--out", str(tmp_path)],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 3
        assert result.stderr == (f"symbp: error: output folder {tmp_path} is in use by another "
                                 "symbp run; run again when it has finished\n")
        first.publish()
    assert listing(tmp_path) == published(NEW)


def _killed_mid_publish(out: Path, moved: int) -> Path:
    """What a run killed after renaming ``moved`` files leaves: a complete staging folder."""
    staging = out / f"{STAGE_PREFIX}99999-x"
    staging.mkdir()
    for name, data in NEW.items():
        (staging / name).write_bytes(data)
    (staging / MANIFEST).write_text("".join(f"{n}\n" for n in sorted(NEW)))
    for name in sorted(NEW)[:moved]:
        os.replace(staging / name, out / name)
    return staging


@pytest.mark.parametrize("moved", [0, 1, 2])
def test_the_next_run_finishes_a_publish_cut_short(tmp_path, moved):
    outputs.commit(tmp_path, OLD)
    _killed_mid_publish(tmp_path, moved)
    with OutputFolder(tmp_path):  # taking the folder rolls the complete set forward
        pass
    assert listing(tmp_path) == published(NEW)


def test_the_next_run_removes_an_incomplete_staging_folder(tmp_path):
    outputs.commit(tmp_path, OLD)
    staging = tmp_path / f"{STAGE_PREFIX}99999-y"
    (staging / "latex-abc").mkdir(parents=True)  # pdflatex was working in it
    (staging / "derivation.tex").write_bytes(b"half")
    with OutputFolder(tmp_path):
        pass
    assert listing(tmp_path) == published(OLD)


def test_a_folder_in_the_way_is_reported_before_any_work(tmp_path, monkeypatch):
    (tmp_path / "proof.json").mkdir()
    with pytest.raises(OutputError, match=r"proof\.json: a folder of that name is in the way"):
        OutputFolder(tmp_path, ["derivation.tex", "proof.json"]).__enter__()
    assert listing(tmp_path) == {"proof.json": b"<folder>"}
    monkeypatch.chdir(tmp_path)
    assert main(["derive", "--widths", "2,2", "--format", "tex,json", "--out", "."]) == 3
    assert listing(tmp_path) == {"proof.json": b"<folder>"}


def test_a_full_disk_is_exit_3_with_one_line_and_changes_nothing(tmp_path, monkeypatch,
                                                                 capsys):
    outputs.commit(tmp_path, OLD)
    before = listing(tmp_path)
    real_open = os.open

    def full(path, flags, *rest, **options):  # a file of the staging folder, made by name in it
        if options.get("dir_fd") is not None and str(path).endswith(".md"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real_open(path, flags, *rest, **options)

    monkeypatch.setattr(os, "open", full)
    assert main(["derive", "--widths", "2,2", "--format", "tex,md,json",
                 "--out", str(tmp_path)]) == 3
    err = capsys.readouterr().err
    assert err == (f"symbp: error: cannot write {tmp_path / 'derivation.md'}: No space left on "
                   "device (the disk is full)\n")
    assert listing(tmp_path) == before


def test_a_file_size_limit_is_exit_3_not_a_signal(tmp_path):
    outputs.commit(tmp_path, OLD)
    before = listing(tmp_path)
    # ulimit -f 16: 8 or 16 kB by the shell's unit, below the 23 kB derivation.tex either way
    # (a shell, not a preexec_fn: that would fork this multi-threaded interpreter)
    result = subprocess.run(["sh", "-c", 'ulimit -f 16 && exec "$@"', "sh", sys.executable,
                             "-m", "symbp", "derive", "--widths", "2,2", "--format", "tex,json",
                             "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 3, result.stderr
    assert result.stderr.count("\n") == 1 and "File too large" in result.stderr
    assert "ulimit -f" in result.stderr
    assert listing(tmp_path) == before


@pytest.mark.parametrize("out", ["/proc", "/proc/symbp-out", "/sys/kernel/symbp-out"])
def test_an_unwritable_folder_is_exit_3_with_one_line(out, capsys):
    assert main(["derive", "--widths", "2,2", "--format", "json", "--out", out]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("symbp: error: cannot ")
    assert not Path(out).exists() or out == "/proc"


def test_stdout_on_a_full_device_is_exit_3(tmp_path):
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "symbp", "list"], stdout=full,
                                stderr=subprocess.PIPE, text=True, timeout=120)
    assert result.returncode == 3
    assert "No space left on device" in result.stderr and "Traceback" not in result.stderr


def test_ctrl_c_while_publishing_is_held_back_and_then_reported_truthfully(tmp_path,
                                                                          monkeypatch, capsys):
    outputs.commit(tmp_path, OLD)
    real = outputs._paused

    def interrupted(pause, step, what):
        if step == 0:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C after the first rename of the window
        return real(pause, step, what)

    monkeypatch.setattr(outputs, "_paused", interrupted)
    monkeypatch.setattr(outputs, "published", [])
    code = main(["derive", "--widths", "2,2", "--format", "json", "--out", str(tmp_path)])
    assert code == 130
    assert capsys.readouterr().err == f"symbp: interrupted after writing {tmp_path}\n"
    assert set(listing(tmp_path)) == {MANIFEST, "proof.json"}  # the whole new set


def test_a_failed_publish_is_finished_by_the_next_run(tmp_path, monkeypatch):
    outputs.commit(tmp_path, OLD)

    def broken(src, dst, **where):
        raise OSError(errno.EIO, os.strerror(errno.EIO), str(dst))

    def run():
        with OutputFolder(tmp_path) as folder:
            folder.stage(NEW)
            folder.publish()

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OutputError, match="the next symbp run on this folder completes it"):
        run()
    monkeypatch.undo()
    assert any(p.name.startswith(STAGE_PREFIX) for p in tmp_path.iterdir())  # kept, complete
    with OutputFolder(tmp_path):
        pass
    assert listing(tmp_path) == published(NEW)


def test_pdflatex_failing_is_exit_3_with_one_line_and_changes_nothing(tmp_path, monkeypatch,
                                                                      capsys):
    out = tmp_path / "out"
    outputs.commit(out, OLD)
    before = listing(out)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pdflatex").write_text("#!/bin/sh\ncat > derivation.log <<'EOF'\n"
                                      "! LaTeX Error: File `x.sty' not found.\n"
                                      "l.3 \\usepackage\nEOF\nexit 1\n")
    (bin_dir / "pdflatex").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    assert main(["derive", "--widths", "2,2", "--format", "tex,pdf", "--out", str(out)]) == 3
    assert capsys.readouterr().err == ("symbp: error: pdflatex failed: ! LaTeX Error: File "
                                       "`x.sty' not found. | l.3 \\usepackage\n")
    assert listing(out) == before


def test_a_bug_is_exit_4_with_one_line(monkeypatch, capsys):
    from symbp.cli import commands

    def broken(args):
        raise TypeError("unsupported operand")

    monkeypatch.setitem(commands.COMMANDS, "list", broken)
    assert main(["list"]) == 4
    assert capsys.readouterr().err == ("symbp: internal error: TypeError: unsupported operand "
                                       "(this is a bug; SYMBP_TRACEBACK=1 shows where)\n")


# ---------------------------------------------------------------- hostile folders


def _planted_staging(out: Path, manifest: str | None = "derivation.tex\n") -> Path:
    staging = out / f"{STAGE_PREFIX}4242-planted"
    staging.mkdir(mode=0o700)
    (staging / "derivation.tex").write_bytes(b"planted\n")
    if manifest is not None:
        (staging / MANIFEST).write_text(manifest)
    return staging


def test_a_staging_link_is_removed_never_followed(tmp_path):
    """ln -s ../other out/.symbp-stage-1-x: the other folder's files stay where they are."""
    out, other = tmp_path / "out", tmp_path / "other"
    outputs.commit(out, OLD)
    other.mkdir()
    (other / "derivation.tex").write_text("not symbp's")
    (other / MANIFEST).write_text("derivation.tex\n")
    (out / f"{STAGE_PREFIX}1-x").symlink_to("../other")
    outputs.commit(out, NEW)
    assert listing(other) == {"derivation.tex": b"not symbp's", MANIFEST: b"derivation.tex\n"}
    assert listing(out) == published(NEW)


@pytest.mark.parametrize("kind", ["folder", "fifo", "link to /dev/zero", "dangling link",
                                  "not UTF-8", "huge"])
def test_an_odd_manifest_is_never_read_and_never_mixes_the_set(tmp_path, kind):
    """The earlier manifest is read before anything moves, only when it is a regular file of
    sensible size, without blocking: a FIFO or /dev/zero never stalls a run."""
    outputs.commit(tmp_path, OLD)
    (tmp_path / MANIFEST).unlink()
    manifest = tmp_path / MANIFEST
    if kind == "folder":
        manifest.mkdir()
    elif kind == "fifo":
        os.mkfifo(manifest)
    elif kind == "link to /dev/zero":
        manifest.symlink_to("/dev/zero")
    elif kind == "dangling link":
        manifest.symlink_to("nowhere")
    elif kind == "not UTF-8":
        manifest.write_bytes(b"gradients.py\n\xff\n")
    else:
        manifest.write_bytes(b"x" * (outputs.MAX_MANIFEST_BYTES + 1))
    before = listing(tmp_path)
    if kind == "folder":  # cannot be replaced: refused before anything changes
        with pytest.raises(OutputError, match=r"\.symbp-manifest: a folder of that name"):
            outputs.commit(tmp_path, NEW)
        assert listing(tmp_path) == before
        return
    outputs.commit(tmp_path, NEW)  # no earlier list: the earlier set's files stay
    assert listing(tmp_path) == {**published(NEW), "gradients.py": b"old code\n"}


@pytest.mark.parametrize("manifest", [None, "derivation.tex\nsub\n", "../escape\n",
                                      "derivation.tex\nlink\n", "\xff"])
def test_a_malformed_leftover_is_removed_and_never_wedges(tmp_path, manifest):
    """A leftover staging folder without a manifest, or one that names a folder, a link, a
    name with a slash, is not a set: it is removed, and every later run works."""
    outputs.commit(tmp_path, OLD)
    staging = _planted_staging(tmp_path, manifest)
    (staging / "sub").mkdir()
    (staging / "link").symlink_to("/etc/passwd")
    for _ in range(2):
        outputs.commit(tmp_path, NEW)
        assert listing(tmp_path) == published(NEW)


def test_a_leftover_writable_by_others_is_refused_not_published(tmp_path):
    outputs.commit(tmp_path, OLD)
    staging = _planted_staging(tmp_path)
    staging.chmod(0o777)
    before = listing(tmp_path)
    with pytest.raises(OutputError, match=r"can be written by anyone .* will not use it"):
        outputs.commit(tmp_path, NEW)
    assert listing(tmp_path) == before


@pytest.mark.skipif(os.geteuid() != 0, reason="making a folder of another user needs root")
def test_a_staging_folder_of_another_user_is_refused_with_one_line(tmp_path, capsys):
    """A second user (uid 65534, nobody) plants a complete staging folder: never published."""
    outputs.commit(tmp_path, OLD)
    staging = _planted_staging(tmp_path)
    for path in (staging, *staging.iterdir()):
        os.chown(path, 65534, 65534)
    before = listing(tmp_path)
    assert main(["derive", "--widths", "2,2", "--format", "json", "--out", str(tmp_path)]) == 3
    err = capsys.readouterr().err
    assert err == (f"symbp: error: a leftover staging folder is not safe to publish: {staging} "
                   "belongs to uid 65534, not to you (uid 0): symbp will not use it; remove it, "
                   "or use another folder\n")
    assert listing(tmp_path) == before


def test_every_step_of_the_window_leaves_a_describable_set(tmp_path, monkeypatch):
    """What a reader sees after each step of publishing NEW over OLD (the README's list): the
    new files one by one in name order, then the earlier set's other files removed, then the
    manifest."""
    seen = []

    def look(pause, step, what):
        seen.append((what, {n: d for n, d in listing(tmp_path).items()
                            if not n.startswith(STAGE_PREFIX)}))
        return step + 1

    outputs.commit(tmp_path, OLD)
    monkeypatch.setattr(outputs, "_paused", look)
    outputs.commit(tmp_path, NEW)
    visible = published(OLD)
    expected = []
    for name in sorted(NEW):
        visible = {**visible, name: NEW[name]}
        expected.append((f"renamed {name}", visible))
    visible = {n: d for n, d in visible.items() if n != "gradients.py"}
    expected.append(("removed gradients.py", visible))
    expected.append(("renamed the manifest", published(NEW)))
    assert seen == expected
