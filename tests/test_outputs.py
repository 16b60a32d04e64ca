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
from symbp.cli.outputs import (
    BY_RENAMES,
    MANIFEST,
    STAGE_PREFIX,
    FolderBusy,
    OutputError,
    OutputFolder,
    exchange,
    sets,
)
from symbp.core import safe_paths

OLD = {"derivation.tex": b"old tex\n", "gradients.py": b"old code\n", "proof.json": b"{}\n"}
NEW = {"derivation.tex": b"new tex\n", "proof.json": b'{"new": 1}\n'}


def listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() if p.is_file() else b"<folder>"
            for p in sorted(folder.iterdir())}


def published(files: dict[str, bytes]) -> dict[str, bytes]:
    manifest = "".join(f"{name}\n" for name in sorted(files)).encode()
    return {**files, MANIFEST: manifest}


def staging_folders(out: Path) -> list[Path]:
    """Staging folders of runs into ``out``: inside it (by renames) or beside it."""
    return sorted([*out.glob(f"{STAGE_PREFIX}*"), *out.parent.glob(f".{out.name}.symbp-*")])


@pytest.fixture(params=["exchange", "renames"])
def way(request, monkeypatch):
    """Publishing by exchange (where the system can), or by renames (the fallback)."""
    if request.param == "renames":
        monkeypatch.setenv(BY_RENAMES, "1")
    else:
        monkeypatch.delenv(BY_RENAMES, raising=False)
    return request.param


def test_a_set_replaces_the_earlier_set_and_keeps_user_files(tmp_path, way):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")  # the user's, never listed in a manifest
    assert outputs.commit(out, OLD) == [out / name for name in OLD]
    assert listing(out) == {**published(OLD), "notes.txt": b"mine"}
    outputs.commit(out, NEW)  # gradients.py of the earlier set goes; notes.txt stays
    assert listing(out) == {**published(NEW), "notes.txt": b"mine"}
    assert staging_folders(out) == []


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


def test_a_second_run_is_refused_while_the_first_holds_the_folder(tmp_path, way):
    with OutputFolder(tmp_path) as first:
        first.stage(NEW)
        with pytest.raises(FolderBusy, match="in use by another symbp run"), \
                OutputFolder(tmp_path):
            pass
        assert len(staging_folders(tmp_path)) == 1  # the refused run swept nothing
        first.publish()
        with pytest.raises(FolderBusy, match="in use by another symbp run"), \
                OutputFolder(tmp_path):  # after the exchange too: the lock went along
            pass
    assert listing(tmp_path) == published(NEW) and staging_folders(tmp_path) == []


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


def test_ctrl_c_while_publishing_is_held_back_and_then_reported_truthfully(tmp_path, way,
                                                                          monkeypatch, capsys):
    outputs.commit(tmp_path, OLD)
    real = sets.paused

    def interrupted(pause, step, what):
        if step == 0:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C after the first rename of the window
        return real(pause, step, what)

    monkeypatch.setattr(sets, "paused", interrupted)
    monkeypatch.setattr(outputs, "published", [])
    code = main(["derive", "--widths", "2,2", "--format", "json", "--out", str(tmp_path)])
    assert code == 130
    assert capsys.readouterr().err == f"symbp: interrupted after writing {tmp_path}\n"
    assert set(listing(tmp_path)) == {MANIFEST, "proof.json"}  # the whole new set


def test_a_failed_publish_is_finished_by_the_next_run(tmp_path, monkeypatch):
    monkeypatch.setenv(BY_RENAMES, "1")  # a rename of the window fails (renames only)
    outputs.commit(tmp_path, OLD)

    def broken(src, dst, **where):
        raise OSError(errno.EIO, os.strerror(errno.EIO), str(dst))

    real_replace = os.replace

    def run():
        with OutputFolder(tmp_path) as folder:
            folder.stage(NEW)
            folder.publish()

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OutputError, match="the next symbp run on this folder completes it"):
        run()
    monkeypatch.setattr(os, "replace", real_replace)
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

    monkeypatch.setattr(commands, "run_list", broken)
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


def test_a_staging_link_is_removed_never_followed(tmp_path, way):
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
def test_an_odd_manifest_is_never_read_and_never_mixes_the_set(tmp_path, kind, way):
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

    monkeypatch.setenv(BY_RENAMES, "1")
    outputs.commit(tmp_path, OLD)
    monkeypatch.setattr(sets, "paused", look)
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


# ---------------------------------------------------------------- publishing by exchange


def _user_entries(out: Path) -> dict[str, int]:
    """The user's own entries in ``out``: a file, a link, a FIFO and a folder with a file in
    it; their inode numbers."""
    (out / "notes.txt").write_text("mine")
    (out / "link").symlink_to("notes.txt")
    os.mkfifo(out / "fifo")
    (out / "drafts").mkdir()
    (out / "drafts" / "a.tex").write_text("draft")
    return {name: os.lstat(out / name).st_ino for name in ("notes.txt", "link", "fifo",
                                                          "drafts")}


