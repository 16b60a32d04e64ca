"""A scan (``scans``) printed as NumPy: a Python loop over the steps, one column per step.

Each step's column is a (batch, entries) array kept in a list (``s1_steps[t]``), the list
stacked along the last axis at the end: the (batch, entries × steps) array the rest of the
program reads. No array is written in place, so the same code runs on torch tensors and
under jax.jit (which unrolls the loop). What does not read the scanned array is computed
once for every step before the loop and read there one column at a time (``[:, :, t]``).
"""

from __future__ import annotations

from collections.abc import Mapping

import sympy as sp

from . import maps, maps_numpy, scans
from .array_printers import MapForm, NumericForm

LOOP = "t"  # the 0-based step in the generated loops (a name the generated code reserves)


def part_code(sc: scans.Scan, part: scans.Part, names: Mapping[str, str], own: str,
              prefix: str, constants: dict[str, str]) -> str:
    """One part of a scan at step ``t``, a (batch, entries) array, over ``names`` (the map's
    tensors' code) and the list ``own`` of the columns found so far; 0.0 at the steps
    where the whole map's term is zero."""
    named = dict(names)
    for c in part.columns:
        named[c.name] = f"{own}[{c.at(LOOP)}]" if c.own else _sliced(names[c.tensor.name], c,
                                                                      part.terms)
    printed = maps_numpy.numpy_code(part.terms, named, prefix)
    constants.update(printed.constants)
    guard = part.guard(sc.steps, LOOP)
    return f"({printed.code} if {guard} else 0.0)" if guard else printed.code


def _sliced(array: str, c: scans.Column, t: maps.Terms) -> str:
    """An input or parameter read at one step: its column there."""
    batched = c.tensor.name in t.batched
    if batched:
        shape = ", ".join(map(str, t.shapes[c.tensor.name]))
        array = f"{maps_numpy.primary(array)}.reshape(-1, {shape})"
    return f"{array}[{', '.join([':'] * (c.axis + batched) + [c.at(LOOP)])}]"


def loop_lines(sc: scans.Scan, steps_list: str, column: list[str],
               extra: tuple[str, ...] = ()) -> list[str]:
    """The loop that finds the columns in order: ``column`` (lines ending in the assignment
    of ``steps_list[t]``), after ``steps_list = [None] * T``."""
    return [f"{steps_list} = [None] * {sc.steps}", *extra, f"for {LOOP} in {sc.order()}:",
            *(f"    {line}" for line in column)]


def stacked(sc: scans.Scan, steps_list: str, name: str) -> tuple[str, str]:
    """The columns as two arrays: ``name``_c, step-major (steps, batch, entries), what a
    parameter's gradient reads (``summed_code``), and the line of ``name``, the program's
    (batch, entries × steps) array, the step last."""
    return (f"{name}_c = np.stack({steps_list})  # (steps, batch, entries)",
            f"np.moveaxis({name}_c, 0, -1).reshape(-1, {sc.entries * sc.steps})")


def forward_step_major(net) -> dict[str, str]:
    """The arrays the forward pass keeps step-major too, and that form's name (s_l of a scan:
    ``s1_c``; a_l where it is s_l)."""
    found = {}
    for r in net.resolved:
        if r.maps.pre.own is not None:
            found[f"s{r.index}"] = f"s{r.index}_c"
            if r.maps.post is None and r.maps.skip is None:
                found[f"a{r.index}"] = f"s{r.index}_c"
    return found


def summed_code(t: maps.Terms, names: Mapping[str, str], step_major: Mapping[str, str]
                ) -> str | None:
    """A parameter's gradient that sums products of two sequences over the steps
    (``scans.summed_over_steps``: W's and U's of a recurrent layer) as one matrix product per
    term over the rows (step, sample) of their step-major forms; None for any other map."""
    products = scans.summed_over_steps(t)
    if products is None or any(list(p.steps) != list(range(p.steps[0], p.steps[-1] + 1))
                               for p in products if p.steps):
        return None
    parts = []
    for p in (p for p in products if p.steps):
        rows = []
        for name, offset in ((p.a, p.a_offset), (p.b, p.b_offset)):
            entries, count = t.shapes[name]
            array = names[name]
            major = step_major.get(array) or \
                f"np.moveaxis({maps_numpy.primary(array)}.reshape(-1, {entries}, {count}), -1, 0)"
            first, last = p.steps[0] + offset - 1, p.steps[-1] + offset
            rows.append(f"{major}[{first}:{last}].reshape(-1, {entries})")
        code = f"np.dot({rows[0]}.T, {rows[1]})"
        parts.append(code if p.coeff == 1 else f"{p.coeff!r} * {code}")
    return " + ".join(parts) or f"np.zeros({t.out_shape!r})"


