"""Argument checks of the generated gradient modules: the fast test and the one conversion.

Every generated ``grad``, ``cost`` and ``forward`` first calls ``_arguments``, printed per
network by ``fast_check_source``: NumPy float64 arrays (exactly ``ndarray``, so no
``np.matrix``, whose ``*`` multiplies matrices) of the right shapes pass as they are, after
a handful of identity and shape comparisons. Anything else goes to ``_convert_arguments``,
the one conversion of symbp: its source below is copied into each module, and the jax and
torch backends run it too before making arrays of their own, so every backend gives the
same answer. Anything that holds real numbers (lists, tuples, integer, boolean and float32
arrays, ``np.matrix``, arrays of Python numbers) becomes a float64 array; anything else
(complex numbers, text, ragged nesting, objects that are not numbers, a wrong shape) is a
one-line ValueError naming the argument. The functions use only ``np`` (NumPy).
"""

from __future__ import annotations

import inspect

import numpy as np

CONVERTIBLE = (TypeError, ValueError, RuntimeError)  # what asarray raises for non-numbers
_REAL_KINDS = "biuf"  # NumPy's kinds of real numbers: bool, int, unsigned, float


def _float_array(name, value):
    """``value`` as a float64 ndarray, or a ValueError naming ``name`` and what it holds."""
    try:
        array = np.asarray(value)
        kind = array.dtype.kind
    except CONVERTIBLE:  # ragged nesting, or an object NumPy cannot read
        array, kind = None, ""
    if kind == "O":  # Python objects: numbers of any type, or anything at all
        for item in array.flat:
            if isinstance(item, (complex, np.complexfloating)):
                kind = "c"
                break
            if item is None or isinstance(item, (str, bytes)):  # float() reads "1.5", NumPy
                kind = ""  # makes None NaN: neither is a number given
                break
    if kind == "c":
        raise ValueError(f"{name} is complex; symbp computes in float64 (pass its real part "
                         "if that is what you mean)")
    if kind and kind in _REAL_KINDS + "O":
        try:
            return array.astype(np.float64, copy=False)
        except CONVERTIBLE:  # an object that is not a number
            pass
    shown = " ".join(repr(value).split())  # one line, whatever the repr
    raise ValueError(f"{name} must be an array of numbers; got {type(value).__name__} "
                     f"{shown:.60}")


def _shape(array):
    return tuple(int(n) for n in array.shape)


def _convert_arguments(x, y, weights, biases, widths):
    """x and y (None for none) as (batch, n) float arrays, then W_1..W_L and b_1..b_L as float
    arrays of the shapes ``widths`` asks for; ValueError naming the first that is not."""
    L, n_in, n_out = len(widths) - 1, widths[0], widths[-1]
    x = _float_array("x", x)
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2 or x.shape[1] != n_in:
        raise ValueError(f"x has shape {_shape(x)}; expected ({n_in},) for one sample or "
                         f"(batch, {n_in}), one sample per row")
    if y is not None:
        y = _float_array("y", y)
        given = _shape(y)
        if y.ndim == 1:
            y = y[None]
        if _shape(y) != (x.shape[0], n_out):
            one = f"({n_out},) or " if x.shape[0] == 1 else ""
            raise ValueError(f"y has shape {given}; expected {one}({x.shape[0]}, {n_out}): "
                             f"{n_out} targets for each of the {x.shape[0]} samples in x")
    shapes = {"weights": [(widths[l], widths[l - 1]) for l in range(1, L + 1)],
              "biases": [(widths[l],) for l in range(1, L + 1)]}
    params = []
    for name, given, symbol in (("weights", weights, "W"), ("biases", biases, "b")):
        if isinstance(given, (str, bytes, dict)) or not hasattr(given, "__iter__"):
            raise ValueError(f"{name} must be a list of {L} arrays {symbol}_1..{symbol}_{L}; "
                             f"got {type(given).__name__}")
        given = list(given)
        if len(given) != L:
            raise ValueError(f"{name} must hold {L} arrays {symbol}_1..{symbol}_{L}, one per "
                             f"layer of the network {list(widths)}; got {len(given)}")
        for l, (value, shape) in enumerate(zip(given, shapes[name]), start=1):
            label = f"{name}[{l - 1}] ({symbol}_{l})"
            array = _float_array(label, value)
            if _shape(array) != shape:
                raise ValueError(f"{label} has shape {_shape(array)}; expected {shape}")
            params.append(array)
    return (x, y, *params)