USER = {"notes.txt": b"mine", "link": b"mine", "fifo": b"<fifo>", "drafts": b"<folder>"}


def with_user(files: dict[str, bytes]) -> dict[str, bytes]:
    return {**files, **USER}


def user_listing(folder: Path) -> dict[str, bytes]:
    return {p.name: b"<fifo>" if p.is_fifo() else p.read_bytes() if p.is_file() else
            b"<folder>" for p in sorted(folder.iterdir())}


def test_the_folder_is_exchanged_and_the_users_entries_are_the_same_files(tmp_path):
    out = tmp_path / "out"
    outputs.commit(out, OLD)
    inodes = _user_entries(out)
    earlier = out.stat().st_ino
    with OutputFolder(out, NEW) as folder:
        assert folder.staging.parent == tmp_path and folder.fallback is None
        folder.stage(NEW)
        folder.publish()
    assert out.stat().st_ino != earlier  # a new folder at the name
    assert user_listing(out) == with_user(published(NEW))
    assert {n: os.lstat(out / n).st_ino for n in inodes} == inodes  # linked or moved, no copy
    assert (out / "drafts" / "a.tex").read_text() == "draft"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_every_step_of_the_exchange_shows_one_set(tmp_path, monkeypatch):
    """A reader who looks up the folder by its name after each step: the earlier set until
    the exchange, the new set from it on; the user's folder moves back right after."""
    out = tmp_path / "out"
    outputs.commit(out, OLD)
    _user_entries(out)
    seen = []

    def look(pause, step, what):
        seen.append((what.split(" ")[0], user_listing(out)))
        return step + 1

    monkeypatch.setattr(sets, "paused", look)
    outputs.commit(out, NEW)
    folderless = {n: d for n, d in with_user(published(NEW)).items() if n != "drafts"}
    assert seen == [("the", with_user(published(OLD))), ("exchanged", folderless),
                    ("moved", with_user(published(NEW))),
                    ("removed", with_user(published(NEW)))]


def test_the_owner_mode_of_the_folder_is_kept(tmp_path):
    out = tmp_path / "out"
    out.mkdir(mode=0o755)
    out.chmod(0o2751)
    outputs.commit(out, NEW)
    assert out.stat().st_mode & 0o7777 == 0o2751


def test_a_process_working_in_the_folder_moves_along(tmp_path, monkeypatch):
    out = tmp_path / "out"
    outputs.commit(out, OLD)
    monkeypatch.chdir(out)
    outputs.commit(".", NEW)
    assert os.stat(".").st_ino == out.stat().st_ino and Path("proof.json").read_bytes() == \
        NEW["proof.json"]


def _leftover(out: Path, kind: str, files: dict[str, bytes]) -> Path:
    """A folder beside ``out`` as a run killed at that point leaves it."""
    kind_prefix = exchange.prefixes(out.name)[kind == "ready"]
    left = out.parent / f"{kind_prefix}4242-cafe"
    left.mkdir(mode=0o700)
    for name, data in files.items():
        (left / name).write_bytes(data)
    return left


def test_a_run_killed_before_the_exchange_leaves_the_earlier_set(tmp_path):
    out = tmp_path / "out"
    outputs.commit(out, OLD)
    _user_entries(out)
    _leftover(out, "next", {"derivation.tex": b"half"})  # killed while staging
    ready = _leftover(out, "ready", published(NEW))  # killed just before the exchange
    os.link(out / "notes.txt", ready / "notes.txt")
    with OutputFolder(out):
        pass
    assert user_listing(out) == with_user(published(OLD))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_run_killed_after_the_exchange_is_tidied_and_the_users_folder_comes_back(tmp_path):
    """The earlier folder, at the ready name, still holds the earlier set and the user's
    folder (not moved back yet): symbp's files go, the folder comes back, nothing else."""
    out = tmp_path / "out"
    outputs.commit(out, NEW)
    old = _leftover(out, "ready", published(OLD))
    (old / "drafts").mkdir()
    (old / "drafts" / "a.tex").write_text("draft")
    (old / "notes.txt").write_text("mine")
    os.link(old / "notes.txt", out / "notes.txt")
    (old / "derivation.tex").write_bytes(b"an earlier file the new set replaced")
    with OutputFolder(out):
        pass
    assert listing(out) == {**published(NEW), "drafts": b"<folder>", "notes.txt": b"mine"}
    assert (out / "drafts" / "a.tex").read_text() == "draft"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize("kind", ["next", "ready"])
def test_a_leftover_beside_that_is_a_link_is_removed_never_followed(tmp_path, kind):
    out, other = tmp_path / "out", tmp_path / "other"
    outputs.commit(out, OLD)
    other.mkdir()
    (other / "derivation.tex").write_text("not symbp's")
    link = out.parent / f"{exchange.prefixes('out')[kind == 'ready']}1-x"
    link.symlink_to("other")
    outputs.commit(out, NEW)
    assert listing(other) == {"derivation.tex": b"not symbp's"} and not link.is_symlink()
    assert listing(out) == published(NEW)


