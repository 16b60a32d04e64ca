"""The loop shapes of the numba kernel: matrix products, elementwise passes, the forward pass.

A product is loops with the widths as literal bounds while the work is small (LLVM
unrolls them; no call overhead at batch 1) and a BLAS call (``np.dot``) above
``BLAS_WORK`` multiply-adds or ``LOOP_ENTRIES`` matrix entries; x Wᵀ with a W of at most
``NT_LOOPS`` entries is loops at every batch (faster there too). An elementwise pass is
one loop over flat views of the (batch, n) arrays, or for a layer of at least ``WIDE``
units a loop over rows with a run-time inner bound: both are what LLVM vectorizes
(exp included), and the second can also add b_l or sum δ_l over the batch.
"""

from __future__ import annotations

import re

from . import forms

BLAS_WORK = 4096  # multiply-adds per product above which np.dot (BLAS) beats inline loops
LOOP_ENTRIES = 1024  # and a matrix with more entries than this always goes to BLAS
NT_LOOPS = 16  # x Wᵀ (+ b) with W of at most this many entries: loops at every batch, no BLAS
# branch to compile (loops 0.4-1.0x np.dot's time up to 4 × 4 at batch 10,000; 1.4x at 6 × 6)
WIDE = 8  # layers at least this wide loop over rows with a run-time inner bound (vectorized),
# which lets one loop also add b_l (forward) or sum δ_l into ∂C/∂b_l (backward)
ELEMENT = re.compile(r"\b(\w+)\[i, j\]")


def product(kind: str, a: str, b: str, out: str, n: int, m: int, bias: str = "") -> list[str]:
    """``out`` = a b: "nt" a Wᵀ (+ the row ``bias``), "nn" a W (W is n × m, a is batch × m
    or batch × n), "tn" aᵀ b summed over the batch (out is n × m). Loops with the widths as
    literal bounds below BLAS_WORK multiply-adds, np.dot (BLAS) above."""
    small, loops, blas = product_parts(kind, a, b, out, n, m, bias)
    if bias:
        blas += loop(n, [f"{out}[i, j] += {bias}[j]"])
    return branch(small, loops, blas)


def branch(small: int | None, loops: list[str], blas: list[str]) -> list[str]:
    """``loops`` up to a batch of ``small``, ``blas`` above (always, if ``small`` is 0;
    never, if it is None)."""
    if small is None:
        return loops
    if small == 0:
        return blas
    return [f"if batch <= {small}:", *(f"    {line}" for line in loops), "else:",
            *(f"    {line}" for line in blas)]


def product_parts(kind: str, a: str, b: str, out: str, n: int, m: int, bias: str = ""):
    """The largest batch for loops (None: every batch), the loops (adding ``bias``), the BLAS
    call (without)."""
    blas = {"nt": [f"np.dot({a}, {b}.T, {out})"], "nn": [f"np.dot({a}, {b}, {out})"],
            "tn": [f"np.dot({a}.T, {b}, {out})"]}[kind]
    start = f"{bias}[j]" if bias else "0.0"
    loops = {
        "nt": ["for i in range(batch):", f"    for j in range({n}):", f"        s = {start}",
               f"        for k in range({m}):", f"            s += {a}[i, k] * {b}[j, k]",
               f"        {out}[i, j] = s"],
        "nn": ["for i in range(batch):", f"    for k in range({m}):", "        s = 0.0",
               f"        for j in range({n}):", f"            s += {a}[i, j] * {b}[j, k]",
               f"        {out}[i, k] = s"],
        "tn": [f"{out}[:] = 0.0", "for i in range(batch):", f"    for j in range({n}):",
               f"        d = {a}[i, j]", f"        for k in range({m}):",
               f"            {out}[j, k] += d * {b}[i, k]"],
    }[kind]
    small = BLAS_WORK // (n * m) if n * m <= LOOP_ENTRIES else 0  # the largest batch for loops
    if kind == "nt" and n * m <= NT_LOOPS:
        return None, loops, blas
    return small, loops, blas


class Arrays:
    """Where the kernel's arrays come from: each is a new one (``np.empty``, or ``np.zeros``
    for a sum). The fused step (``symbp.numeric.fused``) hands out views of buffers instead."""

    def new(self, name: str, shape: tuple, zero: bool = False) -> list[str]:
        """The lines that make ``name`` an array of ``shape`` (zeroed if ``zero``)."""
        size = str(shape[0]) if len(shape) == 1 else f"({', '.join(map(str, shape))})"
        return [f"{name} = np.{'zeros' if zero else 'empty'}({size})"]


def forward_kernel_lines(net, keep_z, arrays: Arrays | None = None) -> list[str]:
    """The forward pass, a_l and the z_l the backward pass reads: z_l by one product (with
    b_l), then a_l by one loop over every element."""
    arrays = arrays or Arrays()
    lines = []
    for l in range(1, net.L + 1):
        act, n, m = net.activation(l), net.widths[l], net.widths[l - 1]
        previous = "x" if l == 1 else f"a{l - 1}"
        z = f"z{l}" if (l in keep_z or not act.elementwise) else f"a{l}"
        lines += arrays.new(z, ("batch", n))
        if z != f"a{l}":
            lines += arrays.new(f"a{l}", ("batch", n))
        value = forms.activation(act).value.numba
        if not act.elementwise:
            lines += product("nt", previous, f"W{l}", z, n, m, bias=f"b{l}")
            lines.append(value.format(z=z, out=f"a{l}"))
            continue
        activate = flat_loop(n, f"a{l}[i, j] = {value.format(z=f'{z}[i, j]')}")
        if n < WIDE:
            lines += product("nt", previous, f"W{l}", z, n, m, bias=f"b{l}") + activate
            continue
        small, loops, blas = product_parts("nt", previous, f"W{l}", z, n, m, bias=f"b{l}")
        body = [f"s = {z}[i, j] + b{l}[j]", *([f"{z}[i, j] = s"] if z != f"a{l}" else []),
                f"a{l}[i, j] = {value.format(z='s')}"]
        lines += branch(small, loops + activate, blas + wide_loop(z, body))  # b_l added once
    return lines


def flat_loop(width: int, assignment: str) -> list[str]:
    """``assignment`` over [i, j] of (batch, width) arrays as one loop over flat views:
    a single loop with a run-time bound is what LLVM vectorizes (exp included)."""
    names = list(dict.fromkeys(ELEMENT.findall(assignment)))
    views = [f"{name}_ = {name}.reshape(batch * {width})" for name in names]
    body = ELEMENT.sub(lambda match: f"{match.group(1)}_[q]", assignment)
    return [*views, f"for q in range(batch * {width}):", f"    {body}"]


def flat_copy(out: str, source: str, size: str) -> list[str]:
    """``out`` = ``source`` (C-contiguous, ``size`` entries) by one loop over flat views."""
    return [f"{out}_ = {out}.reshape({size})", f"{source}_ = {source}.reshape({size})",
            f"for q in range({size}):", f"    {out}_[q] = {source}_[q]"]


def wide_loop(array: str, body: list[str]) -> list[str]:
    """``body`` for every [i, j] of ``array``, the inner bound read at run time (vectorized)."""
    return ["for i in range(batch):", f"    for j in range({array}.shape[1]):",
            *(f"        {line}" for line in body)]


def loop(width: int, body: list[str]) -> list[str]:
    return ["for i in range(batch):", f"    for j in range({width}):",
            *(f"        {line}" for line in body)]
