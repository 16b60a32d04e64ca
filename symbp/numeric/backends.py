"""Numeric gradients: the generated module, loaded as a callable, and a check against differences.

``lambdify`` runs exactly the generated source: ``codegen.module_source(d)`` for
NumPy, the same source with ``np`` bound to jax.numpy (jitted) or to torch, and
``numba_codegen.numba_module_source(d)`` for numba, written to a cache folder so
numba compiles it once and keeps the machine code (``cache=True``).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import linecache
import math
import numbers
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.derivation import Derivation
from .codegen import module_source
from .curvature_codegen import second_order_source
from .numba_codegen import numba_module_source

BACKENDS = ("numpy", "numba", "jax", "torch")
SECOND_ORDER_BACKENDS = ("numpy", "numba")  # hessian, hvp and gauss_newton
PACKAGES = {"numba": "numba", "jax": "jax.numpy", "torch": "torch"}
INSTALL = {"numba": "pip install 'symbp[fast]' (or pip install numba scipy)",
           "jax": "pip install jax", "torch": "pip install torch"}


class NumericGradients:
    """``grad(x, y, weights, biases)`` of one network -> ``{"W": [...], "b": [...]}``.

    x is (n_0,) or (batch, n_0), y likewise; the cost is summed over the batch.
    ``grad``, ``cost`` and ``forward`` are the generated module's functions
    (``grad`` is what a call runs; for jax it is already ``jax.jit``-ed); ``source``
    is the module's text.
    """

    def __init__(self, network, backend: str, source: str, namespace):
        self.network, self.backend, self.source = network, backend, source
        self.grad = namespace["grad"]
        self.cost = namespace["cost"]
        self.forward = namespace["forward"]
        # second order (a derivation of order 2): None otherwise
        self.hessian = namespace.get("hessian")
        self.hvp = namespace.get("hvp")
        self.gauss_newton = namespace.get("gauss_newton")

    def __call__(self, x, y, weights, biases):
        return self.grad(x, y, weights, biases)

    def __repr__(self) -> str:
        return f"<numeric gradients of {self.network!r} ({self.backend})>"


def lambdify(d: Derivation, backend: str = "numpy") -> NumericGradients:
    """Fast numeric gradients of ``d``'s network, from the δ recursion as generated code.

    ``backend``: "numpy" (the module ``symbp derive`` writes), "numba" (one compiled
    kernel, ``pip install 'symbp[fast]'``; compiled on first use and cached in
    $SYMBP_CACHE_DIR or ~/.cache/symbp), "jax" (the NumPy module on jax.numpy, jitted)
    or "torch" (on float64 tensors). Every backend checks its arguments: lists work,
    and a wrong shape is a ValueError naming the argument, its shape and the one expected.
    A derivation of order 2 (numpy or numba) also gives ``hessian``, ``hvp`` and
    ``gauss_newton`` (``symbp.numeric.curvature_codegen``).
    """
    if not isinstance(d, Derivation):
        raise ValueError(f"lambdify() needs a symbp.Derivation, got {type(d).__name__}")
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of: {', '.join(BACKENDS)}")
    second = getattr(d, "order", 1) == 2
    if second and backend not in SECOND_ORDER_BACKENDS:
        raise ValueError(f"backend {backend!r} gives first-order gradients only; for second "
                         f"order choose one of: {', '.join(SECOND_ORDER_BACKENDS)}")
    array_module = _import(backend)
    if backend == "numba":
        source = second_order_source(d, "numba") if second else numba_module_source(d)
        return NumericGradients(d.net, backend, source, vars(_load_cached(source)))
    source = second_order_source(d) if second else module_source(d)
    filename = f"<symbp gradients {d.net.slug}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict = {"__name__": "symbp_gradients"}
    exec(compile(source, filename, "exec"), namespace)
    if backend == "torch":
        namespace["np"] = torch_np = TorchAsNumPy(array_module)  # looked up when called
        for name in ("grad", "cost", "forward"):
            namespace[name] = torch_np.taking_arrays(namespace[name])
    elif backend == "jax":
        import jax

        namespace["np"] = JaxAsNumPy(array_module)
        for name in ("grad", "cost", "forward"):  # unjitted, every call retraces: 2-4 ms
            namespace[name] = _checked(jax.jit(namespace[name]), namespace["_arguments"])
    return NumericGradients(d.net, backend, source, namespace)


def _checked(jitted, arguments):
    """``jitted``, with the generated argument check run eagerly when jax refuses an argument
    before tracing (a string, say), so the error names it as in every other backend."""

    def call(x, *rest):
        try:
            return jitted(x, *rest)
        except TypeError:
            y, weights, biases = rest if len(rest) == 3 else (None, *rest)
            arguments(x, y, weights, biases)  # raises the ValueError naming the argument
            raise

    return call


def _import(backend: str):
    if backend == "numpy":
        return np
    try:
        return importlib.import_module(PACKAGES[backend])
    except ImportError:
        raise ValueError(f"backend {backend!r} needs the package {backend!r}, which is not "
                         f"installed ({INSTALL[backend]}); or use backend 'numpy'") from None


def cache_folder() -> Path:
    """Where compiled gradient modules live: $SYMBP_CACHE_DIR, else ~/.cache/symbp."""
    if os.environ.get("SYMBP_CACHE_DIR"):
        return Path(os.environ["SYMBP_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "symbp"


def _load_cached(source: str):
    """Import ``source`` from a file named by its hash, so numba's cache (``__pycache__``
    beside it) is found again by the next process; a folder of this user in the temporary
    directory if the cache folder cannot be written."""
    name = "symbp_gradients_" + hashlib.sha256(source.encode()).hexdigest()[:24]
    if name in sys.modules:  # the same source, loaded before in this process
        return sys.modules[name]
    try:
        path = _write_once(cache_folder(), name, source)
    except OSError:
        user = getattr(os, "getuid", lambda: "user")()
        path = _write_once(Path(tempfile.gettempdir()) / f"symbp-cache-{user}", name, source)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the generated module {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # numba finds a cached kernel's globals by module name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _write_once(folder: Path, name: str, source: str) -> Path:
    path = folder / f"{name}.py"
    if path.is_file() and path.read_text(encoding="utf-8") == source:
        return path
    folder.mkdir(parents=True, exist_ok=True)
    fd, staged = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as stream:
        stream.write(source)
    os.replace(staged, path)  # atomic: a concurrent process reads the old file or the new one
    return path


class JaxAsNumPy:
    """jax.numpy, with ``asarray(v, dtype=float)`` meaning jax's default float (float32 unless
    jax_enable_x64 is set), so the generated code asks for no dtype jax would truncate."""

    def __init__(self, jnp):
        self._jnp = jnp

    def __getattr__(self, name):
        return getattr(self._jnp, name)

    def asarray(self, value, dtype=float):
        import jax

        return self._jnp.asarray(value, dtype=jax.dtypes.canonicalize_dtype(dtype))


class TorchAsNumPy:
    """The NumPy functions the generated code calls, on float64 torch tensors."""

    def __init__(self, torch):
        self._torch = torch

    def __getattr__(self, name):  # exp, log, tanh, ones_like, ... have NumPy's meaning
        return getattr(self._torch, name)

    def _tensor(self, value):
        if isinstance(value, np.ndarray) and not value.flags.writeable:
            value = value.copy()  # torch warns about sharing memory it may not write
        return self._torch.as_tensor(value, dtype=self._torch.float64)

    def asarray(self, value, dtype=float):
        return self._tensor(value)

    def taking_arrays(self, function):
        """``function`` with NumPy weights and biases made tensors first (x and y the
        generated code converts itself; anything else it checks and names)."""
        ndarray = np.ndarray

        def call(x, *rest):
            *front, weights, biases = rest
            if isinstance(weights, (list, tuple)):
                weights = [self._tensor(W) if isinstance(W, ndarray) else W for W in weights]
            if isinstance(biases, (list, tuple)):
                biases = [self._tensor(b) if isinstance(b, ndarray) else b for b in biases]
            return function(x, *front, weights, biases)

        return call

    def ndim(self, value):
        return value.ndim if isinstance(value, self._torch.Tensor) else np.ndim(value)

    def ones(self, n):
        return self._torch.ones(n, dtype=self._torch.float64)

    def dot(self, a, b):
        return self._torch.matmul(a, b)

    def logaddexp(self, a, b):
        return self._torch.logaddexp(self._tensor(a), self._tensor(b))

    def maximum(self, a, b):
        return self._torch.maximum(self._tensor(a), self._tensor(b))

    def minimum(self, a, b):
        return self._torch.minimum(self._tensor(a), self._tensor(b))

    def where(self, condition, a, b):
        return self._torch.where(condition, self._tensor(a), self._tensor(b))

    def sum(self, a, axis=None, keepdims=False):
        return a.sum() if axis is None else a.sum(dim=axis, keepdim=keepdims)

    def max(self, a, axis=None, keepdims=False):
        return a.max() if axis is None else a.amax(dim=axis, keepdim=keepdims)


# ---------------------------------------------------------------- checking


@dataclass(frozen=True)
class GradientCheck:
    """Numeric gradients against central differences at random points.

    ``worst`` is the largest |numeric − differences| / max(1, |numeric|, |differences|)
    (relative for entries above 1, absolute below), and ``where`` names its entry.
    """

    network: str
    points: int
    batch: int
    h: float
    worst: float
    where: str
    tolerance: float
    backend: str = "numpy"

    @property
    def ok(self) -> bool:
        return self.worst <= self.tolerance

    def __str__(self) -> str:
        verdict = "match" if self.ok else "DO NOT match"
        return (f"numeric gradients of {self.network} ({self.backend}) {verdict} central "
                f"differences (h = {self.h:g}) at {self.points} random points of batch "
                f"{self.batch}: worst relative error {self.worst:.2e} at {self.where} "
                f"(tolerance {self.tolerance:g})")


def check_gradients(d: Derivation, points: int = 3, seed: int = 0, batch: int = 2,
                    h: float = 1e-6, tolerance: float = 1e-6,
                    backend: str = "numpy") -> GradientCheck:
    """Compare ``lambdify(d, backend)`` with central differences of its own cost at random
    points. Targets are the outputs of another random network, so they suit every cost."""
    _require_count("points", points, 1000)
    _require_count("batch", batch, 10_000)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
    for name, value, top in (("h", h, 1.0), ("tolerance", tolerance, math.inf)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or \
                not (0 < value <= top and math.isfinite(value)):
            limit = "at most 1" if top == 1.0 else "finite"
            raise ValueError(f"{name} must be a positive number, {limit}; got {value!r}")
    f = lambdify(d, backend)
    rng = np.random.default_rng(seed)
    worst, where = -1.0, "no entry"
    for point in range(1, points + 1):
        x, weights, biases = _random_network(d.net, rng, batch)
        y = np.asarray(f.forward(*_random_network(d.net, rng, batch)), dtype=float)
        grads = f(x, y, weights, biases)
        for wrt, params in (("W", weights), ("b", biases)):
            for l, p in enumerate(params, start=1):
                computed = np.asarray(grads[wrt][l - 1], dtype=float)
                for idx in np.ndindex(p.shape):
                    keep = p[idx]
                    p[idx] = keep + h
                    up = float(f.cost(x, y, weights, biases))
                    p[idx] = keep - h
                    down = float(f.cost(x, y, weights, biases))
                    p[idx] = keep
                    g, fd = computed[idx], (up - down) / (2 * h)
                    error = abs(g - fd) / max(1.0, abs(g), abs(fd))
                    if not np.isnan(worst) and (np.isnan(error) or error > worst):
                        entry = ", ".join(str(i + 1) for i in idx)
                        worst, where = error, f"dC/d{wrt}_{l}[{entry}] (point {point})"
    return GradientCheck(repr(d.net), points, batch, h, float(worst), where, tolerance, backend)


def _require_count(name: str, value, top: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or \
            not 1 <= int(value) <= top:
        raise ValueError(f"{name} must be an integer from 1 to {top}; got {value!r}")


def _random_network(net, rng, batch):
    n = net.widths
    x = rng.normal(size=(batch, n[0]))
    weights = [rng.normal(scale=0.8, size=(n[l], n[l - 1])) for l in range(1, len(n))]
    biases = [rng.normal(scale=0.5, size=n[l]) for l in range(1, len(n))]
    return x, weights, biases
