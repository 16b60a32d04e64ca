"""A scan (``scans``) printed as numba loops: one loop over the steps, a column per step.

Inside the loop every array is step-major, (steps, batch, entries) (``s1_c``, ``delta1_c``):
column t is one contiguous block, so the part of a step that reads the column before (or
after) it is a matrix product of contiguous arrays (loops with literal bounds for small work,
BLAS above, as every product of the kernel: ``numba_loops.product``), and a step touches only
its own block. The program's arrays are (batch, entries × steps), the step last, whose
column t is spread over every row: what does not read the scanned array (U x + b, σ'(z),
the output's share of δ) is computed once for every step in that layout and copied
step-major before the loop, and the scanned array is copied back after it, each copy one
pass that keeps a sample's row in cache.
"""

from __future__ import annotations

from collections.abc import Mapping

import sympy as sp

from . import maps, scans
from .array_printers import MapForm, NumericForm
from .maps_numba import numba_lines
from .numba_loops import Arrays

LOOP = "t"  # the 0-based step (a name the generated code reserves)


def parts_lines(sc: scans.Scan, names: Mapping[str, str], own: str, prefix: str,
                arrays: Arrays) -> tuple[list[str], list[str], list[str]]:
    """The parts of ``sc`` at step t, each into a (batch, entries) column ``prefix``_p1, ...:
    the lines that make those arrays (before the loop), the lines that fill them (in the
    loop: 0 at the steps where the whole map's term is zero) and each column's element."""
    made, body, elements = [], [], []
    for k, part in enumerate(sc.parts, start=1):
        column = f"{prefix}_p{k}"
        made += arrays.new(column, ("batch", sc.entries))
        named, reads = dict(names), []
        for n, c in enumerate(part.columns, start=1):
            local = f"{prefix}_r{k}{n}"
            read = f"{own}[{c.at(LOOP)}]" if c.own else \
                f"np.ascontiguousarray({_sliced(names[c.tensor.name], c, part.terms)})"
            reads.append(f"{local} = {read}")
            named[c.name] = local
        for c in part.columns:  # read through its column only
            named.pop(c.tensor.name, None)
        fill = [*reads, *numba_lines(part.terms, named, column)]
        guard = part.guard(sc.steps, LOOP)
        body += [f"if {guard}:", *_indented(fill), "else:", f"    {column}[:] = 0.0"] \
            if guard else fill
        elements.append(f"{column}[i, j]")
    return made, body, elements


def _sliced(array: str, c: scans.Column, t: maps.Terms) -> str:
    batched = c.tensor.name in t.batched
    if batched:
        array = f"{array}.reshape((batch, {', '.join(map(str, t.shapes[c.tensor.name]))}))"
    return f"{array}[{', '.join([':'] * (c.axis + batched) + [c.at(LOOP)])}]"


def _indented(lines: list[str]) -> list[str]:
    return [f"    {line}" for line in lines]


def step_loop(sc: scans.Scan, target: str, body: list[str], element: str,
              after: tuple[str, ...] = (), value: str = "v") -> list[str]:
    """The loop over the steps: ``body``, then for every entry of column t ``v = element``
    and the lines ``after``; ``value`` is column t of ``target`` (step-major)."""
    return [f"for {LOOP} in {sc.order()}:", *_indented(body),
            "    for i in range(batch):", f"        for j in range({sc.entries}):",
            f"            v = {element}", *(f"            {line}" for line in after),
            f"            {target}[{LOOP}, i, j] = {value}"]


def copied(sc: scans.Scan, flat: str, steps: str, to_steps: bool) -> list[str]:
    """A (batch, entries × steps) array copied into its step-major (steps, batch, entries) form
    (``to_steps``) or back: sample by sample, so the sample's row stays in cache."""
    return _copied(sc.entries, sc.steps, flat, steps, to_steps)


def _copied(entries: int, count: int, flat: str, steps: str, to_steps: bool) -> list[str]:
    pair = (f"{steps}[{LOOP}, i, j]", f"{flat}[i, j * {count} + {LOOP}]")
    target, source = pair if to_steps else pair[::-1]
    return ["for i in range(batch):", f"    for j in range({entries}):",
            f"        for {LOOP} in range({count}):", f"            {target} = {source}"]