def forward_lines(r, names: Mapping[str, str], value: str, constants: dict[str, str],
                  keep_z: bool) -> list[str]:
    """z_l = pre(a_(l-1), s_l) and s_l = σ(z_l) of a layer whose pre map reads its own state
    (``r``: the resolved layer; ``value``: σ's template on {z}): the terms that read no state
    once for every step, then the steps in order."""
    l = r.index
    sc = scans.scan(maps.terms(r.maps.pre, r.sizes))
    lines, parts = [], []
    if sc.others is not None:
        printed = maps_numpy.numpy_code(sc.others, names, f"_L{l}_PRE", flat=False)
        constants.update(printed.constants)
        lines.append(f"z{l}_in = {maps_numpy.primary(printed.code)}"
                     f".reshape(-1, {sc.entries}, {sc.steps})  # every step at once")
        parts.append(f"z{l}_in[:, :, {LOOP}]")
    parts += [part_code(sc, p, names, f"s{l}_steps", f"_L{l}_PRE_STEP", constants)
              for p in sc.parts]
    column = [f"z{l}_t = {' + '.join(parts) or '0.0'}"]
    if keep_z:
        column.append(f"z{l}_steps[{LOOP}] = z{l}_t")
    column.append(f"s{l}_steps[{LOOP}] = {value.format(z=f'z{l}_t')}")
    extra = (f"z{l}_steps = [None] * {sc.steps}",) if keep_z else ()
    lines += loop_lines(sc, f"s{l}_steps", column, extra)
    for name in (f"s{l}", f"z{l}") if keep_z else (f"s{l}",):
        major, flat = stacked(sc, f"{name}_steps", name)
        lines += [major, f"{name} = {flat}"]
    return lines


