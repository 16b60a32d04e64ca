"""What other users and odd names can plant: nothing runs from a folder others can write, and
no name given to symbp becomes code in a generated module."""

import ast
import os
import sys
from pathlib import Path

import pytest

import symbp
from symbp.core.safe_paths import UnsafeFolder
from symbp.numeric import backends
from symbp.numeric.codegen import module_source
from symbp.numeric.numba_codegen import numba_module_source

AS_ROOT = pytest.mark.skipif(os.geteuid() != 0, reason="a folder of another user needs root")
NOBODY = 65534

# ---------------------------------------------------------------- the numba cache


def _source(tmp_path: Path) -> str:
    """A module whose file, if it ran instead of this source, would leave a mark."""
    return f"VALUE = 42  # {tmp_path}\n"


def _plant(folder: Path, source: str, mark: Path) -> None:
    """Another user's folder holding the cache file of ``source`` (and its __pycache__) with
    code of theirs in it."""
    name = backends._load_cached.__globals__["hashlib"].sha256(source.encode()).hexdigest()[:24]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "__pycache__").mkdir(exist_ok=True)
    (folder / f"symbp_gradients_{name}.py").write_text(f"open({str(mark)!r}, 'w')\nVALUE = 1\n")
    for path in (folder, *folder.iterdir()):
        os.chown(path, NOBODY, NOBODY)


@AS_ROOT
@pytest.mark.parametrize("where", ["cache", "temporary fallback"])
def test_a_cache_folder_of_another_user_is_refused_and_nothing_of_it_runs(tmp_path, monkeypatch,
                                                                         where):
    mark, source = tmp_path / "ran", _source(tmp_path)
    cache, temporary = tmp_path / "cache", tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(backends.tempfile, "gettempdir", lambda: str(temporary))
    if where == "cache":
        monkeypatch.setenv("SYMBP_CACHE_DIR", str(cache))
        planted = cache
    else:  # the cache cannot be made (a file is in the way): the fallback is taken
        (tmp_path / "a file").write_text("")
        monkeypatch.setenv("SYMBP_CACHE_DIR", str(tmp_path / "a file" / "cache"))
        planted = temporary / f"symbp-cache-{os.getuid()}"
    _plant(planted, source, mark)
    with pytest.raises(UnsafeFolder) as info:
        backends._load_cached(source)
    assert str(info.value) == (f"{planted} belongs to uid {NOBODY}, not to you (uid 0): symbp "
                               "will not use it; remove it, or use another folder")
    assert not mark.exists()
    assert not [m for m in sys.modules if m.startswith("symbp_gradients_")
                and getattr(sys.modules[m], "VALUE", None) in (1, 42)]


@AS_ROOT
def test_a_pycache_of_another_user_is_refused(tmp_path, monkeypatch):
    """numba loads compiled code (pickles) from __pycache__: it must be private too."""
    monkeypatch.setenv("SYMBP_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "cache" / "__pycache__").mkdir(parents=True, mode=0o700)
    (tmp_path / "cache").chmod(0o700)
    os.chown(tmp_path / "cache" / "__pycache__", NOBODY, NOBODY)
    with pytest.raises(UnsafeFolder, match=r"__pycache__ belongs to uid 65534"):
        backends._load_cached(_source(tmp_path))


@pytest.mark.parametrize(("mode", "who"), [(0o777, "anyone"), (0o770, "its group")])
def test_a_cache_folder_others_may_write_is_refused(tmp_path, monkeypatch, mode, who):
    cache = tmp_path / "cache"
    cache.mkdir()
    cache.chmod(mode)
    monkeypatch.setenv("SYMBP_CACHE_DIR", str(cache))
    with pytest.raises(UnsafeFolder, match=f"can be written by {who} "):
        backends._load_cached(_source(tmp_path))
    assert os.listdir(cache) == []


def test_a_cache_folder_that_is_a_link_is_refused(tmp_path, monkeypatch):
    (tmp_path / "real").mkdir(mode=0o700)
    (tmp_path / "cache").symlink_to("real")
    monkeypatch.setenv("SYMBP_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(UnsafeFolder, match="is a symbolic link"):
        backends._load_cached(_source(tmp_path))


def test_a_private_cache_is_made_private_and_used(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMBP_CACHE_DIR", str(tmp_path / "new" / "cache"))
    module = backends._load_cached(_source(tmp_path))
    sys.modules.pop(module.__name__)
    assert module.VALUE == 42
    for folder in (tmp_path / "new" / "cache", tmp_path / "new" / "cache" / "__pycache__"):
        assert folder.stat().st_mode & 0o777 == 0o700


# ---------------------------------------------------------------- names in generated code

HOSTILE_NAMES = [
    '"""; import os; os.system("touch PWNED") #',
    "'''; import os; os.system('touch PWNED') #",
    '\\"""; raise SystemExit #',
    "\\", "\\\\", '"', 'a"', "\\N{BULLET}", "\\x00",
    "line\nimport os", "cr\rimport os", "nul\x00", "sep\u2028import os", "para\u2029",
    "nel\x85", "tab\tfeed\x0c", "del\x7f", "surrogate\udcff",
    "δ_recursion", "",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=[repr(n) for n in HOSTILE_NAMES])
def test_no_recursion_name_can_add_code_to_a_generated_module(name, tmp_path, monkeypatch):
    """The name shows in the docstring as its repr; the module parses to the same statements
    as with an ordinary name, imports, and runs nothing else."""
    monkeypatch.chdir(tmp_path)

    def recursion(ops):
        return symbp.backprop_deltas(ops)

    plain = module_source(symbp.derive(symbp.Network([2, 2]), recursion=recursion))
    recursion.__name__ = name
    d = symbp.derive(symbp.Network([2, 2]), recursion=recursion)
    for source, reference in ((module_source(d), plain), (numba_module_source(d), None)):
        tree = ast.parse(source)
        assert repr(name) in ast.get_docstring(tree, clean=False)
        if reference is not None:  # the same statements as with an ordinary name
            assert [ast.dump(s) for s in tree.body[1:]] == [ast.dump(s) for s in
                                                            ast.parse(reference).body[1:]]
    namespace: dict = {}
    exec(compile(module_source(d), "gradients.py", "exec"), namespace)
    assert namespace["grad"] and not (tmp_path / "PWNED").exists()