def forward_step_major(ops) -> set[str]:
    """The arrays the forward pass keeps step-major too (z_l, s_l of a scan: ``z1_c``; a_l
    where it is s_l)."""
    return {f"{name}{r.index}" for r in ops.symbols.net.resolved if r.maps.pre.own is not None
            for name in ("zs" if r.maps.post is not None else "zsa")}


def param_lines(kernel, form: MapForm, target: str) -> bool:
    """A parameter's gradient that is a sum over the steps and the samples of products of two
    sequences (``scans.summed_over_steps``: W's and U's of a recurrent layer), printed into
    ``kernel`` as one matrix product (BLAS) per term over the rows (step, sample) of their
    step-major forms; False (nothing printed) for any other map."""
    m, terms, names = kernel.ops.map_terms(form)
    products = scans.summed_over_steps(terms)
    if products is None or any(list(p.steps) != list(range(p.steps[0], p.steps[-1] + 1))
                               for p in products if p.steps):
        return False
    for tensor, op in zip(m.inputs, form.operands):
        names[tensor.name] = kernel.materialize(sp.transpose(op))
    shape = terms.out_shape
    active = [p for p in products if p.steps]
    alone = len(active) == 1 and active[0].coeff == 1  # the product is the gradient itself
    lines = [f"{target} = np.{'empty' if alone else 'zeros'}({shape!r})"]
    for p in active:
        rows = []
        for name, offset in ((p.a, p.a_offset), (p.b, p.b_offset)):
            array = names[name]
            entries, count = terms.shapes[name]
            if array not in kernel.step_major:
                kernel.step_major.add(array)
                lines += [*kernel.arrays.new(f"{array}_c", (count, "batch", entries)),
                          *_copied(entries, count, array, f"{array}_c", True)]
            first, last = p.steps[0] + offset - 1, p.steps[-1] + offset
            rows.append(f"{array}_c[{first}:{last}].reshape((-1, {entries}))")
        if alone:
            lines.append(f"np.dot({rows[0]}.T, {rows[1]}, {target})")
            continue
        lines += [f"{target}_t = np.empty({shape!r})",
                  f"np.dot({rows[0]}.T, {rows[1]}, {target}_t)",
                  f"{target} += {p.coeff!r} * {target}_t"]
    kernel.lines += lines
    return True


def forward_lines(r, names: Mapping[str, str], value: str, arrays: Arrays,
                  keep_z: bool) -> list[str]:
    """s_l = σ(z_l) (σ's numba template on {z}), and z_l where ``keep_z``, of a layer whose
    pre map reads its own state: at each step every term of the map restricted to it (U x_t
    + b and W s_(t-1), each a matrix product of columns), σ of their sum its column of s."""
    l = r.index
    sc = scans.scan(maps.terms(r.maps.pre, r.sizes), every_step=True)
    made, body, elements = parts_lines(sc, names, f"s{l}_c", f"s{l}", arrays)
    lines = [*arrays.new(f"z{l}_c", (sc.steps, "batch", sc.entries)),
             *arrays.new(f"s{l}_c", (sc.steps, "batch", sc.entries)), *made]
    lines += step_loop(sc, f"s{l}_c", body, " + ".join(elements) or "0.0",
                       (f"z{l}_c[{LOOP}, i, j] = v", f"w = {value.format(z='v')}"), "w")
    width = sc.entries * sc.steps
    lines += [*arrays.new(f"s{l}", ("batch", width)), *copied(sc, f"s{l}", f"s{l}_c", False)]
    if keep_z:
        lines += [*arrays.new(f"z{l}", ("batch", width)), *copied(sc, f"z{l}", f"z{l}_c", False)]
    return lines


