"""Shared fixtures: seeded randomness, one derivation per session, a numba cache of the test
session's own, and the pdflatex marker.

``@pytest.mark.needs_pdflatex`` skips a test where no pdflatex is installed (CI installs it,
so there the tests run against the real compiler).
"""

import contextlib
import gc
import os
import random
import shutil
import signal
import threading

# SymPy keeps 1,000 results by default; the suite redoes similar work in every test, and
# 20,000 takes about 8% off its symbolic tests (read when SymPy is first imported, just below)
os.environ.setdefault("SYMPY_CACHE_SIZE", "20000")

# numba compiles the suite's kernels without LLVM's optimisation passes (-O0): the same
# statements and IEEE operations, and 13% of the suite's CPU less (890 -> 775 CPU-s). What
# must be the user's to the bit runs at numba's default level (tests/optimised.py). Read when
# numba is first imported
os.environ.setdefault("NUMBA_OPT", "0")

import numpy as np
import pytest

import symbp

# The symbolic tests make millions of short-lived SymPy objects, hardly any of them cyclic
# garbage: collecting the youngest generation every 700 allocations (Python's default) took
# ~7% of the attention theorem's time (1.2 of 17.3 CPU-s), every 50,000 takes 0.2 s. Collection
# itself is untested by this (test_timeout's gc test collects by hand)
gc.set_threshold(50_000, 20, 100)


def pytest_sessionfinish(session):
    """At exit pytest collects garbage five times (to report unraisable exceptions), walking
    every object a worker's SymPy caches and kept derivations hold: ~10 CPU-s a worker, the
    last seconds of the run. Every test has run by now, so they are frozen out of it."""
    gc.freeze()


def pytest_configure(config):
    if os.environ["NUMBA_OPT"] == "0":  # an unoptimised kernel that inlines a helper keeps
        # a pointer to it, and numba will not cache it (tests/optimised.py checks the cache)
        config.addinivalue_line("filterwarnings", "ignore:.*Cannot cache compiled function")


def pytest_collection_modifyitems(config, items):
    if shutil.which("pdflatex"):
        return
    skip = pytest.mark.skip(reason="pdflatex is not installed")
    for item in items:
        if "needs_pdflatex" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _own_numba_cache(tmp_path_factory):
    """Compiled numba modules and kept theorems go to a folder of this test session, shared by
    its workers, never to the user's ~/.cache/symbp: the suite leaves nothing behind and costs
    on every machine what it costs on a fresh one, and a kernel two test files compile, or a
    theorem two documents state, is made once (the cache writes each file atomically). Tests
    that need another folder set their own."""
    with _environment(SYMBP_CACHE_DIR=str(_session_folder(tmp_path_factory, "symbp-cache"))):
        yield


@pytest.fixture(scope="session", autouse=True)
def _bytecode_for_children(tmp_path_factory):
    """The suite starts a few hundred Python processes (the CLI's real-process tests). Where
    PYTHONDONTWRITEBYTECODE is set, as on our machines, each compiled symbp and its imports
    anew, about 0.4 CPU-s: they share one bytecode cache of the session instead, never the
    source tree's __pycache__."""
    folder = _session_folder(tmp_path_factory, "pycache")
    with _environment(PYTHONPYCACHEPREFIX=str(folder), PYTHONDONTWRITEBYTECODE=None):
        yield


def _session_folder(tmp_path_factory, name: str):
    """A folder of this test session, shared by its xdist workers (the parent of popen-gwN's)."""
    base = tmp_path_factory.getbasetemp()
    session = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder = session / name
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


@contextlib.contextmanager
def _environment(**values):
    """os.environ with ``values`` set (None: removed), restored after."""
    saved = {name: os.environ.get(name) for name in values}
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="session", autouse=True)
def _ctrl_c_reaches_children():
    """A suite started in the background (``pytest &`` in a script) inherits SIGINT ignored,
    and so would every symbp it starts, as a shell asks of background jobs: the Ctrl-C tests
    need it delivered, as it is in a foreground run."""
    if (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) == signal.SIG_IGN):
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _seeded():
    random.seed(0)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def default_derivation():
    """The default network [2, 3, 3, 2] sigmoid/MSE, derived once for every test that reads it."""
    return symbp.derive(symbp.Network())


@pytest.fixture(scope="session")
def default_proof(default_derivation):
    return symbp.prove(default_derivation)
