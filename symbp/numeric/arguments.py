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


def _samples(name, array, shape):
    """``array`` (one sample of ``shape``, or a batch of them) as (batch, entries)."""
    if _shape(array) == shape:
        array = array[None]
    if _shape(array)[1:] != shape:
        one = ", ".join(map(str, shape))
        raise ValueError(f"{name} has shape {_shape(array)}; expected {shape} for one sample or "
                         f"(batch, {one}), one sample per row")
    entries = 1
    for n in shape:
        entries *= n
    return array.reshape(array.shape[0], entries)


def _convert_layer_arguments(x, y, params, layout):
    """x and y (None for none) as (batch, entries) float arrays, then every layer's parameters
    in order as float arrays of the shapes ``layout`` (the input's shape, the output's, and
    each layer's {name: shape}) asks for; ValueError naming the first that is not."""
    input_shape, output_shape, shapes = layout
    L = len(shapes)
    x = _samples("x", _float_array("x", x), input_shape)
    if y is not None:
        given = _float_array("y", y)
        y = _samples("y", given, output_shape)
        if y.shape[0] != x.shape[0]:
            raise ValueError(f"y has shape {_shape(given)}; expected ({x.shape[0]}, "
                             f"{', '.join(map(str, output_shape))}): the targets of each of "
                             f"the {x.shape[0]} samples in x")
    if isinstance(params, (str, bytes, dict)) or not hasattr(params, "__iter__"):
        raise ValueError(f"params must be a list of {L} dicts, one per layer, name -> array; "
                         f"got {type(params).__name__}")
    params = list(params)
    if len(params) != L:
        raise ValueError(f"params must hold {L} dicts, one per layer of the network; got "
                         f"{len(params)}")
    arrays = []
    for l, (given, names) in enumerate(zip(params, shapes), start=1):
        label = f"params[{l - 1}] (layer {l})"
        if not hasattr(given, "keys") or not hasattr(given, "__getitem__"):
            raise ValueError(f"{label} must be a dict of its parameters {', '.join(names)}; "
                             f"got {type(given).__name__}")
        keys = list(given.keys())
        unknown = [k for k in keys if k not in names]
        missing = [k for k in names if k not in keys]
        if unknown or missing:
            found = f"no {missing[0]!r}" if missing else f"an unknown key {unknown[0]!r}"
            raise ValueError(f"{label} has {found}; layer {l}'s parameters are "
                             f"{', '.join(names)}")
        for name, shape in names.items():
            entry = f'params[{l - 1}]["{name}"] ({name}_{l})'
            array = _float_array(entry, given[name])
            if _shape(array) != shape:
                raise ValueError(f"{entry} has shape {_shape(array)}; expected {shape}")
            arrays.append(array)
    return (x, y, *arrays)


def _out_layer_arrays(out, layout, contiguous):
    """The arrays grad writes into, every layer's gradients in order, from ``out`` (a list of
    dicts, as grad returns); ValueError naming the first that is not a writeable float64
    array of its gradient's shape (C-contiguous where ``contiguous``)."""
    shapes = layout[2]
    L = len(shapes)
    if not isinstance(out, (list, tuple)) or len(out) != L or \
            not all(isinstance(o, dict) for o in out):
        raise ValueError(f"out must be a list of {L} dicts, one per layer, shaped as grad's "
                         f"result; got {type(out).__name__}")
    arrays = []
    for l, (given, names) in enumerate(zip(out, shapes), start=1):
        if sorted(given) != sorted(names):
            raise ValueError(f"out[{l - 1}] must have the keys {', '.join(names)}; got "
                             f"{', '.join(map(str, given)) or 'none'}")
        for name, shape in names.items():
            array = given[name]
            wanted = f"a writeable float64 array of shape {shape}" + (
                ", C-contiguous" if contiguous else "")
            if isinstance(array, np.ndarray) and array.dtype == np.float64 and \
                    _shape(array) == shape and array.flags.writeable and \
                    (array.flags.c_contiguous or not contiguous):
                arrays.append(array)
                continue
            found = (type(array).__name__ if not isinstance(array, np.ndarray) else
                     f"{array.dtype} of shape {_shape(array)}")
            raise ValueError(f'out[{l - 1}]["{name}"] (dC/d{name}_{l}) must be {wanted}; '
                             f"got {found}")
    return arrays