def _out_arrays(out, widths, contiguous):
    """The arrays grad writes into, dC/dW_1..dC/dW_L then dC/db_1..dC/db_L, from ``out``
    ({"W": [...], "b": [...]}, as grad returns); ValueError naming the first that is not a
    writeable float64 array of its gradient's shape (C-contiguous where ``contiguous``)."""
    L = len(widths) - 1
    if not isinstance(out, dict) or sorted(out) != ["W", "b"]:
        raise ValueError(f'out must be a dict {{"W": [...], "b": [...]}} of {L} arrays each, '
                         f"shaped as grad's result; got {type(out).__name__}")
    shapes = {"W": [(widths[l], widths[l - 1]) for l in range(1, L + 1)],
              "b": [(widths[l],) for l in range(1, L + 1)]}
    arrays = []
    for key in ("W", "b"):
        given = out[key]
        if not isinstance(given, (list, tuple)) or len(given) != L:
            raise ValueError(f'out["{key}"] must be a list of {L} arrays, one per layer; got '
                             f"{type(given).__name__}")
        for l, (array, shape) in enumerate(zip(given, shapes[key]), start=1):
            wanted = f"a writeable float64 array of shape {shape}" + (
                ", C-contiguous" if contiguous else "")
            if not isinstance(array, np.ndarray):
                found = type(array).__name__
            elif array.dtype != np.float64 or _shape(array) != shape or \
                    not array.flags.writeable or (contiguous and not array.flags.c_contiguous):
                found = f"{array.dtype} of shape {_shape(array)}" + (
                    "" if array.flags.writeable else ", read-only") + (
                    ", not C-contiguous" if contiguous and not array.flags.c_contiguous else "")
            else:
                arrays.append(array)
                continue
            raise ValueError(f'out["{key}"][{l - 1}] (dC/d{key}_{l}) must be {wanted}; '
                             f"got {found}")
    return arrays


RUNTIME = (_float_array, _shape, _convert_arguments, _out_arrays)


def runtime_source() -> str:
    """The careful check's source, as copied into every generated module."""
    constants = (f"_CONVERTIBLE = ({', '.join(e.__name__ for e in CONVERTIBLE)})\n"
                 f"_REAL_KINDS = {_REAL_KINDS!r}\n"
                 "_ndarray, _float64 = np.ndarray, np.dtype(np.float64)  # the fast path's\n")
    functions = "\n\n".join(inspect.getsource(f) for f in RUNTIME)
    return constants + "\n\n" + functions.replace("CONVERTIBLE", "_CONVERTIBLE")


def fast_check_source(widths) -> str:
    """``_arguments(x, y, weights, biases)`` for one network: returns x, y (2-D; y None when
    None is given) and the parameters, taking the careful path unless every shape is right."""
    L = len(widths) - 1
    W = ", ".join(f"W{l}" for l in range(1, L + 1))
    b = ", ".join(f"b{l}" for l in range(1, L + 1))
    unpack = (f"({W},)", f"({b},)") if L == 1 else (W, b)
    arrays = ["x", *(f"W{l}" for l in range(1, L + 1)), *(f"b{l}" for l in range(1, L + 1))]
    checks = [f"xs.shape[1:] == ({widths[0]},)",
              f"(ys is None or ys.shape == (xs.shape[0], {widths[-1]}))"]
    checks += [f"W{l}.shape == ({widths[l]}, {widths[l - 1]})" for l in range(1, L + 1)]
    checks += [f"b{l}.shape == ({widths[l]},)" for l in range(1, L + 1)]
    condition = "\n                and ".join(checks)
    classes = " is ".join(f"{a}.__class__" for a in arrays)
    dtypes = " is ".join(f"{a}.dtype" for a in arrays)
    return f'''def _arguments(x, y, weights, biases):
    """x, y (None stays None) as (batch, n) float64 arrays and the parameters, checked against
    WIDTHS: NumPy float64 arrays of the right shapes as they are, the rest converted."""
    try:
        {unpack[0]} = weights
        {unpack[1]} = biases
        if ({classes} is _ndarray
                and {dtypes} is _float64
                and (y is None or y.__class__ is _ndarray and y.dtype is _float64)):
            xs = x[None] if x.ndim == 1 else x
            ys = y if y is None or y.ndim != 1 else y[None]
            if ({condition}):
                return xs, ys, {W}, {b}
    except (TypeError, ValueError):
        pass  # a wrong count of arrays: the careful path says which
    return _convert_arguments(x, y, weights, biases, WIDTHS)
'''
