"""The vector forms of a network's layers (``core.layers.vector``) against their maps: one
claim per layer, proved only when every form it shows equals the map it states, entry by
entry and exactly, at this network's sizes.

Each target is evaluated from the form (its intermediates put in) and from the kind's
maps on the same entries: the layer's input x, its parameters, z, δ and g = ∂C/∂a as
free symbols, σ and σ' as undefined functions (so the claim holds for every elementwise
σ), s = σ(z). What each target states:

- z: the pre map; a: σ(z) through the post map, plus the skip;
- δ: (the post map's VJP of g, or g, plus the pre map's own read passed back) ⊙ σ'(z);
- each parameter: its gradient map; input: ∂C/∂x, the input VJP plus the skip's.

The claim is about this network's sizes only, and says so: the general theorem proves the
maps for every size, not these forms.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import sympy as sp

from ..core.derivation import Derivation
from ..core.layers import Map, Resolved, Tensor
from ..core.layers import vector as v
from .claims import Claim
from .exact import Exact, first_difference
from .lemmas import glimpse

Problem = tuple[str, tuple[int, ...] | None, str]  # (form, entry, why)
_SETTLED: dict[tuple, Problem | None] = {}  # the outcome for the forms, maps and sizes compared


def vector_form_claims(d: Derivation, session: Exact | None = None) -> list[Claim]:
    """One claim per layer whose kind has vector forms."""
    return [layer_claim(r, session) for r in d.net.resolved if r.kind.forms is not None]


def layer_claim(r: Resolved, session: Exact | None = None) -> Claim:
    started = time.perf_counter()
    assert r.kind.forms is not None
    sizes = ", ".join(f"{k} = {val}" for k, val in sorted(r.sizes.items(), key=str))
    claim = Claim(
        f"layer {r.index} ({r.kind.name}): its vector forms equal its maps entry by entry, for "
        f"any elementwise sigma, at this network's sizes ({sizes})",
        rf"\text{{vector forms of layer {r.index}}} = \text{{its maps}}", "function",
        "proved", f"by exact comparison, entry by entry, at this network's sizes only ({sizes})",
        name=vector_claim_name(r.index))
    forms = r.kind.forms(r.layer)
    named = () if r.kind.shorthand is None else tuple(
        r.kind.shorthand(r.layer, m.formula, str(r.index))[0] for _, m in r.maps.all())
    key = (forms.equations, named, tuple(r.maps.all()), r.maps.x, r.maps.z, r.maps.a,
           r.maps.params, tuple(sorted(r.sizes.items(), key=str)))
    if key not in _SETTLED:  # by what is compared, never by the kind's identity
        _SETTLED[key] = _first_problem(r, forms, session or Exact())
    problem = _SETTLED[key]
    if problem is not None:
        form, entry, residual = problem
        claim.status = "failed"
        claim.culprit = f"vector form {form}"
        claim.residual = residual if entry is None else f"at entry {entry}: {residual}"
    claim.seconds = time.perf_counter() - started
    return claim


def vector_claim_name(l: int) -> str:
    """The name of layer l's claim, by which a document finds whether its forms were proved."""
    return f"vector forms {l}"


def _first_problem(r: Resolved, forms: v.Forms, session: Exact) -> Problem | None:
    """(form, entry, why) of the first form that is not its map, in the forms' order."""
    maps = r.maps
    targets = {*v.TARGETS, *(p.name for p in maps.params)}
    names = [eq.name for eq in forms.equations]
    missing = sorted(targets - set(names))
    if missing:
        return missing[0], None, "the kind's vector forms do not state it"
    twice = next((n for n in names if names.count(n) > 1), None)
    if twice is not None:
        return twice, None, "stated twice"
    for i, eq in enumerate(forms.equations):
        used = any(eq2.rhs.has(v.operand(eq.name)) for eq2 in forms.equations[i + 1:])
        if eq.name not in targets and not used:
            return eq.name, None, "shown but used by no form after it, so nothing checks it"
    tensors = _tensors(r)
    entries = {name: _symbols(name, t.shape(r.sizes)) for name, t in tensors.items()}
    if "s" in entries:
        entries["s"] = _each(v.SIGMA, entries["z"])
    operands = {name: _column(e) for name, e in entries.items()}
    steps = maps.z.shape(r.sizes)[-1] if maps.pre.own is not None else None
    try:
        found = v.evaluate(forms.equations, operands, r.sizes, targets, steps)
    except v.FormError as error:  # a form whose shapes do not fit is not proved
        return error.name, None, f"it cannot be evaluated: {error.why}"
    expected = _targets(r, entries)
    problem = _shorthand_problem(r, found, entries, targets, session)
    for name in names:
        if name not in targets:
            continue
        got, want = np.asarray(found[name]), expected[name]
        shape = tensors_shape(r, name)
        if got.shape != ((*shape, 1) if len(shape) == 1 else shape):  # a vector a column
            return name, None, f"it has shape {got.shape} where the map's is {shape}"
        difference = first_difference(sp.Matrix(list(got.ravel())), sp.Matrix(list(want.ravel())),
                                      session)
        if difference is not None:
            row = difference[0][0] if difference[0] is not None else None
            entry = None if row is None else tuple(
                int(i) + 1 for i in np.unravel_index(row - 1, shape))
            return name, entry, glimpse(difference[1])
    return problem


