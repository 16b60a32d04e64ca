"""The recurrent layer's generated code finds its states and δ step by step (symbp.numeric.scans):
against nn.RNN and central differences at T = 1, 2, 16, batch 1 and 7, for the last and every
state; deterministic; and its work linear in T, counted rather than timed."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symbp
from symbp.core.layers import recurrent
from symbp.core.layers.base import Map
from symbp.numeric import codegen, kinds_numba, maps, scans
from tests.differences import assert_central_differences
from tests.seeds import other_seed_env
from tests.test_recurrent_numeric import assert_same, network, random_case, torch_gradients

ROOT = Path(__file__).resolve().parent.parent
CASES = [(output, steps, batch) for output in ("last", "all") for steps in (1, 2, 16)
         for batch in (1, 7)]


# numba compiles each (output, T) in seconds: it takes T = 1 (no step through time) and 16
# (every step between the first and the last, as T = 2 has), both outputs, both batches;
# numpy takes every case
@pytest.mark.parametrize(("backend", "output", "steps", "batch"), [
    *[("numpy", *case) for case in CASES],
    *[pytest.param("numba", *case, marks=pytest.mark.slow) for case in CASES if case[1] != 2]])
def test_step_by_step_gradients_are_nn_rnns(backend, output, steps, batch):
    x, y, params = random_case(output, seed=steps + batch, steps=steps, batch=batch)
    f = symbp.lambdify(symbp.derive(network(output, steps=steps)), backend=backend)
    assert_same(f.grad(x, y, params), torch_gradients(x, y, params, output, "tanh"))


@pytest.mark.parametrize("output", ["last", "all"])
@pytest.mark.parametrize("steps", [1, 2, 16])
def test_step_by_step_gradients_are_central_differences(output, steps):
    x, y, params = random_case(output, seed=3, steps=steps, batch=7)
    assert_central_differences(symbp.lambdify(symbp.derive(network(output, steps=steps))),
                               x, y, params)


def _sources(output: str) -> tuple[str, str]:
    d = symbp.derive(network(output, steps=16))
    return codegen.module_source(d), kinds_numba.module_source(d)


def test_the_generated_code_is_the_same_every_run():
    assert _sources("all") == _sources("all")


@pytest.mark.slow  # a fresh interpreter imports symbp
def test_the_generated_code_is_the_same_under_another_hash_seed():
    first = _sources("all")
    script = ("import sys; sys.path.insert(0, '.'); from tests.test_recurrent_steps import "
              "_sources; a, b = _sources('all'); sys.stdout.write(a + '\\0' + b)")
    env = other_seed_env(PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True,
                         text=True, check=True)
    assert tuple(run.stdout.split("\0")) == first


class Counted(np.ndarray):
    """An array that counts the entries of every array an operation on it makes (ufuncs,
    ``@`` among them): the work of the code that runs on it."""

    entries = 0

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        plain = [a.view(np.ndarray) if isinstance(a, Counted) else a for a in inputs]
        out = getattr(ufunc, method)(*plain, **kwargs)
        return _counted(out)


def _counted(out):
    if isinstance(out, np.ndarray):
        Counted.entries += out.size
        return out.view(Counted)
    return out


class CountingNumPy:
    """The generated module's ``np``: every function's array result counted and Counted."""

    def __getattr__(self, name):
        value = getattr(np, name)
        if not callable(value) or isinstance(value, type):
            return value
        return lambda *args, **kwargs: _counted(value(*args, **kwargs))


def _work(output: str, steps: int) -> int:
    """The entries every operation of the NumPy module's grad makes, at T = ``steps``."""
    namespace: dict = {"__name__": "counted"}
    exec(codegen.module_source(symbp.derive(network(output, steps=steps))), namespace)
    namespace["np"] = CountingNumPy()
    x, y, params = random_case(output, steps=steps, batch=7)
    Counted.entries = 0
    namespace["grad"](x, y, params)
    return Counted.entries


@pytest.mark.parametrize("output", ["last", "all"])
def test_the_work_grows_linearly_with_the_steps(output):
    """Each step costs the same: the work at T = 8, 16, 32 lies on a line (the sweeps of
    the whole map grew as T², 4× per doubling)."""
    w8, w16, w32 = (_work(output, steps) for steps in (8, 16, 32))
    assert w32 - w16 == 2 * (w16 - w8)
    assert w16 < 2 * w8 + 1000


def _function(source: str, name: str) -> ast.FunctionDef:
    (found,) = [n for n in ast.walk(ast.parse(source))
                if isinstance(n, ast.FunctionDef) and n.name == name]
    return found


def _step_loops(function: ast.FunctionDef) -> list[ast.For]:
    """The loops over the steps: the function's own loops over ``t``, at its top level."""
    return [n for n in function.body if isinstance(n, ast.For)
            and isinstance(n.target, ast.Name) and n.target.id == "t"]


@pytest.mark.parametrize("output", ["last", "all"])
def test_each_step_reads_one_column(output):
    """Two loops over the T steps (the states forward, δ back), each step a fixed set of
    operations on columns: in NumPy no loop inside, in numba loops over the batch and the
    units only, never over the steps."""
    numpy_source, numba_source = _sources(output)
    grad = _function(numpy_source, "grad")
    steps = _step_loops(grad)
    assert [ast.unparse(n.iter) for n in steps] == ["range(16)", "range(15, -1, -1)"]
    assert not [n for loop in steps for n in ast.walk(loop) if n is not loop
                and isinstance(n, ast.For)]
    assert len([n for n in ast.walk(grad) if isinstance(n, ast.For)
                and "range" in ast.unparse(n.iter)]) == 2
    kernel = _step_loops(_function(numba_source, "_kernel"))
    assert [ast.unparse(n.iter) for n in kernel] == ["range(16)", "range(15, -1, -1)"]
    for loop in kernel:
        inner = [n for n in ast.walk(loop) if isinstance(n, ast.For) and n is not loop]
        assert inner and all("16" not in ast.unparse(n.iter) for n in inner)



def _scan_of(formula) -> scans.Scan:
    """``scans.scan`` of the map z[j, t] = formula(tensors, t) over the recurrent layer's
    tensors, own level s (H = 2 units, T = 3 steps)."""
    t = recurrent.tensors("all")
    m = Map(t["z"], (recurrent.J, recurrent.T), formula(t, recurrent.T), (t["x"],), (t["W"],),
            own=t["s"])
    return scans.scan(maps.terms(m, {recurrent.N_IN: 1, recurrent.UNITS: 2, recurrent.STEPS: 3}))


def _before(t, step):
    return sp.Sum(t["W"][recurrent.J, recurrent.K] * t["s"][recurrent.K, step - 1],
                  (recurrent.K, 1, recurrent.UNITS))


def test_a_scan_reads_its_own_level_one_way_only():
    found = _scan_of(_before)
    assert (found.steps, found.backwards, found.entries, found.others) == (3, False, 2, None)
    assert [p.steps for p in found.parts] == [(2, 3)]
    assert (found.parts[0].guard(3), found.order()) == ("t >= 1", "range(3)")
    with pytest.raises(ValueError, match="other than one step along the last axis"):
        _scan_of(lambda t, step: t["s"][recurrent.J, step])
    with pytest.raises(ValueError, match="both before and after a step"):
        _scan_of(lambda t, step: _before(t, step) + t["s"][recurrent.J, step + 1])