class DeltaSteps:
    """δ_l = F(δ_l), a statement whose value reads δ_l through a scan map (BPTT), printed
    step by step: each part of F that does not read δ_l once before the loop, for every step,
    and the rest of F (sums, products ⊙, the scan maps' parts) at each step."""

    def __init__(self, ops, l: int, target: str):
        self.ops, self.l, self.target = ops, l, target
        r = ops.symbols.net.resolved[l - 1]
        shape = r.maps.z.shape(r.sizes)
        self.entries, self.steps = ops.z_widths[l] // shape[-1], shape[-1]
        self.before: list[str] = []
        self.scan: scans.Scan | None = None

    def lines(self, value) -> tuple[list[str], str]:
        """The lines before the statement's assignment, and the code it assigns."""
        own = f"{self.target}_steps"
        column = f"{own}[{LOOP}] = {self.step(value)}"
        if self.scan is None:
            raise ValueError(f"cannot print {self.target} step by step: it reads itself "
                             "through no scan map")
        major, flat = stacked(self.scan, own, self.target)
        return [*self.before, *loop_lines(self.scan, own, [column]), major], flat

    def reads(self, e) -> bool:
        return any(getattr(s, "name", None) == self.target for s in e.free_symbols)

    def step(self, e) -> str:
        """The code of ``e`` (a column quantity, entries × batch) at step t: (batch, entries)."""
        if not self.reads(e):
            inline = self.inline(e)
            if inline is not None:
                return inline
            if isinstance(e, MapForm) and e.batched:
                _, terms, names = self.map_names(e)
                return self.once(terms, names, f"_L{e.layer}_{e.which.upper()}")
            return self.once_code(maps_numpy.primary(self.ops.rows.rows(e)))
        if isinstance(e, sp.MatAdd):
            return " + ".join(self.step(a) for a in e.args)
        if isinstance(e, sp.HadamardProduct):
            return " * ".join(maps_numpy.primary(self.step(a)) for a in e.args)
        if isinstance(e, sp.MatMul):
            coeff, matrices = e.as_coeff_matrices()
            if len(matrices) == 1:
                return f"{float(coeff)!r} * {maps_numpy.primary(self.step(matrices[0]))}"
        if isinstance(e, MapForm) and e.batched:
            return self.map_step(e)
        raise ValueError(f"cannot print {self.target} step by step: it reads itself through "
                         f"{e}, which is neither elementwise nor a scan map")

    def inline(self, e) -> str | None:
        """Column t of ``e`` (which does not read δ_l) computed at the step: elementwise forms
        of arrays kept step-major (σ'(z) on ``s1_c[t]``), a map restricted to the step (the
        output's share of δ); None for anything else (then computed once for every step)."""
        if isinstance(e, sp.Transpose) and isinstance(e.arg, sp.MatrixSymbol):
            major = self.ops.step_major.get(e.arg.name)
            return None if major is None else f"{major}[{LOOP}]"
        if isinstance(e, NumericForm):
            template = e.args[0].name
            codes = {k: self.inline(op) for k, op in zip(e.keys, e.operands)
                     if "{" + k + "}" in template}  # (its math may name more)
            if "{out}" in e.numba or e.numba == "None" or None in codes.values():
                return None  # a layer-wide form (softmax's), or one of arrays of every step
            return template.format(**{k: f"({c})" for k, c in codes.items()})
        if isinstance(e, sp.MatAdd | sp.HadamardProduct):
            parts = [self.inline(a) for a in e.args]
            if None in parts:
                return None
            joined = " + " if isinstance(e, sp.MatAdd) else " * "
            return "(" + joined.join(f"({c})" for c in parts) + ")"
        if isinstance(e, MapForm) and e.batched:
            _, terms, names = self.map_names(e)
            if terms.out_shape != (self.entries, self.steps):
                return None
            sc = scans.scan(terms, every_step=True)
            at_step = [part_code(sc, p, names, "", f"_L{e.layer}_{e.which.upper()}_STEP",
                                 self.ops.constants) for p in sc.parts]  # (no own level)
            return "(" + " + ".join(at_step) + ")" if at_step else "0.0"
        return None

    def once_code(self, code: str) -> str:
        """``code`` (an array) computed once before the loop, read at each step."""
        name = f"{self.target}_in{len(self.before) + 1}"
        self.before.append(f"{name} = {code}.reshape(-1, {self.entries}, {self.steps})  "
                           "# every step at once")
        return f"{name}[:, :, {LOOP}]"

    def once(self, terms: maps.Terms, names: Mapping[str, str], prefix: str) -> str:
        """The map of ``terms`` computed once before the loop, read at each step."""
        printed = maps_numpy.numpy_code(terms, names, prefix, flat=False)
        self.ops.constants.update(printed.constants)
        return self.once_code(maps_numpy.primary(printed.code))

    def map_names(self, form: MapForm):
        """The map of ``form``, its terms and the code of its tensors (its own level, the
        column a step reads, left out)."""
        m, terms, names = self.ops.map_terms(form)
        for tensor, op in zip(m.inputs, form.operands):
            names[tensor.name] = self.ops.rows.doprint(sp.transpose(op))
        return m, terms, names

    def map_step(self, form: MapForm) -> str:
        m, terms, names = self.map_names(form)
        if m.own is None:
            raise ValueError(f"cannot print {self.target} step by step: the map {form.which} "
                             "reads it at every step")
        sc = scans.scan(terms)
        if self.scan is not None and self.scan.order() != sc.order():
            raise ValueError(f"cannot print {self.target} step by step: its maps scan the "
                             "steps in opposite orders")
        self.scan = sc
        prefix = f"_L{form.layer}_{form.which.upper()}"
        parts = [] if sc.others is None else [self.once(sc.others, names, prefix)]
        parts += [part_code(sc, p, names, f"{self.target}_steps", f"{prefix}_STEP",
                            self.ops.constants) for p in sc.parts]
        return " + ".join(parts) or "0.0"