RUNTIME = (_float_array, _shape, _convert_arguments, _out_arrays)
LAYER_RUNTIME = (_float_array, _shape, _samples, _convert_layer_arguments, _out_layer_arrays)


def runtime_source(functions=RUNTIME) -> str:
    """The careful check's source, as copied into every generated module (``LAYER_RUNTIME``
    for a network with layers of other kinds than dense)."""
    constants = (f"_CONVERTIBLE = ({', '.join(e.__name__ for e in CONVERTIBLE)})\n"
                 f"_REAL_KINDS = {_REAL_KINDS!r}\n"
                 "_ndarray, _float64 = np.ndarray, np.dtype(np.float64)  # the fast path's\n")
    text = "\n\n".join(inspect.getsource(f) for f in functions)
    return constants + "\n\n" + text.replace("CONVERTIBLE", "_CONVERTIBLE")


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


def fast_layer_check_source(layers: list[list[tuple[str, str]]], input_shape, output_shape,
                            shapes: list[dict]) -> str:
    """``_arguments(x, y, params)`` for a network of layer kinds: x, y (2-D, one flat row per
    sample; y None when None is given) and every layer's parameters in order (``layers``:
    each layer's (name, code name) pairs), the careful path unless every one is right."""
    L = len(layers)
    unpack = ", ".join(f"p{l}" for l in range(1, L + 1)) + ("," if L == 1 else "")
    fetch = [f"{', '.join(code for _, code in names)} = "
             f"{', '.join(f'p{l}[{name!r}]' for name, _ in names)}"
             for l, names in enumerate(layers, start=1)]
    codes = [code for names in layers for _, code in names]
    arrays = ["x", *codes]
    counts = " and ".join(f"len(p{l}) == {len(names)}" for l, names in enumerate(layers, 1))
    entries_in = 1
    for n in input_shape:
        entries_in *= n
    entries_out = 1
    for n in output_shape:
        entries_out *= n
    checks = [f"xs.shape[1:] == {tuple(input_shape)!r}",
              f"(ys is None or ys.shape == (xs.shape[0], {', '.join(map(str, output_shape))}))"]
    checks += [f"{code}.shape == {shapes[l][name]!r}" for l, names in enumerate(layers)
               for name, code in names]
    condition = "\n                and ".join(checks)
    classes = " is ".join(f"{a}.__class__" for a in arrays)
    dtypes = " is ".join(f"{a}.dtype" for a in arrays)
    flat = ""  # a sample of several axes: one flat row
    if len(input_shape) > 1:
        flat += f"\n                xs = xs.reshape(xs.shape[0], {entries_in})"
    if len(output_shape) > 1:
        flat += ("\n                ys = ys if ys is None else "
                 f"ys.reshape(ys.shape[0], {entries_out})")
    body = "\n        ".join(fetch)
    return f'''def _arguments(x, y, params):
    """x, y (None stays None) as (batch, entries) float64 arrays, one sample per row, and every
    layer's parameters in order, checked against LAYOUT: NumPy float64 arrays of the right
    shapes as they are, the rest converted."""
    try:
        {unpack} = params
        {body}
        if ({counts}
                and {classes} is _ndarray
                and {dtypes} is _float64
                and (y is None or y.__class__ is _ndarray and y.dtype is _float64)):
            xs = x[None] if x.ndim == {len(input_shape)} else x
            ys = y if y is None or y.ndim != {len(output_shape)} else y[None]
            if ({condition}):{flat}
                return xs, ys, {", ".join(codes)}
    except (TypeError, ValueError, KeyError, IndexError, AttributeError):
        pass  # a wrong count or kind of argument: the careful path says which
    return _convert_layer_arguments(x, y, params, LAYOUT)
'''