def delta_lines(kernel, target: str, l: int, value) -> list[str]:
    """δ_l = F(δ_l) (``value``, column convention) step by step, into ``kernel``: each part of
    F that does not read δ_l once for every step (``kernel.materialize``), then the loop."""
    ops = kernel.ops
    r = ops.symbols.net.resolved[l - 1]
    steps = r.maps.z.shape(r.sizes)[-1]
    entries = ops.z_widths[l] // steps
    found: list[scans.Scan] = []
    body: list[str] = []
    flat: list[str] = []  # arrays for every step, in the program's layout, to copy step-major

    def once(name: str) -> str:
        flat.append(name)
        return f"{name}_c[{LOOP}, i, j]"

    def reads(e) -> bool:
        return any(getattr(s, "name", None) == target for s in e.free_symbols)

    def element(e) -> str:
        if not reads(e):
            return inline(e) or once(kernel.materialize(sp.transpose(e)))
        if isinstance(e, sp.MatAdd):
            return "(" + " + ".join(element(a) for a in e.args) + ")"
        if isinstance(e, sp.HadamardProduct):
            return " * ".join(f"({element(a)})" for a in e.args)
        if isinstance(e, sp.MatMul):
            coeff, matrices = e.as_coeff_matrices()
            if len(matrices) == 1:
                return f"{float(coeff)!r} * ({element(matrices[0])})"
        if isinstance(e, MapForm) and e.batched:
            return scan_map(e)
        raise ValueError(f"cannot generate numba code for {target} step by step: it reads "
                         f"itself through {e}, which is neither elementwise nor a scan map")

    def inline(e) -> str | None:
        """Element [i, j] of column t of ``e`` (which does not read δ_l) computed in the loop:
        elementwise forms of arrays kept step-major, a map restricted to the step; None for
        anything else (then computed once for every step, and copied step-major)."""
        if isinstance(e, sp.Transpose) and isinstance(e.arg, sp.MatrixSymbol):
            name = e.arg.name
            return f"{name}_c[{LOOP}, i, j]" if name in kernel.step_major else None
        if isinstance(e, NumericForm):
            template = e.numba
            codes = {k: inline(op) for k, op in zip(e.keys, e.operands)
                     if "{" + k + "}" in template}  # (its math may name more)
            if "{out}" in template or template == "None" or None in codes.values():
                return None
            return template.format(**{k: f"({c})" for k, c in codes.items()})
        if isinstance(e, sp.MatAdd | sp.HadamardProduct):
            parts = [inline(a) for a in e.args]
            if None in parts:
                return None
            joined = " + " if isinstance(e, sp.MatAdd) else " * "
            return "(" + joined.join(f"({c})" for c in parts) + ")"
        if isinstance(e, MapForm) and e.batched:
            m, terms, names = ops.map_terms(e)
            if terms.out_shape != r.maps.z.shape(r.sizes):  # not a (…, steps) quantity
                return None
            for tensor, op in zip(m.inputs, e.operands):
                names[tensor.name] = kernel.materialize(sp.transpose(op))
            sc = scans.scan(terms, every_step=True)
            made, lines, elements = parts_lines(sc, names, f"{target}_c",
                                                f"{target}_{e.which}", kernel.arrays)
            kernel.lines += made
            body.extend(lines)
            return " + ".join(elements) or "0.0"
        return None

    def scan_map(form: MapForm) -> str:
        m, terms, names = ops.map_terms(form)
        if m.own is None:
            raise ValueError(f"cannot generate numba code for {target} step by step: the map "
                             f"{form.which} reads it at every step")
        for tensor, op in zip(m.inputs, form.operands):
            names[tensor.name] = kernel.materialize(sp.transpose(op))
        sc = scans.scan(terms)
        found.append(sc)
        codes = []
        if sc.others is not None:
            whole = kernel._temporary(sc.entries * sc.steps)
            kernel.lines += numba_lines(sc.others, names, whole)
            codes.append(once(whole))
        made, lines, elements = parts_lines(sc, names, f"{target}_c",
                                            f"{target}_{form.which}", kernel.arrays)
        kernel.lines += made
        body.extend(lines)
        return " + ".join([*codes, *elements]) or "0.0"

    code = element(value)
    if not found or len({sc.order() for sc in found}) != 1:
        raise ValueError(f"cannot generate numba code for {target} step by step: its maps do "
                         "not scan the steps in one order")
    sc = found[0]
    lines = []
    for name in dict.fromkeys(flat):
        lines += [*kernel.arrays.new(f"{name}_c", (steps, "batch", entries)),
                  *copied(sc, name, f"{name}_c", True)]
    kernel.step_major.update(flat)
    kernel.step_major.add(target)
    lines += [*kernel.arrays.new(f"{target}_c", (steps, "batch", entries)),
              *step_loop(sc, f"{target}_c", body, code)]
    return [*lines, *kernel.arrays.new(target, ("batch", entries * steps)),
            *copied(sc, target, f"{target}_c", False)]
