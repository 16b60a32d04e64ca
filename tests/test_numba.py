"""The numba backend: printed from the same trace as the NumPy module, a standalone module
that compiles once and is cached, and a clear error where numba is not installed."""

import importlib
import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from optimised import users_environment
from oracles import assert_close, random_point
from seeds import other_seed_env
from test_codegen import BLOCK_SYMPY
from test_prove import MUTANTS, SQUARE

import symbp
from symbp.cli.main import main
from symbp.numeric import backends
from symbp.numeric.codegen import module_source
from symbp.numeric.numba_codegen import numba_module_source
from symbp.render.formats import DEFAULT_FORMATS, FORMATS, proved_sentence

STEPS = re.compile(r"^ +# ((?:δ|v|∂C)\S* = .*)$", re.M)  # the recursion's equations, as comments


@pytest.mark.parametrize("net", [symbp.Network(), symbp.Network([3, 4, 2], "relu", "softmax_ce"),
                                 symbp.Network([2, 3, 3], ["tanh", "softmax"], "mse")], ids=repr)
def test_the_kernel_runs_the_statements_of_the_numpy_module(net):
    d = symbp.derive(net)
    numpy_steps, numba_steps = (STEPS.findall(text)
                                for text in (module_source(d), numba_module_source(d)))
    # twice: in the gradient kernel and in the fused step's (symbp.numeric.fused)
    assert numba_steps == numpy_steps * 2 and len(numpy_steps) >= 3 * net.L
    assert numba_module_source(symbp.derive(net)) == numba_module_source(d)  # deterministic


def test_the_source_is_the_same_in_every_process():
    net = "symbp.Network([3, 16, 2], activation=['relu', 'softmax'], cost='softmax_ce')"
    code = ("import symbp.numeric.numba_codegen as g, symbp; "
            f"print(g.numba_module_source(symbp.derive({net})), end='')")
    there = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                           text=True, env=other_seed_env()).stdout  # not this one's seed
    assert there == numba_module_source(symbp.derive(eval(net)))


def test_a_wrong_recursion_is_visible_in_the_kernel():
    source = numba_module_source(symbp.derive(SQUARE, recursion=MUTANTS[
        "sigma' dropped in layer 2"][0]))
    step = source[source.index("    # δ_2 = W_3ᵀ δ_3\n"):source.index("    # ∂C/∂W_2")]
    assert "np.dot(delta3, W3, delta2)" in step
    assert not re.search(r"\ba2\b", step)  # no loop with σ'(z_2) = a_2 (1 - a_2)
    assert "NOT symbp's own" in source


def test_the_module_imports_numba_and_the_numpy_one_does_not(default_derivation):
    numba_text, numpy_text = (numba_module_source(default_derivation),
                              module_source(default_derivation))
    assert "\nimport numba\n" in numba_text and "import numba" not in numpy_text
    assert "@numba.njit((_MATRIX, _MATRIX, _MATRIX, _MATRIX, _MATRIX, _VECTOR, _VECTOR, _VECTOR)" \
        in numba_text
    assert "cache=_CACHE" in numba_text and "_CACHE = sys.modules.get(__name__) is not None" \
        in numba_text


def test_without_numba_the_error_says_how_to_install_it(monkeypatch, default_derivation):
    real = importlib.import_module

    def refuse(name, *args):
        if name.split(".")[0] == "numba":
            raise ImportError("No module named 'numba'")
        return real(name, *args)

    monkeypatch.setattr(backends.importlib, "import_module", refuse)
    with pytest.raises(ValueError, match=r"backend 'numba' needs the package 'numba', which is "
                                         r"not installed \(pip install 'symbp\[fast\]'"):
        symbp.lambdify(default_derivation, backend="numba")


def test_derive_writes_the_numba_module_only_when_asked(tmp_path):
    assert main(["derive", "--widths", "2,2", "--format", "numba,json", "--out",
                 str(tmp_path / "asked"), "--quiet"]) == 0
    assert sorted(p.name for p in (tmp_path / "asked").iterdir()) == [
        ".symbp-manifest", "gradients_numba.py", "proof.json"]
    written = (tmp_path / "asked" / "gradients_numba.py").read_text()
    d = symbp.derive(symbp.Network([2, 2]))
    assert written == numba_module_source(d, proved=proved_sentence(d, symbp.prove(d)))
    assert "numba" in FORMATS and "numba" not in DEFAULT_FORMATS


@pytest.mark.slow
def test_the_standalone_module_runs_without_symbp_and_is_cached(tmp_path, rng):
    """Two fresh processes import the written module: the first compiles the kernel and
    numba caches it beside the file, the second loads it from there."""
    pytest.importorskip("numba")
    net = symbp.Network([3, 4, 2], "relu", "softmax_ce")
    d = symbp.derive(net)
    (tmp_path / "gradients.py").write_text(numba_module_source(d))
    x, y, weights, biases = random_point(net, rng, batch=3)
    np.savez(tmp_path / "point.npz", x=x, y=y, **{f"W{i}": W for i, W in enumerate(weights)},
             **{f"b{i}": b for i, b in enumerate(biases)})
    script = textwrap.dedent(BLOCK_SYMPY).replace(
        '"cost": float', '"hits": sum(gradients._kernel.stats.cache_hits.values()), '
        '"cost": float')
    imported = script.replace("spec.loader.exec_module", 'sys.modules["gradients"] = gradients\n'
                              "spec.loader.exec_module")  # as "import gradients" does
    (tmp_path / "run.py").write_text(imported)
    (tmp_path / "run_by_path.py").write_text(script)
    outputs = []
    for run in ("run.py", "run.py", "run_by_path.py"):  # by path: compiled, not cached
        done = subprocess.run([sys.executable, "-I", str(tmp_path / run),
                               str(tmp_path / "gradients.py"), str(tmp_path / "point.npz")],
                              capture_output=True, text=True, cwd=tmp_path, timeout=300,
                              env=users_environment())  # numba optimising, as for users
        assert done.returncode == 0, done.stderr
        outputs.append(json.loads(done.stdout))
    assert outputs[0]["blocked"] == "sympy is blocked"
    assert not [m for m in outputs[1]["modules"] if m.split(".")[0] in ("sympy", "symbp")]
    assert any(name.startswith("gradients._kernel") for name in
               os.listdir(tmp_path / "__pycache__"))
    assert [out["hits"] for out in outputs] == [0, 1, 0]
    want = symbp.lambdify(d)(x, y, weights, biases)
    for out in outputs:
        assert_close({k: [np.array(v) for v in out[k]] for k in "Wb"}, want, rtol=1e-12)


def test_the_cache_folder_falls_back_to_the_temporary_directory(tmp_path, monkeypatch):
    blocker = tmp_path / "a file"
    blocker.write_text("")
    monkeypatch.setenv("SYMBP_CACHE_DIR", str(blocker / "cache"))  # cannot be made
    monkeypatch.setattr(backends.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    source = f"VALUE = {os.getpid()}  # {tmp_path}\n"
    module = backends._load_cached(source)
    sys.modules.pop(module.__name__)
    assert os.getpid() == module.VALUE
    folder = os.path.dirname(module.__file__)
    assert os.path.basename(folder).startswith("symbp-cache-")
    assert [f for f in os.listdir(folder) if f.endswith(".py")] == [
        os.path.basename(module.__file__)]  # written whole (staged, renamed), nothing left over
