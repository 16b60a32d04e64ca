"""Shared fixtures: seeded randomness, one derivation per session, a numba cache of the test
session's own, and the pdflatex marker.

``@pytest.mark.needs_pdflatex`` skips a test where no pdflatex is installed (CI installs it,
so there the tests run against the real compiler).
"""

import gc
import os
import random
import shutil
import signal
import threading

# SymPy keeps 1,000 results by default; the suite redoes similar work in every test, and
# 20,000 takes about 8% off its symbolic tests (read when SymPy is first imported, just below)
os.environ.setdefault("SYMPY_CACHE_SIZE", "20000")

import numpy as np
import pytest

import symbp

# The symbolic tests make millions of short-lived SymPy objects, hardly any of them cyclic
# garbage: collecting the youngest generation every 700 allocations (Python's default) took
# ~7% of the attention theorem's time (1.2 of 17.3 CPU-s), every 50,000 takes 0.2 s. Collection
# itself is untested by this (test_timeout's gc test collects by hand)
gc.set_threshold(50_000, 20, 100)


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
    saved = os.environ.get("SYMBP_CACHE_DIR")
    base = tmp_path_factory.getbasetemp()
    session = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # popen-gwN's
    folder = session / "symbp-cache"
    folder.mkdir(mode=0o700, exist_ok=True)
    os.environ["SYMBP_CACHE_DIR"] = str(folder)
    yield
    if saved is None:
        del os.environ["SYMBP_CACHE_DIR"]
    else:
        os.environ["SYMBP_CACHE_DIR"] = saved


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