def _shorthand_problem(r: Resolved, found: dict[str, Any], entries: dict[str, np.ndarray],
                       targets: set[str], session: Exact) -> Problem | None:
    """The entry forms with the kind's names for recurring parts (``Kind.shorthand``: a layer
    norm's μ, s, x̂) against the maps: each name, a symbol or a tensor named as one of the
    vector forms' intermediates, stands for that intermediate's value."""
    if r.kind.shorthand is None:
        return None
    values = {name: (lambda i, e=e: e[i]) for name, e in entries.items()}
    defined = {name: np.asarray(val) for name, val in found.items() if name not in targets}
    for name, m in r.maps.all():
        named, _ = r.kind.shorthand(r.layer, m.formula, str(r.index))
        if named == m.formula:
            continue
        numbers = {s: defined[s.name].ravel()[0] for s in named.free_symbols
                   if isinstance(s, sp.Symbol) and s.name in defined}
        tensors = {e.base for e in named.atoms(sp.Indexed)
                   if str(e.base.label) in defined}
        extra = tuple(Tensor(str(b.label), b, ()) for b in tensors)
        more = {str(b.label): _entry_of(defined[str(b.label)]) for b in tensors}
        shown = Map(m.out, m.index, named, (*m.inputs, *extra), m.params, m.own)
        got = [e.xreplace(numbers) for e in shown.entries(r.sizes, {**values, **more})]
        want = Map(m.out, m.index, m.formula, m.inputs, m.params, m.own).entries(r.sizes, values)
        difference = first_difference(sp.Matrix(got), sp.Matrix(want), session)
        if difference is not None:
            return f"shorthand of {name}", None, glimpse(difference[1])
    return None


def _entry_of(value: np.ndarray) -> Callable[[tuple[int, ...]], Any]:
    """An intermediate's entry: at one index its flat entry (a column), at as many indices
    as it has axes that entry (a batch norm's x̂[c, s])."""
    flat = value.ravel()
    return lambda i: value[i] if len(i) == value.ndim > 1 else flat[i[0]]


def tensors_shape(r: Resolved, name: str) -> tuple[int, ...]:
    """The shape of what target ``name`` states (its map's output)."""
    maps = r.maps
    out = {"z": maps.z, "a": maps.a, "delta": maps.z, "input": maps.x}
    tensor = out.get(name) or maps.param_vjps[name].out
    return tensor.shape(r.sizes)


def _tensors(r: Resolved) -> dict[str, Tensor]:
    """Every tensor the layer's maps read or give, by name (the first of each name)."""
    found: dict[str, Tensor] = {}
    maps = r.maps
    for t in (maps.x, maps.z, maps.a, *maps.params):
        found.setdefault(t.name, t)
    for _, m in maps.all():
        for t in (*m.inputs, *m.params, *m.read_own):
            found.setdefault(t.name, t)
    found.setdefault("delta", Tensor("delta", sp.IndexedBase("delta"), maps.z.axes))
    found.setdefault("g", Tensor("g", sp.IndexedBase("g"), maps.a.axes))
    return found


def _symbols(name: str, shape: tuple[int, ...]) -> np.ndarray:
    out = np.empty(shape, dtype=object)
    for index in itertools.product(*[range(n) for n in shape]):
        out[index] = sp.Symbol(f"{name}_{'_'.join(str(i + 1) for i in index)}")
    return out


def _column(a: np.ndarray) -> np.ndarray:
    return a.reshape(-1, 1) if a.ndim == 1 else a


def _each(f: Callable[[Any], Any], a: np.ndarray) -> np.ndarray:
    return np.vectorize(f, otypes=[object])(a)


def _targets(r: Resolved, entries: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """What each target states, from the maps on the same entries."""
    maps, sizes = r.maps, r.sizes
    values = {name: (lambda i, e=e: e[i]) for name, e in entries.items()}

    def run(m: Map) -> np.ndarray:
        return np.array(m.entries(sizes, values), dtype=object)

    z, g = entries["z"].ravel(), entries["g"].ravel()
    s = _each(v.SIGMA, entries["z"])
    if maps.post is not None:
        a = np.array(maps.post.entries(sizes, {**values, maps.post.inputs[0].name:
                                               lambda i: s[i]}), dtype=object)
    else:
        a = s.ravel()
    if maps.skip is not None:
        a = a + run(maps.skip)
    taken = g if maps.delta_from_g is None else run(maps.delta_from_g)
    if maps.own_vjp is not None:
        taken = taken + run(maps.own_vjp)
    passed = run(maps.input_vjp)
    if maps.skip_vjp is not None:
        passed = passed + run(maps.skip_vjp)
    found = {"z": run(maps.pre), "a": a, "delta": taken * _each(v.SIGMA_PRIME, z),
             "input": passed}
    found.update({name: run(m) for name, m in maps.param_vjps.items()})
    return found
