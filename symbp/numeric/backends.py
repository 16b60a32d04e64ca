"""Numeric gradients: the generated module, loaded as a callable.

``lambdify`` runs exactly the generated source: ``codegen.module_source(d)`` for
NumPy, the same source with ``np`` bound to jax.numpy (jitted) or to torch, and
``numba_codegen.numba_module_source(d)`` for numba, written to a cache folder so
numba compiles it once and keeps the machine code (``cache=True``).
"""

from __future__ import annotations

import hashlib
import importlib
import linecache
import os
import sys
import tempfile
import types
from pathlib import Path

import numpy as np

from ..core import limits, safe_paths, stored
from ..core.derivation import Derivation
from .array_modules import JaxAsNumPy, TorchAsNumPy
from .codegen import module_source
from .curvature_codegen import second_order_source
from .numba_codegen import numba_module_source

BACKENDS = ("numpy", "numba", "jax", "torch")
SECOND_ORDER_BACKENDS = ("numpy", "numba")  # hessian, hvp and gauss_newton
PACKAGES = {"numba": "numba", "jax": "jax.numpy", "torch": "torch"}
INSTALL = {"numba": "pip install 'symbp[fast]' (or pip install numba scipy)",
           "jax": "pip install jax", "torch": "pip install torch"}


class NumericGradients:
    """``grad(x, y, weights, biases)`` of one network -> ``{"W": [...], "b": [...]}``; for a
    network of layer kinds ``grad(x, y, params)`` -> ``[{"W": ..., "b": ..., ...}, ...]``, one
    dict per layer, as its kind names its parameters.

    x is (n_0,) or (batch, n_0), y likewise; the cost is summed over the batch.
    ``grad``, ``cost`` and ``forward`` are the generated module's functions
    (``grad`` is what a call runs; for jax it is already ``jax.jit``-ed); ``source``
    is the module's text. For numba, ``make_step`` gives the fused training step.
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
        self._make_step = namespace.get("make_step")

    def make_step(self, optimizer: str, learning_rate: float, **settings):
        """The fused training step of the numba module (its ``make_step``: forward, backward
        and the optimiser's update in one compiled call that allocates no array)."""
        if self._make_step is None and not self.network.dense:
            raise ValueError(f"the fused training step (make_step) is generated for dense "
                             f"networks only; this one has layers of kind "
                             f"{', '.join(k for k in self.network.kinds if k != 'dense')}")
        if self._make_step is None:
            raise ValueError(f"the fused training step is generated for backend 'numba', not "
                             f"{self.backend!r}: symbp.lambdify(d, backend='numba').make_step(...)")
        return self._make_step(optimizer, learning_rate, **settings)

    def __call__(self, x, y, *parameters):
        return self.grad(x, y, *parameters)

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
    ``gauss_newton`` (``symbp.numeric.curvature_codegen``). A network of layer kinds (any
    layer not dense) takes ``f(x, y, params)``, one dict of parameters per layer, and gives
    the same structure (``symbp.numeric.kinds_codegen``); of order 2 (numpy or numba) it has
    ``hvp(x, y, params, v)``, ``hessian`` and ``gauss_newton`` too
    (``symbp.numeric.kinds_curvature_codegen``).
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
    code = compile(source, filename, "exec")
    namespace: dict = {"__name__": "symbp_gradients"}
    exec(code, namespace)
    if backend == "numpy":
        return NumericGradients(d.net, backend, source, namespace)
    # jax and torch run the same module on their own arrays, after the module's own check:
    # its fast test, once for their own float arrays and once for NumPy's, passes arrays of
    # the right shapes, and anything else goes through its one conversion, in NumPy, exactly
    # as under every other backend
    in_numpy = namespace["_arguments"]
    native = _native_arrays(backend, array_module)
    namespace = {"__name__": "symbp_gradients"}
    exec(code, namespace)
    namespace["_ndarray"], namespace["_float64"] = native
    for careful in ("_convert_arguments", "_convert_layer_arguments"):  # dense, layer kinds
        if careful in namespace:  # called with the module's shapes last
            namespace[careful] = lambda *arguments: in_numpy(*arguments[:-1])
    checked = namespace["_arguments"]
    namespace = {"__name__": "symbp_gradients"}
    exec(code, namespace)
    if backend == "torch":
        namespace["np"] = torch_np = TorchAsNumPy(array_module)  # looked up when called
        tensor = native[0]

        def as_tensors(*arguments):
            return tuple(a if a is None or a.__class__ is tensor else torch_np.tensor(a)
                         for a in checked(*arguments))

        namespace["_arguments"] = as_tensors
    else:
        import jax

        namespace["np"] = JaxAsNumPy(array_module)
        # inside jit: the arrays were checked before it
        shapes = None if d.net.dense else namespace["LAYOUT"][2]
        namespace["_arguments"] = _unpacked if shapes is None else _unpacked_layers(shapes)
        sample = tuple(d.net.input_shape)
        for name in ("grad", "cost", "forward"):  # unjitted, every call retraces: 2-4 ms
            namespace[name] = _checked_first(jax.jit(namespace[name]), checked, name, shapes,
                                             sample)
    return NumericGradients(d.net, backend, source, namespace)


def _native_arrays(backend: str, array_module) -> tuple:
    """The class and dtype of the arrays a backend computes on, which need no conversion."""
    if backend == "torch":
        return array_module.Tensor, array_module.float64
    import jax

    return type(array_module.zeros(0)), np.dtype(jax.dtypes.canonicalize_dtype(float))


def _unpacked(x, y, weights, biases):
    return (x, y, *weights, *biases)


def _unpacked_layers(shapes):
    """The arguments inside jit, each layer's parameters in the module's order: jax hands a
    dict back with its keys sorted (P before W), so they are read by name, never in order."""
    def unpacked(x, y, params):
        return (x, y, *(layer[key] for layer, names in zip(params, shapes) for key in names))

    return unpacked


def _checked_first(jitted, checked, name: str, shapes=None, sample: tuple = (1,)):
    """``jitted`` (a generated function under ``jax.jit``) called with its arguments checked
    and converted first, outside the trace, by the module's own NumPy check. ``shapes`` (a
    network of layer kinds: each layer's {name: shape}) rebuilds its list of dicts; ``sample``
    is the shape of one sample."""

    def call(x, *rest):
        given = rest if name != "forward" else (None, *rest)
        x_, y_, *arrays = checked(x, *given)
        if shapes is not None:
            found = iter(arrays)
            parameters: tuple = ([{key: next(found) for key in layer} for layer in shapes],)
        else:
            L = len(arrays) // 2
            parameters = (arrays[:L], arrays[L:])
        single = np.ndim(x) == len(sample)
        if name == "forward":  # always a batch inside: the check hands a 2-axis sample's batch
            # over flat, which the module's forward would take for one sample
            a = jitted(x_.reshape((-1, *sample)), *parameters)
            return a[0] if single else a
        found = jitted(x_, y_, *parameters)
        if name == "grad" and shapes is not None:  # jax sorts a dict's keys: the module's order
            return [{key: layer[key] for key in names} for layer, names in zip(found, shapes)]
        return found

    return call


def _import(backend: str):
    if backend == "numpy":
        return np
    if backend == "numba" and "numba" not in sys.modules:
        _check_address_space()
    try:
        return importlib.import_module(PACKAGES[backend])
    except ImportError:
        raise ValueError(f"backend {backend!r} needs the package {backend!r}, which is not "
                         f"installed ({INSTALL[backend]}); or use backend 'numpy'") from None


def _check_address_space() -> None:
    """Refuse to load numba under an address-space limit too small for it, before it starts."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY and soft < limits.NUMBA_MEMORY_BYTES:
        raise MemoryError(f"backend 'numba' needs an address space of at least "
                          f"{limits.NUMBA_MEMORY_BYTES // 2**20} MiB to load, and the limit "
                          f"(ulimit -v) is {soft // 2**20} MiB; raise it or use backend 'numpy'")


def _load_cached(source: str):
    """``source`` as a module whose file sits in the cache folder, named by its hash, so that
    numba's cache (``__pycache__`` beside it) is found again by the next process.

    The folder, and its ``__pycache__``, must be private (the user's own, writable by nobody
    else: ``safe_paths.UnsafeFolder`` otherwise), since numba loads compiled code from there.
    When the cache folder cannot be made or written, a folder of this user in the temporary
    directory serves, checked the same way. The module runs ``source`` itself, never the
    file's text.
    """
    name = "symbp_gradients_" + hashlib.sha256(source.encode()).hexdigest()[:24]
    if name in sys.modules:  # the same source, loaded before in this process
        return sys.modules[name]
    try:
        folder = _write_once(stored.folder(), name, source)
    except OSError:
        user = getattr(os, "getuid", lambda: "user")()
        folder = _write_once(Path(tempfile.gettempdir()) / f"symbp-cache-{user}", name, source)
    path = str(folder / f"{name}.py")
    module = types.ModuleType(name)
    module.__file__ = path
    sys.modules[name] = module  # numba finds a cached kernel's globals by module name
    try:
        exec(compile(source, path, "exec"), module.__dict__)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _write_once(folder: Path, name: str, source: str) -> Path:
    """Put ``source`` into ``folder``/``name``.py unless it is there already; the folder."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = safe_paths.open_folder(folder, private=True)
    try:
        os.close(safe_paths.make_private_folder("__pycache__", fd, folder / "__pycache__"))
        data = source.encode()
        if safe_paths.read_regular(f"{name}.py", fd, len(data)) == data:
            return folder
        stored.write(fd, f"{name}.py", data)  # a concurrent process reads old or new
    finally:
        os.close(fd)
    return folder