def test_a_next_leftover_writable_by_others_is_refused(tmp_path):
    out = tmp_path / "out"
    outputs.commit(out, OLD)
    left = _leftover(out, "next", published(NEW))
    left.chmod(0o777)
    with pytest.raises(OutputError, match=r"can be written by anyone .* will not use it"):
        outputs.commit(out, NEW)
    assert listing(out) == published(OLD) and listing(left) == published(NEW)


@pytest.mark.skipif(os.geteuid() != 0, reason="making a folder of another user needs root")
@pytest.mark.parametrize("kind", ["next", "ready"])
def test_a_leftover_beside_of_another_user_is_refused_with_one_line(tmp_path, capsys, kind):
    out = tmp_path / "out"
    outputs.commit(out, OLD)
    left = _leftover(out, kind, published(NEW))
    for path in (left, *left.iterdir()):
        os.chown(path, 65534, 65534)
    assert main(["derive", "--widths", "2,2", "--format", "json", "--out", str(out)]) == 3
    assert capsys.readouterr().err == (
        f"symbp: error: a leftover staging folder is not safe to publish: {left} belongs to "
        "uid 65534, not to you (uid 0): symbp will not use it; remove it, or use another "
        "folder\n")
    assert listing(out) == published(OLD) and listing(left) == published(NEW)


@pytest.mark.parametrize(("failure", "why"), [
    ("exchange", "its filesystem cannot exchange two folders"),
    ("parent", "its parent folder cannot be written (Permission denied)"),
    ("system", "this system has no renameat2"),
])
def test_where_the_folder_cannot_be_exchanged_it_is_published_by_renames(
        tmp_path, monkeypatch, capsys, failure, why):
    out = tmp_path / "out"
    outputs.commit(out, OLD)
    if failure == "exchange":
        def cannot(*args):
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        monkeypatch.setattr(safe_paths, "exchange", cannot)
    elif failure == "parent":
        real_mkdir = os.mkdir

        def refused(path, *args, **where):
            if str(path).startswith(".out.symbp-next-"):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
            return real_mkdir(path, *args, **where)
        monkeypatch.setattr(os, "mkdir", refused)
    else:
        monkeypatch.setattr(safe_paths, "_RENAMEAT2", None)
    with OutputFolder(out, NEW) as folder:
        assert folder.staging.parent == out
        assert folder.fallback == f"{out} is published file by file, not in one step: {why}"
        folder.stage(NEW)
        folder.publish()
    assert listing(out) == published(NEW) and sorted(tmp_path.iterdir()) == [out]
    assert main(["derive", "--widths", "2,2", "--format", "json", "--out", str(out)]) == 0
    assert capsys.readouterr().err == f"note: {out} is published file by file, not in one " \
                                      f"step: {why}\n"


def test_a_failed_exchange_changes_nothing(tmp_path, monkeypatch):
    out = tmp_path / "out"
    outputs.commit(out, OLD)
    real = safe_paths.exchange

    def broken(name, other, folder):
        if name.startswith(".out.symbp-ready-"):
            raise OSError(errno.EIO, os.strerror(errno.EIO), name)
        return real(name, other, folder)

    monkeypatch.setattr(safe_paths, "exchange", broken)
    with pytest.raises(OutputError, match=f"cannot publish into {out}: Input/output error"):
        outputs.commit(out, NEW)
    assert listing(out) == published(OLD) and sorted(tmp_path.iterdir()) == [out]


def test_a_folder_exchanged_while_the_lock_is_taken_is_looked_up_again(tmp_path, monkeypatch):
    """Between opening the folder and locking it, another run exchanged it and finished: the
    lock is taken again on the folder now at the name, and the set lands there."""
    out, other = tmp_path / "out", tmp_path / "other"
    outputs.commit(out, OLD)
    other.mkdir()
    real, calls = outputs.fcntl.flock, []

    def exchanged_first(fd, operation):
        if not calls:
            parent = os.open(tmp_path, os.O_RDONLY)
            safe_paths.exchange("other", "out", parent)
            os.close(parent)
        calls.append(fd)
        return real(fd, operation)

    monkeypatch.setattr(outputs.fcntl, "flock", exchanged_first)
    outputs.commit(out, NEW)
    assert listing(out) == published(NEW) and listing(other) == published(OLD)
    assert len(calls) == 3  # the first folder, the one at the name now, the staging folder


def test_a_committed_folder_stays_clean_in_git(tmp_path):
    """output/default is in git: publishing the same set again changes no tracked byte, and
    the user's file stays (untracked)."""
    out = tmp_path / "out"
    outputs.commit(out, OLD)
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    for args in (["init", "-q"], ["add", "out"], ["commit", "-qm", "set"]):
        subprocess.run([*git, *args], check=True, capture_output=True)
    (out / "notes.txt").write_text("mine")
    outputs.commit(out, OLD)
    status = subprocess.run([*git, "status", "--porcelain"], check=True, capture_output=True,
                            text=True).stdout
    assert status == "?? out/notes.txt\n"
